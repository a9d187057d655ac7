//! The container init: what the forked child runs, as a short linear list
//! of steps taken from the [`LaunchPlan`]. Each step returns an
//! [`InitError`] naming what it did to what; the first failure is sent to
//! the parent, which renders it, and the init exits.

mod attrs;
mod caps;
pub mod exec;
mod fs;
mod ns;
pub mod process;
pub mod rootfs;
pub mod seccomp;
mod tty;
mod userns;

use std::convert::Infallible;
use std::ffi::CStr;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use nix::fcntl::OFlag;
use nix::sched::CloneFlags;
use nix::sys::stat::Mode;

use rcr_core::hooks::HookKind;

use crate::plan::{LaunchPlan, LoadPoint};
use crate::proto::{errno_text, Channel, FromInit, InitError, Level, ToInit};
use crate::sys;
pub use fs::rel as rel_path;
pub use rootfs::CgroupView;

pub type InitResult<T> = Result<T, InitError>;

/// What the init gets from the parent besides the plan.
#[derive(Debug)]
pub struct InitContext {
    /// The init's end of the protocol socket.
    pub chan: Channel,
    /// An `O_PATH` fd of the container's state directory, where the exec
    /// fifo lives; it stays usable after pivot_root hides the host.
    pub state_dir: OwnedFd,
    /// Namespaces to join, opened by the parent, in join order.
    pub join: Vec<(CloneFlags, OwnedFd)>,
    pub cgroups: CgroupView,
    /// How many fds from 3 on the container inherits (`--preserve-fds`).
    pub preserve_fds: u32,
    /// Per entry of `plan.mounts`, the detached tree of an idmapped mount.
    pub mount_sources: Vec<Option<OwnedFd>>,
    /// The connected console socket the terminal's master goes to; set
    /// exactly when `process.terminal` is.
    pub console: Option<OwnedFd>,
    /// Files to join the container's cgroup through, and whether the fork
    /// placed us in its unified directory already.
    pub cgroup_join: Option<(rcr_cgroups::Joiner, bool)>,
    /// The compiled seccomp filter; set exactly when `linux.seccomp` is.
    pub seccomp: Option<seccomp::Filter>,
}

/// Runs the init; never returns.
pub fn main(plan: &LaunchPlan, mut ctx: InitContext) -> ! {
    match run(plan, &mut ctx) {
        Ok(never) => match never {},
        Err(e) => {
            // Past Ready the parent has hung up: stderr is all that is left.
            if ctx.chan.send(&FromInit::Failed(e.clone())).is_err() {
                let _ = writeln!(std::io::stderr(), "rcr: container init: {e}");
            }
            sys::exit_now(1)
        }
    }
}

fn step<T>(chan: &Channel, name: &str, f: impl FnOnce() -> InitResult<T>) -> InitResult<T> {
    // The init is a fork of the parent, so the parent's log level holds
    // here: without --debug, a step costs no message.
    if tracing::enabled!(tracing::Level::DEBUG) {
        chan.log(Level::Debug, format!("init: {name}"));
    }
    f()
}

