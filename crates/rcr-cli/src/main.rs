//! `rcr`: an OCI container runtime with runc's command line.
//!
//! This file parses the command line, sets up logging, runs one verb and
//! renders its error exactly once: one line on stderr and, with `--log`, one
//! error record as the log's last line.

mod cgroup_cmds;
mod checkpoint;
mod demo;
mod logging;
mod spec_cmd;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use rcr_core::{ContainerId, CreateOptions, Observed, Platform, Runtime, Store};

use logging::LogFormat;

/// The platform backend: the one place that picks it.
#[cfg(target_os = "linux")]
type Backend = rcr_linux::Linux;

#[derive(Debug, Parser)]
#[command(name = "rcr", about = "An OCI container runtime", disable_version_flag = true)]
struct Cli {
    /// Directory for container state (default /run/rcr, or $XDG_RUNTIME_DIR/rcr when not root).
    #[arg(long, global = true, value_name = "DIR")]
    root: Option<PathBuf>,
    /// Write logs to FILE instead of stderr.
    #[arg(long, global = true, value_name = "FILE")]
    log: Option<PathBuf>,
    /// Log format.
    #[arg(long, global = true, value_enum, default_value = "text")]
    log_format: LogFormat,
    /// Log debug records.
    #[arg(long, global = true)]
    debug: bool,
    /// Use systemd to manage cgroups (cgroupsPath is slice:prefix:name).
    #[arg(long, global = true)]
    systemd_cgroup: bool,
    /// Accepted for runc compatibility; rcr detects rootless mode itself.
    #[arg(long = "rootless", id = "global_rootless", hide = true, value_name = "true|false|auto", num_args = 0..=1, default_missing_value = "true")]
    rootless: Option<String>,
    /// Accepted for runc compatibility (checkpointing is not supported).
    #[arg(long, global = true, hide = true)]
    criu: Option<String>,
    /// Print the version.
    #[arg(short = 'v', long)]
    version: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Args)]
struct CreateArgs {
    /// Container id.
    id: String,
    /// Path to the bundle directory.
    #[arg(short, long, default_value = ".")]
    bundle: PathBuf,
    /// Write the init's pid to FILE.
    #[arg(long, value_name = "FILE")]
    pid_file: Option<PathBuf>,
    /// Use MS_MOVE and chroot instead of pivot_root.
    #[arg(long)]
    no_pivot: bool,
    /// Do not create a session keyring for the container.
    #[arg(long)]
    no_new_keyring: bool,
    /// Pass N extra fds (from 3 on) to the container.
    #[arg(long, default_value_t = 0, value_name = "N")]
    preserve_fds: u32,
    /// Unix socket to send a terminal's master fd to.
    #[arg(long, value_name = "PATH")]
    console_socket: Option<PathBuf>,
}

