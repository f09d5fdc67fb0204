//! [`ContainerSpec`] and its parts that need no module of their own.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use hako_config::net::{Gateway, HwAddr, Ipv4Cidr, Ipv6Cidr};

use serde::{Deserialize, Serialize};

use crate::ext::{CapSets, CgroupsPath, DeviceNode, MountIdmap, NsRequest, OciHook};
use crate::hooks::Hooks;
use crate::lsm::LsmConfig;
use crate::mount::{Mount, MountAuto};
use crate::resources::Resources;
use crate::sysctl::Sysctl;

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

/// A resource limit (setrlimit(2)) of the container's processes.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Prlimit {
    /// the Linux RLIMIT_* number
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

/// Which ids an [`IdMap`] maps.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum IdKind {
    Uid,
    Gid,
}

/// One range of a user namespace's id map: `count` ids from `container` inside are
/// `host` and up outside (`lxc.idmap = u|g CONTAINER HOST COUNT`).
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct IdMap {
    pub kind: IdKind,
    pub container: u32,
    pub host: u32,
    pub count: u32,
}

/// The namespaces the container's init is created in (true: a new one of its own; false:
/// the host's).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Namespaces {
    pub mnt: bool,
    pub pid: bool,
    pub uts: bool,
    pub ipc: bool,
    pub net: bool,
    pub cgroup: bool,
    pub user: bool,
}

/// The most `lxc.tty.max` can ask for.
pub const MAX_TTYS: u32 = 120;

/// The container's inner cgroup (see [`ContainerSpec::cgroup_inner`]).
pub const DEFAULT_CGROUP_INNER: &str = "ns";

/// SIGINT and SIGKILL (Linux numbers): the default reboot and stop signals.
pub const SIGINT: i32 = 2;
pub const SIGKILL: i32 = 9;

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

