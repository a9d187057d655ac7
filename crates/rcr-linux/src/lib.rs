//! The Linux backend of rcr.
//!
//! - [`plan`]: spec to [`plan::LaunchPlan`], pure;
//! - [`proto`]: the typed parent/init protocol;
//! - [`spawn`]: the parent side of `create` and `start`;
//! - [`seccomp_agent`]: handing a seccomp notify fd to its agent;
//! - [`init`]: the container init's step list;
//! - [`sys`]: the only home of raw syscalls.

pub mod binary;
pub mod container;
pub mod foreground;
pub mod init;
pub mod lsm;
pub mod plan;
pub mod proc;
pub mod proto;
pub mod seccomp_agent;
pub mod spawn;
pub mod sys;

pub use container::Linux;
