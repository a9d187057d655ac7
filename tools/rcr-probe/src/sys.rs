//! The few libc calls std does not expose, declared by hand to keep the probe dependency-free.
//!
//! These are fallbacks for when `/proc` is not mounted in the container.

use std::ffi::{c_char, c_int, c_long, c_ulong};

const PR_GET_NO_NEW_PRIVS: c_int = 39;

/// `personality(0xffffffff)` only queries the persona.
const PERSONALITY_QUERY: c_ulong = 0xffff_ffff;

const IOPRIO_WHO_PROCESS: c_int = 1;

#[cfg(target_arch = "x86_64")]
const SYS_IOPRIO_GET: c_long = 252;
#[cfg(target_arch = "aarch64")]
const SYS_IOPRIO_GET: c_long = 31;

/// `struct utsname` as glibc and musl lay it out on Linux: six 65-byte fields.
#[repr(C)]
struct UtsName {
    sysname: [c_char; 65],
    nodename: [c_char; 65],
    release: [c_char; 65],
    version: [c_char; 65],
    machine: [c_char; 65],
    domainname: [c_char; 65],
}

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
    fn personality(persona: c_ulong) -> c_int;
    fn uname(buf: *mut UtsName) -> c_int;
    fn syscall(number: c_long, ...) -> c_long;
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

/// The process's execution domain and flags (personality(2)).
pub fn persona() -> Option<u32> {
    // SAFETY: the query value changes nothing and reads no memory.
    let ret = unsafe { personality(PERSONALITY_QUERY) };
    u32::try_from(ret).ok()
}

/// The hardware name uname(2) reports, which the LINUX32 persona changes.
pub fn machine() -> Option<String> {
    // SAFETY: UtsName is plain bytes, for which all zeroes is a valid value.
    let mut buf: UtsName = unsafe { std::mem::zeroed() };
    // SAFETY: `buf` is a live, writable struct of the layout uname expects.
    if unsafe { uname(&mut buf) } != 0 {
        return None;
    }
    let bytes: Vec<u8> =
        buf.machine.iter().take_while(|&&c| c != 0).map(|&c| c.to_ne_bytes()[0]).collect();
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// The I/O priority of this process as `(class, level)` (ioprio_get(2)).
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
pub fn io_priority() -> Option<(u32, u32)> {
    // SAFETY: ioprio_get takes two integers and reads no memory.
    let ret = unsafe { syscall(SYS_IOPRIO_GET, IOPRIO_WHO_PROCESS, 0 as c_int) };
    let value = u32::try_from(ret).ok()?;
    Some((value >> 13, value & 0x1fff))
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
pub fn io_priority() -> Option<(u32, u32)> {
    None
}

/// Makes syscall `number` with six argument registers set (unused ones
/// still reach a seccomp filter); returns the result or the errno.
pub fn raw_syscall(number: i64, args: [u64; 6]) -> Result<i64, i32> {
    // SAFETY: the caller picks the syscall; the probe only runs inside test
    // containers, and tests pass numbers whose arguments are not pointers
    // (or null ones).
    let ret = unsafe { syscall(number, args[0], args[1], args[2], args[3], args[4], args[5]) };
    if ret == -1 {
        Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
    } else {
        Ok(ret)
    }
}
