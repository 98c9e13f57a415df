//! Background jobs: one engine for fact checks, commands, pushes, backups, upgrades and mail.
//! A job is a database row (so it survives restarts and is shared by replicas), claimed by
//! one worker under a lease ([`runner`]), run by its kind ([`kinds`]), with a per-host result
//! table and a capped log that the browser follows live.

pub mod context;
mod finish;
mod info;
pub mod kind;
pub mod kinds;
pub mod runner;
pub mod schedules;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde_json::Value;
use steward_frontend::contract::{
    HostRunState, JobDetail, JobHostResult, JobInput, JobQuery, JobState, JobSummary, LogLine, Page, Word,
};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use self::kind::{JobKind, Registry};
use crate::clock::SharedClock;
use crate::config::JobsConfig;
use crate::services::audit::{Actor, Audit};
use crate::services::error::{Error, OrNotFound};
use crate::services::ssh::{Ssh, SshFailure};
use crate::services::words::stored;
use crate::store::{JobEnd, JobFilter, JobRow, NewEvent, NewJob, Store};

pub const JOBS_PER_PAGE: u32 = 50;
/// Log lines sent with a job's page; the rest streams.
const FIRST_LOG_LINES: i64 = 2000;

/// Why a job (or one host of it) failed, and whether trying again may help.
#[derive(Debug, Clone)]
pub struct JobFailure {
    pub message: String,
    pub retryable: bool,
}

impl JobFailure {
    pub fn fatal(message: impl Into<String>) -> Self {
        Self { message: message.into(), retryable: false }
    }

    /// The database failed while `doing` something: the cause goes to the log, the job page
    /// says what could not be done. Worth retrying.
    pub fn store(doing: &str, err: &crate::store::StoreError) -> Self {
        tracing::error!(error = %err, "a job could not {doing}");
        Self { message: format!("Steward could not {doing}; the cause is in its log"), retryable: true }
    }
}

impl From<SshFailure> for JobFailure {
    fn from(failure: SshFailure) -> Self {
        Self { retryable: failure.is_connection_problem(), message: failure.to_string() }
    }
}

/// The "hosts at once" of a form: empty for the default, else 1 to 500.
pub fn parse_batch_size(text: &str) -> Result<Option<u64>, Error> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse()
        .ok()
        .filter(|n| (1..=500).contains(n))
        .map(Some)
        .ok_or_else(|| Error::invalid("batch_size", "Give a number of hosts from 1 to 500"))
}

/// What one host's work came to.
pub type Outcome = Result<String, JobFailure>;

/// What a job works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Host(i64),
    Instance(i64),
    Study(i64),
    Fleet,
}

impl Target {
    pub fn parse(kind: &str, id: Option<i64>) -> Option<Self> {
        match (kind, id) {
            ("host", Some(id)) => Some(Self::Host(id)),
            ("instance", Some(id)) => Some(Self::Instance(id)),
            ("study", Some(id)) => Some(Self::Study(id)),
            ("fleet", _) => Some(Self::Fleet),
            _ => None,
        }
    }

    fn parts(self) -> (&'static str, Option<i64>) {
        match self {
            Self::Host(id) => ("host", Some(id)),
            Self::Instance(id) => ("instance", Some(id)),
            Self::Study(id) => ("study", Some(id)),
            Self::Fleet => ("fleet", None),
        }
    }
}

/// A job to queue.
#[derive(Debug, Clone)]
pub struct JobSpec {
    pub kind: String,
    pub target: Target,
    pub payload: Value,
    /// `user:NAME`, `schedule:ID`...
    pub requested_by: String,
    pub schedule_id: Option<i64>,
    pub run_after: Option<DateTime<Utc>>,
}

pub(crate) struct Inner {
    pub(crate) store: Store,
    pub(crate) clock: SharedClock,
    audit: Audit,
    pub(crate) ssh: Ssh,
    kinds: Registry,
    pub(crate) config: JobsConfig,
    /// Wakes this process's worker when a job is queued here.
    pub(crate) wake: Notify,
    pub(crate) shutdown_grace_secs: u64,
    /// Jobs running in this process, to cancel them at once.
    pub(crate) running: Mutex<HashMap<i64, CancellationToken>>,
    /// Searches of cron expressions run here, off the runtime.
    pub(crate) offload: crate::services::offload::Offload,
    /// Writes jobs' outcomes, those that end together in one transaction.
    finisher: finish::Finisher,
}

#[derive(Clone)]
pub struct Jobs {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Jobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jobs").finish_non_exhaustive()
    }
}

