//! Driving the `rcr` binary with a private state directory per test.

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use tempfile::TempDir;

use crate::temp_base;

/// Runs `rcr --root <private dir> …`; dropping it force-deletes whatever
/// containers are left in that root, so a failing test does not leak them.
#[derive(Debug)]
pub struct Rcr {
    bin: PathBuf,
    root: TempDir,
}

impl Rcr {
    /// # Panics
    ///
    /// If the state directory cannot be created.
    pub fn new(bin: impl Into<PathBuf>) -> Rcr {
        let base = temp_base();
        let root = tempfile::Builder::new()
            .prefix("rcr-root-")
            .tempdir_in(&base)
            .unwrap_or_else(|e| panic!("cannot create a state dir in {}: {e}", base.display()));
        Rcr { bin: bin.into(), root }
    }

    pub fn bin(&self) -> &Path {
        &self.bin
    }

    /// The `--root` state directory.
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// A container id unique within this test run: `<prefix>-<pid>-<n>`.
    pub fn unique_id(prefix: &str) -> String {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        format!("{prefix}-{}-{n}", std::process::id())
    }

    /// `rcr --root <root> <args…>`, ready for further configuration.
    pub fn cmd(&self, args: &[&str]) -> Command {
        self.command(args)
    }

    fn command<S: AsRef<OsStr>>(&self, args: &[S]) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.arg("--root").arg(self.root()).args(args);
        cmd
    }

    /// Runs to completion with stdin closed, capturing stdout and stderr.
    ///
    /// # Panics
    ///
    /// If the binary cannot be started.
    pub fn run(&self, args: &[&str]) -> Output {
        let mut cmd = self.cmd(args);
        cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
    }

    /// Runs and returns stdout.
    ///
    /// # Panics
    ///
    /// If the command fails, showing its stdout and stderr.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "rcr {args:?} failed ({}){}", out.status, describe(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs and returns stderr.
    ///
    /// # Panics
    ///
    /// If the command succeeds, showing its stdout and stderr.
    pub fn fail(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(!out.status.success(), "rcr {args:?} unexpectedly succeeded{}", describe(&out));
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

fn describe(out: &Output) -> String {
    format!(
        "\n--- stdout ---\n{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

impl Drop for Rcr {
    fn drop(&mut self) {
        let Ok(entries) = fs::read_dir(self.root()) else {
            return;
        };
        for entry in entries.flatten() {
            // Best effort: the entry may not be a container, or already be gone.
            let _ = self
                .command(&[OsStr::new("delete"), OsStr::new("--force"), &entry.file_name()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn unique_ids_differ() {
        let ids: HashSet<_> = (0..100).map(|_| Rcr::unique_id("c")).collect();
        assert_eq!(ids.len(), 100);
        let id = Rcr::unique_id("ctr");
        assert!(id.starts_with(&format!("ctr-{}-", std::process::id())), "{id}");
    }

    #[test]
    fn prepends_root_and_checks_status() {
        let rcr = Rcr::new("/bin/echo");
        let root = rcr.root().to_str().unwrap().to_owned();
        assert_eq!(rcr.ok(&["state", "x"]), format!("--root {root} state x\n"));
        assert!(rcr.root().is_dir());

        let rcr = Rcr::new("/bin/false");
        assert_eq!(rcr.fail(&["start", "x"]), "");
    }

    #[test]
    #[should_panic(expected = "unexpectedly succeeded")]
    fn fail_panics_on_success() {
        Rcr::new("/bin/true").fail(&["delete", "x"]);
    }

    #[test]
    fn drop_force_deletes_leftovers() {
        let scratch = tempfile::tempdir().unwrap();
        let log = scratch.path().join("log");
        let fake = scratch.path().join("fake-rcr");
        fs::write(&fake, format!("#!/bin/sh\necho \"$@\" >> {}\n", log.display())).unwrap();
        fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();

        let rcr = Rcr::new(&fake);
        let root = rcr.root().to_owned();
        fs::create_dir(root.join("leaked")).unwrap();
        drop(rcr);

        let calls = fs::read_to_string(&log).unwrap();
        assert_eq!(calls, format!("--root {} delete --force leaked\n", root.display()));
        assert!(!root.exists());
    }
}
