//! The store: Steward's database, on SQLite (one process) or Postgres (one or many replicas),
//! picked once from the URL scheme.
//!
//! Each query is written once with `$1`-style binds, which both backends accept, and compiled
//! for both pools by [`on_pool!`]. Queries live in one file per concern beside this one.

mod accounts;
mod alerts;
mod audit;
mod configs;
mod host_keys;
mod host_status;
mod inventory;
mod jobs;
mod oncall;
mod outbox;
mod schedules;
mod sessions;
mod vault;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

pub use accounts::{Attempt, NewUser, ThrottleRule, TokenPurpose, UserRow};
pub use alerts::{AlertRow, AlertTargets, Condition};
pub use audit::AuditRecord;
pub use configs::{HostConfigRow, RevisionRow};
pub use host_keys::HostKeyRow;
pub use host_status::{CheckOutcome, EventRow, HostForAlerts, HostStatusRow, NewEvent};
pub use inventory::{
    HostFields, HostRow, InstanceFields, InstanceFilter, InstanceRow, InstanceSort, MemberRow, StudyRow, Viewer,
};
pub use jobs::{JobEnd, JobFilter, JobHostRow, JobRow, LogLineRow, NewJob};
pub use oncall::{AlertSettingsRow, OverrideRow, RotaFields, RotaPerson, RotaRow};
pub use outbox::{NewMail, OutboxRow};
pub use schedules::{Firing, ScheduleFields, ScheduleRow, ScheduleRunRow};
pub use vault::{CredentialRow, KeyCheckRow, NewCredential, SEALED_VALUE_KIND, SealedRow};

use crate::config::{ConfigError, DatabaseConfig};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

