//! OCI bundles on a busybox rootfs, with a default `config.json` like `runc spec`'s.

use std::fs;
use std::io;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};
use tempfile::TempDir;

use crate::{busybox_path, probe_path, temp_base};

/// Applets linked when `busybox --list` is unavailable.
const FALLBACK_APPLETS: &[&str] = &[
    "cat", "chmod", "echo", "env", "false", "grep", "head", "hostname", "id", "kill", "ln", "ls",
    "mkdir", "mount", "ps", "pwd", "readlink", "rm", "sh", "sleep", "stat", "test", "touch",
    "true", "umount", "uname", "wc",
];

const PASSWD: &str = "\
root:x:0:0:root:/root:/bin/sh
test:x:1000:1000:test:/home/test:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
";

const GROUP: &str = "\
root:x:0:
tty:x:5:
test:x:1000:
nogroup:x:65534:
";

/// The hostname in [`default_spec`] and `/etc/hostname`.
pub const HOSTNAME: &str = "rcr-test";

/// A temporary OCI bundle directory, removed on drop.
#[derive(Debug)]
pub struct Bundle {
    dir: TempDir,
}

impl Bundle {
    /// A bundle whose rootfs holds a static busybox with its applets in `/bin`,
    /// minimal `/etc` files and `/rcr-probe`; its config runs the probe.
    ///
    /// # Panics
    ///
    /// If there is no static busybox (see [`busybox_path`]), the probe cannot be
    /// built, or the bundle cannot be written.
    pub fn busybox() -> Bundle {
        Bundle::create(true)
    }

    /// Like [`Bundle::busybox`] but without the probe (so without building it);
    /// its config runs `sh`.
    pub fn busybox_without_probe() -> Bundle {
        Bundle::create(false)
    }

