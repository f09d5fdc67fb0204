//! Snapshots of a container (`lxc-snapshot`): take, list, delete, restore, and the
//! finishing of a restore a kill interrupted.

use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::{build_rootfs, copy_config, load_source, timestamp, SnapshotInfo, LOCK_TIMEOUT};
use crate::backing::{mkdir_mode, RootfsSpec};
use crate::create::{finish_new_dir, new_marked_dir, write_config};
use crate::fsutil::{classify, DirState};
use crate::paths::validate_name;
use crate::progress::stderr_is_terminal;
use crate::refs;
use crate::{Partial, Store, StoreError};

impl Store {
    /// Takes a snapshot of stopped container `name` into `name/snaps/snapN`; returns its
    /// name. `comment` is kept with it.
    pub fn snapshot(
        &self,
        name: &str,
        comment: Option<&str>,
        running: &dyn Fn(&str) -> bool,
    ) -> Result<String, StoreError> {
        self.check_exists(name)?;
        let _lock = self.lock(name, LOCK_TIMEOUT)?;
        self.check_exists(name)?;
        if running(name) {
            return Err(StoreError::other(format!(
                "cannot snapshot container \"{name}\": it is running, and a snapshot of a live root filesystem is not consistent; stop it first (\"hako stop {name}\")"
            )));
        }
        let what = format!("snapshot container \"{name}\"");
        let source = load_source(&self.container_dir(name), &format!("container \"{name}\""))?;
        let snaps = self.snaps_dir(name);
        if !snaps.is_dir() {
            mkdir_mode(&snaps, 0o755).map_err(|e| e.context(&what, name))?;
        }
        let (snap, sdir) = match new_snapshot_dir(&snaps) {
            Ok(s) => s,
            Err(e) => {
                let _ = fs::remove_dir(&snaps);
                return Err(e.context(&what, name));
            }
        };
        let r = (|| {
            mkdir_mode(&sdir.join("rootfs"), 0o755)?;
            let progress = stderr_is_terminal();
            let target = source.spec.backing();
            let spec = build_rootfs(&source, &sdir, target, false, progress)?;
            if let RootfsSpec::Overlay { .. } = spec {
                for o in &source.uses {
                    refs::register(o, &sdir)?;
                }
            }
            let doc = copy_config(&source.config, &source.dir, &sdir, name, &spec, true, true)?;
            if let Some(c) = comment {
                refs::write_atomic(&sdir.join("comment"), c.as_bytes())?;
            }
            refs::write_atomic(
                &sdir.join("ts"),
                format!("{}\n", timestamp(SystemTime::now())).as_bytes(),
            )?;
            write_config(&sdir.join("config"), &doc.render())?;
            // the commit point: complete from here
            finish_new_dir(&sdir)
        })();
        match r {
            Ok(()) => Ok(snap),
            Err(e) => {
                let cleanup =
                    self.remove_container_dir(&sdir, "clean up after the failed snapshot");
                let _ = fs::remove_dir(&snaps);
                match cleanup {
                    Ok(()) => Err(e.context(&what, name)),
                    Err(c) => Err(StoreError::other(format!(
                        "{}; and the cleanup failed too: {c}",
                        e.context(&what, name)
                    ))),
                }
            }
        }
    }

