//! End-to-end namespace tests: new namespaces differ from the host's, and
//! namespaces given by path are joined.

mod common;

use common::*;
use serde_json::{json, Value};

#[test]
fn new_namespaces() {
    if !require_root("new_namespaces") {
        return;
    }
    let rcr = rcr();
    let bundle = Bundle::busybox();
    bundle.edit(|c| c["domainname"] = json!("example.test"));
    let report = run_probe(&rcr, &bundle);
    assert_eq!(report["pid"], 1);
    assert_eq!(report["ppid"], 0);
    assert_eq!(report["hostname"], rcr_testkit::HOSTNAME);
    assert_eq!(report["domainname"], "example.test");
    let ns = &report["namespaces"];
    for kind in ["pid", "net", "ipc", "uts", "mnt"] {
        assert_ne!(ns[kind], host_ns(kind), "{kind}: {ns:#}");
    }
    // Not asked for: shared with the host.
    for kind in ["user", "cgroup"] {
        assert_eq!(ns[kind], host_ns(kind), "{kind}: {ns:#}");
    }
    // The host's name is untouched.
    assert_ne!(nix::unistd::gethostname().unwrap(), rcr_testkit::HOSTNAME);
}

#[test]
fn without_namespaces_the_host_ones_are_shared() {
    if !require_root("without_namespaces_the_host_ones_are_shared") {
        return;
    }
    let rcr = rcr();
    let bundle = Bundle::busybox();
    bundle.edit(|c| {
        c["linux"]["namespaces"] = json!([{"type": "mount"}]);
        c.as_object_mut().unwrap().remove("hostname");
    });
    let report = run_probe(&rcr, &bundle);
    assert_ne!(report["pid"], 1);
    let ns = &report["namespaces"];
    for kind in ["pid", "net", "ipc", "uts"] {
        assert_eq!(ns[kind], host_ns(kind), "{kind}: {ns:#}");
    }
    assert_ne!(ns["mnt"], host_ns("mnt"));
}

/// Starts a container that sleeps, to join namespaces of; returns its pid.
fn sleeper(rcr: &Rcr, bundle: &Bundle) -> (String, i32) {
    bundle.set_args(&probe_args(&["sleep", "30"]));
    bundle.edit(|c| c["hostname"] = json!("first"));
    let id = Rcr::unique_id("first");
    run_detached(rcr, bundle, &id);
    let pid = pid_of(rcr, &id);
    (id, pid)
}

#[test]
fn join_namespaces_by_path() {
    if !require_root("join_namespaces_by_path") {
        return;
    }
    let rcr = rcr();
    let first = Bundle::busybox();
    let (first_id, pid) = sleeper(&rcr, &first);

    let second = Bundle::busybox();
    second.edit(|c| {
        c.as_object_mut().unwrap().remove("hostname");
        c["linux"]["namespaces"] = json!([
            {"type": "pid"},
            {"type": "mount"},
            {"type": "network", "path": format!("/proc/{pid}/ns/net")},
            {"type": "ipc", "path": format!("/proc/{pid}/ns/ipc")},
            {"type": "uts", "path": format!("/proc/{pid}/ns/uts")}
        ]);
    });
    let report = run_probe(&rcr, &second);
    let ns = &report["namespaces"];
    for kind in ["net", "ipc", "uts"] {
        assert_eq!(ns[kind], ns_of(pid, kind), "{kind}: {ns:#}");
        assert_ne!(ns[kind], host_ns(kind), "{kind}: {ns:#}");
    }
    assert_ne!(ns["pid"], ns_of(pid, "pid"));
    assert_ne!(ns["mnt"], ns_of(pid, "mnt"));
    assert_eq!(report["hostname"], "first", "{report:#}");
    assert_eq!(report["pid"], 1);
    destroy(&rcr, &first_id);
}

#[test]
fn join_pid_namespace_by_path() {
    if !require_root("join_pid_namespace_by_path") {
        return;
    }
    let rcr = rcr();
    let first = Bundle::busybox();
    let (first_id, pid) = sleeper(&rcr, &first);

    let second = Bundle::busybox();
    second.edit(|c| {
        c.as_object_mut().unwrap().remove("hostname");
        c["linux"]["namespaces"] = json!([
            {"type": "pid", "path": format!("/proc/{pid}/ns/pid")},
            {"type": "mount"}
        ]);
    });
    let script = "/rcr-probe; /rcr-probe read /proc/1/cmdline";
    second.set_args(&["sh", "-c", script]);
    let lines: Vec<Value> = run_lines(&rcr, &second);
    assert_eq!(lines.len(), 2, "{lines:#?}");
    let report = &lines[0];
    let ns = &report["namespaces"];
    assert_eq!(ns["pid"], ns_of(pid, "pid"), "{ns:#}");
    assert_eq!(ns["pid_for_children"], ns_of(pid, "pid"), "{ns:#}");
    assert_ne!(ns["pid"], host_ns("pid"));
    assert_ne!(report["pid"], 1, "{report:#}");
    // Its /proc is the first container's: pid 1 there is the sleeping probe.
    let cmdline = lines[1]["/proc/1/cmdline"]["content"].as_str().unwrap();
    assert_eq!(cmdline, "/rcr-probe\0sleep\x0030\0", "{:#}", lines[1]);
    // Joining did not disturb the first container.
    assert_eq!(status(&rcr, &first_id).as_deref(), Some("running"));
    destroy(&rcr, &first_id);
}

#[test]
fn joining_a_missing_namespace_fails_cleanly() {
    if !require_root("joining_a_missing_namespace_fails_cleanly") {
        return;
    }
    let rcr = rcr();
    let bundle = Bundle::busybox();
    bundle.edit(|c| {
        c["linux"]["namespaces"] = json!([
            {"type": "mount"}, {"type": "uts"},
            {"type": "network", "path": "/proc/999999999/ns/net"}
        ]);
    });
    let id = Rcr::unique_id("nons");
    let out = capture(&rcr, &["create", "--bundle", bundle.path_str(), &id]);
    assert!(!out.status.success(), "{}", out.describe());
    let stderr = out.stderr();
    let line = one_line(&stderr);
    assert!(line.starts_with(&format!("rcr: create {id}: ")), "{line}");
    assert!(line.contains("/proc/999999999/ns/net"), "{line}");
    assert_no_leftovers(&rcr, &id);
}
