//! The UI contract's [`Backend`], implemented over Steward's services. [`Backend::authorize`]
//! is the single place where access is checked: every server function calls it first with the
//! access it needs, and the other methods trust the [`Caller`] it returns.

use std::net::SocketAddr;
use std::sync::Arc;

use async_trait::async_trait;
use axum::extract::ConnectInfo;
use chrono::{DateTime, Utc};
use http::request::Parts;
use steward_frontend::contract::{
    Access, AlertSummary, AppError, AuditEntry, AuditQuery, Backend, Caller, CredentialKind, CredentialSummary,
    CurrentUser, DeletionPreview, GlobalRole, HostDetail, HostHealth, HostInput, HostKeyInfo, HostSummary, ImportInput,
    ImportReport, InstanceDetail, InstanceInput, InstanceQuery, InstanceSummary, JobDetail, JobInput, JobQuery,
    JobSummary, LogLine, NamedRef, OneTimeLink, OutboxEntry, Page, Permission, ScheduleInput, ScheduleSummary, Scope,
    SetupStatus, Stack, StudyDetail, StudyRole, StudySummary, UserSummary,
};
use steward_frontend::contract::{AlertSettings, AlertSettingsInput, OverrideInput, RotaInput, RotaView};
use steward_frontend::contract::{ConfigOverview, HostDiff, PushInput, RevisionSummary, SettingsInput, StackSummary};
use tower_sessions::Session;

use crate::app::AppState;
use crate::auth::sessions::{AUTH_AT, USER_ID};
use crate::services::accounts::{Link, role_of, summary};
use crate::services::audit::Actor;
use crate::services::error::{Error, OrNotFound};
use crate::services::fleet;
use crate::services::jobs::Jobs;
use crate::services::mail::Mailer;
use crate::store::{StoreError, UserRow, Viewer};
use crate::web::error::internal;
use crate::web::policy;

type Result<T> = std::result::Result<T, AppError>;

#[derive(Clone)]
pub struct WebBackend {
    state: AppState,
    /// Set once Steward has warned that requests come through a proxy it does not trust.
    proxy_warned: Arc<std::sync::atomic::AtomicBool>,
}

impl WebBackend {
    pub fn shared(state: AppState) -> Arc<dyn Backend> {
        Arc::new(Self { state, proxy_warned: Arc::default() })
    }

    fn session(req: &Parts) -> Result<Session> {
        req.extensions.get::<Session>().cloned().ok_or_else(|| internal("session layer missing"))
    }

