//! The cgroup v2 device guard as an eBPF program (`BPF_PROG_TYPE_CGROUP_DEVICE`): the same
//! rules as v1's `devices.allow` (deny by default, the default list, the granted devices),
//! compiled to instructions here, loaded and attached by `sys::bpf`. The shape is runc's and
//! crun's: a prologue unpacks the kernel's `struct bpf_cgroup_dev_ctx` into registers, then one
//! block per rule compares type, access, major and minor and returns 1 (allow) when all match;
//! after the last block the program returns 0 (deny, `EPERM` for the opener).
//!
//! Hand-written (docs/decisions.md, "Device program"): seven opcodes, no maps, no helpers, no
//! relocations; a BPF crate would bring an object loader for a program this small.

use super::device_rules::Rule;

/// `struct bpf_cgroup_dev_ctx`'s device types (the low 16 bits of `access_type`).
const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;
/// Its access bits (the high 16 bits).
const ACC_MKNOD: i32 = 1;
const ACC_READ: i32 = 2;
const ACC_WRITE: i32 = 4;

/// One eBPF instruction (`struct bpf_insn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    /// Opcode.
    pub code: u8,
    /// Destination register (low nibble of the register byte).
    pub dst: u8,
    /// Source register (high nibble).
    pub src: u8,
    /// Jump offset or memory offset.
    pub off: i16,
    /// Immediate.
    pub imm: i32,
}

/// The opcodes the program uses (classes, sizes, modes and operations or'ed as in
/// linux/bpf_common.h and linux/bpf.h).
pub mod op {
    /// `dst = *(u32 *)(src + off)`: BPF_LDX | BPF_MEM | BPF_W.
    pub const LDX_W: u8 = 0x61;
    /// `dst &= imm` (32-bit): BPF_ALU | BPF_AND | BPF_K.
    pub const AND32_K: u8 = 0x54;
    /// `dst >>= imm` (32-bit): BPF_ALU | BPF_RSH | BPF_K.
    pub const RSH32_K: u8 = 0x74;
    /// `dst = src`: BPF_ALU64 | BPF_MOV | BPF_X.
    pub const MOV64_X: u8 = 0xbf;
    /// `dst = imm`: BPF_ALU64 | BPF_MOV | BPF_K.
    pub const MOV64_K: u8 = 0xb7;
    /// `if dst != imm goto +off`: BPF_JMP | BPF_JNE | BPF_K.
    pub const JNE_K: u8 = 0x55;
    /// `if dst != src goto +off`: BPF_JMP | BPF_JNE | BPF_X.
    pub const JNE_X: u8 = 0x5d;
    /// `return r0`: BPF_JMP | BPF_EXIT.
    pub const EXIT: u8 = 0x95;
}

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        dst,
        src,
        off,
        imm,
    }
}

/// The program for `rules`: an access is allowed when some rule matches it.
pub fn compile(rules: &[Rule]) -> Vec<Insn> {
    // r1 = ctx. r2 = type, r3 = access, r4 = major, r5 = minor.
    let mut out = vec![
        insn(op::LDX_W, 2, 1, 0, 0),
        insn(op::AND32_K, 2, 0, 0, 0xffff),
        insn(op::LDX_W, 3, 1, 0, 0),
        insn(op::RSH32_K, 3, 0, 0, 16),
        insn(op::LDX_W, 4, 1, 4, 0),
        insn(op::LDX_W, 5, 1, 8, 0),
    ];
    for rule in rules {
        out.extend(block(rule));
    }
    out.push(insn(op::MOV64_K, 0, 0, 0, 0));
    out.push(insn(op::EXIT, 0, 0, 0, 0));
    out
}

/// One rule's block: each test jumps past the block's end when it fails.
fn block(rule: &Rule) -> Vec<Insn> {
    let mut tests: Vec<Vec<Insn>> = Vec::new();
    if let Some(kind) = rule.kind {
        let t = if kind == 'b' { DEV_BLOCK } else { DEV_CHAR };
        tests.push(vec![insn(op::JNE_K, 2, 0, 0, t)]);
    }
    let access = access_bits(&rule.access);
    if access != ACC_MKNOD | ACC_READ | ACC_WRITE {
        // Every bit asked for must be allowed: (asked & allowed) == asked.
        tests.push(vec![
            insn(op::MOV64_X, 1, 3, 0, 0),
            insn(op::AND32_K, 1, 0, 0, access),
            insn(op::JNE_X, 1, 3, 0, 0),
        ]);
    }
    if let Some(major) = rule.major {
        tests.push(vec![insn(op::JNE_K, 4, 0, 0, major as i32)]);
    }
    if let Some(minor) = rule.minor {
        tests.push(vec![insn(op::JNE_K, 5, 0, 0, minor as i32)]);
    }
    let mut out: Vec<Insn> = tests.into_iter().flatten().collect();
    out.push(insn(op::MOV64_K, 0, 0, 0, 1));
    out.push(insn(op::EXIT, 0, 0, 0, 0));
    let len = out.len();
    for (i, ins) in out.iter_mut().enumerate() {
        if ins.code == op::JNE_K || ins.code == op::JNE_X {
            // To the first instruction after the block: offsets count from the next one.
            ins.off = (len - i - 1) as i16;
        }
    }
    out
}

