//! End-to-end error handling: every failure is one line on stderr (and, with
//! `--log-format json`, one error object as the log's last line), and a
//! failed `create` leaves no state, cgroup or process behind.

mod common;

use std::fs;

use common::*;
use serde_json::{json, Value};

/// Runs a `create` of `bundle_dir` that must fail; returns its one stderr
/// line after checking that nothing of the container is left.
fn failed_create(rcr: &Rcr, bundle_dir: &str, id: &str) -> String {
    let out = capture(rcr, &["create", "--bundle", bundle_dir, id]);
    assert!(!out.status.success(), "create {id} unexpectedly succeeded {}", out.describe());
    assert_eq!(out.stdout(), "", "{}", out.describe());
    let line = one_line(&out.stderr()).to_owned();
    assert!(line.starts_with(&format!("rcr: create {id}: ")), "{line}");
    assert_no_leftovers(rcr, id);
    line
}

#[test]
fn missing_bundle() {
    if !require_root("missing_bundle") {
        return;
    }
    let rcr = rcr();
    let scratch = tempfile::tempdir().unwrap();
    let missing = scratch.path().join("no-such-bundle");
    let id = Rcr::unique_id("nobundle");
    let line = failed_create(&rcr, path_str(&missing), &id);
    assert!(line.contains(path_str(&missing)) && line.contains("No such file"), "{line}");

    let empty = tempfile::tempdir().unwrap();
    let line = failed_create(&rcr, path_str(empty.path()), &id);
    assert!(line.contains("config.json") && line.contains("No such file"), "{line}");
}

#[test]
fn invalid_json() {
    if !require_root("invalid_json") {
        return;
    }
    let rcr = rcr();
    let bundle = Bundle::busybox();
    fs::write(bundle.config_path(), "{ \"ociVersion\": \"1.2.0\", oops").unwrap();
    let id = Rcr::unique_id("badjson");
    let line = failed_create(&rcr, bundle.path_str(), &id);
    assert!(line.contains(&format!("invalid {}", bundle.config_path().display())), "{line}");
}

#[test]
fn wrong_field_type_names_the_field() {
    if !require_root("wrong_field_type_names_the_field") {
        return;
    }
    let rcr = rcr();
    let bundle = Bundle::busybox();
    let id = Rcr::unique_id("badtype");
    bundle.edit(|c| c["process"]["args"] = json!("/rcr-probe"));
    let line = failed_create(&rcr, bundle.path_str(), &id);
    assert!(line.contains("process.args"), "{line}");

    bundle.edit(|c| {
        c["process"]["args"] = json!(["/rcr-probe"]);
        c["process"]["user"]["uid"] = json!("root");
    });
    let line = failed_create(&rcr, bundle.path_str(), &id);
    assert!(line.contains("process.user.uid"), "{line}");
}

#[test]
fn spec_versions() {
    if !require_root("spec_versions") {
        return;
    }
    let rcr = rcr();
    let bundle = Bundle::busybox();
    bundle.edit(|c| c["ociVersion"] = json!("2.0.0"));
    let id = Rcr::unique_id("v2");
    let line = failed_create(&rcr, bundle.path_str(), &id);
    assert!(line.contains("ociVersion") && line.contains("2.0.0"), "{line}");

    // A newer minor version only adds fields: accepted.
    bundle.edit(|c| c["ociVersion"] = json!("1.3.0"));
    let report = run_probe(&rcr, &bundle);
    assert_eq!(report["pid"], 1);
}

#[test]
fn unknown_container() {
    if !require_root("unknown_container") {
        return;
    }
    let rcr = rcr();
    let id = Rcr::unique_id("ghost");
    for verb in [vec!["start"], vec!["state"], vec!["kill"], vec!["kill", "--all"], vec!["delete"]]
    {
        let mut args = verb.clone();
        args.push(&id);
        let err = rcr.fail(&args);
        let line = one_line(&err);
        assert!(line.starts_with(&format!("rcr: {} {id}: ", verb[0])), "{line}");
        assert!(line.contains(&format!("container {id} does not exist")), "{line}");
    }
}

#[test]
fn duplicate_id() {
    if !require_root("duplicate_id") {
        return;
    }
    let rcr = rcr();
    let bundle = Bundle::busybox();
    let id = Rcr::unique_id("dup");
    create(&rcr, &bundle, &id);
    let pid = pid_of(&rcr, &id);
    let out = capture(&rcr, &["create", "--bundle", bundle.path_str(), &id]);
    assert!(!out.status.success(), "{}", out.describe());
    let stderr = out.stderr();
    let line = one_line(&stderr);
    assert_eq!(line, format!("rcr: create {id}: container {id} already exists"));
    // The first container is untouched.
    assert_eq!(status(&rcr, &id).as_deref(), Some("created"));
    assert_eq!(pid_of(&rcr, &id), pid);
    assert!(alive(pid));
    for cg in cgroup_dirs(&id).iter().filter(|d| d.parent().is_some_and(|p| p.exists())) {
        assert!(cg.exists(), "the first container's cgroup {} is gone", cg.display());
    }
    destroy(&rcr, &id);
    assert_no_leftovers(&rcr, &id);
}

