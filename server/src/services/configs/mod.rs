//! Config management: an instance's settings are saved as immutable, numbered revisions
//! (secrets sealed in the vault), rendered per host through the instance's stack, compared with
//! each other or with what is live on the hosts, pushed by the `push` job ([`push`]) and watched
//! for drift by the `drift` job ([`drift`]).

mod diff;
pub mod drift;
mod masking;
pub mod push;
mod render;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde_json::Value;
use steward_frontend::contract::{
    ConfigOverview, DriftState, FileDiff, HostConfigState, HostDiff, PushInput, RevisionSummary, SettingField,
    SettingsInput,
};

use self::masking::{LineMap, Side, unified_diff};
pub use self::masking::{Masker, Secrets};
use crate::clock::SharedClock;
use crate::services::alerts::Alerts;
use crate::services::audit::{Actor, Audit};
use crate::services::error::{Error, OrNotFound};
use crate::services::jobs::{JobSpec, Target, parse_batch_size};
use crate::services::ssh::Ssh;
use crate::services::stacks::settings as typed;
use crate::services::stacks::{
    HealthCheck, HostView, InstanceView, RenderContext, RenderedFile, ServiceCommands, SettingType, Stack, Stacks,
    StudyView,
};
use crate::services::vault::Vault;
use crate::services::words;
use crate::store::{RevisionRow, Store};

/// Everything a push needs for one host.
pub struct HostPlan {
    pub revision: RevisionRow,
    pub files: Vec<RenderedFile>,
    pub services: Vec<ServiceCommands>,
    pub health: Vec<HealthCheck>,
    pub masker: Masker,
}

pub use crate::digest::sha256_hex;

/// Longest a revision's templates may take to render (for every host of an instance).
const RENDER_DEADLINE: std::time::Duration = std::time::Duration::from_secs(10);

pub(crate) struct Inner {
    offload: crate::services::offload::Offload,
    store: Store,
    clock: SharedClock,
    audit: Audit,
    vault: Vault,
    stacks: Stacks,
    ssh: Ssh,
    alerts: Alerts,
}

#[derive(Clone)]
pub struct Configs {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Configs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Configs").finish_non_exhaustive()
    }
}

/// A revision's settings, as stored: typed values, and secrets by sealed-value id.
fn stored_settings(row: Option<&RevisionRow>) -> serde_json::Map<String, Value> {
    row.and_then(|r| serde_json::from_str::<Value>(&r.settings).ok())
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default()
}

fn sealed_id(value: &Value) -> Option<i64> {
    value.get("sealed").and_then(Value::as_i64)
}

impl Configs {
    pub fn new(
        store: Store,
        clock: SharedClock,
        audit: Audit,
        vault: Vault,
        stacks: Stacks,
        ssh: Ssh,
        alerts: Alerts,
    ) -> Self {
        let offload = crate::services::offload::Offload::new(2);
        Self { inner: Arc::new(Inner { offload, store, clock, audit, vault, stacks, ssh, alerts }) }
    }

    pub fn stacks(&self) -> &Stacks {
        &self.inner.stacks
    }

    fn stack(&self, name: &str) -> Result<Arc<Stack>, Error> {
        self.inner.stacks.get(name).ok_or_else(|| {
            let why = self.inner.stacks.broken.iter().find(|(n, _)| n == name).map(|(_, why)| why.clone());
            Error::Invalid {
                field: None,
                message: match why {
                    Some(why) => format!("The stack folder {name:?} could not be loaded: {why}"),
                    None => format!("There is no stack {name:?}; add its folder under the data directory's stacks/"),
                },
            }
        })
    }

    /// The instance's configuration page: the form, the revisions and each host's state.
    pub async fn overview(&self, instance_id: i64, admin: bool) -> Result<ConfigOverview, Error> {
        let store = &self.inner.store;
        let instance = store.instance(instance_id).await.or_not_found("The instance")?;
        let revisions = store.revisions(instance_id).await?;
        let stored = stored_settings(revisions.first());
        let (stack, stack_problem) = match self.stack(&instance.stack) {
            Ok(stack) => (Some(stack), None),
            Err(err) => (None, Some(err.to_string())),
        };
        let fields = stack.as_ref().map_or_else(Vec::new, |stack| {
            stack
                .manifest
                .settings
                .iter()
                .map(|spec| {
                    let value = stored.get(&spec.name);
                    let is_secret = spec.kind == SettingType::Secret;
                    SettingField {
                        name: spec.name.clone(),
                        label: spec.label(),
                        kind: spec.kind.as_str().to_owned(),
                        required: spec.required,
                        help: spec.help.clone(),
                        group: spec.group.clone(),
                        choices: spec.choices.clone(),
                        default: typed::default_value(spec).map(|v| typed::form_text(&v)).unwrap_or_default(),
                        value: if is_secret { String::new() } else { value.map(typed::form_text).unwrap_or_default() },
                        is_set: value.is_some_and(|v| !v.is_null()),
                    }
                })
                .collect()
        });
        let ids: Vec<i64> = store.hosts_of_instance(instance_id).await?.iter().map(|h| h.id).collect();
        let mut roles = store.roles_by_host(&ids).await?;
        let hosts = store
            .host_configs(instance_id)
            .await?
            .into_iter()
            .map(|row| HostConfigState {
                roles: roles.remove(&row.host_id).unwrap_or_default(),
                host_id: row.host_id,
                host_name: row.host_name,
                revision: row.revision_number,
                pushed_at: row.pushed_at,
                drift: row.drift.as_deref().map_or(DriftState::Unknown, |d| words::stored(d, DriftState::Unknown)),
                drift_files: row.drift_files.and_then(|f| serde_json::from_str(&f).ok()).unwrap_or_default(),
                checked_at: row.checked_at,
            })
            .collect();
        Ok(ConfigOverview {
            instance_id,
            instance_name: instance.name,
            study_id: instance.study_id,
            stack: stack.map(|s| s.summary_for(admin)),
            stack_problem,
            fields,
            revisions: revisions.iter().map(revision_summary).collect(),
            hosts,
        })
    }

