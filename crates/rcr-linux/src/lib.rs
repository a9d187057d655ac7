//! The Linux backend of rcr.
//!
//! - [`plan`]: spec to [`plan::LaunchPlan`], pure;
//! - [`proto`]: the typed parent/init protocol;
//! - [`spawn`]: the parent side of `create` and `start`;
//! - [`init`]: the container init's step list;
//! - [`console`]: sending and receiving a terminal over a console socket;
//! - [`terminal`]: a foreground `run`'s relay of the container's terminal;
//! - [`sys`]: the only home of raw syscalls.

pub mod console;
pub mod container;
pub mod foreground;
pub mod init;
pub mod plan;
pub mod proc;
pub mod proto;
pub mod spawn;
pub mod sys;
pub mod terminal;

pub use container::Linux;
