//! The container's cgroup: one directory per mounted hierarchy.

use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use serde::{Deserialize, Serialize};

use crate::error::{default_remedy, CgroupError};
use crate::fsutil::{errno, procs_recursive, read_file, remove_tree, subdirs, write_file};
use crate::host::{cgroup_path_in, parse_proc_cgroup, Host, Mode, ProcCgroup};

mod control;
mod keys;

#[cfg(test)]
pub(crate) use control::{blkio_total, io_stat_sum};

/// How long freeze/thaw wait for the kernel to finish.
pub const FREEZE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long kill_all waits for the cgroup to empty after SIGKILL.
pub const KILL_TIMEOUT: Duration = Duration::from_secs(5);
/// How long remove retries EBUSY.
pub const REMOVE_TIMEOUT: Duration = Duration::from_secs(2);

/// cgroup v2 controllers enabled for the container (pure v2 hosts only), when the parent
/// offers them. The first five are required; failing to enable the others is a warning.
const V2_CONTROLLERS: [&str; 8] = [
    "cpuset", "cpu", "io", "memory", "pids", "hugetlb", "rdma", "misc",
];
const V2_REQUIRED: usize = 5;

/// Which hierarchy a cgroup key addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// `lxc.cgroup.KEY`: the v1 hierarchy of the key's controller prefix.
    V1,
    /// `lxc.cgroup2.KEY`: the cgroup2 directory.
    V2,
    /// `hako cgroup NAME KEY`: the v1 hierarchy of the prefix if there is one, else the v2
    /// directory if the file exists there.
    Auto,
}

/// Resource use, best effort: a field is None when this host cannot tell.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub memory_bytes: Option<u64>,
    pub kmem_bytes: Option<u64>,
    pub cpu_ns: Option<u64>,
    pub pids: Option<u64>,
    pub blkio_bytes: Option<u64>,
    /// CPU time in user and in kernel mode, nanoseconds (v1 cpuacct.stat counts in
    /// USER_HZ ticks, converted)
    #[serde(default)]
    pub cpu_user_ns: Option<u64>,
    #[serde(default)]
    pub cpu_system_ns: Option<u64>,
    /// memory and swap together
    #[serde(default)]
    pub memsw_bytes: Option<u64>,
    /// block I/O operations, reads and writes
    #[serde(default)]
    pub blkio_ios: Option<u64>,
}

/// The container's directory in one hierarchy.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct CgroupDir {
    pub path: PathBuf,
    pub version: u8,
    pub controllers: Vec<String>,
    /// The directory's inode number when hako made (or took over) it: cgroupfs numbers a
    /// directory with a 64-bit id that is never reused while the host runs, so a later
    /// process can prove a directory of this name is still the one this container owns
    /// (and not one another container made since). 0: not recorded.
    #[serde(default)]
    pub ino: u64,
}

impl CgroupDir {
    fn has(&self, controller: &str) -> bool {
        self.controllers
            .iter()
            .any(|c| c == controller || c.strip_prefix("name=").is_some_and(|n| n == controller))
    }
}

/// The container's cgroup: one absolute directory per hierarchy. Serializable, so that a
/// later process can find and remove the state of a killed monitor.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Cgroup {
    name: String,
    mode: Mode,
    dirs: Vec<CgroupDir>,
    /// Intermediate directories `create` made for lxc.cgroup.dir (top-down); `remove`
    /// removes them again when they are empty.
    #[serde(default)]
    created_ancestors: Vec<PathBuf>,
    /// The child cgroup below every directory that holds the container's processes
    /// ([`Cgroup::create_child`]), removed first at removal without listing the directory.
    #[serde(default)]
    inner: Option<String>,
}

fn validate_name(name: &str) -> Result<(), CgroupError> {
    let bad = |reason| {
        Err(CgroupError::InvalidName {
            what: "name",
            value: name.to_string(),
            reason,
            remedy: "use a single directory name such as hako.payload.web",
        })
    };
    if name.is_empty() {
        return bad("it is empty");
    }
    if name == "." || name == ".." {
        return bad("it is \".\" or \"..\"");
    }
    if name.contains('/') {
        return bad("it contains '/'");
    }
    if name.chars().any(|c| c.is_control()) {
        return bad("it contains control characters");
    }
    if name.len() > 255 {
        return bad("it is longer than 255 bytes");
    }
    Ok(())
}