fn access_bits(access: &str) -> i32 {
    access.chars().fold(0, |bits, c| {
        bits | match c {
            'r' => ACC_READ,
            'w' => ACC_WRITE,
            'm' => ACC_MKNOD,
            _ => 0,
        }
    })
}

/// The instructions as the kernel reads them (`struct bpf_insn`, little-endian x86_64).
pub fn encode(program: &[Insn]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(program.len() * 8);
    for i in program {
        bytes.push(i.code);
        bytes.push((i.src << 4) | (i.dst & 0x0f));
        bytes.extend_from_slice(&i.off.to_le_bytes());
        bytes.extend_from_slice(&i.imm.to_le_bytes());
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::device_rules::{DEVICE_ALLOW_LIST, Rule};

    /// Runs `program` as the kernel would on one access: the few opcodes `compile` emits.
    fn run(program: &[Insn], kind: char, access: &str, major: u32, minor: u32) -> u64 {
        let t = if kind == 'b' { DEV_BLOCK } else { DEV_CHAR } as u32;
        let ctx = [((access_bits(access) as u32) << 16) | t, major, minor];
        let mut r = [0u64; 11];
        let mut pc = 0usize;
        loop {
            let i = program[pc];
            let (d, s) = (i.dst as usize, i.src as usize);
            pc += 1;
            match i.code {
                op::LDX_W => {
                    assert_eq!(s, 1, "loads only from the context");
                    r[d] = ctx[i.off as usize / 4] as u64;
                }
                op::AND32_K => r[d] = (r[d] as u32 & i.imm as u32) as u64,
                op::RSH32_K => r[d] = ((r[d] as u32) >> i.imm) as u64,
                op::MOV64_X => r[d] = r[s],
                op::MOV64_K => r[d] = i.imm as i64 as u64,
                op::JNE_K if r[d] != i.imm as u32 as u64 => pc += i.off as usize,
                op::JNE_X if r[d] != r[s] => pc += i.off as usize,
                op::JNE_K | op::JNE_X => {}
                op::EXIT => return r[0],
                other => panic!("unexpected opcode {other:#x}"),
            }
        }
    }

    fn default_program(grants: &[&str]) -> Vec<Insn> {
        let rules: Vec<Rule> = DEVICE_ALLOW_LIST
            .iter()
            .chain(grants)
            .map(|r| Rule::parse(r).unwrap())
            .collect();
        compile(&rules)
    }

    #[test]
    fn the_default_list_allows_its_devices_and_mknod_and_nothing_else() {
        let p = default_program(&[]);
        for (major, minor) in [
            (1, 3),
            (1, 5),
            (1, 7),
            (1, 8),
            (1, 9),
            (5, 0),
            (5, 2),
            (136, 7),
        ] {
            assert_eq!(run(&p, 'c', "rw", major, minor), 1, "c {major}:{minor}");
        }
        assert_eq!(run(&p, 'c', "m", 10, 229), 1, "mknod of anything");
        assert_eq!(run(&p, 'b', "m", 7, 0), 1);
        assert_eq!(run(&p, 'c', "r", 10, 229), 0, "fuse not granted");
        assert_eq!(run(&p, 'b', "r", 7, 0), 0, "a loop device");
        assert_eq!(
            run(&p, 'b', "rw", 1, 3),
            0,
            "a block device with null's numbers"
        );
        assert_eq!(run(&p, 'c', "rw", 137, 0), 0);
    }

    #[test]
    fn a_grant_allows_only_its_access() {
        let p = default_program(&["c 10:200 r", "b 8:16 rw"]);
        assert_eq!(run(&p, 'c', "r", 10, 200), 1);
        assert_eq!(run(&p, 'c', "rw", 10, 200), 0, "write not granted");
        assert_eq!(run(&p, 'c', "w", 10, 200), 0);
        assert_eq!(run(&p, 'b', "rw", 8, 16), 1);
        assert_eq!(run(&p, 'b', "r", 8, 17), 0, "another partition");
    }

    #[test]
    fn instructions_encode_as_struct_bpf_insn() {
        let bytes = encode(&[insn(op::LDX_W, 4, 1, 4, 0), insn(op::JNE_K, 5, 0, 3, 229)]);
        assert_eq!(
            bytes,
            [0x61, 0x14, 4, 0, 0, 0, 0, 0, 0x55, 0x05, 3, 0, 229, 0, 0, 0]
        );
    }
}
