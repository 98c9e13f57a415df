//! Database-backed sessions for tower-sessions, on whichever backend the store uses, so that
//! several Steward replicas share them and a logout ends a session everywhere.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use time::OffsetDateTime;
use tower_sessions::cookie::SameSite;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};
use tower_sessions::{Expiry, SessionManagerLayer};

use crate::auth::tokens::hash_token;
use crate::store::{Store, StoreError};

/// Session key holding the signed-in user's id.
pub const USER_ID: &str = "user_id";
/// Session key holding the login time (unix seconds), for the absolute timeout.
pub const AUTH_AT: &str = "auth_at";
pub const COOKIE_NAME: &str = "steward_session";

/// Expiry times come from tower-sessions, which reads the system clock; so does this store.
#[derive(Debug, Clone)]
pub struct DbSessionStore {
    store: Store,
}

impl DbSessionStore {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// The session layer: HttpOnly, SameSite=Lax, Secure over https, idle timeout.
    pub fn layer(self, secure: bool, idle_minutes: u64) -> SessionManagerLayer<Self> {
        let idle = time::Duration::minutes(i64::try_from(idle_minutes).unwrap_or(i64::MAX / 120));
        SessionManagerLayer::new(self)
            .with_name(COOKIE_NAME)
            .with_http_only(true)
            .with_same_site(SameSite::Lax)
            .with_secure(secure)
            .with_path("/")
            .with_expiry(Expiry::OnInactivity(idle))
    }
}

fn key(id: &Id) -> String {
    hash_token(&id.to_string())
}

fn to_chrono(at: OffsetDateTime) -> DateTime<Utc> {
    DateTime::from_timestamp(at.unix_timestamp(), at.nanosecond()).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

fn to_time(at: DateTime<Utc>) -> session_store::Result<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp(at.timestamp()).map_err(|err| session_store::Error::Decode(err.to_string()))
}

fn backend(err: StoreError) -> session_store::Error {
    session_store::Error::Backend(err.to_string())
}

fn encode(record: &Record) -> session_store::Result<(String, Option<i64>)> {
    let data = serde_json::to_string(&record.data).map_err(|err| session_store::Error::Encode(err.to_string()))?;
    Ok((data, record.data.get(USER_ID).and_then(serde_json::Value::as_i64)))
}

#[async_trait]
impl SessionStore for DbSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let (data, user_id) = encode(record)?;
        // Ids are 128 random bits; a collision is next to impossible but handled anyway.
        while !self
            .store
            .insert_session(&key(&record.id), user_id, &data, to_chrono(record.expiry_date))
            .await
            .map_err(backend)?
        {
            record.id = Id::default();
        }
        Ok(())
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let (data, user_id) = encode(record)?;
        self.store
            .upsert_session(&key(&record.id), user_id, &data, to_chrono(record.expiry_date))
            .await
            .map_err(backend)
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let Some((data, expires_at)) = self.store.load_session(&key(id), Utc::now()).await.map_err(backend)? else {
            return Ok(None);
        };
        let data: HashMap<String, serde_json::Value> =
            serde_json::from_str(&data).map_err(|err| session_store::Error::Decode(err.to_string()))?;
        Ok(Some(Record { id: *id, data, expiry_date: to_time(expires_at)? }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.store.delete_session(&key(id)).await.map_err(backend)
    }
}
