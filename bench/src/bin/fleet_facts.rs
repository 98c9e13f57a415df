//! Facts from 20 and 100 real sshd hosts on loopback, cold (no pooled connection) and warm
//! (pool open), against `parallel-ssh` running `true` and `ansible -m setup` on the same hosts
//! with the same key and strict host-key checking. Goals: warm ≤ 0.2× pssh, cold ≤ 1.5× pssh,
//! ≥ 10× faster than Ansible. Prints Steward's peak RSS during the 100-host runs.
//!
//! Needs root (it creates a unix user and an sshd per host), Debian's openssh-server and
//! pssh, and ansible-core (`pip install ansible-core`); a missing tool's row is skipped.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../../server/tests/common/fleet.rs"]
#[allow(dead_code)]
mod fleet;

use std::fmt::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fleet::FleetHost;
use steward::app::AppState;
use steward::clock::SystemClock;
use steward::config::{Config, DatabaseUrl};
use steward::services::audit::Actor;
use steward_frontend::contract::{HostInput, InstanceInput};

const SIZES: [usize; 2] = [20, 100];

fn kib(field: &str, status: &str) -> u64 {
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// RSS of the ssh master processes Steward keeps open (they are separate processes).
fn masters_rss_kib(runtime_marker: &str) -> (usize, u64) {
    let mut count = 0;
    let mut total = 0;
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let path = entry.path();
        let cmdline = std::fs::read(path.join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.starts_with("ssh ") && cmdline.contains(" -M ") && cmdline.contains(runtime_marker) {
            count += 1;
            total += kib("VmRSS:", &std::fs::read_to_string(path.join("status")).unwrap_or_default());
        }
    }
    (count, total)
}

async fn check_all(state: &AppState, ids: &[i64]) -> Duration {
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for &id in ids {
        let ssh = state.ssh.clone();
        tasks.spawn(async move { ssh.check(id).await.unwrap() });
    }
    while let Some(result) = tasks.join_next().await {
        let health = result.unwrap();
        assert_eq!(health.state, "reachable", "{}", health.message);
    }
    started.elapsed()
}

fn timed(command: &mut Command) -> Option<(Duration, String)> {
    let started = Instant::now();
    let output = command.stdin(Stdio::null()).output().ok()?;
    let elapsed = started.elapsed();
    let text = String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        println!("  (failed: {})", text.lines().rev().take(5).collect::<Vec<_>>().join(" | "));
        return None;
    }
    Some((elapsed, text))
}

