//! Job kinds. Each kind says what it does per host (or for the whole job), whether running it
//! twice is harmless (then an interrupted run is re-queued), whether it changes hosts (then it
//! takes their locks), its time limit and its retries. A new kind is one type here plus a line
//! in [`registry`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use steward_agent::{ExecRequest, Stream};

use super::runner::{HostTarget, JobContext};
use super::{JobFailure, Outcome};
use crate::services::error::Error;

#[async_trait]
pub trait JobKind: Send + Sync {
    fn name(&self) -> &'static str;
    fn title(&self) -> &'static str;
    /// Running it again after an interruption is harmless.
    fn idempotent(&self) -> bool;
    /// It changes hosts: one such job per host at a time.
    fn changes_hosts(&self) -> bool;
    fn timeout(&self) -> Duration;
    /// Attempts for a single-host job whose failure is worth retrying (unreachable host...).
    fn max_attempts(&self) -> i64 {
        1
    }
    /// Checks the payload when the job is queued, so bad input fails at once.
    fn validate(&self, _payload: &Value) -> Result<(), Error> {
        Ok(())
    }
    /// Runs the whole job; the default fans out over the target's hosts.
    async fn run(&self, ctx: &JobContext) -> Result<String, JobFailure> {
        ctx.fan_out(self).await
    }
    /// Work on one host.
    async fn run_host(&self, _ctx: &JobContext, _host: &HostTarget) -> Outcome {
        Ok("nothing to do".into())
    }
}

pub type Registry = HashMap<&'static str, Arc<dyn JobKind>>;

/// The engine's own kinds plus those of other services (pushes, drift checks...).
pub fn registry(more: Vec<Arc<dyn JobKind>>) -> Registry {
    let kinds: Vec<Arc<dyn JobKind>> = vec![Arc::new(Facts), Arc::new(RunCommand), Arc::new(Noop)];
    kinds.into_iter().chain(more).map(|kind| (kind.name(), kind)).collect()
}

/// Collects facts on each host (what "check now" does, as a job that can be scheduled).
struct Facts;

#[async_trait]
impl JobKind for Facts {
    fn name(&self) -> &'static str {
        "facts"
    }
    fn title(&self) -> &'static str {
        "Check facts"
    }
    fn idempotent(&self) -> bool {
        true
    }
    fn changes_hosts(&self) -> bool {
        false
    }
    fn timeout(&self) -> Duration {
        Duration::from_secs(15 * 60)
    }
    fn max_attempts(&self) -> i64 {
        3
    }
    async fn run_host(&self, ctx: &JobContext, host: &HostTarget) -> Outcome {
        let check = ctx.ssh.check(host.id).await.map_err(|err| JobFailure::fatal(err.to_string()))?;
        if check.state != "reachable" {
            let retryable = matches!(check.state.as_str(), "unreachable" | "refused" | "timeout");
            return Err(JobFailure { message: check.message, retryable });
        }
        let facts = check.facts.unwrap_or_default();
        let fullest = facts.mounts.iter().max_by_key(|m| m.use_percent());
        Ok(format!(
            "{}; {}{}",
            facts.os,
            fullest.map_or_else(String::new, |m| format!("disk {}% on {}", m.use_percent(), m.path)),
            if facts.reboot_required { "; reboot required" } else { "" }
        ))
    }
}

/// Runs one program with its arguments on each host (never through a shell).
struct RunCommand;

fn argv_of(payload: &Value) -> Vec<String> {
    payload["argv"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

#[async_trait]
impl JobKind for RunCommand {
    fn name(&self) -> &'static str {
        "command"
    }
    fn title(&self) -> &'static str {
        "Run a command"
    }
    fn idempotent(&self) -> bool {
        false
    }
    fn changes_hosts(&self) -> bool {
        true
    }
    fn timeout(&self) -> Duration {
        Duration::from_secs(60 * 60)
    }
    fn validate(&self, payload: &Value) -> Result<(), Error> {
        let argv = argv_of(payload);
        if argv.is_empty() || argv[0].trim().is_empty() {
            return Err(Error::invalid(
                "argv",
                "Give the program to run on the first line, then one argument per line",
            ));
        }
        if argv.iter().any(|a| a.contains('\0')) {
            return Err(Error::invalid("argv", "Arguments cannot contain NUL bytes"));
        }
        Ok(())
    }
    async fn run_host(&self, ctx: &JobContext, host: &HostTarget) -> Outcome {
        let argv = argv_of(&ctx.payload);
        let mut agent = ctx.ssh.agent(host.id).await.map_err(JobFailure::from)?;
        let request = ExecRequest {
            argv,
            stdin: None,
            cwd: None,
            env: vec![],
            timeout_secs: ctx.payload["timeout_secs"].as_u64().unwrap_or(30 * 60),
        };
        let name = host.name.clone();
        let mut partial = [String::new(), String::new()];
        let exited = agent
            .exec(
                request,
                |stream, data| {
                    // Whole lines go to the log, each marked with its host.
                    let buffer = &mut partial[stream as usize];
                    buffer.push_str(data);
                    while let Some(end) = buffer.find('\n') {
                        let line: String = buffer.drain(..=end).collect();
                        let mark = if stream == Stream::Stderr { "!" } else { "" };
                        ctx.log(&format!("[{name}]{mark} {}", line.trim_end()));
                    }
                },
                &ctx.cancel,
            )
            .await
            .map_err(JobFailure::from)?;
        for (buffer, mark) in partial.iter().zip(["", "!"]) {
            if !buffer.is_empty() {
                ctx.log(&format!("[{name}]{mark} {buffer}"));
            }
        }
        match (exited.code, exited.timed_out, exited.cancelled) {
            (_, _, true) => Err(JobFailure::fatal("cancelled")),
            (_, true, _) => Err(JobFailure::fatal("timed out")),
            (Some(0), ..) => Ok("exit 0".into()),
            (Some(code), ..) => Err(JobFailure::fatal(format!("exit {code}"))),
            (None, ..) => Err(JobFailure::fatal(format!("killed by signal {}", exited.signal.unwrap_or_default()))),
        }
    }
}

/// Does nothing, quickly: for measuring the engine itself.
struct Noop;

#[async_trait]
impl JobKind for Noop {
    fn name(&self) -> &'static str {
        "noop"
    }
    fn title(&self) -> &'static str {
        "Nothing (test)"
    }
    fn idempotent(&self) -> bool {
        true
    }
    fn changes_hosts(&self) -> bool {
        false
    }
    fn timeout(&self) -> Duration {
        Duration::from_secs(60)
    }
    async fn run(&self, ctx: &JobContext) -> Result<String, JobFailure> {
        if let Some(ms) = ctx.payload["sleep_ms"].as_u64() {
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(ms)) => {}
                () = ctx.cancel.cancelled() => return Err(JobFailure::fatal("cancelled")),
            }
        }
        Ok("done".into())
    }
}
