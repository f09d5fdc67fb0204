//! A synchronous rtnetlink client: links (veth, macvlan, bridge, dummy), addresses, routes,
//! moving links between network namespaces. One blocking `NETLINK_ROUTE` socket, no threads,
//! no async runtime: safe to use in a single-threaded monitor that forks.

use std::fs::File;
use std::io;
use std::net::IpAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL,
    NLM_F_REQUEST,
};
use netlink_packet_route::address::{AddressAttribute, AddressFlags, AddressMessage, AddressScope};
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoMacVlan, InfoVeth, LinkAttribute, LinkFlags, LinkInfo as NlLinkInfo,
    LinkMessage, MacVlanMode,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};
use nix::sched::{setns, CloneFlags};
use serde::{Deserialize, Serialize};

use crate::error::{NetError, Result};
use crate::names::{format_mac, validate_ifname, MacvlanMode as Mode};

const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLMSG_HDRLEN: usize = 16;
const NLM_F_CAPPED: u16 = 0x100;
const NLM_F_ACK_TLVS: u16 = 0x200;
const NLMSGERR_ATTR_MSG: u16 = 1;
const RECV_BUF: usize = 64 * 1024;

/// What the kernel said when it refused a request.
#[derive(Debug, Clone)]
struct KernelErr {
    errno: i32,
    ext_ack: Option<String>,
}

impl From<io::Error> for KernelErr {
    fn from(e: io::Error) -> Self {
        KernelErr {
            errno: e.raw_os_error().unwrap_or(libc::EIO),
            ext_ack: Some(e.to_string()).filter(|_| e.raw_os_error().is_none()),
        }
    }
}

/// One network interface as the kernel reports it (RTM_GETLINK).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkInfo {
    pub index: u32,
    pub name: String,
    /// `IFLA_INFO_KIND`: "veth", "bridge", "macvlan", "dummy", ...; None for physical devices
    /// and loopback.
    pub kind: Option<String>,
    /// Index of the bridge (or bond) this link is attached to.
    pub master: Option<u32>,
    pub mac: Option<[u8; 6]>,
    pub mtu: u32,
    /// Administratively up (IFF_UP).
    pub up: bool,
    /// Carrier present (IFF_LOWER_UP).
    pub lower_up: bool,
    /// `IFLA_LINK`: for a veth the peer's index (in `link_netnsid`'s namespace when set), for a
    /// macvlan its parent.
    pub link: Option<u32>,
    /// Set when `link` lives in another network namespace.
    pub link_netnsid: Option<i32>,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_packets: u64,
    pub tx_packets: u64,
}

impl LinkInfo {
    pub fn mac_string(&self) -> Option<String> {
        self.mac.as_ref().map(format_mac)
    }
}

/// One route (RTM_GETROUTE), enough for subnet overlap checks and for `info`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    /// Destination network; `0.0.0.0`/`::` with prefix 0 for a default route.
    pub dst: IpAddr,
    pub prefix: u8,
    pub gateway: Option<IpAddr>,
    /// Output device name (when it has one in this namespace).
    pub dev: Option<String>,
    pub table: u32,
    /// True for ordinary unicast routes; false for local/broadcast/multicast/blackhole ...
    pub unicast: bool,
}

/// An address assigned to a link.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    pub link: String,
    pub index: u32,
    pub addr: IpAddr,
    pub prefix: u8,
}

/// Options of [`Netlink::create_veth_with`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VethOptions {
    /// Create the peer directly in this process's network namespace.
    pub peer_netns_pid: Option<i32>,
    /// Attach the host end to this bridge.
    pub master: Option<String>,
    /// MTU of both ends.
    pub mtu: Option<u32>,
    pub host_mac: Option<[u8; 6]>,
    pub peer_mac: Option<[u8; 6]>,
    /// Bring the host end up. (The peer cannot be brought up in the same request: the
    /// kernel refuses to open a veth before its pair is complete; bring it up from the
    /// container's namespace, e.g. with [`Netlink::in_netns`].)
    pub host_up: bool,
}

