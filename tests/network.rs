//! Issue 3: networking. veth on managed and plain bridges, DHCP and DNS through the managed
//! network's dnsmasq, static addresses, macvlan, phys, none, several interfaces, what `info`,
//! `ls` and `--format json` show, the default network, every bad input of point 5, and the
//! performance figures (printed, not asserted).
//!
//! Every test works on bridges, veth pairs and managed networks it creates itself, with
//! unique names of at most 15 characters, inside the test's own HAKO_SYSCONFDIR (never
//! /etc/hako). This kernel has no dummy devices (CONFIG_DUMMY is unset) and no vlan/ipvlan:
//! where the issue says "dummy device", the tests use one end of a veth pair they create in
//! the host namespace (`ip link add A type veth peer name B`), as the macvlan parent and as
//! the `phys` device. Test traffic goes only between the host and the test's own containers
//! (DNS queries are for dot-less container names, which dnsmasq never forwards).
//!
//! After each test a leak check (see [`Net`]) looks for links, nftables tables `hako_<net>`,
//! dnsmasq processes and runtime directories of the test's networks and containers.

mod common;

use common::*;
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::thread;
use std::time::{Duration, Instant};

/// The performance tests run alone (their figures, and the other tests' time limits, would
/// suffer from each other's load): they take this lock for writing, every other test for
/// reading.
static QUIET: RwLock<()> = RwLock::new(());

fn shared() -> RwLockReadGuard<'static, ()> {
    QUIET.read().unwrap_or_else(|e| e.into_inner())
}

fn exclusive() -> RwLockWriteGuard<'static, ()> {
    QUIET.write().unwrap_or_else(|e| e.into_inner())
}

/// The busybox binary on the host (busybox-static): the host has no `ping` of its own.
const BUSYBOX: &str = "/usr/bin/busybox";
/// How long a container may take to get its DHCP address.
const DHCP_WAIT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------
// Host-side helpers
// ---------------------------------------------------------------------------------------

fn ip(args: &[&str]) -> Out {
    Run::new("ip").args(args).run()
}

#[track_caller]
fn ip_ok(args: &[&str]) {
    ip(args).assert_ok();
}

fn link_exists(name: &str) -> bool {
    Path::new("/sys/class/net").join(name).exists()
}

/// The bridge `name` is attached to.
fn link_master(name: &str) -> Option<String> {
    fs::read_link(Path::new("/sys/class/net").join(name).join("master"))
        .ok()
        .and_then(|p| p.file_name().map(|f| f.to_string_lossy().into_owned()))
}

fn link_mac(name: &str) -> Option<String> {
    fs::read_to_string(Path::new("/sys/class/net").join(name).join("address"))
        .ok()
        .map(|s| s.trim().to_string())
}

fn host_links() -> BTreeSet<String> {
    fs::read_dir("/sys/class/net")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn nft_table_exists(table: &str) -> bool {
    Run::new("nft")
        .args(["list", "table", "inet", table])
        .run()
        .code()
        == 0
}

fn nft_table_text(table: &str) -> String {
    Run::new("nft")
        .args(["list", "table", "inet", table])
        .run()
        .stdout
}

/// Live dnsmasq processes whose command line mentions `needle`.
fn dnsmasq_processes(needle: &str) -> Vec<(i32, String)> {
    let mut out = Vec::new();
    let Ok(rd) = fs::read_dir("/proc") else {
        return out;
    };
    for e in rd.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(cmd) = fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        let prog = cmd.split_whitespace().next().unwrap_or_default();
        if prog.ends_with("dnsmasq") && cmd.contains(needle) && pid_alive(pid) {
            out.push((pid, cmd));
        }
    }
    out
}

/// The host-side name prefix of interface `index` of `container` (`veth` + 6 hex digits
/// of a hash of both; hako adds 4 random digits).
fn veth_prefix(container: &str, index: u32) -> String {
    hako_net::veth_host_name(container, index)[..10].to_string()
}

/// The IPv4 addresses configured in the network namespace of `pid`, from
/// /proc/PID/net/fib_trie (no command runs inside; cheap enough to poll).
fn netns_ipv4(pid: i32) -> Vec<String> {
    let Ok(t) = fs::read_to_string(format!("/proc/{pid}/net/fib_trie")) else {
        return Vec::new();
    };
    let lines: Vec<&str> = t.lines().collect();
    let mut out = Vec::new();
    for w in lines.windows(2) {
        if let Some(a) = w[0].trim().strip_prefix("|-- ") {
            if w[1].contains("/32 host LOCAL")
                && !a.starts_with("127.")
                && !out.contains(&a.to_string())
            {
                out.push(a.to_string());
            }
        }
    }
    out
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// Print a performance figure where `cargo test` shows it (libtest captures `eprintln!`).
fn report(line: &str) {
    let _ = writeln!(std::io::stderr(), "PERF network: {line}");
}

/// The one error line of a failed command: the exit code is not 0, stderr (without
/// warnings) is exactly one line, and it contains every `needle` (case-insensitive).
#[track_caller]
fn assert_clear_error(o: &Out, needles: &[&str]) {
    assert_ne!(o.code(), 0, "expected a failure\n{o:?}");
    let lines: Vec<&str> = o
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.contains("WARN"))
        .collect();
    assert_eq!(
        lines.len(),
        1,
        "expected exactly one error line, got:\n{}",
        o.stderr
    );
    let l = lines[0].to_lowercase();
    for n in needles {
        assert!(
            l.contains(&n.to_lowercase()),
            "the error does not mention {n:?}:\n{}",
            o.stderr
        );
    }
}

// ---------------------------------------------------------------------------------------
// The per-test network environment
// ---------------------------------------------------------------------------------------

/// A managed network as `network show --format json` describes it.
#[derive(Clone, Debug)]
struct ManagedNet {
    name: String,
    /// the bridge's address, e.g. 10.47.3.1
    gw: String,
    /// e.g. 24
    prefix: u8,
    /// the first three octets with the dot, e.g. "10.47.3."
    base: String,
}

impl ManagedNet {
    fn addr(&self, host: u8) -> String {
        format!("{}{host}", self.base)
    }
}

/// Everything one test creates on the host besides containers: managed networks, links,
/// processes, LXC containers. On drop: containers are stopped, all of it is removed, then
/// the leak check looks for links (tracked ones, host ends seen in `info`, veths named after
/// the test's containers), nftables tables, dnsmasq processes and runtime directories of
/// the test's networks. A leak fails the test.
struct Net<'a> {
    env: &'a TestEnv,
    networks: Mutex<Vec<String>>,
    links: Mutex<Vec<String>>,
    seen: Mutex<BTreeSet<String>>,
    pids: Mutex<Vec<i32>>,
    lxc: Mutex<Vec<(PathBuf, String)>>,
}

impl<'a> Net<'a> {
    fn new(env: &'a TestEnv) -> Net<'a> {
        Net {
            env,
            networks: Mutex::new(Vec::new()),
            links: Mutex::new(Vec::new()),
            seen: Mutex::new(BTreeSet::new()),
            pids: Mutex::new(Vec::new()),
            lxc: Mutex::new(Vec::new()),
        }
    }

    /// A unique device/network name (≤ 15 bytes).
    fn dev_name(&self, prefix: &str) -> String {
        let n = self.env.token(prefix);
        assert!(n.len() <= 15, "device name {n:?} too long");
        n
    }

    /// `hako network create NAME ARGS...`; remembered for removal and the leak check.
    #[track_caller]
    fn create_network(&self, args: &[&str]) -> ManagedNet {
        let name = self.dev_name("hn");
        self.track_network(&name);
        let mut a = vec!["network", "create", name.as_str()];
        a.extend_from_slice(args);
        self.env.hako(&a).assert_ok();
        self.network(&name)
    }

    fn track_network(&self, name: &str) {
        self.networks.lock().unwrap().push(name.to_string());
    }

    /// The definition and status of a managed network.
    #[track_caller]
    fn show(&self, name: &str) -> serde_json::Value {
        let o = self
            .env
            .hako(&["network", "show", name, "--format", "json"]);
        o.assert_ok();
        serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("network show json: {e}\n{o:?}"))
    }

    #[track_caller]
    fn network(&self, name: &str) -> ManagedNet {
        let j = self.show(name);
        let cidr = j["ipv4"]
            .as_str()
            .unwrap_or_else(|| panic!("network {name} has no IPv4: {j}"));
        let (gw, p) = cidr.split_once('/').unwrap();
        let base = gw.rsplit_once('.').unwrap().0.to_string() + ".";
        ManagedNet {
            name: name.to_string(),
            gw: gw.to_string(),
            prefix: p.parse().unwrap(),
            base,
        }
    }

