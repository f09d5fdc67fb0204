//! Unit tests of managed networks (no root: definitions and runtime files in a temporary
//! directory).

use std::fs;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use hako_config::read::STATE_LIMIT;

use super::dnsmasq::read_pid;
use super::*;
use crate::testutil::def;

/// Runs `f` on another thread; fails the test if it does not return within 5 s (a
/// regression that blocks on a FIFO fails instead of hanging the suite).
fn within_5s<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(5))
        .expect("reading did not return within 5 s: it blocked")
}

fn mkfifo(p: &Path) {
    let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path; mkfifo only reads it.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
}

#[test]
fn hostile_definition_and_runtime_files_are_refused_without_blocking() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().to_path_buf();
    let defs = root.join("networks");
    fs::create_dir_all(&defs).unwrap();
    mkfifo(&defs.join("fifo0.json"));
    std::os::unix::fs::symlink("/dev/zero", defs.join("zero0.json")).unwrap();
    fs::write(
        defs.join("big0.json"),
        vec![b' '; (STATE_LIMIT + 1) as usize],
    )
    .unwrap();
    for (name, cause) in [
        ("fifo0", "FIFO"),
        ("zero0", "character device"),
        ("big0", "more than the limit of 1 MiB"),
    ] {
        let r = root.clone();
        let e = within_5s(move || Networks::open(&r, &r).get(name))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(cause) && e.contains(&format!("{name}.json")),
            "{e}"
        );
    }
    let r = root.clone();
    assert!(within_5s(move || Networks::open(&r, &r).list()).is_err());
    for n in ["fifo0", "zero0", "big0"] {
        fs::remove_file(defs.join(format!("{n}.json"))).unwrap();
    }
    // a good definition whose runtime files are hostile
    fs::write(
        defs.join("hakobr0.json"),
        serde_json::to_string(&def()).unwrap(),
    )
    .unwrap();
    let p = DnsmasqPaths::new(&root.join("net/hakobr0"));
    fs::create_dir_all(&p.hosts_dir).unwrap();
    mkfifo(&p.lease_file);
    let r = root.clone();
    let e = within_5s(move || Networks::open(&r, &r).leases("hakobr0"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("FIFO"), "{e}");
    fs::write(p.hosts_dir.join("10.47.3.5"), "10.47.3.5 web\n").unwrap();
    mkfifo(&p.hosts_dir.join("10.47.3.6"));
    let r = root.clone();
    let hosts = within_5s(move || Networks::open(&r, &r).registered_hosts("hakobr0")).unwrap();
    assert_eq!(hosts.len(), 1, "{hosts:?}");
    assert_eq!(hosts[0].hostname, "web");
    let pidf = root.join("pid");
    mkfifo(&pidf);
    assert_eq!(within_5s(move || read_pid(&pidf)), None);
}

#[test]
fn network_names() {
    for ok in ["hakobr0", "br-lan", "a", "net_1.x", "abcdefghijklmno"] {
        validate_network_name(ok).unwrap();
    }
    for bad in [
        "",
        "0br",
        "abcdefghijklmnop",
        "br/0",
        "br 0",
        "br:0",
        "-x",
        "brü",
    ] {
        assert!(validate_network_name(bad).is_err(), "{bad:?} accepted");
    }
    validate_dns_name("host name", "web-1").unwrap();
    validate_dns_name("DNS domain", "lan.example").unwrap();
    for bad in ["", "-a", "a-", "a..b", "a_b", "a b", &"x".repeat(64)] {
        assert!(
            validate_dns_name("host name", bad).is_err(),
            "{bad:?} accepted"
        );
    }
}

