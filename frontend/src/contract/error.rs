//! The one error type the UI sees. Internal details never travel in it: an internal error
//! carries only the request id under which the server logged the cause.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    /// Bad input; `field` names the form field it belongs to, when there is one.
    #[error("{message}")]
    Invalid { field: Option<String>, message: String },
    /// Several fields of one form are wrong; each message belongs next to its field.
    #[error("{} fields need attention", errors.len())]
    InvalidFields { errors: Vec<super::FieldError> },
    /// Something with the same unique name already exists.
    #[error("{message}")]
    Conflict { field: Option<String>, message: String },
    #[error("{what} was not found")]
    NotFound { what: String },
    #[error("Please log in")]
    Unauthenticated,
    #[error("You are not allowed to do that")]
    Forbidden,
    /// Login throttling and similar limits.
    #[error("Too many attempts; try again in {retry_after_secs} s")]
    TooManyAttempts { retry_after_secs: u64 },
    /// The request's body is larger than Steward accepts.
    #[error("The request is too large: Steward accepts at most {} KiB", limit_bytes / 1024)]
    TooLarge { limit_bytes: u64 },
    /// The request is of a kind no endpoint takes (a file upload, say).
    #[error("{message}")]
    UnsupportedMediaType { message: String },
    #[error("Steward cannot reach its database right now; try again shortly")]
    Unavailable,
    /// A host could not be used over SSH; the message says why (key, network, login).
    #[error("The host could not be used: {message}")]
    Remote { message: String },
    #[error("Something went wrong on the server (request {request_id})")]
    Internal { request_id: String },
    /// The request never reached the server function (network, decoding).
    #[error("The server could not be reached: {0}")]
    Transport(String),
}

impl AppError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid { field: Some(field.into()), message: message.into() }
    }

    pub fn conflict(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Conflict { field: Some(field.into()), message: message.into() }
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        Self::NotFound { what: what.into() }
    }

    /// The message to show next to `field`, if this error belongs to it.
    pub fn for_field(&self, name: &str) -> Option<String> {
        match self {
            Self::Invalid { field: Some(f), message } | Self::Conflict { field: Some(f), message } if f == name => {
                Some(message.clone())
            }
            Self::InvalidFields { errors } => errors.iter().find(|e| e.field == name).map(|e| e.message.clone()),
            _ => None,
        }
    }

    /// True when the error belongs to a field and is shown there rather than in a banner.
    pub fn is_field_error(&self) -> bool {
        matches!(
            self,
            Self::Invalid { field: Some(_), .. } | Self::Conflict { field: Some(_), .. } | Self::InvalidFields { .. }
        )
    }

    /// How long a client should wait before trying again (`Retry-After`), when waiting helps.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Self::TooManyAttempts { retry_after_secs } => Some(*retry_after_secs),
            Self::Unavailable => Some(1),
            _ => None,
        }
    }

    /// The HTTP status for this error: the one table used by pages, server functions and the API.
    pub fn status_code(&self) -> u16 {
        match self {
            Self::Invalid { .. } | Self::InvalidFields { .. } => 400,
            Self::Unauthenticated => 401,
            Self::Forbidden => 403,
            Self::NotFound { .. } => 404,
            Self::Conflict { .. } => 409,
            Self::TooLarge { .. } => 413,
            Self::UnsupportedMediaType { .. } => 415,
            Self::TooManyAttempts { .. } => 429,
            Self::Internal { .. } | Self::Transport(_) => 500,
            Self::Unavailable => 503,
            Self::Remote { .. } => 502,
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Args(message) | ServerFnErrorErr::MissingArg(message) => {
                Self::Invalid { field: None, message: format!("Bad request: {message}") }
            }
            other => Self::Transport(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_errors_find_their_field() {
        let err = AppError::invalid("username", "Username is required");
        assert_eq!(err.for_field("username").as_deref(), Some("Username is required"));
        assert_eq!(err.for_field("password"), None);
        assert!(err.is_field_error());
    }

    #[test]
    fn internal_errors_show_only_the_request_id() {
        let err = AppError::Internal { request_id: "r-1".into() };
        assert_eq!(err.to_string(), "Something went wrong on the server (request r-1)");
        assert_eq!(err.status_code(), 500);
    }
}
