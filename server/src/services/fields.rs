//! What people type for the inventory, checked: names and notes kept as given but bounded,
//! addresses, ports, SSH users, roles and tags parsed into their types. Shared by the forms
//! and the Ansible import, so both refuse the same things with the same words.

use std::net::IpAddr;

use steward_frontend::contract::{HostInput, HostRole, InstanceInput, Stack};

use crate::services::error::Error;

type Result<T> = std::result::Result<T, Error>;

/// Free text: kept as given, but not blank and not endless.
pub fn text(field: &str, label: &str, value: &str, max: usize) -> Result<String> {
    if value.trim().is_empty() {
        return Err(Error::invalid(field, format!("Enter {label}")));
    }
    if value.chars().count() > max {
        return Err(Error::invalid(field, format!("Use at most {max} characters")));
    }
    Ok(value.to_owned())
}

pub fn optional_text(field: &str, value: &str, max: usize) -> Result<String> {
    if value.chars().count() > max {
        return Err(Error::invalid(field, format!("Use at most {max} characters")));
    }
    Ok(value.to_owned())
}

/// A DNS name, an IPv4 or an IPv6 address (brackets allowed around IPv6).
pub fn parse_address(raw: &str) -> Result<String> {
    let value = raw.trim();
    let bare = value.strip_prefix('[').and_then(|v| v.strip_suffix(']')).unwrap_or(value);
    if bare.is_empty() {
        return Err(Error::invalid("address", "Enter a DNS name or an IP address"));
    }
    if bare.parse::<IpAddr>().is_ok() {
        return Ok(bare.to_owned());
    }
    let valid_label = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    let name = bare.strip_suffix('.').unwrap_or(bare);
    if name.len() <= 253
        && name.split('.').all(valid_label)
        && !name.split('.').all(|l| l.chars().all(|c| c.is_ascii_digit()))
    {
        return Ok(name.to_ascii_lowercase());
    }
    Err(Error::invalid("address", format!("{value:?} is not a DNS name, IPv4 or IPv6 address")))
}

pub fn parse_port(raw: &str) -> Result<u16> {
    let value = raw.trim();
    if value.is_empty() {
        return Ok(22);
    }
    match value.parse::<u32>() {
        Ok(port) if (1..=65535).contains(&port) => Ok(u16::try_from(port).unwrap_or(22)),
        _ => Err(Error::invalid("ssh_port", format!("{value:?} is not a port (1 to 65535)"))),
    }
}

/// A POSIX user name, as sshd accepts it.
pub fn parse_ssh_user(raw: &str) -> Result<String> {
    let value = raw.trim();
    let valid = !value.is_empty()
        && value.len() <= 32
        && value.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && value.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-' | '.'));
    if valid {
        Ok(value.to_owned())
    } else {
        Err(Error::invalid("ssh_user", format!("{value:?} is not a user name (lower-case letters, digits, _ - .)")))
    }
}

pub fn parse_roles(raw: &str) -> Result<Vec<HostRole>> {
    let mut roles = Vec::new();
    for word in raw.split([',', ' ']).map(str::trim).filter(|w| !w.is_empty()) {
        let role = HostRole::parse(&word.to_ascii_lowercase()).ok_or_else(|| {
            Error::invalid("roles", format!("{word:?} is not a role; use web, analysis, database, notebook or all"))
        })?;
        if !roles.contains(&role) {
            roles.push(role);
        }
    }
    if roles.is_empty() {
        return Err(Error::invalid("roles", "Give the host at least one role"));
    }
    roles.sort();
    Ok(roles)
}

pub fn parse_tags(raw: &str) -> Result<Vec<String>> {
    let mut tags: Vec<String> = Vec::new();
    for word in raw.split([',', ' ']).map(str::trim).filter(|w| !w.is_empty()) {
        let tag = word.to_lowercase();
        if tag.chars().count() > 40
            || !tag.chars().all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '='))
        {
            return Err(Error::invalid(
                "tags",
                format!("{word:?} is not a tag (letters, digits, - _ . : =; at most 40)"),
            ));
        }
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    if tags.len() > 30 {
        return Err(Error::invalid("tags", "Use at most 30 tags"));
    }
    tags.sort();
    Ok(tags)
}

pub fn parse_base_url(raw: &str) -> Result<String> {
    let value = raw.trim();
    if value.is_empty() {
        return Ok(String::new());
    }
    let rest = value.strip_prefix("https://").or_else(|| value.strip_prefix("http://"));
    match rest {
        Some(host)
            if !host.is_empty()
                && !value.chars().any(|c| c.is_whitespace() || c.is_control() || c == '"' || c == '<') =>
        {
            Ok(value.to_owned())
        }
        _ => Err(Error::invalid("base_url", format!("{value:?} is not an http(s) URL"))),
    }
}

