//! Pure parsers for the `/proc` files the probe reports on.

/// Capability names indexed by capability number, as in `linux/capability.h`.
pub const CAP_NAMES: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// Decodes a capability bit mask into names, lowest bit first; bits newer than
/// [`CAP_NAMES`] come out as `CAP_<n>`.
pub fn cap_names(mask: u64) -> Vec<String> {
    (0..64usize)
        .filter(|bit| mask & (1 << bit) != 0)
        .map(|bit| CAP_NAMES.get(bit).map_or_else(|| format!("CAP_{bit}"), |n| (*n).to_owned()))
        .collect()
}

/// The `Key:\tvalue` lines of `/proc/<pid>/status`.
#[derive(Debug, Default)]
pub struct Status {
    fields: Vec<(String, String)>,
}

impl Status {
    pub fn parse(text: &str) -> Status {
        let fields = text
            .lines()
            .filter_map(|line| line.split_once(':'))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect();
        Status { fields }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// A whitespace-separated list of numbers, such as `Uid` or `Groups`.
    pub fn numbers(&self, key: &str) -> Option<Vec<u32>> {
        self.get(key)?.split_whitespace().map(|n| n.parse().ok()).collect()
    }

    /// A hexadecimal capability mask such as `CapEff`.
    pub fn cap_mask(&self, key: &str) -> Option<u64> {
        u64::from_str_radix(self.get(key)?, 16).ok()
    }
}

/// The scheduling fields of `/proc/<pid>/stat` (see proc(5)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sched {
    /// Field 19, the nice value.
    pub nice: i32,
    /// Field 41, the scheduling policy (`SCHED_*` number).
    pub policy: u32,
}

impl Sched {
    pub fn parse(stat: &str) -> Option<Sched> {
        // The command name (field 2) may hold spaces and parentheses, so
        // fields are counted from its last `)`; what follows starts at field 3.
        let rest = &stat[stat.rfind(')')? + 1..];
        let fields: Vec<&str> = rest.split_ascii_whitespace().collect();
        let field = |n: usize| fields.get(n - 3).copied();
        Some(Sched { nice: field(19)?.parse().ok()?, policy: field(41)?.parse().ok()? })
    }
}

/// One line of `/proc/<pid>/mountinfo` (see proc(5)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountInfo {
    pub id: u32,
    pub parent: u32,
    pub dev: String,
    pub root: String,
    pub mount_point: String,
    pub options: Vec<String>,
    pub optional: Vec<String>,
    pub fs_type: String,
    pub source: String,
    pub super_options: Vec<String>,
}

impl MountInfo {
    pub fn parse(line: &str) -> Option<MountInfo> {
        // Fields are single-space separated and the kernel octal-escapes
        // whitespace inside them, so splitting on ' ' is exact (and keeps an
        // empty source as an empty field).
        let mut fields = line.split(' ');
        let id = fields.next()?.parse().ok()?;
        let parent = fields.next()?.parse().ok()?;
        let dev = fields.next()?.to_owned();
        let root = unescape(fields.next()?);
        let mount_point = unescape(fields.next()?);
        let options = split_options(fields.next()?);
        let optional = fields.by_ref().take_while(|f| *f != "-").map(str::to_owned).collect();
        let fs_type = unescape(fields.next()?);
        let source = unescape(fields.next()?);
        let super_options = split_options(fields.next()?);
        Some(MountInfo {
            id,
            parent,
            dev,
            root,
            mount_point,
            options,
            optional,
            fs_type,
            source,
            super_options,
        })
    }
}

fn split_options(field: &str) -> Vec<String> {
    field.split(',').filter(|o| !o.is_empty()).map(unescape).collect()
}

