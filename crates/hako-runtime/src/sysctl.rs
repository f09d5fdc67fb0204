//! `lxc.sysctl.KEY = VALUE`: kernel parameters set for the container, in its own
//! namespaces. The kernel resolves a namespaced parameter (under /proc/sys) through the
//! namespaces of the process that opens it, so the container's first process writes them
//! before its init runs. Only namespaced parameters are accepted: anything else would be
//! set for the whole host.
//!
//! - IPC (`kernel.shm*`, `kernel.msg*`, `kernel.sem*`, `fs.mqueue.*`) and UTS
//!   (`kernel.hostname`, `kernel.domainname`) parameters are written while /proc/sys of
//!   the container's own proc is still writable (`proc:mixed` makes it read-only), or
//!   through the host's /proc of the container's mount namespace when it mounts no proc;
//! - `net.*` (only with a network namespace of its own, not `lxc.net.0.type = none`) once
//!   the monitor has moved and configured its interfaces, so per-interface parameters
//!   (`net.ipv4.conf.eth0.rp_filter`) find them; /proc/sys/net stays writable.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use serde::{Deserialize, Serialize};

use crate::error::{errno_text, Result, RuntimeError};
use crate::inroot;
use crate::spec::ContainerSpec;

/// One `lxc.sysctl.KEY = VALUE`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sysctl {
    /// `net.ipv4.ip_forward`
    pub key: String,
    pub value: String,
    /// where it was set (file:line)
    pub origin: String,
}

impl Sysctl {
    /// net.* parameters are set after the network is in place.
    pub fn is_net(&self) -> bool {
        self.key.starts_with("net.")
    }

    /// The path below /proc/sys: dots separate, a `/` stands for a dot inside a name
    /// (sysctl(8)'s convention: `net.ipv4.conf.eth0/100.rp_filter`).
    fn rel_path(&self) -> PathBuf {
        self.key
            .split('.')
            .map(|c| c.replace('/', "."))
            .collect::<Vec<_>>()
            .join("/")
            .into()
    }
}

/// IPC parameters of the IPC namespace (with `kernel.shm*`, `kernel.msg*` and `fs.mqueue.*`).
const IPC_PREFIXES: &[&str] = &["kernel.shm", "kernel.msg", "kernel.sem", "fs.mqueue."];
/// Parameters of the UTS namespace.
const UTS_KEYS: &[&str] = &["kernel.hostname", "kernel.domainname"];

/// Why `key` may not be set for a container (None: it may). `own_net`: the container has
/// a network namespace of its own.
pub fn refuse_reason(key: &str, own_net: bool) -> Option<String> {
    let bad_name = key.is_empty()
        || key.split('.').any(|c| {
            c.is_empty()
                || c.replace('/', ".") == "."
                || c.replace('/', ".") == ".."
                || c.contains('\0')
        });
    if bad_name {
        return Some(
            "it is not a kernel parameter name (words separated by dots, as sysctl -a shows them)"
                .into(),
        );
    }
    if key.starts_with("net.") {
        if own_net {
            return None;
        }
        return Some(
            "the container shares the host's network namespace (lxc.net.N.type = none), so it would change the host's network settings; give the container a network of its own or remove the line".into(),
        );
    }
    if IPC_PREFIXES.iter().any(|p| key.starts_with(p)) || UTS_KEYS.contains(&key) {
        return None;
    }
    Some(
        "it is not a namespaced parameter: setting it would change it for the whole host; a container may set net.*, kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*, kernel.hostname and kernel.domainname; remove the line (set host parameters on the host)".into(),
    )
}

/// `lxc.sysctl.*` of a config, in the order first set, each with its last value (an empty
/// value drops the key; an empty `lxc.sysctl` drops all), checked with [`refuse_reason`].
pub fn from_config(name: &str, cfg: &hako_config::Config, own_net: bool) -> Result<Vec<Sysctl>> {
    let mut out: Vec<Sysctl> = Vec::new();
    for item in cfg.with_prefix("lxc.sysctl.") {
        let key = &item.key["lxc.sysctl.".len()..];
        if let Some(why) = refuse_reason(key, own_net) {
            return Err(RuntimeError::msg(format!(
                "{}: container \"{name}\": cannot set lxc.sysctl.{key}: {why}",
                item.origin
            )));
        }
        let s = Sysctl {
            key: key.to_string(),
            value: item.value.clone(),
            origin: item.origin.to_string(),
        };
        match out.iter_mut().find(|o| o.key == s.key) {
            Some(o) => *o = s,
            None => out.push(s),
        }
    }
    Ok(out)
}

/// Where /proc/sys is for [`apply`].
pub enum ProcSys<'a> {
    /// the container's own proc, mounted on `proc` in this root
    InRoot(&'a crate::mounts::Rootfs),
    /// /proc/sys as this process sees it (the host's proc, in the container's mount
    /// namespace before pivot_root)
    Here,
}

