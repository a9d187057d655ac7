//! Turning a validated spec into a [`LaunchPlan`]: everything the init has to
//! do, resolved and checked in the parent, with no syscalls.
//!
//! The init runs in a forked copy of the parent, so it receives the plan by
//! memory, not by message; whatever can be rejected is rejected here, where a
//! unit test can reach it and the error still names the spec field.

mod attrs;
mod mounts;
mod seccomp;
mod sysctl;
mod userns;

use std::path::{Path, PathBuf};

use nix::sched::CloneFlags;
use nix::sys::stat::SFlag;
use oci_spec::runtime::{LinuxDeviceType, LinuxNamespaceType, Spec};

pub use attrs::{
    capability_names, named_capabilities, CapabilitySets, CpuList, ExecAffinity, IoPriority,
    ProcessAttrs, Rlimit, SchedulerPlan,
};
pub use mounts::{
    known_options, parse_mount, IdmapUsers, MountIdmap, MountKind, MountPlan, Propagation,
};
pub use seccomp::{
    plan_seccomp, ArgCondition, CompareOp, LoadPoint, NotifyListener, SeccompAction, SeccompFlag,
    SeccompPlan, SyscallRule, ACTIONS as SECCOMP_ACTIONS, ARCHITECTURES as SECCOMP_ARCHITECTURES,
    FILTER_FLAGS as SECCOMP_FILTER_FLAGS, OPERATORS as SECCOMP_OPERATORS,
};
pub use sysctl::Sysctl;
pub use userns::{map_text, offsets_text, IdMap, IdMappings, TimeOffset, CLONE_NEWTIME};

/// A spec the Linux backend cannot run, naming the field at fault.
#[derive(Debug, thiserror::Error)]
#[error("invalid config: {field}: {message}")]
pub struct PlanError {
    pub field: String,
    pub message: String,
}

impl PlanError {
    pub(crate) fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

/// Namespaces to create and to join.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespacePlan {
    /// Namespaces the init gets new copies of.
    pub new: CloneFlags,
    /// Namespaces joined by path, in the order they must be joined (user
    /// first, so that the others are entered with its privileges; mount last,
    /// since it changes how later paths resolve).
    pub join: Vec<(CloneFlags, PathBuf)>,
}

impl NamespacePlan {
    /// Whether the container has a pid namespace of its own.
    pub fn has(&self, kind: CloneFlags) -> bool {
        self.new.contains(kind) || self.join.iter().any(|(k, _)| *k == kind)
    }
}

/// A device node to create in the container's /dev.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevicePlan {
    /// Absolute path inside the container.
    pub path: PathBuf,
    pub kind: SFlag,
    pub major: u64,
    pub minor: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// The container process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessPlan {
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: PathBuf,
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub umask: Option<u32>,
    pub no_new_privileges: bool,
    /// Whether the process gets a pty of its own as stdin, stdout and stderr.
    pub terminal: bool,
    /// The pty's initial window size, `(rows, columns)`.
    pub console_size: Option<(u16, u16)>,
}

/// Everything the init does, in the order it does it.
#[derive(Debug, Clone)]
pub struct LaunchPlan {
    pub rootfs: PathBuf,
    pub bundle: PathBuf,
    pub readonly_root: bool,
    pub no_pivot: bool,
    /// Propagation applied to the container's `/` (`rootfsPropagation`).
    pub root_propagation: Option<Propagation>,
    pub namespaces: NamespacePlan,
    pub hostname: Option<String>,
    pub domainname: Option<String>,
    pub mounts: Vec<MountPlan>,
    pub devices: Vec<DevicePlan>,
    pub masked_paths: Vec<PathBuf>,
    pub readonly_paths: Vec<PathBuf>,
    pub process: ProcessPlan,
    pub session_keyring: Option<String>,
    pub lsm: LsmPlan,
    /// Capabilities, rlimits, scheduling and the like of the process.
    pub attrs: ProcessAttrs,
    /// `linux.sysctl`, checked against the namespaces, sorted by name.
    pub sysctls: Vec<Sysctl>,
    pub seccomp: Option<SeccompPlan>,
    pub hooks: Option<oci_spec::runtime::Hooks>,
    /// The container's id mappings: written by the parent for a new user
    /// namespace, checked by the init for one joined by path.
    pub id_mappings: Option<IdMappings>,
    /// Clock offsets of a new time namespace.
    pub time_offsets: Vec<TimeOffset>,
    /// Whether rcr runs unprivileged (`geteuid() != 0`).
    pub rootless: bool,
}

