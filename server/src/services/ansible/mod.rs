//! Ansible inventories in and out: INI and YAML are read into hosts with their merged
//! variables and groups; a study is written out as a YAML inventory that reads back into the
//! same instances and hosts.
//!
//! Reading reports the line and the reason of the first malformed construct and yields nothing
//! else; mapping to Steward (see [`plan`]) reports every host or setting it leaves out and why.

use std::collections::{BTreeMap, BTreeSet};

mod export;
mod ini;
mod plan;
mod yaml;

pub use export::export;
use ini::parse_ini;
pub use plan::{Defaults, Plan, plan};
use yaml::parse_yaml;

/// A malformed inventory: where and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

/// One host as Ansible would see it: its variables merged over its groups.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnsibleHost {
    pub name: String,
    pub vars: BTreeMap<String, String>,
    /// Every group the host is in, directly or through children.
    pub groups: BTreeSet<String>,
}

/// An inventory larger than this is refused (ranges like `h[0:1000][0:1000]` multiply).
const MAX_HOSTS: usize = 10_000;

#[derive(Debug, Default)]
struct Group {
    hosts: Vec<String>,
    vars: BTreeMap<String, String>,
    children: Vec<String>,
}

#[derive(Debug, Default)]
struct Tree {
    groups: BTreeMap<String, Group>,
    host_vars: BTreeMap<String, BTreeMap<String, String>>,
    /// Hosts in the order they first appear.
    order: Vec<String>,
}

impl Tree {
    fn group(&mut self, name: &str) -> &mut Group {
        self.groups.entry(name.to_owned()).or_default()
    }

    fn add_host(
        &mut self,
        group: &str,
        host: &str,
        vars: BTreeMap<String, String>,
        line: usize,
    ) -> Result<(), ParseError> {
        if self.order.len() >= MAX_HOSTS && !self.host_vars.contains_key(host) {
            return Err(ParseError { line, message: format!("more than {MAX_HOSTS} hosts; split the inventory") });
        }
        if !self.host_vars.contains_key(host) {
            self.order.push(host.to_owned());
        }
        self.host_vars.entry(host.to_owned()).or_default().extend(vars);
        let group = self.group(group);
        if !group.hosts.iter().any(|h| h == host) {
            group.hosts.push(host.to_owned());
        }
        Ok(())
    }

    /// Resolves groups and variable precedence: `all`, then parents before children, then
    /// the host's own variables.
    fn hosts(&self) -> Vec<AnsibleHost> {
        // Depth of each group below `all`/the roots, for precedence.
        let mut depth: BTreeMap<&str, usize> = BTreeMap::new();
        let children: BTreeSet<&str> =
            self.groups.values().flat_map(|g| g.children.iter().map(String::as_str)).collect();
        let mut frontier: Vec<(&str, usize)> =
            self.groups.keys().map(String::as_str).filter(|g| !children.contains(g)).map(|g| (g, 0)).collect();
        while let Some((name, d)) = frontier.pop() {
            if depth.get(name).is_some_and(|&old| old >= d) || d > 64 {
                continue;
            }
            depth.insert(name, d);
            if let Some(group) = self.groups.get(name) {
                frontier.extend(group.children.iter().map(|c| (c.as_str(), d + 1)));
            }
        }
        let mut result = Vec::new();
        for host in &self.order {
            let mut groups: BTreeSet<String> = BTreeSet::new();
            for (name, group) in &self.groups {
                if group.hosts.contains(host) {
                    self.ancestors(name, &mut groups);
                }
            }
            groups.insert("all".into());
            let mut ordered: Vec<&String> = groups.iter().collect();
            ordered.sort_by_key(|g| {
                (if g.as_str() == "all" { 0 } else { 1 + depth.get(g.as_str()).copied().unwrap_or(0) }, (*g).clone())
            });
            let mut vars = BTreeMap::new();
            for group in ordered {
                if let Some(g) = self.groups.get(group.as_str()) {
                    vars.extend(g.vars.clone());
                }
            }
            vars.extend(self.host_vars.get(host).cloned().unwrap_or_default());
            groups.remove("all");
            groups.remove("ungrouped");
            result.push(AnsibleHost { name: host.clone(), vars, groups });
        }
        result
    }

    /// `name` and every group that has it as a child, transitively.
    fn ancestors(&self, name: &str, into: &mut BTreeSet<String>) {
        if !into.insert(name.to_owned()) {
            return;
        }
        for (parent, group) in &self.groups {
            if group.children.iter().any(|c| c == name) {
                self.ancestors(parent, into);
            }
        }
    }
}

/// Reads an inventory in either format.
pub fn parse(text: &str) -> Result<Vec<AnsibleHost>, ParseError> {
    let first = text.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with(';'));
    let yaml = first.is_some_and(|l| {
        l == "---" || (l.ends_with(':') && !l.starts_with('[')) || (l.contains(": ") && !l.contains('='))
    });
    let tree = if yaml { parse_yaml(text)? } else { parse_ini(text)? };
    Ok(tree.hosts())
}

