//! Config management against real hosts running a real nginx, on both databases: a pushed
//! change is served; a value nginx rejects never goes live; a value that passes the check but
//! breaks the site is rolled back; drift on the host is found, alerted and cleared by the next
//! push; revisions compare; secrets never show in diffs or pages.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::configs::{compare, save};
use common::fleet::NginxSite;
use common::{Backend, Client, TestApp, finished_job, trusted_fleet};
use steward_frontend::contract::{AlertSummary, AppError, ConfigOverview, HostDiff, JobSummary, RevisionSummary};

/// The generic stack's settings that manage the site's nginx.conf with a real check and reload;
/// healthy means the site answers `expect`.
fn nginx_settings(site: &NginxSite, body: &str, expect: &str) -> Vec<(String, String)> {
    let path = site.config_path();
    let staged = format!("{path}.steward-new");
    let validate = site.command(&["-t", "-q"]).into_iter().map(|a| if a == path { staged.clone() } else { a });
    vec![
        ("path".into(), path.clone()),
        ("content".into(), site.config(body)),
        ("validate_command".into(), validate.collect::<Vec<_>>().join("\n")),
        ("reload_command".into(), site.command(&["-s", "reload"]).join("\n")),
        ("health_url".into(), format!("http://127.0.0.1:{}/", site.port)),
        ("health_expect".into(), expect.into()),
    ]
}

/// The realistic example settings of a shipped stack (the browser tests' data), as form text.
fn example_settings(stack: &str) -> Vec<(String, String)> {
    let path = format!("{}/../e2e/data/stacks/{stack}.toml", env!("CARGO_MANIFEST_DIR"));
    let example: toml::Table = toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    steward::services::stacks::form_of(example["settings"].as_table().unwrap()).into_iter().collect()
}

async fn push(admin: &Client, instance: &str) -> steward_frontend::contract::JobDetail {
    let job: JobSummary = admin.call("push_config", &[("input[instance_id]", instance)]).await.unwrap();
    finished_job(admin, job.id).await
}

async fn overview(admin: &Client, instance: &str) -> ConfigOverview {
    admin.call("get_config", &[("instance_id", instance)]).await.unwrap()
}

on_both_backends!(
    a_push_is_validated_reloaded_health_checked_and_rolled_back,
    settings_are_typed_and_secrets_stay_sealed,
    an_operator_stack_folder_serves_instances,
    a_refused_write_fails_with_its_reason_and_rolls_back_the_others
);

