//! The closed sets of words that name states: one enum each, written the same way in the
//! database, the API and on the page.

/// A closed set of words (what `words!` declares): reading one back and listing the choices.
pub trait Word: Copy + 'static {
    const ALL: &'static [Self];
    fn as_str(self) -> &'static str;

    /// The word's variant; words are exact (no trimming, no case folding).
    fn parse(text: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|word| word.as_str() == text)
    }

    /// The words, for a message that lists the choices.
    fn choices() -> String {
        Self::ALL.iter().map(|word| word.as_str()).collect::<Vec<_>>().join(", ")
    }
}

/// Declares an enum whose variants are words: `ALL` and `as_str` (also as [`Word`], which
/// parses), `Display`, serde as the word itself, and comparison with the word
/// (`state == "queued"`).
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
        }

        impl Word for $name {
            const ALL: &'static [Self] = $name::ALL;
            fn as_str(self) -> &'static str {
                $name::as_str(self)
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
    /// Where one host's part of a job is.
    pub enum HostRunState {
        Queued = "queued",
        Running = "running",
        Succeeded = "succeeded",
        Failed = "failed",
        /// Not started: the job was stopped first.
        Skipped = "skipped",
        /// Steward stopped while it ran.
        Interrupted = "interrupted",
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

#[allow(clippy::derivable_impls)] // the variants come from `words!`, which derives no Default
impl Default for Reachability {
    fn default() -> Self {
        Self::NeverChecked
    }
}

words! {
    /// Whether a host's managed files are still what was pushed.
    pub enum DriftState {
        Unknown = "unknown",
        InSync = "in-sync",
        Drifted = "drifted",
    }
}

words! {
    /// How a file differs from what it was.
    pub enum FileStatus {
        Added = "added",
        Changed = "changed",
        Unchanged = "unchanged",
        Removed = "removed",
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every word parses back to its variant, prints as itself and crosses the API as itself.
    fn round_trips<T>(all: &[T])
    where
        T: Copy + PartialEq + std::fmt::Debug + std::fmt::Display + serde::Serialize + serde::de::DeserializeOwned,
    {
        for &word in all {
            let text = word.to_string();
            assert_eq!(serde_json::to_string(&word).unwrap(), format!("\"{text}\""));
            assert_eq!(serde_json::from_str::<T>(&format!("\"{text}\"")).unwrap(), word);
        }
    }

    #[test]
    fn words_read_back_and_cross_the_api_as_themselves() {
        round_trips(JobState::ALL);
        round_trips(HostRunState::ALL);
        round_trips(Reachability::ALL);
        round_trips(DriftState::ALL);
        round_trips(FileStatus::ALL);
        round_trips(AlertState::ALL);
        round_trips(Severity::ALL);
        round_trips(MailStatus::ALL);
        round_trips(RotaRole::ALL);
        assert_eq!(JobState::parse("succeeded"), Some(JobState::Succeeded));
        assert_eq!(JobState::parse("Succeeded"), None, "words are exact");
        assert_eq!(Reachability::HostKeyChanged, "host-key-changed");
        assert_eq!(RotaRole::choices(), "primary, secondary");
        assert!(JobState::Interrupted.is_finished() && !JobState::Running.is_finished());
    }
}
