//! Writing [`Resources`] into a container's cgroup, on v1, v2 and hybrid.
//!
//! Each controller's settings go to the hierarchy that has the controller:
//! its v1 hierarchy if one is mounted, else the unified one if it offers the
//! controller (on a hybrid host that is how `hugetlb` or `rdma` can end up on
//! v2 while everything else is v1; the controller is then enabled in the
//! unified parents on first use). A setting for a controller the host does
//! not have is an error naming the spec field, as with runc: a limit that is
//! silently not applied is worse than a container that does not start.
//!
//! Values are written in spec order except where the kernel needs another:
//! v1 memory and memory+swap limits so that `memsw >= memory` holds after
//! every write, CPU periods before quotas (retrying the other way round),
//! real-time periods before runtimes, and the `unified` map last so that it
//! can override anything before it.

use std::fmt::Display;
use std::fs;
use std::io;
use std::os::fd::AsFd;
use std::path::Path;

use crate::bpf;
use crate::error::CgroupError;
use crate::fs::Layout;
use crate::manager::{write_file, Cgroup, Dir};
use crate::resources::{
    blkio_weight_to_io_weight, shares_to_weight, swap_to_v2, BlockIo, Cpu, DeviceKind, DeviceRule,
    Memory, Resources,
};
use crate::sys;

const RES: &str = "linux.resources";

/// Where a controller's files are for this container.
enum Target<'a> {
    V1(&'a Path),
    V2(&'a Path),
}

/// Whether settings are applied to a new cgroup or a running container.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Create,
    Update,
}

fn field(name: &str) -> String {
    format!("{RES}.{name}")
}

fn put(dir: &Path, file: &str, value: impl Display, field_name: &str) -> Result<(), CgroupError> {
    let value = value.to_string();
    tracing::debug!(dir = %dir.display(), file, value, "cgroup setting");
    write_file(&dir.join(file), &value).map_err(|source| CgroupError::Set {
        field: field(field_name),
        file: file.to_owned(),
        value,
        source,
    })
}

fn get(dir: &Path, file: &str, field_name: &str) -> Result<String, CgroupError> {
    fs::read_to_string(dir.join(file)).map(|s| s.trim().to_owned()).map_err(|source| {
        CgroupError::ReadSetting { field: field(field_name), file: file.to_owned(), source }
    })
}

fn unsupported(field_name: &str, reason: impl Into<String>) -> CgroupError {
    CgroupError::Unsupported { field: field(field_name), reason: reason.into() }
}

fn missing(field_name: &str, controller: &str) -> CgroupError {
    unsupported(
        field_name,
        format!("the {controller} controller is not available to this container on this host"),
    )
}

fn ignored(field_name: &str, why: &str) {
    tracing::warn!("{RES}.{field_name} is ignored: {why}");
}

/// `-1` (or any negative value) as v2's "max".
fn v2_limit(v: i64) -> String {
    if v < 0 {
        "max".to_owned()
    } else {
        v.to_string()
    }
}

