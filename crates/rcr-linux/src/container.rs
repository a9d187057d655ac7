//! The Linux implementation of the lifecycle seam: plans, cgroups, the init,
//! signals, and cleanup from any partial state.

use std::cell::RefCell;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

use nix::unistd::Pid;
use rcr_cgroups::{Cgroup, CgroupPath, ContainerMounts, Resources, SystemdPath};
use rcr_core::fault;
use rcr_core::platform::{BoxError, CreateRequest, Event, Platform, Progress};
use rcr_core::state::{ContainerState, Liveness};
use rcr_core::store::EXEC_FIFO;
use serde::{Deserialize, Serialize};

use crate::console::{self, ConsoleError};
use crate::init::CgroupView;
use crate::plan::{self, LaunchPlan, PlanOptions};
use crate::seccomp_agent::AgentTarget;
use crate::spawn::{self, SpawnRequest};
use crate::{cgroup_verbs, proc, resources, rootless, sys, terminal};

/// How long `delete` waits for a killed init to be gone.
const KILL_WAIT: Duration = Duration::from_secs(10);

/// What the Linux backend keeps in a container's state.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct LinuxData {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) cgroup: Option<Cgroup>,
    /// The resources applied to the cgroup (the spec's, then updates).
    #[serde(default, skip_serializing_if = "is_default")]
    pub(crate) resources: Resources,
}

fn is_default(r: &Resources) -> bool {
    *r == Resources::default()
}

impl LinuxData {
    pub(crate) fn of(state: &ContainerState) -> Result<Self, BoxError> {
        if state.platform.is_null() {
            return Ok(Self::default());
        }
        serde_json::from_value(state.platform.clone())
            .map_err(|e| format!("container {}: unreadable platform state: {e}", state.id).into())
    }

    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("platform state always serializes")
    }
}

/// Failures of Linux lifecycle verbs outside create.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("container {0} is not running")]
    NotRunning(String),
    #[error("signal {signal} to pid {pid}: {source}")]
    Signal { pid: i32, signal: i32, source: std::io::Error },
    #[error("pid {pid} did not exit within {secs}s of SIGKILL")]
    StillAlive { pid: i32, secs: u64 },
    #[error("create exec fifo {}: {source}", path.display())]
    Fifo { path: std::path::PathBuf, source: nix::Error },
}

/// The Linux backend.
#[derive(Debug, Default)]
pub struct Linux {
    /// Set by `prepare_foreground`: this process will wait for the
    /// container, so a terminal comes here rather than to a console socket.
    foreground: RefCell<Option<ForegroundConsole>>,
}

/// The console socket pair of a foreground `run`, from `prepare_foreground`
/// to `wait_foreground`.
#[derive(Debug)]
struct ForegroundConsole {
    receiver: OwnedFd,
    /// The init's end, until `create` hands it over (the container has a
    /// terminal).
    sender: Option<OwnedFd>,
    /// The terminal's master, received once the init is set up.
    master: Option<OwnedFd>,
}

impl Linux {
    /// Where the init sends its terminal: a connection to `--console-socket`
    /// or this process's own pair; checked as runc does.
    fn console_for(
        &self,
        plan: &LaunchPlan,
        socket: Option<&Path>,
    ) -> Result<Option<OwnedFd>, ConsoleError> {
        match (plan.process.terminal, socket) {
            (false, None) => Ok(None),
            (false, Some(_)) => Err(ConsoleError::NotTerminal),
            (true, Some(path)) => console::connect(path).map(Some),
            (true, None) => self
                .foreground
                .borrow_mut()
                .as_mut()
                .and_then(|f| f.sender.take())
                .map(Some)
                .ok_or(ConsoleError::NoSocket),
        }
    }
}

fn cgroup_view(cgroup: &Cgroup) -> CgroupView {
    match cgroup.container_mounts() {
        ContainerMounts::PerHierarchy(list) => {
            CgroupView::V1(list.into_iter().map(|h| (h.name, h.host_dir)).collect())
        }
        ContainerMounts::Unified(dir) => CgroupView::V2(dir),
    }
}

fn make_cgroup(req: &CreateRequest<'_>) -> Result<Cgroup, BoxError> {
    let path = req.bundle.spec.linux().as_ref().and_then(|l| l.cgroups_path().clone());
    let path = path.as_deref().and_then(Path::to_str).filter(|p| !p.is_empty());
    if req.options.systemd_cgroup {
        return Ok(Cgroup::systemd(&SystemdPath::from_spec(path, req.id)?)?);
    }
    Ok(Cgroup::on_host(&CgroupPath::from_spec(path, req.id)?)?)
}

