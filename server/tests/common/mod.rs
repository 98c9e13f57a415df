//! Test kit: boots the real Steward router on 127.0.0.1:0 over a fresh SQLite file or a fresh
//! Postgres database, with a clock the test controls, and talks to it over HTTP like the UI does.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use steward::app::{self, AppState};
use steward::clock::ManualClock;
use steward::config::{Config, DatabaseUrl};
use steward_frontend::contract::AppError;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Where the Postgres used by tests lives; each test gets its own database there.
pub fn postgres_admin_url() -> String {
    std::env::var("TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub struct TestApp {
    pub url: String,
    pub state: AppState,
    pub clock: ManualClock,
    pub setup_link: Option<String>,
    shutdown: CancellationToken,
    server: tokio::task::JoinHandle<()>,
    _data_dir: tempfile::TempDir,
    pg_database: Option<String>,
}

impl TestApp {
    pub async fn start(backend: Backend) -> Self {
        Self::start_with(backend, |_| {}).await
    }

    pub async fn start_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> Self {
        let data_dir = tempfile::tempdir().unwrap();
        let mut config = Config::default();
        config.storage.data_dir = data_dir.path().to_path_buf();
        config.auth.hashing_concurrency = 4;
        let pg_database = match backend {
            Backend::Sqlite => {
                config.database.url = DatabaseUrl::new(format!("sqlite://{}/steward.db", data_dir.path().display()));
                None
            }
            Backend::Postgres => {
                let name = format!("steward_test_{}", uuid::Uuid::new_v4().simple());
                admin_sql(&format!("CREATE DATABASE {name}")).await;
                let base = postgres_admin_url();
                let (prefix, _) = base.rsplit_once('/').unwrap();
                config.database.url = DatabaseUrl::new(format!("{prefix}/{name}"));
                Some(name)
            }
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        config.server.bind = addr.to_string();
        config.server.base_url = format!("http://{addr}");
        tweak(&mut config);

        let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap());
        let state = AppState::build_with_clock(config, Arc::new(clock.clone())).await.unwrap();
        let setup_link = state.accounts.issue_setup_link().await.unwrap().map(|link| link.url);
        let shutdown = CancellationToken::new();
        let server = tokio::spawn({
            let (state, shutdown) = (state.clone(), shutdown.clone());
            async move { app::serve(state, listener, shutdown).await.unwrap() }
        });
        Self {
            url: format!("http://{addr}"),
            state,
            clock,
            setup_link,
            shutdown,
            server,
            _data_dir: data_dir,
            pg_database,
        }
    }

    /// A browser-like client with its own cookie jar.
    pub fn client(&self) -> Client {
        Client::new(&self.url)
    }

    pub fn setup_token(&self) -> String {
        self.setup_link.as_ref().unwrap().split("token=").nth(1).unwrap().to_owned()
    }

    /// Sets up the first admin and returns a client logged in as them.
    pub async fn admin(&self) -> Client {
        let client = self.client();
        client.complete_setup(&self.setup_token(), "admin", ADMIN_PASSWORD, ADMIN_PASSWORD).await.unwrap();
        client
    }

    /// A number read straight from the database, as a user checking it with SQL would.
    pub async fn count(&self, sql: &str) -> i64 {
        let url = self.state.config.database.url.expose();
        if self.pg_database.is_some() {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            let n = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap();
            pool.close().await;
            n
        } else {
            let pool = sqlx::SqlitePool::connect(url).await.unwrap();
            let n = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap();
            pool.close().await;
            n
        }
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        let _ = self.server.await;
        self.state.store.close().await;
        if let Some(name) = self.pg_database {
            admin_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
        }
    }
}

#[allow(dead_code)]
pub mod configs;
pub mod fleet;
#[allow(dead_code)]
pub mod process;
#[allow(dead_code)]
pub mod smtp;

pub const ADMIN_PASSWORD: &str = "correct horse battery staple";

pub async fn admin_sql(sql: &str) {
    use sqlx::Connection;
    let url = postgres_admin_url();
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap_or_else(|err| {
        panic!("Postgres at {url} is needed for the Postgres tests (set TEST_POSTGRES_URL): {err}")
    });
    sqlx::Executor::execute(&mut conn, sql).await.unwrap();
}

/// Calls server functions the way the browser bundle does: form-encoded POSTs to `/api/NAME`.
#[derive(Clone)]
pub struct Client {
    pub base: String,
    pub http: reqwest::Client,
    jar: Arc<reqwest::cookie::Jar>,
}

#[derive(Debug)]
pub struct Failure {
    pub status: StatusCode,
    pub error: AppError,
    pub retry_after: Option<String>,
}

impl Client {
    pub fn new(base: &str) -> Self {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        // A request Steward never answers fails the story with its URL instead of waiting on.
        let http = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .timeout(std::time::Duration::from_secs(120))
            .build()
            .unwrap();
        Self { base: base.to_owned(), http, jar }
    }

    /// A new client that presents `cookie` (e.g. one captured before a logout).
    pub fn with_cookie(base: &str, cookie: &str) -> Self {
        let client = Self::new(base);
        client.jar.add_cookie_str(cookie, &base.parse().unwrap());
        client
    }

    pub async fn call<T: DeserializeOwned>(&self, name: &str, form: &[(&str, &str)]) -> Result<T, Failure> {
        let response = self.http.post(format!("{}/api/{name}", self.base)).form(form).send().await.unwrap();
        let status = response.status();
        let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
        let body = response.text().await.unwrap();
        if status.is_success() {
            Ok(serde_json::from_str(&body).unwrap_or_else(|err| panic!("{name}: cannot decode {body:?}: {err}")))
        } else {
            let error = serde_json::from_str(&body).unwrap_or_else(|err| panic!("{name}: {status} {body:?}: {err}"));
            Err(Failure { status, error, retry_after })
        }
    }

    /// A server function's status and raw body, exactly as the browser gets them.
    pub async fn call_raw(&self, name: &str, form: &[(&str, &str)]) -> (StatusCode, String) {
        let response = self.http.post(format!("{}/api/{name}", self.base)).form(form).send().await.unwrap();
        (response.status(), response.text().await.unwrap())
    }

    /// Answers the setup link's form: `token`, the first admin's name, the password twice.
    pub async fn complete_setup(
        &self,
        token: &str,
        username: &str,
        password: &str,
        confirm: &str,
    ) -> Result<(), Failure> {
        let form = [("token", token), ("username", username), ("password", password), ("confirm", confirm)];
        self.call("complete_setup", &form).await
    }

    /// As an admin: a member account named `username` with the shared test password.
    pub async fn create_member(&self, username: &str) {
        let form = [
            ("username", username),
            ("display_name", ""),
            ("email", ""),
            ("role", "member"),
            ("password", USER_PASSWORD),
        ];
        self.call::<serde_json::Value>("create_user", &form).await.unwrap();
    }

    pub async fn login(&self, username: &str, password: &str) -> Result<serde_json::Value, Failure> {
        self.call("login", &[("username", username), ("password", password)]).await
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(format!("{}{path}", self.base)).send().await.unwrap()
    }

    /// The session cookie this client holds, if any.
    pub fn session_cookie(&self) -> Option<String> {
        use reqwest::cookie::CookieStore as _;
        let header = self.jar.cookies(&self.base.parse().unwrap())?;
        header.to_str().unwrap().split("; ").find(|c| c.starts_with("steward_session=")).map(str::to_owned)
    }
}

/// Declares each story once and runs it on both backends.
#[macro_export]
macro_rules! on_both_backends {
    ($($story:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $story() { $crate::common::within_deadline(super::$story($crate::common::Backend::Sqlite)).await } )*
        }
        mod postgres {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $story() { $crate::common::within_deadline(super::$story($crate::common::Backend::Postgres)).await } )*
        }
    };
}

