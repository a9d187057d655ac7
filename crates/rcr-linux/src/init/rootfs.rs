//! Building the container's filesystem view: the rootfs bind, the spec's
//! mounts, /dev, pivot_root, and the masked, read-only and propagation
//! finishing touches.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::{Mode, SFlag};
use nix::sys::statvfs::FsFlags;

use super::fs::{fd_path, mkdir_all, open_path, split, touch};
use super::InitResult;
use crate::plan::{DevicePlan, LaunchPlan, MountKind, MountPlan};
use crate::proto::InitError;
use crate::sys;

/// What the container's `cgroup` mount shows, decided by the parent from
/// the host's cgroup layout.
#[derive(Debug, Clone, Default)]
pub enum CgroupView {
    /// No cgroup was created (nothing to show).
    #[default]
    None,
    /// cgroup v1: a tmpfs with one bind per hierarchy: (name, host dir).
    V1(Vec<(String, PathBuf)>),
    /// cgroup v2: the container's own directory of the unified hierarchy.
    V2(PathBuf),
}

pub(super) fn do_mount(
    src: Option<&Path>,
    target: &Path,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
) -> nix::Result<()> {
    mount(src, target, fstype, flags, data)
}

/// Flags a bind remount must carry over from the mount it changes: the
/// kernel refuses (EPERM) to clear nosuid/nodev/noexec/ro where they are
/// locked, and we must not silently drop them elsewhere either.
pub(super) fn inherited_flags(fd: &OwnedFd, cleared: MsFlags) -> MsFlags {
    let Ok(f) = sys::mount_flags(fd.as_fd()) else { return MsFlags::empty() };
    let mut out = MsFlags::empty();
    for (st, ms) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_RDONLY, MsFlags::MS_RDONLY),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if f.contains(st) && !cleared.contains(ms) {
            out |= ms;
        }
    }
    out
}

/// Makes the mount tree ours and the rootfs a mount point of its own.
pub fn prepare(plan: &LaunchPlan) -> InitResult<()> {
    // Stop our mounts from propagating back to the host: slave unless the
    // user asked for private (shared is applied after pivot_root, which
    // refuses a shared parent).
    let flags = match plan.root_propagation {
        Some(p) if p.0.contains(MsFlags::MS_PRIVATE) => p.0,
        _ => MsFlags::MS_SLAVE | MsFlags::MS_REC,
    };
    do_mount(None, Path::new("/"), None, flags, None)
        .map_err(|e| InitError::errno("make / a slave mount", e))?;
    do_mount(Some(&plan.rootfs), &plan.rootfs, None, MsFlags::MS_BIND | MsFlags::MS_REC, None)
        .map_err(|e| InitError::errno(format!("bind rootfs {}", plan.rootfs.display()), e))?;
    Ok(())
}

pub fn open_root(plan: &LaunchPlan) -> InitResult<OwnedFd> {
    sys::open(&plan.rootfs, OFlag::O_PATH | OFlag::O_DIRECTORY, Mode::empty())
        .map_err(|e| InitError::errno(format!("open rootfs {}", plan.rootfs.display()), e))
}

fn describe(m: &MountPlan) -> String {
    let what = match (&m.kind, &m.source, &m.fstype) {
        (MountKind::Bind { .. }, Some(s), _) => format!("bind {}", s.display()),
        (_, _, Some(t)) => t.clone(),
        _ => "mount".to_owned(),
    };
    format!("mount {what} on {}", m.destination.display())
}

/// Filesystems that take an SELinux `context=` mount option (proc, sysfs
/// and cgroup fs refuse it).
const LABELLED_FS: &[&str] = &["tmpfs", "devpts", "mqueue", "shm"];

/// What mounting a spec entry needs besides the entry.
#[derive(Debug)]
pub struct MountEnv<'a> {
    pub cgroups: &'a CgroupView,
    /// The SELinux mount label option, when the host has SELinux.
    pub context: Option<&'a str>,
    /// The container is in a user namespace (see [`super::userns`]).
    pub in_userns: bool,
}

