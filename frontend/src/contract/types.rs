//! Data that crosses between server and browser. Nothing secret is ever part of these types.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{AlertState, MailStatus, Severity};

/// A user's global role. Per-study roles come on top of this.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GlobalRole {
    /// Manages Steward itself: users, settings, every study.
    Admin,
    /// Sees what their study roles allow.
    Member,
}

impl GlobalRole {
    pub const ALL: [GlobalRole; 2] = [GlobalRole::Admin, GlobalRole::Member];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Member => "member",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|role| role.as_str() == text)
    }
}

impl std::fmt::Display for GlobalRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The signed-in user, as the UI sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrentUser {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: GlobalRole,
}

impl CurrentUser {
    pub fn is_admin(&self) -> bool {
        self.role == GlobalRole::Admin
    }
}

/// A row of the users table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSummary {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    pub role: GlobalRole,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
}

/// What an admin gets back after creating a user or resetting a password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OneTimeLink {
    pub username: String,
    /// Absent when the admin set the password directly.
    pub url: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// Whether Steward still waits for its first admin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetupStatus {
    pub needs_setup: bool,
}

/// One row of the audit log: who did what, when, from where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    /// Username of the actor; `None` for Steward itself or an anonymous visitor.
    pub actor: Option<String>,
    pub action: String,
    pub target: String,
    pub detail: String,
    pub client_addr: Option<String>,
}

/// Filters of the audit page. Empty strings mean "any".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditQuery {
    #[serde(default)]
    pub actor: String,
    #[serde(default)]
    pub action: String,
    #[serde(default)]
    pub page: u32,
}

/// One page of a server-side paginated list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
    pub page: u32,
    pub per_page: u32,
}

impl<T> Page<T> {
    pub fn page_count(&self) -> u32 {
        let per_page = u64::from(self.per_page.max(1));
        u32::try_from(self.total.div_ceil(per_page)).unwrap_or(u32::MAX).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_through_text() {
        for role in GlobalRole::ALL {
            assert_eq!(GlobalRole::parse(role.as_str()), Some(role));
        }
        assert_eq!(GlobalRole::parse("root"), None);
    }

    #[test]
    fn page_count_rounds_up_and_is_never_zero() {
        let page = |total| Page::<()> { items: vec![], total, page: 0, per_page: 50 };
        assert_eq!(page(0).page_count(), 1);
        assert_eq!(page(50).page_count(), 1);
        assert_eq!(page(51).page_count(), 2);
    }
}

/// A message in the mail outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEntry {
    pub id: i64,
    pub to: String,
    pub subject: String,
    pub status: MailStatus,
    pub attempts: i64,
    pub last_error: String,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    /// When a message not yet sent is tried next.
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// An alert: a condition that needs someone's attention.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertSummary {
    pub id: i64,
    /// unreachable, host-key-changed, disk, certificate, clock, reboot, unit-down.
    pub rule: String,
    pub severity: Severity,
    pub state: AlertState,
    pub summary: String,
    pub detail: String,
    pub host_id: Option<i64>,
    pub study_id: Option<i64>,
    pub opened_at: DateTime<Utc>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub acknowledged_by: Option<String>,
    pub resolved_at: Option<DateTime<Utc>>,
}
