//! Schedules: the list, one schedule with its editor and history, and the form that creates
//! one for a target, with a preview of its next five runs.

use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_params_map};

use crate::api::{DeleteSchedule, SaveSchedule, get_schedule, list_schedules, preview_schedule};
use crate::components::{
    DataTable, ErrorBanner, Field, FieldError, FormError, Loaded, LocalTime, PageHeader, last_error, successes,
};
use crate::contract::{JobState, ScheduleSummary};
use crate::pages::jobs::JobStateBadge;
use crate::pages::jobs::{JobKindSelect, takes_argv};

#[component]
pub fn SchedulesPage() -> impl IntoView {
    let schedules = Resource::new(|| (), |_| list_schedules());
    view! {
        <PageHeader title="Schedules" />
        <p class="lead">"Jobs that run on their own. Create one from an instance's page."</p>
        <Loaded resource=schedules view=move |value| match value {
                    list if list.is_empty() => view! {
                        <p class="empty">"No schedules yet. Open an instance and use Schedule a job."</p>
                    }.into_any(),
                    list => view! {
                        <DataTable test="schedules-table" columns=&["Schedule", "What", "On", "When", "Next run", "Enabled"]>
                            {list.into_iter().map(|s| view! {
                                <tr data-schedule=s.name.clone()>
                                    <td><a href=format!("/schedules/{}", s.id)>{s.name.clone()}</a></td>
                                    <td>{s.title.clone()}</td>
                                    <td>{format!("{} {}", s.target_kind, s.target_name)}</td>
                                    <td><code>{s.cron.clone()}</code>{format!(" ({})", s.timezone)}</td>
                                    <td>{s.next_due_at.map(|at| view! { <LocalTime at /> })}</td>
                                    <td>{if s.enabled { "yes" } else { "no" }}</td>
                                </tr>
                            }).collect_view()}
                        </DataTable>
                    }.into_any(),
                } />
    }
}

#[component]
pub fn SchedulePage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").and_then(|id| id.parse::<i64>().ok()).unwrap_or_default();
    let save = ServerAction::<SaveSchedule>::new();
    let delete = ServerAction::<DeleteSchedule>::new();
    let schedule = Resource::new(
        {
            let saved = successes(save.value());
            move || (id(), saved.get())
        },
        |(id, _)| get_schedule(id),
    );
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(())) = delete.value().get() {
            navigate("/schedules", Default::default());
        }
    });
    let delete_error = last_error(delete.value());
    view! {
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match schedule.await {
                    Ok(s) => {
                        let title = format!("Schedule: {}", s.name);
                        let id = s.id;
                        view! {
                            <leptos_meta::Title text=title.clone() />
                            <header class="page-header"><h1>{title}</h1></header>
                            <section class="panel">
                                <dl class="facts">
                                    <dt>"Runs"</dt><dd>{format!("{} on {} {}", s.title, s.target_kind, s.target_name)}</dd>
                                    <dt>"When"</dt><dd><code>{s.cron.clone()}</code>{format!(" in {}", s.timezone)}</dd>
                                    <dt>"Missed runs"</dt><dd>{if s.catch_up == "once" { "run once when Steward is back" } else { "skipped" }}</dd>
                                </dl>
                                <h3>"Next runs"</h3>
                                <ul class="upcoming">{s.upcoming.iter().map(|at| view! { <li><LocalTime at=*at /></li> }).collect_view()}</ul>
                            </section>
                            <section class="panel">
                                <h2>"History"</h2>
                                {if s.runs.is_empty() {
                                    view! { <p class="empty">"It has not come due yet."</p> }.into_any()
                                } else {
                                    let runs = s.runs.clone();
                                    view! {
                                        <DataTable test="schedule-runs" columns=&["Due", "Outcome", "Job"]>
                                            {runs.iter().map(|r| view! {
                                                <tr>
                                                    <td><LocalTime at=r.due_at /></td>
                                                    <td>{r.outcome.clone()}</td>
                                                    <td>{r.job_id.map(|job| view! {
                                                        <a href=format!("/jobs/{job}")>{format!("#{job}")}</a>" "
                                                        <JobStateBadge state=r.job_state.map_or("", JobState::as_str) />
                                                    })}</td>
                                                </tr>
                                            }).collect_view()}
                                        </DataTable>
                                    }.into_any()
                                }}
                            </section>
                            <section class="panel">
                                <h2>"Edit"</h2>
                                <ScheduleForm save current=s.clone() target_kind=s.target_kind.clone() target_id=s.target_id />
                            </section>
                            <section class="panel">
                                <h2>"Delete"</h2>
                                <FormError error=delete_error />
                                <p>"Past jobs stay in the jobs list. Type the schedule's name to confirm."</p>
                                <ActionForm action=delete attr:class="form form-inline">
                                    <input type="hidden" name="schedule_id" value=id.to_string() />
                                    <Field label="Schedule name" name="confirm" error=delete_error />
                                    <button type="submit" class="button button-danger">"Delete this schedule"</button>
                                </ActionForm>
                            </section>
                        }.into_any()
                    }
                    Err(error) => view! { <PageHeader title="Schedule" /><ErrorBanner error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// Creates a schedule for a target from its page, then opens it.
#[component]
pub fn NewSchedule(target_kind: &'static str, target_id: i64) -> impl IntoView {
    let save = ServerAction::<SaveSchedule>::new();
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(schedule)) = save.value().get() {
            navigate(&format!("/schedules/{}", schedule.id), Default::default());
        }
    });
    view! { <ScheduleForm save target_kind=target_kind.to_owned() target_id=Some(target_id) /> }
}