async fn a_push_is_validated_reloaded_health_checked_and_rolled_back(backend: Backend) {
    let app = TestApp::start(backend).await;
    let fleet = trusted_fleet(&app, 1).await;
    let (admin, instance) = (&fleet.admin, fleet.instance_id.as_str());
    let host = &fleet.hosts[0].1;
    let site = host.start_nginx("200 \"before Steward\\n\"");
    assert_eq!(site.get().await.1, "before Steward\n");

    // A change: the diff against the live file first, then the push, and the site serves it.
    let first = save(admin, instance, "Say hello", &nginx_settings(&site, "200 \"hello v1\\n\"", "hello v1")).await;
    assert_eq!(first.number, 1);
    let preview: Vec<HostDiff> =
        admin.call("preview_push", &[("instance_id", instance), ("revision", "")]).await.unwrap();
    let file = &preview[0].files[0];
    assert_eq!((file.path.as_str(), file.status.as_str()), (site.config_path().as_str(), "changed"));
    assert!(file.diff.contains("-            return 200 \"before Steward\\n\";"), "{}", file.diff);
    assert!(file.diff.contains("+            return 200 \"hello v1\\n\";"), "{}", file.diff);
    let job = push(admin, instance).await;
    assert_eq!(job.job.state, "succeeded", "{:?}", job.log);
    assert_eq!(site.get().await, (200, "hello v1\n".into()));
    let state = &overview(admin, instance).await.hosts[0];
    assert_eq!((state.revision, state.drift.as_str()), (Some(1), "in-sync"));
    assert!(job.log.iter().any(|l| l.line.contains("validated")), "{:?}", job.log);

    // A value nginx rejects: the check fails on the uploaded copy and nothing changes.
    let broken = nginx_settings(&site, "200 \"hello v1\\n\"; retrun 200", "hello v1");
    save(admin, instance, "Typo", &broken).await;
    let job = push(admin, instance).await;
    assert_eq!(job.job.state, "failed");
    let reason = &job.hosts[0].message;
    assert!(
        reason.contains("failed validation, nothing was changed") && reason.contains("unknown directive"),
        "{reason}"
    );
    assert_eq!(site.get().await, (200, "hello v1\n".into()));
    assert_eq!(std::fs::read_to_string(site.config_path()).unwrap(), site.config("200 \"hello v1\\n\""));
    assert!(!std::path::Path::new(&format!("{}.steward-new", site.config_path())).exists(), "no staged copy is left");

    // A value that passes `nginx -t` but breaks the site: rolled back, and the old page is served.
    save(admin, instance, "Break it", &nginx_settings(&site, "500 \"oops\\n\"", "oops")).await;
    let job = push(admin, instance).await;
    assert_eq!(job.job.state, "failed");
    let reason = &job.hosts[0].message;
    assert!(reason.contains("health check failed") && reason.contains("answered 500"), "{reason}");
    assert!(reason.contains("the previous files were restored and are healthy"), "{reason}");
    assert_eq!(site.get().await, (200, "hello v1\n".into()));
    assert_eq!(std::fs::read_to_string(site.config_path()).unwrap(), site.config("200 \"hello v1\\n\""));

    // Someone edits the file on the host: the drift check finds it and raises an alert.
    std::fs::write(site.config_path(), site.config("200 \"edited by hand\\n\"")).unwrap();
    let drift: JobSummary = admin
        .call(
            "start_job",
            &[("input[kind]", "drift"), ("input[target_kind]", "instance"), ("input[target_id]", instance)],
        )
        .await
        .unwrap();
    assert_eq!(finished_job(admin, drift.id).await.job.state, "succeeded");
    let state = &overview(admin, instance).await.hosts[0];
    assert_eq!(state.drift, "drifted");
    assert_eq!(state.drift_files, [format!("{} (changed)", site.config_path())]);
    let alerts: Vec<AlertSummary> = admin.call("list_alerts", &[("state", "open")]).await.unwrap();
    assert!(alerts.iter().any(|a| a.rule == "config-drift"), "{alerts:?}");

    // The next good push puts the file back in line and clears the alert.
    let last = save(admin, instance, "Hello again", &nginx_settings(&site, "200 \"hello v2\\n\"", "hello v2")).await;
    assert_eq!(push(admin, instance).await.job.state, "succeeded");
    assert_eq!(site.get().await, (200, "hello v2\n".into()));
    let config = overview(admin, instance).await;
    assert_eq!((config.hosts[0].revision, config.hosts[0].drift.as_str()), (Some(last.number), "in-sync"));
    let alerts: Vec<AlertSummary> = admin.call("list_alerts", &[("state", "open")]).await.unwrap();
    assert!(!alerts.iter().any(|a| a.rule == "config-drift"), "{alerts:?}");

    // Revisions are kept, newest first, and any two compare.
    let numbers: Vec<i64> = config.revisions.iter().map(|r| r.number).collect();
    assert_eq!(numbers, [4, 3, 2, 1]);
    let compared = compare(admin, instance, first.id, last.id).await;
    let diff = &compared[0].files[0].diff;
    assert!(
        diff.contains("-            return 200 \"hello v1\\n\";")
            && diff.contains("+            return 200 \"hello v2\\n\";")
    );
    app.stop().await;
}

