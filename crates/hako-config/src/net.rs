//! The values of `lxc.net.N.*`, each with the one parser hako has for it: interface type,
//! interface names, MAC addresses (and `x` templates), addresses with prefixes, gateways,
//! MTU.
//!
//! Used by the loader (validation, errors with file:line), by the typed accessors
//! [`Config::net_value`]/[`Config::net_values`] the runtime's spec is built with, and by
//! hako-net, whose subnets ([`parse_ip_prefix`]) parse here too. This crate is the lowest
//! one that needs them (validation) and is pure, so every crate above shares it.
//!
//! The value types serialise as the text they were written as (`"10.0.3.5/24"`,
//! `"00:16:3e:xx:xx:xx"`, `"auto"`), so a spec in JSON reads like the config it came from.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

use crate::util::shorten;
use crate::values::{did_you_mean, Result, ValueError};
use crate::{Config, ConfigError};

fn err<T>(reason: impl Into<String>) -> Result<T> {
    Err(ValueError::new(reason))
}

/// Implements `Display`-based `Serialize` and `Deserialize` through a parser (`$parse`: a
/// function of `&str` returning a `Result` whose error is `Display`) for a value type, so that
/// it serialises as the text it is written as. Used here for the network values and by
/// hako-net for its subnets.
#[macro_export]
macro_rules! serde_as_text {
    ($t:ty, $parse:expr) => {
        impl $crate::__serde::Serialize for $t {
            fn serialize<S: $crate::__serde::Serializer>(
                &self,
                s: S,
            ) -> ::std::result::Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> $crate::__serde::Deserialize<'de> for $t {
            fn deserialize<D: $crate::__serde::Deserializer<'de>>(
                d: D,
            ) -> ::std::result::Result<Self, D::Error> {
                let s = <::std::string::String as $crate::__serde::Deserialize>::deserialize(d)?;
                $parse(&s).map_err(<D::Error as $crate::__serde::de::Error>::custom)
            }
        }
    };
}

// ---------------------------------------------------------------------------------------
// interface type and name

/// `lxc.net.N.type`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum NetType {
    /// new network namespace with loopback only
    Empty,
    /// share the host's network namespace
    None,
    Veth,
    Macvlan,
    Phys,
    Vlan,
    Ipvlan,
}

/// Network types of `lxc.net.N.type`, as written.
pub const NET_TYPES: &[&str] = &["empty", "veth", "vlan", "macvlan", "ipvlan", "phys", "none"];

impl NetType {
    /// The word `lxc.net.N.type` takes (and LXC passes to network scripts).
    pub fn as_str(&self) -> &'static str {
        match self {
            NetType::Empty => "empty",
            NetType::None => "none",
            NetType::Veth => "veth",
            NetType::Macvlan => "macvlan",
            NetType::Phys => "phys",
            NetType::Vlan => "vlan",
            NetType::Ipvlan => "ipvlan",
        }
    }
}

pub fn parse_net_type(s: &str) -> Result<NetType> {
    Ok(match s {
        "empty" => NetType::Empty,
        "none" => NetType::None,
        "veth" => NetType::Veth,
        "macvlan" => NetType::Macvlan,
        "phys" => NetType::Phys,
        "vlan" => NetType::Vlan,
        "ipvlan" => NetType::Ipvlan,
        _ => {
            return err(format!(
                "unknown network type; {}use one of empty, veth, vlan, macvlan, ipvlan, phys, none",
                did_you_mean(s, NET_TYPES.iter().copied())
            ))
        }
    })
}

pub fn validate_net_type(s: &str) -> Result<()> {
    parse_net_type(s).map(drop)
}

