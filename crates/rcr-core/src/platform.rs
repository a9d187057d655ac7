//! The seam between the platform-neutral lifecycle and an OS backend.
//!
//! It sits at the OCI lifecycle (create, start, kill, destroy, liveness), not
//! at mounts or namespaces: a Windows backend shares the lifecycle but
//! nothing below it. A backend returns data; the core persists it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use oci_spec::runtime::LinuxResources;
use serde::Serialize;

use crate::spec::Bundle;
use crate::state::{ContainerState, Liveness};

/// Errors crossing the seam: each backend has its own domain errors, boxed
/// here so the core can carry them to the one place that renders errors.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A verb this backend does not implement.
#[derive(Debug, thiserror::Error)]
#[error("{0} is not supported on this platform")]
pub struct Unsupported(pub &'static str);

/// One record of `events`: `{"type": "stats"|"oom", "id": ..., "data": ...}`
/// as runc prints it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
}

/// Options of `create` (runc's flags).
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    pub pid_file: Option<PathBuf>,
    /// Socket-activation fds passed on from our caller (`LISTEN_FDS`): they
    /// sit at fd 3 on, before the `preserve_fds` ones.
    pub listen_fds: u32,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: u32,
    pub systemd_cgroup: bool,
    /// `--console-socket`: where the master of the container's terminal is
    /// sent (a listening unix stream socket).
    pub console_socket: Option<PathBuf>,
}

/// Options of `exec` (runc's flags) that are not about the process itself.
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub preserve_fds: u32,
    /// A sub-cgroup of the container's to run the process in.
    pub cgroup: Option<String>,
    pub ignore_paused: bool,
}

/// One `exec` call, handed to the backend.
#[derive(Debug)]
pub struct ExecRequest<'a> {
    /// The runtime's state root (`--root`), for caches shared by containers.
    pub root: &'a Path,
    pub state: &'a ContainerState,
    pub process: &'a oci_spec::runtime::Process,
    pub options: &'a ExecOptions,
}

/// What a backend reports while creating, to be persisted at once so that a
/// create killed at any point can still be cleaned up by `delete --force`.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    /// The init's pid and start time, once it exists.
    pub init: Option<(i32, u64)>,
    /// Backend data (cgroup paths, ...), recorded before the resources exist.
    pub platform: serde_json::Value,
}

/// One `create` call, handed to the backend.
#[derive(Debug)]
pub struct CreateRequest<'a> {
    /// The runtime's state root (`--root`), for caches shared by containers.
    pub root: &'a Path,
    pub id: &'a str,
    pub bundle: &'a Bundle,
    /// The container's state directory (holds the exec fifo).
    pub state_dir: &'a Path,
    /// The fd holding the container lock; a forked child must close it.
    pub lock_fd: std::os::fd::RawFd,
    pub options: &'a CreateOptions,
}

/// An OS backend.
pub trait Platform {
    /// Creates the container up to "created": the init exists and waits for
    /// `start`. `record` must be called before each new side effect.
    fn create(
        &self,
        req: &CreateRequest<'_>,
        record: &mut dyn FnMut(&Progress) -> Result<(), BoxError>,
    ) -> Result<Progress, BoxError>;

    /// Lets a created init run its process.
    fn start(&self, state_dir: &Path, state: &ContainerState) -> Result<(), BoxError>;

    /// What the init is doing right now.
    fn liveness(&self, state_dir: &Path, state: &ContainerState) -> Liveness;

    /// Sends `signal` to the init, or with `all` to every container process.
    fn kill(&self, state: &ContainerState, signal: i32, all: bool) -> Result<(), BoxError>;

    /// Stops every remaining process and releases what create acquired
    /// (cgroups, ...). Must succeed from any partial state and be idempotent.
    fn destroy(&self, state: &ContainerState) -> Result<(), BoxError>;

    /// Runs a further process in the container's namespaces and cgroup.
    /// Foreground: waits for it (forwarding signals, relaying a terminal)
    /// and returns the exit code to exit with; detached: returns 0 once it
    /// runs.
    fn exec(&self, req: &ExecRequest<'_>) -> Result<i32, BoxError> {
        Err(format!("exec into {}: not supported on this platform", req.state.id).into())
    }

    /// Called before a verb that runs container processes (`create`, `run`,
    /// `exec`), before any other work: protects the runtime binary from
    /// being overwritten from inside a container. `root` is the state root
    /// (`--root`), where the platform may keep what that needs. May
    /// re-execute the process and so never return.
    fn protect_runtime(&self, _root: &Path) -> Result<(), BoxError> {
        Ok(())
    }

    /// Called by a foreground `run` before `create`, so that signals meant
    /// for the container are held until it can receive them, and so that a
    /// container with a terminal can hand it to this process.
    fn prepare_foreground(&self) -> Result<(), BoxError> {
        Ok(())
    }

    /// For a foreground `run`: waits for the init (a child of this process),
    /// forwarding the signals this process receives to it and relaying its
    /// terminal if it has one, and returns the exit code to exit with
    /// (128+N when killed by signal N).
    fn wait_foreground(&self, state: &ContainerState) -> Result<i32, BoxError>;

    /// Freezes every process of the container; returns once they are.
    fn pause(&self, _state: &ContainerState) -> Result<(), BoxError> {
        Err(Unsupported("pause").into())
    }

    /// Thaws a paused container.
    fn resume(&self, _state: &ContainerState) -> Result<(), BoxError> {
        Err(Unsupported("resume").into())
    }

    /// Applies new resource limits to a live container (zero values mean
    /// "unchanged") and returns the platform data to persist in their place.
    fn update(
        &self,
        _state: &ContainerState,
        _resources: &LinuxResources,
    ) -> Result<serde_json::Value, BoxError> {
        Err(Unsupported("update").into())
    }

    /// The container's resource usage (runc's stats document).
    fn stats(&self, _state: &ContainerState) -> Result<serde_json::Value, BoxError> {
        Err(Unsupported("stats").into())
    }

    /// The pids of every process of the container, ascending.
    fn pids(&self, _state: &ContainerState) -> Result<Vec<i32>, BoxError> {
        Err(Unsupported("ps").into())
    }

    /// Reports stats every `interval` and OOM kills as they happen until the
    /// container stops or `emit` fails.
    fn events(
        &self,
        _state: &ContainerState,
        _interval: Duration,
        _emit: &mut dyn FnMut(&Event) -> Result<(), BoxError>,
    ) -> Result<(), BoxError> {
        Err(Unsupported("events").into())
    }

    /// The runtime-spec features document (`features.md`) of this backend
    /// on this host. The default claims nothing beyond the spec versions
    /// `config.json` may have.
    fn features(&self) -> serde_json::Value {
        serde_json::json!({
            "ociVersionMin": crate::spec::MIN_SPEC_VERSION,
            "ociVersionMax": crate::spec::SPEC_VERSION,
        })
    }
}
