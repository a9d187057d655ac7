//! The only home of raw syscalls and `unsafe` in the Linux backend: thin,
//! typed wrappers around what neither std nor nix offers.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::sched::CloneFlags;
use nix::unistd::Pid;

mod attrs;
mod caps;

pub use attrs::{ioprio_set, open_beneath, sched_setattr, set_personality};
pub use caps::{
    ambient_clear, ambient_raise, capbset_drop, capbset_read, capget, capset, kernel_caps, CapState,
};

/// Which side of a fork we are on.
#[derive(Debug)]
pub enum Forked {
    Parent(Pid),
    Child,
}

/// Forks the calling process into the namespaces named by `flags` (fork(2)
/// semantics: the child runs on a copy of our stack).
///
/// The runtime never starts threads on this path, so the child is a
/// faithful, single-threaded copy of the parent and may run Rust code freely.
pub fn fork_into(flags: CloneFlags) -> io::Result<Forked> {
    // SAFETY: clone with a NULL stack behaves like fork(2); the caller is
    // single-threaded (no threads on the runtime path), so no lock can be
    // held by a thread that does not exist in the child. No parent-tid,
    // child-tid or tls pointers are passed.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (flags.bits() | libc::SIGCHLD) as libc::c_ulong,
            std::ptr::null_mut::<libc::c_void>(),
            std::ptr::null_mut::<libc::c_int>(),
            std::ptr::null_mut::<libc::c_int>(),
            0usize,
        )
    };
    match ret {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(Pid::from_raw(pid as i32))),
    }
}

/// clone3(2)'s argument block, as the kernel defines it (`struct
/// clone_args`, version 2 with `cgroup`: 88 bytes, every field 64-bit on
/// every architecture). libc declares it for a few targets only.
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// [`fork_into`], with the child born in the cgroup v2 directory `cgroup`
/// (clone3's `CLONE_INTO_CGROUP`), so it never has to be migrated. Returns
/// whether that happened: on a kernel without clone3 or one that refuses
/// the cgroup, the child is forked plainly and `false` tells the caller to
/// move it, which reports what is wrong with the cgroup.
pub fn fork_into_cgroup(flags: CloneFlags, cgroup: BorrowedFd<'_>) -> io::Result<(Forked, bool)> {
    let args = CloneArgs {
        // The flags are a bit set: reinterpret, do not sign-extend.
        flags: u64::from(flags.bits() as u32) | CLONE_INTO_CGROUP,
        exit_signal: libc::SIGCHLD as u64,
        cgroup: cgroup.as_raw_fd() as u64,
        ..CloneArgs::default()
    };
    // SAFETY: as for `fork_into`: a zero stack makes clone3 behave like
    // fork(2) and the caller is single-threaded. `args` is a valid, fully
    // initialised clone_args of the size passed; no pointers are set in it.
    let ret = unsafe {
        libc::syscall(libc::SYS_clone3, &args as *const CloneArgs, std::mem::size_of::<CloneArgs>())
    };
    match ret {
        -1 => fork_into(flags).map(|f| (f, false)),
        0 => Ok((Forked::Child, true)),
        pid => Ok((Forked::Parent(Pid::from_raw(pid as i32)), true)),
    }
}

