//! The compiled-filter cache: `<root>/~seccomp/<key>`, one file per
//! compiled profile, where `<key>` is the hex SHA-256 [`Key`] of everything
//! the program depends on.
//!
//! An entry is an 80-byte header (magic and format version, the key, the
//! SHA-256 of the body, the lengths of the body's two parts as little-endian
//! u32) followed by the body: the syscall names libseccomp skipped (a JSON
//! array) and the program.
//!
//! Invariants:
//! - the directory is made 0700 by the runtime (`~` keeps it out of the
//!   container ids: no id contains one), and it and every entry are only
//!   trusted when owned by our euid and writable by nobody else;
//! - an entry is used only if it is whole: the key it carries is the one
//!   looked up, its body matches its digest, its lengths add up to the
//!   file's, and its program is one the kernel could load. Anything else is
//!   reported (for a debug log) and the caller compiles and replaces it;
//! - entries are written to a temporary file created with `O_EXCL` in the
//!   same directory and renamed into place, so readers see a whole entry or
//!   none, and concurrent writers of one key each put a whole (and equal)
//!   entry there. No fsync: an entry torn by a crash fails its digest and is
//!   compiled again;
//! - the directory holds at most [`MAX_ENTRIES`] files: a write past that
//!   removes the oldest.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{Mode, SFlag};
use oci_spec::runtime::Arch;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{BadProgram, Compiled, Program, MAX_INSTRUCTIONS};
use crate::plan::{ArgCondition, SeccompAction, SeccompFlag, SeccompPlan, SyscallRule};
use crate::private_dir::{self, check_owner, PrivateDirError};
use crate::sys;

/// The cache's directory under the state root.
pub const DIR_NAME: &str = "~seccomp";

/// How many entries the directory keeps.
pub const MAX_ENTRIES: usize = 64;

/// The first bytes of an entry; the last one is the format version, which
/// is also part of every key.
const MAGIC: [u8; 8] = *b"rcr-bpf\x01";

/// Magic, key, body digest, skipped-names length, program length.
const HEADER: usize = 8 + 32 + 32 + 4 + 4;

/// The longest list of skipped names an entry may carry.
const MAX_SKIPPED: usize = 1024 * 1024;

/// The largest entry there can be.
const MAX_ENTRY: usize = HEADER + MAX_SKIPPED + MAX_INSTRUCTIONS * 8;

/// What a compiled program depends on besides the profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Toolchain {
    /// rcr's version, and its build's GNU build id when the binary has one:
    /// the code that drives libseccomp may change without a new version.
    /// (A linker that writes no build id leaves only the version to tell
    /// builds apart.)
    rcr: String,
    build_id: Option<String>,
    /// libseccomp's version and API level: the code it generates, and the
    /// kernel features it found.
    libseccomp: Option<String>,
    api: u32,
    /// The native architecture, which every filter covers.
    arch: String,
    /// The kernel's release and build, which libseccomp probed.
    kernel: String,
}

impl Toolchain {
    /// This process's.
    pub fn current() -> Self {
        let build_id = std::fs::File::open("/proc/self/exe")
            .and_then(|exe| crate::elf::build_id(&exe))
            .inspect_err(|e| tracing::debug!("seccomp: no build id of /proc/self/exe: {e}"))
            .ok()
            .flatten();
        let kernel = nix::sys::utsname::uname().map_or_else(
            |_| String::new(),
            |u| format!("{} {}", u.release().to_string_lossy(), u.version().to_string_lossy()),
        );
        Self {
            rcr: env!("CARGO_PKG_VERSION").to_owned(),
            build_id: build_id.as_deref().map(hex),
            libseccomp: super::libseccomp_version(),
            api: libseccomp::get_api(),
            arch: format!("{}-{}", std::env::consts::ARCH, usize::BITS),
            kernel,
        }
    }
}

/// The cache key of a profile: SHA-256 of a canonical serialization of
/// the format version, the [`Toolchain`] and every part of the plan that
/// shapes the program or how it is loaded.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Key([u8; 32]);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Key({})", hex(&self.0))
    }
}

