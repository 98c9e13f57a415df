//! Accounts: the first-run setup, login with throttling, passwords and one-time links, and the
//! admin's user management. Every change is audited.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use steward_frontend::contract::{GlobalRole, UserSummary};

use crate::auth::passwords::PasswordHasher;
use crate::auth::tokens::{hash_token, new_token};
use crate::clock::SharedClock;
use crate::config::Config;
use crate::services::audit::{Actor, Audit};
use crate::services::error::{Error, OrNotFound};
use crate::store::{Attempt, NewUser, Store, StoreError, ThrottleRule, TokenPurpose, UserRow};

type Result<T> = std::result::Result<T, Error>;

/// Attempts on one account: five, then a growing wait, up to 15 minutes.
const PER_USER: ThrottleRule = ThrottleRule { allowed: 5, step_secs: 1, max_delay_secs: 15 * 60, memory_secs: 3600 };
/// Attempts from one address: twenty, then a growing wait of at most a minute. An address can
/// be a whole organisation behind one proxy: it is slowed down, never locked out, and a
/// successful login clears it.
pub const PER_ADDRESS: ThrottleRule = ThrottleRule { allowed: 20, step_secs: 1, max_delay_secs: 60, memory_secs: 3600 };
/// Longest username there can be; longer names fail without becoming a throttle key.
const MAX_USERNAME: usize = 64;

const WRONG_CREDENTIALS: &str = "Wrong username or password";

/// A one-time link to hand to someone, and when it stops working.
#[derive(Debug, Clone)]
pub struct Link {
    pub url: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct Accounts {
    store: Store,
    hasher: PasswordHasher,
    clock: SharedClock,
    config: Arc<Config>,
    audit: Audit,
}

pub fn summary(row: &UserRow) -> UserSummary {
    UserSummary {
        id: row.id,
        username: row.username.clone(),
        display_name: row.display_name.clone(),
        email: row.email.clone(),
        role: role_of(row),
        disabled: row.disabled,
        created_at: row.created_at,
        last_login_at: row.last_login_at,
    }
}

pub fn role_of(row: &UserRow) -> GlobalRole {
    GlobalRole::parse(&row.role).unwrap_or(GlobalRole::Member)
}

/// Lower-case letters, digits, `.`, `-`, `_`; 1 to 64 characters, starting with a letter or digit.
pub fn normalize_username(raw: &str) -> Result<String> {
    let name = raw.trim().to_lowercase();
    if name.is_empty() {
        return Err(Error::invalid("username", "Enter a username"));
    }
    if name.len() > 64 {
        return Err(Error::invalid("username", "A username has at most 64 characters"));
    }
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric())
        || !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-' | '_'))
    {
        return Err(Error::invalid(
            "username",
            "Use lower-case letters, digits, dot, dash and underscore, starting with a letter or digit",
        ));
    }
    Ok(name)
}

fn normalize_email(raw: &str) -> Result<Option<String>> {
    let email = raw.trim();
    if email.is_empty() {
        return Ok(None);
    }
    let valid = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';'))
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
        });
    if valid {
        Ok(Some(email.to_owned()))
    } else {
        Err(Error::invalid("email", format!("{email:?} is not an email address")))
    }
}

impl Accounts {
    pub fn new(store: Store, hasher: PasswordHasher, clock: SharedClock, config: Arc<Config>, audit: Audit) -> Self {
        Self { store, hasher, clock, config, audit }
    }

    fn validate_password(&self, username: &str, password: &str, field: &str) -> Result<()> {
        let min = self.config.auth.min_password_length;
        let length = password.chars().count();
        if length < min {
            return Err(Error::invalid(field, format!("Use at least {min} characters")));
        }
        if length > 1024 {
            return Err(Error::invalid(field, "Use at most 1024 characters"));
        }
        if password.to_lowercase().contains(username) {
            return Err(Error::invalid(field, "The password must not contain the username"));
        }
        Ok(())
    }

    async fn hash(&self, password: String) -> Result<String> {
        self.hasher.hash(password).await.map_err(Error::internal)
    }

    fn link(&self, path: &str, token: &str, expires_at: DateTime<Utc>) -> Link {
        Link { url: format!("{}{path}?token={token}", self.config.server.base_url), expires_at }
    }