/// A pidfd for `pid` (pidfd_open(2)).
pub fn pidfd_open(pid: Pid) -> io::Result<OwnedFd> {
    // SAFETY: plain syscall with integer arguments.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel returned a new file descriptor that we now own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Sends `signal` to the process behind `pidfd` (pidfd_send_signal(2)).
pub fn pidfd_send_signal(pidfd: BorrowedFd<'_>, signal: i32) -> io::Result<()> {
    // SAFETY: plain syscall; a NULL siginfo means "as kill(2) would".
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            signal,
            std::ptr::null_mut::<libc::siginfo_t>(),
            0,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Marks every fd from `first` on close-on-exec.
pub fn cloexec_from(first: u32) -> io::Result<()> {
    // SAFETY: plain syscall with integer arguments; CLOEXEC closes nothing now.
    let r =
        unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, libc::CLOSE_RANGE_CLOEXEC) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Clears close-on-exec on `fd` so it survives into the container process.
pub fn clear_cloexec(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl on an integer fd; an invalid fd only yields EBADF.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above.
    if unsafe { libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Resets every signal disposition to default and unblocks all signals, so
/// the container process does not inherit what the runtime set up.
pub fn reset_signals() {
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal};
    let dfl = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
    for sig in Signal::iterator() {
        if matches!(sig, Signal::SIGKILL | Signal::SIGSTOP) {
            continue;
        }
        // SAFETY: installing SIG_DFL cannot violate any handler invariant.
        let _ = unsafe { sigaction(sig, &dfl) };
    }
    let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
}

/// Replaces the process image; returns only on failure.
pub fn execve(path: &CStr, args: &[std::ffi::CString], env: &[std::ffi::CString]) -> nix::Error {
    match nix::unistd::execve(path, args, env) {
        Err(e) => e,
        Ok(never) => match never {},
    }
}

/// Exits immediately, without running destructors or atexit handlers: the
/// right way out of a forked child that must not touch the parent's state.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit is async-signal-safe and never returns.
    unsafe { libc::_exit(code) }
}

/// The flags of the mount at `fd`, as statvfs(2) reports them.
pub fn mount_flags(fd: BorrowedFd<'_>) -> io::Result<nix::sys::statvfs::FsFlags> {
    let st = nix::sys::statvfs::fstatvfs(fd).map_err(io::Error::from)?;
    Ok(st.flags())
}

/// Takes ownership of a descriptor the kernel just returned.
fn owned(fd: RawFd) -> OwnedFd {
    // SAFETY: only called with descriptors fresh from a successful syscall,
    // which nothing else owns.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// open(2) returning an owned fd; `O_CLOEXEC` is always added.
pub fn open(
    path: &std::path::Path,
    flags: nix::fcntl::OFlag,
    mode: nix::sys::stat::Mode,
) -> nix::Result<OwnedFd> {
    nix::fcntl::open(path, flags | nix::fcntl::OFlag::O_CLOEXEC, mode).map(owned)
}

/// openat(2) relative to `dir`, returning an owned fd; `O_CLOEXEC` is added.
pub fn openat<P: ?Sized + nix::NixPath>(
    dir: BorrowedFd<'_>,
    path: &P,
    flags: nix::fcntl::OFlag,
    mode: nix::sys::stat::Mode,
) -> nix::Result<OwnedFd> {
    nix::fcntl::openat(Some(dir.as_raw_fd()), path, flags | nix::fcntl::OFlag::O_CLOEXEC, mode)
        .map(owned)
}

/// openat2(2) confined to `root` (`RESOLVE_IN_ROOT`, no magic links).
pub fn open_in_root(
    root: BorrowedFd<'_>,
    path: &std::path::Path,
    flags: nix::fcntl::OFlag,
) -> nix::Result<OwnedFd> {
    use nix::fcntl::{OpenHow, ResolveFlag};
    let how = OpenHow::new()
        .flags(flags | nix::fcntl::OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    nix::fcntl::openat2(root.as_raw_fd(), path, how).map(owned)
}

/// setdomainname(2), which nix lacks.
pub fn setdomainname(name: &str) -> nix::Result<()> {
    // SAFETY: the pointer and length describe a live byte slice.
    let r = unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) };
    nix::Error::result(r).map(drop)
}

/// kill(2) with any signal number, including realtime ones nix cannot name.
pub fn kill_raw(pid: Pid, signal: i32) -> nix::Result<()> {
    // SAFETY: plain syscall with integer arguments.
    nix::Error::result(unsafe { libc::kill(pid.as_raw(), signal) }).map(drop)
}

/// open_tree(2) with `OPEN_TREE_CLONE`: a detached copy of the mount at
/// `path` (with the mounts below it when `recursive`), as a close-on-exec fd
/// that [`move_mount`] can attach elsewhere.
pub fn open_tree_clone(path: &std::path::Path, recursive: bool) -> nix::Result<OwnedFd> {
    let path = std::ffi::CString::new(std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str()))
        .map_err(|_| nix::Error::EINVAL)?;
    let mut flags = libc::OPEN_TREE_CLONE | libc::OPEN_TREE_CLOEXEC;
    if recursive {
        flags |= libc::AT_RECURSIVE as libc::c_uint;
    }
    // SAFETY: the path is a live NUL-terminated string; the flags are plain
    // integers.
    let fd = unsafe { libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, path.as_ptr(), flags) };
    nix::Error::result(fd).map(|fd| owned(fd as RawFd))
}

