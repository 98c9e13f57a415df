//! The signed-in user's own account: who they are and their password.

use leptos::prelude::*;

use crate::api::ChangePassword;
use crate::components::{Field, FormError, PageHeader, last_error};
use crate::contract::CurrentUser;

#[component]
pub fn AccountPage() -> impl IntoView {
    let user = use_context::<CurrentUser>();
    let change = ServerAction::<ChangePassword>::new();
    let error = last_error(change.value());
    let done = move || matches!(change.value().get(), Some(Ok(())));
    view! {
        <PageHeader title="Account" />
        {user.map(|user| view! {
            <section class="panel">
                <dl class="facts">
                    <dt>"Username"</dt><dd>{user.username}</dd>
                    <dt>"Name"</dt><dd>{user.display_name}</dd>
                    <dt>"Role"</dt><dd>{user.role.as_str()}</dd>
                </dl>
            </section>
        })}
        <section class="panel">
            <h2>"Change password"</h2>
            <Show when=done>
                <p class="banner banner-success" role="status">"Your password was changed. Other sessions were logged out."</p>
            </Show>
            <FormError error />
            <ActionForm action=change attr:class="form">
                <Field label="Current password" name="current" kind="password" autocomplete="current-password" required=true error />
                <Field label="New password" name="password" kind="password" autocomplete="new-password" required=true error
                    hint="At least 12 characters." />
                <Field label="Repeat the new password" name="confirm" kind="password" autocomplete="new-password" required=true error />
                <button type="submit" class="button button-primary">"Change password"</button>
            </ActionForm>
        </section>
    }
}
