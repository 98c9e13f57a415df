//! The `push` job: per host, render → read what is live → upload changed files beside their
//! targets and run their checks → swap them in atomically (keeping what they replace) → run the
//! services' checks and reloads → health checks. Any failure after the swap puts the previous
//! files back and reloads again, so a host ends with the new configuration working or the old
//! one in place, never a mix. Every line it logs goes through the revision's secret masker.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use steward_agent::{ExecRequest, WriteFileRequest};
use tokio_util::sync::CancellationToken;

use super::{Configs, HostPlan, sha256_hex};
use crate::services::error::Error;
use crate::services::jobs::context::{HostTarget, JobContext};
use crate::services::jobs::kind::{HostWork, JobKind, KindInfo};
use crate::services::jobs::{JobFailure, Outcome};
use crate::services::ssh::{Agent, SshFailure};
use crate::services::stacks::manifest::ROLES;
use crate::services::stacks::{HealthCheck, RenderedFile, staged_path};

/// Longest a check, reload or health command may run.
const COMMAND_TIMEOUT_SECS: u64 = 120;
/// Pause between the reloads and the first health probe.
const SETTLE: Duration = Duration::from_millis(500);
/// Most command output kept for a failure message.
const OUTPUT_CAP: usize = 2000;

pub struct Push {
    configs: Configs,
}

impl Push {
    pub fn new(configs: Configs) -> Self {
        Self { configs }
    }
}

/// Pushing the same revision again finishes what an interrupted push started: idempotent.
static INFO: KindInfo = KindInfo {
    changes_hosts: true,
    timeout: Duration::from_secs(60 * 60),
    startable: true,
    raises_alerts: true,
    ..KindInfo::new("push", "Push configuration (latest revision)")
};

#[async_trait]
impl JobKind for Push {
    fn info(&self) -> &'static KindInfo {
        &INFO
    }
    fn validate(&self, payload: &Value) -> Result<(), Error> {
        if !payload["revision_id"].is_null() && payload["revision_id"].as_i64().is_none() {
            return Err(Error::invalid("revision_id", "Choose a revision"));
        }
        if let Some(role) =
            payload["roles"].as_array().into_iter().flatten().find(|r| r.as_str().is_none_or(|r| !ROLES.contains(&r)))
        {
            return Err(Error::invalid("roles", format!("{role} is not a host role ({})", ROLES.join(", "))));
        }
        Ok(())
    }
}

#[async_trait]
impl HostWork for Push {
    async fn run_host(&self, ctx: &JobContext, host: &HostTarget) -> Outcome {
        let store = &self.configs.inner.store;
        let revision = match ctx.payload["revision_id"].as_i64() {
            Some(id) => {
                let revision = self.configs.revision(id).await.map_err(|e| JobFailure::fatal(e.to_string()))?;
                if revision.instance_id != host.instance_id {
                    return Err(JobFailure::fatal("the chosen revision belongs to another instance"));
                }
                revision
            }
            None => match store.latest_revision(host.instance_id).await {
                Ok(Some(revision)) => revision,
                Ok(None) => return Ok("nothing to push: the instance has no saved settings".into()),
                Err(err) => return Err(JobFailure::store("read the revisions", &err)),
            },
        };
        let plan = self.configs.plan(revision, host.id).await.map_err(JobFailure::fatal)?;
        let agent = ctx.ssh.agent(host.id).await.map_err(JobFailure::from)?;
        let mut push = HostPush { ctx, host, plan: &plan, agent, configs: &self.configs };
        // Whatever leaves the push (its summary, its failure) may quote rendered text: a health
        // URL, a command, a rollback problem. Masked here, once, for the job log and the API.
        let masker = &plan.masker;
        push.run()
            .await
            .map(|summary| masker.mask(&summary))
            .map_err(|failure| JobFailure { message: masker.mask(&failure.message), ..failure })
    }
}

/// A file this push changes on the host.
struct Change<'a> {
    file: &'a RenderedFile,
    /// What was there before (content and mode), put back on failure; `None`: nothing was.
    before: Option<(Vec<u8>, u32)>,
    /// Still to be written. False when an interrupted push already swapped it in: it only
    /// needs what that push never got to (checks, reloads, health), or to be taken back.
    write: bool,
    live_sha: Option<String>,
    new_sha: String,
}

struct HostPush<'a> {
    ctx: &'a JobContext,
    host: &'a HostTarget,
    plan: &'a HostPlan,
    agent: Agent,
    configs: &'a Configs,
}

