//! Tests: the parser (good profiles, every error with its line), and the compiler, whose
//! programs run in a small classic-BPF interpreter below and are checked against a
//! reference evaluation of the profile; one test installs the built-in filter in a forked
//! child and calls the refused system calls for real, natively and through int 0x80.

use crate::bpf::*;
use crate::profile::{parse_u64, Syscall, MNT_FORCE};
use crate::*;

mod compile;
mod kernel;
mod oci;
mod parse;
mod reference;

use reference::*;

// ---------------------------------------------------------------------------------------
// A classic BPF interpreter and checker, as the kernel runs seccomp filters

#[derive(Clone, Copy, Debug, Default)]
struct Data {
    nr: u32,
    arch: u32,
    ip: u64,
    args: [u64; 6],
}

impl Data {
    fn bytes(&self) -> [u8; 64] {
        let mut b = [0u8; 64];
        b[0..4].copy_from_slice(&self.nr.to_le_bytes());
        b[4..8].copy_from_slice(&self.arch.to_le_bytes());
        b[8..16].copy_from_slice(&self.ip.to_le_bytes());
        for (i, a) in self.args.iter().enumerate() {
            b[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_le_bytes());
        }
        b
    }
}

/// What the kernel's checker (bpf_check_classic + seccomp_check_filter) demands of the
/// instructions hako emits.
fn validate(p: &[SockFilter]) -> Result<(), String> {
    if p.is_empty() || p.len() > MAX_INSNS {
        return Err(format!("length {}", p.len()));
    }
    for (pc, i) in p.iter().enumerate() {
        let in_range = |off: usize| pc + 1 + off < p.len();
        match i.code {
            LD_W_ABS => {
                if i.k >= SECCOMP_DATA_LEN || i.k % 4 != 0 {
                    return Err(format!("{pc}: load at {}", i.k));
                }
            }
            ALU_AND_K | RET_K => {}
            JMP_JA => {
                if !in_range(i.k as usize) {
                    return Err(format!("{pc}: ja {} out of the program", i.k));
                }
            }
            JMP_JEQ_K | JMP_JGT_K | JMP_JGE_K | JMP_JSET_K => {
                if !in_range(i.jt as usize) || !in_range(i.jf as usize) {
                    return Err(format!("{pc}: jump out of the program"));
                }
            }
            c => return Err(format!("{pc}: opcode {c:#x}")),
        }
    }
    if p.last().unwrap().code != RET_K {
        return Err("the last instruction is not a ret".into());
    }
    Ok(())
}

/// Run a program on one seccomp_data; returns the SECCOMP_RET_* value.
fn run(p: &[SockFilter], d: &Data) -> u32 {
    let data = d.bytes();
    let mut a: u32 = 0;
    let mut pc = 0usize;
    for _ in 0..=p.len() {
        let i = p[pc];
        let j = |c: bool| pc + 1 + if c { i.jt as usize } else { i.jf as usize };
        pc = match i.code {
            LD_W_ABS => {
                let k = i.k as usize;
                a = u32::from_le_bytes(data[k..k + 4].try_into().unwrap());
                pc + 1
            }
            ALU_AND_K => {
                a &= i.k;
                pc + 1
            }
            JMP_JA => pc + 1 + i.k as usize,
            JMP_JEQ_K => j(a == i.k),
            JMP_JGT_K => j(a > i.k),
            JMP_JGE_K => j(a >= i.k),
            JMP_JSET_K => j(a & i.k != 0),
            RET_K => return i.k,
            c => panic!("opcode {c:#x}"),
        };
    }
    panic!("the program loops (impossible in classic BPF)");
}

fn data(arch: u32, nr: u32, args: &[u64]) -> Data {
    let mut d = Data {
        nr,
        arch,
        ..Default::default()
    };
    d.args[..args.len()].copy_from_slice(args);
    d
}

fn nr64(name: &str) -> u32 {
    syscall_number(Arch::X86_64, name).unwrap_or_else(|| panic!("no x86_64 {name}"))
}
fn nr32(name: &str) -> u32 {
    syscall_number(Arch::I386, name).unwrap_or_else(|| panic!("no i386 {name}"))
}

fn prog(text: &str) -> (Program, Vec<Warning>) {
    let p = parse(text, "test.seccomp").unwrap_or_else(|e| panic!("{e}"));
    let (prog, w) = compile(&p).unwrap_or_else(|e| panic!("{e}"));
    validate(&prog.insns).unwrap_or_else(|e| panic!("invalid program: {e}"));
    (prog, w)
}

const ERRNO: fn(u32) -> u32 = |e| RET_ERRNO | e;
const X64: u32 = AUDIT_ARCH_X86_64;
const X86: u32 = AUDIT_ARCH_I386;