    /// The client address: the TCP peer, or, behind a trusted reverse proxy, the address that
    /// proxy saw (the last `X-Forwarded-For` entry; earlier ones are the client's own claims).
    fn client_addr(&self, req: &Parts) -> Option<String> {
        let forwarded = req.headers.get("x-forwarded-for").and_then(|v| v.to_str().ok());
        if self.state.config.server.trust_forwarded_for
            && let Some(last) = forwarded.and_then(|f| f.rsplit(',').next()).map(str::trim).filter(|s| !s.is_empty())
        {
            return Some(last.to_owned());
        }
        if forwarded.is_some() && !self.proxy_warned.swap(true, std::sync::atomic::Ordering::Relaxed) {
            // Behind a proxy every client shares its address: login throttling would slow
            // everyone down together, and the audit log would name the proxy.
            tracing::warn!(
                "requests carry X-Forwarded-For but server.trust_forwarded_for is off: every client \
                 appears with the proxy's address; set STEWARD_SERVER__TRUST_FORWARDED_FOR=true if \
                 a reverse proxy you run sets it"
            );
        }
        req.extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| addr.ip().to_string())
    }

    /// The signed-in, enabled user of this request. Sessions past the absolute timeout, or of
    /// a user who was disabled or removed, are ended here.
    async fn session_user(&self, req: &Parts) -> Result<Option<UserRow>> {
        let session = Self::session(req)?;
        let user_id: Option<i64> = session.get(USER_ID).await.map_err(internal)?;
        let Some(user_id) = user_id else { return Ok(None) };
        let auth_at: i64 = session.get(AUTH_AT).await.map_err(internal)?.unwrap_or(0);
        let max_age =
            i64::try_from(self.state.config.auth.session_absolute_hours.saturating_mul(3600)).unwrap_or(i64::MAX);
        let expired = self.state.clock.now().timestamp().saturating_sub(auth_at) > max_age;
        let user = match self.state.store.user_by_id(user_id).await {
            Ok(user) => Some(user),
            Err(StoreError::NotFound) => None,
            Err(err) => return Err(Error::from(err).into()),
        };
        match user {
            Some(user) if !user.disabled && !expired => Ok(Some(user)),
            _ => {
                session.flush().await.map_err(internal)?;
                Ok(None)
            }
        }
    }

    /// Starts a fresh session for `user`: a new id (no fixation), the user and the login time.
    async fn sign_in(&self, req: &Parts, user: &UserRow) -> Result<CurrentUser> {
        let session = Self::session(req)?;
        session.cycle_id().await.map_err(internal)?;
        session.insert(USER_ID, user.id).await.map_err(internal)?;
        session.insert(AUTH_AT, self.state.clock.now().timestamp()).await.map_err(internal)?;
        Ok(current(user))
    }

    async fn study_of(&self, scope: Scope) -> Result<i64> {
        let (result, what) = match scope {
            Scope::Study(id) => {
                return if self.state.store.study_exists(id).await.map_err(Error::from)? {
                    Ok(id)
                } else {
                    Err(AppError::not_found("The study"))
                };
            }
            Scope::Instance(id) => (self.state.store.study_of_instance(id).await, "The instance"),
            Scope::Host(id) => (self.state.store.study_of_host(id).await, "The host"),
            Scope::Job(_) | Scope::Schedule(_) | Scope::Alert(_) | Scope::Global => {
                return Err(internal("a study permission needs a study scope"));
            }
        };
        Ok(result.or_not_found(what)?)
    }

    fn one_time(user: &UserRow, link: Option<Link>) -> OneTimeLink {
        OneTimeLink {
            username: user.username.clone(),
            expires_at: link.as_ref().map(|l| l.expires_at),
            url: link.map(|l| l.url),
        }
    }
}

fn current(user: &UserRow) -> CurrentUser {
    CurrentUser {
        id: user.id,
        username: user.username.clone(),
        display_name: user.display_name.clone(),
        role: role_of(user),
    }
}

fn actor(caller: &Caller) -> Actor {
    Actor {
        user_id: caller.user.as_ref().map(|u| u.id),
        username: caller.user.as_ref().map(|u| u.username.clone()),
        client_addr: caller.client_addr.clone(),
        admin: caller.user.as_ref().is_some_and(CurrentUser::is_admin),
    }
}

fn viewer(caller: &Caller) -> Result<Viewer> {
    let user = caller.user.as_ref().ok_or(AppError::Unauthenticated)?;
    Ok(Viewer { user_id: user.id, is_admin: user.is_admin() })
}

fn study_id(caller: &Caller) -> Result<i64> {
    caller.study.map(|(id, _)| id).ok_or_else(|| internal("study scope missing"))
}

impl WebBackend {
    /// SSH key choices for a host form, for those who may edit hosts.
    /// SSH keys the caller may choose for a host of the study the request is about.
    async fn key_choices_for(&self, caller: &Caller) -> Result<Vec<NamedRef>> {
        if !may(caller, Permission::ManageInventory) {
            return Ok(Vec::new());
        }
        Ok(self.state.vault.keys_for_study(study_id(caller)?, actor(caller).admin).await?)
    }

    /// Studies whose jobs and schedules the caller may see; `None` for admins (everything,
    /// fleet-wide ones too).
    async fn visible_studies(&self, caller: &Caller) -> Result<Option<Vec<i64>>> {
        let user = caller.user.as_ref().ok_or(AppError::Unauthenticated)?;
        if user.is_admin() {
            return Ok(None);
        }
        let studies =
            self.state.store.list_studies(Viewer { user_id: user.id, is_admin: false }).await.map_err(Error::from)?;
        Ok(Some(
            studies
                .into_iter()
                .filter(|s| {
                    s.my_role.as_deref().and_then(StudyRole::parse).is_some_and(|r| r.allows(Permission::ViewInventory))
                })
                .map(|s| s.id)
                .collect(),
        ))
    }
}

