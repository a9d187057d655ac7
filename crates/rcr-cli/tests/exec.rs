//! `rcr exec` on real containers: the new process joins every namespace and
//! the cgroup of the container, gets the process's attributes and security,
//! and its exit code is passed through.

#![allow(clippy::unwrap_used)]

use std::fs;
use std::process::Stdio;
use std::time::Duration;

use rcr_testkit::{probe_report, require_root, wait_until, Bundle, Rcr};
use serde_json::{json, Value};

fn rcr() -> Rcr {
    Rcr::new(env!("CARGO_BIN_EXE_rcr"))
}

/// A running container whose init sleeps; deleted by `Rcr`'s drop.
fn running(rcr: &Rcr, bundle: &Bundle, prefix: &str) -> (String, i32) {
    bundle.set_args(&["/rcr-probe", "sleep", "60"]);
    let id = Rcr::unique_id(prefix);
    let status = rcr
        .cmd(&["run", "-d", "--bundle", bundle.path_str(), &id])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "run -d failed");
    let state: Value = serde_json::from_str(&rcr.ok(&["state", &id])).unwrap();
    (id, state["pid"].as_i64().unwrap() as i32)
}

#[test]
fn exec_joins_the_container() {
    if !require_root("exec_joins_the_container") {
        return;
    }
    let rcr = rcr();
    let bundle = Bundle::busybox();
    let (id, pid) = running(&rcr, &bundle, "exec-ns");
    let report = probe_report(&rcr.ok(&["exec", &id, "/rcr-probe"]));
    for ns in ["mnt", "pid", "net", "ipc", "uts"] {
        let init = fs::read_link(format!("/proc/{pid}/ns/{ns}")).unwrap();
        assert_eq!(report["namespaces"][ns], init.to_str().unwrap(), "{ns}");
    }
    assert_eq!(report["hostname"], "rcr-test");
    assert_ne!(report["pid"], 1, "the exec'd process is not the init");
    let host_cgroup = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let own: Vec<&str> =
        report["cgroup"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(own.iter().any(|l| l.contains(&format!("/rcr/{id}"))), "{own:?} vs {host_cgroup}");
    // The container's default capabilities and no other fds.
    let mut eff: Vec<&str> = report["capabilities"]["effective"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    eff.sort_unstable();
    assert_eq!(eff, vec!["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    assert_eq!(report["fds"], json!([0, 1, 2]));
}

#[test]
fn exec_options_shape_the_process() {
    if !require_root("exec_options_shape_the_process") {
        return;
    }
    let rcr = rcr();
    let bundle = Bundle::busybox();
    let (id, _) = running(&rcr, &bundle, "exec-opts");
    let out = rcr.ok(&[
        "exec",
        "--env",
        "FOO=bar",
        "-e",
        "PATH=/bin",
        "--cwd",
        "/tmp",
        "--user",
        "1000:1000",
        "--additional-gids",
        "5",
        "--cap",
        "CAP_CHOWN",
        "--no-new-privs",
        &id,
        "/rcr-probe",
    ]);
    let r = probe_report(&out);
    assert_eq!(r["cwd"], "/tmp");
    assert_eq!(r["uids"][0], 1000);
    assert_eq!(r["gids"][0], 1000);
    assert_eq!(r["groups"], json!([5]));
    assert_eq!(r["no_new_privs"], true);
    let env: Vec<&str> = r["env"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(
        env.contains(&"FOO=bar") && env.contains(&"PATH=/bin") && env.contains(&"TERM=xterm"),
        "{env:?}"
    );
    assert!(!env.iter().any(|e| e.starts_with("PATH=/usr")), "PATH was not replaced: {env:?}");
    let bounding: Vec<&str> = r["capabilities"]["bounding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(bounding.contains(&"CAP_CHOWN"), "{bounding:?}");
}

#[test]
fn exec_process_file_and_exit_codes() {
    if !require_root("exec_process_file_and_exit_codes") {
        return;
    }
    let rcr = rcr();
    let bundle = Bundle::busybox();
    let (id, _) = running(&rcr, &bundle, "exec-proc");
    let dir = tempfile::tempdir().unwrap();
    let process = dir.path().join("process.json");
    fs::write(
        &process,
        json!({"args": ["/rcr-probe", "exit", "9"], "cwd": "/", "user": {"uid": 0, "gid": 0},
               "env": ["PATH=/bin"], "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 77, "hard": 77}]})
        .to_string(),
    )
    .unwrap();
    let out = rcr.run(&["exec", "--process", process.to_str().unwrap(), &id]);
    assert_eq!(out.status.code(), Some(9), "{}", String::from_utf8_lossy(&out.stderr));
    // Signals end the process with 128+N.
    let out = rcr.run(&["exec", &id, "sh", "-c", "kill -9 $$"]);
    assert_eq!(out.status.code(), Some(137));
    // A program missing from the rootfs is a clear error.
    let err = rcr.fail(&["exec", &id, "/nope"]);
    assert!(err.starts_with(&format!("rcr: exec {id}:")) && err.contains("/nope"), "{err}");
    fs::write(&process, "{\"args\": 3}").unwrap();
    let err = rcr.fail(&["exec", "--process", process.to_str().unwrap(), &id]);
    assert!(err.contains("args"), "{err}");
}

#[test]
fn exec_detach_and_pid_file() {
    if !require_root("exec_detach_and_pid_file") {
        return;
    }
    let rcr = rcr();
    let bundle = Bundle::busybox();
    let (id, _) = running(&rcr, &bundle, "exec-d");
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("pid");
    let status = rcr
        .cmd(&[
            "exec",
            "--detach",
            "--pid-file",
            pid_file.to_str().unwrap(),
            &id,
            "/rcr-probe",
            "sleep",
            "30",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let pid: i32 = fs::read_to_string(&pid_file).unwrap().trim().parse().unwrap();
    // The pid is the process's from the start; it execs the program right
    // after reporting ready, so its command line changes a moment later.
    let cmdline = || fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    assert!(
        wait_until(Duration::from_secs(5), || cmdline().starts_with("/rcr-probe\0sleep")),
        "{:?}",
        cmdline()
    );
    // Deleting the container takes the exec'd process with it.
    rcr.ok(&["delete", "--force", &id]);
    assert!(wait_until(Duration::from_secs(5), || !std::path::Path::new(&format!("/proc/{pid}"))
        .exists()
        || fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") Z "))));
}

#[test]
fn exec_forwards_signals_in_the_foreground() {
    if !require_root("exec_forwards_signals_in_the_foreground") {
        return;
    }
    let rcr = rcr();
    let bundle = Bundle::busybox();
    bundle.edit(|v| v["root"]["readonly"] = json!(false));
    let (id, _) = running(&rcr, &bundle, "exec-sig");
    let mut child = rcr
        .cmd(&[
            "exec",
            &id,
            "sh",
            "-c",
            "trap 'exit 42' TERM; touch /tmp/ready; while true; do sleep 0.1; done",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let state: Value = serde_json::from_str(&rcr.ok(&["state", &id])).unwrap();
    let init = state["pid"].as_i64().unwrap();
    let marker = format!("/proc/{init}/root/tmp/ready");
    assert!(wait_until(Duration::from_secs(10), || std::path::Path::new(&marker).exists()));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(42));
}

#[test]
fn exec_follows_the_container_seccomp_profile() {
    if !require_root("exec_follows_the_container_seccomp_profile") {
        return;
    }
    let rcr = rcr();
    let bundle = Bundle::busybox();
    bundle.edit(|v| {
        v["root"]["readonly"] = json!(false);
        v["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]});
    });
    let (id, _) = running(&rcr, &bundle, "exec-sc");
    let out = rcr.run(&["exec", &id, "mkdir", "/tmp/x"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Permission denied"));
    let r = probe_report(&rcr.ok(&["exec", &id, "/rcr-probe"]));
    assert_eq!(r["seccomp"], 2);
}

#[test]
fn exec_refusals() {
    if !require_root("exec_refusals") {
        return;
    }
    let rcr = rcr();
    let bundle = Bundle::busybox();
    let err = rcr.fail(&["exec", "no-such-container", "true"]);
    assert!(err.contains("does not exist"), "{err}");
    let (id, _) = running(&rcr, &bundle, "exec-ref");
    let err = rcr.fail(&["exec", &id]);
    assert!(err.contains("command"), "{err}");
    let err = rcr.fail(&["exec", "-t", "-d", &id, "true"]);
    assert!(err.contains("console socket") || err.contains("console-socket"), "{err}");
    let err = rcr.fail(&["exec", "--user", "bob", &id, "true"]);
    assert!(err.contains("--user"), "{err}");
    rcr.ok(&["kill", &id, "KILL"]);
    assert!(wait_until(Duration::from_secs(5), || rcr.ok(&["state", &id]).contains("stopped")));
    let err = rcr.fail(&["exec", &id, "true"]);
    assert!(err.contains("stopped"), "{err}");
}

#[test]
fn exec_cpu_affinity_applies_to_exec_only() {
    if !require_root("exec_cpu_affinity_applies_to_exec_only") {
        return;
    }
    if std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
        rcr_testkit::skip("exec_cpu_affinity_applies_to_exec_only", "needs two CPUs");
        return;
    }
    let rcr = rcr();
    let bundle = Bundle::busybox();
    bundle.edit(|v| v["process"]["execCPUAffinity"] = json!({"initial": "1", "final": "0"}));
    let (id, pid) = running(&rcr, &bundle, "exec-aff");
    let init_cpus = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert!(!init_cpus.contains("Cpus_allowed_list:\t0\n"), "the init must not be pinned");
    let r = probe_report(&rcr.ok(&["exec", &id, "/rcr-probe"]));
    assert_eq!(r["cpus_allowed_list"], "0", "{r}");
}