    fn create(with_probe: bool) -> Bundle {
        let busybox =
            busybox_path().expect("no static busybox found (apt-get install busybox-static)");
        let base = temp_base();
        let dir = tempfile::Builder::new()
            .prefix("rcr-bundle-")
            .tempdir_in(&base)
            .unwrap_or_else(|e| panic!("cannot create a bundle in {}: {e}", base.display()));
        // TempDir is 0700; user-namespaced containers must still reach the rootfs.
        set_mode(dir.path(), 0o755);
        let bundle = Bundle { dir };
        let rootfs = bundle.rootfs();
        populate_rootfs(&rootfs, &busybox);
        let mut spec = default_spec();
        if with_probe {
            install(&probe_path(), &rootfs.join("rcr-probe"));
        } else {
            spec["process"]["args"] = json!(["sh"]);
        }
        bundle.write_config(&spec);
        bundle
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The bundle path as a command-line argument.
    ///
    /// # Panics
    ///
    /// If the temporary directory's path is not UTF-8.
    pub fn path_str(&self) -> &str {
        self.path().to_str().expect("bundle path is not UTF-8")
    }

    pub fn rootfs(&self) -> PathBuf {
        self.path().join("rootfs")
    }

    pub fn config_path(&self) -> PathBuf {
        self.path().join("config.json")
    }

    /// The current `config.json`.
    ///
    /// # Panics
    ///
    /// If it cannot be read or parsed.
    pub fn config(&self) -> Value {
        let path = self.config_path();
        let text = check(fs::read_to_string(&path), "read", &path);
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
    }

    /// Replaces `config.json`.
    ///
    /// # Panics
    ///
    /// If it cannot be written.
    pub fn write_config(&self, config: &Value) {
        let path = self.config_path();
        let text = serde_json::to_string_pretty(config).expect("a JSON value always serializes");
        check(fs::write(&path, text), "write", &path);
    }

    /// Read-modify-write of `config.json`.
    pub fn edit(&self, f: impl FnOnce(&mut Value)) {
        let mut config = self.config();
        f(&mut config);
        self.write_config(&config);
    }

    /// Sets `process.args`.
    pub fn set_args(&self, args: &[&str]) {
        self.edit(|config| config["process"]["args"] = json!(args));
    }
}

/// The configuration `runc spec` writes (for cgroup v1 hosts, so without a cgroup
/// namespace), except that it runs `/rcr-probe` without a terminal and uses
/// [`HOSTNAME`].
pub fn default_spec() -> Value {
    let caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];
    json!({
        "ociVersion": "1.2.0",
        "process": {
            "terminal": false,
            "user": { "uid": 0, "gid": 0 },
            "args": ["/rcr-probe"],
            "env": [
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "TERM=xterm"
            ],
            "cwd": "/",
            "capabilities": { "bounding": caps, "effective": caps, "permitted": caps },
            "rlimits": [{ "type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024 }],
            "noNewPrivileges": true
        },
        "root": { "path": "rootfs", "readonly": true },
        "hostname": HOSTNAME,
        "mounts": [
            { "destination": "/proc", "type": "proc", "source": "proc" },
            {
                "destination": "/dev",
                "type": "tmpfs",
                "source": "tmpfs",
                "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]
            },
            {
                "destination": "/dev/pts",
                "type": "devpts",
                "source": "devpts",
                "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]
            },
            {
                "destination": "/dev/shm",
                "type": "tmpfs",
                "source": "shm",
                "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]
            },
            {
                "destination": "/dev/mqueue",
                "type": "mqueue",
                "source": "mqueue",
                "options": ["nosuid", "noexec", "nodev"]
            },
            {
                "destination": "/sys",
                "type": "sysfs",
                "source": "sysfs",
                "options": ["nosuid", "noexec", "nodev", "ro"]
            },
            {
                "destination": "/sys/fs/cgroup",
                "type": "cgroup",
                "source": "cgroup",
                "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]
            }
        ],
        "linux": {
            "resources": { "devices": [{ "allow": false, "access": "rwm" }] },
            "namespaces": [
                { "type": "pid" },
                { "type": "network" },
                { "type": "ipc" },
                { "type": "uts" },
                { "type": "mount" }
            ],
            "maskedPaths": [
                "/proc/acpi",
                "/proc/asound",
                "/proc/kcore",
                "/proc/keys",
                "/proc/latency_stats",
                "/proc/timer_list",
                "/proc/timer_stats",
                "/proc/sched_debug",
                "/sys/firmware",
                "/proc/scsi"
            ],
            "readonlyPaths": [
                "/proc/bus",
                "/proc/fs",
                "/proc/irq",
                "/proc/sys",
                "/proc/sysrq-trigger"
            ]
        }
    })
}

fn populate_rootfs(rootfs: &Path, busybox: &Path) {
    let dirs = [
        ("", 0o755),
        ("bin", 0o755),
        ("dev", 0o755),
        ("etc", 0o755),
        ("home", 0o755),
        ("proc", 0o755),
        ("root", 0o700),
        ("sys", 0o755),
        ("tmp", 0o1777),
    ];
    for (dir, mode) in dirs {
        let path = rootfs.join(dir);
        check(fs::create_dir(&path), "create", &path);
        // Set explicitly: create_dir is subject to the umask and ignores the sticky bit.
        set_mode(&path, mode);
    }
    let bin = rootfs.join("bin");
    install(busybox, &bin.join("busybox"));
    for applet in applets(busybox) {
        let link = bin.join(&applet);
        if applet != "busybox" && !applet.contains('/') && !link.exists() {
            check(symlink("busybox", &link), "symlink", &link);
        }
    }
    let etc = rootfs.join("etc");
    let hostname = format!("{HOSTNAME}\n");
    for (name, content) in [("passwd", PASSWD), ("group", GROUP), ("hostname", &hostname)] {
        let path = etc.join(name);
        check(fs::write(&path, content), "write", &path);
    }
}

fn applets(busybox: &Path) -> Vec<String> {
    let listed: Vec<String> = Command::new(busybox)
        .arg("--list")
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| {
            String::from_utf8_lossy(&out.stdout).split_whitespace().map(String::from).collect()
        })
        .unwrap_or_default();
    if listed.is_empty() {
        FALLBACK_APPLETS.iter().map(|&a| a.to_owned()).collect()
    } else {
        listed
    }
}

/// Copies an executable into the rootfs (never hard-links: tests may chmod or chown it).
fn install(from: &Path, to: &Path) {
    if let Err(e) = fs::copy(from, to) {
        panic!("cannot copy {} to {}: {e}", from.display(), to.display());
    }
    set_mode(to, 0o755);
}

fn set_mode(path: &Path, mode: u32) {
    check(fs::set_permissions(path, fs::Permissions::from_mode(mode)), "chmod", path);
}

fn check<T>(result: io::Result<T>, action: &str, path: &Path) -> T {
    result.unwrap_or_else(|e| panic!("cannot {action} {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    use super::*;
    use crate::{is_root, skip, which};

    #[test]
    fn default_spec_matches_runc_shape() {
        let spec = default_spec();
        assert_eq!(spec["ociVersion"], "1.2.0");
        assert_eq!(spec["root"], json!({ "path": "rootfs", "readonly": true }));
        assert_eq!(spec["process"]["capabilities"]["bounding"].as_array().unwrap().len(), 3);
        let destinations: Vec<_> =
            spec["mounts"].as_array().unwrap().iter().map(|m| &m["destination"]).collect();
        assert_eq!(
            destinations,
            ["/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup"]
        );
        let namespaces: Vec<_> =
            spec["linux"]["namespaces"].as_array().unwrap().iter().map(|n| &n["type"]).collect();
        assert_eq!(namespaces, ["pid", "network", "ipc", "uts", "mount"]);
    }

    #[test]
    fn busybox_bundle_layout() {
        if busybox_path().is_none() {
            skip("busybox_bundle_layout", "no static busybox");
            return;
        }
        let bundle = Bundle::busybox();
        let rootfs = bundle.rootfs();
        assert!(bundle.path_str().starts_with(temp_base().to_str().unwrap()));
        assert_eq!(fs::metadata(bundle.path()).unwrap().mode() & 0o7777, 0o755);
        assert_eq!(fs::metadata(rootfs.join("tmp")).unwrap().mode() & 0o7777, 0o1777);
        assert_eq!(fs::metadata(rootfs.join("root")).unwrap().mode() & 0o7777, 0o700);
        for dir in ["proc", "sys", "dev", "etc", "home"] {
            assert!(rootfs.join(dir).is_dir(), "missing /{dir}");
        }
        assert_eq!(fs::metadata(rootfs.join("bin/busybox")).unwrap().mode() & 0o777, 0o755);
        for applet in ["sh", "ls", "cat", "sleep", "id", "mount"] {
            assert_eq!(
                fs::read_link(rootfs.join("bin").join(applet)).unwrap(),
                Path::new("busybox")
            );
        }
        assert!(crate::is_static_elf(&rootfs.join("rcr-probe")).unwrap());
        let passwd = fs::read_to_string(rootfs.join("etc/passwd")).unwrap();
        assert!(passwd.contains("test:x:1000:1000:"), "{passwd}");
        assert_eq!(fs::read_to_string(rootfs.join("etc/hostname")).unwrap(), "rcr-test\n");

        let config = bundle.config();
        assert_eq!(config["ociVersion"], "1.2.0");
        assert_eq!(config["process"]["args"], json!(["/rcr-probe"]));
        assert_eq!(config["hostname"], HOSTNAME);

        bundle.set_args(&["/rcr-probe", "exit", "4"]);
        bundle.edit(|c| c["process"]["terminal"] = json!(true));
        let config = bundle.config();
        assert_eq!(config["process"]["args"], json!(["/rcr-probe", "exit", "4"]));
        assert_eq!(config["process"]["terminal"], true);

        let path = bundle.path().to_owned();
        drop(bundle);
        assert!(!path.exists());
    }

    #[test]
    fn bundle_without_probe_runs_sh() {
        if busybox_path().is_none() {
            skip("bundle_without_probe_runs_sh", "no static busybox");
            return;
        }
        let bundle = Bundle::busybox_without_probe();
        assert!(!bundle.rootfs().join("rcr-probe").exists());
        assert_eq!(bundle.config()["process"]["args"], json!(["sh"]));
    }

    #[test]
    fn rootfs_is_self_contained() {
        const TEST: &str = "rootfs_is_self_contained";
        if !is_root() || busybox_path().is_none() {
            skip(TEST, "needs root and a static busybox");
            return;
        }
        let Some(chroot) = which("chroot") else {
            skip(TEST, "no chroot(8)");
            return;
        };
        let bundle = Bundle::busybox();
        let run = |args: &[&str]| {
            let out = Command::new(&chroot).arg(bundle.rootfs()).args(args).output().unwrap();
            assert!(out.status.success(), "{args:?}: {out:?}");
            String::from_utf8(out.stdout).unwrap()
        };
        assert_eq!(run(&["/bin/sh", "-c", "id -un; echo ok"]), "root\nok\n");
        let stat = crate::probe_report(&run(&["/rcr-probe", "stat", "/bin/sh", "/tmp"]));
        assert_eq!(stat["/bin/sh"]["link"], "busybox");
        assert_eq!(stat["/tmp"]["mode"], "1777");
        let report = crate::probe_report(&run(&["/rcr-probe"]));
        assert_eq!(report["cwd"], "/");
        assert_eq!(report["rootfs_readonly"], false);
    }
}
