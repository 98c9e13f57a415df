//! The protocol between Steward and `steward-agent`: versioned JSON lines over stdin/stdout.
//!
//! Steward starts the agent over SSH, writes one [`Request`] per line and reads [`Response`]
//! lines back. Every request gets exactly one final response; `exec` first streams
//! [`Response::Output`] lines, and `write-file` first takes [`Request::Chunk`] lines until the
//! announced size has arrived (a write the agent refuses still takes them, then answers once). An agent that answers `hello` with another [`PROTOCOL_VERSION`]
//! is refused and reinstalled by Steward.
//!
//! Bytes (file contents, stdin) travel base64-encoded; command output travels as UTF-8 text,
//! with invalid sequences replaced, because it is read by people.

use serde::{Deserialize, Serialize};

/// Bumped whenever a request or response changes shape.
pub const PROTOCOL_VERSION: u32 = 4;

/// Largest file `read-file` returns; bigger files are refused, not truncated.
pub const MAX_READ_BYTES: u64 = 16 * 1024 * 1024;

/// Size of the base64 chunks Steward sends after a `write-file` request (before encoding).
pub const WRITE_CHUNK_BYTES: usize = 256 * 1024;

/// One request line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum Request {
    /// First request of every session: the agent names its version.
    Hello,
    /// Describes the host.
    Facts(FactsRequest),
    /// Returns a file's content and metadata.
    ReadFile { path: String },
    /// Replaces a file atomically. `size` bytes follow in [`Request::Chunk`] lines.
    WriteFile(WriteFileRequest),
    /// Part of the content announced by the last `write-file`.
    Chunk { data: String },
    /// Runs a program (no shell), streaming its output.
    Exec(ExecRequest),
    /// Stops the running `exec` (its whole process group).
    Cancel,
    /// Removes a file if it exists (a staged upload, a file a rollback takes back).
    RemoveFile { path: String },
    /// Fetches an `http://` URL from the host itself (health checks of services that listen
    /// on the host's loopback only).
    HttpGet { url: String, timeout_secs: u64 },
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FactsRequest {
    /// PEM certificate files whose expiry to report.
    #[serde(default)]
    pub cert_files: Vec<String>,
    /// systemd units whose state to report, besides every failed one.
    #[serde(default)]
    pub units: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteFileRequest {
    pub path: String,
    /// Number of content bytes that follow.
    pub size: u64,
    /// SHA-256 (hex) of the content; the agent refuses to install anything else.
    pub sha256: String,
    /// Permission bits; default: the current file's, else 0644.
    #[serde(default)]
    pub mode: Option<u32>,
    /// Owner and group (names or numbers); default: the current file's, else the agent's user.
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub group: Option<String>,
    /// Refuse when the current content's SHA-256 is not this (someone changed it meanwhile);
    /// `Some("")` means the file must not exist yet.
    #[serde(default)]
    pub expect_current: Option<String>,
    /// Keep the replaced version beside the file as `<name>.steward-previous`.
    #[serde(default = "yes")]
    pub keep_previous: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecRequest {
    /// Program and arguments, passed to the program as they are: never through a shell.
    pub argv: Vec<String>,
    /// Base64 bytes written to the program's stdin, which is then closed.
    #[serde(default)]
    pub stdin: Option<String>,
    #[serde(default)]
    pub cwd: Option<String>,
    /// Extra environment variables.
    #[serde(default)]
    pub env: Vec<(String, String)>,
    /// Killed (with its process group) after this many seconds.
    pub timeout_secs: u64,
}

/// One response line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum Response {
    Hello {
        protocol: u32,
        agent_version: String,
    },
    Facts(Box<Facts>),
    File(FileContent),
    Written(Written),
    /// A chunk arrived; more are expected.
    ChunkAccepted,
    Output {
        stream: Stream,
        data: String,
    },
    Exited(Exited),
    /// The file was removed (`existed`: it was there).
    Removed {
        existed: bool,
    },
    /// The answer to `http-get`: status and the start of the body.
    Http {
        code: u16,
        body: String,
    },
    Error {
        kind: ErrorKind,
        message: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stream {
    Stdout,
    Stderr,
}

/// What went wrong, so Steward can tell the admin something specific.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    Malformed,
    NotFound,
    PermissionDenied,
    CommandNotFound,
    TooLarge,
    ChecksumMismatch,
    /// `expect_current` did not match.
    Changed,
    Busy,
    Io,
    /// `http-get` could not connect or got no HTTP answer.
    Connect,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileContent {
    pub exists: bool,
    /// Base64.
    pub content: String,
    pub sha256: String,
    pub size: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Written {
    /// SHA-256 of the replaced content; `None` when the file is new.
    pub previous_sha256: Option<String>,
    pub sha256: String,
    /// Where the replaced version was kept.
    pub previous_path: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exited {
    /// `None` when killed by a signal.
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub timed_out: bool,
    pub cancelled: bool,
    pub duration_ms: u64,
}

impl Exited {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

/// What the agent reports about its host.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Facts {
    pub agent_version: String,
    pub hostname: String,
    /// `PRETTY_NAME` of /etc/os-release.
    pub os: String,
    pub os_id: String,
    pub os_version: String,
    pub kernel: String,
    pub arch: String,
    pub uptime_secs: u64,
    pub cpus: u32,
    pub memory_total_bytes: u64,
    pub memory_available_bytes: u64,
    pub mounts: Vec<Mount>,
    /// The host's clock when the facts were taken, in Unix milliseconds; Steward compares it
    /// with its own to get the offset.
    pub now_unix_ms: i64,
    pub clock_sync: ClockSync,
    pub units: Vec<Unit>,
    pub certificates: Vec<Certificate>,
    pub reboot_required: bool,
    /// Packages that asked for the reboot, where the system says.
    pub reboot_packages: Vec<String>,
    /// apt, dnf, yum, zypper or apk; empty when none was found.
    pub package_manager: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mount {
    pub path: String,
    pub device: String,
    pub fs_type: String,
    pub total_bytes: u64,
    pub used_bytes: u64,
    /// Available to unprivileged users, as `df` reports it.
    pub available_bytes: u64,
}

impl Mount {
    /// Percentage used, as `df` computes it (used / (used + available), rounded up).
    pub fn use_percent(&self) -> u32 {
        let denominator = self.used_bytes + self.available_bytes;
        if denominator == 0 {
            return 0;
        }
        u32::try_from((self.used_bytes * 100).div_ceil(denominator)).unwrap_or(100)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockSync {
    /// timedatectl, chrony or ntp; empty when none answered.
    pub source: String,
    /// `None` when no source could tell.
    pub synchronized: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unit {
    /// systemd or supervisor.
    pub manager: String,
    pub name: String,
    /// active, failed, inactive, RUNNING, FATAL...
    pub state: String,
    pub healthy: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Certificate {
    pub source: String,
    pub subject: String,
    /// Unix seconds; `None` with `error` set when the file could not be read or parsed.
    pub not_after: Option<i64>,
    pub error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_tagged_json_lines() {
        let line = serde_json::to_string(&Request::Exec(ExecRequest {
            argv: vec!["echo".into(), "a b".into()],
            stdin: None,
            cwd: None,
            env: vec![],
            timeout_secs: 5,
        }))
        .unwrap();
        assert!(line.starts_with(r#"{"op":"exec","argv":["echo","a b"]"#), "{line}");
        assert_eq!(serde_json::from_str::<Request>(r#"{"op":"hello"}"#).unwrap(), Request::Hello);
        assert_eq!(serde_json::from_str::<Request>(r#"{"op":"facts"}"#).unwrap(), Request::Facts(Default::default()));
    }

    #[test]
    fn disk_use_rounds_up_like_df() {
        let mount = Mount { used_bytes: 901, available_bytes: 99, ..Default::default() };
        assert_eq!(mount.use_percent(), 91);
        assert_eq!(Mount::default().use_percent(), 0);
    }
}
