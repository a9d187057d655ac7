//! Helpers for rcr's privileged end-to-end tests: deciding when to skip, finding
//! a static busybox and the static `rcr-probe`, building OCI bundles around them,
//! and driving the `rcr` binary with a private state directory.
//!
//! Temporary bundles and state directories go under `$RCR_TEST_TMP` (default `/tmp`).

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod bundle;

mod probe;
mod runner;

use std::env;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

pub use bundle::{default_spec, Bundle, HOSTNAME};
pub use probe::{probe_path, probe_report};
pub use rcr_linux::elf::is_static_elf;
pub use runner::Rcr;

/// How often [`wait_until`] re-checks its condition.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Reports a skipped test; the caller then returns early.
///
/// Printed to both streams so it shows with and without `--nocapture`.
pub fn skip(test: &str, reason: &str) {
    eprintln!("SKIP {test}: {reason}");
    println!("SKIP {test}: {reason}");
}

/// Whether the test can run as root, reporting a skip if not.
pub fn require_root(test: &str) -> bool {
    let root = is_root();
    if !root {
        skip(test, "requires root");
    }
    root
}

/// Whether a static busybox is available, reporting a skip if not.
pub fn require_busybox(test: &str) -> bool {
    let found = busybox_path().is_some();
    if !found {
        skip(test, "requires a static busybox (apt-get install busybox-static)");
    }
    found
}

/// Looks `prog` up in `$PATH` (or checks it directly if it contains a `/`).
pub fn which(prog: &str) -> Option<PathBuf> {
    if prog.contains('/') {
        return Some(PathBuf::from(prog)).filter(|p| is_executable(p));
    }
    env::split_paths(&env::var_os("PATH")?).map(|dir| dir.join(prog)).find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// A statically linked busybox, which is what makes a self-contained rootfs.
pub fn busybox_path() -> Option<PathBuf> {
    [PathBuf::from("/bin/busybox"), PathBuf::from("/usr/bin/busybox")]
        .into_iter()
        .chain(which("busybox"))
        .find(|p| is_executable(p) && is_static_elf(p).unwrap_or(false))
}

/// Polls `f` until it returns true or `timeout` passes; returns whether it did.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(POLL_INTERVAL);
    }
}

pub(crate) fn temp_base() -> PathBuf {
    let base = env::var_os("RCR_TEST_TMP")
        .filter(|dir| !dir.is_empty())
        .map_or_else(|| PathBuf::from("/tmp"), PathBuf::from);
    // Best effort: a missing base directory is reported by whoever creates in it.
    let _ = fs::create_dir_all(&base);
    base
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_finds_programs() {
        assert!(which("sh").is_some());
        assert_eq!(which("/bin/sh"), Some(PathBuf::from("/bin/sh")));
        assert_eq!(which("rcr-no-such-program"), None);
        assert_eq!(which("/etc/passwd"), None);
    }

    #[test]
    fn wait_until_polls_and_times_out() {
        let mut calls = 0;
        assert!(wait_until(Duration::from_secs(5), || {
            calls += 1;
            calls == 3
        }));
        assert_eq!(calls, 3);

        let start = Instant::now();
        assert!(!wait_until(Duration::from_millis(50), || false));
        assert!(start.elapsed() >= Duration::from_millis(50));
    }

    #[test]
    fn require_root_matches_is_root() {
        assert_eq!(require_root("require_root_matches_is_root"), is_root());
    }
}
