//! Copies, snapshot clones and snapshots (`lxc-copy`, `lxc-snapshot`).
//!
//! - A full copy (`copy SRC NEW`) is independent of SRC: `dir` and `btrfs` copy the whole
//!   root filesystem (btrfs by a subvolume snapshot); `overlay` keeps SRC's lower layers
//!   (an image, registered) and copies SRC's upper layer.
//! - A snapshot clone (`copy -s`) is an overlay whose lower layers are SRC's upper layer
//!   stacked on SRC's lower layers (or SRC's rootfs for a dir container), or a btrfs
//!   snapshot. SRC records the clone as a user and cannot be destroyed while it exists.
//! - Snapshots of NAME live in `NAME/snaps/snapN/` (config, root filesystem or upper layer,
//!   `ts`, `comment`), as LXC keeps them.
//!
//! Every copy gets its own hostname, MAC addresses, machine id and SSH host keys.

use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::backing::{
    btrfs_snapshot, btrfs_subvolume_create, check_overlay_path, copy_tree, is_on_btrfs, mkdir_mode,
    overlay_workdir, same_attributes, Backing, RootfsSpec, BACKINGS,
};
use crate::cfg::{self, Doc};
use crate::create::{finish_new_dir, new_marked_dir, write_config};
use crate::fsutil::{classify, DirState};
use crate::paths::validate_name;
use crate::progress::{stderr_is_terminal, Progress};
use crate::refs;
use crate::{identity, Partial, Store, StoreError};

/// How long copy and snapshot wait for a lock another command holds.
const LOCK_TIMEOUT: Duration = Duration::from_secs(30);

/// What `copy` makes.
#[derive(Clone, Debug, Default)]
pub struct CopySpec {
    pub src: String,
    pub new: String,
    /// `-s`: a snapshot clone (overlay or btrfs), which depends on SRC.
    pub snapshot: bool,
    /// `-B`: the new container's backing store; "" keeps SRC's (overlay for `-s` of a
    /// dir container).
    pub backing: String,
    /// `-e`: set `lxc.ephemeral = 1` (the caller starts it; it is destroyed when it stops).
    pub ephemeral: bool,
    /// `-K`: keep SRC's hostname.
    pub keep_name: bool,
    /// `-M`: keep SRC's MAC addresses.
    pub keep_mac: bool,
    pub quiet: bool,
}

/// One snapshot, as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotInfo {
    /// `snap0`, `snap1`, ...
    pub name: String,
    pub dir: PathBuf,
    /// when it was taken, `YYYY:MM:DD HH:MM:SS` (UTC), as LXC's `ts` file ("" for a
    /// half-made one)
    pub created: String,
    pub comment: Option<String>,
    /// Some for a half-made snapshot (a snapshot command that was killed or failed and
    /// could not clean up): it cannot be restored; `snapshot -d` removes it.
    pub partial: Option<Partial>,
}

/// A container or a snapshot to copy from.
struct Source {
    dir: PathBuf,
    config: String,
    spec: RootfsSpec,
    uses: Vec<PathBuf>,
}

fn load_source(dir: &Path, what: &str) -> Result<Source, StoreError> {
    let cpath = dir.join("config");
    let config = cfg::read_config_text(&cpath).map_err(|e| {
        StoreError::io(
            format!("read the config of {what}"),
            &cpath,
            e,
            "check the container",
        )
    })?;
    let doc = Doc::parse(&config, &cpath).map_err(|e| StoreError::config(what, e))?;
    let rootfs = doc.get("lxc.rootfs.path").unwrap_or("").to_string();
    let spec = RootfsSpec::parse(&rootfs).ok_or_else(|| {
        StoreError::other(format!(
            "cannot copy {what}: its lxc.rootfs.path \"{rootfs}\" is not a dir, overlay or btrfs root filesystem hako can copy; copy it by hand"
        ))
    })?;
    Ok(Source {
        dir: dir.to_path_buf(),
        config,
        spec,
        uses: refs::read_uses(dir),
    })
}

