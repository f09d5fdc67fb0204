//! `hako file push/pull`: copy files into and out of a container, running or stopped.
//!
//! The work happens in a child process that sees the container's filesystem as the
//! container does: for a running container it joins the container's mount namespace
//! (so mounts inside the container — tmpfs on /tmp, binds — are honoured and no freeze is
//! needed); for a stopped one it mounts the rootfs (overlay layers included) in a private
//! mount namespace. Paths are resolved one component at a time below the container's root
//! ([`hako_runtime::inroot::resolve_in_root`], the runtime's resolver): symlinks are followed as the container would
//! follow them (an absolute target starts at the container's root), and anything that would
//! climb above the root is refused. Files are written to a temporary name in the target
//! directory and renamed into place, so a reader never sees half a file.
//!
//! Everything in the container is hostile input: its root may swap a file for a symlink, a
//! FIFO or a device node at any moment. So a container file is only ever opened by name with
//! O_PATH|O_NOFOLLOW (which opens no device, FIFO or symlink); its type is read with fstat
//! on that fd, and only a regular file or a directory is then re-opened for reading, as the
//! very inode the O_PATH fd holds (through the host's /proc/self/fd, with
//! O_NONBLOCK|O_NOCTTY), never by a second lookup of the name. A FIFO, device or socket is
//! refused by name (or skipped with a warning in a recursive copy); a pull can neither hang
//! on a FIFO nor read a device.
//!
//! Pulled files belong to the caller, and lose what would be dangerous on the host unless
//! `--keep-mode` asks for it: setuid, setgid and sticky bits and write permission for
//! others ([`PULL_MODE_MASK`]).
//!
//! The helper process dies with its client (parent-death signal), so a killed `file push`
//! stops writing at once. What it leaves is a temporary file `.NAME.hako-PID`; the next push
//! or pull into that directory removes every such file whose PID is no process any more.
//!
//! A stopped container is seen as its rootfs only: `lxc.mount.entry` mounts are not made, so
//! a path below one of them reaches the rootfs underneath. Its lock is held meanwhile. Its
//! rootfs path may lead through symlinks on the host (as `start`'s bind mount follows them),
//! but a rootfs that is the host's own root directory is refused, as `start` refuses it.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{openat, OFlag};
use nix::sys::stat::{FileStat, Mode};

use hako_runtime::inroot;

use crate::{Container, Error, Result, State};

/// How long a transfer into a stopped container waits for another command holding its lock.
const LOCK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The permission bits a pulled file or directory keeps without `--keep-mode`: no setuid,
/// setgid or sticky bit, no write permission for others. A container's root can make any
/// file setuid root; copied to the host as it is, it would be a root shell for any user.
pub const PULL_MODE_MASK: u32 = 0o775;

/// Ownership and mode for pushed files (None: root:root, the local file's mode).
#[derive(Clone, Debug, Default)]
pub struct PushOptions {
    pub recursive: bool,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub mode: Option<u32>,
}

/// Options of `hako file pull`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PullOptions {
    pub recursive: bool,
    /// Keep every mode bit (setuid, setgid, sticky, o+w) instead of [`PULL_MODE_MASK`].
    pub keep_mode: bool,
}

fn errno_msg(e: Errno) -> String {
    match e {
        Errno::EXDEV => "it leads outside the container's root (through \"..\" or a symlink); use a path inside the container".into(),
        Errno::ENOENT => "no such file or directory".into(),
        Errno::ENOTDIR => "a component of the path is not a directory".into(),
        Errno::ELOOP => "too many levels of symbolic links".into(),
        e => hako_runtime::error::errno_text(e),
    }
}

/// "a FIFO", "a character device", ...: the kind of a file that is not copied.
fn kind_name(mode: u32) -> &'static str {
    match mode & libc::S_IFMT {
        libc::S_IFIFO => "a FIFO",
        libc::S_IFCHR => "a character device",
        libc::S_IFBLK => "a block device",
        libc::S_IFSOCK => "a socket",
        libc::S_IFLNK => "a symlink",
        libc::S_IFDIR => "a directory",
        libc::S_IFREG => "a regular file",
        _ => "a file of unknown type",
    }
}

/// What the helper process works with once it sees the container's filesystem.
struct Inside {
    /// O_PATH fd of the container's root directory.
    root: OwnedFd,
    /// The host's /proc/self/fd of the helper, opened before it entered the container (the
    /// container's /proc is the container's to fake): re-opens an O_PATH fd as its inode.
    fds: OwnedFd,
}

/// A source entry, opened for copying without following or opening anything else.
#[derive(Debug)]
enum Source {
    File(File),
    /// opened O_RDONLY|O_DIRECTORY
    Dir(OwnedFd),
    /// a symlink, with its target
    Link(OsString),
    /// a FIFO, device or socket: never opened
    Other,
}

