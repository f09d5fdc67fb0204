//! Device hotplug: `hako device add|rm` and `lxc-device add|del` on running containers:
//! device nodes (mknod in a privileged container, a bind of the host node under a user
//! namespace) with their device cgroup rule, host interfaces (given back at rm and stop),
//! bind mounts, --persist, the LXC face, bad input and a container's symlink traps.

mod common;

use common::*;
use std::path::Path;
use std::process::Command;

/// A veth pair made by the test (hotplug needs a movable host interface; this kernel has
/// no dummy driver); deleted at the end wherever its ends are on the host.
struct Veth {
    a: String,
    b: String,
}

impl Veth {
    fn new(env: &TestEnv) -> Veth {
        let t = env.token("hd");
        let (a, b) = (format!("{t}a"), format!("{t}b"));
        assert!(a.len() <= 15, "{a} too long");
        let ok = Command::new("ip")
            .args(["link", "add", &a, "type", "veth", "peer", "name", &b])
            .status()
            .expect("run ip")
            .success();
        assert!(
            ok,
            "cannot create the test veth pair {a}/{b} (iproute2 and the veth driver are needed)"
        );
        Veth { a, b }
    }
}

impl Drop for Veth {
    fn drop(&mut self) {
        for n in [&self.a, &self.b] {
            let _ = Command::new("ip")
                .args(["link", "del", n])
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
}

fn on_host(ifname: &str) -> bool {
    Path::new("/sys/class/net").join(ifname).exists()
}

/// A character device node made by the test in its temp dir (mode 0666).
fn char_node(env: &TestEnv, name: &str, major: u64, minor: u64) -> String {
    let p = env.path(name);
    nix::sys::stat::mknod(
        &p,
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::from_bits_truncate(0o666),
        nix::sys::stat::makedev(major, minor),
    )
    .expect("mknod in the test dir");
    std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o666)).unwrap();
    p.to_str().unwrap().to_string()
}

/// A copy of /dev/zero's node in each kind of container: made, read through, refused
/// twice, removed; the container's own /dev/zero (same numbers, allowed by default) keeps
/// working after the rm; the config is untouched without --persist.
#[test]
fn device_node_added_and_removed() {
    let Some(env) = TestEnv::new("dvnode") else {
        return;
    };
    let zero = char_node(&env, "myzero", 1, 5);
    for n in [env.busybox(), env.busybox_privileged()] {
        env.start(&n);
        let config = env.read_config(&n);
        let o = env.hako(&["device", "add", &n, &zero, "/dev/hkzero"]);
        o.assert_ok();
        let ls = env.sh_ok(&n, "ls -l /dev/hkzero");
        assert!(ls.starts_with('c'), "not a char device inside {n}: {ls}");
        assert!(ls.contains("1,   5"), "wrong numbers inside {n}: {ls}");
        let bytes = env.sh_ok(&n, "head -c 4 /dev/hkzero | od -An -tx1");
        assert_eq!(bytes.trim(), "00 00 00 00", "{n}");
        // already present: refused, the node stays
        env.hako(&["device", "add", &n, &zero, "/dev/hkzero"])
            .assert_fails_mentioning("exists in the container already");
        env.sh_ok(&n, "test -c /dev/hkzero");
        // a node in a new directory
        env.hako(&["device", "add", &n, &zero, "/dev/hkdir/z"])
            .assert_ok();
        env.sh_ok(&n, "head -c 1 /dev/hkdir/z >/dev/null");
        for d in ["/dev/hkzero", "/dev/hkdir/z"] {
            env.hako(&["device", "rm", &n, d]).assert_ok();
            assert_ne!(
                env.sh(&n, &format!("test -e {d}")).code(),
                0,
                "{d} still in {n}"
            );
        }
        let bytes = env.sh_ok(&n, "head -c 2 /dev/zero | od -An -tx1");
        assert_eq!(
            bytes.trim(),
            "00 00",
            "the container's /dev/zero broke in {n}"
        );
        assert_eq!(
            env.read_config(&n),
            config,
            "config changed without --persist"
        );
        env.kill(&n);
    }
    drop(env);
}