fn validate_dir(dir: &str) -> Result<&str, CgroupError> {
    let bad = |reason| {
        Err(CgroupError::InvalidName {
            what: "directory (lxc.cgroup.dir)",
            value: dir.to_string(),
            reason,
            remedy: "give a path relative to the hierarchy root, such as \"mygroup/web\"",
        })
    };
    let d = dir.trim_matches('/');
    if d.is_empty() {
        return bad("it is empty");
    }
    if d.chars().any(|c| c.is_control()) {
        return bad("it contains control characters");
    }
    if d.split('/').any(|c| c.is_empty() || c == "." || c == "..") {
        return bad("it contains an empty, \".\" or \"..\" component");
    }
    if !Path::new(d)
        .components()
        .all(|c| matches!(c, Component::Normal(_)))
    {
        return bad("it is not a plain relative path");
    }
    Ok(d)
}

impl Cgroup {
    /// Compute the directories of cgroup `name` (or of `dir`, relative to each hierarchy's
    /// root) without touching the filesystem except for reading /proc/PID/cgroup.
    pub fn locate(
        host: &Host,
        name: &str,
        parent_pid: i32,
        dir: Option<&str>,
    ) -> Result<Cgroup, CgroupError> {
        let entries = match dir {
            Some(_) => Vec::new(),
            None => host.proc_cgroup(parent_pid)?,
        };
        Cgroup::locate_with(host, name, &entries, &parent_pid.to_string(), dir)
    }

    /// Like [`Cgroup::locate`], from the text of /proc/PID/cgroup. Pure.
    pub fn locate_from_text(
        host: &Host,
        name: &str,
        proc_cgroup: &str,
        dir: Option<&str>,
    ) -> Result<Cgroup, CgroupError> {
        let entries =
            parse_proc_cgroup(proc_cgroup).map_err(|(line, reason)| CgroupError::Parse {
                path: "/proc/PID/cgroup".into(),
                line,
                reason,
            })?;
        Cgroup::locate_with(host, name, &entries, "PID", dir)
    }

    fn locate_with(
        host: &Host,
        name: &str,
        entries: &[ProcCgroup],
        pid: &str,
        dir: Option<&str>,
    ) -> Result<Cgroup, CgroupError> {
        validate_name(name)?;
        let dir = dir.map(validate_dir).transpose()?;
        let mut dirs = Vec::with_capacity(host.hierarchies.len());
        for h in &host.hierarchies {
            let path = match dir {
                Some(d) => h.mountpoint.join(d),
                None => {
                    let cg = cgroup_path_in(entries, h).ok_or_else(|| CgroupError::ProcCgroup {
                        pid: pid.to_string(),
                        hierarchy: h.label(),
                        reason: "/proc/PID/cgroup has no line for it".into(),
                    })?;
                    let parent = h.dir_for(cg).ok_or_else(|| CgroupError::NotVisible {
                        cgroup: cg.to_string(),
                        hierarchy: h.label(),
                        mountpoint: h.mountpoint.clone(),
                        root: h.root.clone(),
                    })?;
                    parent.join(name)
                }
            };
            dirs.push(CgroupDir {
                path,
                version: h.version,
                controllers: h.controllers.clone(),
                ino: 0,
            });
        }
        Ok(Cgroup {
            name: name.to_string(),
            mode: host.mode,
            dirs,
            created_ancestors: Vec::new(),
            inner: None,
        })
    }

    /// Create `name` (e.g. "hako.payload.web") in every hierarchy, below the cgroup of
    /// process `parent_pid` there (0 = this process), or at `dir` (lxc.cgroup.dir, relative
    /// to each hierarchy's root). A leftover directory without processes is cleaned and
    /// reused; one with processes is an error. On error, whatever this call created is
    /// removed again.
    pub fn create(
        host: &Host,
        name: &str,
        parent_pid: i32,
        dir: Option<&str>,
    ) -> Result<Cgroup, CgroupError> {
        let mut cg = Cgroup::locate(host, name, parent_pid, dir)?;
        let mut made: Vec<PathBuf> = Vec::new();
        let mut ancestors: Vec<PathBuf> = Vec::new();
        let res = (0..cg.dirs.len()).try_for_each(|i| {
            let mountpoint = &host.hierarchies[i].mountpoint;
            cg.create_one(
                &cg.dirs[i],
                mountpoint,
                dir.is_some(),
                &mut made,
                &mut ancestors,
            )
        });
        match res.and_then(|()| cg.record_ids()) {
            Ok(()) => {
                cg.created_ancestors = ancestors;
                Ok(cg)
            }
            Err(e) => {
                for p in made.iter().rev() {
                    if let Err(re) = fs::remove_dir(p) {
                        tracing::warn!(
                            "cannot remove cgroup {} after a failed create: {re}",
                            p.display()
                        );
                    }
                }
                Err(e)
            }
        }
    }

