//! The helper process of a transfer: it sees the container's filesystem as the container
//! does (the mount namespace of a running container, or a private mount of a stopped one's
//! rootfs) and dies with the client that forked it.

use std::ffi::OsString;
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

use hako_runtime::inroot;
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

use super::{errno_msg, fresh_fd};
use crate::{Container, Error, Result, State};

/// How long a transfer into a stopped container waits for another command holding its lock.
const LOCK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// What the helper process works with once it sees the container's filesystem.
pub(super) struct Inside {
    /// O_PATH fd of the container's root directory.
    pub(super) root: OwnedFd,
    /// The host's /proc/self/fd of the helper, opened before it entered the container (the
    /// container's /proc is the container's to fake): re-opens an O_PATH fd as its inode.
    pub(super) fds: OwnedFd,
    /// A running container's user namespace maps (lxc.idmap): the helper creates files
    /// as the container's root (see [`enter_root`]); owners given inside are mapped.
    pub(super) maps: Option<Vec<hako_runtime::userns::IdMap>>,
}

impl Inside {
    /// The host (uid, gid) of the container's (uid, gid): the same without a user
    /// namespace.
    pub(super) fn host_ids(&self, uid: u32, gid: u32) -> std::result::Result<(u32, u32), String> {
        use hako_runtime::userns::{to_host, IdKind};
        let Some(m) = &self.maps else {
            return Ok((uid, gid));
        };
        let u = to_host(m, IdKind::Uid, uid).ok_or_else(|| {
            format!("uid {uid} is not mapped in the container's user namespace (see its lxc.idmap lines)")
        })?;
        let g = to_host(m, IdKind::Gid, gid).ok_or_else(|| {
            format!("gid {gid} is not mapped in the container's user namespace (see its lxc.idmap lines)")
        })?;
        Ok((u, g))
    }
}

/// Where the child process finds the container's root.
enum RootSource {
    /// a running container: join the mount namespace of this pid
    Running(i32),
    /// a stopped one: the spec, to mount its rootfs privately
    Stopped(Box<hako_runtime::ContainerSpec>),
}

/// Run `f` in a child process whose `/` is the container's root; the child reports an error
/// text on a pipe. A stopped container's rootfs is used under the container's lock, so a
/// concurrent `start` waits (an overlay upper/work pair can be mounted only once) and no
/// start can happen half way through. The child dies with this process (a killed client
/// leaves no helper writing on).
pub(super) fn in_container(
    c: &Container,
    f: &dyn Fn(&Inside) -> std::result::Result<(), String>,
) -> Result<()> {
    // a running container is written through its own mount namespace: no lock needed
    let (_lock, src) = match c.init_pid()? {
        Some(pid) => (None, RootSource::Running(pid)),
        None => {
            let lock = c.context().store().lock(c.name(), LOCK_TIMEOUT)?;
            // it may have been started while we waited for the lock
            match c.init_pid()? {
                Some(pid) => (None, RootSource::Running(pid)),
                None if c.state()? != State::Stopped => {
                    return Err(Error::other(format!(
                        "container \"{0}\" is {1}, neither running nor stopped; try again when \"hako info {0}\" shows RUNNING or STOPPED",
                        c.name(),
                        c.state()?
                    )))
                }
                None => (Some(lock), RootSource::Stopped(Box::new(c.read_spec()?))),
            }
        }
    };
    let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)
        .map_err(|e| Error::other(format!("cannot create a pipe for the file transfer: {e}")))?;
    let client = nix::unistd::getpid();
    // SAFETY: the CLI is single-threaded (no logging or other threads), so the child may
    // allocate; it only does file system calls and ends with _exit.
    match unsafe { nix::unistd::fork() }
        .map_err(|e| Error::other(format!("cannot fork for the file transfer: {e}")))?
    {
        nix::unistd::ForkResult::Child => {
            drop(r);
            let res = die_with(client)
                .and_then(|()| enter(&src))
                .and_then(|inside| f(&inside));
            let code = match res {
                Ok(()) => 0,
                Err(m) => {
                    let _ = nix::unistd::write(&w, m.as_bytes());
                    1
                }
            };
            // SAFETY: end of the forked child.
            unsafe { libc::_exit(code) }
        }
        nix::unistd::ForkResult::Parent { child } => {
            drop(w);
            let mut msg = String::new();
            let _ = File::from(r).read_to_string(&mut msg);
            let st = nix::sys::wait::waitpid(child, None);
            match st {
                Ok(nix::sys::wait::WaitStatus::Exited(_, 0)) if msg.is_empty() => Ok(()),
                _ if !msg.is_empty() => {
                    Err(Error::other(format!("container \"{}\": {msg}", c.name())))
                }
                other => Err(Error::other(format!(
                    "container \"{}\": the file transfer process failed ({other:?})",
                    c.name()
                ))),
            }
        }
    }
}

/// In the helper: be killed when the client dies (SIGKILL as the parent-death signal), and
/// give up if it died already between fork and prctl (the helper was then reparented).
fn die_with(client: nix::unistd::Pid) -> std::result::Result<(), String> {
    nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
        .map_err(|e| format!("cannot set the helper's parent-death signal: {e}"))?;
    if nix::unistd::getppid() != client {
        return Err("the hako command that started the transfer has exited".into());
    }
    Ok(())
}

