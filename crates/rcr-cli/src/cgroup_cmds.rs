//! The command-line side of `update`, `ps` and `events`: runc's flags turned
//! into a resources document, `ps` output filtered to a container, and
//! events written as JSON lines.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use clap::Args;
use oci_spec::runtime::{LinuxCpu, LinuxMemory, LinuxPids, LinuxResources};
use rcr_core::BoxError;

/// `update`'s flags (runc's).
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// Container id.
    pub id: String,
    /// A JSON `linux.resources` document to apply, or `-` for stdin; zero
    /// values leave the setting unchanged. The flags below override it.
    #[arg(short, long, value_name = "FILE")]
    pub resources: Option<PathBuf>,
    /// Block IO weight (10 to 1000).
    #[arg(long, value_name = "N")]
    pub blkio_weight: Option<u16>,
    /// CPU CFS period in microseconds.
    #[arg(long, value_name = "US")]
    pub cpu_period: Option<u64>,
    /// CPU CFS quota in microseconds per period (-1: none).
    #[arg(long, value_name = "US", allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// CPU CFS burst in microseconds.
    #[arg(long, value_name = "US")]
    pub cpu_burst: Option<u64>,
    /// CPU real-time period in microseconds.
    #[arg(long, value_name = "US")]
    pub cpu_rt_period: Option<u64>,
    /// CPU real-time runtime in microseconds per period.
    #[arg(long, value_name = "US", allow_hyphen_values = true)]
    pub cpu_rt_runtime: Option<i64>,
    /// CPU shares (relative weight).
    #[arg(long, value_name = "N")]
    pub cpu_share: Option<u64>,
    /// CPUs to run on (e.g. 0-3,5).
    #[arg(long, value_name = "LIST")]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes to allocate from.
    #[arg(long, value_name = "LIST")]
    pub cpuset_mems: Option<String>,
    /// Memory limit (bytes, or with a k/m/g suffix; -1: none).
    #[arg(short, long, value_name = "SIZE", allow_hyphen_values = true)]
    pub memory: Option<String>,
    /// Memory soft limit.
    #[arg(long, value_name = "SIZE", allow_hyphen_values = true)]
    pub memory_reservation: Option<String>,
    /// Memory plus swap limit (-1: unlimited swap).
    #[arg(long, value_name = "SIZE", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Kernel memory limit (deprecated; ignored by the kernel's of today).
    #[arg(long, value_name = "SIZE", hide = true, allow_hyphen_values = true)]
    pub kernel_memory: Option<String>,
    /// Kernel TCP buffer memory limit.
    #[arg(long, value_name = "SIZE", hide = true, allow_hyphen_values = true)]
    pub kernel_memory_tcp: Option<String>,
    /// Maximum number of processes (-1: none).
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Intel RDT L3 cache schema (not supported).
    #[arg(long, value_name = "SCHEMA")]
    pub l3_cache_schema: Option<String>,
    /// Intel RDT memory bandwidth schema (not supported).
    #[arg(long, value_name = "SCHEMA")]
    pub mem_bw_schema: Option<String>,
}

/// A size as runc's flags take it: bytes, or a number with a binary
/// suffix (`k`, `m`, `g`, `t`, `p`, optionally followed by `b`, any case);
/// `-1` is "unlimited".
pub fn parse_size(s: &str) -> Result<i64, String> {
    if s == "-1" {
        return Ok(-1);
    }
    let lower = s.trim().to_ascii_lowercase();
    let body = lower
        .strip_suffix('b')
        .filter(|b| b.ends_with(|c: char| c.is_ascii_alphabetic()))
        .unwrap_or(&lower);
    let (digits, shift) = match body.chars().last() {
        Some('k') => (&body[..body.len() - 1], 10),
        Some('m') => (&body[..body.len() - 1], 20),
        Some('g') => (&body[..body.len() - 1], 30),
        Some('t') => (&body[..body.len() - 1], 40),
        Some('p') => (&body[..body.len() - 1], 50),
        _ => (body.strip_suffix('b').unwrap_or(body), 0),
    };
    let invalid = || format!("invalid size {s:?}");
    let n: f64 = digits.trim().parse().map_err(|_| invalid())?;
    if !(n.is_finite() && n >= 0.0) {
        return Err(invalid());
    }
    #[allow(clippy::cast_precision_loss)]
    let bytes = n * (1u64 << shift) as f64;
    if bytes >= i64::MAX as f64 {
        return Err(invalid());
    }
    #[allow(clippy::cast_possible_truncation)]
    Ok(bytes as i64)
}

