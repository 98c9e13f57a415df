//! Costly requests wait for their own answer without stalling anyone else: a cron expression
//! that never comes due, a stack whose templates loop without end or produce a flood. Health
//! checks keep answering at once, and each costly request gets a clear error.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::{Backend, Client, TestApp};
use steward_frontend::contract::HostDiff;

/// The slowest of a few `/healthz` answers taken while `busy` runs.
async fn slowest_health_while(app: &TestApp, busy: impl std::future::Future<Output = ()>) -> Duration {
    let http = reqwest::Client::new();
    let url = format!("{}/healthz", app.url);
    let probe = async {
        let mut slowest = Duration::ZERO;
        for _ in 0..10 {
            let started = Instant::now();
            assert!(http.get(&url).send().await.unwrap().status().is_success());
            slowest = slowest.max(started.elapsed());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        slowest
    };
    let (slowest, ()) = tokio::join!(probe, busy);
    slowest
}

on_both_backends!(never_due_crons_and_runaway_templates_stall_nobody);

/// A stack whose templates do far too much, or write far too much.
fn runaway_stack(config: &mut steward::config::Config) {
    let folder = config.storage.data_dir.join("stacks/runaway");
    std::fs::create_dir_all(folder.join("templates")).unwrap();
    let manifest = "name = \"runaway\"\ntitle = \"Runaway\"\n\
                    [[settings]]\nname = \"mode\"\ntype = \"choice\"\nchoices = [\"loop\", \"flood\"]\nrequired = true\n\
                    [[files]]\npath = \"/tmp/runaway.conf\"\ntemplate = \"t.j2\"\n";
    std::fs::write(folder.join("stack.toml"), manifest).unwrap();
    let template = "{% if settings.mode == 'loop' %}{% for i in range(100000) %}{% for j in range(100000) %}{{ i }}{% endfor %}{% endfor %}\
                    {% else %}{% for i in range(90000) %}{{ 'x' * 60 }}{% endfor %}{% endif %}\n";
    std::fs::write(folder.join("templates/t.j2"), template).unwrap();
}

async fn never_due_crons_and_runaway_templates_stall_nobody(backend: Backend) {
    let app = TestApp::start_with(backend, runaway_stack).await;
    let admin = app.admin().await;

    // Forty previews of expressions that never come due (30 February), all at once.
    let previews = async {
        let calls = (0..40).map(|_| {
            let admin = admin.clone();
            async move {
                admin.call::<Vec<String>>("preview_schedule", &[("cron", "0 0 30 2 *"), ("timezone", "UTC")]).await
            }
        });
        for result in futures_util::future::join_all(calls).await {
            let err = result.unwrap_err();
            assert_eq!(err.status.as_u16(), 400);
            assert!(err.error.for_field("cron").is_some(), "{:?}", err.error);
        }
    };
    let slowest = slowest_health_while(&app, previews).await;
    assert!(slowest < Duration::from_secs(1), "health answered in {slowest:?} at worst");

    // More often than once a minute is refused.
    let err = admin.call::<Vec<String>>("preview_schedule", &[("cron", "* * * * * *"), ("timezone", "UTC")]).await;
    let err = err.unwrap_err().error;
    assert!(err.for_field("cron").is_some_and(|m| m.contains("once a minute")), "{err:?}");

    // Templates that loop without end, or write without end, are stopped with a reason.
    let instance = instance_of(&admin, "runaway").await;
    for (mode, reason) in [("loop", "too much work"), ("flood", "renders more than 4 MiB")] {
        let form = [("input[instance_id]", instance.as_str()), ("input[message]", mode), ("input[values][mode]", mode)];
        admin.call::<serde_json::Value>("save_settings", &form).await.unwrap();
        let started = Instant::now();
        let compare = async {
            let diffs: Result<Vec<HostDiff>, _> =
                admin.call("preview_push", &[("instance_id", instance.as_str()), ("revision", "")]).await;
            let diffs = diffs.unwrap();
            let error = diffs[0].error.clone().unwrap_or_default();
            assert!(error.contains(reason), "{mode}: {error}");
        };
        let slowest = slowest_health_while(&app, compare).await;
        assert!(slowest < Duration::from_secs(1), "{mode}: health answered in {slowest:?} at worst");
        assert!(started.elapsed() < Duration::from_secs(15), "{mode}: stopped in {:?}", started.elapsed());
    }
    app.stop().await;
}

/// A study with one instance of `stack` on one (unreachable, untrusted) host: the instance's id.
async fn instance_of(admin: &Client, stack: &str) -> String {
    let study: serde_json::Value =
        admin.call("create_study", &[("name", "Limits"), ("description", ""), ("contact", "")]).await.unwrap();
    let study = study["id"].to_string();
    let instance: serde_json::Value = admin
        .call(
            "create_instance",
            &[
                ("study_id", &study),
                ("input[name]", "main"),
                ("input[stack]", stack),
                ("input[environment]", "production"),
            ],
        )
        .await
        .unwrap();
    let instance = instance["id"].to_string();
    let _: serde_json::Value =
        admin.call("add_host", &common::host_form(&instance, "web1", "web", "10.0.0.1", "", "")).await.unwrap();
    instance
}
