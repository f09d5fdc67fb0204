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
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::backing::{
    btrfs_snapshot, btrfs_subvolume_create, check_overlay_path, copy_tree, is_on_btrfs, mkdir_mode,
    overlay_workdir, same_attributes, Backing, RootfsSpec, BACKINGS,
};
use crate::cfg::{self, Doc};
use crate::create::{finish_new_dir, write_config};
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
        r.map_err(|e| self.undo_new_container(&dir, new, &format!("copy to \"{new}\""), e))
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

mod snapshot;

#[cfg(test)]
mod tests;
