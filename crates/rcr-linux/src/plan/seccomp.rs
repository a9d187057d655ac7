//! `linux.seccomp` resolved into a [`SeccompPlan`]: actions carry their
//! errno, comparisons their operator, and everything the kernel or libseccomp
//! would misread is rejected here, naming the spec field.
//!
//! Syscall names stay strings: only libseccomp knows which names exist on
//! which architecture, so they are resolved when the filter is compiled
//! (skipping the ones it does not know, as runc does). A plan is plain data
//! with no libseccomp state, so a compiled filter is cached by a digest of it
//! (`crate::seccomp`).

use std::path::PathBuf;

use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompFilterFlag,
    LinuxSeccompOperator, LinuxSyscall,
};
use serde::Serialize;

use super::PlanError;

/// The errno of `SCMP_ACT_ERRNO` and `SCMP_ACT_TRACE` when none is given.
const DEFAULT_ERRNO: u16 = libc::EPERM as u16;

/// The kernel caps a filter's errno at `MAX_ERRNO`; a larger value would not
/// reach the process as written.
const MAX_ERRNO: u32 = 4095;

/// Syscalls take at most six arguments.
const MAX_ARGS: usize = 6;

/// The syscalls the init reports the notify fd and waits for the runtime
/// to have copied it with, right after loading the filter: a notify rule for
/// them would park the init in a notification no agent can see yet.
/// (`sendmsg` is free: the fd is taken with pidfd_getfd, not passed.)
const HANDSHAKE_SYSCALLS: [&str; 2] = ["sendto", "recvfrom"];

/// Declares `$name`, every variant of `$ty`. The match makes a variant that
/// oci-spec (or this module) adds a compile error here, rather than a name
/// silently missing from `rcr features`.
/// Variants after `unlisted:` are accepted but left out of the list.
macro_rules! every_variant {
    (
        $(#[$doc:meta])* $name:ident: $ty:ident = [$($v:ident),+ $(,)?]
        $(unlisted: [$($u:ident),+])?
    ) => {
        $(#[$doc])*
        pub const $name: &[$ty] = &[$($ty::$v),+];
        const _: () = {
            #[allow(dead_code)]
            fn exhaustive(v: $ty) {
                match v {
                    $($ty::$v)|+ $($(| $ty::$u)+)? => {}
                }
            }
        };
    };
}

every_variant!(
    /// Every `action` the plan accepts: all of runtime-spec's.
    ACTIONS: LinuxSeccompAction = [
        ScmpActKill, ScmpActKillProcess, ScmpActKillThread, ScmpActTrap, ScmpActErrno,
        ScmpActTrace, ScmpActAllow, ScmpActLog, ScmpActNotify,
    ]
);

every_variant!(
    /// Every argument comparison `op` the plan accepts.
    OPERATORS: LinuxSeccompOperator = [
        ScmpCmpNe, ScmpCmpLt, ScmpCmpLe, ScmpCmpEq, ScmpCmpGe, ScmpCmpGt, ScmpCmpMaskedEq,
    ]
);

every_variant!(
    /// Every named architecture the plan accepts (`SCMP_ARCH_NATIVE`, which
    /// names none, is accepted too); whether libseccomp knows one is found
    /// out when the filter is built.
    ARCHITECTURES: Arch = [
        ScmpArchX86, ScmpArchX86_64, ScmpArchX32, ScmpArchArm, ScmpArchAarch64, ScmpArchMips,
        ScmpArchMips64, ScmpArchMips64n32, ScmpArchMipsel, ScmpArchMipsel64,
        ScmpArchMipsel64n32, ScmpArchPpc, ScmpArchPpc64, ScmpArchPpc64le, ScmpArchS390,
        ScmpArchS390x, ScmpArchParisc, ScmpArchParisc64, ScmpArchRiscv64, ScmpArchLoongarch64,
        ScmpArchM68k, ScmpArchSh, ScmpArchSheb,
    ]
    unlisted: [ScmpArchNative]
);

/// What the filter does with a matching syscall.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum SeccompAction {
    /// `SCMP_ACT_KILL` and `SCMP_ACT_KILL_THREAD`.
    KillThread,
    KillProcess,
    /// Sends `SIGSYS`.
    Trap,
    /// Fails the syscall with this errno.
    Errno(u16),
    /// Hands the syscall to a ptrace tracer with this message (fails with
    /// `ENOSYS` when there is none).
    Trace(u16),
    Allow,
    /// Allows the syscall and logs it.
    Log,
    /// Hands the syscall to the seccomp agent at `listenerPath`.
    Notify,
}

/// How an argument is compared, with runtime-spec's meaning of `value` and
/// `valueTwo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum CompareOp {
    Ne,
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
    /// `arg & value == valueTwo`.
    MaskedEq,
}

