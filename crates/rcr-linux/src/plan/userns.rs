//! User, cgroup and time namespaces in the plan: id mappings (of the
//! container and of idmapped mounts), time offsets, and which namespaces the
//! init's clone creates versus which the init creates itself.
//!
//! Invariants kept here: a new user namespace always comes with both uid and
//! gid mappings whose ranges neither overlap nor wrap; the container's user
//! and groups are mapped in it; time offsets only come with a new time
//! namespace.

use std::collections::HashMap;

use nix::sched::CloneFlags;
use oci_spec::runtime::{LinuxIdMapping, LinuxTimeOffset, Spec};

use super::{LaunchPlan, NamespacePlan, PlanError, ProcessPlan};

/// The kernel refuses maps with more lines than this (`uid_map(5)`).
const MAX_MAP_LINES: usize = 340;

/// `CLONE_NEWTIME`, which nix does not name.
pub const CLONE_NEWTIME: CloneFlags = CloneFlags::from_bits_retain(libc::CLONE_NEWTIME);

/// One line of a uid or gid map: `size` ids from `container_id` on (inside
/// the namespace) are `host_id` on (in its parent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IdMap {
    pub container_id: u32,
    pub host_id: u32,
    pub size: u32,
}

impl IdMap {
    fn contains(&self, id: u32) -> bool {
        u64::from(id) >= u64::from(self.container_id)
            && u64::from(id) < u64::from(self.container_id) + u64::from(self.size)
    }
}

/// The uid and gid maps of a user namespace.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdMappings {
    pub uids: Vec<IdMap>,
    pub gids: Vec<IdMap>,
}

/// The text written to `/proc/PID/uid_map` or `gid_map`.
pub fn map_text(maps: &[IdMap]) -> String {
    maps.iter().map(|m| format!("{} {} {}\n", m.container_id, m.host_id, m.size)).collect()
}

impl IdMappings {
    /// Whether `uid` (inside the namespace) has a host id.
    pub fn maps_uid(&self, uid: u32) -> bool {
        self.uids.iter().any(|m| m.contains(uid))
    }

    pub fn maps_gid(&self, gid: u32) -> bool {
        self.gids.iter().any(|m| m.contains(gid))
    }
}

/// A clock offset of a new time namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeOffset {
    /// `monotonic` or `boottime`, as `/proc/PID/timens_offsets` names them.
    pub clock: &'static str,
    pub secs: i64,
    pub nanosecs: u32,
}

/// The text written to `/proc/self/timens_offsets`.
pub fn offsets_text(offsets: &[TimeOffset]) -> String {
    offsets.iter().map(|o| format!("{} {} {}\n", o.clock, o.secs, o.nanosecs)).collect()
}

impl NamespacePlan {
    /// Whether the namespace of `kind` is joined by path.
    pub fn joins(&self, kind: CloneFlags) -> bool {
        self.join.iter().any(|(k, _)| *k == kind)
    }

    /// What the clone that starts the init creates. With a new user
    /// namespace everything comes in that one call, so the other namespaces
    /// are owned by it. With a user namespace joined by path nothing does:
    /// the init joins it first and unshares the rest, which then belong to
    /// the joined one. Cgroup and time namespaces are never cloned: see
    /// [`NamespacePlan::deferred`].
    pub fn clone_flags(&self) -> CloneFlags {
        if self.joins(CloneFlags::CLONE_NEWUSER) {
            CloneFlags::empty()
        } else {
            self.new - self.deferred()
        }
    }

    /// New namespaces the init creates for itself as its last namespace step:
    /// the cgroup namespace, whose root is the cgroup the init is in when it
    /// is created, so only after the parent placed it; and the time
    /// namespace, whose offsets must be written before any process enters it
    /// (and whose flag clone(2) cannot take: it overlaps the exit signal).
    pub fn deferred(&self) -> CloneFlags {
        self.new & (CloneFlags::CLONE_NEWCGROUP | CLONE_NEWTIME)
    }

