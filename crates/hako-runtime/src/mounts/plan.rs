//! The container's mounts as plans: pure functions of the spec, the lxc.mount.auto
//! choices ([`AutoPlan`]) and host facts passed in as values (the cgroup layout, whether
//! init is systemd, which kernel paths exist). No syscalls here: unit tests check the
//! plans without privileges; [`super::exec`] carries them out.
//!
//! Targets are relative to the container's root. A plan is a list of [`Step`]s, carried
//! out in order; each names what it does for the error text ("cannot {what}").

use std::path::{Path, PathBuf};

use nix::mount::MsFlags;

use super::AutoPlan;

pub(crate) const NOSUID_NODEV_NOEXEC: MsFlags = MsFlags::MS_NOSUID
    .union(MsFlags::MS_NODEV)
    .union(MsFlags::MS_NOEXEC);

/// One operation on the container's tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// mkdir -p `target` with `mode`
    Mkdir { target: PathBuf, mode: u32 },
    /// mount(source, target, fstype, flags, data)
    Mount {
        source: &'static str,
        target: PathBuf,
        fstype: Option<&'static str>,
        flags: MsFlags,
        data: Option<String>,
    },
    /// bind `target` onto itself, then remount the bind with MS_BIND|MS_REMOUNT|`flags`
    Rebind { target: PathBuf, flags: MsFlags },
    /// mount(NULL, target, NULL, flags, data): `flags` carries MS_REMOUNT itself
    Remount {
        target: PathBuf,
        flags: MsFlags,
        data: Option<&'static str>,
    },
    /// symlink `name` -> `to` in directory `dir`; failures ignored (it may exist)
    Symlink {
        dir: PathBuf,
        name: String,
        to: String,
    },
    /// an empty read-only tmpfs over a directory
    MaskDir { target: PathBuf },
    /// the container's own /dev/null (checked to be the null device) bound over a file
    MaskFile { target: PathBuf },
}

impl Op {
    /// The path the operation acts on (a symlink's directory).
    pub fn target(&self) -> &Path {
        match self {
            Op::Mkdir { target, .. }
            | Op::Mount { target, .. }
            | Op::Rebind { target, .. }
            | Op::Remount { target, .. }
            | Op::MaskDir { target }
            | Op::MaskFile { target } => target,
            Op::Symlink { dir, .. } => dir,
        }
    }
}

/// An [`Op`] with what it does (for errors) and whether a missing target skips it
/// (a kernel path this kernel may not have).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub op: Op,
    /// "cannot {what}" in the error
    pub what: String,
    /// skip the step when its target cannot be opened
    pub if_exists: bool,
}

fn step(op: Op, what: String) -> Step {
    Step {
        op,
        what,
        if_exists: false,
    }
}

fn if_exists(op: Op, what: String) -> Step {
    Step {
        op,
        what,
        if_exists: true,
    }
}

fn p(s: &str) -> PathBuf {
    PathBuf::from(s)
}

/// /dev as a small tmpfs (lxc.autodev) of `size` bytes.
pub fn dev_tmpfs(size: u64) -> Vec<Step> {
    vec![
        step(
            Op::Mkdir {
                target: p("dev"),
                mode: 0o755,
            },
            "create /dev in the rootfs".into(),
        ),
        step(
            Op::Mount {
                source: "none",
                target: p("dev"),
                fstype: Some("tmpfs"),
                flags: MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
                data: Some(format!("size={},mode=755", size.max(4096) / 1024 * 1024)),
            },
            "mount a tmpfs on /dev (lxc.autodev)".into(),
        ),
    ]
}

const AUTO: &str = " (lxc.mount.auto)";

/// lxc.mount.auto proc, first part: /proc itself (lxc.sysctl is applied after it).
pub fn proc_mount(auto: &AutoPlan) -> Vec<Step> {
    if auto.proc_rw.is_none() {
        return Vec::new();
    }
    vec![
        step(
            Op::Mkdir {
                target: p("proc"),
                mode: 0o555,
            },
            format!("create /proc{AUTO}"),
        ),
        step(
            Op::Mount {
                source: "proc",
                target: p("proc"),
                fstype: Some("proc"),
                flags: NOSUID_NODEV_NOEXEC,
                data: None,
            },
            format!("mount proc on /proc{AUTO}"),
        ),
    ]
}

