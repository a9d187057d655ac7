//! The process attributes of a spec — capabilities, rlimits, `oomScoreAdj`,
//! scheduler, I/O priority, `execCPUAffinity` and `linux.personality` —
//! checked and resolved to kernel numbers.
//!
//! Everything the kernel would refuse for sure is refused here, naming the
//! field; what depends on the running kernel or on the runtime's own
//! privileges (capabilities the kernel does not know, ambient capabilities
//! that cannot be raised) is left to the init, which warns and goes on as
//! runtime-spec asks.

use std::str::FromStr;

use nix::sys::resource::Resource;
use oci_spec::runtime::{
    Capabilities, Capability, ExecCPUAffinity, IOPriorityClass, LinuxPersonality,
    LinuxPersonalityDomain, LinuxSchedulerFlag, LinuxSchedulerPolicy, PosixRlimit, PosixRlimitType,
    Process, Scheduler, Spec,
};

use super::PlanError;

/// The five capability sets, as masks with bit `n` for capability `n`.
///
/// A spec without `process.capabilities` gets all sets empty, as runc 1.1
/// does: the container process is never more privileged than asked for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CapabilitySets {
    pub bounding: u64,
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
    pub ambient: u64,
}

impl CapabilitySets {
    /// Every set, with its spec field name.
    pub fn each(&self) -> [(&'static str, u64); 5] {
        [
            ("bounding", self.bounding),
            ("effective", self.effective),
            ("permitted", self.permitted),
            ("inheritable", self.inheritable),
            ("ambient", self.ambient),
        ]
    }

    /// Every set, mutably, with its spec field name.
    pub fn each_mut(&mut self) -> [(&'static str, &mut u64); 5] {
        [
            ("bounding", &mut self.bounding),
            ("effective", &mut self.effective),
            ("permitted", &mut self.permitted),
            ("inheritable", &mut self.inheritable),
            ("ambient", &mut self.ambient),
        ]
    }
}

/// The capabilities in `mask`, lowest number first, by name (`CAP_*`).
pub fn capability_names(mask: u64) -> Vec<String> {
    let mut known: Vec<caps::Capability> =
        caps::all().into_iter().filter(|c| mask & c.bitmask() != 0).collect();
    known.sort_by_key(caps::Capability::index);
    let known_mask = known.iter().fold(0, |m, c| m | c.bitmask());
    let mut names: Vec<String> = known.iter().map(ToString::to_string).collect();
    names.extend(
        (0..64).filter(|n| (mask & !known_mask) & (1 << n) != 0).map(|n| format!("CAP_{n}")),
    );
    names
}

/// Every capability the name table knows, as a mask; capabilities outside
/// it are only known by number (`CAP_<n>`).
pub fn named_capabilities() -> u64 {
    caps::all().into_iter().fold(0, |m, c| m | c.bitmask())
}

/// One resource limit (`setrlimit(2)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rlimit {
    pub resource: Resource,
    /// The spec's name, `RLIMIT_*`, for messages.
    pub name: &'static str,
    pub soft: u64,
    pub hard: u64,
}

/// `sched_setattr(2)` arguments.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SchedulerPlan {
    pub policy: u32,
    pub nice: i32,
    pub priority: u32,
    pub flags: u64,
    pub runtime: u64,
    pub deadline: u64,
    pub period: u64,
}

/// An I/O scheduling class and level (`ioprio_set(2)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IoPriority {
    /// `IOPRIO_CLASS_RT` (1), `_BE` (2) or `_IDLE` (3).
    pub class: u32,
    /// 0 (highest) to 7 (lowest).
    pub level: u32,
}

impl IoPriority {
    /// The value ioprio_set(2) takes: the class above a 13-bit level.
    pub fn value(self) -> i32 {
        ((self.class << 13) | self.level) as i32
    }
}

/// A set of CPU numbers, from a list such as `0-3,7`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuList(pub Vec<usize>);

/// The largest CPU number a list may name: what `sched_setaffinity(2)`'s
/// fixed-size mask (`CPU_SETSIZE`) can hold.
pub const MAX_CPU: usize = 1023;

