//! The container's network interfaces, built by the monitor between clone and "GO":
//! devices are created over netlink on the host (or directly in the child's namespace),
//! moved in, named, addressed and brought up before init runs, and removed (or, for
//! `phys`, given back) at stop.

use std::net::IpAddr;
use std::os::fd::{AsFd, OwnedFd};

use hako_net::{format_mac, MacvlanOptions, Netlink, VethOptions};
use serde::{Deserialize, Serialize};

use crate::error::{Result, RuntimeError};
use crate::spec::NetKind;

/// One interface, fully resolved and validated before the monitor forks (so a bad value
/// fails `hako start` before anything exists).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IfacePlan {
    pub index: u32,
    pub kind: NetKind,
    /// name inside the container
    pub name: String,
    /// veth: the host end; phys: the host device; macvlan: not used
    pub host_name: Option<String>,
    /// veth: the bridge (None in router mode); macvlan: the parent
    pub link: Option<String>,
    pub mac: Option<[u8; 6]>,
    pub mtu: Option<u32>,
    pub up: bool,
    pub ipv4: Vec<(IpAddr, u8)>,
    pub ipv4_gateway: Option<IpAddr>,
    pub ipv6: Vec<(IpAddr, u8)>,
    pub ipv6_gateway: Option<IpAddr>,
    pub macvlan_mode: Option<String>,
    pub veth_router: bool,
    pub script_up: Option<String>,
    pub script_down: Option<String>,
    /// the managed network this interface is on (for DNS registration and `info`)
    pub managed: Option<String>,
    /// a DNS registration to undo at stop
    pub dns: Option<DnsReg>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DnsReg {
    pub state_dir: std::path::PathBuf,
    pub run_dir: std::path::PathBuf,
    pub network: String,
    pub hostname: String,
    /// the registering container, across lxcpaths (hako-store's `Store::container_id`):
    /// only its own entries are removed again
    pub owner: String,
}

/// What the monitor needs to undo a container's network at stop (serialisable: a daemon
/// monitor receives it from `hako start`, which built the network).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct NetState {
    pub host_links: Vec<String>,
    /// phys devices moved in: (name inside, name on the host)
    pub phys: Vec<(String, String)>,
}

/// What exists while the container runs.
pub struct NetRun {
    /// the container's network namespace, held so a phys device can be given back
    /// after init has exited
    pub ns: Option<OwnedFd>,
    /// host-side links we created (deleted at stop)
    pub host_links: Vec<String>,
    /// phys devices moved in: (name inside, name on the host)
    pub phys: Vec<(String, String)>,
    pub plans: Vec<IfacePlan>,
}

fn nerr(name: &str, e: hako_net::NetError) -> RuntimeError {
    RuntimeError::msg(format!("container \"{name}\": {e}"))
}

impl NetRun {
    pub fn state(&self) -> NetState {
        NetState {
            host_links: self.host_links.clone(),
            phys: self.phys.clone(),
        }
    }
}

/// Does any interface need building (anything but empty/none)?
pub fn needs_setup(plans: &[IfacePlan]) -> bool {
    plans
        .iter()
        .any(|p| !matches!(p.kind, NetKind::Empty | NetKind::None))
}

/// Undo a container's network from the monitor (see crate::nl) once init has been reaped:
/// run script.down, forget DNS names, give phys devices back (their namespace `ns` is
/// still held), then let the namespace go and delete the host-side links (see
/// crate::nl::release_links), or wait for their deletion begun already (`links`).
/// Idempotent; errors are logged.
pub fn teardown_state(
    container: &str,
    config_file: &str,
    plans: &[IfacePlan],
    state: &NetState,
    ns: Option<OwnedFd>,
    links: Option<crate::nl::LinkRelease>,
) {
    for p in plans {
        if let Some(s) = &p.script_down {
            if let Err(e) = run_script(container, config_file, s, "down", p) {
                eprintln!("hako monitor: {e}");
            }
        }
        if let Some(d) = &p.dns {
            hako_net::forget_host(&d.run_dir, &d.network, &d.hostname, &d.owner);
        }
    }
    release_devices(container, state, ns, links);
}

