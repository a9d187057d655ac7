//! End-to-end tests of `linux.seccomp`: real containers under real filters,
//! observed through busybox and the probe (`rcr-probe syscall NR ARGS...`
//! reports a raw syscall's return value or errno).

#![allow(clippy::unwrap_used)]

use std::fs;
use std::io::IoSliceMut;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use libseccomp::{ScmpNotifReq, ScmpNotifResp, ScmpNotifRespFlags};
mod common;

use common::{probe_report, rcr, seccomp_ready, Bundle, Rcr};
use rcr_testkit::skip;
use serde_json::{json, Value};

const EACCES: i32 = 13;
const EXDEV: i32 = 18;
const ENOSYS: i32 = 38;
const ENOMEDIUM: i32 = 123;
/// `rcr run`'s exit code for a container killed by SIGSYS (128 + 31).
const KILLED_BY_SIGSYS: i32 = 159;

/// A busybox bundle whose config has `profile` as `linux.seccomp`.
fn bundle_with(profile: Value) -> Bundle {
    let bundle = Bundle::busybox();
    bundle.edit(|c| c["linux"]["seccomp"] = profile);
    bundle
}

fn run(rcr: &Rcr, bundle: &Bundle, prefix: &str) -> Output {
    let id = Rcr::unique_id(prefix);
    rcr.run(&["run", "--bundle", bundle.path_str(), &id])
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs `/rcr-probe syscall NR ARGS...` in the bundle and returns its report.
fn probe_syscall(rcr: &Rcr, bundle: &Bundle, nr: i64, args: &[u64]) -> Value {
    let mut argv = vec!["/rcr-probe".to_owned(), "syscall".to_owned(), nr.to_string()];
    argv.extend(args.iter().map(u64::to_string));
    bundle.edit(|c| c["process"]["args"] = json!(argv));
    let out = run(rcr, bundle, "scmp-sys");
    assert!(out.status.success(), "{argv:?}: {}{}", stdout(&out), stderr(&out));
    probe_report(&stdout(&out))
}

/// `rcr create` must fail naming `field`, leaving no container behind.
fn assert_rejected(rcr: &Rcr, bundle: &Bundle, field: &str) -> String {
    let id = Rcr::unique_id("scmp-bad");
    let err = rcr.fail(&["create", "--bundle", bundle.path_str(), &id]);
    assert!(err.contains(field), "error does not name {field}: {err}");
    assert!(!rcr.root().join(&id).exists(), "state of {id} left behind");
    assert_eq!(rcr.ok(&["list", "-q"]).trim(), "", "a container was left behind");
    err
}

#[test]
fn errno_ret_reaches_busybox_and_probe_sees_filter_mode() {
    const TEST: &str = "errno_ret_reaches_busybox_and_probe_sees_filter_mode";
    if !seccomp_ready(TEST) {
        return;
    }
    let rcr = rcr();
    let bundle = bundle_with(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": EACCES}]
    }));
    bundle.set_args(&["sh", "-c", "mkdir /dev/shm/x; echo status=$?; ls -d /dev/shm"]);
    let out = run(&rcr, &bundle, "scmp-mkdir");
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("status=1\n/dev/shm\n"), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("can't create directory '/dev/shm/x': Permission denied"),
        "{}",
        stderr(&out)
    );

    bundle.set_args(&["/rcr-probe"]);
    let out = run(&rcr, &bundle, "scmp-mode");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(probe_report(&stdout(&out))["seccomp"], 2);

    // Without a profile the same container runs unfiltered.
    bundle.edit(|c| {
        c["linux"].as_object_mut().unwrap().remove("seccomp");
    });
    let out = run(&rcr, &bundle, "scmp-none");
    assert_eq!(probe_report(&stdout(&out))["seccomp"], 0);
}

#[test]
fn default_errno_ret_applies_to_unlisted_syscalls() {
    const TEST: &str = "default_errno_ret_applies_to_unlisted_syscalls";
    if !seccomp_ready(TEST) {
        return;
    }
    let rcr = rcr();
    let mut profile = docker_like_profile();
    profile["defaultErrnoRet"] = json!(EXDEV);
    let bundle = bundle_with(profile);
    // getppid is allowed by the profile; reboot is not, and is harmless
    // with these arguments even if it were.
    assert_eq!(
        probe_syscall(&rcr, &bundle, libc::SYS_getppid, &[]),
        json!({"ret": 0, "errno": null})
    );
    assert_eq!(
        probe_syscall(&rcr, &bundle, libc::SYS_reboot, &[0, 0, 0]),
        json!({"ret": -1, "errno": EXDEV})
    );
}

