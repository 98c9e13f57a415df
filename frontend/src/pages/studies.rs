//! Studies: the list (with creation for admins) and one study's members and instances.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use crate::api::{
    CreateInstance, CreateStudy, DeleteStudy, ImportInventory, RemoveMember, SetMember, UpdateStudy, get_study,
    list_studies,
};
use crate::components::{
    ButtonForm, DataTable, ErrorBanner, Field, FormError, Loaded, PageHeader, TextArea, last_error, successes,
};
use crate::contract::{CurrentUser, StudyDetail, StudyRole, StudySummary};

#[component]
pub fn StudiesPage() -> impl IntoView {
    let is_admin = use_context::<CurrentUser>().is_some_and(|u| u.is_admin());
    let create = ServerAction::<CreateStudy>::new();
    let studies = Resource::new(move || create.version().get(), |_| list_studies());
    let error = last_error(create.value());
    view! {
        <PageHeader title="Studies" />
        <section class="panel">
            <Loaded resource=studies view=move |value| match value {
                        list if list.is_empty() => view! {
                            <p class="empty">
                                {if is_admin { "No studies yet. Add the first one below." } else { "You are not a member of any study yet. Ask an admin to add you." }}
                            </p>
                        }.into_any(),
                        list => view! {
                            <DataTable test="studies-table" columns=&["Study", "Your role", "Instances", "Hosts", "Contact"]>
                                {list.into_iter().map(|s| view! {
                                    <tr>
                                        <td><a href=format!("/studies/{}", s.id)>{s.name}</a></td>
                                        <td>{s.my_role.map(|r| view! { <span class="badge">{r.as_str()}</span> })}</td>
                                        <td>{s.instance_count}</td>
                                        <td>{s.host_count}</td>
                                        <td>{s.contact}</td>
                                    </tr>
                                }).collect_view()}
                            </DataTable>
                        }.into_any(),
                    } />
        </section>
        <Show when=move || is_admin>
            <section class="panel">
                <h2>"Add a study"</h2>
                <FormError error />
                <ActionForm action=create attr:class="form form-grid">
                    <Field label="Name" name="name" required=true error />
                    <Field label="Contact" name="contact" error hint="Who answers for the study (name, email)." />
                    <TextArea label="Description" name="description" error />
                    <div class="form-actions"><button type="submit" class="button button-primary">"Add study"</button></div>
                </ActionForm>
            </section>
        </Show>
    }
    .into_any()
}

