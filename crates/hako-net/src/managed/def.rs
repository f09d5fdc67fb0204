//! A managed network's definition, the options of `create`, what is up of it; the checks of
//! its names and addresses and the pick of a free subnet.

use std::net::{IpAddr, Ipv4Addr};

use serde::{Deserialize, Serialize};

use crate::error::{NetError, Result};
use crate::names::{validate_ifname, Ipv4Net, Ipv6Net};

/// A managed network's persistent definition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkDef {
    pub name: String,
    /// The Linux bridge; same as `name`.
    pub bridge: String,
    /// The bridge's (host's) address and the subnet's prefix, e.g. `10.47.3.1/24`.
    pub ipv4: Option<Ipv4Net>,
    pub ipv6: Option<Ipv6Net>,
    /// Masquerade traffic from the subnet leaving through other interfaces.
    pub nat: bool,
    /// Serve DHCP (IPv4 leases; router advertisements for IPv6).
    pub dhcp: bool,
    /// DNS domain for container names (`c1.<domain>`), also handed out by DHCP.
    pub dns_domain: Option<String>,
}

impl NetworkDef {
    /// nftables table name: `hako_<name>`.
    pub fn nft_table(&self) -> String {
        format!("hako_{}", self.name)
    }
    /// Whether a dnsmasq runs for this network (it has an address to serve DNS on).
    pub fn wants_dnsmasq(&self) -> bool {
        self.ipv4.is_some() || self.ipv6.is_some()
    }
    /// Whether an nftables table is installed (any address: input rules for DNS/DHCP,
    /// forwarding, and masquerade when `nat`).
    pub fn wants_nft(&self) -> bool {
        self.ipv4.is_some() || self.ipv6.is_some()
    }
    /// The IPv4 DHCP pool, `(first, last)`: the larger run of addresses on either side of
    /// the host address. None for subnets too small to have one.
    pub fn dhcp_pool(&self) -> Option<(Ipv4Addr, Ipv4Addr)> {
        let n = self.ipv4?;
        if n.prefix > 30 {
            return None;
        }
        let (first, last) = n.hosts();
        let (f, l, h) = (u32::from(first), u32::from(last), u32::from(n.addr));
        let below = h.saturating_sub(f);
        let above = l.saturating_sub(h);
        let (a, b) = if above >= below {
            (h + 1, l)
        } else {
            (f, h - 1)
        };
        if a > b {
            return None;
        }
        Some((Ipv4Addr::from(a), Ipv4Addr::from(b)))
    }
}

/// How `create` picks the IPv4 subnet.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Ipv4Choice {
    /// A free private 10.x.y.0/24 that overlaps no host route or address and no other
    /// managed network; the bridge gets `.1`.
    #[default]
    Auto,
    /// This host address and prefix, e.g. `10.47.3.1/24`.
    Cidr(Ipv4Net),
    /// No IPv4 on the bridge.
    None,
}

/// Options of `hako network create`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreateNetOpts {
    pub ipv4: Ipv4Choice,
    pub ipv6: Option<Ipv6Net>,
    pub nat: bool,
    pub dhcp: bool,
    pub dns_domain: Option<String>,
}

impl Default for CreateNetOpts {
    fn default() -> Self {
        CreateNetOpts {
            ipv4: Ipv4Choice::Auto,
            ipv6: None,
            nat: true,
            dhcp: true,
            dns_domain: None,
        }
    }
}

/// What is up of a managed network.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkStatus {
    pub name: String,
    pub bridge: String,
    pub bridge_exists: bool,
    pub bridge_up: bool,
    /// The definition's addresses are all on the bridge.
    pub addresses_ok: bool,
    pub nft_wanted: bool,
    pub nft_table: bool,
    pub dnsmasq_wanted: bool,
    /// Pid of the network's running dnsmasq; None when it is not running (dead or never
    /// started).
    pub dnsmasq_pid: Option<i32>,
    /// Devices attached to the bridge (filled by `status`, empty from `up`).
    pub interfaces: Vec<String>,
    /// Everything the definition asks for is present and running.
    pub up: bool,
}

/// Check a managed network name: it is also the bridge's name and part of the nftables table
/// name, so 1 to 15 characters from `[A-Za-z0-9_.-]`, starting with a letter.
pub fn validate_network_name(name: &str) -> Result<()> {
    let bad = |reason: &str| {
        Err(NetError::invalid(
            "network name",
            name,
            reason,
            "use 1 to 15 letters, digits, '_', '-' or '.', starting with a letter, e.g. hakobr1",
        ))
    };
    if name.is_empty() {
        return bad("it is empty");
    }
    if name.len() > 15 {
        return bad("it is longer than 15 characters (it is also the bridge's device name)");
    }
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return bad("it does not start with a letter");
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return bad("it contains a character other than letters, digits, '_', '-' and '.'");
    }
    validate_ifname(name)
}

/// Check a DNS name (hostname or domain): dot-separated labels of letters, digits and '-'.
pub fn validate_dns_name(what: &'static str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if ok {
        Ok(())
    } else {
        Err(NetError::invalid(
            what,
            name,
            "it is not a valid DNS name",
            "use labels of letters, digits and '-' separated by dots, e.g. web1 or lan.example",
        ))
    }
}

/// Pick a free `10.x.y.1/24` for network `name`: the first /24 not overlapping any of
/// `used` (host routes and addresses, other networks' subnets; default routes must be left
/// out by the caller), starting at a point derived from the name so that different networks
/// tend to get different subnets.
pub fn pick_subnet(name: &str, used: &[(IpAddr, u8)]) -> Option<Ipv4Net> {
    let mut h: u32 = 2166136261;
    for b in name.bytes() {
        h = (h ^ u32::from(b)).wrapping_mul(16777619);
    }
    // 10.1.0.0 .. 10.254.255.0 : 254 * 256 candidates
    const N: u32 = 254 * 256;
    let start = h % N;
    (0..N).map(|i| (start + i) % N).find_map(|k| {
        let cand = Ipv4Net {
            addr: Ipv4Addr::new(10, (1 + k / 256) as u8, (k % 256) as u8, 1),
            prefix: 24,
        };
        (!used.iter().any(|(ip, p)| cand.overlaps(*ip, *p))).then_some(cand)
    })
}

/// A host address must not be the subnet's network or broadcast address.
pub(super) fn check_host_address_v4(name: &str, n: Ipv4Net) -> Result<()> {
    if n.prefix <= 30 && (n.addr == n.network() || n.addr == n.broadcast()) {
        let (first, _) = n.hosts();
        return Err(NetError::invalid(
            "IPv4 bridge address",
            n.to_string(),
            format!("it is the network or broadcast address of {}", n.subnet()),
            format!(
                "give the bridge's own address, e.g. \"hako network create {name} --ipv4 {first}/{}\"",
                n.prefix
            ),
        ));
    }
    if n.prefix > 30 {
        return Err(NetError::invalid(
            "IPv4 subnet",
            n.to_string(),
            "it is too small for a bridge with containers",
            "use a prefix of /30 or shorter, e.g. /24",
        ));
    }
    Ok(())
}
