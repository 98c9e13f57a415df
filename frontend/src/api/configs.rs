//! Configuration: stacks, settings, revisions, diffs and pushes.

use leptos::prelude::*;

#[cfg(feature = "ssr")]
#[allow(unused_imports)]
use super::glue::*;
#[allow(unused_imports)]
use crate::contract::*;

#[server(prefix = "/api", endpoint = "list_stacks")]
pub async fn list_stacks() -> Result<Vec<StackSummary>, AppError> {
    run("list_stacks", Scope::Global, |b, _, caller| async move { b.list_stacks(&caller).await }).await
}

#[server(prefix = "/api", endpoint = "get_config")]
pub async fn get_config(instance_id: i64) -> Result<ConfigOverview, AppError> {
    run("get_config", Scope::Instance(instance_id), |b, _, caller| async move {
        b.config_overview(&caller, instance_id).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "save_settings")]
pub async fn save_settings(input: SettingsInput) -> Result<RevisionSummary, AppError> {
    run("save_settings", Scope::Instance(input.instance_id), |b, _, caller| async move {
        b.save_settings(&caller, input).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "compare_revisions")]
pub async fn compare_revisions(instance_id: i64, from: i64, to: i64) -> Result<Vec<HostDiff>, AppError> {
    run("compare_revisions", Scope::Instance(instance_id), |b, _, caller| async move {
        b.compare_revisions(&caller, instance_id, from, to).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "preview_push")]
pub async fn preview_push(instance_id: i64, revision: String) -> Result<Vec<HostDiff>, AppError> {
    run("preview_push", Scope::Instance(instance_id), |b, _, caller| async move {
        b.preview_push(&caller, instance_id, revision).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "push_config")]
pub async fn push_config(input: PushInput) -> Result<JobSummary, AppError> {
    run(
        "push_config",
        Scope::Instance(input.instance_id),
        |b, _, caller| async move { b.push_config(&caller, input).await },
    )
    .await
}
