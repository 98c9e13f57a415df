//! Form inputs shared by the browser and the server.

use serde::{Deserialize, Serialize};

/// Fields of a new or changed instance, as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceInput {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub stack: String,
    #[serde(default)]
    pub environment: String,
    #[serde(default)]
    pub base_url: String,
    /// Comma- or space-separated.
    #[serde(default)]
    pub tags: String,
    #[serde(default)]
    pub notes: String,
}
