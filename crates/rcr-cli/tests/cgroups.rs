//! End-to-end tests of cgroup resources and the verbs built on them
//! (`update`, `pause`, `resume`, `events`, `ps`), checked from the host's
//! cgroupfs and from inside the container.
//!
//! They need root, a static busybox and the host's cgroup layout; v1 and
//! hybrid hosts read the v1 files, v2 hosts the unified ones.

#![allow(clippy::unwrap_used)]

use std::fs;
use std::io::{Read, Seek, Write};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use rcr_cgroups::{CgroupFs, Layout};
use rcr_testkit::{require_busybox, require_root, skip, wait_until, Bundle, Rcr};
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_rcr");

/// The host's layout, or a skip when the test cannot run here.
fn setup(test: &str) -> Option<Layout> {
    if !require_root(test) || !require_busybox(test) {
        return None;
    }
    match CgroupFs::host() {
        Ok(fs) => Some(fs.layout()),
        Err(e) => {
            skip(test, &format!("no usable cgroup filesystem: {e}"));
            None
        }
    }
}

/// The container's directory for a controller on the host: the v1
/// hierarchy of `controller`, or the unified one on v2.
fn cg_dir(layout: Layout, controller: &str, id: &str) -> PathBuf {
    match layout {
        Layout::V2 => PathBuf::from(format!("/sys/fs/cgroup/rcr/{id}")),
        _ => PathBuf::from(format!("/sys/fs/cgroup/{controller}/rcr/{id}")),
    }
}

fn read(path: &PathBuf) -> String {
    fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
        .trim()
        .to_owned()
}

/// A busybox bundle running `sh -c script` with `resources`, with a
/// writable rootfs so that the container can report through files.
fn bundle(script: &str, resources: Value) -> Bundle {
    let b = Bundle::busybox_without_probe();
    b.set_args(&["sh", "-c", script]);
    b.edit(|c| {
        c["root"]["readonly"] = json!(false);
        c["linux"]["resources"] = resources;
    });
    b
}

/// Runs `create` or `run --detach`: the container inherits the command's
/// stdio, so it gets files rather than pipes that would never reach EOF.
fn ok_detached(rcr: &Rcr, args: &[&str]) {
    let mut err = tempfile::tempfile().unwrap();
    let status = rcr
        .cmd(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err.try_clone().unwrap())
        .status()
        .unwrap();
    if !status.success() {
        let mut text = String::new();
        err.seek(std::io::SeekFrom::Start(0)).unwrap();
        err.read_to_string(&mut text).unwrap();
        panic!("rcr {args:?} failed ({status}): {text}");
    }
}

fn status(rcr: &Rcr, id: &str) -> String {
    let out = rcr.run(&["state", id]);
    if !out.status.success() {
        return "gone".to_owned();
    }
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["status"].as_str().unwrap().to_owned()
}

fn wait_for_file(path: &PathBuf) -> String {
    assert!(
        wait_until(Duration::from_secs(10), || path.exists()),
        "{} never appeared",
        path.display()
    );
    read(path)
}

