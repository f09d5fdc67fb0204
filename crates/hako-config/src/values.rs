//! Typed parsers for config values, shared by the loader (validation with file:line errors)
//! and the runtime (which turns the values into syscalls).
//!
//! Every parser returns a [`ValueError`] whose text is the *reason* part of an error
//! message: what is wrong and how to write it instead. The loader wraps it as
//! `FILE:LINE: bad value "V" for "KEY": REASON`.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::util::{closest, shorten};

// The network values (`lxc.net.N.*`) have a module of their own; their parsers stay
// reachable here too.
pub use crate::net::{
    parse_hwaddr, parse_ipv4_cidr, parse_ipv4_gateway, parse_ipv6_cidr, parse_ipv6_gateway,
    parse_mtu, parse_net_type, validate_ifname, validate_net_type, Gateway, HwAddr, Ipv4Cidr,
    Ipv6Cidr, NetType, NET_TYPES,
};

/// Why a value was rejected; `Display` is one line naming the problem and the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueError(String);

impl ValueError {
    pub fn new(reason: impl Into<String>) -> Self {
        ValueError(reason.into())
    }
    pub fn reason(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ValueError {}

pub type Result<T> = std::result::Result<T, ValueError>;

fn err<T>(reason: impl Into<String>) -> Result<T> {
    Err(ValueError::new(reason))
}

pub(crate) fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> String {
    match closest(&word.to_ascii_lowercase(), candidates) {
        Some(c) => format!("did you mean \"{c}\"? "),
        None => String::new(),
    }
}

// ---------------------------------------------------------------------------------------
// booleans and integers

/// `0` or `1`, as LXC's boolean keys take them.
pub fn parse_bool(s: &str) -> Result<bool> {
    match s.trim() {
        "0" => Ok(false),
        "1" => Ok(true),
        _ => err("must be 0 or 1"),
    }
}

/// A non-negative decimal integer.
pub fn parse_uint(s: &str) -> Result<u64> {
    let t = s.trim();
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return err("must be a non-negative whole number such as 4");
    }
    t.parse::<u64>().or_else(|_| err("number is too large"))
}

/// A non-negative decimal integer that fits in 32 bits.
pub fn parse_u32(s: &str) -> Result<u32> {
    let n = parse_uint(s)?;
    u32::try_from(n).or_else(|_| err(format!("number is too large (at most {})", u32::MAX)))
}

/// A decimal integer with an optional sign.
pub fn parse_int(s: &str) -> Result<i64> {
    let t = s.trim();
    let digits = t.strip_prefix(['-', '+']).unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return err("must be a whole number such as 10 or -5");
    }
    t.parse::<i64>().or_else(|_| err("number is too large"))
}

// ---------------------------------------------------------------------------------------
// signals

/// First real-time signal as the kernel numbers it (glibc reserves 32 and 33).
pub const SIGRTMIN: i32 = 34;
/// Last real-time signal.
pub const SIGRTMAX: i32 = 64;

/// Linux x86_64 signal numbers, names without the SIG prefix.
const SIGNALS: &[(&str, i32)] = &[
    ("HUP", 1),
    ("INT", 2),
    ("QUIT", 3),
    ("ILL", 4),
    ("TRAP", 5),
    ("ABRT", 6),
    ("IOT", 6),
    ("BUS", 7),
    ("FPE", 8),
    ("KILL", 9),
    ("USR1", 10),
    ("SEGV", 11),
    ("USR2", 12),
    ("PIPE", 13),
    ("ALRM", 14),
    ("TERM", 15),
    ("STKFLT", 16),
    ("CHLD", 17),
    ("CLD", 17),
    ("CONT", 18),
    ("STOP", 19),
    ("TSTP", 20),
    ("TTIN", 21),
    ("TTOU", 22),
    ("URG", 23),
    ("XCPU", 24),
    ("XFSZ", 25),
    ("VTALRM", 26),
    ("PROF", 27),
    ("WINCH", 28),
    ("IO", 29),
    ("POLL", 29),
    ("PWR", 30),
    ("SYS", 31),
];

const SIGNAL_REASON: &str = "unknown signal; use a name such as SIGPWR or a number";

/// A signal in kill(1) fashion: `SIGPWR`, `PWR`, `pwr`, `30`, `SIGRTMIN+3`, `RTMIN+3`,
/// `SIGRTMAX-2`. Returns the Linux x86_64 number (SIGRTMIN = 34).
pub fn parse_signal(s: &str) -> Result<i32> {
    let t = s.trim();
    if t.is_empty() {
        return err(SIGNAL_REASON);
    }
    if t.as_bytes()[0].is_ascii_digit() {
        return match t.parse::<u32>() {
            Ok(n) if (1..=SIGRTMAX as u32).contains(&n) => Ok(n as i32),
            _ => err(format!("signal number must be between 1 and {SIGRTMAX}; use a name such as SIGPWR or a number")),
        };
    }
    let upper = t.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some(rest) = name.strip_prefix("RTMIN") {
        return rt_offset(rest, '+').map(|n| SIGRTMIN + n);
    }
    if let Some(rest) = name.strip_prefix("RTMAX") {
        return rt_offset(rest, '-').map(|n| SIGRTMAX - n);
    }
    match SIGNALS.iter().find(|(n, _)| *n == name) {
        Some(&(_, num)) => Ok(num),
        None => match closest(name, SIGNALS.iter().map(|(n, _)| *n)) {
            Some(c) => err(format!(
                "unknown signal; did you mean SIG{c}? use a name such as SIGPWR or a number"
            )),
            None => err(SIGNAL_REASON),
        },
    }
}

fn rt_offset(rest: &str, sign: char) -> Result<i32> {
    if rest.is_empty() {
        return Ok(0);
    }
    let max = SIGRTMAX - SIGRTMIN;
    let range = if sign == '+' {
        "SIGRTMIN+0 to SIGRTMIN+30"
    } else {
        "SIGRTMAX-30 to SIGRTMAX-0"
    };
    let Some(num) = rest.strip_prefix(sign) else {
        return err(format!("real-time signals are written {range}"));
    };
    match num.parse::<i32>() {
        Ok(n) if num.bytes().all(|b| b.is_ascii_digit()) && (0..=max).contains(&n) => Ok(n),
        _ => err(format!("real-time signal offset out of range; use {range}")),
    }
}

/// The conventional name of a signal number (`SIGPWR`, `SIGRTMIN+3`), or the number.
pub fn signal_name(num: i32) -> String {
    if (SIGRTMIN..=SIGRTMAX).contains(&num) {
        return match num {
            SIGRTMIN => "SIGRTMIN".to_string(),
            SIGRTMAX => "SIGRTMAX".to_string(),
            n => format!("SIGRTMIN+{}", n - SIGRTMIN),
        };
    }
    match SIGNALS.iter().find(|(_, n)| *n == num) {
        Some((name, _)) => format!("SIG{name}"),
        None => num.to_string(),
    }
}

// ---------------------------------------------------------------------------------------
// capabilities

