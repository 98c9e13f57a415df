//! Instances: the filterable list across studies and one instance with its hosts.

use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::api::{AddHost, DeleteHost, DeleteInstance, UpdateInstance, get_instance, list_instances};
use crate::components::{
    ButtonForm, DataTable, ErrorBanner, Field, FormError, Loaded, PageHeader, SshKeySelect, TextArea, last_error,
    percent_encode, successes,
};
use crate::contract::{InstanceDetail, InstanceQuery, InstanceSummary, Page};
use crate::pages::fleet::{CheckNow, FleetCell, health_cells};
use crate::pages::jobs::StartJob;
use crate::pages::schedules::NewSchedule;

fn query_link(query: &InstanceQuery) -> String {
    let pairs = [
        ("study", &query.study),
        ("stack", &query.stack),
        ("environment", &query.environment),
        ("tag", &query.tag),
        ("status", &query.status),
        ("search", &query.search),
        ("sort", &query.sort),
    ];
    let mut link = String::from("/instances?");
    for (key, value) in pairs.into_iter().filter(|(_, v)| !v.is_empty()) {
        link.push_str(&format!("{key}={}&", percent_encode(value)));
    }
    link.push_str(&format!("page={}", query.page));
    link
}

#[component]
pub fn InstancesPage() -> impl IntoView {
    let query_map = use_query_map();
    let query = Memo::new(move |_| {
        let map = query_map.read();
        let get = |key: &str| map.get(key).unwrap_or_default();
        InstanceQuery {
            study: get("study"),
            stack: get("stack"),
            environment: get("environment"),
            tag: get("tag"),
            status: get("status"),
            search: get("search"),
            sort: get("sort"),
            page: get("page").parse().unwrap_or(0),
        }
    });
    let instances = Resource::new(move || query.get(), list_instances);
    view! {
        <PageHeader title="Instances" />
        <form method="get" action="/instances" class="filters" role="search">
            <div class="field"><label for="f-search">"Name"</label>
                <input id="f-search" name="search" value=move || query.get().search /></div>
            <div class="field"><label for="f-study">"Study"</label>
                <input id="f-study" name="study" value=move || query.get().study /></div>
            <div class="field"><label for="f-stack">"Stack"</label>
                <input id="f-stack" name="stack" list="f-stack-choices" placeholder="any" autocomplete="off"
                    value=move || query.get().stack />
                {crate::components::stack_choices("f-stack-choices")}</div>
            <div class="field"><label for="f-environment">"Environment"</label>
                <input id="f-environment" name="environment" value=move || query.get().environment /></div>
            <div class="field"><label for="f-tag">"Tag"</label>
                <input id="f-tag" name="tag" value=move || query.get().tag /></div>
            <div class="field"><label for="f-status">"Status"</label>
                <input id="f-status" name="status" value=move || query.get().status /></div>
            <input type="hidden" name="sort" value=move || query.get().sort />
            <button type="submit" class="button">"Filter"</button>
        </form>
        <section class="panel">
            <Loaded resource=instances view=move |page| view! { <InstancesTable page query=query.get_untracked() /> }.into_any() />
        </section>
    }
    .into_any()
}

