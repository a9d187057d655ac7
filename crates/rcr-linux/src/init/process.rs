//! The container process's identity and program: user and groups, umask,
//! working directory (checked, CVE-2024-21626), the program lookup, and the
//! final exec.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use nix::unistd::{Gid, Uid};

use super::InitResult;
use crate::plan::ProcessPlan;
use crate::proto::InitError;

/// The PATH used to find the program when the process has none.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Whether setgroups(2) is disabled in our user namespace, as it is when an
/// unprivileged user wrote the gid map.
fn setgroups_denied() -> bool {
    std::fs::read_to_string("/proc/self/setgroups").is_ok_and(|s| s.trim() == "deny")
}

/// Switches to the container user and its groups.
pub fn identity(p: &ProcessPlan) -> InitResult<()> {
    let gids: Vec<Gid> = p.additional_gids.iter().copied().map(Gid::from_raw).collect();
    // Where setgroups is denied there is nothing to drop either: the groups
    // we hold are the creator's, unmapped, and the kernel keeps them.
    if !(gids.is_empty() && setgroups_denied()) {
        nix::unistd::setgroups(&gids).map_err(|e| {
            let err = InitError::errno("setgroups", e);
            if e == nix::Error::EPERM && setgroups_denied() {
                err.with_hint("setgroups is disabled in a rootless container's user namespace: drop additionalGids")
            } else {
                err
            }
        })?;
    }
    let gid = Gid::from_raw(p.gid);
    nix::unistd::setresgid(gid, gid, gid)
        .map_err(|e| InitError::errno(format!("setgid {}", p.gid), e))?;
    let uid = Uid::from_raw(p.uid);
    nix::unistd::setresuid(uid, uid, uid)
        .map_err(|e| InitError::errno(format!("setuid {}", p.uid), e))?;
    Ok(())
}

/// Enters the working directory and checks that it really is inside the
/// container: a leaked host fd used as cwd (CVE-2024-21626) shows up as a
/// path that getcwd cannot express from our root.
///
/// Run while still root and before a seccomp filter can forbid getcwd;
/// [`enter_cwd`] then repeats the chdir as the container user.
pub fn check_cwd(cwd: &Path) -> InitResult<()> {
    enter_cwd(cwd)?;
    let now = nix::unistd::getcwd().map_err(|e| InitError::errno("getcwd", e))?;
    if !now.is_absolute() {
        return Err(InitError::msg(format!(
            "working directory {} is outside the container root",
            cwd.display()
        )));
    }
    Ok(())
}

/// Enters the working directory (as the container user: its permissions
/// apply).
pub fn enter_cwd(cwd: &Path) -> InitResult<()> {
    nix::unistd::chdir(cwd).map_err(|e| InitError::errno(format!("chdir to {}", cwd.display()), e))
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Finds the program like execvp would, using the container's PATH, so a
/// missing binary fails `create` with a clear message instead of `start`.
pub fn find_program(p: &ProcessPlan) -> InitResult<PathBuf> {
    let arg0 = &p.args[0];
    if arg0.contains('/') {
        let path = PathBuf::from(arg0);
        return match std::fs::metadata(&path) {
            Ok(m) if m.is_dir() => Err(InitError::msg(format!("exec {arg0:?}: is a directory"))),
            Ok(_) if is_executable(&path) => Ok(path),
            Ok(_) => Err(InitError::msg(format!("exec {arg0:?}: permission denied"))),
            Err(e) => Err(InitError::io(format!("exec {arg0:?}"), &e)
                .with_hint("the program does not exist in the container's root filesystem")),
        };
    }
    let path_var = p.env.iter().find_map(|e| e.strip_prefix("PATH=")).unwrap_or(DEFAULT_PATH);
    path_var
        .split(':')
        .map(|dir| Path::new(if dir.is_empty() { "." } else { dir }).join(arg0))
        .find(|candidate| is_executable(candidate))
        .ok_or_else(|| InitError::msg(format!("exec {arg0:?}: executable file not found in $PATH")))
}

fn cstrings<'a>(items: impl Iterator<Item = &'a str>, what: &str) -> InitResult<Vec<CString>> {
    items
        .map(|s| {
            CString::new(s).map_err(|_| InitError::msg(format!("{what} {s:?} contains a NUL byte")))
        })
        .collect()
}

/// The program, argv and envp, ready for execve.
#[derive(Debug)]
pub struct Exec {
    pub path: CString,
    pub args: Vec<CString>,
    pub env: Vec<CString>,
}

pub fn prepare_exec(p: &ProcessPlan, program: &Path) -> InitResult<Exec> {
    Ok(Exec {
        path: CString::new(program.as_os_str().as_bytes())
            .map_err(|_| InitError::msg("program path contains a NUL byte"))?,
        args: cstrings(p.args.iter().map(String::as_str), "argument")?,
        env: cstrings(p.env.iter().map(String::as_str), "environment entry")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proc_plan(arg0: &str, path: &str) -> ProcessPlan {
        ProcessPlan {
            args: vec![arg0.to_owned()],
            env: vec![format!("PATH={path}")],
            cwd: "/".into(),
            uid: 0,
            gid: 0,
            additional_gids: vec![],
            umask: None,
            no_new_privileges: false,
            terminal: false,
            console_size: None,
        }
    }

    #[test]
    fn finds_programs_on_path() {
        let tmp = tempfile::tempdir().unwrap();
        let bin = tmp.path().join("tool");
        std::fs::write(&bin, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = format!("/nonexistent:{}", tmp.path().display());
        assert_eq!(find_program(&proc_plan("tool", &path)).unwrap(), bin);
        let e = find_program(&proc_plan("nope", &path)).unwrap_err().to_string();
        assert!(e.contains("executable file not found"), "{e}");
        let e = find_program(&proc_plan("/no/such", &path)).unwrap_err().to_string();
        assert!(e.contains("no such file or directory"), "{e}");
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = find_program(&proc_plan(bin.to_str().unwrap(), &path)).unwrap_err().to_string();
        assert!(e.contains("permission denied"), "{e}");
    }
}
