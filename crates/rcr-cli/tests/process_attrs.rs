//! End-to-end tests of the process attributes: capabilities, rlimits,
//! oomScoreAdj, scheduler, ioPriority, execCPUAffinity, personality and
//! linux.sysctl. Each test runs real containers with `rcr run` and checks
//! what the probe inside reports, or that a bad config is refused with the
//! field named and nothing left behind.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::fs;

use common::*;
use rcr_testkit::{require_busybox, skip};
use serde_json::{json, Value};

fn ready(test: &str) -> bool {
    require_root(test) && require_busybox(test)
}

/// Runs the bundle in the foreground; returns the probe's report and stderr.
fn run(bundle: &Bundle) -> (Value, String) {
    let rcr = rcr();
    let id = Rcr::unique_id("attrs");
    let out = capture(&rcr, &["run", "--bundle", bundle.path_str(), &id]);
    assert!(out.status.success(), "rcr run failed {}", out.describe());
    (probe_report(&out.stdout()), out.stderr())
}

fn report(bundle: &Bundle) -> Value {
    run(bundle).0
}

/// `rcr run` must fail and leave nothing behind; returns its stderr.
fn refused(bundle: &Bundle) -> String {
    let rcr = rcr();
    let id = Rcr::unique_id("attrs");
    let out = capture(&rcr, &["run", "--bundle", bundle.path_str(), &id]);
    assert!(!out.status.success(), "rcr run unexpectedly succeeded {}", out.describe());
    assert_no_leftovers(&rcr, &id);
    out.stderr()
}

fn names(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect()
}