/// lxc.mount.auto proc, second part: proc:mixed makes /proc/sys read-only but for
/// /proc/sys/net (with a network namespace of its own), and sysrq-trigger read-only.
pub fn proc_mixed(auto: &AutoPlan, new_netns: bool) -> Vec<Step> {
    let mut v = Vec::new();
    if auto.proc_rw != Some(false) {
        return v;
    }
    v.push(step(
        Op::Rebind {
            target: p("proc/sys"),
            flags: MsFlags::MS_RDONLY | NOSUID_NODEV_NOEXEC,
        },
        format!("make /proc/sys read-only{AUTO}"),
    ));
    if new_netns {
        v.push(step(
            Op::Rebind {
                target: p("proc/sys/net"),
                flags: NOSUID_NODEV_NOEXEC,
            },
            format!("make /proc/sys/net writable{AUTO}"),
        ));
    }
    // kernels without CONFIG_MAGIC_SYSRQ have no sysrq-trigger
    v.push(if_exists(
        Op::Rebind {
            target: p("proc/sysrq-trigger"),
            flags: MsFlags::MS_RDONLY | NOSUID_NODEV_NOEXEC,
        },
        format!("make /proc/sysrq-trigger read-only{AUTO}"),
    ));
    v
}

/// lxc.mount.auto sys: sysfs, read-only but with sys:rw; sys:mixed keeps
/// /sys/devices/virtual/net writable for a container with its own network namespace.
/// `userns`: the container has a user namespace of its own; with the host's network
/// namespace (lxc.net.0.type = none) it may not mount a sysfs (the network namespace is
/// not its own), and the host's /sys is bound instead, read-only unless "rw", as LXC does.
pub fn sys(auto: &AutoPlan, new_netns: bool, userns: bool) -> Vec<Step> {
    let Some(mode) = auto.sys.as_deref() else {
        return Vec::new();
    };
    let ro = if mode == "rw" {
        MsFlags::empty()
    } else {
        MsFlags::MS_RDONLY
    };
    let mut v = vec![
        step(
            Op::Mkdir {
                target: p("sys"),
                mode: 0o555,
            },
            format!("create /sys{AUTO}"),
        ),
        step(
            Op::Mount {
                source: "sysfs",
                target: p("sys"),
                fstype: Some("sysfs"),
                flags: NOSUID_NODEV_NOEXEC | ro,
                data: None,
            },
            format!("mount sysfs on /sys{AUTO}"),
        ),
    ];
    if userns && !new_netns {
        v[1] = step(
            Op::Mount {
                source: "/sys",
                target: p("sys"),
                fstype: None,
                flags: MsFlags::MS_BIND | MsFlags::MS_REC,
                data: None,
            },
            format!("bind the host's /sys on /sys{AUTO}"),
        );
        v.push(step(
            Op::Remount {
                target: p("sys"),
                flags: MsFlags::MS_BIND | MsFlags::MS_REMOUNT | NOSUID_NODEV_NOEXEC | ro,
                data: None,
            },
            format!("make the bound /sys read-only{AUTO}"),
        ));
        return v;
    }
    if mode == "mixed" && new_netns {
        v.push(if_exists(
            Op::Rebind {
                target: p("sys/devices/virtual/net"),
                flags: NOSUID_NODEV_NOEXEC,
            },
            format!("make /sys/devices/virtual/net writable{AUTO}"),
        ));
    }
    v
}

const CG: &str = " (lxc.mount.auto cgroup)";

