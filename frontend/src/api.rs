//! Server functions: the UI's calls to the server. Each one is thin: it names the access it
//! needs and what it is about, and hands over to the [`Backend`](crate::contract::Backend),
//! which checks the access first. Endpoints are stable (`/api/<name>`) so tests and scripts can
//! call them too.

use leptos::prelude::*;

use crate::contract::{AlertSettings, AlertSettingsInput, OverrideInput, RotaInput, RotaView};
use crate::contract::{AlertSummary, OutboxEntry, StudyDetail, StudyRole, StudySummary, UserSummary};
use crate::contract::{AppError, AuditEntry, AuditQuery, CredentialKind, CredentialSummary, CurrentUser};
use crate::contract::{ConfigOverview, HostDiff, PushInput, RevisionSummary, SettingsInput, StackSummary};
use crate::contract::{
    DeletionPreview, GlobalRole, HostDetail, HostHealth, HostInput, HostKeyInfo, HostSummary, ImportInput,
    ImportReport, InstanceDetail, InstanceInput,
};
use crate::contract::{InstanceQuery, InstanceSummary, OneTimeLink, Page, SetupStatus};
use crate::contract::{JobDetail, JobInput, JobQuery, JobSummary, LogLine, ScheduleInput, ScheduleSummary};

#[cfg(feature = "ssr")]
mod glue {
    use std::future::Future;
    use std::sync::Arc;

    use http::request::Parts;
    use leptos::prelude::*;

    pub use crate::contract::Permission::*;
    pub use crate::contract::{Access, Scope};
    use crate::contract::{AppError, Backend, Caller};

