//! A [`SeccompPlan`] compiled to classic BPF with libseccomp: the one place a
//! filter is built, and the probes `rcr features` reports from.
//!
//! The filter is exported rather than loaded: the program libseccomp would
//! load is what [`seccomp_export_bpf(3)`] writes, and rcr loads it itself
//! (see `init::seccomp`), so it can also come from the cache.
//!
//! [`seccomp_export_bpf(3)`]: https://man7.org/linux/man-pages/man3/seccomp_export_bpf.3.html

use std::io::{Read, Seek};

use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
    ScmpVersion,
};
use nix::sys::memfd::{memfd_create, MemFdCreateFlag};
use oci_spec::runtime::Arch;

use super::{Compiled, Program, SeccompError};
use crate::plan::{
    ArgCondition, CompareOp, SeccompAction, SeccompFlag, SeccompPlan, SECCOMP_ARCHITECTURES,
    SECCOMP_FILTER_FLAGS,
};

/// Above this many rules libseccomp's binary-tree layout pays off. Fewer
/// also keeps clear of libseccomp <= 2.5.4 mishandling the tree with no
/// rules at all.
const BINARY_TREE_MIN_RULES: usize = 32;

/// The libseccomp API level whose notify support the bindings rely on.
const NOTIFY_API_LEVEL: u32 = 6;

/// The version of the libseccomp rcr runs with (not the one it was built
/// against).
pub fn libseccomp_version() -> Option<String> {
    ScmpVersion::current().ok().map(|v| v.to_string())
}

pub(super) fn library_version() -> String {
    libseccomp_version().unwrap_or_else(|| "(unknown version)".to_owned())
}

fn lib_error(what: impl Into<String>, source: libseccomp::error::SeccompError) -> SeccompError {
    SeccompError::Library { what: what.into(), source, hint: None }
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

/// Sets `flag` on the filter. Only libseccomp's own check of it (and its
/// probe of the kernel) matters here: the flags are passed to seccomp(2)
/// when the exported program is loaded.
fn set_flag(ctx: &mut ScmpFilterContext, flag: SeccompFlag) -> Result<(), SeccompError> {
    let set = match flag {
        SeccompFlag::Tsync => ctx.set_ctl_tsync(true),
        SeccompFlag::Log => ctx.set_ctl_log(true),
        SeccompFlag::SpecAllow => ctx.set_ctl_ssb(true),
        SeccompFlag::WaitKillableRecv => ctx.set_ctl_waitkill(true),
    };
    set.map(drop).map_err(|source| SeccompError::Library {
        what: format!("linux.seccomp.flags: {}", flag.name()),
        source,
        hint: Some("the flag is not supported by this kernel or libseccomp".into()),
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

/// Builds the libseccomp filter for `plan`. Syscall names libseccomp does
/// not know (newer than the library, or not on any of the filter's
/// architectures) are skipped and returned.
pub fn build_filter(plan: &SeccompPlan) -> Result<(ScmpFilterContext, Vec<String>), SeccompError> {
    if plan.uses_notify()
        && !libseccomp::check_api(NOTIFY_API_LEVEL, ScmpVersion::from((2, 5, 0))).unwrap_or(false)
    {
        return Err(SeccompError::NotifyUnsupported {
            version: library_version(),
            api: libseccomp::get_api(),
        });
    }
    let mut ctx = ScmpFilterContext::new(action(plan.default_action))
        .map_err(|e| lib_error("create seccomp filter", e))?;
    // Kernel errnos, not libseccomp's catch-all ECANCELED, for its probes.
    ctx.set_api_sysrawrc(true).map_err(|e| lib_error("set seccomp filter attribute", e))?;
    // no_new_privs is the spec's process.noNewPrivileges, set by its own
    // step of the init; the exported program does not carry it anyway.
    ctx.set_ctl_nnp(false).map_err(|e| lib_error("set seccomp filter attribute", e))?;
    for &a in &plan.architectures {
        ctx.add_arch(arch(a)).map_err(|source| SeccompError::Library {
            what: format!("linux.seccomp.architectures: add {a}"),
            source,
            hint: Some(format!("libseccomp {} may not know this architecture", library_version())),
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
            added.map_err(|e| lib_error(format!("{}: add rule for {name}", rule.field), e))?;
        }
    }
    Ok((ctx, skipped))
}

/// The program libseccomp generates for `ctx`, as it would load it.
pub fn export(ctx: &ScmpFilterContext) -> Result<Program, SeccompError> {
    // A memfd rather than a pipe: a long program would fill a pipe and
    // block the export forever.
    let fd = memfd_create(c"rcr-seccomp-bpf", MemFdCreateFlag::MFD_CLOEXEC)
        .map_err(|e| SeccompError::Export(e.into()))?;
    ctx.export_bpf(&fd).map_err(|e| lib_error("export seccomp filter", e))?;
    let mut file = std::fs::File::from(fd);
    let mut bytes = Vec::new();
    file.rewind().and_then(|()| file.read_to_end(&mut bytes)).map_err(SeccompError::Export)?;
    Program::from_bytes(bytes).map_err(SeccompError::Program)
}

/// Compiles `plan`: builds the filter and exports its program.
pub fn compile(plan: &SeccompPlan) -> Result<Compiled, SeccompError> {
    let (ctx, skipped) = build_filter(plan)?;
    Ok(Compiled { program: export(&ctx)?, skipped })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{plan_seccomp, SyscallRule};

    fn plan_of(v: serde_json::Value) -> SeccompPlan {
        plan_seccomp(&serde_json::from_value(v).unwrap()).unwrap()
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
