//! Steward's background workers as admins see them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What a background worker is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WorkerState {
    Starting,
    Busy,
    Idle,
    /// Its last pass failed; it tries again after a pause.
    BackingOff,
    Stopped,
}

impl WorkerState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Starting => "starting",
            Self::Busy => "busy",
            Self::Idle => "idle",
            Self::BackingOff => "backing off",
            Self::Stopped => "stopped",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerStatus {
    /// `jobs`, `schedules`, `mail`, `alerts`, `sessions`, `ssh`.
    pub name: String,
    /// What it does.
    pub description: String,
    pub state: WorkerState,
    /// When its last pass ended.
    pub last_run_at: Option<DateTime<Utc>>,
    pub runs: u64,
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    /// How long it waits before trying again, while backing off.
    pub backoff_secs: Option<u64>,
}
