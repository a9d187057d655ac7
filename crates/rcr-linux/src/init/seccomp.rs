//! The container's seccomp filter: built with libseccomp from the plan's
//! [`SeccompPlan`], loaded at the [`LoadPoint`] the plan chose, and, with
//! notify rules, its listener fd handed to the parent.
//!
//! The filter is always built before `Ready`, so whatever libseccomp or the
//! kernel's feature checks refuse (an architecture, a flag, a rule) fails
//! `create`; a late load can then only fail in the kernel's final check.
//! libseccomp never sets `no_new_privs` here: that is the spec's
//! `process.noNewPrivileges`, applied by its own step.

use std::os::fd::{AsRawFd, OwnedFd};

use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
    ScmpVersion,
};
use oci_spec::runtime::Arch;

use super::InitResult;
use crate::plan::{
    ArgCondition, CompareOp, LaunchPlan, LoadPoint, SeccompAction, SeccompFlag, SeccompPlan,
    SECCOMP_ARCHITECTURES, SECCOMP_FILTER_FLAGS,
};
use crate::proto::{errno_text, Channel, FromInit, InitError, Level, ToInit};
use crate::sys;

/// Above this many rules libseccomp's binary-tree layout pays off. Fewer
/// also keeps clear of libseccomp <= 2.5.4 mishandling the tree with no
/// rules at all.
const BINARY_TREE_MIN_RULES: usize = 32;

/// The libseccomp API level whose notify support the bindings rely on.
const NOTIFY_API_LEVEL: u32 = 6;

/// A filter built and checked, waiting for its load point.
pub struct Filter {
    ctx: ScmpFilterContext,
    point: LoadPoint,
    notify: bool,
}

impl std::fmt::Debug for Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Filter").field("point", &self.point).field("notify", &self.notify).finish()
    }
}

/// The version of the libseccomp rcr runs with (not the one it was built
/// against).
pub fn libseccomp_version() -> Option<String> {
    ScmpVersion::current().ok().map(|v| v.to_string())
}

fn library_version() -> String {
    libseccomp_version().unwrap_or_else(|| "(unknown version)".to_owned())
}

fn lib_error(what: impl Into<String>, e: &libseccomp::error::SeccompError) -> InitError {
    InitError {
        chain: vec![what.into(), e.to_string()],
        errno: e.sysrawrc().map(|rc| -rc),
        hint: None,
    }
}

fn action(a: SeccompAction) -> ScmpAction {
    match a {
        SeccompAction::KillThread => ScmpAction::KillThread,
        SeccompAction::KillProcess => ScmpAction::KillProcess,
        SeccompAction::Trap => ScmpAction::Trap,
        SeccompAction::Errno(n) => ScmpAction::Errno(i32::from(n)),
        SeccompAction::Trace(n) => ScmpAction::Trace(n),
        SeccompAction::Allow => ScmpAction::Allow,
        SeccompAction::Log => ScmpAction::Log,
        SeccompAction::Notify => ScmpAction::Notify,
    }
}

fn arg_compare(c: &ArgCondition) -> ScmpArgCompare {
    let (op, datum) = match c.op {
        CompareOp::Ne => (ScmpCompareOp::NotEqual, c.value),
        CompareOp::Lt => (ScmpCompareOp::Less, c.value),
        CompareOp::Le => (ScmpCompareOp::LessOrEqual, c.value),
        CompareOp::Eq => (ScmpCompareOp::Equal, c.value),
        CompareOp::Ge => (ScmpCompareOp::GreaterEqual, c.value),
        CompareOp::Gt => (ScmpCompareOp::Greater, c.value),
        // runtime-spec: `value` is the mask, `valueTwo` what the masked
        // argument must equal.
        CompareOp::MaskedEq => (ScmpCompareOp::MaskedEqual(c.value), c.value_two),
    };
    ScmpArgCompare::new(c.index, op, datum)
}

