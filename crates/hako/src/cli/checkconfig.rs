//! `hako checkconfig` / `lxc-checkconfig`: which kernel features containers need are
//! there. Reads the kernel config (`$CONFIG`, /proc/config.gz, /boot/config-$(uname -r));
//! without one it probes the running kernel (/proc/self/ns, /proc/filesystems,
//! /proc/cgroups, /sys/module, mounts). Output as lxc-checkconfig: sections of
//! `Feature: enabled|missing|required`, coloured on a terminal.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Enabled,
    /// optional feature not there
    Missing,
    /// mandatory feature not there
    Required,
    /// cannot tell without the kernel config
    Unknown,
}

impl Status {
    fn word(self) -> &'static str {
        match self {
            Status::Enabled => "enabled",
            Status::Missing => "missing",
            Status::Required => "required",
            Status::Unknown => "unknown",
        }
    }
    fn colour(self) -> &'static str {
        match self {
            Status::Enabled => "\x1b[1;32m",
            Status::Required => "\x1b[1;31m",
            Status::Missing | Status::Unknown => "\x1b[1;33m",
        }
    }
}

/// What the running kernel shows without its config.
#[derive(Clone, Debug, Default)]
pub struct Probes {
    /// names in /proc/self/ns
    pub namespaces: Vec<String>,
    /// /proc/filesystems second column
    pub filesystems: Vec<String>,
    /// enabled controllers from /proc/cgroups
    pub cgroup_controllers: Vec<String>,
    /// (mount point, fstype) for cgroup and cgroup2 mounts
    pub cgroup_mounts: Vec<(String, String)>,
    /// modules present in /sys/module (loaded or built in with parameters)
    pub modules: Vec<String>,
    /// whether the first v1 hierarchy has cgroup.clone_children
    pub clone_children: bool,
    /// "Seccomp:" present in /proc/self/status
    pub seccomp: bool,
    /// (major, minor) of the running kernel
    pub kernel: Option<(u32, u32)>,
}

/// `CONFIG_X=y|m` lines of a kernel config.
pub fn parse_kernel_config(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter(|l| l.starts_with("CONFIG_"))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub struct Report {
    pub text: String,
    /// a mandatory feature is missing
    pub failed: bool,
}

struct Check<'a> {
    config: Option<&'a HashMap<String, String>>,
    probes: &'a Probes,
    colour: bool,
    out: String,
    failed: bool,
}

impl Check<'_> {
    fn set(&self, key: &str) -> Option<bool> {
        self.config
            .map(|c| matches!(c.get(key).map(String::as_str), Some("y") | Some("m")))
    }

    fn emit(&mut self, label: &str, status: Status, note: &str) {
        if status == Status::Required {
            self.failed = true;
        }
        let word = if self.colour {
            format!("{}{}\x1b[0;39m", status.colour(), status.word())
        } else {
            status.word().to_string()
        };
        let _ = writeln!(self.out, "{label}: {word}{note}");
    }

    /// A feature known from the config key, else from `probe` (None: cannot tell).
    fn feature(&mut self, label: &str, key: &str, mandatory: bool, probe: Option<bool>) {
        let present = self.set(key).or(probe);
        let status = match present {
            Some(true) => Status::Enabled,
            Some(false) if mandatory => Status::Required,
            Some(false) => Status::Missing,
            None => Status::Unknown,
        };
        self.emit(label, status, "");
    }

    /// A feature that may be a module: adds ", loaded" / ", not loaded".
    fn module(&mut self, label: &str, key: &str, module: &str) {
        let loaded = self.probes.modules.iter().any(|m| m == module);
        let (status, note) = match self.set(key) {
            Some(true) => (
                Status::Enabled,
                if loaded { ", loaded" } else { ", not loaded" },
            ),
            Some(false) => (Status::Missing, ""),
            None if loaded => (Status::Enabled, ", loaded"),
            None => (
                Status::Unknown,
                " (not loaded; the kernel config would tell)",
            ),
        };
        self.emit(label, status, note);
    }
}

