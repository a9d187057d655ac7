//! Helpers shared by the privileged end-to-end tests: they drive the real
//! `rcr` binary on busybox bundles and read what `rcr-probe` reports.
//!
//! Containers that outlive the `rcr` call (`create`, `run --detach`) inherit
//! its stdout and stderr, so such calls write to files rather than pipes: a
//! pipe would keep the test waiting until the container exits.

// Each test binary uses its own subset of these helpers.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

pub use rcr_testkit::{probe_report, require_root, wait_until, Bundle, Rcr};
use serde_json::Value;
use tempfile::TempDir;

/// How long a container may take to reach a status.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// A runner for the `rcr` binary under test, with a private `--root`.
pub fn rcr() -> Rcr {
    Rcr::new(env!("CARGO_BIN_EXE_rcr"))
}

/// Whether a seccomp test can run: root, busybox, and an x86_64 host (the
/// syscall numbers those tests use are x86_64's).
pub fn seccomp_ready(test: &str) -> bool {
    if !require_root(test) || !rcr_testkit::require_busybox(test) {
        return false;
    }
    if !cfg!(target_arch = "x86_64") {
        rcr_testkit::skip(test, "syscall numbers in these tests are x86_64's");
        return false;
    }
    true
}

/// The stdout and stderr of an `rcr` call, kept in files.
#[derive(Debug)]
pub struct Captured {
    pub status: ExitStatus,
    dir: TempDir,
}

impl Captured {
    pub fn stdout(&self) -> String {
        fs::read_to_string(self.dir.path().join("stdout")).expect("read captured stdout")
    }

    pub fn stderr(&self) -> String {
        fs::read_to_string(self.dir.path().join("stderr")).expect("read captured stderr")
    }

    /// The whole output, for assertion messages.
    pub fn describe(&self) -> String {
        format!(
            "({})\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.status,
            self.stdout(),
            self.stderr()
        )
    }
}

/// Runs `rcr <args>` to completion with stdout and stderr going to files, so
/// a container that keeps them open does not hold us up.
pub fn capture(rcr: &Rcr, args: &[&str]) -> Captured {
    let dir = tempfile::tempdir().expect("create a capture directory");
    let file = |name: &str| fs::File::create(dir.path().join(name)).expect("create capture file");
    let status = rcr
        .cmd(args)
        .stdin(Stdio::null())
        .stdout(file("stdout"))
        .stderr(file("stderr"))
        .status()
        .expect("run rcr");
    Captured { status, dir }
}

/// `rcr create --bundle B ID`, which must succeed; the returned capture
/// keeps receiving what the container prints once started.
pub fn create(rcr: &Rcr, bundle: &Bundle, id: &str) -> Captured {
    let out = capture(rcr, &["create", "--bundle", bundle.path_str(), id]);
    assert!(out.status.success(), "create {id} failed {}", out.describe());
    out
}

/// `rcr run --detach --bundle B ID`, which must succeed.
pub fn run_detached(rcr: &Rcr, bundle: &Bundle, id: &str) -> Captured {
    let out = capture(rcr, &["run", "--detach", "--bundle", bundle.path_str(), id]);
    assert!(out.status.success(), "run --detach {id} failed {}", out.describe());
    out
}

/// A foreground `rcr run` of the bundle, which must succeed; its stdout.
pub fn run_stdout(rcr: &Rcr, bundle: &Bundle) -> String {
    let id = Rcr::unique_id("run");
    rcr.ok(&["run", "--bundle", bundle.path_str(), &id])
}

/// Runs the bundle in the foreground and parses the probe's one JSON report.
pub fn run_probe(rcr: &Rcr, bundle: &Bundle) -> Value {
    probe_report(&run_stdout(rcr, bundle))
}

/// Runs the bundle in the foreground and parses every stdout line as JSON
/// (for `sh -c` scripts that call the probe several times).
pub fn run_lines(rcr: &Rcr, bundle: &Bundle) -> Vec<Value> {
    run_stdout(rcr, bundle).lines().filter(|l| !l.trim().is_empty()).map(probe_report).collect()
}

/// The probe invoked as `rcr-probe <args>`.
pub fn probe_args<'a>(args: &[&'a str]) -> Vec<&'a str> {
    std::iter::once("/rcr-probe").chain(args.iter().copied()).collect()
}

/// `rcr state ID` as JSON.
pub fn state(rcr: &Rcr, id: &str) -> Value {
    let out = rcr.ok(&["state", id]);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("state {id} is not JSON ({e}): {out}"))
}

/// The container's live status, or `None` once it does not exist.
pub fn status(rcr: &Rcr, id: &str) -> Option<String> {
    let out = rcr.run(&["state", id]);
    if !out.status.success() {
        return None;
    }
    let doc: Value = serde_json::from_slice(&out.stdout).ok()?;
    doc["status"].as_str().map(str::to_owned)
}

/// Waits until the container reports `want`.
pub fn wait_status(rcr: &Rcr, id: &str, want: &str) {
    let mut last = None;
    let reached = wait_until(TIMEOUT, || {
        last = status(rcr, id);
        last.as_deref() == Some(want)
    });
    assert!(reached, "container {id} did not become {want}; last status {last:?}");
}

/// The init's pid from `state`.
pub fn pid_of(rcr: &Rcr, id: &str) -> i32 {
    let doc = state(rcr, id);
    let pid = doc["pid"].as_i64().unwrap_or_else(|| panic!("state {id} has no pid: {doc}"));
    i32::try_from(pid).expect("pids fit in i32")
}

/// Kills and deletes a container that is no longer needed.
pub fn destroy(rcr: &Rcr, id: &str) {
    rcr.ok(&["delete", "--force", id]);
}