    /// The snapshots of `name`, oldest first.
    pub fn snapshots(&self, name: &str) -> Result<Vec<SnapshotInfo>, StoreError> {
        self.check_exists(name)?;
        let snaps = self.snaps_dir(name);
        let rd = match fs::read_dir(&snaps) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(StoreError::io(
                    "list the snapshots in",
                    &snaps,
                    e,
                    "check the permissions",
                ))
            }
        };
        let mut out = Vec::new();
        let busy = crate::lock::holder(&self.lock_path(name));
        for e in rd.flatten() {
            let dir = e.path();
            let Some(n) = e.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if validate_name(&n).is_err() {
                continue;
            }
            let partial = match classify(&dir) {
                DirState::Complete => None,
                DirState::Partial(operation) => Some(Partial { operation, busy }),
                DirState::Missing | DirState::Foreign => continue,
            };
            out.push(SnapshotInfo {
                created: if partial.is_some() {
                    String::new()
                } else {
                    fs::read_to_string(dir.join("ts"))
                        .unwrap_or_default()
                        .trim()
                        .to_string()
                },
                comment: fs::read_to_string(dir.join("comment"))
                    .ok()
                    .map(|c| c.trim_end().to_string()),
                name: n,
                dir,
                partial,
            });
        }
        out.sort_by_key(|s| {
            (
                s.name
                    .strip_prefix("snap")
                    .and_then(|n| n.parse::<u64>().ok())
                    .unwrap_or(u64::MAX),
                s.name.clone(),
            )
        });
        Ok(out)
    }

    /// The directory of snapshot `snap` of `name`: a complete one, or (`partial_too`, to
    /// delete it) a half-made one.
    fn snapshot_dir(
        &self,
        name: &str,
        snap: &str,
        partial_too: bool,
    ) -> Result<PathBuf, StoreError> {
        validate_name(snap).map_err(|_| {
            StoreError::other(format!(
                "invalid snapshot name \"{snap}\"; snapshots are named snap0, snap1, ..."
            ))
        })?;
        let d = self.snaps_dir(name).join(snap);
        match classify(&d) {
            DirState::Complete => return Ok(d),
            DirState::Partial(_) if partial_too => return Ok(d),
            DirState::Partial(operation) => {
                let p = Partial {
                    operation,
                    busy: None,
                };
                return Err(StoreError::other(format!(
                    "snapshot {snap} of container \"{name}\" is half-made ({}) and cannot be restored; delete it with \"hako snapshot {name} -d {snap}\"",
                    p.describe()
                )));
            }
            DirState::Missing | DirState::Foreign => {}
        }
        let have: Vec<String> = self.snapshots(name)?.into_iter().map(|s| s.name).collect();
        Err(StoreError::other(format!(
            "container \"{name}\" has no snapshot \"{snap}\"; its snapshots are: {} (\"hako snapshot {name} -L\")",
            if have.is_empty() { "none".to_string() } else { have.join(", ") }
        )))
    }

    /// Deletes snapshot `snap` of `name` (a half-made one too).
    pub fn delete_snapshot(&self, name: &str, snap: &str) -> Result<(), StoreError> {
        self.check_exists(name)?;
        let _lock = self.lock(name, LOCK_TIMEOUT)?;
        let d = self.snapshot_dir(name, snap, true)?;
        self.remove_container_dir(
            &d,
            &format!("delete snapshot {snap} of container \"{name}\""),
        )?;
        let _ = fs::remove_dir(self.snaps_dir(name));
        Ok(())
    }

    /// Deletes every snapshot of `name`, half-made ones too (destroy -s).
    pub fn delete_all_snapshots(&self, name: &str) -> Result<(), StoreError> {
        for s in self.snapshots(name)? {
            self.delete_snapshot(name, &s.name)?;
        }
        Ok(())
    }

    /// Restores snapshot `snap` of `name`: into `name` itself (its root filesystem and
    /// config are replaced; it must be stopped), or into a new container `new_name`.
    pub fn restore_snapshot(
        &self,
        name: &str,
        snap: &str,
        new_name: Option<&str>,
        running: &dyn Fn(&str) -> bool,
    ) -> Result<(), StoreError> {
        self.check_exists(name)?;
        match new_name {
            Some(n) if n != name => {
                validate_name(n)?;
                if self.exists(n) {
                    return Err(StoreError::Exists {
                        name: n.to_string(),
                        lxcpath: self.lxcpath().to_path_buf(),
                    });
                }
                let _lock = self.lock(name, LOCK_TIMEOUT)?;
                let _new_lock = self.lock(n, crate::CREATE_LOCK_TIMEOUT)?;
                let sdir = self.snapshot_dir(name, snap, false)?;
                let source = load_source(&sdir, &format!("snapshot {snap} of \"{name}\""))?;
                let target = source.spec.backing();
                self.make_copy(
                    &source, n, "restore", target, false, false, false, false, false,
                )
                .map_err(|e| {
                    e.context(
                        &format!("restore snapshot {snap} of \"{name}\" into \"{n}\""),
                        n,
                    )
                })
            }
            _ => {
                let _lock = self.lock(name, LOCK_TIMEOUT)?;
                if running(name) {
                    return Err(StoreError::other(format!(
                        "cannot restore snapshot {snap} into container \"{name}\": it is running; stop it first (\"hako stop {name}\"), or restore into a new container with -N NEW"
                    )));
                }
                let sdir = self.snapshot_dir(name, snap, false)?;
                self.restore_in_place(name, &sdir).map_err(|e| {
                    e.context(
                        &format!("restore snapshot {snap} into container \"{name}\""),
                        name,
                    )
                })
            }
        }
    }

    /// Replaces the root filesystem and config of stopped container `name` with those of
    /// the snapshot in `sdir`, crash-consistently: the restored storage and config are
    /// built in `NAME/.restore` next to the live ones (a kill there leaves the container as
    /// it was, and the stage is removed by the next command that takes the lock); then a
    /// commit record is written, after which the storage is swapped in with one
    /// rename(RENAME_EXCHANGE) and the config with one rename ([`Store::finish_restore`],
    /// which the next lock holder runs again if this one is killed half-way).
    fn restore_in_place(&self, name: &str, sdir: &Path) -> Result<(), StoreError> {
        let dir = self.container_dir(name);
        let source = load_source(sdir, &format!("a snapshot of \"{name}\""))?;
        let current = load_source(&dir, &format!("container \"{name}\""))?;
        if source.spec.backing() != current.spec.backing() {
            return Err(StoreError::other(format!(
                "cannot restore into container \"{name}\": the snapshot's root filesystem is a {} and the container's a {}; restore it into a new container with -N NEW",
                source.spec.backing().as_str(),
                current.spec.backing().as_str()
            )));
        }
        if !crate::remove::mounts_below(&fs::canonicalize(&dir).unwrap_or(dir.clone()))?.is_empty()
        {
            return Err(StoreError::other(format!(
                "cannot restore container \"{name}\": something is mounted below {}; stop it first",
                dir.display()
            )));
        }
        // a stage left by a killed restore was dealt with when we took the lock
        self.finish_restore(name)?;
        let stage = dir.join(RESTORE_STAGE);
        mkdir_mode(&stage, 0o750)?;
        let r = (|| {
            mkdir_mode(&stage.join("rootfs"), 0o755)?;
            let staged = build_rootfs(
                &source,
                &stage,
                source.spec.backing(),
                false,
                stderr_is_terminal(),
            )?;
            // the restored config names the container's own paths
            let (unit, new_spec) = match &staged {
                RootfsSpec::Overlay { lowers, .. } => (
                    "overlay",
                    RootfsSpec::Overlay {
                        lowers: lowers.clone(),
                        upper: dir.join("overlay/upper"),
                    },
                ),
                RootfsSpec::Dir(_) => ("rootfs", RootfsSpec::Dir(dir.join("rootfs"))),
                RootfsSpec::Btrfs(_) => ("rootfs", RootfsSpec::Btrfs(dir.join("rootfs"))),
            };
            let doc = copy_config(&source.config, sdir, &dir, name, &new_spec, true, true)?;
            write_config(&stage.join("config"), &doc.render())?;
            for o in &source.uses {
                refs::register(o, &dir)?;
            }
            let m = fs::symlink_metadata(stage.join(unit))
                .map_err(|e| StoreError::io("read", stage.join(unit), e, "check the filesystem"))?;
            refs::write_atomic(
                &stage.join(RESTORE_COMMIT),
                format!("{unit}\n{}:{}\n", m.dev(), m.ino()).as_bytes(),
            )
        })();
        if let Err(e) = r {
            let _ = remove_stage(&stage);
            return Err(e);
        }
        self.finish_restore(name)
    }

    /// Finishes what a restore into `name` left in `NAME/.restore`: with a commit record,
    /// the staged storage is swapped in (unless it already was: the record names it by
    /// inode) and the staged config renamed over the live one; without one, the stage was
    /// unfinished. Either way the stage (then holding the old storage, or a partial new
    /// one) is removed. Nothing to do when there is no stage. Run under the lock.
    pub(crate) fn finish_restore(&self, name: &str) -> Result<(), StoreError> {
        let dir = self.container_dir(name);
        let stage = dir.join(RESTORE_STAGE);
        if fs::symlink_metadata(&stage).is_err() {
            return Ok(());
        }
        let what = format!("finish the restore of container \"{name}\"");
        if let Some((unit, dev, ino)) = read_commit(&stage) {
            let live = dir.join(&unit);
            let staged = stage.join(&unit);
            let swapped = fs::symlink_metadata(&live)
                .map(|m| m.dev() == dev && m.ino() == ino)
                .unwrap_or(false);
            if !swapped {
                let r = if fs::symlink_metadata(&live).is_ok() {
                    crate::fsutil::exchange(&live, &staged)
                } else {
                    crate::fsutil::rename_noreplace(&staged, &live)
                };
                r.map_err(|e| StoreError::io(&what, &live, e, "check the filesystem"))?;
            }
            let cfg = stage.join("config");
            if fs::symlink_metadata(&cfg).is_ok() {
                fs::rename(&cfg, dir.join("config"))
                    .map_err(|e| StoreError::io(&what, &cfg, e, "check the filesystem"))?;
            }
            crate::fsutil::sync_dir(&dir)
                .map_err(|e| StoreError::io(&what, &dir, e, "check the filesystem"))?;
        }
        remove_stage(&stage)
    }
}

