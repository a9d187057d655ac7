//! The OCI lifecycle on top of a [`Platform`]: which verb is allowed in which
//! status, what is written to the store when, and how a failed create is
//! undone. Everything here is platform-neutral and tested with a fake
//! platform.

use std::path::{Path, PathBuf};

use crate::fault;
use crate::hooks::{self, HookKind};
use crate::id::ContainerId;
use std::time::Duration;

use oci_spec::runtime::LinuxResources;

use crate::platform::{
    BoxError, CreateOptions, CreateRequest, Event, ExecOptions, ExecRequest, Platform, Progress,
};
use crate::spec::{load_bundle, SpecError};
use crate::state::{ContainerState, Status};
use crate::store::{ContainerDir, Store, StoreError};

/// Failures of a lifecycle verb.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error(transparent)]
    Platform(BoxError),
    #[error("container {id} is {status}: {verb} needs it {needs}")]
    Status { id: String, status: Status, verb: &'static str, needs: &'static str },
    #[error("write pid file {}: {source}", path.display())]
    PidFile { path: PathBuf, source: std::io::Error },
}

/// A container and its live status.
#[derive(Debug, Clone)]
pub struct Observed {
    pub state: ContainerState,
    pub status: Status,
}

/// The lifecycle over one state root and one backend.
#[derive(Debug)]
pub struct Runtime<P> {
    pub store: Store,
    pub platform: P,
}

impl<P: Platform> Runtime<P> {
    pub fn new(store: Store, platform: P) -> Self {
        Self { store, platform }
    }

    fn observe_locked(&self, dir: &ContainerDir) -> Result<Option<Observed>, LifecycleError> {
        let Some(state) = dir.load()? else { return Ok(None) };
        // We hold the lock, so no create is in progress.
        let status = state.live_status(false, || self.platform.liveness(dir.path(), &state));
        Ok(Some(Observed { state, status }))
    }

    /// `create`: from a bundle to a created container.
    pub fn create(
        &self,
        id: &ContainerId,
        bundle_dir: &Path,
        options: &CreateOptions,
    ) -> Result<ContainerState, LifecycleError> {
        let bundle = load_bundle(bundle_dir)?;
        let dir = self.store.create(id)?;
        fault::point("create:after-reserve");
        let mut state =
            ContainerState::creating(id.as_str(), bundle.dir.clone(), bundle.rootfs.clone());
        state.annotations =
            bundle.spec.annotations().clone().unwrap_or_default().into_iter().collect();
        state.hooks = bundle.spec.hooks().clone();
        state.spec = Some(bundle.config.clone());
        let result = dir.save(&state).map_err(LifecycleError::from).and_then(|()| {
            fault::point("create:after-creating-record");
            let req = CreateRequest {
                root: self.store.root(),
                id: id.as_str(),
                bundle: &bundle,
                state_dir: dir.path(),
                lock_fd: std::os::fd::AsRawFd::as_raw_fd(&dir.lock_fd()),
                options,
            };
            let mut record = |p: &Progress| -> Result<(), BoxError> {
                apply(&mut state, p);
                dir.save(&state).map_err(Into::into)
            };
            let done = self.platform.create(&req, &mut record).map_err(LifecycleError::Platform)?;
            fault::point("create:after-ready");
            apply(&mut state, &done);
            state.status = Status::Created;
            dir.save(&state)?;
            fault::point("create:after-created-record");
            if let (Some(path), Some(pid)) = (&options.pid_file, state.pid) {
                write_pid_file(path, pid)?;
            }
            Ok(())
        });
        match result {
            Ok(()) => Ok(state),
            Err(e) => {
                // A failed create leaves nothing behind.
                if let Ok(Some(recorded)) = dir.load() {
                    if let Err(cleanup) = self.platform.destroy(&recorded) {
                        tracing::warn!("clean up after failed create: {cleanup}");
                    }
                }
                if let Err(cleanup) = dir.remove() {
                    tracing::warn!("clean up after failed create: {cleanup}");
                }
                Err(e)
            }
        }
    }

    /// `start`: lets a created container run.
    pub fn start(&self, id: &ContainerId) -> Result<(), LifecycleError> {
        let dir = self.store.lock(id)?;
        let Some(mut obs) = self.observe_locked(&dir)? else {
            return Err(status_err(id, Status::Creating, "start", "created"));
        };
        if obs.status != Status::Created {
            return Err(status_err(id, obs.status, "start", "created"));
        }
        fault::point("start:before-release");
        self.platform.start(dir.path(), &obs.state).map_err(LifecycleError::Platform)?;
        fault::point("start:after-release");
        obs.state.status = Status::Running;
        dir.save(&obs.state)?;
        let _ = std::fs::remove_file(dir.exec_fifo());
        if let Some(hooks) = &obs.state.hooks {
            let state = obs.state.oci_state(Status::Running);
            hooks::run_warn(HookKind::Poststart, &HookKind::Poststart.of(hooks), &state);
        }
        Ok(())
    }

