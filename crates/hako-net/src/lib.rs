//! hako-net: container networking.
//!
//! * [`Netlink`]: a synchronous rtnetlink client (veth, macvlan, bridge, addresses, routes,
//!   moving links between network namespaces). No threads, no async runtime, no `ip`
//!   subprocess: safe for the single-threaded monitor that clones a container's init.
//! * [`Networks`]: managed networks: persistent definitions, and on-demand bring-up of a
//!   bridge with a host address, an nftables table `hako_<name>` (masquerade, forwarding) and
//!   a supervised dnsmasq (DHCP, DNS for container names).
//! * Names and addresses: [`validate_ifname`], [`veth_host_name`], [`parse_mac`],
//!   [`random_mac`], [`parse_cidr`], [`Ipv4Net`], [`Ipv6Net`].

mod error;
mod managed;
mod names;
mod netlink;

pub use error::{NetError, Result};
pub use managed::*;
pub use names::{
    fill_mac_template, format_mac, parse_cidr, parse_mac, prefixes_overlap, random_mac,
    validate_ifname, veth_host_name, Ipv4Net, Ipv6Net, MacvlanMode, IFNAME_MAX,
};
pub use netlink::{Address, LinkInfo, MacvlanOptions, Netlink, Route, VethOptions};
