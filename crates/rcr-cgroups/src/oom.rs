//! Notification of OOM kills in a container's cgroup, as a file descriptor
//! to poll together with others (no threads).
//!
//! - v1: an eventfd registered on `memory.oom_control` through
//!   `cgroup.event_control`; the kernel signals it on every OOM in the
//!   cgroup (and once more when the cgroup is removed, which is told apart
//!   by the cgroup being gone).
//! - v2: inotify on `memory.events`, whose `oom_kill` counter is compared
//!   with the last value seen, since the file changes for other events too.

use std::fs::{self, File};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sys::eventfd::{EfdFlags, EventFd};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};

use crate::error::CgroupError;
use crate::manager::{write_file, Cgroup};

/// A source of OOM notifications for one container.
#[derive(Debug)]
pub struct OomWatch {
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    V1 {
        efd: EventFd,
        /// Kept open: the registration lives as long as this file.
        _oom_control: File,
        dir: PathBuf,
    },
    V2 {
        inotify: Inotify,
        dir: PathBuf,
        seen: u64,
    },
}

fn watch_err(what: String, source: impl Into<std::io::Error>) -> CgroupError {
    CgroupError::Watch { what, source: source.into() }
}

impl OomWatch {
    /// Watches the container's memory cgroup; `None` without one.
    pub fn new(cg: &Cgroup) -> Result<Option<Self>, CgroupError> {
        if let Some(dir) = cg.v1_dir("memory") {
            return Self::v1(&dir.path).map(Some);
        }
        match cg.unified_dir() {
            Some(dir) if dir.path.join("memory.events").exists() => Self::v2(&dir.path).map(Some),
            _ => Ok(None),
        }
    }

    fn v1(dir: &Path) -> Result<Self, CgroupError> {
        let control_path = dir.join("memory.oom_control");
        let oom_control = File::open(&control_path)
            .map_err(|e| watch_err(format!("open {}", control_path.display()), e))?;
        let efd = EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)
            .map_err(|e| watch_err("create eventfd".to_owned(), e))?;
        let registration = format!("{} {}", efd.as_raw_fd(), oom_control.as_raw_fd());
        let event_control = dir.join("cgroup.event_control");
        write_file(&event_control, &registration)
            .map_err(|e| watch_err(format!("register with {}", event_control.display()), e))?;
        Ok(Self { inner: Inner::V1 { efd, _oom_control: oom_control, dir: dir.to_owned() } })
    }

    fn v2(dir: &Path) -> Result<Self, CgroupError> {
        let events = dir.join("memory.events");
        let inotify = Inotify::init(InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK)
            .map_err(|e| watch_err("create inotify".to_owned(), e))?;
        inotify
            .add_watch(&events, AddWatchFlags::IN_MODIFY)
            .map_err(|e| watch_err(format!("watch {}", events.display()), e))?;
        let seen = oom_kills(dir);
        Ok(Self { inner: Inner::V2 { inotify, dir: dir.to_owned(), seen } })
    }

    /// Takes the pending notifications: how many OOM kills happened since
    /// the last call (0 for a wake-up that was not one).
    pub fn read(&mut self) -> Result<u64, CgroupError> {
        match &mut self.inner {
            Inner::V1 { efd, dir, .. } => match efd.read() {
                Ok(n) if dir.exists() => Ok(n),
                Ok(_) | Err(Errno::EAGAIN) => Ok(0),
                Err(e) => Err(watch_err("read oom eventfd".to_owned(), e)),
            },
            Inner::V2 { inotify, dir, seen } => {
                match inotify.read_events() {
                    Ok(_) | Err(Errno::EAGAIN) => {}
                    Err(e) => return Err(watch_err("read inotify".to_owned(), e)),
                }
                let now = oom_kills(dir);
                let new = now.saturating_sub(*seen);
                *seen = now;
                Ok(new)
            }
        }
    }
}

impl AsFd for OomWatch {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match &self.inner {
            Inner::V1 { efd, .. } => efd.as_fd(),
            Inner::V2 { inotify, .. } => inotify.as_fd(),
        }
    }
}

fn oom_kills(dir: &Path) -> u64 {
    fs::read_to_string(dir.join("memory.events"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("oom_kill "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::tests::{write, V2};
    use crate::fs::{CgroupFs, ProcCgroups};
    use crate::path::CgroupPath;
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

    #[test]
    fn v2_counts_new_oom_kills_from_memory_events() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("sys/fs/cgroup");
        write(&root.join("cgroup.controllers"), "memory\n");
        let events = root.join("rcr/c1/memory.events");
        write(&events, "low 0\nmax 3\noom 1\noom_kill 1\n");
        let fs = CgroupFs::from_mountinfo(V2, tmp.path()).unwrap();
        let cg = Cgroup::new(&fs, &ProcCgroups::default(), &CgroupPath::parse("/rcr/c1").unwrap())
            .unwrap();
        let mut watch = OomWatch::new(&cg).unwrap().expect("memory.events exists");
        assert_eq!(watch.read().unwrap(), 0, "kills before the watch began do not count");

        write(&events, "low 0\nmax 9\noom 3\noom_kill 3\n");
        let mut fds = [PollFd::new(watch.as_fd(), PollFlags::POLLIN)];
        assert_eq!(poll(&mut fds, PollTimeout::from(1000u16)).unwrap(), 1);
        assert_eq!(watch.read().unwrap(), 2);
        write(&events, "low 0\nmax 10\noom 3\noom_kill 3\n");
        assert_eq!(watch.read().unwrap(), 0, "other events are not OOM kills");
    }

    #[test]
    fn no_memory_controller_no_watch() {
        let tmp = tempfile::tempdir().unwrap();
        write(&tmp.path().join("sys/fs/cgroup/cgroup.controllers"), "pids\n");
        let fs = CgroupFs::from_mountinfo(V2, tmp.path()).unwrap();
        let cg = Cgroup::new(&fs, &ProcCgroups::default(), &CgroupPath::parse("/rcr/c1").unwrap())
            .unwrap();
        assert!(OomWatch::new(&cg).unwrap().is_none());
    }
}
