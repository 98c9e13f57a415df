//! Server functions: the UI's calls to the server, one module per domain. Each one is thin: it
//! names its endpoint and what it is about, and hands over to the
//! [`Backend`](crate::contract::Backend), whose policy (on the server, one table for every entry
//! point) decides who may call it. Endpoints are stable (`/api/<name>`) so tests and scripts can
//! call them too.

mod accounts;
mod alerts;
mod configs;
mod credentials;
mod inventory;
mod jobs;
mod mail;
mod rota;
mod system;

pub use accounts::*;
pub use alerts::*;
pub use configs::*;
pub use credentials::*;
pub use inventory::*;
pub use jobs::*;
pub use mail::*;
pub use rota::*;
pub use system::*;

#[cfg(feature = "ssr")]
pub(crate) mod glue {
    use std::future::Future;
    use std::sync::Arc;

    use http::request::Parts;
    use leptos::prelude::*;

    pub use crate::contract::Scope;
    use crate::contract::{AppError, Backend, Caller};

    /// Has the server authorize `endpoint` on `scope` (its policy says who may call it), then
    /// runs `call`; gives the HTTP response the status of the error, if any.
    pub async fn run<T, F, Fut>(endpoint: &'static str, scope: Scope, call: F) -> Result<T, AppError>
    where
        F: FnOnce(Arc<dyn Backend>, Parts, Caller) -> Fut,
        Fut: Future<Output = Result<T, AppError>>,
    {
        let backend =
            use_context::<Arc<dyn Backend>>().ok_or_else(|| AppError::Internal { request_id: "no-backend".into() })?;
        let parts = use_context::<Parts>().ok_or_else(|| AppError::Internal { request_id: "no-request".into() })?;
        // A plain form post (before the wasm loads) is answered with a redirect back to the
        // form; only calls from the browser bundle or scripts get the error's status.
        let plain_form = parts
            .headers
            .get(http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/html"));
        let result = match backend.authorize(&parts, endpoint, scope).await {
            Ok(caller) => call(backend, parts, caller).await,
            Err(err) => Err(err),
        };
        if let Err(err) = &result
            && !plain_form
            && let Some(options) = use_context::<leptos_axum::ResponseOptions>()
            && let Ok(status) = http::StatusCode::from_u16(err.status_code())
        {
            options.set_status(status);
            if let Some(secs) = err.retry_after_secs()
                && let Ok(value) = http::HeaderValue::from_str(&secs.to_string())
            {
                options.insert_header(http::header::RETRY_AFTER, value);
            }
        }
        result
    }

    /// Only same-origin paths are followed after login, never another origin: a path that
    /// starts with one `/`, with no backslash, whitespace or control character anywhere
    /// (browsers drop tabs and newlines, so `/\t/evil` would become `//evil`), and no more
    /// than fits a header.
    pub fn safe_next(next: Option<String>) -> String {
        match next {
            Some(path)
                if path.starts_with('/')
                    && !path.starts_with("//")
                    && path.len() <= 2048
                    && !path.chars().any(|c| c == '\\' || c.is_whitespace() || c.is_control()) =>
            {
                path
            }
            _ => "/".to_owned(),
        }
    }

    pub fn require_same(password: &str, confirm: &str) -> Result<(), AppError> {
        if password == confirm { Ok(()) } else { Err(AppError::invalid("confirm", "The two passwords do not match")) }
    }
}