/// Whether the caller holds `permission` in the study they were authorized for.
fn may(caller: &Caller, permission: Permission) -> bool {
    caller.user.as_ref().is_some_and(CurrentUser::is_admin)
        || caller.study.and_then(|(_, role)| role).is_some_and(|role| role.allows(permission))
}

#[async_trait]
impl Backend for WebBackend {
    async fn authorize(&self, req: &Parts, endpoint: &'static str, scope: Scope) -> Result<Caller> {
        let Some(access) = policy::required(endpoint, scope) else {
            tracing::error!(endpoint, "an endpoint without a row in the access policy was refused");
            return Err(AppError::Forbidden);
        };
        let user = self.session_user(req).await?;
        let mut caller = Caller { user: user.as_ref().map(current), study: None, client_addr: self.client_addr(req) };
        let signed_in = || caller.user.clone().ok_or(AppError::Unauthenticated);
        match access {
            Access::Public => {}
            Access::SignedIn => {
                signed_in()?;
            }
            Access::Admin => {
                if !signed_in()?.is_admin() {
                    return Err(AppError::Forbidden);
                }
            }
            Access::Study(permission) => {
                let user = signed_in()?;
                let study = match scope {
                    Scope::Job(id) => self.state.jobs.summary(id).await?.study_id,
                    Scope::Schedule(id) => self.state.jobs.schedule(id).await?.study_id,
                    Scope::Alert(id) => self.state.alerts.get(id).await?.study_id,
                    other => Some(self.study_of(other).await?),
                };
                // Fleet-wide jobs, schedules and alerts belong to no study: the global rule.
                let Some(study) = study else {
                    return match policy::required(endpoint, Scope::Global) {
                        Some(Access::Public) => Ok(caller),
                        Some(Access::SignedIn) => Ok(caller),
                        Some(Access::Admin) if user.is_admin() => Ok(caller),
                        _ => Err(AppError::Forbidden),
                    };
                };
                let role = self.state.store.study_role(study, user.id).await.map_err(Error::from)?;
                let role = role.as_deref().and_then(StudyRole::parse);
                if !(user.is_admin() || role.is_some_and(|r| r.allows(permission))) {
                    return Err(AppError::Forbidden);
                }
                caller.study = Some((study, role));
            }
        }
        Ok(caller)
    }

    // --- accounts -------------------------------------------------------------------------

    async fn setup_status(&self) -> Result<SetupStatus> {
        Ok(SetupStatus { needs_setup: self.state.accounts.needs_setup().await? })
    }

    async fn complete_setup(
        &self,
        req: &Parts,
        caller: &Caller,
        token: String,
        username: String,
        password: String,
    ) -> Result<()> {
        let user = self.state.accounts.complete_setup(&actor(caller), &token, &username, password).await?;
        self.sign_in(req, &user).await?;
        Ok(())
    }

    async fn login(&self, req: &Parts, caller: &Caller, username: String, password: String) -> Result<CurrentUser> {
        let user = self.state.accounts.authenticate(&actor(caller), &username, password).await?;
        Ok(self.sign_in(req, &user).await?)
    }

    async fn logout(&self, req: &Parts, caller: &Caller) -> Result<()> {
        Self::session(req)?.flush().await.map_err(internal)?;
        if let Some(user) = &caller.user {
            self.state.audit.record(&actor(caller), "user.logout", &format!("user {}", user.username), "").await;
        }
        Ok(())
    }

    async fn change_password(&self, req: &Parts, caller: &Caller, current_password: String, new: String) -> Result<()> {
        let user = self.state.accounts.user(viewer(caller)?.user_id).await?;
        self.state.accounts.change_password(&actor(caller), &user, current_password, new).await?;
        // Every session of the user ended with the change; this one carries on under a new id.
        self.sign_in(req, &user).await?;
        Ok(())
    }

