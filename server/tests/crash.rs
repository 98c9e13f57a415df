//! Pushes survive `kill -9` of a real `steward serve` at the worst moment, on SQLite and on
//! Postgres: after the new file is swapped in and before the service has reloaded it. The
//! log already says the file was written; the job and its host rows are marked interrupted;
//! the re-run finishes what was left (reload, health check), or takes the file back when the
//! health check fails; and nothing of the dead process is left behind (SSH masters, decrypted
//! keys).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::zombie_processes)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use common::fleet::FleetHost;
use common::process::free_port;
use common::{Backend, Client};
use steward_frontend::contract::{CredentialSummary, JobDetail, JobSummary};

/// A stack whose reload waits until the test creates `go`, then "serves" the file by copying
/// it to `served`; healthy when `served` holds the expected text.
const STACK: &str = r#"
name = "slow"
title = "Reloads when told"
[[settings]]
name = "dir"
type = "path"
required = true
[[settings]]
name = "text"
type = "string"
required = true
[[settings]]
name = "expect"
type = "string"
required = true
[[files]]
path = "{{ settings.dir }}/site.conf"
template = "site.j2"
services = ["site"]
[[services]]
name = "site"
reload = ["sh", "-c", "while [ ! -e \"$1\" ]; do sleep 0.1; done; cp \"$2\" \"$3\"", "reload", "{{ settings.dir }}/go", "{{ settings.dir }}/site.conf", "{{ settings.dir }}/served"]
[[health]]
command = ["grep", "-q", "{{ settings.expect }}", "{{ settings.dir }}/served"]
retries = 2
interval_secs = 1
"#;

struct Server {
    child: Child,
    base: String,
    setup_token: Option<String>,
}

/// Starts `steward serve`; with `fresh`, waits for the setup link it prints on an empty database.
fn start(data_dir: &Path, database: &str, fresh: bool) -> Server {
    let port = free_port();
    let (child, lines) = common::process::serve(data_dir, port, fresh.then_some("token="), |command| {
        // On Postgres a job is taken for dead when its lease runs out (other replicas may run).
        command.env("STEWARD_DATABASE__URL", database).env("STEWARD_JOBS__LEASE_SECS", "4");
    });
    let setup_token = lines.iter().find_map(|line| Some(line.split("token=").nth(1)?.trim().to_owned()));
    Server { child, base: format!("http://127.0.0.1:{port}"), setup_token }
}

impl Server {
    fn kill_9(&mut self) -> u32 {
        let pid = self.child.id();
        Command::new("kill").args(["-KILL", &pid.to_string()]).status().unwrap();
        self.child.wait().unwrap();
        pid
    }

    fn stop(mut self) {
        Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        self.child.wait().unwrap();
    }
}

/// A story that fails half-way leaves no server running (one already waited for is left be).
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn wait_for<T>(what: &str, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn job(client: &Client, id: i64) -> JobDetail {
    client.call("get_job", &[("job_id", &id.to_string())]).await.unwrap()
}

/// The re-run Steward queued for an interrupted job, once it has finished.
async fn finished_rerun(client: &Client, interrupted: i64) -> JobDetail {
    let rerun = wait_for("the interrupted push is run again", async || {
        let page: serde_json::Value = client.call("list_jobs", &[("query[page]", "0")]).await.unwrap();
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|j| j["requested_by"] == format!("rerun of job {interrupted}"))
            .map(|j| j["id"].as_i64().unwrap())
    })
    .await;
    wait_for("the re-run finishes", async || Some(job(client, rerun).await).filter(|d| d.job.finished())).await
}

/// Whether a process of `user` runs a command line containing `text`.
fn runs(user: &str, text: &str) -> bool {
    Command::new("pgrep").args(["-u", user, "-f", text]).output().unwrap().status.success()
}

fn ssh_processes_mentioning(text: &str) -> bool {
    Command::new("pgrep").args(["-f", &format!("ssh.*{text}")]).output().unwrap().status.success()
}

async fn save(client: &Client, instance: &str, dir: &Path, text: &str, expect: &str) {
    let dir = dir.display().to_string();
    let form = [
        ("input[instance_id]", instance),
        ("input[message]", text),
        ("input[values][dir]", dir.as_str()),
        ("input[values][text]", text),
        ("input[values][expect]", expect),
    ];
    client.call::<serde_json::Value>("save_settings", &form).await.unwrap();
}

async fn push(client: &Client, instance: &str) -> i64 {
    client.call::<JobSummary>("push_config", &[("input[instance_id]", instance)]).await.unwrap().id
}

on_both_backends!(a_push_killed_between_swap_and_reload_is_finished_or_taken_back);

