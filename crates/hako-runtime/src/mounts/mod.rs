//! The container's filesystem, built inside its new mount namespace before pivot_root.
//! Every target inside the rootfs is resolved with openat2(RESOLVE_IN_ROOT), so a symlink
//! or ".." in a container's rootfs can never make hako mount over a host path.

use std::ffi::OsStr;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{mount, MsFlags};
use nix::sys::stat::{makedev, mknod, Mode, SFlag};

use crate::error::{sys_err, Context, Result, RuntimeError};
use crate::inroot;
use crate::spec::ContainerSpec;
use crate::sys;

mod exec;
pub mod plan;

/// How lxc.mount.auto asked for proc, sys and cgroup.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AutoPlan {
    /// Some(true) = proc:rw, Some(false) = proc:mixed
    pub proc_rw: Option<bool>,
    /// "ro", "rw", "mixed"
    pub sys: Option<String>,
    /// "ro", "rw", "mixed"
    pub cgroup: Option<String>,
    /// `cgroup:...:force`: mount even for an init that mounts its own (systemd)
    #[serde(default)]
    pub cgroup_force: bool,
}

impl AutoPlan {
    pub fn from_spec(spec: &ContainerSpec) -> AutoPlan {
        use hako_spec::{CgroupMode, ProcMode, SysMode};
        let a = &spec.mount_auto;
        let keeps_sys_admin = match &spec.cap_keep {
            Some(k) => k.iter().any(|c| c == "sys_admin"),
            None => !spec.cap_drop.iter().any(|c| c == "sys_admin"),
        };
        AutoPlan {
            proc_rw: a.proc.map(|p| p == ProcMode::Rw),
            sys: a.sys.map(|s| {
                match s {
                    SysMode::Ro => "ro",
                    SysMode::Mixed => "mixed",
                    SysMode::Rw => "rw",
                }
                .to_string()
            }),
            cgroup: a.cgroup.map(|c| {
                match c.resolved_mode(keeps_sys_admin) {
                    CgroupMode::Ro => "ro",
                    CgroupMode::Rw => "rw",
                    _ => "mixed",
                }
                .to_string()
            }),
            cgroup_force: a.cgroup.map(|c| c.force).unwrap_or(false),
        }
    }
}

pub struct Rootfs {
    pub path: PathBuf,
    pub fd: OwnedFd,
}

