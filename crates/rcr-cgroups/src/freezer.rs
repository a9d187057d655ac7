//! Freezing and thawing a container's processes: v1's `freezer.state`, or
//! v2's `cgroup.freeze` (also used on a hybrid host without a v1 freezer).
//!
//! Freezing is asynchronous in both versions: the kernel reports FREEZING
//! (v1) or leaves `frozen 0` in `cgroup.events` (v2) until every task has
//! stopped. [`Cgroup::freeze`] returns only once the cgroup is frozen, and
//! thaws it again if that does not happen in time, so a failed pause never
//! leaves a half-frozen container behind.

use std::fs;
use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::error::CgroupError;
use crate::manager::{write_file, Cgroup};

/// How long a freeze or thaw may take before it is given up.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(5);
const POLL_MAX: Duration = Duration::from_millis(20);

/// What the freezer says about a container's cgroup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FreezerState {
    Thawed,
    /// Asked to freeze; some tasks still run.
    Freezing,
    Frozen,
}

enum Freezer {
    /// A v1 freezer cgroup directory.
    V1(PathBuf),
    /// A v2 cgroup directory.
    V2(PathBuf),
}

impl Cgroup {
    fn freezer(&self) -> Option<Freezer> {
        if let Some(dir) = self.v1_dir("freezer") {
            return Some(Freezer::V1(dir.path.clone()));
        }
        let dir = self.unified_dir()?;
        dir.path.join("cgroup.freeze").exists().then(|| Freezer::V2(dir.path.clone()))
    }

    /// The freezer state of the container's cgroup.
    pub fn freezer_state(&self) -> Result<FreezerState, CgroupError> {
        match self.freezer().ok_or(CgroupError::NoFreezer)? {
            Freezer::V1(dir) => v1_state(&dir),
            Freezer::V2(dir) => v2_state(&dir),
        }
    }

    /// Whether the container is frozen (or freezing); false when that cannot
    /// be read, e.g. because the cgroup is gone.
    pub fn is_frozen(&self) -> bool {
        matches!(self.freezer_state(), Ok(FreezerState::Frozen | FreezerState::Freezing))
    }

    /// Freezes every process of the container and waits until they are.
    pub fn freeze(&self) -> Result<(), CgroupError> {
        let freezer = self.freezer().ok_or(CgroupError::NoFreezer)?;
        let result = match &freezer {
            Freezer::V1(dir) => {
                // A v1 freeze can stall on a task that forks or sleeps
                // uninterruptibly; writing FROZEN again retries it.
                settle("freeze", dir, FreezerState::Frozen, || {
                    set(dir, "freezer.state", "FROZEN")?;
                    v1_state(dir)
                })
            }
            Freezer::V2(dir) => {
                set(dir, "cgroup.freeze", "1")?;
                settle("freeze", dir, FreezerState::Frozen, || v2_state(dir))
            }
        };
        if result.is_err() {
            if let Err(error) = self.thaw() {
                tracing::warn!(%error, "cannot thaw after a failed freeze");
            }
        }
        result
    }

    /// Thaws the container's processes and waits until they run again.
    pub fn thaw(&self) -> Result<(), CgroupError> {
        match self.freezer().ok_or(CgroupError::NoFreezer)? {
            Freezer::V1(dir) => {
                set(&dir, "freezer.state", "THAWED")?;
                settle("thaw", &dir, FreezerState::Thawed, || v1_state(&dir))
            }
            Freezer::V2(dir) => {
                set(&dir, "cgroup.freeze", "0")?;
                settle("thaw", &dir, FreezerState::Thawed, || v2_state(&dir))
            }
        }
    }
}

fn set(dir: &Path, file: &str, value: &str) -> Result<(), CgroupError> {
    let path = dir.join(file);
    write_file(&path, value).map_err(|source| CgroupError::Write {
        path,
        value: value.to_owned(),
        source,
    })
}

fn read(dir: &Path, file: &str) -> Result<String, CgroupError> {
    let path = dir.join(file);
    fs::read_to_string(&path).map_err(|source| CgroupError::Read { path, source })
}

