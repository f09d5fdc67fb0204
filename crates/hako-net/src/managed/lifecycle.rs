//! A managed network's life: create (pick or check its subnet), up (repair whatever part is
//! missing, cheap when all is up), down, remove.

use std::fs;
use std::io;
use std::net::IpAddr;

use super::def::check_host_address_v4;
use super::dnsmasq::{dnsmasq_is_ours, read_pid};
use super::{
    io_err, nft_table_exists, pick_subnet, validate_dns_name, validate_network_name, write_atomic,
    CreateNetOpts, Ipv4Choice, NetworkDef, NetworkStatus, Networks,
};
use crate::error::{NetError, Result};
use crate::netlink::Netlink;

impl Networks {
    /// Subnets in use on the host (routes other than default routes, addresses), except
    /// those on `skip_dev`.
    fn host_prefixes(skip_dev: Option<&str>) -> Result<Vec<(IpAddr, u8, String)>> {
        let mut nl = Netlink::new()?;
        let mut used = Vec::new();
        for r in nl.routes()? {
            if r.prefix == 0
                || r.dst.is_loopback()
                || r.dev.as_deref() == skip_dev && skip_dev.is_some()
            {
                continue;
            }
            if let IpAddr::V6(v6) = r.dst {
                // link-local and multicast routes exist on every IPv6 interface
                if (v6.segments()[0] & 0xffc0) == 0xfe80 || v6.segments()[0] >> 8 == 0xff {
                    continue;
                }
            }
            let dev = r.dev.map(|d| format!(" dev {d}")).unwrap_or_default();
            used.push((
                r.dst,
                r.prefix,
                format!("host route {}/{}{dev}", r.dst, r.prefix),
            ));
        }
        for a in nl.addresses(None)? {
            if a.addr.is_loopback() || Some(a.link.as_str()) == skip_dev {
                continue;
            }
            if let IpAddr::V6(v6) = a.addr {
                if (v6.segments()[0] & 0xffc0) == 0xfe80 {
                    continue;
                }
            }
            used.push((
                a.addr,
                a.prefix,
                format!("host address {}/{} on {}", a.addr, a.prefix, a.link),
            ));
        }
        Ok(used)
    }

    /// Create (define) network `name`. Nothing is brought up; see [`Networks::up`].
    pub fn create(&self, name: &str, opts: CreateNetOpts) -> Result<NetworkDef> {
        validate_network_name(name)?;
        let _l = self.lock()?;
        self.create_locked(name, opts)
    }

    /// The definition of `name`, created with `opts` if it does not exist yet (for the
    /// default network, created on first use).
    pub fn get_or_create(&self, name: &str, opts: CreateNetOpts) -> Result<NetworkDef> {
        validate_network_name(name)?;
        if let Some(d) = self.get(name)? {
            return Ok(d);
        }
        let _l = self.lock()?;
        if let Some(d) = self.get(name)? {
            return Ok(d);
        }
        self.create_locked(name, opts)
    }

