//! SSH to hosts, always with strict host-key checking. Host keys live in the database: a scan
//! offers the keys a host presents, an admin pins one by its SHA256 fingerprint, and every
//! connection writes the pinned keys to a private known_hosts file and refuses anything else.
//! A host that presents another key is flagged "host key changed", audited, and an event is
//! recorded.
//!
//! Connections use the system `ssh` (through the `openssh` crate), one pooled master per host
//! ([`pool`]); work on a host goes through the `steward-agent` ([`agent`]), never through a
//! shell with user text in it.

mod agent;
mod conn;
mod pool;

pub use pool::{clean_runtime, runtime_dir};

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use agent::Agent;
use serde::Serialize;
use ssh_key::{HashAlg, PublicKey};
pub use steward_agent::{ErrorKind as AgentErrorKind, Facts, FactsRequest};
use steward_frontend::contract::Reachability;
use zeroize::Zeroizing;

use self::pool::{Hop, Pool, Route};
use crate::clock::SharedClock;
use crate::config::SshConfig;
use crate::services::audit::{Actor, Audit};
use crate::services::error::{Error, OrNotFound};
use crate::services::vault::Vault;
use crate::store::{CheckOutcome, HostRow, NewEvent, Store, StoreError};

/// Jump chains longer than this are refused (the inventory prevents loops; this is a backstop).
const MAX_HOPS: usize = 8;

/// Why Steward could not do something on a host, in terms an admin can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SshFailure {
    #[error("no host key is pinned for {0} yet: scan it and confirm its fingerprint")]
    HostKeyUnknown(String),
    #[error(
        "the host presented a different host key than the pinned one; Steward refuses to connect until an admin replaces the pinned key"
    )]
    HostKeyChanged {
        /// The hop that presented it, when ssh named it.
        host_id: Option<i64>,
    },
    #[error("the host refused the connection (is sshd running on that port?)")]
    ConnectionRefused,
    #[error("the host cannot be reached: {0}")]
    Unreachable(String),
    #[error("the host did not answer in time")]
    Timeout,
    #[error("the connection to the host broke: {0}")]
    Lost(String),
    #[error("authentication failed: the host does not accept Steward's key for this user")]
    AuthFailed,
    #[error("{0} has no SSH key assigned in Steward")]
    NoCredential(String),
    #[error("permission denied: {0}")]
    PermissionDenied(String),
    #[error("{0}")]
    CommandNotFound(String),
    /// The agent refused a request (file changed meanwhile, damaged upload, no such file...).
    #[error("{message}")]
    Agent { kind: steward_agent::ErrorKind, message: String },
    #[error("{0}")]
    Other(String),
}

impl SshFailure {
    /// Reads ssh's own message.
    fn classify(message: &str) -> Self {
        let m = message.to_ascii_lowercase();
        if m.contains("remote host identification has changed")
            || m.contains("host key verification failed")
            || m.contains("has changed and you have requested strict checking")
        {
            // "Host key for stw-host-12 has changed...": the alias names the hop.
            let host_id = m.split("stw-host-").nth(1).and_then(|rest| {
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                digits.parse().ok()
            });
            Self::HostKeyChanged { host_id }
        } else if m.contains("permission denied") {
            Self::AuthFailed
        } else if m.contains("connection refused") {
            Self::ConnectionRefused
        } else if m.contains("timed out") {
            Self::Timeout
        } else if m.contains("no route to host")
            || m.contains("network is unreachable")
            || m.contains("could not resolve")
            || m.contains("connection closed by")
            || m.contains("connection reset")
            || m.contains("broken pipe")
        {
            Self::Unreachable(message.trim().to_owned())
        } else {
            Self::Other(message.trim().to_owned())
        }
    }

    fn from_connect_error(err: &openssh::Error) -> Self {
        match err {
            openssh::Error::Connect(io) => Self::classify(&io.to_string()),
            other => Self::classify(&other.to_string()),
        }
    }

    fn from_agent(kind: steward_agent::ErrorKind, message: &str) -> Self {
        use steward_agent::ErrorKind as K;
        match kind {
            K::PermissionDenied => Self::PermissionDenied(message.to_owned()),
            K::CommandNotFound => Self::CommandNotFound(message.to_owned()),
            kind => Self::Agent { kind, message: message.to_owned() },
        }
    }

