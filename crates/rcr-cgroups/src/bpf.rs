//! Device access control on cgroup v2: an eBPF program of type
//! `BPF_PROG_TYPE_CGROUP_DEVICE` generated from the container's device rules.
//!
//! cgroup v2 has no `devices.allow`/`devices.deny`; the kernel instead runs
//! the programs attached to the cgroup on every open and mknod of a device
//! node. The program is written out instruction by instruction here rather
//! than with an eBPF crate: it is a fixed prologue, one short block per rule
//! and a default, using seven opcodes; the crates that exist either compile
//! C at build time or load ELF objects, which is far more than that needs.
//!
//! Semantics (those of a sequence of v1 `devices.allow`/`devices.deny`
//! writes): the last rule that denies or allows every device (`a *:* rwm`)
//! sets the default, and the rules after it are checked last to first, the
//! first that matches deciding. An allow rule matches when it grants every
//! access bit asked for; a deny rule matches when it refuses any of them.
//! Without a catch-all rule the default is to allow, as a new v1 cgroup
//! inherits "a *:* rwm" from the root.

use crate::resources::{DeviceKind, DeviceRule};

// Instruction classes, sizes, modes and operations of the eBPF ISA
// (linux/bpf_common.h, linux/bpf.h).
const BPF_LDX: u8 = 0x01;
const BPF_ALU: u8 = 0x04;
const BPF_JMP: u8 = 0x05;
const BPF_ALU64: u8 = 0x07;
const BPF_W: u8 = 0x00;
const BPF_MEM: u8 = 0x60;
const BPF_K: u8 = 0x00;
const BPF_X: u8 = 0x08;
const BPF_AND: u8 = 0x50;
const BPF_RSH: u8 = 0x70;
const BPF_MOV: u8 = 0xb0;
const BPF_JEQ: u8 = 0x10;
const BPF_JNE: u8 = 0x50;
const BPF_EXIT: u8 = 0x90;

// struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }:
// access_type is (access << 16) | device type.
const CTX_ACCESS_TYPE: i16 = 0;
const CTX_MAJOR: i16 = 4;
const CTX_MINOR: i16 = 8;
const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;
const ACC_MKNOD: i32 = 1;
const ACC_READ: i32 = 2;
const ACC_WRITE: i32 = 4;
const ACC_ALL: i32 = ACC_MKNOD | ACC_READ | ACC_WRITE;

// Registers: r1 holds the context on entry and is scratch after the
// prologue; r2..r5 hold the request for the whole program.
const R0: u8 = 0;
const R1: u8 = 1;
const R_TYPE: u8 = 2;
const R_ACCESS: u8 = 3;
const R_MAJOR: u8 = 4;
const R_MINOR: u8 = 5;

/// One eBPF instruction (`struct bpf_insn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    pub code: u8,
    pub dst: u8,
    pub src: u8,
    pub off: i16,
    pub imm: i32,
}

impl Insn {
    const fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Self {
        Self { code, dst, src, off, imm }
    }

    /// The 8 bytes of `struct bpf_insn` (registers in one byte, dst in the
    /// low nibble, then little-endian offset and immediate).
    pub fn encode(&self) -> [u8; 8] {
        let mut out = [0; 8];
        out[0] = self.code;
        out[1] = (self.src << 4) | (self.dst & 0x0f);
        out[2..4].copy_from_slice(&self.off.to_le_bytes());
        out[4..8].copy_from_slice(&self.imm.to_le_bytes());
        out
    }
}

fn load_ctx(dst: u8, off: i16) -> Insn {
    Insn::new(BPF_LDX | BPF_W | BPF_MEM, dst, R1, off, 0)
}
fn and32(dst: u8, imm: i32) -> Insn {
    Insn::new(BPF_ALU | BPF_AND | BPF_K, dst, 0, 0, imm)
}
fn rsh32(dst: u8, imm: i32) -> Insn {
    Insn::new(BPF_ALU | BPF_RSH | BPF_K, dst, 0, 0, imm)
}
fn mov32_reg(dst: u8, src: u8) -> Insn {
    Insn::new(BPF_ALU | BPF_MOV | BPF_X, dst, src, 0, 0)
}
fn mov64_imm(dst: u8, imm: i32) -> Insn {
    Insn::new(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm)
}
fn jump(op: u8, dst: u8, imm: i32, off: i16) -> Insn {
    Insn::new(BPF_JMP | op | BPF_K, dst, 0, off, imm)
}
fn exit() -> Insn {
    Insn::new(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)
}

fn access_bits(access: &str) -> i32 {
    access.chars().fold(0, |bits, c| match c {
        'r' => bits | ACC_READ,
        'w' => bits | ACC_WRITE,
        'm' => bits | ACC_MKNOD,
        _ => bits,
    })
}