#[test]
fn forbidden_ids() {
    if !require_root("forbidden_ids") {
        return;
    }
    let rcr = rcr();
    let bundle = Bundle::busybox();
    for id in ["a/b", "..", ".", "../escape", "a b", ""] {
        for verb in ["create", "run"] {
            let out = rcr.run(&[verb, "--bundle", bundle.path_str(), id]);
            assert!(!out.status.success(), "{verb} {id:?}: {out:?}");
            let stderr = String::from_utf8_lossy(&out.stderr);
            let line = one_line(&stderr);
            assert!(line.starts_with(&format!("rcr: {verb} {id}: ")), "{line}");
            assert!(line.contains("container id"), "{line}");
        }
        for verb in ["start", "state", "delete", "kill"] {
            let err = rcr.fail(&[verb, id]);
            assert!(one_line(&err).contains("container id"), "{verb} {id:?}: {err}");
        }
    }
    // Nothing was created, inside the root or next to it.
    let left: Vec<_> = fs::read_dir(rcr.root()).map(|d| d.flatten().collect()).unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
    assert!(!rcr.root().parent().unwrap().join("escape").exists());
    assert!(!std::path::Path::new("/sys/fs/cgroup/pids/rcr/a").exists());
}

#[test]
fn program_not_in_rootfs() {
    if !require_root("program_not_in_rootfs") {
        return;
    }
    let rcr = rcr();
    let bundle = Bundle::busybox();

    bundle.set_args(&["/nope", "arg"]);
    let id = Rcr::unique_id("noprog");
    let line = failed_create(&rcr, bundle.path_str(), &id);
    assert!(line.contains("\"/nope\"") && line.contains("no such file or directory"), "{line}");

    bundle.set_args(&["nope"]);
    let id = Rcr::unique_id("noprog");
    let line = failed_create(&rcr, bundle.path_str(), &id);
    assert!(line.contains("\"nope\"") && line.contains("not found in $PATH"), "{line}");

    // `run` fails the same way and cleans up the same way.
    let id = Rcr::unique_id("noprog");
    let out = capture(&rcr, &["run", "--bundle", bundle.path_str(), &id]);
    assert!(!out.status.success(), "{}", out.describe());
    let stderr = out.stderr();
    let line = one_line(&stderr);
    assert!(line.starts_with(&format!("rcr: run {id}: ")) && line.contains("\"nope\""), "{line}");
    assert_no_leftovers(&rcr, &id);
}

#[test]
fn failing_mount_leaves_nothing() {
    if !require_root("failing_mount_leaves_nothing") {
        return;
    }
    let rcr = rcr();
    let bundle = Bundle::busybox();
    bundle.edit(|c| {
        c["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/data", "type": "bind", "source": "/nonexistent/rcr-source",
            "options": ["rbind"]
        }));
    });
    let id = Rcr::unique_id("badmount");
    let line = failed_create(&rcr, bundle.path_str(), &id);
    assert!(line.contains("/nonexistent/rcr-source") && line.contains("/data"), "{line}");
}

#[test]
fn json_log_ends_with_the_error() {
    if !require_root("json_log_ends_with_the_error") {
        return;
    }
    let rcr = rcr();
    let bundle = Bundle::busybox();
    bundle.set_args(&["/nope"]);
    let scratch = tempfile::tempdir().unwrap();
    let log = scratch.path().join("rcr.log");
    // Records from earlier calls stay: the log is appended to, as with runc.
    fs::write(&log, "{\"level\":\"info\",\"msg\":\"earlier\"}\n").unwrap();
    let id = Rcr::unique_id("log");
    let out = capture(
        &rcr,
        &[
            "--log",
            path_str(&log),
            "--log-format",
            "json",
            "create",
            "--bundle",
            bundle.path_str(),
            &id,
        ],
    );
    assert!(!out.status.success(), "{}", out.describe());
    let stderr = out.stderr();
    let line = one_line(&stderr);
    assert!(line.starts_with(&format!("rcr: create {id}: ")) && line.contains("/nope"), "{line}");

    let text = fs::read_to_string(&log).unwrap();
    let last = text.lines().last().unwrap();
    let record: Value = serde_json::from_str(last)
        .unwrap_or_else(|e| panic!("last log line is not JSON ({e}): {text}"));
    assert_eq!(record["level"], "error", "{text}");
    let msg = record["msg"].as_str().unwrap();
    assert!(msg.contains(&format!("create {id}")) && msg.contains("/nope"), "{text}");
    assert!(record["time"].is_string(), "{text}");
    let errors = text.lines().filter(|l| l.contains("\"level\":\"error\"")).count();
    assert_eq!(errors, 1, "exactly one error record expected: {text}");
    for l in text.lines() {
        serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
    }
    assert_no_leftovers(&rcr, &id);

    // A verb that fails before any work logs the same way.
    let out = capture(&rcr, &["--log", path_str(&log), "--log-format", "json", "state", &id]);
    assert!(!out.status.success());
    one_line(&out.stderr());
    let text = fs::read_to_string(&log).unwrap();
    let record: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(record["level"], "error");
    assert!(record["msg"].as_str().unwrap().contains("does not exist"), "{text}");
}