fn fresh_fd(fd: RawFd) -> OwnedFd {
    // SAFETY: `fd` was just returned by a successful open call and is owned by nobody else.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Open `name` in `dir` (source side of a copy). The name is looked up O_PATH|O_NOFOLLOW
/// ([`inroot::lookup`]: no driver open, no FIFO wait, no symlink followed); its type
/// decides. A regular file or a directory is then opened for reading through `fds` (the
/// host's /proc/self/fd) as the inode already held ([`inroot::Node::reopen`]), so nothing
/// swapped in after the lookup can be read. Returns the source and its stat.
fn open_source(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    fds: BorrowedFd<'_>,
) -> std::result::Result<(Source, FileStat), Errno> {
    let node = inroot::lookup(dir, name)?;
    let st = *node.stat();
    let dir_flag = match node.kind() {
        libc::S_IFREG => OFlag::empty(),
        libc::S_IFDIR => OFlag::O_DIRECTORY,
        libc::S_IFLNK => return Ok((Source::Link(node.read_link()?), st)),
        _ => return Ok((Source::Other, st)),
    };
    let fd = node.reopen(
        Some(fds),
        OFlag::O_RDONLY | dir_flag | OFlag::O_NONBLOCK | OFlag::O_NOCTTY,
    )?;
    if dir_flag.is_empty() {
        // blocking reads from here on: the file is a regular one
        nix::fcntl::fcntl(
            fd.as_raw_fd(),
            nix::fcntl::FcntlArg::F_SETFL(OFlag::empty()),
        )?;
        Ok((Source::File(File::from(fd)), st))
    } else {
        Ok((Source::Dir(fd), st))
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
fn in_container(
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
                None => (Some(lock), RootSource::Stopped(Box::new(c.load_spec(None, &[])?))),
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
    let root = enter_root(src)?;
    Ok(Inside { root, fds })
}

fn enter_root(src: &RootSource) -> std::result::Result<OwnedFd, String> {
    match src {
        RootSource::Running(pid) => {
            let ns = File::open(format!("/proc/{pid}/ns/mnt"))
                .map_err(|e| format!("cannot open its mount namespace: {e}"))?;
            nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNS)
                .map_err(|e| format!("cannot enter its mount namespace: {e}"))?;
            // setns moved our root and cwd to the namespace's root: the container's /
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
    .map_err(|e| format!("cannot open its root: {}", errno_msg(e)))
}

/// Split "NAME:/path".
pub fn split_remote(s: &str) -> Option<(&str, &str)> {
    let (n, p) = s.split_once(':')?;
    (!n.is_empty() && p.starts_with('/')).then_some((n, p))
}

/// `.NAME.hako-PID` (try 0) or `.NAME.hako-PID-TRY`, NAME cut so that the whole stays
/// within NAME_MAX. PID is the helper's: [`clean_stale`] knows a dead one by it.
fn tmp_name(name: &OsStr, attempt: u32) -> OsString {
    let b = name.as_bytes();
    let mut v = vec![b'.'];
    v.extend_from_slice(&b[..b.len().min(200)]);
    v.extend_from_slice(format!(".hako-{}", std::process::id()).as_bytes());
    if attempt > 0 {
        v.extend_from_slice(format!("-{attempt}").as_bytes());
    }
    OsString::from_vec(v)
}

/// The PID in a temporary name made by [`tmp_name`], if `name` is one.
fn tmp_pid(name: &[u8]) -> Option<i32> {
    if name.first() != Some(&b'.') {
        return None;
    }
    let marker = b".hako-";
    let at = name.windows(marker.len()).rposition(|w| w == marker)?;
    if at == 0 {
        return None;
    }
    let rest = std::str::from_utf8(&name[at + marker.len()..]).ok()?;
    let pid = match rest.split_once('-') {
        Some((p, n)) if !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()) => p,
        Some(_) => return None,
        None => rest,
    };
    if pid.is_empty() || !pid.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    pid.parse().ok().filter(|p: &i32| *p > 0)
}

/// Remove the temporary files a killed push or pull left in `dir`: `.NAME.hako-PID[-N]`
/// whose PID is no process any more (or is this very process, which has made none in `dir`
/// yet: the PID was reused). A transfer that is still running keeps its files. Best effort:
/// nothing here makes the transfer fail.
fn clean_stale(dir: RawFd) {
    let Ok(mut d) = nix::dir::Dir::openat(
        Some(dir),
        ".",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) else {
        return;
    };
    let me = std::process::id() as i32;
    let stale: Vec<OsString> = d
        .iter()
        .flatten()
        .filter(|e| {
            !matches!(e.file_type(), Some(nix::dir::Type::Directory))
                && match tmp_pid(e.file_name().to_bytes()) {
                    Some(pid) if pid == me => true,
                    Some(pid) => !process_running(pid),
                    None => false,
                }
        })
        .map(|e| OsString::from_vec(e.file_name().to_bytes().to_vec()))
        .collect();
    for n in stale {
        // NoRemoveDir: a directory of that name is not ours and stays
        if nix::unistd::unlinkat(
            Some(dir),
            n.as_os_str(),
            nix::unistd::UnlinkatFlags::NoRemoveDir,
        )
        .is_ok()
        {
            tracing::debug!("removed {}, left by a killed transfer", n.to_string_lossy());
        }
    }
}

/// Is `pid` a process that has not exited? A zombie (exited, not reaped yet: its parent,
/// a killed client, left it to an init that may reap late) holds no files and counts as
/// exited. Asked through a pidfd: this process's /proc is the container's by now.
fn process_running(pid: i32) -> bool {
    match hako_runtime::sys::pidfd_open(pid) {
        Err(Errno::ESRCH) => false,
        // unsure (no pidfd support, EMFILE...): keep its files
        Err(_) => true,
        Ok(fd) => {
            let mut p = [nix::poll::PollFd::new(
                fd.as_fd(),
                nix::poll::PollFlags::POLLIN,
            )];
            // readable once it has exited
            !matches!(nix::poll::poll(&mut p, nix::poll::PollTimeout::ZERO), Ok(1))
        }
    }
}

/// Create a temporary file next to `name` in `dir` (O_CREAT|O_EXCL|O_NOFOLLOW: nothing
/// that is there already is opened or followed). A name that is taken (by a file the
/// container made) moves on to the next try.
fn create_tmp(dir: RawFd, name: &OsStr) -> std::result::Result<(OsString, File), String> {
    let mut attempt = 0;
    loop {
        let tmp = tmp_name(name, attempt);
        match openat(
            Some(dir),
            tmp.as_os_str(),
            OFlag::O_WRONLY
                | OFlag::O_CREAT
                | OFlag::O_EXCL
                | OFlag::O_NOFOLLOW
                | OFlag::O_NOCTTY
                | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o600),
        ) {
            Ok(fd) => return Ok((tmp, File::from(fresh_fd(fd)))),
            Err(Errno::EEXIST) if attempt < 8 => attempt += 1,
            Err(e) => {
                return Err(format!(
                    "cannot create a temporary file next to {}: {}",
                    name.to_string_lossy(),
                    errno_msg(e)
                ))
            }
        }
    }
}

/// Write `data_from` as `name` in `dir`: to a temporary file, owned by uid/gid with `mode`
/// (chmod after chown, which clears setuid bits), synced, renamed over `name` (which
/// replaces a symlink or FIFO there, never follows or opens it).
fn write_atomic(
    dir: RawFd,
    name: &OsStr,
    data_from: &mut File,
    mode: u32,
    uid: u32,
    gid: u32,
) -> std::result::Result<(), String> {
    let (tmp, mut f) = create_tmp(dir, name)?;
    let res = (|| -> std::result::Result<(), String> {
        std::io::copy(data_from, &mut f).map_err(|e| io_msg(&e))?;
        nix::unistd::fchown(
            f.as_raw_fd(),
            Some(nix::unistd::Uid::from_raw(uid)),
            Some(nix::unistd::Gid::from_raw(gid)),
        )
        .map_err(|e| format!("chown: {}", errno_msg(e)))?;
        f.set_permissions(std::fs::Permissions::from_mode(mode & 0o7777))
            .map_err(|e| io_msg(&e))?;
        f.sync_all().map_err(|e| io_msg(&e))?;
        nix::fcntl::renameat(Some(dir), tmp.as_os_str(), Some(dir), name)
            .map_err(|e| format!("rename into place: {}", errno_msg(e)))
    })();
    if res.is_err() {
        let _ = nix::unistd::unlinkat(
            Some(dir),
            tmp.as_os_str(),
            nix::unistd::UnlinkatFlags::NoRemoveDir,
        );
    }
    res
}

/// Make the symlink `name` -> `target` in `dir` under a temporary name and rename it over
/// whatever is there.
fn write_link(
    dir: RawFd,
    name: &OsStr,
    target: &OsStr,
    uid: u32,
    gid: u32,
) -> std::result::Result<(), Errno> {
    let mut attempt = 0;
    let tmp = loop {
        let tmp = tmp_name(name, attempt);
        match nix::unistd::symlinkat(target, Some(dir), tmp.as_os_str()) {
            Ok(()) => break tmp,
            Err(Errno::EEXIST) if attempt < 8 => attempt += 1,
            Err(e) => return Err(e),
        }
    };
    let (u, g) = ids(uid, gid);
    let _ = nix::unistd::fchownat(
        Some(dir),
        tmp.as_os_str(),
        u,
        g,
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    );
    nix::fcntl::renameat(Some(dir), tmp.as_os_str(), Some(dir), name).inspect_err(|_| {
        let _ = nix::unistd::unlinkat(
            Some(dir),
            tmp.as_os_str(),
            nix::unistd::UnlinkatFlags::NoRemoveDir,
        );
    })
}

/// The message for a path that cannot be resolved inside the container.
fn resolve_msg(op: &str, remote: &str, e: Errno) -> String {
    match e {
        Errno::ENOENT => {
            let parent = if remote.ends_with('/') {
                remote.trim_end_matches('/').to_string()
            } else {
                Path::new(remote)
                    .parent()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "/".into())
            };
            format!("cannot {op} {remote}: the directory {parent} does not exist in the container; create it first (hako attach NAME -- mkdir -p {parent})")
        }
        e => format!("cannot {op} {remote}: {}", errno_msg(e)),
    }
}

/// `path` resolved inside the container, following every symlink, refusing a ".." above
/// its root: the parent directory and the last name (None for "/").
fn resolve(inside: &Inside, path: &str) -> std::result::Result<(OwnedFd, Option<OsString>), Errno> {
    inroot::resolve_in_root(
        inside.root.as_fd(),
        Path::new(path),
        true,
        inroot::AboveRoot::Refuse,
    )
}

/// The local file of a push, opened without hanging on a FIFO or opening a device that was
/// put in its place after the caller looked at it.
fn open_local_file(local: &Path) -> Result<File> {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(local)
        .map_err(|e| Error::other(format!("cannot push {}: {}", local.display(), io_msg(&e))))?;
    let m = f
        .metadata()
        .map_err(|e| Error::other(format!("cannot push {}: {}", local.display(), io_msg(&e))))?;
    if !m.is_file() {
        return Err(Error::other(format!(
            "cannot push {}: it is {}; only regular files and directories are pushed",
            local.display(),
            kind_name(std::os::unix::fs::MetadataExt::mode(&m))
        )));
    }
    nix::fcntl::fcntl(f.as_raw_fd(), nix::fcntl::FcntlArg::F_SETFL(OFlag::empty()))
        .map_err(|e| Error::other(format!("cannot push {}: {}", local.display(), errno_msg(e))))?;
    Ok(f)
}

impl Container {
    /// `hako file push LOCAL NAME:/path`: LOCAL (a file, or with `recursive` a directory)
    /// into the container. A target that is an existing directory (or ends in '/')
    /// receives LOCAL under its own name. Files get `opts.uid`/`opts.gid` (default root)
    /// and `opts.mode` (default: the local file's mode); directories made by a recursive
    /// push get the uid/gid and keep the local directory's mode; existing directories are
    /// left as they are. Temporary files of killed transfers in the target directory are
    /// removed first.
    pub fn file_push(&self, local: &Path, remote: &str, opts: &PushOptions) -> Result<()> {
        self.must_be_defined()?;
        check_remote(remote)?;
        let meta = std::fs::metadata(local).map_err(|e| {
            Error::other(format!(
                "cannot push {}: {}; check the local path",
                local.display(),
                io_msg(&e)
            ))
        })?;
        if meta.is_dir() && !opts.recursive {
            return Err(Error::other(format!(
                "cannot push {}: it is a directory; use -r to push it with its contents",
                local.display()
            )));
        }
        if !meta.is_dir() && !meta.is_file() {
            return Err(Error::other(format!("cannot push {}: it is not a regular file or a directory; only files, directories and symlinks inside them are pushed", local.display())));
        }
        let local_name = local
            .canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_os_string()))
            .or_else(|| local.file_name().map(|n| n.to_os_string()))
            .unwrap_or_else(|| OsString::from("rootfs"));
        let remote = remote.to_string();
        let is_dir = meta.is_dir();
        let src_fd: OwnedFd = if is_dir {
            File::open(local)
                .map_err(|e| {
                    Error::other(format!("cannot push {}: {}", local.display(), io_msg(&e)))
                })?
                .into()
        } else {
            open_local_file(local)?.into()
        };
        let copy = CopyOpts {
            uid: opts.uid.unwrap_or(0),
            gid: opts.gid.unwrap_or(0),
            mode: opts.mode,
            mask: 0o7777,
        };
        let file_mode = std::os::unix::fs::MetadataExt::mode(&meta);
        in_container(self, &|inside| {
            let trailing = remote.ends_with('/');
            let (dir, last) =
                resolve(inside, &remote).map_err(|e| resolve_msg("push to", &remote, e))?;
            // the target: an existing directory receives LOCAL under its own name
            let (dir, name) = match last {
                None => (dir, local_name.clone()),
                Some(n) => {
                    // looked up O_PATH|O_NOFOLLOW: a directory is used as the very one
                    // looked at; a symlink swapped in since is replaced, not followed
                    match inroot::lookup(dir.as_fd(), &n) {
                        Ok(node) if node.kind() == libc::S_IFDIR => (node.into_fd(), local_name.clone()),
                        Err(Errno::ENOENT) if trailing => {
                            let d = remote.trim_end_matches('/');
                            return Err(format!("cannot push to {remote}: the directory {d} does not exist in the container; create it first (hako attach NAME -- mkdir -p {d})"));
                        }
                        Ok(_) if trailing => return Err(format!("cannot push to {remote}: it is not a directory; drop the trailing '/' to replace the file")),
                        Ok(_) if is_dir => return Err(format!("cannot push directory {} to {remote}: a file of that name exists; remove it first or push into a directory", local_name.to_string_lossy())),
                        Ok(_) | Err(Errno::ENOENT) => (dir, n),
                        Err(e) => return Err(format!("cannot push to {remote}: {}", errno_msg(e))),
                    }
                }
            };
            clean_stale(dir.as_raw_fd());
            if is_dir {
                let label = Path::new(local);
                copy_tree(
                    src_fd.as_fd(),
                    dir.as_raw_fd(),
                    &name,
                    label,
                    &copy,
                    inside.fds.as_fd(),
                )
                .map_err(|e| {
                    format!(
                        "cannot push {} to {remote}: {e}",
                        local_name.to_string_lossy()
                    )
                })
            } else {
                let mut f = File::from(src_fd.try_clone().map_err(|e| io_msg(&e))?);
                write_atomic(
                    dir.as_raw_fd(),
                    &name,
                    &mut f,
                    copy.mode.unwrap_or(file_mode),
                    copy.uid,
                    copy.gid,
                )
                .map_err(|e| format!("cannot write {remote}: {e}"))
            }
        })
    }

    /// `hako file pull NAME:/path LOCAL`: a file (or with `opts.recursive` a directory) out
    /// of the container. An existing local directory receives it under its own name. Pulled
    /// files and directories belong to the caller; without `opts.keep_mode` they lose the
    /// bits outside [`PULL_MODE_MASK`]. FIFOs, devices and sockets are refused (skipped with
    /// a warning inside a recursive pull); they are never opened.
    pub fn file_pull(&self, remote: &str, local: &Path, opts: &PullOptions) -> Result<()> {
        self.must_be_defined()?;
        check_remote(remote)?;
        let local_dir_target = local.is_dir();
        let (ldir, lname): (PathBuf, Option<OsString>) = if local_dir_target {
            (local.to_path_buf(), None)
        } else {
            let parent = local
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            if !parent.is_dir() {
                return Err(Error::other(format!(
                    "cannot pull to {}: the local directory {} does not exist; create it first",
                    local.display(),
                    parent.display()
                )));
            }
            (
                parent.to_path_buf(),
                local.file_name().map(|n| n.to_os_string()),
            )
        };
        let dst: OwnedFd = File::open(&ldir)
            .map_err(|e| {
                Error::other(format!("cannot pull to {}: {}", ldir.display(), io_msg(&e)))
            })?
            .into();
        let remote = remote.to_string();
        let copy = CopyOpts {
            uid: nix::unistd::getuid().as_raw(),
            gid: nix::unistd::getgid().as_raw(),
            mode: None,
            mask: if opts.keep_mode {
                0o7777
            } else {
                PULL_MODE_MASK
            },
        };
        in_container(self, &|inside| {
            let (dir, last) = resolve(inside, &remote).map_err(|e| match e {
                Errno::ENOENT => {
                    format!("cannot pull {remote}: no such file or directory in the container")
                }
                e => resolve_msg("pull", &remote, e),
            })?;
            let (src, st) = open_source(
                dir.as_fd(),
                last.as_deref().unwrap_or(OsStr::new(".")),
                inside.fds.as_fd(),
            )
            .map_err(|e| match e {
                Errno::ENOENT => {
                    format!("cannot pull {remote}: no such file or directory in the container")
                }
                e => format!("cannot open {remote}: {}", changed_msg(e)),
            })?;
            let name = last.unwrap_or_else(|| OsString::from("rootfs"));
            let out_name = lname.clone().unwrap_or(name);
            match src {
                Source::Dir(d) => {
                    if !opts.recursive {
                        return Err(format!("cannot pull {remote}: it is a directory; use -r to pull it with its contents"));
                    }
                    clean_stale(dst.as_raw_fd());
                    copy_tree(
                        d.as_fd(),
                        dst.as_raw_fd(),
                        &out_name,
                        Path::new(&remote),
                        &copy,
                        inside.fds.as_fd(),
                    )
                    .map_err(|e| format!("cannot pull {remote}: {e}"))
                }
                Source::File(mut f) => {
                    clean_stale(dst.as_raw_fd());
                    write_atomic(
                        dst.as_raw_fd(),
                        &out_name,
                        &mut f,
                        st.st_mode & copy.mask,
                        copy.uid,
                        copy.gid,
                    )
                    .map_err(|e| format!("cannot write {}: {e}", ldir.join(&out_name).display()))
                }
                // the resolver followed every symlink: this one was swapped in since
                Source::Link(_) => Err(format!(
                    "cannot pull {remote}: it was replaced by a symlink while hako looked it up; try again"
                )),
                Source::Other => Err(format!(
                    "cannot pull {remote}: it is {}; only regular files and directories are pulled (it was not opened)",
                    kind_name(st.st_mode)
                )),
            }
        })
    }

    fn must_be_defined(&self) -> Result<()> {
        if self.exists() {
            Ok(())
        } else {
            Err(Error::NotFound {
                name: self.name().to_string(),
                lxcpath: self.context().lxcpath.display().to_string(),
            })
        }
    }
}

