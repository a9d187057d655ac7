//! The cgroup of one container: its directories, creating them, putting
//! processes in them and removing them again.
//!
//! A [`Cgroup`] is plain data: per hierarchy it uses, the mount point, the
//! container's directory and the directories its [`Cgroup::create`] made. It
//! is persisted in the container's state so that a later runtime invocation
//! removes exactly what an earlier one created.
//!
//! Invariants:
//! - every directory is strictly below its hierarchy's mount point; this is
//!   checked again when a value is read back from disk;
//! - `created` lists only directories a `create` made, never ones that were
//!   there before, and each is the container's directory or an ancestor of
//!   it; `pending` lists the directories that were missing when
//!   [`Cgroup::plan_create`] looked, so that a runtime killed between
//!   `mkdir` and persisting `created` leaves them on record too;
//! - `remove` deletes the directories of both lists that exist, leaf first,
//!   plus any cgroups that processes made inside a container directory on
//!   them; a parent that another container's cgroup lives in by then is
//!   left to it;
//! - a failed `create` removes what it made and records nothing new.

use std::collections::BTreeSet;
use std::fs::File;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};
use std::thread::sleep;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use crate::error::CgroupError;
use crate::fs::{CgroupFs, Layout, ProcCgroups};
use crate::path::{systemd_available, CgroupPath, SystemdPath};

/// The v2 controllers a container may need, in the order they are enabled.
const WANTED_V2_CONTROLLERS: &[&str] =
    &["cpu", "memory", "pids", "io", "cpuset", "hugetlb", "rdma", "misc"];
/// Rounds of "list the processes, SIGKILL them" before giving up and letting
/// `rmdir` report the cgroup as busy.
const KILL_ROUNDS: u32 = 10;
const KILL_DELAY_MAX: Duration = Duration::from_millis(50);
/// `rmdir` of a cgroup whose last process is still exiting fails with EBUSY;
/// retries back off up to this delay (310 ms in all).
const RMDIR_DELAY_MAX: Duration = Duration::from_millis(160);
/// How often `create` starts over when a shared parent vanishes under it.
const CREATE_ATTEMPTS: u32 = 5;

/// Which hierarchy a directory is in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Hierarchy {
    /// A v1 hierarchy, by the controllers mounted in it.
    V1(Vec<String>),
    Unified,
}

/// The container's directory in one hierarchy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Dir {
    pub(crate) hierarchy: Hierarchy,
    pub(crate) mount: PathBuf,
    pub(crate) path: PathBuf,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    created: Vec<PathBuf>,
    /// Directories a `create` is about to make; see [`Cgroup::plan_create`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pending: Vec<PathBuf>,
}

/// The cgroup of one container, in every hierarchy the host mounts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Stored")]
pub struct Cgroup {
    layout: Layout,
    pub(crate) dirs: Vec<Dir>,
    /// v2 controllers `create` enables for the container.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    controllers: Vec<String>,
}

/// A [`Cgroup`] as read back from disk, before its invariants are checked.
#[derive(Deserialize)]
struct Stored {
    layout: Layout,
    dirs: Vec<Dir>,
    #[serde(default)]
    controllers: Vec<String>,
}

impl TryFrom<Stored> for Cgroup {
    type Error = CgroupError;

    fn try_from(s: Stored) -> Result<Self, CgroupError> {
        for dir in &s.dirs {
            let levels = dir.levels()?;
            let mut recorded = dir.created.iter().chain(&dir.pending);
            if let Some(stray) = recorded.find(|c| !levels.contains(c)) {
                return Err(CgroupError::InvalidPath {
                    path: stray.display().to_string(),
                    reason: "it is recorded as created but is not the cgroup or one of its parents",
                });
            }
        }
        Ok(Self { layout: s.layout, dirs: s.dirs, controllers: s.controllers })
    }
}

/// What to bind-mount into a container for a mount of type `cgroup`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContainerMounts {
    /// v1 and hybrid: one directory per hierarchy, each to be mounted at
    /// `/sys/fs/cgroup/<name>`; on hybrid the unified hierarchy is one of them.
    PerHierarchy(Vec<HierarchyMount>),
    /// v2: the container's directory, to be mounted at `/sys/fs/cgroup`.
    Unified(PathBuf),
}

/// The container's directory in one hierarchy, for [`ContainerMounts`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HierarchyMount {
    /// The name of the hierarchy's mount point on the host, e.g. `cpu`,
    /// `cpu,cpuacct`, `systemd` or `unified`.
    pub name: String,
    /// The controllers of the hierarchy (`name=systemd` for a named one);
    /// empty for the unified hierarchy.
    pub controllers: Vec<String>,
    /// The container's cgroup directory on the host.
    pub host_dir: PathBuf,
}

impl Cgroup {
    /// The cgroup at `path` in every hierarchy of `fs`. A relative `path` is
    /// placed below the cgroups `own` lists (those of the runtime process).
    /// Nothing is touched on disk.
    pub fn new(fs: &CgroupFs, own: &ProcCgroups, path: &CgroupPath) -> Result<Self, CgroupError> {
        let relative = path.relative();
        let base = |mount: &Path, root: &str, own_cgroup: Option<&str>, name: String| {
            if path.is_absolute() {
                return Ok(mount.to_owned());
            }
            let own_cgroup = own_cgroup.ok_or_else(|| CgroupError::NoOwnCgroup {
                path: path.to_string(),
                hierarchy: name,
            })?;
            below_mount(mount, root, own_cgroup)
        };

        let mut dirs = Vec::new();
        if fs.layout() != Layout::V2 {
            for h in fs.v1_hierarchies() {
                let own_cgroup = h.controllers.iter().find_map(|c| own.v1(c));
                let base = base(&h.mount, &h.root, own_cgroup, h.controllers.join(","))?;
                dirs.push(Dir {
                    hierarchy: Hierarchy::V1(h.controllers.clone()),
                    mount: h.mount.clone(),
                    path: base.join(&relative),
                    created: Vec::new(),
                    pending: Vec::new(),
                });
            }
        }
        if let Some(u) = fs.unified() {
            let base = base(&u.mount, &u.root, own.unified(), "unified".to_owned())?;
            dirs.push(Dir {
                hierarchy: Hierarchy::Unified,
                mount: u.mount.clone(),
                path: base.join(&relative),
                created: Vec::new(),
                pending: Vec::new(),
            });
        }

        let controllers = if fs.layout() == Layout::V2 {
            WANTED_V2_CONTROLLERS
                .iter()
                .filter(|c| fs.v2_controllers().iter().any(|have| have == *c))
                .map(|c| (*c).to_owned())
                .collect()
        } else {
            Vec::new()
        };
        Ok(Self { layout: fs.layout(), dirs, controllers })
    }

