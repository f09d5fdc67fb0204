use super::*;

// ---- a small AppArmor glob matcher, to check the generated globs by what they match

/// Expands `{a,b}` alternations (nested) into plain globs.
fn expand(g: &str) -> Vec<String> {
    let b: Vec<char> = g.chars().collect();
    let mut depth = 0;
    let mut start = None;
    for (i, c) in b.iter().enumerate() {
        match c {
            '\\' => continue,
            '{' => {
                if depth == 0 {
                    start = Some(i);
                }
                depth += 1;
            }
            '}' => {
                depth -= 1;
                if depth == 0 {
                    let s = start.unwrap();
                    let inner: String = b[s + 1..i].iter().collect();
                    let head: String = b[..s].iter().collect();
                    let tail: String = b[i + 1..].iter().collect();
                    // split inner at top-level commas
                    let mut alts = Vec::new();
                    let mut d = 0;
                    let mut cur = String::new();
                    for ch in inner.chars() {
                        match ch {
                            '{' => {
                                d += 1;
                                cur.push(ch)
                            }
                            '}' => {
                                d -= 1;
                                cur.push(ch)
                            }
                            ',' if d == 0 => alts.push(std::mem::take(&mut cur)),
                            _ => cur.push(ch),
                        }
                    }
                    alts.push(cur);
                    return alts
                        .iter()
                        .flat_map(|a| expand(&format!("{head}{a}{tail}")))
                        .collect();
                }
            }
            _ => {}
        }
    }
    vec![g.to_string()]
}

fn matches_plain(g: &[char], p: &[char]) -> bool {
    if g.is_empty() {
        return p.is_empty();
    }
    match g[0] {
        '*' if g.get(1) == Some(&'*') => (0..=p.len()).any(|k| matches_plain(&g[2..], &p[k..])),
        '*' => {
            let mut k = 0;
            loop {
                if matches_plain(&g[1..], &p[k..]) {
                    return true;
                }
                if k == p.len() || p[k] == '/' {
                    return false;
                }
                k += 1;
            }
        }
        '?' => !p.is_empty() && p[0] != '/' && matches_plain(&g[1..], &p[1..]),
        '[' => {
            let end = g.iter().position(|c| *c == ']').unwrap();
            let neg = g[1] == '^';
            let set: Vec<char> = g[if neg { 2 } else { 1 }..end]
                .iter()
                .filter(|c| **c != '\\')
                .copied()
                .collect();
            !p.is_empty() && (set.contains(&p[0]) != neg) && matches_plain(&g[end + 1..], &p[1..])
        }
        '\\' => !p.is_empty() && p[0] == g[1] && matches_plain(&g[2..], &p[1..]),
        c => !p.is_empty() && p[0] == c && matches_plain(&g[1..], &p[1..]),
    }
}

fn matches(glob: &str, path: &str) -> bool {
    let p: Vec<char> = path.chars().collect();
    expand(glob)
        .iter()
        .any(|g| matches_plain(&g.chars().collect::<Vec<_>>(), &p))
}

fn any_matches(globs: &[String], path: &str) -> bool {
    globs.iter().any(|g| matches(g, path))
}

#[test]
fn glob_matcher_itself() {
    assert!(matches("/sys/[^f/]*{,/**}", "/sys/kernel"));
    assert!(matches("/sys/[^f/]*{,/**}", "/sys/kernel/x/y"));
    assert!(!matches("/sys/[^f/]*{,/**}", "/sys/fs/x"));
    assert!(matches("/a?*", "/ab"));
    assert!(!matches("/a?*", "/a"));
    assert!(!matches("/a/*", "/a/b/c"));
    assert!(matches("{,/x}/p", "/x/p"));
    assert!(matches("{,/x}/p", "/p"));
}

