//! Interface names, MAC addresses, IP subnets: validation, generation, formatting. (The
//! values themselves parse in hako-config's `net` module.)
//! Pure code, no system calls except the random source.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use hako_config::net::{parse_ip_prefix, split_prefix, PrefixError};

use crate::error::{NetError, Result};

/// Longest interface name the kernel accepts (IFNAMSIZ - 1).
pub const IFNAME_MAX: usize = 15;

/// Check a network interface name the way the kernel's `dev_valid_name()` does.
pub fn validate_ifname(name: &str) -> Result<()> {
    let bad = |reason: String| {
        Err(NetError::invalid(
            "interface name",
            name,
            reason,
            "use 1 to 15 characters without '/', ':' or spaces",
        ))
    };
    if name.is_empty() {
        return bad("it is empty".into());
    }
    if name.len() > IFNAME_MAX {
        return bad(format!(
            "it is {} bytes long, the kernel allows at most {IFNAME_MAX}",
            name.len()
        ));
    }
    if name == "." || name == ".." {
        return bad("\".\" and \"..\" are reserved".into());
    }
    if let Some(c) = name
        .chars()
        .find(|c| *c == '/' || *c == ':' || c.is_whitespace() || c.is_control())
    {
        return bad(format!("it contains {c:?}"));
    }
    Ok(())
}

/// 64-bit FNV-1a, enough to spread container names over a few hex digits.
fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in *p {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Random bytes from the kernel (getrandom(2)); falls back to a time/pid mix if that fails.
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    if getrandom::getrandom(&mut b).is_err() {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let seed = fnv1a(&[&t.to_le_bytes(), &std::process::id().to_le_bytes()]);
        for (i, x) in b.iter_mut().enumerate() {
            *x = (seed >> ((i % 8) * 8)) as u8 ^ (i as u8).wrapping_mul(151);
        }
    }
    b
}

/// A host-side veth name for interface `index` of `container`: `veth` + 6 hex digits of a hash
/// of (container, index) + 4 random hex digits, 14 bytes. The hash part lets an admin group a
/// container's devices; the random part keeps names unique when a stale device of the same
/// container still exists.
pub fn veth_host_name(container: &str, index: u32) -> String {
    let h = fnv1a(&[container.as_bytes(), &index.to_le_bytes()]);
    let r: [u8; 2] = random_bytes();
    format!("veth{:06x}{:02x}{:02x}", h & 0xff_ffff, r[0], r[1])
}

/// `aa:bb:cc:dd:ee:ff`, lower case.
pub fn format_mac(mac: &[u8; 6]) -> String {
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]
    )
}

/// A random unicast, locally administered MAC (first byte `x2`, `x6`, `xa` or `xe`), so it can
/// never collide with a vendor-assigned address. (LXC uses the Xen prefix 00:16:3e; hako keeps
/// that only where a config's `hwaddr` template asks for it, see
/// [`hako_config::net::HwAddr::fill`].)
pub fn random_mac() -> [u8; 6] {
    let mut m: [u8; 6] = random_bytes();
    m[0] = (m[0] & 0xfe) | 0x02;
    m
}

/// The error of a subnet written `ADDRESS/PREFIX` whose address or prefix is bad
/// (hako-config's [`parse_ip_prefix`] parses it).
fn prefix_error(s: &str, e: PrefixError) -> NetError {
    const HINT: &str = "write ADDRESS/PREFIX, e.g. 10.0.3.5/24 or fd42::5/64";
    let (a, p) = split_prefix(s);
    match e {
        PrefixError::Address => NetError::invalid(
            "IP address",
            s,
            format!("\"{a}\" is not an IPv4 or IPv6 address"),
            HINT,
        ),
        PrefixError::Prefix(addr) => NetError::invalid(
            "IP prefix",
            s,
            format!(
                "\"{}\" is not a prefix length between 0 and {}",
                p.unwrap_or_default(),
                if addr.is_ipv4() { 32 } else { 128 }
            ),
            HINT,
        ),
    }
}

/// The mask of a prefix length as an integer (`/24` -> `0xffffff00`).
fn mask32(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix.min(32)))
    }
}

