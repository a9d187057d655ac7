//! The parent side of `create`: fork the init into its namespaces, place it,
//! drive the protocol to `Ready`, and report its identity.
//!
//! On any failure the init is killed and reaped before the error returns, so
//! the caller only has to undo what it did itself (cgroup, state directory).

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;
use nix::sched::CloneFlags;
use nix::sys::signal::Signal;
use nix::sys::stat::Mode;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;

use rcr_core::fault;
use rcr_core::hooks::{self, HookKind};

use crate::idmap::{self, IdmapError};
use crate::init::{self, CgroupView, InitContext};
use crate::plan::LaunchPlan;
use crate::proto::{self, FromInit, InitError, ToInit};
use crate::seccomp_agent::{AgentError, AgentTarget};
use crate::{proc, sys};

/// Failures while starting the init.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error("open namespace {}: {source}", path.display())]
    Namespace { path: PathBuf, source: nix::Error },
    #[error("join pid namespace {}: {source}", path.display())]
    JoinPid { path: PathBuf, source: nix::Error },
    #[error("open state directory {}: {source}", path.display())]
    StateDir { path: PathBuf, source: nix::Error },
    #[error("create protocol socket: {0}")]
    Socket(std::io::Error),
    #[error("fork container init: {0}")]
    Fork(std::io::Error),
    #[error("{0}")]
    Init(#[from] InitError),
    #[error("container init exited before it was set up ({0})")]
    InitDied(String),
    #[error("protocol: {0}")]
    Protocol(String),
    #[error("{0}")]
    Placement(Box<dyn std::error::Error + Send + Sync>),
    #[error(transparent)]
    SeccompAgent(#[from] AgentError),
    #[error(transparent)]
    Hook(#[from] rcr_core::hooks::HookError),
    #[error("take the seccomp notify fd from the init: {0}")]
    NotifyFd(std::io::Error),
    #[error(transparent)]
    Idmap(#[from] IdmapError),
    #[error("set oom_score_adj to {value}: {}", proto::errno_text(*.source))]
    OomScoreAdj { value: i32, source: nix::Error },
}

/// What the parent needs to know about the init.
#[derive(Debug, Clone, Copy)]
pub struct Spawned {
    pub pid: Pid,
    pub start_time: u64,
}

/// Inputs of [`spawn`].
#[derive(Debug)]
pub struct SpawnRequest<'a> {
    pub plan: &'a LaunchPlan,
    pub state_dir: &'a Path,
    /// Fds the child must close at once (the container lock: a child holding
    /// a copy would keep it locked for as long as the container lives).
    pub close_in_child: Vec<RawFd>,
    pub cgroups: CgroupView,
    /// How the init puts itself into the container's cgroup; `None` when
    /// the container has none (rootless without a delegated cgroup).
    pub cgroup_join: Option<rcr_cgroups::Joiner>,
    pub preserve_fds: u32,
    /// Where the seccomp notify fd goes, when the filter has notify rules.
    pub seccomp_agent: Option<AgentTarget>,
    /// The connected console socket, for a container with a terminal.
    pub console: Option<OwnedFd>,
    /// The state document hooks get on stdin (status `creating`, pid
    /// filled in once known); `None` when the spec has no hooks.
    pub hook_state: Option<serde_json::Value>,
    /// The compiled seccomp filter, for the init to load.
    pub seccomp: Option<crate::seccomp::Filter>,
}

pub(crate) fn open_ns(path: &Path) -> Result<OwnedFd, SpawnError> {
    sys::open(path, OFlag::O_RDONLY, Mode::empty())
        .map_err(|source| SpawnError::Namespace { path: path.to_owned(), source })
}

/// Joins the pid namespace at `path` for our future children only, and
/// returns a guard that restores ours.
pub(crate) struct PidNsGuard(Option<OwnedFd>);

impl PidNsGuard {
    pub(crate) fn enter(target: Option<&(OwnedFd, PathBuf)>) -> Result<Self, SpawnError> {
        let Some((fd, path)) = target else { return Ok(Self(None)) };
        let own = open_ns(Path::new("/proc/self/ns/pid"))?;
        nix::sched::setns(fd, CloneFlags::CLONE_NEWPID)
            .map_err(|source| SpawnError::JoinPid { path: path.clone(), source })?;
        Ok(Self(Some(own)))
    }
}

impl Drop for PidNsGuard {
    fn drop(&mut self) {
        if let Some(own) = &self.0 {
            let _ = nix::sched::setns(own, CloneFlags::CLONE_NEWPID);
        }
    }
}

pub(crate) fn kill_and_reap(pid: Pid) {
    let _ = nix::sys::signal::kill(pid, Signal::SIGKILL);
    let _ = waitpid(pid, None);
}

pub(crate) fn describe_exit(pid: Pid) -> String {
    match waitpid(pid, None) {
        Ok(WaitStatus::Exited(_, code)) => format!("exit status {code}"),
        Ok(WaitStatus::Signaled(_, sig, _)) => format!("killed by {sig}"),
        Ok(other) => format!("{other:?}"),
        Err(e) => format!("wait: {e}"),
    }
}

/// Starts the init and waits until it is ready for `start`. `placed` runs
/// once the init exists, while it joins its cgroup: the caller records its
/// pid.
pub fn spawn(
    mut req: SpawnRequest<'_>,
    placed: &mut dyn FnMut(Spawned) -> Result<(), Box<dyn std::error::Error + Send + Sync>>,
) -> Result<Spawned, SpawnError> {
    let ns = &req.plan.namespaces;
    let mut join = Vec::new();
    let mut pid_target = None;
    for (kind, path) in &ns.join {
        let fd = open_ns(path)?;
        if *kind == CloneFlags::CLONE_NEWPID && !req.plan.init_joins_pid() {
            pid_target = Some((fd, path.clone()));
        } else {
            join.push((*kind, fd));
        }
    }
    let state_dir = sys::open(req.state_dir, OFlag::O_PATH | OFlag::O_DIRECTORY, Mode::empty())
        .map_err(|source| SpawnError::StateDir { path: req.state_dir.to_owned(), source })?;
    let mount_sources = idmap::mount_sources(req.plan)?;
    let (parent, child) = proto::pair().map_err(SpawnError::Socket)?;
    let console = req.console;

    let joiner = req.cgroup_join.take();
    let (forked, in_unified) = {
        let _guard = PidNsGuard::enter(pid_target.as_ref())?;
        fork(ns.clone_flags(), joiner.as_ref())?
    };
    let pid = match forked {
        sys::Forked::Child => {
            drop(parent);
            for fd in &req.close_in_child {
                let _ = nix::unistd::close(*fd);
            }
            let ctx = InitContext {
                chan: child,
                state_dir,
                join,
                cgroups: req.cgroups,
                preserve_fds: req.preserve_fds,
                console,
                mount_sources,
                cgroup_join: joiner.map(|j| (j, in_unified)),
                seccomp: req.seccomp,
            };
            init::main(req.plan, ctx)
        }
        sys::Forked::Parent(pid) => pid,
    };
    drop((child, state_dir, console, mount_sources, joiner));
    fault::point("create:after-fork");
    let mut spawned = place(pid, placed)?;
    fault::point("create:after-pid-record");
    let fail = |pid: Pid, e: SpawnError| {
        kill_and_reap(pid);
        e
    };
    if let Some(value) = req.plan.attrs.oom_score_adj {
        // Set from here, with rcr's privileges: an init cloned into a user
        // namespace could no longer lower its own score.
        std::fs::write(format!("/proc/{pid}/oom_score_adj"), value.to_string()).map_err(|e| {
            let source = nix::Error::from_raw(e.raw_os_error().unwrap_or(libc::EIO));
            fail(pid, SpawnError::OomScoreAdj { value, source })
        })?;
    }
    if ns.clone_flags().contains(CloneFlags::CLONE_NEWUSER) {
        if let Some(maps) = &req.plan.id_mappings {
            idmap::write_maps(pid, maps, req.plan.rootless).map_err(|e| fail(pid, e.into()))?;
        }
    }
    let mut hook_state = proceed(&parent, pid, req.hook_state.as_ref())?;
    fault::point("create:during-init-setup");
    let mut awaiting_notify_fd = req.seccomp_agent.is_some();
    let mut may_fork = req.plan.reforks();
    loop {
        let pid = spawned.pid;
        let (msg, fd) = match parent.recv_with_fd::<FromInit>() {
            Ok(Some(received)) => received,
            Ok(None) => return Err(SpawnError::InitDied(describe_exit(pid))),
            Err(e) => return Err(fail(pid, SpawnError::Protocol(e.to_string()))),
        };
        match (msg, fd) {
            (FromInit::SeccompNotify { fd: number }, None) if awaiting_notify_fd => {
                awaiting_notify_fd = false;
                let agent = req.seccomp_agent.as_ref().expect("awaited only with an agent");
                let fd = take_fd(pid, number).map_err(|e| fail(pid, e))?;
                agent.send(pid, fd.as_fd()).map_err(|e| fail(pid, e.into()))?;
                if parent.send(&ToInit::SeccompFdTaken).is_err() {
                    return Err(SpawnError::InitDied(describe_exit(pid)));
                }
            }
            (msg, Some(_)) => {
                return Err(fail(pid, SpawnError::Protocol(format!("unexpected fd with {msg:?}"))));
            }
            (FromInit::SeccompNotify { .. }, None) => {
                return Err(fail(pid, SpawnError::Protocol("unexpected seccomp notify fd".into())));
            }
            (FromInit::Log { level, message }, None) => level.emit(&message),
            (FromInit::Forked { pid: new }, None) if may_fork => {
                may_fork = false;
                // The forking process exits right after sending; its child
                // was cloned with CLONE_PARENT, so it is ours to wait for.
                let _ = waitpid(pid, None);
                let new = Pid::from_raw(new);
                spawned = place(new, placed)?;
                hook_state = proceed(&parent, new, req.hook_state.as_ref())?;
            }
            (FromInit::Forked { .. }, None) => {
                return Err(fail(pid, SpawnError::Protocol("unexpected fork report".into())));
            }
            (FromInit::RuntimeHooks, None) => {
                let (Some(hooks), Some(state)) = (&req.plan.hooks, &hook_state) else {
                    return Err(fail(pid, SpawnError::Protocol("unexpected hook request".into())));
                };
                for kind in [HookKind::Prestart, HookKind::CreateRuntime] {
                    hooks::run(kind, &kind.of(hooks), state)
                        .map_err(|e| fail(pid, SpawnError::Hook(e)))?;
                }
                if parent.send(&ToInit::RuntimeHooksDone).is_err() {
                    return Err(SpawnError::InitDied(describe_exit(pid)));
                }
            }
            (FromInit::Ready, None) if awaiting_notify_fd => {
                return Err(fail(
                    pid,
                    SpawnError::Protocol("ready before passing the seccomp notify fd".into()),
                ));
            }
            (FromInit::Ready, None) => return Ok(spawned),
            (FromInit::Failed(e), None) => {
                kill_and_reap(pid);
                return Err(SpawnError::Init(e));
            }
        }
    }
}

/// Forks the init or an exec'd process, straight into the unified cgroup
/// when there is one; says whether it landed there (see
/// [`rcr_cgroups::Joiner`]).
pub(crate) fn fork(
    flags: CloneFlags,
    joiner: Option<&rcr_cgroups::Joiner>,
) -> Result<(sys::Forked, bool), SpawnError> {
    match joiner.and_then(rcr_cgroups::Joiner::clone_into) {
        Some(dir) => sys::fork_into_cgroup(flags, dir),
        None => sys::fork_into(flags).map(|f| (f, false)),
    }
    .map_err(SpawnError::Fork)
}

/// Copies fd `number` of process `pid` (the seccomp notify listener).
pub(crate) fn take_fd(pid: Pid, number: i32) -> Result<OwnedFd, SpawnError> {
    sys::pidfd_open(pid)
        .and_then(|pidfd| sys::pidfd_getfd(std::os::fd::AsFd::as_fd(&pidfd), number))
        .map_err(SpawnError::NotifyFd)
}

/// Records the init's identity and lets the caller place it; kills it if
/// either fails.
fn place(
    pid: Pid,
    placed: &mut dyn FnMut(Spawned) -> Result<(), Box<dyn std::error::Error + Send + Sync>>,
) -> Result<Spawned, SpawnError> {
    let fail = |e: SpawnError| {
        kill_and_reap(pid);
        e
    };
    let start_time = proc::stat(pid)
        .map_err(|e| fail(SpawnError::InitDied(format!("read /proc/{pid}/stat: {e}"))))?
        .start_time;
    let spawned = Spawned { pid, start_time };
    placed(spawned).map_err(|e| fail(SpawnError::Placement(e)))?;
    Ok(spawned)
}

/// Lets the init `pid` go on: the hooks' state with its pid, if there are
/// hooks, then `Proceed`. Returns that state.
fn proceed(
    parent: &proto::Channel,
    pid: Pid,
    hook_state: Option<&serde_json::Value>,
) -> Result<Option<serde_json::Value>, SpawnError> {
    let hook_state = hook_state.map(|s| {
        let mut s = s.clone();
        s["pid"] = pid.as_raw().into();
        s
    });
    if let Some(state) = &hook_state {
        if parent.send(&ToInit::HookState(state.clone())).is_err() {
            return Err(SpawnError::InitDied(describe_exit(pid)));
        }
    }
    if parent.send(&ToInit::Proceed).is_err() {
        return Err(SpawnError::InitDied(describe_exit(pid)));
    }
    Ok(hook_state)
}

/// Waits for the init to have started the process — it writes a byte to the
/// fifo, runs the startContainer hooks and execs, which closes its end — or
/// to have died, whichever comes first, so `start` never hangs on a dead
/// init and poststart hooks run only once the process runs.
pub fn release(fifo: &Path, pid: Pid, start_time: u64) -> Result<(), StartError> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    // Identify the init before opening the reader: once the reader is open
    // the init may write, exec and exit at once, and a quick container would
    // then look as if it had died before it was started.
    let pidfd = sys::pidfd_open(pid).map_err(|_| StartError::InitGone)?;
    if !proc::is_same_live_process(pid, start_time) {
        return Err(StartError::InitGone);
    }
    let reader = sys::open(fifo, OFlag::O_RDONLY | OFlag::O_NONBLOCK, Mode::empty())
        .map_err(|e| StartError::Fifo { path: fifo.to_owned(), source: e })?;
    let mut released = false;
    loop {
        let r: BorrowedFd<'_> = std::os::fd::AsFd::as_fd(&reader);
        let p: BorrowedFd<'_> = std::os::fd::AsFd::as_fd(&pidfd);
        let mut fds = [PollFd::new(r, PollFlags::POLLIN), PollFd::new(p, PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => {}
            Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(StartError::Fifo { path: fifo.to_owned(), source: e }),
        }
        if fds[0].revents().is_some_and(|r| r.intersects(PollFlags::POLLIN | PollFlags::POLLHUP)) {
            let mut buf = [0u8; 1];
            match nix::unistd::read(reader.as_raw_fd(), &mut buf) {
                Ok(1) => released = true,
                // EOF: the init's end closed, at its exec (or its death,
                // which the exit status tells its waiter).
                Ok(0) if released => return Ok(()),
                Ok(_) | Err(nix::Error::EAGAIN) => {}
                Err(e) => return Err(StartError::Fifo { path: fifo.to_owned(), source: e }),
            }
        }
        if fds[1].revents().is_some_and(|r| !r.is_empty()) {
            // Gone after releasing: it exec'd and a quick process exited.
            return if released { Ok(()) } else { Err(StartError::InitGone) };
        }
    }
}

/// Failures of `start`.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("exec fifo {}: {source}", path.display())]
    Fifo { path: PathBuf, source: nix::Error },
    #[error("the container's init exited before it was started")]
    InitGone,
}
