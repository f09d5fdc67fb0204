//! What a non-root caller's (rootless) create, start and destroy do differently (issue 12,
//! part 7); the runtime's side is `hako_runtime::userns::rootless`.
//!
//! - **rootfs ownership**: an unprivileged user cannot make idmapped mounts of host files,
//!   so a rootless container's rootfs is owned by its range on disk. `create` builds the
//!   rootfs as the user, then chowns it once from a helper that is root in a namespace
//!   with the container's range and the caller's own ids ([`own_rootfs`]); `destroy`
//!   removes it from such a helper ([`remove_rootfs`]).
//! - **cgroups** ([`cgroup_choice`]): on a pure cgroup v2 host where the parent of the
//!   caller's cgroup is delegated to it (writable, as systemd's user@UID.service hands
//!   out), the container's cgroup is made there, a sibling of the caller's, limits
//!   applied; otherwise no cgroup at all, said once on stderr, and a config with
//!   lxc.cgroup* keys fails the start.
//! - **networking** ([`net_check`], `hako_runtime::net`): `empty`/`none` as they are; a
//!   veth through the privileged helper `hako-user-nic` (allowlist /etc/lxc/lxc-usernet).

use std::path::{Path, PathBuf};

use hako_cgroups::{Host, Mode};
use hako_runtime::spec::{IdKind, IdMap};
use hako_runtime::ContainerSpec;

use crate::{Error, Result};

/// Is this process not root (a rootless command)?
pub fn is_rootless() -> bool {
    hako_runtime::userns::rootless::is_rootless()
}

/// The `lxc.idmap` lines of a config file, as maps (lines that do not parse are left out:
/// the config's own check reports them).
pub fn maps_of_config(config: &Path) -> Vec<IdMap> {
    let Ok(cfg) = hako_config::load_file(config) else {
        return Vec::new();
    };
    cfg.get_list("lxc.idmap")
        .iter()
        .filter_map(|v| hako_config::values::parse_idmap(v).ok())
        .map(|m| IdMap {
            kind: match m.kind {
                hako_config::values::IdKind::Uid => IdKind::Uid,
                hako_config::values::IdKind::Gid => IdKind::Gid,
            },
            container: m.ns_id,
            host: m.host_id,
            count: m.range,
        })
        .collect()
}

/// The error for a rootless create or start of a container whose config maps no ids.
pub fn no_maps(name: &str, config: &Path, verb: &str) -> Error {
    Error::other(format!(
        "cannot {verb} container \"{name}\": its config {} has no lxc.idmap lines, and a non-root user can only run containers in a user namespace of its own; add the user's range from /etc/subuid and /etc/subgid, e.g. \"lxc.idmap = u 0 START 65536\" and \"lxc.idmap = g 0 START 65536\" (for lxc-create: in ~/.config/lxc/default.conf, as LXC's unprivileged setup has them), or run as root",
        config.display()
    ))
}

/// After a rootless create: the new rootfs (made with the caller's ids) handed to the
/// container's root, once; a config without id maps is an error ([`no_maps`]). Nothing to
/// do for a rootfs elsewhere.
pub fn own_rootfs(name: &str, config: &Path, rootfs: &Path) -> Result<()> {
    let maps = maps_of_config(config);
    if maps.is_empty() {
        return Err(no_maps(name, config, "create"));
    }
    if !rootfs.is_dir() {
        return Ok(());
    }
    hako_runtime::userns::rootless::own_by_range(rootfs, &maps).map_err(|e| {
        Error::other(format!(
            "cannot create container \"{name}\": its rootfs must belong to its id range on disk (a non-root user cannot make idmapped mounts): {e}"
        ))
    })
}