// Deferred: only the invoked subcommand's arguments are built (the whole
// tree cost ~250 KB of heap and its code at every start).
#[derive(Debug, Subcommand)]
#[command(defer = true)]
enum Command {
    /// Write a default config.json.
    Spec {
        #[arg(short, long, default_value = ".")]
        bundle: PathBuf,
        /// A spec for an unprivileged user.
        #[arg(long)]
        rootless: bool,
    },
    /// Create a container (its process waits for `start`).
    Create(CreateArgs),
    /// Start a created container's process.
    Start { id: String },
    /// Print a container's state as JSON.
    State { id: String },
    /// Send a signal (default SIGTERM) to a container.
    Kill {
        id: String,
        signal: Option<String>,
        /// Signal every process of the container.
        #[arg(short, long)]
        all: bool,
    },
    /// Delete a container.
    Delete {
        id: String,
        /// Kill a running container first; a missing one is not an error.
        #[arg(short, long)]
        force: bool,
    },
    /// Create and start a container; wait for it unless --detach.
    Run {
        #[command(flatten)]
        create: CreateArgs,
        /// Do not wait for the container.
        #[arg(short, long)]
        detach: bool,
        /// Keep the container's state after it exits.
        #[arg(long)]
        keep: bool,
        /// Accepted for runc compatibility: rcr never makes itself a subreaper.
        #[arg(long)]
        no_subreaper: bool,
    },
    /// Print the runtime-spec features document of rcr on this host.
    Features,
    /// Checkpoint a running container (not supported: CRIU is not integrated).
    Checkpoint(checkpoint::CheckpointArgs),
    /// Restore a container from a checkpoint (not supported: CRIU is not integrated).
    Restore(checkpoint::RestoreArgs),
    /// Run a demo container from the host's static busybox (not a runc verb).
    Demo {
        /// Build the demo bundle here and keep it (default: a temporary directory).
        #[arg(short, long)]
        bundle: Option<PathBuf>,
    },
    /// Run a further process in a running container.
    Exec(Box<ExecArgs>),
    /// Change a container's resource limits.
    Update(Box<cgroup_cmds::UpdateArgs>),
    /// Freeze every process of a container.
    Pause { id: String },
    /// Thaw a paused container.
    Resume { id: String },
    /// Print a container's stats every interval and its OOM events, as JSON lines.
    Events {
        id: String,
        /// Time between stats records.
        #[arg(long, default_value = "5s", value_parser = cgroup_cmds::parse_interval)]
        interval: std::time::Duration,
        /// Print one stats record and exit.
        #[arg(long)]
        stats: bool,
    },
    /// List a container's processes (`ps` options may follow the id).
    Ps {
        #[arg(short, long, value_enum, default_value = "table")]
        format: ListFormat,
        id: String,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, value_name = "PS_OPTIONS")]
        ps_options: Vec<String>,
    },
    /// List containers.
    #[command(alias = "ls")]
    List {
        #[arg(short, long, value_enum, default_value = "table")]
        format: ListFormat,
        /// Print ids only.
        #[arg(short, long)]
        quiet: bool,
    },
}

#[derive(Debug, Args)]
struct ExecArgs {
    /// Container id.
    id: String,
    /// The program and its arguments (or use --process).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
    /// A process.json to run instead of COMMAND.
    #[arg(short, long, value_name = "FILE")]
    process: Option<PathBuf>,
    /// Allocate a terminal.
    #[arg(short, long)]
    tty: bool,
    /// Unix socket to send the terminal's master fd to.
    #[arg(long, value_name = "PATH")]
    console_socket: Option<PathBuf>,
    /// Do not wait for the process.
    #[arg(short, long)]
    detach: bool,
    /// Write the process's pid to FILE.
    #[arg(long, value_name = "FILE")]
    pid_file: Option<PathBuf>,
    /// Add KEY=VALUE to the environment.
    #[arg(short, long, value_name = "KEY=VALUE")]
    env: Vec<String>,
    /// Working directory in the container.
    #[arg(long)]
    cwd: Option<String>,
    /// uid[:gid] to run as.
    #[arg(short, long, value_name = "UID[:GID]")]
    user: Option<String>,
    /// Additional gids.
    #[arg(short = 'g', long, value_delimiter = ',')]
    additional_gids: Vec<u32>,
    /// Add a capability to the bounding, effective and permitted sets.
    #[arg(short, long)]
    cap: Vec<String>,
    /// Set no_new_privs.
    #[arg(long)]
    no_new_privs: bool,
    /// AppArmor profile.
    #[arg(long)]
    apparmor: Option<String>,
    /// SELinux process label.
    #[arg(long)]
    process_label: Option<String>,
    /// Pass N extra fds (from 3 on) to the process.
    #[arg(long, default_value_t = 0, value_name = "N")]
    preserve_fds: u32,
    /// Run in a paused container.
    #[arg(long)]
    ignore_paused: bool,
    /// Sub-cgroup to run the process in.
    #[arg(long)]
    cgroup: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ListFormat {
    Table,
    Json,
}

/// An error rendered once by `main`: `what` is the verb and id it concerns.
struct Failure {
    what: String,
    message: String,
}

fn fail(what: impl Into<String>, e: impl std::fmt::Display) -> Failure {
    Failure { what: what.into(), message: e.to_string() }
}

fn default_root() -> PathBuf {
    if nix::unistd::geteuid().is_root() {
        return PathBuf::from("/run/rcr");
    }
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(dir) if !dir.is_empty() => Path::new(&dir).join("rcr"),
        _ => std::env::temp_dir().join(format!("rcr-{}", nix::unistd::geteuid())),
    }
}

fn version() -> String {
    format!(
        "rcr version {}\ncommit: {}\nspec: {}\n",
        env!("CARGO_PKG_VERSION"),
        env!("RCR_COMMIT"),
        rcr_core::OCI_VERSION
    )
}