/// Builds the report from a kernel config (if any) and the probes.
pub fn report(
    config: Option<(&Path, &HashMap<String, String>)>,
    probes: &Probes,
    colour: bool,
) -> Report {
    let mut c = Check {
        config: config.map(|(_, m)| m),
        probes,
        colour,
        out: String::new(),
        failed: false,
    };
    let _ = writeln!(c.out, "hako version {}", env!("CARGO_PKG_VERSION"));
    match config {
        Some((path, _)) => {
            let _ = writeln!(c.out, "Kernel configuration found at {}", path.display());
        }
        None => {
            let _ = writeln!(
                c.out,
                "Kernel configuration not found (tried $CONFIG, /proc/config.gz, /boot/config-$(uname -r)); probing the running kernel"
            );
        }
    }
    let ns = |n: &str| Some(probes.namespaces.iter().any(|x| x == n));
    let fs = |n: &str| Some(probes.filesystems.iter().any(|x| x == n));
    let ctl = |n: &str| Some(probes.cgroup_controllers.iter().any(|x| x == n));

    c.out.push_str("\n--- Namespaces ---\n");
    c.feature(
        "Namespaces",
        "CONFIG_NAMESPACES",
        true,
        Some(!probes.namespaces.is_empty()),
    );
    c.feature("Utsname namespace", "CONFIG_UTS_NS", false, ns("uts"));
    c.feature("Ipc namespace", "CONFIG_IPC_NS", true, ns("ipc"));
    c.feature("Pid namespace", "CONFIG_PID_NS", true, ns("pid"));
    c.feature("User namespace", "CONFIG_USER_NS", false, ns("user"));
    c.feature("Network namespace", "CONFIG_NET_NS", false, ns("net"));
    if probes.kernel.is_some_and(|k| k < (4, 7)) {
        c.feature(
            "Multiple /dev/pts instances",
            "CONFIG_DEVPTS_MULTIPLE_INSTANCES",
            true,
            None,
        );
    } else {
        // Since Linux 4.7 every devpts mount is a new instance.
        c.emit("Multiple /dev/pts instances", Status::Enabled, "");
    }

    c.out.push_str("\n--- Control groups ---\n");
    c.feature(
        "Cgroups",
        "CONFIG_CGROUPS",
        true,
        Some(!probes.cgroup_mounts.is_empty()),
    );
    let cgns = ns("cgroup");
    c.emit(
        "Cgroup namespace",
        if cgns == Some(true) {
            Status::Enabled
        } else {
            Status::Missing
        },
        "",
    );
    c.out.push_str("Cgroup v1 mount points: \n");
    for (mnt, _) in probes.cgroup_mounts.iter().filter(|(_, t)| t == "cgroup") {
        let _ = writeln!(c.out, " - {mnt}");
    }
    c.out.push_str("Cgroup v2 mount points: \n");
    for (mnt, _) in probes.cgroup_mounts.iter().filter(|(_, t)| t == "cgroup2") {
        let _ = writeln!(c.out, " - {mnt}");
    }
    let has_v1 = probes.cgroup_mounts.iter().any(|(_, t)| t == "cgroup");
    if has_v1 {
        let v1 = |name: &str| {
            probes.cgroup_mounts.iter().any(|(m, t)| {
                t == "cgroup"
                    && m.rsplit('/')
                        .next()
                        .is_some_and(|last| last.split(',').any(|p| p == name))
            })
        };
        if !v1("freezer") {
            c.emit("Cgroup v1 freezer controller", Status::Missing, "");
        }
        if probes.clone_children {
            c.emit("Cgroup v1 clone_children flag", Status::Enabled, "");
        }
    }
    c.feature(
        "Cgroup device",
        "CONFIG_CGROUP_DEVICE",
        false,
        ctl("devices"),
    );
    c.feature(
        "Cgroup BPF (v2 device rules)",
        "CONFIG_CGROUP_BPF",
        false,
        None,
    );
    c.feature("Cgroup sched", "CONFIG_CGROUP_SCHED", false, ctl("cpu"));
    c.feature(
        "Cgroup cpu account",
        "CONFIG_CGROUP_CPUACCT",
        false,
        ctl("cpuacct"),
    );
    c.feature(
        "Cgroup memory controller",
        "CONFIG_MEMCG",
        false,
        ctl("memory"),
    );
    c.feature(
        "Cgroup pids controller",
        "CONFIG_CGROUP_PIDS",
        false,
        ctl("pids"),
    );
    c.feature(
        "Cgroup freezer",
        "CONFIG_CGROUP_FREEZER",
        false,
        ctl("freezer"),
    );
    if c.set("CONFIG_SMP") != Some(false) {
        c.feature("Cgroup cpuset", "CONFIG_CPUSETS", false, ctl("cpuset"));
    }

    c.out.push_str("\n--- Misc ---\n");
    c.module("Veth pair device", "CONFIG_VETH", "veth");
    c.module("Macvlan", "CONFIG_MACVLAN", "macvlan");
    c.module("Vlan", "CONFIG_VLAN_8021Q", "8021q");
    c.module("Bridges", "CONFIG_BRIDGE", "bridge");
    c.module(
        "Advanced netfilter",
        "CONFIG_NETFILTER_ADVANCED",
        "nf_tables",
    );
    c.module("CONFIG_NF_TABLES", "CONFIG_NF_TABLES", "nf_tables");
    c.module(
        "CONFIG_IP_NF_TARGET_MASQUERADE",
        "CONFIG_IP_NF_TARGET_MASQUERADE",
        "nf_nat_masquerade_ipv4",
    );
    c.module(
        "CONFIG_IP6_NF_TARGET_MASQUERADE",
        "CONFIG_IP6_NF_TARGET_MASQUERADE",
        "nf_nat_masquerade_ipv6",
    );
    c.module(
        "CONFIG_NETFILTER_XT_TARGET_CHECKSUM",
        "CONFIG_NETFILTER_XT_TARGET_CHECKSUM",
        "xt_CHECKSUM",
    );
    c.module(
        "CONFIG_NETFILTER_XT_MATCH_COMMENT",
        "CONFIG_NETFILTER_XT_MATCH_COMMENT",
        "xt_comment",
    );
    c.feature(
        "Overlay filesystem",
        "CONFIG_OVERLAY_FS",
        false,
        fs("overlay"),
    );
    c.feature(
        "FUSE (for use with lxcfs)",
        "CONFIG_FUSE_FS",
        false,
        fs("fuse"),
    );
    c.feature(
        "Seccomp filter",
        "CONFIG_SECCOMP_FILTER",
        false,
        Some(probes.seccomp),
    );
    c.emit("File capabilities", Status::Enabled, "");

    c.out
        .push_str("\nNote : Before booting a new kernel, you can check its configuration\n");
    c.out
        .push_str("usage : CONFIG=/path/to/config hako checkconfig\n\n");
    Report {
        text: c.out,
        failed: c.failed,
    }
}

