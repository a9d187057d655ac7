//! `checkpoint` and `restore`: runc's flags are accepted, so that an engine
//! calling them gets rcr's own answer rather than a usage error, and that
//! answer is that checkpointing needs CRIU, which rcr does not drive yet.

use std::path::PathBuf;

use clap::Args;

/// The one answer both verbs give.
pub const NOT_SUPPORTED: &str = "not supported by rcr yet (CRIU is not integrated)";

/// The flags `checkpoint` and `restore` share.
// Parsed for runc compatibility only: nothing reads them until CRIU is
// integrated.
#[allow(dead_code)]
#[derive(Debug, Args)]
pub struct CriuArgs {
    /// Container id.
    pub id: String,
    /// Directory of the CRIU image files.
    #[arg(long, value_name = "DIR")]
    image_path: Option<PathBuf>,
    /// Directory for CRIU's work files and logs.
    #[arg(long, value_name = "DIR")]
    work_path: Option<PathBuf>,
    /// Allow open TCP connections.
    #[arg(long)]
    tcp_established: bool,
    /// Allow external unix sockets.
    #[arg(long)]
    ext_unix_sk: bool,
    /// Allow shell jobs.
    #[arg(long)]
    shell_job: bool,
    /// Handle file locks.
    #[arg(long)]
    file_locks: bool,
    /// Use userfaultfd to restore memory pages lazily.
    #[arg(long)]
    lazy_pages: bool,
    /// Cgroups mode: soft, full or strict.
    #[arg(long, value_name = "MODE")]
    manage_cgroups_mode: Option<String>,
    /// Create a namespace without restoring its properties.
    #[arg(long, value_name = "NS")]
    empty_ns: Vec<String>,
    /// Deduplicate memory images.
    #[arg(long)]
    auto_dedup: bool,
}

/// `checkpoint`'s flags (runc 1.1).
#[allow(dead_code)]
#[derive(Debug, Args)]
pub struct CheckpointArgs {
    #[command(flatten)]
    pub common: CriuArgs,
    /// Directory of the images of a previous pre-dump.
    #[arg(long, value_name = "DIR")]
    parent_path: Option<PathBuf>,
    /// Leave the container running after the checkpoint.
    #[arg(long)]
    leave_running: bool,
    /// File descriptor CRIU signals when lazy pages are ready.
    #[arg(long, value_name = "FD", allow_negative_numbers = true)]
    status_fd: Option<i32>,
    /// ADDRESS:PORT of a CRIU page server.
    #[arg(long, value_name = "ADDRESS:PORT")]
    page_server: Option<String>,
    /// Dump the memory only and leave the container running.
    #[arg(long)]
    pre_dump: bool,
}

/// `restore`'s flags (runc 1.1).
#[allow(dead_code)]
#[derive(Debug, Args)]
pub struct RestoreArgs {
    #[command(flatten)]
    pub common: CriuArgs,
    /// Path to the bundle directory.
    #[arg(short, long, value_name = "DIR")]
    bundle: Option<PathBuf>,
    /// Unix socket to send a terminal's master fd to.
    #[arg(long, value_name = "PATH")]
    console_socket: Option<PathBuf>,
    /// Do not wait for the restored container.
    #[arg(short, long)]
    detach: bool,
    /// Write the init's pid to FILE.
    #[arg(long, value_name = "FILE")]
    pid_file: Option<PathBuf>,
    /// Do not become a subreaper for the restored processes.
    #[arg(long)]
    no_subreaper: bool,
    /// Use MS_MOVE and chroot instead of pivot_root.
    #[arg(long)]
    no_pivot: bool,
    /// LSM profile for the restored process, as TYPE:NAME.
    #[arg(long, value_name = "TYPE:NAME")]
    lsm_profile: Option<String>,
    /// LSM mount context for the restore.
    #[arg(long, value_name = "CONTEXT")]
    lsm_mount_context: Option<String>,
}