/// Options of `create` that shape the plan.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    pub no_pivot: bool,
    /// Socket-activation fds handed on to the container (`LISTEN_FDS`).
    pub listen_fds: u32,
    /// The session keyring to join (`_ses.<id>`), unless `--no-new-keyring`.
    pub session_keyring: Option<String>,
    /// rcr runs as an unprivileged user.
    pub rootless: bool,
}

/// Linux security module labels, applied when the host has the LSM.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LsmPlan {
    pub apparmor_profile: Option<String>,
    pub selinux_label: Option<String>,
    pub mount_label: Option<String>,
}

/// The namespace types a container may ask for, to be created or joined;
/// the others are refused. The one list `rcr features` reports from.
pub fn supported_namespaces() -> &'static [LinuxNamespaceType] {
    use LinuxNamespaceType::*;
    &[Mount, Cgroup, Uts, Ipc, User, Pid, Network, Time]
}

fn ns_flag(t: LinuxNamespaceType) -> CloneFlags {
    match t {
        LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
        LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
        LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
        LinuxNamespaceType::Time => CLONE_NEWTIME,
    }
}

fn ns_name(t: LinuxNamespaceType) -> &'static str {
    match t {
        LinuxNamespaceType::Mount => "mount",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::User => "user",
        LinuxNamespaceType::Pid => "pid",
        LinuxNamespaceType::Network => "network",
        LinuxNamespaceType::Time => "time",
    }
}

/// Join order: user first, mount last.
fn join_rank(f: CloneFlags) -> u8 {
    if f == CloneFlags::CLONE_NEWUSER {
        0
    } else if f == CloneFlags::CLONE_NEWNS {
        2
    } else {
        1
    }
}

fn plan_namespaces(spec: &Spec) -> Result<NamespacePlan, PlanError> {
    let mut plan = NamespacePlan { new: CloneFlags::empty(), join: Vec::new() };
    let mut seen = CloneFlags::empty();
    let namespaces = spec.linux().as_ref().and_then(|l| l.namespaces().clone()).unwrap_or_default();
    for ns in &namespaces {
        let flag = ns_flag(ns.typ());
        let name = ns_name(ns.typ());
        if !supported_namespaces().contains(&ns.typ()) {
            return Err(PlanError::new(
                "linux.namespaces",
                format!("{name} namespaces are not supported by this rcr build yet"),
            ));
        }
        if seen.contains(flag) {
            return Err(PlanError::new(
                "linux.namespaces",
                format!("the {name} namespace is listed more than once"),
            ));
        }
        seen |= flag;
        match ns.path() {
            Some(p) if !p.as_os_str().is_empty() => {
                if !p.is_absolute() {
                    return Err(PlanError::new(
                        "linux.namespaces",
                        format!("{name} namespace path {} is not absolute", p.display()),
                    ));
                }
                plan.join.push((flag, p.clone()));
            }
            _ => plan.new |= flag,
        }
    }
    plan.join.sort_by_key(|(f, _)| join_rank(*f));
    Ok(plan)
}

/// The devices every container gets (runtime-spec "Default Devices").
pub fn default_devices() -> Vec<DevicePlan> {
    [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    ]
    .into_iter()
    .map(|(name, major, minor)| DevicePlan {
        path: Path::new("/dev").join(name),
        kind: SFlag::S_IFCHR,
        major,
        minor,
        mode: 0o666,
        uid: 0,
        gid: 0,
    })
    .collect()
}

