//! The raw system calls of this crate: loading and attaching the cgroup v2
//! device program with `bpf(2)`, which neither nix nor libc wrap. This is the
//! only module of the crate with `unsafe`.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
/// Lets several programs be attached to one cgroup, all of which must allow
/// an access; without it a nested cgroup's program would replace its
/// parent's instead of adding to it.
const BPF_F_ALLOW_MULTI: u32 = 2;
const LOG_SIZE: usize = 64 * 1024;

/// The `BPF_PROG_LOAD` part of `union bpf_attr`, up to the last field used;
/// the kernel zero-fills the fields beyond the size passed.
#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

/// The `BPF_PROG_ATTACH` part of `union bpf_attr`.
#[repr(C)]
#[derive(Default)]
struct ProgAttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
}

fn bpf<T>(cmd: libc::c_long, attr: &mut T) -> io::Result<libc::c_long> {
    // SAFETY: `attr` is a live, initialised `repr(C)` prefix of `union
    // bpf_attr` for `cmd`, and its exact size is passed; any pointers it
    // holds are to buffers the caller keeps alive across the call.
    let ret = unsafe {
        libc::syscall(libc::SYS_bpf, cmd, std::ptr::from_mut(attr), std::mem::size_of::<T>())
    };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Loads a cgroup device program (`insns` as encoded `struct bpf_insn`s).
/// On failure the error carries the verifier's log, if it wrote one.
pub(crate) fn load_device_program(insns: &[u8]) -> io::Result<OwnedFd> {
    const LICENSE: &CStr = c"Apache-2.0";
    let count =
        u32::try_from(insns.len() / 8).map_err(|_| io::Error::from_raw_os_error(libc::E2BIG))?;
    let mut attr = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: count,
        insns: insns.as_ptr() as u64,
        license: LICENSE.as_ptr() as u64,
        ..ProgLoadAttr::default()
    };
    attr.prog_name[..7].copy_from_slice(b"rcr_dev");
    let first = match bpf(BPF_PROG_LOAD, &mut attr) {
        Ok(fd) => return Ok(prog_fd(fd)),
        Err(e) => e,
    };
    if first.raw_os_error() != Some(libc::EACCES) && first.raw_os_error() != Some(libc::EINVAL) {
        return Err(first);
    }
    // Load again with the verifier's log, to say why it refused.
    let mut log = vec![0u8; LOG_SIZE];
    attr.log_level = 1;
    attr.log_size = LOG_SIZE as u32;
    attr.log_buf = log.as_mut_ptr() as u64;
    match bpf(BPF_PROG_LOAD, &mut attr) {
        Ok(fd) => Ok(prog_fd(fd)),
        Err(e) => {
            let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
            let text = String::from_utf8_lossy(&log[..end]);
            let last = text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("");
            if last.is_empty() {
                Err(e)
            } else {
                Err(io::Error::new(e.kind(), format!("{e}: verifier: {last}")))
            }
        }
    }
}

fn prog_fd(raw: libc::c_long) -> OwnedFd {
    let raw = i32::try_from(raw).expect("the kernel returns an fd number");
    // SAFETY: BPF_PROG_LOAD returned a new file descriptor that nothing
    // else owns (the kernel sets O_CLOEXEC on bpf fds).
    unsafe { OwnedFd::from_raw_fd(raw) }
}

/// Attaches a loaded device program to the cgroup directory `cgroup`.
pub(crate) fn attach_device_program(cgroup: BorrowedFd<'_>, prog: &OwnedFd) -> io::Result<()> {
    let fd = |f: BorrowedFd<'_>| u32::try_from(f.as_raw_fd()).expect("fds are not negative");
    let mut attr = ProgAttachAttr {
        target_fd: fd(cgroup),
        attach_bpf_fd: fd(prog.as_fd()),
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
    };
    bpf(BPF_PROG_ATTACH, &mut attr).map(drop)
}