fn set(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn caps_of(report: &Value, which: &str) -> BTreeSet<String> {
    names(&report["capabilities"][which])
}

const SETS: [&str; 5] = ["bounding", "effective", "permitted", "inheritable", "ambient"];

#[test]
fn default_config_has_runc_default_capabilities() {
    if !ready("default_config_has_runc_default_capabilities") {
        return;
    }
    let r = report(&Bundle::busybox());
    let defaults = set(&["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    for which in ["bounding", "effective", "permitted"] {
        assert_eq!(caps_of(&r, which), defaults, "{which}: {r:#}");
    }
    assert_eq!(caps_of(&r, "inheritable"), set(&[]));
    assert_eq!(caps_of(&r, "ambient"), set(&[]));
}

#[test]
fn root_gets_exactly_the_configured_sets() {
    if !ready("root_gets_exactly_the_configured_sets") {
        return;
    }
    let bundle = Bundle::busybox();
    let kept = ["CAP_CHOWN", "CAP_NET_RAW", "CAP_SYS_PTRACE", "CAP_SETUID"];
    bundle.edit(|c| {
        c["process"]["capabilities"] = json!({"bounding": kept, "effective": kept, "permitted": kept,
            "inheritable": kept, "ambient": ["CAP_CHOWN", "CAP_NET_RAW"]});
    });
    let r = report(&bundle);
    for which in ["bounding", "effective", "permitted", "inheritable"] {
        assert_eq!(caps_of(&r, which), set(&kept), "{which}: {r:#}");
    }
    assert_eq!(caps_of(&r, "ambient"), set(&["CAP_CHOWN", "CAP_NET_RAW"]));
    assert_eq!(r["uid"], 0);
}

#[test]
fn non_root_user_gets_capabilities_through_the_ambient_set() {
    if !ready("non_root_user_gets_capabilities_through_the_ambient_set") {
        return;
    }
    let bundle = Bundle::busybox();
    let kept = ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW"];
    bundle.edit(|c| {
        c["process"]["user"] = json!({"uid": 1000, "gid": 1000, "additionalGids": [5], "umask": 63});
        c["process"]["capabilities"] = json!({"bounding": kept, "effective": kept, "permitted": kept,
            "inheritable": kept, "ambient": kept});
    });
    let r = report(&bundle);
    for which in SETS {
        assert_eq!(caps_of(&r, which), set(&kept), "{which}: {r:#}");
    }
    // The user, groups, umask and no_new_privs still hold next to them.
    assert_eq!(
        (r["uid"].clone(), r["euid"].clone(), r["gid"].clone()),
        (json!(1000), json!(1000), json!(1000))
    );
    assert_eq!(r["groups"], json!([5]));
    assert_eq!(r["umask"], "0077");
    assert_eq!(r["no_new_privs"], true);
}

#[test]
fn non_root_user_without_ambient_capabilities_has_none_after_exec() {
    if !ready("non_root_user_without_ambient_capabilities_has_none_after_exec") {
        return;
    }
    let bundle = Bundle::busybox();
    bundle.edit(|c| c["process"]["user"] = json!({"uid": 1000, "gid": 1000}));
    let r = report(&bundle);
    // The default sets survive the user switch, but exec of a file without
    // file capabilities clears them for a non-root user, as with runc.
    for which in ["effective", "permitted", "inheritable", "ambient"] {
        assert_eq!(caps_of(&r, which), set(&[]), "{which}: {r:#}");
    }
    assert_eq!(
        caps_of(&r, "bounding"),
        set(&["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"])
    );
    assert_eq!(r["uid"], 1000);
}

#[test]
fn missing_capabilities_mean_none() {
    if !ready("missing_capabilities_mean_none") {
        return;
    }
    let bundle = Bundle::busybox();
    bundle.edit(|c| {
        c["process"].as_object_mut().unwrap().remove("capabilities");
    });
    let r = report(&bundle);
    for which in SETS {
        assert_eq!(caps_of(&r, which), set(&[]), "{which}: {r:#}");
    }
    assert_eq!(r["uid"], 0);
}

#[test]
fn unknown_capability_is_refused() {
    if !ready("unknown_capability_is_refused") {
        return;
    }
    let bundle = Bundle::busybox();
    bundle.edit(|c| c["process"]["capabilities"]["effective"] = json!(["CAP_KILL", "CAP_TEST"]));
    let e = refused(&bundle);
    assert!(e.contains("process.capabilities.effective[1]") && e.contains("CAP_TEST"), "{e}");
}

#[test]
fn capabilities_that_cannot_be_granted_are_warnings() {
    if !ready("capabilities_that_cannot_be_granted_are_warnings") {
        return;
    }
    let bundle = Bundle::busybox();
    bundle.edit(|c| {
        c["process"]["capabilities"] = json!({"bounding": ["CAP_KILL"], "effective": ["CAP_KILL", "CAP_CHOWN"],
            "permitted": ["CAP_KILL"], "ambient": ["CAP_KILL"]});
    });
    let (r, stderr) = run(&bundle);
    assert!(
        stderr.contains(
            "process.capabilities.effective: ignoring CAP_CHOWN: not in the permitted set"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("process.capabilities.ambient: ignoring CAP_KILL"), "{stderr}");
    assert_eq!(caps_of(&r, "effective"), set(&["CAP_KILL"]));
    assert_eq!(caps_of(&r, "ambient"), set(&[]));
}

/// Whether this test process holds capability `n` (the tests also run in
/// restricted sandboxes, e.g. without `CAP_SYS_RESOURCE`).
fn holds(n: u32) -> bool {
    let status = fs::read_to_string("/proc/self/status").unwrap();
    let eff = status.lines().find_map(|l| l.strip_prefix("CapEff:")).unwrap().trim();
    u64::from_str_radix(eff, 16).unwrap() & 1 << n != 0
}

const CAP_SYS_RESOURCE: u32 = 24;

fn shown(v: u64) -> Value {
    if v == u64::MAX {
        json!("unlimited")
    } else {
        json!(v)
    }
}

/// Every capability runtime-spec names, by number.
const ALL_CAPS: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

#[test]
fn privileged_config_gets_what_the_runtime_holds() {
    if !ready("privileged_config_gets_what_the_runtime_holds") {
        return;
    }
    let bundle = Bundle::busybox();
    let all = &ALL_CAPS[..];
    bundle.edit(|c| {
        c["process"]["capabilities"] = json!({"bounding": all, "effective": all,
            "permitted": all, "inheritable": all, "ambient": all});
    });
    let (r, stderr) = run(&bundle);
    let held: BTreeSet<String> =
        (0..41).filter(|&n| holds(n)).map(|n| ALL_CAPS[n as usize].to_owned()).collect();
    for which in SETS {
        assert_eq!(caps_of(&r, which), held, "{which}: {r:#}");
    }
    // runtime-spec: what cannot be granted is a warning, not a failure.
    for (n, name) in ALL_CAPS.iter().enumerate().filter(|&(n, _)| !holds(n as u32)) {
        assert!(
            stderr.contains(&format!("ignoring {name}: not held by the runtime")),
            "{n}: {stderr}"
        );
    }
    if held.len() == ALL_CAPS.len() {
        assert!(!stderr.contains("ignoring"), "{stderr}");
    }
}

#[test]
fn rlimits_are_applied() {
    if !ready("rlimits_are_applied") {
        return;
    }
    use nix::sys::resource::{getrlimit, Resource};
    let bundle = Bundle::busybox();
    let gib: u64 = 1 << 30;
    let wanted = [
        ("RLIMIT_AS", Resource::RLIMIT_AS, gib, 2 * gib),
        ("RLIMIT_CORE", Resource::RLIMIT_CORE, 3 * gib, 4 * gib),
        ("RLIMIT_CPU", Resource::RLIMIT_CPU, 60, 120),
        ("RLIMIT_DATA", Resource::RLIMIT_DATA, 5 * gib, 6 * gib),
        ("RLIMIT_FSIZE", Resource::RLIMIT_FSIZE, 7 * gib, 8 * gib),
        ("RLIMIT_LOCKS", Resource::RLIMIT_LOCKS, 100, 200),
        ("RLIMIT_MEMLOCK", Resource::RLIMIT_MEMLOCK, 65536, 131_072),
        ("RLIMIT_MSGQUEUE", Resource::RLIMIT_MSGQUEUE, 1000, 2000),
        ("RLIMIT_NICE", Resource::RLIMIT_NICE, 1, 2),
        ("RLIMIT_NOFILE", Resource::RLIMIT_NOFILE, 3000, 4000),
        ("RLIMIT_NPROC", Resource::RLIMIT_NPROC, 500, 600),
        ("RLIMIT_RSS", Resource::RLIMIT_RSS, gib, gib),
        ("RLIMIT_RTPRIO", Resource::RLIMIT_RTPRIO, 0, 10),
        ("RLIMIT_RTTIME", Resource::RLIMIT_RTTIME, 1_000_000, 2_000_000),
        ("RLIMIT_SIGPENDING", Resource::RLIMIT_SIGPENDING, 300, 400),
        ("RLIMIT_STACK", Resource::RLIMIT_STACK, 8 << 20, u64::MAX),
    ];
    // Without CAP_SYS_RESOURCE no hard limit can be raised above ours.
    let privileged = holds(CAP_SYS_RESOURCE);
    let limits: Vec<(&str, u64, u64)> = wanted
        .iter()
        .map(|&(name, resource, soft, hard)| {
            let ours = getrlimit(resource).unwrap().1;
            let hard = if privileged { hard } else { hard.min(ours) };
            (name, soft.min(hard), hard)
        })
        .collect();
    bundle.edit(|c| {
        c["process"]["rlimits"] = limits
            .iter()
            .map(|(t, soft, hard)| json!({"type": t, "soft": soft, "hard": hard}))
            .collect();
    });
    let r = report(&bundle);
    for (t, soft, hard) in &limits {
        let got = &r["rlimits"][*t];
        assert_eq!(
            *got,
            json!({"soft": shown(*soft), "hard": shown(*hard)}),
            "{t}: {:#}",
            r["rlimits"]
        );
    }
}

#[test]
fn raising_a_hard_limit_needs_cap_sys_resource() {
    if !ready("raising_a_hard_limit_needs_cap_sys_resource") {
        return;
    }
    let ours =
        nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).unwrap().1;
    if ours == u64::MAX {
        skip("raising_a_hard_limit_needs_cap_sys_resource", "RLIMIT_NOFILE is unlimited here");
        return;
    }
    let bundle = Bundle::busybox();
    let above = ours + 1;
    bundle.edit(|c| {
        c["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": 64, "hard": above}])
    });
    if holds(CAP_SYS_RESOURCE) {
        assert_eq!(report(&bundle)["rlimits"]["RLIMIT_NOFILE"], json!({"soft": 64, "hard": above}));
    } else {
        let e = refused(&bundle);
        assert!(
            e.contains(&format!("set RLIMIT_NOFILE to 64 (hard {above}): operation not permitted")),
            "{e}"
        );
    }
}

