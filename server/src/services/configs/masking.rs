//! Secrets never appear in a diff, a job log, an error or a job summary.
//!
//! Nothing is masked by guessing how a template encoded a secret (templates double `%`, escape
//! JSON, URL-encode...). Instead every revision is rendered twice: once with the real values,
//! written only to hosts, and once with each secret replaced by an inert placeholder that every
//! filter leaves as it is (upper-case letters and digits). Whatever Steward shows is made from
//! the second render, lined up with the first: a diff compares the real texts (so a changed
//! secret shows as a changed line) and prints the placeholder lines, with each placeholder
//! written as `********`.
//!
//! Text that comes from a host (a check's output, a live file edited by hand) cannot be rendered
//! twice. For it, [`Masker`] knows each secret's exact forms, read off the two renders (the text
//! that stands where the placeholder stands), and hides every *whole line* holding one: masking
//! inside a line would tell a short secret's letters (`inc` in `include`).

use std::borrow::Cow;
use std::collections::HashMap;

use rand_core::{OsRng, RngCore};
use zeroize::Zeroizing;

use crate::services::stacks::RenderedFile;
use crate::services::stacks::settings::MASK;

/// What a hidden line of host output or of a live file is shown as.
pub const HIDDEN_LINE: &str = "******** (a line holding a secret setting is hidden)";

/// A revision's secret values and the placeholders that stand for them in the shown render.
pub struct Secrets {
    /// The placeholders' common stem: `STEWARDSECRET<random>`; each adds its number and `Z`.
    stem: String,
    values: Vec<Zeroizing<String>>,
}

impl Default for Secrets {
    fn default() -> Self {
        Self::new()
    }
}

impl Secrets {
    pub fn new() -> Self {
        const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXY0123456789";
        let mut random = [0u8; 12];
        OsRng.fill_bytes(&mut random);
        let nonce: String = random.iter().map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()])).collect();
        Self { stem: format!("STEWARDSECRET{nonce}"), values: Vec::new() }
    }

    /// Keeps `value` and returns its placeholder.
    pub fn add(&mut self, value: Zeroizing<String>) -> String {
        self.values.push(value);
        format!("{}{}Z", self.stem, self.values.len())
    }

    /// `text` of the shown render as people see it: every placeholder becomes `********`.
    pub fn display(&self, text: &str) -> String {
        if !text.contains(&self.stem) {
            return text.to_owned();
        }
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(at) = rest.find(&self.stem) {
            out.push_str(&rest[..at]);
            let after = &rest[at + self.stem.len()..];
            let digits = after.bytes().take_while(u8::is_ascii_digit).count();
            if digits > 0 && after.as_bytes().get(digits) == Some(&b'Z') {
                out.push_str(MASK);
                rest = &after[digits + 1..];
            } else {
                out.push_str(&self.stem);
                rest = after;
            }
        }
        out.push_str(rest);
        out
    }

    /// Splits a line of the shown render at its placeholders: the literal text around them.
    fn literals<'a>(&self, line: &'a str) -> Vec<&'a str> {
        let mut parts = Vec::new();
        let mut rest = line;
        while let Some(at) = rest.find(&self.stem) {
            let after = &rest[at + self.stem.len()..];
            let digits = after.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 || after.as_bytes().get(digits) != Some(&b'Z') {
                break;
            }
            parts.push(&rest[..at]);
            rest = &after[digits + 1..];
        }
        parts.push(rest);
        parts
    }

    /// A masker for host output: each secret as typed, plus the exact forms the templates gave
    /// them in `renders` (pairs of real and shown files of one host).
    pub fn masker<'a>(&self, renders: impl IntoIterator<Item = (&'a RenderedFile, &'a RenderedFile)>) -> Masker {
        let mut forms: Vec<Zeroizing<String>> = self.values.iter().filter(|v| !v.is_empty()).cloned().collect();
        for (real, shown) in renders {
            for (real_line, shown_line) in real.content.lines().zip(shown.content.lines()) {
                if real_line != shown_line {
                    forms.extend(self.forms_in(real_line, shown_line));
                }
            }
        }
        Masker::new(forms)
    }

    /// The text standing in `real` where `shown` has placeholders (the literals around them
    /// are the same in both lines).
    fn forms_in(&self, real: &str, shown: &str) -> Vec<Zeroizing<String>> {
        let literals = self.literals(shown);
        if literals.len() < 2 {
            return Vec::new();
        }
        let pattern: String = literals.iter().map(|l| regex::escape(l)).collect::<Vec<_>>().join("(.*?)");
        let Ok(re) = regex::Regex::new(&format!("^{pattern}$")) else { return Vec::new() };
        let Some(captures) = re.captures(real) else { return Vec::new() };
        captures
            .iter()
            .skip(1)
            .flatten()
            .map(|m| m.as_str())
            .filter(|form| !form.is_empty())
            .map(|form| Zeroizing::new(form.to_owned()))
            .collect()
    }
}

