//! `hako file push/pull`: copy files into and out of a container, running or stopped.
//!
//! The work happens in a child process that sees the container's filesystem as the
//! container does: for a running container it joins the container's mount namespace
//! (so mounts inside the container — tmpfs on /tmp, binds — are honoured and no freeze is
//! needed); for a stopped one it mounts the rootfs (overlay layers included) in a private
//! mount namespace. Paths are resolved one component at a time below the container's root:
//! symlinks are followed as the container would follow them (an absolute target starts at
//! the container's root), and anything that would climb above the root is refused. Files
//! are written to a temporary name in the target directory and renamed into place, so a
//! reader inside never sees half a file.
//!
//! A stopped container is seen as its rootfs only: `lxc.mount.entry` mounts are not made, so
//! a path below one of them reaches the rootfs underneath. Its lock is held meanwhile.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{openat, OFlag};
use nix::sys::stat::Mode;

use crate::{Container, Error, Result, State};

/// How long a transfer into a stopped container waits for another command holding its lock.
const LOCK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Ownership and mode for pushed files (None: root:root, the local file's mode).
#[derive(Clone, Debug, Default)]
pub struct PushOptions {
    pub recursive: bool,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub mode: Option<u32>,
}

const MAX_SYMLINKS: u32 = 40;

/// Resolve `path` (absolute, inside the container) below `root` (an O_PATH fd of the
/// container's root directory). Returns the fd of the parent directory and the last
/// component (None for the root itself). `follow_last`: follow a symlink in the last
/// component too. Errors: ENOENT for a missing directory, EXDEV for an escape.
pub fn resolve(
    root: RawFd,
    path: &Path,
    follow_last: bool,
) -> std::result::Result<(OwnedFd, Option<OsString>), Errno> {
    let dup = |fd: RawFd| -> std::result::Result<OwnedFd, Errno> {
        let n = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(3))?;
        // SAFETY: a fresh fd we own.
        Ok(unsafe { OwnedFd::from_raw_fd(n) })
    };
    let mut todo: Vec<OsString> = Vec::new();
    let push_path = |todo: &mut Vec<OsString>, p: &Path| -> std::result::Result<(), Errno> {
        let mut comps: Vec<OsString> = Vec::new();
        for c in p.components() {
            match c {
                Component::Normal(n) => comps.push(n.to_os_string()),
                Component::ParentDir => comps.push(OsString::from("..")),
                Component::CurDir | Component::RootDir => {}
                Component::Prefix(_) => return Err(Errno::EINVAL),
            }
        }
        // todo is a stack: the next component is at the end
        for c in comps.into_iter().rev() {
            todo.push(c);
        }
        Ok(())
    };
    push_path(&mut todo, path)?;
    let mut stack: Vec<OwnedFd> = vec![dup(root)?];
    let mut links = 0;
    while let Some(comp) = todo.pop() {
        let last = todo.is_empty();
        if comp == ".." {
            if stack.len() == 1 {
                return Err(Errno::EXDEV);
            }
            stack.pop();
            if last {
                let parent = stack.last().unwrap();
                return Ok((dup(parent.as_raw_fd())?, None));
            }
            continue;
        }
        let dir = stack.last().unwrap().as_raw_fd();
        if last && !follow_last {
            return Ok((dup(dir)?, Some(comp)));
        }
        match openat(
            Some(dir),
            comp.as_os_str(),
            OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => {
                // SAFETY: a fresh fd we own.
                let fd = unsafe { OwnedFd::from_raw_fd(fd) };
                let st = nix::sys::stat::fstat(fd.as_raw_fd())?;
                let kind = st.st_mode & libc::S_IFMT;
                if kind == libc::S_IFLNK {
                    links += 1;
                    if links > MAX_SYMLINKS {
                        return Err(Errno::ELOOP);
                    }
                    let target = nix::fcntl::readlinkat(Some(fd.as_raw_fd()), "")?;
                    let t = Path::new(&target);
                    if t.is_absolute() {
                        stack.truncate(1);
                    }
                    push_path(&mut todo, t)?;
                    continue;
                }
                if last {
                    return Ok((dup(dir)?, Some(comp)));
                }
                if kind != libc::S_IFDIR {
                    return Err(Errno::ENOTDIR);
                }
                stack.push(fd);
            }
            Err(Errno::ENOENT) if last => return Ok((dup(dir)?, Some(comp))),
            Err(e) => return Err(e),
        }
    }
    let top = stack.last().unwrap();
    Ok((dup(top.as_raw_fd())?, None))
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

/// Where the child process finds the container's root.
enum RootSource {
    /// a running container: join the mount namespace of this pid
    Running(i32),
    /// a stopped one: the spec, to mount its rootfs privately
    Stopped(Box<hako_runtime::ContainerSpec>),
}

/// Run `f` in a child process whose `/` is the container's root; the child reports an error
/// text on a pipe. `f` gets the O_PATH fd of the root. A stopped container's rootfs is used
/// under the container's lock, so a concurrent `start` waits (an overlay upper/work pair
/// can be mounted only once) and no start can happen half way through.
fn in_container(c: &Container, f: &dyn Fn(RawFd) -> std::result::Result<(), String>) -> Result<()> {
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
    // SAFETY: the CLI is single-threaded (no logging or other threads), so the child may
    // allocate; it only does file system calls and ends with _exit.
    match unsafe { nix::unistd::fork() }
        .map_err(|e| Error::other(format!("cannot fork for the file transfer: {e}")))?
    {
        nix::unistd::ForkResult::Child => {
            drop(r);
            let res = enter_root(&src).and_then(|root| f(root.as_raw_fd()));
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
            if !spec.rootfs.is_dir() {
                return Err(format!(
                    "its rootfs {} does not exist",
                    spec.rootfs.display()
                ));
            }
            nix::unistd::chroot(&spec.rootfs)
                .map_err(|e| format!("chroot {}: {e}", spec.rootfs.display()))?;
            nix::unistd::chdir("/").map_err(|e| e.to_string())?;
        }
    }
    let fd = nix::fcntl::open(
        "/",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| format!("cannot open its root: {e}"))?;
    // SAFETY: a fresh fd we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Split "NAME:/path".
pub fn split_remote(s: &str) -> Option<(&str, &str)> {
    let (n, p) = s.split_once(':')?;
    (!n.is_empty() && p.starts_with('/')).then_some((n, p))
}

/// `.NAME.hako-PID`, NAME cut so that the whole stays within NAME_MAX.
fn tmp_name(name: &OsStr) -> OsString {
    use std::os::unix::ffi::OsStrExt;
    let b = name.as_bytes();
    let mut v = vec![b'.'];
    v.extend_from_slice(&b[..b.len().min(200)]);
    v.extend_from_slice(format!(".hako-{}", std::process::id()).as_bytes());
    OsString::from_vec(v)
}

fn write_atomic(
    dir: RawFd,
    name: &OsStr,
    data_from: &mut dyn Read,
    mode: u32,
    uid: u32,
    gid: u32,
) -> std::result::Result<(), String> {
    let tmp = tmp_name(name);
    let fd = openat(
        Some(dir),
        tmp.as_os_str(),
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW,
        Mode::from_bits_truncate(0o600),
    )
    .map_err(|e| {
        format!(
            "cannot create a file next to {}: {}",
            name.to_string_lossy(),
            errno_msg(e)
        )
    })?;
    // SAFETY: a fresh fd we own.
    let mut f = unsafe { File::from_raw_fd(fd) };
    let res = (|| -> std::result::Result<(), String> {
        std::io::copy(data_from, &mut f).map_err(|e| e.to_string())?;
        nix::unistd::fchown(
            f.as_raw_fd(),
            Some(nix::unistd::Uid::from_raw(uid)),
            Some(nix::unistd::Gid::from_raw(gid)),
        )
        .map_err(|e| format!("chown: {e}"))?;
        f.set_permissions(std::fs::Permissions::from_mode(mode & 0o7777))
            .map_err(|e| e.to_string())?;
        f.sync_all().map_err(|e| e.to_string())?;
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

fn fresh_fd(fd: RawFd) -> OwnedFd {
    // SAFETY: `fd` was just returned by a successful open call and is owned by nobody else.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

impl Container {
    /// `hako file push LOCAL NAME:/path`: LOCAL (a file, or with `recursive` a directory)
    /// into the container. A target that is an existing directory (or ends in '/')
    /// receives LOCAL under its own name. Files get `opts.uid`/`opts.gid` (default root)
    /// and `opts.mode` (default: the local file's mode); directories made by a recursive
    /// push get the uid/gid and keep the local directory's mode; existing directories are
    /// left as they are.
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
        let src_fd: OwnedFd = File::open(local)
            .map_err(|e| Error::other(format!("cannot push {}: {}", local.display(), io_msg(&e))))?
            .into();
        let uid = opts.uid.unwrap_or(0);
        let gid = opts.gid.unwrap_or(0);
        let mode = opts.mode;
        let is_dir = meta.is_dir();
        let file_mode = meta.mode();
        in_container(self, &|root| {
            let trailing = remote.ends_with('/');
            let (dir, last) = resolve(root, Path::new(&remote), true)
                .map_err(|e| resolve_msg("push to", &remote, e))?;
            // the target: an existing directory receives LOCAL under its own name
            let (dir, name) = match last {
                None => (dir, local_name.clone()),
                Some(n) => {
                    let st = nix::sys::stat::fstatat(
                        Some(dir.as_raw_fd()),
                        n.as_os_str(),
                        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
                    );
                    match st {
                        Ok(s) if s.st_mode & libc::S_IFMT == libc::S_IFDIR => {
                            let d = openat(Some(dir.as_raw_fd()), n.as_os_str(), OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW, Mode::empty())
                                .map_err(|e| format!("cannot open {remote}: {}", errno_msg(e)))?;
                            (fresh_fd(d), local_name.clone())
                        }
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
            if is_dir {
                push_tree(src_fd.as_raw_fd(), dir.as_raw_fd(), &name, uid, gid, mode).map_err(|e| {
                    format!(
                        "cannot push {} to {remote}: {e}",
                        local_name.to_string_lossy()
                    )
                })
            } else {
                let mut f = File::from(src_fd.try_clone().map_err(|e| e.to_string())?);
                write_atomic(
                    dir.as_raw_fd(),
                    &name,
                    &mut f,
                    mode.unwrap_or(file_mode),
                    uid,
                    gid,
                )
                .map_err(|e| format!("cannot write {remote}: {e}"))
            }
        })
    }

    /// `hako file pull NAME:/path LOCAL`: a file (or with `recursive` a directory) out of
    /// the container. An existing local directory receives it under its own name. Pulled
    /// files keep their mode and belong to the caller.
    pub fn file_pull(&self, remote: &str, local: &Path, recursive: bool) -> Result<()> {
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
        in_container(self, &|root| {
            let (dir, last) = resolve(root, Path::new(&remote), true).map_err(|e| match e {
                Errno::ENOENT => {
                    format!("cannot pull {remote}: no such file or directory in the container")
                }
                e => resolve_msg("pull", &remote, e),
            })?;
            let name = last.clone().unwrap_or_else(|| OsString::from("rootfs"));
            let st = match &last {
                Some(n) => nix::sys::stat::fstatat(
                    Some(dir.as_raw_fd()),
                    n.as_os_str(),
                    nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
                ),
                None => nix::sys::stat::fstat(dir.as_raw_fd()),
            }
            .map_err(|e| match e {
                Errno::ENOENT => {
                    format!("cannot pull {remote}: no such file or directory in the container")
                }
                e => format!("cannot pull {remote}: {}", errno_msg(e)),
            })?;
            let out_name = lname.clone().unwrap_or(name.clone());
            if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
                if !recursive {
                    return Err(format!("cannot pull {remote}: it is a directory; use -r to pull it with its contents"));
                }
                let src = match &last {
                    Some(n) => openat(
                        Some(dir.as_raw_fd()),
                        n.as_os_str(),
                        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW,
                        Mode::empty(),
                    ),
                    None => openat(
                        Some(dir.as_raw_fd()),
                        ".",
                        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                        Mode::empty(),
                    ),
                }
                .map_err(|e| format!("cannot open {remote}: {}", errno_msg(e)))?;
                let src = fresh_fd(src);
                return pull_tree(src.as_raw_fd(), dst.as_raw_fd(), &out_name)
                    .map_err(|e| format!("cannot pull {remote}: {e}"));
            }
            if st.st_mode & libc::S_IFMT != libc::S_IFREG {
                return Err(format!(
                    "cannot pull {remote}: it is not a regular file or a directory"
                ));
            }
            let fd = openat(
                Some(dir.as_raw_fd()),
                name.as_os_str(),
                OFlag::O_RDONLY | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW,
                Mode::empty(),
            )
            .map_err(|e| format!("cannot open {remote}: {}", errno_msg(e)))?;
            let mut f = File::from(fresh_fd(fd));
            write_atomic(
                dst.as_raw_fd(),
                &out_name,
                &mut f,
                st.st_mode,
                nix::unistd::getuid().as_raw(),
                nix::unistd::getgid().as_raw(),
            )
            .map_err(|e| format!("cannot write {}: {e}", ldir.join(&out_name).display()))
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

/// Copy the directory `src` (an fd) as `name` inside `dst_dir`, recursively. A directory
/// made here gets uid/gid and the source directory's mode; one that exists already is
/// merged into and left as it is. Regular files get uid/gid and `mode` (default: their
/// own); symlinks are copied as links; devices, fifos and sockets are skipped.
fn push_tree(
    src: RawFd,
    dst_dir: RawFd,
    name: &OsStr,
    uid: u32,
    gid: u32,
    mode: Option<u32>,
) -> std::result::Result<(), String> {
    let st = nix::sys::stat::fstat(src).map_err(errno_msg)?;
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
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| format!("{}: {}", name.to_string_lossy(), errno_msg(e)))?;
    let d = fresh_fd(d);
    if made {
        let (u, g) = ids(uid, gid);
        nix::unistd::fchown(d.as_raw_fd(), u, g)
            .map_err(|e| format!("chown {}: {}", name.to_string_lossy(), errno_msg(e)))?;
        nix::sys::stat::fchmod(d.as_raw_fd(), Mode::from_bits_truncate(st.st_mode & 0o7777))
            .map_err(|e| format!("chmod {}: {}", name.to_string_lossy(), errno_msg(e)))?;
    }
    let mut dir = nix::dir::Dir::openat(
        Some(src),
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
        let at = |x: Errno| format!("{}: {}", e.to_string_lossy(), errno_msg(x));
        let st = nix::sys::stat::fstatat(
            Some(src),
            e.as_os_str(),
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(at)?;
        match st.st_mode & libc::S_IFMT {
            libc::S_IFDIR => {
                let sub = openat(
                    Some(src),
                    e.as_os_str(),
                    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )
                .map_err(at)?;
                let sub = fresh_fd(sub);
                push_tree(sub.as_raw_fd(), d.as_raw_fd(), &e, uid, gid, mode)?;
            }
            libc::S_IFREG => {
                let f = openat(
                    Some(src),
                    e.as_os_str(),
                    OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )
                .map_err(at)?;
                let mut f = File::from(fresh_fd(f));
                write_atomic(
                    d.as_raw_fd(),
                    &e,
                    &mut f,
                    mode.unwrap_or(st.st_mode),
                    uid,
                    gid,
                )?;
            }
            libc::S_IFLNK => {
                let t = nix::fcntl::readlinkat(Some(src), e.as_os_str()).map_err(at)?;
                // a fresh link under a temporary name, renamed over whatever is there
                let tmp = tmp_name(&e);
                let _ = nix::unistd::unlinkat(
                    Some(d.as_raw_fd()),
                    tmp.as_os_str(),
                    nix::unistd::UnlinkatFlags::NoRemoveDir,
                );
                nix::unistd::symlinkat(t.as_os_str(), Some(d.as_raw_fd()), tmp.as_os_str())
                    .map_err(at)?;
                let (u, g) = ids(uid, gid);
                let _ = nix::unistd::fchownat(
                    Some(d.as_raw_fd()),
                    tmp.as_os_str(),
                    u,
                    g,
                    nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
                );
                nix::fcntl::renameat(
                    Some(d.as_raw_fd()),
                    tmp.as_os_str(),
                    Some(d.as_raw_fd()),
                    e.as_os_str(),
                )
                .map_err(|x| {
                    let _ = nix::unistd::unlinkat(
                        Some(d.as_raw_fd()),
                        tmp.as_os_str(),
                        nix::unistd::UnlinkatFlags::NoRemoveDir,
                    );
                    at(x)
                })?;
            }
            _ => tracing::debug!(
                "skipping {} (not a file, directory or symlink)",
                e.to_string_lossy()
            ),
        }
    }
    Ok(())
}

/// Copy the directory `src` as `name` into the host directory `dst_dir`.
fn pull_tree(src: RawFd, dst_dir: RawFd, name: &OsStr) -> std::result::Result<(), String> {
    let uid = nix::unistd::getuid().as_raw();
    let gid = nix::unistd::getgid().as_raw();
    push_tree(src, dst_dir, name, uid, gid, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rootfd(p: &Path) -> OwnedFd {
        File::open(p).unwrap().into()
    }

    #[test]
    fn resolve_follows_symlinks_inside_and_refuses_escapes() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        std::fs::create_dir_all(r.join("etc/sub")).unwrap();
        std::fs::write(r.join("etc/hosts"), "x").unwrap();
        std::os::unix::fs::symlink("/etc", r.join("abs")).unwrap();
        std::os::unix::fs::symlink("../../../../..", r.join("etc/up")).unwrap();
        std::os::unix::fs::symlink("sub", r.join("etc/rel")).unwrap();
        let root = rootfd(r);
        let (_, last) = resolve(root.as_raw_fd(), Path::new("/abs/hosts"), true).unwrap();
        assert_eq!(last.unwrap(), "hosts");
        let (_, last) = resolve(root.as_raw_fd(), Path::new("/etc/rel/new"), true).unwrap();
        assert_eq!(last.unwrap(), "new");
        assert_eq!(
            resolve(root.as_raw_fd(), Path::new("/../etc/hosts"), true).unwrap_err(),
            Errno::EXDEV
        );
        assert_eq!(
            resolve(root.as_raw_fd(), Path::new("/etc/up/etc/passwd"), true).unwrap_err(),
            Errno::EXDEV
        );
        assert_eq!(
            resolve(root.as_raw_fd(), Path::new("/etc/hosts/x"), true).unwrap_err(),
            Errno::ENOTDIR
        );
        assert_eq!(
            resolve(root.as_raw_fd(), Path::new("/nodir/x"), true).unwrap_err(),
            Errno::ENOENT
        );
        std::os::unix::fs::symlink("loop", r.join("loop")).unwrap();
        assert_eq!(
            resolve(root.as_raw_fd(), Path::new("/loop/x"), true).unwrap_err(),
            Errno::ELOOP
        );
    }

    #[test]
    fn remote_spec() {
        assert_eq!(split_remote("web:/etc/hosts"), Some(("web", "/etc/hosts")));
        assert_eq!(split_remote("web:etc"), None);
        assert_eq!(split_remote(":/x"), None);
        assert_eq!(split_remote("/x"), None);
    }

    #[test]
    fn temporary_names_fit() {
        use std::os::unix::ffi::OsStrExt;
        let long = OsString::from("x".repeat(255));
        let t = tmp_name(&long);
        assert!(t.as_bytes().len() <= 255, "{}", t.as_bytes().len());
        assert!(t.as_bytes().starts_with(b".xxx"));
        let t = tmp_name(OsStr::new("hosts"));
        assert_eq!(
            t,
            OsString::from(format!(".hosts.hako-{}", std::process::id()))
        );
    }

    #[test]
    fn push_tree_copies_files_dirs_and_links() {
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("src");
        std::fs::create_dir_all(src.join("a/b")).unwrap();
        std::fs::write(src.join("one"), "1").unwrap();
        std::fs::write(src.join("a/b/two"), "22").unwrap();
        std::fs::set_permissions(src.join("a"), std::fs::Permissions::from_mode(0o750)).unwrap();
        std::os::unix::fs::symlink("a/b/two", src.join("lnk")).unwrap();
        let dst = t.path().join("dst");
        std::fs::create_dir(&dst).unwrap();
        let (s, d) = (rootfd(&src), rootfd(&dst));
        let uid = nix::unistd::getuid().as_raw();
        let gid = nix::unistd::getgid().as_raw();
        push_tree(
            s.as_raw_fd(),
            d.as_raw_fd(),
            OsStr::new("copy"),
            uid,
            gid,
            Some(0o600),
        )
        .unwrap();
        let c = dst.join("copy");
        assert_eq!(std::fs::read_to_string(c.join("one")).unwrap(), "1");
        assert_eq!(std::fs::read_to_string(c.join("a/b/two")).unwrap(), "22");
        assert_eq!(
            std::fs::read_link(c.join("lnk")).unwrap(),
            Path::new("a/b/two")
        );
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
        push_tree(
            s.as_raw_fd(),
            d.as_raw_fd(),
            OsStr::new("copy"),
            uid,
            gid,
            None,
        )
        .unwrap();
        let mut names: Vec<_> = std::fs::read_dir(&c)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(names, ["a", "lnk", "one"]);
    }
}
