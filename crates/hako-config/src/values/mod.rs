//! Typed parsers for config values, shared by the loader (validation with file:line errors)
//! and the runtime (which turns the values into syscalls).
//!
//! Every parser returns a [`ValueError`] whose text is the *reason* part of an error
//! message: what is wrong and how to write it instead. The loader wraps it as
//! `FILE:LINE: bad value "V" for "KEY": REASON`.
//!
//! The families have files of their own: `signals` (signals, capabilities), `mount_auto`
//! (`lxc.mount.auto`), `mount_entry` (`lxc.mount.entry` and fstab files), `process`
//! (resource limits, sizes, host names, commands, environment) and `misc` (id maps,
//! namespaces, log levels, architectures, time offsets, groups); all are reachable here.

use std::fmt;

use crate::util::closest;

mod misc;
mod mount_auto;
mod mount_entry;
mod process;
mod signals;

pub use misc::*;
pub use mount_auto::*;
pub use mount_entry::*;
pub use process::*;
pub use signals::*;

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
}
