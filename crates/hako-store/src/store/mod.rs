//! The lxcpath as a store of containers: layout, listing, locks, destroy.

use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::fsutil::{self, classify, DirState, PARTIAL_MARKER};
use crate::paths::{canonical_maybe_missing, normalize, rundir, sysconfdir, validate_name};
use crate::refs;
use crate::remove::{check_no_mounts, remove_contents};
use crate::userdirs::UserDirs;
use crate::{Flavour, Lock, StoreError};

/// A half-made (or half-removed) container or snapshot: what was being done to it, and
/// whether a hako command is at it right now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Partial {
    /// "create", "copy", "snapshot", "restore" or "destroy"; None when the marker does not
    /// say (written empty on a full disk) or there is none yet (an empty directory).
    pub operation: Option<String>,
    /// The pid of the hako command that holds the container's lock now (the operation is
    /// still running), or Some(None) when the holder's pid is unknown.
    pub busy: Option<Option<u32>>,
}

impl Partial {
    /// "an interrupted create", "a create in progress (pid 42)", ...
    pub fn describe(&self) -> String {
        let op = self.operation.as_deref().unwrap_or("operation");
        match self.busy {
            Some(Some(pid)) => format!("a {op} in progress (pid {pid})"),
            Some(None) => format!("a {op} in progress"),
            None => match self.operation.as_deref() {
                Some("create") => "an interrupted create".to_string(),
                Some(o) => format!("an interrupted {o}"),
                None => "an interrupted command".to_string(),
            },
        }
    }

    /// "half-made" or "half-destroyed".
    pub fn adjective(&self) -> &'static str {
        if self.operation.as_deref() == Some("destroy") {
            "half-destroyed"
        } else {
            "half-made"
        }
    }
}

/// One entry of [`Store::list_all`]: a container, or a half-made one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    pub name: String,
    /// Some when the container is half-made (see [`Partial`]).
    pub partial: Option<Partial>,
}

/// The containers of one lxcpath.
#[derive(Clone, Debug)]
pub struct Store {
    lxcpath: PathBuf,
    flavour: Flavour,
    sysconfdir: PathBuf,
    rundir: PathBuf,
    hash: String,
    /// a non-root caller's places (its default config); None: root's system files
    user: Option<UserDirs>,
}

impl Store {
    /// The store at `lxcpath` (which need not exist yet). System config files are looked up
    /// below `$HAKO_SYSCONFDIR` (default /etc), runtime files below `$HAKO_RUNDIR` (default
    /// /run/hako). A non-root caller's default config and runtime files are its own
    /// ([`UserDirs`]: `~/.config/...`, `$XDG_RUNTIME_DIR/hako`).
    pub fn open(lxcpath: &Path, flavour: Flavour) -> Store {
        let user = UserDirs::detect().ok().flatten();
        Store::open_as(lxcpath, flavour, &sysconfdir(), &rundir(), user)
    }

    /// [`Store::open`] with the system config and runtime directories given explicitly.
    pub fn open_with(lxcpath: &Path, flavour: Flavour, sysconfdir: &Path, rundir: &Path) -> Store {
        Store::open_as(lxcpath, flavour, sysconfdir, rundir, None)
    }

