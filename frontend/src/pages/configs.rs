//! An instance's configuration: the settings form its stack declares (saved as numbered
//! revisions), each host's pushed revision and drift, the diff of a push against what is live,
//! the push itself (which opens the job's live page), and any two revisions compared.

use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_params_map};

use crate::api::{CompareRevisions, PreviewPush, PushConfig, SaveSettings, StartJob, get_config};
use crate::components::{DataTable, FormError, Loaded, LocalTime, last_error, successes};
use crate::contract::{AppError, ConfigOverview, DriftState, FileStatus, HostDiff, RevisionSummary, SettingField};

#[component]
pub fn ConfigPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").and_then(|id| id.parse::<i64>().ok()).unwrap_or_default();
    let save = ServerAction::<SaveSettings>::new();
    let overview = Resource::new(
        {
            let saved = successes(save.value());
            move || (id(), saved.get())
        },
        |(id, _)| get_config(id),
    );
    view! {
        <Loaded resource=overview view=move |config| view! { <Config config save /> }.into_any() />
    }
}

#[component]
fn Config(config: ConfigOverview, save: ServerAction<SaveSettings>) -> impl IntoView {
    let title = format!("Configuration: {}", config.instance_name);
    let instance_id = config.instance_id;
    let revisions = StoredValue::new(config.revisions.clone());
    view! {
        <leptos_meta::Title text=title.clone() />
        <header class="page-header">
            <h1>{title}</h1>
            <div class="page-actions"><a href=format!("/instances/{instance_id}")>"Back to the instance"</a></div>
        </header>
        {config.stack_problem.clone().map(|message| view! {
            <p class="banner banner-error" role="alert">{message}</p>
        })}
        {config.stack.clone().map(|stack| view! {
            <p class="lead" data-test="stack">
                <strong>{stack.title}</strong>" — "{stack.description}
                {(stack.source != "shipped").then(|| format!(" (from {})", stack.source))}
            </p>
        })}
        <HostStates config=config.clone() />
        {(!config.fields.is_empty()).then(|| view! { <SettingsForm config=config.clone() save /> })}
        <section class="panel">
            <h2>"Revisions"</h2>
            {if config.revisions.is_empty() {
                view! { <p class="empty">"No revision yet: fill in the settings and save them."</p> }.into_any()
            } else {
                view! { <RevisionTable revisions=config.revisions.clone() /> }.into_any()
            }}
        </section>
        {(!config.revisions.is_empty()).then(|| view! {
            <PushPanel instance_id revisions=revisions.get_value() />
            <ComparePanel instance_id revisions=revisions.get_value() />
        })}
    }
}

fn drift_badge(drift: DriftState) -> impl IntoView + use<> {
    let (class, text) = match drift {
        DriftState::InSync => ("badge badge-good", "in sync"),
        DriftState::Drifted => ("badge badge-bad", "drifted"),
        DriftState::Unknown => ("badge", "not checked"),
    };
    view! { <span class=class>{text}</span> }
}

#[component]
fn HostStates(config: ConfigOverview) -> impl IntoView {
    let start = ServerAction::<StartJob>::new();
    let error = last_error(start.value());
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(job)) = start.value().get() {
            navigate(&format!("/jobs/{}", job.id), Default::default());
        }
    });
    view! {
        <section class="panel">
            <div class="section-header">
                <h2>"Hosts"</h2>
                <ActionForm action=start attr:data-test="check-drift">
                    <input type="hidden" name="input[kind]" value="drift" />
                    <input type="hidden" name="input[target_kind]" value="instance" />
                    <input type="hidden" name="input[target_id]" value=config.instance_id.to_string() />
                    <button type="submit" class="button">"Check for drift now"</button>
                </ActionForm>
            </div>
            <FormError error />
            <DataTable test="host-configs" columns=&["Host", "Roles", "Pushed revision", "Pushed", "Drift", "Checked"]>
                {config.hosts.into_iter().map(|h| view! {
                    <tr data-host=h.host_name.clone()>
                        <td><a href=format!("/hosts/{}", h.host_id)>{h.host_name.clone()}</a></td>
                        <td>{h.roles.join(", ")}</td>
                        <td data-test="revision">{h.revision.map_or_else(|| "none yet".to_owned(), |n| format!("#{n}"))}</td>
                        <td>{h.pushed_at.map(|at| view! { <LocalTime at /> })}</td>
                        <td data-test="drift">
                            {drift_badge(h.drift)}
                            {(!h.drift_files.is_empty()).then(|| view! {
                                <ul class="compact">{h.drift_files.iter().map(|f| view! { <li><code>{f.clone()}</code></li> }).collect_view()}</ul>
                            })}
                        </td>
                        <td>{h.checked_at.map(|at| view! { <LocalTime at /> })}</td>
                    </tr>
                }).collect_view()}
            </DataTable>
        </section>
    }
}

