//! The container init: what the forked child runs, as a short linear list
//! of steps taken from the [`LaunchPlan`]. Each step returns an
//! [`InitError`] naming what it did to what; the first failure is sent to
//! the parent, which renders it, and the init exits.

mod fs;
mod ns;
pub mod process;
pub mod rootfs;
mod userns;

use std::convert::Infallible;
use std::ffi::CStr;
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};

use nix::fcntl::OFlag;
use nix::sched::CloneFlags;
use nix::sys::stat::Mode;

use crate::plan::LaunchPlan;
use crate::proto::{Channel, FromInit, InitError, Level, ToInit};
use crate::sys;
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
}

/// Runs the init; never returns.
pub fn main(plan: &LaunchPlan, ctx: InitContext) -> ! {
    match run(plan, &ctx) {
        Ok(never) => match never {},
        Err(e) => {
            let _ = ctx.chan.send(&FromInit::Failed(e));
            sys::exit_now(1)
        }
    }
}

fn step<T>(ctx: &InitContext, name: &str, f: impl FnOnce() -> InitResult<T>) -> InitResult<T> {
    ctx.chan.log(Level::Debug, format!("init: {name}"));
    f()
}

fn run(plan: &LaunchPlan, ctx: &InitContext) -> InitResult<Infallible> {
    let _ = nix::sys::prctl::set_name(c"rcr:[init]");
    // Device nodes and mount points get exactly the modes asked for; the
    // process's own umask is set just before exec.
    nix::sys::stat::umask(Mode::empty());
    match ctx.chan.recv::<ToInit>() {
        Ok(Some(ToInit::Proceed)) => {}
        // The parent is gone or confused: nobody would hear an error.
        _ => sys::exit_now(1),
    }
    step(ctx, "join namespaces", || join_namespaces(ctx))?;
    step(ctx, "finish namespaces", || ns::finish(plan, ctx))?;
    step(ctx, "hostname", || hostname(plan))?;
    step(ctx, "prepare root", || rootfs::prepare(plan))?;
    let root = rootfs::open_root(plan)?;
    let in_userns = plan.namespaces.has(CloneFlags::CLONE_NEWUSER);
    step(ctx, "mounts", || {
        let env = rootfs::MountEnv { cgroups: &ctx.cgroups, in_userns };
        plan.mounts.iter().zip(&ctx.mount_sources).try_for_each(|(m, tree)| {
            rootfs::mount_entry(&root, m, tree.as_ref().map(AsFd::as_fd), &env)
        })
    })?;
    step(ctx, "devices", || rootfs::devices(&root, &plan.devices, in_userns))?;
    step(ctx, "working directory", || rootfs::cwd(&root, &plan.process.cwd))?;
    drop(root);
    step(ctx, "pivot_root", || rootfs::pivot(plan))?;
    step(ctx, "masked and read-only paths", || rootfs::finish(plan))?;
    step(ctx, "no_new_privs", || no_new_privs(plan))?;
    step(ctx, "user and groups", || process::identity(&plan.process))?;
    let umask = plan.process.umask.unwrap_or(0o022);
    nix::sys::stat::umask(Mode::from_bits_truncate(umask as libc::mode_t));
    step(ctx, "cwd", || process::enter_cwd(&plan.process.cwd))?;
    let program = step(ctx, "find program", || process::find_program(&plan.process))?;
    let exec = process::prepare_exec(&plan.process, &program)?;
    step(ctx, "close fds", || close_fds(ctx.preserve_fds))?;
    ctx.chan.send(&FromInit::Ready).map_err(|e| InitError::io("report ready", &e))?;
    wait_for_start(ctx)?;
    sys::reset_signals();
    let err = sys::execve(&exec.path, &exec.args, &exec.env);
    // Past Ready nobody reads the socket; stderr is all that is left.
    let _ = writeln!(std::io::stderr(), "rcr: exec {}: {}", path_str(&exec.path), err.desc());
    sys::exit_now(127)
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

/// Blocks until `start` opens the fifo's read side, then tells it we go.
fn wait_for_start(ctx: &InitContext) -> InitResult<()> {
    let fd = sys::openat(
        ctx.state_dir.as_fd(),
        rcr_core::store::EXEC_FIFO,
        OFlag::O_WRONLY,
        Mode::empty(),
    )
    .map_err(|e| InitError::errno("open exec fifo", e))?;
    let mut fifo = std::fs::File::from(fd);
    fifo.write_all(b"0").map_err(|e| InitError::io("write exec fifo", &e))
}
