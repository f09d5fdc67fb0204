//! `lxc.sysctl.KEY = VALUE`: kernel parameters set for the container, in its own
//! namespaces. Only namespaced parameters are accepted ([`refuse_reason`]): anything else
//! would be set for the whole host. Writing them is the runtime's (its sysctl.rs).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

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
    pub fn rel_path(&self) -> PathBuf {
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
    fn paths_below_proc_sys() {
        let s = |k: &str| Sysctl {
            key: k.into(),
            value: "0".into(),
            origin: String::new(),
        };
        assert_eq!(
            s("net.ipv4.ip_forward").rel_path(),
            PathBuf::from("net/ipv4/ip_forward")
        );
        assert_eq!(
            s("net.ipv4.conf.eth0/100.rp_filter").rel_path(),
            PathBuf::from("net/ipv4/conf/eth0.100/rp_filter")
        );
        assert!(s("net.core.somaxconn").is_net() && !s("kernel.msgmax").is_net());
    }
}
