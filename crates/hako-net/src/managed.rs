//! Managed networks: a persistent definition (`<state_dir>/networks/NAME.json`) and, brought up
//! on demand, a Linux bridge with the host address, an nftables table `inet hako_NAME`
//! (masquerade and forwarding for the subnet, DNS/DHCP accepted from the bridge) and a dnsmasq
//! instance for DHCP and DNS. Runtime files live in `<run_dir>/net/NAME/`:
//!
//! * `dnsmasq.pid`, `leases` — dnsmasq's pid and lease files;
//! * `hosts.d/<ip>` — one `IP NAME` line per container with a static address (`--hostsdir`,
//!   read by dnsmasq through inotify: no signal, no lock needed; the file name reserves the IP);
//! * `dhcp-hosts.d/<name>` — `MAC,NAME` so a DHCP container's name resolves even when its
//!   client sends no hostname (`--dhcp-hostsdir`).
//!
//! The fast path of [`Networks::up`] (everything already up) is a few netlink requests and a
//! look at /proc: no subprocess. `nft` runs only when the table is missing, dnsmasq only when
//! it is not running.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hako_config::read::{read_bounded_nofollow, read_bounded_text, LINE_LIMIT, STATE_LIMIT};
use netlink_sys::{protocols::NETLINK_NETFILTER, Socket, SocketAddr};
use serde::{Deserialize, Serialize};

use crate::error::{NetError, Result};
use crate::names::{format_mac, validate_ifname, Ipv4Net, Ipv6Net};
use crate::netlink::Netlink;

/// Default state directory (definitions live in `<state_dir>/networks/`).
pub const DEFAULT_STATE_DIR: &str = "/var/lib/hako";
/// Default runtime directory (per-network files live in `<run_dir>/net/NAME/`).
pub const DEFAULT_RUN_DIR: &str = "/run/hako";
/// The managed network new containers use by default.
pub const DEFAULT_NETWORK: &str = "hakobr0";
/// DHCP lease time handed out by dnsmasq.
pub const LEASE_TIME: &str = "1h";

/// A managed network's persistent definition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkDef {
    pub name: String,
    /// The Linux bridge; same as `name`.
    pub bridge: String,
    /// The bridge's (host's) address and the subnet's prefix, e.g. `10.47.3.1/24`.
    pub ipv4: Option<Ipv4Net>,
    pub ipv6: Option<Ipv6Net>,
    /// Masquerade traffic from the subnet leaving through other interfaces.
    pub nat: bool,
    /// Serve DHCP (IPv4 leases; router advertisements for IPv6).
    pub dhcp: bool,
    /// DNS domain for container names (`c1.<domain>`), also handed out by DHCP.
    pub dns_domain: Option<String>,
}

impl NetworkDef {
    /// nftables table name: `hako_<name>`.
    pub fn nft_table(&self) -> String {
        format!("hako_{}", self.name)
    }
    /// Whether a dnsmasq runs for this network (it has an address to serve DNS on).
    pub fn wants_dnsmasq(&self) -> bool {
        self.ipv4.is_some() || self.ipv6.is_some()
    }
    /// Whether an nftables table is installed (any address: input rules for DNS/DHCP,
    /// forwarding, and masquerade when `nat`).
    pub fn wants_nft(&self) -> bool {
        self.ipv4.is_some() || self.ipv6.is_some()
    }
    /// The IPv4 DHCP pool, `(first, last)`: the larger run of addresses on either side of
    /// the host address. None for subnets too small to have one.
    pub fn dhcp_pool(&self) -> Option<(Ipv4Addr, Ipv4Addr)> {
        let n = self.ipv4?;
        if n.prefix > 30 {
            return None;
        }
        let (first, last) = n.hosts();
        let (f, l, h) = (u32::from(first), u32::from(last), u32::from(n.addr));
        let below = h.saturating_sub(f);
        let above = l.saturating_sub(h);
        let (a, b) = if above >= below {
            (h + 1, l)
        } else {
            (f, h - 1)
        };
        if a > b {
            return None;
        }
        Some((Ipv4Addr::from(a), Ipv4Addr::from(b)))
    }
}

/// How `create` picks the IPv4 subnet.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Ipv4Choice {
    /// A free private 10.x.y.0/24 that overlaps no host route or address and no other
    /// managed network; the bridge gets `.1`.
    #[default]
    Auto,
    /// This host address and prefix, e.g. `10.47.3.1/24`.
    Cidr(Ipv4Net),
    /// No IPv4 on the bridge.
    None,
}

/// Options of `hako network create`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreateNetOpts {
    pub ipv4: Ipv4Choice,
    pub ipv6: Option<Ipv6Net>,
    pub nat: bool,
    pub dhcp: bool,
    pub dns_domain: Option<String>,
}

impl Default for CreateNetOpts {
    fn default() -> Self {
        CreateNetOpts {
            ipv4: Ipv4Choice::Auto,
            ipv6: None,
            nat: true,
            dhcp: true,
            dns_domain: None,
        }
    }
}

/// What is up of a managed network.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkStatus {
    pub name: String,
    pub bridge: String,
    pub bridge_exists: bool,
    pub bridge_up: bool,
    /// The definition's addresses are all on the bridge.
    pub addresses_ok: bool,
    pub nft_wanted: bool,
    pub nft_table: bool,
    pub dnsmasq_wanted: bool,
    /// Pid of the network's running dnsmasq; None when it is not running (dead or never
    /// started).
    pub dnsmasq_pid: Option<i32>,
    /// Devices attached to the bridge (filled by `status`, empty from `up`).
    pub interfaces: Vec<String>,
    /// Everything the definition asks for is present and running.
    pub up: bool,
}

/// One DHCP lease from dnsmasq's lease file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// Expiry time in seconds since the epoch; 0 for infinite leases.
    pub expiry: u64,
    /// The client's MAC address (IPv4) or IAID (IPv6).
    pub mac: String,
    pub ip: IpAddr,
    pub hostname: Option<String>,
    pub client_id: Option<String>,
}

/// A name registered for DNS on a network (static address or MAC binding).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostEntry {
    pub hostname: String,
    pub ip: IpAddr,
    /// who registered it (see [`Networks::register_host`]); None: an entry of an older
    /// hako, owned by its host name
    pub owner: Option<String>,
}

impl HostEntry {
    /// Was this entry made by `owner` (for host name `hostname`)?
    fn is_owned_by(&self, owner: &str, hostname: &str) -> bool {
        match &self.owner {
            Some(o) => o == owner,
            None => self.hostname == hostname,
        }
    }
}

/// The marker that records an entry's owner in a hosts file line (a comment to dnsmasq).
const OWNER_MARK: &str = "# hako-owner=";

/// An owner token names one container across lxcpaths; it is also a file name.
fn validate_owner(owner: &str) -> Result<()> {
    if owner.is_empty()
        || owner.len() > 64
        || !owner
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        || owner.starts_with('.')
    {
        return Err(NetError::invalid(
            "registration owner",
            owner,
            "it must be 1-64 letters, digits, '-', '_' or '.', not starting with '.'",
            "pass the container's owner token (hako derives it from the lxcpath and name)",
        ));
    }
    Ok(())
}