    pub async fn needs_setup(&self) -> Result<bool> {
        Ok(self.store.count_users().await? == 0)
    }

    /// On a start with no users: a fresh one-time link for creating the first admin.
    pub async fn issue_setup_link(&self) -> Result<Option<Link>> {
        if !self.needs_setup().await? {
            return Ok(None);
        }
        let token = new_token();
        let now = self.clock.now();
        let minutes = i64::try_from(self.config.auth.setup_link_minutes).unwrap_or(60);
        let expires_at = now + Duration::minutes(minutes);
        self.store.insert_token(TokenPurpose::Setup, &hash_token(&token), None, now, expires_at).await?;
        Ok(Some(self.link("/setup", &token, expires_at)))
    }

    pub async fn complete_setup(
        &self,
        actor: &Actor,
        token: &str,
        username: &str,
        password: String,
    ) -> Result<UserRow> {
        let username = normalize_username(username)?;
        self.validate_password(&username, &password, "password")?;
        if !self.needs_setup().await? {
            return Err(Error::Invalid { field: None, message: "Steward is already set up; log in instead".into() });
        }
        let hash = self.hash(password).await?;
        match self.store.consume_token(TokenPurpose::Setup, &hash_token(token.trim()), self.clock.now()).await {
            Ok(_) => {}
            Err(StoreError::NotFound) => {
                return Err(Error::Invalid {
                    field: None,
                    message: "This setup link is not valid: it was used already or has expired. Restart Steward to get a new one.".into(),
                });
            }
            Err(err) => return Err(Error::from(err)),
        }
        let user = self
            .store
            .insert_user(
                &NewUser {
                    username: &username,
                    display_name: &username,
                    email: None,
                    password_hash: Some(&hash),
                    role: "admin",
                },
                self.clock.now(),
            )
            .await?;
        let actor = Actor { user_id: Some(user.id), username: Some(user.username.clone()), ..actor.clone() };
        self.audit.record(&actor, "setup.completed", &format!("user {}", user.username), "first admin created").await;
        Ok(user)
    }

    /// Checks a login. Unknown users and wrong passwords get the same answer in the same time;
    /// every attempt is counted against the account and the client address before the password
    /// is checked, so concurrent attempts cannot get past the limit.
    pub async fn authenticate(&self, actor: &Actor, username: &str, password: String) -> Result<UserRow> {
        let name = username.trim().to_lowercase();
        // A name no account can have is not kept anywhere (throttle key, audit) whole.
        let name = if name.len() > MAX_USERNAME { None } else { Some(name) };
        let user_key = name.as_ref().map(|name| format!("user:{name}"));
        let addr_key = actor.client_addr.as_ref().map(|addr| format!("addr:{addr}"));
        let now = self.clock.now().timestamp();
        let keys = [(addr_key.as_ref(), &PER_ADDRESS), (user_key.as_ref(), &PER_USER)];
        for (key, rule) in keys.iter().filter_map(|(key, rule)| Some((key.as_ref()?, *rule))) {
            if let Attempt::Waiting { until } = self.store.reserve_attempt(key, now, rule).await? {
                let wait = u64::try_from(until - now).unwrap_or(0).max(1);
                return Err(Error::TooManyAttempts { retry_after_secs: wait });
            }
        }
        let user = match &name {
            Some(name) => self.store.user_by_name(name).await?,
            None => None,
        };
        let hash = user.as_ref().filter(|u| !u.disabled).and_then(|u| u.password_hash.clone());
        let verified = self.hasher.verify(hash, password).await.map_err(Error::internal)?;
        match user {
            Some(user) if verified => {
                for key in [&user_key, &addr_key].into_iter().flatten() {
                    self.store.clear_throttle(key).await?;
                }
                self.store.touch_login(user.id, self.clock.now()).await?;
                let actor = Actor { user_id: Some(user.id), username: Some(user.username.clone()), ..actor.clone() };
                self.audit.record(&actor, "user.login", &format!("user {}", user.username), "").await;
                Ok(user)
            }
            _ => {
                let target = format!("user {}", name.as_deref().unwrap_or("(a name too long to be one)"));
                self.audit.record(actor, "user.login_failed", &target, WRONG_CREDENTIALS).await;
                Err(Error::Invalid { field: None, message: WRONG_CREDENTIALS.into() })
            }
        }
    }

