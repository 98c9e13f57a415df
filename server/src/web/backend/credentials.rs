//! The vault's credentials: SSH keys and stored secrets, and the studies each key is shared with.

use super::*;

#[async_trait]
impl CredentialsApi for WebBackend {
    async fn list_credentials(&self, _caller: &Caller) -> Result<Vec<CredentialSummary>> {
        Ok(self.state.vault.list().await?)
    }

    async fn generate_ssh_key(&self, caller: &Caller, name: String) -> Result<CredentialSummary> {
        Ok(self.state.vault.generate_ssh_key(&actor(caller), &name).await?)
    }

    async fn import_ssh_key(
        &self,
        caller: &Caller,
        name: String,
        private_key: String,
        passphrase: String,
    ) -> Result<CredentialSummary> {
        Ok(self.state.vault.import_ssh_key(&actor(caller), &name, &private_key, &passphrase).await?)
    }

    async fn store_secret(
        &self,
        caller: &Caller,
        name: String,
        kind: CredentialKind,
        secret: String,
    ) -> Result<CredentialSummary> {
        Ok(self.state.vault.store_secret(&actor(caller), &name, kind, &secret).await?)
    }

    async fn delete_credential(&self, caller: &Caller, credential_id: i64) -> Result<()> {
        Ok(self.state.vault.delete(&actor(caller), credential_id).await?)
    }

    async fn share_credential(&self, caller: &Caller, credential_id: i64, study_id: i64, shared: bool) -> Result<()> {
        Ok(self.state.vault.share(&actor(caller), credential_id, study_id, shared).await?)
    }
}
