//! Parsers for option values shared by both faces. Each returns a message that names the
//! value, what is wrong and what is expected.

use std::time::Duration;

use crate::State;

/// `-s 'RUNNING|FROZEN'`: states separated by `|` (LXC also tolerates spaces and commas).
pub fn parse_states(s: &str) -> Result<Vec<State>, String> {
    let mut states = Vec::new();
    for part in s.split(['|', ',', ' ']).filter(|p| !p.trim().is_empty()) {
        match State::parse(part) {
            Some(st) => {
                if !states.contains(&st) {
                    states.push(st)
                }
            }
            None => {
                return Err(format!(
                    "invalid state \"{}\" in \"{s}\"; use one or more of STOPPED, STARTING, RUNNING, STOPPING, ABORTING, FREEZING, FROZEN, THAWED separated by '|'",
                    part.trim()
                ))
            }
        }
    }
    if states.is_empty() {
        return Err(
            "no state given to wait for; pass -s with states such as 'RUNNING|FROZEN'".into(),
        );
    }
    Ok(states)
}

/// `-e ^b` / `-e b` / `-e B`: the Ctrl letter of the console escape prefix, lower case.
pub fn parse_escape(s: &str) -> Result<u8, String> {
    let letter = s.strip_prefix('^').unwrap_or(s);
    let mut chars = letter.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) if c.is_ascii_alphabetic() => Ok(c.to_ascii_lowercase() as u8),
        _ => Err(format!(
            "invalid escape prefix \"{s}\"; give one letter, optionally after '^' (for example \"^b\" for Ctrl-b)"
        )),
    }
}

/// `-s KEY=VAL`, `-v VAR=VAL`: split at the first '='; the key must not be empty.
pub fn parse_key_val(s: &str, what: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.trim().to_string())),
        _ => Err(format!("invalid {what} \"{s}\"; expected KEY=VALUE")),
    }
}

/// Same for `-v VAR=VAL`, where the value is kept as given (no trimming).
pub fn parse_env_var(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() && !k.contains(char::is_whitespace) => {
            Ok((k.to_string(), v.to_string()))
        }
        _ => Err(format!(
            "invalid environment variable \"{s}\"; expected VAR=VALUE (for example -v TERM=xterm)"
        )),
    }
}

/// A uid/gid/tty number.
pub fn parse_u32(s: &str, what: &str) -> Result<u32, String> {
    s.trim()
        .parse::<u32>()
        .map_err(|_| format!("invalid {what} \"{s}\"; expected a non-negative integer"))
}

/// `lxc-stop -t SECS`: an integer, -1 meaning forever.
pub fn parse_stop_timeout(s: &str) -> Result<i64, String> {
    match s.trim().parse::<i64>() {
        Ok(t) if t >= -1 => Ok(t),
        _ => Err(format!(
            "invalid timeout \"{s}\"; give seconds as an integer, or -1 to wait forever"
        )),
    }
}

/// `lxc-wait -t SECS`: negative means forever (LXC's default is -1).
pub fn parse_wait_timeout(s: &str) -> Result<Option<Duration>, String> {
    match s.trim().parse::<i64>() {
        Ok(t) if t < 0 => Ok(None),
        Ok(t) => Ok(Some(Duration::from_secs(t as u64))),
        Err(_) => Err(format!(
            "invalid timeout \"{s}\"; give seconds as an integer, or -1 to wait forever"
        )),
    }
}

/// `lxc-attach -e [CAP|CGROUP|LSM]`: without a value (or an empty one) all three, as LXC.
pub fn parse_elevated_privileges(
    s: Option<&str>,
) -> Result<hako_runtime::attach::Elevated, String> {
    let all = hako_runtime::attach::Elevated::ALL;
    let Some(s) = s else { return Ok(all) };
    let mut e = hako_runtime::attach::Elevated::default();
    let mut any = false;
    for part in s.split('|').filter(|p| !p.trim().is_empty()) {
        any = true;
        match part.trim().to_ascii_uppercase().as_str() {
            "CAP" => e.cap = true,
            "CGROUP" => e.cgroup = true,
            "LSM" => e.lsm = true,
            other => {
                return Err(format!(
                "invalid elevated privilege \"{other}\"; use CAP, CGROUP or LSM separated by '|'"
            ))
            }
        }
    }
    Ok(if any { e } else { all })
}

/// `lxc-attach -s/--namespaces FLAGS`: LXC's names, '|'-separated.
pub fn parse_attach_namespaces(s: &str) -> Result<nix::sched::CloneFlags, String> {
    use nix::sched::CloneFlags as F;
    let mut f = F::empty();
    for part in s.split('|').map(str::trim).filter(|p| !p.is_empty()) {
        f |= match part.to_ascii_uppercase().as_str() {
            "MOUNT" => F::CLONE_NEWNS,
            "PID" => F::CLONE_NEWPID,
            "UTSNAME" => F::CLONE_NEWUTS,
            "IPC" => F::CLONE_NEWIPC,
            "USER" => F::CLONE_NEWUSER,
            "NETWORK" => F::CLONE_NEWNET,
            "CGROUP" => F::CLONE_NEWCGROUP,
            other => {
                return Err(format!(
                    "invalid namespace \"{other}\" in -s/--namespaces \"{s}\"; use MOUNT, PID, UTSNAME, IPC, USER, NETWORK or CGROUP separated by '|'"
                ))
            }
        };
    }
    if f.is_empty() {
        return Err(
            "-s/--namespaces needs at least one of MOUNT, PID, UTSNAME, IPC, USER, NETWORK, CGROUP"
                .to_string(),
        );
    }
    Ok(f)
}