/// In the helper: open the host's /proc/self/fd, then make `/` the container's root.
fn enter(src: &RootSource) -> std::result::Result<Inside, String> {
    let fds = nix::fcntl::open(
        "/proc/self/fd",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map(fresh_fd)
    .map_err(|e| {
        format!(
            "cannot open the host's /proc/self/fd: {}; is /proc mounted?",
            errno_msg(e)
        )
    })?;
    let (root, maps) = enter_root(src)?;
    Ok(Inside { root, fds, maps })
}

fn enter_root(
    src: &RootSource,
) -> std::result::Result<(OwnedFd, Option<Vec<hako_runtime::userns::IdMap>>), String> {
    let mut maps = None;
    match src {
        RootSource::Running(pid) => {
            // nothing in the container may trace this process (it holds host fds)
            nix::sys::prctl::set_dumpable(false)
                .map_err(|e| format!("cannot make the helper undumpable: {e}"))?;
            // (read on the host's /proc, before it is the container's)
            maps = hako_runtime::userns::read_maps(*pid);
            let ns = File::open(format!("/proc/{pid}/ns/mnt"))
                .map_err(|e| format!("cannot open its mount namespace: {e}"))?;
            nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNS)
                .map_err(|e| format!("cannot enter its mount namespace: {e}"))?;
            // setns moved our root and cwd to the namespace's root: the container's /
            // A user namespace of its own: its rootfs is an idmapped mount where the
            // host's root is not mapped; files are made as the container's root
            if let Some(m) = &maps {
                use hako_runtime::userns::{to_host, IdKind};
                let (Some(u), Some(g)) = (to_host(m, IdKind::Uid, 0), to_host(m, IdKind::Gid, 0))
                else {
                    return Err("its user namespace maps no root (uid or gid 0)".into());
                };
                hako_runtime::userns::act_as(u, g)
                    .map_err(|e| format!("cannot act as the container's root: {e}"))?;
                // a change of ids clears the parent-death signal and the dumpable flag
                nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
                    .map_err(|e| format!("cannot set the helper's parent-death signal: {e}"))?;
                nix::sys::prctl::set_dumpable(false)
                    .map_err(|e| format!("cannot make the helper undumpable: {e}"))?;
            }
        }
        RootSource::Stopped(spec) => {
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)
                .map_err(|e| format!("unshare: {e}"))?;
            nix::mount::mount(
                None::<&str>,
                "/",
                None::<&str>,
                nix::mount::MsFlags::MS_REC | nix::mount::MsFlags::MS_PRIVATE,
                None::<&str>,
            )
            .map_err(|e| format!("cannot make a private mount namespace: {e}"))?;
            if let Some(o) = &spec.rootfs_overlay {
                let lower: Vec<String> = o.lower.iter().map(|l| l.display().to_string()).collect();
                std::fs::create_dir_all(&spec.rootfs).map_err(|e| e.to_string())?;
                let data = format!(
                    "lowerdir={},upperdir={},workdir={}",
                    lower.join(":"),
                    o.upper.display(),
                    o.work.display()
                );
                nix::mount::mount(
                    Some("overlay"),
                    &spec.rootfs,
                    Some("overlay"),
                    nix::mount::MsFlags::empty(),
                    Some(data.as_str()),
                )
                .map_err(|e| format!("cannot mount its overlay root: {e}"))?;
            }
            // symlinks in the rootfs path are followed (start's bind mount does the same);
            // the directory reached is checked, then entered by fd, not by name again
            let fd = nix::fcntl::open(
                &spec.rootfs,
                OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .map(fresh_fd)
            .map_err(|e| match e {
                Errno::ENOENT => format!(
                    "its rootfs {} does not exist; recreate the container or fix lxc.rootfs.path in {}",
                    spec.rootfs.display(),
                    spec.config_path.display()
                ),
                e => format!(
                    "cannot open its rootfs {}: {}; fix lxc.rootfs.path in {}",
                    spec.rootfs.display(),
                    errno_msg(e),
                    spec.config_path.display()
                ),
            })?;
            if inroot::is_host_root(fd.as_fd()).map_err(errno_msg)? {
                return Err(format!(
                    "its rootfs {} is the host's root directory \"/\" (through a symlink or a bind mount); a container needs a root filesystem of its own, so nothing is copied; fix lxc.rootfs.path in {}",
                    spec.rootfs.display(),
                    spec.config_path.display()
                ));
            }
            nix::unistd::fchdir(fd.as_raw_fd())
                .map_err(|e| format!("cannot enter its rootfs: {}", errno_msg(e)))?;
            nix::unistd::chroot(".")
                .map_err(|e| format!("chroot {}: {}", spec.rootfs.display(), errno_msg(e)))?;
            nix::unistd::chdir("/").map_err(errno_msg)?;
        }
    }
    nix::fcntl::open(
        "/",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map(fresh_fd)
    .map(|fd| (fd, maps))
    .map_err(|e| format!("cannot open its root: {}", errno_msg(e)))
}

/// `path` resolved inside the container, following every symlink, refusing a ".." above
/// its root: the parent directory and the last name (None for "/").
pub(super) fn resolve(
    inside: &Inside,
    path: &str,
) -> std::result::Result<(OwnedFd, Option<OsString>), Errno> {
    inroot::resolve_in_root(
        inside.root.as_fd(),
        Path::new(path),
        true,
        inroot::AboveRoot::Refuse,
    )
}