/// The longest any one story may take: a story that waits forever fails with this message
/// instead of holding up the whole suite.
pub const STORY_DEADLINE: std::time::Duration = std::time::Duration::from_secs(600);

pub async fn within_deadline(story: impl std::future::Future<Output = ()>) {
    if tokio::time::timeout(STORY_DEADLINE, story).await.is_err() {
        panic!("the story did not finish within {STORY_DEADLINE:?}: something it waits for never came");
    }
}

/// A study with one instance of two hosts (the second reached through the first), plus one
/// user per study role, a member of no study, and an SSH key in the vault.
pub struct Fixture {
    pub study_id: i64,
    pub instance_id: i64,
    pub jump_host_id: i64,
    pub host_id: i64,
    pub credential_id: i64,
}

pub const ROLE_USERS: [(&str, Option<&str>); 6] = [
    ("member", None),
    ("researcher", Some("researcher")),
    ("viewer", Some("viewer")),
    ("oncall", Some("on-call")),
    ("operator", Some("operator")),
    ("studyadmin", Some("study-admin")),
];
pub const USER_PASSWORD: &str = "a long enough passphrase";

pub async fn fixture(admin: &Client) -> Fixture {
    let study: serde_json::Value =
        admin.call("create_study", &[("name", "Pilot"), ("description", ""), ("contact", "")]).await.unwrap();
    let study_id = study["id"].as_i64().unwrap();
    let sid = study_id.to_string();
    for (username, role) in ROLE_USERS {
        admin.create_member(username).await;
        if let Some(role) = role {
            admin
                .call::<()>("set_member", &[("study_id", &sid), ("username", username), ("role", role)])
                .await
                .unwrap();
        }
    }
    let instance: serde_json::Value = admin
        .call(
            "create_instance",
            &[
                ("study_id", &sid),
                ("input[name]", "production"),
                ("input[stack]", "emission"),
                ("input[environment]", "production"),
                ("input[base_url]", ""),
                ("input[tags]", ""),
                ("input[notes]", ""),
            ],
        )
        .await
        .unwrap();
    let instance_id = instance["id"].as_i64().unwrap();
    let key: serde_json::Value = admin.call("generate_ssh_key", &[("name", "steward-key")]).await.unwrap();
    let credential_id = key["id"].as_i64().unwrap();
    let iid = instance_id.to_string();
    let jump: serde_json::Value = admin
        .call("add_host", &host_form(&iid, "webapp", "web", "127.0.0.1", &credential_id.to_string(), ""))
        .await
        .unwrap();
    let jump_host_id = jump["id"].as_i64().unwrap();
    let host: serde_json::Value = admin
        .call(
            "add_host",
            &host_form(&iid, "database", "database", "10.0.0.2", &credential_id.to_string(), &jump_host_id.to_string()),
        )
        .await
        .unwrap();
    Fixture { study_id, instance_id, jump_host_id, host_id: host["id"].as_i64().unwrap(), credential_id }
}