    fn dnsmasq_pid(&self, name: &str) -> Option<i32> {
        self.show(name)["status"]["dnsmasq_pid"]
            .as_i64()
            .map(|p| p as i32)
    }

    /// A veth pair in the host namespace, both ends up; deleting the first end (at the
    /// end of the test) deletes both.
    fn veth_pair(&self) -> (String, String) {
        let a = self.dev_name("hva");
        let b = format!("hvb{}", &a[3..]);
        ip_ok(&["link", "add", &a, "type", "veth", "peer", "name", &b]);
        self.links.lock().unwrap().push(a.clone());
        self.links.lock().unwrap().push(b.clone());
        ip_ok(&["link", "set", &a, "up"]);
        ip_ok(&["link", "set", &b, "up"]);
        (a, b)
    }

    /// A plain Linux bridge (not a managed network) with `addr` (CIDR), up.
    fn plain_bridge(&self, addr: Option<&str>) -> String {
        let br = self.dev_name("hbr");
        ip_ok(&["link", "add", &br, "type", "bridge"]);
        self.links.lock().unwrap().push(br.clone());
        if let Some(a) = addr {
            ip_ok(&["addr", "add", a, "dev", &br]);
        }
        ip_ok(&["link", "set", &br, "up"]);
        br
    }

    /// A busybox container with one veth on `link` (flags = up) plus `extra` config.
    fn container_on(&self, link: &str, extra: &str) -> String {
        self.env.busybox_with(&format!(
            "lxc.net.0.type = veth\nlxc.net.0.link = {link}\nlxc.net.0.flags = up\n{extra}"
        ))
    }

    /// `info --format json` of a running container; its host-side links are remembered
    /// for the leak check.
    #[track_caller]
    fn info_json(&self, name: &str) -> serde_json::Value {
        let o = self.env.hako(&["info", name, "--format", "json"]);
        o.assert_ok();
        let j: serde_json::Value =
            serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("info json: {e}\n{o:?}"));
        if let Some(ifs) = j["interfaces"].as_array() {
            for i in ifs {
                if let Some(l) = i["link"].as_str() {
                    if l.starts_with("veth") {
                        self.seen.lock().unwrap().insert(l.to_string());
                    }
                }
            }
        }
        j
    }

    /// The host-side link of interface `iface` of a running container (from `info`).
    #[track_caller]
    fn host_link(&self, name: &str, iface: &str) -> String {
        let j = self.info_json(name);
        j["interfaces"]
            .as_array()
            .and_then(|a| a.iter().find(|i| i["name"] == iface))
            .and_then(|i| i["link"].as_str())
            .unwrap_or_else(|| panic!("info of {name} shows no host link for {iface}: {j}"))
            .to_string()
    }

    #[track_caller]
    fn must_get_ip(&self, name: &str, net: &ManagedNet) -> String {
        let t = Instant::now();
        self.env.wait_ipv4(name, &net.base, DHCP_WAIT).unwrap_or_else(|| {
            let inside = self.env.sh(name, "ip -4 addr; ps");
            panic!(
                "container {name} got no DHCP address on {} ({}0/{}) within {DHCP_WAIT:?} ({:?} waited); inside:\n{}\nleases: {:?}",
                net.name,
                net.base,
                net.prefix,
                t.elapsed(),
                inside.stdout,
                self.env.hako(&["network", "leases", &net.name]).stdout
            )
        })
    }

    /// `ping -c1` from inside container `name`, retried for up to 5 s (neighbour discovery,
    /// a just-configured address).
    #[track_caller]
    fn ping_from(&self, name: &str, target: &str) {
        let mut last = None;
        let ok = wait_for(Duration::from_secs(5), || {
            let o = self.env.sh(name, &format!("ping -c1 -W1 {target}"));
            let ok = o.code() == 0;
            last = Some(o);
            ok
        });
        assert!(
            ok,
            "container {name} cannot ping {target}: {:?}",
            last.unwrap()
        );
    }

    /// `ping -c1` from the host (busybox's ping), retried for up to 5 s.
    #[track_caller]
    fn ping_from_host(&self, target: &str) {
        let mut last = None;
        let ok = wait_for(Duration::from_secs(5), || {
            let o = Run::new(BUSYBOX).args(["ping", "-c1", "-W1", target]).run();
            let ok = o.code() == 0;
            last = Some(o);
            ok
        });
        assert!(ok, "the host cannot ping {target}: {:?}", last.unwrap());
    }

    /// A failed start left nothing of `name`: STOPPED, no process/mount/cgroup/runtime dir,
    /// no veth named after it, no DNS registration on `net`, nothing of it in the network's
    /// nftables table.
    #[track_caller]
    fn assert_failed_start_left_nothing(&self, name: &str, net: Option<&str>) {
        assert_eq!(
            self.env.state(name),
            "STOPPED",
            "{name} after a failed start"
        );
        self.env.assert_no_leaks(name);
        let prefixes: Vec<String> = (0..4).map(|i| veth_prefix(name, i)).collect();
        let left: Vec<String> = host_links()
            .into_iter()
            .filter(|l| prefixes.iter().any(|p| l.starts_with(p.as_str())))
            .collect();
        assert!(
            left.is_empty(),
            "a failed start of {name} left host links {left:?}"
        );
        if let Some(net) = net {
            let j = self.show(net);
            let hosts = j["hosts"].to_string();
            assert!(
                !hosts.contains(&format!("\"{name}\"")),
                "a failed start of {name} left its DNS registration on {net}: {hosts}"
            );
            let table = nft_table_text(&format!("hako_{net}"));
            assert!(
                !prefixes.iter().any(|p| table.contains(p.as_str())) && !table.contains(name),
                "the nftables table of {net} mentions {name}:\n{table}"
            );
        }
    }

    /// What is left of the test's networks, links and containers on the host.
    fn leaks(&self) -> Vec<String> {
        let mut found = Vec::new();
        let links = host_links();
        for n in self.networks.lock().unwrap().iter() {
            if links.contains(n) {
                found.push(format!("bridge of network {n}"));
            }
            if nft_table_exists(&format!("hako_{n}")) {
                found.push(format!("nftables table inet hako_{n}"));
            }
            for (pid, cmd) in dnsmasq_processes(&format!("/net/{n}/")) {
                found.push(format!("dnsmasq of network {n}: pid {pid}: {cmd}"));
            }
            let run = Path::new("/run/hako/net").join(n);
            if run.exists() {
                found.push(format!("runtime dir {}", run.display()));
            }
            let def = self.env.etc.join("hako/networks").join(format!("{n}.json"));
            if def.exists() {
                found.push(format!("definition {}", def.display()));
            }
        }
        for l in self.links.lock().unwrap().iter() {
            if links.contains(l) {
                found.push(format!("link {l}"));
            }
        }
        for l in self.seen.lock().unwrap().iter() {
            if links.contains(l) {
                found.push(format!("host end {l} of a container's veth"));
            }
        }
        let names = self.env.container_names();
        for l in &links {
            for n in &names {
                if (0..4).any(|i| l.starts_with(&veth_prefix(n, i))) {
                    found.push(format!("link {l} (a veth of container {n})"));
                }
            }
        }
        for pid in self.pids.lock().unwrap().iter() {
            if pid_alive(*pid) {
                found.push(format!("process {pid}"));
            }
        }
        found
    }
}