#[test]
fn argument_comparisons_select_calls() {
    const TEST: &str = "argument_comparisons_select_calls";
    if !seccomp_ready(TEST) {
        return;
    }
    let rcr = rcr();
    // getppid ignores its arguments, but the filter sees them.
    let bundle = bundle_with(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": EACCES,
             "args": [{"index": 0, "value": 42, "op": "SCMP_CMP_EQ"}]},
            {"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": EACCES,
             "args": [{"index": 1, "value": 0xff00, "valueTwo": 0x1200, "op": "SCMP_CMP_MASKED_EQ"},
                      {"index": 2, "value": 7, "op": "SCMP_CMP_GT"}]}
        ]
    }));
    let denied = json!({"ret": -1, "errno": EACCES});
    let allowed = json!({"ret": 0, "errno": null});
    assert_eq!(probe_syscall(&rcr, &bundle, libc::SYS_getppid, &[42]), denied);
    assert_eq!(probe_syscall(&rcr, &bundle, libc::SYS_getppid, &[41]), allowed);
    assert_eq!(probe_syscall(&rcr, &bundle, libc::SYS_getppid, &[0, 0x12ab, 8]), denied);
    assert_eq!(probe_syscall(&rcr, &bundle, libc::SYS_getppid, &[0, 0x12ab, 7]), allowed);
    assert_eq!(probe_syscall(&rcr, &bundle, libc::SYS_getppid, &[0, 0x13ab, 8]), allowed);
}

#[test]
fn kill_and_trap_actions_end_the_process_with_sigsys() {
    const TEST: &str = "kill_and_trap_actions_end_the_process_with_sigsys";
    if !seccomp_ready(TEST) {
        return;
    }
    let rcr = rcr();
    for action in
        ["SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP"]
    {
        let bundle = bundle_with(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["getppid"], "action": action}]
        }));
        bundle.set_args(&["/rcr-probe", "syscall", &libc::SYS_getppid.to_string()]);
        let out = run(&rcr, &bundle, "scmp-kill");
        assert_eq!(out.status.code(), Some(KILLED_BY_SIGSYS), "{action}: {}", stderr(&out));
        assert_eq!(stdout(&out), "", "{action}: the call must not return");
    }
}

#[test]
fn log_and_trace_actions_are_accepted() {
    const TEST: &str = "log_and_trace_actions_are_accepted";
    if !seccomp_ready(TEST) {
        return;
    }
    let rcr = rcr();
    let bundle = bundle_with(json!({
        "defaultAction": "SCMP_ACT_LOG",
        "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_TSYNC"],
        "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_TRACE", "errnoRet": 7}]
    }));
    // LOG lets everything through; TRACE without a tracer fails the call.
    assert_eq!(
        probe_syscall(&rcr, &bundle, libc::SYS_getpid, &[]),
        json!({"ret": 1, "errno": null})
    );
    assert_eq!(
        probe_syscall(&rcr, &bundle, libc::SYS_getppid, &[]),
        json!({"ret": -1, "errno": ENOSYS})
    );
}

#[test]
fn architectures_are_added_and_unknown_ones_rejected() {
    const TEST: &str = "architectures_are_added_and_unknown_ones_rejected";
    if !seccomp_ready(TEST) {
        return;
    }
    let rcr = rcr();
    let bundle = bundle_with(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{"names": ["getppid", "chown32"], "action": "SCMP_ACT_ERRNO", "errnoRet": EACCES}]
    }));
    assert_eq!(
        probe_syscall(&rcr, &bundle, libc::SYS_getppid, &[]),
        json!({"ret": -1, "errno": EACCES})
    );
    bundle.edit(|c| {
        c["linux"]["seccomp"]["architectures"] = json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_Z80"])
    });
    assert_rejected(&rcr, &bundle, "linux.seccomp.architectures[1]");
}

