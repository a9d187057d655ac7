//! containerd with its own root, state and sockets, without the CRI plugin,
//! driven by `ctr`. Containers run through the runc shim v2
//! (`io.containerd.runc.v2`) with `--runc-binary` naming the runtime. The
//! shim's sockets (`/run/containerd/s`) and ctr's fifos
//! (`/run/containerd/fifo`) are fixed paths, so containerd and every ctr
//! call run in the session's mount namespace, where `/run` is private.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::cmd::{self, Out};
use crate::image::IMAGE;
use crate::matrix::{Cell, Engine, Limits, Runtime, Status, Unsupported};
use crate::session::Session;

pub struct Containerd {
    base: Box<dyn Fn() -> Command>,
    scratch: PathBuf,
    logs: PathBuf,
    cgroup_parent: String,
    /// Torn down after the containers are deleted.
    _session: Session,
}

impl Containerd {
    pub fn start(image_tar: &Path) -> Result<Containerd, String> {
        let mut session = Session::new("containerd")?;
        let dir = session.dir().to_owned();
        let run = session.subdir("run")?;
        let logs = session.subdir("logs")?;
        let socket = dir.join("containerd.sock");
        let config = dir.join("config.toml");
        session.write(
            &config,
            &format!(
                r#"version = 2
root = "{root}"
state = "{state}"
disabled_plugins = [
  "io.containerd.grpc.v1.cri",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
]

[grpc]
  address = "{socket}"

[ttrpc]
  address = "{socket}.ttrpc"
"#,
                root = dir.join("root").display(),
                state = dir.join("state").display(),
                socket = socket.display(),
            ),
        )?;
        let scratch = session.scratch();
        session.ns().bind(&run, "/run", &scratch)?;

        let launch = session.ns().launcher();
        let address = socket.display().to_string();
        let base = move || {
            let mut c = launch("ctr".as_ref());
            c.args(["--address", &address, "--namespace", "rcr-tests"]);
            c
        };
        let mut daemon = session.ns().command("containerd");
        daemon.arg("--config").arg(&config);
        let probe = base.clone();
        let scratch_probe = scratch.clone();
        session.start_daemon(daemon, move || {
            let mut c = probe();
            c.arg("version");
            cmd::run(c, &scratch_probe).ok()
        })?;

        let cgroup_parent = session.cgroup_parent.clone();
        let me =
            Containerd { base: Box::new(base), scratch, logs, cgroup_parent, _session: session };
        let loaded = me.ctr(&["images", "import", &image_tar.to_string_lossy()]);
        if !loaded.ok() {
            return Err(format!("ctr images import: {loaded}"));
        }
        Ok(me)
    }

    fn ctr(&self, args: &[&str]) -> Out {
        let mut c = (self.base)();
        c.args(args);
        cmd::run(c, &self.scratch)
    }

    /// `ctr run FLAGS --runc-binary R --cgroup P [limits] IMAGE NAME ARGS`.
    fn run_command(
        &self,
        flags: &[&str],
        rt: &Runtime,
        name: &str,
        limits: Limits,
        args: &[&str],
    ) -> Command {
        let mut c = (self.base)();
        c.arg("run").args(flags).arg(format!("--runc-binary={}", rt.path.display()));
        c.arg(format!("--cgroup={}/{name}", self.cgroup_parent));
        if let Some(m) = limits.memory {
            c.arg(format!("--memory-limit={m}"));
        }
        if let Some(cpus) = limits.cpus {
            c.arg(format!("--cpus={cpus}"));
        }
        c.args([IMAGE, name]).args(args);
        c
    }

    /// Runs a foreground `ctr run --rm`; a failed create leaves the
    /// container record behind, so it is deleted either way.
    fn run_foreground(&self, c: Command, input: Option<&str>, name: &str) -> Out {
        let out = cmd::run_input(c, &self.scratch, input);
        let _ = self.ctr(&["containers", "delete", name]);
        out
    }

    fn task_rows(&self) -> Result<Vec<(String, i32, String)>, String> {
        let out = self.ctr(&["tasks", "list"]);
        if !out.ok() {
            return Err(out.failure());
        }
        Ok(out
            .text()
            .lines()
            .skip(1)
            .filter_map(|l| {
                let mut w = l.split_whitespace();
                Some((w.next()?.to_owned(), w.next()?.parse().ok()?, w.next()?.to_owned()))
            })
            .collect())
    }

    fn log_file(&self, name: &str) -> PathBuf {
        self.logs.join(format!("{name}.log"))
    }

    /// Deletes the stopped task, the way ctr reports its exit code.
    fn delete_task(&self, name: &str) -> Result<i32, String> {
        let out = self.ctr(&["tasks", "delete", name]);
        if !out.ok() {
            return Err(out.failure());
        }
        let marker = "exit with non-zero exit code ";
        let code = match out.stderr.find(marker) {
            Some(at) => {
                let rest = &out.stderr[at + marker.len()..];
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                digits.parse().map_err(|_| out.failure())?
            }
            None => 0,
        };
        Ok(code)
    }
}

