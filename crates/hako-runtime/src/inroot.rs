//! Paths inside a container's root directory: the one resolver every part of hako uses to
//! name a file of a container (mount targets, sysctls, attach's /etc/passwd, the console's
//! ptmx, `hako file push/pull`).
//!
//! The rule is the container's own: a path is resolved as if the root directory fd were
//! "/", so an absolute symlink starts again at that root and no symlink or ".." leads out
//! of it. Two implementations carry the rule and are tested to agree:
//!
//! - [`open_in_root`]: openat2(2) with RESOLVE_IN_ROOT (the kernel walks the path), and on a
//!   kernel without openat2 the walk below, with ".." at the root staying at the root.
//! - [`resolve_in_root`]: the walk in user space, one component at a time, each opened
//!   O_PATH|O_NOFOLLOW (no device, FIFO or magic link is ever opened or traversed; a
//!   symlink is read as text and followed as the container would follow it). It returns
//!   the parent directory and the last name, for callers that create or replace the last
//!   component, and can refuse a ".." above the root instead of clamping it.
//!
//! What a name then is, is looked at without opening it ([`lookup`]: O_PATH|O_NOFOLLOW and
//! fstat); a file is opened for I/O only as the very inode that lookup holds
//! ([`Node::reopen`], through /proc/self/fd), never by a second lookup of its name, which
//! the container could have swapped for a symlink, FIFO or device node meanwhile.

use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path};

use nix::errno::Errno;
use nix::fcntl::{openat, OFlag};
use nix::sys::stat::{FileStat, Mode};

use crate::sys;

/// The most symlinks one resolution follows (the kernel's limit).
const MAX_SYMLINKS: u32 = 40;

/// What a ".." that would climb above the root does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AboveRoot {
    /// It stays at the root, as for the container's own processes (and openat2's
    /// RESOLVE_IN_ROOT).
    Clamp,
    /// The resolution fails with EXDEV: a user who names such a path made a mistake worth
    /// reporting (`hako file push/pull`).
    Refuse,
}