/// An open that failed on an O_NOFOLLOW: ELOOP means a symlink stands there now.
fn changed_msg(e: Errno) -> String {
    match e {
        Errno::ELOOP => {
            "it is a symlink (it was replaced while hako worked on it); try again".into()
        }
        e => errno_msg(e),
    }
}

/// The path inside the container must be absolute.
fn check_remote(remote: &str) -> Result<()> {
    if remote.starts_with('/') {
        Ok(())
    } else {
        Err(Error::other(format!("invalid path \"{remote}\" inside the container: it must be absolute, e.g. NAME:/root/file")))
    }
}

/// An io::Error without Rust's " (os error N)" tail.
fn io_msg(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => errno_msg(Errno::from_raw(n)),
        None => e.to_string(),
    }
}

fn ids(uid: u32, gid: u32) -> (Option<nix::unistd::Uid>, Option<nix::unistd::Gid>) {
    (
        Some(nix::unistd::Uid::from_raw(uid)),
        Some(nix::unistd::Gid::from_raw(gid)),
    )
}

/// Ownership and modes of what a copy makes.
struct CopyOpts {
    uid: u32,
    gid: u32,
    /// the mode of every file (None: each file's own)
    mode: Option<u32>,
    /// the mode bits kept (files and directories)
    mask: u32,
}

