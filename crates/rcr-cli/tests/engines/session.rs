//! One engine's private world for the length of a test: a temporary
//! directory for its root, state, config and socket; the mount namespace it
//! runs in; its daemon, if it has one; and one cgroup parent that all its
//! containers go under, so that teardown removes exactly what it made.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tempfile::TempDir;

use crate::cmd;
use crate::ns::MountNamespace;

#[derive(Debug)]
pub struct Session {
    /// Dropped last: the namespace's bind mounts point into it.
    dir: TempDir,
    pub ns: Option<MountNamespace>,
    daemon: Option<Child>,
    /// The engine's cgroup parent, e.g. `/rcr-engines-1234-docker`.
    pub cgroup_parent: String,
}

impl Session {
    pub fn new(engine: &str) -> Result<Session, String> {
        let base = std::env::var_os("RCR_TEST_TMP")
            .filter(|d| !d.is_empty())
            .map_or_else(|| PathBuf::from("/tmp"), PathBuf::from);
        let dir = tempfile::Builder::new()
            .prefix(&format!("rcr-{engine}-"))
            .tempdir_in(&base)
            .map_err(|e| format!("create a temporary directory in {}: {e}", base.display()))?;
        let ns = MountNamespace::new().map_err(|e| format!("private mount namespace: {e}"))?;
        Ok(Session {
            dir,
            ns: Some(ns),
            daemon: None,
            cgroup_parent: format!("/rcr-engines-{}-{engine}", std::process::id()),
        })
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A new directory `name` in the session's directory.
    pub fn subdir(&self, name: &str) -> Result<PathBuf, String> {
        let d = self.dir().join(name);
        fs::create_dir_all(&d).map_err(|e| format!("create {}: {e}", d.display()))?;
        Ok(d)
    }

    /// Where command output is collected.
    pub fn scratch(&self) -> PathBuf {
        self.dir().to_owned()
    }

    pub fn ns(&self) -> &MountNamespace {
        self.ns.as_ref().expect("the namespace lives as long as the session")
    }

    /// Writes `text` to `path`, creating its directory.
    pub fn write(&self, path: &Path, text: &str) -> Result<(), String> {
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|e| format!("create {}: {e}", parent.display()))?;
        }
        fs::write(path, text).map_err(|e| format!("write {}: {e}", path.display()))
    }

    /// Starts the engine's daemon inside the namespace, its output in
    /// `<dir>/daemon.log`, and waits until `ready` says it serves.
    pub fn start_daemon(&mut self, mut c: Command, ready: impl Fn() -> bool) -> Result<(), String> {
        let log = fs::File::create(self.daemon_log())
            .and_then(|f| Ok((f.try_clone()?, f)))
            .map_err(|e| format!("create the daemon log: {e}"))?;
        let what = cmd::describe(&c);
        c.stdin(Stdio::null()).stdout(log.0).stderr(log.1);
        self.daemon = Some(c.spawn().map_err(|e| format!("start {what}: {e}"))?);
        if rcr_testkit::wait_until(Duration::from_secs(60), &ready) {
            return Ok(());
        }
        let exited = self.daemon.as_mut().and_then(|d| d.try_wait().ok().flatten());
        Err(format!(
            "{what} did not come up ({}); its log ends:\n{}",
            exited.map_or_else(|| "still running".to_owned(), |s| s.to_string()),
            self.daemon_log_tail()
        ))
    }

    fn daemon_log(&self) -> PathBuf {
        self.dir().join("daemon.log")
    }

    /// The end of the daemon's log, for failure messages.
    pub fn daemon_log_tail(&self) -> String {
        let text = fs::read_to_string(self.daemon_log()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Some(daemon) = self.daemon.take() {
            cmd::stop(daemon, Duration::from_secs(20));
        }
        drop(self.ns.take());
        remove_cgroup_tree(&self.cgroup_parent);
    }
}

/// The mount points of the host's cgroup hierarchies.
fn cgroup_mounts() -> Vec<PathBuf> {
    let text = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let fstype = right.split_whitespace().next()?;
            let mountpoint = left.split_whitespace().nth(4)?;
            matches!(fstype, "cgroup" | "cgroup2").then(|| PathBuf::from(mountpoint))
        })
        .collect()
}

/// Removes `parent` from every hierarchy: thaws and kills what the engine
/// left there (containers it started for this test), then removes the
/// directories, deepest first.
fn remove_cgroup_tree(parent: &str) {
    let rel = parent.trim_start_matches('/');
    let roots: Vec<PathBuf> =
        cgroup_mounts().into_iter().map(|m| m.join(rel)).filter(|d| d.is_dir()).collect();
    for root in &roots {
        for dir in tree(root) {
            let _ = fs::write(dir.join("freezer.state"), "THAWED");
            let _ = fs::write(dir.join("cgroup.freeze"), "0");
            let procs = fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
            for pid in procs.lines().filter_map(|p| p.trim().parse::<i32>().ok()) {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
    }
    for root in &roots {
        rcr_testkit::wait_until(Duration::from_secs(10), || {
            let mut dirs = tree(root);
            dirs.reverse();
            for d in &dirs {
                let _ = fs::remove_dir(d);
            }
            !root.exists()
        });
    }
}

/// `root` and every directory below it, parents before children.
fn tree(root: &Path) -> Vec<PathBuf> {
    let mut out = vec![root.to_owned()];
    let mut i = 0;
    while i < out.len() {
        if let Ok(entries) = fs::read_dir(&out[i]) {
            out.extend(
                entries
                    .flatten()
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                    .map(|e| e.path()),
            );
        }
        i += 1;
    }
    out
}