fn parse_id(verb: &str, id: &str) -> Result<ContainerId, Failure> {
    ContainerId::new(id).map_err(|e| fail(verb, e))
}

/// Signal names with or without `SIG`, any case, or numbers.
fn parse_signal(s: &str) -> Result<i32, String> {
    if let Ok(n) = s.parse::<i32>() {
        return if (1..=64).contains(&n) {
            Ok(n)
        } else {
            Err(format!("invalid signal number {n}"))
        };
    }
    let upper = s.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") { upper } else { format!("SIG{upper}") };
    if let Some(off) = name.strip_prefix("SIGRTMIN+").and_then(|n| n.parse::<i32>().ok()) {
        return Ok(libc::SIGRTMIN() + off);
    }
    if let Some(off) = name.strip_prefix("SIGRTMAX-").and_then(|n| n.parse::<i32>().ok()) {
        return Ok(libc::SIGRTMAX() - off);
    }
    name.parse::<nix::sys::signal::Signal>()
        .map(|s| s as i32)
        .map_err(|_| format!("unknown signal {s:?}"))
}

fn create_options(a: &CreateArgs, systemd: bool) -> Result<CreateOptions, Failure> {
    Ok(CreateOptions {
        pid_file: a.pid_file.as_ref().map(|p| absolute(p)),
        listen_fds: listen_fds(),
        no_pivot: a.no_pivot,
        no_new_keyring: a.no_new_keyring,
        preserve_fds: a.preserve_fds,
        systemd_cgroup: systemd,
        console_socket: a.console_socket.clone(),
    })
}

/// Socket-activation fds meant for us (`LISTEN_FDS`, with `LISTEN_PID`
/// naming this process when set), handed on to the container as runc does.
fn listen_fds() -> u32 {
    let for_us = std::env::var("LISTEN_PID").map_or(true, |p| p == std::process::id().to_string());
    match std::env::var("LISTEN_FDS") {
        Ok(n) if for_us => n.parse().unwrap_or(0),
        _ => 0,
    }
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_owned())
}

fn print_list(rt: &Runtime<Backend>, format: ListFormat, quiet: bool) -> Result<(), Failure> {
    let all: Vec<Observed> = rt.list().map_err(|e| fail("list", e))?;
    if quiet {
        for o in &all {
            println!("{}", o.state.id);
        }
        return Ok(());
    }
    match format {
        ListFormat::Json => {
            let docs: Vec<_> = all.iter().map(|o| o.state.oci_state(o.status)).collect();
            println!("{}", serde_json::Value::Array(docs));
        }
        ListFormat::Table => {
            let rows: Vec<[String; 6]> = all
                .iter()
                .map(|o| {
                    let pid = if o.status == rcr_core::Status::Stopped {
                        0
                    } else {
                        o.state.pid.unwrap_or(0)
                    };
                    [
                        o.state.id.clone(),
                        pid.to_string(),
                        o.status.to_string(),
                        o.state.bundle.display().to_string(),
                        o.state.created.clone(),
                        if o.state.owner.is_empty() {
                            "root".to_owned()
                        } else {
                            o.state.owner.clone()
                        },
                    ]
                })
                .collect();
            let header = ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"].map(str::to_owned);
            let mut widths = header.clone().map(|h| h.len());
            for r in &rows {
                for (w, c) in widths.iter_mut().zip(r) {
                    *w = (*w).max(c.len());
                }
            }
            for r in std::iter::once(&header).chain(&rows) {
                let line: Vec<String> = r
                    .iter()
                    .zip(widths)
                    .map(|(c, w)| format!("{c:<width$}", width = w + 3))
                    .collect();
                println!("{}", line.concat().trim_end());
            }
        }
    }
    Ok(())
}

