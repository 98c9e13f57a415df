//! Studies and their members, instances, hosts and host keys, Ansible import and export.

use super::*;
use crate::services::fields::{HostSpec, InstanceSpec};

#[async_trait]
impl InventoryApi for WebBackend {
    async fn list_studies(&self, caller: &Caller) -> Result<Vec<StudySummary>> {
        Ok(self.state.inventory.studies(viewer(caller)?).await?)
    }

    async fn create_study(
        &self,
        caller: &Caller,
        name: String,
        description: String,
        contact: String,
    ) -> Result<StudySummary> {
        Ok(self.state.inventory.create_study(&actor(caller), &name, &description, &contact).await?)
    }

    async fn study(&self, caller: &Caller) -> Result<StudyDetail> {
        let id = study_id(caller)?;
        let study = self.state.inventory.study(id, viewer(caller)?.user_id).await?;
        let sees_inventory = may(caller, Permission::ViewInventory);
        Ok(StudyDetail {
            members: if sees_inventory { self.state.inventory.members(id).await? } else { Vec::new() },
            instances: if sees_inventory { self.state.inventory.instances_of_study(id).await? } else { Vec::new() },
            can_manage: may(caller, Permission::ManageInventory),
            study: if sees_inventory {
                study
            } else {
                StudySummary {
                    instance_count: 0,
                    host_count: 0,
                    description: String::new(),
                    contact: String::new(),
                    ..study
                }
            },
        })
    }

    async fn update_study(&self, caller: &Caller, name: String, description: String, contact: String) -> Result<()> {
        Ok(self.state.inventory.update_study(&actor(caller), study_id(caller)?, &name, &description, &contact).await?)
    }

    async fn study_deletion(&self, caller: &Caller) -> Result<DeletionPreview> {
        Ok(self.state.inventory.study_deletion(study_id(caller)?).await?)
    }

    async fn delete_study(&self, caller: &Caller, confirm: String) -> Result<()> {
        Ok(self.state.inventory.delete_study(&actor(caller), study_id(caller)?, &confirm).await?)
    }

    async fn set_member(&self, caller: &Caller, username: String, role: StudyRole) -> Result<()> {
        let user = self.state.accounts.user_by_name(&username).await.map_err(|err| match err {
            Error::NotFound { .. } | Error::Invalid { .. } => {
                Error::invalid("username", format!("There is no user named {:?}", username.trim()))
            }
            other => other,
        })?;
        Ok(self.state.inventory.set_member(&actor(caller), study_id(caller)?, user.id, &user.username, role).await?)
    }

    async fn remove_member(&self, caller: &Caller, user_id: i64) -> Result<()> {
        Ok(self.state.inventory.remove_member(&actor(caller), study_id(caller)?, user_id).await?)
    }

    async fn list_instances(&self, caller: &Caller, query: InstanceQuery) -> Result<Page<InstanceSummary>> {
        Ok(self.state.inventory.instances(viewer(caller)?, &query).await?)
    }

    async fn create_instance(&self, caller: &Caller, input: InstanceInput) -> Result<InstanceSummary> {
        Ok(self
            .state
            .inventory
            .create_instance(&actor(caller), study_id(caller)?, &InstanceSpec::from_form(&input)?)
            .await?)
    }

    async fn instance(&self, caller: &Caller, instance_id: i64) -> Result<InstanceDetail> {
        let (instance, notes) = self.state.inventory.instance(instance_id).await?;
        let hosts = self.state.inventory.hosts(instance_id).await?;
        let health = self.state.inventory.health_of(instance_id, &hosts).await?;
        Ok(InstanceDetail {
            instance,
            notes,
            hosts,
            health,
            can_manage: may(caller, Permission::ManageInventory),
            can_operate: may(caller, Permission::RunOperations),
            ssh_keys: self.key_choices_for(caller).await?,
        })
    }

    async fn update_instance(&self, caller: &Caller, instance_id: i64, input: InstanceInput) -> Result<()> {
        Ok(self.state.inventory.update_instance(&actor(caller), instance_id, &InstanceSpec::from_form(&input)?).await?)
    }

    async fn instance_deletion(&self, _caller: &Caller, instance_id: i64) -> Result<DeletionPreview> {
        Ok(self.state.inventory.instance_deletion(instance_id).await?)
    }