    /// `state`: the record and its live status, without taking the lock.
    pub fn observe(&self, id: &ContainerId) -> Result<Observed, LifecycleError> {
        let snap = self.store.read(id)?;
        let dir = self.store.root().join(id.as_str());
        match snap.state {
            Some(state) => {
                let status =
                    state.live_status(snap.locked, || self.platform.liveness(&dir, &state));
                Ok(Observed { state, status })
            }
            None => {
                // Reserved by a create that died before its first record.
                let mut state =
                    ContainerState::creating(id.as_str(), PathBuf::new(), PathBuf::new());
                state.created = String::new();
                Ok(Observed { state, status: Status::Stopped })
            }
        }
    }

    /// `list`: every container with its live status.
    pub fn list(&self) -> Result<Vec<Observed>, LifecycleError> {
        let mut out = Vec::new();
        for id in self.store.list()? {
            match self.observe(&id) {
                Ok(o) => out.push(o),
                Err(LifecycleError::Store(StoreError::NotFound(_))) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// `exec`: runs `process` in the container; returns the exit code to
    /// exit with (0 once a detached process has started).
    pub fn exec(
        &self,
        id: &ContainerId,
        process: &oci_spec::runtime::Process,
        options: &ExecOptions,
    ) -> Result<i32, LifecycleError> {
        let obs = self.observe(id)?;
        match obs.status {
            Status::Created | Status::Running => {}
            Status::Paused if options.ignore_paused => {}
            Status::Paused => {
                return Err(status_err(
                    id,
                    Status::Paused,
                    "exec",
                    "running (or use --ignore-paused)",
                ))
            }
            s => return Err(status_err(id, s, "exec", "created or running")),
        }
        let req = ExecRequest { root: self.store.root(), state: &obs.state, process, options };
        self.platform.exec(&req).map_err(LifecycleError::Platform)
    }

    /// `kill`.
    pub fn kill(&self, id: &ContainerId, signal: i32, all: bool) -> Result<(), LifecycleError> {
        let obs = self.observe(id)?;
        match obs.status {
            Status::Created | Status::Running | Status::Paused => {}
            Status::Stopped if all => {}
            s => return Err(status_err(id, s, "kill", "created or running")),
        }
        self.platform.kill(&obs.state, signal, all).map_err(LifecycleError::Platform)
    }

    /// `delete`: removes a stopped (or, with `force`, any) container.
    pub fn delete(&self, id: &ContainerId, force: bool) -> Result<(), LifecycleError> {
        let dir = self.store.lock(id)?;
        let obs = self.observe_locked(&dir)?;
        if let Some(obs) = &obs {
            match obs.status {
                Status::Stopped | Status::Created | Status::Creating => {}
                Status::Running | Status::Paused if force => {}
                s => return Err(status_err(id, s, "delete", "stopped (or use --force)")),
            }
            self.platform.destroy(&obs.state).map_err(LifecycleError::Platform)?;
        }
        fault::point("delete:before-state-remove");
        dir.remove()?;
        if let Some(obs) = obs {
            if let Some(hooks) = &obs.state.hooks {
                let state = obs.state.oci_state(Status::Stopped);
                hooks::run_warn(HookKind::Poststop, &HookKind::Poststop.of(hooks), &state);
            }
        }
        Ok(())
    }

    /// `pause`: freezes a created or running container.
    pub fn pause(&self, id: &ContainerId) -> Result<(), LifecycleError> {
        let dir = self.store.lock(id)?;
        let obs = self
            .observe_locked(&dir)?
            .ok_or_else(|| status_err(id, Status::Creating, "pause", "running"))?;
        match obs.status {
            Status::Running | Status::Created => {}
            s => return Err(status_err(id, s, "pause", "running")),
        }
        self.platform.pause(&obs.state).map_err(LifecycleError::Platform)
    }

    /// `resume`: thaws a paused container.
    pub fn resume(&self, id: &ContainerId) -> Result<(), LifecycleError> {
        let dir = self.store.lock(id)?;
        let obs = self
            .observe_locked(&dir)?
            .ok_or_else(|| status_err(id, Status::Creating, "resume", "paused"))?;
        if obs.status != Status::Paused {
            return Err(status_err(id, obs.status, "resume", "paused"));
        }
        self.platform.resume(&obs.state).map_err(LifecycleError::Platform)
    }

    /// `update`: applies new resource limits and records them.
    pub fn update(
        &self,
        id: &ContainerId,
        resources: &LinuxResources,
    ) -> Result<(), LifecycleError> {
        let dir = self.store.lock(id)?;
        let mut obs = self.observe_locked(&dir)?.ok_or_else(|| {
            status_err(id, Status::Creating, "update", "created, running or paused")
        })?;
        if matches!(obs.status, Status::Stopped | Status::Creating) {
            return Err(status_err(id, obs.status, "update", "created, running or paused"));
        }
        obs.state.platform =
            self.platform.update(&obs.state, resources).map_err(LifecycleError::Platform)?;
        dir.save(&obs.state)?;
        Ok(())
    }

    fn observe_live(
        &self,
        id: &ContainerId,
        verb: &'static str,
    ) -> Result<Observed, LifecycleError> {
        let obs = self.observe(id)?;
        match obs.status {
            Status::Created | Status::Running | Status::Paused => Ok(obs),
            s => Err(status_err(id, s, verb, "created, running or paused")),
        }
    }

    /// One `stats` event (`events --stats`).
    pub fn stats(&self, id: &ContainerId) -> Result<Event, LifecycleError> {
        let obs = self.observe_live(id, "events")?;
        let data = self.platform.stats(&obs.state).map_err(LifecycleError::Platform)?;
        Ok(Event { kind: "stats".to_owned(), id: obs.state.id, data: Some(data) })
    }

    /// `events`: stats every `interval` and OOM kills, until the container
    /// stops. Runs without the container lock: it is a reader.
    pub fn events(
        &self,
        id: &ContainerId,
        interval: Duration,
        emit: &mut dyn FnMut(&Event) -> Result<(), BoxError>,
    ) -> Result<(), LifecycleError> {
        let obs = self.observe_live(id, "events")?;
        self.platform.events(&obs.state, interval, emit).map_err(LifecycleError::Platform)
    }

    /// `ps`: the pids of the container's processes.
    pub fn pids(&self, id: &ContainerId) -> Result<Vec<i32>, LifecycleError> {
        let obs = self.observe(id)?;
        if obs.status == Status::Creating {
            return Err(status_err(id, obs.status, "ps", "created"));
        }
        self.platform.pids(&obs.state).map_err(LifecycleError::Platform)
    }
}

fn apply(state: &mut ContainerState, p: &Progress) {
    if let Some((pid, start)) = p.init {
        state.pid = Some(pid);
        state.pid_start_time = Some(start);
    }
    if !p.platform.is_null() {
        state.platform = p.platform.clone();
    }
}

fn status_err(
    id: &ContainerId,
    status: Status,
    verb: &'static str,
    needs: &'static str,
) -> LifecycleError {
    LifecycleError::Status { id: id.to_string(), status, verb, needs }
}

fn write_pid_file(path: &Path, pid: i32) -> Result<(), LifecycleError> {
    crate::store::write_pid_file(path, pid)
        .map_err(|source| LifecycleError::PidFile { path: path.to_owned(), source })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Liveness;
    use std::cell::{Cell, RefCell};

    /// A platform whose init is a flag, for testing the lifecycle alone.
    #[derive(Default)]
    struct Fake {
        alive: Cell<bool>,
        started: Cell<bool>,
        fail_create: Cell<bool>,
        destroyed: RefCell<Vec<String>>,
        killed: RefCell<Vec<i32>>,
        paused: Cell<bool>,
    }

    impl Platform for &Fake {
        fn create(
            &self,
            req: &CreateRequest<'_>,
            record: &mut dyn FnMut(&Progress) -> Result<(), BoxError>,
        ) -> Result<Progress, BoxError> {
            record(&Progress { init: None, platform: serde_json::json!({"cg": req.id}) })?;
            if self.fail_create.get() {
                return Err("mount proc on /proc: Operation not permitted".into());
            }
            self.alive.set(true);
            Ok(Progress { init: Some((42, 7)), platform: serde_json::Value::Null })
        }
        fn start(&self, _: &Path, _: &ContainerState) -> Result<(), BoxError> {
            self.started.set(true);
            Ok(())
        }
        fn liveness(&self, _: &Path, _: &ContainerState) -> Liveness {
            match (self.alive.get(), self.started.get()) {
                (false, _) => Liveness::Gone,
                (true, false) => Liveness::Created,
                (true, true) if self.paused.get() => Liveness::Paused,
                (true, true) => Liveness::Running,
            }
        }
        fn kill(&self, _: &ContainerState, signal: i32, _: bool) -> Result<(), BoxError> {
            self.killed.borrow_mut().push(signal);
            Ok(())
        }
        fn destroy(&self, state: &ContainerState) -> Result<(), BoxError> {
            self.alive.set(false);
            self.destroyed
                .borrow_mut()
                .push(state.platform["cg"].as_str().unwrap_or("").to_owned());
            Ok(())
        }
        fn wait_foreground(&self, _: &ContainerState) -> Result<i32, BoxError> {
            Ok(0)
        }
        fn pause(&self, _: &ContainerState) -> Result<(), BoxError> {
            self.paused.set(true);
            Ok(())
        }
        fn resume(&self, _: &ContainerState) -> Result<(), BoxError> {
            self.paused.set(false);
            Ok(())
        }
        fn update(
            &self,
            state: &ContainerState,
            r: &LinuxResources,
        ) -> Result<serde_json::Value, BoxError> {
            let mut v = state.platform.clone();
            v["pids"] = serde_json::json!(r.pids().as_ref().map(|p| p.limit()));
            Ok(v)
        }
        fn stats(&self, _: &ContainerState) -> Result<serde_json::Value, BoxError> {
            Ok(serde_json::json!({"pids": {"current": 1}}))
        }
        fn pids(&self, _: &ContainerState) -> Result<Vec<i32>, BoxError> {
            Ok(vec![42])
        }
    }

    fn bundle() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("rootfs")).unwrap();
        let config = serde_json::json!({"ociVersion": "1.2.0", "root": {"path": "rootfs"},
            "process": {"args": ["/bin/true"], "cwd": "/", "user": {"uid": 0, "gid": 0}},
            "annotations": {"k": "v"}});
        std::fs::write(dir.path().join("config.json"), config.to_string()).unwrap();
        dir
    }

    #[test]
    fn default_features_claim_only_the_spec_versions() {
        let fake = Fake::default();
        assert_eq!(
            (&fake).features(),
            serde_json::json!({"ociVersionMin": "1.0.0", "ociVersionMax": "1.2.0"})
        );
    }

    #[test]
    fn full_lifecycle() {
        let fake = Fake::default();
        let root = tempfile::tempdir().unwrap();
        let rt = Runtime::new(Store::new(root.path()), &fake);
        let b = bundle();
        let id = ContainerId::new("c1").unwrap();
        let pid_file = root.path().join("pid");
        let opts = CreateOptions { pid_file: Some(pid_file.clone()), ..Default::default() };
        let st = rt.create(&id, b.path(), &opts).unwrap();
        assert_eq!((st.pid, st.status), (Some(42), Status::Created));
        assert_eq!(std::fs::read_to_string(&pid_file).unwrap(), "42");
        assert!(matches!(
            rt.create(&id, b.path(), &opts),
            Err(LifecycleError::Store(StoreError::Exists(_)))
        ));
        let obs = rt.observe(&id).unwrap();
        assert_eq!(obs.status, Status::Created);
        assert_eq!(obs.state.annotations["k"], "v");
        rt.start(&id).unwrap();
        assert_eq!(rt.observe(&id).unwrap().status, Status::Running);
        assert!(matches!(rt.start(&id), Err(LifecycleError::Status { .. })));
        assert!(matches!(rt.delete(&id, false), Err(LifecycleError::Status { .. })));
        rt.kill(&id, 15, false).unwrap();
        assert_eq!(*fake.killed.borrow(), vec![15]);
        fake.alive.set(false);
        assert_eq!(rt.observe(&id).unwrap().status, Status::Stopped);
        assert!(matches!(rt.kill(&id, 15, false), Err(LifecycleError::Status { .. })));
        rt.delete(&id, false).unwrap();
        assert_eq!(*fake.destroyed.borrow(), vec!["c1".to_owned()]);
        assert!(matches!(rt.observe(&id), Err(LifecycleError::Store(StoreError::NotFound(_)))));
    }

    #[test]
    fn failed_create_leaves_nothing() {
        let fake = Fake::default();
        fake.fail_create.set(true);
        let root = tempfile::tempdir().unwrap();
        let rt = Runtime::new(Store::new(root.path()), &fake);
        let b = bundle();
        let id = ContainerId::new("c2").unwrap();
        let e = rt.create(&id, b.path(), &CreateOptions::default()).unwrap_err();
        assert!(e.to_string().contains("mount proc"), "{e}");
        assert_eq!(
            *fake.destroyed.borrow(),
            vec!["c2".to_owned()],
            "recorded resources are released"
        );
        assert!(rt.store.list().unwrap().is_empty());
    }

    #[test]
    fn force_delete_of_running() {
        let fake = Fake::default();
        let root = tempfile::tempdir().unwrap();
        let rt = Runtime::new(Store::new(root.path()), &fake);
        let b = bundle();
        let id = ContainerId::new("c3").unwrap();
        rt.create(&id, b.path(), &CreateOptions::default()).unwrap();
        rt.start(&id).unwrap();
        rt.delete(&id, true).unwrap();
        assert!(!fake.alive.get());
    }

    #[test]
    fn pause_resume_update_stats() {
        let fake = Fake::default();
        let root = tempfile::tempdir().unwrap();
        let rt = Runtime::new(Store::new(root.path()), &fake);
        let b = bundle();
        let id = ContainerId::new("c4").unwrap();
        rt.create(&id, b.path(), &CreateOptions::default()).unwrap();
        rt.start(&id).unwrap();
        assert!(matches!(
            rt.resume(&id),
            Err(LifecycleError::Status { status: Status::Running, .. })
        ));
        rt.pause(&id).unwrap();
        assert_eq!(rt.observe(&id).unwrap().status, Status::Paused);
        assert!(matches!(
            rt.pause(&id),
            Err(LifecycleError::Status { status: Status::Paused, .. })
        ));
        rt.resume(&id).unwrap();
        assert_eq!(rt.observe(&id).unwrap().status, Status::Running);

        let res: LinuxResources =
            serde_json::from_value(serde_json::json!({"pids": {"limit": 7}})).unwrap();
        rt.update(&id, &res).unwrap();
        let saved = rt.observe(&id).unwrap().state.platform;
        assert_eq!(saved["pids"], 7, "update's platform data is persisted");
        assert_eq!(saved["cg"], "c4");

        let ev = rt.stats(&id).unwrap();
        assert_eq!(
            serde_json::to_value(&ev).unwrap(),
            serde_json::json!({"type": "stats", "id": "c4", "data": {"pids": {"current": 1}}})
        );
        assert_eq!(rt.pids(&id).unwrap(), [42]);

        fake.alive.set(false);
        assert!(matches!(
            rt.update(&id, &res),
            Err(LifecycleError::Status { status: Status::Stopped, .. })
        ));
        assert!(matches!(rt.stats(&id), Err(LifecycleError::Status { .. })));
        assert!(matches!(rt.pause(&id), Err(LifecycleError::Status { .. })));
        let mut emit = |_: &Event| -> Result<(), BoxError> { Ok(()) };
        assert!(matches!(
            rt.events(&id, Duration::from_secs(1), &mut emit),
            Err(LifecycleError::Status { .. })
        ));
    }

    #[test]
    fn verbs_a_platform_lacks_are_reported() {
        struct Bare;
        impl Platform for Bare {
            fn create(
                &self,
                _: &CreateRequest<'_>,
                _: &mut dyn FnMut(&Progress) -> Result<(), BoxError>,
            ) -> Result<Progress, BoxError> {
                Ok(Progress { init: Some((1, 1)), platform: serde_json::Value::Null })
            }
            fn start(&self, _: &Path, _: &ContainerState) -> Result<(), BoxError> {
                Ok(())
            }
            fn liveness(&self, _: &Path, _: &ContainerState) -> Liveness {
                Liveness::Running
            }
            fn kill(&self, _: &ContainerState, _: i32, _: bool) -> Result<(), BoxError> {
                Ok(())
            }
            fn destroy(&self, _: &ContainerState) -> Result<(), BoxError> {
                Ok(())
            }
            fn wait_foreground(&self, _: &ContainerState) -> Result<i32, BoxError> {
                Ok(0)
            }
        }
        let root = tempfile::tempdir().unwrap();
        let rt = Runtime::new(Store::new(root.path()), Bare);
        let b = bundle();
        let id = ContainerId::new("c5").unwrap();
        rt.create(&id, b.path(), &CreateOptions::default()).unwrap();
        assert_eq!(
            rt.pause(&id).unwrap_err().to_string(),
            "pause is not supported on this platform"
        );
        assert_eq!(rt.pids(&id).unwrap_err().to_string(), "ps is not supported on this platform");
    }
}
