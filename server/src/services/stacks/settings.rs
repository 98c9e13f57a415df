//! Typed settings: what an admin types into the form, checked against the manifest, becomes a
//! JSON value per setting (secrets go to the vault instead, see `configs`).

use std::collections::BTreeMap;

use serde_json::Value;
use steward_frontend::contract::FieldError;

use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SettingType {
    String,
    Text,
    Integer,
    Boolean,
    Choice,
    Url,
    Email,
    Port,
    Path,
    Hostname,
    List,
    Secret,
}

impl SettingType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Text => "text",
            Self::Integer => "integer",
            Self::Boolean => "boolean",
            Self::Choice => "choice",
            Self::Url => "url",
            Self::Email => "email",
            Self::Port => "port",
            Self::Path => "path",
            Self::Hostname => "hostname",
            Self::List => "list",
            Self::Secret => "secret",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingSpec {
    pub name: String,
    #[serde(default)]
    pub label: String,
    #[serde(rename = "type")]
    pub kind: SettingType,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub default: Option<toml::Value>,
    #[serde(default)]
    pub help: String,
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub pattern: Option<String>,
    #[serde(default)]
    pub pattern_help: String,
    #[serde(default)]
    pub min: Option<i64>,
    #[serde(default)]
    pub max: Option<i64>,
    #[serde(default)]
    pub choices: Vec<String>,
    #[serde(default)]
    pub schemes: Vec<String>,
}

impl SettingSpec {
    pub fn label(&self) -> String {
        if self.label.is_empty() { self.name.replace('_', " ") } else { self.label.clone() }
    }
}

/// What a secret looks like wherever it is shown.
pub const MASK: &str = "********";

