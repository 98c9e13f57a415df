//! The vault: credentials Steward needs (SSH keys, database, SMTP and API passwords),
//! encrypted at rest with XChaCha20-Poly1305 under a master key kept in a file, never in the
//! database. Secrets leave this module only to be used on the server (an SSH connection, say);
//! what the UI gets is names, kinds, public keys and fingerprints.
//!
//! Each ciphertext is bound to its entry's kind and name (associated data), so rows cannot be
//! swapped. A key check in the database tells a wrong master key apart from corrupt data.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};
use ssh_key::{Algorithm, HashAlg, LineEnding, PrivateKey};
use steward_frontend::contract::{CredentialKind, CredentialSummary, NamedRef};
use zeroize::Zeroizing;

use crate::clock::SharedClock;
use crate::config::ConfigError;
use crate::services::audit::{Actor, Audit};
use crate::services::error::{Error, OrNotFound};
use crate::store::{CredentialRow, KeyCheckRow, NewCredential, SEALED_VALUE_KIND, SealedRow, Store, StoreError};

const KEY_CHECK_AAD: &[u8] = b"steward-vault/v1/key-check";
const KEY_CHECK_PLAINTEXT: &[u8] = b"steward vault key check";

/// The 256-bit master key, with a short public id for messages.
#[derive(Clone)]
pub struct MasterKey {
    key: Zeroizing<[u8; 32]>,
    pub id: String,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MasterKey({})", self.id)
    }
}

impl MasterKey {
    fn from_bytes(bytes: [u8; 32]) -> Self {
        let id = crate::digest::hex(&Sha256::digest(bytes)[..4]);
        Self { key: Zeroizing::new(bytes), id }
    }

    fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut bytes);
        Self::from_bytes(bytes)
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(self.key.as_ref().into())
    }

    fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<(Vec<u8>, Vec<u8>), String> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let ciphertext = self
            .cipher()
            .encrypt(&nonce, Payload { msg: plaintext, aad })
            .map_err(|_| "encryption failed".to_owned())?;
        Ok((nonce.to_vec(), ciphertext))
    }

    fn open(&self, aad: &[u8], nonce: &[u8], ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>, String> {
        if nonce.len() != 24 {
            return Err("malformed nonce".into());
        }
        self.cipher()
            .decrypt(XNonce::from_slice(nonce), Payload { msg: ciphertext, aad })
            .map(Zeroizing::new)
            .map_err(|_| "the master key does not open this entry".to_owned())
    }

    fn key_check(&self) -> Result<KeyCheckRow, String> {
        let (nonce, check_value) = self.seal(KEY_CHECK_AAD, KEY_CHECK_PLAINTEXT)?;
        Ok(KeyCheckRow { key_id: self.id.clone(), nonce, check_value })
    }

    fn opens(&self, check: &KeyCheckRow) -> bool {
        self.open(KEY_CHECK_AAD, &check.nonce, &check.check_value).is_ok_and(|p| p.as_slice() == KEY_CHECK_PLAINTEXT)
    }
}

fn key_error(path: &Path, problem: impl std::fmt::Display) -> ConfigError {
    ConfigError::new(
        "master_key_file",
        format!("{}: {problem}", path.display()),
        "Point STEWARD_MASTER_KEY_FILE at the vault's key file (a copy kept with your backups).",
    )
}

fn read_key(path: &Path) -> Result<MasterKey, ConfigError> {
    let text =
        Zeroizing::new(std::fs::read_to_string(path).map_err(|err| key_error(path, format!("cannot read: {err}")))?);
    let bytes = Zeroizing::new(
        STANDARD.decode(text.trim()).map_err(|_| key_error(path, "is not a Steward master key (base64)"))?,
    );
    let bytes: [u8; 32] = bytes.as_slice().try_into().map_err(|_| key_error(path, "is not a 256-bit key"))?;
    Ok(MasterKey::from_bytes(bytes))
}

/// Writes a key file with mode 0600 atomically: a temporary file, fsync, rename.
fn write_key(path: &Path, key: &MasterKey) -> std::io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = path.with_extension("tmp");
    let mut options = std::fs::File::options();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp)?;
    let encoded = Zeroizing::new(STANDARD.encode(key.key.as_ref()));
    file.write_all(encoded.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()
}

fn staged(path: &Path) -> PathBuf {
    PathBuf::from(format!("{}.new", path.display()))
}

fn aad(kind: &str, name: &str) -> Vec<u8> {
    format!("steward-vault/v1/{kind}/{name}").into_bytes()
}

#[derive(Clone, Debug)]
pub struct Vault {
    store: Store,
    key: Arc<MasterKey>,
    clock: SharedClock,
    audit: Audit,
}

