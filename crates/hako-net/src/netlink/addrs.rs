//! Addresses and routes: add, remove, list.

use std::net::IpAddr;

use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::address::{AddressAttribute, AddressFlags, AddressMessage, AddressScope};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use super::socket::kerr;
use super::{Address, Netlink, Route};
use crate::error::{NetError, Result};

fn family_of(ip: &IpAddr) -> AddressFamily {
    if ip.is_ipv4() {
        AddressFamily::Inet
    } else {
        AddressFamily::Inet6
    }
}

impl Netlink {
    /// Add `addr/prefix` to `link` (IPv4 also gets the subnet's broadcast address).
    pub fn add_address(&mut self, link: &str, addr: IpAddr, prefix: u8) -> Result<()> {
        self.add_address_opts(link, addr, prefix, false)
    }

    /// Like [`Netlink::add_address`]; `nodad` skips IPv6 duplicate address detection so the
    /// address is usable at once (for a bridge without ports, or a container's static address).
    pub fn add_address_opts(
        &mut self,
        link: &str,
        addr: IpAddr,
        prefix: u8,
        nodad: bool,
    ) -> Result<()> {
        let op = || format!("add address {addr}/{prefix} to \"{link}\"");
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if prefix > max {
            return Err(NetError::invalid(
                "prefix length",
                format!("{addr}/{prefix}"),
                format!("it is over {max}"),
                "use a shorter prefix",
            ));
        }
        let idx = self.need_dev(link, &op)?;
        let mut m = AddressMessage::default();
        m.header.family = family_of(&addr);
        m.header.prefix_len = prefix;
        m.header.index = idx;
        m.header.scope = AddressScope::Universe;
        m.attributes.push(AddressAttribute::Local(addr));
        m.attributes.push(AddressAttribute::Address(addr));
        if nodad && addr.is_ipv6() {
            m.attributes
                .push(AddressAttribute::Flags(AddressFlags::Nodad));
        }
        if let IpAddr::V4(v4) = addr {
            if prefix < 31 {
                let net = crate::names::Ipv4Net { addr: v4, prefix };
                m.attributes
                    .push(AddressAttribute::Broadcast(net.broadcast()));
            }
        }
        self.request(RouteNetlinkMessage::NewAddress(m), NLM_F_CREATE | NLM_F_EXCL)
            .map_err(|e| {
                let mut err = kerr(op(), e);
                if let NetError::Kernel { errno: libc::EEXIST, remedy, .. } = &mut err {
                    *remedy = "the device already has this address; remove the duplicate ipv4/ipv6.address line".into();
                }
                err
            })
    }

    /// Remove `addr/prefix` from `link`. Returns false if the link did not have it.
    pub fn del_address(&mut self, link: &str, addr: IpAddr, prefix: u8) -> Result<bool> {
        let op = || format!("remove address {addr}/{prefix} from \"{link}\"");
        let idx = self.need_dev(link, &op)?;
        let mut m = AddressMessage::default();
        m.header.family = family_of(&addr);
        m.header.prefix_len = prefix;
        m.header.index = idx;
        m.attributes.push(AddressAttribute::Local(addr));
        m.attributes.push(AddressAttribute::Address(addr));
        match self.request(RouteNetlinkMessage::DelAddress(m), 0) {
            Ok(()) => Ok(true),
            Err(e) if e.errno == libc::EADDRNOTAVAIL => Ok(false),
            Err(e) => Err(kerr(op(), e)),
        }
    }

    /// Addresses of `link` (or of every link), IPv4 and IPv6.
    pub fn addresses(&mut self, link: Option<&str>) -> Result<Vec<Address>> {
        let op = || match link {
            Some(l) => format!("list the addresses of \"{l}\""),
            None => "list the host's addresses".to_string(),
        };
        match link {
            Some(l) => {
                let idx = self.need_dev(l, &op)?;
                self.addresses_of(Some((idx, l)))
            }
            None => self.addresses_of(None),
        }
    }

    /// Addresses of the link with this (index, name) (or of every link). With a link
    /// given, no dump of the links is needed for the names.
    pub(crate) fn addresses_of(&mut self, link: Option<(u32, &str)>) -> Result<Vec<Address>> {
        let op = || match link {
            Some((_, l)) => format!("list the addresses of \"{l}\""),
            None => "list the host's addresses".to_string(),
        };
        let only = link.map(|(i, _)| i);
        let names = match link {
            Some((i, l)) => vec![(i, l.to_string())],
            None => self.link_names().map_err(|e| kerr(op(), e))?,
        };
        let msgs = self
            .dump(RouteNetlinkMessage::GetAddress(AddressMessage::default()))
            .map_err(|e| kerr(op(), e))?;
        let mut out = Vec::new();
        for m in msgs {
            let RouteNetlinkMessage::NewAddress(a) = m else {
                continue;
            };
            if only.is_some_and(|i| i != a.header.index) {
                continue;
            }
            let local = a.attributes.iter().find_map(|x| match x {
                AddressAttribute::Local(ip) => Some(*ip),
                _ => None,
            });
            let addr = local.or_else(|| {
                a.attributes.iter().find_map(|x| match x {
                    AddressAttribute::Address(ip) => Some(*ip),
                    _ => None,
                })
            });
            let Some(addr) = addr else { continue };
            let name = names
                .iter()
                .find(|(i, _)| *i == a.header.index)
                .map(|(_, n)| n.clone())
                .unwrap_or_default();
            out.push(Address {
                link: name,
                index: a.header.index,
                addr,
                prefix: a.header.prefix_len,
            });
        }
        Ok(out)
    }

