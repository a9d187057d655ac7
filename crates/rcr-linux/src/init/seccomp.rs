//! Loading the container's seccomp filter: the [`Filter`] the parent
//! compiled (see [`crate::seccomp`]) is loaded with seccomp(2) at the
//! [`LoadPoint`] the plan chose, and, with notify rules, its listener fd is
//! handed to the parent.
//!
//! Everything libseccomp can refuse was refused by the parent before the
//! init existed, so a late load can only fail in the kernel's final check.
//! Loading never sets `no_new_privs`: that is the spec's
//! `process.noNewPrivileges`, applied by its own step.

use std::os::fd::{AsRawFd, OwnedFd};

use crate::plan::LoadPoint;
use crate::proto::{Channel, FromInit, InitError, Level, ToInit};
pub use crate::seccomp::Filter;
use crate::sys;

use super::InitResult;

/// Loads `filter` into the kernel, as libseccomp would (see
/// [`crate::seccomp::load_flags`]), returning its notify fd if it has one.
fn load(filter: &Filter) -> InitResult<Option<OwnedFd>> {
    sys::seccomp_set_mode_filter(filter.program.as_bytes(), filter.flags).map_err(|e| {
        let err = InitError::io("load seccomp filter", &e);
        match e.raw_os_error() {
            Some(libc::EACCES) => err
                .with_hint("without process.noNewPrivileges, loading a filter needs CAP_SYS_ADMIN"),
            Some(libc::EINVAL) => {
                err.with_hint("the kernel refused the filter or one of its flags")
            }
            _ => err,
        }
    })
}

