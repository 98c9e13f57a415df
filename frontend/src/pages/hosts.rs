//! One host: where Steward reaches it, and (for study admins) the form to change that.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use crate::api::{UpdateHost, get_host, ssh_key_choices};
use crate::components::{ErrorBanner, Field, FieldError, FormError, PageHeader, last_error, successes};
use crate::contract::HostDetail;

#[component]
pub fn HostPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").and_then(|id| id.parse::<i64>().ok()).unwrap_or_default();
    let update = ServerAction::<UpdateHost>::new();
    let detail = Resource::new(
        {
            let changed = successes(update.value());
            move || (id(), changed.get())
        },
        |(id, _)| get_host(id),
    );
    view! {
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Ok(detail) => view! { <HostView detail update /> }.into_any(),
                    Err(error) => view! { <PageHeader title="Host" /><ErrorBanner error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn HostView(detail: HostDetail, update: ServerAction<UpdateHost>) -> impl IntoView {
    let edit = StoredValue::new(detail.clone());
    let HostDetail { host, instance, can_manage, .. } = detail;
    let roles = roles_text(&host);
    let title = host.name.clone();
    view! {
        <leptos_meta::Title text=title.clone() />
        <header class="page-header">
            <h1>{title}</h1>
            <div class="page-actions">
                <a href=format!("/instances/{}", instance.id)>{format!("Instance: {} ({})", instance.name, instance.study_name)}</a>
            </div>
        </header>
        <section class="panel">
            <dl class="facts" data-test="host-facts">
                <dt>"Roles"</dt><dd>{roles.clone()}</dd>
                <dt>"SSH"</dt><dd><code>{format!("{}@{}:{}", host.ssh_user, host.address, host.ssh_port)}</code></dd>
                <dt>"SSH key"</dt><dd>{host.credential.as_ref().map_or_else(|| "none yet".to_owned(), |c| c.name.clone())}</dd>
                <dt>"Jump host"</dt><dd>{host.jump_host.as_ref().map_or_else(|| "none (reached directly)".to_owned(), |j| j.name.clone())}</dd>
            </dl>
        </section>
        <Show when=move || can_manage>
            <EditHost detail=edit.get_value() update />
        </Show>
    }
    .into_any()
}

fn roles_text(host: &crate::contract::HostSummary) -> String {
    host.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")
}

#[component]
fn EditHost(detail: HostDetail, update: ServerAction<UpdateHost>) -> impl IntoView {
    let HostDetail { host, instance, jump_choices, .. } = detail;
    let error = last_error(update.value());
    let saved = move || matches!(update.value().get(), Some(Ok(_)));
    let instance_id = instance.id;
    let keys = Resource::new(move || (), move |_| ssh_key_choices(instance_id));
    let current_key = host.credential.as_ref().map(|c| c.id);
    let current_jump = host.jump_host.as_ref().map(|j| j.id);
    let roles = roles_text(&host);
    view! {
            <section class="panel">
                <h2>"Edit host"</h2>
                <Show when=saved>
                    <p class="banner banner-success" role="status">"Saved."</p>
                </Show>
                <FormError error />
                <ActionForm action=update attr:class="form form-grid" attr:data-test="edit-host">
                    <input type="hidden" name="host_id" value=host.id.to_string() />
                    <Field label="Name" name="input[name]" value=host.name.clone() required=true error />
                    <Field label="Roles" name="input[roles]" value=roles.clone() required=true error
                        hint="web, analysis, database, notebook or all; several separated by commas." />
                    <Field label="Address" name="input[address]" value=host.address.clone() required=true error />
                    <Field label="SSH port" name="input[ssh_port]" value=host.ssh_port.to_string() error />
                    <Field label="SSH user" name="input[ssh_user]" value=host.ssh_user.clone() required=true error />
                    <div class="field">
                        <label for="input-credential">"SSH key"</label>
                        <select id="input-credential" name="input[credential]">
                            <option value="">"none yet"</option>
                            <Suspense>
                                {move || Suspend::new(async move {
                                    keys.await.unwrap_or_default().into_iter().map(|k| view! {
                                        <option value=k.id.to_string() selected=Some(k.id) == current_key>{k.name}</option>
                                    }).collect_view()
                                })}
                            </Suspense>
                        </select>
                        <FieldError error field="input[credential]" />
                    </div>
                    <div class="field">
                        <label for="input-jump_host">"Jump host"</label>
                        <select id="input-jump_host" name="input[jump_host]">
                            <option value="">"none (reached directly)"</option>
                            {jump_choices.clone().into_iter().map(|j| view! {
                                <option value=j.id.to_string() selected=Some(j.id) == current_jump>{j.name}</option>
                            }).collect_view()}
                        </select>
                        <FieldError error field="input[jump_host]" />
                    </div>
                    <div class="form-actions"><button type="submit" class="button button-primary">"Save"</button></div>
                </ActionForm>
            </section>
    }
    .into_any()
}
