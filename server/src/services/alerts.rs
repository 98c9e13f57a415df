//! Alerts: rules over what Steward knows of each host (unreachable, host key changed, disk,
//! certificate expiry, clock, reboot required, units down). One alert per rule and host while
//! it is unresolved; it opens with a mail to the study's admins and on-call members and the
//! global admins (each with a one-time acknowledge link), and resolves itself, with a
//! "resolved" mail, once the condition clears.

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};

use chrono::{Duration, Timelike, Utc};
use steward_frontend::contract::{
    AlertSettings, AlertSettingsInput, AlertSummary, CERT_WARN_DAYS, CLOCK_WARN_MS, DISK_WARN_PERCENT, FieldError,
};

use crate::auth::tokens::hash_token;
use crate::clock::SharedClock;
use crate::services::audit::{Actor, Audit};
use crate::services::error::{Error, OrNotFound};
use crate::services::fleet;
use crate::services::mail::{ACK_LINK, Mailer};
use crate::services::oncall::OnCall;
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

/// Whether `at` falls in the study's quiet hours (which may wrap past midnight).
fn quiet_at(settings: &AlertSettingsRow, at: chrono::DateTime<Utc>) -> bool {
    let (Some(from), Some(until)) = (settings.quiet_from_hour, settings.quiet_until_hour) else { return false };
    let tz: chrono_tz::Tz = settings.timezone.parse().unwrap_or(chrono_tz::UTC);
    let hour = i64::from(at.with_timezone(&tz).hour());
    if from <= until { (from..until).contains(&hour) } else { hour >= from || hour < until }
}

/// An alert that opens again this soon after it resolved is flapping: no mail at once.
const FLAP_WINDOW: Duration = Duration::minutes(15);

/// (rule, severity, what is wrong)
type Finding = (&'static str, &'static str, String);