async fn settings_are_typed_and_secrets_stay_sealed(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let study: serde_json::Value =
        admin.call("create_study", &[("name", "Teaching"), ("description", ""), ("contact", "")]).await.unwrap();
    let instance: serde_json::Value = admin
        .call(
            "create_instance",
            &[
                ("study_id", &study["id"].to_string()),
                ("input[name]", "inloop"),
                ("input[stack]", "inloop"),
                ("input[environment]", "production"),
            ],
        )
        .await
        .unwrap();
    let instance = instance["id"].to_string();
    let key = admin.call::<serde_json::Value>("generate_ssh_key", &[("name", "k")]).await.unwrap();
    let form = common::host_form(&instance, "web1", "web", "10.0.0.31", "", "");
    let mut form = form;
    let key_id = key["id"].to_string();
    form[6].1 = &key_id;
    let _: serde_json::Value = admin.call("add_host", &form).await.unwrap();

    // Every bad field is reported at once, by name.
    let bad = [("secret_key".to_owned(), String::new()), ("allowed_hosts".to_owned(), "not a host!".to_owned())];
    let mut fields: Vec<(String, String)> =
        vec![("input[instance_id]".into(), instance.clone()), ("input[message]".into(), String::new())];
    fields.extend(bad.iter().map(|(k, v)| (format!("input[values][{k}]"), v.clone())));
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let err = admin.call::<RevisionSummary>("save_settings", &fields).await.unwrap_err();
    assert_eq!(err.status.as_u16(), 400);
    let AppError::InvalidFields { errors } = err.error else { panic!("{:?}", err.error) };
    let named: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    for field in ["secret_key", "database_url", "allowed_hosts"] {
        assert!(named.contains(&field), "{field} is reported: {errors:?}");
    }

    let canary = "canary-Secret-Key-42";
    let example = |secret: &str| {
        let mut values = example_settings("inloop");
        for (name, value) in [
            ("secret_key", secret),
            ("database_url", "postgres://inloop:canary-db-pw@localhost/inloop"),
            ("github_secret", "canary-github"),
        ] {
            values.retain(|(k, _)| k != name);
            values.push((name.to_owned(), value.to_owned()));
        }
        values
    };
    let first = save(&admin, &instance, "First", &example(canary)).await;
    // A secret left empty keeps its value; a new one makes a new revision.
    let second = save(&admin, &instance, "Rotate the key", &example("canary-Rotated-Key-43")).await;
    let compared = compare(&admin, &instance, first.id, second.id).await;
    let shown = serde_json::to_string(&compared).unwrap();
    assert!(shown.contains("********"), "the changed secret shows masked: {shown}");
    let page = serde_json::to_string(&overview(&admin, &instance).await).unwrap();
    for text in [&shown, &page] {
        assert!(!text.contains("canary"), "a secret leaked: {text}");
    }
    let stored = app.state.store.revision(second.id).await.unwrap();
    assert!(!stored.settings.contains("canary"), "revisions hold sealed references only: {}", stored.settings);
    let config = overview(&admin, &instance).await;
    let secret = config.fields.iter().find(|f| f.name == "secret_key").unwrap();
    assert!(secret.is_set && secret.value.is_empty());
    app.stop().await;
}