/// A network interface name: 1–15 bytes, no `/`, `:` or whitespace, not `.` or `..`.
pub fn validate_ifname(s: &str) -> Result<()> {
    if s.is_empty() {
        return err("empty interface name");
    }
    if s.len() > 15 {
        return err(format!(
            "interface name is {} bytes long; the kernel allows at most 15",
            s.len()
        ));
    }
    if s == "."
        || s == ".."
        || s.chars()
            .any(|c| c == '/' || c == ':' || c.is_whitespace() || c.is_control())
    {
        return err(
            "interface name must not contain '/', ':' or whitespace, and must not be . or ..",
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// MAC addresses

/// A MAC address as `lxc.net.N.hwaddr` takes it: six `:`-separated hex octets in which
/// any digit may be the placeholder `x` (filled with a random digit at create time, see
/// [`crate::randomize_hwaddrs`], or at start, see [`HwAddr::resolve`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HwAddr {
    /// 12 hex digits, `None` for an `x` placeholder
    pub nibbles: [Option<u8>; 12],
}

impl HwAddr {
    /// Whether any digit is still a placeholder.
    pub fn is_template(&self) -> bool {
        self.nibbles.iter().any(|n| n.is_none())
    }

    /// The address, if it has no placeholders.
    pub fn bytes(&self) -> Option<[u8; 6]> {
        let mut out = [0u8; 6];
        for (i, b) in out.iter_mut().enumerate() {
            *b = (self.nibbles[2 * i]? << 4) | self.nibbles[2 * i + 1]?;
        }
        Some(out)
    }

    /// The address with every placeholder digit `i` taken from `random[i]`, as LXC fills a
    /// template at start: a random second digit is even, so the address stays unicast.
    pub fn fill(&self, random: &[u8; 12]) -> [u8; 6] {
        let mut d = [0u8; 12];
        for (i, n) in self.nibbles.iter().enumerate() {
            d[i] = match n {
                Some(v) => *v,
                None if i == 1 => random[i] & 0x0e,
                None => random[i] & 0x0f,
            };
        }
        let mut out = [0u8; 6];
        for (i, b) in out.iter_mut().enumerate() {
            *b = (d[2 * i] << 4) | d[2 * i + 1];
        }
        out
    }

    /// The address to give the interface: this one, or for a template left in the config
    /// (written after create), one filled with random digits ([`HwAddr::fill`]).
    pub fn resolve(&self) -> [u8; 6] {
        match self.bytes() {
            Some(b) => b,
            None => {
                let mut rnd = [0u8; 12];
                random_bytes(&mut rnd);
                self.fill(&rnd)
            }
        }
    }
}

impl fmt::Display for HwAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, n) in self.nibbles.iter().enumerate() {
            if i > 0 && i % 2 == 0 {
                f.write_str(":")?;
            }
            match n {
                Some(d) => write!(f, "{d:x}")?,
                None => f.write_str("x")?,
            }
        }
        Ok(())
    }
}

crate::serde_as_text!(HwAddr, parse_hwaddr);

const HWADDR_FORMAT: &str =
    "write six hex octets such as 00:16:3e:12:34:56 (x digits are randomised at create)";

/// Parse a MAC address or template; rejects multicast and all-zero addresses.
pub fn parse_hwaddr(s: &str) -> Result<HwAddr> {
    let t = s.trim();
    let b = t.as_bytes();
    if b.len() != 17 {
        return err(format!("not a MAC address; {HWADDR_FORMAT}"));
    }
    let mut nibbles = [None; 12];
    let mut n = 0;
    for (i, &c) in b.iter().enumerate() {
        if i % 3 == 2 {
            if c != b':' {
                return err(format!("not a MAC address; {HWADDR_FORMAT}"));
            }
            continue;
        }
        nibbles[n] = match c {
            b'x' | b'X' => None,
            _ => match (c as char).to_digit(16) {
                Some(d) => Some(d as u8),
                None => return err(format!("not a MAC address; {HWADDR_FORMAT}")),
            },
        };
        n += 1;
    }
    let addr = HwAddr { nibbles };
    if matches!(nibbles[1], Some(d) if d & 1 == 1) {
        return err("multicast address (the first octet is odd); an interface needs a unicast address such as 00:16:3e:xx:xx:xx");
    }
    if addr.bytes() == Some([0; 6]) {
        return err(format!(
            "the all-zero address cannot be used; {HWADDR_FORMAT}"
        ));
    }
    Ok(addr)
}

/// Random bytes from the kernel; if that fails (it should not), a time-seeded mix so a
/// create or a start never fails over a MAC address.
pub(crate) fn random_bytes(buf: &mut [u8]) {
    if getrandom::getrandom(buf).is_ok() {
        return;
    }
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mut x = nanos
        ^ (u64::from(std::process::id()) << 32)
        ^ COUNTER.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed);
    for b in buf.iter_mut() {
        // splitmix64
        x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        *b = (z ^ (z >> 31)) as u8;
    }
}

// ---------------------------------------------------------------------------------------
// addresses and prefixes

/// Why [`parse_ip_prefix`] refused a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrefixError {
    /// the part before the '/' is not an IPv4 or IPv6 address
    Address,
    /// the address is this one, but the prefix length is not a number between 0 and 32
    /// (IPv4) or 128 (IPv6)
    Prefix(IpAddr),
}

