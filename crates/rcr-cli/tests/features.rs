//! End-to-end tests of `rcr features` — the document itself, checked
//! against the host, and a container that uses everything it claims — and
//! of `checkpoint`/`restore`, which take runc's flags and refuse clearly.

#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::path::Path;

use common::{rcr, require_root, run_probe, Bundle, Rcr};
use rcr_testkit::require_busybox;
use serde_json::{json, Value};

fn features(rcr: &Rcr) -> Value {
    let out = rcr.ok(&["features"]);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("features is not JSON ({e}): {out}"))
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap_or_else(|| panic!("not a string: {s}")))
        .collect()
}

/// The name of a spec namespace type under `/proc/self/ns`.
fn proc_ns(spec_name: &str) -> &str {
    match spec_name {
        "mount" => "mnt",
        "network" => "net",
        other => other,
    }
}

#[test]
fn features_document() {
    let rcr = rcr();
    let doc = features(&rcr);
    assert_eq!(doc["ociVersionMin"], "1.0.0");
    assert_eq!(doc["ociVersionMax"], "1.2.0");
    assert_eq!(
        strings(&doc["hooks"]),
        ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"]
    );
    let options = strings(&doc["mountOptions"]);
    for o in ["rbind", "bind", "nosuid", "ro", "rprivate"] {
        assert!(options.contains(&o), "{o} missing from {options:?}");
    }

    let linux = &doc["linux"];
    let namespaces = strings(&linux["namespaces"]);
    assert!(namespaces.contains(&"mount") && namespaces.contains(&"network"), "{namespaces:?}");
    for ns in &namespaces {
        let path = Path::new("/proc/self/ns").join(proc_ns(ns));
        assert!(path.exists(), "{ns} is listed but the kernel has no {}", path.display());
    }

    let caps = strings(&linux["capabilities"]);
    assert_eq!(caps.first(), Some(&"CAP_CHOWN"));
    assert!(caps.contains(&"CAP_SYS_ADMIN"), "{caps:?}");
    let last_cap: usize =
        fs::read_to_string("/proc/sys/kernel/cap_last_cap").unwrap().trim().parse().unwrap();
    assert!(caps.len() <= last_cap + 1, "{} names for a kernel with {}", caps.len(), last_cap + 1);

    let seccomp = &linux["seccomp"];
    assert_eq!(seccomp["enabled"], true);
    assert!(strings(&seccomp["actions"]).contains(&"SCMP_ACT_NOTIFY"));
    assert_eq!(strings(&seccomp["operators"]).len(), 7);
    let known = strings(&seccomp["knownFlags"]);
    for flag in strings(&seccomp["supportedFlags"]) {
        assert!(known.contains(&flag), "{flag} supported but not known");
    }
    if cfg!(target_arch = "x86_64") {
        let archs = strings(&seccomp["archs"]);
        assert!(archs.contains(&"SCMP_ARCH_X86_64") && archs.contains(&"SCMP_ARCH_X86"));
    }
    assert_eq!(linux["cgroup"]["systemd"], false);
    assert_eq!(linux["intelRdt"], json!({"enabled": false}));
    assert_eq!(linux["mountExtensions"], json!({"idmap": {"enabled": true}}));
    let apparmor = fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.trim() == "Y");
    assert_eq!(linux["apparmor"]["enabled"], apparmor);
    assert_eq!(linux["selinux"]["enabled"], Path::new("/sys/fs/selinux/enforce").exists());

    let annotations = &doc["annotations"];
    assert_eq!(
        annotations["io.github.seccomp.libseccomp.version"],
        libseccomp::ScmpVersion::current().unwrap().to_string()
    );
    let version = rcr.ok(&["--version"]);
    let commit = annotations["org.opencontainers.rcr.commit"].as_str().unwrap();
    assert!(version.contains(&format!("commit: {commit}\n")), "{commit} vs {version}");
    assert!(version.starts_with(&format!(
        "rcr version {}\n",
        annotations["org.opencontainers.rcr.version"].as_str().unwrap()
    )));
    assert_eq!(doc["potentiallyUnsafeConfigAnnotations"], json!([]));
}

/// A harmless syscall per seccomp action, none of which the probe makes.
const RARE_SYSCALLS: [&str; 9] =
    ["acct", "swapoff", "syslog", "vhangup", "kexec_load", "quotactl", "uselib", "sysfs", "ustat"];

