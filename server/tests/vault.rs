//! The vault: SSH keys generated and imported, secrets never in responses, pages, logs or the
//! database file, master key rotation, and a wrong master key refused at start-up.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::zombie_processes)]

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Backend, Client, TestApp};
use steward::services::audit::Actor;
use steward_frontend::contract::{CredentialKind, CredentialSummary};

const BIN: &str = env!("CARGO_BIN_EXE_steward");
const CANARY: &str = "CANARY-db-password-7d1f9e";
const PASSPHRASE: &str = "CANARY-passphrase-4b2a";

on_both_backends!(keys_and_secrets, rotation_keeps_every_secret);

/// An OpenSSH ed25519 key protected by a passphrase, made by the real ssh-keygen.
fn protected_key() -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("id");
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", PASSPHRASE, "-C", "imported", "-f"])
        .arg(&path)
        .status()
        .expect("ssh-keygen (openssh-client) is needed");
    assert!(status.success());
    let fingerprint = Command::new("ssh-keygen").arg("-lf").arg(path.with_extension("pub")).output().unwrap();
    let fingerprint = String::from_utf8(fingerprint.stdout).unwrap().split_whitespace().nth(1).unwrap().to_owned();
    (std::fs::read_to_string(&path).unwrap(), fingerprint)
}