    fn create_one(
        &self,
        d: &CgroupDir,
        mountpoint: &Path,
        make_ancestors: bool,
        made: &mut Vec<PathBuf>,
        ancestors: &mut Vec<PathBuf>,
    ) -> Result<(), CgroupError> {
        let delegate_v2 = self.mode == Mode::Unified && d.version == 2;
        let cpuset = d.version == 1 && d.has("cpuset");
        let parent = d.path.parent().unwrap_or(mountpoint);
        let fresh = match fs::create_dir(&d.path) {
            Ok(()) => {
                made.push(d.path.clone());
                true
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound && !make_ancestors => {
                // The parent process's cgroup vanished (it moved or exited): not ours to make.
                return Err(CgroupError::io_with(
                    "create cgroup",
                    &d.path,
                    e,
                    "the parent process's cgroup no longer exists; check that the process is still running in it",
                ));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                // lxc.cgroup.dir with missing intermediate levels: make them top-down.
                let mut missing = Vec::new();
                let mut p = parent;
                while !p.exists() {
                    if p == mountpoint || !p.starts_with(mountpoint) {
                        return Err(CgroupError::io_with(
                            "create cgroup",
                            &d.path,
                            e,
                            format!("the hierarchy is not mounted at \"{}\" any more; check the host's cgroup mounts", mountpoint.display()),
                        ));
                    }
                    missing.push(p.to_path_buf());
                    p = p.parent().unwrap_or(mountpoint);
                }
                for a in missing.iter().rev() {
                    match fs::create_dir(a) {
                        Ok(()) => {
                            made.push(a.clone());
                            ancestors.push(a.clone());
                            if cpuset {
                                copy_cpuset(a)?;
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                        Err(e) => return Err(create_error(a, e)),
                    }
                    if delegate_v2 {
                        enable_controllers(a.parent().unwrap_or(mountpoint))?;
                    }
                }
                fs::create_dir(&d.path).map_err(|e| create_error(&d.path, e))?;
                made.push(d.path.clone());
                true
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => self.reclaim(d, made)?,
            Err(e) => return Err(create_error(&d.path, e)),
        };
        if delegate_v2 {
            enable_controllers(parent)?;
        }
        if fresh && cpuset {
            copy_cpuset(&d.path)?;
        }
        Ok(())
    }

    /// A directory of ours exists already: a leftover of a killed run, or the cgroup of a
    /// running container of the same name. Returns whether the directory is new.
    fn reclaim(&self, d: &CgroupDir, made: &mut Vec<PathBuf>) -> Result<bool, CgroupError> {
        let mut pids = Vec::new();
        procs_recursive(&d.path, &mut pids).map_err(|(p, e)| CgroupError::io("read", &p, e))?;
        if let Some(&pid) = pids.first() {
            return Err(CgroupError::InUse {
                path: d.path.clone(),
                pid,
            });
        }
        tracing::debug!("reusing stale cgroup {}", d.path.display());
        let deadline = Instant::now() + REMOVE_TIMEOUT;
        for sub in subdirs(&d.path).map_err(|e| CgroupError::io("list", &d.path, e))? {
            remove_tree(&sub, deadline).map_err(|(p, e)| remove_error(&p, e))?;
        }
        // A fresh directory drops the old run's limits; if the kernel still holds on to
        // it, reuse it as it is, thawed.
        if fs::remove_dir(&d.path).is_ok() {
            fs::create_dir(&d.path).map_err(|e| create_error(&d.path, e))?;
            made.push(d.path.clone());
            return Ok(true);
        }
        if d.version == 1 && d.has("freezer") {
            let f = d.path.join("freezer.state");
            write_file(&f, "THAWED").map_err(|e| CgroupError::io("write THAWED to", &f, e))?;
        } else if d.version == 2 {
            let f = d.path.join("cgroup.freeze");
            match write_file(&f, "0") {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(CgroupError::io("write 0 to", &f, e)),
            }
        }
        Ok(false)
    }

    /// Note each directory's inode number (see [`CgroupDir::ino`]).
    fn record_ids(&mut self) -> Result<(), CgroupError> {
        for d in &mut self.dirs {
            let m = fs::metadata(&d.path).map_err(|e| CgroupError::io("stat", &d.path, e))?;
            d.ino = std::os::unix::fs::MetadataExt::ino(&m);
        }
        Ok(())
    }

    /// Is this still the cgroup that was created: every directory exists with the inode
    /// number recorded then? A cgroup without recorded numbers (an older hako wrote it) is
    /// not provably ours. Stale-state cleanup kills and removes only a cgroup that is.
    pub fn is_ours(&self) -> bool {
        !self.dirs.is_empty()
            && self.dirs.iter().all(|d| {
                d.ino != 0
                    && fs::metadata(&d.path)
                        .is_ok_and(|m| std::os::unix::fs::MetadataExt::ino(&m) == d.ino)
            })
    }

    /// Are the directories gone already (nothing left to clean)?
    pub fn is_gone(&self) -> bool {
        self.dirs.iter().all(|d| !d.path.exists())
    }

    /// Make the child cgroup `sub` below this one in every hierarchy (LXC's
    /// `lxc.cgroup.dir.container.inner` layout): the container's init and its cgroup
    /// namespace root live there, while the limits and the device policy stay on this
    /// cgroup, which the container cannot see or write. On a pure v2 host the controllers
    /// are handed down to it. On error, whatever was made is removed.
    pub fn create_child(&self, sub: &str) -> Result<Cgroup, CgroupError> {
        validate_name(sub)?;
        let child = Cgroup {
            name: format!("{}/{sub}", self.name),
            mode: self.mode,
            dirs: self
                .dirs
                .iter()
                .map(|d| CgroupDir {
                    path: d.path.join(sub),
                    version: d.version,
                    controllers: d.controllers.clone(),
                    ino: 0,
                })
                .collect(),
            created_ancestors: Vec::new(),
            inner: None,
        };
        let mut made = Vec::new();
        let res = (|| {
            for (d, parent) in child.dirs.iter().zip(&self.dirs) {
                if self.mode == Mode::Unified && d.version == 2 {
                    enable_controllers(&parent.path)?;
                }
                // v1 cpuset: let the kernel give the child the parent's cpus and mems at
                // mkdir (one write instead of reading and writing both files; children the
                // container makes inherit the flag)
                let cpuset = d.version == 1 && parent.has("cpuset");
                let cloned =
                    cpuset && write_file(&parent.path.join("cgroup.clone_children"), "1").is_ok();
                match fs::create_dir(&d.path) {
                    Ok(()) => made.push(d.path.clone()),
                    // the outer cgroup is fresh or was reclaimed empty: a leftover child
                    // has no processes (reclaim checked the whole tree)
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(create_error(&d.path, e)),
                }
                if cpuset && !cloned {
                    copy_cpuset(&d.path)?;
                }
            }
            Ok(())
        })();
        // (no ids: ownership is proved by the parent, which goes with its children)
        match res {
            Ok(()) => Ok(child),
            Err(e) => {
                for p in made.iter().rev() {
                    let _ = fs::remove_dir(p);
                }
                Err(e)
            }
        }
    }

    /// This cgroup, knowing that `sub` ([`Cgroup::create_child`]) is below it: removal
    /// takes that child away first, without listing each directory.
    pub fn with_inner(mut self, sub: &str) -> Cgroup {
        self.inner = Some(sub.to_string());
        self
    }

    /// The child cgroup [`Cgroup::with_inner`] named.
    pub fn inner(&self) -> Option<&str> {
        self.inner.as_deref()
    }

    /// The cgroup's name as given to create/locate.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The host layout this cgroup was made on.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Every directory with its hierarchy's version and controllers.
    pub fn dirs(&self) -> &[CgroupDir] {
        &self.dirs
    }

    /// The intermediate directories `create` made for lxc.cgroup.dir (top-down).
    pub fn created_ancestors(&self) -> &[PathBuf] {
        &self.created_ancestors
    }

    /// Rebuild a cgroup from what [`Cgroup::name`], [`Cgroup::mode`], [`Cgroup::dirs`]
    /// and [`Cgroup::created_ancestors`] returned (e.g. in another process).
    pub fn from_parts(
        name: String,
        mode: Mode,
        dirs: Vec<CgroupDir>,
        created_ancestors: Vec<PathBuf>,
    ) -> Cgroup {
        Cgroup {
            name,
            mode,
            dirs,
            created_ancestors,
            inner: None,
        }
    }

    fn v1_dir(&self, controller: &str) -> Option<&Path> {
        self.dirs
            .iter()
            .find(|d| d.version == 1 && d.has(controller))
            .map(|d| d.path.as_path())
    }

    /// The v1 directory of `controller`, or else the v2 directory.
    pub fn path_for(&self, controller: &str) -> Option<&Path> {
        self.v1_dir(controller).or_else(|| self.unified_path())
    }

    /// The cgroup2 directory, if the host has a cgroup2 mount.
    pub fn unified_path(&self) -> Option<&Path> {
        self.dirs
            .iter()
            .find(|d| d.version == 2)
            .map(|d| d.path.as_path())
    }

    /// All directories, one per hierarchy.
    pub fn paths(&self) -> Vec<&Path> {
        self.dirs.iter().map(|d| d.path.as_path()).collect()
    }

    fn first_path(&self) -> PathBuf {
        self.dirs
            .first()
            .map(|d| d.path.clone())
            .unwrap_or_default()
    }
}

fn dir_of(p: &Path) -> PathBuf {
    p.parent().map(Path::to_path_buf).unwrap_or_default()
}

fn create_error(path: &Path, e: io::Error) -> CgroupError {
    CgroupError::io("create cgroup", path, e)
}

fn remove_error(path: &Path, e: io::Error) -> CgroupError {
    let remedy = match errno(&e) {
        Some(Errno::EBUSY) | Some(Errno::ENOTEMPTY) => {
            "processes are still inside; kill them first (hako stop -k) and retry".to_string()
        }
        _ => default_remedy(&e),
    };
    CgroupError::io_with("remove cgroup", path, e, remedy)
}

/// Pure v2: let `dir`'s children use the controllers the container needs, where `dir`
/// offers them and has not enabled them yet. Writes nothing when all are enabled.
pub(crate) fn enable_controllers(dir: &Path) -> Result<(), CgroupError> {
    let avail_f = dir.join("cgroup.controllers");
    let avail = read_file(&avail_f).map_err(|e| CgroupError::io("read", &avail_f, e))?;
    let ctl_f = dir.join("cgroup.subtree_control");
    let enabled = read_file(&ctl_f).map_err(|e| CgroupError::io("read", &ctl_f, e))?;
    let avail: Vec<&str> = avail.split_whitespace().collect();
    let enabled: Vec<&str> = enabled.split_whitespace().collect();
    for (i, c) in V2_CONTROLLERS.iter().enumerate() {
        if !avail.contains(c) || enabled.contains(c) {
            continue;
        }
        if let Err(e) = write_file(&ctl_f, &format!("+{c}")) {
            if i >= V2_REQUIRED {
                tracing::warn!(
                    "cannot enable the {c} controller in {}: {e}",
                    ctl_f.display()
                );
                continue;
            }
            let remedy = match errno(&e) {
                Some(Errno::EBUSY) => format!(
                    "cgroup v2 hands controllers down only from cgroups without processes of their own, and \"{}\" has some; run hako from a cgroup of its own (e.g. systemd-run --scope hako start ...) or set lxc.cgroup.dir",
                    dir.display()
                ),
                _ => default_remedy(&e),
            };
            return Err(CgroupError::io_with(
                format!("enable the {c} controller in"),
                &ctl_f,
                e,
                remedy,
            ));
        }
    }
    Ok(())
}

/// v1 cpuset: a new cgroup starts with empty cpuset.cpus/mems and rejects tasks until
/// they are set; copy the parent's.
pub(crate) fn copy_cpuset(dir: &Path) -> Result<(), CgroupError> {
    let parent = dir.parent().unwrap_or(dir);
    for f in ["cpuset.cpus", "cpuset.mems"] {
        let mine = dir.join(f);
        let cur = read_file(&mine).map_err(|e| CgroupError::io("read", &mine, e))?;
        if !cur.trim().is_empty() {
            continue;
        }
        let theirs = parent.join(f);
        let v = read_file(&theirs).map_err(|e| CgroupError::io("read", &theirs, e))?;
        let v = v.trim();
        write_file(&mine, v).map_err(|e| {
            let remedy = if v.is_empty() {
                format!(
                    "the parent cgroup \"{}\" has an empty {f}; set it there",
                    parent.display()
                )
            } else {
                default_remedy(&e)
            };
            CgroupError::io_with(format!("write \"{v}\" to"), &mine, e, remedy)
        })?;
    }
    Ok(())
}
