//! A study written out as a YAML inventory that reads back into the same instances and hosts.

use std::collections::{BTreeMap, BTreeSet};

use serde_yaml_ng::{Mapping, Value};
use steward_frontend::contract::{HostSummary, InstanceSummary};

/// Group names in the export: safe for Ansible, unique.
fn group_name(text: &str) -> String {
    let name: String =
        text.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect();
    if name.starts_with(|c: char| c.is_ascii_digit()) || name.is_empty() { format!("i_{name}") } else { name }
}

/// A study as a YAML inventory: one group per instance (with Steward's settings as group
/// variables), one group per role; hosts reached through a jump host get a ProxyJump.
pub fn export(study: &str, instances: &[(InstanceSummary, Vec<HostSummary>)]) -> String {
    let mut taken: BTreeSet<String> = BTreeSet::new();
    let mut inventory_names: BTreeMap<i64, String> = BTreeMap::new();
    for (instance, hosts) in instances {
        for host in hosts {
            let mut name = host.name.clone();
            if !taken.insert(name.clone()) {
                name = format!("{}.{}", group_name(&instance.name), host.name);
                taken.insert(name.clone());
            }
            inventory_names.insert(host.id, name);
        }
    }
    let by_id: BTreeMap<i64, &HostSummary> =
        instances.iter().flat_map(|(_, hosts)| hosts.iter().map(|h| (h.id, h))).collect();
    let s = |v: &str| Value::String(v.to_owned());
    let mut children = Mapping::new();
    let mut role_groups: BTreeMap<&'static str, Mapping> = BTreeMap::new();
    for (instance, hosts) in instances {
        let mut host_map = Mapping::new();
        for host in hosts {
            let mut vars = Mapping::new();
            vars.insert(s("ansible_host"), s(&host.address));
            vars.insert(s("ansible_port"), Value::Number(host.ssh_port.into()));
            vars.insert(s("ansible_user"), s(&host.ssh_user));
            let roles: Vec<&str> = host.roles.iter().map(|r| r.as_str()).collect();
            vars.insert(s("steward_roles"), s(&roles.join(",")));
            if let Some(jump) = host.jump_host.as_ref().and_then(|j| by_id.get(&j.id)) {
                let address =
                    if jump.address.contains(':') { format!("[{}]", jump.address) } else { jump.address.clone() };
                let target = format!("{}@{address}:{}", jump.ssh_user, jump.ssh_port);
                vars.insert(s("ansible_ssh_common_args"), s(&format!("-o ProxyJump={target}")));
            }
            let name = inventory_names.get(&host.id).cloned().unwrap_or_else(|| host.name.clone());
            host_map.insert(s(&name), Value::Mapping(vars));
            for role in &host.roles {
                role_groups.entry(role.as_str()).or_default().insert(s(&name), Value::Null);
            }
        }
        let mut group_vars = Mapping::new();
        group_vars.insert(s("steward_instance"), s(&instance.name));
        group_vars.insert(s("steward_stack"), s(instance.stack.as_str()));
        group_vars.insert(s("steward_environment"), s(&instance.environment));
        if !instance.tags.is_empty() {
            group_vars.insert(s("steward_tags"), s(&instance.tags.join(",")));
        }
        let mut group = Mapping::new();
        group.insert(s("vars"), Value::Mapping(group_vars));
        group.insert(s("hosts"), Value::Mapping(host_map));
        let mut name = group_name(&instance.name);
        while children.contains_key(s(&name)) {
            name.push('_');
        }
        children.insert(s(&name), Value::Mapping(group));
    }
    for (role, hosts) in role_groups {
        let mut group = Mapping::new();
        group.insert(s("hosts"), Value::Mapping(hosts));
        let mut name = format!("role_{role}");
        while children.contains_key(s(&name)) {
            name.push('_');
        }
        children.insert(s(&name), Value::Mapping(group));
    }
    let mut all = Mapping::new();
    all.insert(s("children"), Value::Mapping(children));
    let mut root = Mapping::new();
    root.insert(s("all"), Value::Mapping(all));
    let body = serde_yaml_ng::to_string(&Value::Mapping(root)).unwrap_or_default();
    format!("# Ansible inventory of study {study:?}, exported by Steward.\n{body}")
}
