//! Stacks, typed settings, config revisions, diffs and drift as the UI sees them. Secret values
//! never travel here: a secret setting is only "set" or "not set", and diffs show it masked.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{DriftState, FileStatus};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackSummary {
    pub name: String,
    pub title: String,
    pub description: String,
    /// `shipped`, or the folder an operator added it from.
    pub source: String,
    pub files: usize,
    pub settings: usize,
}

/// A problem with one form field; a form shows all of them at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// One setting as the form renders it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingField {
    pub name: String,
    pub label: String,
    /// string, text, integer, boolean, choice, url, email, port, path, hostname, list, secret.
    pub kind: String,
    pub required: bool,
    pub help: String,
    pub group: String,
    pub choices: Vec<String>,
    /// The default, as the form would show it.
    pub default: String,
    /// The value in the latest revision, as the form shows it (always empty for secrets).
    pub value: String,
    /// For secrets: a value is stored.
    pub is_set: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevisionSummary {
    pub id: i64,
    pub number: i64,
    pub author: String,
    pub message: String,
    pub created_at: DateTime<Utc>,
}

/// What Steward knows about one host's files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostConfigState {
    pub host_id: i64,
    pub host_name: String,
    pub roles: Vec<String>,
    /// Number of the revision last pushed to it.
    pub revision: Option<i64>,
    pub pushed_at: Option<DateTime<Utc>>,
    pub drift: DriftState,
    /// Files that differ from what was pushed (changed or missing).
    pub drift_files: Vec<String>,
    pub checked_at: Option<DateTime<Utc>>,
}

/// An instance's configuration page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigOverview {
    pub instance_id: i64,
    pub instance_name: String,
    pub study_id: i64,
    pub stack: Option<StackSummary>,
    /// Why the stack cannot be used (missing or broken folder).
    pub stack_problem: Option<String>,
    pub fields: Vec<SettingField>,
    pub revisions: Vec<RevisionSummary>,
    pub hosts: Vec<HostConfigState>,
}

/// Settings typed into the form; each setting's text by name. A secret left empty keeps its
/// stored value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingsInput {
    pub instance_id: i64,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub values: BTreeMap<String, String>,
}

/// One file's difference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileDiff {
    pub path: String,
    pub status: FileStatus,
    /// Unified diff with secrets masked; empty when unchanged.
    pub diff: String,
}

/// The files of one host, compared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostDiff {
    pub host_id: i64,
    pub host_name: String,
    pub files: Vec<FileDiff>,
    /// Why this host could not be compared (unreachable, render error...).
    pub error: Option<String>,
}

impl HostDiff {
    pub fn changed(&self) -> usize {
        self.files.iter().filter(|f| f.status != "unchanged").count()
    }
}

/// Starting a push, as the form sends it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushInput {
    pub instance_id: i64,
    /// A revision id; empty for the latest.
    #[serde(default)]
    pub revision: String,
    /// Only hosts with one of these roles (comma or space separated); empty: every host.
    #[serde(default)]
    pub roles: String,
    /// Hosts changed at once; empty for the default.
    #[serde(default)]
    pub batch_size: String,
    /// Stop starting hosts after the first failure.
    #[serde(default)]
    pub stop_on_failure: Option<String>,
}
