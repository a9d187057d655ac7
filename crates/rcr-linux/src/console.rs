//! Handing a container's terminal to whoever holds the other end of its
//! console socket (`--console-socket`, or rcr itself in a foreground `run`).
//!
//! The wire format is runc's, which containerd, conmon, podman and runc's
//! own `recvtty` receive: over a connected `AF_UNIX` stream socket, ONE
//! `sendmsg(2)` whose payload is the name of the pty master (shorter than
//! [`MAX_NAME`] bytes) and whose control data is one `SCM_RIGHTS` message
//! carrying exactly one fd, the master. Nothing else is ever written to the
//! socket; the sender closes it afterwards.
//!
//! The socket is connected by `rcr create`, which can still reach the path,
//! before the init is forked; the init inherits the connection and sends the
//! master once it has allocated the pty inside the container's own devpts.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;
use nix::sys::socket::{
    sendmsg, socket, socketpair, AddressFamily, ControlMessage, MsgFlags, SockFlag, SockType,
    UnixAddr,
};
use nix::sys::stat::Mode;

use crate::sys;

/// The longest payload (pty name) a receiver accepts, as in runc's
/// `RecvFile`; a name must be strictly shorter.
pub const MAX_NAME: usize = 4096;

/// The longest path `connect(2)` takes in `sun_path` (108 bytes with the
/// terminating NUL); longer ones are reached through their directory.
const SUN_PATH_MAX: usize = 107;

/// Failures around a container's console socket.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("connect to console socket {}: {}", path.display(), crate::proto::errno_text(*source))]
    Connect { path: PathBuf, source: nix::Error },
    #[error(
        "process.terminal is true but there is no --console-socket to send the terminal to \
         (a detached container needs one; or set process.terminal to false)"
    )]
    NoSocket,
    #[error("--console-socket was given but process.terminal is false")]
    NotTerminal,
    #[error("create terminal socket pair: {0}")]
    Pair(io::Error),
    #[error("receive the container's terminal: {0}")]
    Receive(io::Error),
}

/// Connects to the console socket at `path` (a listening `SOCK_STREAM`
/// socket, as runc requires).
pub fn connect(path: &Path) -> Result<OwnedFd, ConsoleError> {
    let err = |source| ConsoleError::Connect { path: path.to_owned(), source };
    if path.as_os_str().len() <= SUN_PATH_MAX {
        return connect_unix(path).map_err(err);
    }
    // Too long for sun_path: connect through an fd of its directory, which
    // /proc/self/fd turns back into a short path.
    let (dir, name) = match (path.parent(), path.file_name()) {
        (Some(dir), Some(name)) => {
            (if dir.as_os_str().is_empty() { Path::new(".") } else { dir }, name)
        }
        _ => return Err(err(nix::Error::ENAMETOOLONG)),
    };
    let dir = sys::open(dir, OFlag::O_PATH | OFlag::O_DIRECTORY, Mode::empty()).map_err(err)?;
    connect_unix(&Path::new("/proc/self/fd").join(dir.as_raw_fd().to_string()).join(name))
        .map_err(err)
}

fn connect_unix(path: &Path) -> nix::Result<OwnedFd> {
    let sock = socket(AddressFamily::Unix, SockType::Stream, SockFlag::SOCK_CLOEXEC, None)?;
    nix::sys::socket::connect(sock.as_raw_fd(), &UnixAddr::new(path)?)?;
    Ok(sock)
}

/// A connected pair of stream sockets `(receiver, sender)`, both
/// close-on-exec: the sender is the init's console socket, the receiver
/// stays with a foreground `run`.
pub fn pair() -> Result<(OwnedFd, OwnedFd), ConsoleError> {
    socketpair(AddressFamily::Unix, SockType::Stream, None, SockFlag::SOCK_CLOEXEC)
        .map_err(|e| ConsoleError::Pair(e.into()))
}

