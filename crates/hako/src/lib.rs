//! hako: the library facade. A [`Container`] handle does everything a front end needs
//! (the `hako` CLI, the `lxc-*` names, later the OCI front end, the tests). Front ends parse
//! and print; the logic is here and in the crates below.

use std::path::{Path, PathBuf};

pub mod autostart;
pub mod cli;
pub mod container;
pub mod device;
pub mod error;
pub mod files;
pub mod host_limits;
pub mod network;
pub mod oci;
pub mod rootless;
pub mod storage;
pub mod unshare;
pub mod usernsexec;
pub use error::{Error, Result};

/// Which face the binary shows: `hako ...` or an `lxc-*` name. It decides defaults that
/// differ (lxcpath, system config files).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavour {
    Hako,
    Lxc,
}

/// Container states, LXC's names: the runtime's, which the monitor reports.
pub use hako_runtime::protocol::State;

/// Where containers live: the resolved lxcpath plus the face we were called through.
#[derive(Clone, Debug)]
pub struct Context {
    pub lxcpath: PathBuf,
    pub flavour: Flavour,
}

impl Context {
    /// Resolve the lxcpath: explicit `-P`, then `HAKO_PATH` (hako face), then the system
    /// config (`/etc/hako/hako.conf` or `/etc/lxc/lxc.conf`), then the default
    /// (`/var/lib/hako` or `/var/lib/lxc`). A non-root caller's config and default are in
    /// its home (`~/.config/...`, `~/.local/share/{hako,lxc}`), its runtime files in
    /// `$XDG_RUNTIME_DIR/hako`: without that variable this fails, saying how to get one.
    pub fn new(flavour: Flavour, explicit_lxcpath: Option<&Path>) -> Result<Context> {
        hako_store::runtime_dir()?;
        let lxcpath = hako_store::resolve_lxcpath(
            match flavour {
                Flavour::Hako => hako_store::Flavour::Hako,
                Flavour::Lxc => hako_store::Flavour::Lxc,
            },
            explicit_lxcpath,
        )?;
        Ok(Context { lxcpath, flavour })
    }

    pub fn container(&self, name: &str) -> Result<Container> {
        Container::new(self.clone(), name)
    }

    /// Names of all containers in the lxcpath, sorted.
    pub fn list(&self) -> Result<Vec<String>> {
        Ok(self.store().list()?)
    }

    pub fn store(&self) -> hako_store::Store {
        hako_store::Store::open(&self.lxcpath, self.store_flavour())
    }