/// Mounts one spec entry inside the rootfs. `tree` is the detached mount the
/// parent prepared for an idmapped bind (see [`crate::idmap`]).
pub fn mount_entry(
    root: &OwnedFd,
    m: &MountPlan,
    tree: Option<BorrowedFd<'_>>,
    env: &MountEnv<'_>,
) -> InitResult<()> {
    let ctx = || describe(m);
    let bind_file = matches!(m.kind, MountKind::Bind { .. })
        && m.source.as_deref().is_some_and(|s| std::fs::metadata(s).is_ok_and(|md| !md.is_dir()));
    let target =
        if bind_file { touch(root, &m.destination) } else { mkdir_all(root, &m.destination) };
    let target =
        target.map_err(|e| InitError::errno(format!("{}: create mount point", ctx()), e))?;
    let target_path = fd_path(&target);
    match m.kind {
        MountKind::Bind { recursive } => {
            let src = m.source.as_deref().expect("the plan gives binds a source");
            let mut flags = MsFlags::MS_BIND;
            if recursive {
                flags |= MsFlags::MS_REC;
            }
            let attached = match tree {
                Some(tree) => sys::move_mount(tree, target.as_fd()),
                None => do_mount(Some(src), &target_path, None, flags, None),
            };
            attached.map_err(|e| {
                let err = InitError::errno(ctx(), e);
                if e == nix::Error::ENOENT {
                    err.with_hint("the bind source does not exist")
                } else {
                    err
                }
            })?;
            if m.needs_remount() {
                let fresh =
                    open_path(root, &m.destination).map_err(|e| InitError::errno(ctx(), e))?;
                let flags = MsFlags::MS_BIND
                    | MsFlags::MS_REMOUNT
                    | (m.flags & !MsFlags::MS_REC)
                    | inherited_flags(&fresh, m.cleared);
                do_mount(None, &fd_path(&fresh), None, flags, None)
                    .map_err(|e| InitError::errno(format!("{}: remount", ctx()), e))?;
            }
        }
        MountKind::Fs => {
            let fstype = m.fstype.as_deref();
            let src = m.source.clone().unwrap_or_else(|| PathBuf::from(fstype.unwrap_or("none")));
            let mut data = m.data.clone();
            if let Some(ctx) =
                env.context.filter(|_| fstype.is_some_and(|t| LABELLED_FS.contains(&t)))
            {
                if !data.is_empty() {
                    data.push(',');
                }
                data.push_str(ctx);
            }
            let data = (!data.is_empty()).then_some(data.as_str());
            match do_mount(Some(&src), &target_path, fstype, m.flags, data) {
                Err(nix::Error::EPERM) if env.in_userns && fstype == Some("sysfs") => {
                    super::userns::bind_host_sys(root, m, &target_path)?
                }
                r => r.map_err(|e| InitError::errno(ctx(), e))?,
            }
        }
        MountKind::Cgroup => mount_cgroup(root, m, env.cgroups)?,
    }
    if !m.propagation.is_empty() {
        let fresh = open_path(root, &m.destination).map_err(|e| InitError::errno(ctx(), e))?;
        for p in &m.propagation {
            do_mount(None, &fd_path(&fresh), None, p.0, None)
                .map_err(|e| InitError::errno(format!("{}: set propagation", ctx()), e))?;
        }
    }
    Ok(())
}

