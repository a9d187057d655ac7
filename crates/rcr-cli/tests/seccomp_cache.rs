//! End-to-end tests of the compiled seccomp filter cache
//! (`<root>/~seccomp/<key>`): real containers, run twice with one profile,
//! whose filter must hold whether it was compiled or read from the cache,
//! and however the cache was damaged in between.
//!
//! Whether a run compiled or hit the cache is read from its debug log.

#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{probe_report, rcr, run_detached, seccomp_ready, Bundle, Rcr};
use rcr_testkit::skip;
use serde_json::{json, Value};

/// Where the cache lives under `--root`.
const CACHE_DIR: &str = "~seccomp";
/// An entry's header: magic, key, body digest, two lengths (see
/// `rcr_linux::seccomp::cache`).
const HEADER: usize = 80;

const DENIED: i32 = libc::EPERM;

/// A profile that lets everything through but getppid, which fails with
/// EPERM.
fn profile() -> Value {
    json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{"names": ["getppid", "no_such_syscall"], "action": "SCMP_ACT_ERRNO",
                      "errnoRet": DENIED}]
    })
}

/// A busybox bundle with `profile` whose process calls getppid through the
/// probe.
fn bundle_with(profile: Value) -> Bundle {
    let bundle = Bundle::busybox();
    bundle.edit(|c| c["linux"]["seccomp"] = profile);
    bundle.set_args(&["/rcr-probe", "syscall", &libc::SYS_getppid.to_string()]);
    bundle
}

/// What one `rcr --debug --log L run` printed and logged.
struct Run {
    report: Value,
    log: String,
}

impl Run {
    fn compiled(&self) -> bool {
        self.log.contains("seccomp: compiled filter")
    }

    fn hit(&self) -> bool {
        self.log.contains("seccomp: filter from cache")
    }
}

/// `rcr --debug --log L <args>`, which must succeed; its stdout and log.
fn logged(rcr: &Rcr, args: &[&str]) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let mut all = vec!["--debug", "--log", log.to_str().unwrap()];
    all.extend_from_slice(args);
    let out = rcr.run(&all);
    let log = fs::read_to_string(&log).unwrap_or_default();
    assert!(
        out.status.success(),
        "rcr {args:?}: {}{}\n--- log ---\n{log}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (String::from_utf8_lossy(&out.stdout).into_owned(), log)
}

fn run(rcr: &Rcr, bundle: &Bundle) -> Run {
    let id = Rcr::unique_id("scache");
    let (stdout, log) = logged(rcr, &["run", "--bundle", bundle.path_str(), &id]);
    Run { report: probe_report(&stdout), log }
}

fn denied() -> Value {
    json!({"ret": -1, "errno": DENIED})
}

/// The cache's entries (file names), sorted.
fn entries(rcr: &Rcr) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(rcr.root().join(CACHE_DIR))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// The one entry of the cache.
fn only_entry(rcr: &Rcr) -> PathBuf {
    let names = entries(rcr);
    assert_eq!(names.len(), 1, "{names:?}");
    rcr.root().join(CACHE_DIR).join(&names[0])
}