pub fn optional_id(field: &str, raw: &str) -> Result<Option<i64>> {
    let value = raw.trim();
    if value.is_empty() {
        return Ok(None);
    }
    value.parse().map(Some).map_err(|_| Error::invalid(field, "Choose one from the list"))
}

/// Cleans a one-per-line list: blank lines dropped, duplicates removed, each line checked.
pub fn watch_list(field: &str, text: &str, check: impl Fn(&str) -> std::result::Result<(), String>) -> Result<String> {
    let mut lines: Vec<&str> = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        check(line).map_err(|message| Error::invalid(field, message))?;
        if !lines.contains(&line) {
            lines.push(line);
        }
    }
    if lines.len() > 100 {
        return Err(Error::invalid(field, "Watch at most 100 entries per host"));
    }
    Ok(lines.join("\n"))
}

/// An instance's fields, checked. Whether its stack is one Steward loaded is the inventory's
/// to say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceSpec {
    pub name: String,
    pub stack: Stack,
    pub environment: String,
    pub base_url: String,
    pub notes: String,
    pub tags: Vec<String>,
}

impl InstanceSpec {
    /// The instance form, parsed.
    pub fn from_form(input: &InstanceInput) -> Result<Self> {
        let stack = Stack::parse(input.stack.trim())
            .ok_or_else(|| Error::invalid("stack", format!("Choose a stack: {}", Stack::SHIPPED.join(", "))))?;
        Self {
            name: input.name.clone(),
            stack,
            environment: input.environment.clone(),
            base_url: parse_base_url(&input.base_url)?,
            notes: input.notes.clone(),
            tags: parse_tags(&input.tags)?,
        }
        .checked()
    }

    /// The spec as the store writes it.
    pub fn fields(&self) -> crate::store::InstanceFields<'_> {
        crate::store::InstanceFields {
            name: &self.name,
            stack: self.stack.as_str(),
            environment: &self.environment,
            base_url: &self.base_url,
            notes: &self.notes,
            tags: &self.tags,
        }
    }

    /// The fields' lengths and forms checked (an import builds the spec itself).
    pub fn checked(self) -> Result<Self> {
        text("name", "a name", &self.name, 200)?;
        text("environment", "an environment (production, staging, ...)", &self.environment, 40)?;
        optional_text("notes", &self.notes, 20_000)?;
        parse_tags(&self.tags.join(","))?;
        Ok(self)
    }
}

/// A host's fields, checked. The key and the jump host are ids the inventory checks against
/// the host's study.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostSpec {
    pub name: String,
    pub roles: Vec<HostRole>,
    pub address: String,
    pub port: u16,
    pub user: String,
    pub credential: Option<i64>,
    pub jump: Option<i64>,
}

impl HostSpec {
    /// The host form, parsed.
    pub fn from_form(input: &HostInput) -> Result<Self> {
        Ok(Self {
            name: text("name", "a name", &input.name, 200)?,
            roles: parse_roles(&input.roles)?,
            address: parse_address(&input.address)?,
            port: parse_port(&input.ssh_port)?,
            user: parse_ssh_user(&input.ssh_user)?,
            credential: optional_id("credential", &input.credential)?,
            jump: optional_id("jump_host", &input.jump_host)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_dns_names_or_ip_addresses() {
        assert_eq!(parse_address("DB.Example.org").unwrap(), "db.example.org");
        assert_eq!(parse_address("10.0.0.7").unwrap(), "10.0.0.7");
        assert_eq!(parse_address("[2001:db8::1]").unwrap(), "2001:db8::1");
        for bad in ["", "a b", "host;reboot", "$(id)", "-x.org", "300.1.1.1", "ex_ample.org", "`x`"] {
            assert!(parse_address(bad).unwrap_err().for_field("address").is_some(), "{bad:?} accepted");
        }
    }

    #[test]
    fn ports_users_roles_and_tags_are_checked() {
        assert_eq!(parse_port("").unwrap(), 22);
        assert_eq!(parse_port("2222").unwrap(), 2222);
        for bad in ["0", "65536", "ssh", "-1"] {
            assert!(parse_port(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_ssh_user("emission").unwrap(), "emission");
        assert!(parse_ssh_user("root; rm").is_err());
        assert_eq!(parse_roles("web, database web").unwrap(), vec![HostRole::Web, HostRole::Database]);
        assert!(parse_roles("").is_err());
        assert!(parse_roles("webserver").unwrap_err().to_string().contains("webserver"));
        assert_eq!(parse_tags("EU, pilot pilot").unwrap(), vec!["eu", "pilot"]);
        assert!(parse_tags("<b>").is_err());
    }
}
