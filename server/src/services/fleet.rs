//! The fleet view: turns each host's stored check (state and the agent's facts) into what the
//! pages show.

use std::collections::HashMap;

use chrono::DateTime;
use steward_agent::Facts;
use steward_frontend::contract::{CertExpiry, HostHealth, MountUse, Reachability, UnitState};

use crate::services::words::stored;
use crate::store::HostStatusRow;

pub fn health(host_id: i64, row: Option<&HostStatusRow>) -> HostHealth {
    let Some(row) = row else { return HostHealth::never_checked(host_id) };
    let mut health = HostHealth {
        host_id,
        state: stored(&row.state, Reachability::Error),
        message: row.message.clone(),
        checked_at: Some(row.checked_at),
        facts_at: row.facts_at,
        clock_offset_ms: row.clock_offset_ms,
        ..Default::default()
    };
    let facts = row.facts.as_deref().and_then(|json| match serde_json::from_str::<Facts>(json) {
        Ok(facts) => Some(facts),
        Err(err) => {
            tracing::warn!(host = host_id, error = %err, "stored facts do not parse; showing none");
            None
        }
    });
    if let Some(facts) = facts {
        health.mounts = facts
            .mounts
            .iter()
            .map(|m| MountUse {
                path: m.path.clone(),
                fs_type: m.fs_type.clone(),
                total_bytes: m.total_bytes,
                used_bytes: m.used_bytes,
                available_bytes: m.available_bytes,
                use_percent: m.use_percent(),
            })
            .collect();
        health.certificates = facts
            .certificates
            .into_iter()
            .map(|c| CertExpiry {
                source: c.source,
                subject: c.subject,
                not_after: c.not_after.and_then(|secs| DateTime::from_timestamp(secs, 0)),
                error: c.error,
            })
            .collect();
        health.units = facts
            .units
            .into_iter()
            .map(|u| UnitState { manager: u.manager, name: u.name, state: u.state, healthy: u.healthy })
            .collect();
        health.hostname = facts.hostname;
        health.os = facts.os;
        health.kernel = facts.kernel;
        health.uptime_secs = facts.uptime_secs;
        health.cpus = facts.cpus;
        health.memory_total_bytes = facts.memory_total_bytes;
        health.memory_available_bytes = facts.memory_available_bytes;
        health.clock_synchronized = facts.clock_sync.synchronized;
        health.clock_source = facts.clock_sync.source;
        health.reboot_required = facts.reboot_required;
        health.reboot_packages = facts.reboot_packages;
        health.package_manager = facts.package_manager;
        health.agent_version = facts.agent_version;
    }
    health
}

/// Health of each host id, from the rows found (hosts never checked have none).
pub fn health_by_host(rows: &[HostStatusRow]) -> HashMap<i64, HostHealth> {
    rows.iter().map(|row| (row.host_id, health(row.host_id, Some(row)))).collect()
}
