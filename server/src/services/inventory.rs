//! The inventory: studies and their members, instances, hosts. Validates what people type,
//! keeps names and notes exactly as given (they are shown escaped and never reach a shell),
//! and audits every change.

use std::collections::BTreeMap;
use std::net::IpAddr;

use steward_frontend::contract::{
    DeletionPreview, FleetSummary, HostHealth, HostInput, HostRole, HostSummary, ImportReport, InstanceInput,
    InstanceQuery, InstanceSummary, Member, NamedRef, Page, PlannedHost, PlannedInstance, Skipped, Stack, StudyRole,
    StudySummary,
};

use crate::clock::SharedClock;
use crate::services::audit::{Actor, Audit};
use crate::services::error::{Error, OrNotFound};
use crate::services::{ansible, fleet};
use crate::store::{HostFields, HostRow, InstanceFields, InstanceFilter, InstanceRow, InstanceSort, Store, StoreError};
use crate::store::{StudyRow, Viewer};

type Result<T> = std::result::Result<T, Error>;

pub const INSTANCES_PER_PAGE: u32 = 50;

/// Free text: kept as given, but not blank and not endless.
fn text(field: &str, label: &str, value: &str, max: usize) -> Result<String> {
    if value.trim().is_empty() {
        return Err(Error::invalid(field, format!("Enter {label}")));
    }
    if value.chars().count() > max {
        return Err(Error::invalid(field, format!("Use at most {max} characters")));
    }
    Ok(value.to_owned())
}