#[test]
fn bad_profiles_are_rejected_at_create_naming_the_field() {
    const TEST: &str = "bad_profiles_are_rejected_at_create_naming_the_field";
    if !seccomp_ready(TEST) {
        return;
    }
    let rcr = rcr();
    let ok = json!({"names": ["getppid"], "action": "SCMP_ACT_ERRNO"});
    let cases = [
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW",
                   "syscalls": [ok, ok, ok, {"names": ["mkdir"], "action": "SCMP_ACT_EXPLODE"}]}),
            "linux.seccomp.syscalls[3].action",
        ),
        (json!({"defaultAction": "SCMP_ACT_NOPE"}), "linux.seccomp.defaultAction"),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO",
                   "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_ROUGHLY"}]}]}),
            "linux.seccomp.syscalls[0].args[0].op",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO",
                   "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]}),
            "linux.seccomp.syscalls[0].args[0].index",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW",
                   "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ALLOW", "errnoRet": 1}]}),
            "linux.seccomp.syscalls[0].errnoRet",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_KILL", "defaultErrnoRet": 1}),
            "linux.seccomp.defaultErrnoRet",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_FAST"]}),
            "linux.seccomp.flags[0]",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": [], "action": "SCMP_ACT_ERRNO"}]}),
            "linux.seccomp.syscalls[0].names",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW",
                   "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}),
            "linux.seccomp.listenerPath",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/agent.sock",
                   "syscalls": [{"names": ["sendto"], "action": "SCMP_ACT_NOTIFY"}]}),
            "linux.seccomp.syscalls[0].names[0]",
        ),
    ];
    for (profile, field) in cases {
        assert_rejected(&rcr, &bundle_with(profile), field);
    }
}

#[test]
fn unsupported_filter_flag_fails_clearly() {
    const TEST: &str = "unsupported_filter_flag_fails_clearly";
    if !seccomp_ready(TEST) {
        return;
    }
    let rcr = rcr();
    let bundle = bundle_with(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "flags": ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
    }));
    let supported =
        libseccomp::check_api(7, libseccomp::ScmpVersion::from((2, 6, 0))).unwrap_or(false);
    if supported {
        assert_eq!(
            probe_syscall(&rcr, &bundle, libc::SYS_getppid, &[]),
            json!({"ret": 0, "errno": null})
        );
    } else {
        let err = assert_rejected(
            &rcr,
            &bundle,
            "linux.seccomp.flags: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
        );
        assert!(err.contains("libseccomp"), "{err}");
    }
}

#[test]
fn filter_is_loaded_before_dropping_to_a_user_without_no_new_privs() {
    const TEST: &str = "filter_is_loaded_before_dropping_to_a_user_without_no_new_privs";
    if !seccomp_ready(TEST) {
        return;
    }
    let rcr = rcr();
    let bundle = bundle_with(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": EACCES}]
    }));
    // Without no_new_privs only CAP_SYS_ADMIN may load a filter, and user
    // 1000 has none: the init must load it while it is still root.
    bundle.edit(|c| {
        c["process"]["noNewPrivileges"] = json!(false);
        c["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    });
    bundle.set_args(&["/rcr-probe"]);
    let out = run(&rcr, &bundle, "scmp-user");
    assert!(out.status.success(), "{}", stderr(&out));
    let report = probe_report(&stdout(&out));
    assert_eq!(report["seccomp"], 2);
    assert_eq!(report["no_new_privs"], false, "{report}");
    assert_eq!(
        probe_syscall(&rcr, &bundle, libc::SYS_getppid, &[]),
        json!({"ret": -1, "errno": EACCES})
    );
}

#[test]
fn with_no_new_privs_the_filter_only_has_to_allow_exec() {
    const TEST: &str = "with_no_new_privs_the_filter_only_has_to_allow_exec";
    if !seccomp_ready(TEST) {
        return;
    }
    let rcr = rcr();
    // Everything the runtime does after `start` (the exec fifo, the
    // protocol socket, fd handling) is denied; only the container process
    // itself runs under the filter.
    let bundle = bundle_with(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["openat", "open", "write", "sendto", "sendmsg", "close_range", "fcntl"],
                      "action": "SCMP_ACT_ERRNO"}]
    }));
    bundle.set_args(&["/rcr-probe", "exit", "7"]);
    let out = run(&rcr, &bundle, "scmp-late");
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
}

