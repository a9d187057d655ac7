//! Syscalls behind the process attributes that nix does not wrap:
//! sched_setattr(2), ioprio_set(2), personality(2), and the confined open
//! used to write sysctls.

use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

use crate::plan::SchedulerPlan;

/// `struct sched_attr` of `<linux/sched/types.h>`, first revision with the
/// utilization clamps (`SCHED_ATTR_SIZE_VER1`, 56 bytes).
#[repr(C)]
#[derive(Debug, Default)]
struct SchedAttr {
    size: u32,
    sched_policy: u32,
    sched_flags: u64,
    sched_nice: i32,
    sched_priority: u32,
    sched_runtime: u64,
    sched_deadline: u64,
    sched_period: u64,
    sched_util_min: u32,
    sched_util_max: u32,
}

/// sched_setattr(2) on the calling thread.
pub fn sched_setattr(p: &SchedulerPlan) -> nix::Result<()> {
    let attr = SchedAttr {
        size: std::mem::size_of::<SchedAttr>() as u32,
        sched_policy: p.policy,
        sched_flags: p.flags,
        sched_nice: p.nice,
        sched_priority: p.priority,
        sched_runtime: p.runtime,
        sched_deadline: p.deadline,
        sched_period: p.period,
        ..SchedAttr::default()
    };
    // SAFETY: `attr` is a live sched_attr whose `size` field tells the kernel
    // how much of it to read; the kernel does not keep the pointer.
    let r = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const SchedAttr, 0) };
    nix::Error::result(r).map(drop)
}

/// `IOPRIO_WHO_PROCESS` of `<linux/ioprio.h>`.
const IOPRIO_WHO_PROCESS: libc::c_int = 1;

/// ioprio_set(2) on the calling process; children inherit it across fork.
pub fn ioprio_set(value: i32) -> nix::Result<()> {
    // SAFETY: plain syscall with integer arguments.
    let r = unsafe { libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, value) };
    nix::Error::result(r).map(drop)
}

/// personality(2): sets the execution domain, which survives execve.
pub fn set_personality(persona: u32) -> nix::Result<()> {
    // SAFETY: plain syscall with an integer argument.
    let r = unsafe { libc::personality(libc::c_ulong::from(persona)) };
    nix::Error::result(r).map(drop)
}

/// openat2(2) of `path` strictly below `dir`: no `..` out of it, no symlinks,
/// no crossing into another mount. `O_CLOEXEC` is added.
pub fn open_beneath(
    dir: BorrowedFd<'_>,
    path: &std::path::Path,
    flags: nix::fcntl::OFlag,
) -> nix::Result<OwnedFd> {
    use nix::fcntl::{OpenHow, ResolveFlag};
    let how = OpenHow::new().flags(flags | nix::fcntl::OFlag::O_CLOEXEC).resolve(
        ResolveFlag::RESOLVE_BENEATH
            | ResolveFlag::RESOLVE_NO_SYMLINKS
            | ResolveFlag::RESOLVE_NO_XDEV,
    );
    nix::fcntl::openat2(dir.as_raw_fd(), path, how).map(super::owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sched_attr_matches_the_kernel_layout() {
        assert_eq!(std::mem::size_of::<SchedAttr>(), 56);
        assert_eq!(std::mem::offset_of!(SchedAttr, sched_runtime), 24);
        assert_eq!(std::mem::offset_of!(SchedAttr, sched_util_min), 48);
    }

    #[test]
    fn open_beneath_stays_below() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("d")).unwrap();
        std::fs::write(tmp.path().join("d/f"), "x").unwrap();
        std::os::unix::fs::symlink("f", tmp.path().join("d/l")).unwrap();
        let dir = super::super::open(
            &tmp.path().join("d"),
            nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_PATH,
            nix::sys::stat::Mode::empty(),
        )
        .unwrap();
        let ro = nix::fcntl::OFlag::O_RDONLY;
        use std::os::fd::AsFd;
        assert!(open_beneath(dir.as_fd(), std::path::Path::new("f"), ro).is_ok());
        assert_eq!(
            open_beneath(dir.as_fd(), std::path::Path::new("l"), ro).unwrap_err(),
            nix::Error::ELOOP
        );
        assert_eq!(
            open_beneath(dir.as_fd(), std::path::Path::new("../d/f"), ro).unwrap_err(),
            nix::Error::EXDEV
        );
    }
}
