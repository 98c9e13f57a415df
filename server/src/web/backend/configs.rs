//! Configuration: stacks, settings, revisions, diffs and pushes.

use super::*;

#[async_trait]
impl ConfigsApi for WebBackend {
    async fn list_stacks(&self, caller: &Caller) -> Result<Vec<StackSummary>> {
        Ok(self.state.configs.stacks().summaries(actor(caller).admin))
    }

    async fn config_overview(&self, caller: &Caller, instance_id: i64) -> Result<ConfigOverview> {
        Ok(self.state.configs.overview(instance_id, actor(caller).admin).await?)
    }

    async fn save_settings(&self, caller: &Caller, input: SettingsInput) -> Result<RevisionSummary> {
        Ok(self.state.configs.save(&actor(caller), input).await?)
    }

    async fn compare_revisions(&self, _caller: &Caller, instance_id: i64, from: i64, to: i64) -> Result<Vec<HostDiff>> {
        Ok(self.state.configs.compare(instance_id, from, to).await?)
    }

    async fn preview_push(&self, _caller: &Caller, instance_id: i64, revision: String) -> Result<Vec<HostDiff>> {
        let revision = crate::services::configs::parse_revision(&revision)?;
        Ok(self.state.configs.preview(instance_id, revision).await?)
    }

    async fn push_config(&self, caller: &Caller, input: PushInput) -> Result<JobSummary> {
        let who = caller.user.as_ref().map_or_else(|| "someone".to_owned(), |u| u.username.clone());
        let spec = self.state.configs.push_spec(&input, format!("user {who}")).await?;
        Ok(self.state.jobs.enqueue(&actor(caller), spec).await?)
    }
}