fn words(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .map(|s| s.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default()
}

impl Cgroup {
    /// Applies `res` to the freshly created cgroup, before any process is in
    /// it. Device rules are applied too.
    pub fn apply(&self, res: &Resources) -> Result<(), CgroupError> {
        self.set(res, Mode::Create)
    }

    /// Applies `res` to a live container: like [`Cgroup::apply`] but device
    /// rules are left alone (rewriting them would briefly deny devices the
    /// container is using), and `memory.checkBeforeUpdate` is honoured.
    pub fn update(&self, res: &Resources) -> Result<(), CgroupError> {
        self.set(res, Mode::Update)
    }

    fn set(&self, res: &Resources, mode: Mode) -> Result<(), CgroupError> {
        if mode == Mode::Create && !res.devices.is_empty() {
            self.set_devices(&res.devices)?;
        }
        self.set_cpu(&res.cpu)?;
        self.set_memory(&res.memory, mode)?;
        if let Some(limit) = res.pids.limit {
            let pids_max = if limit <= 0 { "max".to_owned() } else { limit.to_string() };
            match self.target("pids")? {
                Some(Target::V1(p) | Target::V2(p)) => put(p, "pids.max", pids_max, "pids.limit")?,
                None => return Err(missing("pids.limit", "pids")),
            }
        }
        self.set_block_io(&res.block_io)?;
        for (i, h) in res.hugepage_limits.iter().enumerate() {
            let name = format!("hugepageLimits[{i}]");
            if !valid_page_size(&h.page_size) {
                return Err(unsupported(
                    &name,
                    format!("invalid pageSize {:?} (expected a size like 2MB or 1GB)", h.page_size),
                ));
            }
            match self.target("hugetlb")? {
                Some(Target::V1(p)) => {
                    put(p, &format!("hugetlb.{}.limit_in_bytes", h.page_size), h.limit, &name)?;
                }
                Some(Target::V2(p)) => {
                    put(p, &format!("hugetlb.{}.max", h.page_size), v2_limit(h.limit), &name)?;
                }
                None => return Err(missing(&name, "hugetlb")),
            }
        }
        if let Some(class) = res.network.class_id {
            match self.target("net_cls")? {
                Some(Target::V1(p)) => put(p, "net_cls.classid", class, "network.classID")?,
                _ => return Err(missing("network.classID", "net_cls (cgroup v1)")),
            }
        }
        for prio in &res.network.priorities {
            match self.target("net_prio")? {
                Some(Target::V1(p)) => put(
                    p,
                    "net_prio.ifpriomap",
                    format!("{} {}", prio.name, prio.priority),
                    "network.priorities",
                )?,
                _ => return Err(missing("network.priorities", "net_prio (cgroup v1)")),
            }
        }
        for (device, limits) in &res.rdma {
            let name = format!("rdma.{device}");
            let mut line = device.clone();
            if let Some(h) = limits.hca_handles {
                line.push_str(&format!(" hca_handle={h}"));
            }
            if let Some(o) = limits.hca_objects {
                line.push_str(&format!(" hca_object={o}"));
            }
            match self.target("rdma")? {
                Some(Target::V1(p) | Target::V2(p)) => put(p, "rdma.max", line, &name)?,
                None => return Err(missing(&name, "rdma")),
            }
        }
        self.set_unified(res)
    }

    /// Where the files of `controller` are, enabling it in the unified
    /// parents on a hybrid host when only v2 has it.
    fn target(&self, controller: &str) -> Result<Option<Target<'_>>, CgroupError> {
        if let Some(dir) = self.v1_dir(controller) {
            return Ok(Some(Target::V1(&dir.path)));
        }
        let Some(dir) = self.unified_dir() else { return Ok(None) };
        let has = |p: &Path| words(&p.join("cgroup.controllers")).iter().any(|c| c == controller);
        if has(&dir.path) {
            return Ok(Some(Target::V2(&dir.path)));
        }
        if self.layout() == Layout::Hybrid && has(&dir.mount) {
            // The kernel refuses the write if it cannot enable it.
            enable_in_parents(dir, controller)?;
            return Ok(Some(Target::V2(&dir.path)));
        }
        Ok(None)
    }

    fn set_cpu(&self, c: &Cpu) -> Result<(), CgroupError> {
        let sched = c.shares.is_some()
            || c.quota.is_some()
            || c.period.is_some()
            || c.burst.is_some()
            || c.realtime_period.is_some()
            || c.realtime_runtime.is_some()
            || c.idle.is_some();
        if sched {
            match self.target("cpu")? {
                Some(Target::V1(p)) => set_cpu_v1(p, c)?,
                Some(Target::V2(p)) => set_cpu_v2(p, c)?,
                None => return Err(missing("cpu", "cpu")),
            }
        }
        for (value, file, name) in
            [(&c.cpus, "cpuset.cpus", "cpu.cpus"), (&c.mems, "cpuset.mems", "cpu.mems")]
        {
            let Some(value) = value else { continue };
            match self.target("cpuset")? {
                Some(Target::V1(p) | Target::V2(p)) => put(p, file, value, name)?,
                None => return Err(missing(name, "cpuset")),
            }
        }
        Ok(())
    }

    fn set_memory(&self, m: &Memory, mode: Mode) -> Result<(), CgroupError> {
        if *m == Memory::default() {
            return Ok(());
        }
        match self.target("memory")? {
            Some(Target::V1(p)) => set_memory_v1(p, m, mode),
            Some(Target::V2(p)) => set_memory_v2(p, m, mode),
            None => Err(missing("memory", "memory")),
        }
    }

    fn set_block_io(&self, b: &BlockIo) -> Result<(), CgroupError> {
        if *b == BlockIo::default() {
            return Ok(());
        }
        if let Some(dir) = self.v1_dir("blkio") {
            return set_blkio_v1(&dir.path, b);
        }
        match self.target("io")? {
            Some(Target::V1(p) | Target::V2(p)) => set_io_v2(p, b),
            None => Err(missing("blockIO", "blkio (v1) or io (v2)")),
        }
    }

    fn set_devices(&self, rules: &[DeviceRule]) -> Result<(), CgroupError> {
        if let Some(dir) = self.v1_dir("devices") {
            for rule in rules {
                let file = if rule.allow { "devices.allow" } else { "devices.deny" };
                for line in v1_device_lines(rule) {
                    put(&dir.path, file, line, "devices")?;
                }
            }
            return Ok(());
        }
        // Without a v1 devices hierarchy (v2, or a hybrid host that does
        // not mount one) the eBPF program on the unified cgroup enforces
        // the rules; the kernel runs it on v1 hosts' processes too.
        match self.unified_dir() {
            Some(dir) => attach_device_program(&dir.path, rules),
            None => Err(missing("devices", "devices")),
        }
    }

    fn set_unified(&self, res: &Resources) -> Result<(), CgroupError> {
        if res.unified.is_empty() {
            return Ok(());
        }
        let dir = match self.unified_dir() {
            Some(dir) if self.layout() != Layout::V1 => dir,
            _ => {
                return Err(unsupported(
                    "unified",
                    "this host has no cgroup v2 hierarchy (cgroup v1 only)",
                ))
            }
        };
        for (key, value) in &res.unified {
            let name = format!("unified.{key}");
            if key.is_empty()
                || key.contains('/')
                || key == "."
                || key == ".."
                || key.contains('\0')
            {
                return Err(unsupported(&name, "not the name of a cgroup interface file"));
            }
            put(&dir.path, key, value, &name)?;
        }
        Ok(())
    }
}

/// Enables `controller` in `cgroup.subtree_control` from the hierarchy
/// root down to the container's parent.
fn enable_in_parents(dir: &Dir, controller: &str) -> Result<(), CgroupError> {
    let levels = dir.levels()?;
    let parents = std::iter::once(dir.mount.as_path())
        .chain(levels.iter().map(|l| l.as_path()))
        .take(levels.len());
    for parent in parents {
        let file = parent.join("cgroup.subtree_control");
        if words(&file).iter().any(|c| c == controller) {
            continue;
        }
        write_file(&file, &format!("+{controller}")).map_err(|source| CgroupError::Write {
            path: file.clone(),
            value: format!("+{controller}"),
            source,
        })?;
    }
    Ok(())
}

