//! End-to-end lifecycle tests: create, start, state, kill, delete, list and
//! run, driven through the real `rcr` binary as root.

mod common;

use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;

use common::*;
use serde_json::json;

/// A shell loop that exits with `code` on SIGTERM (pid 1 of a pid namespace
/// only receives signals it has a handler for).
fn trap_term(code: u8) -> String {
    format!("trap 'exit {code}' TERM; while true; do sleep 0.1; done")
}

#[test]
fn create_start_kill_delete() {
    if !require_root("create_start_kill_delete") {
        return;
    }
    let rcr = rcr();
    let bundle = Bundle::busybox();
    bundle.set_args(&probe_args(&["sleep", "30"]));
    let id = Rcr::unique_id("life");

    create(&rcr, &bundle, &id);
    let doc = state(&rcr, &id);
    assert_eq!(doc["status"], "created", "{doc:#}");
    assert_eq!(doc["id"], id.as_str());
    assert_eq!(doc["ociVersion"], "1.2.0");
    assert_eq!(doc["bundle"], bundle.path_str());
    let pid = pid_of(&rcr, &id);
    assert!(pid > 1, "{doc:#}");
    // The init exists and waits (sleeping on the exec fifo) for start.
    assert_eq!(proc_state(pid), Some('S'), "init {pid} is not waiting");
    let comm = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_eq!(comm.trim(), "rcr:[init]");

    rcr.ok(&["start", &id]);
    let doc = state(&rcr, &id);
    assert_eq!(doc["status"], "running", "{doc:#}");
    assert_eq!(pid_of(&rcr, &id), pid);
    // The probe replaced the init: same pid, new program.
    assert!(wait_until(TIMEOUT, || fs::read_to_string(format!("/proc/{pid}/comm"))
        .is_ok_and(|c| c.trim() == "rcr-probe")));
    let err = rcr.fail(&["start", &id]);
    assert!(one_line(&err).contains("running"), "{err}");

    rcr.ok(&["kill", &id, "KILL"]);
    wait_status(&rcr, &id, "stopped");
    assert_eq!(state(&rcr, &id)["pid"], 0);
    assert!(!alive(pid));

    rcr.ok(&["delete", &id]);
    let err = rcr.fail(&["state", &id]);
    assert!(one_line(&err).contains("does not exist"), "{err}");
    assert_no_leftovers(&rcr, &id);
}

#[test]
fn options_after_the_id_and_pid_file() {
    if !require_root("options_after_the_id_and_pid_file") {
        return;
    }
    let rcr = rcr();
    let bundle = Bundle::busybox();
    bundle.set_args(&probe_args(&["sleep", "30"]));
    let id = Rcr::unique_id("after");
    let scratch = tempfile::tempdir().unwrap();
    let pid_file = scratch.path().join("init.pid");

    let out = capture(
        &rcr,
        &["create", &id, "--bundle", bundle.path_str(), "--pid-file", path_str(&pid_file)],
    );
    assert!(out.status.success(), "{}", out.describe());
    assert_eq!(status(&rcr, &id).as_deref(), Some("created"));
    let recorded = fs::read_to_string(&pid_file).unwrap();
    assert_eq!(recorded.trim().parse::<i32>().unwrap(), pid_of(&rcr, &id));

    rcr.ok(&["start", &id]);
    wait_status(&rcr, &id, "running");
    rcr.ok(&["kill", &id, "9"]);
    wait_status(&rcr, &id, "stopped");
    rcr.ok(&["delete", &id]);
    assert_no_leftovers(&rcr, &id);
}

#[test]
fn kill_accepts_signal_names_and_numbers() {
    if !require_root("kill_accepts_signal_names_and_numbers") {
        return;
    }
    let rcr = rcr();
    let bundle = Bundle::busybox();
    bundle.set_args(&["sh", "-c", &trap_term(0)]);
    let spellings = ["KILL", "9", "SIGKILL", "TERM", "SIGTERM", "15", "sigterm"];
    let ids: Vec<String> = spellings.iter().map(|_| Rcr::unique_id("sig")).collect();
    for id in &ids {
        run_detached(&rcr, &bundle, id);
    }
    for (id, signal) in ids.iter().zip(spellings) {
        wait_status(&rcr, id, "running");
        let pid = pid_of(&rcr, id);
        // The trap must be installed before TERM arrives.
        assert!(wait_until(TIMEOUT, || catches(pid, libc::SIGTERM)), "{id}: no TERM trap");
        rcr.ok(&["kill", id, signal]);
        wait_status(&rcr, id, "stopped");
        rcr.ok(&["delete", id]);
        assert_no_leftovers(&rcr, id);
    }
    let err = rcr.fail(&["kill", "whatever", "NOPE"]);
    assert!(one_line(&err).contains("NOPE"), "{err}");
}

