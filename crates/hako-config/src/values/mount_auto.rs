//! `lxc.mount.auto`: proc, sys, cgroup and shmounts tokens.

use serde::{Deserialize, Serialize};

use super::{did_you_mean, err, Result};
use crate::util::shorten;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProcMode {
    /// /proc read-write, /proc/sys and /proc/sysrq-trigger read-only (`proc`, `proc:mixed`)
    Mixed,
    /// /proc read-write (`proc:rw`)
    Rw,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SysMode {
    /// read-only (`sys:ro`)
    Ro,
    /// read-only except /sys/devices/virtual/net (`sys`, `sys:mixed`)
    Mixed,
    /// read-write (`sys:rw`)
    Rw,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CgroupKind {
    /// `cgroup:*`: tmpfs with the container's own cgroups bound in
    Cgroup,
    /// `cgroup-full:*`: the host's hierarchies bound in
    CgroupFull,
    /// `cgroup2[:ro]`: a cgroup2 mount (LXC always forces it)
    Cgroup2,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CgroupMode {
    /// no specifier: rw if the container keeps CAP_SYS_ADMIN, mixed otherwise
    NoSpec,
    Mixed,
    Ro,
    Rw,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupAuto {
    pub kind: CgroupKind,
    pub mode: CgroupMode,
    /// `:force`: mount even when the container has a cgroup namespace
    pub force: bool,
}

impl CgroupAuto {
    /// The mode after resolving `NoSpec` as LXC does.
    pub fn resolved_mode(&self, keeps_sys_admin: bool) -> CgroupMode {
        match self.mode {
            CgroupMode::NoSpec if keeps_sys_admin => CgroupMode::Rw,
            CgroupMode::NoSpec => CgroupMode::Mixed,
            m => m,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shmounts {
    pub host: String,
    pub container: String,
}

/// What `lxc.mount.auto` asks for. Several values (and several lines) combine; a later
/// token for the same filesystem replaces the earlier one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountAuto {
    pub proc: Option<ProcMode>,
    pub sys: Option<SysMode>,
    pub cgroup: Option<CgroupAuto>,
    pub shmounts: Option<Shmounts>,
}

impl MountAuto {
    pub fn is_empty(&self) -> bool {
        *self == MountAuto::default()
    }

    /// Apply `other` on top of `self` (later lines win per filesystem).
    pub fn merge(&mut self, other: &MountAuto) {
        if other.proc.is_some() {
            self.proc = other.proc;
        }
        if other.sys.is_some() {
            self.sys = other.sys;
        }
        if other.cgroup.is_some() {
            self.cgroup = other.cgroup;
        }
        if other.shmounts.is_some() {
            self.shmounts = other.shmounts.clone();
        }
    }
}

const MOUNT_AUTO_TOKENS: &[&str] = &[
    "proc",
    "proc:mixed",
    "proc:rw",
    "sys",
    "sys:ro",
    "sys:mixed",
    "sys:rw",
    "cgroup",
    "cgroup:mixed",
    "cgroup:ro",
    "cgroup:rw",
    "cgroup:force",
    "cgroup:mixed:force",
    "cgroup:ro:force",
    "cgroup:rw:force",
    "cgroup-full",
    "cgroup-full:mixed",
    "cgroup-full:ro",
    "cgroup-full:rw",
    "cgroup-full:force",
    "cgroup-full:mixed:force",
    "cgroup-full:ro:force",
    "cgroup-full:rw:force",
    "cgroup2",
    "cgroup2:ro",
    "cgroup2:force",
    "cgroup2:ro:force",
];

/// One `lxc.mount.auto` value: space-separated `proc[:mixed|:rw]`, `sys[:ro|:mixed|:rw]`,
/// `cgroup[:mixed|:ro|:rw][:force]`, `cgroup-full[...]`, `cgroup2[:ro][:force]`,
/// `shmounts:HOST[:CONTAINER]`.
pub fn parse_mount_auto(s: &str) -> Result<MountAuto> {
    let mut m = MountAuto::default();
    for tok in s.split_whitespace() {
        if let Some(rest) = tok.strip_prefix("shmounts:") {
            let (host, cont) = match rest.split_once(':') {
                Some((h, c)) if !c.is_empty() => (h, c),
                Some((h, _)) => (h, "/dev/.lxc-mounts"),
                None => (rest, "/dev/.lxc-mounts"),
            };
            if host.is_empty() {
                return err("\"shmounts:\" needs a host path, e.g. shmounts:/var/lib/shmounts");
            }
            m.shmounts = Some(Shmounts {
                host: host.to_string(),
                container: cont.to_string(),
            });
            continue;
        }
        let (fs, spec) = tok.split_once(':').unwrap_or((tok, ""));
        let bad = || {
            err(format!(
                "unknown filesystem to automount \"{}\"; {}use proc[:mixed|:rw], sys[:ro|:mixed|:rw], cgroup[:mixed|:ro|:rw][:force], cgroup-full[...] or cgroup2[:ro]",
                shorten(tok, 40),
                did_you_mean(tok, MOUNT_AUTO_TOKENS.iter().copied())
            ))
        };
        match fs {
            "proc" => {
                m.proc = Some(match spec {
                    "" | "mixed" => ProcMode::Mixed,
                    "rw" => ProcMode::Rw,
                    _ => return bad(),
                })
            }
            "sys" => {
                m.sys = Some(match spec {
                    "" | "mixed" => SysMode::Mixed,
                    "ro" => SysMode::Ro,
                    "rw" => SysMode::Rw,
                    _ => return bad(),
                })
            }
            "cgroup" | "cgroup-full" => {
                let (mode_s, force) = match spec.strip_suffix("force") {
                    Some(p) if p.is_empty() || p.ends_with(':') => (p.trim_end_matches(':'), true),
                    _ => (spec, false),
                };
                let mode = match mode_s {
                    "" => CgroupMode::NoSpec,
                    "mixed" => CgroupMode::Mixed,
                    "ro" => CgroupMode::Ro,
                    "rw" => CgroupMode::Rw,
                    _ => return bad(),
                };
                let kind = if fs == "cgroup" {
                    CgroupKind::Cgroup
                } else {
                    CgroupKind::CgroupFull
                };
                m.cgroup = Some(CgroupAuto { kind, mode, force });
            }
            "cgroup2" => {
                let mode = match spec {
                    "" | "force" => CgroupMode::Rw,
                    "ro" | "ro:force" => CgroupMode::Ro,
                    _ => return bad(),
                };
                m.cgroup = Some(CgroupAuto {
                    kind: CgroupKind::Cgroup2,
                    mode,
                    force: true,
                });
            }
            _ => return bad(),
        }
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_auto() {
        let m = parse_mount_auto("cgroup:mixed proc:mixed sys:mixed").unwrap();
        assert_eq!(m.proc, Some(ProcMode::Mixed));
        assert_eq!(m.sys, Some(SysMode::Mixed));
        assert_eq!(
            m.cgroup,
            Some(CgroupAuto {
                kind: CgroupKind::Cgroup,
                mode: CgroupMode::Mixed,
                force: false
            })
        );
        let m = parse_mount_auto("proc sys cgroup").unwrap();
        assert_eq!(m.proc, Some(ProcMode::Mixed));
        assert_eq!(m.sys, Some(SysMode::Mixed));
        let cg = m.cgroup.unwrap();
        assert_eq!(cg.mode, CgroupMode::NoSpec);
        assert_eq!(cg.resolved_mode(true), CgroupMode::Rw);
        assert_eq!(cg.resolved_mode(false), CgroupMode::Mixed);
        let m = parse_mount_auto("proc:rw sys:rw cgroup-full:rw:force").unwrap();
        assert_eq!(m.proc, Some(ProcMode::Rw));
        assert_eq!(m.sys, Some(SysMode::Rw));
        assert_eq!(
            m.cgroup,
            Some(CgroupAuto {
                kind: CgroupKind::CgroupFull,
                mode: CgroupMode::Rw,
                force: true
            })
        );
        let m = parse_mount_auto("sys:ro cgroup:force").unwrap();
        assert_eq!(m.sys, Some(SysMode::Ro));
        assert_eq!(
            m.cgroup,
            Some(CgroupAuto {
                kind: CgroupKind::Cgroup,
                mode: CgroupMode::NoSpec,
                force: true
            })
        );
        let m = parse_mount_auto("cgroup:ro:force").unwrap();
        assert_eq!(
            m.cgroup,
            Some(CgroupAuto {
                kind: CgroupKind::Cgroup,
                mode: CgroupMode::Ro,
                force: true
            })
        );
        let m = parse_mount_auto("cgroup2:ro").unwrap();
        assert_eq!(
            m.cgroup,
            Some(CgroupAuto {
                kind: CgroupKind::Cgroup2,
                mode: CgroupMode::Ro,
                force: true
            })
        );
        let m = parse_mount_auto("shmounts:/a:/b").unwrap();
        assert_eq!(
            m.shmounts,
            Some(Shmounts {
                host: "/a".into(),
                container: "/b".into()
            })
        );
        let m = parse_mount_auto("shmounts:/a").unwrap();
        assert_eq!(m.shmounts.unwrap().container, "/dev/.lxc-mounts");
        // later tokens win
        let m = parse_mount_auto("proc:rw proc").unwrap();
        assert_eq!(m.proc, Some(ProcMode::Mixed));
        assert!(parse_mount_auto("").unwrap().is_empty());
        for bad in [
            "proc:ro",
            "sys:mixed:force",
            "cgroup:force:ro",
            "cgroupforce",
            "shmounts:",
            "dev",
            "cgroup:mixedforce",
        ] {
            assert!(parse_mount_auto(bad).is_err(), "{bad}");
        }
        let e = parse_mount_auto("proc:mixd").unwrap_err();
        assert!(e.reason().contains("did you mean \"proc:mixed\""), "{e}");
        let mut a = parse_mount_auto("proc:rw sys:ro").unwrap();
        a.merge(&parse_mount_auto("sys:rw").unwrap());
        assert_eq!((a.proc, a.sys), (Some(ProcMode::Rw), Some(SysMode::Rw)));
    }
}
