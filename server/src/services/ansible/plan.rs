//! What an inventory becomes in Steward: groups map to host roles and instance tags, the
//! variables Steward uses are read, and everything left out is reported with the reason.

use std::collections::{BTreeMap, BTreeSet};

use super::ini::split_words;
use super::*;
use steward_frontend::contract::{HostRole, ImportReport, PlannedHost, PlannedInstance, Skipped, Stack};

use crate::services::fields::{parse_address, parse_ssh_user, parse_tags};

/// What [`plan`] makes of an inventory, before anything is created.
pub type Plan = ImportReport;

/// Defaults for what the inventory does not say.
#[derive(Debug, Clone)]
pub struct Defaults {
    pub instance: String,
    pub stack: Stack,
    pub environment: String,
    pub ssh_user: String,
}

/// The role a group name stands for, if any: `webservers` → web, `dbservers` → database.
pub(super) fn role_of_group(group: &str) -> Option<HostRole> {
    let lower = group.to_ascii_lowercase();
    let role = |g: &str| {
        Some(match g.trim_end_matches(['_', '-']) {
            "web" | "webapp" | "www" | "nginx" | "apache" | "frontend" => HostRole::Web,
            "db" | "database" | "mongo" | "mongodb" | "postgres" | "postgresql" | "mysql" | "mariadb" => {
                HostRole::Database
            }
            "analysis" | "analytics" | "pipeline" | "worker" => HostRole::Analysis,
            "notebook" | "jupyter" | "jupyterhub" => HostRole::Notebook,
            "all" => HostRole::All,
            _ => return None,
        })
    };
    role(&lower).or_else(|| {
        ["servers", "server", "hosts", "s"].iter().find_map(|suffix| lower.strip_suffix(suffix).and_then(role))
    })
}

/// The last hop of `-o ProxyJump=...` or `-J ...` in ssh arguments: `[user@]host[:port]`.
pub(super) fn proxy_jump(args: &str) -> Option<String> {
    let words = split_words(args, 0).ok()?;
    let mut found = None;
    let mut iter = words.iter().peekable();
    while let Some(word) = iter.next() {
        let value = if let Some(v) = word.strip_prefix("-J") {
            if v.is_empty() { iter.next().cloned() } else { Some(v.to_owned()) }
        } else if word == "-o" {
            iter.next().and_then(|o| o.strip_prefix("ProxyJump=").map(str::to_owned))
        } else {
            word.strip_prefix("-oProxyJump=").map(str::to_owned)
        };
        if value.is_some() {
            found = value;
        }
    }
    let hop = found?.rsplit(',').next()?.to_owned();
    let host = hop.rsplit_once('@').map_or(hop.as_str(), |(_, h)| h);
    let host = host.strip_prefix('[').and_then(|h| h.split_once(']')).map_or_else(
        || host.rsplit_once(':').filter(|(_, p)| p.chars().all(|c| c.is_ascii_digit())).map_or(host, |(h, _)| h),
        |(h, _)| h,
    );
    Some(host.to_owned())
}

const SECRET_VARS: &[&str] = &[
    "ansible_password",
    "ansible_ssh_pass",
    "ansible_become_pass",
    "ansible_become_password",
    "ansible_ssh_private_key_file",
];
const USED_VARS: &[&str] = &[
    "ansible_host",
    "ansible_ssh_host",
    "ansible_port",
    "ansible_ssh_port",
    "ansible_user",
    "ansible_ssh_user",
    "ansible_ssh_common_args",
    "ansible_ssh_extra_args",
    "ansible_connection",
    "steward_instance",
    "steward_stack",
    "steward_environment",
    "steward_tags",
    "steward_roles",
];

