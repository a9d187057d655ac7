//! User namespaces (new, joined by path, rootless), idmapped mounts, and
//! cgroup and time namespaces, end to end: real containers, checked through
//! what the probe reports from inside and what the host sees.

#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::os::unix::fs::{chown, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use common::{
    create, destroy, host_ns, must_mount, ns_of, pid_of, probe_report, rcr, require_root,
    run_probe, Bundle, Rcr,
};
use rcr_testkit::{require_busybox, skip, HOSTNAME};
use serde_json::{json, Value};

const RCR: &str = env!("CARGO_BIN_EXE_rcr");

/// The unprivileged user the rootless tests run rcr as.
const TEST_USER: &str = "rcrtest";

/// The host range the root tests map the container's ids to.
const MAP_BASE: u32 = 100_000;

fn root_tests_can_run(test: &str) -> bool {
    if !require_root(test) || !require_busybox(test) {
        return false;
    }
    if !Path::new("/proc/self/ns/user").exists() {
        skip(test, "the kernel has no user namespaces");
        return false;
    }
    true
}

fn mapping(container: u32, host: u32, size: u32) -> Value {
    json!([{"containerID": container, "hostID": host, "size": size}])
}

/// Gives the bundle's container a new user namespace mapping its ids 0..65536
/// to the host's MAP_BASE on.
fn add_userns(bundle: &Bundle) {
    bundle.edit(|c| {
        c["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "user"}));
        c["linux"]["uidMappings"] = mapping(0, MAP_BASE, 65536);
        c["linux"]["gidMappings"] = mapping(0, MAP_BASE, 65536);
    });
}

fn add_mount(bundle: &Bundle, mount: Value) {
    bundle.edit(|c| c["mounts"].as_array_mut().unwrap().push(mount));
}

/// Runs `rcr create` from a command of its own (for another user): the init
/// keeps the stdio it is given, so stderr goes to a file, not a pipe.
fn create_with(mut cmd: Command) {
    let log = tempfile::NamedTempFile::new_in("/tmp").unwrap();
    let status = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log.reopen().unwrap())
        .status()
        .unwrap();
    assert!(status.success(), "{cmd:?}: {}", fs::read_to_string(log.path()).unwrap());
}