/// The netlink half of a teardown, shared by both monitors: give phys devices back (their
/// namespace `ns` is still held), then let the namespace go and wait until the host-side
/// links are gone (deleting them now, or finishing the deletion `links` begun at kill).
pub fn release_devices(
    container: &str,
    state: &NetState,
    ns: Option<OwnedFd>,
    links: Option<crate::nl::LinkRelease>,
) {
    if let Some(ns) = &ns {
        let me = std::process::id() as i32;
        for (inside, host_name) in &state.phys {
            if let Err(e) = crate::nl::move_link_out(ns.as_fd(), inside, me, host_name) {
                eprintln!("hako monitor: container \"{container}\": cannot give {host_name} back to the host: {e}");
            }
        }
    }
    match links {
        Some(l) => {
            drop(ns);
            l.finish();
        }
        None => crate::nl::release_links(&state.host_links, ns),
    }
}

/// Build every interface for the child `pid` (still waiting for "GO"). On error, what
/// was created is removed again.
pub fn setup(container: &str, config_file: &str, plans: &[IfacePlan], pid: i32) -> Result<NetRun> {
    let mut run = NetRun {
        ns: None,
        host_links: Vec::new(),
        phys: Vec::new(),
        plans: plans.to_vec(),
    };
    if plans
        .iter()
        .all(|p| matches!(p.kind, NetKind::Empty | NetKind::None))
    {
        return Ok(run);
    }
    match setup_inner(container, config_file, plans, pid, &mut run) {
        Ok(()) => Ok(run),
        Err(e) => {
            teardown(container, config_file, run);
            Err(e)
        }
    }
}

