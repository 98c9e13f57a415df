//! Config management: an instance's settings are saved as immutable, numbered revisions
//! (secrets sealed in the vault), rendered per host through the instance's stack, compared with
//! each other or with what is live on the hosts, pushed by the `push` job ([`push`]) and watched
//! for drift by the `drift` job ([`drift`]).

pub mod drift;
mod masking;
pub mod push;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde_json::Value;
use sha2::{Digest, Sha256};
use steward_frontend::contract::{
    AppError, ConfigOverview, FileDiff, HostConfigState, HostDiff, PushInput, RevisionSummary, SettingField,
    SettingsInput,
};
use zeroize::Zeroizing;

pub use self::masking::Masker;
use crate::clock::SharedClock;
use crate::services::alerts::Alerts;
use crate::services::audit::{Actor, Audit};
use crate::services::jobs::{JobSpec, Target, parse_batch_size};
use crate::services::ssh::Ssh;
use crate::services::stacks::settings as typed;
use crate::services::stacks::{
    HealthCheck, HostView, InstanceView, RenderContext, RenderedFile, ServiceCommands, SettingType, Stack, Stacks,
    StudyView,
};
use crate::services::vault::Vault;
use crate::store::{RevisionRow, Store};
use crate::web::error::{from_store, not_found};

/// Everything a push needs for one host.
pub struct HostPlan {
    pub revision: RevisionRow,
    pub files: Vec<RenderedFile>,
    pub services: Vec<ServiceCommands>,
    pub health: Vec<HealthCheck>,
    pub masker: Masker,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// A unified diff of two texts (empty when equal).
pub fn unified_diff(path: &str, old: &str, new: &str) -> String {
    if old == new {
        return String::new();
    }
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("live {path}"), &format!("new {path}"))
        .to_string()
}