/// A device outside the default policy (a copy of /dev/loop-control's numbers; opening it
/// has no effect): the device cgroup denies it before `add`, allows it after, denies it
/// again after `rm` — checked through a node the container made itself.
#[test]
fn device_cgroup_rule_follows() {
    let Some(env) = TestEnv::new("dvcg") else {
        return;
    };
    let lc = char_node(&env, "myloopctl", 10, 237);
    let n = env.busybox_privileged();
    env.start(&n);
    env.sh_ok(&n, "mknod /tmp/own c 10 237");
    let list = || env.hako(&["cgroup", &n, "devices.list"]).stdout;
    assert!(!list().contains("c 10:237 rwm"), "{}", list());
    assert_ne!(
        env.sh(&n, ": < /tmp/own").code(),
        0,
        "opened before the add"
    );
    env.hako(&["device", "add", &n, &lc, "/dev/hklc"])
        .assert_ok();
    assert!(list().contains("c 10:237 rwm"), "{}", list());
    env.sh_ok(&n, ": < /dev/hklc && : < /tmp/own");
    env.hako(&["device", "rm", &n, "/dev/hklc"]).assert_ok();
    assert!(!list().contains("c 10:237 rwm"), "{}", list());
    assert_ne!(env.sh(&n, ": < /tmp/own").code(), 0, "opened after the rm");
    assert_ne!(env.sh(&n, "test -e /dev/hklc").code(), 0);
    env.kill(&n);
}

/// A host interface moved in (renamed), given back at rm under its own name, and at stop;
/// a name in use inside or on the host is refused and nothing moves.
#[test]
fn nic_moved_in_and_given_back() {
    let Some(env) = TestEnv::new("dvnic") else {
        return;
    };
    let v = Veth::new(&env);
    let n = env.busybox();
    env.start(&n);
    env.hako(&["device", "add", &n, &v.a, "eth7"]).assert_ok();
    assert!(!on_host(&v.a), "{} still on the host", v.a);
    let l = env.sh_ok(&n, "ip link show eth7");
    assert!(l.contains("eth7"), "{l}");
    // info's Link: line names the host-side device, as for a configured phys one
    let info = env.hako(&["info", &n]).stdout;
    assert!(info.contains(&v.a), "info does not list {}: {info}", v.a);
    // host name in use: refused, eth7 stays inside
    env.hako(&["device", "rm", &n, "eth7", &v.b])
        .assert_fails_mentioning("the host has an interface named");
    env.sh_ok(&n, "ip link show eth7");
    env.hako(&["device", "rm", &n, "eth7"]).assert_ok();
    assert!(on_host(&v.a), "{} not given back", v.a);
    assert_ne!(env.sh(&n, "ip link show eth7").code(), 0);
    // a name in use inside: refused, the interface stays on the host
    env.hako(&["device", "add", &n, &v.a, "lo"])
        .assert_fails_mentioning("has an interface named \"lo\" already");
    assert!(on_host(&v.a), "{} left the host on a refused add", v.a);
    // nothing to give back
    env.hako(&["device", "rm", &n, "eth9"])
        .assert_fails_mentioning("no network interface \"eth9\"");
    // in again, kept its name; the stop gives it back
    env.hako(&["device", "add", &n, &v.a]).assert_ok();
    env.sh_ok(&n, &format!("ip link show {}", v.a));
    env.hako(&["stop", &n]).assert_ok();
    assert!(on_host(&v.a), "{} not given back at stop", v.a);
}