/// Parse dnsmasq's lease file text (`EXPIRY MAC IP HOSTNAME CLIENTID` lines, `*` for none;
/// IPv6 leases follow a `duid` line). Malformed lines are skipped.
pub fn parse_leases(text: &str) -> Vec<Lease> {
    let opt = |s: Option<&str>| s.filter(|v| *v != "*" && !v.is_empty()).map(String::from);
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let expiry = f.next()?;
            if expiry == "duid" {
                return None;
            }
            let expiry = expiry.parse().ok()?;
            let mac = f.next()?.to_string();
            let ip = f.next()?.parse().ok()?;
            Some(Lease {
                expiry,
                mac,
                ip,
                hostname: opt(f.next()),
                client_id: opt(f.next()),
            })
        })
        .collect()
}

/// Check a managed network name: it is also the bridge's name and part of the nftables table
/// name, so 1 to 15 characters from `[A-Za-z0-9_.-]`, starting with a letter.
pub fn validate_network_name(name: &str) -> Result<()> {
    let bad = |reason: &str| {
        Err(NetError::invalid(
            "network name",
            name,
            reason,
            "use 1 to 15 letters, digits, '_', '-' or '.', starting with a letter, e.g. hakobr1",
        ))
    };
    if name.is_empty() {
        return bad("it is empty");
    }
    if name.len() > 15 {
        return bad("it is longer than 15 characters (it is also the bridge's device name)");
    }
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return bad("it does not start with a letter");
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return bad("it contains a character other than letters, digits, '_', '-' and '.'");
    }
    validate_ifname(name)
}

/// Check a DNS name (hostname or domain): dot-separated labels of letters, digits and '-'.
pub fn validate_dns_name(what: &'static str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if ok {
        Ok(())
    } else {
        Err(NetError::invalid(
            what,
            name,
            "it is not a valid DNS name",
            "use labels of letters, digits and '-' separated by dots, e.g. web1 or lan.example",
        ))
    }
}

/// Pick a free `10.x.y.1/24` for network `name`: the first /24 not overlapping any of
/// `used` (host routes and addresses, other networks' subnets; default routes must be left
/// out by the caller), starting at a point derived from the name so that different networks
/// tend to get different subnets.
pub fn pick_subnet(name: &str, used: &[(IpAddr, u8)]) -> Option<Ipv4Net> {
    let mut h: u32 = 2166136261;
    for b in name.bytes() {
        h = (h ^ u32::from(b)).wrapping_mul(16777619);
    }
    // 10.1.0.0 .. 10.254.255.0 : 254 * 256 candidates
    const N: u32 = 254 * 256;
    let start = h % N;
    (0..N).map(|i| (start + i) % N).find_map(|k| {
        let cand = Ipv4Net {
            addr: Ipv4Addr::new(10, (1 + k / 256) as u8, (k % 256) as u8, 1),
            prefix: 24,
        };
        (!used.iter().any(|(ip, p)| cand.overlaps(*ip, *p))).then_some(cand)
    })
}

/// The nftables ruleset (for `nft -f -`) that (re)creates the network's table atomically:
/// `add` + `delete` first so an existing table is replaced, not merged.
pub fn nft_ruleset(def: &NetworkDef) -> String {
    let t = def.nft_table();
    let br = &def.bridge;
    let mut s = format!("add table inet {t}\ndelete table inet {t}\ntable inet {t} {{\n");
    if def.nat && (def.ipv4.is_some() || def.ipv6.is_some()) {
        s += "\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n";
        if let Some(n) = def.ipv4 {
            let sub = n.subnet();
            s += &format!("\t\tip saddr {sub} ip daddr != {sub} masquerade\n");
        }
        if let Some(n) = def.ipv6 {
            let sub = n.subnet();
            s += &format!("\t\tip6 saddr {sub} ip6 daddr != {sub} masquerade\n");
        }
        s += "\t}\n";
    }
    s += "\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n";
    s += &format!("\t\tiifname \"{br}\" accept\n\t\toifname \"{br}\" accept\n\t}}\n");
    s += "\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n";
    s += &format!("\t\tiifname \"{br}\" udp dport {{ 53, 67, 547 }} accept\n");
    s += &format!("\t\tiifname \"{br}\" tcp dport 53 accept\n\t}}\n}}\n");
    s
}

/// Files of a network's dnsmasq.
#[derive(Clone, Debug)]
pub struct DnsmasqPaths {
    pub pid_file: PathBuf,
    pub lease_file: PathBuf,
    pub hosts_dir: PathBuf,
    pub dhcp_hosts_dir: PathBuf,
}

impl DnsmasqPaths {
    fn new(run: &Path) -> Self {
        DnsmasqPaths {
            pid_file: run.join("dnsmasq.pid"),
            lease_file: run.join("leases"),
            hosts_dir: run.join("hosts.d"),
            dhcp_hosts_dir: run.join("dhcp-hosts.d"),
        }
    }
}

/// dnsmasq's command line for `def` (without the program name). `user` is the account
/// dnsmasq drops to after binding its sockets.
pub fn dnsmasq_args(def: &NetworkDef, p: &DnsmasqPaths, user: &str) -> Vec<String> {
    let br = &def.bridge;
    let path = |p: &Path| p.display().to_string();
    let mut a = vec![
        "--conf-file=/dev/null".to_string(),
        "--strict-order".into(),
        "--bind-interfaces".into(),
        "--except-interface=lo".into(),
        format!("--interface={br}"),
    ];
    if let Some(n) = def.ipv4 {
        a.push(format!("--listen-address={}", n.addr));
    }
    if let Some(n) = def.ipv6 {
        a.push(format!("--listen-address={}", n.addr));
    }
    a.push(format!("--pid-file={}", path(&p.pid_file)));
    a.push(format!("--user={user}"));
    a.push("--no-hosts".into());
    a.push(format!("--hostsdir={}", path(&p.hosts_dir)));
    a.push("--domain-needed".into());
    if def.dhcp {
        if let Some((first, last)) = def.dhcp_pool() {
            let n = def.ipv4.unwrap_or(Ipv4Net {
                addr: first,
                prefix: 24,
            });
            a.push(format!(
                "--dhcp-range={first},{last},{},{LEASE_TIME}",
                n.netmask()
            ));
            a.push(format!(
                "--dhcp-lease-max={}",
                u32::from(last) - u32::from(first) + 1
            ));
            // No ICMP probe before an offer: it costs 3 s per new client. Addresses of
            // containers with static addresses are kept out of the pool by their
            // dhcp-hosts.d entries instead.
            a.push("--no-ping".into());
            a.push("--dhcp-authoritative".into());
            a.push("--dhcp-no-override".into());
            a.push(format!("--dhcp-hostsdir={}", path(&p.dhcp_hosts_dir)));
        }
        if def.ipv6.is_some() {
            a.push("--enable-ra".into());
            a.push(format!(
                "--dhcp-range=::,constructor:{br},ra-stateless,ra-names"
            ));
        }
        a.push(format!("--dhcp-leasefile={}", path(&p.lease_file)));
    }
    if let Some(d) = &def.dns_domain {
        a.push(format!("--domain={d}"));
        a.push(format!("--local=/{d}/"));
        a.push("--expand-hosts".into());
    }
    a
}

/// Managed networks: definitions under `<state_dir>/networks/`, runtime under
/// `<run_dir>/net/`. Every operation acts in the calling thread's network namespace, which
/// must be the host's. Changes (create, up, down, remove) are serialised between processes
/// by a flock on `<state_dir>/networks/`; `up` of a network that is already up takes no lock.
#[derive(Clone, Debug)]
pub struct Networks {
    defs_dir: PathBuf,
    run_root: PathBuf,
    dnsmasq: PathBuf,
    nft: PathBuf,
}

