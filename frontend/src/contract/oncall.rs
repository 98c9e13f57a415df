//! On-call rotas as the UI sees them: who takes turns, overrides, escalation timing, and a
//! calendar of the coming weeks. A rota without a study is the global one (for studies without one).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::RotaRole;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotaPersonView {
    pub username: String,
    pub display_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotaOverride {
    pub id: i64,
    pub username: String,
    pub role: RotaRole,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub note: String,
}

/// One week of the calendar: who is on call when it starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotaWeek {
    pub starts_at: DateTime<Utc>,
    pub primary: Option<String>,
    pub secondary: Option<String>,
    /// An override applies during the week.
    pub overridden: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotaView {
    /// `None`: the global rota.
    #[serde(default)]
    pub study_id: Option<i64>,
    /// The study's name, or "All studies" for the global rota.
    pub scope_name: String,
    /// False until someone saves it (the form then shows defaults).
    pub configured: bool,
    pub timezone: String,
    pub starts_on: String,
    pub handoff_hour: i64,
    pub escalate_after_minutes: i64,
    pub renotify_minutes: i64,
    pub members: Vec<RotaPersonView>,
    pub overrides: Vec<RotaOverride>,
    pub weeks: Vec<RotaWeek>,
    pub primary_now: Option<String>,
    pub secondary_now: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotaInput {
    /// `None`: the global rota.
    #[serde(default)]
    pub study_id: Option<i64>,
    #[serde(default)]
    pub timezone: String,
    /// YYYY-MM-DD: the first member's week starts then.
    #[serde(default)]
    pub starts_on: String,
    #[serde(default)]
    pub handoff_hour: String,
    /// Usernames in turn order, one per line.
    #[serde(default)]
    pub members: String,
    #[serde(default)]
    pub escalate_after_minutes: String,
    #[serde(default)]
    pub renotify_minutes: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverrideInput {
    /// `None`: the global rota.
    #[serde(default)]
    pub study_id: Option<i64>,
    #[serde(default)]
    pub username: String,
    /// primary or secondary.
    #[serde(default)]
    pub role: String,
    /// YYYY-MM-DDTHH:MM in the rota's time zone.
    #[serde(default)]
    pub starts_at: String,
    #[serde(default)]
    pub ends_at: String,
    #[serde(default)]
    pub note: String,
}

/// A study's alert settings (the defaults until someone saves them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertSettings {
    pub study_id: i64,
    pub study_name: String,
    pub disk_percent: i64,
    pub cert_days: i64,
    pub clock_ms: i64,
    pub timezone: String,
    /// Non-critical alerts opened from this hour until `quiet_until_hour` are mailed when it ends.
    pub quiet_from_hour: Option<i64>,
    pub quiet_until_hour: Option<i64>,
    pub daily_digest: bool,
    pub digest_hour: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertSettingsInput {
    pub study_id: i64,
    #[serde(default)]
    pub disk_percent: String,
    #[serde(default)]
    pub cert_days: String,
    #[serde(default)]
    pub clock_ms: String,
    #[serde(default)]
    pub timezone: String,
    /// Empty for no quiet hours.
    #[serde(default)]
    pub quiet_from_hour: String,
    #[serde(default)]
    pub quiet_until_hour: String,
    #[serde(default)]
    pub daily_digest: Option<String>,
    #[serde(default)]
    pub digest_hour: String,
}
