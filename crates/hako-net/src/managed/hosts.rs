//! Containers' names in a network's DNS: `hosts.d/<ip>` for static addresses (the file
//! name reserves the address), `dhcp-hosts.d/<owner>` for DHCP clients; checks of a static
//! address; forgetting a container's names.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::net::IpAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use hako_config::read::{read_bounded_nofollow, LINE_LIMIT};
use serde::{Deserialize, Serialize};

use super::dnsmasq::{dnsmasq_is_ours, read_pid};
use super::{
    io_err, mkdir_755, validate_dns_name, write_atomic, DnsmasqPaths, NetworkDef, Networks,
};
use crate::error::{NetError, Result};
use crate::names::format_mac;

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

impl Networks {
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
        make_dirs(&[&self.run_root, &self.run_path(net), &p.hosts_dir])?;
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
        make_dirs(&[&self.run_root, &self.run_path(net), &p.dhcp_hosts_dir])?;
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

/// Create those of `dirs` that are missing (mode 0755): where a registration is written.
fn make_dirs(dirs: &[&Path]) -> Result<()> {
    for d in dirs {
        if !d.exists() {
            mkdir_755(d)
                .map_err(|e| io_err(format!("create {}", d.display()), e, "run hako as root"))?;
        }
    }
    Ok(())
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
