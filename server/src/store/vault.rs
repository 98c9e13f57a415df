//! Encrypted vault entries and the key check. Only ciphertext and public parts are stored.

use chrono::{DateTime, Utc};

use super::{BeginWrite, Result, Store, on_pool};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CredentialRow {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub public_part: String,
    pub fingerprint: String,
    pub created_at: DateTime<Utc>,
    pub used_by_hosts: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SealedRow {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

/// The kind bound into a sealed value's ciphertext (with its scope as the name).
pub const SEALED_VALUE_KIND: &str = "value";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct KeyCheckRow {
    pub key_id: String,
    pub nonce: Vec<u8>,
    pub check_value: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct NewCredential<'a> {
    pub name: &'a str,
    pub kind: &'a str,
    pub public_part: &'a str,
    pub fingerprint: &'a str,
    pub nonce: &'a [u8],
    pub ciphertext: &'a [u8],
    pub created_by: Option<&'a str>,
}

const CREDENTIAL_SELECT: &str = "SELECT c.id, c.name, c.kind, c.public_part, c.fingerprint, c.created_at,
    (SELECT COUNT(*) FROM hosts h WHERE h.credential_id = c.id) AS used_by_hosts FROM credentials c";

impl Store {
    pub async fn list_credentials(&self) -> Result<Vec<CredentialRow>> {
        let sql = format!("{CREDENTIAL_SELECT} ORDER BY c.name");
        Ok(on_pool!(self, pool => sqlx::query_as::<_, CredentialRow>(&sql).fetch_all(pool).await)?)
    }

    pub async fn credential(&self, id: i64) -> Result<CredentialRow> {
        let sql = format!("{CREDENTIAL_SELECT} WHERE c.id = $1");
        Ok(on_pool!(self, pool => sqlx::query_as::<_, CredentialRow>(&sql).bind(id).fetch_one(pool).await)?)
    }

    pub async fn insert_credential(&self, new: &NewCredential<'_>, now: DateTime<Utc>) -> Result<i64> {
        Ok(on_pool!(self, pool => sqlx::query_scalar(
            "INSERT INTO credentials (name, kind, public_part, fingerprint, nonce, ciphertext, created_at, created_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id")
            .bind(new.name).bind(new.kind).bind(new.public_part).bind(new.fingerprint)
            .bind(new.nonce).bind(new.ciphertext).bind(now).bind(new.created_by)
            .fetch_one(pool).await)?)
    }

    /// Studies a credential is shared with: (credential id, study id, study name).
    pub async fn credential_shares(&self) -> Result<Vec<(i64, i64, String)>> {
        Ok(on_pool!(self, pool => sqlx::query_as(
            "SELECT cs.credential_id, s.id, s.name FROM credential_studies cs JOIN studies s ON s.id = cs.study_id
             ORDER BY s.name").fetch_all(pool).await)?)
    }

    pub async fn is_credential_shared(&self, credential_id: i64, study_id: i64) -> Result<bool> {
        let found: Option<i64> = on_pool!(self, pool => sqlx::query_scalar(
            "SELECT credential_id FROM credential_studies WHERE credential_id = $1 AND study_id = $2")
            .bind(credential_id).bind(study_id).fetch_optional(pool).await)?;
        Ok(found.is_some())
    }

    /// Shares a credential with a study; false when it already was.
    pub async fn share_credential(&self, credential_id: i64, study_id: i64) -> Result<bool> {
        let done = on_pool!(self, pool => sqlx::query(
            "INSERT INTO credential_studies (credential_id, study_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(credential_id).bind(study_id).execute(pool).await.map(|d| d.rows_affected()))?;
        Ok(done > 0)
    }

    pub async fn unshare_credential(&self, credential_id: i64, study_id: i64) -> Result<bool> {
        let done = on_pool!(self, pool => sqlx::query(
            "DELETE FROM credential_studies WHERE credential_id = $1 AND study_id = $2")
            .bind(credential_id).bind(study_id).execute(pool).await.map(|d| d.rows_affected()))?;
        Ok(done > 0)
    }

    /// Hosts of a study that use a credential.
    pub async fn hosts_using_credential_in_study(&self, credential_id: i64, study_id: i64) -> Result<i64> {
        Ok(on_pool!(self, pool => sqlx::query_scalar(
            "SELECT COUNT(*) FROM hosts h JOIN instances i ON i.id = h.instance_id
             WHERE h.credential_id = $1 AND i.study_id = $2")
            .bind(credential_id).bind(study_id).fetch_one(pool).await)?)
    }

    pub async fn delete_credential(&self, id: i64) -> Result<()> {
        on_pool!(self, pool => sqlx::query("DELETE FROM credentials WHERE id = $1")
            .bind(id).execute(pool).await.map(|d| d.rows_affected()))?;
        Ok(())
    }

    /// The encrypted secret of one entry.
    pub async fn sealed_credential(&self, id: i64) -> Result<SealedRow> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, SealedRow>(
            "SELECT id, name, kind, nonce, ciphertext FROM credentials WHERE id = $1")
            .bind(id).fetch_one(pool).await)?)
    }

    /// Stores a sealed value that belongs to `scope` (and is deleted with its instance).
    pub async fn insert_sealed_value(
        &self,
        scope: &str,
        instance_id: Option<i64>,
        nonce: &[u8],
        ciphertext: &[u8],
        now: DateTime<Utc>,
    ) -> Result<i64> {
        Ok(on_pool!(self, pool => sqlx::query_scalar(
            "INSERT INTO sealed_values (scope, instance_id, nonce, ciphertext, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id")
            .bind(scope).bind(instance_id).bind(nonce).bind(ciphertext).bind(now)
            .fetch_one(pool).await)?)
    }

    pub async fn sealed_value(&self, id: i64) -> Result<SealedRow> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, SealedRow>(&format!(
            "SELECT id, scope AS name, '{SEALED_VALUE_KIND}' AS kind, nonce, ciphertext FROM sealed_values WHERE id = $1"))
            .bind(id).fetch_one(pool).await)?)
    }

    pub async fn key_check(&self) -> Result<Option<KeyCheckRow>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, KeyCheckRow>(
            "SELECT key_id, nonce, check_value FROM vault_meta WHERE id = 1")
            .fetch_optional(pool).await)?)
    }

    pub async fn init_key_check(&self, check: &KeyCheckRow, now: DateTime<Utc>) -> Result<()> {
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO vault_meta (id, key_id, nonce, check_value, rotated_at) VALUES (1, $1, $2, $3, $4)")
            .bind(&check.key_id).bind(&check.nonce).bind(&check.check_value).bind(now)
            .execute(pool).await.map(|d| d.rows_affected()))?;
        Ok(())
    }

    /// Re-encrypts every entry and the key check in one transaction: `reseal` turns an old
    /// sealed row into (nonce, ciphertext) under the new key.
    pub async fn reseal_all<F>(&self, check: &KeyCheckRow, now: DateTime<Utc>, reseal: F) -> Result<usize>
    where
        F: Fn(&SealedRow) -> std::result::Result<(Vec<u8>, Vec<u8>), String> + Send + Sync,
    {
        Ok(on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let rows = sqlx::query_as::<_, SealedRow>("SELECT id, name, kind, nonce, ciphertext FROM credentials")
                .fetch_all(&mut *tx).await?;
            for row in &rows {
                let (nonce, ciphertext) = reseal(row).map_err(super::StoreError::Malformed)?;
                sqlx::query("UPDATE credentials SET nonce = $1, ciphertext = $2 WHERE id = $3")
                    .bind(nonce).bind(ciphertext).bind(row.id).execute(&mut *tx).await?;
            }
            let values = sqlx::query_as::<_, SealedRow>(&format!(
                "SELECT id, scope AS name, '{SEALED_VALUE_KIND}' AS kind, nonce, ciphertext FROM sealed_values"))
                .fetch_all(&mut *tx).await?;
            for row in &values {
                let (nonce, ciphertext) = reseal(row).map_err(super::StoreError::Malformed)?;
                sqlx::query("UPDATE sealed_values SET nonce = $1, ciphertext = $2 WHERE id = $3")
                    .bind(nonce).bind(ciphertext).bind(row.id).execute(&mut *tx).await?;
            }
            sqlx::query("UPDATE vault_meta SET key_id = $1, nonce = $2, check_value = $3, rotated_at = $4 WHERE id = 1")
                .bind(&check.key_id).bind(&check.nonce).bind(&check.check_value).bind(now)
                .execute(&mut *tx).await?;
            tx.commit().await?;
            rows.len() + values.len()
        }))
    }
}
