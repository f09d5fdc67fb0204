//! Who uses what: an image, or a container whose root filesystem is another container's
//! lower layer, keeps the list of its users in `<owner dir>/users.d/<hash>` (one file per
//! user, holding the user's directory); each user lists what it uses in `<its dir>/uses`
//! (one owner directory per line). The owner refuses to go while a user is alive; a user
//! whose directory no longer holds a config (removed by hand) is stale and pruned.
//!
//! Where the owner is a container (a clone or snapshot on top of another container), LXC's
//! own record is kept too, exactly as LXC writes it, for tools that read LXC's layout: the
//! owner's `lxc_snapshots` (two lines per dependent container: its lxcpath, its name;
//! removed when the last one goes) and the dependent's `lxc_rdepends` (the owner's
//! lxcpath and name). Clones LXC made are read from there as users as well.

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

/// LXC's list of the containers that depend on a container, in the latter's directory.
pub const LXC_SNAPSHOTS: &str = "lxc_snapshots";
/// LXC's note, in a dependent container's directory, of the container it depends on.
pub const LXC_RDEPENDS: &str = "lxc_rdepends";

/// A container directory as LXC's two lines name it: its lxcpath and its name.
fn lxc_lines(dir: &Path) -> Option<(String, String)> {
    let c = canonical_maybe_missing(dir);
    Some((
        c.parent()?.to_str()?.to_string(),
        c.file_name()?.to_str()?.to_string(),
    ))
}

/// The (lxcpath, name) pairs of an owner's `lxc_snapshots` (missing: none; an odd last
/// line is dropped, as LXC does).
fn read_lxc_snapshots(owner_dir: &Path) -> Vec<(String, String)> {
    let text = fs::read_to_string(owner_dir.join(LXC_SNAPSHOTS)).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines
        .chunks_exact(2)
        .map(|p| (p[0].to_string(), p[1].to_string()))
        .collect()
}

/// Writes an owner's `lxc_snapshots`; no pairs left: the file goes.
fn write_lxc_snapshots(owner_dir: &Path, pairs: &[(String, String)]) -> Result<(), StoreError> {
    let path = owner_dir.join(LXC_SNAPSHOTS);
    if pairs.is_empty() {
        return match fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(StoreError::io(
                "remove",
                &path,
                e,
                "check the permissions of the container's directory",
            )),
            _ => Ok(()),
        };
    }
    let text: String = pairs.iter().map(|(l, n)| format!("{l}\n{n}\n")).collect();
    write_atomic(&path, text.as_bytes())
}

/// LXC's side of [`register`], where the owner is a container.
fn lxc_register(owner_dir: &Path, user_dir: &Path) -> Result<(), StoreError> {
    if !owner_dir.join("config").is_file() {
        return Ok(());
    }
    let (Some(owner), Some(user)) = (lxc_lines(owner_dir), lxc_lines(user_dir)) else {
        return Ok(());
    };
    let mut pairs = read_lxc_snapshots(owner_dir);
    if !pairs.contains(&user) {
        pairs.push(user);
        write_lxc_snapshots(owner_dir, &pairs)?;
    }
    write_atomic(
        &user_dir.join(LXC_RDEPENDS),
        format!("{}\n{}\n", owner.0, owner.1).as_bytes(),
    )
}

/// LXC's side of [`unregister`]: the user's pair leaves the owner's `lxc_snapshots`.
fn lxc_unregister(owner_dir: &Path, user_dir: &Path) {
    let Some(user) = lxc_lines(user_dir) else {
        return;
    };
    let mut pairs = read_lxc_snapshots(owner_dir);
    let before = pairs.len();
    pairs.retain(|p| *p != user);
    if pairs.len() != before {
        let _ = write_lxc_snapshots(owner_dir, &pairs);
    }
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
    lxc_register(owner_dir, user_dir)
}

/// Forgets that `user_dir` uses `owner_dir` (the owner's side; missing is fine).
pub(crate) fn unregister(owner_dir: &Path, user_dir: &Path) {
    let _ = fs::remove_file(owner_dir.join(USERS_DIR).join(key(user_dir)));
    let _ = fs::remove_dir(owner_dir.join(USERS_DIR));
    lxc_unregister(owner_dir, user_dir);
}