/// What is hashed into a [`Key`]. serde_json writes struct fields in
/// declaration order and escapes strings, so equal inputs give equal bytes
/// and different ones different bytes.
#[derive(Serialize)]
struct KeyInput<'a> {
    format: u8,
    toolchain: &'a Toolchain,
    default_action: SeccompAction,
    architectures: &'a [Arch],
    flags: &'a [SeccompFlag],
    rules: Vec<RuleInput<'a>>,
}

#[derive(Serialize)]
struct RuleInput<'a> {
    names: &'a [String],
    action: SeccompAction,
    conditions: &'a [ArgCondition],
}

impl Key {
    pub fn new(toolchain: &Toolchain, plan: &SeccompPlan) -> Self {
        // Destructured so that a new field of the plan is a decision here.
        // The listener only says where the notify fd goes; whether there is
        // one follows from the rules.
        let SeccompPlan { default_action, architectures, flags, rules, listener: _ } = plan;
        let rules = rules
            .iter()
            .map(|rule| {
                // `field` names the rule's spec entry for errors only.
                let SyscallRule { field: _, names, action, conditions } = rule;
                RuleInput { names, action: *action, conditions }
            })
            .collect();
        let input = KeyInput {
            format: MAGIC[7],
            toolchain,
            default_action: *default_action,
            architectures,
            flags,
            rules,
        };
        let bytes = serde_json::to_vec(&input).expect("plain data always serializes");
        Self(Sha256::digest(bytes).into())
    }

    fn file_name(&self) -> String {
        hex(&self.0)
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Why the cache, or one of its entries, is not used.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("{what} {}: {source}", path.display())]
    Io { what: &'static str, path: PathBuf, source: io::Error },
    #[error(transparent)]
    Untrusted(#[from] PrivateDirError),
    #[error("{}: not a regular file", path.display())]
    NotFile { path: PathBuf },
    #[error("{}: {size} bytes, more than an entry can have", path.display())]
    TooLarge { path: PathBuf, size: u64 },
    #[error("{}: {0}", path.display())]
    Corrupt { path: PathBuf, source: Corrupt },
    #[error("{} syscall names to record, more than an entry can hold", .0)]
    TooManySkipped(usize),
}

/// Why the bytes of an entry are not used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Corrupt {
    #[error("truncated: {0} bytes")]
    Truncated(usize),
    #[error("not an entry of this format")]
    Magic,
    #[error("made for another key")]
    Key,
    #[error("{actual} bytes where the header announces {expected}")]
    Length { expected: usize, actual: usize },
    #[error("content does not match its digest")]
    Digest,
    #[error("unreadable list of skipped syscalls")]
    Skipped,
    #[error("{0}")]
    Program(BadProgram),
}

/// An entry's bytes.
fn encode(key: &Key, compiled: &Compiled) -> Result<Vec<u8>, CacheError> {
    let skipped = serde_json::to_vec(&compiled.skipped).expect("strings always serialize");
    if skipped.len() > MAX_SKIPPED {
        return Err(CacheError::TooManySkipped(compiled.skipped.len()));
    }
    let program = compiled.program.as_bytes();
    let mut body = Sha256::new();
    body.update(&skipped);
    body.update(program);
    let mut out = Vec::with_capacity(HEADER + skipped.len() + program.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&key.0);
    out.extend_from_slice(&body.finalize());
    out.extend_from_slice(&u32_len(skipped.len()).to_le_bytes());
    out.extend_from_slice(&u32_len(program.len()).to_le_bytes());
    out.extend_from_slice(&skipped);
    out.extend_from_slice(program);
    Ok(out)
}

fn u32_len(n: usize) -> u32 {
    u32::try_from(n).expect("bounded by MAX_ENTRY")
}

/// The entry for `key` in `bytes`, if they are one, whole.
fn decode(bytes: &[u8], key: &Key) -> Result<Compiled, Corrupt> {
    let header = bytes.get(..HEADER).ok_or(Corrupt::Truncated(bytes.len()))?;
    let (magic, rest) = header.split_at(8);
    let (stored_key, rest) = rest.split_at(32);
    let (digest, rest) = rest.split_at(32);
    let (skipped_len, program_len) = rest.split_at(4);
    if magic != MAGIC {
        return Err(Corrupt::Magic);
    }
    if stored_key != key.0 {
        return Err(Corrupt::Key);
    }
    let len = |b: &[u8]| u32::from_le_bytes(b.try_into().expect("4 bytes")) as usize;
    let (skipped_len, program_len) = (len(skipped_len), len(program_len));
    let body = &bytes[HEADER..];
    if body.len() != skipped_len + program_len {
        return Err(Corrupt::Length {
            expected: HEADER + skipped_len + program_len,
            actual: bytes.len(),
        });
    }
    if Sha256::digest(body).as_slice() != digest {
        return Err(Corrupt::Digest);
    }
    let (skipped, program) = body.split_at(skipped_len);
    let skipped = serde_json::from_slice(skipped).map_err(|_| Corrupt::Skipped)?;
    let program = Program::from_bytes(program.to_vec()).map_err(Corrupt::Program)?;
    Ok(Compiled { program, skipped })
}

/// The cache directory, open.
#[derive(Debug)]
pub struct Cache {
    dir: OwnedFd,
    path: PathBuf,
    /// Whose entries are trusted: our euid.
    uid: u32,
}

impl Cache {
    /// Opens the cache under the state root `root`, making its directory if
    /// it does not exist yet.
    pub fn open(root: &Path) -> Result<Self, CacheError> {
        Self::open_as(root, nix::unistd::geteuid().as_raw())
    }

