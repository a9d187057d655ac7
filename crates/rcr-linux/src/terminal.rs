//! The caller's end of a foreground `run` whose container has a terminal:
//! rcr holds the pty master, copies its stdin to the master and the master
//! to its stdout, keeps the pty's window size in step with the caller's
//! terminal, and puts that terminal in raw mode meanwhile so that every key
//! (^C, ^Z, ...) reaches the container's line discipline unchanged.
//!
//! The relay is driven by the foreground loop's `poll(2)`, next to its
//! signalfd: no threads. Invariants:
//!
//! - the caller's terminal settings are restored when the relay is dropped,
//!   on every way out of the loop;
//! - stdin and stdout are never made non-blocking (their open file
//!   descriptions are shared with the caller's shell); only the master is,
//!   so neither direction can block the other: input waits in `pending`
//!   while the container does not read, and no more is read meanwhile.

use std::io::{IsTerminal, Stdin, Stdout};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::termios::{self, SetArg, Termios};

use crate::sys;

/// How much is read from either side at once.
const CHUNK: usize = 16 * 1024;

/// After the container's init exited, how long output may pause before the
/// relay stops waiting for more: processes outside a pid namespace can keep
/// the pty open indefinitely.
const LINGER_MS: u16 = 100;

/// Failures setting up the relay.
#[derive(Debug, thiserror::Error)]
pub enum TerminalError {
    #[error("make the terminal master non-blocking: {0}")]
    NonBlocking(nix::Error),
    #[error("put the calling terminal in raw mode: {0}")]
    RawMode(nix::Error),
}

/// The caller's terminal in raw mode; restores its settings when dropped.
#[derive(Debug)]
struct RawMode {
    tty: Stdin,
    saved: Termios,
}

impl RawMode {
    fn enter(tty: Stdin) -> Result<Self, TerminalError> {
        let saved = termios::tcgetattr(&tty).map_err(TerminalError::RawMode)?;
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        termios::tcsetattr(&tty, SetArg::TCSANOW, &raw).map_err(TerminalError::RawMode)?;
        Ok(Self { tty, saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Err(e) = termios::tcsetattr(&self.tty, SetArg::TCSANOW, &self.saved) {
            tracing::warn!("restore the terminal settings: {e}");
        }
    }
}

/// What the relay waits for in the next poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interest {
    stdin: bool,
    master: PollFlags,
}

/// A foreground run's terminal relay.
#[derive(Debug)]
pub struct Relay {
    master: OwnedFd,
    stdin: Stdin,
    stdout: Stdout,
    /// Read from stdin, not yet taken by the master.
    pending: Vec<u8>,
    stdin_open: bool,
    master_open: bool,
    stdout_open: bool,
    /// Restores the caller's terminal when the relay is dropped.
    _raw: Option<RawMode>,
}

impl Relay {
    /// Takes over the pty `master`: raw mode on the caller's terminal (if
    /// stdin is one) and the caller's window size on the pty.
    pub fn new(master: OwnedFd) -> Result<Self, TerminalError> {
        let flags =
            fcntl(master.as_raw_fd(), FcntlArg::F_GETFL).map_err(TerminalError::NonBlocking)?;
        let flags = OFlag::from_bits_retain(flags) | OFlag::O_NONBLOCK;
        fcntl(master.as_raw_fd(), FcntlArg::F_SETFL(flags)).map_err(TerminalError::NonBlocking)?;
        let stdin = std::io::stdin();
        // A closed stdin is an input that has already ended.
        let stdin_open = fcntl(stdin.as_raw_fd(), FcntlArg::F_GETFD).is_ok();
        let raw = if stdin_open && stdin.is_terminal() {
            Some(RawMode::enter(std::io::stdin())?)
        } else {
            None
        };
        let relay = Self {
            master,
            stdin,
            stdout: std::io::stdout(),
            pending: Vec::new(),
            stdin_open,
            master_open: true,
            stdout_open: true,
            _raw: raw,
        };
        relay.resize();
        Ok(relay)
    }

    /// Gives the pty the window size of the caller's terminal, if it has
    /// one; the kernel then signals SIGWINCH to the container.
    pub fn resize(&self) {
        resize_from_caller(self.master.as_fd());
    }

    pub fn interest(&self) -> Interest {
        let mut master = PollFlags::empty();
        if self.master_open {
            master |= PollFlags::POLLIN;
            if !self.pending.is_empty() {
                master |= PollFlags::POLLOUT;
            }
        }
        Interest { stdin: self.stdin_open && self.master_open && self.pending.is_empty(), master }
    }

    /// The fds to poll for `want`, in the order [`Relay::handle`] expects.
    pub fn poll_fds(&self, want: Interest) -> Vec<PollFd<'_>> {
        let mut fds = Vec::with_capacity(2);
        if !want.master.is_empty() {
            fds.push(PollFd::new(self.master.as_fd(), want.master));
        }
        if want.stdin {
            fds.push(PollFd::new(self.stdin.as_fd(), PollFlags::POLLIN));
        }
        fds
    }