#[test]
fn memory_hog_is_oom_killed_and_reported() {
    let test = "memory_hog_is_oom_killed_and_reported";
    let Some(layout) = setup(test) else { return };
    let rcr = Rcr::new(BIN);
    let hog = "x=aaaaaaaa; while true; do x=$x$x; done";
    let limits = json!({"devices": [{"allow": false, "access": "rwm"}],
        "memory": {"limit": 32 << 20, "swap": 32 << 20}});
    let b = bundle(hog, limits.clone());

    // Detached, with an events reader attached before it starts.
    let id = Rcr::unique_id("oom");
    ok_detached(&rcr, &["create", "--bundle", b.path_str(), &id]);
    let events =
        rcr.cmd(&["events", "--interval", "1s", &id]).stdout(Stdio::piped()).spawn().unwrap();
    rcr.ok(&["start", &id]);
    assert!(
        wait_until(Duration::from_secs(30), || status(&rcr, &id) == "stopped"),
        "the hog was not killed"
    );
    let out = events.wait_with_output().unwrap();
    assert!(out.status.success(), "events failed: {out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let oom: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|e: &Value| e["type"] == "oom")
        .collect();
    assert_eq!(oom.len(), 1, "events output: {text}");
    assert_eq!(oom[0]["id"], id.as_str());
    let kills = match layout {
        Layout::V2 => read(&cg_dir(layout, "memory", &id).join("memory.events")),
        _ => read(&cg_dir(layout, "memory", &id).join("memory.oom_control")),
    };
    assert!(kills.lines().any(|l| l.starts_with("oom_kill ") && l != "oom_kill 0"), "{kills}");
    rcr.ok(&["delete", &id]);
    assert!(!cg_dir(layout, "memory", &id).exists(), "delete leaves no cgroup");

    // In the foreground, the exit code is that of SIGKILL.
    let id = Rcr::unique_id("oom-run");
    let out = rcr.run(&["run", "--bundle", b.path_str(), &id]);
    assert_eq!(out.status.code(), Some(137), "{out:?}");
}

#[test]
fn fork_bomb_stops_at_the_pids_limit() {
    let test = "fork_bomb_stops_at_the_pids_limit";
    if setup(test).is_none() {
        return;
    }
    let rcr = Rcr::new(BIN);
    let script =
        "f=0; i=0; while [ $i -lt 50 ]; do if ! (sleep 30 &) 2>/dev/null; then f=$((f+1)); fi; \
                  i=$((i+1)); done; echo failures=$f";
    let b = bundle(script, json!({"pids": {"limit": 20}}));
    let out = rcr.run(&["run", "--bundle", b.path_str(), &Rcr::unique_id("pids")]);
    let text = String::from_utf8_lossy(&out.stdout);
    let failures: u32 =
        text.trim().strip_prefix("failures=").unwrap_or_else(|| panic!("{out:?}")).parse().unwrap();
    // The shell is one of the 20; each success leaves one sleep behind.
    assert!((31..50).contains(&failures), "{failures} of 50 forks failed");
    assert!(50 - failures <= 19, "{} sleeps with a limit of 20", 50 - failures);
}

/// A container that copies its own cgroup files to /out every 50ms.
const REPORTER: &str =
    "while true; do cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max \
    > /out.tmp 2>&1; mv /out.tmp /out; sleep 0.05; done";

#[test]
fn update_changes_live_limits() {
    let test = "update_changes_live_limits";
    let Some(layout) = setup(test) else { return };
    if layout == Layout::V2 {
        skip(test, "the in-container check reads v1 files (this host is cgroup v2)");
        return;
    }
    let rcr = Rcr::new(BIN);
    let b = bundle(
        REPORTER,
        json!({"memory": {"limit": 32 << 20}, "pids": {"limit": 20}, "cpu": {"shares": 512}}),
    );
    let id = Rcr::unique_id("upd");
    ok_detached(&rcr, &["run", "--detach", "--bundle", b.path_str(), &id]);
    let (mem, pids, cpu) =
        (cg_dir(layout, "memory", &id), cg_dir(layout, "pids", &id), cg_dir(layout, "cpu", &id));
    let out = b.rootfs().join("out");
    assert_eq!(wait_for_file(&out), "33554432\n20");
    assert_eq!(read(&mem.join("memory.limit_in_bytes")), "33554432");

    rcr.ok(&["update", "--memory", "64m", "--pids-limit", "30", &id]);
    assert_eq!(read(&mem.join("memory.limit_in_bytes")), "67108864");
    assert_eq!(read(&pids.join("pids.max")), "30");
    assert!(
        wait_until(Duration::from_secs(5), || read(&out) == "67108864\n30"),
        "inside: {}",
        read(&out)
    );

    // Zero means "leave it": only the shares change.
    let mut child =
        rcr.cmd(&["update", "--resources", "-", &id]).stdin(Stdio::piped()).spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(br#"{"memory":{"limit":0,"swap":0,"reservation":0},"cpu":{"shares":300,"quota":0,"period":0,"cpus":"","mems":""},"pids":{"limit":0},"blockIO":{"weight":0}}"#)
        .unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(read(&cpu.join("cpu.shares")), "300");
    assert_eq!(read(&mem.join("memory.limit_in_bytes")), "67108864");
    assert_eq!(read(&pids.join("pids.max")), "30");

    // The new values are recorded for later updates.
    let state: Value =
        serde_json::from_str(&fs::read_to_string(rcr.root().join(&id).join("state.json")).unwrap())
            .unwrap();
    let res = &state["platform"]["resources"];
    assert_eq!(res["memory"]["limit"], 64 << 20);
    assert_eq!(res["pids"]["limit"], 30);
    assert_eq!(res["cpu"]["shares"], 300);

    let err = rcr.fail(&["update", "--l3-cache-schema", "L3:0=f", &id]);
    assert!(err.contains("Intel RDT is not supported"), "{err}");
    let err = rcr.fail(&["update", "--memory", "lots", &id]);
    assert!(err.contains("--memory: invalid size"), "{err}");
    rcr.ok(&["delete", "--force", &id]);
    let err = rcr.fail(&["update", "--memory", "64m", &id]);
    assert!(
        err.contains("does not exist") || err.contains("not found") || err.contains(&id),
        "{err}"
    );
}

#[test]
fn pause_freezes_every_process_and_resume_continues() {
    let test = "pause_freezes_every_process_and_resume_continues";
    let Some(layout) = setup(test) else { return };
    let rcr = Rcr::new(BIN);
    let counter = |file: &str| {
        format!(
            "i=0; while true; do i=$((i+1)); echo $i > /{file}.tmp; mv /{file}.tmp /{file}; done"
        )
    };
    let script = format!("({}) & {}", counter("child"), counter("init"));
    let b = bundle(&script, json!({}));
    let id = Rcr::unique_id("pause");
    ok_detached(&rcr, &["run", "--detach", "--bundle", b.path_str(), &id]);
    let (init, child) = (b.rootfs().join("init"), b.rootfs().join("child"));
    wait_for_file(&init);
    wait_for_file(&child);

    rcr.ok(&["pause", &id]);
    assert_eq!(status(&rcr, &id), "paused");
    let list = rcr.ok(&["list"]);
    assert!(list.lines().any(|l| l.starts_with(&id) && l.contains("paused")), "{list}");
    match layout {
        Layout::V2 => assert_eq!(read(&cg_dir(layout, "", &id).join("cgroup.freeze")), "1"),
        _ => assert_eq!(read(&cg_dir(layout, "freezer", &id).join("freezer.state")), "FROZEN"),
    }
    let before = (read(&init), read(&child));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!((read(&init), read(&child)), before, "no process may run while paused");
    let err = rcr.fail(&["pause", &id]);
    assert!(err.contains("paused"), "{err}");

    rcr.ok(&["resume", &id]);
    assert_eq!(status(&rcr, &id), "running");
    assert!(
        wait_until(Duration::from_secs(5), || read(&init) != before.0 && read(&child) != before.1)
    );
    let err = rcr.fail(&["resume", &id]);
    assert!(err.contains("running"), "{err}");

    // A paused container can be force-deleted, and nothing is left.
    rcr.ok(&["pause", &id]);
    rcr.ok(&["delete", "--force", &id]);
    assert!(!cg_dir(layout, "freezer", &id).exists());
    assert!(!cg_dir(layout, "pids", &id).exists());
}

#[test]
fn kill_all_reaches_a_paused_container() {
    let test = "kill_all_reaches_a_paused_container";
    let Some(_) = setup(test) else { return };
    let rcr = Rcr::new(BIN);
    let b = bundle("sleep 1000 & sleep 1000", json!({}));
    let id = Rcr::unique_id("killp");
    ok_detached(&rcr, &["run", "--detach", "--bundle", b.path_str(), &id]);
    rcr.ok(&["pause", &id]);
    rcr.ok(&["kill", "--all", &id, "KILL"]);
    assert!(
        wait_until(Duration::from_secs(5), || status(&rcr, &id) == "stopped"),
        "{}",
        status(&rcr, &id)
    );
    assert_eq!(rcr.ok(&["ps", "--format", "json", &id]).trim(), "[]");
    rcr.ok(&["delete", &id]);
}

#[test]
fn stats_and_ps_describe_the_container() {
    let test = "stats_and_ps_describe_the_container";
    let Some(_) = setup(test) else { return };
    let rcr = Rcr::new(BIN);
    let b = bundle(
        "sleep 1000 & sleep 1000",
        json!({"memory": {"limit": 64 << 20}, "pids": {"limit": 50}}),
    );
    let id = Rcr::unique_id("stats");
    ok_detached(&rcr, &["run", "--detach", "--bundle", b.path_str(), &id]);
    assert!(wait_until(Duration::from_secs(5), || {
        serde_json::from_str::<Value>(&rcr.ok(&["ps", "--format", "json", &id]))
            .unwrap()
            .as_array()
            .unwrap()
            .len()
            == 2
    }));

    let line = rcr.ok(&["events", "--stats", &id]);
    assert_eq!(line.lines().count(), 1);
    let ev: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(ev["type"], "stats");
    assert_eq!(ev["id"], id.as_str());
    let data = &ev["data"];
    assert!(data["cpu"]["usage"]["total"].as_u64().unwrap() > 0, "{data}");
    assert!(data["cpu"]["usage"]["percpu"].is_array(), "{data}");
    assert_eq!(data["memory"]["usage"]["limit"], 64 << 20);
    assert!(data["memory"]["usage"]["usage"].as_u64().unwrap() > 0, "{data}");
    assert!(data["memory"]["raw"].is_object(), "{data}");
    assert_eq!(data["pids"]["current"], 2);
    assert_eq!(data["pids"]["limit"], 50);

    let state: Value = serde_json::from_str(&rcr.ok(&["state", &id])).unwrap();
    let init = state["pid"].as_i64().unwrap();
    let pids: Vec<i64> = serde_json::from_str(&rcr.ok(&["ps", "--format", "json", &id])).unwrap();
    assert!(pids.contains(&init), "{pids:?} lacks the init {init}");
    let table = rcr.ok(&["ps", &id]);
    let mut lines = table.lines();
    assert!(lines.next().unwrap().contains("PID"), "{table}");
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 2, "{table}");
    assert!(rows.iter().all(|r| r.contains("sleep 1000")), "{table}");
    let custom = rcr.ok(&["ps", &id, "-o", "pid,comm"]);
    assert!(custom.lines().skip(1).all(|l| l.trim_end().ends_with("sleep")), "{custom}");
    let err = rcr.fail(&["ps", "--format", "json", &id, "-ef"]);
    assert!(err.contains("cannot be combined"), "{err}");
    rcr.ok(&["delete", "--force", &id]);
    let err = rcr.fail(&["events", "--stats", &id]);
    assert!(err.starts_with(&format!("rcr: events {id}: ")), "{err}");
}

#[test]
fn cpu_settings_reach_the_cgroup() {
    let test = "cpu_settings_reach_the_cgroup";
    let Some(layout) = setup(test) else { return };
    let rcr = Rcr::new(BIN);
    let cpu =
        json!({"cpu": {"shares": 512, "quota": 20000, "period": 100000, "cpus": "0", "mems": "0"}});
    let b = bundle("sleep 1000", cpu);
    let id = Rcr::unique_id("cpu");
    ok_detached(&rcr, &["create", "--bundle", b.path_str(), &id]);
    if layout == Layout::V2 {
        let dir = cg_dir(layout, "", &id);
        assert_eq!(read(&dir.join("cpu.weight")), "20");
        assert_eq!(read(&dir.join("cpu.max")), "20000 100000");
        assert_eq!(read(&dir.join("cpuset.cpus")), "0");
    } else {
        let dir = cg_dir(layout, "cpu", &id);
        assert_eq!(read(&dir.join("cpu.shares")), "512");
        assert_eq!(read(&dir.join("cpu.cfs_quota_us")), "20000");
        assert_eq!(read(&dir.join("cpu.cfs_period_us")), "100000");
        assert_eq!(read(&cg_dir(layout, "cpuset", &id).join("cpuset.cpus")), "0");
        assert_eq!(read(&cg_dir(layout, "cpuset", &id).join("cpuset.mems")), "0");
    }
    rcr.ok(&["update", "--cpu-quota", "50000", "--cpu-period", "200000", &id]);
    if layout != Layout::V2 {
        let dir = cg_dir(layout, "cpu", &id);
        assert_eq!(read(&dir.join("cpu.cfs_quota_us")), "50000");
        assert_eq!(read(&dir.join("cpu.cfs_period_us")), "200000");
    }
    rcr.ok(&["delete", "--force", &id]);
}

#[test]
fn device_rules_allow_and_deny() {
    let test = "device_rules_allow_and_deny";
    let Some(_) = setup(test) else { return };
    let rcr = Rcr::new(BIN);
    // /dev/kmsg (1:11) is not one of the devices every container may use,
    // so with "deny all" only an explicit rule lets the container open it.
    let script = "( : < /dev/null ) 2>/dev/null && echo null-ok; \
                  ( : < /dev/kmsg2 ) 2>/dev/null && echo kmsg-ok || echo kmsg-denied";
    for (rule, want) in [
        (None, "null-ok\nkmsg-denied"),
        (
            Some(json!({"allow": true, "type": "c", "major": 1, "minor": 11, "access": "r"})),
            "null-ok\nkmsg-ok",
        ),
    ] {
        let mut devices = vec![json!({"allow": false, "access": "rwm"})];
        devices.extend(rule);
        let b = bundle(script, json!({"devices": devices}));
        b.edit(|c| {
            c["linux"]["devices"] = json!([{"path": "/dev/kmsg2", "type": "c", "major": 1, "minor": 11, "fileMode": 0o644}]);
            // Reading the kernel log also needs CAP_SYSLOG: the device rule
            // must be the only thing that differs between the two runs.
            for set in ["bounding", "effective", "permitted"] {
                c["process"]["capabilities"][set].as_array_mut().unwrap().push(json!("CAP_SYSLOG"));
            }
        });
        let out = rcr.run(&["run", "--bundle", b.path_str(), &Rcr::unique_id("dev")]);
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), want, "{out:?}");
    }
}

