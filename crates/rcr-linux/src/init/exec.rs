//! The child of `exec`: joins the running container's cgroup and namespaces
//! (the parent already put it in the container's pid namespace), takes on
//! the process's attributes and security, and execs the program.
//!
//! It reuses the init's steps, in the same order, minus everything that
//! builds the container (mounts, devices, pivot_root, hostname, sysctls).

use std::convert::Infallible;
use std::io::Write;
use std::os::fd::OwnedFd;

use nix::sched::CloneFlags;
use nix::sys::stat::Mode;

use super::{attrs, caps, close_fds, no_new_privs, process, seccomp, step, tty, InitResult};
use crate::plan::{LaunchPlan, LoadPoint};
use crate::proto::{errno_text, Channel, FromInit, InitError, Level, ToInit};
use crate::sys;

/// What the exec'd child gets from the parent besides the plan.
#[derive(Debug)]
pub struct ExecContext {
    pub chan: Channel,
    /// The container's namespaces to join, in join order. The pid namespace
    /// is entered by the parent before the fork, unless rcr runs
    /// unprivileged: then it comes last here and the child forks once more.
    pub join: Vec<(CloneFlags, OwnedFd)>,
    pub preserve_fds: u32,
    /// Where the terminal's master goes, with `--tty`.
    pub console: Option<OwnedFd>,
    /// Files to join the container's cgroup through, and whether the fork
    /// placed us in its unified directory already.
    pub cgroup_join: Option<(rcr_cgroups::Joiner, bool)>,
    /// The compiled seccomp filter; set exactly when `linux.seccomp` is.
    pub seccomp: Option<seccomp::Filter>,
}

/// Runs the exec'd child; never returns.
pub fn main(plan: &LaunchPlan, mut ctx: ExecContext) -> ! {
    match run(plan, &mut ctx) {
        Ok(never) => match never {},
        Err(e) => {
            if ctx.chan.send(&FromInit::Failed(e.clone())).is_err() {
                let _ = writeln!(std::io::stderr(), "rcr: exec: {e}");
            }
            sys::exit_now(1)
        }
    }
}

fn run(plan: &LaunchPlan, ctx: &mut ExecContext) -> InitResult<Infallible> {
    match ctx.chan.recv::<ToInit>() {
        Ok(Some(ToInit::Proceed)) => {}
        _ => sys::exit_now(1),
    }
    let chan = &ctx.chan;
    // After Proceed: execCPUAffinity.initial, set by the parent, holds
    // until here.
    let join = ctx.cgroup_join.take();
    step(chan, "join cgroup", || super::join_cgroup(join))?;
    // Now in the container's cgroup: execCPUAffinity.final applies.
    if let Some(cpus) = plan.attrs.exec_cpu_affinity.as_ref().and_then(|a| a.last.as_ref()) {
        step(chan, "execCPUAffinity.final", || {
            let set = crate::exec::cpu_set(cpus).map_err(|e| InitError::msg(e.to_string()))?;
            nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set).map_err(|e| {
                InitError::errno("process.execCPUAffinity.final: sched_setaffinity", e)
            })
        })?;
    }
    step(chan, "oom_score_adj", || attrs::oom_score_adj(plan.attrs.oom_score_adj))?;
    step(chan, "join namespaces", || {
        for (kind, fd) in &ctx.join {
            nix::sched::setns(fd, *kind)
                .map_err(|e| InitError::errno(format!("join namespace {kind:?}"), e))?;
        }
        Ok(())
    })?;
    if ctx.join.iter().any(|(kind, _)| *kind == CloneFlags::CLONE_NEWPID) {
        // Joined here rather than by the parent (see `exec`): only our
        // children enter it.
        step(chan, "enter pid namespace", || {
            super::ns::refork(chan, &mut serde_json::Value::Null)
        })?;
    }
    // setns into the mount namespace left us at its root: the container's.
    let console = ctx.console.take();
    step(chan, "session and terminal", || tty::setup(&plan.process, console, false))?;
    step(chan, "no_new_privs", || no_new_privs(plan))?;
    let warn = |m: String| chan.log(Level::Warn, m);
    step(chan, "process attributes", || attrs::apply(&plan.attrs, &warn))?;
    let caps = step(chan, "bounding set", || caps::limit(&plan.attrs.capabilities, &warn))?;
    step(chan, "security labels", || crate::lsm::apply(&plan.lsm))?;
    step(chan, "close fds", || close_fds(ctx.preserve_fds))?;
    let mut filter = ctx.seccomp.take();
    step(chan, "cwd check", || process::check_cwd(&plan.process.cwd))?;
    seccomp::load_at(&mut filter, LoadPoint::BeforeIdentity, chan)?;
    step(chan, "user and groups", || process::identity(&plan.process))?;
    step(chan, "capabilities", || caps::install(&caps, &warn))?;
    let umask = plan.process.umask.unwrap_or(0o022);
    nix::sys::stat::umask(Mode::from_bits_truncate(umask as libc::mode_t));
    step(chan, "cwd", || process::enter_cwd(&plan.process.cwd))?;
    let program = step(chan, "find program", || process::find_program(&plan.process))?;
    let exec = process::prepare_exec(&plan.process, &program)?;
    seccomp::load_at(&mut filter, LoadPoint::BeforeReady, chan)?;
    chan.send(&FromInit::Ready).map_err(|e| InitError::io("report ready", &e))?;
    sys::reset_signals();
    seccomp::load_at(&mut filter, LoadPoint::BeforeExec, chan)?;
    let err = sys::execve(&exec.path, &exec.args, &exec.env);
    let _ = writeln!(
        std::io::stderr(),
        "rcr: exec {}: {}",
        exec.path.to_string_lossy(),
        errno_text(err)
    );
    sys::exit_now(127)
}
