//! One SSH connection to a host and the agents running over it: the pooled master (with its
//! private directory of keys and known hosts) and the `steward-agent` processes started on
//! it, installed on demand and checked by SHA-256. The pool keeps connections; [`Agent`]
//! leases an agent process for requests.
//!
//! The only remote shell commands Steward sends are the fixed ones below (check, install,
//! remove); they contain no user text. Everything else goes to the agent as JSON, and the
//! agent runs programs from argument vectors.
//!
//! [`Agent`]: super::agent::Agent

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use openssh::{ChildStdin, ChildStdout, Stdio};
use steward_agent::{PROTOCOL_VERSION, Request, Response};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::OwnedSemaphorePermit;

use super::SshFailure;

include!(concat!(env!("OUT_DIR"), "/agent.rs"));

/// Where agents live on a host, relative to the SSH user's home.
pub(crate) const AGENT_DIR: &str = ".cache/steward";

/// The embedded agent, its checksum and its path on hosts.
pub(crate) struct Build {
    pub bytes: &'static [u8],
    pub sha256: String,
    /// `.cache/steward/agent-<version>-<sha256 prefix>`
    pub path: String,
}

pub(crate) static BUILD: LazyLock<Option<Build>> = LazyLock::new(|| {
    let bytes = AGENT_X86_64?;
    let sha256 = crate::digest::sha256_hex(bytes);
    let path = format!("{AGENT_DIR}/agent-{}-{}", env!("CARGO_PKG_VERSION"), &sha256[..12]);
    Some(Build { bytes, sha256, path })
});

fn build() -> Result<&'static Build, SshFailure> {
    BUILD.as_ref().ok_or_else(|| {
        SshFailure::Other("this build of Steward has no steward-agent embedded; build it with scripts/build.sh".into())
    })
}