/// Loads the filter if `point` is where it belongs, and passes a notify fd
/// to the parent. After this, every syscall the init makes is filtered.
pub fn load_at(filter: &mut Option<Filter>, point: LoadPoint, chan: &Channel) -> InitResult<()> {
    if filter.as_ref().is_none_or(|f| f.point != point) {
        return Ok(());
    }
    let filter = filter.take().expect("checked above");
    if point != LoadPoint::BeforeExec {
        chan.log(Level::Debug, "init: load seccomp filter");
    }
    let notify = load(&filter)?;
    debug_assert_eq!(notify.is_some(), filter.notify);
    if let Some(fd) = notify {
        // The first syscalls under the filter (sendto, recvfrom): the plan
        // refuses notify rules for them, so they cannot wait for an agent
        // that lacks the fd. The parent copies the fd with pidfd_getfd.
        chan.send(&FromInit::SeccompNotify { fd: fd.as_raw_fd() })
            .map_err(|e| InitError::io("report the seccomp notify fd to the runtime", &e))?;
        match chan.recv::<ToInit>() {
            Ok(Some(ToInit::SeccompFdTaken)) => {}
            // The parent failed (and kills us) or is gone.
            _ => sys::exit_now(1),
        }
        // Our copy goes now: once only the agent holds the listener, a
        // notified syscall fails with ENOSYS when the agent goes away
        // instead of waiting forever.
        drop(fd);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{plan_seccomp, SeccompPlan};
    use crate::seccomp::compile;

    fn plan_of(v: serde_json::Value) -> SeccompPlan {
        plan_seccomp(&serde_json::from_value(v).unwrap()).unwrap()
    }

    /// Runs `probe` in a forked child under the filter for `plan` (with
    /// no_new_privs, so no privilege is needed) and returns how the child
    /// ended: `Ok(value)` for a syscall's return, `Err(errno)`, or a signal.
    fn under_filter(plan: &SeccompPlan, probe: impl FnOnce() -> i64) -> ChildEnd {
        // Compiled in the parent, as for a container: the child only loads,
        // calls and exits.
        let filter = Filter::new(compile(plan).unwrap().program, plan, true);
        in_child(|| {
            let _ = nix::sys::prctl::set_no_new_privs();
            if load(&filter).is_err() {
                sys::exit_now(99);
            }
            probe()
        })
    }

    /// Runs `f` in a forked child and returns how the child ended: with
    /// what `f` returned (a negative value with the errno of the moment), or
    /// by a signal.
    fn in_child(f: impl FnOnce() -> i64) -> ChildEnd {
        let (rd, wr) = nix::unistd::pipe().unwrap();
        match sys::testing::fork() {
            nix::unistd::ForkResult::Child => {
                drop(rd);
                let r = f();
                let errno = if r < 0 { nix::Error::last_raw() as i64 } else { 0 };
                let _ = nix::unistd::write(&wr, &[r.to_le_bytes(), errno.to_le_bytes()].concat());
                sys::exit_now(0)
            }
            nix::unistd::ForkResult::Parent { child } => {
                drop(wr);
                let mut buf = [0u8; 16];
                let n = nix::unistd::read(std::os::fd::AsRawFd::as_raw_fd(&rd), &mut buf).unwrap();
                let status = nix::sys::wait::waitpid(child, None).unwrap();
                if let nix::sys::wait::WaitStatus::Signaled(_, sig, _) = status {
                    return ChildEnd::Signal(sig as i32);
                }
                assert_eq!(status, nix::sys::wait::WaitStatus::Exited(child, 0), "child failed");
                assert_eq!(n, 16);
                let r = i64::from_le_bytes(buf[..8].try_into().unwrap());
                let errno = i64::from_le_bytes(buf[8..].try_into().unwrap());
                if r < 0 {
                    ChildEnd::Errno(errno as i32)
                } else {
                    ChildEnd::Returned(r)
                }
            }
        }
    }

    #[derive(Debug, PartialEq, Eq)]
    enum ChildEnd {
        Returned(i64),
        Errno(i32),
        Signal(i32),
    }

    use sys::testing::getppid_with;

    #[test]
    fn actions_reach_the_process() {
        let errno = plan_of(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}));
        assert_eq!(under_filter(&errno, || getppid_with([0; 6])), ChildEnd::Errno(libc::EACCES));
        let kill = plan_of(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_KILL_PROCESS"}]}));
        assert_eq!(under_filter(&kill, || getppid_with([0; 6])), ChildEnd::Signal(libc::SIGSYS));
        let trace = plan_of(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_TRACE", "errnoRet": 5}]}));
        // With no tracer attached the kernel fails a traced syscall.
        assert_eq!(under_filter(&trace, || getppid_with([0; 6])), ChildEnd::Errno(libc::ENOSYS));
        let log = plan_of(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_LOG"}]}));
        assert!(
            matches!(under_filter(&log, || getppid_with([0; 6])), ChildEnd::Returned(p) if p > 0)
        );
        let default_errno = plan_of(serde_json::json!({"defaultAction": "SCMP_ACT_ERRNO",
            "defaultErrnoRet": 18, "syscalls": [{"names": ["write", "exit_group", "exit", "prctl",
            "seccomp", "brk", "mmap", "munmap", "rt_sigprocmask", "futex"], "action": "SCMP_ACT_ALLOW"}]}));
        assert_eq!(
            under_filter(&default_errno, || getppid_with([0; 6])),
            ChildEnd::Errno(libc::EXDEV)
        );
    }

    #[test]
    fn every_comparison_operator() {
        // One filter per operator (libseccomp gives no precedence between
        // overlapping rules of one syscall): getppid fails with 100+k when
        // arg5 is k and arg0 passes the comparison against 10, or, for
        // MASKED_EQ, when arg0 & 0xf0 == 0x10.
        let ops = ["NE", "LT", "LE", "EQ", "GE", "GT", "MASKED_EQ"];
        let plans: Vec<_> = ops
            .iter()
            .enumerate()
            .map(|(k, op)| {
                let value = if *op == "MASKED_EQ" { 0xf0 } else { 10 };
                plan_of(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                    {"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 100 + k,
                     "args": [{"index": 5, "value": k, "op": "SCMP_CMP_EQ"},
                              {"index": 0, "value": value, "valueTwo": 0x10,
                               "op": format!("SCMP_CMP_{op}")}]}]}))
            })
            .collect();
        let blocked = |k: u64, arg0: u64| match under_filter(&plans[k as usize], || {
            getppid_with([arg0, 0, 0, 0, 0, k])
        }) {
            ChildEnd::Errno(e) => {
                assert_eq!(e, 100 + k as i32);
                true
            }
            ChildEnd::Returned(_) => false,
            other => panic!("{other:?}"),
        };
        // (op index, arg0 values that match, arg0 values that do not)
        let cases: [(u64, &[u64], &[u64]); 7] = [
            (0, &[9, 11], &[10]),
            (1, &[9], &[10, 11]),
            (2, &[9, 10], &[11]),
            (3, &[10], &[9, 11]),
            (4, &[10, 11], &[9]),
            (5, &[11], &[9, 10]),
            (6, &[0x10, 0x1f, 0x110], &[0x20, 0x0f]),
        ];
        for (k, hits, misses) in cases {
            for &v in hits {
                assert!(blocked(k, v), "{} with arg0={v:#x} should match", ops[k as usize]);
            }
            for &v in misses {
                assert!(!blocked(k, v), "{} with arg0={v:#x} should not match", ops[k as usize]);
            }
        }
    }

    #[test]
    fn a_notify_filter_yields_its_listener() {
        let plan = plan_of(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW",
            "listenerPath": "/run/agent.sock",
            "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_NOTIFY"}]}));
        let filter = Filter::new(compile(&plan).unwrap().program, &plan, true);
        assert!(filter.notify);
        let end = in_child(|| {
            let _ = nix::sys::prctl::set_no_new_privs();
            let Ok(Some(fd)) = load(&filter) else { return 1000 };
            let link = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()));
            if !link.is_ok_and(|l| l.to_string_lossy().contains("seccomp notify")) {
                return 1001;
            }
            // With no listener left, a notified syscall fails at once.
            drop(fd);
            getppid_with([0; 6])
        });
        assert_eq!(end, ChildEnd::Errno(libc::ENOSYS));
    }

    #[test]
    fn load_failures_keep_their_errno_and_hint() {
        let plan = plan_of(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_ERRNO"}]}));
        let program = compile(&plan).unwrap().program;
        let check = |filter: Filter, nnp: bool, errno: i32, hint: &'static str| {
            in_child(move || {
                if nnp {
                    let _ = nix::sys::prctl::set_no_new_privs();
                } else {
                    // Whoever runs the test: no CAP_SYS_ADMIN now.
                    let _ =
                        caps::drop(None, caps::CapSet::Effective, caps::Capability::CAP_SYS_ADMIN);
                }
                match load(&filter) {
                    Err(e)
                        if e.errno == Some(errno)
                            && e.chain.first().is_some_and(|c| c == "load seccomp filter")
                            && e.hint.as_deref().is_some_and(|h| h.contains(hint)) =>
                    {
                        0
                    }
                    _ => 1,
                }
            })
        };
        let plain = Filter::new(program.clone(), &plan, false);
        assert_eq!(check(plain, false, libc::EACCES, "noNewPrivileges"), ChildEnd::Returned(0));
        // WAIT_KILLABLE_RECV only goes with a notify listener.
        let mut bad_flags = Filter::new(program, &plan, true);
        bad_flags.flags |= libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
        assert_eq!(check(bad_flags, true, libc::EINVAL, "refused"), ChildEnd::Returned(0));
    }
}
