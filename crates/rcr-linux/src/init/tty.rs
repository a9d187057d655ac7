//! The container's session and terminal, set up by the init after
//! pivot_root and before it gives up root.
//!
//! The init always starts a session of its own, so the container never
//! shares the caller's session, process group or controlling terminal (and
//! a foreground `run` alone relays the caller's signals). With
//! `process.terminal`, it also allocates a pty:
//!
//! - from the container's own devpts (`/dev/pts/ptmx`, after pivot_root), so
//!   the pty is counted and visible in the container, never in the host's
//!   devpts (runc#814);
//! - its slave becomes the controlling terminal and fds 0, 1 and 2, is owned
//!   by the container user, and is bind-mounted on `/dev/console`;
//! - its master leaves the init only over the console socket, as the last
//!   step, so a failure never hands out the terminal of a dying container;
//!   the init keeps no copy.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;
use nix::mount::MsFlags;
use nix::sys::stat::{fstat, Mode, SFlag};

use super::InitResult;
use crate::console;
use crate::plan::ProcessPlan;
use crate::proto::InitError;
use crate::sys;

/// The ptmx device: major 5 (TTYAUX), minor 2.
const PTMX_DEV: (u64, u64) = (5, 2);
/// The first major of Unix98 pty slaves; index N is minor N % 256 of major
/// 136 + N / 256.
const PTY_SLAVE_MAJOR: u64 = 136;

/// Starts a session and, if `console` is given, creates the terminal and
/// sends its master there.
/// `dev_console`: bind the slave on `/dev/console` (the container's own
/// terminal; not for an `exec`'s).
pub fn setup(process: &ProcessPlan, console: Option<OwnedFd>, dev_console: bool) -> InitResult<()> {
    nix::unistd::setsid().map_err(|e| InitError::errno("start a session (setsid)", e))?;
    let Some(socket) = console else { return Ok(()) };
    let (master, ptmx) = open_ptmx()?;
    sys::unlock_pty(master.as_fd()).map_err(|e| InitError::io("unlock the pty", &e))?;
    let index =
        sys::pty_number(master.as_fd()).map_err(|e| InitError::io("get the pty number", &e))?;
    let slave_path = PathBuf::from(format!("/dev/pts/{index}"));
    let slave = open_slave(&master, &slave_path, index)?;
    if let Some((rows, cols)) = process.console_size {
        let ws = libc::winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
        sys::set_window_size(master.as_fd(), &ws)
            .map_err(|e| InitError::io("set the terminal size (process.consoleSize)", &e))?;
    }
    if dev_console {
        mount_console(&slave_path)?;
    }
    // The kernel makes the slave the opener's (root's); the container user
    // must own its terminal to change its modes or reopen it by name.
    nix::unistd::fchown(slave.as_raw_fd(), Some(nix::unistd::Uid::from_raw(process.uid)), None)
        .map_err(|e| {
            InitError::errno(format!("chown {} to {}", slave_path.display(), process.uid), e)
        })?;
    sys::set_controlling_tty(slave.as_fd()).map_err(|e| {
        InitError::io(format!("make {} the controlling terminal", slave_path.display()), &e)
    })?;
    for target in 0..=2 {
        nix::unistd::dup2(slave.as_raw_fd(), target).map_err(|e| {
            InitError::errno(format!("dup {} to fd {target}", slave_path.display()), e)
        })?;
    }
    drop(slave);
    console::send_fd(socket.as_fd(), ptmx.as_os_str().as_encoded_bytes(), master.as_fd())
        .map_err(|e| InitError::io("send the terminal to the console socket", &e))
}

fn is_dev(fd: &OwnedFd, (major, minor): (u64, u64)) -> bool {
    fstat(fd.as_raw_fd()).is_ok_and(|st| {
        SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFCHR
            && nix::sys::stat::major(st.st_rdev) == major
            && nix::sys::stat::minor(st.st_rdev) == minor
    })
}