pub fn summary(row: CredentialRow) -> CredentialSummary {
    CredentialSummary {
        studies: Vec::new(),
        id: row.id,
        kind: CredentialKind::parse(&row.kind).unwrap_or(CredentialKind::ApiKey),
        name: row.name,
        public_key: row.public_part,
        fingerprint: row.fingerprint,
        created_at: row.created_at,
        used_by_hosts: row.used_by_hosts,
    }
}

fn normalize_name(raw: &str) -> Result<String, Error> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(Error::invalid("name", "Give the credential a name"));
    }
    if name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(Error::invalid("name", "Use at most 100 characters, without control characters"));
    }
    Ok(name.to_owned())
}

impl Vault {
    /// Opens the vault with the key file (creating both on first start) and proves the key
    /// fits the database. Finishes a key rotation that was interrupted after its commit.
    pub async fn open(store: Store, key_file: &Path, clock: SharedClock, audit: Audit) -> Result<Self, ConfigError> {
        let check = store.key_check().await.map_err(|err| key_error(key_file, err))?;
        let key = match check {
            None => {
                let key = if key_file.exists() { read_key(key_file)? } else { MasterKey::generate() };
                write_key(key_file, &key).map_err(|err| key_error(key_file, format!("cannot write: {err}")))?;
                let check = key.key_check().map_err(|err| key_error(key_file, err))?;
                store.init_key_check(&check, clock.now()).await.map_err(|err| key_error(key_file, err))?;
                tracing::info!(key_id = key.id, path = %key_file.display(), "created the vault's master key");
                key
            }
            Some(check) => {
                let current = read_key(key_file);
                match current {
                    Ok(key) if key.opens(&check) => key,
                    other => {
                        let next = staged(key_file);
                        match read_key(&next) {
                            Ok(key) if key.opens(&check) => {
                                std::fs::rename(&next, key_file).map_err(|err| {
                                    key_error(key_file, format!("cannot finish the key rotation: {err}"))
                                })?;
                                tracing::warn!(key_id = key.id, "finished an interrupted master key rotation");
                                key
                            }
                            _ => {
                                return Err(match other {
                                    Err(err) => err,
                                    Ok(key) => key_error(
                                        key_file,
                                        format!(
                                            "holds master key {} but the vault was written with key {}",
                                            key.id, check.key_id
                                        ),
                                    ),
                                });
                            }
                        }
                    }
                }
            }
        };
        Ok(Self { store, key: Arc::new(key), clock, audit })
    }

    pub fn key_id(&self) -> &str {
        &self.key.id
    }

    /// Re-encrypts every entry under a new master key: the new key is written beside the old
    /// one first, the database changes in one transaction, then the new key replaces the old.
    /// A crash at any point leaves a key that opens the vault.
    pub async fn rotate_key(&self, key_file: &Path, actor: &Actor) -> Result<(String, usize), Error> {
        let new = MasterKey::generate();
        let next = staged(key_file);
        write_key(&next, &new).map_err(Error::internal)?;
        let check = new.key_check().map_err(Error::internal)?;
        let old = self.key.clone();
        let count = self
            .store
            .reseal_all(&check, self.clock.now(), |row: &SealedRow| {
                let plain = old.open(&aad(&row.kind, &row.name), &row.nonce, &row.ciphertext)?;
                new.seal(&aad(&row.kind, &row.name), &plain)
            })
            .await
            .map_err(|err| {
                let _ = std::fs::remove_file(&next);
                Error::from(err)
            })?;
        std::fs::rename(&next, key_file).map_err(Error::internal)?;
        self.audit
            .record(actor, "vault.key_rotated", "vault", &format!("{} → {} ({count} entries)", old.id, new.id))
            .await;
        Ok((new.id, count))
    }

    /// Every entry, with the studies each is shared with.
    pub async fn list(&self) -> Result<Vec<CredentialSummary>, Error> {
        let mut shares = self.store.credential_shares().await?;
        Ok(self
            .store
            .list_credentials()
            .await?
            .into_iter()
            .map(|row| {
                let mut item = summary(row);
                item.studies = shares
                    .extract_if(.., |(credential, ..)| *credential == item.id)
                    .map(|(_, id, name)| NamedRef { id, name })
                    .collect();
                item
            })
            .collect())
    }

    /// SSH keys a host of `study_id` may use: those shared with it (every key, for admins,
    /// since choosing one shares it).
    pub async fn keys_for_study(&self, study_id: i64, admin: bool) -> Result<Vec<NamedRef>, Error> {
        Ok(self
            .list()
            .await?
            .into_iter()
            .filter(|c| c.kind == CredentialKind::SshKey && (admin || c.studies.iter().any(|s| s.id == study_id)))
            .map(|c| NamedRef { id: c.id, name: c.name })
            .collect())
    }