    fn open_as(root: &Path, uid: u32) -> Result<Self, CacheError> {
        let path = root.join(DIR_NAME);
        let dir = private_dir::open(&path, uid)?;
        Ok(Self { dir, path, uid })
    }

    /// Where the entry for `key` is.
    pub fn entry_path(&self, key: &Key) -> PathBuf {
        self.path.join(key.file_name())
    }

    /// The entry for `key`: `None` if there is none, an error if there is
    /// one that cannot be used.
    pub fn get(&self, key: &Key) -> Result<Option<Compiled>, CacheError> {
        let path = self.entry_path(key);
        let io_err = |what| {
            let path = path.clone();
            move |source| CacheError::Io { what, path, source }
        };
        // Non-blocking: whatever sits there, opening it must not wait (a
        // fifo would, for a writer).
        let flags = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK;
        let fd = match sys::openat(self.dir.as_fd(), key.file_name().as_str(), flags, Mode::empty())
        {
            Ok(fd) => fd,
            Err(nix::Error::ENOENT) => return Ok(None),
            Err(e) => return Err(io_err("open")(e.into())),
        };
        let mut file = File::from(fd);
        let meta = file.metadata().map_err(io_err("stat"))?;
        if !meta.file_type().is_file() {
            return Err(CacheError::NotFile { path });
        }
        check_owner(meta.uid(), meta.mode(), self.uid, &path)?;
        let size = meta.size();
        if size > MAX_ENTRY as u64 {
            return Err(CacheError::TooLarge { path, size });
        }
        let mut bytes = Vec::with_capacity(size as usize);
        file.read_to_end(&mut bytes).map_err(io_err("read"))?;
        decode(&bytes, key).map(Some).map_err(|source| CacheError::Corrupt { path, source })
    }

