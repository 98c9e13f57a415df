//! A study's alert settings: thresholds for the fact rules, quiet hours for non-critical alerts
//! and the daily digest.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use crate::api::{SaveAlertSettings, get_alert_settings};
use crate::components::{FieldError, FormError, Loaded, last_error, successes};
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
                <div class="field">
                    <label for="as-disk">"Disk use alert at (%)"</label>
                    <input id="as-disk" name="input[disk_percent]" inputmode="numeric" value=settings.disk_percent.to_string() />
                    <FieldError error=error field="disk_percent" />
                </div>
                <div class="field">
                    <label for="as-cert">"Certificate expiry alert (days before)"</label>
                    <input id="as-cert" name="input[cert_days]" inputmode="numeric" value=settings.cert_days.to_string() />
                    <FieldError error=error field="cert_days" />
                </div>
                <div class="field">
                    <label for="as-clock">"Clock offset alert (ms)"</label>
                    <input id="as-clock" name="input[clock_ms]" inputmode="numeric" value=settings.clock_ms.to_string() />
                    <FieldError error=error field="clock_ms" />
                </div>
                <div class="field">
                    <label for="as-tz">"Time zone"</label>
                    <input id="as-tz" name="input[timezone]" value=settings.timezone.clone() />
                    <FieldError error=error field="timezone" />
                </div>
                <div class="field">
                    <label for="as-quiet-from">"Quiet from (hour)"</label>
                    <input id="as-quiet-from" name="input[quiet_from_hour]" inputmode="numeric" value=hour(settings.quiet_from_hour) />
                    <p class="hint">"Warnings and info opened in quiet hours are mailed when they end; critical alerts always go out."</p>
                    <FieldError error=error field="quiet_from_hour" />
                </div>
                <div class="field">
                    <label for="as-quiet-until">"Quiet until (hour)"</label>
                    <input id="as-quiet-until" name="input[quiet_until_hour]" inputmode="numeric" value=hour(settings.quiet_until_hour) />
                    <FieldError error=error field="quiet_until_hour" />
                </div>
                <div class="field field-check">
                    <label><input type="checkbox" name="input[daily_digest]" value="on" checked=settings.daily_digest />" Mail a daily digest"</label>
                </div>
                <div class="field">
                    <label for="as-digest">"Digest at (hour)"</label>
                    <input id="as-digest" name="input[digest_hour]" inputmode="numeric" value=settings.digest_hour.to_string() />
                    <FieldError error=error field="digest_hour" />
                </div>
                <div class="form-actions"><button type="submit" class="button button-primary">"Save"</button></div>
            </ActionForm>
        </section>
    }
}
