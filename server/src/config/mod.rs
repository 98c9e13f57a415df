//! Configuration in layers: typed defaults, then an optional TOML file, then `STEWARD_*`
//! environment variables (`__` for nesting, `*_FILE` to read a value from a file).
//!
//! The defaults double as the schema: an environment variable is accepted when its path names
//! a setting of the defaults, and its text is read as that setting's type. Anything else under
//! `STEWARD_` is reported as a warning, never silently ignored.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

mod load;

pub use load::{Loaded, load};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// File holding the vault's master key (created on first start, mode 0600); defaults to
    /// `master.key` in the data directory. Keep a copy apart from the database backups.
    pub master_key_file: String,
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub storage: StorageConfig,
    pub log: LogConfig,
    pub auth: AuthConfig,
    pub ssh: SshConfig,
    pub jobs: JobsConfig,
    pub mail: MailConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address and port to listen on.
    pub bind: String,
    /// The address people use to reach Steward (links in mail and logs); defaults to
    /// `http://<bind>`. `https://` makes session cookies `Secure`.
    pub base_url: String,
    /// Take the client address from `X-Forwarded-For` (only behind a trusted reverse proxy).
    pub trust_forwarded_for: bool,
    /// How long in-flight requests may take to finish after SIGTERM.
    pub shutdown_grace_secs: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".into(),
            base_url: String::new(),
            trust_forwarded_for: false,
            shutdown_grace_secs: 30,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://PATH` or `postgres://USER:PASSWORD@HOST/DB`; defaults to SQLite in the data dir.
    pub url: DatabaseUrl,
    pub max_connections: u32,
    pub connect_timeout_secs: u64,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self { url: DatabaseUrl(String::new()), max_connections: 10, connect_timeout_secs: 10 }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// Where Steward keeps its SQLite database, keys and local backups.
    pub data_dir: PathBuf,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self { data_dir: PathBuf::from("./data") }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    pub format: LogFormat,
    /// A level (`info`) or a filter (`info,steward=debug`).
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self { format: LogFormat::Text, level: "info".into() }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SshConfig {
    /// Time allowed to open a connection (TCP and SSH handshake), per hop.
    pub connect_timeout_secs: u64,
    /// Time allowed for one request to a host (facts, a file, a command) unless the job says
    /// otherwise.
    pub command_timeout_secs: u64,
    /// A pooled connection unused this long is closed.
    pub idle_timeout_secs: u64,
    /// Commands run at once on one host over its pooled connection (sshd allows 10 sessions
    /// per connection by default).
    pub max_sessions_per_host: usize,
}

impl Default for SshConfig {
    fn default() -> Self {
        Self { connect_timeout_secs: 10, command_timeout_secs: 300, idle_timeout_secs: 300, max_sessions_per_host: 4 }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailConfig {
    /// `smtp://HOST:PORT` (STARTTLS required), `smtps://HOST:PORT` (TLS from the start), or
    /// `smtp://127.0.0.1:PORT?tls=none` (plain, loopback only). Empty: no mail is sent (it
    /// waits in the outbox).
    pub smtp_url: String,
    pub username: String,
    /// Name of the vault entry (kind smtp-password) holding the SMTP password.
    pub password_credential: String,
    /// The sender, like `Steward <steward@example.org>`.
    pub from: String,
    pub timeout_secs: u64,
    /// A PEM file of extra CA certificates to trust (an internal or self-signed mail server).
    pub ca_file: String,
}

impl Default for MailConfig {
    fn default() -> Self {
        Self {
            smtp_url: String::new(),
            username: String::new(),
            password_credential: String::new(),
            from: String::new(),
            timeout_secs: 20,
            ca_file: String::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobsConfig {
    /// Run background jobs in this process (turn off for a web-only replica).
    pub enabled: bool,
    /// Jobs this process runs at once.
    pub concurrency: usize,
    /// Jobs of one study running at once (across replicas, checked when a job is claimed).
    pub per_study: i64,
    /// A running job's lease; a replica that stops renewing it for this long is presumed dead
    /// and its jobs are marked interrupted.
    pub lease_secs: u64,
    /// How often an idle replica looks for new jobs (jobs queued on this replica start at once).
    pub poll_interval_ms: u64,
    /// A job's stored log is cut at this size, with a marker saying so.
    pub log_cap_bytes: i64,
}

impl Default for JobsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            concurrency: 8,
            per_study: 4,
            lease_secs: 30,
            poll_interval_ms: 1000,
            log_cap_bytes: 1024 * 1024,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// A session ends after this long without a request.
    pub session_idle_minutes: u64,
    /// A session ends this long after login, however busy.
    pub session_absolute_hours: u64,
    pub min_password_length: usize,
    /// Lifetime of the first-run setup link.
    pub setup_link_minutes: u64,
    /// Lifetime of a set-password link (new user or reset).
    pub password_link_hours: u64,
    /// Password hashes computed at once (each takes ~19 MiB and a core for a moment).
    pub hashing_concurrency: usize,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            session_idle_minutes: 8 * 60,
            session_absolute_hours: 7 * 24,
            min_password_length: 12,
            setup_link_minutes: 60,
            password_link_hours: 24,
            hashing_concurrency: 2,
        }
    }
}

/// A database URL that hides its password in `Debug`, `Display` and `config check`.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }

    /// The real URL, for the database driver only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn redacted(&self) -> String {
        // scheme://user:password@host/...: keep everything but the password.
        let Some((scheme, rest)) = self.0.split_once("://") else {
            return self.0.clone();
        };
        let Some((userinfo, host)) = rest.rsplit_once('@') else {
            return self.0.clone();
        };
        match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:[redacted]@{host}"),
            None => self.0.clone(),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl Serialize for DatabaseUrl {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.redacted())
    }
}

