//! `rcr demo`: builds a bundle from the host's static busybox and the
//! default spec, so a fresh machine can run a real container with one
//! command and no image.

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

/// What the demo container runs.
const SCRIPT: &str = r#"echo "Hello from inside an rcr container!"
echo "  hostname: $(hostname)"
echo "  pid:      $$ (a pid namespace of its own)"
echo "  user:     $(id)"
echo "  rootfs:   $(touch /x 2>&1 || true)"
echo "  mounts:"; sed 's/^/    /' /proc/mounts"#;

/// Where to look for busybox, most likely first.
const BUSYBOX: &[&str] = &["/bin/busybox", "/usr/bin/busybox", "/usr/local/bin/busybox"];

fn find_busybox() -> Result<PathBuf, String> {
    for candidate in BUSYBOX {
        let path = Path::new(candidate);
        if path.exists() {
            return match rcr_linux::elf::is_static_elf(path) {
                Ok(true) => Ok(path.to_owned()),
                Ok(false) => Err(format!(
                    "{candidate} is dynamically linked; install a static busybox (Debian: apt-get install busybox-static)"
                )),
                Err(e) => Err(format!("{candidate}: {e}")),
            };
        }
    }
    Err("no busybox found; install a static one (Debian: apt-get install busybox-static)"
        .to_owned())
}

/// Writes a busybox bundle into `dir` and returns the path of its config.
pub fn make_bundle(dir: &Path) -> Result<(), String> {
    let io = |what: &str, p: &Path| {
        let what = what.to_owned();
        let p = p.display().to_string();
        move |e: std::io::Error| format!("{what} {p}: {e}")
    };
    let busybox = find_busybox()?;
    let rootfs = dir.join("rootfs");
    for sub in ["bin", "proc", "sys", "dev", "tmp", "etc", "root"] {
        fs::create_dir_all(rootfs.join(sub)).map_err(io("create", &rootfs.join(sub)))?;
    }
    let target = rootfs.join("bin/busybox");
    fs::copy(&busybox, &target).map_err(io("copy busybox to", &target))?;
    fs::set_permissions(&target, fs::Permissions::from_mode(0o755))
        .map_err(io("chmod", &target))?;
    for applet in
        ["sh", "echo", "hostname", "id", "sed", "cat", "ls", "touch", "ps", "mount", "sleep"]
    {
        let link = rootfs.join("bin").join(applet);
        if !link.exists() {
            symlink("busybox", &link).map_err(io("link", &link))?;
        }
    }
    let etc = rootfs.join("etc");
    fs::write(etc.join("passwd"), "root:x:0:0:root:/root:/bin/sh\n").map_err(io("write", &etc))?;
    fs::write(etc.join("group"), "root:x:0:\n").map_err(io("write", &etc))?;
    let mut spec = crate::spec_cmd::default_spec();
    spec["process"]["args"] = serde_json::json!(["sh", "-c", SCRIPT]);
    // A report, not a session: plain output that pipes and logs cleanly.
    spec["process"]["terminal"] = serde_json::json!(false);
    spec["hostname"] = serde_json::json!("rcr-demo");
    let config = dir.join("config.json");
    let text = serde_json::to_string_pretty(&spec).expect("the default spec serializes");
    fs::write(&config, text).map_err(io("write", &config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundle_layout() {
        if find_busybox().is_err() {
            eprintln!("SKIP bundle_layout: no static busybox on this host");
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        make_bundle(tmp.path()).unwrap();
        assert!(tmp.path().join("rootfs/bin/sh").exists());
        let cfg: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(tmp.path().join("config.json")).unwrap())
                .unwrap();
        assert_eq!(cfg["hostname"], "rcr-demo");
        assert_eq!(cfg["process"]["terminal"], false);
    }
}