    /// New namespaces the init unshares right after joining the ones given
    /// by path (only when it joined a user namespace).
    pub fn unshared(&self) -> CloneFlags {
        self.new - self.clone_flags() - self.deferred()
    }
}

impl LaunchPlan {
    /// Whether the init joins the pid namespace given by path itself, after
    /// the user namespace: an unprivileged parent has no capabilities over
    /// it (it belongs to the container's user namespace), so it cannot.
    pub fn init_joins_pid(&self) -> bool {
        self.rootless && self.namespaces.joins(CloneFlags::CLONE_NEWPID)
    }

    /// Whether the init must fork once more after its namespace steps:
    /// unshare(2) and setns(2) of a pid namespace only place the caller's
    /// future children in it.
    pub fn reforks(&self) -> bool {
        self.namespaces.unshared().contains(CloneFlags::CLONE_NEWPID) || self.init_joins_pid()
    }
}

fn id_maps(list: &[LinuxIdMapping], field: &str) -> Result<Vec<IdMap>, PlanError> {
    if list.len() > MAX_MAP_LINES {
        return Err(PlanError::new(field, format!("at most {MAX_MAP_LINES} mappings are allowed")));
    }
    let maps: Vec<IdMap> = list
        .iter()
        .map(|m| IdMap { container_id: m.container_id(), host_id: m.host_id(), size: m.size() })
        .collect();
    // Half-open ranges in u64, so that a range ending at 2^32 is representable.
    let range = |start: u32, size: u32| (u64::from(start), u64::from(start) + u64::from(size));
    let overlap = |(a0, a1): (u64, u64), (b0, b1): (u64, u64)| a0 < b1 && b0 < a1;
    for (i, m) in maps.iter().enumerate() {
        let at = format!("{field}[{i}]");
        if m.size == 0 {
            return Err(PlanError::new(at, "size must be at least 1"));
        }
        let (inside, outside) = (range(m.container_id, m.size), range(m.host_id, m.size));
        if inside.1 > 1 << 32 || outside.1 > 1 << 32 {
            return Err(PlanError::new(at, "the range goes past the largest id"));
        }
        // The kernel refuses overlapping lines with a bare EINVAL.
        if let Some(j) = maps[..i].iter().position(|o| {
            overlap(inside, range(o.container_id, o.size))
                || overlap(outside, range(o.host_id, o.size))
        }) {
            return Err(PlanError::new(at, format!("overlaps {field}[{j}]")));
        }
    }
    Ok(maps)
}

/// The mappings of a `uidMappings`/`gidMappings` pair (of `linux` or of a
/// mount); `None` when neither is given.
pub fn mappings(
    uids: Option<&Vec<LinuxIdMapping>>,
    gids: Option<&Vec<LinuxIdMapping>>,
    prefix: &str,
) -> Result<Option<IdMappings>, PlanError> {
    let uid_field = format!("{prefix}uidMappings");
    let gid_field = format!("{prefix}gidMappings");
    let uids = uids.filter(|l| !l.is_empty());
    let gids = gids.filter(|l| !l.is_empty());
    match (uids, gids) {
        (None, None) => Ok(None),
        (Some(_), None) => {
            Err(PlanError::new(gid_field, format!("is required together with {uid_field}")))
        }
        (None, Some(_)) => {
            Err(PlanError::new(uid_field, format!("is required together with {gid_field}")))
        }
        (Some(u), Some(g)) => {
            Ok(Some(IdMappings { uids: id_maps(u, &uid_field)?, gids: id_maps(g, &gid_field)? }))
        }
    }
}

