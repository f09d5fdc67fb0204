//! A synchronous rtnetlink client: links (veth, macvlan, bridge, dummy), addresses, routes,
//! moving links between network namespaces. One blocking `NETLINK_ROUTE` socket, no threads,
//! no async runtime: safe to use in a single-threaded monitor that forks.
//!
//! The parts: `socket` (the socket, requests and dumps, the kernel's errors and their
//! remedies), `links` (devices: create, delete, configure, move, list) and `addrs`
//! (addresses and routes).

use std::net::IpAddr;
use std::os::fd::{AsFd, BorrowedFd};

use netlink_sys::Socket;
use serde::{Deserialize, Serialize};

use crate::names::format_mac;

mod addrs;
mod links;
mod socket;

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

impl AsFd for Netlink {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }
}
