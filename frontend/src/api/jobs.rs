//! Jobs and schedules.

use leptos::prelude::*;

#[cfg(feature = "ssr")]
#[allow(unused_imports)]
use super::glue::*;
#[allow(unused_imports)]
use crate::contract::*;

/// What starting work on a target is about: its study, or the whole fleet (the server's policy
/// says who may do either).
#[cfg(feature = "ssr")]
fn target_scope(target_kind: &str, target_id: Option<i64>) -> Scope {
    match (target_kind, target_id) {
        ("host", Some(id)) => Scope::Host(id),
        ("instance", Some(id)) => Scope::Instance(id),
        ("study", Some(id)) => Scope::Study(id),
        _ => Scope::Global,
    }
}

#[server(prefix = "/api", endpoint = "list_jobs")]
pub async fn list_jobs(query: JobQuery) -> Result<Page<JobSummary>, AppError> {
    run("list_jobs", Scope::Global, |b, _, caller| async move { b.list_jobs(&caller, query).await }).await
}

#[server(prefix = "/api", endpoint = "job_kinds")]
pub async fn job_kinds() -> Result<Vec<JobKindSummary>, AppError> {
    run("job_kinds", Scope::Global, |b, _, caller| async move { b.job_kinds(&caller).await }).await
}

#[server(prefix = "/api", endpoint = "get_job")]
pub async fn get_job(job_id: i64) -> Result<JobDetail, AppError> {
    run("get_job", Scope::Job(job_id), |b, _, caller| async move { b.get_job(&caller, job_id).await }).await
}

#[server(prefix = "/api", endpoint = "job_log")]
pub async fn job_log(job_id: i64, after: i64) -> Result<Vec<LogLine>, AppError> {
    run("job_log", Scope::Job(job_id), |b, _, caller| async move { b.job_log(&caller, job_id, after).await }).await
}

#[server(prefix = "/api", endpoint = "start_job")]
pub async fn start_job(input: JobInput) -> Result<JobSummary, AppError> {
    run("start_job", target_scope(&input.target_kind, input.target_id), |b, _, caller| async move {
        b.start_job(&caller, input).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "cancel_job")]
pub async fn cancel_job(job_id: i64) -> Result<String, AppError> {
    run("cancel_job", Scope::Job(job_id), |b, _, caller| async move { b.cancel_job(&caller, job_id).await }).await
}

#[server(prefix = "/api", endpoint = "list_schedules")]
pub async fn list_schedules() -> Result<Vec<ScheduleSummary>, AppError> {
    run("list_schedules", Scope::Global, |b, _, caller| async move { b.list_schedules(&caller).await }).await
}

#[server(prefix = "/api", endpoint = "get_schedule")]
pub async fn get_schedule(schedule_id: i64) -> Result<ScheduleSummary, AppError> {
    run("get_schedule", Scope::Schedule(schedule_id), |b, _, caller| async move {
        b.get_schedule(&caller, schedule_id).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "save_schedule")]
pub async fn save_schedule(schedule_id: Option<i64>, input: ScheduleInput) -> Result<ScheduleSummary, AppError> {
    run("save_schedule", target_scope(&input.target_kind, input.target_id), |b, _, caller| async move {
        b.save_schedule(&caller, schedule_id, input).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "delete_schedule")]
pub async fn delete_schedule(schedule_id: i64, confirm: String) -> Result<(), AppError> {
    run("delete_schedule", Scope::Schedule(schedule_id), |b, _, caller| async move {
        b.delete_schedule(&caller, schedule_id, confirm).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "preview_schedule")]
pub async fn preview_schedule(cron: String, timezone: String) -> Result<Vec<chrono::DateTime<chrono::Utc>>, AppError> {
    run(
        "preview_schedule",
        Scope::Global,
        |b, _, caller| async move { b.preview_schedule(&caller, cron, timezone).await },
    )
    .await
}
