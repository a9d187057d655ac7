//! The matrix: the same cells, each a short story a user tells an engine
//! (`run --rm`, `exec -t`, `pause`...), played once with runc and once with
//! rcr as the engine's runtime.
//!
//! A cell passes for a runtime when what the user sees meets the cell's
//! expectation; it is summed up in a line free of ids and pids, and the two
//! runtimes must give the same line. runc is the reference: a cell that
//! fails with runc fails the matrix too, so a broken engine set-up cannot
//! pass for agreement.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cmd::Out;

/// An OCI runtime as an engine is told about it.
#[derive(Debug, Clone)]
pub struct Runtime {
    /// The name engines register it under (`--runtime NAME`).
    pub name: &'static str,
    pub path: PathBuf,
    /// What the runtime says when the container's program does not exist;
    /// the engine must show it to the user.
    pub missing_program: &'static str,
}

/// Resource flags of `run`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Limits {
    pub memory: Option<u64>,
    /// CPUs as the engines' `--cpus` takes them.
    pub cpus: Option<&'static str>,
    pub pids: Option<u32>,
}

/// What an engine reports about a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Running { pid: i32 },
    Paused { pid: i32 },
    Exited,
    Missing,
    Other(String),
}

/// A cell the engine's command line cannot express; the reason says why.
pub type Unsupported = &'static str;

/// One engine, driven through its own command line.
pub trait Engine {
    fn name(&self) -> &'static str;
    /// Why the engine cannot play `cell`, if it cannot.
    fn unsupported(&self, _cell: Cell) -> Option<Unsupported> {
        None
    }
    /// `run --rm` in the foreground.
    fn run(&self, rt: &Runtime, name: &str, args: &[&str]) -> Out;
    /// `run --rm -t` on a terminal.
    fn run_tty(&self, rt: &Runtime, name: &str, args: &[&str]) -> Out;
    /// `run --rm -i` with `input` on stdin.
    fn run_stdin(&self, rt: &Runtime, name: &str, input: &str, args: &[&str]) -> Out;
    /// `run -d`.
    fn run_detached(&self, rt: &Runtime, name: &str, limits: Limits, args: &[&str]) -> Out;
    fn exec(&self, name: &str, tty: bool, args: &[&str]) -> Out;
    /// `exec --user USER --workdir DIR`.
    fn exec_as(&self, name: &str, user: &str, workdir: &str, args: &[&str]) -> Out;
    /// Lists the container's processes; `Err` says why the listing does not
    /// show the container's process `pid` (a host pid).
    fn top(&self, name: &str, pid: i32) -> Result<(), String>;
    fn pause(&self, name: &str) -> Out;
    fn unpause(&self, name: &str) -> Out;
    fn kill(&self, name: &str, signal: &str) -> Out;
    fn stop(&self, name: &str) -> Out;
    /// `rm -f`.
    fn remove(&self, name: &str) -> Out;
    /// The container's stdout and stderr so far.
    fn logs(&self, name: &str) -> Result<String, String>;
    fn update_memory(&self, name: &str, bytes: u64) -> Out;
    fn status(&self, name: &str) -> Result<Status, String>;
    /// Waits for the container to exit; its exit code.
    fn wait(&self, name: &str) -> Result<i32, String>;
}

/// The cells, in the order they are played.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell {
    RunRm,
    RunTty,
    RunStdin,
    RunDetachedStop,
    Exec,
    ExecTty,
    ExecUser,
    Top,
    PauseUnpause,
    Kill,
    RemoveForce,
    Logs,
    Memory,
    Cpus,
    PidsLimit,
    Update,
    MissingProgram,
}

