//! Host keys as scanned and pinned, and each host's key status.

use chrono::{DateTime, Utc};

use super::{BeginWrite, Result, Store, on_pool};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HostKeyRow {
    pub id: i64,
    pub algorithm: String,
    pub public_key: String,
    pub fingerprint: String,
    pub pinned: bool,
}

impl Store {
    /// Records a key a scan found; a key seen before keeps its pinned state.
    pub async fn offer_host_key(
        &self,
        host_id: i64,
        algorithm: &str,
        public_key: &str,
        fingerprint: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO host_keys (host_id, algorithm, public_key, fingerprint, pinned, seen_at) VALUES ($1, $2, $3, $4, FALSE, $5)
             ON CONFLICT (host_id, public_key) DO UPDATE SET seen_at = $5")
            .bind(host_id).bind(algorithm).bind(public_key).bind(fingerprint).bind(now)
            .execute(pool).await.map(|d| d.rows_affected()))?;
        Ok(())
    }

    pub async fn host_keys(&self, host_id: i64) -> Result<Vec<HostKeyRow>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, HostKeyRow>(
            "SELECT id, algorithm, public_key, fingerprint, pinned FROM host_keys WHERE host_id = $1 ORDER BY algorithm")
            .bind(host_id).fetch_all(pool).await)?)
    }

    /// Pins the offered key with this fingerprint and unpins every other key of the host.
    /// Returns false when no offered key has that fingerprint.
    pub async fn pin_host_key(&self, host_id: i64, fingerprint: &str, by: &str, now: DateTime<Utc>) -> Result<bool> {
        Ok(on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let found = sqlx::query("UPDATE host_keys SET pinned = TRUE, pinned_at = $1, pinned_by = $2 WHERE host_id = $3 AND fingerprint = $4")
                .bind(now).bind(by).bind(host_id).bind(fingerprint).execute(&mut *tx).await?.rows_affected();
            if found > 0 {
                sqlx::query("UPDATE host_keys SET pinned = FALSE, pinned_at = NULL, pinned_by = NULL WHERE host_id = $1 AND fingerprint <> $2")
                    .bind(host_id).bind(fingerprint).execute(&mut *tx).await?;
                sqlx::query("UPDATE hosts SET host_key_status = 'pinned' WHERE id = $1").bind(host_id).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            found > 0
        }))
    }

    pub async fn set_host_key_status(&self, host_id: i64, status: &str) -> Result<()> {
        on_pool!(self, pool => sqlx::query("UPDATE hosts SET host_key_status = $1 WHERE id = $2")
            .bind(status).bind(host_id).execute(pool).await.map(|d| d.rows_affected()))?;
        Ok(())
    }

    pub async fn host_key_status(&self, host_id: i64) -> Result<String> {
        Ok(on_pool!(self, pool => sqlx::query_scalar("SELECT host_key_status FROM hosts WHERE id = $1")
            .bind(host_id).fetch_one(pool).await)?)
    }
}
