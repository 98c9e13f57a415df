//! Jobs and schedules.

use super::*;

#[async_trait]
impl JobsApi for WebBackend {
    async fn list_jobs(&self, caller: &Caller, query: JobQuery) -> Result<Page<JobSummary>> {
        let visible = self.visible_studies(caller).await?;
        Ok(self.state.jobs.list(visible.as_deref(), &query).await?)
    }

    async fn job_kinds(&self, _caller: &Caller) -> Result<Vec<JobKindSummary>> {
        Ok(self.state.jobs.startable_kinds())
    }

    async fn get_job(&self, caller: &Caller, job_id: i64) -> Result<JobDetail> {
        let mut detail = self.state.jobs.detail(job_id).await?;
        detail.can_cancel &= may(caller, Permission::RunOperations);
        Ok(detail)
    }

    async fn job_log(&self, _caller: &Caller, job_id: i64, after: i64) -> Result<Vec<LogLine>> {
        Ok(self.state.jobs.log_after(job_id, after, 2000).await?)
    }

    async fn start_job(&self, caller: &Caller, input: JobInput) -> Result<JobSummary> {
        let who = caller.user.as_ref().map_or_else(|| "someone".to_owned(), |u| u.username.clone());
        let spec = self.state.jobs.spec_from_input(&input, format!("user {who}"))?;
        Ok(self.state.jobs.enqueue(&actor(caller), spec).await?)
    }

    async fn cancel_job(&self, caller: &Caller, job_id: i64) -> Result<String> {
        Ok(self.state.jobs.cancel(&actor(caller), job_id).await?)
    }

    async fn list_schedules(&self, caller: &Caller) -> Result<Vec<ScheduleSummary>> {
        let visible = self.visible_studies(caller).await?;
        Ok(self.state.jobs.schedules(visible.as_deref()).await?)
    }

    async fn get_schedule(&self, _caller: &Caller, schedule_id: i64) -> Result<ScheduleSummary> {
        Ok(self.state.jobs.schedule(schedule_id).await?)
    }

    async fn save_schedule(
        &self,
        caller: &Caller,
        schedule_id: Option<i64>,
        input: ScheduleInput,
    ) -> Result<ScheduleSummary> {
        if let Some(id) = schedule_id {
            // The caller's rights were checked on the new target's study; the schedule must
            // already be in that study (a fleet one stays fleet-wide).
            let current = self.state.jobs.schedule(id).await?;
            if current.study_id != caller.study.map(|(study, _)| study) {
                return Err(AppError::invalid(
                    "target_kind",
                    "A schedule stays in its study; create a new one instead",
                ));
            }
        }
        Ok(self.state.jobs.save_schedule(&actor(caller), schedule_id, &input).await?)
    }

    async fn delete_schedule(&self, caller: &Caller, schedule_id: i64, confirm: String) -> Result<()> {
        Ok(self.state.jobs.delete_schedule(&actor(caller), schedule_id, &confirm).await?)
    }

    async fn preview_schedule(&self, _caller: &Caller, cron: String, timezone: String) -> Result<Vec<DateTime<Utc>>> {
        Ok(self.state.jobs.preview(&cron, &timezone).await?)
    }
}
