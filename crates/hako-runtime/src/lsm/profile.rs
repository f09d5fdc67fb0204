//! The profile hako generates for `lxc.apparmor.profile = generated`.

use std::fmt::Write as _;

use super::LsmConfig;

/// Where systemd builds a service's private mount tree (`ProtectSystem=`, `PrivateTmp=`,
/// `ProtectProc=`, ...) before it moves it onto `/`: a copy of `/` with its /proc and /sys,
/// and a fresh proc. The rules treat its /proc and /sys as they treat `/proc` and `/sys`.
const UNIT_ROOT: &str = "run/systemd/unit-root";

/// The writable parts of /proc/sys: what belongs to the container's own namespaces (its
/// host and domain name, System V IPC and POSIX message queue limits, its network stack).
const PROC_SYS_WRITABLE: &[&str] = &[
    "kernel/hostname",
    "kernel/domainname",
    "kernel/shm*",
    "kernel/msg*",
    "kernel/sem*",
    "fs/mqueue",
    "net",
];

/// The writable parts of /sys: the container's cgroups (its cgroup namespace) and its
/// network devices.
const SYS_WRITABLE: &[&str] = &["fs/cgroup", "class/net", "devices/virtual/net"];

/// What systemd's ProtectKernelTunables= makes read-only in a service's unit root, binding
/// each onto itself first where it is not a mount point yet (systemd 252's list).
const SYSTEMD_SELF_BINDS: &[&str] = &[
    "proc/acpi",
    "proc/apm",
    "proc/asound",
    "proc/bus",
    "proc/fs",
    "proc/irq",
    "proc/latency_stats",
    "proc/mtrr",
    "proc/scsi",
    "proc/sys",
    "proc/sysrq-trigger",
    "proc/timer_stats",
    "sys/fs/bpf",
    "sys/kernel/debug",
    "sys/kernel/tracing",
];

/// Mount flag sets a remount may add to `ro,remount,bind`: the ones that only take rights
/// away, in the combinations systemd and mount(8) pass (both repeat the flags a mount has).
const REMOUNT_FLAGS: &[&str] = &["nosuid", "nodev", "noexec"];
const REMOUNT_ATIME: &[&str] = &["", "noatime", "relatime", "strictatime"];