#[test]
fn docker_like_default_profile_runs_busybox() {
    const TEST: &str = "docker_like_default_profile_runs_busybox";
    if !seccomp_ready(TEST) {
        return;
    }
    let rcr = rcr();
    let bundle = bundle_with(docker_like_profile());
    for nnp in [true, false] {
        bundle.edit(|c| c["process"]["noNewPrivileges"] = json!(nnp));
        bundle.set_args(&[
            "sh",
            "-c",
            "mkdir /dev/shm/d && echo hi > /dev/shm/d/f && cat /dev/shm/d/f && ls /dev/shm/d \
             && (sleep 0; echo child) && grep -c Seccomp: /proc/self/status",
        ]);
        let out = run(&rcr, &bundle, "scmp-docker");
        assert!(out.status.success(), "nnp={nnp}: {}{}", stdout(&out), stderr(&out));
        assert_eq!(stdout(&out), "hi\nf\nchild\n1\n", "nnp={nnp}");

        bundle.set_args(&["/rcr-probe"]);
        let out = run(&rcr, &bundle, "scmp-docker");
        assert!(out.status.success(), "nnp={nnp}: {}", stderr(&out));
        assert_eq!(probe_report(&stdout(&out))["seccomp"], 2);
        // Not on the list: denied with the default errno.
        assert_eq!(
            probe_syscall(&rcr, &bundle, libc::SYS_reboot, &[0, 0, 0]),
            json!({"ret": -1, "errno": libc::EPERM})
        );
    }
}

// --- notify -----------------------------------------------------------------

/// How the test agent answers a notification.
#[derive(Debug, Clone, Copy)]
enum Answer {
    Errno(i32),
    Value(i64),
    Continue,
}

/// What the agent saw: the state document and the notified (syscall, pid).
#[derive(Debug, Default)]
struct AgentLog {
    state: Option<Value>,
    calls: Vec<(String, u32)>,
}

/// A seccomp agent on a thread: accepts one connection at `path`, takes
/// the notify fd and state, and answers every notification with `answer`
/// until the container is gone (or a deadline passes).
struct Agent {
    path: PathBuf,
    thread: JoinHandle<AgentLog>,
}

const AGENT_DEADLINE: Duration = Duration::from_secs(30);

fn poll_in(fd: BorrowedFd<'_>, ms: u16) -> bool {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
    matches!(poll(&mut fds, PollTimeout::from(ms)), Ok(n) if n > 0)
}

fn receive_state_and_fd(conn: &std::os::unix::net::UnixStream) -> (Value, OwnedFd) {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    use std::io::Read;
    let mut buf = vec![0u8; 64 * 1024];
    let mut iov = [IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg =
        recvmsg::<()>(conn.as_raw_fd(), &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC)
            .unwrap();
    let mut fd = None;
    for c in msg.cmsgs().unwrap() {
        if let ControlMessageOwned::ScmRights(fds) = c {
            assert_eq!(fds.len(), 1, "exactly one fd");
            // SAFETY: the kernel just installed this fd for us.
            fd = Some(unsafe { OwnedFd::from_raw_fd(fds[0]) });
        }
    }
    let n = msg.bytes;
    let mut doc = buf[..n].to_vec();
    // One document per connection, then EOF.
    let mut rest = Vec::new();
    (&*conn).read_to_end(&mut rest).unwrap();
    doc.extend(rest);
    (serde_json::from_slice(&doc).unwrap(), fd.expect("the notify fd came with the state"))
}

impl Agent {
    fn start(dir: &Path, answer: fn(&str) -> Answer) -> Agent {
        let path = dir.join("agent.sock");
        let listener = UnixListener::bind(&path).unwrap();
        listener.set_nonblocking(true).unwrap();
        let thread = std::thread::spawn(move || {
            let deadline = Instant::now() + AGENT_DEADLINE;
            let mut log = AgentLog::default();
            let conn = loop {
                match listener.accept() {
                    Ok((conn, _)) => break conn,
                    Err(_) if Instant::now() < deadline => {
                        poll_in(listener.as_fd(), 100);
                    }
                    Err(_) => return log,
                }
            };
            conn.set_nonblocking(false).unwrap();
            let (state, fd) = receive_state_and_fd(&conn);
            log.state = Some(state);
            while Instant::now() < deadline {
                if !poll_in(fd.as_fd(), 100) {
                    continue;
                }
                // Fails once the filter has no tasks left: the container is gone.
                let Ok(req) = ScmpNotifReq::receive(fd.as_raw_fd()) else { break };
                let name = req.data.syscall.get_name().unwrap_or_default();
                let resp = match answer(&name) {
                    Answer::Errno(e) => {
                        ScmpNotifResp::new_error(req.id, -e, ScmpNotifRespFlags::empty())
                    }
                    Answer::Value(v) => {
                        ScmpNotifResp::new_val(req.id, v, ScmpNotifRespFlags::empty())
                    }
                    Answer::Continue => {
                        ScmpNotifResp::new_continue(req.id, ScmpNotifRespFlags::CONTINUE)
                    }
                };
                log.calls.push((name, req.pid));
                // The caller may have died meanwhile; that is not our failure.
                let _ = resp.respond(fd.as_raw_fd());
            }
            log
        });
        Agent { path, thread }
    }

    fn finish(self) -> AgentLog {
        self.thread.join().expect("agent thread panicked")
    }
}

fn notify_profile(agent: &Agent, names: &[&str]) -> Value {
    json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": agent.path,
        "listenerMetadata": "rcr-test-metadata",
        "syscalls": [{"names": names, "action": "SCMP_ACT_NOTIFY"}]
    })
}

