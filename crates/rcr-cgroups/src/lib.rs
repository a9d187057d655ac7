//! Cgroups for rcr containers on cgroup v1, v2 and hybrid hosts.
//!
//! - [`CgroupFs`] finds out how the host mounts cgroups ([`Layout`]) from
//!   the mount table; [`ProcCgroups`] says which cgroups a process is in.
//! - [`CgroupPath`] and [`SystemdPath`] turn the spec's `linux.cgroupsPath`
//!   into a validated location for the cgroupfs and systemd drivers.
//! - [`Cgroup`] is one container's cgroup: create it, put processes in it,
//!   signal them, remove it. It is serializable so the runtime keeps it in
//!   the container's state, and it remembers which directories it created so
//!   that removal never deletes a parent that existed before.
//!
//! - [`Resources`] are the limits of `linux.resources`; [`Cgroup::apply`]
//!   writes them at creation and [`Cgroup::update`] to a live container,
//!   each controller to whichever hierarchy (v1 or unified) has it.
//! - [`Cgroup::freeze`]/[`Cgroup::thaw`] pause and resume a container,
//!   [`Cgroup::stats`] reports its usage in runc's shape, and [`OomWatch`]
//!   is a pollable source of its OOM kills.
//!
//! Every operation works on the directories a [`Cgroup`] holds per
//! hierarchy, so none of them changes how a cgroup is made or stored.

mod apply;
pub mod bpf;
mod error;
mod freezer;
mod fs;
mod manager;
mod oom;
mod path;
pub mod resources;
pub mod stats;
mod sys;

pub use error::CgroupError;
pub use freezer::FreezerState;
pub use fs::{CgroupFs, Layout, ProcCgroups};
pub use manager::{Cgroup, ContainerMounts, HierarchyMount, Joiner};
pub use oom::OomWatch;
pub use path::{systemd_available, CgroupPath, SystemdPath};
pub use resources::Resources;
pub use stats::Stats;
