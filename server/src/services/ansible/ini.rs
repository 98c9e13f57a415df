//! The INI form of an inventory: groups in brackets, `host key=value`, `:vars` and `:children`
//! sections, and ranges like `web[01:10]`.

use std::collections::BTreeMap;

use super::*;

/// Splits `a=1 b='two words' c="x"` like a shell would, without running one.
pub(super) fn split_words(line: &str, number: usize) -> Result<Vec<String>, ParseError> {
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

pub(super) fn key_values(words: &[String], number: usize) -> Result<BTreeMap<String, String>, ParseError> {
    words
        .iter()
        .map(|word| match word.split_once('=') {
            Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
            _ => Err(ParseError { line: number, message: format!("expected key=value, found {word:?}") }),
        })
        .collect()
}

/// Expands `web[01:03].example.org` into three names; names without a range pass through.
pub(super) fn expand(pattern: &str, number: usize) -> Result<Vec<String>, ParseError> {
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

pub(super) fn parse_ini(text: &str) -> Result<Tree, ParseError> {
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
