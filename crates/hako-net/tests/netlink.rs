//! Netlink tests (root). Each test runs in a fresh thread that first unshares its network
//! namespace, so every device it creates lives in a private namespace that vanishes with the
//! thread: the host's own interfaces, routes and firewall are never touched, and all test
//! traffic stays between namespaces the test made.

use std::fs::File;
use std::io::Write as _;
use std::net::IpAddr;
use std::os::fd::AsFd;
use std::process::{Command, Stdio};

use hako_net::{MacvlanMode, MacvlanOptions, NetError, Netlink, VethOptions};
use nix::sched::{setns, unshare, CloneFlags};

fn skip_unless_root() -> bool {
    if nix::unistd::geteuid().is_root() {
        return false;
    }
    // written to the real stderr, not the test harness's captured one, so it shows
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED: needs root (hako-net netlink tests)"
    );
    true
}

/// Run `f` on a new thread inside a brand-new network namespace.
fn in_private_netns<F: FnOnce() + Send + 'static>(f: F) {
    let r = std::thread::spawn(move || {
        unshare(CloneFlags::CLONE_NEWNET).expect("unshare(CLONE_NEWNET)");
        f()
    })
    .join();
    if let Err(e) = r {
        std::panic::resume_unwind(e);
    }
}

fn this_netns() -> File {
    File::open("/proc/thread-self/ns/net").unwrap()
}

/// From a thread in namespace A: make a second namespace B, return to A; (fd A, fd B).
fn second_netns() -> (File, File) {
    let a = this_netns();
    unshare(CloneFlags::CLONE_NEWNET).unwrap();
    let b = this_netns();
    setns(a.as_fd(), CloneFlags::CLONE_NEWNET).unwrap();
    (a, b)
}

