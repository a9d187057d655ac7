//! Protection of the runtime binary against being overwritten from inside a
//! container (CVE-2019-5736).
//!
//! A container process can reach the runtime's executable through
//! `/proc/<pid>/exe` (or `/proc/<pid>/map_files/`) of a runtime process that
//! entered the container, or through `#!/proc/self/exe` as the interpreter of
//! a program the runtime executes; it keeps an `O_PATH` fd and reopens it for
//! writing once the runtime has exited (while it runs, `ETXTBSY` stops the
//! write). Before doing any container work, `create`, `run` and `exec`
//! therefore re-execute themselves from a sealed view of their binary, so
//! the executable and every file mapping of any rcr process that enters a
//! container name a file nobody can write. Two seals, tried in this order:
//!
//! 1. **Read-only overlay** ([`overlay_seal`]): a detached overlayfs mount
//!    whose top layer is the directory holding the binary. The binary is
//!    opened through it and executed: no copy, the page cache is shared with
//!    the real file.
//! 2. **Sealed memfd** ([`memfd_copy`]): an anonymous copy of the binary with
//!    write, grow and shrink sealed. It costs a copy of the whole binary per
//!    start, and is the fallback wherever the overlay cannot be built: no
//!    privilege over our mount namespace (`EPERM`), no overlayfs (`ENODEV`),
//!    no new mount API (`ENOSYS`, before Linux 5.2), an empty layer that is
//!    not empty or not private to us (see below), a directory overlayfs
//!    refuses (stacked too deep, an unsuitable filesystem, overlapping the
//!    state root: `ELOOP`) or a binary replaced on disk since it was
//!    started.
//!
//! Nothing is re-executed when the running binary is already safe (see
//! [`protection`]): it is a sealed memfd or on a read-only overlay (we are
//! the re-executed process, so this cannot loop), or it lives on a read-only
//! mount. When a seal is needed, `RCR_EXE_SEAL=overlay` or
//! `RCR_EXE_SEAL=memfd` forces one of them, for tests and diagnosis; a
//! forced seal that fails is an error, not a fallback.
//!
//! # Why the overlay seal holds
//!
//! - **Writes fail with `EROFS`, whether or not rcr still runs.** The mount
//!   has no upper layer, so overlayfs makes the superblock read-only and
//!   refuses to reconfigure it read-write; the mount itself is read-only as
//!   well. Opening the executable for writing, directly through
//!   `/proc/<pid>/exe` or later by reopening a saved `O_PATH` fd through
//!   `/proc/self/fd`, checks the overlay's inode and fails there. Overlayfs
//!   never writes to a lower layer: a write would copy the file up into the
//!   upper layer, and there is none.
//! - **Nothing in a container can reach the mount, let alone make it
//!   writable.** It was never attached to any mount namespace; its fds are
//!   close-on-exec and dropped before the re-exec, and once the last of them
//!   is closed the kernel dissolves the mount (`open_tree`, `move_mount` and
//!   `mount_setattr` on it then fail). What stays alive are the executable
//!   and the file mappings of rcr processes: references to one file, from
//!   which no path leads to the mount root or to another file of the host
//!   directory. The lower layers are overlayfs' own private clones of the
//!   host's mounts and cannot be reached through the overlay either.
//! - **It is the same binary.** The file opened through the overlay must
//!   match `/proc/self/exe` (inode, size, modification and change times;
//!   `xino=off` keeps the real inode number visible); otherwise the binary
//!   was replaced on disk since this process started and the running one is
//!   copied instead. Redirects and metacopy are off, so the lookup is one
//!   name in one directory and cannot be sent elsewhere by xattrs.
//!
//! Overlayfs without an upper layer needs at least two lower layers; the
//! second is `<root>/~seal` under the state root (runc 1.2 also uses a
//! directory under its state root), below the binary's directory, so
//! nothing in it could shadow the binary even if it were not empty. It is
//! made 0700 and used only while it is owned by our euid, writable by
//! nobody else (the checks of [`crate::private_dir`], shared with the
//! seccomp cache) and empty; otherwise the binary is copied. Both layers are
//! named to overlayfs as `/proc/self/fd/<n>` of the directories just opened
//! and checked, so the kernel stacks exactly those, and a `:` or `,` in a
//! path cannot split a layer. An empty detached tmpfs passed as an fd would
//! need no directory on disk, but overlayfs takes detached mounts and
//! `O_PATH` fds as layers only from Linux 6.15 on; one variant that works
//! from 5.2 on is simpler than two, and costs about the same (a `mkdir`
//! that finds the directory, an open and a `getdents` instead of mounting a
//! tmpfs).
//!
//! When rcr itself is on overlayfs (it runs in a container image), its
//! directory is an overlay that becomes a layer of ours: the kernel allows two levels of stacking, and a deeper one
//! fails the mount and falls back to the copy. Either way the container sees
//! only our read-only view, never the writable upper layer of the image.
//!
//! On a read-only mount nothing is sealed: a container cannot remount a host
//! mount outside its mount namespace, and reopening the file through
//! `/proc/<pid>/exe` goes through that same read-only mount.