fn mount_cgroup(root: &OwnedFd, m: &MountPlan, view: &CgroupView) -> InitResult<()> {
    let ctx = || format!("mount cgroup on {}", m.destination.display());
    let base = m.flags & (MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC);
    let bind = |dest: &Path, host: &Path| -> InitResult<()> {
        let fd = mkdir_all(root, dest).map_err(|e| InitError::errno(ctx(), e))?;
        do_mount(Some(host), &fd_path(&fd), None, MsFlags::MS_BIND | MsFlags::MS_REC, None)
            .map_err(|e| InitError::errno(format!("{}: bind {}", ctx(), host.display()), e))?;
        let fresh = open_path(root, dest).map_err(|e| InitError::errno(ctx(), e))?;
        let flags = MsFlags::MS_BIND
            | MsFlags::MS_REMOUNT
            | base
            | (m.flags & MsFlags::MS_RDONLY)
            | inherited_flags(&fresh, m.cleared);
        do_mount(None, &fd_path(&fresh), None, flags, None)
            .map_err(|e| InitError::errno(format!("{}: remount", ctx()), e))
    };
    match view {
        CgroupView::None => Ok(()),
        CgroupView::V2(host) => bind(&m.destination, host),
        CgroupView::V1(hierarchies) => {
            let fd = mkdir_all(root, &m.destination).map_err(|e| InitError::errno(ctx(), e))?;
            do_mount(
                Some(Path::new("tmpfs")),
                &fd_path(&fd),
                Some("tmpfs"),
                base,
                Some("mode=755"),
            )
            .map_err(|e| InitError::errno(ctx(), e))?;
            for (name, host) in hierarchies {
                bind(&m.destination.join(name), host)?;
            }
            if m.flags.contains(MsFlags::MS_RDONLY) {
                let fresh =
                    open_path(root, &m.destination).map_err(|e| InitError::errno(ctx(), e))?;
                let flags = MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | base;
                do_mount(None, &fd_path(&fresh), Some("tmpfs"), flags, Some("mode=755"))
                    .map_err(|e| InitError::errno(format!("{}: remount read-only", ctx()), e))?;
            }
            Ok(())
        }
    }
}