impl CpuList {
    /// Parses a list in the kernel's `cpulist` format; an empty string is
    /// no list at all.
    pub fn parse(text: &str) -> Result<Option<CpuList>, String> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        let number = |s: &str| -> Result<usize, String> {
            let n: usize = s.trim().parse().map_err(|_| format!("{s:?} is not a CPU number"))?;
            if n > MAX_CPU {
                return Err(format!(
                    "CPU {n} is beyond the largest supported CPU number ({MAX_CPU})"
                ));
            }
            Ok(n)
        };
        let mut cpus = Vec::new();
        for range in text.split(',') {
            let (first, last) = match range.split_once('-') {
                Some((a, b)) => (number(a)?, number(b)?),
                None => {
                    let n = number(range)?;
                    (n, n)
                }
            };
            if first > last {
                return Err(format!("range {range:?} runs backwards"));
            }
            cpus.extend(first..=last);
        }
        cpus.sort_unstable();
        cpus.dedup();
        Ok(Some(CpuList(cpus)))
    }
}

/// `execCPUAffinity`: where a process started by `exec` runs. runtime-spec
/// says it does not apply to the container's init process, so `create` and
/// `run` only check it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecAffinity {
    /// Before the process joins the container's cgroup.
    pub initial: Option<CpuList>,
    /// After it joined; `None` leaves the cgroup's CPUs in force.
    pub last: Option<CpuList>,
}

/// `PER_LINUX` and `PER_LINUX32` from `<sys/personality.h>`.
pub const PER_LINUX: u32 = 0x0000;
pub const PER_LINUX32: u32 = 0x0008;

/// The process attributes the init applies before it execs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessAttrs {
    pub capabilities: CapabilitySets,
    pub rlimits: Vec<Rlimit>,
    /// `-1000..=1000`; `None` leaves the inherited value alone.
    pub oom_score_adj: Option<i32>,
    pub scheduler: Option<SchedulerPlan>,
    pub io_priority: Option<IoPriority>,
    pub exec_cpu_affinity: Option<ExecAffinity>,
    /// The persona for personality(2).
    pub personality: Option<u32>,
    /// Parts of the spec that are accepted but ignored, for the init to log.
    pub warnings: Vec<String>,
}

/// Builds the process attributes of `spec` (a spec without `process` gets
/// the defaults; the missing process is reported elsewhere).
pub fn plan_attrs(spec: &Spec) -> Result<ProcessAttrs, PlanError> {
    let mut attrs = ProcessAttrs::default();
    if let Some(process) = spec.process() {
        attrs.capabilities = capabilities(process);
        attrs.rlimits = rlimits(process.rlimits().as_deref().unwrap_or_default())?;
        attrs.oom_score_adj = oom_score_adj(process.oom_score_adj())?;
        attrs.scheduler = process.scheduler().as_ref().map(scheduler).transpose()?;
        attrs.io_priority = process
            .io_priority()
            .as_ref()
            .map(|p| io_priority(p.class(), p.priority()))
            .transpose()?;
        attrs.exec_cpu_affinity =
            process.exec_cpu_affinity().as_ref().map(exec_affinity).transpose()?.flatten();
    }
    if let Some(p) = spec.linux().as_ref().and_then(|l| l.personality().as_ref()) {
        attrs.personality = Some(personality(p, &mut attrs.warnings));
    }
    Ok(attrs)
}

/// The kernel number of a capability oci-spec parsed (oci-spec already
/// refused names that are no capability at all).
fn capability_number(cap: Capability) -> u8 {
    let name = serde_json::to_value(cap).ok();
    let name = name.as_ref().and_then(|v| v.as_str()).unwrap_or_default();
    caps::Capability::from_str(name)
        .expect("oci-spec and caps know the same capability names (a unit test checks)")
        .index()
}

fn mask(set: Option<&Capabilities>) -> u64 {
    set.into_iter().flatten().fold(0, |m, c| m | 1 << capability_number(*c))
}

fn capabilities(process: &Process) -> CapabilitySets {
    let Some(c) = process.capabilities() else { return CapabilitySets::default() };
    CapabilitySets {
        bounding: mask(c.bounding().as_ref()),
        effective: mask(c.effective().as_ref()),
        permitted: mask(c.permitted().as_ref()),
        inheritable: mask(c.inheritable().as_ref()),
        ambient: mask(c.ambient().as_ref()),
    }
}

