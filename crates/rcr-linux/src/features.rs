//! The runtime-spec features document (`features.md`, `features-linux.md`)
//! that `rcr features` prints: what this build implements, cut to what this
//! host provides.
//!
//! Every list is taken from the table that `create` itself accepts a spec
//! by — mount options from the mount parser, namespaces from
//! [`plan::supported_namespaces`], seccomp names from the seccomp plan, hook
//! points from the core — so the document cannot claim what `create`
//! refuses. runtime-spec describes the document as fixed at build time; rcr
//! also drops what this host lacks (namespaces the kernel does not have,
//! capabilities past its `cap_last_cap`, seccomp flags and architectures
//! that libseccomp or the kernel refuse, LSMs that are off), because an
//! engine asks the runtime on the host it is about to use.
//!
//! The document is built from [`Host`], a plain description of the host, so
//! it can be tested for any host; [`Host::probe`] fills it in.
//!
//! It is serialized from this module's own types rather than oci-spec's
//! `Features`, which writes `null` for every unset field and has fields
//! newer than runtime-spec 1.2.0 (`memoryPolicy`, `netDevices`): a document
//! whose `ociVersionMax` is 1.2.0 must not contain those.

use std::collections::BTreeMap;
use std::path::Path;

use oci_spec::runtime::{Arch, LinuxNamespaceType};
use rcr_core::hooks::HookKind;
use rcr_core::spec::{MIN_SPEC_VERSION, SPEC_VERSION};
use serde::Serialize;

use crate::plan::{self, SeccompFlag};
use crate::{lsm, seccomp, sys};

/// The features document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Features {
    pub oci_version_min: &'static str,
    pub oci_version_max: &'static str,
    pub hooks: Vec<&'static str>,
    pub mount_options: Vec<&'static str>,
    pub linux: LinuxFeatures,
    pub annotations: BTreeMap<String, String>,
    /// Config annotations that change what the runtime does: rcr reads none.
    pub potentially_unsafe_config_annotations: Vec<String>,
}

/// `features-linux.md`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LinuxFeatures {
    pub namespaces: Vec<String>,
    pub capabilities: Vec<String>,
    pub cgroup: CgroupFeatures,
    pub seccomp: SeccompFeatures,
    pub apparmor: Enabled,
    pub selinux: Enabled,
    pub intel_rdt: Enabled,
    pub mount_extensions: MountExtensions,
}

/// Which cgroup managers are implemented.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CgroupFeatures {
    pub v1: bool,
    pub v2: bool,
    pub systemd: bool,
    pub systemd_user: bool,
    pub rdma: bool,
}

/// The seccomp names the plan accepts, and the flags this host can set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SeccompFeatures {
    pub enabled: bool,
    pub actions: Vec<String>,
    pub operators: Vec<String>,
    pub archs: Vec<String>,
    pub known_flags: Vec<&'static str>,
    pub supported_flags: Vec<&'static str>,
}

/// A feature that is there or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Enabled {
    pub enabled: bool,
}

/// `mountExtensions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MountExtensions {
    pub idmap: Enabled,
}

/// What the host provides, as far as the document depends on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// The namespace types the kernel has.
    pub namespaces: Vec<LinuxNamespaceType>,
    /// The capabilities the kernel knows, as a mask (bit `n` for number `n`).
    pub capabilities: u64,
    /// The seccomp filter flags libseccomp and the kernel can set.
    pub seccomp_flags: Vec<SeccompFlag>,
    /// The seccomp architectures libseccomp can filter for.
    pub seccomp_architectures: Vec<Arch>,
    /// The version of the libseccomp in use.
    pub libseccomp_version: Option<String>,
    pub apparmor: bool,
    pub selinux: bool,
}