/// Maps hosts to Steward instances and hosts; everything left out is reported.
pub fn plan(hosts: &[AnsibleHost], defaults: &Defaults) -> Plan {
    let mut plan = Plan::default();
    let mut ignored_vars: BTreeSet<String> = BTreeSet::new();
    let mut jumps: Vec<(String, String, String)> = Vec::new(); // (instance, host, jump target)
    let mut instances: BTreeMap<String, PlannedInstance> = BTreeMap::new();
    let mut addresses: BTreeMap<(String, String), String> = BTreeMap::new(); // (instance, address or alias) -> host name

    for host in hosts {
        let var = |names: &[&str]| names.iter().find_map(|n| host.vars.get(*n)).cloned();
        for key in host.vars.keys() {
            if SECRET_VARS.contains(&key.as_str()) {
                plan.skipped.push(Skipped {
                    item: format!("{}: {key}", host.name),
                    reason: "secrets are not imported; add an SSH key under Credentials and assign it".into(),
                });
            } else if !USED_VARS.contains(&key.as_str()) {
                ignored_vars.insert(key.clone());
            }
        }
        if var(&["ansible_connection"]).is_some_and(|c| c != "ssh" && c != "smart" && c != "paramiko") {
            plan.skipped
                .push(Skipped { item: host.name.clone(), reason: "not reached over SSH (ansible_connection)".into() });
            continue;
        }
        let address = var(&["ansible_host", "ansible_ssh_host"]).unwrap_or_else(|| host.name.clone());
        let address = match parse_address(&address) {
            Ok(a) => a,
            Err(err) => {
                plan.skipped.push(Skipped { item: host.name.clone(), reason: err.to_string() });
                continue;
            }
        };
        let port = match var(&["ansible_port", "ansible_ssh_port"]).map(|p| p.parse::<u16>()) {
            None => 22,
            Some(Ok(p)) if p > 0 => p,
            Some(_) => {
                plan.skipped
                    .push(Skipped { item: host.name.clone(), reason: "ansible_port is not a port number".into() });
                continue;
            }
        };
        let user = var(&["ansible_user", "ansible_ssh_user"]).unwrap_or_else(|| defaults.ssh_user.clone());
        let user = match parse_ssh_user(&user) {
            Ok(u) => u,
            Err(err) => {
                plan.skipped.push(Skipped { item: host.name.clone(), reason: err.to_string() });
                continue;
            }
        };
        let mut roles: Vec<HostRole> = match var(&["steward_roles"]) {
            Some(list) => list.split([',', ' ']).filter_map(|r| HostRole::parse(r.trim())).collect(),
            None => host.groups.iter().filter_map(|g| role_of_group(g)).collect(),
        };
        roles.sort();
        roles.dedup();
        if roles.is_empty() {
            roles.push(HostRole::All);
        }
        let instance_name = var(&["steward_instance"]).unwrap_or_else(|| defaults.instance.clone());
        let instance = instances.entry(instance_name.clone()).or_insert_with(|| PlannedInstance {
            name: instance_name.clone(),
            stack: var(&["steward_stack"]).and_then(|s| Stack::parse(&s)).unwrap_or_else(|| defaults.stack.clone()),
            environment: var(&["steward_environment"]).unwrap_or_else(|| defaults.environment.clone()),
            tags: Vec::new(),
            hosts: Vec::new(),
        });
        let mut tags: Vec<String> = match var(&["steward_tags"]) {
            Some(list) => parse_tags(&list).unwrap_or_default(),
            None => host.groups.iter().filter(|g| role_of_group(g).is_none()).map(|g| g.to_lowercase()).collect(),
        };
        tags.retain(|t| {
            let ok = parse_tags(t).is_ok_and(|v| v.len() == 1) && !t.starts_with("steward_");
            if !ok {
                plan.skipped.push(Skipped { item: format!("group {t}"), reason: "not usable as a tag".into() });
            }
            ok
        });
        for tag in tags {
            if !instance.tags.contains(&tag) {
                instance.tags.push(tag);
            }
        }
        // Steward host names: the inventory name up to its first dot, unless taken.
        let short = host.name.split('.').next().unwrap_or(&host.name).to_owned();
        let name = if instance.hosts.iter().any(|h| h.name == short) { host.name.clone() } else { short };
        if instance.hosts.iter().any(|h| h.name == name) {
            plan.skipped.push(Skipped { item: host.name.clone(), reason: "listed twice".into() });
            continue;
        }
        if name.chars().count() > 200 {
            plan.skipped
                .push(Skipped { item: host.name.clone(), reason: "a host name has at most 200 characters".into() });
            continue;
        }
        for alias in [host.name.clone(), address.clone(), name.clone()] {
            addresses.insert((instance_name.clone(), alias), name.clone());
        }
        if let Some(target) = var(&["ansible_ssh_common_args", "ansible_ssh_extra_args"]).and_then(|a| proxy_jump(&a)) {
            jumps.push((instance_name.clone(), name.clone(), target));
        }
        instance.hosts.push(PlannedHost { name, address, ssh_port: port, ssh_user: user, roles, jump_host: None });
    }
    for (instance_name, host_name, target) in jumps {
        let resolved = addresses.get(&(instance_name.clone(), target.clone())).cloned();
        match resolved.filter(|r| *r != host_name) {
            Some(jump) => {
                if let Some(h) =
                    instances.get_mut(&instance_name).and_then(|i| i.hosts.iter_mut().find(|h| h.name == host_name))
                {
                    h.jump_host = Some(jump);
                }
            }
            None => plan.skipped.push(Skipped {
                item: format!("{host_name}: ProxyJump {target}"),
                reason: "the jump host is not a host of the same instance in this inventory; left empty".into(),
            }),
        }
    }
    for var in ignored_vars {
        plan.skipped.push(Skipped { item: format!("variable {var}"), reason: "not used by Steward".into() });
    }
    for instance in instances.values_mut() {
        instance.tags.sort();
    }
    plan.instances = instances.into_values().collect();
    plan
}
