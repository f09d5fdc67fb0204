//! A non-root caller's user namespaces (rootless, issue 12 part 7): the id maps written
//! through the setuid helpers newuidmap/newgidmap (the one place they are run: the
//! monitor's [`super::write_maps`] and `lxc-usernsexec` use it), and a short-lived helper
//! process that is root in a namespace with the caller's range, which owns a container's
//! rootfs on disk (an unprivileged user cannot make idmapped mounts of host files, so a
//! rootless container's rootfs belongs to its range on disk, as LXC's do).

use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::Command;

use nix::errno::Errno;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::ForkResult;

use super::{IdKind, IdMap};

/// Is this process without root on the host (a rootless start, create or destroy)?
pub fn is_rootless() -> bool {
    !nix::unistd::geteuid().is_root()
}

/// Write one id map file of `pid` through `newuidmap` (uids) or `newgidmap` (gids), which
/// check the caller's /etc/subuid and /etc/subgid entries. `lines` are
/// (inside, outside, count). `who` names the caller in the error.
pub fn newidmap(pid: i32, uid: bool, lines: &[[u64; 3]], who: &str) -> Result<(), String> {
    let tool = if uid { "newuidmap" } else { "newgidmap" };
    let mut cmd = Command::new(tool);
    cmd.arg(pid.to_string());
    for l in lines {
        cmd.args(l.iter().map(u64::to_string));
    }
    let out = cmd.output().map_err(|e| {
        format!("cannot run {tool}: {e}; install the uidmap package (newuidmap and newgidmap), which a non-root user needs to map ids")
    })?;
    if out.status.success() {
        return Ok(());
    }
    Err(format!(
        "{tool} refused the map ({}): {}; /etc/subuid and /etc/subgid must grant user \"{who}\" the host ids mapped (see them with \"grep {who} /etc/subuid /etc/subgid\")",
        lines
            .iter()
            .map(|[n, h, c]| format!("{n} {h} {c}"))
            .collect::<Vec<_>>()
            .join(", "),
        String::from_utf8_lossy(&out.stderr).trim()
    ))
}

/// The caller's name for messages: its /etc/passwd name, else its uid.
pub fn caller_name() -> String {
    let uid = nix::unistd::getuid().as_raw();
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() > 2 && f[2] == uid.to_string()).then(|| f[0].to_string())
        })
        .unwrap_or_else(|| uid.to_string())
}

/// The maps of [`as_range_root`]: the container's range (`maps`, id 0 first) plus the
/// caller's own uid and gid as id 65536 (just past the range), so that files the caller
/// owns can be handed to the range.
pub fn maps_with_caller(maps: &[IdMap]) -> Vec<IdMap> {
    let mut out: Vec<IdMap> = maps.to_vec();
    for (kind, id) in [
        (IdKind::Uid, nix::unistd::getuid().as_raw()),
        (IdKind::Gid, nix::unistd::getgid().as_raw()),
    ] {
        let next = out
            .iter()
            .filter(|m| m.kind == kind)
            .map(|m| m.container + m.count)
            .max()
            .unwrap_or(0);
        out.push(IdMap {
            kind,
            container: next,
            host: id,
            count: 1,
        });
    }
    out
}

/// Run `f` in a forked helper that is root of a new user namespace with `maps` (written
/// with newuidmap/newgidmap), and wait for it: `f`'s error text, or the helper's. No
/// threads: the caller is a plain CLI process.
pub fn as_range_root(maps: &[IdMap], f: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
    let who = caller_name();
    let (ready_r, ready_w) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| format!("pipe: {e}"))?;
    let (go_r, go_w) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| format!("pipe: {e}"))?;
    let (err_r, err_w) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| format!("pipe: {e}"))?;
    // SAFETY: no threads in this process; the child only makes system calls and runs `f`.
    let child = match unsafe { nix::unistd::fork() }.map_err(|e| format!("cannot fork: {e}"))? {
        ForkResult::Child => {
            drop((ready_r, go_w, err_r));
            let r = (|| -> Result<(), String> {
                nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUSER).map_err(|e| {
                    format!("cannot make a user namespace: {e} (is user.max_user_namespaces 0?)")
                })?;
                let _ = nix::unistd::write(&ready_w, b"1");
                let mut b = [0u8; 1];
                if !matches!(nix::unistd::read(go_r.as_raw_fd(), &mut b), Ok(1)) || b[0] != b'1' {
                    return Err(String::new()); // the parent says why
                }
                let zg = nix::unistd::Gid::from_raw(0);
                let zu = nix::unistd::Uid::from_raw(0);
                match nix::unistd::setgroups(&[]) {
                    Ok(()) | Err(Errno::EPERM) => {}
                    Err(e) => return Err(format!("cannot drop the supplementary groups: {e}")),
                }
                nix::unistd::setresgid(zg, zg, zg)
                    .map_err(|e| format!("cannot become gid 0 in the namespace: {e}"))?;
                nix::unistd::setresuid(zu, zu, zu)
                    .map_err(|e| format!("cannot become uid 0 in the namespace: {e}"))?;
                f()
            })();
            let code = match r {
                Ok(()) => 0,
                Err(e) => {
                    let _ = nix::unistd::write(&err_w, e.as_bytes());
                    1
                }
            };
            // SAFETY: leaving the forked helper without running the parent's destructors.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => child,
    };
    drop((ready_w, go_r, err_w));
    let mut b = [0u8; 1];
    let ready = matches!(nix::unistd::read(ready_r.as_raw_fd(), &mut b), Ok(1));
    let mapped = if ready {
        [true, false].iter().try_for_each(|&uid| {
            let kind = if uid { IdKind::Uid } else { IdKind::Gid };
            let lines: Vec<[u64; 3]> = maps
                .iter()
                .filter(|m| m.kind == kind)
                .map(|m| [m.container as u64, m.host as u64, m.count as u64])
                .collect();
            newidmap(child.as_raw(), uid, &lines, &who)
        })
    } else {
        Err(String::new())
    };
    let _ = nix::unistd::write(&go_w, if mapped.is_ok() { b"1" } else { b"0" });
    drop(go_w);
    let mut text = Vec::new();
    let mut buf = [0u8; 1024];
    while let Ok(n) = nix::unistd::read(err_r.as_raw_fd(), &mut buf) {
        if n == 0 {
            break;
        }
        text.extend_from_slice(&buf[..n]);
    }
    let status = loop {
        match waitpid(child, None) {
            Err(Errno::EINTR) => continue,
            r => break r,
        }
    };
    mapped?;
    let text = String::from_utf8_lossy(&text).into_owned();
    match status {
        Ok(WaitStatus::Exited(_, 0)) => Ok(()),
        _ if !text.is_empty() => Err(text),
        s => Err(format!("the helper in the user namespace failed ({s:?})")),
    }
}

