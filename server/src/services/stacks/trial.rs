//! Trial renders: a stack rendered with an example (or sample values) before anyone uses it,
//! from `steward stacks check` and the stack pages.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{
    HostView, InstanceView, RenderContext, SettingSpec, SettingType, Stack, StudyView, manifest, settings, slug,
};

/// An example to render a stack with: settings as the form would send them, and hosts.
#[derive(serde::Deserialize)]
struct Example {
    #[serde(default)]
    settings: toml::Table,
    #[serde(default)]
    hosts: Vec<ExampleHost>,
}

#[derive(serde::Deserialize)]
struct ExampleHost {
    name: String,
    roles: Vec<String>,
    #[serde(default)]
    address: String,
}

/// Settings written as TOML values (an example file) as the form would send them: lists one item
/// per line.
pub fn form_of(settings: &toml::Table) -> BTreeMap<String, String> {
    settings
        .iter()
        .map(|(name, value)| {
            let text = match value {
                toml::Value::String(s) => s.clone(),
                toml::Value::Array(items) => items.iter().filter_map(|i| i.as_str()).collect::<Vec<_>>().join("\n"),
                other => other.to_string(),
            };
            (name.clone(), text)
        })
        .collect()
}

/// A value of the right type for a setting that has none.
fn sample(spec: &SettingSpec) -> String {
    match spec.kind {
        SettingType::Integer => spec.min.unwrap_or(1).to_string(),
        SettingType::Boolean => "false".into(),
        SettingType::Choice => spec.choices.first().cloned().unwrap_or_default(),
        SettingType::Url => format!("{}://example.org/", spec.schemes.first().map_or("https", String::as_str)),
        SettingType::Email => "admin@example.org".into(),
        SettingType::Port => "8080".into(),
        SettingType::Path => "/srv/example".into(),
        SettingType::Hostname => "example.org".into(),
        SettingType::Secret => "example-secret".into(),
        SettingType::String | SettingType::Text | SettingType::List => "example".into(),
    }
}

/// Renders a stack for a trial: with `example` (TOML: `[settings]` and `[[hosts]]`), or with its
/// defaults plus a sample value for each other setting on one host per role. Says what it
/// rendered, or the first problem.
pub fn trial_render(stack: &Stack, example: Option<&str>) -> Result<String, String> {
    let example: Example = match example {
        Some(text) => toml::from_str(text).map_err(|err| format!("example: {err}"))?,
        None => Example { settings: toml::Table::new(), hosts: vec![] },
    };
    let mut form = form_of(&example.settings);
    if example.settings.is_empty() {
        for spec in stack.manifest.settings.iter().filter(|s| s.required && s.default.is_none()) {
            form.insert(spec.name.clone(), sample(spec));
        }
    }
    let sampled = example.settings.is_empty();
    let checked = settings::check_form(&stack.manifest.settings, &form, &|_| false).map_err(|errors| {
        let list = errors.iter().map(|e| format!("setting {}: {}", e.field, e.message)).collect::<Vec<_>>().join("; ");
        if sampled { format!("{list} (give an example with values for these settings)") } else { list }
    })?;
    let mut values = checked.values;
    values.extend(checked.new_secrets.into_iter().map(|(k, v)| (k, Value::from(v))));
    let mut hosts: Vec<HostView> = example
        .hosts
        .into_iter()
        .map(|h| HostView { name: h.name, address: h.address, port: 22, user: "deploy".into(), roles: h.roles })
        .collect();
    if hosts.is_empty() {
        hosts = manifest::ROLES[..4]
            .iter()
            .enumerate()
            .map(|(i, role)| HostView {
                name: format!("{role}1"),
                address: format!("10.0.0.{}", i + 1),
                port: 22,
                user: "deploy".into(),
                roles: vec![(*role).to_owned()],
            })
            .collect();
    }
    let ctx = RenderContext {
        settings: values,
        instance: InstanceView {
            name: "Example (production)".into(),
            slug: slug("Example (production)"),
            environment: "production".into(),
            base_url: "https://example.org".into(),
            tags: vec![],
            stack: stack.manifest.name.clone(),
        },
        study: StudyView { name: "Example study".into() },
        hosts: hosts.clone(),
    };
    let mut lines = Vec::new();
    for host in &hosts {
        let at = |err: String| format!("{} ({}): {err}", host.name, host.roles.join(", "));
        let files = stack.render_host(&ctx, host).map_err(at)?;
        stack.services_for(&ctx, host).map_err(at)?;
        stack.health_for(&ctx, host).map_err(at)?;
        lines.push(format!("{} ({}): {} file(s)", host.name, host.roles.join(", "), files.len()));
    }
    Ok(lines.join("\n"))
}

/// The realistic example of every shipped stack (the browser tests' data) passes the form's
/// checks and renders for each of its hosts.
#[cfg(test)]
mod examples {
    use std::path::Path;

    use super::super::{Stacks, slug};
    use super::*;

    #[test]
    fn shipped_stacks_render_their_examples() {
        let stacks = Stacks::load(Path::new("/nonexistent"));
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../e2e/data/stacks");
        for name in ["emission", "camcops", "inloop", "dcor"] {
            let stack = stacks.get(name).unwrap_or_else(|| panic!("{name} is shipped"));
            let text = std::fs::read_to_string(dir.join(format!("{name}.toml"))).unwrap();
            let report = trial_render(&stack, Some(&text)).unwrap_or_else(|err| panic!("{name}: {err}"));
            assert!(report.contains("file(s)"), "{report}");
        }
        let generic = stacks.get("generic").unwrap();
        assert!(trial_render(&generic, None).unwrap().contains("web"));
        assert_eq!(slug("Clinic A (prod)"), "clinic-a-prod");
    }

    #[test]
    fn an_operator_folder_adds_a_stack_or_replaces_a_shipped_one() {
        let data = tempfile::tempdir().unwrap();
        let folder = data.path().join("stacks/site");
        std::fs::create_dir_all(folder.join("templates")).unwrap();
        std::fs::write(
            folder.join("stack.toml"),
            "name = \"site\"\ntitle = \"Site\"\n[[files]]\npath = \"/etc/site\"\ntemplate = \"site.j2\"\n",
        )
        .unwrap();
        std::fs::write(folder.join("templates/site.j2"), "{{ instance.name }}\n").unwrap();
        let broken = data.path().join("stacks/broken");
        std::fs::create_dir_all(&broken).unwrap();
        std::fs::write(broken.join("stack.toml"), "name = \"broken\"\n").unwrap();
        let stacks = Stacks::load(data.path());
        assert!(stacks.get("site").unwrap().source.ends_with("stacks/site"));
        assert!(stacks.get("generic").is_some(), "the shipped ones stay");
        assert_eq!(stacks.broken.len(), 1);
        assert!(stacks.broken[0].1.contains("title"), "{:?}", stacks.broken);
    }
}