#[component]
pub fn StudyPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").and_then(|id| id.parse::<i64>().ok()).unwrap_or_default();
    let set_member = ServerAction::<SetMember>::new();
    let remove_member = ServerAction::<RemoveMember>::new();
    let create_instance = ServerAction::<CreateInstance>::new();
    let import = ServerAction::<ImportInventory>::new();
    let update = ServerAction::<UpdateStudy>::new();
    let study = Resource::new(
        {
            let changes = [
                successes(set_member.value()),
                successes(remove_member.value()),
                successes(create_instance.value()),
                successes(update.value()),
                // A preview changes nothing; refetching would clear the form.
                successes(Signal::derive(move || import.value().get().filter(|r| r.as_ref().is_ok_and(|r| r.applied)))),
            ];
            move || (id(), changes.map(|c| c.get()))
        },
        |(id, ..)| get_study(id),
    );
    view! {
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match study.await {
                    Ok(detail) => {
                        let (study_id, can_import) = (detail.study.id, detail.can_manage);
                        let sees = !detail.members.is_empty() || detail.can_manage || !detail.instances.is_empty();
                        view! {
                            <StudyView detail set_member remove_member create_instance update />
                            <Show when=move || sees>
                                <super::ansible::AnsibleSection study_id import can_import />
                            </Show>
                        }.into_any()
                    }
                    Err(error) => view! { <PageHeader title="Study" /><ErrorBanner error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn StudyView(
    detail: StudyDetail,
    set_member: ServerAction<SetMember>,
    remove_member: ServerAction<RemoveMember>,
    create_instance: ServerAction<CreateInstance>,
    update: ServerAction<UpdateStudy>,
) -> impl IntoView {
    let is_admin = use_context::<CurrentUser>().is_some_and(|u| u.is_admin());
    let study = detail.study.clone();
    let edit = StoredValue::new(detail.study.clone());
    let study_id = study.id;
    let manage = detail.can_manage;
    let sees_inventory = is_admin || study.my_role.is_some_and(|r| r != StudyRole::Researcher);
    let member_error = Signal::derive(move || {
        last_error(set_member.value()).get().or_else(|| last_error(remove_member.value()).get())
    });
    let instance_error = last_error(create_instance.value());
    let delete = ServerAction::<DeleteStudy>::new();
    let delete_error = last_error(delete.value());
    let title = study.name.clone();
    let members = StoredValue::new(detail.members.clone());
    view! {
        <leptos_meta::Title text=title.clone() />
        <header class="page-header">
            <h1>{title}</h1>
            <div class="page-actions">
                {study.my_role.map(|r| view! { <span class="badge">{format!("your role: {r}")}</span> })}
                <a href=format!("/studies/{}/rota", study.id) data-test="open-rota">"On-call rota"</a>
                <a href=format!("/studies/{}/alert-settings", study.id)>"Alert settings"</a>
            </div>
        </header>
        {(!study.description.is_empty() || !study.contact.is_empty()).then(|| view! {
            <section class="panel">
                <p class="prewrap">{study.description.clone()}</p>
                {(!study.contact.is_empty()).then(|| view! { <p class="muted">"Contact: " {study.contact.clone()}</p> })}
            </section>
        })}
        <Show when=move || !sees_inventory>
            <p class="banner banner-info">"You are a researcher in this study: your access bundles will appear here."</p>
        </Show>
        <Show when=move || sees_inventory>
            <section class="panel">
                <h2>"Instances"</h2>
                {if detail.instances.is_empty() {
                    view! { <p class="empty">"No instances yet."</p> }.into_any()
                } else {
                    let instances = detail.instances.clone();
                    view! {
                        <DataTable test="study-instances" columns=&["Instance", "Stack", "Environment", "Hosts", "Tags"]>
                            {instances.into_iter().map(|i| view! {
                                <tr>
                                    <td><a href=format!("/instances/{}", i.id)>{i.name}</a></td>
                                    <td>{i.stack.to_string()}</td>
                                    <td>{i.environment}</td>
                                    <td>{i.host_count}</td>
                                    <td>{i.tags.into_iter().map(|t| view! { <span class="badge">{t}</span>" " }).collect_view()}</td>
                                </tr>
                            }).collect_view()}
                        </DataTable>
                    }.into_any()
                }}
                <Show when=move || manage>
                    <h3>"Add an instance"</h3>
                    <FormError error=instance_error />
                    <ActionForm action=create_instance attr:class="form form-grid" attr:data-test="add-instance">
                        <input type="hidden" name="study_id" value=study_id.to_string() />
                        <Field label="Name" name="input[name]" required=true error=instance_error />
                        <div class="field">
                            <label for="input-stack">"Stack"</label>
                            <input id="input-stack" name="input[stack]" list="input-stack-choices" value="generic" autocomplete="off" required />
                            {crate::components::stack_choices("input-stack-choices")}
                            <crate::components::FieldError error=instance_error field="stack" />
                        </div>
                        <Field label="Environment" name="input[environment]" required=true error=instance_error hint="production, staging, ..." />
                        <Field label="Public base URL" name="input[base_url]" error=instance_error />
                        <Field label="Tags" name="input[tags]" error=instance_error hint="Separated by commas or spaces." />
                        <TextArea label="Notes" name="input[notes]" error=instance_error />
                        <div class="form-actions"><button type="submit" class="button button-primary">"Add instance"</button></div>
                    </ActionForm>
                </Show>
            </section>
            <section class="panel">
                <h2>"Members"</h2>
                {move || member_error.get().filter(|e| !e.is_field_error()).map(|error| view! { <ErrorBanner error /> })}
                <DataTable test="members" columns=&["User", "Name", "Role", ""]>
                    {members.get_value().into_iter().map(|m| {
                        let user_id = m.user_id;
                        view! {
                            <tr data-member=m.username.clone()>
                                <td>{m.username.clone()}</td>
                                <td>{m.display_name}</td>
                                <td><span class="badge">{m.role.as_str()}</span></td>
                                <td class="row-actions">
                                    <Show when=move || manage>
                                        <ButtonForm action=remove_member fields=vec![("study_id", study_id.to_string()), ("user_id", user_id.to_string())] label="Remove" class="button-small" />
                                    </Show>
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </DataTable>
                <Show when=move || manage>
                    <ActionForm action=set_member attr:class="form form-inline" attr:data-test="add-member">
                        <input type="hidden" name="study_id" value=study_id.to_string() />
                        <Field label="Username" name="username" required=true error=member_error />
                        <div class="field">
                            <label for="member-role">"Role"</label>
                            <select id="member-role" name="role">
                                {StudyRole::ALL.into_iter().map(|r| view! { <option value=r.as_str()>{r.as_str()}</option> }).collect_view()}
                            </select>
                        </div>
                        <button type="submit" class="button">"Add or change member"</button>
                    </ActionForm>
                </Show>
            </section>
            <Show when=move || manage>
                <EditStudy study=edit.get_value() update />
            </Show>
            <Show when=move || manage>
                <section class="panel danger-zone">
                    <h2>"Delete this study"</h2>
                    <p>{format!("This removes {} instance(s) and {} host(s) with it. Type the study's name to confirm.", detail.study.instance_count, detail.study.host_count)}</p>
                    <FormError error=delete_error />
                    <ActionForm action=delete attr:class="form form-inline">
                        <input type="hidden" name="study_id" value=detail.study.id.to_string() />
                        <Field label="Study name" name="confirm" error=delete_error />
                        <button type="submit" class="button button-danger">"Delete study"</button>
                    </ActionForm>
                </section>
            </Show>
        </Show>
    }
    .into_any()
}

/// Rename the study or change its description and contact.
#[component]
fn EditStudy(study: StudySummary, update: ServerAction<UpdateStudy>) -> impl IntoView {
    let error = last_error(update.value());
    view! {
        <section class="panel">
            <h2>"Edit study"</h2>
            <FormError error />
            <ActionForm action=update attr:class="form form-grid" attr:data-test="edit-study">
                <input type="hidden" name="study_id" value=study.id.to_string() />
                <Field label="Name" name="name" id="edit-study-name" value=study.name required=true error />
                <Field label="Contact" name="contact" id="edit-study-contact" value=study.contact error />
                <TextArea label="Description" name="description" id="edit-study-description" value=study.description error />
                <div class="form-actions"><button type="submit" class="button">"Save"</button></div>
            </ActionForm>
        </section>
    }
    .into_any()
}
