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

/// An Ansible inventory to import, and defaults for what it does not say.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportInput {
    /// The inventory file's text, INI or YAML.
    #[serde(default)]
    pub inventory: String,
    /// Instance for hosts whose groups name none (`steward_instance`).
    #[serde(default)]
    pub instance: String,
    #[serde(default)]
    pub stack: String,
    #[serde(default)]
    pub environment: String,
    /// SSH user for hosts without `ansible_user`.
    #[serde(default)]
    pub ssh_user: String,
    /// False: only show what would happen.
    #[serde(default)]
    pub apply: bool,
}