fn plan_devices(spec: &Spec) -> Result<Vec<DevicePlan>, PlanError> {
    let mut devices = default_devices();
    let listed = spec.linux().as_ref().and_then(|l| l.devices().clone()).unwrap_or_default();
    for (i, d) in listed.iter().enumerate() {
        let field = format!("linux.devices[{i}]");
        let path = d.path();
        if !path.is_absolute() || !path.starts_with("/dev") || path == Path::new("/dev") {
            return Err(PlanError::new(
                field,
                format!("path {} must be under /dev", path.display()),
            ));
        }
        if path.components().any(|c| c == std::path::Component::ParentDir) {
            return Err(PlanError::new(field, format!("path {} contains '..'", path.display())));
        }
        let kind = match d.typ() {
            LinuxDeviceType::C | LinuxDeviceType::U => SFlag::S_IFCHR,
            LinuxDeviceType::B => SFlag::S_IFBLK,
            LinuxDeviceType::P => SFlag::S_IFIFO,
            LinuxDeviceType::A => {
                return Err(PlanError::new(field, "type 'a' only exists in device cgroup rules"))
            }
        };
        let (major, minor) = (d.major(), d.minor());
        if kind != SFlag::S_IFIFO && (major < 0 || minor < 0) {
            return Err(PlanError::new(field, "major and minor numbers are required"));
        }
        let dev = DevicePlan {
            path: path.clone(),
            kind,
            major: major.max(0) as u64,
            minor: minor.max(0) as u64,
            mode: d.file_mode().unwrap_or(0o666) & 0o7777,
            uid: d.uid().unwrap_or(0),
            gid: d.gid().unwrap_or(0),
        };
        // A listed device replaces a default one at the same path.
        devices.retain(|x| x.path != dev.path);
        devices.push(dev);
    }
    Ok(devices)
}

fn plan_process(spec: &Spec, listen_fds: u32) -> Result<ProcessPlan, PlanError> {
    let process =
        spec.process().as_ref().ok_or_else(|| PlanError::new("process", "is required"))?;
    let args = process.args().clone().unwrap_or_default();
    if args.is_empty() {
        return Err(PlanError::new("process.args", "must name the program to run"));
    }
    let user = process.user();
    let mut env = process.env().clone().unwrap_or_default();
    if listen_fds > 0 {
        // Socket activation: the fds are the container's from 3 on, and its
        // init is the process they are meant for.
        env.retain(|e| !e.starts_with("LISTEN_FDS=") && !e.starts_with("LISTEN_PID="));
        env.push(format!("LISTEN_FDS={listen_fds}"));
        env.push("LISTEN_PID=1".to_owned());
    }
    let console_size = match process.console_size() {
        // runc applies a size only when both dimensions are set.
        Some(b) if b.height() != 0 && b.width() != 0 => {
            let dim = |v: u64, name: &str| {
                u16::try_from(v).map_err(|_| {
                    PlanError::new(
                        format!("process.consoleSize.{name}"),
                        format!("{v} is larger than {}", u16::MAX),
                    )
                })
            };
            Some((dim(b.height(), "height")?, dim(b.width(), "width")?))
        }
        _ => None,
    };
    Ok(ProcessPlan {
        args,
        env,
        cwd: process.cwd().clone(),
        uid: user.uid(),
        gid: user.gid(),
        additional_gids: user.additional_gids().clone().unwrap_or_default(),
        umask: user.umask(),
        no_new_privileges: process.no_new_privileges().unwrap_or(false),
        terminal: process.terminal().unwrap_or(false),
        console_size,
    })
}

fn container_paths(list: Option<&Vec<String>>, field: &str) -> Result<Vec<PathBuf>, PlanError> {
    list.into_iter()
        .flatten()
        .map(|p| {
            let path = PathBuf::from(p);
            if path.is_absolute() {
                Ok(path)
            } else {
                Err(PlanError::new(field, format!("{p:?} is not an absolute path")))
            }
        })
        .collect()
}

