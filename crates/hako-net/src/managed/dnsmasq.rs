//! The network's dnsmasq (DHCP and DNS): its files and command line, start and stop, and its
//! lease file.

use std::fs;
use std::io;
use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hako_config::read::{read_bounded_nofollow, LINE_LIMIT, STATE_LIMIT};
use serde::{Deserialize, Serialize};

use super::{find_tool, io_err, mkdir_755, NetworkDef, Networks, LEASE_TIME};
use crate::error::{NetError, Result};
use crate::names::Ipv4Net;

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

/// Files of a network's dnsmasq.
#[derive(Clone, Debug)]
pub struct DnsmasqPaths {
    pub pid_file: PathBuf,
    pub lease_file: PathBuf,
    pub hosts_dir: PathBuf,
    pub dhcp_hosts_dir: PathBuf,
}

impl DnsmasqPaths {
    pub(super) fn new(run: &Path) -> Self {
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

/// Is `pid` a live dnsmasq started with `--pid-file=<pid_file>`?
pub(super) fn dnsmasq_is_ours(pid: i32, pid_file: &Path) -> bool {
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

pub(super) fn read_pid(pid_file: &Path) -> Option<i32> {
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

impl Networks {
    pub(super) fn start_dnsmasq(&self, def: &NetworkDef) -> Result<i32> {
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

    pub(super) fn stop_dnsmasq(&self, def: &NetworkDef) -> Result<()> {
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
}
