//! Studies, instances and hosts over HTTP on SQLite and Postgres: the multi-tier e-mission
//! layout, field-level errors, hostile text kept as given, server-side filters, confirmed
//! deletion, and what a researcher may not see.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Backend, Client, TestApp, USER_PASSWORD, host_form};
use reqwest::StatusCode;
use serde_json::Value;
use steward_frontend::contract::{
    AppError, HostRole, InstanceDetail, InstanceSummary, Page, StudyDetail, StudySummary,
};

on_both_backends!(
    multi_tier_study_story,
    bad_input_gets_field_errors,
    instances_filter_sort_and_page,
    researchers_see_names_only,
    ansible_import_export_round_trip,
);

const HOSTILE: &str = "O'Reilly \"$(rm -rf /)\" `id` <script>alert(1)</script></textarea><b>bold</b>\nsecond line";

async fn study(admin: &Client, name: &str) -> i64 {
    let s: StudySummary = admin
        .call("create_study", &[("name", name), ("description", HOSTILE), ("contact", "lab@example.org")])
        .await
        .unwrap();
    s.id
}

async fn instance(admin: &Client, study: i64, name: &str, stack: &str, env: &str, tags: &str) -> InstanceSummary {
    admin
        .call(
            "create_instance",
            &[
                ("study_id", &study.to_string()),
                ("input[name]", name),
                ("input[stack]", stack),
                ("input[environment]", env),
                ("input[base_url]", "https://emission.example.org"),
                ("input[tags]", tags),
                ("input[notes]", HOSTILE),
            ],
        )
        .await
        .unwrap()
}

async fn multi_tier_study_story(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let study_id = study(&admin, "e-mission pilot").await;
    let inst = instance(&admin, study_id, "multi-tier", "emission", "production", "EU, pilot").await;
    assert_eq!(inst.tags, vec!["eu", "pilot"]);
    let iid = inst.id.to_string();

    let web: Value =
        admin.call("add_host", &host_form(&iid, "webapp", "web", "webapp.example.org", "", "")).await.unwrap();
    let web_id = web["id"].as_i64().unwrap().to_string();
    admin.call::<Value>("add_host", &host_form(&iid, "database", "database", "10.0.0.2", "", &web_id)).await.unwrap();
    admin
        .call::<Value>("add_host", &host_form(&iid, "analysis", "analysis", "2001:db8::7", "", &web_id))
        .await
        .unwrap();
    admin
        .call::<Value>("add_host", &host_form(&iid, "notebook", "notebook, analysis", "nb.example.org", "", ""))
        .await
        .unwrap();

    let detail: InstanceDetail = admin.call("get_instance", &[("instance_id", &iid)]).await.unwrap();
    assert_eq!(detail.notes, HOSTILE, "notes are stored exactly as given");
    let names: Vec<&str> = detail.hosts.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(names, ["analysis", "database", "notebook", "webapp"]);
    let db = detail.hosts.iter().find(|h| h.name == "database").unwrap();
    assert_eq!(db.roles, vec![HostRole::Database]);
    assert_eq!(db.jump_host.as_ref().unwrap().name, "webapp");
    let notebook = detail.hosts.iter().find(|h| h.name == "notebook").unwrap();
    assert_eq!(notebook.roles, vec![HostRole::Analysis, HostRole::Notebook]);

    let s: StudyDetail = admin.call("get_study", &[("study_id", &study_id.to_string())]).await.unwrap();
    assert_eq!(s.study.description, HOSTILE);
    assert_eq!((s.study.instance_count, s.study.host_count), (1, 4));

    // Shown escaped in the page, never as markup.
    let html = admin.http.get(format!("{}/studies/{study_id}", app.url)).send().await.unwrap().text().await.unwrap();
    assert!(!html.contains("<script>alert(1)</script>"), "unescaped text in the page");
    assert!(!html.contains("<b>bold</b>"), "text broke out of an element (a textarea?)");
    let evil = study(&admin, "Evil </title><script>alert(2)</script>").await;
    let html = admin.http.get(format!("{}/studies/{evil}", app.url)).send().await.unwrap().text().await.unwrap();
    assert!(!html.contains("<script>alert(2)</script>"), "a study name broke out of the title");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));

    // Deleting asks for the name and says what goes.
    let preview: Value = admin.call("study_deletion", &[("study_id", &study_id.to_string())]).await.unwrap();
    assert_eq!((preview["instances"].as_i64(), preview["hosts"].as_i64()), (Some(1), Some(4)));
    let refused = admin
        .call::<()>("delete_study", &[("study_id", &study_id.to_string()), ("confirm", "e-mission")])
        .await
        .unwrap_err();
    assert!(refused.error.for_field("confirm").is_some());
    assert!(admin.call::<InstanceDetail>("get_instance", &[("instance_id", &iid)]).await.is_ok(), "nothing removed");
    let refused = admin.call::<()>("delete_host", &[("host_id", &web_id)]).await.unwrap_err();
    assert!(refused.error.to_string().contains("reach their server through webapp"), "{}", refused.error);
    admin
        .call::<()>("delete_study", &[("study_id", &study_id.to_string()), ("confirm", "e-mission pilot")])
        .await
        .unwrap();
    let gone = admin.call::<InstanceDetail>("get_instance", &[("instance_id", &iid)]).await.unwrap_err();
    assert_eq!(gone.status, StatusCode::NOT_FOUND);

    let audit: Value =
        admin.call("audit_log", &[("query[action]", "study.deleted"), ("query[page]", "0")]).await.unwrap();
    assert_eq!(audit["items"][0]["detail"], "with 1 instance(s) and 4 host(s)");
    let audit: Value =
        admin.call("audit_log", &[("query[action]", "host.created"), ("query[page]", "0")]).await.unwrap();
    assert_eq!(audit["total"], 4);
    app.stop().await;
}

