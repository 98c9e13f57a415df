//! One module per page.

mod account;
mod alert_settings;
mod alerts;
mod ansible;
mod audit;
mod auth;
mod configs;
mod credentials;
mod dashboard;
mod fleet;
mod hosts;
mod instances;
mod jobs;
mod mail;
mod rota;
mod schedules;
mod settings;
mod studies;
mod users;

pub use account::AccountPage;
pub use alert_settings::AlertSettingsPage;
pub use alerts::{AcknowledgeLinkPage, AlertsPage};
pub use audit::AuditPage;
pub use auth::{LoginPage, SetPasswordPage, SetupPage};
pub use configs::ConfigPage;
pub use credentials::CredentialsPage;
pub use dashboard::Dashboard;
pub use hosts::HostPage;
pub use instances::{InstancePage, InstancesPage};
pub use jobs::{JobKinds, JobPage, JobsPage};
pub use mail::MailPage;
pub use rota::RotaPage;
pub use schedules::{SchedulePage, SchedulesPage};
pub use settings::SettingsPage;
pub use studies::{StudiesPage, StudyPage};
pub use users::UsersPage;

use leptos::prelude::*;

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(options) = use_context::<leptos_axum::ResponseOptions>() {
        options.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <main class="content narrow">
            <leptos_meta::Title text="Not found" />
            <h1>"Page not found"</h1>
            <p>"There is nothing at this address. " <a href="/">"Go to the dashboard"</a></p>
        </main>
    }
}
