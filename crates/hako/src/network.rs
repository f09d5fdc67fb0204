//! Networking in the facade: managed networks (`hako network ...`) and turning a spec's
//! `lxc.net.N.*` into validated interface plans before the monitor forks, so a bad value
//! fails `hako start` with nothing created.

use std::net::IpAddr;
use std::path::PathBuf;

use hako_config::net::Gateway;
use hako_net::{validate_ifname, veth_host_name, DnsAddr, Netlink, Networks};
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

/// The managed networks. `HAKO_DNSMASQ` and `HAKO_NFT` name other dnsmasq/nft programs (a
/// path, or a name looked up on PATH and in the sbin directories): for a dnsmasq built
/// elsewhere, and for tests that need a missing or failing one.
pub fn networks() -> Networks {
    let (state, run) = dirs();
    let mut n = Networks::open(&state, &run);
    if let Some(d) = std::env::var_os("HAKO_DNSMASQ").filter(|v| !v.is_empty()) {
        n = n.with_dnsmasq(d);
    }
    if let Some(t) = std::env::var_os("HAKO_NFT").filter(|v| !v.is_empty()) {
        n = n.with_nft(t);
    }
    n
}

fn nerr(e: hako_net::NetError) -> Error {
    Error::Other(e.to_string())
}

/// Resolve every interface of `spec`. Managed networks the container uses are brought up
/// (the default network is created on first use). Static addresses on managed networks are
/// checked and registered for DNS.
///
/// If planning fails, the DNS names it registered so far are forgotten again: a failed
/// start leaves no reservation behind.
///
/// `owner` names the container across lxcpaths (`Store::container_id`): its DNS entries
/// carry it, so a container of the same name elsewhere never replaces or removes them.
pub fn plan(spec: &ContainerSpec, owner: &str) -> Result<Vec<IfacePlan>> {
    let nets = networks();
    let mut registered: Vec<DnsReg> = Vec::new();
    let r = plan_inner(spec, owner, &nets, &mut registered);
    if r.is_err() {
        forget_dns(&registered);
    }
    r
}

/// Forget the DNS names of `regs` (a start that failed after planning; see
/// [`DnsReg::forget`]).
pub fn forget_dns<'a>(regs: impl IntoIterator<Item = &'a DnsReg>) {
    for d in regs {
        d.forget();
    }
}