fn rlimit_resource(t: PosixRlimitType) -> (Resource, &'static str) {
    match t {
        PosixRlimitType::RlimitCpu => (Resource::RLIMIT_CPU, "RLIMIT_CPU"),
        PosixRlimitType::RlimitFsize => (Resource::RLIMIT_FSIZE, "RLIMIT_FSIZE"),
        PosixRlimitType::RlimitData => (Resource::RLIMIT_DATA, "RLIMIT_DATA"),
        PosixRlimitType::RlimitStack => (Resource::RLIMIT_STACK, "RLIMIT_STACK"),
        PosixRlimitType::RlimitCore => (Resource::RLIMIT_CORE, "RLIMIT_CORE"),
        PosixRlimitType::RlimitRss => (Resource::RLIMIT_RSS, "RLIMIT_RSS"),
        PosixRlimitType::RlimitNproc => (Resource::RLIMIT_NPROC, "RLIMIT_NPROC"),
        PosixRlimitType::RlimitNofile => (Resource::RLIMIT_NOFILE, "RLIMIT_NOFILE"),
        PosixRlimitType::RlimitMemlock => (Resource::RLIMIT_MEMLOCK, "RLIMIT_MEMLOCK"),
        PosixRlimitType::RlimitAs => (Resource::RLIMIT_AS, "RLIMIT_AS"),
        PosixRlimitType::RlimitLocks => (Resource::RLIMIT_LOCKS, "RLIMIT_LOCKS"),
        PosixRlimitType::RlimitSigpending => (Resource::RLIMIT_SIGPENDING, "RLIMIT_SIGPENDING"),
        PosixRlimitType::RlimitMsgqueue => (Resource::RLIMIT_MSGQUEUE, "RLIMIT_MSGQUEUE"),
        PosixRlimitType::RlimitNice => (Resource::RLIMIT_NICE, "RLIMIT_NICE"),
        PosixRlimitType::RlimitRtprio => (Resource::RLIMIT_RTPRIO, "RLIMIT_RTPRIO"),
        PosixRlimitType::RlimitRttime => (Resource::RLIMIT_RTTIME, "RLIMIT_RTTIME"),
    }
}

fn rlimits(list: &[PosixRlimit]) -> Result<Vec<Rlimit>, PlanError> {
    let mut out: Vec<Rlimit> = Vec::with_capacity(list.len());
    for (i, r) in list.iter().enumerate() {
        let field = format!("process.rlimits[{i}]");
        let (resource, name) = rlimit_resource(r.typ());
        if out.iter().any(|o| o.resource == resource) {
            return Err(PlanError::new(field, format!("{name} is listed more than once")));
        }
        if r.soft() > r.hard() {
            return Err(PlanError::new(
                field,
                format!("{name}: the soft limit {} is above the hard limit {}", r.soft(), r.hard()),
            ));
        }
        out.push(Rlimit { resource, name, soft: r.soft(), hard: r.hard() });
    }
    Ok(out)
}

fn oom_score_adj(value: Option<i32>) -> Result<Option<i32>, PlanError> {
    match value {
        Some(v) if !(-1000..=1000).contains(&v) => {
            Err(PlanError::new("process.oomScoreAdj", format!("{v} is outside -1000..1000")))
        }
        v => Ok(v),
    }
}

