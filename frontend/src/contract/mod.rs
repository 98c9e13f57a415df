//! What the UI needs from the server: data types, the error type and the backend trait.

mod access;
#[cfg(feature = "ssr")]
mod backend;
mod configs;
mod error;
mod fleet;
mod inputs;
mod inventory;
mod jobs;
mod oncall;
mod types;
mod words;
mod workers;

pub use access::{Access, Permission, StudyRole};
#[cfg(feature = "ssr")]
pub use backend::{
    AccountsApi, AlertsApi, Backend, Caller, ConfigsApi, CredentialsApi, InventoryApi, JobsApi, MailApi, RotaApi,
    Scope, SystemApi,
};
pub use configs::*;
pub use error::AppError;
pub use fleet::*;
pub use inputs::{ImportInput, InstanceInput};
pub use inventory::*;
pub use jobs::*;
pub use oncall::*;
pub use types::*;
pub use words::*;
pub use workers::{WorkerState, WorkerStatus};
