//! Protection of the runtime binary against being overwritten from inside a
//! container (CVE-2019-5736).
//!
//! A container process can reach the runtime's executable through
//! `/proc/<pid>/exe` of a runtime process that entered the container (or
//! through `#!/proc/self/exe` as its own interpreter), keep an `O_PATH` fd,
//! and reopen it for writing once the runtime has exited. Before doing any
//! container work, `create`, `run` and `exec` therefore re-execute
//! themselves from a sealed, anonymous copy of the binary (a memfd), so
//! `/proc/self/exe` never names a host file that can be written.
//!
//! The copy is skipped when it cannot help: the binary is already a sealed
//! memfd (we are the copy), or it lives on a read-only mount, which nobody in
//! a container can make writable.

use std::ffi::{CString, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::ffi::OsStringExt;

use nix::fcntl::{fcntl, FcntlArg, SealFlag};
use nix::sys::memfd::{memfd_create, MemFdCreateFlag};
use nix::sys::statvfs::FsFlags;

/// Failures while protecting the binary.
#[derive(Debug, thiserror::Error)]
pub enum BinaryError {
    #[error("open /proc/self/exe: {0}")]
    Open(io::Error),
    #[error("copy the runtime binary into a sealed memfd: {0}")]
    Copy(io::Error),
    #[error("re-execute from the sealed copy: {0}")]
    Exec(nix::Error),
}

const SEALS: SealFlag = SealFlag::F_SEAL_SEAL
    .union(SealFlag::F_SEAL_SHRINK)
    .union(SealFlag::F_SEAL_GROW)
    .union(SealFlag::F_SEAL_WRITE);

/// Why the binary needs no copy, if it does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protection {
    /// Running from a sealed memfd already.
    Sealed,
    /// The binary is on a read-only mount.
    ReadOnly,
}

/// Whether the running binary is already safe from being overwritten.
pub fn protection(exe: &File) -> Option<Protection> {
    if let Ok(seals) = fcntl(exe.as_raw_fd(), FcntlArg::F_GET_SEALS) {
        if SealFlag::from_bits_truncate(seals).contains(SEALS) {
            return Some(Protection::Sealed);
        }
    }
    match crate::sys::mount_flags(exe.as_fd()) {
        Ok(flags) if flags.contains(FsFlags::ST_RDONLY) => Some(Protection::ReadOnly),
        _ => None,
    }
}

fn cstrings(items: impl Iterator<Item = OsString>) -> Vec<CString> {
    // Arguments and environment from the kernel never contain NUL bytes.
    items.filter_map(|s| CString::new(s.into_vec()).ok()).collect()
}

/// Re-executes the process from a sealed memfd copy of its binary unless it
/// is already protected; returns only when no copy is needed or on error.
pub fn ensure_protected() -> Result<Option<Protection>, BinaryError> {
    let mut exe = File::open("/proc/self/exe").map_err(BinaryError::Open)?;
    if let Some(p) = protection(&exe) {
        return Ok(Some(p));
    }
    let memfd =
        memfd_create(c"rcr", MemFdCreateFlag::MFD_CLOEXEC | MemFdCreateFlag::MFD_ALLOW_SEALING)
            .map_err(|e| BinaryError::Copy(e.into()))?;
    let mut copy = File::from(memfd);
    // std uses copy_file_range/sendfile here: the bytes never enter user space.
    io::copy(&mut exe, &mut copy).map_err(BinaryError::Copy)?;
    fcntl(copy.as_raw_fd(), FcntlArg::F_ADD_SEALS(SEALS))
        .map_err(|e| BinaryError::Copy(e.into()))?;
    let args = cstrings(std::env::args_os());
    let env = cstrings(std::env::vars_os().map(|(k, v)| {
        let mut kv = k;
        kv.push("=");
        kv.push(v);
        kv
    }));
    let err = match nix::unistd::fexecve(copy.as_raw_fd(), &args, &env) {
        Err(e) => e,
        Ok(never) => match never {},
    };
    Err(BinaryError::Exec(err))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_memfd_counts_as_protected() {
        let fd =
            memfd_create(c"t", MemFdCreateFlag::MFD_CLOEXEC | MemFdCreateFlag::MFD_ALLOW_SEALING)
                .unwrap();
        let f = File::from(fd);
        assert_eq!(protection(&f), None, "an unsealed memfd on a writable tmpfs is not protected");
        fcntl(f.as_raw_fd(), FcntlArg::F_ADD_SEALS(SEALS)).unwrap();
        assert_eq!(protection(&f), Some(Protection::Sealed));
    }
}
