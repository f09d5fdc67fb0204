//! User namespaces (`lxc.idmap`). init is cloned into a user namespace of its own that
//! owns every other namespace of the container; the monitor, still root on the host,
//! then
//! - writes init's id maps ([`write_maps`]),
//! - builds the container's root filesystem as an idmapped mount ([`idmapped_rootfs`]):
//!   the image and the container's layers stay owned by host ids on disk, and appear
//!   owned by the container's ids inside (one cached image serves every range, no chown),
//! - and has delegated the container's cgroup to its root ([`delegate`]) so that an init
//!   such as systemd manages its own subtree (the limits, one level up, stay out of reach).
//!
//! init waits for [`crate::sync::Msg::Mapped`], becomes root inside ([`become_root`]) and
//! moves the rootfs mount it was handed onto its root directory.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;

use crate::error::{errno_text, sys_err, Result, RuntimeError};
use crate::spec::ContainerSpec;

mod mount_api;
pub mod rootless;
pub use crate::spec::{IdKind, IdMap};
pub(crate) use mount_api::move_mount;
use mount_api::*;

/// The host ids of the container's root (uid, gid): the host side of the ranges that
/// map id 0 (hako-spec refuses maps without them).
pub fn root_ids(maps: &[IdMap]) -> Option<(u32, u32)> {
    let host0 = |kind| {
        maps.iter()
            .find(|m| m.kind == kind && m.container == 0)
            .map(|m| m.host)
    };
    Some((host0(IdKind::Uid)?, host0(IdKind::Gid)?))
}

/// The text of /proc/PID/uid_map (or gid_map): one "INSIDE OUTSIDE COUNT" line per range.
pub fn map_text(maps: &[IdMap], kind: IdKind) -> String {
    maps.iter()
        .filter(|m| m.kind == kind)
        .map(|m| format!("{} {} {}\n", m.container, m.host, m.count))
        .collect()
}

/// Write the id maps of `pid`'s user namespace (each file in one write, as the kernel
/// requires). A root caller writes them itself (setgroups stays allowed); a non-root one
/// (rootless) through newuidmap/newgidmap ([`rootless::newidmap`]).
pub fn write_maps(name: &str, pid: i32, maps: &[IdMap]) -> Result<()> {
    if rootless::is_rootless() {
        let who = rootless::caller_name();
        for (uid, kind) in [(true, IdKind::Uid), (false, IdKind::Gid)] {
            let lines: Vec<[u64; 3]> = maps
                .iter()
                .filter(|m| m.kind == kind)
                .map(|m| [m.container.into(), m.host.into(), m.count.into()])
                .collect();
            rootless::newidmap(pid, uid, &lines, &who)
                .map_err(|e| RuntimeError::msg(format!("container \"{name}\": {e}")))?;
        }
        return Ok(());
    }
    for (file, kind) in [("uid_map", IdKind::Uid), ("gid_map", IdKind::Gid)] {
        let text = map_text(maps, kind);
        let path = format!("/proc/{pid}/{file}");
        std::fs::write(&path, text.as_bytes()).map_err(|e| {
            RuntimeError::msg(format!(
                "container \"{name}\": cannot write its {file} ({}): {e}; check the lxc.idmap lines (the kernel takes at most 340 ranges, each host id once)",
                text.trim().replace('\n', ", ")
            ))
        })?;
    }
    Ok(())
}

/// In init, once the maps are written: become root of the user namespace (the process
/// still has the host's root ids, which are not mapped there).
pub fn become_root(name: &str) -> Result<()> {
    let err = |what: &str, e: Errno| {
        sys_err(
            format!("container \"{name}\": cannot {what} in its user namespace"),
            e,
        )
    };
    nix::unistd::setgroups(&[]).map_err(|e| err("clear the supplementary groups", e))?;
    let root_g = nix::unistd::Gid::from_raw(0);
    nix::unistd::setresgid(root_g, root_g, root_g).map_err(|e| err("become gid 0", e))?;
    let root_u = nix::unistd::Uid::from_raw(0);
    nix::unistd::setresuid(root_u, root_u, root_u).map_err(|e| err("become uid 0", e))?;
    Ok(())
}

/// The files of a cgroup directory its owner needs to manage its own subtree
/// (cgroup v2's delegation model; for v1 the same files of each hierarchy).
fn delegated_files(version: u8) -> &'static [&'static str] {
    if version == 2 {
        &["cgroup.procs", "cgroup.subtree_control", "cgroup.threads"]
    } else {
        &["cgroup.procs", "tasks", "cgroup.clone_children"]
    }
}

