//! `linux`: namespaces and id maps, device nodes, sysctls, masked and read-only paths,
//! rootfsPropagation, cgroupsPath and resources; the members hako refuses.

use oci_spec::runtime::{
    Linux, LinuxDeviceType, LinuxIdMapping, LinuxNamespaceType, LinuxResources,
};

use super::{json_name, Oci, OciOptions};
use crate::error::Result;
use crate::ext::{CgroupsPath, DeviceKind, DeviceNode, NsJoin, NsKind, NsRequest};
use crate::mount::flags::*;
use crate::resources::{BlockIo, Cpu, DeviceRule, DeviceValue, Memory, Resources};
use crate::spec::{ContainerSpec, IdKind, IdMap};
use crate::sysctl::{refuse_reason, Sysctl};

/// Propagation names (`rootfsPropagation`, mount options) and their flags.
pub(super) const PROPAGATION: &[(&str, u64)] = &[
    ("shared", MS_SHARED),
    ("rshared", MS_SHARED | MS_REC),
    ("slave", MS_SLAVE),
    ("rslave", MS_SLAVE | MS_REC),
    ("private", MS_PRIVATE),
    ("rprivate", MS_PRIVATE | MS_REC),
    ("unbindable", MS_UNBINDABLE),
    ("runbindable", MS_UNBINDABLE | MS_REC),
];

fn ns_kind(t: LinuxNamespaceType) -> NsKind {
    match t {
        LinuxNamespaceType::Mount => NsKind::Mount,
        LinuxNamespaceType::Cgroup => NsKind::Cgroup,
        LinuxNamespaceType::Uts => NsKind::Uts,
        LinuxNamespaceType::Ipc => NsKind::Ipc,
        LinuxNamespaceType::User => NsKind::User,
        LinuxNamespaceType::Pid => NsKind::Pid,
        LinuxNamespaceType::Network => NsKind::Net,
        LinuxNamespaceType::Time => NsKind::Time,
    }
}