fn field(err: &AppError) -> String {
    match err {
        AppError::Invalid { field: Some(f), .. } | AppError::Conflict { field: Some(f), .. } => f.clone(),
        other => panic!("not a field error: {other:?}"),
    }
}

async fn bad_input_gets_field_errors(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let study_id = study(&admin, "Pilot").await;
    let dup = admin
        .call::<StudySummary>("create_study", &[("name", "Pilot"), ("description", ""), ("contact", "")])
        .await
        .unwrap_err();
    assert_eq!((dup.status, field(&dup.error)), (StatusCode::CONFLICT, "name".into()));
    let inst = instance(&admin, study_id, "prod", "camcops", "production", "").await;
    let iid = inst.id.to_string();
    let web: Value = admin.call("add_host", &host_form(&iid, "web", "web", "web.example.org", "", "")).await.unwrap();
    let web_id = web["id"].as_i64().unwrap().to_string();

    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (host_form(&iid, "h", "web", "a b", "", ""), "address"),
        (host_form(&iid, "h", "web", "host;reboot", "", ""), "address"),
        (host_form(&iid, "h", "", "h.example.org", "", ""), "roles"),
        (host_form(&iid, "h", "webserver", "h.example.org", "", ""), "roles"),
        (host_form(&iid, "web", "web", "h.example.org", "", ""), "name"),
        (host_form(&iid, "h", "web", "h.example.org", "999999", ""), "credential"),
        (host_form(&iid, "h", "web", "h.example.org", "", "999999"), "jump_host"),
    ];
    for (form, expected) in cases {
        let err = admin.call::<Value>("add_host", &form).await.unwrap_err();
        assert_eq!(field(&err.error), expected, "{form:?}: {}", err.error);
    }
    let mut bad_port = host_form(&iid, "h", "web", "h.example.org", "", "");
    bad_port[4] = ("input[ssh_port]", "70000");
    let err = admin.call::<Value>("add_host", &bad_port).await.unwrap_err();
    assert_eq!(field(&err.error), "ssh_port");
    assert!(err.error.to_string().contains("70000"));

    // A jump host from another study, and a loop of jump hosts, are refused.
    let other = study(&admin, "Other").await;
    let other_inst = instance(&admin, other, "x", "generic", "staging", "").await;
    let foreign: Value = admin
        .call("add_host", &host_form(&other_inst.id.to_string(), "f", "all", "f.example.org", "", ""))
        .await
        .unwrap();
    let foreign_id = foreign["id"].as_i64().unwrap().to_string();
    let err = admin
        .call::<Value>("add_host", &host_form(&iid, "h", "web", "h.example.org", "", &foreign_id))
        .await
        .unwrap_err();
    assert!(err.error.to_string().contains("same study"));
    let db: Value = admin.call("add_host", &host_form(&iid, "db", "database", "10.0.0.3", "", &web_id)).await.unwrap();
    let db_id = db["id"].as_i64().unwrap().to_string();
    let mut looped = host_form(&iid, "web", "web", "web.example.org", "", &db_id);
    looped[0] = ("host_id", &web_id);
    let err = admin.call::<Value>("update_host", &looped).await.unwrap_err();
    assert_eq!(field(&err.error), "jump_host");

    // Instance fields.
    for (name, stack, env, url, tags, expected) in [
        ("", "emission", "production", "", "", "name"),
        ("n", "wordpress", "production", "", "", "stack"),
        ("n", "emission", "", "", "", "environment"),
        ("n", "emission", "production", "ftp://x", "", "base_url"),
        ("n", "emission", "production", "", "<b>", "tags"),
        ("prod", "emission", "production", "", "", "name"),
    ] {
        let err = admin
            .call::<Value>(
                "create_instance",
                &[
                    ("study_id", &study_id.to_string()),
                    ("input[name]", name),
                    ("input[stack]", stack),
                    ("input[environment]", env),
                    ("input[base_url]", url),
                    ("input[tags]", tags),
                    ("input[notes]", ""),
                ],
            )
            .await
            .unwrap_err();
        assert_eq!(field(&err.error), expected, "{name} {stack} {env} {url} {tags}: {}", err.error);
    }
    let err = admin
        .call::<()>("set_member", &[("study_id", &study_id.to_string()), ("username", "ghost"), ("role", "viewer")])
        .await
        .unwrap_err();
    assert_eq!(field(&err.error), "username");
    app.stop().await;
}