/// Runs a fixed shell script on the host (never user text) and returns its stdout.
pub(super) async fn run_script(conn: &Conn, script: &str, stdin: Option<&[u8]>) -> Result<String, SshFailure> {
    let mut command = conn.session.clone().arc_raw_command(script);
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    command.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    let mut child = command.spawn().await.map_err(|err| session_error(conn, &err))?;
    if let (Some(mut pipe), Some(bytes)) = (child.stdin().take(), stdin) {
        pipe.write_all(bytes).await.map_err(|err| SshFailure::Other(format!("uploading the agent failed: {err}")))?;
        pipe.shutdown().await.map_err(|err| SshFailure::Other(format!("uploading the agent failed: {err}")))?;
    }
    let output = child.wait_with_output().await.map_err(|err| session_error(conn, &err))?;
    match output.status.code() {
        Some(0) => Ok(String::from_utf8_lossy(&output.stdout).into_owned()),
        Some(255) => {
            conn.mark_broken();
            Err(SshFailure::classify(&String::from_utf8_lossy(&output.stderr)))
        }
        _ => Err(SshFailure::Other(format!(
            "the host could not prepare the agent: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ))),
    }
}

/// Starting a command through the master failed: the connection is gone.
fn session_error(conn: &Conn, err: &openssh::Error) -> SshFailure {
    conn.mark_broken();
    match SshFailure::classify(&err.to_string()) {
        SshFailure::Other(message) => SshFailure::Lost(message),
        failure => failure,
    }
}

/// Makes sure the right agent is on the host: the architecture fits and the file's checksum
/// matches; otherwise uploads it (to a temporary name, verified, then renamed) and removes
/// other versions.
async fn ensure_installed(conn: &Conn) -> Result<(), SshFailure> {
    let mut checked = conn.agent_checked.lock().await;
    if *checked {
        return Ok(());
    }
    let build = build()?;
    let probe = format!("uname -m; sha256sum -- {} 2>/dev/null || true", build.path);
    let output = run_script(conn, &probe, None).await?;
    let mut lines = output.lines();
    let arch = lines.next().unwrap_or_default().trim();
    if arch != "x86_64" {
        return Err(SshFailure::Other(format!("Steward has no agent for this host's architecture ({arch})")));
    }
    let installed = lines.next().and_then(|l| l.split_whitespace().next()).unwrap_or_default();
    if installed != build.sha256 {
        let name = build.path.rsplit('/').next().unwrap_or_default();
        let install = format!(
            "set -e; umask 077; mkdir -p {AGENT_DIR}; t={AGENT_DIR}/.upload-$$; cat > \"$t\"; \
             echo '{sha}  '\"$t\" | sha256sum -c --quiet; chmod 700 \"$t\"; mv -f \"$t\" {path}; \
             find {AGENT_DIR} -maxdepth 1 -name 'agent-*' ! -name '{name}' -exec rm -f {{}} +",
            sha = build.sha256,
            path = build.path,
        );
        run_script(conn, &install, Some(build.bytes)).await?;
        tracing::info!(agent = %build.path, "installed steward-agent");
    }
    *checked = true;
    Ok(())
}

/// A running agent.
pub(crate) struct AgentProcess {
    // Dropping the child kills the local ssh, which closes the agent's stdin: it then stops.
    _child: openssh::Child<Arc<openssh::Session>>,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl AgentProcess {
    pub(super) async fn start(conn: &Conn) -> Result<Self, SshFailure> {
        ensure_installed(conn).await?;
        let build = build()?;
        // `exec`: no shell stays in between, so signals and exit reach the agent itself.
        let mut command = conn.session.clone().arc_raw_command(format!("exec {}", build.path));
        command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::null());
        let mut child = command.spawn().await.map_err(|err| session_error(conn, &err))?;
        let (Some(stdin), Some(stdout)) = (child.stdin().take(), child.stdout().take()) else {
            return Err(SshFailure::Other("the agent's pipes did not open".into()));
        };
        let mut agent = Self { _child: child, stdin, stdout: BufReader::new(stdout) };
        match agent.exchange(&Request::Hello).await? {
            Response::Hello { protocol, .. } if protocol == PROTOCOL_VERSION => Ok(agent),
            Response::Hello { protocol, .. } => {
                // Same file name but another protocol: only a damaged install can do that.
                *conn.agent_checked.lock().await = false;
                Err(SshFailure::Other(format!(
                    "the agent on the host speaks protocol {protocol}, Steward {PROTOCOL_VERSION}; it will be reinstalled"
                )))
            }
            other => Err(unexpected(&other)),
        }
    }

    pub(crate) async fn send(&mut self, request: &Request) -> Result<(), SshFailure> {
        let mut line = serde_json::to_vec(request).map_err(|err| SshFailure::Other(err.to_string()))?;
        line.push(b'\n');
        self.stdin.write_all(&line).await.map_err(lost)?;
        self.stdin.flush().await.map_err(lost)
    }

    pub(crate) async fn recv(&mut self) -> Result<Response, SshFailure> {
        let mut line = String::new();
        if self.stdout.read_line(&mut line).await.map_err(lost)? == 0 {
            return Err(SshFailure::Lost("the agent stopped".into()));
        }
        serde_json::from_str(&line)
            .map_err(|err| SshFailure::Other(format!("the agent sent a malformed answer: {err}")))
    }

    pub(super) async fn exchange(&mut self, request: &Request) -> Result<Response, SshFailure> {
        self.send(request).await?;
        self.recv().await
    }
}

fn lost(err: std::io::Error) -> SshFailure {
    SshFailure::Lost(err.to_string())
}

pub(super) fn unexpected(response: &Response) -> SshFailure {
    match response {
        Response::Error { kind, message } => SshFailure::from_agent(*kind, message),
        other => SshFailure::Other(format!("the agent answered out of turn: {other:?}")),
    }
}

/// A private directory (mode 0700) that is removed when dropped.
pub(crate) struct Scratch(PathBuf);

impl Scratch {
    pub(crate) fn new(parent: &Path) -> std::io::Result<Self> {
        let mut parents = std::fs::DirBuilder::new();
        std::os::unix::fs::DirBuilderExt::mode(&mut parents, 0o700);
        parents.recursive(true).create(parent)?;
        let id = uuid::Uuid::new_v4().simple().to_string();
        // Short: a unix socket path (the control socket lives below) has at most 108 bytes.
        let dir = parent.join(format!("stw-{}", &id[..12]));
        let mut builder = std::fs::DirBuilder::new();
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(&dir)?;
        Ok(Self(dir))
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }

    pub(crate) fn write_private(&self, name: &str, content: &[u8]) -> std::io::Result<PathBuf> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let path = self.0.join(name);
        std::fs::File::options().write(true).create_new(true).mode(0o600).open(&path)?.write_all(content)?;
        Ok(path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An open master connection to one host.
pub(crate) struct Conn {
    pub(crate) session: Arc<openssh::Session>,
    /// The route it was opened for: another route needs another connection.
    pub(super) signature: [u8; 32],
    last_used: Mutex<Instant>,
    broken: AtomicBool,
    /// Whether the agent binary on the host was checked on this connection.
    pub(crate) agent_checked: tokio::sync::Mutex<bool>,
    /// Agents started on this connection and free for the next request.
    pub(crate) idle_agents: Mutex<Vec<AgentProcess>>,
    // Last: the directory must outlive the master that uses it.
    _scratch: Scratch,
}

impl Conn {
    pub(super) fn new(session: openssh::Session, signature: [u8; 32], scratch: Scratch) -> Self {
        Self {
            session: Arc::new(session),
            signature,
            last_used: Mutex::new(Instant::now()),
            broken: AtomicBool::new(false),
            agent_checked: tokio::sync::Mutex::new(false),
            idle_agents: Mutex::new(Vec::new()),
            _scratch: scratch,
        }
    }

    pub(super) fn is_broken(&self) -> bool {
        self.broken.load(Ordering::Relaxed)
    }

    pub(super) fn touch(&self) {
        if let Ok(mut at) = self.last_used.lock() {
            *at = Instant::now();
        }
    }

    pub(super) fn idle_for(&self) -> Duration {
        self.last_used.lock().map(|at| at.elapsed()).unwrap_or_default()
    }

    /// The connection failed under a request: the next lease opens a new one.
    pub(crate) fn mark_broken(&self) {
        self.broken.store(true, Ordering::Relaxed);
    }

    pub(super) async fn close(self: Arc<Self>) {
        if let Ok(mut agents) = self.idle_agents.lock() {
            agents.clear();
        }
        if let Some(conn) = Arc::into_inner(self)
            && let Some(session) = Arc::into_inner(conn.session)
        {
            let _ = session.close().await;
        }
    }
}

/// The right to use a host's connection; at most `max_sessions_per_host` exist per host.
pub(crate) struct Lease {
    pub(crate) conn: Arc<Conn>,
    /// Opened for this lease (not reused from the pool).
    pub(crate) fresh: bool,
    pub(super) _permit: OwnedSemaphorePermit,
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.conn.touch();
    }
}