    /// Forgets login counters that hold nothing back any more.
    pub async fn prune_throttle(&self) -> Result<u64> {
        self.store.prune_throttle(self.clock.now().timestamp(), PER_ADDRESS.memory_secs).await.map_err(Error::from)
    }

    /// The user with this id, if there is one.
    pub async fn find(&self, id: i64) -> Result<Option<UserRow>> {
        match self.store.user_by_id(id).await {
            Ok(user) => Ok(Some(user)),
            Err(StoreError::NotFound) => Ok(None),
            Err(err) => Err(err.into()),
        }
    }

    pub async fn user(&self, id: i64) -> Result<UserRow> {
        self.store.user_by_id(id).await.or_not_found("The user")
    }

    pub async fn user_by_name(&self, username: &str) -> Result<UserRow> {
        let name = normalize_username(username)?;
        self.store.user_by_name(&name).await?.ok_or_else(|| Error::not_found(format!("User {name}")))
    }

    pub async fn list(&self) -> Result<Vec<UserRow>> {
        self.store.list_users().await.map_err(Error::from)
    }

    /// Changes the caller's own password after checking the current one; other sessions end.
    pub async fn change_password(&self, actor: &Actor, user: &UserRow, current: String, new: String) -> Result<()> {
        self.validate_password(&user.username, &new, "password")?;
        if !self.hasher.verify(user.password_hash.clone(), current).await.map_err(Error::internal)? {
            return Err(Error::invalid("current", "The current password is wrong"));
        }
        let hash = self.hash(new).await?;
        self.store.set_password_hash(user.id, &hash, self.clock.now()).await?;
        self.store.delete_user_sessions(user.id).await?;
        self.audit.record(actor, "user.password_changed", &format!("user {}", user.username), "").await;
        Ok(())
    }

    /// Sets a password with a one-time link; returns the user, whose other sessions end.
    pub async fn redeem_password_link(&self, actor: &Actor, token: &str, password: String) -> Result<UserRow> {
        let invalid = || Error::Invalid {
            field: None,
            message: "This link is not valid: it was used already or has expired. Ask an admin for a new one.".into(),
        };
        let token_hash = hash_token(token.trim());
        // Look first, consume last: a password that fails the rules leaves the link usable.
        let user_id = match self.store.peek_token(TokenPurpose::Password, &token_hash, self.clock.now()).await {
            Ok(Some(id)) => id,
            Ok(None) | Err(StoreError::NotFound) => return Err(invalid()),
            Err(err) => return Err(Error::from(err)),
        };
        let user = self.user(user_id).await?;
        self.validate_password(&user.username, &password, "password")?;
        match self.store.consume_token(TokenPurpose::Password, &token_hash, self.clock.now()).await {
            Ok(Some(id)) if id == user_id => {}
            Ok(_) | Err(StoreError::NotFound) => return Err(invalid()),
            Err(err) => return Err(Error::from(err)),
        }
        let hash = self.hash(password).await?;
        self.store.set_password_hash(user.id, &hash, self.clock.now()).await?;
        self.store.delete_user_sessions(user.id).await?;
        let actor = Actor { user_id: Some(user.id), username: Some(user.username.clone()), ..actor.clone() };
        self.audit
            .record(&actor, "user.password_set", &format!("user {}", user.username), "with a one-time link")
            .await;
        Ok(user)
    }

