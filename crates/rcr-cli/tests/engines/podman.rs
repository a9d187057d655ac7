//! podman (with conmon), rootful, in its own mount namespace: its config
//! directory `/etc/containers`, `/run` (runroot, libpod's tmp dir, the
//! runtimes' state) and `/dev/shm` (libpod's lock) are private there;
//! storage lives in the session's directory.
//!
//! rcr is registered by name in `containers.conf` and listed in
//! `runtime_supports_json`, so podman passes it `--log-format=json` and
//! shows the last JSON error line of its log to the user.

use std::path::Path;

use crate::cli::DockerCli;
use crate::matrix::Runtime;
use crate::session::Session;

pub struct Podman {
    pub cli: DockerCli,
    /// Torn down after the containers are removed.
    _session: Session,
}

/// podman's default RLIMIT_NOFILE (1048576) and RLIMIT_NPROC are above what
/// a container may get on hosts whose own hard limits are lower (as in a
/// sandbox without CAP_SYS_RESOURCE); these fit under any.
const ULIMITS: &str = r#"["nofile=1024:1024", "nproc=1024:1024"]"#;

impl Podman {
    pub fn start(runtimes: &[Runtime], image_tar: &Path) -> Result<Podman, String> {
        let session = Session::new("podman")?;
        let dir = session.dir().to_owned();
        let etc = session.subdir("etc-containers")?;
        let run = session.subdir("run")?;
        let tmp = session.subdir("tmp")?;
        let conmon = rcr_testkit::which("conmon").ok_or("conmon is not installed")?;

        let mut runtimes_table = String::new();
        for rt in runtimes {
            runtimes_table.push_str(&format!("{} = [{:?}]\n", rt.name, rt.path));
        }
        let names: Vec<String> = runtimes.iter().map(|rt| format!("{:?}", rt.name)).collect();
        session.write(
            &etc.join("containers.conf"),
            &format!(
                r#"[containers]
default_ulimits = {ULIMITS}
netns = "none"
log_driver = "k8s-file"

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "{events}"
image_copy_tmp_dir = "{tmp}"
tmp_dir = "/run/libpod"
conmon_path = [{conmon:?}]
runtime = "runc"
# `rm -f` waits this long for a container to exit on SIGTERM before SIGKILL.
stop_timeout = 1
runtime_supports_json = [{names}]

[engine.runtimes]
{runtimes_table}
[network]
network_config_dir = "{cni}"
"#,
                events = dir.join("events.log").display(),
                tmp = tmp.display(),
                names = names.join(", "),
                cni = dir.join("cni").display(),
            ),
        )?;
        session.write(
            &etc.join("storage.conf"),
            &format!(
                "[storage]\ndriver = \"overlay\"\ngraphroot = \"{}\"\nrunroot = \"/run/containers/storage\"\n",
                dir.join("storage").display()
            ),
        )?;
        session.write(
            &etc.join("policy.json"),
            r#"{"default": [{"type": "insecureAcceptAnything"}]}"#,
        )?;
        session.write(&etc.join("registries.conf"), "unqualified-search-registries = []\n")?;

        let scratch = session.scratch();
        let ns = session.ns();
        ns.bind(&etc, "/etc/containers", &scratch)?;
        ns.bind(&run, "/run", &scratch)?;
        ns.tmpfs("/dev/shm", &scratch)?;

        let launch = ns.launcher();
        let cli = DockerCli {
            name: "podman",
            base: Box::new(move || launch("podman".as_ref())),
            scratch,
            run_flags: vec![
                "--network=none".into(),
                format!("--cgroup-parent={}", session.cgroup_parent),
            ],
        };
        let loaded = cli.cmd(&["load", "--input", &image_tar.to_string_lossy()]);
        if !loaded.ok() {
            return Err(format!("podman load: {loaded}"));
        }
        Ok(Podman { cli, _session: session })
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let out = self.cli.cmd(&["rm", "--all", "--force", "--time", "0"]);
        if !out.ok() {
            eprintln!("podman teardown: {out}");
        }
    }
}
