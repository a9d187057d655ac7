//! The lifecycle verbs that work on a container's cgroup rather than on its
//! init: pause/resume, update, stats, ps, events, and signalling every
//! process of a possibly frozen container.
//!
//! `events` is a long-running reader with no threads: one `poll` over the
//! init's pidfd (the container stopping ends it) and the OOM notification
//! fd, with the poll timeout as the stats ticker.

use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::Signal;
use rcr_cgroups::{Cgroup, OomWatch};
use rcr_core::platform::{BoxError, Event};
use rcr_core::state::ContainerState;

use crate::container::LinuxData;
use crate::{resources, sys};

/// Failures of the cgroup verbs that are not the cgroup's own errors.
#[derive(Debug, thiserror::Error)]
pub enum CgroupVerbError {
    #[error("container {0} has no cgroup")]
    NoCgroup(String),
    #[error("poll for events: {0}")]
    Poll(Errno),
    #[error("signal {signal} to pid {pid}: {source}")]
    Signal { pid: i32, signal: i32, source: Errno },
}

fn cgroup_of(state: &ContainerState) -> Result<Cgroup, BoxError> {
    LinuxData::of(state)?.cgroup.ok_or_else(|| CgroupVerbError::NoCgroup(state.id.clone()).into())
}

pub(crate) fn pause(state: &ContainerState) -> Result<(), BoxError> {
    Ok(cgroup_of(state)?.freeze()?)
}

pub(crate) fn resume(state: &ContainerState) -> Result<(), BoxError> {
    Ok(cgroup_of(state)?.thaw()?)
}

/// Whether the container's cgroup is frozen; false without a cgroup.
pub(crate) fn is_paused(state: &ContainerState) -> bool {
    LinuxData::of(state).ok().and_then(|d| d.cgroup).is_some_and(|cg| cg.is_frozen())
}

/// Applies the update on top of the recorded resources and returns the
/// platform data with the merged result, to be persisted.
pub(crate) fn update(
    state: &ContainerState,
    update: &oci_spec::runtime::LinuxResources,
) -> Result<serde_json::Value, BoxError> {
    let mut data = LinuxData::of(state)?;
    let cgroup = data.cgroup.as_ref().ok_or_else(|| CgroupVerbError::NoCgroup(state.id.clone()))?;
    let changes = resources::for_update(update)?;
    let mut merged = data.resources.clone();
    merged.merge(&changes);
    // The whole merged set is written again, as pairs such as memory and
    // memory+swap or quota and period are only valid together.
    cgroup.update(&merged)?;
    data.resources = merged;
    Ok(data.json())
}

pub(crate) fn stats(state: &ContainerState) -> Result<serde_json::Value, BoxError> {
    let stats = cgroup_of(state)?.stats()?;
    Ok(serde_json::to_value(stats).expect("stats always serialize"))
}

pub(crate) fn pids(state: &ContainerState) -> Result<Vec<i32>, BoxError> {
    let Some(cgroup) = LinuxData::of(state)?.cgroup else { return Ok(Vec::new()) };
    Ok(cgroup.pids()?.into_iter().map(nix::unistd::Pid::as_raw).collect())
}

/// Sends `signal` to every process of the container. The cgroup is frozen
/// meanwhile so that nothing forks past the listing; a frozen v1 task only
/// receives SIGKILL once thawed, so after a SIGKILL the cgroup is left
/// thawed, otherwise as it was.
pub(crate) fn signal_all(cgroup: &Cgroup, signal: i32) -> Result<(), BoxError> {
    let was_frozen = cgroup.is_frozen();
    let froze = !was_frozen && cgroup.freeze().is_ok();
    let mut result = Ok(());
    for pid in cgroup.pids()? {
        match sys::kill_raw(pid, signal) {
            Ok(()) | Err(Errno::ESRCH) => {}
            Err(source) => {
                result = Err(CgroupVerbError::Signal { pid: pid.as_raw(), signal, source }.into());
                break;
            }
        }
    }
    if froze || (was_frozen && signal == Signal::SIGKILL as i32) {
        cgroup.thaw()?;
    }
    result
}

/// After SIGKILL to the init of a paused container: thaws it so the kill
/// lands (v1 defers signals to frozen tasks), as runc does.
pub(crate) fn thaw_after_kill(state: &ContainerState, signal: i32) {
    if signal != Signal::SIGKILL as i32 {
        return;
    }
    if let Ok(Some(cgroup)) = LinuxData::of(state).map(|d| d.cgroup) {
        if cgroup.is_frozen() {
            if let Err(error) = cgroup.thaw() {
                tracing::warn!(%error, "cannot thaw the container after SIGKILL");
            }
        }
    }
}

/// The `events` loop; see the module docs.
pub(crate) fn events(
    state: &ContainerState,
    init: &OwnedFd,
    interval: Duration,
    emit: &mut dyn FnMut(&Event) -> Result<(), BoxError>,
) -> Result<(), BoxError> {
    let cgroup = cgroup_of(state)?;
    let mut oom = OomWatch::new(&cgroup)?;
    let event = |kind: &str, data| Event { kind: kind.to_owned(), id: state.id.clone(), data };
    let mut next = Instant::now() + interval;
    loop {
        let wait = next.saturating_duration_since(Instant::now());
        let ms = i32::try_from(wait.as_millis()).unwrap_or(i32::MAX);
        let (init_gone, oom_ready) = {
            let mut fds = vec![PollFd::new(init.as_fd(), PollFlags::POLLIN)];
            if let Some(o) = &oom {
                fds.push(PollFd::new(o.as_fd(), PollFlags::POLLIN));
            }
            match poll(&mut fds, PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX)) {
                Ok(_) | Err(Errno::EINTR) => {}
                Err(e) => return Err(CgroupVerbError::Poll(e).into()),
            }
            let ready = |f: &PollFd<'_>| f.revents().is_some_and(|r| !r.is_empty());
            (ready(&fds[0]), fds.get(1).is_some_and(ready))
        };
        // The kernel signals an OOM before the kill that may end the init,
        // so reading OOMs first never loses the last one.
        if oom_ready || init_gone {
            if let Some(o) = &mut oom {
                if o.read()? > 0 {
                    emit(&event("oom", None))?;
                }
            }
        }
        if init_gone {
            return Ok(());
        }
        if Instant::now() >= next {
            emit(&event("stats", Some(stats(state)?)))?;
            next += interval;
        }
    }
}
