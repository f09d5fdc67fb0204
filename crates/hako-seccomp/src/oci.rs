//! OCI's seccomp format (config.json's `linux.seccomp`) as a [`Profile`], so the one
//! compiler ([`crate::compile`]) makes its filter too. Plain values in ([`OciFilter`]: the
//! names as config.json writes them), so this crate needs no JSON library; errors name the
//! place below `linux.seccomp` ([`OciError`]).
//!
//! The meaning, where it differs from libseccomp's:
//! - the rules of one system call are tried in config order and the first whose
//!   conditions all hold decides (libseccomp orders them itself);
//! - `SCMP_ACT_KILL` and `SCMP_ACT_KILL_THREAD` kill the whole process, as hako's `kill`
//!   does (a process with one thread gone is worse than a dead one): stricter, never laxer;
//! - x32 system calls are always refused (ENOSYS when the default action lets calls run);
//! - `architectures`: i386 calls reach the rules only when `SCMP_ARCH_X86` is listed, and
//!   are killed otherwise (an empty list means the native ABI alone, as libseccomp); the
//!   other architectures cannot occur on an x86_64 kernel (the filter kills any ABI but
//!   x86_64 and i386);
//! - args naming the same index twice in one rule are alternatives (one rule each, as
//!   runc does), different indices must all hold.
//!
//! Not supported, and an error: `SCMP_ACT_NOTIFY` and `listenerPath` (a supervisor in user
//! space), `flags`.

use std::fmt;

use crate::profile::{Action, ArgCond, Op, Policy, Profile, Rule, Syscall, Target, MAX_ERRNO};

/// `linux.seccomp`, its enumerated values as config.json spells them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OciFilter {
    /// `SCMP_ACT_ERRNO`...
    pub default_action: String,
    pub default_errno_ret: Option<u32>,
    /// `SCMP_ARCH_X86_64`...
    pub architectures: Vec<String>,
    pub flags: Vec<String>,
    pub listener_path: Option<String>,
    pub syscalls: Vec<OciSyscall>,
}

/// `linux.seccomp.syscalls[i]`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OciSyscall {
    pub names: Vec<String>,
    pub action: String,
    pub errno_ret: Option<u32>,
    pub args: Vec<OciArg>,
}

/// `linux.seccomp.syscalls[i].args[j]`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OciArg {
    pub index: u64,
    pub value: u64,
    pub value_two: u64,
    /// `SCMP_CMP_EQ`...
    pub op: String,
}

/// Why an OCI filter cannot be used: the place below `linux.seccomp` (`syscalls[2].action`,
/// or empty for the object itself), the cause and the fix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OciError {
    pub path: String,
    pub message: String,
}