/// Writes the `net.*` parameters (`net`) or the others (`!net`) of `spec`. Run by the
/// container's first process, in its namespaces.
pub fn apply(spec: &ContainerSpec, at: ProcSys<'_>, net: bool) -> Result<()> {
    let name = &spec.name;
    let mut todo = spec.sysctls.iter().filter(|s| s.is_net() == net).peekable();
    if todo.peek().is_none() {
        return Ok(());
    }
    let dir: OwnedFd = match at {
        ProcSys::InRoot(root) => root.open(Path::new("proc/sys")),
        ProcSys::Here => nix::fcntl::open(
            "/proc/sys",
            nix::fcntl::OFlag::O_PATH
                | nix::fcntl::OFlag::O_DIRECTORY
                | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        // SAFETY: open returned a new fd we own.
        .map(|fd| unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) }),
    }
    .map_err(|e| {
        RuntimeError::msg(format!(
            "container \"{name}\": cannot open /proc/sys to set lxc.sysctl: {}",
            errno_text(e)
        ))
    })?;
    for s in todo {
        write_one(dir.as_fd(), s).map_err(|e| {
            RuntimeError::msg(format!(
                "{}: container \"{name}\": cannot set lxc.sysctl.{} = {}: {}",
                s.origin,
                s.key,
                s.value,
                match e {
                    Errno::ENOENT => format!(
                        "this kernel has no parameter {} in the container (/proc/sys/{}); check the name with \"sysctl -a\"{}",
                        s.key,
                        s.rel_path().display(),
                        if s.is_net() { " (a per-interface parameter needs the interface: its name inside the container)" } else { "" }
                    ),
                    Errno::EINVAL => "the kernel refused the value; check what the parameter takes".into(),
                    Errno::EACCES | Errno::EPERM | Errno::EROFS => format!(
                        "{} (a read-only parameter, or one only the host may set)",
                        errno_text(e)
                    ),
                    e => errno_text(e),
                }
            ))
        })?;
    }
    Ok(())
}

fn write_one(dir: BorrowedFd<'_>, s: &Sysctl) -> nix::Result<()> {
    // resolved below /proc/sys only: no "..", no symlink (there are none in /proc/sys)
    let fd = inroot::open_in_root(dir, &s.rel_path(), libc::O_WRONLY | libc::O_NOFOLLOW, 0)?;
    let mut v = s.value.clone().into_bytes();
    v.push(b'\n');
    let n = nix::unistd::write(&fd, &v)?;
    if n != v.len() {
        return Err(Errno::EINVAL);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_namespaced_parameters() {
        for k in [
            "net.ipv4.ip_forward",
            "net.ipv4.conf.eth0/100.rp_filter",
            "kernel.msgmax",
            "kernel.shmmax",
            "kernel.shm_rmid_forced",
            "kernel.sem",
            "fs.mqueue.msg_max",
            "kernel.hostname",
            "kernel.domainname",
        ] {
            assert_eq!(refuse_reason(k, true), None, "{k}");
        }
        for k in [
            "kernel.core_pattern",
            "vm.swappiness",
            "kernel.modprobe",
            "fs.file-max",
            "kernel.hostname2",
            "kernel",
            "net..x",
            "net.ipv4.conf.//.x",
            "",
        ] {
            assert!(refuse_reason(k, true).is_some(), "{k}");
        }
        let why = refuse_reason("net.ipv4.ip_forward", false).unwrap();
        assert!(why.contains("shares the host's network"), "{why}");
        assert!(refuse_reason("kernel.core_pattern", true)
            .unwrap()
            .contains("whole host"));
    }

    #[test]
    fn from_config_keeps_order_takes_last_value_and_names_the_line() {
        let cfg = hako_config::load_str(
            "lxc.sysctl.net.ipv4.ip_forward = 1\n\
             lxc.sysctl.kernel.msgmax = 4096\n\
             lxc.sysctl.net.ipv4.ip_forward = 0\n\
             lxc.sysctl.kernel.shmmni = 10\n\
             lxc.sysctl.kernel.shmmni =\n",
            Path::new("/t/config"),
        )
        .unwrap();
        let s = from_config("c", &cfg, true).unwrap();
        let kv: Vec<_> = s
            .iter()
            .map(|x| (x.key.as_str(), x.value.as_str()))
            .collect();
        assert_eq!(
            kv,
            [("net.ipv4.ip_forward", "0"), ("kernel.msgmax", "4096")]
        );
        assert_eq!(s[0].origin, "/t/config:3");
        assert_eq!(s[0].rel_path(), PathBuf::from("net/ipv4/ip_forward"));
        let cfg = hako_config::load_str(
            "lxc.sysctl.kernel.msgmax = 1\nlxc.sysctl.kernel.core_pattern = |/x\n",
            Path::new("/t/config"),
        )
        .unwrap();
        let e = from_config("c", &cfg, true).unwrap_err().to_string();
        assert!(
            e.contains("/t/config:2")
                && e.contains("kernel.core_pattern")
                && e.contains("whole host"),
            "{e}"
        );
        let cfg = hako_config::load_str("lxc.sysctl =\n", Path::new("/t/config")).unwrap();
        assert!(from_config("c", &cfg, true).unwrap().is_empty());
        let vlan = Sysctl {
            key: "net.ipv4.conf.eth0/100.rp_filter".into(),
            value: "0".into(),
            origin: String::new(),
        };
        assert_eq!(
            vlan.rel_path(),
            PathBuf::from("net/ipv4/conf/eth0.100/rp_filter")
        );
    }
}
