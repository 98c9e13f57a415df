//! Alerts (one unresolved per rule and target) and their one-time acknowledge links.

use chrono::{DateTime, Utc};

use super::{Result, Store, StoreError, on_pool};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AlertRow {
    pub id: i64,
    pub rule: String,
    pub target_key: String,
    pub host_id: Option<i64>,
    pub study_id: Option<i64>,
    pub severity: String,
    pub state: String,
    pub summary: String,
    pub detail: String,
    pub opened_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub acknowledged_by: Option<String>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// 0: the primary was told; 1: the secondary too; 2: the study's admins too.
    pub escalation_level: i64,
}

const COLUMNS: &str = "id, rule, target_key, host_id, study_id, severity, state, summary, detail, opened_at,
    last_seen_at, acknowledged_at, acknowledged_by, resolved_at, escalation_level";

/// Which unresolved alerts to read.
#[derive(Debug, Clone, Copy)]
pub enum AlertTargets<'a> {
    /// Every target starting with this (`host:`).
    Kind(&'a str),
    Exactly(&'a str),
}

/// A condition that holds now.
pub struct Condition<'a> {
    pub rule: &'a str,
    pub target_key: &'a str,
    pub host_id: Option<i64>,
    /// The study, when there is no host to find it from.
    pub study_id: Option<i64>,
    pub severity: &'a str,
    pub summary: &'a str,
    pub detail: &'a str,
}

