//! Crash safety and concurrency, end to end.
//!
//! `rcr` is killed with SIGKILL at each fault point (`RCR_FAULT`, listed in
//! docs/state.md); each partial state must be one that `state` describes
//! without hanging and `delete --force` removes entirely: processes, cgroup
//! directories in every hierarchy, host mounts and the state directory.
//! Verbs racing on many containers, or on one, must neither deadlock nor
//! leave anything behind, and no reader may ever see a torn `state.json`.

mod common;

use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// The longest any single `rcr` call may take before it counts as hung.
const CALL_LIMIT: Duration = Duration::from_secs(30);

/// What a bounded `rcr` call did.
#[derive(Debug)]
struct Outcome {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Outcome {
    fn describe(&self) -> String {
        format!(
            "({})\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

/// Runs `cmd` to completion within [`CALL_LIMIT`], killing it and failing
/// the test if it hangs. Output goes to files: a container created by the
/// call inherits them and may keep them open.
fn bounded(mut cmd: Command) -> Outcome {
    let dir = tempfile::tempdir().expect("create a capture directory");
    let file = |name: &str| fs::File::create(dir.path().join(name)).expect("create capture file");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(file("stdout"))
        .stderr(file("stderr"))
        .spawn()
        .unwrap_or_else(|e| panic!("run {cmd:?}: {e}"));
    let deadline = Instant::now() + CALL_LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for rcr") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} hung for {}s", CALL_LIMIT.as_secs());
        }
        thread::sleep(Duration::from_millis(5));
    };
    let read = |name: &str| fs::read_to_string(dir.path().join(name)).unwrap_or_default();
    Outcome { status, stdout: read("stdout"), stderr: read("stderr") }
}

fn call(rcr: &Rcr, args: &[&str]) -> Outcome {
    bounded(rcr.cmd(args))
}

fn call_ok(rcr: &Rcr, args: &[&str]) -> Outcome {
    let out = call(rcr, args);
    assert!(out.status.success(), "rcr {args:?} failed {}", out.describe());
    out
}

/// Runs `rcr <args>` with fault point `point` armed; it must die there.
fn crash_at(rcr: &Rcr, point: &str, args: &[&str]) {
    let mut cmd = rcr.cmd(args);
    cmd.env("RCR_FAULT", point);
    let out = bounded(cmd);
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGKILL),
        "rcr {args:?} did not die at {point} {}",
        out.describe()
    );
}

/// `state`'s status, or `None` for "does not exist"; any other failure (or
/// a hang) fails the test.
fn observed(rcr: &Rcr, id: &str, point: &str) -> Option<String> {
    let out = call(rcr, &["state", id]);
    if !out.status.success() {
        assert!(
            one_line(&out.stderr).ends_with(&format!("container {id} does not exist")),
            "{point}: state {id} failed {}",
            out.describe()
        );
        return None;
    }
    let doc: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("{point}: state {id} is not JSON ({e}): {}", out.stdout));
    assert_eq!(doc["id"], id, "{point}: {doc:#}");
    Some(doc["status"].as_str().expect("state has a status").to_owned())
}

/// The record `rcr` keeps for `id`, read directly.
fn record(rcr: &Rcr, id: &str) -> Option<Value> {
    let text = fs::read_to_string(rcr.root().join(id).join("state.json")).ok()?;
    Some(serde_json::from_str(&text).expect("state.json is JSON"))
}

/// The container's cgroup directories that exist, in any hierarchy
/// (each v1 controller and the unified one).
fn cgroups_left(id: &str) -> Vec<PathBuf> {
    cgroup_dirs(id).into_iter().filter(|d| d.exists()).collect()
}

/// Live (not zombie) processes in one of the container's cgroups.
fn processes_in_cgroup(id: &str) -> Vec<i32> {
    let leaf = format!("/rcr/{id}");
    let nested = format!("/rcr/{id}/");
    let Ok(entries) = fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| alive(*pid))
        .filter(|pid| {
            fs::read_to_string(format!("/proc/{pid}/cgroup")).is_ok_and(|text| {
                text.lines().any(|l| {
                    let path = l.splitn(3, ':').nth(2).unwrap_or("");
                    path.ends_with(&leaf) || path.contains(&nested)
                })
            })
        })
        .collect()
}

