//! The LXC front end: a loaded LXC config (hako-config's typed view, `lxc.include`
//! expanded, every value already checked) translated into a [`ContainerSpec`]. Pure: the
//! files the config names (`lxc.mount.fstab`, `lxc.seccomp.profile`) and the caller's
//! environment come through [`Inputs`]. Each error names the file:line of the setting.
//!
//! - this file: [`from_config`] and the keys that are one value each;
//! - [`parts`]: root filesystem, mounts, hooks, network interfaces, cgroups;
//! - [`security`]: capabilities, security keys hako refuses, sysctls, seccomp, LSMs.

use std::path::{Path, PathBuf};

use hako_config::values;
pub use hako_config::{Config, Item};

use crate::error::{ErrorKind, Origin, Result, SpecError};
use crate::inputs::Inputs;
use crate::spec::{ContainerSpec, InitMode, DEFAULT_CGROUP_INNER, MAX_TTYS, SIGINT, SIGKILL};

mod parts;
mod security;
#[cfg(test)]
mod tests;

pub use parts::{parse_overlay, parse_rootfs};
pub use security::SECCOMP_UNCONFINED;

/// Build the spec of container `name` in `lxcpath` from its loaded config (read from
/// `config_path`; `cfg` may carry `-s KEY=VALUE` overrides too).
pub fn from_config(
    name: &str,
    lxcpath: &Path,
    config_path: &Path,
    cfg: &Config,
    inputs: &dyn Inputs,
) -> Result<ContainerSpec> {
    let x = Lxc {
        name,
        config_path,
        cfg,
    };
    let default_rootfs = lxcpath.join(name).join("rootfs");
    let hooks = x.hooks(&default_rootfs)?;
    let (rootfs, rootfs_overlay) = x.rootfs(default_rootfs)?;
    let rootfs_readonly = cfg
        .get("lxc.rootfs.options")
        .map(|o| o.split(',').any(|x| x.trim() == "ro"))
        .unwrap_or(false);
    let init_cmd = match x.set("lxc.init.cmd") {
        Some(it) => values::split_command(&it.value).map_err(|e| x.bad(it, e))?,
        None => vec!["/sbin/init".to_string()],
    };
    let env = x.environment(inputs);
    let mount_auto = x.mount_auto()?;
    let mounts = x.mounts(inputs)?;
    let (cap_drop, cap_keep) = x.caps()?;
    let prlimits = x.prlimits()?;
    let (devices_v1, cgroup_v1) = parts::split_devices(cfg.cgroup_keys(false));
    let (devices_v2, cgroup_v2) = parts::split_devices(cfg.cgroup_keys(true));
    let (networks, share_host_net) = x.networks()?;
    let sysctls = x.sysctls(!share_host_net)?;
    let console = cfg.get("lxc.console.path").unwrap_or("") != "none";
    let console_logfile = cfg
        .get("lxc.console.logfile")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from);
    let autodev = x.bool_or("lxc.autodev", true)?;
    let autodev_tmpfs_size = match x.set("lxc.autodev.tmpfs.size") {
        Some(it) => values::parse_size(&it.value).map_err(|e| x.bad(it, e))?,
        None => 500_000,
    };
    x.refuse_unsupported_security_keys()?;
    let mut warnings = x.warnings();
    let id_maps = x.id_maps()?;
    let init_groups = {
        let mut g = Vec::new();
        for it in cfg.list_items("lxc.init.groups") {
            g.extend(values::parse_groups(&it.value).map_err(|e| x.bad(it, e))?);
        }
        g
    };
    let (seccomp, seccomp_warnings) = x.seccomp(inputs)?;
    warnings.extend(seccomp_warnings);
    let lsm = x.lsm()?;
    // the rest in the order the keys were always checked (the first error is reported)
    let init_uid = x.opt_u32("lxc.init.uid")?;
    let init_gid = x.opt_u32("lxc.init.gid")?;
    let tty_max = match x.u32_or("lxc.tty.max", 0)? {
        // each tty and the console pass to the monitor as two fds in one message
        // (SCM_MAX_FD = 253)
        n if n > MAX_TTYS => {
            return Err(x.bad_value(
                x.set("lxc.tty.max"),
                "lxc.tty.max",
                &n.to_string(),
                format!("at most {MAX_TTYS} ttys are supported; lower it"),
            ))
        }
        n => n,
    };
    let pty_max = x.u32_or("lxc.pty.max", 1024)?;
    let no_new_privs = x.bool_or("lxc.no_new_privs", false)?;
    let keyring_session = x.bool_or("lxc.keyring.session", true)?;
    let halt_signal = x.signal("lxc.signal.halt")?;
    let reboot_signal = x.signal("lxc.signal.reboot")?.unwrap_or(SIGINT);
    let stop_signal = x.signal("lxc.signal.stop")?.unwrap_or(SIGKILL);
    let cgroup_inner = x.cgroup_inner()?;
    let start_auto = x.bool_or("lxc.start.auto", false)?;
    let start_delay = x.u32_or("lxc.start.delay", 0)?;
    let ephemeral = x.bool_or("lxc.ephemeral", false)?;

    Ok(ContainerSpec {
        name: name.to_string(),
        lxcpath: lxcpath.to_path_buf(),
        config_path: config_path.to_path_buf(),
        rootfs,
        rootfs_overlay,
        rootfs_readonly,
        mount_auto,
        mounts,
        autodev,
        autodev_tmpfs_size,
        // without lxc.uts.name: the name, made a valid host name (web_1 → web-1)
        hostname: cfg
            .get("lxc.uts.name")
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .unwrap_or_else(|| values::hostname_from_name(name)),
        share_host_net,
        id_maps,
        init_cmd,
        init_mode: InitMode::Exec,
        init_cwd: cfg
            .get("lxc.init.cwd")
            .filter(|s| !s.is_empty())
            .map(PathBuf::from),
        init_groups,
        init_uid,
        init_gid,
        env,
        cap_drop,
        cap_keep,
        prlimits,
        no_new_privs,
        keyring_session,
        seccomp,
        console,
        console_logfile,
        tty_max,
        pty_max,
        halt_signal,
        reboot_signal,
        stop_signal,
        cgroup_dir: cfg
            .get("lxc.cgroup.dir")
            .filter(|s| !s.is_empty())
            .map(String::from),
        cgroup_inner,
        cgroup_v1,
        cgroup_v2,
        devices_v1,
        devices_v2,
        networks,
        start_auto,
        start_delay,
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
        ephemeral,
        unprivileged: false,
        hooks,
        sysctls,
        lsm,
        warnings,
        cap_sets: None,
        oci_namespaces: None,
        umask: None,
        oom_score_adj: None,
        env_exact: false,
        terminal: false,
        domainname: None,
        masked_paths: Vec::new(),
        readonly_paths: Vec::new(),
        rootfs_propagation: None,
        oci_hooks: Vec::new(),
        annotations: Default::default(),
        oci_default_devices: false,
        devices: Vec::new(),
        mount_idmaps: Vec::new(),
        cgroups_path: None,
        resources: None,
    })
}

