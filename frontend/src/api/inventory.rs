//! The inventory: studies and their members, instances, hosts and host keys, Ansible import and export.

use leptos::prelude::*;

#[cfg(feature = "ssr")]
#[allow(unused_imports)]
use super::glue::*;
#[allow(unused_imports)]
use crate::contract::*;

#[server(prefix = "/api", endpoint = "list_studies")]
pub async fn list_studies() -> Result<Vec<StudySummary>, AppError> {
    run("list_studies", Scope::Global, |b, _, caller| async move { b.list_studies(&caller).await }).await
}

#[server(prefix = "/api", endpoint = "create_study")]
pub async fn create_study(name: String, description: String, contact: String) -> Result<StudySummary, AppError> {
    run("create_study", Scope::Global, |b, _, caller| async move {
        b.create_study(&caller, name, description, contact).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "get_study")]
pub async fn get_study(study_id: i64) -> Result<StudyDetail, AppError> {
    run("get_study", Scope::Study(study_id), |b, _, caller| async move { b.study(&caller).await }).await
}

#[server(prefix = "/api", endpoint = "update_study")]
pub async fn update_study(study_id: i64, name: String, description: String, contact: String) -> Result<(), AppError> {
    run("update_study", Scope::Study(study_id), |b, _, caller| async move {
        b.update_study(&caller, name, description, contact).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "study_deletion")]
pub async fn study_deletion(study_id: i64) -> Result<DeletionPreview, AppError> {
    run("study_deletion", Scope::Study(study_id), |b, _, caller| async move { b.study_deletion(&caller).await }).await
}

#[server(prefix = "/api", endpoint = "delete_study")]
pub async fn delete_study(study_id: i64, confirm: String) -> Result<(), AppError> {
    run("delete_study", Scope::Study(study_id), |b, _, caller| async move { b.delete_study(&caller, confirm).await })
        .await?;
    leptos_axum::redirect("/studies");
    Ok(())
}

#[server(prefix = "/api", endpoint = "set_member")]
pub async fn set_member(study_id: i64, username: String, role: StudyRole) -> Result<(), AppError> {
    run("set_member", Scope::Study(study_id), |b, _, caller| async move { b.set_member(&caller, username, role).await })
        .await
}

#[server(prefix = "/api", endpoint = "remove_member")]
pub async fn remove_member(study_id: i64, user_id: i64) -> Result<(), AppError> {
    run("remove_member", Scope::Study(study_id), |b, _, caller| async move { b.remove_member(&caller, user_id).await })
        .await
}

#[server(prefix = "/api", endpoint = "list_instances")]
pub async fn list_instances(query: InstanceQuery) -> Result<Page<InstanceSummary>, AppError> {
    run("list_instances", Scope::Global, |b, _, caller| async move { b.list_instances(&caller, query).await }).await
}

#[server(prefix = "/api", endpoint = "create_instance")]
pub async fn create_instance(study_id: i64, input: InstanceInput) -> Result<InstanceSummary, AppError> {
    run(
        "create_instance",
        Scope::Study(study_id),
        |b, _, caller| async move { b.create_instance(&caller, input).await },
    )
    .await
}

#[server(prefix = "/api", endpoint = "get_instance")]
pub async fn get_instance(instance_id: i64) -> Result<InstanceDetail, AppError> {
    run(
        "get_instance",
        Scope::Instance(instance_id),
        |b, _, caller| async move { b.instance(&caller, instance_id).await },
    )
    .await
}

#[server(prefix = "/api", endpoint = "update_instance")]
pub async fn update_instance(instance_id: i64, input: InstanceInput) -> Result<(), AppError> {
    run("update_instance", Scope::Instance(instance_id), |b, _, caller| async move {
        b.update_instance(&caller, instance_id, input).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "instance_deletion")]
pub async fn instance_deletion(instance_id: i64) -> Result<DeletionPreview, AppError> {
    run("instance_deletion", Scope::Instance(instance_id), |b, _, caller| async move {
        b.instance_deletion(&caller, instance_id).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "delete_instance")]
pub async fn delete_instance(instance_id: i64, confirm: String) -> Result<(), AppError> {
    run("delete_instance", Scope::Instance(instance_id), |b, _, caller| async move {
        b.delete_instance(&caller, instance_id, confirm).await
    })
    .await?;
    leptos_axum::redirect("/instances");
    Ok(())
}

#[server(prefix = "/api", endpoint = "add_host")]
pub async fn add_host(instance_id: i64, input: HostInput) -> Result<HostSummary, AppError> {
    run("add_host", Scope::Instance(instance_id), |b, _, caller| async move {
        b.add_host(&caller, instance_id, input).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "get_host")]
pub async fn get_host(host_id: i64) -> Result<HostDetail, AppError> {
    run("get_host", Scope::Host(host_id), |b, _, caller| async move { b.host(&caller, host_id).await }).await
}

#[server(prefix = "/api", endpoint = "scan_host_key")]
pub async fn scan_host_key(host_id: i64) -> Result<Vec<HostKeyInfo>, AppError> {
    run("scan_host_key", Scope::Host(host_id), |b, _, caller| async move { b.scan_host_key(&caller, host_id).await })
        .await
}

#[server(prefix = "/api", endpoint = "pin_host_key")]
pub async fn pin_host_key(host_id: i64, fingerprint: String) -> Result<(), AppError> {
    run("pin_host_key", Scope::Host(host_id), |b, _, caller| async move {
        b.pin_host_key(&caller, host_id, fingerprint).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "check_host")]
pub async fn check_host(host_id: i64) -> Result<HostHealth, AppError> {
    run("check_host", Scope::Host(host_id), |b, _, caller| async move { b.check_host(&caller, host_id).await }).await
}

#[server(prefix = "/api", endpoint = "update_host")]
pub async fn update_host(host_id: i64, input: HostInput) -> Result<HostSummary, AppError> {
    run("update_host", Scope::Host(host_id), |b, _, caller| async move { b.update_host(&caller, host_id, input).await })
        .await
}

#[server(prefix = "/api", endpoint = "set_host_watch")]
pub async fn set_host_watch(host_id: i64, certificates: String, units: String) -> Result<(), AppError> {
    run("set_host_watch", Scope::Host(host_id), |b, _, caller| async move {
        b.set_host_watch(&caller, host_id, certificates, units).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "delete_host")]
pub async fn delete_host(host_id: i64) -> Result<(), AppError> {
    run("delete_host", Scope::Host(host_id), |b, _, caller| async move { b.delete_host(&caller, host_id).await }).await
}

#[server(prefix = "/api", endpoint = "import_inventory")]
pub async fn import_inventory(study_id: i64, input: ImportInput) -> Result<ImportReport, AppError> {
    run(
        "import_inventory",
        Scope::Study(study_id),
        |b, _, caller| async move { b.import_inventory(&caller, input).await },
    )
    .await
}

#[server(prefix = "/api", endpoint = "export_inventory")]
pub async fn export_inventory(study_id: i64) -> Result<String, AppError> {
    run("export_inventory", Scope::Study(study_id), |b, _, caller| async move { b.export_inventory(&caller).await })
        .await
}
