//! One pooled SSH master connection per host (ControlMaster, through the `openssh` crate),
//! opened on first use, shared by every request to that host, and closed after it sat idle.
//!
//! Each connection gets a private directory holding its ssh_config, known_hosts and key. The
//! config names every hop (the host and its chain of jump hosts) by an alias `stw-host-<id>`,
//! which is also the host-key alias, so each hop is checked against its own pinned keys and
//! ssh's messages name the hop that failed. ssh passes `-F` on to the ProxyJump processes, so
//! the jump hops use the same strict settings.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use openssh::{KnownHosts, SessionBuilder};
use tokio::sync::Semaphore;
use zeroize::Zeroizing;

use super::SshFailure;
use super::conn::{Conn, Lease, Scratch};
use crate::config::SshConfig;

/// A connection idle this long is checked with the master before it is reused.
const RECHECK_AFTER: Duration = Duration::from_secs(15);

/// One hop of a connection: the host itself, or a jump host on the way.
pub(crate) struct Hop {
    pub host_id: i64,
    pub address: String,
    pub port: u16,
    pub user: String,
    /// `ssh-ed25519 AAAA...` lines.
    pub pinned_keys: Vec<String>,
    pub credential_id: i64,
    pub secret: Zeroizing<Vec<u8>>,
}

/// How to reach a host: the hops from the first jump host to the host itself.
pub(crate) struct Route {
    pub hops: Vec<Hop>,
}

pub(crate) fn alias(host_id: i64) -> String {
    format!("stw-host-{host_id}")
}

impl Route {
    fn target(&self) -> Option<&Hop> {
        self.hops.last()
    }

    /// Changes when anything that shapes the connection changes (address, key, credential...),
    /// so a pooled connection is never reused for an edited host.
    fn signature(&self) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        let mut hash = Sha256::new();
        for hop in &self.hops {
            hash.update(format!("{}\0{}\0{}\0{}\0", hop.host_id, hop.address, hop.port, hop.user));
            for key in &hop.pinned_keys {
                hash.update(key.as_bytes());
                hash.update(b"\0");
            }
            hash.update(hop.credential_id.to_le_bytes());
            hash.update(Sha256::digest(&hop.secret));
        }
        hash.finalize().into()
    }

    /// The private ssh_config for this route; key files are `id-<host id>` in `dir`. With
    /// `record_offered`, the last hop's key is written to that file instead of being checked.
    fn ssh_config(&self, dir: &Path, settings: &SshConfig, record_offered: Option<&Path>) -> String {
        let mut config = String::new();
        let mut previous: Option<&Hop> = None;
        for hop in &self.hops {
            let name = alias(hop.host_id);
            let _ = writeln!(config, "Host {name}");
            let _ = writeln!(config, "  HostName {}", hop.address);
            let _ = writeln!(config, "  Port {}", hop.port);
            let _ = writeln!(config, "  User {}", hop.user);
            let _ = writeln!(config, "  HostKeyAlias {name}");
            let _ = writeln!(config, "  IdentityFile {}", dir.join(format!("id-{}", hop.host_id)).display());
            if let Some(jump) = previous {
                let _ = writeln!(config, "  ProxyJump {}", alias(jump.host_id));
            }
            if let Some(file) = record_offered.filter(|_| Some(hop.host_id) == self.target().map(|t| t.host_id)) {
                // Writes down the key type and key it is shown and vouches for none, so the
                // (strict) connection stops right after the key exchange.
                let _ = writeln!(
                    config,
                    "  KnownHostsCommand /bin/sh -c \"echo offered $0 $1 >> {}\" %t %K",
                    file.display()
                );
            }
            previous = Some(hop);
        }
        let _ = writeln!(config, "Host *");
        for line in [
            "  IdentitiesOnly yes",
            "  IdentityAgent none",
            "  StrictHostKeyChecking yes",
            "  CheckHostIP no",
            "  UpdateHostKeys no",
            "  GlobalKnownHostsFile /dev/null",
            "  BatchMode yes",
            "  PasswordAuthentication no",
            "  KbdInteractiveAuthentication no",
            "  ForwardAgent no",
            "  ClearAllForwardings yes",
            "  ServerAliveInterval 15",
            "  ServerAliveCountMax 3",
            "  LogLevel ERROR",
        ] {
            let _ = writeln!(config, "{line}");
        }
        let _ = writeln!(config, "  ConnectTimeout {}", settings.connect_timeout_secs);
        let _ = writeln!(config, "  UserKnownHostsFile {}", dir.join("known_hosts").display());
        config
    }

    fn known_hosts(&self) -> String {
        let mut known = String::new();
        for hop in &self.hops {
            for key in &hop.pinned_keys {
                let _ = writeln!(known, "{} {key}", alias(hop.host_id));
            }
        }
        known
    }
}

