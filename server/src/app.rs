//! Runs Steward: prepares the data directory, binds the address, and serves the web layer
//! while the background workers run, until shutdown.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, ConfigError};
use crate::services::alerts;
use crate::services::jobs::runner::Runner;
use crate::services::jobs::schedules::Scheduler;
use crate::services::workers::Worker;
pub use crate::state::AppState;

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
    let workers = start_workers(&state, &shutdown);
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
    // Every worker saw the shutdown: each finishes what it is doing (a message being sent is
    // marked sent, running jobs end within the grace period), with a deadline.
    let deadline = tokio::time::Instant::now() + grace + Duration::from_secs(5);
    for (worker, task) in workers {
        let abort = task.abort_handle();
        if tokio::time::timeout_at(deadline, task).await.is_err() {
            abort.abort();
            worker.failed("did not stop within the grace period and was cut off", Duration::ZERO);
            tracing::warn!("a background worker did not stop within the grace period");
        }
        worker.stopped();
    }
    state.ssh.close_all().await;
    state.store.close().await;
    result
}

/// Starts the background workers, each reporting to the Workers panel; the job runner last
/// in the list, as it takes longest to drain.
fn start_workers(state: &AppState, shutdown: &CancellationToken) -> Vec<(Worker, tokio::task::JoinHandle<()>)> {
    let registry = &state.workers;
    let mut started = Vec::new();
    let mut start = |name: &str, what: &str, run: &dyn Fn(Worker) -> tokio::task::JoinHandle<()>| {
        let worker = registry.register(name, what);
        started.push((worker.clone(), run(worker)));
    };
    start("sessions", "deletes expired sessions and spent login counters", &|w| {
        tokio::spawn(sweep_sessions(state.clone(), shutdown.clone(), w))
    });
    start("ssh", "closes SSH connections idle past the idle timeout", &|w| {
        tokio::spawn(close_idle_connections(state.clone(), shutdown.clone(), w))
    });
    if state.config.jobs.enabled {
        start("schedules", "queues the jobs of schedules that come due", &|w| {
            tokio::spawn(Scheduler::new(state.jobs.clone()).run(shutdown.clone(), w))
        });
        start("alerts", "evaluates alert rules, escalates and sends digests", &|w| {
            tokio::spawn(alerts::run(state.alerts.clone(), shutdown.clone(), Duration::from_secs(15), w))
        });
        start("mail", "sends the outbox", &|w| tokio::spawn(state.mailer.clone().run(shutdown.clone(), w)));
        start("jobs", "claims and runs jobs", &|w| {
            tokio::spawn(Runner::new(state.jobs.clone()).run(shutdown.clone(), w))
        });
    }
    started
}

/// Closes SSH connections that sat idle past `ssh.idle_timeout_secs`.
async fn close_idle_connections(state: AppState, shutdown: CancellationToken, worker: Worker) {
    let mut every = tokio::time::interval(Duration::from_secs(30));
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            _ = every.tick() => {
                worker.busy();
                state.ssh.close_idle().await;
                worker.idle();
            }
        }
    }
    worker.stopped();
}

/// Deletes expired sessions and spent login counters now and then.
async fn sweep_sessions(state: AppState, shutdown: CancellationToken, worker: Worker) {
    let mut every = tokio::time::interval(Duration::from_secs(600));
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            _ = every.tick() => {
                worker.busy();
                let pass = async {
                    match state.store.delete_expired_sessions(chrono::Utc::now()).await {
                        Ok(0) => {}
                        Ok(n) => tracing::debug!(sessions = n, "deleted expired sessions"),
                        Err(err) => return Err(format!("could not delete expired sessions: {err}")),
                    }
                    state.accounts.prune_throttle().await.map(drop).map_err(|err| format!("could not prune login counters: {err}"))
                };
                match pass.await {
                    Ok(()) => worker.idle(),
                    Err(err) => {
                        tracing::warn!(error = %err, "session sweep");
                        worker.failed(err, Duration::from_secs(600));
                    }
                }
            }
        }
    }
    worker.stopped();
}
