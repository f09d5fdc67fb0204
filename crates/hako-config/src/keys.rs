//! The key registry: every key of lxc.container.conf(5), what its value must look like,
//! whether it takes several values, whether hako implements it, and the pre-3.0 legacy
//! names with their replacements.

use crate::util::closest;
use crate::{net, values};

/// What a key's value must look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Any,
    Include,
    /// a bare group key (`lxc.net`, `lxc.cgroup`, ...): only an empty value, which clears the group
    ClearOnly,
    Bool,
    UInt,
    UInt32,
    Int,
    Signal,
    /// a signal, or 0 for "none"
    SignalOrZero,
    Caps,
    CapsKeep,
    MountAuto,
    MountEntry,
    Hostname,
    Arch,
    LogLevel,
    Syslog,
    Size,
    ConsoleSize,
    Command,
    Environment,
    Prlimit,
    Idmap,
    Namespaces,
    TimeOffset,
    Groups,
    AbsPath,
    CgroupValue,
    SeccompProxy,
    NetType,
    NetFlags,
    IfName,
    HwAddr,
    Ipv4Cidr,
    Ipv6Cidr,
    Ipv4Gateway,
    Ipv6Gateway,
    Ipv4Route,
    Ipv6Route,
    VlanId,
    VethVlanId,
    Mtu,
    Choice(&'static [&'static str]),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KeyInfo {
    pub kind: Kind,
    /// hako implements it (otherwise: accepted with a warning and ignored)
    pub supported: bool,
    /// several lines accumulate (an empty value clears the list)
    pub multi: bool,
}

const fn k(kind: Kind, supported: bool, multi: bool) -> KeyInfo {
    KeyInfo {
        kind,
        supported,
        multi,
    }
}

use Kind::*;

const S: bool = true; // supported
const U: bool = false; // accepted, not implemented yet
const M: bool = true; // multi-valued
const O: bool = false; // one value

