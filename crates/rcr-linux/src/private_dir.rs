//! Directories the runtime keeps for itself under its state root
//! (`<root>/~seccomp`, `<root>/~seal`): made 0700 on first use, and trusted
//! only while owned by our euid and writable by nobody else.
//!
//! The names start with `~`, which no container id contains, so they never
//! collide with a container's state directory. A directory is opened without
//! following a symlink in its place and checked through the fd, so the
//! checks hold for the directory the caller then uses.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

use crate::sys;

/// Why a private directory (or a file in one) is not trusted.
#[derive(Debug, thiserror::Error)]
pub enum PrivateDirError {
    #[error("{what} {}: {source}", path.display())]
    Io { what: &'static str, path: PathBuf, source: io::Error },
    #[error("{}: owned by uid {owner}, not {uid}", path.display())]
    Owner { path: PathBuf, owner: u32, uid: u32 },
    #[error("{}: mode {mode:04o} lets others write it", path.display())]
    Writable { path: PathBuf, mode: u32 },
}

/// Refuses a file of `owner` and `mode` that `uid` does not own or others
/// may write.
pub fn check_owner(owner: u32, mode: u32, uid: u32, path: &Path) -> Result<(), PrivateDirError> {
    if owner != uid {
        return Err(PrivateDirError::Owner { path: path.to_owned(), owner, uid });
    }
    let mode = mode & 0o7777;
    if mode & 0o022 != 0 {
        return Err(PrivateDirError::Writable { path: path.to_owned(), mode });
    }
    Ok(())
}

/// Opens the directory `path` (`O_RDONLY`), making it 0700 if it does not
/// exist, provided it is owned by `uid` and not writable by others. Its
/// parent (the state root) must exist.
pub fn open(path: &Path, uid: u32) -> Result<OwnedFd, PrivateDirError> {
    let io_err = |what| {
        move |e: nix::Error| PrivateDirError::Io { what, path: path.to_owned(), source: e.into() }
    };
    match nix::unistd::mkdir(path, Mode::S_IRWXU) {
        Ok(()) | Err(nix::Error::EEXIST) => {}
        Err(e) => return Err(io_err("create")(e)),
    }
    let dir =
        sys::open(path, OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW, Mode::empty())
            .map_err(io_err("open"))?;
    let meta = nix::sys::stat::fstat(dir.as_raw_fd()).map_err(io_err("stat"))?;
    check_owner(meta.st_uid, meta.st_mode, uid, path)?;
    Ok(dir)
}
