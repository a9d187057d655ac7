//! Which cgroup filesystems are mounted where, and which cgroups a process is in.
//!
//! The layout is decided from the mount table alone:
//! - [`Layout::V1`]: v1 (`cgroup`) mounts carry the controllers and there is
//!   no `cgroup2` mount;
//! - [`Layout::Hybrid`]: v1 mounts carry controllers and a `cgroup2` mount
//!   exists as well (systemd's "unified" mount); processes go into both;
//! - [`Layout::V2`]: a `cgroup2` mount and no v1 mount with a real controller.
//!   A named-only v1 hierarchy (`name=systemd`) on such a host is ignored.
//!
//! Invariants: every mount point held here is already joined onto the root
//! prefix, so it can be used as is; each v1 hierarchy appears once, and every
//! controller name of it (`cpu` and `cpuacct` of a comounted `cpu,cpuacct`,
//! or `name=systemd`) maps to the same mount point.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use crate::error::CgroupError;

const MOUNTINFO: &str = "/proc/self/mountinfo";

/// Super options of a v1 mount that are not controller names.
const NOT_CONTROLLERS: &[&str] =
    &["rw", "ro", "xattr", "noprefix", "clone_children", "cpuset_v2_mode", "favordynmods", "none"];

/// How cgroups are mounted on this host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// Only cgroup v1 hierarchies.
    V1,
    /// Only the cgroup v2 unified hierarchy.
    V2,
    /// v1 hierarchies own the controllers; a v2 hierarchy is mounted too.
    Hybrid,
}

/// One mounted v1 hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct V1Mount {
    /// The controllers as the mount options name them, e.g. `["cpu", "cpuacct"]`
    /// or `["name=systemd"]`.
    pub(crate) controllers: Vec<String>,
    pub(crate) mount: PathBuf,
    /// The cgroup of the hierarchy that is mounted there (mountinfo's root
    /// field); `/` unless a subtree was bind-mounted.
    pub(crate) root: String,
}

/// The unified (v2) mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UnifiedMount {
    pub(crate) mount: PathBuf,
    pub(crate) root: String,
}

/// The cgroup filesystems of a host (or of a fake one under a root prefix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupFs {
    layout: Layout,
    v1: Vec<V1Mount>,
    v1_by_name: BTreeMap<String, PathBuf>,
    unified: Option<UnifiedMount>,
    v2_controllers: Vec<String>,
}

impl CgroupFs {
    /// Detects the cgroup filesystems of this process's mount namespace.
    pub fn host() -> Result<Self, CgroupError> {
        let text = fs::read_to_string(MOUNTINFO)
            .map_err(|source| CgroupError::Read { path: MOUNTINFO.into(), source })?;
        Self::parse(&text, Path::new("/"), MOUNTINFO)
    }

    /// Detects the cgroup filesystems described by `mountinfo` (the format of
    /// `/proc/self/mountinfo`), with every mount point taken relative to
    /// `root`. With a root of `/` this is what [`CgroupFs::host`] does; tests
    /// point `root` at a fake cgroupfs in a temporary directory.
    ///
    /// The v2 controllers are read from `cgroup.controllers` of the unified
    /// mount, so that file must exist when a `cgroup2` mount is listed.
    pub fn from_mountinfo(mountinfo: &str, root: &Path) -> Result<Self, CgroupError> {
        Self::parse(mountinfo, root, "mountinfo")
    }

    fn parse(text: &str, root: &Path, what: &str) -> Result<Self, CgroupError> {
        let mut v1: Vec<V1Mount> = Vec::new();
        let mut unified: Option<UnifiedMount> = None;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let entry = MountEntry::parse(line).ok_or_else(|| CgroupError::Parse {
                what: what.to_owned(),
                line: line.to_owned(),
                reason: "not a mountinfo line",
            })?;
            let mount = under_root(root, &entry.mount_point);
            match entry.fstype {
                "cgroup2" => {
                    // A hierarchy can be mounted several times; the mount of its
                    // real root is the one whose paths match /proc/<pid>/cgroup.
                    let better =
                        unified.as_ref().is_none_or(|u| u.root != "/" && entry.root == "/");
                    if better {
                        unified = Some(UnifiedMount { mount, root: entry.root });
                    }
                }
                "cgroup" => {
                    let mut controllers: Vec<String> = entry
                        .super_options
                        .split(',')
                        .filter(|o| !o.is_empty())
                        .filter(|o| {
                            !NOT_CONTROLLERS.contains(o) && !o.starts_with("release_agent=")
                        })
                        .map(str::to_owned)
                        .collect();
                    if controllers.is_empty() {
                        continue;
                    }
                    controllers.sort();
                    match v1.iter_mut().find(|m| m.controllers == controllers) {
                        Some(seen) => {
                            if seen.root != "/" && entry.root == "/" {
                                seen.mount = mount;
                                seen.root = entry.root;
                            }
                        }
                        None => v1.push(V1Mount { controllers, mount, root: entry.root }),
                    }
                }
                _ => {}
            }
        }

