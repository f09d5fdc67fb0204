use super::*;

#[test]
fn exit_codes() {
    let not_running = Error::NotRunning { name: "web".into() };
    assert_eq!(exit_code("stop", &not_running), 2);
    assert_eq!(exit_code("freeze", &not_running), 1);
    let not_found = Error::NotFound {
        name: "web".into(),
        lxcpath: "/var/lib/lxc".into(),
    };
    assert_eq!(exit_code("stop", &not_found), 1);
    assert_eq!(exit_code("info", &not_found), 1);
    assert_eq!(
        exit_code("start", &Error::AlreadyRunning { name: "web".into() }),
        1
    );
    assert_eq!(
        exit_code("destroy", &Error::Running { name: "web".into() }),
        1
    );
    assert_eq!(exit_code("attach", &Error::other("x")), 1);
}

fn ls_action() -> Action {
    Action::Ls(LsRequest::default())
}

#[test]
fn root_messages() {
    let a = Action::Start {
        name: "web".into(),
        opts: Default::default(),
    };
    assert_eq!(root_check(&a, 0), Ok(()));
    // rootless: a user starts its own containers
    assert_eq!(root_check(&a, 1000), Ok(()));
    // ... in its own lxcpath only
    let lp = std::path::Path::new("/var/lib/hako");
    assert!(lxcpath_check(&a, 1000, Some(lp), Some(0))
        .unwrap_err()
        .starts_with("start needs root for the containers in /var/lib/hako (owned by uid 0"));
    assert_eq!(lxcpath_check(&a, 1000, Some(lp), Some(1000)), Ok(()));
    assert_eq!(lxcpath_check(&a, 1000, Some(lp), None), Ok(()));
    assert_eq!(lxcpath_check(&a, 0, Some(lp), Some(1000)), Ok(()));
    assert_eq!(lxcpath_check(&ls_action(), 1000, Some(lp), Some(0)), Ok(()));
    let f = Action::Freeze { name: "web".into() };
    assert_eq!(
        root_check(&f, 1000).unwrap_err(),
        "freeze needs root (running as uid 1000); run it with sudo"
    );
    let ls = Action::Ls(LsRequest::default());
    assert_eq!(root_check(&ls, 1000), Ok(()));
    let get = Action::Cgroup {
        name: "w".into(),
        key: "pids.max".into(),
        value: None,
    };
    assert_eq!(root_check(&get, 1000), Ok(()));
    let set = Action::Cgroup {
        name: "w".into(),
        key: "pids.max".into(),
        value: Some("5".into()),
    };
    assert!(root_check(&set, 1000)
        .unwrap_err()
        .starts_with("cgroup needs root"));
}

#[test]
fn ls_filters() {
    let all = LsRequest::default();
    for s in [State::Stopped, State::Running, State::Frozen] {
        assert!(ls_keep(&all, s, &[]));
    }
    let running = LsRequest {
        running: true,
        ..Default::default()
    };
    assert!(ls_keep(&running, State::Running, &[]));
    assert!(ls_keep(&running, State::Frozen, &[]));
    assert!(!ls_keep(&running, State::Stopped, &[]));
    let stopped = LsRequest {
        stopped: true,
        ..Default::default()
    };
    assert!(ls_keep(&stopped, State::Stopped, &[]));
    assert!(!ls_keep(&stopped, State::Running, &[]));
    let frozen = LsRequest {
        frozen: true,
        ..Default::default()
    };
    assert!(ls_keep(&frozen, State::Frozen, &[]));
    assert!(!ls_keep(&frozen, State::Running, &[]));
    // --frozen --active: LXC lists every active container
    let fa = LsRequest {
        frozen: true,
        active: true,
        ..Default::default()
    };
    assert!(ls_keep(&fa, State::Running, &[]));
    assert!(!ls_keep(&fa, State::Stopped, &[]));
    let groups = LsRequest {
        groups: vec!["web".into(), "prod".into()],
        ..Default::default()
    };
    assert!(ls_keep(
        &groups,
        State::Stopped,
        &["prod".into(), "web".into(), "x".into()]
    ));
    assert!(!ls_keep(&groups, State::Stopped, &["prod".into()]));
}

#[test]
fn wait_timeout_text() {
    let m = wait_timeout_message(
        "web",
        &[State::Running, State::Frozen],
        Some(Duration::from_secs(5)),
    );
    assert!(
        m.starts_with("timed out after 5 s waiting for container \"web\" to reach RUNNING|FROZEN"),
        "{m}"
    );
}

#[test]
fn program_names() {
    let n = lxc_program_names();
    // 18 container tools, lxc-usernsexec, lxc-monitor, lxc-update-config, lxc-top,
    // lxc-unshare and lxc-device
    assert_eq!(n.len(), 24);
    assert!(
        n.contains(&"lxc-monitor")
            && n.contains(&"lxc-update-config")
            && n.contains(&"lxc-start")
            && n.contains(&"lxc-checkconfig")
            && n.contains(&"lxc-config")
            && n.contains(&"lxc-autostart")
            && n.contains(&"lxc-usernsexec")
    );
}

#[test]
fn network_messages() {
    use crate::network::{NetworkDef, NetworkStatus};
    let mut d = NetworkDef {
        name: "hkn1".into(),
        bridge: "hkn1".into(),
        ipv4: Some("10.120.17.1/24".parse().unwrap()),
        ipv6: None,
        nat: true,
        dhcp: false,
        dns_domain: None,
    };
    assert_eq!(
        net_created_message(&d),
        "network \"hkn1\" created: bridge hkn1, IPv4 10.120.17.1/24, no IPv6, NAT on, DHCP off; it comes up with the first container that uses it (lxc.net.N.link = hkn1) or with \"hako network up hkn1\"\n"
    );
    let st = NetworkStatus {
        name: "hkn1".into(),
        bridge: "hkn1".into(),
        bridge_exists: true,
        bridge_up: true,
        addresses_ok: true,
        nft_wanted: true,
        nft_table: true,
        dnsmasq_wanted: true,
        dnsmasq_pid: Some(99),
        interfaces: vec![],
        up: true,
    };
    assert_eq!(
        net_up_message(&d, &st),
        "network \"hkn1\" is up: bridge hkn1, 10.120.17.1/24, nftables table inet hako_hkn1, dnsmasq pid 99\n"
    );
    d.ipv4 = None;
    let bare = NetworkStatus {
        nft_wanted: false,
        nft_table: false,
        dnsmasq_wanted: false,
        dnsmasq_pid: None,
        ..st
    };
    assert_eq!(
        net_up_message(&d, &bare),
        "network \"hkn1\" is up: bridge hkn1\n"
    );
}