    fn store_flavour(&self) -> hako_store::Flavour {
        match self.flavour {
            Flavour::Hako => hako_store::Flavour::Hako,
            Flavour::Lxc => hako_store::Flavour::Lxc,
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct CreateOptions {
    /// `-t`: "busybox", "none", or a path to an LXC template script.
    pub template: Option<String>,
    /// arguments after `--`, passed to the template.
    pub template_args: Vec<String>,
    /// `-f`: extra config file merged into the new config.
    pub config_file: Option<PathBuf>,
    /// `-B`: backing store (only "dir" for now).
    pub backing: Option<String>,
    pub quiet: bool,
    /// Whose ids the container's root has: the `hako` face gives it a range of its own
    /// (`--unprivileged`, the default once [`hako_store::UNPRIVILEGED_BY_DEFAULT`] is on)
    /// or none (`--privileged`); `lxc-create` leaves it to the config.
    pub ids: hako_store::IdMapping,
}

#[derive(Clone, Debug, Default)]
pub struct StartOptions {
    /// `-F`: stay in the foreground with the console on this terminal.
    pub foreground: bool,
    /// `-f`: use this config file instead of the container's.
    pub config_file: Option<PathBuf>,
    /// `-s KEY=VAL`: config overrides.
    pub overrides: Vec<(String, String)>,
    /// command after `--`: replaces lxc.init.cmd.
    pub command: Vec<String>,
    /// `-c FILE`: console output goes to this file (foreground) instead of the terminal.
    pub console_file: Option<PathBuf>,
    /// `-L FILE`: console log file.
    pub console_log: Option<PathBuf>,
    /// `-p FILE`: write the init pid here.
    pub pidfile: Option<PathBuf>,
    /// `-C`: close all fds (lxc-start -C); we always do, the flag is accepted.
    pub close_all_fds: bool,
}

#[derive(Clone, Debug, Default)]
pub struct StopOptions {
    /// `-t SECS`: graceful timeout; None = 60 s; Some(-1) = wait forever.
    pub timeout: Option<i64>,
    /// `-k`: kill at once.
    pub kill: bool,
    /// `-r`: reboot in place.
    pub reboot: bool,
    /// `-W`: do not wait for the state change.
    pub nowait: bool,
    /// `--nokill`: only ask for a clean shutdown; if it has not happened when the timeout
    /// passes, fail and leave the container running.
    pub nokill: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum EnvPolicy {
    /// keep the caller's environment (lxc-attach's default, `--keep-env`)
    #[default]
    Keep,
    /// `--clear-env`: only container=lxc, PATH, and `-v` vars
    Clear,
}

#[derive(Clone, Debug, Default)]
pub struct AttachOptions {
    pub command: Vec<String>,
    pub env_policy: EnvPolicy,
    /// `-v VAR=VAL` (repeatable)
    pub set_env: Vec<(String, String)>,
    /// `--keep-var VAR`: with --clear-env, keep this one
    pub keep_vars: Vec<String>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// `-t/--pty` forcing is not needed: a pty is allocated when stdin is a terminal.
    pub cwd: Option<PathBuf>,
    /// `-e/--elevated-privileges[=CAP|CGROUP|LSM]`
    pub elevated: hako_runtime::attach::Elevated,
    /// `-L/--pty-log FILE`: the command's terminal output appended to FILE too
    pub pty_log: Option<PathBuf>,
    /// `-s/--namespaces`: join only these (None: all)
    pub namespaces: Option<nix::sched::CloneFlags>,
    /// `-R/--remount-sys-proc`
    pub remount_sys_proc: bool,
}

#[derive(Clone, Debug, Default)]
pub struct ExecuteOptions {
    pub command: Vec<String>,
    pub config_file: Option<PathBuf>,
    pub overrides: Vec<(String, String)>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
}

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct NetInfo {
    pub name: String,
    pub link: Option<String>,
    pub ipv4: Vec<String>,
    pub ipv6: Vec<String>,
    pub tx_bytes: Option<u64>,
    pub rx_bytes: Option<u64>,
}

/// What `info` reports.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Info {
    pub name: String,
    pub state: State,
    pub pid: Option<i32>,
    pub cpu_ns: Option<u64>,
    pub blkio_bytes: Option<u64>,
    pub memory_bytes: Option<u64>,
    pub kmem_bytes: Option<u64>,
    pub pids: Option<u64>,
    pub ips: Vec<String>,
    pub interfaces: Vec<NetInfo>,
    pub autostart: bool,
    pub groups: Vec<String>,
    /// root in the container is an unprivileged user on the host: the config maps ids
    /// (`lxc.idmap`) and none of them to host root
    pub unprivileged: bool,
    /// the config's `lxc.idmap` lines (`id_maps` in JSON); read from the config, so shown
    /// for a stopped container too
    pub id_maps: Vec<IdMapInfo>,
    /// root in the container is root on the host (no user namespace): what only a user
    /// namespace closes stays open (README, "Security")
    pub privileged: bool,
    /// AppArmor and SELinux for this container on this kernel (`apparmor`, `selinux` in JSON)
    #[serde(flatten)]
    pub lsm: LsmInfo,
}

impl Info {
    /// Nothing known yet but the name and the state: no counters, no network, no id maps
    /// (so privileged).
    pub fn empty(name: &str, state: State) -> Info {
        Info {
            name: name.to_string(),
            state,
            pid: None,
            cpu_ns: None,
            blkio_bytes: None,
            memory_bytes: None,
            kmem_bytes: None,
            pids: None,
            ips: Vec::new(),
            interfaces: Vec::new(),
            autostart: false,
            groups: Vec::new(),
            unprivileged: false,
            id_maps: Vec::new(),
            privileged: true,
            lsm: LsmInfo::default(),
        }
    }
}

/// One `lxc.idmap` line: `count` ids from `container` inside are `host` and up outside.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct IdMapInfo {
    /// "u" (uids) or "g" (gids)
    pub kind: &'static str,
    pub container: u32,
    pub host: u32,
    pub count: u32,
}

impl IdMapInfo {
    /// The `lxc.idmap` values of a config, parsed (a value that is no id map is skipped:
    /// loading the config for a start reports it).
    pub fn from_values<'a>(values: impl IntoIterator<Item = &'a str>) -> Vec<IdMapInfo> {
        values
            .into_iter()
            .filter_map(|v| hako_config::values::parse_idmap(v).ok())
            .map(|m| IdMapInfo {
                kind: match m.kind {
                    hako_config::values::IdKind::Uid => "u",
                    hako_config::values::IdKind::Gid => "g",
                },
                container: m.ns_id,
                host: m.host_id,
                count: m.range,
            })
            .collect()
    }

    /// Is root in the container unprivileged with these maps: some map, and host uid 0
    /// in none of the uid maps?
    pub fn unprivileged(maps: &[IdMapInfo]) -> bool {
        !maps.is_empty() && !maps.iter().any(|m| m.kind == "u" && m.host == 0)
    }
}

impl std::fmt::Display for IdMapInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} {} {}",
            self.kind, self.container, self.host, self.count
        )
    }
}

/// The security modules' lines of `info`.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct LsmInfo {
    pub apparmor: hako_runtime::lsm::LsmStatus,
    pub selinux: hako_runtime::lsm::LsmStatus,
}

pub use container::Container;
