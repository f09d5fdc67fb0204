//! From a [`Profile`] to one classic BPF program for seccomp, covering the native x86_64
//! ABI and the i386 compat ABI:
//!
//! ```text
//!   A = arch
//!   x86_64 → A = nr; binary search over ranges of numbers → ret, or the rules of one call
//!   i386   → A = nr; its own search, its own numbers
//!   else   → kill the process (an ABI the profile was not written for)
//! ```
//!
//! Numbers with the x32 bit (0x40000000) are one more range of the x86_64 search: a
//! denylist answers them ENOSYS (what a kernel without x32 says), an allowlist its default
//! action; no x32 call ever gets past a rule it should have met. The rules of one call are
//! tried in profile order, and the first whose conditions all hold returns its action; none
//! holding, the default action. An argument is compared as 64 bits on x86_64 (high word,
//! then low word), and as its low word on i386, where arguments are 32 bits (the value and
//! the mask of a condition are cut to 32 bits there too, so `-1` means 0xffffffff).
//!
//! On i386 the socket calls and the System V IPC calls also exist multiplexed, as
//! `socketcall(CALL, args)` and `ipc(CALL, ...)`: a rule for `socket` then covers
//! `socketcall` with CALL = SYS_SOCKET too (as libseccomp does), or it could be bypassed.

use std::collections::BTreeMap;
use std::fmt;

use crate::bpf::{self, Builder, Label, SockFilter};
use crate::profile::{Action, ArgCond, Op, Policy, Profile, Rule, Syscall, Target};
use crate::tables;

/// ENOSYS: what x32 calls get from a denylist
const ENOSYS: u16 = 38;

/// Something the compiler noticed but that does not stop the profile (LXC logs these and
/// goes on): `SOURCE:LINE: message`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    pub source: String,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.source, self.line, self.message)
    }
}

/// A profile that cannot become a program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompileError(pub String);

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CompileError {}

/// A compiled filter, ready for [`crate::install`].
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Program {
    /// where the profile came from (for messages)
    pub origin: String,
    pub insns: Vec<SockFilter>,
}

/// The ABIs a filter covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    X86_64,
    I386,
}

impl Arch {
    fn table(self) -> &'static [(&'static str, u32)] {
        match self {
            Arch::X86_64 => tables::X86_64,
            Arch::I386 => tables::I386,
        }
    }
}

/// The number of a system call on an ABI.
pub fn syscall_number(arch: Arch, name: &str) -> Option<u32> {
    let t = arch.table();
    t.binary_search_by(|(n, _)| (*n).cmp(name))
        .ok()
        .map(|i| t[i].1)
}

/// Calls that i386 also reaches through socketcall(2): name and SYS_* call number
/// (include/uapi/linux/net.h).
const SOCKETCALLS: &[(&str, u32)] = &[
    ("socket", 1),
    ("bind", 2),
    ("connect", 3),
    ("listen", 4),
    ("accept", 5),
    ("getsockname", 6),
    ("getpeername", 7),
    ("socketpair", 8),
    ("send", 9),
    ("recv", 10),
    ("sendto", 11),
    ("recvfrom", 12),
    ("shutdown", 13),
    ("setsockopt", 14),
    ("getsockopt", 15),
    ("sendmsg", 16),
    ("recvmsg", 17),
    ("accept4", 18),
    ("recvmmsg", 19),
    ("sendmmsg", 20),
];

/// Calls that i386 also reaches through ipc(2) (include/uapi/linux/ipc.h); the kernel
/// reads the call from the low 16 bits of the first argument.
const IPCCALLS: &[(&str, u32)] = &[
    ("semop", 1),
    ("semget", 2),
    ("semctl", 3),
    ("semtimedop", 4),
    ("msgsnd", 11),
    ("msgrcv", 12),
    ("msgget", 13),
    ("msgctl", 14),
    ("shmat", 21),
    ("shmdt", 22),
    ("shmget", 23),
    ("shmctl", 24),
];

/// One rule as it applies to one system call number of one ABI.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    conds: Vec<ArgCond>,
    action: Action,
}

/// What a number leads to.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Outcome {
    Ret(u32),
    /// the rules of this number (then the default)
    Rules(u32),
}

/// The resolved rules of one ABI.
struct AbiPlan {
    arch: Arch,
    entries: BTreeMap<u32, Vec<Entry>>,
    /// sorted, the first starts at 0; each range runs to the next start
    ranges: Vec<(u32, Outcome)>,
}

