//! Device rules (lxc.cgroup.devices.allow/deny) and their v1 semantics, which the v2 eBPF
//! program and the emulated devices.list reproduce.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::CgroupError;

/// Access bits, with the values of the kernel's BPF_DEVCG_ACC_* constants.
pub const ACC_MKNOD: u8 = 1;
pub const ACC_READ: u8 = 2;
pub const ACC_WRITE: u8 = 4;
pub const ACC_ALL: u8 = ACC_MKNOD | ACC_READ | ACC_WRITE;

/// One device rule: `allow` (devices.allow) or deny (devices.deny) of `kind` 'a' (all),
/// 'c' (char) or 'b' (block) devices `major:minor` (None = '*') for `access` ⊆ "rwm".
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRule {
    pub allow: bool,
    pub kind: char,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    pub access: String,
}

/// Highest device number accepted (the BPF program compares 32-bit immediates).
const MAX_NUMBER: u32 = i32::MAX as u32;

fn access_bits(s: &str) -> u8 {
    s.chars().fold(0, |b, c| {
        b | match c {
            'r' => ACC_READ,
            'w' => ACC_WRITE,
            'm' => ACC_MKNOD,
            _ => 0,
        }
    })
}

fn access_string(bits: u8) -> String {
    let mut s = String::with_capacity(3);
    if bits & ACC_READ != 0 {
        s.push('r');
    }
    if bits & ACC_WRITE != 0 {
        s.push('w');
    }
    if bits & ACC_MKNOD != 0 {
        s.push('m');
    }
    s
}

fn number(n: Option<u32>) -> String {
    n.map_or_else(|| "*".to_string(), |n| n.to_string())
}

impl DeviceRule {
    /// Parse a rule as written to devices.allow/deny: "c 1:3 rwm", "a", "b *:* m",
    /// "c 136:* rwm". The access is stored in the kernel's order ("rwm").
    pub fn parse(allow: bool, s: &str) -> Result<DeviceRule, CgroupError> {
        let bad = |reason: &str| CgroupError::InvalidDeviceRule {
            rule: s.to_string(),
            reason: reason.to_string(),
        };
        let mut it = s.split_whitespace();
        let kind = match it.next() {
            None => return Err(bad("it is empty")),
            Some("a") => 'a',
            Some("c") => 'c',
            Some("b") => 'b',
            Some(_) => return Err(bad("the type must be a, c or b")),
        };
        let nums = it.next();
        let acc = it.next();
        if it.next().is_some() {
            return Err(bad("too many fields"));
        }
        if kind == 'a' {
            // The kernel ignores what follows "a"; accept the usual "a *:* rwm" spelling.
            if !matches!(nums, None | Some("*:*")) || acc.is_some_and(|a| access_bits(a) == 0) {
                return Err(bad("\"a\" stands for every device; write just \"a\""));
            }
            return Ok(DeviceRule {
                allow,
                kind,
                major: None,
                minor: None,
                access: "rwm".into(),
            });
        }
        let nums = nums.ok_or_else(|| bad("MAJOR:MINOR is missing"))?;
        let (maj, min) = nums
            .split_once(':')
            .ok_or_else(|| bad("MAJOR:MINOR needs a ':'"))?;
        let num = |v: &str| -> Result<Option<u32>, CgroupError> {
            if v == "*" {
                return Ok(None);
            }
            match v.parse::<u32>() {
                Ok(n) if n <= MAX_NUMBER && v.bytes().all(|b| b.is_ascii_digit()) => Ok(Some(n)),
                _ => Err(bad("a device number must be a decimal number or '*'")),
            }
        };
        let (major, minor) = (num(maj)?, num(min)?);
        let acc = acc.ok_or_else(|| bad("the access (a combination of r, w, m) is missing"))?;
        if acc.is_empty() || acc.len() > 3 || acc.chars().any(|c| !"rwm".contains(c)) {
            return Err(bad("the access must be a combination of r, w and m"));
        }
        if access_bits(acc).count_ones() as usize != acc.len() {
            return Err(bad("the access repeats a letter"));
        }
        Ok(DeviceRule {
            allow,
            kind,
            major,
            minor,
            access: access_string(access_bits(acc)),
        })
    }

    /// The rule as written to devices.allow/devices.deny: "c 1:3 rwm", "a".
    pub fn to_v1_string(&self) -> String {
        if self.kind == 'a' {
            return "a".to_string();
        }
        format!(
            "{} {}:{} {}",
            self.kind,
            number(self.major),
            number(self.minor),
            self.access
        )
    }

    pub(crate) fn access_bits(&self) -> u8 {
        access_bits(&self.access)
    }
}