use std::ffi::{CStr, CString, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use nix::fcntl::{fcntl, AtFlags, FcntlArg, OFlag, SealFlag};
use nix::sys::memfd::{memfd_create, MemFdCreateFlag};
use nix::sys::stat::{fstat, FileStat, Mode, SFlag};
use nix::sys::statfs::{fstatfs, OVERLAYFS_SUPER_MAGIC};
use nix::sys::statvfs::FsFlags;

use crate::private_dir::{self, PrivateDirError};
use crate::sys;

/// The environment variable that forces one seal.
pub const SEAL_ENV: &str = "RCR_EXE_SEAL";

/// The overlay seal's empty layer, under the state root.
pub const SEAL_DIR_NAME: &str = "~seal";

/// Failures while protecting the binary.
#[derive(Debug, thiserror::Error)]
pub enum BinaryError {
    #[error("open /proc/self/exe: {0}")]
    Open(io::Error),
    #[error("{SEAL_ENV}={0:?}: expected \"overlay\" or \"memfd\"")]
    Mode(String),
    #[error("seal the runtime binary on an overlay: {what}: {source}{}", kernel_says(.log))]
    Overlay {
        what: String,
        source: io::Error,
        /// What the kernel logged on the filesystem context, if anything.
        log: String,
    },
    #[error(
        "seal the runtime binary on an overlay: {} is not the running binary \
         (replaced since it was started?)",
        .0.display()
    )]
    Replaced(PathBuf),
    #[error("seal the runtime binary on an overlay: {0}")]
    Layer(#[from] PrivateDirError),
    #[error("seal the runtime binary on an overlay: {} is not empty", .0.display())]
    NotEmpty(PathBuf),
    #[error("copy the runtime binary into a sealed memfd: {0}")]
    Copy(io::Error),
    #[error("re-execute from the sealed binary: {0}")]
    Exec(nix::Error),
}

fn kernel_says(log: &str) -> String {
    if log.is_empty() {
        String::new()
    } else {
        format!(" ({log})")
    }
}

const SEALS: SealFlag = SealFlag::F_SEAL_SEAL
    .union(SealFlag::F_SEAL_SHRINK)
    .union(SealFlag::F_SEAL_GROW)
    .union(SealFlag::F_SEAL_WRITE);

/// Why the running binary needs no (further) seal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protection {
    /// A sealed memfd: we are the re-executed copy.
    Memfd,
    /// A file on a read-only overlayfs: we are re-executed from the overlay
    /// seal (or installed on a read-only overlay, which is as safe).
    Overlay,
    /// The binary is on another read-only mount.
    ReadOnly,
}

/// Which seal to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seal {
    /// The overlay, or the memfd copy if the overlay cannot be built.
    Auto,
    Overlay,
    Memfd,
}

