//! Schedules: cron expressions in a time zone that queue jobs. Each due time fires once
//! (claimed in `schedule_runs`, unique per schedule and time); due times missed while Steward
//! was down are an event and follow the schedule's catch-up policy (run once, or skip).

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use croner::Cron;
use serde_json::Value;
use steward_frontend::contract::{JobState, ScheduleInput, ScheduleRun, ScheduleSummary};
use tokio_util::sync::CancellationToken;

use super::{Jobs, Target};
use crate::services::audit::Actor;
use crate::services::error::{Error, OrNotFound};
use crate::services::words::stored;
use crate::services::workers::Worker;
use crate::store::{BackendKind, Firing, NewEvent, NewJob, ScheduleFields, ScheduleRow, StoreError};

/// A due time found later than this is a missed run (Steward was down), not a late one.
const MISSED_AFTER: chrono::Duration = chrono::Duration::seconds(120);
/// Due schedules handled per pass. SQLite has one writer at a time: smaller passes let the job
/// runner's claims take their turns in between, so the first jobs of a burst start while the
/// last are still being queued.
const fn batch(kind: BackendKind) -> i64 {
    match kind {
        BackendKind::Sqlite => 200,
        BackendKind::Postgres => 1000,
    }
}
/// How long a replica holds the due schedules it took (another takes them over after).
const CLAIM: chrono::Duration = chrono::Duration::seconds(60);
/// Longest the search for an expression's due times may take.
const CRON_SEARCH_DEADLINE: Duration = Duration::from_secs(2);

/// A cron expression (5 fields, or 6 with seconds) in a time zone.
pub struct Timing {
    cron: Cron,
    zone: chrono_tz::Tz,
}

impl Timing {
    pub fn parse(cron: &str, zone: &str) -> Result<Self, Error> {
        let zone = chrono_tz::Tz::from_str(zone.trim()).map_err(|_| {
            Error::invalid("timezone", format!("{zone:?} is not a time zone; use a name like Europe/Zurich or UTC"))
        })?;
        let fields: Vec<&str> = cron.split_whitespace().collect();
        // Schedules run at most once a minute: a seconds field names one second.
        if fields.len() == 6 && fields[0].parse::<u8>().map_or(true, |s| s > 59) {
            return Err(Error::invalid(
                "cron",
                "Steward runs a schedule at most once a minute: give the seconds as one number, or write 5 fields",
            ));
        }
        let cron = Cron::new(cron.trim()).with_seconds_optional().parse().map_err(|err| {
            Error::invalid("cron", format!("{err}; write minute hour day month weekday, like 30 2 * * *"))
        })?;
        Ok(Self { cron, zone })
    }

    /// The first due time strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron.find_next_occurrence(&after.with_timezone(&self.zone), false).ok().map(|t| t.with_timezone(&Utc))
    }

    pub fn upcoming(&self, after: DateTime<Utc>, count: usize) -> Vec<DateTime<Utc>> {
        let mut times = Vec::with_capacity(count);
        let mut from = after;
        while times.len() < count {
            let Some(next) = self.next_after(from) else { break };
            times.push(next);
            from = next;
        }
        times
    }
}

/// A job target's name and study, once resolved (`None`: it is gone).
type Resolved = Option<(String, Option<i64>)>;

/// What to do about one due time.
struct Plan<'a> {
    schedule: &'a ScheduleRow,
    due_at: DateTime<Utc>,
    next: DateTime<Utc>,
    /// How many due times passed unseen, when Steward was down.
    missed_runs: Option<u32>,
    /// Whether a job is queued (on time, or a missed run caught up once).
    runs: bool,
    target: Resolved,
    kind: Option<std::sync::Arc<dyn super::kind::JobKind>>,
    run_after: DateTime<Utc>,
    requested_by: String,
}

/// Fires due schedules until shut down.
pub struct Scheduler {
    jobs: Jobs,
    /// This process's name in schedule claims.
    owner: String,
}

impl Scheduler {
    pub fn new(jobs: Jobs) -> Self {
        Self { jobs, owner: super::replica_name() }
    }

