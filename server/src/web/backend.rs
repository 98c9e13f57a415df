//! The UI contract's [`Backend`], implemented over Steward's services. Every method finds the
//! caller from the session and checks what they may do before anything else.

use std::net::SocketAddr;
use std::sync::Arc;

use async_trait::async_trait;
use axum::extract::ConnectInfo;
use http::request::Parts;
use steward_frontend::contract::{
    AppError, AuditEntry, AuditQuery, Backend, CurrentUser, GlobalRole, OneTimeLink, Page,
    SetupStatus, UserSummary,
};
use tower_sessions::Session;

use crate::app::AppState;
use crate::auth::sessions::{AUTH_AT, USER_ID};
use crate::services::accounts::{Link, role_of, summary};
use crate::services::audit::Actor;
use crate::store::UserRow;
use crate::web::error::{from_store, internal};

type Result<T> = std::result::Result<T, AppError>;

#[derive(Clone)]
pub struct WebBackend {
    state: AppState,
}

impl WebBackend {
    pub fn shared(state: AppState) -> Arc<dyn Backend> {
        Arc::new(Self { state })
    }

    fn session(req: &Parts) -> Result<Session> {
        req.extensions
            .get::<Session>()
            .cloned()
            .ok_or_else(|| internal("session layer missing"))
    }