/// Keys matched exactly.
const EXACT: &[(&str, KeyInfo)] = &[
    ("lxc.include", k(Include, S, M)),
    ("lxc.arch", k(Arch, S, O)),
    ("lxc.uts.name", k(Hostname, S, O)),
    ("lxc.rootfs.path", k(Any, S, O)),
    ("lxc.rootfs.mount", k(Any, S, O)),
    ("lxc.rootfs.options", k(Any, S, O)),
    ("lxc.rootfs.managed", k(Bool, S, O)),
    ("lxc.mount.auto", k(MountAuto, S, M)),
    ("lxc.mount.entry", k(MountEntry, S, M)),
    ("lxc.mount.fstab", k(Any, S, O)),
    ("lxc.autodev", k(Bool, S, O)),
    ("lxc.autodev.tmpfs.size", k(Size, S, O)),
    ("lxc.tty.max", k(UInt32, S, O)),
    ("lxc.tty.dir", k(Any, S, O)),
    ("lxc.pty.max", k(UInt32, S, O)),
    ("lxc.console.path", k(Any, S, O)),
    ("lxc.console.logfile", k(Any, S, O)),
    ("lxc.console.size", k(ConsoleSize, U, O)),
    ("lxc.console.buffer.size", k(ConsoleSize, U, O)),
    ("lxc.console.rotate", k(Bool, U, O)),
    ("lxc.init.cmd", k(Command, S, O)),
    ("lxc.init.cwd", k(AbsPath, S, O)),
    ("lxc.init.uid", k(UInt32, S, O)),
    ("lxc.init.gid", k(UInt32, S, O)),
    ("lxc.init.groups", k(Groups, S, M)),
    ("lxc.execute.cmd", k(Command, S, O)),
    ("lxc.environment", k(Environment, S, M)),
    ("lxc.cap.drop", k(Caps, S, M)),
    ("lxc.cap.keep", k(CapsKeep, S, M)),
    ("lxc.cgroup", k(ClearOnly, S, O)),
    ("lxc.cgroup2", k(ClearOnly, S, O)),
    ("lxc.cgroup.dir", k(Any, S, O)),
    ("lxc.cgroup.dir.container", k(Any, U, O)),
    ("lxc.cgroup.dir.container.inner", k(Any, S, O)),
    ("lxc.cgroup.dir.monitor", k(Any, U, O)),
    ("lxc.cgroup.dir.monitor.pivot", k(Any, U, O)),
    ("lxc.cgroup.relative", k(Bool, U, O)),
    ("lxc.signal.halt", k(Signal, S, O)),
    ("lxc.signal.reboot", k(Signal, S, O)),
    ("lxc.signal.stop", k(Signal, S, O)),
    ("lxc.start.auto", k(Bool, S, O)),
    ("lxc.start.delay", k(UInt32, S, O)),
    ("lxc.start.order", k(Int, S, O)),
    ("lxc.group", k(Any, S, M)),
    ("lxc.monitor.unshare", k(UInt, U, O)),
    ("lxc.monitor.signal.pdeath", k(SignalOrZero, U, O)),
    ("lxc.log.level", k(LogLevel, S, O)),
    ("lxc.log.file", k(Any, S, O)),
    ("lxc.log.syslog", k(Syslog, U, O)),
    ("lxc.no_new_privs", k(Bool, S, O)),
    ("lxc.ephemeral", k(Bool, S, O)),
    ("lxc.namespace.clone", k(Namespaces, S, M)),
    ("lxc.namespace.keep", k(Namespaces, S, M)),
    ("lxc.keyring.session", k(Bool, S, O)),
    ("lxc.sched.core", k(Bool, U, O)),
    ("lxc.time.offset.boot", k(TimeOffset, U, O)),
    ("lxc.time.offset.monotonic", k(TimeOffset, U, O)),
    ("lxc.idmap", k(Idmap, S, M)),
    ("lxc.hook", k(ClearOnly, S, O)),
    ("lxc.hook.version", k(Bool, S, O)),
    ("lxc.hook.pre-start", k(Any, S, M)),
    ("lxc.hook.pre-mount", k(Any, S, M)),
    ("lxc.hook.mount", k(Any, S, M)),
    ("lxc.hook.autodev", k(Any, S, M)),
    ("lxc.hook.start-host", k(Any, S, M)),
    ("lxc.hook.start", k(Any, S, M)),
    ("lxc.hook.stop", k(Any, S, M)),
    ("lxc.hook.post-stop", k(Any, S, M)),
    ("lxc.hook.clone", k(Any, S, M)),
    ("lxc.hook.destroy", k(Any, S, M)),
    // honoured where the kernel has the module, refused or ignored (no module) at start
    ("lxc.apparmor.profile", k(Any, S, O)),
    ("lxc.apparmor.allow_incomplete", k(Bool, S, O)),
    ("lxc.apparmor.allow_nesting", k(Bool, S, O)),
    ("lxc.apparmor.raw", k(Any, S, M)),
    ("lxc.selinux.context", k(Any, S, O)),
    ("lxc.selinux.context.keyring", k(Any, S, O)),
    ("lxc.seccomp.profile", k(Any, S, O)),
    ("lxc.seccomp.allow_nesting", k(Bool, S, O)),
    // not supported yet: the runtime refuses to start with them (fail closed)
    ("lxc.seccomp.notify.proxy", k(SeccompProxy, S, O)),
    ("lxc.seccomp.notify.cookie", k(Any, S, O)),
    ("lxc.net", k(ClearOnly, S, O)),
    ("lxc.prlimit", k(ClearOnly, S, O)),
    ("lxc.sysctl", k(ClearOnly, S, O)),
    ("lxc.proc", k(ClearOnly, U, O)),
];