        let has_v1_controller =
            v1.iter().any(|m| m.controllers.iter().any(|c| !c.starts_with("name=")));
        let layout = match (has_v1_controller, unified.is_some()) {
            (true, true) => Layout::Hybrid,
            (true, false) => Layout::V1,
            (false, true) => Layout::V2,
            (false, false) if !v1.is_empty() => Layout::V1,
            (false, false) => return Err(CgroupError::NotMounted { what: what.to_owned() }),
        };
        if layout == Layout::V2 {
            v1.clear();
        }

        let v2_controllers = match &unified {
            Some(u) => {
                let path = u.mount.join("cgroup.controllers");
                let text = fs::read_to_string(&path)
                    .map_err(|source| CgroupError::Read { path, source })?;
                text.split_whitespace().map(str::to_owned).collect()
            }
            None => Vec::new(),
        };
        let v1_by_name = v1
            .iter()
            .flat_map(|m| m.controllers.iter().map(|c| (c.clone(), m.mount.clone())))
            .collect();
        Ok(Self { layout, v1, v1_by_name, unified, v2_controllers })
    }

    /// How cgroups are mounted.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// Every v1 controller name (including named hierarchies such as
    /// `name=systemd`) and the mount point of its hierarchy. Empty on v2.
    pub fn v1_mounts(&self) -> &BTreeMap<String, PathBuf> {
        &self.v1_by_name
    }

    /// The mount point of the unified hierarchy, on v2 and hybrid hosts.
    pub fn unified_mount(&self) -> Option<&Path> {
        self.unified.as_ref().map(|u| u.mount.as_path())
    }

    /// The controllers the unified hierarchy offers at its root
    /// (`cgroup.controllers`); on a hybrid host, those not bound to v1.
    pub fn v2_controllers(&self) -> &[String] {
        &self.v2_controllers
    }

    pub(crate) fn v1_hierarchies(&self) -> &[V1Mount] {
        &self.v1
    }

    pub(crate) fn unified(&self) -> Option<&UnifiedMount> {
        self.unified.as_ref()
    }
}

/// The fields of one mountinfo line that matter here.
struct MountEntry<'a> {
    root: String,
    mount_point: String,
    fstype: &'a str,
    super_options: &'a str,
}

impl<'a> MountEntry<'a> {
    fn parse(line: &'a str) -> Option<Self> {
        let fields: Vec<&str> = line.split_whitespace().collect();
        // id, parent, dev, root, mount point, options, optional fields..., "-", ...
        let sep = fields.iter().skip(6).position(|f| *f == "-")? + 6;
        let fstype = fields.get(sep + 1)?;
        let super_options = fields.get(sep + 3).copied().unwrap_or("");
        Some(Self {
            root: unescape(fields[3]),
            mount_point: unescape(fields[4]),
            fstype,
            super_options,
        })
    }
}

/// Undoes mountinfo's octal escapes (`\040` for a space and so on).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if let Some(&[b'\\', a, b, c]) = bytes.get(i..i + 4) {
            if [a, b, c].iter().all(|d| (b'0'..=b'7').contains(d)) && a <= b'3' {
                out.push((a - b'0') * 64 + (b - b'0') * 8 + (c - b'0'));
                i += 4;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn under_root(root: &Path, path: &str) -> PathBuf {
    root.join(path.trim_start_matches('/'))
}

/// Which cgroups a process is in, as `/proc/<pid>/cgroup` lists them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcCgroups {
    v1: BTreeMap<String, String>,
    unified: Option<String>,
}

impl ProcCgroups {
    /// The cgroups of the calling process.
    pub fn read_self() -> Result<Self, CgroupError> {
        Self::read_file(Path::new("/proc/self/cgroup"))
    }

    /// The cgroups of process `pid`.
    pub fn read(pid: Pid) -> Result<Self, CgroupError> {
        Self::read_file(&PathBuf::from(format!("/proc/{pid}/cgroup")))
    }

    fn read_file(path: &Path) -> Result<Self, CgroupError> {
        let text = fs::read_to_string(path)
            .map_err(|source| CgroupError::Read { path: path.to_owned(), source })?;
        Self::parse_from(&text, &path.display().to_string())
    }