#[test]
fn the_second_run_loads_the_cached_filter() {
    const TEST: &str = "the_second_run_loads_the_cached_filter";
    if !seccomp_ready(TEST) {
        return;
    }
    let rcr = rcr();
    let bundle = bundle_with(profile());
    let first = run(&rcr, &bundle);
    assert_eq!(first.report, denied());
    assert!(first.compiled() && !first.hit(), "{}", first.log);
    assert!(first.log.contains("skipped syscalls unknown to libseccomp"), "{}", first.log);

    let dir = rcr.root().join(CACHE_DIR);
    let meta = fs::metadata(&dir).unwrap();
    assert_eq!((meta.mode() & 0o7777, meta.uid()), (0o700, 0), "cache directory");
    let entry = only_entry(&rcr);
    let name = entry.file_name().unwrap().to_str().unwrap().to_owned();
    assert!(name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit()), "{name}");
    assert!(first.log.contains(&format!("cached filter as {}", entry.display())), "{}", first.log);
    let before = fs::metadata(&entry).unwrap();
    assert_eq!((before.mode() & 0o7777, before.uid()), (0o600, 0), "cache entry");
    // The cache is not a container.
    assert_eq!(rcr.ok(&["list", "-q"]).trim(), "");

    let second = run(&rcr, &bundle);
    assert_eq!(second.report, denied(), "the cached filter holds");
    assert!(second.hit() && !second.compiled(), "{}", second.log);
    // A hit logs what the compile logged.
    assert!(second.log.contains("skipped syscalls unknown to libseccomp"), "{}", second.log);
    let after = fs::metadata(&entry).unwrap();
    assert_eq!((after.ino(), after.mtime_nsec()), (before.ino(), before.mtime_nsec()), "untouched");
    assert_eq!(entries(&rcr), [name]);

    // The filter's mode, as the kernel reports it, and a profile of its own
    // for a different one.
    bundle.set_args(&["/rcr-probe"]);
    assert_eq!(
        probe_report(&rcr.ok(&["run", "--bundle", bundle.path_str(), "scache-mode"]))["seccomp"],
        2
    );
    let mut other = profile();
    other["syscalls"][0]["errnoRet"] = json!(libc::EXDEV);
    let third = run(&rcr, &bundle_with(other));
    assert_eq!(third.report, json!({"ret": -1, "errno": libc::EXDEV}));
    assert!(third.compiled(), "{}", third.log);
    assert_eq!(entries(&rcr).len(), 2);
}

/// What is done to the cache entry, by name.
type Damage<'a> = (&'a str, Box<dyn Fn(&Path) + 'a>);

/// An allow-all program of `n` instructions (`BPF_RET | BPF_K`,
/// `SECCOMP_RET_ALLOW`).
fn allow_all(n: usize) -> Vec<u8> {
    let insn = [0x06u16.to_ne_bytes().as_slice(), &[0, 0], &0x7fff_0000u32.to_ne_bytes()].concat();
    insn.repeat(n)
}

#[test]
fn a_damaged_entry_is_compiled_again_and_replaced() {
    const TEST: &str = "a_damaged_entry_is_compiled_again_and_replaced";
    if !seccomp_ready(TEST) {
        return;
    }
    let rcr = rcr();
    let bundle = bundle_with(profile());
    assert!(run(&rcr, &bundle).compiled());
    let entry = only_entry(&rcr);
    let good = fs::read(&entry).unwrap();
    let program_len = u32::from_le_bytes(good[76..80].try_into().unwrap()) as usize;
    assert_eq!(
        good.len() - program_len,
        HEADER + u32::from_le_bytes(good[72..76].try_into().unwrap()) as usize
    );

    // The entry of another profile, under this one's name.
    let mut other = profile();
    other["defaultAction"] = json!("SCMP_ACT_LOG");
    let other_rcr = self::rcr();
    assert!(run(&other_rcr, &bundle_with(other)).compiled());
    let foreign = fs::read(only_entry(&other_rcr)).unwrap();

    // Same length, same header, a program that allows everything: only the
    // body's digest tells.
    let mut forged = good.clone();
    let start = forged.len() - program_len;
    forged[start..].copy_from_slice(&allow_all(program_len / 8));

    let damages: Vec<Damage<'_>> = vec![
        ("truncated", Box::new(|p: &Path| fs::write(p, &good[..good.len() / 2]).unwrap())),
        ("empty", Box::new(|p: &Path| fs::write(p, b"").unwrap())),
        ("garbage", Box::new(|p: &Path| fs::write(p, vec![0xa5; good.len()]).unwrap())),
        ("forged program", Box::new(|p: &Path| fs::write(p, &forged).unwrap())),
        ("another key", Box::new(|p: &Path| fs::write(p, &foreign).unwrap())),
        (
            "world-writable",
            Box::new(|p: &Path| fs::set_permissions(p, fs::Permissions::from_mode(0o666)).unwrap()),
        ),
        ("not ours", Box::new(|p: &Path| std::os::unix::fs::chown(p, Some(65534), None).unwrap())),
        (
            "a directory",
            Box::new(|p: &Path| {
                fs::remove_file(p).unwrap();
                fs::create_dir(p).unwrap();
            }),
        ),
    ];
    for (what, damage) in damages {
        damage(&entry);
        let r = run(&rcr, &bundle);
        assert_eq!(r.report, denied(), "{what}: the profile's filter, not the damaged one");
        assert!(r.log.contains("seccomp: recompiling: "), "{what}: {}", r.log);
        if what == "a directory" {
            // Not replaced (rename cannot put a file over a directory), and
            // still never used.
            assert!(r.log.contains("seccomp: filter not cached: "), "{what}: {}", r.log);
            fs::remove_dir(&entry).unwrap();
            continue;
        }
        assert!(r.log.contains("cached filter as"), "{what}: {}", r.log);
        let meta = fs::metadata(&entry).unwrap();
        assert_eq!((meta.mode() & 0o7777, meta.uid()), (0o600, 0), "{what}");
        assert_eq!(fs::read(&entry).unwrap(), good, "{what}: replaced by the same entry");
        assert!(run(&rcr, &bundle).hit(), "{what}: the replacement is used");
    }
    let r = run(&rcr, &bundle);
    assert!(r.compiled() && r.log.contains("cached filter as"), "{}", r.log);
    assert_eq!(fs::read(&entry).unwrap(), good);
}