/// Subkeys of `lxc.net.N.`.
const NET: &[(&str, KeyInfo)] = &[
    ("type", k(NetType, S, O)),
    ("flags", k(NetFlags, S, O)),
    ("link", k(IfName, S, O)),
    ("name", k(IfName, S, O)),
    ("hwaddr", k(HwAddr, S, O)),
    ("mtu", k(Mtu, S, O)),
    ("ipv4.address", k(Ipv4Cidr, S, M)),
    ("ipv4.gateway", k(Ipv4Gateway, S, O)),
    ("ipv6.address", k(Ipv6Cidr, S, M)),
    ("ipv6.gateway", k(Ipv6Gateway, S, O)),
    ("script.up", k(Any, S, O)),
    ("script.down", k(Any, S, O)),
    ("veth.pair", k(IfName, S, O)),
    ("veth.mode", k(Choice(&["bridge", "router"]), S, O)),
    (
        "macvlan.mode",
        k(Choice(&["private", "vepa", "bridge", "passthru"]), S, O),
    ),
    ("vlan.id", k(VlanId, S, O)),
    ("l2proxy", k(Bool, U, O)),
    ("ipvlan.mode", k(Choice(&["l3", "l3s", "l2"]), U, O)),
    (
        "ipvlan.isolation",
        k(Choice(&["bridge", "private", "vepa"]), U, O),
    ),
    ("veth.ipv4.route", k(Ipv4Route, U, M)),
    ("veth.ipv6.route", k(Ipv6Route, U, M)),
    ("veth.vlan.id", k(VethVlanId, U, O)),
    ("veth.vlan.tagged.id", k(VlanId, U, M)),
    ("veth.n_rxqueues", k(UInt32, U, O)),
    ("veth.n_txqueues", k(UInt32, U, O)),
];

const PREFIX_CGROUP: &str = "lxc.cgroup.";
const PREFIX_CGROUP2: &str = "lxc.cgroup2.";

/// Split `lxc.net.N.SUB` into (N, SUB); SUB is "" for `lxc.net.N`.
pub(crate) fn split_net_key(key: &str) -> Option<(u32, &str)> {
    let rest = key.strip_prefix("lxc.net.")?;
    let (idx, sub) = match rest.split_once('.') {
        Some((i, s)) => (i, s),
        None => (rest, ""),
    };
    if idx.is_empty() || idx.len() > 9 || !idx.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((idx.parse().ok()?, sub))
}

/// The interface index of `lxc.net.N.*` or legacy `lxc.network.N.*`.
pub(crate) fn any_net_index(key: &str) -> Option<u32> {
    if let Some((n, _)) = split_net_key(key) {
        return Some(n);
    }
    let idx = key.strip_prefix("lxc.network.")?.split('.').next()?;
    if idx.is_empty() || idx.len() > 9 || !idx.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    idx.parse().ok()
}

fn is_cgroup_file(sub: &str) -> bool {
    // "<controller>.<file>": both parts non-empty, no whitespace or '/'
    match sub.split_once('.') {
        Some((c, f)) => {
            !c.is_empty()
                && !f.is_empty()
                && !sub.ends_with('.')
                && !sub.contains(|ch: char| ch == '/' || ch.is_whitespace())
        }
        None => false,
    }
}

fn is_simple_name(s: &str) -> bool {
    !s.is_empty() && !s.contains(|c: char| c.is_whitespace() || c == '=' || c.is_control())
}

/// Look a (current, non-legacy) key up.
pub(crate) fn info(key: &str) -> Option<KeyInfo> {
    if let Some((_, ki)) = EXACT.iter().find(|(n, _)| *n == key) {
        return Some(*ki);
    }
    if key.starts_with("lxc.net.") {
        let (_, sub) = split_net_key(key)?;
        if sub.is_empty() {
            return Some(k(ClearOnly, S, O));
        }
        return NET.iter().find(|(n, _)| *n == sub).map(|(_, ki)| *ki);
    }
    if let Some(sub) = key.strip_prefix(PREFIX_CGROUP2) {
        return is_cgroup_file(sub).then_some(k(CgroupValue, S, M));
    }
    if let Some(sub) = key.strip_prefix(PREFIX_CGROUP) {
        // lxc.cgroup.dir* and lxc.cgroup.relative are exact keys above; anything else
        // under "dir." is a misspelling of one of them, not a controller file.
        if sub == "dir" || sub.starts_with("dir.") || sub == "relative" {
            return None;
        }
        return is_cgroup_file(sub).then_some(k(CgroupValue, S, M));
    }
    if let Some(name) = key.strip_prefix("lxc.prlimit.") {
        return values::prlimit_resource(name).map(|_| k(Prlimit, S, O));
    }
    if let Some(name) = key.strip_prefix("lxc.sysctl.") {
        return is_simple_name(name).then_some(k(Any, S, O));
    }
    if let Some(name) = key.strip_prefix("lxc.proc.") {
        return is_simple_name(name).then_some(k(Any, U, O));
    }
    if let Some(ns) = key.strip_prefix("lxc.namespace.share.") {
        return values::NAMESPACES.contains(&ns).then_some(k(Any, U, O));
    }
    None
}