/// The resources `update` asks for: `--resources` first, then the flags.
pub fn update_resources(a: &UpdateArgs) -> Result<LinuxResources, String> {
    if a.l3_cache_schema.is_some() || a.mem_bw_schema.is_some() {
        let flag =
            if a.l3_cache_schema.is_some() { "--l3-cache-schema" } else { "--mem-bw-schema" };
        return Err(format!("{flag}: Intel RDT is not supported by rcr"));
    }
    let mut res: LinuxResources = match &a.resources {
        None => LinuxResources::default(),
        Some(path) => {
            let text = if path.as_os_str() == "-" {
                let mut s = String::new();
                std::io::stdin()
                    .read_to_string(&mut s)
                    .map_err(|e| format!("read resources from stdin: {e}"))?;
                s
            } else {
                std::fs::read_to_string(path)
                    .map_err(|e| format!("read {}: {e}", path.display()))?
            };
            rcr_core::json_path::from_slice(text.as_bytes())
                .map_err(|e| format!("--resources: {e}"))?
        }
    };
    let size = |flag: &str, v: &Option<String>| -> Result<Option<i64>, String> {
        v.as_deref().map(parse_size).transpose().map_err(|e| format!("--{flag}: {e}"))
    };

    let mut mem = res.memory().unwrap_or_default();
    let set_mem = |m: &mut LinuxMemory,
                   v: Option<i64>,
                   f: fn(&mut LinuxMemory, Option<i64>) -> &mut LinuxMemory| {
        if v.is_some() {
            f(m, v);
        }
    };
    set_mem(&mut mem, size("memory", &a.memory)?, LinuxMemory::set_limit);
    set_mem(
        &mut mem,
        size("memory-reservation", &a.memory_reservation)?,
        LinuxMemory::set_reservation,
    );
    set_mem(&mut mem, size("memory-swap", &a.memory_swap)?, LinuxMemory::set_swap);
    set_mem(&mut mem, size("kernel-memory", &a.kernel_memory)?, LinuxMemory::set_kernel);
    set_mem(
        &mut mem,
        size("kernel-memory-tcp", &a.kernel_memory_tcp)?,
        LinuxMemory::set_kernel_tcp,
    );
    if mem != LinuxMemory::default() {
        res.set_memory(Some(mem));
    }

    let mut cpu = res.cpu().clone().unwrap_or_default();
    if a.cpu_share.is_some() {
        cpu.set_shares(a.cpu_share);
    }
    if a.cpu_period.is_some() {
        cpu.set_period(a.cpu_period);
    }
    if a.cpu_quota.is_some() {
        cpu.set_quota(a.cpu_quota);
    }
    if a.cpu_burst.is_some() {
        cpu.set_burst(a.cpu_burst);
    }
    if a.cpu_rt_period.is_some() {
        cpu.set_realtime_period(a.cpu_rt_period);
    }
    if a.cpu_rt_runtime.is_some() {
        cpu.set_realtime_runtime(a.cpu_rt_runtime);
    }
    if a.cpuset_cpus.is_some() {
        cpu.set_cpus(a.cpuset_cpus.clone());
    }
    if a.cpuset_mems.is_some() {
        cpu.set_mems(a.cpuset_mems.clone());
    }
    if cpu != LinuxCpu::default() {
        res.set_cpu(Some(cpu));
    }

    if let Some(limit) = a.pids_limit {
        let mut pids = LinuxPids::default();
        pids.set_limit(limit);
        res.set_pids(Some(pids));
    }
    if a.blkio_weight.is_some() {
        let mut bio = res.block_io().clone().unwrap_or_default();
        bio.set_weight(a.blkio_weight);
        res.set_block_io(Some(bio));
    }
    Ok(res)
}

