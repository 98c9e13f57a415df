//! On-call rotas, their members and overrides, and the escalation state of alerts.

use chrono::{DateTime, Utc};

use super::{BeginWrite, Result, Store, on_pool};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RotaRow {
    pub id: i64,
    pub study_id: Option<i64>,
    pub timezone: String,
    pub starts_on: String,
    pub handoff_hour: i64,
    pub escalate_after_minutes: i64,
    pub renotify_minutes: i64,
}

/// A person in a rota or an override: id, username, display name, email.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RotaPerson {
    pub user_id: i64,
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OverrideRow {
    pub id: i64,
    pub user_id: i64,
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    pub role: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub note: String,
}

pub struct RotaFields<'a> {
    pub timezone: &'a str,
    pub starts_on: &'a str,
    pub handoff_hour: i64,
    pub escalate_after_minutes: i64,
    pub renotify_minutes: i64,
}

const ROTA: &str = "id, study_id, timezone, starts_on, handoff_hour, escalate_after_minutes, renotify_minutes";

impl Store {
    /// The rota of a study (`None`: the global one), if it has been set up.
    pub async fn rota(&self, study_id: Option<i64>) -> Result<Option<RotaRow>> {
        let sql = format!("SELECT {ROTA} FROM rotas WHERE COALESCE(study_id, 0) = $1");
        Ok(on_pool!(self, pool => sqlx::query_as::<_, RotaRow>(&sql)
            .bind(study_id.unwrap_or(0)).fetch_optional(pool).await)?)
    }

