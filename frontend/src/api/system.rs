//! Steward itself: its background workers.

use leptos::prelude::*;

#[cfg(feature = "ssr")]
#[allow(unused_imports)]
use super::glue::*;
#[allow(unused_imports)]
use crate::contract::*;

#[server(prefix = "/api", endpoint = "list_workers")]
pub async fn list_workers() -> Result<Vec<WorkerStatus>, AppError> {
    run("list_workers", Scope::Global, |b, _, caller| async move { b.list_workers(&caller).await }).await
}