/// The profile text for `lxc.apparmor.profile = generated`.
///
/// The container may use files, networks, D-Bus and the capabilities of its bounding set;
/// the rules take back what reaches the host from a root that keeps CAP_SYS_ADMIN (which
/// systemd needs): no fresh proc or sysfs outside /proc and /sys (where the path rules
/// below cover them), no mount of a block device (the kernel would hand back the host's
/// mounted superblock), no binfmt_misc, no remount that adds rights (`remount,rw /sys`), no
/// unmounting what covers /proc and /sys (`umount /proc/sys`), no bind or move that carries
/// /proc or /sys out from under the path rules, no writes to the kernel's knobs in /proc/sys
/// and /sys beyond the container's own namespaces, no /proc/sysrq-trigger, /proc/kcore,
/// firmware or securityfs. systemd's sandboxing (private mounts in /run/systemd/unit-root,
/// ProtectProc's fresh proc, read-only remounts, tmpfs, cgroup2 in the container's cgroup
/// namespace) stays possible.
pub fn generated_profile(profile: &str, container: &str, cfg: &LsmConfig) -> String {
    let mut p = String::new();
    // paths must begin with "/": the alternation follows it
    let roots = format!("/{{,{UNIT_ROOT}/}}");
    let _ = writeln!(
        p,
        "# AppArmor profile of the hako container \"{}\", written by hako at each start\n\
         # (lxc.apparmor.profile = generated): changes here are lost. Add rules with\n\
         # lxc.apparmor.raw in the container's config.\n",
        container.escape_default()
    );
    let _ = writeln!(
        p,
        "profile {profile} flags=(attach_disconnected,mediate_deleted) {{"
    );
    let mut rule = |s: &str| {
        p.push_str("  ");
        p.push_str(s);
        p.push('\n');
    };
    rule("# what the container may do; the rules below take back what reaches the host");
    rule("capability,");
    rule("file,");
    rule("network,");
    rule("dbus,");
    rule("umount,");
    rule("signal (receive),");
    rule(&format!("signal peer={profile},"));
    rule("ptrace (readby, tracedby),");
    rule(&format!("ptrace peer={profile},"));
    rule("unix (receive),");
    rule(&format!("unix peer=(label={profile}),"));
    rule("");
    rule("# new mounts: file systems without host state anywhere; proc, sysfs and cgroups");
    rule("# only where the container has them (the path rules below cover those places)");
    for fs in [
        "tmpfs",
        "ramfs",
        "mqueue",
        "hugetlbfs",
        "devpts",
        "fuse",
        "fuse.*",
    ] {
        rule(&format!("mount fstype={fs},"));
    }
    rule(&format!("mount fstype=proc -> {roots}proc/,"));
    rule(&format!("mount fstype=sysfs -> {roots}sys/,"));
    rule(&format!(
        "mount fstype=cgroup -> {roots}sys/fs/cgroup/{{,**}},"
    ));
    rule(&format!(
        "mount fstype=cgroup2 -> {roots}sys/fs/cgroup/{{,**}},"
    ));
    rule(&format!(
        "mount fstype=fusectl -> {roots}sys/fs/fuse/connections/,"
    ));
    rule("");
    rule("# mount propagation");
    for t in [
        "slave",
        "rslave",
        "shared",
        "rshared",
        "private",
        "rprivate",
        "unbindable",
        "runbindable",
    ] {
        rule(&format!("mount options=(rw,make-{t}) -> /{{,**}},"));
    }
    rule("");
    rule("# remounts that only take rights away");
    for bits in 0..(1u32 << REMOUNT_FLAGS.len()) {
        for atime in REMOUNT_ATIME {
            let mut opts = vec!["ro", "remount", "bind"];
            for (i, f) in REMOUNT_FLAGS.iter().enumerate() {
                if bits & (1 << i) != 0 {
                    opts.push(f);
                }
            }
            if !atime.is_empty() {
                opts.push(atime);
            }
            rule(&format!("mount options=({}) -> /{{,**}},", opts.join(",")));
        }
    }
    rule("");
    rule("# bind mounts of anything that does not carry a /proc or /sys away; recursive");
    rule("# ones and moves not of anything that holds one either; systemd's unit root is");
    rule("# made from / and moved onto / only, and ProtectKernelTunables= binds its parts of");
    rule("# /proc and /sys onto themselves before it makes them read-only");
    let proc_sys = |base: &str| {
        [
            Hole::subtree(&format!("{base}proc")),
            Hole::subtree(&format!("{base}sys")),
        ]
    };
    let mut bind_holes: Vec<Hole> = proc_sys("").to_vec();
    bind_holes.extend(proc_sys(&format!("{UNIT_ROOT}/")));
    for src in complement("/", &bind_holes, false) {
        rule(&format!("mount options=(rw,bind) {src} -> /**,"));
    }
    let mut tree_holes: Vec<Hole> = proc_sys("").to_vec();
    tree_holes.push(Hole::subtree(UNIT_ROOT));
    tree_holes.push(Hole::exact("run"));
    tree_holes.push(Hole::exact("run/systemd"));
    let tree_sources = complement("/", &tree_holes, false);
    for src in &tree_sources {
        rule(&format!("mount options=(rw,rbind) {src} -> /**,"));
    }
    // systemd builds a service's /dev and its credentials elsewhere and moves them in
    for src in &tree_sources {
        rule(&format!("mount options=(rw,move) {src} -> /**,"));
    }
    rule(&format!("mount options=(rw,rbind) / -> /{UNIT_ROOT}/,"));
    rule(&format!("mount options=(rw,move) /{UNIT_ROOT}/ -> /,"));
    for t in SYSTEMD_SELF_BINDS {
        let at = format!("/{UNIT_ROOT}/{t}{{,/}}");
        rule(&format!("mount options=(rw,rbind) {at} -> {at},"));
    }
    rule("");
    rule("# what covers /proc and /sys stays");
    rule(&format!("deny umount {roots}proc/{{,**}},"));
    rule(&format!("deny umount {roots}sys/{{,**}},"));
    rule("");
    rule("# /proc: the kernel's knobs, writable only where they belong to the container's");
    rule("# namespaces; no memory image, no magic SysRq, no ACPI, no kernel log");
    for g in complement("/proc/sys/", &holes(PROC_SYS_WRITABLE), true) {
        rule(&format!("deny {g} wklx,"));
    }
    for f in ["sysrq-trigger", "kcore", "kmsg"] {
        rule(&format!("deny {roots}proc/{f} rwklx,"));
    }
    rule(&format!("deny {roots}proc/acpi/{{,**}} rwklx,"));
    for d in ["bus", "fs", "irq"] {
        rule(&format!("deny {roots}proc/{d}/** wklx,"));
    }
    rule("");
    rule("# /sys: read-only but for the container's cgroups and network devices; no");
    rule("# firmware, no security or debug file systems");
    for g in complement("/sys/", &holes(SYS_WRITABLE), true) {
        rule(&format!("deny {g} wklx,"));
    }
    rule("");
    rule("# systemd's unit root: nothing is written there while systemd builds it, and the");
    rule("# service's /proc and /sys are the rules above once it is moved onto /");
    rule(&format!("deny /{UNIT_ROOT}/{{proc,sys}}/** wklx,"));
    for d in ["firmware", "kernel/security", "kernel/debug"] {
        rule(&format!("deny {roots}sys/{d}/{{,**}} rwklx,"));
    }
    if cfg.apparmor_allow_nesting {
        rule("");
        rule("# lxc.apparmor.allow_nesting = 1: the container runs containers of its own; it");
        rule("# may mount anything (their proc and sysfs), so the mount rules above no longer");
        rule("# confine it (the path rules still do)");
        rule("mount,");
        rule("pivot_root,");
        rule("ptrace,");
        rule("signal,");
        rule(&format!("change_profile -> {profile},"));
    }
    if !cfg.apparmor_raw.is_empty() {
        rule("");
        rule("# lxc.apparmor.raw");
        for r in &cfg.apparmor_raw {
            rule(r);
        }
    }
    p.push_str("}\n");
    p
}

