//! Managed-network tests (root). These must run in the host's network namespace (bridge, nft
//! table, dnsmasq), so they use names unique to this process (`hkt<pid>…`), an auto-picked
//! subnet checked against the host's routes, a private state/run directory, and Drop guards
//! that remove everything (bridge, veths, nft table, dnsmasq, ip_forward restored) even when
//! an assertion fails. The DHCP/DNS client runs in a private network namespace whose veth is
//! on the test's bridge: all traffic stays between the host and that namespace.

use std::fs::{self, File};
use std::io::Write as _;
use std::net::IpAddr;
use std::os::fd::AsFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hako_net::{
    format_mac, nft_table_exists, random_mac, CreateNetOpts, Ipv4Choice, Netlink, Networks,
};
use nix::sched::{unshare, CloneFlags};

fn skip_unless_root() -> bool {
    if nix::unistd::geteuid().is_root() {
        return false;
    }
    // written to the real stderr, not the test harness's captured one, so it shows
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED: needs root (hako-net managed network tests)"
    );
    true
}

/// Every process whose command line mentions `needle` (to find dnsmasq instances we started).
fn procs_mentioning(needle: &str) -> Vec<i32> {
    let mut out = Vec::new();
    for e in fs::read_dir("/proc").unwrap().filter_map(|e| e.ok()) {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if let Ok(c) = fs::read(format!("/proc/{pid}/cmdline")) {
            if String::from_utf8_lossy(&c).contains(needle) {
                out.push(pid);
            }
        }
    }
    out
}

/// Removes everything a test may have left, whatever happened.
struct Guard {
    nets: Networks,
    names: Vec<String>,
    run_dir: PathBuf,
    links: Vec<String>,
    ip_forward: Option<String>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        for n in &self.names {
            let _ = self.nets.down(n);
        }
        if let Ok(mut nl) = Netlink::new() {
            for l in self.links.iter().chain(self.names.iter()) {
                let _ = nl.delete_link(l);
            }
        }
        for n in &self.names {
            let t = format!("hako_{n}");
            if nft_table_exists(&t).unwrap_or(false) {
                let _ = Command::new("nft")
                    .args(["delete", "table", "inet", &t])
                    .status();
            }
        }
        for pid in procs_mentioning(&self.run_dir.display().to_string()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        if let Some(v) = &self.ip_forward {
            let _ = fs::write("/proc/sys/net/ipv4/ip_forward", v);
        }
    }
}

fn nft_list(table: &str) -> (bool, String) {
    let o = Command::new("nft")
        .args(["list", "table", "inet", table])
        .output()
        .unwrap();
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
    )
}

fn assert_nothing_left(nets: &Networks, name: &str, run: &Path) {
    let mut nl = Netlink::new().unwrap();
    assert_eq!(nl.link_index(name).unwrap(), None, "bridge {name} left");
    assert!(
        !nft_table_exists(&format!("hako_{name}")).unwrap(),
        "nft table left"
    );
    assert!(!nft_list(&format!("hako_{name}")).0, "nft lists the table");
    assert!(
        procs_mentioning(&nets.run_path(name).display().to_string()).is_empty(),
        "dnsmasq left"
    );
    assert!(!run.exists(), "run dir {} left", run.display());
}