impl fmt::Display for DeviceRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.allow { "allow " } else { "deny " })?;
        f.write_str(&self.to_v1_string())
    }
}

/// The devices every container may use (runc's and crun's OCI defaults, LXC's common
/// set): mknod of any node, the usual pseudo-devices, ttys and ptys.
pub const STANDARD_DEVICE_RULES: &[&str] = &[
    "c *:* m",
    "b *:* m",
    "c 1:3 rwm",
    "c 1:5 rwm",
    "c 1:7 rwm",
    "c 1:8 rwm",
    "c 1:9 rwm",
    "c 5:0 rwm",
    "c 5:1 rwm",
    "c 5:2 rwm",
    "c 136:* rwm",
];

/// hako's default device policy (LXC's, plus fuse and tun): deny everything, then the
/// [`STANDARD_DEVICE_RULES`] and /dev/fuse and /dev/net/tun.
pub fn default_device_rules() -> Vec<DeviceRule> {
    let mut v = vec![DeviceRule::parse(false, "a").expect("valid rule")];
    for r in STANDARD_DEVICE_RULES
        .iter()
        .chain(&["c 10:229 rwm", "c 10:200 rwm"])
    {
        v.push(DeviceRule::parse(true, r).expect("valid rule"));
    }
    v
}

/// The writes that put `rules` in place on a v1 devices controller, in order: "a" to
/// devices.deny, then each rule to devices.allow or devices.deny (a leading "deny a" is
/// the first write already). Pure: [`crate::Cgroup::apply_devices`] carries them out.
pub fn v1_device_writes(rules: &[DeviceRule]) -> Vec<(&'static str, String)> {
    let mut v = vec![("devices.deny", "a".to_string())];
    for (i, r) in rules.iter().enumerate() {
        if i == 0 && !r.allow && r.kind == 'a' {
            continue; // what was just written
        }
        let file = if r.allow {
            "devices.allow"
        } else {
            "devices.deny"
        };
        v.push((file, r.to_v1_string()));
    }
    v
}

/// One exception of a v1 device cgroup: a device pattern and access bits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Exception {
    pub kind: char,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    pub access: u8,
}

/// The state a v1 device cgroup reaches after the rules are written to it in order: a
/// default behaviour and a list of exceptions to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Policy {
    pub default_allow: bool,
    pub exceptions: Vec<Exception>,
}

/// Replay the rules with the kernel's v1 semantics (security/device_cgroup.c): "a" sets
/// the default and clears the exceptions; a rule of the other polarity adds an exception
/// (merging access into an identical pattern); a rule of the default's polarity takes
/// access away from an identical exception.
pub(crate) fn policy(rules: &[DeviceRule]) -> Policy {
    let mut p = Policy {
        default_allow: true,
        exceptions: Vec::new(),
    };
    for r in rules {
        if r.kind == 'a' {
            p.default_allow = r.allow;
            p.exceptions.clear();
            continue;
        }
        let same = |e: &Exception| e.kind == r.kind && e.major == r.major && e.minor == r.minor;
        let bits = r.access_bits();
        if r.allow != p.default_allow {
            match p.exceptions.iter_mut().find(|e| same(e)) {
                Some(e) => e.access |= bits,
                None => p.exceptions.push(Exception {
                    kind: r.kind,
                    major: r.major,
                    minor: r.minor,
                    access: bits,
                }),
            }
        } else {
            for e in p.exceptions.iter_mut().filter(|e| same(e)) {
                e.access &= !bits;
            }
            p.exceptions.retain(|e| e.access != 0);
        }
    }
    p
}

#[cfg(test)]
impl Exception {
    fn matches(&self, kind: char, major: u32, minor: u32) -> bool {
        self.kind == kind
            && (self.major.is_none() || self.major == Some(major))
            && (self.minor.is_none() || self.minor == Some(minor))
    }
}

#[cfg(test)]
impl Policy {
    /// The v1 decision for an access (`kind` 'c' or 'b', `access` bits).
    pub fn allows(&self, kind: char, major: u32, minor: u32, access: u8) -> bool {
        if self.default_allow {
            // denied if a deny exception covers any requested bit
            !self
                .exceptions
                .iter()
                .any(|e| e.matches(kind, major, minor) && e.access & access != 0)
        } else {
            // allowed if one allow exception covers every requested bit
            self.exceptions
                .iter()
                .any(|e| e.matches(kind, major, minor) && access & !e.access == 0)
        }
    }
}