    async fn redeem_password_link(&self, caller: &Caller, token: String, password: String) -> Result<()> {
        self.state.accounts.redeem_password_link(&actor(caller), &token, password).await?;
        Ok(())
    }

    async fn list_users(&self, _caller: &Caller) -> Result<Vec<UserSummary>> {
        Ok(self.state.accounts.list().await?.iter().map(summary).collect())
    }

    async fn create_user(
        &self,
        caller: &Caller,
        username: String,
        display_name: String,
        email: String,
        role: GlobalRole,
        password: Option<String>,
    ) -> Result<OneTimeLink> {
        let (user, link) =
            self.state.accounts.create_user(&actor(caller), &username, &display_name, &email, role, password).await?;
        Ok(Self::one_time(&user, link))
    }

    async fn set_user_role(&self, caller: &Caller, user_id: i64, role: GlobalRole) -> Result<()> {
        self.state.accounts.set_role(&actor(caller), user_id, role).await?;
        Ok(())
    }

    async fn set_user_disabled(&self, caller: &Caller, user_id: i64, disabled: bool) -> Result<()> {
        self.state.accounts.set_disabled(&actor(caller), user_id, disabled).await?;
        Ok(())
    }

    async fn reset_password(&self, caller: &Caller, user_id: i64) -> Result<OneTimeLink> {
        let (user, link) = self.state.accounts.reset_password(&actor(caller), user_id).await?;
        Ok(Self::one_time(&user, Some(link)))
    }

    async fn audit_log(&self, _caller: &Caller, query: AuditQuery) -> Result<Page<AuditEntry>> {
        Ok(self.state.audit.page(&query).await.map_err(Error::from)?)
    }

    // --- studies ----------------------------------------------------------------------------

    async fn list_studies(&self, caller: &Caller) -> Result<Vec<StudySummary>> {
        Ok(self.state.inventory.studies(viewer(caller)?).await?)
    }

    async fn create_study(
        &self,
        caller: &Caller,
        name: String,
        description: String,
        contact: String,
    ) -> Result<StudySummary> {
        Ok(self.state.inventory.create_study(&actor(caller), &name, &description, &contact).await?)
    }

    async fn study(&self, caller: &Caller) -> Result<StudyDetail> {
        let id = study_id(caller)?;
        let study = self.state.inventory.study(id, viewer(caller)?.user_id).await?;
        let sees_inventory = may(caller, Permission::ViewInventory);
        Ok(StudyDetail {
            members: if sees_inventory { self.state.inventory.members(id).await? } else { Vec::new() },
            instances: if sees_inventory { self.state.inventory.instances_of_study(id).await? } else { Vec::new() },
            can_manage: may(caller, Permission::ManageInventory),
            study: if sees_inventory {
                study
            } else {
                StudySummary {
                    instance_count: 0,
                    host_count: 0,
                    description: String::new(),
                    contact: String::new(),
                    ..study
                }
            },
        })
    }

    async fn update_study(&self, caller: &Caller, name: String, description: String, contact: String) -> Result<()> {
        Ok(self.state.inventory.update_study(&actor(caller), study_id(caller)?, &name, &description, &contact).await?)
    }

    async fn study_deletion(&self, caller: &Caller) -> Result<DeletionPreview> {
        Ok(self.state.inventory.study_deletion(study_id(caller)?).await?)
    }

    async fn delete_study(&self, caller: &Caller, confirm: String) -> Result<()> {
        Ok(self.state.inventory.delete_study(&actor(caller), study_id(caller)?, &confirm).await?)
    }

    async fn set_member(&self, caller: &Caller, username: String, role: StudyRole) -> Result<()> {
        let user = self.state.accounts.user_by_name(&username).await.map_err(|err| match err {
            Error::NotFound { .. } | Error::Invalid { .. } => {
                Error::invalid("username", format!("There is no user named {:?}", username.trim()))
            }
            other => other,
        })?;
        Ok(self.state.inventory.set_member(&actor(caller), study_id(caller)?, user.id, &user.username, role).await?)
    }

    async fn remove_member(&self, caller: &Caller, user_id: i64) -> Result<()> {
        Ok(self.state.inventory.remove_member(&actor(caller), study_id(caller)?, user_id).await?)
    }