/// Sends `fd` over `sock` with `name` as the payload, in one message.
pub fn send_fd(sock: BorrowedFd<'_>, name: &[u8], fd: BorrowedFd<'_>) -> io::Result<()> {
    if name.is_empty() || name.len() >= MAX_NAME {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "fd name must be 1 to 4095 bytes"));
    }
    let fds = [fd.as_raw_fd()];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    let iov = [io::IoSlice::new(name)];
    loop {
        match sendmsg::<()>(sock.as_raw_fd(), &iov, &cmsg, MsgFlags::MSG_NOSIGNAL, None) {
            // A stream socket may take the payload in parts; the fd rides
            // with the first byte, so the rest is sent plainly.
            Ok(n) if n < name.len() => return write_all(sock, &name[n..]),
            Ok(_) => return Ok(()),
            Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

fn write_all(sock: BorrowedFd<'_>, mut rest: &[u8]) -> io::Result<()> {
    while !rest.is_empty() {
        match nix::sys::socket::send(sock.as_raw_fd(), rest, MsgFlags::MSG_NOSIGNAL) {
            Ok(n) => rest = &rest[n..],
            Err(nix::Error::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Receives one fd sent as [`send_fd`] (or runc's `SendFile`) does: returns
/// it and its name. Anything but exactly one fd is an error, and every fd
/// that arrived is closed then.
pub fn recv_fd(sock: BorrowedFd<'_>) -> io::Result<(OwnedFd, Vec<u8>)> {
    let mut name = vec![0u8; MAX_NAME];
    let got = sys::recv_with_fds(sock, &mut name)?;
    if got.len == 0 && got.fds.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the sender closed the socket without sending an fd",
        ));
    }
    if got.truncated || got.len >= MAX_NAME {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "fd name is too long"));
    }
    let mut fds = got.fds.into_iter();
    match (fds.next(), fds.next(), got.other_cmsgs) {
        (Some(fd), None, 0) => {
            name.truncate(got.len);
            Ok((fd, name))
        }
        (None, _, _) => Err(io::Error::new(io::ErrorKind::InvalidData, "message carries no fd")),
        _ => Err(io::Error::new(io::ErrorKind::InvalidData, "message carries more than one fd")),
    }
}

/// Receives the container's terminal master on the receiving end of a
/// [`pair`].
pub fn recv_master(receiver: &OwnedFd) -> Result<OwnedFd, ConsoleError> {
    recv_fd(receiver.as_fd()).map(|(fd, _)| fd).map_err(ConsoleError::Receive)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use std::io::{Read, Write};
    use std::os::unix::net::UnixListener;

    fn pipe_with(data: &[u8]) -> OwnedFd {
        let (r, w) = nix::unistd::pipe().unwrap();
        std::fs::File::from(w).write_all(data).unwrap();
        r
    }

    #[test]
    fn round_trip_over_a_pair() {
        let (rx, tx) = pair().unwrap();
        let fd = pipe_with(b"through the socket");
        send_fd(tx.as_fd(), b"/dev/pts/ptmx", fd.as_fd()).unwrap();
        drop(fd);
        let (got, name) = recv_fd(rx.as_fd()).unwrap();
        assert_eq!(name, b"/dev/pts/ptmx");
        let mut text = String::new();
        std::fs::File::from(got).read_to_string(&mut text).unwrap();
        assert_eq!(text, "through the socket");
        drop(tx);
        assert_eq!(recv_fd(rx.as_fd()).unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn received_fd_is_cloexec() {
        let (rx, tx) = pair().unwrap();
        let fd = pipe_with(b"");
        send_fd(tx.as_fd(), b"x", fd.as_fd()).unwrap();
        let (got, _) = recv_fd(rx.as_fd()).unwrap();
        let flags = nix::fcntl::fcntl(got.as_raw_fd(), nix::fcntl::FcntlArg::F_GETFD).unwrap();
        assert_ne!(flags & libc::FD_CLOEXEC, 0);
    }

    #[test]
    fn rejects_two_fds_and_no_fd() {
        let (rx, tx) = pair().unwrap();
        let (a, b) = (pipe_with(b""), pipe_with(b""));
        let fds = [a.as_raw_fd(), b.as_raw_fd()];
        let iov = [io::IoSlice::new(b"two")];
        sendmsg::<()>(
            tx.as_raw_fd(),
            &iov,
            &[ControlMessage::ScmRights(&fds)],
            MsgFlags::empty(),
            None,
        )
        .unwrap();
        let e = recv_fd(rx.as_fd()).unwrap_err();
        assert!(e.to_string().contains("more than one fd"), "{e}");
        write_all(tx.as_fd(), b"plain").unwrap();
        let e = recv_fd(rx.as_fd()).unwrap_err();
        assert!(e.to_string().contains("no fd"), "{e}");
        assert!(send_fd(tx.as_fd(), b"", a.as_fd()).is_err());
        assert!(send_fd(tx.as_fd(), &[b'x'; MAX_NAME], a.as_fd()).is_err());
    }

    #[test]
    fn connects_to_long_paths() {
        let tmp = tempfile::tempdir().unwrap();
        let deep = tmp.path().join("d".repeat(60)).join("e".repeat(60));
        std::fs::create_dir_all(&deep).unwrap();
        let path = deep.join("console.sock");
        assert!(path.as_os_str().len() > SUN_PATH_MAX);
        let listener = {
            // bind(2) has the same limit.
            let dir = sys::open(&deep, OFlag::O_PATH | OFlag::O_DIRECTORY, Mode::empty()).unwrap();
            UnixListener::bind(
                Path::new("/proc/self/fd").join(dir.as_raw_fd().to_string()).join("console.sock"),
            )
            .unwrap()
        };
        let sock = connect(&path).unwrap();
        let (server, _) = listener.accept().unwrap();
        let fd = pipe_with(b"");
        send_fd(sock.as_fd(), b"/dev/ptmx", fd.as_fd()).unwrap();
        let (_, name) = recv_fd(server.as_fd()).unwrap();
        assert_eq!(name, b"/dev/ptmx");
        let e = connect(&tmp.path().join("missing.sock")).unwrap_err().to_string();
        assert!(e.starts_with("connect to console socket ") && e.contains("no such file"), "{e}");
    }
}