impl Seal {
    fn parse(value: Option<&std::ffi::OsStr>) -> Result<Seal, BinaryError> {
        match value.map(|v| v.as_bytes()) {
            None | Some(b"") => Ok(Seal::Auto),
            Some(b"overlay") => Ok(Seal::Overlay),
            Some(b"memfd") => Ok(Seal::Memfd),
            Some(other) => Err(BinaryError::Mode(String::from_utf8_lossy(other).into_owned())),
        }
    }
}

/// Whether the running binary is already safe from being overwritten.
///
/// Whether a read-only overlay has an upper layer cannot be read from the
/// file cheaply (statfs reports the top layer's figures) and does not
/// matter: read-only, it is as safe as any read-only mount.
pub fn protection(exe: &File) -> Option<Protection> {
    if let Ok(seals) = fcntl(exe.as_raw_fd(), FcntlArg::F_GET_SEALS) {
        if SealFlag::from_bits_truncate(seals).contains(SEALS) {
            return Some(Protection::Memfd);
        }
    }
    let fs = fstatfs(exe).ok()?;
    if !fs.flags().contains(FsFlags::ST_RDONLY) {
        return None;
    }
    if fs.filesystem_type() == OVERLAYFS_SUPER_MAGIC {
        Some(Protection::Overlay)
    } else {
        Some(Protection::ReadOnly)
    }
}

/// Re-executes the process from a sealed view of its binary unless it is
/// already protected; returns only when no seal is needed or on error.
///
/// `root` is the state root, where the overlay seal keeps its empty layer.
pub fn ensure_protected(root: &Path) -> Result<Option<Protection>, BinaryError> {
    let exe = File::open("/proc/self/exe").map_err(BinaryError::Open)?;
    if let Some(p) = protection(&exe) {
        return Ok(Some(p));
    }
    let sealed = match Seal::parse(std::env::var_os(SEAL_ENV).as_deref())? {
        Seal::Overlay => overlay_seal(&exe, &exe_path()?, root)?,
        Seal::Memfd => memfd_copy(exe)?,
        Seal::Auto => match exe_path().and_then(|path| overlay_seal(&exe, &path, root)) {
            Ok(fd) => fd,
            Err(e) => {
                tracing::debug!("{e}; copying the binary instead");
                memfd_copy(exe)?
            }
        },
    };
    Err(reexec(sealed.as_fd()))
}

/// The path this process was started from, in our mount namespace.
fn exe_path() -> Result<PathBuf, BinaryError> {
    std::fs::read_link("/proc/self/exe").map_err(|source| BinaryError::Overlay {
        what: "readlink /proc/self/exe".into(),
        source,
        log: String::new(),
    })
}