#[test]
fn failed_resources_fail_create_and_leave_nothing() {
    let test = "failed_resources_fail_create_and_leave_nothing";
    let Some(layout) = setup(test) else { return };
    let rcr = Rcr::new(BIN);
    // memory+swap below the memory limit is refused by the kernel.
    let b = bundle("true", json!({"memory": {"limit": 32 << 20, "swap": 1 << 20}}));
    let id = Rcr::unique_id("badres");
    let err = rcr.fail(&["create", "--bundle", b.path_str(), &id]);
    let want = match layout {
        Layout::V2 => "linux.resources.memory.swap: swap is memory plus swap",
        _ => "linux.resources.memory.swap: write memory.memsw.limit_in_bytes: Invalid argument",
    };
    assert!(err.contains(want), "{err}");
    assert!(!cg_dir(layout, "memory", &id).exists(), "the cgroup is removed");
    assert!(!cg_dir(layout, "pids", &id).exists(), "the cgroup is removed");
    assert!(!rcr.root().join(&id).exists(), "no state is left");

    let b = bundle("true", json!({"network": {"classID": 7}}));
    if !PathBuf::from("/sys/fs/cgroup/net_cls").exists() {
        let err = rcr.fail(&["create", "--bundle", b.path_str(), &id]);
        assert!(err.contains("linux.resources.network.classID: the net_cls (cgroup v1) controller is not available"), "{err}");
        assert!(!cg_dir(layout, "memory", &id).exists());
    }
    let b = bundle("true", json!({"unified": {"../memory.max": "1"}}));
    if layout != Layout::V1 {
        let err = rcr.fail(&["create", "--bundle", b.path_str(), &id]);
        assert!(err.contains("not the name of a cgroup interface file"), "{err}");
    }
}

