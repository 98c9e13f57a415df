//! On-call rotas: the global one and each study's, with overrides.

use leptos::prelude::*;

#[cfg(feature = "ssr")]
#[allow(unused_imports)]
use super::glue::*;
#[allow(unused_imports)]
use crate::contract::*;

/// A rota is a study's, or the global one.
#[cfg(feature = "ssr")]
fn rota_scope(study_id: Option<i64>) -> Scope {
    study_id.map_or(Scope::Global, Scope::Study)
}

#[server(prefix = "/api", endpoint = "get_rota")]
pub async fn get_rota(#[server(default)] study_id: Option<i64>) -> Result<RotaView, AppError> {
    run("get_rota", rota_scope(study_id), |b, _, caller| async move { b.get_rota(&caller, study_id).await }).await
}

#[server(prefix = "/api", endpoint = "save_rota")]
pub async fn save_rota(input: RotaInput) -> Result<RotaView, AppError> {
    run("save_rota", rota_scope(input.study_id), |b, _, caller| async move { b.save_rota(&caller, input).await }).await
}

#[server(prefix = "/api", endpoint = "add_rota_override")]
pub async fn add_rota_override(input: OverrideInput) -> Result<RotaView, AppError> {
    run("add_rota_override", rota_scope(input.study_id), |b, _, caller| async move {
        b.add_rota_override(&caller, input).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "delete_rota_override")]
pub async fn delete_rota_override(
    #[server(default)] study_id: Option<i64>,
    override_id: i64,
) -> Result<RotaView, AppError> {
    run("delete_rota_override", rota_scope(study_id), |b, _, caller| async move {
        b.delete_rota_override(&caller, study_id, override_id).await
    })
    .await
}
