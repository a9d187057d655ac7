//! The `report` subcommand: a JSON snapshot of how the process sees its container.
//!
//! Everything degrades to `null` rather than failing, because tests deliberately
//! run the probe in containers without `/proc`, with masked paths and so on.

use std::fs::{self, OpenOptions};
use std::io::{self, IsTerminal};
use std::path::Path;

use crate::json::Json;
use crate::procfs::{cap_names, parse_limits, Limit, MountInfo, Sched, Status};
use crate::sys;

const NAMESPACES: [&str; 10] = [
    "cgroup",
    "ipc",
    "mnt",
    "net",
    "pid",
    "pid_for_children",
    "time",
    "time_for_children",
    "user",
    "uts",
];

const CAPABILITY_SETS: [(&str, &str); 5] = [
    ("inheritable", "CapInh"),
    ("permitted", "CapPrm"),
    ("effective", "CapEff"),
    ("bounding", "CapBnd"),
    ("ambient", "CapAmb"),
];

const SYSCTLS: [&str; 5] = [
    "net.ipv4.ip_forward",
    "net.core.somaxconn",
    "kernel.shmmax",
    "kernel.msgmax",
    "fs.mqueue.msg_max",
];

const RW_TEST_FILE: &str = "/.rcr-probe-rw-test";

pub fn report() -> Json {
    let status = fs::read_to_string("/proc/self/status")
        .map(|text| Status::parse(&text))
        .unwrap_or_default();
    // The scalar ids come from syscalls so they are right even without /proc;
    // the full real/effective/saved/fs quadruples only exist in status.
    let (uid, euid, gid, egid) = sys::ids();
    let umask =
        status.get("Umask").map_or_else(|| format!("{:04o}", sys::current_umask()), str::to_owned);
    let no_new_privs = status.get("NoNewPrivs").map(|v| v == "1").or_else(sys::no_new_privs);
    let rw_error = rootfs_write_error();
    let fds = open_fds();
    let sched = fs::read_to_string("/proc/self/stat").ok().and_then(|text| Sched::parse(&text));
    let ioprio = sys::io_priority();

    Json::object([
        ("hostname", read_line("/proc/sys/kernel/hostname").into()),
        ("domainname", read_line("/proc/sys/kernel/domainname").into()),
        ("pid", std::process::id().into()),
        ("ppid", std::os::unix::process::parent_id().into()),
        ("pgrp", sys::process_group().into()),
        ("sid", sys::session().into()),
        ("uid", uid.into()),
        ("gid", gid.into()),
        ("euid", euid.into()),
        ("egid", egid.into()),
        ("uids", status.numbers("Uid").into()),
        ("gids", status.numbers("Gid").into()),
        ("groups", status.numbers("Groups").or_else(sys::groups).into()),
        ("uid_map", read_lines("/proc/self/uid_map")),
        ("gid_map", read_lines("/proc/self/gid_map")),
        ("setgroups", read_line("/proc/self/setgroups").into()),
        ("umask", umask.into()),
        ("cwd", std::env::current_dir().ok().map(|p| p.to_string_lossy().into_owned()).into()),
        ("args", Json::array(std::env::args_os().map(|a| a.to_string_lossy().into_owned()))),
        ("env", env()),
        ("namespaces", namespaces()),
        ("mounts", mounts()),
        ("capabilities", capabilities(&status)),
        ("rlimits", rlimits()),
        ("no_new_privs", no_new_privs.into()),
        ("seccomp", status.get("Seccomp").and_then(|v| v.parse::<u32>().ok()).into()),
        (
            "oom_score_adj",
            read_line("/proc/self/oom_score_adj").and_then(|v| v.parse::<i32>().ok()).into(),
        ),
        ("sched_policy", sched.map(|s| s.policy).into()),
        ("nice", sched.map(|s| s.nice).into()),
        (
            "ioprio",
            ioprio.map_or(Json::Null, |(class, level)| {
                Json::object([("class", class.into()), ("level", level.into())])
            }),
        ),
        ("cpus_allowed_list", status.get("Cpus_allowed_list").into()),
        ("personality", sys::persona().into()),
        ("machine", sys::machine().into()),
        ("cgroup", read_lines("/proc/self/cgroup")),
        ("fds", Json::array(fds.iter().map(|(fd, _)| *fd))),
        ("fd_targets", Json::object(fds.into_iter().map(|(fd, t)| (fd.to_string(), t.into())))),
        ("tty", tty()),
        ("sysctl", sysctl()),
        (
            "rootfs_readonly",
            rw_error.as_ref().is_some_and(|e| e.kind() == io::ErrorKind::ReadOnlyFilesystem).into(),
        ),
        ("rootfs_write_error", rw_error.map(|e| e.to_string()).into()),
    ])
}

