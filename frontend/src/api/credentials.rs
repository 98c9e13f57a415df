//! Credentials in the vault: SSH keys and stored secrets (names and public parts only), and which studies may use each key.

use leptos::prelude::*;

#[cfg(feature = "ssr")]
#[allow(unused_imports)]
use super::glue::*;
#[allow(unused_imports)]
use crate::contract::*;

#[server(prefix = "/api", endpoint = "list_credentials")]
pub async fn list_credentials() -> Result<Vec<CredentialSummary>, AppError> {
    run("list_credentials", Scope::Global, |b, _, caller| async move { b.list_credentials(&caller).await }).await
}

#[server(prefix = "/api", endpoint = "generate_ssh_key")]
pub async fn generate_ssh_key(name: String) -> Result<CredentialSummary, AppError> {
    run("generate_ssh_key", Scope::Global, |b, _, caller| async move { b.generate_ssh_key(&caller, name).await }).await
}

#[server(prefix = "/api", endpoint = "import_ssh_key")]
pub async fn import_ssh_key(
    name: String,
    private_key: String,
    passphrase: String,
) -> Result<CredentialSummary, AppError> {
    run("import_ssh_key", Scope::Global, |b, _, caller| async move {
        b.import_ssh_key(&caller, name, private_key, passphrase).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "store_secret")]
pub async fn store_secret(name: String, kind: CredentialKind, secret: String) -> Result<CredentialSummary, AppError> {
    run("store_secret", Scope::Global, |b, _, caller| async move { b.store_secret(&caller, name, kind, secret).await })
        .await
}

#[server(prefix = "/api", endpoint = "delete_credential")]
pub async fn delete_credential(credential_id: i64) -> Result<(), AppError> {
    run(
        "delete_credential",
        Scope::Global,
        |b, _, caller| async move { b.delete_credential(&caller, credential_id).await },
    )
    .await
}

#[server(prefix = "/api", endpoint = "share_credential")]
pub async fn share_credential(credential_id: i64, study_id: i64, shared: bool) -> Result<(), AppError> {
    run("share_credential", Scope::Global, |b, _, caller| async move {
        b.share_credential(&caller, credential_id, study_id, shared).await
    })
    .await
}