#[component]
fn InstancesTable(page: Page<InstanceSummary>, query: InstanceQuery) -> impl IntoView {
    if page.items.is_empty() {
        let filtered = query != InstanceQuery { page: query.page, sort: query.sort.clone(), ..Default::default() };
        let text = if filtered {
            "No instance matches these filters."
        } else {
            "No instances yet. Open a study to add its first instance."
        };
        return view! { <p class="empty">{text}</p> }.into_any();
    }
    let header = |key: &'static str, label: &'static str| {
        let descending = query.sort == key;
        let sort = if descending { format!("-{key}") } else { key.to_owned() };
        let marker = match query.sort.as_str() {
            s if s == key => " ▲",
            s if s.strip_prefix('-') == Some(key) => " ▼",
            _ => "",
        };
        let link = query_link(&InstanceQuery { sort, page: 0, ..query.clone() });
        view! { <th scope="col"><a href=link>{label}{marker}</a></th> }
    };
    let page_count = page.page_count();
    let (current, total) = (page.page, page.total);
    let nav = |to: u32| query_link(&InstanceQuery { page: to, ..query.clone() });
    view! {
        <table class="table" data-test="instances-table">
            <thead><tr>
                {header("name", "Instance")}
                {header("study", "Study")}
                {header("stack", "Stack")}
                {header("environment", "Environment")}
                {header("status", "Status")}
                <th scope="col">"Hosts"</th>
                <th scope="col">"Tags"</th>
            </tr></thead>
            <tbody>
                {page.items.into_iter().map(|i| view! {
                    <tr>
                        <td><a href=format!("/instances/{}", i.id)>{i.name}</a></td>
                        <td><a href=format!("/studies/{}", i.study_id)>{i.study_name}</a></td>
                        <td>{i.stack.to_string()}</td>
                        <td>{i.environment}</td>
                        <td><span class="badge">{i.status}</span></td>
                        <td><FleetCell summary=i.fleet host_count=i.host_count /></td>
                        <td>{i.tags.into_iter().map(|t| view! { <span class="badge">{t}</span>" " }).collect_view()}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
        <nav class="pagination" aria-label="Pages">
            <span>{format!("{total} instances · page {} of {page_count}", current + 1)}</span>
            {(current > 0).then(|| view! { <a href=nav(current - 1)>"Previous"</a> })}
            {(current + 1 < page_count).then(|| view! { <a href=nav(current + 1)>"Next"</a> })}
        </nav>
    }
    .into_any()
}

#[component]
pub fn InstancePage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").and_then(|id| id.parse::<i64>().ok()).unwrap_or_default();
    let add_host = ServerAction::<AddHost>::new();
    let delete_host = ServerAction::<DeleteHost>::new();
    let update = ServerAction::<UpdateInstance>::new();
    let detail = Resource::new(
        {
            let changes = [successes(add_host.value()), successes(delete_host.value()), successes(update.value())];
            move || (id(), changes.map(|c| c.get()))
        },
        |(id, ..)| get_instance(id),
    );
    view! {
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Ok(detail) => view! { <InstanceView detail add_host delete_host update /> }.into_any(),
                    Err(error) => view! { <PageHeader title="Instance" /><ErrorBanner error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn InstanceView(
    detail: InstanceDetail,
    add_host: ServerAction<AddHost>,
    delete_host: ServerAction<DeleteHost>,
    update: ServerAction<UpdateInstance>,
) -> impl IntoView {
    let instance = detail.instance.clone();
    let edit = StoredValue::new(detail.clone());
    let manage = detail.can_manage;
    let operate = detail.can_operate;
    let host_error = last_error(add_host.value());
    let delete_error = last_error(delete_host.value());
    let delete_instance = ServerAction::<DeleteInstance>::new();
    let delete_instance_error = last_error(delete_instance.value());
    let instance_id = instance.id;
    let health = RwSignal::new(detail.health.clone());
    let keys = StoredValue::new(detail.ssh_keys.clone());
    let jump_choices =
        StoredValue::new(detail.hosts.iter().map(|h| (h.id, h.name.clone())).collect::<Vec<(i64, String)>>());
    let title = instance.name.clone();
    view! {
        <leptos_meta::Title text=title.clone() />
        <header class="page-header">
            <h1>{title}</h1>
            <div class="page-actions">
                <a href=format!("/studies/{}", instance.study_id)>{format!("Study: {}", instance.study_name)}</a>
                <a class="button button-primary" href=format!("/instances/{}/config", instance.id) data-test="open-config">"Configuration"</a>
            </div>
        </header>
        <section class="panel">
            <dl class="facts">
                <dt>"Stack"</dt><dd>{instance.stack.as_str()}</dd>
                <dt>"Environment"</dt><dd>{instance.environment.clone()}</dd>
                <dt>"Base URL"</dt><dd>{instance.base_url.clone()}</dd>
                <dt>"Status"</dt><dd><span class="badge">{instance.status.clone()}</span></dd>
                <dt>"Tags"</dt><dd>{instance.tags.iter().map(|t| view! { <span class="badge">{t.clone()}</span>" " }).collect_view()}</dd>
            </dl>
            {(!detail.notes.is_empty()).then(|| view! { <h3>"Notes"</h3><p class="prewrap" data-test="notes">{detail.notes.clone()}</p> })}
        </section>
        <section class="panel">
            <div class="section-header">
                <h2>"Hosts"</h2>
                {(!detail.hosts.is_empty()).then(|| view! { <CheckNow health label="Check all hosts now" /> })}
            </div>
            <FormError error=delete_error />
            {if detail.hosts.is_empty() {
                view! { <p class="empty">"No hosts yet. Add the servers this instance runs on."</p> }.into_any()
            } else {
                let hosts = detail.hosts.clone();
                view! {
                    <DataTable test="hosts-table" columns=&["Host", "Roles", "SSH", "Jump host", "State", "System", "Fullest disk", "Certificate", "Clock", "Reboot", ""]>
                        {hosts.into_iter().map(|h| { let id = h.id; view! {
                            <tr data-host=h.name.clone()>
                                <td><a href=format!("/hosts/{}", h.id)>{h.name.clone()}</a></td>
                                <td>{h.roles.iter().map(|r| view! { <span class="badge">{r.as_str()}</span>" " }).collect_view()}</td>
                                <td><code>{format!("{}@{}:{}", h.ssh_user, h.address, h.ssh_port)}</code></td>
                                <td>{h.jump_host.map(|j| j.name)}</td>
                                {move || health.with(|all| all.iter().find(|x| x.host_id == id).map(health_cells))}
                                <td class="row-actions">
                                    <Show when=move || manage>
                                        <ButtonForm action=delete_host fields=vec![("host_id", h.id.to_string())] label="Remove" class="button-small" />
                                    </Show>
                                </td>
                            </tr>
                        }}).collect_view()}
                    </DataTable>
                }.into_any()
            }}
            <Show when=move || manage>
                <h3>"Add a host"</h3>
                <FormError error=host_error />
                <ActionForm action=add_host attr:class="form form-grid" attr:data-test="add-host">
                    <input type="hidden" name="instance_id" value=instance_id.to_string() />
                    <Field label="Name" name="input[name]" required=true error=host_error />
                    <Field label="Roles" name="input[roles]" required=true error=host_error
                        hint="web, analysis, database, notebook or all; several separated by commas." />
                    <Field label="Address" name="input[address]" required=true error=host_error hint="DNS name, IPv4 or IPv6." />
                    <Field label="SSH port" name="input[ssh_port]" error=host_error hint="22 if empty." />
                    <Field label="SSH user" name="input[ssh_user]" required=true error=host_error />
                    <div class="field">
                        <label for="input-credential">"SSH key"</label>
                        <SshKeySelect keys=keys.get_value() />
                    </div>
                    <div class="field">
                        <label for="input-jump_host">"Jump host"</label>
                        <select id="input-jump_host" name="input[jump_host]">
                            <option value="">"none (reached directly)"</option>
                            {jump_choices.get_value().into_iter().map(|(id, name)| view! { <option value=id.to_string()>{name}</option> }).collect_view()}
                        </select>
                        <crate::components::FieldError error=host_error field="input[jump_host]" />
                    </div>
                    <div class="form-actions"><button type="submit" class="button button-primary">"Add host"</button></div>
                </ActionForm>
            </Show>
        </section>
        <Show when=move || operate>
            <section class="panel">
                <h2>"Run a job"</h2>
                <p class="muted">"On every host of this instance, with live progress and log."</p>
                <StartJob target_kind="instance" target_id=instance_id />
            </section>
            <section class="panel">
                <details>
                    <summary><h2 class="inline">"Schedule a job"</h2></summary>
                    <NewSchedule target_kind="instance" target_id=instance_id />
                </details>
            </section>
        </Show>
        <Show when=move || manage>
            <EditInstance detail=edit.get_value() update />
        </Show>
        <Show when=move || manage>
            <section class="panel danger-zone">
                <h2>"Delete this instance"</h2>
                <p>{format!("This removes its {} host(s) from Steward (the servers themselves are not touched). Type the instance's name to confirm.", detail.hosts.len())}</p>
                <FormError error=delete_instance_error />
                <ActionForm action=delete_instance attr:class="form form-inline">
                    <input type="hidden" name="instance_id" value=instance_id.to_string() />
                    <Field label="Instance name" name="confirm" error=delete_instance_error />
                    <button type="submit" class="button button-danger">"Delete instance"</button>
                </ActionForm>
            </section>
        </Show>
    }
    .into_any()
}

/// Rename the instance or change its stack, environment, URL, tags and notes.
#[component]
fn EditInstance(detail: InstanceDetail, update: ServerAction<UpdateInstance>) -> impl IntoView {
    let error = last_error(update.value());
    let instance = detail.instance;
    let current = instance.stack;
    view! {
        <section class="panel">
            <h2>"Edit instance"</h2>
            <FormError error />
            <ActionForm action=update attr:class="form form-grid" attr:data-test="edit-instance">
                <input type="hidden" name="instance_id" value=instance.id.to_string() />
                <Field label="Name" name="input[name]" id="edit-name" value=instance.name required=true error />
                <div class="field">
                    <label for="edit-stack">"Stack"</label>
                    <input id="edit-stack" name="input[stack]" list="edit-stack-choices" value=current.as_str().to_owned() autocomplete="off" required />
                    {crate::components::stack_choices("edit-stack-choices")}
                    <crate::components::FieldError error field="stack" input=Some("edit-stack") />
                </div>
                <Field label="Environment" name="input[environment]" id="edit-environment" value=instance.environment required=true error />
                <Field label="Public base URL" name="input[base_url]" id="edit-base_url" value=instance.base_url error />
                <Field label="Tags" name="input[tags]" id="edit-tags" value=instance.tags.join(", ") error />
                <TextArea label="Notes" name="input[notes]" id="edit-notes" value=detail.notes error />
                <div class="form-actions"><button type="submit" class="button">"Save"</button></div>
            </ActionForm>
        </section>
    }
    .into_any()
}