/// Host mounts whose source or target mentions `what`; rcr makes none on
/// the host side, so any is a leak.
fn host_mounts_of(what: &Path) -> Vec<String> {
    let what = what.to_str().expect("test paths are UTF-8");
    fs::read_to_string("/proc/self/mountinfo")
        .expect("read mountinfo")
        .lines()
        .filter(|l| l.contains(what))
        .map(str::to_owned)
        .collect()
}

/// Asserts that nothing of `id` is left, waiting a moment for processes
/// that were killed to be gone.
fn assert_all_gone(rcr: &Rcr, bundle: &Bundle, id: &str, context: &str) {
    let dir = rcr.root().join(id);
    assert!(!dir.exists(), "{context}: state directory {} is left", dir.display());
    assert_eq!(cgroups_left(id), Vec::<PathBuf>::new(), "{context}: cgroups are left");
    let mut left = (Vec::new(), Vec::new());
    let gone = wait_until(TIMEOUT, || {
        left = (processes_with_arg(id), processes_in_cgroup(id));
        left.0.is_empty() && left.1.is_empty()
    });
    assert!(gone, "{context}: processes are left (by command line, by cgroup): {left:?}");
    assert_eq!(host_mounts_of(bundle.path()), Vec::<String>::new(), "{context}: host mounts");
    assert_eq!(host_mounts_of(rcr.root()), Vec::<String>::new(), "{context}: host mounts");
}

/// `delete --force`, which must succeed and remove everything.
fn force_delete(rcr: &Rcr, bundle: &Bundle, id: &str, context: &str) {
    let out = call(rcr, &["delete", "--force", id]);
    assert!(out.status.success(), "{context}: delete --force {id} failed {}", out.describe());
    assert_all_gone(rcr, bundle, id, context);
    assert_eq!(observed(rcr, id, context), None, "{context}: deleted but still there");
}

fn sleeper(bundle: &Bundle) {
    bundle.set_args(&probe_args(&["sleep", "60"]));
}

fn create_ok(rcr: &Rcr, bundle: &Bundle, id: &str) {
    call_ok(rcr, &["create", "--bundle", bundle.path_str(), id]);
}

/// The init's pid as recorded, if it is.
fn recorded_pid(rcr: &Rcr, id: &str) -> Option<i32> {
    record(rcr, id)?["pid"].as_i64().map(|p| i32::try_from(p).expect("pids fit in i32"))
}

/// Whether process `pid` has the exec fifo open (an init does from just
/// before `Ready` until `start`).
fn holds_exec_fifo(pid: i32) -> bool {
    let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else { return false };
    fds.filter_map(Result::ok)
        .filter_map(|fd| fs::read_link(fd.path()).ok())
        .any(|target| target.ends_with("exec.fifo"))
}

/// An init whose parent died before sending `Proceed` notices and exits.
fn init_dies_alone(rcr: &Rcr, id: &str, point: &str) {
    let pid = recorded_pid(rcr, id).unwrap_or_else(|| panic!("{point}: no pid recorded"));
    let gone = wait_until(TIMEOUT, || !alive(pid));
    let how = || {
        let read = |f: &str| fs::read_to_string(format!("/proc/{pid}/{f}")).unwrap_or_default();
        format!("state {:?}, wchan {:?}, stack:\n{}", proc_state(pid), read("wchan"), read("stack"))
    };
    assert!(gone, "{point}: init {pid} outlived its parent: {}", how());
    assert_eq!(observed(rcr, id, point).as_deref(), Some("stopped"), "{point}");
}