fn set_cpu_v1(p: &Path, c: &Cpu) -> Result<(), CgroupError> {
    if let Some(shares) = c.shares {
        put(p, "cpu.shares", shares, "cpu.shares")?;
    }
    // The runtime must fit in the period, so a longer period goes first.
    if let Some(period) = c.realtime_period {
        put(p, "cpu.rt_period_us", period, "cpu.realtimePeriod")?;
    }
    if let Some(runtime) = c.realtime_runtime {
        put(p, "cpu.rt_runtime_us", runtime, "cpu.realtimeRuntime")?;
    }
    if let Some(period) = c.period {
        // The kernel checks quota/period against the parent's and the
        // burst; a new period that only fits with the new quota is written
        // again after it.
        let retry = match put(p, "cpu.cfs_period_us", period, "cpu.period") {
            Ok(()) => false,
            Err(CgroupError::Set { source, .. })
                if source.raw_os_error() == Some(libc::EINVAL) && c.quota.is_some() =>
            {
                true
            }
            Err(e) => return Err(e),
        };
        if let Some(quota) = c.quota {
            put(p, "cpu.cfs_quota_us", quota, "cpu.quota")?;
        }
        if retry {
            put(p, "cpu.cfs_period_us", period, "cpu.period")?;
        }
    } else if let Some(quota) = c.quota {
        put(p, "cpu.cfs_quota_us", quota, "cpu.quota")?;
    }
    if let Some(burst) = c.burst {
        put(p, "cpu.cfs_burst_us", burst, "cpu.burst")?;
    }
    if let Some(idle) = c.idle {
        put(p, "cpu.idle", idle, "cpu.idle")?;
    }
    Ok(())
}

fn set_cpu_v2(p: &Path, c: &Cpu) -> Result<(), CgroupError> {
    if c.realtime_period.is_some() || c.realtime_runtime.is_some() {
        let name =
            if c.realtime_period.is_some() { "cpu.realtimePeriod" } else { "cpu.realtimeRuntime" };
        return Err(unsupported(name, "real-time CPU bandwidth is a cgroup v1 feature"));
    }
    if let Some(shares) = c.shares {
        put(p, "cpu.weight", shares_to_weight(shares), "cpu.shares")?;
    }
    if c.quota.is_some() || c.period.is_some() {
        let quota = c.quota.filter(|q| *q > 0).map_or_else(|| "max".to_owned(), |q| q.to_string());
        let value = match c.period {
            Some(period) => format!("{quota} {period}"),
            None => quota,
        };
        let name = if c.quota.is_some() { "cpu.quota" } else { "cpu.period" };
        put(p, "cpu.max", value, name)?;
    }
    if let Some(burst) = c.burst {
        put(p, "cpu.max.burst", burst, "cpu.burst")?;
    }
    if let Some(idle) = c.idle {
        put(p, "cpu.idle", idle, "cpu.idle")?;
    }
    Ok(())
}

/// With `checkBeforeUpdate`, refuses a new limit below what is in use.
fn check_usage(p: &Path, usage_file: &str, limit: Option<i64>) -> Result<(), CgroupError> {
    let Some(limit) = limit.filter(|l| *l > 0) else { return Ok(()) };
    let usage = get(p, usage_file, "memory.limit")?;
    let usage: i64 = usage.parse().unwrap_or(0);
    if limit < usage {
        return Err(unsupported(
            "memory.limit",
            format!("the new limit {limit} is below the current usage {usage} (checkBeforeUpdate)"),
        ));
    }
    Ok(())
}

fn set_memory_v1(p: &Path, m: &Memory, mode: Mode) -> Result<(), CgroupError> {
    if mode == Mode::Update && m.check_before_update == Some(true) {
        check_usage(p, "memory.usage_in_bytes", m.limit)?;
    }
    const LIMIT: &str = "memory.limit_in_bytes";
    const MEMSW: &str = "memory.memsw.limit_in_bytes";
    match (m.limit, m.swap) {
        (None, None) => {}
        (Some(limit), None) => put(p, LIMIT, limit, "memory.limit")?,
        (limit, Some(swap)) => {
            // memsw may never be below the memory limit: raising memsw goes
            // first, lowering it goes after the memory limit.
            let current: i64 = get(p, MEMSW, "memory.swap")?.parse().unwrap_or(-1);
            let memsw_first = swap == -1 || (current != -1 && current < swap);
            if memsw_first {
                put(p, MEMSW, swap, "memory.swap")?;
            }
            if let Some(limit) = limit {
                put(p, LIMIT, limit, "memory.limit")?;
            }
            if !memsw_first {
                put(p, MEMSW, swap, "memory.swap")?;
            }
        }
    }
    if let Some(reservation) = m.reservation {
        put(p, "memory.soft_limit_in_bytes", reservation, "memory.reservation")?;
    }
    if let Some(swappiness) = m.swappiness {
        if swappiness > 100 {
            return Err(unsupported(
                "memory.swappiness",
                format!("{swappiness} is out of range (0 to 100)"),
            ));
        }
        put(p, "memory.swappiness", swappiness, "memory.swappiness")?;
    }
    if m.kernel.is_some() {
        ignored("memory.kernel", "kernel memory limits are deprecated and not set by rcr");
    }
    if let Some(tcp) = m.kernel_tcp {
        put(p, "memory.kmem.tcp.limit_in_bytes", tcp, "memory.kernelTCP")?;
    }
    if m.disable_oom_killer == Some(true) {
        put(p, "memory.oom_control", 1, "memory.disableOOMKiller")?;
    }
    Ok(())
}