/// The inputs for one setting, by its type; secrets are never filled in.
fn setting_input(field: &SettingField, error: Signal<Option<AppError>>) -> impl IntoView + use<> {
    let id = format!("setting-{}", field.name);
    let name = format!("input[values][{}]", field.name);
    let described = format!("{id}-help");
    let input = match field.kind.as_str() {
        "text" | "list" => view! {
            <textarea id=id.clone() name=name rows=if field.kind == "text" { "8" } else { "3" }
                aria-describedby=described.clone() placeholder=field.default.clone() prop:value=field.value.clone()>
                {crate::components::escape_raw_text(&field.value)}
            </textarea>
        }
        .into_any(),
        "boolean" => {
            let checked = if field.value.is_empty() { field.default == "true" } else { field.value == "true" };
            view! {
                <input type="hidden" name=name.clone() value="false" />
                <input type="checkbox" id=id.clone() name=name value="true" checked=checked aria-describedby=described.clone() />
            }
            .into_any()
        }
        "choice" => {
            let current = if field.value.is_empty() { field.default.clone() } else { field.value.clone() };
            view! {
                <select id=id.clone() name=name aria-describedby=described.clone()>
                    {(!field.required).then(|| view! { <option value="">"(none)"</option> })}
                    {field.choices.iter().map(|c| view! { <option value=c.clone() selected=*c == current>{c.clone()}</option> }).collect_view()}
                </select>
            }
            .into_any()
        }
        "secret" => view! {
            <input type="password" id=id.clone() name=name autocomplete="new-password" aria-describedby=described.clone()
                placeholder=if field.is_set { "stored in the vault; leave empty to keep" } else { "" } />
        }
        .into_any(),
        kind => view! {
            <input id=id.clone() name=name value=field.value.clone() placeholder=field.default.clone()
                inputmode=if matches!(kind, "integer" | "port") { "numeric" } else { "text" }
                aria-describedby=described.clone() />
        }
        .into_any(),
    };
    let key = field.name.clone();
    let hint = match field.kind.as_str() {
        "list" => format!("{} One per line.", field.help),
        _ => field.help.clone(),
    };
    view! {
        <div class=if matches!(field.kind.as_str(), "text" | "list") { "field field-wide" } else { "field" } data-setting=field.name.clone()>
            <label for=id.clone()>{field.label.clone()}{field.required.then_some(" *")}</label>
            {input}
            <p class="hint" id=described>{hint}</p>
            {move || error.get().and_then(|e| e.for_field(&key)).map(|message| view! {
                <p class="field-error" role="alert">{message}</p>
            })}
        </div>
    }
}

