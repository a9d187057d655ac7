//! Containers whose process exits at once: `start` and `run` must report
//! success even when the process is gone before the runtime looks again.

use std::process::Stdio;

use rcr_testkit::{require_busybox, require_root, Bundle, Rcr};

/// Enough rounds that a check-after-release race (seen at about one run in
/// twenty) shows up; each round is a few tens of milliseconds.
const ROUNDS: usize = 40;

#[test]
fn start_succeeds_for_a_process_that_exits_immediately() {
    let test = "start_succeeds_for_a_process_that_exits_immediately";
    if !require_root(test) || !require_busybox(test) {
        return;
    }
    let bundle = Bundle::busybox_without_probe();
    bundle.set_args(&["/bin/true"]);
    let rcr = Rcr::new(env!("CARGO_BIN_EXE_rcr"));
    for round in 0..ROUNDS {
        let id = Rcr::unique_id("short");
        // The container keeps the runtime's stdio: capturing it would wait
        // for the container to exit.
        let created = rcr
            .cmd(&["create", "--bundle", bundle.path_str(), &id])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(created.success(), "round {round}: create failed ({created})");
        let out = rcr.run(&["start", &id]);
        assert!(
            out.status.success(),
            "round {round}: start failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        rcr.ok(&["delete", "--force", &id]);
    }
}

#[test]
fn run_succeeds_for_a_process_that_exits_immediately() {
    let test = "run_succeeds_for_a_process_that_exits_immediately";
    if !require_root(test) || !require_busybox(test) {
        return;
    }
    let bundle = Bundle::busybox_without_probe();
    bundle.set_args(&["/bin/true"]);
    let rcr = Rcr::new(env!("CARGO_BIN_EXE_rcr"));
    for round in 0..ROUNDS {
        let id = Rcr::unique_id("short-run");
        let out = rcr.run(&["run", "--bundle", bundle.path_str(), &id]);
        assert!(
            out.status.success(),
            "round {round}: run failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
