//! Working inside a container's root filesystem from the host, safely: in a child process
//! with a mount namespace of its own (an overlay rootfs is mounted there and vanishes with
//! the child), chrooted into the root, so paths resolve as the container would resolve
//! them and a symlink in the container cannot lead a write out to the host.

use std::io::Read;
use std::path::{Path, PathBuf};

use nix::mount::{mount, MsFlags};
use nix::sys::wait::{waitpid, WaitStatus};

use crate::backing::{overlay_workdir, RootfsSpec};
use crate::StoreError;

/// Runs `f` in a child process whose `/` is the container's root filesystem described by
/// `spec`. An overlay is mounted on `mountpoint` (normally `<container>/rootfs`, which
/// must exist) in the child's private mount namespace; `chroot` into the root follows.
/// `f` sees the root as `/`. Its error comes back as text. Needs root.
///
/// An overlay is mounted `volatile` here. Unmounting a normal overlay syncs its whole upper
/// filesystem, which is every dirty page of the host's disk and not only this layer's:
/// a create that writes a few kilobytes waited ~100 ms behind 300 MB another program had
/// just written. With `volatile` the unmount skips that; afterwards the layer's own files
/// are written to disk one by one ([`settle_volatile`]), which is the durability `f`'s
/// writes had before and costs a fraction of a millisecond for a new layer.
pub(crate) fn in_rootfs(
    spec: &RootfsSpec,
    mountpoint: &Path,
    f: &dyn Fn(&Path) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let r = in_child(&|| {
        let root = prepare_root(spec, mountpoint, true)?;
        minimal_dev(&root)?;
        nix::unistd::chroot(&root)
            .map_err(|e| StoreError::io("chroot into", &root, e.into(), "run hako as root"))?;
        nix::unistd::chdir("/")
            .map_err(|e| StoreError::io("chdir into", "/", e.into(), "check the rootfs"))?;
        f(Path::new("/"))
    });
    if let RootfsSpec::Overlay { upper, .. } = spec {
        // the child and its mount namespace are gone: the overlay is unmounted
        let settled = settle_volatile(upper);
        r?;
        return settled;
    }
    r
}

/// After a `volatile` overlay mount of `upper` has gone: removes the marker overlayfs
/// leaves in the work directory (it refuses later mounts while the marker exists, as the
/// upper layer may be incomplete after a crash; this unmount was clean), then writes the
/// upper layer's files and directories to disk.
fn settle_volatile(upper: &Path) -> Result<(), StoreError> {
    let incompat = overlay_workdir(upper).join("work/incompat");
    match std::fs::remove_dir_all(&incompat) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(StoreError::io(
            "remove the overlay's volatile marker",
            &incompat,
            e,
            "remove it by hand (the layer is intact); the container cannot start while it exists",
        )),
    }
    sync_tree(upper)
}

/// Writes the layer below and including `dir` to disk: fsync(2) on each regular file and
/// directory (symlinks and whiteouts are recorded in their directory; symlinks are not
/// followed). A new layer holds a few dozen entries; a layer of more than
/// [`SYNC_EACH_MAX`] (a restored snapshot's, say) is written with one syncfs(2) instead,
/// which is cheaper than thousands of separate fsyncs.
fn sync_tree(dir: &Path) -> Result<(), StoreError> {
    let err = |p: &Path, e: std::io::Error| {
        StoreError::io(
            "write to disk",
            p,
            e,
            "check the disk (dmesg) and free space",
        )
    };
    let mut todo = Vec::new();
    if collect_tree(dir, &mut todo).map_err(|e| err(dir, e))? {
        todo.push(dir.to_path_buf());
        for p in &todo {
            std::fs::File::open(p)
                .and_then(|f| f.sync_all())
                .map_err(|e| err(p, e))?;
        }
        return Ok(());
    }
    let f = std::fs::File::open(dir).map_err(|e| err(dir, e))?;
    nix::unistd::syncfs(std::os::fd::AsRawFd::as_raw_fd(&f)).map_err(|e| err(dir, e.into()))
}

/// At most this many files and directories are synced one by one.
const SYNC_EACH_MAX: usize = 256;

