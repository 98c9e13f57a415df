//! What can go wrong in Steward's services, in their own terms. The web layer turns it into
//! the UI contract's error in one place (`web/error.rs`); the CLI prints it. Database errors
//! travel as they are (`?` on a store call) and are mapped there too, so no service decides a
//! status code or lets database text reach a person.

use std::fmt::Display;

use steward_frontend::contract::FieldError;

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input; `field` names the form field it belongs to, when there is one.
    #[error("{message}")]
    Invalid { field: Option<String>, message: String },
    /// Several fields of one form are wrong; each message belongs next to its field.
    #[error("{} fields need attention", errors.len())]
    InvalidFields { errors: Vec<FieldError> },
    /// Something with the same unique name already exists, or changed meanwhile.
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
    /// A host could not be used over SSH; the message says why (key, network, login).
    #[error("The host could not be used: {message}")]
    Remote { message: String },
    /// The database failed (or has no such row, when the caller did not say what it was).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A fault of Steward's own; logged, never shown.
    #[error("{0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid { field: Some(field.into()), message: message.into() }
    }

    /// Bad input that belongs to no one field.
    pub fn refused(message: impl Into<String>) -> Self {
        Self::Invalid { field: None, message: message.into() }
    }

    pub fn conflict(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Conflict { field: Some(field.into()), message: message.into() }
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        Self::NotFound { what: what.into() }
    }

    /// `err` as "`what` was not found" when the store has no such row.
    pub fn not_found_or(what: &'static str, err: StoreError) -> Self {
        match err {
            StoreError::NotFound => Self::not_found(what),
            other => Self::Store(other),
        }
    }

    pub fn internal(cause: impl Display) -> Self {
        Self::Internal(cause.to_string())
    }

    /// The message to show next to `field`, if this error belongs to it.
    pub fn for_field(&self, name: &str) -> Option<&str> {
        match self {
            Self::Invalid { field: Some(f), message } | Self::Conflict { field: Some(f), message } if f == name => {
                Some(message)
            }
            Self::InvalidFields { errors } => errors.iter().find(|e| e.field == name).map(|e| e.message.as_str()),
            _ => None,
        }
    }
}

/// Names what a store lookup was for, so "no such row" reads "The host was not found".
pub trait OrNotFound<T> {
    fn or_not_found(self, what: &'static str) -> Result<T>;
}

impl<T> OrNotFound<T> for Result<T, StoreError> {
    fn or_not_found(self, what: &'static str) -> Result<T> {
        self.map_err(|err| Error::not_found_or(what, err))
    }
}