    async fn delete_instance(&self, caller: &Caller, instance_id: i64, confirm: String) -> Result<()> {
        Ok(self.state.inventory.delete_instance(&actor(caller), instance_id, &confirm).await?)
    }

    async fn add_host(&self, caller: &Caller, instance_id: i64, input: HostInput) -> Result<HostSummary> {
        Ok(self.state.inventory.add_host(&actor(caller), instance_id, &HostSpec::from_form(&input)?).await?)
    }

    async fn host(&self, caller: &Caller, host_id: i64) -> Result<HostDetail> {
        let host = self.state.inventory.host(host_id).await?;
        let (instance, _) = self.state.inventory.instance(host.instance_id).await?;
        let jump_choices = self
            .state
            .inventory
            .hosts(host.instance_id)
            .await?
            .into_iter()
            .filter(|h| h.id != host_id)
            .map(|h| NamedRef { id: h.id, name: h.name })
            .collect();
        let state = self.state.inventory.host_state(host_id).await?;
        Ok(HostDetail {
            watch_certificates: state.watch_certificates,
            watch_units: state.watch_units,
            host,
            instance,
            key_status: state.key_status,
            keys: state.keys,
            health: state.health,
            can_pin: caller.user.as_ref().is_some_and(CurrentUser::is_admin),
            jump_choices,
            can_manage: may(caller, Permission::ManageInventory),
            can_operate: may(caller, Permission::RunOperations),
            ssh_keys: self.key_choices_for(caller).await?,
        })
    }

    async fn scan_host_key(&self, caller: &Caller, host_id: i64) -> Result<Vec<HostKeyInfo>> {
        let keys = self.state.ssh.scan(&actor(caller), host_id).await?;
        let pinned = self.state.inventory.pinned_fingerprints(host_id).await?;
        Ok(keys
            .into_iter()
            .map(|k| HostKeyInfo {
                pinned: pinned.contains(&k.fingerprint),
                algorithm: k.algorithm,
                fingerprint: k.fingerprint,
            })
            .collect())
    }

    async fn pin_host_key(&self, caller: &Caller, host_id: i64, fingerprint: String) -> Result<()> {
        Ok(self.state.ssh.pin(&actor(caller), host_id, &fingerprint).await?)
    }

    async fn set_host_watch(&self, caller: &Caller, host_id: i64, certificates: String, units: String) -> Result<()> {
        Ok(self.state.inventory.set_watch(&actor(caller), host_id, &certificates, &units).await?)
    }

    async fn check_host(&self, _caller: &Caller, host_id: i64) -> Result<HostHealth> {
        self.state.ssh.check(host_id).await?;
        // What the check found raises or resolves alerts now, not at the next round.
        if let Err(err) = self.state.alerts.evaluate_host(host_id).await {
            tracing::warn!(error = %err, "could not evaluate alert rules");
        }
        Ok(self.state.inventory.host_health(host_id).await?)
    }

    async fn update_host(&self, caller: &Caller, host_id: i64, input: HostInput) -> Result<HostSummary> {
        Ok(self.state.inventory.update_host(&actor(caller), host_id, &HostSpec::from_form(&input)?).await?)
    }

    async fn delete_host(&self, caller: &Caller, host_id: i64) -> Result<()> {
        Ok(self.state.inventory.delete_host(&actor(caller), host_id).await?)
    }

    async fn import_inventory(&self, caller: &Caller, input: ImportInput) -> Result<ImportReport> {
        let defaults = crate::services::ansible::Defaults {
            instance: input.instance,
            stack: Stack::parse(input.stack.trim())
                .ok_or_else(|| AppError::invalid("stack", format!("Choose a stack: {}", Stack::SHIPPED.join(", "))))?,
            environment: input.environment,
            ssh_user: input.ssh_user,
        };
        Ok(self
            .state
            .inventory
            .import_ansible(&actor(caller), study_id(caller)?, &input.inventory, &defaults, input.apply)
            .await?)
    }

    async fn export_inventory(&self, caller: &Caller) -> Result<String> {
        Ok(self.state.inventory.export_ansible(study_id(caller)?).await?)
    }
}