/// Gathers the probes from the running system.
pub fn probe() -> Probes {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let namespaces = std::fs::read_dir("/proc/self/ns")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    let filesystems = read("/proc/filesystems")
        .lines()
        .filter_map(|l| l.split_whitespace().last().map(str::to_string))
        .collect();
    let cgroup_controllers = read("/proc/cgroups")
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 4 && f[3] == "1").then(|| f[0].to_string())
        })
        .collect();
    let cgroup_mounts: Vec<(String, String)> = read("/proc/self/mounts")
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 3 && (f[2] == "cgroup" || f[2] == "cgroup2"))
                .then(|| (f[1].to_string(), f[2].to_string()))
        })
        .collect();
    let clone_children = cgroup_mounts
        .iter()
        .find(|(_, t)| t == "cgroup")
        .is_some_and(|(m, _)| Path::new(m).join("cgroup.clone_children").exists());
    let modules = std::fs::read_dir("/sys/module")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    let seccomp = read("/proc/self/status")
        .lines()
        .any(|l| l.starts_with("Seccomp:"));
    let kernel = nix::sys::utsname::uname().ok().and_then(|u| {
        let r = u.release().to_string_lossy().into_owned();
        let mut it = r
            .split(|c: char| !c.is_ascii_digit())
            .filter(|s| !s.is_empty());
        Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
    });
    Probes {
        namespaces,
        filesystems,
        cgroup_controllers,
        cgroup_mounts,
        modules,
        clone_children,
        seccomp,
        kernel,
    }
}

