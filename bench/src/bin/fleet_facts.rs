//! Facts from 20 and 100 real sshd hosts on loopback, cold (no pooled connection) and warm
//! (pool open), against `parallel-ssh` running `true` and `ansible -m setup` on the same hosts
//! with the same key and strict host-key checking. Goals: warm ≤ 0.2× pssh, cold ≤ 1.5× pssh,
//! ≥ 10× faster than Ansible. Prints Steward's peak RSS during the 100-host runs.
//!
//! Needs root (it creates a unix user and an sshd per host), Debian's openssh-server and
//! pssh, and ansible-core (`pip install ansible-core`); a missing tool's row is skipped.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../common.rs"]
#[allow(dead_code)]
mod common;
#[path = "../../../server/tests/common/fleet.rs"]
#[allow(dead_code)]
mod fleet;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{BenchFleet, ansible, ansible_inventory, bench_fleet, on_path, timed};
use steward::app::AppState;

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

#[tokio::main]
async fn main() {
    let fleet = bench_fleet(SIZES[1], "generic", |_| {}).await;
    let BenchFleet { state, hosts, ids, key_file, known_hosts, .. } = &fleet;
    let install = check_all(state, ids).await;
    println!("first contact on {} hosts, agent upload included: {:.2} s", ids.len(), install.as_secs_f64());
    let marker = std::env::temp_dir().join("stw-").display().to_string();

    for size in SIZES {
        println!("\n{size} hosts");
        let subset = &hosts[..size];
        let pssh = if on_path("parallel-ssh") {
            let hosts_file = fleet.dir.path().join(format!("pssh-{size}"));
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
            let inventory = ansible_inventory(&fleet, size);
            let forks = size.to_string();
            let inventory = inventory.display().to_string();
            let result =
                timed(&mut ansible(&fleet, &["ansible", "all", "-i", &inventory, "-m", "setup", "-f", &forks, "-o"]));
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
        let cold = check_all(state, &ids[..size]).await;
        let warm = check_all(state, &ids[..size]).await;
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