/// mount_setattr(2) setting `MOUNT_ATTR_IDMAP` on the detached mount `tree`
/// (and every mount below it when `recursive`) from the user namespace
/// `userns`.
pub fn mount_setattr_idmap(
    tree: BorrowedFd<'_>,
    userns: BorrowedFd<'_>,
    recursive: bool,
) -> nix::Result<()> {
    let attr = libc::mount_attr {
        attr_set: libc::MOUNT_ATTR_IDMAP,
        attr_clr: 0,
        propagation: 0,
        userns_fd: userns.as_raw_fd() as u64,
    };
    let mut flags = libc::AT_EMPTY_PATH;
    if recursive {
        flags |= libc::AT_RECURSIVE;
    }
    // SAFETY: `attr` is a live, fully initialised mount_attr whose size is
    // passed along; the path is an empty NUL-terminated string.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            tree.as_raw_fd(),
            c"".as_ptr(),
            flags as libc::c_uint,
            &attr as *const libc::mount_attr,
            std::mem::size_of::<libc::mount_attr>(),
        )
    };
    nix::Error::result(r).map(drop)
}

/// move_mount(2) attaching the detached mount `tree` onto `target` (an
/// `O_PATH` fd of the mount point, so no path is resolved again).
pub fn move_mount(tree: BorrowedFd<'_>, target: BorrowedFd<'_>) -> nix::Result<()> {
    // SAFETY: both paths are empty NUL-terminated strings; the fds and flags
    // are plain integers.
    let r = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            tree.as_raw_fd(),
            c"".as_ptr(),
            target.as_raw_fd(),
            c"".as_ptr(),
            libc::MOVE_MOUNT_F_EMPTY_PATH | libc::MOVE_MOUNT_T_EMPTY_PATH,
        )
    };
    nix::Error::result(r).map(drop)
}

/// Joins a new session keyring named `name` (keyctl(2)
/// `KEYCTL_JOIN_SESSION_KEYRING`), so the container does not share the
/// caller's keys.
pub fn join_session_keyring(name: &CStr) -> io::Result<()> {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_int = 1;
    // SAFETY: the name is a valid NUL-terminated string for the call's duration.
    let r = unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr()) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Sends `bytes` in one `sendmsg(2)` with `fd` attached as `SCM_RIGHTS`;
