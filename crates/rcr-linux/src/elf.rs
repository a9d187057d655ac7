//! Just enough ELF parsing to tell whether an executable needs a dynamic loader
//! (used to check for a static busybox, for `rcr demo` and the test kit), and
//! to read a binary's GNU build id (which keys rcr's seccomp filter cache).

use std::fs::{self, File};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

const PT_INTERP: u32 = 3;
const PT_NOTE: u32 = 4;
/// `e_ident[EI_DATA]` of a little-endian file.
const ELFDATA2LSB: u8 = 1;
const NT_GNU_BUILD_ID: u32 = 3;
/// How much of the file is read at first: the ELF header, the program
/// headers and, with every common linker, the notes.
const HEAD: usize = 4096;
/// Notes larger than this are not what a linker writes.
const MAX_NOTES: u64 = 64 * 1024;

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
    let (reader, wide) = header(elf)?;
    for ph in program_headers(&reader, wide)? {
        // p_type is the first field of both the 32- and 64-bit program headers.
        if reader.u32(ph)? == PT_INTERP {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The offsets of the program headers.
fn program_headers(reader: &Reader<'_>, wide: bool) -> Result<Vec<usize>, &'static str> {
    let (phoff, phentsize, phnum) = if wide {
        (reader.u64(0x20)?, reader.u16(0x36)?, reader.u16(0x38)?)
    } else {
        (u64::from(reader.u32(0x1c)?), reader.u16(0x2a)?, reader.u16(0x2c)?)
    };
    (0..u64::from(phnum))
        .map(|i| {
            usize::try_from(phoff + i * u64::from(phentsize))
                .map_err(|_| "program header offset out of range")
        })
        .collect()
}

/// The GNU build id of the ELF file open as `file` (its `NT_GNU_BUILD_ID`
/// note): a digest the linker computed over the binary's contents, so two
/// builds of one version tell themselves apart. `None` when the linker
/// wrote none.
pub fn build_id(file: &File) -> io::Result<Option<Vec<u8>>> {
    let invalid = |msg: &str| io::Error::new(io::ErrorKind::InvalidData, msg);
    let mut head = vec![0u8; HEAD];
    let n = read_at_most(file, &mut head, 0)?;
    head.truncate(n);
    let notes = note_segments(&head).map_err(invalid)?;
    for (offset, size, align) in notes {
        let end = offset.checked_add(size).ok_or_else(|| invalid("note segment out of range"))?;
        let segment = match usize::try_from(end).ok().and_then(|end| head.get(offset as usize..end))
        {
            Some(inside) => inside.to_vec(),
            None if size <= MAX_NOTES => {
                let mut buf = vec![0u8; size as usize];
                file.read_exact_at(&mut buf, offset)?;
                buf
            }
            None => return Err(invalid("note segment too large")),
        };
        let reader = Reader { bytes: &segment, little_endian: head[5] == ELFDATA2LSB };
        if let Some(id) = find_build_id(&reader, align).map_err(invalid)? {
            return Ok(Some(id));
        }
    }
    Ok(None)
}

/// Reads from `offset` until `buf` is full or the file ends.
fn read_at_most(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// The `(offset, size, alignment)` of every `PT_NOTE` segment.
fn note_segments(elf: &[u8]) -> Result<Vec<(u64, u64, u64)>, &'static str> {
    let (reader, wide) = header(elf)?;
    let mut notes = Vec::new();
    for ph in program_headers(&reader, wide)? {
        if reader.u32(ph)? != PT_NOTE {
            continue;
        }
        notes.push(if wide {
            (reader.u64(ph + 8)?, reader.u64(ph + 32)?, reader.u64(ph + 48)?)
        } else {
            let field = |at: usize| reader.u32(ph + at).map(u64::from);
            (field(4)?, field(16)?, field(28)?)
        });
    }
    Ok(notes)
}

/// The descriptor of the `GNU` note of type `NT_GNU_BUILD_ID` in a note
/// segment whose entries are padded to `align` (4, or 8 for some 64-bit
/// segments).
fn find_build_id(notes: &Reader<'_>, align: u64) -> Result<Option<Vec<u8>>, &'static str> {
    let align = if align == 8 { 8 } else { 4 };
    let pad = |n: usize| n.div_ceil(align) * align;
    let mut at = 0;
    while at + 12 <= notes.bytes.len() {
        let namesz = notes.u32(at)? as usize;
        let descsz = notes.u32(at + 4)? as usize;
        let kind = notes.u32(at + 8)?;
        let name_at = at + 12;
        let desc_at = name_at.checked_add(pad(namesz)).ok_or("truncated note")?;
        let desc_end = desc_at.checked_add(descsz).ok_or("truncated note")?;
        let desc = notes.bytes.get(desc_at..desc_end).ok_or("truncated note")?;
        if kind == NT_GNU_BUILD_ID && notes.bytes.get(name_at..name_at + namesz) == Some(b"GNU\0") {
            return Ok(Some(desc.to_vec()));
        }
        at = desc_at + pad(descsz);
    }
    Ok(None)
}

/// The reader for an ELF file's header, and whether it is 64-bit.
fn header(elf: &[u8]) -> Result<(Reader<'_>, bool), &'static str> {
    if elf.get(..4) != Some(b"\x7fELF".as_slice()) {
        return Err("not an ELF file");
    }
    let wide = match elf.get(4) {
        Some(1) => false,
        Some(2) => true,
        _ => return Err("unknown ELF class"),
    };
    let little_endian = match elf.get(5) {
        Some(&ELFDATA2LSB) => true,
        Some(2) => false,
        _ => return Err("unknown ELF byte order"),
    };
    Ok((Reader { bytes: elf, little_endian }, wide))
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

    /// A little-endian ELF file (64- or 32-bit) whose one `PT_NOTE`
    /// segment, at `at`, holds `notes` (name, type, descriptor).
    fn with_notes(wide: bool, at: usize, notes: &[(&[u8], u32, &[u8])]) -> Vec<u8> {
        let mut segment = Vec::new();
        for (name, kind, desc) in notes {
            segment.extend((name.len() as u32).to_le_bytes());
            segment.extend((desc.len() as u32).to_le_bytes());
            segment.extend(kind.to_le_bytes());
            for part in [*name, *desc] {
                segment.extend(part);
                segment.resize(segment.len().div_ceil(4) * 4, 0);
            }
        }
        let mut elf = vec![0u8; at];
        elf[..6].copy_from_slice(&[0x7f, b'E', b'L', b'F', if wide { 2 } else { 1 }, 1]);
        let (phoff, ph) = if wide { (64usize, 0x20) } else { (52, 0x1c) };
        if wide {
            elf[ph..ph + 8].copy_from_slice(&(phoff as u64).to_le_bytes());
            elf[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
            elf[0x38..0x3a].copy_from_slice(&2u16.to_le_bytes());
        } else {
            elf[ph..ph + 4].copy_from_slice(&(phoff as u32).to_le_bytes());
            elf[0x2a..0x2c].copy_from_slice(&32u16.to_le_bytes());
            elf[0x2c..0x2e].copy_from_slice(&2u16.to_le_bytes());
        }
        // A PT_LOAD first, then the PT_NOTE.
        let note = phoff + if wide { 56 } else { 32 };
        elf[phoff..phoff + 4].copy_from_slice(&1u32.to_le_bytes());
        elf[note..note + 4].copy_from_slice(&PT_NOTE.to_le_bytes());
        let put = |elf: &mut Vec<u8>, field: usize, v: u64| {
            if wide {
                elf[note + field..note + field + 8].copy_from_slice(&v.to_le_bytes());
            } else {
                elf[note + field..note + field + 4].copy_from_slice(&(v as u32).to_le_bytes());
            }
        };
        let (offset, size, align) = if wide { (8, 32, 48) } else { (4, 16, 28) };
        put(&mut elf, offset, at as u64);
        put(&mut elf, size, segment.len() as u64);
        put(&mut elf, align, 4);
        elf.extend(segment);
        elf
    }

    fn build_id_of(bytes: &[u8]) -> io::Result<Option<Vec<u8>>> {
        let mut file = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut file, bytes).unwrap();
        build_id(&file)
    }

    #[test]
    fn reads_the_gnu_build_id() {
        let id: &[u8] = &[
            0xa8, 0xbf, 0x1d, 0xb7, 0xb9, 0x39, 0xc1, 0x2e, 0x44, 0xf8, 0x7f, 0xb2, 0x3b, 0x3c,
            0xa7, 0x54, 0x23, 0x80, 0x22,
        ];
        let notes: &[(&[u8], u32, &[u8])] = &[
            (b"GNU\0", 5, &[1, 2, 3, 4, 5, 6, 7, 8]),
            (b"Go\0\0", NT_GNU_BUILD_ID, b"not this one"),
            (b"GNU\0", NT_GNU_BUILD_ID, id),
        ];
        for wide in [true, false] {
            // Notes within the first page, and past it.
            for at in [0x200, 3 * HEAD] {
                assert_eq!(build_id_of(&with_notes(wide, at, notes)).unwrap().as_deref(), Some(id));
            }
            assert_eq!(build_id_of(&with_notes(wide, 0x200, &notes[..2])).unwrap(), None);
        }
        let mut truncated = with_notes(true, 0x200, notes);
        truncated.truncate(truncated.len() - 4);
        assert_eq!(build_id_of(&truncated).unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
        assert_eq!(build_id_of(b"#!/bin/sh\n").unwrap_err().kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn reads_the_build_id_the_toolchain_wrote() {
        // What binutils reads from this test binary, when it is there.
        let exe = std::env::current_exe().unwrap();
        let Ok(out) = std::process::Command::new("readelf").arg("-n").arg(&exe).output() else {
            return;
        };
        let text = String::from_utf8_lossy(&out.stdout);
        let expected = text.lines().find_map(|l| l.trim().strip_prefix("Build ID: "));
        let found = build_id(&File::open(&exe).unwrap()).unwrap();
        let hex = found.map(|id| id.iter().map(|b| format!("{b:02x}")).collect::<String>());
        assert_eq!(hex.as_deref(), expected, "{text}");
    }
}