/// `ADDRESS[/PREFIX]` split at the '/', surrounding whitespace ignored (for messages that
/// quote either part).
pub fn split_prefix(s: &str) -> (&str, Option<&str>) {
    let t = s.trim();
    match t.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (t, None),
    }
}

/// `ADDRESS[/PREFIX]`, IPv4 or IPv6, surrounding whitespace ignored: hako's one parser of
/// an address with a prefix length (interface addresses, routes, managed subnets). The
/// prefix is decimal digits only, at most 32 (IPv4) or 128 (IPv6).
pub fn parse_ip_prefix(s: &str) -> std::result::Result<(IpAddr, Option<u8>), PrefixError> {
    let (a, p) = split_prefix(s);
    let addr: IpAddr = a.parse().map_err(|_| PrefixError::Address)?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match p {
        None => None,
        Some(p) => match p.parse::<u8>() {
            Ok(n) if n <= max && !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => Some(n),
            _ => return Err(PrefixError::Prefix(addr)),
        },
    };
    Ok((addr, prefix))
}

/// LXC's prefix length for an IPv4 address written without one: its class (A: 8, B: 16,
/// C and above: 24).
pub fn default_ipv4_prefix(addr: Ipv4Addr) -> u8 {
    match addr.octets()[0] {
        0..=127 => 8,
        128..=191 => 16,
        _ => 24,
    }
}

/// An IPv4 address for `lxc.net.N.ipv4.address`: `A.B.C.D[/PREFIX] [BROADCAST]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Cidr {
    pub addr: Ipv4Addr,
    pub prefix: Option<u8>,
    pub broadcast: Option<Ipv4Addr>,
}

impl Ipv4Cidr {
    /// The prefix length; without one, the address class ([`default_ipv4_prefix`]).
    pub fn prefix_len(&self) -> u8 {
        self.prefix
            .unwrap_or_else(|| default_ipv4_prefix(self.addr))
    }

    /// The broadcast address: the given one, or computed (none for /31 and /32).
    pub fn broadcast_addr(&self) -> Option<Ipv4Addr> {
        if self.broadcast.is_some() {
            return self.broadcast;
        }
        let p = self.prefix_len();
        if p >= 31 {
            return None;
        }
        let host_mask = u32::MAX >> p;
        Some(Ipv4Addr::from(u32::from(self.addr) | host_mask))
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.addr)?;
        if let Some(p) = self.prefix {
            write!(f, "/{p}")?;
        }
        if let Some(b) = self.broadcast {
            write!(f, " {b}")?;
        }
        Ok(())
    }
}

crate::serde_as_text!(Ipv4Cidr, parse_ipv4_cidr);

/// `A.B.C.D[/PREFIX] [BROADCAST]`.
pub fn parse_ipv4_cidr(s: &str) -> Result<Ipv4Cidr> {
    let mut parts = s.split_whitespace();
    let Some(first) = parts.next() else {
        return err("empty address; write A.B.C.D/PREFIX such as 10.0.3.5/24");
    };
    let bcast = parts.next();
    if parts.next().is_some() {
        return err(
            "too many words; write A.B.C.D/PREFIX [BROADCAST] such as 10.0.3.5/24 10.0.3.255",
        );
    }
    let (addr, prefix) = match parse_ip_prefix(first) {
        Ok((IpAddr::V4(a), p)) => (a, p),
        Err(PrefixError::Prefix(IpAddr::V4(_))) => {
            return err("IPv4 prefix length must be between 0 and 32, as in 10.0.3.5/24")
        }
        _ => {
            return err(format!(
                "\"{}\" is not an IPv4 address; write A.B.C.D/PREFIX such as 10.0.3.5/24",
                shorten(split_prefix(first).0, 40)
            ))
        }
    };
    let broadcast = match bcast {
        None => None,
        Some(b) => Some(b.parse::<Ipv4Addr>().or_else(|_| {
            err(format!(
                "broadcast \"{}\" is not an IPv4 address; write it as A.B.C.D or leave it out",
                shorten(b, 40)
            ))
        })?),
    };
    Ok(Ipv4Cidr {
        addr,
        prefix,
        broadcast,
    })
}

/// An IPv6 address for `lxc.net.N.ipv6.address`: `ADDR[/PREFIX]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Cidr {
    pub addr: Ipv6Addr,
    pub prefix: Option<u8>,
}

impl Ipv6Cidr {
    /// The prefix length, 64 when none is given (as LXC does).
    pub fn prefix_len(&self) -> u8 {
        self.prefix.unwrap_or(64)
    }
}

