//! The parent side of `exec`: plan the process from the container's stored
//! spec, fork a child into the container's pid namespace (and its v2
//! cgroup) with what it needs to join the rest of the cgroup itself, drive
//! it to `Ready`, then wait for it or detach.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::sched::CloneFlags;
use nix::unistd::Pid;
use rcr_core::platform::ExecRequest;

use crate::init::exec::{self as child, ExecContext};
use crate::plan::{self, PlanOptions};
use crate::proto::{self, FromInit, ToInit};
use crate::seccomp_agent::AgentTarget;
use crate::spawn::{describe_exit, kill_and_reap, open_ns, PidNsGuard, SpawnError};
use crate::{console, sys, terminal};

/// Failures of `exec` outside the child's own steps.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("container {0} has no recorded spec (created by an older rcr)")]
    NoSpec(String),
    #[error("container {0} has no running init")]
    NoInit(String),
    #[error("--cgroup: sub-cgroups are not supported yet")]
    SubCgroup,
    #[error("process.execCPUAffinity.{which}: sched_setaffinity: {source}")]
    Affinity { which: &'static str, source: nix::Error },
    #[error("write pid file {}: {source}", path.display())]
    PidFile { path: PathBuf, source: std::io::Error },
}

/// The `/proc/PID/ns` name of a namespace kind.
fn ns_file(kind: CloneFlags) -> &'static str {
    match kind {
        k if k == CloneFlags::CLONE_NEWNS => "mnt",
        k if k == CloneFlags::CLONE_NEWCGROUP => "cgroup",
        k if k == CloneFlags::CLONE_NEWUTS => "uts",
        k if k == CloneFlags::CLONE_NEWIPC => "ipc",
        k if k == CloneFlags::CLONE_NEWUSER => "user",
        k if k == CloneFlags::CLONE_NEWPID => "pid",
        k if k == CloneFlags::CLONE_NEWNET => "net",
        _ => "time",
    }
}

/// Join order: user first (its privileges apply to the rest), mount last
/// (it moves our root).
const JOIN_ORDER: [CloneFlags; 7] = [
    CloneFlags::CLONE_NEWUSER,
    CloneFlags::CLONE_NEWIPC,
    CloneFlags::CLONE_NEWUTS,
    CloneFlags::CLONE_NEWNET,
    CloneFlags::CLONE_NEWCGROUP,
    CloneFlags::from_bits_retain(libc::CLONE_NEWTIME),
    CloneFlags::CLONE_NEWNS,
];

/// The kernel's CPU mask for a planned CPU list.
pub(crate) fn cpu_set(cpus: &crate::plan::CpuList) -> Result<nix::sched::CpuSet, ExecError> {
    let mut set = nix::sched::CpuSet::new();
    for &cpu in &cpus.0 {
        set.set(cpu).map_err(|source| ExecError::Affinity { which: "cpus", source })?;
    }
    Ok(set)
}

fn write_pid_file(path: &Path, pid: Pid) -> Result<(), ExecError> {
    rcr_core::store::write_pid_file(path, pid.as_raw())
        .map_err(|source| ExecError::PidFile { path: path.to_owned(), source })
}

