//! Accounts: setup, login and logout, passwords, users and the audit log.

use leptos::prelude::*;

#[cfg(feature = "ssr")]
#[allow(unused_imports)]
use super::glue::*;
#[allow(unused_imports)]
use crate::contract::*;

#[server(prefix = "/api", endpoint = "current_user")]
pub async fn get_current_user() -> Result<Option<CurrentUser>, AppError> {
    run("current_user", Scope::Global, |_, _, caller| async move { Ok(caller.user) }).await
}

#[server(prefix = "/api", endpoint = "setup_status")]
pub async fn get_setup_status() -> Result<SetupStatus, AppError> {
    run("setup_status", Scope::Global, |b, _, _| async move { b.setup_status().await }).await
}

#[server(prefix = "/api", endpoint = "complete_setup")]
pub async fn complete_setup(
    token: String,
    username: String,
    password: String,
    confirm: String,
) -> Result<(), AppError> {
    run("complete_setup", Scope::Global, |b, req, caller| async move {
        require_same(&password, &confirm)?;
        b.complete_setup(&req, &caller, token, username, password).await
    })
    .await?;
    leptos_axum::redirect("/");
    Ok(())
}

#[server(prefix = "/api", endpoint = "login")]
pub async fn login(username: String, password: String, next: Option<String>) -> Result<CurrentUser, AppError> {
    let user =
        run("login", Scope::Global, |b, req, caller| async move { b.login(&req, &caller, username, password).await })
            .await?;
    leptos_axum::redirect(&safe_next(next));
    Ok(user)
}

#[server(prefix = "/api", endpoint = "logout")]
pub async fn logout() -> Result<(), AppError> {
    run("logout", Scope::Global, |b, req, caller| async move { b.logout(&req, &caller).await }).await?;
    leptos_axum::redirect("/login");
    Ok(())
}

#[server(prefix = "/api", endpoint = "change_password")]
pub async fn change_password(current: String, password: String, confirm: String) -> Result<(), AppError> {
    run("change_password", Scope::Global, |b, req, caller| async move {
        require_same(&password, &confirm)?;
        b.change_password(&req, &caller, current, password).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "set_password")]
pub async fn set_password(token: String, password: String, confirm: String) -> Result<(), AppError> {
    run("set_password", Scope::Global, |b, _, caller| async move {
        require_same(&password, &confirm)?;
        b.redeem_password_link(&caller, token, password).await
    })
    .await?;
    leptos_axum::redirect("/login?password_set=1");
    Ok(())
}

#[server(prefix = "/api", endpoint = "list_users")]
pub async fn list_users() -> Result<Vec<UserSummary>, AppError> {
    run("list_users", Scope::Global, |b, _, caller| async move { b.list_users(&caller).await }).await
}

#[server(prefix = "/api", endpoint = "create_user")]
pub async fn create_user(
    username: String,
    display_name: String,
    email: String,
    role: GlobalRole,
    password: String,
) -> Result<OneTimeLink, AppError> {
    let password = Some(password).filter(|p| !p.is_empty());
    run("create_user", Scope::Global, |b, _, caller| async move {
        b.create_user(&caller, username, display_name, email, role, password).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "set_user_role")]
pub async fn set_user_role(user_id: i64, role: GlobalRole) -> Result<(), AppError> {
    run("set_user_role", Scope::Global, |b, _, caller| async move { b.set_user_role(&caller, user_id, role).await })
        .await
}

#[server(prefix = "/api", endpoint = "set_user_disabled")]
pub async fn set_user_disabled(user_id: i64, disabled: bool) -> Result<(), AppError> {
    run("set_user_disabled", Scope::Global, |b, _, caller| async move {
        b.set_user_disabled(&caller, user_id, disabled).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "reset_password")]
pub async fn reset_password(user_id: i64) -> Result<OneTimeLink, AppError> {
    run("reset_password", Scope::Global, |b, _, caller| async move { b.reset_password(&caller, user_id).await }).await
}

#[server(prefix = "/api", endpoint = "audit_log")]
pub async fn audit_log(query: AuditQuery) -> Result<Page<AuditEntry>, AppError> {
    run("audit_log", Scope::Global, |b, _, caller| async move { b.audit_log(&caller, query).await }).await
}