/// Compile a profile. Unknown names and other things LXC skips become warnings.
pub fn compile(p: &Profile) -> Result<(Program, Vec<Warning>), CompileError> {
    if !cfg!(target_arch = "x86_64") {
        return Err(CompileError(format!(
            "seccomp profile {}: hako's seccomp compiler knows the x86_64 ABIs only; on this \
             host set lxc.seccomp.profile = unconfined",
            p.source
        )));
    }
    let mut warnings = Vec::new();
    let mut warn = |line: usize, message: String| {
        warnings.push(Warning {
            source: p.source.clone(),
            line,
            message,
        })
    };
    let mut x64: BTreeMap<u32, Vec<Entry>> = BTreeMap::new();
    let mut x86: BTreeMap<u32, Vec<Entry>> = BTreeMap::new();
    let unknown_means = match p.policy {
        Policy::Denylist => "it is not denied",
        Policy::Allowlist => "it is not allowed",
    };
    let mut x32_lines = Vec::new();
    for r in &p.rules {
        let entry = Entry {
            conds: r.conds.clone(),
            action: r.action,
        };
        let name = match &r.syscall {
            Syscall::Number(nr) => {
                x64.entry(*nr).or_default().push(entry);
                continue;
            }
            Syscall::Name(n) => n.as_str(),
        };
        let (on64, on32) = match r.target {
            Target::All => (true, true),
            Target::X86_64 => (true, false),
            Target::I386 => (false, true),
            Target::X32 => {
                x32_lines.push(r.line);
                continue;
            }
        };
        let n64 = syscall_number(Arch::X86_64, name).filter(|_| on64);
        let n32 = syscall_number(Arch::I386, name).filter(|_| on32);
        let mux32 = if on32 { multiplexed(r, name) } else { None };
        if let Some(nr) = n64 {
            x64.entry(nr).or_default().push(entry.clone());
        }
        if let Some(nr) = n32 {
            x86.entry(nr).or_default().push(entry.clone());
        }
        let has_mux = mux32.is_some();
        match mux32 {
            Some(Ok((nr, e))) => x86.entry(nr).or_default().push(e),
            Some(Err(m)) => warn(r.line, m),
            None => {}
        }
        if n64.is_none() && n32.is_none() && !has_mux {
            let known = syscall_number(Arch::X86_64, name).is_some()
                || syscall_number(Arch::I386, name).is_some();
            let m = match (known, r.target) {
                (false, _) => format!(
                    "unknown system call \"{name}\" skipped ({unknown_means}); check the spelling \
                     (names as in the kernel's unistd.h, e.g. open_by_handle_at)"
                ),
                (true, Target::X86_64) => {
                    format!("\"{name}\" does not exist on x86_64; skipped ({unknown_means} there)")
                }
                _ => format!("\"{name}\" does not exist on i386; skipped ({unknown_means} there)"),
            };
            warn(r.line, m);
        }
    }
    if let Some(first) = x32_lines.first() {
        warn(
            *first,
            format!(
                "the [x32] rules ({} of them) are not used: hako's filter refuses every x32 \
                 system call ({})",
                x32_lines.len(),
                match p.policy {
                    Policy::Denylist => "ENOSYS, as a kernel without x32".to_string(),
                    Policy::Allowlist => format!("with the default action, {}", p.default_action),
                }
            ),
        );
    }
    let x32_action = match p.policy {
        Policy::Denylist => Action::Errno(ENOSYS),
        Policy::Allowlist => p.default_action,
    };
    let plans = [
        plan(Arch::X86_64, x64, p.default_action, Some(x32_action)),
        plan(Arch::I386, x86, p.default_action, None),
    ];
    let insns = generate(&plans, p.default_action, p.compat_i386);
    if insns.len() > bpf::MAX_INSNS {
        return Err(CompileError(format!(
            "seccomp profile {}: the filter has {} instructions, more than the kernel's limit \
             of {}; use fewer argument conditions or split the rules",
            p.source,
            insns.len(),
            bpf::MAX_INSNS
        )));
    }
    Ok((
        Program {
            origin: p.source.clone(),
            insns,
        },
        warnings,
    ))
}