/// The container's id mappings: for a new user namespace the maps the
/// parent writes, for a joined one what the init checks the namespace has.
pub fn plan_user(
    spec: &Spec,
    ns: &NamespacePlan,
    process: &ProcessPlan,
    rootless: bool,
) -> Result<Option<IdMappings>, PlanError> {
    let linux = spec.linux().as_ref();
    let maps = mappings(
        linux.and_then(|l| l.uid_mappings().as_ref()),
        linux.and_then(|l| l.gid_mappings().as_ref()),
        "linux.",
    )?;
    let user = CloneFlags::CLONE_NEWUSER;
    if !ns.has(user) {
        if maps.is_some() {
            return Err(PlanError::new(
                "linux.uidMappings",
                "mappings need a user namespace of the container's own (add {\"type\": \"user\"} to linux.namespaces)",
            ));
        }
        if rootless {
            return Err(PlanError::new(
                "linux.namespaces",
                "a container started by an unprivileged user needs a user namespace (see rcr spec --rootless)",
            ));
        }
        return Ok(None);
    }
    let Some(maps) = maps else {
        if ns.joins(user) {
            return Ok(None);
        }
        return Err(PlanError::new(
            "linux.uidMappings",
            "a new user namespace needs uid and gid mappings (linux.uidMappings and linux.gidMappings)",
        ));
    };
    if !maps.maps_uid(process.uid) {
        return Err(PlanError::new(
            "process.user.uid",
            format!("uid {} is not mapped by linux.uidMappings", process.uid),
        ));
    }
    if !maps.maps_gid(process.gid) {
        return Err(PlanError::new(
            "process.user.gid",
            format!("gid {} is not mapped by linux.gidMappings", process.gid),
        ));
    }
    if let Some(g) = process.additional_gids.iter().find(|g| !maps.maps_gid(**g)) {
        return Err(PlanError::new(
            "process.user.additionalGids",
            format!("gid {g} is not mapped by linux.gidMappings"),
        ));
    }
    Ok(Some(maps))
}