/// Hand every file under `root` that the caller owns (uid or gid) to the container's
/// root (the range's first ids), from a helper in a namespace with the range and the
/// caller's ids ([`maps_with_caller`]): the one-time chown of a rootless container's new
/// rootfs. Returns nothing; an error names the directory.
pub fn own_by_range(root: &Path, maps: &[IdMap]) -> Result<(), String> {
    let all = maps_with_caller(maps);
    let caller: Vec<IdMap> = all
        .iter()
        .filter(|m| m.count == 1 && !maps.contains(m))
        .map(|m| IdMap {
            kind: m.kind,
            container: m.container,
            host: 0,
            count: 1,
        })
        .collect();
    as_range_root(&all, || {
        super::shift_tree(root, &caller).map(|_| ()).map_err(|e| {
            format!(
                "cannot hand {} to the container's root: {e}",
                root.display()
            )
        })
    })
}

/// Remove `path` (a rootless container's rootfs, owned by its range) from a helper that
/// is root of a namespace with the range and the caller's ids.
pub fn remove_as_range(path: &Path, maps: &[IdMap]) -> Result<(), String> {
    if std::fs::symlink_metadata(path).is_err() {
        return Ok(());
    }
    as_range_root(&maps_with_caller(maps), || {
        match std::fs::remove_dir_all(path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(format!("cannot remove {}: {e}", path.display())),
        }
    })
}

/// In the monitor of a rootless start: the rootfs must be a directory owned by the
/// container's root on disk (no overlay: its layers would need idmapped mounts).
pub fn check_rootfs_owner(spec: &crate::spec::ContainerSpec) -> crate::error::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let name = &spec.name;
    if spec.rootfs_overlay.is_some() {
        return Err(crate::RuntimeError::msg(format!(
            "container \"{name}\": a non-root user cannot start a container on an overlay rootfs (its layers would need idmapped mounts, which need root); make it a directory rootfs (hako copy without -s), or start it as root"
        )));
    }
    crate::mounts::check_rootfs_dir(spec)?;
    let (uid, _) = super::root_ids(&spec.id_maps).unwrap_or((0, 0));
    let owner = std::fs::metadata(&spec.rootfs)
        .map(|m| m.uid())
        .unwrap_or(u32::MAX);
    if owner != uid {
        return Err(crate::RuntimeError::msg(format!(
            "container \"{name}\": its rootfs {} is owned by host uid {owner}, not by the container's root (host uid {uid}), and a non-root user cannot make idmapped mounts; create the container as this user (hako create runs the template's files through the user's range), or have root chown it",
            spec.rootfs.display()
        )));
    }
    Ok(())
}

/// In init of a rootless start, before it becomes root inside (it still has the caller's
/// ids on the host, which may traverse the caller's home): a recursive bind of the
/// rootfs directory, made in its own mount namespace.
pub fn bind_rootfs(
    spec: &crate::spec::ContainerSpec,
) -> crate::error::Result<std::os::fd::OwnedFd> {
    let name = &spec.name;
    let t = super::open_tree(&spec.rootfs, true).map_err(|e| {
        crate::error::sys_err(
            format!(
                "container \"{name}\": cannot bind its rootfs {}",
                spec.rootfs.display()
            ),
            e,
        )
    })?;
    if spec.rootfs_readonly {
        super::set_attr(&t, super::MOUNT_ATTR_RDONLY, None, true).map_err(|e| {
            crate::error::sys_err(
                format!("container \"{name}\": cannot make the rootfs read-only"),
                e,
            )
        })?;
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caller_ids_go_just_past_the_range() {
        let m = |kind, container, host, count| IdMap {
            kind,
            container,
            host,
            count,
        };
        let range = vec![
            m(IdKind::Uid, 0, 100000, 65536),
            m(IdKind::Gid, 0, 200000, 65536),
        ];
        let all = maps_with_caller(&range);
        assert_eq!(all.len(), 4);
        assert_eq!(all[2].container, 65536);
        assert_eq!(all[2].kind, IdKind::Uid);
        assert_eq!(all[2].host, nix::unistd::getuid().as_raw());
        assert_eq!(all[3].kind, IdKind::Gid);
    }
}