#[test]
fn subnet_picking() {
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    let n = pick_subnet("hakobr0", &[]).unwrap();
    assert_eq!(n.prefix, 24);
    assert_eq!(n.addr.octets()[0], 10);
    assert_eq!(n.addr.octets()[3], 1);
    assert_eq!(pick_subnet("hakobr0", &[]), Some(n), "deterministic");
    // a route covering the first choice moves it
    let m = pick_subnet("hakobr0", &[(IpAddr::V4(n.network()), 24)]).unwrap();
    assert_ne!(m, n);
    // 10.0.0.0/9 used: the pick must be in 10.128.0.0/9
    let m = pick_subnet("x", &[(ip("10.0.0.0"), 9), (ip("192.0.2.0"), 24)]).unwrap();
    assert!(m.addr.octets()[1] >= 128, "{m}");
    // everything in 10/8 used except one /24
    let used: Vec<(IpAddr, u8)> = vec![
        (ip("10.0.0.0"), 9),
        (ip("10.128.0.0"), 10),
        (ip("10.192.0.0"), 11),
        (ip("10.224.0.0"), 12),
        (ip("10.240.0.0"), 13),
        (ip("10.248.0.0"), 14),
        (ip("10.252.0.0"), 15),
        (ip("10.254.0.0"), 16),
        (ip("10.255.0.0"), 16),
    ];
    assert_eq!(pick_subnet("y", &used), None);
    // only 10.254.0.0/16 left free (10.255/16 is never picked: 10.1-10.254 only)
    assert_eq!(pick_subnet("y", &used[..7]).unwrap().addr.octets()[1], 254);
    let mut used3 = used[..7].to_vec();
    used3.push((ip("10.254.0.0"), 17));
    assert_eq!(
        pick_subnet("y", &used3).unwrap().addr.octets()[..3],
        [10, 254, 128]
    );
    // IPv6 routes never block IPv4
    assert!(pick_subnet("z", &[(ip("fd00::"), 8)]).is_some());
}

#[test]
fn pools() {
    let mut d = def();
    assert_eq!(
        d.dhcp_pool(),
        Some(("10.47.3.2".parse().unwrap(), "10.47.3.254".parse().unwrap()))
    );
    d.ipv4 = Some("10.47.3.254/24".parse().unwrap());
    assert_eq!(
        d.dhcp_pool(),
        Some(("10.47.3.1".parse().unwrap(), "10.47.3.253".parse().unwrap()))
    );
    d.ipv4 = Some("10.47.3.100/24".parse().unwrap());
    assert_eq!(
        d.dhcp_pool(),
        Some((
            "10.47.3.101".parse().unwrap(),
            "10.47.3.254".parse().unwrap()
        ))
    );
    d.ipv4 = Some("10.47.3.1/30".parse().unwrap());
    assert_eq!(
        d.dhcp_pool(),
        Some(("10.47.3.2".parse().unwrap(), "10.47.3.2".parse().unwrap()))
    );
    d.ipv4 = Some("10.47.3.1/31".parse().unwrap());
    assert_eq!(d.dhcp_pool(), None);
    d.ipv4 = None;
    assert_eq!(d.dhcp_pool(), None);
}

#[test]
fn lease_file() {
    let text = "1700000000 02:16:3e:aa:bb:cc 10.47.3.17 web1 01:02:16:3e:aa:bb:cc\n\
                0 02:16:3e:aa:bb:dd 10.47.3.18 * *\n\
                duid 00:01:00:01:2c:aa:bb:cc:02:16:3e:00:00:01\n\
                1700000100 1234 fd42::17 web2 00:01:00:01\n\
                garbage line\n\
                \n";
    let l = parse_leases(text);
    assert_eq!(l.len(), 3);
    assert_eq!(l[0].expiry, 1700000000);
    assert_eq!(l[0].mac, "02:16:3e:aa:bb:cc");
    assert_eq!(l[0].ip, "10.47.3.17".parse::<IpAddr>().unwrap());
    assert_eq!(l[0].hostname.as_deref(), Some("web1"));
    assert_eq!(l[0].client_id.as_deref(), Some("01:02:16:3e:aa:bb:cc"));
    assert_eq!(l[1].expiry, 0);
    assert_eq!(l[1].hostname, None);
    assert_eq!(l[1].client_id, None);
    assert_eq!(l[2].ip, "fd42::17".parse::<IpAddr>().unwrap());
    assert!(parse_leases("").is_empty());
}

