//! The small things a careful admin checks: a strict Content-Security-Policy with the page's
//! own nonce, pages never cached, requests for another host name refused (DNS rebinding),
//! researchers seeing study names only, server paths kept from non-admins, and SQLite under
//! concurrent writes answering without a server error.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Backend, TestApp, member_with_role};
use steward_frontend::contract::{StackSummary, StudySummary};

on_both_backends!(
    pages_are_private_and_answer_only_to_steward_s_name,
    concurrent_writes_never_fail_with_a_server_error,
    a_failing_database_shows_only_a_request_id
);

async fn pages_are_private_and_answer_only_to_steward_s_name(backend: Backend) {
    let app = TestApp::start_with(backend, |config| {
        let folder = config.storage.data_dir.join("stacks/site");
        std::fs::create_dir_all(folder.join("templates")).unwrap();
        std::fs::write(folder.join("stack.toml"), "name = \"site\"\ntitle = \"Site\"\n").unwrap();
    })
    .await;
    let admin = app.admin().await;

    // The policy names the nonce the page's inline script carries; nothing else may run.
    let page = admin.get("/login").await;
    let policy = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert_eq!(page.headers()["cache-control"], "no-store");
    let html = page.text().await.unwrap();
    let nonce = policy.split("'nonce-").nth(1).unwrap().split('\'').next().unwrap();
    assert!(html.contains(&format!("nonce=\"{nonce}\"")), "the inline script carries the nonce: {html}");
    assert!(policy.contains("default-src 'self'") && policy.contains("frame-ancestors 'none'"), "{policy}");
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    let bundle = admin.get("/assets/steward.css").await;
    assert!(bundle.headers().get("cache-control").is_none_or(|v| v != "no-store"));

    // Another name for the same address (DNS rebinding) is refused; probes still answer.
    let http = reqwest::Client::new();
    let rebound = http.get(format!("{}/login", app.url)).header("host", "rebind.evil.example").send().await.unwrap();
    assert_eq!(rebound.status().as_u16(), 421);
    let port = app.url.rsplit(':').next().unwrap();
    let alias =
        http.get(format!("{}/login", app.url)).header("host", format!("localhost:{port}")).send().await.unwrap();
    assert_eq!(alias.status().as_u16(), 200, "a loopback name of a loopback Steward is fine");
    let probe = http.get(format!("{}/healthz", app.url)).header("host", "10.1.2.3").send().await.unwrap();
    assert_eq!(probe.status().as_u16(), 200);

    // A researcher learns a study's name and nothing more.
    let study: StudySummary = admin
        .call(
            "create_study",
            &[("name", "Diaries"), ("description", "Travel diaries of 400 people"), ("contact", "pi@example.org")],
        )
        .await
        .unwrap();
    let researcher = member_with_role(&app, &admin, &study.id.to_string(), "rosa", "researcher").await;
    let seen: Vec<StudySummary> = researcher.call("list_studies", &[]).await.unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].name, "Diaries");
    assert!(seen[0].description.is_empty() && seen[0].contact.is_empty(), "{seen:?}");
    let viewer = member_with_role(&app, &admin, &study.id.to_string(), "vera", "viewer").await;
    let seen: Vec<StudySummary> = viewer.call("list_studies", &[]).await.unwrap();
    assert_eq!(seen[0].contact, "pi@example.org", "a viewer sees the study");

    // Where an operator's stack folder lives is for admins.
    let stacks: Vec<StackSummary> = viewer.call("list_stacks", &[]).await.unwrap();
    let site = stacks.iter().find(|s| s.name == "site").unwrap();
    assert_eq!(site.source, "local folder");
    let stacks: Vec<StackSummary> = admin.call("list_stacks", &[]).await.unwrap();
    assert!(stacks.iter().find(|s| s.name == "site").unwrap().source.ends_with("stacks/site"));
    app.stop().await;
}

async fn concurrent_writes_never_fail_with_a_server_error(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let study: StudySummary =
        admin.call("create_study", &[("name", "Busy"), ("description", ""), ("contact", "")]).await.unwrap();
    let study = study.id.to_string();
    // Many writers at once, each a transaction that reads before it writes.
    let calls = (0..40).map(|i| {
        let (admin, study) = (admin.clone(), study.clone());
        async move {
            let name = format!("instance {i}");
            let form = [
                ("study_id", study.as_str()),
                ("input[name]", name.as_str()),
                ("input[stack]", "generic"),
                ("input[environment]", "production"),
            ];
            admin.call_raw("create_instance", &form).await
        }
    });
    for (status, body) in futures_util::future::join_all(calls).await {
        assert!(status.is_success() || status.as_u16() == 503, "{status}: {body}");
    }
    app.stop().await;
}

/// Runs SQL on the app's own database, behind its back.
async fn sabotage(app: &TestApp, sql: &str) {
    let url = app.state.config.database.url.expose().to_owned();
    if url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        sqlx::query(sql).execute(&pool).await.unwrap();
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(&url).await.unwrap();
        sqlx::query(sql).execute(&pool).await.unwrap();
        pool.close().await;
    }
}

async fn a_failing_database_shows_only_a_request_id(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let (key, instance) = common::study_with_key(&admin, "Broken").await;
    let _ = key;
    let host: serde_json::Value =
        admin.call("add_host", &common::host_form(&instance, "web1", "web", "127.0.0.1", "", "")).await.unwrap();
    sabotage(&app, "DROP TABLE audit_log").await;
    sabotage(&app, "DROP TABLE host_keys").await;

    // A page of the store that is gone: 500, a generic message and the request id, nothing more.
    let response =
        admin.http.post(format!("{}/api/audit_log", app.url)).form(&[("query[page]", "0")]).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 500);
    let request_id = response.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body = response.text().await.unwrap();
    assert_eq!(body, format!("{{\"Internal\":{{\"request_id\":\"{request_id}\"}}}}"));
    // Through SSH too: the host's check says Steward could not read its inventory, not why.
    let (status, body) = admin.call_raw("check_host", &[("host_id", &host["id"].to_string())]).await;
    assert!(status.is_success() || status.as_u16() >= 500, "{status}: {body}");
    for leak in ["no such table", "does not exist", "host_keys", "sqlx", "relation"] {
        assert!(!body.contains(leak), "database text reached the browser: {body}");
    }
    app.stop().await;
}