fn fresh(fd: RawFd) -> OwnedFd {
    // SAFETY: `fd` was just returned by a successful open or dup call and is owned by
    // nobody else.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

fn dup(fd: BorrowedFd<'_>) -> nix::Result<OwnedFd> {
    nix::fcntl::fcntl(fd.as_raw_fd(), nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(3)).map(fresh)
}

/// Open `rel` (relative or absolute, as the container names it) below `root` with open(2)
/// `flags` (O_CLOEXEC is added) and `mode` (used with O_CREAT): openat2(2) with
/// RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS, so that symlinks and ".." inside a container's
/// rootfs can never lead out of it. Without openat2 (ENOSYS: kernels before 5.6), the same
/// resolution is walked in user space ([`resolve_in_root`] with [`AboveRoot::Clamp`]); a
/// magic link (/proc/PID/fd/N...) is then followed by its text, inside the root, instead of
/// failing with ELOOP.
pub fn open_in_root(
    root: BorrowedFd<'_>,
    rel: &Path,
    flags: i32,
    mode: u32,
) -> nix::Result<OwnedFd> {
    match sys::openat2_in_root(root, rel, flags | libc::O_CLOEXEC, mode) {
        Err(Errno::ENOSYS) => open_by_walk(root, rel, flags, mode),
        r => r,
    }
}

/// [`open_in_root`] without openat2: the user-space walk, then one openat(2) of the last
/// name in its directory, O_NOFOLLOW (the walk followed a symlink there already; one
/// swapped in since is not followed).
fn open_by_walk(root: BorrowedFd<'_>, rel: &Path, flags: i32, mode: u32) -> nix::Result<OwnedFd> {
    let bytes = rel.as_os_str().as_bytes();
    if bytes.is_empty() {
        return Err(Errno::ENOENT);
    }
    // a trailing slash asks for a directory (with O_CREAT after a name: EISDIR, once the
    // directories before it exist), and follows a symlink there even with O_NOFOLLOW, as
    // the kernel does; O_CREAT|O_EXCL never follows one (EEXIST)
    let slash = bytes.ends_with(b"/");
    let creat = flags & libc::O_CREAT != 0;
    if slash
        && creat
        && resolve_in_root(root, rel, false, AboveRoot::Clamp)?
            .1
            .is_some()
    {
        return Err(Errno::EISDIR);
    }
    let flags = if slash && !creat {
        flags | libc::O_DIRECTORY
    } else {
        flags
    };
    let excl = libc::O_CREAT | libc::O_EXCL;
    let follow = slash || (flags & libc::O_NOFOLLOW == 0 && flags & excl != excl);
    let (dir, last) = resolve_in_root(root, rel, follow, AboveRoot::Clamp)?;
    let name = last.unwrap_or_else(|| OsString::from("."));
    let fd = fresh(openat(
        Some(dir.as_raw_fd()),
        name.as_os_str(),
        OFlag::from_bits_retain(flags | libc::O_NOFOLLOW | libc::O_CLOEXEC),
        Mode::from_bits_truncate(mode),
    )?);
    // O_PATH|O_NOFOLLOW opens a symlink itself: one that replaced the name after the walk
    // followed it is not what a following open returns
    if follow
        && flags & libc::O_PATH != 0
        && nix::sys::stat::fstat(fd.as_raw_fd())?.st_mode & libc::S_IFMT == libc::S_IFLNK
    {
        return Err(Errno::ELOOP);
    }
    Ok(fd)
}

/// Resolve `path` (absolute or relative, as the container names it) below `root` (an fd of
/// the container's root directory), one component at a time, for a caller that creates or
/// replaces the last component. Returns an O_PATH fd of the parent directory and the last
/// component (None when the path names a directory reached through `/`, `.` or `..`, e.g.
/// "/" itself).
///
/// Every component is opened O_PATH|O_NOFOLLOW, so no device, FIFO or magic link is ever
/// opened or traversed: a symlink is read as text and followed as the container would
/// follow it (an absolute target starts again at `root`), and `..` pops back to the
/// directory it came from (it is never looked up, so it cannot lead anywhere the walk has
/// not been). `follow_last`: follow a symlink in the last component too; a last component
/// that does not exist is returned as it is (to be created). `above`: what a `..` at the
/// root does.
///
/// Errors: ENOENT for a missing directory, ENOTDIR for a file used as one, ELOOP for more
/// than 40 symlinks, EXDEV for a path that leads above the root ([`AboveRoot::Refuse`]).
pub fn resolve_in_root(
    root: BorrowedFd<'_>,
    path: &Path,
    follow_last: bool,
    above: AboveRoot,
) -> nix::Result<(OwnedFd, Option<OsString>)> {
    // a stack: the next component is at the end
    let mut todo: Vec<OsString> = Vec::new();
    push_components(&mut todo, path)?;
    let mut stack: Vec<OwnedFd> = vec![dup(root)?];
    let mut links = 0;
    while let Some(comp) = todo.pop() {
        let last = todo.is_empty();
        if comp == ".." {
            if stack.len() > 1 {
                stack.pop();
            } else if above == AboveRoot::Refuse {
                return Err(Errno::EXDEV);
            }
            continue;
        }
        let dir = stack.last().expect("the root stays on the stack").as_fd();
        if last && !follow_last {
            return Ok((dup(dir)?, Some(comp)));
        }
        let node = match lookup(dir, &comp) {
            Ok(n) => n,
            Err(Errno::ENOENT) if last => return Ok((dup(dir)?, Some(comp))),
            Err(e) => return Err(e),
        };
        match node.kind() {
            libc::S_IFLNK => {
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(Errno::ELOOP);
                }
                let target = node.read_link()?;
                let t = Path::new(&target);
                if t.is_absolute() {
                    stack.truncate(1);
                }
                push_components(&mut todo, t)?;
            }
            _ if last => return Ok((dup(dir)?, Some(comp))),
            libc::S_IFDIR => stack.push(node.fd),
            _ => return Err(Errno::ENOTDIR),
        }
    }
    let top = stack.last().expect("the root stays on the stack");
    Ok((dup(top.as_fd())?, None))
}

