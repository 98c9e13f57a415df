//! Stacks: folders of a manifest plus templates (see `server/stacks/README.md`). The shipped
//! folders are compiled into the binary; an operator's folders in `<data_dir>/stacks/` are read
//! at start and win over a shipped one of the same name. Each stack's template environment is
//! built once, when it is loaded.

mod folders;
pub mod manifest;
pub mod settings;
mod trial;

use std::collections::{BTreeMap, HashSet};

use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::Serialize;
use serde_json::Value;
use steward_frontend::contract::StackSummary;

pub use self::folders::{Stacks, read_folder};
pub use self::manifest::{FileSpec, Format, HealthSpec, Manifest, ServiceSpec, SettingSpec, SettingType, applies};
pub use self::trial::{form_of, trial_render};

/// Work one render may do (minijinja instructions): ample for any configuration file, and a
/// stop for a template that loops without end.
const RENDER_FUEL: u64 = 5_000_000;
/// Largest file a template may produce.
pub const MAX_RENDERED_BYTES: usize = 4 * 1024 * 1024;

/// Collects a rendered file, refusing to grow past [`MAX_RENDERED_BYTES`].
#[derive(Default)]
struct Capped {
    bytes: Vec<u8>,
    overflowed: bool,
}

impl std::io::Write for Capped {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.bytes.len() + buf.len() > MAX_RENDERED_BYTES {
            self.overflowed = true;
            return Err(std::io::Error::other("rendered file too large"));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// One loaded stack.
pub struct Stack {
    pub manifest: Manifest,
    /// `shipped` or the folder it was read from.
    pub source: String,
    env: Environment<'static>,
}

impl std::fmt::Debug for Stack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stack").field("name", &self.manifest.name).field("source", &self.source).finish()
    }
}

/// A host as templates see it.
#[derive(Debug, Clone, Serialize)]
pub struct HostView {
    pub name: String,
    pub address: String,
    pub port: i64,
    pub user: String,
    pub roles: Vec<String>,
}

/// Everything a template may use besides the host it renders for.
#[derive(Debug, Clone, Serialize)]
pub struct RenderContext {
    pub settings: BTreeMap<String, Value>,
    pub instance: InstanceView,
    pub study: StudyView,
    pub hosts: Vec<HostView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct InstanceView {
    pub name: String,
    /// The name made safe for paths and program names: lowercase letters, digits and `-`.
    pub slug: String,
    pub environment: String,
    pub base_url: String,
    pub tags: Vec<String>,
    pub stack: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct StudyView {
    pub name: String,
}

/// A file rendered for one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedFile {
    pub path: String,
    pub content: String,
    pub mode: Option<u32>,
    pub owner: Option<String>,
    pub group: Option<String>,
    /// The check to run on the uploaded copy (`staged` already filled in).
    pub validate: Vec<String>,
    pub services: Vec<String>,
}

/// `Clinic A (prod)` → `clinic-a-prod`.
pub fn slug(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let slug = slug.trim_end_matches('-');
    if slug.is_empty() { "instance".to_owned() } else { slug.chars().take(60).collect() }
}

/// Where a staged copy of `path` is uploaded before it is checked and swapped in.
pub fn staged_path(path: &str) -> String {
    format!("{path}.steward-new")
}

fn template_error(err: &minijinja::Error) -> String {
    if err.kind() == minijinja::ErrorKind::OutOfFuel {
        let at = err.name().map(|name| format!(" ({name}:{})", err.line().unwrap_or(0))).unwrap_or_default();
        return format!("the templates do too much work (a loop without end?) and were stopped{at}");
    }
    // The debug feature appends the template name and line to the message.
    let mut message = err.to_string();
    if let Some(line) = err.line()
        && let Some(name) = err.name()
        && !message.contains(&format!("{name}:{line}"))
    {
        message = format!("{message} ({name}:{line})");
    }
    message
}

impl Stack {
    /// Builds a stack from its folder's files (`stack.toml` and `templates/...`).
    pub fn load(folder: &str, files: BTreeMap<String, String>, source: &str) -> Result<Self, String> {
        let text = files.get("stack.toml").ok_or("stack.toml is missing")?;
        let manifest: Manifest = toml::from_str(text).map_err(|err| format!("stack.toml: {err}"))?;
        manifest.check(folder).map_err(|err| format!("stack.toml: {err}"))?;
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_keep_trailing_newline(true);
        env.set_auto_escape_callback(|_| AutoEscape::None);
        env.set_fuel(Some(RENDER_FUEL));
        for (path, content) in &files {
            if let Some(name) = path.strip_prefix("templates/") {
                env.add_template_owned(name.to_owned(), content.clone())
                    .map_err(|err| format!("templates/{name}: {}", template_error(&err)))?;
            }
        }
        for file in &manifest.files {
            env.get_template(&file.template).map_err(|_| {
                format!("file {:?}: templates/{} does not exist in the folder", file.path, file.template)
            })?;
            for text in std::iter::once(&file.path).chain(&file.validate) {
                env.template_from_str(text).map_err(|err| format!("file {:?}: {}", file.path, template_error(&err)))?;
            }
            if let Some(when) = &file.when {
                env.compile_expression(when)
                    .map_err(|err| format!("file {:?}: when: {}", file.path, template_error(&err)))?;
            }
        }
        Ok(Self { manifest, source: source.to_owned(), env })
    }