/// What devices.list would show on v1 after applying `rules`; for `hako cgroup NAME
/// devices.list` on pure v2, where the kernel has no such file.
pub fn render_devices_list(rules: &[DeviceRule]) -> String {
    let p = policy(rules);
    if p.default_allow {
        // v1 shows only this line for an allow-by-default cgroup
        return "a *:* rwm\n".to_string();
    }
    let mut s = String::new();
    for e in &p.exceptions {
        s.push_str(&format!(
            "{} {}:{} {}\n",
            e.kind,
            number(e.major),
            number(e.minor),
            access_string(e.access)
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(allow: bool, s: &str) -> DeviceRule {
        DeviceRule::parse(allow, s).unwrap()
    }

    #[test]
    fn parses_and_renders() {
        let r = p(true, "c 1:3 rwm");
        assert_eq!(
            (r.kind, r.major, r.minor, r.access.as_str()),
            ('c', Some(1), Some(3), "rwm")
        );
        assert_eq!(r.to_v1_string(), "c 1:3 rwm");
        let r = p(true, "c 136:* wr");
        assert_eq!(
            (r.major, r.minor, r.access.as_str()),
            (Some(136), None, "rw")
        );
        assert_eq!(r.to_v1_string(), "c 136:* rw");
        let r = p(false, "b *:* m");
        assert_eq!((r.kind, r.major, r.minor), ('b', None, None));
        assert_eq!(r.to_v1_string(), "b *:* m");
        let r = p(false, "a");
        assert_eq!((r.kind, r.allow), ('a', false));
        assert_eq!(r.to_v1_string(), "a");
        assert_eq!(p(true, "a *:* rwm").to_v1_string(), "a");
        assert_eq!(
            p(true, "  c   10:200   rwm ").to_v1_string(),
            "c 10:200 rwm"
        );
        assert_eq!(p(true, "c 5:1 m").to_string(), "allow c 5:1 m");
    }

    #[test]
    fn rejects_bad_rules() {
        for s in [
            "",
            "x 1:3 rwm",
            "c 1:3",
            "c 13 rwm",
            "c a:3 rwm",
            "c 1:3 rwx",
            "c 1:3 rr",
            "c 1:3 rwm extra",
            "c -1:3 rwm",
            "c 1:+3 rwm",
            "c 4294967295:1 r",
            "a 1:3 rwm",
        ] {
            let e = DeviceRule::parse(true, s).unwrap_err();
            let msg = e.to_string();
            assert!(msg.starts_with("invalid device rule"), "{s:?}: {msg}");
            assert!(msg.contains("e.g. \"c 1:3 rwm\""), "{msg}");
        }
    }

    #[test]
    fn default_rules_render_like_v1() {
        let rules = default_device_rules();
        assert_eq!(rules.len(), 14);
        assert_eq!(rules[0].to_string(), "deny a");
        assert_eq!(
            render_devices_list(&rules),
            "c *:* m\nb *:* m\nc 1:3 rwm\nc 1:5 rwm\nc 1:7 rwm\nc 1:8 rwm\nc 1:9 rwm\n\
             c 5:0 rwm\nc 5:1 rwm\nc 5:2 rwm\nc 136:* rwm\nc 10:229 rwm\nc 10:200 rwm\n"
        );
    }

    #[test]
    fn policy_follows_v1_semantics() {
        // empty rules: allow all
        assert_eq!(render_devices_list(&[]), "a *:* rwm\n");
        // merging, removing access, removing an exception
        let rules = [
            p(false, "a"),
            p(true, "c 1:3 r"),
            p(true, "c 1:3 w"),
            p(true, "c 4:* rwm"),
            p(false, "c 4:* wm"),
            p(true, "b 8:0 r"),
            p(false, "b 8:0 r"),
        ];
        assert_eq!(render_devices_list(&rules), "c 1:3 rw\nc 4:* r\n");
        let pol = policy(&rules);
        assert!(pol.allows('c', 1, 3, ACC_READ | ACC_WRITE));
        assert!(!pol.allows('c', 1, 3, ACC_MKNOD));
        assert!(pol.allows('c', 4, 7, ACC_READ));
        assert!(!pol.allows('c', 4, 7, ACC_WRITE));
        assert!(!pol.allows('b', 8, 0, ACC_READ));
        // "a" resets everything written before it
        let rules = [p(false, "a"), p(true, "c 1:3 rwm"), p(true, "a")];
        assert_eq!(render_devices_list(&rules), "a *:* rwm\n");
        // allow-by-default with deny exceptions
        let pol = policy(&[p(true, "a"), p(false, "c 1:3 w"), p(false, "b *:* rwm")]);
        assert!(pol.default_allow);
        assert!(pol.allows('c', 1, 3, ACC_READ));
        assert!(!pol.allows('c', 1, 3, ACC_READ | ACC_WRITE));
        assert!(!pol.allows('b', 8, 0, ACC_MKNOD));
        assert!(pol.allows('c', 4, 1, ACC_ALL));
    }
}
