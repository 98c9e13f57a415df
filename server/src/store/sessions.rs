//! Login sessions. Rows are keyed by a hash of the session id, so a copy of the database does
//! not hold usable session cookies.

use chrono::{DateTime, Utc};

use super::{Result, Store, on_pool};

impl Store {
    /// Inserts a new session; false if the id is taken (the caller picks another).
    pub async fn insert_session(
        &self,
        id_hash: &str,
        user_id: Option<i64>,
        data: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<bool> {
        let done = on_pool!(self, pool => sqlx::query(
            "INSERT INTO sessions (id_hash, user_id, data, expires_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (id_hash) DO NOTHING")
            .bind(id_hash).bind(user_id).bind(data).bind(expires_at).execute(pool).await.map(|done| done.rows_affected()))?;
        Ok(done == 1)
    }

    pub async fn upsert_session(
        &self,
        id_hash: &str,
        user_id: Option<i64>,
        data: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<()> {
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO sessions (id_hash, user_id, data, expires_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (id_hash) DO UPDATE SET user_id = $2, data = $3, expires_at = $4")
            .bind(id_hash).bind(user_id).bind(data).bind(expires_at).execute(pool).await.map(|done| done.rows_affected()))?;
        Ok(())
    }

    /// The session's data and expiry, if it exists and has not expired.
    pub async fn load_session(&self, id_hash: &str, now: DateTime<Utc>) -> Result<Option<(String, DateTime<Utc>)>> {
        Ok(on_pool!(self, pool => sqlx::query_as(
            "SELECT data, expires_at FROM sessions WHERE id_hash = $1 AND expires_at > $2")
            .bind(id_hash).bind(now).fetch_optional(pool).await)?)
    }

    pub async fn delete_session(&self, id_hash: &str) -> Result<()> {
        on_pool!(self, pool => sqlx::query("DELETE FROM sessions WHERE id_hash = $1").bind(id_hash).execute(pool).await.map(|done| done.rows_affected()))?;
        Ok(())
    }

    /// Ends every session of a user (password changed, account disabled).
    pub async fn delete_user_sessions(&self, user_id: i64) -> Result<u64> {
        let done = on_pool!(self, pool => sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user_id).execute(pool).await.map(|done| done.rows_affected()))?;
        Ok(done)
    }

    pub async fn delete_expired_sessions(&self, now: DateTime<Utc>) -> Result<u64> {
        let done = on_pool!(self, pool => sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now).execute(pool).await.map(|done| done.rows_affected()))?;
        Ok(done)
    }
}
