//! Alerts: rules over what Steward knows of each host (unreachable, host key changed, disk,
//! certificate expiry, clock, reboot required, units down). One alert per rule and host while
//! it is unresolved; it opens with a mail to the study's admins and on-call members and the
//! global admins (each with a one-time acknowledge link), and resolves itself, with a
//! "resolved" mail, once the condition clears.

mod notify;
mod rules;
mod settings;

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};

use chrono::{Duration, Timelike, Utc};
use steward_frontend::contract::{
    AlertSettings, AlertSettingsInput, AlertState, AlertSummary, CERT_WARN_DAYS, CLOCK_WARN_MS, DISK_WARN_PERCENT,
    FieldError, Severity,
};

use crate::auth::tokens::hash_token;
use crate::clock::SharedClock;
use crate::services::audit::{Actor, Audit};
use crate::services::error::{Error, OrNotFound};
use crate::services::fleet;
use crate::services::mail::{ACK_LINK, Mailer};
use crate::services::oncall::OnCall;
use crate::services::words::stored;
use crate::services::workers::Worker;
use crate::store::{
    AlertRow, AlertSettingsRow, AlertTargets, Condition, HostForAlerts, HostStatusRow, Store, StoreError,
};

/// Who hears of an alert at once when the study has no rota (and reads the digest): the study's
/// admins and on-call members (the global admins always).
const EVERYONE_TOLD: &[&str] = &["study-admin", "on-call"];

#[derive(Clone, Debug)]
pub struct Alerts {
    store: Store,
    clock: SharedClock,
    mailer: Mailer,
    oncall: OnCall,
    audit: Audit,
    base_url: String,
    /// Job kinds whose failure raises an alert, as the job engine's registry says (set once
    /// the engine is built; a failed ad-hoc command is its runner's business).
    job_kinds: Arc<OnceLock<Vec<&'static str>>>,
}

/// What a mail about an alert announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Notice {
    Opened,
    Escalated,
    Reminder,
    Resolved,
}

/// An alert that opens again this soon after it resolved is flapping: no mail at once.
const FLAP_WINDOW: Duration = Duration::minutes(15);

impl Alerts {
    pub fn new(
        store: Store,
        clock: SharedClock,
        mailer: Mailer,
        oncall: OnCall,
        audit: Audit,
        base_url: String,
    ) -> Self {
        Self { store, clock, mailer, oncall, audit, base_url, job_kinds: Arc::default() }
    }

    /// Which job kinds raise alerts when they fail.
    pub fn watch_job_kinds(&self, kinds: Vec<&'static str>) {
        let _ = self.job_kinds.set(kinds);
    }
}

pub fn summary_of(row: &AlertRow) -> AlertSummary {
    AlertSummary {
        id: row.id,
        rule: row.rule.clone(),
        severity: stored(&row.severity, Severity::Critical),
        state: stored(&row.state, AlertState::Open),
        summary: row.summary.clone(),
        detail: row.detail.clone(),
        host_id: row.host_id,
        study_id: row.study_id,
        opened_at: row.opened_at,
        acknowledged_at: row.acknowledged_at,
        acknowledged_by: row.acknowledged_by.clone(),
        resolved_at: row.resolved_at,
    }
}

/// Evaluates the rules now and then (and the caller may call [`Alerts::evaluate_hosts`] after
/// a check for a faster answer).
pub async fn run(
    alerts: Alerts,
    shutdown: tokio_util::sync::CancellationToken,
    every: std::time::Duration,
    worker: Worker,
) {
    loop {
        worker.busy();
        let pass = async {
            alerts.evaluate_hosts().await.map_err(|err| format!("could not evaluate alert rules: {err}"))?;
            alerts.evaluate_jobs().await.map_err(|err| format!("could not evaluate job and schedule alerts: {err}"))?;
            alerts.escalate().await.map_err(|err| format!("could not escalate alerts: {err}"))?;
            alerts.digest().await.map_err(|err| format!("could not send digests: {err}"))
        };
        match pass.await {
            Ok(()) => worker.idle(),
            Err(err) => {
                tracing::warn!(error = %err, "alert rules");
                worker.failed(err, every);
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep(every) => {}
        }
    }
    worker.stopped();
}
