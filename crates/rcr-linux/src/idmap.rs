//! The parent's side of id mapping: writing the uid and gid maps of the
//! init's new user namespace, and preparing idmapped mounts.
//!
//! Maps are written by the parent, which stays in the host's user namespace
//! (the kernel only accepts a map written from the namespace's parent). An
//! unprivileged caller can only map its own uid and gid, one id each and,
//! for gids, after disabling setgroups(2); anything more goes through the
//! setuid helpers newuidmap(1) and newgidmap(1), which check /etc/subuid and
//! /etc/subgid, as runc does.
//!
//! An idmapped mount needs `CAP_SYS_ADMIN` over the filesystem's user
//! namespace (the host's, for a host directory), which the init no longer has
//! once it is in a user namespace of its own. So the parent makes each one
//! before the fork: a detached copy of the source (open_tree(2)) with the
//! mapping applied (mount_setattr(2)); the init inherits the fd and only
//! attaches it (move_mount(2)).

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::Command;

use nix::fcntl::OFlag;
use nix::sched::CloneFlags;
use nix::sys::stat::Mode;
use nix::unistd::Pid;

use crate::plan::{map_text, IdMap, IdMappings, IdmapUsers, LaunchPlan, MountKind};
use crate::sys;

/// Failures while mapping ids.
#[derive(Debug, thiserror::Error)]
pub enum IdmapError {
    #[error("write {}: {source}", path.display())]
    WriteMap { path: PathBuf, source: io::Error },
    #[error(
        "map {what} of a rootless container: {tool} not found (install it, from the uidmap package, and \
         give the user ranges in /etc/sub{kind}, or map only {kind} {own})"
    )]
    NoTool { what: &'static str, tool: &'static str, kind: &'static str, own: u32 },
    #[error("{tool} {pid}: {message}")]
    Tool { tool: &'static str, pid: i32, message: String },
    #[error("create a user namespace for an idmapped mount: {0}")]
    Helper(io::Error),
    #[error("open user namespace {} for an idmapped mount: {source}", path.display())]
    OpenUserns { path: PathBuf, source: nix::Error },
    #[error("idmapped mount of {}: open_tree: {source}", path.display())]
    OpenTree { path: PathBuf, source: nix::Error },
    #[error("idmapped mount of {}: set the id mapping: {source}{}", path.display(), idmap_hint(*source))]
    SetAttr { path: PathBuf, source: nix::Error },
}

fn idmap_hint(e: nix::Error) -> &'static str {
    if e == nix::Error::EINVAL {
        " (the filesystem may not support idmapped mounts)"
    } else {
        ""
    }
}

/// Writes `text` to a /proc map file in the single write(2) the kernel
/// insists on.
fn write_proc(path: PathBuf, text: &str) -> Result<(), IdmapError> {
    let result = OpenOptions::new().write(true).open(&path).and_then(|mut f| {
        let n = f.write(text.as_bytes())?;
        if n == text.len() {
            Ok(())
        } else {
            Err(io::Error::new(io::ErrorKind::WriteZero, "short write"))
        }
    });
    result.map_err(|source| IdmapError::WriteMap { path, source })
}

/// Whether an unprivileged caller may write `maps` itself: one line
/// mapping exactly its own id.
fn own_id_only(maps: &[IdMap], own: u32) -> bool {
    matches!(maps, [m] if m.host_id == own && m.size == 1)
}

fn find_tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/sbin:/usr/bin:/sbin:/bin".into());
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file())
}

/// Runs newuidmap or newgidmap for `pid` with `maps`.
fn run_tool(
    tool: &'static str,
    pid: Pid,
    maps: &[IdMap],
    what: &'static str,
    own: u32,
) -> Result<(), IdmapError> {
    let kind = if tool == "newuidmap" { "uid" } else { "gid" };
    let path = find_tool(tool).ok_or(IdmapError::NoTool { what, tool, kind, own })?;
    let mut cmd = Command::new(path);
    cmd.arg(pid.to_string());
    for m in maps {
        cmd.args([m.container_id.to_string(), m.host_id.to_string(), m.size.to_string()]);
    }
    let out = cmd.output().map_err(|e| IdmapError::Tool {
        tool,
        pid: pid.as_raw(),
        message: e.to_string(),
    })?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let message = match stderr.trim() {
        "" => format!("failed ({})", out.status),
        text => text.lines().last().unwrap_or(text).to_owned(),
    };
    Err(IdmapError::Tool { tool, pid: pid.as_raw(), message })
}