/// `lxc-attach -c/--context CTX`: LXC would run the command under that SELinux context;
/// hako applies no SELinux labels, and says which case the host is in.
pub fn selinux_context_message(ctx: &str) -> String {
    if std::path::Path::new("/sys/fs/selinux/enforce").exists() {
        format!(
            "-c/--context \"{ctx}\": LXC would run the command under this SELinux context, \
             but hako applies no SELinux labels (it confines with AppArmor); nothing was run. \
             Drop -c, or use LXC for SELinux-labelled attaches"
        )
    } else {
        format!(
            "-c/--context \"{ctx}\": this host has no SELinux (no /sys/fs/selinux), so the \
             SELinux context LXC would apply to the command cannot be applied; nothing was run. \
             Drop -c"
        )
    }
}

/// The architecture names `lxc-attach -a` / `lxc.arch` accept for the machine we run on.
/// hako attaches with the host's personality, so only these are accepted.
pub fn native_arch_names() -> &'static [&'static str] {
    match std::env::consts::ARCH {
        "x86_64" => &["x86_64", "amd64"],
        "x86" => &["x86", "i386", "i486", "i586", "i686"],
        "aarch64" => &["aarch64", "arm64"],
        "arm" => &["arm", "armhf", "armel", "armv7l"],
        "powerpc64" => &["ppc64", "powerpc64", "ppc64el", "ppc64le"],
        "s390x" => &["s390x"],
        "riscv64" => &["riscv64"],
        _ => &[],
    }
}

pub fn check_attach_arch(s: &str) -> Result<(), String> {
    let names = native_arch_names();
    if names.iter().any(|n| n.eq_ignore_ascii_case(s.trim())) {
        Ok(())
    } else {
        Err(format!(
            "architecture \"{s}\" is not supported by hako attach: it runs commands with the host's architecture ({}); drop -a",
            std::env::consts::ARCH
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states() {
        assert_eq!(parse_states("RUNNING").unwrap(), vec![State::Running]);
        assert_eq!(
            parse_states("RUNNING|FROZEN").unwrap(),
            vec![State::Running, State::Frozen]
        );
        assert_eq!(
            parse_states("stopped | running|stopped").unwrap(),
            vec![State::Stopped, State::Running]
        );
        let e = parse_states("RUNNING|BOGUS").unwrap_err();
        assert!(e.contains("\"BOGUS\""), "{e}");
        assert!(parse_states("").is_err());
        assert!(parse_states("|").is_err());
    }

    #[test]
    fn escape() {
        assert_eq!(parse_escape("^b").unwrap(), b'b');
        assert_eq!(parse_escape("b").unwrap(), b'b');
        assert_eq!(parse_escape("B").unwrap(), b'b');
        assert_eq!(parse_escape("^A").unwrap(), b'a');
        assert!(parse_escape("^").is_err());
        assert!(parse_escape("").is_err());
        assert!(parse_escape("ab").is_err());
        assert!(parse_escape("^1").is_err());
        assert!(parse_escape("^^b").is_err());
    }

    #[test]
    fn key_val() {
        assert_eq!(
            parse_key_val("lxc.uts.name = x", "definition").unwrap(),
            ("lxc.uts.name".to_string(), "x".to_string())
        );
        assert_eq!(
            parse_key_val("a=b=c", "definition").unwrap(),
            ("a".to_string(), "b=c".to_string())
        );
        assert!(parse_key_val("novalue", "definition").is_err());
        assert!(parse_key_val("=x", "definition").is_err());
        assert_eq!(
            parse_env_var("FOO= a b").unwrap(),
            ("FOO".to_string(), " a b".to_string())
        );
        assert!(parse_env_var("FOO").is_err());
        assert!(parse_env_var("A B=c").is_err());
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_u32("1000", "uid").unwrap(), 1000);
        assert!(parse_u32("-1", "uid").is_err());
        assert!(parse_u32("x", "uid").is_err());
        assert_eq!(parse_stop_timeout("-1").unwrap(), -1);
        assert_eq!(parse_stop_timeout("30").unwrap(), 30);
        assert!(parse_stop_timeout("-2").is_err());
        assert!(parse_stop_timeout("soon").is_err());
        assert_eq!(parse_wait_timeout("-1").unwrap(), None);
        assert_eq!(
            parse_wait_timeout("5").unwrap(),
            Some(Duration::from_secs(5))
        );
        assert!(parse_wait_timeout("5s").is_err());
    }

    #[test]
    fn elevated() {
        use hako_runtime::attach::Elevated;
        assert_eq!(parse_elevated_privileges(None), Ok(Elevated::ALL));
        assert_eq!(
            parse_elevated_privileges(Some("CAP|cgroup")),
            Ok(Elevated {
                cap: true,
                cgroup: true,
                lsm: false
            })
        );
        assert!(parse_elevated_privileges(Some("CAP|ROOT")).is_err());
    }

    #[test]
    fn arch() {
        assert!(check_attach_arch(std::env::consts::ARCH).is_ok());
        assert!(check_attach_arch("no-such-arch").is_err());
    }
}
