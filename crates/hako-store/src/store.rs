//! The lxcpath as a store of containers: layout, listing, locks, destroy.

use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::paths::{canonical_maybe_missing, normalize, rundir, sysconfdir, validate_name};
use crate::refs;
use crate::remove::{check_no_mounts, remove_tree};
use crate::{Flavour, Lock, StoreError};

/// Name of the marker file that says "this container is being created (or destroyed)".
/// A directory holding it is not a container; the next create or destroy of the name
/// removes it. (LXC uses the same name.)
pub const PARTIAL_MARKER: &str = "partial";

/// The containers of one lxcpath.
#[derive(Clone, Debug)]
pub struct Store {
    lxcpath: PathBuf,
    flavour: Flavour,
    sysconfdir: PathBuf,
    rundir: PathBuf,
    hash: String,
}

impl Store {
    /// The store at `lxcpath` (which need not exist yet). System config files are looked up
    /// below `$HAKO_SYSCONFDIR` (default /etc), runtime files below `$HAKO_RUNDIR` (default
    /// /run/hako).
    pub fn open(lxcpath: &Path, flavour: Flavour) -> Store {
        Store::open_with(lxcpath, flavour, &sysconfdir(), &rundir())
    }

    /// [`Store::open`] with the system config and runtime directories given explicitly.
    pub fn open_with(lxcpath: &Path, flavour: Flavour, sysconfdir: &Path, rundir: &Path) -> Store {
        let lxcpath = if lxcpath.is_absolute() {
            normalize(lxcpath)
        } else {
            normalize(
                &std::env::current_dir()
                    .unwrap_or_else(|_| PathBuf::from("/"))
                    .join(lxcpath),
            )
        };
        let canonical = canonical_maybe_missing(&lxcpath);
        let digest = Sha256::digest(canonical.as_os_str().as_bytes());
        let hash = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        Store {
            lxcpath,
            flavour,
            sysconfdir: sysconfdir.to_path_buf(),
            rundir: rundir.to_path_buf(),
            hash,
        }
    }

    pub fn lxcpath(&self) -> &Path {
        &self.lxcpath
    }
    pub fn flavour(&self) -> Flavour {
        self.flavour
    }
    pub fn sysconfdir(&self) -> &Path {
        &self.sysconfdir
    }
    /// 16 hex digits of sha256 of the canonical lxcpath: names this lxcpath below /run/hako.
    pub fn lxcpath_hash(&self) -> &str {
        &self.hash
    }

    /// `<lxcpath>/<name>`
    pub fn container_dir(&self, name: &str) -> PathBuf {
        self.lxcpath.join(name)
    }
    /// `<lxcpath>/<name>/config`
    pub fn config_path(&self, name: &str) -> PathBuf {
        self.container_dir(name).join("config")
    }
    /// `<lxcpath>/<name>/rootfs`
    pub fn rootfs_path(&self, name: &str) -> PathBuf {
        self.container_dir(name).join("rootfs")
    }
    fn partial_path(&self, name: &str) -> PathBuf {
        self.container_dir(name).join(PARTIAL_MARKER)
    }

    /// Is `name` a container here: it has a config file and no "partial" marker.
    pub fn exists(&self, name: &str) -> bool {
        validate_name(name).is_ok()
            && self.config_path(name).is_file()
            && fs::symlink_metadata(self.partial_path(name)).is_err()
    }

    /// Whether `<lxcpath>/<name>` holds a half-made (or half-destroyed) container.
    pub fn is_partial(&self, name: &str) -> bool {
        validate_name(name).is_ok() && fs::symlink_metadata(self.partial_path(name)).is_ok()
    }

