//! Every server function × every role: who gets past the permission check and who is refused.
//! Who may call what is the server's access policy (`steward::web::policy`): this test holds
//! the expected answer for each endpoint, checks that the policy says the same, and then that
//! the running server does. A server function without a policy row fails the test.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeSet;

use common::{Backend, Client, Fixture, ROLE_USERS, TestApp, USER_PASSWORD, fixture};
use steward::clock::Clock;
use steward::store::{Condition, NewJob, ScheduleFields};
use steward::web::policy;
use steward_frontend::contract::{Access, StudyRole};

/// Who calls: nobody, a signed-in user without a study role, one per study role, an admin.
const WHO: [&str; 8] = ["anonymous", "member", "researcher", "viewer", "oncall", "operator", "studyadmin", "admin"];

const EVERYONE: &[&str] = &WHO;
const SIGNED_IN: &[&str] = &["member", "researcher", "viewer", "oncall", "operator", "studyadmin", "admin"];
const SEES_STUDY: &[&str] = &["researcher", "viewer", "oncall", "operator", "studyadmin", "admin"];
const SEES_INVENTORY: &[&str] = &["viewer", "oncall", "operator", "studyadmin", "admin"];
const RUNS_OPERATIONS: &[&str] = &["operator", "studyadmin", "admin"];
const ACKNOWLEDGES: &[&str] = &["oncall", "operator", "studyadmin", "admin"];
const MANAGES_STUDY: &[&str] = &["studyadmin", "admin"];
const ADMIN: &[&str] = &["admin"];

