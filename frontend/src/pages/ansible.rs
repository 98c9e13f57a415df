//! A study's Ansible inventory: export it as YAML, or preview and import one.

use leptos::prelude::*;

use crate::api::{ExportInventory, ImportInventory};
use crate::components::{FormError, last_error, percent_encode};
use crate::contract::ImportReport;

#[component]
pub fn AnsibleSection(
    study_id: i64,
    import: ServerAction<ImportInventory>,
    #[prop(into)] can_import: Signal<bool>,
) -> impl IntoView {
    let export = ServerAction::<ExportInventory>::new();
    let import_error = last_error(import.value());
    let report = move || import.value().get().and_then(Result::ok);
    view! {
        <section class="panel" data-test="ansible">
            <h2>"Ansible inventory"</h2>
            <ActionForm action=export attr:class="form-inline">
                <input type="hidden" name="study_id" value=study_id.to_string() />
                <button type="submit" class="button">"Export as YAML"</button>
            </ActionForm>
            {move || export.value().get().and_then(Result::ok).map(|yaml| {
                let href = format!("data:text/yaml;charset=utf-8,{}", percent_encode(&yaml));
                view! {
                    <div class="field field-wide">
                        <textarea readonly rows=12 data-test="export" prop:value=yaml.clone()>
                            {crate::components::escape_raw_text(&yaml)}
                        </textarea>
                        <a href=href download="inventory.yml">"Download inventory.yml"</a>
                    </div>
                }
            })}
            <Show when=move || can_import.get()>
                <h3>"Import"</h3>
                <p class="muted">"Paste an INI or YAML inventory. Groups named like web, db, analysis or notebook become host roles, other groups become tags, and ProxyJump becomes the jump host. Preview first: nothing is created until you import."</p>
                <FormError error=import_error />
                <ActionForm action=import attr:class="form form-grid" attr:data-test="import-form">
                    <input type="hidden" name="study_id" value=study_id.to_string() />
                    <div class="field field-wide">
                        <label for="input-inventory">"Inventory"</label>
                        <textarea id="input-inventory" name="input[inventory]" rows=10 spellcheck="false"></textarea>
                        <crate::components::FieldError error=import_error field="input[inventory]" />
                    </div>
                    <div class="field"><label for="import-instance">"Instance"</label>
                        <input id="import-instance" name="input[instance]" value="production" />
                        <p class="hint">"For hosts whose groups name none."</p></div>
                    <div class="field"><label for="import-stack">"Stack"</label>
                        <input id="import-stack" name="input[stack]" list="import-stack-choices" value="generic" autocomplete="off" />
                        {crate::components::stack_choices("import-stack-choices")}</div>
                    <div class="field"><label for="import-environment">"Environment"</label>
                        <input id="import-environment" name="input[environment]" value="production" /></div>
                    <div class="field"><label for="import-user">"SSH user"</label>
                        <input id="import-user" name="input[ssh_user]" value="root" />
                        <p class="hint">"For hosts without ansible_user."</p></div>
                    <div class="form-actions">
                        <button type="submit" class="button" name="input[apply]" value="false">"Preview"</button>
                        " "
                        <button type="submit" class="button button-primary" name="input[apply]" value="true">"Import"</button>
                    </div>
                </ActionForm>
                {move || report().map(|report| view! { <ImportResult report /> })}
            </Show>
        </section>
    }
    .into_any()
}

#[component]
fn ImportResult(report: ImportReport) -> impl IntoView {
    let summary = if report.applied {
        format!("Imported: {} instance(s) and {} host(s) created.", report.instances_created, report.hosts_created)
    } else {
        "Preview: this is what an import would create. Nothing has been changed yet.".to_owned()
    };
    view! {
        <div data-test="import-result">
            <p class=if report.applied { "banner banner-success" } else { "banner banner-info" } role="status">{summary}</p>
            <table class="table">
                <thead><tr><th scope="col">"Instance"</th><th scope="col">"Host"</th><th scope="col">"SSH"</th><th scope="col">"Roles"</th><th scope="col">"Jump host"</th></tr></thead>
                <tbody>
                    {report.instances.into_iter().flat_map(|instance| {
                        let label = format!("{} ({}, {})", instance.name, instance.stack, instance.environment);
                        instance.hosts.into_iter().map(move |h| view! {
                            <tr>
                                <td>{label.clone()}</td>
                                <td>{h.name}</td>
                                <td><code>{format!("{}@{}:{}", h.ssh_user, h.address, h.ssh_port)}</code></td>
                                <td>{h.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")}</td>
                                <td>{h.jump_host.unwrap_or_default()}</td>
                            </tr>
                        })
                    }).collect_view()}
                </tbody>
            </table>
            {(!report.skipped.is_empty()).then(|| view! {
                <h3>"Left out"</h3>
                <ul class="skipped">
                    {report.skipped.into_iter().map(|s| view! { <li><code>{s.item}</code>": "{s.reason}</li> }).collect_view()}
                </ul>
            })}
        </div>
    }
    .into_any()
}
