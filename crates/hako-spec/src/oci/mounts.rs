//! `mounts`: bind, tmpfs, proc, sysfs, cgroup, cgroup2, mqueue and devpts, their flags,
//! propagation and idmapped binds.

use oci_spec::runtime::Spec;

use super::linux::maps;
use super::Oci;
use crate::error::Result;
use crate::ext::MountIdmap;
use crate::mount::{flags::*, CgroupAuto, CgroupKind, CgroupMode, Mount};
use crate::spec::{ContainerSpec, IdKind};

/// The filesystems config.json may mount, and the data options each takes besides the
/// mount flags (a bind takes none).
const TYPES: &[(&str, &[&str])] = &[
    ("bind", &[]),
    (
        "tmpfs",
        &[
            "size",
            "mode",
            "uid",
            "gid",
            "nr_inodes",
            "nr_blocks",
            "mpol",
            "huge",
            "inode64",
            "noswap",
        ],
    ),
    ("proc", &["hidepid", "gid", "subset"]),
    ("sysfs", &[]),
    ("cgroup", &[]),
    ("cgroup2", &["nsdelegate", "memory_recursiveprot"]),
    ("mqueue", &[]),
    (
        "devpts",
        &["newinstance", "ptmxmode", "mode", "gid", "uid", "max"],
    ),
];

/// Options of the mount API's recursive attributes (mount_setattr(2)), OCI 1.1.
const RECURSIVE: &[&str] = &[
    "rro",
    "rrw",
    "rnosuid",
    "rsuid",
    "rnodev",
    "rdev",
    "rnoexec",
    "rexec",
    "rnodiratime",
    "rdiratime",
    "rrelatime",
    "rnorelatime",
    "rnoatime",
    "ratime",
    "rstrictatime",
    "rnostrictatime",
    "rnosymfollow",
    "rsymfollow",
];

/// LXC's own options, which mean nothing in config.json.
fn is_lxc_option(o: &str) -> bool {
    matches!(o, "optional" | "relative") || o.starts_with("create=") || o.starts_with("idmap=")
}