fn notify_ready(test: &str) -> bool {
    if !seccomp_ready(test) {
        return false;
    }
    if !libseccomp::check_api(6, libseccomp::ScmpVersion::from((2, 5, 0))).unwrap_or(false) {
        skip(test, "seccomp notify needs libseccomp >= 2.5 and Linux >= 5.7");
        return false;
    }
    true
}

#[test]
fn notify_agent_answers_with_a_value_and_gets_the_state() {
    const TEST: &str = "notify_agent_answers_with_a_value_and_gets_the_state";
    if !notify_ready(TEST) {
        return;
    }
    let rcr = rcr();
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::start(dir.path(), |name| match name {
        "getppid" => Answer::Value(4242),
        _ => Answer::Continue,
    });
    let bundle = bundle_with(notify_profile(&agent, &["getppid"]));
    bundle.edit(|c| c["annotations"] = json!({"org.rcr.test": "yes"}));
    let id = Rcr::unique_id("scmp-notify");
    bundle.set_args(&["/rcr-probe", "syscall", &libc::SYS_getppid.to_string()]);
    let out = rcr.run(&["run", "--bundle", bundle.path_str(), &id]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(probe_report(&stdout(&out)), json!({"ret": 4242, "errno": null}));

    let log = agent.finish();
    let state = log.state.expect("the agent got the state");
    let pid = state["pid"].as_u64().expect("pid");
    assert_eq!(state["ociVersion"], "1.2.0");
    assert_eq!(state["fds"], json!(["seccompFd"]));
    assert_eq!(state["metadata"], "rcr-test-metadata");
    assert_eq!(state["state"]["id"], id.as_str());
    assert_eq!(state["state"]["status"], "creating");
    assert_eq!(state["state"]["pid"], pid);
    assert_eq!(
        state["state"]["bundle"],
        fs::canonicalize(bundle.path()).unwrap().to_str().unwrap()
    );
    assert_eq!(state["state"]["annotations"], json!({"org.rcr.test": "yes"}));
    // The probe is the init process: the notification came from that pid.
    assert_eq!(log.calls, [("getppid".to_owned(), u32::try_from(pid).unwrap())]);
}

#[test]
fn notify_agent_errno_reaches_busybox_with_and_without_no_new_privs() {
    const TEST: &str = "notify_agent_errno_reaches_busybox_with_and_without_no_new_privs";
    if !notify_ready(TEST) {
        return;
    }
    let rcr = rcr();
    for nnp in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let agent = Agent::start(dir.path(), |name| match name {
            "mkdir" | "mkdirat" => Answer::Errno(ENOMEDIUM),
            _ => Answer::Continue,
        });
        let bundle = bundle_with(notify_profile(&agent, &["mkdir", "mkdirat"]));
        bundle.edit(|c| c["process"]["noNewPrivileges"] = json!(nnp));
        bundle.set_args(&["sh", "-c", "mkdir /dev/shm/x; echo status=$?"]);
        let out = run(&rcr, &bundle, "scmp-notify-mkdir");
        assert!(out.status.success(), "nnp={nnp}: {}", stderr(&out));
        assert_eq!(stdout(&out), "status=1\n", "nnp={nnp}");
        assert!(
            stderr(&out).contains("'/dev/shm/x': No medium found"),
            "nnp={nnp}: {}",
            stderr(&out)
        );
        let log = agent.finish();
        assert!(log.calls.iter().any(|(n, _)| n.starts_with("mkdir")), "{:?}", log.calls);
    }
}