fn v1_state(dir: &Path) -> Result<FreezerState, CgroupError> {
    let text = read(dir, "freezer.state")?;
    match text.trim() {
        "THAWED" => Ok(FreezerState::Thawed),
        "FREEZING" => Ok(FreezerState::Freezing),
        "FROZEN" => Ok(FreezerState::Frozen),
        other => Err(CgroupError::Parse {
            what: dir.join("freezer.state").display().to_string(),
            line: other.to_owned(),
            reason: "not a freezer state",
        }),
    }
}

/// v2: `cgroup.freeze` is what was asked, `frozen` in `cgroup.events`
/// what the kernel has done.
fn v2_state(dir: &Path) -> Result<FreezerState, CgroupError> {
    let wanted = read(dir, "cgroup.freeze")?.trim() == "1";
    let events = read(dir, "cgroup.events")?;
    let frozen = events.lines().any(|l| l.trim() == "frozen 1");
    Ok(match (wanted, frozen) {
        (true, true) => FreezerState::Frozen,
        (true, false) => FreezerState::Freezing,
        (false, _) => FreezerState::Thawed,
    })
}

fn settle(
    verb: &'static str,
    dir: &Path,
    want: FreezerState,
    mut poll: impl FnMut() -> Result<FreezerState, CgroupError>,
) -> Result<(), CgroupError> {
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    let mut delay = Duration::from_millis(1);
    loop {
        let state = poll()?;
        if state == want {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(CgroupError::Freezer {
                verb,
                path: dir.to_owned(),
                reason: format!(
                    "still {state:?} after {}s (a process may be in uninterruptible sleep)",
                    SETTLE_TIMEOUT.as_secs()
                )
                .to_lowercase(),
            });
        }
        sleep(delay);
        delay = (delay * 2).min(POLL_MAX);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::tests::{container_cgroup as cgroup, write, V1, V2};

    #[test]
    fn v1_freezer_state() {
        let tmp = tempfile::tempdir().unwrap();
        for m in ["systemd", "cpu,cpuacct", "cpuset", "memory", "net_cls,net_prio", "pids"] {
            fs::create_dir_all(tmp.path().join("sys/fs/cgroup").join(m)).unwrap();
        }
        let state = tmp.path().join("sys/fs/cgroup/freezer/rcr/c1/freezer.state");
        write(&state, "THAWED\n");
        let cg = cgroup(tmp.path(), V1);
        assert_eq!(cg.freezer_state().unwrap(), FreezerState::Thawed);
        assert!(!cg.is_frozen());
        // The fake "kernel" freezes at once: the written state reads back.
        cg.freeze().unwrap();
        assert_eq!(fs::read_to_string(&state).unwrap(), "FROZEN");
        assert!(cg.is_frozen());
        write(&state, "FREEZING\n");
        assert_eq!(cg.freezer_state().unwrap(), FreezerState::Freezing);
        cg.thaw().unwrap();
        assert_eq!(fs::read_to_string(&state).unwrap(), "THAWED");
        write(&state, "MELTED\n");
        assert!(matches!(cg.freezer_state(), Err(CgroupError::Parse { .. })));
    }

    #[test]
    fn v2_freezer_waits_for_cgroup_events() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("sys/fs/cgroup");
        write(&root.join("cgroup.controllers"), "memory\n");
        let dir = root.join("rcr/c1");
        write(&dir.join("cgroup.freeze"), "0\n");
        write(&dir.join("cgroup.events"), "populated 1\nfrozen 1\n");
        let cg = cgroup(tmp.path(), V2);
        assert_eq!(cg.freezer_state().unwrap(), FreezerState::Thawed);
        cg.freeze().unwrap();
        assert_eq!(fs::read_to_string(dir.join("cgroup.freeze")).unwrap(), "1");
        assert_eq!(cg.freezer_state().unwrap(), FreezerState::Frozen);
        write(&dir.join("cgroup.events"), "populated 1\nfrozen 0\n");
        assert_eq!(cg.freezer_state().unwrap(), FreezerState::Freezing);
        assert!(cg.is_frozen());
        cg.thaw().unwrap();
        assert_eq!(cg.freezer_state().unwrap(), FreezerState::Thawed);
    }

    #[test]
    fn without_a_freezer() {
        let tmp = tempfile::tempdir().unwrap();
        write(&tmp.path().join("sys/fs/cgroup/cgroup.controllers"), "memory\n");
        let cg = cgroup(tmp.path(), V2);
        assert!(matches!(cg.freeze(), Err(CgroupError::NoFreezer)));
        assert!(!cg.is_frozen());
    }
}