#[cfg(test)]
mod tests {
    use steward_frontend::contract::{HostRole, Stack};

    use super::plan::proxy_jump;
    use super::*;

    const INI: &str = r#"
# e-mission, multi-tier
[webservers]
webapp.example.org ansible_user=emission

[dbservers]
db1 ansible_host=10.0.0.2 ansible_ssh_common_args='-o ProxyJump=emission@webapp.example.org'

[analysis]
worker[01:02] ansible_host=10.0.1.1

[eu:children]
webservers
dbservers

[all:vars]
ansible_user=deploy
ansible_password=hunter2
"#;

    fn defaults() -> Defaults {
        Defaults {
            instance: "prod".into(),
            stack: Stack::parse("emission").unwrap(),
            environment: "production".into(),
            ssh_user: "root".into(),
        }
    }

    #[test]
    fn ini_groups_vars_children_and_ranges() {
        let hosts = parse(INI).unwrap();
        let names: Vec<&str> = hosts.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["webapp.example.org", "db1", "worker01", "worker02"]);
        assert_eq!(hosts[0].vars["ansible_user"], "emission", "host vars beat all:vars");
        assert_eq!(hosts[1].vars["ansible_user"], "deploy");
        assert!(hosts[1].groups.contains("eu") && hosts[1].groups.contains("dbservers"));
    }

    #[test]
    fn plan_maps_groups_to_roles_and_tags_and_resolves_jumps() {
        let plan = plan(&parse(INI).unwrap(), &defaults());
        assert_eq!(plan.instances.len(), 1);
        let instance = &plan.instances[0];
        assert_eq!(instance.tags, vec!["eu"]);
        let db = instance.hosts.iter().find(|h| h.name == "db1").unwrap();
        assert_eq!(db.roles, vec![HostRole::Database]);
        assert_eq!(db.jump_host.as_deref(), Some("webapp"));
        assert_eq!(db.address, "10.0.0.2");
        let web = instance.hosts.iter().find(|h| h.name == "webapp").unwrap();
        assert_eq!(web.roles, vec![HostRole::Web]);
        assert!(plan.skipped.iter().any(|s| s.item.ends_with("ansible_password") && s.reason.contains("secrets")));
        // Two hosts share an address; both are kept.
        assert_eq!(instance.hosts.iter().filter(|h| h.address == "10.0.1.1").count(), 2);
    }

    #[test]
    fn yaml_inventories_read_the_same() {
        let yaml = r#"
all:
  vars:
    ansible_user: deploy
  children:
    webservers:
      hosts:
        webapp.example.org:
          ansible_user: emission
    dbservers:
      hosts:
        db1:
          ansible_host: 10.0.0.2
          ansible_port: 2222
          ansible_ssh_common_args: -J webapp.example.org
"#;
        let plan = plan(&parse(yaml).unwrap(), &defaults());
        let db = plan.instances[0].hosts.iter().find(|h| h.name == "db1").unwrap();
        assert_eq!((db.ssh_port, db.ssh_user.as_str(), db.jump_host.as_deref()), (2222, "deploy", Some("webapp")));
    }

    #[test]
    fn malformed_files_name_the_line() {
        let err = parse("[web\nhost1\n").unwrap_err();
        assert_eq!(err.line, 1);
        let err = parse("[web]\nhost1 ansible_port\n").unwrap_err();
        assert_eq!((err.line, err.message.contains("key=value")), (2, true));
        let err = parse("[web]\nhost1 ansible_user='open\n").unwrap_err();
        assert_eq!(err.line, 2);
        let err = parse("all:\n  hosts:\n    - a\n").unwrap_err();
        assert_eq!(err.line, 2, "{err}");
        let err = parse("all:\n  hosts: {a: 1\n").unwrap_err();
        assert!(err.message.contains("YAML"), "{err}");
    }

    #[test]
    fn proxy_jump_forms() {
        assert_eq!(proxy_jump("-o ProxyJump=user@bastion:2222").as_deref(), Some("bastion"));
        assert_eq!(proxy_jump("-J a,b.example.org").as_deref(), Some("b.example.org"));
        assert_eq!(proxy_jump("-oProxyJump=[2001:db8::1]:22").as_deref(), Some("2001:db8::1"));
        assert_eq!(proxy_jump("-o StrictHostKeyChecking=no"), None);
    }

    #[test]
    fn ranges_cannot_explode() {
        let err = parse("[web]\nh[0:1000][0:1000][0:1000]\n").unwrap_err();
        assert!(err.message.contains("more than 10000 hosts"), "{err}");
        assert_eq!(parse("[web]\nh[1:3]x[1:2]\n").unwrap().len(), 6);
    }
}
