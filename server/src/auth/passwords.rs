//! Password hashing with argon2id (OWASP: m = 19 MiB, t = 2, p = 1), off the async runtime and
//! behind a limit on concurrent hashes so a burst of logins cannot exhaust memory.

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand_core::OsRng;
use tokio::sync::Semaphore;

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("password hashing task failed: {0}")]
    Task(String),
}

#[derive(Clone, Debug)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    /// Verified against when the user does not exist, so both cases take the same time.
    dummy_hash: Arc<str>,
}

fn argon2() -> Result<Argon2<'static>, HashError> {
    let params = Params::new(19 * 1024, 2, 1, None).map_err(|err| HashError::Hash(err.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

fn hash_blocking(password: &str) -> Result<String, HashError> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(argon2()?.hash_password(password.as_bytes(), &salt).map_err(|err| HashError::Hash(err.to_string()))?.to_string())
}

fn verify_blocking(hash: &str, password: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    // Verify with the parameters stored in the hash, so older hashes keep working.
    Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok()
}

impl PasswordHasher {
    pub fn new(concurrency: usize) -> Result<Self, HashError> {
        let dummy_hash = hash_blocking("steward-timing-equaliser")?;
        Ok(Self { permits: Arc::new(Semaphore::new(concurrency.max(1))), dummy_hash: dummy_hash.into() })
    }

    pub async fn hash(&self, password: String) -> Result<String, HashError> {
        let _permit = self.permits.acquire().await.map_err(|err| HashError::Task(err.to_string()))?;
        tokio::task::spawn_blocking(move || hash_blocking(&password))
            .await
            .map_err(|err| HashError::Task(err.to_string()))?
    }

    /// True when `password` matches `hash`. With no hash (unknown user, or a user who has not
    /// chosen a password yet) it does the same work and answers false.
    pub async fn verify(&self, hash: Option<String>, password: String) -> Result<bool, HashError> {
        let _permit = self.permits.acquire().await.map_err(|err| HashError::Task(err.to_string()))?;
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.dummy_hash.to_string());
        let matched = tokio::task::spawn_blocking(move || verify_blocking(&hash, &password))
            .await
            .map_err(|err| HashError::Task(err.to_string()))?;
        Ok(known && matched)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_with_owasp_parameters_and_verify() {
        let hasher = PasswordHasher::new(1).unwrap();
        let hash = hasher.hash("correct horse battery".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        assert!(hasher.verify(Some(hash.clone()), "correct horse battery".into()).await.unwrap());
        assert!(!hasher.verify(Some(hash), "wrong".into()).await.unwrap());
        assert!(!hasher.verify(None, "steward-timing-equaliser".into()).await.unwrap());
    }
}