#[test]
fn notify_for_the_runtimes_own_syscalls_does_not_deadlock() {
    const TEST: &str = "notify_for_the_runtimes_own_syscalls_does_not_deadlock";
    if !notify_ready(TEST) {
        return;
    }
    let rcr = rcr();
    // Everything the init does after loading the filter, except reporting
    // the fd itself (sendto, recvfrom: refused by the plan), goes through
    // the agent.
    let names = [
        "sendmsg",
        "openat",
        "write",
        "close",
        "execve",
        "rt_sigaction",
        "rt_sigprocmask",
        "setgroups",
        "setresuid",
        "setresgid",
        "chdir",
        "getcwd",
        "statx",
        "newfstatat",
        "fcntl",
    ];
    for nnp in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let agent = Agent::start(dir.path(), |_| Answer::Continue);
        let bundle = bundle_with(notify_profile(&agent, &names));
        bundle.edit(|c| c["process"]["noNewPrivileges"] = json!(nnp));
        bundle.set_args(&["/rcr-probe", "exit", "3"]);
        let out = run(&rcr, &bundle, "scmp-notify-own");
        assert_eq!(out.status.code(), Some(3), "nnp={nnp}: {}", stderr(&out));
        let log = agent.finish();
        let seen: Vec<&str> = log.calls.iter().map(|(n, _)| n.as_str()).collect();
        assert!(seen.contains(&"execve"), "nnp={nnp}: {seen:?}");
        assert!(
            seen.contains(&"openat"),
            "nnp={nnp}: the exec fifo is opened under the filter: {seen:?}"
        );
    }
}

#[test]
fn notify_without_a_listening_agent_fails_create_cleanly() {
    const TEST: &str = "notify_without_a_listening_agent_fails_create_cleanly";
    if !notify_ready(TEST) {
        return;
    }
    let rcr = rcr();
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nobody.sock");
    let bundle = bundle_with(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": missing,
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]
    }));
    let err = assert_rejected(&rcr, &bundle, "connect to seccomp agent at ");
    assert!(err.contains(missing.to_str().unwrap()), "{err}");
}

