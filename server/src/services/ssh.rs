//! SSH to hosts, always with strict host-key checking. Host keys live in the database: a scan
//! offers the keys a host presents, an admin pins one by its SHA256 fingerprint, and every
//! connection writes the pinned keys to a private known_hosts file and refuses anything else.
//! A host that presents another key is flagged "host key changed" and audited.
//!
//! Connections use the system `ssh` (through the `openssh` crate), never a shell on this side;
//! remote commands are argument vectors.

use std::path::{Path, PathBuf};
use std::time::Duration;

use openssh::{KnownHosts, SessionBuilder};
use ssh_key::{HashAlg, PublicKey};
use steward_frontend::contract::AppError;

use crate::clock::SharedClock;
use crate::services::audit::{Actor, Audit};
use crate::services::vault::Vault;
use crate::store::{HostRow, Store, StoreError};
use crate::web::error::{from_store, internal};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why Steward could not reach a host, in terms an admin can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SshFailure {
    #[error("no host key is pinned for this host yet: scan it and confirm its fingerprint")]
    HostKeyUnknown,
    #[error(
        "the host presented a different host key than the pinned one; Steward refuses to connect until an admin replaces the pinned key"
    )]
    HostKeyChanged,
    #[error("the host refused the connection (is sshd running on that port?)")]
    ConnectionRefused,
    #[error("the host cannot be reached: {0}")]
    Unreachable(String),
    #[error("the host did not answer in time")]
    Timeout,
    #[error("authentication failed: the host does not accept Steward's key for this user")]
    AuthFailed,
    #[error("the host has no SSH key assigned in Steward")]
    NoCredential,
    #[error("{0}")]
    Other(String),
}

impl SshFailure {
    /// Reads ssh's own message.
    fn classify(message: &str) -> Self {
        let m = message.to_ascii_lowercase();
        if m.contains("remote host identification has changed") || m.contains("host key verification failed") {
            Self::HostKeyChanged
        } else if m.contains("permission denied") {
            Self::AuthFailed
        } else if m.contains("connection refused") {
            Self::ConnectionRefused
        } else if m.contains("timed out") {
            Self::Timeout
        } else if m.contains("no route to host")
            || m.contains("network is unreachable")
            || m.contains("could not resolve")
        {
            Self::Unreachable(message.trim().to_owned())
        } else {
            Self::Other(message.trim().to_owned())
        }
    }
}

/// A key a host presented to a scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScannedKey {
    pub algorithm: String,
    /// `ssh-ed25519 AAAA...`
    pub public_key: String,
    /// `SHA256:...`
    pub fingerprint: String,
}

/// known_hosts names for an address and port, as ssh looks them up.
fn known_hosts_name(address: &str, port: u16) -> String {
    if port == 22 { address.to_owned() } else { format!("[{address}]:{port}") }
}

/// Parses `ssh-keyscan` output: `name keytype base64` per line, comments skipped.
pub fn parse_keyscan(output: &str) -> Vec<ScannedKey> {
    output
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|line| {
            let mut parts = line.split_whitespace();
            let (_, algorithm, body) = (parts.next()?, parts.next()?, parts.next()?);
            let public_key = format!("{algorithm} {body}");
            let fingerprint = PublicKey::from_openssh(&public_key).ok()?.fingerprint(HashAlg::Sha256).to_string();
            Some(ScannedKey { algorithm: algorithm.to_owned(), public_key, fingerprint })
        })
        .collect()
}

#[derive(Clone, Debug)]
pub struct Ssh {
    store: Store,
    vault: Vault,
    audit: Audit,
    clock: SharedClock,
    /// Private per-connection directories (known_hosts, key, control socket) go below this;
    /// short, because a unix socket path has at most 108 bytes.
    runtime_dir: PathBuf,
}

