//! Ansible inventories in and out: INI and YAML are read into hosts with their merged
//! variables and groups; a study is written out as a YAML inventory that reads back into the
//! same instances and hosts.
//!
//! Reading reports the line and the reason of the first malformed construct and yields nothing
//! else; mapping to Steward (see [`plan`]) reports every host or setting it leaves out and why.

use std::collections::{BTreeMap, BTreeSet};

use serde_yaml_ng::{Mapping, Value};
use steward_frontend::contract::{
    HostRole, HostSummary, ImportReport, InstanceSummary, PlannedHost, PlannedInstance, Skipped, Stack,
};

use crate::services::inventory::{parse_address, parse_ssh_user, parse_tags};

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

/// Splits `a=1 b='two words' c="x"` like a shell would, without running one.
fn split_words(line: &str, number: usize) -> Result<Vec<String>, ParseError> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    let mut in_word = false;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => current.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            (None, c) => {
                current.push(c);
                in_word = true;
            }
        }
    }
    if let Some(q) = quote {
        return Err(ParseError { line: number, message: format!("unclosed {q} quote") });
    }
    if in_word {
        words.push(current);
    }
    Ok(words)
}

fn key_values(words: &[String], number: usize) -> Result<BTreeMap<String, String>, ParseError> {
    words
        .iter()
        .map(|word| match word.split_once('=') {
            Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
            _ => Err(ParseError { line: number, message: format!("expected key=value, found {word:?}") }),
        })
        .collect()
}

/// Expands `web[01:03].example.org` into three names; names without a range pass through.
fn expand(pattern: &str, number: usize) -> Result<Vec<String>, ParseError> {
    let Some(open) = pattern.find('[') else { return Ok(vec![pattern.to_owned()]) };
    let close = pattern[open..]
        .find(']')
        .map(|c| open + c)
        .ok_or_else(|| ParseError { line: number, message: format!("unclosed [ in host pattern {pattern:?}") })?;
    let (start, end) = pattern[open + 1..close].split_once(':').ok_or_else(|| ParseError {
        line: number,
        message: format!("host range in {pattern:?} must look like [01:10]"),
    })?;
    let bad = || ParseError { line: number, message: format!("host range in {pattern:?} must be numeric") };
    let (a, b): (u32, u32) = (start.parse().map_err(|_| bad())?, end.parse().map_err(|_| bad())?);
    if b < a || b - a > 1000 {
        return Err(ParseError { line: number, message: format!("host range in {pattern:?} is empty or too large") });
    }
    let width = if start.starts_with('0') { start.len() } else { 0 };
    let rests = expand(&pattern[close + 1..], number)?;
    if (b - a + 1) as usize * rests.len() > MAX_HOSTS {
        return Err(ParseError {
            line: number,
            message: format!("{pattern:?} expands to more than {MAX_HOSTS} hosts"),
        });
    }
    let mut names = Vec::new();
    for n in a..=b {
        let prefix = format!("{}{n:0width$}", &pattern[..open]);
        names.extend(rests.iter().map(|rest| format!("{prefix}{rest}")));
    }
    Ok(names)
}

fn parse_ini(text: &str) -> Result<Tree, ParseError> {
    enum Section {
        Hosts(String),
        Vars(String),
        Children(String),
    }
    let mut tree = Tree::default();
    let mut section = Section::Hosts("ungrouped".into());
    for (index, raw) in text.lines().enumerate() {
        let number = index + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if line.starts_with('[') {
            let inner = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')).ok_or_else(|| ParseError {
                line: number,
                message: format!("section header {line:?} is missing its closing ]"),
            })?;
            let (name, kind) = inner.split_once(':').unwrap_or((inner, ""));
            if name.is_empty() || name.contains(char::is_whitespace) {
                return Err(ParseError { line: number, message: format!("{name:?} is not a group name") });
            }
            tree.group(name);
            section = match kind {
                "" => Section::Hosts(name.to_owned()),
                "vars" => Section::Vars(name.to_owned()),
                "children" => Section::Children(name.to_owned()),
                other => {
                    return Err(ParseError {
                        line: number,
                        message: format!("unknown section kind :{other} (use :vars or :children)"),
                    });
                }
            };
            continue;
        }
        let words = split_words(line, number)?;
        match &section {
            Section::Hosts(group) => {
                let Some((pattern, rest)) = words.split_first() else { continue };
                if pattern.contains('=') {
                    return Err(ParseError {
                        line: number,
                        message: format!("expected a host name, found {pattern:?}"),
                    });
                }
                let vars = key_values(rest, number)?;
                for host in expand(pattern, number)? {
                    tree.add_host(group, &host, vars.clone(), number)?;
                }
            }
            Section::Vars(group) => {
                let vars = key_values(&words, number)?;
                tree.group(group).vars.extend(vars);
            }
            Section::Children(group) => {
                if words.len() != 1 {
                    return Err(ParseError {
                        line: number,
                        message: "a :children section lists one group per line".into(),
                    });
                }
                let child = words[0].clone();
                tree.group(&child);
                tree.group(group).children.push(child);
            }
        }
    }
    Ok(tree)
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => Some(String::new()),
        _ => None,
    }
}