async fn a_push_killed_between_swap_and_reload_is_finished_or_taken_back(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let folder = data.path().join("stacks/slow");
    std::fs::create_dir_all(folder.join("templates")).unwrap();
    std::fs::write(folder.join("stack.toml"), STACK).unwrap();
    std::fs::write(folder.join("templates/site.j2"), "{{ settings.text }}\n").unwrap();
    let (database, pg_name) = match backend {
        Backend::Sqlite => (format!("sqlite://{}/steward.db", data.path().display()), None),
        Backend::Postgres => {
            let name = format!("steward_test_{}", uuid::Uuid::new_v4().simple());
            common::admin_sql(&format!("CREATE DATABASE {name}")).await;
            let base = common::postgres_admin_url();
            (format!("{}/{name}", base.rsplit_once('/').unwrap().0), Some(name))
        }
    };

    let mut server = start(data.path(), &database, true);
    let admin = Client::new(&server.base);
    let token = server.setup_token.clone().unwrap();
    let password = common::ADMIN_PASSWORD;
    admin.complete_setup(&token, "admin", password, password).await.unwrap();
    let key: CredentialSummary = admin.call("generate_ssh_key", &[("name", "steward")]).await.unwrap();
    let host = FleetHost::start(&key.public_key);
    let study: serde_json::Value =
        admin.call("create_study", &[("name", "Crash"), ("description", ""), ("contact", "")]).await.unwrap();
    let instance: serde_json::Value = admin
        .call(
            "create_instance",
            &[
                ("study_id", &study["id"].to_string()),
                ("input[name]", "site"),
                ("input[stack]", "slow"),
                ("input[environment]", "production"),
            ],
        )
        .await
        .unwrap();
    let instance = instance["id"].to_string();
    let (port, credential) = (host.port.to_string(), key.id.to_string());
    let mut form = common::host_form(&instance, "web", "web", "127.0.0.1", &credential, "");
    form[4].1 = &port;
    form[5].1 = &host.user;
    let added: serde_json::Value = admin.call("add_host", &form).await.unwrap();
    let host_id = added["id"].to_string();
    admin.call::<serde_json::Value>("scan_host_key", &[("host_id", &host_id)]).await.unwrap();
    admin.call::<()>("pin_host_key", &[("host_id", &host_id), ("fingerprint", &host.fingerprint())]).await.unwrap();

    let dir: PathBuf = host.home.join("site");
    host.run_as_user(&["mkdir", "-p", dir.to_str().unwrap()]);
    let go = dir.join("go");
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap_or_default();
    host.run_as_user(&["touch", go.to_str().unwrap()]);
    save(&admin, &instance, &dir, "v1", "v1").await;
    let first = push(&admin, &instance).await;
    let done = wait_for("the first push", async || Some(job(&admin, first).await).filter(|d| d.job.finished())).await;
    assert_eq!(done.job.state, "succeeded", "{:?}", done.log);
    assert_eq!(read("served"), "v1\n");

    // Twice: once the re-run finishes the push, once its health check fails and it takes the
    // file back.
    let mut admin = admin;
    for (text, expect, outcome) in [("v2", "v2", "succeeded"), ("v3", "never-served", "failed")] {
        std::fs::remove_file(&go).unwrap();
        save(&admin, &instance, &dir, text, expect).await;
        let killed_job = push(&admin, &instance).await;
        wait_for("the reload waits for its go", async || runs(&host.user, "while \\[ ! -e").then_some(())).await;
        assert_eq!(read("site.conf"), format!("{text}\n"), "swapped in");
        let old_pid = server.kill_9();
        let runtime = data.path().join("run").join(format!("p{old_pid}"));
        assert!(runtime.exists(), "the dead process left its connection files");
        let marker = runtime.display().to_string();
        assert!(ssh_processes_mentioning(&marker), "and its SSH master");
        let served_before = read("served");

        server = start(data.path(), &database, false);
        admin = Client::new(&server.base);
        admin.login("admin", password).await.unwrap();
        assert!(!runtime.exists(), "start-up removed the dead process's connection files");
        assert!(!ssh_processes_mentioning(&marker), "and closed its SSH master");
        let killed = wait_for("the killed push is marked interrupted", async || {
            Some(job(&admin, killed_job).await).filter(|d| d.job.state != "running")
        })
        .await;
        assert_eq!(killed.job.state, "interrupted");
        assert!(killed.hosts.iter().all(|h| h.state == "interrupted"), "{:?}", killed.hosts);
        assert!(
            killed.log.iter().any(|l| l.line.ends_with("site.conf: written")),
            "the log says the file was swapped: {:?}",
            killed.log
        );

        host.run_as_user(&["touch", go.to_str().unwrap()]);
        let rerun = finished_rerun(&admin, killed_job).await;
        assert_eq!(rerun.job.state, outcome, "{:?}", rerun.log);
        assert!(rerun.log.iter().any(|l| l.line.contains("did not finish, to check and reload")), "{:?}", rerun.log);
        if outcome == "succeeded" {
            assert_eq!(read("served"), format!("{text}\n"), "the re-run reloaded the new file");
        } else {
            assert!(
                rerun.hosts[0].message.contains("the previous files were restored and are healthy"),
                "{:?}",
                rerun.hosts
            );
            assert_eq!(read("site.conf"), served_before, "the file that failed its health check was taken back");
            assert_eq!(read("served"), served_before);
        }
    }
    server.stop();
    if let Some(name) = pg_name {
        common::admin_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
    }
}