/// How long an idle master stays up on its own: a little past the pool's idle timeout.
fn persist_for(settings: &SshConfig) -> openssh::ControlPersist {
    let secs = usize::try_from(settings.idle_timeout_secs.saturating_add(30)).unwrap_or(usize::MAX);
    std::num::NonZeroUsize::new(secs)
        .map_or(openssh::ControlPersist::ClosedAfterInitialConnection, openssh::ControlPersist::IdleFor)
}

/// This process's directory for connection files, below `<data_dir>/run`.
pub fn runtime_dir(data_dir: &Path) -> PathBuf {
    let data_dir = std::path::absolute(data_dir).unwrap_or_else(|_| data_dir.to_owned());
    data_dir.join("run").join(format!("p{}", std::process::id()))
}

/// Closes the SSH masters a dead Steward process left under `<data_dir>/run` (`ssh -O exit`
/// on each control socket) and removes their directories, decrypted keys included. Returns
/// how many directories were removed.
pub async fn clean_runtime(data_dir: &Path) -> usize {
    let run = runtime_dir(data_dir).parent().map(Path::to_owned).unwrap_or_default();
    let Ok(entries) = std::fs::read_dir(&run) else { return 0 };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix('p').and_then(|p| p.parse::<u32>().ok()) else { continue };
        if pid == std::process::id() || Path::new("/proc").join(pid.to_string()).exists() {
            continue;
        }
        for socket in sockets_below(&entry.path()) {
            let exit = tokio::process::Command::new("ssh")
                .arg("-O")
                .arg("exit")
                .arg("-S")
                .arg(&socket)
                .arg("steward-leftover")
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .kill_on_drop(true)
                .status();
            let _ = tokio::time::timeout(Duration::from_secs(5), exit).await;
        }
        if std::fs::remove_dir_all(entry.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

fn sockets_below(dir: &Path) -> Vec<PathBuf> {
    use std::os::unix::fs::FileTypeExt;
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return found };
    for entry in entries.flatten() {
        match entry.file_type() {
            Ok(kind) if kind.is_dir() => found.extend(sockets_below(&entry.path())),
            Ok(kind) if kind.is_socket() => found.push(entry.path()),
            _ => {}
        }
    }
    found
}

struct Slot {
    conn: tokio::sync::Mutex<Option<Arc<Conn>>>,
    sessions: Arc<Semaphore>,
}

pub(crate) struct Pool {
    slots: Mutex<HashMap<i64, Arc<Slot>>>,
    settings: SshConfig,
    runtime_dir: PathBuf,
}

impl Pool {
    pub(crate) fn new(settings: SshConfig, runtime_dir: PathBuf) -> Self {
        Self { slots: Mutex::new(HashMap::new()), settings, runtime_dir }
    }

    pub(crate) fn settings(&self) -> &SshConfig {
        &self.settings
    }

    fn slot(&self, host_id: i64) -> Arc<Slot> {
        let mut slots = self.slots.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        slots
            .entry(host_id)
            .or_insert_with(|| {
                Arc::new(Slot {
                    conn: tokio::sync::Mutex::new(None),
                    sessions: Arc::new(Semaphore::new(self.settings.max_sessions_per_host)),
                })
            })
            .clone()
    }

    /// A lease on the host's pooled connection, opening it when there is none (or the route
    /// changed, or it died). Callers for the same host wait for one connect, not one each.
    pub(crate) async fn lease(&self, route: &Route) -> Result<Lease, SshFailure> {
        let target = route.target().ok_or_else(|| SshFailure::Other("no route to the host".into()))?;
        let slot = self.slot(target.host_id);
        let permit =
            slot.sessions.clone().acquire_owned().await.map_err(|_| SshFailure::Other("shutting down".into()))?;
        let mut current = slot.conn.lock().await;
        let signature = route.signature();
        if let Some(conn) = current.as_ref() {
            let usable = conn.signature == signature
                && !conn.is_broken()
                && (conn.idle_for() < RECHECK_AFTER || conn.session.check().await.is_ok());
            if usable {
                conn.touch();
                return Ok(Lease { conn: conn.clone(), fresh: false, _permit: permit });
            }
        }
        if let Some(old) = current.take() {
            tokio::spawn(old.close());
        }
        let conn = Arc::new(self.connect(route, signature).await?);
        *current = Some(conn.clone());
        Ok(Lease { conn, fresh: true, _permit: permit })
    }

    /// A private directory with the route's keys, known_hosts and ssh_config (recording the
    /// last hop's key in `offered` when `record_offered`); returns it, the config's path and
    /// the time the whole chain of handshakes may take.
    fn prepare(&self, route: &Route, record_offered: bool) -> Result<(Scratch, PathBuf, Duration), SshFailure> {
        let io = |err: std::io::Error| SshFailure::Other(format!("cannot prepare the connection: {err}"));
        let scratch = Scratch::new(&self.runtime_dir).map_err(io)?;
        for hop in &route.hops {
            scratch.write_private(&format!("id-{}", hop.host_id), &hop.secret).map_err(io)?;
        }
        scratch.write_private("known_hosts", route.known_hosts().as_bytes()).map_err(io)?;
        let offered = record_offered.then(|| scratch.path().join("offered"));
        let config = route.ssh_config(scratch.path(), &self.settings, offered.as_deref());
        let config = scratch.write_private("config", config.as_bytes()).map_err(io)?;
        // Every hop's handshake must fit in the connect timeout, plus some slack.
        let hops = u32::try_from(route.hops.len()).unwrap_or(1);
        let limit = Duration::from_secs(self.settings.connect_timeout_secs) * hops + Duration::from_secs(5);
        Ok((scratch, config, limit))
    }

    async fn connect(&self, route: &Route, signature: [u8; 32]) -> Result<Conn, SshFailure> {
        let target = route.target().ok_or_else(|| SshFailure::Other("no route to the host".into()))?;
        let (scratch, config, limit) = self.prepare(route, false)?;
        let mut builder = SessionBuilder::default();
        builder
            .config_file(&config)
            .known_hosts_check(KnownHosts::Strict)
            .connect_timeout(Duration::from_secs(self.settings.connect_timeout_secs))
            // A master outlives Steward only briefly if Steward dies (the pool closes idle ones
            // itself before this), and start-up closes what a dead process left.
            .control_persist(persist_for(&self.settings))
            .control_directory(scratch.path());
        let session = match tokio::time::timeout(limit, builder.connect(alias(target.host_id))).await {
            Err(_) => return Err(SshFailure::Timeout),
            Ok(Err(err)) => return Err(SshFailure::from_connect_error(&err)),
            Ok(Ok(session)) => session,
        };
        Ok(Conn::new(session, signature, scratch))
    }

    /// The keys the route's last hop presents, fetched through its jump hosts (which must be
    /// trusted) without trusting the last hop: what `ssh-keyscan` does for a direct host.
    pub(crate) async fn offered_keys(&self, route: &Route) -> Result<String, SshFailure> {
        let target = route.target().ok_or_else(|| SshFailure::Other("no route to the host".into()))?;
        let (scratch, config, limit) = self.prepare(route, true)?;
        let offered = scratch.path().join("offered");
        let run = tokio::process::Command::new("ssh")
            .arg("-F")
            .arg(&config)
            .arg(alias(target.host_id))
            .arg("true")
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output();
        let output = match tokio::time::timeout(limit, run).await {
            Err(_) => return Err(SshFailure::Timeout),
            Ok(Err(err)) => return Err(SshFailure::Other(format!("cannot run ssh: {err}"))),
            Ok(Ok(output)) => output,
        };
        match std::fs::read_to_string(&offered) {
            Ok(keys) if !keys.trim().is_empty() => Ok(keys),
            _ => Err(SshFailure::classify(&String::from_utf8_lossy(&output.stderr))),
        }
    }

    /// Closes connections idle longer than the idle timeout (and not leased).
    pub(crate) async fn close_idle(&self) {
        let idle_timeout = Duration::from_secs(self.settings.idle_timeout_secs);
        let slots: Vec<(i64, Arc<Slot>)> = match self.slots.lock() {
            Ok(slots) => slots.iter().map(|(id, slot)| (*id, slot.clone())).collect(),
            Err(_) => return,
        };
        for (host_id, slot) in slots {
            let Ok(mut current) = slot.conn.try_lock() else { continue };
            let idle = current.as_ref().is_some_and(|conn| {
                let leased = slot.sessions.available_permits() < self.settings.max_sessions_per_host;
                !leased && conn.idle_for() >= idle_timeout
            });
            if idle && let Some(conn) = current.take() {
                tracing::debug!(host = host_id, "closing an idle SSH connection");
                conn.close().await;
            }
        }
    }

    /// Closes the host's pooled connection now (host edited, forgotten, or key replaced).
    pub(crate) async fn close_host(&self, host_id: i64) {
        let slot = self.slot(host_id);
        let old = slot.conn.lock().await.take();
        if let Some(conn) = old {
            conn.close().await;
        }
    }

    /// Open connections, for the fleet page and the benchmark.
    pub(crate) fn open_connections(&self) -> usize {
        let slots: Vec<Arc<Slot>> = match self.slots.lock() {
            Ok(slots) => slots.values().cloned().collect(),
            Err(_) => return 0,
        };
        slots.iter().filter(|slot| slot.conn.try_lock().map(|c| c.is_some()).unwrap_or(true)).count()
    }

    /// Closes every connection (shutdown).
    pub(crate) async fn close_all(&self) {
        let slots: Vec<Arc<Slot>> = match self.slots.lock() {
            Ok(mut slots) => slots.drain().map(|(_, slot)| slot).collect(),
            Err(_) => return,
        };
        for slot in slots {
            if let Some(conn) = slot.conn.lock().await.take() {
                conn.close().await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hop(id: i64, port: u16) -> Hop {
        Hop {
            host_id: id,
            address: "127.0.0.1".into(),
            port,
            user: format!("user{id}"),
            pinned_keys: vec![format!("ssh-ed25519 KEY{id}")],
            credential_id: 1,
            secret: Zeroizing::new(b"secret".to_vec()),
        }
    }

    #[test]
    fn each_hop_has_its_own_alias_key_and_jump() {
        let route = Route { hops: vec![hop(1, 2201), hop(2, 2202)] };
        let config = route.ssh_config(Path::new("/run/stw-x"), &SshConfig::default(), None);
        let target = config.split("Host stw-host-2").nth(1).unwrap_or_default();
        assert!(target.contains("ProxyJump stw-host-1"), "{config}");
        assert!(target.contains("HostKeyAlias stw-host-2"));
        assert!(target.contains("IdentityFile /run/stw-x/id-2"));
        assert!(config.contains("StrictHostKeyChecking yes"));
        assert_eq!(route.known_hosts(), "stw-host-1 ssh-ed25519 KEY1\nstw-host-2 ssh-ed25519 KEY2\n");
    }

    #[test]
    fn the_signature_follows_every_connection_setting() {
        let base = Route { hops: vec![hop(1, 22)] }.signature();
        assert_eq!(base, Route { hops: vec![hop(1, 22)] }.signature());
        assert_ne!(base, Route { hops: vec![hop(1, 2222)] }.signature());
        let mut rekeyed = hop(1, 22);
        rekeyed.secret = Zeroizing::new(b"other".to_vec());
        assert_ne!(base, Route { hops: vec![rekeyed] }.signature());
    }
}
