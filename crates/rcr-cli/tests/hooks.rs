//! OCI hooks on real containers: each runs at its moment, in its
//! namespaces, with the state on stdin; failures follow the spec's rules.

#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::Path;
use std::process::Stdio;

use rcr_testkit::{require_root, Bundle, Rcr};
use serde_json::{json, Value};

fn rcr() -> Rcr {
    Rcr::new(env!("CARGO_BIN_EXE_rcr"))
}

/// A hook that appends its name to `log` and keeps its stdin and mount
/// namespace in `dir/<name>.json` and `dir/<name>.mnt`.
fn hook(name: &str, dir: &str) -> Value {
    let script = format!(
        "echo {name} >> {dir}/log; cat > {dir}/{name}.json; readlink /proc/self/ns/mnt > {dir}/{name}.mnt"
    );
    json!({"path": "/bin/sh", "args": ["sh", "-c", script]})
}

/// Runs an `rcr` verb whose container outlives it, off the test's pipes.
fn quiet(rcr: &Rcr, args: &[&str]) {
    // A pipe would stay open in the container and keep us waiting.
    let err = tempfile::NamedTempFile::new().unwrap();
    let status =
        rcr.cmd(args).stdout(Stdio::null()).stderr(err.reopen().unwrap()).status().unwrap();
    assert!(status.success(), "{args:?}: {}", fs::read_to_string(err.path()).unwrap());
}

fn read_json(p: &Path) -> Value {
    serde_json::from_str(&fs::read_to_string(p).unwrap()).unwrap()
}

#[test]
fn every_hook_runs_at_its_moment() {
    if !require_root("every_hook_runs_at_its_moment") {
        return;
    }
    let rcr = rcr();
    let out = tempfile::tempdir().unwrap();
    let host = out.path().to_str().unwrap().to_owned();
    let bundle = Bundle::busybox();
    bundle.set_args(&["/rcr-probe", "sleep", "30"]);
    bundle.edit(|v| {
        v["root"]["readonly"] = json!(false);
        v["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/hooks", "type": "bind", "source": host, "options": ["rbind", "rw"]}));
        v["hooks"] = json!({
            "prestart": [hook("prestart", &host)],
            "createRuntime": [hook("createRuntime", &host)],
            "createContainer": [hook("createContainer", &host)],
            // Runs after pivot_root: its paths are the container's.
            "startContainer": [hook("startContainer", "/hooks")],
            "poststart": [hook("poststart", &host)],
            "poststop": [hook("poststop", &host)],
        });
    });
    let id = Rcr::unique_id("hooks");
    let log = out.path().join("log");
    quiet(&rcr, &["create", "--bundle", bundle.path_str(), &id]);
    assert_eq!(fs::read_to_string(&log).unwrap(), "prestart\ncreateRuntime\ncreateContainer\n");
    let state: Value = serde_json::from_str(&rcr.ok(&["state", &id])).unwrap();
    let pid = state["pid"].as_i64().unwrap();
    let created = read_json(&out.path().join("createRuntime.json"));
    assert_eq!(created["id"], id.as_str());
    assert_eq!(created["pid"], pid);
    assert_eq!(created["status"], "created");
    assert_eq!(created["bundle"], state["bundle"]);
    // Runtime hooks run in the host's mount namespace, createContainer in
    // the container's.
    let host_mnt = fs::read_link("/proc/self/ns/mnt").unwrap();
    let container_mnt = fs::read_link(format!("/proc/{pid}/ns/mnt")).unwrap();
    let mnt = |k: &str| fs::read_to_string(out.path().join(format!("{k}.mnt"))).unwrap();
    assert_eq!(mnt("createRuntime").trim(), host_mnt.to_str().unwrap());
    assert_eq!(mnt("prestart").trim(), host_mnt.to_str().unwrap());
    assert_eq!(mnt("createContainer").trim(), container_mnt.to_str().unwrap());

    rcr.ok(&["start", &id]);
    let running = |log: &Path| fs::read_to_string(log).unwrap_or_default();
    assert!(rcr_testkit::wait_until(std::time::Duration::from_secs(5), || running(&log)
        .contains("poststart")));
    assert_eq!(
        running(&log),
        "prestart\ncreateRuntime\ncreateContainer\nstartContainer\npoststart\n"
    );
    assert_eq!(mnt("startContainer").trim(), container_mnt.to_str().unwrap());
    assert_eq!(read_json(&out.path().join("poststart.json"))["status"], "running");

    rcr.ok(&["delete", "--force", &id]);
    assert!(running(&log).ends_with("poststop\n"));
    assert_eq!(read_json(&out.path().join("poststop.json"))["status"], "stopped");
}