fn set_memory_v2(p: &Path, m: &Memory, mode: Mode) -> Result<(), CgroupError> {
    if mode == Mode::Update && m.check_before_update == Some(true) {
        check_usage(p, "memory.current", m.limit)?;
    }
    let swap = swap_to_v2(m.swap, m.limit).map_err(|reason| unsupported("memory.swap", reason))?;
    if let Some(swap) = swap {
        // Hosts without swap accounting have no memory.swap.max: asking for
        // "no swap limit" there needs no file.
        if swap >= 0 || p.join("memory.swap.max").exists() {
            put(p, "memory.swap.max", v2_limit(swap), "memory.swap")?;
        }
    }
    if let Some(limit) = m.limit {
        put(p, "memory.max", v2_limit(limit), "memory.limit")?;
    }
    if let Some(reservation) = m.reservation {
        put(p, "memory.low", v2_limit(reservation), "memory.reservation")?;
    }
    if m.swappiness.is_some() {
        ignored("memory.swappiness", "cgroup v2 has no per-cgroup swappiness");
    }
    if m.kernel.is_some() {
        ignored("memory.kernel", "cgroup v2 accounts kernel memory with the memory limit");
    }
    if m.kernel_tcp.is_some() {
        ignored("memory.kernelTCP", "cgroup v2 accounts kernel memory with the memory limit");
    }
    if m.disable_oom_killer == Some(true) {
        ignored("memory.disableOOMKiller", "cgroup v2 cannot disable the OOM killer");
    }
    Ok(())
}

fn set_blkio_v1(p: &Path, b: &BlockIo) -> Result<(), CgroupError> {
    // With the BFQ scheduler the kernel names the weight files blkio.bfq.*.
    let (weight, weight_device) = if p.join("blkio.weight").exists() {
        ("blkio.weight", "blkio.weight_device")
    } else if p.join("blkio.bfq.weight").exists() {
        ("blkio.bfq.weight", "blkio.bfq.weight_device")
    } else {
        ("blkio.weight", "blkio.weight_device")
    };
    if let Some(w) = b.weight {
        put(p, weight, w, "blockIO.weight")?;
    }
    if let Some(w) = b.leaf_weight {
        put(p, "blkio.leaf_weight", w, "blockIO.leafWeight")?;
    }
    for d in &b.weight_device {
        if let Some(w) = d.weight {
            put(p, weight_device, format!("{}:{} {w}", d.major, d.minor), "blockIO.weightDevice")?;
        }
        if let Some(w) = d.leaf_weight {
            let line = format!("{}:{} {w}", d.major, d.minor);
            put(p, "blkio.leaf_weight_device", line, "blockIO.weightDevice")?;
        }
    }
    for (list, file, name) in [
        (
            &b.throttle_read_bps_device,
            "blkio.throttle.read_bps_device",
            "blockIO.throttleReadBpsDevice",
        ),
        (
            &b.throttle_write_bps_device,
            "blkio.throttle.write_bps_device",
            "blockIO.throttleWriteBpsDevice",
        ),
        (
            &b.throttle_read_iops_device,
            "blkio.throttle.read_iops_device",
            "blockIO.throttleReadIOPSDevice",
        ),
        (
            &b.throttle_write_iops_device,
            "blkio.throttle.write_iops_device",
            "blockIO.throttleWriteIOPSDevice",
        ),
    ] {
        for d in list {
            put(p, file, format!("{}:{} {}", d.major, d.minor, d.rate), name)?;
        }
    }
    Ok(())
}

fn set_io_v2(p: &Path, b: &BlockIo) -> Result<(), CgroupError> {
    // io.bfq.weight takes v1's 1..1000 scale; io.weight (the io.cost
    // controller) its own 1..10000 one.
    let bfq = p.join("io.bfq.weight").exists();
    let (file, convert): (&str, fn(u16) -> u64) =
        if bfq { ("io.bfq.weight", u64::from) } else { ("io.weight", blkio_weight_to_io_weight) };
    if let Some(w) = b.weight {
        put(p, file, convert(w), "blockIO.weight")?;
    }
    if b.leaf_weight.is_some() {
        ignored("blockIO.leafWeight", "cgroup v2 has no leaf weights");
    }
    for d in &b.weight_device {
        if let Some(w) = d.weight {
            let line = format!("{}:{} {}", d.major, d.minor, convert(w));
            put(p, file, line, "blockIO.weightDevice")?;
        }
        if d.leaf_weight.is_some() {
            ignored("blockIO.weightDevice.leafWeight", "cgroup v2 has no leaf weights");
        }
    }
    for (list, key, name) in [
        (&b.throttle_read_bps_device, "rbps", "blockIO.throttleReadBpsDevice"),
        (&b.throttle_write_bps_device, "wbps", "blockIO.throttleWriteBpsDevice"),
        (&b.throttle_read_iops_device, "riops", "blockIO.throttleReadIOPSDevice"),
        (&b.throttle_write_iops_device, "wiops", "blockIO.throttleWriteIOPSDevice"),
    ] {
        for d in list {
            put(p, "io.max", format!("{}:{} {key}={}", d.major, d.minor, d.rate), name)?;
        }
    }
    Ok(())
}

