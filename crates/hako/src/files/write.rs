//! Writing into a directory of the other side without a reader ever seeing half a file:
//! temporary names (`.NAME.hako-PID`), their clean-up after a killed transfer, and the
//! rename into place.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::PermissionsExt;

use nix::errno::Errno;
use nix::fcntl::{openat, OFlag};
use nix::sys::stat::Mode;

use super::{errno_msg, fresh_fd, ids, io_msg};

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
pub(super) fn clean_stale(dir: RawFd) {
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
pub(super) fn write_atomic(
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
pub(super) fn write_link(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::testing::dirfd;
    use std::os::unix::fs::FileTypeExt;
    use std::path::Path;

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
}
