//! `facts`: connects to each host and collects its facts (what "Check now" does, as a job that
//! can be scheduled).

use std::time::Duration;

use async_trait::async_trait;
use steward_frontend::contract::Reachability;

use crate::services::jobs::context::{HostTarget, JobContext};
use crate::services::jobs::kind::{HostWork, JobKind, KindInfo};
use crate::services::jobs::{JobFailure, Outcome};

pub struct Facts;

static INFO: KindInfo = KindInfo {
    max_attempts: 3,
    startable: true,
    raises_alerts: true,
    timeout: Duration::from_secs(15 * 60),
    ..KindInfo::new("facts", "Check facts")
};

#[async_trait]
impl JobKind for Facts {
    fn info(&self) -> &'static KindInfo {
        &INFO
    }
}

#[async_trait]
impl HostWork for Facts {
    async fn run_host(&self, ctx: &JobContext, host: &HostTarget) -> Outcome {
        let check = ctx.ssh.check(host.id).await.map_err(|err| JobFailure::fatal(err.to_string()))?;
        if check.state != Reachability::Reachable {
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
