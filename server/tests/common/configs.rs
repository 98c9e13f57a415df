//! Configuration revisions as the config tests save and compare them.

use steward_frontend::contract::{HostDiff, RevisionSummary};

use super::Client;

/// Saves the instance's settings (`name`, text value) as a new revision.
pub async fn save(admin: &Client, instance: &str, message: &str, values: &[(String, String)]) -> RevisionSummary {
    let mut form: Vec<(String, String)> =
        vec![("input[instance_id]".into(), instance.into()), ("input[message]".into(), message.into())];
    form.extend(values.iter().map(|(k, v)| (format!("input[values][{k}]"), v.clone())));
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    admin.call("save_settings", &form).await.unwrap()
}

/// What changes, host by host, from revision `from` to revision `to`.
pub async fn compare(client: &Client, instance: &str, from: i64, to: i64) -> Vec<HostDiff> {
    let (from, to) = (from.to_string(), to.to_string());
    client.call("compare_revisions", &[("instance_id", instance), ("from", &from), ("to", &to)]).await.unwrap()
}