/// The lines a v1 `devices.allow`/`devices.deny` write takes for `rule`.
/// The kernel reads `a` as "every device, every access" whatever follows,
/// so a rule about all device types with narrower numbers or access is
/// written once for character and once for block devices.
pub(crate) fn v1_device_lines(rule: &DeviceRule) -> Vec<String> {
    let num =
        |n: Option<i64>| n.filter(|n| *n >= 0).map_or_else(|| "*".to_owned(), |n| n.to_string());
    let line =
        |kind: char| format!("{kind} {}:{} {}", num(rule.major), num(rule.minor), rule.access());
    let everything = rule.major.is_none_or(|n| n < 0)
        && rule.minor.is_none_or(|n| n < 0)
        && ["rwm", "rmw", "wrm", "wmr", "mrw", "mwr"].contains(&rule.access());
    match rule.kind {
        DeviceKind::All if everything => vec!["a".to_owned()],
        DeviceKind::All => vec![line('c'), line('b')],
        kind => vec![line(kind.letter())],
    }
}

fn attach_device_program(dir: &Path, rules: &[DeviceRule]) -> Result<(), CgroupError> {
    let code = bpf::encode(&bpf::device_program(rules));
    let err = |what: &str, source: io::Error| CgroupError::Set {
        field: field("devices"),
        file: format!("{what} (eBPF device program)"),
        value: String::new(),
        source,
    };
    let prog = sys::load_device_program(&code).map_err(|e| err("load", e))?;
    let cgroup = fs::File::open(dir).map_err(|e| err("open cgroup", e))?;
    sys::attach_device_program(cgroup.as_fd(), &prog).map_err(|e| err("attach", e))
}

