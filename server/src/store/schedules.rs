//! Schedules and the record of each due time (unique per schedule and time, so a due time
//! fires once however many replicas look).

use chrono::{DateTime, Utc};

use std::collections::{HashMap, HashSet};

use super::{BackendKind, BeginWrite, NewJob, Result, Store, on_pool};

/// Firings per statement: well under either backend's limit on bound values.
const CHUNK: usize = 500;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ScheduleRow {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub target_kind: String,
    pub target_id: Option<i64>,
    pub study_id: Option<i64>,
    pub payload: String,
    pub cron: String,
    pub timezone: String,
    pub enabled: bool,
    pub catch_up: String,
    pub jitter_secs: i64,
    pub next_due_at: DateTime<Utc>,
    pub created_by: String,
}

const COLUMNS: &str = "id, name, kind, target_kind, target_id, study_id, payload, cron, timezone, enabled, catch_up,
    jitter_secs, next_due_at, created_by";

pub struct ScheduleFields<'a> {
    pub name: &'a str,
    pub kind: &'a str,
    pub target_kind: &'a str,
    pub target_id: Option<i64>,
    pub study_id: Option<i64>,
    pub payload: &'a str,
    pub cron: &'a str,
    pub timezone: &'a str,
    pub enabled: bool,
    pub catch_up: &'a str,
    pub jitter_secs: i64,
    pub next_due_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ScheduleRunRow {
    pub due_at: DateTime<Utc>,
    pub job_id: Option<i64>,
    pub outcome: String,
    pub job_state: Option<String>,
}

impl Store {
    pub async fn insert_schedule(&self, f: &ScheduleFields<'_>, by: &str, now: DateTime<Utc>) -> Result<i64> {
        Ok(on_pool!(self, pool => sqlx::query_scalar(
            "INSERT INTO schedules (name, kind, target_kind, target_id, study_id, payload, cron, timezone, enabled,
               catch_up, jitter_secs, next_due_at, created_by, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14) RETURNING id")
            .bind(f.name).bind(f.kind).bind(f.target_kind).bind(f.target_id).bind(f.study_id).bind(f.payload)
            .bind(f.cron).bind(f.timezone).bind(f.enabled).bind(f.catch_up).bind(f.jitter_secs).bind(f.next_due_at)
            .bind(by).bind(now)
            .fetch_one(pool).await)?)
    }

    pub async fn update_schedule(&self, id: i64, f: &ScheduleFields<'_>, now: DateTime<Utc>) -> Result<()> {
        let n = on_pool!(self, pool => sqlx::query(
            "UPDATE schedules SET name = $2, kind = $3, target_kind = $4, target_id = $5, study_id = $6, payload = $7,
               cron = $8, timezone = $9, enabled = $10, catch_up = $11, jitter_secs = $12, next_due_at = $13,
               updated_at = $14 WHERE id = $1")
            .bind(id).bind(f.name).bind(f.kind).bind(f.target_kind).bind(f.target_id).bind(f.study_id).bind(f.payload)
            .bind(f.cron).bind(f.timezone).bind(f.enabled).bind(f.catch_up).bind(f.jitter_secs).bind(f.next_due_at)
            .bind(now)
            .execute(pool).await.map(|d| d.rows_affected()))?;
        if n == 0 { Err(super::StoreError::NotFound) } else { Ok(()) }
    }

    pub async fn delete_schedule(&self, id: i64) -> Result<()> {
        let n = on_pool!(self, pool => sqlx::query("DELETE FROM schedules WHERE id = $1")
            .bind(id).execute(pool).await.map(|d| d.rows_affected()))?;
        if n == 0 { Err(super::StoreError::NotFound) } else { Ok(()) }
    }

    pub async fn schedule(&self, id: i64) -> Result<ScheduleRow> {
        let sql = format!("SELECT {COLUMNS} FROM schedules WHERE id = $1");
        Ok(on_pool!(self, pool => sqlx::query_as::<_, ScheduleRow>(&sql).bind(id).fetch_one(pool).await)?)
    }

    /// Schedules of these studies (and fleet-wide ones when `visible` is `None`).
    pub async fn list_schedules(&self, visible: Option<&[i64]>) -> Result<Vec<ScheduleRow>> {
        let filter = match visible {
            None => "1 = 1".to_owned(),
            Some([]) => "1 = 0".to_owned(),
            Some(ids) => format!("study_id IN ({})", ids.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")),
        };
        let sql = format!("SELECT {COLUMNS} FROM schedules WHERE {filter} ORDER BY name, id");
        Ok(on_pool!(self, pool => sqlx::query_as::<_, ScheduleRow>(&sql).fetch_all(pool).await)?)
    }

    /// Takes up to `limit` due schedules for `owner` until `until`: replicas share a burst of
    /// due schedules instead of all working through the same ones (Postgres skips rows another
    /// replica is taking; a claim left by a replica that died runs out at `until`).
    pub async fn claim_due_schedules(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<ScheduleRow>> {
        let lock = match self.kind() {
            BackendKind::Postgres => "FOR UPDATE SKIP LOCKED",
            BackendKind::Sqlite => "",
        };
        let sql = format!(
            "UPDATE schedules SET claimed_by = $1, claimed_until = $2
             WHERE id IN (SELECT id FROM schedules
                          WHERE enabled = TRUE AND next_due_at <= $3 AND (claimed_until IS NULL OR claimed_until < $3)
                          ORDER BY next_due_at LIMIT $4 {lock})
             RETURNING {COLUMNS}"
        );
        let _turn = self.write_turn().await;
        Ok(on_pool!(self, pool => sqlx::query_as::<_, ScheduleRow>(&sql)
            .bind(owner).bind(until).bind(now).bind(limit).fetch_all(pool).await)?)
    }

    pub async fn schedule_runs(&self, schedule_id: i64, limit: i64) -> Result<Vec<ScheduleRunRow>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, ScheduleRunRow>(
            "SELECT r.due_at, r.job_id, r.outcome, j.state AS job_state FROM schedule_runs r
             LEFT JOIN jobs j ON j.id = r.job_id WHERE r.schedule_id = $1 ORDER BY r.due_at DESC LIMIT $2")
            .bind(schedule_id).bind(limit).fetch_all(pool).await)?)
    }
}

/// One due time of a schedule, handled: claimed with `outcome`, optionally with a job to
/// queue, and the schedule moved on to `next_due_at`.
pub struct Firing<'a> {
    pub schedule_id: i64,
    pub due_at: DateTime<Utc>,
    pub next_due_at: DateTime<Utc>,
    pub outcome: &'a str,
    pub job: Option<NewJob<'a>>,
}

