//! The runtime binary's protection (CVE-2019-5736), attacked from real
//! containers: with the overlay seal, with the sealed-memfd copy it falls
//! back to, through `create`'s init and through `exec`.
//!
//! Every test runs a copy of the rcr binary from a writable temporary
//! directory (the case that needs a seal), so an attack that succeeds
//! damages the copy, not the build. The attacker is the probe's
//! `hijack-exe`, run with `CAP_SYS_PTRACE` so that it may open
//! `/proc/<pid>/exe` of any process in its container.

#![allow(clippy::unwrap_used)]

use std::fs::{self, File};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::fcntl::{fcntl, FcntlArg, OFlag};
use rcr_testkit::{require_root, Bundle, Rcr};
use serde_json::{json, Value};

/// `RCR_EXE_SEAL`, as the tests force it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seal {
    Auto,
    Overlay,
    Memfd,
}

/// A copy of the rcr binary in its own writable directory, with a private
/// state root.
struct Runtime {
    _dir: tempfile::TempDir,
    bin: PathBuf,
    rcr: Rcr,
    seal: Seal,
}

impl Runtime {
    fn new(seal: Seal) -> Runtime {
        let dir = tempfile::Builder::new().prefix("rcr-bin-").tempdir().unwrap();
        let bin = dir.path().join("rcr");
        fs::copy(env!("CARGO_BIN_EXE_rcr"), &bin).unwrap();
        fs::set_permissions(&bin, fs::Permissions::from_mode(0o755)).unwrap();
        let rcr = Rcr::new(&bin);
        Runtime { _dir: dir, bin, rcr, seal }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = self.rcr.cmd(args);
        match self.seal {
            Seal::Auto => cmd.env_remove("RCR_EXE_SEAL"),
            Seal::Overlay => cmd.env("RCR_EXE_SEAL", "overlay"),
            Seal::Memfd => cmd.env("RCR_EXE_SEAL", "memfd"),
        };
        cmd.stdin(Stdio::null());
        cmd
    }

    /// Runs `args` with stdout and stderr discarded (a created container's
    /// init holds them, so a pipe would never close).
    fn quiet(&self, args: &[&str]) {
        let status = self.cmd(args).stdout(Stdio::null()).stderr(Stdio::null()).status().unwrap();
        assert!(status.success(), "rcr {args:?}: {status}");
    }

    fn init_pid(&self, id: &str) -> u32 {
        let out = self.cmd(&["state", id]).output().unwrap();
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        u32::try_from(v["pid"].as_u64().unwrap()).unwrap()
    }

    /// Whether the copy is still byte for byte the binary it was made from.
    fn intact(&self) -> bool {
        fs::read(&self.bin).unwrap() == fs::read(env!("CARGO_BIN_EXE_rcr")).unwrap()
    }
}

/// Whether the overlay seal can be built here: root and overlayfs (with the
/// new mount API of Linux 5.2).
fn overlay_available() -> Result<(), String> {
    if !rcr_testkit::is_root() {
        return Err("needs root".into());
    }
    let filesystems = fs::read_to_string("/proc/filesystems").unwrap_or_default();
    if !filesystems.lines().any(|l| l.split_whitespace().last() == Some("overlay")) {
        return Err("no overlayfs".into());
    }
    Ok(())
}

fn require(test: &str, seal: Seal) -> bool {
    if !require_root(test) {
        return false;
    }
    if seal == Seal::Overlay {
        if let Err(why) = overlay_available() {
            rcr_testkit::skip(test, &why);
            return false;
        }
    }
    true
}

/// A busybox bundle whose processes may open `/proc/<pid>/exe` of any
/// process in the container (`CAP_SYS_PTRACE`), with a writable `/tmp`.
fn attacker_bundle(args: &[&str]) -> Bundle {
    let bundle = Bundle::busybox();
    bundle.edit(|v| {
        for set in ["bounding", "effective", "permitted"] {
            v["process"]["capabilities"][set].as_array_mut().unwrap().push(json!("CAP_SYS_PTRACE"));
        }
        v["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/tmp",
            "type": "tmpfs",
            "source": "tmpfs",
            "options": ["nosuid", "nodev", "mode=1777"]
        }));
    });
    bundle.set_args(args);
    bundle
}