#[test]
fn bad_rlimits_are_refused() {
    if !ready("bad_rlimits_are_refused") {
        return;
    }
    let bundle = Bundle::busybox();
    bundle.edit(|c| {
        c["process"]["rlimits"] = json!([{"type": "RLIMIT_CORE", "soft": 0, "hard": 0},
            {"type": "RLIMIT_CORE", "soft": 1, "hard": 1}]);
    });
    let e = refused(&bundle);
    assert!(e.contains("process.rlimits[1]: RLIMIT_CORE is listed more than once"), "{e}");

    bundle.edit(|c| {
        c["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": 10, "hard": 5}])
    });
    let e = refused(&bundle);
    assert!(
        e.contains(
            "process.rlimits[0]: RLIMIT_NOFILE: the soft limit 10 is above the hard limit 5"
        ),
        "{e}"
    );

    bundle
        .edit(|c| c["process"]["rlimits"] = json!([{"type": "RLIMIT_TEST", "soft": 1, "hard": 1}]));
    let e = refused(&bundle);
    assert!(e.contains("process.rlimits[0].type") && e.contains("RLIMIT_TEST"), "{e}");
}

#[test]
fn oom_score_adj_is_set_or_inherited() {
    if !ready("oom_score_adj_is_set_or_inherited") {
        return;
    }
    let bundle = Bundle::busybox();
    for value in [500, 1000] {
        bundle.edit(|c| c["process"]["oomScoreAdj"] = json!(value));
        assert_eq!(report(&bundle)["oom_score_adj"], value);
    }
    // Lowering the score below ours is a privilege (CAP_SYS_RESOURCE).
    bundle.edit(|c| c["process"]["oomScoreAdj"] = json!(-300));
    if holds(CAP_SYS_RESOURCE) {
        assert_eq!(report(&bundle)["oom_score_adj"], -300);
    } else {
        let e = refused(&bundle);
        assert!(e.contains("set oom_score_adj to -300: permission denied"), "{e}");
    }
    bundle.edit(|c| {
        c["process"].as_object_mut().unwrap().remove("oomScoreAdj");
    });
    let own: i64 = fs::read_to_string("/proc/self/oom_score_adj").unwrap().trim().parse().unwrap();
    assert_eq!(report(&bundle)["oom_score_adj"], own, "an unset oomScoreAdj must not be changed");

    bundle.edit(|c| c["process"]["oomScoreAdj"] = json!(1001));
    let e = refused(&bundle);
    assert!(e.contains("process.oomScoreAdj: 1001 is outside -1000..1000"), "{e}");
}

