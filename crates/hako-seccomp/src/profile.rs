//! The parser of LXC's seccomp profile language (`lxc.seccomp.profile`, see
//! lxc.container.conf(5), "SECCOMP CONFIGURATION"). Pure: text in, [`Profile`] out. Names
//! are resolved to numbers later, by the compiler, which knows the architectures.

use std::fmt;

/// What the kernel does with a matching system call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// `kill`: the whole process dies (SECCOMP_RET_KILL_PROCESS). LXC's `kill` kills the
    /// calling thread only; a process with one thread gone and the others running is worse
    /// than a dead process, so hako kills the process.
    Kill,
    /// `trap`: SIGSYS to the caller
    Trap,
    /// `errno N`: the call fails with this error number (0..=4095; `errno 0` fakes success)
    Errno(u16),
    /// `trace N`: a ptrace tracer is told (PTRACE_EVENT_SECCOMP with data N); without
    /// one the call fails with ENOSYS
    Trace(u16),
    /// `log`: allowed and logged to the audit log
    Log,
    /// `allow`
    Allow,
}

impl Action {
    /// The SECCOMP_RET_* value a filter returns.
    pub fn ret(self) -> u32 {
        match self {
            Action::Kill => crate::bpf::RET_KILL_PROCESS,
            Action::Trap => crate::bpf::RET_TRAP,
            Action::Errno(e) => crate::bpf::RET_ERRNO | u32::from(e),
            Action::Trace(d) => crate::bpf::RET_TRACE | u32::from(d),
            Action::Log => crate::bpf::RET_LOG,
            Action::Allow => crate::bpf::RET_ALLOW,
        }
    }

    /// Does it let the call run?
    pub fn permits(self) -> bool {
        matches!(self, Action::Allow | Action::Log)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Kill => write!(f, "kill"),
            Action::Trap => write!(f, "trap"),
            Action::Errno(e) => write!(f, "errno {e}"),
            Action::Trace(d) => write!(f, "trace {d}"),
            Action::Log => write!(f, "log"),
            Action::Allow => write!(f, "allow"),
        }
    }
}

/// How an argument is compared (unsigned, 64 bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Ne,
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
    /// `(arg & mask) == value`
    MaskedEq(u64),
}

/// `[index,value,op]` or `[index,value,SCMP_CMP_MASKED_EQ,mask]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArgCond {
    /// 0..=5
    pub index: u8,
    pub op: Op,
    pub value: u64,
}

/// Which architecture a rule is for (the section it stands in).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// `[all]`, or no section yet: every ABI this host runs
    All,
    /// `[x86_64]`
    X86_64,
    /// `[x86]` (LXC's name) or `[i386]`: the 32-bit compat ABI
    I386,
    /// `[x32]`: x32 system calls (see the compiler: hako refuses them all)
    X32,
}

/// The system call a rule names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Syscall {
    Name(String),
    /// version 1: a number of the native ABI
    Number(u32),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// line in the profile (1-based)
    pub line: usize,
    pub target: Target,
    pub syscall: Syscall,
    pub action: Action,
    /// all must hold (at most 6)
    pub conds: Vec<ArgCond>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// unlisted calls get the default action (kill unless the policy line says otherwise)
    Allowlist,
    /// unlisted calls are allowed (unless the policy line says otherwise)
    Denylist,
}

/// A parsed profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Profile {
    /// where it came from (a file path, or a name), for messages
    pub source: String,
    pub version: u8,
    pub policy: Policy,
    /// what an unlisted system call gets
    pub default_action: Action,
    /// in file order; for one system call the first rule whose conditions hold decides
    pub rules: Vec<Rule>,
    /// lines of sections for architectures this host does not run, skipped
    pub skipped: Vec<usize>,
    /// the filter lets i386 (compat) system calls reach its rules (true for every LXC
    /// profile); false: every i386 call kills the process, as for an ABI the profile was
    /// not written for (an OCI profile whose `architectures` leave SCMP_ARCH_X86 out)
    pub compat_i386: bool,
}

/// A parse error: `SOURCE:LINE: what is wrong; how to fix it`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub source: String,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.source, self.line, self.message)
    }
}

impl std::error::Error for ParseError {}

/// MNT_FORCE, the flag `reject_force_umount` refuses
pub const MNT_FORCE: u64 = 1;
/// The error number `reject_force_umount` answers with (EACCES, as LXC).
pub const EACCES: u16 = 13;
/// The largest error number a filter can return (the kernel's MAX_ERRNO).
pub const MAX_ERRNO: u64 = 4095;

