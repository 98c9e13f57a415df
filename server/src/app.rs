//! Assembles Steward from its configuration: the long-lived parts are built once here and
//! shared through [`AppState`]; [`serve`] runs the HTTP server until shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::auth::passwords::PasswordHasher;
use crate::clock::{SharedClock, SystemClock};
use crate::config::{Config, ConfigError};
use crate::services::accounts::Accounts;
use crate::services::alerts::{self, Alerts};
use crate::services::audit::Audit;
use crate::services::configs::Configs;
use crate::services::configs::drift::Drift;
use crate::services::configs::push::Push;
use crate::services::inventory::Inventory;
use crate::services::jobs::Jobs;
use crate::services::jobs::kinds;
use crate::services::jobs::runner::Runner;
use crate::services::jobs::schedules::Scheduler;
use crate::services::mail::Mailer;
use crate::services::oncall::OnCall;
use crate::services::ssh::Ssh;
use crate::services::stacks::Stacks;
use crate::services::vault::Vault;
use crate::store::Store;

#[derive(Clone, Debug)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    pub clock: SharedClock,
    pub accounts: Accounts,
    pub audit: Audit,
    pub inventory: Inventory,
    pub vault: Vault,
    pub ssh: Ssh,
    pub jobs: Jobs,
    pub mailer: Mailer,
    pub alerts: Alerts,
    pub configs: Configs,
    pub oncall: OnCall,
}

impl AppState {
    /// Opens the store, runs migrations and builds the services.
    /// For `serve`: the only Steward on a SQLite file.
    pub async fn build(config: Config) -> Result<Self, ConfigError> {
        Self::build_with_clock(config, Arc::new(SystemClock)).await
    }

    /// For short CLI commands, which may run beside a server.
    pub async fn build_for_cli(config: Config) -> Result<Self, ConfigError> {
        Self::assemble(config, Arc::new(SystemClock), false).await
    }

    pub async fn build_with_clock(config: Config, clock: SharedClock) -> Result<Self, ConfigError> {
        Self::assemble(config, clock, true).await
    }

    async fn assemble(config: Config, clock: SharedClock, exclusive: bool) -> Result<Self, ConfigError> {
        let config = Arc::new(config);
        let store = Store::connect(&config.database, exclusive).await?;
        store.migrate().await.map_err(|err| {
            ConfigError::new(
                "database.url",
                format!("migrating the database failed: {err}"),
                "See the log above; restore the database from a backup if it was changed by hand.",
            )
        })?;
        let hasher = PasswordHasher::new(config.auth.hashing_concurrency)
            .map_err(|err| ConfigError::new("auth", err.to_string(), "This is a bug in Steward."))?;
        let audit = Audit::new(store.clone(), clock.clone());
        let accounts = Accounts::new(store.clone(), hasher, clock.clone(), config.clone(), audit.clone());
        let stacks = Stacks::load(&config.storage.data_dir);
        let inventory = Inventory::new(store.clone(), clock.clone(), audit.clone(), stacks.names());
        let vault = Vault::open(store.clone(), &config.master_key_path(), clock.clone(), audit.clone()).await?;
        let ssh = Ssh::new(
            store.clone(),
            vault.clone(),
            audit.clone(),
            clock.clone(),
            config.ssh.clone(),
            crate::services::ssh::runtime_dir(&config.storage.data_dir),
        );
        let mailer = Mailer::new(
            store.clone(),
            clock.clone(),
            vault.clone(),
            config.mail.clone(),
            config.server.base_url.clone(),
        )?;
        let oncall = OnCall::new(store.clone(), clock.clone(), audit.clone());
        let alerts = Alerts::new(
            store.clone(),
            clock.clone(),
            mailer.clone(),
            oncall.clone(),
            audit.clone(),
            config.server.base_url.clone(),
        );
        let configs = Configs::new(
            store.clone(),
            clock.clone(),
            audit.clone(),
            vault.clone(),
            stacks,
            ssh.clone(),
            alerts.clone(),
        );
        let jobs = Jobs::new(
            store.clone(),
            clock.clone(),
            audit.clone(),
            ssh.clone(),
            config.jobs.clone(),
            config.server.shutdown_grace_secs,
            // Every job kind Steward runs: a new kind is its module and one line here.
            vec![
                Arc::new(kinds::Facts),
                Arc::new(kinds::RunCommand),
                Arc::new(kinds::Noop),
                Arc::new(kinds::RebootRequired),
                Arc::new(Push::new(configs.clone())),
                Arc::new(Drift::new(configs.clone())),
            ],
        );
        alerts.watch_job_kinds(jobs.alerting_kinds());
        Ok(Self { config, store, clock, accounts, audit, inventory, vault, ssh, jobs, mailer, alerts, configs, oncall })
    }
}