/// Options of [`Netlink::create_macvlan_with`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MacvlanOptions {
    /// Create the device directly in this process's network namespace.
    pub netns_pid: Option<i32>,
    pub mac: Option<[u8; 6]>,
    pub mtu: Option<u32>,
    pub up: bool,
}

/// A netlink route socket bound in the network namespace it was created in.
pub struct Netlink {
    sock: Socket,
    seq: u32,
    buf: Vec<u8>,
}

fn remedy(errno: i32) -> String {
    match errno {
        libc::EPERM | libc::EACCES => "run hako as root (it needs CAP_NET_ADMIN)".into(),
        libc::EEXIST => "choose another name or delete the existing one".into(),
        libc::EOPNOTSUPP => "this kernel does not support it; check the kernel configuration or use another interface type".into(),
        libc::EBUSY => "bring the device down first, or detach whatever uses it".into(),
        libc::ESRCH => "the target process is gone; make sure the container is still starting".into(),
        libc::ENODEV => "check the name with \"hako network ls\" or the host's interface list".into(),
        libc::ENOBUFS | libc::ENOMEM => "the host is short of memory; free some and retry".into(),
        _ => "check the value and the kernel log (dmesg)".into(),
    }
}

fn kerr(op: String, e: KernelErr) -> NetError {
    let remedy = remedy(e.errno);
    NetError::Kernel {
        op,
        errno: e.errno,
        ext_ack: e.ext_ack,
        remedy,
    }
}

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

/// Parse the extended-ack TLVs of an NLMSG_ERROR message (`msg` is the whole message).
fn parse_ext_ack(msg: &[u8], flags: u16) -> Option<String> {
    if flags & NLM_F_ACK_TLVS == 0 || msg.len() < NLMSG_HDRLEN + 4 + NLMSG_HDRLEN {
        return None;
    }
    let inner = NLMSG_HDRLEN + 4;
    let orig_len = if flags & NLM_F_CAPPED != 0 {
        NLMSG_HDRLEN
    } else {
        u32::from_ne_bytes(msg[inner..inner + 4].try_into().ok()?) as usize
    };
    let mut off = (inner + orig_len + 3) & !3;
    while off + 4 <= msg.len() {
        let len = u16::from_ne_bytes([msg[off], msg[off + 1]]) as usize;
        let typ = u16::from_ne_bytes([msg[off + 2], msg[off + 3]]) & 0x3fff;
        if len < 4 || off + len > msg.len() {
            break;
        }
        if typ == NLMSGERR_ATTR_MSG {
            let v = &msg[off + 4..off + len];
            let v = v.split(|b| *b == 0).next().unwrap_or(v);
            let s = String::from_utf8_lossy(v).trim().to_string();
            return Some(s).filter(|s| !s.is_empty());
        }
        off += (len + 3) & !3;
    }
    None
}

