//! Signals (names, numbers, real-time offsets) and capabilities.

use super::{did_you_mean, err, Result};
use crate::util::{closest, shorten};

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
