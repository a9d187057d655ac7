//! The persisted record of a container and the status machine.
//!
//! The recorded status is what the runtime last did; the status reported to
//! users is derived live from it: a `created` or `running` container whose
//! init (pid plus start time) is gone is `stopped`, and a `creating` record
//! whose creator no longer holds the container lock belongs to a create that
//! died, so it is reported `stopped` as well and can be deleted.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use crate::spec::SPEC_VERSION as OCI_VERSION;

/// The OCI lifecycle status, plus `paused` as runc reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    /// The name used in `state` and `list` output.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Creating => "creating",
            Self::Created => "created",
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Stopped => "stopped",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the platform says about a container's init process right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    /// Alive, not started yet (still waiting on its start signal).
    Created,
    /// Alive and started.
    Running,
    /// Alive and frozen.
    Paused,
    /// Gone, a zombie, or a different process now holds the pid.
    Gone,
}

/// Everything rcr keeps about one container (`state.json`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ContainerState {
    pub oci_version: String,
    pub id: String,
    /// The status last recorded by the runtime (see the module docs).
    pub status: Status,
    /// The init's pid as seen from the runtime's pid namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<i32>,
    /// The init's start time (clock ticks since boot, from /proc/PID/stat):
    /// with the pid, the identity of the process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid_start_time: Option<u64>,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    /// RFC 3339 creation time.
    pub created: String,
    #[serde(default)]
    pub owner: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Whether `delete` should run the init's poststop work; the platform's
    /// own data (cgroup paths, namespace paths) lives here.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub platform: serde_json::Value,
    /// The spec's hooks, kept for `start` (poststart) and `delete`
    /// (poststop), which must not depend on the bundle still being there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hooks: Option<oci_spec::runtime::Hooks>,
    /// The spec the container was created from, as written in its
    /// `config.json`: `exec` builds on its process and namespaces even if the
    /// bundle changed since. Kept as JSON and parsed on use (by the same
    /// parser as `config.json`), so reading a record stays cheap and the
    /// binary carries one spec deserializer, not two.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<serde_json::Value>,
}

impl ContainerState {
    /// The recorded spec, parsed.
    pub fn recorded_spec(&self) -> Result<Option<oci_spec::runtime::Spec>, crate::SpecError> {
        let Some(v) = &self.spec else { return Ok(None) };
        let text = serde_json::to_vec(v).expect("a JSON value always serializes");
        crate::spec::parse_config(&text, std::path::Path::new("state.json (spec)")).map(Some)
    }

    /// A fresh `creating` record, written before any side effect.
    pub fn creating(id: &str, bundle: PathBuf, rootfs: PathBuf) -> Self {
        Self {
            oci_version: OCI_VERSION.to_owned(),
            id: id.to_owned(),
            status: Status::Creating,
            pid: None,
            pid_start_time: None,
            bundle,
            rootfs,
            created: humantime::format_rfc3339_nanos(std::time::SystemTime::now()).to_string(),
            owner: String::new(),
            annotations: BTreeMap::new(),
            platform: serde_json::Value::Null,
            hooks: None,
            spec: None,
        }
    }

    /// The status to report, derived from the record, whether the creator
    /// still holds the lock, and what the platform says about the init.
    pub fn live_status(&self, creator_alive: bool, liveness: impl FnOnce() -> Liveness) -> Status {
        match self.status {
            Status::Stopped => Status::Stopped,
            Status::Creating if creator_alive => Status::Creating,
            Status::Creating => match self.pid {
                // The create died after the init existed: report what the
                // init is doing so `delete` knows to kill it.
                Some(_) => match liveness() {
                    Liveness::Gone => Status::Stopped,
                    _ => Status::Created,
                },
                None => Status::Stopped,
            },
            Status::Created | Status::Running | Status::Paused => match liveness() {
                Liveness::Created => Status::Created,
                Liveness::Running => Status::Running,
                Liveness::Paused => Status::Paused,
                Liveness::Gone => Status::Stopped,
            },
        }
    }

    /// The runtime-spec `state` document for this container with `status`.
    pub fn oci_state(&self, status: Status) -> serde_json::Value {
        let pid = match status {
            Status::Stopped => 0,
            _ => self.pid.unwrap_or(0),
        };
        let mut v = serde_json::json!({
            "ociVersion": self.oci_version,
            "id": self.id,
            "pid": pid,
            "status": status.as_str(),
            "bundle": self.bundle,
            "rootfs": self.rootfs,
            "created": self.created,
            "owner": self.owner,
        });
        if !self.annotations.is_empty() {
            v["annotations"] = serde_json::json!(self.annotations);
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(status: Status, pid: Option<i32>) -> ContainerState {
        let mut s = ContainerState::creating("c", "/b".into(), "/b/rootfs".into());
        s.status = status;
        s.pid = pid;
        s
    }

    #[test]
    fn status_machine() {
        let gone = || Liveness::Gone;
        let run = || Liveness::Running;
        assert_eq!(rec(Status::Creating, None).live_status(true, gone), Status::Creating);
        assert_eq!(rec(Status::Creating, None).live_status(false, gone), Status::Stopped);
        assert_eq!(rec(Status::Creating, Some(5)).live_status(false, run), Status::Created);
        assert_eq!(
            rec(Status::Created, Some(5)).live_status(false, || Liveness::Created),
            Status::Created
        );
        assert_eq!(rec(Status::Created, Some(5)).live_status(false, run), Status::Running);
        assert_eq!(rec(Status::Running, Some(5)).live_status(false, gone), Status::Stopped);
        assert_eq!(rec(Status::Stopped, Some(5)).live_status(false, run), Status::Stopped);
    }

    #[test]
    fn oci_state_document() {
        let mut s = rec(Status::Running, Some(42));
        s.annotations.insert("a".into(), "b".into());
        let v = s.oci_state(Status::Running);
        assert_eq!(v["pid"], 42);
        assert_eq!(v["status"], "running");
        assert_eq!(v["ociVersion"], OCI_VERSION);
        assert_eq!(v["annotations"]["a"], "b");
        assert_eq!(s.oci_state(Status::Stopped)["pid"], 0);
        let back: ContainerState =
            serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(back, s);
    }
}