    /// [`Store::open_with`] for a caller: `user` is a non-root caller's places.
    pub fn open_as(
        lxcpath: &Path,
        flavour: Flavour,
        sysconfdir: &Path,
        rundir: &Path,
        user: Option<UserDirs>,
    ) -> Store {
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
            user,
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
    /// A non-root caller's places; None for root.
    pub fn user(&self) -> Option<&UserDirs> {
        self.user.as_ref()
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
    /// Is `name` a container here: it has a config file and no "partial" marker.
    pub fn exists(&self, name: &str) -> bool {
        validate_name(name).is_ok() && classify(&self.container_dir(name)) == DirState::Complete
    }

    /// Whether `<lxcpath>/<name>` holds a half-made (or half-destroyed) container: a
    /// "partial" marker, or an empty directory (see [`crate::fsutil`]).
    pub fn is_partial(&self, name: &str) -> bool {
        validate_name(name).is_ok()
            && matches!(classify(&self.container_dir(name)), DirState::Partial(_))
    }

    /// What is known about the half-made container `name`; None when it is not one.
    pub fn partial(&self, name: &str) -> Option<Partial> {
        validate_name(name).ok()?;
        match classify(&self.container_dir(name)) {
            DirState::Partial(operation) => Some(Partial {
                operation,
                busy: crate::lock::holder(&self.lock_path(name)),
            }),
            _ => None,
        }
    }

    /// The error for a command on `name` that needs a container: "does not exist", or, for
    /// a half-made one, what it is and how to remove it.
    pub fn not_usable(&self, name: &str) -> StoreError {
        match self.partial(name) {
            Some(p) if p.busy.is_some() => StoreError::other(format!(
                "container \"{name}\" is {} ({}); retry when that command has finished",
                match p.operation.as_deref() {
                    Some("destroy") => "being destroyed",
                    Some(_) => "being made",
                    // an empty directory: a create just begun or a destroy about to end
                    None => "being created or destroyed",
                },
                p.describe()
            )),
            Some(p) => StoreError::other(format!(
                "container \"{name}\" is {} ({}) and cannot be used; remove it with \"hako destroy {name}\"",
                p.adjective(),
                p.describe()
            )),
            None => StoreError::NotFound {
                name: name.to_string(),
                lxcpath: self.lxcpath.clone(),
            },
        }
    }

    /// The containers here, sorted. Directories without a config, half-made containers and
    /// names hako would not accept are skipped; a missing lxcpath is an empty list.
    pub fn list(&self) -> Result<Vec<String>, StoreError> {
        Ok(self
            .list_all()?
            .into_iter()
            .filter(|l| l.partial.is_none())
            .map(|l| l.name)
            .collect())
    }

    /// The containers here and the half-made ones (which `ls` shows as such, with what to
    /// do), sorted. Directories hako did not make and names hako would not accept are
    /// skipped; a missing lxcpath is an empty list, a file given as the lxcpath an error.
    pub fn list_all(&self) -> Result<Vec<Listed>, StoreError> {
        let rd = match fs::read_dir(&self.lxcpath) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => {
                return Err(StoreError::other(format!(
                    "cannot list the containers in \"{}\": it is not a directory; pass the directory that holds the containers with -P (or none for the default)",
                    self.lxcpath.display()
                )))
            }
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
            if validate_name(&name).is_err() {
                continue;
            }
            match classify(&self.container_dir(&name)) {
                DirState::Complete => names.push(Listed {
                    name,
                    partial: None,
                }),
                DirState::Partial(_) => {
                    let partial = self.partial(&name);
                    names.push(Listed { name, partial });
                }
                DirState::Missing | DirState::Foreign => {}
            }
        }
        names.sort_by(|a, b| a.name.cmp(&b.name));
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
                r => {
                    let lock = r?.remove_unless_exists(self.container_dir(name));
                    // what a killed restore left is finished (or undone) before anything
                    // else looks at the container
                    self.finish_restore(name)?;
                    return Ok(lock);
                }
            }
        }
    }

    /// Removes a lock file that a killed command left for a name that is no container
    /// (nothing at `<lxcpath>/<name>`); a lock someone holds is left alone.
    pub fn drop_stale_lock(&self, name: &str) {
        if validate_name(name).is_err()
            || fs::symlink_metadata(self.lock_path(name)).is_err()
            || fs::symlink_metadata(self.container_dir(name)).is_ok()
        {
            return;
        }
        // taken and dropped at once: the lock removes its file when there is no container
        drop(self.lock(name, Duration::ZERO));
    }

    /// Removes the container: its directory (rootfs included; symlinks are removed, never
    /// followed; nothing mounted below it may remain, else nothing is touched and the error
    /// names the mount), its runtime directory and its lock file. A half-made container is
    /// removed the same way, and so are its half-made snapshots; complete snapshots and
    /// containers that depend on it make it refuse. The caller has checked that the
    /// container is stopped, and should hold its lock.
    ///
    /// Crash-consistent: the directory is marked "partial" (destroy) before the first file
    /// goes and the marker is removed after the last, so a destroy killed half-way (or
    /// failing) leaves a half-destroyed container that `ls` lists and the next destroy
    /// finishes. The marker is written even on a full disk.
    pub fn destroy(&self, name: &str) -> Result<(), StoreError> {
        self.destroy_inner(name, false)
    }

    fn destroy_inner(&self, name: &str, with_snapshots: bool) -> Result<(), StoreError> {
        validate_name(name)?;
        let dir = self.container_dir(name);
        let op = format!("destroy container \"{name}\"");
        match classify(&dir) {
            DirState::Missing => {
                return Err(StoreError::NotFound {
                    name: name.to_string(),
                    lxcpath: self.lxcpath.clone(),
                })
            }
            DirState::Foreign => {
                return Err(StoreError::other(format!(
                    "cannot destroy container \"{name}\": {} has no config file, so it is not a container; remove it by hand if it is not needed",
                    dir.display()
                )))
            }
            DirState::Partial(_) => {}
            DirState::Complete => {
                check_no_mounts(&dir, &op)?;
                // what depends on it: snapshot clones that use its layers
                let users = refs::live_users(&dir);
                if !users.is_empty() {
                    let lxcpath = canonical_maybe_missing(&self.lxcpath);
                    let shown: Vec<String> = users
                        .iter()
                        .map(|u| {
                            let who = refs::describe_user(u, Some(&self.lxcpath));
                            match (classify(u), u.file_name()) {
                                // a clone whose copy was interrupted: it goes by name
                                (DirState::Partial(_), Some(n)) if u.parent() == Some(lxcpath.as_path()) => format!(
                                    "{who} (half-made: remove it with \"hako destroy {}\")",
                                    n.to_string_lossy()
                                ),
                                _ => who,
                            }
                        })
                        .collect();
                    return Err(StoreError::other(format!(
                        "cannot destroy container \"{name}\": {} {} {} on it (snapshot clones whose lower layer is its root filesystem); destroy {} first",
                        if users.len() == 1 { "container" } else { "containers" },
                        shown.join(", "),
                        if users.len() == 1 { "depends" } else { "depend" },
                        if users.len() == 1 { "it" } else { "them" }
                    )));
                }
                let n = self.complete_snapshots(name);
                if n > 0 && !with_snapshots {
                    return Err(StoreError::other(format!(
                        "cannot destroy container \"{name}\": it has {n} snapshot(s) in {}; destroy them with it (\"hako destroy {name} -s\") or delete them first (\"hako snapshot {name} -d SNAP\")",
                        self.container_dir(name).join("snaps").display()
                    )));
                }
            }
        }
        self.remove_container_dir(&dir, &op)?;
        self.free_id_range(name);
        self.remove_runtime_files(name)
    }

    /// Frees the id range `name` had (see [`crate::subid`]), once its directory is gone.
    /// A failure is only logged: an entry whose container is gone is stale, and handed
    /// out again by the next allocation anyway.
    pub(crate) fn free_id_range(&self, name: &str) {
        if let Err(e) = crate::IdRanges::from_env().and_then(|r| r.free(&self.config_path(name))) {
            tracing::warn!("container \"{name}\" was removed, but its id range was not freed: {e}");
        }
    }

    /// [`Store::destroy`] with the container's snapshots (`destroy -s`): they go first,
    /// each crash-consistently, once everything else that could refuse the destroy has
    /// been checked. The caller holds the container's lock.
    pub fn destroy_with_snapshots(&self, name: &str) -> Result<(), StoreError> {
        self.destroy_inner(name, true)
    }

    /// Removes a container's (or snapshot's) directory, crash-consistently: it is marked
    /// half-removed first (unless it already has a marker; on a full disk the marker is
    /// an empty file), then its snapshots go (each the same way), then the rest (btrfs
    /// subvolumes with the btrfs tool, everything else without following symlinks or
    /// crossing mounts), then the marker, then the directory. It is unregistered from the
    /// images and containers it used. A missing directory is fine.
    pub(crate) fn remove_container_dir(&self, dir: &Path, op: &str) -> Result<(), StoreError> {
        if fs::symlink_metadata(dir).is_err() {
            return Ok(());
        }
        let uses = refs::read_uses(dir);
        check_no_mounts(dir, op)?;
        if fsutil::marker(dir).is_none() {
            fsutil::mark(dir, "destroy", true).map_err(|e| {
                StoreError::io(
                    format!("{op}: mark it as being removed"),
                    dir.join(PARTIAL_MARKER),
                    e,
                    "check the filesystem",
                )
            })?;
        }
        let snaps = dir.join("snaps");
        if let Ok(rd) = fs::read_dir(&snaps) {
            for e in rd.flatten() {
                if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                    self.remove_container_dir(&e.path(), op)?;
                }
            }
        }
        crate::backing::delete_subvolumes_below(dir)?;
        remove_contents(dir, Some(std::ffi::OsStr::new(PARTIAL_MARKER)), op)?;
        refs::unregister_all(dir, &uses);
        let marker = dir.join(PARTIAL_MARKER);
        match fs::remove_file(&marker) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(StoreError::io(op, &marker, e, "remove it by hand")),
        }
        fs::remove_dir(dir).map_err(|e| StoreError::io(op, dir, e, "remove it by hand"))
    }

    /// How many complete snapshots `name` has (half-made ones do not count: they go with
    /// the container).
    pub(crate) fn complete_snapshots(&self, name: &str) -> usize {
        fs::read_dir(self.container_dir(name).join("snaps"))
            .map(|rd| {
                rd.flatten()
                    .filter(|e| classify(&e.path()) == DirState::Complete)
                    .count()
            })
            .unwrap_or(0)
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
mod tests;
