//! `rcr-probe`: a static, dependency-free program run inside test containers that
//! reports what it sees as JSON on stdout.
//!
//! With no arguments (or `report`) it prints a snapshot of its identity, namespaces,
//! mounts, capabilities, limits and so on; the other subcommands poke at single
//! paths or control how the process exits.

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod hijack;
mod json;
mod procfs;
mod report;
mod sys;

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use json::Json;

const USAGE: &str = "usage: rcr-probe [report | exit N | sleep SECS | stat PATH... | \
                     write PATH... | read PATH... | ls DIR | syscall NR [ARG...] | \
                     hijack-exe PID|any|control]";

/// How much of a file `read` reports.
const READ_LIMIT: u64 = 4096;

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let command = args.next();
    let rest: Vec<OsString> = args.collect();
    let Some(command) = command else {
        return print(&report::report());
    };
    match command.to_str() {
        Some("report") => print(&report::report()),
        Some("exit") => match single(&rest).and_then(|n| n.parse::<i32>().ok()) {
            Some(code) => std::process::exit(code),
            None => usage("exit needs one integer argument"),
        },
        Some("sleep") => match single(&rest).and_then(|s| s.parse::<f64>().ok()) {
            Some(secs) if secs.is_finite() && secs >= 0.0 => {
                std::thread::sleep(Duration::from_secs_f64(secs));
                ExitCode::SUCCESS
            }
            _ => usage("sleep needs one non-negative number of seconds"),
        },
        Some("stat") => print(&per_path(&rest, stat)),
        Some("write") => print(&per_path(&rest, write)),
        Some("read") => print(&per_path(&rest, read)),
        Some("syscall") => match parse_syscall(&rest) {
            Some((nr, args)) => print(&syscall(nr, args)),
            None => usage("syscall needs a number and at most six integer arguments"),
        },
        Some("hijack-exe") => match single(&rest) {
            Some(target) => hijack::hijack_exe(target),
            None => usage("hijack-exe needs one target: a pid, \"any\" or \"control\""),
        },
        Some("ls") => match single(&rest) {
            Some(dir) => ls(Path::new(dir)),
            None => usage("ls needs one directory"),
        },
        _ => usage(&format!("unknown subcommand {:?}", command.to_string_lossy())),
    }
}

/// An integer argument, decimal or `0x` hexadecimal.
fn parse_int(s: &str) -> Option<u64> {
    match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

fn parse_syscall(args: &[OsString]) -> Option<(i64, [u64; 6])> {
    let (nr, rest) = args.split_first()?;
    let nr = i64::try_from(parse_int(nr.to_str()?)?).ok()?;
    if rest.len() > 6 {
        return None;
    }
    let mut regs = [0u64; 6];
    for (reg, arg) in regs.iter_mut().zip(rest) {
        *reg = parse_int(arg.to_str()?)?;
    }
    Some((nr, regs))
}

/// `{"ret": N, "errno": null}` or `{"ret": -1, "errno": E}`.
fn syscall(nr: i64, args: [u64; 6]) -> Json {
    match sys::raw_syscall(nr, args) {
        Ok(ret) => Json::object([("ret", ret.into()), ("errno", Json::Null)]),
        Err(errno) => Json::object([("ret", (-1i64).into()), ("errno", errno.into())]),
    }
}

fn print(value: &Json) -> ExitCode {
    let mut out = io::stdout().lock();
    match writeln!(out, "{value}").and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rcr-probe: cannot write output: {e}");
            ExitCode::FAILURE
        }
    }
}

fn usage(message: &str) -> ExitCode {
    eprintln!("rcr-probe: {message}\n{USAGE}");
    ExitCode::from(2)
}

/// The only argument, if there is exactly one and it is valid UTF-8.
fn single(args: &[OsString]) -> Option<&str> {
    match args {
        [only] => only.to_str(),
        _ => None,
    }
}

/// A JSON object mapping each path argument to `f(path)`.
fn per_path(paths: &[OsString], f: fn(&Path) -> Json) -> Json {
    Json::object(paths.iter().map(|p| {
        let path = PathBuf::from(p);
        (path.to_string_lossy().into_owned(), f(&path))
    }))
}

/// The `ok`/`errno`/`error` triple shared by `write` and `read`.
fn outcome<T>(result: &io::Result<T>) -> [(&'static str, Json); 3] {
    match result {
        Ok(_) => [("ok", true.into()), ("errno", Json::Null), ("error", Json::Null)],
        Err(e) => [
            ("ok", false.into()),
            ("errno", e.raw_os_error().into()),
            ("error", e.to_string().into()),
        ],
    }
}

fn stat(path: &Path) -> Json {
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Json::object([("exists", false.into())]);
        }
        Err(e) => return Json::object([("exists", false.into()), ("error", e.to_string().into())]),
    };
    let ft = meta.file_type();
    let kind = if ft.is_symlink() {
        "symlink"
    } else if ft.is_dir() {
        "dir"
    } else if ft.is_file() {
        "file"
    } else if ft.is_char_device() {
        "char"
    } else if ft.is_block_device() {
        "block"
    } else if ft.is_fifo() {
        "fifo"
    } else if ft.is_socket() {
        "socket"
    } else {
        "unknown"
    };
    let device = (ft.is_char_device() || ft.is_block_device()).then(|| meta.rdev());
    let link = ft.is_symlink().then(|| fs::read_link(path).ok()).flatten();
    Json::object([
        ("exists", true.into()),
        ("kind", kind.into()),
        ("mode", format!("{:04o}", meta.mode() & 0o7777).into()),
        ("uid", meta.uid().into()),
        ("gid", meta.gid().into()),
        ("major", device.map(major).into()),
        ("minor", device.map(minor).into()),
        ("size", meta.size().into()),
        ("link", link.map(|l| l.to_string_lossy().into_owned()).into()),
    ])
}