    /// Stores `compiled` as the entry for `key`, replacing any.
    pub fn put(&self, key: &Key, compiled: &Compiled) -> Result<(), CacheError> {
        let bytes = encode(key, compiled)?;
        let name = key.file_name();
        // The pid and the clock keep concurrent writers apart, also across
        // pid namespaces sharing the root; O_EXCL makes sure that no writer
        // ever writes into another's file.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let tmp = format!(".{name}.{}.{nanos}.tmp", std::process::id());
        let path = self.path.join(&tmp);
        let io_err = |what| {
            let path = path.clone();
            move |source| CacheError::Io { what, path, source }
        };
        let flags = OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW;
        let fd = sys::openat(self.dir.as_fd(), tmp.as_str(), flags, Mode::S_IRUSR | Mode::S_IWUSR)
            .map_err(|e| io_err("create")(e.into()))?;
        let written = File::from(fd).write_all(&bytes).map_err(io_err("write")).and_then(|()| {
            let dir = Some(self.dir.as_raw_fd());
            nix::fcntl::renameat(dir, tmp.as_str(), dir, name.as_str())
                .map_err(|e| io_err("rename")(e.into()))
        });
        if written.is_err() {
            let _ = nix::unistd::unlinkat(
                Some(self.dir.as_raw_fd()),
                tmp.as_str(),
                nix::unistd::UnlinkatFlags::NoRemoveDir,
            );
        }
        written?;
        self.evict(&name);
        Ok(())
    }