pub(crate) struct Inner {
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
        Self { inner: Arc::new(Inner { store, clock, audit, vault, stacks, ssh, alerts }) }
    }

    /// The job kinds of config management, for the job engine.
    pub fn job_kinds(&self) -> Vec<Arc<dyn crate::services::jobs::kinds::JobKind>> {
        vec![Arc::new(push::Push { configs: self.clone() }), Arc::new(drift::Drift { configs: self.clone() })]
    }

    pub fn stacks(&self) -> &Stacks {
        &self.inner.stacks
    }

    fn stack(&self, name: &str) -> Result<Arc<Stack>, AppError> {
        self.inner.stacks.get(name).ok_or_else(|| {
            let why = self.inner.stacks.broken.iter().find(|(n, _)| n == name).map(|(_, why)| why.clone());
            AppError::Invalid {
                field: None,
                message: match why {
                    Some(why) => format!("The stack folder {name:?} could not be loaded: {why}"),
                    None => format!("There is no stack {name:?}; add its folder under the data directory's stacks/"),
                },
            }
        })
    }

    /// The instance's configuration page: the form, the revisions and each host's state.
    pub async fn overview(&self, instance_id: i64) -> Result<ConfigOverview, AppError> {
        let store = &self.inner.store;
        let instance = store.instance(instance_id).await.map_err(not_found("The instance"))?;
        let revisions = store.revisions(instance_id).await.map_err(from_store)?;
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
        let ids: Vec<i64> =
            store.hosts_of_instance(instance_id).await.map_err(from_store)?.iter().map(|h| h.id).collect();
        let mut roles = store.roles_by_host(&ids).await.map_err(from_store)?;
        let hosts = store
            .host_configs(instance_id)
            .await
            .map_err(from_store)?
            .into_iter()
            .map(|row| HostConfigState {
                roles: roles.remove(&row.host_id).unwrap_or_default(),
                host_id: row.host_id,
                host_name: row.host_name,
                revision: row.revision_number,
                pushed_at: row.pushed_at,
                drift: row.drift.unwrap_or_else(|| "unknown".into()),
                drift_files: row.drift_files.and_then(|f| serde_json::from_str(&f).ok()).unwrap_or_default(),
                checked_at: row.checked_at,
            })
            .collect();
        Ok(ConfigOverview {
            instance_id,
            instance_name: instance.name,
            study_id: instance.study_id,
            stack: stack.map(|s| s.summary()),
            stack_problem,
            fields,
            revisions: revisions.iter().map(revision_summary).collect(),
            hosts,
        })
    }

    /// Saves the form as the instance's next revision; every bad field is reported at once.
    pub async fn save(&self, actor: &Actor, input: SettingsInput) -> Result<RevisionSummary, AppError> {
        let store = &self.inner.store;
        let instance = store.instance(input.instance_id).await.map_err(not_found("The instance"))?;
        let stack = self.stack(&instance.stack)?;
        let latest = store.latest_revision(instance.id).await.map_err(from_store)?;
        let stored = stored_settings(latest.as_ref());
        let message = input.message.trim();
        if message.chars().count() > 500 {
            return Err(AppError::invalid("message", "Keep the message under 500 characters"));
        }
        let checked = typed::check_form(&stack.manifest.settings, &input.values, &|name| {
            stored.get(name).and_then(sealed_id).is_some()
        })
        .map_err(|errors| AppError::InvalidFields { errors })?;
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
            return Err(AppError::Invalid {
                field: None,
                message: "Nothing changed: no new revision was saved".into(),
            });
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
                crate::store::StoreError::Conflict(_) => AppError::Conflict {
                    field: None,
                    message: "Someone saved these settings at the same moment; reload and try again".into(),
                },
                other => from_store(other),
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

    /// A revision's settings with secrets opened (for rendering), and their values (for masking).
    async fn reveal(
        &self,
        revision: &RevisionRow,
    ) -> Result<(BTreeMap<String, Value>, Vec<Zeroizing<String>>), AppError> {
        let mut values = BTreeMap::new();
        let mut secrets = Vec::new();
        for (name, value) in stored_settings(Some(revision)) {
            match sealed_id(&value) {
                Some(id) => {
                    let secret = self.inner.vault.open_value(id).await?;
                    values.insert(name, Value::from(secret.as_str()));
                    secrets.push(secret);
                }
                None => {
                    values.insert(name, value);
                }
            }
        }
        Ok((values, secrets))
    }

    /// The instance, study and hosts as templates see them, with each host's id.
    async fn views(&self, instance_id: i64) -> Result<(InstanceView, StudyView, Vec<(i64, HostView)>), AppError> {
        let store = &self.inner.store;
        let instance = store.instance(instance_id).await.map_err(not_found("The instance"))?;
        let tags = store.tags_of(&[instance_id]).await.map_err(from_store)?.into_iter().map(|(_, t)| t).collect();
        let rows = store.hosts_of_instance(instance_id).await.map_err(from_store)?;
        let ids: Vec<i64> = rows.iter().map(|h| h.id).collect();
        let mut roles = store.roles_by_host(&ids).await.map_err(from_store)?;
        let hosts = rows
            .into_iter()
            .map(|h| {
                (
                    h.id,
                    HostView {
                        roles: roles.remove(&h.id).unwrap_or_default(),
                        name: h.name,
                        address: h.address,
                        port: i64::from(h.ssh_port),
                        user: h.ssh_user,
                    },
                )
            })
            .collect();
        Ok((
            InstanceView {
                slug: crate::services::stacks::slug(&instance.name),
                name: instance.name,
                environment: instance.environment,
                base_url: instance.base_url,
                tags,
                stack: instance.stack,
            },
            StudyView { name: instance.study_name },
            hosts,
        ))
    }

    /// Renders a revision for every host of its instance: host id, name and files (or why not).
    async fn render_all(
        &self,
        revision: &RevisionRow,
    ) -> Result<(Vec<(i64, String, Result<Vec<RenderedFile>, String>)>, Masker), AppError> {
        let stack = self.stack(&revision.stack)?;
        let (settings, secrets) = self.reveal(revision).await?;
        let (instance, study, hosts) = self.views(revision.instance_id).await?;
        let ctx = RenderContext { settings, instance, study, hosts: hosts.iter().map(|(_, h)| h.clone()).collect() };
        // A render or format error may quote the rendered text, secrets included.
        let masker = Masker::new(&secrets);
        let rendered = hosts
            .iter()
            .map(|(id, host)| (*id, host.name.clone(), stack.render_host(&ctx, host).map_err(|e| masker.mask(&e))))
            .collect();
        Ok((rendered, masker))
    }

    /// What a push of `revision` does on one host.
    pub async fn plan(&self, revision: RevisionRow, host_id: i64) -> Result<HostPlan, String> {
        let stack = self.stack(&revision.stack).map_err(|e| e.to_string())?;
        let (settings, secrets) = self.reveal(&revision).await.map_err(|e| e.to_string())?;
        let (instance, study, hosts) = self.views(revision.instance_id).await.map_err(|e| e.to_string())?;
        let host = hosts
            .iter()
            .find(|(id, _)| *id == host_id)
            .map(|(_, h)| h.clone())
            .ok_or("the host is not part of the revision's instance")?;
        let ctx = RenderContext { settings, instance, study, hosts: hosts.into_iter().map(|(_, h)| h).collect() };
        // A render or format error may quote the rendered text, secrets included.
        let masker = Masker::new(&secrets);
        let mask = |e: String| masker.mask(&e);
        Ok(HostPlan {
            files: stack.render_host(&ctx, &host).map_err(mask)?,
            services: stack.services_for(&ctx, &host).map_err(mask)?,
            health: stack.health_for(&ctx, &host).map_err(mask)?,
            masker,
            revision,
        })
    }

    pub async fn revision(&self, id: i64) -> Result<RevisionRow, AppError> {
        self.inner.store.revision(id).await.map_err(not_found("The revision"))
    }

    async fn revision_of(&self, instance_id: i64, id: Option<i64>) -> Result<RevisionRow, AppError> {
        let revision = match id {
            Some(id) => self.revision(id).await?,
            None => self.inner.store.latest_revision(instance_id).await.map_err(from_store)?.ok_or_else(|| {
                AppError::Invalid {
                    field: None,
                    message: "Save the settings first: this instance has no revision yet".into(),
                }
            })?,
        };
        if revision.instance_id != instance_id {
            return Err(AppError::not_found("The revision"));
        }
        Ok(revision)
    }

    /// The job that pushes what the form asks for (checked now, so bad input fails at once).
    pub async fn push_spec(&self, input: &PushInput, requested_by: String) -> Result<JobSpec, AppError> {
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

    /// Compares two revisions of an instance, host by host (secrets masked).
    pub async fn compare(&self, instance_id: i64, from: i64, to: i64) -> Result<Vec<HostDiff>, AppError> {
        let old = self.revision_of(instance_id, Some(from)).await?;
        let new = self.revision_of(instance_id, Some(to)).await?;
        let (old_files, old_masker) = self.render_all(&old).await?;
        let (new_files, new_masker) = self.render_all(&new).await?;
        let masker = old_masker.merge(new_masker);
        let mut old_by_host: HashMap<i64, Result<Vec<RenderedFile>, String>> =
            old_files.into_iter().map(|(id, _, files)| (id, files)).collect();
        Ok(new_files
            .into_iter()
            .map(|(id, name, files)| {
                let before = old_by_host.remove(&id).unwrap_or_else(|| Ok(Vec::new()));
                match (before, files) {
                    (Ok(before), Ok(after)) => {
                        let live: HashMap<String, String> = before.into_iter().map(|f| (f.path, f.content)).collect();
                        host_diff(
                            id,
                            name,
                            &after,
                            |path| live.get(path).cloned(),
                            live.keys().cloned().collect(),
                            &masker,
                        )
                    }
                    (Err(err), _) | (_, Err(err)) => {
                        HostDiff { host_id: id, host_name: name, files: vec![], error: Some(err) }
                    }
                }
            })
            .collect())
    }

    /// Compares a revision (default: the latest) with what is live on each host, read through
    /// the agent (secrets masked). Hosts are read in parallel.
    pub async fn preview(&self, instance_id: i64, revision_id: Option<i64>) -> Result<Vec<HostDiff>, AppError> {
        let revision = self.revision_of(instance_id, revision_id).await?;
        let (rendered, masker) = self.render_all(&revision).await?;
        let ssh = &self.inner.ssh;
        let masker = &masker;
        let diffs = rendered.into_iter().map(|(id, name, files)| async move {
            let files = match files {
                Ok(files) => files,
                Err(err) => return HostDiff { host_id: id, host_name: name, files: vec![], error: Some(err) },
            };
            let live = async {
                let mut agent = ssh.agent(id).await?;
                let mut live = HashMap::new();
                for file in &files {
                    if let Some((bytes, _)) = agent.read_file(&file.path).await? {
                        live.insert(file.path.clone(), String::from_utf8_lossy(&bytes).into_owned());
                    }
                }
                Ok::<_, crate::services::ssh::SshFailure>(live)
            }
            .await;
            match live {
                Ok(live) => host_diff(id, name, &files, |path| live.get(path).cloned(), vec![], masker),
                Err(err) => HostDiff { host_id: id, host_name: name, files: vec![], error: Some(err.to_string()) },
            }
        });
        Ok(futures_util::future::join_all(diffs).await)
    }
}

/// A revision id from a form ("" for the latest).
pub fn parse_revision(text: &str) -> Result<Option<i64>, AppError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse().map(Some).map_err(|_| AppError::invalid("revision", "Choose a revision"))
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

/// Diffs one host's new files against `current` (live or an older revision); files only in
/// `previous_paths` were removed from the stack's output.
fn host_diff(
    host_id: i64,
    host_name: String,
    files: &[RenderedFile],
    current: impl Fn(&str) -> Option<String>,
    previous_paths: Vec<String>,
    masker: &Masker,
) -> HostDiff {
    let mut diffs: Vec<FileDiff> = files
        .iter()
        .map(|file| {
            let (status, old) = match current(&file.path) {
                None => ("added", String::new()),
                Some(old) if old == file.content => ("unchanged", old),
                Some(old) => ("changed", old),
            };
            // Diffed as they are, then masked line by line (secrets are one-line values), so a
            // changed secret shows as a changed line with the value hidden on both sides.
            let diff = masker.mask(&unified_diff(&file.path, &old, &file.content));
            FileDiff { path: file.path.clone(), status: status.into(), diff }
        })
        .collect();
    for path in previous_paths {
        if !files.iter().any(|f| f.path == path) {
            diffs.push(FileDiff { path, status: "removed".into(), diff: String::new() });
        }
    }
    HostDiff { host_id, host_name, files: diffs, error: None }
}