    pub async fn run(self, shutdown: CancellationToken, worker: Worker) {
        loop {
            worker.busy();
            match self.fire_due().await {
                Ok(_) => worker.idle(),
                Err(err) => {
                    tracing::warn!(error = %err, "could not fire due schedules");
                    worker.failed(format!("could not fire due schedules: {err}"), Duration::from_secs(1));
                }
            }
            // Wake at the next whole second: due times are whole seconds or minutes.
            let millis = u64::from(1000 - Utc::now().timestamp_subsec_millis().min(999));
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(Duration::from_millis(millis)) => {}
            }
        }
        worker.stopped();
    }

    /// Fires every schedule due now; returns how many due times were handled.
    pub async fn fire_due(&self) -> Result<usize, StoreError> {
        let mut handled = 0;
        let batch = batch(self.jobs.inner.store.kind());
        loop {
            let now = self.jobs.inner.clock.now();
            let due = self.jobs.inner.store.claim_due_schedules(&self.owner, now, now + CLAIM, batch).await?;
            if due.is_empty() {
                return Ok(handled);
            }
            let count = due.len();
            self.fire(&due, now).await?;
            handled += count;
            if count < batch as usize {
                return Ok(handled);
            }
        }
    }

    /// Handles a batch of due schedules in one transaction: each due time is claimed once,
    /// queues its job (or is recorded as missed), and the schedule moves on.
    async fn fire(&self, due: &[ScheduleRow], now: DateTime<Utc>) -> Result<(), StoreError> {
        let inner = &self.jobs.inner;
        let mut timings: HashMap<(&str, &str), Option<Timing>> = HashMap::new();
        // Many schedules share a cron line and fall due together: each distinct (line, zone,
        // due time) is worked out once per batch.
        let mut times: HashMap<(&str, &str, DateTime<Utc>), NextAndMissed> = HashMap::new();
        let mut targets: HashMap<(String, Option<i64>), Resolved> = HashMap::new();
        // What the firings borrow: requested-by texts and target names.
        let mut plans = Vec::with_capacity(due.len());
        for schedule in due {
            let due_at = schedule.next_due_at;
            let (next, missed_runs) = *times.entry((&schedule.cron, &schedule.timezone, due_at)).or_insert_with(|| {
                let timing = timings
                    .entry((&schedule.cron, &schedule.timezone))
                    .or_insert_with(|| Timing::parse(&schedule.cron, &schedule.timezone).ok());
                next_and_missed(timing.as_ref(), due_at, now)
            });
            let runs = missed_runs.is_none() || schedule.catch_up == "once";
            let target = match targets.entry((schedule.target_kind.clone(), schedule.target_id)) {
                std::collections::hash_map::Entry::Occupied(e) => e.get().clone(),
                std::collections::hash_map::Entry::Vacant(e) => {
                    let resolved = match Target::parse(&schedule.target_kind, schedule.target_id) {
                        Some(t) => self.jobs.resolve(t).await.ok(),
                        None => None,
                    };
                    e.insert(resolved).clone()
                }
            };
            let jitter = if schedule.jitter_secs > 0 {
                let random = uuid::Uuid::new_v4().as_u128() as i64;
                chrono::Duration::seconds(random.rem_euclid(schedule.jitter_secs + 1))
            } else {
                chrono::Duration::zero()
            };
            let kind = inner.kinds.get(schedule.kind.as_str()).cloned();
            if runs && (kind.is_none() || target.is_none()) {
                tracing::warn!(schedule = schedule.id, "a schedule's job kind or target is gone; nothing queued");
            }
            plans.push(Plan {
                schedule,
                due_at,
                next,
                missed_runs,
                runs,
                target,
                kind,
                run_after: now.max(due_at) + jitter,
                requested_by: format!("schedule {}", schedule.name),
            });
        }
        let firings: Vec<Firing<'_>> = plans
            .iter()
            .map(|plan| {
                let job = match (plan.runs, &plan.target, &plan.kind) {
                    (true, Some((name, study)), Some(kind)) => Some(NewJob {
                        kind: kind.name(),
                        target_kind: &plan.schedule.target_kind,
                        target_id: plan.schedule.target_id,
                        target_name: name,
                        study_id: *study,
                        payload: &plan.schedule.payload,
                        max_attempts: kind.info().max_attempts,
                        requested_by: &plan.requested_by,
                        schedule_id: Some(plan.schedule.id),
                        run_after: plan.run_after,
                    }),
                    _ => None,
                };
                Firing {
                    schedule_id: plan.schedule.id,
                    due_at: plan.due_at,
                    next_due_at: plan.next,
                    outcome: if plan.runs { "fired" } else { "missed" },
                    job,
                }
            })
            .collect();
        let claimed: std::collections::HashSet<i64> =
            inner.store.fire_schedules(&firings, now).await?.into_iter().collect();
        inner.wake.notify_waiters();
        inner.wake.notify_one();
        for plan in &plans {
            if let Some(count) = plan.missed_runs
                && claimed.contains(&plan.schedule.id)
            {
                let summary = format!("schedule {} missed {count} run(s) while Steward was down", plan.schedule.name);
                let detail = if plan.runs { "running it once now" } else { "skipped, as its policy says" };
                let event =
                    NewEvent { kind: "schedule.missed", severity: "warning", host_id: None, summary: &summary, detail };
                inner.store.record_event(&event, now).await?;
            }
        }
        Ok(())
    }
}

