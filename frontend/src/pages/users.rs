//! Admin page: the people who use Steward, their global role, and their access.

use leptos::prelude::*;

use crate::api::{CreateUser, ResetPassword, SetUserDisabled, SetUserRole, list_users};
use crate::components::{ButtonForm, ErrorBanner, Field, FormError, Loaded, LocalTime, PageHeader, last_error};
use crate::contract::{GlobalRole, OneTimeLink, UserSummary};

#[component]
pub fn UsersPage() -> impl IntoView {
    let create = ServerAction::<CreateUser>::new();
    let set_role = ServerAction::<SetUserRole>::new();
    let set_disabled = ServerAction::<SetUserDisabled>::new();
    let reset = ServerAction::<ResetPassword>::new();
    let users = Resource::new(
        move || (create.version().get(), set_role.version().get(), set_disabled.version().get(), reset.version().get()),
        |_| list_users(),
    );
    let create_error = last_error(create.value());
    let row_error = Signal::derive(move || {
        [set_role.value().get().and_then(Result::err), set_disabled.value().get().and_then(Result::err)]
            .into_iter()
            .flatten()
            .next()
            .or_else(|| last_error(reset.value()).get())
    });
    let link = Signal::derive(move || {
        create.value().get().and_then(Result::ok).or_else(|| reset.value().get().and_then(Result::ok))
    });

    view! {
        <PageHeader title="Users" />
        <OneTimeLinkNotice link />
        {move || row_error.get().map(|error| view! { <ErrorBanner error /> })}
        <section class="panel">
            <Loaded resource=users view=move |list| view! { <UsersTable list set_role set_disabled reset /> }.into_any() />
        </section>
        <section class="panel">
            <h2>"Add a user"</h2>
            <FormError error=create_error />
            <ActionForm action=create attr:class="form form-grid">
                <Field label="Username" name="username" required=true error=create_error
                    hint="Lower-case letters, digits, dot, dash and underscore." />
                <Field label="Name" name="display_name" error=create_error />
                <Field label="Email" name="email" kind="email" error=create_error
                    hint="Where alerts and notices go." />
                <div class="field">
                    <label for="role">"Role"</label>
                    <select id="role" name="role">
                        {GlobalRole::ALL.into_iter().rev().map(|role| view! {
                            <option value=role.as_str()>{role.as_str()}</option>
                        }).collect_view()}
                    </select>
                </div>
                <Field label="Initial password" name="password" kind="password" autocomplete="new-password" error=create_error
                    hint="Leave empty to get a one-time link the user opens to choose a password." />
                <div class="form-actions">
                    <button type="submit" class="button button-primary">"Add user"</button>
                </div>
            </ActionForm>
        </section>
    }
    .into_any()
}

#[component]
fn OneTimeLinkNotice(#[prop(into)] link: Signal<Option<OneTimeLink>>) -> impl IntoView {
    move || {
        link.get().map(|link| match link.url {
            Some(url) => view! {
                <div class="banner banner-success" role="status">
                    <p>{format!("Send this one-time link to {} by a channel you trust. It works once", link.username)}
                        {link.expires_at.map(|at| view! { " and expires " <LocalTime at /> })} "."</p>
                    <code class="one-time-link" data-test="one-time-link">{url}</code>
                </div>
            }.into_any(),
            None => view! {
                <p class="banner banner-success" role="status">{format!("User {} is ready to log in.", link.username)}</p>
            }.into_any(),
        })
    }
}

#[component]
fn UsersTable(
    list: Vec<UserSummary>,
    set_role: ServerAction<SetUserRole>,
    set_disabled: ServerAction<SetUserDisabled>,
    reset: ServerAction<ResetPassword>,
) -> impl IntoView {
    view! {
        <table class="table">
            <thead>
                <tr>
                    <th scope="col">"Username"</th>
                    <th scope="col">"Name"</th>
                    <th scope="col">"Email"</th>
                    <th scope="col">"Role"</th>
                    <th scope="col">"Status"</th>
                    <th scope="col">"Last login"</th>
                    <th scope="col"><span class="sr-only">"Actions"</span></th>
                </tr>
            </thead>
            <tbody>
                {list.into_iter().map(|user| {
                    let id = user.id;
                    let other_role = match user.role { GlobalRole::Admin => GlobalRole::Member, GlobalRole::Member => GlobalRole::Admin };
                    view! {
                        <tr data-user=user.username.clone()>
                            <td>{user.username.clone()}</td>
                            <td>{user.display_name.clone()}</td>
                            <td>{user.email.clone().unwrap_or_default()}</td>
                            <td><span class="badge">{user.role.as_str()}</span></td>
                            <td>{if user.disabled {
                                view! { <span class="badge badge-bad">"disabled"</span> }
                            } else {
                                view! { <span class="badge badge-good">"active"</span> }
                            }}</td>
                            <td>{user.last_login_at.map(|at| view! { <LocalTime at /> })}</td>
                            <td class="row-actions">
                                <ButtonForm action=set_role fields=vec![("user_id", id.to_string()), ("role", other_role.as_str().to_string())] label={format!("Make {other_role}")} class="button-small" />
                                <ButtonForm action=set_disabled fields=vec![("user_id", id.to_string()), ("disabled", (!user.disabled).to_string())] label={if user.disabled { "Enable" } else { "Disable" }} class="button-small" />
                                <ButtonForm action=reset fields=vec![("user_id", id.to_string())] label="Reset password" class="button-small" />
                            </td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}