    // --- instances and hosts -------------------------------------------------------------

    async fn list_instances(&self, caller: &Caller, query: InstanceQuery) -> Result<Page<InstanceSummary>> {
        Ok(self.state.inventory.instances(viewer(caller)?, &query).await?)
    }

    async fn create_instance(&self, caller: &Caller, input: InstanceInput) -> Result<InstanceSummary> {
        Ok(self.state.inventory.create_instance(&actor(caller), study_id(caller)?, &input).await?)
    }

    async fn instance(&self, caller: &Caller, instance_id: i64) -> Result<InstanceDetail> {
        let (instance, notes) = self.state.inventory.instance(instance_id).await?;
        let hosts = self.state.inventory.hosts(instance_id).await?;
        let statuses = self.state.store.host_statuses_of_instances(&[instance_id]).await.map_err(Error::from)?;
        let mut by_host = fleet::health_by_host(&statuses);
        let health =
            hosts.iter().map(|h| by_host.remove(&h.id).unwrap_or_else(|| HostHealth::never_checked(h.id))).collect();
        Ok(InstanceDetail {
            instance,
            notes,
            hosts,
            health,
            can_manage: may(caller, Permission::ManageInventory),
            can_operate: may(caller, Permission::RunOperations),
            ssh_keys: self.key_choices_for(caller).await?,
        })
    }

    async fn update_instance(&self, caller: &Caller, instance_id: i64, input: InstanceInput) -> Result<()> {
        Ok(self.state.inventory.update_instance(&actor(caller), instance_id, &input).await?)
    }

    async fn instance_deletion(&self, _caller: &Caller, instance_id: i64) -> Result<DeletionPreview> {
        Ok(self.state.inventory.instance_deletion(instance_id).await?)
    }

    async fn delete_instance(&self, caller: &Caller, instance_id: i64, confirm: String) -> Result<()> {
        Ok(self.state.inventory.delete_instance(&actor(caller), instance_id, &confirm).await?)
    }

    async fn add_host(&self, caller: &Caller, instance_id: i64, input: HostInput) -> Result<HostSummary> {
        Ok(self.state.inventory.add_host(&actor(caller), instance_id, &input).await?)
    }

    async fn host(&self, caller: &Caller, host_id: i64) -> Result<HostDetail> {
        let host = self.state.inventory.host(host_id).await?;
        let (instance, _) = self.state.inventory.instance(host.instance_id).await?;
        let jump_choices = self
            .state
            .inventory
            .hosts(host.instance_id)
            .await?
            .into_iter()
            .filter(|h| h.id != host_id)
            .map(|h| NamedRef { id: h.id, name: h.name })
            .collect();
        let keys = self
            .state
            .store
            .host_keys(host_id)
            .await
            .map_err(Error::from)?
            .into_iter()
            .map(|k| HostKeyInfo { algorithm: k.algorithm, fingerprint: k.fingerprint, pinned: k.pinned })
            .collect();
        let key_status = self.state.store.host_key_status(host_id).await.map_err(Error::from)?;
        let status = self.state.store.host_status(host_id).await.map_err(Error::from)?;
        let (certificates, units) = self.state.store.host_watch(host_id).await.map_err(Error::from)?;
        Ok(HostDetail {
            watch_certificates: certificates.lines().map(str::to_owned).collect(),
            watch_units: units.lines().map(str::to_owned).collect(),
            host,
            instance,
            key_status,
            keys,
            health: fleet::health(host_id, status.as_ref()),
            can_pin: caller.user.as_ref().is_some_and(CurrentUser::is_admin),
            jump_choices,
            can_manage: may(caller, Permission::ManageInventory),
            can_operate: may(caller, Permission::RunOperations),
            ssh_keys: self.key_choices_for(caller).await?,
        })
    }

