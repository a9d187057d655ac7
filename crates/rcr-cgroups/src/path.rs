//! Where a container's cgroup goes: the spec's `linux.cgroupsPath` for the
//! cgroupfs driver ([`CgroupPath`]) and `slice:prefix:name` for the systemd
//! driver ([`SystemdPath`]).
//!
//! Invariants: a [`CgroupPath`] has at least one component and none of them
//! is empty, `.`, `..` or contains `/` or NUL, so joining it onto a hierarchy
//! can only name a directory strictly below that hierarchy's base. A
//! [`SystemdPath`] always names a `.slice` parent and a non-empty unit name
//! made of characters systemd accepts in unit names.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::CgroupError;

/// The parent of containers whose spec gives no `cgroupsPath`.
const DEFAULT_PARENT: &str = "rcr";
const DEFAULT_SLICE: &str = "system.slice";

/// A validated `linux.cgroupsPath` for the cgroupfs driver.
///
/// An absolute path is used as is below each hierarchy's mount point; a
/// relative one is placed below the cgroup the runtime process itself is in,
/// per hierarchy, as runc does.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CgroupPath {
    absolute: bool,
    components: Vec<String>,
}

impl CgroupPath {
    /// The cgroup of container `container_id` given the spec's
    /// `linux.cgroupsPath`: that path, or `/rcr/<container-id>` when it is
    /// missing or empty.
    pub fn from_spec(cgroups_path: Option<&str>, container_id: &str) -> Result<Self, CgroupError> {
        match cgroups_path {
            Some(p) if !p.is_empty() => Self::parse(p),
            _ => {
                let valid = !container_id.is_empty()
                    && container_id != "."
                    && container_id != ".."
                    && !container_id.contains(['/', '\0']);
                if !valid {
                    return Err(CgroupError::InvalidPath {
                        path: format!("/{DEFAULT_PARENT}/{container_id}"),
                        reason: "the container id is not a single path component",
                    });
                }
                Ok(Self {
                    absolute: true,
                    components: vec![DEFAULT_PARENT.to_owned(), container_id.to_owned()],
                })
            }
        }
    }

    /// Validates a cgroups path. Repeated and trailing slashes and `.`
    /// components are dropped; `..`, NUL and a path naming the hierarchy
    /// root itself are refused.
    pub fn parse(path: &str) -> Result<Self, CgroupError> {
        let invalid = |reason| CgroupError::InvalidPath { path: path.to_owned(), reason };
        if path.contains('\0') {
            return Err(invalid("it contains a NUL byte"));
        }
        let mut components = Vec::new();
        for c in path.split('/') {
            match c {
                "" | "." => {}
                ".." => return Err(invalid("'..' is not allowed")),
                c => components.push(c.to_owned()),
            }
        }
        if components.is_empty() {
            return Err(invalid("it names the root cgroup"));
        }
        Ok(Self { absolute: path.starts_with('/'), components })
    }

    /// Whether the path is placed under the hierarchy roots rather than
    /// under the runtime's own cgroup.
    pub fn is_absolute(&self) -> bool {
        self.absolute
    }

    /// The components as a relative path.
    pub(crate) fn relative(&self) -> PathBuf {
        self.components.iter().collect()
    }
}

impl fmt::Display for CgroupPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.absolute {
            f.write_str("/")?;
        }
        f.write_str(&self.components.join("/"))
    }
}

/// A validated `--systemd-cgroup` path, `slice:prefix:name`.
///
/// It names the transient unit `<prefix>-<name>.scope` (`<name>.scope` with
/// an empty prefix) in `slice`; a name ending in `.slice` names that slice
/// itself. An empty slice means `system.slice`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SystemdPath {
    slice: String,
    prefix: String,
    name: String,
}

impl SystemdPath {
    /// The systemd cgroup of container `container_id` given the spec's
    /// `linux.cgroupsPath`: that path, or `system.slice:rcr:<container-id>`
    /// when it is missing or empty.
    pub fn from_spec(cgroups_path: Option<&str>, container_id: &str) -> Result<Self, CgroupError> {
        match cgroups_path {
            Some(p) if !p.is_empty() => Self::parse(p),
            _ => Self::parse(&format!("{DEFAULT_SLICE}:{DEFAULT_PARENT}:{container_id}")),
        }
    }

    /// Parses and validates `slice:prefix:name`.
    pub fn parse(path: &str) -> Result<Self, CgroupError> {
        let invalid =
            |reason: String| CgroupError::InvalidSystemdPath { path: path.to_owned(), reason };
        let parts: Vec<&str> = path.split(':').collect();
        let [slice, prefix, name] = parts[..] else {
            return Err(invalid("expected the form slice:prefix:name".to_owned()));
        };
        let slice = if slice.is_empty() { DEFAULT_SLICE } else { slice };
        if !slice.ends_with(".slice") || slice == ".slice" {
            return Err(invalid(format!("{slice:?} is not a slice name (it must end in .slice)")));
        }
        if name.is_empty() {
            return Err(invalid("the name is empty".to_owned()));
        }
        for (what, value) in [("slice", slice), ("prefix", prefix), ("name", name)] {
            if let Some(bad) = value.chars().find(|c| !is_unit_char(*c)) {
                return Err(invalid(format!(
                    "{what} {value:?} contains {bad:?}, which systemd does not allow in unit names"
                )));
            }
        }
        Ok(Self { slice: slice.to_owned(), prefix: prefix.to_owned(), name: name.to_owned() })
    }

