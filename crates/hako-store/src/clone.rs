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
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::backing::{
    btrfs_snapshot, btrfs_subvolume_create, check_overlay_path, copy_tree, is_on_btrfs, mkdir_mode,
    overlay_workdir, same_attributes, Backing, RootfsSpec, BACKINGS,
};
use crate::cfg::{self, Doc};
use crate::paths::validate_name;
use crate::progress::{stderr_is_terminal, Progress};
use crate::refs;
use crate::store::PARTIAL_MARKER;
use crate::{identity, Store, StoreError};

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
    /// when it was taken, `YYYY:MM:DD HH:MM:SS` (UTC), as LXC's `ts` file
    pub created: String,
    pub comment: Option<String>,
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
            return Err(StoreError::NotFound {
                name: name.to_string(),
                lxcpath: self.lxcpath().to_path_buf(),
            });
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
        let _src_lock = self.lock(src, LOCK_TIMEOUT)?;
        let _new_lock = self.lock(new, crate::CREATE_LOCK_TIMEOUT)?;
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
            target,
            spec.snapshot,
            spec.keep_name,
            spec.keep_mac,
            spec.ephemeral,
            spec.quiet,
        )
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
        target: Backing,
        snapshot: bool,
        keep_name: bool,
        keep_mac: bool,
        ephemeral: bool,
        quiet: bool,
    ) -> Result<(), StoreError> {
        let dir = self.container_dir(new);
        if fs::symlink_metadata(&dir).is_ok() {
            if self.is_partial(new) {
                self.remove_container_dir(
                    &dir,
                    &format!("remove the half-made container \"{new}\""),
                )?;
            } else {
                return Err(StoreError::other(format!(
                    "cannot create container \"{new}\": {} exists but holds no container; remove it or pick another name",
                    dir.display()
                )));
            }
        }
        self.ensure_lxcpath()?;
        fs::DirBuilder::new()
            .mode(0o750)
            .create(&dir)
            .map_err(|e| {
                StoreError::io(
                    format!("create the directory of container \"{new}\""),
                    &dir,
                    e,
                    "check the lxcpath",
                )
            })?;
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
        let partial = dir.join(PARTIAL_MARKER);
        fs::write(&partial, b"copy\n")
            .map_err(|e| StoreError::io("write", &partial, e, "check the filesystem"))?;
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
        fs::remove_file(&partial)
            .map_err(|e| StoreError::io("remove", &partial, e, "check the filesystem"))
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
        if running(name) {
            return Err(StoreError::other(format!(
                "cannot snapshot container \"{name}\": it is running, and a snapshot of a live root filesystem is not consistent; stop it first (\"hako stop {name}\")"
            )));
        }
        let source = load_source(&self.container_dir(name), &format!("container \"{name}\""))?;
        let snaps = self.snaps_dir(name);
        if !snaps.is_dir() {
            mkdir_mode(&snaps, 0o755)?;
        }
        let next = self
            .snapshots(name)?
            .iter()
            .filter_map(|s| s.name.strip_prefix("snap")?.parse::<u32>().ok())
            .max()
            .map(|n| n + 1)
            .unwrap_or(0);
        let snap = format!("snap{next}");
        let sdir = snaps.join(&snap);
        fs::DirBuilder::new()
            .mode(0o750)
            .create(&sdir)
            .map_err(|e| {
                StoreError::io(
                    "create the snapshot directory",
                    &sdir,
                    e,
                    "check the filesystem",
                )
            })?;
        let r = (|| {
            let partial = sdir.join(PARTIAL_MARKER);
            fs::write(&partial, b"snapshot\n")
                .map_err(|e| StoreError::io("write", &partial, e, "check the filesystem"))?;
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
            write_config(&sdir.join("config"), &doc.render())?;
            refs::write_atomic(
                &sdir.join("ts"),
                format!("{}\n", timestamp(SystemTime::now())).as_bytes(),
            )?;
            if let Some(c) = comment {
                refs::write_atomic(&sdir.join("comment"), c.as_bytes())?;
            }
            fs::remove_file(&partial)
                .map_err(|e| StoreError::io("remove", &partial, e, "check the filesystem"))
        })();
        match r {
            Ok(()) => Ok(snap),
            Err(e) => {
                let _ = self.remove_container_dir(&sdir, "clean up after the failed snapshot");
                let _ = fs::remove_dir(&snaps);
                Err(e)
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
        for e in rd.flatten() {
            let dir = e.path();
            if !dir.join("config").is_file() || dir.join(PARTIAL_MARKER).exists() {
                continue;
            }
            let n = e.file_name().to_string_lossy().into_owned();
            out.push(SnapshotInfo {
                created: fs::read_to_string(dir.join("ts"))
                    .unwrap_or_default()
                    .trim()
                    .to_string(),
                comment: fs::read_to_string(dir.join("comment"))
                    .ok()
                    .map(|c| c.trim_end().to_string()),
                name: n,
                dir,
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

    fn snapshot_dir(&self, name: &str, snap: &str) -> Result<PathBuf, StoreError> {
        validate_name(snap).map_err(|_| {
            StoreError::other(format!(
                "invalid snapshot name \"{snap}\"; snapshots are named snap0, snap1, ..."
            ))
        })?;
        let d = self.snaps_dir(name).join(snap);
        if !d.join("config").is_file() {
            let have: Vec<String> = self.snapshots(name)?.into_iter().map(|s| s.name).collect();
            return Err(StoreError::other(format!(
                "container \"{name}\" has no snapshot \"{snap}\"; its snapshots are: {} (\"hako snapshot {name} -L\")",
                if have.is_empty() { "none".to_string() } else { have.join(", ") }
            )));
        }
        Ok(d)
    }

    /// Deletes snapshot `snap` of `name`.
    pub fn delete_snapshot(&self, name: &str, snap: &str) -> Result<(), StoreError> {
        self.check_exists(name)?;
        let _lock = self.lock(name, LOCK_TIMEOUT)?;
        let d = self.snapshot_dir(name, snap)?;
        self.remove_container_dir(
            &d,
            &format!("delete snapshot {snap} of container \"{name}\""),
        )?;
        let _ = fs::remove_dir(self.snaps_dir(name));
        Ok(())
    }

    /// Deletes every snapshot of `name` (destroy -s).
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
                let sdir = self.snapshot_dir(name, snap)?;
                let source = load_source(&sdir, &format!("snapshot {snap} of \"{name}\""))?;
                let target = source.spec.backing();
                self.make_copy(&source, n, target, false, false, false, false, false)
            }
            _ => {
                let _lock = self.lock(name, LOCK_TIMEOUT)?;
                if running(name) {
                    return Err(StoreError::other(format!(
                        "cannot restore snapshot {snap} into container \"{name}\": it is running; stop it first (\"hako stop {name}\"), or restore into a new container with -N NEW"
                    )));
                }
                let sdir = self.snapshot_dir(name, snap)?;
                self.restore_in_place(name, &sdir)
            }
        }
    }

    fn restore_in_place(&self, name: &str, sdir: &Path) -> Result<(), StoreError> {
        let dir = self.container_dir(name);
        let source = load_source(sdir, &format!("a snapshot of \"{name}\""))?;
        let current = load_source(&dir, &format!("container \"{name}\""))?;
        if !crate::remove::mounts_below(&fs::canonicalize(&dir).unwrap_or(dir.clone()))?.is_empty()
        {
            return Err(StoreError::other(format!(
                "cannot restore container \"{name}\": something is mounted below {}; stop it first",
                dir.display()
            )));
        }
        // build the restored tree next to the live one, then swap
        let stage = dir.join(".restore");
        if fs::symlink_metadata(&stage).is_ok() {
            self.remove_container_dir(&stage, "remove an unfinished restore")?;
        }
        mkdir_mode(&stage, 0o750)?;
        let r = (|| {
            mkdir_mode(&stage.join("rootfs"), 0o755)?;
            let spec = build_rootfs(
                &source,
                &stage,
                source.spec.backing(),
                false,
                stderr_is_terminal(),
            )?;
            Ok::<RootfsSpec, StoreError>(spec)
        })();
        let staged = match r {
            Ok(s) => s,
            Err(e) => {
                let _ = self.remove_container_dir(&stage, "clean up after the failed restore");
                return Err(e);
            }
        };
        // the swap: the old storage goes aside, the staged one takes its place
        let old = dir.join(".restore-old");
        if fs::symlink_metadata(&old).is_ok() {
            self.remove_container_dir(&old, "remove an unfinished restore")?;
        }
        mkdir_mode(&old, 0o750)?;
        let mv = |from: &Path, to: &Path| {
            fs::rename(from, to)
                .map_err(|e| StoreError::io("move", from, e, "check the filesystem"))
        };
        let new_spec = match &staged {
            RootfsSpec::Overlay { lowers, .. } => {
                mv(&dir.join("overlay"), &old.join("overlay"))?;
                mv(&stage.join("overlay"), &dir.join("overlay"))?;
                RootfsSpec::Overlay {
                    lowers: lowers.clone(),
                    upper: dir.join("overlay/upper"),
                }
            }
            RootfsSpec::Dir(_) | RootfsSpec::Btrfs(_) => {
                mv(&dir.join("rootfs"), &old.join("rootfs"))?;
                mv(&stage.join("rootfs"), &dir.join("rootfs"))?;
                if matches!(staged, RootfsSpec::Btrfs(_)) {
                    RootfsSpec::Btrfs(dir.join("rootfs"))
                } else {
                    RootfsSpec::Dir(dir.join("rootfs"))
                }
            }
        };
        if matches!(new_spec, RootfsSpec::Overlay { .. }) && !dir.join("rootfs").is_dir() {
            mkdir_mode(&dir.join("rootfs"), 0o755)?;
        }
        let doc = copy_config(&source.config, sdir, &dir, name, &new_spec, true, true)?;
        write_config(&dir.join("config"), &doc.render())?;
        for o in &source.uses {
            refs::register(o, &dir)?;
        }
        let _ = current;
        self.remove_container_dir(
            &old,
            &format!("remove the replaced root filesystem of \"{name}\""),
        )?;
        self.remove_container_dir(&stage, "remove the restore staging directory")?;
        Ok(())
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

/// Writes a config through a temporary file and a rename.
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

fn write_config(path: &Path, text: &str) -> Result<(), StoreError> {
    refs::write_atomic(path, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

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