/// Creates the device nodes and the standard /dev symlinks. With `bind`
/// (in a user namespace, where mknod is refused) the host's nodes are
/// bind-mounted instead.
pub fn devices(root: &OwnedFd, devices: &[DevicePlan], bind: bool) -> InitResult<()> {
    for d in devices {
        let ctx = || format!("create device {}", d.path.display());
        let (parent, name) = split(&d.path);
        let dir = mkdir_all(root, &parent).map_err(|e| InitError::errno(ctx(), e))?;
        // A bound-in or image-provided node is replaced by the one asked for.
        match nix::unistd::unlinkat(
            Some(dir.as_raw_fd()),
            name,
            nix::unistd::UnlinkatFlags::NoRemoveDir,
        ) {
            Ok(()) | Err(nix::Error::ENOENT) => {}
            Err(e) => return Err(InitError::errno(ctx(), e)),
        }
        if bind {
            super::userns::bind_device(&dir, name, d).map_err(|e| InitError::errno(ctx(), e))?;
            continue;
        }
        let dev = nix::sys::stat::makedev(d.major, d.minor);
        let kind: SFlag = d.kind;
        nix::sys::stat::mknodat(
            Some(dir.as_raw_fd()),
            name,
            kind,
            Mode::from_bits_truncate(d.mode),
            dev,
        )
        .map_err(|e| InitError::errno(ctx(), e))?;
        nix::unistd::fchownat(
            Some(dir.as_raw_fd()),
            name,
            Some(nix::unistd::Uid::from_raw(d.uid)),
            Some(nix::unistd::Gid::from_raw(d.gid)),
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(|e| InitError::errno(ctx(), e))?;
    }
    let dev = mkdir_all(root, Path::new("/dev")).map_err(|e| InitError::errno("open /dev", e))?;
    for (name, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("ptmx", "pts/ptmx"),
        ("core", "/proc/kcore"),
    ] {
        match nix::unistd::symlinkat(target, Some(dev.as_raw_fd()), name) {
            Ok(()) | Err(nix::Error::EEXIST) => {}
            Err(e) => return Err(InitError::errno(format!("create symlink /dev/{name}"), e)),
        }
    }
    Ok(())
}

/// Creates the working directory if the image lacks it, as runc does.
pub fn cwd(root: &OwnedFd, cwd: &Path) -> InitResult<()> {
    mkdir_all(root, cwd)
        .map(drop)
        .map_err(|e| InitError::errno(format!("create working directory {}", cwd.display()), e))
}

/// Makes the rootfs the process's `/`.
pub fn pivot(plan: &LaunchPlan) -> InitResult<()> {
    let open_dir = |p: &Path| {
        sys::open(p, OFlag::O_DIRECTORY | OFlag::O_RDONLY, Mode::empty())
            .map_err(|e| InitError::errno(format!("open {}", p.display()), e))
    };
    if !plan.private_mounts() {
        // pivot_root would move the root of everyone sharing this namespace.
        nix::unistd::chroot(&plan.rootfs).map_err(|e| InitError::errno("chroot to rootfs", e))?;
        return nix::unistd::chdir("/").map_err(|e| InitError::errno("chdir to /", e));
    }
    if plan.no_pivot {
        nix::unistd::chdir(&plan.rootfs).map_err(|e| InitError::errno("chdir to rootfs", e))?;
        do_mount(Some(&plan.rootfs), Path::new("/"), None, MsFlags::MS_MOVE, None)
            .map_err(|e| InitError::errno("move rootfs to /", e))?;
        nix::unistd::chroot(".").map_err(|e| InitError::errno("chroot to rootfs", e))?;
        return nix::unistd::chdir("/").map_err(|e| InitError::errno("chdir to /", e));
    }
    let old_root = open_dir(Path::new("/"))?;
    let new_root = open_dir(&plan.rootfs)?;
    nix::unistd::fchdir(new_root.as_raw_fd())
        .map_err(|e| InitError::errno("chdir to rootfs", e))?;
    // pivot_root(".", ".") stacks the old root on top of the new one, so no
    // directory for it is needed inside the image (which may be read-only).
    nix::unistd::pivot_root(".", ".").map_err(|e| {
        InitError::errno("pivot_root", e).with_hint("use --no-pivot if the rootfs is on a ramfs")
    })?;
    nix::unistd::fchdir(old_root.as_raw_fd())
        .map_err(|e| InitError::errno("chdir to old root", e))?;
    do_mount(None, Path::new("."), None, MsFlags::MS_SLAVE | MsFlags::MS_REC, None)
        .map_err(|e| InitError::errno("make old root a slave", e))?;
    umount2(".", MntFlags::MNT_DETACH).map_err(|e| InitError::errno("unmount old root", e))?;
    drop((old_root, new_root));
    nix::unistd::chdir("/").map_err(|e| InitError::errno("chdir to /", e))
}

fn remount_readonly(path: &Path, recursive_bind_first: bool) -> InitResult<()> {
    let ctx = || format!("make {} read-only", path.display());
    if recursive_bind_first {
        do_mount(Some(path), path, None, MsFlags::MS_BIND | MsFlags::MS_REC, None)
            .map_err(|e| InitError::errno(ctx(), e))?;
    }
    // O_PATH: the path may be a device node (whose open could fail or have
    // side effects) or a fifo (whose open would block).
    let fd =
        sys::open(path, OFlag::O_PATH, Mode::empty()).map_err(|e| InitError::errno(ctx(), e))?;
    let flags = MsFlags::MS_BIND
        | MsFlags::MS_REMOUNT
        | MsFlags::MS_RDONLY
        | inherited_flags(&fd, MsFlags::empty());
    do_mount(None, path, None, flags, None).map_err(|e| InitError::errno(ctx(), e))
}

/// Read-only paths, masked paths, a read-only `/` and `/`'s propagation, in
/// the container's own view (after pivot_root nothing can resolve outside).
pub fn finish(plan: &LaunchPlan) -> InitResult<()> {
    for p in &plan.readonly_paths {
        match std::fs::symlink_metadata(p) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            _ => remount_readonly(p, true)?,
        }
    }
    for p in &plan.masked_paths {
        let ctx = || format!("mask {}", p.display());
        match std::fs::symlink_metadata(p) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(InitError::io(ctx(), &e)),
            Ok(md) if md.is_dir() => {
                do_mount(Some(Path::new("tmpfs")), p, Some("tmpfs"), MsFlags::MS_RDONLY, None)
                    .map_err(|e| InitError::errno(ctx(), e))?
            }
            Ok(_) => do_mount(Some(Path::new("/dev/null")), p, None, MsFlags::MS_BIND, None)
                .map_err(|e| InitError::errno(ctx(), e))?,
        }
    }
    if plan.readonly_root {
        remount_readonly(Path::new("/"), false)?;
    }
    if let Some(p) = plan.root_propagation {
        do_mount(None, Path::new("/"), None, p.0, None)
            .map_err(|e| InitError::errno("set rootfs propagation", e))?;
    }
    Ok(())
}
