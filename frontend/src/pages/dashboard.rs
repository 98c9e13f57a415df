//! The landing page after login.

use leptos::prelude::*;

use crate::components::PageHeader;
use crate::contract::CurrentUser;

#[component]
pub fn Dashboard() -> impl IntoView {
    let user = use_context::<CurrentUser>();
    let name = user.as_ref().map(|u| u.display_name.clone()).unwrap_or_default();
    let is_admin = user.is_some_and(|u| u.is_admin());
    view! {
        <PageHeader title="Dashboard" />
        <section class="panel">
            <h2>{format!("Welcome, {name}")}</h2>
            <p>
                "Steward keeps the inventory of your studies and the servers they run on, and does the
                routine work on them over SSH: configuration, backups, upgrades, access bundles and alerts."
            </p>
            <Show when=move || is_admin>
                <p>"Next steps: " <a href="/users">"add the people who work with you"</a> " and review the " <a href="/audit">"audit log"</a> "."</p>
            </Show>
        </section>
    }
}
