//! The inventory: studies and their members, instances, hosts. Validates what people type,
//! keeps names and notes exactly as given (they are shown escaped and never reach a shell),
//! and audits every change.

mod hosts;
mod import;
mod instances;
mod studies;

pub use hosts::HostState;

use std::collections::BTreeMap;

use steward_frontend::contract::{FleetSummary, InstanceSummary, Stack, StudyRole, StudySummary};

use crate::clock::SharedClock;
use crate::services::audit::{Actor, Audit};
use crate::services::error::{Error, OrNotFound};
use crate::store::{InstanceRow, Store, StoreError, StudyRow, Viewer};

type Result<T> = std::result::Result<T, Error>;

pub const INSTANCES_PER_PAGE: u32 = 50;

fn study_summary(row: StudyRow) -> StudySummary {
    StudySummary {
        id: row.id,
        my_role: row.my_role.as_deref().and_then(StudyRole::parse),
        name: row.name,
        description: row.description,
        contact: row.contact,
        instance_count: row.instance_count,
        host_count: row.host_count,
    }
}

fn instance_summary(row: InstanceRow, tags: &mut BTreeMap<i64, Vec<String>>) -> InstanceSummary {
    InstanceSummary {
        tags: tags.remove(&row.id).unwrap_or_default(),
        id: row.id,
        study_id: row.study_id,
        study_name: row.study_name,
        name: row.name,
        stack: Stack::stored(row.stack.clone()),
        environment: row.environment,
        base_url: row.base_url,
        status: row.status,
        host_count: row.host_count,
        fleet: FleetSummary::default(),
    }
}

/// Removing a jump host would cut off the hosts behind it.
fn refuse_if_jumped_through(dependants: i64, whose: &str, name: &str) -> Result<()> {
    if dependants > 0 {
        return Err(Error::Invalid {
            field: None,
            message: format!(
                "{dependants} host(s) {whose}reach their server through {name}; change their jump host first"
            ),
        });
    }
    Ok(())
}

#[derive(Clone, Debug)]
pub struct Inventory {
    store: Store,
    clock: SharedClock,
    audit: Audit,
    /// Names of the stacks that loaded (shipped and the operator's): what an instance may run.
    stacks: Vec<String>,
}

impl Inventory {
    pub fn new(store: Store, clock: SharedClock, audit: Audit, stacks: Vec<String>) -> Self {
        Self { store, clock, audit, stacks }
    }
}
