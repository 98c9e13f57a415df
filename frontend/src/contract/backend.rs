//! The trait the server crate implements so that server functions stay thin: each server
//! function names its endpoint and the [`Scope`] it is about, the server checks them against its
//! access policy in [`Backend::authorize`] (the one place where permissions are enforced), and
//! the function then calls one method with the resulting [`Caller`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use http::request::Parts;

use super::{AlertSettings, AlertSettingsInput, OverrideInput, RotaInput, RotaView};
use super::{AlertSummary, OutboxEntry};
use super::{AppError, AuditEntry, AuditQuery, CredentialKind, CredentialSummary, CurrentUser};
use super::{ConfigOverview, HostDiff, PushInput, RevisionSummary, SettingsInput, StackSummary};
use super::{
    DeletionPreview, GlobalRole, HostDetail, HostHealth, HostInput, HostKeyInfo, HostSummary, InstanceDetail,
    InstanceQuery,
};
use super::{ImportInput, ImportReport, InstanceInput, StudySummary, UserSummary};
use super::{InstanceSummary, OneTimeLink, Page, SetupStatus, StudyDetail, StudyRole};
use super::{JobDetail, JobInput, JobKindSummary, JobQuery, JobSummary, LogLine, ScheduleInput, ScheduleSummary};

pub type Result<T> = std::result::Result<T, AppError>;

/// What a request is about, for study permissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Global,
    Study(i64),
    Instance(i64),
    Host(i64),
    /// A job's study; a fleet-wide job (no study) is for admins only.
    Job(i64),
    /// A schedule's study; a fleet-wide schedule is for admins only.
    Schedule(i64),
    /// An alert's study; an alert about no study is for admins only.
    Alert(i64),
}

/// The checked caller of a server function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user: Option<CurrentUser>,
    /// The study the scope resolved to, and the caller's role in it.
    pub study: Option<(i64, Option<StudyRole>)>,
    pub client_addr: Option<String>,
}

