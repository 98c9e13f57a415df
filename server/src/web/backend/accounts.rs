//! Setup, login and logout, passwords, users and the audit log.

use super::*;

#[async_trait]
impl AccountsApi for WebBackend {
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
}