/// Before a rootless destroy: the rootfs, owned by the container's range, removed from a
/// helper that is root of a namespace with that range (the caller cannot remove it
/// itself). Nothing when the config maps no ids.
pub fn remove_rootfs(name: &str, config: &Path, rootfs: &Path) -> Result<()> {
    let mut maps = maps_of_config(config);
    if maps.is_empty() {
        return Ok(());
    }
    // the range the rootfs was given at create is what its owner on disk says: the config
    // may have been edited since (a destroy must still work then)
    if let Ok(m) = std::fs::symlink_metadata(rootfs) {
        use std::os::unix::fs::MetadataExt;
        if m.uid() == nix::unistd::getuid().as_raw() {
            // never handed to a range (a create cut short): the caller's own files
            return Ok(());
        }
        for mp in maps.iter_mut().filter(|mp| mp.container == 0) {
            mp.host = match mp.kind {
                IdKind::Uid => m.uid(),
                IdKind::Gid => m.gid(),
            };
        }
    }
    hako_runtime::userns::rootless::remove_as_range(rootfs, &maps).map_err(|e| {
        Error::other(format!(
            "cannot destroy container \"{name}\": its rootfs belongs to its id range and removing it through newuidmap/newgidmap failed: {e}; check that /etc/subuid and /etc/subgid still grant that range"
        ))
    })
}

/// Where a rootless container's cgroup goes.
#[derive(Debug, PartialEq, Eq)]
pub enum CgroupChoice {
    /// `dir` (relative to the cgroup2 mount) below a cgroup delegated to the caller;
    /// `host` has that hierarchy only
    Delegated { host: Host, dir: String },
    /// no cgroup: why, and what would give one
    None { why: String, fix: String },
}

/// The cgroup of a rootless start on `host`, from the text of /proc/self/cgroup; pure but
/// for `writable` (may the caller write this cgroup directory's files?).
pub fn cgroup_choice(
    host: &Host,
    proc_self_cgroup: &str,
    cgroup_name: &str,
    writable: &dyn Fn(&Path) -> bool,
) -> CgroupChoice {
    let v1_fix = "boot the host with cgroup v2 only (systemd.unified_cgroup_hierarchy=1 on the kernel command line), where systemd delegates a cgroup to each user; or start the container as root";
    let unified = match (host.mode, host.unified()) {
        (Mode::Unified, Some(u)) => u.clone(),
        _ => {
            return CgroupChoice::None {
                why: format!(
                    "this host's cgroups are {} (cgroup v1 hierarchies), where nothing is delegated to a non-root user",
                    match host.mode {
                        Mode::Legacy => "v1",
                        _ => "hybrid",
                    }
                ),
                fix: v1_fix.to_string(),
            }
        }
    };
    let own = proc_self_cgroup
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .unwrap_or("/")
        .trim()
        .to_string();
    let no_delegation = |why: String| {
        CgroupChoice::None {
        why,
        fix: "log in through systemd (its user@UID.service delegates a cgroup to the user) and run hako from a shell there, e.g. \"systemd-run --user --scope -p Delegate=yes hako start NAME\"; or start the container as root".to_string(),
    }
    };
    let parent = Path::new(&own).parent().map(Path::to_path_buf);
    let Some(parent) = parent.filter(|p| p != Path::new("/")) else {
        return no_delegation(format!(
            "this process's cgroup {own} has no parent cgroup that could be delegated to the user"
        ));
    };
    let Some(dir) = unified.dir_for(&parent.display().to_string()) else {
        return no_delegation(format!(
            "the cgroup {} is not visible below {}",
            parent.display(),
            unified.mountpoint.display()
        ));
    };
    let ok = ["", "cgroup.procs", "cgroup.subtree_control"]
        .iter()
        .all(|f| {
            writable(&if f.is_empty() {
                dir.clone()
            } else {
                dir.join(f)
            })
        });
    if !ok {
        return no_delegation(format!(
            "the parent of this process's cgroup ({}) is not delegated to the user (not writable)",
            dir.display()
        ));
    }
    let rel: PathBuf = dir
        .strip_prefix(&unified.mountpoint)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let rel = rel.join(cgroup_name).display().to_string();
    CgroupChoice::Delegated {
        host: Host {
            mode: host.mode,
            hierarchies: vec![unified],
            fs_root: host.fs_root.clone(),
        },
        dir: rel,
    }
}