impl Store {
    /// Opens an alert for the condition, or refreshes the unresolved one; the new id when it
    /// was opened now.
    pub async fn raise_alert(&self, c: &Condition<'_>, now: DateTime<Utc>) -> Result<Option<i64>> {
        let existing: Option<i64> = on_pool!(self, pool => sqlx::query_scalar(
            "SELECT id FROM alerts WHERE rule = $1 AND target_key = $2 AND state <> 'resolved'")
            .bind(c.rule).bind(c.target_key).fetch_optional(pool).await)?;
        if let Some(id) = existing {
            on_pool!(self, pool => sqlx::query(
                "UPDATE alerts SET last_seen_at = $2, summary = $3, detail = $4, severity = $5 WHERE id = $1")
                .bind(id).bind(now).bind(c.summary).bind(c.detail).bind(c.severity)
                .execute(pool).await.map(|d| d.rows_affected()))?;
            return Ok(None);
        }
        let inserted = on_pool!(self, pool => sqlx::query_scalar(
            "INSERT INTO alerts (rule, target_key, host_id, study_id, severity, state, summary, detail, opened_at, last_seen_at)
             SELECT $1, $2, h.id, COALESCE(i.study_id, $8), $4, 'open', $5, $6, $7, $7
               FROM (SELECT 1 AS one) AS x LEFT JOIN hosts h ON h.id = $3 LEFT JOIN instances i ON i.id = h.instance_id
             RETURNING id")
            .bind(c.rule).bind(c.target_key).bind(c.host_id).bind(c.severity).bind(c.summary).bind(c.detail).bind(now)
            .bind(c.study_id)
            .fetch_one(pool).await);
        match inserted {
            Ok(id) => Ok(Some(id)),
            // Another replica opened it a moment ago.
            Err(err) => match StoreError::from(err) {
                StoreError::Conflict(_) => Ok(None),
                other => Err(other),
            },
        }
    }

    /// Unresolved alerts about targets of one kind (`host:` for every host) or about exactly one
    /// target (`host:12`, not `host:123`).
    pub async fn unresolved_alerts(&self, target: AlertTargets<'_>) -> Result<Vec<AlertRow>> {
        let (condition, bound) = match target {
            AlertTargets::Kind(prefix) => ("target_key LIKE $1", format!("{prefix}%")),
            AlertTargets::Exactly(key) => ("target_key = $1", key.to_owned()),
        };
        let sql = format!("SELECT {COLUMNS} FROM alerts WHERE state <> 'resolved' AND {condition}");
        Ok(on_pool!(self, pool => sqlx::query_as::<_, AlertRow>(&sql).bind(bound).fetch_all(pool).await)?)
    }

    /// Resolves the unresolved alert for `rule` on `target_key`; its id, when there was one.
    pub async fn resolve_open_alert(&self, rule: &str, target_key: &str, now: DateTime<Utc>) -> Result<Option<i64>> {
        Ok(on_pool!(self, pool => sqlx::query_scalar(
            "UPDATE alerts SET state = 'resolved', resolved_at = $3
             WHERE rule = $1 AND target_key = $2 AND state <> 'resolved' RETURNING id")
            .bind(rule).bind(target_key).bind(now).fetch_optional(pool).await)?)
    }

    pub async fn resolve_alert(&self, id: i64, now: DateTime<Utc>) -> Result<bool> {
        let n = on_pool!(self, pool => sqlx::query("UPDATE alerts SET state = 'resolved', resolved_at = $2 WHERE id = $1 AND state <> 'resolved'")
            .bind(id).bind(now).execute(pool).await.map(|d| d.rows_affected()))?;
        Ok(n == 1)
    }

    pub async fn acknowledge_alert(&self, id: i64, by: &str, now: DateTime<Utc>) -> Result<bool> {
        let n = on_pool!(self, pool => sqlx::query(
            "UPDATE alerts SET state = 'acknowledged', acknowledged_at = $2, acknowledged_by = $3 WHERE id = $1 AND state = 'open'")
            .bind(id).bind(now).bind(by).execute(pool).await.map(|d| d.rows_affected()))?;
        Ok(n == 1)
    }

    pub async fn alert(&self, id: i64) -> Result<AlertRow> {
        let sql = format!("SELECT {COLUMNS} FROM alerts WHERE id = $1");
        Ok(on_pool!(self, pool => sqlx::query_as::<_, AlertRow>(&sql).bind(id).fetch_one(pool).await)?)
    }

    /// The latest alerts in `state` (any when empty) of these studies (all for `None`).
    pub async fn list_alerts(&self, state: &str, visible: Option<&[i64]>) -> Result<Vec<AlertRow>> {
        let filter = match visible {
            None => "1 = 1".to_owned(),
            Some([]) => "1 = 0".to_owned(),
            Some(ids) => format!("study_id IN ({})", ids.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")),
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM alerts WHERE {filter} AND ($1 = '' OR state = $1) ORDER BY opened_at DESC, id DESC LIMIT 200"
        );
        Ok(on_pool!(self, pool => sqlx::query_as::<_, AlertRow>(&sql).bind(state).fetch_all(pool).await)?)
    }

    /// Addresses of the study's members with one of `roles`, and of the global admins (with an
    /// e-mail address and not disabled).
    pub async fn alert_recipients(&self, study_id: Option<i64>, roles: &[&str]) -> Result<Vec<String>> {
        let placeholders: Vec<String> = (2..roles.len() + 2).map(|n| format!("${n}")).collect();
        let sql = format!(
            "SELECT DISTINCT u.email FROM users u
             WHERE u.disabled = FALSE AND u.email IS NOT NULL AND u.email <> ''
               AND (u.role = 'admin' OR EXISTS (SELECT 1 FROM study_members m WHERE m.user_id = u.id
                      AND m.study_id = $1 AND m.role IN ({})))
             ORDER BY u.email",
            if roles.is_empty() { "NULL".to_owned() } else { placeholders.join(", ") }
        );
        Ok(on_pool!(self, pool => {
            let mut query = sqlx::query_scalar(&sql).bind(study_id);
            for role in roles {
                query = query.bind(*role);
            }
            query.fetch_all(pool).await
        })?)
    }

    pub async fn insert_alert_link(
        &self,
        hash: &str,
        alert_id: i64,
        recipient: &str,
        expires: DateTime<Utc>,
    ) -> Result<()> {
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO alert_links (token_hash, alert_id, recipient, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(hash).bind(alert_id).bind(recipient).bind(expires).execute(pool).await.map(|d| d.rows_affected()))?;
        Ok(())
    }

    /// The alert a link is for while it is unused and unexpired.
    pub async fn alert_of_link(&self, hash: &str, now: DateTime<Utc>) -> Result<Option<(i64, String)>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, (i64, String)>(
            "SELECT alert_id, recipient FROM alert_links WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2")
            .bind(hash).bind(now).fetch_optional(pool).await)?)
    }

    /// Uses a link up; false when it was used already or expired.
    pub async fn use_alert_link(&self, hash: &str, now: DateTime<Utc>) -> Result<bool> {
        let n = on_pool!(self, pool => sqlx::query(
            "UPDATE alert_links SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2")
            .bind(hash).bind(now).execute(pool).await.map(|d| d.rows_affected()))?;
        Ok(n == 1)
    }
}
