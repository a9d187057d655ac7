//! A private mount namespace for one engine, held open by a `sleep` that
//! this test starts, in which the engine's hard-coded paths (`/run`,
//! `/etc/containers`, `/etc/docker`, `/dev/shm`...) are bind mounts of
//! directories in the test's temporary directory.
//!
//! The engine and every command that must see its files (podman, ctr's
//! fifos) run inside it through `nsenter`. Whatever the engine mounts there
//! (overlay roots, shm) goes away with the namespace, so nothing leaks onto
//! the host's mount table.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::cmd;

#[derive(Debug)]
pub struct MountNamespace {
    holder: Option<Child>,
    ns: PathBuf,
}

impl MountNamespace {
    /// Starts the holder and waits until it is in its new namespace.
    pub fn new() -> io::Result<MountNamespace> {
        let holder = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "--", "sleep", "infinity"])
            .stdin(Stdio::null())
            .spawn()?;
        let pid = holder.id();
        let mut me = MountNamespace { holder: Some(holder), ns: PathBuf::new() };
        let ours = fs::read_link("/proc/self/ns/mnt")?;
        let entered = rcr_testkit::wait_until(Duration::from_secs(10), || {
            let theirs = fs::read_link(format!("/proc/{pid}/ns/mnt")).ok();
            let comm = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            comm.trim() == "sleep" && theirs.is_some_and(|t| t != ours)
        });
        if !entered {
            return Err(io::Error::other("unshare did not enter a new mount namespace"));
        }
        me.ns = fs::read_link(format!("/proc/{pid}/ns/mnt"))?;
        Ok(me)
    }

    fn pid(&self) -> u32 {
        self.holder.as_ref().map_or(0, Child::id)
    }

    /// `program` to be run inside the namespace.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        self.launcher()(program.as_ref())
    }

    /// Makes commands that run inside the namespace, without borrowing it.
    pub fn launcher(&self) -> impl Fn(&std::ffi::OsStr) -> Command + Clone + 'static {
        let target = format!("--target={}", self.pid());
        move |program| {
            let mut c = Command::new("nsenter");
            c.arg(&target).arg("--mount").arg("--").arg(program);
            c
        }
    }

    /// Bind-mounts `source` over `target` inside the namespace.
    pub fn bind(&self, source: &Path, target: &str, scratch: &Path) -> Result<(), String> {
        let mut c = self.command("mount");
        c.arg("--bind").arg(source).arg(target);
        let out = cmd::run(c, scratch);
        if out.ok() {
            Ok(())
        } else {
            Err(out.failure())
        }
    }

    /// A fresh tmpfs over `target` inside the namespace.
    pub fn tmpfs(&self, target: &str, scratch: &Path) -> Result<(), String> {
        let mut c = self.command("mount");
        c.args(["-t", "tmpfs", "-o", "mode=1777", "tmpfs", target]);
        let out = cmd::run(c, scratch);
        if out.ok() {
            Ok(())
        } else {
            Err(out.failure())
        }
    }

    /// Pids of the processes in the namespace other than the holder: the
    /// engine and whatever it started there (conmon, shims).
    pub fn members(&self) -> Vec<i32> {
        let holder = i32::try_from(self.pid()).unwrap_or(0);
        let Ok(dir) = fs::read_dir("/proc") else { return Vec::new() };
        dir.flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
            .filter(|&pid| pid != holder)
            .filter(|pid| fs::read_link(format!("/proc/{pid}/ns/mnt")).is_ok_and(|l| l == self.ns))
            .collect()
    }
}

impl Drop for MountNamespace {
    fn drop(&mut self) {
        // Everything left inside was started by this test (the engine and
        // its helpers); once they and the holder are gone, the namespace
        // and its mounts are too.
        for pid in self.members() {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        if let Some(holder) = self.holder.take() {
            cmd::stop(holder, Duration::from_secs(5));
        }
        rcr_testkit::wait_until(Duration::from_secs(10), || self.members().is_empty());
    }
}
