//! Writes the audit log: who did what, to what, when and from where.

use steward_frontend::contract::{AuditEntry, AuditQuery, Page};

use crate::clock::SharedClock;
use crate::store::{AuditRecord, Store, StoreError};

/// Who acts: a signed-in user, an anonymous visitor (login, setup) or Steward itself (CLI).
#[derive(Debug, Clone, Default)]
pub struct Actor {
    pub user_id: Option<i64>,
    pub username: Option<String>,
    pub client_addr: Option<String>,
}

impl Actor {
    /// Steward's own command line, run by whoever has a shell on the server.
    pub fn cli() -> Self {
        Self { user_id: None, username: Some("cli".into()), client_addr: Some("local".into()) }
    }

    /// Steward itself (schedules, the SSH layer flagging a changed key...).
    pub fn system() -> Self {
        Self { user_id: None, username: Some("steward".into()), client_addr: None }
    }
}

pub const PAGE_SIZE: u32 = 50;

#[derive(Debug, Clone)]
pub struct Audit {
    store: Store,
    clock: SharedClock,
}

impl Audit {
    pub fn new(store: Store, clock: SharedClock) -> Self {
        Self { store, clock }
    }

    /// Appends one event. A failure is logged loudly but does not undo the change it records.
    pub async fn record(&self, actor: &Actor, action: &str, target: &str, detail: &str) {
        let record = AuditRecord {
            id: 0,
            at: self.clock.now(),
            actor_id: actor.user_id,
            actor_name: actor.username.clone(),
            action: action.to_owned(),
            target: target.to_owned(),
            detail: detail.to_owned(),
            client_addr: actor.client_addr.clone(),
        };
        if let Err(err) = self.store.append_audit(&record).await {
            tracing::error!(error = %err, action, target, "could not write the audit log");
        }
    }

    pub async fn page(&self, query: &AuditQuery) -> Result<Page<AuditEntry>, StoreError> {
        let offset = u64::from(query.page) * u64::from(PAGE_SIZE);
        let (rows, total) = self.store.audit_page(query.actor.trim(), query.action.trim(), PAGE_SIZE, offset).await?;
        Ok(Page {
            items: rows
                .into_iter()
                .map(|r| AuditEntry {
                    id: r.id,
                    at: r.at,
                    actor: r.actor_name,
                    action: r.action,
                    target: r.target,
                    detail: r.detail,
                    client_addr: r.client_addr,
                })
                .collect(),
            total,
            page: query.page,
            per_page: PAGE_SIZE,
        })
    }
}
