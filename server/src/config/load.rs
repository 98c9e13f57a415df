//! Loading the configuration: typed defaults, then the file, then `STEWARD_*` variables
//! (`__` for nesting, `*_FILE` to read a value from a file), each checked against the
//! defaults' shape.

use std::collections::BTreeMap;
use std::path::Path;

use super::{Config, ConfigError};

/// Variables under the prefix that are not settings: the config file's path, and the build
/// scripts' bundle directory and agent binary (see `server/build.rs`).
const NOT_SETTINGS: &[&str] = &["STEWARD_CONFIG", "STEWARD_SITE_DIR", "STEWARD_AGENT_BIN"];

/// The effective configuration and what was noticed while loading it.
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    /// Shown once logging is set up (unknown variables and the like).
    pub warnings: Vec<String>,
}

/// Loads defaults, then `file` (if given), then the `STEWARD_*` variables of `env`.
pub fn load(file: Option<&Path>, env: &BTreeMap<String, String>) -> Result<Loaded, ConfigError> {
    let defaults = toml::Value::try_from(Config::default())
        .map_err(|err| ConfigError::new("defaults", err.to_string(), "This is a bug in Steward."))?;
    let mut merged = defaults.clone();
    let mut warnings = Vec::new();

    if let Some(path) = file {
        let text = std::fs::read_to_string(path).map_err(|err| {
            ConfigError::new(
                "--config / STEWARD_CONFIG",
                format!("cannot read {}: {err}", path.display()),
                "Point it at a readable TOML file, or leave it unset to use defaults.",
            )
        })?;
        let table: toml::Table = text.parse().map_err(|err: toml::de::Error| {
            ConfigError::new(
                path.display().to_string(),
                format!("is not valid TOML: {}", err.message()),
                "Fix the file; `steward config check` shows the result.",
            )
        })?;
        merge(&mut merged, toml::Value::Table(table));
    }

    for (name, value) in env.iter().filter(|(name, _)| name.starts_with("STEWARD_")) {
        if NOT_SETTINGS.contains(&name.as_str()) {
            continue;
        }
        match apply_env(&defaults, &mut merged, name, value)? {
            true => {}
            false => warnings.push(format!("ignoring unknown environment variable {name}")),
        }
    }

    let mut config: Config = merged.try_into().map_err(|err: toml::de::Error| {
        ConfigError::new(
            file.map_or("configuration".into(), |p| p.display().to_string()),
            err.message().to_owned(),
            "Check the setting's name and type against the configuration reference in the README.",
        )
    })?;
    config.fill_derived();
    config.validate()?;
    Ok(Loaded { config, warnings })
}

/// Sets one `STEWARD_A__B` variable; false when it names no setting.
fn apply_env(defaults: &toml::Value, merged: &mut toml::Value, name: &str, text: &str) -> Result<bool, ConfigError> {
    let path: Vec<String> = name["STEWARD_".len()..].split("__").map(str::to_ascii_lowercase).collect();
    if let Some(template) = lookup(defaults, &path) {
        let value = typed(template, text).ok_or_else(|| {
            ConfigError::new(
                name,
                format!("{text:?} is not a valid {}", template.type_str()),
                format!("Set {name} to a {}.", template.type_str()),
            )
        })?;
        set(merged, &path, value);
        return Ok(true);
    }
    // NAME_FILE: the value is the content of that file (for secrets).
    let mut path = path;
    let Some(last) = path.last_mut().and_then(|l| l.strip_suffix("_file").map(str::to_owned)) else {
        return Ok(false);
    };
    if let Some(p) = path.last_mut() {
        *p = last;
    }
    let Some(template) = lookup(defaults, &path) else {
        return Ok(false);
    };
    let content = std::fs::read_to_string(text)
        .map_err(|err| ConfigError::new(name, format!("cannot read {text}: {err}"), "Point it at a readable file."))?;
    let content = content.trim_end_matches(['\n', '\r']);
    let value = typed(template, content).ok_or_else(|| {
        ConfigError::new(
            name,
            format!("the file {text} does not hold a valid {}", template.type_str()),
            "Fix the file's content.",
        )
    })?;
    set(merged, &path, value);
    Ok(true)
}

fn lookup<'a>(value: &'a toml::Value, path: &[String]) -> Option<&'a toml::Value> {
    path.iter().try_fold(value, |v, key| v.as_table()?.get(key)).filter(|v| !v.is_table())
}