/// The first line of a small file such as a sysctl, without its newline.
fn read_line(path: impl AsRef<Path>) -> Option<String> {
    let text = fs::read_to_string(path).ok()?;
    Some(text.lines().next().unwrap_or_default().to_owned())
}

fn read_lines(path: &str) -> Json {
    fs::read_to_string(path).map_or(Json::Null, |text| Json::array(text.lines()))
}

fn env() -> Json {
    Json::array(
        std::env::vars_os()
            .map(|(k, v)| format!("{}={}", k.to_string_lossy(), v.to_string_lossy())),
    )
}

fn readlink(path: impl AsRef<Path>) -> Option<String> {
    fs::read_link(path).ok().map(|t| t.to_string_lossy().into_owned())
}

fn namespaces() -> Json {
    Json::object(NAMESPACES.map(|ns| (ns, readlink(format!("/proc/self/ns/{ns}")).into())))
}

fn mounts() -> Json {
    let Ok(text) = fs::read_to_string("/proc/self/mountinfo") else {
        return Json::Null;
    };
    Json::array(text.lines().filter_map(MountInfo::parse).map(|m| {
        Json::object([
            ("id", m.id.into()),
            ("parent", m.parent.into()),
            ("dev", m.dev.into()),
            ("root", m.root.into()),
            ("mount_point", m.mount_point.into()),
            ("options", m.options.into()),
            ("optional", m.optional.into()),
            ("fs_type", m.fs_type.into()),
            ("source", m.source.into()),
            ("super_options", m.super_options.into()),
        ])
    }))
}

fn capabilities(status: &Status) -> Json {
    Json::object(
        CAPABILITY_SETS.map(|(set, key)| (set, status.cap_mask(key).map(cap_names).into())),
    )
}

fn rlimits() -> Json {
    let Ok(text) = fs::read_to_string("/proc/self/limits") else {
        return Json::Null;
    };
    let limit = |l: Limit| match l {
        Limit::Unlimited => Json::from("unlimited"),
        Limit::Value(v) => Json::from(v),
    };
    Json::object(
        parse_limits(&text)
            .into_iter()
            .map(|r| (r.name, Json::object([("soft", limit(r.soft)), ("hard", limit(r.hard))]))),
    )
}

/// Open descriptors and their targets, without the one used to list them.
fn open_fds() -> Vec<(u32, String)> {
    let Ok(dir) = fs::read_dir("/proc/self/fd") else {
        return Vec::new();
    };
    let fds: Vec<u32> = dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect();
    // The directory's own descriptor is closed by now, so it is the one whose
    // link no longer resolves.
    let mut open: Vec<_> = fds
        .into_iter()
        .filter_map(|fd| Some((fd, readlink(format!("/proc/self/fd/{fd}"))?)))
        .collect();
    open.sort_unstable();
    open
}

fn tty() -> Json {
    let size = sys::window_size(0);
    Json::object([
        ("stdin", io::stdin().is_terminal().into()),
        ("stdout", io::stdout().is_terminal().into()),
        ("stderr", io::stderr().is_terminal().into()),
        // Opening /dev/tty fails (ENXIO) without a controlling terminal.
        ("controlling", OpenOptions::new().read(true).open("/dev/tty").is_ok().into()),
        (
            "name",
            fs::read_link("/proc/self/fd/0").ok().map(|p| p.to_string_lossy().into_owned()).into(),
        ),
        ("rows", size.map(|s| s.0).into()),
        ("cols", size.map(|s| s.1).into()),
    ])
}

fn sysctl() -> Json {
    Json::object(
        SYSCTLS
            .map(|name| (name, read_line(format!("/proc/sys/{}", name.replace('.', "/"))).into())),
    )
}

/// Tries to create and remove a file at the top of the root filesystem.
fn rootfs_write_error() -> Option<io::Error> {
    match OpenOptions::new().write(true).create_new(true).open(RW_TEST_FILE) {
        Ok(_) => fs::remove_file(RW_TEST_FILE).err(),
        Err(e) => Some(e),
    }
}
