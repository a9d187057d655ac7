//! Capability syscalls by capability number: capget(2)/capset(2) with the
//! 64-bit version 3 ABI, and the bounding and ambient prctl(2)s.
//!
//! Numbers rather than a closed enum, so that capabilities newer than any
//! name table (a kernel's `cap_last_cap` keeps growing) are still dropped.

/// `_LINUX_CAPABILITY_VERSION_3`: two 32-bit words per set.
const CAP_VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// The effective, permitted and inheritable sets of a thread, as masks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CapState {
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
}

fn join(words: [CapData; 2], f: fn(&CapData) -> u32) -> u64 {
    u64::from(f(&words[0])) | u64::from(f(&words[1])) << 32
}

/// capget(2) on the calling thread.
pub fn capget() -> nix::Result<CapState> {
    let mut header = CapHeader { version: CAP_VERSION_3, pid: 0 };
    let mut data = [CapData::default(); 2];
    // SAFETY: version 3 makes the kernel write exactly two CapData, which
    // `data` holds; both pointers are live for the call.
    let r = unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) };
    nix::Error::result(r)?;
    Ok(CapState {
        effective: join(data, |d| d.effective),
        permitted: join(data, |d| d.permitted),
        inheritable: join(data, |d| d.inheritable),
    })
}

/// capset(2) on the calling thread: all three sets at once, so the kernel
/// checks the new sets against each other, not against a half-done change.
pub fn capset(s: &CapState) -> nix::Result<()> {
    let mut header = CapHeader { version: CAP_VERSION_3, pid: 0 };
    let word = |shift: u32| CapData {
        effective: (s.effective >> shift) as u32,
        permitted: (s.permitted >> shift) as u32,
        inheritable: (s.inheritable >> shift) as u32,
    };
    let data = [word(0), word(32)];
    // SAFETY: version 3 makes the kernel read exactly two CapData from
    // `data`; both pointers are live for the call.
    let r = unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) };
    nix::Error::result(r).map(drop)
}

fn prctl(
    option: libc::c_int,
    arg2: libc::c_ulong,
    arg3: libc::c_ulong,
) -> nix::Result<libc::c_int> {
    let zero: libc::c_ulong = 0;
    // SAFETY: the capability prctls take integer arguments only; the unused
    // ones are passed as full-width zeros, which the kernel insists on.
    let r = unsafe { libc::prctl(option, arg2, arg3, zero, zero) };
    nix::Error::result(r)
}

/// Whether `cap` is in the bounding set; `EINVAL` if the kernel does not
/// know the capability at all.
pub fn capbset_read(cap: u32) -> nix::Result<bool> {
    prctl(libc::PR_CAPBSET_READ, cap.into(), 0).map(|r| r == 1)
}

/// The capabilities the running kernel knows, as a mask: the bounding-set
/// probe answers `EINVAL` past `cap_last_cap`, with no need for /proc.
pub fn kernel_caps() -> u64 {
    (0..64u32).take_while(|&n| capbset_read(n).is_ok()).fold(0, |m, n| m | 1 << n)
}

/// Removes `cap` from the bounding set (needs `CAP_SETPCAP`).
pub fn capbset_drop(cap: u32) -> nix::Result<()> {
    prctl(libc::PR_CAPBSET_DROP, cap.into(), 0).map(drop)
}

/// Empties the ambient set.
pub fn ambient_clear() -> nix::Result<()> {
    prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong, 0).map(drop)
}

/// Adds `cap` to the ambient set; it must be permitted and inheritable.
pub fn ambient_raise(cap: u32) -> nix::Result<()> {
    prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_RAISE as libc::c_ulong, cap.into()).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_capabilities() {
        let state = capget().unwrap();
        assert_eq!(state.effective & !state.permitted, 0, "{state:?}");
        assert!(capbset_read(0).is_ok());
        assert_eq!(capbset_read(63), Err(nix::Error::EINVAL));
    }

    #[test]
    fn kernel_caps_are_contiguous_from_zero() {
        let known = kernel_caps();
        assert_eq!(known & (known + 1), 0, "{known:#x}");
        let last: u32 = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert_eq!(known.count_ones(), last + 1, "{known:#x}");
    }
}