fn mask128(prefix: u8) -> u128 {
    if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(prefix.min(128)))
    }
}

/// True when the two prefixes share at least one address.
pub fn prefixes_overlap(a: IpAddr, ap: u8, b: IpAddr, bp: u8) -> bool {
    let p = ap.min(bp);
    match (a, b) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let m = mask32(p);
            u32::from(a) & m == u32::from(b) & m
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let m = mask128(p);
            u128::from(a) & m == u128::from(b) & m
        }
        _ => false,
    }
}

/// An IPv4 address with its prefix length, e.g. a bridge's `10.47.3.1/24`. Serialised as the
/// string `10.47.3.1/24`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ipv4Net {
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

impl Ipv4Net {
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Result<Self> {
        if prefix > 32 {
            return Err(NetError::invalid(
                "IPv4 prefix",
                format!("{addr}/{prefix}"),
                "the prefix length is over 32",
                "use a prefix between 0 and 32",
            ));
        }
        Ok(Ipv4Net { addr, prefix })
    }
    pub fn netmask(&self) -> Ipv4Addr {
        Ipv4Addr::from(mask32(self.prefix))
    }
    /// The first address of the subnet.
    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) & mask32(self.prefix))
    }
    /// The last address of the subnet.
    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) | !mask32(self.prefix))
    }
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & mask32(self.prefix) == u32::from(self.network())
    }
    /// The subnet itself (`10.47.3.0/24` for `10.47.3.1/24`).
    pub fn subnet(&self) -> Ipv4Net {
        Ipv4Net {
            addr: self.network(),
            prefix: self.prefix,
        }
    }
    pub fn overlaps(&self, ip: IpAddr, prefix: u8) -> bool {
        prefixes_overlap(IpAddr::V4(self.addr), self.prefix, ip, prefix)
    }
    /// Usable host addresses (all but network and broadcast; /31 and /32 have no such pair).
    pub fn hosts(&self) -> (Ipv4Addr, Ipv4Addr) {
        if self.prefix >= 31 {
            (self.network(), self.broadcast())
        } else {
            (
                Ipv4Addr::from(u32::from(self.network()) + 1),
                Ipv4Addr::from(u32::from(self.broadcast()) - 1),
            )
        }
    }
}

impl fmt::Display for Ipv4Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl FromStr for Ipv4Net {
    type Err = NetError;
    fn from_str(s: &str) -> Result<Self> {
        match parse_ip_prefix(s).map_err(|e| prefix_error(s, e))? {
            (_, None) => Err(NetError::invalid(
                "IPv4 subnet",
                s,
                "it has no prefix length",
                "write ADDRESS/PREFIX, e.g. 10.47.3.1/24",
            )),
            (IpAddr::V4(a), Some(p)) => Ipv4Net::new(a, p),
            _ => Err(NetError::invalid(
                "IPv4 subnet",
                s,
                "it is an IPv6 address",
                "write an IPv4 ADDRESS/PREFIX, e.g. 10.47.3.1/24",
            )),
        }
    }
}

/// An IPv6 address with its prefix length, e.g. `fd42:1:2:3::1/64`. Serialised as a string.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ipv6Net {
    pub addr: Ipv6Addr,
    pub prefix: u8,
}

impl Ipv6Net {
    pub fn new(addr: Ipv6Addr, prefix: u8) -> Result<Self> {
        if prefix > 128 {
            return Err(NetError::invalid(
                "IPv6 prefix",
                format!("{addr}/{prefix}"),
                "the prefix length is over 128",
                "use a prefix between 0 and 128",
            ));
        }
        Ok(Ipv6Net { addr, prefix })
    }
    pub fn network(&self) -> Ipv6Addr {
        Ipv6Addr::from(u128::from(self.addr) & mask128(self.prefix))
    }
    pub fn contains(&self, ip: Ipv6Addr) -> bool {
        u128::from(ip) & mask128(self.prefix) == u128::from(self.network())
    }
    pub fn subnet(&self) -> Ipv6Net {
        Ipv6Net {
            addr: self.network(),
            prefix: self.prefix,
        }
    }
    pub fn overlaps(&self, ip: IpAddr, prefix: u8) -> bool {
        prefixes_overlap(IpAddr::V6(self.addr), self.prefix, ip, prefix)
    }
}