impl Cell {
    pub const ALL: [Cell; 17] = [
        Cell::RunRm,
        Cell::RunTty,
        Cell::RunStdin,
        Cell::RunDetachedStop,
        Cell::Exec,
        Cell::ExecTty,
        Cell::ExecUser,
        Cell::Top,
        Cell::PauseUnpause,
        Cell::Kill,
        Cell::RemoveForce,
        Cell::Logs,
        Cell::Memory,
        Cell::Cpus,
        Cell::PidsLimit,
        Cell::Update,
        Cell::MissingProgram,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Cell::RunRm => "run --rm",
            Cell::RunTty => "run -t",
            Cell::RunStdin => "run -i",
            Cell::RunDetachedStop => "run -d, stop",
            Cell::Exec => "exec",
            Cell::ExecTty => "exec -t",
            Cell::ExecUser => "exec --user --workdir",
            Cell::Top => "top / ps",
            Cell::PauseUnpause => "pause, unpause",
            Cell::Kill => "kill -s USR1",
            Cell::RemoveForce => "rm -f",
            Cell::Logs => "logs",
            Cell::Memory => "--memory",
            Cell::Cpus => "--cpus",
            Cell::PidsLimit => "--pids-limit",
            Cell::Update => "update --memory",
            Cell::MissingProgram => "missing program",
        }
    }

    /// Plays the cell with `rt`; the summary of what the user saw, or why
    /// it fell short of the expectation.
    fn play(self, e: &dyn Engine, rt: &Runtime, name: &str) -> Result<String, String> {
        match self {
            Cell::RunRm => {
                let out = e.run(rt, name, &["sh", "-c", "echo hello; exit 3"]);
                expect_exit(&out, 3)?;
                expect_text(&out, "hello")?;
                Ok("exit 3, prints hello".into())
            }
            Cell::RunTty => {
                let out = e.run_tty(rt, name, &["sh", "-c", "tty; sleep 0.5; exit 6"]);
                expect_exit(&out, 6)?;
                expect_terminal(&out)?;
                Ok("exit 6, on /dev/pts/N".into())
            }
            Cell::RunStdin => {
                // `head` ends by itself: ctr does not pass on the end of its
                // stdin, so `cat` would never exit there.
                let out = e.run_stdin(rt, name, "line one\nline two\n", &["head", "-n", "2"]);
                expect_exit(&out, 0)?;
                expect_text(&out, "line one\nline two")?;
                Ok("stdin reaches the container".into())
            }
            Cell::RunDetachedStop => {
                // pid 1 only gets the signals it handles: the trap proves
                // that TERM reached it, the exit code that it was TERM.
                let script = "trap 'exit 7' TERM; while true; do sleep 0.1; done";
                with_container(e, rt, name, &["sh", "-c", script], |_| {
                    ok(&e.stop(name))?;
                    let code = e.wait(name)?;
                    expect_eq("exit code after stop", code, 7)?;
                    Ok("runs, stops on TERM with exit 7".into())
                })
            }
            Cell::Exec => with_sleeper(e, rt, name, |_| {
                let out = e.exec(name, false, &["sh", "-c", "echo in; echo err >&2; exit 4"]);
                expect_exit(&out, 4)?;
                expect_text(&out, "in")?;
                if !out.stderr.contains("err") {
                    return Err(format!("the exec's stderr was lost: {out}"));
                }
                Ok("exit 4, stdout and stderr".into())
            }),
            Cell::ExecTty => with_sleeper(e, rt, name, |_| {
                // The pause lets ctr attach before the process is gone: it
                // loses a tty exec's output that comes and goes at once.
                let out = e.exec(name, true, &["sh", "-c", "tty; sleep 0.5; exit 5"]);
                expect_exit(&out, 5)?;
                expect_terminal(&out)?;
                Ok("exit 5, on /dev/pts/N".into())
            }),
            Cell::ExecUser => with_sleeper(e, rt, name, |_| {
                let out =
                    e.exec_as(name, "65534:65534", "/tmp", &["sh", "-c", "id -u; id -g; pwd"]);
                expect_exit(&out, 0)?;
                expect_text(&out, "65534\n65534\n/tmp")?;
                Ok("uid and gid 65534 in /tmp".into())
            }),
            Cell::Top => with_sleeper(e, rt, name, |pid| {
                e.top(name, pid)?;
                Ok("lists the container's process".into())
            }),
            Cell::PauseUnpause => with_sleeper(e, rt, name, |pid| {
                ok(&e.pause(name))?;
                expect_status(e, name, "paused", |s| matches!(s, Status::Paused { .. }))?;
                expect_eq("frozen after pause", frozen(pid)?, true)?;
                ok(&e.unpause(name))?;
                expect_status(e, name, "running", |s| matches!(s, Status::Running { .. }))?;
                expect_eq("frozen after unpause", frozen(pid)?, false)?;
                let out = e.exec(name, false, &["echo", "alive"]);
                expect_exit(&out, 0)?;
                expect_text(&out, "alive")?;
                Ok("frozen, thawed, runs again".into())
            }),
            Cell::Kill => {
                let script = "trap 'exit 9' USR1; while true; do sleep 0.1; done";
                with_container(e, rt, name, &["sh", "-c", script], |_| {
                    ok(&e.kill(name, "USR1"))?;
                    let code = e.wait(name)?;
                    expect_eq("exit code after USR1", code, 9)?;
                    Ok("USR1 delivered, exit 9".into())
                })
            }
            Cell::RemoveForce => {
                let out = e.run_detached(rt, name, Limits::default(), &["sleep", "1000"]);
                ok(&out)?;
                let pid = running_pid(e, name)?;
                let removed = e.remove(name);
                ok(&removed)?;
                expect_status(e, name, "gone", |s| *s == Status::Missing)?;
                let gone = rcr_testkit::wait_until(Duration::from_secs(10), || !alive(pid));
                expect_eq("process gone after rm -f", gone, true)?;
                Ok("killed and removed".into())
            }
            Cell::Logs => {
                let out = e.run_detached(
                    rt,
                    name,
                    Limits::default(),
                    &["sh", "-c", "echo to-stdout; echo to-stderr >&2"],
                );
                let result = ok(&out).and_then(|()| {
                    expect_eq("exit code", e.wait(name)?, 0)?;
                    let logs = e.logs(name)?;
                    if logs.contains("to-stdout") && logs.contains("to-stderr") {
                        Ok("exit 0, both streams logged".to_owned())
                    } else {
                        Err(format!("logs lack a stream: {logs:?}"))
                    }
                });
                let _ = e.remove(name);
                result
            }
            Cell::Memory => {
                limit(e, rt, name, Limits { memory: Some(64 << 20), ..Limits::default() }, |pid| {
                    memory_limit(pid).map(|v| (v, "67108864"))
                })
            }
            Cell::Cpus => {
                limit(e, rt, name, Limits { cpus: Some("0.5"), ..Limits::default() }, |pid| {
                    cgroup_value(pid, "cpu", &["cpu.cfs_quota_us", "cpu.cfs_period_us"], "cpu.max")
                        .map(|v| (v, "50000 100000"))
                })
            }
            Cell::PidsLimit => {
                limit(e, rt, name, Limits { pids: Some(42), ..Limits::default() }, |pid| {
                    cgroup_value(pid, "pids", &["pids.max"], "pids.max").map(|v| (v, "42"))
                })
            }
            Cell::Update => with_sleeper(e, rt, name, |pid| {
                ok(&e.update_memory(name, 32 << 20))?;
                expect_eq("memory limit after update", memory_limit(pid)?.as_str(), "33554432")?;
                Ok("cgroup shows 33554432".into())
            }),
            Cell::MissingProgram => {
                let out = e.run(rt, name, &["/nope"]);
                let code = out.code.ok_or_else(|| out.failure())?;
                if code == 0 {
                    return Err(format!("a missing program succeeded: {out}"));
                }
                let shown = format!("{}{}", out.stdout, out.stderr);
                if !shown.contains(rt.missing_program) {
                    return Err(format!(
                        "the engine did not show {}'s error {:?}: {out}",
                        rt.name, rt.missing_program
                    ));
                }
                Ok(format!("exit {code}, shows the runtime's error"))
            }
        }
    }
}