/// returns how many bytes went out (a stream socket may take fewer).
pub fn send_with_fd(sock: BorrowedFd<'_>, bytes: &[u8], fd: BorrowedFd<'_>) -> io::Result<usize> {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
    let iov = [io::IoSlice::new(bytes)];
    let fds = [fd.as_raw_fd()];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    loop {
        match sendmsg::<()>(sock.as_raw_fd(), &iov, &cmsg, MsgFlags::MSG_NOSIGNAL, None) {
            Ok(n) => return Ok(n),
            Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Installs `program`, classic BPF as seccomp(2) reads it (8-byte
/// `struct sock_filter` records in native byte order), as a seccomp filter
/// of the calling thread: `seccomp(SECCOMP_SET_MODE_FILTER, flags, ...)`.
/// Returns the notify listener when `flags` asks for one
/// (`SECCOMP_FILTER_FLAG_NEW_LISTENER`).
pub fn seccomp_set_mode_filter(
    program: &[u8],
    flags: libc::c_ulong,
) -> io::Result<Option<OwnedFd>> {
    let len = program.len() / 8;
    if program.len() % 8 != 0 || len == 0 || len > usize::from(u16::MAX) {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let prog = libc::sock_fprog {
        len: len as u16,
        // The kernel copies the records in with copy_from_user, which has
        // no alignment requirement, and never writes through the pointer.
        filter: program.as_ptr().cast::<libc::sock_filter>().cast_mut(),
    };
    // SAFETY: `prog` points at `len` whole records inside `program`, which
    // outlives the call; the kernel only reads them.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            flags,
            std::ptr::from_ref(&prog),
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    // Only with NEW_LISTENER is the return value a (close-on-exec) fd.
    Ok((flags & libc::SECCOMP_FILTER_FLAG_NEW_LISTENER != 0).then(|| owned(ret as RawFd)))
}

/// Raw primitives the unit tests need to run code under a real filter.
#[cfg(test)]
pub mod testing {
    /// fork(2) through glibc, whose fork handlers keep malloc usable in the
    /// child even though the test harness runs other threads.
    pub fn fork() -> nix::unistd::ForkResult {
        // SAFETY: the children of the tests only load a filter, make raw
        // syscalls, write to a pipe and _exit.
        unsafe { nix::unistd::fork() }.expect("fork")
    }

    /// getppid(2) with six argument registers set: the syscall ignores them,
    /// a seccomp filter sees them.
    pub fn getppid_with(args: [u64; 6]) -> i64 {
        // SAFETY: getppid reads no memory, whatever its argument registers hold.
        unsafe {
            libc::syscall(libc::SYS_getppid, args[0], args[1], args[2], args[3], args[4], args[5])
        }
    }
}

/// Unlocks the slave of the pty whose master is `master` (what unlockpt(3)
/// does, without its path lookups).
pub fn unlock_pty(master: BorrowedFd<'_>) -> io::Result<()> {
    let unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK reads one int through the pointer, which points to a
    // live local for the duration of the call.
    let r = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &unlock) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The index `N` of the pty whose master is `master` (its slave is
/// `/dev/pts/N` on the same devpts).
pub fn pty_number(master: BorrowedFd<'_>) -> io::Result<u32> {
    let mut n: libc::c_uint = 0;
    // SAFETY: TIOCGPTN writes one unsigned int through the pointer, which
    // points to a live local.
    let r = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTN, &mut n) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n)
}

/// Opens the slave of the pty whose master is `master` (TIOCGPTPEER, Linux
/// 4.13): no path lookup, so nothing in the container can substitute
/// another file for it. `O_CLOEXEC` is always added.
pub fn open_pty_peer(master: BorrowedFd<'_>, flags: nix::fcntl::OFlag) -> io::Result<OwnedFd> {
    let flags = flags | nix::fcntl::OFlag::O_CLOEXEC;
    // SAFETY: TIOCGPTPEER takes its open flags by value and returns a new fd.
    let fd = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTPEER, flags.bits()) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(owned(fd))
}

/// Makes the terminal `fd` the controlling terminal of the calling session
/// leader (TIOCSCTTY, without stealing it from another session).
pub fn set_controlling_tty(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: TIOCSCTTY takes an int by value (0: do not steal).
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSCTTY, 0 as libc::c_int) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The window size of the terminal `fd` (TIOCGWINSZ).
pub fn window_size(fd: BorrowedFd<'_>) -> io::Result<libc::winsize> {
    let mut ws = libc::winsize { ws_row: 0, ws_col: 0, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: TIOCGWINSZ writes one struct winsize through the pointer, which
    // points to a live local of that type.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGWINSZ, &mut ws) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(ws)
}

/// Sets the window size of the terminal `fd` (TIOCSWINSZ); the kernel sends
/// SIGWINCH to the terminal's foreground process group if it changed.
pub fn set_window_size(fd: BorrowedFd<'_>, ws: &libc::winsize) -> io::Result<()> {
    // SAFETY: TIOCSWINSZ reads one struct winsize through the pointer, which
    // is a live reference.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, std::ptr::from_ref(ws)) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The most fds the kernel passes in one message (`SCM_MAX_FD`).
const SCM_MAX_FD: usize = 253;

/// recvmsg(2) of one message with the fds it carries (`SCM_RIGHTS`), which
/// arrive close-on-exec and owned.
pub fn recv_with_fds(sock: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<ReceivedFds> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags, UnixAddr};
    let mut iov = [io::IoSliceMut::new(buf)];
    // Room for the most a sender can pass: the control data is never
    // truncated, so every fd the kernel installed in our table is seen (and
    // closed if unwanted) instead of leaking.
    let mut cmsg = nix::cmsg_space!([RawFd; SCM_MAX_FD]);
    let msg = loop {
        match recvmsg::<UnixAddr>(
            sock.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Err(nix::Error::EINTR) => continue,
            other => break other?,
        }
    };
    let mut fds = Vec::new();
    let mut other_cmsgs = 0;
    for c in msg.cmsgs().map_err(io::Error::from)? {
        match c {
            ControlMessageOwned::ScmRights(raw) => fds.extend(raw.into_iter().map(owned)),
            _ => other_cmsgs += 1,
        }
    }
    Ok(ReceivedFds {
        len: msg.bytes,
        fds,
        other_cmsgs,
        truncated: msg.flags.contains(MsgFlags::MSG_TRUNC),
    })
}

/// The length of the next message on the packet socket `sock`, without
/// taking it (recv(2) with `MSG_PEEK | MSG_TRUNC`); 0 once the peer closed.
/// Blocks until there is one.
pub fn peek_len(sock: BorrowedFd<'_>) -> io::Result<usize> {
    loop {
        // SAFETY: a zero-length receive into a null buffer: with MSG_TRUNC
        // the kernel only reports the packet's length and writes nothing.
        let n = unsafe {
            libc::recv(sock.as_raw_fd(), std::ptr::null_mut(), 0, libc::MSG_PEEK | libc::MSG_TRUNC)
        };
        match n {
            -1 if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted => continue,
            -1 => return Err(io::Error::last_os_error()),
            n => return Ok(n as usize),
        }
    }
}

/// What [`recv_with_fds`] got.
#[derive(Debug)]
pub struct ReceivedFds {
    pub len: usize,
    pub fds: Vec<OwnedFd>,
    /// Control messages other than `SCM_RIGHTS`.
    pub other_cmsgs: usize,
    /// The payload did not fit the buffer.
    pub truncated: bool,
}

/// A copy of fd `target` of the process behind `pidfd` (pidfd_getfd(2)),
/// close-on-exec.
pub fn pidfd_getfd(pidfd: BorrowedFd<'_>, target: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: plain syscall with integer arguments; flags must be 0.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), target, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(owned(fd as RawFd))
}

/// fsopen(2): a new, unconfigured filesystem context for `fstype`
/// (close-on-exec), to be set up with the `fsconfig_*` calls and turned into
/// a detached mount by [`fsmount`].
pub fn fsopen(fstype: &CStr) -> io::Result<OwnedFd> {
    // SAFETY: the name is a live NUL-terminated string; the flags are plain
    // integers.
    let fd = unsafe { libc::syscall(libc::SYS_fsopen, fstype.as_ptr(), libc::FSOPEN_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(owned(fd as RawFd))
}

/// fsconfig(2) with `FSCONFIG_SET_STRING`: sets `key=value` on the context.
pub fn fsconfig_set_string(ctx: BorrowedFd<'_>, key: &CStr, value: &CStr) -> io::Result<()> {
    // SAFETY: key and value are live NUL-terminated strings; aux must be 0.
    let r = unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            ctx.as_raw_fd(),
            libc::FSCONFIG_SET_STRING,
            key.as_ptr(),
            value.as_ptr(),
            0,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// fsconfig(2) with `FSCONFIG_SET_FD`: passes the open file `fd` as `key`
/// (the kernel takes its own reference; `fd` may be closed afterwards).
pub fn fsconfig_set_fd(ctx: BorrowedFd<'_>, key: &CStr, fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: the key is a live NUL-terminated string; the value pointer
    // must be NULL for this command; the fds are plain integers.
    let r = unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            ctx.as_raw_fd(),
            libc::FSCONFIG_SET_FD,
            key.as_ptr(),
            std::ptr::null::<libc::c_char>(),
            fd.as_raw_fd(),
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// fsconfig(2) with `FSCONFIG_CMD_CREATE`: creates the superblock from the
/// parameters set so far.
pub fn fsconfig_create(ctx: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: this command takes no key, value or aux.
    let r = unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            ctx.as_raw_fd(),
            libc::FSCONFIG_CMD_CREATE,
            std::ptr::null::<libc::c_char>(),
            std::ptr::null::<libc::c_void>(),
            0,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// fsmount(2): a detached mount of the superblock created on `ctx`, with the
/// `MOUNT_ATTR_*` bits in `attrs`, as a close-on-exec fd. The mount belongs
/// to no mount namespace and is dissolved when the last reference to it
/// (this fd, or a file opened through it) goes away.
pub fn fsmount(ctx: BorrowedFd<'_>, attrs: u64) -> io::Result<OwnedFd> {
    // SAFETY: plain syscall with integer arguments.
    let fd =
        unsafe { libc::syscall(libc::SYS_fsmount, ctx.as_raw_fd(), libc::FSMOUNT_CLOEXEC, attrs) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(owned(fd as RawFd))
}
