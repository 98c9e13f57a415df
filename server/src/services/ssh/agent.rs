//! Requests to the `steward-agent` on a host, spoken in JSON lines (see the `steward_agent`
//! protocol) over an agent process leased from the host's connection.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use steward_agent::{
    ErrorKind, ExecRequest, Exited, Facts, FactsRequest, FileContent, Request, Response, Stream, WRITE_CHUNK_BYTES,
    WriteFileRequest, Written,
};
use tokio_util::sync::CancellationToken;

use super::SshFailure;
use super::conn::{AGENT_DIR, AgentProcess, Lease, run_script, unexpected};

/// How long an idle agent may take to answer the hello that shows it is still alive.
const IDLE_HELLO_TIMEOUT: Duration = Duration::from_secs(5);

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
        options.sha256 = crate::digest::sha256_hex(content);
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
