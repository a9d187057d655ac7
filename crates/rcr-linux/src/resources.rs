//! `linux.resources` of the spec (and of `update --resources`) as the
//! cgroup crate's [`Resources`].
//!
//! Zero values are dropped as "not set" (see [`Resources::drop_unset`]).
//! At create, the devices every container may use are appended to the
//! spec's device rules, after them so that a spec cannot deny them by
//! accident: the runtime-spec's default devices plus `/dev/console` and the
//! pty devices, and mknod of any device, which is what runc allows.

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType, LinuxResources};
use rcr_cgroups::resources::{
    BlockIo, Cpu, DeviceKind, DeviceRule, HugepageLimit, InterfacePriority, Memory, Network, Pids,
    Rdma, ThrottleDevice, WeightDevice,
};
use rcr_cgroups::Resources;

/// A spec problem in `linux.resources`.
#[derive(Debug, thiserror::Error)]
#[error("invalid config: {field}: {message}")]
pub struct ResourcesError {
    pub field: String,
    pub message: String,
}

/// (type, major, minor) allowed `rwm` in every container; `None` is any.
const DEFAULT_ALLOWED: &[(DeviceKind, i64, Option<i64>)] = &[
    (DeviceKind::Char, 1, Some(3)), // null
    (DeviceKind::Char, 1, Some(5)), // zero
    (DeviceKind::Char, 1, Some(7)), // full
    (DeviceKind::Char, 1, Some(8)), // random
    (DeviceKind::Char, 1, Some(9)), // urandom
    (DeviceKind::Char, 5, Some(0)), // tty
    (DeviceKind::Char, 5, Some(1)), // console
    (DeviceKind::Char, 5, Some(2)), // ptmx
    (DeviceKind::Char, 136, None),  // pts/*
];

/// The resources a new container gets from its spec, default devices
/// included.
pub fn for_create(spec: Option<&LinuxResources>) -> Result<Resources, ResourcesError> {
    let mut res = match spec {
        Some(r) => convert(r)?,
        None => Resources::default(),
    };
    // Creating device nodes is harmless (opening them is what is checked),
    // and the init creates the container's /dev with mknod.
    res.devices.push(DeviceRule::allow(DeviceKind::Char, None, None, "m"));
    res.devices.push(DeviceRule::allow(DeviceKind::Block, None, None, "m"));
    for &(kind, major, minor) in DEFAULT_ALLOWED {
        res.devices.push(DeviceRule::allow(kind, Some(major), minor, "rwm"));
    }
    Ok(res)
}

/// The resources of an `update`: only what it sets, zeros meaning unset.
pub fn for_update(update: &LinuxResources) -> Result<Resources, ResourcesError> {
    let mut res = convert(update)?;
    res.devices.clear();
    Ok(res)
}

fn device_rule(i: usize, d: &LinuxDeviceCgroup) -> Result<DeviceRule, ResourcesError> {
    let kind = match d.typ() {
        None | Some(LinuxDeviceType::A) => DeviceKind::All,
        Some(LinuxDeviceType::C | LinuxDeviceType::U) => DeviceKind::Char,
        Some(LinuxDeviceType::B) => DeviceKind::Block,
        Some(LinuxDeviceType::P) => {
            return Err(ResourcesError {
                field: format!("linux.resources.devices[{i}].type"),
                message: "fifos are not subject to device rules (use a, b or c)".to_owned(),
            })
        }
    };
    let access = d.access().clone().unwrap_or_default();
    if let Some(bad) = access.chars().find(|c| !"rwm".contains(*c)) {
        return Err(ResourcesError {
            field: format!("linux.resources.devices[{i}].access"),
            message: format!("{bad:?} is not one of r, w, m"),
        });
    }
    Ok(DeviceRule { allow: d.allow(), kind, major: d.major(), minor: d.minor(), access })
}