/// Copy the directory `src` (an fd opened for reading) as `name` inside `dst_dir`,
/// recursively; `label` is `src` as the user named it (for messages). A directory made here
/// gets uid/gid and, once filled, the source directory's mode (masked); one that exists
/// already is merged into and left as it is, but a symlink in its place is refused, not
/// followed. Regular files get uid/gid and `o.mode` (default: their own), masked; symlinks
/// are copied as links; FIFOs, devices and sockets are never opened and are skipped with a
/// warning, as are entries that vanish during the copy.
fn copy_tree(
    src: BorrowedFd<'_>,
    dst_dir: RawFd,
    name: &OsStr,
    label: &Path,
    o: &CopyOpts,
    fds: BorrowedFd<'_>,
) -> std::result::Result<(), String> {
    let st = nix::sys::stat::fstat(src.as_raw_fd()).map_err(errno_msg)?;
    let made = match nix::sys::stat::mkdirat(Some(dst_dir), name, Mode::from_bits_truncate(0o700)) {
        Ok(()) => true,
        Err(Errno::EEXIST) => false,
        Err(e) => {
            return Err(format!(
                "mkdir {}: {}",
                name.to_string_lossy(),
                errno_msg(e)
            ))
        }
    };
    let d = openat(
        Some(dst_dir),
        name,
        OFlag::O_RDONLY
            | OFlag::O_DIRECTORY
            | OFlag::O_NOFOLLOW
            | OFlag::O_NONBLOCK
            | OFlag::O_NOCTTY
            | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| match e {
        Errno::ELOOP => format!(
            "{} exists as a symlink where a directory goes; it is not followed; remove it first",
            name.to_string_lossy()
        ),
        Errno::ENOTDIR => format!(
            "{} exists and is not a directory; remove it first",
            name.to_string_lossy()
        ),
        e => format!("{}: {}", name.to_string_lossy(), errno_msg(e)),
    })?;
    let d = fresh_fd(d);
    if made {
        let (u, g) = ids(o.uid, o.gid);
        nix::unistd::fchown(d.as_raw_fd(), u, g)
            .map_err(|e| format!("chown {}: {}", name.to_string_lossy(), errno_msg(e)))?;
    } else {
        clean_stale(d.as_raw_fd());
    }
    let mut dir = nix::dir::Dir::openat(
        Some(src.as_raw_fd()),
        ".",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(errno_msg)?;
    let entries: Vec<OsString> = dir
        .iter()
        .flatten()
        .map(|e| OsString::from_vec(e.file_name().to_bytes().to_vec()))
        .filter(|n| n != "." && n != "..")
        .collect();
    for e in entries {
        let shown = label.join(&e);
        let at = |x: Errno| format!("{}: {}", shown.display(), errno_msg(x));
        let (entry, est) = match open_source(src, &e, fds) {
            Ok(x) => x,
            Err(Errno::ENOENT) => {
                tracing::warn!(
                    "skipped {}: it disappeared during the copy",
                    shown.display()
                );
                continue;
            }
            Err(x) => return Err(at(x)),
        };
        match entry {
            Source::Dir(sub) => copy_tree(sub.as_fd(), d.as_raw_fd(), &e, &shown, o, fds)?,
            Source::File(mut f) => write_atomic(
                d.as_raw_fd(),
                &e,
                &mut f,
                o.mode.unwrap_or(est.st_mode) & o.mask,
                o.uid,
                o.gid,
            )
            .map_err(|x| format!("{}: {x}", shown.display()))?,
            Source::Link(t) => write_link(d.as_raw_fd(), &e, &t, o.uid, o.gid).map_err(at)?,
            Source::Other => tracing::warn!(
                "skipped {}: it is {}; only files, directories and symlinks are copied",
                shown.display(),
                kind_name(est.st_mode)
            ),
        }
    }
    if made {
        // the mode last: a directory being filled stays private to its owner
        nix::sys::stat::fchmod(
            d.as_raw_fd(),
            Mode::from_bits_truncate(st.st_mode & 0o7777 & o.mask),
        )
        .map_err(|e| format!("chmod {}: {}", name.to_string_lossy(), errno_msg(e)))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{FileTypeExt, MetadataExt};

    fn dirfd(p: &Path) -> OwnedFd {
        File::open(p).unwrap().into()
    }

    fn proc_fds() -> OwnedFd {
        fresh_fd(
            nix::fcntl::open(
                "/proc/self/fd",
                OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .unwrap(),
        )
    }

    #[test]
    fn remote_spec() {
        assert_eq!(split_remote("web:/etc/hosts"), Some(("web", "/etc/hosts")));
        assert_eq!(split_remote("web:etc"), None);
        assert_eq!(split_remote(":/x"), None);
        assert_eq!(split_remote("/x"), None);
    }

    #[test]
    fn temporary_names_fit_and_carry_the_pid() {
        let long = OsString::from("x".repeat(255));
        let t = tmp_name(&long, 0);
        assert!(t.as_bytes().len() <= 255, "{}", t.as_bytes().len());
        assert!(t.as_bytes().starts_with(b".xxx"));
        let me = std::process::id();
        let t = tmp_name(OsStr::new("hosts"), 0);
        assert_eq!(t, OsString::from(format!(".hosts.hako-{me}")));
        assert_eq!(tmp_pid(t.as_bytes()), Some(me as i32));
        let t = tmp_name(OsStr::new("a.hako-1"), 3);
        assert_eq!(t, OsString::from(format!(".a.hako-1.hako-{me}-3")));
        assert_eq!(tmp_pid(t.as_bytes()), Some(me as i32));
        for not_ours in [
            "hosts.hako-12",
            ".hako-12",
            ".x.hako-",
            ".x.hako-12a",
            ".x.hako-12-",
            ".x.hako--3",
            ".x.hako-0",
            ".x.hako-99999999999",
            ".x.hako-1-2-3",
        ] {
            assert_eq!(tmp_pid(not_ours.as_bytes()), None, "{not_ours}");
        }
        assert_eq!(tmp_pid(b".x.hako-12-4"), Some(12));
    }

    /// A pid that is no process: a child that has been reaped.
    fn dead_pid() -> u32 {
        let mut c = std::process::Command::new("true").spawn().unwrap();
        let pid = c.id();
        c.wait().unwrap();
        pid
    }

    #[test]
    fn a_zombie_is_not_running() {
        let mut c = std::process::Command::new("true").spawn().unwrap();
        let pid = c.id() as i32;
        assert!(std::iter::repeat_with(|| {
            std::thread::sleep(std::time::Duration::from_millis(5));
            !process_running(pid)
        })
        .take(1000)
        .any(|x| x));
        c.wait().unwrap();
        assert!(!process_running(pid));
        assert!(process_running(std::process::id() as i32));
    }

    #[test]
    fn stale_temporary_files_of_dead_pids_are_removed() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        let dead = dead_pid();
        let alive = std::process::id(); // this test process: alive, and not the helper
        let parent = nix::unistd::getppid().as_raw();
        for n in [
            format!(".big.hako-{dead}"),
            format!(".big.hako-{dead}-2"),
            format!(".live.hako-{parent}"),
            "keep.hako-1".to_string(),
            ".keep".to_string(),
        ] {
            std::fs::write(d.join(&n), "x").unwrap();
        }
        std::os::unix::fs::symlink("/etc/passwd", d.join(format!(".lnk.hako-{dead}"))).unwrap();
        std::fs::create_dir(d.join(format!(".dir.hako-{dead}"))).unwrap();
        // our own pid: we made nothing there, so it is a leftover of a reused pid
        std::fs::write(d.join(format!(".mine.hako-{alive}")), "x").unwrap();
        clean_stale(dirfd(d).as_raw_fd());
        let mut left: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        let mut want = vec![
            format!(".dir.hako-{dead}"),
            ".keep".to_string(),
            format!(".live.hako-{parent}"),
            "keep.hako-1".to_string(),
        ];
        want.sort();
        assert_eq!(left, want);
        // the symlink was removed, not followed
        assert!(Path::new("/etc/passwd").exists());
    }

    #[test]
    fn a_taken_temporary_name_moves_on() {
        let t = tempfile::tempdir().unwrap();
        let d = dirfd(t.path());
        // the container put a FIFO and a symlink where the temporary file would go
        let n0 = tmp_name(OsStr::new("f"), 0);
        nix::unistd::mkfifo(&t.path().join(&n0), Mode::from_bits_truncate(0o600)).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", t.path().join(tmp_name(OsStr::new("f"), 1)))
            .unwrap();
        let src = t.path().join("src");
        std::fs::write(&src, "data").unwrap();
        write_atomic(
            d.as_raw_fd(),
            OsStr::new("f"),
            &mut File::open(&src).unwrap(),
            0o640,
            nix::unistd::getuid().as_raw(),
            nix::unistd::getgid().as_raw(),
        )
        .unwrap();
        assert_eq!(std::fs::read_to_string(t.path().join("f")).unwrap(), "data");
        // what the container put there is left alone
        assert!(std::fs::symlink_metadata(t.path().join(&n0))
            .unwrap()
            .file_type()
            .is_fifo());
    }

    #[test]
    fn sources_that_are_not_files_are_never_opened() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        std::fs::write(d.join("file"), "content").unwrap();
        std::fs::create_dir(d.join("dir")).unwrap();
        nix::unistd::mkfifo(&d.join("fifo"), Mode::from_bits_truncate(0o644)).unwrap();
        let _sock = std::os::unix::net::UnixListener::bind(d.join("sock")).unwrap();
        std::os::unix::fs::symlink("file", d.join("link")).unwrap();
        let (dir, fds) = (dirfd(d), proc_fds());
        let open = |n: &str| open_source(dir.as_fd(), OsStr::new(n), fds.as_fd());
        match open("file").unwrap() {
            (Source::File(mut f), st) => {
                assert_eq!(st.st_mode & libc::S_IFMT, libc::S_IFREG);
                let mut s = String::new();
                f.read_to_string(&mut s).unwrap();
                assert_eq!(s, "content");
                // blocking again, and read-only
                let fl = nix::fcntl::fcntl(f.as_raw_fd(), nix::fcntl::FcntlArg::F_GETFL).unwrap();
                assert_eq!(fl & (libc::O_NONBLOCK | libc::O_ACCMODE), libc::O_RDONLY);
            }
            _ => panic!("file"),
        }
        assert!(matches!(open("dir").unwrap().0, Source::Dir(_)));
        assert!(matches!(open("link").unwrap().0, Source::Link(t) if t == "file"));
        // a FIFO without a writer: returns at once (a blocking open would hang here)
        let (s, st) = open("fifo").unwrap();
        assert!(matches!(s, Source::Other));
        assert_eq!(kind_name(st.st_mode), "a FIFO");
        let (s, st) = open("sock").unwrap();
        assert!(matches!(s, Source::Other));
        assert_eq!(kind_name(st.st_mode), "a socket");
        assert_eq!(open("missing").unwrap_err(), Errno::ENOENT);
    }

    #[test]
    fn copy_tree_copies_files_dirs_and_links() {
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("src");
        std::fs::create_dir_all(src.join("a/b")).unwrap();
        std::fs::write(src.join("one"), "1").unwrap();
        std::fs::write(src.join("a/b/two"), "22").unwrap();
        std::fs::set_permissions(src.join("a"), std::fs::Permissions::from_mode(0o750)).unwrap();
        std::os::unix::fs::symlink("a/b/two", src.join("lnk")).unwrap();
        nix::unistd::mkfifo(&src.join("fifo"), Mode::from_bits_truncate(0o644)).unwrap();
        let dst = t.path().join("dst");
        std::fs::create_dir(&dst).unwrap();
        let (s, d, fds) = (dirfd(&src), dirfd(&dst), proc_fds());
        let o = CopyOpts {
            uid: nix::unistd::getuid().as_raw(),
            gid: nix::unistd::getgid().as_raw(),
            mode: Some(0o600),
            mask: 0o7777,
        };
        let copy = |o: &CopyOpts| {
            copy_tree(
                s.as_fd(),
                d.as_raw_fd(),
                OsStr::new("copy"),
                Path::new("src"),
                o,
                fds.as_fd(),
            )
        };
        copy(&o).unwrap();
        let c = dst.join("copy");
        assert_eq!(std::fs::read_to_string(c.join("one")).unwrap(), "1");
        assert_eq!(std::fs::read_to_string(c.join("a/b/two")).unwrap(), "22");
        assert_eq!(
            std::fs::read_link(c.join("lnk")).unwrap(),
            Path::new("a/b/two")
        );
        // the FIFO is skipped
        assert!(!c.join("fifo").exists());
        // --mode is for files; directories keep their own mode
        assert_eq!(
            std::fs::metadata(c.join("one")).unwrap().mode() & 0o7777,
            0o600
        );
        assert_eq!(
            std::fs::metadata(c.join("a")).unwrap().mode() & 0o7777,
            0o750
        );
        // again over the copy: merged, links replaced, no temporary files left
        copy(&CopyOpts { mode: None, ..o }).unwrap();
        let mut names: Vec<_> = std::fs::read_dir(&c)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(names, ["a", "lnk", "one"]);
    }

    #[test]
    fn a_pull_mask_strips_setuid_sticky_and_world_write() {
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("src");
        std::fs::create_dir_all(src.join("pub")).unwrap();
        std::fs::write(src.join("suid"), "x").unwrap();
        std::fs::write(src.join("ww"), "x").unwrap();
        std::fs::set_permissions(src.join("suid"), std::fs::Permissions::from_mode(0o6755))
            .unwrap();
        std::fs::set_permissions(src.join("ww"), std::fs::Permissions::from_mode(0o1666)).unwrap();
        std::fs::set_permissions(src.join("pub"), std::fs::Permissions::from_mode(0o3777)).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().mode() & 0o7777;
        assert_eq!(mode(&src.join("suid")), 0o6755, "the test's own setup");
        for (mask, out) in [(PULL_MODE_MASK, "masked"), (0o7777, "kept")] {
            let dst = t.path().join(out);
            std::fs::create_dir(&dst).unwrap();
            let o = CopyOpts {
                uid: nix::unistd::getuid().as_raw(),
                gid: nix::unistd::getgid().as_raw(),
                mode: None,
                mask,
            };
            copy_tree(
                dirfd(&src).as_fd(),
                dirfd(&dst).as_raw_fd(),
                OsStr::new("t"),
                Path::new("/src"),
                &o,
                proc_fds().as_fd(),
            )
            .unwrap();
            let c = dst.join("t");
            let got = (
                mode(&c.join("suid")),
                mode(&c.join("ww")),
                mode(&c.join("pub")),
            );
            if mask == PULL_MODE_MASK {
                assert_eq!(got, (0o755, 0o664, 0o775));
            } else {
                assert_eq!(got, (0o6755, 0o1666, 0o3777));
            }
        }
    }
}
