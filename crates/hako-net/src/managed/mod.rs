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
//!
//! The parts: `def` (the definition, its options and status, names and subnets),
//! `lifecycle` (create, up, down, remove), `nft` (the nftables table), `dnsmasq` (its command
//! line, start and stop, leases) and `hosts` (containers' DNS names).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use hako_config::read::{read_bounded_text, STATE_LIMIT};

use crate::error::{NetError, Result};

mod def;
mod dnsmasq;
mod hosts;
mod lifecycle;
mod nft;
#[cfg(test)]
mod tests;

pub use def::{
    pick_subnet, validate_dns_name, validate_network_name, CreateNetOpts, Ipv4Choice, NetworkDef,
    NetworkStatus,
};
pub use dnsmasq::{dnsmasq_args, parse_leases, DnsmasqPaths, Lease};
pub(crate) use hosts::forget_host;
pub use hosts::HostEntry;
pub use nft::{nft_ruleset, nft_table_exists};

/// Default state directory (definitions live in `<state_dir>/networks/`).
pub const DEFAULT_STATE_DIR: &str = "/var/lib/hako";
/// Default runtime directory (per-network files live in `<run_dir>/net/NAME/`).
pub const DEFAULT_RUN_DIR: &str = "/run/hako";
/// The managed network new containers use by default.
pub const DEFAULT_NETWORK: &str = "hakobr0";
/// DHCP lease time handed out by dnsmasq.
pub const LEASE_TIME: &str = "1h";

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
}
