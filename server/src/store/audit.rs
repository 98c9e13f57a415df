//! The audit log: one row per state change, never updated or deleted by Steward.

use chrono::{DateTime, Utc};

use super::{Result, Store, on_pool};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditRecord {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor_id: Option<i64>,
    pub actor_name: Option<String>,
    pub action: String,
    pub target: String,
    pub detail: String,
    pub client_addr: Option<String>,
}

impl Store {
    pub async fn append_audit(&self, record: &AuditRecord) -> Result<()> {
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO audit_log (at, actor_id, actor_name, action, target, detail, client_addr)
             VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(record.at)
            .bind(record.actor_id)
            .bind(&record.actor_name)
            .bind(&record.action)
            .bind(&record.target)
            .bind(&record.detail)
            .bind(&record.client_addr)
            .execute(pool)
            .await.map(|done| done.rows_affected()))?;
        Ok(())
    }

    /// Newest first. `actor` matches the username exactly; `action` matches a prefix, so
    /// `user.` finds every user event. Returns the page and the total count.
    pub async fn audit_page(
        &self,
        actor: &str,
        action: &str,
        limit: u32,
        offset: u64,
    ) -> Result<(Vec<AuditRecord>, u64)> {
        let filter = "($1 = '' OR actor_name = $1) AND ($2 = '' OR action LIKE $2 || '%' ESCAPE '\\')";
        let list = format!(
            "SELECT id, at, actor_id, actor_name, action, target, detail, client_addr FROM audit_log
             WHERE {filter} ORDER BY id DESC LIMIT $3 OFFSET $4"
        );
        let count = format!("SELECT COUNT(*) FROM audit_log WHERE {filter}");
        let offset = i64::try_from(offset).unwrap_or(i64::MAX);
        let action = super::like_pattern(action);
        let (rows, total): (Vec<AuditRecord>, i64) = on_pool!(self, pool => {
            let rows = sqlx::query_as::<_, AuditRecord>(&list)
                .bind(actor).bind(&action).bind(i64::from(limit)).bind(offset)
                .fetch_all(pool).await?;
            let total: i64 = sqlx::query_scalar(&count).bind(actor).bind(&action).fetch_one(pool).await?;
            (rows, total)
        });
        Ok((rows, u64::try_from(total).unwrap_or_default()))
    }
}