#[test]
fn complement_of_proc_sys_writable() {
    let g = complement("/proc/sys/", &holes(PROC_SYS_WRITABLE), true);
    for denied in [
        "/proc/sys/kernel/core_pattern",
        "/proc/sys/kernel/modprobe",
        "/proc/sys/kernel/sysrq",
        "/proc/sys/kernel/s",
        "/proc/sys/kernel/shx",
        "/proc/sys/kernel/hostnamex",
        "/proc/sys/kernel/domainnam",
        "/proc/sys/kernel/random/boot_id",
        "/proc/sys/fs/binfmt_misc/register",
        "/proc/sys/fs/suid_dumpable",
        "/proc/sys/fs/mqueuex",
        "/proc/sys/vm/drop_caches",
        "/proc/sys/netx",
        "/proc/sys/ne",
        "/proc/sys/user/max_user_namespaces",
        "/proc/sys/kernel",
        "/proc/sys/fs",
    ] {
        assert!(any_matches(&g, denied), "{denied} must be denied: {g:#?}");
    }
    for allowed in [
        "/proc/sys/kernel/hostname",
        "/proc/sys/kernel/domainname",
        "/proc/sys/kernel/shmmax",
        "/proc/sys/kernel/shm_rmid_forced",
        "/proc/sys/kernel/msgmnb",
        "/proc/sys/kernel/sem",
        "/proc/sys/fs/mqueue/msg_max",
        "/proc/sys/net",
        "/proc/sys/net/ipv4/ip_forward",
    ] {
        assert!(
            !any_matches(&g, allowed),
            "{allowed} must stay writable: {g:#?}"
        );
    }
}

#[test]
fn complement_of_sys_writable() {
    let g = complement("/sys/", &holes(SYS_WRITABLE), true);
    for denied in [
        "/sys/kernel/uevent_helper",
        "/sys/power/state",
        "/sys/fs/fuse/connections/1/abort",
        "/sys/fs/cgroupx",
        "/sys/class/block/vda",
        "/sys/devices/system/cpu/cpu1/online",
        "/sys/devices/virtual/block/loop0/uevent",
        "/sys/module/apparmor/parameters/enabled",
        "/sys/dev",
        "/sys/dev/block/254:0/uevent",
        "/sys/firmware/efi/efivars/x",
    ] {
        assert!(any_matches(&g, denied), "{denied} must be denied");
    }
    for allowed in [
        "/sys/fs/cgroup/cgroup.procs",
        "/sys/fs/cgroup/init.scope/cgroup.procs",
        "/sys/class/net/eth0/mtu",
        "/sys/devices/virtual/net/eth0/mtu",
    ] {
        assert!(!any_matches(&g, allowed), "{allowed} must stay writable");
    }
}

#[test]
fn complement_of_bind_and_tree_sources() {
    let mut bind = vec![Hole::subtree("proc"), Hole::subtree("sys")];
    bind.push(Hole::subtree(&format!("{UNIT_ROOT}/proc")));
    bind.push(Hole::subtree(&format!("{UNIT_ROOT}/sys")));
    let g = complement("/", &bind, false);
    for src in [
        "/proc",
        "/proc/sys",
        "/proc/self/fd/3",
        "/sys",
        "/sys/fs/cgroup",
        "/run/systemd/unit-root/proc",
        "/run/systemd/unit-root/proc/sys/kernel",
        "/run/systemd/unit-root/sys/kernel",
    ] {
        assert!(!any_matches(&g, src), "binding {src} must be refused");
    }
    for src in [
        "/tmp/x",
        "/run/systemd/inaccessible/reg",
        "/run/systemd/unit-root",
        "/run/systemd/unit-root/",
        "/run/",
        "/run/systemd/unit-root/usr",
        "/run/systemd/unit-root/procx",
        "/dev/null",
        "/procx",
        "/system",
        "/srv/data",
        "/etc/resolv.conf",
    ] {
        assert!(any_matches(&g, src), "binding {src} must be allowed");
    }
    let tree = vec![
        Hole::subtree("proc"),
        Hole::subtree("sys"),
        Hole::subtree(UNIT_ROOT),
        Hole::exact("run"),
        Hole::exact("run/systemd"),
    ];
    let g = complement("/", &tree, false);
    for src in [
        "/",
        "/run",
        "/run/",
        "/run/systemd",
        "/run/systemd/",
        "/run/systemd/unit-root",
        "/run/systemd/unit-root/",
        "/proc/",
        "/sys/",
        "/run/systemd/unit-root/usr",
        "/proc",
        "/sys/fs/cgroup",
    ] {
        assert!(
            !any_matches(&g, src),
            "a recursive bind or move of {src} must be refused"
        );
    }
    for src in [
        "/run/x",
        "/dev/shm/",
        "/tmp/namespace-dev-5HY7Ij/dev/",
        "/run/systemd/inaccessible",
        "/run/systemd/unit-rootx",
        "/tmp",
        "/var/lib/x",
        "/dev",
    ] {
        assert!(
            any_matches(&g, src),
            "a recursive bind or move of {src} must be allowed"
        );
    }
}

