//! Classic BPF as seccomp runs it, and a small program builder that places conditional
//! jumps within their 8-bit range.

use serde::{Deserialize, Serialize};

/// One instruction (`struct sock_filter`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SockFilter {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

const _: () = assert!(std::mem::size_of::<SockFilter>() == 8);

pub const LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
pub const ALU_AND_K: u16 = 0x54; // BPF_ALU | BPF_AND | BPF_K
pub const JMP_JA: u16 = 0x05; // BPF_JMP | BPF_JA
pub const JMP_JEQ_K: u16 = 0x15;
pub const JMP_JGT_K: u16 = 0x25;
pub const JMP_JGE_K: u16 = 0x35;
pub const JMP_JSET_K: u16 = 0x45;
pub const RET_K: u16 = 0x06; // BPF_RET | BPF_K

pub const RET_KILL_PROCESS: u32 = 0x8000_0000;
pub const RET_KILL_THREAD: u32 = 0x0000_0000;
pub const RET_TRAP: u32 = 0x0003_0000;
pub const RET_ERRNO: u32 = 0x0005_0000;
pub const RET_USER_NOTIF: u32 = 0x7fc0_0000;
pub const RET_TRACE: u32 = 0x7ff0_0000;
pub const RET_LOG: u32 = 0x7ffc_0000;
pub const RET_ALLOW: u32 = 0x7fff_0000;

/// `struct seccomp_data` offsets: nr (int), arch (u32), instruction_pointer (u64),
/// args[6] (u64, little-endian on x86: low word first).
pub const OFF_NR: u32 = 0;
pub const OFF_ARCH: u32 = 4;
pub const SECCOMP_DATA_LEN: u32 = 64;
pub fn off_arg_lo(i: u8) -> u32 {
    16 + 8 * u32::from(i)
}
pub fn off_arg_hi(i: u8) -> u32 {
    20 + 8 * u32::from(i)
}

/// AUDIT_ARCH_X86_64: EM_X86_64 | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE
pub const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
/// AUDIT_ARCH_I386: EM_386 | __AUDIT_ARCH_LE
pub const AUDIT_ARCH_I386: u32 = 0x4000_0003;
/// The bit x32 system call numbers carry (__X32_SYSCALL_BIT).
pub const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// The kernel's limit on one filter (BPF_MAXINSNS).
pub const MAX_INSNS: usize = 4096;

/// A place in the program under construction: the index of an instruction counted from
/// the END of the program (see [`Builder`]).
pub type Label = usize;

/// Builds a program back to front. Every jump of classic BPF goes forward, so when a jump
/// is emitted its targets exist already and their distance is known: a target more than
/// 255 instructions away (the 8-bit jt/jf range) gets a trampoline next to the jump — a
/// copy of the target when that is a `ret`, else an unconditional `ja` (32-bit offset).
/// A statement falls through to the instruction emitted just before it.
#[derive(Default)]
pub struct Builder {
    /// the program, last instruction first
    rev: Vec<SockFilter>,
    /// where a `ret` of a value was emitted last (reused while it is near)
    rets: Vec<(u32, Label)>,
}

impl Builder {
    pub fn new() -> Builder {
        Builder::default()
    }

    /// The label the next emitted instruction gets.
    fn next(&self) -> Label {
        self.rev.len()
    }

    fn push(&mut self, i: SockFilter) -> Label {
        self.rev.push(i);
        self.rev.len() - 1
    }

    /// `ret K`, shared with an earlier one when that is close enough to be jumped to.
    pub fn ret(&mut self, k: u32) -> Label {
        if let Some(&(_, l)) = self.rets.iter().find(|(v, _)| *v == k) {
            if self.next() - l <= 128 {
                return l;
            }
        }
        self.new_ret(k)
    }

    fn new_ret(&mut self, k: u32) -> Label {
        let l = self.push(SockFilter {
            code: RET_K,
            jt: 0,
            jf: 0,
            k,
        });
        self.rets.retain(|(v, _)| *v != k);
        self.rets.push((k, l));
        l
    }

    /// Make `target` the fall-through successor of the next instruction.
    pub fn goto(&mut self, target: Label) -> Label {
        if self.next() > 0 && target == self.next() - 1 {
            return target;
        }
        self.far(target)
    }

    /// A trampoline to `target` right here.
    fn far(&mut self, target: Label) -> Label {
        let t = self.rev[target];
        if t.code == RET_K {
            return self.new_ret(t.k);
        }
        let off = (self.next() - target - 1) as u32;
        self.push(SockFilter {
            code: JMP_JA,
            jt: 0,
            jf: 0,
            k: off,
        })
    }

    /// A statement (load, ALU) that continues at `then`.
    pub fn stmt(&mut self, code: u16, k: u32, then: Label) -> Label {
        self.goto(then);
        self.push(SockFilter {
            code,
            jt: 0,
            jf: 0,
            k,
        })
    }

    /// `if (A op K) goto jt else goto jf`
    pub fn jump(&mut self, code: u16, k: u32, mut jt: Label, mut jf: Label) -> Label {
        loop {
            let me = self.next();
            let dt = me - jt - 1;
            let df = me - jf - 1;
            if dt <= 255 && df <= 255 {
                return self.push(SockFilter {
                    code,
                    jt: dt as u8,
                    jf: df as u8,
                    k,
                });
            }
            if dt > 255 {
                jt = self.far(jt);
            } else {
                jf = self.far(jf);
            }
        }
    }

    /// The program, first instruction first.
    pub fn finish(self) -> Vec<SockFilter> {
        let mut v = self.rev;
        v.reverse();
        v
    }
}