async fn keys_and_secrets(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let generated: CredentialSummary = admin.call("generate_ssh_key", &[("name", "steward")]).await.unwrap();
    assert!(generated.public_key.starts_with("ssh-ed25519 AAAA"), "{}", generated.public_key);
    assert!(generated.public_key.ends_with(" steward:steward"));
    assert!(generated.fingerprint.starts_with("SHA256:"));

    let (private, fingerprint) = protected_key();
    let wrong = admin
        .call::<CredentialSummary>(
            "import_ssh_key",
            &[("name", "lab"), ("private_key", &private), ("passphrase", "nope")],
        )
        .await
        .unwrap_err();
    assert_eq!(wrong.error.for_field("passphrase").as_deref(), Some("Wrong passphrase for this key"));
    let missing = admin
        .call::<CredentialSummary>("import_ssh_key", &[("name", "lab"), ("private_key", &private), ("passphrase", "")])
        .await
        .unwrap_err();
    assert!(missing.error.for_field("passphrase").is_some());
    let garbage = admin
        .call::<CredentialSummary>("import_ssh_key", &[("name", "lab"), ("private_key", "hello"), ("passphrase", "")])
        .await
        .unwrap_err();
    assert!(garbage.error.for_field("private_key").is_some());
    let imported: CredentialSummary = admin
        .call("import_ssh_key", &[("name", "lab"), ("private_key", &private), ("passphrase", PASSPHRASE)])
        .await
        .unwrap();
    assert_eq!(imported.fingerprint, fingerprint, "same fingerprint as ssh-keygen -l");

    let secret: CredentialSummary = admin
        .call("store_secret", &[("name", "emission-db"), ("kind", "database-password"), ("secret", CANARY)])
        .await
        .unwrap();
    assert_eq!(secret.kind, CredentialKind::DatabasePassword);
    assert!(secret.public_key.is_empty() && secret.fingerprint.is_empty());
    let dup = admin
        .call::<CredentialSummary>("store_secret", &[("name", "emission-db"), ("kind", "api-key"), ("secret", "x")])
        .await
        .unwrap_err();
    assert_eq!(dup.error.for_field("name").as_deref(), Some("A credential named \"emission-db\" already exists"));

    // The server can use the secrets...
    assert_eq!(app.state.vault.reveal(secret.id).await.unwrap().as_slice(), CANARY.as_bytes());
    let key = String::from_utf8(app.state.vault.reveal(imported.id).await.unwrap().to_vec()).unwrap();
    assert!(key.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----"));

    // ... but nothing sends them anywhere.
    let private_body = private.lines().nth(1).unwrap().to_owned();
    let mut seen = String::new();
    for path in ["/credentials", "/audit", "/instances", "/"] {
        seen += &admin.get(path).await.text().await.unwrap();
    }
    for endpoint in ["list_credentials", "audit_log"] {
        seen += &admin.call_raw(endpoint, &[("query[page]", "0")]).await.1;
    }
    for canary in [CANARY, PASSPHRASE, "PRIVATE KEY", private_body.as_str()] {
        assert!(!seen.contains(canary), "{canary:?} reached the browser");
    }
    app.stop().await;
}

async fn rotation_keeps_every_secret(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let secret: CredentialSummary =
        admin.call("store_secret", &[("name", "smtp"), ("kind", "smtp-password"), ("secret", CANARY)]).await.unwrap();
    let key: CredentialSummary = admin.call("generate_ssh_key", &[("name", "steward")]).await.unwrap();
    let before = String::from_utf8(app.state.vault.reveal(key.id).await.unwrap().to_vec()).unwrap();
    let key_file = app.state.config.master_key_path();
    let old_key = std::fs::read_to_string(&key_file).unwrap();

    let (new_id, count) = app.state.vault.rotate_key(&key_file, &Actor::cli()).await.unwrap();
    assert_eq!(count, 2);
    assert_ne!(std::fs::read_to_string(&key_file).unwrap(), old_key, "the key file holds the new key");
    assert!(!key_file.with_extension("key.new").exists());

    // A vault opened afresh with the new key reads everything back.
    let reopened = steward::services::vault::Vault::open(
        app.state.store.clone(),
        &key_file,
        app.state.clock.clone(),
        app.state.audit.clone(),
    )
    .await
    .unwrap();
    assert_eq!(reopened.key_id(), new_id);
    assert_eq!(reopened.reveal(secret.id).await.unwrap().as_slice(), CANARY.as_bytes());
    assert_eq!(String::from_utf8(reopened.reveal(key.id).await.unwrap().to_vec()).unwrap(), before);

    // The old key no longer fits: a clear error, not garbage.
    std::fs::write(&key_file, &old_key).unwrap();
    let err = steward::services::vault::Vault::open(
        app.state.store.clone(),
        &key_file,
        app.state.clock.clone(),
        app.state.audit.clone(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.setting, "master_key_file");
    assert!(err.problem.contains(&format!("but the vault was written with key {new_id}")), "{err}");
    let audit: serde_json::Value =
        admin.call("audit_log", &[("query[action]", "vault."), ("query[page]", "0")]).await.unwrap();
    assert_eq!(audit["items"][0]["action"], "vault.key_rotated");
    app.stop().await;
}

/// The binary: secrets stay out of the log and the database file; `vault rotate-key` works on
/// a stopped server; a wrong key file stops start-up with one line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_keeps_secrets_out_of_logs_and_refuses_a_wrong_key() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let log = dir.path().join("steward.log");
    let env = |cmd: &mut Command| {
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("STEWARD_STORAGE__DATA_DIR", dir.path())
            .env("STEWARD_SERVER__BIND", format!("127.0.0.1:{port}"))
            .env("STEWARD_LOG__LEVEL", "trace")
            .env("STEWARD_LOG__FORMAT", "json");
    };
    let mut serve = Command::new(BIN);
    env(&mut serve);
    let mut child =
        serve.arg("serve").stdout(Stdio::piped()).stderr(std::fs::File::create(&log).unwrap()).spawn().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while reqwest::get(format!("{base}/readyz")).await.is_err() {
        assert!(Instant::now() < deadline, "steward did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The setup token from stdout.
    let mut stdout = child.stdout.take().unwrap();
    let mut text = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&text).contains("token=") {
        let n = std::io::Read::read(&mut stdout, &mut buf).unwrap();
        text.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&text).into_owned();
    let token = text.split("token=").nth(1).unwrap().split_whitespace().next().unwrap().to_owned();
    let admin = Client::new(&base);
    let password = "correct horse battery staple";
    admin.complete_setup(&token, "admin", password, password).await.unwrap();
    admin
        .call::<CredentialSummary>("store_secret", &[("name", "db"), ("kind", "database-password"), ("secret", CANARY)])
        .await
        .unwrap();
    let fail = admin
        .call::<CredentialSummary>("store_secret", &[("name", "db"), ("kind", "database-password"), ("secret", CANARY)])
        .await;
    assert!(fail.is_err());
    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    child.wait().unwrap();

    let logs = std::fs::read_to_string(&log).unwrap();
    assert!(logs.contains("store_secret") || logs.contains("/api/"), "trace logs were written");
    assert!(!logs.contains(CANARY), "the secret reached the log");
    assert!(!logs.contains(password), "the password reached the log");
    assert!(!logs.contains(&token), "the setup token reached the log");
    let db = std::fs::read(dir.path().join("steward.db")).unwrap();
    let wal = std::fs::read(dir.path().join("steward.db-wal")).unwrap_or_default();
    for bytes in [&db, &wal] {
        assert!(!bytes.windows(CANARY.len()).any(|w| w == CANARY.as_bytes()), "plaintext secret in the database file");
    }

    // Rotation on the stopped server; then it starts with the new key.
    let mut rotate = Command::new(BIN);
    env(&mut rotate);
    let out = rotate.args(["vault", "rotate-key"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 secret(s) re-encrypted"));

    // A different key file: one clear line, exit 2.
    let other = tempfile::tempdir().unwrap();
    // A well-formed key, just not this vault's (32 bytes of 'A').
    std::fs::write(other.path().join("master.key"), "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=\n").unwrap();
    let mut wrong = Command::new(BIN);
    env(&mut wrong);
    let out = wrong
        .env("STEWARD_MASTER_KEY_FILE", other.path().join("master.key"))
        .env("STEWARD_SERVER__BIND", "127.0.0.1:0")
        .arg("serve")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let line = stderr.lines().find(|l| l.starts_with("error:")).unwrap();
    assert!(line.contains("master_key_file") && line.contains("but the vault was written with key"), "{line}");
}