/// The state document hooks read on stdin during create.
fn hook_state(req: &CreateRequest<'_>) -> serde_json::Value {
    let mut state =
        ContainerState::creating(req.id, req.bundle.dir.clone(), req.bundle.rootfs.clone());
    state.annotations =
        req.bundle.spec.annotations().clone().unwrap_or_default().into_iter().collect();
    // What runtime-tools and crun pass to prestart, createRuntime,
    // createContainer and startContainer hooks.
    state.oci_state(rcr_core::Status::Created)
}

/// A container without a mount namespace of its own made its mounts in
/// ours: take them down with it, innermost first.
fn unmount_shared(state: &ContainerState) {
    // Nearly every container has a mount namespace: tell that from the
    // recorded JSON, and parse the whole spec only for the rare one without.
    let private = state.spec.as_ref().is_none_or(|spec| {
        spec["linux"]["namespaces"]
            .as_array()
            .is_some_and(|ns| ns.iter().any(|n| n["type"] == "mount"))
    });
    if private {
        return;
    }
    let Ok(Some(spec)) = state.recorded_spec() else { return };
    for m in spec.mounts().iter().flatten().rev() {
        let target = state.rootfs.join(crate::init::rel_path(m.destination()));
        if let Err(e) = nix::mount::umount2(&target, nix::mount::MntFlags::MNT_DETACH) {
            if e != nix::Error::EINVAL && e != nix::Error::ENOENT {
                tracing::warn!("unmount {}: {e}", target.display());
            }
        }
    }
}

/// A pidfd for the container's init, if it is still the process we started.
fn init_pidfd(state: &ContainerState) -> Option<(Pid, std::os::fd::OwnedFd)> {
    let (pid, start) = (Pid::from_raw(state.pid?), state.pid_start_time?);
    let fd = sys::pidfd_open(pid).ok()?;
    // Checked after opening the pidfd: from here on the fd pins the process,
    // so a recycled pid cannot be signalled by mistake.
    proc::is_same_live_process(pid, start).then_some((pid, fd))
}