fn family_of(ip: &IpAddr) -> AddressFamily {
    if ip.is_ipv4() {
        AddressFamily::Inet
    } else {
        AddressFamily::Inet6
    }
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
    /// A socket in the calling thread's current network namespace.
    pub fn new() -> Result<Netlink> {
        let op = || "open a netlink route socket".to_string();
        let mut sock = Socket::new(NETLINK_ROUTE).map_err(|e| {
            NetError::io(
                op(),
                e,
                "check that the kernel has netlink (it always should)",
            )
        })?;
        sock.bind_auto()
            .map_err(|e| NetError::io(op(), e, "check the limit on open files"))?;
        sock.connect(&SocketAddr::new(0, 0))
            .map_err(|e| NetError::io(op(), e, "check the kernel log (dmesg)"))?;
        // Both are best effort: old kernels lack them and work without.
        let _ = sock.set_ext_ack(true);
        let _ = sock.set_cap_ack(true);
        Ok(Netlink {
            sock,
            seq: 0,
            buf: vec![0; RECV_BUF],
        })
    }

    /// A socket inside the network namespace `ns_fd` (an open `/proc/PID/ns/net`): enter it,
    /// create the socket, return to the calling thread's original namespace. The socket stays
    /// bound to `ns_fd`'s namespace for its whole life. Only the calling thread switches.
    pub fn in_netns(ns_fd: BorrowedFd) -> Result<Netlink> {
        let orig = File::open("/proc/thread-self/ns/net").map_err(|e| {
            NetError::io(
                "open /proc/thread-self/ns/net to remember the current network namespace",
                e,
                "mount /proc",
            )
        })?;
        setns(ns_fd, CloneFlags::CLONE_NEWNET).map_err(|e| {
            NetError::io(
                format!("enter the network namespace of fd {}", ns_fd.as_raw_fd()),
                io::Error::from(e),
                "pass an open /proc/PID/ns/net of a live process and run as root",
            )
        })?;
        let nl = Netlink::new();
        // Going back must not fail silently: the caller would keep running in the wrong netns.
        if let Err(e) = setns(orig.as_fd(), CloneFlags::CLONE_NEWNET) {
            return Err(NetError::io(
                "return to the original network namespace",
                io::Error::from(e),
                "this should never happen; report it as a hako bug",
            ));
        }
        nl
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1).max(1);
        self.seq
    }

    fn send(&mut self, msg: RouteNetlinkMessage, flags: u16) -> Result<u32, KernelErr> {
        let seq = self.next_seq();
        let mut hdr = NetlinkHeader::default();
        hdr.flags = NLM_F_REQUEST | flags;
        hdr.sequence_number = seq;
        let mut packet = NetlinkMessage::new(hdr, NetlinkPayload::from(msg));
        packet.finalize();
        let mut out = vec![0u8; packet.buffer_len()];
        packet.serialize(&mut out[..]);
        self.sock.send(&out, 0)?;
        Ok(seq)
    }

    /// Receive answers to `seq` until an ACK/NLMSG_ERROR (for requests) or NLMSG_DONE (for
    /// dumps); collect the rtnetlink messages in between.
    fn receive(&mut self, seq: u32) -> Result<Vec<RouteNetlinkMessage>, KernelErr> {
        let mut out = Vec::new();
        loop {
            let n = loop {
                match self.sock.recv(&mut &mut self.buf[..], libc::MSG_TRUNC) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e.into()),
                }
            };
            if n > self.buf.len() {
                return Err(KernelErr {
                    errno: libc::EMSGSIZE,
                    ext_ack: Some(format!("netlink answer of {n} bytes truncated")),
                });
            }
            let mut off = 0;
            while off + NLMSG_HDRLEN <= n {
                let b = &self.buf[off..n];
                let len = u32::from_ne_bytes(b[0..4].try_into().unwrap()) as usize;
                let typ = u16::from_ne_bytes([b[4], b[5]]);
                let flags = u16::from_ne_bytes([b[6], b[7]]);
                let mseq = u32::from_ne_bytes(b[8..12].try_into().unwrap());
                if len < NLMSG_HDRLEN || len > b.len() {
                    return Err(KernelErr {
                        errno: libc::EPROTO,
                        ext_ack: Some("malformed netlink message".into()),
                    });
                }
                let msg = &b[..len];
                off += (len + 3) & !3;
                if mseq != seq {
                    continue; // a late answer to an earlier request
                }
                match typ {
                    NLMSG_ERROR => {
                        let code = if len >= NLMSG_HDRLEN + 4 {
                            i32::from_ne_bytes(msg[16..20].try_into().unwrap())
                        } else {
                            -libc::EPROTO
                        };
                        if code == 0 {
                            return Ok(out);
                        }
                        return Err(KernelErr {
                            errno: -code,
                            ext_ack: parse_ext_ack(msg, flags),
                        });
                    }
                    NLMSG_DONE => {
                        let code = if len >= NLMSG_HDRLEN + 4 {
                            i32::from_ne_bytes(msg[16..20].try_into().unwrap())
                        } else {
                            0
                        };
                        if code < 0 {
                            return Err(KernelErr {
                                errno: -code,
                                ext_ack: None,
                            });
                        }
                        return Ok(out);
                    }
                    _ => {
                        let parsed = NetlinkMessage::<RouteNetlinkMessage>::deserialize(msg)
                            .map_err(|e| KernelErr {
                                errno: libc::EPROTO,
                                ext_ack: Some(format!("cannot parse a netlink answer: {e}")),
                            })?;
                        if let NetlinkPayload::InnerMessage(m) = parsed.payload {
                            out.push(m);
                        }
                    }
                }
            }
        }
    }

    /// Send a request that changes something; wait for the kernel's ACK.
    fn request(&mut self, msg: RouteNetlinkMessage, flags: u16) -> Result<(), KernelErr> {
        let seq = self.send(msg, NLM_F_ACK | flags)?;
        self.receive(seq).map(|_| ())
    }

    /// A dump request; retried when the kernel says the dump was interrupted by a change.
    fn dump(&mut self, msg: RouteNetlinkMessage) -> Result<Vec<RouteNetlinkMessage>, KernelErr> {
        let mut tries = 0;
        loop {
            let seq = self.send(msg.clone(), NLM_F_DUMP)?;
            match self.receive(seq) {
                Err(e) if e.errno == libc::EINTR && tries < 5 => tries += 1,
                r => return r,
            }
        }
    }

    fn get_link(&mut self, name: &str) -> Result<Option<LinkMessage>, KernelErr> {
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

    fn need_dev(&mut self, name: &str, op: &dyn Fn() -> String) -> Result<u32> {
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
        if let Some(pid) = o.peer_netns_pid {
            p.attributes.push(LinkAttribute::NetNsPid(pid as u32));
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
        let op = match o.peer_netns_pid {
            Some(pid) => format!(
                "create veth pair \"{host}\" / \"{peer}\" (peer in the network namespace of pid {pid})"
            ),
            None => format!("create veth pair \"{host}\" / \"{peer}\""),
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

    fn link_names(&mut self) -> Result<Vec<(u32, String)>, KernelErr> {
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

impl AsFd for Netlink {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::errno_text;

    #[test]
    fn ext_ack_parsing() {
        // NLMSG_ERROR, capped, with an NLMSGERR_ATTR_MSG TLV
        let text = b"Unknown device type\0";
        let mut m = Vec::new();
        let tlv_len = 4 + text.len();
        let total = NLMSG_HDRLEN + 4 + NLMSG_HDRLEN + ((tlv_len + 3) & !3);
        m.extend_from_slice(&(total as u32).to_ne_bytes());
        m.extend_from_slice(&NLMSG_ERROR.to_ne_bytes());
        m.extend_from_slice(&(NLM_F_CAPPED | NLM_F_ACK_TLVS).to_ne_bytes());
        m.extend_from_slice(&7u32.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(&(-libc::EOPNOTSUPP).to_ne_bytes());
        m.extend_from_slice(&[0u8; NLMSG_HDRLEN]);
        m.extend_from_slice(&(tlv_len as u16).to_ne_bytes());
        m.extend_from_slice(&NLMSGERR_ATTR_MSG.to_ne_bytes());
        m.extend_from_slice(text);
        while m.len() < total {
            m.push(0);
        }
        assert_eq!(
            parse_ext_ack(&m, NLM_F_CAPPED | NLM_F_ACK_TLVS).as_deref(),
            Some("Unknown device type")
        );
        assert_eq!(parse_ext_ack(&m, NLM_F_CAPPED), None);
        assert_eq!(parse_ext_ack(&m[..20], NLM_F_CAPPED | NLM_F_ACK_TLVS), None);
    }

    #[test]
    fn kernel_error_text() {
        let e = kerr(
            "create bridge \"b\"".into(),
            KernelErr {
                errno: libc::EPERM,
                ext_ack: None,
            },
        );
        assert_eq!(
            e.to_string(),
            "cannot create bridge \"b\": operation not permitted; run hako as root (it needs CAP_NET_ADMIN)"
        );
        let e = kerr(
            "create dummy device \"d\"".into(),
            KernelErr {
                errno: libc::EOPNOTSUPP,
                ext_ack: Some("Unknown device type".into()),
            },
        );
        assert!(
            e.to_string()
                .contains("(kernel: Unknown device type); this kernel does not support it"),
            "{e}"
        );
        assert_eq!(errno_text(libc::ENODEV), "no such device");
    }
}