    /// Shares an SSH key with a study (`shared`), or stops sharing it: a key still used by
    /// hosts of the study stays shared.
    pub async fn share(&self, actor: &Actor, id: i64, study_id: i64, shared: bool) -> Result<(), Error> {
        let row = self.store.credential(id).await.or_not_found("The credential")?;
        if row.kind != CredentialKind::SshKey.as_str() {
            return Err(Error::invalid("credential_id", "Only SSH keys are shared with studies"));
        }
        let study = self.store.study(study_id, 0).await.or_not_found("The study")?;
        let changed = if shared {
            self.store.share_credential(id, study_id).await?
        } else {
            let using = self.store.hosts_using_credential_in_study(id, study_id).await?;
            if using > 0 {
                return Err(Error::Invalid {
                    field: None,
                    message: format!(
                        "{} is used by {using} host(s) of {}; give them another key first",
                        row.name, study.name
                    ),
                });
            }
            self.store.unshare_credential(id, study_id).await?
        };
        if changed {
            let action = if shared { "credential.shared" } else { "credential.unshared" };
            self.audit.record(actor, action, &format!("credential {}", row.name), &study.name).await;
        }
        Ok(())
    }

    /// An HMAC-SHA256 of `message` under a key derived from the master key for `purpose`:
    /// the same on every replica, and different for each purpose.
    pub fn mac(&self, purpose: &str, message: &[u8]) -> [u8; 32] {
        use hmac::Mac;
        type HmacSha256 = hmac::Hmac<Sha256>;
        let derived = <HmacSha256 as Mac>::new_from_slice(&*self.key.key)
            .map(|mac| mac.chain_update(purpose.as_bytes()).finalize().into_bytes());
        // HMAC takes keys of any length: neither call can fail.
        let Ok(derived) = derived else { return [0; 32] };
        <HmacSha256 as Mac>::new_from_slice(&derived)
            .map(|mac| mac.chain_update(message).finalize().into_bytes().into())
            .unwrap_or([0; 32])
    }

    /// Another process may have rotated the key (on Postgres several replicas share the
    /// vault): refuse to write or read with a key that is no longer the vault's.
    async fn ensure_current_key(&self) -> Result<(), Error> {
        match self.store.key_check().await? {
            Some(check) if check.key_id != self.key.id => Err(Error::Invalid {
                field: None,
                message: format!(
                    "The vault's master key was rotated to {} while this Steward was running; restart it",
                    check.key_id
                ),
            }),
            _ => Ok(()),
        }
    }

    async fn insert(
        &self,
        actor: &Actor,
        name: &str,
        kind: CredentialKind,
        secret: &[u8],
        public: &str,
        fingerprint: &str,
    ) -> Result<CredentialSummary, Error> {
        self.ensure_current_key().await?;
        let (nonce, ciphertext) = self.key.seal(&aad(kind.as_str(), name), secret).map_err(Error::internal)?;
        let id = self
            .store
            .insert_credential(
                &NewCredential {
                    name,
                    kind: kind.as_str(),
                    public_part: public,
                    fingerprint,
                    nonce: &nonce,
                    ciphertext: &ciphertext,
                    created_by: actor.username.as_deref(),
                },
                self.clock.now(),
            )
            .await
            .map_err(|err| match err {
                StoreError::Conflict(_) => {
                    Error::conflict("name", format!("A credential named {name:?} already exists"))
                }
                other => Error::from(other),
            })?;
        let detail = if fingerprint.is_empty() { kind.to_string() } else { format!("{kind} {fingerprint}") };
        self.audit.record(actor, "credential.created", &format!("credential {name}"), &detail).await;
        Ok(summary(self.store.credential(id).await?))
    }

    /// Stores a private key (OpenSSH format) with its public line and fingerprint.
    async fn insert_ssh_key(&self, actor: &Actor, name: &str, key: &PrivateKey) -> Result<CredentialSummary, Error> {
        let private = key.to_openssh(LineEnding::LF).map_err(Error::internal)?;
        let public = key.public_key().to_openssh().map_err(Error::internal)?;
        let fingerprint = key.public_key().fingerprint(HashAlg::Sha256).to_string();
        self.insert(actor, name, CredentialKind::SshKey, private.as_bytes(), &public, &fingerprint).await
    }

    /// A new ed25519 key; the UI shows its public half to paste into `authorized_keys`.
    pub async fn generate_ssh_key(&self, actor: &Actor, name: &str) -> Result<CredentialSummary, Error> {
        let name = normalize_name(name)?;
        let mut key = PrivateKey::random(&mut OsRng, Algorithm::Ed25519).map_err(Error::internal)?;
        key.set_comment(format!("steward:{name}"));
        self.insert_ssh_key(actor, &name, &key).await
    }

