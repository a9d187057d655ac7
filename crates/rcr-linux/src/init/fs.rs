//! Path work inside the container's root filesystem before pivot_root.
//!
//! Every lookup under the rootfs goes through openat2(2) with
//! `RESOLVE_IN_ROOT`, so a symlink in an untrusted image can never lead a
//! mount or a device node outside the rootfs; the result is an `O_PATH` fd
//! that `mount(2)` is then pointed at through `/proc/self/fd`.

use std::ffi::OsStr;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use nix::fcntl::OFlag;

use crate::sys;
use nix::sys::stat::Mode;

/// The path relative to the rootfs: `/a/b` becomes `a/b`, `/` becomes `.`.
pub fn rel(path: &Path) -> PathBuf {
    let p: PathBuf = path.components().filter(|c| matches!(c, Component::Normal(_))).collect();
    if p.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        p
    }
}

/// Opens `path` (absolute inside the container) relative to `root`, never
/// leaving it.
pub fn open_in_root(root: &OwnedFd, path: &Path, flags: OFlag) -> nix::Result<OwnedFd> {
    sys::open_in_root(root.as_fd(), &rel(path), flags)
}

/// An `O_PATH` fd for `path` inside the root, for use as a mount target.
pub fn open_path(root: &OwnedFd, path: &Path) -> nix::Result<OwnedFd> {
    open_in_root(root, path, OFlag::O_PATH)
}

/// `/proc/self/fd/N`: how a syscall taking a path is pointed at an fd.
pub fn fd_path(fd: &OwnedFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// Creates `path` and its missing parents as directories inside the root and
/// returns an `O_PATH` fd to it. A dangling symlink on the way is followed
/// (inside the root) and its target created, as mkdir -p would on the
/// container's own view.
pub fn mkdir_all(root: &OwnedFd, path: &Path) -> nix::Result<OwnedFd> {
    mkdir_all_depth(root, path, 0)
}

fn mkdir_all_depth(root: &OwnedFd, path: &Path, depth: u32) -> nix::Result<OwnedFd> {
    if depth > 40 {
        return Err(nix::Error::ELOOP);
    }
    let dir = OFlag::O_PATH | OFlag::O_DIRECTORY;
    let mut current = open_in_root(root, Path::new("/"), dir)?;
    let mut prefix = PathBuf::from("/");
    let relative = rel(path);
    let parts: Vec<&OsStr> = relative
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n),
            _ => None,
        })
        .collect();
    for (i, name) in parts.iter().enumerate() {
        let name: &OsStr = name;
        let parent = prefix.clone();
        prefix.push(name);
        current = match open_in_root(root, &prefix, dir) {
            Ok(fd) => fd,
            Err(nix::Error::ENOENT) => {
                match nix::sys::stat::mkdirat(
                    Some(current.as_raw_fd()),
                    name,
                    Mode::from_bits_truncate(0o755),
                ) {
                    Ok(()) => open_in_root(root, &prefix, dir)?,
                    Err(nix::Error::EEXIST) => {
                        // A dangling symlink: create what it points to.
                        let target = nix::fcntl::readlinkat(Some(current.as_raw_fd()), name)?;
                        let mut next = parent.join(target);
                        for rest in &parts[i + 1..] {
                            next.push(rest);
                        }
                        return mkdir_all_depth(root, &next, depth + 1);
                    }
                    Err(e) => return Err(e),
                }
            }
            Err(e) => return Err(e),
        };
    }
    Ok(current)
}

/// Splits a container path into its parent and final name.
pub fn split(path: &Path) -> (PathBuf, &OsStr) {
    let parent = path.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("/"));
    (parent, path.file_name().unwrap_or_else(|| OsStr::new(".")))
}

/// Makes sure a file (not a directory) exists at `path` inside the root, for
/// a bind mount of a file, and returns an `O_PATH` fd to it.
pub fn touch(root: &OwnedFd, path: &Path) -> nix::Result<OwnedFd> {
    match open_path(root, path) {
        Ok(fd) => return Ok(fd),
        Err(nix::Error::ENOENT) => {}
        Err(e) => return Err(e),
    }
    let (parent, name) = split(path);
    let dir = mkdir_all(root, &parent)?;
    match sys::openat(
        dir.as_fd(),
        name,
        OFlag::O_CREAT | OFlag::O_WRONLY | OFlag::O_NOFOLLOW,
        Mode::from_bits_truncate(0o644),
    ) {
        Ok(fd) => drop(fd),
        Err(nix::Error::EEXIST) => {}
        Err(e) => return Err(e),
    }
    open_path(root, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn root_fd(p: &Path) -> OwnedFd {
        std::fs::File::open(p).unwrap().into()
    }

    #[test]
    fn rel_paths() {
        assert_eq!(rel(Path::new("/a/b")), PathBuf::from("a/b"));
        assert_eq!(rel(Path::new("/")), PathBuf::from("."));
    }

    #[test]
    fn mkdir_all_stays_inside_root() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        let outside = tmp.path().join("outside");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        // An absolute symlink that would escape if followed on the host.
        symlink(&outside, root.join("evil")).unwrap();
        let fd = root_fd(&root);
        mkdir_all(&fd, Path::new("/evil/sub")).unwrap();
        assert!(!outside.join("sub").exists(), "escaped the root");
        assert!(root.join(outside.strip_prefix("/").unwrap()).join("sub").is_dir());
        // A relative escape is clamped at the root too.
        symlink("../../..", root.join("up")).unwrap();
        mkdir_all(&fd, Path::new("/up/x")).unwrap();
        assert!(root.join("x").is_dir());
        touch(&fd, Path::new("/etc/resolv.conf")).unwrap();
        assert!(root.join("etc/resolv.conf").is_file());
    }
}
