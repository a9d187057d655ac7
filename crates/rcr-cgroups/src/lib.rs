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
//! Every operation works on the directories a [`Cgroup`] holds per
//! hierarchy, so controller settings, updates, statistics and freezing are
//! added as further operations on it, without changing how it is made or
//! stored.

mod error;
mod fs;
mod manager;
mod path;

pub use error::CgroupError;
pub use fs::{CgroupFs, Layout, ProcCgroups};
pub use manager::{Cgroup, ContainerMounts, HierarchyMount};
pub use path::{systemd_available, CgroupPath, SystemdPath};