    /// Removes the oldest-written files past [`MAX_ENTRIES`], sparing `keep`.
    /// Best effort: a file another process removes first is simply gone.
    fn evict(&self, keep: &str) {
        let dirfd = self.dir.as_raw_fd();
        let Ok(mut dir) = nix::dir::Dir::openat(
            Some(dirfd),
            ".",
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        ) else {
            return;
        };
        let mut files = Vec::new();
        for entry in dir.iter().flatten() {
            let name = entry.file_name();
            let Ok(meta) = nix::sys::stat::fstatat(Some(dirfd), name, AtFlags::AT_SYMLINK_NOFOLLOW)
            else {
                continue;
            };
            if SFlag::from_bits_truncate(meta.st_mode & SFlag::S_IFMT.bits()) != SFlag::S_IFREG {
                continue;
            }
            if name.to_bytes() != keep.as_bytes() {
                files.push(((meta.st_mtime, meta.st_mtime_nsec), name.to_owned()));
            }
        }
        // `keep` is one of the entries the limit allows.
        let Some(excess) = (files.len() + 1).checked_sub(MAX_ENTRIES).filter(|&n| n > 0) else {
            return;
        };
        files.sort();
        for (_, name) in files.into_iter().take(excess) {
            let _ = nix::unistd::unlinkat(
                Some(dirfd),
                name.as_c_str(),
                nix::unistd::UnlinkatFlags::NoRemoveDir,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::plan::plan_seccomp;

    fn plan_of(v: serde_json::Value) -> SeccompPlan {
        plan_seccomp(&serde_json::from_value(v).unwrap()).unwrap()
    }

    fn toolchain() -> Toolchain {
        Toolchain {
            rcr: "1.0.0".into(),
            build_id: Some("abcd".into()),
            libseccomp: Some("2.5.4".into()),
            api: 6,
            arch: "x86_64-64".into(),
            kernel: "6.1.0 #1 SMP".into(),
        }
    }

    fn base() -> serde_json::Value {
        serde_json::json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
            "flags": ["SECCOMP_FILTER_FLAG_LOG"],
            "syscalls": [
                {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
            ]
        })
    }

    fn key_of(v: &serde_json::Value) -> Key {
        Key::new(&toolchain(), &plan_of(v.clone()))
    }

    #[test]
    fn equal_inputs_give_equal_keys() {
        assert_eq!(key_of(&base()), key_of(&base()));
        // Where the notify fd goes, and which spec entry a rule came from,
        // do not change the program.
        let mut notify = base();
        notify["listenerPath"] = "/run/a.sock".into();
        notify["syscalls"][0]["names"] = serde_json::json!(["mkdir"]);
        notify["syscalls"][0]["action"] = "SCMP_ACT_NOTIFY".into();
        let mut elsewhere = notify.clone();
        elsewhere["listenerPath"] = "/run/b.sock".into();
        elsewhere["listenerMetadata"] = "m".into();
        assert_eq!(key_of(&notify), key_of(&elsewhere));
        let mut shifted = base();
        // A rule like the default one is dropped by the plan: the same
        // rules, at other spec positions.
        shifted["syscalls"]
            .as_array_mut()
            .unwrap()
            .insert(0, serde_json::json!({"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}));
        assert_eq!(key_of(&base()), key_of(&shifted));
    }

    #[test]
    fn every_input_changes_the_key() {
        let base_key = key_of(&base());
        let mut variants: Vec<serde_json::Value> = Vec::new();
        let mut edit = |f: &dyn Fn(&mut serde_json::Value)| {
            let mut v = base();
            f(&mut v);
            variants.push(v);
        };
        edit(&|v| v["defaultAction"] = "SCMP_ACT_KILL_PROCESS".into());
        edit(&|v| v["defaultErrnoRet"] = 13.into());
        edit(&|v| v["architectures"] = serde_json::json!(["SCMP_ARCH_X86_64"]));
        edit(&|v| v["architectures"] = serde_json::json!(["SCMP_ARCH_X86", "SCMP_ARCH_X86_64"]));
        edit(&|v| v["flags"] = serde_json::json!([]));
        edit(&|v| v["flags"] = serde_json::json!(["SECCOMP_FILTER_FLAG_SPEC_ALLOW"]));
        edit(&|v| v["syscalls"][0]["names"] = serde_json::json!(["write", "read"]));
        edit(&|v| v["syscalls"][0]["names"] = serde_json::json!(["read,write"]));
        edit(&|v| v["syscalls"][0]["action"] = "SCMP_ACT_LOG".into());
        edit(&|v| v["syscalls"][1]["args"][0]["value"] = 9.into());
        edit(&|v| v["syscalls"][1]["args"][0]["op"] = "SCMP_CMP_NE".into());
        edit(&|v| v["syscalls"][1]["args"][0]["index"] = 1.into());
        edit(&|v| {
            v["syscalls"][1]["args"][0]["op"] = "SCMP_CMP_MASKED_EQ".into();
            v["syscalls"][1]["args"][0]["valueTwo"] = 8.into();
        });
        let mut keys = vec![base_key];
        for v in &variants {
            let k = key_of(v);
            assert!(!keys.contains(&k), "{v} collides");
            keys.push(k);
        }
        let plan = plan_of(base());
        let mut toolchains = Vec::new();
        for f in [
            (|t: &mut Toolchain| t.rcr = "1.0.1".into()) as fn(&mut Toolchain),
            |t| t.build_id = Some("abce".into()),
            |t| t.build_id = None,
            |t| t.libseccomp = Some("2.6.0".into()),
            |t| t.api = 7,
            |t| t.arch = "aarch64-64".into(),
            |t| t.kernel = "6.1.1 #1 SMP".into(),
        ] {
            let mut t = toolchain();
            f(&mut t);
            toolchains.push(t);
        }
        for t in &toolchains {
            let k = Key::new(t, &plan);
            assert!(!keys.contains(&k), "{t:?} collides");
            keys.push(k);
        }
    }

    #[test]
    fn the_current_toolchain_is_complete() {
        let t = Toolchain::current();
        assert_eq!(t.rcr, env!("CARGO_PKG_VERSION"));
        assert!(t.api >= 1, "{t:?}");
        assert!(t.libseccomp.is_some() && !t.kernel.is_empty(), "{t:?}");
        assert_eq!(t, Toolchain::current(), "stable within a process");
    }

    fn compiled() -> Compiled {
        super::super::compile::compile(&plan_of(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["getppid", "no_such_syscall"], "action": "SCMP_ACT_ERRNO"}]
        })))
        .unwrap()
    }

    #[test]
    fn entries_round_trip_and_refuse_any_damage() {
        let key = key_of(&base());
        let c = compiled();
        assert_eq!(c.skipped, ["no_such_syscall"]);
        let bytes = encode(&key, &c).unwrap();
        assert_eq!(decode(&bytes, &key), Ok(c.clone()));

        assert_eq!(
            decode(&bytes, &key_of(&serde_json::json!({"defaultAction": "SCMP_ACT_LOG"}))),
            Err(Corrupt::Key)
        );
        for n in [0, 7, HEADER - 1] {
            assert_eq!(decode(&bytes[..n], &key), Err(Corrupt::Truncated(n)));
        }
        let cut = &bytes[..bytes.len() - 8];
        assert!(
            matches!(decode(cut, &key), Err(Corrupt::Length { .. })),
            "{:?}",
            decode(cut, &key)
        );
        let mut padded = bytes.clone();
        padded.push(0);
        assert!(matches!(decode(&padded, &key), Err(Corrupt::Length { .. })));
        let mut magic = bytes.clone();
        magic[7] = 2;
        assert_eq!(decode(&magic, &key), Err(Corrupt::Magic));
        // Any changed byte of the body: one instruction of the program, or a
        // skipped name.
        for at in [HEADER + 2, bytes.len() - 3] {
            let mut flipped = bytes.clone();
            flipped[at] ^= 0x10;
            assert_eq!(decode(&flipped, &key), Err(Corrupt::Digest), "byte {at}");
        }

        // Whole entries whose content cannot be used, with a valid digest.
        let forged = |skipped: &[u8], program: &[u8]| {
            let mut digest = Sha256::new();
            digest.update(skipped);
            digest.update(program);
            let mut out = MAGIC.to_vec();
            out.extend_from_slice(&key.0);
            out.extend_from_slice(&digest.finalize());
            out.extend_from_slice(&u32_len(skipped.len()).to_le_bytes());
            out.extend_from_slice(&u32_len(program.len()).to_le_bytes());
            out.extend_from_slice(skipped);
            out.extend_from_slice(program);
            out
        };
        assert_eq!(
            decode(&forged(b"[]", &[0; 12]), &key),
            Err(Corrupt::Program(BadProgram::Partial(12)))
        );
        assert_eq!(decode(&forged(b"[]", &[]), &key), Err(Corrupt::Program(BadProgram::Empty)));
        let long = vec![0; (MAX_INSTRUCTIONS + 1) * 8];
        assert_eq!(
            decode(&forged(b"[]", &long), &key),
            Err(Corrupt::Program(BadProgram::TooLong(MAX_INSTRUCTIONS + 1)))
        );
        assert_eq!(decode(&forged(b"[1]", &[0; 8]), &key), Err(Corrupt::Skipped));
        assert!(decode(&forged(b"[]", &[0; MAX_INSTRUCTIONS * 8]), &key).is_ok());
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn the_directory_is_private_and_entries_are_found() {
        let root = tempfile::tempdir().unwrap();
        let cache = Cache::open(root.path()).unwrap();
        let dir = root.path().join(DIR_NAME);
        assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o7777, 0o700);
        let key = key_of(&base());
        assert!(cache.get(&key).unwrap().is_none());
        let c = compiled();
        cache.put(&key, &c).unwrap();
        assert_eq!(entries(&dir), [hex(&key.0)], "no temporary file left");
        let entry = cache.entry_path(&key);
        assert_eq!(std::fs::metadata(&entry).unwrap().permissions().mode() & 0o7777, 0o600);
        assert_eq!(cache.get(&key).unwrap(), Some(c.clone()));
        // Opening again finds it.
        assert_eq!(Cache::open(root.path()).unwrap().get(&key).unwrap(), Some(c));
    }

    #[test]
    fn untrusted_entries_are_refused() {
        let root = tempfile::tempdir().unwrap();
        let cache = Cache::open(root.path()).unwrap();
        let key = key_of(&base());
        let c = compiled();
        cache.put(&key, &c).unwrap();
        let entry = cache.entry_path(&key);

        // Not ours (as seen by a process of another euid).
        let me = nix::unistd::geteuid().as_raw();
        let other =
            Cache { dir: cache.dir.try_clone().unwrap(), path: cache.path.clone(), uid: me + 1 };
        assert!(
            matches!(other.get(&key), Err(CacheError::Untrusted(PrivateDirError::Owner { owner, .. })) if owner == me)
        );

        for mode in [0o620, 0o602, 0o666] {
            std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(mode)).unwrap();
            assert!(
                matches!(
                    cache.get(&key),
                    Err(CacheError::Untrusted(PrivateDirError::Writable { .. }))
                ),
                "{mode:o}"
            );
        }
        std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(cache.get(&key).unwrap().is_some());

        // Truncated in place.
        let bytes = std::fs::read(&entry).unwrap();
        std::fs::write(&entry, &bytes[..bytes.len() / 2]).unwrap();
        assert!(matches!(
            cache.get(&key),
            Err(CacheError::Corrupt { source: Corrupt::Length { .. }, .. })
        ));
        // The entry of another key, under this key's name.
        let other_key = key_of(&serde_json::json!({"defaultAction": "SCMP_ACT_LOG"}));
        std::fs::write(&entry, encode(&other_key, &c).unwrap()).unwrap();
        assert!(matches!(cache.get(&key), Err(CacheError::Corrupt { source: Corrupt::Key, .. })));
        // Replacing it makes it good again.
        cache.put(&key, &c).unwrap();
        assert_eq!(cache.get(&key).unwrap(), Some(c));

        // Not a regular file: a fifo must not block the lookup.
        std::fs::remove_file(&entry).unwrap();
        nix::unistd::mkfifo(&entry, Mode::S_IRUSR | Mode::S_IWUSR).unwrap();
        assert!(matches!(cache.get(&key), Err(CacheError::NotFile { .. })));
        std::fs::remove_file(&entry).unwrap();
        // A symlink is not followed.
        std::os::unix::fs::symlink("/etc/passwd", &entry).unwrap();
        assert!(matches!(cache.get(&key), Err(CacheError::Io { what: "open", .. })));
    }