/// A part of a tree left out of [`complement`]: a path (relative, `/`-separated; a last
/// component may end in `*`, for every name with that prefix) and whether what is below it
/// is left out too.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Hole {
    parts: Vec<String>,
    subtree: bool,
}

impl Hole {
    fn subtree(path: &str) -> Hole {
        Hole {
            parts: path.split('/').map(String::from).collect(),
            subtree: true,
        }
    }
    fn exact(path: &str) -> Hole {
        Hole {
            subtree: false,
            ..Hole::subtree(path)
        }
    }
}

fn holes(paths: &[&str]) -> Vec<Hole> {
    paths.iter().map(|p| Hole::subtree(p)).collect()
}

/// AppArmor globs that together match every path strictly below the directory `base`
/// (which ends in `/`) except the `holes`: AppArmor has no "all but", and a deny rule
/// outweighs any allow, so "deny writes in /sys except /sys/fs/cgroup" must be spelled as
/// the complement. Built on a trie of the holes' names: at each name prefix, one glob for
/// the names that continue with another character (`[^..]`, which also never takes the
/// `/`), one for the prefix as a name of its own, and a descent into the directories on
/// the holes' paths. `prefix_names`: also the names that are only the start of a hole's
/// name (a deny list needs them: "/sys/dev" is a real name; an allow list may do without).
fn complement(base: &str, holes: &[Hole], prefix_names: bool) -> Vec<String> {
    let mut out = Vec::new();
    complement_dir(base, holes, prefix_names, &mut out);
    out
}