impl Oci<'_> {
    /// `linux.namespaces`: each kind once, joined ones by an absolute path.
    pub(super) fn namespaces(&self, lx: Option<&Linux>) -> Result<NsRequest> {
        let mut ns = NsRequest::default();
        for (i, n) in lx
            .and_then(|l| l.namespaces().as_ref())
            .iter()
            .flat_map(|v| v.iter())
            .enumerate()
        {
            let path = format!("linux.namespaces[{i}]");
            let kind = ns_kind(n.typ());
            if ns.has(kind) {
                return Err(self.err(
                    &format!("{path}.type"),
                    format!(
                        "\"{}\" is listed twice; keep one entry per namespace type",
                        kind.oci_name()
                    ),
                ));
            }
            match n.path() {
                None => ns.new.push(kind),
                Some(p) if p.is_absolute() => ns.join.push(NsJoin {
                    kind,
                    path: p.clone(),
                }),
                Some(p) => {
                    return Err(self.err(
                        &format!("{path}.path"),
                        format!("\"{}\" is relative; give the namespace file's absolute path (e.g. /proc/PID/ns/{}), or remove path for a new namespace", p.display(), kind_file(kind)),
                    ))
                }
            }
        }
        Ok(ns)
    }

    /// `linux.uidMappings`/`gidMappings`: only with a new user namespace, which needs both.
    pub(super) fn id_maps(&self, lx: Option<&Linux>, ns: &NsRequest) -> Result<Vec<IdMap>> {
        let uids = lx
            .and_then(|l| l.uid_mappings().clone())
            .unwrap_or_default();
        let gids = lx
            .and_then(|l| l.gid_mappings().clone())
            .unwrap_or_default();
        let new_user = ns.new.contains(&NsKind::User);
        if !new_user {
            if !uids.is_empty() || !gids.is_empty() {
                let which = if uids.is_empty() {
                    "linux.gidMappings"
                } else {
                    "linux.uidMappings"
                };
                return Err(self.err(
                    which,
                    "id maps need a new user namespace; add {\"type\": \"user\"} to linux.namespaces or remove the maps",
                ));
            }
            return Ok(Vec::new());
        }
        for (list, which) in [(&uids, "linux.uidMappings"), (&gids, "linux.gidMappings")] {
            if list.is_empty() {
                return Err(self.err(
                    which,
                    "a new user namespace needs both uid and gid maps; add e.g. [{\"containerID\": 0, \"hostID\": 100000, \"size\": 65536}]",
                ));
            }
        }
        let mut out = maps(self, &uids, IdKind::Uid, "linux.uidMappings")?;
        out.extend(maps(self, &gids, IdKind::Gid, "linux.gidMappings")?);
        Ok(out)
    }

    /// The rest of `linux`.
    pub(super) fn linux(
        &self,
        lx: &Linux,
        opts: &OciOptions,
        out: &mut ContainerSpec,
    ) -> Result<()> {
        for (path, set) in [
            ("linux.mountLabel", lx.mount_label().is_some()),
            ("linux.intelRdt", lx.intel_rdt().is_some()),
            ("linux.personality", lx.personality().is_some()),
            ("linux.memoryPolicy", lx.memory_policy().is_some()),
            ("linux.timeOffsets", lx.time_offsets().is_some()),
            ("linux.netDevices", lx.net_devices().is_some()),
        ] {
            if set {
                return Err(self.unsupported(path, "this setting"));
            }
        }
        for (i, d) in lx.devices().iter().flatten().enumerate() {
            let path = format!("linux.devices[{i}]");
            let p = d.path().to_string_lossy().to_string();
            let p = self.abs_in_container(&format!("{path}.path"), &p, "the device node")?;
            let kind = match d.typ() {
                LinuxDeviceType::C | LinuxDeviceType::U => DeviceKind::Char,
                LinuxDeviceType::B => DeviceKind::Block,
                LinuxDeviceType::P => DeviceKind::Fifo,
                LinuxDeviceType::A => {
                    return Err(self.err(
                        &format!("{path}.type"),
                        "\"a\" is a cgroup rule's type, not a device node's; use c, b, u or p",
                    ))
                }
            };
            out.devices.push(DeviceNode {
                path: p,
                kind,
                major: d.major(),
                minor: d.minor(),
                file_mode: d.file_mode(),
                uid: d.uid(),
                gid: d.gid(),
            });
        }
        let own_net = !out.share_host_net;
        let mut keys: Vec<(&String, &String)> = lx.sysctl().iter().flatten().collect();
        keys.sort();
        for (k, v) in keys {
            if let Some(why) = refuse_reason(k, own_net) {
                let why = why
                    .replace(
                        "(lxc.net.N.type = none)",
                        "(no network namespace in linux.namespaces)",
                    )
                    .replace("a network of its own", "a network namespace of its own")
                    .replace("remove the line", "remove it from linux.sysctl");
                return Err(self.err(
                    &format!("linux.sysctl.{k}"),
                    format!("cannot be set: {why}"),
                ));
            }
            out.sysctls.push(Sysctl {
                key: k.clone(),
                value: v.clone(),
                origin: format!("{}: linux.sysctl", self.origin),
            });
        }
        for (list, key, target) in [
            (
                lx.masked_paths(),
                "linux.maskedPaths",
                &mut out.masked_paths,
            ),
            (
                lx.readonly_paths(),
                "linux.readonlyPaths",
                &mut out.readonly_paths,
            ),
        ] {
            for (i, p) in list.iter().flatten().enumerate() {
                target.push(self.abs_in_container(&format!("{key}[{i}]"), p, "the path")?);
            }
        }
        if let Some(p) = lx.rootfs_propagation().as_deref().filter(|p| !p.is_empty()) {
            let f = PROPAGATION.iter().find(|(n, _)| *n == p).ok_or_else(|| {
                self.err(
                    "linux.rootfsPropagation",
                    format!("\"{p}\" is not a propagation; use shared, slave, private, unbindable or their r- (recursive) forms"),
                )
            })?;
            out.rootfs_propagation = Some(f.1);
        }
        if let Some(c) = lx.cgroups_path() {
            out.cgroups_path = Some(self.cgroups_path(&c.to_string_lossy(), opts)?);
        }
        if let Some(r) = lx.resources() {
            out.resources = Some(self.resources(r)?);
        }
        if let Some(s) = lx.seccomp() {
            let (prog, warnings) = self.seccomp(s)?;
            out.seccomp.push(prog);
            out.warnings.extend(warnings);
        }
        Ok(())
    }

    /// `linux.cgroupsPath`: a path, or `slice:prefix:name` under `--systemd-cgroup`.
    pub(super) fn cgroups_path(&self, v: &str, opts: &OciOptions) -> Result<CgroupsPath> {
        const KEY: &str = "linux.cgroupsPath";
        if v.is_empty() {
            return Err(self.err(KEY, "empty; give a path such as /hako/ID, or remove it"));
        }
        if opts.systemd_cgroup {
            let parts: Vec<&str> = v.split(':').collect();
            let [slice, prefix, name] = parts[..] else {
                return Err(self.err(
                    KEY,
                    format!("\"{v}\" is not slice:prefix:name, which --systemd-cgroup needs (e.g. system.slice:hako:ID); fix it or drop --systemd-cgroup"),
                ));
            };
            if name.is_empty() {
                return Err(self.err(
                    KEY,
                    format!("\"{v}\" has no name after the last colon; write slice:prefix:name"),
                ));
            }
            if !slice.is_empty() && !slice.ends_with(".slice") {
                return Err(self.err(KEY, format!("\"{slice}\" is not a systemd slice (NAME.slice); fix the part before the first colon")));
            }
            if [slice, prefix, name].iter().any(|p| p.contains('/')) {
                return Err(self.err(
                    KEY,
                    format!("\"{v}\": systemd unit names have no /; write slice:prefix:name"),
                ));
            }
            return Ok(CgroupsPath::Systemd {
                slice: slice.to_string(),
                prefix: prefix.to_string(),
                name: name.to_string(),
            });
        }
        if v.split('/').any(|c| c == "..") {
            return Err(self.err(KEY, format!("\"{v}\" has a .. component, which would leave the cgroup tree; give a path without ..")));
        }
        if v.contains(':') && !v.starts_with('/') {
            return Err(self.err(KEY, format!("\"{v}\" looks like systemd's slice:prefix:name; pass --systemd-cgroup, or give a path")));
        }
        Ok(CgroupsPath::Path(v.to_string()))
    }

    /// `linux.resources`, typed.
    fn resources(&self, r: &LinuxResources) -> Result<Resources> {
        const K: &str = "linux.resources";
        if r.network().is_some() {
            return Err(self.unsupported(&format!("{K}.network"), "the net_cls/net_prio setting"));
        }
        if r.rdma().is_some() {
            return Err(self.unsupported(&format!("{K}.rdma"), "the rdma controller"));
        }
        let mut out = Resources::default();
        for (i, d) in r.devices().iter().flatten().enumerate() {
            let path = format!("{K}.devices[{i}]");
            let kind = match d.typ() {
                None | Some(LinuxDeviceType::A) => 'a',
                Some(LinuxDeviceType::C) => 'c',
                Some(LinuxDeviceType::B) => 'b',
                Some(t) => {
                    return Err(self.err(
                        &format!("{path}.type"),
                        format!(
                            "\"{}\" is not a cgroup device rule's type; use a, c or b",
                            json_name(&t)
                        ),
                    ))
                }
            };
            let access = d.access().clone().unwrap_or_else(|| "rwm".into());
            if access.is_empty() || !access.chars().all(|c| "rwm".contains(c)) {
                return Err(self.err(
                    &format!("{path}.access"),
                    format!("\"{access}\" is not an access; use some of r, w and m (e.g. \"rwm\")"),
                ));
            }
            out.devices.push(DeviceRule {
                allow: d.allow(),
                kind,
                major: d.major().filter(|m| *m >= 0),
                minor: d.minor().filter(|m| *m >= 0),
                access,
            });
        }
        if let Some(m) = r.memory() {
            for (path, set) in [
                ("kernel", m.kernel().is_some()),
                ("kernelTCP", m.kernel_tcp().is_some()),
                ("useHierarchy", m.use_hierarchy().is_some()),
                ("checkBeforeUpdate", m.check_before_update().is_some()),
            ] {
                if set {
                    return Err(
                        self.unsupported(&format!("{K}.memory.{path}"), "this memory setting")
                    );
                }
            }
            if let Some(s) = m.swappiness().filter(|s| *s > 100) {
                return Err(self.err(
                    &format!("{K}.memory.swappiness"),
                    format!("{s} is out of range; give 0 to 100"),
                ));
            }
            out.memory = Some(Memory {
                limit: m.limit(),
                reservation: m.reservation(),
                swap: m.swap(),
                swappiness: m.swappiness(),
                disable_oom_killer: m.disable_oom_killer(),
            });
        }
        if let Some(c) = r.cpu() {
            out.cpu = Some(Cpu {
                shares: c.shares(),
                quota: c.quota(),
                period: c.period(),
                burst: c.burst(),
                realtime_runtime: c.realtime_runtime(),
                realtime_period: c.realtime_period(),
                cpus: c.cpus().clone().filter(|s| !s.is_empty()),
                mems: c.mems().clone().filter(|s| !s.is_empty()),
                idle: c.idle(),
            });
        }
        if let Some(p) = r.pids() {
            out.pids_limit = match p.limit() {
                0 => None,
                l if l < 0 => Some(-1),
                l => Some(l),
            };
        }
        if let Some(b) = r.block_io() {
            if b.leaf_weight().is_some() {
                return Err(self.unsupported(
                    &format!("{K}.blockIO.leafWeight"),
                    "leafWeight (cgroup v1's CFQ only)",
                ));
            }
            let mut io = BlockIo {
                weight: b.weight(),
                ..Default::default()
            };
            for (i, d) in b.weight_device().iter().flatten().enumerate() {
                let path = format!("{K}.blockIO.weightDevice[{i}]");
                if d.leaf_weight().is_some() {
                    return Err(self.unsupported(
                        &format!("{path}.leafWeight"),
                        "leafWeight (cgroup v1's CFQ only)",
                    ));
                }
                let w = d.weight().ok_or_else(|| {
                    self.err(
                        &format!("{path}.weight"),
                        "missing; give the device's weight (10 to 1000)",
                    )
                })?;
                io.weight_device.push(DeviceValue {
                    major: d.major(),
                    minor: d.minor(),
                    value: u64::from(w),
                });
            }
            for (list, target) in [
                (b.throttle_read_bps_device(), &mut io.read_bps),
                (b.throttle_write_bps_device(), &mut io.write_bps),
                (b.throttle_read_iops_device(), &mut io.read_iops),
                (b.throttle_write_iops_device(), &mut io.write_iops),
            ] {
                for d in list.iter().flatten() {
                    target.push(DeviceValue {
                        major: d.major(),
                        minor: d.minor(),
                        value: d.rate(),
                    });
                }
            }
            out.block_io = Some(io);
        }
        for (i, h) in r.hugepage_limits().iter().flatten().enumerate() {
            let path = format!("{K}.hugepageLimits[{i}]");
            let size = h.page_size();
            let ok = size.len() > 2
                && (size.ends_with("KB") || size.ends_with("MB") || size.ends_with("GB"))
                && size[..size.len() - 2].chars().all(|c| c.is_ascii_digit());
            if !ok {
                return Err(self.err(&format!("{path}.pageSize"), format!("\"{size}\" is not a page size; write it as the kernel names it, e.g. 2MB or 1GB")));
            }
            if h.limit() < 0 {
                return Err(self.err(
                    &format!("{path}.limit"),
                    format!("{} is negative; give a number of bytes", h.limit()),
                ));
            }
            out.hugepages.push((size.clone(), h.limit() as u64));
        }
        let mut unified: Vec<(String, String)> = r
            .unified()
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        unified.sort();
        for (k, _) in &unified {
            let ok = k
                .split_once('.')
                .is_some_and(|(c, f)| !c.is_empty() && !f.is_empty())
                && !k.contains('/')
                && !k.starts_with("cgroup.");
            if !ok {
                return Err(self.err(
                    &format!("{K}.unified.{k}"),
                    "not a controller file of the container's cgroup; give CONTROLLER.FILE such as memory.high (cgroup.* files are the runtime's)",
                ));
            }
        }
        out.unified = unified;
        Ok(out)
    }
}