#[test]
fn create_killed_at_every_point_is_recoverable() {
    if !require_root("create_killed_at_every_point_is_recoverable") {
        return;
    }
    let rcr = rcr();
    let bundle = Bundle::busybox();
    sleeper(&bundle);
    let scratch = tempfile::tempdir().unwrap();

    // Each point with what must be found on disk and reported right after.
    type Check = fn(&Rcr, &str, &Path);
    let points: [(&str, &[&str], Check); 10] = [
        ("create:after-reserve", &["stopped"], |rcr, id, _| {
            assert!(rcr.root().join(id).is_dir());
            assert!(record(rcr, id).is_none(), "no record yet");
        }),
        ("create:after-creating-record", &["stopped"], |rcr, id, _| {
            assert_eq!(record(rcr, id).unwrap()["status"], "creating");
            assert!(cgroups_left(id).is_empty());
        }),
        ("create:after-cgroup-record", &["stopped"], |rcr, id, _| {
            assert!(record(rcr, id).unwrap()["platform"]["cgroup"].is_object());
            assert!(cgroups_left(id).is_empty(), "recorded before made");
        }),
        ("create:after-cgroup", &["stopped"], |rcr, id, _| {
            // Made, but the record of what was made is not written yet.
            assert_eq!(cgroups_left(id).len(), cgroup_dirs(id).len(), "{:?}", cgroups_left(id));
            let rec = record(rcr, id).unwrap();
            let dirs = rec["platform"]["cgroup"]["dirs"].as_array().unwrap();
            assert!(dirs.iter().all(|d| d.get("created").is_none()), "{rec:#}");
            assert!(dirs.iter().all(|d| d["pending"].as_array().is_some_and(|p| !p.is_empty())));
        }),
        ("create:after-fifo", &["stopped"], |rcr, id, _| {
            assert!(rcr.root().join(id).join("exec.fifo").exists());
            assert!(recorded_pid(rcr, id).is_none());
        }),
        ("create:after-fork", &["stopped"], |rcr, id, _| {
            // An init nobody recorded: it must go away on its own when its
            // parent's end of the socket closes.
            assert!(recorded_pid(rcr, id).is_none());
            let mut left = Vec::new();
            let gone = wait_until(TIMEOUT, || {
                left = processes_with_arg(id);
                left.is_empty()
            });
            assert!(gone, "the unrecorded init outlived its parent: {left:?}");
        }),
        ("create:after-pid-record", &["created", "stopped"], |rcr, id, _| {
            init_dies_alone(rcr, id, "create:after-pid-record");
        }),
        ("create:during-init-setup", &["created", "stopped"], |rcr, id, _| {
            // The init either finds its parent gone and exits, or it sent
            // Ready before the dying parent's socket closed and now waits
            // for start, as after create:after-ready.
            let pid = recorded_pid(rcr, id).unwrap();
            let settled = wait_until(TIMEOUT, || !alive(pid) || holds_exec_fifo(pid));
            assert!(settled, "init {pid} neither exited nor reached the exec fifo");
        }),
        ("create:after-ready", &["created"], |rcr, id, _| {
            assert_eq!(record(rcr, id).unwrap()["status"], "creating");
            assert!(alive(recorded_pid(rcr, id).unwrap()));
        }),
        ("create:after-created-record", &["created"], |rcr, id, pid_file| {
            assert_eq!(record(rcr, id).unwrap()["status"], "created");
            assert!(alive(recorded_pid(rcr, id).unwrap()));
            assert!(!pid_file.exists(), "the pid file comes after the record");
        }),
    ];
    for (point, statuses, check) in points {
        let id = Rcr::unique_id("crash-create");
        let pid_file = scratch.path().join(format!("{id}.pid"));
        crash_at(
            &rcr,
            point,
            &["create", "--bundle", bundle.path_str(), "--pid-file", path_str(&pid_file), &id],
        );
        let status = observed(&rcr, &id, point);
        assert!(
            status.as_deref().is_some_and(|s| statuses.contains(&s)),
            "{point}: state reports {status:?}, expected one of {statuses:?}"
        );
        check(&rcr, &id, &pid_file);
        force_delete(&rcr, &bundle, &id, point);
    }
}

#[test]
fn start_killed_at_every_point_is_recoverable() {
    if !require_root("start_killed_at_every_point_is_recoverable") {
        return;
    }
    let rcr = rcr();
    let bundle = Bundle::busybox();
    sleeper(&bundle);

    // Killed before the init was let go: still created, and startable.
    let id = Rcr::unique_id("crash-start");
    create_ok(&rcr, &bundle, &id);
    crash_at(&rcr, "start:before-release", &["start", &id]);
    assert_eq!(observed(&rcr, &id, "start:before-release").as_deref(), Some("created"));
    call_ok(&rcr, &["start", &id]);
    wait_status(&rcr, &id, "running");
    force_delete(&rcr, &bundle, &id, "start:before-release");

    // Killed after the init was let go, before `running` was recorded: the
    // record still says created and the fifo is still there, but the init
    // runs the container's process, so the container is running.
    let id = Rcr::unique_id("crash-start");
    create_ok(&rcr, &bundle, &id);
    let pid = recorded_pid(&rcr, &id).unwrap();
    crash_at(&rcr, "start:after-release", &["start", &id]);
    assert_eq!(record(&rcr, &id).unwrap()["status"], "created");
    assert!(rcr.root().join(&id).join("exec.fifo").exists());
    assert!(wait_until(TIMEOUT, || fs::read_to_string(format!("/proc/{pid}/comm"))
        .is_ok_and(|c| c.trim() == "rcr-probe")));
    assert_eq!(observed(&rcr, &id, "start:after-release").as_deref(), Some("running"));
    let err = call(&rcr, &["start", &id]);
    assert!(one_line(&err.stderr).contains("is running"), "{}", err.describe());
    force_delete(&rcr, &bundle, &id, "start:after-release");
}