/// Bind mounts of a host directory (read-only) and of a file: visible at DEST, refused
/// twice, and gone with their mount points at rm.
#[test]
fn bind_mounts_added_and_removed() {
    let Some(env) = TestEnv::new("dvbind") else {
        return;
    };
    let dir = env.path("share");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("f"), "hello from the host\n").unwrap();
    let file = env.write("single.txt", "one file\n");
    let (dir, file) = (dir.to_str().unwrap(), file.to_str().unwrap());
    let n = env.busybox();
    env.start(&n);
    env.hako(&["device", "add", &n, dir, "/data", "--readonly"])
        .assert_ok();
    assert_eq!(env.sh_ok(&n, "cat /data/f"), "hello from the host\n");
    let w = env.sh(&n, "echo x > /data/g");
    assert_ne!(w.code(), 0, "wrote through a read-only bind");
    assert!(!Path::new(dir).join("g").exists());
    env.hako(&["device", "add", &n, dir, "/data"])
        .assert_fails_mentioning("mounted on /data");
    env.hako(&["device", "add", &n, file, "/etc/hkfile"])
        .assert_ok();
    assert_eq!(env.sh_ok(&n, "cat /etc/hkfile"), "one file\n");
    env.hako(&["device", "rm", &n, "/data"]).assert_ok();
    env.hako(&["device", "rm", &n, "/etc/hkfile"]).assert_ok();
    assert_ne!(env.sh(&n, "test -e /data").code(), 0, "/data left behind");
    assert_ne!(env.sh(&n, "test -e /etc/hkfile").code(), 0);
    // the host's files are untouched
    assert_eq!(std::fs::read_to_string(file).unwrap(), "one file\n");
    env.kill(&n);
}

/// --persist writes the config lines that make the same device at the next start, and rm
/// --persist removes them.
#[test]
fn persist_writes_and_removes_config_lines() {
    let Some(env) = TestEnv::new("dvpers") else {
        return;
    };
    let lc = char_node(&env, "myloopctl", 10, 237);
    let v = Veth::new(&env);
    let n = env.busybox_privileged();
    env.start(&n);
    env.hako(&["device", "add", &n, &lc, "/dev/hklc", "--persist"])
        .assert_ok();
    env.hako(&["device", "add", &n, &v.a, "eth5", "--persist"])
        .assert_ok();
    let cfg = env.read_config(&n);
    assert!(
        cfg.contains("lxc.cgroup.devices.allow = c 10:237 rwm")
            || cfg.contains("lxc.cgroup2.devices.allow = c 10:237 rwm"),
        "{cfg}"
    );
    assert!(
        cfg.contains(&format!(
            "lxc.mount.entry = {lc} dev/hklc none bind,optional,create=file 0 0"
        )),
        "{cfg}"
    );
    assert!(cfg.contains("lxc.net.1.type = phys"), "{cfg}");
    assert!(cfg.contains(&format!("lxc.net.1.link = {}", v.a)), "{cfg}");
    assert!(cfg.contains("lxc.net.1.name = eth5"), "{cfg}");
    // the next start makes them from the config
    env.hako(&["stop", &n]).assert_ok();
    assert!(on_host(&v.a));
    env.start(&n);
    env.sh_ok(&n, "ip link show eth5 && : < /dev/hklc");
    env.hako(&["stop", &n]).assert_ok();
    env.start(&n);
    env.hako(&["device", "rm", &n, "eth5", "--persist"])
        .assert_ok();
    assert!(on_host(&v.a));
    // a node from the config is not this run's hotplug: only its config lines go
    env.hako(&["device", "rm", &n, "/dev/hklc"])
        .assert_fails_mentioning("was not added");
    env.hako(&["device", "rm", &n, "/dev/hklc", "--persist"])
        .assert_ok();
    let cfg = env.read_config(&n);
    assert!(!cfg.contains("hklc"), "{cfg}");
    assert!(!cfg.contains("lxc.net.1."), "{cfg}");
    env.kill(&n);
}

/// lxc-device: LXC's syntax, exit codes and messages.
#[test]
fn lxc_device_face() {
    let Some(env) = TestEnv::new("dvlxc") else {
        return;
    };
    let v = Veth::new(&env);
    let n = env.busybox();
    env.lxc(
        "lxc-device",
        &[
            "-P",
            env.lxcpath.to_str().unwrap(),
            "-n",
            &n,
            "add",
            &v.a,
            "eth5",
        ],
    )
    .assert_fails_with(1, "not running");
    env.start(&n);
    let lp = env.lxcpath.to_str().unwrap().to_string();
    let o = env.lxc("lxc-device", &["-P", &lp, "-n", &n, "add", &v.a, "eth5"]);
    o.assert_ok();
    env.sh_ok(&n, "ip link show eth5");
    env.lxc("lxc-device", &["-P", &lp, "-n", &n, "del", "eth5"])
        .assert_ok();
    assert!(on_host(&v.a));
    env.lxc("lxc-device", &["-P", &lp, "-n", &n])
        .assert_fails_with(1, "no command given");
    env.lxc("lxc-device", &["-P", &lp, "-n", &n, "frob", &v.a])
        .assert_fails_with(1, "Please use add or del");
    env.lxc("lxc-device", &["-P", &lp])
        .assert_fails_with(1, "No container name specified");
    env.kill(&n);
}