/// What `rcr features` claims must work on this host: a container with every
/// listed namespace, seccomp action (but the notify one, which needs an
/// agent), operator, architecture and supported flag, and every listed
/// mount option.
#[test]
fn a_container_can_use_every_listed_feature() {
    let test = "a_container_can_use_every_listed_feature";
    if !require_root(test) || !require_busybox(test) {
        return;
    }
    let rcr = rcr();
    let doc = features(&rcr);
    let linux = &doc["linux"];
    let seccomp = &linux["seccomp"];

    let namespaces: Vec<Value> =
        strings(&linux["namespaces"]).iter().map(|t| json!({"type": t})).collect();
    let actions: Vec<&str> =
        strings(&seccomp["actions"]).into_iter().filter(|a| *a != "SCMP_ACT_NOTIFY").collect();
    assert!(actions.len() <= RARE_SYSCALLS.len());
    let mut rules: Vec<Value> = actions
        .iter()
        .zip(RARE_SYSCALLS)
        .map(|(action, name)| json!({"names": [name], "action": action}))
        .collect();
    for (i, op) in strings(&seccomp["operators"]).iter().enumerate() {
        rules.push(json!({"names": ["setdomainname"], "action": "SCMP_ACT_ERRNO",
            "args": [{"index": 1, "value": 1000 + i, "valueTwo": 0, "op": op}]}));
    }
    let profile = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": seccomp["archs"],
        "flags": seccomp["supportedFlags"],
        "syscalls": rules,
    });

    let bundle = Bundle::busybox();
    fs::create_dir(bundle.rootfs().join("bindsrc")).unwrap();
    let mut mounts = Vec::new();
    let mut checks = Vec::new();
    for (i, option) in strings(&doc["mountOptions"]).iter().enumerate() {
        let destination = format!("/mnt/opt{i}");
        fs::create_dir_all(bundle.rootfs().join(&destination[1..])).unwrap();
        mounts.push(match *option {
            // A remount changes an existing mount: the one made just before.
            "remount" => json!({"destination": format!("/mnt/opt{}", i - 1), "type": "tmpfs",
                "source": "tmpfs", "options": ["remount", "nosuid"]}),
            // idmap options take the container's user namespace mapping.
            "bind" | "rbind" | "idmap" | "ridmap" => json!({"destination": destination,
                "type": "bind", "source": bundle.rootfs().join("bindsrc"), "options": [option]}),
            _ => json!({"destination": destination, "type": "tmpfs", "source": "tmpfs",
                "options": [option]}),
        });
    }
    assert!(strings(&doc["mountOptions"]).first() != Some(&"remount"));
    // A few options whose effect shows in the mount table.
    for (option, shows) in [("ro", "ro"), ("nosuid", "nosuid"), ("nosymfollow", "nosymfollow")] {
        let i = strings(&doc["mountOptions"]).iter().position(|o| *o == option).unwrap();
        checks.push((format!("/mnt/opt{i}"), shows));
    }

    bundle.edit(|c| {
        if strings(&linux["namespaces"]).contains(&"user") {
            // The whole id range mapped onto itself: the rootfs stays usable.
            let all = json!([{"containerID": 0, "hostID": 0, "size": u32::MAX}]);
            c["linux"]["uidMappings"] = all.clone();
            c["linux"]["gidMappings"] = all;
        }
        c["linux"]["namespaces"] = json!(namespaces);
        c["linux"]["seccomp"] = profile;
        c["mounts"].as_array_mut().unwrap().extend(mounts);
        c["process"]["args"] = json!(["/rcr-probe"]);
    });
    let report = run_probe(&rcr, &bundle);
    for ns in strings(&linux["namespaces"]) {
        let name = proc_ns(ns);
        let host = fs::read_link(Path::new("/proc/self/ns").join(name)).unwrap();
        assert_ne!(report["namespaces"][name], host.to_str().unwrap(), "{ns} is the host's");
    }
    assert_eq!(report["seccomp"], 2, "the process runs under the filter");
    let table = report["mounts"].as_array().unwrap();
    for (point, shows) in checks {
        let m = table
            .iter()
            .rfind(|m| m["mount_point"] == point.as_str())
            .unwrap_or_else(|| panic!("{point} is not mounted: {table:?}"));
        let options = strings(&m["options"]);
        assert!(options.contains(&shows), "{point}: {options:?}");
    }
}

#[test]
fn checkpoint_and_restore_are_refused_clearly() {
    let rcr = rcr();
    let out = rcr.run(&[
        "checkpoint",
        "--image-path",
        "/tmp/img",
        "--work-path",
        "/tmp/work",
        "--leave-running",
        "--tcp-established",
        "--ext-unix-sk",
        "--shell-job",
        "--file-locks",
        "--pre-dump",
        "--parent-path",
        "../prev",
        "--manage-cgroups-mode",
        "soft",
        "--page-server",
        "127.0.0.1:9",
        "c1",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "rcr: checkpoint c1: not supported by rcr yet (CRIU is not integrated)\n"
    );
    assert!(out.stdout.is_empty());

    let out = rcr.run(&[
        "restore",
        "--bundle",
        "/tmp/b",
        "--image-path",
        "/tmp/img",
        "--work-path",
        "/tmp/work",
        "--detach",
        "--pid-file",
        "/tmp/p",
        "--console-socket",
        "/tmp/s",
        "--no-pivot",
        "--no-subreaper",
        "--tcp-established",
        "--ext-unix-sk",
        "--shell-job",
        "--file-locks",
        "--manage-cgroups-mode",
        "full",
        "c2",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "rcr: restore c2: not supported by rcr yet (CRIU is not integrated)\n"
    );

    // The flags are runc's, not anything: an unknown one is a usage error.
    let out = rcr.run(&["checkpoint", "--no-such-flag", "c1"]);
    assert_eq!(out.status.code(), Some(2));
    let out = rcr.run(&["restore", "--pre-dump", "c1"]);
    assert_eq!(out.status.code(), Some(2), "--pre-dump is checkpoint's only");
}