impl Drop for Net<'_> {
    fn drop(&mut self) {
        // containers first (their veths hang on the bridges), then LXC's, then the rest
        for n in self.env.container_names() {
            let _ = self
                .env
                .run(&["stop", &n, "-k"])
                .timeout(Duration::from_secs(30))
                .run();
        }
        for (p, n) in self.lxc.lock().unwrap().iter() {
            let p = p.to_string_lossy().into_owned();
            let _ = Run::new("lxc-stop").args(["-P", &p, "-n", n, "-k"]).run();
            let _ = Run::new("lxc-destroy")
                .args(["-P", &p, "-n", n, "-f"])
                .run();
        }
        for pid in self.pids.lock().unwrap().iter() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(*pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        for n in self.networks.lock().unwrap().iter() {
            if self
                .env
                .etc
                .join("hako/networks")
                .join(format!("{n}.json"))
                .exists()
            {
                let o = self.env.hako(&["network", "rm", "-f", n]);
                if o.code() != 0 {
                    eprintln!("cleanup: network rm -f {n} failed: {o:?}");
                }
            }
        }
        for l in self.links.lock().unwrap().iter() {
            if link_exists(l) {
                let _ = ip(&["link", "del", l]);
            }
        }
        let mut leaks = self.leaks();
        let deadline = Instant::now() + Duration::from_secs(3);
        while !leaks.is_empty() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(50));
            leaks = self.leaks();
        }
        if leaks.is_empty() {
            return;
        }
        // scrub what can be scrubbed so other tests are not disturbed
        for n in self.networks.lock().unwrap().iter() {
            for (pid, _) in dnsmasq_processes(&format!("/net/{n}/")) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            let _ = Run::new("nft")
                .args(["delete", "table", "inet", &format!("hako_{n}")])
                .run();
            if link_exists(n) {
                let _ = ip(&["link", "del", n]);
            }
            let _ = fs::remove_dir_all(Path::new("/run/hako/net").join(n));
        }
        for l in self.seen.lock().unwrap().iter() {
            if link_exists(l) {
                let _ = ip(&["link", "del", l]);
            }
        }
        let msg = format!(
            "NETWORK LEAK CHECK FAILED: left behind:\n  {}",
            leaks.join("\n  ")
        );
        if thread::panicking() {
            eprintln!("{msg}");
        } else {
            panic!("{msg}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// DHCP, ping and DNS on one managed network
// ---------------------------------------------------------------------------------------

#[test]
fn two_containers_get_dhcp_addresses_ping_and_resolve_each_other() {
    let _quiet = shared();
    let Some(env) = TestEnv::new("ndhcp") else {
        return;
    };
    let net = Net::new(&env);
    let m = net.create_network(&[]);
    // nothing is up before the first start
    assert!(
        !link_exists(&m.name),
        "network create brought the bridge up"
    );
    let a = net.container_on(&m.name, "");
    let b = net.container_on(&m.name, "");
    env.start(&a);
    env.start(&b);
    let ip_a = net.must_get_ip(&a, &m);
    let ip_b = net.must_get_ip(&b, &m);
    assert_ne!(ip_a, ip_b, "two containers got the same address");
    // the network came up with the first start: bridge with its address, table, dnsmasq
    let j = net.show(&m.name);
    assert_eq!(j["state"], "up", "network after the starts: {j}");
    assert!(nft_table_exists(&format!("hako_{}", m.name)));
    assert!(net.dnsmasq_pid(&m.name).is_some());
    let link_a = net.host_link(&a, "eth0");
    let link_b = net.host_link(&b, "eth0");
    assert_eq!(link_master(&link_a).as_deref(), Some(m.name.as_str()));
    assert_eq!(link_master(&link_b).as_deref(), Some(m.name.as_str()));

    // ping each other and the bridge; the host reaches both
    net.ping_from(&a, &ip_b);
    net.ping_from(&b, &ip_a);
    net.ping_from(&a, &m.gw);
    net.ping_from(&b, &m.gw);
    net.ping_from_host(&ip_a);

    // names resolve through the network's dnsmasq, directly and through resolv.conf
    let o = env.sh(&a, &format!("nslookup {b} {}", m.gw));
    assert!(
        o.stdout.contains(&format!("Address: {ip_b}")),
        "nslookup {b} from {a}: {o:?}"
    );
    let o = env.sh(&b, &format!("nslookup {a} {}", m.gw));
    assert!(
        o.stdout.contains(&format!("Address: {ip_a}")),
        "nslookup {a} from {b}: {o:?}"
    );
    let resolv = env.sh_ok(&a, "cat /etc/resolv.conf");
    assert!(
        resolv.contains(&format!("nameserver {}", m.gw)),
        "resolv.conf of {a}:\n{resolv}"
    );
    let o = env.sh(&a, &format!("nslookup {b}"));
    assert!(
        o.stdout.contains(&format!("Address: {ip_b}")),
        "nslookup {b} via resolv.conf: {o:?}"
    );

    // leases and attached devices, attributed to their containers
    let leases = env.hako(&["network", "leases", &m.name]);
    leases.assert_ok();
    for (n, i) in [(&a, &ip_a), (&b, &ip_b)] {
        assert!(
            leases
                .stdout
                .lines()
                .any(|l| l.contains(i.as_str()) && l.contains(n.as_str())),
            "network leases does not show {n} with {i}:\n{}",
            leases.stdout
        );
    }
    let show = env.hako(&["network", "show", &m.name]);
    show.assert_ok();
    for (l, n) in [(&link_a, &a), (&link_b, &b)] {
        assert!(
            show.stdout.contains(l.as_str()),
            "network show lacks {l}:\n{}",
            show.stdout
        );
        assert!(
            show.stdout.contains(n.as_str()),
            "network show does not name {n}:\n{}",
            show.stdout
        );
    }
    // rm is refused while they run
    let o = env.hako(&["network", "rm", &m.name]);
    assert_clear_error(&o, &[&m.name, "-f"]);
    assert!(link_exists(&m.name));

    // stop: the host ends go, the DHCP names are forgotten
    env.kill(&a);
    env.kill(&b);
    assert!(
        !link_exists(&link_a) && !link_exists(&link_b),
        "veths left after stop"
    );
    let dhcp_hosts = Path::new("/run/hako/net")
        .join(&m.name)
        .join("dhcp-hosts.d");
    for n in [&a, &b] {
        assert!(
            !dhcp_hosts.join(n).exists(),
            "DHCP name of {n} left after stop"
        );
    }
    // a restart gets the same address back (stable MAC): the pool is not drained
    env.start(&a);
    let again = net.must_get_ip(&a, &m);
    assert_eq!(again, ip_a, "{a} got another address after a restart");
    env.kill(&a);
    env.hako(&["network", "rm", &m.name]).assert_ok();
}

// ---------------------------------------------------------------------------------------
// Static addresses
// ---------------------------------------------------------------------------------------

const CAPTURE_INIT: &str =
    "lxc.init.cmd = /bin/sh -c \"ip -4 addr show eth0 > /tmp/addr; ip route > /tmp/route; exec /sbin/init\"";

#[test]
fn static_address_with_gateway_auto_is_set_before_init() {
    let _quiet = shared();
    let Some(env) = TestEnv::new("nstat") else {
        return;
    };
    let net = Net::new(&env);
    // no DHCP on this network: the address can only come from hako
    let m = net.create_network(&["--no-dhcp"]);
    let addr = m.addr(50);
    let c = net.container_on(
        &m.name,
        &format!(
            "lxc.net.0.ipv4.address = {addr}/{}\nlxc.net.0.ipv4.gateway = auto\n",
            m.prefix
        ),
    );
    env.replace_config_line(&c, "lxc.init.cmd", CAPTURE_INIT);
    env.start(&c);
    env.wait_booted(&c);
    let before = env.sh_ok(&c, "cat /tmp/addr");
    assert!(
        before.contains(&format!("inet {addr}/{}", m.prefix)),
        "eth0 before init ran:\n{before}"
    );
    let route = env.sh_ok(&c, "cat /tmp/route");
    assert!(
        route
            .lines()
            .any(|l| l.starts_with(&format!("default via {} dev eth0", m.gw))),
        "routes before init ran (gateway = auto is the bridge's address {}):\n{route}",
        m.gw
    );
    // registered for DNS under the container's name
    let j = net.show(&m.name);
    assert!(
        j["hosts"].to_string().contains(&addr),
        "DNS registration: {j}"
    );
    // and it works without any DHCP server, after the container booted
    let ips = env.hako(&["info", &c, "-i", "-H"]);
    assert!(
        ips.stdout.lines().any(|l| l.trim() == addr),
        "after boot, {c} no longer holds its static address {addr} (info -i: {:?}); the busybox \
         template's rcS runs udhcpc on eth0 even when hako configured a static address, and \
         udhcpc's deconfig flushes it",
        ips.stdout
    );
    net.ping_from(&c, &m.gw);
    net.ping_from_host(&addr);
    let o = env.sh(&c, &format!("nslookup {c} {}", m.gw));
    assert!(
        o.stdout.contains(&format!("Address: {addr}")),
        "nslookup {c}: {o:?}"
    );
    env.kill(&c);
    let j = net.show(&m.name);
    assert!(
        !j["hosts"].to_string().contains(&addr),
        "DNS registration left after stop: {j}"
    );
}

#[test]
fn static_address_taken_by_a_running_container_is_refused() {
    let _quiet = shared();
    let Some(env) = TestEnv::new("ntake") else {
        return;
    };
    let net = Net::new(&env);
    let m = net.create_network(&[]);
    let addr = m.addr(60);
    let cfg = format!(
        "lxc.net.0.ipv4.address = {addr}/{}\nlxc.net.0.ipv4.gateway = auto\n",
        m.prefix
    );
    let a = net.container_on(&m.name, &cfg);
    let b = net.container_on(&m.name, &cfg);
    env.start(&a);
    let o = env.hako(&["start", &b]);
    assert_clear_error(
        &o,
        &[&b, &addr, &a, "choose another address", "ipv4.address"],
    );
    net.assert_failed_start_left_nothing(&b, Some(&m.name));
    // a's registration is untouched, and a keeps working
    let j = net.show(&m.name);
    assert!(j["hosts"].to_string().contains(&format!("\"{a}\"")), "{j}");
    assert_eq!(env.state(&a), "RUNNING");
    // once a stops, the address is free for b
    env.kill(&a);
    env.start(&b);
    env.kill(&b);
}

#[test]
fn static_address_for_a_container_whose_name_is_no_dns_name() {
    let _quiet = shared();
    let Some(env) = TestEnv::new("nuscr") else {
        return;
    };
    let net = Net::new(&env);
    let m = net.create_network(&[]);
    // a valid container name, but not a valid DNS name
    let c = format!("{}_a", env.token("nu"));
    env.track_name(&c);
    let f = env.write(
        "us.conf",
        &format!(
            "lxc.net.0.type = veth\nlxc.net.0.link = {}\nlxc.net.0.flags = up\nlxc.net.0.ipv4.address = {}/{}\n",
            m.name,
            m.addr(80),
            m.prefix
        ),
    );
    env.hako(&["create", &c, "-t", "busybox", "-f", f.to_str().unwrap()])
        .assert_ok();
    env.start(&c);
    let dns = c.replace('_', "-");
    let o = env.sh(&c, &format!("nslookup {dns} {}", m.gw));
    assert!(
        o.stdout.contains(&format!("Address: {}", m.addr(80))),
        "{c} does not resolve as {dns}: {o:?}"
    );
    env.kill(&c);
    assert_eq!(net.show(&m.name)["hosts"], serde_json::json!([]));
}

#[test]
fn killed_monitor_leaves_no_network_state_after_the_next_stop() {
    let _quiet = shared();
    let Some(env) = TestEnv::new("nkill") else {
        return;
    };
    let net = Net::new(&env);
    let m = net.create_network(&[]);
    let addr = m.addr(90);
    let c = net.container_on(
        &m.name,
        &format!("lxc.net.0.ipv4.address = {addr}/{}\n", m.prefix),
    );
    env.start(&c);
    let link = net.host_link(&c, "eth0");
    let pid = env.init_pid(&c);
    let monitor = ppid_of(pid).expect("the monitor of init");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(monitor),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    assert!(wait_for(Duration::from_secs(3), || !pid_alive(monitor)));
    // init dies with its monitor; wait until it is reaped (this machine's PID 1 reaps
    // orphans only every ~2 s, and a zombie keeps its cgroup busy)
    assert!(
        wait_for(Duration::from_secs(15), || !Path::new(&format!(
            "/proc/{pid}"
        ))
        .exists()),
        "init {pid} of {c} was not reaped within 15 s of its monitor's death"
    );
    // the next stop (or start) cleans up what the monitor left
    let _ = env.hako(&["stop", &c, "-k"]);
    env.assert_no_leaks(&c);
    assert!(
        !link_exists(&link),
        "the host end {link} of the killed container is left"
    );
    let j = net.show(&m.name);
    assert_eq!(
        j["hosts"],
        serde_json::json!([]),
        "the killed container's DNS registration (and the reservation of {addr}) is left: another \
         container cannot use {addr}"
    );
    let d = net.container_on(
        &m.name,
        &format!("lxc.net.0.ipv4.address = {addr}/{}\n", m.prefix),
    );
    env.start(&d);
    env.kill(&d);
}

// ---------------------------------------------------------------------------------------
// macvlan, phys, none, several interfaces
// ---------------------------------------------------------------------------------------

#[test]
fn macvlan_containers_on_one_parent_ping_each_other() {
    let _quiet = shared();
    let Some(env) = TestEnv::new("nmacv") else {
        return;
    };
    let net = Net::new(&env);
    // the parent: one end of a veth pair (no dummy devices on this kernel)
    let (parent, _) = net.veth_pair();
    let cfg = |host: u8| {
        format!(
            "lxc.net.0.type = macvlan\nlxc.net.0.link = {parent}\nlxc.net.0.macvlan.mode = bridge\n\
             lxc.net.0.name = mv0\nlxc.net.0.flags = up\nlxc.net.0.ipv4.address = 192.168.77.{host}/24\n"
        )
    };
    let a = env.busybox_with(&cfg(2));
    let b = env.busybox_with(&cfg(3));
    env.start(&a);
    env.start(&b);
    net.ping_from(&a, "192.168.77.3");
    net.ping_from(&b, "192.168.77.2");
    let j = net.info_json(&a);
    let i = &j["interfaces"][0];
    assert_eq!(i["name"], "mv0", "{j}");
    assert_eq!(
        i["link"],
        parent.as_str(),
        "info names the macvlan's parent: {j}"
    );
    assert_eq!(j["ips"], serde_json::json!(["192.168.77.2"]), "{j}");
    let before: BTreeSet<String> = host_links();
    env.kill(&a);
    env.kill(&b);
    assert!(
        link_exists(&parent),
        "the parent device went away with the containers"
    );
    assert_eq!(
        before,
        host_links(),
        "stopping macvlan containers changed the host's links"
    );
}

#[test]
fn phys_moves_a_device_in_and_gives_it_back_at_stop() {
    let _quiet = shared();
    let Some(env) = TestEnv::new("nphys") else {
        return;
    };
    let net = Net::new(&env);
    // a veth end stands in for a physical NIC (no dummy devices on this kernel)
    let (peer, dev) = net.veth_pair();
    ip_ok(&["addr", "add", "192.168.78.1/24", "dev", &peer]);
    let mac = link_mac(&dev).unwrap();
    let c = env.busybox_with(&format!(
        "lxc.net.0.type = phys\nlxc.net.0.link = {dev}\nlxc.net.0.name = inside0\n\
         lxc.net.0.flags = up\nlxc.net.0.ipv4.address = 192.168.78.2/24\n"
    ));
    env.start(&c);
    assert!(
        !link_exists(&dev),
        "{dev} is still on the host while {c} runs"
    );
    let inside = env.sh_ok(&c, "ip addr show inside0");
    assert!(
        inside.contains(&mac),
        "inside0 is not {dev} (MAC {mac}):\n{inside}"
    );
    assert!(inside.contains("inet 192.168.78.2/24"), "{inside}");
    net.ping_from(&c, "192.168.78.1");
    net.ping_from_host("192.168.78.2");
    let j = net.info_json(&c);
    assert_eq!(j["interfaces"][0]["name"], "inside0", "{j}");
    assert_eq!(j["interfaces"][0]["link"], dev.as_str(), "{j}");
    env.kill(&c);
    assert!(
        wait_for(Duration::from_secs(3), || link_exists(&dev)),
        "{dev} did not come back to the host after stop"
    );
    assert_eq!(
        link_mac(&dev).as_deref(),
        Some(mac.as_str()),
        "{dev} came back as another device"
    );
    // and it can be moved in again
    env.start(&c);
    assert!(!link_exists(&dev));
    env.kill(&c);
    assert!(wait_for(Duration::from_secs(3), || link_exists(&dev)));
}

#[test]
fn net_none_info_shows_the_hosts_addresses() {
    let _quiet = shared();
    let Some(env) = TestEnv::new("nnone") else {
        return;
    };
    let net = Net::new(&env);
    // an address on the host that only this test uses
    let (a, _) = net.veth_pair();
    ip_ok(&["addr", "add", "192.168.79.1/24", "dev", &a]);
    // The container shares the HOST's network: its init must not run a DHCP client on the
    // host's eth0 (the busybox rcS would where eth0 has no IPv4 address), so it only sleeps.
    let c = env.busybox_with("lxc.net.0.type = none\nlxc.init.cmd = /bin/sleep 100000\n");
    let cfg = env.read_config(&c);
    let inits: Vec<&str> = cfg
        .lines()
        .filter(|l| l.trim_start().starts_with("lxc.init.cmd"))
        .collect();
    assert_eq!(
        inits,
        vec!["lxc.init.cmd = /bin/sleep 100000"],
        "refusing to start a none container with busybox init"
    );
    env.start(&c);
    let inside = env.sh_ok(&c, "ip -4 addr show");
    assert!(
        inside.contains("192.168.79.1/24"),
        "with type none, the host's addresses are not visible:\n{inside}"
    );
    assert!(inside.contains(&a), "{inside}");
    let ips = env.hako(&["info", &c, "-i", "-H"]);
    ips.assert_ok();
    assert!(
        ips.stdout.lines().any(|l| l.trim() == "192.168.79.1"),
        "info -i of a container sharing the host's network (lxc.net.0.type = none) does not \
         show the host's address 192.168.79.1: {:?}",
        ips.stdout
    );
    env.kill(&c);
    assert!(
        link_exists(&a),
        "stopping a none container touched the host's links"
    );
}

#[test]
fn two_interfaces_info_ls_and_json() {
    let _quiet = shared();
    let Some(env) = TestEnv::new("ntwo") else {
        return;
    };
    let net = Net::new(&env);
    let m = net.create_network(&[]);
    let br = net.plain_bridge(Some("192.168.80.1/24"));
    let c = net.container_on(
        &m.name,
        &format!(
            "lxc.net.1.type = veth\nlxc.net.1.link = {br}\nlxc.net.1.name = eth1\nlxc.net.1.flags = up\n\
             lxc.net.1.ipv4.address = 192.168.80.2/24\nlxc.net.1.mtu = 1400\nlxc.net.1.hwaddr = 02:16:3e:5a:6b:7c\n"
        ),
    );
    env.start(&c);
    let eth1 = env.sh_ok(&c, "ip link show eth1");
    assert!(
        eth1.contains("mtu 1400") && eth1.contains("02:16:3e:5a:6b:7c"),
        "lxc.net.1.mtu/hwaddr not applied:\n{eth1}"
    );
    let dhcp = net.must_get_ip(&c, &m);
    net.ping_from(&c, &m.gw);
    net.ping_from(&c, "192.168.80.1");
    let l0 = net.host_link(&c, "eth0");
    let l1 = net.host_link(&c, "eth1");
    assert_eq!(link_master(&l0).as_deref(), Some(m.name.as_str()));
    assert_eq!(link_master(&l1).as_deref(), Some(br.as_str()));

    // info: IP lines, a Link block per interface with TX/RX bytes
    let o = env.hako(&["info", &c]);
    o.assert_ok();
    let lines: Vec<&str> = o.stdout.lines().collect();
    for a in [dhcp.as_str(), "192.168.80.2"] {
        assert!(
            lines.contains(&format!("IP:             {a}").as_str()),
            "info lacks IP {a}:\n{}",
            o.stdout
        );
    }
    for l in [&l0, &l1] {
        let at = lines
            .iter()
            .position(|x| *x == format!("Link:           {l}"))
            .unwrap_or_else(|| panic!("info lacks Link: {l}:\n{}", o.stdout));
        assert!(lines[at + 1].starts_with(" TX bytes:"), "{}", o.stdout);
        assert!(lines[at + 2].starts_with(" RX bytes:"), "{}", o.stdout);
    }
    // json: the same, with byte counts that move with traffic
    let j = net.info_json(&c);
    let ifs = j["interfaces"].as_array().unwrap();
    assert_eq!(ifs.len(), 2, "{j}");
    let eth1 = ifs.iter().find(|i| i["name"] == "eth1").unwrap();
    assert_eq!(eth1["link"], l1.as_str());
    assert_eq!(eth1["ipv4"], serde_json::json!(["192.168.80.2"]));
    let tx0 = eth1["tx_bytes"].as_u64().unwrap();
    let rx0 = eth1["rx_bytes"].as_u64().unwrap();
    env.sh_ok(&c, "ping -c3 -i0.2 -W1 192.168.80.1");
    let j2 = net.info_json(&c);
    let eth1b = j2["interfaces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "eth1")
        .unwrap()
        .clone();
    assert!(
        eth1b["tx_bytes"].as_u64().unwrap() >= tx0 + 3 * 84,
        "tx bytes: {tx0} -> {}",
        eth1b["tx_bytes"]
    );
    assert!(
        eth1b["rx_bytes"].as_u64().unwrap() >= rx0 + 3 * 84,
        "rx bytes: {rx0} -> {}",
        eth1b["rx_bytes"]
    );
    let ips: BTreeSet<String> = j["ips"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert!(ips.contains(&dhcp) && ips.contains("192.168.80.2"), "{j}");

    // ls -f: the IPV4 column; ls --format json
    let o = env.hako(&["ls", "-f"]);
    o.assert_ok();
    let row = o
        .stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some(c.as_str()))
        .unwrap();
    assert!(
        row.contains(&dhcp) && row.contains("192.168.80.2"),
        "ls -f row: {row:?}\n{}",
        o.stdout
    );
    let o = env.hako(&["ls", "-F", "NAME,IPV4"]);
    o.assert_ok();
    assert!(o.stdout.contains("192.168.80.2"), "{}", o.stdout);
    let o = env.hako(&["ls", "--format", "json"]);
    o.assert_ok();
    let j: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    let me = j
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == c.as_str())
        .unwrap();
    let v4 = me["ipv4"].to_string();
    assert!(v4.contains(&dhcp) && v4.contains("192.168.80.2"), "{me}");
    env.kill(&c);
    assert!(!link_exists(&l0) && !link_exists(&l1));
    // stopped: no addresses
    let j = net.info_json(&c);
    assert_eq!(j["ips"], serde_json::json!([]), "{j}");
}

// ---------------------------------------------------------------------------------------
// veth.pair and scripts
// ---------------------------------------------------------------------------------------

const LOG_SCRIPT: &str = "#!/bin/sh\n\
    { echo \"args: $*\"; echo \"LXC_NAME=$LXC_NAME\"; echo \"LXC_HOOK_TYPE=$LXC_HOOK_TYPE\"; \
    echo \"LXC_HOOK_SECTION=$LXC_HOOK_SECTION\"; echo \"LXC_NET_TYPE=$LXC_NET_TYPE\"; \
    echo \"LXC_NET_PARENT=$LXC_NET_PARENT\"; echo \"LXC_NET_PEER=$LXC_NET_PEER\"; \
    echo \"LXC_CONFIG_FILE=$LXC_CONFIG_FILE\"; \
    echo \"host end present: $(test -e /sys/class/net/$LXC_NET_PEER && echo yes || echo no)\"; } > \"$0.$LXC_HOOK_TYPE.log\"\n";

#[test]
fn veth_pair_name_and_up_down_scripts() {
    let _quiet = shared();
    let Some(env) = TestEnv::new("nscr") else {
        return;
    };
    let net = Net::new(&env);
    let br = net.plain_bridge(None);
    let script = env.write("net-hook", LOG_SCRIPT);
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    let pair = net.dev_name("hvp");
    let c = net.container_on(
        &br,
        &format!(
            "lxc.net.0.veth.pair = {pair}\nlxc.net.0.script.up = {s}\nlxc.net.0.script.down = {s}\n",
            s = script.display()
        ),
    );
    env.start(&c);
    assert!(link_exists(&pair), "veth.pair {pair} not on the host");
    assert_eq!(link_master(&pair).as_deref(), Some(br.as_str()));
    assert_eq!(net.host_link(&c, "eth0"), pair);
    let up = fs::read_to_string(env.path("net-hook.up.log")).expect("script.up did not run");
    let cfg = env.config_path(&c);
    for want in [
        format!("args: {c} net up veth {pair}"),
        format!("LXC_NAME={c}"),
        "LXC_HOOK_TYPE=up".to_string(),
        "LXC_HOOK_SECTION=net".to_string(),
        "LXC_NET_TYPE=veth".to_string(),
        format!("LXC_NET_PARENT={br}"),
        format!("LXC_NET_PEER={pair}"),
        format!("LXC_CONFIG_FILE={}", cfg.display()),
        "host end present: yes".to_string(),
    ] {
        assert!(
            up.lines().any(|l| l == want),
            "script.up log lacks {want:?}:\n{up}"
        );
    }
    assert!(
        !env.path("net-hook.down.log").exists(),
        "script.down ran while the container runs"
    );
    env.kill(&c);
    assert!(!link_exists(&pair), "veth.pair {pair} left after stop");
    let down = fs::read_to_string(env.path("net-hook.down.log")).expect("script.down did not run");
    assert!(
        down.lines()
            .any(|l| l == format!("args: {c} net down veth {pair}")),
        "{down}"
    );
    assert!(down.contains("LXC_HOOK_TYPE=down"), "{down}");

    // a failing script.up fails the start and leaves nothing
    let bad = env.write("bad-hook", "#!/bin/sh\nexit 3\n");
    fs::set_permissions(&bad, fs::Permissions::from_mode(0o755)).unwrap();
    let d = net.container_on(&br, &format!("lxc.net.0.script.up = {}\n", bad.display()));
    let o = env.hako(&["start", &d]);
    assert_clear_error(&o, &[&d, "script.up", bad.to_str().unwrap()]);
    net.assert_failed_start_left_nothing(&d, None);
    // a veth.pair name that is taken on the host
    let e = net.container_on(&br, &format!("lxc.net.0.veth.pair = {br}\n"));
    let o = env.hako(&["start", &e]);
    assert_clear_error(&o, &[&e, "veth.pair", &br, "already exists"]);
    net.assert_failed_start_left_nothing(&e, None);
    assert!(
        link_exists(&br),
        "a refused veth.pair removed the existing device {br}"
    );
}

// ---------------------------------------------------------------------------------------
// The default network
// ---------------------------------------------------------------------------------------

#[test]
fn default_network_is_created_on_first_use() {
    let _quiet = shared();
    let Some(env) = TestEnv::new("ndef") else {
        return;
    };
    if link_exists("hakobr0") {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED default_network_is_created_on_first_use: the host already has a device hakobr0 (not this test's to touch)"
        );
        return;
    }
    let net = Net::new(&env);
    net.track_network("hakobr0");
    let def = env.etc.join("hako/networks/hakobr0.json");
    assert!(!def.exists());
    // no default.conf: hako's built-in default joins hakobr0, so
    // `hako create -t busybox c && hako start c` gives c an address with no other step
    std::fs::remove_file(env.etc.join("hako/default.conf")).unwrap();
    let c = env.name();
    env.hako(&["create", &c, "-t", "busybox"]).assert_ok();
    env.start(&c);
    assert!(
        def.exists(),
        "hakobr0 was not defined in HAKO_SYSCONFDIR ({})",
        def.display()
    );
    let m = net.network("hakobr0");
    let ip = net.must_get_ip(&c, &m);
    net.ping_from(&c, &m.gw);
    assert_eq!(
        link_master(&net.host_link(&c, "eth0")).as_deref(),
        Some("hakobr0")
    );
    let o = env.hako(&["network", "ls"]);
    assert!(
        o.stdout
            .lines()
            .any(|l| l.starts_with("hakobr0") && l.contains("up")),
        "{}",
        o.stdout
    );
    env.kill(&c);
    // a second start reuses the definition
    env.start(&c);
    assert_eq!(net.must_get_ip(&c, &m), ip);
    env.kill(&c);
    env.hako(&["network", "rm", "-f", "hakobr0"]).assert_ok();
    assert!(!def.exists() && !link_exists("hakobr0"));
}

// ---------------------------------------------------------------------------------------
// Bad input and faults (issue 3, point 5)
// ---------------------------------------------------------------------------------------

#[test]
fn bad_interface_config_is_refused_before_anything_exists() {
    let _quiet = shared();
    let Some(env) = TestEnv::new("nbad") else {
        return;
    };
    let net = Net::new(&env);
    let m = net.create_network(&[]);
    let missing = net.dev_name("hno");
    let long = "abcdefghijklmnop"; // 16 bytes
    let cases: Vec<(String, Vec<String>)> = vec![
        // unknown bridge
        (
            format!("lxc.net.0.type = veth\nlxc.net.0.link = {missing}\n"),
            vec![missing.clone(), "no such device".into(), format!("hako network create {missing}")],
        ),
        // device names over 15 characters
        (
            format!("lxc.net.0.type = veth\nlxc.net.0.link = {}\nlxc.net.0.name = {long}\n", m.name),
            vec![long.into(), "lxc.net.0.name".into(), "15".into()],
        ),
        (
            format!("lxc.net.0.type = veth\nlxc.net.0.link = {}\nlxc.net.0.veth.pair = {long}\n", m.name),
            vec![long.into(), "lxc.net.0.veth.pair".into(), "15".into()],
        ),
        // addresses that are not addresses
        (
            format!("lxc.net.0.type = veth\nlxc.net.0.link = {}\nlxc.net.0.ipv4.address = banana\n", m.name),
            vec!["banana".into(), "lxc.net.0.ipv4.address".into(), "A.B.C.D/PREFIX".into()],
        ),
        (
            format!("lxc.net.0.type = veth\nlxc.net.0.link = {}\nlxc.net.0.ipv4.address = {}300/24\n", m.name, m.base),
            vec![format!("{}300", m.base), "lxc.net.0.ipv4.address".into()],
        ),
        (
            format!(
                "lxc.net.0.type = veth\nlxc.net.0.link = {}\nlxc.net.0.ipv4.address = {}/{}\nlxc.net.0.ipv4.gateway = 1.2.3\n",
                m.name,
                m.addr(70),
                m.prefix
            ),
            vec!["1.2.3".into(), "ipv4.gateway".into()],
        ),
        // a gateway on an interface that is not brought up
        (
            format!(
                "lxc.net.0.type = veth\nlxc.net.0.link = {}\nlxc.net.0.ipv4.address = {}/{}\nlxc.net.0.ipv4.gateway = auto\n",
                m.name,
                m.addr(71),
                m.prefix
            ),
            vec!["ipv4.gateway".into(), "flags = up".into()],
        ),
        // a static address outside the bridge's subnet
        (
            format!(
                "lxc.net.0.type = veth\nlxc.net.0.link = {}\nlxc.net.0.flags = up\nlxc.net.0.ipv4.address = 192.0.2.7/24\n",
                m.name
            ),
            vec!["192.0.2.7".into(), m.name.clone(), "outside".into(), format!("{}0/{}", m.base, m.prefix), "lxc.net.0.ipv4.address".into()],
        ),
        // the bridge's own address, a prefix that differs from the subnet's
        (
            format!(
                "lxc.net.0.type = veth\nlxc.net.0.link = {}\nlxc.net.0.flags = up\nlxc.net.0.ipv4.address = {}/{}\n",
                m.name, m.gw, m.prefix
            ),
            vec![m.gw.clone(), "bridge".into()],
        ),
        (
            format!(
                "lxc.net.0.type = veth\nlxc.net.0.link = {}\nlxc.net.0.flags = up\nlxc.net.0.ipv4.address = {}/16\n",
                m.name,
                m.addr(72)
            ),
            vec![m.addr(72), "prefix".into(), format!("/{}", m.prefix)],
        ),
        // a phys device and a macvlan parent that do not exist
        (
            format!("lxc.net.0.type = phys\nlxc.net.0.link = {missing}\n"),
            vec![missing.clone(), "no such device".into(), "lxc.net.0.link".into()],
        ),
        (
            format!("lxc.net.0.type = macvlan\nlxc.net.0.link = {missing}\n"),
            vec![missing.clone(), "does not exist".into(), "lxc.net.0.link".into()],
        ),
        // interface 0 is fine and registers a DNS name; interface 1 is bad: the name goes too
        (
            format!(
                "lxc.net.0.type = veth\nlxc.net.0.link = {n}\nlxc.net.0.flags = up\nlxc.net.0.ipv4.address = {a}/{p}\n\
                 lxc.net.1.type = veth\nlxc.net.1.link = {missing}\nlxc.net.1.name = eth1\n",
                n = m.name,
                a = m.addr(73),
                p = m.prefix
            ),
            vec![missing.clone(), "no such device".into()],
        ),
    ];
    for (cfg, needles) in &cases {
        // written after create (which refuses some of these values itself)
        let c = env.busybox();
        env.set_net_config(&c, cfg);
        let o = env.hako(&["start", &c]);
        let mut n: Vec<&str> = needles.iter().map(String::as_str).collect();
        // LXC-style config errors name the file; hako's own name the container
        if !o.stderr.contains(env.config_path(&c).to_str().unwrap()) {
            n.push(c.as_str());
        }
        assert_clear_error(&o, &n);
        net.assert_failed_start_left_nothing(&c, Some(&m.name));
    }
    // the address interface 0 of the last case asked for is free
    let j = net.show(&m.name);
    assert_eq!(
        j["hosts"],
        serde_json::json!([]),
        "registrations left by failed starts: {j}"
    );
}

#[test]
fn network_create_refuses_a_subnet_of_a_host_route() {
    let _quiet = shared();
    let Some(env) = TestEnv::new("nover") else {
        return;
    };
    let net = Net::new(&env);
    let (a, _) = net.veth_pair();
    // a host route that only this test made
    ip_ok(&["route", "add", "10.254.77.0/24", "dev", &a]);
    let name = net.dev_name("hn");
    net.track_network(&name);
    for cidr in ["10.254.77.1/24", "10.254.77.129/25", "10.254.0.1/16"] {
        let o = env.hako(&["network", "create", &name, "--ipv4", cidr]);
        if cidr.ends_with("/16") {
            // (another test's network may be the first overlap found in 10.254/16)
            assert_clear_error(&o, &[&name, "overlaps", "--ipv4 auto"]);
        } else {
            assert_clear_error(
                &o,
                &[&name, "overlaps", "10.254.77.0/24", &a, "--ipv4 auto"],
            );
        }
        let o = env.hako(&["network", "ls"]);
        assert!(
            !o.stdout.contains(&name),
            "a refused network was defined:\n{}",
            o.stdout
        );
    }
    // bad CIDRs and names
    let o = env.hako(&["network", "create", &name, "--ipv4", "10.254.78.300/24"]);
    assert_clear_error(&o, &["10.254.78.300"]);
    let o = env.hako(&["network", "create", "abcdefghijklmnop"]);
    assert_clear_error(&o, &["abcdefghijklmnop", "15"]);
    // auto avoids the route
    env.hako(&["network", "create", &name, "--ipv4", "auto"])
        .assert_ok();
    let m = net.network(&name);
    assert!(
        !m.gw.starts_with("10.254.77."),
        "auto picked the routed subnet: {m:?}"
    );
    // a route that appears after create: the network refuses to come up, and says why
    ip_ok(&[
        "route",
        "add",
        &format!("{}0/{}", m.base, m.prefix),
        "dev",
        &a,
    ]);
    let o = env.hako(&["network", "up", &name]);
    assert_clear_error(&o, &[&name, "overlaps", &a]);
    assert!(!link_exists(&name), "a refused network left its bridge");
    env.hako(&["network", "rm", &name]).assert_ok();
}

#[test]
fn dnsmasq_missing_or_failing_fails_the_start_cleanly() {
    let _quiet = shared();
    let Some(env) = TestEnv::new("ndnsm") else {
        return;
    };
    let net = Net::new(&env);
    let m = net.create_network(&[]);
    let c = net.container_on(&m.name, "");
    // missing: HAKO_DNSMASQ names a program that is not there
    let missing = env.path("no/dnsmasq");
    let o = env.run(&["start", &c]).env("HAKO_DNSMASQ", &missing).run();
    assert_clear_error(
        &o,
        &[&c, &m.name, "not found", "apt-get install dnsmasq-base"],
    );
    net.assert_failed_start_left_nothing(&c, Some(&m.name));
    // the half-brought-up network was rolled back
    assert!(
        !link_exists(&m.name),
        "bridge left after dnsmasq was missing"
    );
    assert!(
        !nft_table_exists(&format!("hako_{}", m.name)),
        "nft table left after dnsmasq was missing"
    );
    let o = env
        .run(&["network", "up", &m.name])
        .env("HAKO_DNSMASQ", &missing)
        .run();
    assert_clear_error(&o, &[&m.name, "not found"]);
    assert!(!link_exists(&m.name));

    // failing: a dnsmasq that exits with an error at start
    let fake = env.write(
        "bin/dnsmasq",
        "#!/bin/sh\necho 'dnsmasq: failed to create listening socket: boom' >&2\nexit 2\n",
    );
    fs::set_permissions(&fake, fs::Permissions::from_mode(0o755)).unwrap();
    let o = env.run(&["start", &c]).env("HAKO_DNSMASQ", &fake).run();
    assert_clear_error(&o, &[&c, &m.name, "boom"]);
    net.assert_failed_start_left_nothing(&c, Some(&m.name));
    assert!(!link_exists(&m.name));
    assert!(!nft_table_exists(&format!("hako_{}", m.name)));

    // with the real one, it works
    env.start(&c);
    net.must_get_ip(&c, &m);
    env.kill(&c);
}

#[test]
fn dnsmasq_that_dies_is_reported_and_restarted_by_the_next_start() {
    let _quiet = shared();
    let Some(env) = TestEnv::new("ndied") else {
        return;
    };
    let net = Net::new(&env);
    let m = net.create_network(&[]);
    let a = net.container_on(&m.name, "");
    let b = net.container_on(&m.name, "");
    env.start(&a);
    net.must_get_ip(&a, &m);
    let pid = net.dnsmasq_pid(&m.name).expect("dnsmasq runs");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    assert!(wait_for(Duration::from_secs(3), || !pid_alive(pid)));
    // reported
    let o = env.hako(&["network", "show", &m.name]);
    o.assert_ok();
    assert!(
        o.stdout
            .lines()
            .any(|l| l.starts_with("dnsmasq:") && l.contains("not running")),
        "network show does not report the dead dnsmasq:\n{}",
        o.stdout
    );
    assert!(
        o.stdout
            .lines()
            .any(|l| l.starts_with("State:") && l.contains("degraded")),
        "{}",
        o.stdout
    );
    let o = env.hako(&["network", "ls"]);
    assert!(
        o.stdout
            .lines()
            .any(|l| l.starts_with(m.name.as_str()) && l.contains("degraded")),
        "{}",
        o.stdout
    );
    // restarted by the next start, which gets its address
    env.start(&b);
    let new = net
        .dnsmasq_pid(&m.name)
        .expect("the next start did not restart dnsmasq");
    assert_ne!(new, pid);
    assert_eq!(net.show(&m.name)["state"], "up");
    let ip_b = net.must_get_ip(&b, &m);
    // and names resolve again (the running container's too)
    let o = env.sh(&a, &format!("nslookup {b} {}", m.gw));
    assert!(o.stdout.contains(&format!("Address: {ip_b}")), "{o:?}");
    // network up repairs as well
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(new),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    assert!(wait_for(Duration::from_secs(3), || !pid_alive(new)));
    env.hako(&["network", "up", &m.name]).assert_ok();
    assert!(net.dnsmasq_pid(&m.name).is_some());
    env.kill(&a);
    env.kill(&b);
}

// ---------------------------------------------------------------------------------------
// Performance (recorded, not asserted)
// ---------------------------------------------------------------------------------------

const RUNS: usize = 15;

/// Until the container whose init is `pid` holds an IPv4 address starting with `base`.
fn time_to_address(pid: i32, base: &str, timeout: Duration) -> Option<Duration> {
    let t = Instant::now();
    while t.elapsed() < timeout {
        if netns_ipv4(pid).iter().any(|a| a.starts_with(base)) {
            return Some(t.elapsed());
        }
        thread::sleep(Duration::from_millis(2));
    }
    None
}

fn dnsmasq_user() -> &'static str {
    match fs::read_to_string("/etc/passwd") {
        Ok(s) if s.lines().any(|l| l.starts_with("dnsmasq:")) => "dnsmasq",
        _ => "nobody",
    }
}

#[test]
fn perf_start_stop_and_dhcp_vs_lxc() {
    let _quiet = exclusive();
    let Some(env) = TestEnv::new("nperf") else {
        return;
    };
    let net = Net::new(&env);
    let m = net.create_network(&[]);
    let c = net.container_on(&m.name, "");
    // warm up (brings the network up)
    env.start(&c);
    net.must_get_ip(&c, &m);
    env.kill(&c);
    let mut ss = Vec::new();
    for _ in 0..RUNS {
        let t = Instant::now();
        env.start(&c);
        env.kill(&c);
        ss.push(t.elapsed());
    }
    let hako_ss = median(&mut ss);
    let mut dhcp = Vec::new();
    for _ in 0..5 {
        env.start(&c);
        // from `start` returning: includes looking up the init pid, as for LXC below
        let t = Instant::now();
        let pid = env.init_pid(&c);
        time_to_address(pid, &m.base, DHCP_WAIT).expect("no DHCP address");
        dhcp.push(t.elapsed());
        env.kill(&c);
    }
    let hako_dhcp = median(&mut dhcp);
    report(&format!(
        "hako start + stop -k, one veth on a managed bridge: median {} of {RUNS}",
        ms(hako_ss)
    ));
    report(&format!(
        "hako start returned -> DHCP address held: median {} of 5 ({:?})",
        ms(hako_dhcp),
        dhcp.iter().map(|d| ms(*d)).collect::<Vec<_>>()
    ));

    // LXC with an lxcbr0-like setup: own bridge, lxc-net's dnsmasq command line
    if Run::new("sh")
        .args(["-c", "command -v lxc-start"])
        .run()
        .code()
        != 0
    {
        report("LXC not installed: no comparison");
        return;
    }
    let br = format!("hkt{}br", std::process::id());
    assert!(br.len() <= 15);
    ip_ok(&["link", "add", &br, "type", "bridge"]);
    net.links.lock().unwrap().push(br.clone());
    let sub = format!("10.253.{}.", std::process::id() % 250);
    assert!(
        !ip(&["route"]).stdout.contains(&sub),
        "{sub}0/24 is routed on this host already"
    );
    ip_ok(&["addr", "add", &format!("{sub}1/24"), "dev", &br]);
    ip_ok(&["link", "set", &br, "up"]);
    let ddir = env.path("lxc-dnsmasq");
    fs::create_dir_all(&ddir).unwrap();
    fs::set_permissions(&ddir, fs::Permissions::from_mode(0o755)).unwrap();
    let pidf = ddir.join("pid");
    let o = Run::new("dnsmasq")
        .args([
            "--conf-file=/dev/null",
            "-u",
            dnsmasq_user(),
            "--strict-order",
            "--bind-interfaces",
            &format!("--pid-file={}", pidf.display()),
            "--listen-address",
            &format!("{sub}1"),
            "--dhcp-range",
            &format!("{sub}2,{sub}254"),
            "--dhcp-lease-max=253",
            "--dhcp-no-override",
            "--except-interface=lo",
            &format!("--interface={br}"),
            &format!("--dhcp-leasefile={}", ddir.join("leases").display()),
            "--dhcp-authoritative",
        ])
        .run();
    o.assert_ok();
    let dpid: i32 = wait_for(Duration::from_secs(2), || pidf.exists())
        .then(|| fs::read_to_string(&pidf).unwrap().trim().parse().unwrap())
        .expect("LXC's dnsmasq wrote no pid file");
    net.pids.lock().unwrap().push(dpid);
    let lp = env.path("lxc");
    fs::create_dir_all(&lp).unwrap();
    let lps = lp.to_string_lossy().into_owned();
    let lname = env.token("l");
    let lcfg = env.write(
        "lxc-net.conf",
        &format!("lxc.net.0.type = veth\nlxc.net.0.link = {br}\nlxc.net.0.flags = up\nlxc.net.0.hwaddr = 00:16:3e:xx:xx:xx\n"),
    );
    net.lxc.lock().unwrap().push((lp.clone(), lname.clone()));
    Run::new("lxc-create")
        .args([
            "-P",
            &lps,
            "-n",
            &lname,
            "-t",
            "busybox",
            "-f",
            lcfg.to_str().unwrap(),
        ])
        .timeout(Duration::from_secs(120))
        .run()
        .assert_ok();
    let lxc_start = || {
        Run::new("lxc-start")
            .args(["-P", &lps, "-n", &lname, "-d"])
            .run()
            .assert_ok()
            .elapsed
    };
    let lxc_stop = || {
        Run::new("lxc-stop")
            .args(["-P", &lps, "-n", &lname, "-k"])
            .run()
            .assert_ok()
            .elapsed
    };
    lxc_start();
    lxc_stop();
    let mut lss = Vec::new();
    for _ in 0..RUNS {
        let t = Instant::now();
        lxc_start();
        lxc_stop();
        lss.push(t.elapsed());
    }
    let lxc_ss = median(&mut lss);
    let mut ldhcp = Vec::new();
    for _ in 0..5 {
        lxc_start();
        let t = Instant::now();
        let o = Run::new("lxc-info")
            .args(["-P", &lps, "-n", &lname, "-p", "-H"])
            .run();
        let pid: i32 = o
            .out()
            .parse()
            .unwrap_or_else(|_| panic!("lxc-info -p: {o:?}"));
        match time_to_address(pid, &sub, Duration::from_secs(20)) {
            Some(_) => ldhcp.push(t.elapsed()),
            None => report("LXC container got no DHCP address within 20 s"),
        }
        lxc_stop();
    }
    report(&format!(
        "LXC lxc-start -d + lxc-stop -k, one veth on a bridge: median {} of {RUNS}; hako is {:.2}x faster",
        ms(lxc_ss),
        lxc_ss.as_secs_f64() / hako_ss.as_secs_f64()
    ));
    if !ldhcp.is_empty() {
        let l = median(&mut ldhcp);
        report(&format!(
            "LXC lxc-start returned -> DHCP address held (lxc-net's dnsmasq, with its ping check): median {} of {} ({:?}); hako/LXC = {:.2}",
            ms(l),
            ldhcp.len(),
            ldhcp.iter().map(|d| ms(*d)).collect::<Vec<_>>(),
            hako_dhcp.as_secs_f64() / l.as_secs_f64()
        ));
    }
}

#[test]
fn hundred_containers_started_concurrently_get_distinct_addresses() {
    let _quiet = exclusive();
    let Some(env) = TestEnv::new("n100") else {
        return;
    };
    let net = Net::new(&env);
    let m = net.create_network(&[]);
    const N: usize = 100;
    const THREADS: usize = 8;
    let extra = env.write(
        "n100.conf",
        &format!(
            "lxc.net.0.type = veth\nlxc.net.0.link = {}\nlxc.net.0.flags = up\n",
            m.name
        ),
    );
    let names: Vec<String> = (0..N).map(|_| env.name()).collect();
    // run `f` on every name with THREADS threads; the time it took
    let par = |f: &(dyn Fn(&str) + Sync)| {
        let next = AtomicUsize::new(0);
        let t = Instant::now();
        thread::scope(|s| {
            for _ in 0..THREADS {
                s.spawn(|| loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= names.len() {
                        break;
                    }
                    f(&names[i]);
                });
            }
        });
        t.elapsed()
    };
    let t_create = par(&|n| {
        env.hako(&["create", n, "-t", "busybox", "-f", extra.to_str().unwrap()])
            .assert_ok();
    });
    // the network is down: the first starts race to bring it up
    let t0 = Instant::now();
    let t_start = par(&|n| {
        env.start(n);
    });
    // every container holds an address in the subnet
    let ips: Arc<Mutex<BTreeMap<String, String>>> = Arc::new(Mutex::new(BTreeMap::new()));
    let t_ips = par(&|n| {
        let ip = env
            .wait_ipv4(n, &m.base, Duration::from_secs(60))
            .unwrap_or_else(|| {
                panic!("container {n} got no address within 60 s of the others' start")
            });
        ips.lock().unwrap().insert(n.to_string(), ip);
    });
    let all_addressed = t0.elapsed();
    let ips = ips.lock().unwrap().clone();
    assert_eq!(ips.len(), N);
    let distinct: BTreeSet<&String> = ips.values().collect();
    assert_eq!(distinct.len(), N, "addresses are not distinct: {ips:?}");
    for ip in ips.values() {
        assert!(
            ip.starts_with(&m.base) && *ip != m.gw,
            "{ip} is not a pool address of {m:?}"
        );
    }
    // the leases agree
    let leases = env.hako(&["network", "leases", &m.name, "--format", "json"]);
    leases.assert_ok();
    let lj: serde_json::Value = serde_json::from_str(&leases.stdout).unwrap();
    let leased: BTreeSet<String> = lj
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["ip"].as_str().unwrap().to_string())
        .collect();
    for ip in ips.values() {
        assert!(leased.contains(ip), "{ip} is not among dnsmasq's leases");
    }
    let t_stop = par(&|n| env.kill(n));
    let t_destroy = par(&|n| {
        env.hako(&["destroy", n]).assert_ok();
    });
    report(&format!(
        "{N} containers on one managed network, {THREADS} threads: create {:.1} s, start {:.1} s, all addressed {:.1} s after the first start (wait phase {:.1} s), {} distinct addresses, stop -k {:.1} s, destroy {:.1} s",
        t_create.as_secs_f64(),
        t_start.as_secs_f64(),
        all_addressed.as_secs_f64(),
        t_ips.as_secs_f64(),
        distinct.len(),
        t_stop.as_secs_f64(),
        t_destroy.as_secs_f64()
    ));
    env.hako(&["network", "rm", &m.name]).assert_ok();
}