/// The cgroup keys a spec sets, for the error of a rootless start without a cgroup.
fn cgroup_keys(spec: &ContainerSpec) -> Vec<String> {
    let mut keys: Vec<String> = spec
        .cgroup_v1
        .iter()
        .map(|(k, _)| format!("lxc.cgroup.{k}"))
        .chain(
            spec.cgroup_v2
                .iter()
                .map(|(k, _)| format!("lxc.cgroup2.{k}")),
        )
        .collect();
    keys.extend(
        spec.devices_v1
            .iter()
            .map(|(a, _)| format!("lxc.cgroup.devices.{}", if *a { "allow" } else { "deny" })),
    );
    keys.extend(
        spec.devices_v2
            .iter()
            .map(|(a, _)| format!("lxc.cgroup2.devices.{}", if *a { "allow" } else { "deny" })),
    );
    keys.dedup();
    keys
}

/// A rootless start's cgroup: the host (hierarchies) the monitor works with, the spec's
/// cgroup dir set to the delegated place; or no cgroup, said once on stderr, and an error
/// for a config that sets lxc.cgroup* keys (a key hako cannot honour fails the start).
pub fn apply_cgroup_choice(
    host: Host,
    spec: &mut ContainerSpec,
    cgroup_name: &str,
) -> Result<Host> {
    let text = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let writable = |p: &Path| nix::unistd::access(p, nix::unistd::AccessFlags::W_OK).is_ok();
    let name = spec.name.clone();
    match cgroup_choice(&host, &text, cgroup_name, &writable) {
        CgroupChoice::Delegated { host, dir } => {
            // device rules need a BPF program, which only root attaches
            if !spec.devices_v1.is_empty() || !spec.devices_v2.is_empty() {
                return Err(Error::other(format!(
                    "container \"{name}\": its config sets device rules (lxc.cgroup2.devices.* / lxc.cgroup.devices.*), which a non-root user cannot apply (they need a BPF program attached by root); remove them (the user namespace already keeps the container from making device nodes), or start it as root"
                )));
            }
            spec.cgroup_dir = Some(dir);
            Ok(host)
        }
        CgroupChoice::None { why, fix } => {
            let keys = cgroup_keys(spec);
            if !keys.is_empty() {
                return Err(Error::other(format!(
                    "container \"{name}\": its config sets {} but a non-root user gets no cgroup here: {why}; fix: {fix}, or remove those keys",
                    keys.join(", ")
                )));
            }
            eprintln!(
                "hako: container \"{name}\": cgroup limits are not applied: {why}; fix: {fix}"
            );
            Ok(Host {
                mode: host.mode,
                hierarchies: Vec::new(),
                fs_root: host.fs_root,
            })
        }
    }
}

