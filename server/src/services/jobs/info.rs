//! What a job kind is, said once, statically: the engine, the forms, the alert rules and the
//! pages read it from here instead of keeping their own lists.

use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub struct KindInfo {
    /// The stored name (`push`, `facts`...).
    pub name: &'static str,
    /// What people see.
    pub title: &'static str,
    /// Running it again after an interruption is harmless: an interrupted run is re-queued.
    pub idempotent: bool,
    /// It changes hosts: it takes each host's lock, one such job per host at a time.
    pub changes_hosts: bool,
    /// The whole job's time limit.
    pub timeout: Duration,
    /// Attempts for a one-host job whose failure is worth retrying (unreachable host...).
    pub max_attempts: i64,
    /// Offered in the "Run a job" and schedule forms.
    pub startable: bool,
    /// The form asks for a program and its arguments (one per line).
    pub takes_argv: bool,
    /// A failed run on a target raises an alert, which the next success clears.
    pub raises_alerts: bool,
}

impl KindInfo {
    /// A kind that only reads, is safe to run again, and is not offered in forms; override
    /// what differs.
    pub const fn new(name: &'static str, title: &'static str) -> Self {
        Self {
            name,
            title,
            idempotent: true,
            changes_hosts: false,
            timeout: Duration::from_secs(15 * 60),
            max_attempts: 1,
            startable: false,
            takes_argv: false,
            raises_alerts: false,
        }
    }
}