#[test]
fn scheduler_policy_and_nice_are_applied() {
    if !ready("scheduler_policy_and_nice_are_applied") {
        return;
    }
    let bundle = Bundle::busybox();
    bundle.edit(|c| c["process"]["scheduler"] = json!({"policy": "SCHED_BATCH", "nice": 7}));
    let r = report(&bundle);
    assert_eq!((r["sched_policy"].clone(), r["nice"].clone()), (json!(3), json!(7)), "{r:#}");

    bundle.edit(|c| c["process"]["scheduler"] = json!({"policy": "SCHED_IDLE"}));
    assert_eq!(report(&bundle)["sched_policy"], 5);

    // The spec's flag names, which oci-spec alone would refuse.
    bundle.edit(|c| {
        c["process"]["scheduler"] =
            json!({"policy": "SCHED_OTHER", "nice": -5, "flags": ["SCHED_FLAG_RESET_ON_FORK"]});
    });
    let r = report(&bundle);
    assert_eq!((r["sched_policy"].clone(), r["nice"].clone()), (json!(0), json!(-5)), "{r:#}");
}

#[test]
fn bad_schedulers_are_refused() {
    if !ready("bad_schedulers_are_refused") {
        return;
    }
    let bundle = Bundle::busybox();
    for (scheduler, expected) in [
        (
            json!({"policy": "SCHED_FIFO"}),
            "process.scheduler.priority: SCHED_FIFO needs a priority from 1 to 99",
        ),
        (
            json!({"policy": "SCHED_OTHER", "nice": 42}),
            "process.scheduler.nice: 42 is outside -20..19",
        ),
        (
            json!({"policy": "SCHED_ISO"}),
            "process.scheduler.policy: SCHED_ISO is not implemented by Linux",
        ),
        (json!({"policy": "SCHED_NOPE"}), "process.scheduler.policy"),
    ] {
        bundle.edit(|c| c["process"]["scheduler"] = scheduler.clone());
        let e = refused(&bundle);
        assert!(e.contains(expected), "{scheduler}: {e}");
    }
}