/// The state of process `pid` (`R`, `S`, `Z`...) from /proc, if it exists.
pub fn proc_state(pid: i32) -> Option<char> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    text[text.rfind(')')? + 1..].split_whitespace().next()?.chars().next()
}

/// Whether `pid` names a live (not zombie) process.
pub fn alive(pid: i32) -> bool {
    proc_state(pid).is_some_and(|s| s != 'Z' && s != 'X')
}

/// The namespace link of the test process, e.g. `net:[4026531840]`.
pub fn host_ns(kind: &str) -> String {
    ns_of("self", kind)
}

/// The namespace link of process `pid` (or `self`).
pub fn ns_of(pid: impl std::fmt::Display, kind: &str) -> String {
    let link = format!("/proc/{pid}/ns/{kind}");
    fs::read_link(&link)
        .unwrap_or_else(|e| panic!("readlink {link}: {e}"))
        .to_string_lossy()
        .into_owned()
}

/// The last mount the probe saw at `point` (the one on top).
pub fn mount_at<'a>(report: &'a Value, point: &str) -> Option<&'a Value> {
    report["mounts"]
        .as_array()
        .expect("the report lists mounts")
        .iter()
        .rev()
        .find(|m| m["mount_point"] == point)
}

/// Like [`mount_at`], but the mount must exist.
pub fn must_mount<'a>(report: &'a Value, point: &str) -> &'a Value {
    mount_at(report, point).unwrap_or_else(|| panic!("no mount at {point}: {:#}", report["mounts"]))
}

/// The strings of a JSON array of strings.
pub fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap_or_else(|| panic!("not a string: {s}")))
        .collect()
}

/// Whether a mount's per-mount options include `opt`.
pub fn has_option(mount: &Value, opt: &str) -> bool {
    strings(&mount["options"]).contains(&opt)
}

/// The cgroup v1 hierarchies mounted on this host (`pids`, `memory`...).
pub fn v1_hierarchies() -> Vec<String> {
    let Ok(entries) = fs::read_dir("/sys/fs/cgroup") else { return Vec::new() };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().join("cgroup.procs").exists() && e.file_name() != "unified")
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .collect();
    names.sort();
    names
}

/// The container's default cgroup directories (`/rcr/<id>`) on this host.
pub fn cgroup_dirs(id: &str) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir("/sys/fs/cgroup") else { return Vec::new() };
    entries.filter_map(Result::ok).map(|e| e.path().join("rcr").join(id)).collect()
}

/// Processes whose command line has `id` as one of its arguments: a
/// container init is a fork of `rcr` and keeps its command line.
pub fn processes_with_arg(id: &str) -> Vec<i32> {
    let Ok(entries) = fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|cmd| cmd.split(|b| *b == 0).any(|arg| arg == id.as_bytes()))
        })
        .collect()
}

/// Asserts that nothing of container `id` is left: no state directory, no
/// cgroup directory, no process.
pub fn assert_no_leftovers(rcr: &Rcr, id: &str) {
    let dir = rcr.root().join(id);
    assert!(!dir.exists(), "state directory {} is left", dir.display());
    for cg in cgroup_dirs(id) {
        assert!(!cg.exists(), "cgroup {} is left", cg.display());
    }
    // An init being killed may take a moment to be reaped.
    let mut left = Vec::new();
    let gone = wait_until(TIMEOUT, || {
        left = processes_with_arg(id);
        left.is_empty()
    });
    assert!(gone, "processes of {id} are left: {left:?}");
}

/// Asserts that `stderr` is exactly one line and returns it.
pub fn one_line(stderr: &str) -> &str {
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "expected exactly one line on stderr, got:\n{stderr}");
    lines[0]
}

/// A directory on the host for a test, with files in it.
pub fn host_dir(files: &[(&str, &str)]) -> TempDir {
    let dir = tempfile::Builder::new().prefix("rcr-host-").tempdir().expect("create a host dir");
    for (name, content) in files {
        let path = dir.path().join(name);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("create host subdir");
        }
        fs::write(&path, content).expect("write host file");
    }
    dir
}

/// The path of `p` as a `&str`.
pub fn path_str(p: &Path) -> &str {
    p.to_str().expect("test paths are UTF-8")
}

/// A mount made on the host for a test, detached when dropped.
#[derive(Debug)]
pub struct HostMount(pub PathBuf);

impl HostMount {
    /// Mounts a small tmpfs at `target` (which must exist).
    pub fn tmpfs(target: &Path) -> HostMount {
        nix::mount::mount(
            Some("tmpfs"),
            target,
            Some("tmpfs"),
            nix::mount::MsFlags::empty(),
            Some("size=1m"),
        )
        .unwrap_or_else(|e| panic!("mount tmpfs on {}: {e}", target.display()));
        HostMount(target.to_owned())
    }

    /// Makes the mount a shared one (its own peer group).
    pub fn make_shared(&self) {
        nix::mount::mount(
            None::<&str>,
            &self.0,
            None::<&str>,
            nix::mount::MsFlags::MS_SHARED,
            None::<&str>,
        )
        .unwrap_or_else(|e| panic!("make {} shared: {e}", self.0.display()));
    }
}

impl Drop for HostMount {
    fn drop(&mut self) {
        // Best effort: a failing test must still not leave the mount.
        let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
    }
}

/// Whether process `pid` has a handler for `signal` (its `SigCgt` mask).
pub fn catches(pid: i32, signal: i32) -> bool {
    let Ok(status) = fs::read_to_string(format!("/proc/{pid}/status")) else { return false };
    status
        .lines()
        .find_map(|l| l.strip_prefix("SigCgt:"))
        .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        .is_some_and(|mask| mask & (1 << (signal - 1)) != 0)
}