/// What `user_dir` uses: its `uses` file (missing is nothing) and, for a clone LXC made,
/// the container its `lxc_rdepends` names.
pub(crate) fn read_uses(user_dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = fs::read_to_string(user_dir.join(USES_FILE))
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with('/'))
        .map(PathBuf::from)
        .collect();
    let rdep = fs::read_to_string(user_dir.join(LXC_RDEPENDS)).unwrap_or_default();
    let lines: Vec<&str> = rdep.lines().collect();
    if let [lxcpath, name, ..] = lines[..] {
        if lxcpath.starts_with('/') && !name.is_empty() && !name.contains('/') {
            let origin = canonical_maybe_missing(&Path::new(lxcpath).join(name));
            if !out.contains(&origin) {
                out.push(origin);
            }
        }
    }
    out
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
    let owner = canonical_maybe_missing(owner_dir);
    let mut out = Vec::new();
    for e in fs::read_dir(&users).into_iter().flatten().flatten() {
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
    // clones LXC made (only its `lxc_snapshots` knows them); ones that are gone are pruned
    let pairs = read_lxc_snapshots(owner_dir);
    let mut kept = Vec::new();
    for (lxcpath, name) in &pairs {
        let dir = Path::new(lxcpath).join(name);
        if dir.join("config").is_file() {
            let c = canonical_maybe_missing(&dir);
            if !out.contains(&c) {
                out.push(c);
            }
            kept.push((lxcpath.clone(), name.clone()));
        }
    }
    if kept.len() != pairs.len() {
        let _ = write_lxc_snapshots(owner_dir, &kept);
    }
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

    /// LXC's files, byte for byte as LXC 5 writes them: two lines per clone in the
    /// origin's lxc_snapshots (gone with the last clone), the origin in the clone's
    /// lxc_rdepends; an image owner gets none.
    #[test]
    fn lxc_snapshots_and_rdepends_as_lxc_writes_them() {
        let d = tempfile::tempdir().unwrap();
        let lp = fs::canonicalize(d.path()).unwrap();
        let l = lp.display().to_string();
        let (o, c1, c2, img) = (lp.join("o"), lp.join("c1"), lp.join("c2"), lp.join("img"));
        for c in [&o, &c1, &c2] {
            fs::create_dir_all(c).unwrap();
            fs::write(c.join("config"), "").unwrap();
        }
        fs::create_dir_all(&img).unwrap();
        register(&img, &c1).unwrap();
        assert!(!img.join(LXC_SNAPSHOTS).exists());
        register(&o, &c1).unwrap();
        register(&o, &c2).unwrap();
        register(&o, &c2).unwrap();
        assert_eq!(
            fs::read_to_string(o.join(LXC_SNAPSHOTS)).unwrap(),
            format!("{l}\nc1\n{l}\nc2\n")
        );
        assert_eq!(
            fs::read_to_string(c1.join(LXC_RDEPENDS)).unwrap(),
            format!("{l}\no\n")
        );
        unregister_all(&c1, &read_uses(&c1));
        assert_eq!(
            fs::read_to_string(o.join(LXC_SNAPSHOTS)).unwrap(),
            format!("{l}\nc2\n")
        );
        unregister_all(&c2, &read_uses(&c2));
        assert!(
            !o.join(LXC_SNAPSHOTS).exists(),
            "the last clone took the file"
        );
    }

    /// A clone LXC made (only LXC's files know it) is a live user: the origin is not
    /// destroyed under it; once it is gone by hand its pair is pruned; its destroy by hako
    /// takes its pair out.
    #[test]
    fn clones_lxc_made_count_as_users() {
        let d = tempfile::tempdir().unwrap();
        let lp = fs::canonicalize(d.path()).unwrap();
        let l = lp.display().to_string();
        let (o, a, b) = (lp.join("o"), lp.join("a"), lp.join("b"));
        for c in [&o, &a, &b] {
            fs::create_dir_all(c).unwrap();
            fs::write(c.join("config"), "").unwrap();
        }
        fs::write(o.join(LXC_SNAPSHOTS), format!("{l}\na\n{l}\nb\n{l}\n")).unwrap();
        for c in ["a", "b"] {
            fs::write(lp.join(c).join(LXC_RDEPENDS), format!("{l}\no\n")).unwrap();
        }
        assert_eq!(live_users(&o), vec![a.clone(), b.clone()]);
        fs::remove_dir_all(&b).unwrap();
        assert_eq!(live_users(&o), vec![a.clone()]);
        assert_eq!(
            fs::read_to_string(o.join(LXC_SNAPSHOTS)).unwrap(),
            format!("{l}\na\n")
        );
        unregister_all(&a, &read_uses(&a));
        assert!(live_users(&o).is_empty());
        assert!(!o.join(LXC_SNAPSHOTS).exists());
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
