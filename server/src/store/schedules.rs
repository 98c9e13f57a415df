//! Schedules and the record of each due time (unique per schedule and time, so a due time
//! fires once however many replicas look).

use chrono::{DateTime, Utc};

use super::{BeginWrite, Result, Store, on_pool};

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

    /// Enabled schedules due by `now`, earliest first.
    pub async fn due_schedules(&self, now: DateTime<Utc>, limit: i64) -> Result<Vec<ScheduleRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM schedules WHERE enabled = TRUE AND next_due_at <= $1 ORDER BY next_due_at LIMIT $2"
        );
        Ok(on_pool!(self, pool => sqlx::query_as::<_, ScheduleRow>(&sql).bind(now).bind(limit).fetch_all(pool).await)?)
    }

    /// Claims a due time of a schedule; false when it was already claimed (by any replica).
    pub async fn claim_schedule_run(&self, schedule_id: i64, due_at: DateTime<Utc>, outcome: &str) -> Result<bool> {
        let n = on_pool!(self, pool => sqlx::query(
            "INSERT INTO schedule_runs (schedule_id, due_at, outcome) VALUES ($1, $2, $3)
             ON CONFLICT (schedule_id, due_at) DO NOTHING")
            .bind(schedule_id).bind(due_at).bind(outcome).execute(pool).await.map(|d| d.rows_affected()))?;
        Ok(n == 1)
    }

    pub async fn set_schedule_run_job(&self, schedule_id: i64, due_at: DateTime<Utc>, job_id: i64) -> Result<()> {
        on_pool!(self, pool => sqlx::query("UPDATE schedule_runs SET job_id = $3 WHERE schedule_id = $1 AND due_at = $2")
            .bind(schedule_id).bind(due_at).bind(job_id).execute(pool).await.map(|d| d.rows_affected()))?;
        Ok(())
    }

    /// Moves the schedule on from `due_at` to `next` (unless someone already did).
    pub async fn advance_schedule(&self, id: i64, due_at: DateTime<Utc>, next: DateTime<Utc>) -> Result<()> {
        on_pool!(self, pool => sqlx::query("UPDATE schedules SET next_due_at = $3 WHERE id = $1 AND next_due_at = $2")
            .bind(id).bind(due_at).bind(next).execute(pool).await.map(|d| d.rows_affected()))?;
        Ok(())
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
    pub job: Option<super::NewJob<'a>>,
}

impl Store {
    /// Handles many due times in one transaction (10,000 schedules may fall due at once); a due
    /// time another replica claimed already is skipped. Returns the due times claimed here.
    pub async fn fire_schedules(&self, firings: &[Firing<'_>], now: DateTime<Utc>) -> Result<Vec<i64>> {
        Ok(on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let mut claimed = Vec::new();
            for f in firings {
                let won = sqlx::query(
                    "INSERT INTO schedule_runs (schedule_id, due_at, outcome) VALUES ($1, $2, $3)
                     ON CONFLICT (schedule_id, due_at) DO NOTHING")
                    .bind(f.schedule_id).bind(f.due_at).bind(f.outcome).execute(&mut *tx).await?.rows_affected() == 1;
                if won {
                    claimed.push(f.schedule_id);
                    if let Some(job) = &f.job {
                        let id: i64 = sqlx::query_scalar(
                            "INSERT INTO jobs (kind, target_kind, target_id, target_name, study_id, payload, state,
                               max_attempts, requested_by, schedule_id, created_at, run_after)
                             VALUES ($1, $2, $3, $4, $5, $6, 'queued', $7, $8, $9, $10, $11) RETURNING id")
                            .bind(job.kind).bind(job.target_kind).bind(job.target_id).bind(job.target_name)
                            .bind(job.study_id).bind(job.payload).bind(job.max_attempts).bind(job.requested_by)
                            .bind(job.schedule_id).bind(now).bind(job.run_after)
                            .fetch_one(&mut *tx).await?;
                        sqlx::query("UPDATE schedule_runs SET job_id = $3 WHERE schedule_id = $1 AND due_at = $2")
                            .bind(f.schedule_id).bind(f.due_at).bind(id).execute(&mut *tx).await?;
                    }
                }
                sqlx::query("UPDATE schedules SET next_due_at = $3 WHERE id = $1 AND next_due_at = $2")
                    .bind(f.schedule_id).bind(f.due_at).bind(f.next_due_at).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            claimed
        }))
    }
}
