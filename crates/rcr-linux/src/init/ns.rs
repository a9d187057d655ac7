//! The namespace work the init does itself once the parent said `Proceed`
//! and the namespaces given by path are joined: becoming root in its user
//! namespace, creating the namespaces that must belong to a user namespace
//! joined by path (forking once more for a pid namespace), and creating the
//! cgroup and time namespaces (see [`NamespacePlan::deferred`]).
//!
//! [`NamespacePlan::deferred`]: crate::plan::NamespacePlan::deferred

use std::io::Write;

use nix::sched::{unshare, CloneFlags};
use nix::sys::stat::Mode;
use nix::unistd::{Gid, Uid};

use super::{InitContext, InitResult};
use crate::plan::{offsets_text, IdMap, IdMappings, LaunchPlan, TimeOffset, CLONE_NEWTIME};
use crate::proto::{Channel, FromInit, InitError, Level};
use crate::sys;

/// Runs the steps above in their required order. `hook_state` is replaced
/// by the parent's for the re-forked init (whose pid it holds).
pub fn finish(
    plan: &LaunchPlan,
    ctx: &InitContext,
    hook_state: &mut serde_json::Value,
) -> InitResult<()> {
    let ns = &plan.namespaces;
    if ns.has(CloneFlags::CLONE_NEWUSER) {
        if ns.joins(CloneFlags::CLONE_NEWUSER) {
            if let Some(maps) = &plan.id_mappings {
                check_joined_maps(maps)?;
            }
        }
        become_root(ctx)?;
    }
    let unshared = ns.unshared();
    if !unshared.is_empty() {
        unshare(unshared)
            .map_err(|e| InitError::errno(format!("create namespaces {unshared:?}"), e))?;
    }
    if plan.reforks() {
        refork(&ctx.chan, hook_state)?;
    }
    if ns.new.contains(CloneFlags::CLONE_NEWCGROUP) {
        // The parent has put us in the container's cgroup by now, so that
        // is what the namespace's root becomes.
        unshare(CloneFlags::CLONE_NEWCGROUP)
            .map_err(|e| InitError::errno("create cgroup namespace", e))?;
    }
    if ns.new.contains(CLONE_NEWTIME) {
        time_namespace(&plan.time_offsets)?;
    }
    Ok(())
}

/// Switches to uid and gid 0 of the user namespace, where the init has every
/// capability; a process that came in with an unmapped id could not create
/// a file (EOVERFLOW). An unmapped 0 (a map of non-root ids only) leaves the
/// ids as they are: the capabilities stay, and the container's user is set
/// later anyway.
fn become_root(ctx: &InitContext) -> InitResult<()> {
    let root_gid = Gid::from_raw(0);
    match nix::unistd::setresgid(root_gid, root_gid, root_gid) {
        Ok(()) => {}
        Err(nix::Error::EINVAL) => {
            ctx.chan.log(Level::Debug, "gid 0 is not mapped in the user namespace")
        }
        Err(e) => return Err(InitError::errno("become gid 0 in the user namespace", e)),
    }
    let root = Uid::from_raw(0);
    match nix::unistd::setresuid(root, root, root) {
        Ok(()) => {}
        Err(nix::Error::EINVAL) => {
            ctx.chan.log(Level::Debug, "uid 0 is not mapped in the user namespace")
        }
        Err(e) => return Err(InitError::errno("become uid 0 in the user namespace", e)),
    }
    Ok(())
}

/// Parses a `/proc/PID/uid_map` text.
fn parse_map(text: &str) -> Option<Vec<IdMap>> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut f = l.split_whitespace().map(str::parse::<u32>);
            match (f.next(), f.next(), f.next()) {
                (Some(Ok(container_id)), Some(Ok(host_id)), Some(Ok(size))) => {
                    Some(IdMap { container_id, host_id, size })
                }
                _ => None,
            }
        })
        .collect()
}

fn same_maps(mut a: Vec<IdMap>, b: &[IdMap]) -> bool {
    let mut b = b.to_vec();
    a.sort_by_key(|m| m.container_id);
    b.sort_by_key(|m| m.container_id);
    a == b
}

