//! Terminals end to end: `process.terminal` with `--console-socket` (the
//! master received the way runc's receivers do), `/dev/console`,
//! `consoleSize`, runc's flag checks, and a foreground `run` relaying the
//! caller's own terminal (raw mode, window size, restored settings).

#![allow(clippy::unwrap_used)]

use std::io::IoSliceMut;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
use nix::sys::termios::{self, LocalFlags};
use rcr_testkit::{probe_report, require_busybox, require_root, Bundle, Rcr};
use serde_json::json;

const TIMEOUT: Duration = Duration::from_secs(20);

fn rcr() -> Rcr {
    Rcr::new(env!("CARGO_BIN_EXE_rcr"))
}

fn can_run(test: &str) -> bool {
    require_root(test) && require_busybox(test)
}

/// A listening console socket in a temporary directory, as containerd or
/// conmon make one.
struct ConsoleSocket {
    _dir: tempfile::TempDir,
    path: PathBuf,
    listener: UnixListener,
}

impl ConsoleSocket {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("console.sock");
        let listener = UnixListener::bind(&path).unwrap();
        listener.set_nonblocking(true).unwrap();
        Self { _dir: dir, path, listener }
    }

    fn path(&self) -> &str {
        self.path.to_str().unwrap()
    }

    /// Accepts the runtime's connection and receives the pty master exactly
    /// as runc's `RecvFile` does: one recvmsg with a 4096-byte buffer for
    /// the name and room for exactly one fd.
    fn receive(&self) -> (OwnedFd, String) {
        let deadline = Instant::now() + TIMEOUT;
        let conn = loop {
            match self.listener.accept() {
                Ok((conn, _)) => break conn,
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock && Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => panic!("no connection on the console socket: {e}"),
            }
        };
        conn.set_nonblocking(false).unwrap();
        recv_like_runc(&conn)
    }
}

fn recv_like_runc(conn: &UnixStream) -> (OwnedFd, String) {
    let mut name = [0u8; 4096];
    let mut oob = nix::cmsg_space!(RawFd);
    let (n, fds) = {
        let mut iov = [IoSliceMut::new(&mut name)];
        let msg =
            recvmsg::<()>(conn.as_raw_fd(), &mut iov, Some(&mut oob), MsgFlags::MSG_CMSG_CLOEXEC)
                .unwrap();
        assert!(
            !msg.flags.intersects(MsgFlags::MSG_CTRUNC | MsgFlags::MSG_TRUNC),
            "{:?}",
            msg.flags
        );
        let mut fds: Vec<RawFd> = Vec::new();
        for c in msg.cmsgs().unwrap() {
            match c {
                ControlMessageOwned::ScmRights(r) => fds.extend(r),
                other => panic!("unexpected control message {other:?}"),
            }
        }
        (msg.bytes, fds)
    };
    assert!(n > 0 && n < 4096, "name of {n} bytes");
    assert_eq!(fds.len(), 1, "exactly one fd");
    // SAFETY: the kernel just installed this fd in our table for us.
    let fd = unsafe { std::os::fd::FromRawFd::from_raw_fd(fds[0]) };
    (fd, String::from_utf8(name[..n].to_vec()).unwrap())
}

