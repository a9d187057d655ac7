//! End-to-end root filesystem tests: the read-only root, the spec's mounts
//! (tmpfs, binds, propagation), the standard system mounts, `--no-pivot`
//! and mount destinations that try to leave the rootfs.

mod common;

use std::fs;
use std::os::unix::fs::symlink;

use common::*;
use serde_json::{json, Value};

const EROFS: i64 = libc::EROFS as i64;

fn add_mounts(bundle: &Bundle, mounts: &[Value]) {
    bundle.edit(|c| {
        c["mounts"]
            .as_array_mut()
            .expect("the default spec has mounts")
            .extend(mounts.iter().cloned())
    });
}

#[test]
fn readonly_root() {
    if !require_root("readonly_root") {
        return;
    }
    let rcr = rcr();
    let bundle = Bundle::busybox();
    bundle.set_args(&probe_args(&["write", "/new-file", "/tmp/new-file"]));
    let out = probe_report(&run_stdout(&rcr, &bundle));
    assert_eq!(out["/new-file"]["errno"], EROFS, "{out:#}");
    assert_eq!(out["/tmp/new-file"]["errno"], EROFS, "{out:#}");
    bundle.set_args(&probe_args(&[]));
    let report = run_probe(&rcr, &bundle);
    assert_eq!(report["rootfs_readonly"], true, "{report:#}");
    assert!(has_option(must_mount(&report, "/"), "ro"), "{report:#}");

    bundle.edit(|c| c["root"]["readonly"] = json!(false));
    bundle.set_args(&probe_args(&["write", "/new-file"]));
    let out = probe_report(&run_stdout(&rcr, &bundle));
    assert_eq!(out["/new-file"]["ok"], true, "{out:#}");
    bundle.set_args(&probe_args(&[]));
    let report = run_probe(&rcr, &bundle);
    assert_eq!(report["rootfs_readonly"], false, "{report:#}");
    assert!(has_option(must_mount(&report, "/"), "rw"), "{report:#}");
    // The probe cleaned up after itself on the host side too.
    assert!(!bundle.rootfs().join("new-file").exists());
}

#[test]
fn tmpfs_with_options() {
    if !require_root("tmpfs_with_options") {
        return;
    }
    let rcr = rcr();
    let bundle = Bundle::busybox();
    add_mounts(
        &bundle,
        &[json!({
            "destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
            "options": ["nosuid", "noexec", "nodev", "size=1m", "mode=1770"]
        })],
    );
    let report = run_probe(&rcr, &bundle);
    let m = must_mount(&report, "/scratch");
    assert_eq!(m["fs_type"], "tmpfs", "{m:#}");
    for opt in ["rw", "nosuid", "nodev", "noexec"] {
        assert!(has_option(m, opt), "{opt} missing: {m:#}");
    }
    let sup = strings(&m["super_options"]);
    assert!(sup.contains(&"size=1024k") && sup.contains(&"mode=1770"), "{m:#}");

    bundle.set_args(&probe_args(&["stat", "/scratch"]));
    let out = probe_report(&run_stdout(&rcr, &bundle));
    assert_eq!(out["/scratch"]["mode"], "1770", "{out:#}");
}

