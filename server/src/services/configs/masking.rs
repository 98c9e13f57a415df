//! Secrets never appear in a diff, a job log or an error: every place that shows text made from
//! a revision passes it through a [`Masker`] holding that revision's secret values. Templates
//! may have escaped a secret (JSON, URL encoding), so those forms are masked too.

use zeroize::Zeroizing;

use crate::services::stacks::settings::MASK;

pub struct Masker {
    /// Longest first, so a secret that contains another is masked whole.
    forms: Vec<Zeroizing<String>>,
}

impl Masker {
    pub fn new(secrets: &[Zeroizing<String>]) -> Self {
        let mut forms = Vec::new();
        for secret in secrets.iter().filter(|s| !s.is_empty()) {
            forms.push(secret.clone());
            let json = serde_json::to_string(secret.as_str()).unwrap_or_default();
            forms.push(Zeroizing::new(json.trim_matches('"').to_owned()));
            forms.push(Zeroizing::new(url::form_urlencoded::byte_serialize(secret.as_bytes()).collect()));
            forms.push(Zeroizing::new(
                url::form_urlencoded::byte_serialize(secret.as_bytes()).collect::<String>().replace('+', "%20"),
            ));
        }
        forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
        forms.dedup_by(|a, b| a.as_str() == b.as_str());
        Self { forms }
    }

    pub fn merge(mut self, other: Self) -> Self {
        self.forms.extend(other.forms);
        self.forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
        self
    }

    pub fn mask(&self, text: &str) -> String {
        let mut masked = text.to_owned();
        for form in &self.forms {
            if masked.contains(form.as_str()) {
                masked = masked.replace(form.as_str(), MASK);
            }
        }
        masked
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked_raw_escaped_and_url_encoded() {
        let masker = Masker::new(&[Zeroizing::new("p@ss \"word\"/x".to_owned())]);
        let text =
            "raw=p@ss \"word\"/x json=\"p@ss \\\"word\\\"/x\" url=p%40ss+%22word%22%2Fx pct=p%40ss%20%22word%22%2Fx";
        let masked = masker.mask(text);
        assert!(!masked.contains("word"), "{masked}");
        assert_eq!(masked.matches(MASK).count(), 4, "{masked}");
    }
}