/// Push the components of `p` on `todo` so that the first one is popped first (`/` and
/// `.` dropped, `..` kept).
fn push_components(todo: &mut Vec<OsString>, p: &Path) -> nix::Result<()> {
    let at = todo.len();
    for c in p.components() {
        match c {
            Component::Normal(n) => todo.push(n.to_os_string()),
            Component::ParentDir => todo.push(OsString::from("..")),
            Component::CurDir | Component::RootDir => {}
            Component::Prefix(_) => return Err(Errno::EINVAL),
        }
    }
    todo[at..].reverse();
    Ok(())
}

/// A name looked up in a directory without opening what it names: an O_PATH fd of it (no
/// driver open, no FIFO wait, no symlink followed) and its stat, read from that fd.
#[derive(Debug)]
pub struct Node {
    fd: OwnedFd,
    stat: FileStat,
}

/// Look `name` up in `dir` with O_PATH|O_NOFOLLOW ("." or ".." name `dir` itself or its
/// parent, as openat does). ENOENT when there is no such name.
pub fn lookup(dir: BorrowedFd<'_>, name: &OsStr) -> nix::Result<Node> {
    let fd = fresh(openat(
        Some(dir.as_raw_fd()),
        name,
        OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?);
    Node::from_fd(fd)
}

impl Node {
    /// The node an fd (typically O_PATH, e.g. from [`open_in_root`]) holds.
    pub fn from_fd(fd: OwnedFd) -> nix::Result<Node> {
        let stat = nix::sys::stat::fstat(fd.as_raw_fd())?;
        Ok(Node { fd, stat })
    }

    pub fn stat(&self) -> &FileStat {
        &self.stat
    }

    /// The file type bits of its mode (libc::S_IFREG, S_IFDIR, S_IFLNK, ...).
    pub fn kind(&self) -> libc::mode_t {
        self.stat.st_mode & libc::S_IFMT
    }

    /// The target of a symlink (ENOENT for anything else, as readlinkat(2) says).
    pub fn read_link(&self) -> nix::Result<OsString> {
        nix::fcntl::readlinkat(Some(self.fd.as_raw_fd()), "")
    }

    /// Its O_PATH fd, borrowed.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Its O_PATH fd (a directory's serves as the `dir` of further lookups).
    pub fn into_fd(self) -> OwnedFd {
        self.fd
    }

    /// Open the very inode this node holds for `flags` (O_CLOEXEC is added), never by a
    /// second lookup of its name: through `fds`, an fd of the directory /proc/self/fd
    /// opened where the host's /proc is mounted (a process that has entered a container's
    /// mount namespace sees the container's /proc, which the container can fake), or
    /// through the path /proc/self/fd when `fds` is None. Check its type first: opening a
    /// device or FIFO this way opens it as any open would. ESTALE if what was opened is not
    /// the same inode (it cannot be, but the check is cheap).
    pub fn reopen(&self, fds: Option<BorrowedFd<'_>>, flags: OFlag) -> nix::Result<OwnedFd> {
        let flags = flags | OFlag::O_CLOEXEC;
        let fd = fresh(match fds {
            Some(d) => openat(
                Some(d.as_raw_fd()),
                self.fd.as_raw_fd().to_string().as_str(),
                flags,
                Mode::empty(),
            )?,
            None => nix::fcntl::open(
                format!("/proc/self/fd/{}", self.fd.as_raw_fd()).as_str(),
                flags,
                Mode::empty(),
            )?,
        });
        let again = nix::sys::stat::fstat(fd.as_raw_fd())?;
        let key = |s: &FileStat| (s.st_dev, s.st_ino, s.st_mode & libc::S_IFMT);
        if key(&again) != key(&self.stat) {
            return Err(Errno::ESTALE);
        }
        Ok(fd)
    }
}

/// A regular file below `root` (symlinks followed inside it), opened O_RDONLY without
/// opening anything else: a FIFO, device or socket at `rel` is refused (EINVAL) before it
/// is opened. The caller's /proc/self/fd must be the host's.
pub fn open_regular_in_root(root: BorrowedFd<'_>, rel: &Path) -> nix::Result<std::fs::File> {
    let node = Node::from_fd(open_in_root(root, rel, libc::O_PATH, 0)?)?;
    if node.kind() != libc::S_IFREG {
        return Err(Errno::EINVAL);
    }
    node.reopen(None, OFlag::O_RDONLY | OFlag::O_NOCTTY)
        .map(std::fs::File::from)
}

/// Is the directory `dir` the host's root directory (the same inode as this process's
/// "/", also when reached through a symlink or a bind mount)? A container whose rootfs is
/// the host's root has no root of its own: `start` fails on it (pivot_root: busy), and
/// `file push/pull` refuse it, so nothing is written to the host's own files.
pub fn is_host_root(dir: BorrowedFd<'_>) -> nix::Result<bool> {
    let d = nix::sys::stat::fstat(dir.as_raw_fd())?;
    let r = nix::sys::stat::stat("/")?;
    Ok(d.st_dev == r.st_dev && d.st_ino == r.st_ino)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::unix::fs::MetadataExt;

    fn dir_fd(p: &Path) -> OwnedFd {
        std::fs::File::open(p).unwrap().into()
    }

    fn ino(fd: &OwnedFd) -> u64 {
        nix::sys::stat::fstat(fd.as_raw_fd()).unwrap().st_ino
    }

    fn ino_of(p: &Path) -> u64 {
        std::fs::symlink_metadata(p).unwrap().ino()
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
        std::os::unix::fs::symlink("/", r.join("slash")).unwrap();
        let root = dir_fd(r);
        let res = |p: &str, follow: bool| {
            resolve_in_root(root.as_fd(), Path::new(p), follow, AboveRoot::Refuse)
        };
        let (d, last) = res("/abs/hosts", true).unwrap();
        assert_eq!(last.unwrap(), "hosts");
        // the parent is the container's /etc, not the host's
        assert_eq!(ino(&d), ino_of(&r.join("etc")));
        let (d, last) = res("/etc/rel/new", true).unwrap();
        assert_eq!(last.unwrap(), "new");
        assert_eq!(ino(&d), ino_of(&r.join("etc/sub")));
        // a link to "/" is the container's root
        let (d, last) = res("/slash", true).unwrap();
        assert!(last.is_none());
        assert_eq!(ino(&d), ino_of(r));
        assert!(!is_host_root(d.as_fd()).unwrap());
        // not following the last component: the link itself
        let (_, last) = res("/slash", false).unwrap();
        assert_eq!(last.unwrap(), "slash");
        // ".." pops back where the walk came from
        let (d, last) = res("/etc/sub/..", false).unwrap();
        assert!(last.is_none());
        assert_eq!(ino(&d), ino_of(&r.join("etc")));
        assert_eq!(res("/../etc/hosts", true).unwrap_err(), Errno::EXDEV);
        assert_eq!(res("/etc/up/etc/passwd", true).unwrap_err(), Errno::EXDEV);
        assert_eq!(res("/etc/hosts/x", true).unwrap_err(), Errno::ENOTDIR);
        assert_eq!(res("/nodir/x", true).unwrap_err(), Errno::ENOENT);
        std::os::unix::fs::symlink("loop", r.join("loop")).unwrap();
        assert_eq!(res("/loop/x", true).unwrap_err(), Errno::ELOOP);
        // a last component that is a loop is still followed when asked
        assert_eq!(res("/loop", true).unwrap_err(), Errno::ELOOP);
        assert_eq!(res("/loop", false).unwrap().1.unwrap(), "loop");
    }

    #[test]
    fn clamping_keeps_dotdot_at_the_root() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        std::fs::create_dir_all(r.join("etc")).unwrap();
        std::os::unix::fs::symlink("../../../../..", r.join("etc/up")).unwrap();
        let root = dir_fd(r);
        let res =
            |p: &str| resolve_in_root(root.as_fd(), Path::new(p), true, AboveRoot::Clamp).unwrap();
        for p in ["/../etc/passwd", "/etc/up/etc/passwd", "../../etc/passwd"] {
            let (d, last) = res(p);
            assert_eq!(ino(&d), ino_of(&r.join("etc")), "{p}");
            assert_eq!(last.unwrap(), "passwd", "{p}");
        }
        let (d, last) = res("/etc/up");
        assert!(last.is_none());
        assert_eq!(ino(&d), ino_of(r));
    }

    /// The user-space walk and openat2 RESOLVE_IN_ROOT give the same answer: the same
    /// inode, or the same error.
    #[test]
    fn the_walk_agrees_with_openat2() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        std::fs::create_dir_all(r.join("etc/sub/deep")).unwrap();
        std::fs::create_dir_all(r.join("var/tmp")).unwrap();
        std::fs::write(r.join("etc/hosts"), "x").unwrap();
        std::fs::write(r.join("etc/sub/deep/f"), "y").unwrap();
        nix::unistd::mkfifo(&r.join("var/fifo"), Mode::from_bits_truncate(0o644)).unwrap();
        let ln =
            |target: &str, link: &str| std::os::unix::fs::symlink(target, r.join(link)).unwrap();
        ln("/etc", "abs");
        ln("../../../../..", "etc/up");
        ln("sub/deep", "etc/rel");
        ln("/", "slash");
        ln("/etc/hosts", "var/hosts");
        ln("/nowhere/x", "var/dangling_dir");
        ln("/var/tmp/new", "var/dangling");
        ln("loop2", "loop1");
        ln("loop1", "loop2");
        ln("../etc/sub/deep/../..", "var/back");
        ln("hosts", "etc/hosts_rel");
        let root = dir_fd(r);
        if let Err(Errno::ENOSYS) =
            sys::openat2_in_root(root.as_fd(), Path::new("."), libc::O_PATH, 0)
        {
            eprintln!("no openat2 here: nothing to compare");
            return;
        }
        let paths = [
            ".",
            "/",
            "etc",
            "etc/",
            "/etc/hosts",
            "etc/hosts/",
            "etc/hosts/x",
            "abs/hosts",
            "abs/sub/deep/f",
            "etc/rel/f",
            "etc/rel/../deep/f",
            "etc/up",
            "etc/up/etc/hosts",
            "../../etc/hosts",
            "etc/../../../abs",
            "slash/slash/etc",
            "var/hosts",
            "var/hosts/",
            "abs/",
            "slash/",
            "var/back/hosts",
            "var/back/../../..",
            "var/dangling",
            "var/dangling_dir",
            "var/fifo",
            "loop1",
            "loop1/x",
            "nothing",
            "nothing/x",
            "etc/hosts_rel",
        ];
        let flag_sets = [
            libc::O_PATH,
            libc::O_PATH | libc::O_NOFOLLOW,
            libc::O_PATH | libc::O_DIRECTORY,
            libc::O_RDONLY | libc::O_NONBLOCK,
            libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK,
        ];
        let key = |r: nix::Result<OwnedFd>| {
            r.map(|fd| {
                let st = nix::sys::stat::fstat(fd.as_raw_fd()).unwrap();
                (st.st_dev, st.st_ino)
            })
        };
        for p in paths {
            for flags in flag_sets {
                let kernel = key(sys::openat2_in_root(
                    root.as_fd(),
                    Path::new(p),
                    flags | libc::O_CLOEXEC,
                    0,
                ));
                let walk = key(open_by_walk(root.as_fd(), Path::new(p), flags, 0));
                assert_eq!(walk, kernel, "{p} with flags {flags:#o}");
            }
        }
    }

    /// A tree for the creation tests: links to missing files inside and above the root.
    fn creation_tree(r: &Path) {
        std::fs::create_dir_all(r.join("var/tmp")).unwrap();
        std::fs::write(r.join("var/old"), "x").unwrap();
        let ln =
            |target: &str, link: &str| std::os::unix::fs::symlink(target, r.join(link)).unwrap();
        ln("/var/tmp/made", "dangling");
        ln("../../../var/tmp/up", "var/above");
        ln("/var/old", "old");
        ln("tmp", "var/dir");
    }

    /// Every file below `r` with its kind: what a creation left behind.
    fn listing(r: &Path) -> Vec<(String, bool)> {
        let mut out = Vec::new();
        let mut todo = vec![r.to_path_buf()];
        while let Some(d) = todo.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                let m = std::fs::symlink_metadata(&p).unwrap();
                if m.is_dir() {
                    todo.push(p.clone());
                }
                let rel = p.strip_prefix(r).unwrap().display().to_string();
                out.push((rel, m.file_type().is_symlink()));
            }
        }
        out.sort();
        out
    }

    /// Creating through the walk makes what openat2 makes, in the same place, or fails
    /// the same way.
    #[test]
    fn the_walk_creates_what_openat2_creates() {
        let t = tempfile::tempdir().unwrap();
        let (k, w) = (t.path().join("k"), t.path().join("w"));
        std::fs::create_dir(&k).unwrap();
        if let Err(Errno::ENOSYS) =
            sys::openat2_in_root(dir_fd(&k).as_fd(), Path::new("."), libc::O_PATH, 0)
        {
            eprintln!("no openat2 here: nothing to compare");
            return;
        }
        let create = libc::O_WRONLY | libc::O_CREAT;
        for p in [
            "new",
            "/var/tmp/new",
            "dangling",
            "var/above",
            "old",
            "var/dir/new",
            "var/dir/",
            "../../var/new",
            "nodir/new",
            "nodir/new/",
            "old/",
            "/",
        ] {
            for flags in [
                create,
                create | libc::O_EXCL,
                create | libc::O_NOFOLLOW,
                create | libc::O_TRUNC,
            ] {
                for d in [&k, &w] {
                    let _ = std::fs::remove_dir_all(d);
                    std::fs::create_dir(d).unwrap();
                    creation_tree(d);
                }
                let kernel = sys::openat2_in_root(
                    dir_fd(&k).as_fd(),
                    Path::new(p),
                    flags | libc::O_CLOEXEC,
                    0o640,
                )
                .map(|_| ());
                let walk = open_by_walk(dir_fd(&w).as_fd(), Path::new(p), flags, 0o640).map(|_| ());
                assert_eq!(walk, kernel, "{p} with flags {flags:#o}");
                assert_eq!(listing(&w), listing(&k), "{p} with flags {flags:#o}");
            }
        }
    }

    #[test]
    fn the_walk_creates_where_openat2_would() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        std::fs::create_dir_all(r.join("var/tmp")).unwrap();
        std::os::unix::fs::symlink("/var/tmp/made", r.join("dangling")).unwrap();
        let root = dir_fd(r);
        let create = libc::O_WRONLY | libc::O_CREAT;
        // a dangling absolute link: its target is made inside the root
        open_by_walk(root.as_fd(), Path::new("/dangling"), create, 0o600).unwrap();
        let m = std::fs::metadata(r.join("var/tmp/made")).unwrap();
        assert!(m.is_file());
        assert_eq!(m.mode() & 0o777, 0o600);
        // with O_NOFOLLOW the link itself is not followed
        assert_eq!(
            open_by_walk(
                root.as_fd(),
                Path::new("/dangling"),
                create | libc::O_NOFOLLOW,
                0o600
            )
            .unwrap_err(),
            Errno::ELOOP
        );
        open_by_walk(root.as_fd(), Path::new("../../new"), create, 0o644).unwrap();
        assert!(r.join("new").is_file());
        assert_eq!(
            open_by_walk(root.as_fd(), Path::new(""), libc::O_PATH, 0).unwrap_err(),
            Errno::ENOENT
        );
    }

    #[test]
    fn lookup_never_opens_what_it_finds() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        std::fs::write(d.join("file"), "content").unwrap();
        std::fs::create_dir(d.join("dir")).unwrap();
        nix::unistd::mkfifo(&d.join("fifo"), Mode::from_bits_truncate(0o644)).unwrap();
        std::os::unix::fs::symlink("file", d.join("link")).unwrap();
        let dir = dir_fd(d);
        let at = |n: &str| lookup(dir.as_fd(), OsStr::new(n));
        // a FIFO without a writer: looked up at once (a blocking open would hang here)
        assert_eq!(at("fifo").unwrap().kind(), libc::S_IFIFO);
        let l = at("link").unwrap();
        assert_eq!(l.kind(), libc::S_IFLNK);
        assert_eq!(l.read_link().unwrap(), "file");
        assert_eq!(at("dir").unwrap().kind(), libc::S_IFDIR);
        assert_eq!(at("missing").unwrap_err(), Errno::ENOENT);
        let f = at("file").unwrap();
        assert_eq!(f.kind(), libc::S_IFREG);
        assert_eq!(f.read_link().unwrap_err(), Errno::ENOENT);
        // reopened as the inode it holds, through /proc/self/fd or a dir fd of it
        let fds = fresh(
            nix::fcntl::open(
                "/proc/self/fd",
                OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .unwrap(),
        );
        for via in [None, Some(fds.as_fd())] {
            let mut s = String::new();
            std::fs::File::from(f.reopen(via, OFlag::O_RDONLY).unwrap())
                .read_to_string(&mut s)
                .unwrap();
            assert_eq!(s, "content");
        }
        // the name now stands for something else: the node still is the old file
        std::fs::remove_file(d.join("file")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", d.join("file")).unwrap();
        let mut s = String::new();
        std::fs::File::from(f.reopen(None, OFlag::O_RDONLY).unwrap())
            .read_to_string(&mut s)
            .unwrap();
        assert_eq!(s, "content");
        let sub = at("dir").unwrap();
        let fd = sub
            .reopen(None, OFlag::O_RDONLY | OFlag::O_DIRECTORY)
            .unwrap();
        assert_eq!(ino(&fd), ino_of(&d.join("dir")));
        assert_eq!(ino(&sub.into_fd()), ino_of(&d.join("dir")));
    }

    #[test]
    fn only_a_regular_file_is_opened_for_reading() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        std::fs::create_dir_all(r.join("etc")).unwrap();
        std::fs::write(r.join("etc/passwd"), "root:x:0:0::/root:/bin/sh\n").unwrap();
        nix::unistd::mkfifo(&r.join("etc/fifo"), Mode::from_bits_truncate(0o644)).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", r.join("link")).unwrap();
        let root = dir_fd(r);
        let mut s = String::new();
        open_regular_in_root(root.as_fd(), Path::new("link"))
            .unwrap()
            .read_to_string(&mut s)
            .unwrap();
        assert!(s.starts_with("root:x:0:0"));
        // returns at once: the FIFO is never opened
        assert_eq!(
            open_regular_in_root(root.as_fd(), Path::new("etc/fifo")).unwrap_err(),
            Errno::EINVAL
        );
        assert_eq!(
            open_regular_in_root(root.as_fd(), Path::new("etc")).unwrap_err(),
            Errno::EINVAL
        );
    }

    #[test]
    fn the_host_root_is_recognised_through_a_symlink() {
        let t = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/", t.path().join("root")).unwrap();
        assert!(is_host_root(dir_fd(&t.path().join("root")).as_fd()).unwrap());
        assert!(!is_host_root(dir_fd(t.path()).as_fd()).unwrap());
    }
}
