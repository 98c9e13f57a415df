//! SSH with strict host keys against real sshd hosts on loopback, on SQLite and Postgres:
//! first contact needs a confirmed fingerprint, a changed key is refused and flagged, a
//! stopped host is reported as such.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::fleet::FleetHost;
use common::{Backend, TestApp, host_form};
use serde_json::Value;
use steward::services::audit::Actor;
use steward::services::ssh::SshFailure;
use steward_frontend::contract::CredentialSummary;

on_both_backends!(strict_host_keys_from_first_contact);

async fn strict_host_keys_from_first_contact(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let key: CredentialSummary = admin.call("generate_ssh_key", &[("name", "steward")]).await.unwrap();
    let mut fleet = FleetHost::start(&key.public_key);

    let study: Value =
        admin.call("create_study", &[("name", "Fleet"), ("description", ""), ("contact", "")]).await.unwrap();
    let instance: Value = admin
        .call(
            "create_instance",
            &[
                ("study_id", &study["id"].to_string()),
                ("input[name]", "prod"),
                ("input[stack]", "generic"),
                ("input[environment]", "production"),
            ],
        )
        .await
        .unwrap();
    let mut form = host_form(&instance["id"].to_string(), "web", "web", "127.0.0.1", &key.id.to_string(), "")
        .into_iter()
        .map(|(k, v)| (k, v.to_owned()))
        .collect::<Vec<_>>();
    form[4].1 = fleet.port.to_string();
    form[5].1 = fleet.user.clone();
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let host: Value = admin.call("add_host", &pairs).await.unwrap();
    let host_id = host["id"].as_i64().unwrap();
    let ssh = &app.state.ssh;

    // First contact: nothing is trusted until a fingerprint is confirmed.
    assert_eq!(ssh.check(host_id).await, Err(SshFailure::HostKeyUnknown));
    let scanned = ssh.scan(&Actor::cli(), host_id).await.unwrap();
    assert!(scanned.iter().any(|k| k.fingerprint == fleet.fingerprint()), "scan shows the host's real key");
    let wrong = ssh.pin(&Actor::cli(), host_id, "SHA256:not-the-key").await.unwrap_err();
    assert!(wrong.for_field("fingerprint").is_some());
    ssh.pin(&Actor::cli(), host_id, &fleet.fingerprint()).await.unwrap();
    ssh.check(host_id).await.unwrap();
    assert_eq!(app.state.store.host_key_status(host_id).await.unwrap(), "pinned");

    // A new host key is refused and the host flagged.
    fleet.swap_host_key();
    assert_eq!(ssh.check(host_id).await, Err(SshFailure::HostKeyChanged));
    assert_eq!(app.state.store.host_key_status(host_id).await.unwrap(), "changed");
    let audit: Value =
        admin.call("audit_log", &[("query[action]", "host.key_changed"), ("query[page]", "0")]).await.unwrap();
    assert_eq!(audit["total"], 1);

    // Replacing the pinned key is an explicit act; then it works again.
    ssh.scan(&Actor::cli(), host_id).await.unwrap();
    ssh.pin(&Actor::cli(), host_id, &fleet.fingerprint()).await.unwrap();
    ssh.check(host_id).await.unwrap();

    // The same through the API, as the host page uses it.
    let hid = host_id.to_string();
    let ok: String = admin.call("check_host", &[("host_id", &hid)]).await.unwrap();
    assert!(ok.contains("reached the host"), "{ok}");
    let detail: Value = admin.call("get_host", &[("host_id", &hid)]).await.unwrap();
    assert_eq!(detail["key_status"], "pinned");
    assert!(
        detail["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["pinned"] == true && k["fingerprint"] == fleet.fingerprint())
    );

    // A stopped host is reported as refusing connections, with a message that says so.
    fleet.stop();
    assert_eq!(ssh.check(host_id).await, Err(SshFailure::ConnectionRefused));
    let refused = admin.call::<String>("check_host", &[("host_id", &hid)]).await.unwrap_err();
    assert_eq!(refused.status.as_u16(), 502);
    assert!(refused.error.to_string().contains("refused the connection"), "{}", refused.error);
    app.stop().await;
}