fn scheduler(s: &Scheduler) -> Result<SchedulerPlan, PlanError> {
    use LinuxSchedulerPolicy as P;
    let err = |field: &str, message: String| {
        PlanError::new(format!("process.scheduler.{field}"), message)
    };
    let (policy, name) = match s.policy() {
        P::SchedOther => (libc::SCHED_OTHER, "SCHED_OTHER"),
        P::SchedFifo => (libc::SCHED_FIFO, "SCHED_FIFO"),
        P::SchedRr => (libc::SCHED_RR, "SCHED_RR"),
        P::SchedBatch => (libc::SCHED_BATCH, "SCHED_BATCH"),
        P::SchedIdle => (libc::SCHED_IDLE, "SCHED_IDLE"),
        P::SchedDeadline => (libc::SCHED_DEADLINE, "SCHED_DEADLINE"),
        // Only ever in out-of-tree patch sets: sched_setattr refuses it.
        P::SchedIso => return Err(err("policy", "SCHED_ISO is not implemented by Linux".into())),
    };
    let nice = s.nice().unwrap_or(0);
    if !(-20..=19).contains(&nice) {
        return Err(err("nice", format!("{nice} is outside -20..19")));
    }
    let priority = s.priority().unwrap_or(0);
    let realtime = matches!(s.policy(), P::SchedFifo | P::SchedRr);
    if realtime && !(1..=99).contains(&priority) {
        return Err(err(
            "priority",
            format!("{name} needs a priority from 1 to 99, not {priority}"),
        ));
    }
    if !realtime && priority != 0 {
        return Err(err(
            "priority",
            format!("only SCHED_FIFO and SCHED_RR take a priority, not {name}"),
        ));
    }
    let (runtime, deadline, period) =
        (s.runtime().unwrap_or(0), s.deadline().unwrap_or(0), s.period().unwrap_or(0));
    if *s.policy() == P::SchedDeadline {
        // The kernel's own checks (__checkparam_dl), said in spec terms.
        if runtime < 1024 {
            return Err(err(
                "runtime",
                format!("{runtime} ns is below the kernel's minimum of 1024 ns"),
            ));
        }
        if deadline < runtime {
            return Err(err(
                "deadline",
                format!("{deadline} ns is shorter than the runtime ({runtime} ns)"),
            ));
        }
        if period != 0 && period < deadline {
            return Err(err(
                "period",
                format!("{period} ns is shorter than the deadline ({deadline} ns)"),
            ));
        }
    } else if runtime != 0 || deadline != 0 || period != 0 {
        return Err(err(
            "runtime",
            format!("runtime, deadline and period only apply to SCHED_DEADLINE, not {name}"),
        ));
    }
    let flags = s.flags().iter().flatten().fold(0, |f, flag| f | scheduler_flag(*flag));
    Ok(SchedulerPlan {
        policy: policy as u32,
        nice,
        priority: priority as u32,
        flags,
        runtime,
        deadline,
        period,
    })
}

/// `SCHED_FLAG_*` from `<linux/sched.h>`.
fn scheduler_flag(flag: LinuxSchedulerFlag) -> u64 {
    match flag {
        LinuxSchedulerFlag::SchedResetOnFork => 0x01,
        LinuxSchedulerFlag::SchedFlagReclaim => 0x02,
        LinuxSchedulerFlag::SchedFlagDLOverrun => 0x04,
        LinuxSchedulerFlag::SchedFlagKeepPolicy => 0x08,
        LinuxSchedulerFlag::SchedFlagKeepParams => 0x10,
        LinuxSchedulerFlag::SchedFlagUtilClampMin => 0x20,
        LinuxSchedulerFlag::SchedFlagUtilClampMax => 0x40,
    }
}

fn io_priority(class: IOPriorityClass, level: i64) -> Result<IoPriority, PlanError> {
    if !(0..=7).contains(&level) {
        return Err(PlanError::new(
            "process.ioPriority.priority",
            format!("{level} is outside 0 (highest) to 7 (lowest)"),
        ));
    }
    let class = match class {
        IOPriorityClass::IoprioClassRt => 1,
        IOPriorityClass::IoprioClassBe => 2,
        IOPriorityClass::IoprioClassIdle => 3,
    };
    Ok(IoPriority { class, level: level as u32 })
}

fn exec_affinity(a: &ExecCPUAffinity) -> Result<Option<ExecAffinity>, PlanError> {
    let list = |text: Option<&String>, field: &str| {
        text.map(|t| CpuList::parse(t))
            .transpose()
            .map(Option::flatten)
            .map_err(|e| PlanError::new(format!("process.execCPUAffinity.{field}"), e))
    };
    let initial = list(a.initial().as_ref(), "initial")?;
    let last = list(a.cpu_affinity_final().as_ref(), "final")?;
    Ok((initial.is_some() || last.is_some()).then_some(ExecAffinity { initial, last }))
}