/// A rootless start's network plans: `empty` and `none` as they are; a veth through the
/// privileged helper `hako-user-nic` (hako_runtime::user_nic; without it the start fails
/// naming it and /etc/lxc/lxc-usernet), on the bridge of lxc.net.N.link, with no address
/// of hako's (the container configures its interface, e.g. by DHCP on a managed bridge:
/// static addresses, gateways and scripts fail the start); any other type needs root.
pub fn net_plans(spec: &ContainerSpec) -> Result<Vec<hako_runtime::net::IfacePlan>> {
    use hako_runtime::NetKind;
    let name = &spec.name;
    let mut plans = Vec::new();
    for n in &spec.networks {
        let i = n.index;
        match &n.kind {
            NetKind::Empty | NetKind::None => {}
            NetKind::Veth => {
                if hako_runtime::user_nic::find().is_none() {
                    return Err(Error::other(hako_runtime::user_nic::missing(name, i)));
                }
                if n.link.is_none() {
                    return Err(Error::other(format!(
                        "container \"{name}\": lxc.net.{i}.type = veth for a non-root user needs lxc.net.{i}.link, the bridge {} puts it on",
                        hako_runtime::user_nic::HELPER
                    )));
                }
                let statics = !n.ipv4.is_empty()
                    || !n.ipv6.is_empty()
                    || n.ipv4_gateway.is_some()
                    || n.ipv6_gateway.is_some()
                    || n.script_up.is_some()
                    || n.script_down.is_some();
                if statics {
                    return Err(Error::other(format!(
                        "container \"{name}\": lxc.net.{i} sets addresses, gateways or scripts, which a non-root start cannot apply (its veth comes from {}); remove them and configure the interface inside (e.g. by DHCP), or start the container as root",
                        hako_runtime::user_nic::HELPER
                    )));
                }
            }
            other => {
                return Err(Error::other(format!(
                    "container \"{name}\": lxc.net.{i}.type = {} needs root (a non-root user cannot move host devices into a container); use lxc.net.{i}.type = empty or veth, or start the container as root",
                    other.as_str()
                )))
            }
        }
        plans.push(hako_runtime::net::IfacePlan {
            index: i,
            kind: n.kind.clone(),
            name: n.name.clone().unwrap_or_else(|| format!("eth{i}")),
            host_name: None,
            link: n.link.clone(),
            mac: None,
            mtu: n.mtu,
            up: n.up,
            ipv4: Vec::new(),
            ipv4_gateway: None,
            ipv6: Vec::new(),
            ipv6_gateway: None,
            macvlan_mode: None,
            veth_router: false,
            script_up: None,
            script_down: None,
            managed: None,
            dns: None,
        });
    }
    Ok(plans)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hako_cgroups::Hierarchy;

    fn host(mode: Mode) -> Host {
        let mut h = vec![Hierarchy {
            mountpoint: "/sys/fs/cgroup".into(),
            root: "/".into(),
            version: 2,
            controllers: vec!["memory".into(), "pids".into()],
        }];
        if mode != Mode::Unified {
            h[0].mountpoint = "/sys/fs/cgroup/unified".into();
            h.push(Hierarchy {
                mountpoint: "/sys/fs/cgroup/memory".into(),
                root: "/".into(),
                version: 1,
                controllers: vec!["memory".into()],
            });
        }
        Host {
            mode,
            hierarchies: h,
            fs_root: "/".into(),
        }
    }

    #[test]
    fn delegated_parent_gets_a_sibling() {
        let text = "0::/user.slice/user-1000.slice/user@1000.service/app.slice/sh.scope\n";
        let yes = |_: &Path| true;
        match cgroup_choice(&host(Mode::Unified), text, "hako.payload.web", &yes) {
            CgroupChoice::Delegated { host, dir } => {
                assert_eq!(
                    dir,
                    "user.slice/user-1000.slice/user@1000.service/app.slice/hako.payload.web"
                );
                assert_eq!(host.hierarchies.len(), 1);
            }
            o => panic!("{o:?}"),
        }
        let no = |_: &Path| false;
        match cgroup_choice(&host(Mode::Unified), text, "x", &no) {
            CgroupChoice::None { why, .. } => assert!(why.contains("not delegated"), "{why}"),
            o => panic!("{o:?}"),
        }
    }

    #[test]
    fn hybrid_and_root_cgroup_give_none() {
        let yes = |_: &Path| true;
        match cgroup_choice(&host(Mode::Hybrid), "0::/a/b\n", "x", &yes) {
            CgroupChoice::None { why, fix } => {
                assert!(why.contains("hybrid"), "{why}");
                assert!(fix.contains("systemd.unified_cgroup_hierarchy=1"), "{fix}");
            }
            o => panic!("{o:?}"),
        }
        assert!(matches!(
            cgroup_choice(&host(Mode::Unified), "0::/sh\n", "x", &yes),
            CgroupChoice::None { .. }
        ));
    }
}