/// A profile shaped like Docker's default: a few hundred syscalls allowed,
/// everything else failed with EPERM, plus argument-filtered entries.
fn docker_like_profile() -> Value {
    const ALLOWED: &[&str] = &[
        "accept",
        "accept4",
        "access",
        "adjtimex",
        "alarm",
        "bind",
        "brk",
        "cachestat",
        "capget",
        "capset",
        "chdir",
        "chmod",
        "chown",
        "chown32",
        "clock_adjtime",
        "clock_adjtime64",
        "clock_getres",
        "clock_getres_time64",
        "clock_gettime",
        "clock_gettime64",
        "clock_nanosleep",
        "clock_nanosleep_time64",
        "close",
        "close_range",
        "connect",
        "copy_file_range",
        "creat",
        "dup",
        "dup2",
        "dup3",
        "epoll_create",
        "epoll_create1",
        "epoll_ctl",
        "epoll_ctl_old",
        "epoll_pwait",
        "epoll_pwait2",
        "epoll_wait",
        "epoll_wait_old",
        "eventfd",
        "eventfd2",
        "execve",
        "execveat",
        "exit",
        "exit_group",
        "faccessat",
        "faccessat2",
        "fadvise64",
        "fadvise64_64",
        "fallocate",
        "fanotify_mark",
        "fchdir",
        "fchmod",
        "fchmodat",
        "fchmodat2",
        "fchown",
        "fchown32",
        "fchownat",
        "fcntl",
        "fcntl64",
        "fdatasync",
        "fgetxattr",
        "flistxattr",
        "flock",
        "fork",
        "fremovexattr",
        "fsetxattr",
        "fstat",
        "fstat64",
        "fstatat64",
        "fstatfs",
        "fstatfs64",
        "fsync",
        "ftruncate",
        "ftruncate64",
        "futex",
        "futex_requeue",
        "futex_time64",
        "futex_wait",
        "futex_waitv",
        "futex_wake",
        "futimesat",
        "getcpu",
        "getcwd",
        "getdents",
        "getdents64",
        "getegid",
        "getegid32",
        "geteuid",
        "geteuid32",
        "getgid",
        "getgid32",
        "getgroups",
        "getgroups32",
        "getitimer",
        "getpeername",
        "getpgid",
        "getpgrp",
        "getpid",
        "getppid",
        "getpriority",
        "getrandom",
        "getresgid",
        "getresgid32",
        "getresuid",
        "getresuid32",
        "getrlimit",
        "get_robust_list",
        "getrusage",
        "getsid",
        "getsockname",
        "getsockopt",
        "get_thread_area",
        "gettid",
        "gettimeofday",
        "getuid",
        "getuid32",
        "getxattr",
        "inotify_add_watch",
        "inotify_init",
        "inotify_init1",
        "inotify_rm_watch",
        "io_cancel",
        "ioctl",
        "io_destroy",
        "io_getevents",
        "io_pgetevents",
        "io_pgetevents_time64",
        "ioprio_get",
        "ioprio_set",
        "io_setup",
        "io_submit",
        "ipc",
        "kill",
        "landlock_add_rule",
        "landlock_create_ruleset",
        "landlock_restrict_self",
        "lchown",
        "lchown32",
        "lgetxattr",
        "link",
        "linkat",
        "listen",
        "listxattr",
        "llistxattr",
        "_llseek",
        "lremovexattr",
        "lseek",
        "lsetxattr",
        "lstat",
        "lstat64",
        "madvise",
        "map_shadow_stack",
        "membarrier",
        "memfd_create",
        "memfd_secret",
        "mincore",
        "mkdir",
        "mkdirat",
        "mknod",
        "mknodat",
        "mlock",
        "mlock2",
        "mlockall",
        "mmap",
        "mmap2",
        "mprotect",
        "mq_getsetattr",
        "mq_notify",
        "mq_open",
        "mq_timedreceive",
        "mq_timedreceive_time64",
        "mq_timedsend",
        "mq_timedsend_time64",
        "mq_unlink",
        "mremap",
        "msgctl",
        "msgget",
        "msgrcv",
        "msgsnd",
        "msync",
        "munlock",
        "munlockall",
        "munmap",
        "name_to_handle_at",
        "nanosleep",
        "newfstatat",
        "_newselect",
        "open",
        "openat",
        "openat2",
        "pause",
        "pidfd_open",
        "pidfd_send_signal",
        "pipe",
        "pipe2",
        "pkey_alloc",
        "pkey_free",
        "pkey_mprotect",
        "poll",
        "ppoll",
        "ppoll_time64",
        "prctl",
        "pread64",
        "preadv",
        "preadv2",
        "prlimit64",
        "process_mrelease",
        "pselect6",
        "pselect6_time64",
        "pwrite64",
        "pwritev",
        "pwritev2",
        "read",
        "readahead",
        "readlink",
        "readlinkat",
        "readv",
        "recv",
        "recvfrom",
        "recvmmsg",
        "recvmmsg_time64",
        "recvmsg",
        "remap_file_pages",
        "removexattr",
        "rename",
        "renameat",
        "renameat2",
        "restart_syscall",
        "rmdir",
        "rseq",
        "rt_sigaction",
        "rt_sigpending",
        "rt_sigprocmask",
        "rt_sigqueueinfo",
        "rt_sigreturn",
        "rt_sigsuspend",
        "rt_sigtimedwait",
        "rt_sigtimedwait_time64",
        "rt_tgsigqueueinfo",
        "sched_getaffinity",
        "sched_getattr",
        "sched_getparam",
        "sched_get_priority_max",
        "sched_get_priority_min",
        "sched_getscheduler",
        "sched_rr_get_interval",
        "sched_rr_get_interval_time64",
        "sched_setaffinity",
        "sched_setattr",
        "sched_setparam",
        "sched_setscheduler",
        "sched_yield",
        "seccomp",
        "select",
        "semctl",
        "semget",
        "semop",
        "semtimedop",
        "semtimedop_time64",
        "send",
        "sendfile",
        "sendfile64",
        "sendmmsg",
        "sendmsg",
        "sendto",
        "setfsgid",
        "setfsgid32",
        "setfsuid",
        "setfsuid32",
        "setgid",
        "setgid32",
        "setgroups",
        "setgroups32",
        "setitimer",
        "setpgid",
        "setpriority",
        "setregid",
        "setregid32",
        "setresgid",
        "setresgid32",
        "setresuid",
        "setresuid32",
        "setreuid",
        "setreuid32",
        "setrlimit",
        "set_robust_list",
        "setsid",
        "setsockopt",
        "set_thread_area",
        "set_tid_address",
        "setuid",
        "setuid32",
        "setxattr",
        "shmat",
        "shmctl",
        "shmdt",
        "shmget",
        "shutdown",
        "sigaltstack",
        "signalfd",
        "signalfd4",
        "sigprocmask",
        "sigreturn",
        "socketcall",
        "socketpair",
        "splice",
        "stat",
        "stat64",
        "statfs",
        "statfs64",
        "statx",
        "symlink",
        "symlinkat",
        "sync",
        "sync_file_range",
        "syncfs",
        "sysinfo",
        "tee",
        "tgkill",
        "time",
        "timer_create",
        "timer_delete",
        "timer_getoverrun",
        "timer_gettime",
        "timer_gettime64",
        "timer_settime",
        "timer_settime64",
        "timerfd_create",
        "timerfd_gettime",
        "timerfd_gettime64",
        "timerfd_settime",
        "timerfd_settime64",
        "times",
        "tkill",
        "truncate",
        "truncate64",
        "ugetrlimit",
        "umask",
        "uname",
        "unlink",
        "unlinkat",
        "utime",
        "utimensat",
        "utimensat_time64",
        "utimes",
        "vfork",
        "vmsplice",
        "wait4",
        "waitid",
        "waitpid",
        "write",
        "writev",
        "arch_prctl",
        "modify_ldt",
        "clone",
    ];
    assert!(ALLOWED.len() > 350, "{}", ALLOWED.len());
    json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": libc::EPERM,
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [
            {"names": ALLOWED, "action": "SCMP_ACT_ALLOW"},
            {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}]},
            {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
            {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 0xffff_ffffu64, "op": "SCMP_CMP_EQ"}]},
            {"names": ["socket"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 40, "op": "SCMP_CMP_NE"}]},
            {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": ENOSYS},
        ]
    })
}

