//! Each host's last check (reachability and facts) and the events the alerts will read.

use chrono::{DateTime, Utc};

use super::{Result, Store, on_pool};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HostStatusRow {
    pub host_id: i64,
    pub instance_id: i64,
    pub checked_at: DateTime<Utc>,
    pub state: String,
    pub message: String,
    /// JSON of the agent's facts.
    pub facts: Option<String>,
    pub facts_at: Option<DateTime<Utc>>,
    pub clock_offset_ms: Option<i64>,
}

/// One check's outcome; facts only when the host answered.
pub struct CheckOutcome<'a> {
    pub state: &'a str,
    pub message: &'a str,
    pub facts: Option<&'a str>,
    pub clock_offset_ms: Option<i64>,
}

/// Something that happened and may need attention.
pub struct NewEvent<'a> {
    pub kind: &'a str,
    pub severity: &'a str,
    pub host_id: Option<i64>,
    pub summary: &'a str,
    pub detail: &'a str,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventRow {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub kind: String,
    pub severity: String,
    pub study_id: Option<i64>,
    pub instance_id: Option<i64>,
    pub host_id: Option<i64>,
    pub summary: String,
    pub detail: String,
}

const SELECT: &str = "SELECT s.host_id, h.instance_id, s.checked_at, s.state, s.message, s.facts, s.facts_at,
    s.clock_offset_ms FROM host_status s JOIN hosts h ON h.id = s.host_id";

impl Store {
    /// Records a check; a failed check keeps the last facts (and when they were taken).
    pub async fn record_check(&self, host_id: i64, outcome: &CheckOutcome<'_>, now: DateTime<Utc>) -> Result<()> {
        let sql = "INSERT INTO host_status (host_id, checked_at, state, message, facts, facts_at, clock_offset_ms)
             VALUES ($1, $2, $3, $4, $5, CASE WHEN $5 IS NULL THEN NULL ELSE $2 END, $6)
             ON CONFLICT (host_id) DO UPDATE SET checked_at = $2, state = $3, message = $4,
               facts = COALESCE($5, host_status.facts),
               facts_at = CASE WHEN $5 IS NULL THEN host_status.facts_at ELSE $2 END,
               clock_offset_ms = COALESCE($6, host_status.clock_offset_ms)";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(host_id).bind(now).bind(outcome.state).bind(outcome.message).bind(outcome.facts)
            .bind(outcome.clock_offset_ms)
            .execute(pool).await.map(|d| d.rows_affected()))?;
        Ok(())
    }

    pub async fn host_status(&self, host_id: i64) -> Result<Option<HostStatusRow>> {
        let sql = format!("{SELECT} WHERE s.host_id = $1");
        Ok(on_pool!(self, pool => sqlx::query_as::<_, HostStatusRow>(&sql).bind(host_id).fetch_optional(pool).await)?)
    }

    /// Status of every host of these instances.
    pub async fn host_statuses_of_instances(&self, instance_ids: &[i64]) -> Result<Vec<HostStatusRow>> {
        if instance_ids.is_empty() {
            return Ok(Vec::new());
        }
        let list: Vec<String> = instance_ids.iter().map(i64::to_string).collect();
        let sql = format!("{SELECT} WHERE h.instance_id IN ({})", list.join(", "));
        Ok(on_pool!(self, pool => sqlx::query_as::<_, HostStatusRow>(&sql).fetch_all(pool).await)?)
    }

    /// Certificate files and units to watch on the host, one per line.
    pub async fn host_watch(&self, host_id: i64) -> Result<(String, String)> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, (String, String)>(
            "SELECT watch_certificates, watch_units FROM hosts WHERE id = $1")
            .bind(host_id).fetch_one(pool).await)?)
    }

    pub async fn set_host_watch(&self, host_id: i64, certificates: &str, units: &str) -> Result<()> {
        on_pool!(self, pool => sqlx::query("UPDATE hosts SET watch_certificates = $1, watch_units = $2 WHERE id = $3")
            .bind(certificates).bind(units).bind(host_id).execute(pool).await.map(|d| d.rows_affected()))?;
        Ok(())
    }

    pub async fn forget_host_status(&self, host_id: i64) -> Result<()> {
        on_pool!(self, pool => sqlx::query("DELETE FROM host_status WHERE host_id = $1")
            .bind(host_id).execute(pool).await.map(|d| d.rows_affected()))?;
        Ok(())
    }

    /// Records an event, filling in the host's instance and study.
    pub async fn record_event(&self, event: &NewEvent<'_>, now: DateTime<Utc>) -> Result<i64> {
        let sql = "INSERT INTO events (at, kind, severity, study_id, instance_id, host_id, summary, detail)
             SELECT $1, $2, $3, i.study_id, i.id, h.id, $5, $6
               FROM (SELECT 1 AS one) AS x
               LEFT JOIN hosts h ON h.id = $4
               LEFT JOIN instances i ON i.id = h.instance_id
             RETURNING id";
        Ok(on_pool!(self, pool => sqlx::query_scalar(sql)
            .bind(now).bind(event.kind).bind(event.severity).bind(event.host_id).bind(event.summary).bind(event.detail)
            .fetch_one(pool).await)?)
    }

    pub async fn events_of_host(&self, host_id: i64) -> Result<Vec<EventRow>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, EventRow>(
            "SELECT id, at, kind, severity, study_id, instance_id, host_id, summary, detail FROM events
             WHERE host_id = $1 ORDER BY id DESC LIMIT 100")
            .bind(host_id).fetch_all(pool).await)?)
    }
}

impl Store {
    /// Every host's last check (or one host's), with its key status and where it belongs (for
    /// the alert rules).
    pub async fn hosts_for_alerts(&self, only: Option<i64>) -> Result<Vec<HostForAlerts>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, HostForAlerts>(
            "SELECT h.id AS host_id, h.name AS host_name, i.name AS instance_name, st.name AS study_name,
                    h.host_key_status AS key_status, s.checked_at, s.state, s.message, s.facts, s.facts_at,
                    s.clock_offset_ms, a.disk_percent, a.cert_days, a.clock_ms
               FROM hosts h JOIN instances i ON i.id = h.instance_id JOIN studies st ON st.id = i.study_id
               LEFT JOIN host_status s ON s.host_id = h.id
               LEFT JOIN alert_settings a ON a.study_id = i.study_id
              WHERE $1 IS NULL OR h.id = $1")
            .bind(only).fetch_all(pool).await)?)
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HostForAlerts {
    pub host_id: i64,
    pub host_name: String,
    pub instance_name: String,
    pub study_name: String,
    pub key_status: String,
    pub checked_at: Option<DateTime<Utc>>,
    pub state: Option<String>,
    pub message: Option<String>,
    pub facts: Option<String>,
    pub facts_at: Option<DateTime<Utc>>,
    pub clock_offset_ms: Option<i64>,
    /// The study's thresholds, when it set its own.
    pub disk_percent: Option<i64>,
    pub cert_days: Option<i64>,
    pub clock_ms: Option<i64>,
}