fn json_line(line: &str) -> Value {
    serde_json::from_str(line.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"))
}

/// Checks what the attack reported against the seal in use.
fn assert_repelled(seal: Seal, held: &Value, result: &Value) {
    assert_eq!(result["written"], json!(false), "the attack wrote: {result} (held {held})");
    match seal {
        Seal::Overlay => {
            assert_eq!(held["exe"], json!("/rcr"), "held the overlay's file: {held}");
            assert_eq!(result["open"]["errno"], json!(libc::EROFS), "{result}");
        }
        Seal::Memfd => {
            assert!(held["exe"].as_str().unwrap().starts_with("/memfd:rcr"), "{held}");
            // The memfd opens for writing once no process executes it, but
            // its seals refuse the write.
            assert_eq!(result["open"]["ok"], json!(true), "{result}");
            assert_eq!(result["write"]["errno"], json!(libc::EPERM), "{result}");
        }
        Seal::Auto => unreachable!("the attack tests force a seal"),
    }
}

/// `create`'s init runs rcr from the seal until `start`: a process exec'd
/// (detached) into the created container holds `/proc/1/exe` and tries to
/// write it once the init has executed the container's program and no rcr
/// process is left.
fn init_exe_hijack(test: &str, seal: Seal) {
    if !require(test, seal) {
        return;
    }
    let rt = Runtime::new(seal);
    let bundle = attacker_bundle(&["/rcr-probe", "sleep", "30"]);
    let id = Rcr::unique_id("hijack-init");
    rt.quiet(&["create", "--bundle", bundle.path_str(), &id]);

    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("stdout");
    let status = rt
        .cmd(&["exec", "--detach", &id, "/rcr-probe", "hijack-exe", "1"])
        .stdout(File::create(&out).unwrap())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let held = nth_line(&out, 0);
    assert_eq!(held["held"], json!(1), "{held}");

    rt.quiet(&["start", &id]);
    let result = nth_line(&out, 1);
    assert_repelled(seal, &held, &result);
    assert!(rt.intact(), "the runtime binary was modified");
    rt.quiet(&["delete", "--force", &id]);
}

#[test]
fn overlay_seal_repels_init_exe_hijack() {
    init_exe_hijack("overlay_seal_repels_init_exe_hijack", Seal::Overlay);
}

#[test]
fn memfd_seal_repels_init_exe_hijack() {
    init_exe_hijack("memfd_seal_repels_init_exe_hijack", Seal::Memfd);
}

/// A pipe whose buffer is full, so a write to it blocks until the read end
/// is drained: `(read end, write end)`.
fn full_pipe() -> (File, OwnedFd) {
    let (read, write) = nix::unistd::pipe().unwrap();
    let flags = OFlag::from_bits_truncate(fcntl(write.as_raw_fd(), FcntlArg::F_GETFL).unwrap());
    fcntl(write.as_raw_fd(), FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK)).unwrap();
    let mut w = File::from(write);
    let chunk = [b'.'; 4096];
    loop {
        match w.write(&chunk) {
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("fill the pipe: {e}"),
        }
    }
    fcntl(w.as_raw_fd(), FcntlArg::F_SETFL(flags)).unwrap();
    (File::from(read), w.into())
}

/// Waits for the `n`th line the container wrote to `out`.
fn nth_line(out: &Path, n: usize) -> Value {
    let mut line = None;
    let found = rcr_testkit::wait_until(Duration::from_secs(90), || {
        line = fs::read_to_string(out).unwrap().lines().nth(n).map(str::to_owned);
        line.is_some()
    });
    assert!(found, "no line {n} from the container: {:?}", fs::read_to_string(out));
    json_line(&line.unwrap())
}