fn valid_page_size(size: &str) -> bool {
    let digits = size.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &size[digits.len()..];
    !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && ["KB", "MB", "GB", "TB", "PB"].contains(&unit)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::fs::tests::{write, HYBRID, V2};
    use crate::fs::CgroupFs;
    use crate::fs::ProcCgroups;
    use crate::path::CgroupPath;
    use crate::resources::{HugepageLimit, Rdma, ThrottleDevice, WeightDevice};

    /// A v1 host with every controller this module writes to.
    const FULL_V1: &str = "\
25 24 0:22 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
26 24 0:23 / /sys/fs/cgroup/cpuset rw - cgroup cgroup rw,cpuset
27 24 0:24 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
28 24 0:25 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids
29 24 0:26 / /sys/fs/cgroup/blkio rw - cgroup cgroup rw,blkio
30 24 0:27 / /sys/fs/cgroup/devices rw - cgroup cgroup rw,devices
31 24 0:28 / /sys/fs/cgroup/hugetlb rw - cgroup cgroup rw,hugetlb
32 24 0:29 / /sys/fs/cgroup/net_cls,net_prio rw - cgroup cgroup rw,net_cls,net_prio
33 24 0:30 / /sys/fs/cgroup/rdma rw - cgroup cgroup rw,rdma
";

    /// Creates the cgroup `/rcr/c1` of a fake host and the interface files
    /// `files` (relative to the mount points) the kernel would provide.
    fn fake(
        mountinfo: &str,
        mounts: &[&str],
        files: &[(&str, &str)],
    ) -> (tempfile::TempDir, Cgroup) {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("sys/fs/cgroup");
        for m in mounts {
            fs::create_dir_all(root.join(m)).unwrap();
        }
        for (file, content) in files {
            write(&root.join(file), content);
        }
        let cgfs = CgroupFs::from_mountinfo(mountinfo, tmp.path()).unwrap();
        let mut cg =
            Cgroup::new(&cgfs, &ProcCgroups::default(), &CgroupPath::parse("/rcr/c1").unwrap())
                .unwrap();
        cg.create().unwrap();
        (tmp, cg)
    }

    fn read(tmp: &tempfile::TempDir, file: &str) -> String {
        let path: PathBuf = tmp.path().join("sys/fs/cgroup").join(file);
        fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    const V1_MOUNTS: &[&str] = &[
        "cpu,cpuacct",
        "cpuset",
        "memory",
        "pids",
        "blkio",
        "devices",
        "hugetlb",
        "net_cls,net_prio",
        "rdma",
    ];

    fn v1_files() -> Vec<(&'static str, &'static str)> {
        [
            "cpu,cpuacct/rcr/c1/cpu.shares",
            "cpu,cpuacct/rcr/c1/cpu.cfs_period_us",
            "cpu,cpuacct/rcr/c1/cpu.cfs_quota_us",
            "cpu,cpuacct/rcr/c1/cpu.cfs_burst_us",
            "cpu,cpuacct/rcr/c1/cpu.rt_period_us",
            "cpu,cpuacct/rcr/c1/cpu.rt_runtime_us",
            "cpu,cpuacct/rcr/c1/cpu.idle",
            "cpuset/rcr/c1/cpuset.cpus",
            "cpuset/rcr/c1/cpuset.mems",
            "memory/rcr/c1/memory.limit_in_bytes",
            "memory/rcr/c1/memory.soft_limit_in_bytes",
            "memory/rcr/c1/memory.swappiness",
            "memory/rcr/c1/memory.oom_control",
            "memory/rcr/c1/memory.kmem.tcp.limit_in_bytes",
            "memory/rcr/c1/memory.usage_in_bytes",
            "pids/rcr/c1/pids.max",
            "blkio/rcr/c1/blkio.weight",
            "blkio/rcr/c1/blkio.leaf_weight",
            "blkio/rcr/c1/blkio.weight_device",
            "blkio/rcr/c1/blkio.throttle.read_bps_device",
            "blkio/rcr/c1/blkio.throttle.write_iops_device",
            "devices/rcr/c1/devices.allow",
            "devices/rcr/c1/devices.deny",
            "hugetlb/rcr/c1/hugetlb.2MB.limit_in_bytes",
            "net_cls,net_prio/rcr/c1/net_cls.classid",
            "net_cls,net_prio/rcr/c1/net_prio.ifpriomap",
            "rdma/rcr/c1/rdma.max",
        ]
        .into_iter()
        .map(|f| (f, ""))
        .chain([("memory/rcr/c1/memory.memsw.limit_in_bytes", "9223372036854771712\n")])
        .collect()
    }

    #[allow(clippy::field_reassign_with_default)]
    fn everything() -> Resources {
        let mut r = Resources::default();
        r.cpu = Cpu {
            shares: Some(512),
            quota: Some(20_000),
            burst: Some(1000),
            period: Some(100_000),
            realtime_runtime: Some(950),
            realtime_period: Some(1000),
            cpus: Some("0-1".into()),
            mems: Some("0".into()),
            idle: Some(1),
        };
        r.memory = Memory {
            limit: Some(32 << 20),
            reservation: Some(16 << 20),
            swap: Some(64 << 20),
            kernel: Some(1 << 20),
            kernel_tcp: Some(2 << 20),
            swappiness: Some(10),
            disable_oom_killer: Some(true),
            check_before_update: None,
        };
        r.pids.limit = Some(-1);
        r.block_io = BlockIo {
            weight: Some(300),
            leaf_weight: Some(200),
            weight_device: vec![WeightDevice {
                major: 8,
                minor: 0,
                weight: Some(500),
                leaf_weight: None,
            }],
            throttle_read_bps_device: vec![ThrottleDevice { major: 8, minor: 0, rate: 1_048_576 }],
            throttle_write_iops_device: vec![ThrottleDevice { major: 8, minor: 16, rate: 100 }],
            ..BlockIo::default()
        };
        r.hugepage_limits.push(HugepageLimit { page_size: "2MB".into(), limit: 4 << 20 });
        r.rdma.insert("mlx5_1".into(), Rdma { hca_handles: Some(3), hca_objects: Some(1000) });
        r.devices = vec![
            DeviceRule { allow: false, access: "rwm".into(), ..DeviceRule::default() },
            DeviceRule::allow(DeviceKind::Char, Some(1), Some(3), "rwm"),
        ];
        r
    }

    #[test]
    fn v1_writes_every_controller() {
        let (tmp, cg) = fake(FULL_V1, V1_MOUNTS, &v1_files());
        let mut res = everything();
        res.network.class_id = Some(0x10_0001);
        res.network
            .priorities
            .push(crate::resources::InterfacePriority { name: "eth0".into(), priority: 5 });
        cg.apply(&res).unwrap();
        let c = |f: &str| read(&tmp, &format!("cpu,cpuacct/rcr/c1/{f}"));
        assert_eq!(c("cpu.shares"), "512");
        assert_eq!(c("cpu.cfs_period_us"), "100000");
        assert_eq!(c("cpu.cfs_quota_us"), "20000");
        assert_eq!(c("cpu.cfs_burst_us"), "1000");
        assert_eq!(c("cpu.rt_period_us"), "1000");
        assert_eq!(c("cpu.rt_runtime_us"), "950");
        assert_eq!(c("cpu.idle"), "1");
        assert_eq!(read(&tmp, "cpuset/rcr/c1/cpuset.cpus"), "0-1");
        assert_eq!(read(&tmp, "cpuset/rcr/c1/cpuset.mems"), "0");
        let m = |f: &str| read(&tmp, &format!("memory/rcr/c1/{f}"));
        assert_eq!(m("memory.limit_in_bytes"), (32 << 20).to_string());
        assert_eq!(m("memory.memsw.limit_in_bytes"), (64 << 20).to_string());
        assert_eq!(m("memory.soft_limit_in_bytes"), (16 << 20).to_string());
        assert_eq!(m("memory.swappiness"), "10");
        assert_eq!(m("memory.oom_control"), "1");
        assert_eq!(m("memory.kmem.tcp.limit_in_bytes"), (2 << 20).to_string());
        assert_eq!(read(&tmp, "pids/rcr/c1/pids.max"), "max");
        let b = |f: &str| read(&tmp, &format!("blkio/rcr/c1/{f}"));
        assert_eq!(b("blkio.weight"), "300");
        assert_eq!(b("blkio.leaf_weight"), "200");
        assert_eq!(b("blkio.weight_device"), "8:0 500");
        assert_eq!(b("blkio.throttle.read_bps_device"), "8:0 1048576");
        assert_eq!(b("blkio.throttle.write_iops_device"), "8:16 100");
        assert_eq!(read(&tmp, "hugetlb/rcr/c1/hugetlb.2MB.limit_in_bytes"), (4 << 20).to_string());
        assert_eq!(read(&tmp, "net_cls,net_prio/rcr/c1/net_cls.classid"), "1048577");
        assert_eq!(read(&tmp, "net_cls,net_prio/rcr/c1/net_prio.ifpriomap"), "eth0 5");
        assert_eq!(read(&tmp, "rdma/rcr/c1/rdma.max"), "mlx5_1 hca_handle=3 hca_object=1000");
        // Each write replaces a fake file: the last rule of each kind shows.
        assert_eq!(read(&tmp, "devices/rcr/c1/devices.deny"), "a");
        assert_eq!(read(&tmp, "devices/rcr/c1/devices.allow"), "c 1:3 rwm");
    }

    #[test]
    fn v1_memory_swap_order_and_errors_name_the_field() {
        let mut files = v1_files();
        files.retain(|(f, _)| !f.ends_with("memory.limit_in_bytes"));
        let (_tmp, cg) = fake(FULL_V1, V1_MOUNTS, &files);
        let mut res = Resources::default();
        res.memory.limit = Some(1 << 20);
        let err = cg.apply(&res).unwrap_err();
        assert_eq!(
            err.to_string(),
            "linux.resources.memory.limit: write memory.limit_in_bytes: No such file or directory"
        );
        res.memory.swappiness = Some(101);
        res.memory.limit = None;
        let err = cg.apply(&res).unwrap_err();
        assert_eq!(
            err.to_string(),
            "linux.resources.memory.swappiness: 101 is out of range (0 to 100)"
        );
    }

    #[test]
    fn v1_check_before_update_refuses_limits_below_usage() {
        let mut files = v1_files();
        files.push(("memory/rcr/c1/memory.usage_in_bytes", "5000\n"));
        let (tmp, cg) = fake(FULL_V1, V1_MOUNTS, &files);
        let mut res = Resources::default();
        res.memory.limit = Some(4000);
        res.memory.check_before_update = Some(true);
        let err = cg.update(&res).unwrap_err();
        assert!(err.to_string().contains("below the current usage 5000"), "{err}");
        res.memory.limit = Some(6000);
        cg.update(&res).unwrap();
        assert_eq!(read(&tmp, "memory/rcr/c1/memory.limit_in_bytes"), "6000");
        // update never rewrites device rules.
        res.devices = everything().devices;
        cg.update(&res).unwrap();
        assert_eq!(read(&tmp, "devices/rcr/c1/devices.deny"), "");
    }

    #[test]
    fn v1_without_a_controller_is_an_error() {
        let (_tmp, cg) = fake(FULL_V1, V1_MOUNTS, &v1_files());
        let mut res = Resources::default();
        res.unified.insert("memory.high".into(), "1".into());
        let err = cg.apply(&res).unwrap_err();
        assert!(
            err.to_string().starts_with("linux.resources.unified: this host has no cgroup v2"),
            "{err}"
        );
        let text = "25 24 0:22 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n";
        let (_tmp, cg) = fake(text, &["memory"], &[]);
        let mut res = Resources::default();
        res.network.class_id = Some(1);
        let err = cg.apply(&res).unwrap_err();
        assert_eq!(
            err.to_string(),
            "linux.resources.network.classID: the net_cls (cgroup v1) controller is not available \
             to this container on this host"
        );
    }

    const V2_CONTROLLERS: &str = "cpuset cpu io memory hugetlb pids rdma misc";

    fn v2_files(extra: &[&'static str]) -> Vec<(&'static str, &'static str)> {
        let mut files: Vec<(&str, &str)> = vec![
            ("cgroup.controllers", V2_CONTROLLERS),
            ("cgroup.subtree_control", ""),
            ("rcr/cgroup.subtree_control", ""),
            ("rcr/c1/cgroup.controllers", V2_CONTROLLERS),
        ];
        for f in [
            "cpu.weight",
            "cpu.max",
            "cpu.max.burst",
            "cpu.idle",
            "cpuset.cpus",
            "cpuset.mems",
            "memory.max",
            "memory.swap.max",
            "memory.low",
            "memory.high",
            "pids.max",
            "io.weight",
            "io.max",
            "hugetlb.2MB.max",
            "rdma.max",
        ]
        .into_iter()
        .chain(extra.iter().copied())
        {
            files.push((Box::leak(format!("rcr/c1/{f}").into_boxed_str()), ""));
        }
        files
    }

    #[test]
    fn v2_converts_and_writes() {
        let (tmp, cg) = fake(V2, &[], &v2_files(&[]));
        let mut res = everything();
        res.cpu.realtime_period = None;
        res.cpu.realtime_runtime = None;
        res.devices.clear();
        res.unified.insert("memory.high".into(), "30000000".into());
        cg.apply(&res).unwrap();
        let f = |f: &str| read(&tmp, &format!("rcr/c1/{f}"));
        assert_eq!(f("cpu.weight"), "20");
        assert_eq!(f("cpu.max"), "20000 100000");
        assert_eq!(f("cpu.max.burst"), "1000");
        assert_eq!(f("cpuset.cpus"), "0-1");
        assert_eq!(f("memory.max"), (32 << 20).to_string());
        assert_eq!(f("memory.swap.max"), (32 << 20).to_string(), "swap alone");
        assert_eq!(f("memory.low"), (16 << 20).to_string());
        assert_eq!(f("memory.high"), "30000000");
        assert_eq!(f("pids.max"), "max");
        assert_eq!(f("io.weight"), "8:0 4950", "per-device weight, converted");
        assert_eq!(f("io.max"), "8:16 wiops=100");
        assert_eq!(f("hugetlb.2MB.max"), (4 << 20).to_string());
        assert_eq!(f("rdma.max"), "mlx5_1 hca_handle=3 hca_object=1000");
    }

    #[test]
    fn v2_prefers_bfq_weights_and_unlimited_values() {
        let (tmp, cg) = fake(V2, &[], &v2_files(&["io.bfq.weight"]));
        let mut res = Resources::default();
        res.block_io.weight = Some(300);
        res.memory.limit = Some(-1);
        res.cpu.quota = Some(-1);
        res.cpu.period = Some(50_000);
        cg.apply(&res).unwrap();
        let f = |f: &str| read(&tmp, &format!("rcr/c1/{f}"));
        assert_eq!(f("io.bfq.weight"), "300");
        assert_eq!(f("io.weight"), "");
        assert_eq!(f("memory.max"), "max");
        assert_eq!(f("memory.swap.max"), "max", "unlimited memory means unlimited swap");
        assert_eq!(f("cpu.max"), "max 50000");
    }

    #[test]
    fn v2_refuses_what_it_cannot_do() {
        let (_tmp, cg) = fake(V2, &[], &v2_files(&[]));
        let check = |edit: &dyn Fn(&mut Resources), want: &str| {
            let mut res = Resources::default();
            edit(&mut res);
            let err = cg.apply(&res).unwrap_err().to_string();
            assert!(err.starts_with(want), "{err}");
        };
        check(
            &|r| r.cpu.realtime_runtime = Some(1),
            "linux.resources.cpu.realtimeRuntime: real-time",
        );
        check(
            &|r| r.memory.swap = Some(10),
            "linux.resources.memory.swap: a swap limit needs a memory limit",
        );
        check(&|r| r.network.class_id = Some(1), "linux.resources.network.classID: the net_cls");
        check(
            &|r| drop(r.unified.insert("../cgroup.procs".into(), "1".into())),
            "linux.resources.unified.../cgroup.procs: not the name",
        );
        check(
            &|r| drop(r.unified.insert("a/b".into(), "1".into())),
            "linux.resources.unified.a/b: not the name",
        );
        check(
            &|r| drop(r.unified.insert("nope.max".into(), "1".into())),
            "linux.resources.unified.nope.max: write nope.max: No such file",
        );
        check(
            &|r| r.hugepage_limits.push(HugepageLimit { page_size: "2M".into(), limit: 1 }),
            "linux.resources.hugepageLimits[0]: invalid pageSize \"2M\"",
        );
        // Ignored with a warning rather than refused.
        let mut res = Resources::default();
        res.memory.kernel = Some(1);
        res.memory.kernel_tcp = Some(1);
        res.memory.swappiness = Some(1);
        res.memory.disable_oom_killer = Some(true);
        res.block_io.leaf_weight = Some(10);
        cg.apply(&res).unwrap();
    }

    #[test]
    fn hybrid_puts_v2_only_controllers_on_the_unified_hierarchy() {
        let files = [
            ("unified/cgroup.controllers", "hugetlb"),
            ("unified/cgroup.subtree_control", ""),
            ("unified/rcr/cgroup.subtree_control", ""),
            ("unified/rcr/c1/hugetlb.2MB.max", ""),
            ("memory/rcr/c1/memory.limit_in_bytes", ""),
        ];
        let mounts = ["cpu", "cpuacct", "cpuset", "memory", "pids", "systemd", "unified"];
        let (tmp, cg) = fake(HYBRID, &mounts, &files);
        let mut res = Resources::default();
        res.hugepage_limits.push(HugepageLimit { page_size: "2MB".into(), limit: 4096 });
        res.memory.limit = Some(1 << 20);
        cg.apply(&res).unwrap();
        assert_eq!(read(&tmp, "unified/cgroup.subtree_control"), "+hugetlb");
        assert_eq!(read(&tmp, "unified/rcr/cgroup.subtree_control"), "+hugetlb");
        assert_eq!(read(&tmp, "unified/rcr/c1/hugetlb.2MB.max"), "4096");
        assert_eq!(read(&tmp, "memory/rcr/c1/memory.limit_in_bytes"), "1048576", "memory stays v1");
        // Controllers neither v1 nor the unified root has are an error.
        res.rdma.insert("mlx5_1".into(), Rdma { hca_handles: Some(1), hca_objects: None });
        let err = cg.apply(&res).unwrap_err();
        assert!(
            err.to_string().starts_with("linux.resources.rdma.mlx5_1: the rdma controller"),
            "{err}"
        );
        // The unified map is written on hybrid hosts too.
        let mut res = Resources::default();
        res.unified.insert("hugetlb.2MB.max".into(), "8192".into());
        cg.apply(&res).unwrap();
        assert_eq!(read(&tmp, "unified/rcr/c1/hugetlb.2MB.max"), "8192");
    }

    #[test]
    fn v1_device_rule_lines() {
        let deny_all = DeviceRule { allow: false, access: "rwm".into(), ..DeviceRule::default() };
        assert_eq!(v1_device_lines(&deny_all), ["a"]);
        let default_access = DeviceRule { allow: true, ..DeviceRule::default() };
        assert_eq!(v1_device_lines(&default_access), ["a"]);
        let mknod_all = DeviceRule { allow: true, access: "m".into(), ..DeviceRule::default() };
        assert_eq!(v1_device_lines(&mknod_all), ["c *:* m", "b *:* m"]);
        let pts = DeviceRule::allow(DeviceKind::Char, Some(136), None, "rw");
        assert_eq!(v1_device_lines(&pts), ["c 136:* rw"]);
        let wild = DeviceRule::allow(DeviceKind::Block, Some(-1), Some(-1), "r");
        assert_eq!(v1_device_lines(&wild), ["b *:* r"]);
    }

    #[test]
    fn page_sizes() {
        for ok in ["2MB", "1GB", "64KB"] {
            assert!(valid_page_size(ok), "{ok}");
        }
        for bad in ["", "MB", "2M", "2mb", "../x", "2 MB"] {
            assert!(!valid_page_size(bad), "{bad}");
        }
    }
}
