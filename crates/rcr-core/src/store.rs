//! The state store: one directory per container under the runtime root.
//!
//! Invariants:
//! - a container directory is made and locked under a staging name, then
//!   renamed to the id without replacing anything: two creates of the same
//!   id cannot both succeed, and no other verb ever finds the directory of
//!   a live create unlocked (it would take it for the leftover of a dead
//!   create and delete it);
//! - every change to a container happens under an exclusive `flock` on its
//!   directory; a lock taken on a directory that was deleted meanwhile is
//!   detected (link count 0) and reported as "does not exist";
//! - `state.json` is replaced atomically (temp file, rename), so readers
//!   never take a lock and never see a torn file, and a runtime killed at
//!   any point leaves the old record or the new one.
//! - records are not fsynced: they describe processes, mounts and cgroups
//!   that a power loss ends too, and the root normally lives on a tmpfs
//!   (`/run`). On a disk root an fsync costs a millisecond or more per
//!   write, several times per container start (neither runc nor crun syncs
//!   its state either).

use std::fs::{self, File};
use std::io::{self, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use nix::fcntl::{Flock, FlockArg};

use crate::id::ContainerId;
use crate::state::ContainerState;

const STATE_FILE: &str = "state.json";
/// Prefix of the staging names of container directories being reserved;
/// `~` is not allowed in ids, so these are never listed as containers.
const STAGING_PREFIX: &str = "~reserve.";
/// The fifo the init blocks on until `start`; its presence marks "created".
pub const EXEC_FIFO: &str = "exec.fifo";

/// Failures of the state store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("create state root {}: {source}", path.display())]
    Root { path: PathBuf, source: io::Error },
    #[error("container {0} already exists")]
    Exists(String),
    #[error("container {0} does not exist")]
    NotFound(String),
    #[error("lock container {id}: {source}")]
    Lock { id: String, source: io::Error },
    #[error("{what} {}: {source}", path.display())]
    Io { what: &'static str, path: PathBuf, source: io::Error },
    #[error("corrupt state {}: {source}", path.display())]
    Corrupt { path: PathBuf, source: serde_json::Error },
}

fn io_err(what: &'static str, path: &Path) -> impl FnOnce(io::Error) -> StoreError {
    let path = path.to_owned();
    move |source| StoreError::Io { what, path, source }
}

/// Writes `pid` to `path` atomically (temp file beside it, then rename), so
/// an engine polling the file never reads it half-written.
pub fn write_pid_file(path: &Path, pid: i32) -> io::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().ok_or_else(|| io::Error::from_raw_os_error(libc::EISDIR))?;
    let tmp = dir.join(format!(".{}.tmp", name.to_string_lossy()));
    fs::write(&tmp, pid.to_string())?;
    fs::rename(&tmp, path)
}

/// What a lockless read of a container finds.
#[derive(Debug)]
pub struct Snapshot {
    /// The record, if one was written yet.
    pub state: Option<ContainerState>,
    /// Whether some runtime process holds the container's lock right now.
    pub locked: bool,
}