/// What a pre-3.0 key becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Legacy {
    /// renamed; same value
    Rename(String),
    /// no longer meaningful; dropped
    Drop,
    /// `lxc.network.SUB` without an index: applies to the interface the last
    /// `lxc.network.type` started; carries the translated SUB
    NetUnindexed(String),
}

const LEGACY_EXACT: &[(&str, &str)] = &[
    ("lxc.utsname", "lxc.uts.name"),
    ("lxc.rootfs", "lxc.rootfs.path"),
    ("lxc.tty", "lxc.tty.max"),
    ("lxc.pts", "lxc.pty.max"),
    ("lxc.devttydir", "lxc.tty.dir"),
    ("lxc.aa_profile", "lxc.apparmor.profile"),
    ("lxc.aa_allow_incomplete", "lxc.apparmor.allow_incomplete"),
    ("lxc.se_context", "lxc.selinux.context"),
    ("lxc.seccomp", "lxc.seccomp.profile"),
    ("lxc.id_map", "lxc.idmap"),
    ("lxc.init_cmd", "lxc.init.cmd"),
    ("lxc.init_uid", "lxc.init.uid"),
    ("lxc.init_gid", "lxc.init.gid"),
    ("lxc.console", "lxc.console.path"),
    ("lxc.haltsignal", "lxc.signal.halt"),
    ("lxc.rebootsignal", "lxc.signal.reboot"),
    ("lxc.stopsignal", "lxc.signal.stop"),
    ("lxc.syslog", "lxc.log.syslog"),
    ("lxc.loglevel", "lxc.log.level"),
    ("lxc.logfile", "lxc.log.file"),
    ("lxc.mount", "lxc.mount.fstab"),
    ("lxc.limit", "lxc.prlimit"),
    ("lxc.network", "lxc.net"),
];

const LEGACY_DROPPED: &[&str] = &["lxc.rootfs.backend", "lxc.pivotdir", "lxc.kmsg"];

/// Legacy network subkeys and their lxc.net.N.* names.
const LEGACY_NET: &[(&str, &str)] = &[
    ("type", "type"),
    ("flags", "flags"),
    ("link", "link"),
    ("name", "name"),
    ("macvlan.mode", "macvlan.mode"),
    ("veth.pair", "veth.pair"),
    ("script.up", "script.up"),
    ("script.down", "script.down"),
    ("hwaddr", "hwaddr"),
    ("mtu", "mtu"),
    ("vlan.id", "vlan.id"),
    ("ipv4", "ipv4.address"),
    ("ipv4.gateway", "ipv4.gateway"),
    ("ipv6", "ipv6.address"),
    ("ipv6.gateway", "ipv6.gateway"),
];

fn legacy_net_sub(sub: &str) -> Option<&'static str> {
    LEGACY_NET.iter().find(|(o, _)| *o == sub).map(|(_, n)| *n)
}

/// Translate a pre-3.0 key, if `key` is one.
pub(crate) fn legacy(key: &str) -> Option<Legacy> {
    if let Some((_, new)) = LEGACY_EXACT.iter().find(|(o, _)| *o == key) {
        return Some(Legacy::Rename(new.to_string()));
    }
    if LEGACY_DROPPED.contains(&key) {
        return Some(Legacy::Drop);
    }
    if let Some(name) = key.strip_prefix("lxc.limit.") {
        return values::prlimit_resource(name)
            .map(|_| Legacy::Rename(format!("lxc.prlimit.{name}")));
    }
    if let Some(rest) = key.strip_prefix("lxc.network.") {
        if let Some((idx, sub)) = rest.split_once('.') {
            if !idx.is_empty() && idx.len() <= 9 && idx.bytes().all(|b| b.is_ascii_digit()) {
                let n: u32 = idx.parse().ok()?;
                let sub = legacy_net_sub(sub)?;
                return Some(Legacy::Rename(format!("lxc.net.{n}.{sub}")));
            }
        } else if !rest.is_empty() && rest.len() <= 9 && rest.bytes().all(|b| b.is_ascii_digit()) {
            // lxc.network.N (clears interface N)
            return Some(Legacy::Rename(format!(
                "lxc.net.{}",
                rest.parse::<u32>().ok()?
            )));
        }
        return legacy_net_sub(rest).map(|s| Legacy::NetUnindexed(s.to_string()));
    }
    None
}

