//! The mail outbox: every message is stored before it is sent; a worker leases due messages,
//! sends them, and marks them sent (or due again later, with the error).

use chrono::{DateTime, Utc};

use super::{BackendKind, Result, Store, on_pool};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OutboxRow {
    pub id: i64,
    pub message_id: String,
    pub to_address: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: String,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    /// The alert whose acknowledge link is made when the message is sent.
    pub ack_alert_id: Option<i64>,
}

const COLUMNS: &str = "id, message_id, to_address, subject, body_text, body_html, status, attempts, next_attempt_at,
    last_error, created_at, sent_at, ack_alert_id";

pub struct NewMail<'a> {
    pub message_id: &'a str,
    pub to: &'a str,
    pub subject: &'a str,
    pub text: &'a str,
    pub html: &'a str,
    pub ack_alert_id: Option<i64>,
}

impl Store {
    pub async fn queue_mail(&self, mail: &NewMail<'_>, now: DateTime<Utc>) -> Result<i64> {
        Ok(on_pool!(self, pool => sqlx::query_scalar(
            "INSERT INTO outbox (message_id, to_address, subject, body_text, body_html, status, next_attempt_at, created_at,
                                 ack_alert_id)
             VALUES ($1, $2, $3, $4, $5, 'pending', $6, $6, $7) RETURNING id")
            .bind(mail.message_id).bind(mail.to).bind(mail.subject).bind(mail.text).bind(mail.html).bind(now)
            .bind(mail.ack_alert_id)
            .fetch_one(pool).await)?)
    }

    /// Leases the next due message (pending and due, or `sending` under an expired lease).
    pub async fn lease_mail(&self, now: DateTime<Utc>, lease_until: DateTime<Utc>) -> Result<Option<OutboxRow>> {
        let lock = match self.kind() {
            BackendKind::Postgres => "FOR UPDATE SKIP LOCKED",
            BackendKind::Sqlite => "",
        };
        let sql = format!(
            "UPDATE outbox SET status = 'sending', lease_until = $2, attempts = attempts + 1
             WHERE id = (SELECT id FROM outbox
                         WHERE (status = 'pending' AND next_attempt_at <= $1) OR (status = 'sending' AND lease_until < $1)
                         ORDER BY next_attempt_at, id LIMIT 1 {lock})
             RETURNING {COLUMNS}"
        );
        Ok(
            on_pool!(self, pool => sqlx::query_as::<_, OutboxRow>(&sql).bind(now).bind(lease_until).fetch_optional(pool).await)?,
        )
    }

    pub async fn mail_sent(&self, id: i64, now: DateTime<Utc>) -> Result<()> {
        on_pool!(self, pool => sqlx::query(
            "UPDATE outbox SET status = 'sent', sent_at = $2, lease_until = NULL, last_error = '' WHERE id = $1")
            .bind(id).bind(now).execute(pool).await.map(|d| d.rows_affected()))?;
        Ok(())
    }

    pub async fn mail_failed(&self, id: i64, error: &str, retry_at: DateTime<Utc>) -> Result<()> {
        on_pool!(self, pool => sqlx::query(
            "UPDATE outbox SET status = 'pending', last_error = $2, next_attempt_at = $3, lease_until = NULL WHERE id = $1")
            .bind(id).bind(error).bind(retry_at).execute(pool).await.map(|d| d.rows_affected()))?;
        Ok(())
    }

    /// Sends a message again now (a sent one as a new attempt).
    pub async fn resend_mail(&self, id: i64, now: DateTime<Utc>) -> Result<bool> {
        let n = on_pool!(self, pool => sqlx::query(
            "UPDATE outbox SET status = 'pending', next_attempt_at = $2, lease_until = NULL WHERE id = $1 AND status <> 'sending'")
            .bind(id).bind(now).execute(pool).await.map(|d| d.rows_affected()))?;
        Ok(n == 1)
    }

    pub async fn outbox(&self, limit: i64, offset: i64) -> Result<(Vec<OutboxRow>, i64)> {
        let sql = format!("SELECT {COLUMNS} FROM outbox ORDER BY id DESC LIMIT $1 OFFSET $2");
        Ok(on_pool!(self, pool => {
            let rows = sqlx::query_as::<_, OutboxRow>(&sql).bind(limit).bind(offset).fetch_all(pool).await?;
            let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox").fetch_one(pool).await?;
            (rows, total)
        }))
    }
}
