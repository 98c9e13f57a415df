//! Errors to HTTP, in one place: the status comes from [`AppError::status_code`], the body is
//! the error as JSON, and internal causes stay in the log under the request id.

use axum::Json;
use axum::response::{IntoResponse, Response};
use steward_frontend::contract::AppError;

use crate::store::StoreError;
use crate::web::request_id;

/// An [`AppError`] as an axum response.
#[derive(Debug)]
pub struct ApiError(pub AppError);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status =
            http::StatusCode::from_u16(self.0.status_code()).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, Json(&self.0)).into_response();
        if let Some(secs) = self.0.retry_after_secs()
            && let Ok(value) = http::HeaderValue::from_str(&secs.to_string())
        {
            response.headers_mut().insert(http::header::RETRY_AFTER, value);
        }
        response
    }
}

impl From<AppError> for ApiError {
    fn from(err: AppError) -> Self {
        Self(err)
    }
}

/// Logs `err` with the request id and returns what the browser may see.
pub fn internal(err: impl std::fmt::Display) -> AppError {
    let request_id = request_id::current();
    tracing::error!(request_id, error = %err, "internal error");
    AppError::Internal { request_id }
}

/// Maps a store error, naming `what` was not found ("The host").
pub fn not_found(what: &'static str) -> impl Fn(StoreError) -> AppError {
    move |err| match err {
        StoreError::NotFound => AppError::not_found(what),
        other => from_store(other),
    }
}

/// Store errors the caller did not handle itself. Callers that know better (a unique username,
/// say) map `NotFound` and `Conflict` to specific messages before this.
pub fn from_store(err: StoreError) -> AppError {
    match err {
        StoreError::NotFound => AppError::not_found("The record"),
        StoreError::Conflict(_) => AppError::Conflict { field: None, message: "It already exists".into() },
        StoreError::Unavailable(cause) => {
            tracing::warn!(request_id = request_id::current(), error = %cause, "database unavailable");
            AppError::Unavailable
        }
        other => internal(other),
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        Self(from_store(err))
    }
}