/// Reverses the kernel's `\ooo` octal escaping of space, tab, newline and backslash.
pub fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).filter(|d| d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match (bytes[i], octal) {
            (b'\\', Some(digits)) => {
                let value = digits.iter().fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0'));
                // \400 and above do not fit in a byte and are not kernel escapes.
                match u8::try_from(value) {
                    Ok(b) => {
                        out.push(b);
                        i += 4;
                    }
                    Err(_) => {
                        out.push(b'\\');
                        i += 1;
                    }
                }
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A resource limit value from `/proc/<pid>/limits`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Unlimited,
    Value(u64),
}

impl Limit {
    fn parse(s: &str) -> Option<Limit> {
        if s == "unlimited" {
            Some(Limit::Unlimited)
        } else {
            s.parse().ok().map(Limit::Value)
        }
    }
}

/// A resource limit keyed by its OCI name (`RLIMIT_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rlimit {
    pub name: &'static str,
    pub soft: Limit,
    pub hard: Limit,
}

/// The row labels of `/proc/<pid>/limits` and the OCI names they correspond to.
const LIMIT_NAMES: [(&str, &str); 16] = [
    ("Max cpu time", "RLIMIT_CPU"),
    ("Max file size", "RLIMIT_FSIZE"),
    ("Max data size", "RLIMIT_DATA"),
    ("Max stack size", "RLIMIT_STACK"),
    ("Max core file size", "RLIMIT_CORE"),
    ("Max resident set", "RLIMIT_RSS"),
    ("Max processes", "RLIMIT_NPROC"),
    ("Max open files", "RLIMIT_NOFILE"),
    ("Max locked memory", "RLIMIT_MEMLOCK"),
    ("Max address space", "RLIMIT_AS"),
    ("Max file locks", "RLIMIT_LOCKS"),
    ("Max pending signals", "RLIMIT_SIGPENDING"),
    ("Max msgqueue size", "RLIMIT_MSGQUEUE"),
    ("Max nice priority", "RLIMIT_NICE"),
    ("Max realtime priority", "RLIMIT_RTPRIO"),
    ("Max realtime timeout", "RLIMIT_RTTIME"),
];

/// Parses `/proc/<pid>/limits`, skipping the header and any row it does not know.
pub fn parse_limits(text: &str) -> Vec<Rlimit> {
    text.lines()
        .filter_map(|line| {
            let (label, name) = LIMIT_NAMES.iter().find(|(label, _)| {
                line.strip_prefix(label).is_some_and(|rest| rest.starts_with(' '))
            })?;
            let mut values = line[label.len()..].split_whitespace();
            let soft = Limit::parse(values.next()?)?;
            let hard = Limit::parse(values.next()?)?;
            Some(Rlimit { name, soft, hard })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mountinfo_without_optional_fields() {
        let m = MountInfo::parse("22 27 0:21 / /proc rw,relatime - proc proc rw").unwrap();
        assert_eq!(m.id, 22);
        assert_eq!(m.parent, 27);
        assert_eq!(m.dev, "0:21");
        assert_eq!(m.root, "/");
        assert_eq!(m.mount_point, "/proc");
        assert_eq!(m.options, ["rw", "relatime"]);
        assert!(m.optional.is_empty());
        assert_eq!(m.fs_type, "proc");
        assert_eq!(m.source, "proc");
        assert_eq!(m.super_options, ["rw"]);
    }

    #[test]
    fn parses_mountinfo_optional_fields() {
        let line = "36 35 98:0 /mnt1 /mnt2 rw,noatime shared:1 master:2 propagate_from:3 - ext3 \
                    /dev/root rw,errors=continue";
        let m = MountInfo::parse(line).unwrap();
        assert_eq!(m.optional, ["shared:1", "master:2", "propagate_from:3"]);
        assert_eq!(m.fs_type, "ext3");
        assert_eq!(m.source, "/dev/root");
        assert_eq!(m.super_options, ["rw", "errors=continue"]);
    }

    #[test]
    fn parses_mountinfo_escapes() {
        let line =
            r"40 22 0:50 /a\040b /mnt/with\040space\011tab\134 ro,nosuid - tmpfs my\040src rw";
        let m = MountInfo::parse(line).unwrap();
        assert_eq!(m.root, "/a b");
        assert_eq!(m.mount_point, "/mnt/with space\ttab\\");
        assert_eq!(m.source, "my src");
        assert_eq!(m.options, ["ro", "nosuid"]);
    }

    #[test]
    fn parses_mountinfo_empty_source() {
        let m = MountInfo::parse("41 22 0:51 / /x rw - tmpfs  rw,size=4k").unwrap();
        assert_eq!(m.source, "");
        assert_eq!(m.super_options, ["rw", "size=4k"]);
    }

    #[test]
    fn rejects_truncated_mountinfo() {
        assert_eq!(MountInfo::parse("22 27 0:21 / /proc rw,relatime"), None);
        assert_eq!(MountInfo::parse(""), None);
    }

    #[test]
    fn unescape_leaves_non_escapes_alone() {
        assert_eq!(unescape(r"a\b"), r"a\b");
        assert_eq!(unescape(r"a\04"), r"a\04");
        assert_eq!(unescape(r"\777x"), r"\777x");
        assert_eq!(unescape(r"\012"), "\n");
    }

    #[test]
    fn decodes_capability_masks() {
        assert!(cap_names(0).is_empty());
        assert_eq!(cap_names(0x2000_0420), ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_AUDIT_WRITE"]);
        let all = cap_names(0x1ff_ffff_ffff);
        assert_eq!(all.len(), 41);
        assert_eq!(all[0], "CAP_CHOWN");
        assert_eq!(all[40], "CAP_CHECKPOINT_RESTORE");
        assert_eq!(cap_names(1 << 41 | 1 << 63), ["CAP_41", "CAP_63"]);
    }

    #[test]
    fn parses_sched_fields_of_stat() {
        let stat = "42 (a) b) c) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 5 1 0 300 \
                    1000 50 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 3 0 0 0";
        assert_eq!(Sched::parse(stat), Some(Sched { nice: 5, policy: 3 }));
        let negative = stat.replace(" 20 5 1 ", " 20 -20 1 ");
        assert_eq!(Sched::parse(&negative).map(|s| s.nice), Some(-20));
        assert_eq!(Sched::parse("42 (a) S 1 2"), None);
    }

    #[test]
    fn parses_status() {
        let text = "Name:\tcat\nUmask:\t0022\nUid:\t1000\t1001\t1002\t1003\nGroups:\t \n\
                    CapEff:\t00000000a80425fb\nNoNewPrivs:\t1\n";
        let s = Status::parse(text);
        assert_eq!(s.get("Umask"), Some("0022"));
        assert_eq!(s.numbers("Uid"), Some(vec![1000, 1001, 1002, 1003]));
        assert_eq!(s.numbers("Groups"), Some(vec![]));
        assert_eq!(s.numbers("Gid"), None);
        assert_eq!(s.cap_mask("CapEff"), Some(0xa804_25fb));
        assert_eq!(s.get("NoNewPrivs"), Some("1"));
    }

    #[test]
    fn parses_limits() {
        let text = "\
Limit                     Soft Limit           Hard Limit           Units     
Max cpu time              unlimited            unlimited            seconds   
Max file size             unlimited            unlimited            bytes     
Max stack size            8388608              unlimited            bytes     
Max open files            1024                 524288               files     
Max file locks            unlimited            unlimited            locks     
Max nice priority         0                    0                    
Max realtime timeout      unlimited            unlimited            us        
Max bogus thing           1                    2                    x
";
        let limits = parse_limits(text);
        let names: Vec<_> = limits.iter().map(|l| l.name).collect();
        assert_eq!(
            names,
            [
                "RLIMIT_CPU",
                "RLIMIT_FSIZE",
                "RLIMIT_STACK",
                "RLIMIT_NOFILE",
                "RLIMIT_LOCKS",
                "RLIMIT_NICE",
                "RLIMIT_RTTIME"
            ]
        );
        assert_eq!(limits[2].soft, Limit::Value(8_388_608));
        assert_eq!(limits[2].hard, Limit::Unlimited);
        assert_eq!(
            limits[3],
            Rlimit { name: "RLIMIT_NOFILE", soft: Limit::Value(1024), hard: Limit::Value(524_288) }
        );
    }
}