/// The offsets of a new time namespace.
pub fn plan_time(spec: &Spec, ns: &NamespacePlan) -> Result<Vec<TimeOffset>, PlanError> {
    let field = "linux.timeOffsets";
    let given: HashMap<String, LinuxTimeOffset> =
        spec.linux().as_ref().and_then(|l| l.time_offsets().clone()).unwrap_or_default();
    if given.is_empty() {
        return Ok(Vec::new());
    }
    if !ns.new.contains(CLONE_NEWTIME) {
        let why = if ns.joins(CLONE_NEWTIME) {
            "cannot be set when the time namespace is joined by path"
        } else {
            "need a new time namespace (add {\"type\": \"time\"} to linux.namespaces)"
        };
        return Err(PlanError::new(field, why));
    }
    let mut offsets = Vec::new();
    // Sorted, so the plan does not depend on the map's iteration order.
    let mut names: Vec<&String> = given.keys().collect();
    names.sort();
    for name in names {
        let clock = match name.as_str() {
            "monotonic" => "monotonic",
            "boottime" => "boottime",
            other => {
                return Err(PlanError::new(
                    field,
                    format!("unknown clock {other:?} (only monotonic and boottime have offsets)"),
                ))
            }
        };
        let o = &given[name];
        let nanosecs = o.nanosecs().unwrap_or(0);
        if nanosecs >= 1_000_000_000 {
            return Err(PlanError::new(
                format!("{field}.{clock}.nanosecs"),
                "must be below 1000000000",
            ));
        }
        offsets.push(TimeOffset { clock, secs: o.secs().unwrap_or(0), nanosecs });
    }
    Ok(offsets)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::plan::{plan, IdmapUsers, LaunchPlan, PlanOptions};

    fn base() -> serde_json::Value {
        serde_json::json!({
            "ociVersion": "1.2.0",
            "root": {"path": "rootfs"},
            "process": {"args": ["/bin/sh"], "cwd": "/", "user": {"uid": 0, "gid": 0}},
            "linux": {
                "namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "user"}],
                "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
                "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}]
            }
        })
    }

    fn plan_with(v: serde_json::Value, rootless: bool) -> Result<LaunchPlan, PlanError> {
        let spec: Spec = serde_json::from_value(v).unwrap();
        plan(
            &spec,
            Path::new("/b"),
            Path::new("/b/rootfs"),
            PlanOptions { rootless, ..PlanOptions::default() },
        )
    }

    fn plan_of(v: serde_json::Value) -> Result<LaunchPlan, PlanError> {
        plan_with(v, false)
    }

    fn err(v: serde_json::Value) -> String {
        plan_of(v).unwrap_err().to_string()
    }

    #[test]
    fn new_user_namespace_is_cloned_with_the_others() {
        let p = plan_of(base()).unwrap();
        let maps = p.id_mappings.clone().unwrap();
        assert_eq!(maps.uids, vec![IdMap { container_id: 0, host_id: 100000, size: 65536 }]);
        assert_eq!(map_text(&maps.uids), "0 100000 65536\n");
        let all = CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWNS;
        assert_eq!(p.namespaces.clone_flags(), all);
        assert!(p.namespaces.unshared().is_empty() && !p.reforks());
    }

    #[test]
    fn joined_user_namespace_unshares_the_rest() {
        let mut v = base();
        v["linux"]["namespaces"] = serde_json::json!([
            {"type": "pid"}, {"type": "mount"}, {"type": "cgroup"}, {"type": "user", "path": "/proc/1/ns/user"}]);
        v["linux"]["uidMappings"] = serde_json::json!(null);
        v["linux"]["gidMappings"] = serde_json::json!(null);
        let p = plan_of(v.clone()).unwrap();
        assert_eq!(p.id_mappings, None);
        assert!(p.namespaces.clone_flags().is_empty());
        assert_eq!(p.namespaces.unshared(), CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWNS);
        assert_eq!(p.namespaces.deferred(), CloneFlags::CLONE_NEWCGROUP);
        assert!(p.reforks());
        // Without a new pid namespace nobody forks twice.
        v["linux"]["namespaces"] =
            serde_json::json!([{"type": "mount"}, {"type": "user", "path": "/proc/1/ns/user"}]);
        assert!(!plan_of(v).unwrap().reforks());
    }

    #[test]
    fn cgroup_and_time_namespaces_are_deferred() {
        let mut v = base();
        v["linux"]["namespaces"] =
            serde_json::json!([{"type": "mount"}, {"type": "cgroup"}, {"type": "time"}]);
        v["linux"]["uidMappings"] = serde_json::json!(null);
        v["linux"]["gidMappings"] = serde_json::json!(null);
        v["linux"]["timeOffsets"] = serde_json::json!({
            "monotonic": {"secs": 86400, "nanosecs": 5}, "boottime": {"secs": -1}});
        let p = plan_of(v).unwrap();
        assert_eq!(p.namespaces.clone_flags(), CloneFlags::CLONE_NEWNS);
        assert_eq!(p.namespaces.deferred(), CloneFlags::CLONE_NEWCGROUP | CLONE_NEWTIME);
        assert_eq!(offsets_text(&p.time_offsets), "boottime -1 0\nmonotonic 86400 5\n");
    }

    #[test]
    fn mapping_errors_name_the_field() {
        let mut v = base();
        v["linux"]["uidMappings"] = serde_json::json!(null);
        v["linux"]["gidMappings"] = serde_json::json!(null);
        let e = err(v);
        assert!(
            e.contains("linux.uidMappings: a new user namespace needs uid and gid mappings"),
            "{e}"
        );

        let mut v = base();
        v["linux"]["namespaces"] = serde_json::json!([{"type": "mount"}]);
        let e = err(v);
        assert!(e.contains("linux.uidMappings: mappings need a user namespace"), "{e}");

        let mut v = base();
        v["linux"]["gidMappings"] = serde_json::json!([]);
        assert!(err(v).contains("linux.gidMappings: is required together with linux.uidMappings"));

        let mut v = base();
        v["process"]["user"]["uid"] = serde_json::json!(70000);
        let e = err(v);
        assert!(e.contains("process.user.uid: uid 70000 is not mapped"), "{e}");
        let mut v = base();
        v["process"]["user"]["additionalGids"] = serde_json::json!([1, 65536]);
        assert!(err(v).contains("process.user.additionalGids: gid 65536 is not mapped"));

        let mut v = base();
        v["linux"]["uidMappings"] = serde_json::json!([
            {"containerID": 0, "hostID": 100000, "size": 10}, {"containerID": 5, "hostID": 200000, "size": 10}]);
        assert!(err(v).contains("linux.uidMappings[1]: overlaps linux.uidMappings[0]"));
        let mut v = base();
        v["linux"]["uidMappings"] = serde_json::json!([
            {"containerID": 0, "hostID": 100000, "size": 10}, {"containerID": 10, "hostID": 100009, "size": 1}]);
        assert!(err(v).contains("overlaps"));
        let mut v = base();
        v["linux"]["uidMappings"] =
            serde_json::json!([{"containerID": 0, "hostID": 4294967295_u32, "size": 2}]);
        assert!(err(v).contains("past the largest id"));
        // A range may end exactly at the top.
        let mut v = base();
        v["linux"]["uidMappings"] =
            serde_json::json!([{"containerID": 0, "hostID": 4294967295_u32, "size": 1}]);
        assert!(plan_of(v).is_ok());
    }

    #[test]
    fn time_offset_errors() {
        let mut v = base();
        v["linux"]["timeOffsets"] = serde_json::json!({"monotonic": {"secs": 1}});
        assert!(err(v).contains("linux.timeOffsets: need a new time namespace"));
        let mut v = base();
        v["linux"]["namespaces"] = serde_json::json!([{"type": "mount"}, {"type": "user"}, {"type": "time", "path": "/x"}]);
        v["linux"]["timeOffsets"] = serde_json::json!({"monotonic": {"secs": 1}});
        assert!(err(v).contains("joined by path"));
        let mut v = base();
        v["linux"]["namespaces"] =
            serde_json::json!([{"type": "mount"}, {"type": "user"}, {"type": "time"}]);
        v["linux"]["timeOffsets"] = serde_json::json!({"realtime": {"secs": 1}});
        assert!(err(v.clone()).contains("unknown clock \"realtime\""));
        v["linux"]["timeOffsets"] =
            serde_json::json!({"boottime": {"secs": 1, "nanosecs": 1000000000}});
        assert!(err(v).contains("linux.timeOffsets.boottime.nanosecs"));
    }

    #[test]
    fn rootless_rules() {
        let mut v = base();
        v["linux"]["namespaces"] = serde_json::json!([{"type": "mount"}]);
        v["linux"]["uidMappings"] = serde_json::json!(null);
        v["linux"]["gidMappings"] = serde_json::json!(null);
        let e = plan_with(v, true).unwrap_err().to_string();
        assert!(e.contains("linux.namespaces: a container started by an unprivileged user needs a user namespace"), "{e}");
        let mut v = base();
        v["mounts"] = serde_json::json!([{"destination": "/x", "source": "/s", "options": ["bind", "idmap"]}]);
        assert!(plan_with(v.clone(), false).is_ok());
        let e = plan_with(v, true).unwrap_err().to_string();
        assert!(e.contains("mounts[0]: idmapped mounts need rcr to run as root"), "{e}");
    }

    #[test]
    fn idmap_takes_the_container_mappings() {
        let mut v = base();
        v["mounts"] = serde_json::json!([{"destination": "/x", "source": "/s", "options": ["bind", "idmap"]}]);
        let p = plan_of(v).unwrap();
        let users = &p.mounts[0].idmap.as_ref().unwrap().users;
        assert_eq!(users, &IdmapUsers::Maps(p.id_mappings.clone().unwrap()));
    }
}
