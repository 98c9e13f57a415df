//! The HTTP face of Steward: pages (SSR + hydration), server functions, assets, health checks,
//! and the layers every request passes (request id, security headers, session, CSRF).

pub mod assets;
pub mod backend;
mod csrf;
pub mod error;
mod form_errors;
pub mod guard;
pub mod live;
pub mod policy;
pub mod request_id;

use axum::Router;
use axum::middleware;
use axum::response::IntoResponse;
use axum::routing::get;
use http::{HeaderValue, StatusCode, header};
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, generate_route_list};
use steward_frontend::contract::AppError;
use steward_frontend::{App, shell};
use tower_http::set_header::SetResponseHeaderLayer;

use self::csrf::AllowedOrigin;
use crate::auth::sessions::DbSessionStore;
use crate::state::AppState;
use crate::store::Store;

/// Leptos settings for the embedded bundle: `/pkg/steward.js` and `/pkg/steward_bg.wasm`.
fn leptos_options() -> LeptosOptions {
    LeptosOptions::builder().output_name("steward").site_pkg_dir("pkg").site_root("site").build()
}

pub fn router(state: &AppState) -> Router {
    let options = leptos_options();
    let routes = generate_route_list(App);
    let backend = backend::WebBackend::shared(state.clone());
    let live_backend = backend.clone();
    let live_state = state.clone();
    let (log_backend, log_state) = (backend.clone(), state.clone());
    let context = move || {
        provide_context(backend.clone());
        // Each page's policy names the nonce Leptos put on its inline scripts.
        if let Some(nonce) = leptos::nonce::use_nonce()
            && let Some(response) = use_context::<leptos_axum::ResponseOptions>()
            && let Ok(policy) = HeaderValue::from_str(&guard::content_security_policy(&nonce))
        {
            response.insert_header(header::CONTENT_SECURITY_POLICY, policy);
        }
    };
    let shell_options = options.clone();
    let app_shell = move || shell(shell_options.clone());
    let store = state.store.clone();
    let config = &state.config;

    let sessions =
        DbSessionStore::new(state.store.clone()).layer(config.uses_https(), config.auth.session_idle_minutes);
    let hosts = guard::AllowedHosts::from_base_url(&config.server.base_url);
    let allowed = AllowedOrigin { base: config.server.base_url.as_str().into(), hosts: hosts.clone() };

    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(move || readyz(store.clone())))
        .route("/pkg/{*file}", get(assets::pkg))
        .route("/assets/{*file}", get(assets::asset))
        .route(
            "/jobs/{id}/events",
            get(move |parts, path, query| {
                live::job_events(live_backend.clone(), live_state.clone(), parts, path, query)
            }),
        )
        .route(
            "/jobs/{id}/log.txt",
            get(move |parts, path| live::job_log_file(log_backend.clone(), log_state.clone(), parts, path)),
        )
        .leptos_routes_with_context(&options, routes, context.clone(), app_shell.clone())
        .fallback(leptos_axum::render_app_to_stream_with_context(context, app_shell))
        .with_state(options)
        .layer(middleware::from_fn_with_state(state.vault.clone(), form_errors::sign_and_check))
        .layer(middleware::from_fn_with_state(allowed, csrf::protect))
        .layer(sessions)
        .layer(middleware::from_fn(bound_requests))
        .layer(middleware::from_fn(guard::no_store))
        .layer(header_layer(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(header_layer(header::X_FRAME_OPTIONS, "DENY"))
        // One-time links carry their token in the URL: never send it to another site.
        .layer(header_layer(header::REFERRER_POLICY, "same-origin"))
        .layer(middleware::from_fn_with_state(hosts, guard::check_host))
        .layer(middleware::from_fn(request_id::assign))
}

/// Largest request body Steward reads (forms, server function calls, inventories to import).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Bounds what a request may carry before any handler reads it: a body over
/// [`MAX_BODY_BYTES`] is refused with 413 (whether it announces its length or not), and a
/// multipart post with 415, since no endpoint takes file uploads.
async fn bound_requests(request: axum::extract::Request, next: middleware::Next) -> axum::response::Response {
    let refuse = |err: AppError| error::ApiError(err).into_response();
    let too_large = AppError::TooLarge { limit_bytes: MAX_BODY_BYTES as u64 };
    let (parts, body) = request.into_parts();
    let header = |name| parts.headers.get(name).and_then(|v: &HeaderValue| v.to_str().ok());
    if header(header::CONTENT_TYPE).is_some_and(|t| t.trim_start().to_ascii_lowercase().starts_with("multipart/")) {
        return refuse(AppError::UnsupportedMediaType {
            message: "Steward takes forms and JSON, not file uploads (multipart): paste the text instead".into(),
        });
    }
    if header(header::CONTENT_LENGTH).and_then(|l| l.parse::<u64>().ok()).is_some_and(|l| l > MAX_BODY_BYTES as u64) {
        return refuse(too_large);
    }
    match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(bytes) => next.run(axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes))).await,
        Err(_) => refuse(too_large),
    }
}

fn header_layer(name: header::HeaderName, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
}

/// Ready when the database answers.
async fn readyz(store: Store) -> impl IntoResponse {
    match store.ping().await {
        Ok(()) => (StatusCode::OK, "ready"),
        Err(err) => {
            tracing::warn!(error = %err, "not ready: database does not answer");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
    }
}
