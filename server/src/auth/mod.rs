//! Authentication plumbing: password hashing, one-time tokens and database-backed sessions.

pub mod passwords;
pub mod sessions;
pub mod tokens;
