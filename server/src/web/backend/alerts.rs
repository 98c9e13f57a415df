//! Alerts, acknowledge links and per-study alert settings.

use super::*;

#[async_trait]
impl AlertsApi for WebBackend {
    async fn get_alert_settings(&self, _caller: &Caller, study_id: i64) -> Result<AlertSettings> {
        Ok(self.state.alerts.settings(study_id).await?)
    }

    async fn save_alert_settings(&self, caller: &Caller, input: AlertSettingsInput) -> Result<AlertSettings> {
        Ok(self.state.alerts.save_settings(&actor(caller), input).await?)
    }

    async fn list_alerts(&self, caller: &Caller, state: String) -> Result<Vec<AlertSummary>> {
        let visible = self.visible_studies(caller).await?;
        Ok(self.state.alerts.list(state.trim(), visible.as_deref()).await?)
    }

    async fn acknowledge_alert(&self, caller: &Caller, alert_id: i64) -> Result<AlertSummary> {
        let who = caller.user.as_ref().map_or_else(|| "someone".to_owned(), |u| u.username.clone());
        let alert = self.state.alerts.acknowledge(alert_id, &who).await?;
        self.state
            .audit
            .record(&actor(caller), "alert.acknowledged", &format!("alert {alert_id}"), &alert.summary)
            .await;
        Ok(alert)
    }

    async fn alert_link(&self, token: String) -> Result<AlertSummary> {
        Ok(self.state.alerts.link(&token).await?)
    }

    async fn acknowledge_by_link(&self, token: String) -> Result<AlertSummary> {
        let alert = self.state.alerts.acknowledge_by_link(&token).await?;
        let by = alert.acknowledged_by.clone().unwrap_or_default();
        self.state.audit.record(&Actor::system(), "alert.acknowledged", &format!("alert {}", alert.id), &by).await;
        Ok(alert)
    }
}
