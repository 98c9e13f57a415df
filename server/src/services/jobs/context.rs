//! What a running job sees: its row and payload, SSH, its cancel token, a capped log written
//! as it goes, and [`JobContext::fan_out`], which runs per-host work `batch_size` hosts at a
//! time with per-host results, progress and host locks.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use steward_frontend::contract::HostRunState;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::info::KindInfo;
use super::{JobFailure, Jobs, Outcome};
use crate::services::ssh::Ssh;
use crate::store::{JobRow, Store};

/// What a job does on one host (every job kind is one; the default does nothing).
#[async_trait::async_trait]
pub trait HostWork: Send + Sync {
    async fn run_host(&self, _ctx: &JobContext, _host: &HostTarget) -> Outcome {
        Ok("nothing to do".into())
    }
}

/// A host a job works on.
#[derive(Debug, Clone)]
pub struct HostTarget {
    pub id: i64,
    pub name: String,
    pub instance_id: i64,
    pub roles: Vec<String>,
}

/// Log lines waiting to be written, and the cap.
struct LogBuffer {
    pending: Vec<String>,
    bytes: i64,
    pending_bytes: i64,
    cap: i64,
    dropped: u64,
}

/// What a running job sees.
pub struct JobContext {
    pub job: JobRow,
    pub payload: Value,
    pub ssh: Ssh,
    pub cancel: CancellationToken,
    store: Store,
    clock: crate::clock::SharedClock,
    log: Mutex<LogBuffer>,
    /// Held while lines are written, so they are stored in the order they were logged.
    flushing: tokio::sync::Mutex<()>,
    lease: Duration,
}

impl JobContext {
    /// The payload as the kind's own type.
    pub fn payload<T: serde::de::DeserializeOwned>(&self) -> Result<T, JobFailure> {
        serde_json::from_value(self.payload.clone())
            .map_err(|err| JobFailure::fatal(format!("the job's payload does not fit its kind: {err}")))
    }

    /// Adds a line to the job's log (written within a moment; cut at the cap with a marker).
    pub fn log(&self, line: &str) {
        let Ok(mut log) = self.log.lock() else { return };
        let size = line.len() as i64 + 1;
        if log.bytes + size > log.cap {
            if log.dropped == 0 {
                let marker = format!("[log truncated: the stored log stops at {} bytes]", log.cap);
                log.bytes += marker.len() as i64 + 1;
                log.pending_bytes += marker.len() as i64 + 1;
                log.pending.push(marker);
            }
            log.dropped += 1;
            return;
        }
        log.bytes += size;
        log.pending_bytes += size;
        log.pending.push(line.to_owned());
    }

    /// The lines not written yet, and their size, taken (they go with the job's outcome).
    pub(super) fn take_log(&self) -> (Vec<String>, i64) {
        match self.log.lock() {
            Ok(mut log) => (std::mem::take(&mut log.pending), std::mem::take(&mut log.pending_bytes)),
            Err(_) => (Vec::new(), 0),
        }
    }

    /// Writes the lines logged so far now. Work that changes a host calls it before a step
    /// that could be cut off, so a killed process leaves the log saying what was done.
    pub async fn flush_log(&self) {
        let _order = self.flushing.lock().await;
        let (lines, bytes) = match self.log.lock() {
            Ok(mut log) => (std::mem::take(&mut log.pending), std::mem::take(&mut log.pending_bytes)),
            Err(_) => return,
        };
        if let Err(err) = self.store.append_job_log(self.job.id, &lines, bytes, self.clock.now()).await {
            tracing::warn!(job = self.job.id, error = %err, "could not store job log lines");
        }
    }