#[test]
fn kill_all_signals_every_process() {
    if !require_root("kill_all_signals_every_process") {
        return;
    }
    let rcr = rcr();
    let bundle = Bundle::busybox();
    bundle.set_args(&["sh", "-c", "sleep 30 & sleep 30 & wait"]);
    let id = Rcr::unique_id("all");
    run_detached(&rcr, &bundle, &id);
    let procs = format!("/sys/fs/cgroup/pids/rcr/{id}/cgroup.procs");
    let count = || fs::read_to_string(&procs).map(|t| t.lines().count()).unwrap_or(0);
    if fs::metadata("/sys/fs/cgroup/pids").is_ok() {
        assert!(wait_until(TIMEOUT, || count() == 3), "expected sh and two sleeps in {procs}");
    }
    rcr.ok(&["kill", "--all", &id, "KILL"]);
    wait_status(&rcr, &id, "stopped");
    if fs::metadata("/sys/fs/cgroup/pids").is_ok() {
        assert!(wait_until(TIMEOUT, || count() == 0), "processes left in {procs}");
    }
    rcr.ok(&["delete", &id]);
    assert_no_leftovers(&rcr, &id);
}

#[test]
fn delete_of_running_needs_force() {
    if !require_root("delete_of_running_needs_force") {
        return;
    }
    let rcr = rcr();
    let bundle = Bundle::busybox();
    bundle.set_args(&probe_args(&["sleep", "30"]));
    let id = Rcr::unique_id("del");
    run_detached(&rcr, &bundle, &id);
    let pid = pid_of(&rcr, &id);

    let err = rcr.fail(&["delete", &id]);
    let line = one_line(&err);
    assert!(line.starts_with(&format!("rcr: delete {id}: ")), "{line}");
    assert!(line.contains("running") && line.contains("--force"), "{line}");
    assert_eq!(status(&rcr, &id).as_deref(), Some("running"));
    assert!(alive(pid));

    rcr.ok(&["delete", "--force", &id]);
    assert!(!alive(pid));
    assert!(rcr.fail(&["state", &id]).contains("does not exist"));
    assert_no_leftovers(&rcr, &id);

    // A missing container is not an error for --force, and is without it.
    let out = rcr.run(&["delete", "--force", &id]);
    assert!(out.status.success(), "{out:?}");
    assert!(out.stderr.is_empty(), "{out:?}");
    let err = rcr.fail(&["delete", &id]);
    assert!(one_line(&err).contains("does not exist"), "{err}");
}

#[test]
fn delete_force_of_created() {
    if !require_root("delete_force_of_created") {
        return;
    }
    let rcr = rcr();
    let bundle = Bundle::busybox();
    let id = Rcr::unique_id("delc");
    create(&rcr, &bundle, &id);
    let pid = pid_of(&rcr, &id);
    rcr.ok(&["delete", "--force", &id]);
    assert!(!alive(pid));
    assert_no_leftovers(&rcr, &id);
}