/// Whether hako implements `key` (after legacy translation). Unknown keys: false.
pub fn is_supported(key: &str) -> bool {
    match legacy(key) {
        Some(Legacy::Rename(new)) => info(&new).is_some_and(|i| i.supported),
        Some(Legacy::NetUnindexed(sub)) => {
            info(&format!("lxc.net.0.{sub}")).is_some_and(|i| i.supported)
        }
        Some(Legacy::Drop) => false,
        None => info(key).is_some_and(|i| i.supported),
    }
}

/// Whether `key` is a key of lxc.container.conf(5) (current or legacy).
pub fn is_known_key(key: &str) -> bool {
    info(key).is_some() || legacy(key).is_some()
}

/// Whether `key` takes several values (each line adds one; an empty value clears them).
pub fn is_multi_valued(key: &str) -> bool {
    match legacy(key) {
        Some(Legacy::Rename(new)) => info(&new).is_some_and(|i| i.multi),
        Some(Legacy::NetUnindexed(sub)) => {
            info(&format!("lxc.net.0.{sub}")).is_some_and(|i| i.multi)
        }
        Some(Legacy::Drop) => false,
        None => info(key).is_some_and(|i| i.multi),
    }
}

/// All concrete key names (net keys for index 0, prlimit/namespace.share for every name).
pub fn known_keys() -> Vec<String> {
    let mut out: Vec<String> = EXACT.iter().map(|(n, _)| n.to_string()).collect();
    out.extend(NET.iter().map(|(s, _)| format!("lxc.net.0.{s}")));
    out.extend(
        values::RLIMITS
            .iter()
            .map(|(n, _)| format!("lxc.prlimit.{n}")),
    );
    out.extend(
        values::NAMESPACES
            .iter()
            .map(|n| format!("lxc.namespace.share.{n}")),
    );
    out
}