impl Engine for Containerd {
    fn name(&self) -> &'static str {
        "containerd"
    }

    fn unsupported(&self, cell: Cell) -> Option<Unsupported> {
        match cell {
            Cell::PidsLimit => Some("ctr run has no pids limit flag"),
            Cell::Update => Some("ctr 1.6 has no update command"),
            _ => None,
        }
    }

    fn run(&self, rt: &Runtime, name: &str, args: &[&str]) -> Out {
        let c = self.run_command(&["--rm"], rt, name, Limits::default(), args);
        self.run_foreground(c, None, name)
    }

    fn run_tty(&self, rt: &Runtime, name: &str, args: &[&str]) -> Out {
        let c = self.run_command(&["--rm", "--tty"], rt, name, Limits::default(), args);
        self.run_foreground(cmd::on_a_terminal(&c), None, name)
    }

    /// ctr passes its stdin on without being asked.
    fn run_stdin(&self, rt: &Runtime, name: &str, input: &str, args: &[&str]) -> Out {
        let c = self.run_command(&["--rm"], rt, name, Limits::default(), args);
        self.run_foreground(c, Some(input), name)
    }

    /// Detached, the container's output goes to a log file (`logs` reads it).
    fn run_detached(&self, rt: &Runtime, name: &str, limits: Limits, args: &[&str]) -> Out {
        let log = format!("--log-uri=file://{}", self.log_file(name).display());
        cmd::run(self.run_command(&["--detach", &log], rt, name, limits, args), &self.scratch)
    }

    fn exec(&self, name: &str, tty: bool, args: &[&str]) -> Out {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let exec_id = format!("exec-{}", NEXT.fetch_add(1, Ordering::Relaxed));
        let mut all = vec!["tasks", "exec", "--exec-id", &exec_id];
        if tty {
            all.push("--tty");
        }
        all.push(name);
        all.extend_from_slice(args);
        let mut c = (self.base)();
        c.args(&all);
        if tty {
            c = cmd::on_a_terminal(&c);
        }
        cmd::run(c, &self.scratch)
    }

    fn exec_as(&self, name: &str, user: &str, workdir: &str, args: &[&str]) -> Out {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let exec_id = format!("exec-as-{}", NEXT.fetch_add(1, Ordering::Relaxed));
        let mut all =
            vec!["tasks", "exec", "--exec-id", &exec_id, "--user", user, "--cwd", workdir, name];
        all.extend_from_slice(args);
        self.ctr(&all)
    }

    fn top(&self, name: &str, pid: i32) -> Result<(), String> {
        let out = self.ctr(&["tasks", "ps", name]);
        if !out.ok() {
            return Err(out.failure());
        }
        let listed = out
            .text()
            .lines()
            .skip(1)
            .any(|l| l.split_whitespace().next() == Some(&pid.to_string()));
        if listed {
            Ok(())
        } else {
            Err(format!("pid {pid} is not listed: {out}"))
        }
    }

    fn pause(&self, name: &str) -> Out {
        self.ctr(&["tasks", "pause", name])
    }

    fn unpause(&self, name: &str) -> Out {
        self.ctr(&["tasks", "resume", name])
    }

    fn kill(&self, name: &str, signal: &str) -> Out {
        self.ctr(&["tasks", "kill", "--signal", &format!("SIG{signal}"), name])
    }

    /// ctr has no stop: it is SIGTERM, which is what `docker stop` sends first.
    fn stop(&self, name: &str) -> Out {
        self.ctr(&["tasks", "kill", "--signal", "SIGTERM", name])
    }

    fn remove(&self, name: &str) -> Out {
        let task = self.ctr(&["tasks", "delete", "--force", name]);
        if !task.ok() && !task.stderr.contains("not found") {
            return task;
        }
        self.ctr(&["containers", "delete", name])
    }

    fn logs(&self, name: &str) -> Result<String, String> {
        let file = self.log_file(name);
        fs::read_to_string(&file).map_err(|e| format!("read {}: {e}", file.display()))
    }

    fn update_memory(&self, _name: &str, _bytes: u64) -> Out {
        unreachable!("Cell::Update is unsupported with ctr")
    }

    fn status(&self, name: &str) -> Result<Status, String> {
        if let Some((_, pid, status)) = self.task_rows()?.into_iter().find(|(n, ..)| n == name) {
            return Ok(match status.as_str() {
                "RUNNING" => Status::Running { pid },
                "PAUSED" => Status::Paused { pid },
                "STOPPED" => Status::Exited,
                other => Status::Other(other.to_owned()),
            });
        }
        let out = self.ctr(&["containers", "list", "--quiet"]);
        if !out.ok() {
            return Err(out.failure());
        }
        if out.text().lines().any(|l| l.trim() == name) {
            Ok(Status::Other("container without a task".into()))
        } else {
            Ok(Status::Missing)
        }
    }

    fn wait(&self, name: &str) -> Result<i32, String> {
        let mut last = Ok(Status::Missing);
        let stopped = rcr_testkit::wait_until(Duration::from_secs(20), || {
            last = self.status(name);
            matches!(last, Ok(Status::Exited))
        });
        if !stopped {
            return Err(format!("task {name} did not stop; last status {last:?}"));
        }
        self.delete_task(name)
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        let names: Vec<String> = self
            .ctr(&["containers", "list", "--quiet"])
            .text()
            .lines()
            .map(str::to_owned)
            .collect();
        for name in names {
            let _ = self.ctr(&["tasks", "delete", "--force", &name]);
            let _ = self.ctr(&["containers", "delete", &name]);
        }
    }
}
