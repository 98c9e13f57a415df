//! Rendering a revision twice: with the real secret values (written to hosts) and with
//! placeholders (everything shown), for every host of its instance, off the runtime.

use super::*;

impl Configs {
    /// A revision's settings twice: with secrets opened (written to hosts) and with each secret
    /// replaced by its placeholder (everything shown is rendered from these).
    pub(super) async fn reveal(&self, revision: &RevisionRow) -> Result<Revealed, Error> {
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
    pub(super) async fn views(
        &self,
        instance_id: i64,
    ) -> Result<(InstanceView, StudyView, Vec<(i64, HostView)>), Error> {
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
    pub(super) async fn render_all(&self, revision: &RevisionRow) -> Result<RenderedRevision, Error> {
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
    pub(super) async fn rendering<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, String> {
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
}

/// A revision's settings as written to hosts and as shown.
pub(super) struct Revealed {
    real: BTreeMap<String, Value>,
    shown: BTreeMap<String, Value>,
    secrets: Secrets,
}

impl Revealed {
    pub(super) fn contexts(&self, instance: InstanceView, study: StudyView, hosts: Vec<HostView>) -> Contexts {
        let shown = RenderContext { settings: self.shown.clone(), instance, study, hosts };
        Contexts { real: RenderContext { settings: self.real.clone(), ..shown.clone() }, shown }
    }
}

/// The two contexts a revision is rendered in.
pub(super) struct Contexts {
    real: RenderContext,
    shown: RenderContext,
}

impl Contexts {
    /// Renders with placeholders, then for real. An error always comes from the placeholder
    /// render, so it can never quote a secret.
    pub(super) fn both<T>(
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

    pub(super) fn files(&self, stack: &Stack, host: &HostView, secrets: &Secrets) -> Result<HostFiles, String> {
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
    pub(super) fn pair(&self, path: &str) -> Option<(&RenderedFile, &str)> {
        let real = self.real.iter().find(|f| f.path == path)?;
        Some((real, self.shown.iter().find(|f| f.path == path).map_or("", |f| f.content.as_str())))
    }

    pub fn pairs(&self) -> impl Iterator<Item = (&RenderedFile, &RenderedFile)> {
        self.real.iter().filter_map(|real| Some((real, self.shown.iter().find(|f| f.path == real.path)?)))
    }

    pub(super) fn learn(&self, known: &mut LineMap, secrets: &Secrets) {
        for (real, shown) in self.pairs() {
            known.add(secrets, &real.content, &shown.content);
        }
    }
}

/// A revision rendered for every host: id, name and files (or why not).
pub(super) struct RenderedRevision {
    pub(super) hosts: Vec<(i64, String, Result<HostFiles, String>)>,
    pub(super) secrets: Secrets,
}

impl RenderedRevision {
    pub(super) fn host(&self, id: i64) -> Option<&Result<HostFiles, String>> {
        self.hosts.iter().find(|(host, ..)| *host == id).map(|(_, _, files)| files)
    }
}
