//! Tests against the real cgroup filesystems of the host.
//!
//! They need root and a given layout; without them they print
//! `SKIP <name>: <reason>` and pass. Every test works below a directory
//! named after its own pid and tag, and removes it even when it fails.

use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use nix::unistd::{geteuid, Pid};
use rcr_cgroups::{
    systemd_available, Cgroup, CgroupError, CgroupFs, CgroupPath, ContainerMounts, Layout,
    ProcCgroups, SystemdPath,
};

fn skip(name: &str, reason: &str) {
    println!("SKIP {name}: {reason}");
}

fn unique(tag: &str) -> String {
    format!("rcr-test-{}-{tag}", std::process::id())
}

/// A cgroup and a process in it, both cleaned up however the test ends.
struct Fixture {
    cg: Cgroup,
    child: Option<Child>,
}

impl Fixture {
    fn create(fs: &CgroupFs, path: &CgroupPath) -> Self {
        let own = ProcCgroups::read_self().expect("read /proc/self/cgroup");
        let mut fx = Self { cg: Cgroup::new(fs, &own, path).expect("resolve cgroup"), child: None };
        fx.cg.create().expect("create cgroup");
        fx
    }

    /// Starts a `sleep` and moves it into the cgroup.
    fn spawn(&mut self) -> Pid {
        let child = Command::new("sleep").arg("1000").spawn().expect("spawn sleep");
        let pid = Pid::from_raw(i32::try_from(child.id()).expect("pids fit in pid_t"));
        self.child = Some(child);
        self.cg.add_pid(pid).expect("add pid to cgroup");
        pid
    }

    /// Asserts that the process was killed by SIGKILL and reaps it.
    fn assert_killed(&mut self) {
        let status =
            self.child.take().expect("a process was spawned").wait().expect("wait for sleep");
        assert_eq!(status.signal(), Some(libc::SIGKILL), "{status:?}");
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = self.cg.remove();
    }
}

/// The distinct v1 mount points, plus the unified one.
fn mount_points(fs: &CgroupFs) -> Vec<PathBuf> {
    let mut mounts: Vec<PathBuf> = fs.v1_mounts().values().cloned().collect();
    mounts.extend(fs.unified_mount().map(Path::to_owned));
    mounts.sort();
    mounts.dedup();
    mounts
}

fn join_cgroup(base: &str, rel: &str) -> String {
    if base == "/" {
        format!("/{rel}")
    } else {
        format!("{base}/{rel}")
    }
}

#[test]
fn host_v1_places_and_removes_a_process() {
    const NAME: &str = "host_v1_places_and_removes_a_process";
    if !geteuid().is_root() {
        return skip(NAME, "not root");
    }
    let fs = CgroupFs::host().unwrap();
    if fs.layout() == Layout::V2 {
        return skip(NAME, "host has no cgroup v1 hierarchies");
    }
    let top = unique("abs");
    let path = CgroupPath::parse(&format!("/{top}/c1")).unwrap();
    let mut fx = Fixture::create(&fs, &path);
    let pid = fx.spawn();

    let seen = ProcCgroups::read(pid).unwrap();
    let expected = path.to_string();
    for name in fs.v1_mounts().keys() {
        assert_eq!(seen.v1(name), Some(expected.as_str()), "{name} in /proc/{pid}/cgroup");
    }
    if fs.layout() == Layout::Hybrid {
        assert_eq!(seen.unified(), Some(expected.as_str()), "unified in /proc/{pid}/cgroup");
    }
    assert_eq!(fx.cg.pids().unwrap(), [pid]);
    if let Some(cpuset) = fs.v1_mounts().get("cpuset") {
        let cpus = fs::read_to_string(cpuset.join(&top).join("c1/cpuset.cpus")).unwrap();
        assert!(!cpus.trim().is_empty(), "cpuset.cpus was not inherited");
    }

    // A process that moved itself into a nested cgroup is still found,
    // killed and its cgroup removed.
    let ContainerMounts::PerHierarchy(mounts) = fx.cg.container_mounts() else {
        panic!("v1 and hybrid hosts get per-hierarchy mounts")
    };
    for m in &mounts {
        let nested = m.host_dir.join("nested");
        fs::create_dir(&nested).unwrap();
        if m.controllers.iter().any(|c| c == "cpuset") {
            for file in ["cpuset.cpus", "cpuset.mems"] {
                fs::copy(m.host_dir.join(file), nested.join(file)).unwrap();
            }
        }
        fs::write(nested.join("cgroup.procs"), pid.to_string()).unwrap();
    }
    assert_eq!(fx.cg.pids().unwrap(), [pid]);

    fx.cg.remove().unwrap();
    fx.assert_killed();
    assert!(!fx.cg.exists());
    for mount in mount_points(&fs) {
        assert!(!mount.join(&top).exists(), "{} left behind", mount.join(&top).display());
    }
}