const ACTIONS_HINT: &str = "use kill, errno N, trap, trace N, log or allow";

/// Parse a profile. `source` names it in messages (the file path).
pub fn parse(text: &str, source: &str) -> Result<Profile, ParseError> {
    let err = |line: usize, message: String| ParseError {
        source: source.to_string(),
        line,
        message,
    };
    // (line number, text without the comment, trimmed); blank and comment lines dropped
    let mut lines = text
        .split('\n')
        .enumerate()
        .map(|(i, l)| (i + 1, strip_comment(l).trim()))
        .filter(|(_, l)| !l.is_empty());

    let Some((vline, vtext)) = lines.next() else {
        return Err(err(
            1,
            "empty seccomp profile; it starts with a version line (1 or 2) and a policy line \
             (allowlist or denylist), see lxc.container.conf(5)"
                .into(),
        ));
    };
    let version: u8 = match vtext {
        "1" => 1,
        "2" => 2,
        other => {
            return Err(err(
                vline,
                format!(
                    "\"{other}\" is not a profile version; the first line must be 1 or 2 \
                     (2 for denylists, per-architecture sections and argument conditions)"
                ),
            ))
        }
    };
    let Some((pline, ptext)) = lines.next() else {
        return Err(err(
            vline + 1,
            "missing policy line; the line after the version says allowlist or denylist \
             (version 2 may add a default action, e.g. \"allowlist errno 1\")"
                .into(),
        ));
    };
    let mut words = ptext.split_whitespace();
    let policy =
        match words.next().unwrap_or("") {
            "allowlist" | "whitelist" => Policy::Allowlist,
            "denylist" | "blacklist" if version == 2 => Policy::Denylist,
            "denylist" | "blacklist" => return Err(err(
                pline,
                "a version 1 profile can only be an allowlist; write 2 on the first line for a \
                 denylist"
                    .into(),
            )),
            other => {
                return Err(err(
                    pline,
                    format!(
                        "\"{other}\" is not a policy; the second line says allowlist or denylist \
                     (whitelist and blacklist are accepted too)"
                    ),
                ))
            }
        };
    let rest: Vec<&str> = words.collect();
    if rest.contains(&"debug") {
        return Err(err(
            pline,
            "\"debug\" profiles are not supported (LXC does not implement them either); remove \
             the word"
                .into(),
        ));
    }
    let default_action = if rest.is_empty() {
        match policy {
            Policy::Allowlist => Action::Kill,
            Policy::Denylist => Action::Allow,
        }
    } else if version == 1 {
        return Err(err(
            pline,
            format!(
                "a version 1 profile takes no default action (\"{}\"); write 2 on the first line \
                 to give one",
                rest.join(" ")
            ),
        ));
    } else {
        match parse_action(&rest) {
            Ok((a, used)) if used == rest.len() => a,
            Ok((_, used)) => {
                return Err(err(
                    pline,
                    format!(
                        "unexpected \"{}\" after the default action",
                        rest[used..].join(" ")
                    ),
                ))
            }
            Err(m) => return Err(err(pline, format!("bad default action: {m}"))),
        }
    };
    // a rule without an action: LXC's defaults (deny by killing in a denylist)
    let rule_default = match policy {
        Policy::Allowlist => Action::Allow,
        Policy::Denylist => Action::Kill,
    };

    let mut profile = Profile {
        source: source.to_string(),
        version,
        policy,
        default_action,
        rules: Vec::new(),
        skipped: Vec::new(),
        compat_i386: true,
    };

    if version == 1 {
        for (n, l) in lines {
            let nr = l.parse::<u32>().map_err(|_| {
                err(
                    n,
                    format!(
                        "\"{l}\" is not a system call number; a version 1 profile lists one \
                         number of the native ABI per line (write 2 on the first line to use \
                         names)"
                    ),
                )
            })?;
            profile.rules.push(Rule {
                line: n,
                target: Target::X86_64,
                syscall: Syscall::Number(nr),
                action: Action::Allow,
                conds: Vec::new(),
            });
        }
        return Ok(profile);
    }

    // None: a section for an architecture this host does not run
    let mut target = Some(Target::All);
    for (n, l) in lines {
        if let Some(sec) = l.strip_prefix('[') {
            if l.ends_with(']') && !l.contains(',') {
                let arch = sec.trim_end_matches(']').trim();
                target = section(arch).ok_or_else(|| {
                    err(
                        n,
                        format!(
                            "unknown architecture section [{arch}]; use [all], [x86_64], [x86] \
                             (or [i386]), [x32], or one LXC knows for other hosts (arm, arm64, \
                             ppc, ppc64, ppc64le, mips, mips64, mips64n32, mipsel, mipsel64, \
                             mipsel64n32, s390, s390x)"
                        ),
                    )
                })?;
                continue;
            }
        }
        let Some(t) = target else {
            profile.skipped.push(n);
            continue;
        };
        profile
            .rules
            .push(parse_rule(l, rule_default).map_err(|m| err(n, m)).map(
                |(syscall, action, conds)| Rule {
                    line: n,
                    target: t,
                    syscall,
                    action,
                    conds,
                },
            )?);
    }
    Ok(profile)
}

