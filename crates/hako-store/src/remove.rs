//! Removing a container directory safely: never follow a symlink out of it, never cross
//! into a mount below it.

use std::ffi::{CString, OsStr};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use nix::dir::Dir;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{fstatat, Mode, SFlag};
use nix::unistd::{unlinkat, UnlinkatFlags};

use crate::StoreError;

/// Mount points (in our mount namespace) at or below `dir`, from /proc/self/mountinfo.
/// `dir` should be canonical (mountinfo shows resolved paths).
pub(crate) fn mounts_below(dir: &Path) -> Result<Vec<PathBuf>, StoreError> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").map_err(|e| {
        StoreError::io(
            "read the mount table",
            "/proc/self/mountinfo",
            e,
            "mount /proc",
        )
    })?;
    Ok(parse_mounts_below(&text, dir))
}

pub(crate) fn parse_mounts_below(mountinfo: &str, dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for line in mountinfo.lines() {
        // id parent major:minor root mountpoint options ...
        let Some(mp) = line.split(' ').nth(4) else {
            continue;
        };
        let mp = PathBuf::from(OsStr::from_bytes(&unescape_octal(mp)));
        if mp.starts_with(dir) {
            out.push(mp);
        }
    }
    out.sort();
    out.dedup();
    out
}

/// mountinfo escapes space, tab, newline and backslash as \ooo.
fn unescape_octal(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

/// Errors if anything is mounted at or below `path` (in our mount namespace).
pub(crate) fn check_no_mounts(path: &Path, op: &str) -> Result<(), StoreError> {
    let canonical = match std::fs::canonicalize(path) {
        Ok(c) => c,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(StoreError::io(op, path, e, "check the path")),
    };
    match mounts_below(&canonical)?.into_iter().next() {
        Some(m) => Err(StoreError::Mounted {
            op: op.to_string(),
            dir: path.to_path_buf(),
            mount: m,
        }),
        None => Ok(()),
    }
}

/// Removes `path` and everything below it. Symlinks are removed, never followed; a
/// directory on another device than `path` (a mount or a nested filesystem) stops the
/// removal with an error naming it. Refuses up front if our mount table shows anything
/// mounted at or below `path`. `op` words the error ("destroy container \"web\"").
/// A missing `path` is not an error.
pub(crate) fn remove_tree(path: &Path, op: &str) -> Result<(), StoreError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(StoreError::io(op, path, e, "check the path")),
    };
    if !meta.is_dir() {
        return std::fs::remove_file(path)
            .map_err(|e| StoreError::io(op, path, e, "remove it by hand"));
    }
    remove_contents(path, None, op)?;
    std::fs::remove_dir(path).map_err(|e| StoreError::io(op, path, e, "remove it by hand"))
}

/// Removes everything below the directory `path` except the entry named `keep` (the
/// marker that says the directory is half-removed, which must go last), with the care of
/// [`remove_tree`].
pub(crate) fn remove_contents(
    path: &Path,
    keep: Option<&OsStr>,
    op: &str,
) -> Result<(), StoreError> {
    check_no_mounts(path, op)?;
    let dir = Dir::open(
        path,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| StoreError::io(op, path, e.into(), "check the path"))?;
    let dev = nix::sys::stat::fstat(dir.as_raw_fd())
        .map_err(|e| StoreError::io(op, path, e.into(), "check the path"))?
        .st_dev;
    empty_dir(dir, path, dev, keep, op)
}

