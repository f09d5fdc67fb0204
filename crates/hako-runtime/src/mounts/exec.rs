//! Carries out the plans of [`super::plan`] with the rootfs's safe helpers (every target
//! opened with RESOLVE_IN_ROOT). It decides nothing the plan did not say, but for what
//! only the running system can tell: whether an optional target exists.

use std::ffi::OsStr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::mount::{mount, MsFlags};

use super::plan::{Create, EntryPlan, KernelPaths, Op, PathKind, Step, NOSUID_NODEV_NOEXEC};
use super::{fd_path, Rootfs};
use crate::error::{errno_text, sys_err, Result, RuntimeError};

/// Carry out `steps` in order for container `name`; the first failure stops them.
pub fn run(root: &Rootfs, name: &str, steps: &[Step]) -> Result<()> {
    let mut null: Option<OwnedFd> = None;
    for s in steps {
        let err = |e: Errno| sys_err(format!("container \"{name}\": cannot {}", s.what), e);
        if s.if_exists && root.open(s.op.target()).is_err() {
            continue;
        }
        match &s.op {
            Op::Mkdir { target, mode } => root.mkdir_all(target, *mode).map_err(err)?,
            Op::Mount {
                source,
                target,
                fstype,
                flags,
                data,
            } => root
                .mount_at(
                    Some(OsStr::new(source)),
                    target,
                    *fstype,
                    *flags,
                    data.as_deref(),
                )
                .map_err(err)?,
            Op::Rebind { target, flags } => root.rebind(target, *flags).map_err(err)?,
            Op::Remount {
                target,
                flags,
                data,
            } => root
                .mount_at(None, target, None, *flags, *data)
                .map_err(err)?,
            Op::Symlink { dir, name, to } => {
                let d = root.open(dir).map_err(err)?;
                let _ = nix::unistd::symlinkat(to.as_str(), Some(d.as_raw_fd()), name.as_str());
            }
            Op::MaskDir { target } => root
                .mount_at(
                    Some(OsStr::new("tmpfs")),
                    target,
                    Some("tmpfs"),
                    MsFlags::MS_RDONLY | NOSUID_NODEV_NOEXEC,
                    Some("size=0,mode=555"),
                )
                .map_err(err)?,
            Op::MaskFile { target } => {
                if null.is_none() {
                    null = Some(dev_null(root, name, target)?);
                }
                let n = null.as_ref().expect("set above");
                let t = root.open(target).map_err(err)?;
                mount(
                    Some(&fd_path(n)),
                    &fd_path(&t),
                    None::<&str>,
                    MsFlags::MS_BIND,
                    None::<&str>,
                )
                .map_err(err)?;
                // no read-only remount: the container's /dev/null takes writes and gives
                // nothing back, which is what a mask is (one mount instead of two)
            }
        }
    }
    Ok(())
}

/// The container's own /dev/null (a node hako made in its /dev, or the rootfs's), never
/// the host's: the container may chmod what it is given.
fn dev_null(root: &Rootfs, name: &str, target: &Path) -> Result<OwnedFd> {
    let p = target.display();
    let n = root.open(Path::new("dev/null")).map_err(|e| {
        sys_err(
            format!(
                "container \"{name}\": cannot find /dev/null to mask /{p} (a path hidden from containers)"
            ),
            e,
        )
    })?;
    let ns = nix::sys::stat::fstat(n.as_raw_fd()).map_err(|e| {
        sys_err(
            format!("container \"{name}\": cannot inspect /{p} (a path hidden from containers)"),
            e,
        )
    })?;
    if ns.st_mode & libc::S_IFMT != libc::S_IFCHR
        || nix::sys::stat::major(ns.st_rdev) != 1
        || nix::sys::stat::minor(ns.st_rdev) != 3
    {
        return Err(RuntimeError::msg(format!(
            "container \"{name}\": cannot mask /{p}: its /dev/null is not the null device; enable lxc.autodev or fix /dev/null in the rootfs"
        )));
    }
    Ok(n)
}

