//! The runtime binary's protection (CVE-2019-5736), socket activation fds,
//! the session keyring and LSM settings, seen from real containers.

#![allow(clippy::unwrap_used)]

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::Stdio;

use rcr_testkit::{probe_report, require_root, Bundle, Rcr};

fn rcr() -> Rcr {
    Rcr::new(env!("CARGO_BIN_EXE_rcr"))
}

fn state_pid(rcr: &Rcr, id: &str) -> i32 {
    let v: serde_json::Value = serde_json::from_str(&rcr.ok(&["state", id])).unwrap();
    v["pid"].as_i64().unwrap() as i32
}

#[test]
fn init_runs_from_a_sealed_copy_of_the_binary() {
    if !require_root("init_runs_from_a_sealed_copy_of_the_binary") {
        return;
    }
    let rcr = rcr();
    let bundle = Bundle::busybox();
    bundle.set_args(&["/rcr-probe", "sleep", "30"]);
    let id = Rcr::unique_id("sealed");
    // The created init holds stdio: keep it off the test's pipes.
    let status = rcr
        .cmd(&["create", "--bundle", bundle.path_str(), &id])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let pid = state_pid(&rcr, &id);
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
    assert!(exe.to_string_lossy().starts_with("/memfd:rcr"), "init runs from {exe:?}");
    // What a container process would try: write through /proc/PID/exe.
    let write = OpenOptions::new()
        .write(true)
        .open(format!("/proc/{pid}/exe"))
        .and_then(|mut f| f.write_all(b"\x7fELF overwritten"));
    assert!(write.is_err(), "the runtime binary could be written through /proc/{pid}/exe");
    rcr.ok(&["delete", "--force", &id]);
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