#[test]
fn hugetlb_and_blkio_limits() {
    let test = "hugetlb_and_blkio_limits";
    let Some(layout) = setup(test) else { return };
    let rcr = Rcr::new(BIN);
    let Some(dev) = fs::read_dir("/sys/block").ok().and_then(|d| {
        d.flatten().find_map(|e| {
            fs::read_to_string(e.path().join("dev")).ok().map(|s| s.trim().to_owned())
        })
    }) else {
        skip(test, "no block device in /sys/block");
        return;
    };
    let (major, minor) = dev.split_once(':').unwrap();
    let (major, minor): (i64, i64) = (major.parse().unwrap(), minor.parse().unwrap());
    let mut res = json!({"blockIO": {"throttleReadBpsDevice": [{"major": major, "minor": minor, "rate": 1048576}]}});
    let hugetlb = PathBuf::from("/sys/kernel/mm/hugepages/hugepages-2048kB").exists();
    if hugetlb {
        res["hugepageLimits"] = json!([{"pageSize": "2MB", "limit": 4 << 20}]);
    } else {
        skip(test, "hugetlb part: no 2MB huge pages on this kernel");
    }
    let b = bundle("sleep 1000", res);
    let id = Rcr::unique_id("hblk");
    ok_detached(&rcr, &["create", "--bundle", b.path_str(), &id]);
    let blkio = match layout {
        Layout::V2 => read(&cg_dir(layout, "", &id).join("io.max")),
        _ => read(&cg_dir(layout, "blkio", &id).join("blkio.throttle.read_bps_device")),
    };
    assert!(blkio.contains(&dev) && blkio.contains("1048576"), "{blkio}");
    if hugetlb {
        // On a hybrid host without a v1 hugetlb hierarchy the limit goes
        // to the unified hierarchy.
        let file = if PathBuf::from("/sys/fs/cgroup/hugetlb").exists() {
            cg_dir(layout, "hugetlb", &id).join("hugetlb.2MB.limit_in_bytes")
        } else if layout == Layout::V2 {
            cg_dir(layout, "", &id).join("hugetlb.2MB.max")
        } else {
            PathBuf::from(format!("/sys/fs/cgroup/unified/rcr/{id}/hugetlb.2MB.max"))
        };
        assert_eq!(read(&file), (4 << 20).to_string());
    }
    rcr.ok(&["delete", "--force", &id]);

    // Proportional weights need a scheduler that supports them (BFQ).
    let weight = ["/sys/fs/cgroup/blkio/blkio.weight", "/sys/fs/cgroup/blkio/blkio.bfq.weight"]
        .iter()
        .any(|p| PathBuf::from(p).exists());
    if layout == Layout::V2 || !weight {
        skip(test, "blkio weight part: the kernel offers no blkio weight file (no BFQ/CFQ)");
        return;
    }
    let b = bundle("sleep 1000", json!({"blockIO": {"weight": 300}}));
    let id = Rcr::unique_id("bw");
    ok_detached(&rcr, &["create", "--bundle", b.path_str(), &id]);
    let dir = cg_dir(layout, "blkio", &id);
    let w = fs::read_to_string(dir.join("blkio.weight"))
        .or_else(|_| fs::read_to_string(dir.join("blkio.bfq.weight")));
    assert!(w.unwrap().contains("300"));
    rcr.ok(&["delete", "--force", &id]);
}

