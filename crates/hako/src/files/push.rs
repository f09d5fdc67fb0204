//! `hako file push`.

use std::ffi::OsString;
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use hako_runtime::inroot;
use nix::errno::Errno;
use nix::fcntl::OFlag;

use super::helper::{in_container, resolve};
use super::tree::{copy_tree, CopyOpts};
use super::write::{clean_stale, write_atomic};
use super::{check_remote, errno_msg, io_msg, kind_name, resolve_msg, PushOptions};
use crate::{Container, Error, Result};

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
            // the owner given is the container's; on an idmapped rootfs it is the host id
            let (uid, gid) = inside.host_ids(copy.uid, copy.gid)?;
            let copy = CopyOpts { uid, gid, ..copy };
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
}
