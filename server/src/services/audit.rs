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
    /// A global admin (or the CLI): may do what only admins do, such as sharing a vault key
    /// with a study by choosing it for one of the study's hosts.
    pub admin: bool,
}

impl Actor {
    /// Steward's own command line, run by whoever has a shell on the server.
    pub fn cli() -> Self {
        Self { user_id: None, username: Some("cli".into()), client_addr: Some("local".into()), admin: true }
    }

    /// Steward itself (schedules, the SSH layer flagging a changed key...).
    pub fn system() -> Self {
        Self { user_id: None, username: Some("steward".into()), client_addr: None, admin: false }
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
    /// Records what happened. Fields are cut to a bounded length (whatever an anonymous caller
    /// typed ends up here) and control characters are shown escaped.
    pub async fn record(&self, actor: &Actor, action: &str, target: &str, detail: &str) {
        let record = AuditRecord {
            id: 0,
            at: self.clock.now(),
            actor_id: actor.user_id,
            actor_name: actor.username.as_deref().map(|name| clip(name, 64)),
            action: clip(action, 64),
            target: clip(target, 200),
            detail: clip(detail, 2000),
            client_addr: actor.client_addr.as_deref().map(|addr| clip(addr, 64)),
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

/// `text` in at most `max` characters (an ellipsis marks the cut), control characters escaped.
fn clip(text: &str, max: usize) -> String {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    let mut count = 0;
    while let Some(c) = chars.next() {
        count += 1;
        if count >= max && chars.peek().is_some() {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn audit_fields_are_clipped_and_control_bytes_escaped() {
        assert_eq!(super::clip("short", 10), "short");
        assert_eq!(super::clip("exactly10!", 10), "exactly10!");
        assert_eq!(super::clip(&"x".repeat(1 << 20), 10), format!("{}…", "x".repeat(9)));
        assert_eq!(super::clip("a\nb\u{7}", 10), "a\\nb\\u{7}");
    }
}