    /// The containers here, sorted. Directories without a config, half-made containers and
    /// names hako would not accept are skipped; a missing lxcpath is an empty list.
    pub fn list(&self) -> Result<Vec<String>, StoreError> {
        let rd = match fs::read_dir(&self.lxcpath) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(StoreError::io(
                    "list the containers in",
                    &self.lxcpath,
                    e,
                    "check the lxcpath (-P)",
                ))
            }
        };
        let mut names = Vec::new();
        for ent in rd {
            let ent = ent.map_err(|e| {
                StoreError::io(
                    "list the containers in",
                    &self.lxcpath,
                    e,
                    "check the lxcpath (-P)",
                )
            })?;
            let Some(name) = ent.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if self.exists(&name) {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    /// The container's cgroup directory name, unique per lxcpath and container, so that
    /// containers of one name in several lxcpaths run side by side: `hako.payload.NAME` in
    /// hako's default lxcpath /var/lib/hako, `lxc.payload.NAME` (LXC's own name, which
    /// scripts written for LXC read) in LXC's /var/lib/lxc, and
    /// `hako.payload.NAME-HASH` elsewhere (HASH: 8 hex digits of the lxcpath's hash).
    pub fn payload_cgroup(&self, name: &str) -> String {
        if self.lxcpath == Path::new("/var/lib/hako") {
            format!("hako.payload.{name}")
        } else if self.lxcpath == Path::new("/var/lib/lxc") {
            format!("lxc.payload.{name}")
        } else {
            format!("hako.payload.{name}-{}", &self.hash[..8])
        }
    }

    /// A token that names container `name` of this lxcpath among all lxcpaths (16 hex
    /// digits): what its registrations on shared things (DNS names on a managed network)
    /// are marked with, so that a container of the same name elsewhere never touches them.
    pub fn container_id(&self, name: &str) -> String {
        let mut h = Sha256::new();
        h.update(self.hash.as_bytes());
        h.update([0]);
        h.update(name.as_bytes());
        h.finalize()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// `/run/hako/<hash>/<name>`: the monitor's runtime state (socket, state file).
    pub fn runtime_dir(&self, name: &str) -> PathBuf {
        self.rundir.join(&self.hash).join(name)
    }

    /// `/run/hako/lock/<hash>/<name>`: the container's lock file.
    pub fn lock_path(&self, name: &str) -> PathBuf {
        self.rundir.join("lock").join(&self.hash).join(name)
    }

    /// Takes the container's exclusive lock, waiting up to `timeout` for another hako
    /// command to release it. The lock file holds the holder's pid, which the error names.
    pub fn lock(&self, name: &str, timeout: Duration) -> Result<Lock, StoreError> {
        validate_name(name)?;
        let path = self.lock_path(name);
        let dir = path.parent().expect("lock path has a parent");
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(dir)
            .map_err(|e| {
                StoreError::io(
                    "create the lock directory",
                    dir,
                    e,
                    "check that /run is writable",
                )
            })?;
        // a concurrent destroy may remove the (empty) directory between our mkdir and
        // open: make it again and retry
        let mut tries = 0;
        loop {
            match Lock::acquire(&path, name, timeout) {
                Err(StoreError::Io { ref source, .. })
                    if source.kind() == io::ErrorKind::NotFound && tries < 3 =>
                {
                    tries += 1;
                    let _ = fs::DirBuilder::new()
                        .recursive(true)
                        .mode(0o755)
                        .create(dir);
                }
                r => return r.map(|l| l.remove_unless_exists(self.container_dir(name))),
            }
        }
    }

    /// Removes the container: its directory (rootfs included; symlinks are removed, never
    /// followed; nothing mounted below it may remain, else nothing is touched and the error
    /// names the mount), its runtime directory and its lock file. A half-made container
    /// (with a "partial" marker) is removed the same way. The caller has checked that the
    /// container is stopped, and should hold its lock.
    pub fn destroy(&self, name: &str) -> Result<(), StoreError> {
        validate_name(name)?;
        let dir = self.container_dir(name);
        let op = format!("destroy container \"{name}\"");
        match fs::symlink_metadata(&dir) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(StoreError::NotFound {
                    name: name.to_string(),
                    lxcpath: self.lxcpath.clone(),
                })
            }
            Err(e) => return Err(StoreError::io(&op, &dir, e, "check the lxcpath")),
            Ok(_) => {}
        }
        if !self.exists(name) && !self.is_partial(name) {
            return Err(StoreError::other(format!(
                "cannot destroy container \"{name}\": {} has no config file, so it is not a container; remove it by hand if it is not needed",
                dir.display()
            )));
        }
        check_no_mounts(&dir, &op)?;
        if !self.is_partial(name) {
            // what depends on it: snapshot clones that use its layers
            let users = refs::live_users(&dir);
            if !users.is_empty() {
                let shown: Vec<String> = users
                    .iter()
                    .map(|u| refs::describe_user(u, Some(&self.lxcpath)))
                    .collect();
                return Err(StoreError::other(format!(
                    "cannot destroy container \"{name}\": {} {} {} on it (snapshot clones whose lower layer is its root filesystem); destroy {} first",
                    if users.len() == 1 { "container" } else { "containers" },
                    shown.join(", "),
                    if users.len() == 1 { "depends" } else { "depend" },
                    if users.len() == 1 { "it" } else { "them" }
                )));
            }
            let snaps = dir.join("snaps");
            let n = fs::read_dir(&snaps).map(|rd| rd.count()).unwrap_or(0);
            if n > 0 {
                return Err(StoreError::other(format!(
                    "cannot destroy container \"{name}\": it has {n} snapshot(s) in {}; destroy them with it (\"hako destroy {name} -s\") or delete them first (\"hako snapshot {name} -d SNAP\")",
                    snaps.display()
                )));
            }
        }
        // From here a failure leaves a directory that is marked partial: not listed, and
        // removed by the next destroy or create of the name.
        if !self.is_partial(name) {
            fs::write(self.partial_path(name), b"destroy\n").map_err(|e| {
                StoreError::io(&op, self.partial_path(name), e, "check the filesystem")
            })?;
        }
        self.remove_container_dir(&dir, &op)?;
        self.remove_runtime_files(name)
    }

    /// Removes a container's (or snapshot's) directory: btrfs subvolumes below it with the
    /// btrfs tool, the rest without following symlinks or crossing mounts; then it is
    /// unregistered from the images and containers it used.
    pub(crate) fn remove_container_dir(&self, dir: &Path, op: &str) -> Result<(), StoreError> {
        if fs::symlink_metadata(dir).is_err() {
            return Ok(());
        }
        let uses = refs::read_uses(dir);
        check_no_mounts(dir, op)?;
        crate::backing::delete_subvolumes_below(dir)?;
        remove_tree(dir, op)?;
        refs::unregister_all(dir, &uses);
        Ok(())
    }

    /// The containers and snapshots that use `name`'s layers (snapshot clones).
    pub fn dependents(&self, name: &str) -> Vec<PathBuf> {
        refs::live_users(&self.container_dir(name))
    }

    /// Removes the runtime directory and the lock file of `name` (missing is fine).
    pub(crate) fn remove_runtime_files(&self, name: &str) -> Result<(), StoreError> {
        let rt = self.runtime_dir(name);
        match fs::remove_dir_all(&rt) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(StoreError::io(
                    format!("remove the runtime directory of container \"{name}\""),
                    &rt,
                    e,
                    "remove it by hand",
                ))
            }
        }
        // the per-lxcpath runtime directory goes when its last container does
        if let Some(parent) = rt.parent() {
            let _ = fs::remove_dir(parent);
        }
        let lock = self.lock_path(name);
        match fs::remove_file(&lock) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StoreError::io(
                format!("remove the lock file of container \"{name}\""),
                &lock,
                e,
                "remove it by hand",
            )),
        }
    }

    /// mkdir -p the lxcpath; the directories we make get mode 0755.
    pub(crate) fn ensure_lxcpath(&self) -> Result<(), StoreError> {
        if self.lxcpath.is_dir() {
            return Ok(());
        }
        let mut missing = Vec::new();
        let mut p = self.lxcpath.as_path();
        while !p.exists() {
            missing.push(p.to_path_buf());
            match p.parent() {
                Some(parent) => p = parent,
                None => break,
            }
        }
        fs::create_dir_all(&self.lxcpath).map_err(|e| {
            StoreError::io(
                "create the lxcpath",
                &self.lxcpath,
                e,
                "pass a writable directory with -P",
            )
        })?;
        for m in missing {
            fs::set_permissions(&m, fs::Permissions::from_mode(0o755))
                .map_err(|e| StoreError::io("set the mode of", &m, e, "check the filesystem"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(dir: &Path) -> Store {
        Store::open_with(
            &dir.join("lxc"),
            Flavour::Hako,
            &dir.join("etc"),
            &dir.join("run"),
        )
    }

    fn make(dir: &Path, name: &str, config: bool, partial: bool) {
        let d = dir.join("lxc").join(name);
        fs::create_dir_all(&d).unwrap();
        if config {
            fs::write(d.join("config"), "lxc.uts.name = x\n").unwrap();
        }
        if partial {
            fs::write(d.join("partial"), "").unwrap();
        }
    }

    #[test]
    fn layout() {
        let s = Store::open_with(
            Path::new("/var/lib/hako/"),
            Flavour::Hako,
            Path::new("/etc"),
            Path::new("/run/hako"),
        );
        assert_eq!(s.lxcpath(), Path::new("/var/lib/hako"));
        assert_eq!(s.container_dir("web"), PathBuf::from("/var/lib/hako/web"));
        assert_eq!(
            s.config_path("web"),
            PathBuf::from("/var/lib/hako/web/config")
        );
        assert_eq!(
            s.rootfs_path("web"),
            PathBuf::from("/var/lib/hako/web/rootfs")
        );
        let h = s.lxcpath_hash().to_string();
        assert_eq!(h.len(), 16);
        assert!(h.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(
            s.runtime_dir("web"),
            PathBuf::from(format!("/run/hako/{h}/web"))
        );
        assert_eq!(
            s.lock_path("web"),
            PathBuf::from(format!("/run/hako/lock/{h}/web"))
        );
        // same lxcpath, same hash; another lxcpath, another hash
        let s2 = Store::open_with(
            Path::new("/var/lib/hako"),
            Flavour::Hako,
            Path::new("/etc"),
            Path::new("/run/hako"),
        );
        assert_eq!(s2.lxcpath_hash(), h);
        let s3 = Store::open_with(
            Path::new("/var/lib/lxc"),
            Flavour::Lxc,
            Path::new("/etc"),
            Path::new("/run/hako"),
        );
        assert_ne!(s3.lxcpath_hash(), h);
    }

    #[test]
    fn hash_is_of_the_canonical_path() {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir(d.path().join("real")).unwrap();
        std::os::unix::fs::symlink(d.path().join("real"), d.path().join("link")).unwrap();
        let a = Store::open_with(&d.path().join("real"), Flavour::Hako, d.path(), d.path());
        let b = Store::open_with(&d.path().join("link"), Flavour::Hako, d.path(), d.path());
        assert_eq!(a.lxcpath_hash(), b.lxcpath_hash());
        assert_eq!(b.lxcpath(), d.path().join("link"));
    }

    #[test]
    fn list_skips_partial_and_non_containers() {
        let d = tempfile::tempdir().unwrap();
        let s = store(d.path());
        assert_eq!(
            s.list().unwrap(),
            Vec::<String>::new(),
            "missing lxcpath is empty"
        );
        make(d.path(), "web", true, false);
        make(d.path(), "db", true, false);
        make(d.path(), "half", true, true);
        make(d.path(), "starting", false, true);
        make(d.path(), "junk", false, false);
        fs::write(d.path().join("lxc/file"), "").unwrap();
        make(d.path(), "-bad", true, false);
        assert_eq!(s.list().unwrap(), vec!["db".to_string(), "web".to_string()]);
        assert!(s.exists("web"));
        assert!(!s.exists("half"));
        assert!(s.is_partial("half"));
        assert!(!s.exists("junk"));
        assert!(!s.exists("nope"));
        assert!(!s.exists("../lxc/web"));
    }

    #[test]
    fn destroy_removes_dir_runtime_and_lock() {
        let d = tempfile::tempdir().unwrap();
        let s = store(d.path());
        make(d.path(), "web", true, false);
        fs::create_dir_all(s.rootfs_path("web").join("etc")).unwrap();
        fs::create_dir_all(s.runtime_dir("web")).unwrap();
        fs::write(s.runtime_dir("web").join("state"), "STOPPED").unwrap();
        drop(s.lock("web", Duration::ZERO).unwrap());
        assert!(s.lock_path("web").exists());
        s.destroy("web").unwrap();
        assert!(!s.container_dir("web").exists());
        assert!(!s.runtime_dir("web").exists());
        assert!(!s.lock_path("web").exists());
        let e = s.destroy("web").unwrap_err();
        assert!(matches!(e, StoreError::NotFound { .. }), "{e}");
    }

    #[test]
    fn destroy_cleans_partial_and_refuses_non_containers() {
        let d = tempfile::tempdir().unwrap();
        let s = store(d.path());
        make(d.path(), "half", false, true);
        s.destroy("half").unwrap();
        assert!(!s.container_dir("half").exists());
        make(d.path(), "junk", false, false);
        fs::write(s.container_dir("junk").join("data"), "keep").unwrap();
        let e = s.destroy("junk").unwrap_err().to_string();
        assert!(e.contains("not a container"), "{e}");
        assert!(s.container_dir("junk").join("data").exists());
    }

    #[test]
    fn lock_writes_pid_and_contends() {
        let d = tempfile::tempdir().unwrap();
        let s = store(d.path());
        let l = s.lock("web", Duration::ZERO).unwrap();
        assert_eq!(l.name(), "web");
        assert_eq!(
            fs::read_to_string(s.lock_path("web")).unwrap(),
            format!("{}\n", std::process::id())
        );
        let t0 = std::time::Instant::now();
        let e = s.lock("web", Duration::from_millis(200)).unwrap_err();
        assert!(t0.elapsed() >= Duration::from_millis(200));
        assert_eq!(
            e.to_string(),
            format!("container \"web\" is locked by another hako command (pid {}); retry when it has finished", std::process::id())
        );
        // another container is not affected
        let other = s.lock("db", Duration::ZERO).unwrap();
        drop(other);
        // "db" does not exist: its lock file goes with the lock
        assert!(
            !s.lock_path("db").exists(),
            "lock file of a container that does not exist is removed"
        );
        drop(l);
        fs::create_dir_all(s.container_dir("web")).unwrap();
        let again = s.lock("web", Duration::ZERO).unwrap();
        drop(again);
        assert_eq!(
            fs::read_to_string(s.lock_path("web")).unwrap(),
            "",
            "pid cleared on unlock"
        );
    }

    #[test]
    fn lock_survives_unlink_by_destroy() {
        let d = tempfile::tempdir().unwrap();
        let s = store(d.path());
        let first = s.lock("web", Duration::ZERO).unwrap();
        let s2 = s.clone();
        let waiter = std::thread::spawn(move || s2.lock("web", Duration::from_secs(10)));
        std::thread::sleep(Duration::from_millis(100));
        // destroy unlinks the lock file while holding it, then unlocks
        fs::remove_file(s.lock_path("web")).unwrap();
        drop(first);
        let second = waiter.join().unwrap().unwrap();
        // the waiter must hold a lock on the file that is at the path now, so a third
        // locker sees the contention
        assert!(s.lock_path("web").exists());
        let e = s.lock("web", Duration::from_millis(50)).unwrap_err();
        assert!(matches!(e, StoreError::Locked { .. }), "{e}");
        drop(second);
    }

    #[test]
    fn lock_rejects_bad_names() {
        let d = tempfile::tempdir().unwrap();
        let s = store(d.path());
        assert!(matches!(
            s.lock("../x", Duration::ZERO),
            Err(StoreError::InvalidName { .. })
        ));
    }
}
