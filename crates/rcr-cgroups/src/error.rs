//! The one error type of this crate.
//!
//! Every variant names the operation and the thing it was done to, so a
//! message read out of context still says what failed where.

use std::io;
use std::path::PathBuf;

use nix::errno::Errno;
use nix::sys::signal::Signal;

/// What went wrong while finding, creating, using or removing a cgroup.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("read {}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("write {value:?} to {}: {source}", path.display())]
    Write { path: PathBuf, value: String, source: io::Error },
    #[error("parse {what}: {reason}: {line:?}")]
    Parse { what: String, line: String, reason: &'static str },
    #[error("no cgroup or cgroup2 filesystem is mounted according to {what}")]
    NotMounted { what: String },
    #[error("invalid cgroups path {path:?}: {reason}")]
    InvalidPath { path: String, reason: &'static str },
    #[error("invalid systemd cgroup {path:?}: {reason}")]
    InvalidSystemdPath { path: String, reason: String },
    #[error(
        "--systemd-cgroup needs a running systemd (no /run/systemd/system on this host); \
         drop the flag to use the cgroupfs driver"
    )]
    SystemdUnavailable,
    #[error(
        "--systemd-cgroup is not supported yet: the systemd cgroup driver is not implemented; \
         drop the flag to use the cgroupfs driver"
    )]
    SystemdUnsupported,
    #[error(
        "resolve relative cgroups path {path:?}: this process has no cgroup in the {hierarchy} \
         hierarchy according to /proc/self/cgroup"
    )]
    NoOwnCgroup { path: String, hierarchy: String },
    #[error("create cgroup {}: {source}", path.display())]
    Create { path: PathBuf, source: io::Error },
    #[error("add pid {pid} to cgroup {}: {source}", path.display())]
    AddPid { pid: i32, path: PathBuf, source: io::Error },
    #[error("join cgroup: {}: {source}", path.display())]
    Join { path: PathBuf, source: io::Error },
    #[error("send {signal} to pid {pid} of cgroup {}: {source}", path.display())]
    Signal { signal: Signal, pid: i32, path: PathBuf, source: Errno },
    #[error("remove cgroup {}: {source}", path.display())]
    Remove { path: PathBuf, source: io::Error },
    /// A resource setting could not be written: `field` is the spec field,
    /// `file` the interface file relative to the container's cgroup.
    #[error("{field}: write {file}: {}", OsError(source))]
    Set { field: String, file: String, value: String, source: io::Error },
    #[error("{field}: read {file}: {}", OsError(source))]
    ReadSetting { field: String, file: String, source: io::Error },
    /// A resource setting this host or cgroup version cannot apply.
    #[error("{field}: {reason}")]
    Unsupported { field: String, reason: String },
    #[error("{verb} cgroup {}: {reason}", path.display())]
    Freezer { verb: &'static str, path: PathBuf, reason: String },
    #[error("no freezer: the freezer controller is not mounted and cgroup.freeze is unavailable")]
    NoFreezer,
    #[error("{what}: {source}")]
    Watch { what: String, source: io::Error },
}

/// An OS error as the kernel's description alone (no "(os error N)").
struct OsError<'a>(&'a io::Error);

impl std::fmt::Display for OsError<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.raw_os_error() {
            Some(code) => f.write_str(Errno::from_raw(code).desc()),
            None => self.0.fmt(f),
        }
    }
}
