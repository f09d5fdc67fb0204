//! The container's network interfaces, built by the monitor between clone and "GO":
//! devices are created over netlink on the host (or directly in the child's namespace),
//! moved in, named, addressed and brought up before init runs, and removed (or, for
//! `phys`, given back) at stop.

use std::net::IpAddr;
use std::os::fd::{AsFd, OwnedFd};

use hako_net::{format_mac, MacvlanMode, MacvlanOptions, Netlink, VethOptions};
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
    pub macvlan_mode: Option<MacvlanMode>,
    pub veth_router: bool,
    pub script_up: Option<String>,
    pub script_down: Option<String>,
    /// the managed network this interface is on (for DNS registration and `info`)
    pub managed: Option<String>,
    /// a DNS registration to undo at stop
    pub dns: Option<DnsReg>,
}

/// A DNS name registered on a managed network (see [`hako_net::DnsReg`]: the one place
/// names are registered and forgotten).
pub use hako_net::DnsReg;

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

/// Undo a container's network: the one teardown, used by both monitors once init has been
/// reaped, by a start that fails after the network was built, and by [`setup`] when it
/// fails half-way. In order: the script.down hooks (`scripts_down`: [`scripts_down`] in a
/// process that has the interface plans; the small monitor runs them in a helper run of
/// the hako program), the DNS names (`dns`), then the devices: phys devices are given back
/// (their namespace `ns` is still held), the namespace is let go and the host-side links
/// are deleted (see crate::nl::release_links), or their deletion begun already (`links`)
/// is waited for. Idempotent; errors are logged.
pub fn teardown(
    container: &str,
    scripts_down: impl FnOnce(),
    dns: &[DnsReg],
    state: &NetState,
    ns: Option<OwnedFd>,
    links: Option<crate::nl::LinkRelease>,
) {
    scripts_down();
    // a rootless run's veths go back to the helper that made them
    crate::user_nic::release(container, &state.host_links);
    for d in dns {
        d.forget();
    }
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

/// The lxc.net.N.script.down hooks of `plans`, in order; a failing one is logged.
pub fn scripts_down(container: &str, config_file: &str, plans: &[IfacePlan]) {
    for p in plans {
        if let Some(s) = &p.script_down {
            if let Err(e) = run_script(container, config_file, s, "down", p) {
                eprintln!("hako monitor: {e}");
            }
        }
    }
}

/// The DNS names registered for `plans`.
pub fn dns_of(plans: &[IfacePlan]) -> Vec<DnsReg> {
    plans.iter().filter_map(|p| p.dns.clone()).collect()
}

/// Build every interface for the child `pid` (still waiting for "GO"). On error, what
/// was created is removed again.
pub fn setup(container: &str, config_file: &str, plans: &[IfacePlan], pid: i32) -> Result<NetRun> {
    let mut run = NetRun {
        ns: None,
        host_links: Vec::new(),
        phys: Vec::new(),
    };
    if plans
        .iter()
        .all(|p| matches!(p.kind, NetKind::Empty | NetKind::None))
    {
        return Ok(run);
    }
    let r = if crate::userns::rootless::is_rootless() {
        setup_rootless(container, config_file, plans, pid, &mut run)
    } else {
        setup_inner(container, config_file, plans, pid, &mut run)
    };
    match r {
        Ok(()) => Ok(run),
        Err(e) => {
            teardown(
                container,
                || scripts_down(container, config_file, plans),
                &dns_of(plans),
                &run.state(),
                run.ns.take(),
                None,
            );
            Err(e)
        }
    }
}

/// A non-root monitor's network: each veth through the privileged helper
/// ([`crate::user_nic`]); the facade refused every other type, and addresses, before the
/// start. The lxcpath the helper is told is the config's container directory's parent.
fn setup_rootless(
    container: &str,
    config_file: &str,
    plans: &[IfacePlan],
    pid: i32,
    run: &mut NetRun,
) -> Result<()> {
    let lxcpath = std::path::Path::new(config_file)
        .parent()
        .and_then(|d| d.parent())
        .unwrap_or(std::path::Path::new("/"));
    for p in plans {
        match p.kind {
            NetKind::Empty | NetKind::None => {}
            NetKind::Veth => {
                let bridge = p.link.clone().unwrap_or_default();
                let entry =
                    crate::user_nic::create(container, lxcpath, pid, p.index, &bridge, &p.name)?;
                run.host_links.push(entry);
            }
            _ => {
                return Err(RuntimeError::msg(format!(
                    "container \"{container}\": lxc.net.{}.type = {} needs root; use veth (through {}) or empty",
                    p.index,
                    p.kind.as_str(),
                    crate::user_nic::HELPER
                )))
            }
        }
    }
    Ok(())
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
                let mode = p.macvlan_mode.unwrap_or(MacvlanMode::Private);
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

/// Remove host links a killed monitor left (from its state file).
pub fn remove_host_links(links: &[String]) {
    // (a rootless run's helper-made veths went with its network namespace)
    for l in links
        .iter()
        .filter(|l| crate::user_nic::decode(l).is_none())
    {
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
    let kind = p.kind.as_str();
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn teardown_runs_the_scripts_then_forgets_the_names() {
        let dir = tempfile::tempdir().unwrap();
        let net = dir.path().join("net/hakobr0");
        let hosts = net.join("hosts.d/10.47.3.50");
        let dhcp = net.join("dhcp-hosts.d/o1");
        std::fs::create_dir_all(hosts.parent().unwrap()).unwrap();
        std::fs::create_dir_all(dhcp.parent().unwrap()).unwrap();
        std::fs::write(&hosts, "10.47.3.50 web1 # hako-owner=o1\n").unwrap();
        std::fs::write(&dhcp, "web1,10.47.3.50\n").unwrap();
        // another container's name on the same network stays
        let other = net.join("hosts.d/10.47.3.51");
        std::fs::write(&other, "10.47.3.51 web2 # hako-owner=o2\n").unwrap();
        let reg = DnsReg {
            run_dir: dir.path().to_path_buf(),
            network: "hakobr0".into(),
            hostname: "web1".into(),
            owner: "o1".into(),
        };
        let ran = Cell::new(false);
        let scripts = || {
            // script.down sees the container as it was: its name still resolves
            assert!(hosts.exists());
            ran.set(true);
        };
        // nothing on the host to release: no netlink is needed
        teardown(
            "c1",
            scripts,
            std::slice::from_ref(&reg),
            &NetState::default(),
            None,
            None,
        );
        assert!(ran.get());
        assert!(!hosts.exists() && !dhcp.exists());
        assert!(other.exists());
        // idempotent
        teardown("c1", || {}, &[reg], &NetState::default(), None, None);
    }

    #[test]
    fn dns_names_of_plans() {
        let reg = DnsReg {
            run_dir: "/run/hako".into(),
            network: "hakobr0".into(),
            hostname: "web1".into(),
            owner: "o1".into(),
        };
        let plan = |dns: Option<DnsReg>| IfacePlan {
            index: 0,
            kind: NetKind::Veth,
            name: "eth0".into(),
            host_name: None,
            link: None,
            mac: None,
            mtu: None,
            up: true,
            ipv4: Vec::new(),
            ipv4_gateway: None,
            ipv6: Vec::new(),
            ipv6_gateway: None,
            macvlan_mode: None,
            veth_router: false,
            script_up: None,
            script_down: None,
            managed: None,
            dns,
        };
        assert_eq!(
            dns_of(&[plan(None), plan(Some(reg.clone())), plan(None)]),
            vec![reg]
        );
    }
}
