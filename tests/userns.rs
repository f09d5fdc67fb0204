//! Issue 12: unprivileged containers. `hako create` gives a container an id range of its
//! own; init runs in a user namespace with that map, on an idmapped rootfs (the files
//! stay owned by host ids on disk); the escape probes a privileged container's root could
//! use are run here as the root of a default (unprivileged) container and shown blocked.
//! Host state is only read, or written back unchanged.

mod common;

use common::*;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// The `lxc.idmap` lines of a container's config: (kind, inside, host, count).
fn idmaps(env: &TestEnv, n: &str) -> Vec<(String, u32, u32, u32)> {
    env.read_config(n)
        .lines()
        .filter_map(|l| {
            let v = l
                .strip_prefix("lxc.idmap")?
                .trim_start()
                .strip_prefix('=')?;
            let f: Vec<&str> = v.split_whitespace().collect();
            Some((
                f[0].to_string(),
                f[1].parse().ok()?,
                f[2].parse().ok()?,
                f[3].parse().ok()?,
            ))
        })
        .collect()
}

/// The host id a default container's root is (its range's start).
fn host_root(env: &TestEnv, n: &str) -> u32 {
    let m = idmaps(env, n);
    let u = m
        .iter()
        .find(|(k, inside, _, _)| k == "u" && *inside == 0)
        .unwrap_or_else(|| panic!("no uid map for root in {n}'s config: {m:?}"));
    u.2
}

fn uid_of(pid: i32) -> u32 {
    fs::metadata(format!("/proc/{pid}")).unwrap().uid()
}

/// A default container is unprivileged: its config has a range of its own, init's uid on
/// the host is the range's start, attached commands see the container's map, and two
/// containers get disjoint ranges. `info` says so.
#[test]
fn default_containers_get_a_range_of_their_own() {
    let Some(env) = TestEnv::new("usrng") else {
        return;
    };
    let a = env.busybox();
    let b = env.busybox();
    let (ra, rb) = (host_root(&env, &a), host_root(&env, &b));
    assert!(
        ra.abs_diff(rb) >= 65536,
        "ranges overlap: {ra} and {rb} ({:?} / {:?})",
        idmaps(&env, &a),
        idmaps(&env, &b)
    );
    for n in [&a, &b] {
        env.start(n);
    }
    for (n, r) in [(&a, ra), (&b, rb)] {
        let pid = env.init_pid(n);
        assert_eq!(
            uid_of(pid),
            r,
            "init of {n} runs as host uid {}",
            uid_of(pid)
        );
        let map = env.sh_ok(n, "cat /proc/self/uid_map");
        let f: Vec<&str> = map.split_whitespace().collect();
        assert_eq!(f, ["0", &r.to_string(), "65536"], "uid_map of {n}: {map}");
        let gmap = env.sh_ok(n, "cat /proc/self/gid_map");
        assert!(
            gmap.split_whitespace().nth(1) == Some(&r.to_string()),
            "{gmap}"
        );
        // root inside, and its files are its own
        assert_eq!(env.sh_ok(n, "id -u").trim(), "0");
        assert_eq!(
            env.sh_ok(n, "stat -c %u:%g /bin/busybox /etc").trim(),
            "0:0\n0:0"
        );
        let info = env.hako(&["info", n]);
        info.assert_ok();
        assert!(info.stdout.contains("Privileged:     no"), "{info:?}");
        let json = env.hako(&["info", n, "--format", "json"]);
        assert!(json.stdout.contains("\"unprivileged\": true"), "{json:?}");
    }
    // processes of the container: all in its range on the host
    let pid = env.init_pid(&a);
    env.sh_ok(&a, "sleep 30 & echo started");
    let kids = fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap();
    for k in kids.split_whitespace() {
        let u = uid_of(k.parse().unwrap());
        assert!(
            (ra..ra + 65536).contains(&u),
            "process {k} runs as host uid {u}"
        );
    }
    env.kill(&a);
    env.kill(&b);
    env.assert_no_leaks(&a);
    env.assert_no_leaks(&b);
}

