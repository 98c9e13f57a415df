//! Steward: a self-hosted control plane for the servers that research studies run on.
//!
//! - [`config`]: layered configuration; [`cli`]: the `steward` command line.
//! - [`store`]: the database (SQLite or Postgres) and its migrations.
//! - [`auth`]: passwords, sessions, one-time tokens, CSRF protection.
//! - [`services`]: the domain logic; [`web`]: HTTP routes and the UI backend.
//! - [`state`]: the long-lived parts, built once; [`app`]: serving them with the workers.

pub mod app;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod digest;
pub mod services;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod web;
