//! Studies, instances, hosts and credentials as the UI sees them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{FleetSummary, HostHealth, StudyRole};

macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name { $( #[serde(rename = $text)] $variant ),* }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),*];
            pub fn as_str(self) -> &'static str { match self { $($name::$variant => $text),* } }
            pub fn parse(text: &str) -> Option<Self> { Self::ALL.iter().copied().find(|v| v.as_str() == text) }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(self.as_str()) }
        }
    };
}

/// The software an instance runs: the name of a stack folder, shipped with Steward or added by
/// an operator under the data directory (the server checks it names one).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Stack(String);

impl Stack {
    /// The stacks Steward ships; forms suggest them (operators may add more).
    pub const SHIPPED: &'static [&'static str] = &["emission", "camcops", "inloop", "dcor", "generic"];

    /// A well-formed stack name (lowercase letters, digits and `-`, starting with a letter).
    pub fn parse(text: &str) -> Option<Self> {
        let mut chars = text.chars();
        let well_formed = chars.next().is_some_and(|c| c.is_ascii_lowercase())
            && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && text.len() <= 64;
        well_formed.then(|| Self(text.to_owned()))
    }

    /// A name read back from the database (checked when it was stored).
    pub fn stored(name: String) -> Self {
        Self(name)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Stack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

text_enum!(
    /// What a host does for its instance.
    HostRole { Web = "web", Analysis = "analysis", Database = "database", Notebook = "notebook", All = "all" }
);

text_enum!(
    /// What a vault entry holds.
    CredentialKind {
        SshKey = "ssh-key",
        DatabasePassword = "database-password",
        SmtpPassword = "smtp-password",
        ApiKey = "api-key",
    }
);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StudySummary {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub contact: String,
    pub instance_count: i64,
    pub host_count: i64,
    /// The caller's role; `None` for global admins who are not members.
    pub my_role: Option<StudyRole>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub user_id: i64,
    pub username: String,
    pub display_name: String,
    pub role: StudyRole,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StudyDetail {
    pub study: StudySummary,
    /// Empty unless the caller may see the inventory.
    pub members: Vec<Member>,
    pub instances: Vec<InstanceSummary>,
    pub can_manage: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceSummary {
    pub id: i64,
    pub study_id: i64,
    pub study_name: String,
    pub name: String,
    pub stack: Stack,
    pub environment: String,
    pub base_url: String,
    pub tags: Vec<String>,
    pub status: String,
    pub host_count: i64,
    /// Its hosts' last checks, rolled up.
    pub fleet: FleetSummary,
}

/// Filters, sort and page of the instances list; empty strings mean "any".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceQuery {
    #[serde(default)]
    pub study: String,
    #[serde(default)]
    pub stack: String,
    #[serde(default)]
    pub environment: String,
    #[serde(default)]
    pub tag: String,
    #[serde(default)]
    pub status: String,
    /// Free text matched against instance names.
    #[serde(default)]
    pub search: String,
    /// `name`, `study`, `stack`, `environment` or `status`; a leading `-` sorts descending.
    #[serde(default)]
    pub sort: String,
    #[serde(default)]
    pub page: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceDetail {
    pub instance: InstanceSummary,
    pub notes: String,
    pub hosts: Vec<HostSummary>,
    /// Each host's last check, in the order of `hosts`.
    pub health: Vec<HostHealth>,
    pub can_manage: bool,
    /// Whether the caller may run jobs on it.
    pub can_operate: bool,
    /// SSH keys a host may use (for those who manage the inventory; empty otherwise).
    pub ssh_keys: Vec<NamedRef>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedRef {
    pub id: i64,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostSummary {
    pub id: i64,
    pub instance_id: i64,
    pub name: String,
    pub roles: Vec<HostRole>,
    pub address: String,
    pub ssh_port: u16,
    pub ssh_user: String,
    pub credential: Option<NamedRef>,
    pub jump_host: Option<NamedRef>,
}

/// A key a host presented, and whether Steward trusts it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostKeyInfo {
    pub algorithm: String,
    /// `SHA256:...`, to compare with `ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub` on the host.
    pub fingerprint: String,
    pub pinned: bool,
}

/// One host with what its page needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostDetail {
    pub host: HostSummary,
    pub instance: InstanceSummary,
    /// `unknown` (nothing pinned), `pinned`, or `changed` (the host presented another key).
    pub key_status: String,
    pub keys: Vec<HostKeyInfo>,
    pub health: HostHealth,
    /// Certificate files and service units watched on the host, besides the basics.
    pub watch_certificates: Vec<String>,
    pub watch_units: Vec<String>,
    /// Whether the caller may trust a host key (global admins).
    pub can_pin: bool,
    /// Hosts of the same instance it may use as its jump host.
    pub jump_choices: Vec<NamedRef>,
    pub can_manage: bool,
    /// Whether the caller may run jobs on it.
    pub can_operate: bool,
    /// SSH keys a host may use (for those who manage the inventory; empty otherwise).
    pub ssh_keys: Vec<NamedRef>,
}

/// A host as typed into the form: text fields, so each can carry its own error.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostInput {
    #[serde(default)]
    pub name: String,
    /// Comma- or space-separated roles.
    #[serde(default)]
    pub roles: String,
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub ssh_port: String,
    #[serde(default)]
    pub ssh_user: String,
    /// Credential id, or empty.
    #[serde(default)]
    pub credential: String,
    /// Jump host id, or empty.
    #[serde(default)]
    pub jump_host: String,
}

/// What deleting something would remove, for the confirmation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeletionPreview {
    pub name: String,
    pub instances: i64,
    pub hosts: i64,
}

/// A vault entry: its name and public parts only; the secret never leaves the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialSummary {
    pub id: i64,
    pub name: String,
    pub kind: CredentialKind,
    /// For SSH keys: the `authorized_keys` line.
    pub public_key: String,
    /// For SSH keys: `SHA256:...`.
    pub fingerprint: String,
    pub created_at: DateTime<Utc>,
    pub used_by_hosts: i64,
    /// Studies whose hosts may use it (SSH keys; admins share them).
    pub studies: Vec<NamedRef>,
}

/// Something an inventory import leaves out, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    pub item: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedHost {
    pub name: String,
    pub address: String,
    pub ssh_port: u16,
    pub ssh_user: String,
    pub roles: Vec<HostRole>,
    /// Name of the jump host, within the same instance.
    pub jump_host: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedInstance {
    pub name: String,
    pub stack: Stack,
    pub environment: String,
    pub tags: Vec<String>,
    pub hosts: Vec<PlannedHost>,
}

/// What an inventory import creates (or would create, in a preview) and what it leaves out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportReport {
    pub instances: Vec<PlannedInstance>,
    pub skipped: Vec<Skipped>,
    /// False for a preview.
    pub applied: bool,
    pub instances_created: u32,
    pub hosts_created: u32,
}
