//! The worker: claims jobs under a lease, renews the lease while they run (and sees cancel
//! requests then), runs each under its kind's time limit, retries what is worth retrying, and
//! marks as interrupted the jobs of processes that died.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use steward_frontend::contract::WorkerState;

use super::Jobs;
use crate::services::workers::Worker;
use crate::store::BackendKind;

/// Most jobs claimed in one statement.
const MAX_CLAIM: usize = 256;

/// Claims and runs jobs until shut down.
pub struct Runner {
    jobs: Jobs,
    /// This process's name in leases.
    owner: String,
}

impl Runner {
    pub fn new(jobs: Jobs) -> Self {
        Self { jobs, owner: super::replica_name() }
    }

    fn lease_until(&self) -> chrono::DateTime<chrono::Utc> {
        self.jobs.inner.clock.now() + chrono::Duration::seconds(self.jobs.inner.config.lease_secs as i64)
    }

    /// Marks abandoned running jobs interrupted and re-queues the idempotent ones. On SQLite
    /// (one process) at start-up every running job is abandoned.
    pub async fn recover(&self, at_start: bool) {
        let all = at_start && self.jobs.inner.store.kind() == BackendKind::Sqlite;
        match self.jobs.inner.store.interrupt_abandoned(self.jobs.inner.clock.now(), all).await {
            Ok(rows) => {
                for row in rows {
                    tracing::warn!(job = row.id, kind = %row.kind, "job interrupted: the process running it stopped");
                    self.jobs.requeue_interrupted(&row).await;
                }
            }
            Err(err) => tracing::warn!(error = %err, "could not look for interrupted jobs"),
        }
    }

    pub async fn run(self, shutdown: CancellationToken, worker: Worker) {
        self.recover(true).await;
        let inner = self.jobs.inner.clone();
        let slots = Arc::new(Semaphore::new(inner.config.concurrency));
        let poll = Duration::from_millis(inner.config.poll_interval_ms.max(10));
        let mut tasks = tokio::task::JoinSet::new();
        // The heartbeat runs on its own: a worker busy claiming, or with every slot taken by
        // long jobs, must still renew their leases (and see cancel requests).
        let this = Arc::new(self);
        let heartbeat_stop = CancellationToken::new();
        let heartbeat = tokio::spawn({
            let (this, stop) = (this.clone(), heartbeat_stop.clone());
            let mut every = tokio::time::interval(Duration::from_secs((inner.config.lease_secs / 3).max(1)));
            async move {
                loop {
                    tokio::select! {
                        () = stop.cancelled() => return,
                        _ = every.tick() => this.renew().await,
                    }
                }
            }
        });
        loop {
            // Reap finished tasks.
            while tasks.try_join_next().is_some() {}
            if tasks.is_empty() && worker.state() != WorkerState::BackingOff {
                worker.idle();
            }
            let first = tokio::select! {
                () = shutdown.cancelled() => break,
                permit = slots.clone().acquire_owned() => match permit { Ok(p) => p, Err(_) => break },
            };
            // Claim as many jobs as there are free slots, in one statement.
            let mut permits = vec![first];
            while permits.len() < MAX_CLAIM
                && let Ok(permit) = slots.clone().try_acquire_owned()
            {
                permits.push(permit);
            }
            let wanted = permits.len();
            let claimed = inner
                .store
                .claim_jobs(&this.owner, inner.clock.now(), this.lease_until(), inner.config.per_study, wanted as i64)
                .await;
            match claimed {
                Ok(jobs) => {
                    let got = jobs.len();
                    for (job, permit) in jobs.into_iter().zip(permits.drain(..)) {
                        worker.busy();
                        let (jobs, owner) = (this.jobs.clone(), this.owner.clone());
                        tasks.spawn(async move {
                            jobs.execute(job, &owner, CancellationToken::new()).await;
                            drop(permit);
                        });
                    }
                    // A full batch: more may be waiting.
                    if got == wanted {
                        continue;
                    }
                }
                Err(err) => {
                    tracing::warn!(error = %err, "could not claim jobs");
                    worker.failed(format!("could not claim jobs: {err}"), poll);
                }
            }
            drop(permits);
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = inner.wake.notified() => {}
                () = tokio::time::sleep(poll) => {}
            }
        }
        // Let running jobs finish within the grace period; what is left is interrupted at the
        // next start (or by another replica when its lease runs out).
        let grace = Duration::from_secs(inner.shutdown_grace_secs);
        let _ = tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
        heartbeat_stop.cancel();
        let _ = heartbeat.await;
        worker.stopped();
    }

    /// Renews leases, passes cancel requests to running jobs, and interrupts other replicas'
    /// abandoned jobs.
    async fn renew(&self) {
        match self.jobs.inner.store.renew_leases(&self.owner, self.lease_until()).await {
            Ok(rows) => {
                if let Ok(running) = self.jobs.inner.running.lock() {
                    for (id, cancel) in rows {
                        if cancel && let Some(token) = running.get(&id) {
                            token.cancel();
                        }
                    }
                }
            }
            Err(err) => tracing::warn!(error = %err, "could not renew job leases"),
        }
        self.recover(false).await;
    }
}
