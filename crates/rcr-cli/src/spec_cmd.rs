//! `rcr spec`: writes a default `config.json`, as `runc spec` does, in a
//! form for root or (with `--rootless`) for an unprivileged user.

use std::path::Path;

use serde_json::{json, Value};

/// The default spec for containers run by root.
pub fn default_spec() -> Value {
    json!({
        "ociVersion": rcr_core::OCI_VERSION,
        "process": {
            "terminal": true,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {
                "bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "effective": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "rcr",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
        ],
        "linux": {
            "resources": {"devices": [{"allow": false, "access": "rwm"}]},
            "namespaces": [
                {"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"}
            ],
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
                "/proc/scsi", "/sys/devices/virtual/powercap"
            ],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
        }
    })
}

/// The default spec for an unprivileged user: a user namespace mapping the
/// caller to root, no network namespace of its own, sysfs bound from the
/// host, and no cgroup mount or resources (runc's `spec --rootless`).
pub fn rootless_spec(uid: u32, gid: u32) -> Value {
    let mut v = default_spec();
    v["linux"]["resources"] = json!(null);
    v["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": uid, "size": 1}]);
    v["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": gid, "size": 1}]);
    let ns = v["linux"]["namespaces"].as_array_mut().expect("default namespaces are a list");
    ns.retain(|n| n["type"] != "network" && n["type"] != "cgroup");
    ns.push(json!({"type": "user"}));
    let mounts = v["mounts"].as_array_mut().expect("default mounts are a list");
    mounts.retain(|m| m["type"] != "cgroup");
    for m in mounts.iter_mut() {
        if m["destination"] == "/sys" {
            *m = json!({"destination": "/sys", "type": "none", "source": "/sys",
                        "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]});
        }
        if m["destination"] == "/dev/pts" {
            if let Some(opts) = m["options"].as_array_mut() {
                opts.retain(|o| o != "gid=5");
            }
        }
    }
    if let Some(obj) = v["linux"].as_object_mut() {
        obj.remove("resources");
    }
    v
}

/// Writes `config.json` into `bundle`, refusing to overwrite one.
pub fn write(bundle: &Path, rootless: bool) -> Result<(), String> {
    let path = bundle.join("config.json");
    let spec = if rootless {
        rootless_spec(nix::unistd::geteuid().as_raw(), nix::unistd::getegid().as_raw())
    } else {
        default_spec()
    };
    let text = serde_json::to_string_pretty(&spec).expect("the default spec serializes");
    let mut file =
        std::fs::OpenOptions::new().write(true).create_new(true).open(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                format!("{} exists: remove it first", path.display())
            } else {
                format!("write {}: {e}", path.display())
            }
        })?;
    std::io::Write::write_all(&mut file, text.as_bytes())
        .and_then(|()| std::io::Write::write_all(&mut file, b"\n"))
        .map_err(|e| format!("write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse_as_specs() {
        for v in [default_spec(), rootless_spec(1000, 1000)] {
            let spec: oci_spec::runtime::Spec = serde_json::from_value(v).unwrap();
            rcr_core::spec::validate(&spec).unwrap();
        }
        // As runc: `rcr run` gives the caller an interactive shell.
        assert_eq!(default_spec()["process"]["terminal"], true);
        let r = rootless_spec(1000, 1001);
        assert_eq!(r["linux"]["uidMappings"][0]["hostID"], 1000);
        assert_eq!(r["linux"]["gidMappings"][0]["hostID"], 1001);
        assert!(!r["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["type"] == "network"));
        assert!(!r["mounts"].as_array().unwrap().iter().any(|m| m["type"] == "cgroup"));
    }
}
