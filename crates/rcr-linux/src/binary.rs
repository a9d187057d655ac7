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
//!    no new mount API (`ENOSYS`), a kernel before Linux 6.15 (which takes
//!    neither `O_PATH` fds nor detached mounts as layers), a directory
//!    overlayfs refuses (stacked too deep, an unsuitable filesystem) or a
//!    binary replaced on disk since it was started.
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
//! second is an empty detached tmpfs, under the binary's directory, so
//! nothing in it can shadow the binary. When rcr itself is on overlayfs (it
//! runs in a container image), its directory is an overlay that becomes a
//! layer of ours: the kernel allows two levels of stacking, and a deeper one
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
use std::path::{Path, PathBuf};

use nix::fcntl::{fcntl, AtFlags, FcntlArg, OFlag, SealFlag};
use nix::sys::memfd::{memfd_create, MemFdCreateFlag};
use nix::sys::stat::{fstat, FileStat, Mode, SFlag};
use nix::sys::statfs::{fstatfs, OVERLAYFS_SUPER_MAGIC};
use nix::sys::statvfs::FsFlags;

use crate::sys;

/// The environment variable that forces one seal.
pub const SEAL_ENV: &str = "RCR_EXE_SEAL";

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
pub fn ensure_protected() -> Result<Option<Protection>, BinaryError> {
    let exe = File::open("/proc/self/exe").map_err(BinaryError::Open)?;
    if let Some(p) = protection(&exe) {
        return Ok(Some(p));
    }
    let sealed = match Seal::parse(std::env::var_os(SEAL_ENV).as_deref())? {
        Seal::Overlay => overlay_seal(&exe, &exe_path()?)?,
        Seal::Memfd => memfd_copy(exe)?,
        Seal::Auto => match exe_path().and_then(|path| overlay_seal(&exe, &path)) {
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
/// execute, provided it is the file `exe`.
fn overlay_seal(exe: &File, path: &Path) -> Result<OwnedFd, BinaryError> {
    let err =
        |what: String, source: io::Error| BinaryError::Overlay { what, source, log: String::new() };
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        let what = format!("split {} into directory and name", path.display());
        return Err(err(what, io::ErrorKind::InvalidInput.into()));
    };
    let ctx = sys::fsopen(c"overlay").map_err(|e| err("fsopen overlay".into(), e))?;
    let ctx = ctx.as_fd();
    // fsconfig failures come with the kernel's reason on the context.
    let refused = |what: String, source: io::Error| BinaryError::Overlay {
        what,
        source,
        log: context_log(ctx),
    };
    let dir_fd = sys::open(dir, OFlag::O_PATH | OFlag::O_DIRECTORY, Mode::empty())
        .map_err(|e| err(format!("open {}", dir.display()), e.into()))?;
    // Layers stack in the order they are added: the binary's directory on
    // top. Kernels before 6.15 refuse an O_PATH fd here, before anything
    // else is built (and before overlayfs would log to dmesg).
    sys::fsconfig_set_fd(ctx, c"lowerdir+", dir_fd.as_fd())
        .map_err(|e| refused(format!("add layer {}", dir.display()), e))?;
    let empty = empty_tmpfs().map_err(|e| err("create an empty tmpfs layer".into(), e))?;
    sys::fsconfig_set_fd(ctx, c"lowerdir+", empty.as_fd())
        .map_err(|e| refused("add the empty layer".into(), e))?;
    for (key, value) in OVERLAY_OPTIONS {
        sys::fsconfig_set_string(ctx, key, value).map_err(|e| {
            refused(format!("set {}={}", key.to_string_lossy(), value.to_string_lossy()), e)
        })?;
    }
    sys::fsconfig_create(ctx).map_err(|e| refused("create the overlay".into(), e))?;
    // The overlay holds its own clones of the layers now.
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

/// A new, empty, detached tmpfs, as its mount fd.
///
/// Closing the mount fd dissolves the mount, and overlayfs clones only a
/// layer that is still mounted: the caller keeps it until the overlay's
/// superblock exists.
fn empty_tmpfs() -> io::Result<OwnedFd> {
    let ctx = sys::fsopen(c"tmpfs")?;
    sys::fsconfig_create(ctx.as_fd())?;
    let attrs = libc::MOUNT_ATTR_RDONLY
        | libc::MOUNT_ATTR_NOSUID
        | libc::MOUNT_ATTR_NODEV
        | libc::MOUNT_ATTR_NOEXEC;
    sys::fsmount(ctx.as_fd(), attrs)
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

    /// Whether this host can build the overlay seal: root, overlayfs, and a
    /// kernel that takes a detached mount as an overlayfs layer (6.15).
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
        let release = nix::sys::utsname::uname().unwrap().release().to_string_lossy().into_owned();
        let mut parts =
            release.split(|c: char| !c.is_ascii_digit()).map(|p| p.parse().unwrap_or(0));
        let version: (u32, u32) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
        if version < (6, 15) {
            return skip(&format!("kernel {release} takes no detached mount as a layer"));
        }
        true
    }

    /// A writable executable file in a fresh directory.
    fn binary_in_tempdir() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
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
        let sealed = overlay_seal(&exe, &path).unwrap();

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
        let err = overlay_seal(&running, &path).unwrap_err();
        assert!(matches!(err, BinaryError::Replaced(ref p) if *p == path), "{err}");
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