#[test]
fn events_stream_stats_until_the_container_stops() {
    let test = "events_stream_stats_until_the_container_stops";
    let Some(_) = setup(test) else { return };
    let rcr = Rcr::new(BIN);
    let b = bundle("sleep 1000", json!({}));
    let id = Rcr::unique_id("ev");
    ok_detached(&rcr, &["run", "--detach", "--bundle", b.path_str(), &id]);
    let events =
        rcr.cmd(&["events", "--interval", "200ms", &id]).stdout(Stdio::piped()).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    rcr.ok(&["kill", &id, "KILL"]);
    let out = events.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let stats = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(r#""type":"stats""#))
        .count();
    assert!((3..=7).contains(&stats), "{stats} stats records in 1.1s at 200ms");
    rcr.ok(&["delete", &id]);
}

/// The host's view of `pid`'s cgroups: (hierarchy line prefix, path).
fn cgroups_of(pid: &str) -> Vec<(String, String)> {
    read(&PathBuf::from(format!("/proc/{pid}/cgroup")))
        .lines()
        .filter_map(|l| l.rsplit_once(':'))
        .map(|(h, p)| (h.to_owned(), p.to_owned()))
        .collect()
}

#[test]
fn init_exec_and_their_children_are_in_every_hierarchy() {
    // The init and exec'd processes join by themselves (v1 `tasks`) or are
    // forked into the cgroup (clone3 on the unified hierarchy): check each
    // hierarchy the host has, from the host.
    let test = "init_exec_and_their_children_are_in_every_hierarchy";
    let Some(layout) = setup(test) else { return };
    let rcr = Rcr::new(BIN);
    let b = bundle("sleep 1000 & wait", json!({"pids": {"limit": 100}}));
    let id = Rcr::unique_id("join");
    let want = format!("/rcr/{id}");
    ok_detached(&rcr, &["run", "--detach", "--bundle", b.path_str(), &id]);
    let state: Value = serde_json::from_str(&rcr.ok(&["state", &id])).unwrap();
    let init = state["pid"].as_i64().unwrap().to_string();
    let host = cgroups_of("self");
    let mut checked = vec![];
    for (who, pid) in [("init", init.clone())] {
        let own = cgroups_of(&pid);
        assert_eq!(own.len(), host.len(), "{who}: {own:?}");
        for (hierarchy, path) in own {
            assert_eq!(path, want, "{who} in hierarchy {hierarchy}");
            checked.push(hierarchy);
        }
    }
    if layout == Layout::Hybrid {
        assert!(checked.iter().any(|h| h == "0:"), "the unified hierarchy: {checked:?}");
    }
    // The init's child (forked after the join) and an exec'd process.
    let children = PathBuf::from(format!("/proc/{init}/task/{init}/children"));
    assert!(wait_until(Duration::from_secs(10), || !read(&children).is_empty()), "no child");
    let child = read(&children).split_whitespace().next().unwrap().to_owned();
    let pid_file = b.path().join("exec.pid");
    let pid_file = pid_file.to_str().unwrap();
    ok_detached(&rcr, &["exec", "--detach", "--pid-file", pid_file, &id, "sleep", "1000"]);
    let exec_pid = read(&PathBuf::from(pid_file));
    for (who, pid) in [("init's child", child), ("exec", exec_pid)] {
        let own = cgroups_of(&pid);
        assert_eq!(own.len(), host.len(), "{who}: {own:?}");
        assert!(own.iter().all(|(_, path)| *path == want), "{who}: {own:?}");
    }
    // The pids limit counts them all: init, its child, the exec'd sleep.
    let current = if layout == Layout::V2 {
        read(&cg_dir(layout, "", &id).join("pids.current"))
    } else {
        read(&cg_dir(layout, "pids", &id).join("pids.current"))
    };
    assert_eq!(current, "3");
    rcr.ok(&["delete", "--force", &id]);
}
