//! Checks every request passes before it reaches a page or a server function: the `Host` it
//! names must be Steward's own (a DNS-rebinding page cannot talk to it under another name),
//! and headers that keep pages private: `Cache-Control: no-store` on everything but the static
//! bundle, and a Content-Security-Policy that lets only Steward's own scripts run (the inline
//! hydration script carries the nonce Leptos puts on it).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, header};
use steward_frontend::contract::AppError;

use crate::web::error::ApiError;

/// The names Steward answers to: the base URL's authority, and for a loopback base URL the
/// other loopback names with the same port.
#[derive(Debug, Clone)]
pub struct AllowedHosts {
    /// `http` or `https`, from the base URL.
    pub scheme: Arc<str>,
    hosts: Arc<[String]>,
}

impl AllowedHosts {
    pub fn from_base_url(base: &str) -> Self {
        let parsed = url::Url::parse(base).ok();
        let scheme: Arc<str> = parsed.as_ref().map_or("http", url::Url::scheme).into();
        let mut hosts = Vec::new();
        if let Some(url) = &parsed
            && let Some(host) = url.host_str()
        {
            let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
            hosts.push(format!("{host}{port}").to_ascii_lowercase());
            if matches!(host, "127.0.0.1" | "localhost" | "[::1]") {
                for alias in ["127.0.0.1", "localhost", "[::1]"] {
                    hosts.push(format!("{alias}{port}"));
                }
            }
        }
        Self { scheme, hosts: hosts.into() }
    }

    pub fn allows(&self, host: &str) -> bool {
        self.hosts.is_empty() || self.hosts.iter().any(|h| h.eq_ignore_ascii_case(host))
    }
}

/// Refuses requests naming another host (421). Health checks answer whatever the name, since
/// load balancers probe by address.
pub async fn check_host(State(allowed): State<AllowedHosts>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let probe = path == "/healthz" || path == "/readyz";
    let host = request.headers().get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !probe && !allowed.allows(host) {
        tracing::warn!(host, "refused a request for another host name (DNS rebinding?)");
        let mut response = ApiError(AppError::Forbidden).into_response();
        *response.status_mut() = http::StatusCode::MISDIRECTED_REQUEST;
        return response;
    }
    next.run(request).await
}

/// Nothing but the static bundle may be kept by a browser or a proxy: pages and answers hold
/// what only the signed-in user may see.
pub async fn no_store(request: Request, next: Next) -> Response {
    let cacheable = request.uri().path().starts_with("/pkg/") || request.uri().path().starts_with("/assets/");
    let mut response = next.run(request).await;
    if !cacheable {
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// The policy for a page whose inline scripts carry `nonce`.
pub fn content_security_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self'; \
         img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_steward_s_own_names_are_answered() {
        let public = AllowedHosts::from_base_url("https://steward.example.org");
        assert!(public.allows("steward.example.org") && public.allows("STEWARD.example.org"));
        assert!(!public.allows("evil.example") && !public.allows("127.0.0.1") && !public.allows(""));
        let local = AllowedHosts::from_base_url("http://127.0.0.1:8080");
        assert!(local.allows("127.0.0.1:8080") && local.allows("localhost:8080"));
        assert!(!local.allows("localhost:9090") && !local.allows("rebind.evil.example:8080"));
        assert_eq!(&*local.scheme, "http");
    }
}