#[test]
fn host_relative_path_goes_below_own_cgroups() {
    const NAME: &str = "host_relative_path_goes_below_own_cgroups";
    if !geteuid().is_root() {
        return skip(NAME, "not root");
    }
    let fs = CgroupFs::host().unwrap();
    let own = ProcCgroups::read_self().unwrap();
    let rel = format!("{}/c1", unique("rel"));
    let path = CgroupPath::parse(&rel).unwrap();
    let mut fx = Fixture::create(&fs, &path);
    let pid = fx.spawn();

    let seen = ProcCgroups::read(pid).unwrap();
    for name in fs.v1_mounts().keys() {
        let expected = join_cgroup(own.v1(name).unwrap(), &rel);
        assert_eq!(seen.v1(name), Some(expected.as_str()), "{name}");
    }
    if fs.layout() != Layout::V1 {
        let expected = join_cgroup(own.unified().unwrap(), &rel);
        assert_eq!(seen.unified(), Some(expected.as_str()), "unified");
    }

    fx.cg.remove().unwrap();
    fx.assert_killed();
    assert!(!fx.cg.exists());
}

#[test]
fn host_v1_frozen_cgroup_is_removed() {
    const NAME: &str = "host_v1_frozen_cgroup_is_removed";
    if !geteuid().is_root() {
        return skip(NAME, "not root");
    }
    let fs = CgroupFs::host().unwrap();
    if !fs.v1_mounts().contains_key("freezer") {
        return skip(NAME, "host has no v1 freezer hierarchy");
    }
    let path = CgroupPath::parse(&format!("/{}/c1", unique("frozen"))).unwrap();
    let mut fx = Fixture::create(&fs, &path);
    fx.spawn();
    let ContainerMounts::PerHierarchy(mounts) = fx.cg.container_mounts() else {
        panic!("a v1 freezer implies per-hierarchy mounts")
    };
    let freezer = mounts.iter().find(|m| m.controllers.iter().any(|c| c == "freezer")).unwrap();
    let state = freezer.host_dir.join("freezer.state");
    fs::write(&state, "FROZEN").unwrap();
    let deadline = Instant::now() + Duration::from_secs(2);
    while fs::read_to_string(&state).unwrap().trim() != "FROZEN" {
        assert!(Instant::now() < deadline, "cgroup did not freeze");
        std::thread::sleep(Duration::from_millis(10));
    }

    fx.cg.remove().unwrap();
    fx.assert_killed();
    assert!(!fx.cg.exists());
}

/// Drives the v2 code path on whatever cgroup2 mount the host has, by
/// describing only that mount. On a hybrid host this is the controller-less
/// unified mount, which still has `cgroup.procs`, `cgroup.kill` and
/// `cgroup.subtree_control`.
#[test]
fn host_v2_driver_on_the_unified_mount() {
    const NAME: &str = "host_v2_driver_on_the_unified_mount";
    if !geteuid().is_root() {
        return skip(NAME, "not root");
    }
    let host = CgroupFs::host().unwrap();
    let Some(mount) = host.unified_mount() else {
        return skip(NAME, "host has no cgroup2 mount");
    };
    let mountinfo = format!("1 1 0:1 / {} rw - cgroup2 cgroup2 rw\n", mount.display());
    let fs = CgroupFs::from_mountinfo(&mountinfo, Path::new("/")).unwrap();
    assert_eq!(fs.layout(), Layout::V2);
    let subtree = mount.join("cgroup.subtree_control");
    let before = fs::read_to_string(&subtree).unwrap();

    let top = unique("v2");
    let path = CgroupPath::parse(&format!("/{top}/c1")).unwrap();
    let mut fx = Fixture::create(&fs, &path);
    let pid = fx.spawn();
    let seen = ProcCgroups::read(pid).unwrap();
    assert_eq!(seen.unified(), Some(path.to_string().as_str()));
    assert_eq!(fx.cg.pids().unwrap(), [pid]);
    assert_eq!(fx.cg.container_mounts(), ContainerMounts::Unified(mount.join(&top).join("c1")));

    fx.cg.remove().unwrap();
    fx.assert_killed();
    assert!(!mount.join(&top).exists());

    // Leave the host's root as it was.
    let after = fs::read_to_string(&subtree).unwrap();
    for c in after.split_whitespace().filter(|c| !before.split_whitespace().any(|b| b == *c)) {
        let _ = fs::write(&subtree, format!("-{c}"));
    }
}