#[test]
fn without_a_usable_cache_the_filter_is_compiled() {
    const TEST: &str = "without_a_usable_cache_the_filter_is_compiled";
    if !seccomp_ready(TEST) {
        return;
    }
    let rcr = rcr();
    let bundle = bundle_with(profile());
    // Someone else's directory in the cache's place: never used, never
    // written.
    let dir = rcr.root().join(CACHE_DIR);
    fs::create_dir(&dir).unwrap();
    std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).unwrap();
    for _ in 0..2 {
        let r = run(&rcr, &bundle);
        assert_eq!(r.report, denied());
        assert!(r.compiled() && r.log.contains("seccomp: no filter cache: "), "{}", r.log);
    }
    assert_eq!(fs::read_dir(&dir).unwrap().count(), 0);
}

#[test]
fn concurrent_runs_of_one_profile_share_one_entry() {
    const TEST: &str = "concurrent_runs_of_one_profile_share_one_entry";
    if !seccomp_ready(TEST) {
        return;
    }
    let rcr = rcr();
    let bundle = bundle_with(profile());
    // No cache yet: every run compiles, and they race to write one entry.
    let children: Vec<_> = (0..6)
        .map(|_| {
            let id = Rcr::unique_id("scache-par");
            rcr.cmd(&["run", "--bundle", bundle.path_str(), &id])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(probe_report(&String::from_utf8_lossy(&out.stdout)), denied());
    }
    // One whole entry, no temporary file left.
    only_entry(&rcr);
    let r = run(&rcr, &bundle);
    assert_eq!(r.report, denied());
    assert!(r.hit(), "{}", r.log);
}

#[test]
fn exec_loads_the_cached_filter() {
    const TEST: &str = "exec_loads_the_cached_filter";
    if !seccomp_ready(TEST) {
        return;
    }
    let rcr = rcr();
    let bundle = bundle_with(profile());
    bundle.set_args(&["/rcr-probe", "sleep", "60"]);
    let id = Rcr::unique_id("scache-exec");
    run_detached(&rcr, &bundle, &id);
    let entry = only_entry(&rcr);
    let ino = fs::metadata(&entry).unwrap().ino();

    let getppid = libc::SYS_getppid.to_string();
    let (stdout, log) = logged(&rcr, &["exec", &id, "/rcr-probe", "syscall", &getppid]);
    assert_eq!(probe_report(&stdout), denied());
    assert!(log.contains("seccomp: filter from cache"), "{log}");
    let (stdout, log) = logged(&rcr, &["exec", &id, "/rcr-probe"]);
    assert_eq!(probe_report(&stdout)["seccomp"], 2);
    assert!(log.contains("seccomp: filter from cache"), "{log}");
    assert_eq!(fs::metadata(&entry).unwrap().ino(), ino);

    // With the cache gone, exec compiles and fills it again.
    fs::remove_file(&entry).unwrap();
    let (stdout, log) = logged(&rcr, &["exec", &id, "/rcr-probe", "syscall", &getppid]);
    assert_eq!(probe_report(&stdout), denied());
    assert!(log.contains("seccomp: compiled filter") && log.contains("cached filter as"), "{log}");
    only_entry(&rcr);
    rcr.ok(&["delete", "--force", &id]);
}

// --- notify -----------------------------------------------------------------

/// A seccomp agent on a thread: takes the notify fd of one container and
/// answers getppid with 4242 (everything else goes on) until the container
/// is gone; returns how many getppid calls it answered.
struct Agent {
    path: PathBuf,
    thread: JoinHandle<usize>,
}

const AGENT_DEADLINE: Duration = Duration::from_secs(30);
const ANSWER: i64 = 4242;

fn poll_in(fd: std::os::fd::BorrowedFd<'_>, ms: u16) -> bool {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
    matches!(poll(&mut fds, PollTimeout::from(ms)), Ok(n) if n > 0)
}

fn receive_fd(conn: &std::os::unix::net::UnixStream) -> OwnedFd {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let mut buf = vec![0u8; 64 * 1024];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg =
        recvmsg::<()>(conn.as_raw_fd(), &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC)
            .unwrap();
    for c in msg.cmsgs().unwrap() {
        if let ControlMessageOwned::ScmRights(fds) = c {
            // SAFETY: the kernel just installed this fd for us.
            return unsafe { OwnedFd::from_raw_fd(fds[0]) };
        }
    }
    panic!("no notify fd with the state");
}

impl Agent {
    fn start(dir: &Path) -> Agent {
        use libseccomp::{ScmpNotifReq, ScmpNotifResp, ScmpNotifRespFlags};
        let path = dir.join("agent.sock");
        let listener = UnixListener::bind(&path).unwrap();
        listener.set_nonblocking(true).unwrap();
        let thread = std::thread::spawn(move || {
            let deadline = Instant::now() + AGENT_DEADLINE;
            let conn = loop {
                match listener.accept() {
                    Ok((conn, _)) => break conn,
                    Err(_) if Instant::now() < deadline => {
                        poll_in(listener.as_fd(), 100);
                    }
                    Err(_) => return 0,
                }
            };
            conn.set_nonblocking(false).unwrap();
            let fd = receive_fd(&conn);
            let mut answered = 0;
            while Instant::now() < deadline {
                if !poll_in(fd.as_fd(), 100) {
                    continue;
                }
                // Fails once the filter has no tasks left.
                let Ok(req) = ScmpNotifReq::receive(fd.as_raw_fd()) else { break };
                let resp = if req.data.syscall.get_name().is_ok_and(|n| n == "getppid") {
                    answered += 1;
                    ScmpNotifResp::new_val(req.id, ANSWER, ScmpNotifRespFlags::empty())
                } else {
                    ScmpNotifResp::new_continue(req.id, ScmpNotifRespFlags::CONTINUE)
                };
                let _ = resp.respond(fd.as_raw_fd());
            }
            answered
        });
        Agent { path, thread }
    }

    fn finish(self) -> usize {
        self.thread.join().expect("agent thread panicked")
    }
}

#[test]
fn notify_profiles_work_from_the_cache() {
    const TEST: &str = "notify_profiles_work_from_the_cache";
    if !seccomp_ready(TEST) {
        return;
    }
    if !libseccomp::check_api(6, libseccomp::ScmpVersion::from((2, 5, 0))).unwrap_or(false) {
        skip(TEST, "seccomp notify needs libseccomp >= 2.5 and Linux >= 5.7");
        return;
    }
    let rcr = rcr();
    for (round, nnp) in [(0, true), (1, true), (2, false)] {
        // A listener of its own each time: where the fd goes is not part of
        // the compiled filter.
        let dir = tempfile::tempdir().unwrap();
        let agent = Agent::start(dir.path());
        let bundle = bundle_with(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "listenerPath": agent.path,
            "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_NOTIFY"}]
        }));
        bundle.edit(|c| c["process"]["noNewPrivileges"] = json!(nnp));
        let r = run(&rcr, &bundle);
        assert_eq!(r.report, json!({"ret": ANSWER, "errno": null}), "round {round}");
        assert_eq!(r.hit(), round > 0, "round {round}: {}", r.log);
        assert_eq!(agent.finish(), 1, "round {round}");
    }
    only_entry(&rcr);
}