fn complement_dir(dir: &str, holes: &[Hole], prefix_names: bool, out: &mut Vec<String>) {
    // the first component of each hole, and what is left of its path
    let firsts: Vec<(&str, &[String], bool)> = holes
        .iter()
        .filter(|h| !h.parts.is_empty())
        .map(|h| (h.parts[0].as_str(), &h.parts[1..], h.subtree))
        .collect();
    complement_names(dir, "", &firsts, prefix_names, out);
}

/// The names in `dir` that start with `prefix`, given the holes' first components that do.
fn complement_names(
    dir: &str,
    prefix: &str,
    firsts: &[(&str, &[String], bool)],
    prefix_names: bool,
    out: &mut Vec<String>,
) {
    // a prefix glob ("shm*") that is a hole with everything below: nothing more here
    if firsts
        .iter()
        .any(|(n, rest, sub)| *n == format!("{prefix}*") && rest.is_empty() && *sub)
    {
        return;
    }
    // the characters that continue a hole's name after this prefix
    let mut next: Vec<char> = firsts
        .iter()
        .filter_map(|(n, _, _)| n.strip_prefix(prefix))
        .filter_map(|rest| rest.chars().next())
        .filter(|c| *c != '*')
        .collect();
    next.sort_unstable();
    next.dedup();
    // a '-' first in the class is a plain character, never a range
    let mut class: String = if next.contains(&'-') {
        "-".into()
    } else {
        String::new()
    };
    class.extend(next.iter().filter(|c| **c != '-').map(|c| glob_escape(*c)));
    // longer names whose next character continues no hole
    out.push(format!("{dir}{prefix}[^{class}/]*{{,/**}}"));
    // the prefix as a whole name (at the top, the empty name is no name)
    if !prefix.is_empty() {
        let whole: Vec<&(&str, &[String], bool)> =
            firsts.iter().filter(|(n, _, _)| *n == prefix).collect();
        if whole.is_empty() {
            // a name that is only the start of a hole's name ("/sys/dev" for
            // "/sys/devices"); an allow list may leave it out (a bind from "/pro" is not
            // worth a rule: each costs compile time)
            if prefix_names {
                out.push(format!("{dir}{prefix}{{,/**}}"));
            }
        } else if !whole.iter().any(|(_, rest, sub)| rest.is_empty() && *sub) {
            // a hole below it, or only the name itself is one
            // (a directory's path may end in '/': the kernel names directories so)
            if !whole.iter().any(|(_, rest, _)| rest.is_empty()) {
                out.push(format!("{dir}{prefix}{{,/}}"));
            }
            let deeper: Vec<Hole> = whole
                .iter()
                .filter(|(_, rest, _)| !rest.is_empty())
                .map(|(_, rest, sub)| Hole {
                    parts: rest.to_vec(),
                    subtree: *sub,
                })
                .collect();
            if deeper.is_empty() {
                out.push(format!("{dir}{prefix}/**"));
            } else {
                complement_dir(&format!("{dir}{prefix}/"), &deeper, prefix_names, out);
            }
        }
    }
    for c in next {
        let longer = format!("{prefix}{c}");
        let sub: Vec<(&str, &[String], bool)> = firsts
            .iter()
            .filter(|(n, _, _)| n.starts_with(&longer))
            .copied()
            .collect();
        complement_names(dir, &longer, &sub, prefix_names, out);
    }
}

/// A character inside `[^...]` (not '-'): AppArmor's glob specials escaped.
fn glob_escape(c: char) -> String {
    if matches!(c, '[' | ']' | '^' | '\\' | '*' | '?' | '{' | '}' | ',') {
        format!("\\{c}")
    } else {
        c.to_string()
    }
}

#[cfg(test)]
mod tests;
