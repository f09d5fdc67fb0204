//! The LXC keys of the root filesystem, mounts, hooks, network interfaces and cgroups.

use std::path::{Path, PathBuf};

use hako_config::net as netval;
use hako_config::values;

use super::Lxc;
use crate::error::{ErrorKind, Origin, Result, SpecError};
use crate::hooks::{log_level_name, Hook, HookType, Hooks};
use crate::inputs::Inputs;
use crate::mount::{Mount, MountAuto};
use crate::spec::{NetKind, NetSpec, Overlay};

impl Lxc<'_> {
    /// The hooks: each `lxc.hook.TYPE` list (an empty value clears it, as does an empty
    /// `lxc.hook`), split into words.
    pub(super) fn hooks(&self, default_rootfs: &Path) -> Result<Hooks> {
        let cfg = self.cfg;
        let mut list = Vec::new();
        for kind in HookType::ALL {
            let key = format!("lxc.hook.{}", kind.name());
            for it in cfg.list_items(&key) {
                let argv = values::split_command(&it.value).map_err(|e| self.bad(it, e))?;
                if argv.is_empty() {
                    continue;
                }
                list.push(Hook {
                    kind,
                    argv,
                    origin: it.origin.to_string(),
                });
            }
        }
        let version = match cfg.item("lxc.hook.version") {
            Some(it) => values::parse_bool(&it.value).map_err(|e| self.bad(it, e))? as u8,
            None => 0,
        };
        Ok(Hooks {
            version,
            list,
            rootfs_path: cfg
                .get("lxc.rootfs.path")
                .map(str::to_string)
                .unwrap_or_else(|| default_rootfs.display().to_string()),
            console_path: cfg.get("lxc.console.path").map(str::to_string),
            log_level: log_level_name(cfg.get("lxc.log.level")),
        })
    }

    /// `lxc.rootfs.path`: the root filesystem's host path, and its layers for an overlay.
    pub(super) fn rootfs(&self, default: PathBuf) -> Result<(PathBuf, Option<Overlay>)> {
        let Some(it) = self.cfg.item("lxc.rootfs.path") else {
            return Ok((default, None));
        };
        let p = it.value.as_str();
        if p.starts_with("overlay:") || p.starts_with("overlayfs:") {
            let o = parse_overlay(p).ok_or_else(|| {
                self.bad(
                    it,
                    "use overlay:LOWER:UPPER (absolute paths; several lowers separated by ':')",
                )
            })?;
            return Ok((default, Some(o)));
        }
        let path = parse_rootfs(p).ok_or_else(|| {
            self.bad(
                it,
                "hako supports dir:PATH, overlay:LOWER:UPPER or a plain directory",
            )
        })?;
        Ok((path, None))
    }

    /// `lxc.mount.auto`, every line together (a later token wins per filesystem).
    pub(super) fn mount_auto(&self) -> Result<MountAuto> {
        let items = self.cfg.list_items("lxc.mount.auto");
        if items.is_empty() {
            return Ok(MountAuto::default());
        }
        let all: Vec<&str> = items.iter().map(|it| it.value.as_str()).collect();
        match values::parse_mount_auto(&all.join(" ")) {
            Ok(a) => Ok(MountAuto::from(&a)),
            Err(e) => {
                // the line with the bad token
                let it = items
                    .iter()
                    .find(|it| values::parse_mount_auto(&it.value).is_err())
                    .unwrap_or(&items[items.len() - 1]);
                Err(self.bad(it, e))
            }
        }
    }

    /// `lxc.mount.fstab`'s entries, then `lxc.mount.entry`'s, in mount order.
    pub(super) fn mounts(&self, inputs: &dyn Inputs) -> Result<Vec<Mount>> {
        let mut mounts = Vec::new();
        if let Some(it) = self.cfg.item("lxc.mount.fstab") {
            let path = Path::new(&it.value);
            let text = inputs.fstab(path).map_err(|reason| {
                SpecError::from(ErrorKind::Unreadable {
                    name: self.name.to_string(),
                    origin: Origin::from(&it.origin),
                    key: it.key.clone(),
                    path: path.to_path_buf(),
                    reason,
                })
            })?;
            let entries = values::parse_fstab(&text).map_err(|e| self.bad(it, e))?;
            mounts.extend(entries.iter().map(Mount::from));
        }
        for it in self.cfg.list_items("lxc.mount.entry") {
            let e = values::parse_mount_entry(&it.value).map_err(|e| self.bad(it, e))?;
            mounts.push(Mount::from(&e));
        }
        Ok(mounts)
    }

    /// `lxc.net.N.*`, by N; true with them when the container shares the host's network
    /// (`lxc.net.N.type = none`, which must then be the only interface).
    pub(super) fn networks(&self) -> Result<(Vec<NetSpec>, bool)> {
        let cfg = self.cfg;
        let mut networks = Vec::new();
        let mut none_at = None;
        for i in cfg.net_indices() {
            let Some(kind) = self.net_one(i, "type", netval::parse_net_type)? else {
                continue;
            };
            if kind == NetKind::None {
                none_at.get_or_insert(cfg.item(&format!("lxc.net.{i}.type")).expect("set"));
            }
            let s = |k: &str| cfg.net(i, k).filter(|v| !v.is_empty()).map(String::from);
            networks.push(NetSpec {
                index: i,
                kind,
                link: s("link"),
                name: s("name"),
                hwaddr: self.net_one(i, "hwaddr", netval::parse_hwaddr)?,
                mtu: self.net_one(i, "mtu", netval::parse_mtu)?,
                up: cfg
                    .net(i, "flags")
                    .map(|f| f.trim() == "up")
                    .unwrap_or(false),
                ipv4: self.net_all(i, "ipv4.address", netval::parse_ipv4_cidr)?,
                ipv4_gateway: self.net_one(i, "ipv4.gateway", netval::parse_ipv4_gateway)?,
                ipv6: self.net_all(i, "ipv6.address", netval::parse_ipv6_cidr)?,
                ipv6_gateway: self.net_one(i, "ipv6.gateway", netval::parse_ipv6_gateway)?,
                veth_pair: s("veth.pair"),
                veth_mode: s("veth.mode"),
                macvlan_mode: s("macvlan.mode"),
                script_up: s("script.up"),
                script_down: s("script.down"),
            });
        }
        if let Some(it) = none_at {
            if networks.len() > 1 {
                return Err(self.refused(
                    it,
                    format!(
                        "lxc.net.N.type = none shares the host's network and cannot be combined with other interfaces; remove the other lxc.net entries from {}",
                        self.config_path.display()
                    ),
                ));
            }
        }
        Ok((networks, none_at.is_some()))
    }
}