/// Give the container's root its cgroup (the inner one, the root of its cgroup
/// namespace): the directory and the files of [`delegated_files`]; the limits are
/// written one level up, where the container cannot reach.
pub fn delegate(name: &str, cg: &hako_cgroups::Cgroup, uid: u32, gid: u32) -> Result<()> {
    let owner = (
        Some(nix::unistd::Uid::from_raw(uid)),
        Some(nix::unistd::Gid::from_raw(gid)),
    );
    for d in cg.dirs() {
        let mut paths = vec![d.path.clone()];
        paths.extend(delegated_files(d.version).iter().map(|f| d.path.join(f)));
        for p in paths {
            match nix::unistd::chown(&p, owner.0, owner.1) {
                Ok(()) | Err(Errno::ENOENT) => {}
                Err(e) => {
                    return Err(sys_err(
                        format!(
                            "container \"{name}\": cannot hand its cgroup {} to its root (host uid {uid})",
                            p.display()
                        ),
                        e,
                    ))
                }
            }
        }
    }
    Ok(())
}

/// The container's root filesystem, made by the monitor for init to put in place:
/// `mnt` is a detached mount, `target` the directory (`lxc.rootfs.path`) it goes on, in
/// init's mount namespace.
pub struct RootfsMount {
    pub mnt: OwnedFd,
    pub target: OwnedFd,
}

/// Build the rootfs of `spec` as an idmapped mount for the user namespace `userns`:
/// - an overlay rootfs: each layer idmapped, then the overlay made on them, with the
///   container's root as its creator (its copy-ups and new files land on disk as host
///   ids, owned by the container inside);
/// - a directory rootfs: an idmapped recursive bind of it, unless the directory is owned
///   by the container's root already (a rootfs shifted on disk, as LXC's unprivileged
///   containers have): then a plain bind.
pub fn idmapped_rootfs(spec: &ContainerSpec, userns: BorrowedFd<'_>) -> Result<OwnedFd> {
    let name = &spec.name;
    let (uid, gid) = root_ids(&spec.id_maps).ok_or_else(|| {
        RuntimeError::msg(format!(
            "container \"{name}\": lxc.idmap maps no uid or gid 0; add \"lxc.idmap = u 0 HOSTID 65536\" and \"lxc.idmap = g 0 HOSTID 65536\""
        ))
    })?;
    let mnt = match &spec.rootfs_overlay {
        Some(o) => {
            crate::mounts::check_overlay_layers(spec, o)?;
            overlay(spec, o, userns, uid, gid)?
        }
        None => {
            crate::mounts::check_rootfs_dir(spec)?;
            let p = &spec.rootfs;
            let shifted = uid != 0
                && std::fs::metadata(p)
                    .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == uid)
                    .unwrap_or(false);
            let bind = || {
                open_tree(p, true).map_err(|e| {
                    sys_err(
                        format!(
                            "container \"{name}\": cannot bind its rootfs {}",
                            p.display()
                        ),
                        e,
                    )
                })
            };
            let mut t = bind()?;
            if !shifted {
                match set_idmap(&t, userns, true) {
                    Ok(()) => {}
                    // a file system (or kernel) without idmapped mounts, e.g. tmpfs before
                    // Linux 6.3: the rootfs is shifted to the container's range on disk,
                    // once (its root directory last: a shift cut short is done again), and
                    // bound as it is from then on
                    Err(Errno::EINVAL | Errno::EOPNOTSUPP | Errno::ENOSYS) => {
                        drop(t);
                        let n = shift_tree(p, &spec.id_maps).map_err(|e| {
                            crate::error::io_err(
                                format!("container \"{name}\": its rootfs {} cannot be idmapped on this file system, and shifting it to the container's ids failed", p.display()),
                                e,
                            )
                        })?;
                        crate::sys::notice(&format!(
                            "hako: container \"{name}\": the file system of {} cannot do idmapped mounts on this kernel; its rootfs was shifted to the container's id range on disk ({n} files, once)",
                            p.display()
                        ));
                        t = bind()?;
                    }
                    Err(e) => return Err(idmap_error(name, p, e)),
                }
            }
            if spec.rootfs_readonly {
                set_attr(&t, MOUNT_ATTR_RDONLY, None, true).map_err(|e| {
                    sys_err(
                        format!("container \"{name}\": cannot make the rootfs read-only"),
                        e,
                    )
                })?;
            }
            t
        }
    };
    Ok(mnt)
}

