//! Mail through a real SMTP server (STARTTLS, AUTH) on SQLite and Postgres: the test message
//! reports the server's answer; bad credentials and bad addresses are refused with the reason;
//! mail queued while the server is down is delivered, each message exactly once, when it is
//! back.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::smtp::{SmtpServer, header};
use common::{Backend, Client, TestApp};
use serde_json::Value;

async fn app_with_mail(backend: Backend, smtp: &SmtpServer) -> (TestApp, Client) {
    let app = TestApp::start_with(backend, |config| smtp.configure(&mut config.mail)).await;
    let admin = app.admin().await;
    (app, admin)
}

async fn store_password(admin: &Client, password: &str) {
    let _: Value =
        admin.call("store_secret", &[("name", "smtp"), ("kind", "smtp-password"), ("secret", password)]).await.unwrap();
}

on_both_backends!(every_message_arrives_once_through_an_outage);

async fn every_message_arrives_once_through_an_outage(backend: Backend) {
    let mut smtp = SmtpServer::start();
    let (app, admin) = app_with_mail(backend, &smtp).await;
    store_password(&admin, &smtp.password.clone()).await;

    // The test message goes out over STARTTLS with AUTH, and the page shows the server's answer.
    let reply: String = admin.call("send_test_mail", &[("address", "oncall@study.example.org")]).await.unwrap();
    assert!(reply.starts_with("250"), "{reply}");
    let bad = admin.call::<String>("send_test_mail", &[("address", "not an address")]).await.unwrap_err();
    assert!(bad.error.for_field("address").is_some(), "{}", bad.error);

    // The server goes down; mail queued meanwhile waits in the outbox with the reason.
    smtp.stop();
    let mailer = &app.state.mailer;
    for n in 0..5 {
        mailer
            .queue(
                &format!("person{n}@study.example.org"),
                &format!("[Steward] alert {n}"),
                "text",
                "<p>html</p>",
                None,
            )
            .await
            .unwrap();
    }
    let refused = mailer.deliver_due().await.unwrap_err();
    assert!(refused.message.contains("onnect"), "{refused:?}");
    let outbox: Value = admin.call("list_outbox", &[("page", "0")]).await.unwrap();
    let waiting: Vec<&Value> =
        outbox["items"].as_array().unwrap().iter().filter(|m| m["status"] == "pending").collect();
    assert!(!waiting.is_empty());
    assert!(waiting.iter().any(|m| m["last_error"].as_str().unwrap().contains("onnect")), "{waiting:?}");

    // Back up: after the retry pause, each message arrives exactly once.
    smtp.resume();
    app.clock.advance(chrono::Duration::hours(1));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while smtp.messages().len() < 6 {
        assert!(std::time::Instant::now() < deadline, "only {} messages arrived", smtp.messages().len());
        let _ = mailer.deliver_due().await;
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    mailer.deliver_due().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let messages = smtp.messages();
    assert_eq!(messages.len(), 6, "the test message and five alerts, none twice");
    let mut ids: Vec<String> = messages.iter().map(|m| header(m, "Message-ID").unwrap()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 6);
    let alert = messages.iter().find(|m| header(m, "Subject").as_deref() == Some("[Steward] alert 3")).unwrap();
    assert_eq!(header(alert, "To").as_deref(), Some("person3@study.example.org"));
    assert!(alert.contains("multipart/alternative"), "text and HTML");
    let outbox: Value = admin.call("list_outbox", &[("page", "0")]).await.unwrap();
    assert!(outbox["items"].as_array().unwrap().iter().all(|m| m["status"] == "sent"));
    app.stop().await;
}

#[tokio::test]
async fn bad_credentials_are_reported_with_the_servers_answer() {
    let smtp = SmtpServer::start();
    let (app, admin) = app_with_mail(Backend::Sqlite, &smtp).await;
    store_password(&admin, "wrong password").await;
    let refused = admin.call::<String>("send_test_mail", &[("address", "oncall@study.example.org")]).await.unwrap_err();
    assert_eq!(refused.status.as_u16(), 502);
    assert!(refused.error.to_string().contains("535"), "the server's answer is shown: {}", refused.error);
    assert!(smtp.messages().is_empty());
    app.stop().await;
}