/// One argument comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct ArgCondition {
    /// 0 to 5.
    pub index: u32,
    pub op: CompareOp,
    pub value: u64,
    pub value_two: u64,
}

/// One filter rule: `action` for each of `names` when every condition holds.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SyscallRule {
    /// The spec entry the rule came from (`linux.seccomp.syscalls[3]`), for
    /// errors found while building the filter.
    pub field: String,
    pub names: Vec<String>,
    pub action: SeccompAction,
    pub conditions: Vec<ArgCondition>,
}

/// Filter flags (`linux.seccomp.flags`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum SeccompFlag {
    Tsync,
    Log,
    SpecAllow,
    WaitKillableRecv,
}

every_variant!(
    /// Every filter flag the plan accepts.
    FILTER_FLAGS: SeccompFlag = [Tsync, Log, SpecAllow, WaitKillableRecv]
);

impl SeccompFlag {
    /// The spec's name of the flag.
    pub fn name(self) -> &'static str {
        match self {
            Self::Tsync => "SECCOMP_FILTER_FLAG_TSYNC",
            Self::Log => "SECCOMP_FILTER_FLAG_LOG",
            Self::SpecAllow => "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
            Self::WaitKillableRecv => "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
        }
    }
}

/// Where the runtime sends the notify fd (`listenerPath`, `listenerMetadata`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NotifyListener {
    /// A socket path, or an abstract socket name after a leading `@`.
    pub path: PathBuf,
    pub metadata: Option<String>,
}

/// The container's seccomp filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeccompPlan {
    pub default_action: SeccompAction,
    /// Architectures added to the native one, in spec order.
    pub architectures: Vec<Arch>,
    pub flags: Vec<SeccompFlag>,
    /// In spec order; rules whose action is the default one are dropped
    /// (libseccomp refuses them, and they change nothing).
    pub rules: Vec<SyscallRule>,
    /// Set exactly when some rule uses `SCMP_ACT_NOTIFY`.
    pub listener: Option<NotifyListener>,
}

/// Where in the init's step list the filter is loaded. Every syscall the
/// init makes after that point must be allowed by the profile, so the later
/// the better; what holds it earlier is privilege and the notify fd.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LoadPoint {
    /// Without `no_new_privs` the kernel only lets a task with
    /// `CAP_SYS_ADMIN` load a filter, and switching to the container user
    /// drops it: load before that (and before capabilities are dropped).
    /// The user switch, cwd, `Ready`, the exec fifo and `execve` then run
    /// under the filter, as they do with runc.
    BeforeIdentity,
    /// With `no_new_privs` and notify rules: the notify fd must reach the
    /// parent while it still listens, that is before `Ready`. The exec fifo
    /// and `execve` then run under the filter, and by then the agent holds
    /// the fd and answers for them.
    BeforeReady,
    /// With `no_new_privs` and no notify rules: after `start` released the
    /// init, just before `execve`, so the profile only has to allow
    /// `execve` itself. Everything that can fail short of the kernel's own
    /// check was done while building the filter, before `Ready`.
    BeforeExec,
}

impl SeccompPlan {
    /// Whether loading the filter yields a notify fd for an agent.
    pub fn uses_notify(&self) -> bool {
        self.listener.is_some()
    }

    /// Where the init loads this filter for a process with or without
    /// `no_new_privs`.
    pub fn load_point(&self, no_new_privs: bool) -> LoadPoint {
        match (no_new_privs, self.uses_notify()) {
            (false, _) => LoadPoint::BeforeIdentity,
            (true, true) => LoadPoint::BeforeReady,
            (true, false) => LoadPoint::BeforeExec,
        }
    }
}

