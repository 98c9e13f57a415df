//! Per-study alert settings: thresholds, quiet hours, the daily digest.

use super::*;

impl Alerts {
    /// A study's alert settings as stored, or the defaults.
    pub(super) async fn settings_row(&self, study_id: i64) -> Result<AlertSettingsRow, StoreError> {
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

    pub(super) async fn audit_record(&self, actor: &Actor, saved: &AlertSettings) {
        let detail = format!(
            "disk {}%, certificates {} days, clock {} ms, digest {}",
            saved.disk_percent, saved.cert_days, saved.clock_ms, saved.daily_digest
        );
        self.audit.record(actor, "alerts.settings_saved", &format!("study {}", saved.study_name), &detail).await;
    }
}