/// Gathers the regular files and directories below `dir` (children before their parent)
/// into `out`; false once there are more than [`SYNC_EACH_MAX`].
fn collect_tree(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<bool> {
    for ent in std::fs::read_dir(dir)? {
        let ent = ent?;
        let t = ent.file_type()?;
        if t.is_dir() {
            if !collect_tree(&ent.path(), out)? {
                return Ok(false);
            }
            out.push(ent.path());
        } else if t.is_file() {
            out.push(ent.path());
        }
        if out.len() > SYNC_EACH_MAX {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Runs `f` with the root filesystem of `spec` visible (an overlay mounted on
/// `mountpoint` in a private mount namespace), not chrooted: `f` gets the root's host path.
/// For copying a container's merged view.
pub(crate) fn with_rootfs(
    spec: &RootfsSpec,
    mountpoint: &Path,
    f: &dyn Fn(&Path) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    if !matches!(spec, RootfsSpec::Overlay { .. }) {
        let root = prepare_plain(spec);
        return f(&root);
    }
    in_child(&|| {
        let root = prepare_root(spec, mountpoint, false)?;
        f(&root)
    })
}

fn prepare_plain(spec: &RootfsSpec) -> PathBuf {
    match spec {
        RootfsSpec::Dir(p) | RootfsSpec::Btrfs(p) => p.clone(),
        RootfsSpec::Overlay { upper, .. } => upper.clone(),
    }
}

/// In the child: a private mount namespace, and the overlay mounted when there is one
/// (`volatile`: without the sync at unmount, where the kernel has that option, 5.10 on).
fn prepare_root(
    spec: &RootfsSpec,
    mountpoint: &Path,
    volatile: bool,
) -> Result<PathBuf, StoreError> {
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).map_err(|e| {
        StoreError::io(
            "make a mount namespace for",
            mountpoint,
            e.into(),
            "run hako as root",
        )
    })?;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_SLAVE | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(|e| {
        StoreError::io(
            "make the mounts private for",
            mountpoint,
            e.into(),
            "run hako as root",
        )
    })?;
    match spec {
        RootfsSpec::Overlay { lowers, upper } => {
            let opts = overlay_options(lowers, upper);
            let mount_with = |o: &str| {
                mount(
                    Some("overlay"),
                    mountpoint,
                    Some("overlay"),
                    MsFlags::empty(),
                    Some(o),
                )
            };
            let r = if volatile {
                match mount_with(&format!("{opts},volatile")) {
                    // a kernel before 5.10 does not know the option
                    Err(nix::errno::Errno::EINVAL) => mount_with(&opts),
                    r => r,
                }
            } else {
                mount_with(&opts)
            };
            r.map_err(|e| {
                StoreError::io(
                    format!("mount the overlay ({opts}) on"),
                    mountpoint,
                    e.into(),
                    "check that the kernel has overlayfs and that the layers exist",
                )
            })?;
            Ok(mountpoint.to_path_buf())
        }
        other => Ok(prepare_plain(other)),
    }
}

/// Tools run in the root (ssh-keygen, chpasswd) want /dev/null and /dev/urandom. When the
/// root's /dev lacks them, a small tmpfs with those nodes is mounted on it, in the child's
/// private mount namespace only: the container's own /dev is not changed.
fn minimal_dev(root: &Path) -> Result<(), StoreError> {
    use nix::sys::stat::{makedev, mknod, Mode, SFlag};
    use std::os::unix::fs::FileTypeExt;
    let dev = root.join("dev");
    let is_chr = |n: &str| {
        std::fs::symlink_metadata(dev.join(n))
            .map(|m| m.file_type().is_char_device())
            .unwrap_or(false)
    };
    if !dev.is_dir() || (is_chr("null") && is_chr("urandom")) {
        return Ok(());
    }
    mount(
        Some("tmpfs"),
        &dev,
        Some("tmpfs"),
        MsFlags::MS_NOSUID,
        Some("size=64k,mode=755"),
    )
    .map_err(|e| StoreError::io("mount a small /dev on", &dev, e.into(), "run hako as root"))?;
    for (n, minor) in [("null", 3), ("zero", 5), ("random", 8), ("urandom", 9)] {
        mknod(
            &dev.join(n),
            SFlag::S_IFCHR,
            Mode::from_bits_truncate(0o666),
            makedev(1, minor),
        )
        .map_err(|e| {
            StoreError::io(
                "create device node",
                dev.join(n),
                e.into(),
                "run hako as root",
            )
        })?;
    }
    Ok(())
}

/// `lowerdir=A:B,upperdir=U,workdir=W`
pub(crate) fn overlay_options(lowers: &[PathBuf], upper: &Path) -> String {
    let lower = lowers
        .iter()
        .map(|l| l.display().to_string())
        .collect::<Vec<_>>()
        .join(":");
    format!(
        "lowerdir={lower},upperdir={},workdir={}",
        upper.display(),
        overlay_workdir(upper).display()
    )
}

/// Runs `f` in a forked child; its Err comes back as the error text.
fn in_child(f: &dyn Fn() -> Result<(), StoreError>) -> Result<(), StoreError> {
    let (rd, wr) = nix::unistd::pipe()
        .map_err(|e| StoreError::other(format!("cannot make a pipe: {e}; retry")))?;
    match fork_child()? {
        None => {
            // the child
            drop(rd);
            let code = match f() {
                Ok(()) => 0,
                Err(e) => {
                    let msg = e.to_string();
                    let _ = nix::unistd::write(&wr, msg.as_bytes());
                    1
                }
            };
            drop(wr);
            exit_now(code)
        }
        Some(pid) => {
            drop(wr);
            let mut text = Vec::new();
            let mut file = std::fs::File::from(rd);
            let _ = file.read_to_end(&mut text);
            let status = loop {
                match waitpid(pid, None) {
                    Err(nix::errno::Errno::EINTR) => continue,
                    other => break other,
                }
            };
            let text = String::from_utf8_lossy(&text).trim().to_string();
            match status {
                Ok(WaitStatus::Exited(_, 0)) => Ok(()),
                Ok(WaitStatus::Exited(_, _)) if !text.is_empty() => Err(StoreError::Other(text)),
                Ok(s) => Err(StoreError::other(format!(
                    "the helper process that works in the container's root filesystem failed ({s:?}); retry, and check the kernel log"
                ))),
                Err(e) => Err(StoreError::other(format!("cannot wait for the helper process: {e}; retry"))),
            }
        }
    }
}

/// fork(2). Ok(None) in the child, Ok(Some(pid)) in the parent. The child dies with the
/// parent: a hako command killed while its helper writes into a container's root
/// filesystem must not leave the helper writing into a directory the next destroy removes.
fn fork_child() -> Result<Option<nix::unistd::Pid>, StoreError> {
    let parent = nix::unistd::getpid();
    // SAFETY: the child only runs our own code (file operations, mount, chroot, spawning
    // processes) and leaves with _exit. hako calls this while it runs no other thread of
    // its own; glibc makes malloc usable in the child of a fork.
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Child) => {
            die_with_parent(parent);
            Ok(None)
        }
        Ok(nix::unistd::ForkResult::Parent { child }) => Ok(Some(child)),
        Err(e) => Err(StoreError::other(format!(
            "cannot fork a helper process: {e}; retry"
        ))),
    }
}

/// In a forked child: SIGKILL when the parent dies; and if it died before that was set
/// (we were reparented already), go now.
fn die_with_parent(parent: nix::unistd::Pid) {
    // SAFETY: prctl(PR_SET_PDEATHSIG) only sets a flag of the calling process.
    let r = unsafe {
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        )
    };
    if r != 0 || nix::unistd::getppid() != parent {
        exit_now(1);
    }
}

fn exit_now(code: i32) -> ! {
    // SAFETY: _exit ends the process at once, without running the parent's atexit
    // handlers or flushing stdio buffers the child inherited.
    unsafe { libc::_exit(code) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_are_written_to_disk_small_or_large() {
        let d = tempfile::tempdir().unwrap();
        let up = d.path().join("upper");
        std::fs::create_dir_all(up.join("etc/ssh")).unwrap();
        std::fs::write(up.join("etc/hostname"), "c1\n").unwrap();
        std::fs::write(up.join("etc/ssh/key"), "k").unwrap();
        // a dangling symlink is recorded in its directory, not followed
        std::os::unix::fs::symlink("/nonexistent/x", up.join("etc/link")).unwrap();
        let mut all = Vec::new();
        assert!(collect_tree(&up, &mut all).unwrap());
        let mut rel: Vec<_> = all
            .iter()
            .map(|p| p.strip_prefix(&up).unwrap().display().to_string())
            .collect();
        rel.sort();
        assert_eq!(rel, ["etc", "etc/hostname", "etc/ssh", "etc/ssh/key"]);
        sync_tree(&up).unwrap();
        // past the limit: one syncfs for the whole layer
        for i in 0..=SYNC_EACH_MAX {
            std::fs::write(up.join(format!("f{i}")), "x").unwrap();
        }
        assert!(!collect_tree(&up, &mut Vec::new()).unwrap());
        sync_tree(&up).unwrap();
        // the marker of a volatile mount goes, the layer stays
        let marker = d.path().join("work/work/incompat/volatile");
        std::fs::create_dir_all(&marker).unwrap();
        std::fs::write(marker.join("dirty"), "").unwrap();
        settle_volatile(&up).unwrap();
        assert!(!d.path().join("work/work/incompat").exists());
        assert!(d.path().join("work/work").is_dir());
        assert_eq!(
            std::fs::read_to_string(up.join("etc/hostname")).unwrap(),
            "c1\n"
        );
        // an unreadable layer is an error that names it
        let e = sync_tree(&d.path().join("missing"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing"), "{e}");
    }

    #[test]
    fn options_for_the_overlay_mount() {
        assert_eq!(
            overlay_options(
                &["/a/upper".into(), "/img/rootfs".into()],
                Path::new("/l/c/overlay/upper")
            ),
            "lowerdir=/a/upper:/img/rootfs,upperdir=/l/c/overlay/upper,workdir=/l/c/overlay/work"
        );
    }

    #[test]
    fn errors_of_the_child_come_back() {
        let d = tempfile::tempdir().unwrap();
        let spec = RootfsSpec::Dir(d.path().to_path_buf());
        // not chrooted: with_rootfs on a dir runs in-process
        with_rootfs(&spec, d.path(), &|root| {
            std::fs::write(root.join("x"), "1").map_err(|e| StoreError::io("write", root, e, "x"))
        })
        .unwrap();
        assert!(d.path().join("x").exists());
        let e = in_child(&|| Err(StoreError::other("the reason"))).unwrap_err();
        assert_eq!(e.to_string(), "the reason");
        in_child(&|| Ok(())).unwrap();
    }
}
