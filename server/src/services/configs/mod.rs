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
    ConfigOverview, FileDiff, HostConfigState, HostDiff, PushInput, RevisionSummary, SettingField, SettingsInput,
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
use crate::store::{RevisionRow, Store};

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
                drift: row.drift.unwrap_or_else(|| "unknown".into()),
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

    /// A revision's settings twice: with secrets opened (written to hosts) and with each secret
    /// replaced by its placeholder (everything shown is rendered from these).
    async fn reveal(&self, revision: &RevisionRow) -> Result<Revealed, Error> {
        let mut revealed = Revealed { real: BTreeMap::new(), shown: BTreeMap::new(), secrets: Secrets::new() };
        for (name, value) in stored_settings(Some(revision)) {
            match sealed_id(&value) {
                Some(id) => {
                    let secret = self.inner.vault.open_value(id).await?;
                    revealed.real.insert(name.clone(), Value::from(secret.as_str()));
                    let placeholder = revealed.secrets.add(secret);
                    revealed.shown.insert(name, Value::from(placeholder));
                }
                None => {
                    revealed.real.insert(name.clone(), value.clone());
                    revealed.shown.insert(name, value);
                }
            }
        }
        Ok(revealed)
    }

    /// The instance, study and hosts as templates see them, with each host's id.
    async fn views(&self, instance_id: i64) -> Result<(InstanceView, StudyView, Vec<(i64, HostView)>), Error> {
        let store = &self.inner.store;
        let instance = store.instance(instance_id).await.or_not_found("The instance")?;
        let tags = store.tags_of(&[instance_id]).await?.into_iter().map(|(_, t)| t).collect();
        let rows = store.hosts_of_instance(instance_id).await?;
        let ids: Vec<i64> = rows.iter().map(|h| h.id).collect();
        let mut roles = store.roles_by_host(&ids).await?;
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

    /// Renders a revision for every host of its instance, real and shown.
    async fn render_all(&self, revision: &RevisionRow) -> Result<RenderedRevision, Error> {
        let stack = self.stack(&revision.stack)?;
        let revealed = self.reveal(revision).await?;
        let (instance, study, hosts) = self.views(revision.instance_id).await?;
        self.rendering(move || {
            let contexts = revealed.contexts(instance, study, hosts.iter().map(|(_, h)| h.clone()).collect());
            let hosts = hosts
                .iter()
                .map(|(id, host)| (*id, host.name.clone(), contexts.files(&stack, host, &revealed.secrets)))
                .collect();
            RenderedRevision { hosts, secrets: revealed.secrets }
        })
        .await
        .map_err(|message| Error::Invalid { field: None, message })
    }

    /// Runs template rendering off the runtime, within [`RENDER_DEADLINE`].
    async fn rendering<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, String> {
        self.inner
            .offload
            .run(RENDER_DEADLINE, work)
            .await
            .map_err(|err| format!("rendering the stack was stopped: {err}"))
    }

    /// What a push of `revision` does on one host. The error is fit to show.
    pub async fn plan(&self, revision: RevisionRow, host_id: i64) -> Result<HostPlan, String> {
        let stack = self.stack(&revision.stack).map_err(|e| e.to_string())?;
        let revealed = self.reveal(&revision).await.map_err(|e| e.to_string())?;
        let (instance, study, hosts) = self.views(revision.instance_id).await.map_err(|e| e.to_string())?;
        let host = hosts
            .iter()
            .find(|(id, _)| *id == host_id)
            .map(|(_, h)| h.clone())
            .ok_or("the host is not part of the revision's instance")?;
        self.rendering(move || {
            let contexts = revealed.contexts(instance, study, hosts.into_iter().map(|(_, h)| h).collect());
            let secrets = revealed.secrets;
            let files = contexts.files(&stack, &host, &secrets)?;
            let services = contexts.both(|ctx| stack.services_for(ctx, &host), &secrets)?.0;
            let (mut health, shown_health) = contexts.both(|ctx| stack.health_for(ctx, &host), &secrets)?;
            for (check, shown) in health.iter_mut().zip(&shown_health) {
                check.label = secrets.display(&shown.label);
            }
            let masker = secrets.masker(files.pairs());
            Ok(HostPlan { files: files.real, services, health, masker, revision })
        })
        .await?
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

    /// Compares two revisions of an instance, host by host (secrets masked).
    pub async fn compare(&self, instance_id: i64, from: i64, to: i64) -> Result<Vec<HostDiff>, Error> {
        let old = self.render_all(&self.revision_of(instance_id, Some(from)).await?).await?;
        let new = self.render_all(&self.revision_of(instance_id, Some(to)).await?).await?;
        let old_by_host: HashMap<i64, &Result<HostFiles, String>> =
            old.hosts.iter().map(|(id, _, files)| (*id, files)).collect();
        let none = Ok(HostFiles::default());
        Ok(new
            .hosts
            .iter()
            .map(|(id, name, files)| match (old_by_host.get(id).copied().unwrap_or(&none), files) {
                (Ok(before), Ok(after)) => {
                    let previous = |path: &str| {
                        let (real, shown) = before.pair(path)?;
                        Some(Before::Rendered { real: &real.content, shown, secrets: &old.secrets })
                    };
                    let paths = before.real.iter().map(|f| f.path.clone()).collect();
                    host_diff(*id, name.clone(), after, &new.secrets, previous, paths)
                }
                (Err(err), _) | (_, Err(err)) => {
                    HostDiff { host_id: *id, host_name: name.clone(), files: vec![], error: Some(err.clone()) }
                }
            })
            .collect())
    }

    /// Compares a revision (default: the latest) with what is live on each host, read through
    /// the agent (secrets masked). Hosts are read in parallel.
    pub async fn preview(&self, instance_id: i64, revision_id: Option<i64>) -> Result<Vec<HostDiff>, Error> {
        let revision = self.revision_of(instance_id, revision_id).await?;
        let rendered = self.render_all(&revision).await?;
        // A live file may still hold what an earlier push wrote: lines of the revision each
        // host has are shown as that revision's render shows them.
        let pushed: HashMap<i64, i64> = self
            .inner
            .store
            .host_configs(instance_id)
            .await?
            .into_iter()
            .filter_map(|row| Some((row.host_id, row.revision_id?)))
            .filter(|(_, id)| *id != revision.id)
            .collect();
        let mut earlier: HashMap<i64, RenderedRevision> = HashMap::new();
        for id in pushed.values() {
            if !earlier.contains_key(id)
                && let Ok(row) = self.inner.store.revision(*id).await
            {
                earlier.insert(*id, self.render_all(&row).await?);
            }
        }
        let ssh = &self.inner.ssh;
        let (rendered, earlier, pushed) = (&rendered, &earlier, &pushed);
        let diffs = rendered.hosts.iter().map(|(id, name, files)| async move {
            let (id, name) = (*id, name.clone());
            let files = match files {
                Ok(files) => files,
                Err(err) => return HostDiff { host_id: id, host_name: name, files: vec![], error: Some(err.clone()) },
            };
            let live = async {
                let mut agent = ssh.agent(id).await?;
                let mut live = HashMap::new();
                for file in &files.real {
                    if let Some((bytes, _)) = agent.read_file(&file.path).await? {
                        live.insert(file.path.clone(), String::from_utf8_lossy(&bytes).into_owned());
                    }
                }
                Ok::<_, crate::services::ssh::SshFailure>(live)
            }
            .await;
            let live = match live {
                Ok(live) => live,
                Err(err) => {
                    return HostDiff { host_id: id, host_name: name, files: vec![], error: Some(err.to_string()) };
                }
            };
            let mut known = LineMap::default();
            let mut masker = rendered.secrets.masker(files.pairs());
            files.learn(&mut known, &rendered.secrets);
            if let Some(Ok(before)) = pushed.get(&id).and_then(|rev| earlier.get(rev)).and_then(|r| r.host(id)) {
                let secrets = &earlier[&pushed[&id]].secrets;
                before.learn(&mut known, secrets);
                masker = masker.merge(secrets.masker(before.pairs()));
            }
            let previous =
                |path: &str| live.get(path).map(|text| Before::Live { text, known: &known, masker: &masker });
            host_diff(id, name, files, &rendered.secrets, previous, vec![])
        });
        Ok(futures_util::future::join_all(diffs).await)
    }
}

/// A revision's settings as written to hosts and as shown.
struct Revealed {
    real: BTreeMap<String, Value>,
    shown: BTreeMap<String, Value>,
    secrets: Secrets,
}

impl Revealed {
    fn contexts(&self, instance: InstanceView, study: StudyView, hosts: Vec<HostView>) -> Contexts {
        let shown = RenderContext { settings: self.shown.clone(), instance, study, hosts };
        Contexts { real: RenderContext { settings: self.real.clone(), ..shown.clone() }, shown }
    }
}

/// The two contexts a revision is rendered in.
struct Contexts {
    real: RenderContext,
    shown: RenderContext,
}

impl Contexts {
    /// Renders with placeholders, then for real. An error always comes from the placeholder
    /// render, so it can never quote a secret.
    fn both<T>(
        &self,
        render: impl Fn(&RenderContext) -> Result<T, String>,
        secrets: &Secrets,
    ) -> Result<(T, T), String> {
        let shown = render(&self.shown).map_err(|err| secrets.display(&err))?;
        let real = render(&self.real).map_err(|_| {
            "the stack renders with placeholders for its secret settings but fails with their real values: \
             a secret probably holds characters the templates do not escape for the file's format"
                .to_owned()
        })?;
        Ok((real, shown))
    }

    fn files(&self, stack: &Stack, host: &HostView, secrets: &Secrets) -> Result<HostFiles, String> {
        let (real, shown) = self.both(|ctx| stack.render_host(ctx, host), secrets)?;
        Ok(HostFiles { real, shown })
    }
}

/// A host's files as written (`real`) and as rendered with placeholders (`shown`).
#[derive(Default)]
pub struct HostFiles {
    pub real: Vec<RenderedFile>,
    pub shown: Vec<RenderedFile>,
}

impl HostFiles {
    /// A real file and its shown content.
    fn pair(&self, path: &str) -> Option<(&RenderedFile, &str)> {
        let real = self.real.iter().find(|f| f.path == path)?;
        Some((real, self.shown.iter().find(|f| f.path == path).map_or("", |f| f.content.as_str())))
    }

    pub fn pairs(&self) -> impl Iterator<Item = (&RenderedFile, &RenderedFile)> {
        self.real.iter().filter_map(|real| Some((real, self.shown.iter().find(|f| f.path == real.path)?)))
    }

    fn learn(&self, known: &mut LineMap, secrets: &Secrets) {
        for (real, shown) in self.pairs() {
            known.add(secrets, &real.content, &shown.content);
        }
    }
}

/// A revision rendered for every host: id, name and files (or why not).
struct RenderedRevision {
    hosts: Vec<(i64, String, Result<HostFiles, String>)>,
    secrets: Secrets,
}

impl RenderedRevision {
    fn host(&self, id: i64) -> Option<&Result<HostFiles, String>> {
        self.hosts.iter().find(|(host, ..)| *host == id).map(|(_, _, files)| files)
    }
}

/// What a file was before: another revision's render, or the live file.
enum Before<'a> {
    Rendered { real: &'a str, shown: &'a str, secrets: &'a Secrets },
    Live { text: &'a str, known: &'a LineMap, masker: &'a Masker },
}

impl Before<'_> {
    fn real(&self) -> &str {
        match self {
            Self::Rendered { real, .. } => real,
            Self::Live { text, .. } => text,
        }
    }

    fn side(&self) -> Option<Side<'_>> {
        match self {
            Self::Rendered { real, shown, secrets } => Side::rendered(secrets, real, shown),
            Self::Live { text, known, masker } => Some(Side::live(text, known, masker)),
        }
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

/// Shown instead of a diff whose secret lines cannot be told apart from the others.
const HIDDEN_DIFF: &str =
    "(the changes are not shown: this file's secret settings cannot be told apart from the rest of it)\n";

/// Diffs one host's new files against what they were (`before`: live or an older revision);
/// files only in `previous_paths` were removed from the stack's output.
fn host_diff<'a>(
    host_id: i64,
    host_name: String,
    after: &'a HostFiles,
    secrets: &'a Secrets,
    before: impl Fn(&str) -> Option<Before<'a>>,
    previous_paths: Vec<String>,
) -> HostDiff {
    let mut diffs: Vec<FileDiff> = after
        .real
        .iter()
        .map(|file| {
            let old = before(&file.path);
            let status = match &old {
                None => "added",
                Some(old) if old.real() == file.content => "unchanged",
                Some(_) => "changed",
            };
            let diff = if status == "unchanged" {
                String::new()
            } else {
                let new =
                    after.pair(&file.path).and_then(|(real, shown)| Side::rendered(secrets, &real.content, shown));
                let old = match &old {
                    None => Some(Side::empty()),
                    Some(old) => old.side(),
                };
                match (old, new) {
                    (Some(old), Some(new)) => unified_diff(&file.path, &old, &new),
                    _ => HIDDEN_DIFF.to_owned(),
                }
            };
            FileDiff { path: file.path.clone(), status: status.into(), diff }
        })
        .collect();
    for path in previous_paths {
        if !after.real.iter().any(|f| f.path == path) {
            diffs.push(FileDiff { path, status: "removed".into(), diff: String::new() });
        }
    }
    HostDiff { host_id, host_name, files: diffs, error: None }
}
