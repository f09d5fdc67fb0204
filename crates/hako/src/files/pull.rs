//! `hako file pull`.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;

use super::helper::{in_container, resolve};
use super::tree::{copy_tree, open_source, CopyOpts, Source};
use super::write::{clean_stale, write_atomic};
use super::{
    changed_msg, check_remote, io_msg, kind_name, resolve_msg, PullOptions, PULL_MODE_MASK,
};
use crate::{Container, Error, Result};

impl Container {
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
}
