//! SSH and the agent against real sshd hosts (loopback, and network namespaces for a host
//! behind a jump host): strict host keys from first contact, a changed key refused and
//! flagged, a stopped host reported, facts that match what the host itself says, atomic
//! writes that survive a killed agent, and arguments that reach programs byte for byte.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::fleet::FleetHost;
use common::{Backend, Client, TestApp, host_form, study_with_key};
use serde_json::Value;
use steward::services::audit::Actor;
use steward::services::ssh::{AgentErrorKind, SshFailure};
use steward_agent::{ExecRequest, Request, Stream, WriteFileRequest};
use steward_frontend::contract::{CredentialSummary, HostHealth};
use tokio_util::sync::CancellationToken;

/// A study with one instance, and Steward's SSH key.
struct Setup {
    admin: Client,
    key: CredentialSummary,
    instance_id: String,
}

async fn setup(app: &TestApp) -> Setup {
    let admin = app.admin().await;
    let (key, instance_id) = study_with_key(&admin, "Fleet").await;
    Setup { admin, key, instance_id }
}

impl Setup {
    async fn add_host(&self, name: &str, fleet: &FleetHost, jump: Option<i64>) -> i64 {
        let (port, jump) = (fleet.port.to_string(), jump.map(|j| j.to_string()).unwrap_or_default());
        let credential = self.key.id.to_string();
        let mut form = host_form(&self.instance_id, name, "web", &fleet.address, &credential, &jump);
        form[4].1 = &port;
        form[5].1 = &fleet.user;
        let host: Value = self.admin.call("add_host", &form).await.unwrap();
        host["id"].as_i64().unwrap()
    }

    /// Adds the host and trusts the key it presents, checked against the host's own.
    async fn add_trusted_host(&self, app: &TestApp, name: &str, fleet: &FleetHost, jump: Option<i64>) -> i64 {
        let id = self.add_host(name, fleet, jump).await;
        let scanned = app.state.ssh.scan(&Actor::cli(), id).await.unwrap();
        assert!(scanned.iter().any(|k| k.fingerprint == fleet.fingerprint()), "the scan shows the host's real key");
        app.state.ssh.pin(&Actor::cli(), id, &fleet.fingerprint()).await.unwrap();
        id
    }
}

async fn check(admin: &Client, host_id: i64) -> HostHealth {
    admin.call("check_host", &[("host_id", &host_id.to_string())]).await.unwrap()
}

on_both_backends!(strict_host_keys_from_first_contact, repointing_a_host_drops_its_trust_and_keys_are_per_study);

