//! Mount entries of the spec resolved into flags, propagation changes and
//! filesystem data, following mount(8)'s option names as runtime-spec asks.

use std::path::{Path, PathBuf};

use nix::mount::MsFlags;
use oci_spec::runtime::Mount;

use super::userns::{mappings, IdMappings};

/// A propagation change (`private`, `rshared`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Propagation(pub MsFlags);

/// Every propagation option, with the change it makes.
const PROPAGATIONS: &[(&str, MsFlags)] = &[
    ("private", MsFlags::MS_PRIVATE),
    ("rprivate", MsFlags::MS_PRIVATE.union(MsFlags::MS_REC)),
    ("shared", MsFlags::MS_SHARED),
    ("rshared", MsFlags::MS_SHARED.union(MsFlags::MS_REC)),
    ("slave", MsFlags::MS_SLAVE),
    ("rslave", MsFlags::MS_SLAVE.union(MsFlags::MS_REC)),
    ("unbindable", MsFlags::MS_UNBINDABLE),
    ("runbindable", MsFlags::MS_UNBINDABLE.union(MsFlags::MS_REC)),
];

impl Propagation {
    pub fn parse(name: &str) -> Option<Self> {
        PROPAGATIONS.iter().find(|(n, _)| *n == name).map(|(_, f)| Self(*f))
    }
}

/// How a mount is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MountKind {
    /// A bind mount (`bind`/`rbind` option or type `bind`).
    Bind { recursive: bool },
    /// The `cgroup` type: the container's own cgroups, shown the way the
    /// host's layout allows (see the cgroups crate).
    Cgroup,
    /// Any other filesystem type, mounted as is.
    Fs,
}

/// A resolved mount entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountPlan {
    /// Absolute path inside the container.
    pub destination: PathBuf,
    /// The source; for binds an absolute host path.
    pub source: Option<PathBuf>,
    pub fstype: Option<String>,
    pub kind: MountKind,
    /// Flags set by the options.
    pub flags: MsFlags,
    /// Flags an option explicitly cleared (`rw`, `suid`, ...): kept apart so a
    /// bind remount knows not to carry them over from the source mount.
    pub cleared: MsFlags,
    /// Propagation changes, applied in order after the mount.
    pub propagation: Vec<Propagation>,
    /// Filesystem-specific options, comma-joined (`mode=755,size=65536k`).
    pub data: String,
    /// For an idmapped bind mount: the mapping applied to it.
    pub idmap: Option<MountIdmap>,
}

/// Whose ids an idmapped mount maps to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdmapUsers {
    /// A user namespace with these maps, made for the purpose.
    Maps(IdMappings),
    /// The user namespace at this path (the container's, joined by path).
    Namespace(PathBuf),
}

/// The id mapping of a mount (`idmap`, `ridmap`, `uidMappings`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountIdmap {
    /// Whether every mount of an `rbind` gets the mapping (`ridmap`), not
    /// only the top one.
    pub recursive: bool,
    pub users: IdmapUsers,
}

impl MountPlan {
    /// Whether a bind mount needs a second, remounting call to apply its
    /// flags (the kernel ignores most flags on the first bind).
    pub fn needs_remount(&self) -> bool {
        matches!(self.kind, MountKind::Bind { .. })
            && self.flags.intersects(!(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT))
    }
}

/// `MS_NOSYMFOLLOW` (Linux 5.10), which nix does not name.
const MS_NOSYMFOLLOW: MsFlags = MsFlags::from_bits_retain(libc::MS_NOSYMFOLLOW);

