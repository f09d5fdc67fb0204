//! A reference: what a profile means, evaluated directly, and random profiles and
//! inputs to hold the compiled programs against it.

use super::*;

pub(super) fn reference(p: &Profile, d: &Data) -> u32 {
    let arch = match d.arch {
        X64 => Arch::X86_64,
        X86 => Arch::I386,
        _ => return RET_KILL_PROCESS,
    };
    if arch == Arch::X86_64 && d.nr & X32_SYSCALL_BIT != 0 {
        return match p.policy {
            Policy::Denylist => ERRNO(38),
            Policy::Allowlist => p.default_action.ret(),
        };
    }
    let holds = |c: &ArgCond| -> bool {
        let (a, v) = match arch {
            Arch::X86_64 => (d.args[c.index as usize], c.value),
            Arch::I386 => (
                d.args[c.index as usize] & 0xffff_ffff,
                c.value & 0xffff_ffff,
            ),
        };
        match c.op {
            Op::Eq => a == v,
            Op::Ne => a != v,
            Op::Lt => a < v,
            Op::Le => a <= v,
            Op::Gt => a > v,
            Op::Ge => a >= v,
            Op::MaskedEq(m) => {
                let m = if arch == Arch::I386 {
                    m & 0xffff_ffff
                } else {
                    m
                };
                a & m == v
            }
        }
    };
    for r in &p.rules {
        let here = matches!(
            (r.target, arch),
            (Target::All, _) | (Target::X86_64, Arch::X86_64) | (Target::I386, Arch::I386)
        );
        if !here {
            continue;
        }
        let name = match &r.syscall {
            Syscall::Number(n) => {
                if arch == Arch::X86_64 && *n == d.nr && r.conds.iter().all(holds) {
                    return r.action.ret();
                }
                continue;
            }
            Syscall::Name(n) => n.as_str(),
        };
        if syscall_number(arch, name) == Some(d.nr) && r.conds.iter().all(holds) {
            return r.action.ret();
        }
        // i386's multiplexers
        if arch == Arch::I386 {
            let mux = match name {
                "socket" => Some(("socketcall", 1, u64::MAX)),
                "connect" => Some(("socketcall", 3, u64::MAX)),
                "sendmsg" => Some(("socketcall", 16, u64::MAX)),
                "semop" => Some(("ipc", 1, 0xffff)),
                "shmget" => Some(("ipc", 23, 0xffff)),
                _ => None,
            };
            if let Some((m, call, mask)) = mux {
                let applies = r.conds.is_empty() || !r.action.permits();
                if applies && d.nr == nr32(m) && (d.args[0] & 0xffff_ffff & mask) == call {
                    return r.action.ret();
                }
            }
        }
    }
    p.default_action.ret()
}

/// A tiny deterministic generator (xorshift64*), so failures reproduce.
pub(super) struct Rng(pub(super) u64);
impl Rng {
    pub(super) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub(super) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub(super) fn pick<T: Copy>(&mut self, v: &[T]) -> T {
        v[self.below(v.len())]
    }
}

pub(super) const INTERESTING: &[u64] = &[
    0,
    1,
    2,
    0x5412,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_fffe,
    0xffff_ffff,
    0x1_0000_0000,
    0x1_0000_5412,
    0xffff_ffff_0000_0000,
    0x8000_0000_0000_0000,
    u64::MAX - 1,
    u64::MAX,
];

pub(super) const NAMES: &[&str] = &[
    "read",
    "write",
    "open",
    "ioctl",
    "socket",
    "connect",
    "sendmsg",
    "semop",
    "shmget",
    "socketcall",
    "ipc",
    "arch_prctl",
    "keyctl",
    "umount2",
    "mount",
    "personality",
    "clone",
    "getpid",
    "nosuchcall",
    "waitpid",
];

pub(super) fn random_value(r: &mut Rng) -> u64 {
    let base = r.pick(INTERESTING);
    match r.below(4) {
        0 => base.wrapping_add(1),
        1 => base.wrapping_sub(1),
        2 => r.next(),
        _ => base,
    }
}

pub(super) fn random_profile(r: &mut Rng, rules: usize, max_conds: usize) -> String {
    let allow = r.below(2) == 0;
    let mut t = String::from("2\n");
    t.push_str(if allow { "allowlist" } else { "denylist" });
    t.push_str(match r.below(4) {
        0 => " errno 1\n",
        1 => " trap\n",
        _ => "\n",
    });
    let actions = [
        "",
        " kill",
        " allow",
        " errno 1",
        " errno 13",
        " trap",
        " log",
        " trace 7",
    ];
    let ops = [
        "==",
        "!=",
        "<",
        "<=",
        ">",
        ">=",
        "SCMP_CMP_EQ",
        "SCMP_CMP_GT",
    ];
    for _ in 0..rules {
        match r.below(12) {
            0 => t.push_str("[x86_64]\n"),
            1 => t.push_str("[x86]\n"),
            2 => t.push_str("[all]\n"),
            _ => {}
        }
        let name = r.pick(NAMES);
        t.push_str(name);
        let action = r.pick(&actions);
        t.push_str(action);
        for _ in 0..r.below(max_conds + 1) {
            let idx = r.below(6);
            let v = random_value(r);
            if r.below(4) == 0 {
                let m = random_value(r);
                t.push_str(&format!(" [{idx},{:#x},SCMP_CMP_MASKED_EQ,{m:#x}]", v & m));
            } else {
                t.push_str(&format!(" [{idx},{v:#x},{}]", r.pick(&ops)));
            }
        }
        t.push('\n');
    }
    t
}

pub(super) fn random_data(r: &mut Rng, p: &Profile) -> Data {
    let arch = match r.below(10) {
        0 => 0x4000_0028, // AUDIT_ARCH_ARM
        1..=4 => X86,
        _ => X64,
    };
    let a = if arch == X86 {
        Arch::I386
    } else {
        Arch::X86_64
    };
    let mut nr = match r.below(6) {
        0 => r.below(500) as u32,
        1 => X32_SYSCALL_BIT | r.below(600) as u32,
        _ => {
            let named: Vec<u32> = p
                .rules
                .iter()
                .filter_map(|x| match &x.syscall {
                    Syscall::Name(n) => syscall_number(a, n),
                    Syscall::Number(n) => Some(*n),
                })
                .chain([nr32("socketcall"), nr32("ipc")])
                .collect();
            r.pick(&named)
        }
    };
    if r.below(8) == 0 {
        nr = nr.wrapping_add(1);
    }
    let mut d = data(arch, nr, &[]);
    for i in 0..6 {
        d.args[i] = random_value(r);
    }
    if r.below(3) == 0 {
        d.args[0] = r.below(25) as u64 | if r.below(2) == 0 { 0x1_0000 } else { 0 };
    }
    d
}
