//! Secret settings never show, whatever a template does to them (`%` doubled, JSON-escaped,
//! URL-encoded...): not in revision diffs, live diffs, job logs, job pages or any API answer,
//! for any role, through every shipped stack. A short secret is never an oracle, and what a host
//! prints (a failing check quoting the file) is hidden line by line.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::configs::{compare, save};
use common::{Backend, Client, TestApp, finished_job, instance_on, study_of, trusted_fleet};
use steward_frontend::contract::{HostDiff, JobSummary};

/// Survives every encoding a template may apply, so finding it anywhere means a leak.
const CORE: &str = "c4n4ry";

fn canary(n: usize) -> String {
    format!("{CORE}{n} %<>&'*~\" \\ end")
}

/// Roles that may see the study, each as a signed-in client (the admin last).
async fn role_clients(app: &TestApp, admin: &Client, study: &str) -> Vec<(&'static str, Client)> {
    let mut clients = Vec::new();
    for role in ["researcher", "viewer", "on-call", "operator", "study-admin"] {
        clients.push((role, common::member_with_role(app, admin, study, &role.replace('-', ""), role).await));
    }
    clients.push(("admin", admin.clone()));
    clients
}

/// Everything a client may read about an instance's configuration and a job, raw.
async fn everything_shown(client: &Client, instance: &str, from: i64, to: i64, job: i64) -> Vec<(String, String)> {
    let (from, to, job) = (from.to_string(), to.to_string(), job.to_string());
    let mut bodies = Vec::new();
    for (name, form) in [
        ("get_config", vec![("instance_id", instance)]),
        ("compare_revisions", vec![("instance_id", instance), ("from", from.as_str()), ("to", to.as_str())]),
        ("preview_push", vec![("instance_id", instance), ("revision", "")]),
        ("get_job", vec![("job_id", job.as_str())]),
        ("list_jobs", vec![("query[page]", "0")]),
    ] {
        bodies.push((name.to_owned(), client.call_raw(name, &form).await.1));
    }
    bodies.push(("log.txt".into(), client.get(&format!("/jobs/{job}/log.txt")).await.text().await.unwrap()));
    bodies.push(("events".into(), client.get(&format!("/jobs/{job}/events?after=0")).await.text().await.unwrap()));
    bodies.push(("page".into(), client.get(&format!("/instances/{instance}/config")).await.text().await.unwrap()));
    bodies
}

fn assert_no_canary(who: &str, bodies: &[(String, String)]) {
    for (what, body) in bodies {
        assert!(!body.to_lowercase().contains(CORE), "{who} sees a secret in {what}: {body}");
    }
}

/// The shipped stacks' realistic examples with every secret a hostile canary.
fn example_with_canaries(stack: &str, offset: usize) -> Vec<(String, String)> {
    let dir = format!("{}/../e2e/data/stacks/{stack}.toml", env!("CARGO_MANIFEST_DIR"));
    let example: toml::Table = toml::from_str(&std::fs::read_to_string(dir).unwrap()).unwrap();
    let stacks = steward::services::stacks::Stacks::load(std::path::Path::new("/nonexistent"));
    let manifest = &stacks.get(stack).unwrap().manifest;
    let mut values: Vec<(String, String)> =
        steward::services::stacks::form_of(example["settings"].as_table().unwrap()).into_iter().collect();
    for (i, spec) in manifest.settings.iter().enumerate() {
        if spec.kind == steward::services::stacks::SettingType::Secret {
            values.retain(|(name, _)| *name != spec.name);
            values.push((spec.name.clone(), canary(offset + i)));
        }
    }
    values
}

on_both_backends!(secrets_never_show_through_any_shipped_stack, host_output_and_live_files_hide_secrets_whole);

async fn secrets_never_show_through_any_shipped_stack(backend: Backend) {
    let app = TestApp::start(backend).await;
    let fleet = trusted_fleet(&app, 1).await;
    let admin = &fleet.admin;
    let host = &fleet.hosts[0].1;
    let study = study_of(admin, &fleet.instance_id).await;
    let clients = role_clients(&app, admin, &study).await;

    for stack in ["emission", "camcops", "inloop", "dcor"] {
        let instance = instance_on(&app, admin, &study, stack, host).await;
        let first = save(admin, &instance, "First", &example_with_canaries(stack, 0)).await;
        let second = save(admin, &instance, "Rotate every secret", &example_with_canaries(stack, 100)).await;
        let compared = compare(admin, &instance, first.id, second.id).await;
        assert!(compared[0].error.is_none(), "{stack} renders with hostile secrets: {compared:?}");
        let shown = serde_json::to_string(&compared).unwrap();
        assert!(shown.contains("********"), "{stack}: a changed secret shows as a masked line: {shown}");
        // The push fails on this host (it has no /etc/ckan, no supervisor...), and says why.
        let job: JobSummary = admin.call("push_config", &[("input[instance_id]", &instance)]).await.unwrap();
        let job = finished_job(admin, job.id).await;
        assert!(!job.hosts[0].message.is_empty(), "{stack}: {job:?}");

        for (role, client) in &clients {
            let bodies = everything_shown(client, &instance, first.id, second.id, job.job.id).await;
            assert_no_canary(&format!("{stack}: {role}"), &bodies);
        }
    }
    app.stop().await;
}