fn is_catch_all(rule: &DeviceRule) -> bool {
    rule.kind == DeviceKind::All
        && rule.major.is_none_or(|m| m < 0)
        && rule.minor.is_none_or(|m| m < 0)
        && access_bits(rule.access()) == ACC_ALL
}

/// A device number of a rule as an immediate; `None` for a wildcard.
/// Device numbers are at most 32 bits, so larger ones can never match.
fn number(n: Option<i64>) -> Option<Result<i32, ()>> {
    match n {
        None => None,
        Some(n) if n < 0 => None,
        Some(n) => Some(u32::try_from(n).map(|n| n as i32).map_err(|_| ())),
    }
}

/// The rule's checks, each jumping to the end of the block on mismatch
/// (offsets filled in once the block's length is known), then the verdict.
fn rule_block(rule: &DeviceRule) -> Vec<Insn> {
    const NEXT: i16 = i16::MAX;
    let mut block = Vec::new();
    match rule.kind {
        DeviceKind::All => {}
        DeviceKind::Char => block.push(jump(BPF_JNE, R_TYPE, DEV_CHAR, NEXT)),
        DeviceKind::Block => block.push(jump(BPF_JNE, R_TYPE, DEV_BLOCK, NEXT)),
    }
    let bits = access_bits(rule.access());
    if bits != ACC_ALL {
        block.push(mov32_reg(R1, R_ACCESS));
        if rule.allow {
            // Allow only if nothing outside the rule's access is asked for.
            block.push(and32(R1, !bits & ACC_ALL));
            block.push(jump(BPF_JNE, R1, 0, NEXT));
        } else {
            // Deny if anything the rule refuses is asked for.
            block.push(and32(R1, bits));
            block.push(jump(BPF_JEQ, R1, 0, NEXT));
        }
    }
    for (reg, n) in [(R_MAJOR, rule.major), (R_MINOR, rule.minor)] {
        match number(n) {
            None => {}
            Some(Ok(imm)) => block.push(jump(BPF_JNE, reg, imm, NEXT)),
            // No device has this number: the rule never matches.
            Some(Err(())) => return Vec::new(),
        }
    }
    block.push(mov64_imm(R0, i32::from(rule.allow)));
    block.push(exit());
    let len = block.len();
    for (i, insn) in block.iter_mut().enumerate() {
        if insn.off == NEXT {
            // Jump offsets count from the instruction after the jump.
            insn.off = i16::try_from(len - i - 1).expect("a rule block is a few instructions");
        }
    }
    block
}

/// The program enforcing `rules` (see the module docs for the semantics).
pub fn device_program(rules: &[DeviceRule]) -> Vec<Insn> {
    let (default_allow, rest) = match rules.iter().rposition(is_catch_all) {
        Some(i) => (rules[i].allow, &rules[i + 1..]),
        None => (true, rules),
    };
    let mut prog = vec![
        load_ctx(R_TYPE, CTX_ACCESS_TYPE),
        and32(R_TYPE, 0xffff),
        load_ctx(R_ACCESS, CTX_ACCESS_TYPE),
        rsh32(R_ACCESS, 16),
        load_ctx(R_MAJOR, CTX_MAJOR),
        load_ctx(R_MINOR, CTX_MINOR),
    ];
    for rule in rest.iter().rev() {
        prog.extend(rule_block(rule));
    }
    prog.push(mov64_imm(R0, i32::from(default_allow)));
    prog.push(exit());
    prog
}

