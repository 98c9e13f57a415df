//! Accounts, sessions, CSRF and the audit log, driven over HTTP on SQLite and on Postgres.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use chrono::Duration;
use common::{ADMIN_PASSWORD, Backend, Client, TestApp};
use reqwest::StatusCode;
use serde_json::Value;
use steward_frontend::contract::{AppError, AuditEntry, CurrentUser, OneTimeLink, Page, SetupStatus, UserSummary};

on_both_backends!(
    first_admin_then_users_then_audit,
    setup_link_is_single_use_and_checked,
    setup_link_expires,
    sessions_rotate_at_login_and_end_at_logout,
    login_failures_are_uniform_and_throttled,
    cross_site_requests_are_refused,
    disabling_a_user_ends_their_sessions,
    steward_keeps_an_admin,
    password_links_work_once,
    health_and_request_ids,
    concurrent_logins_cannot_pass_the_limit,
    a_busy_address_is_slowed_not_locked_out,
    oversized_and_multipart_requests_are_refused_and_bounded,
    login_redirects_stay_on_steward_and_pages_show_only_its_own_errors,
);

const RITA_PASSWORD: &str = "orange kite under the bridge";

async fn create_rita(admin: &Client) -> OneTimeLink {
    admin
        .call(
            "create_user",
            &[
                ("username", "Rita"),
                ("display_name", "Rita Researcher"),
                ("email", "rita@example.org"),
                ("role", "member"),
                ("password", RITA_PASSWORD),
            ],
        )
        .await
        .unwrap()
}

async fn user_id(admin: &Client, username: &str) -> i64 {
    let users: Vec<UserSummary> = admin.call("list_users", &[]).await.unwrap();
    users.iter().find(|u| u.username == username).unwrap().id
}

async fn audit(admin: &Client, action: &str) -> Vec<AuditEntry> {
    let page: Page<AuditEntry> = admin
        .call("audit_log", &[("query[actor]", ""), ("query[action]", action), ("query[page]", "0")])
        .await
        .unwrap();
    page.items
}

async fn first_admin_then_users_then_audit(backend: Backend) {
    let app = TestApp::start(backend).await;
    let anonymous = app.client();
    let status: SetupStatus = anonymous.call("setup_status", &[]).await.unwrap();
    assert!(status.needs_setup);

    let admin = app.admin().await;
    let me: Option<CurrentUser> = admin.call("current_user", &[]).await.unwrap();
    assert_eq!(me.unwrap().username, "admin");
    let status: SetupStatus = anonymous.call("setup_status", &[]).await.unwrap();
    assert!(!status.needs_setup);

    let created = create_rita(&admin).await;
    assert_eq!(created.username, "rita", "usernames are stored lower-case");
    assert_eq!(created.url, None, "a password was given, so no link");
    let duplicate = admin
        .call::<OneTimeLink>(
            "create_user",
            &[("username", "rita"), ("display_name", ""), ("email", ""), ("role", "member"), ("password", "")],
        )
        .await
        .unwrap_err();
    assert_eq!(duplicate.status, StatusCode::CONFLICT);
    assert_eq!(duplicate.error.for_field("username").as_deref(), Some("A user named rita already exists"));

    // Names with shell and HTML metacharacters are refused with a field error, not stored.
    let hostile = admin
        .call::<OneTimeLink>(
            "create_user",
            &[("username", "x$(reboot)"), ("display_name", ""), ("email", ""), ("role", "member"), ("password", "")],
        )
        .await
        .unwrap_err();
    assert!(hostile.error.for_field("username").is_some());
    // ... but a display name is free text, kept exactly and shown escaped.
    let odd_name = "O'Brien <b>\"$(id)\"` \\n";
    admin
        .call::<OneTimeLink>(
            "create_user",
            &[("username", "obrien"), ("display_name", odd_name), ("email", ""), ("role", "member"), ("password", "")],
        )
        .await
        .unwrap();
    let users: Vec<UserSummary> = admin.call("list_users", &[]).await.unwrap();
    assert_eq!(users.iter().find(|u| u.username == "obrien").unwrap().display_name, odd_name);
    let page = admin.get("/users").await.text().await.unwrap();
    assert!(
        page.contains("O&#x27;Brien &lt;b&gt;") || page.contains("O'Brien &lt;b&gt;"),
        "name not escaped in {page}"
    );

    let rita = app.client();
    let me: Value = rita.login("rita", RITA_PASSWORD).await.unwrap();
    assert_eq!(me["username"], "rita");
    let refused = rita.call::<Vec<UserSummary>>("list_users", &[]).await.unwrap_err();
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.error, AppError::Forbidden);
    let refused = rita.call::<Page<AuditEntry>>("audit_log", &[("query[page]", "0")]).await.unwrap_err();
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    rita.call::<()>("logout", &[]).await.unwrap();
    let me: Option<CurrentUser> = rita.call("current_user", &[]).await.unwrap();
    assert_eq!(me, None);
    let refused = rita.call::<Vec<UserSummary>>("list_users", &[]).await.unwrap_err();
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);

    let events: Vec<String> = audit(&admin, "")
        .await
        .iter()
        .map(|e| format!("{} {} {}", e.actor.as_deref().unwrap_or("-"), e.action, e.target))
        .collect();
    for expected in [
        "admin setup.completed user admin",
        "admin user.created user rita",
        "rita user.login user rita",
        "rita user.logout user rita",
    ] {
        assert!(events.contains(&expected.to_owned()), "{expected:?} missing from {events:#?}");
    }
    let logins = audit(&admin, "user.login").await;
    assert!(logins.iter().all(|e| e.client_addr.as_deref() == Some("127.0.0.1")));
    app.stop().await;
}