    /// The slice the unit is placed in, e.g. `system.slice`.
    pub fn slice(&self) -> &str {
        &self.slice
    }

    /// The unit that holds the container, e.g. `rcr-c1.scope`.
    pub fn unit(&self) -> String {
        if self.name.ends_with(".slice") {
            self.name.clone()
        } else if self.prefix.is_empty() {
            format!("{}.scope", self.name)
        } else {
            format!("{}-{}.scope", self.prefix, self.name)
        }
    }
}

impl fmt::Display for SystemdPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.slice, self.prefix, self.name)
    }
}

fn is_unit_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '@' | '\\')
}

/// Whether systemd is the running init, by its own test (`sd_booted`).
pub fn systemd_available() -> bool {
    systemd_available_at(Path::new("/"))
}

pub(crate) fn systemd_available_at(root: &Path) -> bool {
    std::fs::symlink_metadata(root.join("run/systemd/system")).is_ok_and(|m| m.is_dir())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_and_relative_paths() {
        let p = CgroupPath::parse("/a/b").unwrap();
        assert!(p.is_absolute());
        assert_eq!(p.relative(), PathBuf::from("a/b"));
        assert_eq!(p.to_string(), "/a/b");

        let p = CgroupPath::parse("a//./b/").unwrap();
        assert!(!p.is_absolute());
        assert_eq!(p.relative(), PathBuf::from("a/b"));
        assert_eq!(p.to_string(), "a/b");
    }

    #[test]
    fn default_path() {
        for spec in [None, Some("")] {
            let p = CgroupPath::from_spec(spec, "c1").unwrap();
            assert_eq!(p.to_string(), "/rcr/c1");
            assert!(p.is_absolute());
        }
        assert_eq!(CgroupPath::from_spec(Some("/x/y"), "c1").unwrap().to_string(), "/x/y");
    }

    #[test]
    fn invalid_paths() {
        for bad in ["/", "//", ".", "./", "/a/../b", "..", "a/..", "a\0b"] {
            let err = CgroupPath::parse(bad).unwrap_err();
            assert!(matches!(err, CgroupError::InvalidPath { .. }), "{bad:?}: {err}");
        }
        for id in ["", ".", "..", "a/b", "x\0"] {
            assert!(CgroupPath::from_spec(None, id).is_err(), "{id:?}");
        }
        let err = CgroupPath::parse("/a/../b").unwrap_err();
        assert_eq!(err.to_string(), "invalid cgroups path \"/a/../b\": '..' is not allowed");
    }

    #[test]
    fn systemd_paths() {
        let p = SystemdPath::parse("system.slice:rcr:c1").unwrap();
        assert_eq!(p.slice(), "system.slice");
        assert_eq!(p.unit(), "rcr-c1.scope");
        assert_eq!(p.to_string(), "system.slice:rcr:c1");

        let p = SystemdPath::parse(":docker:abc").unwrap();
        assert_eq!(p.slice(), "system.slice");
        assert_eq!(p.unit(), "docker-abc.scope");

        let p = SystemdPath::parse("user.slice::c1").unwrap();
        assert_eq!(p.unit(), "c1.scope");

        let p = SystemdPath::parse("machine.slice:x:pod.slice").unwrap();
        assert_eq!(p.unit(), "pod.slice");

        let p = SystemdPath::from_spec(None, "c1").unwrap();
        assert_eq!(p.to_string(), "system.slice:rcr:c1");
        assert_eq!(p.unit(), "rcr-c1.scope");
    }

    #[test]
    fn invalid_systemd_paths() {
        for bad in [
            "/rcr/c1",
            "system.slice:rcr",
            "system.slice:rcr:c1:x",
            "system:rcr:c1",
            ".slice:rcr:c1",
            "system.slice:rcr:",
            "system.slice:r/c:c1",
            "system.slice:rcr:c 1",
            "a/b.slice:rcr:c1",
        ] {
            let err = SystemdPath::parse(bad).unwrap_err();
            assert!(matches!(err, CgroupError::InvalidSystemdPath { .. }), "{bad:?}: {err}");
        }
        assert!(SystemdPath::from_spec(None, "a/b").is_err());
    }

    #[test]
    fn systemd_detection() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(!systemd_available_at(tmp.path()));
        std::fs::create_dir_all(tmp.path().join("run/systemd/system")).unwrap();
        assert!(systemd_available_at(tmp.path()));
    }
}