/// A private directory that is removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(parent: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(parent)?;
        let id = uuid::Uuid::new_v4().simple().to_string();
        let dir = parent.join(format!("stw-{}", &id[..12]));
        let mut builder = std::fs::DirBuilder::new();
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(&dir)?;
        Ok(Self(dir))
    }

    fn write_private(&self, name: &str, content: &[u8]) -> std::io::Result<PathBuf> {
        use std::io::Write;
        let path = self.0.join(name);
        let mut options = std::fs::File::options();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        options.open(&path)?.write_all(content)?;
        Ok(path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Ssh {
    pub fn new(store: Store, vault: Vault, audit: Audit, clock: SharedClock, runtime_dir: PathBuf) -> Self {
        Self { store, vault, audit, clock, runtime_dir }
    }

    async fn host(&self, host_id: i64) -> Result<HostRow, AppError> {
        self.store.host(host_id).await.map_err(|err| match err {
            StoreError::NotFound => AppError::not_found("The host"),
            other => from_store(other),
        })
    }

    /// Asks the host for its keys (ssh-keyscan) and records them as offered, not trusted.
    pub async fn scan(&self, actor: &Actor, host_id: i64) -> Result<Vec<ScannedKey>, AppError> {
        let host = self.host(host_id).await?;
        let port = u16::try_from(host.ssh_port).unwrap_or(22);
        let output = tokio::process::Command::new("ssh-keyscan")
            .args(["-T", "5", "-t", "ed25519,ecdsa,rsa", "-p", &port.to_string(), "--", &host.address])
            .kill_on_drop(true)
            .output()
            .await
            .map_err(|err| internal(format!("cannot run ssh-keyscan: {err}")))?;
        let keys = parse_keyscan(&String::from_utf8_lossy(&output.stdout));
        if keys.is_empty() {
            return Err(AppError::Invalid {
                field: None,
                message: format!("{}:{port} presented no host key (unreachable, or not an SSH server)", host.address),
            });
        }
        for key in &keys {
            self.store
                .offer_host_key(host_id, &key.algorithm, &key.public_key, &key.fingerprint, self.clock.now())
                .await
                .map_err(from_store)?;
        }
        let fingerprints: Vec<&str> = keys.iter().map(|k| k.fingerprint.as_str()).collect();
        self.audit.record(actor, "host.key_scanned", &format!("host {}", host.name), &fingerprints.join(" ")).await;
        Ok(keys)
    }

    /// Trusts the offered key with this fingerprint (an admin compared it with the host's own).
    pub async fn pin(&self, actor: &Actor, host_id: i64, fingerprint: &str) -> Result<(), AppError> {
        let host = self.host(host_id).await?;
        let by = actor.username.clone().unwrap_or_default();
        if !self.store.pin_host_key(host_id, fingerprint.trim(), &by, self.clock.now()).await.map_err(from_store)? {
            return Err(AppError::invalid(
                "fingerprint",
                "No scanned key of this host has that fingerprint; scan it again",
            ));
        }
        self.audit.record(actor, "host.key_pinned", &format!("host {}", host.name), fingerprint.trim()).await;
        Ok(())
    }

    /// Connects with the pinned keys only and runs `true`.
    pub async fn check(&self, host_id: i64) -> Result<(), SshFailure> {
        let host = self.host(host_id).await.map_err(|err| SshFailure::Other(err.to_string()))?;
        if host.jump_host_id.is_some() {
            return Err(SshFailure::Other("connections through a jump host are not supported yet".into()));
        }
        let keys = self.store.host_keys(host_id).await.map_err(|err| SshFailure::Other(err.to_string()))?;
        let pinned: Vec<_> = keys.iter().filter(|k| k.pinned).collect();
        if pinned.is_empty() {
            return Err(SshFailure::HostKeyUnknown);
        }
        let credential = host.credential_id.ok_or(SshFailure::NoCredential)?;
        let secret = self.vault.reveal(credential).await.map_err(|err| SshFailure::Other(err.to_string()))?;
        let port = u16::try_from(host.ssh_port).unwrap_or(22);
        let scratch = Scratch::new(&self.runtime_dir).map_err(|err| SshFailure::Other(err.to_string()))?;
        let name = known_hosts_name(&host.address, port);
        let known: String = pinned.iter().map(|k| format!("{name} {}\n", k.public_key)).collect();
        let io = |err: std::io::Error| SshFailure::Other(format!("cannot prepare the connection: {err}"));
        let known_hosts = scratch.write_private("known_hosts", known.as_bytes()).map_err(io)?;
        let key_file = scratch.write_private("id", &secret).map_err(io)?;
        drop(secret);

        let mut builder = SessionBuilder::default();
        builder
            .user(host.ssh_user.clone())
            .port(port)
            .keyfile(&key_file)
            .known_hosts_check(KnownHosts::Strict)
            .user_known_hosts_file(&known_hosts)
            .config_file("/dev/null")
            .connect_timeout(CONNECT_TIMEOUT)
            .control_directory(&scratch.0);
        let session = match builder.connect(&host.address).await {
            Ok(session) => session,
            Err(err) => {
                let failure = match &err {
                    openssh::Error::Connect(io) => SshFailure::classify(&io.to_string()),
                    other => SshFailure::classify(&other.to_string()),
                };
                if failure == SshFailure::HostKeyChanged {
                    self.flag_changed_key(&host).await;
                }
                return Err(failure);
            }
        };
        let status = session.command("true").status().await.map_err(|err| SshFailure::classify(&err.to_string()));
        let _ = session.close().await;
        match status? {
            s if s.success() => Ok(()),
            s => Err(SshFailure::Other(format!("`true` exited with {s}"))),
        }
    }

    async fn flag_changed_key(&self, host: &HostRow) {
        if let Err(err) = self.store.set_host_key_status(host.id, "changed").await {
            tracing::error!(error = %err, host = host.id, "could not flag a changed host key");
        }
        let steward = Actor { user_id: None, username: Some("steward".into()), client_addr: None };
        self.audit
            .record(
                &steward,
                "host.key_changed",
                &format!("host {}", host.name),
                "connection refused: the host key differs from the pinned one",
            )
            .await;
        tracing::warn!(host = %host.name, address = %host.address, "host key changed; refusing to connect");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_messages_become_actionable_failures() {
        assert_eq!(SshFailure::classify("Host key verification failed."), SshFailure::HostKeyChanged);
        assert_eq!(SshFailure::classify("user@127.0.0.1: Permission denied (publickey)."), SshFailure::AuthFailed);
        assert_eq!(
            SshFailure::classify("connect to host 127.0.0.1 port 2: Connection refused"),
            SshFailure::ConnectionRefused
        );
        assert_eq!(SshFailure::classify("connect to host 10.9.9.9 port 22: Connection timed out"), SshFailure::Timeout);
        assert!(matches!(
            SshFailure::classify("connect to host x port 22: No route to host"),
            SshFailure::Unreachable(_)
        ));
    }

    #[test]
    fn keyscan_lines_give_fingerprints() {
        let out = "# 127.0.0.1:2222 SSH-2.0-OpenSSH_9.2\n[127.0.0.1]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFxo2vF7r0u0HkVxC8Tt0n5jz2u5A8o8f9o0T8o0n0jH\n";
        let keys = parse_keyscan(out);
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].algorithm, "ssh-ed25519");
        assert!(keys[0].fingerprint.starts_with("SHA256:"));
        assert_eq!(known_hosts_name("127.0.0.1", 2222), "[127.0.0.1]:2222");
        assert_eq!(known_hosts_name("db.example.org", 22), "db.example.org");
    }
}