    async fn scan_host_key(&self, caller: &Caller, host_id: i64) -> Result<Vec<HostKeyInfo>> {
        let keys = self.state.ssh.scan(&actor(caller), host_id).await?;
        let pinned: Vec<String> = self
            .state
            .store
            .host_keys(host_id)
            .await
            .map_err(Error::from)?
            .into_iter()
            .filter(|k| k.pinned)
            .map(|k| k.fingerprint)
            .collect();
        Ok(keys
            .into_iter()
            .map(|k| HostKeyInfo {
                pinned: pinned.contains(&k.fingerprint),
                algorithm: k.algorithm,
                fingerprint: k.fingerprint,
            })
            .collect())
    }

    async fn pin_host_key(&self, caller: &Caller, host_id: i64, fingerprint: String) -> Result<()> {
        Ok(self.state.ssh.pin(&actor(caller), host_id, &fingerprint).await?)
    }

    async fn set_host_watch(&self, caller: &Caller, host_id: i64, certificates: String, units: String) -> Result<()> {
        Ok(self.state.inventory.set_watch(&actor(caller), host_id, &certificates, &units).await?)
    }

    async fn check_host(&self, _caller: &Caller, host_id: i64) -> Result<HostHealth> {
        self.state.ssh.check(host_id).await?;
        // What the check found raises or resolves alerts now, not at the next round.
        if let Err(err) = self.state.alerts.evaluate_host(host_id).await {
            tracing::warn!(error = %err, "could not evaluate alert rules");
        }
        let status = self.state.store.host_status(host_id).await.map_err(Error::from)?;
        Ok(fleet::health(host_id, status.as_ref()))
    }

    async fn update_host(&self, caller: &Caller, host_id: i64, input: HostInput) -> Result<HostSummary> {
        Ok(self.state.inventory.update_host(&actor(caller), host_id, &input).await?)
    }

    async fn delete_host(&self, caller: &Caller, host_id: i64) -> Result<()> {
        Ok(self.state.inventory.delete_host(&actor(caller), host_id).await?)
    }

    async fn import_inventory(&self, caller: &Caller, input: ImportInput) -> Result<ImportReport> {
        let defaults = crate::services::ansible::Defaults {
            instance: input.instance,
            stack: Stack::parse(input.stack.trim())
                .ok_or_else(|| AppError::invalid("stack", format!("Choose a stack: {}", Stack::SHIPPED.join(", "))))?,
            environment: input.environment,
            ssh_user: input.ssh_user,
        };
        Ok(self
            .state
            .inventory
            .import_ansible(&actor(caller), study_id(caller)?, &input.inventory, &defaults, input.apply)
            .await?)
    }

    async fn export_inventory(&self, caller: &Caller) -> Result<String> {
        Ok(self.state.inventory.export_ansible(study_id(caller)?).await?)
    }

    // --- vault ------------------------------------------------------------------------------

    async fn list_credentials(&self, _caller: &Caller) -> Result<Vec<CredentialSummary>> {
        Ok(self.state.vault.list().await?)
    }

    async fn generate_ssh_key(&self, caller: &Caller, name: String) -> Result<CredentialSummary> {
        Ok(self.state.vault.generate_ssh_key(&actor(caller), &name).await?)
    }

    async fn import_ssh_key(
        &self,
        caller: &Caller,
        name: String,
        private_key: String,
        passphrase: String,
    ) -> Result<CredentialSummary> {
        Ok(self.state.vault.import_ssh_key(&actor(caller), &name, &private_key, &passphrase).await?)
    }

    async fn store_secret(
        &self,
        caller: &Caller,
        name: String,
        kind: CredentialKind,
        secret: String,
    ) -> Result<CredentialSummary> {
        Ok(self.state.vault.store_secret(&actor(caller), &name, kind, &secret).await?)
    }

    async fn delete_credential(&self, caller: &Caller, credential_id: i64) -> Result<()> {
        Ok(self.state.vault.delete(&actor(caller), credential_id).await?)
    }

    async fn share_credential(&self, caller: &Caller, credential_id: i64, study_id: i64, shared: bool) -> Result<()> {
        Ok(self.state.vault.share(&actor(caller), credential_id, study_id, shared).await?)
    }

    // --- alerts ----------------------------------------------------------------------------------

    async fn get_alert_settings(&self, _caller: &Caller, study_id: i64) -> Result<AlertSettings> {
        Ok(self.state.alerts.settings(study_id).await?)
    }