/// A stack of the test's own, writing into the host user's home: the secret in five encodings.
fn canary_stack(config: &mut steward::config::Config) {
    let folder = config.storage.data_dir.join("stacks/vaulted");
    std::fs::create_dir_all(folder.join("templates")).unwrap();
    let manifest = r#"
name = "vaulted"
title = "Secrets in every encoding"
[[settings]]
name = "dir"
type = "path"
required = true
[[settings]]
name = "word"
type = "string"
[[settings]]
name = "token"
type = "secret"
required = true
[[settings]]
name = "check"
type = "boolean"
[[files]]
path = "{{ settings.dir }}/app.conf"
template = "app.conf.j2"
validate = ["{{ ['sh', '-c', 'cat \"$1\"; exit 1', 'check', staged] if settings.check else [] }}"]
"#;
    std::fs::write(folder.join("stack.toml"), manifest).unwrap();
    let template = "name = {{ settings.word }}\ntoken = {{ settings.token }}\njson = {{ settings.token | tojson }}\n\
                    url = https://u:{{ settings.token | urlencode }}@h/\nini = {{ settings.token | replace('%', '%%') }}\n";
    std::fs::write(folder.join("templates/app.conf.j2"), template).unwrap();
}

async fn host_output_and_live_files_hide_secrets_whole(backend: Backend) {
    let app = TestApp::start_with(backend, canary_stack).await;
    let fleet = trusted_fleet(&app, 1).await;
    let admin = &fleet.admin;
    let host = &fleet.hosts[0].1;
    let study = study_of(admin, &fleet.instance_id).await;
    let clients = role_clients(&app, admin, &study).await;
    let instance = instance_on(&app, admin, &study, "vaulted", host).await;
    let instance = instance.as_str();
    let dir = host.home.join("app");
    host.run_as_user(&["mkdir", "-p", dir.to_str().unwrap()]);
    let settings = |token: &str, check: bool| {
        vec![
            ("dir".to_owned(), dir.display().to_string()),
            ("word".to_owned(), "include".to_owned()),
            ("token".to_owned(), token.to_owned()),
            ("check".to_owned(), check.to_string()),
        ]
    };

    // A short secret: the word around it is shown as it is, never with the secret cut out.
    let first = save(admin, instance, "Short", &settings("inc", false)).await;
    let preview: Vec<HostDiff> =
        admin.call("preview_push", &[("instance_id", instance), ("revision", "")]).await.unwrap();
    let diff = &preview[0].files[0].diff;
    assert!(diff.contains("+name = include\n") && diff.contains("+token = ********\n"), "{diff}");
    assert!(!diff.contains("********lude"), "no oracle: {diff}");
    let job: JobSummary = admin.call("push_config", &[("input[instance_id]", instance)]).await.unwrap();
    assert_eq!(finished_job(admin, job.id).await.job.state, "succeeded");

    // Someone adds a line holding the secret by hand; the next revision changes the secret.
    let live = dir.join("app.conf");
    let mut text = std::fs::read_to_string(&live).unwrap();
    assert!(text.contains("token = inc\n"), "the host has the real value: {text}");
    text.push_str("hand = copy of inc here\n");
    std::fs::write(&live, text).unwrap();
    let second = save(admin, instance, "Rotate", &settings(&canary(1), false)).await;
    let preview: Vec<HostDiff> =
        admin.call("preview_push", &[("instance_id", instance), ("revision", "")]).await.unwrap();
    let diff = &preview[0].files[0].diff;
    assert!(diff.contains("-token = ********\n") && diff.contains("+token = ********\n"), "{diff}");
    assert!(diff.contains("-url = https://u:********@h/\n"), "pushed lines map to their render: {diff}");
    assert!(diff.contains("-******** (a line holding a secret setting is hidden)\n"), "{diff}");
    assert!(!diff.contains("inc here") && !diff.contains("= inc\n"), "{diff}");

    // A check that prints the staged file (secrets and all) fails: its output shows hidden lines.
    let third = save(admin, instance, "Check it", &settings(&canary(2), true)).await;
    let job: JobSummary = admin.call("push_config", &[("input[instance_id]", instance)]).await.unwrap();
    let job = finished_job(admin, job.id).await;
    assert_eq!(job.job.state, "failed");
    let message = &job.hosts[0].message;
    assert!(message.contains("failed validation") && message.contains("name = include"), "{message}");
    assert!(message.contains("a line holding a secret setting is hidden"), "{message}");

    let _ = first;
    for (role, client) in &clients {
        let bodies = everything_shown(client, instance, second.id, third.id, job.job.id).await;
        assert_no_canary(role, &bodies);
    }
    app.stop().await;
}
