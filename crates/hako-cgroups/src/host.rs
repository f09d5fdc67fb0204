//! Host layout detection: which cgroup hierarchies are mounted where, from mountinfo.

use std::fmt;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::CgroupError;

/// The host's cgroup layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Mode {
    /// Pure cgroup v1 (controllers on v1 hierarchies, no cgroup2 mount).
    Legacy,
    /// cgroup v1 controllers plus a cgroup2 mount (usually /sys/fs/cgroup/unified).
    Hybrid,
    /// Pure cgroup v2 (named v1 hierarchies such as name=systemd may exist besides it).
    Unified,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Legacy => "cgroup v1 (legacy)",
            Mode::Hybrid => "hybrid (cgroup v1 controllers + cgroup2)",
            Mode::Unified => "cgroup v2 (unified)",
        })
    }
}

/// One mounted cgroup hierarchy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hierarchy {
    /// Where it is mounted (prefixed with the host's `fs_root`).
    pub mountpoint: PathBuf,
    /// The mountinfo root field: which cgroup of the hierarchy is visible at `mountpoint`.
    pub root: PathBuf,
    /// 1 or 2.
    pub version: u8,
    /// v1: controllers from the mount options, named hierarchies as "name=systemd";
    /// v2: the root's cgroup.controllers.
    pub controllers: Vec<String>,
}

impl Hierarchy {
    /// Does this hierarchy carry `controller`? For v1 "systemd" also matches "name=systemd".
    pub fn has(&self, controller: &str) -> bool {
        self.controllers
            .iter()
            .any(|c| c == controller || c.strip_prefix("name=").is_some_and(|n| n == controller))
    }

    /// A short label for messages: "memory", "cpu,cpuacct", "name=systemd", "cgroup2".
    pub fn label(&self) -> String {
        if self.version == 2 {
            "cgroup2".to_string()
        } else {
            self.controllers.join(",")
        }
    }

    /// The directory of cgroup `cgroup_path` (as written in /proc/PID/cgroup) in this
    /// hierarchy, or None if that cgroup is not visible below this mount.
    pub fn dir_for(&self, cgroup_path: &str) -> Option<PathBuf> {
        let p = Path::new(cgroup_path);
        if !p.is_absolute() {
            return None;
        }
        let rel = p.strip_prefix(&self.root).ok()?;
        if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
            return None;
        }
        Some(self.mountpoint.join(rel))
    }
}

/// The host's cgroup mounts, detected once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Host {
    pub mode: Mode,
    pub hierarchies: Vec<Hierarchy>,
    /// Prefix of every path this crate touches ("/" on a real host; a tempdir in tests).
    /// /proc/PID/cgroup is read below it too.
    pub fs_root: PathBuf,
}

/// One line of /proc/PID/cgroup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcCgroup {
    /// Hierarchy id; 0 for cgroup v2.
    pub id: u32,
    /// Controllers (v1), "name=systemd" for named hierarchies, empty for v2.
    pub controllers: Vec<String>,
    /// The cgroup path relative to the hierarchy's root, e.g. "/process_api/abc".
    pub path: String,
}

/// Parse the text of /proc/PID/cgroup ("4:memory:/process_api/x", "0::/").
/// Pure; errors carry the 1-based line number and reason.
pub fn parse_proc_cgroup(text: &str) -> Result<Vec<ProcCgroup>, (usize, String)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.is_empty() {
            continue;
        }
        let mut it = line.splitn(3, ':');
        let (Some(id), Some(ctrls), Some(path)) = (it.next(), it.next(), it.next()) else {
            return Err((
                i + 1,
                format!("expected ID:CONTROLLERS:PATH, got \"{line}\""),
            ));
        };
        let id: u32 = id
            .parse()
            .map_err(|_| (i + 1, format!("bad hierarchy id \"{id}\"")))?;
        let controllers = ctrls
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        out.push(ProcCgroup {
            id,
            controllers,
            path: path.to_string(),
        });
    }
    Ok(out)
}

/// The path of the process's cgroup in hierarchy `h`, from parsed /proc/PID/cgroup lines.
pub fn cgroup_path_in<'a>(entries: &'a [ProcCgroup], h: &Hierarchy) -> Option<&'a str> {
    entries
        .iter()
        .find(|e| {
            if h.version == 2 {
                e.id == 0 && e.controllers.is_empty()
            } else {
                e.id != 0 && e.controllers.iter().any(|c| h.controllers.contains(c))
            }
        })
        .map(|e| e.path.as_str())
}

