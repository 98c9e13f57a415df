//! Config revisions (immutable, numbered per instance) and what was last pushed to each host.

use chrono::{DateTime, Utc};

use super::{BeginWrite, Result, Store, on_pool};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RevisionRow {
    pub id: i64,
    pub instance_id: i64,
    pub number: i64,
    pub stack: String,
    pub settings: String,
    pub message: String,
    pub author: String,
    pub created_at: DateTime<Utc>,
}

const REVISION: &str = "id, instance_id, number, stack, settings, message, author, created_at";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HostConfigRow {
    pub host_id: i64,
    pub host_name: String,
    pub revision_id: Option<i64>,
    pub revision_number: Option<i64>,
    pub pushed_at: Option<DateTime<Utc>>,
    pub drift: Option<String>,
    pub drift_files: Option<String>,
    pub checked_at: Option<DateTime<Utc>>,
}

const HOST_CONFIG: &str =
    "SELECT h.id AS host_id, h.name AS host_name, c.revision_id, r.number AS revision_number, c.pushed_at,
            c.drift, c.drift_files, c.checked_at
     FROM hosts h
     LEFT JOIN host_configs c ON c.host_id = h.id
     LEFT JOIN config_revisions r ON r.id = c.revision_id";

impl Store {
    /// Adds the next revision of an instance's settings. Two saves racing for the same number
    /// end in a conflict for the later one, never in a lost revision.
    pub async fn insert_revision(
        &self,
        instance_id: i64,
        stack: &str,
        settings: &str,
        message: &str,
        author: &str,
        now: DateTime<Utc>,
    ) -> Result<RevisionRow> {
        let sql = format!(
            "INSERT INTO config_revisions (instance_id, number, stack, settings, message, author, created_at)
             VALUES ($1, (SELECT COALESCE(MAX(number), 0) + 1 FROM config_revisions WHERE instance_id = $1),
                     $2, $3, $4, $5, $6)
             RETURNING {REVISION}"
        );
        Ok(on_pool!(self, pool => sqlx::query_as::<_, RevisionRow>(&sql)
            .bind(instance_id).bind(stack).bind(settings).bind(message).bind(author).bind(now)
            .fetch_one(pool).await)?)
    }

    /// Newest first.
    pub async fn revisions(&self, instance_id: i64) -> Result<Vec<RevisionRow>> {
        let sql = format!("SELECT {REVISION} FROM config_revisions WHERE instance_id = $1 ORDER BY number DESC");
        Ok(on_pool!(self, pool => sqlx::query_as::<_, RevisionRow>(&sql).bind(instance_id).fetch_all(pool).await)?)
    }

    pub async fn revision(&self, id: i64) -> Result<RevisionRow> {
        let sql = format!("SELECT {REVISION} FROM config_revisions WHERE id = $1");
        Ok(on_pool!(self, pool => sqlx::query_as::<_, RevisionRow>(&sql).bind(id).fetch_one(pool).await)?)
    }

    pub async fn latest_revision(&self, instance_id: i64) -> Result<Option<RevisionRow>> {
        let sql =
            format!("SELECT {REVISION} FROM config_revisions WHERE instance_id = $1 ORDER BY number DESC LIMIT 1");
        Ok(on_pool!(self, pool => sqlx::query_as::<_, RevisionRow>(&sql).bind(instance_id).fetch_optional(pool).await)?)
    }

    /// Records a finished push to a host: its revision and the files with their checksums.
    pub async fn record_push(
        &self,
        host_id: i64,
        revision_id: i64,
        job_id: i64,
        files: &[(String, String)],
        now: DateTime<Utc>,
    ) -> Result<()> {
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query(
                "INSERT INTO host_configs (host_id, revision_id, job_id, pushed_at, drift, drift_files, checked_at)
                 VALUES ($1, $2, $3, $4, 'in-sync', '[]', $4)
                 ON CONFLICT (host_id) DO UPDATE SET revision_id = $2, job_id = $3, pushed_at = $4,
                     drift = 'in-sync', drift_files = '[]', checked_at = $4")
                .bind(host_id).bind(revision_id).bind(job_id).bind(now).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM host_config_files WHERE host_id = $1").bind(host_id).execute(&mut *tx).await?;
            for (path, sha256) in files {
                sqlx::query("INSERT INTO host_config_files (host_id, path, sha256) VALUES ($1, $2, $3)")
                    .bind(host_id).bind(path).bind(sha256).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok::<_, sqlx::Error>(())
        })?;
        Ok(())
    }

    /// The files of the last push to a host, by path.
    pub async fn pushed_files(&self, host_id: i64) -> Result<Vec<(String, String)>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, (String, String)>(
            "SELECT path, sha256 FROM host_config_files WHERE host_id = $1 ORDER BY path")
            .bind(host_id).fetch_all(pool).await)?)
    }

    pub async fn set_drift(&self, host_id: i64, drift: &str, files_json: &str, now: DateTime<Utc>) -> Result<()> {
        on_pool!(self, pool => sqlx::query(
            "UPDATE host_configs SET drift = $2, drift_files = $3, checked_at = $4 WHERE host_id = $1")
            .bind(host_id).bind(drift).bind(files_json).bind(now).execute(pool).await.map(drop))?;
        Ok(())
    }

    /// Every host of an instance with what was last pushed to it (nothing yet: `None`s).
    pub async fn host_configs(&self, instance_id: i64) -> Result<Vec<HostConfigRow>> {
        let sql = format!("{HOST_CONFIG} WHERE h.instance_id = $1 ORDER BY h.name");
        Ok(on_pool!(self, pool => sqlx::query_as::<_, HostConfigRow>(&sql).bind(instance_id).fetch_all(pool).await)?)
    }

    /// What was last pushed to one host.
    pub async fn host_config(&self, host_id: i64) -> Result<HostConfigRow> {
        let sql = format!("{HOST_CONFIG} WHERE h.id = $1");
        Ok(on_pool!(self, pool => sqlx::query_as::<_, HostConfigRow>(&sql).bind(host_id).fetch_one(pool).await)?)
    }
}