/// Opens the binary at `path` through a new detached, read-only overlayfs
/// mount of its directory (see the module docs), as an `O_PATH` fd to
/// execute, provided it is the file `exe`. `root` is the state root, which
/// holds the empty lower layer.
fn overlay_seal(exe: &File, path: &Path, root: &Path) -> Result<OwnedFd, BinaryError> {
    let err =
        |what: String, source: io::Error| BinaryError::Overlay { what, source, log: String::new() };
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        let what = format!("split {} into directory and name", path.display());
        return Err(err(what, io::ErrorKind::InvalidInput.into()));
    };
    let dir_fd = sys::open(dir, OFlag::O_PATH | OFlag::O_DIRECTORY, Mode::empty())
        .map_err(|e| err(format!("open {}", dir.display()), e.into()))?;
    let empty = empty_layer(root)?;
    let ctx = sys::fsopen(c"overlay").map_err(|e| err("fsopen overlay".into(), e))?;
    let ctx = ctx.as_fd();
    // fsconfig failures come with the kernel's reason on the context.
    let refused = |what: String, source: io::Error| BinaryError::Overlay {
        what,
        source,
        log: context_log(ctx),
    };
    // The layers are named by our fds, so the kernel stacks exactly the
    // directories opened and checked above, whatever their paths contain
    // (overlayfs would split a path at ':' and ','). The binary's directory
    // is on top. Until Linux 6.5 overlayfs parses its options only when the
    // superblock is created, so a refused layer shows up there.
    let layers =
        format!("/proc/self/fd/{}:/proc/self/fd/{}", dir_fd.as_raw_fd(), empty.as_raw_fd());
    let layers = CString::new(layers).expect("no NUL in a formatted number");
    sys::fsconfig_set_string(ctx, c"lowerdir", &layers).map_err(|e| {
        refused(format!("add layers {} and {}", dir.display(), seal_dir(root).display()), e)
    })?;
    for (key, value) in OVERLAY_OPTIONS {
        sys::fsconfig_set_string(ctx, key, value).map_err(|e| {
            refused(format!("set {}={}", key.to_string_lossy(), value.to_string_lossy()), e)
        })?;
    }
    sys::fsconfig_create(ctx).map_err(|e| refused("create the overlay".into(), e))?;
    // The overlay holds its own references to the layers now.
    drop((dir_fd, empty));
    let attrs = libc::MOUNT_ATTR_RDONLY | libc::MOUNT_ATTR_NOSUID | libc::MOUNT_ATTR_NODEV;
    let mnt = sys::fsmount(ctx, attrs).map_err(|e| refused("fsmount".into(), e))?;
    let file =
        sys::openat(mnt.as_fd(), Path::new(name), OFlag::O_PATH | OFlag::O_NOFOLLOW, Mode::empty())
            .map_err(|e| err(format!("open {} on the overlay", path.display()), e.into()))?;
    if !same_file(exe.as_fd(), file.as_fd()) {
        return Err(BinaryError::Replaced(path.to_owned()));
    }
    Ok(file)
}

/// `xino=off` keeps inode numbers as the layers report them (and spares
/// dmesg a note when the layers are on different filesystems); redirects
/// and metacopy, which could make a lookup follow xattrs to another file,
/// are not needed to find one file in one directory.
const OVERLAY_OPTIONS: [(&CStr, &CStr); 3] =
    [(c"xino", c"off"), (c"redirect_dir", c"nofollow"), (c"metacopy", c"off")];

/// The empty lower layer's directory under the state root `root`.
pub fn seal_dir(root: &Path) -> PathBuf {
    root.join(SEAL_DIR_NAME)
}

/// Opens [`seal_dir`], making it (and the state root) if needed, provided
/// it is private to our euid and empty.
fn empty_layer(root: &Path) -> Result<OwnedFd, BinaryError> {
    let path = seal_dir(root);
    let err = |what: &str, source: io::Error| BinaryError::Overlay {
        what: format!("{what} {}", path.display()),
        source,
        log: String::new(),
    };
    // `create` and `run` seal the binary before the store makes the root:
    // make it as the store does (0700) rather than copy the binary once.
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(root)
        .map_err(|e| err("create the state root for", e))?;
    let dir = private_dir::open(&path, nix::unistd::geteuid().as_raw())?;
    let mut entries = nix::dir::Dir::openat(
        Some(dir.as_raw_fd()),
        ".",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| err("read", e.into()))?;
    for entry in entries.iter() {
        let entry = entry.map_err(|e| err("read", e.into()))?;
        let name = entry.file_name().to_bytes();
        if name != b"." && name != b".." {
            return Err(BinaryError::NotEmpty(path));
        }
    }
    Ok(dir)
}

/// The messages the kernel logged on the filesystem context `ctx`.
fn context_log(ctx: BorrowedFd<'_>) -> String {
    let mut lines = Vec::new();
    let mut buf = [0u8; 512];
    // Each read returns one message, then ENODATA.
    while let Ok(n @ 1..) = nix::unistd::read(ctx.as_raw_fd(), &mut buf) {
        lines.push(String::from_utf8_lossy(&buf[..n]).trim_end().to_owned());
    }
    lines.join("; ")
}