fn cap(text: &str) -> String {
    let text = text.trim();
    if text.len() <= OUTPUT_CAP {
        return text.to_owned();
    }
    let mut end = OUTPUT_CAP;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

impl HostPush<'_> {
    fn log(&self, line: &str) {
        self.ctx.log(&format!("[{}] {}", self.host.name, self.plan.masker.mask(line)));
    }

    /// Runs a command on the host; Ok(output) when it exits 0, Err(reason with output).
    async fn command(
        &mut self,
        argv: &[String],
        cancel: &CancellationToken,
    ) -> Result<Result<String, String>, SshFailure> {
        let request = ExecRequest {
            argv: argv.to_vec(),
            stdin: None,
            cwd: None,
            env: vec![],
            timeout_secs: COMMAND_TIMEOUT_SECS,
        };
        let mut output = String::new();
        let exited = self
            .agent
            .exec(
                request,
                |_, data| {
                    if output.len() < OUTPUT_CAP * 2 {
                        output.push_str(data);
                    }
                },
                cancel,
            )
            .await;
        let exited = match exited {
            Ok(exited) => exited,
            Err(SshFailure::CommandNotFound(_)) => return Ok(Err(format!("{} is not installed on the host", argv[0]))),
            Err(err) => return Err(err),
        };
        let output = self.plan.masker.mask(&cap(&output));
        Ok(match (exited.code, exited.timed_out, exited.cancelled) {
            (_, _, true) => Err("cancelled".into()),
            (_, true, _) => Err(format!("timed out after {COMMAND_TIMEOUT_SECS} s")),
            (Some(0), ..) => Ok(output),
            (Some(code), ..) if output.is_empty() => Err(format!("exit {code}")),
            (Some(code), ..) => Err(format!("exit {code}: {output}")),
            (None, ..) => Err(format!("killed by signal {}", exited.signal.unwrap_or_default())),
        })
    }

    async fn run(&mut self) -> Outcome {
        let number = self.plan.revision.number;
        // What the last good push wrote here: a file that is already as rendered but was never
        // part of a good push was swapped in by a push that stopped (Steward killed) before its
        // reloads and health checks.
        let store = &self.configs.inner.store;
        let verified: std::collections::HashMap<String, String> = store
            .pushed_files(self.host.id)
            .await
            .map_err(|err| JobFailure::store("read what was pushed before", &err))?
            .into_iter()
            .collect();
        let mut changes = Vec::new();
        let mut pushed = Vec::new();
        for file in &self.plan.files {
            let live = self.agent.read_file(&file.path).await.map_err(JobFailure::from)?;
            let new_sha = sha256_hex(file.content.as_bytes());
            pushed.push((file.path.clone(), new_sha.clone()));
            let live_sha = live.as_ref().map(|(_, meta)| meta.sha256.clone());
            if live_sha.as_deref() != Some(new_sha.as_str()) {
                let before = live.map(|(bytes, meta)| (bytes, meta.mode));
                changes.push(Change { file, before, write: true, live_sha, new_sha });
            } else if verified.get(&file.path) != Some(&new_sha) {
                let kept = self.agent.read_file(&previous_path(&file.path)).await.map_err(JobFailure::from)?;
                let before = kept.map(|(bytes, meta)| (bytes, meta.mode));
                changes.push(Change { file, before, write: false, live_sha, new_sha });
            }
        }
        if changes.is_empty() {
            self.record(&pushed).await;
            self.log(&format!("revision {number}: every file is already as rendered"));
            return Ok(format!("revision {number}: no changes"));
        }
        let listed = |write: bool| changes.iter().filter(move |c| c.write == write).map(|c| c.file.path.as_str());
        let to_write: Vec<&str> = listed(true).collect();
        let unfinished: Vec<&str> = listed(false).collect();
        if !to_write.is_empty() {
            self.log(&format!("revision {number}: {} file(s) to change: {}", to_write.len(), to_write.join(", ")));
        }
        if !unfinished.is_empty() {
            self.log(&format!(
                "revision {number}: {} file(s) swapped in by a push that did not finish, to check and reload: {}",
                unfinished.len(),
                unfinished.join(", ")
            ));
        }

        // Check each new file beside its target before anything live changes.
        let never = CancellationToken::new();
        for change in changes.iter().filter(|c| c.write) {
            if change.file.validate.is_empty() {
                continue;
            }
            let staged = staged_path(&change.file.path);
            self.agent
                .write_file(self.write_request(&staged, change.file, None, false), change.file.content.as_bytes())
                .await
                .map_err(JobFailure::from)?;
            let result = self.command(&change.file.validate, &self.ctx.cancel.clone()).await;
            let _ = self.agent.remove_file(&staged).await;
            match result.map_err(JobFailure::from)? {
                Ok(_) => self.log(&format!("{}: validated ({})", change.file.path, change.file.validate[0])),
                Err(why) => {
                    let message = format!("{} failed validation, nothing was changed: {why}", change.file.path);
                    return Err(JobFailure::fatal(message));
                }
            }
        }
        if self.ctx.cancel.is_cancelled() {
            return Err(JobFailure::fatal("cancelled before any file was changed"));
        }

        // Swap each file in; a concurrent change on the host (checksum moved) stops the push.
        // Files an interrupted push swapped in count as applied: a failure takes them back too.
        let mut applied: Vec<&Change<'_>> = changes.iter().filter(|c| !c.write).collect();
        for change in changes.iter().filter(|c| c.write) {
            let request = self.write_request(
                &change.file.path,
                change.file,
                Some(change.live_sha.clone().unwrap_or_default()),
                true,
            );
            match self.agent.write_file(request, change.file.content.as_bytes()).await {
                Ok(_) => {
                    self.log(&format!("{}: written", change.file.path));
                    applied.push(change);
                    // Stored before the next step: if Steward dies now, the log says so.
                    self.ctx.flush_log().await;
                }
                Err(err) => {
                    let why = err.to_string();
                    let restored = self.rollback(&applied, &[], &never).await;
                    return Err(JobFailure::fatal(format!("could not write {}: {why}; {restored}", change.file.path)));
                }
            }
        }

        // Services whose files changed, in the manifest's order: every check, then every reload.
        let affected: Vec<_> = self
            .plan
            .services
            .iter()
            .filter(|s| changes.iter().any(|c| c.file.services.contains(&s.name)))
            .cloned()
            .collect();
        for service in affected.iter().filter(|s| !s.check.is_empty()) {
            match self.command(&service.check, &never).await.map_err(JobFailure::from)? {
                Ok(_) => self.log(&format!("{}: check passed", service.name)),
                Err(why) => {
                    let restored = self.rollback(&applied, &[], &never).await;
                    let message = format!("{} check failed: {why}; {restored}", service.name);
                    return Err(JobFailure::fatal(message));
                }
            }
        }
        let mut reloaded = Vec::new();
        for service in affected.iter().filter(|s| !s.reload.is_empty()) {
            reloaded.push(service.reload.clone());
            match self.command(&service.reload, &never).await.map_err(JobFailure::from)? {
                Ok(_) => self.log(&format!("{}: reloaded", service.name)),
                Err(why) => {
                    let restored = self.rollback(&applied, &reloaded, &never).await;
                    let message = format!("reloading {} failed: {why}; {restored}", service.name);
                    return Err(JobFailure::fatal(message));
                }
            }
        }
        if !reloaded.is_empty() && !self.plan.health.is_empty() {
            // Reloads return before the service has switched over; give it a moment so the
            // first probe does not reach a process about to go away.
            tokio::time::sleep(SETTLE).await;
        }
        let checks = self.plan.health.clone();
        if let Err(why) = self.health(&checks, &never).await.map_err(JobFailure::from)? {
            self.log(&format!("health check failed: {why}"));
            let restored = self.rollback(&applied, &reloaded, &never).await;
            let message = format!("health check failed: {why}; {restored}");
            return Err(JobFailure::fatal(message));
        }
        self.record(&pushed).await;
        let services = if affected.is_empty() {
            String::new()
        } else {
            format!(", reloaded {}", affected.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", "))
        };
        let healthy = if self.plan.health.is_empty() { "" } else { ", healthy" };
        Ok(format!("revision {number}: {} file(s) changed{services}{healthy}", changes.len()))
    }

    fn write_request(&self, path: &str, file: &RenderedFile, expect: Option<String>, keep: bool) -> WriteFileRequest {
        WriteFileRequest {
            path: path.to_owned(),
            size: 0,
            sha256: String::new(),
            mode: file.mode,
            owner: file.owner.clone(),
            group: file.group.clone(),
            expect_current: expect,
            keep_previous: keep,
        }
    }

    /// Runs the health checks, each with its retries; Err(reason) for the first that fails.
    async fn health(
        &mut self,
        checks: &[HealthCheck],
        cancel: &CancellationToken,
    ) -> Result<Result<(), String>, SshFailure> {
        for check in checks {
            let what = &check.label;
            let mut last = String::new();
            for attempt in 1..=check.retries {
                let outcome = match &check.url {
                    Some(url) => match self.agent.http_get(url, 10).await {
                        Ok((status, body)) => {
                            let status_ok = check.expect_status.map_or((200..400).contains(&status), |s| s == status);
                            let body_ok = check.expect_body.as_ref().is_none_or(|b| body.contains(b.as_str()));
                            match (status_ok, body_ok) {
                                (true, true) => Ok(()),
                                (false, _) => Err(format!("{what} answered {status}")),
                                (true, false) => Err(format!("{what} answered {status} without the expected text")),
                            }
                        }
                        Err(err) if err.is_refusal() => Err(err.to_string()),
                        Err(err) => return Err(err),
                    },
                    None => self.command(&check.command, cancel).await?.map(drop),
                };
                match outcome {
                    Ok(()) => {
                        self.log(&format!("healthy: {what}"));
                        last.clear();
                        break;
                    }
                    Err(why) => last = why,
                }
                if attempt < check.retries {
                    tokio::time::sleep(Duration::from_secs(check.interval_secs)).await;
                }
            }
            if !last.is_empty() {
                return Ok(Err(last));
            }
        }
        Ok(Ok(()))
    }

    /// Puts the replaced files back (removing new ones), reloads what was reloaded, and says how
    /// that went (the text ends the failure message).
    async fn rollback(
        &mut self,
        applied: &[&Change<'_>],
        reloaded: &[Vec<String>],
        cancel: &CancellationToken,
    ) -> String {
        let mut problems = Vec::new();
        for change in applied.iter().rev() {
            let path = &change.file.path;
            let result = match &change.before {
                Some((bytes, mode)) => {
                    let mut request = self.write_request(path, change.file, Some(change.new_sha.clone()), false);
                    request.mode = Some(*mode & 0o7777);
                    self.agent.write_file(request, bytes).await.map(drop)
                }
                None => self.agent.remove_file(path).await.map(drop),
            };
            if let Err(err) = result {
                problems.push(format!("{path}: {err}"));
            }
        }
        for argv in reloaded {
            match self.command(argv, cancel).await {
                Ok(Ok(_)) => {}
                Ok(Err(why)) => problems.push(format!("{}: {why}", argv.join(" "))),
                Err(err) => problems.push(err.to_string()),
            }
        }
        let message = if !problems.is_empty() {
            format!("restoring the previous files had problems: {}", problems.join("; "))
        } else if reloaded.is_empty() || self.plan.health.is_empty() {
            "the previous files were restored".to_owned()
        } else {
            tokio::time::sleep(SETTLE).await;
            let checks = self.previous_health().await;
            match self.health(&checks, cancel).await {
                Ok(Ok(())) => "the previous files were restored and are healthy".to_owned(),
                Ok(Err(why)) => format!("the previous files were restored, but the health check still fails: {why}"),
                Err(err) => format!("the previous files were restored; the health check could not run: {err}"),
            }
        };
        self.log(&format!("rollback: {message}"));
        message
    }

    /// The health checks of what was there before: those of the revision pushed last (its URL
    /// or expected answer may differ), else this revision's checks without the expected text.
    async fn previous_health(&self) -> Vec<HealthCheck> {
        let store = &self.configs.inner.store;
        let previous = store.host_config(self.host.id).await.ok().and_then(|r| r.revision_id);
        if let Some(id) = previous.filter(|&id| id != self.plan.revision.id)
            && let Ok(revision) = store.revision(id).await
            && let Ok(plan) = self.configs.plan(revision, self.host.id).await
        {
            return plan.health;
        }
        self.plan.health.iter().cloned().map(|check| HealthCheck { expect_body: None, ..check }).collect()
    }

    async fn record(&self, pushed: &[(String, String)]) {
        let store = &self.configs.inner.store;
        let now = self.configs.inner.clock.now();
        if let Err(err) = store.record_push(self.host.id, self.plan.revision.id, self.ctx.job.id, pushed, now).await {
            tracing::error!(host = self.host.id, error = %err, "could not record a push");
        }
        let _ = self.configs.inner.alerts.clear("config-drift", &drift_target(self.host.id)).await;
    }
}

/// Where the agent keeps the version of `path` that a write replaced.
fn previous_path(path: &str) -> String {
    format!("{path}.steward-previous")
}

pub(crate) fn drift_target(host_id: i64) -> String {
    format!("config:host:{host_id}")
}
