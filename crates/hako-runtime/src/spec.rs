//! `ContainerSpec`: the one internal model every front end (LXC config, CLI flags, later
//! OCI config.json) is translated into. The runtime consumes only this.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use hako_config::net::{self as netval, Gateway, HwAddr, Ipv4Cidr, Ipv6Cidr};
use hako_config::values::{self, MountAuto, MountEntry};
use hako_config::Config;
use serde::{Deserialize, Serialize};

use crate::error::{Result, RuntimeError};

/// `lxc.net.N.type` (parsed by hako-config's `net` module).
pub use hako_config::net::NetType as NetKind;

/// One `lxc.net.N` interface, its values parsed once (by hako-config's `net` module).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NetSpec {
    pub index: u32,
    pub kind: NetKind,
    pub link: Option<String>,
    pub name: Option<String>,
    /// a MAC address, or a template whose `x` digits are filled at start
    pub hwaddr: Option<HwAddr>,
    pub mtu: Option<u32>,
    pub up: bool,
    pub ipv4: Vec<Ipv4Cidr>,
    pub ipv4_gateway: Option<Gateway<Ipv4Addr>>,
    pub ipv6: Vec<Ipv6Cidr>,
    pub ipv6_gateway: Option<Gateway<Ipv6Addr>>,
    pub veth_pair: Option<String>,
    pub veth_mode: Option<String>,
    pub macvlan_mode: Option<String>,
    pub script_up: Option<String>,
    pub script_down: Option<String>,
}

/// An overlay root filesystem: read-only lower layers (the image, or a source container),
/// and the container's own upper and work directories.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Overlay {
    /// lower directories, topmost first
    pub lower: Vec<PathBuf>,
    pub upper: PathBuf,
    pub work: PathBuf,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Prlimit {
    pub resource: i32,
    pub soft: u64,
    pub hard: u64,
}

/// What runs as the container's PID 1.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum InitMode {
    /// exec the command as PID 1 (system container)
    Exec,
    /// application container (lxc-execute): a small init reaps zombies, forwards signals
    /// and exits with the command's status; stdio is the caller's.
    MiniInit,
}

/// The most `lxc.tty.max` can ask for.
pub const MAX_TTYS: u32 = 120;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ContainerSpec {
    pub name: String,
    pub lxcpath: PathBuf,
    pub config_path: PathBuf,
    /// host path of the root filesystem (for an overlay: where it is mounted, inside the
    /// container's own mount namespace only)
    pub rootfs: PathBuf,
    /// `lxc.rootfs.path = overlay:LOWER[:LOWER...]:UPPER`: the layers
    #[serde(default)]
    pub rootfs_overlay: Option<Overlay>,
    pub rootfs_readonly: bool,
    pub hostname: String,
    pub init_cmd: Vec<String>,
    pub init_mode: InitMode,
    pub init_cwd: Option<PathBuf>,
    /// lxc.init.groups: init's supplementary groups (empty: none)
    pub init_groups: Vec<u32>,
    pub init_uid: Option<u32>,
    pub init_gid: Option<u32>,
    /// extra environment for init (lxc.environment), after container=lxc
    pub env: Vec<(String, String)>,
    pub share_host_net: bool,
    pub mount_auto: MountAuto,
    pub mounts: Vec<MountEntry>,
    pub autodev: bool,
    pub autodev_tmpfs_size: u64,
    /// /dev/console on a pty the monitor holds (false: lxc.console.path = none)
    pub console: bool,
    pub console_logfile: Option<PathBuf>,
    pub tty_max: u32,
    pub pty_max: u32,
    pub cap_drop: Vec<String>,
    /// Some: keep only these (lxc.cap.keep); takes precedence over cap_drop
    pub cap_keep: Option<Vec<String>>,
    pub prlimits: Vec<Prlimit>,
    pub no_new_privs: bool,
    /// lxc.keyring.session (default on): init and attached processes start with a new,
    /// empty session keyring of their own; off (LXC's meaning): they keep the caller's
    pub keyring_session: bool,
    /// None: SIGPWR, or SIGRTMIN+3 when init blocks it (systemd)
    pub halt_signal: Option<i32>,
    pub reboot_signal: i32,
    pub stop_signal: i32,
    pub cgroup_dir: Option<String>,
    /// the child cgroup that holds init and is the container's cgroup namespace root
    /// (`lxc.cgroup.dir.container.inner`, default [`DEFAULT_CGROUP_INNER`]); limits and
    /// the device policy stay one level up, out of the container's reach
    pub cgroup_inner: String,
    pub cgroup_v1: Vec<(String, String)>,
    pub cgroup_v2: Vec<(String, String)>,
    /// device rules from lxc.cgroup.devices.* (v1) and lxc.cgroup2.devices.* (v2), "allow"/"deny" + rule
    pub devices_v1: Vec<(bool, String)>,
    pub devices_v2: Vec<(bool, String)>,
    pub networks: Vec<NetSpec>,
    pub start_auto: bool,
    pub start_delay: u32,
    pub start_order: i32,
    pub groups: Vec<String>,
    pub ephemeral: bool,
    pub unprivileged: bool,
    /// lxc.hook.* (see [`crate::hooks`])
    #[serde(default)]
    pub hooks: crate::hooks::Hooks,
    /// lxc.sysctl.*, namespaced parameters only (see [`crate::sysctl`])
    #[serde(default)]
    pub sysctls: Vec<crate::sysctl::Sysctl>,
    /// lxc.apparmor.* and lxc.selinux.*, applied where the kernel has the module (crate::lsm)
    #[serde(default)]
    pub lsm: crate::lsm::LsmConfig,
    /// the seccomp filters init, `execute` and attached commands run under, compiled, in
    /// install order (empty: none; see seccomp_hook)
    pub seccomp: Vec<hako_seccomp::Program>,
    pub warnings: Vec<String>,
}