    /// Whether the connection itself failed (so it should be reopened, and a job may retry).
    pub fn is_connection_problem(&self) -> bool {
        matches!(self, Self::ConnectionRefused | Self::Unreachable(_) | Self::Timeout | Self::Lost(_))
    }

    /// The agent answered, but refused the request (it is ready for the next one). A
    /// `malformed` answer means the conversation is out of step: that agent is not reused.
    pub fn is_refusal(&self) -> bool {
        match self {
            Self::Agent { kind, .. } => *kind != steward_agent::ErrorKind::Malformed,
            Self::CommandNotFound(_) | Self::PermissionDenied(_) => true,
            _ => false,
        }
    }

    /// A short name for the host's state after this failure, as stored and shown.
    pub fn state(&self) -> Reachability {
        match self {
            Self::HostKeyUnknown(_) => Reachability::HostKeyUnknown,
            Self::HostKeyChanged { .. } => Reachability::HostKeyChanged,
            Self::ConnectionRefused => Reachability::Refused,
            Self::Unreachable(_) | Self::Lost(_) => Reachability::Unreachable,
            Self::Timeout => Reachability::Timeout,
            Self::AuthFailed => Reachability::AuthFailed,
            Self::NoCredential(_) => Reachability::NoCredential,
            Self::PermissionDenied(_) | Self::CommandNotFound(_) | Self::Agent { .. } | Self::Other(_) => {
                Reachability::Error
            }
        }
    }
}

impl From<SshFailure> for Error {
    fn from(failure: SshFailure) -> Self {
        Error::Remote { message: failure.to_string() }
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Connect,
    Scan,
}

/// The outcome of checking a host: reachable with facts, or why not.
#[derive(Debug, Clone, Serialize)]
pub struct HostCheck {
    pub state: Reachability,
    pub message: String,
    pub facts: Option<Facts>,
    /// The host's clock minus Steward's, in milliseconds.
    pub clock_offset_ms: Option<i64>,
}

#[derive(Clone)]
pub struct Ssh {
    store: Store,
    vault: Vault,
    audit: Audit,
    clock: SharedClock,
    pool: Arc<Pool>,
}

impl std::fmt::Debug for Ssh {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ssh").field("open_connections", &self.pool.open_connections()).finish()
    }
}

impl Ssh {
    /// `runtime_dir`: where private per-connection directories (known_hosts, key, control
    /// socket) go; short, because a unix socket path has at most 108 bytes.
    pub fn new(
        store: Store,
        vault: Vault,
        audit: Audit,
        clock: SharedClock,
        settings: SshConfig,
        runtime_dir: PathBuf,
    ) -> Self {
        Self { store, vault, audit, clock, pool: Arc::new(Pool::new(settings, runtime_dir)) }
    }

    async fn host(&self, host_id: i64) -> Result<HostRow, Error> {
        self.store.host(host_id).await.or_not_found("The host")
    }

    /// Asks the host for its keys and records them as offered, not trusted: with ssh-keyscan,
    /// or through its (trusted) jump hosts for a host behind one.
    pub async fn scan(&self, actor: &Actor, host_id: i64) -> Result<Vec<ScannedKey>, Error> {
        let host = self.host(host_id).await?;
        let port = u16::try_from(host.ssh_port).unwrap_or(22);
        let keys = if host.jump_host_id.is_some() {
            let route = self.route(host_id, Purpose::Scan).await?;
            parse_keyscan(&self.pool.offered_keys(&route).await?)
        } else {
            let output = tokio::process::Command::new("ssh-keyscan")
                .args(["-T", "5", "-t", "ed25519,ecdsa,rsa", "-p", &port.to_string(), "--", &host.address])
                .kill_on_drop(true)
                .output()
                .await
                .map_err(|err| Error::internal(format!("cannot run ssh-keyscan: {err}")))?;
            parse_keyscan(&String::from_utf8_lossy(&output.stdout))
        };
        if keys.is_empty() {
            return Err(Error::Invalid {
                field: None,
                message: format!("{}:{port} presented no host key (unreachable, or not an SSH server)", host.address),
            });
        }
        for key in &keys {
            self.store
                .offer_host_key(host_id, &key.algorithm, &key.public_key, &key.fingerprint, self.clock.now())
                .await?;
        }
        let fingerprints: Vec<&str> = keys.iter().map(|k| k.fingerprint.as_str()).collect();
        self.audit.record(actor, "host.key_scanned", &format!("host {}", host.name), &fingerprints.join(" ")).await;
        Ok(keys)
    }