    /// Creates or replaces a rota's settings and members (user ids in turn order).
    pub async fn save_rota(
        &self,
        study_id: Option<i64>,
        fields: &RotaFields<'_>,
        members: &[i64],
        now: DateTime<Utc>,
    ) -> Result<i64> {
        Ok(on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let existing: Option<i64> = sqlx::query_scalar("SELECT id FROM rotas WHERE COALESCE(study_id, 0) = $1")
                .bind(study_id.unwrap_or(0)).fetch_optional(&mut *tx).await?;
            let id = match existing {
                Some(id) => {
                    sqlx::query("UPDATE rotas SET timezone = $2, starts_on = $3, handoff_hour = $4,
                                 escalate_after_minutes = $5, renotify_minutes = $6, updated_at = $7 WHERE id = $1")
                        .bind(id).bind(fields.timezone).bind(fields.starts_on).bind(fields.handoff_hour)
                        .bind(fields.escalate_after_minutes).bind(fields.renotify_minutes).bind(now)
                        .execute(&mut *tx).await?;
                    id
                }
                None => sqlx::query_scalar(
                    "INSERT INTO rotas (study_id, timezone, starts_on, handoff_hour, escalate_after_minutes,
                                        renotify_minutes, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id")
                    .bind(study_id).bind(fields.timezone).bind(fields.starts_on).bind(fields.handoff_hour)
                    .bind(fields.escalate_after_minutes).bind(fields.renotify_minutes).bind(now)
                    .fetch_one(&mut *tx).await?,
            };
            sqlx::query("DELETE FROM rota_members WHERE rota_id = $1").bind(id).execute(&mut *tx).await?;
            for (position, user) in members.iter().enumerate() {
                sqlx::query("INSERT INTO rota_members (rota_id, position, user_id) VALUES ($1, $2, $3)")
                    .bind(id).bind(position as i64).bind(*user).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok::<_, sqlx::Error>(id)
        })?)
    }

    /// A rota's members in turn order (disabled users left out).
    pub async fn rota_members(&self, rota_id: i64) -> Result<Vec<RotaPerson>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, RotaPerson>(
            "SELECT u.id AS user_id, u.username, u.display_name, u.email FROM rota_members m
             JOIN users u ON u.id = m.user_id WHERE m.rota_id = $1 AND u.disabled = FALSE ORDER BY m.position")
            .bind(rota_id).fetch_all(pool).await)?)
    }

    /// Overrides that have not ended by `since`, soonest first.
    pub async fn rota_overrides(&self, rota_id: i64, since: DateTime<Utc>) -> Result<Vec<OverrideRow>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, OverrideRow>(
            "SELECT o.id, o.user_id, u.username, u.display_name, u.email, o.role, o.starts_at, o.ends_at, o.note
             FROM rota_overrides o JOIN users u ON u.id = o.user_id
             WHERE o.rota_id = $1 AND o.ends_at > $2 ORDER BY o.starts_at, o.id")
            .bind(rota_id).bind(since).fetch_all(pool).await)?)
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn insert_override(
        &self,
        rota_id: i64,
        user_id: i64,
        role: &str,
        starts_at: DateTime<Utc>,
        ends_at: DateTime<Utc>,
        note: &str,
    ) -> Result<i64> {
        Ok(on_pool!(self, pool => sqlx::query_scalar(
            "INSERT INTO rota_overrides (rota_id, user_id, role, starts_at, ends_at, note)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id")
            .bind(rota_id).bind(user_id).bind(role).bind(starts_at).bind(ends_at).bind(note)
            .fetch_one(pool).await)?)
    }

    /// Deletes an override of that rota; false when there was none.
    pub async fn delete_override(&self, rota_id: i64, id: i64) -> Result<bool> {
        let n = on_pool!(self, pool => sqlx::query("DELETE FROM rota_overrides WHERE id = $1 AND rota_id = $2")
            .bind(id).bind(rota_id).execute(pool).await.map(|d| d.rows_affected()))?;
        Ok(n == 1)
    }

    /// Open (unacknowledged) alerts with their escalation state: (id, study, level, opened, notified).
    pub async fn alerts_to_escalate(
        &self,
    ) -> Result<Vec<(i64, Option<i64>, i64, DateTime<Utc>, Option<DateTime<Utc>>)>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, (i64, Option<i64>, i64, DateTime<Utc>, Option<DateTime<Utc>>)>(
            "SELECT id, study_id, escalation_level, opened_at, notified_at FROM alerts WHERE state = 'open' ORDER BY id")
            .fetch_all(pool).await)?)
    }

    /// Records who was told: the level reached and when.
    pub async fn set_alert_notified(&self, id: i64, level: i64, now: DateTime<Utc>) -> Result<()> {
        on_pool!(self, pool => sqlx::query("UPDATE alerts SET escalation_level = $2, notified_at = $3 WHERE id = $1")
            .bind(id).bind(level).bind(now).execute(pool).await.map(drop))?;
        Ok(())
    }

    /// Whether an alert for this rule and target was resolved since `since` (it is flapping).
    pub async fn resolved_since(&self, rule: &str, target_key: &str, since: DateTime<Utc>) -> Result<bool> {
        let count: i64 = on_pool!(self, pool => sqlx::query_scalar(
            "SELECT COUNT(*) FROM alerts WHERE rule = $1 AND target_key = $2 AND state = 'resolved' AND resolved_at >= $3")
            .bind(rule).bind(target_key).bind(since).fetch_one(pool).await)?;
        Ok(count > 0)
    }

    /// A user by name: (id, role in the study if any).
    pub async fn user_for_rota(&self, username: &str, study_id: Option<i64>) -> Result<Option<(i64, Option<String>)>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, (i64, Option<String>)>(
            "SELECT u.id, (SELECT m.role FROM study_members m WHERE m.user_id = u.id AND m.study_id = $2)
             FROM users u WHERE u.username = $1 AND u.disabled = FALSE")
            .bind(username).bind(study_id).fetch_optional(pool).await)?)
    }
}

/// A study's alert settings as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AlertSettingsRow {
    pub study_id: i64,
    pub disk_percent: i64,
    pub cert_days: i64,
    pub clock_ms: i64,
    pub timezone: String,
    pub quiet_from_hour: Option<i64>,
    pub quiet_until_hour: Option<i64>,
    pub daily_digest: bool,
    pub digest_hour: i64,
    pub last_digest_on: Option<String>,
}