/// The first line mentioning `key:`, for errors found after parsing.
fn line_of(text: &str, key: &str) -> usize {
    let needle = format!("{key}:");
    text.lines().position(|l| l.trim_start().starts_with(&needle)).map_or(1, |i| i + 1)
}

fn parse_yaml(text: &str) -> Result<Tree, ParseError> {
    let root: Value = serde_yaml_ng::from_str(text).map_err(|err| ParseError {
        line: err.location().map_or(1, |l| l.line()),
        message: format!("not valid YAML: {err}"),
    })?;
    let mut tree = Tree::default();
    let groups = match root {
        Value::Mapping(m) => m,
        Value::Null => Mapping::new(),
        _ => return Err(ParseError { line: 1, message: "the inventory must be a mapping of group names".into() }),
    };
    for (name, group) in &groups {
        yaml_group(text, &mut tree, name, group)?;
    }
    Ok(tree)
}

fn yaml_vars(text: &str, owner: &str, value: &Value) -> Result<BTreeMap<String, String>, ParseError> {
    let bad = |message: String| ParseError { line: line_of(text, owner), message };
    match value {
        Value::Null => Ok(BTreeMap::new()),
        Value::Mapping(m) => m
            .iter()
            .map(|(k, v)| {
                let key = scalar(k).ok_or_else(|| bad(format!("{owner}: variable names must be text")))?;
                let value = scalar(v).ok_or_else(|| bad(format!("{owner}: variable {key} must be a single value")))?;
                Ok((key, value))
            })
            .collect(),
        _ => Err(bad(format!("{owner}: expected a mapping of variables"))),
    }
}

fn yaml_group(text: &str, tree: &mut Tree, name: &Value, group: &Value) -> Result<(), ParseError> {
    let name = scalar(name)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ParseError { line: 1, message: "group names must be text".into() })?;
    tree.group(&name);
    let body = match group {
        Value::Null => return Ok(()),
        Value::Mapping(m) => m,
        _ => {
            return Err(ParseError {
                line: line_of(text, &name),
                message: format!("group {name}: expected hosts, vars or children"),
            });
        }
    };
    for (key, value) in body {
        match scalar(key).as_deref() {
            Some("hosts") => match value {
                Value::Null => {}
                Value::Mapping(hosts) => {
                    for (host, vars) in hosts {
                        let pattern = scalar(host).filter(|h| !h.is_empty()).ok_or_else(|| ParseError {
                            line: line_of(text, "hosts"),
                            message: format!("group {name}: host names must be text"),
                        })?;
                        let vars = yaml_vars(text, &pattern, vars)?;
                        let line = line_of(text, &pattern);
                        for host in expand(&pattern, line)? {
                            tree.add_host(&name, &host, vars.clone(), line)?;
                        }
                    }
                }
                _ => {
                    return Err(ParseError {
                        line: line_of(text, "hosts"),
                        message: format!("group {name}: hosts must be a mapping of host names"),
                    });
                }
            },
            Some("vars") => {
                let vars = yaml_vars(text, "vars", value)?;
                tree.group(&name).vars.extend(vars);
            }
            Some("children") => match value {
                Value::Null => {}
                Value::Mapping(children) => {
                    for (child, body) in children {
                        let child_name = scalar(child).unwrap_or_default();
                        tree.group(&name).children.push(child_name);
                        yaml_group(text, tree, child, body)?;
                    }
                }
                _ => {
                    return Err(ParseError {
                        line: line_of(text, "children"),
                        message: format!("group {name}: children must be a mapping of groups"),
                    });
                }
            },
            other => {
                return Err(ParseError {
                    line: line_of(text, other.unwrap_or("?")),
                    message: format!(
                        "group {name}: unknown key {:?} (expected hosts, vars or children)",
                        other.unwrap_or("?")
                    ),
                });
            }
        }
    }
    Ok(())
}

// --- mapping to Steward --------------------------------------------------------------------

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
fn role_of_group(group: &str) -> Option<HostRole> {
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
fn proxy_jump(args: &str) -> Option<String> {
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

#[cfg(test)]
mod tests {
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
