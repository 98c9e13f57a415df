//! The YAML form of an inventory: `all` with `hosts`, `vars` and `children`, nested.

use std::collections::BTreeMap;

use super::ini::expand;
use super::*;
use serde_yaml_ng::{Mapping, Value};

pub(super) fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => Some(String::new()),
        _ => None,
    }
}

/// The first line mentioning `key:`, for errors found after parsing.
pub(super) fn line_of(text: &str, key: &str) -> usize {
    let needle = format!("{key}:");
    text.lines().position(|l| l.trim_start().starts_with(&needle)).map_or(1, |i| i + 1)
}

pub(super) fn parse_yaml(text: &str) -> Result<Tree, ParseError> {
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

pub(super) fn yaml_vars(text: &str, owner: &str, value: &Value) -> Result<BTreeMap<String, String>, ParseError> {
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

pub(super) fn yaml_group(text: &str, tree: &mut Tree, name: &Value, group: &Value) -> Result<(), ParseError> {
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
