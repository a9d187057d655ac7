//! The container's seccomp filter on the runtime's side: the plan's
//! [`SeccompPlan`] compiled to a classic BPF [`Program`] before the init (or
//! `exec`'s child) is forked, and handed to it as a [`Filter`] that knows its
//! seccomp(2) flags and its [`LoadPoint`]. The child only loads it (see
//! `init::seccomp`).
//!
//! Compiling is libseccomp's work and costs about 20 ms for a Docker-like
//! profile, more than the rest of a container start; so a compiled program
//! is kept in a cache under the state root, keyed by everything it depends
//! on, and a known profile costs one small file read (see `cache.rs`). The
//! cache is the runtime parent's alone: the child runs after pivot_root,
//! where it is out of sight.
//!
//! Invariants:
//! - everything libseccomp can refuse (an architecture, a flag, a rule, a
//!   program past the kernel's length limit) fails before any container
//!   resource exists, naming the spec field;
//! - a cache that is missing, unwritable or corrupt never fails a container
//!   and never changes its filter: the profile is compiled again;
//! - the program is loaded exactly as libseccomp would load it, with the
//!   flags of [`load_flags`], and never sets `no_new_privs` (that is
//!   `process.noNewPrivileges`, applied by its own step).

mod cache;
mod compile;

use std::path::Path;
use std::time::Instant;

pub use compile::{
    build_filter, compile, libseccomp_version, supported_architectures, supported_flags,
};

use crate::plan::{LaunchPlan, LoadPoint, SeccompFlag, SeccompPlan};

/// The most instructions the kernel takes in one filter (`BPF_MAXINSNS`).
pub const MAX_INSTRUCTIONS: usize = libc::BPF_MAXINSNS as usize;

/// A compiled filter: 1 to [`MAX_INSTRUCTIONS`] classic BPF instructions,
/// each an 8-byte `struct sock_filter` in native byte order, as seccomp(2)
/// reads them.
#[derive(Clone, PartialEq, Eq)]
pub struct Program(Vec<u8>);

/// Why bytes are not a program the kernel could load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BadProgram {
    #[error("{0} bytes are not whole 8-byte BPF instructions")]
    Partial(usize),
    #[error("the program is empty")]
    Empty,
    #[error("{0} BPF instructions, more than the kernel's limit of {MAX_INSTRUCTIONS}")]
    TooLong(usize),
}

impl Program {
    /// Takes `bytes` as a program if the kernel could load one that long.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, BadProgram> {
        match (bytes.len() % 8, bytes.len() / 8) {
            (0, 0) => Err(BadProgram::Empty),
            (0, n) if n <= MAX_INSTRUCTIONS => Ok(Self(bytes)),
            (0, n) => Err(BadProgram::TooLong(n)),
            _ => Err(BadProgram::Partial(bytes.len())),
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The number of instructions.
    pub fn len(&self) -> usize {
        self.0.len() / 8
    }

    /// Always false: a program has at least one instruction.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Program({} instructions)", self.len())
    }
}

/// A compiled profile: its program and the syscall names libseccomp did not
/// know (skipped, as runc does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compiled {
    pub program: Program,
    pub skipped: Vec<String>,
}

/// A filter ready for the child to load.
#[derive(Debug, Clone)]
pub struct Filter {
    pub program: Program,
    /// The seccomp(2) flags ([`load_flags`]).
    pub flags: libc::c_ulong,
    pub point: LoadPoint,
    /// Whether loading yields a notify listener for the agent.
    pub notify: bool,
}

impl Filter {
    /// The filter `program` of `plan`, for a process with or without
    /// `no_new_privs`.
    pub fn new(program: Program, plan: &SeccompPlan, no_new_privs: bool) -> Self {
        Self {
            program,
            flags: load_flags(plan),
            point: plan.load_point(no_new_privs),
            notify: plan.uses_notify(),
        }
    }
}

