//! The trait the server crate implements so that server functions stay thin: each server
//! function extracts the request parts, calls one method here and returns its result.
//!
//! Every method takes the request's [`Parts`]; the implementation finds the session, the caller
//! and the client address there and checks permissions itself.

use async_trait::async_trait;
use http::request::Parts;

use super::{AppError, AuditEntry, AuditQuery, CurrentUser, GlobalRole, OneTimeLink, Page};
use super::{SetupStatus, UserSummary};

pub type Result<T> = std::result::Result<T, AppError>;

#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// The signed-in user of this request, if any.
    async fn current_user(&self, req: &Parts) -> Result<Option<CurrentUser>>;

    async fn setup_status(&self) -> Result<SetupStatus>;
    /// Creates the first admin with a one-time setup token and signs them in.
    async fn complete_setup(
        &self,
        req: &Parts,
        token: String,
        username: String,
        password: String,
    ) -> Result<()>;

    async fn login(&self, req: &Parts, username: String, password: String) -> Result<CurrentUser>;
    async fn logout(&self, req: &Parts) -> Result<()>;
    async fn change_password(&self, req: &Parts, current: String, new: String) -> Result<()>;
    /// Sets a password with a one-time link (reset or new account).
    async fn redeem_password_link(
        &self,
        req: &Parts,
        token: String,
        password: String,
    ) -> Result<()>;

    async fn list_users(&self, req: &Parts) -> Result<Vec<UserSummary>>;
    #[allow(clippy::too_many_arguments)]
    async fn create_user(
        &self,
        req: &Parts,
        username: String,
        display_name: String,
        email: String,
        role: GlobalRole,
        password: Option<String>,
    ) -> Result<OneTimeLink>;
    async fn set_user_role(&self, req: &Parts, user_id: i64, role: GlobalRole) -> Result<()>;
    async fn set_user_disabled(&self, req: &Parts, user_id: i64, disabled: bool) -> Result<()>;
    async fn reset_password(&self, req: &Parts, user_id: i64) -> Result<OneTimeLink>;

    async fn audit_log(&self, req: &Parts, query: AuditQuery) -> Result<Page<AuditEntry>>;
}