/// A plausible intended key for an unknown one (always a current, non-legacy name).
pub(crate) fn suggest(key: &str) -> Option<String> {
    if key.len() > 200 {
        return None;
    }
    // missing "lxc." prefix, or wrong case
    let lower = key.to_ascii_lowercase();
    for cand in [format!("lxc.{lower}"), lower.clone()] {
        if cand != key && is_known_key(&cand) {
            return Some(current_name(&cand));
        }
    }
    // candidates: (name as typed-against, name to suggest)
    let mut cands: Vec<(String, String)> = Vec::new();
    for (n, _) in EXACT {
        cands.push((n.to_string(), n.to_string()));
    }
    for (o, n) in LEGACY_EXACT {
        cands.push((o.to_string(), n.to_string()));
    }
    let idx = key
        .strip_prefix("lxc.net.")
        .or_else(|| key.strip_prefix("lxc.network."))
        .and_then(|r| r.split('.').next())
        .filter(|i| !i.is_empty() && i.len() <= 9 && i.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or("0");
    for (s, _) in NET {
        cands.push((format!("lxc.net.{idx}.{s}"), format!("lxc.net.{idx}.{s}")));
    }
    // names people reach for that never existed (lxc-update-config even wrote the
    // first two for indexed legacy interfaces)
    cands.push((
        format!("lxc.net.{idx}.ipv4"),
        format!("lxc.net.{idx}.ipv4.address"),
    ));
    cands.push((
        format!("lxc.net.{idx}.ipv6"),
        format!("lxc.net.{idx}.ipv6.address"),
    ));
    cands.push(("lxc.console.logpath".into(), "lxc.console.logfile".into()));
    cands.push(("lxc.hostname".into(), "lxc.uts.name".into()));
    for (o, n) in LEGACY_NET {
        cands.push((format!("lxc.network.{o}"), format!("lxc.net.{idx}.{n}")));
    }
    for (n, _) in values::RLIMITS {
        cands.push((format!("lxc.prlimit.{n}"), format!("lxc.prlimit.{n}")));
        cands.push((format!("lxc.limit.{n}"), format!("lxc.prlimit.{n}")));
    }
    for n in values::NAMESPACES {
        cands.push((
            format!("lxc.namespace.share.{n}"),
            format!("lxc.namespace.share.{n}"),
        ));
    }
    if let Some(best) = closest(key, cands.iter().map(|(a, _)| a.as_str())) {
        return cands
            .iter()
            .find(|(a, _)| a == best)
            .map(|(_, b)| b.clone());
    }
    // a controller without a file: lxc.cgroup.memory -> lxc.cgroup.memory.limit_in_bytes
    for (prefix, v2) in [("lxc.cgroup2.", true), ("lxc.cgroup.", false)] {
        if let Some(ctl) = key.strip_prefix(prefix) {
            if !ctl.is_empty() && !ctl.contains(['.', '/', ' ', '\t']) {
                let file = match (ctl, v2) {
                    ("memory", false) => "limit_in_bytes",
                    ("cpu", false) => "shares",
                    ("memory" | "pids" | "cpu" | "io", _) => "max",
                    ("cpuset", _) => "cpus",
                    ("devices", _) => "allow",
                    ("blkio", _) => "weight",
                    _ => "<file>",
                };
                return Some(format!("{prefix}{ctl}.{file}"));
            }
        }
    }
    None
}

fn current_name(key: &str) -> String {
    match legacy(key) {
        Some(Legacy::Rename(new)) => new,
        Some(Legacy::NetUnindexed(sub)) => format!("lxc.net.0.{sub}"),
        _ => key.to_string(),
    }
}

/// Check a value against its key's kind. Empty values are always accepted (they clear).
pub(crate) fn validate(kind: Kind, key: &str, value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Ok(());
    }
    let r = |r: values::Result<()>| r.map_err(|e| e.to_string());
    match kind {
        Any | Include | CgroupValue => Ok(()),
        ClearOnly => Err(format!(
            "\"{key}\" only clears its settings and takes no value; leave the value empty or use a key below it such as \"{}\"",
            match key {
                "lxc.net" => "lxc.net.0.type".to_string(),
                "lxc.cgroup" => "lxc.cgroup.memory.limit_in_bytes".to_string(),
                "lxc.cgroup2" => "lxc.cgroup2.memory.max".to_string(),
                "lxc.prlimit" => "lxc.prlimit.nofile".to_string(),
                "lxc.hook" => "lxc.hook.pre-start".to_string(),
                "lxc.sysctl" => "lxc.sysctl.net.ipv4.ip_forward".to_string(),
                "lxc.proc" => "lxc.proc.oom_score_adj".to_string(),
                k if k.starts_with("lxc.net.") => format!("{k}.type"),
                k => format!("{k}.NAME"),
            }
        )),
        Bool => r(values::parse_bool(value).map(drop)),
        UInt => r(values::parse_uint(value).map(drop)),
        UInt32 => r(values::parse_u32(value).map(drop)),
        Int => r(values::parse_int(value).map(drop)),
        Signal => r(values::parse_signal(value).map(drop)),
        SignalOrZero => {
            if value.trim() == "0" {
                Ok(())
            } else {
                r(values::parse_signal(value).map(drop))
            }
        }
        Caps => {
            let caps = values::parse_caps(value).map_err(|e| e.to_string())?;
            if caps.iter().any(|c| c == "none") {
                return Err("\"none\" is only meaningful for lxc.cap.keep; to drop nothing leave lxc.cap.drop empty".into());
            }
            Ok(())
        }
        CapsKeep => r(values::parse_caps(value).map(drop)),
        MountAuto => r(values::parse_mount_auto(value).map(drop)),
        MountEntry => r(values::parse_mount_entry(value).map(drop)),
        Hostname => r(values::validate_hostname(value)),
        Arch => r(values::parse_arch(value).map(drop)),
        LogLevel => r(values::parse_log_level(value).map(drop)),
        Syslog => r(values::validate_syslog_facility(value)),
        Size => r(values::parse_size(value).map(drop)),
        ConsoleSize => r(values::parse_console_size(value).map(drop)),
        Command => {
            let words = values::split_command(value).map_err(|e| e.to_string())?;
            if words.is_empty() {
                return Err("empty command; write the program and its arguments, such as /sbin/init".into());
            }
            Ok(())
        }
        Environment => r(values::validate_environment(value)),
        Prlimit => {
            let name = key.strip_prefix("lxc.prlimit.").unwrap_or(key);
            r(values::parse_prlimit(name, value).map(drop))
        }
        Idmap => r(values::parse_idmap(value).map(drop)),
        Namespaces => r(values::parse_namespaces(value).map(drop)),
        TimeOffset => r(values::parse_time_offset(value).map(drop)),
        Groups => r(values::parse_groups(value).map(drop)),
        AbsPath => {
            if value.starts_with('/') {
                Ok(())
            } else {
                Err("must be an absolute path inside the container, such as /root".into())
            }
        }
        SeccompProxy => {
            if value.starts_with("unix:") && value.len() > 5 {
                Ok(())
            } else {
                Err("write unix:/path/to/socket or unix:@abstract-name".into())
            }
        }
        NetType => r(net::parse_net_type(value).map(drop)),
        NetFlags => {
            if value == "up" {
                Ok(())
            } else {
                Err("the only flag is \"up\"; write up, or leave the value empty".into())
            }
        }
        IfName => r(net::validate_ifname(value)),
        HwAddr => r(net::parse_hwaddr(value).map(drop)),
        Ipv4Cidr => r(net::parse_ipv4_cidr(value).map(drop)),
        Ipv6Cidr => r(net::parse_ipv6_cidr(value).map(drop)),
        Ipv4Gateway => r(net::parse_ipv4_gateway(value).map(drop)),
        Ipv6Gateway => r(net::parse_ipv6_gateway(value).map(drop)),
        Ipv4Route => match net::parse_ipv4_cidr(value) {
            Ok(c) if c.prefix.is_some() && c.broadcast.is_none() => Ok(()),
            Ok(_) => Err("a route is written A.B.C.D/PREFIX, such as 192.168.1.0/24".into()),
            Err(e) => Err(e.to_string()),
        },
        Ipv6Route => match net::parse_ipv6_cidr(value) {
            Ok(c) if c.prefix.is_some() => Ok(()),
            Ok(_) => Err("a route is written ADDR/PREFIX, such as fd00:1::/64".into()),
            Err(e) => Err(e.to_string()),
        },
        VlanId => match values::parse_uint(value) {
            Ok(n) if n <= 4094 => Ok(()),
            _ => Err("VLAN id must be a number between 0 and 4094".into()),
        },
        VethVlanId => match value {
            "none" => Ok(()),
            _ => match values::parse_uint(value) {
                Ok(n) if n <= 4094 => Ok(()),
                _ => Err("VLAN id must be a number between 0 and 4094, or none".into()),
            },
        },
        Mtu => r(net::parse_mtu(value).map(drop)),
        Choice(options) => {
            if options.contains(&value) {
                Ok(())
            } else {
                Err(format!("use one of {}", options.join(", ")))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups() {
        assert!(info("lxc.uts.name").is_some());
        assert!(info("lxc.net.0.type").is_some());
        assert!(info("lxc.net.12.ipv4.address").unwrap().multi);
        assert!(info("lxc.net.0").is_some());
        assert!(info("lxc.net.x.type").is_none());
        assert!(info("lxc.net.0.typo").is_none());
        assert!(info("lxc.cgroup.devices.allow").unwrap().multi);
        assert!(info("lxc.cgroup2.memory.max").is_some());
        assert!(info("lxc.cgroup.memory").is_none());
        assert!(info("lxc.cgroup.dir.monitr").is_none());
        assert!(info("lxc.cgroup.dir").is_some());
        assert!(info("lxc.prlimit.nofile").is_some());
        assert!(info("lxc.prlimit.nofle").is_none());
        assert!(info("lxc.sysctl.net.ipv4.ip_forward").is_some());
        assert!(info("lxc.proc.oom_score_adj").is_some());
        assert!(info("lxc.namespace.share.net").is_some());
        assert!(info("lxc.namespace.share.nett").is_none());
        assert!(info("lxc.utsname").is_none());
    }

    #[test]
    fn legacy_names() {
        assert_eq!(
            legacy("lxc.utsname"),
            Some(Legacy::Rename("lxc.uts.name".into()))
        );
        assert_eq!(
            legacy("lxc.limit.nofile"),
            Some(Legacy::Rename("lxc.prlimit.nofile".into()))
        );
        assert_eq!(
            legacy("lxc.network.1.ipv4"),
            Some(Legacy::Rename("lxc.net.1.ipv4.address".into()))
        );
        assert_eq!(
            legacy("lxc.network.0.ipv4.gateway"),
            Some(Legacy::Rename("lxc.net.0.ipv4.gateway".into()))
        );
        assert_eq!(
            legacy("lxc.network.ipv6"),
            Some(Legacy::NetUnindexed("ipv6.address".into()))
        );
        assert_eq!(
            legacy("lxc.network.type"),
            Some(Legacy::NetUnindexed("type".into()))
        );
        assert_eq!(
            legacy("lxc.network"),
            Some(Legacy::Rename("lxc.net".into()))
        );
        assert_eq!(legacy("lxc.pivotdir"), Some(Legacy::Drop));
        assert_eq!(legacy("lxc.network.bogus"), None);
        assert_eq!(legacy("lxc.uts.name"), None);
        // every rename target is a known current key
        for (_, new) in LEGACY_EXACT {
            assert!(info(new).is_some(), "{new}");
        }
        for (_, new) in LEGACY_NET {
            assert!(info(&format!("lxc.net.0.{new}")).is_some(), "{new}");
        }
    }

    #[test]
    fn support_and_multi() {
        assert!(is_supported("lxc.uts.name"));
        assert!(is_supported("lxc.utsname"));
        assert!(is_supported("lxc.cgroup.memory.limit_in_bytes"));
        assert!(is_supported("lxc.seccomp.profile"));
        assert!(is_supported("lxc.hook.clone"));
        assert!(is_supported("lxc.sysctl.net.ipv4.ip_forward"));
        assert!(is_supported("lxc.idmap"));
        assert!(!is_supported("lxc.bogus"));
        assert!(is_multi_valued("lxc.cap.drop"));
        assert!(is_multi_valued("lxc.network.ipv4"));
        assert!(!is_multi_valued("lxc.uts.name"));
        for key in known_keys() {
            assert!(is_known_key(&key), "{key}");
        }
    }

    #[test]
    fn suggestions() {
        assert_eq!(suggest("lxc.utsnme").as_deref(), Some("lxc.uts.name"));
        assert_eq!(suggest("lxc.uts.nam").as_deref(), Some("lxc.uts.name"));
        assert_eq!(suggest("uts.name").as_deref(), Some("lxc.uts.name"));
        assert_eq!(suggest("LXC.UTS.NAME").as_deref(), Some("lxc.uts.name"));
        assert_eq!(suggest("lxc.net.1.lnk").as_deref(), Some("lxc.net.1.link"));
        assert_eq!(
            suggest("lxc.prlimit.nofle").as_deref(),
            Some("lxc.prlimit.nofile")
        );
        assert_eq!(suggest("lxc.cap.dorp").as_deref(), Some("lxc.cap.drop"));
        assert_eq!(
            suggest("lxc.cgroup.dir.monitr").as_deref(),
            Some("lxc.cgroup.dir.monitor")
        );
        assert_eq!(suggest("lxc.completely.different.thing"), None);
        assert_eq!(
            suggest("lxc.cgroup.memory").as_deref(),
            Some("lxc.cgroup.memory.limit_in_bytes")
        );
        assert_eq!(
            suggest("lxc.cgroup2.pids").as_deref(),
            Some("lxc.cgroup2.pids.max")
        );
        assert_eq!(
            suggest("lxc.cgroup.dirr").as_deref(),
            Some("lxc.cgroup.dir")
        );
        assert_eq!(
            suggest("lxc.cgroup.hugetlb").as_deref(),
            Some("lxc.cgroup.hugetlb.<file>")
        );
    }
}