fn action(
    action: LinuxSeccompAction,
    errno_ret: Option<u32>,
    errno_field: &str,
) -> Result<SeccompAction, PlanError> {
    let errno = |max: u32| -> Result<u16, PlanError> {
        match errno_ret {
            None => Ok(DEFAULT_ERRNO),
            Some(n) if n <= max => Ok(u16::try_from(n).expect("bounded by max")),
            Some(n) => {
                Err(PlanError::new(errno_field, format!("{n} is out of range (at most {max})")))
            }
        }
    };
    let without_errno = |a: SeccompAction| match errno_ret {
        None => Ok(a),
        Some(_) => Err(PlanError::new(
            errno_field,
            format!("{action} returns no errno; only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take one"),
        )),
    };
    match action {
        LinuxSeccompAction::ScmpActErrno => Ok(SeccompAction::Errno(errno(MAX_ERRNO)?)),
        LinuxSeccompAction::ScmpActTrace => Ok(SeccompAction::Trace(errno(u32::from(u16::MAX))?)),
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
            without_errno(SeccompAction::KillThread)
        }
        LinuxSeccompAction::ScmpActKillProcess => without_errno(SeccompAction::KillProcess),
        LinuxSeccompAction::ScmpActTrap => without_errno(SeccompAction::Trap),
        LinuxSeccompAction::ScmpActAllow => without_errno(SeccompAction::Allow),
        LinuxSeccompAction::ScmpActLog => without_errno(SeccompAction::Log),
        LinuxSeccompAction::ScmpActNotify => without_errno(SeccompAction::Notify),
    }
}

fn compare_op(op: LinuxSeccompOperator) -> CompareOp {
    match op {
        LinuxSeccompOperator::ScmpCmpNe => CompareOp::Ne,
        LinuxSeccompOperator::ScmpCmpLt => CompareOp::Lt,
        LinuxSeccompOperator::ScmpCmpLe => CompareOp::Le,
        LinuxSeccompOperator::ScmpCmpEq => CompareOp::Eq,
        LinuxSeccompOperator::ScmpCmpGe => CompareOp::Ge,
        LinuxSeccompOperator::ScmpCmpGt => CompareOp::Gt,
        LinuxSeccompOperator::ScmpCmpMaskedEq => CompareOp::MaskedEq,
    }
}

fn flag(f: LinuxSeccompFilterFlag) -> SeccompFlag {
    match f {
        LinuxSeccompFilterFlag::SeccompFilterFlagTsync => SeccompFlag::Tsync,
        LinuxSeccompFilterFlag::SeccompFilterFlagLog => SeccompFlag::Log,
        LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => SeccompFlag::SpecAllow,
        LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => SeccompFlag::WaitKillableRecv,
    }
}

fn conditions(args: &[LinuxSeccompArg], field: &str) -> Result<Vec<ArgCondition>, PlanError> {
    args.iter()
        .enumerate()
        .map(|(j, a)| {
            if a.index() >= MAX_ARGS {
                return Err(PlanError::new(
                    format!("{field}.args[{j}].index"),
                    format!(
                        "{} is out of range: syscalls have {MAX_ARGS} arguments (0 to 5)",
                        a.index()
                    ),
                ));
            }
            Ok(ArgCondition {
                index: u32::try_from(a.index()).expect("checked above"),
                op: compare_op(a.op()),
                value: a.value(),
                value_two: a.value_two().unwrap_or(0),
            })
        })
        .collect()
}

