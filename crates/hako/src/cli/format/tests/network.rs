use super::*;

use crate::network::{HostEntry, NetState, NetUser, NetworkDef, NetworkStatus};

fn net_def(name: &str, v4: Option<&str>, v6: Option<&str>) -> NetworkDef {
    NetworkDef {
        name: name.into(),
        bridge: name.into(),
        ipv4: v4.map(|s| s.parse().unwrap()),
        ipv6: v6.map(|s| s.parse().unwrap()),
        nat: true,
        dhcp: true,
        dns_domain: None,
    }
}

fn net_status(name: &str, up: bool) -> NetworkStatus {
    NetworkStatus {
        name: name.into(),
        bridge: name.into(),
        bridge_exists: up,
        bridge_up: up,
        addresses_ok: up,
        nft_wanted: true,
        nft_table: up,
        dnsmasq_wanted: true,
        dnsmasq_pid: up.then_some(4242),
        interfaces: Vec::new(),
        up,
    }
}

fn summary(def: NetworkDef, st: Option<NetworkStatus>) -> NetworkSummary {
    NetworkSummary {
        def,
        state: st.as_ref().map(NetState::of).unwrap_or(NetState::Unknown),
        status_error: st.is_none().then(|| "cannot look up nftables table inet hako_x: operation not permitted; run hako as root".to_string()),
        status: st,
    }
}

fn lease(ip: &str, mac: &str, host: Option<&str>, expiry: u64) -> Lease {
    Lease {
        expiry,
        mac: mac.into(),
        ip: ip.parse().unwrap(),
        hostname: host.map(String::from),
        client_id: None,
    }
}

#[test]
fn network_ls_table_and_states() {
    let mut degraded = net_status("hkn2", true);
    degraded.dnsmasq_pid = None;
    degraded.up = false;
    let mut b = net_def("hkn2", None, Some("fd42:1:2:3::1/64"));
    b.nat = false;
    b.dhcp = false;
    let nets = vec![
        summary(
            net_def("hakobr0", Some("10.120.17.1/24"), None),
            Some(net_status("hakobr0", true)),
        ),
        summary(b, Some(degraded)),
        summary(
            net_def("n3", Some("10.1.2.1/24"), None),
            Some(net_status("n3", false)),
        ),
        summary(net_def("n4", None, None), None),
    ];
    assert_eq!(
        net_ls_table(&nets),
        "NAME     BRIDGE   IPV4            IPV6              NAT  DHCP  STATE\n\
         hakobr0  hakobr0  10.120.17.1/24  -                 yes  yes   up\n\
         hkn2     hkn2     -               fd42:1:2:3::1/64  no   no    degraded\n\
         n3       n3       10.1.2.1/24     -                 yes  yes   down\n\
         n4       n4       -               -                 yes  yes   unknown\n"
    );
    assert_eq!(net_ls_table(&[]), "");
}

#[test]
fn network_ls_json() {
    let nets = vec![
        summary(
            net_def("hkn1", Some("10.120.17.1/24"), None),
            Some(net_status("hkn1", true)),
        ),
        summary(net_def("n4", None, None), None),
    ];
    let v: serde_json::Value = serde_json::from_str(&net_ls_json(&nets)).unwrap();
    assert_eq!(v[0]["name"], "hkn1");
    assert_eq!(v[0]["bridge"], "hkn1");
    assert_eq!(v[0]["ipv4"], "10.120.17.1/24");
    assert_eq!(v[0]["ipv6"], serde_json::Value::Null);
    assert_eq!(v[0]["nat"], true);
    assert_eq!(v[0]["dhcp"], true);
    assert_eq!(v[0]["state"], "up");
    assert_eq!(v[0]["status"]["dnsmasq_pid"], 4242);
    assert_eq!(v[1]["state"], "unknown");
    assert!(v[1]["status_error"]
        .as_str()
        .unwrap()
        .contains("run hako as root"));
    assert_eq!(net_ls_json(&[]), "[]\n");
}

#[test]
fn lease_expiry_text() {
    assert_eq!(lease_expiry(0, 1000), "never");
    assert_eq!(lease_expiry(999, 1000), "expired");
    assert_eq!(lease_expiry(1000, 1000), "expired");
    assert_eq!(lease_expiry(1042, 1000), "in 42s");
    assert_eq!(lease_expiry(1000 + 3595, 1000), "in 59m 55s");
    assert_eq!(lease_expiry(1000 + 3600 + 61, 1000), "in 1h 1m");
    assert_eq!(
        lease_expiry(1000 + 2 * 86400 + 5 * 3600 + 7, 1000),
        "in 2d 5h"
    );
}

#[test]
fn leases_table_and_json() {
    let now = 1_700_000_000;
    let l = vec![
        lease("10.120.17.37", "00:16:3e:85:1f:a6", Some("c1"), now + 3595),
        lease("10.120.17.5", "00:16:3e:00:00:01", None, 0),
    ];
    assert_eq!(
        leases_table(&l, now),
        "IP            MAC                HOSTNAME  EXPIRES\n\
         10.120.17.37  00:16:3e:85:1f:a6  c1        in 59m 55s\n\
         10.120.17.5   00:16:3e:00:00:01  -         never\n"
    );
    assert_eq!(leases_table(&[], now), "");
    let v: serde_json::Value = serde_json::from_str(&leases_json(&l)).unwrap();
    assert_eq!(v[0]["ip"], "10.120.17.37");
    assert_eq!(v[0]["mac"], "00:16:3e:85:1f:a6");
    assert_eq!(v[0]["hostname"], "c1");
    assert_eq!(v[0]["expiry"], now + 3595);
    assert_eq!(v[1]["hostname"], serde_json::Value::Null);
}

