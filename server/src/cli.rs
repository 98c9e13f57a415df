//! The `steward` command line: serve, migrate, manage users, check the configuration.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use steward_frontend::contract::{GlobalRole, StudySummary};
use tokio_util::sync::CancellationToken;

use crate::app::{self, AppState};
use crate::config::{self, Config, ConfigError};
use crate::services::accounts::summary;
use crate::services::audit::Actor;
use crate::store::Store;

#[derive(Debug, Parser)]
#[command(name = "steward", version, about = "Self-hosted control plane for the servers that research studies run on")]
struct Cli {
    /// TOML configuration file (settings in it are overridden by STEWARD_* variables).
    #[arg(long, global = true, env = "STEWARD_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the web server (migrates the database first).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Import or export Ansible inventories.
    #[command(subcommand)]
    Inventory(InventoryCommand),
    /// Act on one host.
    #[command(subcommand)]
    Host(HostCommand),
    /// Check the mail settings.
    #[command(subcommand)]
    Mail(MailCommand),
    /// Work on stack folders.
    #[command(subcommand)]
    Stack(StackCommand),
    /// Manage the vault of credentials.
    #[command(subcommand)]
    Vault(VaultCommand),
    /// Exit 0 when the local server answers /readyz (for container health checks).
    Healthcheck,
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create a user and print a one-time link for them to choose a password.
    Create {
        username: String,
        /// admin or member.
        #[arg(long, default_value = "member")]
        role: String,
        /// Full name shown in the UI.
        #[arg(long, default_value = "")]
        name: String,
        #[arg(long, default_value = "")]
        email: String,
    },
    /// Print a one-time link for a user to set a new password.
    ResetPassword { username: String },
    /// List users.
    List,
}

#[derive(Debug, Subcommand)]
enum InventoryCommand {
    /// Create a study's instances and hosts from an Ansible inventory (INI or YAML); the study
    /// is created if it does not exist.
    Import {
        file: PathBuf,
        /// The study to import into.
        #[arg(long)]
        study: String,
        /// Instance for hosts whose groups name none; defaults to the file's name.
        #[arg(long)]
        instance: Option<String>,
        #[arg(long, default_value = "generic")]
        stack: String,
        #[arg(long, default_value = "production")]
        environment: String,
        /// SSH user for hosts without ansible_user.
        #[arg(long, default_value = "root")]
        user: String,
        /// Only show what would be created and what is skipped.
        #[arg(long)]
        dry_run: bool,
    },
    /// Print a study as a YAML Ansible inventory.
    Export {
        #[arg(long)]
        study: String,
    },
}

