//! The `drift` job: compares each host's live files with what the last push wrote there
//! (checksums recorded at push time). Drift is shown on the instance page, recorded as an event
//! and raised as an alert; it clears when the files match again (or after the next push).

use async_trait::async_trait;
use steward_frontend::contract::DriftState;

use super::Configs;
use super::push::drift_target;
use crate::services::jobs::context::{HostTarget, JobContext};
use crate::services::jobs::kind::{HostWork, JobKind, KindInfo};
use crate::services::jobs::{JobFailure, Outcome};
use crate::store::{Condition, NewEvent};

pub struct Drift {
    configs: Configs,
}

impl Drift {
    pub fn new(configs: Configs) -> Self {
        Self { configs }
    }
}

static INFO: KindInfo =
    KindInfo { max_attempts: 3, startable: true, raises_alerts: true, ..KindInfo::new("drift", "Check config drift") };

#[async_trait]
impl JobKind for Drift {
    fn info(&self) -> &'static KindInfo {
        &INFO
    }
}

#[async_trait]
impl HostWork for Drift {
    async fn run_host(&self, ctx: &JobContext, host: &HostTarget) -> Outcome {
        let inner = &self.configs.inner;
        let store_error = |err: crate::store::StoreError| JobFailure::store("read what was pushed", &err);
        let pushed = inner.store.pushed_files(host.id).await.map_err(store_error)?;
        if pushed.is_empty() {
            return Ok("nothing pushed yet".into());
        }
        let mut agent = ctx.ssh.agent(host.id).await.map_err(JobFailure::from)?;
        let mut drifted = Vec::new();
        for (path, sha) in &pushed {
            match agent.read_file(path).await.map_err(JobFailure::from)? {
                None => drifted.push(format!("{path} (missing)")),
                Some((_, live)) if live.sha256 != *sha => drifted.push(format!("{path} (changed)")),
                Some(_) => {}
            }
        }
        let before = inner.store.host_config(host.id).await.map_err(store_error)?;
        let was: Vec<String> =
            before.drift_files.as_deref().and_then(|f| serde_json::from_str(f).ok()).unwrap_or_default();
        let now = inner.clock.now();
        let state = if drifted.is_empty() { DriftState::InSync } else { DriftState::Drifted };
        let files = serde_json::to_string(&drifted).unwrap_or_else(|_| "[]".into());
        inner.store.set_drift(host.id, state.as_str(), &files, now).await.map_err(store_error)?;
        let target = drift_target(host.id);
        if drifted.is_empty() {
            let _ = inner.alerts.clear("config-drift", &target).await;
            return Ok(format!("{} file(s) as pushed", pushed.len()));
        }
        let instance = inner.store.instance(host.instance_id).await.map_err(store_error)?;
        let summary = format!("{} ({}/{}): config drift", host.name, instance.study_name, instance.name);
        let detail = format!("Changed on the host since the last push: {}", drifted.join(", "));
        if drifted != was {
            let event = NewEvent {
                kind: "config.drift",
                severity: "warning",
                host_id: Some(host.id),
                summary: &summary,
                detail: &detail,
            };
            if let Err(err) = inner.store.record_event(&event, now).await {
                tracing::warn!(host = host.id, error = %err, "could not record a drift event");
            }
        }
        let condition = Condition {
            rule: "config-drift",
            target_key: &target,
            host_id: Some(host.id),
            study_id: None,
            severity: "warning",
            summary: &summary,
            detail: &detail,
        };
        if let Err(err) = inner.alerts.raise(&condition).await {
            tracing::warn!(host = host.id, error = %err, "could not raise a drift alert");
        }
        ctx.log(&format!("[{}] drift: {}", host.name, drifted.join(", ")));
        Ok(format!("drifted: {}", drifted.join(", ")))
    }
}