#[test]
fn failing_create_runtime_hook_fails_create_and_cleans_up() {
    if !require_root("failing_create_runtime_hook_fails_create_and_cleans_up") {
        return;
    }
    let rcr = rcr();
    let bundle = Bundle::busybox();
    bundle.edit(|v| {
        v["hooks"] = json!({"createRuntime": [
            {"path": "/bin/sh", "args": ["sh", "-c", "echo no way >&2; exit 2"]}]});
    });
    let id = Rcr::unique_id("hookfail");
    let err = rcr.fail(&["create", "--bundle", bundle.path_str(), &id]);
    assert!(err.contains("createRuntime hook 0") && err.contains("no way"), "{err}");
    assert!(!rcr.root().join(&id).exists(), "state left behind");
    assert!(!Path::new("/sys/fs/cgroup/pids/rcr").join(&id).exists(), "cgroup left behind");
}

#[test]
fn hook_timeout_and_failing_poststop() {
    if !require_root("hook_timeout_and_failing_poststop") {
        return;
    }
    let rcr = rcr();
    let bundle = Bundle::busybox();
    bundle.edit(|v| {
        v["hooks"] = json!({"prestart": [
            {"path": "/bin/sh", "args": ["sh", "-c", "sleep 10"], "timeout": 1}]});
    });
    let id = Rcr::unique_id("hooktime");
    let err = rcr.fail(&["create", "--bundle", bundle.path_str(), &id]);
    assert!(err.contains("prestart hook 0") && err.contains("timed out"), "{err}");

    // A failing poststop hook is a warning: the delete still succeeds.
    bundle.edit(|v| {
        v["hooks"] = json!({"poststop": [{"path": "/bin/false"}]});
    });
    let id = Rcr::unique_id("poststop");
    quiet(&rcr, &["create", "--bundle", bundle.path_str(), &id]);
    let out = rcr.run(&["delete", &id]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("poststop hook 0"));
    assert!(!rcr.root().join(&id).exists());
}

#[test]
fn relative_hook_path_is_rejected() {
    if !require_root("relative_hook_path_is_rejected") {
        return;
    }
    let rcr = rcr();
    let bundle = Bundle::busybox();
    bundle.edit(|v| v["hooks"] = json!({"poststart": [{"path": "bin/true"}]}));
    let err = rcr.fail(&["create", "--bundle", bundle.path_str(), &Rcr::unique_id("rel")]);
    assert!(err.contains("hooks") && err.contains("not absolute"), "{err}");
}

#[test]
fn poststart_waits_for_the_process_to_be_executed() {
    // The spec: poststart hooks run after the user process is executed.
    // `start` returns, and runs them, only once the init's end of the exec
    // fifo closes at its exec: a slow startContainer hook and a process
    // that announces itself must both come first.
    if !require_root("poststart_waits_for_the_process_to_be_executed") {
        return;
    }
    let rcr = rcr();
    let out = tempfile::tempdir().unwrap();
    let host = out.path().to_str().unwrap().to_owned();
    let bundle = Bundle::busybox();
    bundle.set_args(&["sh", "-c", "echo process >> /hooks/log; exec sleep 30"]);
    let slow = json!({"path": "/bin/sh", "args": ["sh", "-c", "sleep 0.3; echo startContainer >> /hooks/log"]});
    let post =
        json!({"path": "/bin/sh", "args": ["sh", "-c", format!("echo poststart >> {host}/log")]});
    bundle.edit(|v| {
        v["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/hooks", "type": "bind", "source": host, "options": ["rbind", "rw"]}));
        v["root"]["readonly"] = json!(false);
        v["hooks"] = json!({"startContainer": [slow], "poststart": [post]});
    });
    let id = Rcr::unique_id("poststart");
    quiet(&rcr, &["create", "--bundle", bundle.path_str(), &id]);
    quiet(&rcr, &["start", &id]);
    let log = fs::read_to_string(out.path().join("log")).unwrap();
    // The process's own line may land before or after poststart's (both
    // run once it is executed); the hook's line is always first.
    assert!(log.starts_with("startContainer\n"), "{log:?}");
    assert!(log.contains("poststart\n"), "{log:?}");
    let state: Value = serde_json::from_str(&rcr.ok(&["state", &id])).unwrap();
    assert_eq!(state["status"], "running");
    rcr.ok(&["delete", "--force", &id]);
}
