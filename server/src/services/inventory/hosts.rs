//! Hosts: their fields, keys and jump hosts checked against the study, and what to watch.

use std::collections::BTreeMap;

use steward_frontend::contract::{HostHealth, HostKeyInfo, HostRole, HostSummary, InstanceSummary, NamedRef};

use crate::services::fleet;

use super::*;
use crate::services::fields::{HostSpec, watch_list};
use crate::store::{HostFields, HostRow};

/// What a host's page shows beside the host: its keys, its last check and its watch list.
pub struct HostState {
    pub keys: Vec<HostKeyInfo>,
    pub key_status: String,
    pub health: HostHealth,
    pub watch_certificates: Vec<String>,
    pub watch_units: Vec<String>,
}

impl Inventory {
    pub async fn host_state(&self, host_id: i64) -> Result<HostState> {
        let keys = self
            .store
            .host_keys(host_id)
            .await?
            .into_iter()
            .map(|k| HostKeyInfo { algorithm: k.algorithm, fingerprint: k.fingerprint, pinned: k.pinned })
            .collect();
        let (certificates, units) = self.store.host_watch(host_id).await?;
        Ok(HostState {
            keys,
            key_status: self.store.host_key_status(host_id).await?,
            health: self.host_health(host_id).await?,
            watch_certificates: certificates.lines().map(str::to_owned).collect(),
            watch_units: units.lines().map(str::to_owned).collect(),
        })
    }

    pub async fn pinned_fingerprints(&self, host_id: i64) -> Result<Vec<String>> {
        Ok(self.store.host_keys(host_id).await?.into_iter().filter(|k| k.pinned).map(|k| k.fingerprint).collect())
    }

    /// The host's last check as the pages show it.
    pub async fn host_health(&self, host_id: i64) -> Result<HostHealth> {
        Ok(fleet::health(host_id, self.store.host_status(host_id).await?.as_ref()))
    }

    /// The last check of each of `hosts` (of one instance), in their order.
    pub async fn health_of(&self, instance_id: i64, hosts: &[HostSummary]) -> Result<Vec<HostHealth>> {
        let statuses = self.store.host_statuses_of_instances(&[instance_id]).await?;
        let mut by_host = fleet::health_by_host(&statuses);
        Ok(hosts.iter().map(|h| by_host.remove(&h.id).unwrap_or_else(|| HostHealth::never_checked(h.id))).collect())
    }

    pub async fn hosts(&self, instance_id: i64) -> Result<Vec<HostSummary>> {
        let rows = self.store.hosts_of_instance(instance_id).await?;
        self.host_summaries(rows).await
    }

    pub(super) async fn host_summaries(&self, rows: Vec<HostRow>) -> Result<Vec<HostSummary>> {
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

    /// Checks what the spec refers to by id: a key shared with the study (an admin's choice
    /// shares it), a jump host of the same study without a loop.
    pub(super) async fn host_fields(
        &self,
        actor: &Actor,
        study_id: i64,
        host_id: Option<i64>,
        spec: &HostSpec,
    ) -> Result<()> {
        if let Some(id) = spec.credential {
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
        if let Some(mut hop) = spec.jump {
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
        Ok(())
    }

    pub async fn add_host(&self, actor: &Actor, instance_id: i64, spec: &HostSpec) -> Result<HostSummary> {
        let (instance, _) = self.instance(instance_id).await?;
        self.save_host(actor, &instance, None, spec).await
    }

    pub async fn update_host(&self, actor: &Actor, host_id: i64, spec: &HostSpec) -> Result<HostSummary> {
        let before = self.host(host_id).await?;
        let (instance, _) = self.instance(before.instance_id).await?;
        self.save_host(actor, &instance, Some(host_id), spec).await
    }

    /// Creates (`existing` is `None`) or changes a host of `instance` after checking what it
    /// refers to.
    pub(super) async fn save_host(
        &self,
        actor: &Actor,
        instance: &InstanceSummary,
        existing: Option<i64>,
        host: &HostSpec,
    ) -> Result<HostSummary> {
        self.host_fields(actor, instance.study_id, existing, host).await?;
        let roles: Vec<&'static str> = host.roles.iter().map(|r| r.as_str()).collect();
        let fields = HostFields {
            name: &host.name,
            address: &host.address,
            ssh_port: host.port,
            ssh_user: &host.user,
            credential_id: host.credential,
            jump_host_id: host.jump,
            roles: &roles,
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
        let mut detail = format!("{}@{}:{} ({})", host.user, host.address, host.port, roles.join(", "));
        if action == "host.repointed" {
            detail.push_str("; its trusted host key was dropped: scan and trust the key again");
        }
        self.audit.record(actor, action, &target, &detail).await;
        self.host(id).await
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
