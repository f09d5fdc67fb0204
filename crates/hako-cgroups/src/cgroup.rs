//! The container's cgroup: one directory per mounted hierarchy.

use std::fs;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use crate::devices::DeviceRule;
use crate::error::{cause_of, default_remedy, is_root, CgroupError};
use crate::fsutil::{
    errno, flat_key, procs_recursive, read_file, read_u64, remove_tree, subdirs, wait_event,
    write_file,
};
use crate::host::{cgroup_path_in, parse_proc_cgroup, Host, Mode, ProcCgroup};

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

enum Freezer<'a> {
    V1(&'a Path),
    V2(&'a Path),
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

fn check_key(key: &str) -> Result<(), CgroupError> {
    let bad = |reason| {
        Err(CgroupError::InvalidKey {
            key: key.to_string(),
            reason,
        })
    };
    if key.is_empty() {
        return bad("it is empty");
    }
    if key.contains('/') || key.starts_with('.') {
        return bad("it contains '/' or starts with '.'");
    }
    if key.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("it contains blanks or control characters");
    }
    Ok(())
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

    /// Move process `pid` into the cgroup in every hierarchy.
    pub fn attach(&self, pid: i32) -> Result<(), CgroupError> {
        let s = pid.to_string();
        for d in &self.dirs {
            let f = d.path.join("cgroup.procs");
            write_file(&f, &s).map_err(|e| {
                let remedy = match errno(&e) {
                    Some(Errno::ESRCH) => format!("process {pid} does not exist (any more)"),
                    Some(Errno::ENOENT) => "the cgroup does not exist; it was removed or never created".into(),
                    Some(Errno::EBUSY) if d.version == 2 => {
                        "the cgroup has child cgroups with controllers enabled; attach to a leaf cgroup below it".into()
                    }
                    Some(Errno::ENOSPC) => "the cgroup has no cpus or mems in cpuset.cpus/cpuset.mems; set them".into(),
                    _ => default_remedy(&e),
                };
                CgroupError::io_with(format!("write pid {pid} to"), &f, e, remedy)
            })?;
        }
        Ok(())
    }

    /// Move the calling process — which must be single-threaded — into the cgroup, without
    /// the kernel's global migration lock: in v1 hierarchies it writes "0" (itself) to
    /// `tasks`, a single-thread self-migration that skips the cgroup_threadgroup_rwsem
    /// write lock and its RCU grace period (several milliseconds per start on a busy
    /// host). The v2 directory is joined through `cgroup.procs` unless `skip_v2` says the
    /// caller is already there (clone3 with CLONE_INTO_CGROUP).
    pub fn attach_self(&self, skip_v2: bool) -> Result<(), CgroupError> {
        for d in &self.dirs {
            let (file, what) = if d.version == 1 {
                ("tasks", "0")
            } else if skip_v2 {
                continue;
            } else {
                ("cgroup.procs", "0")
            };
            let f = d.path.join(file);
            write_file(&f, what).map_err(|e| {
                let remedy = match errno(&e) {
                    Some(Errno::ENOENT) => {
                        "the cgroup does not exist; it was removed or never created".into()
                    }
                    Some(Errno::ENOSPC) => {
                        "the cgroup has no cpus or mems in cpuset.cpus/cpuset.mems; set them".into()
                    }
                    _ => default_remedy(&e),
                };
                CgroupError::io_with("move this process into".to_string(), &f, e, remedy)
            })?;
        }
        Ok(())
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

    /// The file a key addresses: `memory.limit_in_bytes` with V1 → <memory dir>/memory.limit_in_bytes.
    pub fn key_path(&self, key: &str, kind: KeyKind) -> Result<PathBuf, CgroupError> {
        check_key(key)?;
        let controller = key.split('.').next().unwrap_or(key);
        let has_prefix = key.contains('.');
        let unknown = |remedy| CgroupError::UnknownController {
            key: key.to_string(),
            controller: controller.to_string(),
            mode: self.mode.to_string(),
            remedy,
        };
        match kind {
            KeyKind::V1 => {
                if !has_prefix {
                    return Err(CgroupError::InvalidKey {
                        key: key.into(),
                        reason: "it has no controller prefix (CONTROLLER.FILE)",
                    });
                }
                if controller == "cgroup" {
                    return Err(CgroupError::InvalidKey {
                        key: key.into(),
                        reason: "cgroup.* files exist in every v1 hierarchy, so the key does not say which one",
                    });
                }
                match self.v1_dir(controller) {
                    Some(d) => Ok(d.join(key)),
                    None if self.mode == Mode::Unified => Err(unknown(
                        "this host uses cgroup v2: use the lxc.cgroup2.* key of the v2 file (e.g. memory.max instead of memory.limit_in_bytes)",
                    )),
                    None => Err(unknown(
                        "check the controller name against /proc/cgroups, or use lxc.cgroup2.* for a cgroup v2 file",
                    )),
                }
            }
            KeyKind::V2 => match self.unified_path() {
                Some(d) => Ok(d.join(key)),
                None => Err(CgroupError::NoUnified {
                    key: key.into(),
                    mode: self.mode.to_string(),
                }),
            },
            KeyKind::Auto => {
                if has_prefix && controller != "cgroup" {
                    if let Some(d) = self.v1_dir(controller) {
                        return Ok(d.join(key));
                    }
                }
                match self.unified_path() {
                    Some(d) => {
                        let p = d.join(key);
                        if p.exists() {
                            Ok(p)
                        } else {
                            Err(CgroupError::NoSuchFile {
                                key: key.into(),
                                dir: d.to_path_buf(),
                            })
                        }
                    }
                    None => Err(unknown(
                        "check the key's spelling; list the container's cgroup files with ls in its cgroup directories",
                    )),
                }
            }
        }
    }

    /// Write `value` to cgroup file `key` (see [`KeyKind`] for the routing).
    pub fn set(&self, key: &str, value: &str, kind: KeyKind) -> Result<(), CgroupError> {
        let path = self.key_path(key, kind)?;
        Cgroup::write_key(&path, key, value)
    }

    /// Write `value` to `path`, the file [`Cgroup::key_path`] gave for `key` (a planned
    /// write; errors as [`Cgroup::set`]'s).
    pub fn write_key(path: &Path, key: &str, value: &str) -> Result<(), CgroupError> {
        write_file(path, value).map_err(|e| key_write_error(key, value, path, e))
    }

    /// Read cgroup file `key`, without the trailing newline.
    pub fn get(&self, key: &str, kind: KeyKind) -> Result<String, CgroupError> {
        let path = self.key_path(key, kind)?;
        match read_file(&path) {
            Ok(mut s) => {
                s.truncate(s.trim_end_matches('\n').len());
                Ok(s)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(CgroupError::NoSuchFile {
                key: key.into(),
                dir: dir_of(&path),
            }),
            Err(e) => Err(CgroupError::io("read", &path, e)),
        }
    }

    fn freezer(&self) -> Option<Freezer<'_>> {
        if let Some(d) = self.v1_dir("freezer") {
            return Some(Freezer::V1(d));
        }
        let u = self.unified_path()?;
        u.join("cgroup.freeze").exists().then_some(Freezer::V2(u))
    }

    fn first_path(&self) -> PathBuf {
        self.dirs
            .first()
            .map(|d| d.path.clone())
            .unwrap_or_default()
    }

    /// Freeze every process (v1 freezer.state=FROZEN, or v2 cgroup.freeze=1) and wait
    /// until the kernel reports the cgroup frozen.
    pub fn freeze(&self) -> Result<(), CgroupError> {
        self.freeze_within(FREEZE_TIMEOUT)
    }

    fn freeze_within(&self, timeout: Duration) -> Result<(), CgroupError> {
        let deadline = Instant::now() + timeout;
        match self.freezer() {
            Some(Freezer::V1(d)) => {
                let f = d.join("freezer.state");
                let write = |v: &str| {
                    write_file(&f, v).map_err(|e| CgroupError::io(format!("write {v} to"), &f, e))
                };
                write("FROZEN")?;
                // v1 has no change notification: re-check with a growing pause; each
                // rewrite makes the kernel retry tasks that could not be frozen yet.
                let mut delay = Duration::from_micros(500);
                loop {
                    let state = read_file(&f).map_err(|e| CgroupError::io("read", &f, e))?;
                    let state = state.trim();
                    if state == "FROZEN" {
                        return Ok(());
                    }
                    if Instant::now() >= deadline {
                        let state = state.to_string();
                        let _ = write("THAWED");
                        return Err(CgroupError::FreezeTimeout {
                            op: "freeze",
                            path: d.to_path_buf(),
                            state,
                            secs: timeout.as_secs(),
                            extra: " (it was thawed again)",
                        });
                    }
                    std::thread::sleep(delay);
                    delay = (delay * 2).min(Duration::from_millis(50));
                    write("FROZEN")?;
                }
            }
            Some(Freezer::V2(d)) => {
                let f = d.join("cgroup.freeze");
                write_file(&f, "1").map_err(|e| CgroupError::io("write 1 to", &f, e))?;
                let ok = wait_event(d, "frozen", "1", deadline)
                    .map_err(|e| CgroupError::io("watch", &d.join("cgroup.events"), e))?;
                if !ok {
                    let _ = write_file(&f, "0");
                    return Err(CgroupError::FreezeTimeout {
                        op: "freeze",
                        path: d.to_path_buf(),
                        state: "not frozen".into(),
                        secs: timeout.as_secs(),
                        extra: " (it was thawed again)",
                    });
                }
                Ok(())
            }
            None => Err(CgroupError::NoFreezer {
                op: "freeze",
                path: self.first_path(),
            }),
        }
    }

    /// Thaw the cgroup and wait until the kernel reports it thawed.
    pub fn thaw(&self) -> Result<(), CgroupError> {
        let deadline = Instant::now() + FREEZE_TIMEOUT;
        match self.freezer() {
            Some(Freezer::V1(d)) => {
                let f = d.join("freezer.state");
                write_file(&f, "THAWED").map_err(|e| CgroupError::io("write THAWED to", &f, e))?;
                // Thawing is synchronous in v1; check anyway so a frozen parent is reported.
                let state = read_file(&f).map_err(|e| CgroupError::io("read", &f, e))?;
                let state = state.trim();
                if state != "THAWED" {
                    return Err(CgroupError::FreezeTimeout {
                        op: "thaw",
                        path: d.to_path_buf(),
                        state: state.to_string(),
                        secs: 0,
                        extra: " (is a parent cgroup frozen?)",
                    });
                }
                Ok(())
            }
            Some(Freezer::V2(d)) => {
                let f = d.join("cgroup.freeze");
                write_file(&f, "0").map_err(|e| CgroupError::io("write 0 to", &f, e))?;
                let ok = wait_event(d, "frozen", "0", deadline)
                    .map_err(|e| CgroupError::io("watch", &d.join("cgroup.events"), e))?;
                if !ok {
                    return Err(CgroupError::FreezeTimeout {
                        op: "thaw",
                        path: d.to_path_buf(),
                        state: "frozen".into(),
                        secs: FREEZE_TIMEOUT.as_secs(),
                        extra: " (is a parent cgroup frozen?)",
                    });
                }
                Ok(())
            }
            None => Err(CgroupError::NoFreezer {
                op: "thaw",
                path: self.first_path(),
            }),
        }
    }

    /// Is the cgroup frozen (v1 freezer.state FROZEN; v2 "frozen 1" in cgroup.events)?
    pub fn is_frozen(&self) -> Result<bool, CgroupError> {
        match self.freezer() {
            Some(Freezer::V1(d)) => {
                let f = d.join("freezer.state");
                let s = read_file(&f).map_err(|e| CgroupError::io("read", &f, e))?;
                Ok(s.trim() == "FROZEN")
            }
            Some(Freezer::V2(d)) => {
                let f = d.join("cgroup.events");
                let s = read_file(&f).map_err(|e| CgroupError::io("read", &f, e))?;
                Ok(flat_key(&s, "frozen") == Some("1"))
            }
            None => Err(CgroupError::NoFreezer {
                op: "query the freezer state of",
                path: self.first_path(),
            }),
        }
    }

    /// Resource use, best effort; v1 files where the controller is on v1, else v2 files.
    pub fn stats(&self) -> Stats {
        let v1 = |c: &str, f: &str| self.v1_dir(c).map(|d| d.join(f));
        let v2 = |f: &str| self.unified_path().map(|d| d.join(f));
        Stats {
            memory_bytes: match v1("memory", "memory.usage_in_bytes") {
                Some(p) => read_u64(&p),
                None => v2("memory.current").and_then(|p| read_u64(&p)),
            },
            kmem_bytes: match v1("memory", "memory.kmem.usage_in_bytes") {
                Some(p) => read_u64(&p),
                None => v2("memory.stat")
                    .and_then(|p| read_file(&p).ok())
                    .and_then(|t| flat_key(&t, "kernel").and_then(|v| v.parse().ok())),
            },
            cpu_ns: match v1("cpuacct", "cpuacct.usage") {
                Some(p) => read_u64(&p),
                None => v2("cpu.stat")
                    .and_then(|p| read_file(&p).ok())
                    .and_then(|t| flat_key(&t, "usage_usec").and_then(|v| v.parse::<u64>().ok()))
                    .map(|us| us.saturating_mul(1000)),
            },
            pids: match v1("pids", "pids.current") {
                Some(p) => read_u64(&p),
                None => v2("pids.current").and_then(|p| read_u64(&p)),
            },
            blkio_bytes: match self.v1_dir("blkio") {
                Some(d) => [
                    "blkio.throttle.io_service_bytes_recursive",
                    "blkio.throttle.io_service_bytes",
                ]
                .iter()
                .find_map(|f| read_file(&d.join(f)).ok())
                .and_then(|t| blkio_total(&t)),
                None => v2("io.stat")
                    .and_then(|p| read_file(&p).ok())
                    .map(|t| io_stat_bytes(&t)),
            },
        }
    }

    /// Every pid in the cgroup and in the cgroups below it (a systemd guest makes its
    /// own), over all hierarchies, sorted and without duplicates.
    pub fn procs(&self) -> Result<Vec<i32>, CgroupError> {
        let mut out = Vec::new();
        for d in &self.dirs {
            procs_recursive(&d.path, &mut out).map_err(|(p, e)| CgroupError::io("read", &p, e))?;
        }
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    /// Does any process live in the cgroup or below it?
    pub fn is_populated(&self) -> bool {
        if let Some(u) = self.unified_path() {
            if let Ok(t) = read_file(&u.join("cgroup.events")) {
                if flat_key(&t, "populated") == Some("1") {
                    return true;
                }
            }
        }
        self.procs().map(|p| !p.is_empty()).unwrap_or(false)
    }

    /// Kill every process inside and wait (at most [`KILL_TIMEOUT`]) until the cgroup is
    /// empty: v2 cgroup.kill where the kernel has it, else freeze, SIGKILL every pid, thaw.
    pub fn kill_all(&self) -> Result<(), CgroupError> {
        let deadline = Instant::now() + KILL_TIMEOUT;
        if let Some(u) = self.unified_path() {
            let f = u.join("cgroup.kill");
            match write_file(&f, "1") {
                Ok(()) => {
                    // Tasks frozen by a v1 freezer cannot die before they are thawed.
                    self.thaw_if_frozen();
                    let _ = wait_event(u, "populated", "0", deadline);
                    // Processes outside the v2 cgroup (a partial attach) are handled below.
                    return self.kill_by_signal(deadline);
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(CgroupError::io("write 1 to", &f, e)),
            }
        }
        self.kill_by_signal(deadline)
    }

    /// Thaw without waiting, if a freezer says anything but thawed. Best effort.
    fn thaw_if_frozen(&self) {
        match self.freezer() {
            Some(Freezer::V1(d)) => {
                let f = d.join("freezer.state");
                if read_file(&f).is_ok_and(|s| s.trim() != "THAWED") {
                    let _ = write_file(&f, "THAWED");
                }
            }
            Some(Freezer::V2(d)) => {
                let f = d.join("cgroup.freeze");
                if read_file(&f).is_ok_and(|s| s.trim() != "0") {
                    let _ = write_file(&f, "0");
                }
            }
            None => {}
        }
    }

    /// [`Cgroup::kill_all`] without cgroup.kill: freeze, SIGKILL every pid, thaw, wait.
    pub fn kill_all_by_signal(&self) -> Result<(), CgroupError> {
        self.kill_by_signal(Instant::now() + KILL_TIMEOUT)
    }

    fn kill_by_signal(&self, deadline: Instant) -> Result<(), CgroupError> {
        let mut pids = self.procs()?;
        if pids.is_empty() {
            return Ok(());
        }
        // Frozen, nothing can fork or exit while we read the pids and kill them.
        let mut frozen =
            self.freezer().is_some() && self.freeze_within(Duration::from_secs(1)).is_ok();
        let mut delay = Duration::from_millis(1);
        loop {
            for &pid in &pids {
                match kill(Pid::from_raw(pid), Signal::SIGKILL) {
                    Ok(()) | Err(Errno::ESRCH) => {}
                    Err(e) => tracing::warn!("cannot send SIGKILL to pid {pid}: {e}"),
                }
            }
            if frozen {
                self.thaw()?;
                frozen = false;
            }
            std::thread::sleep(delay);
            delay = (delay * 2).min(Duration::from_millis(20));
            pids = self.procs()?;
            if pids.is_empty() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(CgroupError::KillTimeout {
                    path: self.first_path(),
                    pids,
                    secs: KILL_TIMEOUT.as_secs(),
                });
            }
        }
    }

    /// Remove the cgroup in every hierarchy, child cgroups first, retrying EBUSY briefly.
    /// Missing directories are fine, so this can be called again.
    pub fn remove(&self) -> Result<(), CgroupError> {
        self.remove_until(Instant::now() + REMOVE_TIMEOUT)
    }

    /// [`Cgroup::remove`] without waiting: a directory that is busy (processes inside)
    /// is an error at once, and the other directories are removed all the same. Cheap
    /// when the cgroup is empty, e.g. after the container's pid namespace has ended.
    pub fn try_remove(&self) -> Result<(), CgroupError> {
        self.remove_until(Instant::now())
    }

    fn remove_until(&self, deadline: Instant) -> Result<(), CgroupError> {
        let mut first_err = None;
        for d in &self.dirs {
            if let Some(i) = &self.inner {
                // the usual shape: one empty child; its rmdir spares a directory listing
                let _ = fs::remove_dir(d.path.join(i));
            }
            if let Err((p, e)) = remove_tree(&d.path, deadline) {
                first_err.get_or_insert(remove_error(&p, e));
            }
        }
        for a in self.created_ancestors.iter().rev() {
            if let Err(e) = fs::remove_dir(a) {
                match errno(&e) {
                    Some(Errno::ENOENT) | Some(Errno::ENOTEMPTY) | Some(Errno::EBUSY) => {}
                    _ => {
                        first_err.get_or_insert(remove_error(a, e));
                    }
                }
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// Apply a device policy. v1: "a" to devices.deny, then each rule to
    /// devices.allow/devices.deny; returns None. Pure v2: compile the rules into a
    /// BPF_PROG_TYPE_CGROUP_DEVICE program, attach it (BPF_F_ALLOW_MULTI), detach
    /// `previous`, and return the new program's fd (keep it to replace the program later).
    pub fn apply_devices(
        &self,
        rules: &[DeviceRule],
        previous: Option<OwnedFd>,
    ) -> Result<Option<OwnedFd>, CgroupError> {
        if let Some(d) = self.v1_dir("devices") {
            let write = |file: &str, v: &str| {
                let p = d.join(file);
                write_file(&p, v).map_err(|e| devices_write_error(file, v, d, e))
            };
            for (file, v) in crate::devices::v1_device_writes(rules) {
                write(file, &v)?;
            }
            return Ok(None);
        }
        if self.unified_path().is_none() {
            return Err(CgroupError::NoDeviceController {
                path: self.first_path(),
            });
        }
        self.apply_devices_bpf(rules, previous).map(Some)
    }

    /// The cgroup v2 half of [`Cgroup::apply_devices`], usable on any host with a cgroup2
    /// mount (on hybrid hosts the kernel enforces such a program in addition to the v1
    /// devices controller): load the program for `rules`, attach it to the v2 directory
    /// with BPF_F_ALLOW_MULTI, detach `previous`, return the new program's fd.
    pub fn apply_devices_bpf(
        &self,
        rules: &[DeviceRule],
        previous: Option<OwnedFd>,
    ) -> Result<OwnedFd, CgroupError> {
        match self.unified_path() {
            Some(u) => crate::bpf::apply(u, rules, previous),
            None => Err(CgroupError::NoUnified {
                key: "device rules as a BPF program".into(),
                mode: self.mode.to_string(),
            }),
        }
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

fn key_write_error(key: &str, value: &str, path: &Path, e: io::Error) -> CgroupError {
    let dir = dir_of(path);
    match errno(&e) {
        Some(Errno::ENOENT) => CgroupError::NoSuchFile {
            key: key.into(),
            dir,
        },
        Some(Errno::EACCES) | Some(Errno::EPERM) if !is_root() => {
            CgroupError::io(format!("write \"{value}\" to"), path, e)
        }
        n => CgroupError::Refused {
            key: key.into(),
            value: value.into(),
            dir,
            cause: cause_of(&e),
            remedy: match n {
                Some(Errno::EBUSY) => "the value conflicts with the cgroup's current use (usage above the new limit, or child cgroups); adjust it",
                Some(Errno::EPERM) | Some(Errno::EACCES) => "the parent cgroup does not allow it, or the file is read-only",
                Some(Errno::ENOSPC) => "the value exceeds what the parent cgroup allows",
                _ => "check the value's format for this file in the kernel's cgroup documentation",
            },
            source: e,
        },
    }
}

fn devices_write_error(file: &str, rule: &str, dir: &Path, e: io::Error) -> CgroupError {
    if !is_root() && matches!(errno(&e), Some(Errno::EACCES) | Some(Errno::EPERM)) {
        return CgroupError::io(format!("write \"{rule}\" to"), &dir.join(file), e);
    }
    let remedy = match errno(&e) {
        Some(Errno::ENOENT) => "the cgroup does not exist; it was removed or never created",
        Some(Errno::EINVAL) if rule == "a" => {
            "the cgroup has child cgroups (made inside the container); a whole device policy can only be set before they exist — change single rules instead"
        }
        Some(Errno::EPERM) => "the parent cgroup does not allow this device; allow it there first",
        _ => "check the rule's syntax (TYPE MAJOR:MINOR ACCESS)",
    };
    if errno(&e) == Some(Errno::ENOENT) {
        return CgroupError::io_with(format!("write \"{rule}\" to"), &dir.join(file), e, remedy);
    }
    CgroupError::Refused {
        key: file.into(),
        value: rule.into(),
        dir: dir.to_path_buf(),
        cause: cause_of(&e),
        remedy,
        source: e,
    }
}

/// The "Total N" line of blkio.throttle.io_service_bytes.
pub(crate) fn blkio_total(text: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let mut it = l.split_whitespace();
        (it.next()? == "Total")
            .then(|| it.next()?.parse().ok())
            .flatten()
    })
}

/// Sum of rbytes and wbytes over the devices of io.stat.
pub(crate) fn io_stat_bytes(text: &str) -> u64 {
    text.split_whitespace()
        .filter_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            matches!(k, "rbytes" | "wbytes")
                .then(|| v.parse::<u64>().ok())
                .flatten()
        })
        .sum()
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
