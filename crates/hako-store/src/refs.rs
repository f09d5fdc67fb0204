//! Who uses what: an image, or a container whose root filesystem is another container's
//! lower layer, keeps the list of its users in `<owner dir>/users.d/<hash>` (one file per
//! user, holding the user's directory); each user lists what it uses in `<its dir>/uses`
//! (one owner directory per line). The owner refuses to go while a user is alive; a user
//! whose directory no longer holds a config (removed by hand) is stale and pruned.

use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::paths::canonical_maybe_missing;
use crate::StoreError;

/// The directory below an owner that lists its users.
pub const USERS_DIR: &str = "users.d";
/// The file in a user's directory that lists what it uses.
pub const USES_FILE: &str = "uses";

fn key(user_dir: &Path) -> String {
    let c = canonical_maybe_missing(user_dir);
    let d = Sha256::digest(c.as_os_str().as_bytes());
    d[..10].iter().map(|b| format!("{b:02x}")).collect()
}

/// Records that `user_dir` uses `owner_dir` (both sides).
pub(crate) fn register(owner_dir: &Path, user_dir: &Path) -> Result<(), StoreError> {
    let users = owner_dir.join(USERS_DIR);
    fs::create_dir_all(&users).map_err(|e| {
        StoreError::io(
            "create the list of users",
            &users,
            e,
            "check the filesystem",
        )
    })?;
    let entry = users.join(key(user_dir));
    let canonical = canonical_maybe_missing(user_dir);
    write_atomic(&entry, format!("{}\n", canonical.display()).as_bytes())?;
    let uses = user_dir.join(USES_FILE);
    let mut list = read_uses(user_dir);
    let owner = canonical_maybe_missing(owner_dir);
    if !list.contains(&owner) {
        list.push(owner);
        let text: String = list.iter().map(|p| format!("{}\n", p.display())).collect();
        write_atomic(&uses, text.as_bytes())?;
    }
    Ok(())
}

/// Forgets that `user_dir` uses `owner_dir` (the owner's side; missing is fine).
pub(crate) fn unregister(owner_dir: &Path, user_dir: &Path) {
    let _ = fs::remove_file(owner_dir.join(USERS_DIR).join(key(user_dir)));
    let _ = fs::remove_dir(owner_dir.join(USERS_DIR));
}

/// What `user_dir` uses (its `uses` file; missing is nothing).
pub(crate) fn read_uses(user_dir: &Path) -> Vec<PathBuf> {
    fs::read_to_string(user_dir.join(USES_FILE))
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with('/'))
        .map(PathBuf::from)
        .collect()
}

/// Unregisters `user_dir` from everything it uses.
pub(crate) fn unregister_all(user_dir: &Path, uses: &[PathBuf]) {
    for owner in uses {
        unregister(owner, user_dir);
    }
}

/// The live users of `owner_dir`: directories that still hold a config file and still
/// list the owner in their `uses`. Stale entries are removed.
pub(crate) fn live_users(owner_dir: &Path) -> Vec<PathBuf> {
    let users = owner_dir.join(USERS_DIR);
    let Ok(rd) = fs::read_dir(&users) else {
        return Vec::new();
    };
    let owner = canonical_maybe_missing(owner_dir);
    let mut out = Vec::new();
    for e in rd.flatten() {
        let user = fs::read_to_string(e.path())
            .ok()
            .map(|t| PathBuf::from(t.trim()));
        let alive = match &user {
            Some(u) => u.join("config").is_file() && read_uses(u).contains(&owner),
            None => false,
        };
        if alive {
            out.push(user.expect("alive implies some"));
        } else {
            let _ = fs::remove_file(e.path());
        }
    }
    let _ = fs::remove_dir(&users);
    out.sort();
    out
}

/// Writes a file through a temporary file and a rename ([`crate::fsutil::replace_file`]),
/// durably.
pub(crate) fn write_atomic(path: &Path, data: &[u8]) -> Result<(), StoreError> {
    crate::fsutil::replace_file(path, data, 0o644, true)
        .map_err(|e| StoreError::io("write", path, e, "check free space"))
}

/// How a user directory is named in messages: `NAME` for a container of the lxcpath
/// `lxcpath`, `NAME (in LXCPATH)` for another lxcpath, `NAME/snaps/SNAP` for a snapshot.
pub(crate) fn describe_user(user: &Path, lxcpath: Option<&Path>) -> String {
    let lp = lxcpath.map(canonical_maybe_missing);
    // a snapshot: <lxcpath>/<name>/snaps/<snap>
    if let (Some(snap), Some(snaps)) = (user.file_name(), user.parent()) {
        if snaps.file_name() == Some("snaps".as_ref()) {
            if let Some(cont) = snaps.parent() {
                return format!(
                    "snapshot {} of {}",
                    snap.to_string_lossy(),
                    describe_user(cont, lxcpath)
                );
            }
        }
    }
    let name = user
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| user.display().to_string());
    match (user.parent(), lp) {
        (Some(p), Some(lp)) if p == lp => format!("\"{name}\""),
        (Some(p), _) => format!("\"{name}\" (in {})", p.display()),
        _ => format!("\"{name}\""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn register_list_unregister_and_prune() {
        let d = tempfile::tempdir().unwrap();
        let base = fs::canonicalize(d.path()).unwrap();
        let img = base.join("img");
        fs::create_dir(&img).unwrap();
        let a = base.join("lp/a");
        let b = base.join("lp/b");
        for c in [&a, &b] {
            fs::create_dir_all(c).unwrap();
            fs::write(c.join("config"), "").unwrap();
        }
        register(&img, &a).unwrap();
        register(&img, &b).unwrap();
        register(&img, &a).unwrap(); // idempotent
        assert_eq!(live_users(&img), vec![a.clone(), b.clone()]);
        assert_eq!(read_uses(&a), vec![img.clone()]);
        // b removed by hand: stale, pruned
        fs::remove_dir_all(&b).unwrap();
        assert_eq!(live_users(&img), vec![a.clone()]);
        assert_eq!(fs::read_dir(img.join(USERS_DIR)).unwrap().count(), 1);
        unregister_all(&a, &read_uses(&a));
        assert!(live_users(&img).is_empty());
        assert!(!img.join(USERS_DIR).exists(), "empty users.d removed");
    }

    #[test]
    fn a_user_that_no_longer_lists_the_owner_is_stale() {
        let d = tempfile::tempdir().unwrap();
        let base = fs::canonicalize(d.path()).unwrap();
        let img = base.join("img");
        let a = base.join("a");
        fs::create_dir_all(&img).unwrap();
        fs::create_dir_all(&a).unwrap();
        fs::write(a.join("config"), "").unwrap();
        register(&img, &a).unwrap();
        // the name was destroyed and made again without this image
        fs::remove_file(a.join(USES_FILE)).unwrap();
        assert!(live_users(&img).is_empty());
    }

    #[test]
    fn users_are_described_relative_to_the_lxcpath() {
        let lp = Path::new("/nonexistent-lp");
        assert_eq!(describe_user(&lp.join("web"), Some(lp)), "\"web\"");
        assert_eq!(
            describe_user(Path::new("/other/web"), Some(lp)),
            "\"web\" (in /other)"
        );
        assert_eq!(
            describe_user(&lp.join("web/snaps/snap0"), Some(lp)),
            "snapshot snap0 of \"web\""
        );
    }
}
