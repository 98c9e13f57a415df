//! Background jobs as the UI sees them: the list, one job with its per-host results and log,
//! and what starting one takes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{HostRunState, JobState};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobSummary {
    pub id: i64,
    pub kind: String,
    /// "Check facts", "Run a command"...
    pub title: String,
    /// host, instance, study or fleet.
    pub target_kind: String,
    pub target_id: Option<i64>,
    pub target_name: String,
    pub study_id: Option<i64>,
    pub state: JobState,
    pub attempts: i64,
    pub max_attempts: i64,
    pub requested_by: String,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub total: i64,
    pub done: i64,
    pub failed: i64,
    pub summary: String,
}

impl JobSummary {
    pub fn finished(&self) -> bool {
        self.state.is_finished()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobHostResult {
    pub host_id: i64,
    pub host_name: String,
    pub state: HostRunState,
    pub message: String,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub line: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobDetail {
    pub job: JobSummary,
    pub hosts: Vec<JobHostResult>,
    /// The first lines of the log; the page streams the rest.
    pub log: Vec<LogLine>,
    pub can_cancel: bool,
}

/// Filters and page of the jobs list; empty strings mean "any".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobQuery {
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub state: String,
    /// Study id, or empty.
    #[serde(default)]
    pub study: String,
    /// Target name (host, instance or study).
    #[serde(default)]
    pub target: String,
    /// Only jobs created in the last this many hours; empty for any time.
    #[serde(default)]
    pub hours: String,
    #[serde(default)]
    pub page: u32,
}

/// A job to start, as typed into the form.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobInput {
    /// facts or command.
    #[serde(default)]
    pub kind: String,
    /// host, instance, study or fleet.
    #[serde(default)]
    pub target_kind: String,
    #[serde(default)]
    pub target_id: Option<i64>,
    /// For `command`: the program and its arguments, one per line (never through a shell).
    #[serde(default)]
    pub argv: String,
    /// Hosts worked on at once; empty for the default.
    #[serde(default)]
    pub batch_size: String,
    /// Stop starting hosts after the first failure.
    #[serde(default)]
    pub stop_on_failure: Option<String>,
}

/// A job kind a person may start, as the server's registry describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobKindSummary {
    pub name: String,
    pub title: String,
    /// Its form asks for a program and its arguments.
    pub takes_argv: bool,
}

/// One due time of a schedule and what came of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleRun {
    pub due_at: DateTime<Utc>,
    /// fired, or missed (Steward was down and the catch-up policy skipped it).
    pub outcome: String,
    pub job_id: Option<i64>,
    pub job_state: Option<JobState>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleSummary {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub title: String,
    pub target_kind: String,
    pub target_id: Option<i64>,
    pub target_name: String,
    pub study_id: Option<i64>,
    pub cron: String,
    pub timezone: String,
    pub enabled: bool,
    /// once or skip.
    pub catch_up: String,
    pub jitter_secs: i64,
    pub next_due_at: Option<DateTime<Utc>>,
    /// The next five due times.
    pub upcoming: Vec<DateTime<Utc>>,
    /// Recent due times, newest first (on the schedule's own page).
    pub runs: Vec<ScheduleRun>,
    /// For `command` schedules: the program and arguments, one per line.
    pub argv: String,
}

/// A schedule as typed into the editor.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleInput {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub target_kind: String,
    #[serde(default)]
    pub target_id: Option<i64>,
    /// Five fields (minute hour day month weekday), or six with seconds first.
    #[serde(default)]
    pub cron: String,
    /// IANA name, like Europe/Zurich.
    #[serde(default)]
    pub timezone: String,
    /// Present when enabled (a checkbox).
    #[serde(default)]
    pub enabled: Option<String>,
    /// once or skip.
    #[serde(default)]
    pub catch_up: String,
    #[serde(default)]
    pub jitter_secs: String,
    #[serde(default)]
    pub argv: String,
    #[serde(default)]
    pub batch_size: String,
    #[serde(default)]
    pub stop_on_failure: Option<String>,
}