    fn create_locked(&self, name: &str, opts: CreateNetOpts) -> Result<NetworkDef> {
        let op = || format!("create network \"{name}\"");
        if self.get(name)?.is_some() {
            return Err(NetError::failed(
                op(),
                "a network with that name already exists",
                format!("choose another name, or remove it first with \"hako network rm {name}\""),
            ));
        }
        if let Some(d) = &opts.dns_domain {
            validate_dns_name("DNS domain", d)?;
        }
        let mut nl = Netlink::new()?;
        if nl.link_index(name)?.is_some() {
            return Err(NetError::failed(
                op(),
                format!("the host already has a network device named \"{name}\""),
                "choose another network name (hako will not take over a device it did not create)",
            ));
        }
        let host = Self::host_prefixes(None)?;
        let others = self.list()?;
        let mut used: Vec<(IpAddr, u8, String)> = host;
        for o in &others {
            if let Some(n) = o.ipv4 {
                used.push((
                    IpAddr::V4(n.network()),
                    n.prefix,
                    format!("network \"{}\" ({})", o.name, n.subnet()),
                ));
            }
            if let Some(n) = o.ipv6 {
                used.push((
                    IpAddr::V6(n.network()),
                    n.prefix,
                    format!("network \"{}\" ({})", o.name, n.subnet()),
                ));
            }
        }
        let overlap = |ip: IpAddr, p: u8| {
            used.iter()
                .find(|(uip, up, _)| crate::names::prefixes_overlap(ip, p, *uip, *up))
                .map(|(_, _, what)| what.clone())
        };
        let ipv4 = match opts.ipv4 {
            Ipv4Choice::None => None,
            Ipv4Choice::Auto => {
                let plain: Vec<(IpAddr, u8)> = used.iter().map(|(i, p, _)| (*i, *p)).collect();
                Some(pick_subnet(name, &plain).ok_or_else(|| {
                    NetError::failed(
                        op(),
                        "no free 10.x.y.0/24 subnet is left on this host",
                        "give one with --ipv4 CIDR",
                    )
                })?)
            }
            Ipv4Choice::Cidr(n) => {
                check_host_address_v4(name, n)?;
                if let Some(what) = overlap(IpAddr::V4(n.addr), n.prefix) {
                    return Err(NetError::failed(
                        format!("create network \"{name}\" with {n}"),
                        format!("the subnet {} overlaps the {what}", n.subnet()),
                        "let hako pick a free subnet with --ipv4 auto, or give another CIDR",
                    ));
                }
                Some(n)
            }
        };
        if let Some(n) = opts.ipv6 {
            if n.addr == n.network() && n.prefix < 127 {
                return Err(NetError::invalid(
                    "IPv6 bridge address",
                    n.to_string(),
                    "it is the subnet's own address, not a host address",
                    format!(
                        "give the bridge's address, e.g. {}1/{}",
                        n.network(),
                        n.prefix
                    ),
                ));
            }
            if let Some(what) = overlap(IpAddr::V6(n.addr), n.prefix) {
                return Err(NetError::failed(
                    format!("create network \"{name}\" with {n}"),
                    format!("the subnet {} overlaps the {what}", n.subnet()),
                    "give another IPv6 CIDR, or --ipv6 none",
                ));
            }
        }
        let def = NetworkDef {
            name: name.to_string(),
            bridge: name.to_string(),
            ipv4,
            ipv6: opts.ipv6,
            nat: opts.nat,
            dhcp: opts.dhcp,
            dns_domain: opts.dns_domain,
        };
        let p = self.def_path(name);
        let json = serde_json::to_vec_pretty(&def).expect("serialising a NetworkDef cannot fail");
        write_atomic(&p, &json).map_err(|e| {
            io_err(
                format!("write network definition {}", p.display()),
                e,
                "run hako as root",
            )
        })?;
        Ok(def)
    }