    /// Parses text in the format of `/proc/<pid>/cgroup`.
    pub fn parse(text: &str) -> Result<Self, CgroupError> {
        Self::parse_from(text, "cgroup membership")
    }

    fn parse_from(text: &str, what: &str) -> Result<Self, CgroupError> {
        let mut out = Self::default();
        for line in text.lines().filter(|l| !l.is_empty()) {
            let mut parts = line.splitn(3, ':');
            let (Some(id), Some(controllers), Some(path)) =
                (parts.next(), parts.next(), parts.next())
            else {
                return Err(CgroupError::Parse {
                    what: what.to_owned(),
                    line: line.to_owned(),
                    reason: "expected hierarchy-id:controllers:path",
                });
            };
            let path = path.strip_suffix(" (deleted)").unwrap_or(path).to_owned();
            if id == "0" && controllers.is_empty() {
                out.unified = Some(path);
            } else {
                for c in controllers.split(',').filter(|c| !c.is_empty()) {
                    out.v1.insert(c.to_owned(), path.clone());
                }
            }
        }
        Ok(out)
    }

    /// The cgroup in the v1 hierarchy of `controller` (or of a named
    /// hierarchy such as `name=systemd`).
    pub fn v1(&self, controller: &str) -> Option<&str> {
        self.v1.get(controller).map(String::as_str)
    }

