//! Engine tests: podman, containerd and dockerd, started here with private
//! roots, state, config and sockets, drive runc and then rcr through the
//! same matrix of user commands (see `matrix.rs`), and must see the same.
//!
//! Slow (a few minutes) and needing root and the engines, so they only run
//! with `RCR_ENGINE_TESTS=1`; `scripts/test` runs them after the other
//! suites:
//!
//! ```sh
//! RCR_ENGINE_TESTS=1 cargo test -p rcr-cli --test engines -- --test-threads=1 --nocapture
//! ```
//!
//! Missing engines are installed from Debian's packages with
//! `scripts/install-engines`. Each test prints its matrix as a markdown
//! table and keeps it under `target/tmp/engines/`.

mod cli;
mod cmd;
mod containerd;
mod docker;
mod image;
mod matrix;
mod ns;
mod podman;
mod session;

use std::path::{Path, PathBuf};
use std::process::Command;

use matrix::{Engine, Runtime};

/// What the engines need on the host.
const TOOLS: &[&str] = &[
    "podman",
    "conmon",
    "containerd",
    "containerd-shim-runc-v2",
    "ctr",
    "dockerd",
    "runc",
    "unshare",
    "nsenter",
    "script",
    "tar",
    "sha256sum",
];

fn missing_tools() -> Vec<&'static str> {
    let mut missing: Vec<&str> =
        TOOLS.iter().copied().filter(|t| rcr_testkit::which(t).is_none()).collect();
    if !Path::new("/usr/bin/docker").exists() && rcr_testkit::which("docker").is_none() {
        missing.push("docker");
    }
    missing
}

/// Whether the engine tests can run here, installing the engines if they
/// are missing. Under CI nothing may be skipped: a missing piece fails.
fn prepare(test: &str) -> bool {
    if std::env::var_os("RCR_ENGINE_TESTS").is_none_or(|v| v != "1") {
        rcr_testkit::skip(test, "slow: runs with RCR_ENGINE_TESTS=1 (scripts/test runs it last)");
        return false;
    }
    if !rcr_testkit::require_root(test) || !rcr_testkit::require_busybox(test) {
        assert!(std::env::var_os("CI").is_none(), "{test}: CI must run the engine tests");
        return false;
    }
    if !missing_tools().is_empty() {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/install-engines");
        let status = Command::new(&script).status();
        eprintln!("{test}: ran {}: {status:?}", script.display());
    }
    let missing = missing_tools();
    if missing.is_empty() {
        return true;
    }
    let reason = format!("missing {} (scripts/install-engines installs them)", missing.join(", "));
    assert!(std::env::var_os("CI").is_none(), "{test}: {reason}");
    rcr_testkit::skip(test, &reason);
    false
}

/// runc, the reference, then rcr.
fn runtimes() -> Vec<Runtime> {
    let runc = rcr_testkit::which("runc").unwrap_or_else(|| PathBuf::from("/usr/sbin/runc"));
    vec![
        Runtime {
            name: "runc",
            path: runc,
            missing_program: r#"exec: "/nope": stat /nope: no such file or directory"#,
        },
        Runtime {
            name: "rcr",
            path: PathBuf::from(env!("CARGO_BIN_EXE_rcr")),
            missing_program: r#"exec "/nope": no such file or directory"#,
        },
    ]
}

/// A started engine: what plays the matrix; dropping it tears it down.
trait Started {
    fn engine(&self) -> &dyn Engine;
}

impl Started for podman::Podman {
    fn engine(&self) -> &dyn Engine {
        &self.cli
    }
}

impl Started for docker::Docker {
    fn engine(&self) -> &dyn Engine {
        &self.cli
    }
}

impl Started for containerd::Containerd {
    fn engine(&self) -> &dyn Engine {
        self
    }
}

/// Builds the image, starts the engine, plays the matrix, reports it, and
/// fails on any cell where a runtime fell short or the two disagree.
fn check<S: Started>(test: &str, start: impl FnOnce(&[Runtime], &Path) -> Result<S, String>) {
    if !prepare(test) {
        return;
    }
    let work = tempfile::Builder::new().prefix("rcr-image-").tempdir().expect("create a temp dir");
    let image =
        image::build(work.path()).unwrap_or_else(|e| panic!("build the busybox image: {e}"));
    let runtimes = runtimes();
    let engine = start(&runtimes, &image).unwrap_or_else(|e| panic!("start {test}: {e}"));
    let rows = matrix::play(engine.engine(), &runtimes);
    drop(engine);

    let report = matrix::report(test, &runtimes, &rows);
    println!("{report}");
    if let Some(file) = matrix::save(test, &report) {
        println!("(kept in {})", file.display());
    }
    let failed: Vec<&str> = rows.iter().filter(|r| !r.passed()).map(|r| r.cell.label()).collect();
    assert!(failed.is_empty(), "{test}: cells failed: {}\n\n{report}", failed.join(", "));
}

#[test]
fn podman() {
    check("podman", podman::Podman::start);
}

#[test]
fn containerd() {
    check("containerd", |_, image| containerd::Containerd::start(image));
}

#[test]
fn docker() {
    check("docker", docker::Docker::start);
}