const SETTINGS: &str = "study_id, disk_percent, cert_days, clock_ms, timezone, quiet_from_hour, quiet_until_hour,
    daily_digest, digest_hour, last_digest_on";

impl Store {
    pub async fn alert_settings(&self, study_id: i64) -> Result<Option<AlertSettingsRow>> {
        let sql = format!("SELECT {SETTINGS} FROM alert_settings WHERE study_id = $1");
        Ok(
            on_pool!(self, pool => sqlx::query_as::<_, AlertSettingsRow>(&sql).bind(study_id).fetch_optional(pool).await)?,
        )
    }

    /// Studies that want a daily digest.
    pub async fn digest_settings(&self) -> Result<Vec<AlertSettingsRow>> {
        let sql = format!("SELECT {SETTINGS} FROM alert_settings WHERE daily_digest = TRUE ORDER BY study_id");
        Ok(on_pool!(self, pool => sqlx::query_as::<_, AlertSettingsRow>(&sql).fetch_all(pool).await)?)
    }

    pub async fn save_alert_settings(&self, row: &AlertSettingsRow, now: DateTime<Utc>) -> Result<()> {
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO alert_settings (study_id, disk_percent, cert_days, clock_ms, timezone, quiet_from_hour,
                                         quiet_until_hour, daily_digest, digest_hour, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             ON CONFLICT (study_id) DO UPDATE SET disk_percent = $2, cert_days = $3, clock_ms = $4, timezone = $5,
                 quiet_from_hour = $6, quiet_until_hour = $7, daily_digest = $8, digest_hour = $9, updated_at = $10")
            .bind(row.study_id).bind(row.disk_percent).bind(row.cert_days).bind(row.clock_ms).bind(&row.timezone)
            .bind(row.quiet_from_hour).bind(row.quiet_until_hour).bind(row.daily_digest).bind(row.digest_hour).bind(now)
            .execute(pool).await.map(drop))?;
        Ok(())
    }

    /// Marks a study's digest for `date` as sent; false when another replica sent it already.
    pub async fn claim_digest(&self, study_id: i64, date: &str) -> Result<bool> {
        let n = on_pool!(self, pool => sqlx::query(
            "UPDATE alert_settings SET last_digest_on = $2
             WHERE study_id = $1 AND (last_digest_on IS NULL OR last_digest_on <> $2)")
            .bind(study_id).bind(date).execute(pool).await.map(|d| d.rows_affected()))?;
        Ok(n == 1)
    }

    pub async fn set_alert_deferred(&self, id: i64, deferred: bool) -> Result<()> {
        on_pool!(self, pool => sqlx::query("UPDATE alerts SET deferred = $2 WHERE id = $1")
            .bind(id).bind(deferred).execute(pool).await.map(drop))?;
        Ok(())
    }

    /// Open alerts held back by quiet hours: (id, study).
    pub async fn deferred_alerts(&self) -> Result<Vec<(i64, Option<i64>)>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, (i64, Option<i64>)>(
            "SELECT id, study_id FROM alerts WHERE deferred = TRUE AND state = 'open' ORDER BY id")
            .fetch_all(pool).await)?)
    }

    /// A study's alerts still open or acknowledged, and those resolved since `since`.
    pub async fn alerts_for_digest(
        &self,
        study_id: i64,
        since: DateTime<Utc>,
    ) -> Result<Vec<(String, String, String)>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, (String, String, String)>(
            "SELECT state, severity, summary FROM alerts
             WHERE study_id = $1 AND (state <> 'resolved' OR resolved_at >= $2)
             ORDER BY CASE state WHEN 'open' THEN 0 WHEN 'acknowledged' THEN 1 ELSE 2 END, opened_at")
            .bind(study_id).bind(since).fetch_all(pool).await)?)
    }
}
