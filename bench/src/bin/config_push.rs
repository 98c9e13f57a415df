//! A changed nginx config pushed to 100 real hosts, each running its own nginx: Steward's `push`
//! job (render, diff against the live file, upload, `nginx -t` on the uploaded copy, atomic
//! swap, reload) against ansible-core's `template` module with `validate` and a reload handler,
//! forks = 100 and pipelining, on the same hosts, key and strict known_hosts. One run each.
//! Goal: Steward ≤ 0.1× Ansible's wall time.
//!
//! Needs root (a unix user, sshd and nginx per host), Debian's openssh-server and nginx, and
//! ansible-core (`pip install ansible-core`); without Ansible only Steward's figures print.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../common.rs"]
#[allow(dead_code)]
mod common;
#[path = "../../../server/tests/common/fleet.rs"]
#[allow(dead_code)]
mod fleet;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{BenchFleet, ansible, ansible_inventory, bench_fleet, on_path, timed};
use serde_json::json;
use steward::services::audit::Actor;
use steward::services::jobs::runner::Runner;
use steward::services::jobs::{JobSpec, Target};
use steward_frontend::contract::SettingsInput;
use tokio_util::sync::CancellationToken;

const HOSTS: usize = 100;

/// The nginx.conf both tools render; each host's prefix is its user's home.
const TEMPLATE: &str = r#"worker_processes 1;
pid {{ prefix }}/nginx.pid;
error_log {{ prefix }}/logs/error.log;
events { worker_connections 32; }
http {
    access_log off;
    client_body_temp_path {{ prefix }}/tmp/body;
    proxy_temp_path {{ prefix }}/tmp/proxy;
    fastcgi_temp_path {{ prefix }}/tmp/fastcgi;
    uwsgi_temp_path {{ prefix }}/tmp/uwsgi;
    scgi_temp_path {{ prefix }}/tmp/scgi;
    server {
        listen unix:{{ prefix }}/nginx.sock;
        location / {
            default_type text/plain;
            return 200 "{{ greeting }}\n";
        }
    }
}
"#;

const PREFIX: &str = "/tmp/steward-fleet/{{ host.user }}/nginx";

/// A stack folder in the data directory, as an operator would add it.
fn write_stack(data: &Path) {
    let dir = data.join("stacks/nginx-bench");
    std::fs::create_dir_all(dir.join("templates")).unwrap();
    let manifest = format!(
        r#"name = "nginx-bench"
title = "nginx (benchmark)"
[[settings]]
name = "greeting"
type = "string"
required = true
[[files]]
path = "{PREFIX}/conf/nginx.conf"
template = "nginx.conf.j2"
validate = ["/usr/sbin/nginx", "-t", "-q", "-p", "{PREFIX}", "-e", "{PREFIX}/logs/error.log", "-c", "{{{{ staged }}}}"]
services = ["nginx"]
[[services]]
name = "nginx"
reload = ["/usr/sbin/nginx", "-s", "reload", "-p", "{PREFIX}", "-e", "{PREFIX}/logs/error.log", "-c", "{PREFIX}/conf/nginx.conf"]
"#
    );
    std::fs::write(dir.join("stack.toml"), manifest).unwrap();
    let template = format!(
        "{{% set prefix = \"/tmp/steward-fleet/\" ~ host.user ~ \"/nginx\" %}}{}",
        TEMPLATE.replace("{{ greeting }}", "{{ settings.greeting }}")
    );
    std::fs::write(dir.join("templates/nginx.conf.j2"), template).unwrap();
}

