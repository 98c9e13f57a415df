//! Ansible inventories into a study (missing instances and hosts created, jump hosts first)
//! and a study back out as one.

use std::collections::BTreeMap;

use steward_frontend::contract::{ImportReport, PlannedHost, PlannedInstance, Skipped};

use super::*;
use crate::services::ansible;
use crate::services::fields::{self, HostSpec, InstanceSpec};

/// What an instance of the plan becomes.
fn planned_spec(planned: &PlannedInstance) -> Result<InstanceSpec> {
    InstanceSpec {
        name: planned.name.clone(),
        stack: planned.stack.clone(),
        environment: planned.environment.clone(),
        base_url: String::new(),
        notes: "Imported from an Ansible inventory.".into(),
        tags: planned.tags.clone(),
    }
    .checked()
}

impl Inventory {
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
        fields::text("instance", "an instance name", &defaults.instance, 200)?;
        fields::text("environment", "an environment", &defaults.environment, 40)?;
        fields::parse_ssh_user(&defaults.ssh_user)?;
        let hosts = ansible::parse(inventory).map_err(|err| Error::invalid("inventory", err.to_string()))?;
        let mut report = ansible::plan(&hosts, defaults);
        if report.instances.is_empty() {
            return Err(Error::invalid("inventory", "The inventory lists no host Steward can use"));
        }
        let existing = self.instances_of_study(study_id).await?;
        // Everything the import would create is checked before anything is: a preview shows
        // the same errors the import would meet.
        for planned in &report.instances {
            self.loaded(&planned_spec(planned)?)
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
                    self.create_instance(actor, study_id, &planned_spec(&planned)?).await?.id
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
                let spec = HostSpec {
                    name: host.name.clone(),
                    roles: host.roles.clone(),
                    address: host.address.clone(),
                    port: host.ssh_port,
                    user: host.ssh_user.clone(),
                    credential: None,
                    jump: host.jump_host.as_ref().and_then(|j| ids.get(j)).copied(),
                };
                let created = self.add_host(actor, instance_id, &spec).await?;
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
}
