//! The HTML shell, the router and the signed-in layout with its navigation.

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::components::{A, Outlet, ParentRoute, Redirect, Route, Router, Routes};
use leptos_router::{SsrMode, path};

use crate::api::{Logout, get_current_user};
use crate::components::ErrorBanner;
use crate::contract::CurrentUser;
use crate::pages;

/// The document around every page. The server renders it; the browser hydrates `<App/>`.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Lets tests and scripts wait for hydration instead of sleeping: effects run only in the
    // browser, once the wasm has taken over the page.
    Effect::new(move |_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });

    view! {
        <Stylesheet id="steward-css" href="/assets/steward.css" />
        <Title formatter=|page: String| {
            let title = if page.is_empty() { "Steward".to_owned() } else { format!("{page} · Steward") };
            // leptos_meta writes the title into the server-rendered HTML unescaped; names are
            // user text, so escape them there (the browser sets document.title as plain text).
            if cfg!(feature = "ssr") { crate::components::escape_raw_text(&title) } else { title }
        } />
        <Router>
            <Routes fallback=|| view! { <pages::NotFound /> }>
                <Route path=path!("/login") view=pages::LoginPage ssr=SsrMode::Async />
                <Route path=path!("/setup") view=pages::SetupPage ssr=SsrMode::Async />
                <Route path=path!("/password") view=pages::SetPasswordPage ssr=SsrMode::Async />
                <Route path=path!("/alerts/ack") view=pages::AcknowledgeLinkPage ssr=SsrMode::Async />
                <ParentRoute path=path!("") view=SignedInLayout ssr=SsrMode::Async>
                    <Route path=path!("") view=pages::Dashboard />
                    <Route path=path!("account") view=pages::AccountPage />
                    <Route path=path!("studies") view=pages::StudiesPage />
                    <Route path=path!("studies/:id") view=pages::StudyPage />
                    <Route path=path!("instances") view=pages::InstancesPage />
                    <Route path=path!("instances/:id") view=pages::InstancePage />
                    <Route path=path!("instances/:id/config") view=pages::ConfigPage />
                    <Route path=path!("hosts/:id") view=pages::HostPage />
                    <Route path=path!("alerts") view=pages::AlertsPage />
                    <Route path=path!("rota") view=pages::RotaPage />
                    <Route path=path!("studies/:id/rota") view=pages::RotaPage />
                    <Route path=path!("studies/:id/alert-settings") view=pages::AlertSettingsPage />
                    <Route path=path!("jobs") view=pages::JobsPage />
                    <Route path=path!("jobs/:id") view=pages::JobPage />
                    <Route path=path!("schedules") view=pages::SchedulesPage />
                    <Route path=path!("schedules/:id") view=pages::SchedulePage />
                    <Route path=path!("credentials") view=pages::CredentialsPage />
                    <Route path=path!("users") view=pages::UsersPage />
                    <Route path=path!("audit") view=pages::AuditPage />
                    <Route path=path!("mail") view=pages::MailPage />
                    <Route path=path!("settings") view=pages::SettingsPage />
                </ParentRoute>
            </Routes>
        </Router>
    }
}

/// Pages behind a login: the navigation on the left, the page on the right. Visitors without a
/// session are sent to the login page; the server checks permissions again on every call.
#[component]
fn SignedInLayout() -> impl IntoView {
    let user = Resource::new(|| (), |_| get_current_user());
    // What the job forms offer, from the server's registry: loaded once with the layout.
    let job_kinds = Resource::new(|| (), |_| crate::api::job_kinds());
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match user.await {
                    Ok(Some(user)) => {
                        provide_context(user.clone());
                        provide_context(crate::pages::JobKinds(job_kinds.await.unwrap_or_default()));
                        view! {
                            <div class="layout">
                                <Navigation user />
                                <main class="content" id="main">
                                    <Outlet />
                                </main>
                            </div>
                        }
                            .into_any()
                    }
                    Ok(None) => view! { <Redirect path="/login" /> }.into_any(),
                    Err(err) => view! { <main class="content"><ErrorBanner error=err /></main> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Navigation(user: CurrentUser) -> impl IntoView {
    let logout = ServerAction::<Logout>::new();
    let is_admin = user.is_admin();
    view! {
        <nav class="sidebar" aria-label="Main">
            <A href="/" attr:class="brand">"Steward"</A>
            <ul class="nav-links">
                <li><A href="/" exact=true>"Dashboard"</A></li>
                <li><A href="/studies">"Studies"</A></li>
                <li><A href="/instances">"Instances"</A></li>
                <li><A href="/jobs">"Jobs"</A></li>
                <li><A href="/alerts">"Alerts"</A></li>
                <li><A href="/rota">"On-call rota"</A></li>
                <li><A href="/schedules">"Schedules"</A></li>
                <Show when=move || is_admin>
                    <li class="nav-section">"Administration"</li>
                    <li><A href="/credentials">"Credentials"</A></li>
                    <li><A href="/users">"Users"</A></li>
                    <li><A href="/audit">"Audit log"</A></li>
                    <li><A href="/mail">"Mail"</A></li>
                    <li><A href="/settings">"Settings"</A></li>
                </Show>
            </ul>
            <div class="nav-user">
                <A href="/account" attr:class="nav-account">
                    <span class="nav-user-name">{user.display_name.clone()}</span>
                    <span class="nav-user-role">{user.role.as_str()}</span>
                </A>
                <ActionForm action=logout>
                    <button type="submit" class="button button-quiet" data-test="logout">
                        "Log out"
                    </button>
                </ActionForm>
            </div>
        </nav>
    }
}
