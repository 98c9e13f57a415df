//! Who may do what. Every server function declares the [`Access`] it needs; the server checks
//! it in one place before running the function. Per-study roles map to permissions here.

use serde::{Deserialize, Serialize};

/// A member's role in one study. Global admins may do everything in every study.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StudyRole {
    /// Manages the study, its members and its instances.
    StudyAdmin,
    /// Runs pushes, backups and upgrades.
    Operator,
    /// Sees everything and acknowledges alerts.
    OnCall,
    /// Sees only the study's name and their own access bundles.
    Researcher,
    /// Read-only.
    Viewer,
}

impl StudyRole {
    pub const ALL: [StudyRole; 5] = [Self::StudyAdmin, Self::Operator, Self::OnCall, Self::Researcher, Self::Viewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::StudyAdmin => "study-admin",
            Self::Operator => "operator",
            Self::OnCall => "on-call",
            Self::Researcher => "researcher",
            Self::Viewer => "viewer",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|role| role.as_str() == text)
    }

    /// The permission table for study roles.
    pub fn allows(self, permission: Permission) -> bool {
        use Permission::*;
        match permission {
            SeeStudy => true,
            ViewInventory => !matches!(self, Self::Researcher),
            AcknowledgeAlerts => matches!(self, Self::StudyAdmin | Self::Operator | Self::OnCall),
            RunOperations => matches!(self, Self::StudyAdmin | Self::Operator),
            ManageInventory | ManageMembers | ManageStudy => matches!(self, Self::StudyAdmin),
        }
    }
}

impl std::fmt::Display for StudyRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Things one may do within a study.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Permission {
    /// Know the study exists and see its name.
    SeeStudy,
    /// See instances, hosts, facts and history.
    ViewInventory,
    AcknowledgeAlerts,
    /// Push configuration, run backups and upgrades.
    RunOperations,
    /// Create, change and delete instances and hosts.
    ManageInventory,
    ManageMembers,
    /// Rename, describe or delete the study.
    ManageStudy,
}

/// What a server function needs from its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Access {
    /// Anyone, signed in or not (login, setup).
    Public,
    /// Any signed-in user.
    SignedIn,
    /// Global admins only (users, credentials, audit log, creating studies).
    Admin,
    /// A permission in the study the request is about.
    Study(Permission),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn researchers_see_names_only_and_viewers_read_only() {
        assert!(StudyRole::Researcher.allows(Permission::SeeStudy));
        assert!(!StudyRole::Researcher.allows(Permission::ViewInventory));
        assert!(StudyRole::Viewer.allows(Permission::ViewInventory));
        assert!(!StudyRole::Viewer.allows(Permission::RunOperations));
        assert!(StudyRole::OnCall.allows(Permission::AcknowledgeAlerts));
        assert!(!StudyRole::Operator.allows(Permission::ManageInventory));
        for role in StudyRole::ALL {
            assert_eq!(StudyRole::parse(role.as_str()), Some(role));
        }
    }
}
