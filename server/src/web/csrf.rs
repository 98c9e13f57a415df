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
use crate::web::guard::AllowedHosts;
use steward_frontend::contract::AppError;

#[derive(Debug, Clone)]
pub struct AllowedOrigin {
    /// The configured base URL's origin, e.g. `https://steward.example.org`.
    pub base: Arc<str>,
    /// The names Steward answers to, and its scheme.
    pub hosts: AllowedHosts,
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
        // Another of Steward's own names (localhost for 127.0.0.1), with the same scheme.
        let same_site = origin
            .strip_prefix(&*allowed.hosts.scheme)
            .and_then(|rest| rest.strip_prefix("://"))
            .is_some_and(|host| host == text(header::HOST).unwrap_or_default() && allowed.hosts.allows(host));
        if origin != &*allowed.base && !same_site {
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
        let base = "https://steward.example.org";
        let allowed = AllowedOrigin { base: base.into(), hosts: AllowedHosts::from_base_url(base) };
        assert!(check(&allowed, &headers(&[("origin", "https://steward.example.org")])).is_ok());
        // The scheme counts: a page served over plain http is another origin.
        let downgrade = [("origin", "http://steward.example.org"), ("host", "steward.example.org")];
        assert!(check(&allowed, &headers(&downgrade)).is_err());
        let local = AllowedOrigin {
            base: "http://127.0.0.1:8080".into(),
            hosts: AllowedHosts::from_base_url("http://127.0.0.1:8080"),
        };
        assert!(check(&local, &headers(&[("origin", "http://localhost:8080"), ("host", "localhost:8080")])).is_ok());
        assert!(check(&local, &headers(&[("origin", "https://localhost:8080"), ("host", "localhost:8080")])).is_err());
        assert!(check(&allowed, &headers(&[("sec-fetch-site", "same-origin")])).is_ok());
        assert!(check(&allowed, &headers(&[])).is_ok(), "non-browser clients send neither header");
        assert!(check(&allowed, &headers(&[("origin", "https://evil.example")])).is_err());
        assert!(check(&allowed, &headers(&[("sec-fetch-site", "cross-site")])).is_err());
        assert!(check(&allowed, &headers(&[("sec-fetch-site", "same-site")])).is_err());
        assert!(check(&allowed, &headers(&[("origin", "null"), ("host", "steward.example.org")])).is_err());
    }
}