    /// Trusts the offered key with this fingerprint (an admin compared it with the host's own).
    pub async fn pin(&self, actor: &Actor, host_id: i64, fingerprint: &str) -> Result<(), Error> {
        let host = self.host(host_id).await?;
        let by = actor.username.clone().unwrap_or_default();
        if !self.store.pin_host_key(host_id, fingerprint.trim(), &by, self.clock.now()).await? {
            return Err(Error::invalid(
                "fingerprint",
                "No scanned key of this host has that fingerprint; scan it again",
            ));
        }
        self.pool.close_host(host_id).await;
        self.audit.record(actor, "host.key_pinned", &format!("host {}", host.name), fingerprint.trim()).await;
        Ok(())
    }

    /// The hops to the host: its jump hosts first, each with its pinned keys and SSH key. To
    /// scan, the host itself needs neither.
    async fn route(&self, host_id: i64, purpose: Purpose) -> Result<Route, SshFailure> {
        // Database text is for the log, never for the page that shows this failure.
        let store_failure = |err: StoreError| {
            tracing::error!(host = host_id, error = %err, "cannot read the inventory to reach a host");
            SshFailure::Other("Steward could not read its inventory; the cause is in its log".into())
        };
        let mut hops = Vec::new();
        let mut seen = HashSet::new();
        let mut next = Some(host_id);
        while let Some(id) = next {
            if hops.len() >= MAX_HOPS || !seen.insert(id) {
                return Err(SshFailure::Other("the jump hosts of this host form a loop or a chain too long".into()));
            }
            let row = self.store.host(id).await.map_err(store_failure)?;
            let who = if id == host_id { "this host".to_owned() } else { format!("jump host {}", row.name) };
            let pinned_keys: Vec<String> = self
                .store
                .host_keys(id)
                .await
                .map_err(store_failure)?
                .into_iter()
                .filter(|k| k.pinned)
                .map(|k| k.public_key)
                .collect();
            let scanned = purpose == Purpose::Scan && id == host_id;
            if pinned_keys.is_empty() && !scanned {
                return Err(SshFailure::HostKeyUnknown(who));
            }
            let (credential_id, secret) = match row.credential_id {
                Some(credential) => {
                    (credential, self.vault.reveal(credential).await.map_err(|err| SshFailure::Other(err.to_string()))?)
                }
                None if scanned => (0, Zeroizing::new(Vec::new())),
                None => return Err(SshFailure::NoCredential(who)),
            };
            hops.push(Hop {
                host_id: id,
                address: row.address,
                port: u16::try_from(row.ssh_port).unwrap_or(22),
                user: row.ssh_user,
                pinned_keys,
                credential_id,
                secret,
            });
            next = row.jump_host_id;
        }
        hops.reverse();
        Ok(Route { hops })
    }

    /// An agent on the host over its pooled connection, ready for requests.
    pub async fn agent(&self, host_id: i64) -> Result<Agent, SshFailure> {
        let timeout = Duration::from_secs(self.pool.settings().command_timeout_secs);
        for attempt in 0..2 {
            let route = self.route(host_id, Purpose::Connect).await?;
            let lease = match self.pool.lease(&route).await {
                Ok(lease) => lease,
                Err(failure) => {
                    if let SshFailure::HostKeyChanged { host_id: hop } = &failure {
                        self.flag_changed_key(hop.unwrap_or(host_id)).await;
                    }
                    return Err(failure);
                }
            };
            let fresh = lease.fresh;
            match Agent::start(lease, timeout).await {
                // A pooled connection that died under us (host rebooted): open a new one once.
                Err(failure) if attempt == 0 && !fresh && failure.is_connection_problem() => continue,
                other => return other,
            }
        }
        Err(SshFailure::Other("the connection could not be reopened".into()))
    }