fn strip_comment(l: &str) -> &str {
    let l = l.strip_suffix('\r').unwrap_or(l);
    match l.find('#') {
        Some(i) => &l[..i],
        None => l,
    }
}

/// Some(Some(t)): a section for `t`; Some(None): another architecture (skipped);
/// None: unknown.
fn section(arch: &str) -> Option<Option<Target>> {
    Some(match arch.to_ascii_lowercase().as_str() {
        "all" => Some(Target::All),
        "x86_64" | "amd64" => Some(Target::X86_64),
        "x86" | "i386" | "i686" => Some(Target::I386),
        "x32" => Some(Target::X32),
        "arm" | "arm64" | "aarch64" | "ppc" | "ppc64" | "ppc64le" | "mips" | "mips64"
        | "mips64n32" | "mipsel" | "mipsel64" | "mipsel64n32" | "s390" | "s390x" | "riscv64" => {
            None
        }
        _ => return None,
    })
}

type RuleParts = (Syscall, Action, Vec<ArgCond>);

/// `NAME [ACTION] [COND]...` (the comment already removed).
fn parse_rule(l: &str, rule_default: Action) -> Result<RuleParts, String> {
    let name_end = l
        .find(|c: char| c.is_whitespace() || c == '[')
        .unwrap_or(l.len());
    let name = &l[..name_end];
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(format!(
            "\"{name}\" is not a system call name (lower-case letters, digits and _); a rule is \
             NAME [ACTION] [[INDEX,VALUE,OP]...]"
        ));
    }
    let mut rest = l[name_end..].trim_start();
    if name == "reject_force_umount" {
        if !rest.is_empty() {
            return Err(format!(
                "reject_force_umount takes nothing after it (\"{rest}\"); it always answers \
                 umount2 with MNT_FORCE with EACCES"
            ));
        }
        let cond = ArgCond {
            index: 1,
            op: Op::MaskedEq(MNT_FORCE),
            value: MNT_FORCE,
        };
        return Ok((
            Syscall::Name("umount2".into()),
            Action::Errno(EACCES),
            vec![cond],
        ));
    }
    let mut action = rule_default;
    if !rest.is_empty() && !rest.starts_with('[') {
        let end = rest.find('[').unwrap_or(rest.len());
        let words: Vec<&str> = rest[..end].split_whitespace().collect();
        let (a, used) = parse_action(&words)?;
        if used != words.len() {
            return Err(format!(
                "unexpected \"{}\" after the action {a}; argument conditions are written \
                 [INDEX,VALUE,OP]",
                words[used..].join(" ")
            ));
        }
        action = a;
        rest = rest[end..].trim_start();
    }
    let mut conds = Vec::new();
    while !rest.is_empty() {
        let Some(body) = rest.strip_prefix('[') else {
            return Err(format!(
                "unexpected \"{rest}\"; argument conditions are written [INDEX,VALUE,OP] or \
                 [INDEX,VALUE,SCMP_CMP_MASKED_EQ,MASK]"
            ));
        };
        let Some(close) = body.find(']') else {
            return Err(format!("missing ] in the argument condition \"{rest}\""));
        };
        if conds.len() == 6 {
            return Err(
                "more than 6 argument conditions; a system call has 6 arguments at most".into(),
            );
        }
        conds.push(parse_cond(&body[..close])?);
        rest = body[close + 1..].trim_start();
    }
    Ok((Syscall::Name(name.to_string()), action, conds))
}

