//! Fixtures shared by the unit tests of managed networks and DNS names.

use std::fs;
use std::path::Path;

use crate::managed::{NetworkDef, Networks};

/// The definition of a network `hakobr0` on 10.47.3.1/24 with NAT, DHCP and domain `hako`.
pub(crate) fn def() -> NetworkDef {
    NetworkDef {
        name: "hakobr0".into(),
        bridge: "hakobr0".into(),
        ipv4: Some("10.47.3.1/24".parse().unwrap()),
        ipv6: None,
        nat: true,
        dhcp: true,
        dns_domain: Some("hako".into()),
    }
}

/// Networks under `dir` (`state/`, `run/`) with [`def`] written as `hakobr0`'s definition
/// (directly: `create` needs netlink, tested as root elsewhere).
pub(crate) fn network(dir: &Path) -> Networks {
    fs::create_dir_all(dir.join("state/networks")).unwrap();
    fs::write(
        dir.join("state/networks/hakobr0.json"),
        serde_json::to_vec(&def()).unwrap(),
    )
    .unwrap();
    Networks::open(&dir.join("state"), &dir.join("run"))
}
