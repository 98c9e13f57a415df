//! `steward` as an operator runs it: a real process with a clean environment.

#![allow(clippy::zombie_processes)] // the caller waits for the server it gets back

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_steward");

/// `steward` with only `PATH` and the data directory set.
pub fn steward(data_dir: &Path) -> Command {
    let mut command = Command::new(BIN);
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("STEWARD_STORAGE__DATA_DIR", data_dir);
    command
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts `steward serve` on `port` (its log goes to `serve.log` in `data_dir`) and waits until
/// it listens and, with `expect`, has printed a line holding that text (the setup link comes
/// just after the socket opens). Returns it with its output lines so far.
pub fn serve(
    data_dir: &Path,
    port: u16,
    expect: Option<&str>,
    tweak: impl FnOnce(&mut Command),
) -> (Child, Vec<String>) {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(data_dir.join("serve.log")).unwrap();
    let mut command = steward(data_dir);
    command.arg("serve").env("STEWARD_SERVER__BIND", format!("127.0.0.1:{port}")).stdout(Stdio::piped()).stderr(log);
    tweak(&mut command);
    let mut child = command.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut lines = Vec::new();
    while Instant::now() < deadline {
        lines.extend(rx.try_iter());
        let printed = expect.is_none_or(|text| lines.iter().any(|l| l.contains(text)));
        if printed && std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return (child, lines);
        }
        if let Some(status) = child.try_wait().unwrap() {
            let log = std::fs::read_to_string(data_dir.join("serve.log")).unwrap_or_default();
            panic!("steward exited with {status}: {log}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("steward did not listen on {port} (or print {expect:?}): {lines:?}");
}