/// Mount options of v1 cgroup mounts that are not controllers.
fn is_v1_non_controller(opt: &str) -> bool {
    matches!(
        opt,
        "rw" | "ro"
            | "noprefix"
            | "clone_children"
            | "xattr"
            | "cpuset_v2_mode"
            | "favordynmods"
            | "nofavordynmods"
            | "none"
            | "all"
    ) || opt.starts_with("release_agent=")
}

/// Undo mountinfo's octal escapes (\040 space, \011 tab, \012 newline, \134 backslash).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') as u32 * 64
                + (b[i + 2] - b'0') as u32 * 8
                + (b[i + 3] - b'0') as u32;
            out.push(v as u8);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn rooted(fs_root: &Path, p: &str) -> PathBuf {
    fs_root.join(p.trim_start_matches('/'))
}

impl Host {
    /// Detect the layout of this host from /proc/self/mountinfo (and the v2 root's
    /// cgroup.controllers). Do it once per process and keep the result.
    pub fn detect() -> Result<Host, CgroupError> {
        let path = Path::new("/proc/self/mountinfo");
        let text = std::fs::read_to_string(path).map_err(|e| CgroupError::io("read", path, e))?;
        Host::from_mountinfo(&text, Path::new("/"))
    }

    /// Build the host layout from a mountinfo text; `fs_root` prefixes every path (for
    /// tests on a fake tree; "/" for the real host).
    pub fn from_mountinfo(mountinfo: &str, fs_root: &Path) -> Result<Host, CgroupError> {
        let src = Path::new("/proc/self/mountinfo");
        let mut hierarchies: Vec<Hierarchy> = Vec::new();
        for (i, line) in mountinfo.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let fields: Vec<&str> = line.split(' ').collect();
            let Some(sep) = fields.iter().position(|f| *f == "-") else {
                return Err(CgroupError::Parse {
                    path: src.into(),
                    line: i + 1,
                    reason: "no \" - \" separator".into(),
                });
            };
            if sep < 6 || fields.len() < sep + 4 {
                return Err(CgroupError::Parse {
                    path: src.into(),
                    line: i + 1,
                    reason: "too few fields".into(),
                });
            }
            let fstype = fields[sep + 1];
            let version = match fstype {
                "cgroup" => 1,
                "cgroup2" => 2,
                _ => continue,
            };
            let root = PathBuf::from(unescape(fields[3]));
            let mountpoint = rooted(fs_root, &unescape(fields[4]));
            let superopts = fields[sep + 3];
            if version == 1 {
                let mut controllers: Vec<String> = superopts
                    .split(',')
                    .filter(|o| !is_v1_non_controller(o))
                    .map(str::to_string)
                    .collect();
                controllers.sort();
                if controllers.is_empty() {
                    continue;
                }
                // The same hierarchy mounted twice: keep the first mount.
                if hierarchies
                    .iter()
                    .any(|h| h.version == 1 && h.controllers == controllers)
                {
                    continue;
                }
                hierarchies.push(Hierarchy {
                    mountpoint,
                    root,
                    version: 1,
                    controllers,
                });
            } else {
                if hierarchies.iter().any(|h| h.version == 2) {
                    continue;
                }
                let controllers = std::fs::read_to_string(mountpoint.join("cgroup.controllers"))
                    .map(|s| s.split_whitespace().map(str::to_string).collect())
                    .unwrap_or_default();
                hierarchies.push(Hierarchy {
                    mountpoint,
                    root,
                    version: 2,
                    controllers,
                });
            }
        }
        let has_v1_controllers = hierarchies
            .iter()
            .any(|h| h.version == 1 && h.controllers.iter().any(|c| !c.starts_with("name=")));
        let has_v2 = hierarchies.iter().any(|h| h.version == 2);
        let has_v1 = hierarchies.iter().any(|h| h.version == 1);
        let mode = match (has_v1_controllers, has_v2) {
            (true, true) => Mode::Hybrid,
            (true, false) => Mode::Legacy,
            (false, true) => Mode::Unified,
            (false, false) if has_v1 => Mode::Legacy,
            (false, false) => return Err(CgroupError::NoCgroupFs { path: src.into() }),
        };
        Ok(Host {
            mode,
            hierarchies,
            fs_root: fs_root.to_path_buf(),
        })
    }

    /// The cgroup2 hierarchy, if mounted.
    pub fn unified(&self) -> Option<&Hierarchy> {
        self.hierarchies.iter().find(|h| h.version == 2)
    }

    /// The v1 hierarchy carrying `controller` ("memory", "cpuacct", "name=systemd" or
    /// "systemd").
    pub fn v1_for(&self, controller: &str) -> Option<&Hierarchy> {
        self.hierarchies
            .iter()
            .find(|h| h.version == 1 && h.has(controller))
    }

    /// Read and parse /proc/PID/cgroup (below `fs_root`); pid 0 means "self".
    pub fn proc_cgroup(&self, pid: i32) -> Result<Vec<ProcCgroup>, CgroupError> {
        let p = if pid == 0 {
            "proc/self/cgroup".to_string()
        } else {
            format!("proc/{pid}/cgroup")
        };
        let path = self.fs_root.join(p);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                CgroupError::io_with("read", &path, e, format!("process {pid} does not exist"))
            } else {
                CgroupError::io("read", &path, e)
            }
        })?;
        parse_proc_cgroup(&text).map_err(|(line, reason)| CgroupError::Parse { path, line, reason })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const HYBRID: &str = "\
25 30 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    const LEGACY: &str = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro
26 18 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
28 26 0:24 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,xattr,name=systemd
31 26 0:27 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,cpu,cpuacct
32 26 0:28 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,net_cls,net_prio
33 26 0:29 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,memory
34 26 0:30 / /sys/fs/cgroup/cpuset rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,cpuset,clone_children
35 26 0:31 / /sys/fs/cgroup/freezer rw,nosuid,nodev,noexec,relatime shared:17 - cgroup cgroup rw,freezer
36 26 0:32 / /sys/fs/cgroup/devices rw,nosuid,nodev,noexec,relatime shared:18 - cgroup cgroup rw,devices
37 26 0:33 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:19 - cgroup cgroup rw,pids
38 26 0:34 / /sys/fs/cgroup/blkio rw,nosuid,nodev,noexec,relatime shared:20 - cgroup cgroup rw,blkio
90 33 0:29 / /mnt/memory\\040again rw,relatime shared:15 - cgroup cgroup rw,memory
";

    const UNIFIED: &str = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