/// An action at the start of `words`; returns it and how many words it used.
fn parse_action(words: &[&str]) -> Result<(Action, usize), String> {
    let num = |what: &str, max: u64| -> Result<u64, String> {
        let Some(w) = words.get(1) else {
            return Err(format!(
                "{what} needs a number (e.g. \"{what} 1\"; at most {max})"
            ));
        };
        match parse_u64(w) {
            Some(v) if v <= max => Ok(v),
            _ => Err(format!(
                "\"{w}\" is not a valid {what} number; give 0..={max}"
            )),
        }
    };
    let a = match words.first().copied().unwrap_or("") {
        "kill" => (Action::Kill, 1),
        "trap" => (Action::Trap, 1),
        "allow" => (Action::Allow, 1),
        "log" => (Action::Log, 1),
        "errno" => (Action::Errno(num("errno", MAX_ERRNO)? as u16), 2),
        "trace" => (Action::Trace(num("trace", 0xffff)? as u16), 2),
        "notify" => {
            return Err(
                "the notify action (a supervisor in user space answers the call) is not \
                 supported by hako yet; refuse the call with errno N instead"
                    .into(),
            )
        }
        other => return Err(format!("unknown action \"{other}\"; {ACTIONS_HINT}")),
    };
    Ok(a)
}

/// `INDEX,VALUE,OP` or `INDEX,VALUE,SCMP_CMP_MASKED_EQ,MASK`
fn parse_cond(body: &str) -> Result<ArgCond, String> {
    let f: Vec<&str> = body.split(',').map(str::trim).collect();
    let form = "write [INDEX,VALUE,OP] or [INDEX,VALUE,SCMP_CMP_MASKED_EQ,MASK]";
    if f.len() != 3 && f.len() != 4 {
        return Err(format!(
            "the argument condition [{body}] has {} fields; {form}",
            f.len()
        ));
    }
    let index = match f[0].parse::<u8>() {
        Ok(i) if i < 6 => i,
        _ => {
            return Err(format!(
                "\"{}\" is not an argument index in [{body}]; arguments are numbered 0 to 5",
                f[0]
            ))
        }
    };
    let value = parse_u64(f[1]).ok_or_else(|| {
        format!(
            "\"{}\" is not a number in [{body}]; give a decimal, 0x hexadecimal or 0 octal \
             value (a negative decimal is taken as its 64-bit two's complement)",
            f[1]
        )
    })?;
    let op = match f[2] {
        "SCMP_CMP_NE" | "!=" => Op::Ne,
        "SCMP_CMP_LT" | "<" => Op::Lt,
        "SCMP_CMP_LE" | "<=" => Op::Le,
        "SCMP_CMP_EQ" | "==" => Op::Eq,
        "SCMP_CMP_GE" | ">=" => Op::Ge,
        "SCMP_CMP_GT" | ">" => Op::Gt,
        "SCMP_CMP_MASKED_EQ" | "&=" => {
            let Some(m) = f.get(3) else {
                return Err(format!(
                    "SCMP_CMP_MASKED_EQ in [{body}] needs the mask as a fourth field: \
                     [INDEX,VALUE,SCMP_CMP_MASKED_EQ,MASK] matches (argument & MASK) == VALUE"
                ));
            };
            Op::MaskedEq(parse_u64(m).ok_or_else(|| {
                format!("\"{m}\" is not a number in [{body}]; give the mask as a number")
            })?)
        }
        other => {
            return Err(format!(
                "unknown comparison \"{other}\" in [{body}]; use SCMP_CMP_NE, SCMP_CMP_LT, \
                 SCMP_CMP_LE, SCMP_CMP_EQ, SCMP_CMP_GE, SCMP_CMP_GT, SCMP_CMP_MASKED_EQ (or \
                 !=, <, <=, ==, >=, >, &=)"
            ))
        }
    };
    if f.len() == 4 && !matches!(op, Op::MaskedEq(_)) {
        return Err(format!(
            "only SCMP_CMP_MASKED_EQ takes a fourth field (the mask); remove \"{}\" from [{body}]",
            f[3]
        ));
    }
    Ok(ArgCond { index, op, value })
}

/// Decimal, `0x` hexadecimal, `0` octal (as strtoull with base 0), or a negative decimal
/// as its 64-bit two's complement.
pub fn parse_u64(s: &str) -> Option<u64> {
    if let Some(n) = s.strip_prefix('-') {
        let v: u64 = n.parse().ok()?;
        return (v <= 1 << 63).then(|| v.wrapping_neg());
    }
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        return u64::from_str_radix(h, 16).ok();
    }
    if s.len() > 1 && s.starts_with('0') {
        return u64::from_str_radix(&s[1..], 8).ok();
    }
    if s.starts_with('+') {
        return None;
    }
    s.parse().ok()
}
