//! The resource limits of a container, independent of how they are written
//! to a cgroup, and the conversions from cgroup v1 units to v2 units.
//!
//! The shape and the JSON names follow the runtime-spec's
//! `linux.resources`, so a [`Resources`] stored in a container's state reads
//! like the spec it came from. Every value is optional: `None` (or an empty
//! list) leaves the kernel's setting alone.
//!
//! Invariant kept by [`Resources::drop_unset`]: a numeric value of zero is
//! treated as "not set", as runc and dockerd do (dockerd sends every field
//! of `update` and means 0 as "leave it"). The exceptions are the values for
//! which zero is a real setting: `memory.swappiness` and `cpu.idle`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The resources of a container (`linux.resources`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Resources {
    /// Device access rules, applied in order (later rules win).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<DeviceRule>,
    #[serde(skip_serializing_if = "is_default")]
    pub memory: Memory,
    #[serde(skip_serializing_if = "is_default")]
    pub cpu: Cpu,
    #[serde(skip_serializing_if = "is_default")]
    pub pids: Pids,
    #[serde(rename = "blockIO", skip_serializing_if = "is_default")]
    pub block_io: BlockIo,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hugepage_limits: Vec<HugepageLimit>,
    #[serde(skip_serializing_if = "is_default")]
    pub network: Network,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub rdma: BTreeMap<String, Rdma>,
    /// cgroup v2 interface files and the values written to them verbatim.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub unified: BTreeMap<String, String>,
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

/// Which devices a [`DeviceRule`] is about.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeviceKind {
    /// Every device, character and block.
    #[default]
    #[serde(rename = "a")]
    All,
    #[serde(rename = "c")]
    Char,
    #[serde(rename = "b")]
    Block,
}

impl DeviceKind {
    pub(crate) fn letter(self) -> char {
        match self {
            Self::All => 'a',
            Self::Char => 'c',
            Self::Block => 'b',
        }
    }
}

/// One device cgroup rule: allow or deny `access` (a subset of `rwm`) to
/// devices of `kind` with `major`:`minor` (`None` is a wildcard).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DeviceRule {
    pub allow: bool,
    #[serde(rename = "type")]
    pub kind: DeviceKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub major: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minor: Option<i64>,
    /// Empty means `rwm`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub access: String,
}

impl DeviceRule {
    /// An allow rule for one device, or with `None` for all of a major.
    pub fn allow(kind: DeviceKind, major: Option<i64>, minor: Option<i64>, access: &str) -> Self {
        Self { allow: true, kind, major, minor, access: access.to_owned() }
    }

    /// The rule's access as `rwm` letters, `rwm` when left empty.
    pub fn access(&self) -> &str {
        if self.access.is_empty() {
            "rwm"
        } else {
            &self.access
        }
    }
}

/// `linux.resources.memory`. Sizes are bytes; -1 means unlimited.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Memory {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reservation: Option<i64>,
    /// Memory plus swap, as cgroup v1's `memsw` counts it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub swap: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel: Option<i64>,
    #[serde(rename = "kernelTCP", skip_serializing_if = "Option::is_none")]
    pub kernel_tcp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub swappiness: Option<u64>,
    #[serde(rename = "disableOOMKiller", skip_serializing_if = "Option::is_none")]
    pub disable_oom_killer: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check_before_update: Option<bool>,
}

/// `linux.resources.cpu`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Cpu {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shares: Option<u64>,
    /// Microseconds per period; -1 means no limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quota: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub burst: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub realtime_runtime: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub realtime_period: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpus: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mems: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle: Option<i64>,
}

/// `linux.resources.pids`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Pids {
    /// Zero or negative means no limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
}

/// `linux.resources.blockIO`. Weights are in cgroup v1's 10..1000 range.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BlockIo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leaf_weight: Option<u16>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub weight_device: Vec<WeightDevice>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub throttle_read_bps_device: Vec<ThrottleDevice>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub throttle_write_bps_device: Vec<ThrottleDevice>,
    #[serde(rename = "throttleReadIOPSDevice", skip_serializing_if = "Vec::is_empty")]
    pub throttle_read_iops_device: Vec<ThrottleDevice>,
    #[serde(rename = "throttleWriteIOPSDevice", skip_serializing_if = "Vec::is_empty")]
    pub throttle_write_iops_device: Vec<ThrottleDevice>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WeightDevice {
    pub major: i64,
    pub minor: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leaf_weight: Option<u16>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ThrottleDevice {
    pub major: i64,
    pub minor: i64,
    pub rate: u64,
}

/// `linux.resources.hugepageLimits[]`: `page_size` as `2MB`, `1GB`, ...
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HugepageLimit {
    pub page_size: String,
    pub limit: i64,
}

/// `linux.resources.network`: cgroup v1's `net_cls` and `net_prio`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Network {
    #[serde(rename = "classID", skip_serializing_if = "Option::is_none")]
    pub class_id: Option<u32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub priorities: Vec<InterfacePriority>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct InterfacePriority {
    pub name: String,
    pub priority: u32,
}

/// `linux.resources.rdma.<device>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Rdma {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hca_handles: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hca_objects: Option<u32>,
}