/// (name, flag, clears) for every flag option mount(8) knows.
const FLAG_OPTIONS: &[(&str, MsFlags, bool)] = &[
    // mount(8)'s "rw,suid,dev,exec,auto,nouser,async": no flag at all.
    ("defaults", MsFlags::empty(), false),
    ("ro", MsFlags::MS_RDONLY, false),
    ("rw", MsFlags::MS_RDONLY, true),
    ("nosuid", MsFlags::MS_NOSUID, false),
    ("suid", MsFlags::MS_NOSUID, true),
    ("nodev", MsFlags::MS_NODEV, false),
    ("dev", MsFlags::MS_NODEV, true),
    ("noexec", MsFlags::MS_NOEXEC, false),
    ("exec", MsFlags::MS_NOEXEC, true),
    ("sync", MsFlags::MS_SYNCHRONOUS, false),
    ("async", MsFlags::MS_SYNCHRONOUS, true),
    ("dirsync", MsFlags::MS_DIRSYNC, false),
    ("remount", MsFlags::MS_REMOUNT, false),
    ("mand", MsFlags::MS_MANDLOCK, false),
    ("nomand", MsFlags::MS_MANDLOCK, true),
    ("noatime", MsFlags::MS_NOATIME, false),
    ("atime", MsFlags::MS_NOATIME, true),
    ("nodiratime", MsFlags::MS_NODIRATIME, false),
    ("diratime", MsFlags::MS_NODIRATIME, true),
    ("relatime", MsFlags::MS_RELATIME, false),
    ("norelatime", MsFlags::MS_RELATIME, true),
    ("strictatime", MsFlags::MS_STRICTATIME, false),
    ("nostrictatime", MsFlags::MS_STRICTATIME, true),
    ("lazytime", MsFlags::MS_LAZYTIME, false),
    ("nolazytime", MsFlags::MS_LAZYTIME, true),
    ("silent", MsFlags::MS_SILENT, false),
    ("loud", MsFlags::MS_SILENT, true),
    ("iversion", MsFlags::MS_I_VERSION, false),
    ("noiversion", MsFlags::MS_I_VERSION, true),
    ("acl", MsFlags::MS_POSIXACL, false),
    ("noacl", MsFlags::MS_POSIXACL, true),
    ("nosymfollow", MS_NOSYMFOLLOW, false),
    ("symfollow", MS_NOSYMFOLLOW, true),
];

/// The options that make a bind mount (`rbind` a recursive one).
const BIND_OPTIONS: &[&str] = &["bind", "rbind"];

/// The options that ask for an id mapping (`ridmap` on every mount of an
/// `rbind`).
const IDMAP_OPTIONS: &[&str] = &["idmap", "ridmap"];

/// Options for features that come with later work: refused with a clear
/// message rather than passed to the filesystem as data.
const UNSUPPORTED: &[&str] = &["tmpcopyup"];

/// Every mount option [`parse_mount`] interprets itself, sorted: flags,
/// propagation, bind and idmap options. Anything else is filesystem data,
/// passed to mount(2) as is, or refused.
pub fn known_options() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = FLAG_OPTIONS
        .iter()
        .map(|(n, _, _)| *n)
        .chain(PROPAGATIONS.iter().map(|(n, _)| *n))
        .chain(BIND_OPTIONS.iter().copied())
        .chain(IDMAP_OPTIONS.iter().copied())
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// Resolves one spec mount; `bundle` anchors relative bind sources and
/// `container_users` is what an `idmap` mount without mappings of its own
/// maps to (the container's user namespace, if it has one).
pub fn parse_mount(
    m: &Mount,
    bundle: &Path,
    container_users: Option<&IdmapUsers>,
) -> Result<MountPlan, String> {
    let dest = m.destination();
    let destination = if dest.is_absolute() { dest.clone() } else { Path::new("/").join(dest) };
    if destination.components().any(|c| c == std::path::Component::ParentDir) {
        return Err(format!("destination {} contains '..'", dest.display()));
    }
    let fstype = m.typ().clone().filter(|t| !t.is_empty());
    let mut flags = MsFlags::empty();
    let mut cleared = MsFlags::empty();
    let mut propagation = Vec::new();
    let mut data = Vec::new();
    let mut bind = None;
    let mut idmap_option = None;
    for opt in m.options().iter().flatten() {
        let opt = opt.as_str();
        if let Some((_, f, clears)) = FLAG_OPTIONS.iter().find(|(n, _, _)| *n == opt) {
            if *clears {
                flags.remove(*f);
                cleared |= *f;
            } else {
                flags |= *f;
                cleared.remove(*f);
            }
        } else if let Some(p) = Propagation::parse(opt) {
            propagation.push(p);
        } else if BIND_OPTIONS.contains(&opt) {
            bind = Some(opt == "rbind" || bind.unwrap_or(false));
        } else if IDMAP_OPTIONS.contains(&opt) {
            idmap_option = Some(opt == "ridmap");
        } else if UNSUPPORTED.contains(&opt) || opt.starts_with('r') && rec_attr(opt) {
            return Err(format!("mount option {opt:?} is not supported yet"));
        } else {
            data.push(opt.to_owned());
        }
    }
    if fstype.as_deref() == Some("bind") && bind.is_none() {
        bind = Some(false);
    }
    let kind = match (bind, fstype.as_deref()) {
        (Some(recursive), _) => MountKind::Bind { recursive },
        (None, Some("cgroup" | "cgroup2")) => MountKind::Cgroup,
        (None, Some(_)) => MountKind::Fs,
        (None, None) => return Err("a mount needs a type or a bind option".to_owned()),
    };
    let source = match (&kind, m.source()) {
        (MountKind::Bind { .. }, None) => return Err("a bind mount needs a source".to_owned()),
        (MountKind::Bind { .. }, Some(s)) if s.is_relative() => Some(bundle.join(s)),
        (_, s) => s.clone(),
    };
    if matches!(kind, MountKind::Bind { .. }) {
        flags |= MsFlags::MS_BIND;
    }
    let idmap = parse_idmap(m, &kind, idmap_option, container_users)?;
    Ok(MountPlan {
        destination,
        source,
        fstype,
        kind,
        flags,
        cleared,
        propagation,
        data: data.join(","),
        idmap,
    })
}

