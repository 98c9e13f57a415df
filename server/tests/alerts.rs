//! Alerts on SQLite and Postgres, with a real host and a real SMTP server: a host that goes
//! down opens one alert and mails the on-call person a link; the link acknowledges that alert
//! once, without a session; the host coming back resolves the alert with a "resolved" mail.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::fleet::FleetHost;
use common::smtp::{SmtpServer, header};
use common::{Backend, TestApp, finished_job, host_form, study_with_key, trusted_fleet};
use serde_json::Value;
use steward::clock::Clock;
use steward::services::audit::Actor;
use steward_frontend::contract::{AlertSummary, AppError, HostHealth};

/// The acknowledge link's token in a (quoted-printable) mail.
fn ack_token(message: &str) -> String {
    let text = message.replace("=\r\n", "").replace("=\n", "").replace("=3D", "=");
    let rest = text.split("/alerts/ack?token=").nth(1).expect("the mail has an acknowledge link");
    rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect()
}

on_both_backends!(
    a_host_down_mails_on_call_who_acknowledge_by_link_then_it_resolves,
    a_failed_job_raises_an_alert_that_the_next_success_clears,
    an_unacknowledged_alert_escalates_along_the_rota,
    a_study_sets_its_thresholds_quiet_hours_and_digest
);

