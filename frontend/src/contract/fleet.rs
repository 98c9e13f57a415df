//! The fleet view: what Steward last learned about each host, and its roll-up per instance.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::Reachability;

/// A mount fuller than this is flagged.
pub const DISK_WARN_PERCENT: u32 = 90;
/// A certificate expiring within this many days is flagged.
pub const CERT_WARN_DAYS: i64 = 21;
/// A clock further off than this (milliseconds) is flagged.
pub const CLOCK_WARN_MS: i64 = 1_000;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountUse {
    pub path: String,
    pub fs_type: String,
    pub total_bytes: u64,
    pub used_bytes: u64,
    pub available_bytes: u64,
    pub use_percent: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertExpiry {
    pub source: String,
    pub subject: String,
    pub not_after: Option<DateTime<Utc>>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitState {
    pub manager: String,
    pub name: String,
    pub state: String,
    pub healthy: bool,
}

/// A host's reachability and its last facts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostHealth {
    pub host_id: i64,
    pub state: Reachability,
    /// What went wrong, in words an admin can act on.
    pub message: String,
    pub checked_at: Option<DateTime<Utc>>,
    /// When the facts below were collected (they survive a failed check).
    pub facts_at: Option<DateTime<Utc>>,
    pub hostname: String,
    pub os: String,
    pub kernel: String,
    pub uptime_secs: u64,
    pub cpus: u32,
    pub memory_total_bytes: u64,
    pub memory_available_bytes: u64,
    pub mounts: Vec<MountUse>,
    pub certificates: Vec<CertExpiry>,
    pub units: Vec<UnitState>,
    /// The host's clock minus Steward's.
    pub clock_offset_ms: Option<i64>,
    pub clock_synchronized: Option<bool>,
    pub clock_source: String,
    pub reboot_required: bool,
    pub reboot_packages: Vec<String>,
    pub package_manager: String,
    pub agent_version: String,
}

impl HostHealth {
    pub fn never_checked(host_id: i64) -> Self {
        Self { host_id, state: Reachability::NeverChecked, ..Default::default() }
    }

    pub fn has_facts(&self) -> bool {
        self.facts_at.is_some()
    }

    pub fn fullest_mount(&self) -> Option<&MountUse> {
        self.mounts.iter().max_by_key(|m| m.use_percent)
    }

    pub fn soonest_certificate(&self) -> Option<&CertExpiry> {
        self.certificates.iter().filter(|c| c.not_after.is_some()).min_by_key(|c| c.not_after)
    }

    pub fn units_down(&self) -> Vec<&UnitState> {
        self.units.iter().filter(|u| !u.healthy).collect()
    }
}

/// An instance's hosts rolled up for the instances list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetSummary {
    pub reachable: u32,
    /// Checked and not reachable (any reason).
    pub failing: u32,
    pub never_checked: u32,
    pub worst_disk_percent: Option<u32>,
    pub soonest_certificate: Option<DateTime<Utc>>,
    /// Largest clock offset by absolute value.
    pub worst_clock_offset_ms: Option<i64>,
    pub reboot_required: u32,
    pub units_down: u32,
}

impl FleetSummary {
    pub fn of<'a>(hosts: impl IntoIterator<Item = &'a HostHealth>) -> Self {
        let mut summary = Self::default();
        for host in hosts {
            match host.state {
                Reachability::Reachable => summary.reachable += 1,
                Reachability::NeverChecked => summary.never_checked += 1,
                _ => summary.failing += 1,
            }
            if let Some(mount) = host.fullest_mount() {
                summary.worst_disk_percent = summary.worst_disk_percent.max(Some(mount.use_percent));
            }
            if let Some(not_after) = host.soonest_certificate().and_then(|c| c.not_after) {
                summary.soonest_certificate =
                    Some(summary.soonest_certificate.map_or(not_after, |s: DateTime<Utc>| s.min(not_after)));
            }
            if let Some(offset) = host.clock_offset_ms
                && summary.worst_clock_offset_ms.is_none_or(|w| offset.abs() > w.abs())
            {
                summary.worst_clock_offset_ms = Some(offset);
            }
            summary.reboot_required += u32::from(host.reboot_required);
            summary.units_down += u32::try_from(host.units_down().len()).unwrap_or(u32::MAX);
        }
        summary
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_keeps_the_worst_of_each() {
        let a = HostHealth {
            state: Reachability::Reachable,
            mounts: vec![MountUse { use_percent: 40, ..Default::default() }],
            clock_offset_ms: Some(-1500),
            ..Default::default()
        };
        let b = HostHealth {
            state: Reachability::Unreachable,
            mounts: vec![MountUse { use_percent: 93, ..Default::default() }],
            clock_offset_ms: Some(20),
            reboot_required: true,
            ..Default::default()
        };
        let summary = FleetSummary::of([&a, &b, &HostHealth::never_checked(3)]);
        assert_eq!((summary.reachable, summary.failing, summary.never_checked), (1, 1, 1));
        assert_eq!(summary.worst_disk_percent, Some(93));
        assert_eq!(summary.worst_clock_offset_ms, Some(-1500));
        assert_eq!(summary.reboot_required, 1);
    }
}