/// `ps --format table`: runs the host's `ps` with `args` (default `-ef`)
/// and keeps its header and the lines whose PID column is one of `pids`.
pub fn ps_table(args: &[String], pids: &[i32]) -> Result<String, String> {
    let args: Vec<String> = if args.is_empty() { vec!["-ef".to_owned()] } else { args.to_vec() };
    let out = Command::new("ps").args(&args).output().map_err(|e| format!("run ps: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "ps {}: {} {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    filter_ps(&String::from_utf8_lossy(&out.stdout), pids)
}

fn filter_ps(text: &str, pids: &[i32]) -> Result<String, String> {
    let mut lines = text.lines();
    let header = lines.next().unwrap_or("");
    let column = header
        .split_whitespace()
        .position(|f| f == "PID")
        .ok_or("the ps output has no PID column (use ps options that print it)")?;
    let wanted: BTreeSet<i32> = pids.iter().copied().collect();
    let mut out = format!("{header}\n");
    for line in lines {
        let pid = line.split_whitespace().nth(column).and_then(|f| f.parse::<i32>().ok());
        if pid.is_some_and(|p| wanted.contains(&p)) {
            out.push_str(line);
            out.push('\n');
        }
    }
    Ok(out)
}

/// Writes one event as a JSON line, flushed at once so readers see it.
pub fn print_event(event: &rcr_core::Event) -> Result<(), BoxError> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, event)?;
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(())
}

/// `--interval` as runc takes it (`5s`, `500ms`, `1m`).
pub fn parse_interval(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("invalid interval {s:?}: {e}"))?;
    if d.is_zero() {
        return Err("the interval must be greater than zero".to_owned());
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Wrap {
        #[command(flatten)]
        a: UpdateArgs,
    }

    fn args(argv: &[&str]) -> UpdateArgs {
        Wrap::try_parse_from(std::iter::once("update").chain(argv.iter().copied())).unwrap().a
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1024"), Ok(1024));
        assert_eq!(parse_size("32m"), Ok(32 << 20));
        assert_eq!(parse_size("32MB"), Ok(32 << 20));
        assert_eq!(parse_size("1.5g"), Ok(3 << 29));
        assert_eq!(parse_size("2t"), Ok(2 << 40));
        assert_eq!(parse_size("10b"), Ok(10));
        assert_eq!(parse_size("-1"), Ok(-1));
        assert!(parse_size("-2").is_err());
        assert!(parse_size("lots").is_err());
        assert!(parse_size("").is_err());
    }

    #[test]
    fn flags_become_resources() {
        let r = update_resources(&args(&[
            "c1",
            "--memory",
            "64m",
            "--memory-swap",
            "-1",
            "--cpu-quota",
            "-1",
            "--cpu-share",
            "512",
            "--cpuset-cpus",
            "0",
            "--pids-limit",
            "30",
            "--blkio-weight",
            "300",
        ]))
        .unwrap();
        let m = r.memory().as_ref().unwrap();
        assert_eq!((m.limit(), m.swap(), m.reservation()), (Some(64 << 20), Some(-1), None));
        let c = r.cpu().as_ref().unwrap();
        assert_eq!((c.quota(), c.shares(), c.cpus().as_deref()), (Some(-1), Some(512), Some("0")));
        assert_eq!(r.pids().as_ref().unwrap().limit(), 30);
        assert_eq!(r.block_io().as_ref().unwrap().weight(), Some(300));
        let none = update_resources(&args(&["c1"])).unwrap();
        assert_eq!(none, LinuxResources::default());
    }

    #[test]
    fn resources_file_then_flags() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("r.json");
        std::fs::write(&file, r#"{"memory":{"limit":100,"swap":0},"pids":{"limit":5}}"#).unwrap();
        let f = file.to_str().unwrap();
        let r = update_resources(&args(&["c1", "--resources", f, "--pids-limit", "9"])).unwrap();
        assert_eq!(r.memory().as_ref().unwrap().limit(), Some(100));
        assert_eq!(r.pids().as_ref().unwrap().limit(), 9);
        std::fs::write(&file, r#"{"memory":{"limit":"lots"}}"#).unwrap();
        let e = update_resources(&args(&["c1", "--resources", f])).unwrap_err();
        assert!(e.starts_with("--resources: memory.limit: invalid type"), "{e}");
    }

    #[test]
    fn rdt_flags_are_refused() {
        let e = update_resources(&args(&["c1", "--l3-cache-schema", "L3:0=f"])).unwrap_err();
        assert_eq!(e, "--l3-cache-schema: Intel RDT is not supported by rcr");
        assert!(update_resources(&args(&["c1", "--mem-bw-schema", "MB:0=50"])).is_err());
    }

    #[test]
    fn ps_output_is_filtered_by_pid_column() {
        let text = "\
UID          PID    PPID  C STIME TTY          TIME CMD
root           1       0  0 10:00 ?        00:00:01 /sbin/init
root         100       1  0 10:00 ?        00:00:00 sleep 100
root         101     100  0 10:00 ?        00:00:00 sh -c 1000
";
        assert_eq!(
            filter_ps(text, &[100, 1000]).unwrap(),
            "UID          PID    PPID  C STIME TTY          TIME CMD\n\
             root         100       1  0 10:00 ?        00:00:00 sleep 100\n"
        );
        assert!(filter_ps("USER COMMAND\nroot x\n", &[1]).is_err());
    }

    #[test]
    fn intervals() {
        assert_eq!(parse_interval("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_interval("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_interval("0s").is_err());
        assert!(parse_interval("soon").is_err());
    }
}
