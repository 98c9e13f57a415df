//! The closed sets of words that name states: one enum each, written the same way in the
//! database, the API and on the page.

/// Declares an enum whose variants are words: `as_str`, `parse`, `ALL`, `Display`, serde as the
/// word itself, and comparison with the word (`state == "queued"`).
macro_rules! words {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $word:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $word)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $word),+
                }
            }

            pub fn parse(text: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|word| word.as_str() == text)
            }

            /// The words, for a message that lists the choices.
            pub fn choices() -> String {
                Self::ALL.iter().map(|word| word.as_str()).collect::<Vec<_>>().join(", ")
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }
    };
}

words! {
    /// Where a job is in its life.
    pub enum JobState {
        Queued = "queued",
        Running = "running",
        Succeeded = "succeeded",
        Failed = "failed",
        Cancelled = "cancelled",
        /// Steward stopped while it ran (its lease ran out).
        Interrupted = "interrupted",
    }
}

impl JobState {
    /// It will not change again.
    pub fn is_finished(self) -> bool {
        !matches!(self, Self::Queued | Self::Running)
    }
}

words! {
    /// Whether Steward could use a host at its last check, and if not, why.
    pub enum Reachability {
        NeverChecked = "never-checked",
        Reachable = "reachable",
        Unreachable = "unreachable",
        Refused = "refused",
        Timeout = "timeout",
        AuthFailed = "auth-failed",
        HostKeyUnknown = "host-key-unknown",
        HostKeyChanged = "host-key-changed",
        NoCredential = "no-credential",
        Error = "error",
    }
}

words! {
    /// Whether a host's managed files are still what was pushed.
    pub enum Drift {
        Unknown = "unknown",
        InSync = "in-sync",
        Drifted = "drifted",
    }
}

words! {
    /// Where an alert is in its life.
    pub enum AlertState {
        Open = "open",
        Acknowledged = "acknowledged",
        Resolved = "resolved",
    }
}

words! {
    pub enum Severity {
        Info = "info",
        Warning = "warning",
        Critical = "critical",
    }
}

words! {
    /// Where a message in the outbox is.
    pub enum MailStatus {
        Pending = "pending",
        Sending = "sending",
        Sent = "sent",
    }
}

words! {
    /// Whom an on-call override stands in for.
    pub enum RotaRole {
        Primary = "primary",
        Secondary = "secondary",
    }
}