fn optional_text(field: &str, value: &str, max: usize) -> Result<String> {
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

fn parse_base_url(raw: &str) -> Result<String> {
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

fn optional_id(field: &str, raw: &str) -> Result<Option<i64>> {
    let value = raw.trim();
    if value.is_empty() {
        return Ok(None);
    }
    value.parse().map(Some).map_err(|_| Error::invalid(field, "Choose one from the list"))
}

fn study_summary(row: StudyRow) -> StudySummary {
    StudySummary {
        id: row.id,
        my_role: row.my_role.as_deref().and_then(StudyRole::parse),
        name: row.name,
        description: row.description,
        contact: row.contact,
        instance_count: row.instance_count,
        host_count: row.host_count,
    }
}

fn instance_summary(row: InstanceRow, tags: &mut BTreeMap<i64, Vec<String>>) -> InstanceSummary {
    InstanceSummary {
        tags: tags.remove(&row.id).unwrap_or_default(),
        id: row.id,
        study_id: row.study_id,
        study_name: row.study_name,
        name: row.name,
        stack: Stack::stored(row.stack.clone()),
        environment: row.environment,
        base_url: row.base_url,
        status: row.status,
        host_count: row.host_count,
        fleet: FleetSummary::default(),
    }
}

/// A host's fields after every check, ready to store.
struct CheckedHost {
    name: String,
    roles: Vec<&'static str>,
    address: String,
    port: u16,
    user: String,
    credential: Option<i64>,
    jump: Option<i64>,
}

/// Cleans a one-per-line list: blank lines dropped, duplicates removed, each line checked.
fn watch_list(field: &str, text: &str, check: impl Fn(&str) -> std::result::Result<(), String>) -> Result<String> {
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

/// Removing a jump host would cut off the hosts behind it.
fn refuse_if_jumped_through(dependants: i64, whose: &str, name: &str) -> Result<()> {
    if dependants > 0 {
        return Err(Error::Invalid {
            field: None,
            message: format!(
                "{dependants} host(s) {whose}reach their server through {name}; change their jump host first"
            ),
        });
    }
    Ok(())
}

fn text_check_defaults(defaults: &ansible::Defaults) -> Result<()> {
    text("instance", "an instance name", &defaults.instance, 200)?;
    text("environment", "an environment", &defaults.environment, 40)?;
    parse_ssh_user(&defaults.ssh_user)?;
    Ok(())
}

#[derive(Clone, Debug)]
pub struct Inventory {
    store: Store,
    clock: SharedClock,
    audit: Audit,
    /// Names of the stacks that loaded (shipped and the operator's): what an instance may run.
    stacks: Vec<String>,
}

impl Inventory {
    pub fn new(store: Store, clock: SharedClock, audit: Audit, stacks: Vec<String>) -> Self {
        Self { store, clock, audit, stacks }
    }

    // --- studies ---------------------------------------------------------------------------

    /// The studies the viewer may see. A researcher learns a study's name and nothing more.
    pub async fn studies(&self, viewer: Viewer) -> Result<Vec<StudySummary>> {
        let admin = viewer.is_admin;
        Ok(self
            .store
            .list_studies(viewer)
            .await?
            .into_iter()
            .map(study_summary)
            .map(|study| match study.my_role {
                Some(StudyRole::Researcher) if !admin => StudySummary {
                    description: String::new(),
                    contact: String::new(),
                    instance_count: 0,
                    host_count: 0,
                    ..study
                },
                _ => study,
            })
            .collect())
    }

    pub async fn study(&self, id: i64, user_id: i64) -> Result<StudySummary> {
        self.store.study(id, user_id).await.map(study_summary).or_not_found("The study")
    }

    pub async fn create_study(
        &self,
        actor: &Actor,
        name: &str,
        description: &str,
        contact: &str,
    ) -> Result<StudySummary> {
        let name = text("name", "a name", name, 200)?;
        let description = optional_text("description", description, 10_000)?;
        let contact = optional_text("contact", contact, 500)?;
        let id = self.store.insert_study(&name, &description, &contact, self.clock.now()).await.map_err(
            |err| match err {
                StoreError::Conflict(_) => Error::conflict("name", format!("A study named {name:?} already exists")),
                other => Error::from(other),
            },
        )?;
        self.audit.record(actor, "study.created", &format!("study {name}"), "").await;
        self.study(id, actor.user_id.unwrap_or_default()).await
    }

    pub async fn update_study(
        &self,
        actor: &Actor,
        id: i64,
        name: &str,
        description: &str,
        contact: &str,
    ) -> Result<()> {
        let before = self.study(id, 0).await?;
        let name = text("name", "a name", name, 200)?;
        let description = optional_text("description", description, 10_000)?;
        let contact = optional_text("contact", contact, 500)?;
        self.store.update_study(id, &name, &description, &contact, self.clock.now()).await.map_err(
            |err| match err {
                StoreError::Conflict(_) => Error::conflict("name", format!("A study named {name:?} already exists")),
                other => Error::not_found_or("The study", other),
            },
        )?;
        let detail = if before.name == name { String::new() } else { format!("renamed from {}", before.name) };
        self.audit.record(actor, "study.updated", &format!("study {name}"), &detail).await;
        Ok(())
    }

    pub async fn study_deletion(&self, id: i64) -> Result<DeletionPreview> {
        let study = self.study(id, 0).await?;
        Ok(DeletionPreview { name: study.name, instances: study.instance_count, hosts: study.host_count })
    }

    /// Deletes a study and all it holds, once the caller typed its name.
    pub async fn delete_study(&self, actor: &Actor, id: i64, confirm: &str) -> Result<()> {
        let preview = self.study_deletion(id).await?;
        if confirm != preview.name {
            return Err(Error::invalid("confirm", format!("Type the study's name, {:?}, to delete it", preview.name)));
        }
        self.store.delete_study(id).await.or_not_found("The study")?;
        let detail = format!("with {} instance(s) and {} host(s)", preview.instances, preview.hosts);
        self.audit.record(actor, "study.deleted", &format!("study {}", preview.name), &detail).await;
        Ok(())
    }

    pub async fn members(&self, study_id: i64) -> Result<Vec<Member>> {
        Ok(self
            .store
            .members(study_id)
            .await?
            .into_iter()
            .map(|m| Member {
                user_id: m.user_id,
                username: m.username,
                display_name: m.display_name,
                role: StudyRole::parse(&m.role).unwrap_or(StudyRole::Viewer),
            })
            .collect())
    }

    pub async fn set_member(
        &self,
        actor: &Actor,
        study_id: i64,
        user_id: i64,
        username: &str,
        role: StudyRole,
    ) -> Result<()> {
        let study = self.study(study_id, 0).await?;
        self.store.set_member(study_id, user_id, role.as_str(), self.clock.now()).await?;
        self.audit
            .record(actor, "study.member_set", &format!("study {}", study.name), &format!("{username} as {role}"))
            .await;
        Ok(())
    }

    pub async fn remove_member(&self, actor: &Actor, study_id: i64, user_id: i64) -> Result<()> {
        let study = self.study(study_id, 0).await?;
        let username = self
            .members(study_id)
            .await?
            .into_iter()
            .find(|m| m.user_id == user_id)
            .map(|m| m.username)
            .ok_or_else(|| Error::not_found("The member"))?;
        self.store.remove_member(study_id, user_id).await.or_not_found("The member")?;
        self.audit.record(actor, "study.member_removed", &format!("study {}", study.name), &username).await;
        Ok(())
    }

    // --- instances -------------------------------------------------------------------------

    async fn with_tags(&self, rows: Vec<InstanceRow>) -> Result<Vec<InstanceSummary>> {
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        let mut tags: BTreeMap<i64, Vec<String>> = BTreeMap::new();
        for (id, tag) in self.store.tags_of(&ids).await? {
            tags.entry(id).or_default().push(tag);
        }
        let health = self.store.host_statuses_of_instances(&ids).await?;
        let mut summaries: Vec<InstanceSummary> =
            rows.into_iter().map(|row| instance_summary(row, &mut tags)).collect();
        for summary in &mut summaries {
            let hosts: Vec<HostHealth> = health
                .iter()
                .filter(|row| row.instance_id == summary.id)
                .map(|row| fleet::health(row.host_id, Some(row)))
                .collect();
            let mut fleet = FleetSummary::of(&hosts);
            fleet.never_checked =
                u32::try_from(summary.host_count).unwrap_or(0).saturating_sub(fleet.reachable + fleet.failing);
            summary.fleet = fleet;
        }
        Ok(summaries)
    }

    pub async fn instances(&self, viewer: Viewer, query: &InstanceQuery) -> Result<Page<InstanceSummary>> {
        let (sort, descending) = match query.sort.strip_prefix('-') {
            Some(key) => (key, true),
            None => (query.sort.as_str(), false),
        };
        let sort = match sort {
            "" | "name" => InstanceSort::Name,
            "study" => InstanceSort::Study,
            "stack" => InstanceSort::Stack,
            "environment" => InstanceSort::Environment,
            "status" => InstanceSort::Status,
            other => return Err(Error::invalid("sort", format!("Cannot sort by {other:?}"))),
        };
        let filter = InstanceFilter {
            study: query.study.trim(),
            stack: query.stack.trim(),
            environment: query.environment.trim(),
            tag: &query.tag.trim().to_lowercase(),
            status: query.status.trim(),
            search: query.search.trim(),
            sort,
            descending,
            limit: INSTANCES_PER_PAGE,
            offset: u64::from(query.page) * u64::from(INSTANCES_PER_PAGE),
        };
        let (rows, total) = self.store.list_instances(viewer, &filter).await?;
        Ok(Page { items: self.with_tags(rows).await?, total, page: query.page, per_page: INSTANCES_PER_PAGE })
    }

    pub async fn instances_of_study(&self, study_id: i64) -> Result<Vec<InstanceSummary>> {
        let rows = self.store.instances_of_study(study_id).await?;
        self.with_tags(rows).await
    }

    pub async fn instance(&self, id: i64) -> Result<(InstanceSummary, String)> {
        let row = self.store.instance(id).await.or_not_found("The instance")?;
        let notes = row.notes.clone();
        let mut list = self.with_tags(vec![row]).await?;
        list.pop().map(|summary| (summary, notes)).ok_or_else(|| Error::not_found("The instance"))
    }

    fn instance_fields(&self, input: &InstanceInput) -> Result<(String, Stack, String, String, String, Vec<String>)> {
        let name = text("name", "a name", &input.name, 200)?;
        let stack = Stack::parse(input.stack.trim())
            .filter(|s| self.stacks.iter().any(|k| k == s.as_str()))
            .ok_or_else(|| Error::invalid("stack", format!("Choose a stack: {}", self.stacks.join(", "))))?;
        let environment = text("environment", "an environment (production, staging, ...)", &input.environment, 40)?;
        let base_url = parse_base_url(&input.base_url)?;
        let notes = optional_text("notes", &input.notes, 20_000)?;
        let tags = parse_tags(&input.tags)?;
        Ok((name, stack, environment, base_url, notes, tags))
    }

    pub async fn create_instance(
        &self,
        actor: &Actor,
        study_id: i64,
        input: &InstanceInput,
    ) -> Result<InstanceSummary> {
        let study = self.study(study_id, 0).await?;
        let (name, stack, environment, base_url, notes, tags) = self.instance_fields(input)?;
        let fields = InstanceFields {
            name: &name,
            stack: stack.as_str(),
            environment: &environment,
            base_url: &base_url,
            notes: &notes,
            tags: &tags,
        };
        let id = self.store.insert_instance(study_id, &fields, self.clock.now()).await.map_err(|err| match err {
            StoreError::Conflict(_) => {
                Error::conflict("name", format!("{} already has an instance named {name:?}", study.name))
            }
            other => Error::from(other),
        })?;
        self.audit
            .record(
                actor,
                "instance.created",
                &format!("instance {}/{name}", study.name),
                &format!("{stack}, {environment}"),
            )
            .await;
        Ok(self.instance(id).await?.0)
    }

    pub async fn update_instance(&self, actor: &Actor, id: i64, input: &InstanceInput) -> Result<()> {
        let (before, _) = self.instance(id).await?;
        let (name, stack, environment, base_url, notes, tags) = self.instance_fields(input)?;
        let fields = InstanceFields {
            name: &name,
            stack: stack.as_str(),
            environment: &environment,
            base_url: &base_url,
            notes: &notes,
            tags: &tags,
        };
        self.store.update_instance(id, &fields, self.clock.now()).await.map_err(|err| match err {
            StoreError::Conflict(_) => {
                Error::conflict("name", format!("{} already has an instance named {name:?}", before.study_name))
            }
            other => Error::not_found_or("The instance", other),
        })?;
        self.audit.record(actor, "instance.updated", &format!("instance {}/{name}", before.study_name), "").await;
        Ok(())
    }

    pub async fn instance_deletion(&self, id: i64) -> Result<DeletionPreview> {
        let (instance, _) = self.instance(id).await?;
        Ok(DeletionPreview { name: instance.name, instances: 1, hosts: instance.host_count })
    }

    pub async fn delete_instance(&self, actor: &Actor, id: i64, confirm: &str) -> Result<()> {
        let (instance, _) = self.instance(id).await?;
        if instance.host_count > 0 && confirm != instance.name {
            return Err(Error::invalid(
                "confirm",
                format!(
                    "{} has {} host(s); type its name, {:?}, to delete it with them",
                    instance.name, instance.host_count, instance.name
                ),
            ));
        }
        let dependants = self.store.hosts_jumping_into_instance(id).await?;
        refuse_if_jumped_through(dependants, "of other instances ", &instance.name)?;
        self.store.delete_instance(id).await.or_not_found("The instance")?;
        let target = format!("instance {}/{}", instance.study_name, instance.name);
        self.audit.record(actor, "instance.deleted", &target, &format!("with {} host(s)", instance.host_count)).await;
        Ok(())
    }

    // --- hosts -----------------------------------------------------------------------------

    pub async fn hosts(&self, instance_id: i64) -> Result<Vec<HostSummary>> {
        let rows = self.store.hosts_of_instance(instance_id).await?;
        self.host_summaries(rows).await
    }

    async fn host_summaries(&self, rows: Vec<HostRow>) -> Result<Vec<HostSummary>> {
        let ids: Vec<i64> = rows.iter().map(|h| h.id).collect();
        let mut roles: BTreeMap<i64, Vec<HostRole>> = BTreeMap::new();
        for (id, role) in self.store.roles_of(&ids).await? {
            if let Some(role) = HostRole::parse(&role) {
                roles.entry(id).or_default().push(role);
            }
        }
        Ok(rows
            .into_iter()
            .map(|h| HostSummary {
                roles: roles.remove(&h.id).unwrap_or_default(),
                id: h.id,
                instance_id: h.instance_id,
                name: h.name,
                address: h.address,
                ssh_port: u16::try_from(h.ssh_port).unwrap_or(22),
                ssh_user: h.ssh_user,
                credential: h.credential_id.zip(h.credential_name).map(|(id, name)| NamedRef { id, name }),
                jump_host: h.jump_host_id.zip(h.jump_host_name).map(|(id, name)| NamedRef { id, name }),
            })
            .collect())
    }

    pub async fn host(&self, id: i64) -> Result<HostSummary> {
        let row = self.store.host(id).await.or_not_found("The host")?;
        self.host_summaries(vec![row]).await?.pop().ok_or_else(|| Error::not_found("The host"))
    }

    /// Checks every field, collecting references the form can only name by id.
    async fn host_fields(
        &self,
        actor: &Actor,
        study_id: i64,
        host_id: Option<i64>,
        input: &HostInput,
    ) -> Result<CheckedHost> {
        let name = text("name", "a name", &input.name, 200)?;
        let roles = parse_roles(&input.roles)?;
        let address = parse_address(&input.address)?;
        let port = parse_port(&input.ssh_port)?;
        let user = parse_ssh_user(&input.ssh_user)?;
        let credential = optional_id("credential", &input.credential)?;
        if let Some(id) = credential {
            // One answer for "no such entry" and "not a key": the form offers only SSH keys.
            let not_a_key = || Error::invalid("credential", "Choose an SSH key from the list");
            let row = self.store.credential(id).await.map_err(|err| match err {
                StoreError::NotFound => not_a_key(),
                other => Error::from(other),
            })?;
            if row.kind != "ssh-key" {
                return Err(not_a_key());
            }
            // Keys are shared with studies by admins; choosing one for a host is how an admin
            // shares it. Anyone else picks among the keys shared with the study.
            if !self.store.is_credential_shared(id, study_id).await? {
                if !actor.admin {
                    return Err(Error::invalid(
                        "credential",
                        "That key is not shared with this study; ask an admin to share it",
                    ));
                }
                self.store.share_credential(id, study_id).await?;
                let study = self.store.study(study_id, 0).await?;
                self.audit.record(actor, "credential.shared", &format!("credential {}", row.name), &study.name).await;
            }
        }
        let jump = optional_id("jump_host", &input.jump_host)?;
        if let Some(mut hop) = jump {
            // The jump host must be in the same study, and the chain must not loop back.
            let mut visited = Vec::new();
            loop {
                if Some(hop) == host_id || visited.contains(&hop) {
                    return Err(Error::invalid("jump_host", "A host cannot reach itself through its jump hosts"));
                }
                if visited.len() >= 8 {
                    return Err(Error::invalid("jump_host", "Use at most 8 jump hosts in a row"));
                }
                visited.push(hop);
                let study = self.store.study_of_host(hop).await.map_err(|err| match err {
                    StoreError::NotFound => Error::invalid("jump_host", "That jump host does not exist"),
                    other => Error::from(other),
                })?;
                if study != study_id {
                    return Err(Error::invalid("jump_host", "The jump host must belong to the same study"));
                }
                match self.store.host(hop).await?.jump_host_id {
                    Some(next) => hop = next,
                    None => break,
                }
            }
        }
        let roles = roles.into_iter().map(HostRole::as_str).collect();
        Ok(CheckedHost { name, roles, address, port, user, credential, jump })
    }

    pub async fn add_host(&self, actor: &Actor, instance_id: i64, input: &HostInput) -> Result<HostSummary> {
        let (instance, _) = self.instance(instance_id).await?;
        self.save_host(actor, &instance, None, input).await
    }

    pub async fn update_host(&self, actor: &Actor, host_id: i64, input: &HostInput) -> Result<HostSummary> {
        let before = self.host(host_id).await?;
        let (instance, _) = self.instance(before.instance_id).await?;
        self.save_host(actor, &instance, Some(host_id), input).await
    }

    /// Creates (`existing` is `None`) or changes a host of `instance` after checking `input`.
    async fn save_host(
        &self,
        actor: &Actor,
        instance: &InstanceSummary,
        existing: Option<i64>,
        input: &HostInput,
    ) -> Result<HostSummary> {
        let host = self.host_fields(actor, instance.study_id, existing, input).await?;
        let fields = HostFields {
            name: &host.name,
            address: &host.address,
            ssh_port: host.port,
            ssh_user: &host.user,
            credential_id: host.credential,
            jump_host_id: host.jump,
            roles: &host.roles,
        };
        let failed = |err| match err {
            StoreError::Conflict(_) => {
                Error::conflict("name", format!("{} already has a host named {:?}", instance.name, host.name))
            }
            other => Error::not_found_or("The host", other),
        };
        let now = self.clock.now();
        let (id, action) = match existing {
            None => (self.store.insert_host(instance.id, &fields, now).await.map_err(failed)?, "host.created"),
            Some(id) => {
                let repointed = self.store.update_host(id, &fields, now).await.map_err(failed)?;
                (id, if repointed { "host.repointed" } else { "host.updated" })
            }
        };
        let target = format!("host {}/{}/{}", instance.study_name, instance.name, host.name);
        let mut detail = format!("{}@{}:{} ({})", host.user, host.address, host.port, host.roles.join(", "));
        if action == "host.repointed" {
            detail.push_str("; its trusted host key was dropped: scan and trust the key again");
        }
        self.audit.record(actor, action, &target, &detail).await;
        self.host(id).await
    }

    /// Reads an Ansible inventory and, unless `apply` is false, creates what it describes in
    /// the study: missing instances, and hosts not already there (jump hosts first). A
    /// malformed file imports nothing and names the line.
    pub async fn import_ansible(
        &self,
        actor: &Actor,
        study_id: i64,
        inventory: &str,
        defaults: &ansible::Defaults,
        apply: bool,
    ) -> Result<ImportReport> {
        let study = self.study(study_id, 0).await?;
        text_check_defaults(defaults)?;
        let hosts = ansible::parse(inventory).map_err(|err| Error::invalid("inventory", err.to_string()))?;
        let mut report = ansible::plan(&hosts, defaults);
        if report.instances.is_empty() {
            return Err(Error::invalid("inventory", "The inventory lists no host Steward can use"));
        }
        let existing = self.instances_of_study(study_id).await?;
        // Everything the import would create is checked before anything is: a preview shows
        // the same errors the import would meet.
        for planned in &report.instances {
            self.instance_fields(&Self::planned_input(planned))
                .map_err(|err| Error::invalid("inventory", format!("instance {:?}: {err}", planned.name)))?;
        }
        if !apply {
            for planned in &report.instances {
                if let Some(found) = existing.iter().find(|i| i.name == planned.name) {
                    let present: Vec<String> = self.hosts(found.id).await?.into_iter().map(|h| h.name).collect();
                    for host in planned.hosts.iter().filter(|h| present.contains(&h.name)) {
                        report.skipped.push(Skipped {
                            item: format!("{}/{}", planned.name, host.name),
                            reason: "already in Steward".into(),
                        });
                    }
                }
            }
            return Ok(report);
        }
        for planned in report.instances.clone() {
            let instance_id = match existing.iter().find(|i| i.name == planned.name) {
                Some(found) => found.id,
                None => {
                    report.instances_created += 1;
                    self.create_instance(actor, study_id, &Self::planned_input(&planned)).await?.id
                }
            };
            let mut ids: BTreeMap<String, i64> =
                self.hosts(instance_id).await?.into_iter().map(|h| (h.name, h.id)).collect();
            let mut pending: Vec<&PlannedHost> = Vec::new();
            for host in &planned.hosts {
                if ids.contains_key(&host.name) {
                    report.skipped.push(Skipped {
                        item: format!("{}/{}", planned.name, host.name),
                        reason: "already in Steward".into(),
                    });
                } else {
                    pending.push(host);
                }
            }
            // Jump hosts before the hosts behind them.
            while !pending.is_empty() {
                let ready = pending.iter().position(|h| h.jump_host.as_ref().is_none_or(|j| ids.contains_key(j)));
                let host = match ready {
                    Some(index) => pending.remove(index),
                    None => pending.remove(0),
                };
                let roles: Vec<&str> = host.roles.iter().map(|r| r.as_str()).collect();
                let input = HostInput {
                    name: host.name.clone(),
                    roles: roles.join(","),
                    address: host.address.clone(),
                    ssh_port: host.ssh_port.to_string(),
                    ssh_user: host.ssh_user.clone(),
                    credential: String::new(),
                    jump_host: host.jump_host.as_ref().and_then(|j| ids.get(j)).map(i64::to_string).unwrap_or_default(),
                };
                let created = self.add_host(actor, instance_id, &input).await?;
                report.hosts_created += 1;
                ids.insert(created.name, created.id);
            }
        }
        report.applied = true;
        self.audit
            .record(
                actor,
                "inventory.imported",
                &format!("study {}", study.name),
                &format!("{} instance(s) and {} host(s) created", report.instances_created, report.hosts_created),
            )
            .await;
        Ok(report)
    }

    fn planned_input(planned: &PlannedInstance) -> InstanceInput {
        InstanceInput {
            name: planned.name.clone(),
            stack: planned.stack.as_str().to_owned(),
            environment: planned.environment.clone(),
            base_url: String::new(),
            tags: planned.tags.join(","),
            notes: "Imported from an Ansible inventory.".into(),
        }
    }

    /// The study as a YAML Ansible inventory.
    pub async fn export_ansible(&self, study_id: i64) -> Result<String> {
        let study = self.study(study_id, 0).await?;
        let mut instances = Vec::new();
        for instance in self.instances_of_study(study_id).await? {
            let hosts = self.hosts(instance.id).await?;
            instances.push((instance, hosts));
        }
        Ok(ansible::export(&study.name, &instances))
    }

    /// What to watch on the host: certificate files (absolute paths) and service units, one
    /// per line.
    pub async fn set_watch(&self, actor: &Actor, host_id: i64, certificates: &str, units: &str) -> Result<()> {
        let host = self.host(host_id).await?;
        let certificates = watch_list("certificates", certificates, |path| {
            (path.starts_with('/') && path.len() <= 4096).then_some(()).ok_or_else(|| {
                format!("{path:?} is not an absolute path; give the certificate file as /etc/ssl/.../cert.pem")
            })
        })?;
        let units = watch_list("units", units, |unit| {
            let valid = unit.len() <= 256
                && unit.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '@' | '.' | '_' | ':' | '-' | '\\'));
            valid.then_some(()).ok_or_else(|| format!("{unit:?} is not a unit name like nginx.service"))
        })?;
        self.store.set_host_watch(host_id, &certificates, &units).await.or_not_found("The host")?;
        let detail = format!("certificates: {}; units: {}", certificates.replace('\n', " "), units.replace('\n', " "));
        self.audit.record(actor, "host.watch_updated", &format!("host {}", host.name), &detail).await;
        Ok(())
    }

    pub async fn delete_host(&self, actor: &Actor, host_id: i64) -> Result<()> {
        let host = self.host(host_id).await?;
        let (instance, _) = self.instance(host.instance_id).await?;
        let dependants = self.store.hosts_jumping_through(host_id).await?;
        refuse_if_jumped_through(dependants, "", &host.name)?;
        self.store.delete_host(host_id).await.or_not_found("The host")?;
        self.audit
            .record(actor, "host.deleted", &format!("host {}/{}/{}", instance.study_name, instance.name, host.name), "")
            .await;
        Ok(())
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