/// Writes the uid and gid maps of the user namespace `pid` was just cloned
/// into. `rootless`: the caller is unprivileged.
pub fn write_maps(pid: Pid, maps: &IdMappings, rootless: bool) -> Result<(), IdmapError> {
    let proc_file = |name: &str| PathBuf::from(format!("/proc/{pid}/{name}"));
    let euid = nix::unistd::geteuid().as_raw();
    if !rootless || own_id_only(&maps.uids, euid) {
        write_proc(proc_file("uid_map"), &map_text(&maps.uids))?;
    } else {
        run_tool("newuidmap", pid, &maps.uids, "uids", euid)?;
    }
    let egid = nix::unistd::getegid().as_raw();
    if !rootless {
        write_proc(proc_file("gid_map"), &map_text(&maps.gids))?;
    } else if own_id_only(&maps.gids, egid) {
        // Without CAP_SETGID over the parent namespace the kernel takes a gid
        // map only once setgroups(2) is off for good: otherwise the
        // container could drop a group that denies it access on the host.
        write_proc(proc_file("setgroups"), "deny")?;
        write_proc(proc_file("gid_map"), &map_text(&maps.gids))?;
    } else {
        run_tool("newgidmap", pid, &maps.gids, "gids", egid)?;
    }
    Ok(())
}

/// A user namespace with `maps`, as an fd: a child is cloned into a new
/// user namespace, its maps are written, its namespace is opened, and the
/// child is let go (it waits for the pipe to close, so it never outlives
/// us even if we die first).
fn userns_with(maps: &IdMappings) -> Result<OwnedFd, IdmapError> {
    let (wait_r, wait_w) =
        nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| IdmapError::Helper(e.into()))?;
    let pid = match sys::fork_into(CloneFlags::CLONE_NEWUSER).map_err(IdmapError::Helper)? {
        sys::Forked::Child => {
            drop(wait_w);
            let mut byte = [0u8; 1];
            // Returns at EOF, when the parent is done with us.
            let _ = nix::unistd::read(std::os::fd::AsRawFd::as_raw_fd(&wait_r), &mut byte);
            sys::exit_now(0)
        }
        sys::Forked::Parent(pid) => pid,
    };
    drop(wait_r);
    let result = write_maps(pid, maps, false).and_then(|()| {
        let path = PathBuf::from(format!("/proc/{pid}/ns/user"));
        sys::open(&path, OFlag::O_RDONLY, Mode::empty())
            .map_err(|source| IdmapError::OpenUserns { path, source })
    });
    drop(wait_w);
    let _ = nix::sys::wait::waitpid(pid, None);
    result
}

/// The detached, idmapped mount trees for the plan's idmapped mounts, in the
/// order of `plan.mounts` (`None` for the others).
pub fn mount_sources(plan: &LaunchPlan) -> Result<Vec<Option<OwnedFd>>, IdmapError> {
    // One user namespace per distinct mapping, however many mounts use it.
    let mut namespaces: Vec<(&IdmapUsers, OwnedFd)> = Vec::new();
    let mut sources = Vec::with_capacity(plan.mounts.len());
    for m in &plan.mounts {
        let Some(idmap) = &m.idmap else {
            sources.push(None);
            continue;
        };
        let src = m.source.as_deref().expect("the plan gives binds a source");
        let recursive = matches!(m.kind, MountKind::Bind { recursive: true });
        let tree = sys::open_tree_clone(src, recursive)
            .map_err(|source| IdmapError::OpenTree { path: src.to_owned(), source })?;
        let index = match namespaces.iter().position(|(u, _)| **u == idmap.users) {
            Some(i) => i,
            None => {
                let fd = match &idmap.users {
                    IdmapUsers::Maps(maps) => userns_with(maps)?,
                    IdmapUsers::Namespace(path) => open_userns(path)?,
                };
                namespaces.push((&idmap.users, fd));
                namespaces.len() - 1
            }
        };
        sys::mount_setattr_idmap(tree.as_fd(), namespaces[index].1.as_fd(), idmap.recursive)
            .map_err(|source| IdmapError::SetAttr { path: src.to_owned(), source })?;
        sources.push(Some(tree));
    }
    Ok(sources)
}

fn open_userns(path: &Path) -> Result<OwnedFd, IdmapError> {
    sys::open(path, OFlag::O_RDONLY, Mode::empty())
        .map_err(|source| IdmapError::OpenUserns { path: path.to_owned(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_id_rule() {
        let m = |container_id, host_id, size| IdMap { container_id, host_id, size };
        assert!(own_id_only(&[m(0, 1000, 1)], 1000));
        assert!(!own_id_only(&[m(0, 1000, 2)], 1000));
        assert!(!own_id_only(&[m(0, 1001, 1)], 1000));
        assert!(!own_id_only(&[m(0, 1000, 1), m(1, 100000, 10)], 1000));
    }
}
