//! The container's cgroup: freezing, statistics, killing and removal.

use std::fs;
use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::{remove_error, Cgroup, Stats, FREEZE_TIMEOUT, KILL_TIMEOUT, REMOVE_TIMEOUT};
use crate::error::CgroupError;
use crate::fsutil::{
    errno, flat_key, procs_recursive, read_file, read_u64, remove_tree, wait_event, write_file,
};

enum Freezer<'a> {
    V1(&'a Path),
    V2(&'a Path),
}

impl Cgroup {
    fn freezer(&self) -> Option<Freezer<'_>> {
        if let Some(d) = self.v1_dir("freezer") {
            return Some(Freezer::V1(d));
        }
        let u = self.unified_path()?;
        u.join("cgroup.freeze").exists().then_some(Freezer::V2(u))
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
        let mut s = Stats {
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
                    .map(|t| io_stat_sum(&t, &["rbytes", "wbytes"])),
            },
            ..Stats::default()
        };
        // user and system CPU time: v1 cpuacct.stat in USER_HZ ticks (100 a second on
        // every Linux architecture hako runs on), v2 cpu.stat in microseconds
        match v1("cpuacct", "cpuacct.stat").and_then(|p| read_file(&p).ok()) {
            Some(t) => {
                let ticks = |k: &str| flat_key(&t, k).and_then(|v| v.parse::<u64>().ok());
                s.cpu_user_ns = ticks("user").map(|v| v.saturating_mul(10_000_000));
                s.cpu_system_ns = ticks("system").map(|v| v.saturating_mul(10_000_000));
            }
            None => {
                if let Some(t) = v2("cpu.stat").and_then(|p| read_file(&p).ok()) {
                    let us = |k: &str| flat_key(&t, k).and_then(|v| v.parse::<u64>().ok());
                    s.cpu_user_ns = us("user_usec").map(|v| v.saturating_mul(1000));
                    s.cpu_system_ns = us("system_usec").map(|v| v.saturating_mul(1000));
                }
            }
        }
        s.memsw_bytes = match v1("memory", "memory.memsw.usage_in_bytes") {
            Some(p) => read_u64(&p),
            None => match (
                s.memory_bytes,
                v2("memory.swap.current").and_then(|p| read_u64(&p)),
            ) {
                (Some(m), Some(sw)) => Some(m.saturating_add(sw)),
                _ => None,
            },
        };
        s.blkio_ios = match self.v1_dir("blkio") {
            Some(d) => [
                "blkio.throttle.io_serviced_recursive",
                "blkio.throttle.io_serviced",
            ]
            .iter()
            .find_map(|f| read_file(&d.join(f)).ok())
            .and_then(|t| blkio_total(&t)),
            None => v2("io.stat")
                .and_then(|p| read_file(&p).ok())
                .map(|t| io_stat_sum(&t, &["rios", "wios"])),
        };
        s
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

/// Sum of the `keys` (e.g. rbytes and wbytes) over the devices of io.stat.
pub(crate) fn io_stat_sum(text: &str, keys: &[&str]) -> u64 {
    text.split_whitespace()
        .filter_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            keys.contains(&k).then(|| v.parse::<u64>().ok()).flatten()
        })
        .sum()
}