fn run(plan: &LaunchPlan, ctx: &mut InitContext) -> InitResult<Infallible> {
    let _ = nix::sys::prctl::set_name(c"rcr:[init]");
    // Device nodes and mount points get exactly the modes asked for; the
    // process's own umask is set just before exec.
    nix::sys::stat::umask(Mode::empty());
    // Joined while the parent records our pid, before anything we do can
    // be charged elsewhere; a failure is told once the parent listens.
    let joined = join_cgroup(ctx.cgroup_join.take());
    let mut hook_state = serde_json::Value::Null;
    await_proceed(&ctx.chan, &mut hook_state);
    step(&ctx.chan, "join cgroup", || joined)?;
    step(&ctx.chan, "join namespaces", || join_namespaces(ctx))?;
    step(&ctx.chan, "finish namespaces", || ns::finish(plan, ctx, &mut hook_state))?;
    step(&ctx.chan, "session keyring", || session_keyring(plan))?;
    step(&ctx.chan, "hostname", || hostname(plan))?;
    if plan.private_mounts() {
        step(&ctx.chan, "prepare root", || rootfs::prepare(plan))?;
    } else {
        ctx.chan.log(
            Level::Warn,
            "no private mount namespace: the container's mounts are made in the runtime's",
        );
    }
    let root = rootfs::open_root(plan)?;
    let in_userns = plan.namespaces.has(CloneFlags::CLONE_NEWUSER);
    step(&ctx.chan, "mounts", || {
        let context = crate::lsm::mount_context(&plan.lsm);
        let env =
            rootfs::MountEnv { cgroups: &ctx.cgroups, context: context.as_deref(), in_userns };
        plan.mounts.iter().zip(&ctx.mount_sources).try_for_each(|(m, tree)| {
            rootfs::mount_entry(&root, m, tree.as_ref().map(AsFd::as_fd), &env)
        })
    })?;
    step(&ctx.chan, "devices", || rootfs::devices(&root, &plan.devices, in_userns))?;
    step(&ctx.chan, "working directory", || rootfs::cwd(&root, &plan.process.cwd))?;
    drop(root);
    step(&ctx.chan, "runtime hooks", || runtime_hooks(plan, ctx))?;
    step(&ctx.chan, "createContainer hooks", || {
        run_hooks(plan, HookKind::CreateContainer, &hook_state)
    })?;
    step(&ctx.chan, "pivot_root", || rootfs::pivot(plan))?;
    let console = ctx.console.take();
    step(&ctx.chan, "session and terminal", || tty::setup(&plan.process, console, true))?;
    step(&ctx.chan, "sysctl", || attrs::sysctls(&plan.sysctls))?;
    step(&ctx.chan, "masked and read-only paths", || rootfs::finish(plan))?;
    step(&ctx.chan, "no_new_privs", || no_new_privs(plan))?;
    let warn = |m: String| ctx.chan.log(Level::Warn, m);
    step(&ctx.chan, "process attributes", || attrs::apply(&plan.attrs, &warn))?;
    let caps = step(&ctx.chan, "bounding set", || caps::limit(&plan.attrs.capabilities, &warn))?;
    // Labels are written through /proc while still privileged, as runc does.
    step(&ctx.chan, "security labels", || crate::lsm::apply(&plan.lsm))?;
    // Before any seccomp load: profiles need not allow close_range.
    step(&ctx.chan, "close fds", || close_fds(ctx.preserve_fds))?;
    let mut filter = ctx.seccomp.take();
    // The state directory is root's alone: reach the fifo while still root.
    let fifo = step(&ctx.chan, "find exec fifo", || find_fifo(ctx))?;
    step(&ctx.chan, "cwd check", || process::check_cwd(&plan.process.cwd))?;
    seccomp::load_at(&mut filter, LoadPoint::BeforeIdentity, &ctx.chan)?;
    step(&ctx.chan, "user and groups", || process::identity(&plan.process))?;
    step(&ctx.chan, "capabilities", || caps::install(&caps, &warn))?;
    let umask = plan.process.umask.unwrap_or(0o022);
    nix::sys::stat::umask(Mode::from_bits_truncate(umask as libc::mode_t));
    step(&ctx.chan, "cwd", || process::enter_cwd(&plan.process.cwd))?;
    let program = step(&ctx.chan, "find program", || process::find_program(&plan.process))?;
    let exec = process::prepare_exec(&plan.process, &program)?;
    seccomp::load_at(&mut filter, LoadPoint::BeforeReady, &ctx.chan)?;
    ctx.chan.send(&FromInit::Ready).map_err(|e| InitError::io("report ready", &e))?;
    // Held, close-on-exec, until the exec: `start` waits for it to close,
    // so poststart hooks run once the process has started.
    let _released = wait_for_start(ctx, fifo)?;
    if let Err(e) = run_hooks(plan, HookKind::StartContainer, &hook_state) {
        // Past Ready nobody reads the socket; stderr is all that is left.
        let _ = writeln!(std::io::stderr(), "rcr: {e}");
        sys::exit_now(1);
    }
    sys::reset_signals();
    if let Err(e) = seccomp::load_at(&mut filter, LoadPoint::BeforeExec, &ctx.chan) {
        // Past Ready nobody reads the socket; stderr is all that is left.
        let _ = writeln!(std::io::stderr(), "rcr: {e}");
        sys::exit_now(1)
    }
    let err = sys::execve(&exec.path, &exec.args, &exec.env);
    // Past Ready nobody reads the socket; stderr is all that is left.
    let _ = writeln!(std::io::stderr(), "rcr: exec {}: {}", path_str(&exec.path), errno_text(err));
    sys::exit_now(127)
}

/// Lets the parent run the prestart and createRuntime hooks while the
/// container's mounts exist and pivot_root has not happened yet.
fn runtime_hooks(plan: &LaunchPlan, ctx: &InitContext) -> InitResult<()> {
    let Some(hooks) = &plan.hooks else { return Ok(()) };
    if HookKind::Prestart.of(hooks).is_empty() && HookKind::CreateRuntime.of(hooks).is_empty() {
        return Ok(());
    }
    ctx.chan
        .send(&FromInit::RuntimeHooks)
        .map_err(|e| InitError::io("request runtime hooks", &e))?;
    match ctx.chan.recv::<ToInit>() {
        Ok(Some(ToInit::RuntimeHooksDone)) => Ok(()),
        // A failed hook makes the parent kill us; anything else is a
        // parent that went away.
        _ => sys::exit_now(1),
    }
}

/// Runs the hooks the init runs itself, in the container's namespaces.
fn run_hooks(plan: &LaunchPlan, kind: HookKind, state: &serde_json::Value) -> InitResult<()> {
    let Some(hooks) = &plan.hooks else { return Ok(()) };
    rcr_core::hooks::run(kind, &kind.of(hooks), state).map_err(|e| InitError::msg(e.to_string()))
}

/// Waits for the parent's `Proceed`, taking the hooks' state on the way.
fn await_proceed(chan: &Channel, hook_state: &mut serde_json::Value) {
    loop {
        match chan.recv::<ToInit>() {
            Ok(Some(ToInit::Proceed)) => return,
            Ok(Some(ToInit::HookState(state))) => *hook_state = state,
            // The parent is gone or confused: nobody would hear an error.
            _ => sys::exit_now(1),
        }
    }
}