#[derive(Debug, Subcommand)]
enum StackCommand {
    /// Load a stack folder and render it (with an example, or sample values on one host per
    /// role); prints what it rendered or the first problem with its file and line.
    Check {
        /// The folder (its name is the stack's name).
        dir: std::path::PathBuf,
        /// TOML with `[settings]` and `[[hosts]]` (name, roles, address) to render with.
        #[arg(long)]
        example: Option<std::path::PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum MailCommand {
    /// Send a test message now and print the mail server's answer.
    Test {
        /// Where to send it.
        address: String,
    },
}

#[derive(Debug, Subcommand)]
enum HostCommand {
    /// Remove Steward's agent from the host, forget what Steward learned about it, and remove
    /// it from the inventory.
    Forget {
        #[arg(long)]
        study: String,
        #[arg(long)]
        instance: String,
        /// The host's name in Steward.
        host: String,
        /// Keep the host in the inventory (only clean up the host and its facts).
        #[arg(long)]
        keep_in_inventory: bool,
    },
}

#[derive(Debug, Subcommand)]
enum VaultCommand {
    /// Re-encrypt every secret under a new master key (stop Steward first).
    RotateKey,
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Print the effective configuration, secrets redacted, and report problems.
    Check,
}

/// A failure of a command, reported as one line.
#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error("{0}")]
    App(#[from] crate::services::error::Error),
    #[error("{0}")]
    Other(String),
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let env: BTreeMap<String, String> = std::env::vars().collect();
    let loaded = match config::load(cli.config.as_deref(), &env) {
        Ok(loaded) => loaded,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(2);
        }
    };
    crate::telemetry::init(&loaded.config.log);
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command, loaded.config)) {
        Ok(code) => code,
        Err(CliError::Config(err)) => {
            eprintln!("error: {err}");
            ExitCode::from(2)
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, config: Config) -> Result<ExitCode, CliError> {
    match command {
        Command::Serve => serve(config).await,
        Command::Migrate => {
            app::prepare_data_dir(&config)?;
            let store = Store::connect(&config.database, true).await?;
            store.migrate().await.map_err(|err| CliError::Other(format!("migration failed: {err}")))?;
            println!("database is up to date");
            Ok(ExitCode::SUCCESS)
        }
        Command::User(command) => user(command, config).await,
        Command::Config(ConfigCommand::Check) => {
            print!("{}", config.to_redacted_toml());
            println!("# configuration is valid");
            Ok(ExitCode::SUCCESS)
        }
        Command::Healthcheck => healthcheck(&config),
        Command::Inventory(command) => inventory(command, config).await,
        Command::Stack(StackCommand::Check { dir, example }) => {
            use crate::services::stacks::{Stack, read_folder, trial_render};
            let name = dir.canonicalize().ok().and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()));
            let example = match &example {
                Some(path) => Some(
                    std::fs::read_to_string(path)
                        .map_err(|err| CliError::Other(format!("cannot read {}: {err}", path.display())))?,
                ),
                None => None,
            };
            let stack = read_folder(&dir)
                .and_then(|files| Stack::load(name.as_deref().unwrap_or_default(), files, &dir.display().to_string()))
                .map_err(|err| CliError::Other(format!("{}: {err}", dir.display())))?;
            let report = trial_render(&stack, example.as_deref())
                .map_err(|err| CliError::Other(format!("{}: {err}", dir.display())))?;
            println!(
                "stack {}: {} settings, {} files declared\n{report}",
                stack.manifest.name,
                stack.manifest.settings.len(),
                stack.manifest.files.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Mail(MailCommand::Test { address }) => {
            let state = AppState::build_for_cli(config).await?;
            let reply = state.mailer.send_test(&address).await?;
            println!("sent to {}; the mail server answered: {reply}", address.trim());
            Ok(ExitCode::SUCCESS)
        }
        Command::Host(HostCommand::Forget { study, instance, host, keep_in_inventory }) => {
            let state = AppState::build_for_cli(config).await?;
            let study = find_study(&state, &study, false).await?;
            let instance = state
                .inventory
                .instances_of_study(study.id)
                .await?
                .into_iter()
                .find(|i| i.name == instance)
                .ok_or_else(|| {
                    CliError::Other(format!("--instance: {} has no instance named {instance:?}", study.name))
                })?;
            let host =
                state.inventory.hosts(instance.id).await?.into_iter().find(|h| h.name == host).ok_or_else(|| {
                    CliError::Other(format!("{}/{} has no host named {host:?}", study.name, instance.name))
                })?;
            match state.ssh.forget(host.id).await {
                None => println!("removed Steward's agent from {}", host.name),
                Some(warning) => eprintln!("warning: could not clean up {}: {warning}", host.name),
            }
            if !keep_in_inventory {
                state.inventory.delete_host(&Actor::cli(), host.id).await?;
                println!("removed {} from {}/{}", host.name, study.name, instance.name);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Vault(VaultCommand::RotateKey) => {
            app::prepare_data_dir(&config)?;
            // Exclusive: a running server would keep using the old key.
            let state = AppState::build(config).await?;
            let path = state.config.master_key_path();
            let old = state.vault.key_id().to_owned();
            let (new, count) = state.vault.rotate_key(&path, &Actor::cli()).await?;
            println!("master key rotated: {old} -> {new}; {count} secret(s) re-encrypted");
            println!("keep a copy of {} apart from your database backups", path.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn serve(config: Config) -> Result<ExitCode, CliError> {
    app::prepare_data_dir(&config)?;
    let listener = app::bind(&config).await?;
    let state = AppState::build(config).await?;
    if let Some(link) = state.accounts.issue_setup_link().await? {
        let minutes = state.config.auth.setup_link_minutes;
        // Printed, never logged: it is the one way in on a fresh install.
        println!(
            "\nSteward has no users yet. Create the first admin within {minutes} minutes at:\n\n    {}\n\nThe link works once; restart Steward for a new one.\n",
            link.url
        );
        let _ = std::io::stdout().flush();
    }
    let shutdown = CancellationToken::new();
    tokio::spawn(stop_on_signal(shutdown.clone()));
    tracing::info!(
        address = %state.config.server.bind,
        base_url = %state.config.server.base_url,
        database = ?state.store.kind(),
        hydration = crate::web::assets::HYDRATES,
        "Steward is listening"
    );
    app::serve(state, listener, shutdown).await.map_err(|err| CliError::Other(format!("server failed: {err}")))?;
    tracing::info!("Steward stopped");
    Ok(ExitCode::SUCCESS)
}

async fn stop_on_signal(shutdown: CancellationToken) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
            tracing::error!("cannot listen for SIGTERM/SIGINT");
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
    tracing::info!("shutting down: finishing requests in flight");
    shutdown.cancel();
}

async fn user(command: UserCommand, config: Config) -> Result<ExitCode, CliError> {
    let state = AppState::build_for_cli(config).await?;
    let actor = Actor::cli();
    match command {
        UserCommand::Create { username, role, name, email } => {
            let role = GlobalRole::parse(&role)
                .ok_or_else(|| CliError::Other(format!("--role: {role:?} is not a role; use admin or member")))?;
            let (user, link) = state.accounts.create_user(&actor, &username, &name, &email, role, None).await?;
            println!("created {} ({role})", user.username);
            if let Some(link) = link {
                println!(
                    "one-time link to choose a password (expires {}):\n{}",
                    link.expires_at.to_rfc3339(),
                    link.url
                );
            }
        }
        UserCommand::ResetPassword { username } => {
            let user = state.accounts.user_by_name(&username).await?;
            let (_, link) = state.accounts.reset_password(&actor, user.id).await?;
            println!(
                "one-time link for {} to set a new password (expires {}):\n{}",
                user.username,
                link.expires_at.to_rfc3339(),
                link.url
            );
        }
        UserCommand::List => {
            println!("{:<24} {:<8} {:<9} LAST LOGIN", "USERNAME", "ROLE", "STATUS");
            for user in state.accounts.list().await?.iter().map(summary) {
                let status = if user.disabled { "disabled" } else { "active" };
                let last = user.last_login_at.map_or_else(|| "never".to_owned(), |at| at.to_rfc3339());
                println!("{:<24} {:<8} {:<9} {}", user.username, user.role.as_str(), status, last);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The study with this name; created when `create` and missing.
async fn find_study(state: &AppState, name: &str, create: bool) -> Result<StudySummary, CliError> {
    let all = state.inventory.studies(crate::store::Viewer { user_id: 0, is_admin: true }).await?;
    match all.into_iter().find(|s| s.name == name) {
        Some(study) => Ok(study),
        None if create => {
            let study = state.inventory.create_study(&Actor::cli(), name, "", "").await?;
            println!("created study {name}");
            Ok(study)
        }
        None => Err(CliError::Other(format!("--study: there is no study named {name:?}"))),
    }
}

async fn inventory(command: InventoryCommand, config: Config) -> Result<ExitCode, CliError> {
    let state = AppState::build_for_cli(config).await?;
    match command {
        InventoryCommand::Import { file, study, instance, stack, environment, user, dry_run } => {
            let study = find_study(&state, &study, !dry_run).await?;
            let text = std::fs::read_to_string(&file)
                .map_err(|err| CliError::Other(format!("cannot read {}: {err}", file.display())))?;
            let stack = steward_frontend::contract::Stack::parse(&stack).ok_or_else(|| {
                CliError::Other(format!(
                    "--stack: {stack:?} is not a stack name; the shipped stacks are {}",
                    steward_frontend::contract::Stack::SHIPPED.join(", ")
                ))
            })?;
            let instance = instance.unwrap_or_else(|| {
                file.file_stem().map_or_else(|| "imported".to_owned(), |s| s.to_string_lossy().into_owned())
            });
            let defaults = crate::services::ansible::Defaults { instance, stack, environment, ssh_user: user };
            let report =
                state.inventory.import_ansible(&Actor::cli(), study.id, &text, &defaults, !dry_run).await.map_err(
                    |err| match err {
                        crate::services::error::Error::Invalid { field: Some(f), message } if f == "inventory" => {
                            CliError::Other(format!("{}: {message}; nothing was imported", file.display()))
                        }
                        other => CliError::App(other),
                    },
                )?;
            for instance in &report.instances {
                println!(
                    "instance {} ({}, {}) tags: {}",
                    instance.name,
                    instance.stack,
                    instance.environment,
                    instance.tags.join(", ")
                );
                for host in &instance.hosts {
                    let roles: Vec<&str> = host.roles.iter().map(|r| r.as_str()).collect();
                    let jump = host.jump_host.as_deref().map(|j| format!(" via {j}")).unwrap_or_default();
                    println!(
                        "  host {} {}@{}:{} [{}]{jump}",
                        host.name,
                        host.ssh_user,
                        host.address,
                        host.ssh_port,
                        roles.join(",")
                    );
                }
            }
            for skipped in &report.skipped {
                println!("skipped {}: {}", skipped.item, skipped.reason);
            }
            if report.applied {
                println!(
                    "created {} instance(s) and {} host(s) in {}",
                    report.instances_created, report.hosts_created, study.name
                );
            } else {
                println!("dry run: nothing was created");
            }
        }
        InventoryCommand::Export { study } => {
            let study = find_study(&state, &study, false).await?;
            print!("{}", state.inventory.export_ansible(study.id).await?);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Asks the local server's /readyz over plain HTTP/1.0; no HTTP client needed.
fn healthcheck(config: &Config) -> Result<ExitCode, CliError> {
    let mut addr: SocketAddr = config.bind_addr()?;
    if addr.ip().is_unspecified() {
        addr.set_ip(if addr.is_ipv4() { [127, 0, 0, 1].into() } else { std::net::Ipv6Addr::LOCALHOST.into() });
    }
    let check = || -> std::io::Result<String> {
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(3))?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        stream.write_all(b"GET /readyz HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
        let mut reply = String::new();
        stream.take(4096).read_to_string(&mut reply)?;
        Ok(reply)
    };
    match check() {
        Ok(reply) if reply.starts_with("HTTP/1.0 200") || reply.starts_with("HTTP/1.1 200") => {
            println!("ready");
            Ok(ExitCode::SUCCESS)
        }
        Ok(reply) => {
            println!("not ready: {}", reply.lines().next().unwrap_or_default());
            Ok(ExitCode::FAILURE)
        }
        Err(err) => {
            println!("not reachable at {addr}: {err}");
            Ok(ExitCode::FAILURE)
        }
    }
}
