//! hako-net: container networking.
//!
//! * [`Netlink`]: a synchronous rtnetlink client (veth, macvlan, bridge, addresses, routes,
//!   moving links between network namespaces). No threads, no async runtime, no `ip`
//!   subprocess: safe for the single-threaded monitor that clones a container's init.
//! * [`Networks`]: managed networks: persistent definitions, and on-demand bring-up of a
//!   bridge with a host address, an nftables table `hako_<name>` (masquerade, forwarding) and
//!   a supervised dnsmasq (DHCP, DNS for container names).
//! * [`DnsReg`]: a container's name in a managed network's DNS, registered at start and
//!   forgotten at stop: the one place either happens.
//! * Names and addresses: [`validate_ifname`], [`veth_host_name`], [`random_mac`],
//!   [`format_mac`], [`Ipv4Net`], [`Ipv6Net`]. The values of a config (`lxc.net.N.*`: MAC
//!   addresses, addresses with prefixes, gateways, MTU) parse in hako-config's `net`
//!   module, which [`Ipv4Net`] and [`Ipv6Net`] use too; hako-net takes them typed.

mod dns;
mod error;
mod managed;
mod names;
mod netlink;
#[cfg(test)]
mod testutil;

pub use dns::{DnsAddr, DnsReg};
pub use error::{NetError, Result};
pub use managed::*;
pub use names::{
    format_mac, prefixes_overlap, random_mac, validate_ifname, veth_host_name, Ipv4Net, Ipv6Net,
    MacvlanMode, IFNAME_MAX,
};
pub use netlink::{Address, LinkInfo, MacvlanOptions, Netlink, Route, VethOptions};
