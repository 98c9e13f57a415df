//! Alerts: rules over what Steward knows of each host (unreachable, host key changed, disk,
//! certificate expiry, clock, reboot required, units down). One alert per rule and host while
//! it is unresolved; it opens with a mail to the study's admins and on-call members and the
//! global admins (each with a one-time acknowledge link), and resolves itself, with a
//! "resolved" mail, once the condition clears.

use std::collections::HashSet;

use chrono::{Duration, Utc};
use steward_frontend::contract::{AlertSummary, AppError, CERT_WARN_DAYS, CLOCK_WARN_MS, DISK_WARN_PERCENT};

use crate::auth::tokens::{hash_token, new_token};
use crate::clock::SharedClock;
use crate::services::fleet;
use crate::services::mail::Mailer;
use crate::store::{AlertRow, Condition, HostForAlerts, HostStatusRow, Store, StoreError};
use crate::web::error::{from_store, not_found};

/// Job kinds whose failure raises an alert (a failed ad-hoc command is its runner's business).
const ALERTING_KINDS: &[&str] = &["push", "facts", "drift", "backup", "upgrade"];

/// How long an acknowledge link in a mail works.
const LINK_LIFETIME: Duration = Duration::days(7);

#[derive(Clone, Debug)]
pub struct Alerts {
    store: Store,
    clock: SharedClock,
    mailer: Mailer,
    base_url: String,
}

/// (rule, severity, what is wrong)
type Finding = (&'static str, &'static str, String);

fn findings(host: &HostForAlerts) -> Vec<Finding> {
    let mut found = Vec::new();
    if host.key_status == "changed" {
        found.push((
            "host-key-changed",
            "critical",
            "presented a different SSH host key; Steward refuses to connect".into(),
        ));
    }
    let Some(state) = host.state.as_deref() else { return found };
    if matches!(state, "unreachable" | "refused" | "timeout" | "auth-failed") {
        found.push(("unreachable", "critical", host.message.clone().unwrap_or_default()));
    }
    let row = HostStatusRow {
        host_id: host.host_id,
        instance_id: 0,
        checked_at: host.checked_at.unwrap_or_default(),
        state: state.to_owned(),
        message: host.message.clone().unwrap_or_default(),
        facts: host.facts.clone(),
        facts_at: host.facts_at,
        clock_offset_ms: host.clock_offset_ms,
    };
    let health = fleet::health(host.host_id, Some(&row));
    if let Some(mount) = health.fullest_mount().filter(|m| m.use_percent >= DISK_WARN_PERCENT) {
        found.push(("disk", "warning", format!("{} is {}% full", mount.path, mount.use_percent)));
    }
    if let Some(cert) = health.soonest_certificate()
        && let Some(at) = cert.not_after
        && (at - Utc::now()).num_days() <= CERT_WARN_DAYS
    {
        found.push(("certificate", "warning", format!("{} expires {}", cert.source, at.format("%Y-%m-%d"))));
    }
    if let Some(ms) = health.clock_offset_ms.filter(|ms| ms.abs() > CLOCK_WARN_MS) {
        found.push(("clock", "warning", format!("the clock is {ms} ms off")));
    } else if health.clock_synchronized == Some(false) {
        found.push(("clock", "warning", "the clock is not synchronised".into()));
    }
    if health.reboot_required {
        found.push(("reboot", "info", "a reboot is required".into()));
    }
    let down: Vec<String> = health.units_down().iter().map(|u| format!("{} ({})", u.name, u.state)).collect();
    if !down.is_empty() {
        found.push(("unit-down", "warning", format!("not running: {}", down.join(", "))));
    }
    found
}