/// What can go wrong in the store, in terms the rest of Steward acts on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A unique constraint was violated; carries the constraint or column text the driver gave.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database cannot be reached or is overloaded.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    #[error("database error: {0}")]
    Internal(#[source] sqlx::Error),
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is malformed: {0}")]
    Malformed(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        match err {
            sqlx::Error::RowNotFound => Self::NotFound,
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                Self::Conflict(db.constraint().map_or_else(|| db.message().to_owned(), str::to_owned))
            }
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => Self::Unavailable(err),
            // SQLite still busy after its busy timeout (SQLITE_BUSY, SQLITE_LOCKED and their
            // extended codes): the caller may try again shortly, it is not a fault.
            sqlx::Error::Database(ref db) if db.code().is_some_and(|code| sqlite_busy(&code)) => Self::Unavailable(err),
            other => Self::Internal(other),
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

fn sqlite_busy(code: &str) -> bool {
    code.parse::<i32>().is_ok_and(|code| matches!(code & 0xff, 5 | 6))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the concrete pool; the body is compiled once per backend.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.pool {
            $crate::store::Pool::Sqlite($pool) => $body,
            $crate::store::Pool::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

/// Starts a transaction that writes. On SQLite it takes the write lock at once (`BEGIN
/// IMMEDIATE`): a transaction that read first and then wrote could otherwise fail at once with
/// "database is locked" when another writer got in between, where this one waits its turn
/// (up to the busy timeout).
pub(crate) trait BeginWrite {
    type Database: sqlx::Database;
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, Self::Database>, sqlx::Error>;
}

impl BeginWrite for SqlitePool {
    type Database = sqlx::Sqlite;
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
        self.begin_with("BEGIN IMMEDIATE").await
    }
}

impl BeginWrite for PgPool {
    type Database = sqlx::Postgres;
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        self.begin().await
    }
}

#[derive(Clone)]
pub struct Store {
    pub(crate) pool: Pool,
    /// Held for the life of the process on SQLite so a second Steward is refused.
    _lock: Option<Arc<File>>,
    /// This process's writers in turn on SQLite (see [`Store::write_turn`]).
    writers: Arc<tokio::sync::Mutex<()>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("backend", &self.kind()).finish()
    }
}

impl Store {
    /// On SQLite, waits for this process's turn to write, first come first served. SQLite runs
    /// one writer at a time, and a writer that finds the file locked sleeps in steps of up to
    /// 100 ms before it looks again; the busy paths (claiming and ending jobs, firing
    /// schedules) queue here instead and start the moment the previous one commits. Postgres
    /// needs no turn.
    pub(crate) async fn write_turn(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match self.pool {
            Pool::Sqlite(_) => Some(self.writers.lock().await),
            Pool::Postgres(_) => None,
        }
    }

    /// The placeholders of `rows` rows of `cols` values each, numbered from `first`:
    /// `($1, $2), ($3, $4)`. For multi-row INSERTs and `UPDATE … FROM (VALUES …)`, whose
    /// columns are named column1, column2... on both backends. SQLite gets `?1` (a number)
    /// rather than `$1` (a name, looked up among all the names before it: thousands of them
    /// make preparing the statement slow); a statement may still use `$1` before them.
    pub(crate) fn value_rows(&self, rows: usize, cols: usize, first: usize) -> String {
        let sigil = match self.kind() {
            BackendKind::Sqlite => '?',
            BackendKind::Postgres => '$',
        };
        let mut out = String::with_capacity(rows * cols * 7);
        for row in 0..rows {
            out.push_str(if row == 0 { "(" } else { ", (" });
            for col in 0..cols {
                if col > 0 {
                    out.push_str(", ");
                }
                out.push(sigil);
                out.push_str(&(first + row * cols + col).to_string());
            }
            out.push(')');
        }
        out
    }

    /// Opens the database named by `config.url`. Problems a user can fix come back as
    /// [`ConfigError`] naming `database.url`.
    /// `exclusive` is for `serve` and `migrate`: on SQLite it refuses to run beside another
    /// Steward. Short CLI commands share the file with a running server.
    pub async fn connect(config: &DatabaseConfig, exclusive: bool) -> Result<Self, ConfigError> {
        let url = config.url.expose();
        let timeout = Duration::from_secs(config.connect_timeout_secs);
        if url.starts_with("sqlite:") {
            Self::connect_sqlite(url, config.max_connections, timeout, exclusive).await
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(url).map_err(|err| bad_url(&config.url, err))?;
            let pool = PgPoolOptions::new()
                .max_connections(config.max_connections)
                .acquire_timeout(timeout)
                .connect_with(options)
                .await
                .map_err(|err| {
                    url_error(
                        format!("cannot connect to {}: {err}", config.url),
                        "Check that Postgres runs there and the user, password and database exist.",
                    )
                })?;
            Ok(Self { pool: Pool::Postgres(pool), _lock: None, writers: Arc::default() })
        } else {
            Err(url_error(format!("unknown scheme in {}", config.url), "Use sqlite://PATH or postgres://USER@HOST/DB."))
        }
    }

    async fn connect_sqlite(url: &str, max: u32, timeout: Duration, exclusive: bool) -> Result<Self, ConfigError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|err| bad_url(&crate::config::DatabaseUrl::new(url), err))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let path = options.get_filename().to_path_buf();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|err| {
                url_error(
                    format!("cannot create {}: {err}", dir.display()),
                    "Make the directory writable for Steward's user or choose another path.",
                )
            })?;
        }
        let lock = if exclusive { Some(Arc::new(lock_sqlite(&path)?)) } else { None };
        let pool = SqlitePoolOptions::new()
            .max_connections(max)
            .acquire_timeout(timeout)
            .connect_with(options)
            .await
            .map_err(|err| {
            url_error(format!("cannot open {}: {err}", path.display()), "Check the path and its permissions.")
        })?;
        Ok(Self { pool: Pool::Sqlite(pool), _lock: lock, writers: Arc::default() })
    }

    pub fn kind(&self) -> BackendKind {
        match self.pool {
            Pool::Sqlite(_) => BackendKind::Sqlite,
            Pool::Postgres(_) => BackendKind::Postgres,
        }
    }

    /// Applies the embedded migrations of this backend that have not run yet.
    pub async fn migrate(&self) -> Result<()> {
        match &self.pool {
            Pool::Sqlite(pool) => SQLITE_MIGRATIONS.run(pool).await?,
            Pool::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await?,
        }
        Ok(())
    }

    /// Readiness: one round trip to the database.
    pub async fn ping(&self) -> Result<()> {
        on_pool!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(|done| done.rows_affected()))?;
        Ok(())
    }

    pub async fn close(&self) {
        on_pool!(self, pool => pool.close().await);
    }
}

/// Text for a `LIKE ... ESCAPE '\'` pattern that matches it literally.
pub(crate) fn like_pattern(text: &str) -> String {
    text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

fn bad_url(url: &crate::config::DatabaseUrl, err: sqlx::Error) -> ConfigError {
    url_error(format!("{url} is not a valid database URL: {err}"), "Fix the URL.")
}

/// A problem with the database the setting `database.url` names, and what to do about it.
fn url_error(message: String, hint: &'static str) -> ConfigError {
    ConfigError::new("database.url", message, hint)
}

/// Takes an exclusive lock beside the SQLite file; a second process gets a clear refusal.
fn lock_sqlite(db: &Path) -> Result<File, ConfigError> {
    let lock_path = PathBuf::from(format!("{}.lock", db.display()));
    let file = File::options().create(true).truncate(false).write(true).open(&lock_path).map_err(|err| {
        url_error(
            format!("cannot create the lock file {}: {err}", lock_path.display()),
            "Make the data directory writable for Steward's user.",
        )
    })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(url_error(
            format!("another Steward process is already using {}", db.display()),
            "Stop the other process; to run several Steward replicas, use Postgres.",
        )),
        Err(std::fs::TryLockError::Error(err)) => Err(url_error(
            format!("cannot lock {}: {err}", lock_path.display()),
            "Check the data directory's file system and permissions.",
        )),
    }
}