fn summary_of(row: &JobRow, title: &str) -> JobSummary {
    JobSummary {
        id: row.id,
        kind: row.kind.clone(),
        title: title.to_owned(),
        target_kind: row.target_kind.clone(),
        target_id: row.target_id,
        target_name: row.target_name.clone(),
        study_id: row.study_id,
        state: stored(&row.state, JobState::Failed),
        attempts: row.attempts,
        max_attempts: row.max_attempts,
        requested_by: row.requested_by.clone(),
        created_at: row.created_at,
        started_at: row.started_at,
        finished_at: row.finished_at,
        total: row.total,
        done: row.done,
        failed: row.failed,
        summary: row.summary.clone(),
    }
}

impl Jobs {
    pub fn new(
        store: Store,
        clock: SharedClock,
        audit: Audit,
        ssh: Ssh,
        config: JobsConfig,
        shutdown_grace_secs: u64,
        kinds: Vec<Arc<dyn JobKind>>,
    ) -> Self {
        let finisher = finish::Finisher::start(store.clone(), clock.clone());
        Self {
            inner: Arc::new(Inner {
                store,
                clock,
                audit,
                ssh,
                kinds: Registry::new(kinds),
                config,
                wake: Notify::new(),
                shutdown_grace_secs,
                running: Mutex::new(HashMap::new()),
                offload: crate::services::offload::Offload::new(2),
                finisher,
            }),
        }
    }