    /// An existing OpenSSH private key, decrypted with its passphrase if it has one.
    pub async fn import_ssh_key(
        &self,
        actor: &Actor,
        name: &str,
        text: &str,
        passphrase: &str,
    ) -> Result<CredentialSummary, Error> {
        let name = normalize_name(name)?;
        let text = text.trim();
        if text.contains("BEGIN RSA PRIVATE KEY")
            || text.contains("BEGIN EC PRIVATE KEY")
            || text.contains("BEGIN PRIVATE KEY")
        {
            return Err(Error::invalid(
                "private_key",
                "This is a PEM key; convert it to the OpenSSH format first: ssh-keygen -p -o -f KEYFILE",
            ));
        }
        let key = PrivateKey::from_openssh(text)
            .map_err(|err| Error::invalid("private_key", format!("Not an OpenSSH private key: {err}")))?;
        let key = if key.is_encrypted() {
            if passphrase.is_empty() {
                return Err(Error::invalid("passphrase", "This key is protected; enter its passphrase"));
            }
            key.decrypt(passphrase.as_bytes())
                .map_err(|_| Error::invalid("passphrase", "Wrong passphrase for this key"))?
        } else {
            key
        };
        self.insert_ssh_key(actor, &name, &key).await
    }

    /// A password or API key.
    pub async fn store_secret(
        &self,
        actor: &Actor,
        name: &str,
        kind: CredentialKind,
        secret: &str,
    ) -> Result<CredentialSummary, Error> {
        let name = normalize_name(name)?;
        if kind == CredentialKind::SshKey {
            return Err(Error::invalid("kind", "Generate or import SSH keys instead"));
        }
        if secret.is_empty() {
            return Err(Error::invalid("secret", "Enter the secret"));
        }
        self.insert(actor, &name, kind, secret.as_bytes(), "", "").await
    }

    pub async fn delete(&self, actor: &Actor, id: i64) -> Result<(), Error> {
        let row = self.store.credential(id).await.or_not_found("The credential")?;
        if row.used_by_hosts > 0 {
            return Err(Error::Invalid {
                field: None,
                message: format!(
                    "{} is used by {} host(s); give them another credential first",
                    row.name, row.used_by_hosts
                ),
            });
        }
        self.store.delete_credential(id).await?;
        self.audit.record(actor, "credential.deleted", &format!("credential {}", row.name), "").await;
        Ok(())
    }

    /// Seals a secret that belongs to `scope` (a secret setting of an instance...) rather than
    /// being a credential of its own; returns its id.
    pub async fn seal_value(&self, scope: &str, instance_id: Option<i64>, secret: &str) -> Result<i64, Error> {
        self.ensure_current_key().await?;
        let (nonce, ciphertext) =
            self.key.seal(&aad(SEALED_VALUE_KIND, scope), secret.as_bytes()).map_err(Error::internal)?;
        self.store
            .insert_sealed_value(scope, instance_id, &nonce, &ciphertext, self.clock.now())
            .await
            .map_err(Error::from)
    }

    /// A sealed value, for use on the server only.
    pub async fn open_value(&self, id: i64) -> Result<Zeroizing<String>, Error> {
        self.ensure_current_key().await?;
        let row = self.store.sealed_value(id).await.or_not_found("A stored secret")?;
        let plain = self.key.open(&aad(&row.kind, &row.name), &row.nonce, &row.ciphertext).map_err(Error::internal)?;
        String::from_utf8(plain.to_vec()).map(Zeroizing::new).map_err(Error::internal)
    }

    /// The secret of an entry, for use on the server only (never to the browser or the log).
    pub async fn reveal(&self, id: i64) -> Result<Zeroizing<Vec<u8>>, Error> {
        self.ensure_current_key().await?;
        let row = self.store.sealed_credential(id).await?;
        self.key.open(&aad(&row.kind, &row.name), &row.nonce, &row.ciphertext).map_err(Error::internal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_entries_open_only_with_their_key_and_binding() {
        let key = MasterKey::generate();
        let (nonce, ciphertext) = key.seal(b"a", b"secret").unwrap();
        assert_eq!(key.open(b"a", &nonce, &ciphertext).unwrap().as_slice(), b"secret");
        assert!(key.open(b"b", &nonce, &ciphertext).is_err(), "bound to its entry");
        assert!(MasterKey::generate().open(b"a", &nonce, &ciphertext).is_err(), "bound to its key");
        assert!(key.opens(&key.key_check().unwrap()));
        assert!(!MasterKey::generate().opens(&key.key_check().unwrap()));
    }

    #[test]
    fn key_files_are_private_and_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        let key = MasterKey::generate();
        write_key(&path, &key).unwrap();
        assert_eq!(read_key(&path).unwrap().id, key.id);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        std::fs::write(&path, "not a key").unwrap();
        assert!(read_key(&path).unwrap_err().to_string().contains("is not a Steward master key"));
    }
}
