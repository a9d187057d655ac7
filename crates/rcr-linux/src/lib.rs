//! The Linux backend of rcr.
//!
//! - [`plan`]: spec to [`plan::LaunchPlan`], pure;
//! - [`proto`]: the typed parent/init protocol;
//! - [`spawn`]: the parent side of `create` and `start`;
//! - [`init`]: the container init's step list;
//! - [`sys`]: the only home of raw syscalls.

pub mod container;
pub mod foreground;
pub mod idmap;
pub mod init;
pub mod plan;
pub mod proc;
pub mod proto;
pub mod rootless;
pub mod spawn;
pub mod sys;

pub use container::Linux;