/// A host directory for a bind mount, in the test temp dir.
fn host_dir() -> tempfile::TempDir {
    let dir = tempfile::Builder::new().prefix("rcr-userns-data-").tempdir_in("/tmp").unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

#[test]
fn new_user_namespace_maps_root() {
    const TEST: &str = "new_user_namespace_maps_root";
    if !root_tests_can_run(TEST) {
        return;
    }
    let bundle = Bundle::busybox();
    add_userns(&bundle);
    let data = host_dir();
    chown(data.path(), Some(MAP_BASE), Some(MAP_BASE)).unwrap();
    fs::create_dir(bundle.rootfs().join("data")).unwrap();
    add_mount(
        &bundle,
        json!({"destination": "/data", "type": "bind", "source": data.path(), "options": ["rbind"]}),
    );
    bundle.set_args(&[
        "sh",
        "-c",
        "touch /data/made && /rcr-probe stat /dev/null > /data/null.json && exec /rcr-probe",
    ]);
    let rcr = rcr();
    let report = run_probe(&rcr, &bundle);

    assert_eq!((report["uid"].as_u64(), report["gid"].as_u64()), (Some(0), Some(0)), "{report}");
    let maps: Vec<String> = ["uid_map", "gid_map"]
        .iter()
        .map(|m| report[m][0].as_str().unwrap().split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(maps, ["0 100000 65536", "0 100000 65536"]);
    assert_eq!(report["hostname"], HOSTNAME);
    assert_ne!(report["namespaces"]["user"].as_str().unwrap(), host_ns("user"));
    // Root writes full maps and leaves setgroups(2) allowed.
    assert_eq!(report["setgroups"], "allow");

    // A file the container's root made belongs to the mapped host uid.
    let made = fs::metadata(data.path().join("made")).unwrap();
    assert_eq!((made.uid(), made.gid()), (MAP_BASE, MAP_BASE));
    // mknod is refused in a user namespace: /dev/null is the host's, bound.
    let null = probe_report(&fs::read_to_string(data.path().join("null.json")).unwrap());
    let null = &null["/dev/null"];
    assert_eq!(
        (null["kind"].as_str(), null["major"].as_u64(), null["minor"].as_u64()),
        (Some("char"), Some(1), Some(3))
    );
    assert_eq!(null["uid"], 65534, "the host's root is unmapped inside: {null}");
    // proc, sysfs (the network namespace is the container's) and the
    // cgroup mount work inside the user namespace too.
    assert_eq!(must_mount(&report, "/proc")["fs_type"], "proc");
    let sys = must_mount(&report, "/sys");
    assert_eq!(sys["fs_type"], "sysfs");
    assert!(common::has_option(sys, "ro"), "{sys}");
    must_mount(&report, "/sys/fs/cgroup");
}

/// The device of the host's mount at `point`, from our mountinfo.
fn host_mount_dev(point: &str) -> String {
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let line = info.lines().rev().find(|l| l.split(' ').nth(4) == Some(point)).unwrap();
    line.split(' ').nth(2).unwrap().to_owned()
}

/// Without a network namespace of its own a user-namespaced container may
/// not mount sysfs: the host's /sys is bound instead, read-only as asked.
#[test]
fn sysfs_falls_back_to_the_host_sys() {
    const TEST: &str = "sysfs_falls_back_to_the_host_sys";
    if !root_tests_can_run(TEST) {
        return;
    }
    let bundle = Bundle::busybox();
    add_userns(&bundle);
    bundle.edit(|c| {
        c["linux"]["namespaces"].as_array_mut().unwrap().retain(|n| n["type"] != "network")
    });
    let report = run_probe(&rcr(), &bundle);
    assert_eq!(report["namespaces"]["net"].as_str().unwrap(), host_ns("net"));
    let sys =
        report["mounts"].as_array().unwrap().iter().find(|m| m["mount_point"] == "/sys").unwrap();
    assert_eq!(sys["dev"].as_str().unwrap(), host_mount_dev("/sys"), "not the host's sysfs: {sys}");
    assert!(common::has_option(sys, "ro"), "{sys}");
    // With a network namespace of its own it gets a sysfs of its own.
    let bundle = Bundle::busybox();
    add_userns(&bundle);
    let report = run_probe(&rcr(), &bundle);
    let sys =
        report["mounts"].as_array().unwrap().iter().find(|m| m["mount_point"] == "/sys").unwrap();
    assert_ne!(sys["dev"].as_str().unwrap(), host_mount_dev("/sys"));
}

/// A tmpfs mounted on the host for the duration of a test.
struct HostTmpfs(tempfile::TempDir);

impl HostTmpfs {
    fn new(options: &str) -> HostTmpfs {
        use nix::mount::{mount, MsFlags};
        let dir = host_dir();
        let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
        mount(Some("tmpfs"), dir.path(), Some("tmpfs"), flags, Some(options)).unwrap();
        HostTmpfs(dir)
    }
}

impl Drop for HostTmpfs {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(self.0.path(), nix::mount::MntFlags::MNT_DETACH);
    }
}

/// In a user namespace the flags of a bound host mount are locked: a remount
/// for `ro` must keep nosuid, nodev and noexec or the kernel refuses it.
#[test]
fn bind_remount_keeps_locked_flags() {
    const TEST: &str = "bind_remount_keeps_locked_flags";
    if !root_tests_can_run(TEST) {
        return;
    }
    let host = HostTmpfs::new("mode=755");
    let bundle = Bundle::busybox();
    add_userns(&bundle);
    fs::create_dir(bundle.rootfs().join("data")).unwrap();
    add_mount(
        &bundle,
        json!({"destination": "/data", "type": "bind", "source": host.0.path(), "options": ["rbind", "ro"]}),
    );
    let report = run_probe(&rcr(), &bundle);
    let data = must_mount(&report, "/data");
    for opt in ["ro", "nosuid", "nodev", "noexec"] {
        assert!(common::has_option(data, opt), "{opt} missing: {data}");
    }
}

#[test]
fn user_namespace_errors_name_the_field() {
    const TEST: &str = "user_namespace_errors_name_the_field";
    if !require_busybox(TEST) {
        return;
    }
    let rcr = rcr();
    let create_error = |edit: &dyn Fn(&mut Value)| {
        let bundle = Bundle::busybox();
        bundle.edit(|c| edit(c));
        let id = Rcr::unique_id("userns-err");
        let stderr = rcr.fail(&["create", &id, "--bundle", bundle.path_str()]);
        assert!(!rcr.root().join(&id).exists(), "a refused create left state behind");
        stderr
    };
    let e = create_error(&|c| {
        c["linux"]["uidMappings"] = mapping(0, MAP_BASE, 10);
        c["linux"]["gidMappings"] = mapping(0, MAP_BASE, 10);
    });
    assert!(e.contains("invalid config: linux.uidMappings: mappings need a user namespace"), "{e}");
    let e = create_error(&|c| {
        c["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "user"}))
    });
    assert!(
        e.contains(
            "invalid config: linux.uidMappings: a new user namespace needs uid and gid mappings"
        ),
        "{e}"
    );
    let e = create_error(&|c| {
        c["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "user"}));
        c["linux"]["uidMappings"] = mapping(0, MAP_BASE, 10);
        c["linux"]["gidMappings"] = mapping(0, MAP_BASE, 10);
        c["process"]["user"]["uid"] = json!(1000);
    });
    assert!(
        e.contains("invalid config: process.user.uid: uid 1000 is not mapped by linux.uidMappings"),
        "{e}"
    );
}

/// Container B joins container A's user and network namespaces by path and
/// gets new pid, mount, uts and ipc namespaces, which must then belong to
/// A's user namespace (B's init forks once more to be pid 1 in its own).
#[test]
fn joins_user_namespace_by_path() {
    const TEST: &str = "joins_user_namespace_by_path";
    if !root_tests_can_run(TEST) {
        return;
    }
    let rcr = rcr();
    let a = Bundle::busybox();
    add_userns(&a);
    a.set_args(&["/rcr-probe", "sleep", "60"]);
    let a_id = Rcr::unique_id("userns-a");
    create(&rcr, &a, &a_id);
    rcr.ok(&["start", &a_id]);
    let a_pid = pid_of(&rcr, &a_id).to_string();

    // exec enters the user namespace first, as the container's root.
    let report = probe_report(&rcr.ok(&["exec", &a_id, "/rcr-probe"]));
    for ns in ["user", "mnt", "pid", "net"] {
        assert_eq!(report["namespaces"][ns].as_str().unwrap(), ns_of(&a_pid, ns), "{ns}");
    }
    assert_eq!((report["uid"].as_u64(), report["gid"].as_u64()), (Some(0), Some(0)));

    let b = Bundle::busybox();
    let ns_path = |ns: &str| format!("/proc/{a_pid}/ns/{ns}");
    b.edit(|c| {
        c["linux"]["namespaces"] = json!([
            {"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"},
            {"type": "user", "path": ns_path("user")}, {"type": "network", "path": ns_path("net")}
        ]);
    });
    let report = run_probe(&rcr, &b);
    assert_eq!(report["namespaces"]["user"].as_str().unwrap(), ns_of(&a_pid, "user"));
    assert_eq!(report["namespaces"]["net"].as_str().unwrap(), ns_of(&a_pid, "net"));
    assert_ne!(report["namespaces"]["pid"].as_str().unwrap(), ns_of(&a_pid, "pid"));
    assert_ne!(report["namespaces"]["mnt"].as_str().unwrap(), ns_of(&a_pid, "mnt"));
    assert_eq!(report["pid"], 1, "the re-forked init is pid 1 of its namespace");
    assert_eq!((report["uid"].as_u64(), report["gid"].as_u64()), (Some(0), Some(0)));
    assert_eq!(
        report["uid_map"][0].as_str().unwrap().split_whitespace().collect::<Vec<_>>(),
        ["0", "100000", "65536"]
    );
    assert_eq!(report["hostname"], HOSTNAME);

    // Mappings given with a joined namespace must be the ones it has.
    b.edit(|c| {
        c["linux"]["uidMappings"] = mapping(0, MAP_BASE, 65536);
        c["linux"]["gidMappings"] = mapping(0, MAP_BASE, 65536);
    });
    run_probe(&rcr, &b);
    b.edit(|c| c["linux"]["uidMappings"] = mapping(0, MAP_BASE + 1, 65535));
    let e = rcr.fail(&["run", &Rcr::unique_id("userns-b"), "--bundle", b.path_str()]);
    assert!(
        e.contains(
            "linux.uidMappings differ from the mappings of the user namespace joined by path"
        ),
        "{e}"
    );
    destroy(&rcr, &a_id);
}

/// Idmapped bind mounts without a user namespace: the mapping applies to
/// what the host's processes (and the container's) see.
#[test]
fn idmapped_mount_without_user_namespace() {
    const TEST: &str = "idmapped_mount_without_user_namespace";
    if !root_tests_can_run(TEST) {
        return;
    }
    let data = host_dir();
    fs::write(data.path().join("user-file"), "x").unwrap();
    chown(data.path().join("user-file"), Some(1000), Some(1000)).unwrap();
    fs::write(data.path().join("root-file"), "x").unwrap();
    let bundle = Bundle::busybox();
    for dir in ["idmapped", "plain"] {
        fs::create_dir(bundle.rootfs().join(dir)).unwrap();
    }
    // On-disk id 1000 shows as host id 0 through the mapping.
    add_mount(
        &bundle,
        json!({"destination": "/idmapped", "type": "bind", "source": data.path(),
        "options": ["bind", "idmap"], "uidMappings": mapping(1000, 0, 1), "gidMappings": mapping(1000, 0, 1)}),
    );
    add_mount(
        &bundle,
        json!({"destination": "/plain", "type": "bind", "source": data.path(), "options": ["bind"]}),
    );
    bundle.set_args(&[
        "/rcr-probe",
        "stat",
        "/idmapped/user-file",
        "/idmapped/root-file",
        "/plain/user-file",
    ]);
    let rcr = rcr();
    let out = rcr.run(&["run", &Rcr::unique_id("idmap"), "--bundle", bundle.path_str()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("may not support idmapped mounts") {
        skip(TEST, "the filesystem of /tmp does not support idmapped mounts");
        return;
    }
    assert!(out.status.success(), "{stderr}");
    let stat = probe_report(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(
        (stat["/idmapped/user-file"]["uid"].as_u64(), stat["/idmapped/user-file"]["gid"].as_u64()),
        (Some(0), Some(0))
    );
    // On-disk 0 has no place in the mapping: the overflow id.
    assert_eq!(stat["/idmapped/root-file"]["uid"], 65534);
    assert_eq!(stat["/plain/user-file"]["uid"], 1000);
    // Nothing changed on disk.
    assert_eq!(fs::metadata(data.path().join("user-file")).unwrap().uid(), 1000);
}

/// The idmap option without mappings of its own takes the container's: the
/// host's root-owned files show as the container's root, and files the
/// container makes are root's on disk.
#[test]
fn idmapped_mount_with_the_container_mapping() {
    const TEST: &str = "idmapped_mount_with_the_container_mapping";
    if !root_tests_can_run(TEST) {
        return;
    }
    let data = host_dir();
    fs::write(data.path().join("root-file"), "x").unwrap();
    let bundle = Bundle::busybox();
    add_userns(&bundle);
    fs::create_dir(bundle.rootfs().join("idmapped")).unwrap();
    add_mount(
        &bundle,
        json!({"destination": "/idmapped", "type": "bind", "source": data.path(), "options": ["rbind", "ridmap"]}),
    );
    bundle.set_args(&[
        "sh",
        "-c",
        "touch /idmapped/made && exec /rcr-probe stat /idmapped/root-file /idmapped/made",
    ]);
    let rcr = rcr();
    let out = rcr.run(&["run", &Rcr::unique_id("idmap-userns"), "--bundle", bundle.path_str()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("may not support idmapped mounts") {
        skip(TEST, "the filesystem of /tmp does not support idmapped mounts");
        return;
    }
    assert!(out.status.success(), "{stderr}");
    let stat = probe_report(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(stat["/idmapped/root-file"]["uid"], 0);
    assert_eq!(stat["/idmapped/made"]["uid"], 0);
    let made = fs::metadata(data.path().join("made")).unwrap();
    assert_eq!((made.uid(), made.gid()), (0, 0), "written through the mapping as the host's root");
}

#[test]
fn idmapped_mount_errors() {
    const TEST: &str = "idmapped_mount_errors";
    if !require_busybox(TEST) {
        return;
    }
    let rcr = rcr();
    let bundle = Bundle::busybox();
    add_mount(
        &bundle,
        json!({"destination": "/x", "type": "bind", "source": "/tmp", "options": ["bind", "idmap"]}),
    );
    let e = rcr.fail(&["create", &Rcr::unique_id("idmap-err"), "--bundle", bundle.path_str()]);
    assert!(e.contains("mounts[7]: an idmap mount needs uidMappings and gidMappings"), "{e}");
}

#[test]
fn cgroup_namespace_roots_at_the_container_cgroup() {
    const TEST: &str = "cgroup_namespace_roots_at_the_container_cgroup";
    if !root_tests_can_run(TEST) {
        return;
    }
    let rcr = rcr();
    let a = Bundle::busybox();
    a.edit(|c| c["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "cgroup"})));
    a.set_args(&["/rcr-probe", "sleep", "60"]);
    let a_id = Rcr::unique_id("cgns-a");
    create(&rcr, &a, &a_id);
    let a_pid = pid_of(&rcr, &a_id).to_string();
    // Seen from the host the init is in the container's cgroup ...
    let host_view = fs::read_to_string(format!("/proc/{a_pid}/cgroup")).unwrap();
    assert!(host_view.lines().any(|l| l.ends_with(&a_id)), "{host_view}");

    // ... and a process in its cgroup namespace sees that as "/".
    let b = Bundle::busybox();
    b.edit(|c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "cgroup", "path": format!("/proc/{a_pid}/ns/cgroup")}));
    });
    let report = run_probe(&rcr, &b);
    assert_eq!(report["namespaces"]["cgroup"].as_str().unwrap(), ns_of(&a_pid, "cgroup"));

    a.set_args(&["/rcr-probe"]);
    let report = run_probe(&rcr, &a);
    assert_ne!(report["namespaces"]["cgroup"].as_str().unwrap(), host_ns("cgroup"));
    let lines: Vec<&str> =
        report["cgroup"].as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect();
    assert!(!lines.is_empty() && lines.iter().all(|l| l.ends_with(":/")), "{lines:?}");
    destroy(&rcr, &a_id);
}

fn uptime_secs(text: &str) -> f64 {
    text.split_whitespace().next().unwrap().parse().unwrap()
}

#[test]
fn time_namespace_offsets() {
    const TEST: &str = "time_namespace_offsets";
    if !root_tests_can_run(TEST) {
        return;
    }
    if !Path::new("/proc/self/timens_offsets").exists() {
        skip(TEST, "the kernel has no time namespaces");
        return;
    }
    const BOOT: i64 = 10 * 86400;
    let bundle = Bundle::busybox();
    // In a user namespace as well: the time namespace must belong to it.
    add_userns(&bundle);
    bundle.edit(|c| {
        c["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "time"}));
        c["linux"]["timeOffsets"] =
            json!({"boottime": {"secs": BOOT, "nanosecs": 0}, "monotonic": {"secs": 3600}});
    });
    bundle.set_args(&["/rcr-probe", "read", "/proc/uptime", "/proc/self/timens_offsets"]);
    let rcr = rcr();
    let before = uptime_secs(&fs::read_to_string("/proc/uptime").unwrap());
    let out =
        probe_report(&rcr.ok(&["run", &Rcr::unique_id("timens"), "--bundle", bundle.path_str()]));
    let after = uptime_secs(&fs::read_to_string("/proc/uptime").unwrap());
    let inside = uptime_secs(out["/proc/uptime"]["content"].as_str().unwrap());
    assert!(
        inside >= before + BOOT as f64 && inside <= after + BOOT as f64,
        "{before} {inside} {after}"
    );
    let offsets = out["/proc/self/timens_offsets"]["content"].as_str().unwrap();
    let offsets: Vec<Vec<&str>> = offsets.lines().map(|l| l.split_whitespace().collect()).collect();
    assert!(offsets.contains(&vec!["monotonic", "3600", "0"]), "{offsets:?}");
    assert!(offsets.contains(&vec!["boottime", "864000", "0"]), "{offsets:?}");
}

// ---- rootless -------------------------------------------------------------

/// The uid and gid of [`TEST_USER`], created (once, idempotently) if missing.
fn test_user() -> Result<(u32, u32), String> {
    static USER: OnceLock<Result<(u32, u32), String>> = OnceLock::new();
    USER.get_or_init(|| {
        let id = |flag: &str| -> Option<u32> {
            let out = Command::new("id").args([flag, TEST_USER]).output().ok()?;
            String::from_utf8_lossy(&out.stdout)
                .trim()
                .parse()
                .ok()
                .filter(|_| out.status.success())
        };
        if id("-u").is_none() {
            let out = Command::new("useradd").args(["-m", "-s", "/bin/sh", TEST_USER]).output();
            match out {
                // 9: the user exists (made meanwhile by a parallel test run).
                Ok(o) if o.status.success() || o.status.code() == Some(9) => {}
                Ok(o) => {
                    return Err(format!(
                        "useradd {TEST_USER}: {}",
                        String::from_utf8_lossy(&o.stderr).trim()
                    ))
                }
                Err(e) => return Err(format!("useradd: {e}")),
            }
        }
        match (id("-u"), id("-g")) {
            (Some(uid), Some(gid)) => Ok((uid, gid)),
            _ => Err(format!("cannot look up user {TEST_USER}")),
        }
    })
    .clone()
}

/// Why unprivileged user namespaces are unavailable, if they are.
fn unprivileged_userns_blocked() -> Option<String> {
    for (knob, allowed) in [
        ("/proc/sys/kernel/unprivileged_userns_clone", "1"),
        ("/proc/sys/kernel/apparmor_restrict_unprivileged_userns", "0"),
    ] {
        if let Ok(v) = fs::read_to_string(knob) {
            if v.trim() != allowed {
                return Some(format!("{knob} is {}", v.trim()));
            }
        }
    }
    match fs::read_to_string("/proc/sys/user/max_user_namespaces") {
        Ok(v) if v.trim() == "0" => return Some("user.max_user_namespaces is 0".to_owned()),
        _ => {}
    }
    let probe = Command::new("setpriv")
        .args([
            "--reuid",
            TEST_USER,
            "--regid",
            TEST_USER,
            "--init-groups",
            "--",
            "unshare",
            "--user",
            "--map-root-user",
            "true",
        ])
        .output();
    match probe {
        Ok(o) if o.status.success() => None,
        Ok(o) => Some(format!(
            "an unprivileged unshare --user failed: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => Some(format!("cannot run setpriv: {e}")),
    }
}

/// rcr run by [`TEST_USER`], with its own `$XDG_RUNTIME_DIR` and a copy of
/// the binary it can surely execute.
struct Rootless {
    uid: u32,
    gid: u32,
    runtime_dir: tempfile::TempDir,
    bin: PathBuf,
    _bin_dir: tempfile::TempDir,
}

impl Rootless {
    fn new(test: &str) -> Option<Rootless> {
        if !require_root(test) || !require_busybox(test) {
            return None;
        }
        let (uid, gid) = match test_user() {
            Ok(ids) => ids,
            Err(e) => {
                skip(test, &e);
                return None;
            }
        };
        if let Some(why) = unprivileged_userns_blocked() {
            skip(test, &format!("unprivileged user namespaces are not available: {why}"));
            return None;
        }
        let runtime_dir = tempfile::Builder::new().prefix("rcr-xdg-").tempdir_in("/tmp").unwrap();
        chown(runtime_dir.path(), Some(uid), Some(gid)).unwrap();
        let bin_dir = tempfile::Builder::new().prefix("rcr-bin-").tempdir_in("/tmp").unwrap();
        fs::set_permissions(bin_dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let bin = bin_dir.path().join("rcr");
        fs::copy(RCR, &bin).unwrap();
        Some(Rootless { uid, gid, runtime_dir, bin, _bin_dir: bin_dir })
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("setpriv");
        cmd.args([
            "--reuid",
            &self.uid.to_string(),
            "--regid",
            &self.gid.to_string(),
            "--init-groups",
            "--",
        ])
        .arg(&self.bin)
        .args(args)
        .env("XDG_RUNTIME_DIR", self.runtime_dir.path())
        .current_dir("/");
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// `rcr spec --rootless` as the user, in a directory of its own.
    fn spec(&self) -> Value {
        let dir = tempfile::Builder::new().prefix("rcr-spec-").tempdir_in("/tmp").unwrap();
        chown(dir.path(), Some(self.uid), Some(self.gid)).unwrap();
        let out = self.run(&["spec", "--rootless", "--bundle", dir.path().to_str().unwrap()]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_str(&fs::read_to_string(dir.path().join("config.json")).unwrap()).unwrap()
    }

    /// A busybox bundle with the user's `rcr spec --rootless` config, running `args`.
    fn bundle(&self, args: &[&str]) -> Bundle {
        let bundle = Bundle::busybox();
        let mut spec = self.spec();
        spec["process"]["args"] = json!(args);
        spec["process"]["terminal"] = json!(false);
        bundle.write_config(&spec);
        bundle
    }
}

impl Drop for Rootless {
    fn drop(&mut self) {
        // Whatever a failed test left behind.
        let Ok(entries) = fs::read_dir(self.runtime_dir.path().join("rcr")) else { return };
        for entry in entries.flatten() {
            let _ =
                self.run(&["delete", "--force", entry.file_name().to_str().unwrap_or_default()]);
        }
    }
}

fn stdout_ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "rcr failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn rootless_run_with_the_rootless_spec() {
    const TEST: &str = "rootless_run_with_the_rootless_spec";
    let Some(user) = Rootless::new(TEST) else { return };
    let bundle = user.bundle(&["/rcr-probe"]);
    let id = Rcr::unique_id("rootless");
    let report = probe_report(&stdout_ok(&user.run(&["run", &id, "--bundle", bundle.path_str()])));

    assert_eq!((report["uid"].as_u64(), report["gid"].as_u64()), (Some(0), Some(0)), "{report}");
    assert_eq!(report["hostname"], "rcr");
    let uid_map: Vec<String> =
        report["uid_map"][0].as_str().unwrap().split_whitespace().map(str::to_owned).collect();
    assert_eq!(uid_map, ["0".to_owned(), user.uid.to_string(), "1".to_owned()]);
    assert_eq!(report["setgroups"], "deny", "an unprivileged gid map needs setgroups denied");
    assert_eq!(report["rootfs_readonly"], true);
    // No cgroup was made: the container runs in its creator's (ours).
    let ours: Vec<String> =
        fs::read_to_string("/proc/self/cgroup").unwrap().lines().map(str::to_owned).collect();
    assert_eq!(report["cgroup"], json!(ours));
    // The state lived under $XDG_RUNTIME_DIR/rcr, owned by the user.
    let root = user.runtime_dir.path().join("rcr");
    assert_eq!(fs::metadata(&root).unwrap().uid(), user.uid);
    assert!(!root.join(&id).exists(), "run removes the container afterwards");
}

#[test]
fn rootless_create_start_delete() {
    const TEST: &str = "rootless_create_start_delete";
    let Some(user) = Rootless::new(TEST) else { return };
    let bundle = user.bundle(&["/rcr-probe", "sleep", "60"]);
    let id = Rcr::unique_id("rootless-life");
    create_with(user.cmd(&["create", &id, "--bundle", bundle.path_str()]));
    stdout_ok(&user.run(&["start", &id]));
    let state: Value = serde_json::from_str(&stdout_ok(&user.run(&["state", &id]))).unwrap();
    assert_eq!(state["status"], "running");
    let pid = state["pid"].as_i64().unwrap();
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let host_uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    assert_eq!(host_uid, user.uid.to_string(), "the container's root is the user on the host");
    let report = probe_report(&stdout_ok(&user.run(&["exec", &id, "/rcr-probe"])));
    assert_eq!(report["namespaces"]["user"].as_str().unwrap(), ns_of(pid, "user"));
    assert_eq!((report["uid"].as_u64(), report["gid"].as_u64()), (Some(0), Some(0)));

    // A second container joins the first one's user and pid namespaces by
    // path: unprivileged, it enters the pid namespace only after the user
    // namespace, from its own init.
    let b = user.bundle(&["/rcr-probe"]);
    b.edit(|c| {
        let linux = c["linux"].as_object_mut().unwrap();
        linux.remove("uidMappings");
        linux.remove("gidMappings");
        c["linux"]["namespaces"] = json!([
            {"type": "pid", "path": format!("/proc/{pid}/ns/pid")},
            {"type": "user", "path": format!("/proc/{pid}/ns/user")},
            {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}
        ]);
    });
    let b_id = Rcr::unique_id("rootless-join");
    let report = probe_report(&stdout_ok(&user.run(&["run", &b_id, "--bundle", b.path_str()])));
    for ns in ["user", "pid"] {
        assert_eq!(report["namespaces"][ns].as_str().unwrap(), ns_of(pid, ns), "{ns}");
    }
    assert_ne!(report["pid"], 1);
    stdout_ok(&user.run(&["delete", "--force", &id]));
    assert!(!user.run(&["state", &id]).status.success(), "the container is gone");
}

#[test]
fn rootless_refuses_resources_it_cannot_apply() {
    const TEST: &str = "rootless_refuses_resources_it_cannot_apply";
    let Some(user) = Rootless::new(TEST) else { return };
    if fs::metadata("/sys/fs/cgroup").is_ok_and(|m| m.uid() == user.uid) {
        skip(TEST, "the user owns the cgroup tree");
        return;
    }
    let bundle = user.bundle(&["/rcr-probe"]);
    bundle.edit(|c| c["linux"]["resources"] = json!({"pids": {"limit": 10}}));
    let id = Rcr::unique_id("rootless-res");
    let out = user.run(&["run", &id, "--bundle", bundle.path_str()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("linux.resources of a rootless container need a cgroup"), "{stderr}");
}

/// How many subordinate ids the test maps.
const SUB_SIZE: u32 = 65536;

/// The first range of at least [`SUB_SIZE`] ids `file` (/etc/subuid or
/// /etc/subgid) gives [`TEST_USER`]; one is added if there is none.
fn subordinate_range(file: &str) -> u32 {
    let text = fs::read_to_string(file).unwrap_or_default();
    let given = text.lines().find_map(|l| {
        let mut f = l.split(':');
        let user = f.next()?;
        let start: u32 = f.next()?.parse().ok()?;
        let count: u32 = f.next()?.parse().ok()?;
        (user == TEST_USER && count >= SUB_SIZE).then_some(start)
    });
    given.unwrap_or_else(|| {
        const START: u32 = 300_000;
        let mut f = fs::OpenOptions::new().append(true).create(true).open(file).unwrap();
        std::io::Write::write_all(&mut f, format!("{TEST_USER}:{START}:{SUB_SIZE}\n").as_bytes())
            .unwrap();
        START
    })
}

/// More than its own id: rcr uses newuidmap/newgidmap with the user's
/// /etc/subuid and /etc/subgid ranges.
#[test]
fn rootless_with_subordinate_ids() {
    const TEST: &str = "rootless_with_subordinate_ids";
    let Some(user) = Rootless::new(TEST) else { return };
    if rcr_testkit::which("newuidmap").is_none() || rcr_testkit::which("newgidmap").is_none() {
        skip(TEST, "newuidmap/newgidmap are not installed (apt-get install uidmap)");
        return;
    }
    let (sub_uid, sub_gid) = (subordinate_range("/etc/subuid"), subordinate_range("/etc/subgid"));
    let bundle = user.bundle(&["/rcr-probe"]);
    let (uid, gid) = (user.uid, user.gid);
    bundle.edit(|c| {
        c["linux"]["uidMappings"] =
            json!([{"containerID": 0, "hostID": uid, "size": 1}, {"containerID": 1, "hostID": sub_uid, "size": SUB_SIZE}]);
        c["linux"]["gidMappings"] =
            json!([{"containerID": 0, "hostID": gid, "size": 1}, {"containerID": 1, "hostID": sub_gid, "size": SUB_SIZE}]);
        c["process"]["user"] = json!({"uid": 1000, "gid": 1000, "additionalGids": [5]});
    });
    let report = probe_report(&stdout_ok(&user.run(&[
        "run",
        &Rcr::unique_id("rootless-sub"),
        "--bundle",
        bundle.path_str(),
    ])));
    let lines = |key: &str| -> Vec<Vec<String>> {
        report[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap().split_whitespace().map(str::to_owned).collect())
            .collect()
    };
    let want = |own: u32, sub: u32| {
        vec![
            vec!["0".to_owned(), own.to_string(), "1".to_owned()],
            vec!["1".to_owned(), sub.to_string(), SUB_SIZE.to_string()],
        ]
    };
    assert_eq!(lines("uid_map"), want(uid, sub_uid));
    assert_eq!(lines("gid_map"), want(gid, sub_gid));
    // newgidmap leaves setgroups allowed, so the extra group could be set.
    assert_eq!(report["setgroups"], "allow");
    assert_eq!((report["uid"].as_u64(), report["gid"].as_u64()), (Some(1000), Some(1000)));
    assert_eq!(report["groups"], json!([5]));
}