async fn a_host_down_mails_on_call_who_acknowledge_by_link_then_it_resolves(backend: Backend) {
    let smtp = SmtpServer::start();
    let app = TestApp::start_with(backend, |config| smtp.configure(&mut config.mail)).await;
    let admin = app.admin().await;
    let _: Value = admin
        .call("store_secret", &[("name", "smtp"), ("kind", "smtp-password"), ("secret", &smtp.password)])
        .await
        .unwrap();
    let (key, instance_id) = study_with_key(&admin, "Diaries").await;
    let _: Value = admin
        .call(
            "create_user",
            &[
                ("username", "olga"),
                ("display_name", "Olga"),
                ("email", "olga@study.example.org"),
                ("role", "member"),
                ("password", ""),
            ],
        )
        .await
        .unwrap();
    let study: Value = admin.call("list_studies", &[]).await.unwrap();
    let study_id = study[0]["id"].to_string();
    let _: () =
        admin.call("set_member", &[("study_id", &study_id), ("username", "olga"), ("role", "on-call")]).await.unwrap();

    let mut fleet = FleetHost::start(&key.public_key);
    let (port, credential) = (fleet.port.to_string(), key.id.to_string());
    let mut form = host_form(&instance_id, "web01", "web", "127.0.0.1", &credential, "");
    form[4].1 = &port;
    form[5].1 = &fleet.user;
    let host: Value = admin.call("add_host", &form).await.unwrap();
    let host_id = host["id"].as_i64().unwrap();
    app.state.ssh.scan(&Actor::cli(), host_id).await.unwrap();
    app.state.ssh.pin(&Actor::cli(), host_id, &fleet.fingerprint()).await.unwrap();
    let check = || async {
        let health: HostHealth = admin.call("check_host", &[("host_id", &host_id.to_string())]).await.unwrap();
        app.state.alerts.evaluate_hosts().await.unwrap();
        app.state.mailer.deliver_due().await.unwrap();
        health
    };
    // Only the reachability alert: this machine's own disk or clock may raise others.
    let open = || async {
        let alerts: Vec<AlertSummary> = admin.call("list_alerts", &[("state", "")]).await.unwrap();
        alerts.into_iter().filter(|a| a.rule == "unreachable").collect::<Vec<_>>()
    };
    let reachability_mails = |count: usize| {
        let smtp = &smtp;
        async move {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
            loop {
                let mails: Vec<String> = smtp
                    .messages()
                    .into_iter()
                    .filter(|m| header(m, "Subject").is_some_and(|s| s.ends_with("not reachable")))
                    .collect();
                if mails.len() >= count || std::time::Instant::now() > deadline {
                    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                    return smtp
                        .messages()
                        .into_iter()
                        .filter(|m| header(m, "Subject").is_some_and(|s| s.ends_with("not reachable")))
                        .collect::<Vec<_>>();
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    };

    assert_eq!(check().await.state, "reachable");
    assert!(open().await.is_empty(), "a healthy host raises nothing");

    // The host goes down: one critical alert, one mail to the on-call person.
    fleet.stop();
    assert_eq!(check().await.state, "refused");
    check().await; // Seen again: still one alert, no second mail.
    let alerts = open().await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let alert = &alerts[0];
    assert_eq!(
        (alert.rule.as_str(), alert.severity.as_str(), alert.state.as_str()),
        ("unreachable", "critical", "open")
    );
    assert!(alert.summary.starts_with("web01 (Diaries/prod)"), "{}", alert.summary);
    let mails = reachability_mails(1).await;
    assert_eq!(mails.len(), 1, "one mail, to the one person on call (the admin has no address)");
    let mail = &mails[0];
    assert_eq!(header(mail, "To").as_deref(), Some("olga@study.example.org"));
    // The outbox keeps no usable link: it is made when the message is sent.
    let (stored, _) = app.state.store.outbox(100, 0).await.unwrap();
    assert!(!stored.is_empty());
    for row in &stored {
        assert!(!row.body_text.contains("token=") && !row.body_html.contains("token="), "{}", row.body_text);
    }
    assert_eq!(header(mail, "Subject").as_deref(), Some("[Steward] CRITICAL: web01 (Diaries/prod): not reachable"));

    // The link works without a session, for that alert, once.
    let token = ack_token(mail);
    let stranger = app.client();
    let shown: AlertSummary = stranger.call("alert_link", &[("token", &token)]).await.unwrap();
    assert_eq!(shown.id, alert.id);
    let acked: AlertSummary = stranger.call("acknowledge_by_link", &[("token", &token)]).await.unwrap();
    assert_eq!(acked.state, "acknowledged");
    assert_eq!(acked.acknowledged_by.as_deref(), Some("olga@study.example.org (mail link)"));
    let again = stranger.call::<AlertSummary>("acknowledge_by_link", &[("token", &token)]).await.unwrap_err();
    assert!(again.error.to_string().contains("used already"), "{}", again.error);
    let forged = stranger.call::<AlertSummary>("alert_link", &[("token", "not-a-token")]).await.unwrap_err();
    assert_eq!(forged.status.as_u16(), 400);
    assert!(
        stranger.call::<Vec<AlertSummary>>("list_alerts", &[("state", "")]).await.is_err(),
        "the link opens nothing else"
    );

    // The host comes back: the alert resolves itself, and a "resolved" mail follows.
    fleet.start_sshd();
    assert_eq!(check().await.state, "reachable");
    let alerts = open().await;
    assert_eq!(alerts[0].state, "resolved");
    let mails = reachability_mails(2).await;
    assert_eq!(mails.len(), 2);
    assert!(mails.iter().any(|m| header(m, "Subject").as_deref() == Some("[Steward] RESOLVED: web01 (Diaries/prod): not reachable")));
    app.stop().await;
}

async fn a_failed_job_raises_an_alert_that_the_next_success_clears(backend: Backend) {
    let app = TestApp::start(backend).await;
    // Two hosts: a one-host job would be retried later instead of failing now.
    let mut fleet = trusted_fleet(&app, 2).await;
    let admin = &fleet.admin;
    let form = [("input[kind]", "facts"), ("input[target_kind]", "instance"), ("input[target_id]", &fleet.instance_id)];
    fleet.hosts[0].1.stop();
    let job: steward_frontend::contract::JobSummary = admin.call("start_job", &form).await.unwrap();
    assert_eq!(finished_job(admin, job.id).await.job.state, "failed");
    app.state.alerts.evaluate_jobs().await.unwrap();
    let open: Vec<AlertSummary> = admin.call("list_alerts", &[("state", "open")]).await.unwrap();
    let failed: Vec<_> = open.iter().filter(|a| a.rule == "job-failed").collect();
    assert_eq!(failed.len(), 1, "{open:?}");
    assert!(failed[0].summary.contains("facts job failed on prod"), "{}", failed[0].summary);
    assert!(failed[0].study_id.is_some(), "the alert belongs to the instance's study");
    // Evaluating again changes nothing: one alert per work and target.
    app.state.alerts.evaluate_jobs().await.unwrap();
    let open: Vec<AlertSummary> = admin.call("list_alerts", &[("state", "open")]).await.unwrap();
    assert_eq!(open.iter().filter(|a| a.rule == "job-failed").count(), 1);

    fleet.hosts[0].1.start_sshd();
    let job: steward_frontend::contract::JobSummary = admin.call("start_job", &form).await.unwrap();
    assert_eq!(finished_job(admin, job.id).await.job.state, "succeeded");
    app.state.alerts.evaluate_jobs().await.unwrap();
    let open: Vec<AlertSummary> = admin.call("list_alerts", &[("state", "open")]).await.unwrap();
    assert!(!open.iter().any(|a| a.rule == "job-failed"), "{open:?}");
    app.stop().await;
}

/// Who got mail, in order, with each subject.
async fn mails(admin: &common::Client) -> Vec<(String, String)> {
    let page: steward_frontend::contract::Page<steward_frontend::contract::OutboxEntry> =
        admin.call("list_outbox", &[("page", "0")]).await.unwrap();
    let mut list: Vec<_> = page.items.into_iter().map(|m| (m.id, m.to, m.subject)).collect();
    list.sort();
    list.into_iter().map(|(_, to, subject)| (to, subject)).collect()
}

async fn an_unacknowledged_alert_escalates_along_the_rota(backend: Backend) {
    use chrono::Duration;
    use steward::store::Condition;
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let study: Value =
        admin.call("create_study", &[("name", "Clinic"), ("description", ""), ("contact", "")]).await.unwrap();
    let study_id = study["id"].to_string();
    for (user, role) in [("alice", "on-call"), ("bob", "on-call"), ("carol", "study-admin"), ("vera", "viewer")] {
        let email = format!("{user}@clinic.example.org");
        let _: Value = admin
            .call(
                "create_user",
                &[("username", user), ("display_name", user), ("email", &email), ("role", "member"), ("password", "")],
            )
            .await
            .unwrap();
        let _: () =
            admin.call("set_member", &[("study_id", &study_id), ("username", user), ("role", role)]).await.unwrap();
    }
    let rota = |members: &'static str| {
        let study_id = study_id.clone();
        let admin = &admin;
        async move {
            admin
                .call::<steward_frontend::contract::RotaView>(
                    "save_rota",
                    &[
                        ("input[study_id]", study_id.as_str()),
                        ("input[timezone]", "UTC"),
                        ("input[starts_on]", "2026-11-02"),
                        ("input[handoff_hour]", "9"),
                        ("input[members]", members),
                        ("input[escalate_after_minutes]", "30"),
                        ("input[renotify_minutes]", "60"),
                    ],
                )
                .await
        }
    };
    // A viewer cannot be on call; the form says so next to the members.
    let refused = rota("alice\nvera").await.unwrap_err();
    assert!(refused.error.for_field("members").is_some_and(|m| m.contains("vera is a viewer")), "{:?}", refused.error);
    let view = rota("alice\nbob").await.unwrap();
    assert_eq!((view.primary_now.as_deref(), view.secondary_now.as_deref()), (Some("alice"), Some("bob")));
    assert_eq!(view.weeks[1].primary.as_deref(), Some("bob"), "next week it is Bob's turn");

    let study = study["id"].as_i64();
    let raise = |target: &'static str| Condition {
        rule: "test",
        target_key: target,
        host_id: None,
        study_id: study,
        severity: "critical",
        summary: "Clinic database down",
        detail: "",
    };
    app.state.alerts.raise(&raise("test:1")).await.unwrap();
    let told = |list: &[(String, String)]| {
        list.iter().map(|(to, _)| to.split('@').next().unwrap().to_owned()).collect::<Vec<_>>()
    };
    assert_eq!(told(&mails(&admin).await), ["alice"], "only the primary hears first");

    app.clock.advance(Duration::minutes(29));
    app.state.alerts.escalate().await.unwrap();
    assert_eq!(mails(&admin).await.len(), 1, "not yet");
    app.clock.advance(Duration::minutes(2));
    app.state.alerts.escalate().await.unwrap();
    let list = mails(&admin).await;
    assert_eq!(told(&list[1..]), ["bob"], "after 30 minutes the secondary");
    assert!(list[1].1.contains("ESCALATED"), "{}", list[1].1);
    app.clock.advance(Duration::minutes(30));
    app.state.alerts.escalate().await.unwrap();
    assert_eq!(told(&mails(&admin).await[2..]), ["carol"], "then the study's admins");
    app.clock.advance(Duration::minutes(61));
    app.state.alerts.escalate().await.unwrap();
    let list = mails(&admin).await;
    assert_eq!(told(&list[3..]), ["carol"], "and a reminder after the re-notify interval");
    assert!(list[3].1.contains("STILL OPEN"), "{}", list[3].1);

    let open: Vec<AlertSummary> = admin.call("list_alerts", &[("state", "open")]).await.unwrap();
    let _: AlertSummary = admin.call("acknowledge_alert", &[("alert_id", &open[0].id.to_string())]).await.unwrap();
    app.clock.advance(Duration::hours(3));
    app.state.alerts.escalate().await.unwrap();
    assert_eq!(mails(&admin).await.len(), 4, "an acknowledged alert stays quiet");

    // A holiday override: Bob is primary for a day, so a new alert goes to him.
    let now = app.clock.now();
    let (from, to) =
        (now.format("%Y-%m-%dT%H:%M").to_string(), (now + Duration::days(1)).format("%Y-%m-%dT%H:%M").to_string());
    let view: steward_frontend::contract::RotaView = admin
        .call(
            "add_rota_override",
            &[
                ("input[study_id]", &study_id),
                ("input[username]", "bob"),
                ("input[role]", "primary"),
                ("input[starts_at]", &from),
                ("input[ends_at]", &to),
                ("input[note]", "Alice on holiday"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(view.primary_now.as_deref(), Some("bob"));
    app.state.alerts.raise(&raise("test:2")).await.unwrap();
    assert_eq!(told(&mails(&admin).await[4..]), ["bob"]);

    // Flapping: the condition clears and comes straight back; nobody is mailed again at once.
    app.state.alerts.clear("test", "test:2").await.unwrap();
    let after_resolved = mails(&admin).await.len();
    app.state.alerts.raise(&raise("test:2")).await.unwrap();
    assert_eq!(mails(&admin).await.len(), after_resolved, "a flapping alert does not mail at once");
    app.stop().await;
}

async fn a_study_sets_its_thresholds_quiet_hours_and_digest(backend: Backend) {
    use chrono::Duration;
    let app = TestApp::start(backend).await;
    let fleet = trusted_fleet(&app, 1).await;
    let admin = &fleet.admin;
    let host_id = fleet.hosts[0].0;
    let studies: Value = admin.call("list_studies", &[]).await.unwrap();
    let study_id = studies[0]["id"].to_string();
    let _: Value = admin
        .call(
            "create_user",
            &[
                ("username", "olga"),
                ("display_name", "Olga"),
                ("email", "olga@example.org"),
                ("role", "member"),
                ("password", ""),
            ],
        )
        .await
        .unwrap();
    let _: () =
        admin.call("set_member", &[("study_id", &study_id), ("username", "olga"), ("role", "on-call")]).await.unwrap();
    let form = |disk: &'static str, tz: &'static str| {
        let study_id = study_id.clone();
        async move {
            admin
                .call::<steward_frontend::contract::AlertSettings>(
                    "save_alert_settings",
                    &[
                        ("input[study_id]", study_id.as_str()),
                        ("input[disk_percent]", disk),
                        ("input[cert_days]", "21"),
                        ("input[clock_ms]", "1000"),
                        ("input[timezone]", tz),
                        ("input[quiet_from_hour]", "8"),
                        ("input[quiet_until_hour]", "10"),
                        ("input[daily_digest]", "on"),
                        ("input[digest_hour]", "9"),
                    ],
                )
                .await
        }
    };
    let refused = form("0", "Nowhere/Else").await.unwrap_err();
    let AppError::InvalidFields { errors } = refused.error else { panic!("{:?}", refused.error) };
    let named: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(named, ["disk_percent", "timezone"]);
    // Any used disk is over 1 %: the study's threshold, not the default, decides.
    form("1", "UTC").await.unwrap();
    app.state.ssh.check(host_id).await.unwrap();
    app.state.alerts.evaluate_host(host_id).await.unwrap();
    let open: Vec<AlertSummary> = admin.call("list_alerts", &[("state", "open")]).await.unwrap();
    assert!(open.iter().any(|a| a.rule == "disk"), "{open:?}");
    // 09:00 is inside the quiet hours (8 to 10): the warning waits.
    assert!(mails(admin).await.iter().all(|(_, subject)| !subject.contains("disk")), "no mail in quiet hours");
    app.clock.advance(Duration::minutes(61));
    app.state.alerts.escalate().await.unwrap();
    let list = mails(admin).await;
    assert!(
        list.iter().any(|(to, subject)| to == "olga@example.org" && subject.contains("disk almost full")),
        "{list:?}"
    );
    // The daily digest goes out once a day.
    app.state.alerts.digest().await.unwrap();
    app.state.alerts.digest().await.unwrap();
    let digests: Vec<_> = mails(admin).await.into_iter().filter(|(_, s)| s.contains("Daily digest")).collect();
    assert_eq!(digests.len(), 1, "{digests:?}");
    assert!(digests[0].1.contains("Daily digest for Fleet") && digests[0].0 == "olga@example.org", "{digests:?}");
    app.stop().await;
}
