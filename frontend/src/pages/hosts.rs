//! One host: where Steward reaches it, and (for study admins) the form to change that.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use crate::api::{CheckHost, PinHostKey, ScanHostKey, SetHostWatch, UpdateHost, get_host};
use crate::components::{
    ButtonForm, DataTable, ErrorBanner, Field, FieldError, FormError, PageHeader, SshKeySelect, TextArea, last_error,
    successes,
};
use crate::contract::HostDetail;
use crate::pages::fleet::HealthPanel;
use crate::pages::jobs::StartJob;
use crate::pages::schedules::NewSchedule;

#[component]
pub fn HostPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").and_then(|id| id.parse::<i64>().ok()).unwrap_or_default();
    let update = ServerAction::<UpdateHost>::new();
    let scan = ServerAction::<ScanHostKey>::new();
    let pin = ServerAction::<PinHostKey>::new();
    let check = ServerAction::<CheckHost>::new();
    let watch = ServerAction::<SetHostWatch>::new();
    let detail = Resource::new(
        {
            let changes =
                [successes(update.value()), successes(scan.value()), successes(pin.value()), successes(check.value())];
            move || (id(), changes.map(|c| c.get()))
        },
        |(id, _)| get_host(id),
    );
    view! {
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Ok(detail) => view! {
                        <HostView detail=detail.clone() update />
                        <HostHealthSection detail=detail.clone() check watch />
                        <HostKeys detail=detail.clone() scan pin />
                        <HostJobs detail />
                    }.into_any(),
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
    let HostDetail { host, jump_choices, ssh_keys, .. } = detail;
    let keys = StoredValue::new(ssh_keys);
    let error = last_error(update.value());
    let saved = move || matches!(update.value().get(), Some(Ok(_)));
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
                        <SshKeySelect keys=keys.get_value() current=current_key />
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

/// Jobs and schedules on this one host.
#[component]
fn HostJobs(detail: HostDetail) -> impl IntoView {
    let host_id = detail.host.id;
    view! {
        <Show when=move || detail.can_operate>
            <section class="panel">
                <h2>"Run a job on this host"</h2>
                <StartJob target_kind="host" target_id=host_id />
            </section>
            <section class="panel">
                <details>
                    <summary><h2 class="inline">"Schedule a job on this host"</h2></summary>
                    <NewSchedule target_kind="host" target_id=host_id />
                </details>
            </section>
        </Show>
    }
}

/// Reachability and facts, with "check now".
#[component]
fn HostHealthSection(
    detail: HostDetail,
    check: ServerAction<CheckHost>,
    watch: ServerAction<SetHostWatch>,
) -> impl IntoView {
    let HostDetail { health, watch_certificates, watch_units, can_manage, .. } = detail;
    let host_id = health.host_id;
    let error = last_error(check.value());
    let watch_error = last_error(watch.value());
    let certificates = StoredValue::new(watch_certificates.join("\n"));
    let units = StoredValue::new(watch_units.join("\n"));
    view! {
        <section class="panel" data-test="host-health">
            <div class="section-header">
                <h2>"Health"</h2>
                <ActionForm action=check>
                    <input type="hidden" name="host_id" value=host_id.to_string() />
                    <button type="submit" class="button" disabled=move || check.pending().get()>
                        {move || if check.pending().get() { "Checking…" } else { "Check now" }}
                    </button>
                </ActionForm>
            </div>
            <FormError error />
            <HealthPanel health />
            <Show when=move || can_manage>
                <details class="watch">
                    <summary>"Watch certificates and services"</summary>
                    <FormError error=watch_error />
                    <ActionForm action=watch attr:class="form" attr:data-test="watch-form">
                        <input type="hidden" name="host_id" value=host_id.to_string() />
                        <TextArea label="Certificate files" name="certificates" value=certificates.get_value()
                            hint="PEM files on the host, one absolute path per line; their expiry is reported." error=watch_error />
                        <TextArea label="Service units" name="units" value=units.get_value()
                            hint="systemd units, one per line (nginx.service); failed units are always reported." error=watch_error />
                        <div class="form-actions"><button type="submit" class="button">"Save"</button></div>
                    </ActionForm>
                </details>
            </Show>
        </section>
    }
    .into_any()
}

/// The host's keys: scan, trust one by its fingerprint.
#[component]
fn HostKeys(detail: HostDetail, scan: ServerAction<ScanHostKey>, pin: ServerAction<PinHostKey>) -> impl IntoView {
    let host_id = detail.host.id;
    let can_pin = detail.can_pin;
    let error = Signal::derive(move || last_error(scan.value()).get().or_else(|| last_error(pin.value()).get()));
    let (status_text, status_class) = match detail.key_status.as_str() {
        "pinned" => ("pinned", "badge badge-good"),
        "changed" => ("host key changed", "badge badge-bad"),
        _ => ("no key pinned", "badge"),
    };
    view! {
        <section class="panel" data-test="host-keys">
            <h2>"Host key " <span class=status_class data-test="key-status">{status_text}</span></h2>
            <p class="muted">
                "Steward connects only to a key trusted here. Compare a scanned fingerprint with the host's own ("
                <code>"ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub"</code>") before trusting it."
            </p>
            <FormError error />
            {(!detail.keys.is_empty()).then(|| view! {
                <DataTable test="keys-table" columns=&["Type", "Fingerprint", "Trusted", ""]>
                    {detail.keys.clone().into_iter().map(|key| {
                        let fingerprint = StoredValue::new(key.fingerprint.clone());
                        let pinned = key.pinned;
                        view! {
                            <tr data-fingerprint=key.fingerprint.clone()>
                                <td>{key.algorithm.clone()}</td>
                                <td><code>{key.fingerprint.clone()}</code></td>
                                <td>{if key.pinned { "yes" } else { "no" }}</td>
                                <td class="row-actions">
                                    <Show when=move || can_pin && !pinned>
                                        <ButtonForm action=pin fields=vec![("host_id", host_id.to_string()), ("fingerprint", fingerprint.get_value())] label="Trust this key" class="button-small" />
                                    </Show>
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </DataTable>
            })}
            <div class="form-inline">
                <ButtonForm action=scan fields=vec![("host_id", host_id.to_string())] label="Scan host key" />
            </div>
        </section>
    }
    .into_any()
}