/// The socketcall/ipc form of a rule on i386: Ok((number, entry)), or Err(warning) when
/// its argument conditions cannot be applied there.
fn multiplexed(r: &Rule, name: &str) -> Option<Result<(u32, Entry), String>> {
    let (mux, call, mask) = if let Some((_, c)) = SOCKETCALLS.iter().find(|(n, _)| *n == name) {
        ("socketcall", *c, None)
    } else if let Some((_, c)) = IPCCALLS.iter().find(|(n, _)| *n == name) {
        ("ipc", *c, Some(0xffff))
    } else {
        return None;
    };
    let nr = syscall_number(Arch::I386, mux)?;
    let call_cond = ArgCond {
        index: 0,
        op: match mask {
            Some(m) => Op::MaskedEq(m),
            None => Op::Eq,
        },
        value: u64::from(call),
    };
    if r.conds.is_empty() {
        return Some(Ok((
            nr,
            Entry {
                conds: vec![call_cond],
                action: r.action,
            },
        )));
    }
    // The arguments of the multiplexed form are in memory, out of a filter's reach: a
    // refusal covers the whole call there (stricter), a permission none of it.
    if r.action.permits() {
        return Some(Err(format!(
            "on i386 \"{name}\" is also reached through {mux}(2), whose arguments a filter \
             cannot see: that form stays forbidden for this rule"
        )));
    }
    Some(Ok((
        nr,
        Entry {
            conds: vec![call_cond],
            action: r.action,
        },
    )))
}

fn plan(
    arch: Arch,
    entries: BTreeMap<u32, Vec<Entry>>,
    default: Action,
    x32: Option<Action>,
) -> AbiPlan {
    let dflt = Outcome::Ret(default.ret());
    let mut by_start: BTreeMap<u32, Outcome> = BTreeMap::new();
    by_start.insert(0, dflt.clone());
    // ascending: the range a number opens is closed by the next number's (or the default)
    for (nr, es) in &entries {
        if x32.is_some() && *nr >= bpf::X32_SYSCALL_BIT {
            // a version 1 number in the x32 range: that range's answer stands
            continue;
        }
        let o = match es.first() {
            // a first rule without conditions decides alone
            Some(e) if e.conds.is_empty() => Outcome::Ret(e.action.ret()),
            _ => Outcome::Rules(*nr),
        };
        by_start.insert(*nr, o);
        if let Some(next) = nr.checked_add(1) {
            by_start.entry(next).or_insert_with(|| dflt.clone());
        }
    }
    if let Some(a) = x32 {
        by_start.insert(bpf::X32_SYSCALL_BIT, Outcome::Ret(a.ret()));
    }
    let mut ranges: Vec<(u32, Outcome)> = Vec::new();
    for (s, o) in by_start {
        if ranges.last().map(|(_, last)| *last != o).unwrap_or(true) {
            ranges.push((s, o));
        }
    }
    AbiPlan {
        arch,
        entries,
        ranges,
    }
}

fn generate(plans: &[AbiPlan; 2], default: Action, compat_i386: bool) -> Vec<SockFilter> {
    let mut b = Builder::new();
    // back to front: the i386 part, the x86_64 part, then the arch check that leads there
    let mut entry = [0; 2];
    for (i, p) in plans.iter().enumerate().rev() {
        if i == 1 && !compat_i386 {
            continue;
        }
        entry[i] = abi_block(&mut b, p, default);
    }
    let kill = b.ret(bpf::RET_KILL_PROCESS);
    if !compat_i386 {
        entry[1] = kill;
    }
    let is32 = b.jump(bpf::JMP_JEQ_K, bpf::AUDIT_ARCH_I386, entry[1], kill);
    let is64 = b.jump(bpf::JMP_JEQ_K, bpf::AUDIT_ARCH_X86_64, entry[0], is32);
    b.stmt(bpf::LD_W_ABS, bpf::OFF_ARCH, is64);
    b.finish()
}

/// The part for one ABI: `A = nr`, the search, the rule chains. Returns its entry.
fn abi_block(b: &mut Builder, p: &AbiPlan, default: Action) -> Label {
    let wide = p.arch == Arch::X86_64;
    // the chains of calls whose outcome depends on their arguments
    let mut chains: BTreeMap<u32, Label> = BTreeMap::new();
    for (nr, es) in p.entries.iter().rev() {
        if !p.ranges.iter().any(|(_, o)| *o == Outcome::Rules(*nr)) {
            continue;
        }
        let mut next = b.ret(default.ret());
        for e in es.iter().rev() {
            let hit = b.ret(e.action.ret());
            if e.conds.is_empty() {
                // later rules of this call are never reached
                next = hit;
                continue;
            }
            let mut l = hit;
            for c in e.conds.iter().rev() {
                l = cond(b, c, wide, l, next);
            }
            next = l;
        }
        chains.insert(*nr, next);
    }
    let root = tree(b, &p.ranges, &chains);
    b.stmt(bpf::LD_W_ABS, bpf::OFF_NR, root)
}

