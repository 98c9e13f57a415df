//! Jobs: the list (filter by kind, state, study, target, time), one job with its progress bar,
//! per-host table and live log, and the form that starts a job on a target.

use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_params_map, use_query_map};

use crate::api::{CancelJob, StartJob, get_job, list_jobs};
use crate::components::{
    ButtonForm, DataTable, ErrorBanner, FormError, Loaded, LocalTime, PageHeader, last_error, percent_encode, successes,
};
use crate::contract::{JobHostResult, JobKindSummary, JobQuery, JobState, JobSummary, LogLine};

/// A job's state, or one host's part in it (which may also be "skipped"), as a badge.
fn state_class(state: &str) -> &'static str {
    match state {
        "succeeded" => "badge badge-good",
        "failed" | "interrupted" => "badge badge-bad",
        _ => "badge",
    }
}

#[component]
pub fn JobStateBadge(state: &'static str) -> impl IntoView {
    view! { <span class=state_class(state) data-state=state>{state}</span> }
}

fn jobs_link(query: &JobQuery) -> String {
    let pairs = [
        ("kind", &query.kind),
        ("state", &query.state),
        ("study", &query.study),
        ("target", &query.target),
        ("hours", &query.hours),
    ];
    let mut link = String::from("/jobs?");
    for (key, value) in pairs.into_iter().filter(|(_, v)| !v.is_empty()) {
        link.push_str(&format!("{key}={}&", percent_encode(value)));
    }
    link.push_str(&format!("page={}", query.page));
    link
}

#[component]
pub fn JobsPage() -> impl IntoView {
    let query_map = use_query_map();
    let query = Memo::new(move |_| {
        let map = query_map.read();
        let get = |key: &str| map.get(key).unwrap_or_default();
        JobQuery {
            kind: get("kind"),
            state: get("state"),
            study: get("study"),
            target: get("target"),
            hours: get("hours"),
            page: get("page").parse().unwrap_or(0),
        }
    });
    let jobs = Resource::new(move || query.get(), list_jobs);
    view! {
        <PageHeader title="Jobs" />
        <form method="get" action="/jobs" class="filters" role="search">
            <div class="field"><label for="f-kind">"Kind"</label>
                <JobKindSelect id="f-kind" name="kind" any=true selected=RwSignal::new(query.get_untracked().kind) /></div>
            <div class="field"><label for="f-state">"State"</label>
                <select id="f-state" name="state">
                    <option value="">"any"</option>
                    {JobState::ALL.iter().map(|&s| view! {
                        <option value=s.as_str() selected=move || query.get().state == s.as_str()>{s.as_str()}</option>
                    }).collect_view()}
                </select></div>
            <div class="field"><label for="f-target">"Target"</label>
                <input id="f-target" name="target" value=move || query.get().target /></div>
            <div class="field"><label for="f-hours">"Last hours"</label>
                <input id="f-hours" name="hours" inputmode="numeric" value=move || query.get().hours /></div>
            <div class="field"><button type="submit" class="button">"Filter"</button></div>
        </form>
        <Loaded resource=jobs view=move |value| match value {
                    page if page.items.is_empty() => view! {
                        <p class="empty">"No jobs yet. Start one from an instance's page (Check facts, Run a command), or schedule one."</p>
                    }.into_any(),
                    page => {
                        let q = query.get_untracked();
                        let page_count = page.page_count();
                        let (current, total) = (page.page, page.total);
                        let nav = move |to: u32| jobs_link(&JobQuery { page: to, ..q.clone() });
                        view! {
                            <DataTable test="jobs-table" columns=&["Job", "What", "On", "State", "Hosts", "Requested", "By"]>
                                {page.items.into_iter().map(|job| view! {
                                    <tr data-job=job.id.to_string()>
                                        <td><a href=format!("/jobs/{}", job.id)>{format!("#{}", job.id)}</a></td>
                                        <td>{job.title.clone()}</td>
                                        <td>{format!("{} {}", job.target_kind, job.target_name)}</td>
                                        <td><JobStateBadge state=job.state.as_str() /></td>
                                        <td>{(job.total > 0).then(|| format!("{}/{} ({} failed)", job.done, job.total, job.failed))}</td>
                                        <td><LocalTime at=job.created_at /></td>
                                        <td>{job.requested_by.clone()}</td>
                                    </tr>
                                }).collect_view()}
                            </DataTable>
                            <nav class="pagination" aria-label="Pages">
                                <span>{format!("{total} jobs · page {} of {page_count}", current + 1)}</span>
                                {(current > 0).then(|| view! { <a href=nav(current - 1)>"Previous"</a> })}
                                {(current + 1 < page_count).then(|| view! { <a href=nav(current + 1)>"Next"</a> })}
                            </nav>
                        }.into_any()
                    }
                } />
    }
}