/// Hides the lines of host output that hold a secret in one of its known forms.
#[derive(Default)]
pub struct Masker {
    forms: Vec<Zeroizing<String>>,
}

impl Masker {
    pub fn new(mut forms: Vec<Zeroizing<String>>) -> Self {
        forms.retain(|f| !f.is_empty());
        forms.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        forms.dedup_by(|a, b| a.as_str() == b.as_str());
        Self { forms }
    }

    pub fn merge(mut self, other: Self) -> Self {
        let mut forms = std::mem::take(&mut self.forms);
        forms.extend(other.forms);
        Self::new(forms)
    }

    pub fn holds_secret(&self, line: &str) -> bool {
        self.forms.iter().any(|form| line.contains(form.as_str()))
    }

    /// `text` with every line that holds a secret replaced by [`HIDDEN_LINE`].
    pub fn mask(&self, text: &str) -> String {
        if !self.holds_secret(text) {
            return text.to_owned();
        }
        text.split('\n')
            .map(|line| if self.holds_secret(line) { HIDDEN_LINE } else { line })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// One side of a diff: the real text, compared line by line, and what each line is shown as.
pub struct Side<'a> {
    real: Vec<&'a str>,
    shown: Vec<Cow<'a, str>>,
}

impl<'a> Side<'a> {
    /// A file of a render: shown from the placeholder render, line for line. `None` when the
    /// two renders do not line up (a template that branches on a secret's value): the file's
    /// lines cannot be told apart safely.
    pub fn rendered(secrets: &Secrets, real: &'a str, shown: &'a str) -> Option<Self> {
        let real: Vec<&str> = real.split_inclusive('\n').collect();
        let shown: Vec<Cow<'a, str>> = shown.split_inclusive('\n').map(|l| Cow::Owned(secrets.display(l))).collect();
        (real.len() == shown.len()).then_some(Self { real, shown })
    }

    /// A text Steward did not render (a live file): a line a render also has is shown as that
    /// render shows it; any other line holding a secret is hidden whole.
    pub fn live(text: &'a str, known: &LineMap, masker: &Masker) -> Self {
        let real: Vec<&str> = text.split_inclusive('\n').collect();
        let shown = real
            .iter()
            .map(|line| match known.lines.get(*line) {
                Some(shown) => Cow::Owned(shown.clone()),
                None if masker.holds_secret(line) => {
                    Cow::Owned(format!("{HIDDEN_LINE}{}", if line.ends_with('\n') { "\n" } else { "" }))
                }
                None => Cow::Borrowed(*line),
            })
            .collect();
        Self { real, shown }
    }