/// The kinds of the `candidates` this kernel has, as the container's /proc and /sys show
/// them (a path that cannot be opened is absent).
pub fn probe_kernel_paths(
    root: &Rootfs,
    name: &str,
    candidates: impl Iterator<Item = &'static str>,
) -> Result<KernelPaths> {
    let mut v = Vec::new();
    for p in candidates {
        let Ok(t) = root.open(Path::new(p)) else {
            continue; // this kernel does not have it
        };
        let st = nix::sys::stat::fstat(t.as_raw_fd()).map_err(|e| {
            sys_err(
                format!(
                    "container \"{name}\": cannot inspect /{p} (a path hidden from containers)"
                ),
                e,
            )
        })?;
        let kind = if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
            PathKind::Dir
        } else {
            PathKind::File
        };
        v.push((p, kind));
    }
    Ok(KernelPaths(v))
}

/// Carry out one lxc.mount.entry. Ok(false): skipped (an optional entry that failed).
/// `pre`: an idmapped copy of the bind's source made by the monitor, moved onto the target
/// instead of a bind of the host path.
pub fn entry(
    root: &Rootfs,
    name: &str,
    e: &EntryPlan<'_>,
    pre: Option<std::os::fd::OwnedFd>,
) -> Result<bool> {
    let what = || {
        format!(
            "container \"{name}\": cannot mount \"{}\" on /{} (lxc.mount.entry)",
            e.source,
            e.target.display()
        )
    };
    // "relative": the source is inside the container's root
    let rel_src;
    let rel_path;
    let source: &OsStr = if e.relative {
        match root.open(Path::new(e.source)) {
            Ok(fd) => {
                rel_src = fd;
                rel_path = fd_path(&rel_src);
                rel_path.as_os_str()
            }
            Err(err) => {
                if e.optional {
                    return Ok(false);
                }
                return Err(sys_err(format!("{}: relative source", what()), err));
            }
        }
    } else {
        OsStr::new(e.source)
    };
    // bind sources are host paths; check they exist first so "optional" works
    if e.bind && std::fs::symlink_metadata(source).is_err() {
        if e.optional {
            return Ok(false);
        }
        return Err(RuntimeError::msg(format!(
            "{}: source does not exist; create it or add \"optional\" to the entry",
            what()
        )));
    }
    match e.create {
        Create::Dir => {
            if let Err(err) = root.mkdir_all(&e.target, 0o755) {
                if e.optional {
                    return Ok(false);
                }
                return Err(sys_err(
                    format!("{}: cannot create the directory", what()),
                    err,
                ));
            }
        }
        Create::File => {
            if let Err(err) = root.touch(&e.target) {
                if e.optional {
                    return Ok(false);
                }
                return Err(sys_err(format!("{}: cannot create the file", what()), err));
            }
        }
        Create::No => {}
    }
    let t = match root.open(&e.target) {
        Ok(t) => t,
        Err(err) => {
            if e.optional {
                return Ok(false);
            }
            return Err(RuntimeError::msg(format!(
                "{}: target: {}; add create=dir or create=file to the entry's options",
                what(),
                errno_text(err)
            )));
        }
    };
    let done = match &pre {
        Some(m) => crate::userns::move_mount(m, &t),
        None => mount(Some(source), &fd_path(&t), e.fstype, e.flags, e.data),
    };
    if let Err(err) = done {
        if e.optional {
            return Ok(false);
        }
        return Err(sys_err(what(), err));
    }
    let t2 = root.open(&e.target).map_err(|err| sys_err(what(), err))?;
    let tp2 = fd_path(&t2);
    if let Some(flags) = e.remount {
        mount(None::<&str>, &tp2, None::<&str>, flags, None::<&str>)
            .map_err(|err| sys_err(format!("{}: remount with its options", what()), err))?;
    }
    if let Some(flags) = e.propagation {
        mount(None::<&str>, &tp2, None::<&str>, flags, None::<&str>)
            .map_err(|err| sys_err(format!("{}: set propagation", what()), err))?;
    }
    Ok(true)
}