async fn instances_filter_sort_and_page(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let a = study(&admin, "Alpha").await;
    let b = study(&admin, "Beta").await;
    for n in 0..55 {
        let (s, stack, env, tags) = match n % 3 {
            0 => (a, "emission", "production", "eu"),
            1 => (a, "dcor", "staging", "eu, pilot"),
            _ => (b, "inloop", "production", "teaching"),
        };
        instance(&admin, s, &format!("inst-{n:02}"), stack, env, tags).await;
    }
    let list = |pairs: Vec<(&'static str, String)>| {
        let admin = admin.clone();
        async move {
            let mut form: Vec<(String, String)> = pairs.into_iter().map(|(k, v)| (format!("query[{k}]"), v)).collect();
            form.push((
                "query[page]".into(),
                form.iter().find(|(k, _)| k == "query[page]").map_or("0".into(), |(_, v)| v.clone()),
            ));
            form.dedup_by(|x, y| x.0 == y.0);
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            admin.call::<Page<InstanceSummary>>("list_instances", &form).await.unwrap()
        }
    };
    let all = list(vec![]).await;
    assert_eq!((all.total, all.items.len()), (55, 50));
    assert_eq!(all.items[0].name, "inst-00");
    let second = list(vec![("page", "1".into())]).await;
    assert_eq!(second.items.len(), 5);
    assert_eq!(second.items[4].name, "inst-54");

    let dcor = list(vec![("stack", "dcor".into())]).await;
    assert_eq!(dcor.total, 18);
    assert!(dcor.items.iter().all(|i| i.stack.as_str() == "dcor" && i.tags == vec!["eu", "pilot"]));
    assert_eq!(list(vec![("tag", "pilot".into())]).await.total, 18);
    assert_eq!(list(vec![("study", "Beta".into())]).await.total, 18);
    assert_eq!(list(vec![("environment", "production".into()), ("study", "Alpha".into())]).await.total, 19);
    assert_eq!(list(vec![("search", "inst-1".into())]).await.total, 10);
    let desc = list(vec![("sort", "-name".into())]).await;
    assert_eq!(desc.items[0].name, "inst-54");
    let by_study = list(vec![("sort", "-study".into())]).await;
    assert_eq!(by_study.items[0].study_name, "Beta");
    let bad = admin
        .call::<Page<InstanceSummary>>("list_instances", &[("query[sort]", "secret"), ("query[page]", "0")])
        .await
        .unwrap_err();
    assert_eq!(field(&bad.error), "sort");
    app.stop().await;
}