#[test]
fn bind_mounts_of_host_dirs_and_files() {
    if !require_root("bind_mounts_of_host_dirs_and_files") {
        return;
    }
    let rcr = rcr();
    let host = host_dir(&[("hello", "hello from the host"), ("file.txt", "just a file")]);
    let bundle = Bundle::busybox();
    fs::create_dir(bundle.path().join("shared")).unwrap();
    fs::write(bundle.path().join("shared/rel"), "relative to the bundle").unwrap();
    let dir = path_str(host.path());
    let file = host.path().join("file.txt");
    add_mounts(
        &bundle,
        &[
            json!({"destination": "/data-rw", "type": "bind", "source": dir, "options": ["bind"]}),
            json!({"destination": "/data-ro", "type": "none", "source": dir,
                   "options": ["rbind", "ro"]}),
            json!({"destination": "/etc/bound.txt", "type": "bind", "source": path_str(&file),
                   "options": ["bind", "ro"]}),
            json!({"destination": "/rel", "type": "bind", "source": "shared",
                   "options": ["bind"]}),
        ],
    );

    let report = run_probe(&rcr, &bundle);
    let rw = must_mount(&report, "/data-rw");
    assert!(has_option(rw, "rw"), "{rw:#}");
    let ro = must_mount(&report, "/data-ro");
    assert!(has_option(ro, "ro"), "{ro:#}");
    assert!(has_option(must_mount(&report, "/etc/bound.txt"), "ro"), "{report:#}");
    assert!(mount_at(&report, "/rel").is_some(), "{report:#}");

    bundle.set_args(&probe_args(&[
        "read",
        "/data-rw/hello",
        "/data-ro/hello",
        "/etc/bound.txt",
        "/rel/rel",
    ]));
    let out = probe_report(&run_stdout(&rcr, &bundle));
    assert_eq!(out["/data-rw/hello"]["content"], "hello from the host", "{out:#}");
    assert_eq!(out["/data-ro/hello"]["content"], "hello from the host", "{out:#}");
    assert_eq!(out["/etc/bound.txt"]["content"], "just a file", "{out:#}");
    assert_eq!(out["/rel/rel"]["content"], "relative to the bundle", "{out:#}");

    bundle.set_args(&probe_args(&["write", "/data-rw/hello", "/data-ro/hello", "/etc/bound.txt"]));
    let out = probe_report(&run_stdout(&rcr, &bundle));
    assert_eq!(out["/data-rw/hello"]["ok"], true, "{out:#}");
    assert_eq!(out["/data-ro/hello"]["errno"], EROFS, "{out:#}");
    assert_eq!(out["/etc/bound.txt"]["errno"], EROFS, "{out:#}");

    // Writes through the rw bind land on the host.
    bundle.set_args(&["sh", "-c", "echo changed > /data-rw/hello"]);
    run_stdout(&rcr, &bundle);
    assert_eq!(fs::read_to_string(host.path().join("hello")).unwrap(), "changed\n");
    // The ro bind did not make the host's directory read-only.
    fs::write(host.path().join("still-writable"), "yes").unwrap();
}

#[test]
fn rbind_carries_submounts() {
    if !require_root("rbind_carries_submounts") {
        return;
    }
    let rcr = rcr();
    let host = host_dir(&[("sub/.keep", "")]);
    let sub = host.path().join("sub");
    let _tmpfs = HostMount::tmpfs(&sub);
    fs::write(sub.join("inside"), "on the submount").unwrap();
    let dir = path_str(host.path());
    let bundle = Bundle::busybox();
    add_mounts(
        &bundle,
        &[
            json!({"destination": "/rec", "type": "bind", "source": dir, "options": ["rbind"]}),
            json!({"destination": "/flat", "type": "bind", "source": dir, "options": ["bind"]}),
        ],
    );
    let report = run_probe(&rcr, &bundle);
    assert_eq!(must_mount(&report, "/rec/sub")["fs_type"], "tmpfs", "{report:#}");
    assert!(mount_at(&report, "/flat/sub").is_none(), "{report:#}");

    bundle.set_args(&probe_args(&["read", "/rec/sub/inside", "/flat/sub/inside"]));
    let out = probe_report(&run_stdout(&rcr, &bundle));
    assert_eq!(out["/rec/sub/inside"]["content"], "on the submount", "{out:#}");
    assert_eq!(out["/flat/sub/inside"]["ok"], false, "{out:#}");
}

fn has_tag(m: &Value, prefix: &str) -> bool {
    strings(&m["optional"]).iter().any(|t| t.starts_with(prefix))
}

#[test]
fn mount_propagation() {
    if !require_root("mount_propagation") {
        return;
    }
    let rcr = rcr();
    // A shared host mount gives the container's copies a master to be a
    // slave of, so that `rslave` is observable.
    let host = host_dir(&[]);
    let shared = HostMount::tmpfs(host.path());
    shared.make_shared();
    let dir = path_str(host.path());
    let bundle = Bundle::busybox();
    let bind = |dest: &str, prop: &str| json!({"destination": dest, "type": "bind", "source": dir, "options": ["rbind", prop]});
    add_mounts(
        &bundle,
        &[bind("/p-private", "rprivate"), bind("/p-shared", "rshared"), bind("/p-slave", "rslave")],
    );
    let report = run_probe(&rcr, &bundle);
    let private = must_mount(&report, "/p-private");
    assert!(strings(&private["optional"]).is_empty(), "{private:#}");
    let shared = must_mount(&report, "/p-shared");
    assert!(has_tag(shared, "shared:"), "{shared:#}");
    let slave = must_mount(&report, "/p-slave");
    assert!(has_tag(slave, "master:") && !has_tag(slave, "shared:"), "{slave:#}");
}