/// The name of a namespace type under `/proc/<pid>/ns`.
fn proc_ns_name(t: LinuxNamespaceType) -> &'static str {
    match t {
        LinuxNamespaceType::Mount => "mnt",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::User => "user",
        LinuxNamespaceType::Pid => "pid",
        LinuxNamespaceType::Network => "net",
        LinuxNamespaceType::Time => "time",
    }
}

impl Host {
    /// Looks at this host: `/proc/self/ns`, the bounding-set probe,
    /// libseccomp and the LSMs' own switches.
    pub fn probe() -> Self {
        Self {
            namespaces: plan::supported_namespaces()
                .iter()
                .copied()
                .filter(|t| Path::new("/proc/self/ns").join(proc_ns_name(*t)).exists())
                .collect(),
            capabilities: sys::kernel_caps(),
            seccomp_flags: seccomp::supported_flags(),
            seccomp_architectures: seccomp::supported_architectures(),
            libseccomp_version: seccomp::libseccomp_version(),
            apparmor: lsm::apparmor_enabled(),
            selinux: lsm::selinux_enabled(),
        }
    }
}

/// The names `config.json` uses for `items`, sorted.
fn spec_names<T: Serialize>(items: impl IntoIterator<Item = T>) -> Vec<String> {
    let mut names: Vec<String> = items
        .into_iter()
        .map(|item| {
            serde_json::to_value(item)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .expect("oci-spec writes these enum values as strings")
        })
        .collect();
    names.sort_unstable();
    names
}

/// The features document for `host`.
pub fn document(host: &Host) -> Features {
    let namespaces =
        spec_names(plan::supported_namespaces().iter().filter(|t| host.namespaces.contains(t)));
    let known_flags: Vec<&'static str> =
        plan::SECCOMP_FILTER_FLAGS.iter().map(|f| f.name()).collect();
    let supported_flags = plan::SECCOMP_FILTER_FLAGS
        .iter()
        .filter(|f| host.seccomp_flags.contains(f))
        .map(|f| f.name())
        .collect();
    let mut annotations = BTreeMap::new();
    if let Some(v) = &host.libseccomp_version {
        annotations.insert("io.github.seccomp.libseccomp.version".to_owned(), v.clone());
    }
    annotations
        .insert("org.opencontainers.rcr.version".to_owned(), env!("CARGO_PKG_VERSION").to_owned());
    annotations.insert("org.opencontainers.rcr.checkpoint.enabled".to_owned(), "false".to_owned());
    Features {
        oci_version_min: MIN_SPEC_VERSION,
        oci_version_max: SPEC_VERSION,
        hooks: HookKind::ALL.iter().map(|k| k.name()).collect(),
        mount_options: plan::known_options(),
        linux: LinuxFeatures {
            namespaces,
            // Numbers past the name table have no name a spec could use.
            capabilities: plan::capability_names(host.capabilities & plan::named_capabilities()),
            cgroup: CgroupFeatures {
                v1: true,
                v2: true,
                systemd: false,
                systemd_user: false,
                rdma: false,
            },
            seccomp: SeccompFeatures {
                enabled: true,
                actions: spec_names(plan::SECCOMP_ACTIONS),
                operators: spec_names(plan::SECCOMP_OPERATORS),
                archs: spec_names(
                    plan::SECCOMP_ARCHITECTURES
                        .iter()
                        .filter(|a| host.seccomp_architectures.contains(a)),
                ),
                known_flags,
                supported_flags,
            },
            apparmor: Enabled { enabled: host.apparmor },
            selinux: Enabled { enabled: host.selinux },
            intel_rdt: Enabled { enabled: false },
            mount_extensions: MountExtensions { idmap: Enabled { enabled: true } },
        },
        annotations,
        potentially_unsafe_config_annotations: Vec::new(),
    }
}

