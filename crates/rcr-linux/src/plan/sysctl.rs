//! `linux.sysctl`: which kernel parameters a container may set.
//!
//! Only parameters that live in a namespace the container has are allowed;
//! anything else would change the host for everyone. The rules are runc's:
//! the IPC parameters (`kernel.msg*`, `kernel.sem`, `kernel.shm*`,
//! `fs.mqueue.*`) need an ipc namespace, `net.*` a network namespace,
//! `kernel.domainname` a uts namespace (`kernel.hostname` has its own field
//! and is refused), `user.*` a user namespace.
//!
//! A namespace joined by path counts as the container's own; that the path
//! does not name the host's namespace is not checked here (no syscalls).

use std::path::PathBuf;

use nix::sched::CloneFlags;
use oci_spec::runtime::Spec;

use super::{NamespacePlan, PlanError};

const FIELD: &str = "linux.sysctl";

/// The IPC parameters outside `fs.mqueue.`, which ipc_namespaces(7) lists.
const IPC_SYSCTLS: [&str; 8] = [
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// One kernel parameter to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sysctl {
    /// The dotted name, as sysctl(8) shows it.
    pub name: String,
    /// The file under `/proc/sys`, relative.
    pub path: PathBuf,
    pub value: String,
}

/// sysctl(8) accepts `/` as the separator too, and then a `.` inside a
/// component (a VLAN interface such as `eno2.100`) is no separator: swapping
/// the two turns either form into the other.
fn swap_separators(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            '.' => '/',
            '/' => '.',
            c => c,
        })
        .collect()
}

fn parse_name(name: &str) -> Result<(String, PathBuf), PlanError> {
    let slash_form = name.find(['.', '/']).is_some_and(|i| name.as_bytes()[i] == b'/');
    let dotted = if slash_form { swap_separators(name) } else { name.to_owned() };
    let path = swap_separators(&dotted);
    if path.split('/').any(|c| c.is_empty() || c == "." || c == "..") {
        return Err(PlanError::new(FIELD, format!("{name:?} is not a valid parameter name")));
    }
    Ok((dotted, PathBuf::from(path)))
}

/// Why `name` may not be set with these namespaces, if it may not.
fn refusal(name: &str, ns: &NamespacePlan) -> Option<String> {
    let needs = |flag: CloneFlags, what: &str| {
        (!ns.has(flag)).then(|| format!("{name:?} needs {what} namespace of the container's own"))
    };
    if IPC_SYSCTLS.contains(&name) || name.starts_with("fs.mqueue.") {
        return needs(CloneFlags::CLONE_NEWIPC, "an ipc");
    }
    if name.starts_with("net.") {
        return needs(CloneFlags::CLONE_NEWNET, "a network");
    }
    if ns.has(CloneFlags::CLONE_NEWUTS) {
        match name {
            "kernel.domainname" => return None,
            "kernel.hostname" => {
                return Some(format!("{name:?} is set with the \"hostname\" field instead"))
            }
            _ => {}
        }
    }
    if name.starts_with("user.") {
        return needs(CloneFlags::CLONE_NEWUSER, "a user");
    }
    Some(format!(
        "{name:?} is not in a namespace of the container: setting it would change the host"
    ))
}