fn run_command(cli: &Cli, command: &Command) -> Result<ExitCode, Failure> {
    let store = Store::new(cli.root.clone().unwrap_or_else(default_root));
    let rt = Runtime::new(store, Backend::default());
    match command {
        Command::Spec { bundle, rootless } => {
            spec_cmd::write(bundle, *rootless).map_err(|e| fail("spec", e))?;
        }
        Command::Create(a) => {
            let what = format!("create {}", a.id);
            // A bad id is refused before anything is touched.
            let id = parse_id(&what, &a.id)?;
            rt.platform.protect_runtime(rt.store.root()).map_err(|e| fail(&what, e))?;
            let opts = create_options(a, cli.systemd_cgroup)?;
            rt.create(&id, &a.bundle, &opts).map_err(|e| fail(&what, e))?;
        }
        Command::Start { id } => {
            let what = format!("start {id}");
            rt.start(&parse_id(&what, id)?).map_err(|e| fail(&what, e))?;
        }
        Command::State { id } => {
            let what = format!("state {id}");
            let obs = rt.observe(&parse_id(&what, id)?).map_err(|e| fail(&what, e))?;
            let doc = obs.state.oci_state(obs.status);
            println!("{}", serde_json::to_string_pretty(&doc).expect("state serializes"));
        }
        Command::Kill { id, signal, all } => {
            let what = format!("kill {id}");
            let signal =
                parse_signal(signal.as_deref().unwrap_or("SIGTERM")).map_err(|e| fail(&what, e))?;
            rt.kill(&parse_id(&what, id)?, signal, *all).map_err(|e| fail(&what, e))?;
        }
        Command::Delete { id, force } => {
            let what = format!("delete {id}");
            let id = parse_id(&what, id)?;
            match rt.delete(&id, *force) {
                Ok(()) => {}
                Err(rcr_core::LifecycleError::Store(rcr_core::StoreError::NotFound(_)))
                    if *force => {}
                Err(e) => return Err(fail(&what, e)),
            }
        }
        Command::Update(a) => {
            let what = format!("update {}", a.id);
            let id = parse_id(&what, &a.id)?;
            let resources = cgroup_cmds::update_resources(a).map_err(|e| fail(&what, e))?;
            rt.update(&id, &resources).map_err(|e| fail(&what, e))?;
        }
        Command::Pause { id } => {
            let what = format!("pause {id}");
            rt.pause(&parse_id(&what, id)?).map_err(|e| fail(&what, e))?;
        }
        Command::Resume { id } => {
            let what = format!("resume {id}");
            rt.resume(&parse_id(&what, id)?).map_err(|e| fail(&what, e))?;
        }
        Command::Events { id, interval, stats } => {
            let what = format!("events {id}");
            let id = parse_id(&what, id)?;
            if *stats {
                let event = rt.stats(&id).map_err(|e| fail(&what, e))?;
                cgroup_cmds::print_event(&event).map_err(|e| fail(&what, e))?;
            } else {
                rt.events(&id, *interval, &mut cgroup_cmds::print_event)
                    .map_err(|e| fail(&what, e))?;
            }
        }
        Command::Ps { format, id, ps_options } => {
            let what = format!("ps {id}");
            let pids = rt.pids(&parse_id(&what, id)?).map_err(|e| fail(&what, e))?;
            match format {
                ListFormat::Json if !ps_options.is_empty() => {
                    return Err(fail(&what, "ps options cannot be combined with --format json"))
                }
                ListFormat::Json => println!("{}", serde_json::json!(pids)),
                ListFormat::Table => {
                    print!(
                        "{}",
                        cgroup_cmds::ps_table(ps_options, &pids).map_err(|e| fail(&what, e))?
                    );
                }
            }
        }
        Command::Run { create, detach, keep, no_subreaper: _ } => {
            return run(&rt, cli, create, *detach, *keep)
        }
        Command::Exec(a) => return exec(&rt, a),
        Command::List { format, quiet } => print_list(&rt, *format, *quiet)?,
        Command::Demo { bundle } => return demo(&rt, cli, bundle.as_deref()),
        Command::Features => {
            let mut doc = rt.platform.features();
            if let Some(a) = doc.get_mut("annotations").and_then(|a| a.as_object_mut()) {
                a.insert("org.opencontainers.rcr.commit".into(), env!("RCR_COMMIT").into());
            }
            println!("{}", serde_json::to_string_pretty(&doc).expect("features serialize"));
        }
        Command::Checkpoint(a) => {
            return Err(fail(format!("checkpoint {}", a.common.id), checkpoint::NOT_SUPPORTED))
        }
        Command::Restore(a) => {
            return Err(fail(format!("restore {}", a.common.id), checkpoint::NOT_SUPPORTED))
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `exec`: a further process in the container, waited for unless detached.
fn exec(rt: &Runtime<Backend>, a: &ExecArgs) -> Result<ExitCode, Failure> {
    let what = format!("exec {}", a.id);
    let id = parse_id(&what, &a.id)?;
    rt.platform.protect_runtime(rt.store.root()).map_err(|e| fail(&what, e))?;
    let process = match &a.process {
        Some(path) => {
            let text = std::fs::read(path)
                .map_err(|e| fail(&what, format!("read {}: {e}", path.display())))?;
            rcr_core::exec::from_file_text(&text, path).map_err(|e| fail(&what, e))?
        }
        None => {
            let state = rt.observe(&id).map_err(|e| fail(&what, e))?.state;
            let spec = state.recorded_spec().map_err(|e| fail(&what, e))?;
            let base = spec.as_ref().and_then(|s| s.process().clone());
            let overrides = rcr_core::exec::ExecOverrides {
                args: a.command.clone(),
                env: a.env.clone(),
                cwd: a.cwd.clone(),
                user: a.user.clone(),
                additional_gids: a.additional_gids.clone(),
                tty: a.tty,
                caps: a.cap.clone(),
                no_new_privs: a.no_new_privs,
                apparmor: a.apparmor.clone(),
                process_label: a.process_label.clone(),
            };
            rcr_core::exec::with_overrides(base.as_ref(), &overrides).map_err(|e| fail(&what, e))?
        }
    };
    let opts = rcr_core::ExecOptions {
        detach: a.detach,
        pid_file: a.pid_file.as_ref().map(|p| absolute(p)),
        console_socket: a.console_socket.clone(),
        preserve_fds: a.preserve_fds,
        cgroup: a.cgroup.clone(),
        ignore_paused: a.ignore_paused,
    };
    if !a.detach {
        if a.console_socket.is_some() {
            return Err(fail(
                &what,
                "--console-socket needs --detach (the terminal would have no reader)",
            ));
        }
        rt.platform.prepare_foreground().map_err(|e| fail(&what, e))?;
    }
    let code = rt.exec(&id, &process, &opts).map_err(|e| fail(&what, e))?;
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(255)))
}

/// `run`: create, start and, unless detached, wait and delete.
fn run(
    rt: &Runtime<Backend>,
    cli: &Cli,
    a: &CreateArgs,
    detach: bool,
    keep: bool,
) -> Result<ExitCode, Failure> {
    let what = format!("run {}", a.id);
    let id = parse_id(&what, &a.id)?;
    rt.platform.protect_runtime(rt.store.root()).map_err(|e| fail(&what, e))?;
    let opts = create_options(a, cli.systemd_cgroup)?;
    if !detach && opts.console_socket.is_some() {
        // As runc: in the foreground, rcr itself relays the terminal.
        return Err(fail(&what, "--console-socket can only be used with --detach"));
    }
    if !detach {
        rt.platform.prepare_foreground().map_err(|e| fail(&what, e))?;
    }
    let state = rt.create(&id, &a.bundle, &opts).map_err(|e| fail(&what, e))?;
    if let Err(e) = rt.start(&id) {
        let _ = rt.delete(&id, true);
        return Err(fail(&what, e));
    }
    if detach {
        return Ok(ExitCode::SUCCESS);
    }
    let code = rt.platform.wait_foreground(&state).map_err(|e| fail(&what, e))?;
    if !keep {
        rt.delete(&id, true).map_err(|e| fail(&what, e))?;
    }
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(255)))
}