/// The container's root writes into its rootfs: the files appear as its own inside and are
/// owned by host ids on disk (no shifted copy); a snapshot clone of it shares the same
/// files, with a range of its own; the source's files are still host root's afterwards.
#[test]
fn rootfs_stays_owned_by_host_ids() {
    let Some(env) = TestEnv::new("usown") else {
        return;
    };
    let n = env.busybox();
    env.start(&n);
    env.sh_ok(
        &n,
        "echo hi > /root/new && chown 1000:1000 /root/new && mkdir -p /opt/d",
    );
    let rootfs = env.lxcpath.join(&n).join("rootfs");
    let m = fs::metadata(rootfs.join("root/new")).unwrap();
    assert_eq!(
        (m.uid(), m.gid()),
        (1000, 1000),
        "on disk: the container's ids"
    );
    assert_eq!(fs::metadata(rootfs.join("opt/d")).unwrap().uid(), 0);
    assert_eq!(fs::metadata(rootfs.join("bin/busybox")).unwrap().uid(), 0);
    env.kill(&n);
    let c = env.name();
    env.hako(&["copy", &n, &c, "-s"]).assert_ok();
    assert_ne!(
        host_root(&env, &c),
        host_root(&env, &n),
        "the clone shares its source's range"
    );
    env.start(&c);
    assert_eq!(
        env.sh_ok(&c, "stat -c %u /root/new /bin/busybox").trim(),
        "1000\n0"
    );
    env.sh_ok(&c, "echo clone > /root/c && rm /root/new");
    // the clone's changes are its own layer, on disk in host ids
    let upper = env.lxcpath.join(&c).join("overlay/upper");
    assert_eq!(fs::metadata(upper.join("root/c")).unwrap().uid(), 0);
    assert!(
        rootfs.join("root/new").exists(),
        "the clone changed its source"
    );
    let du = std::process::Command::new("du")
        .args(["-sk", upper.to_str().unwrap()])
        .output()
        .unwrap();
    let kb: u64 = String::from_utf8_lossy(&du.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(kb < 1024, "the clone's layer takes {kb} KiB");
    env.kill(&c);
    env.assert_no_leaks(&n);
    env.assert_no_leaks(&c);
}

/// file push and pull on an unprivileged container: pushed files are owned by the
/// container's root (or the --uid/--gid given, as ids inside), pulled files by the caller.
#[test]
fn file_push_and_pull_map_owners() {
    let Some(env) = TestEnv::new("usfil") else {
        return;
    };
    let n = env.busybox();
    env.start(&n);
    let src = env.write("payload", "data\n");
    env.hako(&[
        "file",
        "push",
        src.to_str().unwrap(),
        &format!("{n}:/root/p1"),
    ])
    .assert_ok();
    env.hako(&[
        "file",
        "push",
        "--uid",
        "1000",
        "--gid",
        "100",
        src.to_str().unwrap(),
        &format!("{n}:/root/p2"),
    ])
    .assert_ok();
    assert_eq!(
        env.sh_ok(&n, "stat -c %u:%g /root/p1 /root/p2").trim(),
        "0:0\n1000:100"
    );
    let o = env.hako(&[
        "file",
        "push",
        "--uid",
        "70000",
        src.to_str().unwrap(),
        &format!("{n}:/root/p3"),
    ]);
    o.assert_fails_mentioning("not mapped");
    let dst = env.path("pulled");
    env.hako(&[
        "file",
        "pull",
        &format!("{n}:/root/p2"),
        dst.to_str().unwrap(),
    ])
    .assert_ok();
    assert_eq!(fs::read_to_string(&dst).unwrap(), "data\n");
    assert_eq!(fs::metadata(&dst).unwrap().uid(), 0);
    env.kill(&n);
    env.assert_no_leaks(&n);
}

/// The attacks a privileged container's root has (issue 10's "not protected" list), as the
/// root of a default container: all refused.
#[test]
fn escape_probes_are_blocked() {
    let Some(env) = TestEnv::new("usesc") else {
        return;
    };
    let n = env.busybox();
    env.start(&n);
    let host_core = fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap();
    // a fresh proc, and core_pattern through it
    let o = env.sh(
        &n,
        "mkdir -p /tmp/p; if mount -t proc proc /tmp/p; then echo MOUNTED; \
           printf '%s' \"$(cat /tmp/p/sys/kernel/core_pattern)\" > /tmp/p/sys/kernel/core_pattern && echo WROTE; umount /tmp/p; fi; true",
    );
    assert!(
        !o.stdout.contains("WROTE"),
        "core_pattern written from a fresh proc: {o:?}"
    );
    // /proc/sys unmounted (it is not locked: the container made it), then a host sysctl
    let o = env.sh(
        &n,
        "umount /proc/sys/net 2>/dev/null; umount /proc/sys && echo UNMOUNTED; \
         v=$(cat /proc/sys/kernel/core_pattern); printf '%s' \"$v\" > /proc/sys/kernel/core_pattern && echo WROTE; \
         v=$(cat /proc/sys/vm/overcommit_memory); echo $v > /proc/sys/vm/overcommit_memory && echo WROTE2; true",
    );
    assert!(
        !o.stdout.contains("WROTE"),
        "a host sysctl was writable after umount /proc/sys: {o:?}"
    );
    assert_eq!(
        fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap(),
        host_core
    );
    // sysfs remounted read-write: the host's files stay out of reach
    let o = env.sh(
        &n,
        "mount -o remount,rw /sys && echo REMOUNTED; \
         f=/sys/kernel/mm/transparent_hugepage/enabled; [ -e $f ] && { v=$(sed 's/.*\\[\\(.*\\)\\].*/\\1/' $f); echo $v > $f && echo WROTE; }; \
         f=/sys/kernel/uevent_helper; [ -e $f ] && { printf '' > $f && echo WROTE; }; true",
    );
    assert!(
        !o.stdout.contains("WROTE"),
        "a host sysfs file was written: {o:?}"
    );
    // binfmt_misc: a handler registered inside is not the host's
    let o = env.sh(
        &n,
        "mkdir -p /tmp/b; mount -t binfmt_misc none /tmp/b && echo ':hakoprobe:E::hkp::/bin/sh:' > /tmp/b/register && echo REGISTERED; true",
    );
    assert!(
        !Path::new("/proc/sys/fs/binfmt_misc/hakoprobe").exists(),
        "the container registered a binfmt_misc handler on the host: {o:?}"
    );
    // the host's block devices: no node can be made, none can be mounted
    let o = env.sh(
        &n,
        "mknod /tmp/sda b 8 0 && echo MADE; mkdir -p /tmp/m; mount -o ro /tmp/sda /tmp/m && echo MOUNTED; true",
    );
    assert!(
        !o.stdout.contains("MADE") && !o.stdout.contains("MOUNTED"),
        "{o:?}"
    );
    // the device policy: writable by nobody inside
    let o = env.sh(
        &n,
        "for f in /sys/fs/cgroup/devices/devices.allow /sys/fs/cgroup/devices.allow; do \
           [ -e $f ] && { echo 'c 1:11 r' > $f && echo GRANTED; }; done; true",
    );
    assert!(!o.stdout.contains("GRANTED"), "{o:?}");
    // the kernel log
    let o = env.sh(&n, "dmesg");
    assert_ne!(o.code(), 0, "dmesg worked: {o:?}");
    assert!(o.stdout.is_empty(), "{o:?}");
    // capabilities: full inside its namespace, none on the host
    let pid = env.init_pid(&n);
    let st = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert!(
        st.lines()
            .any(|l| l.starts_with("Uid:") && !l.contains("\t0\t")),
        "{st}"
    );
    env.kill(&n);
    env.assert_no_leaks(&n);
}

/// The cgroup is delegated: the container's root owns its cgroup directory (systemd
/// makes its own subtree there); the limits one level up are not its own.
#[test]
fn cgroup_is_delegated_to_the_container_root() {
    let Some(env) = TestEnv::new("uscg") else {
        return;
    };
    let n = env.busybox();
    env.start(&n);
    let o = env.sh(
        &n,
        "for d in /sys/fs/cgroup/unified /sys/fs/cgroup/pids /sys/fs/cgroup; do \
           [ -e $d/cgroup.procs ] || continue; mkdir $d/sub && echo $$ > $d/sub/cgroup.procs && echo MOVED $d; \
           echo $$ > $d/cgroup.procs; rmdir $d/sub; \
           stat -c '%u %n' $d/cgroup.procs; done",
    );
    o.assert_ok();
    assert!(
        o.stdout.contains("MOVED"),
        "no sub-cgroup could be made: {o:?}"
    );
    for l in o.stdout.lines().filter(|l| l.ends_with("cgroup.procs")) {
        assert!(l.starts_with("0 "), "not the container's: {l}");
    }
    env.kill(&n);
    env.assert_no_leaks(&n);
}

/// --privileged gives a container without a user namespace; lxc-create keeps LXC's
/// semantics (privileged unless the config maps ids).
#[test]
fn privileged_on_request_and_for_the_lxc_face() {
    let Some(env) = TestEnv::new("uspriv") else {
        return;
    };
    let p = env.name();
    env.hako(&["create", &p, "-t", "busybox", "--privileged"])
        .assert_ok();
    assert!(idmaps(&env, &p).is_empty());
    env.start(&p);
    assert_eq!(uid_of(env.init_pid(&p)), 0);
    let info = env.hako(&["info", &p]);
    assert!(info.stdout.contains("Privileged:     yes"), "{info:?}");
    env.kill(&p);
    let l = env.name();
    env.lxc(
        "lxc-create",
        &[
            "-P",
            env.lxcpath.to_str().unwrap(),
            "-n",
            &l,
            "-t",
            "busybox",
        ],
    )
    .assert_ok();
    assert!(idmaps(&env, &l).is_empty(), "lxc-create allocated a range");
    env.assert_no_leaks(&p);
    env.assert_no_leaks(&l);
}

/// LXC's own form: lxc.idmap lines written by hand, several ranges (root and one host
/// user mapped through).
#[test]
fn handwritten_idmap_with_several_ranges() {
    let Some(env) = TestEnv::new("ushand") else {
        return;
    };
    let n = env.name();
    env.hako(&["create", &n, "-t", "busybox", "--privileged"])
        .assert_ok();
    env.append_config(
        &n,
        "lxc.idmap = u 0 3000000 1000\nlxc.idmap = u 1000 3001000 64536\nlxc.idmap = g 0 3000000 65536\n",
    );
    env.start(&n);
    let map = env.sh_ok(&n, "cat /proc/self/uid_map");
    let lines: Vec<Vec<&str>> = map
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines,
        vec![
            vec!["0", "3000000", "1000"],
            vec!["1000", "3001000", "64536"]
        ],
        "{map}"
    );
    assert_eq!(uid_of(env.init_pid(&n)), 3000000);
    env.kill(&n);
    env.assert_no_leaks(&n);
}