#[test]
fn a_profile_denying_getcwd_still_starts() {
    // runtime-tools' linux_seccomp: getcwd → ERRNO without no_new_privs, so
    // the filter is in force before the init's own cwd check would run.
    if !seccomp_ready("a_profile_denying_getcwd_still_starts") {
        return;
    }
    let rcr = rcr();
    let bundle = bundle_with(json!({"defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_ERRNO"}]}));
    bundle.edit(|c| c["process"]["noNewPrivileges"] = json!(false));
    bundle.set_args(&["/rcr-probe", "exit", "0"]);
    let out = run(&rcr, &bundle, "getcwd");
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn notify_agent_answers_sendmsg() {
    // The case: sendmsg in the notify list. The init never needs it
    // (the runtime copies the notify fd with pidfd_getfd), so the agent sees
    // the container's own sendmsg and its answer reaches the container.
    const TEST: &str = "notify_agent_answers_sendmsg";
    if !notify_ready(TEST) {
        return;
    }
    let rcr = rcr();
    for nnp in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let agent = Agent::start(dir.path(), |name| match name {
            "sendmsg" => Answer::Errno(EACCES),
            _ => Answer::Continue,
        });
        let bundle = bundle_with(notify_profile(&agent, &["sendmsg"]));
        bundle.edit(|c| c["process"]["noNewPrivileges"] = json!(nnp));
        // sendmsg(-1, NULL, 0): the agent answers before the kernel would
        // look at the arguments.
        let report = probe_syscall(&rcr, &bundle, libc::SYS_sendmsg, &[u64::MAX, 0, 0]);
        assert_eq!(report["errno"], EACCES, "nnp={nnp}: {report}");
        let log = agent.finish();
        assert!(log.calls.iter().any(|(n, _)| n == "sendmsg"), "nnp={nnp}: {:?}", log.calls);
    }
}
