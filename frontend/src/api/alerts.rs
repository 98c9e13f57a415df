//! Alerts, acknowledge links and per-study alert settings.

use leptos::prelude::*;

#[cfg(feature = "ssr")]
#[allow(unused_imports)]
use super::glue::*;
#[allow(unused_imports)]
use crate::contract::*;

#[server(prefix = "/api", endpoint = "list_alerts")]
pub async fn list_alerts(state: String) -> Result<Vec<AlertSummary>, AppError> {
    run("list_alerts", Scope::Global, |b, _, caller| async move { b.list_alerts(&caller, state).await }).await
}

#[server(prefix = "/api", endpoint = "acknowledge_alert")]
pub async fn acknowledge_alert(alert_id: i64) -> Result<AlertSummary, AppError> {
    run("acknowledge_alert", Scope::Alert(alert_id), |b, _, caller| async move {
        b.acknowledge_alert(&caller, alert_id).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "alert_link")]
pub async fn alert_link(token: String) -> Result<AlertSummary, AppError> {
    run("alert_link", Scope::Global, |b, _, _| async move { b.alert_link(token).await }).await
}

#[server(prefix = "/api", endpoint = "acknowledge_by_link")]
pub async fn acknowledge_by_link(token: String) -> Result<AlertSummary, AppError> {
    run("acknowledge_by_link", Scope::Global, |b, _, _| async move { b.acknowledge_by_link(token).await }).await
}

/// The rota's scope: a study's (managed by its admins), or the global one (`0`, admins').

#[server(prefix = "/api", endpoint = "get_alert_settings")]
pub async fn get_alert_settings(study_id: i64) -> Result<AlertSettings, AppError> {
    run("get_alert_settings", Scope::Study(study_id), |b, _, caller| async move {
        b.get_alert_settings(&caller, study_id).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "save_alert_settings")]
pub async fn save_alert_settings(input: AlertSettingsInput) -> Result<AlertSettings, AppError> {
    run("save_alert_settings", Scope::Study(input.study_id), |b, _, caller| async move {
        b.save_alert_settings(&caller, input).await
    })
    .await
}