async fn strict_host_keys_from_first_contact(backend: Backend) {
    let app = TestApp::start(backend).await;
    let setup = setup(&app).await;
    let mut fleet = FleetHost::start(&setup.key.public_key);
    let host_id = setup.add_host("web", &fleet, None).await;
    let ssh = &app.state.ssh;

    // First contact: nothing is trusted until a fingerprint is confirmed.
    let unknown = check(&setup.admin, host_id).await;
    assert_eq!(unknown.state, "host-key-unknown");
    assert!(unknown.message.contains("scan it and confirm its fingerprint"), "{}", unknown.message);
    let scanned = ssh.scan(&Actor::cli(), host_id).await.unwrap();
    assert!(scanned.iter().any(|k| k.fingerprint == fleet.fingerprint()), "scan shows the host's real key");
    let wrong = ssh.pin(&Actor::cli(), host_id, "SHA256:not-the-key").await.unwrap_err();
    assert!(wrong.for_field("fingerprint").is_some());
    ssh.pin(&Actor::cli(), host_id, &fleet.fingerprint()).await.unwrap();
    let reachable = check(&setup.admin, host_id).await;
    assert_eq!(reachable.state, "reachable", "{}", reachable.message);
    assert!(!reachable.os.is_empty() && !reachable.mounts.is_empty(), "facts arrived: {reachable:?}");
    assert_eq!(app.state.store.host_key_status(host_id).await.unwrap(), "pinned");
    assert_eq!(ssh.open_connections(), 1, "the connection stays open in the pool");

    // A new host key is refused, the host flagged, and an event recorded for the alerts.
    fleet.swap_host_key();
    let changed = check(&setup.admin, host_id).await;
    assert_eq!(changed.state, "host-key-changed");
    assert!(changed.message.contains("different host key"), "{}", changed.message);
    assert_eq!(app.state.store.host_key_status(host_id).await.unwrap(), "changed");
    let audit: Value =
        setup.admin.call("audit_log", &[("query[action]", "host.key_changed"), ("query[page]", "0")]).await.unwrap();
    assert_eq!(audit["total"], 1);
    let events = app.state.store.events_of_host(host_id).await.unwrap();
    assert!(events.iter().any(|e| e.kind == "host.key_changed" && e.severity == "critical"), "{events:?}");
    let detail: Value = setup.admin.call("get_host", &[("host_id", &host_id.to_string())]).await.unwrap();
    assert_eq!(detail["health"]["state"], "host-key-changed");
    assert!(detail["health"]["os"].as_str().unwrap() != "", "the last facts are kept through a failed check");

    // Replacing the pinned key is an explicit act; then it works again.
    ssh.scan(&Actor::cli(), host_id).await.unwrap();
    ssh.pin(&Actor::cli(), host_id, &fleet.fingerprint()).await.unwrap();
    assert_eq!(check(&setup.admin, host_id).await.state, "reachable");
    let detail: Value = setup.admin.call("get_host", &[("host_id", &host_id.to_string())]).await.unwrap();
    assert_eq!(detail["key_status"], "pinned");
    assert!(
        detail["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["pinned"] == true && k["fingerprint"] == fleet.fingerprint())
    );

    // A host that goes down (sshd and its sessions gone) is reported as refusing connections,
    // though its pooled connection was open a moment ago.
    fleet.stop();
    let down = check(&setup.admin, host_id).await;
    assert_eq!(down.state, "refused", "{}", down.message);
    assert!(down.message.contains("refused the connection"), "{}", down.message);
    let events = app.state.store.events_of_host(host_id).await.unwrap();
    assert!(events.iter().any(|e| e.kind == "host.unreachable"), "{events:?}");
    let instances: Value = setup.admin.call("list_instances", &[("query[page]", "0")]).await.unwrap();
    assert_eq!(instances["items"][0]["fleet"]["failing"], 1);
    app.stop().await;
}

async fn repointing_a_host_drops_its_trust_and_keys_are_per_study(backend: Backend) {
    let app = TestApp::start(backend).await;
    let setup = setup(&app).await;
    let fleet = FleetHost::start(&setup.key.public_key);
    // Another account on the same machine (same sshd host key... a second test host here).
    let other = FleetHost::start(&setup.key.public_key);
    let host_id = setup.add_trusted_host(&app, "web", &fleet, None).await;
    assert_eq!(check(&setup.admin, host_id).await.state, "reachable");

    // A study admin of the study re-points the host to the other account.
    let detail: Value = setup.admin.call("get_instance", &[("instance_id", &setup.instance_id)]).await.unwrap();
    let study = detail["instance"]["study_id"].to_string();
    let study_admin = common::member_with_role(&app, &setup.admin, &study, "keeper", "study-admin").await;
    let (port, credential) = (other.port.to_string(), setup.key.id.to_string());
    let host = host_id.to_string();
    let form = |user| {
        let mut form = host_form("", "web", "web", "127.0.0.1", &credential, "");
        form[0] = ("host_id", &host);
        form[4].1 = &port;
        form[5].1 = user;
        form
    };
    let user = other.user.as_str();
    study_admin.call::<Value>("update_host", &form(user)).await.unwrap();
    // The pin belonged to the old address and account: nothing runs until it is trusted again.
    assert_eq!(app.state.store.host_key_status(host_id).await.unwrap(), "unknown");
    let refused = check(&setup.admin, host_id).await;
    assert_eq!(refused.state, "host-key-unknown", "{}", refused.message);
    let audit: Value =
        setup.admin.call("audit_log", &[("query[action]", "host.repointed"), ("query[page]", "0")]).await.unwrap();
    assert_eq!(audit["total"], 1, "{audit}");
    app.state.ssh.scan(&Actor::cli(), host_id).await.unwrap();
    app.state.ssh.pin(&Actor::cli(), host_id, &other.fingerprint()).await.unwrap();
    assert_eq!(check(&setup.admin, host_id).await.state, "reachable");
    // A change that does not re-point it (its name) keeps the trust.
    let mut rename = form(user);
    rename[1].1 = "web-renamed";
    study_admin.call::<Value>("update_host", &rename).await.unwrap();
    assert_eq!(app.state.store.host_key_status(host_id).await.unwrap(), "pinned");

    // SSH keys are shared with studies: a study admin picks only those shared with theirs.
    let spare: CredentialSummary = setup.admin.call("generate_ssh_key", &[("name", "spare")]).await.unwrap();
    let spare_id = spare.id.to_string();
    let mut with_spare = form(user);
    with_spare[6].1 = &spare_id;
    let refused = study_admin.call::<Value>("update_host", &with_spare).await.unwrap_err();
    assert!(refused.error.for_field("credential").is_some_and(|m| m.contains("not shared")), "{:?}", refused.error);
    let choices: Value = study_admin.call("get_instance", &[("instance_id", &setup.instance_id)]).await.unwrap();
    assert!(!choices["ssh_keys"].as_array().unwrap().iter().any(|k| k["name"] == "spare"), "{choices}");
    // An admin shares it; now the study admin may choose it.
    setup
        .admin
        .call::<()>("share_credential", &[("credential_id", &spare_id), ("study_id", &study), ("shared", "true")])
        .await
        .unwrap();
    study_admin.call::<Value>("update_host", &with_spare).await.unwrap();
    let keys: Vec<CredentialSummary> = setup.admin.call("list_credentials", &[]).await.unwrap();
    let spare = keys.iter().find(|k| k.name == "spare").unwrap();
    assert_eq!(spare.studies.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["Fleet"]);
    // A key in use stays shared.
    let err = setup
        .admin
        .call::<()>("share_credential", &[("credential_id", &spare_id), ("study_id", &study), ("shared", "false")])
        .await
        .unwrap_err();
    assert!(err.error.to_string().contains("used by 1 host"), "{:?}", err.error);
    app.stop().await;
}

#[tokio::test]
async fn facts_match_what_the_host_says() {
    let app = TestApp::start(Backend::Sqlite).await;
    let setup = setup(&app).await;
    let fleet = FleetHost::start(&setup.key.public_key);
    let host_id = setup.add_trusted_host(&app, "web", &fleet, None).await;
    let health = check(&setup.admin, host_id).await;
    assert_eq!(health.state, "reachable", "{}", health.message);

    assert_eq!(health.kernel, fleet.run_as_user(&["uname", "-r"]).trim());
    assert_eq!(health.hostname, fleet.run_as_user(&["uname", "-n"]).trim());
    assert_eq!(health.cpus.to_string(), fleet.run_as_user(&["nproc"]).trim());
    let df = fleet.run_as_user(&["df", "-B1", "--output=target,size,used,avail,pcent", "/"]);
    let row: Vec<&str> = df.lines().nth(1).unwrap().split_whitespace().collect();
    let root = health.mounts.iter().find(|m| m.path == "/").expect("the root mount is reported");
    assert_eq!(root.total_bytes.to_string(), row[1], "size as df reports it");
    let close = |ours: u64, theirs: &str| ours.abs_diff(theirs.parse::<u64>().unwrap()) < 256 * 1024 * 1024;
    assert!(close(root.used_bytes, row[2]) && close(root.available_bytes, row[3]), "{root:?} vs {row:?}");
    let os_release = std::fs::read_to_string("/etc/os-release").unwrap();
    assert!(os_release.contains(&format!("PRETTY_NAME=\"{}\"", health.os)), "{}", health.os);
    // Same machine, so the clocks agree (within the round trip).
    assert!(health.clock_offset_ms.unwrap().abs() < 1000, "{:?}", health.clock_offset_ms);
    assert!(health.memory_total_bytes > 0 && health.memory_available_bytes <= health.memory_total_bytes);

    // Watched certificates report their expiry; a missing file says so; bad input is refused.
    let cert = fleet.home.join("site.pem").display().to_string();
    let key = fleet.home.join("site.key").display().to_string();
    fleet.run_as_user(&[
        "openssl",
        "req",
        "-x509",
        "-newkey",
        "ed25519",
        "-nodes",
        "-days",
        "10",
        "-subj",
        "/CN=study.example.org",
        "-keyout",
        &key,
        "-out",
        &cert,
    ]);
    let hid = host_id.to_string();
    let refused = setup
        .admin
        .call::<()>("set_host_watch", &[("host_id", &hid), ("certificates", "site.pem"), ("units", "")])
        .await
        .unwrap_err();
    assert!(refused.error.for_field("certificates").is_some(), "{}", refused.error);
    let missing = fleet.home.join("gone.pem").display().to_string();
    let certificates = format!("{cert}\n\n{missing}\n");
    setup
        .admin
        .call::<()>(
            "set_host_watch",
            &[("host_id", &hid), ("certificates", &certificates), ("units", "no-such.service")],
        )
        .await
        .unwrap();
    let health = check(&setup.admin, host_id).await;
    let site = health.certificates.iter().find(|c| c.source == cert).expect("the certificate is reported");
    assert_eq!(site.subject, "CN=study.example.org");
    let days = (site.not_after.unwrap() - chrono::Utc::now()).num_days();
    assert!((9..=10).contains(&days), "{days} days");
    let gone = health.certificates.iter().find(|c| c.source == missing).unwrap();
    assert!(gone.error.as_deref().unwrap().contains("cannot read"), "{gone:?}");
    let unit = health.units.iter().find(|u| u.name == "no-such.service").expect("the unit is reported");
    assert!(!unit.healthy);
    app.stop().await;
}

#[tokio::test]
async fn a_host_behind_a_jump_host() {
    let app = TestApp::start(Backend::Sqlite).await;
    let setup = setup(&app).await;
    let (jump, hidden) = FleetHost::start_jump_pair(&setup.key.public_key);
    let jump_id = setup.add_trusted_host(&app, "bastion", &jump, None).await;

    // Steward itself has no route to the hidden host.
    let direct = setup.add_host("direct", &hidden, None).await;
    let refused = setup.admin.call::<Value>("scan_host_key", &[("host_id", &direct.to_string())]).await.unwrap_err();
    assert!(refused.error.to_string().contains("presented no host key"), "{}", refused.error);

    // Through the jump host: its key is fetched and trusted, then facts come back.
    let hidden_id = setup.add_trusted_host(&app, "db", &hidden, Some(jump_id)).await;
    let health = check(&setup.admin, hidden_id).await;
    assert_eq!(health.state, "reachable", "{}", health.message);
    assert_eq!(app.state.store.host_key_status(hidden_id).await.unwrap(), "pinned");

    // A changed key on the hidden host flags that host, not the jump host.
    let mut hidden = hidden;
    hidden.swap_host_key();
    app.state.ssh.close_all().await;
    assert_eq!(check(&setup.admin, hidden_id).await.state, "host-key-changed");
    assert_eq!(app.state.store.host_key_status(hidden_id).await.unwrap(), "changed");
    assert_eq!(app.state.store.host_key_status(jump_id).await.unwrap(), "pinned");
    app.stop().await;
}

#[tokio::test]
async fn the_agent_runs_commands_and_writes_files_safely() {
    let app = TestApp::start(Backend::Sqlite).await;
    let setup = setup(&app).await;
    let fleet = FleetHost::start(&setup.key.public_key);
    let host_id = setup.add_trusted_host(&app, "web", &fleet, None).await;
    let ssh = &app.state.ssh;
    let mut agent = ssh.agent(host_id).await.unwrap();
    let none = CancellationToken::new();
    let exec = |argv: &[&str], timeout_secs| ExecRequest {
        argv: argv.iter().map(|a| (*a).to_owned()).collect(),
        stdin: None,
        cwd: None,
        env: vec![],
        timeout_secs,
    };

    // Text full of shell metacharacters arrives as one argument, byte for byte.
    let hostile = "a'b\"c $(touch /tmp/pwned) `id` ; rm -rf ~ | & > x < y \\ * ? [z] {1,2} ~ # \n\t é 🦀 $HOME";
    let mut stdout = String::new();
    let exited = agent
        .exec(
            exec(&["printf", "%s", hostile], 10),
            |s, d| {
                if s == Stream::Stdout {
                    stdout.push_str(d)
                }
            },
            &none,
        )
        .await
        .unwrap();
    assert!(exited.success());
    assert_eq!(stdout, hostile);
    assert!(!std::path::Path::new("/tmp/pwned").exists());

    // Distinct errors for a missing program and a failing one.
    let missing = agent.exec(exec(&["no-such-program-here"], 10), |_, _| {}, &none).await.unwrap_err();
    assert!(matches!(missing, SshFailure::CommandNotFound(ref m) if m.contains("no-such-program-here")), "{missing}");
    let failed = agent.exec(exec(&["sh", "-c", "echo oops >&2; exit 3"], 10), |_, _| {}, &none).await.unwrap();
    assert_eq!(failed.code, Some(3));

    // A timeout kills the program.
    let slow = agent.exec(exec(&["sleep", "30"], 1), |_, _| {}, &none).await.unwrap();
    assert!(slow.timed_out && !slow.success());

    // Cancelling stops the program on the host: no process is left.
    let cancel = CancellationToken::new();
    let stopper = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        stopper.cancel();
    });
    let cancelled = agent.exec(exec(&["sh", "-c", "sleep 300; echo never"], 600), |_, _| {}, &cancel).await.unwrap();
    assert!(cancelled.cancelled);
    let left = std::process::Command::new("pgrep").args(["-u", &fleet.user, "-f", "sleep 300"]).output().unwrap();
    assert!(left.stdout.is_empty(), "the cancelled program is gone");

    // Writes are atomic, keep the previous version, and refuse a file that changed meanwhile.
    let path = fleet.home.join("app.conf").display().to_string();
    assert!(agent.read_file(&path).await.unwrap().is_none());
    let write = |expect_current: Option<String>| WriteFileRequest {
        path: path.clone(),
        size: 0,
        sha256: String::new(),
        mode: Some(0o640),
        owner: None,
        group: None,
        expect_current,
        keep_previous: true,
    };
    let first = agent.write_file(write(Some(String::new())), b"listen 80;\n").await.unwrap();
    assert!(first.previous_sha256.is_none());
    let second = agent.write_file(write(Some(first.sha256.clone())), b"listen 8080;\n").await.unwrap();
    assert_eq!(second.previous_sha256.as_deref(), Some(first.sha256.as_str()));
    let (content, meta) = agent.read_file(&path).await.unwrap().unwrap();
    assert_eq!(content, b"listen 8080;\n");
    assert_eq!(meta.mode, 0o640);
    assert_eq!(std::fs::read_to_string(format!("{path}.steward-previous")).unwrap(), "listen 80;\n");
    let stale = agent.write_file(write(Some(first.sha256.clone())), b"lost update\n").await.unwrap_err();
    assert!(matches!(stale, SshFailure::Agent { kind: AgentErrorKind::Changed, .. }), "{stale}");
    drop(agent);

    // The agent killed half-way through a write leaves the old file whole.
    let mut agent = ssh.agent(host_id).await.unwrap();
    let size = 8 * 1024 * 1024;
    agent
        .send_raw(&Request::WriteFile(WriteFileRequest {
            size,
            sha256: "0".repeat(64),
            expect_current: None,
            ..write(None)
        }))
        .await
        .unwrap();
    use base64::Engine;
    let chunk = base64::engine::general_purpose::STANDARD.encode(vec![b'x'; 256 * 1024]);
    agent.send_raw(&Request::Chunk { data: chunk }).await.unwrap();
    let temp = fleet.home.join(".app.conf.steward-tmp-");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let partial = loop {
        let found = std::fs::read_dir(&fleet.home).unwrap().flatten().find(|e| {
            e.path().display().to_string().starts_with(&temp.display().to_string())
                && e.metadata().map(|m| m.len() > 0).unwrap_or(false)
        });
        if let Some(found) = found {
            break found.path();
        }
        assert!(std::time::Instant::now() < deadline, "the agent never started writing");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let killed =
        std::process::Command::new("pkill").args(["-KILL", "-u", &fleet.user, "-f", "agent-"]).status().unwrap();
    assert!(killed.success());
    drop(agent);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "listen 8080;\n", "the old file is intact");

    // The next write works and clears what the killed agent left behind.
    let mut agent = ssh.agent(host_id).await.unwrap();
    let current = agent.read_file(&path).await.unwrap().unwrap().1.sha256;
    agent.write_file(write(Some(current)), b"listen 9090;\n").await.unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "listen 9090;\n");
    assert!(!partial.exists(), "the killed agent's temporary file was removed");
    drop(agent);

    // `steward host forget` leaves nothing of Steward's on the host.
    let agents = fleet.home.join(".cache/steward");
    assert!(
        std::fs::read_dir(&agents).unwrap().flatten().any(|e| e.file_name().to_string_lossy().starts_with("agent-"))
    );
    assert_eq!(ssh.forget(host_id).await, None);
    assert!(!agents.exists(), "the agent was removed");
    assert_eq!(ssh.open_connections(), 0);
    app.stop().await;
}