    /// The hosts of the job's target, by name.
    async fn hosts(&self) -> Result<Vec<HostTarget>, JobFailure> {
        let store = |err: crate::store::StoreError| JobFailure::store("read the inventory", &err);
        let id = self.job.target_id.unwrap_or_default();
        let rows = match self.job.target_kind.as_str() {
            "host" => vec![self.store.host(id).await.map_err(store)?],
            "instance" => self.store.hosts_of_instance(id).await.map_err(store)?,
            "study" => {
                let mut all = Vec::new();
                for instance in self.store.instances_of_study(id).await.map_err(store)? {
                    all.extend(self.store.hosts_of_instance(instance.id).await.map_err(store)?);
                }
                all
            }
            _ => self.store.all_hosts().await.map_err(store)?,
        };
        let ids: Vec<i64> = rows.iter().map(|h| h.id).collect();
        let mut roles = self.store.roles_by_host(&ids).await.map_err(store)?;
        // `roles` in the payload narrows the job to hosts with one of them (a push to the web
        // tier first, say); a host with role `all` is in every tier.
        let wanted: Vec<String> = self.payload["roles"]
            .as_array()
            .map(|a| a.iter().filter_map(|r| r.as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        let mut hosts: Vec<HostTarget> = rows
            .into_iter()
            .map(|h| HostTarget {
                id: h.id,
                name: h.name,
                instance_id: h.instance_id,
                roles: roles.remove(&h.id).unwrap_or_default(),
            })
            .filter(|h| crate::services::stacks::applies(&wanted, &h.roles))
            .collect();
        hosts.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(hosts)
    }

    /// Runs `kind` on every host of the target, `batch_size` at a time, with progress and a
    /// per-host result; optionally stops starting hosts after the first failure.
    pub async fn fan_out<W: HostWork + ?Sized>(&self, info: &KindInfo, work: &W) -> Result<String, JobFailure> {
        let hosts = self.hosts().await?;
        let total = hosts.len() as i64;
        let batch = self.payload["batch_size"].as_u64().filter(|&n| n > 0).unwrap_or(10) as usize;
        let stop_on_failure = self.payload["stop_on_failure"].as_bool().unwrap_or(false);
        let now = self.clock.now();
        for host in &hosts {
            let _ =
                self.store.set_job_host(self.job.id, host.id, &host.name, HostRunState::Queued.as_str(), "", now).await;
        }
        let _ = self.store.set_job_progress(self.job.id, total, 0, 0).await;
        self.log(&format!("{} on {total} host(s), {batch} at a time", info.title));
        let slots = Arc::new(Semaphore::new(batch));
        let counts = Mutex::new((0i64, 0i64, true)); // done, failed, every failure retryable
        let run_one = |host: HostTarget| {
            let slots = slots.clone();
            let counts = &counts;
            async move {
                let Ok(_slot) = slots.acquire().await else { return };
                let stopped =
                    self.cancel.is_cancelled() || (stop_on_failure && counts.lock().map(|c| c.1 > 0).unwrap_or(false));
                let (state, message, failure) = if stopped {
                    (HostRunState::Skipped, "not started: the job was stopped".to_owned(), None)
                } else {
                    match self.on_host(info, work, &host).await {
                        Ok(message) => (HostRunState::Succeeded, message, None),
                        Err(failure) => (HostRunState::Failed, failure.message.clone(), Some(failure)),
                    }
                };
                self.log(&format!("[{}] {state}: {message}", host.name));
                let _ = self
                    .store
                    .set_job_host(self.job.id, host.id, &host.name, state.as_str(), &message, self.clock.now())
                    .await;
                let (done, failed) = match counts.lock() {
                    Ok(mut c) => {
                        c.0 += 1;
                        if let Some(failure) = &failure {
                            c.1 += 1;
                            c.2 &= failure.retryable;
                        }
                        if state == HostRunState::Skipped {
                            c.1 += 1;
                        }
                        (c.0, c.1)
                    }
                    Err(_) => return,
                };
                let _ = self.store.set_job_progress(self.job.id, total, done, failed).await;
            }
        };
        futures_util::future::join_all(hosts.into_iter().map(run_one)).await;
        let (done, failed, retryable) = counts.lock().map(|c| *c).unwrap_or((0, 0, false));
        let summary = format!("{} of {total} host(s) succeeded, {failed} failed or skipped", done - failed);
        if self.cancel.is_cancelled() {
            return Err(JobFailure::fatal(format!("cancelled; {summary}")));
        }
        if failed > 0 {
            // Only a one-host job is retried: a fleet is not re-run for one host's sake.
            return Err(JobFailure { message: summary, retryable: retryable && total == 1 });
        }
        Ok(summary)
    }

    async fn on_host<W: HostWork + ?Sized>(&self, info: &KindInfo, work: &W, host: &HostTarget) -> Outcome {
        let running = HostRunState::Running.as_str();
        let _ = self.store.set_job_host(self.job.id, host.id, &host.name, running, "", self.clock.now()).await;
        if info.changes_hosts {
            self.lock_host(host).await?;
        }
        let result = work.run_host(self, host).await;
        if info.changes_hosts
            && let Err(err) = self.store.unlock_host(host.id, self.job.id).await
        {
            tracing::warn!(job = self.job.id, host = host.id, error = %err, "could not release a host lock");
        }
        result
    }

    /// Waits for the host's lock (another job changing it holds it), unless cancelled.
    async fn lock_host(&self, host: &HostTarget) -> Result<(), JobFailure> {
        let mut announced = false;
        loop {
            let now = self.clock.now();
            let until = now + chrono::Duration::from_std(self.lease).unwrap_or_default();
            match self.store.lock_host(host.id, self.job.id, until, now).await {
                Ok(true) => return Ok(()),
                Ok(false) if !announced => {
                    self.log(&format!("[{}] waiting: another job is changing this host", host.name));
                    announced = true;
                }
                Ok(false) => {}
                Err(err) => return Err(JobFailure::store("lock the host", &err)),
            }
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(200)) => {}
                () = self.cancel.cancelled() => return Err(JobFailure::fatal("cancelled while waiting for the host")),
            }
        }
    }
}

pub(super) fn new_context(jobs: &Jobs, job: JobRow, cancel: CancellationToken) -> JobContext {
    let inner = &jobs.inner;
    let payload = serde_json::from_str(&job.payload).unwrap_or(Value::Null);
    JobContext {
        log: Mutex::new(LogBuffer {
            pending: Vec::new(),
            bytes: job.log_bytes,
            pending_bytes: 0,
            cap: inner.config.log_cap_bytes,
            dropped: 0,
        }),
        flushing: tokio::sync::Mutex::new(()),
        job,
        payload,
        ssh: inner.ssh.clone(),
        cancel,
        store: inner.store.clone(),
        clock: inner.clock.clone(),
        lease: Duration::from_secs(inner.config.lease_secs),
    }
}
