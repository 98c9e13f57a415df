//! What the UI needs from the server: data types, the error type and the backend trait.

#[cfg(feature = "ssr")]
mod backend;
mod error;
mod types;

#[cfg(feature = "ssr")]
pub use backend::Backend;
pub use error::AppError;
pub use types::*;
