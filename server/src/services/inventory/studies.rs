//! Studies and their members, and which study a request is about.

use steward_frontend::contract::{DeletionPreview, Member, Permission, StudyRole, StudySummary};

use super::*;
use crate::services::fields::{optional_text, text};

impl Inventory {
    /// The study `id`, if it exists.
    pub async fn existing_study(&self, id: i64) -> Result<i64> {
        if self.store.study_exists(id).await? { Ok(id) } else { Err(Error::not_found("The study")) }
    }

    pub async fn study_of_instance(&self, instance_id: i64) -> Result<i64> {
        self.store.study_of_instance(instance_id).await.or_not_found("The instance")
    }

    pub async fn study_of_host(&self, host_id: i64) -> Result<i64> {
        self.store.study_of_host(host_id).await.or_not_found("The host")
    }

    /// A user's role in a study, if any.
    pub async fn role_in(&self, study_id: i64, user_id: i64) -> Result<Option<StudyRole>> {
        Ok(self.store.study_role(study_id, user_id).await?.as_deref().and_then(StudyRole::parse))
    }

    /// Studies where a (non-admin) user may see the inventory, jobs and schedules.
    pub async fn viewable_studies(&self, user_id: i64) -> Result<Vec<i64>> {
        Ok(self
            .store
            .list_studies(Viewer { user_id, is_admin: false })
            .await?
            .into_iter()
            .filter(|s| {
                s.my_role.as_deref().and_then(StudyRole::parse).is_some_and(|r| r.allows(Permission::ViewInventory))
            })
            .map(|s| s.id)
            .collect())
    }

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
}
