//! Cross-site request forgery protection for every state-changing request (server functions,
//! plain form posts, the API): a browser request must come from Steward's own origin.
//!
//! Browsers mark every request with `Sec-Fetch-Site`, and every cross-origin POST with
//! `Origin`; both are checked. Requests with neither come from non-browser clients (scripts,
//! the CLI), which cannot be tricked into carrying a victim's cookie. Session cookies are
//! `SameSite=Lax` as a second line.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{Method, header};

use crate::web::error::ApiError;
use steward_frontend::contract::AppError;

#[derive(Debug, Clone)]
pub struct AllowedOrigin {
    /// The configured base URL's origin, e.g. `https://steward.example.org`.
    pub base: Arc<str>,
}

pub async fn protect(State(allowed): State<AllowedOrigin>, request: Request, next: Next) -> Response {
    if matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE) {
        return next.run(request).await;
    }
    if let Err(reason) = check(&allowed, request.headers()) {
        tracing::warn!(method = %request.method(), path = request.uri().path(), reason, "refused cross-site request");
        return ApiError(AppError::Forbidden).into_response();
    }
    next.run(request).await
}

fn check(allowed: &AllowedOrigin, headers: &http::HeaderMap) -> Result<(), &'static str> {
    let text = |name| headers.get(name).and_then(|v: &http::HeaderValue| v.to_str().ok());
    if let Some(site) = text(header::HeaderName::from_static("sec-fetch-site"))
        && !matches!(site, "same-origin" | "none")
    {
        return Err("Sec-Fetch-Site is not same-origin");
    }
    if let Some(origin) = text(header::ORIGIN) {
        let host = text(header::HOST).unwrap_or_default();
        let same_host = origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://")) == Some(host);
        if origin != &*allowed.base && !same_host {
            return Err("Origin is another site");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> http::HeaderMap {
        pairs.iter().map(|(k, v)| (header::HeaderName::from_static(k), http::HeaderValue::from_static(v))).collect()
    }

    #[test]
    fn same_origin_passes_and_other_sites_do_not() {
        let allowed = AllowedOrigin { base: "https://steward.example.org".into() };
        assert!(check(&allowed, &headers(&[("origin", "https://steward.example.org")])).is_ok());
        assert!(check(&allowed, &headers(&[("origin", "http://127.0.0.1:8080"), ("host", "127.0.0.1:8080")])).is_ok());
        assert!(check(&allowed, &headers(&[("sec-fetch-site", "same-origin")])).is_ok());
        assert!(check(&allowed, &headers(&[])).is_ok(), "non-browser clients send neither header");
        assert!(check(&allowed, &headers(&[("origin", "https://evil.example")])).is_err());
        assert!(check(&allowed, &headers(&[("sec-fetch-site", "cross-site")])).is_err());
        assert!(check(&allowed, &headers(&[("sec-fetch-site", "same-site")])).is_err());
        assert!(check(&allowed, &headers(&[("origin", "null"), ("host", "steward.example.org")])).is_err());
    }
}