#[test]
fn host_v2_enables_controllers() {
    const NAME: &str = "host_v2_enables_controllers";
    if !geteuid().is_root() {
        return skip(NAME, "not root");
    }
    let fs = CgroupFs::host().unwrap();
    if fs.layout() != Layout::V2 || fs.v2_controllers().is_empty() {
        let reason = format!(
            "host has no cgroup v2 controllers (layout {:?}; the cgroup2 mount offers {:?})",
            fs.layout(),
            fs.v2_controllers()
        );
        return skip(NAME, &reason);
    }
    let top = unique("v2ctl");
    let path = CgroupPath::parse(&format!("/{top}/c1")).unwrap();
    let mut fx = Fixture::create(&fs, &path);
    let pid = fx.spawn();
    let mount = fs.unified_mount().unwrap();
    let leaf = mount.join(&top).join("c1");
    let enabled = fs::read_to_string(leaf.join("cgroup.controllers")).unwrap();
    for c in ["memory", "pids"] {
        if fs.v2_controllers().iter().any(|have| have == c) {
            assert!(enabled.split_whitespace().any(|e| e == c), "{c} not enabled: {enabled:?}");
        }
    }
    assert_eq!(fx.cg.pids().unwrap(), [pid]);
    fx.cg.remove().unwrap();
    fx.assert_killed();
    assert!(!mount.join(&top).exists());
}

#[test]
fn host_systemd_driver_without_systemd() {
    const NAME: &str = "host_systemd_driver_without_systemd";
    if systemd_available() {
        return skip(NAME, "systemd is running here");
    }
    let path = SystemdPath::from_spec(None, "c1").unwrap();
    let err = Cgroup::systemd(&path).unwrap_err();
    assert!(matches!(err, CgroupError::SystemdUnavailable));
    assert_eq!(
        err.to_string(),
        "--systemd-cgroup needs a running systemd (no /run/systemd/system on this host); \
         drop the flag to use the cgroupfs driver"
    );
}

/// The v2 code paths on a real cgroup2 hierarchy: the unified mount of a
/// hybrid host (or the whole tree of a v2 host) driven as a v2 layout. The
/// device program is enforced there even with a v1 devices controller,
/// since the kernel checks the cgroup2 eBPF programs first.
#[test]
fn host_v2_device_program_and_freezer() {
    use std::io::{BufRead, BufReader, Write};
    use std::process::Stdio;

    use rcr_cgroups::resources::{DeviceKind, DeviceRule};
    use rcr_cgroups::{FreezerState, Resources};

    const NAME: &str = "host_v2_device_program_and_freezer";
    if !geteuid().is_root() {
        return skip(NAME, "not root");
    }
    let host = CgroupFs::host().unwrap();
    let Some(mount) = host.unified_mount() else {
        return skip(NAME, "host has no cgroup2 mount");
    };
    let mountinfo = format!("1 1 0:1 / {} rw - cgroup2 cgroup2 rw\n", mount.display());
    let fs = CgroupFs::from_mountinfo(&mountinfo, Path::new("/")).unwrap();
    let subtree = mount.join("cgroup.subtree_control");
    let before = fs::read_to_string(&subtree).unwrap();

    let top = unique("bpf");
    let path = CgroupPath::parse(&format!("/{top}/c1")).unwrap();
    let mut fx = Fixture::create(&fs, &path);
    let res = Resources {
        devices: vec![
            DeviceRule { allow: false, access: "rwm".into(), ..DeviceRule::default() },
            DeviceRule::allow(DeviceKind::Char, Some(1), Some(3), "rwm"),
        ],
        ..Resources::default()
    };
    fx.cg.apply(&res).unwrap();

    // The shell waits for a line, so it is in the cgroup before it opens.
    let script = "read go; (: < /dev/null) && echo null-ok; \
                  (: < /dev/zero) 2>/dev/null && echo zero-ok || echo zero-denied; \
                  while true; do echo tick; sleep 0.02; done";
    let mut child = Command::new("sh")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = Pid::from_raw(i32::try_from(child.id()).unwrap());
    fx.cg.add_pid(pid).unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    fx.child = Some(child);
    stdin.write_all(b"go\n").unwrap();
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line, "null-ok\n");
    line.clear();
    out.read_line(&mut line).unwrap();
    assert_eq!(line, "zero-denied\n", "the eBPF program must deny /dev/zero");

    if mount.join(&top).join("c1/cgroup.freeze").exists() {
        fx.cg.freeze().unwrap();
        assert_eq!(fx.cg.freezer_state().unwrap(), FreezerState::Frozen);
        let events = fs::read_to_string(mount.join(&top).join("c1/cgroup.events")).unwrap();
        assert!(events.contains("frozen 1"), "{events}");
        fx.cg.thaw().unwrap();
        assert_eq!(fx.cg.freezer_state().unwrap(), FreezerState::Thawed);
        line.clear();
        out.read_line(&mut line).unwrap();
        assert_eq!(line, "tick\n", "runs again after thaw");
    } else {
        skip(NAME, "freezer part: the kernel has no cgroup.freeze");
    }

    fx.cg.remove().unwrap();
    fx.assert_killed();
    assert!(!mount.join(&top).exists());
    let after = fs::read_to_string(&subtree).unwrap();
    for c in after.split_whitespace().filter(|c| !before.split_whitespace().any(|b| b == *c)) {
        let _ = fs::write(&subtree, format!("-{c}"));
    }
}