    /// The cgroup in the unified hierarchy (the `0::` line).
    pub fn unified(&self) -> Option<&str> {
        self.unified.as_deref()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The mount table of a hybrid host: v1 controllers each on its own
    /// mount, systemd's named hierarchy and an empty unified mount.
    pub(crate) const HYBRID: &str = "\
22 27 0:21 / /proc rw,relatime - proc proc rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
";

    /// A classic v1 host with comounted hierarchies.
    pub(crate) const V1: &str = "\
24 22 0:21 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
25 24 0:22 / /sys/fs/cgroup/systemd rw,nosuid shared:10 - cgroup cgroup rw,xattr,release_agent=/lib/systemd/systemd-cgroups-agent,name=systemd
27 24 0:24 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:12 - cgroup cgroup rw,cpu,cpuacct
28 24 0:25 / /sys/fs/cgroup/cpuset rw,nosuid shared:13 - cgroup cgroup rw,cpuset,clone_children
29 24 0:26 / /sys/fs/cgroup/memory rw,nosuid shared:14 - cgroup cgroup rw,memory
30 24 0:27 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid shared:15 - cgroup cgroup rw,net_cls,net_prio
31 24 0:28 / /sys/fs/cgroup/pids rw,nosuid shared:16 - cgroup cgroup rw,pids
32 24 0:29 / /sys/fs/cgroup/freezer rw,nosuid shared:17 - cgroup cgroup rw,freezer
";

    /// A pure v2 host.
    pub(crate) const V2: &str = "\
30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
";

    pub(crate) fn write(path: &Path, text: &str) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    /// The cgroup `/rcr/c1` of a fake cgroupfs under `tmp` mounted as
    /// `mountinfo` says.
    pub(crate) fn container_cgroup(tmp: &Path, mountinfo: &str) -> crate::Cgroup {
        let fs = CgroupFs::from_mountinfo(mountinfo, tmp).unwrap();
        let path = crate::CgroupPath::parse("/rcr/c1").unwrap();
        crate::Cgroup::new(&fs, &ProcCgroups::default(), &path).unwrap()
    }

    #[test]
    fn detects_hybrid() {
        let tmp = tempfile::tempdir().unwrap();
        write(&tmp.path().join("sys/fs/cgroup/unified/cgroup.controllers"), "hugetlb\n");
        let fs = CgroupFs::from_mountinfo(HYBRID, tmp.path()).unwrap();
        assert_eq!(fs.layout(), Layout::Hybrid);
        let cg = tmp.path().join("sys/fs/cgroup");
        assert_eq!(fs.v1_mounts().get("cpu"), Some(&cg.join("cpu")));
        assert_eq!(fs.v1_mounts().get("cpuacct"), Some(&cg.join("cpuacct")));
        assert_eq!(fs.v1_mounts().get("name=systemd"), Some(&cg.join("systemd")));
        assert_eq!(fs.v1_mounts().len(), 6);
        assert_eq!(fs.unified_mount(), Some(cg.join("unified").as_path()));
        assert_eq!(fs.v2_controllers(), ["hugetlb"]);
    }

    #[test]
    fn detects_v1_with_comounts() {
        let tmp = tempfile::tempdir().unwrap();
        let fs = CgroupFs::from_mountinfo(V1, tmp.path()).unwrap();
        assert_eq!(fs.layout(), Layout::V1);
        let cg = tmp.path().join("sys/fs/cgroup");
        let names: Vec<&str> = fs.v1_mounts().keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "cpu",
                "cpuacct",
                "cpuset",
                "freezer",
                "memory",
                "name=systemd",
                "net_cls",
                "net_prio",
                "pids"
            ]
        );
        assert_eq!(fs.v1_mounts()["cpu"], cg.join("cpu,cpuacct"));
        assert_eq!(fs.v1_mounts()["cpuacct"], cg.join("cpu,cpuacct"));
        assert_eq!(fs.v1_mounts()["net_prio"], cg.join("net_cls,net_prio"));
        assert_eq!(fs.v1_hierarchies().len(), 7);
        assert_eq!(fs.unified_mount(), None);
        assert!(fs.v2_controllers().is_empty());
    }

    #[test]
    fn detects_v2() {
        let tmp = tempfile::tempdir().unwrap();
        write(&tmp.path().join("sys/fs/cgroup/cgroup.controllers"), "cpuset cpu io memory pids\n");
        let fs = CgroupFs::from_mountinfo(V2, tmp.path()).unwrap();
        assert_eq!(fs.layout(), Layout::V2);
        assert!(fs.v1_mounts().is_empty());
        assert_eq!(fs.unified_mount(), Some(tmp.path().join("sys/fs/cgroup").as_path()));
        assert_eq!(fs.v2_controllers(), ["cpuset", "cpu", "io", "memory", "pids"]);
    }

    #[test]
    fn v2_with_a_named_v1_hierarchy_is_v2() {
        let tmp = tempfile::tempdir().unwrap();
        write(&tmp.path().join("sys/fs/cgroup/cgroup.controllers"), "memory\n");
        let text = format!("{V2}40 30 0:40 / /run/systemd-v1 rw - cgroup cgroup rw,name=systemd\n");
        let fs = CgroupFs::from_mountinfo(&text, tmp.path()).unwrap();
        assert_eq!(fs.layout(), Layout::V2);
        assert!(fs.v1_mounts().is_empty());
    }

    #[test]
    fn prefers_the_mount_of_the_hierarchy_root() {
        let tmp = tempfile::tempdir().unwrap();
        let text = "\
50 1 0:30 /docker/x /bound rw - cgroup cgroup rw,memory
51 1 0:30 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
52 1 0:30 /other /bound2 rw - cgroup cgroup rw,memory
";
        let fs = CgroupFs::from_mountinfo(text, tmp.path()).unwrap();
        assert_eq!(fs.v1_hierarchies().len(), 1);
        assert_eq!(fs.v1_hierarchies()[0].mount, tmp.path().join("sys/fs/cgroup/memory"));
        assert_eq!(fs.v1_hierarchies()[0].root, "/");
    }

    #[test]
    fn unescapes_mount_points() {
        let tmp = tempfile::tempdir().unwrap();
        let text = "50 1 0:30 / /cg\\040v1/pids rw - cgroup cgroup rw,pids\n";
        let fs = CgroupFs::from_mountinfo(text, tmp.path()).unwrap();
        assert_eq!(fs.v1_mounts()["pids"], tmp.path().join("cg v1/pids"));
    }

    #[test]
    fn no_cgroup_mounts_is_an_error() {
        let text = "22 27 0:21 / /proc rw,relatime - proc proc rw\n";
        let err = CgroupFs::from_mountinfo(text, Path::new("/")).unwrap_err();
        assert!(matches!(err, CgroupError::NotMounted { .. }), "{err}");
        let err = CgroupFs::from_mountinfo("garbage\n", Path::new("/")).unwrap_err();
        assert!(matches!(err, CgroupError::Parse { .. }), "{err}");
    }

    #[test]
    fn v2_without_cgroup_controllers_file_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        let err = CgroupFs::from_mountinfo(V2, tmp.path()).unwrap_err();
        assert!(matches!(err, CgroupError::Read { .. }), "{err}");
    }

    #[test]
    fn parses_proc_cgroup() {
        let own = ProcCgroups::parse(
            "9:name=systemd:/\n4:memory:/process_api/abc\n2:cpu,cpuacct:/a\n0::/u (deleted)\n",
        )
        .unwrap();
        assert_eq!(own.v1("memory"), Some("/process_api/abc"));
        assert_eq!(own.v1("cpu"), Some("/a"));
        assert_eq!(own.v1("cpuacct"), Some("/a"));
        assert_eq!(own.v1("name=systemd"), Some("/"));
        assert_eq!(own.v1("pids"), None);
        assert_eq!(own.unified(), Some("/u"));
        assert!(ProcCgroups::parse("nonsense\n").is_err());
    }
}
