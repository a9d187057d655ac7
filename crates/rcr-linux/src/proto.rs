//! The typed protocol between the parent (`rcr create`) and the container
//! init, over one `SOCK_SEQPACKET` socketpair: one message per datagram,
//! JSON-encoded. `docs/protocol.md` has the table; the parent side enforces
//! the phase order and rejects anything out of turn.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use nix::sys::socket::{send, socketpair, AddressFamily, MsgFlags, SockFlag, SockType};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Largest message either side sends.
const MAX_MESSAGE: usize = 64 * 1024;

/// Parent to init.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ToInit {
    /// The init is in its cgroup and the parent recorded its pid: go on.
    Proceed,
    /// The state document for the init's own hooks (createContainer,
    /// startContainer); sent before `Proceed`, only when there are hooks.
    HookState(serde_json::Value),
    /// The prestart and createRuntime hooks ran: go on to pivot_root.
    RuntimeHooksDone,
    /// The parent holds its own copy of the seccomp notify fd.
    SeccompFdTaken,
}

/// Severity of a forwarded log record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Level {
    Debug,
    Info,
    Warn,
}

impl Level {
    /// Re-emits a record the init (or an exec'd child) forwarded.
    pub fn emit(self, message: &str) {
        match self {
            Self::Debug => tracing::debug!(target: "rcr::init", "{message}"),
            Self::Info => tracing::info!(target: "rcr::init", "{message}"),
            Self::Warn => tracing::warn!(target: "rcr::init", "{message}"),
        }
    }
}

/// A failure inside the init, rendered once by the parent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitError {
    /// Outermost context first, e.g. `["mount proc on /proc", "operation not permitted"]`.
    pub chain: Vec<String>,
    pub errno: Option<i32>,
    pub hint: Option<String>,
}

impl std::fmt::Display for InitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.chain.join(": "))?;
        if let Some(hint) = &self.hint {
            write!(f, " ({hint})")?;
        }
        Ok(())
    }
}

impl std::error::Error for InitError {}

impl InitError {
    /// `what` failed with `errno`.
    pub fn errno(what: impl Into<String>, errno: nix::Error) -> Self {
        Self { chain: vec![what.into(), errno_text(errno)], errno: Some(errno as i32), hint: None }
    }

    /// `what` failed with an I/O error.
    pub fn io(what: impl Into<String>, e: &io::Error) -> Self {
        let errno = e.raw_os_error();
        let text = match errno {
            Some(n) => errno_text(nix::Error::from_raw(n)),
            None => e.to_string(),
        };
        Self { chain: vec![what.into(), text], errno, hint: None }
    }

    /// A failure with no errno.
    pub fn msg(what: impl Into<String>) -> Self {
        Self { chain: vec![what.into()], errno: None, hint: None }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// An errno's description with its first word in lower case, which is how
/// runc and Go's `syscall` package spell it ("no such file or directory",
/// "permission denied").
///
/// Engines classify runtime errors by these words, some case-sensitively:
/// the docker CLI makes `docker run` exit 127 only on "no such file or
/// directory" and 126 only on "permission denied".
pub fn errno_text(errno: nix::Error) -> String {
    let desc = errno.desc();
    let mut chars = desc.chars();
    match (chars.next(), chars.next()) {
        // A capitalised word, not an acronym such as "RPC" or "I/O".
        (Some(first), Some(second))
            if first.is_ascii_uppercase() && second.is_ascii_lowercase() =>
        {
            format!("{}{}", first.to_ascii_lowercase(), &desc[1..])
        }
        _ => desc.to_owned(),
    }
}

/// Init to parent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum FromInit {
    Log {
        level: Level,
        message: String,
    },
    /// The init forked the container's init proper (into a pid namespace it
    /// unshared after joining a user namespace) and exits. `pid` is in the
    /// parent's pid namespace; the new init waits for another `Proceed`.
    Forked {
        pid: i32,
    },
    /// The seccomp filter is loaded and its notify listener is the init's
    /// fd `fd`: the parent takes a copy with pidfd_getfd(2) (so the init
    /// needs no `sendmsg` under a filter that may notify it), hands it to
    /// the seccomp agent and answers `SeccompFdTaken`.
    SeccompNotify {
        fd: i32,
    },
    /// Mounts are done: the parent runs prestart and createRuntime hooks now
    /// (only sent when the spec has any).
    RuntimeHooks,
    /// Set up and about to wait for `start` on the exec fifo.
    Ready,
    Failed(InitError),
}

fn encode<T: Serialize>(msg: &T) -> io::Result<Vec<u8>> {
    let bytes = serde_json::to_vec(msg).map_err(io::Error::other)?;
    if bytes.len() > MAX_MESSAGE {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "protocol message too large"));
    }
    Ok(bytes)
}

/// One end of the socketpair.
#[derive(Debug)]
pub struct Channel {
    fd: OwnedFd,
}

/// Creates the connected pair `(parent, init)`.
pub fn pair() -> io::Result<(Channel, Channel)> {
    let (a, b) =
        socketpair(AddressFamily::Unix, SockType::SeqPacket, None, SockFlag::SOCK_CLOEXEC)?;
    Ok((Channel { fd: a }, Channel { fd: b }))
}

