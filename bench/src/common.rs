//! What the fleet benchmarks share: Steward on SQLite with an instance of N real sshd hosts on
//! loopback (keys pinned), plus Steward's key and a known_hosts file so other tools can reach
//! the same hosts with the same trust; and running a tool with a stopwatch.

use std::fmt::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use steward::app::AppState;
use steward::clock::SystemClock;
use steward::config::{Config, DatabaseUrl};
use steward::services::audit::Actor;
use steward::services::fields::{HostSpec, InstanceSpec};
use steward_frontend::contract::{HostRole, Stack};

use crate::fleet::FleetHost;

pub struct BenchFleet {
    pub dir: tempfile::TempDir,
    pub state: AppState,
    pub instance_id: i64,
    pub hosts: Vec<FleetHost>,
    /// Steward's host ids, in the order of `hosts`.
    pub ids: Vec<i64>,
    pub key_file: PathBuf,
    pub known_hosts: PathBuf,
}

/// Starts `n` hosts and Steward (data directory prepared by `prepare` first), adds the hosts to
/// an instance of `stack` and pins their keys.
pub async fn bench_fleet(n: usize, stack: &str, prepare: impl FnOnce(&Path)) -> BenchFleet {
    let dir = tempfile::tempdir().unwrap();
    prepare(dir.path());
    let mut config = Config::default();
    steward::telemetry::init(&config.log);
    config.storage.data_dir = dir.path().to_path_buf();
    config.database.url = DatabaseUrl::new(format!("sqlite://{}/bench.db", dir.path().display()));
    config.ssh.max_sessions_per_host = 4;
    let state = AppState::build_with_clock(config, Arc::new(SystemClock)).await.unwrap();
    let actor = Actor::cli();
    let key = state.vault.generate_ssh_key(&actor, "bench").await.unwrap();
    let study = state.inventory.create_study(&actor, "Bench", "", "").await.unwrap();
    let spec = InstanceSpec {
        name: "fleet".into(),
        stack: Stack::parse(stack).unwrap(),
        environment: "bench".into(),
        base_url: String::new(),
        notes: String::new(),
        tags: vec![],
    };
    let instance = state.inventory.create_instance(&actor, study.id, &spec).await.unwrap();

    let started = Instant::now();
    let hosts: Vec<FleetHost> = (0..n).map(|_| FleetHost::start(&key.public_key)).collect();
    println!("started {} sshd hosts in {:.1} s", hosts.len(), started.elapsed().as_secs_f64());

    let key_file = dir.path().join("id_bench");
    std::fs::write(&key_file, &*state.vault.reveal(key.id).await.unwrap()).unwrap();
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let known_hosts = dir.path().join("known_hosts");
    let mut known = String::new();
    let mut ids = Vec::new();
    for (i, host) in hosts.iter().enumerate() {
        let public = std::fs::read_to_string(host.dir.join("host_key.pub")).unwrap();
        let mut parts = public.split_whitespace();
        let _ = writeln!(known, "[127.0.0.1]:{} {} {}", host.port, parts.next().unwrap(), parts.next().unwrap());
        let spec = HostSpec {
            name: format!("h{i}"),
            roles: vec![HostRole::Web],
            address: "127.0.0.1".into(),
            port: host.port,
            user: host.user.clone(),
            credential: Some(key.id),
            jump: None,
        };
        let added = state.inventory.add_host(&actor, instance.id, &spec).await.unwrap();
        state.ssh.scan(&actor, added.id).await.unwrap();
        state.ssh.pin(&actor, added.id, &host.fingerprint()).await.unwrap();
        ids.push(added.id);
    }
    std::fs::write(&known_hosts, known).unwrap();
    BenchFleet { dir, state, instance_id: instance.id, hosts, ids, key_file, known_hosts }
}

/// Runs a command to its end: wall time and output, or `None` (with the end of its output
/// printed) when it failed.
pub fn timed(command: &mut Command) -> Option<(Duration, String)> {
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

pub fn on_path(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Ansible's SSH settings for the bench fleet: the same key and known_hosts, strict checking,
/// connection reuse, pipelining.
pub fn ansible(fleet: &BenchFleet, args: &[&str]) -> Command {
    let ssh_args = format!(
        "-o ControlMaster=auto -o ControlPersist=60s -o IdentitiesOnly=yes -o UserKnownHostsFile={} -o StrictHostKeyChecking=yes",
        fleet.known_hosts.display()
    );
    let mut command = Command::new(args[0]);
    command
        .args(&args[1..])
        .arg("--private-key")
        .arg(&fleet.key_file)
        .env("ANSIBLE_HOST_KEY_CHECKING", "True")
        .env("ANSIBLE_SSH_ARGS", ssh_args)
        .env("ANSIBLE_PYTHON_INTERPRETER", "/usr/bin/python3")
        .env("ANSIBLE_PIPELINING", "True")
        .env("ANSIBLE_LOCAL_TEMP", fleet.dir.path().join("ansible-tmp"))
        .env("ANSIBLE_CONTROL_PATH_DIR", fleet.dir.path().join("cp"));
    command
}

/// An Ansible inventory of the first `size` hosts.
pub fn ansible_inventory(fleet: &BenchFleet, size: usize) -> PathBuf {
    let inventory = fleet.dir.path().join(format!("ansible-{size}.ini"));
    let lines: String = fleet.hosts[..size]
        .iter()
        .enumerate()
        .map(|(n, h)| format!("h{n} ansible_host=127.0.0.1 ansible_port={} ansible_user={}\n", h.port, h.user))
        .collect();
    std::fs::write(&inventory, format!("[fleet]\n{lines}")).unwrap();
    inventory
}
