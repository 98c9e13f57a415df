//! Steward's background workers (the job runner, the scheduler, mail delivery, alert rules,
//! the session sweeper, the SSH idle closer) report what they are doing here: busy, idle,
//! backing off after a failure (with the error), stopped. Admins see it on the Workers panel;
//! shutdown drains each worker with a deadline.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use steward_frontend::contract::{WorkerState, WorkerStatus};

use crate::clock::SharedClock;

/// Every worker of this process.
#[derive(Clone, Debug)]
pub struct Workers {
    clock: SharedClock,
    all: Arc<Mutex<Vec<Arc<Mutex<WorkerStatus>>>>>,
}

impl Workers {
    pub fn new(clock: SharedClock) -> Self {
        Self { clock, all: Arc::default() }
    }

    /// Adds a worker (or finds it, when one of that name was added before).
    pub fn register(&self, name: &str, description: &str) -> Worker {
        let mut all = self.all.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let existing = all.iter().find(|w| w.lock().is_ok_and(|w| w.name == name)).cloned();
        let status = existing.unwrap_or_else(|| {
            let status = Arc::new(Mutex::new(WorkerStatus {
                name: name.to_owned(),
                description: description.to_owned(),
                state: WorkerState::Starting,
                last_run_at: None,
                runs: 0,
                last_error: None,
                last_error_at: None,
                backoff_secs: None,
            }));
            all.push(status.clone());
            status
        });
        Worker { status, clock: self.clock.clone() }
    }

    pub fn statuses(&self) -> Vec<WorkerStatus> {
        let all = self.all.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        all.iter().filter_map(|w| w.lock().ok().map(|w| w.clone())).collect()
    }
}

/// One worker's handle on its own status.
#[derive(Clone, Debug)]
pub struct Worker {
    status: Arc<Mutex<WorkerStatus>>,
    clock: SharedClock,
}

impl Worker {
    fn update(&self, change: impl FnOnce(&mut WorkerStatus)) {
        if let Ok(mut status) = self.status.lock() {
            change(&mut status);
        }
    }

    pub fn busy(&self) {
        self.update(|s| s.state = WorkerState::Busy);
    }

    /// A pass ended well.
    pub fn idle(&self) {
        let now = self.clock.now();
        self.update(|s| {
            s.state = WorkerState::Idle;
            s.last_run_at = Some(now);
            s.runs += 1;
            s.backoff_secs = None;
        });
    }

    /// A pass failed; the worker tries again after `backoff`.
    pub fn failed(&self, error: impl std::fmt::Display, backoff: Duration) {
        let now = self.clock.now();
        let error = error.to_string();
        self.update(|s| {
            s.state = WorkerState::BackingOff;
            s.last_run_at = Some(now);
            s.runs += 1;
            s.last_error = Some(error);
            s.last_error_at = Some(now);
            s.backoff_secs = Some(backoff.as_secs());
        });
    }

    pub fn stopped(&self) {
        self.update(|s| s.state = WorkerState::Stopped);
    }

    pub fn state(&self) -> WorkerState {
        self.status.lock().map_or(WorkerState::Stopped, |s| s.state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SystemClock;

    #[test]
    fn a_worker_reports_its_passes_and_its_last_error() {
        let workers = Workers::new(Arc::new(SystemClock));
        let mail = workers.register("mail", "sends the outbox");
        assert_eq!(mail.state(), WorkerState::Starting);
        mail.busy();
        mail.failed("connection refused", Duration::from_secs(30));
        let status = &workers.statuses()[0];
        assert_eq!((status.state, status.runs, status.backoff_secs), (WorkerState::BackingOff, 1, Some(30)));
        assert_eq!(status.last_error.as_deref(), Some("connection refused"));
        mail.idle();
        let status = &workers.statuses()[0];
        assert_eq!(status.state, WorkerState::Idle);
        assert_eq!(status.last_error.as_deref(), Some("connection refused"), "the last error stays to be read");
        assert_eq!(workers.register("mail", "").state(), WorkerState::Idle, "one worker per name");
    }
}