/// Builds the plan for `spec`, whose bundle is `bundle` and root `rootfs`.
impl LaunchPlan {
    /// Whether the container has a mount namespace of its own. Without one
    /// (as runc allows) its mounts are made in the runtime's namespace and
    /// it is confined by chroot rather than pivot_root.
    pub fn private_mounts(&self) -> bool {
        self.namespaces.has(CloneFlags::CLONE_NEWNS)
    }
}

/// What needs a private mount namespace, checked when there is none (runc
/// refuses the same).
fn check_shared_mounts(plan: &LaunchPlan) -> Result<(), PlanError> {
    if plan.private_mounts() {
        return Ok(());
    }
    let why = "needs a private mount namespace (add {\"type\": \"mount\"} to linux.namespaces)";
    if !plan.masked_paths.is_empty() {
        return Err(PlanError::new("linux.maskedPaths", why));
    }
    if !plan.readonly_paths.is_empty() {
        return Err(PlanError::new("linux.readonlyPaths", why));
    }
    if plan.readonly_root {
        return Err(PlanError::new("root.readonly", why));
    }
    if plan.no_pivot {
        return Err(PlanError::new("--no-pivot", why));
    }
    if plan.root_propagation.is_some() {
        return Err(PlanError::new("linux.rootfsPropagation", why));
    }
    Ok(())
}