/// The name of a namespace's file below /proc/PID/ns.
fn kind_file(k: NsKind) -> &'static str {
    match k {
        NsKind::Mount => "mnt",
        NsKind::Net => "net",
        other => other.oci_name(),
    }
}

/// One list of OCI id maps as [`IdMap`]s, checked: no empty range, no overflow, no
/// overlap.
pub(super) fn maps(
    x: &Oci<'_>,
    list: &[LinuxIdMapping],
    kind: IdKind,
    key: &str,
) -> Result<Vec<IdMap>> {
    let mut out: Vec<IdMap> = Vec::new();
    for (i, m) in list.iter().enumerate() {
        let path = format!("{key}[{i}]");
        if m.size() == 0 {
            return Err(x.err(
                &format!("{path}.size"),
                "0 maps nothing; give the number of ids to map",
            ));
        }
        let end = |start: u32| u64::from(start) + u64::from(m.size()) > 1 << 32;
        if end(m.container_id()) || end(m.host_id()) {
            return Err(x.err(
                &path,
                "the range runs past the last id (4294967295); lower size",
            ));
        }
        let im = IdMap {
            kind,
            container: m.container_id(),
            host: m.host_id(),
            count: m.size(),
        };
        let overlaps = |a: u32, b: u32, n: u32| {
            u64::from(a) < u64::from(b) + u64::from(n)
                && u64::from(b) < u64::from(a) + u64::from(im.count)
        };
        if let Some(j) = out.iter().position(|o| {
            overlaps(im.container, o.container, o.count) || overlaps(im.host, o.host, o.count)
        }) {
            return Err(x.err(&path, format!("overlaps {key}[{j}]; a user namespace maps each id once: make the ranges disjoint")));
        }
        out.push(im);
    }
    Ok(out)
}
