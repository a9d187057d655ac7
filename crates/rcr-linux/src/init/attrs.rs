//! Process attributes the init gives itself, so that exec passes them on:
//! `oomScoreAdj`, `linux.sysctl`, rlimits, scheduler, I/O priority and
//! personality. All of them need privileges the container user may lack,
//! so they run before the user switch and the capability drop.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::AsFd;
use std::path::Path;

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use nix::sys::statfs::{fstatfs, PROC_SUPER_MAGIC};

use super::InitResult;
use crate::plan::{ProcessAttrs, Sysctl};
use crate::proto::InitError;
use crate::sys;

/// Sets `oomScoreAdj`. The init runs this before anything else, while /proc
/// is still the runtime's own: the container's may be missing or masked.
pub fn oom_score_adj(value: Option<i32>) -> InitResult<()> {
    let Some(v) = value else { return Ok(()) };
    OpenOptions::new()
        .write(true)
        .open("/proc/self/oom_score_adj")
        .and_then(|mut f| f.write_all(v.to_string().as_bytes()))
        .map_err(|e| InitError::io(format!("set oom_score_adj to {v}"), &e))
}

/// Writes `linux.sysctl` through the container's /proc, after pivot_root and
/// before the read-only paths (which usually include /proc/sys) are applied.
/// The plan allowed only parameters of the container's own namespaces, and
/// those are resolved against the writer's namespaces, which are the
/// container's by now.
pub fn sysctls(list: &[Sysctl]) -> InitResult<()> {
    if list.is_empty() {
        return Ok(());
    }
    let hint = "linux.sysctl is written through the container's /proc, which must be a proc mount";
    let dir = sys::open(Path::new("/proc/sys"), OFlag::O_DIRECTORY | OFlag::O_PATH, Mode::empty())
        .map_err(|e| InitError::errno("open /proc/sys", e).with_hint(hint))?;
    // The rootfs decides what sits at /proc when nothing is mounted there:
    // make sure these writes go to the kernel, not into a planted file.
    let fs = fstatfs(dir.as_fd()).map_err(|e| InitError::errno("statfs /proc/sys", e))?;
    if fs.filesystem_type() != PROC_SUPER_MAGIC {
        return Err(InitError::msg("/proc/sys is not on a proc file system").with_hint(hint));
    }
    for s in list {
        let what = || format!("set sysctl {} to {:?}", s.name, s.value);
        let fd = sys::open_beneath(dir.as_fd(), &s.path, OFlag::O_WRONLY | OFlag::O_TRUNC)
            .map_err(|e| InitError::errno(what(), e))?;
        File::from(fd).write_all(s.value.as_bytes()).map_err(|e| InitError::io(what(), &e))?;
    }
    Ok(())
}

fn limit(v: u64) -> String {
    if v == libc::RLIM_INFINITY {
        "unlimited".to_owned()
    } else {
        v.to_string()
    }
}

/// Applies rlimits, scheduler, I/O priority and personality, and logs what
/// the plan accepted but ignores.
pub fn apply(a: &ProcessAttrs, warn: &dyn Fn(String)) -> InitResult<()> {
    a.warnings.iter().cloned().for_each(warn);
    for r in &a.rlimits {
        nix::sys::resource::setrlimit(r.resource, r.soft, r.hard).map_err(|e| {
            let what = format!("set {} to {} (hard {})", r.name, limit(r.soft), limit(r.hard));
            InitError::errno(what, e)
        })?;
    }
    if let Some(s) = &a.scheduler {
        sys::sched_setattr(s).map_err(|e| {
            let err = InitError::errno("set the scheduling policy (process.scheduler)", e);
            if e == nix::Error::EPERM && (s.policy == 1 || s.policy == 2) {
                // A cgroup v1 cpu controller grants no real-time runtime to
                // new groups (cpu.rt_runtime_us is 0) unless configured.
                return err.with_hint(
                    "real-time policies need real-time CPU time in the container's cgroup",
                );
            }
            err
        })?;
    }
    if let Some(p) = a.io_priority {
        sys::ioprio_set(p.value())
            .map_err(|e| InitError::errno("set the I/O priority (process.ioPriority)", e))?;
    }
    if let Some(p) = a.personality {
        sys::set_personality(p).map_err(|e| {
            InitError::errno(format!("set personality {p:#x} (linux.personality)"), e)
        })?;
    }
    Ok(())
}