    fn probe(&self, def: &NetworkDef, with_ifaces: bool) -> Result<NetworkStatus> {
        let mut nl = Netlink::new()?;
        let link = nl.link(&def.bridge)?;
        let mut st = NetworkStatus {
            name: def.name.clone(),
            bridge: def.bridge.clone(),
            bridge_exists: link
                .as_ref()
                .is_some_and(|l| l.kind.as_deref() == Some("bridge")),
            bridge_up: link.as_ref().is_some_and(|l| l.up),
            addresses_ok: false,
            nft_wanted: def.wants_nft(),
            nft_table: false,
            dnsmasq_wanted: def.wants_dnsmasq(),
            dnsmasq_pid: None,
            interfaces: Vec::new(),
            up: false,
        };
        if let Some(l) = link.as_ref().filter(|_| st.bridge_exists) {
            let addrs = nl.addresses_of(Some((l.index, &def.bridge)))?;
            let has = |ip: IpAddr, p: u8| addrs.iter().any(|a| a.addr == ip && a.prefix == p);
            st.addresses_ok = def.ipv4.iter().all(|n| has(IpAddr::V4(n.addr), n.prefix))
                && def.ipv6.iter().all(|n| has(IpAddr::V6(n.addr), n.prefix));
            if with_ifaces {
                let bidx = link.as_ref().map(|l| l.index);
                st.interfaces = nl
                    .links()?
                    .into_iter()
                    .filter(|l| l.master.is_some() && l.master == bidx)
                    .map(|l| l.name)
                    .collect();
            }
        }
        if st.nft_wanted {
            st.nft_table = nft_table_exists(&def.nft_table()).map_err(|e| {
                io_err(
                    format!("look up nftables table inet {}", def.nft_table()),
                    e,
                    "check that the kernel has nf_tables (CONFIG_NF_TABLES) and run hako as root",
                )
            })?;
        }
        if st.dnsmasq_wanted {
            let pf = self.dnsmasq_paths(&def.name).pid_file;
            st.dnsmasq_pid = read_pid(&pf).filter(|p| dnsmasq_is_ours(*p, &pf));
        }
        st.up = st.bridge_exists
            && st.bridge_up
            && st.addresses_ok
            && (!st.nft_wanted || st.nft_table)
            && (!st.dnsmasq_wanted || st.dnsmasq_pid.is_some());
        Ok(st)
    }

    /// What is up of network `name`, with the devices attached to its bridge.
    pub fn status(&self, name: &str) -> Result<NetworkStatus> {
        let def = self.need(name)?;
        self.probe(&def, true)
    }

    /// Bring network `name` up, repairing whatever part is missing (bridge, addresses, nft
    /// table, forwarding, dnsmasq). Cheap when it is already up. If this call fails half-way,
    /// the parts it created are removed again.
    pub fn up(&self, name: &str) -> Result<NetworkStatus> {
        let def = self.need(name)?;
        let st = self.probe(&def, false)?;
        if st.up {
            return Ok(st);
        }
        let _l = self.lock()?;
        let st = self.probe(&def, false)?;
        if st.up {
            return Ok(st);
        }
        let mut created_bridge = false;
        let mut created_table = false;
        let r = self.repair(&def, &st, &mut created_bridge, &mut created_table);
        if r.is_err() {
            if created_table {
                let _ = self.nft_delete(&def);
            }
            if created_bridge {
                if let Ok(mut nl) = Netlink::new() {
                    let _ = nl.delete_link(&def.bridge);
                }
            }
        }
        r?;
        self.probe(&def, false)
    }