fn ok(out: &Out) -> Result<(), String> {
    if out.ok() {
        Ok(())
    } else {
        Err(out.failure())
    }
}

fn expect_exit(out: &Out, code: i32) -> Result<(), String> {
    if out.code == Some(code) {
        Ok(())
    } else {
        Err(format!("expected exit {code}: {out}"))
    }
}

fn expect_text(out: &Out, want: &str) -> Result<(), String> {
    if out.text() == want {
        Ok(())
    } else {
        Err(format!("expected stdout {want:?}: {out}"))
    }
}

/// The program printed a pty's name (`tty`). Under `script` the engine's
/// own warnings and echoes share the terminal, so it is looked for anywhere.
fn expect_terminal(out: &Out) -> Result<(), String> {
    if out.text().contains("/dev/pts/") {
        Ok(())
    } else {
        Err(format!("no terminal: {out}"))
    }
}

fn expect_eq<T: PartialEq + std::fmt::Debug>(what: &str, got: T, want: T) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: expected {want:?}, got {got:?}"))
    }
}

/// Waits (briefly) until the engine reports a status matching `want`.
fn expect_status(
    e: &dyn Engine,
    name: &str,
    what: &str,
    want: impl Fn(&Status) -> bool,
) -> Result<(), String> {
    let mut last = Err(String::new());
    let reached = rcr_testkit::wait_until(Duration::from_secs(10), || {
        last = e.status(name);
        last.as_ref().is_ok_and(&want)
    });
    if reached {
        Ok(())
    } else {
        Err(format!("container never {what}; last status {last:?}"))
    }
}