    /// Creates a user. Without a password, returns a one-time link for them to choose one.
    pub async fn create_user(
        &self,
        actor: &Actor,
        username: &str,
        display_name: &str,
        email: &str,
        role: GlobalRole,
        password: Option<String>,
    ) -> Result<(UserRow, Option<Link>)> {
        let username = normalize_username(username)?;
        let email = normalize_email(email)?;
        let display_name = display_name.trim();
        if display_name.chars().count() > 200 {
            return Err(Error::invalid("display_name", "A name has at most 200 characters"));
        }
        let display_name = if display_name.is_empty() { username.as_str() } else { display_name };
        let hash = match password {
            Some(password) => {
                self.validate_password(&username, &password, "password")?;
                Some(self.hash(password).await?)
            }
            None => None,
        };
        let user = self
            .store
            .insert_user(
                &NewUser {
                    username: &username,
                    display_name,
                    email: email.as_deref(),
                    password_hash: hash.as_deref(),
                    role: role.as_str(),
                },
                self.clock.now(),
            )
            .await
            .map_err(|err| match err {
                StoreError::Conflict(_) => {
                    Error::conflict("username", format!("A user named {username} already exists"))
                }
                other => Error::from(other),
            })?;
        self.audit.record(actor, "user.created", &format!("user {}", user.username), &format!("role {role}")).await;
        let link = match hash {
            Some(_) => None,
            None => Some(self.issue_password_link(user.id).await?),
        };
        Ok((user, link))
    }

    async fn issue_password_link(&self, user_id: i64) -> Result<Link> {
        let token = new_token();
        let now = self.clock.now();
        let hours = i64::try_from(self.config.auth.password_link_hours).unwrap_or(24);
        let expires_at = now + Duration::hours(hours);
        self.store.insert_token(TokenPurpose::Password, &hash_token(&token), Some(user_id), now, expires_at).await?;
        Ok(self.link("/password", &token, expires_at))
    }

    /// A one-time link for a user to set a new password. Their current password keeps working
    /// until they use it.
    pub async fn reset_password(&self, actor: &Actor, user_id: i64) -> Result<(UserRow, Link)> {
        let user = self.user(user_id).await?;
        let link = self.issue_password_link(user.id).await?;
        self.audit
            .record(actor, "user.password_reset", &format!("user {}", user.username), "one-time link issued")
            .await;
        Ok((user, link))
    }

    /// Steward always keeps at least one active admin.
    async fn ensure_admin_remains(&self, user: &UserRow) -> Result<()> {
        if role_of(user) == GlobalRole::Admin && !user.disabled && self.store.count_active_admins().await? <= 1 {
            return Err(Error::Invalid {
                field: None,
                message: format!("{} is the last active admin; make someone else admin first", user.username),
            });
        }
        Ok(())
    }

    pub async fn set_role(&self, actor: &Actor, user_id: i64, role: GlobalRole) -> Result<UserRow> {
        let user = self.user(user_id).await?;
        if role_of(&user) == role {
            return Ok(user);
        }
        if role != GlobalRole::Admin {
            self.ensure_admin_remains(&user).await?;
        }
        self.store.set_role(user.id, role.as_str(), self.clock.now()).await?;
        self.audit
            .record(actor, "user.role_changed", &format!("user {}", user.username), &format!("{} → {role}", user.role))
            .await;
        self.user(user_id).await
    }

    pub async fn set_disabled(&self, actor: &Actor, user_id: i64, disabled: bool) -> Result<UserRow> {
        let user = self.user(user_id).await?;
        if disabled && actor.user_id == Some(user.id) {
            return Err(Error::Invalid { field: None, message: "You cannot disable your own account".into() });
        }
        if disabled {
            self.ensure_admin_remains(&user).await?;
        }
        self.store.set_disabled(user.id, disabled, self.clock.now()).await?;
        if disabled {
            self.store.delete_user_sessions(user.id).await?;
        }
        let action = if disabled { "user.disabled" } else { "user.enabled" };
        self.audit.record(actor, action, &format!("user {}", user.username), "").await;
        self.user(user_id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_normalised_and_checked() {
        assert_eq!(normalize_username("  Alice.B ").unwrap(), "alice.b");
        for bad in ["", "-x", "a b", "a$(id)", "<b>", &"x".repeat(65)] {
            let err = normalize_username(bad).unwrap_err();
            assert!(err.for_field("username").is_some(), "{bad:?} accepted");
        }
    }

    #[test]
    fn emails_are_optional_but_checked() {
        assert_eq!(normalize_email("").unwrap(), None);
        assert_eq!(normalize_email(" oncall@example.org ").unwrap().as_deref(), Some("oncall@example.org"));
        for bad in ["nobody", "a@b", "a b@example.org", "a@example.org, c@d.org", "@example.org"] {
            assert!(normalize_email(bad).is_err(), "{bad:?} accepted");
        }
    }
}