/// Checks that the data directory exists and Steward can write there.
///
/// Everything Steward writes there (the database and its journal, the master key, SSH
/// connection files) is for its own user alone: files are created 0600 and directories 0700
/// from here on, and what an older version left readable is tightened.
pub fn prepare_data_dir(config: &Config) -> Result<(), ConfigError> {
    use std::os::unix::fs::PermissionsExt;
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    let dir = &config.storage.data_dir;
    let fail = |err: std::io::Error| {
        ConfigError::new(
            "storage.data_dir",
            format!("{} is not writable: {err}", dir.display()),
            "Create it and give Steward's user write access, or set STEWARD_STORAGE__DATA_DIR.",
        )
    };
    std::fs::create_dir_all(dir).map_err(fail)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(fail)?;
    for entry in std::fs::read_dir(dir).map_err(fail)?.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_file()) {
            std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(0o600)).map_err(fail)?;
        }
    }
    let probe = dir.join(".steward-write-test");
    std::fs::write(&probe, b"ok").map_err(fail)?;
    std::fs::remove_file(&probe).map_err(fail)
}

/// Binds the configured address; a taken port is a configuration error naming the setting.
pub async fn bind(config: &Config) -> Result<TcpListener, ConfigError> {
    let addr = config.bind_addr()?;
    TcpListener::bind(addr).await.map_err(|err| {
        let fix = "Stop what uses it, or choose another with STEWARD_SERVER__BIND.";
        match err.kind() {
            std::io::ErrorKind::AddrInUse => ConfigError::new("server.bind", format!("{addr} is already in use"), fix),
            _ => ConfigError::new("server.bind", format!("cannot listen on {addr}: {err}"), fix),
        }
    })
}

/// Serves until `shutdown` fires, then lets in-flight requests finish within the grace period.
pub async fn serve(state: AppState, listener: TcpListener, shutdown: CancellationToken) -> std::io::Result<()> {
    let left = crate::services::ssh::clean_runtime(&state.config.storage.data_dir).await;
    if left > 0 {
        tracing::info!(directories = left, "closed the SSH connections a stopped Steward left behind");
    }
    let app = crate::web::router(&state);
    let sweeper = tokio::spawn(sweep_sessions(state.clone(), shutdown.clone()));
    let closer = tokio::spawn(close_idle_connections(state.clone(), shutdown.clone()));
    let workers = state.config.jobs.enabled.then(|| {
        let runner = tokio::spawn(Runner::new(state.jobs.clone()).run(shutdown.clone()));
        let scheduler = tokio::spawn(Scheduler::new(state.jobs.clone()).run(shutdown.clone()));
        let mail = tokio::spawn(state.mailer.clone().run(shutdown.clone()));
        let rules = tokio::spawn(alerts::run(state.alerts.clone(), shutdown.clone(), Duration::from_secs(15)));
        (runner, scheduler, mail, rules)
    });
    let grace = Duration::from_secs(state.config.server.shutdown_grace_secs);
    let signal = shutdown.clone();
    // Pages stream in chunks; without TCP_NODELAY the last small chunk can wait ~40 ms for a
    // delayed ACK.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp: &mut tokio::net::TcpStream| {
        if let Err(err) = tcp.set_nodelay(true) {
            tracing::debug!(error = %err, "could not set TCP_NODELAY");
        }
    });
    let server = axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(async move { signal.cancelled().await });
    let result = tokio::select! {
        result = server => result,
        () = async { shutdown.cancelled().await; tokio::time::sleep(grace).await } => {
            tracing::warn!(grace_secs = grace.as_secs(), "requests still running after the grace period; stopping anyway");
            Ok(())
        }
    };
    sweeper.abort();
    closer.abort();
    if let Some((runner, scheduler, mail, rules)) = workers {
        scheduler.abort();
        rules.abort();
        // A message being sent finishes (and is marked sent) rather than being cut off.
        let _ = tokio::time::timeout(Duration::from_secs(30), mail).await;
        // The runner drains its jobs within the grace period itself.
        let _ = runner.await;
    }
    state.ssh.close_all().await;
    state.store.close().await;
    result
}

/// Closes SSH connections that sat idle past `ssh.idle_timeout_secs`.
async fn close_idle_connections(state: AppState, shutdown: CancellationToken) {
    let mut every = tokio::time::interval(Duration::from_secs(30));
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = every.tick() => state.ssh.close_idle().await,
        }
    }
}

/// Deletes expired sessions and spent login counters now and then.
async fn sweep_sessions(state: AppState, shutdown: CancellationToken) {
    let mut every = tokio::time::interval(Duration::from_secs(600));
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = every.tick() => {
                match state.store.delete_expired_sessions(chrono::Utc::now()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::debug!(sessions = n, "deleted expired sessions"),
                    Err(err) => tracing::warn!(error = %err, "could not delete expired sessions"),
                }
                if let Err(err) = state.accounts.prune_throttle().await {
                    tracing::warn!(error = %err, "could not prune login counters");
                }
            }
        }
    }
}