/// The container's inner cgroup (see [`ContainerSpec::cgroup_inner`]).
pub const DEFAULT_CGROUP_INNER: &str = "ns";

/// Keys that change what a container can do to the host. hako honours each one or refuses
/// to start the container naming it (fail closed); it never warns and runs. (The LSM keys,
/// lxc.apparmor.* and lxc.selinux.*, depend on the kernel: see the LSM code.)
const SECURITY_KEYS: &[&str] = &[
    "lxc.idmap",
    "lxc.seccomp.",
    "lxc.keyring.",
    "lxc.hook",
    "lxc.namespace.",
    "lxc.sysctl",
    "lxc.init.groups",
    "lxc.cap.",
    "lxc.no_new_privs",
];

/// Does a config warning talk about a security key? (Those are errors instead.)
fn is_security_warning(msg: &str) -> bool {
    msg.split('"').nth(1).is_some_and(is_security_key)
}

fn is_security_key(key: &str) -> bool {
    SECURITY_KEYS.iter().any(|k| match k.strip_suffix('.') {
        // "lxc.cap." is every lxc.cap.* key
        Some(_) => key.starts_with(k),
        // "lxc.hook" is lxc.hook itself and every lxc.hook.* key
        None => key == *k || key.strip_prefix(k).is_some_and(|r| r.starts_with('.')),
    })
}

/// Refuse a config that sets a security key hako does not implement (see [`SECURITY_KEYS`]).
fn refuse_unsupported_security_keys(name: &str, cfg: &Config) -> Result<()> {
    for item in cfg.with_prefix("lxc.") {
        if !is_security_key(&item.key)
            || hako_config::is_supported(&item.key)
            || item.value.trim().is_empty()
        {
            continue;
        }
        let fix = if item.key == "lxc.idmap" {
            "user namespaces are not implemented by hako yet: remove the lxc.idmap lines (and the include of userns.conf) to run it as a privileged container".to_string()
        } else {
            format!("remove \"{}\" to start it without that setting", item.key)
        };
        return Err(RuntimeError::msg(format!(
            "container \"{name}\": {}: \"{}\" changes the container's security and hako cannot honour it yet, so it does not start the container; {fix}",
            item.origin, item.key
        )));
    }
    // namespaces: hako creates mnt pid uts ipc net cgroup (net: unless lxc.net.0.type =
    // none); a config asking for anything else is refused rather than half-honoured
    let default_ns = ["mnt", "pid", "uts", "ipc", "net", "cgroup"];
    for item in cfg.with_prefix("lxc.namespace.") {
        if item.value.trim().is_empty() {
            continue;
        }
        let why = match item.key.as_str() {
            "lxc.namespace.clone" => {
                let asked = values::parse_namespaces(&item.value).unwrap_or_default();
                let mut a: Vec<&str> = asked.iter().map(String::as_str).collect();
                a.sort_unstable();
                a.dedup();
                let mut d = default_ns.to_vec();
                d.sort_unstable();
                (a != d).then(|| {
                    format!("hako creates exactly the namespaces {} (it cannot leave any out or add user/time yet)", default_ns.join(" "))
                })
            }
            "lxc.namespace.keep" => Some(
                "hako cannot keep the host's namespaces yet (only lxc.net.0.type = none shares the host's network)".to_string(),
            ),
            _ => Some("hako cannot share another container's or process's namespace yet".to_string()),
        };
        if let Some(why) = why {
            return Err(RuntimeError::msg(format!(
                "container \"{name}\": {}: \"{} = {}\" is refused: {why}; remove the line",
                item.origin,
                item.key,
                item.value.trim()
            )));
        }
    }
    Ok(())
}

