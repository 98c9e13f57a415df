//! Steward's services: the domain logic behind pages, the API and the CLI.

pub mod accounts;
pub mod alerts;
pub mod ansible;
pub mod audit;
pub mod configs;
pub mod error;
pub mod fields;
pub mod fleet;
pub mod inventory;
pub mod jobs;
pub mod mail;
pub mod offload;
pub mod oncall;
pub mod ssh;
pub mod stacks;
pub mod vault;
pub mod words;
pub mod workers;