#[component]
pub fn JobPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").and_then(|id| id.parse::<i64>().ok()).unwrap_or_default();
    let cancel = ServerAction::<CancelJob>::new();
    let detail = Resource::new(
        {
            let cancelled = successes(cancel.value());
            move || (id(), cancelled.get())
        },
        |(id, _)| get_job(id),
    );
    view! {
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Ok(detail) => view! {
                        <LiveJob job=detail.job hosts=detail.hosts log=detail.log can_cancel=detail.can_cancel cancel />
                    }.into_any(),
                    Err(error) => view! { <PageHeader title="Job" /><ErrorBanner error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// A job that updates itself from the server's event stream while it runs.
#[component]
fn LiveJob(
    job: JobSummary,
    hosts: Vec<JobHostResult>,
    log: Vec<LogLine>,
    can_cancel: bool,
    cancel: ServerAction<CancelJob>,
) -> impl IntoView {
    let job_id = job.id;
    let title = format!("{} #{}", job.title, job.id);
    let summary = RwSignal::new(job);
    let hosts = RwSignal::new(hosts);
    let lines = RwSignal::new(log);
    let ended = RwSignal::new(false);
    let error = last_error(cancel.value());
    Effect::new(move |_| {
        let after = lines.with_untracked(|l| l.last().map_or(0, |l| l.seq));
        follow(job_id, after, summary, hosts, lines, ended);
    });
    let percent = move || summary.with(|j| if j.total > 0 { (j.done * 100 / j.total).to_string() } else { "0".into() });
    view! {
        <leptos_meta::Title text=title.clone() />
        <header class="page-header">
            <h1>{title}</h1>
            <div class="page-actions">
                <Show when=move || can_cancel && !summary.with(JobSummary::finished)>
                    <ButtonForm action=cancel fields=vec![("job_id", job_id.to_string())] label="Cancel job" class="button-danger" />
                </Show>
            </div>
        </header>
        <FormError error />
        <section class="panel" data-test="job-summary">
            <dl class="facts">
                <dt>"State"</dt><dd data-test="job-state">{move || view! { <JobStateBadge state=summary.with(|j| j.state.as_str()) /> }}</dd>
                <dt>"On"</dt><dd>{move || summary.with(|j| format!("{} {}", j.target_kind, j.target_name))}</dd>
                <dt>"Requested by"</dt><dd>{move || summary.with(|j| j.requested_by.clone())}</dd>
                <dt>"Attempt"</dt><dd>{move || summary.with(|j| format!("{} of {}", j.attempts, j.max_attempts))}</dd>
                <dt>"Result"</dt><dd data-test="job-result">{move || summary.with(|j| j.summary.clone())}</dd>
            </dl>
            <div class="check-now">
                <progress max="100" value=percent aria-label="Hosts done"></progress>
                <span role="status" data-test="job-progress" data-ended=move || ended.get().to_string()>
                    {move || summary.with(|j| format!(
                        "{} of {} done · {} failed · {} remaining",
                        j.done, j.total, j.failed, (j.total - j.done).max(0)
                    ))}
                </span>
            </div>
        </section>
        <section class="panel">
            <h2>"Hosts"</h2>
            <DataTable test="job-hosts" columns=&["Host", "State", "Result"]>
                <For each=move || hosts.get() key=|h| (h.host_id, h.state, h.message.clone()) let:host>
                    <tr data-host=host.host_name.clone()>
                        <td><a href=format!("/hosts/{}", host.host_id)>{host.host_name.clone()}</a></td>
                        <td><JobStateBadge state=host.state.as_str() /></td>
                        <td>{host.message.clone()}</td>
                    </tr>
                </For>
            </DataTable>
        </section>
        <section class="panel">
            <div class="section-header">
                <h2>"Log"</h2>
                <a href=format!("/jobs/{job_id}/log.txt") download="" rel="external">"Download log"</a>
            </div>
            <pre class="log" data-test="job-log" aria-live="polite">
                {move || lines.with(|l| l.iter().map(|l| format!("{}  {}\n", l.at.format("%H:%M:%S"), l.line)).collect::<String>())}
            </pre>
        </section>
    }
    .into_any()
}

/// Follows the job's event stream (in the browser only), resuming after line `after`.
#[allow(unused_variables)]
fn follow(
    job_id: i64,
    after: i64,
    summary: RwSignal<JobSummary>,
    hosts: RwSignal<Vec<JobHostResult>>,
    lines: RwSignal<Vec<LogLine>>,
    ended: RwSignal<bool>,
) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        use wasm_bindgen::closure::Closure;

        #[derive(serde::Deserialize)]
        struct Progress {
            job: JobSummary,
            hosts: Vec<JobHostResult>,
        }

        let Ok(source) = web_sys::EventSource::new(&format!("/jobs/{job_id}/events?after={after}")) else { return };
        let data = |event: &web_sys::MessageEvent| event.data().as_string().unwrap_or_default();
        let on_line = {
            let source = source.clone();
            Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |event: web_sys::MessageEvent| {
                if let Ok(line) = serde_json::from_str::<LogLine>(&data(&event)) {
                    let fresh = lines.try_update(|l| {
                        if l.last().is_none_or(|last| last.seq < line.seq) {
                            l.push(line);
                        }
                    });
                    // The page is gone: stop listening.
                    if fresh.is_none() {
                        source.close();
                    }
                }
            })
        };
        let on_progress = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |event: web_sys::MessageEvent| {
            if let Ok(progress) = serde_json::from_str::<Progress>(&data(&event)) {
                summary.try_set(progress.job);
                hosts.try_set(progress.hosts);
            }
        });
        let on_end = {
            let source = source.clone();
            Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |_: web_sys::MessageEvent| {
                source.close();
                ended.try_set(true);
            })
        };
        for (name, callback) in [("line", &on_line), ("progress", &on_progress), ("end", &on_end)] {
            let _ = source.add_event_listener_with_callback(name, callback.as_ref().unchecked_ref());
        }
        on_line.forget();
        on_progress.forget();
        on_end.forget();
    }
}