async fn researchers_see_names_only(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let f = common::fixture(&admin).await;
    let researcher = app.client();
    researcher.login("researcher", USER_PASSWORD).await.unwrap();
    let studies: Vec<StudySummary> = researcher.call("list_studies", &[]).await.unwrap();
    assert_eq!(studies.len(), 1);
    assert_eq!(studies[0].name, "Pilot");
    let detail: StudyDetail = researcher.call("get_study", &[("study_id", &f.study_id.to_string())]).await.unwrap();
    assert!(detail.instances.is_empty() && detail.members.is_empty(), "researchers see the name only");
    assert_eq!(detail.study.host_count, 0);
    let page: Page<InstanceSummary> = researcher.call("list_instances", &[("query[page]", "0")]).await.unwrap();
    assert_eq!(page.total, 0);
    let refused = researcher
        .call::<InstanceDetail>("get_instance", &[("instance_id", &f.instance_id.to_string())])
        .await
        .unwrap_err();
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    // A member of no study sees no study at all.
    let outsider = app.client();
    outsider.login("member", USER_PASSWORD).await.unwrap();
    let studies: Vec<StudySummary> = outsider.call("list_studies", &[]).await.unwrap();
    assert!(studies.is_empty());
    let refused =
        outsider.call::<StudyDetail>("get_study", &[("study_id", &f.study_id.to_string())]).await.unwrap_err();
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    let viewer = app.client();
    viewer.login("viewer", USER_PASSWORD).await.unwrap();
    let detail: InstanceDetail =
        viewer.call("get_instance", &[("instance_id", &f.instance_id.to_string())]).await.unwrap();
    assert_eq!(detail.hosts.len(), 2);
    assert!(!detail.can_manage);
    app.stop().await;
}

/// The e-mission multi-tier layout as an operator's Ansible inventory.
const MULTI_TIER_INI: &str = r#"
# e-mission production, multi-tier (database reachable only from the webapp server)
[webapp]
emission-web.example.org ansible_user=emission

[database]
emission-db ansible_host=10.10.0.5 ansible_user=emission ansible_ssh_common_args='-o ProxyJump=emission@emission-web.example.org'

[analysis]
emission-analysis ansible_host=10.10.0.6 ansible_port=2222 ansible_user=emission ansible_ssh_common_args="-J emission-web.example.org"

[notebook]
emission-notebook ansible_host=10.10.0.7 ansible_user=jupyter

[eu:children]
webapp
database
analysis
notebook

[all:vars]
ansible_become_pass=hunter2
ntp_server=ntp.example.org
"#;

fn import_form<'a>(study: &'a str, text: &'a str, apply: &'a str) -> Vec<(&'static str, &'a str)> {
    vec![
        ("study_id", study),
        ("input[inventory]", text),
        ("input[instance]", "production"),
        ("input[stack]", "emission"),
        ("input[environment]", "production"),
        ("input[ssh_user]", "root"),
        ("input[apply]", apply),
    ]
}