fn on_path(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.storage.data_dir = dir.path().to_path_buf();
    config.database.url = DatabaseUrl::new(format!("sqlite://{}/bench.db", dir.path().display()));
    config.ssh.max_sessions_per_host = 4;
    let state = AppState::build_with_clock(config, Arc::new(SystemClock)).await.unwrap();
    let actor = Actor::cli();
    let key = state.vault.generate_ssh_key(&actor, "bench").await.unwrap();
    let study = state.inventory.create_study(&actor, "Bench", "", "").await.unwrap();
    let instance = state
        .inventory
        .create_instance(
            &actor,
            study.id,
            &InstanceInput {
                name: "fleet".into(),
                stack: "generic".into(),
                environment: "bench".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();

    let started = Instant::now();
    let hosts: Vec<FleetHost> = (0..SIZES[1]).map(|_| FleetHost::start(&key.public_key)).collect();
    println!("started {} sshd hosts in {:.1} s", hosts.len(), started.elapsed().as_secs_f64());

    // Steward's key and the hosts' keys, for pssh and Ansible to use the same trust.
    let key_file = dir.path().join("id_bench");
    std::fs::write(&key_file, &*state.vault.reveal(key.id).await.unwrap()).unwrap();
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let known_hosts = dir.path().join("known_hosts");
    let mut known = String::new();
    let mut ids = Vec::new();
    for (n, host) in hosts.iter().enumerate() {
        let public = std::fs::read_to_string(host.dir.join("host_key.pub")).unwrap();
        let mut parts = public.split_whitespace();
        let _ = writeln!(known, "[127.0.0.1]:{} {} {}", host.port, parts.next().unwrap(), parts.next().unwrap());
        let input = HostInput {
            name: format!("h{n}"),
            roles: "web".into(),
            address: "127.0.0.1".into(),
            ssh_port: host.port.to_string(),
            ssh_user: host.user.clone(),
            credential: key.id.to_string(),
            jump_host: String::new(),
        };
        let added = state.inventory.add_host(&actor, instance.id, &input).await.unwrap();
        state.ssh.scan(&actor, added.id).await.unwrap();
        state.ssh.pin(&actor, added.id, &host.fingerprint()).await.unwrap();
        ids.push(added.id);
    }
    std::fs::write(&known_hosts, known).unwrap();

    let install = check_all(&state, &ids).await;
    println!("first contact on {} hosts, agent upload included: {:.2} s", ids.len(), install.as_secs_f64());
    let marker = std::env::temp_dir().join("stw-").display().to_string();

    for size in SIZES {
        println!("\n{size} hosts");
        let subset = &hosts[..size];
        let pssh = if on_path("parallel-ssh") {
            let hosts_file = dir.path().join(format!("pssh-{size}"));
            let lines: String = subset.iter().map(|h| format!("{}@127.0.0.1:{}\n", h.user, h.port)).collect();
            std::fs::write(&hosts_file, lines).unwrap();
            let extra = format!(
                "-o IdentitiesOnly=yes -o UserKnownHostsFile={} -o StrictHostKeyChecking=yes -o BatchMode=yes",
                known_hosts.display()
            );
            let result = timed(
                Command::new("parallel-ssh")
                    .arg("-h")
                    .arg(&hosts_file)
                    .args(["-p", &size.to_string(), "-t", "60", "-x", &extra, "-O"])
                    .arg(format!("IdentityFile={}", key_file.display()))
                    .arg("true"),
            );
            result.map(|(elapsed, _)| elapsed)
        } else {
            println!("  parallel-ssh: not installed (apt-get install pssh)");
            None
        };
        if let Some(elapsed) = pssh {
            println!("  parallel-ssh true:        {:>7.3} s", elapsed.as_secs_f64());
        }

        let ansible = if on_path("ansible") {
            let inventory = dir.path().join(format!("ansible-{size}.ini"));
            let lines: String = subset
                .iter()
                .enumerate()
                .map(|(n, h)| format!("h{n} ansible_host=127.0.0.1 ansible_port={} ansible_user={}\n", h.port, h.user))
                .collect();
            std::fs::write(&inventory, format!("[fleet]\n{lines}")).unwrap();
            let ssh_args = format!(
                "-o ControlMaster=auto -o ControlPersist=60s -o IdentitiesOnly=yes -o UserKnownHostsFile={} -o StrictHostKeyChecking=yes",
                known_hosts.display()
            );
            let result = timed(
                Command::new("ansible")
                    .args(["all", "-i"])
                    .arg(&inventory)
                    .args(["-m", "setup", "-f", &size.to_string(), "-o", "--private-key"])
                    .arg(&key_file)
                    .env("ANSIBLE_HOST_KEY_CHECKING", "True")
                    .env("ANSIBLE_SSH_ARGS", ssh_args)
                    .env("ANSIBLE_PYTHON_INTERPRETER", "/usr/bin/python3")
                    .env("ANSIBLE_PIPELINING", "True")
                    .env("ANSIBLE_LOCAL_TEMP", dir.path().join("ansible-tmp"))
                    .env("ANSIBLE_CONTROL_PATH_DIR", dir.path().join("cp")),
            );
            result.map(|(elapsed, out)| {
                let ok = out.matches(" | SUCCESS").count();
                assert_eq!(ok, size, "every host answered Ansible");
                elapsed
            })
        } else {
            println!("  ansible: not installed (pip install ansible-core)");
            None
        };
        if let Some(elapsed) = ansible {
            println!("  ansible -m setup:         {:>7.3} s", elapsed.as_secs_f64());
        }

        state.ssh.close_all().await;
        if size == SIZES[1] {
            // Resets the peak RSS so it covers the 100-host runs only.
            let _ = std::fs::write("/proc/self/clear_refs", "5");
        }
        let cold = check_all(&state, &ids[..size]).await;
        let warm = check_all(&state, &ids[..size]).await;
        println!("  Steward facts, cold:      {:>7.3} s", cold.as_secs_f64());
        println!("  Steward facts, warm:      {:>7.3} s", warm.as_secs_f64());
        if let Some(pssh) = pssh {
            let ratio = |d: Duration| d.as_secs_f64() / pssh.as_secs_f64();
            println!("  cold / pssh true = {:.2}× (goal ≤ 1.5×)", ratio(cold));
            println!("  warm / pssh true = {:.2}× (goal ≤ 0.2×)", ratio(warm));
        }
        if let Some(ansible) = ansible {
            println!(
                "  Ansible / Steward cold = {:.1}× faster (goal ≥ 10×)",
                ansible.as_secs_f64() / cold.as_secs_f64()
            );
            println!("  Ansible / Steward warm = {:.1}× faster", ansible.as_secs_f64() / warm.as_secs_f64());
        }
        if size == SIZES[1] {
            let status = std::fs::read_to_string("/proc/self/status").unwrap();
            let (masters, masters_kib) = masters_rss_kib(&marker);
            println!(
                "  Steward peak RSS during the 100-host runs: {:.1} MiB (now {:.1} MiB); plus {masters} pooled ssh masters, {:.1} MiB together",
                kib("VmHWM:", &status) as f64 / 1024.0,
                kib("VmRSS:", &status) as f64 / 1024.0,
                masters_kib as f64 / 1024.0
            );
        }
    }
    state.ssh.close_all().await;
}