impl Oci<'_> {
    pub(super) fn mounts(&self, spec: &Spec, out: &mut ContainerSpec) -> Result<()> {
        for (i, m) in spec.mounts().iter().flatten().enumerate() {
            let path = format!("mounts[{i}]");
            let dest = m.destination().to_string_lossy().to_string();
            let dest =
                self.abs_in_container(&format!("{path}.destination"), &dest, "the mount point")?;
            let opts = m.options().clone().unwrap_or_default();
            let is_bind_opt = opts.iter().any(|o| o == "bind" || o == "rbind");
            let given = m.typ().clone().unwrap_or_default();
            let fstype = match given.as_str() {
                "" | "none" if is_bind_opt => "bind",
                "" | "none" => {
                    return Err(self.err(
                        &format!("{path}.type"),
                        "no filesystem type, and no bind or rbind option; give a type (tmpfs, proc...) or add \"rbind\" for a bind mount",
                    ))
                }
                t => t,
            };
            let Some((_, data_keys)) = TYPES.iter().find(|(t, _)| *t == fstype) else {
                return Err(self.err(
                    &format!("{path}.type"),
                    format!("\"{fstype}\": hako mounts bind, tmpfs, proc, sysfs, cgroup, cgroup2, mqueue and devpts from config.json, not this type yet; remove the mount or mount it with a hook"),
                ));
            };
            let bind = fstype == "bind";
            let mut flags = if bind && !is_bind_opt { MS_BIND } else { 0 };
            let mut data: Vec<&str> = Vec::new();
            let mut idmap_opt: Option<bool> = None;
            for (j, o) in opts.iter().enumerate() {
                let opath = format!("{path}.options[{j}]");
                let o = o.as_str();
                if RECURSIVE.contains(&o) {
                    return Err(self.err(
                        &opath,
                        format!("\"{o}\": recursive mount attributes (mount_setattr) are not supported by hako yet; use the non-recursive option or remove it"),
                    ));
                }
                if is_lxc_option(o) {
                    return Err(self.err(
                        &opath,
                        format!("\"{o}\" is an LXC mount option, not an OCI one; remove it"),
                    ));
                }
                if matches!(
                    o,
                    "tmpcopyup" | "nosymfollow" | "symfollow" | "copy-symlink"
                ) {
                    return Err(self.unsupported(&opath, &format!("the option \"{o}\"")));
                }
                if o == "idmap" || o == "ridmap" {
                    idmap_opt = Some(o == "ridmap");
                    continue;
                }
                if let Some(&(_, f)) = super::linux::PROPAGATION.iter().find(|(n, _)| *n == o) {
                    // one propagation: a later one replaces an earlier one
                    flags = (flags & !MS_PROPAGATION) | f;
                    continue;
                }
                let entry = hako_config::values::MountEntry {
                    source: String::new(),
                    target: String::new(),
                    fstype: String::new(),
                    options: vec![o.to_string()],
                    dump: 0,
                    pass: 0,
                };
                let (f, d, _) = entry.flags_and_data();
                if d.is_empty() {
                    // a flag: a later one overrides an earlier one (rw after ro)
                    match clear_bits(o) {
                        0 => flags |= f,
                        c => flags &= !c,
                    }
                    continue;
                }
                let key = o.split('=').next().unwrap_or(o);
                if bind {
                    // a bind mount has no file system data: the kernel ignores it, and
                    // runc passes it through (runtime-tools' suite gives tmpfs options
                    // to every mount); nothing of it is applied
                    continue;
                }
                if !data_keys.contains(&key) {
                    let known = if data_keys.is_empty() {
                        format!("a {fstype} mount takes only mount flags (ro, nosuid, nodev, noexec, relatime...)")
                    } else {
                        format!(
                            "a {fstype} mount takes mount flags and {}",
                            data_keys.join(", ")
                        )
                    };
                    return Err(self.err(
                        &opath,
                        format!("\"{o}\" is not an option hako knows for {fstype}; {known}; fix or remove it"),
                    ));
                }
                data.push(o);
            }
            let source = m.source().clone().unwrap_or_default();
            let source = if bind {
                self.host_path(&format!("{path}.source"), &source)?
                    .to_string_lossy()
                    .to_string()
            } else {
                let s = source.to_string_lossy().to_string();
                if s.is_empty() {
                    fstype.to_string()
                } else {
                    s
                }
            };
            let uids = m.uid_mappings().clone().unwrap_or_default();
            let gids = m.gid_mappings().clone().unwrap_or_default();
            if idmap_opt.is_some() || !uids.is_empty() || !gids.is_empty() {
                if !bind {
                    return Err(self.err(&path, format!("an idmapped mount is a bind mount; a {fstype} mount cannot be idmapped: remove its uidMappings/gidMappings and idmap option")));
                }
                if uids.is_empty() || gids.is_empty() {
                    return Err(self.err(&path, "an idmapped mount needs both uidMappings and gidMappings; add the missing one"));
                }
                let mut idm = maps(self, &uids, IdKind::Uid, &format!("{path}.uidMappings"))?;
                idm.extend(maps(
                    self,
                    &gids,
                    IdKind::Gid,
                    &format!("{path}.gidMappings"),
                )?);
                out.mount_idmaps.push(MountIdmap {
                    index: out.mounts.len(),
                    maps: idm,
                    recursive: idmap_opt.unwrap_or(false) || flags & MS_REC != 0,
                });
            }
            if fstype == "cgroup" || fstype == "cgroup2" {
                if dest != "/sys/fs/cgroup" {
                    return Err(self.err(
                        &format!("{path}.destination"),
                        format!("\"{dest}\": hako mounts the container's cgroups at /sys/fs/cgroup only; move the mount there or remove it"),
                    ));
                }
                out.mount_auto.cgroup = Some(CgroupAuto {
                    kind: if fstype == "cgroup2" {
                        CgroupKind::Cgroup2
                    } else {
                        CgroupKind::Cgroup
                    },
                    mode: if flags & MS_RDONLY != 0 {
                        CgroupMode::Ro
                    } else {
                        CgroupMode::Rw
                    },
                    force: true,
                });
                continue;
            }
            out.mounts.push(Mount {
                source,
                target: dest,
                fstype: if bind {
                    "none".into()
                } else {
                    fstype.to_string()
                },
                flags,
                data: data.join(","),
                // the runtime makes missing mount points of filesystems; a bind's source
                // may be a file or a directory, which only the host can tell
                create_dir: !bind,
                create_file: false,
                optional: false,
                relative: false,
                idmap: None,
            });
        }
        Ok(())
    }
}

/// The bits an option that clears a flag clears (`rw` clears MS_RDONLY).
fn clear_bits(o: &str) -> u64 {
    match o {
        "rw" => MS_RDONLY,
        "suid" => MS_NOSUID,
        "dev" => MS_NODEV,
        "exec" => MS_NOEXEC,
        "async" => MS_SYNCHRONOUS,
        "nomand" => MS_MANDLOCK,
        "atime" => MS_NOATIME,
        "diratime" => MS_NODIRATIME,
        "norelatime" => MS_RELATIME,
        "nostrictatime" => MS_STRICTATIME,
        _ => 0,
    }
}