/// The runtime root (`--root`).
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn dir_of(&self, id: &ContainerId) -> PathBuf {
        self.root.join(id.as_str())
    }

    /// Creates the root directory (mode 0700) if needed.
    pub fn ensure_root(&self) -> Result<(), StoreError> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.root)
            .map_err(|source| StoreError::Root { path: self.root.clone(), source })
    }

    /// Reserves `id` and returns its directory, locked.
    pub fn create(&self, id: &ContainerId) -> Result<ContainerDir, StoreError> {
        self.ensure_root()?;
        let path = self.dir_of(id);
        let staging = self.make_staging_dir()?;
        let mut dir = ContainerDir::open(id, staging.clone()).inspect_err(|_| {
            let _ = fs::remove_dir(&staging);
        })?;
        let Err(renamed) = rename_noreplace(&staging, &path) else {
            dir.path = path;
            return Ok(dir);
        };
        drop(dir);
        let _ = fs::remove_dir(&staging);
        match renamed {
            nix::Error::EEXIST => Err(StoreError::Exists(id.to_string())),
            // A filesystem without RENAME_NOREPLACE: reserve in place, with
            // a moment in which the directory is there but not yet locked.
            nix::Error::EINVAL | nix::Error::ENOSYS => match make_dir(&path) {
                Ok(()) => ContainerDir::open(id, path),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    Err(StoreError::Exists(id.to_string()))
                }
                Err(e) => Err(io_err("create container directory", &path)(e)),
            },
            e => Err(io_err("create container directory", &path)(e.into())),
        }
    }

    /// A new, empty directory under the root, named so that it is never
    /// taken for a container.
    fn make_staging_dir(&self) -> Result<PathBuf, StoreError> {
        static STAGED: AtomicU64 = AtomicU64::new(0);
        let n = STAGED.fetch_add(1, Ordering::Relaxed);
        let staging = self.root.join(format!("{STAGING_PREFIX}{}.{n}", std::process::id()));
        match make_dir(&staging) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                // Left by a dead process that had our pid: nobody uses it.
                let _ = fs::remove_dir_all(&staging);
                make_dir(&staging)
            }
            other => other,
        }
        .map_err(io_err("create container directory", &staging))?;
        Ok(staging)
    }

    /// Locks an existing container (blocking until other verbs are done).
    pub fn lock(&self, id: &ContainerId) -> Result<ContainerDir, StoreError> {
        ContainerDir::open(id, self.dir_of(id))
    }

    /// Reads a container's record without locking. A directory without a
    /// record is reported only once no runtime process holds it.
    pub fn read(&self, id: &ContainerId) -> Result<Snapshot, StoreError> {
        let path = self.dir_of(id);
        let fd = match open_dir(&path) {
            Ok(fd) => fd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(StoreError::NotFound(id.to_string()))
            }
            Err(e) => return Err(io_err("open container directory", &path)(e)),
        };
        let locked = match Flock::lock(File::from(fd), FlockArg::LockSharedNonblock) {
            Ok(_shared) => false,
            Err((_, nix::errno::Errno::EWOULDBLOCK)) => true,
            Err((_, e)) => return Err(StoreError::Lock { id: id.to_string(), source: e.into() }),
        };
        let state = read_state(&path.join(STATE_FILE))?;
        // No record under a held lock is a create that has not written one
        // yet or a delete that already removed it: the container does not
        // exist (yet, or any more). Unlocked, it is a create that died.
        if state.is_none() && (locked || !path.exists()) {
            return Err(StoreError::NotFound(id.to_string()));
        }
        Ok(Snapshot { state, locked })
    }

    /// The ids of all containers, sorted.
    pub fn list(&self) -> Result<Vec<ContainerId>, StoreError> {
        let entries = match fs::read_dir(&self.root) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err("read state root", &self.root)(e)),
        };
        let mut ids: Vec<ContainerId> = entries
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| e.file_name().to_str().and_then(|s| ContainerId::new(s).ok()))
            .collect();
        ids.sort();
        Ok(ids)
    }
}

fn make_dir(path: &Path) -> io::Result<()> {
    fs::DirBuilder::new().mode(0o711).create(path)
}

/// rename(2) that fails with EEXIST instead of replacing `to`, which for a
/// directory would replace an empty one: a just-reserved container.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn rename_noreplace(from: &Path, to: &Path) -> nix::Result<()> {
    use nix::fcntl::{renameat2, RenameFlags};
    renameat2(None, from, None, to, RenameFlags::RENAME_NOREPLACE)
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn rename_noreplace(_: &Path, _: &Path) -> nix::Result<()> {
    Err(nix::Error::ENOSYS)
}

fn open_dir(path: &Path) -> io::Result<OwnedFd> {
    let f = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(path)?;
    Ok(f.into())
}

fn read_state(path: &Path) -> Result<Option<ContainerState>, StoreError> {
    match fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| StoreError::Corrupt { path: path.to_owned(), source }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err("read", path)(e)),
    }
}

/// A container directory held under its exclusive lock; dropping it unlocks.
#[derive(Debug)]
pub struct ContainerDir {
    id: ContainerId,
    path: PathBuf,
    lock: Flock<File>,
}