fn findings(host: &HostForAlerts, now: chrono::DateTime<Utc>) -> Vec<Finding> {
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
    let disk_limit = host.disk_percent.map_or(DISK_WARN_PERCENT, |p| u32::try_from(p).unwrap_or(DISK_WARN_PERCENT));
    if let Some(mount) = health.fullest_mount().filter(|m| m.use_percent >= disk_limit) {
        found.push(("disk", "warning", format!("{} is {}% full", mount.path, mount.use_percent)));
    }
    if let Some(cert) = health.soonest_certificate()
        && let Some(at) = cert.not_after
        && (at - now).num_days() <= host.cert_days.unwrap_or(CERT_WARN_DAYS)
    {
        found.push(("certificate", "warning", format!("{} expires {}", cert.source, at.format("%Y-%m-%d"))));
    }
    if let Some(ms) = health.clock_offset_ms.filter(|ms| ms.abs() > host.clock_ms.unwrap_or(CLOCK_WARN_MS)) {
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
            for (rule, severity, detail) in findings(&host, now) {
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
                    self.opened(id, rule, &target).await;
                }
            }
        }
        let one = only.map(|id| format!("host:{id}"));
        let targets = one.as_deref().map_or(AlertTargets::Kind("host:"), AlertTargets::Exactly);
        for alert in self.store.unresolved_alerts(targets).await? {
            if !holding.contains(&(alert.rule.clone(), alert.target_key.clone()))
                && self.store.resolve_alert(alert.id, now).await?
            {
                self.notify(alert.id, Notice::Resolved, 0).await;
            }
        }
        Ok(())
    }

    /// Alerts from background work: the last run of a push, fact check, drift check (and later
    /// backup or upgrade) on a target failed; a schedule's last due time was missed. Each clears
    /// when the next run of the same work on the same target succeeds.
    pub async fn evaluate_jobs(&self) -> Result<(), StoreError> {
        let since = self.clock.now() - Duration::days(7);
        let kinds = self.job_kinds.get().map_or(&[][..], Vec::as_slice);
        for job in self.store.latest_job_outcomes(kinds, since).await? {
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
            self.opened(id, condition.rule, condition.target_key).await;
        }
        Ok(())
    }

    /// Resolves the open alert for `rule` on exactly `target_key`, if there is one.
    pub async fn clear(&self, rule: &str, target_key: &str) -> Result<(), StoreError> {
        if let Some(id) = self.store.resolve_open_alert(rule, target_key, self.clock.now()).await? {
            self.notify(id, Notice::Resolved, 0).await;
        }
        Ok(())
    }

    /// A new alert: the first in line hears of it, unless the same condition cleared only
    /// moments ago (flapping), when the mail waits for escalation or the reminder.
    async fn opened(&self, id: i64, rule: &str, target_key: &str) {
        let now = self.clock.now();
        if let Ok(alert) = self.store.alert(id).await
            && alert.severity != "critical"
            && let Some(study) = alert.study_id
            && self.settings_row(study).await.is_ok_and(|s| quiet_at(&s, now))
        {
            tracing::info!(alert = id, "opened during quiet hours; mailed when they end");
            if let Err(err) = self.store.set_alert_deferred(id, true).await {
                tracing::warn!(alert = id, error = %err, "could not defer an alert's mail");
            }
            return;
        }
        match self.store.resolved_since(rule, target_key, now - FLAP_WINDOW).await {
            Ok(true) => {
                tracing::info!(alert = id, rule, target_key, "a flapping condition came back; not mailing at once");
                if let Err(err) = self.store.set_alert_notified(id, 0, now).await {
                    tracing::warn!(alert = id, error = %err, "could not record an alert's notice");
                }
            }
            _ => self.notify(id, Notice::Opened, 0).await,
        }
    }

    /// Whom to tell at an escalation level: with a rota, the primary (0), the secondary (1),
    /// then the study's admins (2); without one, everyone at once (study admins, on-call
    /// members and admins).
    async fn recipients(&self, study_id: Option<i64>, level: i64) -> Result<Vec<String>, StoreError> {
        let Some((_, shift)) = self.oncall.shift(study_id).await? else {
            return self.store.alert_recipients(study_id, EVERYONE_TOLD).await;
        };
        Ok(match level {
            0 => shift.primary.and_then(|p| p.email).into_iter().collect(),
            1 => shift.secondary.or(shift.primary).and_then(|p| p.email).into_iter().collect(),
            _ => self.store.alert_recipients(study_id, &["study-admin"]).await?,
        })
    }

    /// Escalates open alerts nobody acknowledged in time, and reminds whoever was told last
    /// when the rota's re-notify interval has passed.
    pub async fn escalate(&self) -> Result<(), StoreError> {
        let now = self.clock.now();
        let mut held = std::collections::HashSet::new();
        for (id, study_id) in self.store.deferred_alerts().await? {
            let quiet = match study_id {
                Some(study) => quiet_at(&self.settings_row(study).await?, now),
                None => false,
            };
            if quiet {
                held.insert(id);
            } else {
                self.store.set_alert_deferred(id, false).await?;
                self.notify(id, Notice::Opened, 0).await;
                held.insert(id);
            }
        }
        for (id, study_id, level, opened_at, notified_at) in self.store.alerts_to_escalate().await? {
            if held.contains(&id) {
                continue;
            }
            let Some((rota, _)) = self.oncall.shift(study_id).await? else { continue };
            let step = Duration::minutes(rota.escalate_after_minutes);
            if level < 2 && now >= opened_at + step * i32::try_from(level + 1).unwrap_or(2) {
                self.notify(id, Notice::Escalated, level + 1).await;
            } else if notified_at.is_none_or(|at| now >= at + Duration::minutes(rota.renotify_minutes)) {
                self.notify(id, Notice::Reminder, level).await;
            }
        }
        Ok(())
    }

    /// A study's alert settings as stored, or the defaults.
    async fn settings_row(&self, study_id: i64) -> Result<AlertSettingsRow, StoreError> {
        Ok(self.store.alert_settings(study_id).await?.unwrap_or(AlertSettingsRow {
            study_id,
            disk_percent: i64::from(DISK_WARN_PERCENT),
            cert_days: CERT_WARN_DAYS,
            clock_ms: CLOCK_WARN_MS,
            timezone: "UTC".into(),
            quiet_from_hour: None,
            quiet_until_hour: None,
            daily_digest: false,
            digest_hour: 8,
            last_digest_on: None,
        }))
    }

    pub async fn settings(&self, study_id: i64) -> Result<AlertSettings, Error> {
        let study = self.store.study(study_id, 0).await.or_not_found("The study")?;
        let row = self.settings_row(study_id).await?;
        Ok(AlertSettings {
            study_id,
            study_name: study.name,
            disk_percent: row.disk_percent,
            cert_days: row.cert_days,
            clock_ms: row.clock_ms,
            timezone: row.timezone,
            quiet_from_hour: row.quiet_from_hour,
            quiet_until_hour: row.quiet_until_hour,
            daily_digest: row.daily_digest,
            digest_hour: row.digest_hour,
        })
    }

    pub async fn save_settings(&self, actor: &Actor, input: AlertSettingsInput) -> Result<AlertSettings, Error> {
        let mut errors = Vec::new();
        let mut number = |name: &str, text: &str, range: std::ops::RangeInclusive<i64>, optional: bool| {
            let text = text.trim();
            if optional && text.is_empty() {
                return None;
            }
            let value = text.parse::<i64>().ok().filter(|n| range.contains(n));
            if value.is_none() {
                errors.push(FieldError {
                    field: name.into(),
                    message: format!("Give a whole number from {} to {}", range.start(), range.end()),
                });
            }
            value
        };
        let disk = number("disk_percent", &input.disk_percent, 1..=100, false);
        let cert = number("cert_days", &input.cert_days, 1..=365, false);
        let clock = number("clock_ms", &input.clock_ms, 10..=600_000, false);
        let quiet_from = number("quiet_from_hour", &input.quiet_from_hour, 0..=23, true);
        let quiet_until = number("quiet_until_hour", &input.quiet_until_hour, 0..=23, true);
        let digest_hour = number("digest_hour", &input.digest_hour, 0..=23, false);
        if quiet_from.is_some() != quiet_until.is_some() {
            errors.push(FieldError { field: "quiet_until_hour".into(), message: "Give both hours, or neither".into() });
        }
        let timezone = input.timezone.trim();
        if timezone.parse::<chrono_tz::Tz>().is_err() {
            errors.push(FieldError {
                field: "timezone".into(),
                message: format!("{timezone:?} is not a time zone (like Europe/Zurich or UTC)"),
            });
        }
        let (Some(disk), Some(cert), Some(clock), Some(digest_hour)) = (disk, cert, clock, digest_hour) else {
            return Err(Error::InvalidFields { errors });
        };
        if !errors.is_empty() {
            return Err(Error::InvalidFields { errors });
        }
        let row = AlertSettingsRow {
            study_id: input.study_id,
            disk_percent: disk,
            cert_days: cert,
            clock_ms: clock,
            timezone: timezone.to_owned(),
            quiet_from_hour: quiet_from,
            quiet_until_hour: quiet_until,
            daily_digest: input.daily_digest.is_some(),
            digest_hour,
            last_digest_on: None,
        };
        self.store.save_alert_settings(&row, self.clock.now()).await?;
        let saved = self.settings(input.study_id).await?;
        self.audit_record(actor, &saved).await;
        Ok(saved)
    }

    async fn audit_record(&self, actor: &Actor, saved: &AlertSettings) {
        let detail = format!(
            "disk {}%, certificates {} days, clock {} ms, digest {}",
            saved.disk_percent, saved.cert_days, saved.clock_ms, saved.daily_digest
        );
        self.audit.record(actor, "alerts.settings_saved", &format!("study {}", saved.study_name), &detail).await;
    }

    /// Sends each study that asked for one its daily digest (once per local day, at or after
    /// its hour): what is open, acknowledged, and resolved in the last day.
    pub async fn digest(&self) -> Result<(), StoreError> {
        let now = self.clock.now();
        for settings in self.store.digest_settings().await? {
            let tz: chrono_tz::Tz = settings.timezone.parse().unwrap_or(chrono_tz::UTC);
            let local = now.with_timezone(&tz);
            let today = local.format("%Y-%m-%d").to_string();
            if i64::from(local.hour()) < settings.digest_hour || settings.last_digest_on.as_deref() == Some(&today) {
                continue;
            }
            if !self.store.claim_digest(settings.study_id, &today).await? {
                continue;
            }
            let study = self.store.study(settings.study_id, 0).await?;
            let alerts = self.store.alerts_for_digest(settings.study_id, now - Duration::days(1)).await?;
            let lines: Vec<String> =
                alerts.iter().map(|(state, severity, summary)| format!("- {state} ({severity}): {summary}")).collect();
            let open = alerts.iter().filter(|(state, ..)| state == "open").count();
            let subject = format!("[Steward] Daily digest for {}: {open} open alert(s)", study.name);
            let body = if lines.is_empty() { "Nothing to report.".to_owned() } else { lines.join("\n") };
            let text = format!("{body}\n\nAll alerts: {}/alerts\n", self.base_url);
            let html = format!(
                "<ul>{}</ul><p><a href=\"{}/alerts\">All alerts</a></p>",
                lines.iter().map(|l| format!("<li>{}</li>", escape(l.trim_start_matches("- ")))).collect::<String>(),
                escape(&self.base_url)
            );
            for to in self.store.alert_recipients(Some(settings.study_id), EVERYONE_TOLD).await? {
                if let Err(err) = self.mailer.queue(&to, &subject, &text, &html, None).await {
                    tracing::warn!(%to, error = %err, "could not queue a digest");
                }
            }
        }
        Ok(())
    }

    /// Mails the people of `level` about the alert (with an acknowledge link unless it is
    /// resolved; a resolved mail goes to everyone told so far).
    async fn notify(&self, id: i64, notice: Notice, level: i64) {
        let result = async {
            let alert = self.store.alert(id).await?;
            let mut recipients = Vec::new();
            let levels = if notice == Notice::Resolved { 0..=alert.escalation_level } else { level..=level };
            for step in levels {
                for to in self.recipients(alert.study_id, step).await? {
                    if !recipients.contains(&to) {
                        recipients.push(to);
                    }
                }
            }
            for to in recipients {
                let ((subject, text, html), link) = if notice == Notice::Resolved {
                    (self.resolved_mail(&alert), None)
                } else {
                    (self.opened_mail(&alert, ACK_LINK, notice), Some(id))
                };
                if let Err(err) = self.mailer.queue(&to, &subject, &text, &html, link).await {
                    tracing::warn!(alert = id, %to, error = %err, "could not queue an alert mail");
                }
            }
            if notice != Notice::Resolved {
                self.store.set_alert_notified(id, level, self.clock.now()).await?;
            }
            Ok::<_, StoreError>(())
        }
        .await;
        if let Err(err) = result {
            tracing::error!(alert = id, error = %err, "could not notify about an alert");
        }
    }

    fn opened_mail(&self, alert: &AlertRow, ack: &str, notice: Notice) -> (String, String, String) {
        let prefix = match notice {
            Notice::Escalated => "ESCALATED ",
            Notice::Reminder => "STILL OPEN ",
            Notice::Opened | Notice::Resolved => "",
        };
        let subject = format!("[Steward] {prefix}{}: {}", alert.severity.to_uppercase(), alert.summary);
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

    pub async fn list(&self, state: &str, visible: Option<&[i64]>) -> Result<Vec<AlertSummary>, Error> {
        Ok(self.store.list_alerts(state, visible).await?.iter().map(summary_of).collect())
    }

    pub async fn get(&self, id: i64) -> Result<AlertSummary, Error> {
        self.store.alert(id).await.map(|row| summary_of(&row)).or_not_found("The alert")
    }

    pub async fn acknowledge(&self, id: i64, by: &str) -> Result<AlertSummary, Error> {
        self.store.acknowledge_alert(id, by, self.clock.now()).await?;
        self.get(id).await
    }

    /// The alert an acknowledge link is for (to show before acknowledging).
    pub async fn link(&self, token: &str) -> Result<AlertSummary, Error> {
        let (id, _) =
            self.store.alert_of_link(&hash_token(token.trim()), self.clock.now()).await?.ok_or_else(|| {
                Error::invalid("token", "This link was used already or has expired; sign in to acknowledge")
            })?;
        self.get(id).await
    }

    /// Acknowledges with a mailed link: for that alert only, once.
    pub async fn acknowledge_by_link(&self, token: &str) -> Result<AlertSummary, Error> {
        let hash = hash_token(token.trim());
        let now = self.clock.now();
        let (id, recipient) = self.store.alert_of_link(&hash, now).await?.ok_or_else(|| {
            Error::invalid("token", "This link was used already or has expired; sign in to acknowledge")
        })?;
        if !self.store.use_alert_link(&hash, now).await? {
            return Err(Error::invalid("token", "This link was used already or has expired; sign in to acknowledge"));
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