    /// Saves the form as the instance's next revision; every bad field is reported at once.
    pub async fn save(&self, actor: &Actor, input: SettingsInput) -> Result<RevisionSummary, Error> {
        let store = &self.inner.store;
        let instance = store.instance(input.instance_id).await.or_not_found("The instance")?;
        let stack = self.stack(&instance.stack)?;
        let latest = store.latest_revision(instance.id).await?;
        let stored = stored_settings(latest.as_ref());
        let message = input.message.trim();
        if message.chars().count() > 500 {
            return Err(Error::invalid("message", "Keep the message under 500 characters"));
        }
        let checked = typed::check_form(&stack.manifest.settings, &input.values, &|name| {
            stored.get(name).and_then(sealed_id).is_some()
        })
        .map_err(|errors| Error::InvalidFields { errors })?;
        let mut settings: serde_json::Map<String, Value> = checked.values.into_iter().collect();
        for name in stack.secret_names() {
            if let Some(secret) = checked.new_secrets.get(name) {
                let unchanged = match stored.get(name).and_then(sealed_id) {
                    Some(id) => self.inner.vault.open_value(id).await.is_ok_and(|old| old.as_str() == secret),
                    None => false,
                };
                if !unchanged {
                    let scope = format!("config/{}/{name}/{}", instance.id, uuid::Uuid::new_v4());
                    let id = self.inner.vault.seal_value(&scope, Some(instance.id), secret).await?;
                    settings.insert(name.to_owned(), serde_json::json!({ "sealed": id }));
                    continue;
                }
            }
            if let Some(kept) = stored.get(name).filter(|v| sealed_id(v).is_some()) {
                settings.insert(name.to_owned(), kept.clone());
            }
        }
        if latest.as_ref().is_some_and(|l| l.stack == instance.stack) && settings == stored {
            return Err(Error::Invalid { field: None, message: "Nothing changed: no new revision was saved".into() });
        }
        let author = actor.username.clone().unwrap_or_else(|| "steward".into());
        let message = if message.is_empty() { "Settings changed" } else { message };
        let row = store
            .insert_revision(
                instance.id,
                &instance.stack,
                &Value::Object(settings).to_string(),
                message,
                &author,
                self.inner.clock.now(),
            )
            .await
            .map_err(|err| match err {
                crate::store::StoreError::Conflict(_) => Error::Conflict {
                    field: None,
                    message: "Someone saved these settings at the same moment; reload and try again".into(),
                },
                other => Error::from(other),
            })?;
        self.inner
            .audit
            .record(
                actor,
                "config.saved",
                &format!("instance {}", instance.name),
                &format!("revision {}: {message}", row.number),
            )
            .await;
        Ok(revision_summary(&row))
    }

    pub async fn revision(&self, id: i64) -> Result<RevisionRow, Error> {
        self.inner.store.revision(id).await.or_not_found("The revision")
    }

    async fn revision_of(&self, instance_id: i64, id: Option<i64>) -> Result<RevisionRow, Error> {
        let revision = match id {
            Some(id) => self.revision(id).await?,
            None => self.inner.store.latest_revision(instance_id).await?.ok_or_else(|| Error::Invalid {
                field: None,
                message: "Save the settings first: this instance has no revision yet".into(),
            })?,
        };
        if revision.instance_id != instance_id {
            return Err(Error::not_found("The revision"));
        }
        Ok(revision)
    }

    /// The job that pushes what the form asks for (checked now, so bad input fails at once).
    pub async fn push_spec(&self, input: &PushInput, requested_by: String) -> Result<JobSpec, Error> {
        let revision = self.revision_of(input.instance_id, parse_revision(&input.revision)?).await?;
        // Checked with the rest of the payload when the job is queued (`Push::validate`).
        let roles: Vec<Value> = input
            .roles
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|r| !r.is_empty())
            .map(Value::from)
            .collect();
        let mut payload = serde_json::json!({
            "revision_id": revision.id,
            "roles": roles,
            "stop_on_failure": input.stop_on_failure.is_some(),
        });
        if let Some(n) = parse_batch_size(&input.batch_size)? {
            payload["batch_size"] = n.into();
        }
        Ok(JobSpec {
            kind: "push".into(),
            target: Target::Instance(input.instance_id),
            payload,
            requested_by,
            schedule_id: None,
            run_after: None,
        })
    }
}

/// A revision id from a form ("" for the latest).
pub fn parse_revision(text: &str) -> Result<Option<i64>, Error> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse().map(Some).map_err(|_| Error::invalid("revision", "Choose a revision"))
}

fn revision_summary(row: &RevisionRow) -> RevisionSummary {
    RevisionSummary {
        id: row.id,
        number: row.number,
        author: row.author.clone(),
        message: row.message.clone(),
        created_at: row.created_at,
    }
}
