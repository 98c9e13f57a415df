//! Admin page: every state change in Steward, newest first, filterable by actor and action.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::api::audit_log;
use crate::components::{Loaded, LocalTime, PageHeader, percent_encode};
use crate::contract::{AuditEntry, AuditQuery, Page};

#[component]
pub fn AuditPage() -> impl IntoView {
    let query_map = use_query_map();
    let query = Memo::new(move |_| {
        let map = query_map.read();
        AuditQuery {
            actor: map.get("actor").unwrap_or_default(),
            action: map.get("action").unwrap_or_default(),
            page: map.get("page").and_then(|p| p.parse().ok()).unwrap_or(0),
        }
    });
    let entries = Resource::new(move || query.get(), audit_log);

    view! {
        <PageHeader title="Audit log" />
        <form method="get" action="/audit" class="filters" role="search">
            <div class="field">
                <label for="actor">"Actor"</label>
                <input id="actor" name="actor" value=move || query.get().actor />
            </div>
            <div class="field">
                <label for="action">"Action"</label>
                <input id="action" name="action" placeholder="e.g. user.login" value=move || query.get().action />
            </div>
            <button type="submit" class="button">"Filter"</button>
        </form>
        <section class="panel">
            <Loaded resource=entries view=move |page| view! { <AuditTable page query=query.get_untracked() /> }.into_any() />
        </section>
    }
}

#[component]
fn AuditTable(page: Page<AuditEntry>, query: AuditQuery) -> impl IntoView {
    if page.items.is_empty() {
        return view! { <p class="empty">"No audit events match these filters."</p> }.into_any();
    }
    let page_count = page.page_count();
    let link = move |to: u32| {
        format!("/audit?actor={}&action={}&page={to}", percent_encode(&query.actor), percent_encode(&query.action))
    };
    let (current, total) = (page.page, page.total);
    view! {
        <table class="table" data-test="audit-table">
            <thead>
                <tr>
                    <th scope="col">"When"</th>
                    <th scope="col">"Actor"</th>
                    <th scope="col">"Action"</th>
                    <th scope="col">"Target"</th>
                    <th scope="col">"Detail"</th>
                    <th scope="col">"From"</th>
                </tr>
            </thead>
            <tbody>
                {page.items.into_iter().map(|entry| view! {
                    <tr>
                        <td><LocalTime at=entry.at /></td>
                        <td>{entry.actor.unwrap_or_else(|| "—".to_owned())}</td>
                        <td><code>{entry.action}</code></td>
                        <td>{entry.target}</td>
                        <td>{entry.detail}</td>
                        <td>{entry.client_addr.unwrap_or_default()}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
        <nav class="pagination" aria-label="Pages">
            <span>{format!("{total} events · page {} of {page_count}", current + 1)}</span>
            {(current > 0).then(|| view! { <a href=link(current - 1)>"Newer"</a> })}
            {(current + 1 < page_count).then(|| view! { <a href=link(current + 1)>"Older"</a> })}
        </nav>
    }
    .into_any()
}