async fn setup_link_is_single_use_and_checked(backend: Backend) {
    let app = TestApp::start(backend).await;
    let client = app.client();
    let wrong = client.complete_setup("guessed", "admin", ADMIN_PASSWORD, ADMIN_PASSWORD).await.unwrap_err();
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert!(wrong.error.to_string().contains("not valid"));

    let short = client.complete_setup(&app.setup_token(), "admin", "short", "short").await.unwrap_err();
    assert_eq!(short.error.for_field("password").as_deref(), Some("Use at least 12 characters"));
    let mismatch = client.complete_setup(&app.setup_token(), "admin", ADMIN_PASSWORD, "other").await.unwrap_err();
    assert!(mismatch.error.for_field("confirm").is_some());

    // The bad attempts did not use the link up.
    app.admin().await;
    let again =
        app.client().complete_setup(&app.setup_token(), "eve", ADMIN_PASSWORD, ADMIN_PASSWORD).await.unwrap_err();
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert_eq!(app.state.store.count_users().await.unwrap(), 1);
    assert!(app.state.accounts.issue_setup_link().await.unwrap().is_none(), "no new setup link once set up");
    app.stop().await;
}

async fn setup_link_expires(backend: Backend) {
    let app = TestApp::start(backend).await;
    app.clock.advance(Duration::minutes(61));
    let client = app.client();
    let expired = client.complete_setup(&app.setup_token(), "admin", ADMIN_PASSWORD, ADMIN_PASSWORD).await.unwrap_err();
    assert!(expired.error.to_string().contains("expired"));
    app.stop().await;
}

async fn sessions_rotate_at_login_and_end_at_logout(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    create_rita(&admin).await;
    let before = admin.session_cookie().expect("a session after setup");

    // Logging in again in the same browser gives a new session id; the old one is dead.
    admin.login("rita", RITA_PASSWORD).await.unwrap();
    let after = admin.session_cookie().unwrap();
    assert_ne!(before, after, "session id must change at login");
    let stale = Client::with_cookie(&app.url, &before);
    let me: Option<CurrentUser> = stale.call("current_user", &[]).await.unwrap();
    assert_eq!(me, None, "the pre-login session must not survive");

    // Logout ends the session on the server, not just in the browser.
    let copy = Client::with_cookie(&app.url, &after);
    let me: Option<CurrentUser> = copy.call("current_user", &[]).await.unwrap();
    assert_eq!(me.unwrap().username, "rita");
    admin.call::<()>("logout", &[]).await.unwrap();
    let me: Option<CurrentUser> = copy.call("current_user", &[]).await.unwrap();
    assert_eq!(me, None, "a copied cookie must not outlive logout");

    // Cookie flags.
    let response = app
        .client()
        .http
        .post(format!("{}/api/login", app.url))
        .form(&[("username", "rita"), ("password", RITA_PASSWORD)])
        .send()
        .await
        .unwrap();
    let set_cookie = response.headers().get("set-cookie").unwrap().to_str().unwrap().to_owned();
    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
    assert!(set_cookie.contains("SameSite=Lax"), "{set_cookie}");
    assert!(!set_cookie.contains("Secure"), "plain http base URL: {set_cookie}");

    // The absolute timeout ends even a busy session.
    let busy = app.client();
    busy.login("rita", RITA_PASSWORD).await.unwrap();
    app.clock.advance(Duration::hours(7 * 24 + 1));
    let me: Option<CurrentUser> = busy.call("current_user", &[]).await.unwrap();
    assert_eq!(me, None);
    app.stop().await;
}