async fn steward_push(fleet: &BenchFleet, greeting: &str) -> Duration {
    let state = &fleet.state;
    let values = BTreeMap::from([("greeting".to_owned(), greeting.to_owned())]);
    let input = SettingsInput { instance_id: fleet.instance_id, message: greeting.into(), values };
    let revision = state.configs.save(&Actor::cli(), input).await.unwrap();
    let started = Instant::now();
    let spec = JobSpec {
        kind: "push".into(),
        target: Target::Instance(fleet.instance_id),
        payload: json!({ "revision_id": revision.id, "batch_size": HOSTS }),
        requested_by: "bench".into(),
        schedule_id: None,
        run_after: None,
    };
    let job = state.jobs.enqueue(&Actor::cli(), spec).await.unwrap();
    loop {
        let detail = state.jobs.detail(job.id).await.unwrap();
        if detail.job.finished() {
            assert_eq!(detail.job.state, "succeeded", "{:?}", detail.hosts.iter().find(|h| h.state != "succeeded"));
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    started.elapsed()
}

fn served(fleet: &BenchFleet) -> Vec<String> {
    fleet
        .hosts
        .iter()
        .map(|h| {
            let out = std::process::Command::new("curl")
                .args(["-s", "--unix-socket", &format!("{}/nginx/nginx.sock", h.home.display()), "http://x/"])
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).trim().to_owned()
        })
        .collect()
}

async fn wait_served(fleet: &BenchFleet, greeting: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while served(fleet).iter().any(|s| s != greeting) {
        assert!(Instant::now() < deadline, "not every host serves {greeting:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::main]
async fn main() {
    let fleet = bench_fleet(HOSTS, "nginx-bench", write_stack).await;
    for host in &fleet.hosts {
        host.start_nginx("200 \"started\\n\"");
    }
    let stop = CancellationToken::new();
    let runner = tokio::spawn(
        Runner::new(fleet.state.jobs.clone()).run(stop.clone(), fleet.state.workers.register("jobs", "bench")),
    );

    // First contact installs the agent; then one push with the pool closed and one with it open.
    let first = steward_push(&fleet, "steward first contact").await;
    wait_served(&fleet, "steward first contact").await;
    println!("{HOSTS} hosts: first push, agent upload included: {:.2} s", first.as_secs_f64());
    fleet.state.ssh.close_all().await;
    let cold = steward_push(&fleet, "steward cold").await;
    wait_served(&fleet, "steward cold").await;
    let warm = steward_push(&fleet, "steward warm").await;
    wait_served(&fleet, "steward warm").await;
    println!("  Steward push, connections closed: {:>7.3} s", cold.as_secs_f64());
    println!("  Steward push, pool open:          {:>7.3} s", warm.as_secs_f64());

    if on_path("ansible-playbook") {
        let template = fleet.dir.path().join("nginx.conf.j2");
        std::fs::write(&template, TEMPLATE).unwrap();
        let playbook = fleet.dir.path().join("push.yml");
        std::fs::write(
            &playbook,
            format!(
                r#"- hosts: fleet
  gather_facts: false
  vars:
    prefix: "/tmp/steward-fleet/{{{{ ansible_user }}}}/nginx"
  tasks:
    - name: nginx.conf
      template:
        src: {template}
        dest: "{{{{ prefix }}}}/conf/nginx.conf"
        validate: "/usr/sbin/nginx -t -q -p {{{{ prefix }}}} -e {{{{ prefix }}}}/logs/error.log -c %s"
      notify: reload nginx
  handlers:
    - name: reload nginx
      command: "/usr/sbin/nginx -s reload -p {{{{ prefix }}}} -e {{{{ prefix }}}}/logs/error.log -c {{{{ prefix }}}}/conf/nginx.conf"
"#,
                template = template.display()
            ),
        )
        .unwrap();
        let inventory = ansible_inventory(&fleet, HOSTS).display().to_string();
        let forks = HOSTS.to_string();
        let playbook = playbook.display().to_string();
        let mut runs = Vec::new();
        for greeting in ["ansible first", "ansible second"] {
            let extra = json!({ "greeting": greeting }).to_string();
            let argv = ["ansible-playbook", "-i", &inventory, "-f", &forks, "-e", &extra, &playbook];
            let (elapsed, out) = timed(&mut ansible(&fleet, &argv)).expect("ansible-playbook ran");
            let ok = out.lines().filter(|l| l.contains(" changed=2 ") && l.contains(" failed=0 ")).count();
            assert_eq!(ok, HOSTS, "Ansible changed and reloaded every host:\n{out}");
            wait_served(&fleet, greeting).await;
            runs.push(elapsed);
        }
        println!("  Ansible template, first run:      {:>7.3} s", runs[0].as_secs_f64());
        println!("  Ansible template, connections up: {:>7.3} s", runs[1].as_secs_f64());
        let ansible = runs[1];
        println!(
            "  Steward / Ansible: cold {:.3}×, warm {:.3}× (goal ≤ 0.1×)",
            cold.as_secs_f64() / ansible.as_secs_f64(),
            warm.as_secs_f64() / ansible.as_secs_f64()
        );
    } else {
        println!("  ansible-playbook: not installed (pip install ansible-core)");
    }
    stop.cancel();
    let _ = runner.await;
    fleet.state.ssh.close_all().await;
}