#[test]
fn io_priority_is_applied() {
    if !ready("io_priority_is_applied") {
        return;
    }
    let bundle = Bundle::busybox();
    bundle
        .edit(|c| c["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_BE", "priority": 6}));
    assert_eq!(report(&bundle)["ioprio"], json!({"class": 2, "level": 6}));
    bundle.edit(|c| {
        c["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_IDLE", "priority": 0})
    });
    assert_eq!(report(&bundle)["ioprio"]["class"], 3);
    bundle
        .edit(|c| c["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_RT", "priority": 8}));
    let e = refused(&bundle);
    assert!(
        e.contains("process.ioPriority.priority: 8 is outside 0 (highest) to 7 (lowest)"),
        "{e}"
    );
}

#[test]
fn exec_cpu_affinity_does_not_apply_to_the_init_process() {
    const TEST: &str = "exec_cpu_affinity_does_not_apply_to_the_init_process";
    if !ready(TEST) {
        return;
    }
    let status = fs::read_to_string("/proc/self/status").unwrap();
    let own = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .unwrap()
        .trim()
        .to_owned();
    if own == "0" {
        skip(TEST, "needs more than one CPU to tell the affinities apart");
        return;
    }
    let bundle = Bundle::busybox();
    bundle.edit(|c| c["process"]["execCPUAffinity"] = json!({"initial": "0", "final": "0"}));
    // runtime-spec: "This setting is not applicable to the container's init
    // process" (it is for `exec`); the cgroup's CPUs stay in force.
    assert_eq!(report(&bundle)["cpus_allowed_list"], own.as_str());
    bundle.edit(|c| c["process"]["execCPUAffinity"] = json!({"final": "3-1"}));
    let e = refused(&bundle);
    assert!(e.contains("process.execCPUAffinity.final") && e.contains("backwards"), "{e}");
}

