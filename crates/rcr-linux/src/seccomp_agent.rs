//! The parent's half of `SCMP_ACT_NOTIFY`: handing the container's seccomp
//! notify fd to the agent at `linux.seccomp.listenerPath`.
//!
//! runtime-spec: the socket is `AF_UNIX`/`SOCK_STREAM`; each connection
//! carries exactly one "container process state" document (runtime.md), with
//! the fds it names in `fds` passed as `SCM_RIGHTS`, and is closed after it.
//! A failure to deliver fails `create`.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use nix::unistd::Pid;
use serde_json::json;

use crate::plan::NotifyListener;
use crate::sys;

/// The name of the notify fd in the state's `fds` list.
const SECCOMP_FD_NAME: &str = "seccompFd";

/// Who the agent is and what it is told about the container.
#[derive(Debug, Clone)]
pub struct AgentTarget {
    pub listener: NotifyListener,
    pub id: String,
    pub bundle: PathBuf,
    pub annotations: BTreeMap<String, String>,
}

/// Failures to reach the agent.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("connect to seccomp agent at {}: {source}", path.display())]
    Connect { path: PathBuf, source: io::Error },
    #[error("send seccomp notify fd to agent at {}: {source}", path.display())]
    Send { path: PathBuf, source: io::Error },
}

impl AgentTarget {
    /// The runtime-spec "container process state" for the init `pid`, whose
    /// container is still `creating`.
    pub fn process_state(&self, pid: Pid) -> serde_json::Value {
        let mut state = json!({
            "ociVersion": rcr_core::spec::SPEC_VERSION,
            "id": self.id,
            "status": "creating",
            "pid": pid.as_raw(),
            "bundle": self.bundle,
        });
        if !self.annotations.is_empty() {
            state["annotations"] = json!(self.annotations);
        }
        let mut doc = json!({
            "ociVersion": rcr_core::spec::SPEC_VERSION,
            "fds": [SECCOMP_FD_NAME],
            "pid": pid.as_raw(),
            "state": state,
        });
        if let Some(m) = &self.listener.metadata {
            doc["metadata"] = json!(m);
        }
        doc
    }

    fn connect(&self) -> io::Result<UnixStream> {
        let path = &self.listener.path;
        match path.as_os_str().as_bytes().strip_prefix(b"@") {
            // An abstract socket, written the way Go and runc spell it.
            Some(name) => {
                use std::os::linux::net::SocketAddrExt;
                let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
                UnixStream::connect_addr(&addr)
            }
            None => UnixStream::connect(path),
        }
    }

    /// Sends the process state of init `pid` and its notify `fd` to the
    /// agent, then closes the connection.
    pub fn send(&self, pid: Pid, fd: BorrowedFd<'_>) -> Result<(), AgentError> {
        let path = self.listener.path.clone();
        let mut stream =
            self.connect().map_err(|source| AgentError::Connect { path: path.clone(), source })?;
        let doc = serde_json::to_vec(&self.process_state(pid)).expect("a JSON value serializes");
        let sent = sys::send_with_fd(stream.as_fd(), &doc, fd)
            .and_then(|n| stream.write_all(&doc[n..]))
            .and_then(|()| stream.flush());
        sent.map_err(|source| AgentError::Send { path, source })
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::os::fd::AsRawFd;

    use super::*;

    fn target(path: PathBuf, metadata: Option<&str>) -> AgentTarget {
        AgentTarget {
            listener: NotifyListener { path, metadata: metadata.map(str::to_owned) },
            id: "c1".into(),
            bundle: "/b".into(),
            annotations: BTreeMap::from([("k".to_owned(), "v".to_owned())]),
        }
    }

    #[test]
    fn process_state_document() {
        let doc = target("/a".into(), Some("meta")).process_state(Pid::from_raw(42));
        assert_eq!(
            doc,
            json!({"ociVersion": rcr_core::spec::SPEC_VERSION, "fds": ["seccompFd"], "pid": 42,
                   "metadata": "meta",
                   "state": {"ociVersion": rcr_core::spec::SPEC_VERSION, "id": "c1", "status": "creating",
                             "pid": 42, "bundle": "/b", "annotations": {"k": "v"}}})
        );
        let doc = target("/a".into(), None).process_state(Pid::from_raw(42));
        assert!(doc.get("metadata").is_none());
    }

    #[test]
    fn sends_state_and_fd_once_per_connection() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.sock");
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let (mut keep, passed) = UnixStream::pair().unwrap();
        target(path.clone(), None).send(Pid::from_raw(7), passed.as_fd()).unwrap();
        drop(passed);

        let (conn, _) = listener.accept().unwrap();
        let mut buf = vec![0u8; 64 * 1024];
        let got = sys::recv_with_fds(conn.as_fd(), &mut buf).unwrap();
        let (n, fds) = (got.len, got.fds);
        let mut rest = Vec::new();
        (&conn).read_to_end(&mut rest).unwrap();
        let mut doc = buf[..n].to_vec();
        doc.extend(rest);
        let doc: serde_json::Value = serde_json::from_slice(&doc).unwrap();
        assert_eq!(doc["pid"], 7);
        assert_eq!(fds.len(), 1);
        // The fd is the other end of our pair.
        let mut got = UnixStream::from(fds.into_iter().next().unwrap());
        keep.write_all(b"y").unwrap();
        let mut b = [0u8; 1];
        got.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"y");
        assert!(keep.as_raw_fd() >= 0);
    }

    #[test]
    fn unreachable_agent_names_the_path() {
        let (_a, b) = UnixStream::pair().unwrap();
        let e = target("/nonexistent/agent.sock".into(), None).send(Pid::from_raw(1), b.as_fd());
        let e = e.unwrap_err().to_string();
        assert!(e.starts_with("connect to seccomp agent at /nonexistent/agent.sock: "), "{e}");
        let e =
            target("@rcr-no-such-abstract-agent".into(), None).send(Pid::from_raw(1), b.as_fd());
        assert!(e.unwrap_err().to_string().contains("@rcr-no-such-abstract-agent"));
    }
}
