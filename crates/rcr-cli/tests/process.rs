//! End-to-end tests of the container process: args, env, cwd, user and
//! groups, umask, no_new_privs and the file descriptors it inherits.

mod common;

use std::fs;
use std::process::Stdio;

use common::*;
use serde_json::json;

#[test]
fn args_and_env_exactly_as_given() {
    if !require_root("args_and_env_exactly_as_given") {
        return;
    }
    let rcr = rcr();
    let bundle = Bundle::busybox();
    let args = ["/rcr-probe", "report", "two words", "", "--flag=x"];
    let env = ["PATH=/bin", "FOO=bar baz", "EMPTY=", "MULTI=a=b"];
    bundle.edit(|c| {
        c["process"]["args"] = json!(args);
        c["process"]["env"] = json!(env);
    });
    let report = run_probe(&rcr, &bundle);
    assert_eq!(report["args"], json!(args));
    let mut seen = strings(&report["env"]);
    seen.sort_unstable();
    let mut want = env.to_vec();
    want.sort_unstable();
    // Nothing of the runtime's environment (cargo's, the test harness's).
    assert_eq!(seen, want);

    bundle.edit(|c| {
        c["process"].as_object_mut().unwrap().remove("env");
    });
    let report = run_probe(&rcr, &bundle);
    assert_eq!(report["env"], json!([]), "{report:#}");
}

#[test]
fn program_found_on_path() {
    if !require_root("program_found_on_path") {
        return;
    }
    let rcr = rcr();
    let bundle = Bundle::busybox();
    fs::create_dir_all(bundle.rootfs().join("opt/tools")).unwrap();
    fs::copy(bundle.rootfs().join("rcr-probe"), bundle.rootfs().join("opt/tools/probe")).unwrap();
    bundle.edit(|c| {
        c["process"]["args"] = json!(["probe"]);
        c["process"]["env"] = json!(["PATH=/nonexistent:/opt/tools:/bin"]);
    });
    let report = run_probe(&rcr, &bundle);
    assert_eq!(report["args"], json!(["probe"]));
}

#[test]
fn working_directory() {
    if !require_root("working_directory") {
        return;
    }
    let rcr = rcr();
    let bundle = Bundle::busybox();
    assert_eq!(run_probe(&rcr, &bundle)["cwd"], "/");
    bundle.edit(|c| c["process"]["cwd"] = json!("/tmp"));
    assert_eq!(run_probe(&rcr, &bundle)["cwd"], "/tmp");
    // Missing from the image (and the root is read-only): created anyway.
    bundle.edit(|c| c["process"]["cwd"] = json!("/does/not/exist"));
    assert!(!bundle.rootfs().join("does").exists());
    assert_eq!(run_probe(&rcr, &bundle)["cwd"], "/does/not/exist");
}

#[test]
fn user_and_groups() {
    if !require_root("user_and_groups") {
        return;
    }
    let rcr = rcr();
    let bundle = Bundle::busybox();
    let report = run_probe(&rcr, &bundle);
    assert_eq!((&report["uid"], &report["gid"]), (&json!(0), &json!(0)));
    assert_eq!(report["groups"], json!([]), "{report:#}");

    bundle.edit(|c| {
        c["process"]["user"] = json!({"uid": 1000, "gid": 1000, "additionalGids": [5, 65534]});
    });
    let report = run_probe(&rcr, &bundle);
    assert_eq!((&report["uid"], &report["euid"]), (&json!(1000), &json!(1000)));
    assert_eq!((&report["gid"], &report["egid"]), (&json!(1000), &json!(1000)));
    assert_eq!(report["uids"], json!([1000, 1000, 1000, 1000]), "{report:#}");
    assert_eq!(report["gids"], json!([1000, 1000, 1000, 1000]), "{report:#}");
    assert_eq!(report["groups"], json!([5, 65534]), "{report:#}");
    // An unprivileged user cannot write where root could.
    bundle.edit(|c| c["root"]["readonly"] = json!(false));
    bundle.set_args(&probe_args(&["write", "/root/x", "/tmp/x"]));
    let out = probe_report(&run_stdout(&rcr, &bundle));
    assert_eq!(out["/root/x"]["errno"], libc::EACCES, "{out:#}");
    assert_eq!(out["/tmp/x"]["ok"], true, "{out:#}");
}