/// One translation: the container's name, its config file and its loaded config.
struct Lxc<'a> {
    name: &'a str,
    config_path: &'a Path,
    cfg: &'a Config,
}

impl<'a> Lxc<'a> {
    /// The item in effect for a single-valued `key`, when its value is not blank.
    fn set(&self, key: &str) -> Option<&'a Item> {
        self.cfg.item(key).filter(|it| !it.value.trim().is_empty())
    }

    /// Where `key` was set; the config file when it was not.
    fn origin_of(&self, key: &str) -> Origin {
        self.cfg
            .item(key)
            .map(|it| Origin::from(&it.origin))
            .unwrap_or_else(|| Origin::file(self.config_path))
    }

    /// `it`'s value is bad.
    fn bad(&self, it: &Item, reason: impl ToString) -> SpecError {
        self.bad_value(Some(it), &it.key, &it.value, reason)
    }

    /// `value` of `key` (set at `it`, when known) is bad.
    fn bad_value(
        &self,
        it: Option<&Item>,
        key: &str,
        value: &str,
        reason: impl ToString,
    ) -> SpecError {
        SpecError::from(ErrorKind::BadValue {
            name: self.name.to_string(),
            origin: it
                .map(|it| Origin::from(&it.origin))
                .unwrap_or_else(|| Origin::file(self.config_path)),
            key: key.to_string(),
            value: value.to_string(),
            reason: reason.to_string(),
        })
    }

    /// hako will not honour the setting at `it`.
    fn refused(&self, it: &Item, reason: String) -> SpecError {
        SpecError::from(ErrorKind::Refused {
            name: self.name.to_string(),
            origin: Origin::from(&it.origin),
            key: it.key.clone(),
            reason,
        })
    }

    fn u32_or(&self, key: &str, default: u32) -> Result<u32> {
        Ok(self.opt_u32(key)?.unwrap_or(default))
    }

    fn opt_u32(&self, key: &str) -> Result<Option<u32>> {
        match self.set(key) {
            Some(it) => it
                .value
                .trim()
                .parse::<u32>()
                .map(Some)
                .map_err(|_| self.bad(it, "not a non-negative integer")),
            None => Ok(None),
        }
    }

    fn bool_or(&self, key: &str, default: bool) -> Result<bool> {
        match self.set(key) {
            Some(it) => values::parse_bool(&it.value).map_err(|e| self.bad(it, e)),
            None => Ok(default),
        }
    }

    fn signal(&self, key: &str) -> Result<Option<i32>> {
        match self.set(key) {
            Some(it) => values::parse_signal(&it.value)
                .map(Some)
                .map_err(|e| self.bad(it, e)),
            None => Ok(None),
        }
    }

    /// `lxc.environment`: `NAME=VALUE`, or `NAME` for the caller's value (left out when the
    /// caller has none).
    fn environment(&self, inputs: &dyn Inputs) -> Vec<(String, String)> {
        let mut env = Vec::new();
        for e in self.cfg.get_list("lxc.environment") {
            match values::parse_environment(e) {
                (k, Some(v)) => env.push((k, v)),
                (k, None) => {
                    if let Some(v) = inputs.env_var(&k) {
                        env.push((k, v))
                    }
                }
            }
        }
        env
    }

    /// `lxc.cgroup.dir.container.inner`: one directory name.
    fn cgroup_inner(&self) -> Result<String> {
        let Some(it) = self.set("lxc.cgroup.dir.container.inner") else {
            return Ok(DEFAULT_CGROUP_INNER.to_string());
        };
        let v = it.value.trim();
        if v.contains('/') || v == "." || v == ".." || v.chars().any(char::is_control) {
            return Err(self.bad_value(
                Some(it),
                &it.key,
                v,
                "give one directory name such as \"ns\"",
            ));
        }
        Ok(v.to_string())
    }

    /// `lxc.idmap`: the user namespace's id maps.
    ///
    /// Checked as the kernel would when the monitor writes them, but with the line to fix
    /// (hako-config's parser already refuses an empty or overflowing range): no two ranges
    /// of one kind overlapping inside or outside, and both kinds mapping the container's root (0), without which its init
    /// could not become root in its own namespace.
    fn id_maps(&self) -> Result<Vec<crate::IdMap>> {
        let mut out: Vec<(crate::IdMap, &Item)> = Vec::new();
        let items = self.cfg.list_items("lxc.idmap");
        for it in &items {
            let m = values::parse_idmap(&it.value).map_err(|e| self.bad(it, e))?;
            let m = crate::IdMap {
                kind: match m.kind {
                    values::IdKind::Uid => crate::IdKind::Uid,
                    values::IdKind::Gid => crate::IdKind::Gid,
                },
                container: m.ns_id,
                host: m.host_id,
                count: m.range,
            };
            for (o, oit) in &out {
                if o.kind != m.kind {
                    continue;
                }
                let overlaps = |a: u32, b: u32| {
                    u64::from(a) < u64::from(b) + u64::from(o.count)
                        && u64::from(b) < u64::from(a) + u64::from(m.count)
                };
                let side = if overlaps(m.container, o.container) {
                    Some("inside the container")
                } else if overlaps(m.host, o.host) {
                    Some("on the host")
                } else {
                    None
                };
                if let Some(side) = side {
                    return Err(self.bad(
                        it,
                        format!(
                            "it overlaps \"{}\" (line {}) {side}; a user namespace maps each id once: make the ranges disjoint",
                            oit.value.trim(),
                            oit.origin.line
                        ),
                    ));
                }
            }
            out.push((m, it));
        }
        if let Some(last) = items.last() {
            for (kind, letter, what) in [
                (crate::IdKind::Uid, "u", "user"),
                (crate::IdKind::Gid, "g", "group"),
            ] {
                let root = out.iter().any(|(m, _)| m.kind == kind && m.container == 0);
                if !root {
                    return Err(self.bad(
                        last,
                        format!(
                            "no \"{letter}\" line maps the container's {what} id 0 (root), so its init could not be root inside; add \"lxc.idmap = {letter} 0 HOSTID 65536\" (see /etc/sub{}id for a range)",
                            if letter == "u" { "u" } else { "g" }
                        ),
                    ));
                }
            }
        }
        Ok(out.into_iter().map(|(m, _)| m).collect())
    }
}