impl fmt::Display for OciError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "linux.seccomp: {}", self.message)
        } else {
            write!(f, "linux.seccomp.{}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for OciError {}

/// EPERM: OCI's errno when `errnoRet`/`defaultErrnoRet` is not given.
const EPERM: u32 = 1;

fn err(path: impl Into<String>, message: impl Into<String>) -> OciError {
    OciError {
        path: path.into(),
        message: message.into(),
    }
}

/// An OCI action and its errno/trace value.
fn action(name: &str, ret: Option<u32>, path: &str, ret_key: &str) -> Result<Action, OciError> {
    let number = |ret: Option<u32>| -> Result<u16, OciError> {
        let n = ret.unwrap_or(EPERM);
        if u64::from(n) > MAX_ERRNO {
            return Err(err(
                ret_key,
                format!("{n} is above {MAX_ERRNO}, the largest error number a filter can return; use an errno(3) number"),
            ));
        }
        Ok(n as u16)
    };
    let a = match name {
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" | "SCMP_ACT_KILL_PROCESS" => Action::Kill,
        "SCMP_ACT_TRAP" => Action::Trap,
        "SCMP_ACT_ERRNO" => return number(ret).map(Action::Errno),
        "SCMP_ACT_TRACE" => return number(ret).map(Action::Trace),
        "SCMP_ACT_ALLOW" => Action::Allow,
        "SCMP_ACT_LOG" => Action::Log,
        "SCMP_ACT_NOTIFY" => {
            return Err(err(
                path,
                "SCMP_ACT_NOTIFY (a supervisor in user space answering system calls) is not supported by hako yet; use SCMP_ACT_ERRNO or another action",
            ))
        }
        other => {
            return Err(err(
                path,
                format!("unknown action \"{other}\"; use SCMP_ACT_KILL, SCMP_ACT_KILL_PROCESS, SCMP_ACT_KILL_THREAD, SCMP_ACT_TRAP, SCMP_ACT_ERRNO, SCMP_ACT_TRACE, SCMP_ACT_ALLOW or SCMP_ACT_LOG"),
            ))
        }
    };
    if ret.is_some() {
        return Err(err(
            ret_key,
            format!(
                "only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take a return value, not {name}; remove it"
            ),
        ));
    }
    Ok(a)
}

fn cond(a: &OciArg, path: &str) -> Result<ArgCond, OciError> {
    if a.index > 5 {
        return Err(err(
            format!("{path}.index"),
            format!(
                "{} is not an argument index; a system call has arguments 0 to 5",
                a.index
            ),
        ));
    }
    let op = match a.op.as_str() {
        "SCMP_CMP_NE" => Op::Ne,
        "SCMP_CMP_LT" => Op::Lt,
        "SCMP_CMP_LE" => Op::Le,
        "SCMP_CMP_EQ" => Op::Eq,
        "SCMP_CMP_GE" => Op::Ge,
        "SCMP_CMP_GT" => Op::Gt,
        // libseccomp's order: the mask first, then the value
        "SCMP_CMP_MASKED_EQ" => {
            return Ok(ArgCond {
                index: a.index as u8,
                op: Op::MaskedEq(a.value),
                value: a.value_two,
            })
        }
        other => {
            return Err(err(
                format!("{path}.op"),
                format!("unknown operator \"{other}\"; use SCMP_CMP_NE, SCMP_CMP_LT, SCMP_CMP_LE, SCMP_CMP_EQ, SCMP_CMP_GE, SCMP_CMP_GT or SCMP_CMP_MASKED_EQ"),
            ))
        }
    };
    if a.value_two != 0 {
        return Err(err(
            format!("{path}.valueTwo"),
            "only SCMP_CMP_MASKED_EQ takes a second value; remove it",
        ));
    }
    Ok(ArgCond {
        index: a.index as u8,
        op,
        value: a.value,
    })
}

/// The profile of an OCI filter. Its rules' `line` is the entry's index in `syscalls`
/// plus one, so a compiler warning at line N is about `syscalls[N-1]`.
pub fn from_oci(f: &OciFilter, source: &str) -> Result<Profile, OciError> {
    if let Some(p) = &f.listener_path {
        return Err(err(
            "listenerPath",
            format!("\"{p}\": seccomp notifications (a supervisor in user space answering system calls) are not supported by hako yet; remove listenerPath and every SCMP_ACT_NOTIFY"),
        ));
    }
    if let Some(flag) = f.flags.first() {
        return Err(err(
            "flags",
            format!("{flag}: hako installs its filters without flags and cannot honour it yet; remove the flags"),
        ));
    }
    let default_action = action(
        &f.default_action,
        f.default_errno_ret,
        "defaultAction",
        "defaultErrnoRet",
    )?;
    let mut rules = Vec::new();
    for (i, s) in f.syscalls.iter().enumerate() {
        let path = format!("syscalls[{i}]");
        let act = action(
            &s.action,
            s.errno_ret,
            &format!("{path}.action"),
            &format!("{path}.errnoRet"),
        )?;
        if s.names.is_empty() {
            return Err(err(
                format!("{path}.names"),
                "no system call named; list at least one name (e.g. \"mount\")",
            ));
        }
        let mut conds = Vec::new();
        for (j, a) in s.args.iter().enumerate() {
            conds.push(cond(a, &format!("{path}.args[{j}]"))?);
        }
        let repeated = conds
            .iter()
            .enumerate()
            .any(|(j, c)| conds[..j].iter().any(|d| d.index == c.index));
        // one index twice: alternatives, a rule each; else one rule, all must hold
        let alternatives: Vec<Vec<ArgCond>> = if repeated {
            conds.iter().map(|c| vec![*c]).collect()
        } else {
            vec![conds]
        };
        for name in &s.names {
            if name.is_empty() {
                return Err(err(
                    format!("{path}.names"),
                    "an empty system call name; remove it",
                ));
            }
            for c in &alternatives {
                rules.push(Rule {
                    line: i + 1,
                    target: Target::All,
                    syscall: Syscall::Name(name.clone()),
                    action: act,
                    conds: c.clone(),
                });
            }
        }
    }
    Ok(Profile {
        source: source.to_string(),
        version: 2,
        policy: if default_action.permits() {
            Policy::Denylist
        } else {
            Policy::Allowlist
        },
        default_action,
        rules,
        skipped: Vec::new(),
        compat_i386: f.architectures.iter().any(|a| a == "SCMP_ARCH_X86"),
    })
}