    fn repair(
        &self,
        def: &NetworkDef,
        st: &NetworkStatus,
        created_bridge: &mut bool,
        created_table: &mut bool,
    ) -> Result<()> {
        let mut nl = Netlink::new()?;
        let br = &def.bridge;
        if !st.bridge_exists {
            if let Some(l) = nl.link(br)? {
                return Err(NetError::failed(
                    format!("bring up network \"{}\"", def.name),
                    format!(
                        "the host has a device \"{br}\" that is a {}, not a bridge",
                        l.kind.as_deref().unwrap_or("physical device")
                    ),
                    "remove or rename that device, or recreate the network under another name",
                ));
            }
            // The host may have gained a route into our subnet since the network was defined.
            let used = Self::host_prefixes(None)?;
            for (net_ip, p) in def
                .ipv4
                .map(|n| (IpAddr::V4(n.addr), n.prefix))
                .into_iter()
                .chain(def.ipv6.map(|n| (IpAddr::V6(n.addr), n.prefix)))
            {
                if let Some((_, _, what)) = used
                    .iter()
                    .find(|(ip, up, _)| crate::names::prefixes_overlap(net_ip, p, *ip, *up))
                {
                    return Err(NetError::failed(
                        format!("bring up network \"{}\" ({net_ip}/{p})", def.name),
                        format!("its subnet overlaps the {what}"),
                        format!(
                            "remove that route, or recreate the network: \"hako network rm {0}\" then \"hako network create {0} --ipv4 auto\"",
                            def.name
                        ),
                    ));
                }
            }
            nl.create_bridge(br)?;
            *created_bridge = true;
        }
        if !st.addresses_ok {
            let have = nl.addresses(Some(br))?;
            if let Some(n) = def.ipv4 {
                if !have
                    .iter()
                    .any(|a| a.addr == IpAddr::V4(n.addr) && a.prefix == n.prefix)
                {
                    nl.add_address(br, IpAddr::V4(n.addr), n.prefix)?;
                }
            }
            if let Some(n) = def.ipv6 {
                if !have
                    .iter()
                    .any(|a| a.addr == IpAddr::V6(n.addr) && a.prefix == n.prefix)
                {
                    nl.add_address_opts(br, IpAddr::V6(n.addr), n.prefix, true)?;
                }
            }
        }
        if !st.bridge_up {
            nl.set_up(br, true)?;
        }
        if st.nft_wanted && !st.nft_table {
            self.nft_apply(def)?;
            *created_table = true;
        }
        if def.nat {
            enable_forwarding(def.ipv4.is_some(), def.ipv6.is_some())?;
        }
        // a dnsmasq that outlived its bridge is bound to a device that no longer exists
        if st.dnsmasq_pid.is_some() && !st.bridge_exists {
            self.stop_dnsmasq(def)?;
        }
        if st.dnsmasq_wanted && (st.dnsmasq_pid.is_none() || !st.bridge_exists) {
            self.start_dnsmasq(def)?;
        }
        Ok(())
    }

    /// Take network `name` down: stop its dnsmasq, remove its nft table, delete its bridge
    /// and its runtime directory. The definition stays.
    pub fn down(&self, name: &str) -> Result<()> {
        let def = self.need(name)?;
        let _l = self.lock()?;
        self.down_locked(&def)
    }

    fn down_locked(&self, def: &NetworkDef) -> Result<()> {
        self.stop_dnsmasq(def)?;
        self.nft_delete(def)?;
        let mut nl = Netlink::new()?;
        if let Some(l) = nl.link(&def.bridge)? {
            if l.kind.as_deref() == Some("bridge") {
                nl.delete_link(&def.bridge)?;
            }
        }
        let run = self.run_path(&def.name);
        match fs::remove_dir_all(&run) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(
                format!("remove {}", run.display()),
                e,
                "remove it by hand",
            )),
        }
    }

    /// Remove network `name`: take it down and delete its definition. Refused while
    /// `in_use_by` (containers configured to use it) is not empty, unless `force`.
    pub fn remove(&self, name: &str, force: bool, in_use_by: &[String]) -> Result<()> {
        let def = self.need(name)?;
        if !in_use_by.is_empty() && !force {
            return Err(NetError::failed(
                format!("remove network \"{name}\""),
                format!("it is used by {}", in_use_by.join(", ")),
                "stop and reconfigure those containers first, or use -f to remove it anyway",
            ));
        }
        let _l = self.lock()?;
        self.down_locked(&def)?;
        let p = self.def_path(name);
        match fs::remove_file(&p) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(
                format!("remove {}", p.display()),
                e,
                "run hako as root",
            )),
        }
    }
}

/// Turn on IP forwarding (needed for NAT). Only writes when it is off.
fn enable_forwarding(v4: bool, v6: bool) -> Result<()> {
    let mut files = Vec::new();
    if v4 {
        files.push("/proc/sys/net/ipv4/ip_forward");
    }
    if v6 {
        files.push("/proc/sys/net/ipv6/conf/all/forwarding");
    }
    for f in files {
        if fs::read_to_string(f)
            .map(|s| s.trim() == "1")
            .unwrap_or(false)
        {
            continue;
        }
        fs::write(f, "1")
            .map_err(|e| io_err(format!("enable IP forwarding ({f})"), e, "run hako as root"))?;
    }
    Ok(())
}