/// `rcr exec` of a program whose interpreter is `#!/proc/self/exe`: the
/// kernel starts the runtime binary (as `rcr exec` sealed it) inside the
/// container. The container's init, the attacker, catches that process and
/// tries to write its executable once it has exited. The exec'd rcr reports
/// its usage error into a full pipe, which keeps it alive until the
/// attacker holds it.
fn shebang_hijack(test: &str, seal: Seal) {
    if !require(test, seal) {
        return;
    }
    let rt = Runtime::new(seal);
    let bundle = attacker_bundle(&["/rcr-probe", "hijack-exe", "any"]);
    let evil = bundle.rootfs().join("evil");
    fs::write(&evil, "#!/proc/self/exe\n").unwrap();
    fs::set_permissions(&evil, fs::Permissions::from_mode(0o755)).unwrap();
    let id = Rcr::unique_id("hijack-exec");
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("stdout");
    let status = rt
        .cmd(&["run", "--detach", "--bundle", bundle.path_str(), &id])
        .stdout(File::create(&out).unwrap())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());

    let (mut drain, stderr) = full_pipe();
    let mut exec = rt
        .cmd(&["exec", &id, "/evil"])
        .stdout(Stdio::null())
        .stderr(Stdio::from(stderr))
        .spawn()
        .unwrap();
    let held = nth_line(&out, 0);
    assert!(held["held"].as_u64().is_some_and(|pid| pid > 1), "{held}");
    let mut stderr = Vec::new();
    drain.read_to_end(&mut stderr).unwrap();
    let status = exec.wait().unwrap();
    let said = String::from_utf8_lossy(&stderr);
    let said = said.trim_start_matches('.');
    // The runtime really ran in the container: as `/proc/self/exe /evil`.
    assert!(!status.success() && said.contains("/evil"), "{status}: {said}");

    let result = nth_line(&out, 1);
    assert_repelled(seal, &held, &result);
    assert!(rt.intact(), "the runtime binary was modified");
    rt.quiet(&["delete", "--force", &id]);
}

#[test]
fn overlay_seal_repels_shebang_hijack_through_exec() {
    shebang_hijack("overlay_seal_repels_shebang_hijack_through_exec", Seal::Overlay);
}

#[test]
fn memfd_seal_repels_shebang_hijack_through_exec() {
    shebang_hijack("memfd_seal_repels_shebang_hijack_through_exec", Seal::Memfd);
}

/// The attack itself works: on an unprotected binary (a copy of the probe
/// run from a writable directory) the same steps overwrite it.
#[test]
fn hijack_overwrites_an_unprotected_binary() {
    if !require_root("hijack_overwrites_an_unprotected_binary") {
        return;
    }
    let rt = Runtime::new(Seal::Auto);
    let bundle = attacker_bundle(&["/rcr-probe", "hijack-exe", "control"]);
    let out = rt.cmd(&["run", "--bundle", bundle.path_str(), &Rcr::unique_id("control")]).output();
    let out = out.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut lines = stdout.lines();
    let held = json_line(lines.next().unwrap());
    assert_eq!(held["exe"], json!("/tmp/victim"), "{held}");
    let result = json_line(lines.next().unwrap());
    assert_eq!(result["written"], json!(true), "{result}");
}

/// Without `RCR_EXE_SEAL` the init runs from the overlay where it can be
/// built (the same inode as the binary, no copy), and from a sealed memfd
/// elsewhere; writing through `/proc/<pid>/exe` fails either way.
#[test]
fn init_runs_from_the_sealed_binary() {
    if !require_root("init_runs_from_the_sealed_binary") {
        return;
    }
    let rt = Runtime::new(Seal::Auto);
    let bundle = Bundle::busybox();
    bundle.set_args(&["/rcr-probe", "sleep", "30"]);
    let id = Rcr::unique_id("sealed");
    rt.quiet(&["create", "--bundle", bundle.path_str(), &id]);
    let exe = format!("/proc/{}/exe", rt.init_pid(&id));
    let link = fs::read_link(&exe).unwrap();
    let write = fs::OpenOptions::new().write(true).open(&exe).map(drop);
    match overlay_available() {
        Ok(()) => {
            assert_eq!(link, Path::new("/rcr"), "init runs from {link:?}");
            let fs_type = nix::sys::statfs::statfs(exe.as_str()).unwrap().filesystem_type();
            assert_eq!(fs_type, nix::sys::statfs::OVERLAYFS_SUPER_MAGIC);
            assert_eq!(fs::metadata(&exe).unwrap().ino(), fs::metadata(&rt.bin).unwrap().ino());
            assert_eq!(write.unwrap_err().raw_os_error(), Some(libc::EROFS));
            let layer = rt.rcr.root().join("~seal");
            assert_eq!(fs::read_dir(&layer).unwrap().count(), 0, "{layer:?} stays empty");
        }
        Err(why) => {
            println!("no overlay seal here ({why}): expecting the memfd copy");
            assert!(link.to_string_lossy().starts_with("/memfd:rcr"), "init runs from {link:?}");
            assert!(write.is_err(), "the runtime binary could be written through {exe}");
        }
    }
    rt.quiet(&["delete", "--force", &id]);
}

