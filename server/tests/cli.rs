//! The `steward` binary as an operator meets it: configuration errors, `config check`, the
//! SQLite single-process guard, user commands, the setup link, and a clean SIGTERM.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::zombie_processes)]

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

#[path = "common/process.rs"]
mod process;

use process::{BIN, free_port, steward};

fn run(command: &mut Command) -> (Output, String, String) {
    let output = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output, stdout, stderr)
}

fn one_error_line(stderr: &str) -> &str {
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(lines.len(), 1, "expected one error line in {stderr:?}");
    lines[0]
}

#[test]
fn version_is_printed() {
    let (output, stdout, _) = run(Command::new(BIN).arg("--version"));
    assert!(output.status.success());
    assert!(stdout.starts_with("steward "), "{stdout}");
}

#[test]
fn config_check_shows_effective_config_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("steward.toml");
    std::fs::write(&file, "[server]\nbase_url = \"https://steward.example.org/\"\n").unwrap();
    let (output, stdout, stderr) = run(steward(dir.path())
        .args(["config", "check", "--config"])
        .arg(&file)
        .env("STEWARD_DATABASE__URL", "postgres://steward:hunter2-canary@db.internal/steward")
        .env("STEWARD_LOG__LEVEL", "debug")
        .env("STEWARD_UNKNOWN_THING", "1"));
    assert!(output.status.success(), "{stderr}");
    assert!(stdout.contains("base_url = \"https://steward.example.org\""), "{stdout}");
    assert!(stdout.contains("url = \"postgres://steward:[redacted]@db.internal/steward\""), "{stdout}");
    assert!(stdout.contains("level = \"debug\""), "{stdout}");
    assert!(!stdout.contains("hunter2-canary") && !stderr.contains("hunter2-canary"), "secret printed");
    assert!(stderr.contains("ignoring unknown environment variable STEWARD_UNKNOWN_THING"), "{stderr}");
}

#[test]
fn bad_settings_stop_start_up_with_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let (output, _, stderr) =
        run(steward(dir.path()).arg("serve").env("STEWARD_DATABASE__URL", "mysql://localhost/steward"));
    assert_eq!(output.status.code(), Some(2));
    let line = one_error_line(&stderr);
    assert!(line.contains("database.url") && line.contains("mysql") && line.contains("sqlite://"), "{line}");

    let (output, _, stderr) = run(steward(dir.path()).args(["serve", "--config", "/nonexistent/steward.toml"]));
    assert_eq!(output.status.code(), Some(2));
    assert!(one_error_line(&stderr).contains("cannot read /nonexistent/steward.toml"), "{stderr}");

    let file = dir.path().join("readonly");
    std::fs::write(&file, "").unwrap();
    let (output, _, stderr) = run(steward(&file.join("data")).arg("serve"));
    assert_eq!(output.status.code(), Some(2));
    assert!(one_error_line(&stderr).contains("storage.data_dir"), "{stderr}");

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let (output, _, stderr) = run(steward(dir.path()).arg("serve").env("STEWARD_SERVER__BIND", addr.to_string()));
    assert_eq!(output.status.code(), Some(2));
    let line = one_error_line(&stderr);
    assert!(line.contains("server.bind") && line.contains("already in use"), "{line}");
}

#[test]
fn serve_prints_a_setup_link_refuses_a_twin_and_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let (mut child, lines) = process::serve(dir.path(), port, Some("/setup?token="), |_| {});
    let link =
        lines.iter().find(|l| l.contains("/setup?token=")).unwrap_or_else(|| panic!("no setup link in {lines:?}"));
    assert!(dir.path().join("steward.db-wal").exists());
    assert_private(dir.path());
    assert!(link.trim().starts_with(&format!("http://127.0.0.1:{port}/setup?token=")), "{link}");

    // A second server on the same SQLite file is refused.
    let (output, _, stderr) =
        run(steward(dir.path()).arg("serve").env("STEWARD_SERVER__BIND", format!("127.0.0.1:{}", free_port())));
    assert_eq!(output.status.code(), Some(2));
    let line = one_error_line(&stderr);
    assert!(line.contains("another Steward process is already using"), "{line}");

    // Short commands may run beside the server.
    let (output, stdout, stderr) =
        run(steward(dir.path()).args(["user", "create", "Alice", "--role", "admin", "--name", "Alice A"]));
    assert!(output.status.success(), "{stderr}");
    assert!(stdout.contains("created alice (admin)"), "{stdout}");
    assert!(stdout.contains("http://127.0.0.1:8080/password?token="), "{stdout}");
    let (output, stdout, _) = run(steward(dir.path()).args(["user", "list"]));
    assert!(output.status.success());
    assert!(stdout.lines().any(|l| l.starts_with("alice") && l.contains("admin") && l.contains("never")), "{stdout}");
    let (output, _, stderr) = run(steward(dir.path()).args(["user", "reset-password", "nobody"]));
    assert!(!output.status.success());
    assert!(stderr.contains("User nobody was not found"), "{stderr}");
    let (output, _, stderr) = run(steward(dir.path()).args(["user", "create", "bob", "--role", "root"]));
    assert!(!output.status.success());
    assert!(stderr.contains("--role") && stderr.contains("admin or member"), "{stderr}");

    let (output, stdout, _) =
        run(steward(dir.path()).arg("healthcheck").env("STEWARD_SERVER__BIND", format!("127.0.0.1:{port}")));
    assert!(output.status.success(), "{stdout}");

    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "steward did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status {status}");
}