/// Whether `a` and `b` are the same regular file (as far as the overlay's
/// view lets us tell: its device number is its own).
fn same_file(a: BorrowedFd<'_>, b: BorrowedFd<'_>) -> bool {
    match (fstat(a.as_raw_fd()), fstat(b.as_raw_fd())) {
        (Ok(a), Ok(b)) => is_regular(&a) && is_regular(&b) && same_identity(&a, &b),
        _ => false,
    }
}

fn is_regular(st: &FileStat) -> bool {
    SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFREG
}

fn same_identity(a: &FileStat, b: &FileStat) -> bool {
    (a.st_ino, a.st_size, a.st_mtime, a.st_mtime_nsec, a.st_ctime, a.st_ctime_nsec)
        == (b.st_ino, b.st_size, b.st_mtime, b.st_mtime_nsec, b.st_ctime, b.st_ctime_nsec)
}

/// Copies the running binary into a sealed memfd.
fn memfd_copy(mut exe: File) -> Result<OwnedFd, BinaryError> {
    let memfd =
        memfd_create(c"rcr", MemFdCreateFlag::MFD_CLOEXEC | MemFdCreateFlag::MFD_ALLOW_SEALING)
            .map_err(|e| BinaryError::Copy(e.into()))?;
    let mut copy = File::from(memfd);
    // std uses copy_file_range/sendfile here: the bytes never enter user space.
    io::copy(&mut exe, &mut copy).map_err(BinaryError::Copy)?;
    fcntl(copy.as_raw_fd(), FcntlArg::F_ADD_SEALS(SEALS))
        .map_err(|e| BinaryError::Copy(e.into()))?;
    Ok(copy.into())
}

fn cstrings(items: impl Iterator<Item = OsString>) -> Vec<CString> {
    // Arguments and environment from the kernel never contain NUL bytes.
    items.filter_map(|s| CString::new(s.into_vec()).ok()).collect()
}