fn setup_inner(
    container: &str,
    config_file: &str,
    plans: &[IfacePlan],
    pid: i32,
    run: &mut NetRun,
) -> Result<()> {
    let ns_path = format!("/proc/{pid}/ns/net");
    let ns: OwnedFd = std::fs::File::open(&ns_path)
        .map_err(|e| {
            RuntimeError::msg(format!(
                "container \"{container}\": cannot open its network namespace: {e}"
            ))
        })?
        .into();
    let mut host = Netlink::new().map_err(|e| nerr(container, e))?;
    let mut inner = Netlink::in_netns(ns.as_fd()).map_err(|e| nerr(container, e))?;
    run.ns = Some(ns);
    for p in plans {
        match p.kind {
            NetKind::Empty | NetKind::None => continue,
            NetKind::Veth => {
                let host_name = p.host_name.clone().unwrap_or_default();
                host.create_veth_with(
                    &host_name,
                    &p.name,
                    &VethOptions {
                        peer_netns_pid: Some(pid),
                        master: if p.veth_router { None } else { p.link.clone() },
                        mtu: p.mtu,
                        host_mac: None,
                        peer_mac: p.mac,
                        host_up: true,
                    },
                )
                .map_err(|e| nerr(container, e))?;
                run.host_links.push(host_name.clone());
                if p.veth_router {
                    // routes on the host to the container's addresses through the host end,
                    // and proxy ARP so the container can use the host end as its gateway
                    let _ = std::fs::write(format!("/proc/sys/net/ipv4/conf/{host_name}/proxy_arp"), "1");
                    for (a, _) in p.ipv4.iter().chain(p.ipv6.iter()) {
                        let plen = if a.is_ipv4() { 32 } else { 128 };
                        host.add_route(*a, plen, None, Some(&host_name)).map_err(|e| nerr(container, e))?;
                    }
                }
            }
            NetKind::Macvlan => {
                let parent = p.link.clone().unwrap_or_default();
                let mode = p
                    .macvlan_mode
                    .as_deref()
                    .unwrap_or("private")
                    .parse()
                    .map_err(|e: hako_net::NetError| nerr(container, e))?;
                host.create_macvlan_with(
                    &p.name,
                    &parent,
                    mode,
                    &MacvlanOptions { netns_pid: Some(pid), mac: p.mac, mtu: p.mtu, up: false },
                )
                .map_err(|e| nerr(container, e))?;
            }
            NetKind::Phys => {
                let dev = p.host_name.clone().unwrap_or_default();
                host.move_to_netns_pid(&dev, pid).map_err(|e| nerr(container, e))?;
                run.phys.push((dev.clone(), dev.clone()));
                if p.name != dev {
                    inner.set_up(&dev, false).ok();
                    inner.rename(&dev, &p.name).map_err(|e| nerr(container, e))?;
                    run.phys.last_mut().unwrap().0 = p.name.clone();
                }
                if let Some(m) = p.mtu {
                    inner.set_mtu(&p.name, m).map_err(|e| nerr(container, e))?;
                }
                if let Some(mac) = p.mac {
                    inner.set_hwaddr(&p.name, mac).map_err(|e| nerr(container, e))?;
                }
            }
            NetKind::Vlan | NetKind::Ipvlan => {
                return Err(RuntimeError::msg(format!(
                    "container \"{container}\": lxc.net.{}.type = {:?} is not supported by hako yet; use veth or macvlan",
                    p.index, p.kind
                )))
            }
        }
        // inside: addresses, up, routes
        for (a, plen) in p.ipv4.iter().chain(p.ipv6.iter()) {
            inner
                .add_address_opts(&p.name, *a, *plen, a.is_ipv6())
                .map_err(|e| nerr(container, e))?;
        }
        if p.up {
            inner
                .set_up(&p.name, true)
                .map_err(|e| nerr(container, e))?;
            if let Some(gw) = p.ipv4_gateway {
                if p.veth_router {
                    // the gateway is reached through the link itself
                    let _ = inner.add_route(gw, 32, None, Some(&p.name));
                }
                inner
                    .add_default_route(gw, Some(&p.name))
                    .map_err(|e| nerr(container, e))?;
            }
            if let Some(gw) = p.ipv6_gateway {
                let _ = inner.add_route(gw, 128, None, Some(&p.name));
                inner
                    .add_default_route(gw, Some(&p.name))
                    .map_err(|e| nerr(container, e))?;
            }
        }
        if let Some(s) = &p.script_up {
            run_script(container, config_file, s, "up", p)?;
        }
    }
    Ok(())
}

/// Give phys devices back, delete host-side links, run script.down, forget DNS names.
/// Idempotent.
pub fn teardown(container: &str, config_file: &str, run: NetRun) {
    for p in &run.plans {
        if let Some(d) = &p.dns {
            let _ = hako_net::Networks::open(&d.state_dir, &d.run_dir).unregister_host(
                &d.network,
                &d.hostname,
                &d.owner,
            );
        }
    }
    for p in &run.plans {
        if let Some(s) = &p.script_down {
            if let Err(e) = run_script(container, config_file, s, "down", p) {
                eprintln!("hako monitor: {e}");
            }
        }
    }
    if let Some(ns) = &run.ns {
        if !run.phys.is_empty() {
            if let Ok(mut inner) = Netlink::in_netns(ns.as_fd()) {
                let me = std::process::id() as i32;
                for (inside, host_name) in &run.phys {
                    let _ = inner.set_up(inside, false);
                    if inside != host_name {
                        let _ = inner.rename(inside, host_name);
                    }
                    if let Err(e) = inner.move_to_netns_pid(host_name, me) {
                        eprintln!("hako monitor: container \"{container}\": cannot give {host_name} back to the host: {e}");
                    }
                }
            }
        }
    }
    if !run.host_links.is_empty() {
        if let Ok(mut host) = Netlink::new() {
            for l in &run.host_links {
                let _ = host.delete_link(l);
            }
        }
    }
}

/// Remove host links a killed monitor left (from its state file).
pub fn remove_host_links(links: &[String]) {
    for l in links {
        let _ = crate::nl::delete_link(l);
    }
}