impl fmt::Display for Ipv6Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.addr)?;
        if let Some(p) = self.prefix {
            write!(f, "/{p}")?;
        }
        Ok(())
    }
}

crate::serde_as_text!(Ipv6Cidr, parse_ipv6_cidr);

/// `ADDR[/PREFIX]`.
pub fn parse_ipv6_cidr(s: &str) -> Result<Ipv6Cidr> {
    let t = s.trim();
    if t.is_empty() || t.split_whitespace().count() != 1 {
        return err("write one IPv6 address with an optional prefix, such as fd00::5/64");
    }
    match parse_ip_prefix(t) {
        Ok((IpAddr::V6(addr), prefix)) => Ok(Ipv6Cidr { addr, prefix }),
        Err(PrefixError::Prefix(IpAddr::V6(_))) => {
            err("IPv6 prefix length must be between 0 and 128, as in fd00::5/64")
        }
        _ => err(format!(
            "\"{}\" is not an IPv6 address; write one such as fd00::5/64",
            shorten(split_prefix(t).0, 50)
        )),
    }
}

// ---------------------------------------------------------------------------------------
// gateways, MTU

/// `lxc.net.N.ipv4.gateway` / `ipv6.gateway`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gateway<A> {
    /// `auto`: the primary address of the link's bridge
    Auto,
    /// `dev`: a device route
    Dev,
    Addr(A),
}

impl<A: fmt::Display> fmt::Display for Gateway<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Gateway::Auto => f.write_str("auto"),
            Gateway::Dev => f.write_str("dev"),
            Gateway::Addr(a) => write!(f, "{a}"),
        }
    }
}

crate::serde_as_text!(Gateway<Ipv4Addr>, parse_ipv4_gateway);
crate::serde_as_text!(Gateway<Ipv6Addr>, parse_ipv6_gateway);

pub fn parse_ipv4_gateway(s: &str) -> Result<Gateway<Ipv4Addr>> {
    parse_gateway(s, "not an IPv4 address; write A.B.C.D, auto or dev")
}

pub fn parse_ipv6_gateway(s: &str) -> Result<Gateway<Ipv6Addr>> {
    parse_gateway(
        s,
        "not an IPv6 address; write an address such as fd00::1, auto or dev",
    )
}

/// `auto`, `dev` or an address of type `A`; `bad` is the reason another value is refused.
fn parse_gateway<A: std::str::FromStr>(s: &str, bad: &str) -> Result<Gateway<A>> {
    match s.trim() {
        "auto" => Ok(Gateway::Auto),
        "dev" => Ok(Gateway::Dev),
        t => t.parse().map(Gateway::Addr).or_else(|_| err(bad)),
    }
}

/// `lxc.net.N.mtu`: 68 (the IPv4 minimum) to 65535.
pub fn parse_mtu(s: &str) -> Result<u32> {
    match crate::values::parse_uint(s) {
        Ok(n) if (68..=65535).contains(&n) => Ok(n as u32),
        _ => err("MTU must be a number between 68 and 65535, such as 1500"),
    }
}

// ---------------------------------------------------------------------------------------
// typed access

impl Config {
    /// `lxc.net.INDEX.SUBKEY` parsed with `parse` (one of this module's parsers); `None`
    /// when unset. A bad value is an error naming the key, the value and its file:line.
    pub fn net_value<T>(
        &self,
        index: u32,
        subkey: &str,
        parse: impl Fn(&str) -> Result<T>,
    ) -> std::result::Result<Option<T>, ConfigError> {
        match self.item(&format!("lxc.net.{index}.{subkey}")) {
            Some(it) => parse(&it.value)
                .map(Some)
                .map_err(|e| crate::load::bad(it, e)),
            None => Ok(None),
        }
    }

    /// Every value of the multi-valued `lxc.net.INDEX.SUBKEY`, parsed with `parse`, in
    /// order (see [`Config::net_value`]).
    pub fn net_values<T>(
        &self,
        index: u32,
        subkey: &str,
        parse: impl Fn(&str) -> Result<T>,
    ) -> std::result::Result<Vec<T>, ConfigError> {
        self.list_items(&format!("lxc.net.{index}.{subkey}"))
            .into_iter()
            .map(|it| parse(&it.value).map_err(|e| crate::load::bad(it, e)))
            .collect()
    }
}

#[cfg(test)]
#[path = "net_tests.rs"]
mod tests;