/// Failures to compile a profile.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    /// libseccomp refused a part of the profile.
    #[error("{what}: {source}{}", hint_suffix(.hint.as_deref()))]
    Library { what: String, source: libseccomp::error::SeccompError, hint: Option<String> },
    #[error(
        "linux.seccomp: SCMP_ACT_NOTIFY is not supported by libseccomp {version} at API level \
         {api} (needs libseccomp 2.5.0 and Linux 5.7)"
    )]
    NotifyUnsupported { version: String, api: u32 },
    #[error("export the seccomp filter from libseccomp: {0}")]
    Export(std::io::Error),
    #[error("linux.seccomp: the compiled filter cannot be loaded: {0}")]
    Program(BadProgram),
}

fn hint_suffix(hint: Option<&str>) -> String {
    hint.map(|h| format!(" ({h})")).unwrap_or_default()
}

/// The seccomp(2) flags for `plan`'s filter: those libseccomp would pass
/// when loading the same filter itself, but for `TSYNC`.
pub fn load_flags(plan: &SeccompPlan) -> libc::c_ulong {
    let mut flags = 0;
    for flag in &plan.flags {
        flags |= match flag {
            // The init and exec's child load the filter single-threaded (no
            // threads on the runtime path), so there is no thread to
            // synchronise; and with NEW_LISTENER, TSYNC would also need
            // TSYNC_ESRCH from the kernel.
            SeccompFlag::Tsync => 0,
            SeccompFlag::Log => libc::SECCOMP_FILTER_FLAG_LOG,
            SeccompFlag::SpecAllow => libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW,
            SeccompFlag::WaitKillableRecv => libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
        };
    }
    if plan.uses_notify() {
        flags |= libc::SECCOMP_FILTER_FLAG_NEW_LISTENER;
    }
    flags
}

/// The container's filter, compiled or taken from the cache under the state
/// root `root`; `None` when the plan has no `linux.seccomp`.
pub fn prepare(plan: &LaunchPlan, root: &Path) -> Result<Option<Filter>, SeccompError> {
    let Some(sp) = &plan.seccomp else { return Ok(None) };
    let program = compiled(sp, root)?;
    Ok(Some(Filter::new(program, sp, plan.process.no_new_privileges)))
}

fn compiled(plan: &SeccompPlan, root: &Path) -> Result<Program, SeccompError> {
    let started = Instant::now();
    let key = cache::Key::new(&cache::Toolchain::current(), plan);
    let cache = cache::Cache::open(root)
        .inspect_err(|e| tracing::debug!("seccomp: no filter cache: {e}"))
        .ok();
    if let Some(cache) = &cache {
        match cache.get(&key) {
            Ok(Some(hit)) => {
                tracing::debug!(
                    "seccomp: filter from cache {} ({} instructions) in {:?}",
                    cache.entry_path(&key).display(),
                    hit.program.len(),
                    started.elapsed()
                );
                log_skipped(&hit.skipped);
                return Ok(hit.program);
            }
            Ok(None) => {}
            Err(e) => tracing::debug!("seccomp: recompiling: {e}"),
        }
    }
    let compiled = compile(plan)?;
    tracing::debug!(
        "seccomp: compiled filter ({} instructions) in {:?}",
        compiled.program.len(),
        started.elapsed()
    );
    log_skipped(&compiled.skipped);
    if let Some(cache) = &cache {
        match cache.put(&key, &compiled) {
            Ok(()) => {
                tracing::debug!("seccomp: cached filter as {}", cache.entry_path(&key).display());
            }
            Err(e) => tracing::debug!("seccomp: filter not cached: {e}"),
        }
    }
    Ok(compiled.program)
}