    #[test]
    fn an_untrusted_directory_is_not_used() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join(DIR_NAME);
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(matches!(
            Cache::open(root.path()),
            Err(CacheError::Untrusted(PrivateDirError::Writable { mode: 0o777, .. }))
        ));
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        let me = nix::unistd::geteuid().as_raw();
        assert!(matches!(
            Cache::open_as(root.path(), me + 1),
            Err(CacheError::Untrusted(PrivateDirError::Owner { .. }))
        ));
        assert!(Cache::open(root.path()).is_ok());
        // A symlink in its place is not followed.
        std::fs::remove_dir(&dir).unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), &dir).unwrap();
        assert!(matches!(
            Cache::open(root.path()),
            Err(CacheError::Untrusted(PrivateDirError::Io { what: "open", .. }))
        ));
        // No root to make it in.
        assert!(matches!(
            Cache::open(&root.path().join("missing")),
            Err(CacheError::Untrusted(PrivateDirError::Io { what: "create", .. }))
        ));
    }

    #[test]
    fn the_oldest_entries_go_past_the_limit() {
        let root = tempfile::tempdir().unwrap();
        let cache = Cache::open(root.path()).unwrap();
        let c = compiled();
        let mut keys = Vec::new();
        for i in 0..MAX_ENTRIES + 3 {
            let mut v = base();
            v["defaultErrnoRet"] = i.into();
            let key = key_of(&v);
            cache.put(&key, &c).unwrap();
            // Distinct modification times, whatever the clock's granularity.
            let t =
                std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1000 + i as u64);
            File::options()
                .write(true)
                .open(cache.entry_path(&key))
                .unwrap()
                .set_modified(t)
                .unwrap();
            keys.push(key);
        }
        assert_eq!(entries(&root.path().join(DIR_NAME)).len(), MAX_ENTRIES);
        for (i, key) in keys.iter().enumerate() {
            assert_eq!(cache.get(key).unwrap().is_some(), i >= 3, "entry {i}");
        }
    }
}
