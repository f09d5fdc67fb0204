//! Small filesystem helpers with cgroupfs semantics.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout};

pub(crate) fn errno(e: &io::Error) -> Option<Errno> {
    e.raw_os_error().map(Errno::from_raw)
}

/// Write `value` with a single write(2): cgroupfs parses each write as one command.
/// The file is never created (a missing cgroup file is ENOENT, not a new regular file).
pub(crate) fn write_file(path: &Path, value: &str) -> io::Result<()> {
    let mut f = OpenOptions::new().write(true).open(path)?;
    let n = f.write(value.as_bytes())?;
    if n != value.len() {
        return Err(io::Error::new(
            io::ErrorKind::WriteZero,
            format!("short write ({n} of {} bytes)", value.len()),
        ));
    }
    Ok(())
}

pub(crate) fn read_file(path: &Path) -> io::Result<String> {
    fs::read_to_string(path)
}

pub(crate) fn read_u64(path: &Path) -> Option<u64> {
    read_file(path).ok()?.trim().parse().ok()
}

/// Value of `key` in a flat-keyed file ("key value" per line: cgroup.events, cpu.stat, memory.stat).
pub(crate) fn flat_key<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines().find_map(|l| {
        let mut it = l.split_whitespace();
        (it.next()? == key).then(|| it.next()).flatten()
    })
}

fn parse_pids(text: &str) -> Vec<i32> {
    text.split_whitespace()
        .filter_map(|s| s.parse().ok())
        .collect()
}

/// The child cgroup directories of `dir` (ENOENT → none).
pub(crate) fn subdirs(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for ent in rd {
        let ent = match ent {
            Ok(ent) => ent,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        if ent.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            out.push(ent.path());
        }
    }
    Ok(out)
}

/// Append every pid of `dir`/cgroup.procs and of all cgroups below it. A cgroup that
/// vanishes while walking counts as empty.
pub(crate) fn procs_recursive(dir: &Path, out: &mut Vec<i32>) -> Result<(), (PathBuf, io::Error)> {
    let f = dir.join("cgroup.procs");
    match read_file(&f) {
        Ok(t) => out.extend(parse_pids(&t)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err((f, e)),
    }
    for sub in subdirs(dir).map_err(|e| (dir.to_path_buf(), e))? {
        procs_recursive(&sub, out)?;
    }
    Ok(())
}

/// rmdir, retrying EBUSY (v1 releases a cgroup shortly after its last task exits) until
/// `deadline`. A missing directory is success.
pub(crate) fn rmdir_retry(path: &Path, deadline: Instant) -> io::Result<()> {
    let mut delay = Duration::from_millis(1);
    loop {
        match fs::remove_dir(path) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if errno(&e) == Some(Errno::EBUSY) && Instant::now() < deadline => {
                std::thread::sleep(delay);
                delay = (delay * 2).min(Duration::from_millis(20));
            }
            Err(e) => return Err(e),
        }
    }
}

/// Remove `dir` and every cgroup below it, deepest first.
pub(crate) fn remove_tree(dir: &Path, deadline: Instant) -> Result<(), (PathBuf, io::Error)> {
    // The common case, a cgroup without children: one rmdir, no directory listing.
    match fs::remove_dir(dir) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(_) => {}
    }
    for sub in subdirs(dir).map_err(|e| (dir.to_path_buf(), e))? {
        remove_tree(&sub, deadline)?;
    }
    rmdir_retry(dir, deadline).map_err(|e| (dir.to_path_buf(), e))
}

/// Wait until `dir`/cgroup.events shows `key value`, sleeping in poll(2) on POLLPRI (the
/// kernel's change notification for that file) — not a busy loop. Returns Ok(false) at
/// the deadline.
pub(crate) fn wait_event(
    dir: &Path,
    key: &str,
    value: &str,
    deadline: Instant,
) -> io::Result<bool> {
    let mut f = File::open(dir.join("cgroup.events"))?;
    let mut buf = String::with_capacity(64);
    loop {
        // Reading re-arms the notification; a change after this read wakes the poll.
        buf.clear();
        f.seek(SeekFrom::Start(0))?;
        f.read_to_string(&mut buf)?;
        if flat_key(&buf, key) == Some(value) {
            return Ok(true);
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(false);
        }
        let ms = (deadline - now).as_millis().clamp(1, i32::MAX as u128) as i32;
        let timeout = PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX);
        let mut fds = [PollFd::new(f.as_fd(), PollFlags::POLLPRI)];
        match nix::poll::poll(&mut fds, timeout) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}