/// Bad id maps: no root, overlapping ranges, an empty range: exit 1, the line and the fix,
/// nothing started or left.
#[test]
fn bad_idmaps_fail_the_start_clearly() {
    let Some(env) = TestEnv::new("usbad") else {
        return;
    };
    let n = env.name();
    env.hako(&["create", &n, "-t", "busybox", "--privileged"])
        .assert_ok();
    let cfg = env.config_path(&n);
    let orig = fs::read_to_string(&cfg).unwrap();
    for (lines, needle) in [
        ("lxc.idmap = u 1 3000000 65535\nlxc.idmap = g 0 3000000 65536\n", "maps the container's user id 0"),
        ("lxc.idmap = u 0 3000000 65536\n", "maps the container's group id 0"),
        (
            "lxc.idmap = u 0 3000000 65536\nlxc.idmap = u 100 4000000 10\nlxc.idmap = g 0 3000000 65536\n",
            "overlaps",
        ),
        (
            "lxc.idmap = u 0 3000000 65536\nlxc.idmap = u 70000 3000100 10\nlxc.idmap = g 0 3000000 65536\n",
            "on the host",
        ),
        ("lxc.idmap = u 0 3000000 0\nlxc.idmap = g 0 3000000 65536\n", "at least 1"),
    ] {
        fs::write(&cfg, format!("{orig}{lines}")).unwrap();
        let o = env.hako(&["start", &n]);
        o.assert_fails_with(1, needle);
        assert!(o.stderr.contains(&cfg.display().to_string()), "no file:line: {o:?}");
        assert!(o.stderr.contains("lxc.idmap"), "{o:?}");
        assert_eq!(env.state(&n), "STOPPED");
        env.assert_no_leaks(&n);
    }
    fs::write(&cfg, orig).unwrap();
}