pub fn plan(
    spec: &Spec,
    bundle: &Path,
    rootfs: &Path,
    opts: PlanOptions,
) -> Result<LaunchPlan, PlanError> {
    let namespaces = plan_namespaces(spec)?;
    let linux = spec.linux().as_ref();
    let process = plan_process(spec, opts.listen_fds)?;
    let id_mappings = userns::plan_user(spec, &namespaces, &process, opts.rootless)?;
    let container_users =
        match (&id_mappings, namespaces.join.iter().find(|(k, _)| *k == CloneFlags::CLONE_NEWUSER))
        {
            (_, Some((_, path))) => Some(IdmapUsers::Namespace(path.clone())),
            (Some(maps), None) => Some(IdmapUsers::Maps(maps.clone())),
            (None, None) => None,
        };
    let mut mounts = Vec::new();
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        let field = format!("mounts[{i}]");
        let m = parse_mount(m, bundle, container_users.as_ref())
            .map_err(|e| PlanError::new(&field, e))?;
        if opts.rootless && m.idmap.is_some() {
            return Err(PlanError::new(field, "idmapped mounts need rcr to run as root"));
        }
        mounts.push(m);
    }
    let root_propagation = match linux.and_then(|l| l.rootfs_propagation().as_deref()) {
        None | Some("") => None,
        Some(p) => Some(Propagation::parse(p).ok_or_else(|| {
            PlanError::new("linux.rootfsPropagation", format!("unknown propagation {p:?}"))
        })?),
    };
    let hostname = spec.hostname().clone().filter(|h| !h.is_empty());
    let domainname = spec.domainname().clone().filter(|h| !h.is_empty());
    let uts = namespaces.has(CloneFlags::CLONE_NEWUTS);
    if !uts && (hostname.is_some() || domainname.is_some()) {
        return Err(PlanError::new(
            "hostname",
            "setting a hostname or domainname needs a uts namespace of the container's own",
        ));
    }
    let sysctls = sysctl::plan_sysctls(spec, &namespaces)?;
    let plan = LaunchPlan {
        rootfs: rootfs.to_owned(),
        bundle: bundle.to_owned(),
        readonly_root: spec.root().as_ref().and_then(|r| r.readonly()).unwrap_or(false),
        no_pivot: opts.no_pivot,
        root_propagation,
        hostname,
        domainname,
        mounts,
        devices: plan_devices(spec)?,
        masked_paths: container_paths(
            linux.and_then(|l| l.masked_paths().as_ref()),
            "linux.maskedPaths",
        )?,
        readonly_paths: container_paths(
            linux.and_then(|l| l.readonly_paths().as_ref()),
            "linux.readonlyPaths",
        )?,
        process,
        session_keyring: opts.session_keyring,
        hooks: spec.hooks().clone(),
        lsm: LsmPlan {
            apparmor_profile: spec
                .process()
                .as_ref()
                .and_then(|p| p.apparmor_profile().clone())
                .filter(|s| !s.is_empty()),
            selinux_label: spec
                .process()
                .as_ref()
                .and_then(|p| p.selinux_label().clone())
                .filter(|s| !s.is_empty()),
            mount_label: linux.and_then(|l| l.mount_label().clone()).filter(|s| !s.is_empty()),
        },
        attrs: attrs::plan_attrs(spec)?,
        sysctls,
        seccomp: linux.and_then(|l| l.seccomp().as_ref()).map(plan_seccomp).transpose()?,
        id_mappings,
        time_offsets: userns::plan_time(spec, &namespaces)?,
        rootless: opts.rootless,
        namespaces,
    };
    check_shared_mounts(&plan)?;
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(v: serde_json::Value) -> Spec {
        serde_json::from_value(v).unwrap()
    }

    fn base() -> serde_json::Value {
        serde_json::json!({
            "ociVersion": "1.2.0",
            "root": {"path": "rootfs", "readonly": true},
            "hostname": "h",
            "process": {"args": ["/bin/sh"], "cwd": "/", "user": {"uid": 1, "gid": 2, "additionalGids": [3], "umask": 18},
                        "env": ["A=b"], "noNewPrivileges": true},
            "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "uts"},
                                     {"type": "network", "path": "/proc/1/ns/net"}, {"type": "ipc", "path": "/proc/1/ns/ipc"}],
                      "maskedPaths": ["/proc/kcore"], "readonlyPaths": ["/proc/sys"]},
        })
    }

    fn plan_of(v: serde_json::Value) -> Result<LaunchPlan, PlanError> {
        plan(&spec(v), Path::new("/b"), Path::new("/b/rootfs"), PlanOptions::default())
    }

    #[test]
    fn namespaces_and_process() {
        let p = plan_of(base()).unwrap();
        assert_eq!(
            p.namespaces.new,
            CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWUTS
        );
        assert_eq!(p.namespaces.join.len(), 2);
        assert!(p.namespaces.has(CloneFlags::CLONE_NEWNET));
        assert_eq!(p.process.uid, 1);
        assert_eq!(p.process.additional_gids, vec![3]);
        assert_eq!(p.process.umask, Some(18));
        assert!(p.process.no_new_privileges && p.readonly_root);
        assert_eq!(p.hostname.as_deref(), Some("h"));
        assert_eq!(p.devices.len(), 6);
        assert_eq!(p.masked_paths, vec![PathBuf::from("/proc/kcore")]);
    }

    #[test]
    fn join_order_puts_mount_last() {
        let mut v = base();
        v["linux"]["namespaces"] = serde_json::json!([
            {"type": "mount", "path": "/proc/1/ns/mnt"}, {"type": "network", "path": "/proc/1/ns/net"}]);
        v["hostname"] = serde_json::json!(null);
        let p = plan_of(v).unwrap();
        assert_eq!(p.namespaces.join[0].0, CloneFlags::CLONE_NEWNET);
        assert_eq!(p.namespaces.join[1].0, CloneFlags::CLONE_NEWNS);
    }

    #[test]
    fn rejects_bad_namespaces() {
        let mut v = base();
        v["linux"]["namespaces"] = serde_json::json!([{"type": "mount"}, {"type": "mount"}]);
        let e = plan_of(v).unwrap_err().to_string();
        assert!(e.contains("linux.namespaces") && e.contains("more than once"), "{e}");
        let mut v = base();
        v["linux"]["namespaces"] = serde_json::json!([{"type": "pid"}]);
        v["hostname"] = serde_json::json!(null);
        v["linux"]["maskedPaths"] = serde_json::json!([]);
        v["linux"]["readonlyPaths"] = serde_json::json!([]);
        v["root"]["readonly"] = serde_json::json!(false);
        assert!(!plan_of(v.clone()).unwrap().private_mounts());
        v["linux"]["maskedPaths"] = serde_json::json!(["/proc/kcore"]);
        let e = plan_of(v).unwrap_err().to_string();
        assert!(e.contains("private mount namespace"), "{e}");
        let mut v = base();
        v["linux"]["namespaces"] =
            serde_json::json!([{"type": "mount"}, {"type": "network", "path": "rel"}]);
        v["hostname"] = serde_json::json!(null);
        assert!(plan_of(v).is_err());
        let mut v = base();
        v["linux"]["namespaces"] = serde_json::json!([{"type": "mount"}]);
        let e = plan_of(v).unwrap_err().to_string();
        assert!(e.contains("uts namespace"), "{e}");
        use LinuxNamespaceType::*;
        for t in [Mount, Cgroup, Uts, Ipc, User, Pid, Network, Time] {
            if supported_namespaces().contains(&t) {
                continue;
            }
            let mut v = base();
            v["linux"]["namespaces"] = serde_json::json!([{"type": "mount"}, {"type": "uts"},
                {"type": ns_name(t), "path": "/proc/1/ns/x"}]);
            assert_eq!(
                plan_of(v).unwrap_err().to_string(),
                format!(
                    "invalid config: linux.namespaces: {} namespaces are not supported by this \
                     rcr build yet",
                    ns_name(t)
                )
            );
        }
    }

    #[test]
    fn devices_are_checked_and_override_defaults() {
        let mut v = base();
        v["linux"]["devices"] = serde_json::json!([
            {"path": "/dev/null", "type": "c", "major": 1, "minor": 3, "fileMode": 438},
            {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "uid": 5}]);
        let p = plan_of(v).unwrap();
        assert_eq!(p.devices.len(), 7);
        let fuse = p.devices.iter().find(|d| d.path == Path::new("/dev/fuse")).unwrap();
        assert_eq!((fuse.major, fuse.minor, fuse.uid, fuse.mode), (10, 229, 5, 0o666));
        let mut v = base();
        v["linux"]["devices"] =
            serde_json::json!([{"path": "/etc/x", "type": "c", "major": 1, "minor": 3}]);
        let e = plan_of(v).unwrap_err().to_string();
        assert!(e.contains("linux.devices[0]"), "{e}");
    }

    #[test]
    fn listen_fds_reach_the_environment() {
        let mut v = base();
        v["process"]["env"] = serde_json::json!(["A=b", "LISTEN_FDS=9"]);
        let opts = PlanOptions { listen_fds: 2, ..Default::default() };
        let p = plan(&spec(v), Path::new("/b"), Path::new("/b/rootfs"), opts).unwrap();
        assert_eq!(p.process.env, vec!["A=b", "LISTEN_FDS=2", "LISTEN_PID=1"]);
    }

    #[test]
    fn terminal_and_console_size() {
        let p = plan_of(base()).unwrap();
        assert!(!p.process.terminal);
        assert_eq!(p.process.console_size, None);
        let mut v = base();
        v["process"]["terminal"] = serde_json::json!(true);
        v["process"]["consoleSize"] = serde_json::json!({"height": 40, "width": 120});
        let p = plan_of(v).unwrap();
        assert!(p.process.terminal);
        assert_eq!(p.process.console_size, Some((40, 120)));
        let mut v = base();
        v["process"]["consoleSize"] = serde_json::json!({"height": 0, "width": 120});
        assert_eq!(plan_of(v).unwrap().process.console_size, None);
        let mut v = base();
        v["process"]["consoleSize"] = serde_json::json!({"height": 24, "width": 70000});
        let e = plan_of(v).unwrap_err().to_string();
        assert_eq!(e, "invalid config: process.consoleSize.width: 70000 is larger than 65535");
    }

    #[test]
    fn rootfs_propagation() {
        let mut v = base();
        v["linux"]["rootfsPropagation"] = serde_json::json!("rshared");
        assert_eq!(
            plan_of(v).unwrap().root_propagation,
            Some(Propagation::parse("rshared").unwrap())
        );
        let mut v = base();
        v["linux"]["rootfsPropagation"] = serde_json::json!("sideways");
        assert!(plan_of(v).unwrap_err().to_string().contains("rootfsPropagation"));
    }
}
