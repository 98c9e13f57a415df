//! Users, one-time links (setup and set-password) and login throttling.

use chrono::{DateTime, Utc};

use super::{BeginWrite, Result, Store, StoreError, on_pool};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    pub password_hash: Option<String>,
    pub role: String,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct NewUser<'a> {
    pub username: &'a str,
    pub display_name: &'a str,
    pub email: Option<&'a str>,
    pub password_hash: Option<&'a str>,
    pub role: &'a str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPurpose {
    /// Creates the first admin; valid only while there are no users.
    Setup,
    /// Sets the password of one user (new account or reset).
    Password,
}

impl TokenPurpose {
    fn as_str(self) -> &'static str {
        match self {
            Self::Setup => "setup",
            Self::Password => "password",
        }
    }
}

const USER_COLUMNS: &str =
    "id, username, display_name, email, password_hash, role, disabled, created_at, last_login_at";

impl Store {
    pub async fn count_users(&self) -> Result<i64> {
        let count: i64 =
            on_pool!(self, pool => sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(pool).await)?;
        Ok(count)
    }

    pub async fn insert_user(&self, user: &NewUser<'_>, now: DateTime<Utc>) -> Result<UserRow> {
        let sql = format!(
            "INSERT INTO users (username, display_name, email, password_hash, role, disabled, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, FALSE, $6, $6) RETURNING {USER_COLUMNS}"
        );
        let row = on_pool!(self, pool => sqlx::query_as::<_, UserRow>(&sql)
            .bind(user.username)
            .bind(user.display_name)
            .bind(user.email)
            .bind(user.password_hash)
            .bind(user.role)
            .bind(now)
            .fetch_one(pool)
            .await)?;
        Ok(row)
    }