fn convert(r: &LinuxResources) -> Result<Resources, ResourcesError> {
    let mut res = Resources::default();
    for (i, d) in r.devices().iter().flatten().enumerate() {
        res.devices.push(device_rule(i, d)?);
    }
    if let Some(m) = r.memory() {
        res.memory = Memory {
            limit: m.limit(),
            reservation: m.reservation(),
            swap: m.swap(),
            kernel: m.kernel(),
            kernel_tcp: m.kernel_tcp(),
            swappiness: m.swappiness(),
            disable_oom_killer: m.disable_oom_killer(),
            check_before_update: m.check_before_update(),
        };
    }
    if let Some(c) = r.cpu() {
        res.cpu = Cpu {
            shares: c.shares(),
            quota: c.quota(),
            burst: c.burst(),
            period: c.period(),
            realtime_runtime: c.realtime_runtime(),
            realtime_period: c.realtime_period(),
            cpus: c.cpus().clone(),
            mems: c.mems().clone(),
            idle: c.idle(),
        };
    }
    if let Some(p) = r.pids() {
        res.pids = Pids { limit: Some(p.limit()) };
    }
    if let Some(b) = r.block_io() {
        let throttle = |list: &Option<Vec<oci_spec::runtime::LinuxThrottleDevice>>| {
            list.iter()
                .flatten()
                .map(|d| ThrottleDevice { major: d.major(), minor: d.minor(), rate: d.rate() })
                .collect()
        };
        res.block_io = BlockIo {
            weight: b.weight(),
            leaf_weight: b.leaf_weight(),
            weight_device: b
                .weight_device()
                .iter()
                .flatten()
                .map(|d| WeightDevice {
                    major: d.major(),
                    minor: d.minor(),
                    weight: d.weight(),
                    leaf_weight: d.leaf_weight(),
                })
                .collect(),
            throttle_read_bps_device: throttle(b.throttle_read_bps_device()),
            throttle_write_bps_device: throttle(b.throttle_write_bps_device()),
            throttle_read_iops_device: throttle(b.throttle_read_iops_device()),
            throttle_write_iops_device: throttle(b.throttle_write_iops_device()),
        };
    }
    for h in r.hugepage_limits().iter().flatten() {
        res.hugepage_limits
            .push(HugepageLimit { page_size: h.page_size().clone(), limit: h.limit() });
    }
    if let Some(n) = r.network() {
        res.network = Network {
            class_id: n.class_id(),
            priorities: n
                .priorities()
                .iter()
                .flatten()
                .map(|p| InterfacePriority { name: p.name().clone(), priority: p.priority() })
                .collect(),
        };
    }
    for (dev, l) in r.rdma().iter().flatten() {
        res.rdma.insert(
            dev.clone(),
            Rdma { hca_handles: l.hca_handles(), hca_objects: l.hca_objects() },
        );
    }
    for (k, v) in r.unified().iter().flatten() {
        res.unified.insert(k.clone(), v.clone());
    }
    res.drop_unset();
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: serde_json::Value) -> LinuxResources {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn converts_every_section() {
        let r = parse(serde_json::json!({
            "devices": [{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rw"}],
            "memory": {"limit": 33554432, "swap": 67108864, "swappiness": 0, "disableOOMKiller": true},
            "cpu": {"shares": 512, "quota": 20000, "period": 100000, "cpus": "0", "mems": ""},
            "pids": {"limit": 20},
            "blockIO": {"weight": 300, "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}]},
            "hugepageLimits": [{"pageSize": "2MB", "limit": 2097152}],
            "network": {"classID": 1048577, "priorities": [{"name": "eth0", "priority": 5}]},
            "rdma": {"mlx5_1": {"hcaHandles": 3}},
            "unified": {"memory.high": "30000000"},
        }));
        let res = for_create(Some(&r)).unwrap();
        assert_eq!(res.memory.limit, Some(33_554_432));
        assert_eq!(res.memory.swap, Some(67_108_864));
        assert_eq!(res.memory.swappiness, Some(0));
        assert_eq!(res.memory.disable_oom_killer, Some(true));
        assert_eq!(res.cpu.shares, Some(512));
        assert_eq!(res.cpu.mems, None, "an empty set is unset");
        assert_eq!(res.pids.limit, Some(20));
        assert_eq!(res.block_io.weight, Some(300));
        assert_eq!(res.block_io.throttle_read_bps_device[0].rate, 1_048_576);
        assert_eq!(res.hugepage_limits[0].page_size, "2MB");
        assert_eq!(res.network.class_id, Some(1_048_577));
        assert_eq!(res.network.priorities[0].name, "eth0");
        assert_eq!(res.rdma["mlx5_1"].hca_handles, Some(3));
        assert_eq!(res.unified["memory.high"], "30000000");
        // The spec's rules first, then the defaults.
        assert!(!res.devices[0].allow);
        assert_eq!(res.devices[1], DeviceRule::allow(DeviceKind::Char, Some(1), Some(3), "rw"));
        assert_eq!(res.devices.len(), 2 + 2 + DEFAULT_ALLOWED.len());
    }

    #[test]
    fn update_keeps_only_what_is_set() {
        let r = parse(serde_json::json!({
            "memory": {"limit": 0, "reservation": 0, "swap": 0},
            "cpu": {"shares": 0, "quota": 0, "period": 0, "cpus": "", "mems": ""},
            "pids": {"limit": 40},
            "blockIO": {"weight": 0},
            "devices": [{"allow": true, "access": "rwm"}],
        }));
        let res = for_update(&r).unwrap();
        let mut want = Resources::default();
        want.pids.limit = Some(40);
        assert_eq!(res, want);
    }

    #[test]
    fn bad_device_rules_name_the_field() {
        let r = parse(serde_json::json!({"devices": [{"allow": true, "access": "rwx"}]}));
        let e = for_create(Some(&r)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid config: linux.resources.devices[0].access: 'x' is not one of r, w, m"
        );
        let r = parse(serde_json::json!({"devices": [{"allow": true, "type": "p"}]}));
        assert!(for_create(Some(&r)).unwrap_err().field.ends_with("devices[0].type"));
    }
}