/// Starts a job on a target (an instance, a host, a study) and opens its page.
#[component]
pub fn StartJob(target_kind: &'static str, target_id: i64) -> impl IntoView {
    let start = ServerAction::<StartJob>::new();
    let error = last_error(start.value());
    let kind = RwSignal::new("facts".to_owned());
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(job)) = start.value().get() {
            navigate(&format!("/jobs/{}", job.id), Default::default());
        }
    });
    view! {
        <FormError error />
        <ActionForm action=start attr:class="form form-grid" attr:data-test="start-job">
            <input type="hidden" name="input[target_kind]" value=target_kind />
            <input type="hidden" name="input[target_id]" value=target_id.to_string() />
            <div class="field">
                <label for="job-kind">"Job"</label>
                <JobKindSelect id="job-kind" name="input[kind]" selected=kind />
            </div>
            <div class="field">
                <label for="job-batch">"Hosts at once"</label>
                <input id="job-batch" name="input[batch_size]" inputmode="numeric" placeholder="10" />
            </div>
            <div class="field field-check">
                <label><input type="checkbox" name="input[stop_on_failure]" value="on" />" Stop after the first failure"</label>
            </div>
            <Show when=move || takes_argv(&kind.get())>
                <div class="field field-wide">
                    <label for="job-argv">"Program and arguments, one per line (no shell)"</label>
                    <textarea id="job-argv" name="input[argv]" rows="3" placeholder="systemctl\nstatus\nnginx"></textarea>
                    <crate::components::FieldError error field="argv" input=Some("job-argv") />
                </div>
            </Show>
            <div class="form-actions"><button type="submit" class="button button-primary">"Start job"</button></div>
        </ActionForm>
    }
    .into_any()
}

/// The job kinds a person may start, from the server's registry (provided by the signed-in
/// layout).
#[derive(Debug, Clone, Default)]
pub struct JobKinds(pub Vec<JobKindSummary>);

fn job_kinds() -> Vec<JobKindSummary> {
    use_context::<JobKinds>().map(|k| k.0).unwrap_or_default()
}

/// Whether `kind`'s form asks for a program and its arguments.
pub(crate) fn takes_argv(kind: &str) -> bool {
    job_kinds().iter().any(|k| k.name == kind && k.takes_argv)
}

/// A `<select>` of the job kinds, `selected` following the choice.
#[component]
pub(crate) fn JobKindSelect(
    id: &'static str,
    name: &'static str,
    selected: RwSignal<String>,
    /// Offer "any" (a filter).
    #[prop(optional)]
    any: bool,
) -> impl IntoView {
    view! {
        <select id=id name=name on:change=move |ev| selected.set(event_target_value(&ev))>
            {any.then(|| view! { <option value="">"any"</option> })}
            {job_kinds().into_iter().map(|k| {
                let value = k.name.clone();
                view! { <option value=k.name selected=move || selected.get() == value>{k.title}</option> }
            }).collect_view()}
        </select>
    }
}
