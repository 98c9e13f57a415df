//! `reboot-required`: asks each host whether it needs a reboot and which packages asked for it
//! (the host's own flag, as unattended upgrades leave it). Reads only.

use async_trait::async_trait;
use steward_agent::FactsRequest;

use crate::services::jobs::context::{HostTarget, JobContext};
use crate::services::jobs::kind::{HostWork, JobKind, KindInfo};
use crate::services::jobs::{JobFailure, Outcome};

pub struct RebootRequired;

static INFO: KindInfo = KindInfo { startable: true, ..KindInfo::new("reboot-required", "Check for pending reboots") };

#[async_trait]
impl JobKind for RebootRequired {
    fn info(&self) -> &'static KindInfo {
        &INFO
    }
}

#[async_trait]
impl HostWork for RebootRequired {
    async fn run_host(&self, ctx: &JobContext, host: &HostTarget) -> Outcome {
        let mut agent = ctx.ssh.agent(host.id).await.map_err(JobFailure::from)?;
        let facts = agent.facts(FactsRequest::default()).await.map_err(JobFailure::from)?;
        Ok(match (facts.reboot_required, facts.reboot_packages.is_empty()) {
            (false, _) => "no reboot needed".to_owned(),
            (true, true) => "reboot required".to_owned(),
            (true, false) => format!("reboot required by {}", facts.reboot_packages.join(", ")),
        })
    }
}