impl fmt::Display for Ipv6Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl FromStr for Ipv6Net {
    type Err = NetError;
    fn from_str(s: &str) -> Result<Self> {
        match parse_ip_prefix(s).map_err(|e| prefix_error(s, e))? {
            (_, None) => Err(NetError::invalid(
                "IPv6 subnet",
                s,
                "it has no prefix length",
                "write ADDRESS/PREFIX, e.g. fd42:1:2:3::1/64",
            )),
            (IpAddr::V6(a), Some(p)) => Ipv6Net::new(a, p),
            _ => Err(NetError::invalid(
                "IPv6 subnet",
                s,
                "it is an IPv4 address",
                "write an IPv6 ADDRESS/PREFIX, e.g. fd42:1:2:3::1/64",
            )),
        }
    }
}

hako_config::serde_as_text!(Ipv4Net, Ipv4Net::from_str);
hako_config::serde_as_text!(Ipv6Net, Ipv6Net::from_str);

/// `lxc.net.N.macvlan.mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MacvlanMode {
    Private,
    Vepa,
    #[default]
    Bridge,
    Passthru,
}

impl FromStr for MacvlanMode {
    type Err = NetError;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim() {
            "private" => Ok(MacvlanMode::Private),
            "vepa" => Ok(MacvlanMode::Vepa),
            "bridge" => Ok(MacvlanMode::Bridge),
            "passthru" => Ok(MacvlanMode::Passthru),
            _ => Err(NetError::invalid(
                "macvlan mode",
                s,
                "unknown mode",
                "use one of private, vepa, bridge, passthru",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ifnames() {
        assert!(validate_ifname("eth0").is_ok());
        assert!(validate_ifname("a23456789012345").is_ok());
        let e = validate_ifname("a234567890123456").unwrap_err().to_string();
        assert!(e.contains("16 bytes long"), "{e}");
        assert!(
            e.starts_with("invalid interface name \"a234567890123456\""),
            "{e}"
        );
        for bad in ["", ".", "..", "a/b", "a:b", "a b", "a\tb", "a\nb"] {
            assert!(validate_ifname(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn veth_names() {
        let a = veth_host_name("web", 0);
        assert_eq!(a.len(), 14);
        assert!(a.starts_with("veth"));
        validate_ifname(&a).unwrap();
        // stable hash part, random tail
        let b = veth_host_name("web", 0);
        assert_eq!(a[..10], b[..10]);
        let c = veth_host_name("web", 1);
        assert_ne!(a[..10], c[..10]);
        let many: std::collections::HashSet<String> =
            (0..200).map(|_| veth_host_name("web", 0)).collect();
        assert!(many.len() > 150, "random suffix too weak: {}", many.len());
        // very long container names still fit
        validate_ifname(&veth_host_name(&"x".repeat(300), 7)).unwrap();
    }

    #[test]
    fn macs() {
        assert_eq!(
            format_mac(&[2, 0x16, 0x3e, 0xaa, 0, 0xff]),
            "02:16:3e:aa:00:ff"
        );
        // what format_mac writes, hako-config's parser reads back
        for _ in 0..50 {
            let m = random_mac();
            assert_eq!(m[0] & 1, 0, "multicast");
            assert_eq!(m[0] & 2, 2, "not locally administered");
            let back = hako_config::net::parse_hwaddr(&format_mac(&m)).unwrap();
            assert_eq!(back.bytes(), Some(m));
        }
    }

    #[test]
    fn cidrs() {
        assert_eq!(
            "10.0.3.5/24".parse::<Ipv4Net>().unwrap(),
            Ipv4Net {
                addr: "10.0.3.5".parse().unwrap(),
                prefix: 24
            }
        );
        assert_eq!(
            " fd42::5/64 ".parse::<Ipv6Net>().unwrap(),
            Ipv6Net {
                addr: "fd42::5".parse().unwrap(),
                prefix: 64
            }
        );
        for bad in [
            "10.0.3/24",
            "10.0.3.5/33",
            "fd42::1/129",
            "10.0.3.5/",
            "10.0.3.5/x",
            "hello",
            "",
            "10.0.3.256/24",
        ] {
            let e = bad.parse::<Ipv4Net>().unwrap_err().to_string();
            assert!(e.starts_with("invalid IP"), "{bad:?}: {e}");
            let e = bad.parse::<Ipv6Net>().unwrap_err().to_string();
            assert!(e.starts_with("invalid IP"), "{bad:?}: {e}");
        }
        // what is wrong, in the order a reader checks it: the address, the prefix, its
        // presence, the family
        let msg = |s: &str| s.parse::<Ipv4Net>().unwrap_err().to_string();
        assert_eq!(
            msg("10.0.0.300/24"),
            "invalid IP address \"10.0.0.300/24\": \"10.0.0.300\" is not an IPv4 or IPv6 address; write ADDRESS/PREFIX, e.g. 10.0.3.5/24 or fd42::5/64"
        );
        assert!(
            msg("x").starts_with("invalid IP address \"x\""),
            "{}",
            msg("x")
        );
        assert!(msg("10.0.0.1/33").contains("\"33\" is not a prefix length between 0 and 32"));
        assert!(msg("fd00::1/200").contains("between 0 and 128"));
        assert!(msg("10.0.0.1").contains("it has no prefix length"));
        assert!(msg("fd00::1/64").contains("it is an IPv6 address"));
        assert!("10.1.1.1/24"
            .parse::<Ipv6Net>()
            .unwrap_err()
            .to_string()
            .contains("it is an IPv4 address"));
        let n: Ipv4Net = "10.47.3.1/24".parse().unwrap();
        assert_eq!(n.network().to_string(), "10.47.3.0");
        assert_eq!(n.broadcast().to_string(), "10.47.3.255");
        assert_eq!(n.netmask().to_string(), "255.255.255.0");
        assert_eq!(n.subnet().to_string(), "10.47.3.0/24");
        assert_eq!(
            n.hosts(),
            ("10.47.3.1".parse().unwrap(), "10.47.3.254".parse().unwrap())
        );
        assert!(n.contains("10.47.3.200".parse().unwrap()));
        assert!(!n.contains("10.47.4.1".parse().unwrap()));
        assert!(n.overlaps("10.0.0.0".parse().unwrap(), 8));
        assert!(n.overlaps("10.47.3.128".parse().unwrap(), 25));
        assert!(!n.overlaps("10.47.4.0".parse().unwrap(), 24));
        assert!(!n.overlaps("fd00::".parse().unwrap(), 8));
        assert!(n.overlaps("0.0.0.0".parse().unwrap(), 0));
        assert!("10.47.3.1".parse::<Ipv4Net>().is_err());
        assert!("fd00::1/64".parse::<Ipv4Net>().is_err());
        let j = serde_json::to_string(&n).unwrap();
        assert_eq!(j, "\"10.47.3.1/24\"");
        assert_eq!(serde_json::from_str::<Ipv4Net>(&j).unwrap(), n);
        let v6: Ipv6Net = "fd42:1:2:3::1/64".parse().unwrap();
        assert_eq!(v6.network().to_string(), "fd42:1:2:3::");
        assert!(v6.contains("fd42:1:2:3::99".parse().unwrap()));
        assert!(!v6.contains("fd42:1:2:4::99".parse().unwrap()));
        assert_eq!(
            serde_json::from_str::<Ipv6Net>(&serde_json::to_string(&v6).unwrap()).unwrap(),
            v6
        );
    }

    #[test]
    fn macvlan_modes() {
        assert_eq!(
            "bridge".parse::<MacvlanMode>().unwrap(),
            MacvlanMode::Bridge
        );
        assert_eq!(
            "passthru".parse::<MacvlanMode>().unwrap(),
            MacvlanMode::Passthru
        );
        assert!("bogus".parse::<MacvlanMode>().is_err());
        // in launch options (JSON) as the config writes it
        assert_eq!(
            serde_json::to_string(&MacvlanMode::Private).unwrap(),
            "\"private\""
        );
        assert_eq!(
            serde_json::from_str::<MacvlanMode>("\"passthru\"").unwrap(),
            MacvlanMode::Passthru
        );
    }
}