fn fd_path(fd: &OwnedFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

fn rel(p: &Path) -> PathBuf {
    p.components()
        .filter(|c| matches!(c, Component::Normal(_) | Component::ParentDir))
        .collect()
}

impl Rootfs {
    /// Bind the rootfs onto itself (a mount point is needed for pivot_root) in our own,
    /// slave mount namespace.
    pub fn prepare(
        spec: &ContainerSpec,
        idmapped: Option<crate::userns::RootfsMount>,
    ) -> Result<Rootfs> {
        let name = &spec.name;
        mount(
            None::<&str>,
            "/",
            None::<&str>,
            MsFlags::MS_REC | MsFlags::MS_SLAVE,
            None::<&str>,
        )
        .ctx(|| {
            format!("container \"{name}\": cannot make the mount namespace a slave of the host's")
        })?;
        let p = &spec.rootfs;
        if let Some(r) = idmapped {
            // a user namespace: the monitor made the (checked, idmapped, read-only if
            // asked) mount; it goes on the rootfs directory, and its fd is the root
            crate::userns::attach_rootfs(name, &r)?;
            return Ok(Rootfs {
                path: p.clone(),
                fd: r.mnt,
            });
        }
        if let Some(o) = &spec.rootfs_overlay {
            mount_overlay(spec, o)?;
        }
        check_rootfs_dir(spec)?;
        if spec.rootfs_overlay.is_none() {
            mount(
                Some(p),
                p,
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None::<&str>,
            )
            .ctx(|| {
                format!(
                    "container \"{name}\": cannot bind-mount the rootfs {}",
                    p.display()
                )
            })?;
        }
        if spec.rootfs_readonly {
            mount(
                None::<&str>,
                p,
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
                None::<&str>,
            )
            .ctx(|| format!("container \"{name}\": cannot make the rootfs read-only"))?;
        }
        let fd = nix::fcntl::open(
            p,
            nix::fcntl::OFlag::O_PATH
                | nix::fcntl::OFlag::O_DIRECTORY
                | nix::fcntl::OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .ctx(|| format!("container \"{name}\": cannot open rootfs {}", p.display()))?;
        // SAFETY: open returned a new fd we own.
        let fd = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
        Ok(Rootfs {
            path: p.clone(),
            fd,
        })
    }

    /// Open `p` (container path) as an O_PATH fd, resolved inside the rootfs.
    pub fn open(&self, p: &Path) -> nix::Result<OwnedFd> {
        let r = rel(p);
        let r = if r.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            r
        };
        inroot::open_in_root(self.fd.as_fd(), &r, libc::O_PATH, 0)
    }

    /// Does `p` (a container path, symlinks followed inside the rootfs) name systemd?
    pub fn is_systemd(&self, p: &Path) -> bool {
        let Ok(fd) = self.open(p) else { return false };
        std::fs::read_link(fd_path(&fd))
            .map(|t| t.file_name().is_some_and(|n| n == "systemd"))
            .unwrap_or(false)
    }

    /// mkdir -p inside the rootfs.
    pub fn mkdir_all(&self, p: &Path, mode: u32) -> nix::Result<()> {
        let mut cur = PathBuf::new();
        for c in rel(p).components() {
            cur.push(c);
            match self.open(&cur) {
                Ok(_) => continue,
                Err(Errno::ENOENT) => {
                    let parent = self.open(cur.parent().unwrap_or(Path::new("")))?;
                    let name = cur.file_name().ok_or(Errno::EINVAL)?;
                    match nix::sys::stat::mkdirat(
                        Some(parent.as_raw_fd()),
                        name,
                        Mode::from_bits_truncate(mode),
                    ) {
                        Ok(()) | Err(Errno::EEXIST) => {}
                        Err(e) => return Err(e),
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Create an empty file (and its parents) inside the rootfs if missing.
    pub fn touch(&self, p: &Path) -> nix::Result<()> {
        if self.open(p).is_ok() {
            return Ok(());
        }
        let r = rel(p);
        if let Some(parent) = r.parent() {
            self.mkdir_all(parent, 0o755)?;
        }
        let parent = self.open(r.parent().unwrap_or(Path::new("")))?;
        let name = r.file_name().ok_or(Errno::EINVAL)?;
        let fd = nix::fcntl::openat(
            Some(parent.as_raw_fd()),
            name,
            nix::fcntl::OFlag::O_CREAT
                | nix::fcntl::OFlag::O_WRONLY
                | nix::fcntl::OFlag::O_CLOEXEC
                | nix::fcntl::OFlag::O_NOFOLLOW,
            Mode::from_bits_truncate(0o644),
        );
        match fd {
            Ok(fd) => {
                let _ = nix::unistd::close(fd);
                Ok(())
            }
            Err(Errno::EEXIST) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Mount onto a target inside the rootfs.
    pub fn mount_at(
        &self,
        source: Option<&OsStr>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> nix::Result<()> {
        let t = self.open(target)?;
        mount(source, &fd_path(&t), fstype, flags, data)
    }

    /// Bind a path inside the rootfs onto itself and remount it with `flags` (e.g. ro).
    pub fn rebind(&self, target: &Path, extra: MsFlags) -> nix::Result<()> {
        let t = self.open(target)?;
        let p = fd_path(&t);
        mount(Some(&p), &p, None::<&str>, MsFlags::MS_BIND, None::<&str>)?;
        self.remount_bind(target, extra)
    }

    /// Changes the flags of the bind mount that is on `target` already (no second mount
    /// stacked on it, as [`Rootfs::rebind`] would add).
    pub fn remount_bind(&self, target: &Path, extra: MsFlags) -> nix::Result<()> {
        let t = self.open(target)?;
        let p = fd_path(&t);
        mount(
            None::<&str>,
            &p,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REMOUNT | extra,
            None::<&str>,
        )
    }
}

/// The rootfs directory exists, is a directory and is not the host's root.
pub fn check_rootfs_dir(spec: &ContainerSpec) -> Result<()> {
    let name = &spec.name;
    let p = &spec.rootfs;
    match std::fs::metadata(p) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(RuntimeError::msg(format!(
                "container \"{name}\": rootfs {} is not a directory; fix lxc.rootfs.path in {}",
                p.display(),
                spec.config_path.display()
            )))
        }
        Err(_) => {
            return Err(RuntimeError::msg(format!(
                "container \"{name}\": rootfs {} does not exist; recreate the container or fix lxc.rootfs.path in {}",
                p.display(),
                spec.config_path.display()
            )))
        }
    }
    let is_host_root = std::fs::File::open(p)
        .map(OwnedFd::from)
        .ok()
        .and_then(|d| inroot::is_host_root(d.as_fd()).ok())
        .unwrap_or(false);
    if is_host_root {
        return Err(RuntimeError::msg(format!(
            "container \"{name}\": rootfs {} is the host's root directory (through a symlink, \"..\" or a bind mount); point lxc.rootfs.path in {} at the container's own root filesystem",
            p.display(),
            spec.config_path.display()
        )));
    }
    Ok(())
}

/// The overlay's layers are there (the upper one is never made here), its work and
/// mount directories are made.
pub fn check_overlay_layers(spec: &ContainerSpec, o: &crate::spec::Overlay) -> Result<()> {
    let name = &spec.name;
    for l in &o.lower {
        if !l.is_dir() {
            return Err(RuntimeError::msg(format!(
                "container \"{name}\": the overlay's lower layer {} does not exist; the image or source container it was made from is gone (see \"hako image ls\"); recreate the container",
                l.display()
            )));
        }
    }
    // The upper layer is the container itself (its files, its identity): made once, by
    // create or copy, and never again here. Made empty it would boot the bare image as if
    // it were this container.
    if !o.upper.is_dir() {
        return Err(RuntimeError::msg(format!(
            "container \"{name}\": the overlay's upper layer {} (the container's own files) does not exist; it was removed or moved away, and starting would boot the bare image in its place; put it back (from a backup, or \"hako snapshot {name} -r SNAP\"), or destroy the container (\"hako destroy {name}\") and create it again",
            o.upper.display()
        )));
    }
    for d in [&o.work, &spec.rootfs] {
        std::fs::create_dir_all(d).map_err(|e| {
            crate::error::io_err(
                format!("container \"{name}\": cannot create {}", d.display()),
                e,
            )
        })?;
    }
    Ok(())
}

/// Mount the overlay root (in the container's private mount namespace: the host never
/// sees it) on `spec.rootfs`.
fn mount_overlay(spec: &ContainerSpec, o: &crate::spec::Overlay) -> Result<()> {
    let name = &spec.name;
    check_overlay_layers(spec, o)?;
    let lower: Vec<String> = o.lower.iter().map(|l| l.display().to_string()).collect();
    let data = format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.join(":"),
        o.upper.display(),
        o.work.display()
    );
    mount(Some("overlay"), &spec.rootfs, Some("overlay"), MsFlags::empty(), Some(data.as_str())).ctx(|| {
        interrupted_layer(spec, o).unwrap_or_else(|| {
            format!("container \"{name}\": cannot mount its overlay root ({data}); is the overlay module available (modprobe overlay)?")
        })
    })
}

/// Why an overlay root cannot be mounted when a create or copy was cut short: hako's
/// create and copy write a new layer through a volatile overlay and remove this marker
/// when done; it is left when they were killed half-way.
pub fn interrupted_layer(spec: &ContainerSpec, o: &crate::spec::Overlay) -> Option<String> {
    let marker = o.work.join("work/incompat/volatile");
    marker.exists().then(|| format!("container \"{}\": cannot mount its overlay root: {} is there, left by a create or copy that was interrupted, so the container's layer may be incomplete; destroy the container and create it again (or, if you know the layer is complete, remove that directory)", spec.name, marker.display()))
}

use plan::NOSUID_NODEV_NOEXEC;

/// /dev as a small tmpfs (lxc.autodev).
pub fn mount_dev_tmpfs(root: &Rootfs, spec: &ContainerSpec) -> Result<()> {
    exec::run(root, &spec.name, &plan::dev_tmpfs(spec.autodev_tmpfs_size))
}

/// lxc.mount.auto proc and sys (lxc.sysctl, but net.*, applied while /proc/sys is
/// writable).
pub fn mount_proc_sys(root: &Rootfs, spec: &ContainerSpec, auto: &AutoPlan) -> Result<()> {
    let name = &spec.name;
    let proc = plan::proc_mount(auto);
    if !proc.is_empty() {
        exec::run(root, name, &proc)?;
        crate::sysctl::apply(spec, crate::sysctl::ProcSys::InRoot(root), false)?;
        exec::run(root, name, &plan::proc_mixed(auto, spec.new_netns()))?;
    }
    exec::run(
        root,
        name,
        &plan::sys(auto, spec.new_netns(), spec.namespaces().user),
    )
}

/// Mask [`plan::MASKED`] and make [`plan::PROC_READONLY`] read-only, where they exist.
/// Called once /proc, /sys and /dev are in place. A path that cannot be masked fails the
/// start.
pub fn mask_kernel_paths(root: &Rootfs, spec: &ContainerSpec, auto: &AutoPlan) -> Result<()> {
    let present = exec::probe_kernel_paths(root, &spec.name, plan::mask_candidates(auto))?;
    exec::run(root, &spec.name, &plan::masks(auto, &present))
}

/// OCI's `linux.readonlyPaths` and `linux.maskedPaths` ([`plan::oci_masks`]): a masked
/// path that does not exist is skipped (as runc); one that cannot be masked fails the
/// start.
pub fn mask_oci_paths(root: &Rootfs, spec: &ContainerSpec) -> Result<()> {
    if spec.masked_paths.is_empty() && spec.readonly_paths.is_empty() {
        return Ok(());
    }
    let mut masked = Vec::new();
    for m in &spec.masked_paths {
        let Ok(t) = root.open(Path::new(m.trim_start_matches('/'))) else {
            continue;
        };
        let st = nix::sys::stat::fstat(t.as_raw_fd()).map_err(|e| {
            sys_err(
                format!(
                    "container \"{}\": cannot inspect {m} (linux.maskedPaths)",
                    spec.name
                ),
                e,
            )
        })?;
        let kind = if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
            plan::PathKind::Dir
        } else {
            plan::PathKind::File
        };
        masked.push((m.clone(), kind));
    }
    // a path below a masked directory is hidden by that mask already (and gone once it
    // is made): only the topmost
    let dirs: Vec<String> = masked
        .iter()
        .filter(|(_, k)| *k == plan::PathKind::Dir)
        .map(|(m, _)| format!("{}/", m.trim_end_matches('/')))
        .collect();
    masked.retain(|(m, _)| !dirs.iter().any(|d| m.starts_with(d.as_str())));
    exec::run(
        root,
        &spec.name,
        &plan::oci_masks(&masked, &spec.readonly_paths),
    )
}

/// A fresh /proc/sys/kernel/random/boot_id for the container (systemd and journald key
/// their state on it): a random UUID in /dev/.hako-boot-id, bound read-only over the
/// proc file. Needs /proc mounted and a /dev of our own.
pub fn fresh_boot_id(root: &Rootfs, spec: &ContainerSpec) -> Result<()> {
    let name = &spec.name;
    let target = Path::new("proc/sys/kernel/random/boot_id");
    if root.open(target).is_err() {
        return Ok(());
    }
    let mut b = [0u8; 16];
    let f = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut b));
    if f.is_err() {
        return Ok(());
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: Vec<String> = b.iter().map(|x| format!("{x:02x}")).collect();
    let uuid = format!(
        "{}-{}-{}-{}-{}\n",
        h[0..4].concat(),
        h[4..6].concat(),
        h[6..8].concat(),
        h[8..10].concat(),
        h[10..16].concat()
    );
    let dev = root
        .open(Path::new("dev"))
        .map_err(|e| sys_err(format!("container \"{name}\": cannot open /dev"), e))?;
    let file = fd_path(&dev).join(".hako-boot-id");
    std::fs::write(&file, uuid).map_err(|e| {
        crate::error::io_err(format!("container \"{name}\": cannot write its boot id"), e)
    })?;
    let src = root
        .open(Path::new("dev/.hako-boot-id"))
        .map_err(|e| sys_err("open boot id", e))?;
    root.mount_at(
        Some(fd_path(&src).as_os_str()),
        target,
        None,
        MsFlags::MS_BIND,
        None,
    )
    .map_err(|e| sys_err(format!("container \"{name}\": cannot bind its boot id"), e))?;
    // one mount: every sandboxed service systemd starts unmounts each mount below
    // /proc/sys one by one
    root.remount_bind(target, MsFlags::MS_RDONLY | NOSUID_NODEV_NOEXEC)
        .map_err(|e| {
            sys_err(
                format!("container \"{name}\": cannot make its boot id read-only"),
                e,
            )
        })
}

/// lxc.mount.auto cgroup: a tmpfs on /sys/fs/cgroup with every hierarchy of the host
/// mounted inside (see [`plan::cgroups`]); the cgroup namespace makes each show the
/// container's own cgroup as its root. Called after unshare(CLONE_NEWCGROUP). Nothing
/// for a systemd init unless `:force`.
pub fn mount_cgroups(
    root: &Rootfs,
    spec: &ContainerSpec,
    host: &hako_cgroups::Host,
    auto: &AutoPlan,
    systemd: bool,
) -> Result<()> {
    exec::run(root, &spec.name, &plan::cgroups(auto, host, systemd))
}

/// lxc.mount.entry / lxc.mount.fstab, in order (see [`plan::entry`]).
/// `idmapped`: the idmapped bind mounts the monitor made for some entries (by index, in a
/// user namespace: see crate::userns::idmapped_binds); they are put in place instead of a
/// bind of the host path.
pub fn mount_entries(
    root: &Rootfs,
    spec: &ContainerSpec,
    idmapped: Vec<(u32, OwnedFd)>,
) -> Result<()> {
    let mut idmapped: std::collections::HashMap<u32, OwnedFd> = idmapped.into_iter().collect();
    for (i, m) in spec.mounts.iter().enumerate() {
        let pre = idmapped.remove(&(i as u32));
        // OCI: a bind's missing mount point is made as the host's source is, a directory
        // or a file (as runc); hako-spec, pure, cannot tell which
        let oci_bind = spec.oci_namespaces.is_some()
            && m.flags & libc::MS_BIND != 0
            && !m.create_dir
            && !m.create_file;
        let owned;
        let m = if oci_bind {
            let mut c = m.clone();
            match std::fs::metadata(&m.source) {
                Ok(md) if md.is_dir() => c.create_dir = true,
                Ok(_) => c.create_file = true,
                Err(_) => {}
            }
            owned = c;
            &owned
        } else {
            m
        };
        exec::entry(root, &spec.name, &plan::entry(m, &spec.rootfs), pre)?;
    }
    Ok(())
}

/// Device nodes of an autodev /dev, and the usual symlinks.
pub fn populate_dev(root: &Rootfs, spec: &ContainerSpec) -> Result<()> {
    let name = &spec.name;
    let dev = root
        .open(Path::new("dev"))
        .map_err(|e| sys_err(format!("container \"{name}\": cannot open /dev"), e))?;
    let devp = fd_path(&dev);
    // (name, major, minor, only where the host has it)
    let nodes: [(&str, u64, u64, bool); 8] = [
        ("null", 1, 3, false),
        ("zero", 1, 5, false),
        ("full", 1, 7, false),
        ("random", 1, 8, false),
        ("urandom", 1, 9, false),
        ("tty", 5, 0, false),
        // for VPNs and FUSE file systems (the default device policy allows both)
        ("fuse", 10, 229, true),
        ("net/tun", 10, 200, true),
    ];
    let old = nix::sys::stat::umask(Mode::empty());
    for (n, ma, mi, host_only) in nodes {
        // OCI's default devices are the first six only
        if host_only && (spec.oci_default_devices || !Path::new("/dev").join(n).exists()) {
            continue;
        }
        if let Some(parent) = Path::new(n).parent().filter(|p| !p.as_os_str().is_empty()) {
            let _ = root.mkdir_all(&Path::new("dev").join(parent), 0o755);
        }
        let p = devp.join(n);
        match mknod(
            &p,
            SFlag::S_IFCHR,
            Mode::from_bits_truncate(0o666),
            makedev(ma, mi),
        ) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(_) => {
                // no mknod (e.g. inside a user namespace): bind the host's node instead
                root.touch(&Path::new("dev").join(n)).map_err(|e| {
                    sys_err(format!("container \"{name}\": cannot create /dev/{n}"), e)
                })?;
                let src = format!("/dev/{n}");
                root.mount_at(
                    Some(OsStr::new(&src)),
                    &Path::new("dev").join(n),
                    None,
                    MsFlags::MS_BIND,
                    None,
                )
                .map_err(|e| sys_err(format!("container \"{name}\": cannot bind /dev/{n}"), e))?;
            }
        }
    }
    nix::sys::stat::umask(old);
    for (l, t) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        match nix::unistd::symlinkat(t, Some(dev.as_raw_fd()), l) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => {
                return Err(sys_err(
                    format!("container \"{name}\": cannot create /dev/{l}"),
                    e,
                ))
            }
        }
    }
    for d in ["shm", "mqueue", "pts"] {
        let _ = root.mkdir_all(
            &Path::new("dev").join(d),
            if d == "shm" { 0o1777 } else { 0o755 },
        );
    }
    Ok(())
}

/// OCI's `linux.devices`: each node made at its path in the container (its parents as
/// directories 0755), with its type, numbers, mode (0666 when none is given), owner.
/// Every lookup stays in the root (`Rootfs::open`); an existing file there is replaced
/// only when it is not a directory.
pub fn create_devices(root: &Rootfs, spec: &ContainerSpec) -> Result<()> {
    let name = &spec.name;
    for d in &spec.devices {
        let what = |e: Errno| {
            sys_err(
                format!(
                    "container \"{name}\": cannot create the device {} (linux.devices)",
                    d.path
                ),
                e,
            )
        };
        let rel = Path::new(d.path.trim_start_matches('/'));
        let (Some(parent), Some(file)) = (rel.parent(), rel.file_name()) else {
            return Err(what(Errno::EINVAL));
        };
        if !parent.as_os_str().is_empty() {
            root.mkdir_all(parent, 0o755).map_err(what)?;
        }
        let dir = root.open(parent).map_err(what)?;
        let kind = match d.kind {
            hako_spec::DeviceKind::Char => SFlag::S_IFCHR,
            hako_spec::DeviceKind::Block => SFlag::S_IFBLK,
            hako_spec::DeviceKind::Fifo => SFlag::S_IFIFO,
        };
        let mode = Mode::from_bits_truncate(d.file_mode.unwrap_or(0o666) & 0o7777);
        let dev = makedev(d.major as u64, d.minor as u64);
        let old = nix::sys::stat::umask(Mode::empty());
        let mut r = nix::sys::stat::mknodat(Some(dir.as_raw_fd()), file, kind, mode, dev);
        if r == Err(Errno::EEXIST) {
            // a file of the rootfs's own (not a directory): the node replaces it
            let _ = nix::unistd::unlinkat(
                Some(dir.as_raw_fd()),
                file,
                nix::unistd::UnlinkatFlags::NoRemoveDir,
            );
            r = nix::sys::stat::mknodat(Some(dir.as_raw_fd()), file, kind, mode, dev);
        }
        nix::sys::stat::umask(old);
        r.map_err(what)?;
        if d.uid.is_some() || d.gid.is_some() {
            nix::unistd::fchownat(
                Some(dir.as_raw_fd()),
                file,
                d.uid.map(nix::unistd::Uid::from_raw),
                d.gid.map(nix::unistd::Gid::from_raw),
                nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
            )
            .map_err(what)?;
        }
    }
    Ok(())
}

/// The pty masters the monitor keeps: index 0 is /dev/console (when enabled), then ttys.
/// `peers` holds one slave fd per master: the monitor keeps them open so that a master
/// never reports a hang-up while no process in the container has its tty open (systemd
/// opens and closes /dev/console for every status line; a master in hang-up state wakes
/// poll(2) at once, and the monitor would spin through the whole boot).
pub struct Ptys {
    pub console: Option<OwnedFd>,
    pub ttys: Vec<OwnedFd>,
    pub peers: Vec<OwnedFd>,
}

/// devpts (newinstance) on /dev/pts, /dev/ptmx, and the console and tty ptys allocated
/// from the container's own devpts, their slaves bound on /dev/console and /dev/ttyN.
pub fn setup_devpts(root: &Rootfs, spec: &ContainerSpec) -> Result<Ptys> {
    let name = &spec.name;
    let err = |what: String, e: Errno| sys_err(format!("container \"{name}\": cannot {what}"), e);
    let pts = Path::new("dev/pts");
    root.mkdir_all(pts, 0o755)
        .map_err(|e| err("create /dev/pts".into(), e))?;
    let max = spec.pty_max.max(spec.tty_max + 2);
    let data = format!("newinstance,ptmxmode=0666,mode=0620,gid=5,max={max}");
    root.mount_at(
        Some(OsStr::new("devpts")),
        pts,
        Some("devpts"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some(&data),
    )
    .map_err(|e| err("mount devpts on /dev/pts".into(), e))?;
    // /dev/ptmx: OCI's symlink to pts/ptmx (runtime-linux.md) where /dev has none; else
    // a bind of /dev/pts/ptmx (a symlink would not work for every program)
    let ptmx = Path::new("dev/ptmx");
    let linked = spec.oci_default_devices
        && root.open(Path::new("dev")).is_ok_and(|dev| {
            nix::unistd::symlinkat("pts/ptmx", Some(dev.as_raw_fd()), "ptmx").is_ok()
        });
    if !linked {
        if root.open(ptmx).is_err() {
            root.touch(ptmx)
                .map_err(|e| err("create /dev/ptmx".into(), e))?;
        }
        let src = root
            .open(Path::new("dev/pts/ptmx"))
            .map_err(|e| err("open /dev/pts/ptmx".into(), e))?;
        root.mount_at(
            Some(fd_path(&src).as_os_str()),
            ptmx,
            None,
            MsFlags::MS_BIND,
            None,
        )
        .map_err(|e| err("bind /dev/pts/ptmx on /dev/ptmx".into(), e))?;
    }

    let ptmx_fd = root
        .open(Path::new("dev/pts/ptmx"))
        .map_err(|e| err("open /dev/pts/ptmx".into(), e))?;
    // re-open the O_PATH fd for real through /proc/self/fd
    let ptmx_path = fd_path(&ptmx_fd);
    let mut peers = Vec::new();
    let mut alloc = |target: &Path| -> Result<OwnedFd> {
        let (master, slave, idx) =
            sys::open_pty(&ptmx_path).map_err(|e| err("allocate a pty".into(), e))?;
        peers.push(slave);
        if root.open(target).is_err() {
            root.touch(target)
                .map_err(|e| err(format!("create /{}", target.display()), e))?;
        }
        let s = root
            .open(&Path::new("dev/pts").join(idx.to_string()))
            .map_err(|e| err("open a pty slave".into(), e))?;
        root.mount_at(
            Some(fd_path(&s).as_os_str()),
            target,
            None,
            MsFlags::MS_BIND,
            None,
        )
        .map_err(|e| err(format!("bind a pty on /{}", target.display()), e))?;
        Ok(master)
    };
    let console = if spec.console {
        Some(alloc(Path::new("dev/console"))?)
    } else {
        None
    };
    let mut ttys = Vec::new();
    for i in 1..=spec.tty_max {
        ttys.push(alloc(&PathBuf::from(format!("dev/tty{i}")))?);
    }
    Ok(Ptys {
        console,
        ttys,
        peers,
    })
}

/// pivot_root into the rootfs and detach the old root.
pub fn pivot(root: &Rootfs, spec: &ContainerSpec) -> Result<()> {
    let name = &spec.name;
    nix::unistd::fchdir(root.fd.as_raw_fd())
        .or_else(|_| nix::unistd::chdir(&root.path))
        .ctx(|| format!("container \"{name}\": cannot chdir into the rootfs"))?;
    nix::unistd::pivot_root(".", ".").ctx(|| {
        format!(
            "container \"{name}\": pivot_root into {} failed",
            root.path.display()
        )
    })?;
    nix::mount::umount2(".", nix::mount::MntFlags::MNT_DETACH)
        .ctx(|| format!("container \"{name}\": cannot detach the host's root after pivot_root"))?;
    nix::unistd::chdir("/")
        .ctx(|| format!("container \"{name}\": cannot chdir to / after pivot_root"))?;
    Ok(())
}

pub fn os(s: &str) -> &OsStr {
    OsStr::from_bytes(s.as_bytes())
}
