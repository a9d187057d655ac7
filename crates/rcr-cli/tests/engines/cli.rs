//! The docker-style command line that podman and docker share: the matrix's
//! actions as `run`, `exec`, `top`, `pause`... with the few flags where the
//! two differ.

use std::path::PathBuf;
use std::process::Command;

use crate::cmd::{self, Out};
use crate::image::IMAGE;
use crate::matrix::{Engine, Limits, Runtime, Status};

/// Builds the engine's base command (the binary, inside its namespace or
/// pointed at its socket).
pub type Base = Box<dyn Fn() -> Command>;

pub struct DockerCli {
    pub name: &'static str,
    pub base: Base,
    /// Where command output is collected.
    pub scratch: PathBuf,
    /// Flags every `run` gets (network, cgroup parent).
    pub run_flags: Vec<String>,
}

impl DockerCli {
    pub fn cmd(&self, args: &[&str]) -> Out {
        let mut c = (self.base)();
        c.args(args);
        cmd::run(c, &self.scratch)
    }

    /// `run FLAGS --runtime R --name N [limits] IMAGE ARGS`.
    fn run_command(
        &self,
        flags: &[&str],
        rt: &Runtime,
        name: &str,
        limits: Limits,
        args: &[&str],
    ) -> Command {
        let mut c = (self.base)();
        c.arg("run").args(flags).args(["--runtime", rt.name, "--name", name]);
        c.args(&self.run_flags);
        if let Some(m) = limits.memory {
            c.arg(format!("--memory={m}"));
        }
        if let Some(cpus) = limits.cpus {
            c.arg(format!("--cpus={cpus}"));
        }
        if let Some(p) = limits.pids {
            c.arg(format!("--pids-limit={p}"));
        }
        c.arg(IMAGE).args(args);
        c
    }
}

impl Engine for DockerCli {
    fn name(&self) -> &'static str {
        self.name
    }

    fn run(&self, rt: &Runtime, name: &str, args: &[&str]) -> Out {
        let c = self.run_command(&["--rm"], rt, name, Limits::default(), args);
        cmd::run(c, &self.scratch)
    }

    fn run_tty(&self, rt: &Runtime, name: &str, args: &[&str]) -> Out {
        let c = self.run_command(&["--rm", "--tty"], rt, name, Limits::default(), args);
        cmd::run(cmd::on_a_terminal(&c), &self.scratch)
    }

    fn run_stdin(&self, rt: &Runtime, name: &str, input: &str, args: &[&str]) -> Out {
        let c = self.run_command(&["--rm", "--interactive"], rt, name, Limits::default(), args);
        cmd::run_input(c, &self.scratch, Some(input))
    }

    fn run_detached(&self, rt: &Runtime, name: &str, limits: Limits, args: &[&str]) -> Out {
        cmd::run(self.run_command(&["--detach"], rt, name, limits, args), &self.scratch)
    }

    fn exec(&self, name: &str, tty: bool, args: &[&str]) -> Out {
        let mut all = vec!["exec"];
        if tty {
            all.push("--tty");
        }
        all.push(name);
        all.extend_from_slice(args);
        if !tty {
            return self.cmd(&all);
        }
        let mut c = (self.base)();
        c.args(&all);
        cmd::run(cmd::on_a_terminal(&c), &self.scratch)
    }

    fn exec_as(&self, name: &str, user: &str, workdir: &str, args: &[&str]) -> Out {
        let mut all = vec!["exec", "--user", user, "--workdir", workdir, name];
        all.extend_from_slice(args);
        self.cmd(&all)
    }

    fn top(&self, name: &str, pid: i32) -> Result<(), String> {
        let out = self.cmd(&["top", name]);
        if !out.ok() {
            return Err(out.failure());
        }
        // docker lists host pids, podman the container's own: both list
        // the command.
        let shows = out.stdout.lines().skip(1).any(|l| l.contains("sleep 1000"));
        if shows {
            Ok(())
        } else {
            Err(format!("no `sleep 1000` (host pid {pid}) in the listing: {out}"))
        }
    }

    fn pause(&self, name: &str) -> Out {
        self.cmd(&["pause", name])
    }

    fn unpause(&self, name: &str) -> Out {
        self.cmd(&["unpause", name])
    }

    fn kill(&self, name: &str, signal: &str) -> Out {
        self.cmd(&["kill", "--signal", signal, name])
    }

    fn stop(&self, name: &str) -> Out {
        self.cmd(&["stop", "--time", "5", name])
    }

    fn remove(&self, name: &str) -> Out {
        self.cmd(&["rm", "--force", name])
    }

    fn logs(&self, name: &str) -> Result<String, String> {
        let out = self.cmd(&["logs", name]);
        if out.ok() {
            Ok(format!("{}{}", out.stdout, out.stderr))
        } else {
            Err(out.failure())
        }
    }

    fn update_memory(&self, name: &str, bytes: u64) -> Out {
        let memory = format!("--memory={bytes}");
        // Swap must not be below memory; the same value means no swap.
        let swap = format!("--memory-swap={bytes}");
        self.cmd(&["update", &memory, &swap, name])
    }

    fn status(&self, name: &str) -> Result<Status, String> {
        let out = self.cmd(&["inspect", "--format", "{{.State.Status}} {{.State.Pid}}", name]);
        if !out.ok() {
            let text = out.stderr.to_ascii_lowercase();
            if text.contains("no such") {
                return Ok(Status::Missing);
            }
            return Err(out.failure());
        }
        let text = out.text();
        let mut words = text.split_whitespace();
        let state = words.next().unwrap_or_default();
        let pid = words.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        Ok(match state {
            "running" => Status::Running { pid },
            "paused" => Status::Paused { pid },
            "exited" | "stopped" => Status::Exited,
            other => Status::Other(other.to_owned()),
        })
    }

    fn wait(&self, name: &str) -> Result<i32, String> {
        let out = self.cmd(&["wait", name]);
        if !out.ok() {
            return Err(out.failure());
        }
        out.text().lines().last().and_then(|l| l.trim().parse().ok()).ok_or_else(|| out.failure())
    }
}