/// lxc.mount.auto cgroup: nothing for a systemd init (it mounts its own) unless
/// `:force`; cgroup2 on /sys/fs/cgroup on a pure v2 host; else a tmpfs with every
/// hierarchy of `host` mounted inside (co-mounted controllers get symlinks), the tmpfs
/// itself read-only but with cgroup:rw.
pub fn cgroups(auto: &AutoPlan, host: &hako_cgroups::Host, systemd: bool) -> Vec<Step> {
    let Some(mode) = auto.cgroup.as_deref() else {
        return Vec::new();
    };
    if systemd && !auto.cgroup_force {
        return Vec::new();
    }
    let base = Path::new("sys/fs/cgroup");
    let ro = if mode == "ro" {
        MsFlags::MS_RDONLY
    } else {
        MsFlags::empty()
    };
    let mut v = vec![step(
        Op::Mkdir {
            target: base.into(),
            mode: 0o755,
        },
        format!("create /sys/fs/cgroup{CG}"),
    )];
    if matches!(host.mode, hako_cgroups::Mode::Unified) {
        v.push(step(
            Op::Mount {
                source: "cgroup2",
                target: base.into(),
                fstype: Some("cgroup2"),
                flags: NOSUID_NODEV_NOEXEC | ro,
                data: None,
            },
            format!("mount cgroup2 on /sys/fs/cgroup{CG}"),
        ));
        return v;
    }
    v.push(step(
        Op::Mount {
            source: "cgroup",
            target: base.into(),
            fstype: Some("tmpfs"),
            flags: NOSUID_NODEV_NOEXEC,
            data: Some("size=64k,mode=755".into()),
        },
        format!("mount a tmpfs on /sys/fs/cgroup{CG}"),
    ));
    for h in &host.hierarchies {
        let (dir, fstype, data) = if h.version == 2 {
            ("unified".to_string(), "cgroup2", None)
        } else {
            let dir = h
                .mountpoint
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| h.controllers.join(","));
            (dir, "cgroup", Some(h.controllers.join(",")))
        };
        let target = base.join(&dir);
        v.push(step(
            Op::Mkdir {
                target: target.clone(),
                mode: 0o755,
            },
            format!("create /sys/fs/cgroup/{dir}{CG}"),
        ));
        v.push(step(
            Op::Mount {
                source: fstype,
                target,
                fstype: Some(fstype),
                flags: NOSUID_NODEV_NOEXEC | ro,
                data,
            },
            format!("mount {fstype} on /sys/fs/cgroup/{dir}{CG}"),
        ));
        if h.version == 1 && dir.contains(',') {
            for c in dir.split(',') {
                v.push(step(
                    Op::Symlink {
                        dir: base.into(),
                        name: c.to_string(),
                        to: dir.clone(),
                    },
                    format!("open /sys/fs/cgroup{CG}"),
                ));
            }
        }
    }
    if mode != "rw" {
        // the tmpfs itself read-only, as LXC does for cgroup:mixed and cgroup:ro
        v.push(step(
            Op::Remount {
                target: base.into(),
                flags: MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | NOSUID_NODEV_NOEXEC,
                data: Some("size=64k,mode=755"),
            },
            format!("make /sys/fs/cgroup read-only{CG}"),
        ));
    }
    v
}

/// Kernel files hidden from the container (the OCI runtime spec's default masked paths,
/// and /proc/kmsg): an empty read-only tmpfs over a directory, the container's /dev/null
/// over a file. They leak host details (timers, interrupts, keys of every user, the
/// kernel log) or reach hardware.
pub const MASKED: &[&str] = &[
    "proc/acpi",
    "proc/asound",
    "proc/kcore",
    "proc/keys",
    "proc/kmsg",
    "proc/latency_stats",
    "proc/timer_list",
    "proc/timer_stats",
    "proc/sched_debug",
    "proc/scsi",
    "sys/firmware",
    "sys/devices/virtual/powercap",
];

/// Read-only with proc:mixed (the OCI spec's defaults; /proc/sys and sysrq-trigger are
/// in [`proc_mixed`]).
pub const PROC_READONLY: &[&str] = &["proc/bus", "proc/fs", "proc/irq"];

/// The [`MASKED`] paths on a filesystem lxc.mount.auto mounted (the others are the
/// rootfs's own files): those whose kind [`KernelPaths`] must tell.
pub fn mask_candidates(auto: &AutoPlan) -> impl Iterator<Item = &'static str> + '_ {
    MASKED.iter().copied().filter(move |p| {
        if p.starts_with("proc/") {
            auto.proc_rw.is_some()
        } else {
            auto.sys.is_some()
        }
    })
}

/// What a kernel path is, as found in the container's freshly mounted /proc and /sys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathKind {
    Dir,
    File,
}

/// Host facts for [`masks`]: the kind of each [`mask_candidates`] path this kernel has
/// (a missing one is absent from the list).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KernelPaths(pub Vec<(&'static str, PathKind)>);

const MASK: &str = " (a path hidden from containers)";

/// Mask the kernel paths that exist, then (proc:mixed) make [`PROC_READONLY`]
/// read-only where they exist.
pub fn masks(auto: &AutoPlan, present: &KernelPaths) -> Vec<Step> {
    let mut v = Vec::new();
    for &(path, kind) in &present.0 {
        let target = p(path);
        let op = match kind {
            PathKind::Dir => Op::MaskDir { target },
            PathKind::File => Op::MaskFile { target },
        };
        v.push(step(op, format!("mask /{path}{MASK}")));
    }
    if auto.proc_rw == Some(false) {
        for path in PROC_READONLY {
            v.push(if_exists(
                Op::Rebind {
                    target: p(path),
                    flags: MsFlags::MS_RDONLY | NOSUID_NODEV_NOEXEC,
                },
                format!("make read-only /{path}{MASK}"),
            ));
        }
    }
    v
}

