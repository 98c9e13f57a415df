//! Steward's long-lived parts, built once from the configuration and shared by every entry
//! point (the web layer, the CLI, the background workers) through [`AppState`].

use std::sync::Arc;

use crate::auth::passwords::PasswordHasher;
use crate::clock::{SharedClock, SystemClock};
use crate::config::{Config, ConfigError};
use crate::services::accounts::Accounts;
use crate::services::alerts::Alerts;
use crate::services::audit::Audit;
use crate::services::configs::Configs;
use crate::services::configs::drift::Drift;
use crate::services::configs::push::Push;
use crate::services::inventory::Inventory;
use crate::services::jobs::Jobs;
use crate::services::jobs::kinds;
use crate::services::mail::Mailer;
use crate::services::oncall::OnCall;
use crate::services::ssh::Ssh;
use crate::services::stacks::Stacks;
use crate::services::vault::Vault;
use crate::services::workers::Workers;
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
    /// The background workers' states, for the Workers panel.
    pub workers: Workers,
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
        let workers = Workers::new(clock.clone());
        Ok(Self {
            config,
            store,
            clock,
            accounts,
            audit,
            inventory,
            vault,
            ssh,
            jobs,
            mailer,
            alerts,
            configs,
            oncall,
            workers,
        })
    }
}