fn is_hostname(text: &str) -> bool {
    if text.parse::<std::net::IpAddr>().is_ok() {
        return true;
    }
    !text.is_empty()
        && text.len() <= 253
        && text.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

fn is_email(text: &str) -> bool {
    text.parse::<lettre::Address>().is_ok()
}

fn check_length(spec: &SettingSpec, count: usize, unit: &str) -> Result<(), String> {
    if let Some(min) = spec.min.filter(|&min| (count as i64) < min) {
        return Err(format!("Use at least {min} {unit}"));
    }
    if let Some(max) = spec.max.filter(|&max| (count as i64) > max) {
        return Err(format!("Use at most {max} {unit}"));
    }
    Ok(())
}

fn check_pattern(spec: &SettingSpec, text: &str) -> Result<(), String> {
    let Some(pattern) = &spec.pattern else { return Ok(()) };
    let matches = regex::Regex::new(pattern).map(|re| re.is_match(text)).unwrap_or(false);
    if matches {
        Ok(())
    } else if spec.pattern_help.is_empty() && spec.kind == SettingType::Secret {
        // Never echo a secret back.
        Err(format!("The value does not have the expected form ({pattern})"))
    } else if spec.pattern_help.is_empty() {
        Err(format!("{text:?} does not have the expected form ({pattern})"))
    } else {
        Err(spec.pattern_help.clone())
    }
}

/// Parses what was typed for one setting; `None` when it was left empty.
pub fn parse_value(spec: &SettingSpec, raw: &str) -> Result<Option<Value>, String> {
    let text = if spec.kind == SettingType::Text { raw.trim_end() } else { raw.trim() };
    if text.is_empty() && spec.kind != SettingType::Boolean {
        return Ok(None);
    }
    let one_line = |text: &str| {
        if text.contains(['\n', '\r']) { Err("Use one line".to_owned()) } else { Ok(()) }
    };
    let value = match spec.kind {
        SettingType::String | SettingType::Secret => {
            one_line(text)?;
            check_length(spec, text.chars().count(), "characters")?;
            check_pattern(spec, text)?;
            Value::from(text)
        }
        SettingType::Text => {
            check_length(spec, text.chars().count(), "characters")?;
            Value::from(text.replace("\r\n", "\n"))
        }
        SettingType::Integer => {
            let number: i64 = text.parse().map_err(|_| format!("{text:?} is not a whole number"))?;
            if let Some(min) = spec.min.filter(|&min| number < min) {
                return Err(format!("Use {min} or more"));
            }
            if let Some(max) = spec.max.filter(|&max| number > max) {
                return Err(format!("Use {max} or less"));
            }
            Value::from(number)
        }
        SettingType::Port => match text.parse::<u16>() {
            Ok(port) if port > 0 => Value::from(port),
            _ => return Err(format!("{text:?} is not a port (1–65535)")),
        },
        SettingType::Boolean => match text {
            "true" | "on" | "yes" | "1" => Value::Bool(true),
            "" | "false" | "off" | "no" | "0" => Value::Bool(false),
            _ => return Err(format!("{text:?} is not yes or no")),
        },
        SettingType::Choice => {
            if !spec.choices.iter().any(|c| c == text) {
                return Err(format!("Choose one of: {}", spec.choices.join(", ")));
            }
            Value::from(text)
        }
        SettingType::Url => {
            // URL parsing quietly drops tabs and line breaks; refuse them instead, and keep the
            // parsed form, so nothing typed reaches a request line or a file raw.
            if text.chars().any(char::is_control) {
                return Err("A URL cannot hold line breaks, tabs or other control characters".into());
            }
            let url = url::Url::parse(text).map_err(|err| format!("{text:?} is not a URL: {err}"))?;
            if !spec.schemes.is_empty() && !spec.schemes.iter().any(|s| s == url.scheme()) {
                return Err(format!("Use a {} URL", spec.schemes.join(" or ")));
            }
            let normalised = url.as_str();
            // A bare origin is kept as typed (`https://example.org`, not `.../`).
            let normalised =
                if !text.ends_with('/') && url.path() == "/" && url.query().is_none() && url.fragment().is_none() {
                    normalised.trim_end_matches('/')
                } else {
                    normalised
                };
            check_pattern(spec, normalised)?;
            Value::from(normalised)
        }
        SettingType::Email => {
            if !is_email(text) {
                return Err(format!("{text:?} is not a mail address"));
            }
            Value::from(text)
        }
        SettingType::Path => {
            one_line(text)?;
            if !text.starts_with('/') || text.contains('\0') {
                return Err(format!("{text:?} is not an absolute path"));
            }
            check_pattern(spec, text)?;
            Value::from(text)
        }
        SettingType::Hostname => {
            if !is_hostname(text) {
                return Err(format!("{text:?} is not a host name or IP address"));
            }
            Value::from(text)
        }
        SettingType::List => {
            let items: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
            check_length(spec, items.len(), "items")?;
            for item in &items {
                check_pattern(spec, item)?;
            }
            Value::from(items)
        }
    };
    Ok(Some(value))
}

/// A manifest default as a setting value (checked like typed input).
pub fn default_value(spec: &SettingSpec) -> Option<Value> {
    let default = spec.default.as_ref()?;
    let raw = match default {
        toml::Value::String(s) => s.clone(),
        toml::Value::Array(items) => {
            items.iter().map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned)).collect::<Vec<_>>().join("\n")
        }
        other => other.to_string(),
    };
    parse_value(spec, &raw).ok().flatten()
}

