//! Network devices: look up, create (veth, macvlan, bridge, dummy), delete, attach to a
//! bridge, set up/down, MTU, MAC, name, move between network namespaces, list.

use std::os::fd::{AsRawFd, BorrowedFd};

use netlink_packet_core::{NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoMacVlan, InfoVeth, LinkAttribute, LinkFlags, LinkInfo as NlLinkInfo,
    LinkMessage, MacVlanMode,
};
use netlink_packet_route::RouteNetlinkMessage;

use super::socket::{kerr, KernelErr};
use super::{LinkInfo, MacvlanOptions, Netlink, VethOptions};
use crate::error::{NetError, Result};
use crate::names::{format_mac, validate_ifname, MacvlanMode as Mode};

fn kind_of(attrs: &[LinkAttribute]) -> Option<String> {
    attrs.iter().find_map(|a| match a {
        LinkAttribute::LinkInfo(infos) => infos.iter().find_map(|i| match i {
            NlLinkInfo::Kind(k) => Some(k.to_string()),
            _ => None,
        }),
        _ => None,
    })
}

fn link_from_msg(m: &LinkMessage) -> LinkInfo {
    let mut l = LinkInfo {
        index: m.header.index,
        name: String::new(),
        kind: kind_of(&m.attributes),
        master: None,
        mac: None,
        mtu: 0,
        up: m.header.flags.contains(LinkFlags::Up),
        lower_up: m.header.flags.contains(LinkFlags::LowerUp),
        link: None,
        link_netnsid: None,
        rx_bytes: 0,
        tx_bytes: 0,
        rx_packets: 0,
        tx_packets: 0,
    };
    let mut have64 = false;
    for a in &m.attributes {
        match a {
            LinkAttribute::IfName(n) => l.name = n.clone(),
            LinkAttribute::Controller(i) if *i != 0 => l.master = Some(*i),
            LinkAttribute::Address(b) if b.len() == 6 => {
                let mut mac = [0u8; 6];
                mac.copy_from_slice(b);
                l.mac = Some(mac);
            }
            LinkAttribute::Mtu(v) => l.mtu = *v,
            LinkAttribute::Link(i) if *i != 0 => l.link = Some(*i),
            LinkAttribute::LinkNetNsId(i) => l.link_netnsid = Some(*i),
            LinkAttribute::Stats64(s) => {
                have64 = true;
                l.rx_bytes = s.rx_bytes;
                l.tx_bytes = s.tx_bytes;
                l.rx_packets = s.rx_packets;
                l.tx_packets = s.tx_packets;
            }
            LinkAttribute::Stats(s) if !have64 => {
                l.rx_bytes = u64::from(s.rx_bytes);
                l.tx_bytes = u64::from(s.tx_bytes);
                l.rx_packets = u64::from(s.rx_packets);
                l.tx_packets = u64::from(s.tx_packets);
            }
            _ => {}
        }
    }
    l
}

/// Where a veth's peer is born.
#[derive(Clone, Copy)]
enum PeerNs<'a> {
    Here,
    Pid(i32),
    Fd(BorrowedFd<'a>),
}

fn nl_mode(m: Mode) -> MacVlanMode {
    match m {
        Mode::Private => MacVlanMode::Private,
        Mode::Vepa => MacVlanMode::Vepa,
        Mode::Bridge => MacVlanMode::Bridge,
        Mode::Passthru => MacVlanMode::Passthrough,
    }
}