/// Finds and reads the kernel config. gzip'd files go through `gzip -dc` (gzip is an
/// essential package on Debian; this is not a hot path).
pub fn load_kernel_config() -> Result<Option<(PathBuf, String)>, String> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(c) = std::env::var_os("CONFIG") {
        candidates.push(PathBuf::from(c));
    }
    candidates.push("/proc/config.gz".into());
    if let Ok(u) = nix::sys::utsname::uname() {
        let rel = u.release().to_string_lossy().into_owned();
        candidates.push(format!("/boot/config-{rel}").into());
        candidates.push(format!("/lib/modules/{rel}/build/.config").into());
    }
    for path in candidates {
        // bounded (a kernel config is a few hundred KiB): CONFIG=/dev/zero or a FIFO is
        // refused, not read forever
        let bytes = match hako_config::read_bounded(&path, 16 << 20) {
            Ok(b) => b,
            Err(e)
                if !e.is_not_found()
                    && std::env::var_os("CONFIG").as_deref() == Some(path.as_os_str()) =>
            {
                return Err(format!("{e}; set CONFIG to the kernel's config file"))
            }
            Err(_) => continue,
        };
        let text = if bytes.starts_with(&[0x1f, 0x8b]) {
            let out = std::process::Command::new("gzip")
                .arg("-dc")
                .arg(&path)
                .output()
                .map_err(|e| format!("cannot decompress the kernel config \"{}\": running gzip failed: {e}; install gzip or set CONFIG to an uncompressed config", path.display()))?;
            if !out.status.success() {
                return Err(format!(
                    "cannot decompress the kernel config \"{}\": gzip said {}; set CONFIG to an uncompressed config",
                    path.display(),
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
            String::from_utf8_lossy(&out.stdout).into_owned()
        } else {
            String::from_utf8_lossy(&bytes).into_owned()
        };
        return Ok(Some((path, text)));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probes() -> Probes {
        Probes {
            namespaces: ["cgroup", "ipc", "mnt", "net", "pid", "user", "uts"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            filesystems: vec!["overlay".into(), "devpts".into()],
            cgroup_controllers: [
                "cpu", "cpuacct", "memory", "devices", "freezer", "pids", "cpuset",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            cgroup_mounts: vec![
                ("/sys/fs/cgroup/memory".into(), "cgroup".into()),
                ("/sys/fs/cgroup/freezer".into(), "cgroup".into()),
                ("/sys/fs/cgroup/unified".into(), "cgroup2".into()),
            ],
            modules: vec!["veth".into(), "bridge".into()],
            clone_children: true,
            seccomp: true,
            kernel: Some((6, 1)),
        }
    }

    #[test]
    fn from_kernel_config() {
        let cfg = parse_kernel_config(
            "# comment\nCONFIG_NAMESPACES=y\nCONFIG_UTS_NS=y\nCONFIG_IPC_NS=y\n# CONFIG_PID_NS is not set\nCONFIG_NET_NS=y\nCONFIG_VETH=m\nCONFIG_MACVLAN=m\nCONFIG_CGROUPS=y\nCONFIG_SMP=y\nCONFIG_OVERLAY_FS=m\n",
        );
        assert_eq!(cfg.get("CONFIG_VETH").map(String::as_str), Some("m"));
        let r = report(Some((Path::new("/proc/config.gz"), &cfg)), &probes(), false);
        let t = &r.text;
        assert!(t.contains("Kernel configuration found at /proc/config.gz\n"));
        assert!(
            t.contains("\n--- Namespaces ---\nNamespaces: enabled\n"),
            "{t}"
        );
        assert!(t.contains("Pid namespace: required\n"), "{t}");
        assert!(t.contains("User namespace: missing\n"));
        assert!(t.contains("Veth pair device: enabled, loaded\n"));
        assert!(t.contains("Macvlan: enabled, not loaded\n"));
        assert!(t.contains("Vlan: missing\n"));
        assert!(t.contains("Overlay filesystem: enabled\n"));
        assert!(t.contains("Cgroup v1 mount points: \n - /sys/fs/cgroup/memory\n - /sys/fs/cgroup/freezer\nCgroup v2 mount points: \n - /sys/fs/cgroup/unified\n"), "{t}");
        assert!(t.contains("Cgroup v1 clone_children flag: enabled\n"));
        assert!(!t.contains("\x1b["));
        assert!(r.failed, "PID namespace is mandatory");
    }

    #[test]
    fn from_probes_only() {
        let r = report(None, &probes(), false);
        let t = &r.text;
        assert!(t.contains("probing the running kernel"));
        assert!(t.contains("Pid namespace: enabled\n"));
        assert!(t.contains("Cgroup namespace: enabled\n"));
        assert!(t.contains("Cgroup memory controller: enabled\n"));
        assert!(t.contains("Veth pair device: enabled, loaded\n"));
        assert!(t.contains("Macvlan: unknown"));
        assert!(t.contains("Overlay filesystem: enabled\n"));
        assert!(t.contains("FUSE (for use with lxcfs): missing\n"));
        assert!(!r.failed);
        let mut p = probes();
        p.namespaces.retain(|n| n != "pid");
        p.cgroup_mounts.retain(|(m, _)| !m.ends_with("freezer"));
        let r = report(None, &p, true);
        assert!(r.failed);
        assert!(
            r.text
                .contains("Pid namespace: \x1b[1;31mrequired\x1b[0;39m\n"),
            "{}",
            r.text
        );
        assert!(r.text.contains("Cgroup v1 freezer controller: "));
    }

    #[test]
    fn probes_this_machine() {
        // Every Linux that runs these tests has /proc/self/ns and /proc/filesystems.
        let p = probe();
        assert!(
            p.namespaces.iter().any(|n| n == "pid"),
            "{:?}",
            p.namespaces
        );
        assert!(!p.filesystems.is_empty());
        assert!(p.kernel.is_some());
    }
}