#[test]
fn delete_killed_at_every_point_is_recoverable() {
    if !require_root("delete_killed_at_every_point_is_recoverable") {
        return;
    }
    let rcr = rcr();
    let bundle = Bundle::busybox();
    // No pid namespace, so the container's other process outlives its init
    // and only the cgroup can find it.
    bundle.edit(|c| {
        let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
        ns.retain(|n| n["type"] != "pid");
    });
    bundle.set_args(&["sh", "-c", "/rcr-probe sleep 60 & exec /rcr-probe sleep 60"]);

    for point in ["delete:after-kill", "delete:after-cgroup-remove", "delete:before-state-remove"] {
        let id = Rcr::unique_id("crash-delete");
        create_ok(&rcr, &bundle, &id);
        call_ok(&rcr, &["start", &id]);
        assert!(wait_until(TIMEOUT, || processes_in_cgroup(&id).len() == 2), "{point}");
        crash_at(&rcr, point, &["delete", "--force", &id]);
        assert_eq!(observed(&rcr, &id, point).as_deref(), Some("stopped"), "{point}");
        match point {
            "delete:after-kill" => {
                assert_eq!(processes_in_cgroup(&id).len(), 1, "the child outlives the init");
                assert!(!cgroups_left(&id).is_empty());
            }
            _ => {
                assert!(processes_in_cgroup(&id).is_empty(), "{point}");
                assert!(cgroups_left(&id).is_empty(), "{point}");
                assert!(rcr.root().join(&id).join("state.json").exists(), "{point}");
            }
        }
        force_delete(&rcr, &bundle, &id, point);
    }
}