/// The id mapping of a mount: given by `uidMappings`/`gidMappings` (with or
/// without an `idmap` option, as runc does), or asked for by `idmap` or
/// `ridmap` alone, which then take the container's user namespace.
fn parse_idmap(
    m: &Mount,
    kind: &MountKind,
    option: Option<bool>,
    container_users: Option<&IdmapUsers>,
) -> Result<Option<MountIdmap>, String> {
    let own = mappings(m.uid_mappings().as_ref(), m.gid_mappings().as_ref(), "")
        .map_err(|e| format!("{}: {}", e.field, e.message))?;
    if own.is_none() && option.is_none() {
        return Ok(None);
    }
    if !matches!(kind, MountKind::Bind { .. }) {
        return Err("idmapped mounts must be bind mounts".to_owned());
    }
    let users = match (own, container_users) {
        (Some(maps), _) => IdmapUsers::Maps(maps),
        (None, Some(users)) => users.clone(),
        (None, None) => {
            return Err("an idmap mount needs uidMappings and gidMappings, or a user namespace to take them from"
                .to_owned())
        }
    };
    Ok(Some(MountIdmap { recursive: option.unwrap_or(false), users }))
}

/// The recursive mount attributes of runtime-spec 1.1 (`rro`, `rnosuid`...),
/// which need mount_setattr(2).
fn rec_attr(opt: &str) -> bool {
    matches!(
        opt,
        "rro"
            | "rrw"
            | "rnosuid"
            | "rsuid"
            | "rnodev"
            | "rdev"
            | "rnoexec"
            | "rexec"
            | "rnodiratime"
            | "rdiratime"
            | "rrelatime"
            | "rnorelatime"
            | "rnoatime"
            | "ratime"
            | "rstrictatime"
            | "rnostrictatime"
            | "rnosymfollow"
            | "rsymfollow"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mount(v: serde_json::Value) -> Result<MountPlan, String> {
        parse_mount(&serde_json::from_value(v).unwrap(), Path::new("/bundle"), None)
    }

    #[test]
    fn tmpfs_flags_and_data() {
        let m =
            mount(serde_json::json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
            "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}))
            .unwrap();
        assert_eq!(m.kind, MountKind::Fs);
        assert_eq!(m.flags, MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME);
        assert_eq!(m.data, "mode=755,size=65536k");
        assert!(!m.needs_remount());
        // Options the kernel does not take as filesystem data.
        let m = mount(serde_json::json!({"destination": "/x", "type": "tmpfs",
            "options": ["defaults", "acl", "nosymfollow"]}))
        .unwrap();
        assert_eq!(m.flags, MsFlags::MS_POSIXACL | MS_NOSYMFOLLOW);
        assert_eq!(m.data, "");
    }

    #[test]
    fn binds() {
        let m = mount(serde_json::json!({"destination": "data", "type": "none", "source": "rel",
            "options": ["rbind", "ro", "rprivate", "nosuid"]}))
        .unwrap();
        assert_eq!(m.kind, MountKind::Bind { recursive: true });
        assert_eq!(m.destination, PathBuf::from("/data"));
        assert_eq!(m.source, Some(PathBuf::from("/bundle/rel")));
        assert!(m.flags.contains(MsFlags::MS_RDONLY | MsFlags::MS_BIND | MsFlags::MS_NOSUID));
        assert_eq!(m.propagation, vec![Propagation::parse("rprivate").unwrap()]);
        assert!(m.needs_remount());
        let m = mount(serde_json::json!({"destination": "/x", "type": "bind", "source": "/s"}))
            .unwrap();
        assert_eq!(m.kind, MountKind::Bind { recursive: false });
        assert!(!m.needs_remount());
    }

    #[test]
    fn later_option_wins() {
        let m = mount(
            serde_json::json!({"destination": "/x", "type": "tmpfs", "options": ["ro", "rw"]}),
        )
        .unwrap();
        assert!(!m.flags.contains(MsFlags::MS_RDONLY));
        assert!(m.cleared.contains(MsFlags::MS_RDONLY));
    }

    #[test]
    fn errors() {
        assert!(mount(serde_json::json!({"destination": "/x"})).unwrap_err().contains("type"));
        assert!(mount(serde_json::json!({"destination": "/x", "options": ["bind"]}))
            .unwrap_err()
            .contains("source"));
        assert!(mount(serde_json::json!({"destination": "/../x", "type": "tmpfs"}))
            .unwrap_err()
            .contains(".."));
        assert!(mount(
            serde_json::json!({"destination": "/x", "type": "tmpfs", "options": ["tmpcopyup"]})
        )
        .is_err());
        assert_eq!(
            mount(serde_json::json!({"destination": "/sys/fs/cgroup", "type": "cgroup"}))
                .unwrap()
                .kind,
            MountKind::Cgroup
        );
    }

    fn maps(container: u32, host: u32, size: u32) -> serde_json::Value {
        serde_json::json!([{"containerID": container, "hostID": host, "size": size}])
    }

    #[test]
    fn idmapped_binds() {
        let m = mount(
            serde_json::json!({"destination": "/x", "source": "/s", "options": ["rbind", "ridmap"],
            "uidMappings": maps(0, 1000, 1), "gidMappings": maps(0, 1000, 1)}),
        )
        .unwrap();
        let idmap = m.idmap.unwrap();
        assert!(idmap.recursive);
        let IdmapUsers::Maps(maps_) = idmap.users else { panic!("{:?}", idmap.users) };
        assert_eq!(maps_.uids[0].host_id, 1000);
        assert_eq!(m.data, "", "idmap must not reach mount(2) as data");

        // Mappings alone make an idmapped mount too (as runc does); not recursive.
        let m =
            mount(serde_json::json!({"destination": "/x", "source": "/s", "options": ["rbind"],
            "uidMappings": maps(0, 1000, 1), "gidMappings": maps(0, 1000, 1)}))
            .unwrap();
        assert!(!m.idmap.unwrap().recursive);

        // `idmap` without mappings takes the container's user namespace.
        let own = IdmapUsers::Namespace("/proc/1/ns/user".into());
        let v =
            serde_json::json!({"destination": "/x", "source": "/s", "options": ["bind", "idmap"]});
        let m =
            parse_mount(&serde_json::from_value(v.clone()).unwrap(), Path::new("/b"), Some(&own))
                .unwrap();
        assert_eq!(m.idmap.unwrap().users, own);
        assert!(mount(v).unwrap_err().contains("needs uidMappings"));
    }

    #[test]
    fn idmap_errors() {
        let e =
            mount(serde_json::json!({"destination": "/x", "type": "tmpfs", "options": ["idmap"],
            "uidMappings": maps(0, 1000, 1), "gidMappings": maps(0, 1000, 1)}))
            .unwrap_err();
        assert!(e.contains("must be bind mounts"), "{e}");
        let e = mount(serde_json::json!({"destination": "/x", "source": "/s", "options": ["bind"],
            "uidMappings": maps(0, 1000, 1)}))
        .unwrap_err();
        assert!(e.starts_with("gidMappings: is required"), "{e}");
        let e = mount(serde_json::json!({"destination": "/x", "source": "/s", "options": ["bind"],
            "uidMappings": maps(0, 1000, 0), "gidMappings": maps(0, 1000, 1)}))
        .unwrap_err();
        assert_eq!(e, "uidMappings[0]: size must be at least 1");
    }

    #[test]
    fn known_options_are_the_ones_parsed() {
        let known = known_options();
        for name in ["rbind", "bind", "nosuid", "ro", "rw", "rprivate", "defaults", "nosymfollow"] {
            assert!(known.contains(&name), "{name}");
        }
        assert!(known.windows(2).all(|w| w[0] < w[1]), "sorted and unique");
        // Every listed option is taken by the parser, never passed on as data.
        for name in &known {
            let mut v = serde_json::json!({"destination": "/x", "type": "tmpfs",
                "source": "/s", "options": [name]});
            if IDMAP_OPTIONS.contains(name) {
                v["type"] = serde_json::json!("bind");
                v["uidMappings"] = maps(0, 1000, 1);
                v["gidMappings"] = maps(0, 1000, 1);
            }
            assert_eq!(mount(v).unwrap().data, "", "{name}");
        }
        for refused in UNSUPPORTED {
            assert!(!known.contains(refused), "{refused}");
        }
    }
}
