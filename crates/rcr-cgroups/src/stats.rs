//! Resource usage of a container, read from its cgroup, in the shape of
//! runc's `events --stats` data (runc's `types.Stats`), so that tools
//! reading runc's output read rcr's.
//!
//! A controller the container does not have yields its zero value; a file
//! that a kernel does not offer is skipped. Values are bytes, nanoseconds
//! and counts whatever the cgroup version.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use serde::Serialize;

use crate::error::CgroupError;
use crate::manager::Cgroup;

/// v1's `cpuacct.stat` counts in USER_HZ, which Linux fixes at 100.
const NANOS_PER_USER_HZ: u64 = 10_000_000;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Stats {
    pub cpu: Cpu,
    pub memory: Memory,
    pub pids: Pids,
    pub blkio: Blkio,
    pub hugetlb: BTreeMap<String, Hugetlb>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Cpu {
    pub usage: CpuUsage,
    pub throttling: Throttling,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CpuUsage {
    #[serde(skip_serializing_if = "is_zero")]
    pub total: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu: Vec<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_kernel: Vec<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_user: Vec<u64>,
    pub kernel: u64,
    pub user: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Throttling {
    #[serde(skip_serializing_if = "is_zero")]
    pub periods: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub throttled_periods: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub throttled_time: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Memory {
    #[serde(skip_serializing_if = "is_zero")]
    pub cache: u64,
    pub usage: MemoryEntry,
    pub swap: MemoryEntry,
    pub kernel: MemoryEntry,
    #[serde(rename = "kernelTCP")]
    pub kernel_tcp: MemoryEntry,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub raw: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MemoryEntry {
    pub limit: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    pub failcnt: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Pids {
    #[serde(skip_serializing_if = "is_zero")]
    pub current: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub limit: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Blkio {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_service_bytes_recursive: Vec<BlkioEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_serviced_recursive: Vec<BlkioEntry>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct BlkioEntry {
    #[serde(skip_serializing_if = "is_zero")]
    pub major: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub minor: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub op: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub value: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Hugetlb {
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    pub failcnt: u64,
}

#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// A file's content, `None` if the kernel does not offer it.
fn read(dir: &Path, file: &str) -> Result<Option<String>, CgroupError> {
    let path = dir.join(file);
    match fs::read_to_string(&path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        // Reading a limit of a cgroup whose controller went away, and the
        // like: not worth failing the whole report for.
        Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => Ok(None),
        Err(source) => Err(CgroupError::Read { path, source }),
    }
}

/// A single number; v2's "max" and v1's huge "unlimited" values are
/// reported as u64::MAX, as runc does.
fn number(dir: &Path, file: &str) -> Result<u64, CgroupError> {
    Ok(read(dir, file)?.map_or(0, |s| parse_number(s.trim())))
}

fn parse_number(s: &str) -> u64 {
    if s == "max" {
        return u64::MAX;
    }
    s.parse().unwrap_or(0)
}

/// `key value` lines (`memory.stat`, `cpu.stat`, `memory.events`, ...).
fn keyed(dir: &Path, file: &str) -> Result<BTreeMap<String, u64>, CgroupError> {
    let Some(text) = read(dir, file)? else { return Ok(BTreeMap::new()) };
    Ok(text
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| (k.to_owned(), parse_number(v.trim())))
        .collect())
}

/// The kernel's huge page sizes, as the cgroup files name them (`2MB`).
fn hugepage_sizes() -> Vec<String> {
    let Ok(entries) = fs::read_dir("/sys/kernel/mm/hugepages") else { return Vec::new() };
    let mut sizes: Vec<(u64, String)> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let kb: u64 = name.strip_prefix("hugepages-")?.strip_suffix("kB")?.parse().ok()?;
            Some((kb, hugepage_name(kb)))
        })
        .collect();
    sizes.sort();
    sizes.into_iter().map(|(_, n)| n).collect()
}

pub(crate) fn hugepage_name(kb: u64) -> String {
    match kb {
        kb if kb >= 1 << 20 && kb % (1 << 20) == 0 => format!("{}GB", kb >> 20),
        kb if kb >= 1 << 10 && kb % (1 << 10) == 0 => format!("{}MB", kb >> 10),
        kb => format!("{kb}KB"),
    }
}

impl Cgroup {
    /// The container's resource usage.
    pub fn stats(&self) -> Result<Stats, CgroupError> {
        self.stats_with_hugepages(&hugepage_sizes())
    }

    pub(crate) fn stats_with_hugepages(&self, sizes: &[String]) -> Result<Stats, CgroupError> {
        let mut s = Stats::default();
        let v2 = self.unified_dir().map(|d| d.path.as_path());
        let has_v2 = |file: &str| v2.filter(|d| d.join(file).exists());

        if let Some(d) = self.v1_dir("cpuacct") {
            cpuacct_v1(&d.path, &mut s.cpu.usage)?;
        } else if let Some(d) = has_v2("cpu.stat") {
            let stat = keyed(d, "cpu.stat")?;
            let us = |k: &str| stat.get(k).copied().unwrap_or(0) * 1000;
            s.cpu.usage.total = us("usage_usec");
            s.cpu.usage.user = us("user_usec");
            s.cpu.usage.kernel = us("system_usec");
            s.cpu.throttling.periods = stat.get("nr_periods").copied().unwrap_or(0);
            s.cpu.throttling.throttled_periods = stat.get("nr_throttled").copied().unwrap_or(0);
            s.cpu.throttling.throttled_time = us("throttled_usec");
        }
        if let Some(d) = self.v1_dir("cpu") {
            let stat = keyed(&d.path, "cpu.stat")?;
            s.cpu.throttling.periods = stat.get("nr_periods").copied().unwrap_or(0);
            s.cpu.throttling.throttled_periods = stat.get("nr_throttled").copied().unwrap_or(0);
            s.cpu.throttling.throttled_time = stat.get("throttled_time").copied().unwrap_or(0);
        }

        if let Some(d) = self.v1_dir("memory") {
            memory_v1(&d.path, &mut s.memory)?;
        } else if let Some(d) = has_v2("memory.current") {
            memory_v2(d, &mut s.memory)?;
        }

        if let Some(d) =
            self.v1_dir("pids").map(|d| d.path.as_path()).or_else(|| has_v2("pids.current"))
        {
            s.pids.current = number(d, "pids.current")?;
            // "max" means no limit, which runc reports as 0.
            s.pids.limit = match number(d, "pids.max")? {
                u64::MAX => 0,
                n => n,
            };
        }

        if let Some(d) = self.v1_dir("blkio") {
            let d = &d.path;
            s.blkio.io_service_bytes_recursive =
                blkio_v1(d, "blkio.throttle.io_service_bytes_recursive")?;
            s.blkio.io_serviced_recursive = blkio_v1(d, "blkio.throttle.io_serviced_recursive")?;
        } else if let Some(d) = has_v2("io.stat") {
            let (bytes, ios) = io_stat_v2(d)?;
            s.blkio.io_service_bytes_recursive = bytes;
            s.blkio.io_serviced_recursive = ios;
        }

        let hugetlb_v1 = self.v1_dir("hugetlb").map(|d| d.path.as_path());
        for size in sizes {
            let entry = if let Some(d) = hugetlb_v1 {
                Hugetlb {
                    usage: number(d, &format!("hugetlb.{size}.usage_in_bytes"))?,
                    max: number(d, &format!("hugetlb.{size}.max_usage_in_bytes"))?,
                    failcnt: number(d, &format!("hugetlb.{size}.failcnt"))?,
                }
            } else if let Some(d) = has_v2(&format!("hugetlb.{size}.current")) {
                let events = keyed(d, &format!("hugetlb.{size}.events"))?;
                Hugetlb {
                    usage: number(d, &format!("hugetlb.{size}.current"))?,
                    max: 0,
                    failcnt: events.get("max").copied().unwrap_or(0),
                }
            } else {
                continue;
            };
            s.hugetlb.insert(size.clone(), entry);
        }
        Ok(s)
    }
}

fn cpuacct_v1(d: &Path, u: &mut CpuUsage) -> Result<(), CgroupError> {
    u.total = number(d, "cpuacct.usage")?;
    let list = |file| -> Result<Vec<u64>, CgroupError> {
        Ok(read(d, file)?
            .map_or_else(Vec::new, |s| s.split_whitespace().map(parse_number).collect()))
    };
    u.percpu = list("cpuacct.usage_percpu")?;
    u.percpu_kernel = list("cpuacct.usage_percpu_sys")?;
    u.percpu_user = list("cpuacct.usage_percpu_user")?;
    let stat = keyed(d, "cpuacct.stat")?;
    u.user = stat.get("user").copied().unwrap_or(0) * NANOS_PER_USER_HZ;
    u.kernel = stat.get("system").copied().unwrap_or(0) * NANOS_PER_USER_HZ;
    Ok(())
}

fn memory_v1(d: &Path, m: &mut Memory) -> Result<(), CgroupError> {
    let entry = |prefix: &str| -> Result<MemoryEntry, CgroupError> {
        Ok(MemoryEntry {
            limit: number(d, &format!("{prefix}limit_in_bytes"))?,
            usage: number(d, &format!("{prefix}usage_in_bytes"))?,
            max: number(d, &format!("{prefix}max_usage_in_bytes"))?,
            failcnt: number(d, &format!("{prefix}failcnt"))?,
        })
    };
    m.usage = entry("memory.")?;
    m.swap = entry("memory.memsw.")?;
    m.kernel = entry("memory.kmem.")?;
    m.kernel_tcp = entry("memory.kmem.tcp.")?;
    m.raw = keyed(d, "memory.stat")?;
    m.cache = m.raw.get("cache").copied().unwrap_or(0);
    Ok(())
}

fn memory_v2(d: &Path, m: &mut Memory) -> Result<(), CgroupError> {
    let events = keyed(d, "memory.events")?;
    m.usage = MemoryEntry {
        limit: number(d, "memory.max")?,
        usage: number(d, "memory.current")?,
        max: number(d, "memory.peak")?,
        failcnt: events.get("max").copied().unwrap_or(0),
    };
    // runc reports v2's swap as memory plus swap, v1's memsw meaning.
    let swap_usage = number(d, "memory.swap.current")?;
    let swap_limit = number(d, "memory.swap.max")?;
    m.swap = MemoryEntry {
        limit: swap_limit.saturating_add(m.usage.limit),
        usage: swap_usage + m.usage.usage,
        max: 0,
        failcnt: 0,
    };
    m.raw = keyed(d, "memory.stat")?;
    m.cache = m.raw.get("file").copied().unwrap_or(0);
    Ok(())
}

/// v1 blkio lines: `8:0 Read 4096`, with a trailing `Total N`.
fn blkio_v1(d: &Path, file: &str) -> Result<Vec<BlkioEntry>, CgroupError> {
    let Some(text) = read(d, file)? else { return Ok(Vec::new()) };
    Ok(text
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (dev, op, value) = (f.next()?, f.next()?, f.next()?);
            let (major, minor) = dev.split_once(':')?;
            Some(BlkioEntry {
                major: major.parse().ok()?,
                minor: minor.parse().ok()?,
                op: op.to_owned(),
                value: value.parse().ok()?,
            })
        })
        .collect())
}

/// v2 `io.stat` lines: `8:0 rbytes=1 wbytes=2 rios=3 wios=4 ...`.
fn io_stat_v2(d: &Path) -> Result<(Vec<BlkioEntry>, Vec<BlkioEntry>), CgroupError> {
    let (mut bytes, mut ios) = (Vec::new(), Vec::new());
    let Some(text) = read(d, "io.stat")? else { return Ok((bytes, ios)) };
    for line in text.lines() {
        let mut f = line.split_whitespace();
        let Some((major, minor)) = f.next().and_then(|dev| dev.split_once(':')) else { continue };
        let (Ok(major), Ok(minor)) = (major.parse(), minor.parse()) else { continue };
        for kv in f {
            let Some((k, v)) = kv.split_once('=') else { continue };
            let value = v.parse().unwrap_or(0);
            let (list, op) = match k {
                "rbytes" => (&mut bytes, "Read"),
                "wbytes" => (&mut bytes, "Write"),
                "rios" => (&mut ios, "Read"),
                "wios" => (&mut ios, "Write"),
                _ => continue,
            };
            list.push(BlkioEntry { major, minor, op: op.to_owned(), value });
        }
    }
    Ok((bytes, ios))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::tests::{container_cgroup as cgroup, write, HYBRID, V2};

    #[test]
    fn v1_stats() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("sys/fs/cgroup");
        write(&root.join("unified/cgroup.controllers"), "hugetlb\n");
        let files = [
            ("cpuacct/rcr/c1/cpuacct.usage", "3000\n"),
            ("cpuacct/rcr/c1/cpuacct.usage_percpu", "1000 2000 \n"),
            ("cpuacct/rcr/c1/cpuacct.stat", "user 2\nsystem 1\n"),
            ("cpu/rcr/c1/cpu.stat", "nr_periods 10\nnr_throttled 3\nthrottled_time 500\n"),
            ("memory/rcr/c1/memory.limit_in_bytes", "33554432\n"),
            ("memory/rcr/c1/memory.usage_in_bytes", "4096\n"),
            ("memory/rcr/c1/memory.max_usage_in_bytes", "8192\n"),
            ("memory/rcr/c1/memory.failcnt", "7\n"),
            ("memory/rcr/c1/memory.memsw.limit_in_bytes", "9223372036854771712\n"),
            ("memory/rcr/c1/memory.stat", "cache 100\nrss 200\n"),
            ("pids/rcr/c1/pids.current", "3\n"),
            ("pids/rcr/c1/pids.max", "max\n"),
            ("unified/rcr/c1/hugetlb.2MB.current", "2097152\n"),
            ("unified/rcr/c1/hugetlb.2MB.events", "max 2\n"),
        ];
        for (f, c) in files {
            write(&root.join(f), c);
        }
        let cg = cgroup(tmp.path(), HYBRID);
        let s = cg.stats_with_hugepages(&["2MB".to_owned(), "1GB".to_owned()]).unwrap();
        assert_eq!(s.cpu.usage.total, 3000);
        assert_eq!(s.cpu.usage.percpu, [1000, 2000]);
        assert_eq!((s.cpu.usage.user, s.cpu.usage.kernel), (20_000_000, 10_000_000));
        assert_eq!(
            s.cpu.throttling,
            Throttling { periods: 10, throttled_periods: 3, throttled_time: 500 }
        );
        assert_eq!(
            s.memory.usage,
            MemoryEntry { limit: 33_554_432, usage: 4096, max: 8192, failcnt: 7 }
        );
        assert_eq!(s.memory.swap.limit, 9_223_372_036_854_771_712);
        assert_eq!(s.memory.cache, 100);
        assert_eq!(s.memory.raw["rss"], 200);
        assert_eq!(s.pids, Pids { current: 3, limit: 0 });
        assert_eq!(s.hugetlb.len(), 1);
        assert_eq!(s.hugetlb["2MB"], Hugetlb { usage: 2_097_152, max: 0, failcnt: 2 });

        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["cpu"]["usage"]["percpu"][1], 2000);
        assert_eq!(v["cpu"]["throttling"]["throttledPeriods"], 3);
        assert_eq!(v["memory"]["usage"]["failcnt"], 7);
        assert_eq!(v["memory"]["kernelTCP"]["limit"], 0);
        assert!(v["pids"].get("limit").is_none(), "zero is left out like runc's omitempty");
    }

    #[test]
    fn v2_stats() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("sys/fs/cgroup");
        write(&root.join("cgroup.controllers"), "cpu io memory pids\n");
        let files = [
            ("cpu.stat", "usage_usec 5\nuser_usec 3\nsystem_usec 2\nnr_periods 4\nnr_throttled 1\nthrottled_usec 9\n"),
            ("memory.current", "4096\n"),
            ("memory.max", "max\n"),
            ("memory.events", "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n"),
            ("memory.swap.current", "0\n"),
            ("memory.swap.max", "1000\n"),
            ("memory.stat", "anon 10\nfile 20\n"),
            ("pids.current", "2\n"),
            ("pids.max", "20\n"),
            ("io.stat", "8:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n"),
        ];
        for (f, c) in files {
            write(&root.join("rcr/c1").join(f), c);
        }
        let s = cgroup(tmp.path(), V2).stats_with_hugepages(&[]).unwrap();
        assert_eq!((s.cpu.usage.total, s.cpu.usage.user, s.cpu.usage.kernel), (5000, 3000, 2000));
        assert_eq!(s.cpu.throttling.throttled_time, 9000);
        assert_eq!(
            s.memory.usage,
            MemoryEntry { limit: u64::MAX, usage: 4096, max: 0, failcnt: 4 }
        );
        assert_eq!(s.memory.swap.usage, 4096);
        assert_eq!(s.memory.cache, 20);
        assert_eq!(s.pids, Pids { current: 2, limit: 20 });
        assert_eq!(s.blkio.io_service_bytes_recursive.len(), 2);
        assert_eq!(s.blkio.io_service_bytes_recursive[1].op, "Write");
        assert_eq!(s.blkio.io_serviced_recursive[0].value, 1);
    }

    #[test]
    fn hugepage_names() {
        assert_eq!(hugepage_name(2048), "2MB");
        assert_eq!(hugepage_name(1_048_576), "1GB");
        assert_eq!(hugepage_name(64), "64KB");
    }
}