#[test]
fn rootfs_propagation() {
    if !require_root("rootfs_propagation") {
        return;
    }
    let rcr = rcr();
    let bundle = Bundle::busybox();
    let report = run_probe(&rcr, &bundle);
    assert!(!has_tag(must_mount(&report, "/"), "shared:"), "{report:#}");

    for (propagation, shared) in [("shared", true), ("rshared", true), ("private", false)] {
        bundle.edit(|c| c["linux"]["rootfsPropagation"] = json!(propagation));
        let report = run_probe(&rcr, &bundle);
        let root = must_mount(&report, "/");
        assert_eq!(has_tag(root, "shared:"), shared, "{propagation}: {root:#}");
        assert!(!has_tag(root, "master:"), "{propagation}: {root:#}");
    }
}

#[test]
fn no_pivot() {
    if !require_root("no_pivot") {
        return;
    }
    let rcr = rcr();
    let bundle = Bundle::busybox();
    let id = Rcr::unique_id("nopivot");
    let out = rcr.ok(&["run", "--no-pivot", "--bundle", bundle.path_str(), &id]);
    let report = probe_report(&out);
    assert_eq!(report["pid"], 1);
    assert_eq!(report["cwd"], "/");
    assert_eq!(report["rootfs_readonly"], true, "{report:#}");
    assert!(mount_at(&report, "/proc").is_some(), "{report:#}");
    // The host's mounts are not visible.
    let host = host_dir(&[]);
    let points: Vec<&str> = report["mounts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["mount_point"].as_str())
        .collect();
    assert!(!points.iter().any(|p| p.starts_with(path_str(host.path()))), "{points:?}");
    assert!(!points.contains(&path_str(&bundle.rootfs())), "{points:?}");
    assert_no_leftovers(&rcr, &id);
}

#[test]
fn system_mounts() {
    if !require_root("system_mounts") {
        return;
    }
    let rcr = rcr();
    let bundle = Bundle::busybox();
    let id = Rcr::unique_id("sys");
    let report = probe_report(&rcr.ok(&["run", "--bundle", bundle.path_str(), &id]));

    let proc = must_mount(&report, "/proc");
    assert_eq!(proc["fs_type"], "proc");
    let sys = must_mount(&report, "/sys");
    assert_eq!(sys["fs_type"], "sysfs");
    assert!(has_option(sys, "ro") && has_option(sys, "nosuid"), "{sys:#}");
    let pts = must_mount(&report, "/dev/pts");
    assert_eq!(pts["fs_type"], "devpts");
    assert!(strings(&pts["super_options"]).contains(&"ptmxmode=666"), "{pts:#}");
    assert_eq!(must_mount(&report, "/dev/mqueue")["fs_type"], "mqueue");
    let shm = must_mount(&report, "/dev/shm");
    assert_eq!(shm["fs_type"], "tmpfs");
    assert!(has_option(shm, "nodev") && has_option(shm, "noexec"), "{shm:#}");
    assert_eq!(must_mount(&report, "/dev")["fs_type"], "tmpfs");

    let hierarchies = v1_hierarchies();
    if hierarchies.is_empty() {
        rcr_testkit::skip("system_mounts (cgroup part)", "no cgroup v1 hierarchies on this host");
        return;
    }
    let cgroup = must_mount(&report, "/sys/fs/cgroup");
    assert!(has_option(cgroup, "ro"), "{cgroup:#}");
    for name in &hierarchies {
        let point = format!("/sys/fs/cgroup/{name}");
        let m = must_mount(&report, &point);
        assert_eq!(m["fs_type"], "cgroup", "{m:#}");
        assert!(has_option(m, "ro"), "{m:#}");
        let root = m["root"].as_str().unwrap();
        assert!(root.ends_with(&format!("/rcr/{id}")), "{point} shows {root}");
    }

    let host_mounts = fs::read_to_string("/proc/self/mountinfo").unwrap();
    if host_mounts
        .lines()
        .any(|l| l.contains(" /sys/fs/cgroup/unified ") && l.contains(" cgroup2 "))
    {
        // Hybrid: the unified hierarchy is shown like the others.
        let m = must_mount(&report, "/sys/fs/cgroup/unified");
        assert_eq!(m["fs_type"], "cgroup2", "{m:#}");
        assert!(has_option(m, "ro"), "{m:#}");
        assert!(m["root"].as_str().unwrap().ends_with(&format!("/rcr/{id}")), "{m:#}");
    }

    if hierarchies.iter().any(|h| h == "pids") {
        bundle.set_args(&probe_args(&[
            "read",
            "/sys/fs/cgroup/pids/cgroup.procs",
            "/sys/fs/cgroup/pids/pids.max",
        ]));
        let out = probe_report(&run_stdout(&rcr, &bundle));
        // Only the container's own process, as its pid namespace names it.
        assert_eq!(out["/sys/fs/cgroup/pids/cgroup.procs"]["content"], "1\n", "{out:#}");
        bundle.set_args(&probe_args(&["write", "/sys/fs/cgroup/pids/pids.max"]));
        let out = probe_report(&run_stdout(&rcr, &bundle));
        assert_eq!(out["/sys/fs/cgroup/pids/pids.max"]["errno"], EROFS, "{out:#}");
    }
}

#[test]
fn mount_destinations_are_created() {
    if !require_root("mount_destinations_are_created") {
        return;
    }
    let rcr = rcr();
    let bundle = Bundle::busybox();
    add_mounts(
        &bundle,
        &[
            json!({"destination": "/a/b/c", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]}),
        ],
    );
    let report = run_probe(&rcr, &bundle);
    assert_eq!(must_mount(&report, "/a/b/c")["fs_type"], "tmpfs", "{report:#}");
    bundle.set_args(&probe_args(&["stat", "/a/b", "/a/b/c"]));
    let out = probe_report(&run_stdout(&rcr, &bundle));
    assert_eq!(out["/a/b"]["kind"], "dir", "{out:#}");
    assert_eq!(out["/a/b/c"]["kind"], "dir", "{out:#}");
}

