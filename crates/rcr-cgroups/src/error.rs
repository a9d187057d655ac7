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
    #[error("send {signal} to pid {pid} of cgroup {}: {source}", path.display())]
    Signal { signal: Signal, pid: i32, path: PathBuf, source: Errno },
    #[error("remove cgroup {}: {source}", path.display())]
    Remove { path: PathBuf, source: io::Error },
}
