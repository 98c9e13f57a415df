//! The manifest of a stack folder (`stack.toml`), as written by its author, and the checks that
//! catch an author's mistakes when the folder is loaded rather than at push time.

use serde::Deserialize;

pub use super::settings::{SettingSpec, SettingType};

pub const ROLES: [&str; 5] = ["web", "analysis", "database", "notebook", "all"];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub name: String,
    pub title: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub settings: Vec<SettingSpec>,
    #[serde(default)]
    pub files: Vec<FileSpec>,
    #[serde(default)]
    pub services: Vec<ServiceSpec>,
    #[serde(default)]
    pub health: Vec<HealthSpec>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Json,
    Ini,
    Toml,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSpec {
    pub path: String,
    pub template: String,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub when: Option<String>,
    #[serde(default)]
    pub mode: Option<String>,
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default)]
    pub format: Option<Format>,
    #[serde(default)]
    pub validate: Vec<String>,
    #[serde(default)]
    pub services: Vec<String>,
}

impl FileSpec {
    pub fn mode_bits(&self) -> Option<u32> {
        self.mode.as_deref().and_then(|m| u32::from_str_radix(m.trim_start_matches("0o"), 8).ok())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    pub name: String,
    #[serde(default)]
    pub check: Vec<String>,
    #[serde(default)]
    pub reload: Vec<String>,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub when: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthSpec {
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub expect_status: Option<u16>,
    #[serde(default)]
    pub expect_body: Option<String>,
    #[serde(default)]
    pub command: Vec<String>,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub when: Option<String>,
    #[serde(default)]
    pub retries: Option<u32>,
    #[serde(default)]
    pub interval_secs: Option<u64>,
}

/// Whether something declared for `roles` applies to a host with `host_roles`.
pub fn applies(roles: &[String], host_roles: &[String]) -> bool {
    roles.is_empty() || host_roles.iter().any(|r| r == "all" || roles.contains(r))
}

fn is_identifier(name: &str, extra: char) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == extra)
}

impl Manifest {
    /// Checks what TOML cannot: names, references between sections, roles, patterns, defaults.
    pub fn check(&self, folder: &str) -> Result<(), String> {
        if self.name != folder {
            return Err(format!("name = {:?} must equal the folder's name {folder:?}", self.name));
        }
        if !is_identifier(&self.name, '-') {
            return Err("name must be lowercase letters, digits and '-', starting with a letter".into());
        }
        let mut seen = std::collections::HashSet::new();
        for setting in &self.settings {
            let at = format!("setting {:?}", setting.name);
            if !is_identifier(&setting.name, '_') {
                return Err(format!("{at}: names are lowercase letters, digits and '_', starting with a letter"));
            }
            if !seen.insert(setting.name.as_str()) {
                return Err(format!("{at} is declared twice"));
            }
            if let Some(pattern) = &setting.pattern {
                regex::Regex::new(pattern).map_err(|err| format!("{at}: pattern: {err}"))?;
            }
            if setting.kind == SettingType::Choice && setting.choices.is_empty() {
                return Err(format!("{at}: a choice needs choices = [...]"));
            }
            if let Some(default) = &setting.default {
                super::settings::check_default(setting, default).map_err(|err| format!("{at}: default: {err}"))?;
            }
        }
        let services: std::collections::HashSet<&str> = self.services.iter().map(|s| s.name.as_str()).collect();
        let check_roles = |roles: &[String], at: &str| match roles.iter().find(|r| !ROLES.contains(&r.as_str())) {
            Some(role) => Err(format!("{at}: unknown role {role:?} (roles: {})", ROLES.join(", "))),
            None => Ok(()),
        };
        for file in &self.files {
            let at = format!("file {:?}", file.path);
            check_roles(&file.roles, &at)?;
            if let Some(service) = file.services.iter().find(|s| !services.contains(s.as_str())) {
                return Err(format!("{at}: service {service:?} is not declared under [[services]]"));
            }
            if file.mode.is_some() && file.mode_bits().is_none_or(|m| m > 0o7777) {
                return Err(format!("{at}: mode must be octal, like \"0640\""));
            }
        }
        for service in &self.services {
            let at = format!("service {:?}", service.name);
            check_roles(&service.roles, &at)?;
            if service.reload.is_empty() {
                return Err(format!("{at}: reload = [...] is the command that applies a change"));
            }
        }
        for health in &self.health {
            check_roles(&health.roles, "health")?;
            if health.url.is_none() == health.command.is_empty() {
                return Err("health: give either url or command".into());
            }
            if health.url.as_deref().is_some_and(|u| !u.starts_with("http://") && !u.starts_with("{{")) {
                return Err("health: url must start with http:// (use a command for https)".into());
            }
        }
        Ok(())
    }
}
