//! File-level building blocks that keep the store consistent when a command is killed at
//! any instant or a write fails (ENOSPC, EIO): files are replaced through a temporary name
//! and a rename, never rewritten in place; a directory that is being made or removed
//! carries a `partial` marker from before its first change until after its last one.
//!
//! The states of a container's (or a snapshot's) directory, as [`classify`] reads them:
//! - a `partial` marker (whatever its content, even empty): half-made or half-removed;
//! - else a `config`: complete;
//! - else empty, or holding only hako's temporary files: half-made (a create killed
//!   between its mkdir and its marker, or a destroy killed between the marker's removal
//!   and the rmdir);
//! - else: not hako's (left alone).
//!
//! Every step of create, copy, snapshot and destroy moves a directory from one of these
//! states to the next without passing through "complete" with half its files, so a kill
//! leaves the old state, the new one, or a half-made directory that `ls` lists and
//! `destroy` removes.

use std::ffi::OsStr;
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The marker file of a half-made directory (LXC uses the same name).
pub const PARTIAL_MARKER: &str = "partial";

/// The suffix of hako's temporary files (`.NAME.hako-tmp` next to `NAME`).
const TMP_SUFFIX: &str = ".hako-tmp";

/// The operations a marker names.
pub(crate) const OPERATIONS: &[&str] = &["create", "copy", "snapshot", "restore", "destroy"];

/// `.NAME.hako-tmp` next to `path`: where a new version of `path` is written first.
pub(crate) fn tmp_path(path: &Path) -> PathBuf {
    let name = path.file_name().unwrap_or_else(|| OsStr::new("file"));
    let mut t = std::ffi::OsString::from(".");
    t.push(name);
    t.push(TMP_SUFFIX);
    path.with_file_name(t)
}

/// Is `name` one of hako's temporary file names?
pub(crate) fn is_tmp_name(name: &OsStr) -> bool {
    let b = name.as_bytes();
    b.len() > TMP_SUFFIX.len() + 1 && b[0] == b'.' && b.ends_with(TMP_SUFFIX.as_bytes())
}

/// Replaces `path` with a file holding `data` (mode `mode`): written to a temporary name
/// next to it (created with its final mode, so a secret is never readable by others), then
/// renamed over `path`. A reader sees the old file or the new one, never a part; a failed
/// write (ENOSPC) leaves the old file and no temporary. A symlink at `path` is replaced,
/// never followed. `durable`: the data is on disk before the new name points to it (fsync
/// before the rename), so a crash of the machine cannot leave the name on an empty file.
/// The directory is not synced: the file systems the store lives on (ext4, xfs, btrfs)
/// journal their directory changes in order, so the rename is never seen before the
/// changes that came before it, and a sync per file would cost every create several
/// milliseconds on a busy disk.
pub fn replace_file(path: &Path, data: &[u8], mode: u32, durable: bool) -> io::Result<()> {
    let tmp = tmp_path(path);
    let r = (|| -> io::Result<()> {
        // a temporary left by a killed writer is ours to replace
        match fs::remove_file(&tmp) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode & 0o777)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&tmp)?;
        // the exact mode (the umask may have narrowed it; set-id bits need a chmod)
        f.set_permissions(fs::Permissions::from_mode(mode))?;
        f.write_all(data)?;
        if durable {
            f.sync_all()?;
        }
        drop(f);
        fs::rename(&tmp, path)
    })();
    if let Err(e) = r {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(())
}

/// fsync(2) on a directory: its entries (a rename, a new or removed file) are on disk.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    let d = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    fs::File::open(d)?.sync_all()
}

/// rename(2) that fails with EEXIST instead of replacing what is at `to`.
pub(crate) fn rename_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    nix::fcntl::renameat2(
        None,
        from,
        None,
        to,
        nix::fcntl::RenameFlags::RENAME_NOREPLACE,
    )
    .map_err(io::Error::from)
}

/// Swaps the two names `a` and `b` in one step (renameat2 RENAME_EXCHANGE): a reader
/// sees both old or both new.
pub(crate) fn exchange(a: &Path, b: &Path) -> io::Result<()> {
    nix::fcntl::renameat2(None, a, None, b, nix::fcntl::RenameFlags::RENAME_EXCHANGE)
        .map_err(io::Error::from)
}

// ---------------------------------------------------------------------------------------
// The partial marker
// ---------------------------------------------------------------------------------------

/// What a directory of the store holds (see the module's doc).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum DirState {
    Missing,
    Complete,
    /// Half-made or half-removed; the operation the marker names, when it names one.
    Partial(Option<String>),
    /// A directory hako did not make (or not a directory at all).
    Foreign,
}

/// Reads the state of `dir` (never following a symlink at `dir`).
pub(crate) fn classify(dir: &Path) -> DirState {
    match fs::symlink_metadata(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return DirState::Missing,
        Err(_) => return DirState::Foreign,
        Ok(m) if !m.is_dir() => return DirState::Foreign,
        Ok(_) => {}
    }
    if let Some(op) = marker(dir) {
        return DirState::Partial(op);
    }
    if dir.join("config").is_file() {
        return DirState::Complete;
    }
    match fs::read_dir(dir) {
        Ok(rd) => {
            let only_tmp = rd
                .map(|e| e.map(|e| is_tmp_name(&e.file_name())))
                .all(|t| matches!(t, Ok(true)));
            if only_tmp {
                DirState::Partial(None)
            } else {
                DirState::Foreign
            }
        }
        Err(_) => DirState::Foreign,
    }
}