#[test]
fn personality_is_applied() {
    if !ready("personality_is_applied") {
        return;
    }
    let bundle = Bundle::busybox();
    let host = report(&bundle);
    assert_eq!(host["personality"], 0);
    bundle.edit(|c| c["linux"]["personality"] = json!({"domain": "LINUX32"}));
    let r = report(&bundle);
    assert_eq!(r["personality"].as_u64().unwrap() & 0xff, 8, "{r:#}");
    if host["machine"] == "x86_64" {
        assert_eq!(r["machine"], "i686");
    }
    bundle.edit(|c| c["linux"]["personality"] = json!({"domain": "LINUX", "flags": ["SOMETHING"]}));
    let (r, stderr) = run(&bundle);
    assert_eq!(r["personality"], 0);
    assert_eq!(r["machine"], host["machine"]);
    assert!(stderr.contains("ignoring linux.personality.flags"), "{stderr}");
}

fn host_sysctl(name: &str) -> String {
    fs::read_to_string(format!("/proc/sys/{}", name.replace('.', "/"))).unwrap().trim().to_owned()
}

#[test]
fn namespaced_sysctls_are_written_in_the_container_only() {
    if !ready("namespaced_sysctls_are_written_in_the_container_only") {
        return;
    }
    let names = ["net.ipv4.ip_forward", "kernel.shmmax", "kernel.msgmax", "fs.mqueue.msg_max"];
    let before: Vec<String> = names.iter().map(|n| host_sysctl(n)).collect();
    let forward = if before[0] == "1" { "0" } else { "1" };
    let bundle = Bundle::busybox();
    bundle.edit(|c| {
        c["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": forward, "kernel.shmmax": "4096",
            "kernel.msgmax": "4000", "fs/mqueue/msg_max": "20"});
    });
    // The default config has /proc/sys among the read-only paths: the
    // sysctls must be written before those are applied.
    assert!(bundle.config()["linux"]["readonlyPaths"]
        .as_array()
        .unwrap()
        .contains(&json!("/proc/sys")));
    let r = report(&bundle);
    assert_eq!(
        r["sysctl"],
        json!({"net.ipv4.ip_forward": forward, "net.core.somaxconn": r["sysctl"]["net.core.somaxconn"],
               "kernel.shmmax": "4096", "kernel.msgmax": "4000", "fs.mqueue.msg_max": "20"})
    );
    let after: Vec<String> = names.iter().map(|n| host_sysctl(n)).collect();
    assert_eq!(before, after, "the host's values changed");

    // And /proc/sys is read-only again for the container process.
    bundle.set_args(&["/rcr-probe", "write", "/proc/sys/net/ipv4/ip_forward"]);
    let w = report(&bundle);
    assert_eq!(w["/proc/sys/net/ipv4/ip_forward"]["errno"], libc::EROFS, "{w:#}");
}

#[test]
fn host_wide_sysctls_are_refused() {
    if !ready("host_wide_sysctls_are_refused") {
        return;
    }
    let before = host_sysctl("kernel.panic");
    let bundle = Bundle::busybox();
    bundle.edit(|c| c["linux"]["sysctl"] = json!({"kernel.panic": "5"}));
    let e = refused(&bundle);
    assert!(
        e.contains("linux.sysctl: \"kernel.panic\" is not in a namespace of the container"),
        "{e}"
    );
    assert_eq!(host_sysctl("kernel.panic"), before);

    // net.* with the host's network namespace.
    bundle.edit(|c| {
        c["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
        c["linux"]["namespaces"] =
            json!([{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}]);
    });
    let e = refused(&bundle);
    assert!(e.contains("linux.sysctl: \"net.ipv4.ip_forward\" needs a network namespace of the container's own"), "{e}");

    // IPC parameters with the host's ipc namespace.
    bundle.edit(|c| {
        c["linux"]["sysctl"] = json!({"kernel.shmmax": "4096"});
        c["linux"]["namespaces"] =
            json!([{"type": "pid"}, {"type": "network"}, {"type": "uts"}, {"type": "mount"}]);
    });
    let e = refused(&bundle);
    assert!(
        e.contains("linux.sysctl: \"kernel.shmmax\" needs an ipc namespace of the container's own"),
        "{e}"
    );
}
