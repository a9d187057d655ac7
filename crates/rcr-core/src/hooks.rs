//! Running OCI hooks: each hook is run with the container state as JSON on
//! its stdin, its own args and env, and an optional timeout; its output is
//! kept so a failure can say why.
//!
//! Which hooks run when, and in which namespaces, is the platform's and the
//! lifecycle's business; this module only runs a list of them in order,
//! stopping at the first failure.

use std::io::{Read, Seek, Write};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oci_spec::runtime::Hook;

/// The hook points of runtime-spec, in lifecycle order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookKind {
    Prestart,
    CreateRuntime,
    CreateContainer,
    StartContainer,
    Poststart,
    Poststop,
}

impl HookKind {
    /// Every hook point, in lifecycle order.
    pub const ALL: [HookKind; 6] = [
        Self::Prestart,
        Self::CreateRuntime,
        Self::CreateContainer,
        Self::StartContainer,
        Self::Poststart,
        Self::Poststop,
    ];

    /// The hook's name in `config.json`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Prestart => "prestart",
            Self::CreateRuntime => "createRuntime",
            Self::CreateContainer => "createContainer",
            Self::StartContainer => "startContainer",
            Self::Poststart => "poststart",
            Self::Poststop => "poststop",
        }
    }

    /// The hooks of this kind in `hooks`.
    pub fn of(self, hooks: &oci_spec::runtime::Hooks) -> Vec<Hook> {
        #[allow(deprecated)]
        let list = match self {
            Self::Prestart => hooks.prestart(),
            Self::CreateRuntime => hooks.create_runtime(),
            Self::CreateContainer => hooks.create_container(),
            Self::StartContainer => hooks.start_container(),
            Self::Poststart => hooks.poststart(),
            Self::Poststop => hooks.poststop(),
        };
        list.clone().unwrap_or_default()
    }
}

/// A hook that could not be run or did not succeed.
#[derive(Debug, thiserror::Error)]
#[error("{kind} hook {index} ({}): {reason}", path.display())]
pub struct HookError {
    pub kind: &'static str,
    pub index: usize,
    pub path: PathBuf,
    pub reason: String,
}

/// How often a running hook is checked for exit.
const POLL: Duration = Duration::from_millis(2);

fn run_one(hook: &Hook, state: &[u8]) -> Result<(), String> {
    let mut out = tempfile::tempfile().map_err(|e| format!("create output file: {e}"))?;
    let mut cmd = Command::new(hook.path());
    let args = hook.args().clone().unwrap_or_default();
    if let Some((argv0, rest)) = args.split_first() {
        cmd.arg0(argv0).args(rest);
    }
    cmd.env_clear();
    for kv in hook.env().iter().flatten() {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    let err_file = out.try_clone().map_err(|e| format!("create output file: {e}"))?;
    let out_file = out.try_clone().map_err(|e| format!("create output file: {e}"))?;
    cmd.stdin(Stdio::piped()).stdout(out_file).stderr(err_file);
    let mut child = cmd.spawn().map_err(|e| format!("start: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook may exit without reading its stdin: EPIPE is not its failure.
        let _ = stdin.write_all(state);
    }
    let deadline = hook.timeout().map(|t| Instant::now() + Duration::from_secs(t.max(1) as u64));
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {}
            Err(e) => return Err(format!("wait: {e}")),
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("timed out after {}s", hook.timeout().unwrap_or_default()));
        }
        std::thread::sleep(POLL);
    };
    if status.success() {
        return Ok(());
    }
    let mut text = String::new();
    let _ = out.rewind();
    let _ = out.take(4096).read_to_string(&mut text);
    let text = text.trim();
    Err(if text.is_empty() { status.to_string() } else { format!("{status}: {text}") })
}

/// Runs `hooks` of `kind` in order with `state` on stdin; the first failure
/// stops the list.
pub fn run(kind: HookKind, hooks: &[Hook], state: &serde_json::Value) -> Result<(), HookError> {
    if hooks.is_empty() {
        return Ok(());
    }
    let bytes = serde_json::to_vec(state).expect("state always serializes");
    for (index, hook) in hooks.iter().enumerate() {
        tracing::debug!("run {} hook {index}: {}", kind.name(), hook.path().display());
        run_one(hook, &bytes).map_err(|reason| HookError {
            kind: kind.name(),
            index,
            path: hook.path().clone(),
            reason,
        })?;
    }
    Ok(())
}

/// Runs hooks whose failure the spec turns into a warning (poststart,
/// poststop): every hook runs; failures are logged.
pub fn run_warn(kind: HookKind, hooks: &[Hook], state: &serde_json::Value) {
    for (index, hook) in hooks.iter().enumerate() {
        if let Err(e) = run(kind, std::slice::from_ref(hook), state) {
            tracing::warn!("{}", HookError { index, ..e });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(v: serde_json::Value) -> Hook {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn every_hook_point_once_in_lifecycle_order() {
        let names: Vec<_> = HookKind::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(
            names,
            [
                "prestart",
                "createRuntime",
                "createContainer",
                "startContainer",
                "poststart",
                "poststop"
            ]
        );
    }

    #[test]
    fn state_on_stdin_args_and_env() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let h = hook(serde_json::json!({
            "path": "/bin/sh",
            "args": ["sh", "-c", format!("cat > {0}; echo \" $0 $FOO\" >> {0}", out.display())],
            "env": ["FOO=bar"],
        }));
        run(HookKind::CreateRuntime, &[h], &serde_json::json!({"id": "c1"})).unwrap();
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "{\"id\":\"c1\"} sh bar\n");
    }

    #[test]
    fn failure_and_timeout_are_reported() {
        let failing = hook(
            serde_json::json!({"path": "/bin/sh", "args": ["sh", "-c", "echo boom >&2; exit 3"]}),
        );
        let e =
            run(HookKind::Prestart, &[failing], &serde_json::json!({})).unwrap_err().to_string();
        assert!(
            e.starts_with("prestart hook 0 (/bin/sh)")
                && e.contains("exit status: 3")
                && e.contains("boom"),
            "{e}"
        );
        let slow = hook(
            serde_json::json!({"path": "/bin/sh", "args": ["sh", "-c", "sleep 5"], "timeout": 1}),
        );
        let start = Instant::now();
        let e =
            run(HookKind::CreateRuntime, &[slow], &serde_json::json!({})).unwrap_err().to_string();
        assert!(e.contains("timed out after 1s"), "{e}");
        assert!(start.elapsed() < Duration::from_secs(4));
        let missing = hook(serde_json::json!({"path": "/nonexistent/hook"}));
        let e =
            run(HookKind::Poststop, &[missing], &serde_json::json!({})).unwrap_err().to_string();
        assert!(e.contains("start:"), "{e}");
    }
}