#[test]
fn list_formats() {
    if !require_root("list_formats") {
        return;
    }
    let rcr = rcr();
    assert_eq!(rcr.ok(&["list", "-q"]), "");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&rcr.ok(&["list", "--format", "json"])).unwrap(),
        json!([])
    );
    let bundle = Bundle::busybox();
    bundle.set_args(&probe_args(&["sleep", "30"]));
    let created = Rcr::unique_id("list-a");
    let running = Rcr::unique_id("list-b");
    create(&rcr, &bundle, &created);
    run_detached(&rcr, &bundle, &running);
    let created_pid = pid_of(&rcr, &created);
    let running_pid = pid_of(&rcr, &running);

    let table = rcr.ok(&["list"]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(header, ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"], "{table}");
    for (line, id, pid, status) in
        [(lines[1], &created, created_pid, "created"), (lines[2], &running, running_pid, "running")]
    {
        let cols: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(
            cols[..4],
            [id.as_str(), &pid.to_string(), status, bundle.path_str()],
            "{table}"
        );
    }

    assert_eq!(rcr.ok(&["list", "-q"]), format!("{created}\n{running}\n"));
    assert_eq!(rcr.ok(&["ls", "--quiet"]), format!("{created}\n{running}\n"));

    let doc: serde_json::Value =
        serde_json::from_str(&rcr.ok(&["list", "--format", "json"])).unwrap();
    let all = doc.as_array().unwrap();
    assert_eq!(all.len(), 2, "{doc:#}");
    assert_eq!(
        (&all[0]["id"], &all[0]["status"], &all[0]["pid"]),
        (&json!(created), &json!("created"), &json!(created_pid))
    );
    assert_eq!(
        (&all[1]["id"], &all[1]["status"], &all[1]["pid"]),
        (&json!(running), &json!("running"), &json!(running_pid))
    );
    destroy(&rcr, &created);
    destroy(&rcr, &running);
    assert_eq!(rcr.ok(&["list", "-q"]), "");
}

#[test]
fn run_returns_the_exit_code_and_deletes() {
    if !require_root("run_returns_the_exit_code_and_deletes") {
        return;
    }
    let rcr = rcr();
    let bundle = Bundle::busybox();
    bundle.set_args(&probe_args(&["exit", "7"]));
    let id = Rcr::unique_id("exit");
    let out = rcr.run(&["run", "--bundle", bundle.path_str(), &id]);
    assert_eq!(out.status.code(), Some(7), "{out:?}");
    assert!(out.stderr.is_empty(), "{out:?}");
    assert!(rcr.fail(&["state", &id]).contains("does not exist"));
    assert_no_leftovers(&rcr, &id);
}

#[test]
fn run_prints_what_the_container_prints() {
    if !require_root("run_prints_what_the_container_prints") {
        return;
    }
    let rcr = rcr();
    let bundle = Bundle::busybox();
    let id = Rcr::unique_id("out");
    let out = rcr.ok(&["run", "--bundle", bundle.path_str(), &id]);
    let report = probe_report(&out);
    assert_eq!(report["hostname"], rcr_testkit::HOSTNAME);
    assert_eq!(report["pid"], 1);
    assert_eq!(report["args"], json!(["/rcr-probe"]));
    assert_no_leftovers(&rcr, &id);
}

#[test]
fn run_reports_death_by_signal() {
    if !require_root("run_reports_death_by_signal") {
        return;
    }
    let rcr = rcr();
    let bundle = Bundle::busybox();
    // pid 1 of a pid namespace cannot kill itself, so share the host's.
    bundle.edit(|c| {
        let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
        ns.retain(|n| n["type"] != "pid");
    });
    bundle.set_args(&["sh", "-c", "kill -9 $$"]);
    let id = Rcr::unique_id("sig");
    let out = rcr.run(&["run", "--bundle", bundle.path_str(), &id]);
    assert_eq!(out.status.code(), Some(137), "{out:?}");
    assert_no_leftovers(&rcr, &id);
}

#[test]
fn run_reports_a_kill_from_outside() {
    if !require_root("run_reports_a_kill_from_outside") {
        return;
    }
    let rcr = rcr();
    let bundle = Bundle::busybox();
    bundle.set_args(&probe_args(&["sleep", "30"]));
    let id = Rcr::unique_id("killed");
    let mut child = rcr
        .cmd(&["run", "--bundle", bundle.path_str(), &id])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_status(&rcr, &id, "running");
    rcr.ok(&["kill", &id, "KILL"]);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(137), "{status:?}");
    assert_no_leftovers(&rcr, &id);
}