#[test]
fn readers_never_see_a_torn_state_file() {
    if !require_root("readers_never_see_a_torn_state_file") {
        return;
    }
    let rcr = Arc::new(rcr());
    let bundle = Arc::new(Bundle::busybox());
    sleeper(&bundle);
    let ids: Vec<String> = (0..2).map(|_| Rcr::unique_id("torn")).collect();
    let done = Arc::new(AtomicBool::new(false));
    let cycles = Arc::new(AtomicUsize::new(0));

    // Writers: every create, start and delete rewrites state.json.
    let writers: Vec<_> = ids
        .iter()
        .cloned()
        .map(|id| {
            let (rcr, bundle, done, cycles) =
                (rcr.clone(), bundle.clone(), done.clone(), cycles.clone());
            thread::spawn(move || {
                while !done.load(Ordering::Relaxed) {
                    create_ok(&rcr, &bundle, &id);
                    call_ok(&rcr, &["start", &id]);
                    call_ok(&rcr, &["kill", &id, "KILL"]);
                    call_ok(&rcr, &["delete", "--force", &id]);
                    cycles.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();

    // A direct reader parsing the file as fast as it can, and `rcr state`.
    let read = || {
        let (mut parsed, mut states) = (0, 0);
        let until = Instant::now() + Duration::from_secs(3);
        while Instant::now() < until {
            for id in &ids {
                for _ in 0..50 {
                    match fs::read(rcr.root().join(id).join("state.json")) {
                        Ok(bytes) => {
                            if let Err(e) = serde_json::from_slice::<Value>(&bytes) {
                                panic!(
                                    "torn state.json of {id} ({e}): {}",
                                    String::from_utf8_lossy(&bytes)
                                );
                            }
                            parsed += 1;
                        }
                        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::NotFound, "{e}"),
                    }
                }
                let status = observed(&rcr, id, "torn");
                assert!(
                    matches!(
                        status.as_deref(),
                        None | Some("creating" | "created" | "running" | "stopped")
                    ),
                    "{status:?}"
                );
                states += 1;
            }
        }
        (parsed, states)
    };
    let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(read));
    // However the reader ended, the writers stop and leave nothing running.
    done.store(true, Ordering::Relaxed);
    let written: Vec<_> = writers.into_iter().map(thread::JoinHandle::join).collect();
    for id in &ids {
        let _ = call(&rcr, &["delete", "--force", id]);
    }
    let (parsed, states) = read.unwrap_or_else(|p| std::panic::resume_unwind(p));
    for w in written {
        w.unwrap_or_else(|p| std::panic::resume_unwind(p));
    }
    let cycles = cycles.load(Ordering::Relaxed);
    assert!(
        cycles >= 2 && parsed > 100 && states > 10,
        "{cycles} cycles, {parsed} parsed, {states} states"
    );
    for id in &ids {
        assert_all_gone(&rcr, &bundle, id, "torn");
    }
}

/// Zombie children of the test process that stay unreaped.
fn unreaped_children() -> Vec<i32> {
    let me = std::process::id().to_string();
    let zombies = || -> Vec<i32> {
        let Ok(entries) = fs::read_dir("/proc") else { return Vec::new() };
        entries
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
            .filter(|pid| {
                fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
                    let mut f = s[s.rfind(')').map_or(0, |i| i + 1)..].split_whitespace();
                    f.next() == Some("Z") && f.next() == Some(me.as_str())
                })
            })
            .collect()
    };
    // Another test's child may be between exiting and being waited for.
    let mut left = zombies();
    wait_until(Duration::from_secs(2), || {
        left = zombies();
        left.is_empty()
    });
    left
}

#[test]
fn fifty_containers_in_parallel() {
    if !require_root("fifty_containers_in_parallel") {
        return;
    }
    const N: usize = 50;
    let rcr = Arc::new(rcr());
    let bundle = Arc::new(Bundle::busybox());
    sleeper(&bundle);
    let ids: Vec<String> = (0..N).map(|_| Rcr::unique_id("par")).collect();
    let barrier = Arc::new(Barrier::new(N));
    let began = Instant::now();
    let threads: Vec<_> = ids
        .iter()
        .cloned()
        .map(|id| {
            let (rcr, bundle, barrier) = (rcr.clone(), bundle.clone(), barrier.clone());
            thread::spawn(move || {
                barrier.wait();
                create_ok(&rcr, &bundle, &id);
                call_ok(&rcr, &["start", &id]);
                let out = call_ok(&rcr, &["state", &id]);
                assert!(out.stdout.contains("\"running\""), "{id}: {}", out.stdout);
                call_ok(&rcr, &["delete", "--force", &id]);
            })
        })
        .collect();
    let failed: Vec<_> = threads.into_iter().filter_map(|t| t.join().err()).collect();
    assert!(failed.is_empty(), "{} of {N} lifecycles failed", failed.len());
    let took = began.elapsed();
    assert!(took < Duration::from_secs(45), "{N} parallel lifecycles took {took:?}");
    for id in &ids {
        assert_all_gone(&rcr, &bundle, id, "parallel");
    }
    let inits: Vec<i32> = ids.iter().flat_map(|id| processes_with_arg(id)).collect();
    assert!(inits.is_empty(), "rcr:[init] processes are left: {inits:?}");
    assert_eq!(unreaped_children(), Vec::<i32>::new(), "unreaped children");
}

#[test]
fn concurrent_creates_of_one_id() {
    if !require_root("concurrent_creates_of_one_id") {
        return;
    }
    const N: usize = 10;
    let rcr = Arc::new(rcr());
    let bundle = Arc::new(Bundle::busybox());
    sleeper(&bundle);
    let id = Rcr::unique_id("same");
    let barrier = Arc::new(Barrier::new(N));
    let outcomes: Vec<Outcome> = (0..N)
        .map(|_| {
            let (rcr, bundle, barrier, id) =
                (rcr.clone(), bundle.clone(), barrier.clone(), id.clone());
            thread::spawn(move || {
                barrier.wait();
                call(&rcr, &["create", "--bundle", bundle.path_str(), &id])
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().expect("create thread"))
        .collect();
    let won = outcomes.iter().filter(|o| o.status.success()).count();
    assert_eq!(won, 1, "{outcomes:#?}");
    for o in outcomes.iter().filter(|o| !o.status.success()) {
        assert_eq!(
            one_line(&o.stderr),
            format!("rcr: create {id}: container {id} already exists"),
            "{}",
            o.describe()
        );
    }
    assert_eq!(observed(&rcr, &id, "same").as_deref(), Some("created"));
    call_ok(&rcr, &["start", &id]);
    force_delete(&rcr, &bundle, &id, "same");
}

#[test]
fn racing_verbs_on_one_id() {
    if !require_root("racing_verbs_on_one_id") {
        return;
    }
    let rcr = Arc::new(rcr());
    let bundle = Arc::new(Bundle::busybox());
    sleeper(&bundle);
    // What a verb may meet when another one got there first: a container
    // that is gone, in another status, or whose init was killed under it.
    let expected = |verb: &str| -> &[&str] {
        match verb {
            "create" => &["already exists"],
            "start" => &[
                "does not exist",
                "is stopped: start",
                "is running: start",
                "exited before it was started",
            ],
            "kill" => {
                &["does not exist", "is creating: kill", "is stopped: kill", "is not running"]
            }
            "state" => &["does not exist"],
            _ => &[],
        }
    };
    // Each thread repeats its verb, so that creates also meet deletes and
    // starts of containers that came and went.
    const REPEAT: usize = 4;
    for round in 0..4 {
        let id = Rcr::unique_id("race");
        if round % 2 == 0 {
            create_ok(&rcr, &bundle, &id);
        }
        let verbs: Vec<Vec<String>> = [
            vec!["create", "--bundle", bundle.path_str(), id.as_str()],
            vec!["delete", "--force", id.as_str()],
            vec!["start", id.as_str()],
            vec!["kill", id.as_str(), "KILL"],
            vec!["state", id.as_str()],
            vec!["start", id.as_str()],
            vec!["delete", "--force", id.as_str()],
            vec!["state", id.as_str()],
        ]
        .iter()
        .map(|v| v.iter().map(|s| (*s).to_owned()).collect())
        .collect();
        let barrier = Arc::new(Barrier::new(verbs.len()));
        let outcomes: Vec<(Vec<String>, Outcome)> = verbs
            .into_iter()
            .map(|args| {
                let (rcr, barrier) = (rcr.clone(), barrier.clone());
                thread::spawn(move || {
                    barrier.wait();
                    let a: Vec<&str> = args.iter().map(String::as_str).collect();
                    let outs: Vec<Outcome> = (0..REPEAT).map(|_| call(&rcr, &a)).collect();
                    outs.into_iter().map(move |out| (args.clone(), out))
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .flat_map(|t| t.join().expect("verb thread"))
            .collect();
        for (args, out) in &outcomes {
            if out.status.success() {
                if args[0] == "state" {
                    let doc: Value = serde_json::from_str(&out.stdout)
                        .unwrap_or_else(|e| panic!("state is not JSON ({e}): {}", out.stdout));
                    assert_eq!(doc["id"], id.as_str());
                    let status = doc["status"].as_str().unwrap_or("");
                    assert!(
                        ["created", "running", "stopped"].contains(&status)
                            || (status == "creating" && doc["bundle"] == bundle.path_str()),
                        "round {round}: {doc:#}"
                    );
                }
                continue;
            }
            let line = one_line(&out.stderr);
            assert!(
                expected(&args[0]).iter().any(|e| line.contains(e)),
                "round {round}: rcr {args:?}: unexpected failure {}",
                out.describe()
            );
        }
        force_delete(&rcr, &bundle, &id, &format!("race round {round}"));
    }
}

#[test]
fn exec_killed_at_every_point_is_recoverable() {
    if !require_root("exec_killed_at_every_point_is_recoverable") {
        return;
    }
    let rcr = rcr();
    let bundle = Bundle::busybox();
    sleeper(&bundle);
    for point in ["exec:after-fork", "exec:after-ready"] {
        let id = Rcr::unique_id("crash-exec");
        create_ok(&rcr, &bundle, &id);
        call_ok(&rcr, &["start", &id]);
        crash_at(&rcr, point, &["exec", "-d", &id, "/rcr-probe", "sleep", "60"]);
        // The container itself is untouched by a dying exec.
        assert_eq!(observed(&rcr, &id, point).as_deref(), Some("running"), "{point}");
        let procs = || processes_in_cgroup(&id).len();
        match point {
            // Before Proceed the child gets EOF on its socket and exits.
            "exec:after-fork" => {
                assert!(
                    wait_until(TIMEOUT, || procs() == 1),
                    "{point}: {:?}",
                    processes_in_cgroup(&id)
                )
            }
            // After Ready the process runs on, in the container's cgroup.
            _ => assert!(wait_until(TIMEOUT, || procs() == 2), "{point}"),
        }
        call_ok(&rcr, &["exec", &id, "/rcr-probe", "exit", "0"]);
        force_delete(&rcr, &bundle, &id, point);
    }
}