/// Everything the UI asks of the server, one trait per domain, plus the one permission check.
#[async_trait]
pub trait Backend:
    AccountsApi
    + InventoryApi
    + CredentialsApi
    + JobsApi
    + ConfigsApi
    + AlertsApi
    + RotaApi
    + MailApi
    + SystemApi
    + Send
    + Sync
    + 'static
{
    /// Checks this request's caller for `endpoint` on `scope` against the server's access
    /// policy; the only permission check.
    async fn authorize(&self, req: &Parts, endpoint: &'static str, scope: Scope) -> Result<Caller>;
}

/// Setup, login and logout, passwords, users and the audit log.
#[async_trait]
pub trait AccountsApi: Send + Sync {
    async fn setup_status(&self) -> Result<SetupStatus>;
    /// Creates the first admin with a one-time setup token and signs them in.
    async fn complete_setup(
        &self,
        req: &Parts,
        caller: &Caller,
        token: String,
        username: String,
        password: String,
    ) -> Result<()>;
    async fn login(&self, req: &Parts, caller: &Caller, username: String, password: String) -> Result<CurrentUser>;
    async fn logout(&self, req: &Parts, caller: &Caller) -> Result<()>;
    async fn change_password(&self, req: &Parts, caller: &Caller, current: String, new: String) -> Result<()>;
    /// Sets a password with a one-time link (reset or new account).
    async fn redeem_password_link(&self, caller: &Caller, token: String, password: String) -> Result<()>;
    async fn list_users(&self, caller: &Caller) -> Result<Vec<UserSummary>>;
    async fn create_user(
        &self,
        caller: &Caller,
        username: String,
        display_name: String,
        email: String,
        role: GlobalRole,
        password: Option<String>,
    ) -> Result<OneTimeLink>;
    async fn set_user_role(&self, caller: &Caller, user_id: i64, role: GlobalRole) -> Result<()>;
    async fn set_user_disabled(&self, caller: &Caller, user_id: i64, disabled: bool) -> Result<()>;
    async fn reset_password(&self, caller: &Caller, user_id: i64) -> Result<OneTimeLink>;
    async fn audit_log(&self, caller: &Caller, query: AuditQuery) -> Result<Page<AuditEntry>>;
}

/// Studies and their members, instances, hosts and host keys, Ansible import and export.
#[async_trait]
pub trait InventoryApi: Send + Sync {
    /// The studies the caller belongs to (all of them for admins).
    async fn list_studies(&self, caller: &Caller) -> Result<Vec<StudySummary>>;
    async fn create_study(
        &self,
        caller: &Caller,
        name: String,
        description: String,
        contact: String,
    ) -> Result<StudySummary>;
    async fn study(&self, caller: &Caller) -> Result<StudyDetail>;
    async fn update_study(&self, caller: &Caller, name: String, description: String, contact: String) -> Result<()>;
    async fn study_deletion(&self, caller: &Caller) -> Result<DeletionPreview>;
    /// Deletes the study with everything in it; `confirm` must repeat its name.
    async fn delete_study(&self, caller: &Caller, confirm: String) -> Result<()>;
    async fn set_member(&self, caller: &Caller, username: String, role: StudyRole) -> Result<()>;
    async fn remove_member(&self, caller: &Caller, user_id: i64) -> Result<()>;
    /// Instances of the studies where the caller may view the inventory.
    async fn list_instances(&self, caller: &Caller, query: InstanceQuery) -> Result<Page<InstanceSummary>>;
    async fn create_instance(&self, caller: &Caller, input: InstanceInput) -> Result<InstanceSummary>;
    async fn instance(&self, caller: &Caller, instance_id: i64) -> Result<InstanceDetail>;
    async fn update_instance(&self, caller: &Caller, instance_id: i64, input: InstanceInput) -> Result<()>;
    async fn instance_deletion(&self, caller: &Caller, instance_id: i64) -> Result<DeletionPreview>;
    async fn delete_instance(&self, caller: &Caller, instance_id: i64, confirm: String) -> Result<()>;
    async fn add_host(&self, caller: &Caller, instance_id: i64, input: HostInput) -> Result<HostSummary>;
    async fn host(&self, caller: &Caller, host_id: i64) -> Result<HostDetail>;
    /// Asks the host for its keys; they are offered, not trusted.
    async fn scan_host_key(&self, caller: &Caller, host_id: i64) -> Result<Vec<HostKeyInfo>>;
    /// Trusts the offered key with this fingerprint (replacing any pinned one).
    async fn pin_host_key(&self, caller: &Caller, host_id: i64, fingerprint: String) -> Result<()>;
    /// Connects with the pinned keys, collects the host's facts and records the outcome; an
    /// unreachable host is a result (its state says why), not an error.
    async fn check_host(&self, caller: &Caller, host_id: i64) -> Result<HostHealth>;
    async fn update_host(&self, caller: &Caller, host_id: i64, input: HostInput) -> Result<HostSummary>;
    /// Certificate files and units to watch, one per line.
    async fn set_host_watch(&self, caller: &Caller, host_id: i64, certificates: String, units: String) -> Result<()>;
    async fn delete_host(&self, caller: &Caller, host_id: i64) -> Result<()>;
    /// Previews or applies an Ansible inventory import into the caller's study.
    async fn import_inventory(&self, caller: &Caller, input: ImportInput) -> Result<ImportReport>;
    /// The caller's study as a YAML Ansible inventory.
    async fn export_inventory(&self, caller: &Caller) -> Result<String>;
}

/// The vault's credentials: SSH keys and stored secrets, and the studies each key is shared with.
#[async_trait]
pub trait CredentialsApi: Send + Sync {
    async fn list_credentials(&self, caller: &Caller) -> Result<Vec<CredentialSummary>>;
    async fn generate_ssh_key(&self, caller: &Caller, name: String) -> Result<CredentialSummary>;
    async fn import_ssh_key(
        &self,
        caller: &Caller,
        name: String,
        private_key: String,
        passphrase: String,
    ) -> Result<CredentialSummary>;
    async fn store_secret(
        &self,
        caller: &Caller,
        name: String,
        kind: CredentialKind,
        secret: String,
    ) -> Result<CredentialSummary>;
    async fn delete_credential(&self, caller: &Caller, credential_id: i64) -> Result<()>;
    /// Shares an SSH key with a study, or stops sharing it.
    async fn share_credential(&self, caller: &Caller, credential_id: i64, study_id: i64, shared: bool) -> Result<()>;
}

/// Jobs and schedules.
#[async_trait]
pub trait JobsApi: Send + Sync {
    /// Jobs of the studies the caller may see (all, for admins).
    async fn list_jobs(&self, caller: &Caller, query: JobQuery) -> Result<Page<JobSummary>>;
    /// The kinds of job a person may start.
    async fn job_kinds(&self, caller: &Caller) -> Result<Vec<JobKindSummary>>;
    async fn get_job(&self, caller: &Caller, job_id: i64) -> Result<JobDetail>;
    async fn job_log(&self, caller: &Caller, job_id: i64, after: i64) -> Result<Vec<LogLine>>;
    async fn start_job(&self, caller: &Caller, input: JobInput) -> Result<JobSummary>;
    async fn cancel_job(&self, caller: &Caller, job_id: i64) -> Result<String>;
    async fn list_schedules(&self, caller: &Caller) -> Result<Vec<ScheduleSummary>>;
    async fn get_schedule(&self, caller: &Caller, schedule_id: i64) -> Result<ScheduleSummary>;
    /// Creates (`schedule_id` None) or changes a schedule; a schedule stays in its study.
    async fn save_schedule(
        &self,
        caller: &Caller,
        schedule_id: Option<i64>,
        input: ScheduleInput,
    ) -> Result<ScheduleSummary>;
    /// Deletes a schedule whose name was typed in `confirm`.
    async fn delete_schedule(&self, caller: &Caller, schedule_id: i64, confirm: String) -> Result<()>;
    /// The next five due times of a cron expression in a time zone.
    async fn preview_schedule(&self, caller: &Caller, cron: String, timezone: String) -> Result<Vec<DateTime<Utc>>>;
}

/// The outbox and test messages.
#[async_trait]
pub trait MailApi: Send + Sync {
    async fn list_outbox(&self, caller: &Caller, page: u32) -> Result<Page<OutboxEntry>>;
    async fn resend_mail(&self, caller: &Caller, mail_id: i64) -> Result<()>;
    /// Sends a test message now; the answer is the mail server's.
    async fn send_test_mail(&self, caller: &Caller, address: String) -> Result<String>;
}

/// Alerts, acknowledge links and per-study alert settings.
#[async_trait]
pub trait AlertsApi: Send + Sync {
    /// Alerts of the studies the caller may see, in `state` (any when empty).
    async fn list_alerts(&self, caller: &Caller, state: String) -> Result<Vec<AlertSummary>>;
    async fn acknowledge_alert(&self, caller: &Caller, alert_id: i64) -> Result<AlertSummary>;
    /// What a mailed acknowledge link is for (no session needed).
    async fn alert_link(&self, token: String) -> Result<AlertSummary>;
    /// Acknowledges with a mailed link: that alert only, once.
    async fn acknowledge_by_link(&self, token: String) -> Result<AlertSummary>;
    async fn get_alert_settings(&self, caller: &Caller, study_id: i64) -> Result<AlertSettings>;
    async fn save_alert_settings(&self, caller: &Caller, input: AlertSettingsInput) -> Result<AlertSettings>;
}

/// Configuration: stacks, settings, revisions, diffs and pushes.
#[async_trait]
pub trait ConfigsApi: Send + Sync {
    async fn list_stacks(&self, caller: &Caller) -> Result<Vec<StackSummary>>;
    async fn config_overview(&self, caller: &Caller, instance_id: i64) -> Result<ConfigOverview>;
    async fn save_settings(&self, caller: &Caller, input: SettingsInput) -> Result<RevisionSummary>;
    async fn compare_revisions(&self, caller: &Caller, instance_id: i64, from: i64, to: i64) -> Result<Vec<HostDiff>>;
    /// Reads the live files through the agent and compares them with a revision.
    async fn preview_push(&self, caller: &Caller, instance_id: i64, revision: String) -> Result<Vec<HostDiff>>;
    async fn push_config(&self, caller: &Caller, input: PushInput) -> Result<JobSummary>;
}

/// On-call rotas (a study's, or the global one) and their overrides.
#[async_trait]
pub trait RotaApi: Send + Sync {
    async fn get_rota(&self, caller: &Caller, study_id: Option<i64>) -> Result<RotaView>;
    async fn save_rota(&self, caller: &Caller, input: RotaInput) -> Result<RotaView>;
    async fn add_rota_override(&self, caller: &Caller, input: OverrideInput) -> Result<RotaView>;
    async fn delete_rota_override(&self, caller: &Caller, study_id: Option<i64>, override_id: i64) -> Result<RotaView>;
}

/// Steward itself: its background workers.
#[async_trait]
pub trait SystemApi: Send + Sync {
    /// Each background worker's state, last run and last error.
    async fn list_workers(&self, caller: &Caller) -> Result<Vec<super::WorkerStatus>>;
}