#[test]
fn run_detach_and_keep() {
    if !require_root("run_detach_and_keep") {
        return;
    }
    let rcr = rcr();
    let bundle = Bundle::busybox();
    bundle.set_args(&probe_args(&["sleep", "30"]));
    let detached = Rcr::unique_id("detach");
    let out = run_detached(&rcr, &bundle, &detached);
    assert_eq!(out.stdout(), "");
    assert_eq!(status(&rcr, &detached).as_deref(), Some("running"));
    assert!(alive(pid_of(&rcr, &detached)));
    destroy(&rcr, &detached);
    assert_no_leftovers(&rcr, &detached);

    bundle.set_args(&probe_args(&["exit", "3"]));
    let kept = Rcr::unique_id("keep");
    let out = rcr.run(&["run", "--keep", "--bundle", bundle.path_str(), &kept]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let doc = state(&rcr, &kept);
    assert_eq!((&doc["status"], &doc["pid"]), (&json!("stopped"), &json!(0)), "{doc:#}");
    rcr.ok(&["delete", &kept]);
    assert_no_leftovers(&rcr, &kept);
}

#[test]
fn foreground_run_forwards_sigterm() {
    if !require_root("foreground_run_forwards_sigterm") {
        return;
    }
    let rcr = rcr();
    let bundle = Bundle::busybox();
    bundle.edit(|c| c["root"]["readonly"] = json!(false));
    let script = format!("trap 'exit 42' TERM; touch /ready; {}", trap_term(42));
    bundle.set_args(&["sh", "-c", &script]);
    let id = Rcr::unique_id("fwd");
    let mut child = rcr
        .cmd(&["run", "--bundle", bundle.path_str(), &id])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let ready = bundle.rootfs().join("ready");
    assert!(wait_until(TIMEOUT, || ready.exists()), "the container never got ready");
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let mut status = None;
    assert!(wait_until(TIMEOUT, || {
        status = child.try_wait().unwrap();
        status.is_some()
    }));
    let status = status.unwrap();
    assert_eq!((status.code(), status.signal()), (Some(42), None), "{status:?}");
    assert_no_leftovers(&rcr, &id);
}

#[test]
fn version_lines() {
    if !require_root("version_lines") {
        return;
    }
    let rcr = rcr();
    for flag in ["--version", "-v"] {
        let out = std::process::Command::new(rcr.bin()).arg(flag).output().unwrap();
        assert!(out.status.success(), "{out:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert_eq!(lines[0], format!("rcr version {}", env!("CARGO_PKG_VERSION")));
        let commit = lines[1].strip_prefix("commit: ").unwrap_or_else(|| panic!("{text}"));
        assert!(!commit.is_empty(), "{text}");
        assert_eq!(lines[2], "spec: 1.2.0");
    }
}

#[test]
fn kill_and_delete_a_created_container() {
    if !require_root("kill_and_delete_a_created_container") {
        return;
    }
    let rcr = rcr();
    let bundle = Bundle::busybox();
    let killed = Rcr::unique_id("created-kill");
    create(&rcr, &bundle, &killed);
    let pid = pid_of(&rcr, &killed);
    rcr.ok(&["kill", &killed, "KILL"]);
    wait_status(&rcr, &killed, "stopped");
    assert!(!alive(pid));
    let err = rcr.fail(&["start", &killed]);
    assert!(one_line(&err).contains("stopped"), "{err}");
    rcr.ok(&["delete", &killed]);
    assert_no_leftovers(&rcr, &killed);

    // A created container may be deleted without --force.
    let deleted = Rcr::unique_id("created-del");
    create(&rcr, &bundle, &deleted);
    let pid = pid_of(&rcr, &deleted);
    rcr.ok(&["delete", &deleted]);
    assert!(!alive(pid));
    assert_no_leftovers(&rcr, &deleted);
}

#[test]
fn detached_containers_write_to_the_callers_stdio() {
    if !require_root("detached_containers_write_to_the_callers_stdio") {
        return;
    }
    let rcr = rcr();
    let bundle = Bundle::busybox();
    let created = Rcr::unique_id("stdio-create");
    let out = create(&rcr, &bundle, &created);
    assert_eq!(out.stdout(), "");
    rcr.ok(&["start", &created]);
    wait_status(&rcr, &created, "stopped");
    assert_eq!(probe_report(&out.stdout())["pid"], 1);
    rcr.ok(&["delete", &created]);

    let detached = Rcr::unique_id("stdio-detach");
    bundle.set_args(&["sh", "-c", "echo to stdout; echo to stderr >&2"]);
    let out = run_detached(&rcr, &bundle, &detached);
    wait_status(&rcr, &detached, "stopped");
    assert_eq!((out.stdout().as_str(), out.stderr().as_str()), ("to stdout\n", "to stderr\n"));
    rcr.ok(&["delete", &detached]);
    assert_no_leftovers(&rcr, &detached);
}

#[test]
fn bundle_defaults_to_the_working_directory() {
    if !require_root("bundle_defaults_to_the_working_directory") {
        return;
    }
    let rcr = rcr();
    let bundle = Bundle::busybox();
    let id = Rcr::unique_id("cwd");
    let out = rcr
        .cmd(&["create", &id])
        .current_dir(bundle.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(out.success(), "{out:?}");
    let doc = state(&rcr, &id);
    assert_eq!(doc["bundle"], bundle.path_str(), "{doc:#}");
    assert_eq!(doc["rootfs"], path_str(&bundle.rootfs()), "{doc:#}");
    destroy(&rcr, &id);

    // A relative --bundle is taken from the working directory too.
    let parent = bundle.path().parent().unwrap();
    let name = bundle.path().file_name().unwrap().to_str().unwrap();
    let id = Rcr::unique_id("rel");
    let out = rcr
        .cmd(&["run", "--bundle", name, &id])
        .current_dir(parent)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(probe_report(&String::from_utf8_lossy(&out.stdout))["pid"], 1);
    assert_no_leftovers(&rcr, &id);
}