/// Opens a new pty master from the container's devpts.
///
/// `/dev/pts/ptmx` is the devpts instance mounted at `/dev/pts` itself. If
/// there is none, a ptmx node at `/dev/ptmx` still allocates from the devpts
/// mounted next to it (the kernel refuses when that is not a devpts, so the
/// host's instance is never reached).
fn open_ptmx() -> InitResult<(OwnedFd, PathBuf)> {
    let flags = OFlag::O_RDWR | OFlag::O_NOCTTY;
    let hint = "process.terminal needs a devpts mounted on /dev/pts \
                (type devpts, options newinstance,ptmxmode=0666)";
    let mut last = nix::Error::ENOENT;
    for (path, extra) in [("/dev/pts/ptmx", OFlag::O_NOFOLLOW), ("/dev/ptmx", OFlag::empty())] {
        match sys::open(Path::new(path), flags | extra, Mode::empty()) {
            Ok(fd) if is_dev(&fd, PTMX_DEV) => return Ok((fd, PathBuf::from(path))),
            Ok(_) => {
                return Err(InitError::msg(format!(
                    "allocate a terminal: {path} is not the ptmx device"
                ))
                .with_hint(hint))
            }
            Err(e @ (nix::Error::ENOENT | nix::Error::ENODEV)) => last = e,
            Err(e) => return Err(InitError::errno(format!("allocate a terminal: open {path}"), e)),
        }
    }
    Err(InitError::errno("allocate a terminal: open /dev/pts/ptmx", last).with_hint(hint))
}

/// Opens the slave through the master; before Linux 4.13 by its path, then
/// checked to be the slave of this very pty.
fn open_slave(master: &OwnedFd, path: &Path, index: u32) -> InitResult<OwnedFd> {
    let flags = OFlag::O_RDWR | OFlag::O_NOCTTY;
    match sys::open_pty_peer(master.as_fd(), flags) {
        Ok(fd) => return Ok(fd),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL | libc::ENOTTY)) => {}
        Err(e) => return Err(InitError::io("open the pty slave", &e)),
    }
    let fd = sys::open(path, flags | OFlag::O_NOFOLLOW, Mode::empty())
        .map_err(|e| InitError::errno(format!("open the pty slave {}", path.display()), e))?;
    let index = u64::from(index);
    if !is_dev(&fd, (PTY_SLAVE_MAJOR + index / 256, index % 256)) {
        return Err(InitError::msg(format!("{} is not the slave of the new pty", path.display())));
    }
    Ok(fd)
}

/// Binds the slave on `/dev/console`, so programs that write to the console
/// reach the container's terminal rather than nothing (or the host's).
fn mount_console(slave: &Path) -> InitResult<()> {
    let console = Path::new("/dev/console");
    let ctx = || format!("bind {} on /dev/console", slave.display());
    match sys::open(console, OFlag::O_PATH | OFlag::O_NOFOLLOW, Mode::empty()) {
        Ok(fd) => {
            let st = fstat(fd.as_raw_fd()).map_err(|e| InitError::errno(ctx(), e))?;
            let kind = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
            if kind == SFlag::S_IFDIR || kind == SFlag::S_IFLNK {
                return Err(InitError::msg(format!(
                    "{}: /dev/console is a directory or a symlink",
                    ctx()
                )));
            }
        }
        Err(nix::Error::ENOENT) => {
            // A mount point only; whatever was asked for /dev/console in
            // linux.devices is covered by the bind, as in runc.
            sys::open(
                console,
                OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW,
                Mode::from_bits_truncate(0o666),
            )
            .map_err(|e| InitError::errno(format!("{}: create the mount point", ctx()), e))?;
        }
        Err(e) => return Err(InitError::errno(ctx(), e)),
    }
    nix::mount::mount(Some(slave), console, None::<&str>, MsFlags::MS_BIND, None::<&str>)
        .map_err(|e| InitError::errno(ctx(), e))
}