/// Steward's SSH key and a study with one generic instance "prod" (the instance's id, as text).
#[allow(dead_code)]
pub async fn study_with_key(admin: &Client, study: &str) -> (steward_frontend::contract::CredentialSummary, String) {
    let key = admin.call("generate_ssh_key", &[("name", "steward")]).await.unwrap();
    let study: serde_json::Value =
        admin.call("create_study", &[("name", study), ("description", ""), ("contact", "")]).await.unwrap();
    let instance: serde_json::Value = admin
        .call(
            "create_instance",
            &[
                ("study_id", &study["id"].to_string()),
                ("input[name]", "prod"),
                ("input[stack]", "generic"),
                ("input[environment]", "production"),
            ],
        )
        .await
        .unwrap();
    (key, instance["id"].to_string())
}

pub fn host_form<'a>(
    instance_id: &'a str,
    name: &'a str,
    roles: &'a str,
    address: &'a str,
    credential: &'a str,
    jump: &'a str,
) -> Vec<(&'static str, &'a str)> {
    vec![
        ("instance_id", instance_id),
        ("input[name]", name),
        ("input[roles]", roles),
        ("input[address]", address),
        ("input[ssh_port]", "22"),
        ("input[ssh_user]", "steward"),
        ("input[credential]", credential),
        ("input[jump_host]", jump),
    ]
}

