//! The engine's own job kinds (other services bring theirs: pushes, drift checks...). Each is
//! one module; `app.rs` lists every kind Steward runs.

mod command;
mod facts;
mod noop;
mod reboot;

pub use command::RunCommand;
pub use facts::Facts;
pub use noop::Noop;
pub use reboot::RebootRequired;