/// The rules for one `syscalls[]` entry. Conditions on distinct arguments
/// are ANDed in one rule; when an argument is compared more than once, each
/// comparison becomes a rule of its own, so they are ORed. That is how runc
/// has always read such entries, and the profiles in the wild (Docker's
/// among them) are written for that reading.
fn rules_of(
    entry: &LinuxSyscall,
    i: usize,
    default: SeccompAction,
) -> Result<Vec<SyscallRule>, PlanError> {
    let field = format!("linux.seccomp.syscalls[{i}]");
    if entry.names().is_empty() {
        return Err(PlanError::new(format!("{field}.names"), "must name at least one syscall"));
    }
    if let Some(j) = entry.names().iter().position(String::is_empty) {
        return Err(PlanError::new(format!("{field}.names[{j}]"), "is empty"));
    }
    let action = action(entry.action(), entry.errno_ret(), &format!("{field}.errnoRet"))?;
    if action == SeccompAction::Notify {
        if let Some((j, name)) =
            entry.names().iter().enumerate().find(|(_, n)| HANDSHAKE_SYSCALLS.contains(&n.as_str()))
        {
            return Err(PlanError::new(
                format!("{field}.names[{j}]"),
                format!(
                    "SCMP_ACT_NOTIFY cannot be used for {name}: the container's init reports \
                     the notify fd to the runtime with it once the filter is loaded"
                ),
            ));
        }
    }
    let conditions = conditions(entry.args().as_deref().unwrap_or_default(), &field)?;
    if action == default {
        return Ok(Vec::new());
    }
    let mut seen = [false; MAX_ARGS];
    let repeats = conditions.iter().any(|c| std::mem::replace(&mut seen[c.index as usize], true));
    let groups =
        if repeats { conditions.into_iter().map(|c| vec![c]).collect() } else { vec![conditions] };
    Ok(groups
        .into_iter()
        .map(|conditions| SyscallRule {
            field: field.clone(),
            names: entry.names().clone(),
            action,
            conditions,
        })
        .collect())
}