/// An instance with real hosts whose keys are trusted, and the admin who made it.
#[allow(dead_code)]
pub struct Fleet {
    pub admin: Client,
    pub instance_id: String,
    pub hosts: Vec<(i64, fleet::FleetHost)>,
}

/// An instance "prod" (generic stack) with `n` real hosts (role web) whose keys are trusted.
#[allow(dead_code)]
pub async fn trusted_fleet(app: &TestApp, n: usize) -> Fleet {
    let admin = app.admin().await;
    let (key, instance_id) = study_with_key(&admin, "Fleet").await;
    let mut hosts = Vec::new();
    for i in 0..n {
        let host = fleet::FleetHost::start(&key.public_key);
        let id = add_trusted_host(app, &admin, &instance_id, &format!("h{i}"), "web", key.id, &host).await;
        hosts.push((id, host));
    }
    Fleet { admin, instance_id, hosts }
}

#[allow(dead_code)]
/// A new instance of `stack` in the study, on the fleet's real host (all roles, key trusted).
pub async fn instance_on(app: &TestApp, admin: &Client, study: &str, stack: &str, host: &fleet::FleetHost) -> String {
    let instance: serde_json::Value = admin
        .call(
            "create_instance",
            &[
                ("study_id", study),
                ("input[name]", stack),
                ("input[stack]", stack),
                ("input[environment]", "production"),
            ],
        )
        .await
        .unwrap();
    let instance = instance["id"].to_string();
    let credentials: Vec<serde_json::Value> = admin.call("list_credentials", &[]).await.unwrap();
    let credential = credentials[0]["id"].as_i64().unwrap();
    add_trusted_host(app, admin, &instance, "all-in-one", "all", credential, host).await;
    instance
}

/// Adds the fleet's real `host` to the instance as `name` with `roles`, reached with the
/// vault's key `credential`, and trusts its key. Returns the host's id.
pub async fn add_trusted_host(
    app: &TestApp,
    admin: &Client,
    instance: &str,
    name: &str,
    roles: &str,
    credential: i64,
    host: &fleet::FleetHost,
) -> i64 {
    let (port, credential) = (host.port.to_string(), credential.to_string());
    let mut form = host_form(instance, name, roles, "127.0.0.1", &credential, "");
    form[4].1 = &port;
    form[5].1 = &host.user;
    let added: serde_json::Value = admin.call("add_host", &form).await.unwrap();
    let id = added["id"].as_i64().unwrap();
    let cli = steward::services::audit::Actor::cli();
    app.state.ssh.scan(&cli, id).await.unwrap();
    app.state.ssh.pin(&cli, id, &host.fingerprint()).await.unwrap();
    id
}

#[allow(dead_code)]
/// The study an instance belongs to (its id, as text).
pub async fn study_of(admin: &Client, instance: &str) -> String {
    let detail: serde_json::Value = admin.call("get_instance", &[("instance_id", instance)]).await.unwrap();
    detail["instance"]["study_id"].to_string()
}

/// A new user with `role` in the study, signed in.
#[allow(dead_code)]
pub async fn member_with_role(app: &TestApp, admin: &Client, study: &str, username: &str, role: &str) -> Client {
    admin.create_member(username).await;
    admin.call::<()>("set_member", &[("study_id", study), ("username", username), ("role", role)]).await.unwrap();
    let client = app.client();
    client.login(username, USER_PASSWORD).await.unwrap();
    client
}

/// Waits (up to two minutes) until the job has finished, and returns it.
#[allow(dead_code)]
pub async fn finished_job(admin: &Client, job: i64) -> steward_frontend::contract::JobDetail {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let detail: steward_frontend::contract::JobDetail =
            admin.call("get_job", &[("job_id", &job.to_string())]).await.unwrap();
        if detail.job.finished() {
            return detail;
        }
        assert!(std::time::Instant::now() < deadline, "job {job} did not finish: {:?}", detail.job);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
