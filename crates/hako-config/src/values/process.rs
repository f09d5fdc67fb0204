//! Values of the container's process and identity: resource limits, sizes, host names,
//! commands and environment.

use super::{did_you_mean, err, parse_uint, Result, ValueError};
use crate::util::shorten;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::{validate_ifname, validate_net_type};

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
}