/// Run a command with the calling thread temporarily in namespace `ns`.
fn spawn_in(ns: &File, home: &File, cmd: &mut Command) -> std::process::Child {
    setns(ns.as_fd(), CloneFlags::CLONE_NEWNET).unwrap();
    let c = cmd.spawn();
    setns(home.as_fd(), CloneFlags::CLONE_NEWNET).unwrap();
    c.expect("spawn")
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn busybox_ping(target: &str) -> Command {
    let mut c = Command::new("busybox");
    c.args(["ping", "-c", "3", "-i", "0.2", "-W", "2", target])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

#[test]
fn veth_bridge_addresses_rename_mtu_mac_route() {
    if skip_unless_root() {
        return;
    }
    in_private_netns(|| {
        let mut nl = Netlink::new().unwrap();
        assert!(
            nl.links().unwrap().iter().all(|l| l.name == "lo"),
            "namespace not private"
        );
        nl.create_bridge("hkbr0").unwrap();
        nl.create_veth("hkva", "hkvb", None).unwrap();
        let bidx = nl.link_index("hkbr0").unwrap().expect("bridge exists");
        nl.set_master("hkva", "hkbr0").unwrap();
        let links = nl.links().unwrap();
        let va = links.iter().find(|l| l.name == "hkva").unwrap();
        let vb = links.iter().find(|l| l.name == "hkvb").unwrap();
        let br = links.iter().find(|l| l.name == "hkbr0").unwrap();
        assert_eq!(va.kind.as_deref(), Some("veth"));
        assert_eq!(br.kind.as_deref(), Some("bridge"));
        assert_eq!(va.master, Some(bidx));
        assert_eq!(vb.master, None);
        assert_eq!(va.link, Some(vb.index), "veth peer index");
        assert!(!va.up);

        // addresses, both families
        nl.add_address("hkbr0", ip("10.251.0.1"), 24).unwrap();
        nl.add_address("hkbr0", ip("fd42:251::1"), 64).unwrap();
        let addrs = nl.addresses(Some("hkbr0")).unwrap();
        assert!(
            addrs
                .iter()
                .any(|a| a.addr == ip("10.251.0.1") && a.prefix == 24 && a.link == "hkbr0"),
            "{addrs:?}"
        );
        assert!(
            addrs
                .iter()
                .any(|a| a.addr == ip("fd42:251::1") && a.prefix == 64),
            "{addrs:?}"
        );
        let all = nl.addresses(None).unwrap();
        assert!(all.iter().any(|a| a.link == "lo" || a.link == "hkbr0"));
        let e = nl.add_address("hkbr0", ip("10.251.0.1"), 24).unwrap_err();
        assert!(e.is_exists(), "{e}");
        assert!(nl.del_address("hkbr0", ip("fd42:251::1"), 64).unwrap());
        assert!(!nl.del_address("hkbr0", ip("fd42:251::1"), 64).unwrap());

        // mtu, mac, rename (down), up
        nl.set_mtu("hkvb", 1400).unwrap();
        nl.set_hwaddr("hkvb", [0x02, 0x16, 0x3e, 1, 2, 3]).unwrap();
        nl.rename("hkvb", "eth7").unwrap();
        assert_eq!(nl.link_index("hkvb").unwrap(), None);
        let l = nl.link("eth7").unwrap().unwrap();
        assert_eq!(l.mtu, 1400);
        assert_eq!(l.mac, Some([0x02, 0x16, 0x3e, 1, 2, 3]));
        assert_eq!(l.mac_string().unwrap(), "02:16:3e:01:02:03");
        let e = nl.set_mtu("eth7", 10).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("cannot set the MTU of \"eth7\" to 10: invalid argument"),
            "{e}"
        );
        for d in ["hkbr0", "hkva", "eth7"] {
            nl.set_up(d, true).unwrap();
        }
        assert!(nl.link("eth7").unwrap().unwrap().up);
        // older kernels refuse to rename a running device; newer ones allow it
        match nl.rename("eth7", "eth8") {
            Err(e) => {
                assert_eq!(e.errno(), Some(libc::EBUSY), "{e}");
                assert!(e.to_string().contains("bring the device down first"), "{e}");
            }
            Ok(()) => {
                assert!(nl.link_index("eth8").unwrap().is_some());
                nl.rename("eth8", "eth7").unwrap();
            }
        }
        let e = nl.rename("eth7", "hkbr0").unwrap_err();
        assert!(e.is_exists(), "{e}");
        assert!(
            e.to_string()
                .contains("a device named \"hkbr0\" already exists"),
            "{e}"
        );

        // default route through the bridge's subnet
        nl.add_address("eth7", ip("10.251.0.2"), 24).unwrap();
        nl.add_default_route(ip("10.251.0.1"), Some("eth7"))
            .unwrap();
        let routes = nl.routes().unwrap();
        assert!(
            routes.iter().any(|r| r.prefix == 0
                && r.gateway == Some(ip("10.251.0.1"))
                && r.dev.as_deref() == Some("eth7")
                && r.table == 254),
            "{routes:?}"
        );
        assert!(routes
            .iter()
            .any(|r| r.dst == ip("10.251.0.0") && r.prefix == 24 && r.unicast));
        let e = nl
            .add_default_route(ip("10.251.0.1"), Some("eth7"))
            .unwrap_err();
        assert!(e.is_exists(), "{e}");
        nl.add_route(ip("10.252.7.0"), 24, None, Some("eth7"))
            .unwrap();
        assert!(nl
            .routes()
            .unwrap()
            .iter()
            .any(|r| r.dst == ip("10.252.7.0") && r.prefix == 24));

        nl.set_up("eth7", false).unwrap();
        assert!(!nl.link("eth7").unwrap().unwrap().up);

        // deleting one end of a veth pair removes both
        assert!(nl.delete_link("hkva").unwrap());
        assert_eq!(nl.link_index("eth7").unwrap(), None);
        assert!(!nl.delete_link("hkva").unwrap());
        assert!(nl.delete_link("hkbr0").unwrap());
    });
}

#[test]
fn move_links_between_namespaces_and_back() {
    if skip_unless_root() {
        return;
    }
    in_private_netns(|| {
        let (a, b) = second_netns();
        let mut na = Netlink::new().unwrap();
        let mut nb = Netlink::in_netns(b.as_fd()).unwrap();
        // in_netns returned us to A
        assert_eq!(na.link_index("lo").unwrap(), nb.link_index("lo").unwrap());
        na.create_veth("hkm0", "hkm1", None).unwrap();
        assert!(nb.link_index("hkm1").unwrap().is_none());

        // by fd, then back by fd
        na.move_to_netns_fd("hkm1", b.as_fd()).unwrap();
        assert_eq!(na.link_index("hkm1").unwrap(), None);
        assert!(nb.link_index("hkm1").unwrap().is_some());
        let l = na.link("hkm0").unwrap().unwrap();
        assert!(l.link_netnsid.is_some(), "peer is in another netns: {l:?}");
        nb.move_to_netns_fd("hkm1", a.as_fd()).unwrap();
        assert!(na.link_index("hkm1").unwrap().is_some());
        assert_eq!(nb.link_index("hkm1").unwrap(), None);

        // by pid of a process living in B
        let mut sleeper = spawn_in(&b, &a, Command::new("busybox").args(["sleep", "30"]));
        let pid = sleeper.id() as i32;
        na.move_to_netns_pid("hkm1", pid).unwrap();
        assert!(nb.link_index("hkm1").unwrap().is_some());
        // create a pair with the peer born directly in B
        na.create_veth("hkn0", "hkn1", Some(pid)).unwrap();
        assert!(nb.link_index("hkn1").unwrap().is_some());
        assert_eq!(na.link_index("hkn1").unwrap(), None);
        // ... or in B given by an fd (no pid): hako-user-nic's way
        let o = VethOptions {
            host_up: true,
            ..Default::default()
        };
        na.create_veth_in_netns("hkf0", "hkf1", b.as_fd(), &o)
            .unwrap();
        assert!(nb.link_index("hkf1").unwrap().is_some());
        assert_eq!(na.link_index("hkf1").unwrap(), None);
        assert!(na.link("hkf0").unwrap().unwrap().up);
        let e = na
            .create_veth_in_netns("hkf2", "hkf1", b.as_fd(), &o)
            .unwrap_err();
        assert!(e.is_exists(), "{e}");
        assert!(
            e.to_string()
                .contains("(peer in the container's network namespace)"),
            "{e}"
        );
        assert_eq!(na.link_index("hkf2").unwrap(), None);
        assert!(na.delete_link("hkf0").unwrap());
        assert_eq!(nb.link_index("hkf1").unwrap(), None);
        // the whole container veth in one request: peer in B with its final name, MAC, MTU;
        // host end on a bridge, up
        na.create_bridge("hkbrv").unwrap();
        let o = VethOptions {
            peer_netns_pid: Some(pid),
            master: Some("hkbrv".into()),
            mtu: Some(1450),
            host_mac: Some([0x02, 0, 0, 0, 0, 0x11]),
            peer_mac: Some([0x02, 0, 0, 0, 0, 0x22]),
            host_up: true,
        };
        na.create_veth_with("hkv0", "eth0", &o).unwrap();
        let h = na.link("hkv0").unwrap().unwrap();
        assert_eq!(h.master, na.link_index("hkbrv").unwrap());
        assert_eq!(
            (h.mtu, h.mac, h.up),
            (1450, Some([0x02, 0, 0, 0, 0, 0x11]), true)
        );
        let c = nb.link("eth0").unwrap().unwrap();
        assert_eq!(
            (c.mtu, c.mac, c.up),
            (1450, Some([0x02, 0, 0, 0, 0, 0x22]), false)
        );
        assert_eq!(c.kind.as_deref(), Some("veth"));
        nb.set_up("eth0", true).unwrap();
        assert!(nb.link("eth0").unwrap().unwrap().up);
        let e = na
            .create_veth_with(
                "hkv1",
                "eth1",
                &VethOptions {
                    master: Some("br9".into()),
                    ..o.clone()
                },
            )
            .unwrap_err();
        assert_eq!(e.to_string(), "cannot attach veth \"hkv1\" to bridge \"br9\": no such device \"br9\"; create it with \"hako network create br9\"");
        // a macvlan born in B
        na.create_veth("hkpa0", "hkpa1", None).unwrap();
        let mo = MacvlanOptions {
            netns_pid: Some(pid),
            mac: Some([0x02, 0, 0, 0, 0, 0x33]),
            mtu: Some(1400),
            up: true,
        };
        na.create_macvlan_with("eth1", "hkpa0", MacvlanMode::Bridge, &mo)
            .unwrap();
        let m = nb.link("eth1").unwrap().unwrap();
        assert_eq!(
            (m.kind.as_deref(), m.mtu, m.mac, m.up),
            (Some("macvlan"), 1400, Some([0x02, 0, 0, 0, 0, 0x33]), true)
        );
        assert_eq!(na.link_index("eth1").unwrap(), None);
        sleeper.kill().unwrap();
        sleeper.wait().unwrap();

        // a pid that does not exist
        let e = na.move_to_netns_pid("hkm0", 0x3fff_fff0).unwrap_err();
        assert_eq!(e.errno(), Some(libc::ESRCH), "{e}");
        assert!(
            e.to_string()
                .starts_with("cannot move device \"hkm0\" into the network namespace of pid"),
            "{e}"
        );
        assert!(nb.delete_link("hkm1").unwrap());
        assert!(nb.delete_link("hkn1").unwrap());
    });
}

#[test]
fn ping_across_veth_updates_stats() {
    if skip_unless_root() {
        return;
    }
    in_private_netns(|| {
        let (a, b) = second_netns();
        let mut na = Netlink::new().unwrap();
        let mut nb = Netlink::in_netns(b.as_fd()).unwrap();
        na.create_veth("hkp0", "hkp1", None).unwrap();
        na.move_to_netns_fd("hkp1", b.as_fd()).unwrap();
        na.add_address("hkp0", ip("10.253.0.1"), 24).unwrap();
        nb.add_address("hkp1", ip("10.253.0.2"), 24).unwrap();
        na.set_up("hkp0", true).unwrap();
        nb.set_up("hkp1", true).unwrap();
        let before = na.link("hkp0").unwrap().unwrap();
        let out = busybox_ping("10.253.0.2").output().unwrap();
        assert!(
            out.status.success(),
            "ping failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let after = na.link("hkp0").unwrap().unwrap();
        assert!(
            after.tx_packets >= before.tx_packets + 3,
            "{before:?} -> {after:?}"
        );
        assert!(
            after.tx_bytes >= before.tx_bytes + 3 * 84,
            "{before:?} -> {after:?}"
        );
        assert!(
            after.rx_packets >= before.rx_packets + 3,
            "{before:?} -> {after:?}"
        );
        let peer = nb
            .links()
            .unwrap()
            .into_iter()
            .find(|l| l.name == "hkp1")
            .unwrap();
        assert!(
            peer.rx_bytes >= 3 * 84 && peer.tx_bytes >= 3 * 84,
            "{peer:?}"
        );
        drop(a);
    });
}

#[test]
fn macvlan_between_namespaces() {
    if skip_unless_root() {
        return;
    }
    in_private_netns(|| {
        let (a, b) = second_netns();
        let mut na = Netlink::new().unwrap();
        let mut nb = Netlink::in_netns(b.as_fd()).unwrap();
        // Parent: a dummy device if the kernel has them, otherwise one end of a veth pair.
        let parent = match na.create_dummy("hkdum0") {
            Ok(()) => "hkdum0",
            Err(e) => {
                assert_eq!(e.errno(), Some(libc::EOPNOTSUPP), "{e}");
                let msg = e.to_string();
                assert!(
                    msg.starts_with(
                        "cannot create dummy device \"hkdum0\": operation not supported"
                    ),
                    "{msg}"
                );
                eprintln!(
                    "note: kernel without dummy devices ({msg}); using a veth as macvlan parent"
                );
                na.create_veth("hkpar0", "hkpar1", None).unwrap();
                na.set_up("hkpar1", true).unwrap();
                "hkpar0"
            }
        };
        na.set_up(parent, true).unwrap();
        na.create_macvlan("hkmv1", parent, MacvlanMode::Bridge)
            .unwrap();
        na.create_macvlan("hkmv2", parent, MacvlanMode::Bridge)
            .unwrap();
        let pidx = na.link_index(parent).unwrap().unwrap();
        let mv = na.link("hkmv1").unwrap().unwrap();
        assert_eq!(mv.kind.as_deref(), Some("macvlan"));
        assert_eq!(mv.link, Some(pidx));
        na.move_to_netns_fd("hkmv2", b.as_fd()).unwrap();
        na.add_address("hkmv1", ip("10.254.0.1"), 24).unwrap();
        nb.add_address("hkmv2", ip("10.254.0.2"), 24).unwrap();
        na.set_up("hkmv1", true).unwrap();
        nb.set_up("hkmv2", true).unwrap();
        let out = busybox_ping("10.254.0.2").output().unwrap();
        assert!(
            out.status.success(),
            "ping over macvlan failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let e = na
            .create_macvlan("hkmv3", "nosuchdev", MacvlanMode::Private)
            .unwrap_err();
        assert_eq!(e.to_string(), "cannot create macvlan \"hkmv3\" on \"nosuchdev\": no such device \"nosuchdev\"; set lxc.net.N.link to an existing host interface");
        drop(a);
    });
}

#[test]
fn error_paths() {
    if skip_unless_root() {
        return;
    }
    in_private_netns(|| {
        let mut nl = Netlink::new().unwrap();
        nl.create_veth("vethA1", "vethA2", None).unwrap();
        let e = nl.set_master("vethA1", "br9").unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot attach veth \"vethA1\" to bridge \"br9\": no such device \"br9\"; create it with \"hako network create br9\""
        );
        assert!(e.is_no_device());
        let e = nl.create_bridge("a234567890123456").unwrap_err();
        assert!(matches!(e, NetError::Invalid { .. }), "{e}");
        assert!(
            e.to_string().contains("the kernel allows at most 15"),
            "{e}"
        );
        let e = nl.create_veth("vethA1", "vethA3", None).unwrap_err();
        assert!(e.is_exists(), "{e}");
        assert!(e.to_string().starts_with("cannot create veth pair \"vethA1\" / \"vethA3\": file exists; a device with that name already exists"), "{e}");
        let e = nl.set_up("nope0", true).unwrap_err();
        assert_eq!(e.to_string(), "cannot set device \"nope0\" up: no such device \"nope0\"; check the device name (it may have been removed, or be in another network namespace)");
        let e = nl
            .add_default_route(ip("10.99.0.1"), Some("vethA1"))
            .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("cannot add route 0.0.0.0/0 via 10.99.0.1 dev \"vethA1\""),
            "{e}"
        );
        assert!(nl.add_address("vethA1", ip("10.0.0.1"), 33).is_err());
        let e = nl
            .create_veth("hkz0", "hkz1", Some(0x3fff_fff0))
            .unwrap_err();
        assert!(e.to_string().contains("pid 1073741808"), "{e}");
        assert_eq!(
            nl.link_index("hkz0").unwrap(),
            None,
            "failed create left a device"
        );
        assert!(nl.delete_link("vethA2").unwrap());
    });
}