fn arch(a: Arch) -> ScmpArch {
    match a {
        Arch::ScmpArchNative => ScmpArch::Native,
        Arch::ScmpArchX86 => ScmpArch::X86,
        Arch::ScmpArchX86_64 => ScmpArch::X8664,
        Arch::ScmpArchX32 => ScmpArch::X32,
        Arch::ScmpArchArm => ScmpArch::Arm,
        Arch::ScmpArchAarch64 => ScmpArch::Aarch64,
        Arch::ScmpArchMips => ScmpArch::Mips,
        Arch::ScmpArchMips64 => ScmpArch::Mips64,
        Arch::ScmpArchMips64n32 => ScmpArch::Mips64N32,
        Arch::ScmpArchMipsel => ScmpArch::Mipsel,
        Arch::ScmpArchMipsel64 => ScmpArch::Mipsel64,
        Arch::ScmpArchMipsel64n32 => ScmpArch::Mipsel64N32,
        Arch::ScmpArchPpc => ScmpArch::Ppc,
        Arch::ScmpArchPpc64 => ScmpArch::Ppc64,
        Arch::ScmpArchPpc64le => ScmpArch::Ppc64Le,
        Arch::ScmpArchS390 => ScmpArch::S390,
        Arch::ScmpArchS390x => ScmpArch::S390X,
        Arch::ScmpArchParisc => ScmpArch::Parisc,
        Arch::ScmpArchParisc64 => ScmpArch::Parisc64,
        Arch::ScmpArchRiscv64 => ScmpArch::Riscv64,
        Arch::ScmpArchLoongarch64 => ScmpArch::Loongarch64,
        Arch::ScmpArchM68k => ScmpArch::M68k,
        Arch::ScmpArchSh => ScmpArch::Sh,
        Arch::ScmpArchSheb => ScmpArch::Sheb,
    }
}

fn set_flag(ctx: &mut ScmpFilterContext, flag: SeccompFlag) -> InitResult<()> {
    let set = match flag {
        SeccompFlag::Tsync => ctx.set_ctl_tsync(true),
        SeccompFlag::Log => ctx.set_ctl_log(true),
        SeccompFlag::SpecAllow => ctx.set_ctl_ssb(true),
        SeccompFlag::WaitKillableRecv => ctx.set_ctl_waitkill(true),
    };
    set.map(drop).map_err(|e| {
        lib_error(format!("linux.seccomp.flags: {}", flag.name()), &e)
            .with_hint("the flag is not supported by this kernel or libseccomp")
    })
}

/// The filter flags that this host's libseccomp and kernel can set, found
/// the way [`build_filter`] sets them (libseccomp asks the kernel).
pub fn supported_flags() -> Vec<SeccompFlag> {
    SECCOMP_FILTER_FLAGS
        .iter()
        .copied()
        .filter(|&flag| {
            ScmpFilterContext::new(ScmpAction::Allow)
                .is_ok_and(|mut ctx| set_flag(&mut ctx, flag).is_ok())
        })
        .collect()
}

/// The architectures this host's libseccomp can add to a filter.
pub fn supported_architectures() -> Vec<Arch> {
    SECCOMP_ARCHITECTURES
        .iter()
        .copied()
        .filter(|&a| {
            ScmpFilterContext::new(ScmpAction::Allow)
                .is_ok_and(|mut ctx| ctx.add_arch(arch(a)).is_ok())
        })
        .collect()
}