#[component]
fn SettingsForm(config: ConfigOverview, save: ServerAction<SaveSettings>) -> impl IntoView {
    let error = last_error(save.value());
    let mut groups: Vec<(String, Vec<SettingField>)> = Vec::new();
    for field in config.fields {
        match groups.iter_mut().find(|(g, _)| *g == field.group) {
            Some((_, fields)) => fields.push(field),
            None => groups.push((field.group.clone(), vec![field])),
        }
    }
    let saved = move || match save.value().get() {
        Some(Ok(revision)) => Some(
            view! { <p class="banner banner-ok" role="status">{format!("Saved revision #{}", revision.number)}</p> },
        ),
        _ => None,
    };
    view! {
        <section class="panel">
            <h2>"Settings"</h2>
            {saved}
            <FormError error />
            {move || error.get().filter(|e| matches!(e, AppError::InvalidFields { .. })).map(|e| view! {
                <p class="banner banner-error" role="alert">{e.to_string()}</p>
            })}
            <ActionForm action=save attr:class="form" attr:data-test="settings-form">
                <input type="hidden" name="input[instance_id]" value=config.instance_id.to_string() />
                {groups.into_iter().map(|(group, fields)| view! {
                    <fieldset class="form-grid">
                        <legend>{if group.is_empty() { "General".to_owned() } else { group }}</legend>
                        {fields.iter().map(|f| setting_input(f, error)).collect_view()}
                    </fieldset>
                }).collect_view()}
                <div class="field field-wide">
                    <label for="settings-message">"What changed and why"</label>
                    <input id="settings-message" name="input[message]" placeholder="Settings changed" />
                </div>
                <div class="form-actions"><button type="submit" class="button button-primary">"Save as a new revision"</button></div>
            </ActionForm>
        </section>
    }
}

#[component]
fn RevisionTable(revisions: Vec<RevisionSummary>) -> impl IntoView {
    view! {
        <DataTable test="revisions" columns=&["Revision", "Message", "Author", "Saved"]>
            {revisions.into_iter().map(|r| view! {
                <tr data-revision=r.number>
                    <td>{format!("#{}", r.number)}</td>
                    <td>{r.message.clone()}</td>
                    <td>{r.author.clone()}</td>
                    <td><LocalTime at=r.created_at /></td>
                </tr>
            }).collect_view()}
        </DataTable>
    }
}

/// Diffs per host, as `<pre>` blocks with added and removed lines marked.
#[component]
fn Diffs(diffs: Vec<HostDiff>) -> impl IntoView {
    view! {
        <div class="diffs" data-test="diffs">
            {diffs.into_iter().map(|host| {
                let changed = host.changed();
                view! {
                    <section class="diff-host" data-host=host.host_name.clone()>
                        <h3>{host.host_name.clone()}" "
                            <span class="muted">{match &host.error {
                                Some(_) => "could not be compared".to_owned(),
                                None if changed == 0 => "no changes".to_owned(),
                                None => format!("{changed} file(s) change"),
                            }}</span>
                        </h3>
                        {host.error.clone().map(|e| view! { <p class="banner banner-error">{e}</p> })}
                        {host.files.into_iter().filter(|f| f.status != FileStatus::Unchanged).map(|f| view! {
                            <details open data-file=f.path.clone()>
                                <summary><code>{f.path.clone()}</code>" "<span class="badge">{f.status.as_str()}</span></summary>
                                <pre class="diff">{f.diff.lines().map(|line| {
                                    let class = if line.starts_with("+++") || line.starts_with("---") { "diff-head" }
                                        else if line.starts_with('+') { "diff-add" }
                                        else if line.starts_with('-') { "diff-del" }
                                        else if line.starts_with("@@") { "diff-hunk" }
                                        else { "" };
                                    view! { <span class=class>{line.to_owned()}"\n"</span> }
                                }).collect_view()}</pre>
                            </details>
                        }).collect_view()}
                    </section>
                }
            }).collect_view()}
        </div>
    }
}

fn revision_options(revisions: &[RevisionSummary]) -> impl IntoView + use<> {
    revisions
        .iter()
        .map(|r| view! { <option value=r.id.to_string()>{format!("#{} {}", r.number, r.message)}</option> })
        .collect_view()
}