/// In init, before it becomes root inside (the host's root ids still own, and may
/// traverse, the container's directory): the directory its rootfs goes on, opened in
/// its own mount namespace (where the mount must go).
pub fn rootfs_target(spec: &ContainerSpec) -> Result<OwnedFd> {
    open_path(&spec.rootfs).map_err(|e| {
        sys_err(
            format!(
                "container \"{}\": cannot open the rootfs directory {}",
                spec.name,
                spec.rootfs.display()
            ),
            e,
        )
    })
}

/// Give every file under `root` (not following symlinks, not crossing into other file
/// systems) the host ids its on-disk ids are inside the container, through `maps`
/// (ids the maps do not cover stay as they are); set-id bits, which a chown clears, are
/// put back. `root` itself goes last. Returns the number of entries changed.
fn shift_tree(root: &Path, maps: &[IdMap]) -> std::io::Result<u64> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    fn shift_one(p: &Path, m: &std::fs::Metadata, maps: &[IdMap]) -> std::io::Result<bool> {
        let (u, g) = (
            to_host(maps, IdKind::Uid, m.uid()),
            to_host(maps, IdKind::Gid, m.gid()),
        );
        if u.is_none() && g.is_none() {
            return Ok(false);
        }
        std::os::unix::fs::lchown(p, u.or(Some(m.uid())), g.or(Some(m.gid())))?;
        if !m.file_type().is_symlink() && m.mode() & 0o6000 != 0 {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(m.mode() & 0o7777))?;
        }
        Ok(true)
    }
    fn walk(dir: &Path, dev: u64, maps: &[IdMap], n: &mut u64) -> std::io::Result<()> {
        for e in std::fs::read_dir(dir)? {
            let p = e?.path();
            let m = std::fs::symlink_metadata(&p)?;
            if m.dev() != dev {
                continue;
            }
            if m.is_dir() {
                walk(&p, dev, maps, n)?;
            }
            if shift_one(&p, &m, maps)? {
                *n += 1;
            }
        }
        Ok(())
    }
    let m = std::fs::symlink_metadata(root)?;
    let mut n = 0;
    walk(root, m.dev(), maps, &mut n)?;
    if shift_one(root, &m, maps)? {
        n += 1;
    }
    Ok(n)
}

/// Idmapped copies of the host directories that `lxc.mount.entry` binds into the container
/// (by entry index), so that host-owned files there are the container root's inside: only
/// absolute host sources that exist, are not owned by the container's range already and
/// whose file system can be idmapped; any other entry is bound as it is by init.
pub fn idmapped_binds(spec: &ContainerSpec, userns: BorrowedFd<'_>) -> Vec<(u32, OwnedFd)> {
    use std::os::unix::fs::MetadataExt;
    let uid = root_ids(&spec.id_maps).map(|r| r.0).unwrap_or(0);
    let mut out = Vec::new();
    for (i, m) in spec.mounts.iter().enumerate() {
        let flags = nix::mount::MsFlags::from_bits_truncate(m.flags as _);
        if !flags.contains(nix::mount::MsFlags::MS_BIND) || m.relative || !m.source.starts_with('/')
        {
            continue;
        }
        let src = Path::new(&m.source);
        match std::fs::metadata(src) {
            Ok(md) if md.uid() != uid || uid == 0 => {}
            _ => continue,
        }
        let recursive = flags.contains(nix::mount::MsFlags::MS_REC);
        let Ok(t) = open_tree(src, recursive) else {
            continue;
        };
        if set_idmap(&t, userns, recursive).is_ok() {
            out.push((i as u32, t));
        }
    }
    out
}

fn idmap_error(name: &str, p: &Path, e: Errno) -> RuntimeError {
    let kernel = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    RuntimeError::msg(format!(
        "container \"{name}\": cannot make an idmapped mount of {} ({}): its file system or this kernel ({kernel}) does not support idmapped mounts (Linux 5.12+ for ext4, btrfs and xfs; 5.19+ for overlay layers; 6.3+ for tmpfs); move the container's storage to such a file system, or start it privileged (remove its lxc.idmap lines)",
        p.display(),
        errno_text(e)
    ))
}