/// Checks and resolves `linux.seccomp`.
pub fn plan_seccomp(s: &LinuxSeccomp) -> Result<SeccompPlan, PlanError> {
    let default_action =
        action(s.default_action(), s.default_errno_ret(), "linux.seccomp.defaultErrnoRet")?;
    if default_action == SeccompAction::Notify {
        return Err(PlanError::new(
            "linux.seccomp.defaultAction",
            "SCMP_ACT_NOTIFY cannot be the default action: the runtime's own syscalls after \
             loading the filter would wait for an agent that does not have the notify fd yet",
        ));
    }
    let mut architectures: Vec<Arch> = Vec::new();
    for a in s.architectures().iter().flatten() {
        if !architectures.contains(a) {
            architectures.push(*a);
        }
    }
    let mut flags: Vec<SeccompFlag> = Vec::new();
    for f in s.flags().iter().flatten().map(|f| flag(*f)) {
        if !flags.contains(&f) {
            flags.push(f);
        }
    }
    let mut rules = Vec::new();
    for (i, entry) in s.syscalls().iter().flatten().enumerate() {
        rules.extend(rules_of(entry, i, default_action)?);
    }
    let notify = rules.iter().any(|r| r.action == SeccompAction::Notify);
    let listener = match (notify, s.listener_path()) {
        (false, _) => None,
        (true, Some(path)) if !path.as_os_str().is_empty() => {
            Some(NotifyListener { path: path.clone(), metadata: s.listener_metadata().clone() })
        }
        (true, _) => {
            return Err(PlanError::new(
                "linux.seccomp.listenerPath",
                "is required when a rule uses SCMP_ACT_NOTIFY",
            ))
        }
    };
    Ok(SeccompPlan { default_action, architectures, flags, rules, listener })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn plan_of(v: serde_json::Value) -> Result<SeccompPlan, PlanError> {
        plan_seccomp(&serde_json::from_value(v).unwrap())
    }

    fn err_of(v: serde_json::Value) -> String {
        plan_of(v).unwrap_err().to_string()
    }

    #[test]
    fn actions_and_errnos() {
        let p = plan_of(json!({
            "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
            "syscalls": [
                {"names": ["a"], "action": "SCMP_ACT_KILL"},
                {"names": ["b"], "action": "SCMP_ACT_KILL_THREAD"},
                {"names": ["c"], "action": "SCMP_ACT_KILL_PROCESS"},
                {"names": ["d"], "action": "SCMP_ACT_TRAP"},
                {"names": ["e"], "action": "SCMP_ACT_ERRNO"},
                {"names": ["f"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
                {"names": ["g"], "action": "SCMP_ACT_TRACE", "errnoRet": 4242},
                {"names": ["h"], "action": "SCMP_ACT_TRACE"},
                {"names": ["i"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["j"], "action": "SCMP_ACT_LOG"},
            ]
        }))
        .unwrap();
        assert_eq!(p.default_action, SeccompAction::Errno(38));
        let actions: Vec<_> = p.rules.iter().map(|r| r.action).collect();
        assert_eq!(
            actions,
            [
                SeccompAction::KillThread,
                SeccompAction::KillThread,
                SeccompAction::KillProcess,
                SeccompAction::Trap,
                SeccompAction::Errno(1),
                SeccompAction::Errno(13),
                SeccompAction::Trace(4242),
                SeccompAction::Trace(1),
                SeccompAction::Allow,
                SeccompAction::Log,
            ]
        );
        assert_eq!(p.rules[5].field, "linux.seccomp.syscalls[5]");
        assert!(p.listener.is_none() && !p.uses_notify());
    }

    #[test]
    fn rules_like_the_default_are_dropped() {
        let p = plan_of(json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [
                {"names": ["a"], "action": "SCMP_ACT_ERRNO"},
                {"names": ["b"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
                {"names": ["c"], "action": "SCMP_ACT_ERRNO", "errnoRet": 2},
            ]
        }))
        .unwrap();
        assert_eq!(p.rules.len(), 1);
        assert_eq!(p.rules[0].names, ["c"]);
    }

    #[test]
    fn errno_only_where_an_action_takes_one() {
        let e = err_of(json!({"defaultAction": "SCMP_ACT_ALLOW", "defaultErrnoRet": 1}));
        assert!(
            e.contains("linux.seccomp.defaultErrnoRet: SCMP_ACT_ALLOW returns no errno"),
            "{e}"
        );
        let e = err_of(json!({"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["a"], "action": "SCMP_ACT_ERRNO"},
                         {"names": ["b"], "action": "SCMP_ACT_KILL_PROCESS", "errnoRet": 1}]}));
        assert!(
            e.contains(
                "linux.seccomp.syscalls[1].errnoRet: SCMP_ACT_KILL_PROCESS returns no errno"
            ),
            "{e}"
        );
        let e = err_of(json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 4096}));
        assert!(e.contains("defaultErrnoRet: 4096 is out of range"), "{e}");
        let e = err_of(json!({"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["a"], "action": "SCMP_ACT_TRACE", "errnoRet": 65536}]}));
        assert!(e.contains("syscalls[0].errnoRet: 65536 is out of range"), "{e}");
    }

    #[test]
    fn conditions_keep_spec_meaning_and_split_on_repeated_arguments() {
        let p = plan_of(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [
                {"names": ["personality"], "action": "SCMP_ACT_ERRNO", "args": [
                    {"index": 0, "value": 8, "op": "SCMP_CMP_NE"},
                    {"index": 1, "value": 255, "valueTwo": 3, "op": "SCMP_CMP_MASKED_EQ"}]},
                {"names": ["clone"], "action": "SCMP_ACT_ERRNO", "args": [
                    {"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
                    {"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]},
            ]
        }))
        .unwrap();
        assert_eq!(p.rules.len(), 3);
        assert_eq!(
            p.rules[0].conditions,
            [
                ArgCondition { index: 0, op: CompareOp::Ne, value: 8, value_two: 0 },
                ArgCondition { index: 1, op: CompareOp::MaskedEq, value: 255, value_two: 3 },
            ]
        );
        assert_eq!(
            p.rules[1].conditions,
            [ArgCondition { index: 0, op: CompareOp::Eq, value: 1, value_two: 0 }]
        );
        assert_eq!(
            p.rules[2].conditions,
            [ArgCondition { index: 0, op: CompareOp::Eq, value: 2, value_two: 0 }]
        );
        assert_eq!(p.rules[1].field, p.rules[2].field);

        let all_ops: Vec<_> = ["NE", "LT", "LE", "EQ", "GE", "GT", "MASKED_EQ"]
            .iter()
            .enumerate()
            .map(|(i, op)| json!({"index": i % 6, "value": 1, "op": format!("SCMP_CMP_{op}")}))
            .collect();
        let p = plan_of(json!({"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["x"], "action": "SCMP_ACT_LOG", "args": all_ops}]}))
        .unwrap();
        let ops: Vec<_> = p.rules.iter().flat_map(|r| r.conditions.iter().map(|c| c.op)).collect();
        use CompareOp::*;
        assert_eq!(ops, [Ne, Lt, Le, Eq, Ge, Gt, MaskedEq]);
    }

    #[test]
    fn rejects_bad_entries_naming_the_field() {
        let e = err_of(json!({"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": [], "action": "SCMP_ACT_ERRNO"}]}));
        assert!(
            e.contains("linux.seccomp.syscalls[0].names: must name at least one syscall"),
            "{e}"
        );
        let e = err_of(json!({"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["a", ""], "action": "SCMP_ACT_ERRNO"}]}));
        assert!(e.contains("linux.seccomp.syscalls[0].names[1]: is empty"), "{e}");
        let e = err_of(json!({"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["a"], "action": "SCMP_ACT_ERRNO",
                          "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]}));
        assert!(e.contains("linux.seccomp.syscalls[0].args[0].index: 6 is out of range"), "{e}");
    }

    #[test]
    fn notify_needs_a_listener_and_spares_the_fd_passing() {
        let base = |syscalls: serde_json::Value| {
            json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/agent.sock",
                   "listenerMetadata": "m", "syscalls": syscalls})
        };
        let p = plan_of(base(json!([{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]))).unwrap();
        assert_eq!(
            p.listener,
            Some(NotifyListener { path: "/run/agent.sock".into(), metadata: Some("m".into()) })
        );
        // Without a notify rule the listener is ignored.
        let p = plan_of(base(json!([{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]))).unwrap();
        assert!(!p.uses_notify());

        let e = err_of(json!({"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}));
        assert!(e.contains("linux.seccomp.listenerPath: is required"), "{e}");
        let e = err_of(base(json!([{"names": ["write", "sendto"], "action": "SCMP_ACT_NOTIFY"}])));
        assert!(
            e.contains(
                "linux.seccomp.syscalls[0].names[1]: SCMP_ACT_NOTIFY cannot be used for sendto"
            ),
            "{e}"
        );
        let e = err_of(json!({"defaultAction": "SCMP_ACT_NOTIFY", "listenerPath": "/a"}));
        assert!(
            e.contains("linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default"),
            "{e}"
        );
    }

    #[test]
    fn load_point_follows_privilege_and_notify() {
        let plain = plan_of(json!({"defaultAction": "SCMP_ACT_ALLOW"})).unwrap();
        let notify = plan_of(json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/a",
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}))
        .unwrap();
        assert_eq!(plain.load_point(false), LoadPoint::BeforeIdentity);
        assert_eq!(notify.load_point(false), LoadPoint::BeforeIdentity);
        assert_eq!(notify.load_point(true), LoadPoint::BeforeReady);
        assert_eq!(plain.load_point(true), LoadPoint::BeforeExec);
    }

    #[test]
    fn architectures_and_flags_are_deduplicated() {
        let p = plan_of(json!({"defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X86_64"],
            "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG"]}))
        .unwrap();
        assert_eq!(p.architectures, [Arch::ScmpArchX86_64, Arch::ScmpArchX86]);
        assert_eq!(p.flags, [SeccompFlag::Log, SeccompFlag::Tsync]);
        assert_eq!(SeccompFlag::WaitKillableRecv.name(), "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV");
    }

    #[test]
    fn unknown_names_fail_to_parse_with_their_path() {
        // Unknown actions, operators, architectures and flags never reach the
        // plan: the typed spec refuses them, and rcr-core reports the path.
        for (v, path) in [
            (json!({"defaultAction": "SCMP_ACT_NOPE"}), "defaultAction"),
            (
                json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_Z80"]}),
                "architectures[0]",
            ),
            (
                json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["a"], "action": "SCMP_ACT_ALLOW"},
                    {"names": ["a"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_ABOUT"}]}]}),
                "syscalls[1].args[0].op",
            ),
        ] {
            let e = rcr_core::json_path::from_slice::<LinuxSeccomp>(v.to_string().as_bytes())
                .unwrap_err();
            assert_eq!(e.path(), Some(path));
        }
    }
}