#[test]
fn symlinked_destination_stays_in_the_rootfs() {
    if !require_root("symlinked_destination_stays_in_the_rootfs") {
        return;
    }
    let rcr = rcr();
    let host = host_dir(&[("marker", "host")]);
    let bundle = Bundle::busybox();
    // An image can hold any symlink: this one names a host directory.
    symlink(host.path(), bundle.rootfs().join("evil")).unwrap();
    symlink("../../../../..", bundle.rootfs().join("up")).unwrap();
    let secret = host_dir(&[("secret", "do not show")]);
    add_mounts(
        &bundle,
        &[
            json!({"destination": "/evil/sub", "type": "tmpfs", "source": "tmpfs"}),
            json!({"destination": "/evil", "type": "bind", "source": path_str(secret.path()),
                   "options": ["bind"]}),
            json!({"destination": "/up/uptmp", "type": "tmpfs", "source": "tmpfs"}),
        ],
    );
    bundle.set_args(&probe_args(&["sleep", "30"]));
    let id = Rcr::unique_id("evil");
    run_detached(&rcr, &bundle, &id);
    let pid = pid_of(&rcr, &id);

    // Nothing happened to the host directory, in the host's view...
    let entries: Vec<_> =
        fs::read_dir(host.path()).unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(entries, ["marker"], "the host directory was changed");
    let host_mounts = fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!host_mounts.contains(path_str(host.path())), "{host_mounts}");
    // ...nor in the container's: the mounts went to the same path inside the
    // rootfs, where the symlink resolves when the container follows it.
    let inside = fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap();
    let evil = path_str(host.path());
    let points: Vec<&str> = inside.lines().filter_map(|l| l.split(' ').nth(4)).collect();
    assert!(points.contains(&evil), "{inside}");
    assert!(points.contains(&format!("{evil}/sub").as_str()), "{inside}");
    assert!(points.contains(&"/uptmp"), "{inside}");
    assert!(bundle.rootfs().join(host.path().strip_prefix("/").unwrap()).join("sub").is_dir());
    assert!(!std::path::Path::new("/uptmp").exists(), "a mount point was made outside the rootfs");
    destroy(&rcr, &id);
}