fn overlay(
    spec: &ContainerSpec,
    o: &crate::spec::Overlay,
    userns: BorrowedFd<'_>,
    uid: u32,
    gid: u32,
) -> Result<OwnedFd> {
    let name = &spec.name;
    let idmapped = |p: &Path| -> Result<OwnedFd> {
        let t = open_tree(p, false).map_err(|e| {
            sys_err(
                format!(
                    "container \"{name}\": cannot open the layer {}",
                    p.display()
                ),
                e,
            )
        })?;
        set_idmap(&t, userns, false).map_err(|e| idmap_error(name, p, e))?;
        Ok(t)
    };
    let lower: Vec<OwnedFd> = o.lower.iter().map(|l| idmapped(l)).collect::<Result<_>>()?;
    // upper and work must be on one mount: one idmapped mount of their common parent
    let parent = common_parent(&o.upper, &o.work).ok_or_else(|| {
        RuntimeError::msg(format!(
            "container \"{name}\": its overlay's upper layer {} and work directory {} have no common parent directory; an unprivileged start needs them side by side",
            o.upper.display(),
            o.work.display()
        ))
    })?;
    let top = idmapped(&parent)?;
    let fd_path = |fd: &OwnedFd| PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()));
    let rel = |p: &Path| p.strip_prefix(&parent).unwrap_or(p).to_path_buf();
    let (rel_upper, rel_work) = (rel(&o.upper), rel(&o.work));
    let lowers: Vec<PathBuf> = lower.iter().map(fd_path).collect();
    let options = overlay_options(&lowers, &fd_path(&top), &rel_upper, &rel_work);
    let what = || {
        format!(
            "container \"{name}\": cannot mount its overlay root on idmapped layers (lower {}, upper {})",
            o.lower
                .iter()
                .map(|l| l.display().to_string())
                .collect::<Vec<_>>()
                .join(":"),
            o.upper.display()
        )
    };
    let attrs = if spec.rootfs_readonly {
        MOUNT_ATTR_RDONLY
    } else {
        0
    };
    let r = make_overlay(&options, uid, gid, attrs).or_else(|e| {
        // Before Linux 6.6 or so, overlayfs takes only layers mounted in the caller's
        // mount namespace (detached ones are EINVAL): then they are put in place in a
        // private mount namespace of a short-lived helper, which makes the overlay there
        if e == Errno::EINVAL && crate::mounts::interrupted_layer(spec, o).is_none() {
            via_private_ns(
                &spec.rootfs,
                &lower,
                &top,
                &rel_upper,
                &rel_work,
                uid,
                gid,
                attrs,
            )
        } else {
            Err(e)
        }
    });
    r.map_err(|e| {
        if let Some(m) = crate::mounts::interrupted_layer(spec, o) {
            RuntimeError::msg(m)
        } else if e == Errno::EINVAL || e == Errno::EOPNOTSUPP {
            idmap_error(name, &o.upper, e)
        } else {
            sys_err(what(), e)
        }
    })
}