fn wait_gone(pidfd: &std::os::fd::OwnedFd, timeout: Duration) -> bool {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::os::fd::AsFd;
    let ms = u16::try_from(timeout.as_millis()).unwrap_or(u16::MAX);
    let mut fds = [PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
    loop {
        match poll(&mut fds, PollTimeout::from(ms)) {
            Ok(n) => return n > 0,
            Err(nix::Error::EINTR) => continue,
            Err(_) => return false,
        }
    }
}

fn seccomp_agent(req: &CreateRequest<'_>, plan: &plan::LaunchPlan) -> Option<AgentTarget> {
    let listener = plan.seccomp.as_ref()?.listener.clone()?;
    let annotations = req.bundle.spec.annotations().clone().unwrap_or_default();
    Some(AgentTarget {
        listener,
        id: req.id.to_owned(),
        bundle: req.bundle.dir.clone(),
        annotations: annotations.into_iter().collect(),
    })
}

impl Platform for Linux {
    fn create(
        &self,
        req: &CreateRequest<'_>,
        record: &mut dyn FnMut(&Progress) -> Result<(), BoxError>,
    ) -> Result<Progress, BoxError> {
        let rootless = !nix::unistd::geteuid().is_root();
        let opts = PlanOptions {
            no_pivot: req.options.no_pivot,
            listen_fds: req.options.listen_fds,
            session_keyring: (!req.options.no_new_keyring).then(|| format!("_ses.{}", req.id)),
            rootless,
        };
        let plan = plan::plan(&req.bundle.spec, &req.bundle.dir, &req.bundle.rootfs, opts)?;
        crate::lsm::check(&plan.lsm)?;
        let seccomp = crate::seccomp::prepare(&plan, req.root)?;
        let console = self.console_for(&plan, req.options.console_socket.as_deref())?;
        let spec_resources = req.bundle.spec.linux().as_ref().and_then(|l| l.resources().as_ref());
        let resources = resources::for_create(spec_resources)?;
        let mut cgroup = make_cgroup(req)?;
        cgroup.plan_create()?;
        let mut data = LinuxData { cgroup: Some(cgroup), resources };
        record(&Progress { init: None, platform: data.json() })?;
        fault::point("create:after-cgroup-record");
        let cgroup = data.cgroup.as_mut().expect("set just above");
        let view = match cgroup.create() {
            Ok(()) => cgroup_view(cgroup),
            Err(e) if rootless && rootless::is_permission_error(&e) => {
                if rootless::wants_limits(&data.resources) {
                    return Err(rootless::RootlessCgroupError(e).into());
                }
                tracing::debug!(error = %e, "rootless: running in the caller's cgroup");
                data.cgroup = None;
                CgroupView::None
            }
            Err(e) => return Err(e.into()),
        };
        fault::point("create:after-cgroup");
        record(&Progress { init: None, platform: data.json() })?;
        // Before any process is in the cgroup, and after it is recorded as
        // created: on failure the lifecycle's cleanup removes it.
        if let Some(cgroup) = &data.cgroup {
            cgroup.apply(&data.resources)?;
        }

        let fifo = req.state_dir.join(EXEC_FIFO);
        // Writable by all: the init opens it after switching to the
        // container's user. Set by chmod, as mkfifo is subject to the umask.
        let mode = nix::sys::stat::Mode::from_bits_truncate(0o622);
        nix::unistd::mkfifo(&fifo, mode)
            .and_then(|()| {
                use nix::sys::stat::{fchmodat, FchmodatFlags};
                fchmodat(None, &fifo, mode, FchmodatFlags::FollowSymlink)
            })
            .map_err(|source| ProcessError::Fifo { path: fifo.clone(), source })?;
        fault::point("create:after-fifo");

        let platform = data.json();
        let cgroup_join = data.cgroup.as_ref().map(Cgroup::joiner).transpose()?;
        let mut close_in_child = vec![req.lock_fd];
        // Our end of a foreground run's pair, and its other end if the
        // container has no terminal to send over it.
        if let Some(f) = self.foreground.borrow().as_ref() {
            close_in_child
                .extend(std::iter::once(&f.receiver).chain(&f.sender).map(AsRawFd::as_raw_fd));
        }
        let spawned = spawn::spawn(
            SpawnRequest {
                plan: &plan,
                state_dir: req.state_dir,
                close_in_child,
                cgroups: view,
                cgroup_join,
                preserve_fds: req.options.listen_fds + req.options.preserve_fds,
                seccomp_agent: seccomp_agent(req, &plan),
                console,
                hook_state: plan.hooks.as_ref().map(|_| hook_state(req)),
                seccomp,
            },
            // The init joins its cgroup itself, and a re-forked init's child
            // is born there.
            &mut |s| {
                record(&Progress {
                    init: Some((s.pid.as_raw(), s.start_time)),
                    platform: platform.clone(),
                })
            },
        )?;
        // The init took our pair's sending end: its terminal was sent before
        // Ready, so it is already queued. Taken now, the pty has the
        // caller's size before the process starts.
        if let Some(f) = self.foreground.borrow_mut().as_mut().filter(|f| f.sender.is_none()) {
            let master = console::recv_master(&f.receiver)?;
            terminal::resize_from_caller(std::os::fd::AsFd::as_fd(&master));
            f.master = Some(master);
        }
        Ok(Progress { init: Some((spawned.pid.as_raw(), spawned.start_time)), platform })
    }

    fn start(&self, state_dir: &Path, state: &ContainerState) -> Result<(), BoxError> {
        let (Some(pid), Some(start)) = (state.pid, state.pid_start_time) else {
            return Err(ProcessError::NotRunning(state.id.clone()).into());
        };
        spawn::release(&state_dir.join(EXEC_FIFO), Pid::from_raw(pid), start)?;
        Ok(())
    }

    fn liveness(&self, state_dir: &Path, state: &ContainerState) -> Liveness {
        let (Some(pid), Some(start)) = (state.pid, state.pid_start_time) else {
            return Liveness::Gone;
        };
        if !proc::is_same_live_process(Pid::from_raw(pid), start) {
            return Liveness::Gone;
        }
        // A start killed between releasing the init and recording it leaves
        // the fifo behind; only an init still holding it waits for start.
        match std::fs::metadata(state_dir.join(EXEC_FIFO)) {
            Ok(m) if proc::holds_file(Pid::from_raw(pid), m.dev(), m.ino()) != Some(false) => {
                Liveness::Created
            }
            _ if cgroup_verbs::is_paused(state) => Liveness::Paused,
            _ => Liveness::Running,
        }
    }

    fn kill(&self, state: &ContainerState, signal: i32, all: bool) -> Result<(), BoxError> {
        if all {
            if let Some(cgroup) = LinuxData::of(state)?.cgroup {
                return cgroup_verbs::signal_all(&cgroup, signal);
            }
        }
        let Some((pid, fd)) = init_pidfd(state) else {
            return Err(ProcessError::NotRunning(state.id.clone()).into());
        };
        sys::pidfd_send_signal(std::os::fd::AsFd::as_fd(&fd), signal)
            .map_err(|source| ProcessError::Signal { pid: pid.as_raw(), signal, source })?;
        cgroup_verbs::thaw_after_kill(state, signal);
        Ok(())
    }

    fn destroy(&self, state: &ContainerState) -> Result<(), BoxError> {
        // A frozen v1 init would never act on the SIGKILL below.
        cgroup_verbs::thaw_after_kill(state, libc::SIGKILL);
        if let Some((pid, fd)) = init_pidfd(state) {
            let _ = sys::pidfd_send_signal(std::os::fd::AsFd::as_fd(&fd), libc::SIGKILL);
            if !wait_gone(&fd, KILL_WAIT) {
                return Err(ProcessError::StillAlive {
                    pid: pid.as_raw(),
                    secs: KILL_WAIT.as_secs(),
                }
                .into());
            }
        }
        fault::point("delete:after-kill");
        if let Some(cgroup) = LinuxData::of(state)?.cgroup {
            cgroup.remove()?;
        }
        unmount_shared(state);
        fault::point("delete:after-cgroup-remove");
        Ok(())
    }

    fn protect_runtime(&self, root: &std::path::Path) -> Result<(), BoxError> {
        match crate::binary::ensure_protected(root)? {
            Some(how) => tracing::debug!("runtime binary protected: {how:?}"),
            None => tracing::debug!("runtime binary not protected"),
        }
        Ok(())
    }

    fn exec(&self, req: &rcr_core::ExecRequest<'_>) -> Result<i32, BoxError> {
        let cgroup = LinuxData::of(req.state)?.cgroup;
        let mut fg = self.foreground.borrow_mut();
        let foreground = fg.as_mut().map(|f| (&f.receiver, f.sender.take()));
        crate::exec::exec(req, cgroup.as_ref(), foreground)
    }

    fn prepare_foreground(&self) -> Result<(), BoxError> {
        crate::foreground::block_signals()?;
        let (receiver, sender) = console::pair()?;
        *self.foreground.borrow_mut() =
            Some(ForegroundConsole { receiver, sender: Some(sender), master: None });
        Ok(())
    }

    fn wait_foreground(&self, state: &ContainerState) -> Result<i32, BoxError> {
        let pid = state.pid.ok_or_else(|| ProcessError::NotRunning(state.id.clone()))?;
        let master = self.foreground.borrow_mut().take().and_then(|f| f.master);
        Ok(crate::foreground::forward_and_wait(Pid::from_raw(pid), master)?)
    }

    fn pause(&self, state: &ContainerState) -> Result<(), BoxError> {
        cgroup_verbs::pause(state)
    }

    fn resume(&self, state: &ContainerState) -> Result<(), BoxError> {
        cgroup_verbs::resume(state)
    }

    fn update(
        &self,
        state: &ContainerState,
        resources: &oci_spec::runtime::LinuxResources,
    ) -> Result<serde_json::Value, BoxError> {
        cgroup_verbs::update(state, resources)
    }

    fn stats(&self, state: &ContainerState) -> Result<serde_json::Value, BoxError> {
        cgroup_verbs::stats(state)
    }

    fn pids(&self, state: &ContainerState) -> Result<Vec<i32>, BoxError> {
        cgroup_verbs::pids(state)
    }

    fn events(
        &self,
        state: &ContainerState,
        interval: Duration,
        emit: &mut dyn FnMut(&Event) -> Result<(), BoxError>,
    ) -> Result<(), BoxError> {
        let Some((_, pidfd)) = init_pidfd(state) else {
            return Err(ProcessError::NotRunning(state.id.clone()).into());
        };
        cgroup_verbs::events(state, &pidfd, interval, emit)
    }

    fn features(&self) -> serde_json::Value {
        crate::features::probe()
    }
}