/// Replaces the process image with `exe`, same arguments and environment;
/// returns only on failure.
fn reexec(exe: BorrowedFd<'_>) -> BinaryError {
    let args = cstrings(std::env::args_os());
    let env = cstrings(std::env::vars_os().map(|(k, v)| {
        let mut kv = k;
        kv.push("=");
        kv.push(v);
        kv
    }));
    match nix::unistd::execveat(Some(exe.as_raw_fd()), c"", &args, &env, AtFlags::AT_EMPTY_PATH) {
        Err(e) => BinaryError::Exec(e),
        Ok(never) => match never {},
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    /// Whether this host can build the overlay seal: root and overlayfs
    /// (the new mount API is assumed: Linux 5.2).
    fn overlay_seal_available(test: &str) -> bool {
        let skip = |why: &str| {
            println!("SKIP {test}: {why}");
            false
        };
        if !nix::unistd::geteuid().is_root() {
            return skip("needs root");
        }
        let filesystems = std::fs::read_to_string("/proc/filesystems").unwrap_or_default();
        if !filesystems.lines().any(|l| l.split_whitespace().last() == Some("overlay")) {
            return skip("no overlayfs");
        }
        true
    }

    /// A writable executable file in a fresh directory.
    fn binary_in_tempdir() -> (tempfile::TempDir, PathBuf) {
        // Characters overlayfs would split a layer path at.
        let dir = tempfile::Builder::new().prefix("bin:a,b").tempdir().unwrap();
        let path = dir.path().join("rcr");
        let mut f = File::create(&path).unwrap();
        f.write_all(b"\x7fELF not really a binary").unwrap();
        f.set_permissions(std::fs::Permissions::from_mode(0o755)).unwrap();
        (dir, path)
    }

    /// Opens `fd` again, as another process would through `/proc/<pid>/exe`.
    fn reopen(fd: BorrowedFd<'_>, write: bool) -> io::Result<File> {
        std::fs::OpenOptions::new()
            .read(!write)
            .write(write)
            .open(format!("/proc/self/fd/{}", fd.as_raw_fd()))
    }

    #[test]
    fn sealed_memfd_counts_as_protected() {
        let fd =
            memfd_create(c"t", MemFdCreateFlag::MFD_CLOEXEC | MemFdCreateFlag::MFD_ALLOW_SEALING)
                .unwrap();
        let f = File::from(fd);
        assert_eq!(protection(&f), None, "an unsealed memfd on a writable tmpfs is not protected");
        fcntl(f.as_raw_fd(), FcntlArg::F_ADD_SEALS(SEALS)).unwrap();
        assert_eq!(protection(&f), Some(Protection::Memfd));
    }

    #[test]
    fn memfd_copy_is_sealed_and_identical() {
        let (_dir, path) = binary_in_tempdir();
        let copy = memfd_copy(File::open(&path).unwrap()).unwrap();
        let read_back = std::fs::read(format!("/proc/self/fd/{}", copy.as_raw_fd())).unwrap();
        assert_eq!(read_back, std::fs::read(&path).unwrap());
        assert_eq!(protection(&reopen(copy.as_fd(), false).unwrap()), Some(Protection::Memfd));
        let write = reopen(copy.as_fd(), true).and_then(|mut f| f.write_all(b"x"));
        assert_eq!(write.unwrap_err().raw_os_error(), Some(libc::EPERM), "F_SEAL_WRITE");
    }

    #[test]
    fn writable_file_is_not_protected() {
        let (_dir, path) = binary_in_tempdir();
        assert_eq!(protection(&File::open(&path).unwrap()), None);
    }

    #[test]
    fn overlay_seal_is_the_same_file_and_read_only() {
        if !overlay_seal_available("overlay_seal_is_the_same_file_and_read_only") {
            return;
        }
        let (dir, path) = binary_in_tempdir();
        // Something the empty layer or a lookup mix-up could show instead.
        std::fs::write(dir.path().join("other"), b"other").unwrap();
        let exe = File::open(&path).unwrap();
        let root = tempfile::tempdir().unwrap();
        let sealed = overlay_seal(&exe, &path, root.path()).unwrap();
        let seal_dir = std::fs::metadata(seal_dir(root.path())).unwrap();
        assert_eq!(seal_dir.permissions().mode() & 0o7777, 0o700);
        assert_eq!(std::fs::read_dir(self::seal_dir(root.path())).unwrap().count(), 0);

        let fs = fstatfs(sealed.as_fd()).unwrap();
        assert_eq!(fs.filesystem_type(), OVERLAYFS_SUPER_MAGIC);
        assert!(fs.flags().contains(FsFlags::ST_RDONLY));
        let through = reopen(sealed.as_fd(), false).unwrap();
        assert_eq!(protection(&through), Some(Protection::Overlay));
        assert_eq!(std::fs::read(format!("/proc/self/fd/{}", through.as_raw_fd())).unwrap(), {
            std::fs::read(&path).unwrap()
        });
        // No upper layer: EROFS, not a copy-up into somewhere writable.
        let write = reopen(sealed.as_fd(), true);
        assert_eq!(write.unwrap_err().raw_os_error(), Some(libc::EROFS));
        // The real file stays what it was, and writable by its owner.
        std::fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(b"!").unwrap();
    }

    #[test]
    fn overlay_seal_refuses_a_replaced_binary() {
        if !overlay_seal_available("overlay_seal_refuses_a_replaced_binary") {
            return;
        }
        let (_dir, path) = binary_in_tempdir();
        let running = File::open(&path).unwrap();
        // A package upgrade: a new file renamed over the old one.
        let new = path.with_file_name("rcr.new");
        std::fs::write(&new, b"\x7fELF the next version").unwrap();
        std::fs::rename(&new, &path).unwrap();
        let root = tempfile::tempdir().unwrap();
        let err = overlay_seal(&running, &path, root.path()).unwrap_err();
        assert!(matches!(err, BinaryError::Replaced(ref p) if *p == path), "{err}");
    }

    #[test]
    fn overlay_seal_makes_the_state_root() {
        if !overlay_seal_available("overlay_seal_makes_the_state_root") {
            return;
        }
        let (_dir, path) = binary_in_tempdir();
        let parent = tempfile::tempdir().unwrap();
        let root = parent.path().join("state/root");
        overlay_seal(&File::open(&path).unwrap(), &path, &root).unwrap();
        assert_eq!(std::fs::metadata(&root).unwrap().permissions().mode() & 0o7777, 0o700);
    }

    #[test]
    fn overlay_seal_needs_a_private_empty_layer() {
        if !overlay_seal_available("overlay_seal_needs_a_private_empty_layer") {
            return;
        }
        let (_dir, path) = binary_in_tempdir();
        let exe = File::open(&path).unwrap();
        let root = tempfile::tempdir().unwrap();
        let layer = seal_dir(root.path());
        std::fs::create_dir(&layer).unwrap();
        std::fs::write(layer.join("rcr"), b"a binary that would shadow nothing").unwrap();
        let err = overlay_seal(&exe, &path, root.path()).unwrap_err();
        assert!(matches!(err, BinaryError::NotEmpty(ref p) if *p == layer), "{err}");
        assert_eq!(
            err.to_string(),
            format!("seal the runtime binary on an overlay: {} is not empty", layer.display())
        );
        std::fs::remove_file(layer.join("rcr")).unwrap();
        std::fs::set_permissions(&layer, std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = overlay_seal(&exe, &path, root.path()).unwrap_err();
        assert!(matches!(err, BinaryError::Layer(PrivateDirError::Writable { .. })), "{err}");
        std::fs::set_permissions(&layer, std::fs::Permissions::from_mode(0o700)).unwrap();
        nix::unistd::chown(&layer, Some(nix::unistd::Uid::from_raw(65534)), None).unwrap();
        let err = overlay_seal(&exe, &path, root.path()).unwrap_err();
        assert!(matches!(err, BinaryError::Layer(PrivateDirError::Owner { .. })), "{err}");
        // A symlink to an empty directory of ours is not followed.
        std::fs::remove_dir(&layer).unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), &layer).unwrap();
        let err = overlay_seal(&exe, &path, root.path()).unwrap_err();
        assert!(matches!(err, BinaryError::Layer(PrivateDirError::Io { what: "open", .. })));
        std::fs::remove_file(&layer).unwrap();
        overlay_seal(&exe, &path, root.path()).unwrap();
    }

    #[test]
    fn overlay_errors_carry_the_kernel_log() {
        if !overlay_seal_available("overlay_errors_carry_the_kernel_log") {
            return;
        }
        let ctx = sys::fsopen(c"overlay").unwrap();
        let err = sys::fsconfig_set_string(ctx.as_fd(), c"xino", c"sideways").unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EINVAL));
        let log = context_log(ctx.as_fd());
        assert!(log.contains("xino"), "{log:?}");
        assert_eq!(context_log(ctx.as_fd()), "", "the log is consumed");
    }

    #[test]
    fn seal_is_chosen_by_the_environment() {
        use std::ffi::OsStr;
        assert_eq!(Seal::parse(None).unwrap(), Seal::Auto);
        assert_eq!(Seal::parse(Some(OsStr::new(""))).unwrap(), Seal::Auto);
        assert_eq!(Seal::parse(Some(OsStr::new("overlay"))).unwrap(), Seal::Overlay);
        assert_eq!(Seal::parse(Some(OsStr::new("memfd"))).unwrap(), Seal::Memfd);
        let err = Seal::parse(Some(OsStr::new("none"))).unwrap_err();
        assert_eq!(err.to_string(), r#"RCR_EXE_SEAL="none": expected "overlay" or "memfd""#);
    }
}
