//! A foreground `run`: the runtime stays the init's parent, forwards the
//! signals it receives, and exits with the container's status.
//!
//! Signals are blocked before the init is forked (the init resets its mask
//! before exec) so none is lost between create and wait; they are then read
//! from a signalfd.

use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

/// Failures while waiting in the foreground.
#[derive(Debug, thiserror::Error)]
pub enum ForegroundError {
    #[error("block signals: {0}")]
    Block(nix::Error),
    #[error("signalfd: {0}")]
    SignalFd(nix::Error),
    #[error("wait for container init {pid}: {source}")]
    Wait { pid: i32, source: nix::Error },
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

/// Forwards signals to `init` until it exits; returns its exit code.
pub fn forward_and_wait(init: Pid) -> Result<i32, ForegroundError> {
    let sfd = SignalFd::with_flags(&forwarded(), SfdFlags::SFD_CLOEXEC).map_err(ForegroundError::SignalFd)?;
    let reap = || -> Result<Option<i32>, ForegroundError> {
        match waitpid(init, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => Ok(None),
            Ok(s) => Ok(code(s)),
            Err(source) => Err(ForegroundError::Wait { pid: init.as_raw(), source }),
        }
    };
    // It may have exited before we got here.
    if let Some(c) = reap()? {
        return Ok(c);
    }
    loop {
        let info = match sfd.read_signal() {
            Ok(Some(info)) => info,
            Ok(None) | Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(ForegroundError::SignalFd(e)),
        };
        let signo = info.ssi_signo as i32;
        if signo == libc::SIGCHLD {
            if let Some(c) = reap()? {
                return Ok(c);
            }
        } else {
            let _ = crate::sys::kill_raw(init, signo);
        }
    }
}