type NextAndMissed = (DateTime<Utc>, Option<u32>);

/// A due time's next one, and how many runs it missed when Steward was down long enough for
/// it to count as missed.
fn next_and_missed(timing: Option<&Timing>, due_at: DateTime<Utc>, now: DateTime<Utc>) -> NextAndMissed {
    let next = timing.and_then(|t| t.next_after(now.max(due_at))).unwrap_or(now + chrono::Duration::days(3650));
    let missed = (now - due_at > MISSED_AFTER).then(|| {
        timing.map_or(1, |t| {
            let (mut n, mut at) = (1, due_at);
            while let Some(later) = t.next_after(at).filter(|l| *l <= now) {
                n += 1;
                at = later;
            }
            n
        })
    });
    (next, missed)
}

fn summary_of(
    jobs: &Jobs,
    row: &ScheduleRow,
    target_name: String,
    runs: Vec<ScheduleRun>,
    now: DateTime<Utc>,
) -> ScheduleSummary {
    let upcoming = Timing::parse(&row.cron, &row.timezone).map(|t| t.upcoming(now, 5)).unwrap_or_default();
    ScheduleSummary {
        id: row.id,
        name: row.name.clone(),
        kind: row.kind.clone(),
        title: jobs.title(&row.kind).to_owned(),
        target_kind: row.target_kind.clone(),
        target_id: row.target_id,
        target_name,
        study_id: row.study_id,
        cron: row.cron.clone(),
        timezone: row.timezone.clone(),
        enabled: row.enabled,
        catch_up: row.catch_up.clone(),
        jitter_secs: row.jitter_secs,
        next_due_at: row.enabled.then_some(row.next_due_at),
        upcoming: if row.enabled { upcoming } else { Vec::new() },
        runs,
        argv: serde_json::from_str::<Value>(&row.payload)
            .ok()
            .and_then(|p| p["argv"].as_array().cloned())
            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect::<Vec<_>>().join("\n"))
            .unwrap_or_default(),
    }
}

impl Jobs {
    async fn schedule_fields(&self, input: &ScheduleInput) -> Result<(DateTime<Utc>, i64), Error> {
        if input.name.trim().is_empty() || input.name.len() > 200 {
            return Err(Error::invalid("name", "Give the schedule a name (at most 200 characters)"));
        }
        let next_due_at = self.timing(&input.cron, &input.timezone).await?.1[0];
        let jitter = match input.jitter_secs.trim() {
            "" => 0,
            j => j
                .parse::<i64>()
                .ok()
                .filter(|j| (0..=86_400).contains(j))
                .ok_or_else(|| Error::invalid("jitter_secs", "Give a number of seconds from 0 to 86400"))?,
        };
        if !matches!(input.catch_up.as_str(), "once" | "skip") {
            return Err(Error::invalid("catch_up", "Choose run once or skip"));
        }
        Ok((next_due_at, jitter))
    }