/// The major number of a Linux `dev_t` (glibc's `gnu_dev_major` layout).
fn major(dev: u64) -> u64 {
    ((dev >> 8) & 0xfff) | ((dev >> 32) & 0xffff_f000)
}

/// The minor number of a Linux `dev_t` (glibc's `gnu_dev_minor` layout).
fn minor(dev: u64) -> u64 {
    (dev & 0xff) | ((dev >> 12) & 0xffff_ff00)
}

/// Opens `path` for writing without truncating it; a file that had to be created
/// gets one byte written and is removed again.
fn write(path: &Path) -> Json {
    let existed = fs::symlink_metadata(path).is_ok();
    let result = OpenOptions::new().write(true).create(true).truncate(false).open(path).and_then(
        |mut file| {
            if existed {
                return Ok(());
            }
            let written = file.write_all(b"x");
            drop(file);
            written.and(fs::remove_file(path))
        },
    );
    Json::object(outcome(&result))
}

fn read(path: &Path) -> Json {
    let result = File::open(path).and_then(|file| {
        let mut buf = Vec::new();
        file.take(READ_LIMIT).read_to_end(&mut buf)?;
        Ok(String::from_utf8_lossy(&buf).into_owned())
    });
    let [ok, errno, error] = outcome(&result);
    Json::object([ok, ("content", result.ok().into()), errno, error])
}

fn ls(dir: &Path) -> ExitCode {
    let names = fs::read_dir(dir).and_then(|entries| {
        entries
            .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect::<io::Result<Vec<_>>>()
    });
    match names {
        Ok(mut names) => {
            names.sort_unstable();
            print(&Json::array(names))
        }
        Err(e) => {
            eprintln!("rcr-probe: ls {}: {e}", dir.display());
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The inverse of [`major`]/[`minor`], as glibc's `gnu_dev_makedev`.
    fn makedev(major: u64, minor: u64) -> u64 {
        (minor & 0xff) | ((major & 0xfff) << 8) | ((minor & !0xff) << 12) | ((major & !0xfff) << 32)
    }

    #[test]
    fn splits_device_numbers() {
        assert_eq!((major(0x103), minor(0x103)), (1, 3));
        assert_eq!((major(0x502), minor(0x502)), (5, 2));
        // Numbers beyond the legacy 8/8 and 12/20 bit fields.
        let dev = makedev(0x1234_5678, 0x9abc_def0);
        assert_eq!((major(dev), minor(dev)), (0x1234_5678, 0x9abc_def0));
    }

    #[test]
    fn stats_missing_and_present_paths() {
        let missing = stat(Path::new("/definitely/not/here"));
        assert_eq!(missing.to_string(), r#"{"exists":false}"#);
        let null = stat(Path::new("/dev/null")).to_string();
        assert!(null.contains(r#""kind":"char""#), "{null}");
        assert!(null.contains(r#""major":1,"minor":3"#), "{null}");
    }

    #[test]
    fn parses_and_makes_syscalls() {
        let args: Vec<OsString> = ["39", "0x10", "7"].iter().map(OsString::from).collect();
        assert_eq!(parse_syscall(&args), Some((39, [16, 7, 0, 0, 0, 0])));
        assert_eq!(parse_syscall(&[]), None);
        assert_eq!(parse_syscall(&[OsString::from("x")]), None);
        let eight: Vec<OsString> = (0..8).map(|n| OsString::from(n.to_string())).collect();
        assert_eq!(parse_syscall(&eight), None);
        // getpid (39 on x86_64, 172 on aarch64) returns our own pid.
        let getpid = if cfg!(target_arch = "aarch64") { 172 } else { 39 };
        let pid = std::process::id();
        assert_eq!(syscall(getpid, [0; 6]).to_string(), format!(r#"{{"ret":{pid},"errno":null}}"#));
        // close(-1) fails with EBADF (3 on x86_64, 57 on aarch64).
        let close = if cfg!(target_arch = "aarch64") { 57 } else { 3 };
        assert_eq!(syscall(close, [u64::MAX; 6]).to_string(), r#"{"ret":-1,"errno":9}"#);
    }

    #[test]
    fn reports_write_errors_with_errno() {
        let json = write(Path::new("/definitely/not/here")).to_string();
        assert_eq!(
            json,
            r#"{"ok":false,"errno":2,"error":"No such file or directory (os error 2)"}"#
        );
    }
}
