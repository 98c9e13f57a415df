//! An on-call rota (a study's, or the global one at `/rota`): who is on call now, a calendar of
//! the coming weeks, the turn order with escalation timing, and overrides for holidays.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use crate::api::{AddRotaOverride, DeleteRotaOverride, SaveRota, get_rota};
use crate::components::{
    ButtonForm, DataTable, Field, FieldError, FormError, Loaded, LocalTime, last_error, successes,
};
use crate::contract::{RotaRole, RotaView};

#[component]
pub fn RotaPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").and_then(|id| id.parse::<i64>().ok());
    let save = ServerAction::<SaveRota>::new();
    let add = ServerAction::<AddRotaOverride>::new();
    let remove = ServerAction::<DeleteRotaOverride>::new();
    let rota = Resource::new(
        {
            let (saved, added, removed) = (successes(save.value()), successes(add.value()), successes(remove.value()));
            move || (id(), saved.get(), added.get(), removed.get())
        },
        |(id, ..)| get_rota(id),
    );
    view! {
        <Loaded resource=rota view=move |rota| view! { <Rota rota save add remove /> }.into_any() />
    }
}

#[component]
fn Rota(
    rota: RotaView,
    save: ServerAction<SaveRota>,
    add: ServerAction<AddRotaOverride>,
    remove: ServerAction<DeleteRotaOverride>,
) -> impl IntoView {
    let title = format!("On-call rota: {}", rota.scope_name);
    let study_id = rota.study_id;
    let save_error = last_error(save.value());
    let members: String = rota.members.iter().map(|m| format!("{}\n", m.username)).collect();
    let for_overrides = rota.clone();
    view! {
        <leptos_meta::Title text=title.clone() />
        <header class="page-header">
            <h1>{title}</h1>
            <div class="page-actions">
                {rota.study_id.map(|id| view! { <a href=format!("/studies/{id}")>"Back to the study"</a> })}
            </div>
        </header>
        <p class="lead">
            "Alerts go to the primary first, to the secondary when nobody acknowledges them in time, then to the study's admins. "
            {if rota.study_id.is_none() { "This rota covers studies that have none of their own." } else { "Without members here, the global rota applies." }}
        </p>
        {rota.configured.then(|| view! {
            <section class="panel" data-test="on-call-now">
                <h2>"Now"</h2>
                <dl class="facts">
                    <dt>"Primary"</dt><dd data-test="primary-now">{rota.primary_now.clone().unwrap_or_else(|| "nobody".into())}</dd>
                    <dt>"Secondary"</dt><dd data-test="secondary-now">{rota.secondary_now.clone().unwrap_or_else(|| "nobody".into())}</dd>
                </dl>
                <h3>"Coming weeks"</h3>
                <DataTable test="rota-calendar" columns=&["Week from", "Primary", "Secondary", "Overrides"]>
                    {rota.weeks.iter().map(|w| view! {
                        <tr>
                            <td><LocalTime at=w.starts_at /></td>
                            <td>{w.primary.clone().unwrap_or_default()}</td>
                            <td>{w.secondary.clone().unwrap_or_default()}</td>
                            <td>{w.overridden.then(|| view! { <span class="badge badge-warn">"override"</span> })}</td>
                        </tr>
                    }).collect_view()}
                </DataTable>
            </section>
        })}
        <section class="panel">
            <h2>"Turns and escalation"</h2>
            <FormError error=save_error />
            <ActionForm action=save attr:class="form form-grid" attr:data-test="rota-form">
                {study_id.map(|id| view! { <input type="hidden" name="input[study_id]" value=id.to_string() /> })}
                <div class="field field-wide">
                    <label for="rota-members">"People, in turn order (one username per line)"</label>
                    <textarea id="rota-members" name="input[members]" rows="4" prop:value=members.clone()>
                        {crate::components::escape_raw_text(&members)}
                    </textarea>
                    <FieldError error=save_error field="members" />
                </div>
                <Field label="First week starts" name="input[starts_on]" id="rota-starts" kind="date" value=rota.starts_on.clone() error=save_error />
                <Field label="Handoff hour" name="input[handoff_hour]" id="rota-hour" inputmode="numeric" value=rota.handoff_hour.to_string() error=save_error />
                <Field label="Time zone" name="input[timezone]" id="rota-tz" value=rota.timezone.clone() error=save_error />
                <Field label="Escalate after (minutes)" name="input[escalate_after_minutes]" id="rota-escalate" inputmode="numeric" value=rota.escalate_after_minutes.to_string() error=save_error />
                <Field label="Remind every (minutes)" name="input[renotify_minutes]" id="rota-renotify" inputmode="numeric" value=rota.renotify_minutes.to_string() error=save_error />
                <div class="form-actions"><button type="submit" class="button button-primary">"Save the rota"</button></div>
            </ActionForm>
        </section>
        {rota.configured.then(move || view! { <Overrides rota=for_overrides add remove /> })}
    }
}

#[component]
fn Overrides(
    rota: RotaView,
    add: ServerAction<AddRotaOverride>,
    remove: ServerAction<DeleteRotaOverride>,
) -> impl IntoView {
    let study_id = rota.study_id;
    let add_error = last_error(add.value());
    let remove_error = last_error(remove.value());
    view! {
            <section class="panel">
                <h2>"Overrides"</h2>
                <FormError error=remove_error />
                {if rota.overrides.is_empty() {
                    view! { <p class="empty">"No overrides. Add one when someone is away or swaps a week."</p> }.into_any()
                } else {
                    view! {
                        <table class="table" data-test="rota-overrides">
                            <thead><tr><th scope="col">"Who"</th><th scope="col">"As"</th><th scope="col">"From"</th><th scope="col">"Until"</th><th scope="col">"Note"</th><th scope="col"></th></tr></thead>
                            <tbody>
                                {rota.overrides.clone().into_iter().map(|o| view! {
                                    <tr>
                                        <td>{o.username}</td>
                                        <td>{o.role.as_str()}</td>
                                        <td><LocalTime at=o.starts_at /></td>
                                        <td><LocalTime at=o.ends_at /></td>
                                        <td>{o.note}</td>
                                        <td>
                                            <ButtonForm action=remove label="Remove" fields=study_id
                                                .map(|id| ("study_id", id.to_string()))
                                                .into_iter()
                                                .chain([("override_id", o.id.to_string())])
                                                .collect() />
                                        </td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any()
                }}
                <h3>"Add an override"</h3>
                <FormError error=add_error />
                <ActionForm action=add attr:class="form form-grid" attr:data-test="override-form">
                    {study_id.map(|id| view! { <input type="hidden" name="input[study_id]" value=id.to_string() /> })}
                    <Field label="Username" name="input[username]" id="override-user" error=add_error />
                    <div class="field">
                        <label for="override-role">"As"</label>
                        <select id="override-role" name="input[role]">
                            {RotaRole::ALL.iter().map(|r| view! { <option value=r.as_str()>{r.as_str()}</option> }).collect_view()}
                        </select>
                    </div>
                    <div class="field">
                        <label for="override-from">{format!("From ({})", rota.timezone)}</label>
                        <input id="override-from" type="datetime-local" name="input[starts_at]" />
                        <FieldError error=add_error field="starts_at" />
                    </div>
                    <Field label="Until" name="input[ends_at]" id="override-until" kind="datetime-local" error=add_error />
                    <div class="field field-wide">
                        <label for="override-note">"Note"</label>
                        <input id="override-note" name="input[note]" placeholder="Alice on holiday" />
                    </div>
                    <div class="form-actions"><button type="submit" class="button">"Add the override"</button></div>
                </ActionForm>
            </section>
    }
}