/// The one internal model of a container: what every front end (LXC config, CLI flags,
/// later OCI config.json) produces, and all the runtime consumes. Values are parsed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ContainerSpec {
    pub name: String,
    pub lxcpath: PathBuf,
    pub config_path: PathBuf,
    // -- root filesystem and mounts
    /// host path of the root filesystem (for an overlay: where it is mounted, inside the
    /// container's own mount namespace only)
    pub rootfs: PathBuf,
    /// `lxc.rootfs.path = overlay:LOWER[:LOWER...]:UPPER`: the layers
    #[serde(default)]
    pub rootfs_overlay: Option<Overlay>,
    pub rootfs_readonly: bool,
    pub mount_auto: MountAuto,
    /// in mount order
    pub mounts: Vec<Mount>,
    pub autodev: bool,
    pub autodev_tmpfs_size: u64,
    // -- namespaces
    pub hostname: String,
    pub share_host_net: bool,
    /// user namespace id maps (empty: no user namespace)
    #[serde(default)]
    pub id_maps: Vec<IdMap>,
    // -- process
    pub init_cmd: Vec<String>,
    pub init_mode: InitMode,
    pub init_cwd: Option<PathBuf>,
    /// lxc.init.groups: init's supplementary groups (empty: none)
    pub init_groups: Vec<u32>,
    pub init_uid: Option<u32>,
    pub init_gid: Option<u32>,
    /// extra environment for init (lxc.environment), after container=lxc
    pub env: Vec<(String, String)>,
    /// capability names (lowercase, without `cap_`) to drop
    pub cap_drop: Vec<String>,
    /// Some: keep only these (lxc.cap.keep); takes precedence over cap_drop
    pub cap_keep: Option<Vec<String>>,
    pub prlimits: Vec<Prlimit>,
    pub no_new_privs: bool,
    /// lxc.keyring.session (default on): init and attached processes start with a new,
    /// empty session keyring of their own; off (LXC's meaning): they keep the caller's
    pub keyring_session: bool,
    /// the seccomp filters init, `execute` and attached commands run under, compiled, in
    /// install order (empty: none)
    pub seccomp: Vec<hako_seccomp::Program>,
    // -- console
    /// /dev/console on a pty the monitor holds (false: lxc.console.path = none)
    pub console: bool,
    pub console_logfile: Option<PathBuf>,
    pub tty_max: u32,
    pub pty_max: u32,
    // -- signals
    /// None: SIGPWR, or SIGRTMIN+3 when init blocks it (systemd)
    pub halt_signal: Option<i32>,
    pub reboot_signal: i32,
    pub stop_signal: i32,
    // -- cgroups and devices
    pub cgroup_dir: Option<String>,
    /// the child cgroup that holds init and is the container's cgroup namespace root
    /// (`lxc.cgroup.dir.container.inner`, default [`DEFAULT_CGROUP_INNER`]); limits and
    /// the device policy stay one level up, out of the container's reach
    pub cgroup_inner: String,
    /// controller files and values (`memory.max`, `512M`), v1 and v2, in order
    pub cgroup_v1: Vec<(String, String)>,
    pub cgroup_v2: Vec<(String, String)>,
    /// device rules from lxc.cgroup.devices.* (v1) and lxc.cgroup2.devices.* (v2), "allow"/"deny" + rule
    pub devices_v1: Vec<(bool, String)>,
    pub devices_v2: Vec<(bool, String)>,
    // -- network
    pub networks: Vec<NetSpec>,
    // -- autostart and lifetime
    pub start_auto: bool,
    pub start_delay: u32,
    pub start_order: i32,
    pub groups: Vec<String>,
    pub ephemeral: bool,
    pub unprivileged: bool,
    // -- hooks, kernel parameters, security modules
    /// lxc.hook.*
    #[serde(default)]
    pub hooks: Hooks,
    /// lxc.sysctl.*, namespaced parameters only
    #[serde(default)]
    pub sysctls: Vec<Sysctl>,
    /// lxc.apparmor.* and lxc.selinux.*, applied where the kernel has the module
    #[serde(default)]
    pub lsm: LsmConfig,
    pub warnings: Vec<String>,
    // -- what OCI's config.json can ask for beyond the LXC keys. The defaults (what the
    // LXC front end sets) leave a container as it always was; the runtime does not carry
    // these out yet: `unsupported_by_runtime` lists every one that is set.
    /// `process.capabilities`: the five sets, exactly (None: `cap_drop`/`cap_keep`)
    #[serde(default)]
    pub cap_sets: Option<CapSets>,
    /// `linux.namespaces`: which namespaces are new, which joined by path, the others the
    /// host's (None: the front end's fixed set, [`ContainerSpec::namespaces`])
    #[serde(default)]
    pub oci_namespaces: Option<NsRequest>,
    /// `process.user.umask` (None: inherited, as LXC)
    #[serde(default)]
    pub umask: Option<u32>,
    /// `process.oomScoreAdj` (None: inherited)
    #[serde(default)]
    pub oom_score_adj: Option<i32>,
    /// `process.env` is the process's whole environment (true: OCI) instead of coming
    /// after the LXC base environment (`container=lxc`, false)
    #[serde(default)]
    pub env_exact: bool,
    /// `process.terminal`: the process gets a new pty as its stdio, and the pty's master
    /// goes to the caller's console socket (false: LXC's console, [`ContainerSpec::console`])
    #[serde(default)]
    pub terminal: bool,
    /// `domainname` (None: left as it is)
    #[serde(default)]
    pub domainname: Option<String>,
    /// `linux.maskedPaths`: made unreadable in the container (an empty read-only tmpfs on
    /// a directory, /dev/null on a file)
    #[serde(default)]
    pub masked_paths: Vec<String>,
    /// `linux.readonlyPaths`: bind-mounted read-only onto themselves
    #[serde(default)]
    pub readonly_paths: Vec<String>,
    /// `linux.rootfsPropagation`: MS_SHARED/MS_SLAVE/MS_PRIVATE/MS_UNBINDABLE (with
    /// MS_REC) for the container's mounts (None: the runtime's own choice)
    #[serde(default)]
    pub rootfs_propagation: Option<u64>,
    /// `hooks`: OCI hooks, in stage order then config order (LXC's are in `hooks`)
    #[serde(default)]
    pub oci_hooks: Vec<OciHook>,
    /// `annotations`: free-form, kept for the state and hooks
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// the OCI default devices (runtime spec config-linux.md: /dev/null, zero, full,
    /// random, urandom, tty, console, ptmx) and /dev's symlinks (fd, stdin, stdout,
    /// stderr), made whatever config.json lists (false: LXC's `autodev`)
    #[serde(default)]
    pub oci_default_devices: bool,
    /// `linux.devices`: device nodes created in the container
    #[serde(default)]
    pub devices: Vec<DeviceNode>,
    /// `mounts[].uidMappings`/`gidMappings`: idmapped mounts with maps of their own
    #[serde(default)]
    pub mount_idmaps: Vec<MountIdmap>,
    /// `linux.cgroupsPath` (None: LXC's `cgroup_dir`)
    #[serde(default)]
    pub cgroups_path: Option<CgroupsPath>,
    /// `linux.resources`: typed limits, written per the host's layout (None: the LXC
    /// `cgroup_v1`/`cgroup_v2`/`devices_*` lists alone)
    #[serde(default)]
    pub resources: Option<Resources>,
}

impl ContainerSpec {
    /// lxc.cap.drop / lxc.cap.keep as a mask of capability numbers to drop.
    pub fn dropped_caps(&self) -> u64 {
        let mut mask = 0u64;
        for (n, name) in hako_config::values::CAPABILITIES.iter().enumerate() {
            let drop = match &self.cap_keep {
                Some(keep) => !keep.iter().any(|k| k == name),
                None => self.cap_drop.iter().any(|d| d == name),
            };
            if drop && n < 64 {
                mask |= 1 << n;
            }
        }
        mask
    }

    /// Does the container get its own network namespace?
    pub fn new_netns(&self) -> bool {
        !self.share_host_net
    }

    /// The namespaces init is created in.
    pub fn namespaces(&self) -> Namespaces {
        Namespaces {
            mnt: true,
            pid: true,
            uts: true,
            ipc: true,
            net: self.new_netns(),
            // an OCI config.json without a cgroup namespace: the host's
            cgroup: match &self.oci_namespaces {
                Some(ns) => ns.new.contains(&crate::ext::NsKind::Cgroup),
                None => true,
            },
            user: !self.id_maps.is_empty(),
        }
    }
}

/// The conventional name of a signal number (`SIGPWR`, `SIGRTMIN+3`), or the number.
pub fn signal_name(num: i32) -> String {
    hako_config::values::signal_name(num)
}