    pub async fn user_by_id(&self, id: i64) -> Result<UserRow> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        Ok(on_pool!(self, pool => sqlx::query_as::<_, UserRow>(&sql).bind(id).fetch_one(pool).await)?)
    }

    pub async fn user_by_name(&self, username: &str) -> Result<Option<UserRow>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE username = $1");
        Ok(on_pool!(self, pool => sqlx::query_as::<_, UserRow>(&sql).bind(username).fetch_optional(pool).await)?)
    }

    pub async fn list_users(&self) -> Result<Vec<UserRow>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users ORDER BY username");
        Ok(on_pool!(self, pool => sqlx::query_as::<_, UserRow>(&sql).fetch_all(pool).await)?)
    }

    pub async fn count_active_admins(&self) -> Result<i64> {
        let count: i64 = on_pool!(self, pool => sqlx::query_scalar(
            "SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled = FALSE")
            .fetch_one(pool).await)?;
        Ok(count)
    }

    pub async fn set_password_hash(&self, id: i64, hash: &str, now: DateTime<Utc>) -> Result<()> {
        let done = on_pool!(self, pool => sqlx::query(
            "UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
            .bind(hash).bind(now).bind(id).execute(pool).await.map(|done| done.rows_affected()))?;
        found(done)
    }

    pub async fn set_role(&self, id: i64, role: &str, now: DateTime<Utc>) -> Result<()> {
        let done = on_pool!(self, pool => sqlx::query("UPDATE users SET role = $1, updated_at = $2 WHERE id = $3")
            .bind(role).bind(now).bind(id).execute(pool).await.map(|done| done.rows_affected()))?;
        found(done)
    }

    pub async fn set_disabled(&self, id: i64, disabled: bool, now: DateTime<Utc>) -> Result<()> {
        let done = on_pool!(self, pool => sqlx::query("UPDATE users SET disabled = $1, updated_at = $2 WHERE id = $3")
            .bind(disabled).bind(now).bind(id).execute(pool).await.map(|done| done.rows_affected()))?;
        found(done)
    }

    pub async fn touch_login(&self, id: i64, now: DateTime<Utc>) -> Result<()> {
        on_pool!(self, pool => sqlx::query("UPDATE users SET last_login_at = $1 WHERE id = $2")
            .bind(now).bind(id).execute(pool).await.map(|done| done.rows_affected()))?;
        Ok(())
    }

    /// Stores a one-time link; earlier unused links of the same purpose and user stop working.
    pub async fn insert_token(
        &self,
        purpose: TokenPurpose,
        token_hash: &str,
        user_id: Option<i64>,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<()> {
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query(
                "DELETE FROM one_time_tokens WHERE purpose = $1 AND used_at IS NULL
                 AND (user_id = $2 OR (user_id IS NULL AND $2 IS NULL))")
                .bind(purpose.as_str()).bind(user_id).execute(&mut *tx).await?;
            sqlx::query(
                "INSERT INTO one_time_tokens (purpose, token_hash, user_id, created_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5)")
                .bind(purpose.as_str()).bind(token_hash).bind(user_id).bind(now).bind(expires_at)
                .execute(&mut *tx).await?;
            tx.commit().await
        })?;
        Ok(())
    }

    /// Marks a link used if it is valid now; returns the user it belongs to (`None` for setup).
    /// Exactly one caller can consume a link, however many race for it.
    pub async fn consume_token(
        &self,
        purpose: TokenPurpose,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<i64>> {
        let row: Option<(Option<i64>,)> = on_pool!(self, pool => sqlx::query_as(
            "UPDATE one_time_tokens SET used_at = $1
             WHERE purpose = $2 AND token_hash = $3 AND used_at IS NULL AND expires_at > $1
             RETURNING user_id")
            .bind(now).bind(purpose.as_str()).bind(token_hash).fetch_optional(pool).await)?;
        row.map(|(user,)| user).ok_or(StoreError::NotFound)
    }

    /// The user a valid, unused link belongs to, without using it up.
    pub async fn peek_token(&self, purpose: TokenPurpose, token_hash: &str, now: DateTime<Utc>) -> Result<Option<i64>> {
        let row: Option<(Option<i64>,)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT user_id FROM one_time_tokens
             WHERE purpose = $1 AND token_hash = $2 AND used_at IS NULL AND expires_at > $3")
            .bind(purpose.as_str()).bind(token_hash).bind(now).fetch_optional(pool).await)?;
        row.map(|(user,)| user).ok_or(StoreError::NotFound)
    }

    /// Counts an attempt on a throttle key *before* its password is checked, in one statement,
    /// so concurrent attempts cannot all slip through. A key that is still waiting is refused
    /// without counting.
    pub async fn reserve_attempt(&self, key: &str, now: i64, rule: &ThrottleRule) -> Result<Attempt> {
        // `failures` after this attempt: a fresh count once the last failure is forgotten.
        const FAILURES: &str =
            "CASE WHEN login_throttle.last_failure_at < $3 THEN 1 ELSE login_throttle.failures + 1 END";
        let sql = format!(
            "INSERT INTO login_throttle (key, failures, last_failure_at, blocked_until) VALUES ($1, 1, $2, 0)
             ON CONFLICT (key) DO UPDATE SET
                 failures = {FAILURES},
                 last_failure_at = $2,
                 blocked_until = $2 + CASE WHEN {FAILURES} < $4 THEN 0
                                           WHEN ({FAILURES} - $4 + 1) * $5 > $6 THEN $6
                                           ELSE ({FAILURES} - $4 + 1) * $5 END
             WHERE login_throttle.blocked_until <= $2
             RETURNING failures"
        );
        let forget_before = now - rule.memory_secs;
        let counted: Option<(i64,)> = on_pool!(self, pool => sqlx::query_as(&sql)
            .bind(key).bind(now).bind(forget_before).bind(rule.allowed).bind(rule.step_secs).bind(rule.max_delay_secs)
            .fetch_optional(pool).await)?;
        if let Some((failures,)) = counted {
            return Ok(Attempt::Counted(failures));
        }
        let until: Option<(i64,)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT blocked_until FROM login_throttle WHERE key = $1").bind(key).fetch_optional(pool).await)?;
        Ok(Attempt::Waiting { until: until.map_or(now + 1, |(until,)| until) })
    }

    /// Forgets throttle counters that no longer hold anything back.
    pub async fn prune_throttle(&self, now: i64, memory_secs: i64) -> Result<u64> {
        Ok(on_pool!(self, pool => sqlx::query(
            "DELETE FROM login_throttle WHERE last_failure_at < $1 AND blocked_until <= $2")
            .bind(now - memory_secs).bind(now).execute(pool).await.map(|done| done.rows_affected()))?)
    }

    pub async fn clear_throttle(&self, key: &str) -> Result<()> {
        on_pool!(self, pool => sqlx::query("DELETE FROM login_throttle WHERE key = $1").bind(key).execute(pool).await.map(|done| done.rows_affected()))?;
        Ok(())
    }
}

/// How attempts on one kind of throttle key are slowed down: `allowed` attempts within
/// `memory_secs` of each other go through; from then on each waits `step_secs` longer than the
/// one before, up to `max_delay_secs`.
#[derive(Debug, Clone, Copy)]
pub struct ThrottleRule {
    pub allowed: i64,
    pub step_secs: i64,
    pub max_delay_secs: i64,
    pub memory_secs: i64,
}

/// The outcome of [`Store::reserve_attempt`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// Counted: attempts within the memory, this one included.
    Counted(i64),
    /// Refused until this Unix second.
    Waiting { until: i64 },
}

fn found(rows: u64) -> Result<()> {
    if rows == 0 { Err(StoreError::NotFound) } else { Ok(()) }
}
