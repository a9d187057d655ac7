//! Just enough ELF parsing to tell whether an executable needs a dynamic loader
//! (used to check for a static busybox, for `rcr demo` and the test kit).

use std::fs;
use std::io;
use std::path::Path;

const PT_INTERP: u32 = 3;

/// Whether the ELF executable at `path` runs without a dynamic loader, i.e. has no
/// `PT_INTERP` program header (static and static-pie binaries alike).
///
/// Such a binary can be dropped into any rootfs, which is what the e2e tests need.
pub fn is_static_elf(path: &Path) -> io::Result<bool> {
    let bytes = fs::read(path)?;
    has_interpreter(&bytes).map(|interp| !interp).map_err(|msg| {
        io::Error::new(io::ErrorKind::InvalidData, format!("{}: {msg}", path.display()))
    })
}

fn has_interpreter(elf: &[u8]) -> Result<bool, &'static str> {
    if elf.get(..4) != Some(b"\x7fELF".as_slice()) {
        return Err("not an ELF file");
    }
    let wide = match elf.get(4) {
        Some(1) => false,
        Some(2) => true,
        _ => return Err("unknown ELF class"),
    };
    let reader = Reader {
        bytes: elf,
        little_endian: match elf.get(5) {
            Some(1) => true,
            Some(2) => false,
            _ => return Err("unknown ELF byte order"),
        },
    };
    let (phoff, phentsize, phnum) = if wide {
        (reader.u64(0x20)?, reader.u16(0x36)?, reader.u16(0x38)?)
    } else {
        (u64::from(reader.u32(0x1c)?), reader.u16(0x2a)?, reader.u16(0x2c)?)
    };
    for i in 0..u64::from(phnum) {
        let offset = usize::try_from(phoff + i * u64::from(phentsize))
            .map_err(|_| "program header offset out of range")?;
        // p_type is the first field of both the 32- and 64-bit program headers.
        if reader.u32(offset)? == PT_INTERP {
            return Ok(true);
        }
    }
    Ok(false)
}

struct Reader<'a> {
    bytes: &'a [u8],
    little_endian: bool,
}

impl Reader<'_> {
    fn array<const N: usize>(&self, offset: usize) -> Result<[u8; N], &'static str> {
        let slice = offset
            .checked_add(N)
            .and_then(|end| self.bytes.get(offset..end))
            .ok_or("truncated ELF file")?;
        let mut raw: [u8; N] = slice.try_into().map_err(|_| "truncated ELF file")?;
        // Normalised to little-endian so callers need only `from_le_bytes`.
        if !self.little_endian {
            raw.reverse();
        }
        Ok(raw)
    }

    fn u16(&self, offset: usize) -> Result<u16, &'static str> {
        self.array(offset).map(u16::from_le_bytes)
    }

    fn u32(&self, offset: usize) -> Result<u32, &'static str> {
        self.array(offset).map(u32::from_le_bytes)
    }

    fn u64(&self, offset: usize) -> Result<u64, &'static str> {
        self.array(offset).map(u64::from_le_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 64-bit ELF header followed by program headers of the given types.
    fn elf64(little_endian: bool, types: &[u32]) -> Vec<u8> {
        let u16b = |v: u16| if little_endian { v.to_le_bytes() } else { v.to_be_bytes() };
        let mut elf = vec![0u8; 64];
        elf[..4].copy_from_slice(b"\x7fELF");
        elf[4] = 2;
        elf[5] = if little_endian { 1 } else { 2 };
        let phoff: u64 = 64;
        elf[0x20..0x28].copy_from_slice(&if little_endian {
            phoff.to_le_bytes()
        } else {
            phoff.to_be_bytes()
        });
        elf[0x36..0x38].copy_from_slice(&u16b(56));
        elf[0x38..0x3a].copy_from_slice(&u16b(u16::try_from(types.len()).unwrap()));
        for &t in types {
            let mut ph = vec![0u8; 56];
            ph[..4].copy_from_slice(&if little_endian { t.to_le_bytes() } else { t.to_be_bytes() });
            elf.extend(ph);
        }
        elf
    }

    #[test]
    fn finds_interpreter_header() {
        assert_eq!(has_interpreter(&elf64(true, &[6, 3, 1])), Ok(true));
        assert_eq!(has_interpreter(&elf64(false, &[6, 3, 1])), Ok(true));
        assert_eq!(has_interpreter(&elf64(true, &[1, 1, 2])), Ok(false));
        assert_eq!(has_interpreter(&elf64(true, &[])), Ok(false));
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!(has_interpreter(b"#!/bin/sh\n"), Err("not an ELF file"));
        let mut truncated = elf64(true, &[1, 3]);
        truncated.truncate(64 + 56 + 2);
        assert_eq!(has_interpreter(&truncated), Err("truncated ELF file"));
    }

    #[test]
    fn classifies_system_binaries() {
        // Debian's /bin/sh is dash, linked dynamically.
        if Path::new("/bin/sh").exists() {
            assert!(!is_static_elf(Path::new("/bin/sh")).unwrap());
        }
        // Test binaries are linked dynamically against glibc.
        assert!(!is_static_elf(&std::env::current_exe().unwrap()).unwrap());
        let err = is_static_elf(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml").as_path());
        assert_eq!(err.unwrap_err().kind(), io::ErrorKind::InvalidData);
    }
}