pub fn summary_of(row: &AlertRow) -> AlertSummary {
    AlertSummary {
        id: row.id,
        rule: row.rule.clone(),
        severity: row.severity.clone(),
        state: row.state.clone(),
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

impl Alerts {
    pub fn new(store: Store, clock: SharedClock, mailer: Mailer, base_url: String) -> Self {
        Self { store, clock, mailer, base_url }
    }

    /// Opens, refreshes and resolves host alerts from the hosts' last checks.
    pub async fn evaluate_hosts(&self) -> Result<(), StoreError> {
        self.evaluate(None).await
    }

    /// The same for one host, right after it was checked.
    pub async fn evaluate_host(&self, host_id: i64) -> Result<(), StoreError> {
        self.evaluate(Some(host_id)).await
    }

    async fn evaluate(&self, only: Option<i64>) -> Result<(), StoreError> {
        let now = self.clock.now();
        let mut holding = HashSet::new();
        for host in self.store.hosts_for_alerts(only).await? {
            let target = format!("host:{}", host.host_id);
            for (rule, severity, detail) in findings(&host) {
                holding.insert((rule.to_owned(), target.clone()));
                let summary =
                    format!("{} ({}/{}): {}", host.host_name, host.study_name, host.instance_name, title(rule));
                let condition = Condition {
                    rule,
                    target_key: &target,
                    host_id: Some(host.host_id),
                    study_id: None,
                    severity,
                    summary: &summary,
                    detail: &detail,
                };
                if let Some(id) = self.store.raise_alert(&condition, now).await? {
                    self.notify(id, true).await;
                }
            }
        }
        let targets = only.map_or_else(|| "host:".to_owned(), |id| format!("host:{id}"));
        for alert in self.store.unresolved_alerts(&targets).await? {
            // `host:1` is also the start of `host:12`: only that host's own alerts count.
            let outside = only.is_some() && alert.target_key != targets;
            if !outside
                && !holding.contains(&(alert.rule.clone(), alert.target_key.clone()))
                && self.store.resolve_alert(alert.id, now).await?
            {
                self.notify(alert.id, false).await;
            }
        }
        Ok(())
    }

    /// Alerts from background work: the last run of a push, fact check, drift check (and later
    /// backup or upgrade) on a target failed; a schedule's last due time was missed. Each clears
    /// when the next run of the same work on the same target succeeds.
    pub async fn evaluate_jobs(&self) -> Result<(), StoreError> {
        let since = self.clock.now() - Duration::days(7);
        for job in self.store.latest_job_outcomes(ALERTING_KINDS, since).await? {
            let target = format!("job:{}:{}:{}", job.kind, job.target_kind, job.target_id.unwrap_or_default());
            if job.state == "succeeded" {
                self.clear("job-failed", &target).await?;
                continue;
            }
            let summary = format!("{} job failed on {}", job.kind, job.target_name);
            let detail = format!("{}\n\nJob: {}/jobs/{}", job.summary, self.base_url, job.id);
            let host_id = (job.target_kind == "host").then_some(job.target_id).flatten();
            let condition = Condition {
                rule: "job-failed",
                target_key: &target,
                host_id,
                study_id: job.study_id,
                severity: "warning",
                summary: &summary,
                detail: &detail,
            };
            self.raise(&condition).await?;
        }
        for (schedule, name, study_id, outcome, due_at) in self.store.latest_schedule_runs(since).await? {
            let target = format!("schedule:{schedule}");
            if outcome != "missed" {
                self.clear("schedule-missed", &target).await?;
                continue;
            }
            let summary = format!("schedule {name} missed its run");
            let detail = format!(
                "The run due {} did not happen (Steward was down and the schedule skips missed runs).",
                due_at.format("%Y-%m-%d %H:%M UTC")
            );
            let condition = Condition {
                rule: "schedule-missed",
                target_key: &target,
                host_id: None,
                study_id,
                severity: "warning",
                summary: &summary,
                detail: &detail,
            };
            self.raise(&condition).await?;
        }
        Ok(())
    }

    /// Opens an alert from a source other than host checks (config drift, a failed job...),
    /// unless one for the same rule and target is open already.
    pub async fn raise(&self, condition: &Condition<'_>) -> Result<(), StoreError> {
        if let Some(id) = self.store.raise_alert(condition, self.clock.now()).await? {
            self.notify(id, true).await;
        }
        Ok(())
    }

    /// Resolves the open alert for `rule` on exactly `target_key`, if there is one.
    pub async fn clear(&self, rule: &str, target_key: &str) -> Result<(), StoreError> {
        for alert in self.store.unresolved_alerts(target_key).await? {
            if alert.rule == rule
                && alert.target_key == target_key
                && self.store.resolve_alert(alert.id, self.clock.now()).await?
            {
                self.notify(alert.id, false).await;
            }
        }
        Ok(())
    }

    /// Mails everyone who should hear about the alert (with an acknowledge link when it opens).
    async fn notify(&self, id: i64, opened: bool) {
        let result = async {
            let alert = self.store.alert(id).await?;
            for to in self.store.alert_recipients(alert.study_id).await? {
                let (subject, text, html) = if opened {
                    let token = new_token();
                    let expires = self.clock.now() + LINK_LIFETIME;
                    self.store.insert_alert_link(&hash_token(&token), id, &to, expires).await?;
                    let ack = format!("{}/alerts/ack?token={token}", self.base_url);
                    self.opened_mail(&alert, &ack)
                } else {
                    self.resolved_mail(&alert)
                };
                if let Err(err) = self.mailer.queue(&to, &subject, &text, &html).await {
                    tracing::warn!(alert = id, %to, error = %err, "could not queue an alert mail");
                }
            }
            Ok::<_, StoreError>(())
        }
        .await;
        if let Err(err) = result {
            tracing::error!(alert = id, error = %err, "could not notify about an alert");
        }
    }

    fn opened_mail(&self, alert: &AlertRow, ack: &str) -> (String, String, String) {
        let subject = format!("[Steward] {}: {}", alert.severity.to_uppercase(), alert.summary);
        let page = format!("{}/alerts", self.base_url);
        let text = format!(
            "{}\n\n{}\n\nOpened {}.\n\nAcknowledge (this link works once, for 7 days): {ack}\nAll alerts: {page}\n",
            alert.summary,
            alert.detail,
            alert.opened_at.format("%Y-%m-%d %H:%M UTC")
        );
        let html = format!(
            "<p><strong>{}</strong></p><p>{}</p><p>Opened {}.</p><p><a href=\"{}\">Acknowledge</a> (works once, for 7 days) · <a href=\"{}\">All alerts</a></p>",
            escape(&alert.summary),
            escape(&alert.detail),
            alert.opened_at.format("%Y-%m-%d %H:%M UTC"),
            escape(ack),
            escape(&page)
        );
        (subject, text, html)
    }

    fn resolved_mail(&self, alert: &AlertRow) -> (String, String, String) {
        let subject = format!("[Steward] RESOLVED: {}", alert.summary);
        let text = format!("Resolved: {}\n\nThe condition cleared.\n", alert.summary);
        let html = format!("<p>Resolved: <strong>{}</strong></p><p>The condition cleared.</p>", escape(&alert.summary));
        (subject, text, html)
    }

    pub async fn list(&self, state: &str, visible: Option<&[i64]>) -> Result<Vec<AlertSummary>, AppError> {
        Ok(self.store.list_alerts(state, visible).await.map_err(from_store)?.iter().map(summary_of).collect())
    }

    pub async fn get(&self, id: i64) -> Result<AlertSummary, AppError> {
        self.store.alert(id).await.map(|row| summary_of(&row)).map_err(not_found("The alert"))
    }

    pub async fn acknowledge(&self, id: i64, by: &str) -> Result<AlertSummary, AppError> {
        self.store.acknowledge_alert(id, by, self.clock.now()).await.map_err(from_store)?;
        self.get(id).await
    }

    /// The alert an acknowledge link is for (to show before acknowledging).
    pub async fn link(&self, token: &str) -> Result<AlertSummary, AppError> {
        let (id, _) = self
            .store
            .alert_of_link(&hash_token(token.trim()), self.clock.now())
            .await
            .map_err(from_store)?
            .ok_or_else(|| {
                AppError::invalid("token", "This link was used already or has expired; sign in to acknowledge")
            })?;
        self.get(id).await
    }

    /// Acknowledges with a mailed link: for that alert only, once.
    pub async fn acknowledge_by_link(&self, token: &str) -> Result<AlertSummary, AppError> {
        let hash = hash_token(token.trim());
        let now = self.clock.now();
        let (id, recipient) = self.store.alert_of_link(&hash, now).await.map_err(from_store)?.ok_or_else(|| {
            AppError::invalid("token", "This link was used already or has expired; sign in to acknowledge")
        })?;
        if !self.store.use_alert_link(&hash, now).await.map_err(from_store)? {
            return Err(AppError::invalid(
                "token",
                "This link was used already or has expired; sign in to acknowledge",
            ));
        }
        self.acknowledge(id, &format!("{recipient} (mail link)")).await
    }
}

fn title(rule: &str) -> &'static str {
    match rule {
        "unreachable" => "not reachable",
        "host-key-changed" => "host key changed",
        "disk" => "disk almost full",
        "certificate" => "certificate expires soon",
        "clock" => "clock off",
        "reboot" => "reboot required",
        "unit-down" => "service down",
        "config-drift" => "config drift",
        "job-failed" => "job failed",
        "schedule-missed" => "schedule missed",
        _ => "problem",
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Evaluates the rules now and then (and the caller may call [`Alerts::evaluate_hosts`] after
/// a check for a faster answer).
pub async fn run(alerts: Alerts, shutdown: tokio_util::sync::CancellationToken, every: std::time::Duration) {
    loop {
        if let Err(err) = alerts.evaluate_hosts().await {
            tracing::warn!(error = %err, "could not evaluate alert rules");
        }
        if let Err(err) = alerts.evaluate_jobs().await {
            tracing::warn!(error = %err, "could not evaluate job and schedule alerts");
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
    }
}
