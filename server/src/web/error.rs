//! Errors to HTTP, in one place: the status comes from [`AppError::status_code`], the body is
//! the error as JSON, and internal causes stay in the log under the request id.

use axum::Json;
use axum::response::{IntoResponse, Response};
use steward_frontend::contract::AppError;

use crate::services::error::Error;
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

/// What a person may see of a service error: the one place where service and store errors
/// become the contract's error. Database and internal causes are logged with the request id;
/// the browser gets that id only.
impl From<Error> for AppError {
    fn from(err: Error) -> Self {
        match err {
            Error::Invalid { field, message } => AppError::Invalid { field, message },
            Error::InvalidFields { errors } => AppError::InvalidFields { errors },
            Error::Conflict { field, message } => AppError::Conflict { field, message },
            Error::NotFound { what } => AppError::NotFound { what },
            Error::Unauthenticated => AppError::Unauthenticated,
            Error::Forbidden => AppError::Forbidden,
            Error::TooManyAttempts { retry_after_secs } => AppError::TooManyAttempts { retry_after_secs },
            Error::Remote { message } => AppError::Remote { message },
            Error::Store(StoreError::NotFound) => AppError::not_found("The record"),
            Error::Store(StoreError::Conflict(_)) => {
                AppError::Conflict { field: None, message: "It already exists".into() }
            }
            Error::Store(StoreError::Unavailable(cause)) => {
                tracing::warn!(request_id = request_id::current(), error = %cause, "database unavailable");
                AppError::Unavailable
            }
            Error::Store(cause) => internal(cause),
            Error::Internal(cause) => internal(cause),
        }
    }
}

/// Logs `err` with the request id and returns what the browser may see.
pub(crate) fn internal(err: impl std::fmt::Display) -> AppError {
    let request_id = request_id::current();
    tracing::error!(request_id, error = %err, "internal error");
    AppError::Internal { request_id }
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        Self(err.into())
    }
}
