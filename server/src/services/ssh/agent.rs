//! The `steward-agent` on a host: installed on demand under the SSH user's home, checked by
//! SHA-256 before a connection first uses it, started for the length of a connection and
//! spoken to in JSON lines (see the `steward_agent` protocol).
//!
//! The only remote shell commands Steward sends are the fixed ones below (check, install,
//! remove); they contain no user text. Everything else goes to the agent as JSON, and the
//! agent runs programs from argument vectors.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use openssh::{ChildStdin, ChildStdout, Stdio};
use sha2::{Digest, Sha256};
use steward_agent::{
    ErrorKind, ExecRequest, Exited, Facts, FactsRequest, FileContent, PROTOCOL_VERSION, Request, Response, Stream,
    WRITE_CHUNK_BYTES, WriteFileRequest, Written,
};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio_util::sync::CancellationToken;

use super::SshFailure;
use super::pool::{Conn, Lease};

include!(concat!(env!("OUT_DIR"), "/agent.rs"));

/// How long an idle agent may take to answer the hello that shows it is still alive.
const IDLE_HELLO_TIMEOUT: Duration = Duration::from_secs(5);

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
    let sha256: String = Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect();
    let path = format!("{AGENT_DIR}/agent-{}-{}", env!("CARGO_PKG_VERSION"), &sha256[..12]);
    Some(Build { bytes, sha256, path })
});

fn build() -> Result<&'static Build, SshFailure> {
    BUILD.as_ref().ok_or_else(|| {
        SshFailure::Other("this build of Steward has no steward-agent embedded; build it with scripts/build.sh".into())
    })
}