/// Unmounts a mount point the test made, when dropped (after a panic too).
struct MountGuard(std::path::PathBuf);

impl Drop for MountGuard {
    fn drop(&mut self) {
        let _ = Run::new("umount").args(["-l"]).args([&self.0]).run();
    }
}

/// A rootfs on a file system that cannot be idmapped (ramfs): the start shifts it to the
/// container's range on disk once and says so on the stderr of `hako start` (a daemon
/// start: the monitor's own stderr is /dev/null); the next start binds it as it is, without
/// a word; inside, the files are root's as before.
#[test]
fn a_rootfs_that_cannot_be_idmapped_is_shifted_once_with_a_message() {
    let Some(env) = TestEnv::new("usshf") else {
        return;
    };
    let n = env.busybox();
    let ram = env.path("ram");
    fs::create_dir_all(&ram).unwrap();
    Run::new("mount")
        .args(["-t", "ramfs", "ramfs"])
        .args([&ram])
        .run()
        .assert_ok();
    let _guard = MountGuard(ram.clone());
    let rootfs = ram.join("rootfs");
    Run::new("cp")
        .args(["-a"])
        .args([env.lxcpath.join(&n).join("rootfs"), rootfs.clone()])
        .run()
        .assert_ok();
    env.replace_config_line(
        &n,
        "lxc.rootfs.path",
        &format!("lxc.rootfs.path = dir:{}", rootfs.display()),
    );
    let root = host_root(&env, &n);
    let first = env.start(&n);
    first.assert_stderr_contains(&format!(
        "container \"{n}\": the file system of {} cannot do idmapped mounts on this kernel; its rootfs was shifted to the container's id range on disk",
        rootfs.display()
    ));
    for f in ["bin/busybox", "etc", "."] {
        assert_eq!(
            fs::metadata(rootfs.join(f)).unwrap().uid(),
            root,
            "{f} on disk: the container root's host id"
        );
    }
    assert_eq!(
        env.sh_ok(&n, "stat -c %u:%g /bin/busybox /etc").trim(),
        "0:0\n0:0"
    );
    env.sh_ok(&n, "echo hi > /root/new");
    assert_eq!(fs::metadata(rootfs.join("root/new")).unwrap().uid(), root);
    env.kill(&n);
    let second = env.start(&n);
    assert!(
        !second.stderr.contains("shifted"),
        "the second start shifted again: {}",
        second.stderr
    );
    assert_eq!(env.sh_ok(&n, "cat /root/new").trim(), "hi");
    env.kill(&n);
    env.assert_no_leaks(&n);
}

