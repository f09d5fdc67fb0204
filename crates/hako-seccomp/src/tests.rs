//! Tests: the parser (good profiles, every error with its line), and the compiler, whose
//! programs run in a small classic-BPF interpreter below and are checked against a
//! reference evaluation of the profile; one test installs the built-in filter in a forked
//! child and calls the refused system calls for real, natively and through int 0x80.

use crate::bpf::*;
use crate::profile::{parse_u64, Syscall, MNT_FORCE};
use crate::*;

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

// ---------------------------------------------------------------------------------------
// A reference: what a profile means, evaluated directly

fn reference(p: &Profile, d: &Data) -> u32 {
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
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<T: Copy>(&mut self, v: &[T]) -> T {
        v[self.below(v.len())]
    }
}

const INTERESTING: &[u64] = &[
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

const NAMES: &[&str] = &[
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

fn random_value(r: &mut Rng) -> u64 {
    let base = r.pick(INTERESTING);
    match r.below(4) {
        0 => base.wrapping_add(1),
        1 => base.wrapping_sub(1),
        2 => r.next(),
        _ => base,
    }
}

fn random_profile(r: &mut Rng, rules: usize, max_conds: usize) -> String {
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

fn random_data(r: &mut Rng, p: &Profile) -> Data {
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

// ---------------------------------------------------------------------------------------
// The parser

#[test]
fn parses_a_full_version_2_profile() {
    let text = "2\r\n\
        # a comment line\n\
        denylist errno 1   # default: refuse\n\
        \n\
        reject_force_umount  # as LXC's common profile\n\
        mknod\n\
        kexec_load errno 1\n\
        [x86_64]\n\
        ioctl errno 25 [1,0x5412,SCMP_CMP_EQ] [ 0 , 3 , != ]\n\
        [X86]\n\
        personality trap [0,0xff,SCMP_CMP_MASKED_EQ,0xffff]\n\
        [arm64]\n\
        this_is_skipped\n\
        [all]\n\
        getpid allow\n\
        open log\n\
        ptrace trace 3 [2,-1,SCMP_CMP_LT]\n";
    let p = parse(text, "f").unwrap();
    assert_eq!(p.version, 2);
    assert_eq!(p.policy, Policy::Denylist);
    assert_eq!(p.default_action, Action::Errno(1));
    assert_eq!(p.skipped, vec![13]);
    let r = &p.rules;
    assert_eq!(r.len(), 8, "{r:?}");
    assert_eq!(
        (r[0].line, &r[0].syscall, r[0].action),
        (5, &Syscall::Name("umount2".into()), Action::Errno(13))
    );
    assert_eq!(
        r[0].conds,
        vec![ArgCond {
            index: 1,
            op: Op::MaskedEq(MNT_FORCE),
            value: MNT_FORCE
        }]
    );
    // no action in a denylist: LXC kills
    assert_eq!((r[1].line, r[1].action), (6, Action::Kill));
    assert_eq!(r[2].action, Action::Errno(1));
    assert_eq!(r[3].target, Target::X86_64);
    assert_eq!(r[3].action, Action::Errno(25));
    assert_eq!(
        r[3].conds,
        vec![
            ArgCond {
                index: 1,
                op: Op::Eq,
                value: 0x5412
            },
            ArgCond {
                index: 0,
                op: Op::Ne,
                value: 3
            }
        ]
    );
    assert_eq!(r[4].target, Target::I386);
    assert_eq!(r[4].action, Action::Trap);
    assert_eq!(r[4].conds[0].op, Op::MaskedEq(0xffff));
    assert_eq!(r[4].conds[0].value, 0xff);
    assert_eq!((r[5].target, r[5].action), (Target::All, Action::Allow));
    assert_eq!(r[6].action, Action::Log);
    assert_eq!(r[7].action, Action::Trace(3));
    assert_eq!(r[7].conds[0].value, u64::MAX);
    assert_eq!(r[7].conds[0].op, Op::Lt);
}

#[test]
fn parses_policies_and_defaults() {
    let p = parse("1\nallowlist\n0\n1\n60 # exit\n", "v1").unwrap();
    assert_eq!((p.version, p.policy), (1, Policy::Allowlist));
    assert_eq!(p.default_action, Action::Kill);
    let nrs: Vec<_> = p.rules.iter().map(|r| r.syscall.clone()).collect();
    assert_eq!(
        nrs,
        vec![Syscall::Number(0), Syscall::Number(1), Syscall::Number(60)]
    );
    assert!(p.rules.iter().all(|r| r.action == Action::Allow));
    // old names
    assert_eq!(
        parse("1\nwhitelist\n", "x").unwrap().policy,
        Policy::Allowlist
    );
    let b = parse("2\nblacklist\nmknod\n", "x").unwrap();
    assert_eq!(b.policy, Policy::Denylist);
    assert_eq!(b.default_action, Action::Allow);
    let a = parse("2\nwhitelist\nread\n", "x").unwrap();
    assert_eq!(a.default_action, Action::Kill);
    assert_eq!(a.rules[0].action, Action::Allow);
    let e = parse("2\nallowlist errno 38\nread\n", "x").unwrap();
    assert_eq!(e.default_action, Action::Errno(38));
    let t = parse("2\ndenylist trap\n", "x").unwrap();
    assert_eq!(t.default_action, Action::Trap);
    assert!(t.rules.is_empty());
}

#[test]
fn parses_numbers_as_lxc() {
    assert_eq!(parse_u64("42"), Some(42));
    assert_eq!(parse_u64("0x5412"), Some(0x5412));
    assert_eq!(parse_u64("0X10"), Some(16));
    assert_eq!(parse_u64("010"), Some(8));
    assert_eq!(parse_u64("0"), Some(0));
    assert_eq!(parse_u64("-1"), Some(u64::MAX));
    assert_eq!(parse_u64("-9223372036854775808"), Some(1 << 63));
    assert_eq!(parse_u64("18446744073709551615"), Some(u64::MAX));
    for bad in [
        "",
        "x",
        "0x",
        "09",
        "+1",
        "18446744073709551616",
        "-9223372036854775809",
        "1e3",
    ] {
        assert_eq!(parse_u64(bad), None, "{bad}");
    }
}

/// Each bad profile: (text, line of the error, words the message must contain).
#[test]
fn every_parse_error_names_the_line_and_the_fix() {
    let cases: &[(&str, usize, &[&str])] = &[
        ("", 1, &["empty", "version"]),
        ("# only a comment\n\n", 1, &["empty"]),
        ("3\ndenylist\n", 1, &["\"3\"", "1 or 2"]),
        ("two\ndenylist\n", 1, &["not a profile version"]),
        ("2\n", 2, &["missing policy line"]),
        (
            "2\n# c\nmaybelist\n",
            3,
            &["\"maybelist\"", "allowlist or denylist"],
        ),
        ("1\ndenylist\n", 2, &["version 1", "only be an allowlist"]),
        ("2\ndenylist debug\n", 2, &["debug", "not supported"]),
        (
            "1\nallowlist errno 1\n",
            2,
            &["version 1 profile takes no default"],
        ),
        (
            "2\nallowlist maybe\n",
            2,
            &["bad default action", "unknown action \"maybe\""],
        ),
        ("2\nallowlist errno\n", 2, &["errno needs a number"]),
        ("2\nallowlist errno 1 2\n", 2, &["unexpected \"2\""]),
        (
            "2\ndenylist notify\n",
            2,
            &["notify", "not supported by hako yet"],
        ),
        (
            "1\nallowlist\n0\n1\nread\n",
            5,
            &["\"read\" is not a system call number"],
        ),
        ("1\nallowlist\n-1\n", 3, &["not a system call number"]),
        (
            "2\ndenylist\n[sparc]\n",
            3,
            &["unknown architecture section [sparc]", "[x86_64]"],
        ),
        (
            "2\ndenylist\nMount errno 1\n",
            3,
            &["\"Mount\" is not a system call name"],
        ),
        (
            "2\ndenylist\nmount deny\n",
            3,
            &["unknown action \"deny\"", "errno N"],
        ),
        ("2\ndenylist\nmount errno\n", 3, &["errno needs a number"]),
        (
            "2\ndenylist\nmount errno 4096\n",
            3,
            &["\"4096\"", "0..=4095"],
        ),
        ("2\ndenylist\nmount errno -1\n", 3, &["\"-1\"", "0..=4095"]),
        (
            "2\ndenylist\nmount trace 65536\n",
            3,
            &["trace", "0..=65535"],
        ),
        (
            "2\ndenylist\nmount notify\n",
            3,
            &["notify", "not supported by hako yet", "errno N"],
        ),
        (
            "2\ndenylist\nmount errno 1 extra\n",
            3,
            &["unexpected \"extra\""],
        ),
        (
            "2\ndenylist\nioctl errno 1 [1,2]\n",
            3,
            &["2 fields", "[INDEX,VALUE,OP]"],
        ),
        (
            "2\ndenylist\nioctl errno 1 [1,2,==,4,5]\n",
            3,
            &["5 fields"],
        ),
        (
            "2\ndenylist\nioctl errno 1 [6,2,==]\n",
            3,
            &["\"6\" is not an argument index", "0 to 5"],
        ),
        (
            "2\ndenylist\nioctl errno 1 [a,2,==]\n",
            3,
            &["\"a\" is not an argument index"],
        ),
        (
            "2\ndenylist\nioctl errno 1 [1,zz,==]\n",
            3,
            &["\"zz\" is not a number"],
        ),
        (
            "2\ndenylist\nioctl errno 1 [1,2,SCMP_CMP_FOO]\n",
            3,
            &["unknown comparison \"SCMP_CMP_FOO\"", "SCMP_CMP_MASKED_EQ"],
        ),
        (
            "2\ndenylist\nioctl errno 1 [1,2,SCMP_CMP_MASKED_EQ]\n",
            3,
            &["needs the mask"],
        ),
        (
            "2\ndenylist\nioctl errno 1 [1,2,SCMP_CMP_MASKED_EQ,q]\n",
            3,
            &["\"q\" is not a number"],
        ),
        (
            "2\ndenylist\nioctl errno 1 [1,2,SCMP_CMP_EQ,3]\n",
            3,
            &["only SCMP_CMP_MASKED_EQ takes a fourth field"],
        ),
        (
            "2\ndenylist\nioctl errno 1 [1,2,SCMP_CMP_EQ\n",
            3,
            &["missing ]"],
        ),
        (
            "2\ndenylist\nioctl errno 1 [1,2,==] junk\n",
            3,
            &["unexpected \"junk\""],
        ),
        (
            "2\ndenylist\nioctl errno 1 [0,1,==][1,1,==][2,1,==][3,1,==][4,1,==][5,1,==][0,2,==]\n",
            3,
            &["more than 6"],
        ),
        (
            "2\ndenylist\nreject_force_umount errno 1\n",
            3,
            &["reject_force_umount takes nothing"],
        ),
        (
            "2\ndenylist\n\n\n# c\nread\n[1,2,==]\n",
            7,
            &["\"\" is not a system call name"],
        ),
    ];
    for (text, line, words) in cases {
        let e = parse(text, "/etc/p.seccomp").expect_err(text);
        assert_eq!(e.line, *line, "line of {text:?}: {e}");
        assert_eq!(e.source, "/etc/p.seccomp");
        let shown = e.to_string();
        assert!(
            shown.starts_with(&format!("/etc/p.seccomp:{line}: ")),
            "{shown}"
        );
        for w in *words {
            assert!(shown.contains(w), "{text:?}: {shown:?} lacks {w:?}");
        }
    }
}

#[test]
fn load_file_reads_regular_files_only() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("p.seccomp");
    std::fs::write(&f, "2\ndenylist\nkexec_load errno 1\n").unwrap();
    let p = load_file(&f).unwrap();
    assert_eq!(p.source, f.display().to_string());
    assert_eq!(p.rules.len(), 1);
    // a parse error names the file and line
    std::fs::write(&f, "2\ndenylist\nkexec_load oops\n").unwrap();
    let e = load_file(&f).unwrap_err().to_string();
    assert!(e.starts_with(&format!("{}:3: ", f.display())), "{e}");
    // missing, a directory, a FIFO (must not block), too big, not text
    let e = load_file(&d.path().join("nope")).unwrap_err().to_string();
    assert!(
        e.contains("cannot open seccomp profile") && e.ends_with(": no such file or directory"),
        "{e}"
    );
    let e = load_file(d.path()).unwrap_err().to_string();
    assert!(e.contains("not a regular file"), "{e}");
    let fifo = d.path().join("fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid path string.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let e = load_file(&fifo).unwrap_err().to_string();
    assert!(e.contains("not a regular file"), "{e}");
    let big = d.path().join("big");
    std::fs::write(&big, vec![b'#'; MAX_PROFILE_BYTES as usize + 1]).unwrap();
    let e = load_file(&big).unwrap_err().to_string();
    assert!(e.contains("more than the"), "{e}");
    std::fs::write(&f, b"2\ndenylist\n\xff\xfe\n").unwrap();
    let e = load_file(&f).unwrap_err().to_string();
    assert!(e.contains(":3: not text"), "{e}");
}

// ---------------------------------------------------------------------------------------
// The tables

#[test]
fn syscall_tables_are_sorted_and_right() {
    for t in [tables::X86_64, tables::I386] {
        assert!(t.windows(2).all(|w| w[0].0 < w[1].0), "table not sorted");
    }
    // a few numbers every x86 Linux has had for years
    assert_eq!(nr64("read"), 0);
    assert_eq!(nr64("ioctl"), 16);
    assert_eq!(nr64("getpid"), 39);
    assert_eq!(nr64("keyctl"), 250);
    assert_eq!(nr64("open_by_handle_at"), 304);
    assert_eq!(nr64("fsopen"), 430);
    assert_eq!(nr64("open_tree_attr"), 467);
    assert_eq!(nr32("getpid"), 20);
    assert_eq!(nr32("ioctl"), 54);
    assert_eq!(nr32("keyctl"), 288);
    assert_eq!(nr32("socketcall"), 102);
    assert_eq!(nr32("open_tree_attr"), 467);
    assert_eq!(syscall_number(Arch::I386, "arch_prctl"), Some(384));
    assert_eq!(syscall_number(Arch::X86_64, "socketcall"), None);
    assert_eq!(syscall_number(Arch::I386, "kexec_file_load"), None);
}

// ---------------------------------------------------------------------------------------
// The compiler

#[test]
fn builtin_profile_refuses_what_it_says_on_both_abis() {
    let (p, w) = prog(builtin::PROFILE);
    assert!(w.is_empty(), "the built-in profile warns: {w:?}");
    let eperm = ERRNO(1);
    let enosys = ERRNO(38);
    let cases64: &[(&str, &[u64], u32)] = &[
        ("getpid", &[], RET_ALLOW),
        ("read", &[0, 0, 0], RET_ALLOW),
        ("mount", &[], RET_ALLOW),
        ("seccomp", &[], RET_ALLOW),
        ("mount_setattr", &[], RET_ALLOW),
        ("kexec_load", &[], eperm),
        ("kexec_file_load", &[], eperm),
        ("init_module", &[], eperm),
        ("finit_module", &[], eperm),
        ("delete_module", &[], eperm),
        ("open_by_handle_at", &[], eperm),
        ("keyctl", &[], enosys),
        ("add_key", &[], enosys),
        ("request_key", &[], enosys),
        ("bpf", &[], eperm),
        ("perf_event_open", &[], eperm),
        ("syslog", &[], eperm),
        ("quotactl", &[], eperm),
        ("swapon", &[], eperm),
        ("lookup_dcookie", &[], eperm),
        ("fsopen", &[], enosys),
        ("fsconfig", &[], enosys),
        ("fsmount", &[], enosys),
        ("fspick", &[], enosys),
        ("open_tree", &[], enosys),
        ("open_tree_attr", &[], enosys),
        ("move_mount", &[], enosys),
        // TIOCSTI / TIOCLINUX, also with junk in the high half the kernel ignores
        ("ioctl", &[0, 0x5412], eperm),
        ("ioctl", &[7, 0x1_0000_5412], eperm),
        ("ioctl", &[7, 0xffff_ffff_0000_5412], eperm),
        ("ioctl", &[0, 0x541c], eperm),
        ("ioctl", &[0, 0x5413], RET_ALLOW),
        ("ioctl", &[0, 0x5401], RET_ALLOW),
        ("ioctl", &[0x5412, 0], RET_ALLOW),
        // umount2: MNT_FORCE refused (EACCES), MNT_DETACH allowed
        ("umount2", &[0, 0], RET_ALLOW),
        ("umount2", &[0, 2], RET_ALLOW),
        ("umount2", &[0, 1], ERRNO(13)),
        ("umount2", &[0, 3], ERRNO(13)),
        ("umount2", &[0, 0x1_0000_0001], ERRNO(13)),
    ];
    for (name, args, want) in cases64 {
        let got = run(&p.insns, &data(X64, nr64(name), args));
        assert_eq!(got, *want, "x86_64 {name} {args:x?}: {got:#x}");
    }
    let cases32: &[(&str, &[u64], u32)] = &[
        ("getpid", &[], RET_ALLOW),
        ("socketcall", &[1], RET_ALLOW),
        ("kexec_load", &[], eperm),
        ("init_module", &[], eperm),
        ("finit_module", &[], eperm),
        ("delete_module", &[], eperm),
        ("open_by_handle_at", &[], eperm),
        ("keyctl", &[], enosys),
        ("add_key", &[], enosys),
        ("request_key", &[], enosys),
        ("bpf", &[], eperm),
        ("perf_event_open", &[], eperm),
        ("syslog", &[], eperm),
        ("fsopen", &[], enosys),
        ("move_mount", &[], enosys),
        ("ioctl", &[0, 0x5412], eperm),
        ("ioctl", &[0, 0x1_0000_5412], eperm),
        ("ioctl", &[0, 0x541c], eperm),
        ("ioctl", &[0, 0x5401], RET_ALLOW),
        ("umount2", &[0, 1], ERRNO(13)),
        ("umount2", &[0, 2], RET_ALLOW),
        ("umount", &[0], RET_ALLOW),
    ];
    for (name, args, want) in cases32 {
        let got = run(&p.insns, &data(X86, nr32(name), args));
        assert_eq!(got, *want, "i386 {name} {args:x?}: {got:#x}");
    }
    // i386 keyctl is 288, which is accept4 on x86_64 and must stay allowed there
    assert_eq!(run(&p.insns, &data(X64, 288, &[])), RET_ALLOW);
    assert_eq!(run(&p.insns, &data(X86, nr64("keyctl"), &[])), RET_ALLOW); // 250: i386 fadvise64
                                                                           // x32 numbers: ENOSYS, also for the x32 form of a refused call
    for nr in [0, 39, 250, 304, 512, 0x3fff_ffff, u32::MAX] {
        let got = run(&p.insns, &data(X64, X32_SYSCALL_BIT | nr, &[]));
        assert_eq!(got, enosys, "x32 {nr:#x}");
    }
    // numbers past the table
    assert_eq!(run(&p.insns, &data(X64, 1000, &[])), RET_ALLOW);
    assert_eq!(run(&p.insns, &data(X86, 100_000, &[])), RET_ALLOW);
    // another ABI: kill
    for arch in [0, 0x4000_0028, 0xc000_00b7, X64 + 1, X86 | 0x8000_0000] {
        assert_eq!(run(&p.insns, &data(arch, 39, &[])), RET_KILL_PROCESS);
    }
    // it is small
    assert!(p.insns.len() < 150, "{} instructions", p.insns.len());
}

#[test]
fn allowlists_allow_what_they_list_only() {
    let (p, w) = prog("2\nallowlist errno 1\nread\nwrite\nexit_group\n[x86]\nsocketcall\n");
    assert!(w.is_empty(), "{w:?}");
    let ok = |arch, nr| run(&p.insns, &data(arch, nr, &[]));
    assert_eq!(ok(X64, nr64("read")), RET_ALLOW);
    assert_eq!(ok(X64, nr64("write")), RET_ALLOW);
    assert_eq!(ok(X64, nr64("exit_group")), RET_ALLOW);
    assert_eq!(ok(X64, nr64("getpid")), ERRNO(1));
    assert_eq!(ok(X64, nr64("open")), ERRNO(1));
    assert_eq!(ok(X86, nr32("read")), RET_ALLOW);
    assert_eq!(ok(X86, nr32("socketcall")), RET_ALLOW);
    assert_eq!(ok(X86, nr32("getpid")), ERRNO(1));
    // x32 gets the default action, never the allowance of a listed number
    assert_eq!(ok(X64, X32_SYSCALL_BIT), ERRNO(1));
    assert_eq!(ok(X64, X32_SYSCALL_BIT | 1), ERRNO(1));
    // without a default action: kill
    let (k, _) = prog("2\nallowlist\nread\n");
    assert_eq!(run(&k.insns, &data(X64, 1, &[])), RET_KILL_PROCESS);
    assert_eq!(run(&k.insns, &data(X64, 0, &[])), RET_ALLOW);
}

#[test]
fn version_1_allows_native_numbers_and_kills_the_rest() {
    let (p, w) = prog("1\nallowlist\n0\n1\n60\n231\n");
    assert!(w.is_empty());
    for nr in [0, 1, 60, 231] {
        assert_eq!(run(&p.insns, &data(X64, nr, &[])), RET_ALLOW, "{nr}");
    }
    for nr in [2, 59, 61, 230, 232, 400] {
        assert_eq!(run(&p.insns, &data(X64, nr, &[])), RET_KILL_PROCESS, "{nr}");
    }
    // the numbers are x86_64's: i386 and x32 calls are not listed
    for nr in [0, 1, 60] {
        assert_eq!(run(&p.insns, &data(X86, nr, &[])), RET_KILL_PROCESS);
        assert_eq!(
            run(&p.insns, &data(X64, X32_SYSCALL_BIT | nr, &[])),
            RET_KILL_PROCESS
        );
    }
}

#[test]
fn rules_of_one_call_are_tried_in_order() {
    let (p, _) = prog(
        "2\ndenylist\n\
         ioctl allow [1,0x5401,==]\n\
         ioctl errno 5 [0,3,==]\n\
         ioctl errno 6\n\
         ioctl errno 7\n",
    );
    let io = |a: &[u64]| run(&p.insns, &data(X64, nr64("ioctl"), a));
    assert_eq!(io(&[3, 0x5401]), RET_ALLOW);
    assert_eq!(io(&[3, 0x5402]), ERRNO(5));
    assert_eq!(io(&[4, 0x5402]), ERRNO(6));
    // denylist default for other calls, the rule default (kill) for a bare name
    let (q, _) = prog("2\ndenylist\nmknod\n");
    assert_eq!(
        run(&q.insns, &data(X64, nr64("mknod"), &[])),
        RET_KILL_PROCESS
    );
    assert_eq!(run(&q.insns, &data(X64, nr64("mknodat"), &[])), RET_ALLOW);
}

#[test]
fn sections_pick_the_abi() {
    let (p, w) = prog(
        "2\ndenylist\n[x86_64]\nmount errno 1\n[x86]\numount2 errno 2\n[all]\nchroot errno 3\n\
         [x32]\nread errno 4\nwrite errno 4\n[s390x]\nnot_here errno 5\n",
    );
    let d = |arch, name: &str| {
        let nr = if arch == X64 { nr64(name) } else { nr32(name) };
        run(&p.insns, &data(arch, nr, &[]))
    };
    assert_eq!(d(X64, "mount"), ERRNO(1));
    assert_eq!(d(X86, "mount"), RET_ALLOW);
    assert_eq!(d(X64, "umount2"), RET_ALLOW);
    assert_eq!(d(X86, "umount2"), ERRNO(2));
    assert_eq!(d(X64, "chroot"), ERRNO(3));
    assert_eq!(d(X86, "chroot"), ERRNO(3));
    assert_eq!(d(X64, "read"), RET_ALLOW);
    assert_eq!(run(&p.insns, &data(X64, X32_SYSCALL_BIT, &[])), ERRNO(38));
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(w[0].line, 10);
    assert!(
        w[0].message
            .contains("[x32] rules (2 of them) are not used"),
        "{}",
        w[0]
    );
}

#[test]
fn unknown_names_warn_and_are_skipped() {
    let (p, w) = prog(
        "2\ndenylist\nopen_by_handle_att errno 1\nkexec_load errno 1\n[x86_64]\nsocketcall errno 1\n\
         [x86]\nkexec_file_load errno 1\n",
    );
    let shown: Vec<String> = w.iter().map(|w| w.to_string()).collect();
    assert_eq!(shown.len(), 3, "{shown:?}");
    assert!(
        shown[0].starts_with(
            "test.seccomp:3: unknown system call \"open_by_handle_att\" skipped (it is not denied)"
        ),
        "{shown:?}"
    );
    assert!(
        shown[1].contains(":6: \"socketcall\" does not exist on x86_64"),
        "{shown:?}"
    );
    assert!(
        shown[2].contains(":8: \"kexec_file_load\" does not exist on i386"),
        "{shown:?}"
    );
    assert_eq!(run(&p.insns, &data(X64, nr64("kexec_load"), &[])), ERRNO(1));
    let (_, w) = prog("2\nallowlist\nnosuchcall\n");
    assert!(w[0].message.contains("it is not allowed"), "{w:?}");
}

#[test]
fn argument_conditions_compare_64_bits_natively_and_32_on_i386() {
    let ops = [
        ("==", Op::Eq),
        ("!=", Op::Ne),
        ("<", Op::Lt),
        ("<=", Op::Le),
        (">", Op::Gt),
        (">=", Op::Ge),
    ];
    let mut r = Rng(7);
    for v in INTERESTING
        .iter()
        .chain([0x1_0000_0001, 0x2_ffff_ffff].iter())
    {
        for (sym, _) in ops {
            let text = format!("2\ndenylist\npersonality errno 9 [2,{v:#x},{sym}]\n");
            let profile = parse(&text, "t").unwrap();
            let (p, _) = prog(&text);
            for arch in [X64, X86] {
                let nr = if arch == X64 {
                    nr64("personality")
                } else {
                    nr32("personality")
                };
                let mut args: Vec<u64> = INTERESTING
                    .iter()
                    .flat_map(|x| [*x, x.wrapping_add(1), x.wrapping_sub(1)])
                    .collect();
                args.extend([v.wrapping_add(1), v.wrapping_sub(1), *v, v ^ (1 << 32)]);
                args.extend((0..20).map(|_| r.next()));
                for a in args {
                    let d = data(arch, nr, &[0, 0, a]);
                    assert_eq!(
                        run(&p.insns, &d),
                        reference(&profile, &d),
                        "{sym} {v:#x} on {arch:#x} with {a:#x}"
                    );
                }
            }
        }
    }
    // spot checks of the two widths
    let (p, _) = prog("2\ndenylist\npersonality errno 9 [0,0xffffffff,==]\n");
    let per64 = nr64("personality");
    let per32 = nr32("personality");
    assert_eq!(run(&p.insns, &data(X64, per64, &[0xffff_ffff])), ERRNO(9));
    assert_eq!(run(&p.insns, &data(X64, per64, &[u64::MAX])), RET_ALLOW);
    assert_eq!(run(&p.insns, &data(X86, per32, &[0xffff_ffff])), ERRNO(9));
    // i386: the high half of a value is cut, so -1 is 0xffffffff there
    let (p, _) = prog("2\ndenylist\npersonality errno 9 [0,-1,==]\n");
    assert_eq!(run(&p.insns, &data(X86, per32, &[0xffff_ffff])), ERRNO(9));
    assert_eq!(run(&p.insns, &data(X64, per64, &[0xffff_ffff])), RET_ALLOW);
    assert_eq!(run(&p.insns, &data(X64, per64, &[u64::MAX])), ERRNO(9));
}

#[test]
fn masked_conditions_fold_constants() {
    // bits of the value outside the mask: never true; a zero mask with value 0: always
    let (p, _) = prog(
        "2\ndenylist\nread errno 1 [0,3,SCMP_CMP_MASKED_EQ,1]\nwrite errno 2 [0,0,SCMP_CMP_MASKED_EQ,0]\n\
         close errno 3 [0,0x100000000,SCMP_CMP_MASKED_EQ,0xffffffff00000000]\n",
    );
    for a in [0u64, 1, 3, u64::MAX] {
        assert_eq!(run(&p.insns, &data(X64, nr64("read"), &[a])), RET_ALLOW);
        assert_eq!(run(&p.insns, &data(X64, nr64("write"), &[a])), ERRNO(2));
        assert_eq!(run(&p.insns, &data(X86, nr32("write"), &[a])), ERRNO(2));
    }
    let close = |arch, nr, a| run(&p.insns, &data(arch, nr, &[a]));
    assert_eq!(close(X64, nr64("close"), 0x1_0000_0000), ERRNO(3));
    assert_eq!(close(X64, nr64("close"), 0x1_1234_5678), ERRNO(3));
    assert_eq!(close(X64, nr64("close"), 0x2_0000_0000), RET_ALLOW);
    assert_eq!(close(X64, nr64("close"), 5), RET_ALLOW);
    // on i386 value and mask are cut to their low words: (a & 0) == 0, always true
    assert_eq!(close(X86, nr32("close"), 5), ERRNO(3));
}

#[test]
fn i386_multiplexed_socket_and_ipc_calls_are_covered() {
    let (p, w) = prog("2\ndenylist\nsocket errno 97\nsemop errno 22\nshmget errno 12\n");
    assert!(w.is_empty(), "{w:?}");
    let sc = nr32("socketcall");
    let ipc = nr32("ipc");
    let d = |nr, a: &[u64]| run(&p.insns, &data(X86, nr, a));
    assert_eq!(d(nr32("socket"), &[]), ERRNO(97));
    assert_eq!(d(sc, &[1]), ERRNO(97));
    assert_eq!(d(sc, &[2]), RET_ALLOW);
    assert_eq!(d(sc, &[0x1_0000_0001]), ERRNO(97));
    // ipc's call is the low 16 bits; the high ones carry a version
    assert_eq!(d(ipc, &[1]), ERRNO(22));
    assert_eq!(d(ipc, &[0x1_0001]), ERRNO(22));
    assert_eq!(d(ipc, &[23]), ERRNO(12));
    assert_eq!(d(ipc, &[2]), RET_ALLOW);
    assert_eq!(run(&p.insns, &data(X64, nr64("socket"), &[])), ERRNO(97));
    // with argument conditions: a refusal covers the whole multiplexed call (stricter) ...
    let (p, w) = prog("2\ndenylist\nsocket errno 97 [0,16,==]\n");
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(run(&p.insns, &data(X86, nr32("socket"), &[2])), RET_ALLOW);
    assert_eq!(run(&p.insns, &data(X86, nr32("socket"), &[16])), ERRNO(97));
    assert_eq!(run(&p.insns, &data(X86, sc, &[1])), ERRNO(97));
    // ... and a permission none of it, with a warning
    let (p, w) = prog("2\nallowlist errno 1\nsocket [0,1,==]\nsocketcall [0,3,==]\n");
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].message.contains("through socketcall(2)"), "{w:?}");
    assert_eq!(run(&p.insns, &data(X86, nr32("socket"), &[1])), RET_ALLOW);
    assert_eq!(run(&p.insns, &data(X86, sc, &[1])), ERRNO(1));
    assert_eq!(run(&p.insns, &data(X86, sc, &[3])), RET_ALLOW);
}

#[test]
fn random_profiles_match_the_reference() {
    let mut r = Rng(0x5eed_cafe_f00d_1234);
    for round in 0..300 {
        let n = 1 + r.below(25);
        let text = random_profile(&mut r, n, 3);
        let profile = parse(&text, "rnd").unwrap_or_else(|e| panic!("{e}\n{text}"));
        let (p, _) = compile(&profile).unwrap();
        validate(&p.insns).unwrap_or_else(|e| panic!("round {round}: {e}\n{text}"));
        for _ in 0..300 {
            let d = random_data(&mut r, &profile);
            let (got, want) = (run(&p.insns, &d), reference(&profile, &d));
            assert_eq!(
                got, want,
                "round {round}: {d:x?}: program {got:#x}, reference {want:#x}\n{text}"
            );
        }
    }
}

#[test]
fn long_programs_keep_their_jumps_in_range() {
    // many calls with many conditions: the search's jumps to the chains and the chains'
    // jumps to the shared returns cross far more than 255 instructions
    let mut r = Rng(42);
    let names: Vec<&str> = tables::X86_64
        .iter()
        .map(|(n, _)| *n)
        .filter(|n| syscall_number(Arch::I386, n).is_some())
        .take(80)
        .collect();
    let mut text = String::from("2\ndenylist\n");
    for n in &names {
        text.push_str(&format!(
            "{n} errno {} [0,{:#x},>=] [1,{:#x},!=] [2,{:#x},<]\n{n} errno 2 [3,{:#x},SCMP_CMP_MASKED_EQ,{:#x}]\n",
            1 + r.below(100),
            random_value(&mut r),
            random_value(&mut r),
            random_value(&mut r),
            random_value(&mut r) & 0xff00_ff00_ff00_ff00,
            0xff00_ff00_ff00_ff00u64,
        ));
    }
    let profile = parse(&text, "long").unwrap();
    let (p, w) = compile(&profile).unwrap();
    assert!(w.is_empty(), "{w:?}");
    validate(&p.insns).unwrap();
    assert!(p.insns.len() > 2000, "only {} instructions", p.insns.len());
    let far = p
        .insns
        .iter()
        .filter(|i| i.code == JMP_JA && i.k > 255)
        .count();
    assert!(far > 0, "no long jump was needed: the test does not test");
    for _ in 0..20_000 {
        let d = random_data(&mut r, &profile);
        assert_eq!(run(&p.insns, &d), reference(&profile, &d), "{d:x?}");
    }
    // every call of the profile, on both ABIs, with arguments that meet the first rule
    for n in &names {
        for (arch, nr) in [(X64, nr64(n)), (X86, nr32(n))] {
            let d = data(arch, nr, &[u64::MAX, 7, 0, 0]);
            assert_eq!(run(&p.insns, &d), reference(&profile, &d), "{n}");
        }
    }
}

#[test]
fn too_long_a_program_is_refused() {
    let mut text = String::from("2\ndenylist\n");
    for (n, _) in tables::X86_64.iter().take(300) {
        for v in 0..4 {
            text.push_str(&format!("{n} errno 1 [0,{v},==] [1,{v},>] [2,{v},<=]\n"));
        }
    }
    let profile = parse(&text, "/etc/huge.seccomp").unwrap();
    let e = compile(&profile).unwrap_err().to_string();
    assert!(
        e.contains("/etc/huge.seccomp") && e.contains("more than the kernel's limit of 4096"),
        "{e}"
    );
}

// ---------------------------------------------------------------------------------------
// The kernel runs it

/// A system call through the i386 compat ABI from this 64-bit process (the kernel then
/// reports AUDIT_ARCH_I386 to seccomp). Returns the raw result (-errno on failure).
#[cfg(target_arch = "x86_64")]
fn int80(nr: u32, a: u32, b: u32, c: u32) -> i32 {
    let ret: u64;
    // SAFETY: int 0x80 with scalar arguments; rbx is swapped in and back by hand (LLVM
    // reserves it); the compat entry zeroes r8-r11.
    unsafe {
        std::arch::asm!(
            "xchg {a}, rbx",
            "int 0x80",
            "xchg {a}, rbx",
            a = inout(reg) u64::from(a) => _,
            inlateout("rax") u64::from(nr) => ret,
            in("rcx") u64::from(b),
            in("rdx") u64::from(c),
            out("r8") _, out("r9") _, out("r10") _, out("r11") _,
        );
    }
    ret as u32 as i32
}

#[cfg(target_arch = "x86_64")]
#[test]
fn the_kernel_accepts_the_builtin_filter_and_refuses_with_it() {
    let p = builtin_program().unwrap();
    let bad = Program {
        origin: "bad".into(),
        insns: vec![SockFilter {
            code: JMP_JA,
            jt: 0,
            jf: 0,
            k: 5,
        }],
    };
    // SAFETY: the child only makes raw system calls and _exits (no allocation, no locks).
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        let code = (|| unsafe {
            // no_new_privs lets an unprivileged test install a filter
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                return 2;
            }
            if install(&bad) != Err(libc::EINVAL) {
                return 3;
            }
            if install(&p).is_err() {
                return 4;
            }
            let errno = || *libc::__errno_location();
            if libc::syscall(libc::SYS_getpid) != libc::getpid() as i64 {
                return 5;
            }
            // keyctl with an operation that does not exist: EOPNOTSUPP unfiltered
            if libc::syscall(libc::SYS_keyctl, 9999, 0, 0, 0, 0) != -1 || errno() != 38 {
                return 6;
            }
            let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
            if libc::syscall(libc::SYS_ioctl, null, 0x5412u64, 0) != -1 || errno() != 1 {
                return 7;
            }
            if libc::syscall(libc::SYS_ioctl, null, 0x1_0000_5412u64, 0) != -1 || errno() != 1 {
                return 8;
            }
            // an ordinary ioctl goes through (ENOTTY from /dev/null)
            if libc::syscall(libc::SYS_ioctl, null, 0x5401u64, 0) != -1 || errno() != 25 {
                return 9;
            }
            if libc::syscall(libc::SYS_umount2, c"/nonexistent".as_ptr(), 1) != -1 || errno() != 13
            {
                return 10;
            }
            if libc::syscall(libc::SYS_fsopen, c"proc".as_ptr(), 0) != -1 || errno() != 38 {
                return 11;
            }
            // the compat ABI: getpid 20, keyctl 288, ioctl 54
            if int80(20, 0, 0, 0) != libc::getpid() {
                return 12;
            }
            if int80(288, 9999, 0, 0) != -38 {
                return 13;
            }
            if int80(54, null as u32, 0x5412, 0) != -1 {
                return 14;
            }
            if int80(54, null as u32, 0x5401, 0) != -25 {
                return 15;
            }
            // an x32 number: ENOSYS
            if libc::syscall(0x4000_0000 | 39) != -1 || errno() != 38 {
                return 16;
            }
            0
        })();
        // SAFETY: leaving the forked child.
        unsafe { libc::_exit(code) }
    }
    let mut status = 0;
    // SAFETY: waiting for our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    assert!(
        !libc::WIFSIGNALED(status),
        "the filtered child died of signal {} (SIGSEGV: a kernel without IA32 emulation, which \
         this test needs for int 0x80)",
        libc::WTERMSIG(status)
    );
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "check {} in the filtered child failed (status {status:#x})",
        libc::WEXITSTATUS(status)
    );
}
