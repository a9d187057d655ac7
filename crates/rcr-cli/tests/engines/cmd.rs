//! Running engine commands with a deadline, their output kept in files.
//!
//! Engines leave long-lived helpers behind (conmon, shims, daemons) that may
//! inherit a pipe and keep it open; output goes to files instead, so a
//! command is done when its own process exits. Every command has a deadline:
//! a hung engine fails its cell instead of the whole test run.

use std::fmt;
use std::fs;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// How long one engine command may take.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// What a finished command left: its exit code and output.
#[derive(Debug, Clone, Default)]
pub struct Out {
    /// The command line, for messages.
    pub what: String,
    /// `None` when killed by a signal or by the deadline.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub timed_out: bool,
}

impl Out {
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }

    /// stdout with terminal line endings undone and surrounding space trimmed.
    pub fn text(&self) -> String {
        self.stdout.replace('\r', "").trim().to_owned()
    }

    /// The command's result as a failure reason.
    pub fn failure(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Out {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let how = if self.timed_out {
            format!("timed out after {}s", DEADLINE.as_secs())
        } else {
            self.code.map_or_else(|| "killed by a signal".to_owned(), |c| format!("exit {c}"))
        };
        write!(f, "`{}`: {how}", self.what)?;
        for (name, text) in [("stdout", &self.stdout), ("stderr", &self.stderr)] {
            let text = text.trim();
            if !text.is_empty() {
                write!(f, "\n  {name}: {}", clip(text, 1500))?;
            }
        }
        Ok(())
    }
}

fn clip(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// Runs `cmd` to completion (or its deadline) with stdin closed.
pub fn run(cmd: Command, scratch: &Path) -> Out {
    run_input(cmd, scratch, None)
}

/// Runs `cmd` to completion (or its deadline) reading `input`, if any, on
/// its stdin.
pub fn run_input(mut cmd: Command, scratch: &Path, input: Option<&str>) -> Out {
    let what = describe(&cmd);
    let stdin = match input {
        None => Stdio::null(),
        Some(text) => {
            let path = scratch.join("cmd.stdin");
            match fs::write(&path, text).and_then(|()| fs::File::open(&path)) {
                Ok(f) => f.into(),
                Err(e) => {
                    return Out {
                        what,
                        stderr: format!("cannot write stdin: {e}"),
                        ..Out::default()
                    }
                }
            }
        }
    };
    let out_path = scratch.join("cmd.stdout");
    let err_path = scratch.join("cmd.stderr");
    let files = fs::File::create(&out_path).and_then(|o| Ok((o, fs::File::create(&err_path)?)));
    let (stdout, stderr) = match files {
        Ok(f) => f,
        Err(e) => {
            return Out {
                what,
                stderr: format!("cannot create output files: {e}"),
                ..Out::default()
            }
        }
    };
    cmd.stdin(stdin).stdout(stdout).stderr(stderr);
    let child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return Out { what, stderr: format!("cannot start: {e}"), ..Out::default() },
    };
    let (code, timed_out) = wait_deadline(child, DEADLINE);
    Out {
        what,
        code,
        stdout: fs::read_to_string(&out_path).unwrap_or_default(),
        stderr: fs::read_to_string(&err_path).unwrap_or_default(),
        timed_out,
    }
}

/// Waits for `child` until `deadline`, then kills it; returns its exit code
/// and whether the deadline struck.
pub fn wait_deadline(mut child: Child, deadline: Duration) -> (Option<i32>, bool) {
    let end = Instant::now() + deadline;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return (status.code(), false),
            Ok(None) if Instant::now() < end => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return (None, true);
            }
        }
    }
}

/// Stops a process this test started: SIGTERM, then SIGKILL after `grace`.
pub fn stop(child: Child, grace: Duration) {
    let pid = Pid::from_raw(i32::try_from(child.id()).expect("pids fit in i32"));
    let _ = kill(pid, Signal::SIGTERM);
    wait_deadline(child, grace);
}

/// The command line of `cmd`, for messages.
pub fn describe(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| shell_quote(&a.to_string_lossy()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `s` as one word for `sh`.
pub fn shell_quote(s: &str) -> String {
    let plain =
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b));
    if plain {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// `cmd` run on a new pseudo-terminal (by util-linux `script`), as a user at
/// a terminal would run it: engines only hand out a tty (`-t`) when asked,
/// and `script` returns the command's exit code (`-e`).
pub fn on_a_terminal(cmd: &Command) -> Command {
    let mut wrapped = Command::new("script");
    wrapped.args(["--quiet", "--return", "--command", &describe(cmd), "/dev/null"]);
    for (key, value) in cmd.get_envs() {
        match value {
            Some(v) => wrapped.env(key, v),
            None => wrapped.env_remove(key),
        };
    }
    wrapped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("sleep"), "sleep");
        assert_eq!(shell_quote("tty; exit 5"), "'tty; exit 5'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