/// The schedule editor: name, job, cron and time zone (with the next five runs), catch-up,
/// jitter, enabled.
#[component]
fn ScheduleForm(
    save: ServerAction<SaveSchedule>,
    #[prop(optional)] current: Option<ScheduleSummary>,
    target_kind: String,
    target_id: Option<i64>,
) -> impl IntoView {
    let error = last_error(save.value());
    let c = current.clone().unwrap_or(ScheduleSummary {
        id: 0,
        name: String::new(),
        kind: "facts".into(),
        title: String::new(),
        target_kind: target_kind.clone(),
        target_id,
        target_name: String::new(),
        study_id: None,
        cron: "0 * * * *".into(),
        timezone: "UTC".into(),
        enabled: true,
        catch_up: "once".into(),
        jitter_secs: 0,
        next_due_at: None,
        upcoming: Vec::new(),
        runs: Vec::new(),
        argv: String::new(),
    });
    let kind = RwSignal::new(c.kind.clone());
    let cron = RwSignal::new(c.cron.clone());
    let zone = RwSignal::new(c.timezone.clone());
    // Filled in the browser only (as the expression is typed), so the page hydrates as served.
    let preview = RwSignal::new(None::<Result<Vec<chrono::DateTime<chrono::Utc>>, crate::contract::AppError>>);
    Effect::new(move |_| {
        let (cron, zone) = (cron.get(), zone.get());
        leptos::task::spawn_local(async move {
            preview.try_set(Some(preview_schedule(cron, zone).await));
        });
    });
    let argv = StoredValue::new(c.argv.clone());
    view! {
        <FormError error />
        <ActionForm action=save attr:class="form form-grid" attr:data-test="schedule-form">
            {current.as_ref().map(|s| view! { <input type="hidden" name="schedule_id" value=s.id.to_string() /> })}
            <input type="hidden" name="input[target_kind]" value=target_kind.clone() />
            {target_id.map(|id| view! { <input type="hidden" name="input[target_id]" value=id.to_string() /> })}
            <div class="field">
                <label for="s-name">"Name"</label>
                <input id="s-name" name="input[name]" value=c.name.clone() required />
                <FieldError error field="name" input=Some("s-name") />
            </div>
            <div class="field">
                <label for="s-kind">"Job"</label>
                <JobKindSelect id="s-kind" name="input[kind]" selected=kind />
            </div>
            <div class="field">
                <label for="s-cron">"When (cron)"</label>
                <input id="s-cron" name="input[cron]" value=c.cron.clone() on:input=move |ev| cron.set(event_target_value(&ev)) />
                <p class="hint">"minute hour day month weekday, like 30 2 * * * (02:30 daily)"</p>
                <FieldError error field="cron" input=Some("s-cron") />
            </div>
            <div class="field">
                <label for="s-zone">"Time zone"</label>
                <input id="s-zone" name="input[timezone]" value=c.timezone.clone() on:input=move |ev| zone.set(event_target_value(&ev)) />
                <FieldError error field="timezone" input=Some("s-zone") />
            </div>
            <div class="field">
                <label for="s-catch-up">"Runs missed while Steward was down"</label>
                <select id="s-catch-up" name="input[catch_up]">
                    <option value="once" selected=c.catch_up == "once">"run once"</option>
                    <option value="skip" selected=c.catch_up == "skip">"skip"</option>
                </select>
            </div>
            <div class="field">
                <label for="s-jitter">"Random delay up to (seconds)"</label>
                <input id="s-jitter" name="input[jitter_secs]" inputmode="numeric" value=c.jitter_secs.to_string() />
                <FieldError error field="jitter_secs" input=Some("s-jitter") />
            </div>
            <div class="field field-check">
                <label><input type="checkbox" name="input[enabled]" value="on" checked=c.enabled />" Enabled"</label>
            </div>
            <Show when=move || takes_argv(&kind.get())>
                <div class="field field-wide">
                    <label for="s-argv">"Program and arguments, one per line (no shell)"</label>
                    <textarea id="s-argv" name="input[argv]" rows="3">{crate::components::escape_raw_text(&argv.get_value())}</textarea>
                    <FieldError error field="argv" input=Some("s-argv") />
                </div>
            </Show>
            <div class="field field-wide" data-test="schedule-preview">
                <span class="hint">"Next runs: "</span>
                {move || match preview.get() {
                    Some(Ok(times)) => view! {
                        <ul class="upcoming">{times.into_iter().map(|at| view! { <li><LocalTime at /></li> }).collect_view()}</ul>
                    }.into_any(),
                    Some(Err(error)) => view! { <p class="field-error">{error.to_string()}</p> }.into_any(),
                    None => ().into_any(),
                }}
            </div>
            <div class="form-actions"><button type="submit" class="button button-primary">"Save schedule"</button></div>
        </ActionForm>
    }
    .into_any()
}