/// The program as the bytes `BPF_PROG_LOAD` takes.
pub fn encode(prog: &[Insn]) -> Vec<u8> {
    prog.iter().flat_map(Insn::encode).collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Runs `prog` on one device access the way the kernel would, for the
    /// instructions the generator emits. Returns the verdict (1 = allow).
    pub(crate) fn run(prog: &[Insn], kind: char, major: u32, minor: u32, access: &str) -> u64 {
        let dev_type = match kind {
            'b' => DEV_BLOCK,
            'c' => DEV_CHAR,
            _ => panic!("{kind}"),
        } as u32;
        let ctx = [(access_bits(access) as u32) << 16 | dev_type, major, minor];
        let mut r = [0u64; 11];
        let mut pc = 0usize;
        loop {
            let i = prog[pc];
            pc += 1;
            let (dst, src) = (usize::from(i.dst), usize::from(i.src));
            let imm64 = i64::from(i.imm) as u64;
            match i.code {
                c if c == BPF_LDX | BPF_W | BPF_MEM => {
                    assert_eq!(src, usize::from(R1), "loads only from the context");
                    r[dst] = u64::from(ctx[usize::try_from(i.off / 4).unwrap()]);
                }
                c if c == BPF_ALU | BPF_AND | BPF_K => {
                    r[dst] = (r[dst] as u32 & i.imm as u32).into()
                }
                c if c == BPF_ALU | BPF_RSH | BPF_K => r[dst] = ((r[dst] as u32) >> i.imm).into(),
                c if c == BPF_ALU | BPF_MOV | BPF_X => r[dst] = (r[src] as u32).into(),
                c if c == BPF_ALU64 | BPF_MOV | BPF_K => r[dst] = imm64,
                c if c == BPF_JMP | BPF_JNE | BPF_K => {
                    if r[dst] != imm64 {
                        pc += usize::try_from(i.off).unwrap();
                    }
                }
                c if c == BPF_JMP | BPF_JEQ | BPF_K => {
                    if r[dst] == imm64 {
                        pc += usize::try_from(i.off).unwrap();
                    }
                }
                c if c == BPF_JMP | BPF_EXIT => return r[0],
                c => panic!("unexpected opcode {c:#x}"),
            }
        }
    }

    fn rule(
        allow: bool,
        kind: DeviceKind,
        major: Option<i64>,
        minor: Option<i64>,
        access: &str,
    ) -> DeviceRule {
        DeviceRule { allow, kind, major, minor, access: access.to_owned() }
    }

    #[test]
    fn deny_all_then_allow_a_list() {
        let prog = device_program(&[
            rule(false, DeviceKind::All, None, None, "rwm"),
            rule(true, DeviceKind::Char, Some(1), Some(3), "rwm"),
            rule(true, DeviceKind::Char, Some(136), None, "rw"),
            rule(true, DeviceKind::Block, None, None, "m"),
        ]);
        assert_eq!(run(&prog, 'c', 1, 3, "rw"), 1, "/dev/null");
        assert_eq!(run(&prog, 'c', 1, 3, "m"), 1);
        assert_eq!(run(&prog, 'c', 1, 5, "r"), 0, "/dev/zero is not listed");
        assert_eq!(run(&prog, 'b', 1, 3, "r"), 0, "the type must match");
        assert_eq!(run(&prog, 'c', 136, 7, "rw"), 1, "any minor of pts");
        assert_eq!(run(&prog, 'c', 136, 7, "m"), 0, "but not mknod");
        assert_eq!(run(&prog, 'b', 8, 0, "m"), 1);
        assert_eq!(run(&prog, 'b', 8, 0, "r"), 0);
    }

    #[test]
    fn later_rules_win() {
        let prog = device_program(&[
            rule(true, DeviceKind::Char, Some(1), Some(3), "rw"),
            rule(false, DeviceKind::Char, Some(1), Some(3), "w"),
        ]);
        // No catch-all: anything unlisted is allowed.
        assert_eq!(run(&prog, 'c', 10, 200, "rwm"), 1);
        assert_eq!(run(&prog, 'c', 1, 3, "r"), 1);
        assert_eq!(run(&prog, 'c', 1, 3, "w"), 0);
        assert_eq!(run(&prog, 'c', 1, 3, "rw"), 0);
    }

    #[test]
    fn a_later_catch_all_discards_earlier_rules() {
        let prog = device_program(&[
            rule(true, DeviceKind::Char, Some(1), Some(3), "rwm"),
            rule(false, DeviceKind::All, None, None, ""),
            rule(true, DeviceKind::Char, Some(1), Some(5), "r"),
        ]);
        assert_eq!(run(&prog, 'c', 1, 3, "r"), 0);
        assert_eq!(run(&prog, 'c', 1, 5, "r"), 1);
        assert_eq!(run(&prog, 'c', 1, 5, "rw"), 0, "asks for more than the rule grants");
        // prologue (6) + one block (type, access x3, major, minor, verdict x2) + default (2)
        assert_eq!(prog.len(), 6 + 8 + 2);
        let allow_all = device_program(&[rule(true, DeviceKind::All, None, None, "rwm")]);
        assert_eq!(allow_all.len(), 8);
        assert_eq!(run(&allow_all, 'b', 8, 1, "rwm"), 1);
    }

    #[test]
    fn impossible_device_numbers_never_match() {
        let prog = device_program(&[
            rule(false, DeviceKind::All, None, None, "rwm"),
            rule(true, DeviceKind::Char, Some(1 << 40), None, "rwm"),
        ]);
        assert_eq!(prog.len(), 8);
    }

    #[test]
    fn encoding_matches_struct_bpf_insn() {
        let i = Insn::new(BPF_JMP | BPF_JNE | BPF_K, R_MAJOR, 0, 3, 136);
        assert_eq!(i.encode(), [0x55, 0x04, 3, 0, 136, 0, 0, 0]);
        let i = load_ctx(R_MINOR, CTX_MINOR);
        assert_eq!(i.encode(), [0x61, 0x15, 8, 0, 0, 0, 0, 0]);
        assert_eq!(encode(&[exit(), exit()]).len(), 16);
    }
}
