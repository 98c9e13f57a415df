//! The rules: what each host's last check says (unreachable, host key changed, disk,
//! certificate, clock, reboot, units down), and failed background work; an alert per rule and
//! target while the condition lasts.

use super::notify::{quiet_at, title};
use super::*;

/// (rule, severity, what is wrong)
type Finding = (&'static str, &'static str, String);

pub(super) fn findings(host: &HostForAlerts, now: chrono::DateTime<Utc>) -> Vec<Finding> {
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

impl Alerts {
    /// Opens, refreshes and resolves host alerts from the hosts' last checks.
    pub async fn evaluate_hosts(&self) -> Result<(), StoreError> {
        self.evaluate(None).await
    }

    /// The same for one host, right after it was checked.
    pub async fn evaluate_host(&self, host_id: i64) -> Result<(), StoreError> {
        self.evaluate(Some(host_id)).await
    }

    pub(super) async fn evaluate(&self, only: Option<i64>) -> Result<(), StoreError> {
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
    pub(super) async fn opened(&self, id: i64, rule: &str, target_key: &str) {
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
}