/// Runs `exec`. `foreground` holds the console pair a foreground exec with
/// a terminal receives its master on (set up by `prepare_foreground`).
pub fn exec(
    req: &ExecRequest<'_>,
    cgroup: Option<&rcr_cgroups::Cgroup>,
    foreground: Option<(&OwnedFd, Option<OwnedFd>)>,
) -> Result<i32, Box<dyn std::error::Error + Send + Sync>> {
    let state = req.state;
    let opts = req.options;
    if opts.cgroup.is_some() {
        return Err(ExecError::SubCgroup.into());
    }
    let mut spec = state.recorded_spec()?.ok_or_else(|| ExecError::NoSpec(state.id.clone()))?;
    spec.set_process(Some(req.process.clone()));
    let plan_opts =
        PlanOptions { rootless: !nix::unistd::geteuid().is_root(), ..PlanOptions::default() };
    let plan = plan::plan(&spec, &state.bundle, &state.rootfs, plan_opts)?;
    crate::lsm::check(&plan.lsm)?;
    let init = state.pid.map(Pid::from_raw).ok_or_else(|| ExecError::NoInit(state.id.clone()))?;

    // The init's namespaces, opened before anything else can change.
    let mut join = Vec::new();
    let mut pid_ns = None;
    for kind in JOIN_ORDER.into_iter().chain([CloneFlags::CLONE_NEWPID]) {
        if !plan.namespaces.has(kind) {
            continue;
        }
        let path = PathBuf::from(format!("/proc/{init}/ns/{}", ns_file(kind)));
        let fd = open_ns(&path)?;
        // An unprivileged caller has no say over the container's pid
        // namespace; the child joins it after the user namespace and forks.
        if kind == CloneFlags::CLONE_NEWPID && !plan.rootless {
            pid_ns = Some((fd, path));
        } else {
            join.push((kind, fd));
        }
    }
    // Checked after the fds pin the namespaces: a recycled pid would have
    // handed us someone else's.
    if !state.pid_start_time.is_some_and(|t| crate::proc::is_same_live_process(init, t)) {
        return Err(ExecError::NoInit(state.id.clone()).into());
    }

    let console = match (plan.process.terminal, opts.console_socket.as_deref(), &foreground) {
        (false, Some(_), _) => return Err(console::ConsoleError::NotTerminal.into()),
        (false, None, _) => None,
        (true, Some(path), _) => Some(console::connect(path)?),
        (true, None, Some((_, Some(sender)))) => Some(sender.try_clone()?),
        (true, None, _) => return Err(console::ConsoleError::NoSocket.into()),
    };
    let agent =
        plan.seccomp.as_ref().and_then(|s| s.listener.clone()).map(|listener| AgentTarget {
            listener,
            id: state.id.clone(),
            bundle: state.bundle.clone(),
            annotations: state.annotations.clone(),
        });
    let affinity = plan.attrs.exec_cpu_affinity.as_ref();
    let initial_cpus = affinity.and_then(|a| a.initial.as_ref());
    let joiner = cgroup.map(rcr_cgroups::Cgroup::joiner).transpose()?;
    let seccomp = crate::seccomp::prepare(&plan, req.root)?;
    let (parent, chan) = proto::pair().map_err(SpawnError::Socket)?;
    let (forked, in_unified) = {
        let _guard = PidNsGuard::enter(pid_ns.as_ref())?;
        // execCPUAffinity.initial applies before the process is in the
        // cgroup: it cannot be born there.
        let into = joiner.as_ref().filter(|_| initial_cpus.is_none());
        crate::spawn::fork(CloneFlags::empty(), into)?
    };
    let mut pid = match forked {
        sys::Forked::Child => {
            drop(parent);
            if let Some((receiver, _)) = &foreground {
                let _ = nix::unistd::close(receiver.as_raw_fd());
            }
            let ctx = ExecContext {
                chan,
                join,
                preserve_fds: opts.preserve_fds,
                console,
                cgroup_join: joiner.map(|j| (j, in_unified)),
                seccomp,
            };
            child::main(&plan, ctx)
        }
        sys::Forked::Parent(pid) => pid,
    };
    drop((chan, console, joiner));
    rcr_core::fault::point("exec:after-fork");
    // execCPUAffinity.initial holds until the cgroup takes over; set by us
    // on the child's pid, so it is in force before the child joins (after
    // Proceed).
    if let Some(cpus) = initial_cpus {
        if let Err(e) = nix::sched::sched_setaffinity(pid, &cpu_set(cpus)?) {
            kill_and_reap(pid);
            return Err(ExecError::Affinity { which: "initial", source: e }.into());
        }
    }
    if parent.send(&ToInit::Proceed).is_err() {
        return Err(SpawnError::InitDied(describe_exit(pid)).into());
    }
    let mut may_fork = plan.rootless && plan.namespaces.has(CloneFlags::CLONE_NEWPID);
    loop {
        let (msg, fd) = match parent.recv_with_fd::<FromInit>() {
            Ok(Some(received)) => received,
            Ok(None) => return Err(SpawnError::InitDied(describe_exit(pid)).into()),
            Err(e) => {
                kill_and_reap(pid);
                return Err(SpawnError::Protocol(e.to_string()).into());
            }
        };
        match (msg, fd, &agent) {
            (FromInit::Log { level, message }, None, _) => level.emit(&message),
            (FromInit::SeccompNotify { fd: number }, None, Some(agent)) => {
                let sent = crate::spawn::take_fd(pid, number)
                    .map_err(Box::<dyn std::error::Error + Send + Sync>::from)
                    .and_then(|fd| agent.send(pid, fd.as_fd()).map_err(Into::into));
                if let Err(e) = sent {
                    kill_and_reap(pid);
                    return Err(e);
                }
                if parent.send(&ToInit::SeccompFdTaken).is_err() {
                    return Err(SpawnError::InitDied(describe_exit(pid)).into());
                }
            }
            (FromInit::Forked { pid: new }, None, _) if may_fork => {
                may_fork = false;
                // The child exits right after; the process in the pid
                // namespace is ours (CLONE_PARENT) and in the cgroup already.
                let _ = nix::sys::wait::waitpid(pid, None);
                pid = Pid::from_raw(new);
                if parent.send(&ToInit::Proceed).is_err() {
                    return Err(SpawnError::InitDied(describe_exit(pid)).into());
                }
            }
            (FromInit::Ready, None, _) => break,
            (FromInit::Failed(e), None, _) => {
                kill_and_reap(pid);
                return Err(e.into());
            }
            (other, _, _) => {
                kill_and_reap(pid);
                return Err(SpawnError::Protocol(format!("unexpected {other:?}")).into());
            }
        }
    }
    rcr_core::fault::point("exec:after-ready");
    if let Some(path) = &opts.pid_file {
        write_pid_file(path, pid)?;
    }
    if opts.detach {
        return Ok(0);
    }
    let master = match (&foreground, plan.process.terminal) {
        (Some((receiver, _)), true) => {
            let master = console::recv_master(receiver)?;
            terminal::resize_from_caller(master.as_fd());
            Some(master)
        }
        _ => None,
    };
    Ok(crate::foreground::forward_and_wait(pid, master)?)
}