/// A `~seal` directory under the state root that is not empty, or not
/// private to rcr, is not used as the overlay's empty layer: rcr falls back
/// to the memfd copy and the container runs; forcing the overlay fails.
#[test]
fn untrusted_seal_dir_falls_back_to_the_memfd_copy() {
    let test = "untrusted_seal_dir_falls_back_to_the_memfd_copy";
    if !require(test, Seal::Overlay) {
        return;
    }
    let bundle = Bundle::busybox();
    bundle.set_args(&["/rcr-probe", "sleep", "30"]);
    type Spoil = fn(&Path);
    let spoilers: [(&str, Spoil); 3] = [
        ("not empty", |layer| fs::write(layer.join("rcr"), b"shadow").unwrap()),
        ("foreign", |layer| std::os::unix::fs::chown(layer, Some(65534), None).unwrap()),
        ("writable", |layer| {
            fs::set_permissions(layer, fs::Permissions::from_mode(0o777)).unwrap()
        }),
    ];
    for (what, spoil) in spoilers {
        let rt = Runtime::new(Seal::Auto);
        let layer = rt.rcr.root().join("~seal");
        fs::create_dir_all(&layer).unwrap();
        fs::set_permissions(&layer, fs::Permissions::from_mode(0o700)).unwrap();
        spoil(&layer);
        let id = Rcr::unique_id("spoilt");
        rt.quiet(&["create", "--bundle", bundle.path_str(), &id]);
        let link = fs::read_link(format!("/proc/{}/exe", rt.init_pid(&id))).unwrap();
        assert!(
            link.to_string_lossy().starts_with("/memfd:rcr"),
            "{what}: init runs from {link:?}"
        );
        rt.quiet(&["delete", "--force", &id]);

        let out = rt
            .cmd(&["create", "--bundle", bundle.path_str(), &id])
            .env("RCR_EXE_SEAL", "overlay")
            .stdout(Stdio::null())
            .output()
            .unwrap();
        assert!(!out.status.success(), "{what}: the forced overlay seal was built");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let expected =
            format!("rcr: create {id}: seal the runtime binary on an overlay: {}", layer.display());
        assert!(stderr.starts_with(&expected), "{what}: {stderr}");
    }
}

/// A forced seal is used even where the overlay would work.
#[test]
fn forced_memfd_seal_is_used() {
    if !require_root("forced_memfd_seal_is_used") {
        return;
    }
    let rt = Runtime::new(Seal::Memfd);
    let bundle = Bundle::busybox();
    bundle.set_args(&["/rcr-probe", "sleep", "30"]);
    let id = Rcr::unique_id("memfd");
    rt.quiet(&["create", "--bundle", bundle.path_str(), &id]);
    let link = fs::read_link(format!("/proc/{}/exe", rt.init_pid(&id))).unwrap();
    assert!(link.to_string_lossy().starts_with("/memfd:rcr"), "init runs from {link:?}");
    rt.quiet(&["delete", "--force", &id]);
}

#[test]
fn unknown_seal_is_an_error() {
    let rt = Runtime::new(Seal::Auto);
    let bundle_dir = tempfile::tempdir().unwrap();
    let out = rt
        .cmd(&["create", "--bundle", bundle_dir.path().to_str().unwrap(), "c"])
        .env("RCR_EXE_SEAL", "none")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "rcr: create c: RCR_EXE_SEAL=\"none\": expected \"overlay\" or \"memfd\"\n"
    );
}