    /// The summary as `admin` (or anyone else) may see it: others learn only whether the stack
    /// is shipped or an operator's folder, not the server's paths.
    pub fn summary_for(&self, admin: bool) -> StackSummary {
        let mut summary = self.summary();
        if !admin && summary.source != "shipped" {
            summary.source = "local folder".into();
        }
        summary
    }

    pub fn summary(&self) -> StackSummary {
        StackSummary {
            name: self.manifest.name.clone(),
            title: self.manifest.title.clone(),
            description: self.manifest.description.clone(),
            source: self.source.clone(),
            files: self.manifest.files.len(),
            settings: self.manifest.settings.len(),
        }
    }

    /// Names of the secret settings.
    pub fn secret_names(&self) -> impl Iterator<Item = &str> {
        self.manifest.settings.iter().filter(|s| s.kind == SettingType::Secret).map(|s| s.name.as_str())
    }

    /// The template context: every declared setting (unset ones as `none`).
    fn context(&self, ctx: &RenderContext, host: &HostView) -> minijinja::Value {
        let mut settings = ctx.settings.clone();
        for spec in &self.manifest.settings {
            settings.entry(spec.name.clone()).or_insert(Value::Null);
        }
        let mut by_role: BTreeMap<&str, Vec<&HostView>> = BTreeMap::new();
        for role in manifest::ROLES {
            by_role
                .insert(role, ctx.hosts.iter().filter(|h| h.roles.iter().any(|r| r == role || r == "all")).collect());
        }
        minijinja::context! {
            settings => settings,
            instance => &ctx.instance,
            study => &ctx.study,
            host => host,
            hosts => &ctx.hosts,
            hosts_by_role => by_role,
        }
    }

    fn render_str(&self, text: &str, context: &minijinja::Value, what: &str) -> Result<String, String> {
        self.env.render_str(text, context).map_err(|err| format!("{what}: {}", template_error(&err)))
    }

    /// Renders a command's arguments. An argument that is exactly `{{ expression }}` whose value
    /// is a list (a `list` setting) becomes that many arguments, so admins can declare whole
    /// commands as settings without anything ever passing through a shell.
    fn render_argv(&self, args: &[String], context: &minijinja::Value, what: &str) -> Result<Vec<String>, String> {
        let mut argv = Vec::new();
        for arg in args {
            let trimmed = arg.trim();
            let whole = trimmed
                .strip_prefix("{{")
                .and_then(|rest| rest.strip_suffix("}}"))
                .filter(|inner| !inner.contains("{{") && !inner.contains("}}"));
            if let Some(expression) = whole {
                let value = self
                    .env
                    .compile_expression(expression)
                    .and_then(|e| e.eval(context))
                    .map_err(|err| format!("{what}: {}", template_error(&err)))?;
                if value.kind() == minijinja::value::ValueKind::Seq {
                    for item in value.try_iter().map_err(|err| format!("{what}: {err}"))? {
                        argv.push(item.to_string());
                    }
                    continue;
                }
                if value.is_none() || value.is_undefined() {
                    continue;
                }
            }
            argv.push(self.render_str(arg, context, what)?);
        }
        Ok(argv)
    }

    fn condition(&self, when: Option<&String>, context: &minijinja::Value, what: &str) -> Result<bool, String> {
        let Some(when) = when else { return Ok(true) };
        self.env
            .compile_expression(when)
            .and_then(|e| e.eval(context))
            .map(|v| v.is_true())
            .map_err(|err| format!("{what}: when: {}", template_error(&err)))
    }