fn log_skipped(skipped: &[String]) {
    if !skipped.is_empty() {
        tracing::debug!(
            "seccomp: skipped syscalls unknown to libseccomp {}: {}",
            compile::library_version(),
            skipped.join(", ")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::plan_seccomp;

    fn plan_of(v: serde_json::Value) -> SeccompPlan {
        plan_seccomp(&serde_json::from_value(v).unwrap()).unwrap()
    }

    #[test]
    fn load_flags_are_libseccomps_but_tsync() {
        let all = [
            "SECCOMP_FILTER_FLAG_TSYNC",
            "SECCOMP_FILTER_FLAG_LOG",
            "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
            "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
        ];
        let plain = plan_of(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "flags": all}));
        assert_eq!(
            load_flags(&plain),
            libc::SECCOMP_FILTER_FLAG_LOG
                | libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW
                | libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
        );
        let notify = plan_of(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW",
            "flags": ["SECCOMP_FILTER_FLAG_TSYNC"], "listenerPath": "/a",
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}));
        assert_eq!(load_flags(&notify), libc::SECCOMP_FILTER_FLAG_NEW_LISTENER);
        let none = plan_of(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW"}));
        assert_eq!(load_flags(&none), 0);
    }

    #[test]
    fn programs_are_whole_instructions_within_the_limit() {
        assert_eq!(Program::from_bytes(vec![]), Err(BadProgram::Empty));
        assert_eq!(Program::from_bytes(vec![0; 9]), Err(BadProgram::Partial(9)));
        assert_eq!(Program::from_bytes(vec![0; 8]).unwrap().len(), 1);
        assert_eq!(Program::from_bytes(vec![0; 8 * MAX_INSTRUCTIONS]).unwrap().len(), 4096);
        assert_eq!(
            Program::from_bytes(vec![0; 8 * MAX_INSTRUCTIONS + 8]),
            Err(BadProgram::TooLong(4097))
        );
    }

    #[test]
    fn prepare_compiles_once_then_reads_the_cache() {
        let root = tempfile::tempdir().unwrap();
        let plan = plan_of(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["getppid", "no_such_syscall"], "action": "SCMP_ACT_ERRNO"}]}));
        let expected = compile(&plan).unwrap().program;
        let dir = root.path().join(cache::DIR_NAME);
        let first = compiled(&plan, root.path()).unwrap();
        assert_eq!(first, expected);
        let entries: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
        assert_eq!(entries.len(), 1, "{entries:?}");
        let entry = &entries[0];
        // A damaged entry is compiled again and replaced.
        let mut bytes = std::fs::read(entry).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(entry, &bytes).unwrap();
        assert_eq!(compiled(&plan, root.path()).unwrap(), expected);
        assert_ne!(std::fs::read(entry).unwrap(), bytes, "replaced");
        // A hit reads the entry: one with another (valid) program is used
        // as it is, which shows that nothing was compiled.
        let key = cache::Key::new(&cache::Toolchain::current(), &plan);
        let other =
            compile(&plan_of(serde_json::json!({"defaultAction": "SCMP_ACT_LOG"}))).unwrap();
        cache::Cache::open(root.path()).unwrap().put(&key, &other).unwrap();
        assert_eq!(compiled(&plan, root.path()).unwrap(), other.program);
        // Without a usable root, the filter is still compiled.
        let missing = root.path().join("missing");
        assert_eq!(compiled(&plan, &missing).unwrap(), expected);
        assert!(!missing.exists());
    }

    #[test]
    fn what_libseccomp_refuses_is_an_error_naming_the_field() {
        let root = tempfile::tempdir().unwrap();
        let mut plan = plan_of(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW"}));
        plan.rules.push(crate::plan::SyscallRule {
            field: "linux.seccomp.syscalls[2]".into(),
            names: vec!["getppid".into()],
            action: crate::plan::SeccompAction::Errno(1),
            conditions: vec![crate::plan::ArgCondition {
                index: 9,
                op: crate::plan::CompareOp::Eq,
                value: 0,
                value_two: 0,
            }],
        });
        let e = compiled(&plan, root.path()).unwrap_err().to_string();
        assert!(e.starts_with("linux.seccomp.syscalls[2]: add rule for getppid: "), "{e}");
        let dir = root.path().join(cache::DIR_NAME);
        assert_eq!(std::fs::read_dir(dir).unwrap().count(), 0, "nothing cached");
    }
}