async fn an_operator_stack_folder_serves_instances(backend: Backend) {
    let app = TestApp::start_with(backend, |config| {
        let folder = config.storage.data_dir.join("stacks/site");
        std::fs::create_dir_all(folder.join("templates")).unwrap();
        let manifest = "name = \"site\"\ntitle = \"Our site\"\n[[settings]]\nname = \"greeting\"\ntype = \"string\"\nrequired = true\n\
                        [[files]]\npath = \"/srv/site/{{ instance.slug }}.txt\"\ntemplate = \"site.j2\"\n";
        std::fs::write(folder.join("stack.toml"), manifest).unwrap();
        std::fs::write(folder.join("templates/site.j2"), "{{ settings.greeting }}\n").unwrap();
    })
    .await;
    let admin = app.admin().await;
    let stacks: Vec<steward_frontend::contract::StackSummary> = admin.call("list_stacks", &[]).await.unwrap();
    assert!(stacks.iter().any(|s| s.name == "site" && s.source.ends_with("stacks/site")), "{stacks:?}");
    let study: serde_json::Value =
        admin.call("create_study", &[("name", "Web"), ("description", ""), ("contact", "")]).await.unwrap();
    let study = study["id"].to_string();
    let create = |stack: &'static str| {
        let study = study.clone();
        let admin = &admin;
        async move {
            admin
                .call::<serde_json::Value>(
                    "create_instance",
                    &[
                        ("study_id", study.as_str()),
                        ("input[name]", "Main Site"),
                        ("input[stack]", stack),
                        ("input[environment]", "production"),
                    ],
                )
                .await
        }
    };
    let err = create("nope").await.unwrap_err();
    assert!(err.error.for_field("stack").is_some_and(|m| m.contains("site")), "{:?}", err.error);
    let instance = create("site").await.unwrap();
    let instance = instance["id"].to_string();
    let first = save(&admin, &instance, "Hi", &[("greeting".to_owned(), "hello".to_owned())]).await;
    let second = save(&admin, &instance, "Hi again", &[("greeting".to_owned(), "hello again".to_owned())]).await;
    let config = overview(&admin, &instance).await;
    assert_eq!(config.stack.unwrap().title, "Our site");
    assert_eq!(config.revisions.len(), 2);
    assert!(first.number < second.number);
    app.stop().await;
}

/// A stack writing two files: the second into a directory the test may leave missing.
fn two_file_stack(config: &mut steward::config::Config) {
    let folder = config.storage.data_dir.join("stacks/pair");
    std::fs::create_dir_all(folder.join("templates")).unwrap();
    let manifest = "name = \"pair\"\ntitle = \"Two files\"\n\
                    [[settings]]\nname = \"dir\"\ntype = \"path\"\nrequired = true\n\
                    [[settings]]\nname = \"text\"\ntype = \"string\"\nrequired = true\n\
                    [[files]]\npath = \"{{ settings.dir }}/first.conf\"\ntemplate = \"f.j2\"\n\
                    [[files]]\npath = \"{{ settings.dir }}/missing/second.conf\"\ntemplate = \"f.j2\"\n";
    std::fs::write(folder.join("stack.toml"), manifest).unwrap();
    std::fs::write(folder.join("templates/f.j2"), "{{ settings.text }}\n").unwrap();
}

async fn a_refused_write_fails_with_its_reason_and_rolls_back_the_others(backend: Backend) {
    let app = TestApp::start_with(backend, two_file_stack).await;
    let fleet = trusted_fleet(&app, 1).await;
    let admin = &fleet.admin;
    let host = &fleet.hosts[0].1;
    let study = common::study_of(admin, &fleet.instance_id).await;
    let instance = common::instance_on(&app, admin, &study, "pair", host).await;
    let dir = host.home.join("pair");
    host.run_as_user(&["mkdir", "-p", dir.to_str().unwrap()]);
    host.run_as_user(&["sh", "-c", &format!("echo before > {}/first.conf", dir.display())]);
    let values = [("dir".to_owned(), dir.display().to_string()), ("text".to_owned(), "after".to_owned())];
    save(admin, &instance, "Two files", &values).await;
    let job = push(admin, &instance).await;
    assert_eq!(job.job.state, "failed");
    let reason = &job.hosts[0].message;
    assert!(reason.contains("could not write") && reason.contains("missing/second.conf"), "{reason}");
    assert!(reason.contains("No such file or directory"), "the agent's own reason: {reason}");
    assert!(reason.ends_with("the previous files were restored"), "{reason}");
    assert!(!job.log.iter().any(|l| l.line.contains("without a write-file")), "{:?}", job.log);
    assert_eq!(std::fs::read_to_string(dir.join("first.conf")).unwrap(), "before\n");

    // The agent stays in step: the next push, with the directory there, goes through.
    host.run_as_user(&["mkdir", "-p", dir.join("missing").to_str().unwrap()]);
    let job = push(admin, &instance).await;
    assert_eq!(job.job.state, "succeeded", "{:?}", job.hosts);
    assert_eq!(std::fs::read_to_string(dir.join("missing/second.conf")).unwrap(), "after\n");
    app.stop().await;
}