    /// Renders every file that applies to `host`, checking declared formats.
    pub fn render_host(&self, ctx: &RenderContext, host: &HostView) -> Result<Vec<RenderedFile>, String> {
        let context = self.context(ctx, host);
        let mut rendered = Vec::new();
        let mut paths = HashSet::new();
        for file in self.manifest.files.iter().filter(|f| applies(&f.roles, &host.roles)) {
            if !self.condition(file.when.as_ref(), &context, &format!("file {:?}", file.path))? {
                continue;
            }
            let path = self.render_str(&file.path, &context, &format!("path of {}", file.template))?.trim().to_owned();
            if !path.starts_with('/') || path.contains("/../") || path.ends_with('/') {
                return Err(format!("{}: the path renders to {path:?}, not an absolute file path", file.template));
            }
            if !paths.insert(path.clone()) {
                return Err(format!("{path} is rendered by two files of the stack"));
            }
            let mut out = Capped::default();
            let outcome =
                self.env.get_template(&file.template).and_then(|t| t.render_captured_to(&context, &mut out).map(drop));
            if out.overflowed {
                return Err(format!("{path}: the template renders more than {} MiB", MAX_RENDERED_BYTES >> 20));
            }
            outcome.map_err(|err| template_error(&err))?;
            let content =
                String::from_utf8(out.bytes).map_err(|_| format!("{path}: the template renders invalid UTF-8"))?;
            if let Some(format) = file.format {
                check_format(format, &content).map_err(|err| format!("{path}: {err}"))?;
            }
            let staged = minijinja::Value::from(staged_path(&path));
            let with_staged = minijinja::context! { staged => staged, ..context.clone() };
            let validate = self.render_argv(&file.validate, &with_staged, &format!("validate of {path}"))?;
            rendered.push(RenderedFile {
                path,
                content,
                mode: file.mode_bits(),
                owner: file.owner.clone(),
                group: file.group.clone(),
                validate,
                services: file.services.clone(),
            });
        }
        Ok(rendered)
    }

    /// The services of this stack that run on `host`, in the manifest's order, as argv lists
    /// already rendered.
    pub fn services_for(&self, ctx: &RenderContext, host: &HostView) -> Result<Vec<ServiceCommands>, String> {
        let context = self.context(ctx, host);
        let mut services = Vec::new();
        for s in self.manifest.services.iter().filter(|s| applies(&s.roles, &host.roles)) {
            if !self.condition(s.when.as_ref(), &context, &format!("service {}", s.name))? {
                continue;
            }
            services.push(ServiceCommands {
                name: s.name.clone(),
                check: self.render_argv(&s.check, &context, &format!("check of {}", s.name))?,
                reload: self.render_argv(&s.reload, &context, &format!("reload of {}", s.name))?,
            });
        }
        Ok(services)
    }