#[test]
fn dnsmasq_command_line() {
    let p = DnsmasqPaths::new(Path::new("/run/hako/net/hakobr0"));
    let a = dnsmasq_args(&def(), &p, "dnsmasq");
    let has = |s: &str| a.iter().any(|x| x == s);
    for want in [
        "--conf-file=/dev/null",
        "--strict-order",
        "--bind-interfaces",
        "--except-interface=lo",
        "--interface=hakobr0",
        "--listen-address=10.47.3.1",
        "--pid-file=/run/hako/net/hakobr0/dnsmasq.pid",
        "--user=dnsmasq",
        "--no-hosts",
        "--hostsdir=/run/hako/net/hakobr0/hosts.d",
        "--dhcp-range=10.47.3.2,10.47.3.254,255.255.255.0,1h",
        "--dhcp-lease-max=253",
        "--dhcp-authoritative",
        "--no-ping",
        "--dhcp-leasefile=/run/hako/net/hakobr0/leases",
        "--dhcp-hostsdir=/run/hako/net/hakobr0/dhcp-hosts.d",
        "--domain=hako",
        "--local=/hako/",
        "--expand-hosts",
    ] {
        assert!(has(want), "missing {want} in {a:?}");
    }
    assert!(!a.iter().any(|x| x.contains("enable-ra")));
    let mut d = def();
    d.dhcp = false;
    d.dns_domain = None;
    d.ipv6 = Some("fd42:1::1/64".parse().unwrap());
    let a = dnsmasq_args(&d, &p, "nobody");
    assert!(
        !a.iter().any(|x| x.starts_with("--dhcp-range")
            || x.starts_with("--domain=")
            || x.starts_with("--dhcp-leasefile")),
        "{a:?}"
    );
    assert!(a.iter().any(|x| x == "--listen-address=fd42:1::1"));
    d.dhcp = true;
    let a = dnsmasq_args(&d, &p, "nobody");
    assert!(a.iter().any(|x| x == "--enable-ra"));
    assert!(a
        .iter()
        .any(|x| x == "--dhcp-range=::,constructor:hakobr0,ra-stateless,ra-names"));
}

#[test]
fn nft_text() {
    let s = nft_ruleset(&def());
    assert!(s.starts_with("add table inet hako_hakobr0\ndelete table inet hako_hakobr0\ntable inet hako_hakobr0 {\n"), "{s}");
    assert!(s.contains("type nat hook postrouting priority srcnat; policy accept;"));
    assert!(s.contains("ip saddr 10.47.3.0/24 ip daddr != 10.47.3.0/24 masquerade"));
    assert!(s.contains("iifname \"hakobr0\" accept"));
    assert!(s.contains("oifname \"hakobr0\" accept"));
    assert!(s.contains("iifname \"hakobr0\" udp dport { 53, 67, 547 } accept"));
    assert_eq!(s.matches('{').count(), s.matches('}').count());
    let mut d = def();
    d.nat = false;
    d.ipv6 = Some("fd42:1::1/64".parse().unwrap());
    let s = nft_ruleset(&d);
    assert!(
        !s.contains("masquerade") && !s.contains("postrouting"),
        "{s}"
    );
    d.nat = true;
    let s = nft_ruleset(&d);
    assert!(
        s.contains("ip6 saddr fd42:1::/64 ip6 daddr != fd42:1::/64 masquerade"),
        "{s}"
    );
}