impl Channel {
    pub fn send<T: Serialize>(&self, msg: &T) -> io::Result<()> {
        let bytes = encode(msg)?;
        loop {
            match send(self.fd.as_raw_fd(), &bytes, MsgFlags::MSG_NOSIGNAL) {
                Ok(_) => return Ok(()),
                Err(nix::Error::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Sends `msg` with `fd` attached (`SCM_RIGHTS`).
    pub fn send_with_fd<T: Serialize>(&self, msg: &T, fd: BorrowedFd<'_>) -> io::Result<()> {
        let bytes = encode(msg)?;
        crate::sys::send_with_fd(self.fd.as_fd(), &bytes, fd).map(drop)
    }

    /// The next message, or `None` once the other side closed its end. An
    /// fd sent along is closed.
    pub fn recv<T: DeserializeOwned>(&self) -> io::Result<Option<T>> {
        Ok(self.recv_with_fd()?.map(|(msg, _)| msg))
    }

    /// The next message and the fd sent with it, if any, or `None` once the
    /// other side closed its end.
    pub fn recv_with_fd<T: DeserializeOwned>(&self) -> io::Result<Option<(T, Option<OwnedFd>)>> {
        // Sized to the message: most are a few bytes, and a 64 KiB buffer
        // per receive was the largest allocation of a container start.
        let len = crate::sys::peek_len(self.fd.as_fd())?;
        let mut buf = vec![0u8; len.min(MAX_MESSAGE)];
        let got = crate::sys::recv_with_fds(self.fd.as_fd(), &mut buf)?;
        let (n, fds) = (got.len, got.fds);
        if n == 0 && fds.is_empty() {
            return Ok(None);
        }
        if got.truncated {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "protocol message too large"));
        }
        if fds.len() > 1 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "protocol message carries more than one fd",
            ));
        }
        let msg = serde_json::from_slice(&buf[..n]).map_err(|e| {
            io::Error::new(io::ErrorKind::InvalidData, format!("bad protocol message: {e}"))
        })?;
        Ok(Some((msg, fds.into_iter().next())))
    }

    /// Sends a log record; failures are ignored, a log must never fail a step.
    pub fn log(&self, level: Level, message: impl Into<String>) {
        let _ = self.send(&FromInit::Log { level, message: message.into() });
    }

    pub fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_eof() {
        let (parent, init) = pair().unwrap();
        init.log(Level::Debug, "hello");
        init.send(&FromInit::Failed(InitError::errno("mount proc on /proc", nix::Error::EPERM)))
            .unwrap();
        parent.send(&ToInit::Proceed).unwrap();
        assert_eq!(init.recv::<ToInit>().unwrap(), Some(ToInit::Proceed));
        assert!(matches!(parent.recv::<FromInit>().unwrap(), Some(FromInit::Log { .. })));
        match parent.recv::<FromInit>().unwrap() {
            Some(FromInit::Failed(e)) => {
                assert_eq!(e.to_string(), "mount proc on /proc: operation not permitted");
                assert_eq!(e.errno, Some(libc::EPERM));
            }
            other => panic!("{other:?}"),
        }
        drop(init);
        assert_eq!(parent.recv::<FromInit>().unwrap(), None);
    }

    #[test]
    fn buffers_are_sized_to_each_message() {
        let (parent, init) = pair().unwrap();
        let long = "x".repeat(40_000);
        init.log(Level::Warn, long.clone());
        init.send(&FromInit::Ready).unwrap();
        match parent.recv::<FromInit>().unwrap() {
            Some(FromInit::Log { message, .. }) => assert_eq!(message, long),
            other => panic!("{other:?}"),
        }
        assert_eq!(parent.recv::<FromInit>().unwrap(), Some(FromInit::Ready));
        // Larger than any message the protocol sends: refused, not cut.
        let big = vec![b' '; MAX_MESSAGE + 1];
        nix::sys::socket::send(init.fd.as_raw_fd(), &big, nix::sys::socket::MsgFlags::empty())
            .unwrap();
        let err = parent.recv::<FromInit>().unwrap_err();
        assert!(err.to_string().contains("too large"), "{err}");
    }

    #[test]
    fn errno_text_is_gos_wording() {
        assert_eq!(errno_text(nix::Error::ENOENT), "no such file or directory");
        assert_eq!(errno_text(nix::Error::EACCES), "permission denied");
        assert_eq!(errno_text(nix::Error::EPERM), "operation not permitted");
        assert_eq!(errno_text(nix::Error::ENOEXEC), "exec format error");
        // An acronym keeps its case.
        assert_eq!(errno_text(nix::Error::EIO), "I/O error");
    }

    #[test]
    fn passes_an_fd() {
        use std::io::{Read, Write};
        let (parent, init) = pair().unwrap();
        let (mut a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        init.send_with_fd(&FromInit::SeccompNotify { fd: 7 }, b.as_fd()).unwrap();
        drop(b);
        init.send(&FromInit::Ready).unwrap();
        let (msg, fd) = parent.recv_with_fd::<FromInit>().unwrap().unwrap();
        assert_eq!(msg, FromInit::SeccompNotify { fd: 7 });
        let fd = fd.expect("an fd came along");
        let flags = nix::fcntl::fcntl(fd.as_raw_fd(), nix::fcntl::FcntlArg::F_GETFD).unwrap();
        assert_ne!(flags & libc::FD_CLOEXEC, 0, "received fds are close-on-exec");
        let mut b = std::os::unix::net::UnixStream::from(fd);
        b.write_all(b"x").unwrap();
        let mut got = [0u8; 1];
        a.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"x");
        let (msg, fd) = parent.recv_with_fd::<FromInit>().unwrap().unwrap();
        assert_eq!((msg, fd.is_none()), (FromInit::Ready, true));
    }
}
