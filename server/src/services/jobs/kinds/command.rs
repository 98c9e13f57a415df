//! `command`: runs one program with its arguments on each host, never through a shell, its
//! output streamed to the job's log line by line.

use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::Value;
use steward_agent::{ExecRequest, Stream};
use steward_frontend::contract::JobInput;

use crate::services::error::Error;
use crate::services::jobs::context::{HostTarget, JobContext};
use crate::services::jobs::kind::{HostWork, JobKind, KindInfo};
use crate::services::jobs::{JobFailure, Outcome};

pub struct RunCommand;

static INFO: KindInfo = KindInfo {
    idempotent: false,
    changes_hosts: true,
    timeout: Duration::from_secs(60 * 60),
    startable: true,
    takes_argv: true,
    ..KindInfo::new("command", "Run a command")
};

#[derive(Deserialize)]
struct Payload {
    #[serde(default)]
    argv: Vec<String>,
    timeout_secs: Option<u64>,
}

#[async_trait]
impl JobKind for RunCommand {
    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    fn payload(&self, input: &JobInput) -> Result<Value, Error> {
        let mut payload = self.common_payload(input)?;
        let argv: Vec<Value> = input.argv.lines().map(|l| Value::String(l.to_owned())).collect();
        payload["argv"] = Value::Array(argv);
        Ok(payload)
    }

    fn validate(&self, payload: &Value) -> Result<(), Error> {
        let argv = serde_json::from_value::<Payload>(payload.clone()).map(|p| p.argv).unwrap_or_default();
        if argv.first().is_none_or(|program| program.trim().is_empty()) {
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
}

#[async_trait]
impl HostWork for RunCommand {
    async fn run_host(&self, ctx: &JobContext, host: &HostTarget) -> Outcome {
        let payload: Payload = ctx.payload()?;
        let mut agent = ctx.ssh.agent(host.id).await.map_err(JobFailure::from)?;
        let request = ExecRequest {
            argv: payload.argv,
            stdin: None,
            cwd: None,
            env: vec![],
            timeout_secs: payload.timeout_secs.unwrap_or(30 * 60),
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
