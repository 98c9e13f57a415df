//! Alerts: the list (open, acknowledged, resolved) with acknowledge, and the page a mailed
//! acknowledge link opens (no session needed; that alert only, once).

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::api::{AcknowledgeAlert, AcknowledgeByLink, alert_link, list_alerts};
use crate::components::{
    ButtonForm, DataTable, ErrorBanner, FormError, Loaded, LocalTime, PageHeader, last_error, successes,
};
use crate::contract::{AlertState, AlertSummary, Severity};

fn severity_class(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "badge badge-bad",
        Severity::Warning => "badge badge-warn",
        Severity::Info => "badge",
    }
}

fn state_class(state: AlertState) -> &'static str {
    match state {
        AlertState::Resolved => "badge badge-good",
        AlertState::Open => "badge badge-bad",
        AlertState::Acknowledged => "badge",
    }
}

#[component]
pub fn AlertsPage() -> impl IntoView {
    let query = use_query_map();
    let state = Memo::new(move |_| query.read().get("state").unwrap_or_else(|| "open".into()));
    // Narrowing within a state: by severity and by what the alert is about (rule or text).
    let severity = Memo::new(move |_| query.read().get("severity").unwrap_or_default());
    let search = Memo::new(move |_| query.read().get("q").unwrap_or_default());
    let ack = ServerAction::<AcknowledgeAlert>::new();
    let error = last_error(ack.value());
    let alerts = Resource::new(
        {
            let acked = successes(ack.value());
            move || (state.get(), acked.get())
        },
        |(state, _)| list_alerts(if state == "all" { String::new() } else { state }),
    );
    let tab = move |value: &'static str, label: &'static str| {
        view! {
            <a href=format!("/alerts?state={value}") aria-current=move || (state.get() == value).then_some("page")>{label}</a>
        }
    };
    let shown = move |a: &AlertSummary| {
        let (severity, search) = (severity.get(), search.get().to_lowercase());
        (severity.is_empty() || a.severity.as_str() == severity)
            && (search.is_empty() || a.rule.contains(&search) || a.summary.to_lowercase().contains(&search))
    };
    view! {
        <PageHeader title="Alerts" />
        <nav class="tabs" aria-label="Alert state">
            {tab("open", "Open")}{tab("acknowledged", "Acknowledged")}{tab("resolved", "Resolved")}{tab("all", "All")}
        </nav>
        <form method="get" action="/alerts" class="filters" role="search" data-test="alert-filters">
            <input type="hidden" name="state" value=move || state.get() />
            <div class="field"><label for="a-severity">"Severity"</label>
                <select id="a-severity" name="severity">
                    {[("", "any"), ("critical", "critical"), ("warning", "warning"), ("info", "info")].into_iter().map(|(value, label)| view! {
                        <option value=value selected=move || severity.get() == value>{label}</option>
                    }).collect_view()}
                </select></div>
            <div class="field"><label for="a-search">"About"</label>
                <input id="a-search" name="q" placeholder="disk, web01, Clinic…" value=move || search.get() /></div>
            <div class="form-actions"><button type="submit" class="button">"Filter"</button></div>
        </form>
        <FormError error />
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match alerts.await.map(|list| list.into_iter().filter(|a| shown(a)).collect::<Vec<_>>()) {
                    Ok(list) if list.is_empty() => view! { <p class="empty">"Nothing here. Steward raises alerts from host checks (unreachable hosts, changed keys, full disks, expiring certificates, clocks, reboots, stopped services), config drift, failed pushes and checks, and missed schedules."</p> }.into_any(),
                    Ok(list) => view! {
                        <DataTable test="alerts-table" columns=&["Severity", "Alert", "State", "Opened", ""]>
                            {list.into_iter().map(|a| view! { <AlertRow alert=a ack /> }).collect_view()}
                        </DataTable>
                    }.into_any(),
                    Err(error) => view! { <ErrorBanner error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn AlertRow(alert: AlertSummary, ack: ServerAction<AcknowledgeAlert>) -> impl IntoView {
    let open = alert.state == AlertState::Open;
    let state = match (&alert.acknowledged_by, alert.state) {
        (Some(by), AlertState::Acknowledged) => format!("acknowledged by {by}"),
        (_, state) => state.to_string(),
    };
    view! {
        <tr data-alert=alert.id.to_string()>
            <td><span class=severity_class(alert.severity)>{alert.severity.as_str()}</span></td>
            <td>
                {match alert.host_id {
                    Some(host) => view! { <a href=format!("/hosts/{host}")>{alert.summary.clone()}</a> }.into_any(),
                    None => view! { <span>{alert.summary.clone()}</span> }.into_any(),
                }}
                <div class="hint">{alert.detail.clone()}</div>
            </td>
            <td><span class=state_class(alert.state) data-test="alert-state">{state}</span></td>
            <td><LocalTime at=alert.opened_at /></td>
            <td class="row-actions">
                {open.then(|| view! {
                    <ButtonForm action=ack fields=vec![("alert_id", alert.id.to_string())] label="Acknowledge" class="button-small" />
                })}
            </td>
        </tr>
    }
}

/// Opened from the link in an alert mail: shows the alert, and acknowledges it on a click (a
/// mail scanner that follows the link acknowledges nothing).
#[component]
pub fn AcknowledgeLinkPage() -> impl IntoView {
    let query = use_query_map();
    let token = Memo::new(move |_| query.read().get("token").unwrap_or_default());
    let ack = ServerAction::<AcknowledgeByLink>::new();
    let error = last_error(ack.value());
    let alert = Resource::new(move || token.get(), alert_link);
    view! {
        <main class="content narrow">
            <leptos_meta::Title text="Acknowledge alert" />
            <h1>"Acknowledge alert"</h1>
            <FormError error />
            {move || ack.value().get().and_then(Result::ok).map(|a| view! {
                <p class="banner banner-success" role="status" data-test="acknowledged">{format!("Acknowledged: {}", a.summary)}</p>
            })}
            <Loaded resource=alert view=move |a| view! {
                            <section class="panel" data-test="alert">
                                <p><span class=severity_class(a.severity)>{a.severity.as_str()}</span>" "<strong>{a.summary.clone()}</strong></p>
                                <p>{a.detail.clone()}</p>
                                <p class="muted">"Opened "<LocalTime at=a.opened_at /></p>
                                <Show when=move || ack.value().get().is_none()>
                                    <ButtonForm action=ack fields=vec![("token", token.get_untracked())] label="Acknowledge" class="button-primary" />
                                </Show>
                            </section>
                        }.into_any() />
        </main>
    }
}
