//! The container's cgroup: attaching processes, the files keys address, limits and device
//! policies.

use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use nix::errno::Errno;

use super::{dir_of, Cgroup, KeyKind};
use crate::devices::DeviceRule;
use crate::error::{cause_of, default_remedy, is_root, CgroupError};
use crate::fsutil::{errno, read_file, write_file};
use crate::host::Mode;

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