/// Mappings given for a user namespace joined by path must be the ones it
/// has, as runc checks: they describe it, they cannot change it.
fn check_joined_maps(maps: &IdMappings) -> InitResult<()> {
    for (file, want, field) in
        [("uid_map", &maps.uids, "linux.uidMappings"), ("gid_map", &maps.gids, "linux.gidMappings")]
    {
        let path = format!("/proc/self/{file}");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| InitError::io(format!("read {path}"), &e))?;
        let have = parse_map(&text)
            .ok_or_else(|| InitError::msg(format!("unreadable {path}: {text:?}")))?;
        if !same_maps(have, want) {
            return Err(InitError::msg(format!(
                "{field} differ from the mappings of the user namespace joined by path ({})",
                text.split_whitespace().collect::<Vec<_>>().join(" ")
            )));
        }
    }
    Ok(())
}

/// Forks the container's init (or exec'd process) proper into the pid
/// namespace unshare(2) or setns(2) prepared for our children, with
/// `CLONE_PARENT` so that it is the rcr parent's child (which waits for it)
/// rather than ours; reports its pid and exits. The new process continues
/// once the parent has recorded it.
pub(super) fn refork(chan: &Channel, hook_state: &mut serde_json::Value) -> InitResult<()> {
    match sys::fork_into(CloneFlags::CLONE_PARENT) {
        Err(e) => Err(InitError::io("fork into the new pid namespace", &e)),
        Ok(sys::Forked::Parent(child)) => {
            if chan.send(&FromInit::Forked { pid: child.as_raw() }).is_err() {
                // Nobody would record or release it.
                let _ = nix::sys::signal::kill(child, nix::sys::signal::Signal::SIGKILL);
            }
            sys::exit_now(0)
        }
        Ok(sys::Forked::Child) => {
            super::await_proceed(chan, hook_state);
            Ok(())
        }
    }
}

/// Creates a time namespace with `offsets` and enters it. unshare(2) only
/// prepares one for our children, and its offsets can be written only
/// until a process is in it; setns(2) to `time_for_children` then moves us
/// (a single-threaded process may).
fn time_namespace(offsets: &[TimeOffset]) -> InitResult<()> {
    unshare(CLONE_NEWTIME).map_err(|e| InitError::errno("create time namespace", e))?;
    if !offsets.is_empty() {
        // Once our ids changed we are not dumpable, which makes our /proc
        // files the host root's, and that is nobody in a user namespace.
        // Dumpable for the write only: a container process must not get at
        // the init's memory or files through /proc.
        let _dumpable = Dumpable::set();
        let path = "/proc/self/timens_offsets";
        let text = offsets_text(offsets);
        let written = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .and_then(|mut f| f.write(text.as_bytes()));
        match written {
            Ok(n) if n == text.len() => {}
            Ok(_) => return Err(InitError::msg(format!("write {path}: short write"))),
            Err(e) => {
                return Err(InitError::io(
                    format!("write time offsets {:?} to {path}", text.trim_end()),
                    &e,
                ))
            }
        }
    }
    let fd = sys::open(
        std::path::Path::new("/proc/self/ns/time_for_children"),
        nix::fcntl::OFlag::O_RDONLY,
        Mode::empty(),
    )
    .map_err(|e| InitError::errno("open /proc/self/ns/time_for_children", e))?;
    nix::sched::setns(fd, CLONE_NEWTIME).map_err(|e| InitError::errno("enter time namespace", e))
}

/// Makes the process dumpable until dropped.
struct Dumpable(bool);

impl Dumpable {
    fn set() -> Self {
        let was = nix::sys::prctl::get_dumpable().unwrap_or(false);
        let _ = nix::sys::prctl::set_dumpable(true);
        Self(was)
    }
}

impl Drop for Dumpable {
    fn drop(&mut self) {
        let _ = nix::sys::prctl::set_dumpable(self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_compares_maps() {
        let text = "         0     100000      65536\n     65536          0          1\n";
        let maps = parse_map(text).unwrap();
        assert_eq!(maps[0], IdMap { container_id: 0, host_id: 100000, size: 65536 });
        let want = [IdMap { container_id: 65536, host_id: 0, size: 1 }, maps[0]];
        assert!(same_maps(maps.clone(), &want));
        assert!(!same_maps(maps, &want[..1]));
        assert!(parse_map("0 x 1\n").is_none());
    }
}
