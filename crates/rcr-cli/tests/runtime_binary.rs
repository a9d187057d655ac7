//! Socket activation fds, the session keyring and LSM settings, seen from
//! real containers. (The runtime binary's protection is tested in
//! `binary_protection.rs`.)

#![allow(clippy::unwrap_used)]

use std::os::unix::process::CommandExt;

use rcr_testkit::{probe_report, require_root, Bundle, Rcr};

fn rcr() -> Rcr {
    Rcr::new(env!("CARGO_BIN_EXE_rcr"))
}

#[test]
fn listen_fds_are_passed_on() {
    if !require_root("listen_fds_are_passed_on") {
        return;
    }
    let rcr = rcr();
    let bundle = Bundle::busybox();
    let id = Rcr::unique_id("listen");
    let file = tempfile::tempfile().unwrap();
    let fd = std::os::fd::AsRawFd::as_raw_fd(&file);
    let mut cmd = rcr.cmd(&["run", "--bundle", bundle.path_str(), &id]);
    cmd.env("LISTEN_FDS", "1").env_remove("LISTEN_PID");
    // SAFETY: dup2 and fcntl are async-signal-safe; only the forked child runs this.
    unsafe {
        cmd.pre_exec(move || {
            // dup2 onto itself keeps close-on-exec set: clear it explicitly.
            if libc::dup2(fd, 3) < 0 || libc::fcntl(3, libc::F_SETFD, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report = probe_report(&String::from_utf8_lossy(&out.stdout));
    let fds: Vec<i64> =
        report["fds"].as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect();
    assert_eq!(fds, vec![0, 1, 2, 3], "{report}");
    let env: Vec<&str> =
        report["env"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(env.contains(&"LISTEN_FDS=1") && env.contains(&"LISTEN_PID=1"), "{env:?}");
}

#[test]
fn session_keyring_unless_no_new_keyring() {
    if !require_root("session_keyring_unless_no_new_keyring") {
        return;
    }
    let rcr = rcr();
    let bundle = Bundle::busybox();
    bundle.set_args(&["/rcr-probe", "read", "/proc/keys"]);
    bundle.edit(|v| {
        let masked = v["linux"]["maskedPaths"].as_array_mut().unwrap();
        masked.retain(|p| p != "/proc/keys");
    });
    for (flag, expect) in [(None, true), (Some("--no-new-keyring"), false)] {
        let id = Rcr::unique_id("keys");
        let mut args = vec!["run", "--bundle", bundle.path_str()];
        args.extend(flag);
        args.push(&id);
        let out = rcr.ok(&args);
        let report: serde_json::Value = serde_json::from_str(&out).unwrap();
        let keys = report["/proc/keys"]["content"].as_str().unwrap_or_default();
        assert_eq!(keys.contains(&format!("_ses.{id}")), expect, "{flag:?}: {keys}");
    }
}

#[test]
fn lsm_settings_without_the_lsm() {
    if !require_root("lsm_settings_without_the_lsm") {
        return;
    }
    let apparmor = std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.trim() == "Y");
    let selinux = std::path::Path::new("/sys/fs/selinux/enforce").exists();
    if apparmor || selinux {
        rcr_testkit::skip("lsm_settings_without_the_lsm", "host has apparmor or selinux");
        return;
    }
    let rcr = rcr();
    let bundle = Bundle::busybox();
    bundle.edit(|v| v["process"]["apparmorProfile"] = serde_json::json!("rcr-test"));
    let id = Rcr::unique_id("aa");
    let err = rcr.fail(&["run", "--bundle", bundle.path_str(), &id]);
    assert!(err.contains("process.apparmorProfile") && err.contains("not enabled"), "{err}");
    assert!(!rcr.root().join(&id).exists(), "a failed create left state behind");
    // SELinux labels are ignored on a host without SELinux, as runc does.
    bundle.edit(|v| {
        v["process"]["apparmorProfile"] = serde_json::Value::Null;
        v["process"]["selinuxLabel"] = serde_json::json!("system_u:system_r:container_t:s0");
        v["linux"]["mountLabel"] = serde_json::json!("system_u:object_r:container_file_t:s0");
    });
    rcr.ok(&["run", "--bundle", bundle.path_str(), &Rcr::unique_id("se")]);
}