/// A setting that cannot be used, with what to do about it. Shown as one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{setting}: {problem}. {fix}")]
pub struct ConfigError {
    pub setting: String,
    pub problem: String,
    pub fix: String,
}

impl ConfigError {
    pub fn new(setting: impl Into<String>, problem: impl Into<String>, fix: impl Into<String>) -> Self {
        Self { setting: setting.into(), problem: problem.into(), fix: fix.into() }
    }
}

impl Config {
    fn fill_derived(&mut self) {
        if self.server.base_url.is_empty() {
            // Links to 0.0.0.0 open nowhere; name the machine itself instead.
            self.server.base_url = match self.server.bind.parse::<SocketAddr>() {
                Ok(addr) if addr.ip().is_unspecified() => {
                    format!("http://localhost:{}", addr.port())
                }
                _ => format!("http://{}", self.server.bind),
            };
        }
        self.server.base_url = self.server.base_url.trim_end_matches('/').to_owned();
        if self.master_key_file.is_empty() {
            self.master_key_file = self.storage.data_dir.join("master.key").display().to_string();
        }
        if self.database.url.is_empty() {
            let path = self.storage.data_dir.join("steward.db");
            self.database.url = DatabaseUrl(format!("sqlite://{}", path.display()));
        }
    }

    /// Checks what can be checked without touching the outside world.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.bind_addr()?;
        let url = self.database.url.expose();
        if !(url.starts_with("sqlite:") || url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            let scheme = url.split(':').next().unwrap_or_default();
            return Err(ConfigError::new(
                "database.url",
                format!("unknown scheme {scheme:?}"),
                "Use sqlite://PATH or postgres://USER@HOST/DB (STEWARD_DATABASE__URL).",
            ));
        }
        let base = &self.server.base_url;
        let host = base.strip_prefix("https://").or_else(|| base.strip_prefix("http://"));
        if host.is_none_or(|h| h.is_empty() || h.contains('/')) {
            return Err(ConfigError::new(
                "server.base_url",
                format!("{base:?} is not an http(s) origin"),
                "Use the address people open, like https://steward.example.org (no path).",
            ));
        }
        tracing_subscriber::EnvFilter::try_new(&self.log.level).map_err(|err| {
            ConfigError::new(
                "log.level",
                format!("{:?} is not a level or filter: {err}", self.log.level),
                "Use error, warn, info, debug or trace (STEWARD_LOG__LEVEL).",
            )
        })?;
        if self.database.max_connections == 0 {
            return Err(ConfigError::new("database.max_connections", "must be at least 1", "Set it to 1 or more."));
        }
        if !(1..=10).contains(&self.ssh.max_sessions_per_host) {
            return Err(ConfigError::new(
                "ssh.max_sessions_per_host",
                format!("{} is out of range", self.ssh.max_sessions_per_host),
                "Choose 1 to 10 (sshd's MaxSessions is 10 by default).",
            ));
        }
        if self.ssh.connect_timeout_secs == 0 || self.ssh.command_timeout_secs == 0 {
            return Err(ConfigError::new(
                "ssh.connect_timeout_secs",
                "SSH timeouts must be at least 1 second",
                "Set STEWARD_SSH__CONNECT_TIMEOUT_SECS and STEWARD_SSH__COMMAND_TIMEOUT_SECS to 1 or more.",
            ));
        }
        if self.jobs.concurrency == 0 || self.jobs.per_study < 1 || self.jobs.lease_secs < 3 {
            return Err(ConfigError::new(
                "jobs",
                "jobs.concurrency and jobs.per_study must be at least 1 and jobs.lease_secs at least 3",
                "Fix STEWARD_JOBS__CONCURRENCY, STEWARD_JOBS__PER_STUDY or STEWARD_JOBS__LEASE_SECS.",
            ));
        }
        if self.auth.min_password_length < 8 {
            return Err(ConfigError::new(
                "auth.min_password_length",
                "must be at least 8",
                "Set it to 8 or more; 12 or more is recommended.",
            ));
        }
        Ok(())
    }

    pub fn bind_addr(&self) -> Result<SocketAddr, ConfigError> {
        self.server.bind.parse().map_err(|_| {
            ConfigError::new(
                "server.bind",
                format!("{:?} is not an address:port", self.server.bind),
                "Use something like 127.0.0.1:8080 or [::]:8080 (STEWARD_SERVER__BIND).",
            )
        })
    }

    /// The vault's key file: as configured, else `master.key` in the data directory.
    pub fn master_key_path(&self) -> PathBuf {
        if self.master_key_file.is_empty() {
            self.storage.data_dir.join("master.key")
        } else {
            PathBuf::from(&self.master_key_file)
        }
    }

    /// Cookies are marked `Secure` when people reach Steward over https.
    pub fn uses_https(&self) -> bool {
        self.server.base_url.starts_with("https://")
    }

    /// The effective configuration as TOML, secrets redacted.
    pub fn to_redacted_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|err| format!("# cannot show config: {err}\n"))
    }
}
