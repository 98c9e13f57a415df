//! A study's alert settings: thresholds for the fact rules, quiet hours for non-critical alerts
//! and the daily digest.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use crate::api::{SaveAlertSettings, get_alert_settings};
use crate::components::{Field, FormError, Loaded, last_error, successes};
use crate::contract::AlertSettings;

#[component]
pub fn AlertSettingsPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").and_then(|id| id.parse::<i64>().ok()).unwrap_or_default();
    let save = ServerAction::<SaveAlertSettings>::new();
    let settings = Resource::new(
        {
            let saved = successes(save.value());
            move || (id(), saved.get())
        },
        |(id, _)| get_alert_settings(id),
    );
    view! {
        <Loaded resource=settings view=move |settings| view! { <SettingsForm settings save /> }.into_any() />
    }
}

#[component]
fn SettingsForm(settings: AlertSettings, save: ServerAction<SaveAlertSettings>) -> impl IntoView {
    let title = format!("Alert settings: {}", settings.study_name);
    let error = last_error(save.value());
    let hour = |h: Option<i64>| h.map(|h| h.to_string()).unwrap_or_default();
    let saved = move || {
        matches!(save.value().get(), Some(Ok(_)))
            .then(|| view! { <p class="banner banner-ok" role="status">"Saved"</p> })
    };
    view! {
        <leptos_meta::Title text=title.clone() />
        <header class="page-header">
            <h1>{title}</h1>
            <div class="page-actions">
                <a href=format!("/studies/{}/rota", settings.study_id)>"On-call rota"</a>
                <a href=format!("/studies/{}", settings.study_id)>"Back to the study"</a>
            </div>
        </header>
        <section class="panel">
            {saved}
            <FormError error />
            <ActionForm action=save attr:class="form form-grid" attr:data-test="alert-settings">
                <input type="hidden" name="input[study_id]" value=settings.study_id.to_string() />
                <Field label="Disk use alert at (%)" name="input[disk_percent]" id="as-disk" inputmode="numeric" value=settings.disk_percent.to_string() error=error />
                <Field label="Certificate expiry alert (days before)" name="input[cert_days]" id="as-cert" inputmode="numeric" value=settings.cert_days.to_string() error=error />
                <Field label="Clock offset alert (ms)" name="input[clock_ms]" id="as-clock" inputmode="numeric" value=settings.clock_ms.to_string() error=error />
                <Field label="Time zone" name="input[timezone]" id="as-tz" value=settings.timezone.clone() error=error />
                <Field label="Quiet from (hour)" name="input[quiet_from_hour]" id="as-quiet-from" inputmode="numeric" value=hour(settings.quiet_from_hour) hint="Warnings and info opened in quiet hours are mailed when they end; critical alerts always go out." error=error />
                <Field label="Quiet until (hour)" name="input[quiet_until_hour]" id="as-quiet-until" inputmode="numeric" value=hour(settings.quiet_until_hour) error=error />
                <div class="field field-check">
                    <label><input type="checkbox" name="input[daily_digest]" value="on" checked=settings.daily_digest />" Mail a daily digest"</label>
                </div>
                <Field label="Digest at (hour)" name="input[digest_hour]" id="as-digest" inputmode="numeric" value=settings.digest_hour.to_string() error=error />
                <div class="form-actions"><button type="submit" class="button button-primary">"Save"</button></div>
            </ActionForm>
        </section>
    }
}