impl Lxc<'_> {
    /// `lxc.net.INDEX.SUBKEY` parsed with one of hako-config's `net` parsers (the one parser
    /// of each network value); None when unset.
    fn net_one<T>(
        &self,
        index: u32,
        subkey: &str,
        parse: impl Fn(&str) -> values::Result<T>,
    ) -> Result<Option<T>> {
        match self.cfg.item(&format!("lxc.net.{index}.{subkey}")) {
            Some(it) => parse(&it.value).map(Some).map_err(|e| self.bad(it, e)),
            None => Ok(None),
        }
    }

    /// Every value of the multi-valued `lxc.net.INDEX.SUBKEY`, in order.
    fn net_all<T>(
        &self,
        index: u32,
        subkey: &str,
        parse: impl Fn(&str) -> values::Result<T>,
    ) -> Result<Vec<T>> {
        self.cfg
            .list_items(&format!("lxc.net.{index}.{subkey}"))
            .into_iter()
            .map(|it| parse(&it.value).map_err(|e| self.bad(it, e)))
            .collect()
    }
}

/// `lxc.cgroup[2].*` items as (device rules, other controller files): `devices.allow` is
/// (true, rule), `devices.deny` (false, rule).
#[allow(clippy::type_complexity)]
pub(super) fn split_devices(
    items: Vec<(&str, &str)>,
) -> (Vec<(bool, String)>, Vec<(String, String)>) {
    let mut devices = Vec::new();
    let mut rest = Vec::new();
    for (k, v) in items {
        match k {
            "devices.allow" => devices.push((true, v.to_string())),
            "devices.deny" => devices.push((false, v.to_string())),
            _ => rest.push((k.to_string(), v.to_string())),
        }
    }
    (devices, rest)
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
