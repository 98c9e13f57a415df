//! Who hears of an alert and when: the on-call rota with escalation and reminders, quiet
//! hours, the daily digest, acknowledging (signed in or by a mailed link).

use super::*;

/// Whether `at` falls in the study's quiet hours (which may wrap past midnight).
pub(super) fn quiet_at(settings: &AlertSettingsRow, at: chrono::DateTime<Utc>) -> bool {
    let (Some(from), Some(until)) = (settings.quiet_from_hour, settings.quiet_until_hour) else { return false };
    let tz: chrono_tz::Tz = settings.timezone.parse().unwrap_or(chrono_tz::UTC);
    let hour = i64::from(at.with_timezone(&tz).hour());
    if from <= until { (from..until).contains(&hour) } else { hour >= from || hour < until }
}

pub(super) fn title(rule: &str) -> &'static str {
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

pub(super) fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

impl Alerts {
    /// Whom to tell at an escalation level: with a rota, the primary (0), the secondary (1),
    /// then the study's admins (2); without one, everyone at once (study admins, on-call
    /// members and admins).
    pub(super) async fn recipients(&self, study_id: Option<i64>, level: i64) -> Result<Vec<String>, StoreError> {
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
    pub(super) async fn notify(&self, id: i64, notice: Notice, level: i64) {
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

    pub(super) fn opened_mail(&self, alert: &AlertRow, ack: &str, notice: Notice) -> (String, String, String) {
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

    pub(super) fn resolved_mail(&self, alert: &AlertRow) -> (String, String, String) {
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
