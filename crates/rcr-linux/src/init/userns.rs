//! What building the filesystem does differently in a user namespace, where
//! the kernel refuses some operations to a root that is not the host's:
//!
//! - mknod(2) of a device: the host's node is bind-mounted onto a file;
//! - a sysfs mount without a network namespace owned by the user namespace:
//!   the host's `/sys` is bind-mounted (recursively) instead.

use std::os::fd::OwnedFd;
use std::path::Path;

use nix::fcntl::OFlag;
use nix::mount::MsFlags;
use nix::sys::stat::Mode;

use super::fs::{fd_path, open_path};
use super::rootfs::{do_mount, inherited_flags};
use super::InitResult;
use crate::plan::{DevicePlan, MountPlan};
use crate::proto::InitError;
use crate::sys;

/// Makes `name` in `dir` the host's device node `d.path` by bind-mounting it
/// onto an empty file, as runc does: the node keeps the host's owner and
/// mode, which the container cannot change.
pub fn bind_device(dir: &OwnedFd, name: &std::ffi::OsStr, d: &DevicePlan) -> nix::Result<()> {
    let file = sys::openat(
        std::os::fd::AsFd::as_fd(dir),
        name,
        OFlag::O_CREAT | OFlag::O_WRONLY | OFlag::O_NOFOLLOW,
        Mode::empty(),
    )?;
    do_mount(Some(&d.path), &fd_path(&file), None, MsFlags::MS_BIND, None)
}

/// Mounts the host's `/sys` (recursively) at the spec's sysfs mount point,
/// with the spec's flags, for when the kernel refuses a new sysfs: it only
/// allows one to whoever owns the network namespace.
pub fn bind_host_sys(root: &OwnedFd, m: &MountPlan, target: &Path) -> InitResult<()> {
    let ctx = || {
        format!(
            "mount sysfs on {} (bind /sys instead, in a user namespace)",
            m.destination.display()
        )
    };
    let host = Path::new("/sys");
    do_mount(Some(host), target, None, MsFlags::MS_BIND | MsFlags::MS_REC, None)
        .map_err(|e| InitError::errno(ctx(), e))?;
    let fresh = open_path(root, &m.destination).map_err(|e| InitError::errno(ctx(), e))?;
    let wanted = m.flags
        & (MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC);
    let flags =
        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | wanted | inherited_flags(&fresh, m.cleared);
    do_mount(None, &fd_path(&fresh), None, flags, None)
        .map_err(|e| InitError::errno(format!("{}: remount", ctx()), e))
}
