//! `hako file push/pull`: copy files into and out of a container, running or stopped.
//!
//! The work happens in a child process that sees the container's filesystem as the
//! container does: for a running container it joins the container's mount namespace
//! (so mounts inside the container — tmpfs on /tmp, binds — are honoured and no freeze is
//! needed); for a stopped one it mounts the rootfs (overlay layers included) in a private
//! mount namespace. Paths are resolved by the runtime's one in-container resolver
//! ([`hako_runtime::inroot`]), one component at a time below the container's root: symlinks
//! are followed as the container would follow them (an absolute target starts at the
//! container's root), and anything that would climb above the root is refused. Files are
//! written to a temporary name in the target directory and renamed into place, so a reader
//! never sees half a file.
//!
//! Everything in the container is hostile input: its root may swap a file for a symlink, a
//! FIFO or a device node at any moment. So a container file is only ever opened by name with
//! O_PATH|O_NOFOLLOW ([`hako_runtime::inroot::lookup`]: no device, FIFO or symlink is
//! opened); its type is read with fstat on that fd, and only a regular file or a directory
//! is then re-opened for reading, as the very inode the O_PATH fd holds (through the host's
//! /proc/self/fd, with O_NONBLOCK|O_NOCTTY), never by a second lookup of the name. A FIFO,
//! device or socket is refused by name (or skipped with a warning in a recursive copy); a
//! pull can neither hang on a FIFO nor read a device.
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

/// the helper process that sees the container's filesystem
mod helper;
/// `hako file pull`
mod pull;
/// `hako file push`
mod push;
/// the source side of a copy, and recursive copies
mod tree;
/// temporary files, renamed into place; clean-up after killed transfers
mod write;

use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::path::Path;

use nix::errno::Errno;

use crate::{Container, Error, Result};

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

fn fresh_fd(fd: RawFd) -> OwnedFd {
    // SAFETY: `fd` was just returned by a successful open call and is owned by nobody else.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Split "NAME:/path".
pub fn split_remote(s: &str) -> Option<(&str, &str)> {
    let (n, p) = s.split_once(':')?;
    (!n.is_empty() && p.starts_with('/')).then_some((n, p))
}

/// The path inside the container must be absolute.
fn check_remote(remote: &str) -> Result<()> {
    if remote.starts_with('/') {
        Ok(())
    } else {
        Err(Error::other(format!("invalid path \"{remote}\" inside the container: it must be absolute, e.g. NAME:/root/file")))
    }
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

/// An open that failed on an O_NOFOLLOW: ELOOP means a symlink stands there now.
fn changed_msg(e: Errno) -> String {
    match e {
        Errno::ELOOP => {
            "it is a symlink (it was replaced while hako worked on it); try again".into()
        }
        e => errno_msg(e),
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

impl Container {
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

/// What the tests of the parts share.
#[cfg(test)]
mod testing {
    use std::fs::File;
    use std::os::fd::OwnedFd;
    use std::path::Path;

    use nix::fcntl::OFlag;
    use nix::sys::stat::Mode;

    pub fn dirfd(p: &Path) -> OwnedFd {
        File::open(p).unwrap().into()
    }

    pub fn proc_fds() -> OwnedFd {
        super::fresh_fd(
            nix::fcntl::open(
                "/proc/self/fd",
                OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .unwrap(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_spec() {
        assert_eq!(split_remote("web:/etc/hosts"), Some(("web", "/etc/hosts")));
        assert_eq!(split_remote("web:etc"), None);
        assert_eq!(split_remote(":/x"), None);
        assert_eq!(split_remote("/x"), None);
    }
}
