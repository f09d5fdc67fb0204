//! Mounts: what `lxc.mount.auto` asks for, and mount entries with their flags parsed (the
//! runtime passes [`Mount::flags`] and [`Mount::data`] to mount(2) as they are).

use serde::{Deserialize, Serialize};

/// mount(2) flag bits (Linux), as [`Mount::flags`] holds them; `MS_PROPAGATION` are the
/// propagation bits, which mount(2) wants in a call of their own.
pub mod flags {
    pub use hako_config::values::{
        MS_BIND, MS_DIRSYNC, MS_LAZYTIME, MS_MANDLOCK, MS_NOATIME, MS_NODEV, MS_NODIRATIME,
        MS_NOEXEC, MS_NOSUID, MS_PRIVATE, MS_PROPAGATION, MS_RDONLY, MS_REC, MS_RELATIME,
        MS_REMOUNT, MS_SHARED, MS_SLAVE, MS_STRICTATIME, MS_SYNCHRONOUS, MS_UNBINDABLE,
    };
}

/// One mount of the container's filesystem (`lxc.mount.entry`, a line of
/// `lxc.mount.fstab`, an OCI `mounts` entry).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mount {
    /// a host path for a bind mount (inside the container with [`Mount::relative`]), or the
    /// filesystem's source ("proc", "tmpfs", a device)
    pub source: String,
    /// usually relative to the container's root (a leading `/` is ignored)
    pub target: String,
    /// "none" for a bind mount
    pub fstype: String,
    /// mount(2) flags ([`flags`]), propagation bits included
    pub flags: u64,
    /// the filesystem's data string: every option that is not a flag ("size=10m,mode=755")
    pub data: String,
    /// `create=dir`: create the target directory first
    pub create_dir: bool,
    /// `create=file`: create the target file first
    pub create_file: bool,
    /// `optional`: a failing mount is not an error
    pub optional: bool,
    /// `relative`: the source is relative to the container's root
    pub relative: bool,
    /// `idmap=PATH|container`: an idmapped mount
    pub idmap: Option<String>,
}

impl Mount {
    pub fn is_bind(&self) -> bool {
        self.flags & flags::MS_BIND != 0
    }
}

impl From<&hako_config::values::MountEntry> for Mount {
    fn from(e: &hako_config::values::MountEntry) -> Mount {
        let (flags, data, x) = e.flags_and_data();
        Mount {
            source: e.source.clone(),
            target: e.target.clone(),
            fstype: e.fstype.clone(),
            flags,
            data,
            create_dir: x.create_dir,
            create_file: x.create_file,
            optional: x.optional,
            relative: x.relative,
            idmap: x.idmap,
        }
    }
}

/// /proc (`lxc.mount.auto = proc...`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProcMode {
    /// /proc read-write, /proc/sys and /proc/sysrq-trigger read-only (`proc`, `proc:mixed`)
    Mixed,
    /// /proc read-write (`proc:rw`)
    Rw,
}

/// /sys (`lxc.mount.auto = sys...`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SysMode {
    /// read-only (`sys:ro`)
    Ro,
    /// read-only except /sys/devices/virtual/net (`sys`, `sys:mixed`)
    Mixed,
    /// read-write (`sys:rw`)
    Rw,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CgroupKind {
    /// `cgroup:*`: tmpfs with the container's own cgroups bound in
    Cgroup,
    /// `cgroup-full:*`: the host's hierarchies bound in
    CgroupFull,
    /// `cgroup2[:ro]`: a cgroup2 mount
    Cgroup2,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CgroupMode {
    /// no specifier: rw if the container keeps CAP_SYS_ADMIN, mixed otherwise
    NoSpec,
    Mixed,
    Ro,
    Rw,
}

/// /sys/fs/cgroup (`lxc.mount.auto = cgroup...`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupAuto {
    pub kind: CgroupKind,
    pub mode: CgroupMode,
    /// `:force`: mount even for an init that mounts its own (systemd)
    pub force: bool,
}

impl CgroupAuto {
    /// The mode after resolving `NoSpec` as LXC does.
    pub fn resolved_mode(&self, keeps_sys_admin: bool) -> CgroupMode {
        match self.mode {
            CgroupMode::NoSpec if keeps_sys_admin => CgroupMode::Rw,
            CgroupMode::NoSpec => CgroupMode::Mixed,
            m => m,
        }
    }
}

/// `shmounts:HOST[:CONTAINER]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shmounts {
    pub host: String,
    pub container: String,
}

/// The kernel filesystems mounted for the container (`lxc.mount.auto`): None, not at all.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountAuto {
    pub proc: Option<ProcMode>,
    pub sys: Option<SysMode>,
    pub cgroup: Option<CgroupAuto>,
    pub shmounts: Option<Shmounts>,
}