fn drop_zero<T: Default + PartialEq>(v: &mut Option<T>) {
    if v.as_ref().is_some_and(|x| *x == T::default()) {
        *v = None;
    }
}

fn take<T: Clone>(into: &mut Option<T>, from: &Option<T>) {
    if from.is_some() {
        into.clone_from(from);
    }
}

fn take_list<T: Clone>(into: &mut Vec<T>, from: &[T]) {
    if !from.is_empty() {
        *into = from.to_vec();
    }
}

impl Resources {
    /// Treats zero (and empty cpu/mem sets) as "not set"; see the module docs.
    pub fn drop_unset(&mut self) {
        let m = &mut self.memory;
        for v in [&mut m.limit, &mut m.reservation, &mut m.swap, &mut m.kernel, &mut m.kernel_tcp] {
            drop_zero(v);
        }
        let c = &mut self.cpu;
        drop_zero(&mut c.shares);
        drop_zero(&mut c.quota);
        drop_zero(&mut c.burst);
        drop_zero(&mut c.period);
        drop_zero(&mut c.realtime_runtime);
        drop_zero(&mut c.realtime_period);
        drop_zero(&mut c.cpus);
        drop_zero(&mut c.mems);
        drop_zero(&mut self.pids.limit);
        drop_zero(&mut self.block_io.weight);
        drop_zero(&mut self.block_io.leaf_weight);
        drop_zero(&mut self.network.class_id);
    }