type Args = Vec<(&'static str, String)>;

/// (endpoint, who is let through, arguments). Arguments that mutate are chosen to fail
/// validation after the permission check, so each row can run for every role.
fn table(f: &Fixture, job: i64, schedule: i64, alert: i64) -> Vec<(&'static str, &'static [&'static str], Args)> {
    let (job, schedule, alert) = (job.to_string(), schedule.to_string(), alert.to_string());
    let study = f.study_id.to_string();
    let instance = f.instance_id.to_string();
    let jump = f.jump_host_id.to_string();
    let host = f.host_id.to_string();
    let a = |pairs: &[(&'static str, &str)]| -> Args { pairs.iter().map(|(k, v)| (*k, (*v).to_owned())).collect() };
    let bad_host = |id: (&'static str, &str)| {
        a(&[
            id,
            ("input[name]", "x"),
            ("input[roles]", "nonsense"),
            ("input[address]", "a b"),
            ("input[ssh_user]", "x"),
        ])
    };
    let bad_instance =
        |id: (&'static str, &str)| a(&[id, ("input[name]", ""), ("input[stack]", "none"), ("input[environment]", "")]);
    vec![
        ("current_user", EVERYONE, a(&[])),
        ("setup_status", EVERYONE, a(&[])),
        ("complete_setup", EVERYONE, a(&[("token", "x"), ("username", "x"), ("password", "p"), ("confirm", "p")])),
        ("login", EVERYONE, a(&[("username", "nobody-at-all"), ("password", "wrong")])),
        ("set_password", EVERYONE, a(&[("token", "x"), ("password", "p"), ("confirm", "p")])),
        ("change_password", SIGNED_IN, a(&[("current", "wrong"), ("password", "p"), ("confirm", "q")])),
        ("list_users", ADMIN, a(&[])),
        (
            "create_user",
            ADMIN,
            a(&[("username", "bad name"), ("display_name", ""), ("email", ""), ("role", "member"), ("password", "")]),
        ),
        ("set_user_role", ADMIN, a(&[("user_id", "999999"), ("role", "member")])),
        ("set_user_disabled", ADMIN, a(&[("user_id", "999999"), ("disabled", "true")])),
        ("reset_password", ADMIN, a(&[("user_id", "999999")])),
        ("audit_log", ADMIN, a(&[("query[page]", "0")])),
        ("list_studies", SIGNED_IN, a(&[])),
        ("create_study", ADMIN, a(&[("name", ""), ("description", ""), ("contact", "")])),
        ("get_study", SEES_STUDY, a(&[("study_id", &study)])),
        ("update_study", MANAGES_STUDY, a(&[("study_id", &study), ("name", ""), ("description", ""), ("contact", "")])),
        ("study_deletion", MANAGES_STUDY, a(&[("study_id", &study)])),
        ("delete_study", MANAGES_STUDY, a(&[("study_id", &study), ("confirm", "not the name")])),
        ("set_member", MANAGES_STUDY, a(&[("study_id", &study), ("username", "nobody-at-all"), ("role", "viewer")])),
        ("remove_member", MANAGES_STUDY, a(&[("study_id", &study), ("user_id", "999999")])),
        ("list_instances", SIGNED_IN, a(&[("query[page]", "0")])),
        ("create_instance", MANAGES_STUDY, bad_instance(("study_id", &study))),
        ("get_instance", SEES_INVENTORY, a(&[("instance_id", &instance)])),
        ("update_instance", MANAGES_STUDY, bad_instance(("instance_id", &instance))),
        ("instance_deletion", MANAGES_STUDY, a(&[("instance_id", &instance)])),
        ("delete_instance", MANAGES_STUDY, a(&[("instance_id", &instance), ("confirm", "not the name")])),
        ("add_host", MANAGES_STUDY, bad_host(("instance_id", &instance))),
        ("get_host", SEES_INVENTORY, a(&[("host_id", &host)])),
        // The jump host is on 127.0.0.1:22, where nothing listens: scans fail fast, locally.
        ("scan_host_key", MANAGES_STUDY, a(&[("host_id", &jump)])),
        ("pin_host_key", ADMIN, a(&[("host_id", &jump), ("fingerprint", "SHA256:none")])),
        ("check_host", RUNS_OPERATIONS, a(&[("host_id", &jump)])),
        ("update_host", MANAGES_STUDY, bad_host(("host_id", &host))),
        ("set_host_watch", MANAGES_STUDY, a(&[("host_id", &host), ("certificates", "relative.pem"), ("units", "")])),
        // The jump host still serves another host, so deleting it is refused after the check.
        ("delete_host", MANAGES_STUDY, a(&[("host_id", &jump)])),
        (
            "import_inventory",
            MANAGES_STUDY,
            a(&[("study_id", &study), ("input[inventory]", "[web"), ("input[stack]", "generic")]),
        ),
        ("export_inventory", SEES_INVENTORY, a(&[("study_id", &study)])),
        ("list_credentials", ADMIN, a(&[])),
        ("generate_ssh_key", ADMIN, a(&[("name", "")])),
        ("import_ssh_key", ADMIN, a(&[("name", "k"), ("private_key", "not a key"), ("passphrase", "")])),
        ("store_secret", ADMIN, a(&[("name", "s"), ("kind", "api-key"), ("secret", "")])),
        ("delete_credential", ADMIN, a(&[("credential_id", "999999")])),
        ("share_credential", ADMIN, a(&[("credential_id", "999999"), ("study_id", &study), ("shared", "true")])),
        ("list_jobs", SIGNED_IN, a(&[("query[page]", "0")])),
        ("job_kinds", SIGNED_IN, a(&[])),
        ("get_job", SEES_INVENTORY, a(&[("job_id", &job)])),
        ("job_log", SEES_INVENTORY, a(&[("job_id", &job), ("after", "0")])),
        (
            "start_job",
            RUNS_OPERATIONS,
            a(&[("input[kind]", "nonsense"), ("input[target_kind]", "instance"), ("input[target_id]", &instance)]),
        ),
        // Fleet-wide jobs are for admins.
        ("start_job", ADMIN, a(&[("input[kind]", "nonsense"), ("input[target_kind]", "fleet")])),
        ("cancel_job", RUNS_OPERATIONS, a(&[("job_id", &job)])),
        ("list_schedules", SIGNED_IN, a(&[])),
        ("get_schedule", SEES_INVENTORY, a(&[("schedule_id", &schedule)])),
        (
            "save_schedule",
            RUNS_OPERATIONS,
            a(&[
                ("input[name]", "x"),
                ("input[kind]", "facts"),
                ("input[target_kind]", "instance"),
                ("input[target_id]", &instance),
                ("input[cron]", "not cron"),
                ("input[timezone]", "UTC"),
            ]),
        ),
        ("delete_schedule", RUNS_OPERATIONS, a(&[("schedule_id", &schedule), ("confirm", "not the name")])),
        ("preview_schedule", SIGNED_IN, a(&[("cron", "0 * * * *"), ("timezone", "UTC")])),
        ("list_stacks", SIGNED_IN, a(&[])),
        ("get_config", SEES_INVENTORY, a(&[("instance_id", &instance)])),
        (
            "save_settings",
            RUNS_OPERATIONS,
            a(&[("input[instance_id]", &instance), ("input[values][path]", "relative")]),
        ),
        ("compare_revisions", SEES_INVENTORY, a(&[("instance_id", &instance), ("from", "999999"), ("to", "999999")])),
        // No revision is saved yet: refused after the permission check, before any host is contacted.
        ("preview_push", RUNS_OPERATIONS, a(&[("instance_id", &instance), ("revision", "")])),
        ("push_config", RUNS_OPERATIONS, a(&[("input[instance_id]", &instance)])),
        ("get_rota", SEES_INVENTORY, a(&[("study_id", &study)])),
        ("get_rota", SIGNED_IN, a(&[])),
        ("save_rota", MANAGES_STUDY, a(&[("input[study_id]", &study), ("input[timezone]", "Mars/Olympus")])),
        ("save_rota", ADMIN, a(&[("input[timezone]", "Mars/Olympus")])),
        ("add_rota_override", MANAGES_STUDY, a(&[("input[study_id]", &study), ("input[role]", "boss")])),
        ("delete_rota_override", MANAGES_STUDY, a(&[("study_id", &study), ("override_id", "999999")])),
        ("get_alert_settings", SEES_INVENTORY, a(&[("study_id", &study)])),
        ("save_alert_settings", MANAGES_STUDY, a(&[("input[study_id]", &study), ("input[disk_percent]", "0")])),
        ("list_outbox", ADMIN, a(&[("page", "0")])),
        ("resend_mail", ADMIN, a(&[("mail_id", "999999")])),
        ("send_test_mail", ADMIN, a(&[("address", "not an address")])),
        ("list_workers", ADMIN, a(&[])),
        ("list_alerts", SIGNED_IN, a(&[("state", "")])),
        ("acknowledge_alert", ACKNOWLEDGES, a(&[("alert_id", &alert)])),
        ("alert_link", EVERYONE, a(&[("token", "not-a-token")])),
        ("acknowledge_by_link", EVERYONE, a(&[("token", "not-a-token")])),
        // Last: it ends the session.
        ("logout", EVERYONE, a(&[])),
    ]
}

on_both_backends!(every_route_checks_every_role);

async fn every_route_checks_every_role(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let f = fixture(&admin).await;
    let (job, schedule) = job_and_schedule(&app, &f).await;
    let alert = Condition {
        rule: "disk",
        target_key: &format!("host:{}", f.host_id),
        host_id: Some(f.host_id),
        study_id: None,
        severity: "warning",
        summary: "disk",
        detail: "",
    };
    let alert = app.state.store.raise_alert(&alert, app.clock.now()).await.unwrap().unwrap();
    let table = table(&f, job, schedule, alert);

    let registered: BTreeSet<String> = leptos::server_fn::axum::server_fn_paths()
        .map(|(path, _)| path.trim_start_matches("/api/").to_owned())
        .collect();
    let in_policy: BTreeSet<String> = policy::RULES.iter().map(|r| r.endpoint.to_owned()).collect();
    let without_rule: Vec<&String> = registered.difference(&in_policy).collect();
    assert!(without_rule.is_empty(), "server functions without a row in the server's policy: {without_rule:?}");
    let listed: BTreeSet<String> = table.iter().map(|(name, _, _)| (*name).to_owned()).collect();
    let unlisted: Vec<&String> = registered.difference(&listed).collect();
    assert!(unlisted.is_empty(), "server functions this test does not call: {unlisted:?}");
    let stale: Vec<&String> = listed.difference(&registered).collect();
    assert!(stale.is_empty(), "rows for server functions that do not exist: {stale:?}");
    // The server's policy says what this table expects.
    let mut disagree = Vec::new();
    for (endpoint, allowed, args) in &table {
        // About no study: a fleet-wide job, or the global rota (no study named).
        let rota = endpoint.contains("rota");
        let global = (rota && !args.iter().any(|(k, _)| k.contains("study_id")))
            || args.iter().any(|(k, v)| k.contains("target_kind") && v == "fleet");
        let rule = policy::rule(endpoint).unwrap();
        let access = if global { rule.global } else { rule.in_study };
        let mut expected: Vec<&str> = passes(access).to_vec();
        expected.sort_unstable();
        let mut listed = allowed.to_vec();
        listed.sort_unstable();
        if expected != listed {
            disagree.push(format!("{endpoint}: the policy lets {expected:?} through, this test expects {listed:?}"));
        }
    }
    assert!(disagree.is_empty(), "the server's policy and the expected access differ:\n{}", disagree.join("\n"));

    let mut wrong = Vec::new();
    for who in WHO {
        let client = match who {
            "anonymous" => app.client(),
            "admin" => admin.clone(),
            username => {
                assert!(ROLE_USERS.iter().any(|(u, _)| *u == username));
                let client = app.client();
                client.login(username, USER_PASSWORD).await.unwrap();
                client
            }
        };
        for (endpoint, allowed, args) in &table {
            let form: Vec<(&str, &str)> = args.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let status = call_status(&client, endpoint, &form).await;
            let refused = status == 401 || status == 403;
            let expected_allowed = allowed.contains(&who);
            if refused == expected_allowed {
                wrong.push(format!(
                    "{endpoint} as {who}: {status} (expected {})",
                    if expected_allowed { "allowed" } else { "refused" }
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "access table violated:\n{}", wrong.join("\n"));
    app.stop().await;
}

/// A job (queued for next year, so it stays put) and a disabled schedule in the study.
async fn job_and_schedule(app: &TestApp, f: &Fixture) -> (i64, i64) {
    let now = app.clock.now();
    let next_year = now + chrono::Duration::days(365);
    let job = NewJob {
        kind: "facts",
        target_kind: "instance",
        target_id: Some(f.instance_id),
        target_name: "prod",
        study_id: Some(f.study_id),
        payload: "{}",
        max_attempts: 1,
        requested_by: "test",
        schedule_id: None,
        run_after: next_year,
    };
    let job = app.state.store.insert_job(&job, now).await.unwrap();
    let schedule = ScheduleFields {
        name: "nightly",
        kind: "facts",
        target_kind: "instance",
        target_id: Some(f.instance_id),
        study_id: Some(f.study_id),
        payload: "{}",
        cron: "0 3 * * *",
        timezone: "UTC",
        enabled: false,
        catch_up: "once",
        jitter_secs: 0,
        next_due_at: next_year,
    };
    let schedule = app.state.store.insert_schedule(&schedule, "test", now).await.unwrap();
    (job, schedule)
}

/// Who passes `access` in the fixture's study.
fn passes(access: Access) -> Vec<&'static str> {
    match access {
        Access::Public => EVERYONE.to_vec(),
        Access::SignedIn => SIGNED_IN.to_vec(),
        Access::Admin => ADMIN.to_vec(),
        Access::Study(permission) => ROLE_USERS
            .iter()
            .filter(|(_, role)| role.and_then(StudyRole::parse).is_some_and(|r| r.allows(permission)))
            .map(|(user, _)| *user)
            .chain(["admin"])
            .collect(),
    }
}

async fn call_status(client: &Client, endpoint: &str, form: &[(&str, &str)]) -> u16 {
    client.http.post(format!("{}/api/{endpoint}", client.base)).form(form).send().await.unwrap().status().as_u16()
}
