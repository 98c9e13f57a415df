//! Authentication plumbing: password hashing, one-time tokens, database-backed sessions and
//! cross-site request protection.

pub mod csrf;
pub mod passwords;
pub mod sessions;
pub mod tokens;