    fn title(&self, kind: &str) -> &'static str {
        self.inner.kinds.get(kind).map_or("Unknown job", |k| k.title())
    }

    /// The target's name and study, checking it exists.
    async fn resolve(&self, target: Target) -> Result<(String, Option<i64>), Error> {
        let store = &self.inner.store;
        Ok(match target {
            Target::Host(id) => {
                let host = store.host(id).await.or_not_found("The host")?;
                (host.name, Some(store.study_of_host(id).await.or_not_found("The host")?))
            }
            Target::Instance(id) => {
                let instance = store.instance(id).await.or_not_found("The instance")?;
                (instance.name, Some(instance.study_id))
            }
            Target::Study(id) => {
                let study = store.study(id, 0).await.or_not_found("The study")?;
                (study.name, Some(id))
            }
            Target::Fleet => ("all hosts".to_owned(), None),
        })
    }

    /// Queues a job; it starts as soon as a worker is free.
    pub async fn enqueue(&self, actor: &Actor, spec: JobSpec) -> Result<JobSummary, Error> {
        let kind = self
            .inner
            .kinds
            .get(spec.kind.as_str())
            .ok_or_else(|| Error::invalid("kind", format!("There is no job kind {:?}", spec.kind)))?;
        kind.validate(&spec.payload)?;
        let (target_name, study_id) = self.resolve(spec.target).await?;
        let (target_kind, target_id) = spec.target.parts();
        let payload = spec.payload.to_string();
        let now = self.inner.clock.now();
        let job = NewJob {
            kind: kind.name(),
            target_kind,
            target_id,
            target_name: &target_name,
            study_id,
            payload: &payload,
            max_attempts: kind.info().max_attempts,
            requested_by: &spec.requested_by,
            schedule_id: spec.schedule_id,
            run_after: spec.run_after.unwrap_or(now),
        };
        let id = self.inner.store.insert_job(&job, now).await?;
        self.inner.wake.notify_one();
        if spec.schedule_id.is_none() {
            let detail = format!("{} on {target_kind} {target_name}", kind.title());
            self.inner.audit.record(actor, "job.started", &format!("job {id}"), &detail).await;
        }
        let row = self.inner.store.job(id).await?;
        Ok(summary_of(&row, kind.title()))
    }

    /// Turns the form into a job spec; the kind says what its form carries.
    pub fn spec_from_input(&self, input: &JobInput, requested_by: String) -> Result<JobSpec, Error> {
        let target = Target::parse(&input.target_kind, input.target_id)
            .ok_or_else(|| Error::invalid("target_kind", "Choose what the job runs on"))?;
        let kind = self.inner.kinds.get(&input.kind).ok_or_else(|| Error::invalid("kind", "Choose what to run"))?;
        Ok(JobSpec {
            kind: input.kind.clone(),
            target,
            payload: kind.payload(input)?,
            requested_by,
            schedule_id: None,
            run_after: None,
        })
    }

    /// The kinds the forms offer.
    pub fn startable_kinds(&self) -> Vec<steward_frontend::contract::JobKindSummary> {
        self.inner.kinds.startable()
    }

    /// The kinds whose failure raises an alert.
    pub fn alerting_kinds(&self) -> Vec<&'static str> {
        self.inner.kinds.alerting()
    }

    /// Stops a job: a queued one at once, a running one as soon as its worker sees the request
    /// (its remote commands are killed).
    pub async fn cancel(&self, actor: &Actor, id: i64) -> Result<String, Error> {
        let state = self.inner.store.cancel_job(id, self.inner.clock.now()).await.or_not_found("The job")?;
        if let Ok(running) = self.inner.running.lock()
            && let Some(token) = running.get(&id)
        {
            token.cancel();
        }
        self.inner.audit.record(actor, "job.cancelled", &format!("job {id}"), "").await;
        Ok(state)
    }

    pub async fn detail(&self, id: i64) -> Result<JobDetail, Error> {
        let (job, hosts) = self.detail_without_log(id).await?;
        let log = self.log_after(id, 0, FIRST_LOG_LINES).await?;
        Ok(JobDetail { can_cancel: !job.finished(), job, hosts, log })
    }

    /// The job and its per-host results.
    pub async fn detail_without_log(&self, id: i64) -> Result<(JobSummary, Vec<JobHostResult>), Error> {
        let job = self.summary(id).await?;
        let hosts = self
            .inner
            .store
            .job_hosts(id)
            .await?
            .into_iter()
            .map(|h| JobHostResult {
                host_id: h.host_id,
                host_name: h.host_name,
                state: stored(&h.state, HostRunState::Failed),
                message: h.message,
                started_at: h.started_at,
                finished_at: h.finished_at,
            })
            .collect();
        Ok((job, hosts))
    }

    pub async fn log_after(&self, id: i64, after: i64, limit: i64) -> Result<Vec<LogLine>, Error> {
        Ok(self
            .inner
            .store
            .job_log(id, after, limit)
            .await?
            .into_iter()
            .map(|l| LogLine { seq: l.seq, at: l.at, line: l.line })
            .collect())
    }

    pub async fn summary(&self, id: i64) -> Result<JobSummary, Error> {
        let row = self.inner.store.job(id).await.or_not_found("The job")?;
        Ok(summary_of(&row, self.title(&row.kind)))
    }

    /// Jobs a viewer may see (`visible`: their studies; `None` for admins, who also see fleet
    /// jobs), filtered and paged.
    pub async fn list(&self, visible: Option<&[i64]>, query: &JobQuery) -> Result<Page<JobSummary>, Error> {
        let study_id = match query.study.trim() {
            "" => None,
            s => Some(s.parse::<i64>().map_err(|_| Error::invalid("study", "Choose a study"))?),
        };
        let since = match query.hours.trim() {
            "" => None,
            h => {
                let hours = h
                    .parse::<i64>()
                    .ok()
                    .filter(|h| *h > 0)
                    .ok_or_else(|| Error::invalid("hours", "Give a number of hours, like 24"))?;
                Some(self.inner.clock.now() - chrono::Duration::hours(hours))
            }
        };
        let some = |s: &str| Some(s.trim()).filter(|s| !s.is_empty()).map(str::to_owned);
        let (kind, target) = (some(&query.kind), some(&query.target));
        let state = match query.state.trim() {
            "" => None,
            text => Some(
                JobState::parse(text)
                    .ok_or_else(|| Error::invalid("state", format!("Choose a state: {}", JobState::choices())))?,
            ),
        };
        let filter = JobFilter {
            kind: kind.as_deref(),
            state: state.map(JobState::as_str),
            study_id,
            target: target.as_deref(),
            since,
            visible_studies: visible,
            limit: i64::from(JOBS_PER_PAGE),
            offset: i64::from(query.page) * i64::from(JOBS_PER_PAGE),
        };
        let (rows, total) = self.inner.store.list_jobs(&filter).await?;
        Ok(Page {
            items: rows.iter().map(|row| summary_of(row, self.title(&row.kind))).collect(),
            total: u64::try_from(total).unwrap_or(0),
            page: query.page,
            per_page: JOBS_PER_PAGE,
        })
    }

    /// Re-queues an interrupted job as a new one when its kind is idempotent.
    pub(crate) async fn requeue_interrupted(&self, row: &JobRow) {
        let kind = self.inner.kinds.get(row.kind.as_str()).cloned();
        let summary = format!("job {} ({}) on {} was interrupted", row.id, row.kind, row.target_name);
        let event =
            NewEvent { kind: "job.interrupted", severity: "warning", host_id: None, summary: &summary, detail: "" };
        if let Err(err) = self.inner.store.record_event(&event, self.inner.clock.now()).await {
            tracing::warn!(error = %err, "could not record an event");
        }
        let Some(kind) = kind.filter(|k| k.info().idempotent) else { return };
        let requested_by = format!("rerun of job {}", row.id);
        let job = NewJob {
            kind: kind.name(),
            target_kind: &row.target_kind,
            target_id: row.target_id,
            target_name: &row.target_name,
            study_id: row.study_id,
            payload: &row.payload,
            max_attempts: row.max_attempts,
            requested_by: &requested_by,
            schedule_id: row.schedule_id,
            run_after: self.inner.clock.now(),
        };
        match self.inner.store.insert_job(&job, self.inner.clock.now()).await {
            Ok(id) => {
                tracing::info!(job = row.id, rerun = id, "re-queued an interrupted job");
                self.inner.wake.notify_one();
            }
            Err(err) => tracing::warn!(job = row.id, error = %err, "could not re-queue an interrupted job"),
        }
    }

    /// Runs a claimed job to its end and records the outcome.
    pub(crate) async fn execute(&self, job: JobRow, owner: &str, cancel: CancellationToken) {
        let inner = &self.inner;
        if let Ok(mut running) = inner.running.lock() {
            running.insert(job.id, cancel.clone());
        }
        if job.cancel_requested {
            cancel.cancel();
        }
        let id = job.id;
        let attempts = job.attempts;
        let max_attempts = job.max_attempts;
        let result = match inner.kinds.get(job.kind.as_str()).cloned() {
            None => {
                (Err(JobFailure::fatal(format!("this Steward does not know job kind {:?}", job.kind))), (vec![], 0))
            }
            Some(kind) => {
                let ctx = context::new_context(self, job, cancel.clone());
                let flusher = async {
                    loop {
                        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
                        ctx.flush_log().await;
                    }
                };
                let timeout = kind.info().timeout;
                let work = tokio::time::timeout(timeout, kind.run(&ctx));
                let result = tokio::select! {
                    result = work => match result {
                        Ok(result) => result,
                        Err(_) => {
                            cancel.cancel();
                            Err(JobFailure::fatal(format!("timed out after {} s", timeout.as_secs())))
                        }
                    },
                    () = flusher => unreachable_flusher(),
                };
                match &result {
                    Ok(summary) => ctx.log(&format!("finished: {summary}")),
                    Err(failure) => ctx.log(&format!("failed: {}", failure.message)),
                }
                (result, ctx.take_log())
            }
        };
        let (result, (lines, bytes)) = result;
        let end = |state: JobState, summary: String| JobEnd {
            id,
            owner: owner.to_owned(),
            state: state.as_str().to_owned(),
            summary,
            lines: lines.clone(),
            bytes,
        };
        let recorded = match result {
            Ok(summary) => inner.finisher.finish(end(JobState::Succeeded, summary)).await,
            Err(failure) if cancel.is_cancelled() && !failure.message.starts_with("timed out") => {
                inner.finisher.finish(end(JobState::Cancelled, failure.message)).await
            }
            Err(failure) if failure.retryable && attempts < max_attempts => {
                // 10 s, 40 s, 160 s...
                let now = inner.clock.now();
                let backoff =
                    chrono::Duration::seconds(10 * 4_i64.pow(u32::try_from(attempts - 1).unwrap_or(0).min(6)));
                let message = format!("attempt {attempts} of {max_attempts} failed: {}; retrying", failure.message);
                let logged = inner.store.append_job_log(id, &lines, bytes, now).await;
                match logged.and(inner.store.retry_job(id, owner, &message, now + backoff).await) {
                    Ok(done) => Ok(done),
                    Err(err) => Err(err.to_string()),
                }
            }
            Err(failure) => inner.finisher.finish(end(JobState::Failed, failure.message)).await,
        };
        match recorded {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(job = id, "the job's lease was lost before it finished; its outcome is not recorded")
            }
            Err(err) => tracing::error!(job = id, error = %err, "could not record a job's outcome"),
        }
        if let Ok(mut running) = inner.running.lock() {
            running.remove(&id);
        }
    }
}

/// The log flusher loops forever; `select!` needs its type.
fn unreachable_flusher() -> Result<String, JobFailure> {
    Err(JobFailure::fatal("the log writer stopped"))
}

/// This process's name in leases and claims: the machine's name and a random suffix.
fn replica_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "steward".into());
    format!("{host}-{}", &uuid::Uuid::new_v4().simple().to_string()[..8])
}