impl MountAuto {
    pub fn is_empty(&self) -> bool {
        *self == MountAuto::default()
    }
}

impl From<&hako_config::values::MountAuto> for MountAuto {
    fn from(a: &hako_config::values::MountAuto) -> MountAuto {
        use hako_config::values as v;
        MountAuto {
            proc: a.proc.map(|p| match p {
                v::ProcMode::Mixed => ProcMode::Mixed,
                v::ProcMode::Rw => ProcMode::Rw,
            }),
            sys: a.sys.map(|s| match s {
                v::SysMode::Ro => SysMode::Ro,
                v::SysMode::Mixed => SysMode::Mixed,
                v::SysMode::Rw => SysMode::Rw,
            }),
            cgroup: a.cgroup.map(|c| CgroupAuto {
                kind: match c.kind {
                    v::CgroupKind::Cgroup => CgroupKind::Cgroup,
                    v::CgroupKind::CgroupFull => CgroupKind::CgroupFull,
                    v::CgroupKind::Cgroup2 => CgroupKind::Cgroup2,
                },
                mode: match c.mode {
                    v::CgroupMode::NoSpec => CgroupMode::NoSpec,
                    v::CgroupMode::Mixed => CgroupMode::Mixed,
                    v::CgroupMode::Ro => CgroupMode::Ro,
                    v::CgroupMode::Rw => CgroupMode::Rw,
                },
                force: c.force,
            }),
            shmounts: a.shmounts.as_ref().map(|s| Shmounts {
                host: s.host.clone(),
                container: s.container.clone(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::flags::*;
    use super::*;
    use hako_config::values::{parse_mount_auto, parse_mount_entry};

    #[test]
    fn mount_flags_and_data_are_parsed_once() {
        let m = Mount::from(
            &parse_mount_entry(
                "/src data none rbind,ro,nosuid,rslave,create=dir,optional,relative,idmap=container,x=1 0 0",
            )
            .unwrap(),
        );
        assert_eq!(m.source, "/src");
        assert_eq!(m.target, "data");
        assert_eq!(m.fstype, "none");
        assert_eq!(
            m.flags,
            MS_BIND | MS_REC | MS_RDONLY | MS_NOSUID | MS_SLAVE,
            "{:#x}",
            m.flags
        );
        assert!(m.is_bind());
        assert_eq!(m.data, "x=1");
        assert!(m.create_dir && !m.create_file && m.optional && m.relative);
        assert_eq!(m.idmap.as_deref(), Some("container"));
        // a later option clears an earlier one; filesystem options stay in order
        let m = Mount::from(
            &parse_mount_entry("tmpfs tmp tmpfs ro,size=10m,rw,mode=1777,noexec,create=file")
                .unwrap(),
        );
        assert_eq!(m.flags, MS_NOEXEC);
        assert_eq!(m.data, "size=10m,mode=1777");
        assert!(m.create_file && !m.create_dir && !m.is_bind());
        assert_eq!(m.flags & MS_PROPAGATION, 0);
    }

    #[test]
    fn mount_auto_translates_every_mode() {
        let a = MountAuto::from(&parse_mount_auto("proc:rw sys:ro cgroup:ro:force").unwrap());
        assert_eq!(a.proc, Some(ProcMode::Rw));
        assert_eq!(a.sys, Some(SysMode::Ro));
        let c = a.cgroup.unwrap();
        assert_eq!(
            (c.kind, c.mode, c.force),
            (CgroupKind::Cgroup, CgroupMode::Ro, true)
        );
        let a = MountAuto::from(&parse_mount_auto("proc sys cgroup-full shmounts:/h").unwrap());
        assert_eq!(a.proc, Some(ProcMode::Mixed));
        assert_eq!(a.sys, Some(SysMode::Mixed));
        let c = a.cgroup.unwrap();
        assert_eq!(
            (c.kind, c.mode),
            (CgroupKind::CgroupFull, CgroupMode::NoSpec)
        );
        assert_eq!(c.resolved_mode(true), CgroupMode::Rw);
        assert_eq!(c.resolved_mode(false), CgroupMode::Mixed);
        assert_eq!(
            a.shmounts,
            Some(Shmounts {
                host: "/h".into(),
                container: "/dev/.lxc-mounts".into()
            })
        );
        let a = MountAuto::from(&parse_mount_auto("cgroup2:ro sys:rw").unwrap());
        assert_eq!(a.sys, Some(SysMode::Rw));
        let c = a.cgroup.unwrap();
        assert_eq!(
            (c.kind, c.mode, c.force),
            (CgroupKind::Cgroup2, CgroupMode::Ro, true)
        );
        assert!(MountAuto::from(&parse_mount_auto("").unwrap()).is_empty());
    }
}