#[test]
fn definitions_roundtrip_and_static_checks() {
    let dir = tempfile::tempdir().unwrap();
    let nets = Networks::open(&dir.path().join("state"), &dir.path().join("run"));
    assert!(nets.list().unwrap().is_empty());
    assert_eq!(nets.get("hakobr0").unwrap(), None);
    // write a definition directly (create() needs netlink, tested as root elsewhere)
    fs::create_dir_all(dir.path().join("state/networks")).unwrap();
    fs::write(
        dir.path().join("state/networks/hakobr0.json"),
        serde_json::to_vec(&def()).unwrap(),
    )
    .unwrap();
    fs::write(dir.path().join("state/networks/bad name.json"), b"{}").unwrap();
    assert_eq!(nets.list().unwrap(), vec![def()]);
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    nets.check_static("hakobr0", ip("10.47.3.50"), 24).unwrap();
    let msg = |r: Result<()>| r.unwrap_err().to_string();
    assert_eq!(
        msg(nets.check_static("hakobr0", ip("10.47.4.50"), 24)),
        "cannot use static address 10.47.4.50/24 on network \"hakobr0\": it is outside the network's subnet 10.47.3.0/24; choose an address in 10.47.3.0/24"
    );
    assert!(msg(nets.check_static("hakobr0", ip("10.47.3.1"), 24))
        .contains("it is the address of bridge \"hakobr0\""));
    assert!(msg(nets.check_static("hakobr0", ip("10.47.3.255"), 24)).contains("broadcast"));
    assert!(msg(nets.check_static("hakobr0", ip("10.47.3.50"), 16))
        .contains("write the address as 10.47.3.50/24"));
    assert!(msg(nets.check_static("hakobr0", ip("fd00::5"), 64)).contains("has no IPv6 subnet"));
    assert!(msg(nets.check_static("nope", ip("10.47.3.5"), 24))
        .contains("create it with \"hako network create nope\""));
    // registration reserves the address
    nets.register_host("hakobr0", "web1", ip("10.47.3.50"), "o1")
        .unwrap();
    nets.register_host("hakobr0", "web1", ip("10.47.3.50"), "o1")
        .unwrap();
    assert!(msg(nets.check_static("hakobr0", ip("10.47.3.50"), 24))
        .contains("already used by container \"web1\""));
    assert!(
        msg(nets.register_host("hakobr0", "web2", ip("10.47.3.50"), "o2"))
            .contains("already used by container \"web1\"")
    );
    // another container of the same name (another lxcpath: another owner) cannot take
    // the address either
    assert!(
        msg(nets.register_host("hakobr0", "web1", ip("10.47.3.50"), "o9"))
            .contains("already used by container \"web1\"")
    );
    nets.register_host("hakobr0", "web1", ip("10.47.3.51"), "o1")
        .unwrap();
    assert_eq!(
        nets.registered_hosts("hakobr0").unwrap(),
        vec![HostEntry {
            hostname: "web1".into(),
            ip: ip("10.47.3.51"),
            owner: Some("o1".into()),
        }]
    );
    nets.register_host("hakobr0", "web2", ip("10.47.3.50"), "o2")
        .unwrap();
    assert_eq!(
        fs::read_to_string(dir.path().join("run/net/hakobr0/hosts.d/10.47.3.50")).unwrap(),
        "10.47.3.50 web2 # hako-owner=o2\n"
    );
    assert_eq!(
        fs::read_to_string(dir.path().join("run/net/hakobr0/dhcp-hosts.d/o2")).unwrap(),
        "web2,10.47.3.50\n"
    );
    nets.register_dhcp_host("hakobr0", "web3", [2, 0, 0, 0, 0, 9], "o3")
        .unwrap();
    assert_eq!(
        fs::read_to_string(dir.path().join("run/net/hakobr0/dhcp-hosts.d/o3")).unwrap(),
        "02:00:00:00:00:09,web3\n"
    );
    // a second "web3" elsewhere registers beside it, and going away takes only its own
    nets.register_dhcp_host("hakobr0", "web3", [2, 0, 0, 0, 0, 10], "o4")
        .unwrap();
    nets.unregister_host("hakobr0", "web3", "o4").unwrap();
    assert!(dir.path().join("run/net/hakobr0/dhcp-hosts.d/o3").exists());
    nets.unregister_host("hakobr0", "web1", "o9").unwrap();
    assert_eq!(nets.registered_hosts("hakobr0").unwrap().len(), 2);
    nets.unregister_host("hakobr0", "web1", "o1").unwrap();
    nets.unregister_host("hakobr0", "web3", "o3").unwrap();
    nets.unregister_host("hakobr0", "never", "o5").unwrap();
    assert_eq!(nets.registered_hosts("hakobr0").unwrap().len(), 1);
    assert!(!dir.path().join("run/net/hakobr0/dhcp-hosts.d/o3").exists());
    // an entry an older hako wrote (no owner) belongs to its host name
    fs::write(
        dir.path().join("run/net/hakobr0/hosts.d/10.47.3.52"),
        "10.47.3.52 old\n",
    )
    .unwrap();
    assert!(!forget_host(
        &dir.path().join("run"),
        "hakobr0",
        "other",
        "o1"
    ));
    assert!(forget_host(&dir.path().join("run"), "hakobr0", "old", "o1"));
    assert!(msg(nets.unregister_host("hakobr0", "web2", "../x")).contains("owner"));
    // a live lease blocks a static address
    fs::write(
        dir.path().join("run/net/hakobr0/leases"),
        "0 02:00:00:00:00:01 10.47.3.60 other *\n",
    )
    .unwrap();
    assert!(msg(nets.check_static("hakobr0", ip("10.47.3.60"), 24))
        .contains("it is leased by DHCP to 02:00:00:00:00:01 (other)"));
    assert_eq!(nets.leases("hakobr0").unwrap().len(), 1);
    // in use
    let e = msg(nets.remove("hakobr0", false, &["c1".into(), "c2".into()]));
    assert_eq!(e, "cannot remove network \"hakobr0\": it is used by c1, c2; stop and reconfigure those containers first, or use -f to remove it anyway");
    assert!(
        msg(nets.register_host("hakobr0", "bad_name", ip("10.47.3.70"), "o1"))
            .starts_with("invalid host name")
    );
}