    async fn save_alert_settings(&self, caller: &Caller, input: AlertSettingsInput) -> Result<AlertSettings> {
        Ok(self.state.alerts.save_settings(&actor(caller), input).await?)
    }

    async fn get_rota(&self, _caller: &Caller, study_id: i64) -> Result<RotaView> {
        Ok(self.state.oncall.view(study_id).await?)
    }

    async fn save_rota(&self, caller: &Caller, input: RotaInput) -> Result<RotaView> {
        Ok(self.state.oncall.save(&actor(caller), input).await?)
    }

    async fn add_rota_override(&self, caller: &Caller, input: OverrideInput) -> Result<RotaView> {
        Ok(self.state.oncall.add_override(&actor(caller), input).await?)
    }

    async fn delete_rota_override(&self, caller: &Caller, study_id: i64, override_id: i64) -> Result<RotaView> {
        Ok(self.state.oncall.delete_override(&actor(caller), study_id, override_id).await?)
    }

    async fn list_stacks(&self, caller: &Caller) -> Result<Vec<StackSummary>> {
        Ok(self.state.configs.stacks().summaries(actor(caller).admin))
    }

    async fn config_overview(&self, caller: &Caller, instance_id: i64) -> Result<ConfigOverview> {
        Ok(self.state.configs.overview(instance_id, actor(caller).admin).await?)
    }

    async fn save_settings(&self, caller: &Caller, input: SettingsInput) -> Result<RevisionSummary> {
        Ok(self.state.configs.save(&actor(caller), input).await?)
    }

    async fn compare_revisions(&self, _caller: &Caller, instance_id: i64, from: i64, to: i64) -> Result<Vec<HostDiff>> {
        Ok(self.state.configs.compare(instance_id, from, to).await?)
    }

    async fn preview_push(&self, _caller: &Caller, instance_id: i64, revision: String) -> Result<Vec<HostDiff>> {
        let revision = crate::services::configs::parse_revision(&revision)?;
        Ok(self.state.configs.preview(instance_id, revision).await?)
    }

    async fn push_config(&self, caller: &Caller, input: PushInput) -> Result<JobSummary> {
        let who = caller.user.as_ref().map_or_else(|| "someone".to_owned(), |u| u.username.clone());
        let spec = self.state.configs.push_spec(&input, format!("user {who}")).await?;
        Ok(self.state.jobs.enqueue(&actor(caller), spec).await?)
    }

    async fn list_alerts(&self, caller: &Caller, state: String) -> Result<Vec<AlertSummary>> {
        let visible = self.visible_studies(caller).await?;
        Ok(self.state.alerts.list(state.trim(), visible.as_deref()).await?)
    }

    async fn acknowledge_alert(&self, caller: &Caller, alert_id: i64) -> Result<AlertSummary> {
        let who = caller.user.as_ref().map_or_else(|| "someone".to_owned(), |u| u.username.clone());
        let alert = self.state.alerts.acknowledge(alert_id, &who).await?;
        self.state
            .audit
            .record(&actor(caller), "alert.acknowledged", &format!("alert {alert_id}"), &alert.summary)
            .await;
        Ok(alert)
    }

    async fn alert_link(&self, token: String) -> Result<AlertSummary> {
        Ok(self.state.alerts.link(&token).await?)
    }

    async fn acknowledge_by_link(&self, token: String) -> Result<AlertSummary> {
        let alert = self.state.alerts.acknowledge_by_link(&token).await?;
        let by = alert.acknowledged_by.clone().unwrap_or_default();
        self.state.audit.record(&Actor::system(), "alert.acknowledged", &format!("alert {}", alert.id), &by).await;
        Ok(alert)
    }

    // --- mail ------------------------------------------------------------------------------------

