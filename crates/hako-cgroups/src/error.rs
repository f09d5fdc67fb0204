//! The crate's error type. Every message is one line that names the object, the operation,
//! the cause and the remedy.

use std::io;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// A filesystem operation on a cgroup file or directory failed.
    #[error("cannot {op} \"{}\": {cause}; {remedy}", path.display())]
    Io {
        op: String,
        path: PathBuf,
        cause: String,
        remedy: String,
        #[source]
        source: io::Error,
    },

    #[error("cannot find the cgroup filesystems: no cgroup or cgroup2 mount in {}; mount cgroup2 at /sys/fs/cgroup (or the cgroup v1 hierarchies) and retry", path.display())]
    NoCgroupFs { path: PathBuf },

    #[error("cannot parse {} line {line}: {reason}; this file comes from the kernel, please report the line as a hako bug", path.display())]
    Parse {
        path: PathBuf,
        line: usize,
        reason: String,
    },

    #[error("cannot find the cgroup of process {pid} in the {hierarchy} hierarchy: {reason}; make sure the process exists and that /proc is the host's")]
    ProcCgroup {
        pid: String,
        hierarchy: String,
        reason: String,
    },

    #[error("cannot place a cgroup below \"{cgroup}\" in the {hierarchy} hierarchy: that cgroup is outside the part mounted at \"{}\" (mount root \"{}\"); run hako in the host's cgroup namespace or set lxc.cgroup.dir", mountpoint.display(), root.display())]
    NotVisible {
        cgroup: String,
        hierarchy: String,
        mountpoint: PathBuf,
        root: PathBuf,
    },

    #[error("invalid cgroup {what} \"{value}\": {reason}; {remedy}")]
    InvalidName {
        what: &'static str,
        value: String,
        reason: &'static str,
        remedy: &'static str,
    },

    #[error("cgroup \"{}\" is in use by pid {pid}; stop the container that owns it or remove the stale cgroup", path.display())]
    InUse { path: PathBuf, pid: i32 },

    #[error("cannot use cgroup key \"{key}\": no cgroup v1 hierarchy on this host has the \"{controller}\" controller (host layout: {mode}); {remedy}")]
    UnknownController {
        key: String,
        controller: String,
        mode: String,
        remedy: &'static str,
    },

    #[error("cannot use cgroup key \"{key}\": this host has no cgroup2 mount (host layout: {mode}); use the lxc.cgroup.* (cgroup v1) form of the key")]
    NoUnified { key: String, mode: String },

    #[error("no cgroup file \"{key}\" for container cgroup \"{}\"; list them with ls {}", dir.display(), dir.display())]
    NoSuchFile { key: String, dir: PathBuf },

    #[error("the kernel refused \"{value}\" for {key}: {cause} (cgroup \"{}\"); {remedy}", dir.display())]
    Refused {
        key: String,
        value: String,
        dir: PathBuf,
        cause: String,
        remedy: &'static str,
        #[source]
        source: io::Error,
    },

    #[error("invalid cgroup key \"{key}\": {reason}; give a file name of the container's cgroup such as memory.limit_in_bytes or pids.max")]
    InvalidKey { key: String, reason: &'static str },

    #[error("cannot {op} cgroup \"{}\": neither a cgroup v1 freezer hierarchy nor cgroup v2's cgroup.freeze is available; mount the v1 freezer controller or use a kernel with cgroup v2 (5.2 or newer)", path.display())]
    NoFreezer { op: &'static str, path: PathBuf },

    #[error("cannot {op} cgroup \"{}\": still {state} after {secs} s{extra}; a process is probably stuck in uninterruptible sleep (check with ps -eo pid,stat,wchan) — retry later", path.display())]
    FreezeTimeout {
        op: &'static str,
        path: PathBuf,
        state: String,
        secs: u64,
        extra: &'static str,
    },

    #[error("cannot empty cgroup \"{}\": pids {pids:?} are still alive {secs} s after SIGKILL; they are probably stuck in uninterruptible sleep (check with ps -o pid,stat,wchan -p PID) — retry the stop later", path.display())]
    KillTimeout {
        path: PathBuf,
        pids: Vec<i32>,
        secs: u64,
    },

    #[error("invalid device rule \"{rule}\": {reason}; write TYPE MAJOR:MINOR ACCESS, e.g. \"c 1:3 rwm\", \"c 136:* rw\", \"b *:* m\" or \"a\"")]
    InvalidDeviceRule { rule: String, reason: String },

    #[error("cannot apply device rules to cgroup \"{}\": the host has no v1 devices hierarchy and no cgroup2 mount; mount one of them", path.display())]
    NoDeviceController { path: PathBuf },

    #[error("cannot {op} the device-cgroup BPF program{target}: {cause}; {remedy}{log}")]
    Bpf {
        op: &'static str,
        target: String,
        cause: String,
        remedy: &'static str,
        /// The verifier's last lines, prefixed with " — verifier: ", or empty.
        log: String,
    },
}

/// "No such file or directory" → "no such file or directory", without "(os error 2)".
pub(crate) fn cause_of(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => {
            let desc = nix::errno::Errno::from_raw(n).desc();
            let mut s = String::with_capacity(desc.len());
            let mut chars = desc.chars();
            if let Some(c) = chars.next() {
                s.extend(c.to_lowercase());
            }
            s.push_str(chars.as_str());
            s
        }
        None => e.to_string(),
    }
}

pub(crate) fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// A remedy that fits most failed cgroupfs operations, chosen by errno.
pub(crate) fn default_remedy(e: &io::Error) -> String {
    use nix::errno::Errno;
    match e.raw_os_error().map(Errno::from_raw) {
        Some(Errno::EACCES) | Some(Errno::EPERM) if !is_root() => "run hako as root".into(),
        Some(Errno::EACCES) | Some(Errno::EPERM) => {
            "the kernel or a security module denied it even to root; check that /sys/fs/cgroup is writable here (not a container's read-only view) and dmesg".into()
        }
        Some(Errno::EROFS) => "the cgroup filesystem is mounted read-only; remount it read-write".into(),
        Some(Errno::ENOENT) => {
            "the cgroup (or its parent) does not exist (any more); check that the container is running and the host layout did not change".into()
        }
        Some(Errno::EBUSY) => "the cgroup still has processes or child cgroups; stop them first".into(),
        Some(Errno::ENOSPC) => {
            "the cgroup has no cpus/mems (cpuset) or a cgroup limit (cgroup.max.descendants/depth) is reached; check the parent cgroup".into()
        }
        Some(Errno::ESRCH) => "the process has exited".into(),
        _ => "check dmesg for the kernel's reason".into(),
    }
}

impl CgroupError {
    pub(crate) fn io(op: impl Into<String>, path: &Path, source: io::Error) -> CgroupError {
        CgroupError::Io {
            op: op.into(),
            path: path.to_path_buf(),
            cause: cause_of(&source),
            remedy: default_remedy(&source),
            source,
        }
    }

    pub(crate) fn io_with(
        op: impl Into<String>,
        path: &Path,
        source: io::Error,
        remedy: impl Into<String>,
    ) -> CgroupError {
        CgroupError::Io {
            op: op.into(),
            path: path.to_path_buf(),
            cause: cause_of(&source),
            remedy: remedy.into(),
            source,
        }
    }

    /// The errno behind this error, when there is one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            CgroupError::Io { source, .. } | CgroupError::Refused { source, .. } => {
                source.raw_os_error()
            }
            _ => None,
        }
    }
}
