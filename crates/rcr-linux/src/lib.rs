//! The Linux backend of rcr.
//!
//! - [`plan`]: spec to [`plan::LaunchPlan`], pure;
//! - [`proto`]: the typed parent/init protocol;
//! - [`spawn`]: the parent side of `create` and `start`;
//! - [`seccomp`]: compiling the seccomp filter, and its cache;
//! - [`seccomp_agent`]: handing a seccomp notify fd to its agent;
//! - [`init`]: the container init's step list;
//! - [`features`]: the runtime-spec features document;
//! - [`console`]: sending and receiving a terminal over a console socket;
//! - [`terminal`]: a foreground `run`'s relay of the container's terminal;
//! - [`resources`]: `linux.resources` to cgroup settings;
//! - [`cgroup_verbs`]: pause/resume, update, stats, ps and events;
//! - [`sys`]: the only home of raw syscalls.

pub mod binary;
pub mod cgroup_verbs;
pub mod console;
pub mod container;
pub mod elf;
pub mod exec;
pub mod features;
pub mod foreground;
pub mod idmap;
pub mod init;
pub mod lsm;
pub mod plan;
pub mod private_dir;
pub mod proc;
pub mod proto;
pub mod resources;
pub mod rootless;
pub mod seccomp;
pub mod seccomp_agent;
pub mod spawn;
pub mod sys;
pub mod terminal;

pub use container::Linux;