/// Reads `fd` until `done` holds for what was read, the other side is gone
/// (EIO on a pty master, EOF), or the timeout passes.
fn read_until(fd: &OwnedFd, mut done: impl FnMut(&str) -> bool) -> String {
    let deadline = Instant::now() + TIMEOUT;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline && !done(&String::from_utf8_lossy(&out)) {
        let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
        if poll(&mut fds, PollTimeout::from(100u16)).unwrap() == 0 {
            continue;
        }
        match nix::unistd::read(fd.as_raw_fd(), &mut buf) {
            Ok(0) | Err(nix::Error::EIO) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(nix::Error::EINTR | nix::Error::EAGAIN) => {}
            Err(e) => panic!("read: {e}"),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn read_to_end(fd: &OwnedFd) -> String {
    read_until(fd, |_| false)
}

fn write_all(fd: &OwnedFd, data: &[u8]) {
    let mut rest = data;
    while !rest.is_empty() {
        rest = &rest[nix::unistd::write(fd.as_fd(), rest).unwrap()..];
    }
}

fn wait_child(child: &mut Child) -> ExitStatus {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("rcr did not exit within {TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn wait_stopped(rcr: &Rcr, id: &str) {
    let stopped = rcr_testkit::wait_until(TIMEOUT, || {
        let state: serde_json::Value = serde_json::from_str(&rcr.ok(&["state", id])).unwrap();
        state["status"] == "stopped"
    });
    assert!(stopped, "container {id} did not stop");
}

fn terminal_bundle(args: &[&str]) -> Bundle {
    let bundle = Bundle::busybox();
    bundle.set_args(args);
    bundle.edit(|c| c["process"]["terminal"] = json!(true));
    bundle
}

fn is_ptmx(fd: &OwnedFd) -> bool {
    let st = nix::sys::stat::fstat(fd.as_raw_fd()).unwrap();
    st.st_mode & libc::S_IFMT == libc::S_IFCHR
        && nix::sys::stat::major(st.st_rdev) == 5
        && nix::sys::stat::minor(st.st_rdev) == 2
}

#[test]
fn console_socket_receives_a_working_terminal() {
    const TEST: &str = "console_socket_receives_a_working_terminal";
    if !can_run(TEST) {
        return;
    }
    let rcr = rcr();
    let bundle = terminal_bundle(&["/rcr-probe"]);
    bundle.edit(|c| c["process"]["consoleSize"] = json!({"height": 41, "width": 123}));
    let socket = ConsoleSocket::new();
    let id = Rcr::unique_id("tty-probe");
    rcr.ok(&["create", "--bundle", bundle.path_str(), "--console-socket", socket.path(), &id]);
    let (master, name) = socket.receive();
    assert!(is_ptmx(&master), "the fd received is not a pty master");
    assert!(name.starts_with("/dev/") && name.ends_with("ptmx"), "{name}");
    rcr.ok(&["start", &id]);
    let out = read_to_end(&master);
    let report = probe_report(&out.replace('\r', ""));
    let tty = &report["tty"];
    assert_eq!(tty["stdin"], true, "{tty}");
    assert_eq!(tty["stdout"], true, "{tty}");
    assert_eq!(tty["stderr"], true, "{tty}");
    assert_eq!(tty["controlling"], true, "{tty}");
    assert_eq!(tty["name"], "/dev/pts/0", "the pty comes from the container's own devpts: {tty}");
    assert_eq!((tty["rows"].clone(), tty["cols"].clone()), (json!(41), json!(123)));
    // A session of its own: the probe (pid 1) leads it.
    assert_eq!((report["pid"].clone(), report["sid"].clone()), (json!(1), json!(1)));
    wait_stopped(&rcr, &id);
    rcr.ok(&["delete", &id]);
}

#[test]
fn console_socket_shell_reads_input_and_writes_console() {
    const TEST: &str = "console_socket_shell_reads_input_and_writes_console";
    if !can_run(TEST) {
        return;
    }
    let rcr = rcr();
    let bundle = terminal_bundle(&["sh"]);
    let socket = ConsoleSocket::new();
    let id = Rcr::unique_id("tty-sh");
    rcr.ok(&[
        "run",
        "--detach",
        "--bundle",
        bundle.path_str(),
        "--console-socket",
        socket.path(),
        &id,
    ]);
    let (master, _) = socket.receive();
    // Computed values, so that the terminal's echo of the input cannot match.
    write_all(
        &master,
        b"echo sum=$((40+2)); echo console$((1+1)) >/dev/console; ls -l /dev/console\n",
    );
    let out = read_until(&master, |o| {
        o.contains("console2") && o.contains("sum=42") && o.contains("136,")
    });
    assert!(out.contains("sum=42"), "{out}");
    assert!(out.contains("console2"), "/dev/console does not reach the terminal: {out}");
    // /dev/console is the pty slave (major 136) bound over the mount point.
    let line =
        out.lines().find(|l| l.contains("/dev/console") && l.starts_with('c')).unwrap_or_default();
    assert!(line.contains("136,"), "{out}");
    write_all(&master, b"exit 3\n");
    read_to_end(&master);
    wait_stopped(&rcr, &id);
    rcr.ok(&["delete", &id]);
}

#[test]
fn terminal_flags_are_checked_like_runc() {
    const TEST: &str = "terminal_flags_are_checked_like_runc";
    if !can_run(TEST) {
        return;
    }
    let rcr = rcr();
    let bundle = terminal_bundle(&["sh"]);
    let b = bundle.path_str();
    let id = Rcr::unique_id("tty-flags");
    let id = id.as_str();
    for args in [vec!["create", "--bundle", b, id], vec!["run", "--detach", "--bundle", b, id]] {
        let err = rcr.fail(&args);
        assert!(
            err.contains("process.terminal is true but there is no --console-socket"),
            "{args:?}: {err}"
        );
    }
    let missing = tempfile::tempdir().unwrap();
    let missing = missing.path().join("nobody.sock");
    let err =
        rcr.fail(&["create", "--bundle", b, "--console-socket", missing.to_str().unwrap(), id]);
    assert!(
        err.contains("connect to console socket") && err.contains("no such file or directory"),
        "{err}"
    );

    let socket = ConsoleSocket::new();
    let err = rcr.fail(&["run", "--bundle", b, "--console-socket", socket.path(), id]);
    assert!(err.contains("--console-socket can only be used with --detach"), "{err}");
    bundle.edit(|c| c["process"]["terminal"] = json!(false));
    let err = rcr.fail(&["create", "--bundle", b, "--console-socket", socket.path(), id]);
    assert!(err.contains("--console-socket was given but process.terminal is false"), "{err}");
    // No failed attempt leaves a container behind.
    assert_eq!(rcr.ok(&["list", "-q"]), "");
}

#[test]
fn missing_devpts_is_reported() {
    const TEST: &str = "missing_devpts_is_reported";
    if !can_run(TEST) {
        return;
    }
    let rcr = rcr();
    let bundle = terminal_bundle(&["sh"]);
    bundle.edit(|c| {
        c["mounts"].as_array_mut().unwrap().retain(|m| m["destination"] != "/dev/pts");
    });
    let socket = ConsoleSocket::new();
    let id = Rcr::unique_id("tty-nopts");
    let err = rcr.fail(&[
        "create",
        "--bundle",
        bundle.path_str(),
        "--console-socket",
        socket.path(),
        &id,
    ]);
    assert!(err.contains("allocate a terminal") && err.contains("devpts"), "{err}");
    assert_eq!(rcr.ok(&["list", "-q"]), "");
}

/// A pty pair playing the user's terminal.
struct CallerTerminal {
    master: OwnedFd,
    slave: OwnedFd,
}

impl CallerTerminal {
    fn new(rows: u16, cols: u16) -> Self {
        let ws = libc::winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
        let pty = nix::pty::openpty(Some(&ws), None).unwrap();
        Self { master: pty.master, slave: pty.slave }
    }

    fn stdio(&self) -> Stdio {
        Stdio::from(self.slave.try_clone().unwrap())
    }

    fn resize(&self, rows: u16, cols: u16) {
        let ws = libc::winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
        rcr_linux::sys::set_window_size(self.slave.as_fd(), &ws).unwrap();
    }
}

#[test]
fn foreground_run_relays_the_callers_terminal() {
    const TEST: &str = "foreground_run_relays_the_callers_terminal";
    if !can_run(TEST) {
        return;
    }
    let rcr = rcr();
    let bundle = terminal_bundle(&["sh"]);
    let user = CallerTerminal::new(30, 100);
    let before = termios::tcgetattr(&user.slave).unwrap();
    assert!(before.local_flags.contains(LocalFlags::ICANON | LocalFlags::ECHO));
    let id = Rcr::unique_id("tty-fg");
    let mut cmd = rcr.cmd(&["run", "--bundle", bundle.path_str(), &id]);
    cmd.stdin(user.stdio()).stdout(user.stdio()).stderr(user.stdio());
    let mut child = cmd.spawn().unwrap();
    drop(cmd);

    // Keys travel as typed: \r, which the container's terminal turns into \n.
    write_all(&user.master, b"echo size=$(stty size | tr ' ' x)\r");
    let out = read_until(&user.master, |o| o.contains("size=30x100"));
    assert!(out.contains("size=30x100"), "the caller's window size: {out}");
    let during = termios::tcgetattr(&user.slave).unwrap();
    assert!(
        !during.local_flags.intersects(LocalFlags::ICANON | LocalFlags::ECHO | LocalFlags::ISIG),
        "the caller's terminal is not raw while the container runs"
    );

    // A resize of the caller's terminal reaches the container.
    user.resize(50, 132);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::SIGWINCH,
    )
    .unwrap();
    write_all(&user.master, b"echo size=$(stty size | tr ' ' x); exit 3\r");
    let out = read_until(&user.master, |o| o.contains("size=50x132"));
    assert!(out.contains("size=50x132"), "SIGWINCH did not resize: {out}");

    let status = wait_child(&mut child);
    assert_eq!(status.code(), Some(3), "the container's exit code");
    let after = termios::tcgetattr(&user.slave).unwrap();
    assert_eq!(after, before, "the caller's terminal settings were not restored");
    assert_eq!(rcr.ok(&["list", "-q"]), "", "run deletes the container");
}

#[test]
fn foreground_run_without_a_caller_terminal() {
    const TEST: &str = "foreground_run_without_a_caller_terminal";
    if !can_run(TEST) {
        return;
    }
    let rcr = rcr();
    // Piped commands: relayed through the pty, whose echo shows them too.
    let bundle = terminal_bundle(&["sh"]);
    let id = Rcr::unique_id("tty-pipe");
    let mut child = rcr
        .cmd(&["run", "--bundle", bundle.path_str(), &id])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(
        &mut child.stdin.take().unwrap(),
        b"echo piped$((2+3)); [ -t 0 ] && echo is-a-tty; exit 4\n",
    )
    .unwrap();
    let deadline = Instant::now() + TIMEOUT;
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "rcr run did not end");
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(4), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("piped5") && stdout.contains("is-a-tty"), "{stdout}");

    // Nothing on stdin, an exit code out.
    let bundle = terminal_bundle(&["sh", "-c", "[ -t 1 ] && echo out-is-a-tty; exit 7"]);
    let id = Rcr::unique_id("tty-null");
    let out = rcr
        .cmd(&["run", "--bundle", bundle.path_str(), &id])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(7), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out-is-a-tty\r\n");
}

#[test]
fn container_leads_its_own_session_without_a_terminal() {
    const TEST: &str = "container_leads_its_own_session_without_a_terminal";
    if !can_run(TEST) {
        return;
    }
    let rcr = rcr();
    // The default test bundle: no terminal, foreground run.
    let bundle = Bundle::busybox();
    let id = Rcr::unique_id("tty-session");
    let report = probe_report(&rcr.ok(&["run", "--bundle", bundle.path_str(), &id]));
    assert_eq!((report["pid"].clone(), report["sid"].clone()), (json!(1), json!(1)));
    assert_eq!(report["tty"]["stdin"], false);
    assert_eq!(report["tty"]["controlling"], false);
}

#[test]
fn exec_with_a_terminal_through_the_console_socket() {
    const TEST: &str = "exec_with_a_terminal_through_the_console_socket";
    if !can_run(TEST) {
        return;
    }
    let rcr = rcr();
    let bundle = Bundle::busybox();
    bundle.set_args(&["/rcr-probe", "sleep", "60"]);
    let id = Rcr::unique_id("tty-exec");
    let status = rcr
        .cmd(&["run", "-d", "--bundle", bundle.path_str(), &id])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let socket = ConsoleSocket::new();
    rcr.ok(&["exec", "-t", "-d", "--console-socket", socket.path(), &id, "/rcr-probe"]);
    let (master, _) = socket.receive();
    assert!(is_ptmx(&master), "the fd received is not a pty master");
    let report = probe_report(&read_to_end(&master).replace('\r', ""));
    let tty = &report["tty"];
    assert_eq!((tty["stdin"].clone(), tty["stdout"].clone()), (json!(true), json!(true)), "{tty}");
    assert_eq!(tty["controlling"], true, "{tty}");
    // An exec's terminal is its own: /dev/console stays the container's.
    assert_ne!(report["pid"], 1);
    rcr.ok(&["delete", "--force", &id]);
}
