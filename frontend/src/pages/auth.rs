//! Pages without a session: first-run setup, login, and setting a password from a one-time link.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::api::{CompleteSetup, Login, SetPassword, get_setup_status};
use crate::components::{Field, FormError, last_error};

#[component]
fn AuthCard(title: &'static str, children: Children) -> impl IntoView {
    view! {
        <leptos_meta::Title text=title />
        <main class="auth-page">
            <section class="auth-card">
                <p class="brand">"Steward"</p>
                <h1>{title}</h1>
                {children()}
            </section>
        </main>
    }
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let next = move || query.read().get("next").unwrap_or_default();
    let password_set = move || query.read().get("password_set").is_some();
    let status = Resource::new(|| (), |_| get_setup_status());
    let login = ServerAction::<Login>::new();
    let error = last_error(login.value());
    view! {
        <AuthCard title="Log in">
            <Suspense>
                {move || Suspend::new(async move {
                    status.await.ok().filter(|s| s.needs_setup).map(|_| view! {
                        <p class="banner banner-info">
                            "Steward has no users yet. Open the one-time setup link that Steward printed when it started."
                        </p>
                    })
                })}
            </Suspense>
            <Show when=password_set>
                <p class="banner banner-success">"Your password is set. Log in with it."</p>
            </Show>
            <FormError error />
            <ActionForm action=login attr:class="form">
                <input type="hidden" name="next" value=next />
                <Field label="Username" name="username" autocomplete="username" required=true error />
                <Field label="Password" name="password" kind="password" autocomplete="current-password" required=true error />
                <button type="submit" class="button button-primary">"Log in"</button>
            </ActionForm>
        </AuthCard>
    }
}

#[component]
pub fn SetupPage() -> impl IntoView {
    let query = use_query_map();
    let token = move || query.read().get("token").unwrap_or_default();
    let status = Resource::new(|| (), |_| get_setup_status());
    let setup = ServerAction::<CompleteSetup>::new();
    let error = last_error(setup.value());
    view! {
        <AuthCard title="Create the first admin">
            <Suspense>
                {move || Suspend::new(async move {
                    match status.await {
                        Ok(s) if !s.needs_setup => view! {
                            <p class="banner banner-info">
                                "Steward is already set up. " <a href="/login">"Log in"</a>
                            </p>
                        }.into_any(),
                        _ => view! {
                            <p class="lead">
                                "This account manages Steward: users, studies and settings. The setup link works once."
                            </p>
                            <FormError error />
                            <ActionForm action=setup attr:class="form">
                                <input type="hidden" name="token" value=token />
                                <Field label="Username" name="username" autocomplete="username" required=true error
                                    hint="Lower-case letters, digits, dot, dash and underscore." />
                                <Field label="Password" name="password" kind="password" autocomplete="new-password" required=true error
                                    hint="At least 12 characters." />
                                <Field label="Repeat the password" name="confirm" kind="password" autocomplete="new-password" required=true error />
                                <button type="submit" class="button button-primary">"Create admin and log in"</button>
                            </ActionForm>
                        }.into_any(),
                    }
                })}
            </Suspense>
        </AuthCard>
    }
}

#[component]
pub fn SetPasswordPage() -> impl IntoView {
    let query = use_query_map();
    let token = move || query.read().get("token").unwrap_or_default();
    let set = ServerAction::<SetPassword>::new();
    let error = last_error(set.value());
    view! {
        <AuthCard title="Choose your password">
            <FormError error />
            <ActionForm action=set attr:class="form">
                <input type="hidden" name="token" value=token />
                <Field label="New password" name="password" kind="password" autocomplete="new-password" required=true error
                    hint="At least 12 characters." />
                <Field label="Repeat the password" name="confirm" kind="password" autocomplete="new-password" required=true error />
                <button type="submit" class="button button-primary">"Set password"</button>
            </ActionForm>
        </AuthCard>
    }
}