pub fn check_default(spec: &SettingSpec, default: &toml::Value) -> Result<(), String> {
    if spec.kind == SettingType::Secret {
        return Err("secrets cannot have a default".into());
    }
    let spec = SettingSpec { default: Some(default.clone()), ..spec.clone() };
    if default_value(&spec).is_none() {
        let raw = match default {
            toml::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        return Err(parse_value(&spec, &raw).err().unwrap_or_else(|| "empty".into()));
    }
    Ok(())
}

/// How a stored value is shown in the form again.
pub fn form_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("\n"),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The outcome of checking a whole form.
pub struct Checked {
    /// Every non-secret setting that has a value (typed in, or the default).
    pub values: BTreeMap<String, Value>,
    /// Secrets typed in now (the others keep their stored value).
    pub new_secrets: BTreeMap<String, String>,
}

/// Checks every field at once, so the form shows every problem together.
pub fn check_form(
    specs: &[SettingSpec],
    input: &BTreeMap<String, String>,
    stored_secrets: &dyn Fn(&str) -> bool,
) -> Result<Checked, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut checked = Checked { values: BTreeMap::new(), new_secrets: BTreeMap::new() };
    for spec in specs {
        let raw = input.get(&spec.name).map_or("", String::as_str);
        match parse_value(spec, raw) {
            Err(message) => errors.push(FieldError { field: spec.name.clone(), message }),
            Ok(Some(value)) if spec.kind == SettingType::Secret => {
                checked.new_secrets.insert(spec.name.clone(), form_text(&value));
            }
            Ok(Some(value)) => {
                checked.values.insert(spec.name.clone(), value);
            }
            Ok(None) => {
                let present = if spec.kind == SettingType::Secret {
                    stored_secrets(&spec.name)
                } else if let Some(default) = default_value(spec) {
                    checked.values.insert(spec.name.clone(), default);
                    true
                } else {
                    false
                };
                if spec.required && !present {
                    errors.push(FieldError { field: spec.name.clone(), message: format!("Enter {}", spec.label()) });
                }
            }
        }
    }
    if let Some(unknown) = input.keys().find(|k| !specs.iter().any(|s| &s.name == *k)) {
        errors.push(FieldError { field: unknown.clone(), message: format!("This stack has no setting {unknown:?}") });
    }
    if errors.is_empty() { Ok(checked) } else { Err(errors) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(kind: &str, extra: &str) -> SettingSpec {
        toml::from_str(&format!("name = \"x\"\ntype = \"{kind}\"\n{extra}")).unwrap()
    }

    #[test]
    fn typed_values_are_checked_with_messages_a_person_can_act_on() {
        assert_eq!(parse_value(&spec("port", ""), "8080").unwrap(), Some(Value::from(8080)));
        assert!(parse_value(&spec("port", ""), "80800").unwrap_err().contains("not a port"));
        assert!(parse_value(&spec("integer", "min = 1\nmax = 4"), "9").unwrap_err().contains("4 or less"));
        assert!(parse_value(&spec("url", "schemes = [\"https\"]"), "http://x").unwrap_err().contains("https"));
        // A line break would reach a request line (health checks) or a file raw: refused, and
        // what is kept is the parsed form.
        assert!(parse_value(&spec("url", ""), "http://h/\r\nHost: evil").unwrap_err().contains("line breaks"));
        assert_eq!(parse_value(&spec("url", ""), "http://H/a b").unwrap(), Some(Value::from("http://h/a%20b")));
        assert_eq!(parse_value(&spec("url", ""), "https://x.org").unwrap(), Some(Value::from("https://x.org")));
        assert!(parse_value(&spec("email", ""), "not-mail").unwrap_err().contains("mail address"));
        assert!(parse_value(&spec("path", ""), "relative/x").unwrap_err().contains("absolute"));
        assert!(parse_value(&spec("hostname", ""), "bad host").is_err());
        assert_eq!(parse_value(&spec("hostname", ""), "10.0.0.5").unwrap(), Some(Value::from("10.0.0.5")));
        assert!(parse_value(&spec("choice", "choices = [\"a\", \"b\"]"), "c").unwrap_err().contains("a, b"));
        let pattern = spec("string", "pattern = \"^[a-z]+$\"\npattern_help = \"Lowercase letters only\"");
        assert_eq!(parse_value(&pattern, "Abc").unwrap_err(), "Lowercase letters only");
        assert_eq!(parse_value(&spec("list", ""), "a\n\n b \n").unwrap(), Some(Value::from(vec!["a", "b"])));
        assert_eq!(parse_value(&spec("boolean", ""), "").unwrap(), Some(Value::Bool(false)));
        assert_eq!(parse_value(&spec("string", ""), "  ").unwrap(), None);
    }

    #[test]
    fn a_form_reports_every_bad_field_at_once_and_keeps_stored_secrets() {
        let specs = vec![
            spec("port", "required = true"),
            SettingSpec { name: "y".into(), ..spec("secret", "required = true") },
            SettingSpec { name: "z".into(), ..spec("integer", "default = 3") },
        ];
        let input = BTreeMap::from([("x".to_owned(), "nope".to_owned())]);
        let errors = check_form(&specs, &input, &|_| false).err().unwrap();
        assert_eq!(errors.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(), ["x", "y"]);
        let input = BTreeMap::from([("x".to_owned(), "22".to_owned())]);
        let checked = check_form(&specs, &input, &|name| name == "y").ok().unwrap();
        assert_eq!(checked.values["z"], Value::from(3));
        assert!(checked.new_secrets.is_empty());
    }
}
