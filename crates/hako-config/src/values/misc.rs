//! The rest: id maps, namespaces, log levels and syslog facilities, architectures, time
//! offsets, groups.

use serde::{Deserialize, Serialize};

use super::{did_you_mean, err, parse_u32, Result, ValueError};
use crate::util::shorten;

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