26 18 0:22 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
";

    #[test]
    fn detects_hybrid() {
        let t = tempfile::tempdir().unwrap();
        let uni = t.path().join("sys/fs/cgroup/unified");
        std::fs::create_dir_all(&uni).unwrap();
        std::fs::write(uni.join("cgroup.controllers"), "hugetlb\n").unwrap();
        let h = Host::from_mountinfo(HYBRID, t.path()).unwrap();
        assert_eq!(h.mode, Mode::Hybrid);
        assert_eq!(h.hierarchies.len(), 10);
        let u = h.unified().unwrap();
        assert_eq!(u.mountpoint, uni);
        assert_eq!(u.controllers, vec!["hugetlb"]);
        let m = h.v1_for("memory").unwrap();
        assert_eq!(m.mountpoint, t.path().join("sys/fs/cgroup/memory"));
        assert_eq!(m.root, Path::new("/"));
        assert_eq!(
            h.v1_for("systemd").unwrap().controllers,
            vec!["name=systemd"]
        );
        assert_eq!(
            h.v1_for("name=systemd").unwrap().mountpoint,
            t.path().join("sys/fs/cgroup/systemd")
        );
        assert!(h.v1_for("net_cls").is_none());
        assert!(h.v1_for("io").is_none());
    }

    #[test]
    fn detects_legacy_with_comounts_and_duplicates() {
        let h = Host::from_mountinfo(LEGACY, Path::new("/")).unwrap();
        assert_eq!(h.mode, Mode::Legacy);
        assert!(h.unified().is_none());
        // the second mount of memory is ignored
        assert_eq!(h.hierarchies.len(), 9);
        let cpu = h.v1_for("cpuacct").unwrap();
        assert_eq!(cpu.controllers, vec!["cpu", "cpuacct"]);
        assert_eq!(cpu.mountpoint, Path::new("/sys/fs/cgroup/cpu,cpuacct"));
        assert_eq!(h.v1_for("cpu").unwrap(), cpu);
        // xattr and clone_children are options, not controllers
        assert_eq!(
            h.v1_for("systemd").unwrap().controllers,
            vec!["name=systemd"]
        );
        assert_eq!(h.v1_for("cpuset").unwrap().controllers, vec!["cpuset"]);
        assert_eq!(
            h.v1_for("memory").unwrap().mountpoint,
            Path::new("/sys/fs/cgroup/memory")
        );
    }

    #[test]
    fn detects_unified_and_reads_controllers() {
        let t = tempfile::tempdir().unwrap();
        let cg = t.path().join("sys/fs/cgroup");
        std::fs::create_dir_all(&cg).unwrap();
        std::fs::write(
            cg.join("cgroup.controllers"),
            "cpuset cpu io memory hugetlb pids rdma misc\n",
        )
        .unwrap();
        let h = Host::from_mountinfo(UNIFIED, t.path()).unwrap();
        assert_eq!(h.mode, Mode::Unified);
        assert_eq!(h.hierarchies.len(), 1);
        let u = h.unified().unwrap();
        assert!(u.has("memory") && u.has("pids") && !u.has("devices"));
        assert!(h.v1_for("memory").is_none());
    }

    #[test]
    fn unified_with_named_v1_is_unified() {
        let text = format!(
            "{UNIFIED}40 26 0:37 / /run/systemd/cgroup rw,relatime - cgroup cgroup rw,name=systemd\n"
        );
        let h = Host::from_mountinfo(&text, Path::new("/")).unwrap();
        assert_eq!(h.mode, Mode::Unified);
        assert!(h.v1_for("name=systemd").is_some());
    }

    #[test]
    fn no_cgroup_mounts_is_an_error() {
        let e = Host::from_mountinfo(
            "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n",
            Path::new("/"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("no cgroup or cgroup2 mount"), "{e}");
        let e = Host::from_mountinfo("garbage line\n", Path::new("/")).unwrap_err();
        assert!(e.to_string().contains("line 1"), "{e}");
    }

    #[test]
    fn unescapes_mountpoints() {
        assert_eq!(unescape("/mnt/a\\040b"), "/mnt/a b");
        assert_eq!(unescape("/x\\134y"), "/x\\y");
        assert_eq!(unescape("/trailing\\04"), "/trailing\\04");
    }

    #[test]
    fn parses_proc_cgroup() {
        let text =
            "9:name=systemd:/\n4:memory:/process_api/fe51\n2:cpu,cpuacct:/a:b\n0::/user.slice\n";
        let e = parse_proc_cgroup(text).unwrap();
        assert_eq!(e.len(), 4);
        assert_eq!(e[0].controllers, vec!["name=systemd"]);
        assert_eq!(e[1].path, "/process_api/fe51");
        assert_eq!(e[2].controllers, vec!["cpu", "cpuacct"]);
        assert_eq!(e[2].path, "/a:b");
        assert_eq!(e[3].id, 0);
        assert!(e[3].controllers.is_empty());
        assert_eq!(parse_proc_cgroup("x:memory:/").unwrap_err().0, 1);
        assert_eq!(parse_proc_cgroup("0::/\n1:memory").unwrap_err().0, 2);
    }

    #[test]
    fn maps_cgroup_paths_to_dirs() {
        let h = Hierarchy {
            mountpoint: "/sys/fs/cgroup/memory".into(),
            root: "/".into(),
            version: 1,
            controllers: vec!["memory".into()],
        };
        assert_eq!(
            h.dir_for("/process_api/x").unwrap(),
            Path::new("/sys/fs/cgroup/memory/process_api/x")
        );
        assert_eq!(h.dir_for("/").unwrap(), Path::new("/sys/fs/cgroup/memory"));
        assert!(h.dir_for("/..").is_none());
        let sub = Hierarchy {
            root: "/lxc/c1".into(),
            ..h.clone()
        };
        assert_eq!(
            sub.dir_for("/lxc/c1/init.scope").unwrap(),
            Path::new("/sys/fs/cgroup/memory/init.scope")
        );
        assert!(sub.dir_for("/lxc/c2").is_none());
        assert!(sub.dir_for("/lxc/c10").is_none());
    }

    #[test]
    fn matches_proc_lines_to_hierarchies() {
        let t = tempfile::tempdir().unwrap();
        let h = Host::from_mountinfo(HYBRID, t.path()).unwrap();
        let e = parse_proc_cgroup("9:name=systemd:/s\n4:memory:/m\n1:cpu:/c\n0::/u\n").unwrap();
        assert_eq!(cgroup_path_in(&e, h.v1_for("memory").unwrap()), Some("/m"));
        assert_eq!(cgroup_path_in(&e, h.v1_for("systemd").unwrap()), Some("/s"));
        assert_eq!(cgroup_path_in(&e, h.unified().unwrap()), Some("/u"));
        assert_eq!(cgroup_path_in(&e, h.v1_for("pids").unwrap()), None);
    }
}