impl ContainerDir {
    fn open(id: &ContainerId, path: PathBuf) -> Result<Self, StoreError> {
        let lock = match open_dir(&path) {
            Ok(fd) => fd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(StoreError::NotFound(id.to_string()))
            }
            Err(e) => return Err(io_err("open container directory", &path)(e)),
        };
        let lock = Flock::lock(File::from(lock), FlockArg::LockExclusive)
            .map_err(|(_, e)| StoreError::Lock { id: id.to_string(), source: e.into() })?;
        // A delete may have removed the directory while we waited.
        let meta = lock.metadata().map_err(io_err("stat", &path))?;
        if meta.nlink() == 0 {
            return Err(StoreError::NotFound(id.to_string()));
        }
        Ok(Self { id: id.clone(), path, lock })
    }

    pub fn id(&self) -> &ContainerId {
        &self.id
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The raw fd holding the lock: a child forked while the lock is held
    /// must close it, or it would keep the lock alive.
    pub fn lock_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.lock.as_fd()
    }

    pub fn exec_fifo(&self) -> PathBuf {
        self.path.join(EXEC_FIFO)
    }

    /// The record, if one was written.
    pub fn load(&self) -> Result<Option<ContainerState>, StoreError> {
        read_state(&self.path.join(STATE_FILE))
    }

    /// Writes the record atomically (see the module's invariants).
    pub fn save(&self, state: &ContainerState) -> Result<(), StoreError> {
        let tmp = self.path.join(".state.json.tmp");
        let dest = self.path.join(STATE_FILE);
        let bytes = serde_json::to_vec(state).expect("container state always serializes");
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .custom_flags(libc::O_CLOEXEC)
            .open(&tmp)
            .map_err(io_err("write", &tmp))?;
        f.write_all(&bytes).map_err(io_err("write", &tmp))?;
        drop(f);
        fs::rename(&tmp, &dest).map_err(io_err("rename", &dest))?;
        Ok(())
    }

    /// Removes the container directory and everything in it.
    pub fn remove(self) -> Result<(), StoreError> {
        match fs::remove_dir_all(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err("remove", &self.path)(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Status;

    fn id(s: &str) -> ContainerId {
        ContainerId::new(s).unwrap()
    }

    #[test]
    fn create_save_load_remove() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::new(tmp.path().join("root"));
        let dir = store.create(&id("c1")).unwrap();
        assert!(matches!(store.create(&id("c1")), Err(StoreError::Exists(_))));
        let st = ContainerState::creating("c1", "/b".into(), "/b/r".into());
        dir.save(&st).unwrap();
        assert_eq!(dir.load().unwrap().unwrap(), st);
        let snap = store.read(&id("c1")).unwrap();
        assert!(snap.locked, "the create holds the lock");
        assert_eq!(snap.state.unwrap().status, Status::Creating);
        assert_eq!(store.list().unwrap(), vec![id("c1")]);
        drop(dir);
        assert!(!store.read(&id("c1")).unwrap().locked);
        let dir = store.lock(&id("c1")).unwrap();
        dir.remove().unwrap();
        assert!(matches!(store.read(&id("c1")), Err(StoreError::NotFound(_))));
        assert!(matches!(store.lock(&id("c1")), Err(StoreError::NotFound(_))));
        assert!(store.list().unwrap().is_empty());
    }

    #[test]
    fn reservation_is_atomic_and_leaves_no_staging() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::new(tmp.path());
        let held = store.create(&id("c1")).unwrap();
        // Locked and without a record: not there yet for readers.
        assert!(matches!(store.read(&id("c1")), Err(StoreError::NotFound(_))));
        // An existing directory, even an empty one, is never replaced.
        fs::create_dir(tmp.path().join("c2")).unwrap();
        assert!(matches!(store.create(&id("c2")), Err(StoreError::Exists(_))));
        assert!(matches!(store.create(&id("c1")), Err(StoreError::Exists(_))));
        let mut names: Vec<_> = fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["c1", "c2"]);
        assert_eq!(held.path(), tmp.path().join("c1"));
        held.save(&ContainerState::creating("c1", "/b".into(), "/b/r".into())).unwrap();
        assert!(store.read(&id("c1")).unwrap().locked);
        // A create that died before its first record left it unlocked.
        drop(held);
        fs::remove_file(tmp.path().join("c1").join(STATE_FILE)).unwrap();
        let snap = store.read(&id("c1")).unwrap();
        assert!(snap.state.is_none() && !snap.locked);
    }

    #[test]
    fn corrupt_state_is_reported() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::new(tmp.path());
        let dir = store.create(&id("c")).unwrap();
        fs::write(dir.path().join(STATE_FILE), b"{").unwrap();
        assert!(matches!(dir.load(), Err(StoreError::Corrupt { .. })));
    }

    #[test]
    fn list_of_missing_root_is_empty() {
        let store = Store::new("/nonexistent/rcr-test-root");
        assert!(store.list().unwrap().is_empty());
    }
}