    /// Acts on the readiness `revents` that polling [`Relay::poll_fds`]`(want)`
    /// reported.
    pub fn handle(&mut self, want: Interest, revents: &[PollFlags]) {
        let mut it = revents.iter().copied();
        let master = if want.master.is_empty() {
            PollFlags::empty()
        } else {
            it.next().unwrap_or(PollFlags::empty())
        };
        let stdin =
            if want.stdin { it.next().unwrap_or(PollFlags::empty()) } else { PollFlags::empty() };
        if master.intersects(
            PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR | PollFlags::POLLNVAL,
        ) {
            self.copy_output();
        }
        if master.contains(PollFlags::POLLOUT) {
            self.flush_input();
        }
        if !stdin.is_empty() {
            self.read_input();
        }
    }

    /// Relays what is left once the container's init has exited: the
    /// kernel hands out everything written to the pty before reporting
    /// that its last user closed it.
    pub fn finish(&mut self) {
        while self.master_open {
            let mut fds = [PollFd::new(self.master.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, PollTimeout::from(LINGER_MS)) {
                Ok(0) => break,
                Ok(_) => self.copy_output(),
                Err(nix::Error::EINTR) => {}
                Err(e) => {
                    tracing::debug!("poll the terminal master: {e}");
                    break;
                }
            }
        }
    }

    /// Master to stdout, until the master has nothing more right now.
    fn copy_output(&mut self) {
        let mut buf = [0u8; CHUNK];
        loop {
            match nix::unistd::read(self.master.as_raw_fd(), &mut buf) {
                Ok(0) => {
                    self.master_open = false;
                    return;
                }
                Ok(n) => self.write_stdout(&buf[..n]),
                Err(nix::Error::EINTR) => {}
                Err(nix::Error::EAGAIN) => return,
                // EIO: every holder of the slave closed it.
                Err(e) => {
                    if e != nix::Error::EIO {
                        tracing::debug!("read the terminal master: {e}");
                    }
                    self.master_open = false;
                    return;
                }
            }
        }
    }

    fn write_stdout(&mut self, mut data: &[u8]) {
        // Once stdout is gone the output is still read, and dropped, so the
        // container never blocks on a full pty.
        while self.stdout_open && !data.is_empty() {
            match nix::unistd::write(self.stdout.as_fd(), data) {
                Ok(n) => data = &data[n..],
                Err(nix::Error::EINTR) => {}
                Err(e) => {
                    tracing::debug!("write the container's output to stdout: {e}");
                    self.stdout_open = false;
                }
            }
        }
    }

    fn flush_input(&mut self) {
        while !self.pending.is_empty() {
            match nix::unistd::write(self.master.as_fd(), &self.pending) {
                Ok(n) => {
                    self.pending.drain(..n);
                }
                Err(nix::Error::EINTR) => {}
                Err(nix::Error::EAGAIN) => return,
                Err(e) => {
                    if e != nix::Error::EIO {
                        tracing::debug!("write to the terminal master: {e}");
                    }
                    self.pending.clear();
                    return;
                }
            }
        }
    }

    fn read_input(&mut self) {
        let mut buf = [0u8; CHUNK];
        match nix::unistd::read(self.stdin.as_raw_fd(), &mut buf) {
            Ok(0) => self.input_ended(),
            Ok(n) => {
                self.pending.extend_from_slice(&buf[..n]);
                self.flush_input();
            }
            Err(nix::Error::EINTR | nix::Error::EAGAIN) => {}
            Err(e) => {
                tracing::debug!("read stdin: {e}");
                self.input_ended();
            }
        }
    }

    /// Stdin ended. Nothing is sent for it, as in runc: a pty has no
    /// end-of-input of its own, and the EOF character means end of input
    /// only to a reader in canonical mode (a line-editing shell switches
    /// modes between reads, and the line discipline drops the EOF mark
    /// when the mode changes), so it could not be delivered reliably.
    fn input_ended(&mut self) {
        self.stdin_open = false;
    }
}

/// Copies the window size of the caller's terminal (the first of stdin,
/// stdout and stderr that is one) to the pty `master`; without one the pty
/// keeps `process.consoleSize`.
pub fn resize_from_caller(master: BorrowedFd<'_>) {
    let ws = if std::io::stdin().is_terminal() {
        sys::window_size(std::io::stdin().as_fd())
    } else if std::io::stdout().is_terminal() {
        sys::window_size(std::io::stdout().as_fd())
    } else if std::io::stderr().is_terminal() {
        sys::window_size(std::io::stderr().as_fd())
    } else {
        return;
    };
    match ws {
        Ok(ws) => {
            if let Err(e) = sys::set_window_size(master, &ws) {
                tracing::debug!("resize the container's terminal: {e}");
            }
        }
        Err(e) => tracing::debug!("read the calling terminal's size: {e}"),
    }
}