/// Bad input: a clear error, a non-zero exit, nothing made.
#[test]
fn device_bad_input() {
    let Some(env) = TestEnv::new("dvbad") else {
        return;
    };
    let zero = char_node(&env, "myzero", 1, 5);
    let n = env.busybox();
    let cfg = env.read_config(&n);
    env.hako(&["device", "add", &n, &zero, "/dev/hkz"])
        .assert_fails_mentioning("is not running");
    env.hako(&["device", "add", "nosuchct", &zero])
        .assert_fails_mentioning("nosuchct");
    env.hako(&["device", "frob", &n, &zero]).assert_code(2);
    env.start(&n);
    env.hako(&["device", "add", &n, "/nonexistent/hkdev"])
        .assert_fails_mentioning("no device, directory or file \"/nonexistent/hkdev\" on the host");
    env.hako(&["device", "add", &n, "hknoif0"])
        .assert_fails_mentioning("no network interface \"hknoif0\" on the host");
    env.hako(&["device", "add", &n, "dev/zero"])
        .assert_fails_mentioning("relative path");
    env.hako(&["device", "add", &n, &zero, "relative/dest"])
        .assert_fails_mentioning("must be absolute");
    env.hako(&["device", "add", &n, &zero, "/../../hkup"])
        .assert_fails_mentioning("above the container's root");
    // what the container has of its own is not taken away
    env.hako(&["device", "rm", &n, "/dev/null"])
        .assert_fails_mentioning("was not added");
    env.sh_ok(&n, "echo x > /dev/null");
    assert_ne!(env.sh(&n, "test -e /dev/hkz").code(), 0);
    assert_eq!(env.read_config(&n), cfg);
    env.kill(&n);
}

/// The container plants symlinks to / where a device goes: the last component a symlink
/// is refused; a symlinked directory on the way resolves inside the container's root;
/// /dev itself swapped for a symlink to /: the node lands in the container's /, never on
/// the host.
#[test]
fn symlinks_planted_by_the_container_never_reach_the_host() {
    let Some(env) = TestEnv::new("dvsym") else {
        return;
    };
    let zero = char_node(&env, "myzero", 1, 5);
    let dir = env.path("share");
    std::fs::create_dir_all(&dir).unwrap();
    let dir = dir.to_str().unwrap().to_string();
    let esc1 = env.token("hkesc");
    let esc2 = env.token("hkesc");
    let n = env.busybox_privileged();
    env.start(&n);
    env.sh_ok(
        &n,
        "ln -s / /dev/hkevil && mkdir -p /mnt && ln -s / /mnt/hkup",
    );
    env.hako(&["device", "add", &n, &zero, "/dev/hkevil"])
        .assert_fails_mentioning("symlink");
    env.hako(&["device", "add", &n, &dir, "/dev/hkevil"])
        .assert_fails_mentioning("symlink");
    env.hako(&["device", "add", &n, &zero, &format!("/mnt/hkup/{esc1}")])
        .assert_ok();
    assert!(
        !Path::new("/").join(&esc1).exists(),
        "/{esc1} made on the host"
    );
    env.sh_ok(&n, &format!("test -c /{esc1}"));
    // /dev swapped for a symlink to /
    env.sh_ok(&n, "umount -l /dev && mv /dev /dev.old && ln -s / /dev");
    env.hako(&["device", "add", &n, &zero, &format!("/dev/{esc2}")])
        .assert_ok();
    assert!(
        !Path::new("/").join(&esc2).exists(),
        "/{esc2} made on the host"
    );
    // (attach needs the container's /dev/null, gone with its /dev: look from the host)
    let pid = env.init_pid(&n);
    let md = std::fs::symlink_metadata(format!("/proc/{pid}/root/{esc2}"))
        .expect("the node in the container's /");
    assert!(
        std::os::unix::fs::FileTypeExt::is_char_device(&md.file_type()),
        "{md:?}"
    );
    env.kill(&n);
}