/// `demo`: a busybox bundle built on the spot, run in the foreground.
fn demo(rt: &Runtime<Backend>, cli: &Cli, bundle: Option<&Path>) -> Result<ExitCode, Failure> {
    let tmp;
    let dir = match bundle {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .map_err(|e| fail("demo", format!("create {}: {e}", dir.display())))?;
            dir.to_owned()
        }
        None => {
            tmp = TempDir::new().map_err(|e| fail("demo", e))?;
            tmp.0.clone()
        }
    };
    demo::make_bundle(&dir).map_err(|e| fail("demo", e))?;
    let args = CreateArgs {
        id: format!("rcr-demo-{}", std::process::id()),
        bundle: dir,
        pid_file: None,
        no_pivot: false,
        no_new_keyring: false,
        preserve_fds: 0,
        console_socket: None,
    };
    run(rt, cli, &args, false, false)
}

/// A directory removed on drop (the demo's bundle).
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> std::io::Result<Self> {
        let dir = std::env::temp_dir().join(format!("rcr-demo-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        Ok(Self(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.version {
        print!("{}", version());
        return ExitCode::SUCCESS;
    }
    let Some(command) = &cli.command else {
        use clap::CommandFactory;
        let _ = Cli::command().print_help();
        return ExitCode::from(2);
    };
    let to_file = match logging::init(cli.log.as_deref(), cli.log_format, cli.debug) {
        Ok(f) => f,
        Err(e) => {
            let path = cli.log.as_deref().unwrap_or(Path::new("")).display();
            eprintln!("rcr: open log {path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    match run_command(&cli, command) {
        Ok(code) => code,
        Err(f) => {
            let line = format!("{}: {}", f.what, f.message);
            if to_file {
                tracing::error!("{line}");
            }
            eprintln!("rcr: {line}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals() {
        assert_eq!(parse_signal("9"), Ok(9));
        assert_eq!(parse_signal("KILL"), Ok(9));
        assert_eq!(parse_signal("SIGTERM"), Ok(15));
        assert_eq!(parse_signal("sigusr1"), Ok(libc::SIGUSR1));
        assert_eq!(parse_signal("RTMIN+1"), Ok(libc::SIGRTMIN() + 1));
        assert!(parse_signal("NOPE").is_err());
        assert!(parse_signal("0").is_err());
        assert!(parse_signal("65").is_err());
    }

    #[test]
    fn options_after_the_id() {
        let cli = Cli::try_parse_from([
            "rcr",
            "--root",
            "/r",
            "create",
            "c1",
            "--bundle",
            "/b",
            "--pid-file",
            "p",
        ])
        .unwrap();
        match cli.command {
            Some(Command::Create(a)) => {
                assert_eq!(a.id, "c1");
                assert_eq!(a.bundle, PathBuf::from("/b"));
            }
            other => panic!("{other:?}"),
        }
        let cli = Cli::try_parse_from(["rcr", "run", "--no-subreaper", "-d", "c1"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Run { detach: true, .. })));
        let cli = Cli::try_parse_from(["rcr", "kill", "c1", "KILL", "--all"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Kill { all: true, .. })));
        let cli = Cli::try_parse_from(["rcr", "delete", "--force", "c1", "--log-format", "json"])
            .unwrap();
        assert_eq!(cli.log_format, LogFormat::Json);
    }

    #[test]
    fn checkpoint_and_restore_take_runc_flags() {
        let cli = Cli::try_parse_from([
            "rcr",
            "checkpoint",
            "--image-path",
            "/img",
            "--work-path",
            "/work",
            "--parent-path",
            "../parent",
            "--leave-running",
            "--tcp-established",
            "--ext-unix-sk",
            "--shell-job",
            "--lazy-pages",
            "--status-fd",
            "-1",
            "--page-server",
            "127.0.0.1:27",
            "--file-locks",
            "--pre-dump",
            "--manage-cgroups-mode",
            "soft",
            "--empty-ns",
            "network",
            "--empty-ns",
            "ipc",
            "--auto-dedup",
            "c1",
        ])
        .unwrap();
        assert!(matches!(cli.command, Some(Command::Checkpoint(a)) if a.common.id == "c1"));
        let cli = Cli::try_parse_from([
            "rcr",
            "restore",
            "-b",
            "/b",
            "--console-socket",
            "/s",
            "--image-path",
            "/img",
            "--work-path",
            "/work",
            "--tcp-established",
            "--ext-unix-sk",
            "--shell-job",
            "--file-locks",
            "--manage-cgroups-mode",
            "full",
            "-d",
            "--pid-file",
            "/p",
            "--no-subreaper",
            "--no-pivot",
            "--empty-ns",
            "network",
            "--auto-dedup",
            "--lazy-pages",
            "--lsm-profile",
            "apparmor:p",
            "--lsm-mount-context",
            "ctx",
            "c2",
        ])
        .unwrap();
        assert!(matches!(cli.command, Some(Command::Restore(a)) if a.common.id == "c2"));
        assert!(Cli::try_parse_from(["rcr", "checkpoint", "--bundle", "/b", "c1"]).is_err());
    }
}