/// `YYYY:MM:DD HH:MM:SS` in UTC.
pub(crate) fn timestamp(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86400, secs % 86400);
    // civil date from days since 1970-01-01 (Howard Hinnant's algorithm)
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    format!(
        "{y:04}:{m:02}:{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The config of a copy: SRC's text with SRC's directory replaced by the new one, the new
/// root filesystem, hostname and (unless kept) fresh MAC addresses.
pub(crate) fn copy_config(
    src_text: &str,
    src_dir: &Path,
    new_dir: &Path,
    new_name: &str,
    rootfs: &RootfsSpec,
    keep_name: bool,
    keep_mac: bool,
) -> Result<Doc, StoreError> {
    let from = format!("{}/", src_dir.display());
    let to = format!("{}/", new_dir.display());
    let text = src_text.replace(&from, &to);
    let mut doc =
        Doc::parse(&text, &new_dir.join("config")).map_err(|e| StoreError::config(new_name, e))?;
    doc.set("lxc.rootfs.path", &rootfs.render());
    if !keep_name {
        doc.set("lxc.uts.name", &cfg::hostname_from_name(new_name));
    }
    if !keep_mac {
        let macs: Vec<(String, String)> = doc
            .entries()
            .filter(|(k, _)| k.starts_with("lxc.net.") && k.ends_with(".hwaddr"))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        for (k, v) in macs {
            // keep the vendor part (the first three octets), as LXC does
            let parts: Vec<&str> = v.split(':').collect();
            if parts.len() == 6 {
                doc.set(
                    &k,
                    &format!("{}:{}:{}:xx:xx:xx", parts[0], parts[1], parts[2]),
                );
            }
        }
        cfg::randomize_hwaddrs(&mut doc);
    }
    Ok(doc)
}

impl Store {
    fn snaps_dir(&self, name: &str) -> PathBuf {
        self.container_dir(name).join("snaps")
    }

    fn check_exists(&self, name: &str) -> Result<(), StoreError> {
        validate_name(name)?;
        if !self.exists(name) {
            return Err(self.not_usable(name));
        }
        Ok(())
    }

    /// Copies SRC into the new container NEW (see the module's doc). `running` tells
    /// whether a container is running; it is asked while SRC's lock is held, and a running
    /// SRC is refused. All or nothing: a failure leaves no NEW.
    pub fn copy(&self, spec: &CopySpec, running: &dyn Fn(&str) -> bool) -> Result<(), StoreError> {
        let (src, new) = (spec.src.as_str(), spec.new.as_str());
        self.check_exists(src)?;
        validate_name(new)?;
        if self.exists(new) {
            return Err(StoreError::Exists {
                name: new.to_string(),
                lxcpath: self.lxcpath().to_path_buf(),
            });
        }
        if src == new {
            return Err(StoreError::other(format!(
                "cannot copy container \"{src}\" onto itself; give the copy another name"
            )));
        }
        let _src_lock = self.lock(src, LOCK_TIMEOUT)?;
        let _new_lock = self.lock(new, crate::CREATE_LOCK_TIMEOUT)?;
        // destroyed while we waited for its lock?
        self.check_exists(src)?;
        if running(src) {
            return Err(StoreError::other(format!(
                "cannot copy container \"{src}\": it is running, and a copy of a live root filesystem is not consistent; stop it first (\"hako stop {src}\")"
            )));
        }
        let source = load_source(&self.container_dir(src), &format!("container \"{src}\""))?;
        let target = self.copy_target(spec, &source)?;
        self.make_copy(
            &source,
            new,
            "copy",
            target,
            spec.snapshot,
            spec.keep_name,
            spec.keep_mac,
            spec.ephemeral,
            spec.quiet,
        )
        .map_err(|e| e.context(&format!("copy container \"{src}\" to \"{new}\""), new))
    }

    fn copy_target(&self, spec: &CopySpec, source: &Source) -> Result<Backing, StoreError> {
        let (src, new) = (spec.src.as_str(), spec.new.as_str());
        let asked = match spec.backing.as_str() {
            "" => None,
            b => Some(Backing::parse(b).ok_or_else(|| {
                StoreError::other(format!(
                    "cannot copy container \"{src}\": backing store \"{b}\" is not supported; the available ones are: {}",
                    BACKINGS.join(", ")
                ))
            })?),
        };
        let from = source.spec.backing();
        let target = match (spec.snapshot, asked) {
            (true, Some(Backing::Dir)) => {
                return Err(StoreError::other(format!(
                    "cannot make a snapshot clone of \"{src}\" with -B dir: a dir cannot share its files; use -B overlay (or btrfs), or drop -s for a full copy"
                )))
            }
            (true, Some(b)) => b,
            (true, None) if from == Backing::Btrfs => Backing::Btrfs,
            (true, None) => Backing::Overlay,
            (false, Some(b)) => b,
            (false, None) => from,
        };
        if !spec.snapshot && target == Backing::Overlay && from != Backing::Overlay {
            return Err(StoreError::other(format!(
                "cannot copy container \"{src}\" to an overlay: it is a {} container, which has no layers to share; use -s for an overlay snapshot clone, or -B {}",
                from.as_str(),
                from.as_str()
            )));
        }
        if target == Backing::Btrfs && !is_on_btrfs(self.lxcpath()) {
            return Err(StoreError::other(format!(
                "cannot copy container \"{src}\" to \"{new}\" with btrfs: the lxcpath {} is not on a btrfs filesystem; use -B dir or overlay",
                self.lxcpath().display()
            )));
        }
        if spec.snapshot && target == Backing::Btrfs && from != Backing::Btrfs {
            return Err(StoreError::other(format!(
                "cannot make a btrfs snapshot of \"{src}\": its root filesystem is a {}, not a btrfs subvolume; use -B overlay",
                from.as_str()
            )));
        }
        Ok(target)
    }

    /// Makes container `new` from `source` with `target` backing; `snapshot`: share
    /// `source`'s files (overlay lower layers or btrfs snapshot) instead of copying them.
    #[allow(clippy::too_many_arguments)]
    fn make_copy(
        &self,
        source: &Source,
        new: &str,
        op: &str,
        target: Backing,
        snapshot: bool,
        keep_name: bool,
        keep_mac: bool,
        ephemeral: bool,
        quiet: bool,
    ) -> Result<(), StoreError> {
        let dir = self.new_container_dir(new, op)?;
        let r = self.fill_copy(
            source, new, target, snapshot, keep_name, keep_mac, ephemeral, quiet,
        );
        match r {
            Ok(()) => Ok(()),
            Err(e) => {
                let cleanup = self
                    .remove_container_dir(
                        &dir,
                        &format!("clean up after the failed copy to \"{new}\""),
                    )
                    .and_then(|_| self.remove_runtime_files(new));
                self.free_id_range(new);
                match cleanup {
                    Ok(()) => Err(e),
                    Err(c) => Err(StoreError::other(format!(
                        "{e}; and the cleanup failed too: {c}"
                    ))),
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn fill_copy(
        &self,
        source: &Source,
        new: &str,
        target: Backing,
        snapshot: bool,
        keep_name: bool,
        keep_mac: bool,
        ephemeral: bool,
        quiet: bool,
    ) -> Result<(), StoreError> {
        let dir = self.container_dir(new);
        let rootfs = dir.join("rootfs");
        mkdir_mode(&rootfs, 0o755)?;
        let progress = !quiet && stderr_is_terminal();
        let spec = build_rootfs(source, &dir, target, snapshot, progress)?;
        // registrations: what the source uses, the new container uses too; a snapshot
        // clone also uses the source itself
        // (a dir or btrfs copy stands on its own)
        let mut owners = Vec::new();
        if let RootfsSpec::Overlay { .. } = spec {
            owners = source.uses.clone();
            if snapshot {
                owners.push(source.dir.clone());
            }
        }
        for o in &owners {
            refs::register(o, &dir)?;
        }
        let mut doc = copy_config(
            &source.config,
            &source.dir,
            &dir,
            new,
            &spec,
            keep_name,
            keep_mac,
        )?;
        if ephemeral {
            doc.set("lxc.ephemeral", "1");
        }
        self.own_id_range(&mut doc, new)?;
        let hostname = match doc.get("lxc.uts.name") {
            Some(h) if keep_name => h.to_string(),
            _ => cfg::hostname_from_name(new),
        };
        crate::view::in_rootfs(&spec, &rootfs, &|root| {
            if keep_name {
                // the same name, but a machine of its own
                if root.join("etc/machine-id").exists() {
                    identity::set_machine_id(root)?;
                }
                identity::new_ssh_host_keys(root, &hostname)
            } else {
                identity::refresh_identity(root, &hostname)
            }
        })?;
        write_config(&dir.join("config"), &doc.render())?;
        cfg::validate_file(&dir.join("config")).map_err(|e| StoreError::config(new, e))?;
        // the commit point: complete from here
        finish_new_dir(&dir)
    }

    /// A copy of a container with a range of its own gets a range of its own too (the
    /// `hako` face; `lxc-copy` keeps the config's lines as they are, as LXC does). A
    /// privileged source gives a privileged copy; a map written by hand is kept.
    fn own_id_range(&self, doc: &mut Doc, new: &str) -> Result<(), StoreError> {
        if self.flavour() != crate::Flavour::Hako
            || crate::subid::allocated_range(doc.get_all("lxc.idmap")).is_none()
        {
            return Ok(());
        }
        let lines = crate::IdRanges::from_env()?
            .allocate_idmap(&self.config_path(new), &format!("container \"{new}\""))?;
        doc.unset("lxc.idmap");
        for v in lines {
            doc.append("lxc.idmap", &v);
        }
        Ok(())
    }

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
const RESTORE_STAGE: &str = ".restore";
/// In the stage: `UNIT\nDEV:INO\n`, written once the stage is complete (the commit point).
const RESTORE_COMMIT: &str = "commit";

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
fn new_snapshot_dir(snaps: &Path) -> Result<(String, PathBuf), StoreError> {
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

/// Makes the root filesystem of a copy in `dir` (which holds an empty `rootfs`).
fn build_rootfs(
    source: &Source,
    dir: &Path,
    target: Backing,
    snapshot: bool,
    progress: bool,
) -> Result<RootfsSpec, StoreError> {
    let rootfs = dir.join("rootfs");
    let mut p = Progress::new(format!("copying {}", source.dir.display()), progress);
    let r = match (target, &source.spec) {
        (Backing::Overlay, RootfsSpec::Overlay { lowers, upper }) => {
            let new_upper = dir.join("overlay/upper");
            mkdir_mode(&dir.join("overlay"), 0o755)?;
            let lowers = if snapshot {
                let mut l = vec![upper.clone()];
                l.extend(lowers.iter().cloned());
                mkdir_mode(&new_upper, 0o755)?;
                same_attributes(upper, &new_upper)?;
                l
            } else {
                mkdir_mode(&new_upper, 0o755)?;
                copy_tree(upper, &new_upper, &mut |s| {
                    p.set(&format!("{} files", s.entries))
                })?;
                lowers.clone()
            };
            for l in &lowers {
                check_overlay_path(l, "lower layer")?;
            }
            check_overlay_path(&new_upper, "upper layer")?;
            mkdir_mode(&overlay_workdir(&new_upper), 0o755)?;
            RootfsSpec::Overlay {
                lowers,
                upper: new_upper,
            }
        }
        (Backing::Overlay, RootfsSpec::Dir(src) | RootfsSpec::Btrfs(src)) => {
            // an overlay snapshot clone of a dir (or btrfs) container: its rootfs is the lower layer
            let new_upper = dir.join("overlay/upper");
            check_overlay_path(src, "lower layer")?;
            check_overlay_path(&new_upper, "upper layer")?;
            mkdir_mode(&dir.join("overlay"), 0o755)?;
            mkdir_mode(&new_upper, 0o755)?;
            same_attributes(src, &new_upper)?;
            mkdir_mode(&overlay_workdir(&new_upper), 0o755)?;
            RootfsSpec::Overlay {
                lowers: vec![src.clone()],
                upper: new_upper,
            }
        }
        (Backing::Btrfs, RootfsSpec::Btrfs(src)) => {
            fs::remove_dir(&rootfs).map_err(|e| {
                StoreError::io(
                    "replace with a snapshot",
                    &rootfs,
                    e,
                    "check the filesystem",
                )
            })?;
            btrfs_snapshot(src, &rootfs)?;
            RootfsSpec::Btrfs(rootfs.clone())
        }
        (Backing::Dir | Backing::Btrfs, src_spec) => {
            if target == Backing::Btrfs {
                fs::remove_dir(&rootfs).map_err(|e| {
                    StoreError::io(
                        "replace with a subvolume",
                        &rootfs,
                        e,
                        "check the filesystem",
                    )
                })?;
                btrfs_subvolume_create(&rootfs)?;
            }
            let mountpoint = source.dir.join("rootfs");
            let dst = rootfs.clone();
            crate::view::with_rootfs(src_spec, &mountpoint, &|root| {
                copy_tree(root, &dst, &mut |_| {}).map(|_| ())
            })?;
            if target == Backing::Btrfs {
                RootfsSpec::Btrfs(rootfs.clone())
            } else {
                RootfsSpec::Dir(rootfs.clone())
            }
        }
    };
    p.finish("");
    Ok(r)
}

impl Store {
    /// Runs `f` with the root filesystem of container `name` at hand, as its clone hooks
    /// see it: the host path of a dir or btrfs root; an overlay mounted on `NAME/rootfs`
    /// in the mount namespace of a child process of its own, which `f` then runs in (its
    /// error comes back as text).
    pub fn with_rootfs_mounted(
        &self,
        name: &str,
        f: &dyn Fn(&Path) -> Result<(), String>,
    ) -> Result<(), StoreError> {
        let source = load_source(&self.container_dir(name), &format!("container \"{name}\""))?;
        crate::view::with_rootfs(&source.spec, &self.rootfs_path(name), &|root| {
            f(root).map_err(StoreError::Other)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(d: &Path) -> Store {
        Store::open_with(
            &d.join("lp"),
            crate::Flavour::Hako,
            &d.join("etc"),
            &d.join("run"),
        )
    }

    /// A dir container "web" whose rootfs holds `old`, and a restore stage holding `new`
    /// with its config, committed or not.
    fn staged_restore(s: &Store, commit: bool) -> PathBuf {
        let dir = s.container_dir("web");
        fs::create_dir_all(dir.join("rootfs")).unwrap();
        fs::write(dir.join("rootfs/version"), "old").unwrap();
        fs::write(dir.join("config"), "# old\n").unwrap();
        let stage = dir.join(RESTORE_STAGE);
        fs::create_dir_all(stage.join("rootfs")).unwrap();
        fs::write(stage.join("rootfs/version"), "new").unwrap();
        fs::write(stage.join("config"), "# new\n").unwrap();
        if commit {
            let m = fs::metadata(stage.join("rootfs")).unwrap();
            fs::write(
                stage.join(RESTORE_COMMIT),
                format!("rootfs\n{}:{}\n", m.dev(), m.ino()),
            )
            .unwrap();
        }
        dir
    }

    fn version(dir: &Path) -> (String, String) {
        (
            fs::read_to_string(dir.join("rootfs/version")).unwrap(),
            fs::read_to_string(dir.join("config")).unwrap(),
        )
    }

    #[test]
    fn a_killed_restore_is_finished_or_undone_by_the_next_lock() {
        let new = ("new".to_string(), "# new\n".to_string());
        let old = ("old".to_string(), "# old\n".to_string());
        // killed while staging (no commit record): the container stays as it was
        let d = tempfile::tempdir().unwrap();
        let s = store(d.path());
        let dir = staged_restore(&s, false);
        drop(s.lock("web", Duration::ZERO).unwrap());
        assert_eq!(version(&dir), old);
        assert!(!dir.join(RESTORE_STAGE).exists());
        // killed after the commit record, before the swap: rolled forward
        let d = tempfile::tempdir().unwrap();
        let s = store(d.path());
        let dir = staged_restore(&s, true);
        drop(s.lock("web", Duration::ZERO).unwrap());
        assert_eq!(version(&dir), new);
        assert!(!dir.join(RESTORE_STAGE).exists());
        // killed after the swap, before the config: the swap is not done twice
        let d = tempfile::tempdir().unwrap();
        let s = store(d.path());
        let dir = staged_restore(&s, true);
        crate::fsutil::exchange(&dir.join("rootfs"), &dir.join(".restore/rootfs")).unwrap();
        s.finish_restore("web").unwrap();
        assert_eq!(version(&dir), new);
        // killed after the config too, while removing the stage (the old storage)
        let d = tempfile::tempdir().unwrap();
        let s = store(d.path());
        let dir = staged_restore(&s, true);
        crate::fsutil::exchange(&dir.join("rootfs"), &dir.join(".restore/rootfs")).unwrap();
        fs::rename(dir.join(".restore/config"), dir.join("config")).unwrap();
        s.finish_restore("web").unwrap();
        assert_eq!(version(&dir), new);
        assert!(!dir.join(RESTORE_STAGE).exists());
        // and with the commit record already removed by that cleanup: the rest goes
        let d = tempfile::tempdir().unwrap();
        let s = store(d.path());
        let dir = staged_restore(&s, true);
        crate::fsutil::exchange(&dir.join("rootfs"), &dir.join(".restore/rootfs")).unwrap();
        fs::rename(dir.join(".restore/config"), dir.join("config")).unwrap();
        fs::remove_file(dir.join(".restore/commit")).unwrap();
        s.finish_restore("web").unwrap();
        assert_eq!(version(&dir), new);
        assert!(!dir.join(RESTORE_STAGE).exists());
        // nothing staged: nothing to do
        s.finish_restore("web").unwrap();
        s.finish_restore("nosuch").unwrap();
    }

    #[test]
    fn the_next_snapshot_never_reuses_a_name_in_use() {
        let d = tempfile::tempdir().unwrap();
        let snaps = d.path().join("snaps");
        fs::create_dir(&snaps).unwrap();
        assert_eq!(new_snapshot_dir(&snaps).unwrap().0, "snap0");
        // snap0 is half-made now (its marker says so); the next one is snap1
        assert_eq!(
            crate::fsutil::classify(&snaps.join("snap0")),
            DirState::Partial(Some("snapshot".into()))
        );
        assert_eq!(new_snapshot_dir(&snaps).unwrap().0, "snap1");
        // an empty directory left by a kill, and a file in the way, count as taken
        fs::create_dir(snaps.join("snap5")).unwrap();
        fs::write(snaps.join("snap6"), "").unwrap();
        let (name, dir) = new_snapshot_dir(&snaps).unwrap();
        assert_eq!(name, "snap7");
        assert!(dir.join(crate::PARTIAL_MARKER).is_file());
    }

    #[test]
    fn half_made_snapshots_are_listed_deletable_and_not_restorable() {
        let d = tempfile::tempdir().unwrap();
        let s = store(d.path());
        let dir = s.container_dir("web");
        fs::create_dir_all(dir.join("snaps/snap0")).unwrap();
        fs::write(dir.join("config"), "lxc.uts.name = web\n").unwrap();
        fs::write(dir.join("snaps/snap0/config"), "lxc.uts.name = web\n").unwrap();
        fs::write(dir.join("snaps/snap0/ts"), "2024:05:20 10:13:20\n").unwrap();
        fs::create_dir_all(dir.join("snaps/snap1/rootfs")).unwrap();
        fs::write(dir.join("snaps/snap1/partial"), "snapshot\n").unwrap();
        let list = s.snapshots("web").unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].partial, None);
        assert_eq!(list[0].created, "2024:05:20 10:13:20");
        assert_eq!(
            list[1].partial.as_ref().unwrap().operation.as_deref(),
            Some("snapshot")
        );
        let e = s
            .restore_snapshot("web", "snap1", None, &|_| false)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("half-made") && e.contains("hako snapshot web -d snap1"),
            "{e}"
        );
        // plain destroy counts only the complete snapshot
        assert_eq!(s.complete_snapshots("web"), 1);
        s.delete_snapshot("web", "snap1").unwrap();
        assert!(!dir.join("snaps/snap1").exists());
        assert_eq!(s.snapshots("web").unwrap().len(), 1);
    }

    #[test]
    fn timestamps_are_lxc_style_utc() {
        assert_eq!(timestamp(UNIX_EPOCH), "1970:01:01 00:00:00");
        assert_eq!(
            timestamp(UNIX_EPOCH + Duration::from_secs(1_716_200_000)),
            "2024:05:20 10:13:20"
        );
        assert_eq!(
            timestamp(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000:02:29 00:00:00"
        );
    }

    #[test]
    fn copy_config_renames_rewrites_paths_and_macs() {
        let src = "# hello\nlxc.uts.name = web\nlxc.rootfs.path = dir:/lp/web/rootfs\nlxc.console.logfile = /lp/web/console.log\nlxc.mount.entry = /lp/web2/x data none bind 0 0\nlxc.net.0.type = veth\nlxc.net.0.hwaddr = 00:16:3e:12:34:56\n";
        let spec = RootfsSpec::Dir("/lp/copy/rootfs".into());
        let doc = copy_config(
            src,
            Path::new("/lp/web"),
            Path::new("/lp/copy"),
            "copy",
            &spec,
            false,
            false,
        )
        .unwrap();
        let t = doc.render();
        assert!(t.starts_with("# hello\n"), "{t}");
        assert_eq!(doc.get("lxc.uts.name"), Some("copy"));
        assert_eq!(doc.get("lxc.rootfs.path"), Some("dir:/lp/copy/rootfs"));
        assert_eq!(doc.get("lxc.console.logfile"), Some("/lp/copy/console.log"));
        assert_eq!(
            doc.get_all("lxc.mount.entry"),
            vec!["/lp/web2/x data none bind 0 0"],
            "a prefix of another name is not replaced"
        );
        let mac = doc.get("lxc.net.0.hwaddr").unwrap();
        assert!(
            mac.starts_with("00:16:3e:") && mac != "00:16:3e:12:34:56" && !mac.contains('x'),
            "{mac}"
        );
        // -K -M keep them
        let doc = copy_config(
            src,
            Path::new("/lp/web"),
            Path::new("/lp/copy"),
            "copy",
            &spec,
            true,
            true,
        )
        .unwrap();
        assert_eq!(doc.get("lxc.uts.name"), Some("web"));
        assert_eq!(doc.get("lxc.net.0.hwaddr"), Some("00:16:3e:12:34:56"));
    }
}
