//! `hako network ...`: the clap definitions, `--ipv4`/`--ipv6` values, the actions.

use clap::{Args, Subcommand};

use super::{usage, FormatArg};
use crate::cli::action::*;

// The network name operand (a plain comment, see NameArg).
#[derive(Args, Debug)]
pub(super) struct NetName {
    /// Network name (also the bridge's name): up to 15 characters.
    #[arg(value_name = "NAME", add = crate::cli::docs::network_candidates())]
    name: String,
}

#[derive(Subcommand, Debug)]
#[command(defer = true)]
pub(super) enum NetCmd {
    /// Define a managed network; it comes up with the first container that uses it
    /// (lxc.net.N.link = NAME) or with "hako network up NAME".
    Create {
        #[command(flatten)]
        name: NetName,
        /// The bridge's IPv4 address with the subnet's prefix (e.g. 10.47.3.1/24), auto (a
        /// free private /24; the default) or none.
        #[arg(long = "ipv4", value_name = "CIDR|auto|none")]
        ipv4: Option<String>,
        /// The bridge's IPv6 address with the subnet's prefix (e.g. fd42:1:2:3::1/64) or
        /// none (the default).
        #[arg(long = "ipv6", value_name = "CIDR|none")]
        ipv6: Option<String>,
        /// Masquerade the subnet's traffic to other networks (the default).
        #[arg(long = "nat", conflicts_with = "no_nat")]
        nat: bool,
        /// No masquerading: the subnet is reachable only from the host (or by routing).
        #[arg(long = "no-nat")]
        no_nat: bool,
        /// Serve DHCP on the bridge (the default).
        #[arg(long = "dhcp", conflicts_with = "no_dhcp")]
        dhcp: bool,
        /// No DHCP: containers need static addresses (lxc.net.N.ipv4.address).
        #[arg(long = "no-dhcp")]
        no_dhcp: bool,
        /// DNS domain for container names (c1.DOMAIN), also handed out by DHCP.
        #[arg(long = "dns-domain", value_name = "DOMAIN")]
        dns_domain: Option<String>,
    },
    /// List managed networks: NAME BRIDGE IPV4 IPV6 NAT DHCP STATE.
    #[command(visible_alias = "list")]
    Ls {
        /// Output format.
        #[arg(long = "format", value_enum, default_value_t = FormatArg::Text)]
        format: FormatArg,
    },
    /// Show a network's definition, the state of its parts, attached devices and leases.
    Show {
        #[command(flatten)]
        name: NetName,
        /// Output format.
        #[arg(long = "format", value_enum, default_value_t = FormatArg::Text)]
        format: FormatArg,
    },
    /// List a network's DHCP leases: IP MAC HOSTNAME EXPIRES.
    Leases {
        #[command(flatten)]
        name: NetName,
        /// Output format.
        #[arg(long = "format", value_enum, default_value_t = FormatArg::Text)]
        format: FormatArg,
    },
    /// Take a network down and delete its definition (refused while containers use it).
    #[command(visible_alias = "remove")]
    Rm {
        #[command(flatten)]
        name: NetName,
        /// Remove it even while containers are attached (they lose their network).
        #[arg(short = 'f', long = "force")]
        force: bool,
    },
    /// Bring a network up now: bridge, address, nftables table, dnsmasq (repairs missing parts).
    Up {
        #[command(flatten)]
        name: NetName,
    },
    /// Take a network down (the definition stays; refused while containers use it).
    Down {
        #[command(flatten)]
        name: NetName,
        /// Take it down even while containers are attached (they lose their network).
        #[arg(short = 'f', long = "force")]
        force: bool,
    },
}

/// `--ipv4 CIDR|auto|none`
pub fn parse_ipv4_choice(s: &str) -> Result<crate::network::Ipv4Choice, String> {
    use crate::network::Ipv4Choice;
    match s.trim() {
        "auto" => Ok(Ipv4Choice::Auto),
        "none" => Ok(Ipv4Choice::None),
        // (the address is checked before the prefix: "not an address" says more than "no
        // prefix length" for a word like "x")
        cidr => cidr
            .parse::<hako_net::Ipv4Net>()
            .map(Ipv4Choice::Cidr)
            .map_err(|e| e.to_string()),
    }
}

/// `--ipv6 CIDR|none`
pub fn parse_ipv6_choice(s: &str) -> Result<Option<hako_net::Ipv6Net>, String> {
    match s.trim() {
        "none" => Ok(None),
        "auto" => Err("--ipv6 auto is not supported; give the bridge's address and prefix, e.g. --ipv6 fd42:1:2:3::1/64 (a unique local fd00::/8 prefix), or --ipv6 none".into()),
        cidr => {
            cidr.parse::<hako_net::Ipv6Net>()
                .map(Some)
                .map_err(|e| e.to_string())
        }
    }
}

pub(super) fn build_network(cmd: NetCmd) -> Result<NetworkAction, EarlyExit> {
    Ok(match cmd {
        NetCmd::Create {
            name,
            ipv4,
            ipv6,
            nat: _,
            no_nat,
            dhcp: _,
            no_dhcp,
            dns_domain,
        } => {
            let mut opts = crate::network::CreateNetOpts::default();
            if let Some(v) = ipv4 {
                opts.ipv4 = parse_ipv4_choice(&v).map_err(usage)?;
            }
            if let Some(v) = ipv6 {
                opts.ipv6 = parse_ipv6_choice(&v).map_err(usage)?;
            }
            opts.nat = !no_nat;
            opts.dhcp = !no_dhcp;
            if let Some(d) = &dns_domain {
                hako_net::validate_dns_name("DNS domain", d).map_err(usage)?;
            }
            opts.dns_domain = dns_domain;
            NetworkAction::Create {
                name: name.name,
                opts,
            }
        }
        NetCmd::Ls { format } => NetworkAction::Ls {
            format: format.into(),
        },
        NetCmd::Show { name, format } => NetworkAction::Show {
            name: name.name,
            format: format.into(),
        },
        NetCmd::Leases { name, format } => NetworkAction::Leases {
            name: name.name,
            format: format.into(),
        },
        NetCmd::Rm { name, force } => NetworkAction::Rm {
            name: name.name,
            force,
        },
        NetCmd::Up { name } => NetworkAction::Up { name: name.name },
        NetCmd::Down { name, force } => NetworkAction::Down {
            name: name.name,
            force,
        },
    })
}
