//! Who may call what: the one access table for every entry point (server functions, the job
//! log stream and download, and the REST API to come). Each row names an endpoint and the
//! access it needs when the request is about a study (an instance, a host, a job of one...)
//! and when it is about none (the fleet, the global rota). An endpoint without a row is
//! refused, and the route × role test fails for it.

use steward_frontend::contract::Permission::{
    AcknowledgeAlerts, ManageInventory, ManageMembers, ManageStudy, RunOperations, SeeStudy, ViewInventory,
};
use steward_frontend::contract::{Access, Scope};

/// One endpoint's rule.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub endpoint: &'static str,
    /// When the request is about a study.
    pub in_study: Access,
    /// When it is about no study (the whole fleet, the global rota).
    pub global: Access,
}

const fn fixed(endpoint: &'static str, access: Access) -> Rule {
    Rule { endpoint, in_study: access, global: access }
}

const fn study(endpoint: &'static str, permission: steward_frontend::contract::Permission) -> Rule {
    fixed(endpoint, Access::Study(permission))
}

const fn either(endpoint: &'static str, in_study: Access, global: Access) -> Rule {
    Rule { endpoint, in_study, global }
}

use Access::{Admin, Public, SignedIn};

pub const RULES: &[Rule] = &[
    // accounts
    fixed("current_user", Public),
    fixed("setup_status", Public),
    fixed("complete_setup", Public),
    fixed("login", Public),
    fixed("logout", Public),
    fixed("set_password", Public),
    fixed("change_password", SignedIn),
    fixed("list_users", Admin),
    fixed("create_user", Admin),
    fixed("set_user_role", Admin),
    fixed("set_user_disabled", Admin),
    fixed("reset_password", Admin),
    fixed("audit_log", Admin),
    // studies
    fixed("list_studies", SignedIn),
    fixed("create_study", Admin),
    study("get_study", SeeStudy),
    study("update_study", ManageStudy),
    study("study_deletion", ManageStudy),
    study("delete_study", ManageStudy),
    study("set_member", ManageMembers),
    study("remove_member", ManageMembers),
    // instances and hosts
    fixed("list_instances", SignedIn),
    study("create_instance", ManageInventory),
    study("get_instance", ViewInventory),
    study("update_instance", ManageInventory),
    study("instance_deletion", ManageInventory),
    study("delete_instance", ManageInventory),
    study("add_host", ManageInventory),
    study("get_host", ViewInventory),
    study("scan_host_key", ManageInventory),
    fixed("pin_host_key", Admin),
    study("check_host", RunOperations),
    study("update_host", ManageInventory),
    study("set_host_watch", ManageInventory),
    study("delete_host", ManageInventory),
    study("import_inventory", ManageInventory),
    study("export_inventory", ViewInventory),
    // credentials
    fixed("list_credentials", Admin),
    fixed("generate_ssh_key", Admin),
    fixed("import_ssh_key", Admin),
    fixed("store_secret", Admin),
    fixed("delete_credential", Admin),
    fixed("share_credential", Admin),
    // jobs and schedules: a fleet-wide one (no study) is for admins
    fixed("list_jobs", SignedIn),
    fixed("job_kinds", SignedIn),
    either("get_job", Access::Study(ViewInventory), Admin),
    either("job_log", Access::Study(ViewInventory), Admin),
    either("job_events", Access::Study(ViewInventory), Admin),
    either("job_log_file", Access::Study(ViewInventory), Admin),
    either("start_job", Access::Study(RunOperations), Admin),
    either("cancel_job", Access::Study(RunOperations), Admin),
    fixed("list_schedules", SignedIn),
    either("get_schedule", Access::Study(ViewInventory), Admin),
    either("save_schedule", Access::Study(RunOperations), Admin),
    either("delete_schedule", Access::Study(RunOperations), Admin),
    fixed("preview_schedule", SignedIn),
    // configuration
    fixed("list_stacks", SignedIn),
    study("get_config", ViewInventory),
    study("save_settings", RunOperations),
    study("compare_revisions", ViewInventory),
    study("preview_push", RunOperations),
    study("push_config", RunOperations),
    // mail
    fixed("list_outbox", Admin),
    fixed("resend_mail", Admin),
    fixed("send_test_mail", Admin),
    // Steward itself
    fixed("list_workers", Admin),
    // alerts: one about no study is for admins
    fixed("list_alerts", SignedIn),
    either("acknowledge_alert", Access::Study(AcknowledgeAlerts), Admin),
    fixed("alert_link", Public),
    fixed("acknowledge_by_link", Public),
    study("get_alert_settings", ViewInventory),
    study("save_alert_settings", ManageStudy),
    // on-call rotas: a study's, or the global one
    either("get_rota", Access::Study(ViewInventory), SignedIn),
    either("save_rota", Access::Study(ManageStudy), Admin),
    either("add_rota_override", Access::Study(ManageStudy), Admin),
    either("delete_rota_override", Access::Study(ManageStudy), Admin),
];

pub fn rule(endpoint: &str) -> Option<&'static Rule> {
    RULES.iter().find(|rule| rule.endpoint == endpoint)
}

/// The access `endpoint` needs on `scope`, before the scope is resolved: a request about no
/// study at all takes the global rule. (A job, schedule or alert that turns out to belong to no
/// study is handled when it is resolved, with the same rule's global access.)
pub fn required(endpoint: &str, scope: Scope) -> Option<Access> {
    let rule = rule(endpoint)?;
    Some(if scope == Scope::Global { rule.global } else { rule.in_study })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_endpoint_has_one_rule() {
        let mut names: Vec<&str> = RULES.iter().map(|r| r.endpoint).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len(), "an endpoint has two rules");
        assert!(required("no_such_endpoint", Scope::Global).is_none());
        assert_eq!(required("start_job", Scope::Global), Some(Admin));
        assert_eq!(required("start_job", Scope::Instance(1)), Some(Access::Study(RunOperations)));
    }
}