fn running_pid(e: &dyn Engine, name: &str) -> Result<i32, String> {
    expect_status(e, name, "running", |s| matches!(s, Status::Running { .. }))?;
    match e.status(name)? {
        Status::Running { pid } => Ok(pid),
        other => Err(format!("container stopped running: {other:?}")),
    }
}

/// Runs `args` detached, hands the running container's pid to `body`, and
/// removes the container whatever `body` found.
fn with_container(
    e: &dyn Engine,
    rt: &Runtime,
    name: &str,
    args: &[&str],
    body: impl FnOnce(i32) -> Result<String, String>,
) -> Result<String, String> {
    let out = e.run_detached(rt, name, Limits::default(), args);
    let result = ok(&out).and_then(|()| running_pid(e, name)).and_then(body);
    let _ = e.remove(name);
    result
}

fn with_sleeper(
    e: &dyn Engine,
    rt: &Runtime,
    name: &str,
    body: impl FnOnce(i32) -> Result<String, String>,
) -> Result<String, String> {
    with_container(e, rt, name, &["sleep", "1000"], body)
}

/// Runs a container with `limits`; `read` returns what its cgroup holds
/// (read on the host: not every engine mounts cgroupfs in its containers)
/// and what it should hold.
fn limit(
    e: &dyn Engine,
    rt: &Runtime,
    name: &str,
    limits: Limits,
    read: impl FnOnce(i32) -> Result<(String, &'static str), String>,
) -> Result<String, String> {
    let out = e.run_detached(rt, name, limits, &["sleep", "1000"]);
    let result = ok(&out).and_then(|()| running_pid(e, name)).and_then(|pid| {
        let (got, want) = read(pid)?;
        expect_eq("cgroup value", got.as_str(), want)?;
        Ok(format!("cgroup shows {want}"))
    });
    let _ = e.remove(name);
    result
}

fn memory_limit(pid: i32) -> Result<String, String> {
    cgroup_value(pid, "memory", &["memory.limit_in_bytes"], "memory.max")
}

/// The cgroup of host process `pid` for `controller`: its `v1` files
/// (joined by a space) on a v1 hierarchy, else its `v2` file.
fn cgroup_value(pid: i32, controller: &str, v1: &[&str], v2: &str) -> Result<String, String> {
    let read = |p: String| {
        fs::read_to_string(&p).map(|s| s.trim().to_owned()).map_err(|e| format!("read {p}: {e}"))
    };
    let dir = match cgroup_path(pid, controller)? {
        Some(path) => format!("/sys/fs/cgroup/{controller}{path}"),
        None => {
            let path = cgroup_path(pid, "")?.ok_or_else(|| format!("pid {pid} has no cgroup"))?;
            return read(format!("/sys/fs/cgroup{path}/{v2}"));
        }
    };
    let values: Result<Vec<String>, String> =
        v1.iter().map(|f| read(format!("{dir}/{f}"))).collect();
    Ok(values?.join(" "))
}

/// The path of host process `pid` in the hierarchy of `controller` (`""`:
/// the unified one), from /proc/PID/cgroup.
fn cgroup_path(pid: i32, controller: &str) -> Result<Option<String>, String> {
    let cgroups = fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .map_err(|e| format!("read /proc/{pid}/cgroup: {e}"))?;
    Ok(cgroups.lines().find_map(|l| {
        let mut parts = l.splitn(3, ':');
        let (_, list, path) = (parts.next()?, parts.next()?, parts.next()?);
        let found = if controller.is_empty() {
            list.is_empty()
        } else {
            list.split(',').any(|c| c == controller)
        };
        found.then(|| path.to_owned())
    }))
}

fn alive(pid: i32) -> bool {
    // A zombie has no mount namespace link left.
    fs::read_link(format!("/proc/{pid}/ns/mnt")).is_ok()
}

/// Whether the cgroup of host process `pid` is frozen (v1 freezer or v2).
fn frozen(pid: i32) -> Result<bool, String> {
    let state = cgroup_value(pid, "freezer", &["freezer.state"], "cgroup.events")?;
    Ok(state == "FROZEN" || state.lines().any(|l| l == "frozen 1"))
}

/// One cell's outcome with both runtimes.
#[derive(Debug)]
pub struct Row {
    pub cell: Cell,
    pub results: Vec<(&'static str, Result<String, String>)>,
    pub unsupported: Option<Unsupported>,
}

impl Row {
    /// Every runtime met the expectation and all saw the same.
    pub fn passed(&self) -> bool {
        if self.unsupported.is_some() {
            return true;
        }
        let mut summaries = self.results.iter().map(|(_, r)| r.as_ref().ok());
        let first = summaries.next().flatten();
        first.is_some() && summaries.all(|s| s == first)
    }
}

/// Plays every cell with every runtime.
pub fn play(e: &dyn Engine, runtimes: &[Runtime]) -> Vec<Row> {
    let mut rows = Vec::new();
    for (i, cell) in Cell::ALL.into_iter().enumerate() {
        if let Some(why) = e.unsupported(cell) {
            rows.push(Row { cell, results: Vec::new(), unsupported: Some(why) });
            continue;
        }
        let results = runtimes
            .iter()
            .map(|rt| {
                let name = format!("rcr-test-{i}-{}", rt.name);
                let result = cell.play(e, rt, &name);
                eprintln!("{} | {} | {}: {result:?}", e.name(), cell.label(), rt.name);
                (rt.name, result)
            })
            .collect();
        rows.push(Row { cell, results, unsupported: None });
    }
    rows
}

/// The matrix as a markdown table, then the failures in full.
pub fn report(engine: &str, runtimes: &[Runtime], rows: &[Row]) -> String {
    let mut s = format!("### {engine}\n\n| cell |");
    for rt in runtimes {
        let _ = write!(s, " {} |", rt.name);
    }
    s.push_str(" same |\n|---|");
    s.push_str(&"---|".repeat(runtimes.len() + 1));
    s.push('\n');
    let mut details = String::new();
    for row in rows {
        let _ = write!(s, "| {} |", row.cell.label());
        if let Some(why) = row.unsupported {
            let _ = writeln!(s, "{} n/a: {why} |", " n/a |".repeat(runtimes.len()));
            continue;
        }
        for (rt, result) in &row.results {
            match result {
                Ok(summary) => {
                    let _ = write!(s, " ok: {summary} |");
                }
                Err(why) => {
                    let first = why.lines().next().unwrap_or_default();
                    let _ = write!(s, " FAIL: {} |", first.replace('|', "\\|"));
                    let _ = writeln!(details, "- {engine} / {} / {rt}: {why}", row.cell.label());
                }
            }
        }
        let _ = writeln!(s, " {} |", if row.passed() { "yes" } else { "NO" });
    }
    if !details.is_empty() {
        s.push_str("\nFailures:\n\n");
        s.push_str(&details);
    }
    s
}

/// Writes `text` where the run's reports are kept, for reading after the
/// run; returns the file.
pub fn save(engine: &str, text: &str) -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("engines");
    fs::create_dir_all(&dir).ok()?;
    let file = dir.join(format!("{engine}.md"));
    fs::write(&file, text).ok()?;
    Some(file)
}