    /// The health checks that apply to `host`, rendered.
    pub fn health_for(&self, ctx: &RenderContext, host: &HostView) -> Result<Vec<HealthCheck>, String> {
        let context = self.context(ctx, host);
        let mut checks = Vec::new();
        for h in self.manifest.health.iter().filter(|h| applies(&h.roles, &host.roles)) {
            if !self.condition(h.when.as_ref(), &context, "health")? {
                continue;
            }
            let command = self.render_argv(&h.command, &context, "health command")?;
            let url = h.url.as_ref().map(|u| self.render_str(u, &context, "health url")).transpose()?;
            if url.is_none() && command.is_empty() {
                continue;
            }
            let label = url.clone().unwrap_or_else(|| command.join(" "));
            checks.push(HealthCheck {
                label,
                url,
                expect_status: h.expect_status,
                expect_body: h.expect_body.as_ref().map(|b| self.render_str(b, &context, "health body")).transpose()?,
                command,
                retries: h.retries.unwrap_or(5).max(1),
                interval_secs: h.interval_secs.unwrap_or(1),
            });
        }
        Ok(checks)
    }
}

#[derive(Debug, Clone)]
pub struct ServiceCommands {
    pub name: String,
    pub check: Vec<String>,
    pub reload: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct HealthCheck {
    /// What the check is called in logs: its URL or command (with secrets masked once the
    /// revision's placeholder render has been applied, see `configs`).
    pub label: String,
    pub url: Option<String>,
    pub expect_status: Option<u16>,
    pub expect_body: Option<String>,
    pub command: Vec<String>,
    pub retries: u32,
    pub interval_secs: u64,
}

/// Parses rendered content in its declared format, so a syntax error never reaches a host.
pub fn check_format(format: Format, content: &str) -> Result<(), String> {
    match format {
        Format::Json => {
            serde_json::from_str::<serde_json::Value>(content).map(drop).map_err(|e| format!("not JSON: {e}"))
        }
        Format::Toml => toml::from_str::<toml::Table>(content).map(drop).map_err(|e| format!("not TOML: {e}")),
        Format::Ini => ini::Ini::load_from_str_noescape(content).map(drop).map_err(|e| format!("not INI: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn folder(manifest: &str, templates: &[(&str, &str)]) -> BTreeMap<String, String> {
        let mut files = BTreeMap::from([("stack.toml".to_owned(), manifest.to_owned())]);
        for (name, text) in templates {
            files.insert(format!("templates/{name}"), (*text).to_owned());
        }
        files
    }

    fn context(settings: Value) -> (RenderContext, HostView) {
        let host = HostView {
            name: "web1".into(),
            address: "10.0.0.1".into(),
            port: 22,
            user: "deploy".into(),
            roles: vec!["web".into()],
        };
        let db =
            HostView { name: "db1".into(), address: "10.0.0.9".into(), roles: vec!["database".into()], ..host.clone() };
        let ctx = RenderContext {
            settings: serde_json::from_value(settings).unwrap(),
            instance: InstanceView {
                name: "prod".into(),
                slug: "prod".into(),
                environment: "production".into(),
                base_url: String::new(),
                tags: vec![],
                stack: "t".into(),
            },
            study: StudyView { name: "Study".into() },
            hosts: vec![host.clone(), db],
        };
        (ctx, host)
    }

    const MANIFEST: &str = r#"
name = "t"
title = "Test"
[[settings]]
name = "port"
type = "port"
default = 8080
[[settings]]
name = "extra"
type = "boolean"
[[files]]
path = "/etc/t/{{ instance.name }}.json"
template = "t.json.j2"
format = "json"
validate = ["check", "{{ staged }}"]
services = ["t"]
[[files]]
path = "/etc/t/extra"
template = "extra.j2"
when = "settings.extra"
[[files]]
path = "/etc/t/db-only"
template = "extra.j2"
roles = ["database"]
[[services]]
name = "t"
reload = ["systemctl", "reload", "t@{{ instance.name }}"]
"#;

    #[test]
    fn files_render_per_host_role_and_condition_with_formats_checked() {
        let files = folder(
            MANIFEST,
            &[
                ("t.json.j2", "{\"port\": {{ settings.port }}, \"db\": \"{{ hosts_by_role.database[0].address }}\"}\n"),
                ("extra.j2", "x\n"),
            ],
        );
        let stack = Stack::load("t", files, "test").unwrap();
        let (ctx, host) = context(serde_json::json!({"port": 9000, "extra": false}));
        let rendered = stack.render_host(&ctx, &host).unwrap();
        assert_eq!(rendered.len(), 1, "the condition and the role leave one file");
        assert_eq!(rendered[0].path, "/etc/t/prod.json");
        assert_eq!(rendered[0].content, "{\"port\": 9000, \"db\": \"10.0.0.9\"}\n");
        assert_eq!(rendered[0].validate, ["check", "/etc/t/prod.json.steward-new"]);
        let services = stack.services_for(&ctx, &host).unwrap();
        assert_eq!(services[0].reload, ["systemctl", "reload", "t@prod"]);
        let (ctx, host) = context(serde_json::json!({"port": 9000, "extra": true}));
        assert_eq!(stack.render_host(&ctx, &host).unwrap().len(), 2);
    }

    #[test]
    fn mistakes_in_a_folder_are_reported_with_where_they_are() {
        let broken = folder(MANIFEST, &[("t.json.j2", "{{ settings.prot }}"), ("extra.j2", "x")]);
        let stack = Stack::load("t", broken, "test").unwrap();
        let (ctx, host) = context(serde_json::json!({"port": 1}));
        let err = stack.render_host(&ctx, &host).unwrap_err();
        assert!(err.contains("t.json.j2"), "{err}");
        let bad_json = folder(MANIFEST, &[("t.json.j2", "{port: }"), ("extra.j2", "x")]);
        let err = Stack::load("t", bad_json, "test").unwrap().render_host(&ctx, &host).unwrap_err();
        assert!(err.contains("not JSON"), "{err}");
        let syntax = folder(MANIFEST, &[("t.json.j2", "{% if %}"), ("extra.j2", "x")]);
        assert!(Stack::load("t", syntax, "test").unwrap_err().contains("templates/t.json.j2"));
        let missing = folder(MANIFEST, &[("t.json.j2", "x")]);
        assert!(Stack::load("t", missing, "test").unwrap_err().contains("extra.j2 does not exist"));
        let undeclared = folder(&MANIFEST.replace("services = [\"t\"]", "services = [\"u\"]"), &[]);
        assert!(Stack::load("t", undeclared, "test").unwrap_err().contains("\"u\" is not declared"));
        assert!(Stack::load("other", folder(MANIFEST, &[]), "test").unwrap_err().contains("folder's name"));
    }

    #[test]
    fn every_shipped_stack_loads() {
        let stacks = Stacks::load(Path::new("/nonexistent"));
        assert!(stacks.broken.is_empty(), "{:?}", stacks.broken);
        for name in ["emission", "camcops", "inloop", "dcor", "generic"] {
            assert!(stacks.get(name).is_some(), "{name} is shipped");
        }
    }
}