#[component]
fn PushPanel(instance_id: i64, revisions: Vec<RevisionSummary>) -> impl IntoView {
    let preview = ServerAction::<PreviewPush>::new();
    let push = ServerAction::<PushConfig>::new();
    let preview_error = last_error(preview.value());
    let push_error = last_error(push.value());
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(job)) = push.value().get() {
            navigate(&format!("/jobs/{}", job.id), Default::default());
        }
    });
    let latest = revisions.first().map(|r| format!("Latest (#{})", r.number)).unwrap_or_default();
    let latest_push = latest.clone();
    let options = StoredValue::new(revisions);
    view! {
        <section class="panel">
            <h2>"Push"</h2>
            <p class="hint">"Compare with what is live on the hosts first; a push checks each file, swaps it in, reloads, checks health and puts the old files back if anything fails."</p>
            <ActionForm action=preview attr:class="form form-grid" attr:data-test="preview-form">
                <input type="hidden" name="instance_id" value=instance_id.to_string() />
                <div class="field">
                    <label for="preview-revision">"Revision"</label>
                    <select id="preview-revision" name="revision">
                        <option value="">{latest}</option>
                        {options.with_value(|r| revision_options(r))}
                    </select>
                </div>
                <div class="form-actions"><button type="submit" class="button">"Show the changes"</button></div>
            </ActionForm>
            <FormError error=preview_error />
            {move || preview.pending().get().then(|| view! { <p class="loading">"Reading the live files…"</p> })}
            {move || preview.value().get().and_then(Result::ok).map(|diffs| view! { <Diffs diffs /> })}
            <FormError error=push_error />
            <ActionForm action=push attr:class="form form-grid" attr:data-test="push-form">
                <input type="hidden" name="input[instance_id]" value=instance_id.to_string() />
                <div class="field">
                    <label for="push-revision">"Revision"</label>
                    <select id="push-revision" name="input[revision]">
                        <option value="">{latest_push}</option>
                        {options.with_value(|r| revision_options(r))}
                    </select>
                </div>
                <div class="field">
                    <label for="push-roles">"Hosts"</label>
                    <select id="push-roles" name="input[roles]">
                        <option value="">"every host"</option>
                        {["web", "analysis", "database", "notebook"].into_iter().map(|r| view! {
                            <option value=r>{format!("{r} hosts only")}</option>
                        }).collect_view()}
                    </select>
                </div>
                <div class="field">
                    <label for="push-batch">"Hosts at once"</label>
                    <input id="push-batch" name="input[batch_size]" inputmode="numeric" placeholder="10" />
                    {move || push_error.get().and_then(|e| e.for_field("batch_size")).map(|m| view! { <p class="field-error" role="alert">{m}</p> })}
                </div>
                <div class="field field-check">
                    <label><input type="checkbox" name="input[stop_on_failure]" value="on" checked />" Stop after the first failed host"</label>
                </div>
                <div class="form-actions"><button type="submit" class="button button-primary">"Push"</button></div>
            </ActionForm>
        </section>
    }
}

#[component]
fn ComparePanel(instance_id: i64, revisions: Vec<RevisionSummary>) -> impl IntoView {
    let compare = ServerAction::<CompareRevisions>::new();
    let error = last_error(compare.value());
    let older = revisions.get(1).or(revisions.first()).map(|r| r.id).unwrap_or_default();
    let newest = revisions.first().map(|r| r.id).unwrap_or_default();
    view! {
        <section class="panel">
            <h2>"Compare revisions"</h2>
            <ActionForm action=compare attr:class="form form-grid" attr:data-test="compare-form">
                <input type="hidden" name="instance_id" value=instance_id.to_string() />
                <div class="field">
                    <label for="compare-from">"From"</label>
                    <select id="compare-from" name="from">
                        {revisions.iter().map(|r| view! { <option value=r.id.to_string() selected=r.id == older>{format!("#{} {}", r.number, r.message)}</option> }).collect_view()}
                    </select>
                </div>
                <div class="field">
                    <label for="compare-to">"To"</label>
                    <select id="compare-to" name="to">
                        {revisions.iter().map(|r| view! { <option value=r.id.to_string() selected=r.id == newest>{format!("#{} {}", r.number, r.message)}</option> }).collect_view()}
                    </select>
                </div>
                <div class="form-actions"><button type="submit" class="button">"Compare"</button></div>
            </ActionForm>
            <FormError error />
            {move || compare.value().get().and_then(Result::ok).map(|diffs| view! { <Diffs diffs /> })}
        </section>
    }
}
