//! dockerd with its own data root, exec root, pid file and socket, the
//! cgroupfs driver and no networking set-up (no bridge, no iptables). It
//! runs in its own mount namespace because its managed containerd and the
//! runc shim keep sockets under `/run/containerd` and it writes
//! `/etc/docker`; the client reaches it through the socket in the session's
//! directory.
//!
//! rcr is added with `--add-runtime`, so containers run through
//! containerd's runc shim with rcr as its binary: the shim passes
//! `--log-format json`, sends `update --resources -` on stdin and follows
//! every delete with `delete --force`; dockerd adds its libnetwork-setkey
//! prestart hook to every container.

use std::path::Path;
use std::process::Command;

use crate::cli::DockerCli;
use crate::matrix::Runtime;
use crate::session::Session;

pub struct Docker {
    pub cli: DockerCli,
    _session: Session,
}

impl Docker {
    pub fn start(runtimes: &[Runtime], image_tar: &Path) -> Result<Docker, String> {
        let mut session = Session::new("docker")?;
        let dir = session.dir().to_owned();
        let run = session.subdir("run")?;
        let etc = session.subdir("etc-docker")?;
        let data = session.subdir("data")?;
        let exec = session.subdir("exec")?;
        let client_config = session.subdir("client")?;
        let config = dir.join("daemon.json");
        session.write(&config, "{}\n")?;
        let scratch = session.scratch();
        session.ns().bind(&run, "/run", &scratch)?;
        session.ns().bind(&etc, "/etc/docker", &scratch)?;

        let socket = dir.join("docker.sock");
        let client = rcr_testkit::which("/usr/bin/docker")
            .or_else(|| rcr_testkit::which("docker"))
            .ok_or("the docker client is not installed")?;
        let host = format!("unix://{}", socket.display());
        let base = move || {
            let mut c = Command::new(&client);
            c.env("DOCKER_CONFIG", &client_config).arg("--host").arg(&host);
            c
        };

        let mut daemon = session.ns().command("dockerd");
        daemon
            .arg("--config-file")
            .arg(&config)
            .arg("--data-root")
            .arg(&data)
            .arg("--exec-root")
            .arg(&exec)
            .arg("--pidfile")
            .arg(dir.join("docker.pid"))
            .arg("--host")
            .arg(format!("unix://{}", socket.display()))
            .args(["--bridge=none", "--iptables=false", "--ip6tables=false", "--ip-masq=false"])
            .args(["--ip-forward=false", "--storage-driver=overlay2"])
            .args(["--exec-opt", "native.cgroupdriver=cgroupfs"])
            .arg(format!("--cgroup-parent={}", session.cgroup_parent));
        for rt in runtimes.iter().filter(|rt| rt.name != "runc") {
            daemon.arg(format!("--add-runtime={}={}", rt.name, rt.path.display()));
        }
        let probe = base.clone();
        let scratch_probe = scratch.clone();
        session.start_daemon(daemon, move || {
            let mut c = probe();
            c.arg("version");
            crate::cmd::run(c, &scratch_probe).ok()
        })?;

        let cli = DockerCli {
            name: "docker",
            base: Box::new(base),
            scratch,
            run_flags: vec!["--network=none".into()],
        };
        let loaded = cli.cmd(&["load", "--input", &image_tar.to_string_lossy()]);
        if !loaded.ok() {
            return Err(format!("docker load: {loaded}"));
        }
        Ok(Docker { cli, _session: session })
    }
}

impl Drop for Docker {
    fn drop(&mut self) {
        let all = self.cli.cmd(&["ps", "--all", "--quiet"]);
        let ids: Vec<String> = all.text().lines().map(str::to_owned).collect();
        if !ids.is_empty() {
            let mut args = vec!["rm", "--force"];
            args.extend(ids.iter().map(String::as_str));
            let out = self.cli.cmd(&args);
            if !out.ok() {
                eprintln!("docker teardown: {out}");
            }
        }
    }
}
