//! Networking in the facade: managed networks (`hako network ...`) and turning a spec's
//! `lxc.net.N.*` into validated interface plans before the monitor forks, so a bad value
//! fails `hako start` with nothing created.

use std::net::IpAddr;
use std::path::PathBuf;

use hako_net::{parse_cidr, parse_mac, random_mac, validate_ifname, veth_host_name, Netlink, Networks};
use hako_runtime::net::{DnsReg, IfacePlan};
use hako_runtime::{ContainerSpec, NetKind};

use crate::{Error, Result};

/// The default managed network that new containers join (`/etc/hako/default.conf`).
pub const DEFAULT_NETWORK: &str = hako_net::DEFAULT_NETWORK;

/// Where network definitions (`$HAKO_SYSCONFDIR/hako/networks/`, default /etc/hako) and
/// their runtime files (`$HAKO_RUNDIR/net/`, default /run/hako) live.
pub fn dirs() -> (PathBuf, PathBuf) {
    (hako_store::sysconfdir().join("hako"), hako_store::rundir())
}

pub fn networks() -> Networks {
    let (state, run) = dirs();
    Networks::open(&state, &run)
}

fn nerr(e: hako_net::NetError) -> Error {
    Error::Other(e.to_string())
}

/// Resolve every interface of `spec`. Managed networks the container uses are brought up
/// (the default network is created on first use). Static addresses on managed networks are
/// checked and registered for DNS.
pub fn plan(spec: &ContainerSpec) -> Result<Vec<IfacePlan>> {
    let name = &spec.name;
    let cfg = spec.config_path.display();
    let mut plans = Vec::new();
    let mut used_names: Vec<String> = Vec::new();
    let nets = networks();
    let mut host: Option<Netlink> = None;
    for n in &spec.networks {
        let i = n.index;
        let bad = |key: &str, v: &str, why: String| {
            Error::Other(format!("container \"{name}\": bad value \"{v}\" for lxc.net.{i}.{key} in {cfg}: {why}"))
        };
        let mut p = IfacePlan {
            index: i,
            kind: n.kind.clone(),
            name: String::new(),
            host_name: None,
            link: n.link.clone(),
            mac: None,
            mtu: n.mtu,
            up: n.up,
            ipv4: Vec::new(),
            ipv4_gateway: None,
            ipv6: Vec::new(),
            ipv6_gateway: None,
            macvlan_mode: n.macvlan_mode.clone(),
            veth_router: false,
            script_up: n.script_up.clone(),
            script_down: n.script_down.clone(),
            managed: None,
            dns: None,
        };
        if matches!(n.kind, NetKind::Empty | NetKind::None) {
            plans.push(p);
            continue;
        }
        // name inside the container
        p.name = match (&n.name, &n.kind) {
            (Some(x), _) => x.clone(),
            (None, NetKind::Phys) => n.link.clone().unwrap_or_default(),
            (None, _) => format!("eth{}", used_names.iter().filter(|x| x.starts_with("eth")).count()),
        };
        validate_ifname(&p.name).map_err(|e| bad("name", &p.name, e.to_string()))?;
        if used_names.contains(&p.name) {
            return Err(bad("name", &p.name, "another interface of this container has that name".into()));
        }
        used_names.push(p.name.clone());
        if let Some(m) = &n.hwaddr {
            let m = if m.contains('x') || m.contains('X') { hako_net::fill_mac_template(m).map_err(|e| bad("hwaddr", m, e.to_string()))? } else { m.clone() };
            p.mac = Some(parse_mac(&m).map_err(|e| bad("hwaddr", &m, e.to_string()))?);
        }
        for a in &n.ipv4 {
            let first = a.split_whitespace().next().unwrap_or_default();
            let (ip, plen) = parse_cidr(first).map_err(|e| bad("ipv4.address", a, e.to_string()))?;
            if !ip.is_ipv4() {
                return Err(bad("ipv4.address", a, "not an IPv4 address; use ipv6.address for IPv6".into()));
            }
            p.ipv4.push((ip, plen));
        }
        for a in &n.ipv6 {
            let (ip, plen) = parse_cidr(a).map_err(|e| bad("ipv6.address", a, e.to_string()))?;
            if !ip.is_ipv6() {
                return Err(bad("ipv6.address", a, "not an IPv6 address; use ipv4.address for IPv4".into()));
            }
            p.ipv6.push((ip, plen));
        }
        match n.kind {
            NetKind::Veth => {
                p.veth_router = match n.veth_mode.as_deref() {
                    None | Some("bridge") | Some("") => false,
                    Some("router") => true,
                    Some(o) => return Err(bad("veth.mode", o, "use bridge or router".into())),
                };
                let hn = match &n.veth_pair {
                    Some(v) => v.clone(),
                    None => veth_host_name(name, i),
                };
                validate_ifname(&hn).map_err(|e| bad("veth.pair", &hn, e.to_string()))?;
                if nl(&mut host)?.link_index(&hn).map_err(nerr)?.is_some() {
                    return Err(bad(
                        "veth.pair",
                        &hn,
                        "a device with this name already exists on the host (another container, or a leftover); pick another name or remove it".into(),
                    ));
                }
                p.host_name = Some(hn);
                if !p.veth_router {
                    match &n.link {
                        None => {}
                        Some(br) => {
                            validate_ifname(br).map_err(|e| bad("link", br, e.to_string()))?;
                            // a managed network: bring it up (the default one is created on first use)
                            let def = if br == DEFAULT_NETWORK {
                                Some(nets.get_or_create(br, Default::default()).map_err(nerr)?)
                            } else {
                                nets.get(br).map_err(nerr)?
                            };
                            if let Some(def) = &def {
                                nets.up(&def.name).map_err(nerr)?;
                                p.managed = Some(def.name.clone());
                            }
                            if nl(&mut host)?.link_index(br).map_err(nerr)?.is_none() {
                                return Err(Error::Other(format!(
                                    "container \"{name}\": cannot attach lxc.net.{i} to bridge \"{br}\": no such device; create it with \"hako network create {br}\" (or fix lxc.net.{i}.link in {cfg})"
                                )));
                            }
                        }
                    }
                }
            }
            NetKind::Macvlan => {
                let parent = n.link.clone().ok_or_else(|| {
                    Error::Other(format!(
                        "container \"{name}\": lxc.net.{i}.type = macvlan needs lxc.net.{i}.link (the parent device) in {cfg}"
                    ))
                })?;
                if nl(&mut host)?.link_index(&parent).map_err(nerr)?.is_none() {
                    return Err(Error::Other(format!(
                        "container \"{name}\": macvlan parent device \"{parent}\" (lxc.net.{i}.link) does not exist on the host; fix it in {cfg}"
                    )));
                }
                if let Some(m) = &n.macvlan_mode {
                    m.parse::<hako_net::MacvlanMode>().map_err(|e| bad("macvlan.mode", m, e.to_string()))?;
                }
            }
            NetKind::Phys => {
                let dev = n.link.clone().ok_or_else(|| {
                    Error::Other(format!(
                        "container \"{name}\": lxc.net.{i}.type = phys needs lxc.net.{i}.link (the host device to move in) in {cfg}"
                    ))
                })?;
                if nl(&mut host)?.link_index(&dev).map_err(nerr)?.is_none() {
                    return Err(Error::Other(format!(
                        "container \"{name}\": cannot move device \"{dev}\" into the container (lxc.net.{i}.link): no such device on the host; check \"ip link\" and fix {cfg}"
                    )));
                }
                p.host_name = Some(dev);
            }
            NetKind::Vlan | NetKind::Ipvlan => {
                return Err(Error::Other(format!(
                    "container \"{name}\": lxc.net.{i}.type = {} is not supported by hako yet; use veth, macvlan or phys",
                    if n.kind == NetKind::Vlan { "vlan" } else { "ipvlan" }
                )))
            }
            NetKind::Empty | NetKind::None => unreachable!(),
        }
        // gateways
        if let Some(g) = &n.ipv4_gateway {
            p.ipv4_gateway = Some(match g.as_str() {
                "auto" => bridge_address(nl(&mut host)?, p.link.as_deref(), true).ok_or_else(|| {
                    Error::Other(format!(
                        "container \"{name}\": lxc.net.{i}.ipv4.gateway = auto needs an IPv4 address on the bridge \"{}\"; give the bridge one or set the gateway explicitly in {cfg}",
                        p.link.clone().unwrap_or_default()
                    ))
                })?,
                "dev" => return Err(bad("ipv4.gateway", g, "\"dev\" gateways are not supported yet; give an address or auto".into())),
                other => other.parse::<IpAddr>().ok().filter(|a| a.is_ipv4()).ok_or_else(|| bad("ipv4.gateway", other, "not an IPv4 address; use an address or auto".into()))?,
            });
        }
        if let Some(g) = &n.ipv6_gateway {
            p.ipv6_gateway = Some(match g.as_str() {
                "auto" => bridge_address(nl(&mut host)?, p.link.as_deref(), false).ok_or_else(|| {
                    Error::Other(format!(
                        "container \"{name}\": lxc.net.{i}.ipv6.gateway = auto needs an IPv6 address on the bridge; set the gateway explicitly in {cfg}"
                    ))
                })?,
                other => other.parse::<IpAddr>().ok().filter(|a| a.is_ipv6()).ok_or_else(|| bad("ipv6.gateway", other, "not an IPv6 address; use an address or auto".into()))?,
            });
        }
        // managed network: static addresses must fit and be free; names resolve in DNS
        if let Some(net) = &p.managed {
            let hostname = spec.hostname.clone();
            if let Some((ip, plen)) = p.ipv4.first() {
                nets.check_static(net, *ip, *plen).map_err(nerr)?;
                nets.register_host(net, &hostname, *ip).map_err(nerr)?;
            } else {
                if p.mac.is_none() {
                    p.mac = Some(random_mac());
                }
                let _ = nets.register_dhcp_host(net, &hostname, p.mac.unwrap());
            }
            let (state_dir, run_dir) = dirs();
            p.dns = Some(DnsReg { state_dir, run_dir, network: net.clone(), hostname });
        }
        plans.push(p);
    }
    Ok(plans)
}

fn nl(host: &mut Option<Netlink>) -> Result<&mut Netlink> {
    if host.is_none() {
        *host = Some(Netlink::new().map_err(nerr)?);
    }
    Ok(host.as_mut().unwrap())
}

/// The first address of the bridge `link` (for `gateway = auto`).
fn bridge_address(host: &mut Netlink, link: Option<&str>, v4: bool) -> Option<IpAddr> {
    let link = link?;
    host.addresses(Some(link))
        .ok()?
        .into_iter()
        .map(|a| a.addr)
        .find(|a| a.is_ipv4() == v4 && !matches!(a, IpAddr::V6(v) if v.is_unicast_link_local()))
}