fn details(sum: NetworkSummary) -> NetworkDetails {
    NetworkDetails {
        summary: sum,
        users: Vec::new(),
        leases: Vec::new(),
        hosts: Vec::new(),
    }
}

#[test]
fn network_show_up_with_users_leases_hosts() {
    let now = 1_700_000_000;
    let mut st = net_status("hkn1", true);
    st.interfaces = vec!["vethc8b8570bbe".into(), "veth00".into()];
    let mut def = net_def("hkn1", Some("10.120.17.1/24"), None);
    def.dns_domain = Some("lan.test".into());
    let mut d = details(summary(def, Some(st)));
    d.users = vec![
        NetUser {
            interface: "vethc8b8570bbe".into(),
            container: Some("c1".into()),
        },
        NetUser {
            interface: "veth00".into(),
            container: None,
        },
    ];
    d.leases = vec![lease(
        "10.120.17.37",
        "00:16:3e:85:1f:a6",
        Some("c1"),
        now + 3595,
    )];
    d.hosts = vec![HostEntry {
        hostname: "c2".into(),
        ip: "10.120.17.9".parse().unwrap(),
        owner: Some("0123456789abcdef".into()),
    }];
    assert_eq!(
        net_show_text(&d, now),
        "Name:           hkn1\n\
         State:          up\n\
         Bridge:         hkn1 (up)\n\
         IPv4:           10.120.17.1/24 (on the bridge)\n\
         IPv6:           none\n\
         NAT:            yes\n\
         DHCP:           yes (pool 10.120.17.2 - 10.120.17.254)\n\
         DNS domain:     lan.test\n\
         nftables:       table inet hako_hkn1 present\n\
         dnsmasq:        running (pid 4242)\n\
         Interface:      vethc8b8570bbe (container \"c1\")\n\
         Interface:      veth00\n\
         Leases:\n  \
           IP            MAC                HOSTNAME  EXPIRES\n  \
           10.120.17.37  00:16:3e:85:1f:a6  c1        in 59m 55s\n\
         Static names:\n  \
           HOSTNAME  IP\n  \
           c2        10.120.17.9\n"
    );
    let v: serde_json::Value = serde_json::from_str(&net_show_json(&d)).unwrap();
    assert_eq!(v["name"], "hkn1");
    assert_eq!(v["state"], "up");
    assert_eq!(v["dns_domain"], "lan.test");
    assert_eq!(v["status"]["nft_table"], true);
    assert_eq!(v["users"][0]["container"], "c1");
    assert_eq!(v["users"][1]["container"], serde_json::Value::Null);
    assert_eq!(v["leases"][0]["ip"], "10.120.17.37");
    assert_eq!(v["hosts"][0]["hostname"], "c2");
}

#[test]
fn network_show_down_degraded_unknown() {
    let now = 1_700_000_000;
    let down = details(summary(
        net_def("n3", Some("10.1.2.1/24"), None),
        Some(net_status("n3", false)),
    ));
    let t = net_show_text(&down, now);
    assert!(t.contains("State:          down\n"), "{t}");
    assert!(t.contains("Bridge:         n3 (not present)\n"), "{t}");
    assert!(t.contains("IPv4:           10.1.2.1/24\n"), "{t}");
    assert!(
        t.contains("nftables:       table inet hako_n3 not present\n"),
        "{t}"
    );
    assert!(
        t.contains("Interfaces:     none\nLeases:         none\n"),
        "{t}"
    );
    // dnsmasq died: the rest is up
    let mut st = net_status("n3", true);
    st.dnsmasq_pid = None;
    st.up = false;
    let deg = details(summary(net_def("n3", Some("10.1.2.1/24"), None), Some(st)));
    let t = net_show_text(&deg, now);
    assert!(t.contains("State:          degraded\n"), "{t}");
    assert!(t.contains(
        "dnsmasq:        not running (will be restarted by the next start or \"hako network up n3\")\n"
    ), "{t}");
    // bridge present, address missing, link down
    let mut st = net_status("n3", true);
    st.addresses_ok = false;
    st.bridge_up = false;
    st.up = false;
    let t = net_show_text(
        &details(summary(net_def("n3", Some("10.1.2.1/24"), None), Some(st))),
        now,
    );
    assert!(
        t.contains("Bridge:         n3 (present, link down)\n"),
        "{t}"
    );
    assert!(
        t.contains("IPv4:           10.1.2.1/24 (missing from the bridge)\n"),
        "{t}"
    );
    // no address at all: neither nft nor dnsmasq
    let mut st = net_status("n5", true);
    st.nft_wanted = false;
    st.nft_table = false;
    st.dnsmasq_wanted = false;
    st.dnsmasq_pid = None;
    let mut def = net_def("n5", None, None);
    def.nat = false;
    def.dhcp = false;
    let t = net_show_text(&details(summary(def, Some(st))), now);
    assert!(
        t.contains("nftables:       not used (the network has no address)\n"),
        "{t}"
    );
    assert!(
        t.contains("dnsmasq:        not used (the network has no address)\n"),
        "{t}"
    );
    assert!(t.contains("DHCP:           no\n"), "{t}");
    // status unreadable (not root)
    let unk = details(summary(net_def("n4", Some("10.1.3.1/24"), None), None));
    let t = net_show_text(&unk, now);
    assert!(t.contains("State:          unknown\n"), "{t}");
    assert!(
        t.contains("Status:         unknown: cannot look up nftables table"),
        "{t}"
    );
    assert!(t.contains("Interfaces:     unknown (see Status)\n"), "{t}");
    assert!(!t.contains("dnsmasq:"), "{t}");
}