    pub fn empty() -> Self {
        Self { real: Vec::new(), shown: Vec::new() }
    }
}

/// Real lines of renders that hold a secret, and how each is shown.
#[derive(Default)]
pub struct LineMap {
    lines: HashMap<String, String>,
}

impl LineMap {
    pub fn add(&mut self, secrets: &Secrets, real: &str, shown: &str) {
        if real.split_inclusive('\n').count() != shown.split_inclusive('\n').count() {
            return;
        }
        for (real, shown) in real.split_inclusive('\n').zip(shown.split_inclusive('\n')) {
            if real != shown {
                self.lines.insert(real.to_owned(), secrets.display(shown));
            }
        }
    }
}

/// A unified diff of two sides (empty when their real texts are equal): hunks found on the
/// real lines, printed from the shown ones.
pub fn unified_diff(path: &str, old: &Side<'_>, new: &Side<'_>) -> String {
    use std::fmt::Write as _;
    if old.real == new.real {
        return String::new();
    }
    let diff = similar::TextDiff::configure().diff_slices(&old.real, &new.real);
    let mut out = format!("--- live {path}\n+++ new {path}\n");
    for group in diff.grouped_ops(3) {
        let _ = writeln!(out, "{}", similar::udiff::UnifiedHunkHeader::new(&group));
        for op in &group {
            for change in diff.iter_changes(op) {
                let (sign, line) = match (change.tag(), change.old_index(), change.new_index()) {
                    (similar::ChangeTag::Delete, Some(i), _) => ('-', old.shown.get(i)),
                    (similar::ChangeTag::Insert, _, Some(i)) => ('+', new.shown.get(i)),
                    (_, _, Some(i)) => (' ', new.shown.get(i)),
                    _ => continue,
                };
                let line = line.map_or("", |l| l.as_ref());
                let _ = writeln!(out, "{sign}{}", line.strip_suffix('\n').unwrap_or(line));
                if !line.ends_with('\n') {
                    out.push_str("\\ No newline at end of file\n");
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(content: &str) -> RenderedFile {
        RenderedFile {
            path: "/f".into(),
            content: content.into(),
            mode: None,
            owner: None,
            group: None,
            validate: vec![],
            services: vec![],
        }
    }

    #[test]
    fn placeholders_are_shown_masked_and_exact_forms_are_learned_from_the_render() {
        let mut secrets = Secrets::new();
        let one = secrets.add(Zeroizing::new("p%w<d".into()));
        let two = secrets.add(Zeroizing::new("inc".into()));
        assert!(one.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()), "{one}");
        assert_eq!(secrets.display(&format!("a={one} b={two}")), "a=******** b=********");
        let real = file("url = x:p%%w<d@h\nname = include\n\"t\": \"p%w\\u003cd\"\n");
        let shown = file(&format!("url = x:{one}@h\nname = include\n\"t\": \"{one}\"\n"));
        let masker = secrets.masker([(&real, &shown)]);
        assert!(masker.holds_secret("error near p%%w<d"));
        assert!(masker.holds_secret("\"p%w\\u003cd\""));
        assert_eq!(masker.mask("ok\nbad p%%w<d here\nok"), format!("ok\n{HIDDEN_LINE}\nok"));
        // A short secret hides whole lines, never letters within one.
        assert_eq!(masker.mask("include"), HIDDEN_LINE);
    }

    #[test]
    fn diffs_compare_real_lines_and_print_shown_ones() {
        let mut secrets = Secrets::new();
        let placeholder = secrets.add(Zeroizing::new("new%secret".into()));
        let old_real = "a = 1\nsecret = old%%secret\nb = 2\n";
        let old_shown = format!("a = 1\nsecret = {placeholder}\nb = 2\n");
        let new_real = "a = 1\nsecret = new%%secret\nb = 3\n";
        let new_shown = format!("a = 1\nsecret = {placeholder}\nb = 3\n");
        let old = Side::rendered(&secrets, old_real, &old_shown).unwrap();
        let new = Side::rendered(&secrets, new_real, &new_shown).unwrap();
        let diff = unified_diff("/f", &old, &new);
        for line in ["-secret = ********\n", "+secret = ********\n", "-b = 2\n", "+b = 3\n", " a = 1\n"] {
            assert!(diff.contains(line), "{line:?} in {diff}");
        }
        assert!(!diff.contains("secret = old") && !diff.contains("new%"), "{diff}");

        // A live file: lines a render has are shown as rendered; others holding a secret hidden.
        let mut known = LineMap::default();
        known.add(&secrets, old_real, &old_shown);
        let masker = Masker::new(vec![Zeroizing::new("hand%typed".into())]);
        let live_text = "a = 1\nsecret = old%%secret\nextra = hand%typed\nb = 2\n";
        let live = Side::live(live_text, &known, &masker);
        let diff = unified_diff("/f", &live, &new);
        assert!(diff.contains("-secret = ********\n"), "{diff}");
        assert!(diff.contains(&format!("-{HIDDEN_LINE}\n")), "{diff}");
        assert!(!diff.contains("old%") && !diff.contains("hand%"), "{diff}");
        assert!(unified_diff("/f", &new, &Side::rendered(&secrets, new_real, &new_shown).unwrap()).is_empty());
    }
}
