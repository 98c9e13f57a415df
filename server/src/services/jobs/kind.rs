//! The job kind trait and the registry. A new kind is one module (its [`KindInfo`], a payload
//! type if it takes one, and what it does per host) plus one line where Steward lists its
//! kinds (`app.rs`); the lists the forms, the alert rules and the engine use are read from the
//! registry.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;
use steward_frontend::contract::{JobInput, JobKindSummary};

pub use super::context::HostWork;
use super::context::JobContext;
pub use super::info::KindInfo;
use super::{JobFailure, parse_batch_size};
use crate::services::error::Error;

/// A job kind: its static info, its form's payload, and what it does (per host through
/// [`HostWork`], or for the whole job by overriding [`JobKind::run`]).
#[async_trait]
pub trait JobKind: HostWork {
    fn info(&self) -> &'static KindInfo;

    fn name(&self) -> &'static str {
        self.info().name
    }
    fn title(&self) -> &'static str {
        self.info().title
    }

    /// The payload a form asks for; by default what every kind takes (hosts at once, stop
    /// after the first failure).
    fn payload(&self, input: &JobInput) -> Result<Value, Error> {
        self.common_payload(input)
    }

    /// What every kind's form asks for: hosts at once and whether to stop after a failure.
    fn common_payload(&self, input: &JobInput) -> Result<Value, Error> {
        let mut payload = serde_json::Map::new();
        if let Some(n) = parse_batch_size(&input.batch_size)? {
            payload.insert("batch_size".into(), n.into());
        }
        payload.insert("stop_on_failure".into(), input.stop_on_failure.is_some().into());
        Ok(Value::Object(payload))
    }

    /// Checks the payload when the job is queued, so bad input fails at once.
    fn validate(&self, _payload: &Value) -> Result<(), Error> {
        Ok(())
    }

    /// Runs the whole job; the default fans out over the target's hosts.
    async fn run(&self, ctx: &JobContext) -> Result<String, JobFailure> {
        ctx.fan_out(self.info(), self).await
    }
}

/// Every kind this Steward runs, by name.
#[derive(Clone, Default)]
pub struct Registry {
    kinds: BTreeMap<&'static str, Arc<dyn JobKind>>,
}

impl Registry {
    pub fn new(kinds: Vec<Arc<dyn JobKind>>) -> Self {
        Self { kinds: kinds.into_iter().map(|kind| (kind.name(), kind)).collect() }
    }

    pub fn get(&self, name: &str) -> Option<&Arc<dyn JobKind>> {
        self.kinds.get(name)
    }

    /// Kinds offered in the forms, with what each form asks for.
    pub fn startable(&self) -> Vec<JobKindSummary> {
        self.kinds
            .values()
            .map(|k| k.info())
            .filter(|info| info.startable)
            .map(|info| JobKindSummary {
                name: info.name.into(),
                title: info.title.into(),
                takes_argv: info.takes_argv,
            })
            .collect()
    }

    /// Kinds whose failure raises an alert.
    pub fn alerting(&self) -> Vec<&'static str> {
        self.kinds.values().map(|k| k.info()).filter(|info| info.raises_alerts).map(|info| info.name).collect()
    }
}