/// lxc.net.N.script.up/down, with LXC's arguments and environment.
fn run_script(
    container: &str,
    config_file: &str,
    script: &str,
    what: &str,
    p: &IfacePlan,
) -> Result<()> {
    let kind = match p.kind {
        NetKind::Veth => "veth",
        NetKind::Macvlan => "macvlan",
        NetKind::Phys => "phys",
        NetKind::Vlan => "vlan",
        NetKind::Ipvlan => "ipvlan",
        NetKind::Empty => "empty",
        NetKind::None => "none",
    };
    // LXC passes the host-side device: the veth's host end, the phys device, the macvlan's
    // parent
    let host_if = match p.kind {
        NetKind::Macvlan => p.link.clone(),
        _ => p.host_name.clone(),
    }
    .unwrap_or_default();
    let mut words = script.split_whitespace();
    let prog = words.next().unwrap_or_default();
    let mut cmd = std::process::Command::new(prog);
    cmd.args(words)
        .args([container, "net", what, kind, host_if.as_str()])
        .env("LXC_NAME", container)
        .env("LXC_CONFIG_FILE", config_file)
        .env("LXC_HOOK_TYPE", what)
        .env("LXC_HOOK_SECTION", "net")
        .env("LXC_NET_TYPE", kind)
        .stdin(std::process::Stdio::null());
    if let Some(l) = &p.link {
        cmd.env("LXC_NET_PARENT", l);
    }
    if p.kind == NetKind::Veth {
        cmd.env("LXC_NET_PEER", &host_if);
    }
    let st = cmd.status().map_err(|e| {
        RuntimeError::msg(format!(
            "container \"{container}\": cannot run lxc.net.{}.script.{what} \"{script}\": {e}; fix the path in the config",
            p.index
        ))
    })?;
    if !st.success() {
        return Err(RuntimeError::msg(format!(
            "container \"{container}\": lxc.net.{}.script.{what} \"{script}\" failed ({st}); fix the script or remove it from the config",
            p.index
        )));
    }
    Ok(())
}

/// What `info` shows per interface, read over netlink from the container's namespace.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct IfaceInfo {
    pub name: String,
    pub link: Option<String>,
    pub mac: Option<String>,
    pub ipv4: Vec<String>,
    pub ipv6: Vec<String>,
    pub tx_bytes: Option<u64>,
    pub rx_bytes: Option<u64>,
}

/// The interfaces of the container whose init is `pid`; `links` maps names inside to
/// host-side links (from the monitor).
pub fn interfaces_of(pid: i32, links: &[(String, Option<String>)]) -> Vec<IfaceInfo> {
    let Ok(ns) = std::fs::File::open(format!("/proc/{pid}/ns/net")) else {
        return Vec::new();
    };
    let ns: OwnedFd = ns.into();
    let Ok(mut nl) = Netlink::in_netns(ns.as_fd()) else {
        return Vec::new();
    };
    let all = nl.links().unwrap_or_default();
    let addrs = nl.addresses(None).unwrap_or_default();
    let mut out = Vec::new();
    for l in all {
        if l.name == "lo" {
            continue;
        }
        let host_link = links
            .iter()
            .find(|(n, _)| *n == l.name)
            .and_then(|(_, h)| h.clone());
        let mut i = IfaceInfo {
            name: l.name.clone(),
            link: host_link,
            mac: l.mac.as_ref().map(format_mac),
            tx_bytes: Some(l.tx_bytes),
            rx_bytes: Some(l.rx_bytes),
            ..Default::default()
        };
        for a in addrs.iter().filter(|a| a.link == l.name) {
            match a.addr {
                IpAddr::V4(v) => i.ipv4.push(v.to_string()),
                IpAddr::V6(v) if !v.is_unicast_link_local() => i.ipv6.push(v.to_string()),
                IpAddr::V6(_) => {}
            }
        }
        out.push(i);
    }
    out
}