/// Checks `linux.sysctl` against the container's namespaces.
pub fn plan_sysctls(spec: &Spec, ns: &NamespacePlan) -> Result<Vec<Sysctl>, PlanError> {
    let Some(map) = spec.linux().as_ref().and_then(|l| l.sysctl().as_ref()) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::with_capacity(map.len());
    for (raw, value) in map {
        let (name, path) = parse_name(raw)?;
        if let Some(why) = refusal(&name, ns) {
            return Err(PlanError::new(FIELD, why));
        }
        out.push(Sysctl { name, path, value: value.clone() });
    }
    // The map has no order; a stable one keeps runs and messages repeatable.
    out.sort_by(|a, b| a.name.cmp(&b.name));
    if let Some(w) = out.windows(2).find(|w| w[0].name == w[1].name) {
        return Err(PlanError::new(FIELD, format!("{:?} is set twice", w[0].name)));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(new: CloneFlags) -> NamespacePlan {
        NamespacePlan { new: new | CloneFlags::CLONE_NEWNS, join: Vec::new() }
    }

    fn plan_of(sysctl: serde_json::Value, ns: &NamespacePlan) -> Result<Vec<Sysctl>, PlanError> {
        let spec: Spec = serde_json::from_value(serde_json::json!({
            "ociVersion": "1.2.0", "root": {"path": "rootfs"}, "linux": {"sysctl": sysctl},
        }))
        .unwrap();
        plan_sysctls(&spec, ns)
    }

    fn err(sysctl: serde_json::Value, ns: &NamespacePlan) -> String {
        plan_of(sysctl, ns).unwrap_err().to_string()
    }

    #[test]
    fn namespaced_parameters_are_allowed_and_sorted() {
        let all =
            ns(CloneFlags::CLONE_NEWIPC | CloneFlags::CLONE_NEWNET | CloneFlags::CLONE_NEWUTS);
        let plan = plan_of(
            serde_json::json!({"net.ipv4.ip_forward": "1", "kernel.shmmax": "4096",
                "fs.mqueue.msg_max": "20", "kernel.domainname": "example.org", "kernel.sem": "1 2 3 4"}),
            &all,
        )
        .unwrap();
        let names: Vec<_> = plan.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "fs.mqueue.msg_max",
                "kernel.domainname",
                "kernel.sem",
                "kernel.shmmax",
                "net.ipv4.ip_forward"
            ]
        );
        assert_eq!(plan[4].path, PathBuf::from("net/ipv4/ip_forward"));
        assert_eq!(plan[2].value, "1 2 3 4");
    }

    #[test]
    fn joined_namespaces_count() {
        let joined = NamespacePlan {
            new: CloneFlags::CLONE_NEWNS,
            join: vec![(CloneFlags::CLONE_NEWNET, PathBuf::from("/run/netns/a"))],
        };
        assert!(plan_of(serde_json::json!({"net.core.somaxconn": "1024"}), &joined).is_ok());
    }

    #[test]
    fn slash_separated_names() {
        let net = ns(CloneFlags::CLONE_NEWNET);
        let plan =
            plan_of(serde_json::json!({"net/ipv4/conf/eno2.100/rp_filter": "2"}), &net).unwrap();
        assert_eq!(plan[0].name, "net.ipv4.conf.eno2/100.rp_filter");
        assert_eq!(plan[0].path, PathBuf::from("net/ipv4/conf/eno2.100/rp_filter"));
        let e =
            err(serde_json::json!({"net.ipv4.ip_forward": "1", "net/ipv4/ip_forward": "0"}), &net);
        assert!(e.contains("is set twice"), "{e}");
    }

    #[test]
    fn missing_namespaces_are_refused() {
        let none = ns(CloneFlags::empty());
        for (name, what) in [
            ("kernel.shmmax", "an ipc"),
            ("kernel.msgmnb", "an ipc"),
            ("fs.mqueue.queues_max", "an ipc"),
            ("net.ipv4.ip_forward", "a network"),
            ("user.max_user_namespaces", "a user"),
        ] {
            let e = err(serde_json::json!({ name: "1" }), &none);
            assert_eq!(
                e,
                format!("invalid config: linux.sysctl: {name:?} needs {what} namespace of the container's own")
            );
        }
        let e = err(serde_json::json!({"kernel.domainname": "x"}), &none);
        assert!(e.contains("would change the host"), "{e}");
    }

    #[test]
    fn host_wide_and_malformed_parameters_are_refused() {
        let all =
            ns(CloneFlags::CLONE_NEWIPC | CloneFlags::CLONE_NEWNET | CloneFlags::CLONE_NEWUTS);
        for name in
            ["kernel.panic", "vm.swappiness", "fs.file-max", "kernel.shm_next_id_x", "netfoo"]
        {
            let e = err(serde_json::json!({ name: "1" }), &all);
            assert_eq!(
                e,
                format!(
                    "invalid config: linux.sysctl: {name:?} is not in a namespace of the container: \
                     setting it would change the host"
                )
            );
        }
        let e = err(serde_json::json!({"kernel.hostname": "x"}), &all);
        assert!(e.contains("\"hostname\" field"), "{e}");
        for bad in ["net..ipv4", "net.ipv4.", "", "net/../../kernel/panic", "net/./x"] {
            let e = err(serde_json::json!({ bad: "1" }), &all);
            assert!(e.contains("is not a valid parameter name"), "{bad}: {e}");
        }
    }
}