/// Kernel capability names (capabilities(7)) without `CAP_`, indexed by number.
pub const CAPABILITIES: &[&str] = &[
    "chown",
    "dac_override",
    "dac_read_search",
    "fowner",
    "fsetid",
    "kill",
    "setgid",
    "setuid",
    "setpcap",
    "linux_immutable",
    "net_bind_service",
    "net_broadcast",
    "net_admin",
    "net_raw",
    "ipc_lock",
    "ipc_owner",
    "sys_module",
    "sys_rawio",
    "sys_chroot",
    "sys_ptrace",
    "sys_pacct",
    "sys_admin",
    "sys_boot",
    "sys_nice",
    "sys_resource",
    "sys_time",
    "sys_tty_config",
    "mknod",
    "lease",
    "audit_write",
    "audit_control",
    "setfcap",
    "mac_override",
    "mac_admin",
    "syslog",
    "wake_alarm",
    "block_suspend",
    "audit_read",
    "perfmon",
    "bpf",
    "checkpoint_restore",
];

/// The number of a capability name (lowercase, without `cap_`).
pub fn cap_number(name: &str) -> Option<u32> {
    CAPABILITIES
        .iter()
        .position(|c| *c == name)
        .map(|n| n as u32)
}

/// Space-separated capability names as in `lxc.cap.drop`/`lxc.cap.keep`: case-insensitive,
/// without the `cap_` prefix (tolerated if present), or numbers. Returns lowercase names.
/// The special word `none` (meaningful for `lxc.cap.keep`) is passed through as "none".
pub fn parse_caps(s: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for tok in s.split_whitespace() {
        let lower = tok.to_ascii_lowercase();
        if lower == "none" {
            out.push(lower);
            continue;
        }
        let name = lower.strip_prefix("cap_").unwrap_or(&lower);
        if let Some(c) = CAPABILITIES.iter().find(|c| **c == name) {
            out.push(c.to_string());
            continue;
        }
        if !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()) {
            if let Some(c) = name.parse::<usize>().ok().and_then(|n| CAPABILITIES.get(n)) {
                out.push(c.to_string());
                continue;
            }
        }
        return err(format!(
            "unknown capability \"{}\"; {}use names from capabilities(7) without the CAP_ prefix, such as sys_admin",
            shorten(tok, 40),
            did_you_mean(name, CAPABILITIES.iter().copied())
        ));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// lxc.mount.auto

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProcMode {
    /// /proc read-write, /proc/sys and /proc/sysrq-trigger read-only (`proc`, `proc:mixed`)
    Mixed,
    /// /proc read-write (`proc:rw`)
    Rw,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SysMode {
    /// read-only (`sys:ro`)
    Ro,
    /// read-only except /sys/devices/virtual/net (`sys`, `sys:mixed`)
    Mixed,
    /// read-write (`sys:rw`)
    Rw,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CgroupKind {
    /// `cgroup:*`: tmpfs with the container's own cgroups bound in
    Cgroup,
    /// `cgroup-full:*`: the host's hierarchies bound in
    CgroupFull,
    /// `cgroup2[:ro]`: a cgroup2 mount (LXC always forces it)
    Cgroup2,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CgroupMode {
    /// no specifier: rw if the container keeps CAP_SYS_ADMIN, mixed otherwise
    NoSpec,
    Mixed,
    Ro,
    Rw,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupAuto {
    pub kind: CgroupKind,
    pub mode: CgroupMode,
    /// `:force`: mount even when the container has a cgroup namespace
    pub force: bool,
}

impl CgroupAuto {
    /// The mode after resolving `NoSpec` as LXC does.
    pub fn resolved_mode(&self, keeps_sys_admin: bool) -> CgroupMode {
        match self.mode {
            CgroupMode::NoSpec if keeps_sys_admin => CgroupMode::Rw,
            CgroupMode::NoSpec => CgroupMode::Mixed,
            m => m,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shmounts {
    pub host: String,
    pub container: String,
}

/// What `lxc.mount.auto` asks for. Several values (and several lines) combine; a later
/// token for the same filesystem replaces the earlier one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountAuto {
    pub proc: Option<ProcMode>,
    pub sys: Option<SysMode>,
    pub cgroup: Option<CgroupAuto>,
    pub shmounts: Option<Shmounts>,
}

impl MountAuto {
    pub fn is_empty(&self) -> bool {
        *self == MountAuto::default()
    }

    /// Apply `other` on top of `self` (later lines win per filesystem).
    pub fn merge(&mut self, other: &MountAuto) {
        if other.proc.is_some() {
            self.proc = other.proc;
        }
        if other.sys.is_some() {
            self.sys = other.sys;
        }
        if other.cgroup.is_some() {
            self.cgroup = other.cgroup;
        }
        if other.shmounts.is_some() {
            self.shmounts = other.shmounts.clone();
        }
    }
}

const MOUNT_AUTO_TOKENS: &[&str] = &[
    "proc",
    "proc:mixed",
    "proc:rw",
    "sys",
    "sys:ro",
    "sys:mixed",
    "sys:rw",
    "cgroup",
    "cgroup:mixed",
    "cgroup:ro",
    "cgroup:rw",
    "cgroup:force",
    "cgroup:mixed:force",
    "cgroup:ro:force",
    "cgroup:rw:force",
    "cgroup-full",
    "cgroup-full:mixed",
    "cgroup-full:ro",
    "cgroup-full:rw",
    "cgroup-full:force",
    "cgroup-full:mixed:force",
    "cgroup-full:ro:force",
    "cgroup-full:rw:force",
    "cgroup2",
    "cgroup2:ro",
    "cgroup2:force",
    "cgroup2:ro:force",
];

/// One `lxc.mount.auto` value: space-separated `proc[:mixed|:rw]`, `sys[:ro|:mixed|:rw]`,
/// `cgroup[:mixed|:ro|:rw][:force]`, `cgroup-full[...]`, `cgroup2[:ro][:force]`,
/// `shmounts:HOST[:CONTAINER]`.
pub fn parse_mount_auto(s: &str) -> Result<MountAuto> {
    let mut m = MountAuto::default();
    for tok in s.split_whitespace() {
        if let Some(rest) = tok.strip_prefix("shmounts:") {
            let (host, cont) = match rest.split_once(':') {
                Some((h, c)) if !c.is_empty() => (h, c),
                Some((h, _)) => (h, "/dev/.lxc-mounts"),
                None => (rest, "/dev/.lxc-mounts"),
            };
            if host.is_empty() {
                return err("\"shmounts:\" needs a host path, e.g. shmounts:/var/lib/shmounts");
            }
            m.shmounts = Some(Shmounts {
                host: host.to_string(),
                container: cont.to_string(),
            });
            continue;
        }
        let (fs, spec) = tok.split_once(':').unwrap_or((tok, ""));
        let bad = || {
            err(format!(
                "unknown filesystem to automount \"{}\"; {}use proc[:mixed|:rw], sys[:ro|:mixed|:rw], cgroup[:mixed|:ro|:rw][:force], cgroup-full[...] or cgroup2[:ro]",
                shorten(tok, 40),
                did_you_mean(tok, MOUNT_AUTO_TOKENS.iter().copied())
            ))
        };
        match fs {
            "proc" => {
                m.proc = Some(match spec {
                    "" | "mixed" => ProcMode::Mixed,
                    "rw" => ProcMode::Rw,
                    _ => return bad(),
                })
            }
            "sys" => {
                m.sys = Some(match spec {
                    "" | "mixed" => SysMode::Mixed,
                    "ro" => SysMode::Ro,
                    "rw" => SysMode::Rw,
                    _ => return bad(),
                })
            }
            "cgroup" | "cgroup-full" => {
                let (mode_s, force) = match spec.strip_suffix("force") {
                    Some(p) if p.is_empty() || p.ends_with(':') => (p.trim_end_matches(':'), true),
                    _ => (spec, false),
                };
                let mode = match mode_s {
                    "" => CgroupMode::NoSpec,
                    "mixed" => CgroupMode::Mixed,
                    "ro" => CgroupMode::Ro,
                    "rw" => CgroupMode::Rw,
                    _ => return bad(),
                };
                let kind = if fs == "cgroup" {
                    CgroupKind::Cgroup
                } else {
                    CgroupKind::CgroupFull
                };
                m.cgroup = Some(CgroupAuto { kind, mode, force });
            }
            "cgroup2" => {
                let mode = match spec {
                    "" | "force" => CgroupMode::Rw,
                    "ro" | "ro:force" => CgroupMode::Ro,
                    _ => return bad(),
                };
                m.cgroup = Some(CgroupAuto {
                    kind: CgroupKind::Cgroup2,
                    mode,
                    force: true,
                });
            }
            _ => return bad(),
        }
    }
    Ok(m)
}

// ---------------------------------------------------------------------------------------
// mount entries

pub const MS_RDONLY: u64 = 1;
pub const MS_NOSUID: u64 = 2;
pub const MS_NODEV: u64 = 4;
pub const MS_NOEXEC: u64 = 8;
pub const MS_SYNCHRONOUS: u64 = 16;
pub const MS_REMOUNT: u64 = 32;
pub const MS_MANDLOCK: u64 = 64;
pub const MS_DIRSYNC: u64 = 128;
pub const MS_NOATIME: u64 = 1024;
pub const MS_NODIRATIME: u64 = 2048;
pub const MS_BIND: u64 = 4096;
pub const MS_REC: u64 = 16384;
pub const MS_UNBINDABLE: u64 = 1 << 17;
pub const MS_PRIVATE: u64 = 1 << 18;
pub const MS_SLAVE: u64 = 1 << 19;
pub const MS_SHARED: u64 = 1 << 20;
pub const MS_RELATIME: u64 = 1 << 21;
pub const MS_STRICTATIME: u64 = 1 << 24;
pub const MS_LAZYTIME: u64 = 1 << 25;
/// The propagation bits; mount(2) wants them in a separate call from other flags.
pub const MS_PROPAGATION: u64 = MS_UNBINDABLE | MS_PRIVATE | MS_SLAVE | MS_SHARED;

/// (option, clear instead of set, bits)
const MOUNT_FLAGS: &[(&str, bool, u64)] = &[
    ("defaults", false, 0),
    ("ro", false, MS_RDONLY),
    ("rw", true, MS_RDONLY),
    ("nosuid", false, MS_NOSUID),
    ("suid", true, MS_NOSUID),
    ("nodev", false, MS_NODEV),
    ("dev", true, MS_NODEV),
    ("noexec", false, MS_NOEXEC),
    ("exec", true, MS_NOEXEC),
    ("sync", false, MS_SYNCHRONOUS),
    ("async", true, MS_SYNCHRONOUS),
    ("dirsync", false, MS_DIRSYNC),
    ("remount", false, MS_REMOUNT),
    ("mand", false, MS_MANDLOCK),
    ("nomand", true, MS_MANDLOCK),
    ("noatime", false, MS_NOATIME),
    ("atime", true, MS_NOATIME),
    ("nodiratime", false, MS_NODIRATIME),
    ("diratime", true, MS_NODIRATIME),
    ("relatime", false, MS_RELATIME),
    ("norelatime", true, MS_RELATIME),
    ("strictatime", false, MS_STRICTATIME),
    ("nostrictatime", true, MS_STRICTATIME),
    ("lazytime", false, MS_LAZYTIME),
    ("bind", false, MS_BIND),
    ("rbind", false, MS_BIND | MS_REC),
    ("private", false, MS_PRIVATE),
    ("rprivate", false, MS_PRIVATE | MS_REC),
    ("slave", false, MS_SLAVE),
    ("rslave", false, MS_SLAVE | MS_REC),
    ("shared", false, MS_SHARED),
    ("rshared", false, MS_SHARED | MS_REC),
    ("unbindable", false, MS_UNBINDABLE),
    ("runbindable", false, MS_UNBINDABLE | MS_REC),
];

/// One line of fstab(5) as `lxc.mount.entry` takes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountEntry {
    pub source: String,
    /// usually relative to the container's root
    pub target: String,
    pub fstype: String,
    pub options: Vec<String>,
    pub dump: u32,
    pub pass: u32,
}

/// LXC's own mount options, which are not passed to mount(2).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountExtras {
    /// `create=dir`: create the target directory first
    pub create_dir: bool,
    /// `create=file`: create the target file first
    pub create_file: bool,
    /// `optional`: a failing mount is not an error
    pub optional: bool,
    /// `relative`: the source is relative to the container's root
    pub relative: bool,
    /// `idmap=PATH|container`: idmapped mount
    pub idmap: Option<String>,
}

impl MountEntry {
    /// mount(2) flags (`MS_*` bits, propagation included, see [`MS_PROPAGATION`]), the
    /// filesystem data string (every option that is not a flag), and LXC's extras.
    pub fn flags_and_data(&self) -> (u64, String, MountExtras) {
        let mut flags = 0u64;
        let mut data: Vec<&str> = Vec::new();
        let mut extras = MountExtras::default();
        for opt in &self.options {
            let opt = opt.as_str();
            if let Some(&(_, clear, bits)) = MOUNT_FLAGS.iter().find(|(n, _, _)| *n == opt) {
                if clear {
                    flags &= !bits;
                } else {
                    flags |= bits;
                }
                continue;
            }
            match opt {
                "create=dir" => extras.create_dir = true,
                "create=file" => extras.create_file = true,
                "optional" => extras.optional = true,
                "relative" => extras.relative = true,
                _ => match opt.strip_prefix("idmap=") {
                    Some(p) => extras.idmap = Some(p.to_string()),
                    None => data.push(opt),
                },
            }
        }
        (flags, data.join(","), extras)
    }

    pub fn has_option(&self, opt: &str) -> bool {
        self.options.iter().any(|o| o == opt)
    }
}

/// Decode fstab's octal escapes (`\040` space, `\011` tab, `\012` newline, `\134` backslash).
pub fn unescape_fstab(field: &str) -> String {
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() {
            let oct = &b[i + 1..i + 4];
            if oct.iter().all(|c| (b'0'..=b'7').contains(c)) {
                let v = u32::from(oct[0] - b'0') * 64
                    + u32::from(oct[1] - b'0') * 8
                    + u32::from(oct[2] - b'0');
                if let Ok(byte) = u8::try_from(v) {
                    out.push(byte);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One fstab line: `SOURCE TARGET FSTYPE [OPTIONS [DUMP [PASS]]]`, fields separated by
/// spaces or tabs, with fstab's `\040`-style escapes.
pub fn parse_mount_entry(s: &str) -> Result<MountEntry> {
    let t = s.trim();
    if t.is_empty() {
        return err("empty mount entry; write it as in fstab(5): SOURCE TARGET FSTYPE OPTIONS 0 0");
    }
    if t.starts_with('#') {
        return err("a mount entry cannot be a comment; write it as in fstab(5): SOURCE TARGET FSTYPE OPTIONS 0 0");
    }
    let fields: Vec<&str> = t.split([' ', '\t']).filter(|f| !f.is_empty()).collect();
    if fields.len() < 3 {
        return err("a mount entry needs at least source, target and filesystem type; write it as in fstab(5): SOURCE TARGET FSTYPE OPTIONS 0 0");
    }
    if fields.len() > 6 {
        return err("too many fields in mount entry (at most 6); escape spaces in paths as \\040");
    }
    let num = |i: usize, what: &str| -> Result<u32> {
        match fields.get(i) {
            None => Ok(0),
            Some(f) => f.parse::<u32>().or_else(|_| {
                err(format!(
                    "the {what} field \"{}\" must be a number, usually 0",
                    shorten(f, 20)
                ))
            }),
        }
    };
    let options = match fields.get(3) {
        Some(o) => o
            .split(',')
            .filter(|x| !x.is_empty())
            .map(unescape_fstab)
            .collect(),
        None => Vec::new(),
    };
    Ok(MountEntry {
        source: unescape_fstab(fields[0]),
        target: unescape_fstab(fields[1]),
        fstype: unescape_fstab(fields[2]),
        options,
        dump: num(4, "dump")?,
        pass: num(5, "pass")?,
    })
}

/// An fstab file (`lxc.mount.fstab`): one entry per line, `#` comments and blank lines skipped.
pub fn parse_fstab(text: &str) -> Result<Vec<MountEntry>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        out.push(
            parse_mount_entry(t).map_err(|e| ValueError::new(format!("line {}: {}", i + 1, e)))?,
        );
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// resource limits

/// setrlimit(2) resource names without `RLIMIT_`, with Linux numbers.
pub const RLIMITS: &[(&str, i32)] = &[
    ("cpu", 0),
    ("fsize", 1),
    ("data", 2),
    ("stack", 3),
    ("core", 4),
    ("rss", 5),
    ("nproc", 6),
    ("nofile", 7),
    ("memlock", 8),
    ("as", 9),
    ("locks", 10),
    ("sigpending", 11),
    ("msgqueue", 12),
    ("nice", 13),
    ("rtprio", 14),
    ("rttime", 15),
];

/// Value meaning "no limit" (RLIM_INFINITY).
pub const RLIM_INFINITY: u64 = u64::MAX;

/// The resource number of a limit name (`nofile` → 7), case-insensitive.
pub fn prlimit_resource(name: &str) -> Option<i32> {
    RLIMITS
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|&(_, r)| r)
}

fn parse_limit(s: &str) -> Result<u64> {
    if s.eq_ignore_ascii_case("unlimited") {
        return Ok(RLIM_INFINITY);
    }
    parse_uint(s).map_err(|_| {
        ValueError::new(format!(
            "limit \"{}\" must be a number or \"unlimited\"; write N, unlimited or SOFT:HARD",
            shorten(s, 30)
        ))
    })
}

/// `lxc.prlimit.NAME = VALUE` → (resource number, soft, hard); `unlimited` is [`RLIM_INFINITY`].
/// VALUE is `N`, `unlimited` or `SOFT:HARD`.
pub fn parse_prlimit(name: &str, value: &str) -> Result<(i32, u64, u64)> {
    let Some(res) = prlimit_resource(name) else {
        return err(format!(
            "unknown resource limit \"{}\"; {}use one of {} (setrlimit(2) names without RLIMIT_)",
            shorten(name, 30),
            did_you_mean(name, RLIMITS.iter().map(|(n, _)| *n)),
            RLIMITS
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    };
    let v = value.trim();
    let (soft, hard) = match v.split_once(':') {
        Some((s, h)) => (parse_limit(s.trim())?, parse_limit(h.trim())?),
        None => {
            let n = parse_limit(v)?;
            (n, n)
        }
    };
    if soft > hard {
        return err(format!(
            "soft limit {soft} is above the hard limit {hard}; write SOFT:HARD with SOFT <= HARD"
        ));
    }
    Ok((res, soft, hard))
}

// ---------------------------------------------------------------------------------------
// sizes, hostnames, commands, environment

/// A size in bytes: `500000`, `64k`, `1M`, `2G` (also `KB`/`KiB`, `MB`, `GB`, `TB`,
/// case-insensitive; all powers of 1024).
pub fn parse_size(s: &str) -> Result<u64> {
    let t = s.trim();
    let digits_end = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(digits_end);
    const REASON: &str = "must be a size such as 500000, 64k, 1M or 1G";
    if num.is_empty() {
        return err(REASON);
    }
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        _ => return err(REASON),
    };
    let n: u64 = num.parse().or_else(|_| err("size is too large"))?;
    n.checked_mul(mult)
        .ok_or_else(|| ValueError::new("size is too large"))
}

/// `lxc.console.size` / `lxc.console.buffer.size`: a size or `auto` (128 KiB).
pub fn parse_console_size(s: &str) -> Result<u64> {
    if s.trim() == "auto" {
        return Ok(128 << 10);
    }
    parse_size(s).map_err(|_| ValueError::new("must be a size such as 128k or 1M, or auto"))
}

/// The longest host name the kernel keeps (`__NEW_UTS_LEN`).
pub const HOSTNAME_MAX: usize = 64;

/// `lxc.uts.name`: a host name as RFC 1123 writes one: labels of ASCII letters, digits
/// and '-' (not at a label's start or end), 1–63 bytes each, separated by single dots,
/// at most [`HOSTNAME_MAX`] bytes in all. The name reaches the kernel, /etc/hostname,
/// /etc/hosts, DHCP and DNS, and scripts in the container that paste it into commands:
/// nothing else (no '_', no shell characters) is accepted. The reason names a fixed
/// version ([`hostname_from_name`]).
pub fn validate_hostname(s: &str) -> Result<()> {
    let fix = || {
        format!(
            "use letters, digits and '-' in labels separated by '.', e.g. \"{}\"",
            hostname_from_name(s)
        )
    };
    if s.is_empty() {
        return err("empty hostname; use letters, digits and '-', e.g. \"web1\"");
    }
    if s.len() > HOSTNAME_MAX {
        return err(format!(
            "hostname is {} bytes long; the kernel allows at most {HOSTNAME_MAX}; {}",
            s.len(),
            fix()
        ));
    }
    for label in s.split('.') {
        if label.is_empty() {
            return err(format!(
                "hostname has an empty label (a '.' at the start or end, or two in a row); {}",
                fix()
            ));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
        {
            return err(format!(
                "hostname contains {c:?}, which a host name may not hold; {}",
                fix()
            ));
        }
        if label.len() > 63 {
            return err(format!(
                "hostname label \"{label}\" is {} bytes long, a label holds at most 63; {}",
                label.len(),
                fix()
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return err(format!(
                "hostname label \"{label}\" starts or ends with '-'; {}",
                fix()
            ));
        }
    }
    Ok(())
}

/// The host name a container gets from its name when nothing else sets one (templates
/// write it to lxc.uts.name, /etc/hostname and /etc/hosts): the name itself when it is a
/// valid host name ([`validate_hostname`]), else the name with every other character
/// made '-' (runs of '-' become one, none at a label's ends, labels cut at 63 bytes, the
/// whole at 64): `web_1` → `web-1`. A name with nothing usable left (`___`) gets
/// `hako-` and six hex digits of a hash of it, the same every time.
pub fn hostname_from_name(name: &str) -> String {
    if validate_hostname_quiet(name) {
        return name.to_string();
    }
    let mut labels: Vec<String> = Vec::new();
    for l in name.split('.') {
        let mut out = String::new();
        for c in l.chars() {
            let c = if c.is_ascii_alphanumeric() { c } else { '-' };
            if !(c == '-' && (out.is_empty() || out.ends_with('-'))) {
                out.push(c);
            }
        }
        out.truncate(63);
        let out = out.trim_end_matches('-');
        if !out.is_empty() {
            labels.push(out.to_string());
        }
    }
    let mut h = labels.join(".");
    h.truncate(HOSTNAME_MAX);
    let h = h.trim_end_matches(['.', '-']).to_string();
    if h.is_empty() {
        let mut x: u32 = 0x811c_9dc5;
        for b in name.bytes() {
            x = (x ^ u32::from(b)).wrapping_mul(0x0100_0193);
        }
        return format!("hako-{:06x}", x & 0xff_ffff);
    }
    h
}

/// [`validate_hostname`] without building messages (it calls [`hostname_from_name`]).
fn validate_hostname_quiet(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= HOSTNAME_MAX
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// Shell-like word splitting for `lxc.init.cmd`/`lxc.execute.cmd`: whitespace separates
/// words, `'...'` is literal, `"..."` allows `\"`, `\\`, `\$`, `` \` ``; a backslash outside
/// quotes escapes the next character. No expansion of any kind.
pub fn split_command(s: &str) -> Result<Vec<String>> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(ch) => cur.push(ch),
                        None => return err("unterminated single quote; close it with '"),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.peek() {
                            Some(&n @ ('"' | '\\' | '$' | '`')) => {
                                cur.push(n);
                                chars.next();
                            }
                            _ => cur.push('\\'),
                        },
                        Some(ch) => cur.push(ch),
                        None => return err("unterminated double quote; close it with \""),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(ch) => cur.push(ch),
                    None => return err("trailing backslash; remove it or quote it"),
                }
            }
            _ => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

/// `lxc.environment`: `VAR=VALUE`, or a bare `VAR` meaning "inherit from the caller".
pub fn parse_environment(s: &str) -> (String, Option<String>) {
    match s.split_once('=') {
        Some((k, v)) => (k.to_string(), Some(v.to_string())),
        None => (s.to_string(), None),
    }
}

/// Checks the variable name of an `lxc.environment` value.
pub fn validate_environment(s: &str) -> Result<()> {
    let (name, _) = parse_environment(s);
    if name.is_empty() {
        return err("missing variable name; write VAR=VALUE, or VAR to pass the caller's value");
    }
    if name.chars().any(|c| c.is_whitespace() || c == '\0') {
        return err("variable name must not contain whitespace; write VAR=VALUE");
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// the rest: idmaps, namespaces, log levels, arch, time offsets, groups

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum IdKind {
    Uid,
    Gid,
}

/// `lxc.idmap = u|g NSID HOSTID RANGE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdMap {
    pub kind: IdKind,
    pub ns_id: u32,
    pub host_id: u32,
    pub range: u32,
}

pub fn parse_idmap(s: &str) -> Result<IdMap> {
    const FORMAT: &str = "write u|g CONTAINER-ID HOST-ID COUNT such as u 0 100000 65536";
    let f: Vec<&str> = s.split_whitespace().collect();
    if f.len() != 4 {
        return err(format!("an id map has four fields; {FORMAT}"));
    }
    let kind = match f[0] {
        "u" => IdKind::Uid,
        "g" => IdKind::Gid,
        _ => return err(format!("the first field must be u or g; {FORMAT}")),
    };
    let n = |x: &str| {
        parse_u32(x)
            .map_err(|_| ValueError::new(format!("\"{}\" is not an id; {FORMAT}", shorten(x, 20))))
    };
    let (ns_id, host_id, range) = (n(f[1])?, n(f[2])?, n(f[3])?);
    if range == 0 {
        return err(format!("the count must be at least 1; {FORMAT}"));
    }
    if u64::from(ns_id) + u64::from(range) > 1 << 32
        || u64::from(host_id) + u64::from(range) > 1 << 32
    {
        return err("the id range goes past 4294967295; lower the count");
    }
    Ok(IdMap {
        kind,
        ns_id,
        host_id,
        range,
    })
}

/// Namespace names as in /proc/PID/ns (`mount` is accepted for `mnt`).
pub const NAMESPACES: &[&str] = &["user", "mnt", "pid", "uts", "ipc", "net", "cgroup", "time"];

/// `lxc.namespace.clone`/`keep`: space-separated namespace names, normalised.
pub fn parse_namespaces(s: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for tok in s.split_whitespace() {
        let lower = tok.to_ascii_lowercase();
        let name = if lower == "mount" {
            "mnt".to_string()
        } else {
            lower
        };
        if !NAMESPACES.contains(&name.as_str()) {
            return err(format!(
                "unknown namespace \"{}\"; {}use names from /proc/PID/ns: user mnt pid uts ipc net cgroup time",
                shorten(tok, 30),
                did_you_mean(&name, NAMESPACES.iter().copied())
            ));
        }
        out.push(name);
    }
    Ok(out)
}

const LOG_LEVELS: &[&str] = &[
    "trace", "debug", "info", "notice", "warn", "error", "crit", "alert", "fatal",
];

/// `lxc.log.level`: 0–8 or TRACE, DEBUG, INFO, NOTICE, WARN, ERROR, CRIT, ALERT, FATAL.
pub fn parse_log_level(s: &str) -> Result<u8> {
    let t = s.trim();
    if let Ok(n) = t.parse::<u8>() {
        if n <= 8 {
            return Ok(n);
        }
    }
    let lower = t.to_ascii_lowercase();
    let lower = match lower.as_str() {
        "warning" => "warn",
        "critical" => "crit",
        l => l,
    };
    match LOG_LEVELS.iter().position(|l| *l == lower) {
        Some(n) => Ok(n as u8),
        None => err("use a number 0-8 or one of TRACE, DEBUG, INFO, NOTICE, WARN, ERROR, CRIT, ALERT, FATAL"),
    }
}

/// `lxc.log.syslog` facilities.
pub fn validate_syslog_facility(s: &str) -> Result<()> {
    const F: &[&str] = &[
        "daemon", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
    ];
    if F.iter().any(|f| f.eq_ignore_ascii_case(s.trim())) {
        Ok(())
    } else {
        err("use one of daemon, local0 ... local7")
    }
}

/// What `lxc.arch` asks of personality(2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Personality {
    /// PER_LINUX (64-bit)
    Linux,
    /// PER_LINUX32
    Linux32,
}

const ARCHES: &[(&str, Personality)] = &[
    ("arm", Personality::Linux32),
    ("armel", Personality::Linux32),
    ("armhf", Personality::Linux32),
    ("armv7l", Personality::Linux32),
    ("athlon", Personality::Linux32),
    ("i386", Personality::Linux32),
    ("i486", Personality::Linux32),
    ("i586", Personality::Linux32),
    ("i686", Personality::Linux32),
    ("linux32", Personality::Linux32),
    ("mips", Personality::Linux32),
    ("mipsel", Personality::Linux32),
    ("ppc", Personality::Linux32),
    ("powerpc", Personality::Linux32),
    ("x86", Personality::Linux32),
    ("aarch64", Personality::Linux),
    ("amd64", Personality::Linux),
    ("arm64", Personality::Linux),
    ("linux64", Personality::Linux),
    ("mips64", Personality::Linux),
    ("mips64el", Personality::Linux),
    ("ppc64", Personality::Linux),
    ("ppc64el", Personality::Linux),
    ("ppc64le", Personality::Linux),
    ("powerpc64", Personality::Linux),
    ("riscv64", Personality::Linux),
    ("s390x", Personality::Linux),
    ("x86_64", Personality::Linux),
];

/// `lxc.arch`: the architecture names LXC knows.
pub fn parse_arch(s: &str) -> Result<Personality> {
    let t = s.trim();
    match ARCHES.iter().find(|(n, _)| *n == t) {
        Some(&(_, p)) => Ok(p),
        None => err(format!(
            "unknown architecture; {}use one such as x86_64, amd64, i686 or x86",
            did_you_mean(t, ARCHES.iter().map(|(n, _)| *n))
        )),
    }
}

/// `lxc.time.offset.*`: a signed number with a unit h, m, s, ms, us or ns; in nanoseconds.
pub fn parse_time_offset(s: &str) -> Result<i128> {
    let t = s.trim();
    let sign_len = usize::from(t.starts_with(['-', '+']));
    let end = t[sign_len..]
        .find(|c: char| !c.is_ascii_digit())
        .map_or(t.len(), |e| e + sign_len);
    let (num, unit) = t.split_at(end);
    const REASON: &str = "write a whole number with a unit h, m, s, ms, us or ns, such as -5s";
    if num.len() == sign_len {
        return err(REASON);
    }
    let n: i64 = num.parse().or_else(|_| err("offset is too large"))?;
    let mult: i128 = match unit.trim() {
        "h" => 3_600_000_000_000,
        "m" => 60_000_000_000,
        "s" => 1_000_000_000,
        "ms" => 1_000_000,
        "us" => 1_000,
        "ns" => 1,
        _ => return err(REASON),
    };
    Ok(i128::from(n) * mult)
}

/// `lxc.init.groups`: comma-separated gids.
pub fn parse_groups(s: &str) -> Result<Vec<u32>> {
    let mut out = Vec::new();
    for g in s.split(',') {
        let g = g.trim();
        if g.is_empty() {
            continue;
        }
        out.push(parse_u32(g).map_err(|_| {
            ValueError::new(format!(
                "\"{}\" is not a group id; write numbers separated by commas",
                shorten(g, 20)
            ))
        })?);
    }
    if out.is_empty() {
        return err("no group ids; write numbers separated by commas such as 10,100");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bools_and_ints() {
        assert_eq!(parse_bool("1"), Ok(true));
        assert_eq!(parse_bool(" 0 "), Ok(false));
        assert!(parse_bool("yes").is_err());
        assert!(parse_bool("2").is_err());
        assert_eq!(parse_uint("42"), Ok(42));
        assert!(parse_uint("-1").is_err());
        assert!(parse_uint("4x").is_err());
        assert!(parse_uint("99999999999999999999999").is_err());
        assert_eq!(parse_int("-5"), Ok(-5));
        assert_eq!(parse_int("+7"), Ok(7));
        assert!(parse_int("-").is_err());
        assert!(parse_u32("4294967296").is_err());
    }

    #[test]
    fn signals() {
        for s in ["SIGPWR", "PWR", "pwr", "30", "sigpwr", " SIGPWR "] {
            assert_eq!(parse_signal(s), Ok(30), "{s}");
        }
        assert_eq!(parse_signal("SIGRTMIN+3"), Ok(37));
        assert_eq!(parse_signal("RTMIN+3"), Ok(37));
        assert_eq!(parse_signal("rtmin+3"), Ok(37));
        assert_eq!(parse_signal("SIGRTMIN"), Ok(34));
        assert_eq!(parse_signal("SIGRTMAX"), Ok(64));
        assert_eq!(parse_signal("SIGRTMAX-2"), Ok(62));
        assert_eq!(parse_signal("SIGRTMIN+30"), Ok(64));
        assert_eq!(parse_signal("SIGKILL"), Ok(9));
        assert_eq!(parse_signal("SIGTERM"), Ok(15));
        assert_eq!(parse_signal("SIGINT"), Ok(2));
        assert_eq!(parse_signal("CHLD"), Ok(17));
        assert_eq!(parse_signal("64"), Ok(64));
        let e = parse_signal("SIGFOO").unwrap_err();
        assert!(
            e.reason()
                .ends_with("use a name such as SIGPWR or a number"),
            "{e}"
        );
        assert!(parse_signal("SIGRTMIN+31").is_err());
        assert!(parse_signal("SIGRTMIN-1").is_err());
        assert!(parse_signal("SIGRTMAX+1").is_err());
        assert!(parse_signal("SIGRTMIN+").is_err());
        assert!(parse_signal("SIGRTMIN+x").is_err());
        assert!(parse_signal("0").is_err());
        assert!(parse_signal("65").is_err());
        assert!(parse_signal("").is_err());
        assert!(parse_signal("SIG").is_err());
        assert!(parse_signal("30x").is_err());
        let e = parse_signal("SIGPWER").unwrap_err();
        assert!(e.reason().contains("did you mean SIGPWR"), "{e}");
        assert_eq!(signal_name(30), "SIGPWR");
        assert_eq!(signal_name(37), "SIGRTMIN+3");
        assert_eq!(signal_name(34), "SIGRTMIN");
        assert_eq!(signal_name(64), "SIGRTMAX");
        for n in 1..=64 {
            assert_eq!(parse_signal(&signal_name(n)), Ok(n), "{n}");
        }
    }

    #[test]
    fn caps() {
        assert_eq!(
            parse_caps("mac_admin mac_override SYS_TIME sys_module  sys_rawio").unwrap(),
            vec![
                "mac_admin",
                "mac_override",
                "sys_time",
                "sys_module",
                "sys_rawio"
            ]
        );
        assert_eq!(
            parse_caps("CAP_NET_RAW 21").unwrap(),
            vec!["net_raw", "sys_admin"]
        );
        assert_eq!(parse_caps("none").unwrap(), vec!["none"]);
        assert_eq!(parse_caps("").unwrap(), Vec::<String>::new());
        assert_eq!(
            parse_caps("checkpoint_restore").unwrap(),
            vec!["checkpoint_restore"]
        );
        let e = parse_caps("sys_admn").unwrap_err();
        assert!(
            e.reason().contains("unknown capability \"sys_admn\""),
            "{e}"
        );
        assert!(e.reason().contains("did you mean \"sys_admin\""), "{e}");
        assert!(parse_caps("41").is_err());
        assert_eq!(cap_number("sys_admin"), Some(21));
        assert_eq!(cap_number("checkpoint_restore"), Some(40));
        assert_eq!(CAPABILITIES.len(), 41);
    }

    #[test]
    fn mount_auto() {
        let m = parse_mount_auto("cgroup:mixed proc:mixed sys:mixed").unwrap();
        assert_eq!(m.proc, Some(ProcMode::Mixed));
        assert_eq!(m.sys, Some(SysMode::Mixed));
        assert_eq!(
            m.cgroup,
            Some(CgroupAuto {
                kind: CgroupKind::Cgroup,
                mode: CgroupMode::Mixed,
                force: false
            })
        );
        let m = parse_mount_auto("proc sys cgroup").unwrap();
        assert_eq!(m.proc, Some(ProcMode::Mixed));
        assert_eq!(m.sys, Some(SysMode::Mixed));
        let cg = m.cgroup.unwrap();
        assert_eq!(cg.mode, CgroupMode::NoSpec);
        assert_eq!(cg.resolved_mode(true), CgroupMode::Rw);
        assert_eq!(cg.resolved_mode(false), CgroupMode::Mixed);
        let m = parse_mount_auto("proc:rw sys:rw cgroup-full:rw:force").unwrap();
        assert_eq!(m.proc, Some(ProcMode::Rw));
        assert_eq!(m.sys, Some(SysMode::Rw));
        assert_eq!(
            m.cgroup,
            Some(CgroupAuto {
                kind: CgroupKind::CgroupFull,
                mode: CgroupMode::Rw,
                force: true
            })
        );
        let m = parse_mount_auto("sys:ro cgroup:force").unwrap();
        assert_eq!(m.sys, Some(SysMode::Ro));
        assert_eq!(
            m.cgroup,
            Some(CgroupAuto {
                kind: CgroupKind::Cgroup,
                mode: CgroupMode::NoSpec,
                force: true
            })
        );
        let m = parse_mount_auto("cgroup:ro:force").unwrap();
        assert_eq!(
            m.cgroup,
            Some(CgroupAuto {
                kind: CgroupKind::Cgroup,
                mode: CgroupMode::Ro,
                force: true
            })
        );
        let m = parse_mount_auto("cgroup2:ro").unwrap();
        assert_eq!(
            m.cgroup,
            Some(CgroupAuto {
                kind: CgroupKind::Cgroup2,
                mode: CgroupMode::Ro,
                force: true
            })
        );
        let m = parse_mount_auto("shmounts:/a:/b").unwrap();
        assert_eq!(
            m.shmounts,
            Some(Shmounts {
                host: "/a".into(),
                container: "/b".into()
            })
        );
        let m = parse_mount_auto("shmounts:/a").unwrap();
        assert_eq!(m.shmounts.unwrap().container, "/dev/.lxc-mounts");
        // later tokens win
        let m = parse_mount_auto("proc:rw proc").unwrap();
        assert_eq!(m.proc, Some(ProcMode::Mixed));
        assert!(parse_mount_auto("").unwrap().is_empty());
        for bad in [
            "proc:ro",
            "sys:mixed:force",
            "cgroup:force:ro",
            "cgroupforce",
            "shmounts:",
            "dev",
            "cgroup:mixedforce",
        ] {
            assert!(parse_mount_auto(bad).is_err(), "{bad}");
        }
        let e = parse_mount_auto("proc:mixd").unwrap_err();
        assert!(e.reason().contains("did you mean \"proc:mixed\""), "{e}");
        let mut a = parse_mount_auto("proc:rw sys:ro").unwrap();
        a.merge(&parse_mount_auto("sys:rw").unwrap());
        assert_eq!((a.proc, a.sys), (Some(ProcMode::Rw), Some(SysMode::Rw)));
    }

    #[test]
    fn mount_entries() {
        let e = parse_mount_entry(
            "/sys/fs/fuse/connections sys/fs/fuse/connections none bind,optional 0 0",
        )
        .unwrap();
        assert_eq!(e.source, "/sys/fs/fuse/connections");
        assert_eq!(e.target, "sys/fs/fuse/connections");
        assert_eq!(e.fstype, "none");
        assert_eq!(e.options, vec!["bind", "optional"]);
        let (flags, data, extras) = e.flags_and_data();
        assert_eq!(flags, MS_BIND);
        assert_eq!(data, "");
        assert!(extras.optional && !extras.create_dir);

        let e = parse_mount_entry(
            "/my\\040dir\tmnt/with\\040space  none\trbind,ro,create=dir,rslave,relative 1 2",
        )
        .unwrap();
        assert_eq!(e.source, "/my dir");
        assert_eq!(e.target, "mnt/with space");
        assert_eq!((e.dump, e.pass), (1, 2));
        let (flags, _, extras) = e.flags_and_data();
        assert_eq!(flags, MS_BIND | MS_REC | MS_RDONLY | MS_SLAVE);
        assert!(extras.create_dir && extras.relative && !extras.create_file);

        let e = parse_mount_entry(
            "tmpfs tmp tmpfs nosuid,nodev,noexec,size=64m,mode=1777,create=file,idmap=container",
        )
        .unwrap();
        let (flags, data, extras) = e.flags_and_data();
        assert_eq!(flags, MS_NOSUID | MS_NODEV | MS_NOEXEC);
        assert_eq!(data, "size=64m,mode=1777");
        assert!(extras.create_file);
        assert_eq!(extras.idmap.as_deref(), Some("container"));

        let e = parse_mount_entry("proc proc proc").unwrap();
        assert!(e.options.is_empty());
        assert_eq!((e.dump, e.pass), (0, 0));

        let e = parse_mount_entry("a b c ro,rw,nosuid,suid,sync,remount,mand,noatime,nodiratime,relatime,strictatime,defaults").unwrap();
        let (flags, data, _) = e.flags_and_data();
        assert_eq!(
            flags,
            MS_SYNCHRONOUS
                | MS_REMOUNT
                | MS_MANDLOCK
                | MS_NOATIME
                | MS_NODIRATIME
                | MS_RELATIME
                | MS_STRICTATIME
        );
        assert_eq!(data, "");
        let e =
            parse_mount_entry("a b c private,shared,unbindable,rprivate,rshared,runbindable,slave")
                .unwrap();
        let (flags, _, _) = e.flags_and_data();
        assert_eq!(flags, MS_PROPAGATION | MS_REC);

        for bad in [
            "",
            "a b",
            "a b c d 0 0 extra",
            "a b c d x 0",
            "a b c d 0 y",
            "# a b c",
        ] {
            assert!(parse_mount_entry(bad).is_err(), "{bad:?}");
        }
        assert_eq!(unescape_fstab("a\\134b\\011c\\012"), "a\\b\tc\n");
        assert_eq!(unescape_fstab("trailing\\04"), "trailing\\04");
        assert_eq!(unescape_fstab("\\"), "\\");
        assert_eq!(unescape_fstab("\\999"), "\\999");
    }

    #[test]
    fn fstab() {
        let t = "# comment\n\nproc proc proc nodev,noexec,nosuid 0 0\n  # indented comment\nsysfs sys sysfs ro 0 0\n";
        let v = parse_fstab(t).unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[1].fstype, "sysfs");
        let e = parse_fstab("proc proc proc\nbroken\n").unwrap_err();
        assert!(e.reason().starts_with("line 2: "), "{e}");
        assert!(parse_fstab("").unwrap().is_empty());
    }

    #[test]
    fn prlimits() {
        assert_eq!(parse_prlimit("nofile", "1024"), Ok((7, 1024, 1024)));
        assert_eq!(parse_prlimit("nofile", "1024:4096"), Ok((7, 1024, 4096)));
        assert_eq!(
            parse_prlimit("core", "unlimited"),
            Ok((4, u64::MAX, u64::MAX))
        );
        assert_eq!(parse_prlimit("as", "0:unlimited"), Ok((9, 0, u64::MAX)));
        assert_eq!(parse_prlimit("NPROC", "100"), Ok((6, 100, 100)));
        for (n, r) in RLIMITS {
            assert_eq!(parse_prlimit(n, "1").unwrap().0, *r);
        }
        assert!(parse_prlimit("nofile", "4096:1024").is_err());
        assert!(parse_prlimit("nofile", "lots").is_err());
        assert!(parse_prlimit("nofile", "1:2:3").is_err());
        assert!(parse_prlimit("nofile", "").is_err());
        let e = parse_prlimit("nofle", "1").unwrap_err();
        assert!(e.reason().contains("did you mean \"nofile\""), "{e}");
    }

    #[test]
    fn names() {
        assert!(validate_ifname("eth0").is_ok());
        assert!(validate_ifname("veth-123456789a").is_ok()); // 15 bytes
        assert!(validate_ifname("veth-123456789ab").is_err()); // 16 bytes
        assert!(validate_ifname("a/b").is_err());
        assert!(validate_ifname("a b").is_err());
        assert!(validate_ifname("").is_err());
        assert!(validate_ifname("..").is_err());
        assert!(validate_hostname("web-1.example").is_ok());
        assert!(validate_hostname("Web1").is_ok());
        assert!(validate_hostname("1and1").is_ok());
        assert!(validate_hostname(&"a".repeat(63)).is_ok());
        assert!(validate_hostname(&format!("{}.{}", "a".repeat(31), "b".repeat(32))).is_ok());
        // a label of 64, a name of 65
        assert!(validate_hostname(&"a".repeat(64)).is_err());
        assert!(validate_hostname(&format!("{}.{}", "a".repeat(32), "b".repeat(32))).is_err());
        for bad in [
            "my host",
            "",
            "$(reboot);x",
            "a;b",
            "a`id`",
            "web_1",
            "-web",
            "web-",
            "a..b",
            ".web",
            "web.",
            "a/b",
            "é",
            "a\nb",
        ] {
            assert!(validate_hostname(bad).is_err(), "{bad:?} accepted");
        }
        let e = validate_hostname("$(reboot);x").unwrap_err();
        assert_eq!(
            e.reason(),
            "hostname contains '$', which a host name may not hold; use letters, digits and '-' in labels separated by '.', e.g. \"reboot-x\""
        );
        // what a container name becomes as a host name: always valid, unchanged if it was
        for (name, host) in [
            ("web1", "web1"),
            ("web-1.lan", "web-1.lan"),
            ("web_1", "web-1"),
            ("$(reboot);x", "reboot-x"),
            ("_a__b_", "a-b"),
            ("a..b.", "a.b"),
            ("-x", "x"),
            ("über", "ber"),
        ] {
            assert_eq!(hostname_from_name(name), host, "{name:?}");
        }
        let long = format!("{}_", "a".repeat(63));
        assert_eq!(hostname_from_name(&long), "a".repeat(63));
        for name in ["___", "é", "..", "-", &"x_".repeat(32), &"ab.".repeat(21)] {
            let h = hostname_from_name(name);
            assert!(validate_hostname(&h).is_ok(), "{name:?} -> {h:?}");
            assert_eq!(hostname_from_name(name), h, "not stable");
        }
        assert!(hostname_from_name("___").starts_with("hako-"));
        assert!(validate_net_type("veth").is_ok());
        let e = validate_net_type("vethh").unwrap_err();
        assert!(e.reason().contains("did you mean \"veth\""), "{e}");
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("500000"), Ok(500000));
        assert_eq!(parse_size("64k"), Ok(64 << 10));
        assert_eq!(parse_size("64K"), Ok(64 << 10));
        assert_eq!(parse_size("1M"), Ok(1 << 20));
        assert_eq!(parse_size("1 MB"), Ok(1 << 20));
        assert_eq!(parse_size("2G"), Ok(2 << 30));
        assert_eq!(parse_size("1kib"), Ok(1024));
        for bad in [
            "",
            "k",
            "1x",
            "-1",
            "1.5M",
            "99999999999999999999",
            "17179869184G",
        ] {
            assert!(parse_size(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_console_size("auto"), Ok(128 << 10));
        assert!(parse_console_size("big").is_err());
    }

    #[test]
    fn commands() {
        assert_eq!(split_command("/sbin/init").unwrap(), vec!["/sbin/init"]);
        assert_eq!(
            split_command("  /bin/sh  -c 'echo $HOME; ls'  ").unwrap(),
            vec!["/bin/sh", "-c", "echo $HOME; ls"]
        );
        assert_eq!(
            split_command(r#"a "b \"c\" \$d \n" e\ f"#).unwrap(),
            vec!["a", r#"b "c" $d \n"#, "e f"]
        );
        assert_eq!(split_command("''").unwrap(), vec![""]);
        assert_eq!(split_command("a''b").unwrap(), vec!["ab"]);
        assert!(split_command("").unwrap().is_empty());
        assert!(split_command("'open").is_err());
        assert!(split_command("\"open").is_err());
        assert!(split_command("trailing\\").is_err());
    }

    #[test]
    fn environment() {
        assert_eq!(
            parse_environment("APP_ENV=production"),
            ("APP_ENV".into(), Some("production".into()))
        );
        assert_eq!(parse_environment("A=b=c"), ("A".into(), Some("b=c".into())));
        assert_eq!(parse_environment("PATH"), ("PATH".into(), None));
        assert_eq!(parse_environment("E="), ("E".into(), Some(String::new())));
        assert!(validate_environment("=x").is_err());
        assert!(validate_environment("A B=x").is_err());
        assert!(validate_environment("PATH").is_ok());
    }

    #[test]
    fn misc() {
        assert_eq!(
            parse_idmap("u 0 100000 65536"),
            Ok(IdMap {
                kind: IdKind::Uid,
                ns_id: 0,
                host_id: 100000,
                range: 65536
            })
        );
        for bad in [
            "u 0 100000",
            "x 0 1 1",
            "g 0 1 0",
            "u 0 4294967295 2",
            "u a 1 1",
        ] {
            assert!(parse_idmap(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_namespaces("mount net ipc").unwrap(),
            vec!["mnt", "net", "ipc"]
        );
        assert!(parse_namespaces("network").is_err());
        assert_eq!(parse_log_level("5"), Ok(5));
        assert_eq!(parse_log_level("debug"), Ok(1));
        assert_eq!(parse_log_level("WARN"), Ok(4));
        assert!(parse_log_level("9").is_err());
        assert!(parse_log_level("loud").is_err());
        assert_eq!(parse_arch("x86_64"), Ok(Personality::Linux));
        assert_eq!(parse_arch("i686"), Ok(Personality::Linux32));
        assert!(parse_arch("vax").is_err());
        assert_eq!(parse_time_offset("-5s"), Ok(-5_000_000_000));
        assert_eq!(parse_time_offset("2h"), Ok(7_200_000_000_000));
        assert_eq!(parse_time_offset("10 ms"), Ok(10_000_000));
        assert!(parse_time_offset("5").is_err());
        assert!(parse_time_offset("-s").is_err());
        assert!(parse_time_offset("5d").is_err());
        assert_eq!(parse_groups("10, 100"), Ok(vec![10, 100]));
        assert!(parse_groups("a,b").is_err());
        assert!(parse_groups(",").is_err());
        assert!(validate_syslog_facility("local3").is_ok());
        assert!(validate_syslog_facility("kern").is_err());
    }
}
