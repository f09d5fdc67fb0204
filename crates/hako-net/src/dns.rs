//! A container's name in a managed network's DNS: registered when `hako start` plans the
//! container's interfaces, forgotten when the start fails, when the container stops (by
//! its monitor) and when the state a killed monitor left is cleaned up. [`DnsReg`] is the
//! one place hako does either.

use std::net::IpAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::managed::{forget_host, Networks};

/// What a container's name resolves to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DnsAddr {
    /// its static address (`lxc.net.N.ipv4.address`) with the prefix it was written with
    Static(IpAddr, u8),
    /// whatever the network's DHCP server leases to this MAC address
    Dhcp([u8; 6]),
}

/// A registered name (serialisable: it travels in the launch options to the monitor, and
/// in the state file to the cleanup after a killed monitor).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsReg {
    /// hako's runtime directory (`/run/hako`); the network's files are under `net/NAME`
    pub run_dir: PathBuf,
    pub network: String,
    pub hostname: String,
    /// the registering container, across lxcpaths (hako-store's `Store::container_id`):
    /// only its own entries are removed again
    pub owner: String,
}

impl DnsReg {
    /// Register `hostname` of container `owner` on managed network `network`.
    ///
    /// A static address is checked first ([`Networks::check_static`]: in the subnet, with
    /// its prefix, free) and reserved ([`Networks::register_host`]); an error says why not.
    /// A DHCP client is given its name ([`Networks::register_dhcp_host`]) as a best effort:
    /// a container whose entry cannot be written still gets an address (and the name its
    /// DHCP client sends), so that is not an error. Either way the registration returned is
    /// the one to [`DnsReg::forget`].
    pub fn register(
        nets: &Networks,
        network: &str,
        hostname: &str,
        owner: &str,
        addr: DnsAddr,
    ) -> Result<DnsReg> {
        match addr {
            DnsAddr::Static(ip, prefix) => {
                nets.check_static(network, ip, prefix)?;
                nets.register_host(network, hostname, ip, owner)?;
            }
            DnsAddr::Dhcp(mac) => {
                let _ = nets.register_dhcp_host(network, hostname, mac, owner);
            }
        }
        Ok(DnsReg {
            run_dir: nets.run_dir(),
            network: network.to_string(),
            hostname: hostname.to_string(),
            owner: owner.to_string(),
        })
    }

    /// Remove the name (its static and DHCP entries of this owner) and tell the network's
    /// dnsmasq, if it runs, to reread them. Reads no network definition and runs no
    /// process: light enough for the resident monitor at stop. Idempotent; true if
    /// anything was removed.
    pub fn forget(&self) -> bool {
        forget_host(&self.run_dir, &self.network, &self.hostname, &self.owner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::network;
    use std::fs;

    #[test]
    fn static_names_are_registered_and_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let nets = network(dir.path());
        let ip: IpAddr = "10.47.3.50".parse().unwrap();
        let r = DnsReg::register(&nets, "hakobr0", "web1", "o1", DnsAddr::Static(ip, 24)).unwrap();
        assert_eq!(
            r,
            DnsReg {
                run_dir: dir.path().join("run"),
                network: "hakobr0".into(),
                hostname: "web1".into(),
                owner: "o1".into(),
            }
        );
        let hosts = dir.path().join("run/net/hakobr0/hosts.d/10.47.3.50");
        assert_eq!(
            fs::read_to_string(&hosts).unwrap(),
            "10.47.3.50 web1 # hako-owner=o1\n"
        );
        // the address is taken now
        let e = DnsReg::register(&nets, "hakobr0", "web2", "o2", DnsAddr::Static(ip, 24))
            .unwrap_err()
            .to_string();
        assert!(e.contains("already used by container \"web1\""), "{e}");
        assert!(r.forget());
        assert!(!hosts.exists());
        assert!(!dir.path().join("run/net/hakobr0/dhcp-hosts.d/o1").exists());
        assert!(!r.forget(), "nothing left to forget");
        // free again
        DnsReg::register(&nets, "hakobr0", "web2", "o2", DnsAddr::Static(ip, 24)).unwrap();
    }

    #[test]
    fn static_addresses_are_checked_before_anything_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let nets = network(dir.path());
        let out: IpAddr = "10.47.4.50".parse().unwrap();
        let e = DnsReg::register(&nets, "hakobr0", "web1", "o1", DnsAddr::Static(out, 24))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("outside the network's subnet 10.47.3.0/24"),
            "{e}"
        );
        // the prefix the container wrote must be the network's
        let ip: IpAddr = "10.47.3.50".parse().unwrap();
        let e = DnsReg::register(&nets, "hakobr0", "web1", "o1", DnsAddr::Static(ip, 16))
            .unwrap_err()
            .to_string();
        assert!(e.contains("write the address as 10.47.3.50/24"), "{e}");
        let e = DnsReg::register(&nets, "nope", "web1", "o1", DnsAddr::Static(ip, 24))
            .unwrap_err()
            .to_string();
        assert!(e.contains("hako network create nope"), "{e}");
        assert!(nets.registered_hosts("hakobr0").unwrap().is_empty());
    }

    #[test]
    fn dhcp_names_are_best_effort_and_forgotten_per_owner() {
        let dir = tempfile::tempdir().unwrap();
        let nets = network(dir.path());
        let a = DnsReg::register(
            &nets,
            "hakobr0",
            "web3",
            "o3",
            DnsAddr::Dhcp([2, 0, 0, 0, 0, 9]),
        )
        .unwrap();
        let b = DnsReg::register(
            &nets,
            "hakobr0",
            "web3",
            "o4",
            DnsAddr::Dhcp([2, 0, 0, 0, 0, 10]),
        )
        .unwrap();
        let entry = |o: &str| dir.path().join("run/net/hakobr0/dhcp-hosts.d").join(o);
        assert_eq!(
            fs::read_to_string(entry("o3")).unwrap(),
            "02:00:00:00:00:09,web3\n"
        );
        // a second "web3" elsewhere goes away with only its own entry
        assert!(b.forget());
        assert!(entry("o3").exists() && !entry("o4").exists());
        assert!(a.forget());
        assert!(!entry("o3").exists());
        // a name that cannot be registered is no error: there is nothing to forget then
        let c = DnsReg::register(
            &nets,
            "hakobr0",
            "bad_name",
            "o5",
            DnsAddr::Dhcp([2, 0, 0, 0, 0, 11]),
        )
        .unwrap();
        assert!(!entry("o5").exists());
        assert!(!c.forget());
    }

    #[test]
    fn registrations_travel_as_json() {
        let r = DnsReg {
            run_dir: "/run/hako".into(),
            network: "hakobr0".into(),
            hostname: "web1".into(),
            owner: "o1".into(),
        };
        let j = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<DnsReg>(&j).unwrap(), r);
        // as an older hako wrote it (with the definitions' directory), in a state file
        let old = r#"{"state_dir":"/etc/hako","run_dir":"/run/hako","network":"hakobr0","hostname":"web1","owner":"o1"}"#;
        assert_eq!(serde_json::from_str::<DnsReg>(old).unwrap(), r);
        // a hostile owner in a state file removes nothing outside the network's directory
        let bad = DnsReg {
            owner: "../x".into(),
            ..r
        };
        assert!(!bad.forget());
    }
}
