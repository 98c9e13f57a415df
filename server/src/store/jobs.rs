//! Jobs: the queue (claimed under a lease, `FOR UPDATE SKIP LOCKED` on Postgres so replicas
//! never claim the same job), per-host results, logs, and host locks.

use chrono::{DateTime, Utc};

use super::{BackendKind, BeginWrite, Result, Store, on_pool};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct JobRow {
    pub id: i64,
    pub kind: String,
    pub target_kind: String,
    pub target_id: Option<i64>,
    pub target_name: String,
    pub study_id: Option<i64>,
    pub payload: String,
    pub state: String,
    pub attempts: i64,
    pub max_attempts: i64,
    pub requested_by: String,
    pub schedule_id: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub run_after: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub lease_owner: Option<String>,
    pub cancel_requested: bool,
    pub total: i64,
    pub done: i64,
    pub failed: i64,
    pub summary: String,
    pub log_bytes: i64,
    pub log_lines: i64,
}

const JOB_COLUMNS: &str = "id, kind, target_kind, target_id, target_name, study_id, payload, state, attempts,
    max_attempts, requested_by, schedule_id, created_at, run_after, started_at, finished_at, lease_owner,
    cancel_requested, total, done, failed, summary, log_bytes, log_lines";

/// A job's end, as [`Store::finish_jobs`] writes it.
#[derive(Debug, Clone)]
pub struct JobEnd {
    pub id: i64,
    pub owner: String,
    /// succeeded, failed or cancelled.
    pub state: String,
    pub summary: String,
    /// Its last log lines, and what they add to the log's size.
    pub lines: Vec<String>,
    pub bytes: i64,
}

pub struct NewJob<'a> {
    pub kind: &'a str,
    pub target_kind: &'a str,
    pub target_id: Option<i64>,
    pub target_name: &'a str,
    pub study_id: Option<i64>,
    pub payload: &'a str,
    pub max_attempts: i64,
    pub requested_by: &'a str,
    pub schedule_id: Option<i64>,
    pub run_after: DateTime<Utc>,
}