/// Where a restore builds the new storage and config, inside the container's directory.
pub(super) const RESTORE_STAGE: &str = ".restore";
/// In the stage: `UNIT\nDEV:INO\n`, written once the stage is complete (the commit point).
pub(super) const RESTORE_COMMIT: &str = "commit";

fn read_commit(stage: &Path) -> Option<(String, u64, u64)> {
    let t = fs::read_to_string(stage.join(RESTORE_COMMIT)).ok()?;
    let mut l = t.lines();
    let unit = l.next()?.trim();
    if unit != "overlay" && unit != "rootfs" {
        return None;
    }
    let (dev, ino) = l.next()?.trim().split_once(':')?;
    Some((unit.to_string(), dev.parse().ok()?, ino.parse().ok()?))
}

/// Removes a restore's stage (btrfs subvolumes in it with the btrfs tool).
fn remove_stage(stage: &Path) -> Result<(), StoreError> {
    crate::backing::delete_subvolumes_below(stage)?;
    crate::remove::remove_tree(stage, "remove the stage of a snapshot restore")
}

/// Makes the directory of the next snapshot below `snaps`, marked half-made: `snapN` with N
/// one above every `snapN` there (half-made ones included, so a name is never reused while
/// anything is left of it).
pub(super) fn new_snapshot_dir(snaps: &Path) -> Result<(String, PathBuf), StoreError> {
    let mut next = fs::read_dir(snaps)
        .map_err(|e| StoreError::io("list the snapshots in", snaps, e, "check the filesystem"))?
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_prefix("snap")?
                .parse::<u32>()
                .ok()
        })
        .max()
        .map(|n| n + 1)
        .unwrap_or(0);
    loop {
        let snap = format!("snap{next}");
        let sdir = snaps.join(&snap);
        if fs::symlink_metadata(&sdir).is_ok() {
            next += 1;
            continue;
        }
        new_marked_dir(&sdir, "snapshot", 0o750)?;
        return Ok((snap, sdir));
    }
}
