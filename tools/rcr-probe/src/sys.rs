//! The few libc calls std does not expose, declared by hand to keep the probe dependency-free.
//!
//! These are fallbacks for when `/proc` is not mounted in the container.

use std::ffi::{c_int, c_ulong};

const PR_GET_NO_NEW_PRIVS: c_int = 39;

unsafe extern "C" {
    safe fn getuid() -> u32;
    safe fn getgid() -> u32;
    safe fn geteuid() -> u32;
    safe fn getegid() -> u32;
    safe fn getpgrp() -> i32;
    safe fn getsid(pid: i32) -> i32;
    safe fn umask(mask: u32) -> u32;
    fn getgroups(size: c_int, list: *mut u32) -> c_int;
    fn prctl(option: c_int, ...) -> c_int;
    fn ioctl(fd: c_int, request: c_ulong, ...) -> c_int;
}

/// TIOCGWINSZ in the asm-generic numbering most architectures use.
#[cfg(any(
    target_arch = "x86_64",
    target_arch = "x86",
    target_arch = "aarch64",
    target_arch = "arm",
    target_arch = "riscv64",
    target_arch = "s390x",
    target_arch = "loongarch64"
))]
const TIOCGWINSZ: Option<c_ulong> = Some(0x5413);
#[cfg(not(any(
    target_arch = "x86_64",
    target_arch = "x86",
    target_arch = "aarch64",
    target_arch = "arm",
    target_arch = "riscv64",
    target_arch = "s390x",
    target_arch = "loongarch64"
)))]
const TIOCGWINSZ: Option<c_ulong> = None;

/// `struct winsize`.
#[repr(C)]
#[derive(Default)]
struct Winsize {
    rows: u16,
    cols: u16,
    xpixel: u16,
    ypixel: u16,
}

/// The window size `(rows, columns)` of the terminal on `fd`, if it is one.
pub fn window_size(fd: c_int) -> Option<(u16, u16)> {
    let mut ws = Winsize::default();
    // SAFETY: TIOCGWINSZ writes one struct winsize through the pointer, which
    // points to a live local of that layout.
    let ret = unsafe { ioctl(fd, TIOCGWINSZ?, &mut ws as *mut Winsize) };
    (ret == 0).then_some((ws.rows, ws.cols))
}

/// Real and effective user and group ids: `(uid, euid, gid, egid)`.
pub fn ids() -> (u32, u32, u32, u32) {
    (getuid(), geteuid(), getgid(), getegid())
}

pub fn process_group() -> i32 {
    getpgrp()
}

pub fn session() -> i32 {
    getsid(0)
}

/// Reads the umask; the only interface for that also sets it, so it is put back at once.
pub fn current_umask() -> u32 {
    let old = umask(0o022);
    umask(old);
    old
}

pub fn groups() -> Option<Vec<u32>> {
    // SAFETY: a zero size only asks for the count and never writes through the pointer.
    let count = unsafe { getgroups(0, std::ptr::null_mut()) };
    let mut list = vec![0u32; usize::try_from(count).ok()?];
    // SAFETY: `list` has room for exactly `count` entries.
    let written = unsafe { getgroups(count, list.as_mut_ptr()) };
    list.truncate(usize::try_from(written).ok()?);
    Some(list)
}

pub fn no_new_privs() -> Option<bool> {
    // The kernel reads the unused arguments as unsigned longs and insists they
    // are zero, so they are passed at full width rather than as promoted ints.
    let zero: c_ulong = 0;
    // SAFETY: PR_GET_NO_NEW_PRIVS reads no memory and only returns a value.
    let ret = unsafe { prctl(PR_GET_NO_NEW_PRIVS, zero, zero, zero, zero) };
    (ret >= 0).then_some(ret == 1)
}
