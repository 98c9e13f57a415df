//! Instances: listed with filters and their fleet roll-up, created, changed and deleted.

use std::collections::BTreeMap;

use steward_frontend::contract::{DeletionPreview, InstanceQuery, InstanceSummary, Page};

use super::*;
use crate::services::fields::InstanceSpec;
use crate::services::fleet;
use crate::store::{InstanceFilter, InstanceRow, InstanceSort};
use steward_frontend::contract::HostHealth;

impl Inventory {
    pub(super) async fn with_tags(&self, rows: Vec<InstanceRow>) -> Result<Vec<InstanceSummary>> {
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

    /// The spec, if its stack is one Steward loaded.
    pub(super) fn loaded(&self, spec: &InstanceSpec) -> Result<InstanceSpec> {
        if self.stacks.iter().any(|k| k == spec.stack.as_str()) {
            Ok(spec.clone())
        } else {
            Err(Error::invalid("stack", format!("Choose a stack: {}", self.stacks.join(", "))))
        }
    }

    pub async fn create_instance(&self, actor: &Actor, study_id: i64, spec: &InstanceSpec) -> Result<InstanceSummary> {
        let study = self.study(study_id, 0).await?;
        let spec = self.loaded(spec)?;
        let InstanceSpec { name, stack, environment, .. } = &spec;
        let id =
            self.store.insert_instance(study_id, &spec.fields(), self.clock.now()).await.map_err(|err| match err {
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

    pub async fn update_instance(&self, actor: &Actor, id: i64, spec: &InstanceSpec) -> Result<()> {
        let (before, _) = self.instance(id).await?;
        let spec = self.loaded(spec)?;
        let name = &spec.name;
        self.store.update_instance(id, &spec.fields(), self.clock.now()).await.map_err(|err| match err {
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
}
