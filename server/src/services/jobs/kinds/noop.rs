//! `noop`: does nothing, quickly (or after `sleep_ms`): for measuring the engine itself.

use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;

use crate::services::jobs::JobFailure;
use crate::services::jobs::context::JobContext;
use crate::services::jobs::kind::{HostWork, JobKind, KindInfo};

pub struct Noop;

static INFO: KindInfo = KindInfo { timeout: Duration::from_secs(60), ..KindInfo::new("noop", "Nothing (test)") };

#[derive(Deserialize)]
struct Payload {
    sleep_ms: Option<u64>,
}

#[async_trait]
impl JobKind for Noop {
    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    async fn run(&self, ctx: &JobContext) -> Result<String, JobFailure> {
        if let Some(ms) = ctx.payload::<Payload>()?.sleep_ms {
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(ms)) => {}
                () = ctx.cancel.cancelled() => return Err(JobFailure::fatal("cancelled")),
            }
        }
        Ok("done".into())
    }
}

impl HostWork for Noop {}