/// Runs a fixed shell script on the host (never user text) and returns its stdout.
async fn run_script(conn: &Conn, script: &str, stdin: Option<&[u8]>) -> Result<String, SshFailure> {
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
    async fn start(conn: &Conn) -> Result<Self, SshFailure> {
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

    async fn exchange(&mut self, request: &Request) -> Result<Response, SshFailure> {
        self.send(request).await?;
        self.recv().await
    }
}

fn lost(err: std::io::Error) -> SshFailure {
    SshFailure::Lost(err.to_string())
}

fn unexpected(response: &Response) -> SshFailure {
    match response {
        Response::Error { kind, message } => SshFailure::from_agent(*kind, message),
        other => SshFailure::Other(format!("the agent answered out of turn: {other:?}")),
    }
}

/// An agent leased for some requests; it goes back to the connection when dropped, unless a
/// request broke off half-way.
pub struct Agent {
    process: Option<AgentProcess>,
    lease: Lease,
    timeout: Duration,
    /// False once raw requests may have left the process mid-protocol.
    reusable: bool,
}

impl Drop for Agent {
    fn drop(&mut self) {
        if let Some(process) = self.process.take().filter(|_| self.reusable)
            && let Ok(mut idle) = self.lease.conn.idle_agents.lock()
        {
            idle.push(process);
        }
    }
}

impl Agent {
    pub(crate) async fn start(lease: Lease, timeout: Duration) -> Result<Self, SshFailure> {
        let idle = lease.conn.idle_agents.lock().ok().and_then(|mut idle| idle.pop());
        // An agent that sat idle may have died with its host; a hello shows it is alive.
        let alive = match idle {
            Some(mut process) => {
                let hello = tokio::time::timeout(IDLE_HELLO_TIMEOUT, process.exchange(&Request::Hello)).await;
                matches!(hello, Ok(Ok(Response::Hello { .. }))).then_some(process)
            }
            None => None,
        };
        let process = match alive {
            Some(process) => process,
            None => AgentProcess::start(&lease.conn).await.inspect_err(|failure| {
                if failure.is_connection_problem() {
                    lease.conn.mark_broken();
                }
            })?,
        };
        Ok(Self { process: Some(process), lease, timeout, reusable: true })
    }

    /// Runs one request to its final answer within the timeout. On any failure the process is
    /// dropped (which stops it on the host) rather than reused in an unknown state.
    async fn call<T>(
        &mut self,
        work: impl AsyncFnOnce(&mut AgentProcess) -> Result<T, SshFailure>,
    ) -> Result<T, SshFailure> {
        let Some(mut process) = self.process.take() else {
            return Err(SshFailure::Other("the agent was lost by an earlier request".into()));
        };
        match tokio::time::timeout(self.timeout, work(&mut process)).await {
            Ok(Ok(value)) => {
                self.process = Some(process);
                Ok(value)
            }
            Ok(Err(failure)) => {
                if failure.is_connection_problem() {
                    self.lease.conn.mark_broken();
                }
                // The agent refusing a request leaves it in a clean state.
                if failure.is_refusal() {
                    self.process = Some(process);
                }
                Err(failure)
            }
            Err(_) => Err(SshFailure::Timeout),
        }
    }

    /// Stops this agent and removes every agent Steward installed for this user
    /// (`steward host forget`).
    pub(crate) async fn remove_agents(mut self) -> Result<(), SshFailure> {
        self.process = None;
        *self.lease.conn.agent_checked.lock().await = false;
        run_script(&self.lease.conn, &format!("rm -rf -- {AGENT_DIR}"), None).await.map(drop)
    }

    /// Raw protocol access, for tests that break a session off half-way.
    pub async fn send_raw(&mut self, request: &Request) -> Result<(), SshFailure> {
        self.reusable = false;
        let process = self.process.as_mut().ok_or_else(|| SshFailure::Other("no agent".into()))?;
        process.send(request).await
    }

    pub async fn facts(&mut self, request: FactsRequest) -> Result<Facts, SshFailure> {
        self.call(async |agent: &mut AgentProcess| match agent.exchange(&Request::Facts(request)).await? {
            Response::Facts(facts) => Ok(*facts),
            other => Err(unexpected(&other)),
        })
        .await
    }

    pub async fn read_file(&mut self, path: &str) -> Result<Option<(Vec<u8>, FileContent)>, SshFailure> {
        let path = path.to_owned();
        self.call(async |agent: &mut AgentProcess| match agent.exchange(&Request::ReadFile { path }).await? {
            Response::File(file) if !file.exists => Ok(None),
            Response::File(file) => {
                let bytes = BASE64.decode(&file.content).map_err(|err| SshFailure::Other(err.to_string()))?;
                Ok(Some((bytes, FileContent { content: String::new(), ..file })))
            }
            other => Err(unexpected(&other)),
        })
        .await
    }

    /// Removes a file; `false` when it was not there.
    pub async fn remove_file(&mut self, path: &str) -> Result<bool, SshFailure> {
        let path = path.to_owned();
        self.call(async |agent: &mut AgentProcess| match agent.exchange(&Request::RemoveFile { path }).await? {
            Response::Removed { existed } => Ok(existed),
            other => Err(unexpected(&other)),
        })
        .await
    }

    /// Fetches an `http://` URL from the host itself: the status and the start of the body.
    pub async fn http_get(&mut self, url: &str, timeout_secs: u64) -> Result<(u16, String), SshFailure> {
        let request = Request::HttpGet { url: url.to_owned(), timeout_secs };
        self.timeout = self.timeout.max(Duration::from_secs(timeout_secs + 10));
        self.call(async |agent: &mut AgentProcess| match agent.exchange(&request).await? {
            Response::Http { code, body } => Ok((code, body)),
            other => Err(unexpected(&other)),
        })
        .await
    }

    /// Writes `content` to `options.path` atomically; `options.size` and `sha256` are filled in.
    pub async fn write_file(&mut self, mut options: WriteFileRequest, content: &[u8]) -> Result<Written, SshFailure> {
        options.size = content.len() as u64;
        options.sha256 = Sha256::digest(content).iter().map(|b| format!("{b:02x}")).collect();
        self.call(async |agent: &mut AgentProcess| {
            agent.send(&Request::WriteFile(options)).await?;
            for chunk in content.chunks(WRITE_CHUNK_BYTES) {
                agent.send(&Request::Chunk { data: BASE64.encode(chunk) }).await?;
            }
            match agent.recv().await? {
                Response::Written(written) => Ok(written),
                other => Err(unexpected(&other)),
            }
        })
        .await
    }

    /// Runs a program from its argument vector, handing each piece of output to `output` as it
    /// arrives. Cancelling `cancel` stops the program (and its process group) on the host.
    pub async fn exec(
        &mut self,
        request: ExecRequest,
        mut output: impl FnMut(Stream, &str),
        cancel: &CancellationToken,
    ) -> Result<Exited, SshFailure> {
        self.timeout = self.timeout.max(Duration::from_secs(request.timeout_secs + 10));
        self.call(async |agent: &mut AgentProcess| {
            agent.send(&Request::Exec(request)).await?;
            let mut cancel_sent = false;
            loop {
                let response = tokio::select! {
                    response = agent.recv() => response?,
                    () = cancel.cancelled(), if !cancel_sent => {
                        cancel_sent = true;
                        agent.send(&Request::Cancel).await?;
                        continue;
                    }
                };
                match response {
                    Response::Output { stream, data } => output(stream, &data),
                    Response::Exited(exited) => return Ok(exited),
                    // A `busy` answer to a cancel that crossed the program's end.
                    Response::Error { kind: ErrorKind::Busy, .. } => {}
                    other => return Err(unexpected(&other)),
                }
            }
        })
        .await
    }
}
