//! Settings (admins): how Steward itself is doing. The Workers panel lists each background
//! worker (job runner, scheduler, mail, alert rules, session sweeper, SSH idle closer) with
//! its state, last run and last error.

use leptos::prelude::*;

use crate::api::list_workers;
use crate::components::{DataTable, Loaded, LocalTime, PageHeader};
use crate::contract::WorkerState;

fn state_class(state: WorkerState) -> &'static str {
    match state {
        WorkerState::Idle | WorkerState::Busy => "badge badge-good",
        WorkerState::BackingOff | WorkerState::Stopped => "badge badge-bad",
        WorkerState::Starting => "badge",
    }
}

#[component]
pub fn SettingsPage() -> impl IntoView {
    let workers = Resource::new(|| (), |_| list_workers());
    view! {
        <PageHeader title="Settings" />
        <section class="panel">
            <h2>"Workers"</h2>
            <p class="muted">"Steward's background work in this process. A worker backing off tries again after the pause shown; its last error stays here until the next one."</p>
            <Loaded resource=workers view=move |list| view! {
                            <DataTable test="workers-table" columns=&["Worker", "State", "Last run", "Runs", "Last error"]>
                                {list.into_iter().map(|w| view! {
                                    <tr data-worker=w.name.clone()>
                                        <td><strong>{w.name.clone()}</strong><br /><span class="muted">{w.description.clone()}</span></td>
                                        <td><span class=state_class(w.state) data-test="worker-state">{w.state.as_str()}</span>
                                            {w.backoff_secs.filter(|s| *s > 0).map(|s| view! { " · again in " {s} " s" })}</td>
                                        <td>{w.last_run_at.map(|at| view! { <LocalTime at /> })}</td>
                                        <td>{w.runs}</td>
                                        <td data-test="worker-error">{w.last_error.clone().unwrap_or_default()}
                                            {w.last_error_at.map(|at| view! { " (" <LocalTime at /> ")" })}</td>
                                    </tr>
                                }).collect_view()}
                            </DataTable>
                        }.into_any() />
        </section>
    }
    .into_any()
}