    /// Overlays the values `update` sets onto these; lists and maps that
    /// `update` gives replace (lists) or extend (maps) the current ones.
    /// Device rules are not updatable (as with runc, `update` never touches
    /// device access, so a running container never loses a device).
    pub fn merge(&mut self, update: &Resources) {
        let (m, u) = (&mut self.memory, &update.memory);
        take(&mut m.limit, &u.limit);
        take(&mut m.reservation, &u.reservation);
        take(&mut m.swap, &u.swap);
        take(&mut m.kernel, &u.kernel);
        take(&mut m.kernel_tcp, &u.kernel_tcp);
        take(&mut m.swappiness, &u.swappiness);
        take(&mut m.disable_oom_killer, &u.disable_oom_killer);
        take(&mut m.check_before_update, &u.check_before_update);
        let (c, u) = (&mut self.cpu, &update.cpu);
        take(&mut c.shares, &u.shares);
        take(&mut c.quota, &u.quota);
        take(&mut c.burst, &u.burst);
        take(&mut c.period, &u.period);
        take(&mut c.realtime_runtime, &u.realtime_runtime);
        take(&mut c.realtime_period, &u.realtime_period);
        take(&mut c.cpus, &u.cpus);
        take(&mut c.mems, &u.mems);
        take(&mut c.idle, &u.idle);
        take(&mut self.pids.limit, &update.pids.limit);
        let (b, u) = (&mut self.block_io, &update.block_io);
        take(&mut b.weight, &u.weight);
        take(&mut b.leaf_weight, &u.leaf_weight);
        take_list(&mut b.weight_device, &u.weight_device);
        take_list(&mut b.throttle_read_bps_device, &u.throttle_read_bps_device);
        take_list(&mut b.throttle_write_bps_device, &u.throttle_write_bps_device);
        take_list(&mut b.throttle_read_iops_device, &u.throttle_read_iops_device);
        take_list(&mut b.throttle_write_iops_device, &u.throttle_write_iops_device);
        take_list(&mut self.hugepage_limits, &update.hugepage_limits);
        take(&mut self.network.class_id, &update.network.class_id);
        take_list(&mut self.network.priorities, &update.network.priorities);
        self.rdma.extend(update.rdma.iter().map(|(k, v)| (k.clone(), v.clone())));
        self.unified.extend(update.unified.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
}

/// cgroup v1 `cpu.shares` (2..262144, default 1024) to v2 `cpu.weight`
/// (1..10000, default 100), by runc's linear mapping of the two ranges.
///
/// crun has since moved to a quadratic mapping that sends the default 1024
/// to exactly 100; runc's is kept because engines and users compare against
/// runc (1024 gives 39 here).
pub fn shares_to_weight(shares: u64) -> u64 {
    let shares = shares.clamp(2, 262_144);
    1 + ((shares - 2) * 9999) / 262_142
}

/// cgroup v1 `blkio.weight` (10..1000) to v2 `io.weight` (1..10000), by
/// linear mapping of the ranges as runc does. `io.bfq.weight` takes the v1
/// value unchanged.
pub fn blkio_weight_to_io_weight(weight: u16) -> u64 {
    let weight = u64::from(weight.clamp(10, 1000));
    1 + (weight - 10) * 9999 / 990
}

/// The v2 `memory.swap.max` for a spec's `memory.swap` (memory plus swap, as
/// v1 counts it) and `memory.limit`: the swap alone. `None` leaves swap
/// alone, `Some(-1)` is unlimited.
///
/// Unlimited memory with no swap setting means unlimited swap too, which is
/// what the same spec does on v1.
pub fn swap_to_v2(swap: Option<i64>, limit: Option<i64>) -> Result<Option<i64>, &'static str> {
    match (swap, limit) {
        (None, Some(-1)) => Ok(Some(-1)),
        (None, _) => Ok(None),
        (Some(-1), _) => Ok(Some(-1)),
        (Some(_), None | Some(-1)) => Err("a swap limit needs a memory limit"),
        (Some(_), Some(l)) if l < 0 => Err("the memory limit is negative"),
        (Some(s), Some(l)) if s < l => {
            Err("swap is memory plus swap and must not be below the memory limit")
        }
        (Some(s), Some(l)) => Ok(Some(s - l)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_map_onto_weights_like_runc() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(shares_to_weight(0), 1, "clamped to the kernel's minimum");
        assert_eq!(shares_to_weight(1 << 40), 10_000);
    }

    #[test]
    fn blkio_weights_map_onto_io_weights() {
        assert_eq!(blkio_weight_to_io_weight(10), 1);
        assert_eq!(blkio_weight_to_io_weight(500), 4950);
        assert_eq!(blkio_weight_to_io_weight(1000), 10_000);
    }

    #[test]
    fn swap_is_converted_to_swap_alone() {
        assert_eq!(swap_to_v2(Some(200), Some(100)), Ok(Some(100)));
        assert_eq!(swap_to_v2(Some(100), Some(100)), Ok(Some(0)));
        assert_eq!(swap_to_v2(Some(-1), Some(100)), Ok(Some(-1)));
        assert_eq!(swap_to_v2(None, Some(100)), Ok(None));
        assert_eq!(swap_to_v2(None, Some(-1)), Ok(Some(-1)));
        assert_eq!(swap_to_v2(None, None), Ok(None));
        assert!(swap_to_v2(Some(50), Some(100)).is_err());
        assert!(swap_to_v2(Some(50), None).is_err());
        assert!(swap_to_v2(Some(50), Some(-1)).is_err());
    }

    #[test]
    fn zero_means_unset_except_where_it_is_a_setting() {
        let mut r: Resources = serde_json::from_value(serde_json::json!({
            "memory": {"limit": 0, "swap": 0, "swappiness": 0, "reservation": 5},
            "cpu": {"shares": 0, "quota": 0, "cpus": "", "idle": 0, "period": 100000},
            "pids": {"limit": 0},
            "blockIO": {"weight": 0},
        }))
        .unwrap();
        r.drop_unset();
        assert_eq!(r.memory.limit, None);
        assert_eq!(r.memory.swap, None);
        assert_eq!(r.memory.swappiness, Some(0));
        assert_eq!(r.memory.reservation, Some(5));
        assert_eq!(r.cpu, Cpu { idle: Some(0), period: Some(100_000), ..Cpu::default() });
        assert_eq!(r.pids.limit, None);
        assert_eq!(r.block_io.weight, None);
    }

    #[test]
    fn merge_overlays_what_the_update_sets() {
        let mut cur = Resources::default();
        cur.memory.limit = Some(100);
        cur.memory.swap = Some(200);
        cur.cpu.cpus = Some("0".into());
        cur.pids.limit = Some(10);
        cur.devices.push(DeviceRule::default());
        cur.unified.insert("memory.high".into(), "50".into());
        let mut upd = Resources::default();
        upd.memory.limit = Some(150);
        upd.pids.limit = Some(20);
        upd.devices.push(DeviceRule::allow(DeviceKind::Char, Some(1), Some(3), "rwm"));
        upd.unified.insert("pids.max".into(), "7".into());
        cur.merge(&upd);
        assert_eq!(cur.memory.limit, Some(150));
        assert_eq!(cur.memory.swap, Some(200));
        assert_eq!(cur.cpu.cpus.as_deref(), Some("0"));
        assert_eq!(cur.pids.limit, Some(20));
        assert_eq!(cur.devices, [DeviceRule::default()], "devices are not updatable");
        assert_eq!(cur.unified.len(), 2);
    }

    #[test]
    fn json_uses_the_spec_names() {
        let mut r = Resources::default();
        r.block_io.throttle_read_iops_device.push(ThrottleDevice { major: 8, minor: 0, rate: 5 });
        r.memory.disable_oom_killer = Some(true);
        r.memory.kernel_tcp = Some(1);
        r.network.class_id = Some(7);
        r.devices.push(DeviceRule { allow: false, access: "rwm".into(), ..DeviceRule::default() });
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["blockIO"]["throttleReadIOPSDevice"][0]["rate"], 5);
        assert_eq!(v["memory"]["disableOOMKiller"], true);
        assert_eq!(v["memory"]["kernelTCP"], 1);
        assert_eq!(v["network"]["classID"], 7);
        assert_eq!(v["devices"][0]["type"], "a");
        assert!(v.get("cpu").is_none());
        let back: Resources = serde_json::from_value(v).unwrap();
        assert_eq!(back, r);
    }
}