/// The overlay's layer options: `lowers` in order, upper and work directories below
/// `top` (the one mount both must be on).
fn overlay_options(
    lowers: &[PathBuf],
    top: &Path,
    rel_upper: &Path,
    rel_work: &Path,
) -> [(&'static str, String); 3] {
    let lowerdir: Vec<String> = lowers.iter().map(|l| l.display().to_string()).collect();
    let below = |rel: &Path| {
        if rel.as_os_str().is_empty() {
            top.display().to_string()
        } else {
            top.join(rel).display().to_string()
        }
    };
    [
        ("lowerdir", lowerdir.join(":")),
        ("upperdir", below(rel_upper)),
        ("workdir", below(rel_work)),
    ]
}

/// An overlay from `options`, created with the container root's file-system ids (see
/// [`as_creator`]), as a detached mount with `attrs`.
fn make_overlay(
    options: &[(&str, String)],
    uid: u32,
    gid: u32,
    attrs: u64,
) -> nix::Result<OwnedFd> {
    let fs = fsopen("overlay")?;
    for (k, v) in options {
        fsconfig_string(&fs, k, v)?;
    }
    as_creator(uid, gid, || fsconfig_create(&fs))?;
    fsmount(&fs, attrs)
}

/// [`make_overlay`] in a forked helper with a private mount namespace, where the idmapped
/// layers are attached (on a tmpfs over `scratch`, the rootfs directory: only the helper
/// sees it) for kernels whose overlayfs refuses detached layers. The overlay, a detached
/// mount, comes back over a socket; the helper's namespace goes with it.
#[allow(clippy::too_many_arguments)]
fn via_private_ns(
    scratch: &Path,
    lower: &[OwnedFd],
    top: &OwnedFd,
    rel_upper: &Path,
    rel_work: &Path,
    uid: u32,
    gid: u32,
    attrs: u64,
) -> nix::Result<OwnedFd> {
    use crate::sync::Msg;
    let (mine, theirs) = crate::sync::pair()?;
    // SAFETY: the monitor is single-threaded; the child only makes system calls and ends
    // with _exit.
    match unsafe { nix::unistd::fork() }? {
        nix::unistd::ForkResult::Child => {
            drop(mine);
            let r = (|| -> nix::Result<OwnedFd> {
                use nix::mount::{mount, MsFlags};
                nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)?;
                mount(
                    None::<&str>,
                    "/",
                    None::<&str>,
                    MsFlags::MS_REC | MsFlags::MS_PRIVATE,
                    None::<&str>,
                )?;
                mount(
                    Some("hako-layers"),
                    scratch,
                    Some("tmpfs"),
                    MsFlags::empty(),
                    Some("mode=0700"),
                )?;
                let mut lowers = Vec::new();
                for (i, f) in lower.iter().enumerate() {
                    let d = scratch.join(format!("l{i}"));
                    nix::unistd::mkdir(&d, nix::sys::stat::Mode::from_bits_truncate(0o700))?;
                    move_mount_to(f, &d)?;
                    lowers.push(d);
                }
                let u = scratch.join("u");
                nix::unistd::mkdir(&u, nix::sys::stat::Mode::from_bits_truncate(0o700))?;
                move_mount_to(top, &u)?;
                make_overlay(
                    &overlay_options(&lowers, &u, rel_upper, rel_work),
                    uid,
                    gid,
                    attrs,
                )
            })();
            let _ = match r {
                Ok(fd) => theirs.send_fds(&Msg::Mapped { binds: vec![] }, &[fd.as_raw_fd()]),
                Err(e) => theirs.send(&Msg::Error((e as i32).to_string())),
            };
            // SAFETY: end of the forked helper.
            unsafe { libc::_exit(0) }
        }
        nix::unistd::ForkResult::Parent { child } => {
            drop(theirs);
            let got = mine.recv();
            let _ = nix::sys::wait::waitpid(child, None);
            match got {
                Ok(Some(r)) if matches!(r.msg, Msg::Mapped { .. }) && r.fds.len() == 1 => {
                    Ok(r.fds.into_iter().next().expect("one fd"))
                }
                Ok(Some(crate::sync::Received {
                    msg: Msg::Error(e), ..
                })) => Err(Errno::from_raw(e.parse().unwrap_or(libc::EIO))),
                Ok(_) => Err(Errno::EIO),
                Err(e) => Err(e),
            }
        }
    }
}

fn common_parent(a: &Path, b: &Path) -> Option<PathBuf> {
    let mut p = a.parent()?;
    loop {
        if b.starts_with(p) && p != Path::new("/") && !p.as_os_str().is_empty() {
            return Some(p.to_path_buf());
        }
        p = p.parent()?;
    }
}

/// The id maps of `pid`'s user namespace, if it has one of its own (read from
/// /proc/PID/{uid,gid}_map: what the kernel holds, whatever the config says now).
pub fn read_maps(pid: i32) -> Option<Vec<IdMap>> {
    if !has_own_userns(pid) {
        return None;
    }
    let mut out = Vec::new();
    for (file, kind) in [("uid_map", IdKind::Uid), ("gid_map", IdKind::Gid)] {
        let text = std::fs::read_to_string(format!("/proc/{pid}/{file}")).ok()?;
        out.extend(parse_proc_map(&text, kind));
    }
    Some(out)
}

fn parse_proc_map(text: &str, kind: IdKind) -> Vec<IdMap> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace().map(|x| x.parse::<u32>().ok());
            Some(IdMap {
                kind,
                container: f.next()??,
                host: f.next()??,
                count: f.next()??,
            })
        })
        .collect()
}

/// The host id that `id` inside the container is, through `maps`.
pub fn to_host(maps: &[IdMap], kind: IdKind, id: u32) -> Option<u32> {
    maps.iter()
        .filter(|m| m.kind == kind)
        .find(|m| id >= m.container && u64::from(id) < u64::from(m.container) + u64::from(m.count))
        .map(|m| m.host + (id - m.container))
}