/// Poll `f` for up to `secs` seconds (dnsmasq picks up host files via inotify).
fn eventually(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs(secs);
    loop {
        if f() {
            return true;
        }
        if Instant::now() > end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn nslookup(name: &str, server: &str) -> String {
    let o = Command::new("busybox")
        .args(["timeout", "3", "busybox", "nslookup", name, server])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
}

/// The answer lines of busybox nslookup (after the server's own lines).
fn resolves_to(out: &str, ip: &str) -> bool {
    out.split("Name:").skip(1).any(|part| part.contains(ip))
}

#[test]
fn managed_network_lifecycle_dhcp_dns() {
    if skip_unless_root() {
        return;
    }
    let pid = std::process::id();
    let name = format!("hkt{pid}n");
    let tmp = tempfile::tempdir().unwrap();
    // dnsmasq drops to an unprivileged user that must reach its hosts directories
    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let state = tmp.path().join("state");
    let run = tmp.path().join("run");
    let nets = Networks::open(&state, &run);
    let host_veth = format!("hkt{pid}h");
    let mut guard = Guard {
        nets: nets.clone(),
        names: vec![name.clone()],
        run_dir: run.clone(),
        links: vec![host_veth.clone()],
        ip_forward: fs::read_to_string("/proc/sys/net/ipv4/ip_forward").ok(),
    };

    // --- create: auto subnet, checked against the host's routes
    let def = nets
        .create(
            &name,
            CreateNetOpts {
                dns_domain: Some("hakotest".into()),
                ..Default::default()
            },
        )
        .unwrap();
    let v4 = def.ipv4.expect("auto gives an IPv4 subnet");
    assert_eq!(v4.prefix, 24);
    let mut nl = Netlink::new().unwrap();
    for r in nl.routes().unwrap() {
        if r.prefix > 0 {
            assert!(
                !v4.overlaps(r.dst, r.prefix),
                "auto subnet {v4} overlaps host route {r:?}"
            );
        }
    }
    for a in nl.addresses(None).unwrap() {
        assert!(
            !v4.overlaps(a.addr, a.prefix),
            "auto subnet {v4} contains host address {a:?}"
        );
    }
    assert_eq!(nets.get(&name).unwrap(), Some(def.clone()));
    assert!(nets.list().unwrap().contains(&def));
    let e = nets
        .create(&name, CreateNetOpts::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("already exists"), "{e}");
    // an explicit subnet overlapping the host's own route is refused, naming both
    if let Some(r) = nl
        .routes()
        .unwrap()
        .into_iter()
        .find(|r| r.prefix > 0 && r.prefix <= 30 && r.dst.is_ipv4() && r.table == 254)
    {
        let IpAddr::V4(d) = r.dst else { unreachable!() };
        let cidr = hako_net::Ipv4Net {
            addr: std::net::Ipv4Addr::from(u32::from(d) + 1),
            prefix: r.prefix,
        };
        let e = nets
            .create(
                &format!("hkt{pid}o"),
                CreateNetOpts {
                    ipv4: Ipv4Choice::Cidr(cidr),
                    ..Default::default()
                },
            )
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(&format!("overlaps the host route {}/{}", r.dst, r.prefix)),
            "{e}"
        );
        assert!(e.contains("--ipv4 auto"), "{e}");
        assert_eq!(nets.get(&format!("hkt{pid}o")).unwrap(), None);
    }

    // --- up
    let st = nets.up(&name).unwrap();
    assert!(st.up, "{st:?}");
    let dpid = st.dnsmasq_pid.expect("dnsmasq running");
    let link = nl.link(&name).unwrap().expect("bridge exists");
    assert_eq!(link.kind.as_deref(), Some("bridge"));
    assert!(link.up);
    let addrs = nl.addresses(Some(&name)).unwrap();
    assert!(
        addrs
            .iter()
            .any(|a| a.addr == IpAddr::V4(v4.addr) && a.prefix == 24),
        "{addrs:?}"
    );
    let (ok, text) = nft_list(&format!("hako_{name}"));
    assert!(
        ok && text.contains("masquerade") && text.contains(&v4.subnet().to_string()),
        "{text}"
    );
    let cmdline = fs::read(format!("/proc/{dpid}/cmdline")).unwrap();
    let cmdline = String::from_utf8_lossy(&cmdline);
    assert!(
        cmdline.contains(&format!(
            "--pid-file={}",
            nets.dnsmasq_paths(&name).pid_file.display()
        )),
        "{cmdline}"
    );
    assert_eq!(
        fs::read_to_string("/proc/sys/net/ipv4/ip_forward")
            .unwrap()
            .trim(),
        "1"
    );
    // idempotent and cheap: the same dnsmasq
    let t = Instant::now();
    let st2 = nets.up(&name).unwrap();
    let fast = t.elapsed();
    assert_eq!(st2.dnsmasq_pid, Some(dpid));
    eprintln!("up() when already up took {fast:?}");
    assert!(
        fast < Duration::from_millis(200),
        "fast path too slow: {fast:?}"
    );

    // --- a client in a private namespace: DHCP, then DNS through the bridge's dnsmasq
    let dhcp_name = format!("hktd{pid}");
    let static_name = format!("hkts{pid}");
    let mac = random_mac();
    nets.register_dhcp_host(&name, &dhcp_name, mac, "hktestd")
        .unwrap();
    let (pool_first, pool_last) = def.dhcp_pool().unwrap();
    let bridge_ip = v4.addr.to_string();
    let script = tmp.path().join("udhcpc.script");
    fs::write(
        &script,
        "#!/bin/sh\ncase \"$1\" in\n  bound|renew) busybox ip addr add \"$ip/$mask\" dev \"$interface\" ;;\nesac\nexit 0\n",
    )
    .unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    // a static name, registered before the client looks it up
    let static_ip = IpAddr::V4(pool_last);
    nets.check_static(&name, static_ip, 24).unwrap();
    nets.register_host(&name, &static_name, static_ip, "hktests")
        .unwrap();
    let (leased, client_ns) = {
        let (name2, host_veth2, script2, nets2) = (
            name.clone(),
            host_veth.clone(),
            script.clone(),
            nets.clone(),
        );
        let static_name2 = static_name.clone();
        let dhcp_name2 = dhcp_name.clone();
        let bridge_ip2 = bridge_ip.clone();
        let h = std::thread::spawn(move || -> (IpAddr, File) {
            let mut host_nl = Netlink::new().unwrap(); // bound in the host namespace
            unshare(CloneFlags::CLONE_NEWNET).unwrap();
            let ns = File::open("/proc/thread-self/ns/net").unwrap();
            let mut nl = Netlink::new().unwrap(); // the private namespace
            host_nl.create_veth(&host_veth2, "hktc0", None).unwrap();
            host_nl.set_master(&host_veth2, &name2).unwrap();
            host_nl.set_up(&host_veth2, true).unwrap();
            host_nl.move_to_netns_fd("hktc0", ns.as_fd()).unwrap();
            nl.set_hwaddr("hktc0", mac).unwrap();
            nl.set_up("lo", true).unwrap();
            nl.set_up("hktc0", true).unwrap();
            let t = Instant::now();
            let out = Command::new("busybox")
                .args([
                    "udhcpc", "-i", "hktc0", "-f", "-q", "-n", "-t", "10", "-T", "1", "-s",
                ])
                .arg(&script2)
                .output()
                .unwrap();
            eprintln!("udhcpc took {:?}", t.elapsed());
            assert!(
                out.status.success(),
                "udhcpc: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(
                t.elapsed() < Duration::from_secs(2),
                "DHCP took {:?}",
                t.elapsed()
            );
            let a = nl.addresses(Some("hktc0")).unwrap();
            let got = a
                .iter()
                .find(|a| a.addr.is_ipv4())
                .expect("DHCP address applied")
                .addr;
            // the static name and the DHCP client's name resolve through dnsmasq
            let reg = nets2.registered_hosts(&name2).unwrap();
            let sip = reg
                .iter()
                .find(|h| h.hostname == static_name2)
                .map(|h| h.ip.to_string())
                .expect("static name registered");
            {
                let mut last = String::new();
                assert!(
                    eventually(5, || {
                        last = nslookup(&static_name2, &bridge_ip2);
                        resolves_to(&last, &sip)
                    }),
                    "static name did not resolve: {last}"
                );
                let fq = format!("{static_name2}.hakotest");
                assert!(
                    eventually(5, || resolves_to(&nslookup(&fq, &bridge_ip2), &sip)),
                    "{fq} did not resolve"
                );
            }
            let mut last = String::new();
            assert!(
                eventually(5, || {
                    last = nslookup(&dhcp_name2, &bridge_ip2);
                    resolves_to(&last, &got.to_string())
                }),
                "DHCP name {dhcp_name2} did not resolve to {got}: {last}"
            );
            (got, ns) // the open ns fd keeps the namespace (and the veth) alive
        });
        match h.join() {
            Ok(r) => r,
            Err(e) => std::panic::resume_unwind(e),
        }
    };
    let IpAddr::V4(l4) = leased else {
        panic!("not IPv4")
    };
    assert!(
        u32::from(l4) >= u32::from(pool_first) && u32::from(l4) <= u32::from(pool_last),
        "{leased} outside pool"
    );
    let leases = nets.leases(&name).unwrap();
    let lease = leases
        .iter()
        .find(|l| l.ip == leased)
        .unwrap_or_else(|| panic!("no lease for {leased}: {leases:?}"));
    assert_eq!(lease.mac, format_mac(&mac));
    assert_eq!(lease.hostname.as_deref(), Some(dhcp_name.as_str()));
    // the leased address cannot be taken as a static one
    let e = nets
        .check_static(&name, leased, 24)
        .unwrap_err()
        .to_string();
    assert!(e.contains("leased by DHCP"), "{e}");
    let e = nets
        .register_host(&name, "other", IpAddr::V4(pool_last), "hktesto")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(&format!("already used by container \"{static_name}\"")),
        "{e}"
    );
    nets.unregister_host(&name, &static_name, "hktests")
        .unwrap();
    assert!(nets.registered_hosts(&name).unwrap().is_empty());
    let st = nets.status(&name).unwrap();
    assert!(st.up);
    assert_eq!(st.interfaces, vec![host_veth.clone()]);
    drop(client_ns);
    // the client's namespace is gone, and with it (asynchronously) its veth pair
    assert!(eventually(5, || nets
        .status(&name)
        .unwrap()
        .interfaces
        .is_empty()));

    // --- dnsmasq dies: status says so, up() restarts it
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(dpid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    // gone once it is no longer listed or is a zombie (init reaps it)
    assert!(eventually(5, || {
        fs::read_to_string(format!("/proc/{dpid}/stat"))
            .map(|s| {
                s.rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z')
            })
            .unwrap_or(true)
    }));
    let st = nets.status(&name).unwrap();
    assert_eq!(st.dnsmasq_pid, None, "{st:?}");
    assert!(!st.up);
    assert!(st.bridge_exists && st.nft_table);
    let st = nets.up(&name).unwrap();
    let new_pid = st.dnsmasq_pid.expect("restarted");
    assert_ne!(new_pid, dpid);
    assert!(st.up);

    // --- the nft table removed behind our back is repaired too
    Command::new("nft")
        .args(["delete", "table", "inet", &format!("hako_{name}")])
        .status()
        .unwrap();
    assert!(!nets.status(&name).unwrap().up);
    assert!(nets.up(&name).unwrap().up);
    assert!(nft_list(&format!("hako_{name}")).1.contains("masquerade"));

    // --- the bridge deleted behind our back: recreated, with a fresh dnsmasq bound to it
    let old_pid = nets.status(&name).unwrap().dnsmasq_pid.unwrap();
    assert!(nl.delete_link(&name).unwrap());
    let st = nets.status(&name).unwrap();
    assert!(!st.up && !st.bridge_exists);
    let st = nets.up(&name).unwrap();
    assert!(st.up, "{st:?}");
    assert_ne!(st.dnsmasq_pid, Some(old_pid));
    assert!(
        procs_mentioning(&format!(
            "--pid-file={}",
            nets.dnsmasq_paths(&name).pid_file.display()
        ))
        .len()
            == 1,
        "one dnsmasq"
    );
    assert!(nl
        .addresses(Some(&name))
        .unwrap()
        .iter()
        .any(|a| a.addr == IpAddr::V4(v4.addr)));

    // --- down leaves nothing but the definition; up again; remove leaves nothing at all
    nets.down(&name).unwrap();
    assert_nothing_left(&nets, &name, &nets.run_path(&name));
    assert!(nets.get(&name).unwrap().is_some());
    assert!(nets.up(&name).unwrap().up);
    let e = nets
        .remove(&name, false, &["c1".to_string()])
        .unwrap_err()
        .to_string();
    assert!(e.contains("it is used by c1"), "{e}");
    assert!(
        nets.status(&name).unwrap().up,
        "refused remove must not take it down"
    );
    nets.remove(&name, true, &["c1".to_string()]).unwrap();
    assert_nothing_left(&nets, &name, &nets.run_path(&name));
    assert_eq!(nets.get(&name).unwrap(), None);
    assert!(nets.list().unwrap().is_empty());
    guard.names.clear();
}

#[test]
fn dnsmasq_missing_rolls_back() {
    if skip_unless_root() {
        return;
    }
    let pid = std::process::id();
    let name = format!("hkt{pid}m");
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let nets = Networks::open(&tmp.path().join("state"), &run).with_dnsmasq("/nonexistent/dnsmasq");
    let _guard = Guard {
        nets: nets.clone(),
        names: vec![name.clone()],
        run_dir: run.clone(),
        links: vec![],
        ip_forward: fs::read_to_string("/proc/sys/net/ipv4/ip_forward").ok(),
    };
    nets.create(
        &name,
        CreateNetOpts {
            nat: false,
            ..Default::default()
        },
    )
    .unwrap();
    let e = nets.up(&name).unwrap_err().to_string();
    assert_eq!(
        e,
        format!("cannot start DHCP/DNS for network \"{name}\": /nonexistent/dnsmasq not found; install it with \"apt-get install dnsmasq-base\"")
    );
    // the failed bring-up removed the bridge and the table it had created
    let mut nl = Netlink::new().unwrap();
    assert_eq!(nl.link_index(&name).unwrap(), None);
    assert!(!nft_table_exists(&format!("hako_{name}")).unwrap());
    let st = nets.status(&name).unwrap();
    assert!(!st.up && !st.bridge_exists);
    // a network name that is a host device already is refused at create
    let e = nets
        .create("lo", CreateNetOpts::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("already has a network device named \"lo\""),
        "{e}"
    );
    // unknown network
    let e = nets.up("hktnosuch").unwrap_err().to_string();
    assert_eq!(e, "cannot use network \"hktnosuch\": no such managed network; create it with \"hako network create hktnosuch\" (see \"hako network ls\")");
    nets.remove(&name, false, &[]).unwrap();
    assert_nothing_left(&nets, &name, &nets.run_path(&name));
}