async fn ansible_import_export_round_trip(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let first = study(&admin, "Pilot").await.to_string();

    // A malformed file names the line and imports nothing.
    let broken = format!("{MULTI_TIER_INI}\n[database\nx\n");
    let err = admin.call::<Value>("import_inventory", &import_form(&first, &broken, "true")).await.unwrap_err();
    assert_eq!(
        err.error.for_field("inventory").as_deref(),
        Some("line 25: section header \"[database\" is missing its closing ]")
    );
    let page: Page<InstanceSummary> = admin.call("list_instances", &[("query[page]", "0")]).await.unwrap();
    assert_eq!(page.total, 0);

    // Preview, then import.
    let preview: Value = admin.call("import_inventory", &import_form(&first, MULTI_TIER_INI, "false")).await.unwrap();
    assert_eq!(preview["applied"], false);
    assert_eq!(preview["instances"][0]["hosts"].as_array().unwrap().len(), 4);
    let skipped: Vec<String> =
        preview["skipped"].as_array().unwrap().iter().map(|s| format!("{}: {}", s["item"], s["reason"])).collect();
    assert!(
        skipped.iter().any(|s| s.contains("ansible_become_pass") && s.contains("secrets are not imported")),
        "{skipped:?}"
    );
    assert!(skipped.iter().any(|s| s.contains("variable ntp_server")), "{skipped:?}");
    let page: Page<InstanceSummary> = admin.call("list_instances", &[("query[page]", "0")]).await.unwrap();
    assert_eq!(page.total, 0, "a preview creates nothing");

    let report: Value = admin.call("import_inventory", &import_form(&first, MULTI_TIER_INI, "true")).await.unwrap();
    assert_eq!((report["instances_created"].as_u64(), report["hosts_created"].as_u64()), (Some(1), Some(4)));
    let page: Page<InstanceSummary> = admin.call("list_instances", &[("query[page]", "0")]).await.unwrap();
    let imported = &page.items[0];
    assert_eq!(
        (imported.name.as_str(), imported.stack.as_str(), imported.tags.clone()),
        ("production", "emission", vec!["eu".to_owned()])
    );
    let detail: InstanceDetail =
        admin.call("get_instance", &[("instance_id", &imported.id.to_string())]).await.unwrap();
    let db = detail.hosts.iter().find(|h| h.name == "emission-db").unwrap();
    assert_eq!(
        (db.address.as_str(), db.ssh_user.as_str(), db.roles.clone()),
        ("10.10.0.5", "emission", vec![HostRole::Database])
    );
    assert_eq!(db.jump_host.as_ref().unwrap().name, "emission-web");
    let analysis = detail.hosts.iter().find(|h| h.name == "emission-analysis").unwrap();
    assert_eq!((analysis.ssh_port, analysis.jump_host.as_ref().map(|j| j.name.as_str())), (2222, Some("emission-web")));

    // Importing again adds nothing and says so.
    let again: Value = admin.call("import_inventory", &import_form(&first, MULTI_TIER_INI, "true")).await.unwrap();
    assert_eq!(again["hosts_created"], 0);
    assert_eq!(again["skipped"].as_array().unwrap().iter().filter(|s| s["reason"] == "already in Steward").count(), 4);

    // Export, import into another study: the same instances and hosts.
    let yaml: String = admin.call("export_inventory", &[("study_id", &first)]).await.unwrap();
    assert!(yaml.contains("ProxyJump=emission@emission-web.example.org:22"), "{yaml}");
    let second = study(&admin, "Copy").await.to_string();
    let copy: Value = admin.call("import_inventory", &import_form(&second, &yaml, "true")).await.unwrap();
    assert_eq!(copy["hosts_created"], 4, "{copy}");
    let copied: Page<InstanceSummary> =
        admin.call("list_instances", &[("query[study]", "Copy"), ("query[page]", "0")]).await.unwrap();
    let copied_detail: InstanceDetail =
        admin.call("get_instance", &[("instance_id", &copied.items[0].id.to_string())]).await.unwrap();
    let shape = |d: &InstanceDetail| {
        let mut hosts: Vec<String> = d
            .hosts
            .iter()
            .map(|h| {
                let jump = h.jump_host.as_ref().map(|j| j.name.clone());
                format!("{} {}@{}:{} {:?} {jump:?}", h.name, h.ssh_user, h.address, h.ssh_port, h.roles)
            })
            .collect();
        hosts.sort();
        (
            d.instance.name.clone(),
            d.instance.stack.clone(),
            d.instance.environment.clone(),
            d.instance.tags.clone(),
            hosts,
        )
    };
    assert_eq!(shape(&copied_detail), shape(&detail));
    app.stop().await;
}