    /// Add a route to `dst/prefix` in the main table, via `gw` and/or out of `dev`.
    pub fn add_route(
        &mut self,
        dst: IpAddr,
        prefix: u8,
        gw: Option<IpAddr>,
        dev: Option<&str>,
    ) -> Result<()> {
        let op = || {
            let mut s = format!("add route {dst}/{prefix}");
            if let Some(g) = gw {
                s += &format!(" via {g}");
            }
            if let Some(d) = dev {
                s += &format!(" dev \"{d}\"");
            }
            s
        };
        if gw.is_some_and(|g| g.is_ipv4() != dst.is_ipv4()) {
            return Err(NetError::invalid(
                "gateway",
                gw.map(|g| g.to_string()).unwrap_or_default(),
                format!("it is not of the same family as {dst}"),
                "use an IPv4 gateway for IPv4 routes and an IPv6 one for IPv6",
            ));
        }
        let oif = match dev {
            Some(d) => Some(self.need_dev(d, &op)?),
            None => None,
        };
        let mut m = RouteMessage::default();
        m.header = RouteHeader {
            address_family: family_of(&dst),
            destination_prefix_length: prefix,
            table: RouteHeader::RT_TABLE_MAIN,
            protocol: RouteProtocol::Boot,
            scope: if gw.is_some() {
                RouteScope::Universe
            } else {
                RouteScope::Link
            },
            kind: RouteType::Unicast,
            ..Default::default()
        };
        if prefix > 0 {
            m.attributes
                .push(RouteAttribute::Destination(RouteAddress::from(dst)));
        }
        if let Some(g) = gw {
            m.attributes
                .push(RouteAttribute::Gateway(RouteAddress::from(g)));
        }
        if let Some(i) = oif {
            m.attributes.push(RouteAttribute::Oif(i));
        }
        self.request(RouteNetlinkMessage::NewRoute(m), NLM_F_CREATE | NLM_F_EXCL)
            .map_err(|e| {
                let mut err = kerr(op(), e);
                if let NetError::Kernel { errno, remedy, .. } = &mut err {
                    match *errno {
                        libc::EEXIST => *remedy = "that route already exists; remove the duplicate gateway setting".into(),
                        libc::ENETUNREACH => *remedy = "the gateway is not in any subnet of the interface; add an address in the gateway's subnet first".into(),
                        _ => {}
                    }
                }
                err
            })
    }

    /// Add a default route via `gw` (optionally pinned to `dev`).
    pub fn add_default_route(&mut self, gw: IpAddr, dev: Option<&str>) -> Result<()> {
        let any = if gw.is_ipv4() {
            IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)
        } else {
            IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED)
        };
        self.add_route(any, 0, Some(gw), dev)
    }

    /// All IPv4 and IPv6 routes of every table.
    pub fn routes(&mut self) -> Result<Vec<Route>> {
        let op = || "list the routes".to_string();
        let names = self.link_names().map_err(|e| kerr(op(), e))?;
        let msgs = self
            .dump(RouteNetlinkMessage::GetRoute(RouteMessage::default()))
            .map_err(|e| kerr(op(), e))?;
        let mut out = Vec::new();
        for m in msgs {
            let RouteNetlinkMessage::NewRoute(r) = m else {
                continue;
            };
            let fam = r.header.address_family;
            let mut dst = match fam {
                AddressFamily::Inet => IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
                AddressFamily::Inet6 => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
                _ => continue,
            };
            let mut gateway = None;
            let mut dev = None;
            let mut table = u32::from(r.header.table);
            for a in &r.attributes {
                match a {
                    RouteAttribute::Destination(RouteAddress::Inet(v)) => dst = IpAddr::V4(*v),
                    RouteAttribute::Destination(RouteAddress::Inet6(v)) => dst = IpAddr::V6(*v),
                    RouteAttribute::Gateway(RouteAddress::Inet(v)) => {
                        gateway = Some(IpAddr::V4(*v))
                    }
                    RouteAttribute::Gateway(RouteAddress::Inet6(v)) => {
                        gateway = Some(IpAddr::V6(*v))
                    }
                    RouteAttribute::Oif(i) => {
                        dev = names.iter().find(|(x, _)| x == i).map(|(_, n)| n.clone())
                    }
                    RouteAttribute::Table(t) => table = *t,
                    _ => {}
                }
            }
            out.push(Route {
                dst,
                prefix: r.header.destination_prefix_length,
                gateway,
                dev,
                table,
                unicast: r.header.kind == RouteType::Unicast,
            });
        }
        Ok(out)
    }
}