/// The document for this host, as JSON.
pub fn probe() -> serde_json::Value {
    serde_json::to_value(document(&Host::probe())).expect("the features document serializes")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// A host with everything: every namespace, 41 capabilities (Linux
    /// 5.9), every flag and architecture, both LSMs.
    fn full_host() -> Host {
        use LinuxNamespaceType::*;
        Host {
            namespaces: vec![Mount, Cgroup, Uts, Ipc, User, Pid, Network, Time],
            capabilities: (1 << 41) - 1,
            seccomp_flags: plan::SECCOMP_FILTER_FLAGS.to_vec(),
            seccomp_architectures: plan::SECCOMP_ARCHITECTURES.to_vec(),
            libseccomp_version: Some("2.5.4".into()),
            apparmor: true,
            selinux: true,
        }
    }

    fn json(host: &Host) -> Value {
        serde_json::to_value(document(host)).unwrap()
    }

    fn strings(v: &Value) -> Vec<&str> {
        v.as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect()
    }

    #[test]
    fn only_runtime_spec_1_2_fields_and_no_nulls() {
        let doc = json(&full_host());
        let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        let mut top = keys(&doc);
        top.sort();
        assert_eq!(
            top,
            [
                "annotations",
                "hooks",
                "linux",
                "mountOptions",
                "ociVersionMax",
                "ociVersionMin",
                "potentiallyUnsafeConfigAnnotations"
            ]
        );
        let mut linux = keys(&doc["linux"]);
        linux.sort();
        assert_eq!(
            linux,
            [
                "apparmor",
                "capabilities",
                "cgroup",
                "intelRdt",
                "mountExtensions",
                "namespaces",
                "seccomp",
                "selinux"
            ]
        );
        let mut seccomp = keys(&doc["linux"]["seccomp"]);
        seccomp.sort();
        assert_eq!(
            seccomp,
            ["actions", "archs", "enabled", "knownFlags", "operators", "supportedFlags"]
        );
        let mut cgroup = keys(&doc["linux"]["cgroup"]);
        cgroup.sort();
        assert_eq!(cgroup, ["rdma", "systemd", "systemdUser", "v1", "v2"]);
        assert_eq!(
            doc["linux"]["mountExtensions"],
            serde_json::json!({"idmap": {"enabled": true}})
        );
        fn no_nulls(v: &Value) -> bool {
            match v {
                Value::Null => false,
                Value::Array(a) => a.iter().all(no_nulls),
                Value::Object(o) => o.values().all(no_nulls),
                _ => true,
            }
        }
        assert!(no_nulls(&doc), "{doc:#}");
        assert_eq!(
            (doc["ociVersionMin"].as_str(), doc["ociVersionMax"].as_str()),
            (Some("1.0.0"), Some("1.2.0"))
        );
    }

    #[test]
    fn lists_what_the_plan_accepts() {
        let doc = json(&full_host());
        assert_eq!(strings(&doc["hooks"]).len(), 6);
        let options = strings(&doc["mountOptions"]);
        assert!(options.contains(&"rbind") && options.contains(&"nosuid"), "{options:?}");
        assert!(!options.contains(&"tmpcopyup"), "refused by the mount parser");
        let seccomp = &doc["linux"]["seccomp"];
        assert_eq!(
            strings(&seccomp["actions"]),
            [
                "SCMP_ACT_ALLOW",
                "SCMP_ACT_ERRNO",
                "SCMP_ACT_KILL",
                "SCMP_ACT_KILL_PROCESS",
                "SCMP_ACT_KILL_THREAD",
                "SCMP_ACT_LOG",
                "SCMP_ACT_NOTIFY",
                "SCMP_ACT_TRACE",
                "SCMP_ACT_TRAP"
            ]
        );
        assert_eq!(
            strings(&seccomp["operators"]),
            [
                "SCMP_CMP_EQ",
                "SCMP_CMP_GE",
                "SCMP_CMP_GT",
                "SCMP_CMP_LE",
                "SCMP_CMP_LT",
                "SCMP_CMP_MASKED_EQ",
                "SCMP_CMP_NE"
            ]
        );
        let archs = strings(&seccomp["archs"]);
        assert!(archs.contains(&"SCMP_ARCH_X86_64") && archs.contains(&"SCMP_ARCH_MIPS64N32"));
        assert!(!archs.contains(&"SCMP_ARCH_NATIVE"), "names no architecture");
        // Whatever the plan accepts parses back as config.json values.
        for a in &archs {
            serde_json::from_value::<Arch>(Value::from(*a)).unwrap();
        }
        assert_eq!(seccomp["knownFlags"], seccomp["supportedFlags"]);
        assert_eq!(strings(&seccomp["knownFlags"]).len(), 4);
        let namespaces = strings(&doc["linux"]["namespaces"]);
        assert_eq!(namespaces.len(), plan::supported_namespaces().len());
        assert!(namespaces.contains(&"mount") && namespaces.contains(&"network"));
        assert_eq!(doc["linux"]["apparmor"]["enabled"], true);
        assert_eq!(doc["linux"]["intelRdt"]["enabled"], false);
        assert_eq!(doc["linux"]["cgroup"]["systemd"], false);
        assert_eq!(doc["potentiallyUnsafeConfigAnnotations"], serde_json::json!([]));
        assert_eq!(doc["annotations"]["io.github.seccomp.libseccomp.version"], "2.5.4");
        assert_eq!(doc["annotations"]["org.opencontainers.rcr.version"], env!("CARGO_PKG_VERSION"));
    }

    #[test]
    fn cut_to_the_host() {
        let host = Host {
            namespaces: vec![LinuxNamespaceType::Mount, LinuxNamespaceType::Pid],
            // Linux 5.8 knows 40 capabilities, up to CAP_BPF (39).
            capabilities: (1 << 40) - 1,
            seccomp_flags: vec![SeccompFlag::Tsync, SeccompFlag::Log],
            seccomp_architectures: vec![Arch::ScmpArchX86_64, Arch::ScmpArchX86],
            libseccomp_version: None,
            apparmor: false,
            selinux: false,
        };
        let doc = json(&host);
        assert_eq!(strings(&doc["linux"]["namespaces"]), ["mount", "pid"]);
        let caps = strings(&doc["linux"]["capabilities"]);
        assert_eq!((caps.len(), caps[0], caps[39]), (40, "CAP_CHOWN", "CAP_BPF"));
        let seccomp = &doc["linux"]["seccomp"];
        assert_eq!(
            strings(&seccomp["supportedFlags"]),
            ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG"]
        );
        assert_eq!(strings(&seccomp["knownFlags"]).len(), 4);
        assert_eq!(strings(&seccomp["archs"]), ["SCMP_ARCH_X86", "SCMP_ARCH_X86_64"]);
        assert_eq!(doc["linux"]["selinux"]["enabled"], false);
        assert!(doc["annotations"].get("io.github.seccomp.libseccomp.version").is_none());
        // A kernel ahead of the name table: numbers without names are left out.
        let doc = json(&Host { capabilities: u64::MAX >> 1, ..host });
        let caps = strings(&doc["linux"]["capabilities"]);
        assert!(
            caps.iter().all(|c| !c[4..].starts_with(|ch: char| ch.is_ascii_digit())),
            "{caps:?}"
        );
    }

    #[test]
    fn this_host() {
        let host = Host::probe();
        assert!(host.namespaces.contains(&LinuxNamespaceType::Mount), "{host:?}");
        assert!(host.seccomp_flags.contains(&SeccompFlag::Tsync), "{host:?}");
        let doc = probe();
        let caps = strings(&doc["linux"]["capabilities"]);
        assert_eq!(caps.first(), Some(&"CAP_CHOWN"));
        let named = host.capabilities & plan::named_capabilities();
        assert_eq!(caps.len(), named.count_ones() as usize);
        assert!(strings(&doc["linux"]["namespaces"]).contains(&"network"));
    }
}