/// Puts this (single-threaded) process into the container's cgroup.
fn join_cgroup(join: Option<(rcr_cgroups::Joiner, bool)>) -> InitResult<()> {
    let Some((joiner, in_unified)) = join else { return Ok(()) };
    joiner.join_self(in_unified).map_err(|e| InitError::msg(e.to_string()))
}

fn path_str(p: &CStr) -> String {
    p.to_string_lossy().into_owned()
}

fn join_namespaces(ctx: &InitContext) -> InitResult<()> {
    for (kind, fd) in &ctx.join {
        nix::sched::setns(fd, *kind)
            .map_err(|e| InitError::errno(format!("join namespace {kind:?}"), e))?;
    }
    Ok(())
}

fn session_keyring(plan: &LaunchPlan) -> InitResult<()> {
    let Some(name) = &plan.session_keyring else { return Ok(()) };
    let cname = std::ffi::CString::new(name.as_str())
        .map_err(|_| InitError::msg("session keyring name contains a NUL byte"))?;
    match sys::join_session_keyring(&cname) {
        Ok(()) => Ok(()),
        // Kernels without keys, and seccomp-confined callers, cannot have one.
        Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => Ok(()),
        Err(e) => Err(InitError::io(format!("join session keyring {name}"), &e)
            .with_hint("use --no-new-keyring to keep the caller's keyring")),
    }
}

fn hostname(plan: &LaunchPlan) -> InitResult<()> {
    if let Some(h) = &plan.hostname {
        nix::unistd::sethostname(h)
            .map_err(|e| InitError::errno(format!("set hostname {h:?}"), e))?;
    }
    if let Some(d) = &plan.domainname {
        sys::setdomainname(d).map_err(|e| InitError::errno(format!("set domainname {d:?}"), e))?;
    }
    Ok(())
}

fn no_new_privs(plan: &LaunchPlan) -> InitResult<()> {
    if plan.process.no_new_privileges {
        nix::sys::prctl::set_no_new_privs().map_err(|e| InitError::errno("set no_new_privs", e))?;
    }
    Ok(())
}

/// Only 0, 1, 2 and the preserved fds may reach the container process; the
/// runtime's own (socket, state directory, log) are closed by exec.
fn close_fds(preserve: u32) -> InitResult<()> {
    sys::cloexec_from(3 + preserve).map_err(|e| InitError::io("mark fds close-on-exec", &e))?;
    for fd in 3..3 + preserve {
        match sys::clear_cloexec(fd as i32) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EBADF) => {
                return Err(InitError::msg(format!("--preserve-fds: fd {fd} is not open")))
            }
            Err(e) => return Err(InitError::io(format!("preserve fd {fd}"), &e)),
        }
    }
    Ok(())
}

fn find_fifo(ctx: &InitContext) -> InitResult<OwnedFd> {
    sys::openat(ctx.state_dir.as_fd(), rcr_core::store::EXEC_FIFO, OFlag::O_PATH, Mode::empty())
        .map_err(|e| InitError::errno("open exec fifo", e))
}

/// Blocks until `start` opens the fifo's read side, then tells it we go.
/// The fifo is reopened through `/proc/self/fd`, which checks only its own
/// mode (0622), so a non-root process user gets there too; without a
/// /proc in the container, only root can, through the state directory.
/// Returns the (close-on-exec) write end: `start` reads until it closes,
/// i.e. until the process is executed (or the init died). An init holding
/// no fd on the fifo is one that `start` released, even if that `start`
/// died before recording it.
fn wait_for_start(ctx: &InitContext, fifo: OwnedFd) -> InitResult<std::fs::File> {
    let reopen = format!("/proc/self/fd/{}", fifo.as_raw_fd());
    let fd = match sys::open(std::path::Path::new(&reopen), OFlag::O_WRONLY, Mode::empty()) {
        Err(nix::Error::ENOENT) => sys::openat(
            ctx.state_dir.as_fd(),
            rcr_core::store::EXEC_FIFO,
            OFlag::O_WRONLY,
            Mode::empty(),
        ),
        other => other,
    }
    .map_err(|e| InitError::errno("open exec fifo", e))?;
    // The container's /proc is whatever its config and image made it: a
    // fake one must not let the init run without waiting for start.
    let same = |a: &OwnedFd, b: &OwnedFd| -> nix::Result<bool> {
        let (a, b) = (nix::sys::stat::fstat(a.as_raw_fd())?, nix::sys::stat::fstat(b.as_raw_fd())?);
        Ok((a.st_dev, a.st_ino) == (b.st_dev, b.st_ino))
    };
    if !same(&fifo, &fd).map_err(|e| InitError::errno("check exec fifo", e))? {
        return Err(InitError::msg(format!("{reopen} is not the exec fifo")));
    }
    drop(fifo);
    let mut fifo = std::fs::File::from(fd);
    fifo.write_all(b"0").map_err(|e| InitError::io("write exec fifo", &e))?;
    Ok(fifo)
}