/// LXC's way to an unprivileged container, unchanged: a container made by `lxc-create`
/// whose config includes Debian's /usr/share/lxc/config/userns.conf (device rules and
/// capability drops cleared, `sys:rw`, its optional userns.conf.d/) and maps ids with
/// `lxc.idmap`. It starts in its own user namespace: root inside is the range's start on
/// the host, keeps the capabilities a system needs there, sees a writable sysfs of its own network
/// namespace and cannot write the host's kernel settings.
#[test]
fn debians_userns_conf_works() {
    let Some(env) = TestEnv::new("usconf") else {
        return;
    };
    let conf = Path::new("/usr/share/lxc/config/userns.conf");
    assert!(
        conf.exists(),
        "{} is missing: install Debian's lxc package (make test's deps do)",
        conf.display()
    );
    let n = env.name();
    let p = env.lxcpath.display().to_string();
    env.lxc("lxc-create", &["-n", &n, "-P", &p, "-t", "busybox"])
        .assert_ok();
    env.set_net_config(&n, "lxc.net.0.type = empty\n");
    env.append_config(
        &n,
        "lxc.include = /usr/share/lxc/config/userns.conf\nlxc.idmap = u 0 3100000 65536\nlxc.idmap = g 0 3100000 65536\n",
    );
    env.lxc("lxc-start", &["-n", &n, "-P", &p]).assert_ok();
    assert_eq!(uid_of(env.init_pid(&n)), 3100000);
    assert_eq!(
        env.sh_ok(&n, "cat /proc/self/uid_map")
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["0", "3100000", "65536"]
    );
    // userns.conf clears lxc.cap.drop: what a system needs inside its namespace is there
    // (sys_admin, net_admin, mknod, setfcap); hako's own default drops stay (README:
    // lxc.cap.keep overrides them)
    let caps = env.sh_ok(&n, "grep CapEff /proc/self/status");
    let eff = u64::from_str_radix(caps.split_whitespace().nth(1).unwrap(), 16).unwrap();
    for (bit, name) in [
        (21, "sys_admin"),
        (12, "net_admin"),
        (27, "mknod"),
        (31, "setfcap"),
    ] {
        assert!(eff & (1 << bit) != 0, "no {name} inside: {caps}");
    }
    assert_eq!(eff & (1 << 16), 0, "sys_module kept: {caps}");
    env.sh_ok(&n, "grep -q ' /sys sysfs rw' /proc/mounts");
    let r = env.sh(&n, "echo 1 > /proc/sys/kernel/sysrq");
    assert_ne!(
        r.code(),
        0,
        "the container's root wrote kernel.sysrq: {r:?}"
    );
    env.lxc("lxc-stop", &["-n", &n, "-P", &p, "-k"]).assert_ok();
    env.assert_no_leaks(&n);
}