/// For the rest of this (single-threaded, short-lived) process: create files with the
/// file-system ids `uid`/`gid` (the container root's host ids, mapped in its idmapped
/// mounts) while keeping the capabilities it has.
pub fn act_as(uid: u32, gid: u32) -> nix::Result<()> {
    keep_caps_on_id_change()?;
    // SAFETY: setfsuid/setfsgid change this single-threaded process's ids only.
    unsafe {
        libc::setfsgid(gid);
        libc::setfsuid(uid);
    }
    Ok(())
}

/// Set SECBIT_NO_SETUID_FIXUP (a change of file-system ids keeps the capabilities);
/// returns the old secure bits.
fn keep_caps_on_id_change() -> nix::Result<libc::c_ulong> {
    const SECBIT_NO_SETUID_FIXUP: libc::c_ulong = 1 << 2;
    // SAFETY: prctl with integer arguments only.
    let old = unsafe { libc::prctl(libc::PR_GET_SECUREBITS, 0, 0, 0, 0) };
    if old < 0 {
        return Err(Errno::last());
    }
    let old = old as libc::c_ulong;
    // SAFETY: as above.
    if unsafe {
        libc::prctl(
            libc::PR_SET_SECUREBITS,
            old | SECBIT_NO_SETUID_FIXUP,
            0,
            0,
            0,
        )
    } < 0
    {
        return Err(Errno::last());
    }
    Ok(old)
}

/// Run `f` with the file-system ids of the container's root (the overlay keeps its
/// creator's credentials and writes through its idmapped layers with them: the host's
/// root is not mapped there), keeping this process's capabilities (no set-uid fixup),
/// and come back to root afterwards.
fn as_creator<T>(uid: u32, gid: u32, f: impl FnOnce() -> nix::Result<T>) -> nix::Result<T> {
    let old = keep_caps_on_id_change()?;
    // SAFETY: setfsuid/setfsgid change this (single-threaded) process's ids only.
    unsafe {
        libc::setfsgid(gid);
        libc::setfsuid(uid);
    }
    let r = f();
    // SAFETY: as above; back to root, then the old secure bits.
    unsafe {
        libc::setfsuid(0);
        libc::setfsgid(0);
        libc::prctl(libc::PR_SET_SECUREBITS, old, 0, 0, 0);
    }
    r
}

/// In init: put the rootfs mount it was handed on its directory.
pub fn attach_rootfs(name: &str, r: &RootfsMount) -> Result<()> {
    move_mount(&r.mnt, &r.target).map_err(|e| {
        sys_err(
            format!("container \"{name}\": cannot put its idmapped rootfs in place"),
            e,
        )
    })
}

/// Is process `pid` in a user namespace other than ours (a container with lxc.idmap)?
pub fn has_own_userns(pid: i32) -> bool {
    use std::os::unix::fs::MetadataExt;
    let ino = |p: String| std::fs::metadata(p).map(|m| (m.dev(), m.ino())).ok();
    match (
        ino(format!("/proc/{pid}/ns/user")),
        ino("/proc/self/ns/user".into()),
    ) {
        (Some(a), Some(b)) => a != b,
        _ => false,
    }
}

/// The user namespace of process `pid`, for the idmapped mounts.
pub fn userns_of(pid: i32) -> std::io::Result<OwnedFd> {
    std::fs::File::open(format!("/proc/{pid}/ns/user")).map(OwnedFd::from)
}

impl AsFd for RootfsMount {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.mnt.as_fd()
    }
}

#[cfg(test)]
mod tests;

/// A detached bind mount of the host path `p` (open_tree with OPEN_TREE_CLONE; `recursive`:
/// with the mounts below it), made read-only when asked. It belongs to no mount namespace
/// until [`attach_detached`] puts it somewhere: `hako device add` takes it on the host and
/// attaches it in a running container's mount namespace.
pub fn detached_bind(p: &Path, recursive: bool, readonly: bool) -> nix::Result<OwnedFd> {
    let t = open_tree(p, recursive)?;
    if readonly {
        set_attr(&t, MOUNT_ATTR_RDONLY, None, recursive)?;
    }
    Ok(t)
}

/// Attach the detached mount `from` on the file or directory `to` (an O_PATH fd, e.g.
/// from the in-container resolver: no path is looked up again).
pub fn attach_detached(from: &OwnedFd, to: &OwnedFd) -> nix::Result<()> {
    move_mount(from, to)
}