/// Some(operation) when `dir` holds a marker (the operation is None when the marker does
/// not name a known one: written empty, or by another program).
pub(crate) fn marker(dir: &Path) -> Option<Option<String>> {
    let p = dir.join(PARTIAL_MARKER);
    fs::symlink_metadata(&p).ok()?;
    let mut text = String::new();
    let _ = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(&p)
        .and_then(|f| f.take(64).read_to_string(&mut text));
    let op = text.lines().next().unwrap_or("").trim();
    Some(OPERATIONS.contains(&op).then(|| op.to_string()))
}

/// Marks `dir` as half-made by `op` (one of [`OPERATIONS`]): the marker is written under a
/// temporary name and renamed into place, so it is there, and complete, before anything
/// else changes. Its content only says what was being done: an empty marker (what a crash
/// of the machine may leave of it) is a marker all the same, so it is not synced. With
/// `or_empty`, a marker that cannot be written (a full disk) is made as an empty file
/// instead, which needs no data block: destroy must be able to start on a full disk,
/// since it is what frees space.
pub(crate) fn mark(dir: &Path, op: &str, or_empty: bool) -> io::Result<()> {
    debug_assert!(OPERATIONS.contains(&op));
    let p = dir.join(PARTIAL_MARKER);
    match replace_file(&p, format!("{op}\n").as_bytes(), 0o644, false) {
        Ok(()) => Ok(()),
        Err(e) if !or_empty => Err(e),
        Err(_) => fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o644)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&p)
            .map(drop),
    }
}

/// Removes the marker of `dir`, which is complete now (its config was written durably
/// before).
pub(crate) fn unmark(dir: &Path) -> io::Result<()> {
    fs::remove_file(dir.join(PARTIAL_MARKER))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_file_is_all_or_nothing() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("config");
        replace_file(&p, b"one\n", 0o644, true).unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "one\n");
        replace_file(&p, b"two\n", 0o600, false).unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "two\n");
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        // a stale temporary from a killed writer does not get in the way
        fs::write(tmp_path(&p), "stale").unwrap();
        replace_file(&p, b"three\n", 0o644, true).unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "three\n");
        assert!(!tmp_path(&p).exists());
        // a symlink at the name is replaced, not followed
        let outside = d.path().join("outside");
        fs::write(&outside, "keep").unwrap();
        let link = d.path().join("link");
        std::os::unix::fs::symlink(&outside, &link).unwrap();
        replace_file(&link, b"new", 0o644, false).unwrap();
        assert_eq!(fs::read_to_string(&outside).unwrap(), "keep");
        assert!(fs::symlink_metadata(&link).unwrap().is_file());
        // a failed write leaves the old file and no temporary
        let e = replace_file(&d.path().join("nodir/x"), b"x", 0o644, true).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        assert_eq!(
            fs::read_dir(d.path()).unwrap().count(),
            3,
            "config, outside, link, and no temporary"
        );
    }

    #[test]
    fn tmp_names() {
        assert_eq!(
            tmp_path(Path::new("/a/b/partial")),
            PathBuf::from("/a/b/.partial.hako-tmp")
        );
        assert!(is_tmp_name(OsStr::new(".partial.hako-tmp")));
        assert!(is_tmp_name(OsStr::new(".config.hako-tmp")));
        assert!(!is_tmp_name(OsStr::new(".hako-tmp")));
        assert!(!is_tmp_name(OsStr::new("config")));
        assert!(!is_tmp_name(OsStr::new("x.hako-tmp")));
    }

    #[test]
    fn states_of_a_directory() {
        let d = tempfile::tempdir().unwrap();
        let c = d.path().join("c");
        assert_eq!(classify(&c), DirState::Missing);
        fs::create_dir(&c).unwrap();
        // killed between mkdir and marker: empty, or only a temporary
        assert_eq!(classify(&c), DirState::Partial(None));
        fs::write(c.join(".partial.hako-tmp"), "cre").unwrap();
        assert_eq!(classify(&c), DirState::Partial(None));
        mark(&c, "create", false).unwrap();
        assert_eq!(classify(&c), DirState::Partial(Some("create".into())));
        assert!(!c.join(".partial.hako-tmp").exists());
        fs::write(c.join("config"), "lxc.uts.name = c\n").unwrap();
        assert_eq!(classify(&c), DirState::Partial(Some("create".into())));
        unmark(&c).unwrap();
        assert_eq!(classify(&c), DirState::Complete);
        // an empty marker (a full disk) is a marker all the same
        fs::write(c.join(PARTIAL_MARKER), "").unwrap();
        assert_eq!(classify(&c), DirState::Partial(None));
        fs::write(c.join(PARTIAL_MARKER), "something else\n").unwrap();
        assert_eq!(classify(&c), DirState::Partial(None));
        // someone else's directory, a file, a symlink
        let f = d.path().join("f");
        fs::create_dir(&f).unwrap();
        fs::write(f.join("data"), "x").unwrap();
        assert_eq!(classify(&f), DirState::Foreign);
        fs::write(d.path().join("file"), "").unwrap();
        assert_eq!(classify(&d.path().join("file")), DirState::Foreign);
        std::os::unix::fs::symlink(&c, d.path().join("l")).unwrap();
        assert_eq!(classify(&d.path().join("l")), DirState::Foreign);
    }
}
