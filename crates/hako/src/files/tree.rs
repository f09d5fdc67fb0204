//! The source side of a copy (a name opened without following or opening anything but a
//! regular file or a directory) and the recursive copy of a directory.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStringExt;
use std::path::Path;

use hako_runtime::inroot;
use nix::errno::Errno;
use nix::fcntl::{openat, OFlag};
use nix::sys::stat::{FileStat, Mode};

use super::write::{clean_stale, write_atomic, write_link};
use super::{errno_msg, fresh_fd, ids, kind_name};

/// A source entry, opened for copying without following or opening anything else.
#[derive(Debug)]
pub(super) enum Source {
    File(File),
    /// opened O_RDONLY|O_DIRECTORY
    Dir(OwnedFd),
    /// a symlink, with its target
    Link(OsString),
    /// a FIFO, device or socket: never opened
    Other,
}

/// Open `name` in `dir` (source side of a copy). The name is looked up O_PATH|O_NOFOLLOW
/// ([`inroot::lookup`]: no driver open, no FIFO wait, no symlink followed); its type
/// decides. A regular file or a directory is then opened for reading through `fds` (the
/// host's /proc/self/fd) as the inode already held ([`inroot::Node::reopen`]), so nothing
/// swapped in after the lookup can be read. Returns the source and its stat.
pub(super) fn open_source(
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

/// Ownership and modes of what a copy makes.
pub(super) struct CopyOpts {
    pub(super) uid: u32,
    pub(super) gid: u32,
    /// the mode of every file (None: each file's own)
    pub(super) mode: Option<u32>,
    /// the mode bits kept (files and directories)
    pub(super) mask: u32,
}

/// Copy the directory `src` (an fd opened for reading) as `name` inside `dst_dir`,
/// recursively; `label` is `src` as the user named it (for messages). A directory made here
/// gets uid/gid and, once filled, the source directory's mode (masked); one that exists
/// already is merged into and left as it is, but a symlink in its place is refused, not
/// followed. Regular files get uid/gid and `o.mode` (default: their own), masked; symlinks
/// are copied as links; FIFOs, devices and sockets are never opened and are skipped with a
/// warning, as are entries that vanish during the copy.
pub(super) fn copy_tree(
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
    use crate::files::testing::{dirfd, proc_fds};
    use crate::files::PULL_MODE_MASK;
    use std::io::Read;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

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
