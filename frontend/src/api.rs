//! Server functions: the UI's calls to the server. Each one is thin: it hands the request to
//! the [`Backend`](crate::contract::Backend) and returns what it says. Endpoints are stable
//! (`/api/<name>`) so tests and scripts can call them too.

use leptos::prelude::*;

use crate::contract::{AppError, AuditEntry, AuditQuery, CurrentUser, GlobalRole, OneTimeLink};
use crate::contract::{Page, SetupStatus, UserSummary};

#[cfg(feature = "ssr")]
mod glue {
    use std::future::Future;
    use std::sync::Arc;

    use http::request::Parts;
    use leptos::prelude::*;

    use crate::contract::{AppError, Backend};

    /// Runs `call` with the backend and the request parts, and gives the HTTP response the
    /// status of the error, if any.
    pub async fn with_backend<T, F, Fut>(call: F) -> Result<T, AppError>
    where
        F: FnOnce(Arc<dyn Backend>, Parts) -> Fut,
        Fut: Future<Output = Result<T, AppError>>,
    {
        let backend = use_context::<Arc<dyn Backend>>().ok_or_else(|| AppError::Internal {
            request_id: "no-backend".into(),
        })?;
        let parts = use_context::<Parts>().ok_or_else(|| AppError::Internal {
            request_id: "no-request".into(),
        })?;
        // A plain form post (before the wasm loads) is answered with a redirect back to the
        // form; only calls from the browser bundle or scripts get the error's status.
        let plain_form = parts
            .headers
            .get(http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/html"));
        let result = call(backend, parts).await;
        if let Err(err) = &result
            && !plain_form
            && let Some(options) = use_context::<leptos_axum::ResponseOptions>()
            && let Ok(status) = http::StatusCode::from_u16(err.status_code())
        {
            options.set_status(status);
            if let AppError::TooManyAttempts { retry_after_secs } = err
                && let Ok(value) = http::HeaderValue::from_str(&retry_after_secs.to_string())
            {
                options.insert_header(http::header::RETRY_AFTER, value);
            }
        }
        result
    }

    /// Only same-site paths are followed after login, never another origin.
    pub fn safe_next(next: Option<String>) -> String {
        match next {
            Some(path)
                if path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') =>
            {
                path
            }
            _ => "/".to_owned(),
        }
    }
}

#[cfg(feature = "ssr")]
fn require_same(password: &str, confirm: &str) -> Result<(), AppError> {
    if password == confirm {
        Ok(())
    } else {
        Err(AppError::invalid(
            "confirm",
            "The two passwords do not match",
        ))
    }
}

#[server(prefix = "/api", endpoint = "current_user")]
pub async fn get_current_user() -> Result<Option<CurrentUser>, AppError> {
    glue::with_backend(|b, req| async move { b.current_user(&req).await }).await
}

#[server(prefix = "/api", endpoint = "setup_status")]
pub async fn get_setup_status() -> Result<SetupStatus, AppError> {
    glue::with_backend(|b, _req| async move { b.setup_status().await }).await
}

#[server(prefix = "/api", endpoint = "complete_setup")]
pub async fn complete_setup(
    token: String,
    username: String,
    password: String,
    confirm: String,
) -> Result<(), AppError> {
    require_same(&password, &confirm)?;
    glue::with_backend(
        |b, req| async move { b.complete_setup(&req, token, username, password).await },
    )
    .await?;
    leptos_axum::redirect("/");
    Ok(())
}

#[server(prefix = "/api", endpoint = "login")]
pub async fn login(
    username: String,
    password: String,
    next: Option<String>,
) -> Result<CurrentUser, AppError> {
    let user =
        glue::with_backend(|b, req| async move { b.login(&req, username, password).await }).await?;
    leptos_axum::redirect(&glue::safe_next(next));
    Ok(user)
}

#[server(prefix = "/api", endpoint = "logout")]
pub async fn logout() -> Result<(), AppError> {
    glue::with_backend(|b, req| async move { b.logout(&req).await }).await?;
    leptos_axum::redirect("/login");
    Ok(())
}

#[server(prefix = "/api", endpoint = "change_password")]
pub async fn change_password(
    current: String,
    password: String,
    confirm: String,
) -> Result<(), AppError> {
    require_same(&password, &confirm)?;
    glue::with_backend(|b, req| async move { b.change_password(&req, current, password).await })
        .await
}

#[server(prefix = "/api", endpoint = "set_password")]
pub async fn set_password(
    token: String,
    password: String,
    confirm: String,
) -> Result<(), AppError> {
    require_same(&password, &confirm)?;
    glue::with_backend(|b, req| async move { b.redeem_password_link(&req, token, password).await })
        .await?;
    leptos_axum::redirect("/login?password_set=1");
    Ok(())
}

#[server(prefix = "/api", endpoint = "list_users")]
pub async fn list_users() -> Result<Vec<UserSummary>, AppError> {
    glue::with_backend(|b, req| async move { b.list_users(&req).await }).await
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
    glue::with_backend(|b, req| async move {
        b.create_user(&req, username, display_name, email, role, password)
            .await
    })
    .await
}

#[server(prefix = "/api", endpoint = "set_user_role")]
pub async fn set_user_role(user_id: i64, role: GlobalRole) -> Result<(), AppError> {
    glue::with_backend(|b, req| async move { b.set_user_role(&req, user_id, role).await }).await
}

#[server(prefix = "/api", endpoint = "set_user_disabled")]
pub async fn set_user_disabled(user_id: i64, disabled: bool) -> Result<(), AppError> {
    glue::with_backend(|b, req| async move { b.set_user_disabled(&req, user_id, disabled).await })
        .await
}

#[server(prefix = "/api", endpoint = "reset_password")]
pub async fn reset_password(user_id: i64) -> Result<OneTimeLink, AppError> {
    glue::with_backend(|b, req| async move { b.reset_password(&req, user_id).await }).await
}

#[server(prefix = "/api", endpoint = "audit_log")]
pub async fn audit_log(query: AuditQuery) -> Result<Page<AuditEntry>, AppError> {
    glue::with_backend(|b, req| async move { b.audit_log(&req, query).await }).await
}