impl Store {
    /// Fires a batch of due times in one transaction and a handful of statements, whatever
    /// their number: each due time is claimed once (a replica that lost the race queues
    /// nothing), claimed ones queue their jobs, and every schedule moves on. Returns the
    /// schedules whose due time this call claimed.
    pub async fn fire_schedules(&self, firings: &[Firing<'_>], now: DateTime<Utc>) -> Result<Vec<i64>> {
        let _turn = self.write_turn().await;
        Ok(on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let mut claimed = Vec::with_capacity(firings.len());
            for chunk in firings.chunks(CHUNK) {
                let sql = format!(
                    "INSERT INTO schedule_runs (schedule_id, due_at, outcome) VALUES {}
                     ON CONFLICT (schedule_id, due_at) DO NOTHING RETURNING schedule_id",
                    self.value_rows(chunk.len(), 3, 1));
                let mut query = sqlx::query_scalar::<_, i64>(&sql);
                for f in chunk {
                    query = query.bind(f.schedule_id).bind(f.due_at).bind(f.outcome);
                }
                let won: HashSet<i64> = query.fetch_all(&mut *tx).await?.into_iter().collect();
                let jobs: Vec<(&Firing<'_>, &NewJob<'_>)> = chunk.iter()
                    .filter(|f| won.contains(&f.schedule_id))
                    .filter_map(|f| Some((f, f.job.as_ref()?)))
                    .collect();
                if !jobs.is_empty() {
                    let sql = format!(
                        "INSERT INTO jobs (kind, target_kind, target_id, target_name, study_id, payload, max_attempts,
                           requested_by, schedule_id, run_after, created_at, state)
                         SELECT v.column1, v.column2, v.column3, v.column4, v.column5, v.column6, v.column7, v.column8,
                           v.column9, v.column10, v.column11, 'queued' FROM (VALUES {}) AS v
                         RETURNING schedule_id, id",
                        self.value_rows(jobs.len(), 11, 1));
                    let mut query = sqlx::query_as::<_, (i64, i64)>(&sql);
                    for (_, job) in &jobs {
                        query = query.bind(job.kind).bind(job.target_kind).bind(job.target_id).bind(job.target_name)
                            .bind(job.study_id).bind(job.payload).bind(job.max_attempts).bind(job.requested_by)
                            .bind(job.schedule_id).bind(job.run_after).bind(now);
                    }
                    let queued = query.fetch_all(&mut *tx).await?;
                    let sql = format!(
                        "UPDATE schedule_runs SET job_id = v.column3 FROM (VALUES {}) AS v
                         WHERE schedule_runs.schedule_id = v.column1 AND schedule_runs.due_at = v.column2",
                        self.value_rows(queued.len(), 3, 1));
                    let due: HashMap<i64, DateTime<Utc>> = jobs.iter().map(|(f, _)| (f.schedule_id, f.due_at)).collect();
                    let mut query = sqlx::query(&sql);
                    for (schedule, job) in &queued {
                        query = query.bind(*schedule).bind(due[schedule]).bind(*job);
                    }
                    query.execute(&mut *tx).await?;
                }
                let sql = format!(
                    "UPDATE schedules SET claimed_by = NULL, claimed_until = NULL,
                       next_due_at = CASE WHEN schedules.next_due_at = v.column2 THEN v.column3 ELSE schedules.next_due_at END
                     FROM (VALUES {}) AS v WHERE schedules.id = v.column1",
                    self.value_rows(chunk.len(), 3, 1));
                let mut query = sqlx::query(&sql);
                for f in chunk {
                    query = query.bind(f.schedule_id).bind(f.due_at).bind(f.next_due_at);
                }
                query.execute(&mut *tx).await?;
                claimed.extend(chunk.iter().map(|f| f.schedule_id).filter(|id| won.contains(id)));
            }
            tx.commit().await?;
            claimed
        }))
    }
}