    /// Collects the host's facts and records the outcome; an unreachable host is a result,
    /// not an error. Errors are for a missing host or a failing store.
    pub async fn check(&self, host_id: i64) -> Result<HostCheck, Error> {
        let host = self.host(host_id).await?;
        let previous = self.store.host_status(host_id).await?;
        let (certificates, units) = self.store.host_watch(host_id).await?;
        let request = FactsRequest {
            cert_files: certificates.lines().map(str::to_owned).collect(),
            units: units.lines().map(str::to_owned).collect(),
        };
        let result = async {
            let mut agent = self.agent(host_id).await?;
            let sent = chrono::Utc::now().timestamp_millis();
            let facts = agent.facts(request).await?;
            let received = chrono::Utc::now().timestamp_millis();
            // The host read its clock about halfway through the round trip.
            let offset = facts.now_unix_ms - (sent + received) / 2;
            Ok::<_, SshFailure>((facts, offset))
        }
        .await;
        let check = match result {
            Ok((facts, offset)) => HostCheck {
                state: Reachability::Reachable,
                message: String::new(),
                facts: Some(facts),
                clock_offset_ms: Some(offset),
            },
            Err(failure) => {
                HostCheck { state: failure.state(), message: failure.to_string(), facts: None, clock_offset_ms: None }
            }
        };
        let facts_json = match &check.facts {
            Some(facts) => Some(serde_json::to_string(facts).map_err(Error::internal)?),
            None => None,
        };
        let outcome = CheckOutcome {
            state: check.state.as_str(),
            message: &check.message,
            facts: facts_json.as_deref(),
            clock_offset_ms: check.clock_offset_ms,
        };
        self.store.record_check(host_id, &outcome, self.clock.now()).await?;
        let was_reachable = previous.as_ref().is_none_or(|p| p.state == Reachability::Reachable.as_str());
        let reachable = check.state == Reachability::Reachable;
        if was_reachable && !reachable && check.state != Reachability::HostKeyChanged {
            self.event(
                host_id,
                "host.unreachable",
                "warning",
                &format!("{} is not reachable", host.name),
                &check.message,
            )
            .await;
        } else if !was_reachable && reachable {
            self.event(host_id, "host.reachable", "info", &format!("{} is reachable again", host.name), "").await;
        }
        Ok(check)
    }

    /// Removes Steward's agent from the host (best effort when it cannot be reached), closes
    /// the pooled connection and forgets what was learned about it. Returns a warning when the
    /// host could not be cleaned up.
    pub async fn forget(&self, host_id: i64) -> Option<String> {
        let warning = match self.agent(host_id).await {
            Ok(agent) => agent.remove_agents().await.err().map(|f| f.to_string()),
            Err(failure) => Some(failure.to_string()),
        };
        self.pool.close_host(host_id).await;
        if let Err(err) = self.store.forget_host_status(host_id).await {
            tracing::warn!(error = %err, host = host_id, "could not forget the host's status");
        }
        warning
    }

    /// Closes pooled connections that sat idle past the idle timeout.
    pub async fn close_idle(&self) {
        self.pool.close_idle().await;
    }

    pub async fn close_all(&self) {
        self.pool.close_all().await;
    }

    pub fn open_connections(&self) -> usize {
        self.pool.open_connections()
    }

    async fn event(&self, host_id: i64, kind: &str, severity: &str, summary: &str, detail: &str) {
        let event = NewEvent { kind, severity, host_id: Some(host_id), summary, detail };
        if let Err(err) = self.store.record_event(&event, self.clock.now()).await {
            tracing::error!(error = %err, host = host_id, kind, "could not record an event");
        }
    }

    async fn flag_changed_key(&self, host_id: i64) {
        let name = self.store.host(host_id).await.map(|h| h.name).unwrap_or_else(|_| format!("#{host_id}"));
        if let Err(err) = self.store.set_host_key_status(host_id, "changed").await {
            tracing::error!(error = %err, host = host_id, "could not flag a changed host key");
        }
        let detail = "connection refused: the host key differs from the pinned one";
        self.audit.record(&Actor::system(), "host.key_changed", &format!("host {name}"), detail).await;
        self.event(host_id, "host.key_changed", "critical", &format!("host key of {name} changed"), detail).await;
        tracing::warn!(host = %name, "host key changed; refusing to connect");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_messages_become_actionable_failures() {
        assert_eq!(SshFailure::classify("Host key verification failed."), SshFailure::HostKeyChanged { host_id: None });
        assert_eq!(
            SshFailure::classify(
                "Host key for stw-host-12 has changed and you have requested strict checking.\r\nHost key verification failed."
            ),
            SshFailure::HostKeyChanged { host_id: Some(12) }
        );
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
    }
}
