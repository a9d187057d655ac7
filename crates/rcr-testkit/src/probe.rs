//! Locating (building if need be) the static `rcr-probe` binary and parsing its output.

use std::env;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

use rcr_linux::elf::is_static_elf;

/// The statically linked `rcr-probe` to copy into test rootfs.
///
/// `$RCR_PROBE` wins if set; otherwise the probe is built once per process into
/// `target/testkit`. That target directory is separate from the one the enclosing
/// `cargo test` holds locked, which would otherwise deadlock the nested build.
///
/// # Panics
///
/// If the build fails or the probe is not a static executable.
pub fn probe_path() -> PathBuf {
    static PROBE: OnceLock<PathBuf> = OnceLock::new();
    PROBE
        .get_or_init(|| {
            let probe = match env::var_os("RCR_PROBE") {
                Some(path) if !path.is_empty() => PathBuf::from(path),
                _ => build_probe(),
            };
            match is_static_elf(&probe) {
                Ok(true) => probe,
                Ok(false) => {
                    panic!("{} is dynamically linked; is crt-static ignored?", probe.display())
                }
                Err(e) => panic!("cannot inspect probe {}: {e}", probe.display()),
            }
        })
        .clone()
}

/// Parses the JSON a probe printed.
///
/// # Panics
///
/// If `stdout` is not JSON, showing the text so the failing test explains itself.
pub fn probe_report(stdout: &str) -> Value {
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("probe output is not JSON ({e}):\n{stdout}"))
}

fn workspace_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

fn build_probe() -> PathBuf {
    let workspace = workspace_root();
    let cargo = env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut cmd = Command::new(&cargo);
    cmd.arg("rustc")
        .arg("--manifest-path")
        .arg(workspace.join("Cargo.toml"))
        .args(["-p", "rcr-probe", "--profile", "probe", "--message-format", "json"])
        .arg("--target-dir")
        .arg(workspace.join("target/testkit"))
        .args(["--", "-C", "target-feature=+crt-static"]);
    let output = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        panic!(
            "building rcr-probe failed ({}): {cmd:?}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    probe_executable(&stdout)
        .unwrap_or_else(|| panic!("cargo reported no rcr-probe executable: {cmd:?}\n{stdout}"))
}

/// The executable path from cargo's `--message-format json` output; asking cargo
/// rather than guessing keeps this right under `--target` or a renamed profile dir.
fn probe_executable(messages: &str) -> Option<PathBuf> {
    messages
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|msg| msg["reason"] == "compiler-artifact" && msg["target"]["name"] == "rcr-probe")
        .find_map(|msg| msg["executable"].as_str().map(PathBuf::from))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_executable_in_cargo_messages() {
        let messages = r#"{"reason":"compiler-artifact","target":{"name":"other"},"executable":"/x/other"}
not json
{"reason":"compiler-artifact","target":{"name":"rcr-probe"},"executable":"/t/probe/rcr-probe"}
{"reason":"build-finished","success":true}"#;
        assert_eq!(probe_executable(messages), Some(PathBuf::from("/t/probe/rcr-probe")));
        assert_eq!(probe_executable(r#"{"reason":"build-finished"}"#), None);
    }

    #[test]
    #[should_panic(expected = "probe output is not JSON")]
    fn rejects_non_json_reports() {
        probe_report("oops");
    }

    #[test]
    fn builds_a_static_probe_that_runs() {
        let probe = probe_path();
        assert!(is_static_elf(&probe).unwrap(), "{} is not static", probe.display());
        let status = Command::new(&probe).args(["exit", "3"]).status().unwrap();
        assert_eq!(status.code(), Some(3));

        let output = Command::new(&probe).output().unwrap();
        assert!(output.status.success());
        let report = probe_report(&String::from_utf8(output.stdout).unwrap());
        assert!(report["pid"].is_u64(), "{report:#}");
        assert!(report["capabilities"]["bounding"].is_array(), "{report:#}");
        assert!(report["mounts"].as_array().is_some_and(|m| !m.is_empty()), "{report:#}");
        assert!(report["rlimits"]["RLIMIT_NOFILE"]["soft"].is_u64(), "{report:#}");
    }
}