    async fn list_outbox(&self, _caller: &Caller, page: u32) -> Result<Page<OutboxEntry>> {
        const PER_PAGE: u32 = 50;
        let (rows, total) = self.state.mailer.outbox(page, PER_PAGE).await?;
        Ok(Page {
            items: rows
                .into_iter()
                .map(|row| OutboxEntry {
                    next_attempt_at: Mailer::next_attempt(&row),
                    id: row.id,
                    to: row.to_address,
                    subject: row.subject,
                    status: row.status,
                    attempts: row.attempts,
                    last_error: row.last_error,
                    created_at: row.created_at,
                    sent_at: row.sent_at,
                })
                .collect(),
            total: u64::try_from(total).unwrap_or(0),
            page,
            per_page: PER_PAGE,
        })
    }

    async fn resend_mail(&self, caller: &Caller, mail_id: i64) -> Result<()> {
        self.state.mailer.resend(mail_id).await?;
        self.state.audit.record(&actor(caller), "mail.resent", &format!("mail {mail_id}"), "").await;
        Ok(())
    }

    async fn send_test_mail(&self, caller: &Caller, address: String) -> Result<String> {
        let result = self.state.mailer.send_test(&address).await;
        let outcome = match &result {
            Ok(reply) => format!("sent: {reply}"),
            Err(err) => format!("failed: {err}"),
        };
        self.state.audit.record(&actor(caller), "mail.test", address.trim(), &outcome).await;
        Ok(result?)
    }

    // --- jobs and schedules -------------------------------------------------------------------

    async fn list_jobs(&self, caller: &Caller, query: JobQuery) -> Result<Page<JobSummary>> {
        let visible = self.visible_studies(caller).await?;
        Ok(self.state.jobs.list(visible.as_deref(), &query).await?)
    }

    async fn get_job(&self, caller: &Caller, job_id: i64) -> Result<JobDetail> {
        let mut detail = self.state.jobs.detail(job_id).await?;
        detail.can_cancel &= may(caller, Permission::RunOperations);
        Ok(detail)
    }

    async fn job_log(&self, _caller: &Caller, job_id: i64, after: i64) -> Result<Vec<LogLine>> {
        Ok(self.state.jobs.log_after(job_id, after, 2000).await?)
    }

    async fn start_job(&self, caller: &Caller, input: JobInput) -> Result<JobSummary> {
        let who = caller.user.as_ref().map_or_else(|| "someone".to_owned(), |u| u.username.clone());
        let spec = Jobs::spec_from_input(&input, format!("user {who}"))?;
        Ok(self.state.jobs.enqueue(&actor(caller), spec).await?)
    }

    async fn cancel_job(&self, caller: &Caller, job_id: i64) -> Result<String> {
        Ok(self.state.jobs.cancel(&actor(caller), job_id).await?)
    }

    async fn list_schedules(&self, caller: &Caller) -> Result<Vec<ScheduleSummary>> {
        let visible = self.visible_studies(caller).await?;
        Ok(self.state.jobs.schedules(visible.as_deref()).await?)
    }

    async fn get_schedule(&self, _caller: &Caller, schedule_id: i64) -> Result<ScheduleSummary> {
        Ok(self.state.jobs.schedule(schedule_id).await?)
    }

    async fn save_schedule(
        &self,
        caller: &Caller,
        schedule_id: Option<i64>,
        input: ScheduleInput,
    ) -> Result<ScheduleSummary> {
        if let Some(id) = schedule_id {
            // The caller's rights were checked on the new target's study; the schedule must
            // already be in that study (a fleet one stays fleet-wide).
            let current = self.state.jobs.schedule(id).await?;
            if current.study_id != caller.study.map(|(study, _)| study) {
                return Err(AppError::invalid(
                    "target_kind",
                    "A schedule stays in its study; create a new one instead",
                ));
            }
        }
        Ok(self.state.jobs.save_schedule(&actor(caller), schedule_id, &input).await?)
    }

    async fn delete_schedule(&self, caller: &Caller, schedule_id: i64, confirm: String) -> Result<()> {
        Ok(self.state.jobs.delete_schedule(&actor(caller), schedule_id, &confirm).await?)
    }

    async fn preview_schedule(&self, _caller: &Caller, cron: String, timezone: String) -> Result<Vec<DateTime<Utc>>> {
        Ok(self.state.jobs.preview(&cron, &timezone).await?)
    }
}