/// OCI's `linux.readonlyPaths` (each made read-only where it exists), then
/// `linux.maskedPaths` (`masked`: those that exist, with their kind; absolute paths in
/// the container, as config.json gives them).
pub fn oci_masks(masked: &[(String, PathKind)], readonly: &[String]) -> Vec<Step> {
    let rel = |s: &str| p(s.trim_start_matches('/'));
    let mut v = Vec::new();
    for path in readonly {
        v.push(if_exists(
            Op::Rebind {
                target: rel(path),
                flags: MsFlags::MS_RDONLY,
            },
            format!("make {path} read-only (linux.readonlyPaths)"),
        ));
    }
    for (path, kind) in masked {
        let target = rel(path);
        let op = match kind {
            PathKind::Dir => Op::MaskDir { target },
            PathKind::File => Op::MaskFile { target },
        };
        v.push(step(op, format!("mask {path} (linux.maskedPaths)")));
    }
    v
}

/// What to create at an entry's target before mounting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Create {
    No,
    Dir,
    File,
}

/// One lxc.mount.entry / lxc.mount.fstab line, decided: the executor resolves the
/// source, creates the target, mounts and remounts. With `optional`, a failure before
/// the mount itself succeeded skips the entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryPlan<'a> {
    pub source: &'a str,
    /// the source is a path inside the container's root
    pub relative: bool,
    /// relative to the container's root
    pub target: PathBuf,
    /// a bind mount: its (host) source must exist
    pub bind: bool,
    pub create: Create,
    pub fstype: Option<&'a str>,
    pub data: Option<&'a str>,
    /// the first mount(2) call's flags
    pub flags: MsFlags,
    /// a bind remount with these flags after it (bind mounts ignore them at first)
    pub remount: Option<MsFlags>,
    /// a propagation change after it
    pub propagation: Option<MsFlags>,
    pub optional: bool,
}

const PROPAGATION: MsFlags = MsFlags::MS_SHARED
    .union(MsFlags::MS_SLAVE)
    .union(MsFlags::MS_PRIVATE)
    .union(MsFlags::MS_UNBINDABLE);

const REMOUNT_BITS: MsFlags = MsFlags::MS_RDONLY
    .union(MsFlags::MS_NOSUID)
    .union(MsFlags::MS_NODEV)
    .union(MsFlags::MS_NOEXEC)
    .union(MsFlags::MS_NOATIME)
    .union(MsFlags::MS_NODIRATIME)
    .union(MsFlags::MS_RELATIME)
    .union(MsFlags::MS_STRICTATIME);

/// lxc.mount.entry / lxc.mount.fstab: targets are inside the container (a leading '/'
/// is ignored, as are paths starting with the rootfs path `rootfs`).
pub fn entry<'a>(m: &'a crate::spec::Mount, rootfs: &Path) -> EntryPlan<'a> {
    let flags = MsFlags::from_bits_truncate(m.flags as _);
    let target = match Path::new(&m.target).strip_prefix(rootfs) {
        Ok(t) => t.to_string_lossy().into_owned(),
        Err(_) => m.target.clone(),
    };
    let target = PathBuf::from(target.trim_start_matches('/'));
    let bind = flags.contains(MsFlags::MS_BIND);
    let first = if bind {
        flags & (MsFlags::MS_BIND | MsFlags::MS_REC)
    } else {
        flags & !PROPAGATION
    };
    let prop = flags & PROPAGATION;
    EntryPlan {
        source: &m.source,
        relative: m.relative,
        target,
        bind,
        create: if m.create_dir {
            Create::Dir
        } else if m.create_file {
            Create::File
        } else {
            Create::No
        },
        fstype: (!bind && m.fstype != "none").then_some(m.fstype.as_str()),
        data: (!m.data.is_empty()).then_some(m.data.as_str()),
        flags: first,
        remount: (bind && flags.intersects(REMOUNT_BITS))
            .then(|| MsFlags::MS_BIND | MsFlags::MS_REMOUNT | (flags & REMOUNT_BITS)),
        propagation: (!prop.is_empty()).then(|| prop | (flags & MsFlags::MS_REC)),
        optional: m.optional,
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