fn set(value: &mut toml::Value, path: &[String], new: toml::Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut at = value;
    for key in parents {
        let Some(table) = at.as_table_mut() else {
            return;
        };
        at = table.entry(key.clone()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
    }
    if let Some(table) = at.as_table_mut() {
        table.insert(last.clone(), new);
    }
}

/// Reads environment text as the type of the default value.
fn typed(template: &toml::Value, text: &str) -> Option<toml::Value> {
    Some(match template {
        toml::Value::String(_) => toml::Value::String(text.to_owned()),
        toml::Value::Integer(_) => toml::Value::Integer(text.trim().parse().ok()?),
        toml::Value::Float(_) => toml::Value::Float(text.trim().parse().ok()?),
        toml::Value::Boolean(_) => match text.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => toml::Value::Boolean(true),
            "false" | "0" | "no" | "off" => toml::Value::Boolean(false),
            _ => return None,
        },
        _ => return None,
    })
}

fn merge(base: &mut toml::Value, over: toml::Value) {
    match (base, over) {
        (toml::Value::Table(base), toml::Value::Table(over)) => {
            for (key, value) in over {
                match base.get_mut(&key) {
                    Some(existing) => merge(existing, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (base, over) => *base = over,
    }
}

#[cfg(test)]
mod tests {
    use super::super::LogFormat;
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn defaults_give_sqlite_in_the_data_dir_on_localhost() {
        let loaded = load(None, &env(&[])).unwrap();
        assert_eq!(loaded.config.database.url.expose(), "sqlite://./data/steward.db");
        assert_eq!(loaded.config.server.base_url, "http://127.0.0.1:8080");
        assert!(loaded.warnings.is_empty());
    }

    #[test]
    fn file_then_environment_win_over_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("steward.toml");
        std::fs::write(&file, "[server]\nbind = \"127.0.0.1:9000\"\n[log]\nformat = \"json\"\n").unwrap();
        let loaded = load(
            Some(&file),
            &env(&[("STEWARD_SERVER__BIND", "127.0.0.1:9100"), ("STEWARD_AUTH__MIN_PASSWORD_LENGTH", "16")]),
        )
        .unwrap();
        assert_eq!(loaded.config.server.bind, "127.0.0.1:9100");
        assert_eq!(loaded.config.log.format, LogFormat::Json);
        assert_eq!(loaded.config.auth.min_password_length, 16);
    }

    #[test]
    fn file_variant_reads_secrets_from_files() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("db-url");
        std::fs::write(&secret, "postgres://steward:s3cret@db.internal/steward\n").unwrap();
        let loaded = load(None, &env(&[("STEWARD_DATABASE__URL_FILE", secret.to_str().unwrap())])).unwrap();
        assert_eq!(loaded.config.database.url.expose(), "postgres://steward:s3cret@db.internal/steward");
        let shown = format!("{:?} {}", loaded.config, loaded.config.to_redacted_toml());
        assert!(!shown.contains("s3cret"), "secret leaked: {shown}");
        assert!(shown.contains("postgres://steward:[redacted]@db.internal/steward"));
    }

    #[test]
    fn unknown_variables_warn_and_bad_values_name_the_setting() {
        let loaded = load(None, &env(&[("STEWARD_SERVR__BIND", "x")])).unwrap();
        assert_eq!(loaded.warnings, vec!["ignoring unknown environment variable STEWARD_SERVR__BIND"]);

        let err = load(None, &env(&[("STEWARD_DATABASE__URL", "mysql://localhost/x")])).unwrap_err();
        assert_eq!(err.setting, "database.url");
        assert!(err.to_string().contains("unknown scheme \"mysql\""), "{err}");

        let err = load(None, &env(&[("STEWARD_DATABASE__MAX_CONNECTIONS", "many")])).unwrap_err();
        assert_eq!(err.setting, "STEWARD_DATABASE__MAX_CONNECTIONS");

        let err = load(None, &env(&[("STEWARD_SERVER__BIND", "localhost")])).unwrap_err();
        assert_eq!(err.setting, "server.bind");
    }

    #[test]
    fn unknown_keys_in_the_file_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("steward.toml");
        std::fs::write(&file, "[server]\nbnd = \"x\"\n").unwrap();
        let err = load(Some(&file), &env(&[])).unwrap_err();
        assert!(err.to_string().contains("unknown field `bnd`"), "{err}");
        let missing = load(Some(&dir.path().join("nope.toml")), &env(&[])).unwrap_err();
        assert!(missing.to_string().contains("cannot read"), "{missing}");
    }
}