/// Empties the open directory `dir` (shown as `shown` in errors), staying on device `dev`,
/// leaving the entry `keep` (at this level only).
fn empty_dir(
    mut dir: Dir,
    shown: &Path,
    dev: u64,
    keep: Option<&OsStr>,
    op: &str,
) -> Result<(), StoreError> {
    // Collect first: unlinking while reading a directory stream may skip entries.
    let mut names: Vec<CString> = Vec::new();
    for ent in dir.iter() {
        let ent = ent.map_err(|e| StoreError::io(op, shown, e.into(), "check the filesystem"))?;
        let n = ent.file_name();
        if n.to_bytes() == b"." || n.to_bytes() == b".." {
            continue;
        }
        if keep.is_some_and(|k| k.as_bytes() == n.to_bytes()) {
            continue;
        }
        names.push(n.to_owned());
    }
    let fd = dir.as_raw_fd();
    for name in names {
        let child = shown.join(OsStr::from_bytes(name.to_bytes()));
        let st = match fstatat(Some(fd), name.as_c_str(), AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(nix::errno::Errno::ENOENT) => continue,
            Err(e) => return Err(StoreError::io(op, &child, e.into(), "check the filesystem")),
        };
        let is_dir = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR;
        if is_dir {
            if st.st_dev != dev {
                return Err(StoreError::other(format!(
                    "cannot {op}: \"{}\" is on another filesystem (a mount or a btrfs subvolume); unmount or remove it by hand and retry",
                    child.display()
                )));
            }
            let sub = Dir::openat(
                Some(fd),
                name.as_c_str(),
                OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| StoreError::io(op, &child, e.into(), "check the filesystem"))?;
            empty_dir(sub, &child, dev, None, op)?;
            unlinkat(Some(fd), name.as_c_str(), UnlinkatFlags::RemoveDir).map_err(|e| {
                StoreError::io(
                    op,
                    &child,
                    e.into(),
                    "remove it by hand (is it immutable? lsattr)",
                )
            })?;
        } else {
            match unlinkat(Some(fd), name.as_c_str(), UnlinkatFlags::NoRemoveDir) {
                Ok(()) | Err(nix::errno::Errno::ENOENT) => {}
                Err(e) => {
                    return Err(StoreError::io(
                        op,
                        &child,
                        e.into(),
                        "remove it by hand (is it immutable? lsattr)",
                    ))
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn mountinfo_parsing_and_prefix_match() {
        let mi = "\
22 1 8:1 / / rw - ext4 /dev/sda1 rw
30 22 0:5 / /var/lib/hako/web/rootfs/proc rw - proc proc rw
31 22 0:6 / /var/lib/hako/web2/rootfs rw - tmpfs t rw
32 22 0:7 / /var/lib/hako/my\\040box/rootfs rw - tmpfs t rw
";
        assert_eq!(
            parse_mounts_below(mi, Path::new("/var/lib/hako/web")),
            vec![PathBuf::from("/var/lib/hako/web/rootfs/proc")]
        );
        assert_eq!(
            parse_mounts_below(mi, Path::new("/var/lib/hako/my box")),
            vec![PathBuf::from("/var/lib/hako/my box/rootfs")]
        );
        assert!(parse_mounts_below(mi, Path::new("/var/lib/hako/we")).is_empty());
    }

    #[test]
    fn removes_tree_without_following_symlinks() {
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("precious"), "keep").unwrap();
        let d = tempfile::tempdir().unwrap();
        let top = d.path().join("web");
        fs::create_dir_all(top.join("rootfs/etc/deep/er")).unwrap();
        fs::write(top.join("rootfs/etc/deep/er/f"), "x").unwrap();
        fs::write(top.join("config"), "x").unwrap();
        std::os::unix::fs::symlink(outside.path(), top.join("rootfs/escape")).unwrap();
        std::os::unix::fs::symlink(
            outside.path().join("precious"),
            top.join("rootfs/file-link"),
        )
        .unwrap();
        std::os::unix::fs::symlink("/", top.join("rootfs/etc/root")).unwrap();
        fs::create_dir(top.join("rootfs/empty")).unwrap();
        remove_tree(&top, "destroy container \"web\"").unwrap();
        assert!(!top.exists());
        assert_eq!(
            fs::read_to_string(outside.path().join("precious")).unwrap(),
            "keep"
        );
        // missing is fine
        remove_tree(&top, "destroy").unwrap();
    }

    #[test]
    fn contents_go_and_the_marker_stays() {
        let d = tempfile::tempdir().unwrap();
        let top = d.path().join("web");
        fs::create_dir_all(top.join("rootfs/etc")).unwrap();
        fs::write(top.join("config"), "x").unwrap();
        fs::write(top.join("partial"), "destroy\n").unwrap();
        // a "partial" deeper down is not the marker
        fs::write(top.join("rootfs/etc/partial"), "").unwrap();
        remove_contents(&top, Some(OsStr::new("partial")), "destroy").unwrap();
        let left: Vec<_> = fs::read_dir(&top)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, vec![std::ffi::OsString::from("partial")]);
    }

    #[test]
    fn a_symlinked_top_is_removed_not_followed() {
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("precious"), "keep").unwrap();
        let d = tempfile::tempdir().unwrap();
        let link = d.path().join("web");
        std::os::unix::fs::symlink(outside.path(), &link).unwrap();
        remove_tree(&link, "destroy").unwrap();
        assert!(fs::symlink_metadata(&link).is_err());
        assert!(outside.path().join("precious").exists());
    }
}