    /// Checks `access` on `scope`, then runs `call`; gives the HTTP response the status of the
    /// error, if any.
    pub async fn run<T, F, Fut>(access: Access, scope: Scope, call: F) -> Result<T, AppError>
    where
        F: FnOnce(Arc<dyn Backend>, Parts, Caller) -> Fut,
        Fut: Future<Output = Result<T, AppError>>,
    {
        let backend =
            use_context::<Arc<dyn Backend>>().ok_or_else(|| AppError::Internal { request_id: "no-backend".into() })?;
        let parts = use_context::<Parts>().ok_or_else(|| AppError::Internal { request_id: "no-request".into() })?;
        // A plain form post (before the wasm loads) is answered with a redirect back to the
        // form; only calls from the browser bundle or scripts get the error's status.
        let plain_form = parts
            .headers
            .get(http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/html"));
        let result = match backend.authorize(&parts, access, scope).await {
            Ok(caller) => call(backend, parts, caller).await,
            Err(err) => Err(err),
        };
        if let Err(err) = &result
            && !plain_form
            && let Some(options) = use_context::<leptos_axum::ResponseOptions>()
            && let Ok(status) = http::StatusCode::from_u16(err.status_code())
        {
            options.set_status(status);
            if let Some(secs) = err.retry_after_secs()
                && let Ok(value) = http::HeaderValue::from_str(&secs.to_string())
            {
                options.insert_header(http::header::RETRY_AFTER, value);
            }
        }
        result
    }

    /// Only same-origin paths are followed after login, never another origin: a path that
    /// starts with one `/`, with no backslash, whitespace or control character anywhere
    /// (browsers drop tabs and newlines, so `/\t/evil` would become `//evil`), and no more
    /// than fits a header.
    pub fn safe_next(next: Option<String>) -> String {
        match next {
            Some(path)
                if path.starts_with('/')
                    && !path.starts_with("//")
                    && path.len() <= 2048
                    && !path.chars().any(|c| c == '\\' || c.is_whitespace() || c.is_control()) =>
            {
                path
            }
            _ => "/".to_owned(),
        }
    }

    pub fn require_same(password: &str, confirm: &str) -> Result<(), AppError> {
        if password == confirm { Ok(()) } else { Err(AppError::invalid("confirm", "The two passwords do not match")) }
    }
}

#[cfg(feature = "ssr")]
use glue::*;

// --- accounts ------------------------------------------------------------------------------

#[server(prefix = "/api", endpoint = "current_user")]
pub async fn get_current_user() -> Result<Option<CurrentUser>, AppError> {
    run(Access::Public, Scope::Global, |_, _, caller| async move { Ok(caller.user) }).await
}

#[server(prefix = "/api", endpoint = "setup_status")]
pub async fn get_setup_status() -> Result<SetupStatus, AppError> {
    run(Access::Public, Scope::Global, |b, _, _| async move { b.setup_status().await }).await
}

#[server(prefix = "/api", endpoint = "complete_setup")]
pub async fn complete_setup(
    token: String,
    username: String,
    password: String,
    confirm: String,
) -> Result<(), AppError> {
    run(Access::Public, Scope::Global, |b, req, caller| async move {
        require_same(&password, &confirm)?;
        b.complete_setup(&req, &caller, token, username, password).await
    })
    .await?;
    leptos_axum::redirect("/");
    Ok(())
}

#[server(prefix = "/api", endpoint = "login")]
pub async fn login(username: String, password: String, next: Option<String>) -> Result<CurrentUser, AppError> {
    let user =
        run(
            Access::Public,
            Scope::Global,
            |b, req, caller| async move { b.login(&req, &caller, username, password).await },
        )
        .await?;
    leptos_axum::redirect(&safe_next(next));
    Ok(user)
}

#[server(prefix = "/api", endpoint = "logout")]
pub async fn logout() -> Result<(), AppError> {
    run(Access::Public, Scope::Global, |b, req, caller| async move { b.logout(&req, &caller).await }).await?;
    leptos_axum::redirect("/login");
    Ok(())
}

#[server(prefix = "/api", endpoint = "change_password")]
pub async fn change_password(current: String, password: String, confirm: String) -> Result<(), AppError> {
    run(Access::SignedIn, Scope::Global, |b, req, caller| async move {
        require_same(&password, &confirm)?;
        b.change_password(&req, &caller, current, password).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "set_password")]
pub async fn set_password(token: String, password: String, confirm: String) -> Result<(), AppError> {
    run(Access::Public, Scope::Global, |b, _, caller| async move {
        require_same(&password, &confirm)?;
        b.redeem_password_link(&caller, token, password).await
    })
    .await?;
    leptos_axum::redirect("/login?password_set=1");
    Ok(())
}

#[server(prefix = "/api", endpoint = "list_users")]
pub async fn list_users() -> Result<Vec<UserSummary>, AppError> {
    run(Access::Admin, Scope::Global, |b, _, caller| async move { b.list_users(&caller).await }).await
}

#[server(prefix = "/api", endpoint = "create_user")]
pub async fn create_user(
    username: String,
    display_name: String,
    email: String,
    role: GlobalRole,
    password: String,
) -> Result<OneTimeLink, AppError> {
    let password = Some(password).filter(|p| !p.is_empty());
    run(Access::Admin, Scope::Global, |b, _, caller| async move {
        b.create_user(&caller, username, display_name, email, role, password).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "set_user_role")]
pub async fn set_user_role(user_id: i64, role: GlobalRole) -> Result<(), AppError> {
    run(Access::Admin, Scope::Global, |b, _, caller| async move { b.set_user_role(&caller, user_id, role).await }).await
}

#[server(prefix = "/api", endpoint = "set_user_disabled")]
pub async fn set_user_disabled(user_id: i64, disabled: bool) -> Result<(), AppError> {
    run(
        Access::Admin,
        Scope::Global,
        |b, _, caller| async move { b.set_user_disabled(&caller, user_id, disabled).await },
    )
    .await
}

#[server(prefix = "/api", endpoint = "reset_password")]
pub async fn reset_password(user_id: i64) -> Result<OneTimeLink, AppError> {
    run(Access::Admin, Scope::Global, |b, _, caller| async move { b.reset_password(&caller, user_id).await }).await
}

#[server(prefix = "/api", endpoint = "audit_log")]
pub async fn audit_log(query: AuditQuery) -> Result<Page<AuditEntry>, AppError> {
    run(Access::Admin, Scope::Global, |b, _, caller| async move { b.audit_log(&caller, query).await }).await
}

// --- studies -------------------------------------------------------------------------------

#[server(prefix = "/api", endpoint = "list_studies")]
pub async fn list_studies() -> Result<Vec<StudySummary>, AppError> {
    run(Access::SignedIn, Scope::Global, |b, _, caller| async move { b.list_studies(&caller).await }).await
}

#[server(prefix = "/api", endpoint = "create_study")]
pub async fn create_study(name: String, description: String, contact: String) -> Result<StudySummary, AppError> {
    run(Access::Admin, Scope::Global, |b, _, caller| async move {
        b.create_study(&caller, name, description, contact).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "get_study")]
pub async fn get_study(study_id: i64) -> Result<StudyDetail, AppError> {
    run(Access::Study(SeeStudy), Scope::Study(study_id), |b, _, caller| async move { b.study(&caller).await }).await
}

#[server(prefix = "/api", endpoint = "update_study")]
pub async fn update_study(study_id: i64, name: String, description: String, contact: String) -> Result<(), AppError> {
    run(Access::Study(ManageStudy), Scope::Study(study_id), |b, _, caller| async move {
        b.update_study(&caller, name, description, contact).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "study_deletion")]
pub async fn study_deletion(study_id: i64) -> Result<DeletionPreview, AppError> {
    run(
        Access::Study(ManageStudy),
        Scope::Study(study_id),
        |b, _, caller| async move { b.study_deletion(&caller).await },
    )
    .await
}

#[server(prefix = "/api", endpoint = "delete_study")]
pub async fn delete_study(study_id: i64, confirm: String) -> Result<(), AppError> {
    run(Access::Study(ManageStudy), Scope::Study(study_id), |b, _, caller| async move {
        b.delete_study(&caller, confirm).await
    })
    .await?;
    leptos_axum::redirect("/studies");
    Ok(())
}

#[server(prefix = "/api", endpoint = "set_member")]
pub async fn set_member(study_id: i64, username: String, role: StudyRole) -> Result<(), AppError> {
    run(Access::Study(ManageMembers), Scope::Study(study_id), |b, _, caller| async move {
        b.set_member(&caller, username, role).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "remove_member")]
pub async fn remove_member(study_id: i64, user_id: i64) -> Result<(), AppError> {
    run(Access::Study(ManageMembers), Scope::Study(study_id), |b, _, caller| async move {
        b.remove_member(&caller, user_id).await
    })
    .await
}

// --- instances and hosts -------------------------------------------------------------------

#[server(prefix = "/api", endpoint = "list_instances")]
pub async fn list_instances(query: InstanceQuery) -> Result<Page<InstanceSummary>, AppError> {
    run(Access::SignedIn, Scope::Global, |b, _, caller| async move { b.list_instances(&caller, query).await }).await
}

#[server(prefix = "/api", endpoint = "create_instance")]
pub async fn create_instance(study_id: i64, input: InstanceInput) -> Result<InstanceSummary, AppError> {
    run(Access::Study(ManageInventory), Scope::Study(study_id), |b, _, caller| async move {
        b.create_instance(&caller, input).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "get_instance")]
pub async fn get_instance(instance_id: i64) -> Result<InstanceDetail, AppError> {
    run(Access::Study(ViewInventory), Scope::Instance(instance_id), |b, _, caller| async move {
        b.instance(&caller, instance_id).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "update_instance")]
pub async fn update_instance(instance_id: i64, input: InstanceInput) -> Result<(), AppError> {
    run(Access::Study(ManageInventory), Scope::Instance(instance_id), |b, _, caller| async move {
        b.update_instance(&caller, instance_id, input).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "instance_deletion")]
pub async fn instance_deletion(instance_id: i64) -> Result<DeletionPreview, AppError> {
    run(Access::Study(ManageInventory), Scope::Instance(instance_id), |b, _, caller| async move {
        b.instance_deletion(&caller, instance_id).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "delete_instance")]
pub async fn delete_instance(instance_id: i64, confirm: String) -> Result<(), AppError> {
    run(Access::Study(ManageInventory), Scope::Instance(instance_id), |b, _, caller| async move {
        b.delete_instance(&caller, instance_id, confirm).await
    })
    .await?;
    leptos_axum::redirect("/instances");
    Ok(())
}

#[server(prefix = "/api", endpoint = "add_host")]
pub async fn add_host(instance_id: i64, input: HostInput) -> Result<HostSummary, AppError> {
    run(Access::Study(ManageInventory), Scope::Instance(instance_id), |b, _, caller| async move {
        b.add_host(&caller, instance_id, input).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "get_host")]
pub async fn get_host(host_id: i64) -> Result<HostDetail, AppError> {
    run(
        Access::Study(ViewInventory),
        Scope::Host(host_id),
        |b, _, caller| async move { b.host(&caller, host_id).await },
    )
    .await
}

#[server(prefix = "/api", endpoint = "scan_host_key")]
pub async fn scan_host_key(host_id: i64) -> Result<Vec<HostKeyInfo>, AppError> {
    run(Access::Study(ManageInventory), Scope::Host(host_id), |b, _, caller| async move {
        b.scan_host_key(&caller, host_id).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "pin_host_key")]
pub async fn pin_host_key(host_id: i64, fingerprint: String) -> Result<(), AppError> {
    run(Access::Admin, Scope::Host(host_id), |b, _, caller| async move {
        b.pin_host_key(&caller, host_id, fingerprint).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "check_host")]
pub async fn check_host(host_id: i64) -> Result<HostHealth, AppError> {
    run(Access::Study(RunOperations), Scope::Host(host_id), |b, _, caller| async move {
        b.check_host(&caller, host_id).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "update_host")]
pub async fn update_host(host_id: i64, input: HostInput) -> Result<HostSummary, AppError> {
    run(Access::Study(ManageInventory), Scope::Host(host_id), |b, _, caller| async move {
        b.update_host(&caller, host_id, input).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "set_host_watch")]
pub async fn set_host_watch(host_id: i64, certificates: String, units: String) -> Result<(), AppError> {
    run(Access::Study(ManageInventory), Scope::Host(host_id), |b, _, caller| async move {
        b.set_host_watch(&caller, host_id, certificates, units).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "delete_host")]
pub async fn delete_host(host_id: i64) -> Result<(), AppError> {
    run(Access::Study(ManageInventory), Scope::Host(host_id), |b, _, caller| async move {
        b.delete_host(&caller, host_id).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "import_inventory")]
pub async fn import_inventory(study_id: i64, input: ImportInput) -> Result<ImportReport, AppError> {
    run(Access::Study(ManageInventory), Scope::Study(study_id), |b, _, caller| async move {
        b.import_inventory(&caller, input).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "export_inventory")]
pub async fn export_inventory(study_id: i64) -> Result<String, AppError> {
    run(Access::Study(ViewInventory), Scope::Study(study_id), |b, _, caller| async move {
        b.export_inventory(&caller).await
    })
    .await
}

// --- vault ---------------------------------------------------------------------------------

#[server(prefix = "/api", endpoint = "list_credentials")]
pub async fn list_credentials() -> Result<Vec<CredentialSummary>, AppError> {
    run(Access::Admin, Scope::Global, |b, _, caller| async move { b.list_credentials(&caller).await }).await
}

#[server(prefix = "/api", endpoint = "generate_ssh_key")]
pub async fn generate_ssh_key(name: String) -> Result<CredentialSummary, AppError> {
    run(Access::Admin, Scope::Global, |b, _, caller| async move { b.generate_ssh_key(&caller, name).await }).await
}

#[server(prefix = "/api", endpoint = "import_ssh_key")]
pub async fn import_ssh_key(
    name: String,
    private_key: String,
    passphrase: String,
) -> Result<CredentialSummary, AppError> {
    run(Access::Admin, Scope::Global, |b, _, caller| async move {
        b.import_ssh_key(&caller, name, private_key, passphrase).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "store_secret")]
pub async fn store_secret(name: String, kind: CredentialKind, secret: String) -> Result<CredentialSummary, AppError> {
    run(Access::Admin, Scope::Global, |b, _, caller| async move { b.store_secret(&caller, name, kind, secret).await })
        .await
}

#[server(prefix = "/api", endpoint = "delete_credential")]
pub async fn delete_credential(credential_id: i64) -> Result<(), AppError> {
    run(Access::Admin, Scope::Global, |b, _, caller| async move { b.delete_credential(&caller, credential_id).await })
        .await
}

#[server(prefix = "/api", endpoint = "share_credential")]
pub async fn share_credential(credential_id: i64, study_id: i64, shared: bool) -> Result<(), AppError> {
    run(Access::Admin, Scope::Global, |b, _, caller| async move {
        b.share_credential(&caller, credential_id, study_id, shared).await
    })
    .await
}

// --- jobs and schedules -------------------------------------------------------------------

/// Who may start work on a target: operators of its study; admins for the whole fleet.
#[cfg(feature = "ssr")]
fn operations_on(target_kind: &str, target_id: Option<i64>) -> (Access, Scope) {
    match (target_kind, target_id) {
        ("host", Some(id)) => (Access::Study(RunOperations), Scope::Host(id)),
        ("instance", Some(id)) => (Access::Study(RunOperations), Scope::Instance(id)),
        ("study", Some(id)) => (Access::Study(RunOperations), Scope::Study(id)),
        _ => (Access::Admin, Scope::Global),
    }
}

#[server(prefix = "/api", endpoint = "list_jobs")]
pub async fn list_jobs(query: JobQuery) -> Result<Page<JobSummary>, AppError> {
    run(Access::SignedIn, Scope::Global, |b, _, caller| async move { b.list_jobs(&caller, query).await }).await
}

#[server(prefix = "/api", endpoint = "get_job")]
pub async fn get_job(job_id: i64) -> Result<JobDetail, AppError> {
    run(
        Access::Study(ViewInventory),
        Scope::Job(job_id),
        |b, _, caller| async move { b.get_job(&caller, job_id).await },
    )
    .await
}

#[server(prefix = "/api", endpoint = "job_log")]
pub async fn job_log(job_id: i64, after: i64) -> Result<Vec<LogLine>, AppError> {
    run(Access::Study(ViewInventory), Scope::Job(job_id), |b, _, caller| async move {
        b.job_log(&caller, job_id, after).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "start_job")]
pub async fn start_job(input: JobInput) -> Result<JobSummary, AppError> {
    let (access, scope) = operations_on(&input.target_kind, input.target_id);
    run(access, scope, |b, _, caller| async move { b.start_job(&caller, input).await }).await
}

#[server(prefix = "/api", endpoint = "cancel_job")]
pub async fn cancel_job(job_id: i64) -> Result<String, AppError> {
    run(
        Access::Study(RunOperations),
        Scope::Job(job_id),
        |b, _, caller| async move { b.cancel_job(&caller, job_id).await },
    )
    .await
}

#[server(prefix = "/api", endpoint = "list_schedules")]
pub async fn list_schedules() -> Result<Vec<ScheduleSummary>, AppError> {
    run(Access::SignedIn, Scope::Global, |b, _, caller| async move { b.list_schedules(&caller).await }).await
}

#[server(prefix = "/api", endpoint = "get_schedule")]
pub async fn get_schedule(schedule_id: i64) -> Result<ScheduleSummary, AppError> {
    run(Access::Study(ViewInventory), Scope::Schedule(schedule_id), |b, _, caller| async move {
        b.get_schedule(&caller, schedule_id).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "save_schedule")]
pub async fn save_schedule(schedule_id: Option<i64>, input: ScheduleInput) -> Result<ScheduleSummary, AppError> {
    let (access, scope) = operations_on(&input.target_kind, input.target_id);
    run(access, scope, |b, _, caller| async move { b.save_schedule(&caller, schedule_id, input).await }).await
}

#[server(prefix = "/api", endpoint = "delete_schedule")]
pub async fn delete_schedule(schedule_id: i64, confirm: String) -> Result<(), AppError> {
    run(Access::Study(RunOperations), Scope::Schedule(schedule_id), |b, _, caller| async move {
        b.delete_schedule(&caller, schedule_id, confirm).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "preview_schedule")]
pub async fn preview_schedule(cron: String, timezone: String) -> Result<Vec<chrono::DateTime<chrono::Utc>>, AppError> {
    run(
        Access::SignedIn,
        Scope::Global,
        |b, _, caller| async move { b.preview_schedule(&caller, cron, timezone).await },
    )
    .await
}

// --- mail -----------------------------------------------------------------------------------

#[server(prefix = "/api", endpoint = "list_outbox")]
pub async fn list_outbox(page: u32) -> Result<Page<OutboxEntry>, AppError> {
    run(Access::Admin, Scope::Global, |b, _, caller| async move { b.list_outbox(&caller, page).await }).await
}

#[server(prefix = "/api", endpoint = "resend_mail")]
pub async fn resend_mail(mail_id: i64) -> Result<(), AppError> {
    run(Access::Admin, Scope::Global, |b, _, caller| async move { b.resend_mail(&caller, mail_id).await }).await
}

#[server(prefix = "/api", endpoint = "send_test_mail")]
pub async fn send_test_mail(address: String) -> Result<String, AppError> {
    run(Access::Admin, Scope::Global, |b, _, caller| async move { b.send_test_mail(&caller, address).await }).await
}

// --- alerts ---------------------------------------------------------------------------------

#[server(prefix = "/api", endpoint = "list_alerts")]
pub async fn list_alerts(state: String) -> Result<Vec<AlertSummary>, AppError> {
    run(Access::SignedIn, Scope::Global, |b, _, caller| async move { b.list_alerts(&caller, state).await }).await
}

#[server(prefix = "/api", endpoint = "acknowledge_alert")]
pub async fn acknowledge_alert(alert_id: i64) -> Result<AlertSummary, AppError> {
    run(Access::Study(AcknowledgeAlerts), Scope::Alert(alert_id), |b, _, caller| async move {
        b.acknowledge_alert(&caller, alert_id).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "alert_link")]
pub async fn alert_link(token: String) -> Result<AlertSummary, AppError> {
    run(Access::Public, Scope::Global, |b, _, _| async move { b.alert_link(token).await }).await
}

#[server(prefix = "/api", endpoint = "acknowledge_by_link")]
pub async fn acknowledge_by_link(token: String) -> Result<AlertSummary, AppError> {
    run(Access::Public, Scope::Global, |b, _, _| async move { b.acknowledge_by_link(token).await }).await
}

#[server(prefix = "/api", endpoint = "list_stacks")]
pub async fn list_stacks() -> Result<Vec<StackSummary>, AppError> {
    run(Access::SignedIn, Scope::Global, |b, _, caller| async move { b.list_stacks(&caller).await }).await
}

#[server(prefix = "/api", endpoint = "get_config")]
pub async fn get_config(instance_id: i64) -> Result<ConfigOverview, AppError> {
    run(Access::Study(ViewInventory), Scope::Instance(instance_id), |b, _, caller| async move {
        b.config_overview(&caller, instance_id).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "save_settings")]
pub async fn save_settings(input: SettingsInput) -> Result<RevisionSummary, AppError> {
    run(Access::Study(RunOperations), Scope::Instance(input.instance_id), |b, _, caller| async move {
        b.save_settings(&caller, input).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "compare_revisions")]
pub async fn compare_revisions(instance_id: i64, from: i64, to: i64) -> Result<Vec<HostDiff>, AppError> {
    run(Access::Study(ViewInventory), Scope::Instance(instance_id), |b, _, caller| async move {
        b.compare_revisions(&caller, instance_id, from, to).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "preview_push")]
pub async fn preview_push(instance_id: i64, revision: String) -> Result<Vec<HostDiff>, AppError> {
    run(Access::Study(RunOperations), Scope::Instance(instance_id), |b, _, caller| async move {
        b.preview_push(&caller, instance_id, revision).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "push_config")]
pub async fn push_config(input: PushInput) -> Result<JobSummary, AppError> {
    run(Access::Study(RunOperations), Scope::Instance(input.instance_id), |b, _, caller| async move {
        b.push_config(&caller, input).await
    })
    .await
}

/// The rota's scope: a study's (managed by its admins), or the global one (`0`, admins').
#[cfg(feature = "ssr")]
fn rota_access(study_id: i64, manage: bool) -> (Access, Scope) {
    match (study_id, manage) {
        (0, true) => (Access::Admin, Scope::Global),
        (0, false) => (Access::SignedIn, Scope::Global),
        (id, true) => (Access::Study(ManageStudy), Scope::Study(id)),
        (id, false) => (Access::Study(ViewInventory), Scope::Study(id)),
    }
}

#[server(prefix = "/api", endpoint = "get_rota")]
pub async fn get_rota(study_id: i64) -> Result<RotaView, AppError> {
    let (access, scope) = rota_access(study_id, false);
    run(access, scope, |b, _, caller| async move { b.get_rota(&caller, study_id).await }).await
}

#[server(prefix = "/api", endpoint = "save_rota")]
pub async fn save_rota(input: RotaInput) -> Result<RotaView, AppError> {
    let (access, scope) = rota_access(input.study_id, true);
    run(access, scope, |b, _, caller| async move { b.save_rota(&caller, input).await }).await
}

#[server(prefix = "/api", endpoint = "add_rota_override")]
pub async fn add_rota_override(input: OverrideInput) -> Result<RotaView, AppError> {
    let (access, scope) = rota_access(input.study_id, true);
    run(access, scope, |b, _, caller| async move { b.add_rota_override(&caller, input).await }).await
}

#[server(prefix = "/api", endpoint = "delete_rota_override")]
pub async fn delete_rota_override(study_id: i64, override_id: i64) -> Result<RotaView, AppError> {
    let (access, scope) = rota_access(study_id, true);
    run(access, scope, |b, _, caller| async move { b.delete_rota_override(&caller, study_id, override_id).await }).await
}

#[server(prefix = "/api", endpoint = "get_alert_settings")]
pub async fn get_alert_settings(study_id: i64) -> Result<AlertSettings, AppError> {
    run(Access::Study(ViewInventory), Scope::Study(study_id), |b, _, caller| async move {
        b.get_alert_settings(&caller, study_id).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "save_alert_settings")]
pub async fn save_alert_settings(input: AlertSettingsInput) -> Result<AlertSettings, AppError> {
    run(Access::Study(ManageStudy), Scope::Study(input.study_id), |b, _, caller| async move {
        b.save_alert_settings(&caller, input).await
    })
    .await
}
