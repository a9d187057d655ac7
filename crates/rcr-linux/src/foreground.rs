//! A foreground `run`: the runtime stays the init's parent, forwards the
//! signals it receives, relays the container's terminal if it has one, and
//! exits with the container's status.
//!
//! Signals are blocked before the init is forked (the init resets its mask
//! before exec) so none is lost between create and wait; they are then read
//! from a signalfd, which one `poll(2)` loop watches together with the
//! terminal relay's fds.

use std::os::fd::{AsFd, OwnedFd};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::terminal::{Relay, TerminalError};

/// Failures while waiting in the foreground.
#[derive(Debug, thiserror::Error)]
pub enum ForegroundError {
    #[error("block signals: {0}")]
    Block(nix::Error),
    #[error("signalfd: {0}")]
    SignalFd(nix::Error),
    #[error("wait for container init {pid}: {source}")]
    Wait { pid: i32, source: nix::Error },
    #[error(transparent)]
    Terminal(#[from] TerminalError),
    #[error("poll: {0}")]
    Poll(nix::Error),
}

fn forwarded() -> SigSet {
    let mut set = SigSet::all();
    set.remove(Signal::SIGKILL);
    set.remove(Signal::SIGSTOP);
    // Faults must stay deliverable to the runtime itself.
    for s in [Signal::SIGSEGV, Signal::SIGBUS, Signal::SIGILL, Signal::SIGFPE] {
        set.remove(s);
    }
    set
}

pub fn block_signals() -> Result<(), ForegroundError> {
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&forwarded()), None)
        .map_err(ForegroundError::Block)
}

fn code(status: WaitStatus) -> Option<i32> {
    match status {
        WaitStatus::Exited(_, c) => Some(c),
        WaitStatus::Signaled(_, sig, _) => Some(128 + sig as i32),
        _ => None,
    }
}

/// Forwards signals to `init` until it exits and, given the master of the
/// container's terminal, relays it; returns the init's exit code.
pub fn forward_and_wait(init: Pid, console: Option<OwnedFd>) -> Result<i32, ForegroundError> {
    let sfd = SignalFd::with_flags(&forwarded(), SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
        .map_err(ForegroundError::SignalFd)?;
    let reap = || -> Result<Option<i32>, ForegroundError> {
        match waitpid(init, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => Ok(None),
            Ok(s) => Ok(code(s)),
            Err(source) => Err(ForegroundError::Wait { pid: init.as_raw(), source }),
        }
    };
    // Dropping the relay restores the caller's terminal, on every return.
    let mut relay = console.map(Relay::new).transpose()?;
    let exited = |relay: &mut Option<Relay>, code: i32| {
        if let Some(r) = relay {
            r.finish();
        }
        Ok(code)
    };
    // It may have exited before we got here.
    if let Some(c) = reap()? {
        return exited(&mut relay, c);
    }
    loop {
        let want = relay.as_ref().map(Relay::interest);
        let (signalled, revents) = {
            let mut fds = vec![PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
            if let (Some(r), Some(w)) = (&relay, want) {
                fds.extend(r.poll_fds(w));
            }
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) => {}
                Err(nix::Error::EINTR) => continue,
                Err(e) => return Err(ForegroundError::Poll(e)),
            }
            let revents: Vec<PollFlags> =
                fds.iter().map(|f| f.revents().unwrap_or(PollFlags::empty())).collect();
            (!revents[0].is_empty(), revents)
        };
        // Signals first: a resize that arrived before some input is applied
        // before the container reads that input.
        if signalled {
            loop {
                let info = match sfd.read_signal() {
                    Ok(Some(info)) => info,
                    Ok(None) => break,
                    Err(nix::Error::EINTR) => continue,
                    Err(e) => return Err(ForegroundError::SignalFd(e)),
                };
                match (info.ssi_signo as i32, &relay) {
                    (libc::SIGCHLD, _) => {
                        if let Some(c) = reap()? {
                            return exited(&mut relay, c);
                        }
                    }
                    // With a terminal, resizing it signals the container.
                    (libc::SIGWINCH, Some(r)) => r.resize(),
                    (signo, _) => {
                        let _ = crate::sys::kill_raw(init, signo);
                    }
                }
            }
        }
        if let (Some(r), Some(w)) = (&mut relay, want) {
            r.handle(w, &revents[1..]);
        }
    }
}