fn io_err(op: impl Into<String>, e: io::Error, remedy: impl Into<String>) -> NetError {
    NetError::io(op, e, remedy)
}

/// Write `data` to `path` atomically (temporary file + rename), mode 0644.
fn write_atomic(path: &Path, data: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o644)
            .open(&tmp)?;
        f.write_all(data)?;
    }
    fs::rename(&tmp, path).inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })
}

fn mkdir_755(p: &Path) -> io::Result<()> {
    fs::create_dir_all(p)?;
    fs::set_permissions(p, fs::Permissions::from_mode(0o755))
}

/// Find an external program: as given if it has a '/', else on PATH or in the sbin
/// directories (root's tools are there even when PATH lacks them).
fn find_tool(name: &Path) -> Option<PathBuf> {
    if name.components().count() > 1 {
        return name.is_file().then(|| name.to_path_buf());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(
            ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
                .iter()
                .map(PathBuf::from),
        )
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Does an nftables table `inet <name>` exist? Asked over NETLINK_NETFILTER (NFT_MSG_GETTABLE),
/// no `nft` subprocess.
pub fn nft_table_exists(name: &str) -> io::Result<bool> {
    const NFNL_SUBSYS_NFTABLES: u16 = 10;
    const NFT_MSG_NEWTABLE: u16 = 0;
    const NFT_MSG_GETTABLE: u16 = 1;
    const NFPROTO_INET: u8 = 1;
    const NFTA_TABLE_NAME: u16 = 1;
    let mut sock = Socket::new(NETLINK_NETFILTER)?;
    sock.bind_auto()?;
    sock.connect(&SocketAddr::new(0, 0))?;
    let mut attr = name.as_bytes().to_vec();
    attr.push(0);
    let alen = 4 + attr.len();
    let total = 16 + 4 + ((alen + 3) & !3);
    let mut m = Vec::with_capacity(total);
    m.extend_from_slice(&(total as u32).to_ne_bytes());
    m.extend_from_slice(&((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETTABLE).to_ne_bytes());
    m.extend_from_slice(&(libc::NLM_F_REQUEST as u16 | libc::NLM_F_ACK as u16).to_ne_bytes());
    m.extend_from_slice(&1u32.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    m.extend_from_slice(&[NFPROTO_INET, 0, 0, 0]); // nfgenmsg: family, version, res_id
    m.extend_from_slice(&(alen as u16).to_ne_bytes());
    m.extend_from_slice(&NFTA_TABLE_NAME.to_ne_bytes());
    m.extend_from_slice(&attr);
    m.resize(total, 0);
    sock.send(&m, 0)?;
    let mut found = false;
    let mut buf = vec![0u8; 16384];
    loop {
        let n = sock.recv(&mut &mut buf[..], 0)?;
        let mut off = 0;
        while off + 16 <= n {
            let len = u32::from_ne_bytes(buf[off..off + 4].try_into().unwrap()) as usize;
            let typ = u16::from_ne_bytes([buf[off + 4], buf[off + 5]]);
            if len < 16 || off + len > n {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "malformed nfnetlink answer",
                ));
            }
            if typ == 2 {
                let code = i32::from_ne_bytes(buf[off + 16..off + 20].try_into().unwrap());
                return match code {
                    0 => Ok(found),
                    c if c == -libc::ENOENT => Ok(false),
                    c => Err(io::Error::from_raw_os_error(-c)),
                };
            }
            if typ == (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWTABLE {
                found = true;
            }
            off += (len + 3) & !3;
        }
    }
}

/// Is `pid` a live dnsmasq started with `--pid-file=<pid_file>`?
fn dnsmasq_is_ours(pid: i32, pid_file: &Path) -> bool {
    let Ok(cmd) = fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let want = format!("--pid-file={}", pid_file.display());
    let mut args = cmd.split(|b| *b == 0);
    let prog = args.next().unwrap_or_default();
    prog.ends_with(b"dnsmasq") && args.any(|a| a == want.as_bytes())
}

/// Has process `pid` finished exiting (gone, or a zombie)? Its sockets are closed only then;
/// an empty /proc/PID/cmdline comes earlier in the kernel's exit path.
fn proc_exited(pid: i32) -> bool {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return true;
    };
    match stat
        .rfind(')')
        .and_then(|i| stat[i + 1..].split_whitespace().next())
    {
        Some(state) => state == "Z" || state == "X",
        None => true,
    }
}

fn read_pid(pid_file: &Path) -> Option<i32> {
    String::from_utf8(read_bounded_nofollow(pid_file, LINE_LIMIT).ok()?)
        .ok()?
        .trim()
        .parse()
        .ok()
        .filter(|p| *p > 0)
}

/// The account dnsmasq drops privileges to: Debian's `dnsmasq` user if present, else nobody.
fn dnsmasq_user() -> &'static str {
    match fs::read_to_string("/etc/passwd") {
        Ok(s) if s.lines().any(|l| l.starts_with("dnsmasq:")) => "dnsmasq",
        _ => "nobody",
    }
}

/// Holds the flock on the definitions directory until dropped.
struct NetLock {
    _file: File,
}

impl Networks {
    /// Networks with definitions in `<state_dir>/networks/` and runtime files in
    /// `<run_dir>/net/`. Nothing is touched until a method needs it.
    pub fn open(state_dir: &Path, run_dir: &Path) -> Networks {
        Networks {
            defs_dir: state_dir.join("networks"),
            run_root: run_dir.join("net"),
            dnsmasq: PathBuf::from("dnsmasq"),
            nft: PathBuf::from("nft"),
        }
    }

    /// Use another dnsmasq program (a path or a name looked up on PATH).
    pub fn with_dnsmasq(mut self, program: impl Into<PathBuf>) -> Self {
        self.dnsmasq = program.into();
        self
    }

    /// Use another nft program (a path or a name looked up on PATH).
    pub fn with_nft(mut self, program: impl Into<PathBuf>) -> Self {
        self.nft = program.into();
        self
    }

    fn def_path(&self, name: &str) -> PathBuf {
        self.defs_dir.join(format!("{name}.json"))
    }

    /// The runtime directory these networks were opened with (their files are under
    /// `RUN_DIR/net/NAME`).
    pub fn run_dir(&self) -> PathBuf {
        self.run_root
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    }

    /// `<run_dir>/net/NAME`.
    pub fn run_path(&self, name: &str) -> PathBuf {
        self.run_root.join(name)
    }

    pub fn dnsmasq_paths(&self, name: &str) -> DnsmasqPaths {
        DnsmasqPaths::new(&self.run_path(name))
    }

    /// One lock for all changes to networks (create, remove, up, down): flock on the
    /// definitions directory.
    fn lock(&self) -> Result<NetLock> {
        mkdir_755(&self.defs_dir).map_err(|e| {
            io_err(
                format!(
                    "create the network definitions directory {}",
                    self.defs_dir.display()
                ),
                e,
                "run hako as root or choose another state directory",
            )
        })?;
        let f = File::open(&self.defs_dir).map_err(|e| {
            io_err(
                format!("open {}", self.defs_dir.display()),
                e,
                "run hako as root",
            )
        })?;
        loop {
            // SAFETY: flock on an fd we own; no memory is passed.
            let r = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) };
            if r == 0 {
                return Ok(NetLock { _file: f });
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(io_err(
                    format!("lock {}", self.defs_dir.display()),
                    e,
                    "check the file system",
                ));
            }
        }
    }

    /// Definition of network `name`, None if there is none.
    pub fn get(&self, name: &str) -> Result<Option<NetworkDef>> {
        validate_network_name(name)?;
        let p = self.def_path(name);
        // a regular file of bounded size: a FIFO or a device there is refused, not read
        let text = match read_bounded_text(&p, STATE_LIMIT).map_err(io::Error::from) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                let remedy = if e.kind() == io::ErrorKind::InvalidData {
                    format!("remove it and run \"hako network create {name}\" again")
                } else {
                    "run hako as root".to_string()
                };
                return Err(io_err(
                    format!("read network definition {}", p.display()),
                    e,
                    remedy,
                ));
            }
        };
        serde_json::from_str(&text).map(Some).map_err(|e| {
            NetError::failed(
                format!("read network definition {}", p.display()),
                format!("it is not valid: {e}"),
                format!("fix the file or remove it and run \"hako network create {name}\" again"),
            )
        })
    }

    fn need(&self, name: &str) -> Result<NetworkDef> {
        self.get(name)?.ok_or_else(|| NetError::Failed {
            op: format!("use network \"{name}\""),
            cause: "no such managed network".into(),
            remedy: format!(
                "create it with \"hako network create {name}\" (see \"hako network ls\")"
            ),
        })
    }

    /// All definitions, sorted by name.
    pub fn list(&self) -> Result<Vec<NetworkDef>> {
        let rd = match fs::read_dir(&self.defs_dir) {
            Ok(r) => r,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(io_err(
                    format!("list {}", self.defs_dir.display()),
                    e,
                    "run hako as root",
                ))
            }
        };
        let mut names: Vec<String> = rd
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                e.file_name()
                    .to_str()?
                    .strip_suffix(".json")
                    .map(String::from)
            })
            .filter(|n| validate_network_name(n).is_ok())
            .collect();
        names.sort();
        let mut out = Vec::new();
        for n in names {
            if let Some(d) = self.get(&n)? {
                out.push(d);
            }
        }
        Ok(out)
    }

    /// Subnets in use on the host (routes other than default routes, addresses), except
    /// those on `skip_dev`.
    fn host_prefixes(skip_dev: Option<&str>) -> Result<Vec<(IpAddr, u8, String)>> {
        let mut nl = Netlink::new()?;
        let mut used = Vec::new();
        for r in nl.routes()? {
            if r.prefix == 0
                || r.dst.is_loopback()
                || r.dev.as_deref() == skip_dev && skip_dev.is_some()
            {
                continue;
            }
            if let IpAddr::V6(v6) = r.dst {
                // link-local and multicast routes exist on every IPv6 interface
                if (v6.segments()[0] & 0xffc0) == 0xfe80 || v6.segments()[0] >> 8 == 0xff {
                    continue;
                }
            }
            let dev = r.dev.map(|d| format!(" dev {d}")).unwrap_or_default();
            used.push((
                r.dst,
                r.prefix,
                format!("host route {}/{}{dev}", r.dst, r.prefix),
            ));
        }
        for a in nl.addresses(None)? {
            if a.addr.is_loopback() || Some(a.link.as_str()) == skip_dev {
                continue;
            }
            if let IpAddr::V6(v6) = a.addr {
                if (v6.segments()[0] & 0xffc0) == 0xfe80 {
                    continue;
                }
            }
            used.push((
                a.addr,
                a.prefix,
                format!("host address {}/{} on {}", a.addr, a.prefix, a.link),
            ));
        }
        Ok(used)
    }

    /// Create (define) network `name`. Nothing is brought up; see [`Networks::up`].
    pub fn create(&self, name: &str, opts: CreateNetOpts) -> Result<NetworkDef> {
        validate_network_name(name)?;
        let _l = self.lock()?;
        self.create_locked(name, opts)
    }

    /// The definition of `name`, created with `opts` if it does not exist yet (for the
    /// default network, created on first use).
    pub fn get_or_create(&self, name: &str, opts: CreateNetOpts) -> Result<NetworkDef> {
        validate_network_name(name)?;
        if let Some(d) = self.get(name)? {
            return Ok(d);
        }
        let _l = self.lock()?;
        if let Some(d) = self.get(name)? {
            return Ok(d);
        }
        self.create_locked(name, opts)
    }

    fn create_locked(&self, name: &str, opts: CreateNetOpts) -> Result<NetworkDef> {
        let op = || format!("create network \"{name}\"");
        if self.get(name)?.is_some() {
            return Err(NetError::failed(
                op(),
                "a network with that name already exists",
                format!("choose another name, or remove it first with \"hako network rm {name}\""),
            ));
        }
        if let Some(d) = &opts.dns_domain {
            validate_dns_name("DNS domain", d)?;
        }
        let mut nl = Netlink::new()?;
        if nl.link_index(name)?.is_some() {
            return Err(NetError::failed(
                op(),
                format!("the host already has a network device named \"{name}\""),
                "choose another network name (hako will not take over a device it did not create)",
            ));
        }
        let host = Self::host_prefixes(None)?;
        let others = self.list()?;
        let mut used: Vec<(IpAddr, u8, String)> = host;
        for o in &others {
            if let Some(n) = o.ipv4 {
                used.push((
                    IpAddr::V4(n.network()),
                    n.prefix,
                    format!("network \"{}\" ({})", o.name, n.subnet()),
                ));
            }
            if let Some(n) = o.ipv6 {
                used.push((
                    IpAddr::V6(n.network()),
                    n.prefix,
                    format!("network \"{}\" ({})", o.name, n.subnet()),
                ));
            }
        }
        let overlap = |ip: IpAddr, p: u8| {
            used.iter()
                .find(|(uip, up, _)| crate::names::prefixes_overlap(ip, p, *uip, *up))
                .map(|(_, _, what)| what.clone())
        };
        let ipv4 = match opts.ipv4 {
            Ipv4Choice::None => None,
            Ipv4Choice::Auto => {
                let plain: Vec<(IpAddr, u8)> = used.iter().map(|(i, p, _)| (*i, *p)).collect();
                Some(pick_subnet(name, &plain).ok_or_else(|| {
                    NetError::failed(
                        op(),
                        "no free 10.x.y.0/24 subnet is left on this host",
                        "give one with --ipv4 CIDR",
                    )
                })?)
            }
            Ipv4Choice::Cidr(n) => {
                check_host_address_v4(name, n)?;
                if let Some(what) = overlap(IpAddr::V4(n.addr), n.prefix) {
                    return Err(NetError::failed(
                        format!("create network \"{name}\" with {n}"),
                        format!("the subnet {} overlaps the {what}", n.subnet()),
                        "let hako pick a free subnet with --ipv4 auto, or give another CIDR",
                    ));
                }
                Some(n)
            }
        };
        if let Some(n) = opts.ipv6 {
            if n.addr == n.network() && n.prefix < 127 {
                return Err(NetError::invalid(
                    "IPv6 bridge address",
                    n.to_string(),
                    "it is the subnet's own address, not a host address",
                    format!(
                        "give the bridge's address, e.g. {}1/{}",
                        n.network(),
                        n.prefix
                    ),
                ));
            }
            if let Some(what) = overlap(IpAddr::V6(n.addr), n.prefix) {
                return Err(NetError::failed(
                    format!("create network \"{name}\" with {n}"),
                    format!("the subnet {} overlaps the {what}", n.subnet()),
                    "give another IPv6 CIDR, or --ipv6 none",
                ));
            }
        }
        let def = NetworkDef {
            name: name.to_string(),
            bridge: name.to_string(),
            ipv4,
            ipv6: opts.ipv6,
            nat: opts.nat,
            dhcp: opts.dhcp,
            dns_domain: opts.dns_domain,
        };
        let p = self.def_path(name);
        let json = serde_json::to_vec_pretty(&def).expect("serialising a NetworkDef cannot fail");
        write_atomic(&p, &json).map_err(|e| {
            io_err(
                format!("write network definition {}", p.display()),
                e,
                "run hako as root",
            )
        })?;
        Ok(def)
    }

    fn probe(&self, def: &NetworkDef, with_ifaces: bool) -> Result<NetworkStatus> {
        let mut nl = Netlink::new()?;
        let link = nl.link(&def.bridge)?;
        let mut st = NetworkStatus {
            name: def.name.clone(),
            bridge: def.bridge.clone(),
            bridge_exists: link
                .as_ref()
                .is_some_and(|l| l.kind.as_deref() == Some("bridge")),
            bridge_up: link.as_ref().is_some_and(|l| l.up),
            addresses_ok: false,
            nft_wanted: def.wants_nft(),
            nft_table: false,
            dnsmasq_wanted: def.wants_dnsmasq(),
            dnsmasq_pid: None,
            interfaces: Vec::new(),
            up: false,
        };
        if let Some(l) = link.as_ref().filter(|_| st.bridge_exists) {
            let addrs = nl.addresses_of(Some((l.index, &def.bridge)))?;
            let has = |ip: IpAddr, p: u8| addrs.iter().any(|a| a.addr == ip && a.prefix == p);
            st.addresses_ok = def.ipv4.iter().all(|n| has(IpAddr::V4(n.addr), n.prefix))
                && def.ipv6.iter().all(|n| has(IpAddr::V6(n.addr), n.prefix));
            if with_ifaces {
                let bidx = link.as_ref().map(|l| l.index);
                st.interfaces = nl
                    .links()?
                    .into_iter()
                    .filter(|l| l.master.is_some() && l.master == bidx)
                    .map(|l| l.name)
                    .collect();
            }
        }
        if st.nft_wanted {
            st.nft_table = nft_table_exists(&def.nft_table()).map_err(|e| {
                io_err(
                    format!("look up nftables table inet {}", def.nft_table()),
                    e,
                    "check that the kernel has nf_tables (CONFIG_NF_TABLES) and run hako as root",
                )
            })?;
        }
        if st.dnsmasq_wanted {
            let pf = self.dnsmasq_paths(&def.name).pid_file;
            st.dnsmasq_pid = read_pid(&pf).filter(|p| dnsmasq_is_ours(*p, &pf));
        }
        st.up = st.bridge_exists
            && st.bridge_up
            && st.addresses_ok
            && (!st.nft_wanted || st.nft_table)
            && (!st.dnsmasq_wanted || st.dnsmasq_pid.is_some());
        Ok(st)
    }

    /// What is up of network `name`, with the devices attached to its bridge.
    pub fn status(&self, name: &str) -> Result<NetworkStatus> {
        let def = self.need(name)?;
        self.probe(&def, true)
    }

    /// Bring network `name` up, repairing whatever part is missing (bridge, addresses, nft
    /// table, forwarding, dnsmasq). Cheap when it is already up. If this call fails half-way,
    /// the parts it created are removed again.
    pub fn up(&self, name: &str) -> Result<NetworkStatus> {
        let def = self.need(name)?;
        let st = self.probe(&def, false)?;
        if st.up {
            return Ok(st);
        }
        let _l = self.lock()?;
        let st = self.probe(&def, false)?;
        if st.up {
            return Ok(st);
        }
        let mut created_bridge = false;
        let mut created_table = false;
        let r = self.repair(&def, &st, &mut created_bridge, &mut created_table);
        if r.is_err() {
            if created_table {
                let _ = self.nft_delete(&def);
            }
            if created_bridge {
                if let Ok(mut nl) = Netlink::new() {
                    let _ = nl.delete_link(&def.bridge);
                }
            }
        }
        r?;
        self.probe(&def, false)
    }

    fn repair(
        &self,
        def: &NetworkDef,
        st: &NetworkStatus,
        created_bridge: &mut bool,
        created_table: &mut bool,
    ) -> Result<()> {
        let mut nl = Netlink::new()?;
        let br = &def.bridge;
        if !st.bridge_exists {
            if let Some(l) = nl.link(br)? {
                return Err(NetError::failed(
                    format!("bring up network \"{}\"", def.name),
                    format!(
                        "the host has a device \"{br}\" that is a {}, not a bridge",
                        l.kind.as_deref().unwrap_or("physical device")
                    ),
                    "remove or rename that device, or recreate the network under another name",
                ));
            }
            // The host may have gained a route into our subnet since the network was defined.
            let used = Self::host_prefixes(None)?;
            for (net_ip, p) in def
                .ipv4
                .map(|n| (IpAddr::V4(n.addr), n.prefix))
                .into_iter()
                .chain(def.ipv6.map(|n| (IpAddr::V6(n.addr), n.prefix)))
            {
                if let Some((_, _, what)) = used
                    .iter()
                    .find(|(ip, up, _)| crate::names::prefixes_overlap(net_ip, p, *ip, *up))
                {
                    return Err(NetError::failed(
                        format!("bring up network \"{}\" ({net_ip}/{p})", def.name),
                        format!("its subnet overlaps the {what}"),
                        format!(
                            "remove that route, or recreate the network: \"hako network rm {0}\" then \"hako network create {0} --ipv4 auto\"",
                            def.name
                        ),
                    ));
                }
            }
            nl.create_bridge(br)?;
            *created_bridge = true;
        }
        if !st.addresses_ok {
            let have = nl.addresses(Some(br))?;
            if let Some(n) = def.ipv4 {
                if !have
                    .iter()
                    .any(|a| a.addr == IpAddr::V4(n.addr) && a.prefix == n.prefix)
                {
                    nl.add_address(br, IpAddr::V4(n.addr), n.prefix)?;
                }
            }
            if let Some(n) = def.ipv6 {
                if !have
                    .iter()
                    .any(|a| a.addr == IpAddr::V6(n.addr) && a.prefix == n.prefix)
                {
                    nl.add_address_opts(br, IpAddr::V6(n.addr), n.prefix, true)?;
                }
            }
        }
        if !st.bridge_up {
            nl.set_up(br, true)?;
        }
        if st.nft_wanted && !st.nft_table {
            self.nft_apply(def)?;
            *created_table = true;
        }
        if def.nat {
            enable_forwarding(def.ipv4.is_some(), def.ipv6.is_some())?;
        }
        // a dnsmasq that outlived its bridge is bound to a device that no longer exists
        if st.dnsmasq_pid.is_some() && !st.bridge_exists {
            self.stop_dnsmasq(def)?;
        }
        if st.dnsmasq_wanted && (st.dnsmasq_pid.is_none() || !st.bridge_exists) {
            self.start_dnsmasq(def)?;
        }
        Ok(())
    }

    fn nft_apply(&self, def: &NetworkDef) -> Result<()> {
        let op = || {
            format!(
                "install nftables table inet {} for network \"{}\"",
                def.nft_table(),
                def.name
            )
        };
        let nft = find_tool(&self.nft).ok_or_else(|| {
            NetError::failed(
                op(),
                "nft not found",
                "install it with \"apt-get install nftables\"",
            )
        })?;
        let mut child = Command::new(&nft)
            .args(["-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| io_err(op(), e, "check the nft program"))?;
        let text = nft_ruleset(def);
        if let Some(mut i) = child.stdin.take() {
            i.write_all(text.as_bytes())
                .map_err(|e| io_err(op(), e, "check the nft program"))?;
        }
        let out = child
            .wait_with_output()
            .map_err(|e| io_err(op(), e, "check the nft program"))?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            let first = err
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("no message");
            return Err(NetError::failed(
                op(),
                format!("nft failed ({}): {}", out.status, first.trim()),
                "check that the kernel has nf_tables with NAT support (CONFIG_NFT_NAT, CONFIG_NFT_MASQ)",
            ));
        }
        Ok(())
    }

    fn nft_delete(&self, def: &NetworkDef) -> Result<()> {
        let op = || {
            format!(
                "remove nftables table inet {} of network \"{}\"",
                def.nft_table(),
                def.name
            )
        };
        let exists =
            nft_table_exists(&def.nft_table()).map_err(|e| io_err(op(), e, "run hako as root"))?;
        if !exists {
            return Ok(());
        }
        let nft = find_tool(&self.nft).ok_or_else(|| {
            NetError::failed(
                op(),
                "nft not found",
                "install it with \"apt-get install nftables\"",
            )
        })?;
        let out = Command::new(&nft)
            .args(["delete", "table", "inet", &def.nft_table()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .map_err(|e| io_err(op(), e, "check the nft program"))?;
        if !out.status.success() && nft_table_exists(&def.nft_table()).unwrap_or(true) {
            return Err(NetError::failed(
                op(),
                format!(
                    "nft failed: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
                format!(
                    "remove it by hand with \"nft delete table inet {}\"",
                    def.nft_table()
                ),
            ));
        }
        Ok(())
    }

    fn start_dnsmasq(&self, def: &NetworkDef) -> Result<i32> {
        let op = || format!("start DHCP/DNS for network \"{}\"", def.name);
        let dnsmasq = find_tool(&self.dnsmasq).ok_or_else(|| {
            NetError::failed(
                op(),
                format!("{} not found", self.dnsmasq.display()),
                "install it with \"apt-get install dnsmasq-base\"",
            )
        })?;
        let run = self.run_path(&def.name);
        let p = DnsmasqPaths::new(&run);
        for d in [&self.run_root, &run, &p.hosts_dir, &p.dhcp_hosts_dir] {
            mkdir_755(d).map_err(|e| {
                io_err(
                    format!("create {}", d.display()),
                    e,
                    "run hako as root or choose another run directory",
                )
            })?;
        }
        // dnsmasq drops to an unprivileged user and must still reach hosts.d (inotify and
        // SIGHUP re-reads): every directory above it has to be searchable by others
        for a in p.hosts_dir.ancestors().skip(1) {
            if let Ok(md) = fs::metadata(a) {
                if md.permissions().mode() & 0o001 == 0 {
                    tracing::warn!(
                        "{} is not searchable by other users: dnsmasq of network \"{}\" cannot read its host files, so static container names will not resolve; chmod o+x {}",
                        a.display(),
                        def.name,
                        a.display()
                    );
                    break;
                }
            }
        }
        // a stale pid file from a dead dnsmasq; if that one is still on its way out, let it
        // finish so its sockets are closed before the new one binds
        if let Some(old) = read_pid(&p.pid_file) {
            let end = Instant::now() + Duration::from_secs(1);
            while !proc_exited(old) && Instant::now() < end {
                let cmd = fs::read(format!("/proc/{old}/cmdline")).unwrap_or_default();
                if !cmd.is_empty() {
                    break; // a live process that is not our dnsmasq: pid reused
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        let _ = fs::remove_file(&p.pid_file);
        let args = dnsmasq_args(def, &p, dnsmasq_user());
        let out = Command::new(&dnsmasq)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .map_err(|e| {
                if e.kind() == io::ErrorKind::NotFound {
                    NetError::failed(
                        op(),
                        "dnsmasq not found",
                        "install it with \"apt-get install dnsmasq-base\"",
                    )
                } else {
                    io_err(op(), e, "check the dnsmasq program")
                }
            })?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            let line = err
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("it printed no message")
                .trim();
            // "dnsmasq: failed to ..." -> "failed to ..."
            let msg = line.strip_prefix("dnsmasq:").unwrap_or(line).trim();
            let remedy = if msg.contains("Address already in use") {
                format!("another DNS/DHCP server is bound to the addresses of \"{}\"; stop it and retry", def.bridge)
            } else {
                format!(
                    "fix what dnsmasq reports, then retry (\"hako network up {}\"; \"hako network show {}\" tells what is up)",
                    def.name, def.name
                )
            };
            let status = match out.status.code() {
                Some(c) => format!("exit code {c}"),
                None => out.status.to_string(),
            };
            return Err(NetError::failed(
                op(),
                format!("{} failed ({status}): {msg}", dnsmasq.display()),
                remedy,
            ));
        }
        // dnsmasq writes its pid file before its first process exits; wait briefly anyway.
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            if let Some(pid) = read_pid(&p.pid_file) {
                if dnsmasq_is_ours(pid, &p.pid_file) {
                    return Ok(pid);
                }
            }
            if Instant::now() > deadline {
                return Err(NetError::failed(
                    op(),
                    format!(
                        "dnsmasq started but is not running (no live pid in {})",
                        p.pid_file.display()
                    ),
                    "check the system log for dnsmasq's messages",
                ));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn stop_dnsmasq(&self, def: &NetworkDef) -> Result<()> {
        let pf = self.dnsmasq_paths(&def.name).pid_file;
        let Some(pid) = read_pid(&pf).filter(|p| dnsmasq_is_ours(*p, &pf)) else {
            return Ok(());
        };
        let np = nix::unistd::Pid::from_raw(pid);
        let wait = |limit: Duration| {
            let end = Instant::now() + limit;
            while !proc_exited(pid) {
                if Instant::now() > end {
                    return false;
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            true
        };
        let _ = nix::sys::signal::kill(np, nix::sys::signal::Signal::SIGTERM);
        if wait(Duration::from_secs(3)) {
            return Ok(());
        }
        let _ = nix::sys::signal::kill(np, nix::sys::signal::Signal::SIGKILL);
        if wait(Duration::from_secs(1)) {
            return Ok(());
        }
        Err(NetError::failed(
            format!("stop dnsmasq (pid {pid}) of network \"{}\"", def.name),
            "it does not exit",
            format!("kill it by hand with \"kill -9 {pid}\""),
        ))
    }

    /// Take network `name` down: stop its dnsmasq, remove its nft table, delete its bridge
    /// and its runtime directory. The definition stays.
    pub fn down(&self, name: &str) -> Result<()> {
        let def = self.need(name)?;
        let _l = self.lock()?;
        self.down_locked(&def)
    }

    fn down_locked(&self, def: &NetworkDef) -> Result<()> {
        self.stop_dnsmasq(def)?;
        self.nft_delete(def)?;
        let mut nl = Netlink::new()?;
        if let Some(l) = nl.link(&def.bridge)? {
            if l.kind.as_deref() == Some("bridge") {
                nl.delete_link(&def.bridge)?;
            }
        }
        let run = self.run_path(&def.name);
        match fs::remove_dir_all(&run) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(
                format!("remove {}", run.display()),
                e,
                "remove it by hand",
            )),
        }
    }

    /// Remove network `name`: take it down and delete its definition. Refused while
    /// `in_use_by` (containers configured to use it) is not empty, unless `force`.
    pub fn remove(&self, name: &str, force: bool, in_use_by: &[String]) -> Result<()> {
        let def = self.need(name)?;
        if !in_use_by.is_empty() && !force {
            return Err(NetError::failed(
                format!("remove network \"{name}\""),
                format!("it is used by {}", in_use_by.join(", ")),
                "stop and reconfigure those containers first, or use -f to remove it anyway",
            ));
        }
        let _l = self.lock()?;
        self.down_locked(&def)?;
        let p = self.def_path(name);
        match fs::remove_file(&p) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(
                format!("remove {}", p.display()),
                e,
                "run hako as root",
            )),
        }
    }

    /// The network's DHCP leases (empty when it has none yet).
    pub fn leases(&self, name: &str) -> Result<Vec<Lease>> {
        let _ = self.need(name)?;
        let p = self.dnsmasq_paths(name).lease_file;
        // dnsmasq (an unprivileged user) writes it: a regular file of bounded size only
        match read_bounded_nofollow(&p, STATE_LIMIT).map_err(io::Error::from) {
            Ok(t) => Ok(parse_leases(&String::from_utf8_lossy(&t))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(io_err(
                format!("read {}", p.display()),
                e,
                "run hako as root",
            )),
        }
    }

    /// Names registered with [`Networks::register_host`].
    pub fn registered_hosts(&self, net: &str) -> Result<Vec<HostEntry>> {
        let dir = self.dnsmasq_paths(net).hosts_dir;
        let mut out: Vec<HostEntry> = host_files(&dir)
            .map_err(|e| io_err(format!("list {}", dir.display()), e, "run hako as root"))?
            .into_iter()
            .map(|(_, h)| h)
            .collect();
        out.sort_by(|a, b| a.hostname.cmp(&b.hostname));
        Ok(out)
    }

    /// Check a static address for a container on network `net`: in the subnet with the
    /// subnet's prefix, not the network/broadcast address, not the bridge's own, not
    /// registered by another container, not held by a live DHCP lease.
    pub fn check_static(&self, net: &str, ip: IpAddr, prefix: u8) -> Result<()> {
        let def = self.need(net)?;
        self.check_static_def(&def, ip, prefix, None)
    }

    fn check_static_def(
        &self,
        def: &NetworkDef,
        ip: IpAddr,
        prefix: u8,
        // (host name, owner) of the container asking; None: anyone
        owner: Option<(&str, &str)>,
    ) -> Result<()> {
        let op = || {
            format!(
                "use static address {ip}/{prefix} on network \"{}\"",
                def.name
            )
        };
        let subnet: Option<(String, u8, bool, bool)> = match ip {
            IpAddr::V4(v4) => def.ipv4.map(|n| {
                (
                    n.subnet().to_string(),
                    n.prefix,
                    n.contains(v4),
                    n.prefix <= 30 && (v4 == n.network() || v4 == n.broadcast()),
                )
            }),
            IpAddr::V6(v6) => def.ipv6.map(|n| {
                (
                    n.subnet().to_string(),
                    n.prefix,
                    n.contains(v6),
                    v6 == n.network(),
                )
            }),
        };
        let Some((sub, p, inside, special)) = subnet else {
            return Err(NetError::failed(
                op(),
                format!(
                    "the network has no IPv{} subnet",
                    if ip.is_ipv4() { 4 } else { 6 }
                ),
                "use DHCP, or an address of the family the network has (\"hako network show\")",
            ));
        };
        if !inside {
            return Err(NetError::failed(
                op(),
                format!("it is outside the network's subnet {sub}"),
                format!("choose an address in {sub}"),
            ));
        }
        if prefix != p {
            return Err(NetError::failed(
                op(),
                format!("the prefix differs from the subnet's /{p}"),
                format!("write the address as {ip}/{p}"),
            ));
        }
        if special {
            return Err(NetError::failed(
                op(),
                format!("it is the network or broadcast address of {sub}"),
                format!("choose a host address in {sub}"),
            ));
        }
        let bridge_ip = match ip {
            IpAddr::V4(_) => def.ipv4.map(|n| IpAddr::V4(n.addr)),
            IpAddr::V6(_) => def.ipv6.map(|n| IpAddr::V6(n.addr)),
        };
        if bridge_ip == Some(ip) {
            return Err(NetError::failed(
                op(),
                format!("it is the address of bridge \"{}\"", def.bridge),
                format!("choose another address in {sub}"),
            ));
        }
        if let Some(h) = self
            .registered_hosts(&def.name)?
            .into_iter()
            .find(|h| h.ip == ip)
        {
            if !owner.is_some_and(|(host, o)| h.is_owned_by(o, host)) {
                return Err(NetError::failed(
                    op(),
                    format!("it is already used by container \"{}\"", h.hostname),
                    format!("choose another address in {sub}"),
                ));
            }
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        if let Some(l) = self.leases(&def.name)?.into_iter().find(|l| {
            l.ip == ip
                && (l.expiry == 0 || l.expiry > now)
                && l.hostname.as_deref() != owner.map(|(host, _)| host).or(Some("\0"))
        }) {
            return Err(NetError::failed(
                op(),
                format!(
                    "it is leased by DHCP to {}{}",
                    l.mac,
                    l.hostname.map(|h| format!(" ({h})")).unwrap_or_default()
                ),
                format!("choose another address in {sub}, or wait until that lease expires"),
            ));
        }
        Ok(())
    }

    /// Register `hostname` → `ip` for DNS on network `net` (a container with a static
    /// address). The address is checked with [`Networks::check_static`] (full prefix of the
    /// subnet assumed) and reserved atomically: two containers cannot register one address.
    /// Registering the same name again moves it to the new address.
    ///
    /// `owner` identifies the registering container (two containers of one name in two
    /// lxcpaths have different owners): only its own entries are ever replaced or removed.
    pub fn register_host(&self, net: &str, hostname: &str, ip: IpAddr, owner: &str) -> Result<()> {
        validate_dns_name("host name", hostname)?;
        validate_owner(owner)?;
        let def = self.need(net)?;
        let prefix = match ip {
            IpAddr::V4(_) => def.ipv4.map(|n| n.prefix).unwrap_or(32),
            IpAddr::V6(_) => def.ipv6.map(|n| n.prefix).unwrap_or(128),
        };
        self.check_static_def(&def, ip, prefix, Some((hostname, owner)))?;
        let p = self.dnsmasq_paths(net);
        for d in [&self.run_root, &self.run_path(net), &p.hosts_dir] {
            if !d.exists() {
                mkdir_755(d).map_err(|e| {
                    io_err(format!("create {}", d.display()), e, "run hako as root")
                })?;
            }
        }
        // drop this container's previous address, if any
        for h in self.registered_hosts(net)? {
            if h.is_owned_by(owner, hostname) && h.ip != ip {
                let _ = fs::remove_file(p.hosts_dir.join(h.ip.to_string()));
            }
        }
        let path = p.hosts_dir.join(ip.to_string());
        let op = || format!("register host \"{hostname}\" ({ip}) on network \"{net}\"");
        // O_EXCL reserves the address atomically; dnsmasq reads the file on IN_CLOSE_WRITE,
        // when the line is complete
        let created = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&path);
        match created {
            Ok(mut f) => {
                f.write_all(format!("{ip} {hostname} {OWNER_MARK}{owner}\n").as_bytes())
                    .map_err(|e| {
                        let _ = fs::remove_file(&path);
                        io_err(op(), e, "check the file system")
                    })?;
                // keep the address out of the DHCP pool: dnsmasq never hands out an address
                // that a dhcp-host entry names
                if ip.is_ipv4() {
                    self.write_dhcp_host(net, owner, &format!("{hostname},{ip}\n"))?;
                }
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let cur = read_bounded_nofollow(&path, LINE_LIMIT).unwrap_or_default();
                match parse_host_line(&String::from_utf8_lossy(&cur)) {
                    Some(h) if h.is_owned_by(owner, hostname) => Ok(()),
                    h => Err(NetError::failed(
                        op(),
                        format!(
                            "the address is already used by container \"{}\"",
                            h.map(|h| h.hostname).unwrap_or_else(|| "?".into())
                        ),
                        "choose another address",
                    )),
                }
            }
            Err(e) => Err(io_err(op(), e, "run hako as root")),
        }
    }

    /// Give the DHCP client with `mac` the name `hostname` on network `net`, so it resolves
    /// in DNS even if the client sends no hostname.
    /// One entry per `owner` (see [`Networks::register_host`]).
    pub fn register_dhcp_host(
        &self,
        net: &str,
        hostname: &str,
        mac: [u8; 6],
        owner: &str,
    ) -> Result<()> {
        validate_dns_name("host name", hostname)?;
        validate_owner(owner)?;
        self.need(net)?;
        self.write_dhcp_host(net, owner, &format!("{},{hostname}\n", format_mac(&mac)))
    }

    /// The DHCP host entry of `owner` (a file of dnsmasq's dhcp-hostsdir named after it).
    fn write_dhcp_host(&self, net: &str, owner: &str, line: &str) -> Result<()> {
        let p = self.dnsmasq_paths(net);
        for d in [&self.run_root, &self.run_path(net), &p.dhcp_hosts_dir] {
            if !d.exists() {
                mkdir_755(d).map_err(|e| {
                    io_err(format!("create {}", d.display()), e, "run hako as root")
                })?;
            }
        }
        let path = p.dhcp_hosts_dir.join(owner);
        write_atomic(&path, line.as_bytes()).map_err(|e| {
            io_err(
                format!(
                    "register DHCP host \"{}\" on network \"{net}\"",
                    line.trim_end()
                ),
                e,
                "run hako as root",
            )
        })
    }

    /// Forget `hostname` on network `net` (static and DHCP registrations); dnsmasq is told
    /// to reload (SIGHUP). Ok if it was not registered.
    pub fn unregister_host(&self, net: &str, hostname: &str, owner: &str) -> Result<()> {
        validate_dns_name("host name", hostname)?;
        validate_owner(owner)?;
        self.need(net)?;
        let p = self.dnsmasq_paths(net);
        // a hosts directory that cannot be listed is an error here (not in forget_host)
        let files = host_files(&p.hosts_dir).map_err(|e| {
            io_err(
                format!("list {}", p.hosts_dir.display()),
                e,
                "run hako as root",
            )
        })?;
        forget_in(&p, hostname, owner, &files);
        Ok(())
    }
}

/// The DNS names registered in `dir` (one file per address, named after it, holding
/// "ADDRESS HOSTNAME"), each with its file. A directory that does not exist has none.
fn host_files(dir: &Path) -> io::Result<Vec<(PathBuf, HostEntry)>> {
    let rd = match fs::read_dir(dir) {
        Ok(r) => r,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for e in rd.filter_map(|e| e.ok()) {
        let Ok(text) = read_bounded_nofollow(&e.path(), LINE_LIMIT) else {
            continue;
        };
        if let Some(h) = parse_host_line(&String::from_utf8_lossy(&text)) {
            out.push((e.path(), h));
        }
    }
    Ok(out)
}

/// "ADDRESS HOSTNAME [# hako-owner=OWNER]"
fn parse_host_line(text: &str) -> Option<HostEntry> {
    let (entry, owner) = match text.split_once(OWNER_MARK) {
        Some((e, o)) => (e, o.split_whitespace().next().map(String::from)),
        None => (text, None),
    };
    let mut f = entry.split_whitespace();
    Some(HostEntry {
        ip: f.next()?.parse().ok()?,
        hostname: f.next()?.to_string(),
        owner,
    })
}

/// Forget `hostname` on managed network `net` whose runtime files are under
/// `<run_dir>/net/<net>` (what [`Networks::unregister_host`] does, without reading the
/// network's definition or checking the name): its DNS names and its DHCP host entry are
/// removed, and the network's dnsmasq, if running, is told to reread them. Light enough for
/// the resident monitor at stop (no process to run). Idempotent; true if anything was
/// removed. Containers' names are forgotten through [`crate::DnsReg::forget`].
pub(crate) fn forget_host(run_dir: &Path, net: &str, hostname: &str, owner: &str) -> bool {
    if validate_owner(owner).is_err() {
        return false;
    }
    let p = DnsmasqPaths::new(&run_dir.join("net").join(net));
    let files = host_files(&p.hosts_dir).unwrap_or_default();
    forget_in(&p, hostname, owner, &files)
}

/// Remove `hostname`'s entries among `files` and its DHCP host entry; SIGHUP the network's
/// dnsmasq if anything went.
fn forget_in(
    p: &DnsmasqPaths,
    hostname: &str,
    owner: &str,
    files: &[(PathBuf, HostEntry)],
) -> bool {
    let mut changed = false;
    for (path, h) in files {
        if h.is_owned_by(owner, hostname) {
            changed |= fs::remove_file(path).is_ok();
        }
    }
    changed |= fs::remove_file(p.dhcp_hosts_dir.join(owner)).is_ok();
    if changed {
        if let Some(pid) = read_pid(&p.pid_file).filter(|pid| dnsmasq_is_ours(*pid, &p.pid_file)) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGHUP,
            );
        }
    }
    changed
}

/// A host address must not be the subnet's network or broadcast address.
fn check_host_address_v4(name: &str, n: Ipv4Net) -> Result<()> {
    if n.prefix <= 30 && (n.addr == n.network() || n.addr == n.broadcast()) {
        let (first, _) = n.hosts();
        return Err(NetError::invalid(
            "IPv4 bridge address",
            n.to_string(),
            format!("it is the network or broadcast address of {}", n.subnet()),
            format!(
                "give the bridge's own address, e.g. \"hako network create {name} --ipv4 {first}/{}\"",
                n.prefix
            ),
        ));
    }
    if n.prefix > 30 {
        return Err(NetError::invalid(
            "IPv4 subnet",
            n.to_string(),
            "it is too small for a bridge with containers",
            "use a prefix of /30 or shorter, e.g. /24",
        ));
    }
    Ok(())
}

/// Turn on IP forwarding (needed for NAT). Only writes when it is off.
fn enable_forwarding(v4: bool, v6: bool) -> Result<()> {
    let mut files = Vec::new();
    if v4 {
        files.push("/proc/sys/net/ipv4/ip_forward");
    }
    if v6 {
        files.push("/proc/sys/net/ipv6/conf/all/forwarding");
    }
    for f in files {
        if fs::read_to_string(f)
            .map(|s| s.trim() == "1")
            .unwrap_or(false)
        {
            continue;
        }
        fs::write(f, "1")
            .map_err(|e| io_err(format!("enable IP forwarding ({f})"), e, "run hako as root"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def() -> NetworkDef {
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
}