impl Netlink {
    pub(super) fn get_link(&mut self, name: &str) -> Result<Option<LinkMessage>, KernelErr> {
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.to_string()));
        let seq = self.send(RouteNetlinkMessage::GetLink(m), NLM_F_ACK)?;
        match self.receive(seq) {
            Ok(msgs) => Ok(msgs.into_iter().find_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => Some(l),
                _ => None,
            })),
            Err(e) if e.errno == libc::ENODEV => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The index of link `name`, None if there is no such link in this namespace.
    pub fn link_index(&mut self, name: &str) -> Result<Option<u32>> {
        validate_ifname(name)?;
        self.get_link(name)
            .map(|l| l.map(|l| l.header.index))
            .map_err(|e| kerr(format!("look up device \"{name}\""), e))
    }

    /// One link by name, with its statistics.
    pub fn link(&mut self, name: &str) -> Result<Option<LinkInfo>> {
        validate_ifname(name)?;
        self.get_link(name)
            .map(|l| l.as_ref().map(link_from_msg))
            .map_err(|e| kerr(format!("look up device \"{name}\""), e))
    }

    /// Index of `name` or a NoDevice error for operation `op`.
    fn need(
        &mut self,
        name: &str,
        op: &dyn Fn() -> String,
        remedy: &dyn Fn() -> String,
    ) -> Result<u32> {
        validate_ifname(name)?;
        match self.get_link(name).map_err(|e| kerr(op(), e))? {
            Some(l) => Ok(l.header.index),
            None => Err(NetError::NoDevice {
                op: op(),
                device: name.to_string(),
                remedy: remedy(),
            }),
        }
    }

    pub(super) fn need_dev(&mut self, name: &str, op: &dyn Fn() -> String) -> Result<u32> {
        self.need(name, op, &|| {
            "check the device name (it may have been removed, or be in another network namespace)"
                .into()
        })
    }

    fn new_link(&mut self, op: String, m: LinkMessage) -> Result<()> {
        self.request(RouteNetlinkMessage::NewLink(m), NLM_F_CREATE | NLM_F_EXCL)
            .map_err(|e| {
                let mut err = kerr(op, e);
                if let NetError::Kernel { errno, remedy, .. } = &mut err {
                    if *errno == libc::EEXIST {
                        *remedy = "a device with that name already exists; choose another name or delete it".into();
                    }
                }
                err
            })
    }

    fn set_link(&mut self, op: String, index: u32, attrs: Vec<LinkAttribute>) -> Result<()> {
        let mut m = LinkMessage::default();
        m.header.index = index;
        m.attributes = attrs;
        self.request(RouteNetlinkMessage::SetLink(m), 0)
            .map_err(|e| kerr(op, e))
    }

    /// Create a veth pair `host` <-> `peer`. With `peer_netns_pid`, the peer is created
    /// directly in that process's network namespace (one round trip, no move needed).
    pub fn create_veth(
        &mut self,
        host: &str,
        peer: &str,
        peer_netns_pid: Option<i32>,
    ) -> Result<()> {
        let o = VethOptions {
            peer_netns_pid,
            ..Default::default()
        };
        self.create_veth_with(host, peer, &o)
    }

    /// Create a veth pair configured as `o` says, in one RTM_NEWLINK request: the peer born
    /// in the container's namespace with its final name, MAC and MTU, the host end attached
    /// to its bridge and up.
    pub fn create_veth_with(&mut self, host: &str, peer: &str, o: &VethOptions) -> Result<()> {
        let ns = match o.peer_netns_pid {
            Some(pid) => PeerNs::Pid(pid),
            None => PeerNs::Here,
        };
        self.veth(host, peer, o, ns)
    }

    /// As [`Netlink::create_veth_with`], the peer born in the network namespace `ns` refers
    /// to (an open `/proc/PID/ns/net`) instead of a pid's: no pid, so nothing to race with a
    /// pid's reuse (hako-user-nic checks who owns that namespace through the same fd).
    /// `o.peer_netns_pid` is ignored.
    pub fn create_veth_in_netns(
        &mut self,
        host: &str,
        peer: &str,
        ns: BorrowedFd,
        o: &VethOptions,
    ) -> Result<()> {
        self.veth(host, peer, o, PeerNs::Fd(ns))
    }

    fn veth(&mut self, host: &str, peer: &str, o: &VethOptions, ns: PeerNs) -> Result<()> {
        validate_ifname(host)?;
        validate_ifname(peer)?;
        let master = match &o.master {
            Some(br) => {
                let op = || format!("attach veth \"{host}\" to bridge \"{br}\"");
                Some(self.need(br, &op, &|| {
                    format!("create it with \"hako network create {br}\"")
                })?)
            }
            None => None,
        };
        // One TX and one RX queue per end, as the kernel would set without them: a veth
        // is allocated with a queue per CPU and then cut down to one, and that cut waits
        // for an expedited RCU grace period per end while holding the RTNL lock (measured:
        // ~0.15 ms and two context switches per pair, and everything else that needs the
        // lock, e.g. the container bringing its loopback up, waits too).
        let queues = [LinkAttribute::NumTxQueues(1), LinkAttribute::NumRxQueues(1)];
        let mut p = LinkMessage::default();
        p.attributes.push(LinkAttribute::IfName(peer.to_string()));
        p.attributes.extend(queues.iter().cloned());
        match ns {
            PeerNs::Here => {}
            PeerNs::Pid(pid) => p.attributes.push(LinkAttribute::NetNsPid(pid as u32)),
            PeerNs::Fd(fd) => p.attributes.push(LinkAttribute::NetNsFd(fd.as_raw_fd())),
        }
        if let Some(mac) = o.peer_mac {
            p.attributes.push(LinkAttribute::Address(mac.to_vec()));
        }
        if let Some(mtu) = o.mtu {
            p.attributes.push(LinkAttribute::Mtu(mtu));
        }
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(host.to_string()));
        m.attributes.extend(queues);
        if let Some(mac) = o.host_mac {
            m.attributes.push(LinkAttribute::Address(mac.to_vec()));
        }
        if let Some(mtu) = o.mtu {
            m.attributes.push(LinkAttribute::Mtu(mtu));
        }
        if let Some(idx) = master {
            m.attributes.push(LinkAttribute::Controller(idx));
        }
        if o.host_up {
            m.header.flags = LinkFlags::Up;
            m.header.change_mask = LinkFlags::Up;
        }
        m.attributes.push(LinkAttribute::LinkInfo(vec![
            NlLinkInfo::Kind(InfoKind::Veth),
            NlLinkInfo::Data(InfoData::Veth(InfoVeth::Peer(p))),
        ]));
        let op = match ns {
            PeerNs::Pid(pid) => format!(
                "create veth pair \"{host}\" / \"{peer}\" (peer in the network namespace of pid {pid})"
            ),
            PeerNs::Fd(_) => format!(
                "create veth pair \"{host}\" / \"{peer}\" (peer in the container's network namespace)"
            ),
            PeerNs::Here => format!("create veth pair \"{host}\" / \"{peer}\""),
        };
        self.new_link(op, m)
    }

    /// Create a macvlan device `name` on top of `parent`.
    pub fn create_macvlan(&mut self, name: &str, parent: &str, mode: Mode) -> Result<()> {
        self.create_macvlan_with(name, parent, mode, &MacvlanOptions::default())
    }

    /// Create a macvlan device in one request, optionally directly in another process's
    /// network namespace, with its MAC, MTU and up flag.
    pub fn create_macvlan_with(
        &mut self,
        name: &str,
        parent: &str,
        mode: Mode,
        o: &MacvlanOptions,
    ) -> Result<()> {
        validate_ifname(name)?;
        let op = || match o.netns_pid {
            Some(pid) => format!(
                "create macvlan \"{name}\" on \"{parent}\" (in the network namespace of pid {pid})"
            ),
            None => format!("create macvlan \"{name}\" on \"{parent}\""),
        };
        let pidx = self.need(parent, &op, &|| {
            "set lxc.net.N.link to an existing host interface".into()
        })?;
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.to_string()));
        m.attributes.push(LinkAttribute::Link(pidx));
        if let Some(pid) = o.netns_pid {
            m.attributes.push(LinkAttribute::NetNsPid(pid as u32));
        }
        if let Some(mac) = o.mac {
            m.attributes.push(LinkAttribute::Address(mac.to_vec()));
        }
        if let Some(mtu) = o.mtu {
            m.attributes.push(LinkAttribute::Mtu(mtu));
        }
        if o.up {
            m.header.flags = LinkFlags::Up;
            m.header.change_mask = LinkFlags::Up;
        }
        m.attributes.push(LinkAttribute::LinkInfo(vec![
            NlLinkInfo::Kind(InfoKind::MacVlan),
            NlLinkInfo::Data(InfoData::MacVlan(vec![InfoMacVlan::Mode(nl_mode(mode))])),
        ]));
        self.new_link(op(), m)
    }

    /// Create a Linux bridge `name` (down, no address).
    pub fn create_bridge(&mut self, name: &str) -> Result<()> {
        validate_ifname(name)?;
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.to_string()));
        m.attributes
            .push(LinkAttribute::LinkInfo(vec![NlLinkInfo::Kind(
                InfoKind::Bridge,
            )]));
        self.new_link(format!("create bridge \"{name}\""), m)
    }

    /// Create a dummy device (needs CONFIG_DUMMY; not every kernel has it).
    pub fn create_dummy(&mut self, name: &str) -> Result<()> {
        validate_ifname(name)?;
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.to_string()));
        m.attributes
            .push(LinkAttribute::LinkInfo(vec![NlLinkInfo::Kind(
                InfoKind::Dummy,
            )]));
        self.new_link(format!("create dummy device \"{name}\""), m)
    }

    /// Delete link `name`. Returns false when there was no such link. Deleting one end of a
    /// veth pair deletes both.
    pub fn delete_link(&mut self, name: &str) -> Result<bool> {
        validate_ifname(name)?;
        let op = || format!("delete device \"{name}\"");
        let Some(l) = self.get_link(name).map_err(|e| kerr(op(), e))? else {
            return Ok(false);
        };
        let mut m = LinkMessage::default();
        m.header.index = l.header.index;
        match self.request(RouteNetlinkMessage::DelLink(m), 0) {
            Ok(()) => Ok(true),
            Err(e) if e.errno == libc::ENODEV => Ok(false),
            Err(e) => Err(kerr(op(), e)),
        }
    }

    /// Attach `link` to bridge `bridge`.
    pub fn set_master(&mut self, link: &str, bridge: &str) -> Result<()> {
        let op = || {
            let what = if link.starts_with("veth") {
                "veth"
            } else {
                "device"
            };
            format!("attach {what} \"{link}\" to bridge \"{bridge}\"")
        };
        let bidx = self.need(bridge, &op, &|| {
            format!("create it with \"hako network create {bridge}\"")
        })?;
        let idx = self.need_dev(link, &op)?;
        self.set_link(op(), idx, vec![LinkAttribute::Controller(bidx)])
    }

    /// Detach `link` from its bridge.
    pub fn set_nomaster(&mut self, link: &str) -> Result<()> {
        let op = || format!("detach \"{link}\" from its bridge");
        let idx = self.need_dev(link, &op)?;
        self.set_link(op(), idx, vec![LinkAttribute::Controller(0)])
    }

    /// Bring `link` up or down.
    pub fn set_up(&mut self, link: &str, up: bool) -> Result<()> {
        let op = || format!("set device \"{link}\" {}", if up { "up" } else { "down" });
        let idx = self.need_dev(link, &op)?;
        let mut m = LinkMessage::default();
        m.header.index = idx;
        m.header.change_mask = LinkFlags::Up;
        if up {
            m.header.flags = LinkFlags::Up;
        }
        self.request(RouteNetlinkMessage::SetLink(m), 0)
            .map_err(|e| kerr(op(), e))
    }

    pub fn set_mtu(&mut self, link: &str, mtu: u32) -> Result<()> {
        let op = || format!("set the MTU of \"{link}\" to {mtu}");
        let idx = self.need_dev(link, &op)?;
        self.set_link(op(), idx, vec![LinkAttribute::Mtu(mtu)]).map_err(|mut e| {
            if let NetError::Kernel { errno: libc::EINVAL, remedy, .. } = &mut e {
                *remedy = "use an MTU the device supports (68 to 65535 for veth and bridges, at most the parent's for macvlan)".into();
            }
            e
        })
    }

    pub fn set_hwaddr(&mut self, link: &str, mac: [u8; 6]) -> Result<()> {
        let op = || format!("set the MAC address of \"{link}\" to {}", format_mac(&mac));
        let idx = self.need_dev(link, &op)?;
        self.set_link(op(), idx, vec![LinkAttribute::Address(mac.to_vec())])
    }

    /// Rename `link` to `new`. Kernels before 6.x refuse (EBUSY) while the link is up: rename
    /// before bringing it up.
    pub fn rename(&mut self, link: &str, new: &str) -> Result<()> {
        validate_ifname(new)?;
        let op = || format!("rename device \"{link}\" to \"{new}\"");
        let idx = self.need_dev(link, &op)?;
        self.set_link(op(), idx, vec![LinkAttribute::IfName(new.to_string())])
            .map_err(|mut e| {
                if let NetError::Kernel { errno, remedy, .. } = &mut e {
                    if *errno == libc::EEXIST {
                        *remedy = format!("a device named \"{new}\" already exists; choose another lxc.net.N.name");
                    }
                }
                e
            })
    }

    /// Move `link` into the network namespace of process `pid`.
    pub fn move_to_netns_pid(&mut self, link: &str, pid: i32) -> Result<()> {
        let op = || format!("move device \"{link}\" into the network namespace of pid {pid}");
        let idx = self.need_dev(link, &op)?;
        self.set_link(op(), idx, vec![LinkAttribute::NetNsPid(pid as u32)])
    }

    /// Move `link` into the network namespace `fd` refers to (an open `/proc/PID/ns/net`,
    /// or the caller's own to bring a device back).
    pub fn move_to_netns_fd(&mut self, link: &str, fd: BorrowedFd) -> Result<()> {
        let op = || {
            format!(
                "move device \"{link}\" into the network namespace of fd {}",
                fd.as_raw_fd()
            )
        };
        let idx = self.need_dev(link, &op)?;
        self.set_link(op(), idx, vec![LinkAttribute::NetNsFd(fd.as_raw_fd())])
    }

    pub(super) fn link_names(&mut self) -> Result<Vec<(u32, String)>, KernelErr> {
        let msgs = self.dump(RouteNetlinkMessage::GetLink(LinkMessage::default()))?;
        Ok(msgs
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => {
                    let name = l.attributes.iter().find_map(|a| match a {
                        LinkAttribute::IfName(n) => Some(n.clone()),
                        _ => None,
                    })?;
                    Some((l.header.index, name))
                }
                _ => None,
            })
            .collect())
    }

    /// Every link in this namespace, with IFLA_STATS64 counters.
    pub fn links(&mut self) -> Result<Vec<LinkInfo>> {
        let msgs = self
            .dump(RouteNetlinkMessage::GetLink(LinkMessage::default()))
            .map_err(|e| kerr("list the network devices".into(), e))?;
        Ok(msgs
            .iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => Some(link_from_msg(l)),
                _ => None,
            })
            .collect())
    }
}