/// Builds the libseccomp filter for `plan`. This is the one place a filter
/// is made, so a compiled program can later be cached by a digest of the
/// plan. Syscall names libseccomp does not know (newer than the library,
/// or not on any of the filter's architectures) are skipped and returned.
pub fn build_filter(plan: &SeccompPlan) -> InitResult<(ScmpFilterContext, Vec<String>)> {
    if plan.uses_notify()
        && !libseccomp::check_api(NOTIFY_API_LEVEL, ScmpVersion::from((2, 5, 0))).unwrap_or(false)
    {
        return Err(InitError::msg(format!(
            "linux.seccomp: SCMP_ACT_NOTIFY is not supported by libseccomp {} at API level {} \
             (needs libseccomp 2.5.0 and Linux 5.7)",
            library_version(),
            libseccomp::get_api()
        )));
    }
    let mut ctx = ScmpFilterContext::new(action(plan.default_action))
        .map_err(|e| lib_error("create seccomp filter", &e))?;
    // Kernel errnos, not libseccomp's catch-all ECANCELED, for load failures.
    ctx.set_api_sysrawrc(true).map_err(|e| lib_error("set seccomp filter attribute", &e))?;
    ctx.set_ctl_nnp(false).map_err(|e| lib_error("set seccomp filter attribute", &e))?;
    for &a in &plan.architectures {
        ctx.add_arch(arch(a)).map_err(|e| {
            lib_error(format!("linux.seccomp.architectures: add {a}"), &e).with_hint(format!(
                "libseccomp {} may not know this architecture",
                library_version()
            ))
        })?;
    }
    for &flag in &plan.flags {
        set_flag(&mut ctx, flag)?;
    }
    if plan.rules.len() > BINARY_TREE_MIN_RULES {
        // Only a faster filter is lost if the library cannot do this.
        let _ = ctx.set_ctl_optimize(2);
    }
    let mut skipped = Vec::new();
    for rule in &plan.rules {
        let act = action(rule.action);
        let conditions: Vec<ScmpArgCompare> = rule.conditions.iter().map(arg_compare).collect();
        for name in &rule.names {
            let Ok(nr) = ScmpSyscall::from_name(name) else {
                if !skipped.contains(name) {
                    skipped.push(name.clone());
                }
                continue;
            };
            let added = if conditions.is_empty() {
                ctx.add_rule(act, nr)
            } else {
                ctx.add_rule_conditional(act, nr, &conditions)
            };
            added.map_err(|e| lib_error(format!("{}: add rule for {name}", rule.field), &e))?;
        }
    }
    Ok((ctx, skipped))
}

/// Builds the container's filter, if it has one.
pub fn build(plan: &LaunchPlan, chan: &Channel) -> InitResult<Option<Filter>> {
    let Some(sp) = &plan.seccomp else { return Ok(None) };
    let (ctx, skipped) = build_filter(sp)?;
    if !skipped.is_empty() {
        chan.log(
            Level::Debug,
            format!(
                "seccomp: skipped syscalls unknown to libseccomp {}: {}",
                library_version(),
                skipped.join(", ")
            ),
        );
    }
    let point = sp.load_point(plan.process.no_new_privileges);
    Ok(Some(Filter { ctx, point, notify: sp.uses_notify() }))
}