    /// The client address: the TCP peer, or the first `X-Forwarded-For` hop behind a trusted proxy.
    fn client_addr(&self, req: &Parts) -> Option<String> {
        if self.state.config.server.trust_forwarded_for
            && let Some(forwarded) = req
                .headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
            && let Some(first) = forwarded
                .split(',')
                .next()
                .map(str::trim)
                .filter(|s| !s.is_empty())
        {
            return Some(first.to_owned());
        }
        req.extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip().to_string())
    }

    fn actor(&self, req: &Parts, user: Option<&UserRow>) -> Actor {
        Actor {
            user_id: user.map(|u| u.id),
            username: user.map(|u| u.username.clone()),
            client_addr: self.client_addr(req),
        }
    }

    /// The signed-in, enabled user of this request. Sessions past the absolute timeout, or of
    /// a user who was disabled or removed, are ended here.
    async fn caller(&self, req: &Parts) -> Result<Option<UserRow>> {
        let session = Self::session(req)?;
        let user_id: Option<i64> = session.get(USER_ID).await.map_err(internal)?;
        let Some(user_id) = user_id else {
            return Ok(None);
        };
        let auth_at: i64 = session.get(AUTH_AT).await.map_err(internal)?.unwrap_or(0);
        let max_age = i64::try_from(
            self.state
                .config
                .auth
                .session_absolute_hours
                .saturating_mul(3600),
        )
        .unwrap_or(i64::MAX);
        let expired = self.state.clock.now().timestamp().saturating_sub(auth_at) > max_age;
        let user = match self.state.store.user_by_id(user_id).await {
            Ok(user) => Some(user),
            Err(crate::store::StoreError::NotFound) => None,
            Err(err) => return Err(from_store(err)),
        };
        match user {
            Some(user) if !user.disabled && !expired => Ok(Some(user)),
            _ => {
                session.flush().await.map_err(internal)?;
                Ok(None)
            }
        }
    }

    async fn require_user(&self, req: &Parts) -> Result<UserRow> {
        self.caller(req).await?.ok_or(AppError::Unauthenticated)
    }

    async fn require_admin(&self, req: &Parts) -> Result<UserRow> {
        let user = self.require_user(req).await?;
        if role_of(&user) == GlobalRole::Admin {
            Ok(user)
        } else {
            Err(AppError::Forbidden)
        }
    }

    /// Starts a fresh session for `user`: a new id (no fixation), the user and the login time.
    async fn sign_in(&self, req: &Parts, user: &UserRow) -> Result<CurrentUser> {
        let session = Self::session(req)?;
        session.cycle_id().await.map_err(internal)?;
        session.insert(USER_ID, user.id).await.map_err(internal)?;
        session
            .insert(AUTH_AT, self.state.clock.now().timestamp())
            .await
            .map_err(internal)?;
        Ok(current(user))
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

#[async_trait]
impl Backend for WebBackend {
    async fn current_user(&self, req: &Parts) -> Result<Option<CurrentUser>> {
        Ok(self.caller(req).await?.as_ref().map(current))
    }

    async fn setup_status(&self) -> Result<SetupStatus> {
        Ok(SetupStatus {
            needs_setup: self.state.accounts.needs_setup().await?,
        })
    }

    async fn complete_setup(
        &self,
        req: &Parts,
        token: String,
        username: String,
        password: String,
    ) -> Result<()> {
        let actor = self.actor(req, None);
        let user = self
            .state
            .accounts
            .complete_setup(&actor, &token, &username, password)
            .await?;
        self.sign_in(req, &user).await?;
        Ok(())
    }

    async fn login(&self, req: &Parts, username: String, password: String) -> Result<CurrentUser> {
        let actor = self.actor(req, None);
        let user = self
            .state
            .accounts
            .authenticate(&actor, &username, password)
            .await?;
        self.sign_in(req, &user).await
    }

    async fn logout(&self, req: &Parts) -> Result<()> {
        let user = self.caller(req).await?;
        Self::session(req)?.flush().await.map_err(internal)?;
        if let Some(user) = user {
            let actor = self.actor(req, Some(&user));
            self.state
                .audit
                .record(
                    &actor,
                    "user.logout",
                    &format!("user {}", user.username),
                    "",
                )
                .await;
        }
        Ok(())
    }

    async fn change_password(
        &self,
        req: &Parts,
        current_password: String,
        new: String,
    ) -> Result<()> {
        let user = self.require_user(req).await?;
        let actor = self.actor(req, Some(&user));
        self.state
            .accounts
            .change_password(&actor, &user, current_password, new)
            .await?;
        // Every session of the user ended with the change; this one carries on under a new id.
        self.sign_in(req, &user).await?;
        Ok(())
    }

    async fn redeem_password_link(
        &self,
        req: &Parts,
        token: String,
        password: String,
    ) -> Result<()> {
        let actor = self.actor(req, None);
        self.state
            .accounts
            .redeem_password_link(&actor, &token, password)
            .await?;
        Ok(())
    }

    async fn list_users(&self, req: &Parts) -> Result<Vec<UserSummary>> {
        self.require_admin(req).await?;
        Ok(self
            .state
            .accounts
            .list()
            .await?
            .iter()
            .map(summary)
            .collect())
    }

    async fn create_user(
        &self,
        req: &Parts,
        username: String,
        display_name: String,
        email: String,
        role: GlobalRole,
        password: Option<String>,
    ) -> Result<OneTimeLink> {
        let admin = self.require_admin(req).await?;
        let actor = self.actor(req, Some(&admin));
        let (user, link) = self
            .state
            .accounts
            .create_user(&actor, &username, &display_name, &email, role, password)
            .await?;
        Ok(Self::one_time(&user, link))
    }

    async fn set_user_role(&self, req: &Parts, user_id: i64, role: GlobalRole) -> Result<()> {
        let admin = self.require_admin(req).await?;
        self.state
            .accounts
            .set_role(&self.actor(req, Some(&admin)), user_id, role)
            .await?;
        Ok(())
    }

    async fn set_user_disabled(&self, req: &Parts, user_id: i64, disabled: bool) -> Result<()> {
        let admin = self.require_admin(req).await?;
        self.state
            .accounts
            .set_disabled(&self.actor(req, Some(&admin)), user_id, disabled)
            .await?;
        Ok(())
    }

    async fn reset_password(&self, req: &Parts, user_id: i64) -> Result<OneTimeLink> {
        let admin = self.require_admin(req).await?;
        let (user, link) = self
            .state
            .accounts
            .reset_password(&self.actor(req, Some(&admin)), user_id)
            .await?;
        Ok(Self::one_time(&user, Some(link)))
    }

    async fn audit_log(&self, req: &Parts, query: AuditQuery) -> Result<Page<AuditEntry>> {
        self.require_admin(req).await?;
        self.state.audit.page(&query).await.map_err(from_store)
    }
}