/// A binary search over `ranges` (A holds the number).
fn tree(b: &mut Builder, ranges: &[(u32, Outcome)], chains: &BTreeMap<u32, Label>) -> Label {
    if ranges.len() == 1 {
        return match &ranges[0].1 {
            Outcome::Ret(k) => b.ret(*k),
            Outcome::Rules(nr) => chains[nr],
        };
    }
    let mid = ranges.len() / 2;
    let hi = tree(b, &ranges[mid..], chains);
    let lo = tree(b, &ranges[..mid], chains);
    b.jump(bpf::JMP_JGE_K, ranges[mid].0, hi, lo)
}

/// Test one argument condition: continue at `t` when it holds, at `f` when not.
fn cond(b: &mut Builder, c: &ArgCond, wide: bool, t: Label, f: Label) -> Label {
    let lo_off = bpf::off_arg_lo(c.index);
    let hi_off = bpf::off_arg_hi(c.index);
    let (vhi, vlo) = ((c.value >> 32) as u32, c.value as u32);
    if !wide {
        return match c.op {
            Op::Eq => word(b, lo_off, None, bpf::JMP_JEQ_K, vlo, t, f),
            Op::Ne => word(b, lo_off, None, bpf::JMP_JEQ_K, vlo, f, t),
            Op::Gt => word(b, lo_off, None, bpf::JMP_JGT_K, vlo, t, f),
            Op::Ge => word(b, lo_off, None, bpf::JMP_JGE_K, vlo, t, f),
            Op::Lt => word(b, lo_off, None, bpf::JMP_JGE_K, vlo, f, t),
            Op::Le => word(b, lo_off, None, bpf::JMP_JGT_K, vlo, f, t),
            Op::MaskedEq(m) => masked_word(b, lo_off, m as u32, vlo, t, f),
        };
    }
    match c.op {
        Op::Eq => eq64(b, lo_off, hi_off, vhi, vlo, t, f),
        Op::Ne => eq64(b, lo_off, hi_off, vhi, vlo, f, t),
        Op::Gt => gt64(b, lo_off, hi_off, vhi, vlo, false, t, f),
        Op::Ge => gt64(b, lo_off, hi_off, vhi, vlo, true, t, f),
        Op::Lt => gt64(b, lo_off, hi_off, vhi, vlo, true, f, t),
        Op::Le => gt64(b, lo_off, hi_off, vhi, vlo, false, f, t),
        Op::MaskedEq(m) => {
            let lo = masked_word(b, lo_off, m as u32, vlo, t, f);
            if lo == f {
                return f;
            }
            masked_word(b, hi_off, (m >> 32) as u32, vhi, lo, f)
        }
    }
}

/// `A = word at off; [A &= mask;] if (A op k) t else f`
#[allow(clippy::too_many_arguments)]
fn word(
    b: &mut Builder,
    off: u32,
    mask: Option<u32>,
    op: u16,
    k: u32,
    t: Label,
    f: Label,
) -> Label {
    let j = b.jump(op, k, t, f);
    let j = match mask {
        Some(m) => b.stmt(bpf::ALU_AND_K, m, j),
        None => j,
    };
    b.stmt(bpf::LD_W_ABS, off, j)
}

/// `(word & m) == v`, with the constant cases folded (a zero mask, bits of v outside m).
fn masked_word(b: &mut Builder, off: u32, m: u32, v: u32, t: Label, f: Label) -> Label {
    if v & !m != 0 {
        return f;
    }
    if m == 0 {
        return t;
    }
    let mask = (m != u32::MAX).then_some(m);
    word(b, off, mask, bpf::JMP_JEQ_K, v, t, f)
}

#[allow(clippy::too_many_arguments)]
fn eq64(
    b: &mut Builder,
    lo_off: u32,
    hi_off: u32,
    vhi: u32,
    vlo: u32,
    t: Label,
    f: Label,
) -> Label {
    let lo = word(b, lo_off, None, bpf::JMP_JEQ_K, vlo, t, f);
    word(b, hi_off, None, bpf::JMP_JEQ_K, vhi, lo, f)
}

/// arg > v (or arg >= v with `or_equal`), unsigned 64 bits.
#[allow(clippy::too_many_arguments)]
fn gt64(
    b: &mut Builder,
    lo_off: u32,
    hi_off: u32,
    vhi: u32,
    vlo: u32,
    or_equal: bool,
    t: Label,
    f: Label,
) -> Label {
    let lo_op = if or_equal {
        bpf::JMP_JGE_K
    } else {
        bpf::JMP_JGT_K
    };
    let lo = word(b, lo_off, None, lo_op, vlo, t, f);
    // high word above v's: true; equal: the low word decides; below: false
    let eq = b.jump(bpf::JMP_JEQ_K, vhi, lo, f);
    let gt = b.jump(bpf::JMP_JGT_K, vhi, t, eq);
    b.stmt(bpf::LD_W_ABS, hi_off, gt)
}