/// Capabilities hako drops by default: LXC's common.conf set (modules, raw I/O, the
/// clock, the LSM policy), and what else reaches the whole host from a privileged
/// container: the kernel log (syslog, /proc/kmsg), the audit configuration, eBPF and perf
/// events, wake alarms and suspend blocking. `lxc.cap.keep` overrides.
pub const DEFAULT_CAP_DROP: &[&str] = &[
    "sys_module",
    "mac_admin",
    "mac_override",
    "sys_time",
    "sys_rawio",
    "syslog",
    "audit_control",
    "audit_read",
    "bpf",
    "perfmon",
    "wake_alarm",
    "block_suspend",
];

impl ContainerSpec {
    /// Build the spec from a loaded LXC config. `name`/`lxcpath` locate the container.
    pub fn from_config(
        name: &str,
        lxcpath: &Path,
        config_path: &Path,
        cfg: &Config,
    ) -> Result<ContainerSpec> {
        let bad = |key: &str, v: &str, why: String| {
            RuntimeError::msg(format!(
                "container \"{name}\": bad value \"{v}\" for \"{key}\" in {}: {why}",
                config_path.display()
            ))
        };
        let default_rootfs = lxcpath.join(name).join("rootfs");
        let hooks = crate::hooks::Hooks::from_config(name, cfg, &default_rootfs)?;
        let (rootfs, rootfs_overlay) = match cfg.get("lxc.rootfs.path") {
            Some(p) if p.starts_with("overlay:") || p.starts_with("overlayfs:") => {
                let o = parse_overlay(p).ok_or_else(|| {
                    bad(
                        "lxc.rootfs.path",
                        p,
                        "use overlay:LOWER:UPPER (absolute paths; several lowers separated by ':')"
                            .into(),
                    )
                })?;
                (default_rootfs, Some(o))
            }
            Some(p) if !p.is_empty() => (
                parse_rootfs(p).ok_or_else(|| {
                    bad(
                        "lxc.rootfs.path",
                        p,
                        "hako supports dir:PATH, overlay:LOWER:UPPER or a plain directory".into(),
                    )
                })?,
                None,
            ),
            _ => (default_rootfs, None),
        };
        let rootfs_readonly = cfg
            .get("lxc.rootfs.options")
            .map(|o| o.split(',').any(|x| x.trim() == "ro"))
            .unwrap_or(false);

        let init_cmd = match cfg.get("lxc.init.cmd") {
            Some(c) if !c.trim().is_empty() => {
                values::split_command(c).map_err(|e| bad("lxc.init.cmd", c, e.to_string()))?
            }
            _ => vec!["/sbin/init".to_string()],
        };
        let parse_u32 = |key: &str, default: u32| -> Result<u32> {
            match cfg.get(key) {
                Some(v) if !v.trim().is_empty() => v
                    .trim()
                    .parse::<u32>()
                    .map_err(|_| bad(key, v, "not a non-negative integer".into())),
                _ => Ok(default),
            }
        };
        let parse_opt_u32 = |key: &str| -> Result<Option<u32>> {
            match cfg.get(key) {
                Some(v) if !v.trim().is_empty() => v
                    .trim()
                    .parse::<u32>()
                    .map(Some)
                    .map_err(|_| bad(key, v, "not a non-negative integer".into())),
                _ => Ok(None),
            }
        };
        let sig = |key: &str| -> Result<Option<i32>> {
            match cfg.get(key) {
                Some(v) if !v.trim().is_empty() => values::parse_signal(v)
                    .map(Some)
                    .map_err(|e| bad(key, v, e.to_string())),
                _ => Ok(None),
            }
        };

        let mut env = Vec::new();
        for e in cfg.get_list("lxc.environment") {
            let (k, v) = values::parse_environment(e);
            match v {
                Some(v) => env.push((k, v)),
                None => {
                    if let Ok(v) = std::env::var(&k) {
                        env.push((k, v))
                    }
                }
            }
        }

        let mount_auto = match cfg.get_list("lxc.mount.auto") {
            l if l.is_empty() => MountAuto::default(),
            l => values::parse_mount_auto(&l.join(" "))
                .map_err(|e| bad("lxc.mount.auto", &l.join(" "), e.to_string()))?,
        };
        let mut mounts = Vec::new();
        if let Some(item) = cfg.item("lxc.mount.fstab") {
            let fstab = item.value.as_str();
            // bounded: a FIFO or /dev/zero named here is refused, not read forever; the
            // error points at the line that names the file
            let text = hako_config::read_bounded_text(
                Path::new(fstab),
                hako_config::read::CONFIG_LIMIT,
            )
            .map_err(|e| {
                RuntimeError::msg(format!(
                    "{}: container \"{name}\": cannot read lxc.mount.fstab file {fstab}: {}; fix the path or remove the line",
                    item.origin,
                    e.reason(),
                ))
            })?;
            mounts.extend(
                values::parse_fstab(&text)
                    .map_err(|e| bad("lxc.mount.fstab", fstab, e.to_string()))?,
            );
        }
        for e in cfg.get_list("lxc.mount.entry") {
            mounts.push(
                values::parse_mount_entry(e)
                    .map_err(|err| bad("lxc.mount.entry", e, err.to_string()))?,
            );
        }

        let cap_drop_cfg = cfg.get_list("lxc.cap.drop");
        let mut cap_drop: Vec<String> = DEFAULT_CAP_DROP.iter().map(|s| s.to_string()).collect();
        for d in &cap_drop_cfg {
            for c in values::parse_caps(d).map_err(|e| bad("lxc.cap.drop", d, e.to_string()))? {
                if !cap_drop.contains(&c) {
                    cap_drop.push(c);
                }
            }
        }
        // LXC semantics: "none" clears what came before; an empty list keeps nothing extra
        let cap_keep = match cfg.cap_keep() {
            Ok(k) => k,
            Err(e) => return Err(RuntimeError::msg(format!("container \"{name}\": {e}"))),
        };

        let mut prlimits = Vec::new();
        for item in cfg.with_prefix("lxc.prlimit.") {
            let res = &item.key["lxc.prlimit.".len()..];
            let (resource, soft, hard) = values::parse_prlimit(res, &item.value)
                .map_err(|e| bad(&item.key, &item.value, e.to_string()))?;
            prlimits.retain(|p: &Prlimit| p.resource != resource);
            prlimits.push(Prlimit {
                resource,
                soft,
                hard,
            });
        }

        let split_dev = |items: Vec<(&str, &str)>| {
            let mut out = Vec::new();
            let mut rest = Vec::new();
            for (k, v) in items {
                match k {
                    "devices.allow" => out.push((true, v.to_string())),
                    "devices.deny" => out.push((false, v.to_string())),
                    _ => rest.push((k.to_string(), v.to_string())),
                }
            }
            (out, rest)
        };
        let (devices_v1, cgroup_v1) = split_dev(cfg.cgroup_keys(false));
        let (devices_v2, cgroup_v2) = split_dev(cfg.cgroup_keys(true));

        let mut networks = Vec::new();
        let mut share_host_net = false;
        for i in cfg.net_indices() {
            let Some(kind) = cfg.net_value(i, "type", netval::parse_net_type)? else {
                continue;
            };
            if kind == NetKind::None {
                share_host_net = true;
            }
            let s = |k: &str| cfg.net(i, k).filter(|v| !v.is_empty()).map(String::from);
            networks.push(NetSpec {
                index: i,
                kind,
                link: s("link"),
                name: s("name"),
                hwaddr: cfg.net_value(i, "hwaddr", netval::parse_hwaddr)?,
                mtu: cfg.net_value(i, "mtu", netval::parse_mtu)?,
                up: cfg
                    .net(i, "flags")
                    .map(|f| f.trim() == "up")
                    .unwrap_or(false),
                ipv4: cfg.net_values(i, "ipv4.address", netval::parse_ipv4_cidr)?,
                ipv4_gateway: cfg.net_value(i, "ipv4.gateway", netval::parse_ipv4_gateway)?,
                ipv6: cfg.net_values(i, "ipv6.address", netval::parse_ipv6_cidr)?,
                ipv6_gateway: cfg.net_value(i, "ipv6.gateway", netval::parse_ipv6_gateway)?,
                veth_pair: s("veth.pair"),
                veth_mode: s("veth.mode"),
                macvlan_mode: s("macvlan.mode"),
                script_up: s("script.up"),
                script_down: s("script.down"),
            });
        }
        if share_host_net && networks.len() > 1 {
            return Err(RuntimeError::msg(format!(
                "container \"{name}\": lxc.net.N.type = none shares the host's network and cannot be combined with other interfaces; remove the other lxc.net entries from {}",
                config_path.display()
            )));
        }

        let sysctls = crate::sysctl::from_config(name, cfg, !share_host_net)?;

        let console_path = cfg.get("lxc.console.path").unwrap_or("");
        let console = console_path != "none";
        let console_logfile = match cfg.get("lxc.console.logfile") {
            Some(p) if !p.is_empty() => Some(PathBuf::from(p)),
            _ => None,
        };

        let autodev = match cfg.get("lxc.autodev") {
            Some(v) if !v.trim().is_empty() => {
                values::parse_bool(v).map_err(|e| bad("lxc.autodev", v, e.to_string()))?
            }
            _ => true,
        };
        let autodev_tmpfs_size = match cfg.get("lxc.autodev.tmpfs.size") {
            Some(v) if !v.trim().is_empty() => values::parse_size(v)
                .map_err(|e| bad("lxc.autodev.tmpfs.size", v, e.to_string()))?,
            _ => 500_000,
        };

        refuse_unsupported_security_keys(name, cfg)?;
        let mut warnings: Vec<String> = cfg
            .warnings
            .iter()
            .filter(|w| {
                !(w.message.contains("not supported by hako yet")
                    && is_security_warning(&w.message))
            })
            .map(|w| w.to_string())
            .collect();
        let unprivileged = false;
        let init_groups = {
            let mut g = Vec::new();
            for item in cfg.list_items("lxc.init.groups") {
                g.extend(
                    values::parse_groups(&item.value)
                        .map_err(|e| bad("lxc.init.groups", &item.value, e.to_string()))?,
                );
            }
            g
        };

        let (seccomp, seccomp_warnings) = crate::seccomp_hook::from_config(name, config_path, cfg)?;
        warnings.extend(seccomp_warnings);

        let bool_key = |key: &str| -> Result<bool> {
            match cfg.get(key) {
                Some(v) if !v.trim().is_empty() => {
                    values::parse_bool(v).map_err(|e| bad(key, v, e.to_string()))
                }
                _ => Ok(false),
            }
        };

        let lsm =
            crate::lsm::LsmConfig::from_config(cfg).map_err(|(k, v, why)| bad(&k, &v, why))?;

        Ok(ContainerSpec {
            name: name.to_string(),
            lxcpath: lxcpath.to_path_buf(),
            config_path: config_path.to_path_buf(),
            rootfs,
            rootfs_overlay,
            rootfs_readonly,
            // without lxc.uts.name: the name, made a valid host name (web_1 → web-1)
            hostname: cfg
                .get("lxc.uts.name")
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .unwrap_or_else(|| values::hostname_from_name(name)),
            init_cmd,
            init_mode: InitMode::Exec,
            init_cwd: cfg
                .get("lxc.init.cwd")
                .filter(|s| !s.is_empty())
                .map(PathBuf::from),
            init_groups,
            init_uid: parse_opt_u32("lxc.init.uid")?,
            init_gid: parse_opt_u32("lxc.init.gid")?,
            env,
            share_host_net,
            mount_auto,
            mounts,
            autodev,
            autodev_tmpfs_size,
            console,
            console_logfile,
            tty_max: match parse_u32("lxc.tty.max", 0)? {
                // each tty and the console pass to the monitor as two fds in one message
                // (SCM_MAX_FD = 253)
                n if n > MAX_TTYS => {
                    return Err(bad(
                        "lxc.tty.max",
                        &n.to_string(),
                        format!("at most {MAX_TTYS} ttys are supported; lower it"),
                    ))
                }
                n => n,
            },
            pty_max: parse_u32("lxc.pty.max", 1024)?,
            cap_drop,
            cap_keep,
            prlimits,
            no_new_privs: bool_key("lxc.no_new_privs")?,
            keyring_session: match cfg.get("lxc.keyring.session") {
                Some(v) if !v.trim().is_empty() => values::parse_bool(v)
                    .map_err(|e| bad("lxc.keyring.session", v, e.to_string()))?,
                _ => true,
            },
            halt_signal: sig("lxc.signal.halt")?,
            reboot_signal: sig("lxc.signal.reboot")?.unwrap_or(libc::SIGINT),
            stop_signal: sig("lxc.signal.stop")?.unwrap_or(libc::SIGKILL),
            cgroup_dir: cfg
                .get("lxc.cgroup.dir")
                .filter(|s| !s.is_empty())
                .map(String::from),
            cgroup_inner: match cfg.get("lxc.cgroup.dir.container.inner") {
                Some(v) if !v.trim().is_empty() => {
                    let v = v.trim();
                    if v.contains('/') || v == "." || v == ".." || v.chars().any(char::is_control) {
                        return Err(bad(
                            "lxc.cgroup.dir.container.inner",
                            v,
                            "give one directory name such as \"ns\"".into(),
                        ));
                    }
                    v.to_string()
                }
                _ => DEFAULT_CGROUP_INNER.to_string(),
            },
            cgroup_v1,
            cgroup_v2,
            devices_v1,
            devices_v2,
            networks,
            start_auto: bool_key("lxc.start.auto")?,
            start_delay: parse_u32("lxc.start.delay", 0)?,
            start_order: cfg
                .get("lxc.start.order")
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0),
            groups: cfg
                .get_list("lxc.group")
                .iter()
                .flat_map(|g| g.split(|c: char| c == ',' || c.is_whitespace()))
                .filter(|g| !g.is_empty())
                .map(String::from)
                .collect(),
            ephemeral: bool_key("lxc.ephemeral")?,
            unprivileged,
            hooks,
            sysctls,
            lsm,
            seccomp,
            warnings,
        })
    }

    /// lxc.cap.drop / lxc.cap.keep as a mask of capability numbers to drop.
    pub fn dropped_caps(&self) -> u64 {
        let mut mask = 0u64;
        for c in caps::all() {
            let n = crate::child::cap_name(c);
            let drop = match &self.cap_keep {
                Some(keep) => !keep.contains(&n),
                None => self.cap_drop.contains(&n),
            };
            if drop && c.index() < 64 {
                mask |= 1 << c.index();
            }
        }
        mask
    }

    /// Does the container get its own network namespace?
    pub fn new_netns(&self) -> bool {
        !self.share_host_net
    }
}

/// `overlay:LOWER[:LOWER...]:UPPER` (LXC's form; `overlayfs:` too). The work directory is
/// `work` next to UPPER.
pub fn parse_overlay(v: &str) -> Option<Overlay> {
    let rest = v
        .strip_prefix("overlay:")
        .or_else(|| v.strip_prefix("overlayfs:"))?;
    let parts: Vec<&str> = rest.split(':').collect();
    if parts.len() < 2 || parts.iter().any(|p| !p.starts_with('/')) {
        return None;
    }
    let upper = PathBuf::from(parts[parts.len() - 1]);
    let work = upper.parent()?.join("work");
    let lower = parts[..parts.len() - 1].iter().map(PathBuf::from).collect();
    Some(Overlay { lower, upper, work })
}

/// `dir:/path`, or a plain absolute path.
pub fn parse_rootfs(v: &str) -> Option<PathBuf> {
    // a btrfs subvolume is mounted like a directory
    if let Some(p) = v.strip_prefix("dir:").or_else(|| v.strip_prefix("btrfs:")) {
        return Some(PathBuf::from(p));
    }
    if v.starts_with('/') {
        return Some(PathBuf::from(v));
    }
    None
}