async fn login_failures_are_uniform_and_throttled(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    create_rita(&admin).await;
    let client = app.client();

    let wrong_password = client.login("rita", "not the password").await.unwrap_err();
    let unknown_user = client.login("nobody", "not the password").await.unwrap_err();
    assert_eq!(wrong_password.status, unknown_user.status);
    assert_eq!(wrong_password.error, unknown_user.error);
    assert_eq!(wrong_password.error.to_string(), "Wrong username or password");

    for _ in 0..4 {
        client.login("rita", "not the password").await.unwrap_err();
    }
    // Five failures: even the right password waits now.
    let throttled = client.login("rita", RITA_PASSWORD).await.unwrap_err();
    assert_eq!(throttled.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(matches!(throttled.error, AppError::TooManyAttempts { .. }));
    assert!(throttled.retry_after.is_some());
    // The other accounts are not locked by it.
    client.login("admin", ADMIN_PASSWORD).await.unwrap();

    // Each further failure waits longer.
    app.clock.advance(Duration::seconds(2));
    client.login("rita", "still wrong").await.unwrap_err();
    let throttled = client.login("rita", RITA_PASSWORD).await.unwrap_err();
    assert_eq!(throttled.error, AppError::TooManyAttempts { retry_after_secs: 2 });
    app.clock.advance(Duration::seconds(3));
    client.login("rita", RITA_PASSWORD).await.unwrap();
    app.stop().await;
}

async fn cross_site_requests_are_refused(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    for (header, value) in [("origin", "https://evil.example"), ("sec-fetch-site", "cross-site")] {
        let response = admin
            .http
            .post(format!("{}/api/create_user", app.url))
            .header(header, value)
            .form(&[("username", "mallory"), ("display_name", ""), ("email", ""), ("role", "admin"), ("password", "")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{header}: {value}");
    }
    let users: Vec<UserSummary> = admin.call("list_users", &[]).await.unwrap();
    assert!(users.iter().all(|u| u.username != "mallory"), "a cross-site request changed state");

    // The same request from Steward's own origin goes through.
    let response = admin
        .http
        .post(format!("{}/api/logout", app.url))
        .header("origin", &app.url)
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    app.stop().await;
}

async fn disabling_a_user_ends_their_sessions(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    create_rita(&admin).await;
    let rita = app.client();
    rita.login("rita", RITA_PASSWORD).await.unwrap();
    let id = user_id(&admin, "rita").await.to_string();
    admin.call::<()>("set_user_disabled", &[("user_id", &id), ("disabled", "true")]).await.unwrap();
    let me: Option<CurrentUser> = rita.call("current_user", &[]).await.unwrap();
    assert_eq!(me, None);
    let refused = rita.login("rita", RITA_PASSWORD).await.unwrap_err();
    assert_eq!(refused.error.to_string(), "Wrong username or password", "no hint that the account exists");
    admin.call::<()>("set_user_disabled", &[("user_id", &id), ("disabled", "false")]).await.unwrap();
    rita.login("rita", RITA_PASSWORD).await.unwrap();
    assert!(audit(&admin, "user.disabled").await.iter().any(|e| e.target == "user rita"));
    app.stop().await;
}

async fn steward_keeps_an_admin(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let id = user_id(&admin, "admin").await.to_string();
    let refused = admin.call::<()>("set_user_role", &[("user_id", &id), ("role", "member")]).await.unwrap_err();
    assert!(refused.error.to_string().contains("last active admin"), "{}", refused.error);
    let refused = admin.call::<()>("set_user_disabled", &[("user_id", &id), ("disabled", "true")]).await.unwrap_err();
    assert!(refused.error.to_string().contains("your own account"), "{}", refused.error);

    create_rita(&admin).await;
    let rita_id = user_id(&admin, "rita").await.to_string();
    admin.call::<()>("set_user_role", &[("user_id", &rita_id), ("role", "admin")]).await.unwrap();
    admin.call::<()>("set_user_role", &[("user_id", &id), ("role", "member")]).await.unwrap();
    let me: Option<CurrentUser> = admin.call("current_user", &[]).await.unwrap();
    assert!(!me.unwrap().is_admin(), "the role change applies to the running session");
    let refused = admin.call::<Vec<UserSummary>>("list_users", &[]).await.unwrap_err();
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    app.stop().await;
}

async fn password_links_work_once(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let link: OneTimeLink = admin
        .call(
            "create_user",
            &[("username", "sam"), ("display_name", "Sam"), ("email", ""), ("role", "member"), ("password", "")],
        )
        .await
        .unwrap();
    let url = link.url.expect("no password given, so a link");
    assert!(url.starts_with(&format!("{}/password?token=", app.url)), "{url}");
    let token = url.split("token=").nth(1).unwrap();

    let sam = app.client();
    assert!(sam.login("sam", "anything at all here").await.is_err(), "no password yet");
    let weak = sam
        .call::<()>("set_password", &[("token", token), ("password", "short"), ("confirm", "short")])
        .await
        .unwrap_err();
    assert!(weak.error.for_field("password").is_some());
    sam.call::<()>(
        "set_password",
        &[("token", token), ("password", "a brand new passphrase"), ("confirm", "a brand new passphrase")],
    )
    .await
    .unwrap();
    sam.login("sam", "a brand new passphrase").await.unwrap();
    let reused = sam
        .call::<()>(
            "set_password",
            &[("token", token), ("password", "another passphrase"), ("confirm", "another passphrase")],
        )
        .await
        .unwrap_err();
    assert!(reused.error.to_string().contains("not valid"));

    // A reset link expires.
    let id = user_id(&admin, "sam").await.to_string();
    let reset: OneTimeLink = admin.call("reset_password", &[("user_id", &id)]).await.unwrap();
    let token = reset.url.unwrap().split("token=").nth(1).unwrap().to_owned();
    app.clock.advance(Duration::hours(25));
    let expired = sam
        .call::<()>(
            "set_password",
            &[("token", &token), ("password", "another passphrase"), ("confirm", "another passphrase")],
        )
        .await
        .unwrap_err();
    assert!(expired.error.to_string().contains("expired"));

    // Changing one's own password needs the current one and ends other sessions.
    let elsewhere = app.client();
    elsewhere.login("sam", "a brand new passphrase").await.unwrap();
    let wrong = sam
        .call::<()>(
            "change_password",
            &[("current", "nope"), ("password", "third passphrase ok"), ("confirm", "third passphrase ok")],
        )
        .await
        .unwrap_err();
    assert!(wrong.error.for_field("current").is_some());
    sam.call::<()>(
        "change_password",
        &[
            ("current", "a brand new passphrase"),
            ("password", "third passphrase ok"),
            ("confirm", "third passphrase ok"),
        ],
    )
    .await
    .unwrap();
    let me: Option<CurrentUser> = sam.call("current_user", &[]).await.unwrap();
    assert!(me.is_some(), "the session that changed it stays");
    let me: Option<CurrentUser> = elsewhere.call("current_user", &[]).await.unwrap();
    assert_eq!(me, None, "other sessions end");
    app.stop().await;
}

async fn health_and_request_ids(backend: Backend) {
    let app = TestApp::start(backend).await;
    let client = app.client();
    assert_eq!(client.get("/healthz").await.status(), StatusCode::OK);
    let ready = client.get("/readyz").await;
    assert_eq!(ready.status(), StatusCode::OK);
    assert!(ready.headers().get("x-request-id").is_some());
    let echoed =
        client.http.get(format!("{}/readyz", app.url)).header("x-request-id", "trace-42").send().await.unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "trace-42");

    let missing = client.get("/no/such/page").await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert!(missing.text().await.unwrap().contains("Page not found"));
    let login = client.get("/login").await;
    assert_eq!(login.headers()["x-frame-options"], "DENY");
    let wasm = client.get("/pkg/steward_bg.wasm").await;
    if steward::web::assets::HYDRATES {
        assert_eq!(wasm.headers()["content-type"], "application/wasm");
    }
    assert!(!wasm.bytes().await.unwrap().is_empty());
    // Protected pages send visitors to the login page.
    let dashboard = client.http.get(format!("{}/users", app.url)).header("accept", "text/html").send().await.unwrap();
    assert!(dashboard.url().path().starts_with("/login"), "{}", dashboard.url());
    app.stop().await;
}

async fn concurrent_logins_cannot_pass_the_limit(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    create_rita(&admin).await;
    // Forty wrong passwords at once: each attempt is counted before its password is checked,
    // so no more than the allowed five are checked at all.
    let attempts = (0..40).map(|i| {
        let client = app.client();
        async move { client.login("rita", &format!("wrong guess {i}")).await.unwrap_err() }
    });
    let failures = futures_util::future::join_all(attempts).await;
    let checked = failures.iter().filter(|f| f.status == StatusCode::BAD_REQUEST).count();
    let throttled = failures.iter().filter(|f| f.status == StatusCode::TOO_MANY_REQUESTS).count();
    assert!(checked <= 5, "{checked} passwords were checked");
    assert_eq!(checked + throttled, 40);
    // The right password right after the burst waits too.
    let right = app.client().login("rita", RITA_PASSWORD).await.unwrap_err();
    assert_eq!(right.status, StatusCode::TOO_MANY_REQUESTS);
    app.stop().await;
}

async fn a_busy_address_is_slowed_not_locked_out(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    create_rita(&admin).await;
    // Everyone behind one proxy shares an address: forty failures on other accounts.
    let client = app.client();
    let mut longest = 0;
    for i in 0..40 {
        loop {
            let failure = client.login(&format!("nobody{i}"), "wrong").await.unwrap_err();
            if failure.status != StatusCode::TOO_MANY_REQUESTS {
                break;
            }
            let AppError::TooManyAttempts { retry_after_secs } = failure.error else { panic!("{:?}", failure.error) };
            longest = longest.max(retry_after_secs);
            app.clock.advance(Duration::seconds(i64::try_from(retry_after_secs).unwrap()));
        }
    }
    assert!(longest > 1 && longest <= 60, "the address waits a growing while, at most a minute: {longest} s");
    // After the wait, Rita gets in, and her success clears the address: the next failures are
    // answered at once.
    app.clock.advance(Duration::seconds(61));
    client.login("rita", RITA_PASSWORD).await.unwrap();
    for i in 0..19 {
        let failure = app.client().login(&format!("later{i}"), "wrong").await.unwrap_err();
        assert_eq!(failure.status, StatusCode::BAD_REQUEST, "attempt {i}");
    }
    // Spent counters are forgotten.
    app.clock.advance(Duration::hours(2));
    assert!(app.state.accounts.prune_throttle().await.unwrap() > 0);
    app.stop().await;
}

async fn oversized_and_multipart_requests_are_refused_and_bounded(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let client = app.client();
    // Over the body limit: 413 with a clear message, whether the length is announced or not.
    let announced = raw_post(&app.url, "Content-Length: 2000000\r\n\r\n", b"").await;
    assert!(announced.starts_with("HTTP/1.1 413"), "{announced}");
    assert!(announced.contains("{\"TooLarge\":{\"limit_bytes\":1048576}}"), "{announced}");
    let chunk = vec![b'x'; 1024 * 1024 + 16];
    let mut body = format!("{:x}\r\n", chunk.len()).into_bytes();
    body.extend_from_slice(&chunk);
    body.extend_from_slice(b"\r\n0\r\n\r\n");
    let streamed = raw_post(&app.url, "Transfer-Encoding: chunked\r\n\r\n", &body).await;
    assert!(streamed.starts_with("HTTP/1.1 413"), "{streamed}");
    // A file upload: 415, not a server error.
    let response = client
        .http
        .post(format!("{}/api/login", app.url))
        .header("content-type", "multipart/form-data; boundary=x")
        .body("--x\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\nrita\r\n--x--\r\n")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(response.json::<AppError>().await.unwrap().to_string().contains("file uploads"));

    // Just under the limit: thirty anonymous logins with a 500 KiB name leave no trace of it.
    let long = "n".repeat(500 * 1024);
    for _ in 0..30 {
        let failure = app.client().login(&long, "wrong").await.unwrap_err();
        assert!(matches!(failure.status, StatusCode::BAD_REQUEST | StatusCode::TOO_MANY_REQUESTS));
        app.clock.advance(Duration::seconds(61));
    }
    let page: Page<AuditEntry> = admin.call("audit_log", &[("query[page]", "0")]).await.unwrap();
    let failed: Vec<&AuditEntry> = page.items.iter().filter(|e| e.action == "user.login_failed").collect();
    assert!(!failed.is_empty());
    assert!(failed.iter().all(|e| e.target.len() < 300), "{:?}", failed[0].target);
    let html = admin.get("/audit").await.text().await.unwrap();
    assert!(html.len() < 512 * 1024, "the audit page stays small: {} bytes", html.len());
    app.stop().await;
}

/// A login post written by hand: `headers` end the head, `body` follows (written as far as the
/// server reads it); returns the response's text.
async fn raw_post(base: &str, headers: &str, body: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /api/login HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\nConnection: close\r\n{headers}"
    );
    let wait = std::time::Duration::from_secs(10);
    stream.write_all(head.as_bytes()).await.unwrap();
    // Steward may answer before it has read the whole body: don't wait on a reader that left.
    let _ = tokio::time::timeout(wait, stream.write_all(body)).await;
    let mut response = Vec::new();
    let _ = tokio::time::timeout(wait, stream.read_to_end(&mut response)).await;
    String::from_utf8_lossy(&response).into_owned()
}

/// A browser's plain form post (no script yet), not following the redirect: the status, the
/// `Location` and the cookies it set.
async fn form_post(base: &str, endpoint: &str, form: &[(&str, &str)]) -> (StatusCode, String, Option<String>) {
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let response = http
        .post(format!("{base}/api/{endpoint}"))
        .header("accept", "text/html")
        .header("referer", format!("{base}/login"))
        .form(form)
        .send()
        .await
        .unwrap();
    let location = response.headers().get("location").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    let cookie = response.headers().get("set-cookie").map(|v| v.to_str().unwrap().to_owned());
    (response.status(), location, cookie)
}

async fn login_redirects_stay_on_steward_and_pages_show_only_its_own_errors(backend: Backend) {
    use base64::Engine as _;
    let app = TestApp::start(backend).await;
    let _admin = app.admin().await;
    // After login, only a path on Steward is followed: a tab or newline cannot make it another
    // origin, nor break the response (the login still happens).
    for next in
        ["/\t/evil.example:443/phish", "/\n/evil.example", "//evil.example", "/\\evil.example", "https://evil.example"]
    {
        let (status, location, cookie) =
            form_post(&app.url, "login", &[("username", "admin"), ("password", ADMIN_PASSWORD), ("next", next)]).await;
        assert!(status.is_redirection(), "{next:?}: {status}");
        assert_eq!(location, "/", "{next:?}");
        assert!(cookie.is_some_and(|c| c.starts_with("steward_session=")), "{next:?}: signed in");
    }
    let (_, location, _) =
        form_post(&app.url, "login", &[("username", "admin"), ("password", ADMIN_PASSWORD), ("next", "/jobs?page=2")])
            .await;
    assert_eq!(location, "/jobs?page=2");

    // A crafted error in a link is not shown...
    let bait =
        serde_json::to_vec(&AppError::Invalid { field: None, message: "Your account is locked: call 555-0100".into() })
            .unwrap();
    let crafted =
        format!("/login?__path=%2Fapi%2Flogin&__err={}", base64::engine::general_purpose::URL_SAFE.encode(&bait));
    let page = app.client().get(&crafted).await.text().await.unwrap();
    assert!(!page.contains("555-0100"), "a crafted error is ignored");
    // ...while Steward's own error after a plain form post is.
    let (status, location, _) = form_post(&app.url, "login", &[("username", "admin"), ("password", "wrong")]).await;
    assert!(status.is_redirection());
    assert!(location.contains("__sig="), "{location}");
    let own = location.trim_start_matches(&app.url).to_owned();
    let page = app.client().get(&own).await.text().await.unwrap();
    assert!(page.contains("Wrong username or password"), "Steward's own error is shown");
    // Tampering with a signed error drops it.
    let tampered = own.replacen("__err=", "__err=AA", 1);
    let page = app.client().get(&tampered).await.text().await.unwrap();
    assert!(!page.contains("Wrong username or password"));
    app.stop().await;
}