impl<'a> NewJob<'a> {
    /// A one-attempt job of `kind` over the whole fleet, with no payload, due at `run_after`.
    pub fn fleet_wide(kind: &'a str, requested_by: &'a str, run_after: DateTime<Utc>) -> Self {
        Self {
            kind,
            target_kind: "fleet",
            target_id: None,
            target_name: "all hosts",
            study_id: None,
            payload: "{}",
            max_attempts: 1,
            requested_by,
            schedule_id: None,
            run_after,
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct JobHostRow {
    pub host_id: i64,
    pub host_name: String,
    pub state: String,
    pub message: String,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LogLineRow {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub line: String,
}

/// Filters of the jobs list; `None` means any.
#[derive(Debug, Default)]
pub struct JobFilter<'a> {
    pub kind: Option<&'a str>,
    pub state: Option<&'a str>,
    pub study_id: Option<i64>,
    pub target: Option<&'a str>,
    pub since: Option<DateTime<Utc>>,
    /// Only jobs of these studies (plus fleet jobs when `fleet` is true); `None` for admins.
    pub visible_studies: Option<&'a [i64]>,
    pub limit: i64,
    pub offset: i64,
}

impl Store {
    pub async fn insert_job(&self, job: &NewJob<'_>, now: DateTime<Utc>) -> Result<i64> {
        Ok(on_pool!(self, pool => sqlx::query_scalar(
            "INSERT INTO jobs (kind, target_kind, target_id, target_name, study_id, payload, state, max_attempts,
               requested_by, schedule_id, created_at, run_after)
             VALUES ($1, $2, $3, $4, $5, $6, 'queued', $7, $8, $9, $10, $11) RETURNING id")
            .bind(job.kind).bind(job.target_kind).bind(job.target_id).bind(job.target_name).bind(job.study_id)
            .bind(job.payload).bind(job.max_attempts).bind(job.requested_by).bind(job.schedule_id).bind(now)
            .bind(job.run_after)
            .fetch_one(pool).await)?)
    }

    pub async fn job(&self, id: i64) -> Result<JobRow> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1");
        Ok(on_pool!(self, pool => sqlx::query_as::<_, JobRow>(&sql).bind(id).fetch_one(pool).await)?)
    }

    /// Claims up to `max` runnable jobs for `owner` until `lease_until`, in one statement:
    /// queued and due, oldest first, no study going over `study_limit` running jobs (counting
    /// those claimed together). Each job is claimed by one caller only: on Postgres other
    /// replicas skip the rows this statement locks. (The UPDATE names its rows by id alone:
    /// they are queued rows this statement holds, and SQLite would otherwise walk every
    /// queued job to find them.)
    pub async fn claim_jobs(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        study_limit: i64,
        max: i64,
    ) -> Result<Vec<JobRow>> {
        let lock = match self.kind() {
            BackendKind::Postgres => "FOR UPDATE SKIP LOCKED",
            // One process, and SQLite runs one writer at a time.
            BackendKind::Sqlite => "",
        };
        let sql = format!(
            "WITH candidates AS (
               SELECT j.id, j.study_id, j.run_after FROM jobs j
               WHERE j.state = 'queued' AND j.run_after <= $3
                 AND (j.study_id IS NULL OR
                      (SELECT COUNT(*) FROM jobs r WHERE r.state = 'running' AND r.study_id = j.study_id) < $4)
               ORDER BY j.run_after, j.id LIMIT $5 {lock}
             ), ranked AS (
               SELECT c.id, c.study_id,
                      ROW_NUMBER() OVER (PARTITION BY c.study_id ORDER BY c.run_after, c.id) AS nth
               FROM candidates c
             ), chosen AS (
               SELECT r.id FROM ranked r
               WHERE r.study_id IS NULL
                  OR r.nth + (SELECT COUNT(*) FROM jobs x WHERE x.state = 'running' AND x.study_id = r.study_id) <= $4
             )
             UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_owner = $1, lease_expires_at = $2,
               started_at = $3, finished_at = NULL
             WHERE id IN (SELECT id FROM chosen)
             RETURNING {JOB_COLUMNS}"
        );
        let _turn = self.write_turn().await;
        Ok(on_pool!(self, pool => sqlx::query_as::<_, JobRow>(&sql)
            .bind(owner).bind(lease_until).bind(now).bind(study_limit).bind(max)
            .fetch_all(pool).await)?)
    }

    /// Extends the leases of `owner`'s running jobs (and their host locks); returns the ids of
    /// those whose cancellation was asked for.
    pub async fn renew_leases(&self, owner: &str, lease_until: DateTime<Utc>) -> Result<Vec<(i64, bool)>> {
        Ok(on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let rows: Vec<(i64, bool)> = sqlx::query_as(
                "UPDATE jobs SET lease_expires_at = $2 WHERE lease_owner = $1 AND state = 'running'
                 RETURNING id, cancel_requested")
                .bind(owner).bind(lease_until).fetch_all(&mut *tx).await?;
            sqlx::query("UPDATE host_locks SET expires_at = $2 WHERE job_id IN
                 (SELECT id FROM jobs WHERE lease_owner = $1 AND state = 'running')")
                .bind(owner).bind(lease_until).execute(&mut *tx).await?;
            tx.commit().await?;
            rows
        }))
    }

    /// Ends running jobs held by their owners, each with its last log lines, in two
    /// statements whatever their number (jobs that end together are written together). For
    /// each: false when its lease was lost meanwhile (its lines are then dropped).
    pub async fn finish_jobs(&self, ends: &[JobEnd], now: DateTime<Utc>) -> Result<Vec<bool>> {
        if ends.is_empty() {
            return Ok(Vec::new());
        }
        let _turn = self.write_turn().await;
        Ok(on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            // Ended jobs and their new log lengths; a few hundred per statement keeps well
            // under either backend's limit on bound values.
            let mut done = std::collections::HashMap::<i64, i64>::with_capacity(ends.len());
            for chunk in ends.chunks(500) {
                let sql = self.finish_sql(chunk.len());
                let mut query = sqlx::query_as::<_, (i64, i64)>(&sql).bind(now);
                for end in chunk {
                    query = query.bind(end.id).bind(&end.owner).bind(&end.state).bind(&end.summary)
                        .bind(end.lines.len() as i64).bind(end.bytes);
                }
                done.extend(query.fetch_all(&mut *tx).await?);
            }
            // The lines of the jobs ended here, numbered after what each log had.
            let lines: Vec<(i64, i64, &String)> = ends
                .iter()
                .filter_map(|end| Some((end, *done.get(&end.id)?)))
                .flat_map(|(end, last)| {
                    let first = last - end.lines.len() as i64;
                    end.lines.iter().enumerate().map(move |(n, line)| (end.id, first + n as i64 + 1, line))
                })
                .collect();
            for chunk in lines.chunks(1000) {
                let sql = format!("INSERT INTO job_logs (job_id, seq, at, line) VALUES {}", self.value_rows(chunk.len(), 4, 1));
                let mut insert = sqlx::query(&sql);
                for (id, seq, line) in chunk {
                    insert = insert.bind(*id).bind(*seq).bind(now).bind(*line);
                }
                insert.execute(&mut *tx).await?;
            }
            tx.commit().await?;
            ends.iter().map(|end| done.contains_key(&end.id)).collect::<Vec<bool>>()
        }))
    }

    /// One statement ending `n` jobs: `$1` is the time, then six values per job.
    fn finish_sql(&self, n: usize) -> String {
        format!(
            "UPDATE jobs SET state = v.column3, summary = v.column4, finished_at = $1, lease_owner = NULL,
               lease_expires_at = NULL, log_lines = jobs.log_lines + v.column5, log_bytes = jobs.log_bytes + v.column6
             FROM (VALUES {}) AS v
             WHERE jobs.id = v.column1 AND jobs.lease_owner = v.column2 AND jobs.state = 'running'
             RETURNING jobs.id, jobs.log_lines",
            self.value_rows(n, 6, 2)
        )
    }

    /// Puts a failed attempt back in the queue until `run_after`.
    pub async fn retry_job(&self, id: i64, owner: &str, summary: &str, run_after: DateTime<Utc>) -> Result<bool> {
        let n = on_pool!(self, pool => sqlx::query(
            "UPDATE jobs SET state = 'queued', summary = $3, run_after = $4, lease_owner = NULL, lease_expires_at = NULL
             WHERE id = $1 AND lease_owner = $2 AND state = 'running'")
            .bind(id).bind(owner).bind(summary).bind(run_after)
            .execute(pool).await.map(|d| d.rows_affected()))?;
        Ok(n == 1)
    }

    /// Marks running jobs whose lease ran out (their process died) as interrupted; with
    /// `all_running`, every running job (one-process SQLite at start-up). Returns them.
    pub async fn interrupt_abandoned(&self, now: DateTime<Utc>, all_running: bool) -> Result<Vec<JobRow>> {
        let sql = format!(
            "UPDATE jobs SET state = 'interrupted', finished_at = $1, lease_owner = NULL, lease_expires_at = NULL,
               summary = 'interrupted: the Steward process running it stopped'
             WHERE state = 'running' AND ($2 OR lease_expires_at < $1)
             RETURNING {JOB_COLUMNS}"
        );
        Ok(on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let rows = sqlx::query_as::<_, JobRow>(&sql).bind(now).bind(all_running).fetch_all(&mut *tx).await?;
            for row in &rows {
                sqlx::query("DELETE FROM host_locks WHERE job_id = $1").bind(row.id).execute(&mut *tx).await?;
                // Its hosts stopped with it: none may look as if it were still running.
                sqlx::query(
                    "UPDATE job_hosts SET state = 'interrupted', finished_at = $2,
                        message = 'interrupted: the Steward process running it stopped'
                     WHERE job_id = $1 AND state IN ('running', 'queued', 'pending')")
                    .bind(row.id).bind(now).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            rows
        }))
    }

    /// Asks a job to stop; a queued one is cancelled at once. Returns its state afterwards.
    pub async fn cancel_job(&self, id: i64, now: DateTime<Utc>) -> Result<String> {
        Ok(on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query("UPDATE jobs SET cancel_requested = TRUE WHERE id = $1 AND state IN ('queued', 'running')")
                .bind(id).execute(&mut *tx).await?;
            sqlx::query("UPDATE jobs SET state = 'cancelled', finished_at = $2, summary = 'cancelled before it started'
                 WHERE id = $1 AND state = 'queued'")
                .bind(id).bind(now).execute(&mut *tx).await?;
            let state: String = sqlx::query_scalar("SELECT state FROM jobs WHERE id = $1").bind(id).fetch_one(&mut *tx).await?;
            tx.commit().await?;
            state
        }))
    }

    pub async fn set_job_progress(&self, id: i64, total: i64, done: i64, failed: i64) -> Result<()> {
        on_pool!(self, pool => sqlx::query("UPDATE jobs SET total = $2, done = $3, failed = $4 WHERE id = $1")
            .bind(id).bind(total).bind(done).bind(failed).execute(pool).await.map(|d| d.rows_affected()))?;
        Ok(())
    }

    pub async fn set_job_host(
        &self,
        job_id: i64,
        host_id: i64,
        host_name: &str,
        state: &str,
        message: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let finished = matches!(state, "succeeded" | "failed" | "skipped" | "cancelled").then_some(now);
        let started = (state == "running").then_some(now);
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO job_hosts (job_id, host_id, host_name, state, message, started_at, finished_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (job_id, host_id) DO UPDATE SET state = $4, message = $5,
               started_at = COALESCE(job_hosts.started_at, $6), finished_at = $7")
            .bind(job_id).bind(host_id).bind(host_name).bind(state).bind(message).bind(started).bind(finished)
            .execute(pool).await.map(|d| d.rows_affected()))?;
        Ok(())
    }

    pub async fn job_hosts(&self, job_id: i64) -> Result<Vec<JobHostRow>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, JobHostRow>(
            "SELECT host_id, host_name, state, message, started_at, finished_at FROM job_hosts
             WHERE job_id = $1 ORDER BY host_name")
            .bind(job_id).fetch_all(pool).await)?)
    }

    /// Appends lines after the job's last one; `bytes` is what they add to the log's size.
    pub async fn append_job_log(&self, job_id: i64, lines: &[String], bytes: i64, now: DateTime<Utc>) -> Result<()> {
        if lines.is_empty() {
            return Ok(());
        }
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            // The write comes first, so on SQLite the transaction takes the write lock at once
            // (waiting its turn) instead of failing to upgrade a read snapshot under load.
            let count = lines.len() as i64;
            let last: i64 = sqlx::query_scalar(
                "UPDATE jobs SET log_lines = log_lines + $2, log_bytes = log_bytes + $3 WHERE id = $1 RETURNING log_lines")
                .bind(job_id).bind(count).bind(bytes).fetch_one(&mut *tx).await?;
            let first = last - count;
            for (n, line) in lines.iter().enumerate() {
                sqlx::query("INSERT INTO job_logs (job_id, seq, at, line) VALUES ($1, $2, $3, $4)")
                    .bind(job_id).bind(first + n as i64 + 1).bind(now).bind(line).execute(&mut *tx).await?;
            }
            tx.commit().await
        })?;
        Ok(())
    }

    /// Log lines after `after_seq`, at most `limit`.
    pub async fn job_log(&self, job_id: i64, after_seq: i64, limit: i64) -> Result<Vec<LogLineRow>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, LogLineRow>(
            "SELECT seq, at, line FROM job_logs WHERE job_id = $1 AND seq > $2 ORDER BY seq LIMIT $3")
            .bind(job_id).bind(after_seq).bind(limit).fetch_all(pool).await)?)
    }

    pub async fn list_jobs(&self, filter: &JobFilter<'_>) -> Result<(Vec<JobRow>, i64)> {
        let mut clauses = vec!["1 = 1".to_owned()];
        if let Some(studies) = filter.visible_studies {
            let list: Vec<String> = studies.iter().map(i64::to_string).collect();
            clauses.push(if list.is_empty() {
                "1 = 0".to_owned()
            } else {
                format!("study_id IN ({})", list.join(", "))
            });
        }
        if let Some(study) = filter.study_id {
            clauses.push(format!("study_id = {study}"));
        }
        // Text filters are bound: $1 kind, $2 state, $3 target, $4 since.
        clauses.push("($1 = '' OR kind = $1)".into());
        clauses.push("($2 = '' OR state = $2)".into());
        clauses.push("($3 = '' OR target_name = $3)".into());
        clauses.push("created_at >= $4".into());
        let filter_sql = clauses.join(" AND ");
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE {filter_sql} ORDER BY id DESC LIMIT {} OFFSET {}",
            filter.limit, filter.offset
        );
        let count_sql = format!("SELECT COUNT(*) FROM jobs WHERE {filter_sql}");
        let since = filter.since.unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
        let (kind, state, target) =
            (filter.kind.unwrap_or_default(), filter.state.unwrap_or_default(), filter.target.unwrap_or_default());
        Ok(on_pool!(self, pool => {
            let rows = sqlx::query_as::<_, JobRow>(&sql)
                .bind(kind).bind(state).bind(target).bind(since).fetch_all(pool).await?;
            let total: i64 = sqlx::query_scalar(&count_sql)
                .bind(kind).bind(state).bind(target).bind(since).fetch_one(pool).await?;
            (rows, total)
        }))
    }

    /// Takes the host's lock for a job that changes it; false while another job holds it.
    pub async fn lock_host(&self, host_id: i64, job_id: i64, until: DateTime<Utc>, now: DateTime<Utc>) -> Result<bool> {
        let n = on_pool!(self, pool => sqlx::query(
            "INSERT INTO host_locks (host_id, job_id, expires_at) VALUES ($1, $2, $3)
             ON CONFLICT (host_id) DO UPDATE SET job_id = $2, expires_at = $3
             WHERE host_locks.expires_at < $4 OR host_locks.job_id = $2")
            .bind(host_id).bind(job_id).bind(until).bind(now)
            .execute(pool).await.map(|d| d.rows_affected()))?;
        Ok(n == 1)
    }

    pub async fn unlock_host(&self, host_id: i64, job_id: i64) -> Result<()> {
        on_pool!(self, pool => sqlx::query("DELETE FROM host_locks WHERE host_id = $1 AND job_id = $2")
            .bind(host_id).bind(job_id).execute(pool).await.map(|d| d.rows_affected()))?;
        Ok(())
    }

    /// The last finished (succeeded or failed) job of each kind and target among `kinds`,
    /// finished since `since`.
    pub async fn latest_job_outcomes(&self, kinds: &[&str], since: DateTime<Utc>) -> Result<Vec<JobRow>> {
        if kinds.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders: Vec<String> = (2..kinds.len() + 2).map(|n| format!("${n}")).collect();
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE id IN (
                SELECT MAX(id) FROM jobs
                WHERE state IN ('succeeded', 'failed') AND finished_at >= $1 AND kind IN ({})
                GROUP BY kind, target_kind, target_id)",
            placeholders.join(", ")
        );
        Ok(on_pool!(self, pool => {
            let mut query = sqlx::query_as::<_, JobRow>(&sql).bind(since);
            for kind in kinds {
                query = query.bind(*kind);
            }
            query.fetch_all(pool).await
        })?)
    }

    /// The last recorded due time of each schedule since `since`: (schedule, name, study,
    /// outcome, due time).
    pub async fn latest_schedule_runs(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<(i64, String, Option<i64>, String, DateTime<Utc>)>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, (i64, String, Option<i64>, String, DateTime<Utc>)>(
            "SELECT s.id, s.name, s.study_id, r.outcome, r.due_at
             FROM schedule_runs r JOIN schedules s ON s.id = r.schedule_id
             WHERE r.due_at >= $1
               AND r.due_at = (SELECT MAX(due_at) FROM schedule_runs WHERE schedule_id = r.schedule_id)")
            .bind(since).fetch_all(pool).await)?)
    }
}