#[test]
fn umask() {
    if !require_root("umask") {
        return;
    }
    let rcr = rcr();
    let bundle = Bundle::busybox();
    assert_eq!(run_probe(&rcr, &bundle)["umask"], "0022");
    bundle.edit(|c| c["process"]["user"]["umask"] = json!(0o027));
    assert_eq!(run_probe(&rcr, &bundle)["umask"], "0027");
    bundle.edit(|c| c["process"]["user"]["umask"] = json!(0));
    assert_eq!(run_probe(&rcr, &bundle)["umask"], "0000");
}

#[test]
fn no_new_privileges() {
    if !require_root("no_new_privileges") {
        return;
    }
    let rcr = rcr();
    let bundle = Bundle::busybox();
    assert_eq!(run_probe(&rcr, &bundle)["no_new_privs"], true);
    bundle.edit(|c| c["process"]["noNewPrivileges"] = json!(false));
    assert_eq!(run_probe(&rcr, &bundle)["no_new_privs"], false);
    bundle.edit(|c| {
        c["process"].as_object_mut().unwrap().remove("noNewPrivileges");
    });
    assert_eq!(run_probe(&rcr, &bundle)["no_new_privs"], false);
}

/// Runs `rcr <args>` through `sh` with `a` open at fd 3 and `b` at fd 4, the
/// way an engine hands extra fds to the container.
fn run_with_fds(rcr: &Rcr, args: &[&str], a: &str, b: &str) -> std::process::Output {
    let mut cmd = std::process::Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(r#"exec "$@" 3<"$A" 4<"$B""#)
        .arg("sh")
        .arg(rcr.bin())
        .arg("--root")
        .arg(rcr.root())
        .args(args)
        .env("A", a)
        .env("B", b)
        .stdin(Stdio::null());
    cmd.output().expect("run rcr through sh")
}

#[test]
fn only_stdio_is_inherited() {
    if !require_root("only_stdio_is_inherited") {
        return;
    }
    let rcr = rcr();
    let bundle = Bundle::busybox();
    let report = run_probe(&rcr, &bundle);
    assert_eq!(report["fds"], json!([0, 1, 2]), "{:#}", report["fd_targets"]);

    // Open fds of the caller do not leak without --preserve-fds.
    let host = host_dir(&[("a", "first"), ("b", "second")]);
    let (a, b) = (host.path().join("a"), host.path().join("b"));
    let id = Rcr::unique_id("nofds");
    let out = run_with_fds(
        &rcr,
        &["run", "--bundle", bundle.path_str(), &id],
        path_str(&a),
        path_str(&b),
    );
    assert!(out.status.success(), "{out:?}");
    let report = probe_report(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(report["fds"], json!([0, 1, 2]), "{:#}", report["fd_targets"]);
    assert_no_leftovers(&rcr, &id);
}

#[test]
fn preserve_fds() {
    if !require_root("preserve_fds") {
        return;
    }
    let rcr = rcr();
    let host = host_dir(&[("a", "first"), ("b", "second")]);
    let (a, b) = (host.path().join("a"), host.path().join("b"));
    let bundle = Bundle::busybox();
    let id = Rcr::unique_id("fds");
    let args = ["run", "--preserve-fds", "2", "--bundle", bundle.path_str(), &id];
    let out = run_with_fds(&rcr, &args, path_str(&a), path_str(&b));
    assert!(out.status.success(), "{out:?}");
    let report = probe_report(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(report["fds"], json!([0, 1, 2, 3, 4]), "{:#}", report["fd_targets"]);

    bundle.set_args(&probe_args(&["read", "/proc/self/fd/3", "/proc/self/fd/4"]));
    let id = Rcr::unique_id("fds");
    let args = ["run", "--preserve-fds", "2", "--bundle", bundle.path_str(), &id];
    let out = run_with_fds(&rcr, &args, path_str(&a), path_str(&b));
    assert!(out.status.success(), "{out:?}");
    let read = probe_report(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(read["/proc/self/fd/3"]["content"], "first", "{read:#}");
    assert_eq!(read["/proc/self/fd/4"]["content"], "second", "{read:#}");

    // With only one of them preserved, fd 4 is closed.
    bundle.set_args(&probe_args(&[]));
    let id = Rcr::unique_id("fds");
    let args = ["run", "--preserve-fds", "1", "--bundle", bundle.path_str(), &id];
    let out = run_with_fds(&rcr, &args, path_str(&a), path_str(&b));
    assert!(out.status.success(), "{out:?}");
    let report = probe_report(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(report["fds"], json!([0, 1, 2, 3]), "{:#}", report["fd_targets"]);
    assert_no_leftovers(&rcr, &id);
}