fn cfg() -> LsmConfig {
    LsmConfig::default()
}

#[test]
fn profile_text() {
    let t = generated_profile("hako-web-0123456789abcdef", "web", &cfg());
    assert!(t.contains(
        "profile hako-web-0123456789abcdef flags=(attach_disconnected,mediate_deleted) {\n"
    ));
    assert!(t.ends_with("}\n"));
    assert_eq!(t.matches('{').count(), t.matches('}').count(), "{t}");
    for must in [
        "  mount fstype=proc -> /{,run/systemd/unit-root/}proc/,\n",
        "  mount fstype=sysfs -> /{,run/systemd/unit-root/}sys/,\n",
        "  mount fstype=cgroup2 -> /{,run/systemd/unit-root/}sys/fs/cgroup/{,**},\n",
        "  mount options=(ro,remount,bind,nosuid,nodev,noexec,relatime) -> /{,**},\n",
        "  deny umount /{,run/systemd/unit-root/}proc/{,**},\n",
        "  deny /{,run/systemd/unit-root/}proc/sysrq-trigger rwklx,\n",
        "  deny /run/systemd/unit-root/{proc,sys}/** wklx,\n",
        "  deny /proc/sys/kernel/[^dhms/]*{,/**} wklx,\n",
        "  deny /{,run/systemd/unit-root/}sys/firmware/{,**} rwklx,\n",
        "  signal peer=hako-web-0123456789abcdef,\n",
        "  mount options=(rw,rbind) / -> /run/systemd/unit-root/,\n",
        "  mount options=(rw,move) /run/systemd/unit-root/ -> /,\n",
        "  mount options=(rw,rbind) /run/systemd/unit-root/proc/acpi{,/} -> /run/systemd/unit-root/proc/acpi{,/},\n",
        "  mount fstype=ramfs,\n",
    ] {
        assert!(t.contains(must), "missing {must:?} in\n{t}");
    }
    // nothing allows what the probes do
    for never in [
        "fstype=binfmt_misc",
        "fstype=ext4",
        "  mount,\n",
        "options=(rw,remount",
        "pivot_root",
        "change_profile",
    ] {
        assert!(!t.contains(never), "{never:?} in\n{t}");
    }
    // moves: systemd's unit root onto / only; no move of /proc, /sys or what holds them
    assert!(
        t.contains("  mount options=(rw,move) /[^prs/]*{,/**} -> /**,\n"),
        "{t}"
    );
    for src in [
        "/ ",
        "/run ",
        "/run/systemd ",
        "/proc ",
        "/proc/",
        "/sys ",
        "/sys/",
    ] {
        assert!(
            !t.contains(&format!("options=(rw,move) {src}")),
            "{src} in {t}"
        );
    }
    // no rule without its comma, no tab
    for l in t.lines().map(str::trim) {
        if !(l.is_empty() || l.starts_with('#') || l.starts_with("profile ") || l == "}") {
            assert!(l.ends_with(','), "rule without a comma: {l}");
        }
    }
}

#[test]
fn profile_nesting_and_raw() {
    let c = LsmConfig {
        apparmor_allow_nesting: true,
        apparmor_raw: vec!["mount fstype=nfs,".into(), "deny /secret r,".into()],
        ..cfg()
    };
    let t = generated_profile("hako-n-1", "n", &c);
    assert!(t.contains("  mount,\n  pivot_root,\n"));
    assert!(t.contains("  change_profile -> hako-n-1,\n"));
    assert!(t.ends_with("  # lxc.apparmor.raw\n  mount fstype=nfs,\n  deny /secret r,\n}\n"));
    // a name with quotes only appears in a comment, escaped
    let t = generated_profile("hako-q-1", "a\"b", &cfg());
    assert!(t.contains("container \"a\\\"b\""));
}