fn plan_inner(
    spec: &ContainerSpec,
    owner: &str,
    nets: &Networks,
    registered: &mut Vec<DnsReg>,
) -> Result<Vec<IfacePlan>> {
    let name = &spec.name;
    let cfg = spec.config_path.display();
    let mut plans = Vec::new();
    let mut used_names: Vec<String> = Vec::new();
    let mut host: Option<Netlink> = None;
    // a managed network's error, with the container and the config key it came from
    let cerr = |e: hako_net::NetError, key: String| {
        Error::Other(format!("container \"{name}\": {e} ({key} in {cfg})"))
    };
    for n in &spec.networks {
        let i = n.index;
        let bad = |key: &str, v: &str, why: String| {
            Error::Other(format!(
                "container \"{name}\": bad value \"{v}\" for lxc.net.{i}.{key} in {cfg}: {why}"
            ))
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
            macvlan_mode: None,
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
            (None, _) => format!(
                "eth{}",
                used_names.iter().filter(|x| x.starts_with("eth")).count()
            ),
        };
        validate_ifname(&p.name).map_err(|e| bad("name", &p.name, e.to_string()))?;
        if used_names.contains(&p.name) {
            return Err(bad(
                "name",
                &p.name,
                "another interface of this container has that name".into(),
            ));
        }
        used_names.push(p.name.clone());
        // a template's x digits are filled now, differently at every start (as LXC does)
        p.mac = n.hwaddr.map(|m| m.resolve());
        // (a broadcast address written after an IPv4 address is not used: the address gets
        // its subnet's own, see Netlink::add_address_opts)
        p.ipv4 = n
            .ipv4
            .iter()
            .map(|a| (IpAddr::V4(a.addr), a.prefix_len()))
            .collect();
        p.ipv6 = n
            .ipv6
            .iter()
            .map(|a| (IpAddr::V6(a.addr), a.prefix_len()))
            .collect();
        match n.kind {
            NetKind::Veth => {
                p.veth_router = match n.veth_mode.as_deref() {
                    None | Some("bridge") | Some("") => false,
                    Some("router") => true,
                    Some(o) => return Err(bad("veth.mode", o, "use bridge or router".into())),
                };
                let hn = match &n.veth_pair {
                    Some(v) => v.clone(),
                    // named after the container's owner token (lxcpath and name): two
                    // containers of one name in two lxcpaths get distinct host ends
                    None => veth_host_name(owner, i),
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
                            let link_key = || format!("lxc.net.{i}.link");
                            let def = if br == DEFAULT_NETWORK {
                                Some(nets.get_or_create(br, Default::default()).map_err(|e| cerr(e, link_key()))?)
                            } else {
                                nets.get(br).map_err(|e| cerr(e, link_key()))?
                            };
                            if let Some(def) = &def {
                                nets.up(&def.name).map_err(|e| cerr(e, link_key()))?;
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
                    p.macvlan_mode = Some(m.parse::<hako_net::MacvlanMode>().map_err(|e| bad("macvlan.mode", m, e.to_string()))?);
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
        // gateways (LXC refuses them on an interface it does not bring up: the kernel
        // would refuse the route anyway, or it would be silently missing)
        for (key, set) in [
            ("ipv4.gateway", n.ipv4_gateway.is_some()),
            ("ipv6.gateway", n.ipv6_gateway.is_some()),
        ] {
            if set && !n.up {
                return Err(Error::Other(format!(
                    "container \"{name}\": lxc.net.{i}.{key} is set but interface \"{}\" is not brought up; add lxc.net.{i}.flags = up to {cfg} (or remove the gateway)",
                    p.name
                )));
            }
        }
        if let Some(g) = &n.ipv4_gateway {
            p.ipv4_gateway = Some(match g {
                Gateway::Auto => bridge_address(nl(&mut host)?, p.link.as_deref(), true).ok_or_else(|| {
                    Error::Other(format!(
                        "container \"{name}\": lxc.net.{i}.ipv4.gateway = auto needs an IPv4 address on the bridge \"{}\"; give the bridge one or set the gateway explicitly in {cfg}",
                        p.link.clone().unwrap_or_default()
                    ))
                })?,
                Gateway::Dev => return Err(bad("ipv4.gateway", "dev", "\"dev\" gateways are not supported yet; give an address or auto".into())),
                Gateway::Addr(a) => IpAddr::V4(*a),
            });
        }
        if let Some(g) = &n.ipv6_gateway {
            p.ipv6_gateway = Some(match g {
                Gateway::Auto => bridge_address(nl(&mut host)?, p.link.as_deref(), false).ok_or_else(|| {
                    Error::Other(format!(
                        "container \"{name}\": lxc.net.{i}.ipv6.gateway = auto needs an IPv6 address on the bridge; set the gateway explicitly in {cfg}"
                    ))
                })?,
                Gateway::Dev => return Err(bad("ipv6.gateway", "dev", "not an IPv6 address; use an address or auto".into())),
                Gateway::Addr(a) => IpAddr::V6(*a),
            });
        }
        // managed network: static addresses must fit and be free; names resolve in DNS
        if let Some(net) = &p.managed {
            let addr = match p.ipv4.first() {
                Some((ip, plen)) => DnsAddr::Static(*ip, *plen),
                // A MAC that stays the same from one start to the next (unless lxc.net.N.hwaddr
                // sets one): the container gets its lease (and address) back, instead of taking
                // a new address from the pool at every start until the pool is exhausted.
                None => DnsAddr::Dhcp(
                    *p.mac
                        .get_or_insert_with(|| stable_mac(&spec.config_path, i)),
                ),
            };
            let reg = DnsReg::register(nets, net, &dns_name(&spec.hostname), owner, addr)
                .map_err(|e| cerr(e, format!("lxc.net.{i}.ipv4.address")))?;
            registered.push(reg.clone());
            p.dns = Some(reg);
        }
        plans.push(p);
    }
    Ok(plans)
}

/// The name a container is registered under in its network's DNS: its host name
/// (lxc.uts.name) made a valid DNS name. Container names may hold characters DNS names may
/// not (`web_1`): those become '-', so `web_1` resolves as `web-1` (and a container with a
/// static address still starts).
pub fn dns_name(hostname: &str) -> String {
    let labels: Vec<String> = hostname
        .split('.')
        .map(|l| {
            let l: String = l
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' {
                        c
                    } else {
                        '-'
                    }
                })
                .collect();
            l.trim_matches('-')
                .chars()
                .take(63)
                .collect::<String>()
                .trim_end_matches('-')
                .to_string()
        })
        .filter(|l| !l.is_empty())
        .collect();
    let mut name = labels.join(".");
    name.truncate(253);
    let name = name.trim_end_matches(['.', '-']).to_string();
    if name.is_empty() {
        // nothing usable is left (e.g. "___"): a stable name from a hash
        let mut h: u32 = 0x811c_9dc5;
        for b in hostname.bytes() {
            h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
        }
        return format!("hako-{:06x}", h & 0xff_ffff);
    }
    name
}

/// A locally administered unicast MAC derived from the container's config file and the
/// interface index: the same at every start, different for every container and interface.
fn stable_mac(config: &std::path::Path, index: u32) -> [u8; 6] {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in config
        .as_os_str()
        .as_encoded_bytes()
        .iter()
        .chain(index.to_le_bytes().iter())
    {
        h = (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    let b = h.to_be_bytes();
    // 0x02: locally administered, unicast
    [(b[0] & 0xfc) | 0x02, b[1], b[2], b[3], b[4], b[5]]
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

// ---------------------------------------------------------------------------------------
// `hako network ...`: thin functions over [`Networks`] for the CLI.

pub use hako_net::{CreateNetOpts, HostEntry, Ipv4Choice, Lease, NetworkDef, NetworkStatus};

/// How a managed network is doing, as `hako network ls` shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NetState {
    /// Everything the definition asks for is present and running.
    Up,
    /// Nothing is present (never brought up, taken down, or the host rebooted).
    Down,
    /// Some parts are present, others missing (e.g. dnsmasq died).
    Degraded,
    /// The status could not be read (e.g. nftables needs root).
    Unknown,
}

impl NetState {
    pub fn of(st: &NetworkStatus) -> NetState {
        if st.up {
            NetState::Up
        } else if !st.bridge_exists && !st.nft_table && st.dnsmasq_pid.is_none() {
            NetState::Down
        } else {
            NetState::Degraded
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            NetState::Up => "up",
            NetState::Down => "down",
            NetState::Degraded => "degraded",
            NetState::Unknown => "unknown",
        }
    }
}

/// A definition with its status (None, with the reason, when the status cannot be read).
#[derive(Clone, Debug, serde::Serialize)]
pub struct NetworkSummary {
    #[serde(flatten)]
    pub def: NetworkDef,
    pub state: NetState,
    pub status: Option<NetworkStatus>,
    pub status_error: Option<String>,
}

impl NetworkSummary {
    fn new(def: NetworkDef, status: hako_net::Result<NetworkStatus>) -> NetworkSummary {
        match status {
            Ok(st) => NetworkSummary {
                def,
                state: NetState::of(&st),
                status: Some(st),
                status_error: None,
            },
            Err(e) => NetworkSummary {
                def,
                state: NetState::Unknown,
                status: None,
                status_error: Some(e.to_string()),
            },
        }
    }
}

/// A device attached to a network's bridge and, when known, the container it belongs to.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct NetUser {
    pub interface: String,
    pub container: Option<String>,
}

/// Everything `hako network show` prints.
#[derive(Clone, Debug, serde::Serialize)]
pub struct NetworkDetails {
    #[serde(flatten)]
    pub summary: NetworkSummary,
    /// Devices attached to the bridge.
    pub users: Vec<NetUser>,
    pub leases: Vec<Lease>,
    /// Names registered for DNS (containers with static addresses).
    pub hosts: Vec<HostEntry>,
}

/// Define network `name`. Nothing is brought up (the first `start` that needs it or
/// [`up`] does). An existing name, a bad address or an overlapping subnet is an error.
pub fn create(name: &str, opts: CreateNetOpts) -> Result<NetworkDef> {
    networks().create(name, opts).map_err(nerr)
}

/// All managed networks with their status, sorted by name.
pub fn list() -> Result<Vec<NetworkSummary>> {
    let nets = networks();
    let defs = nets.list().map_err(nerr)?;
    Ok(defs
        .into_iter()
        .map(|d| {
            let st = nets.status(&d.name);
            NetworkSummary::new(d, st)
        })
        .collect())
}

/// The definition of network `name` (an error naming the fix when there is none).
pub fn get(name: &str) -> Result<NetworkDef> {
    definition(&networks(), name)
}

fn definition(nets: &Networks, name: &str) -> Result<NetworkDef> {
    nets.get(name).map_err(nerr)?.ok_or_else(|| {
        Error::Other(format!(
            "network \"{name}\" does not exist; create it with \"hako network create {name}\" (\"hako network ls\" lists the networks)"
        ))
    })
}

/// Definition, status, attached devices (with their containers when `ctx` is given and they
/// belong to running containers of its lxcpath), leases and registered names of `name`.
pub fn show(name: &str, ctx: Option<&crate::Context>) -> Result<NetworkDetails> {
    let nets = networks();
    let def = definition(&nets, name)?;
    let summary = NetworkSummary::new(def, nets.status(name));
    let users = match &summary.status {
        Some(st) => attribute(&st.interfaces, ctx),
        None => Vec::new(),
    };
    Ok(NetworkDetails {
        summary,
        users,
        leases: nets.leases(name).map_err(nerr)?,
        hosts: nets.registered_hosts(name).map_err(nerr)?,
    })
}

/// The DHCP leases of `name`.
pub fn leases(name: &str) -> Result<Vec<Lease>> {
    let nets = networks();
    definition(&nets, name)?;
    nets.leases(name).map_err(nerr)
}

/// Devices attached to the bridge of `name` (empty when the bridge is down).
pub fn users(name: &str, ctx: Option<&crate::Context>) -> Result<Vec<NetUser>> {
    let nets = networks();
    definition(&nets, name)?;
    let st = nets.status(name).map_err(nerr)?;
    Ok(attribute(&st.interfaces, ctx))
}

/// Map host-side device names to the running containers of `ctx` that own them.
fn attribute(interfaces: &[String], ctx: Option<&crate::Context>) -> Vec<NetUser> {
    let mut owner: Vec<(String, String)> = Vec::new();
    if let (Some(ctx), false) = (ctx, interfaces.is_empty()) {
        for c in ctx.list().unwrap_or_default() {
            let Ok(h) = ctx.container(&c) else { continue };
            let Ok(info) = h.info() else { continue };
            for i in info.interfaces {
                if let Some(l) = i.link {
                    owner.push((l, c.clone()));
                }
            }
        }
    }
    interfaces
        .iter()
        .map(|i| NetUser {
            interface: i.clone(),
            container: owner.iter().find(|(l, _)| l == i).map(|(_, c)| c.clone()),
        })
        .collect()
}

/// The refusal of `rm`/`down` on a network in use: names the devices and their containers
/// and how to stop them.
/// `hako` in `"hako stop c1"` is `hako -P DIR` when `lxcpath` is given (not the default).
pub fn in_use_message(
    op: &str,
    name: &str,
    users: &[NetUser],
    lxcpath: Option<&std::path::Path>,
) -> String {
    let hako = match lxcpath {
        Some(p) => format!("hako -P {}", p.display()),
        None => "hako".to_string(),
    };
    let list: Vec<String> = users
        .iter()
        .map(|u| match &u.container {
            Some(c) => format!("{} (container \"{c}\")", u.interface),
            None => u.interface.clone(),
        })
        .collect();
    let mut containers: Vec<&str> = users
        .iter()
        .filter_map(|u| u.container.as_deref())
        .collect();
    containers.sort_unstable();
    containers.dedup();
    let stop = if containers.is_empty() {
        format!("stop the containers that own them (\"{hako} ls -f\" shows the running ones; \"{hako} info NAME\" lists a container's Link: devices)")
    } else {
        let cmds: Vec<String> = containers
            .iter()
            .map(|c| format!("\"{hako} stop {c}\""))
            .collect();
        let rest = if containers.len() < users.len() {
            " and the containers that own the other devices"
        } else {
            ""
        };
        format!("stop them with {}{rest}", cmds.join(", "))
    };
    let anyway = match op {
        "take down" => "take it down",
        other => other,
    };
    let it = if op == "take down" { "" } else { " it" };
    format!(
        "cannot {op} network \"{name}\": devices are attached to its bridge: {}; {stop}, or use -f to {anyway}{it} anyway (those containers lose their network)",
        list.join(", ")
    )
}

/// The lxcpath of `ctx` when it is not the one hako finds by itself.
fn explicit_lxcpath(ctx: Option<&crate::Context>) -> Option<PathBuf> {
    let ctx = ctx?;
    let default = crate::Context::new(ctx.flavour, None)
        .ok()
        .map(|c| c.lxcpath);
    (default.as_ref() != Some(&ctx.lxcpath)).then(|| ctx.lxcpath.clone())
}

/// Remove network `name`: take it down and delete its definition. Refused while devices are
/// attached to its bridge unless `force`.
pub fn remove(name: &str, force: bool, ctx: Option<&crate::Context>) -> Result<()> {
    let nets = networks();
    definition(&nets, name)?;
    let users = match nets.status(name) {
        Ok(st) => attribute(&st.interfaces, ctx),
        Err(e) if force => {
            tracing::warn!("network \"{name}\": {e}; removing it anyway (-f)");
            Vec::new()
        }
        Err(e) => return Err(nerr(e)),
    };
    if !users.is_empty() && !force {
        return Err(Error::Other(in_use_message(
            "remove",
            name,
            &users,
            explicit_lxcpath(ctx).as_deref(),
        )));
    }
    let names: Vec<String> = users
        .iter()
        .map(|u| u.container.clone().unwrap_or_else(|| u.interface.clone()))
        .collect();
    nets.remove(name, force, &names).map_err(nerr)
}

/// Bring network `name` up (bridge, addresses, nft table, dnsmasq), repairing missing parts.
pub fn up(name: &str) -> Result<NetworkStatus> {
    let nets = networks();
    definition(&nets, name)?;
    nets.up(name).map_err(nerr)
}

/// Take network `name` down (the definition stays). Refused while devices are attached to
/// its bridge unless `force`.
pub fn down(name: &str, force: bool, ctx: Option<&crate::Context>) -> Result<()> {
    let nets = networks();
    definition(&nets, name)?;
    if !force {
        let st = nets.status(name).map_err(nerr)?;
        let users = attribute(&st.interfaces, ctx);
        if !users.is_empty() {
            return Err(Error::Other(in_use_message(
                "take down",
                name,
                &users,
                explicit_lxcpath(ctx).as_deref(),
            )));
        }
    }
    nets.down(name).map_err(nerr)
}

#[cfg(test)]
mod cli_tests {
    use super::*;

    fn st(bridge: bool, nft: bool, pid: Option<i32>, up: bool) -> NetworkStatus {
        NetworkStatus {
            name: "n".into(),
            bridge: "n".into(),
            bridge_exists: bridge,
            bridge_up: bridge,
            addresses_ok: bridge,
            nft_wanted: true,
            nft_table: nft,
            dnsmasq_wanted: true,
            dnsmasq_pid: pid,
            interfaces: Vec::new(),
            up,
        }
    }

    #[test]
    fn dns_names() {
        assert_eq!(dns_name("web1"), "web1");
        assert_eq!(dns_name("Web-1"), "Web-1");
        assert_eq!(dns_name("web_1"), "web-1");
        assert_eq!(dns_name("_web_"), "web");
        assert_eq!(dns_name("a.b_c"), "a.b-c");
        assert_eq!(dns_name("a..b."), "a.b");
        assert_eq!(dns_name(&"x".repeat(70)), "x".repeat(63));
        let h = dns_name("___");
        assert!(h.starts_with("hako-") && h.len() == 11, "{h}");
        assert_eq!(h, dns_name("___"));
        for n in ["web_1", "_web_", "a.b_c", "a..b.", "___", "ü-ber", "-x-"] {
            hako_net::validate_dns_name("host name", &dns_name(n)).unwrap();
        }
    }

    #[test]
    fn stable_macs() {
        let p = std::path::Path::new("/var/lib/hako/c1/config");
        let m = stable_mac(p, 0);
        assert_eq!(m, stable_mac(p, 0));
        assert_ne!(m, stable_mac(p, 1));
        assert_ne!(
            m,
            stable_mac(std::path::Path::new("/var/lib/hako/c2/config"), 0)
        );
        assert_eq!(m[0] & 0x03, 0x02, "locally administered unicast: {m:02x?}");
    }

    #[test]
    fn state_of_status() {
        assert_eq!(NetState::of(&st(true, true, Some(1), true)), NetState::Up);
        assert_eq!(NetState::of(&st(false, false, None, false)), NetState::Down);
        assert_eq!(
            NetState::of(&st(true, true, None, false)),
            NetState::Degraded
        );
        assert_eq!(
            NetState::of(&st(false, true, None, false)),
            NetState::Degraded
        );
        assert_eq!(
            NetState::of(&st(false, false, Some(7), false)),
            NetState::Degraded
        );
        assert_eq!(
            serde_json::to_value(NetState::Degraded).unwrap(),
            "degraded"
        );
    }

    #[test]
    fn in_use_messages() {
        let users = vec![
            NetUser {
                interface: "vethaa".into(),
                container: Some("c1".into()),
            },
            NetUser {
                interface: "vethbb".into(),
                container: Some("c1".into()),
            },
            NetUser {
                interface: "vethcc".into(),
                container: None,
            },
        ];
        let m = in_use_message("remove", "hkn1", &users, None);
        assert_eq!(
            m,
            "cannot remove network \"hkn1\": devices are attached to its bridge: vethaa (container \"c1\"), vethbb (container \"c1\"), vethcc; stop them with \"hako stop c1\" and the containers that own the other devices, or use -f to remove it anyway (those containers lose their network)"
        );
        let m = in_use_message(
            "take down",
            "hkn1",
            &users[2..],
            Some(std::path::Path::new("/tmp/lx")),
        );
        assert_eq!(
            m,
            "cannot take down network \"hkn1\": devices are attached to its bridge: vethcc; stop the containers that own them (\"hako -P /tmp/lx ls -f\" shows the running ones; \"hako -P /tmp/lx info NAME\" lists a container's Link: devices), or use -f to take it down anyway (those containers lose their network)"
        );
        let m = in_use_message(
            "remove",
            "hkn1",
            &users[..1],
            Some(std::path::Path::new("/tmp/lx")),
        );
        assert!(
            m.contains("stop them with \"hako -P /tmp/lx stop c1\", or use -f"),
            "{m}"
        );
        assert!(!m.contains('\n'));
    }
}