/// Loads `filter` into the kernel, returning its notify fd if it has one.
fn load(filter: Filter) -> InitResult<Option<OwnedFd>> {
    filter.ctx.load().map_err(|e| {
        let errno = e.sysrawrc().map(|rc| -rc);
        let cause = errno.map_or_else(|| e.to_string(), |n| errno_text(nix::Error::from_raw(n)));
        let err = InitError { chain: vec!["load seccomp filter".into(), cause], errno, hint: None };
        match errno {
            Some(libc::EACCES) => err
                .with_hint("without process.noNewPrivileges, loading a filter needs CAP_SYS_ADMIN"),
            Some(libc::EINVAL) => {
                err.with_hint("the kernel refused the filter; it may be too long")
            }
            _ => err,
        }
    })?;
    if !filter.notify {
        return Ok(None);
    }
    let fd = filter.ctx.get_notify_fd().map_err(|e| lib_error("get seccomp notify fd", &e))?;
    Ok(Some(sys::adopt_seccomp_notify_fd(fd)))
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
    if let Some(fd) = load(filter)? {
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
    use crate::plan::{plan_seccomp, SyscallRule};

    fn plan_of(v: serde_json::Value) -> SeccompPlan {
        plan_seccomp(&serde_json::from_value(v).unwrap()).unwrap()
    }

    /// Runs `probe` in a forked child under the filter for `plan` (with
    /// no_new_privs, so no privilege is needed) and returns how the child
    /// ended: `Ok(value)` for a syscall's return, `Err(errno)`, or a signal.
    fn under_filter(plan: &SeccompPlan, probe: impl FnOnce() -> i64) -> ChildEnd {
        // Built in the parent: the child only loads, calls and exits.
        let (ctx, _) = build_filter(plan).unwrap();
        let (rd, wr) = nix::unistd::pipe().unwrap();
        match sys::testing::fork() {
            nix::unistd::ForkResult::Child => {
                drop(rd);
                let _ = nix::sys::prctl::set_no_new_privs();
                if ctx.load().is_err() {
                    sys::exit_now(99);
                }
                let r = probe();
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
    fn unknown_syscalls_are_skipped_and_bad_rules_name_their_field() {
        let plan = plan_of(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
            "syscalls": [{"names": ["getppid", "no_such_syscall"], "action": "SCMP_ACT_ERRNO"}]}));
        let (_, skipped) = build_filter(&plan).unwrap();
        assert_eq!(skipped, ["no_such_syscall"]);

        let mut bad = plan.clone();
        bad.rules.push(SyscallRule {
            field: "linux.seccomp.syscalls[7]".into(),
            names: vec!["getppid".into()],
            action: SeccompAction::Errno(1),
            conditions: vec![ArgCondition { index: 9, op: CompareOp::Eq, value: 1, value_two: 0 }],
        });
        let e = build_filter(&bad).unwrap_err().to_string();
        assert!(e.starts_with("linux.seccomp.syscalls[7]: add rule for getppid: "), "{e}");
    }

    #[test]
    fn probes_agree_with_building_a_filter() {
        let flags = supported_flags();
        // TSYNC predates every libseccomp and kernel rcr can run with.
        assert!(flags.contains(&SeccompFlag::Tsync), "{flags:?}");
        for &flag in SECCOMP_FILTER_FLAGS {
            let plan = plan_of(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW",
                "flags": [flag.name()]}));
            assert_eq!(build_filter(&plan).is_ok(), flags.contains(&flag), "{flag:?}");
        }
        let archs = supported_architectures();
        assert!(archs.contains(&Arch::ScmpArchX86_64) && archs.contains(&Arch::ScmpArchAarch64));
        for &a in SECCOMP_ARCHITECTURES {
            let plan = plan_of(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW",
                "architectures": [a]}));
            assert_eq!(build_filter(&plan).is_ok(), archs.contains(&a), "{a:?}");
        }
        let version = libseccomp_version().unwrap();
        assert_eq!(version.split('.').count(), 3, "{version}");
    }

    #[test]
    fn flags_are_set_or_refused_clearly() {
        for flag in [
            "SECCOMP_FILTER_FLAG_TSYNC",
            "SECCOMP_FILTER_FLAG_LOG",
            "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
        ] {
            let plan =
                plan_of(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "flags": [flag]}));
            let (ctx, _) = build_filter(&plan).unwrap();
            let set = match flag {
                "SECCOMP_FILTER_FLAG_TSYNC" => ctx.get_ctl_tsync(),
                "SECCOMP_FILTER_FLAG_LOG" => ctx.get_ctl_log(),
                _ => ctx.get_ctl_ssb(),
            };
            assert!(set.unwrap(), "{flag}");
            assert!(!ctx.get_ctl_nnp().unwrap(), "libseccomp must not set no_new_privs");
        }
        let plan = plan_of(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW",
            "flags": ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]}));
        match build_filter(&plan) {
            Ok((ctx, _)) => assert!(ctx.get_ctl_waitkill().unwrap()),
            Err(e) => {
                let e = e.to_string();
                assert!(
                    e.starts_with("linux.seccomp.flags: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: "),
                    "{e}"
                );
                assert!(e.contains("libseccomp"), "{e}");
            }
        }
    }
}
