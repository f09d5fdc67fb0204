//! Per-container locks: an exclusive `flock` on a small file that holds the holder's pid.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use std::os::unix::io::AsRawFd;

use crate::StoreError;

/// An exclusive lock on one container. Unlocked when dropped by the process that took it.
///
/// The lock belongs to the process that took it: a child forked while it is held inherits
/// the descriptor (not across exec: it is close-on-exec), and when the child drops its copy
/// nothing happens to the lock; when the taker drops it, it is released even if a forked
/// child still has the descriptor open.
#[derive(Debug)]
pub struct Lock {
    file: File,
    path: PathBuf,
    name: String,
    owner: u32,
    /// when set and this directory does not exist at unlock time (no such container, or
    /// it was destroyed), the lock file is removed too, so locks leave nothing behind
    container_dir: Option<PathBuf>,
}

impl Lock {
    /// The container this lock is for.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Remove the lock file at unlock time if `dir` does not exist then.
    pub(crate) fn remove_unless_exists(mut self, dir: PathBuf) -> Lock {
        self.container_dir = Some(dir);
        self
    }

    /// Takes the lock on `path`, waiting up to `timeout`. The lock file is created if needed
    /// (its parent directory must exist). If the file is unlinked (by `destroy`) between our
    /// open and our flock, we hold a lock nobody else can see: detect that by comparing the
    /// inode of our descriptor with the one at the path, and start over.
    pub(crate) fn acquire(path: &Path, name: &str, timeout: Duration) -> Result<Lock, StoreError> {
        let deadline = Instant::now() + timeout;
        let mut pause = Duration::from_millis(2);
        loop {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o644)
                .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
                .open(path)
                .map_err(|e| {
                    StoreError::io(
                        format!("open the lock file of container \"{name}\""),
                        path,
                        e,
                        "check that /run is writable",
                    )
                })?;
            match flock(&file, libc::LOCK_EX | libc::LOCK_NB) {
                Ok(()) => {
                    let mut locked = file;
                    if !same_inode(&locked, path) {
                        // unlinked (or replaced) under us: retry on the new file
                        continue;
                    }
                    let pid = std::process::id();
                    let written = locked
                        .set_len(0)
                        .and_then(|_| locked.seek(SeekFrom::Start(0)))
                        .and_then(|_| locked.write_all(format!("{pid}\n").as_bytes()));
                    if let Err(e) = written {
                        return Err(StoreError::io(
                            format!("write the lock file of container \"{name}\""),
                            path,
                            e,
                            "check that /run is writable",
                        ));
                    }
                    return Ok(Lock {
                        file: locked,
                        path: path.to_path_buf(),
                        name: name.to_string(),
                        owner: pid,
                        container_dir: None,
                    });
                }
                Err(Errno::EWOULDBLOCK) => {
                    let mut file = file;
                    let now = Instant::now();
                    if now >= deadline {
                        return Err(StoreError::Locked {
                            name: name.to_string(),
                            pid: read_pid(&mut file),
                        });
                    }
                    std::thread::sleep(pause.min(deadline - now));
                    pause = (pause * 2).min(Duration::from_millis(50));
                }
                Err(errno) => {
                    return Err(StoreError::io(
                        format!("lock container \"{name}\""),
                        path,
                        std::io::Error::from(errno),
                        "check that the lock directory is on a local filesystem",
                    ))
                }
            }
        }
    }
}

/// Whether a hako command holds the lock at `path` now: Some(its pid, when the lock file
/// names it), None when nobody does (or there is no lock file). Takes the lock for an
/// instant when it is free; never creates the file. A lock whose taker is dead does not
/// count: what still holds it is a child that inherited the descriptor and dies with its
/// parent (PR_SET_PDEATHSIG), a moment after a kill -9.
pub(crate) fn holder(path: &Path) -> Option<Option<u32>> {
    let mut file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .ok()?;
    match flock(&file, libc::LOCK_SH | libc::LOCK_NB) {
        Ok(()) => {
            let _ = flock(&file, libc::LOCK_UN);
            None
        }
        Err(Errno::EWOULDBLOCK) => match read_pid(&mut file) {
            Some(pid) if !alive(pid) => None,
            pid => Some(pid),
        },
        Err(_) => None,
    }
}

/// Does process `pid` exist (a zombie counts as gone)?
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !matches!(
            s.rsplit_once(')')
                .and_then(|(_, r)| r.trim_start().chars().next()),
            Some('Z') | Some('X')
        ),
        Err(_) => false,
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        if std::process::id() != self.owner {
            // an inherited copy in a forked child: only our descriptor closes
            return;
        }
        // Forget the pid before unlocking, so a stale pid is never reported.
        let _ = self.file.set_len(0);
        // No container (any more): remove the file while we still hold the lock; a waiter
        // notices the unlinked inode and starts over.
        if let Some(d) = &self.container_dir {
            if std::fs::symlink_metadata(d).is_err() {
                let _ = std::fs::remove_file(&self.path);
                // and the per-lxcpath lock directory when that was its last lock file (a
                // concurrent `lock` that finds it gone makes it again: Store::lock)
                if let Some(parent) = self.path.parent() {
                    let _ = std::fs::remove_dir(parent);
                }
            }
        }
        let _ = flock(&self.file, libc::LOCK_UN);
    }
}

/// flock(2) on an open file.
fn flock(f: &File, op: libc::c_int) -> Result<(), Errno> {
    // SAFETY: flock only reads the descriptor number, which `f` keeps open for the call.
    let r = unsafe { libc::flock(f.as_raw_fd(), op) };
    Errno::result(r).map(drop)
}

fn same_inode(f: &File, path: &Path) -> bool {
    match (f.metadata(), std::fs::symlink_metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

fn read_pid(f: &mut File) -> Option<u32> {
    let mut s = String::new();
    f.seek(SeekFrom::Start(0)).ok()?;
    f.take(32).read_to_string(&mut s).ok()?;
    s.trim().parse().ok()
}