    /// [`Cgroup::new`] for this host and the calling process.
    pub fn on_host(path: &CgroupPath) -> Result<Self, CgroupError> {
        Self::new(&CgroupFs::host()?, &ProcCgroups::read_self()?, path)
    }

    /// The cgroup of a container under the systemd driver. Fails with
    /// [`CgroupError::SystemdUnavailable`] on hosts without systemd; the
    /// driver itself is not implemented yet.
    pub fn systemd(path: &SystemdPath) -> Result<Self, CgroupError> {
        if !systemd_available() {
            return Err(CgroupError::SystemdUnavailable);
        }
        tracing::debug!(unit = %path.unit(), slice = path.slice(), "systemd cgroup driver requested");
        Err(CgroupError::SystemdUnsupported)
    }

    /// How the host mounts cgroups.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// The container's directory in each hierarchy.
    pub fn paths(&self) -> impl Iterator<Item = &Path> + '_ {
        self.dirs.iter().map(|d| d.path.as_path())
    }

    /// Whether any of the container's directories exists.
    pub fn exists(&self) -> bool {
        self.dirs.iter().any(|d| d.path.is_dir())
    }

    /// Records which directories [`Cgroup::create`] is going to make: those
    /// missing now. The caller persists the result before calling `create`,
    /// so that a runtime killed after a `mkdir` but before it could persist
    /// what `create` made still leaves [`Cgroup::remove`] a record of them.
    /// A parent that another container's create makes meanwhile is removed
    /// only once no other cgroup lives in it, as for any shared parent.
    pub fn plan_create(&mut self) -> Result<(), CgroupError> {
        for dir in &mut self.dirs {
            let missing = dir.levels()?.into_iter().filter(|l| !l.is_dir());
            dir.pending = missing.collect();
        }
        Ok(())
    }

    /// Creates the container's directory in every hierarchy (with missing
    /// parents), and records which directories it made so that
    /// [`Cgroup::remove`] removes only those.
    ///
    /// On v1, an empty `cpuset.cpus`/`cpuset.mems` (which would make adding a
    /// process fail with ENOSPC) is filled from the nearest ancestor that has
    /// one. On v2, the controllers the root offers are enabled in
    /// `cgroup.subtree_control` of every ancestor; a controller that cannot
    /// be enabled is skipped. On failure, what this call created is removed.
    pub fn create(&mut self) -> Result<(), CgroupError> {
        let mut made = Vec::new();
        match self.create_all(&mut made) {
            Ok(()) => {
                for (i, path) in made {
                    // A create after a remove makes the same directories again.
                    if !self.dirs[i].created.contains(&path) {
                        self.dirs[i].created.push(path);
                    }
                }
                for dir in &mut self.dirs {
                    dir.pending.clear();
                }
                Ok(())
            }
            Err(e) => {
                for (_, path) in made.iter().rev() {
                    if let Err(err) = fs::remove_dir(path) {
                        tracing::warn!(path = %path.display(), error = %err, "cannot undo cgroup creation");
                    }
                }
                Err(e)
            }
        }
    }

    fn create_all(&self, made: &mut Vec<(usize, PathBuf)>) -> Result<(), CgroupError> {
        for (i, dir) in self.dirs.iter().enumerate() {
            let levels = dir.levels()?;
            let mut attempts = 0;
            let mut next = 0;
            while let Some(level) = levels.get(next) {
                match fs::DirBuilder::new().mode(0o755).create(level) {
                    Ok(()) => {
                        if !made.iter().any(|(j, p)| *j == i && p == level) {
                            made.push((i, level.clone()));
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists && level.is_dir() => {}
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                        let source = io::Error::from_raw_os_error(libc::ENOTDIR);
                        return Err(CgroupError::Create { path: level.clone(), source });
                    }
                    // A parent shared with other containers (`/rcr`) was
                    // removed by the delete of the last of them after we saw
                    // it: start over from the top.
                    Err(e)
                        if e.kind() == io::ErrorKind::NotFound
                            && next > 0
                            && attempts < CREATE_ATTEMPTS =>
                    {
                        attempts += 1;
                        next = 0;
                        continue;
                    }
                    Err(source) => return Err(CgroupError::Create { path: level.clone(), source }),
                }
                next += 1;
            }
            if dir.has_controller("cpuset") {
                inherit_cpuset(&dir.mount, &levels)?;
            }
            if dir.hierarchy == Hierarchy::Unified && !self.controllers.is_empty() {
                enable_controllers(&dir.mount, &levels, &self.controllers);
            }
        }
        Ok(())
    }

    /// Moves process `pid` into the container's cgroup in every hierarchy.
    pub fn add_pid(&self, pid: Pid) -> Result<(), CgroupError> {
        for dir in &self.dirs {
            let procs = dir.path.join("cgroup.procs");
            write_file(&procs, &pid.to_string()).map_err(|source| CgroupError::AddPid {
                pid: pid.as_raw(),
                path: dir.path.clone(),
                source,
            })?;
        }
        Ok(())
    }

    /// Opens what a new process needs to put itself into the container's
    /// cgroup in every hierarchy (see [`Joiner`]). Called by the runtime,
    /// with its credentials, before it forks that process.
    pub fn joiner(&self) -> Result<Joiner, CgroupError> {
        let mut joiner = Joiner { threads: Vec::new(), unified: None };
        for dir in &self.dirs {
            match dir.hierarchy {
                Hierarchy::V1(_) => {
                    let file = open_for_join(&dir.path, "tasks")?;
                    joiner.threads.push((dir.path.clone(), file));
                }
                Hierarchy::Unified => {
                    let procs = open_for_join(&dir.path, "cgroup.procs")?;
                    let dir_fd = OpenOptions::new()
                        .read(true)
                        .custom_flags(libc::O_DIRECTORY)
                        .open(&dir.path)
                        .map_err(|source| CgroupError::Join { path: dir.path.clone(), source })?;
                    joiner.unified = Some((dir.path.clone(), dir_fd.into(), procs));
                }
            }
        }
        Ok(joiner)
    }

    /// The processes in the container's cgroup or in cgroups nested in it,
    /// ascending. Read from the `pids` (else `freezer`) hierarchy on v1 and
    /// hybrid, from the unified one on v2. Empty if the cgroup does not exist.
    pub fn pids(&self) -> Result<Vec<Pid>, CgroupError> {
        let mut pids = BTreeSet::new();
        if let Some(dir) = self.procs_dir() {
            collect_pids(&dir.path, &mut pids)?;
        }
        Ok(pids.into_iter().map(Pid::from_raw).collect())
    }

    /// Sends `signal` to every process of [`Cgroup::pids`]. Processes that
    /// exit meanwhile are not an error.
    pub fn signal_all(&self, signal: Signal) -> Result<(), CgroupError> {
        let Some(dir) = self.procs_dir() else { return Ok(()) };
        let mut first_err = None;
        for pid in self.pids()? {
            match kill(pid, signal) {
                Ok(()) | Err(Errno::ESRCH) => {}
                Err(source) => {
                    first_err.get_or_insert(CgroupError::Signal {
                        signal,
                        pid: pid.as_raw(),
                        path: dir.path.clone(),
                        source,
                    });
                }
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// Kills every process left in the container's cgroup and removes the
    /// directories [`Cgroup::create`] made or was about to make, leaf first,
    /// together with any cgroups nested inside them. Directories that are
    /// already gone count as removed; directories that existed before
    /// `create` are left alone.
    ///
    /// Processes are killed with `cgroup.kill` where the kernel has it, and
    /// otherwise by SIGKILLing the listed processes until none are left (a
    /// frozen v1 cgroup is thawed first, or the signals would never land).
    pub fn remove(&self) -> Result<(), CgroupError> {
        let mut first_err = self.kill_all().err();
        for dir in &self.dirs {
            if let Err(e) = dir.remove_created() {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    fn kill_all(&self) -> Result<(), CgroupError> {
        for dir in &self.dirs {
            if dir.has_controller("freezer") {
                thaw_v1(&dir.path);
            }
        }
        if let Some(dir) = self.dirs.iter().find(|d| d.hierarchy == Hierarchy::Unified) {
            let file = dir.path.join("cgroup.kill");
            if file.exists() {
                if let Err(error) = write_file(&file, "1") {
                    tracing::debug!(path = %file.display(), %error, "cgroup.kill failed; signalling instead");
                }
            }
        }

        // Processes may have moved into nested cgroups of any one hierarchy,
        // so all of them are searched.
        let mut delay = Duration::from_millis(5);
        for _ in 0..KILL_ROUNDS {
            let mut pids = BTreeSet::new();
            for dir in &self.dirs {
                collect_pids(&dir.path, &mut pids)?;
            }
            if pids.is_empty() {
                return Ok(());
            }
            for pid in pids {
                match kill(Pid::from_raw(pid), Signal::SIGKILL) {
                    Ok(()) | Err(Errno::ESRCH) => {}
                    Err(source) => {
                        let path = self.procs_dir().map(|d| d.path.clone()).unwrap_or_default();
                        return Err(CgroupError::Signal {
                            signal: Signal::SIGKILL,
                            pid,
                            path,
                            source,
                        });
                    }
                }
            }
            sleep(delay);
            delay = (delay * 2).min(KILL_DELAY_MAX);
        }
        // Whatever survived keeps its cgroup busy; rmdir reports that.
        Ok(())
    }

    /// What to bind-mount into the container for a `cgroup` mount.
    pub fn container_mounts(&self) -> ContainerMounts {
        if self.layout == Layout::V2 {
            if let Some(dir) = self.dirs.iter().find(|d| d.hierarchy == Hierarchy::Unified) {
                return ContainerMounts::Unified(dir.path.clone());
            }
        }
        let mounts = self
            .dirs
            .iter()
            .map(|d| HierarchyMount {
                name: d
                    .mount
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                controllers: match &d.hierarchy {
                    Hierarchy::V1(c) => c.clone(),
                    Hierarchy::Unified => Vec::new(),
                },
                host_dir: d.path.clone(),
            })
            .collect();
        ContainerMounts::PerHierarchy(mounts)
    }

    /// The directory in the hierarchy of v1 `controller`.
    pub(crate) fn v1_dir(&self, controller: &str) -> Option<&Dir> {
        self.dirs.iter().find(|d| d.has_controller(controller))
    }

    /// The container's directory in the unified hierarchy, if mounted.
    pub(crate) fn unified_dir(&self) -> Option<&Dir> {
        self.dirs.iter().find(|d| d.hierarchy == Hierarchy::Unified)
    }

    /// The directory whose `cgroup.procs` lists the container's processes.
    pub(crate) fn procs_dir(&self) -> Option<&Dir> {
        let unified = || self.dirs.iter().find(|d| d.hierarchy == Hierarchy::Unified);
        if self.layout == Layout::V2 {
            return unified();
        }
        self.v1_dir("pids")
            .or_else(|| self.v1_dir("freezer"))
            .or_else(|| self.dirs.iter().find(|d| matches!(d.hierarchy, Hierarchy::V1(_))))
            .or_else(unified)
    }
}

impl Dir {
    pub(crate) fn has_controller(&self, controller: &str) -> bool {
        matches!(&self.hierarchy, Hierarchy::V1(c) if c.iter().any(|c| c == controller))
    }

    /// Every directory from the mount point's child down to `path`.
    pub(crate) fn levels(&self) -> Result<Vec<PathBuf>, CgroupError> {
        let invalid =
            |reason| CgroupError::InvalidPath { path: self.path.display().to_string(), reason };
        let rel = self
            .path
            .strip_prefix(&self.mount)
            .map_err(|_| invalid("it is not below its hierarchy's mount point"))?;
        let mut level = self.mount.clone();
        let mut levels = Vec::new();
        for c in rel.components() {
            let Component::Normal(c) = c else {
                return Err(invalid("it has a component other than a plain name"));
            };
            level.push(c);
            levels.push(level.clone());
        }
        if levels.is_empty() {
            return Err(invalid("it names the root cgroup"));
        }
        Ok(levels)
    }

    fn remove_created(&self) -> Result<(), CgroupError> {
        if self.created.is_empty() && self.pending.is_empty() {
            return Ok(());
        }
        let ours = |l: &PathBuf| self.created.contains(l) || self.pending.contains(l);
        let levels = self.levels()?;
        if ours(&self.path) {
            remove_nested(&self.path)?;
        }
        // Deepest first; entries that are not levels of `path` were not
        // written by `create` and are not touched.
        for level in levels.iter().rev().filter(|l| ours(l)) {
            if *level == self.path {
                rmdir(level)?;
            } else if !remove_parent(level)? {
                // Another container's cgroup lives below it (and so below
                // every higher level too): it is theirs to remove now.
                break;
            }
        }
        Ok(())
    }
}

/// The directory of `cgroup` (as `/proc/<pid>/cgroup` lists it) in a
/// hierarchy mounted at `mount` from hierarchy directory `root`.
fn below_mount(mount: &Path, root: &str, cgroup: &str) -> Result<PathBuf, CgroupError> {
    let cgroup_path = Path::new(cgroup);
    let rel = cgroup_path.strip_prefix(root).unwrap_or(cgroup_path);
    let mut dir = mount.to_owned();
    for c in rel.components() {
        match c {
            Component::Normal(c) => dir.push(c),
            Component::RootDir | Component::CurDir => {}
            // The kernel shows cgroups outside the reader's cgroup namespace
            // with leading "..": there is no directory for them in this mount.
            _ => {
                return Err(CgroupError::InvalidPath {
                    path: cgroup.to_owned(),
                    reason: "the runtime's own cgroup is outside its cgroup namespace",
                })
            }
        }
    }
    Ok(dir)
}

/// Gives every empty `cpuset.cpus`/`cpuset.mems` from `mount` down through
/// `levels` the value of its nearest non-empty ancestor. A v1 cpuset must be
/// a subset of its parent's, so empty pre-existing ancestors are filled too.
fn inherit_cpuset(mount: &Path, levels: &[PathBuf]) -> Result<(), CgroupError> {
    for file in ["cpuset.cpus", "cpuset.mems"] {
        let mut inherited: Option<String> = None;
        for dir in std::iter::once(mount).chain(levels.iter().map(PathBuf::as_path)) {
            let path = dir.join(file);
            let value = match fs::read_to_string(&path) {
                Ok(v) => v.trim().to_owned(),
                // Not a cpuset directory we know how to fill (a "noprefix"
                // mount names the files differently).
                Err(e) if e.kind() == io::ErrorKind::NotFound => break,
                Err(source) => return Err(CgroupError::Read { path, source }),
            };
            match &inherited {
                Some(parent) if value.is_empty() => {
                    write_file(&path, parent).map_err(|source| CgroupError::Write {
                        path: path.clone(),
                        value: parent.clone(),
                        source,
                    })?;
                }
                _ if value.is_empty() => {}
                _ => inherited = Some(value),
            }
        }
    }
    Ok(())
}

/// Enables `controllers` in `cgroup.subtree_control` of the mount point and
/// every level above the last, top-down. Failures only cost the container
/// that controller, so they are logged, not returned.
fn enable_controllers(mount: &Path, levels: &[PathBuf], controllers: &[String]) {
    let all = controllers.iter().map(|c| format!("+{c}")).collect::<Vec<_>>().join(" ");
    let parents =
        std::iter::once(mount).chain(levels.iter().map(PathBuf::as_path)).take(levels.len());
    for dir in parents {
        let file = dir.join("cgroup.subtree_control");
        // The kernel applies a multi-controller write all or nothing; one at
        // a time finds out which ones can be had.
        if write_file(&file, &all).is_ok() {
            continue;
        }
        for c in controllers {
            if let Err(error) = write_file(&file, &format!("+{c}")) {
                tracing::debug!(path = %file.display(), controller = %c, %error, "controller not enabled");
            }
        }
    }
}

fn thaw_v1(dir: &Path) {
    let file = dir.join("freezer.state");
    match fs::read_to_string(&file) {
        Ok(state) if state.trim() != "THAWED" => {
            if let Err(error) = write_file(&file, "THAWED") {
                tracing::warn!(path = %file.display(), %error, "cannot thaw cgroup before killing it");
            }
        }
        _ => {}
    }
}

/// Adds the pids listed in `cgroup.procs` of `dir` and of every cgroup below
/// it to `out`. A cgroup that disappears meanwhile has no processes.
fn collect_pids(dir: &Path, out: &mut BTreeSet<i32>) -> Result<(), CgroupError> {
    let procs = dir.join("cgroup.procs");
    let text = match fs::read_to_string(&procs) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
        Err(source) => return Err(CgroupError::Read { path: procs, source }),
    };
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let pid = line.trim().parse().map_err(|_| CgroupError::Parse {
            what: procs.display().to_string(),
            line: line.to_owned(),
            reason: "not a pid",
        })?;
        out.insert(pid);
    }
    for child in subdirs(dir)? {
        collect_pids(&child, out)?;
    }
    Ok(())
}

/// The child cgroups of `dir`; none if `dir` is gone.
fn subdirs(dir: &Path) -> Result<Vec<PathBuf>, CgroupError> {
    let read_err = |source| CgroupError::Read { path: dir.to_owned(), source };
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(read_err(source)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(read_err)?;
        if entry.file_type().map_err(read_err)?.is_dir() {
            out.push(entry.path());
        }
    }
    Ok(out)
}

/// Removes every cgroup below `dir`, deepest first.
fn remove_nested(dir: &Path) -> Result<(), CgroupError> {
    for child in subdirs(dir)? {
        remove_nested(&child)?;
        rmdir(&child)?;
    }
    Ok(())
}

/// Removes one cgroup directory, waiting out EBUSY from processes that are
/// still exiting. A directory that is already gone is not an error.
fn rmdir(path: &Path) -> Result<(), CgroupError> {
    let mut delay = Duration::from_millis(10);
    loop {
        match fs::remove_dir(path) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && delay <= RMDIR_DELAY_MAX => {
                sleep(delay);
                delay *= 2;
            }
            Err(source) => return Err(CgroupError::Remove { path: path.to_owned(), source }),
        }
    }
}

/// Removes a parent of the container's cgroup that `create` made, unless
/// another cgroup lives in it by now: parents such as `/rcr` are shared by
/// every container placed below them. Returns whether it is gone.
fn remove_parent(path: &Path) -> Result<bool, CgroupError> {
    match fs::remove_dir(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(true),
        // cgroupfs reports a cgroup with children as EBUSY, other
        // filesystems (the tests' fake one) as ENOTEMPTY.
        Err(e) if matches!(e.raw_os_error(), Some(libc::EBUSY | libc::ENOTEMPTY)) => Ok(false),
        Err(source) => Err(CgroupError::Remove { path: path.to_owned(), source }),
    }
}

/// Writes `value` to an existing cgroup file in one `write`, as the kernel
/// parses each write on its own.
/// Lets a new, single-threaded process put itself into a container's
/// cgroup, through files the runtime opened for it before forking it.
///
/// Moving another process on cgroup v1 (its pid into `cgroup.procs`) makes
/// the kernel write-lock the global `cgroup_threadgroup_rwsem`, a per-cpu
/// rwsem whose writers wait for an RCU grace period: 6 to 17 ms per
/// container start on this project's 2-core hosts, more than the rest of
/// `create` (all runtimes that move the pid pay it). A thread that writes
/// "0" to `tasks` moves only itself, and the kernel skips that lock for a
/// single thread moving itself (`cgroup_procs_write_start`): 0.2 ms for
/// nine hierarchies. A process with one thread is then wholly in the
/// cgroup, and everything it forks later starts there. On the unified
/// hierarchy the runtime instead forks the process straight into the
/// cgroup with clone3's `CLONE_INTO_CGROUP` (no migration at all), and
/// "0" into `cgroup.procs` is the fallback for kernels without it.
///
/// The files are opened by the runtime: the kernel checks a write against
/// the opener's credentials and the writer's own, so the new process may
/// already be in a user namespace of its own.
#[derive(Debug)]
pub struct Joiner {
    /// v1: per hierarchy, the container's directory and its `tasks` file.
    threads: Vec<(PathBuf, File)>,
    /// The unified hierarchy: the directory, an fd of it for
    /// `CLONE_INTO_CGROUP`, and its `cgroup.procs`.
    unified: Option<(PathBuf, OwnedFd, File)>,
}

impl Joiner {
    /// The unified directory to fork the process into, if there is one.
    pub fn clone_into(&self) -> Option<BorrowedFd<'_>> {
        self.unified.as_ref().map(|(_, dir, _)| dir.as_fd())
    }

    /// Puts the calling process, which must have a single thread, into the
    /// container's cgroup in every hierarchy. `in_unified`: the fork placed
    /// it in the unified directory already.
    pub fn join_self(&self, in_unified: bool) -> Result<(), CgroupError> {
        let unified = self.unified.as_ref().filter(|_| !in_unified);
        let files = self.threads.iter().map(|(path, f)| (path, f, "tasks"));
        let files = files.chain(unified.map(|(path, _, f)| (path, f, "cgroup.procs")));
        for (path, mut file, name) in files {
            // "0" is the writer itself: the thread (`tasks`) or its process
            // (`cgroup.procs`).
            file.write_all(b"0")
                .map_err(|source| CgroupError::Join { path: path.join(name), source })?;
        }
        Ok(())
    }
}

fn open_for_join(dir: &Path, name: &str) -> Result<File, CgroupError> {
    let path = dir.join(name);
    OpenOptions::new().write(true).open(&path).map_err(|source| CgroupError::Join { path, source })
}

pub(crate) fn write_file(path: &Path, value: &str) -> io::Result<()> {
    let mut f = OpenOptions::new().write(true).truncate(true).open(path)?;
    f.write_all(value.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::tests::{write, HYBRID, V1, V2};

    /// Larger than any pid_max, so signalling it can never reach a process.
    const NO_SUCH_PID: i32 = 0x7fff_fff0;

    fn fake_v1(tmp: &Path) -> CgroupFs {
        for m in
            ["systemd", "cpu,cpuacct", "cpuset", "memory", "net_cls,net_prio", "pids", "freezer"]
        {
            fs::create_dir_all(tmp.join("sys/fs/cgroup").join(m)).unwrap();
        }
        CgroupFs::from_mountinfo(V1, tmp).unwrap()
    }

    fn fake_hybrid(tmp: &Path) -> CgroupFs {
        for m in ["cpu", "cpuacct", "cpuset", "memory", "pids", "systemd", "unified"] {
            fs::create_dir_all(tmp.join("sys/fs/cgroup").join(m)).unwrap();
        }
        write(&tmp.join("sys/fs/cgroup/unified/cgroup.controllers"), "hugetlb\n");
        CgroupFs::from_mountinfo(HYBRID, tmp).unwrap()
    }

    fn fake_v2(tmp: &Path) -> CgroupFs {
        let root = tmp.join("sys/fs/cgroup");
        write(&root.join("cgroup.controllers"), "cpuset cpu io memory hugetlb pids rdma misc\n");
        write(&root.join("cgroup.subtree_control"), "");
        CgroupFs::from_mountinfo(V2, tmp).unwrap()
    }

    fn abs(p: &str) -> CgroupPath {
        CgroupPath::parse(p).unwrap()
    }

    /// Stands in for the kernel emptying a cgroup: a real cgroup directory
    /// can be removed with its interface files in it, a fake one cannot.
    fn drop_files(dir: &Path) {
        for entry in fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_file() {
                fs::remove_file(entry.path()).unwrap();
            }
        }
    }

    #[test]
    fn v1_places_the_container_in_every_hierarchy() {
        let tmp = tempfile::tempdir().unwrap();
        let fs = fake_v1(tmp.path());
        let cg = Cgroup::new(&fs, &ProcCgroups::default(), &abs("/rcr/c1")).unwrap();
        let root = tmp.path().join("sys/fs/cgroup");
        let paths: Vec<&Path> = cg.paths().collect();
        assert_eq!(
            paths,
            ["systemd", "cpu,cpuacct", "cpuset", "memory", "net_cls,net_prio", "pids", "freezer"]
                .map(|m| root.join(m).join("rcr/c1"))
        );
        let ContainerMounts::PerHierarchy(mounts) = cg.container_mounts() else { panic!() };
        let names: Vec<&str> = mounts.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            names,
            ["systemd", "cpu,cpuacct", "cpuset", "memory", "net_cls,net_prio", "pids", "freezer"]
        );
        assert_eq!(mounts[1].controllers, ["cpu", "cpuacct"]);
        assert_eq!(mounts[0].controllers, ["name=systemd"]);
        assert_eq!(mounts[1].host_dir, root.join("cpu,cpuacct/rcr/c1"));
    }

    #[test]
    fn joiner_writes_the_writer_itself_into_every_hierarchy() {
        let tmp = tempfile::tempdir().unwrap();
        let fs = fake_hybrid(tmp.path());
        let mut cg = Cgroup::new(&fs, &ProcCgroups::default(), &abs("/j")).unwrap();
        cg.create().unwrap();
        // The kernel provides the interface files; the fake has to.
        let missing = cg.joiner().unwrap_err().to_string();
        assert!(missing.starts_with("join cgroup: ") && missing.contains("/j/tasks"), "{missing}");
        for dir in &cg.dirs {
            write(&dir.path.join("tasks"), "");
            write(&dir.path.join("cgroup.procs"), "");
        }
        let joiner = cg.joiner().unwrap();
        assert!(joiner.clone_into().is_some(), "hybrid: forked into the unified directory");
        let unified = cg.dirs.iter().find(|d| d.hierarchy == Hierarchy::Unified).unwrap();

        // Placed in the unified directory by the fork: v1 `tasks` only.
        joiner.join_self(true).unwrap();
        for dir in &cg.dirs {
            let (tasks, procs) =
                if dir.hierarchy == Hierarchy::Unified { ("", "") } else { ("0", "") };
            assert_eq!(fs::read_to_string(dir.path.join("tasks")).unwrap(), tasks);
            assert_eq!(fs::read_to_string(dir.path.join("cgroup.procs")).unwrap(), procs);
        }
        // Without clone3: "0" into the unified `cgroup.procs` as well.
        let joiner = cg.joiner().unwrap();
        joiner.join_self(false).unwrap();
        assert_eq!(fs::read_to_string(unified.path.join("cgroup.procs")).unwrap(), "0");

        let tmp = tempfile::tempdir().unwrap();
        let fs = fake_v2(tmp.path());
        let mut cg = Cgroup::new(&fs, &ProcCgroups::default(), &abs("/j")).unwrap();
        cg.create().unwrap();
        write(&cg.dirs[0].path.join("cgroup.procs"), "");
        let joiner = cg.joiner().unwrap();
        assert!(joiner.clone_into().is_some());
        joiner.join_self(false).unwrap();
        assert_eq!(fs::read_to_string(cg.dirs[0].path.join("cgroup.procs")).unwrap(), "0");
    }

    #[test]
    fn v1_create_add_pid_remove_leaves_preexisting_parents() {
        let tmp = tempfile::tempdir().unwrap();
        let fs = fake_v1(tmp.path());
        let root = tmp.path().join("sys/fs/cgroup");
        let mounts =
            ["systemd", "cpu,cpuacct", "cpuset", "memory", "net_cls,net_prio", "pids", "freezer"];
        for m in mounts {
            fs::create_dir(root.join(m).join("a")).unwrap();
        }
        fs::create_dir(root.join("memory/a/b")).unwrap();

        let mut cg = Cgroup::new(&fs, &ProcCgroups::default(), &abs("/a/b/c")).unwrap();
        assert!(!cg.exists());
        cg.create().unwrap();
        assert!(cg.exists());
        for dir in &cg.dirs {
            let mount = &dir.mount;
            let expected = if mount.ends_with("memory") {
                vec![mount.join("a/b/c")]
            } else {
                vec![mount.join("a/b"), mount.join("a/b/c")]
            };
            assert_eq!(dir.created, expected, "{}", mount.display());
        }

        // The kernel provides cgroup.procs; the fake has to.
        for p in cg.paths() {
            write(&p.join("cgroup.procs"), "");
        }
        cg.add_pid(Pid::from_raw(NO_SUCH_PID)).unwrap();
        for p in cg.paths() {
            assert_eq!(
                fs::read_to_string(p.join("cgroup.procs")).unwrap(),
                NO_SUCH_PID.to_string()
            );
        }
        fs::create_dir_all(root.join("pids/a/b/c/nested/deeper")).unwrap();
        write(&root.join("pids/a/b/c/nested/deeper/cgroup.procs"), "7\n");
        assert_eq!(cg.pids().unwrap(), [Pid::from_raw(7), Pid::from_raw(NO_SUCH_PID)]);

        // Round-trips through the state file unchanged.
        let json = serde_json::to_string(&cg).unwrap();
        let cg: Cgroup = serde_json::from_str(&json).unwrap();

        for p in cg.paths() {
            drop_files(p);
        }
        drop_files(&root.join("pids/a/b/c/nested/deeper"));
        cg.remove().unwrap();
        assert!(!cg.exists());
        for m in mounts {
            assert!(root.join(m).join("a").is_dir(), "{m}/a was there before and must stay");
            assert_eq!(root.join(m).join("a/b").is_dir(), m == "memory", "{m}/a/b");
        }
        // Removing again finds nothing to do.
        cg.remove().unwrap();
    }

    #[test]
    fn a_create_killed_before_recording_its_directories_is_removable() {
        let tmp = tempfile::tempdir().unwrap();
        let fs = fake_v1(tmp.path());
        let root = tmp.path().join("sys/fs/cgroup");
        fs::create_dir(root.join("memory/rcr")).unwrap();
        let mut cg = Cgroup::new(&fs, &ProcCgroups::default(), &abs("/rcr/c1")).unwrap();
        cg.plan_create().unwrap();
        // What the runtime persisted before it was killed mid-create.
        let recorded = serde_json::to_string(&cg).unwrap();
        cg.create().unwrap();
        assert!(cg.dirs.iter().all(|d| d.pending.is_empty()), "create settles the plan");
        let recorded: Cgroup = serde_json::from_str(&recorded).unwrap();
        assert!(recorded.dirs.iter().all(|d| d.created.is_empty()));
        for p in recorded.paths() {
            assert!(p.is_dir());
        }
        recorded.remove().unwrap();
        assert!(!recorded.exists());
        assert!(root.join("memory/rcr").is_dir(), "a parent that was there before stays");
        assert!(!root.join("pids/rcr").exists(), "a parent the create made goes");

        // Killed before any mkdir: nothing to remove, and no error.
        let mut early = Cgroup::new(&fs, &ProcCgroups::default(), &abs("/rcr/c2")).unwrap();
        early.plan_create().unwrap();
        early.remove().unwrap();
        assert!(root.join("memory/rcr").is_dir());
    }

    #[test]
    fn a_planned_parent_in_use_by_another_container_stays() {
        let tmp = tempfile::tempdir().unwrap();
        let fs = fake_v1(tmp.path());
        let mut dead = Cgroup::new(&fs, &ProcCgroups::default(), &abs("/rcr/a")).unwrap();
        dead.plan_create().unwrap();
        let mut live = Cgroup::new(&fs, &ProcCgroups::default(), &abs("/rcr/b")).unwrap();
        live.create().unwrap();
        dead.remove().unwrap();
        assert!(live.exists(), "the other container's cgroup must survive");
    }

    #[test]
    fn a_created_parent_in_use_by_another_container_stays() {
        let tmp = tempfile::tempdir().unwrap();
        let fs = fake_v1(tmp.path());
        let mut first = Cgroup::new(&fs, &ProcCgroups::default(), &abs("/rcr/a")).unwrap();
        first.create().unwrap();
        let mut second = Cgroup::new(&fs, &ProcCgroups::default(), &abs("/rcr/b")).unwrap();
        second.create().unwrap();
        for p in first.paths().chain(second.paths()) {
            drop_files(p);
        }
        first.remove().unwrap();
        assert!(!first.exists());
        assert!(second.exists(), "the second container's cgroup must survive");
        second.remove().unwrap();
        assert!(!second.exists());
    }

    #[test]
    fn remove_never_touches_a_leaf_it_did_not_create() {
        let tmp = tempfile::tempdir().unwrap();
        let fs = fake_v1(tmp.path());
        let root = tmp.path().join("sys/fs/cgroup");
        for m in
            ["systemd", "cpu,cpuacct", "cpuset", "memory", "net_cls,net_prio", "pids", "freezer"]
        {
            fs::create_dir_all(root.join(m).join("shared/nested")).unwrap();
        }
        let mut cg = Cgroup::new(&fs, &ProcCgroups::default(), &abs("/shared")).unwrap();
        cg.create().unwrap();
        assert!(cg.dirs.iter().all(|d| d.created.is_empty()));
        cg.remove().unwrap();
        assert!(root.join("pids/shared/nested").is_dir());
    }

    #[test]
    fn failed_create_removes_what_it_made() {
        let tmp = tempfile::tempdir().unwrap();
        let fs = fake_v1(tmp.path());
        let root = tmp.path().join("sys/fs/cgroup");
        fs::remove_dir(root.join("pids")).unwrap();
        let mut cg = Cgroup::new(&fs, &ProcCgroups::default(), &abs("/rcr/c1")).unwrap();
        let err = cg.create().unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "create cgroup {}: No such file or directory (os error 2)",
                root.join("pids/rcr").display()
            )
        );
        assert!(!root.join("memory/rcr").exists());
        assert!(cg.dirs.iter().all(|d| d.created.is_empty()));
    }

    #[test]
    fn a_file_in_the_way_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        let fs = fake_v1(tmp.path());
        write(&tmp.path().join("sys/fs/cgroup/memory/rcr"), "");
        let mut cg = Cgroup::new(&fs, &ProcCgroups::default(), &abs("/rcr/c1")).unwrap();
        let err = cg.create().unwrap_err();
        assert!(err.to_string().ends_with("memory/rcr: Not a directory (os error 20)"), "{err}");
    }

    #[test]
    fn cpuset_is_inherited_from_the_nearest_ancestor() {
        let tmp = tempfile::tempdir().unwrap();
        let mount = tmp.path();
        write(&mount.join("cpuset.cpus"), "0-3\n");
        write(&mount.join("cpuset.mems"), "0\n");
        // A pre-existing ancestor that limits cpus, one left empty, and the
        // new leaf as the kernel makes it: empty.
        write(&mount.join("a/cpuset.cpus"), "1-2\n");
        write(&mount.join("a/cpuset.mems"), "\n");
        write(&mount.join("a/b/cpuset.cpus"), "");
        write(&mount.join("a/b/cpuset.mems"), "");
        write(&mount.join("a/b/c/cpuset.cpus"), "\n");
        write(&mount.join("a/b/c/cpuset.mems"), "");
        let levels = ["a", "a/b", "a/b/c"].map(|l| mount.join(l));
        inherit_cpuset(mount, &levels).unwrap();
        let read = |p: &str| fs::read_to_string(mount.join(p)).unwrap();
        assert_eq!(read("a/cpuset.cpus"), "1-2\n");
        assert_eq!(read("a/b/cpuset.cpus"), "1-2");
        assert_eq!(read("a/b/c/cpuset.cpus"), "1-2");
        assert_eq!(read("a/cpuset.mems"), "0");
        assert_eq!(read("a/b/c/cpuset.mems"), "0");
        // Outside a cpuset hierarchy there is nothing to do.
        inherit_cpuset(&mount.join("nowhere"), &[mount.join("nowhere/x")]).unwrap();
    }

    #[test]
    fn v2_create_enables_controllers_in_parents_only() {
        let tmp = tempfile::tempdir().unwrap();
        let fs = fake_v2(tmp.path());
        let root = tmp.path().join("sys/fs/cgroup");
        write(&root.join("parent/cgroup.subtree_control"), "");
        let mut cg = Cgroup::new(&fs, &ProcCgroups::default(), &abs("/parent/c1")).unwrap();
        assert_eq!(cg.layout(), Layout::V2);
        cg.create().unwrap();
        let all = "+cpu +memory +pids +io +cpuset +hugetlb +rdma +misc";
        assert_eq!(fs::read_to_string(root.join("cgroup.subtree_control")).unwrap(), all);
        assert_eq!(fs::read_to_string(root.join("parent/cgroup.subtree_control")).unwrap(), all);
        assert!(!root.join("parent/c1/cgroup.subtree_control").exists());
        assert_eq!(cg.container_mounts(), ContainerMounts::Unified(root.join("parent/c1")));
        assert_eq!(cg.dirs.len(), 1);
        assert_eq!(cg.dirs[0].created, [root.join("parent/c1")]);

        write(&root.join("parent/c1/cgroup.procs"), "");
        cg.add_pid(Pid::from_raw(NO_SUCH_PID)).unwrap();
        assert_eq!(cg.pids().unwrap(), [Pid::from_raw(NO_SUCH_PID)]);
        cg.signal_all(Signal::SIGCONT).unwrap();
        drop_files(&root.join("parent/c1"));
        cg.remove().unwrap();
        assert!(!root.join("parent/c1").exists());
        assert!(root.join("parent").is_dir());
    }

    #[test]
    fn v2_enables_only_what_the_root_offers() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("sys/fs/cgroup");
        write(&root.join("cgroup.controllers"), "memory pids\n");
        write(&root.join("cgroup.subtree_control"), "");
        let fs = CgroupFs::from_mountinfo(V2, tmp.path()).unwrap();
        let mut cg = Cgroup::new(&fs, &ProcCgroups::default(), &abs("/c1")).unwrap();
        cg.create().unwrap();
        assert_eq!(
            fs::read_to_string(root.join("cgroup.subtree_control")).unwrap(),
            "+memory +pids"
        );
    }

    #[test]
    fn hybrid_uses_v1_and_the_unified_mount() {
        let tmp = tempfile::tempdir().unwrap();
        let fs = fake_hybrid(tmp.path());
        let root = tmp.path().join("sys/fs/cgroup");
        let mut cg = Cgroup::new(&fs, &ProcCgroups::default(), &abs("/rcr/c1")).unwrap();
        assert_eq!(cg.layout(), Layout::Hybrid);
        cg.create().unwrap();
        for m in ["cpu", "cpuacct", "cpuset", "memory", "pids", "systemd", "unified"] {
            assert!(root.join(m).join("rcr/c1").is_dir(), "{m}");
        }
        // Controllers are v1's business here; the unified root is left as is.
        assert!(!root.join("unified/cgroup.subtree_control").exists());
        let ContainerMounts::PerHierarchy(mounts) = cg.container_mounts() else { panic!() };
        let last = mounts.last().unwrap();
        assert_eq!(last.name, "unified");
        assert!(last.controllers.is_empty());
        assert_eq!(last.host_dir, root.join("unified/rcr/c1"));
        cg.remove().unwrap();
        assert!(!cg.exists());
        assert!(!root.join("unified/rcr").exists());
    }

    #[test]
    fn relative_paths_go_below_the_runtimes_own_cgroups() {
        let tmp = tempfile::tempdir().unwrap();
        let fs = fake_hybrid(tmp.path());
        let root = tmp.path().join("sys/fs/cgroup");
        let own = ProcCgroups::parse(
            "9:name=systemd:/\n8:pids:/\n4:memory:/process_api/abc\n3:cpuset:/\n2:cpuacct:/\n1:cpu:/\n0::/\n",
        )
        .unwrap();
        let cg = Cgroup::new(&fs, &own, &CgroupPath::parse("rcr/c1").unwrap()).unwrap();
        let paths: Vec<&Path> = cg.paths().collect();
        assert!(paths.contains(&root.join("memory/process_api/abc/rcr/c1").as_path()));
        assert!(paths.contains(&root.join("cpu/rcr/c1").as_path()));
        assert!(paths.contains(&root.join("unified/rcr/c1").as_path()));

        let missing = ProcCgroups::parse("1:cpu:/\n0::/\n").unwrap();
        let err = Cgroup::new(&fs, &missing, &CgroupPath::parse("rcr/c1").unwrap()).unwrap_err();
        assert!(matches!(err, CgroupError::NoOwnCgroup { .. }), "{err}");

        // An absolute path needs no membership at all.
        Cgroup::new(&fs, &ProcCgroups::default(), &abs("/rcr/c1")).unwrap();
    }

    #[test]
    fn relative_paths_respect_bind_mounted_subtrees() {
        let tmp = tempfile::tempdir().unwrap();
        let text = "50 1 0:30 /docker/x /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n";
        let fs = CgroupFs::from_mountinfo(text, tmp.path()).unwrap();
        let mount = tmp.path().join("sys/fs/cgroup/memory");
        let rel = CgroupPath::parse("c1").unwrap();

        let own = ProcCgroups::parse("4:memory:/docker/x/sub\n").unwrap();
        let cg = Cgroup::new(&fs, &own, &rel).unwrap();
        assert_eq!(cg.paths().collect::<Vec<_>>(), [mount.join("sub/c1")]);

        let outside = ProcCgroups::parse("4:memory:/../elsewhere\n").unwrap();
        assert!(Cgroup::new(&fs, &outside, &rel).is_err());
    }

    #[test]
    fn state_from_disk_cannot_escape_its_mount() {
        let tmp = tempfile::tempdir().unwrap();
        let json = serde_json::json!({
            "layout": "v2",
            "dirs": [{
                "hierarchy": "unified",
                "mount": tmp.path().join("sys/fs/cgroup"),
                "path": tmp.path().join("sys/fs/cgroup/../../precious"),
                "created": [],
            }],
        });
        let err = serde_json::from_value::<Cgroup>(json).unwrap_err();
        assert!(err.to_string().contains("other than a plain name"), "{err}");

        let json = serde_json::json!({
            "layout": "v2",
            "dirs": [{
                "hierarchy": "unified",
                "mount": tmp.path().join("sys/fs/cgroup"),
                "path": tmp.path().join("sys/fs/cgroup/rcr/c1"),
                "created": [tmp.path().join("sys/fs/cgroup/other")],
            }],
        });
        let err = serde_json::from_value::<Cgroup>(json).unwrap_err();
        assert!(err.to_string().contains("recorded as created"), "{err}");

        let json = serde_json::json!({
            "layout": "v2",
            "dirs": [{
                "hierarchy": "unified",
                "mount": tmp.path().join("sys/fs/cgroup"),
                "path": tmp.path().join("sys/fs/cgroup/rcr/c1"),
                "pending": [tmp.path().join("sys/fs/cgroup/other")],
            }],
        });
        let err = serde_json::from_value::<Cgroup>(json).unwrap_err();
        assert!(err.to_string().contains("recorded as created"), "{err}");
    }

    #[test]
    fn state_format() {
        let tmp = tempfile::tempdir().unwrap();
        let fs = fake_v2(tmp.path());
        let cg = Cgroup::new(&fs, &ProcCgroups::default(), &abs("/rcr/c1")).unwrap();
        let json = serde_json::to_value(&cg).unwrap();
        assert_eq!(json["layout"], "v2");
        assert_eq!(json["dirs"][0]["hierarchy"], "unified");
        assert_eq!(json["controllers"][0], "cpu");
        let v1 = Cgroup::new(&fake_v1(tmp.path()), &ProcCgroups::default(), &abs("/x")).unwrap();
        let json = serde_json::to_value(&v1).unwrap();
        assert_eq!(json["layout"], "v1");
        assert_eq!(json["dirs"][1]["hierarchy"]["v1"], serde_json::json!(["cpu", "cpuacct"]));
        assert!(json.get("controllers").is_none());
    }
}
