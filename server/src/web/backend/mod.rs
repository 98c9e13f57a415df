//! The UI contract's [`Backend`], implemented over Steward's services, one file per domain.
//! [`Backend::authorize`] is the single place where access is checked, against the server's
//! policy ([`crate::web::policy`]): every server function calls it first, and the other methods
//! trust the [`Caller`] it returns.

use std::net::SocketAddr;
use std::sync::Arc;

use async_trait::async_trait;
use axum::extract::ConnectInfo;
use chrono::{DateTime, Utc};
use http::request::Parts;
use steward_frontend::contract::*;
use tower_sessions::Session;

mod accounts;
mod alerts;
mod configs;
mod credentials;
mod inventory;
mod jobs;
mod mail;
mod rota;
mod system;

use crate::auth::sessions::{AUTH_AT, USER_ID};
use crate::services::accounts::{Link, role_of, summary};
use crate::services::audit::Actor;
use crate::services::error::Error;
use crate::services::mail::Mailer;
use crate::state::AppState;
use crate::store::{UserRow, Viewer};
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
        let user = self.state.accounts.find(user_id).await?;
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
        let inventory = &self.state.inventory;
        Ok(match scope {
            Scope::Study(id) => inventory.existing_study(id).await?,
            Scope::Instance(id) => inventory.study_of_instance(id).await?,
            Scope::Host(id) => inventory.study_of_host(id).await?,
            Scope::Job(_) | Scope::Schedule(_) | Scope::Alert(_) | Scope::Global => {
                return Err(internal("a study permission needs a study scope"));
            }
        })
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
        Ok(Some(self.state.inventory.viewable_studies(user.id).await?))
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
                let role = self.state.inventory.role_in(study, user.id).await?;
                if !(user.is_admin() || role.is_some_and(|r| r.allows(permission))) {
                    return Err(AppError::Forbidden);
                }
                caller.study = Some((study, role));
            }
        }
        Ok(caller)
    }
}