fn personality(p: &LinuxPersonality, warnings: &mut Vec<String>) -> u32 {
    if let Some(flags) = p.flags().as_ref().filter(|f| !f.is_empty()) {
        // runtime-spec defines no flags yet; runc ignores them the same way.
        warnings
            .push(format!("ignoring linux.personality.flags {flags:?}: no flags are supported"));
    }
    match p.domain() {
        LinuxPersonalityDomain::PerLinux => PER_LINUX,
        LinuxPersonalityDomain::PerLinux32 => PER_LINUX32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs_of(
        process: serde_json::Value,
        linux: serde_json::Value,
    ) -> Result<ProcessAttrs, PlanError> {
        let mut p =
            serde_json::json!({"args": ["/bin/sh"], "cwd": "/", "user": {"uid": 0, "gid": 0}});
        p.as_object_mut().unwrap().extend(process.as_object().unwrap().clone());
        let spec: Spec = serde_json::from_value(serde_json::json!({
            "ociVersion": "1.2.0", "root": {"path": "rootfs"}, "process": p, "linux": linux,
        }))
        .unwrap();
        plan_attrs(&spec)
    }

    fn attrs(process: serde_json::Value) -> ProcessAttrs {
        attrs_of(process, serde_json::json!({})).unwrap()
    }

    fn rejected(process: serde_json::Value) -> String {
        attrs_of(process, serde_json::json!({})).unwrap_err().to_string()
    }

    #[test]
    fn every_oci_capability_maps_to_its_kernel_number() {
        let all: Vec<String> = caps::all().iter().map(ToString::to_string).collect();
        let spec_caps: Capabilities = serde_json::from_value(serde_json::json!(all)).unwrap();
        assert_eq!(spec_caps.len(), all.len());
        for cap in spec_caps {
            let name = serde_json::to_value(cap).unwrap();
            let number = capability_number(cap);
            assert_eq!(caps::Capability::from_str(name.as_str().unwrap()).unwrap().index(), number);
        }
        assert_eq!(capability_number(Capability::Chown), 0);
        assert_eq!(capability_number(Capability::CheckpointRestore), 40);
    }

    #[test]
    fn capability_sets_by_number() {
        let a = attrs(serde_json::json!({"capabilities": {
            "bounding": ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_AUDIT_WRITE"],
            "effective": ["CAP_KILL"], "permitted": ["CAP_KILL", "CAP_KILL"],
            "inheritable": ["CAP_CHOWN"], "ambient": ["CAP_CHOWN"]}}));
        let c = a.capabilities;
        assert_eq!(c.bounding, 1 << 5 | 1 << 10 | 1 << 29);
        assert_eq!((c.effective, c.permitted, c.inheritable, c.ambient), (1 << 5, 1 << 5, 1, 1));
        assert_eq!(
            capability_names(c.bounding),
            ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_AUDIT_WRITE"]
        );
        assert_eq!(capability_names(1 << 63 | 1), ["CAP_CHOWN", "CAP_63"]);
    }

    #[test]
    fn missing_or_empty_capabilities_are_empty_sets() {
        assert_eq!(attrs(serde_json::json!({})).capabilities, CapabilitySets::default());
        assert_eq!(
            attrs(serde_json::json!({"capabilities": {}})).capabilities,
            CapabilitySets::default()
        );
    }

    #[test]
    fn rlimits_are_checked() {
        let a = attrs(serde_json::json!({"rlimits": [
            {"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 4096},
            {"type": "RLIMIT_CORE", "soft": 0, "hard": 0},
            {"type": "RLIMIT_RTTIME", "soft": 5, "hard": u64::MAX}]}));
        assert_eq!(
            a.rlimits,
            [
                Rlimit {
                    resource: Resource::RLIMIT_NOFILE,
                    name: "RLIMIT_NOFILE",
                    soft: 1024,
                    hard: 4096
                },
                Rlimit { resource: Resource::RLIMIT_CORE, name: "RLIMIT_CORE", soft: 0, hard: 0 },
                Rlimit {
                    resource: Resource::RLIMIT_RTTIME,
                    name: "RLIMIT_RTTIME",
                    soft: 5,
                    hard: u64::MAX
                },
            ]
        );
        let e = rejected(serde_json::json!({"rlimits": [
            {"type": "RLIMIT_NOFILE", "soft": 1, "hard": 1}, {"type": "RLIMIT_NOFILE", "soft": 2, "hard": 2}]}));
        assert_eq!(e, "invalid config: process.rlimits[1]: RLIMIT_NOFILE is listed more than once");
        let e =
            rejected(serde_json::json!({"rlimits": [{"type": "RLIMIT_AS", "soft": 2, "hard": 1}]}));
        assert_eq!(e, "invalid config: process.rlimits[0]: RLIMIT_AS: the soft limit 2 is above the hard limit 1");
    }

    #[test]
    fn every_rlimit_type_has_a_resource() {
        let types = [
            "RLIMIT_CPU",
            "RLIMIT_FSIZE",
            "RLIMIT_DATA",
            "RLIMIT_STACK",
            "RLIMIT_CORE",
            "RLIMIT_RSS",
            "RLIMIT_NPROC",
            "RLIMIT_NOFILE",
            "RLIMIT_MEMLOCK",
            "RLIMIT_AS",
            "RLIMIT_LOCKS",
            "RLIMIT_SIGPENDING",
            "RLIMIT_MSGQUEUE",
            "RLIMIT_NICE",
            "RLIMIT_RTPRIO",
            "RLIMIT_RTTIME",
        ];
        let list: Vec<_> =
            types.iter().map(|t| serde_json::json!({"type": t, "soft": 1, "hard": 2})).collect();
        let a = attrs(serde_json::json!({"rlimits": list}));
        let names: Vec<_> = a.rlimits.iter().map(|r| r.name).collect();
        assert_eq!(names, types);
        let mut resources: Vec<_> = a.rlimits.iter().map(|r| r.resource as i64).collect();
        resources.sort_unstable();
        resources.dedup();
        assert_eq!(resources.len(), types.len());
    }

    #[test]
    fn oom_score_adj_range() {
        assert_eq!(attrs(serde_json::json!({"oomScoreAdj": -1000})).oom_score_adj, Some(-1000));
        assert_eq!(attrs(serde_json::json!({})).oom_score_adj, None);
        let e = rejected(serde_json::json!({"oomScoreAdj": 1001}));
        assert_eq!(e, "invalid config: process.oomScoreAdj: 1001 is outside -1000..1000");
    }

    #[test]
    fn scheduler_policies_and_checks() {
        let s = attrs(serde_json::json!({"scheduler": {"policy": "SCHED_BATCH", "nice": 7,
            "flags": ["SCHED_RESET_ON_FORK", "SCHED_FLAG_KEEP_PARAMS"]}}))
        .scheduler
        .unwrap();
        assert_eq!(s, SchedulerPlan { policy: 3, nice: 7, flags: 0x11, ..Default::default() });
        let s = attrs(serde_json::json!({"scheduler": {"policy": "SCHED_RR", "priority": 10}}))
            .scheduler
            .unwrap();
        assert_eq!((s.policy, s.priority), (2, 10));
        let s = attrs(serde_json::json!({"scheduler": {"policy": "SCHED_DEADLINE",
            "runtime": 10_000, "deadline": 20_000, "period": 30_000}}))
        .scheduler
        .unwrap();
        assert_eq!((s.policy, s.runtime, s.deadline, s.period), (6, 10_000, 20_000, 30_000));
        assert_eq!(
            attrs(serde_json::json!({"scheduler": {"policy": "SCHED_IDLE"}}))
                .scheduler
                .unwrap()
                .policy,
            5
        );

        for (scheduler, field, words) in [
            (serde_json::json!({"policy": "SCHED_ISO"}), "policy", "not implemented"),
            (serde_json::json!({"policy": "SCHED_OTHER", "nice": 20}), "nice", "outside -20..19"),
            (serde_json::json!({"policy": "SCHED_OTHER", "nice": -21}), "nice", "outside -20..19"),
            (serde_json::json!({"policy": "SCHED_FIFO"}), "priority", "from 1 to 99"),
            (
                serde_json::json!({"policy": "SCHED_RR", "priority": 100}),
                "priority",
                "from 1 to 99",
            ),
            (
                serde_json::json!({"policy": "SCHED_BATCH", "priority": 1}),
                "priority",
                "only SCHED_FIFO",
            ),
            (
                serde_json::json!({"policy": "SCHED_OTHER", "runtime": 1}),
                "runtime",
                "only apply to SCHED_DEADLINE",
            ),
            (
                serde_json::json!({"policy": "SCHED_DEADLINE", "runtime": 10, "deadline": 20}),
                "runtime",
                "1024",
            ),
            (
                serde_json::json!({"policy": "SCHED_DEADLINE", "runtime": 2000, "deadline": 1500}),
                "deadline",
                "shorter",
            ),
            (
                serde_json::json!({"policy": "SCHED_DEADLINE", "runtime": 2000, "deadline": 3000, "period": 2500}),
                "period",
                "shorter",
            ),
        ] {
            let e = rejected(serde_json::json!({ "scheduler": scheduler }));
            assert!(e.starts_with(&format!("invalid config: process.scheduler.{field}: ")), "{e}");
            assert!(e.contains(words), "{e}");
        }
    }

    #[test]
    fn io_priority_classes_and_levels() {
        let p =
            attrs(serde_json::json!({"ioPriority": {"class": "IOPRIO_CLASS_BE", "priority": 6}}))
                .io_priority
                .unwrap();
        assert_eq!(p, IoPriority { class: 2, level: 6 });
        assert_eq!(p.value(), 2 << 13 | 6);
        let p =
            attrs(serde_json::json!({"ioPriority": {"class": "IOPRIO_CLASS_RT", "priority": 0}}))
                .io_priority
                .unwrap();
        assert_eq!(p.value(), 1 << 13);
        let e = rejected(
            serde_json::json!({"ioPriority": {"class": "IOPRIO_CLASS_IDLE", "priority": 8}}),
        );
        assert_eq!(
            e,
            "invalid config: process.ioPriority.priority: 8 is outside 0 (highest) to 7 (lowest)"
        );
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(CpuList::parse("0-1,3").unwrap(), Some(CpuList(vec![0, 1, 3])));
        assert_eq!(CpuList::parse("7,0-2,1").unwrap(), Some(CpuList(vec![0, 1, 2, 7])));
        assert_eq!(CpuList::parse(" 5 ").unwrap(), Some(CpuList(vec![5])));
        assert_eq!(CpuList::parse("").unwrap(), None);
        assert!(CpuList::parse("3-1").unwrap_err().contains("backwards"));
        assert!(CpuList::parse("a").unwrap_err().contains("not a CPU number"));
        assert!(CpuList::parse("1,,2").is_err());
        assert!(CpuList::parse("0-4096").unwrap_err().contains("largest supported"));
    }

    #[test]
    fn exec_cpu_affinity_is_parsed() {
        let a = attrs(serde_json::json!({"execCPUAffinity": {"initial": "7", "final": "0-3,7"}}));
        assert_eq!(
            a.exec_cpu_affinity,
            Some(ExecAffinity {
                initial: Some(CpuList(vec![7])),
                last: Some(CpuList(vec![0, 1, 2, 3, 7]))
            })
        );
        let a = attrs(serde_json::json!({"execCPUAffinity": {"final": "1"}}));
        assert_eq!(a.exec_cpu_affinity.unwrap().initial, None);
        assert_eq!(attrs(serde_json::json!({"execCPUAffinity": {}})).exec_cpu_affinity, None);
        let e = rejected(serde_json::json!({"execCPUAffinity": {"initial": "9-2"}}));
        assert!(e.starts_with("invalid config: process.execCPUAffinity.initial: "), "{e}");
    }

    #[test]
    fn personality_domains() {
        let linux32 = serde_json::json!({"personality": {"domain": "LINUX32"}});
        let a = attrs_of(serde_json::json!({}), linux32).unwrap();
        assert_eq!(a.personality, Some(PER_LINUX32));
        assert!(a.warnings.is_empty());
        let flagged = serde_json::json!({"personality": {"domain": "LINUX", "flags": ["X"]}});
        let a = attrs_of(serde_json::json!({}), flagged).unwrap();
        assert_eq!(a.personality, Some(PER_LINUX));
        assert_eq!(a.warnings.len(), 1);
        assert!(a.warnings[0].contains("linux.personality.flags"), "{:?}", a.warnings);
        assert_eq!(attrs(serde_json::json!({})).personality, None);
    }
}