#[test]
fn migrate_creates_the_database() {
    let dir = tempfile::tempdir().unwrap();
    // A data directory an older Steward left readable is tightened.
    let open = <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o755);
    std::fs::set_permissions(dir.path(), open).unwrap();
    let (output, stdout, stderr) = run(steward(dir.path()).arg("migrate"));
    assert!(output.status.success(), "{stderr}");
    assert!(stdout.contains("database is up to date"));
    assert!(dir.path().join("steward.db").exists());
    assert_private(dir.path());
}

/// The data directory and every file in it are for Steward's user alone.
fn assert_private(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(dir), 0o700, "{}", dir.display());
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        if entry.file_type().unwrap().is_file() {
            assert_eq!(mode(&entry.path()), 0o600, "{}", entry.path().display());
        }
    }
}

#[test]
fn inventory_import_and_export_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("emission.ini");
    std::fs::write(
        &file,
        "[web]\nweb1.example.org ansible_user=emission\n[db]\ndb1 ansible_host=10.0.0.2 ansible_ssh_common_args='-J web1.example.org'\n",
    )
    .unwrap();
    let (output, stdout, stderr) =
        run(steward(dir.path()).args(["inventory", "import"]).arg(&file).args(["--study", "Pilot", "--dry-run"]));
    assert!(!output.status.success(), "a dry run does not create the study");
    assert!(stderr.contains("no study named \"Pilot\""), "{stdout} {stderr}");

    let (output, stdout, stderr) = run(steward(dir.path())
        .args(["inventory", "import"])
        .arg(&file)
        .args(["--study", "Pilot", "--stack", "emission"]));
    assert!(output.status.success(), "{stderr}");
    assert!(stdout.contains("created study Pilot"), "{stdout}");
    assert!(stdout.contains("host db1 root@10.0.0.2:22 [database] via web1"), "{stdout}");
    assert!(stdout.contains("created 1 instance(s) and 2 host(s) in Pilot"), "{stdout}");

    let (output, stdout, _) = run(steward(dir.path()).args(["inventory", "export", "--study", "Pilot"]));
    assert!(output.status.success());
    assert!(
        stdout.contains("steward_instance: emission") && stdout.contains("ProxyJump=emission@web1.example.org:22"),
        "{stdout}"
    );

    std::fs::write(&file, "[web\nweb2\n").unwrap();
    let (output, _, stderr) =
        run(steward(dir.path()).args(["inventory", "import"]).arg(&file).args(["--study", "Pilot"]));
    assert!(!output.status.success());
    assert!(stderr.contains("line 1: section header") && stderr.contains("nothing was imported"), "{stderr}");
}

/// Polls the SQLite database until `query` (a COUNT) is at least 1.
async fn wait_until(pool: &sqlx::SqlitePool, query: &str, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let n: i64 = sqlx::query_scalar(query).fetch_one(pool).await.unwrap();
        if n > 0 {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn a_job_killed_with_steward_is_interrupted_and_runs_again_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (mut first, _) = process::serve(dir.path(), free_port(), None, |_| {});
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let url = format!("sqlite://{}/steward.db", dir.path().display());
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        // A slow, idempotent job, queued as another process would.
        let now = chrono::Utc::now();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO jobs (kind, target_kind, target_name, payload, state, max_attempts, requested_by, created_at, run_after)
             VALUES ('noop', 'fleet', 'all hosts', '{\"sleep_ms\": 3000}', 'queued', 1, 'test', $1, $1) RETURNING id",
        )
        .bind(now)
        .fetch_one(&pool)
        .await
        .unwrap();
        wait_until(&pool, &format!("SELECT COUNT(*) FROM jobs WHERE id = {id} AND state = 'running'"), "the job runs").await;

        Command::new("kill").args(["-KILL", &first.id().to_string()]).status().unwrap();
        first.wait().unwrap();
        let state: String = sqlx::query_scalar(&format!("SELECT state FROM jobs WHERE id = {id}")).fetch_one(&pool).await.unwrap();
        assert_eq!(state, "running", "nothing could mark it: the process died");

        let (mut second, _) = process::serve(dir.path(), free_port(), None, |_| {});
        wait_until(&pool, &format!("SELECT COUNT(*) FROM jobs WHERE id = {id} AND state = 'interrupted'"), "it is interrupted").await;
        let rerun = format!("SELECT COUNT(*) FROM jobs WHERE requested_by = 'rerun of job {id}' AND state = 'succeeded'");
        wait_until(&pool, &rerun, "its re-run succeeds").await;
        let events: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE kind = 'job.interrupted'")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(events, 1);
        Command::new("kill").args(["-TERM", &second.id().to_string()]).status().unwrap();
        second.wait().unwrap();
    });
}