    /// Creates (`id` None) or changes a schedule; its next due time is computed from now.
    pub async fn save_schedule(
        &self,
        actor: &Actor,
        id: Option<i64>,
        input: &ScheduleInput,
    ) -> Result<ScheduleSummary, Error> {
        let (next_due_at, jitter_secs) = self.schedule_fields(input).await?;
        let job_input = steward_frontend::contract::JobInput {
            kind: input.kind.clone(),
            target_kind: input.target_kind.clone(),
            target_id: input.target_id,
            argv: input.argv.clone(),
            batch_size: input.batch_size.clone(),
            stop_on_failure: input.stop_on_failure.clone(),
        };
        let spec = self.spec_from_input(&job_input, String::new())?;
        let kind =
            self.inner.kinds.get(spec.kind.as_str()).ok_or_else(|| Error::invalid("kind", "Choose what to run"))?;
        kind.validate(&spec.payload)?;
        let (target_name, study_id) = self.resolve(spec.target).await?;
        let (target_kind, target_id) = spec.target.parts();
        let now = self.inner.clock.now();
        let payload = spec.payload.to_string();
        let fields = ScheduleFields {
            name: input.name.trim(),
            kind: kind.name(),
            target_kind,
            target_id,
            study_id,
            payload: &payload,
            cron: input.cron.trim(),
            timezone: input.timezone.trim(),
            enabled: input.enabled.is_some(),
            catch_up: &input.catch_up,
            jitter_secs,
            next_due_at,
        };
        let by = actor.username.clone().unwrap_or_else(|| "steward".into());
        let id = match id {
            Some(id) => {
                self.inner.store.update_schedule(id, &fields, now).await.or_not_found("The schedule")?;
                id
            }
            None => self.inner.store.insert_schedule(&fields, &by, now).await?,
        };
        let detail =
            format!("{} on {target_kind} {target_name} at {:?} ({})", kind.title(), fields.cron, fields.timezone);
        self.inner.audit.record(actor, "schedule.saved", &format!("schedule {}", fields.name), &detail).await;
        self.schedule(id).await
    }

    /// Deletes the schedule when `confirm` is its name.
    pub async fn delete_schedule(&self, actor: &Actor, id: i64, confirm: &str) -> Result<(), Error> {
        let row = self.inner.store.schedule(id).await.or_not_found("The schedule")?;
        if confirm.trim() != row.name {
            return Err(Error::invalid("confirm", "Type the schedule's name to delete it"));
        }
        self.inner.store.delete_schedule(id).await?;
        self.inner.audit.record(actor, "schedule.deleted", &format!("schedule {}", row.name), "").await;
        Ok(())
    }

    async fn target_name(&self, row: &ScheduleRow) -> String {
        match Target::parse(&row.target_kind, row.target_id) {
            Some(target) => self.resolve(target).await.map(|(name, _)| name).unwrap_or_else(|_| "(removed)".into()),
            None => "(unknown)".into(),
        }
    }

    pub async fn schedule(&self, id: i64) -> Result<ScheduleSummary, Error> {
        let row = self.inner.store.schedule(id).await.or_not_found("The schedule")?;
        let runs = self
            .inner
            .store
            .schedule_runs(id, 20)
            .await?
            .into_iter()
            .map(|r| ScheduleRun {
                due_at: r.due_at,
                outcome: r.outcome,
                job_id: r.job_id,
                job_state: r.job_state.as_deref().map(|s| stored(s, JobState::Failed)),
            })
            .collect();
        let name = self.target_name(&row).await;
        Ok(summary_of(self, &row, name, runs, self.inner.clock.now()))
    }

    pub async fn schedules(&self, visible: Option<&[i64]>) -> Result<Vec<ScheduleSummary>, Error> {
        let rows = self.inner.store.list_schedules(visible).await?;
        let now = self.inner.clock.now();
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let name = self.target_name(&row).await;
            out.push(summary_of(self, &row, name, Vec::new(), now));
        }
        Ok(out)
    }

    /// The next five due times of an expression, for the editor's preview.
    pub async fn preview(&self, cron: &str, zone: &str) -> Result<Vec<DateTime<Utc>>, Error> {
        Ok(self.timing(cron, zone).await?.1)
    }

    /// Parses an expression and finds its next five due times, off the runtime and within a
    /// deadline (an expression that never comes due can take a long search).
    async fn timing(&self, cron: &str, zone: &str) -> Result<(Timing, Vec<DateTime<Utc>>), Error> {
        let (cron, zone, now) = (cron.to_owned(), zone.to_owned(), self.inner.clock.now());
        let found = self
            .inner
            .offload
            .run(CRON_SEARCH_DEADLINE, move || {
                Timing::parse(&cron, &zone).map(|timing| {
                    let upcoming = timing.upcoming(now, 5);
                    (timing, upcoming)
                })
            })
            .await
            .map_err(|err| Error::invalid("cron", format!("Steward gave up looking for its due times: {err}")))??;
        if found.1.is_empty() {
            return Err(Error::invalid("cron", "This expression never comes due"));
        }
        Ok(found)
    }
}
