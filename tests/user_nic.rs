//! Issue 12, part 7: hako-user-nic, the setuid-root helper that gives a user's own network
//! namespace a veth on a host bridge (LXC's lxc-user-nic).
//!
//! Each test copies the helper into a directory of its own (on a file system without
//! nosuid) as root-owned mode 4755, makes a bridge of its own (`hkun…`), and runs the
//! helper as throw-away users (tests/common/user.rs). The helper's fixed paths,
//! /etc/lxc/lxc-usernet and /run/hako-user-nic, are bind mounts in a private mount
//! namespace made for each call (`unshare -m`, root), over the test's own allowlist and
//! record directory: the host's files are never read or written, and the setuid program has
//! no test-only way to be pointed elsewhere. Everything is undone when a test ends, after a
//! panic too: the users' processes killed by pid, the veths on the test's bridge and the
//! bridge deleted, the users removed.

mod common;
#[path = "common/user.rs"]
mod user;

use common::*;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use user::{unique_name, Proc, TestGroup, TestUser};

const HELPER: &str = env!("CARGO_BIN_EXE_hako-user-nic");

/// A directory for a setuid program: the temporary directory, unless it is mounted nosuid.
fn suid_capable_dir() -> PathBuf {
    for d in [
        std::env::temp_dir(),
        PathBuf::from("/var/tmp"),
        PathBuf::from("/root"),
    ] {
        let o = Run::new("findmnt")
            .args(["-n", "-o", "OPTIONS", "-T"])
            .args([&d])
            .run();
        if o.code() == 0 && !o.out().split(',').any(|x| x.trim() == "nosuid") {
            return d;
        }
    }
    panic!("no directory on a file system without nosuid among $TMPDIR, /var/tmp, /root: the setuid helper cannot be tested");
}

/// The helper installed setuid root, a bridge, an allowlist and a record directory, all
/// the test's own.
struct Lab {
    dir: PathBuf,
    bridge: String,
}

/// How many labs live, and the mount points they made.
static MOUNT_POINTS: std::sync::Mutex<(usize, Vec<PathBuf>)> =
    std::sync::Mutex::new((0, Vec::new()));

impl Lab {
    fn new() -> Lab {
        let dir = suid_capable_dir().join(unique_name("hako-usernic-"));
        for d in ["", "bin", "etc", "run"] {
            fs::create_dir_all(dir.join(d)).unwrap();
            fs::set_permissions(dir.join(d), fs::Permissions::from_mode(0o755)).unwrap();
        }
        let bin = dir.join("bin/hako-user-nic");
        fs::copy(HELPER, &bin).unwrap();
        std::os::unix::fs::chown(&bin, Some(0), Some(0)).unwrap();
        fs::set_permissions(&bin, fs::Permissions::from_mode(0o4755)).unwrap();
        std::os::unix::fs::symlink("hako-user-nic", dir.join("bin/lxc-user-nic")).unwrap();
        // a copy without the setuid bit
        fs::copy(HELPER, dir.join("bin/plain")).unwrap();
        fs::set_permissions(dir.join("bin/plain"), fs::Permissions::from_mode(0o755)).unwrap();
        // the mount points of the private mount namespaces: made if missing while any lab
        // of this test binary lives, removed when the last one goes
        {
            let mut m = MOUNT_POINTS.lock().unwrap_or_else(|e| e.into_inner());
            if m.0 == 0 {
                for p in ["/etc/lxc", "/run/hako-user-nic"] {
                    if !Path::new(p).exists() {
                        fs::create_dir(p).unwrap();
                        m.1.push(PathBuf::from(p));
                    }
                }
            }
            m.0 += 1;
        }
        let bridge = format!("hkun{}", unique_name("").replace('x', ""));
        let bridge: String = bridge.chars().take(15).collect();
        Run::new("ip")
            .args(["link", "add", &bridge, "type", "bridge"])
            .run()
            .assert_ok();
        let lab = Lab { dir, bridge };
        lab.allow("");
        lab
    }

    /// Replace the allowlist.
    fn allow(&self, text: &str) {
        let p = self.dir.join("etc/lxc-usernet");
        fs::write(&p, text).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
    }

    fn records(&self) -> String {
        fs::read_to_string(self.dir.join("run/nics")).unwrap_or_default()
    }

    /// `prog` (hako-user-nic, lxc-user-nic or plain) run by `u` with `args`, in a private
    /// mount namespace where the helper's fixed paths are the lab's.
    fn call_as(&self, u: &TestUser, prog: &str, args: &[&str]) -> Out {
        let script = "e=$1; r=$2; shift 2; mount --bind \"$e\" /etc/lxc && mount --bind \"$r\" /run/hako-user-nic && exec \"$@\"";
        Run::new("unshare")
            .args([
                "-m",
                "--propagation",
                "private",
                "--",
                "sh",
                "-c",
                script,
                "sh",
            ])
            .args([self.dir.join("etc"), self.dir.join("run")])
            .args(u.setpriv_words())
            .args([self.dir.join("bin").join(prog)])
            .args(args)
            .run()
    }

    fn call(&self, u: &TestUser, args: &[&str]) -> Out {
        self.call_as(u, "hako-user-nic", args)
    }

    /// `create` for `pid` on the lab's bridge.
    fn create(&self, u: &TestUser, pid: i32, inside: &str) -> Out {
        self.call(
            u,
            &[
                "create",
                "/home/x/.local/share/hako",
                "c1",
                &pid.to_string(),
                "veth",
                &self.bridge,
                inside,
            ],
        )
    }

    /// The names of the devices attached to the lab's bridge.
    fn ports(&self) -> Vec<String> {
        let o = Run::new("ip")
            .args(["-o", "link", "show", "master", &self.bridge])
            .run();
        o.assert_ok();
        o.out()
            .lines()
            .filter_map(|l| l.split(':').nth(1))
            .map(|n| n.trim().split('@').next().unwrap().to_string())
            .collect()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for p in self.ports() {
            let _ = Run::new("ip").args(["link", "del", &p]).run();
        }
        let _ = Run::new("ip").args(["link", "del", &self.bridge]).run();
        let _ = fs::remove_dir_all(&self.dir);
        let mut m = MOUNT_POINTS.lock().unwrap_or_else(|e| e.into_inner());
        m.0 -= 1;
        if m.0 == 0 {
            for p in m.1.drain(..) {
                let _ = fs::remove_dir(p);
            }
        }
    }
}

/// `ip -o link show dev NAME` on the host, or in the network namespace of `pid`.
fn link(name: &str, pid: Option<i32>) -> Option<String> {
    let o = match pid {
        None => Run::new("ip")
            .args(["-o", "link", "show", "dev", name])
            .run(),
        Some(p) => Run::new("nsenter")
            .args([
                "-t",
                &p.to_string(),
                "-n",
                "ip",
                "-o",
                "link",
                "show",
                "dev",
                name,
            ])
            .run(),
    };
    (o.code() == 0).then(|| o.stdout.clone())
}

/// A user's own user and network namespace, as a rootless container has.
fn own_netns(u: &TestUser) -> Proc {
    let p = u.spawn("unshare", &["-Urn", "sleep", "1000"]);
    p.wait_in_own_netns("sleep");
    p
}

#[test]
fn create_and_delete_for_a_users_own_namespace() {
    if !have_root() {
        return;
    }
    let lab = Lab::new();
    let alice = TestUser::new("hkun", None);
    lab.allow(&format!("# test\n{} veth {} 2\n", alice.name, lab.bridge));
    let ns = own_netns(&alice);
    let o = lab.create(&alice, ns.pid(), "eth0");
    o.assert_ok();
    let f: Vec<&str> = o.out().split_whitespace().collect();
    assert_eq!(f.len(), 2, "{o:?}");
    let (host, inside) = (f[0].to_string(), f[1]);
    assert_eq!(inside, "eth0");
    assert!(host.starts_with("veth") && host.len() <= 15, "{host}");
    assert_eq!(o.stdout.lines().count(), 1);
    // the host end: on the bridge and up; the peer: in the namespace, left down
    let h = link(&host, None).expect("host end");
    assert!(h.contains(&format!(" master {} ", lab.bridge)), "{h}");
    assert!(h.contains(",UP") || h.contains("<UP"), "{h}");
    assert_eq!(lab.ports(), vec![host.clone()]);
    let i = link("eth0", Some(ns.pid())).expect("peer inside");
    assert!(!i.contains(",UP"), "{i}");
    // the record: the caller's uid, the line it counts against
    let rec = lab.records();
    assert!(
        rec.starts_with(&format!(
            "{} {} veth {} {host} ",
            alice.uid, alice.name, lab.bridge
        )),
        "{rec}"
    );
    // a second one, under the other name of the program: LXC's output line
    let o = lab.call_as(
        &alice,
        "lxc-user-nic",
        &[
            "create",
            "/x",
            "c1",
            &ns.pid().to_string(),
            "veth",
            &lab.bridge,
            "eth1",
        ],
    );
    o.assert_ok();
    let f: Vec<&str> = o.out().trim().split(':').collect();
    assert_eq!(f.len(), 4, "{o:?}");
    assert_eq!(f[0], "eth1");
    let host2 = f[2].to_string();
    assert!(link("eth1", Some(ns.pid()))
        .unwrap()
        .starts_with(&format!("{}:", f[1])));
    assert!(link(&host2, None)
        .unwrap()
        .starts_with(&format!("{}:", f[3])));
    // delete, in either grammar
    lab.call(&alice, &["delete", "/x", "c1", &host]).assert_ok();
    assert!(link(&host, None).is_none());
    assert!(link("eth0", Some(ns.pid())).is_none());
    let nspath = format!("/proc/{}/ns/net", ns.pid());
    lab.call_as(
        &alice,
        "lxc-user-nic",
        &["delete", "/x", "c1", &nspath, "veth", &lab.bridge, &host2],
    )
    .assert_ok();
    assert!(link(&host2, None).is_none());
    assert!(lab.ports().is_empty());
    assert_eq!(lab.records(), "");
    // deleting what is already gone is not an error (a container's namespace may go first)
    let o = lab.call(&alice, &["delete", "/x", "c1", &host]);
    o.assert_ok();
    o.assert_stderr_contains("already gone");
    // a veth whose namespace went away is pruned from the records
    lab.create(&alice, ns.pid(), "eth0").assert_ok();
    assert_eq!(lab.records().lines().count(), 1);
    drop(ns);
    assert!(wait_for(std::time::Duration::from_secs(10), || lab
        .ports()
        .is_empty()));
    let ns = own_netns(&alice);
    lab.create(&alice, ns.pid(), "eth0").assert_ok();
    lab.create(&alice, ns.pid(), "eth1").assert_ok();
    assert_eq!(lab.records().lines().count(), 2, "{}", lab.records());
}

#[test]
fn namespaces_that_are_not_the_callers_are_refused() {
    if !have_root() {
        return;
    }
    let lab = Lab::new();
    let alice = TestUser::new("hkun", None);
    let bob = TestUser::new("hkun", None);
    lab.allow(&format!(
        "{} veth {b} 5\n{} veth {b} 5\n",
        alice.name,
        bob.name,
        b = lab.bridge
    ));
    let plain = alice.spawn("sleep", &["1000"]);
    let roots = Proc::root("unshare", &["-n", "sleep", "1000"]);
    roots.wait_in_own_netns("sleep");
    let bobs = own_netns(&bob);
    let check = |pid: i32, needle: &str| {
        let o = lab.create(&alice, pid, "eth0");
        o.assert_code(1);
        o.assert_stderr_contains(needle);
        o.assert_stderr_contains(
            "pass the pid of a process in your container's own network namespace",
        );
        assert_eq!(o.stderr.lines().count(), 1, "{o:?}");
        assert!(lab.ports().is_empty());
        assert_eq!(lab.records(), "");
    };
    // the host's network namespace: root's process in it, the caller's own process in it,
    // pid 1 (which root may not even look into in some sandboxes: refused either way)
    let hosts = Proc::root("sleep", &["1000"]);
    check(hosts.pid(), "not in a container's");
    check(1, "pid 1");
    assert!(wait_for(std::time::Duration::from_secs(5), || {
        fs::read_to_string(format!("/proc/{}/comm", plain.pid())).is_ok_and(|c| c.trim() == "sleep")
    }));
    check(plain.pid(), "not in a container's");
    // root's namespace (owned by the host's user namespace)
    check(roots.pid(), "belongs to the host's user namespace (root's)");
    // another user's
    check(bobs.pid(), &format!("belongs to uid {}", bob.uid));
    check(
        bobs.pid(),
        &format!("user \"{}\" (uid {}) does not own", alice.name, alice.uid),
    );
    // no such process
    check(999_999_999, "no process with pid 999999999");
    // bob may use his own
    lab.create(&bob, bobs.pid(), "eth0").assert_ok();
}

#[test]
fn the_allowlist_decides_and_counts() {
    if !have_root() {
        return;
    }
    let lab = Lab::new();
    let alice = TestUser::new("hkun", None);
    let carol = TestUser::new("hkun", None);
    let dave = TestUser::new("hkun", None);
    let staff = TestGroup::new("hkung");
    carol.join(&staff);
    dave.join(&staff);
    let other = format!("{}o", &lab.bridge[..lab.bridge.len().min(14)]);
    lab.allow(&format!(
        "{a} veth {b} 1\n{a} veth {other} 3\n@{g} veth {b} 1\n{a} veth lo 1\n{a} veth hkunnone 1\n",
        a = alice.name,
        b = lab.bridge,
        g = staff.name
    ));
    let ns_a = own_netns(&alice);
    let ns_c = own_netns(&carol);
    let ns_d = own_netns(&dave);
    let nothing_made = |n: usize| {
        assert_eq!(lab.ports().len(), n);
        assert_eq!(lab.records().lines().count(), n);
    };
    // a user without any line
    let eve = TestUser::new("hkun", None);
    let ns_e = own_netns(&eve);
    let o = lab.create(&eve, ns_e.pid(), "eth0");
    o.assert_code(1);
    o.assert_stderr_contains(&format!(
        "user \"{}\" (uid {}) may not have a veth on bridge \"{}\"",
        eve.name, eve.uid, lab.bridge
    ));
    o.assert_stderr_contains(&format!(
        "add the line \"{} veth {} 1\"",
        eve.name, lab.bridge
    ));
    nothing_made(0);
    // a bridge not in the allowlist (alice has lines for others)
    let o = lab.call(
        &alice,
        &[
            "create",
            "/x",
            "c1",
            &ns_a.pid().to_string(),
            "veth",
            "hkunnotlisted",
            "eth0",
        ],
    );
    o.assert_code(1);
    o.assert_stderr_contains("may not have a veth on bridge \"hkunnotlisted\"");
    o.assert_stderr_contains(&format!("allow only bridges {}, {other}, lo", lab.bridge));
    // listed but missing, listed but not a bridge
    let o = lab.call(
        &alice,
        &[
            "create",
            "/x",
            "c1",
            &ns_a.pid().to_string(),
            "veth",
            "hkunnone",
            "eth0",
        ],
    );
    o.assert_code(1);
    o.assert_stderr_contains("bridge \"hkunnone\" does not exist on the host");
    let o = lab.call(
        &alice,
        &[
            "create",
            "/x",
            "c1",
            &ns_a.pid().to_string(),
            "veth",
            "lo",
            "eth0",
        ],
    );
    o.assert_code(1);
    o.assert_stderr_contains("\"lo\" is a physical device, not a bridge");
    nothing_made(0);
    // the count: one for alice, then no more
    lab.create(&alice, ns_a.pid(), "eth0").assert_ok();
    let o = lab.create(&alice, ns_a.pid(), "eth1");
    o.assert_code(1);
    o.assert_stderr_contains(&format!("has no veth left on bridge \"{}\"", lab.bridge));
    o.assert_stderr_contains("line 1 (");
    o.assert_stderr_contains("raise the count");
    assert!(link("eth1", Some(ns_a.pid())).is_none());
    nothing_made(1);
    // a group's count is shared by its members
    lab.create(&carol, ns_c.pid(), "eth0").assert_ok();
    assert!(lab
        .records()
        .contains(&format!("{} @{} veth", carol.uid, staff.name)));
    let o = lab.create(&dave, ns_d.pid(), "eth0");
    o.assert_code(1);
    o.assert_stderr_contains("has no veth left");
    nothing_made(2);
    // an allowlist others could have written is not trusted
    fs::set_permissions(
        lab.dir.join("etc/lxc-usernet"),
        fs::Permissions::from_mode(0o666),
    )
    .unwrap();
    let o = lab.create(&dave, ns_d.pid(), "eth0");
    o.assert_code(1);
    o.assert_stderr_contains("is not trusted");
    nothing_made(2);
}

#[test]
fn bad_names_and_foreign_interfaces_are_refused() {
    if !have_root() {
        return;
    }
    let lab = Lab::new();
    let alice = TestUser::new("hkun", None);
    let bob = TestUser::new("hkun", None);
    lab.allow(&format!(
        "{} veth {b} 5\n{} veth {b} 5\n",
        alice.name,
        bob.name,
        b = lab.bridge
    ));
    let ns = own_netns(&alice);
    let pid = ns.pid().to_string();
    // bad interface names: usage errors, nothing made
    for (bad, why) in [
        ("a/b", "'/'"),
        ("..", "reserved"),
        ("0123456789abcdef", "at most 15"),
        ("has space", "' '"),
    ] {
        let o = lab.create(&alice, ns.pid(), bad);
        o.assert_code(2);
        o.assert_stderr_contains(why);
        o.assert_stderr_contains("usage: hako-user-nic create");
    }
    let o = lab.call(
        &alice,
        &["create", "/x", "c1", &pid, "veth", "br/x", "eth0"],
    );
    o.assert_code(2);
    let o = lab.call(
        &alice,
        &["create", "/x", "c1", &pid, "macvlan", &lab.bridge, "eth0"],
    );
    o.assert_code(2);
    o.assert_stderr_contains("only \"veth\" is");
    // a name already taken inside: refused before anything is made
    let o = lab.create(&alice, ns.pid(), "lo");
    o.assert_code(1);
    o.assert_stderr_contains("already has a device named \"lo\"");
    assert!(lab.ports().is_empty());
    // root's interface: no record, not deleted
    let ra = format!("{}r", &lab.bridge[..lab.bridge.len().min(14)]);
    let rb = format!("{}s", &lab.bridge[..lab.bridge.len().min(14)]);
    Run::new("ip")
        .args(["link", "add", &ra, "type", "veth", "peer", "name", &rb])
        .run()
        .assert_ok();
    let o = lab.call(&alice, &["delete", "/x", "c1", &ra]);
    let root_kept = link(&ra, None).is_some();
    let _ = Run::new("ip").args(["link", "del", &ra]).run();
    o.assert_code(1);
    o.assert_stderr_contains(&format!(
        "refusing to delete \"{ra}\": hako-user-nic has no record of making it for user \"{}\"",
        alice.name
    ));
    assert!(root_kept, "root's veth was deleted");
    // another user's: bob cannot delete alice's
    let o = lab.create(&alice, ns.pid(), "eth0");
    o.assert_ok();
    let host = o.out().split_whitespace().next().unwrap().to_string();
    let o = lab.call(&bob, &["delete", "/x", "c1", &host]);
    o.assert_code(1);
    o.assert_stderr_contains("refusing to delete");
    assert!(link(&host, None).is_some());
    assert!(link("eth0", Some(ns.pid())).is_some());
    // nor under LXC's grammar with a namespace path of his
    let o = lab.call_as(
        &bob,
        "lxc-user-nic",
        &[
            "delete",
            "/x",
            "c1",
            &format!("/proc/{pid}/ns/net"),
            "veth",
            &lab.bridge,
            &host,
        ],
    );
    o.assert_code(1);
    assert!(link(&host, None).is_some());
    lab.call(&alice, &["delete", "/x", "c1", &host]).assert_ok();
}

#[test]
fn failures_leave_nothing_and_the_helper_wants_setuid() {
    if !have_root() {
        return;
    }
    let lab = Lab::new();
    let alice = TestUser::new("hkun", None);
    lab.allow(&format!("{} veth {} 5\n", alice.name, lab.bridge));
    let ns = own_netns(&alice);
    // not setuid: says how to install it
    let o = lab.call_as(
        &alice,
        "plain",
        &[
            "create",
            "/x",
            "c1",
            &ns.pid().to_string(),
            "veth",
            &lab.bridge,
            "eth0",
        ],
    );
    o.assert_code(1);
    o.assert_stderr_contains("instead of root");
    o.assert_stderr_contains("chmod 4755");
    // the record cannot be written after the veth was made: the veth is removed again
    fs::create_dir(lab.dir.join("run/nics.tmp")).unwrap();
    let o = lab.create(&alice, ns.pid(), "eth0");
    o.assert_code(1);
    o.assert_stderr_contains("cannot write");
    assert!(lab.ports().is_empty(), "{:?}", lab.ports());
    assert!(link("eth0", Some(ns.pid())).is_none());
    fs::remove_dir(lab.dir.join("run/nics.tmp")).unwrap();
    // stdout cannot be written: the caller would never learn the name, so nothing stays
    let script = "e=$1; r=$2; shift 2; mount --bind \"$e\" /etc/lxc && mount --bind \"$r\" /run/hako-user-nic && exec \"$@\" >/dev/full";
    let o = Run::new("unshare")
        .args([
            "-m",
            "--propagation",
            "private",
            "--",
            "sh",
            "-c",
            script,
            "sh",
        ])
        .args([lab.dir.join("etc"), lab.dir.join("run")])
        .args(alice.setpriv_words())
        .args([lab.dir.join("bin/hako-user-nic")])
        .args([
            "create",
            "/x",
            "c1",
            &ns.pid().to_string(),
            "veth",
            &lab.bridge,
            "eth0",
        ])
        .run();
    o.assert_code(1);
    o.assert_stderr_contains("cannot write the new veth's name to standard output");
    assert!(lab.ports().is_empty(), "{:?}", lab.ports());
    assert_eq!(lab.records(), "");
    // and it works once the obstacles are gone
    lab.create(&alice, ns.pid(), "eth0").assert_ok();
}

/// The pid of the process whose command line is exactly `args` (a unique `sleep` duration).
fn pid_of_cmdline(args: &[&str]) -> Option<i32> {
    let want: Vec<u8> = args.iter().flat_map(|a| a.bytes().chain([0])).collect();
    fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: i32 = e.file_name().to_str()?.parse().ok()?;
        (fs::read(format!("/proc/{pid}/cmdline")).ok()? == want).then_some(pid)
    })
}

#[test]
fn a_namespace_nested_in_the_users_own_is_the_users() {
    if !have_root() {
        return;
    }
    let lab = Lab::new();
    // a subordinate range far from the ones tests/rootless.rs uses
    let start = 3_500_000_000 + u64::from(std::process::id() % 4096) * 65536;
    let alice = TestUser::new("hkun", Some((start, 65536)));
    let bob = TestUser::new("hkun", None);
    lab.allow(&format!(
        "{} veth {b} 5\n{} veth {b} 5\n",
        alice.name,
        bob.name,
        b = lab.bridge
    ));
    fs::copy(HAKO, lab.dir.join("bin/hako")).unwrap();
    fs::set_permissions(lab.dir.join("bin/hako"), fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink("hako", lab.dir.join("bin/lxc-usernsexec")).unwrap();
    // alice's user namespace maps root to her first subordinate id (lxc-usernsexec, as a
    // rootless container's would); inside it, that root makes a second user namespace (owned
    // by the subordinate id) with a network namespace: the container's shape
    let secs = format!("1000.{}", std::process::id());
    let exec = lab.dir.join("bin/lxc-usernsexec");
    let outer = alice.spawn(
        exec.to_str().unwrap(),
        &["--", "unshare", "-Un", "sleep", &secs],
    );
    let mut pid = None;
    assert!(
        wait_for(std::time::Duration::from_secs(10), || {
            pid = pid_of_cmdline(&["sleep", &secs]);
            pid.is_some()
        }),
        "the nested namespace's sleep did not start"
    );
    let pid = pid.unwrap();
    // the sleep's own process, killed by its pid at the end (lxc-usernsexec then exits)
    struct KillPid(i32);
    impl Drop for KillPid {
        fn drop(&mut self) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(self.0),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
    let _sleep = KillPid(pid);
    Proc::wait_in_own_netns_of(pid, "sleep");
    // bob may not
    let o = lab.create(&bob, pid, "eth0");
    o.assert_code(1);
    o.assert_stderr_contains(&format!(
        "its user namespace and their parents belong to uid {start}, uid {}",
        alice.uid
    ));
    assert!(lab.ports().is_empty());
    // alice may: the owner of a parent of the namespace's owner
    let o = lab.create(&alice, pid, "eth0");
    o.assert_ok();
    let host = o.out().split_whitespace().next().unwrap().to_string();
    assert!(link("eth0", Some(pid)).is_some());
    lab.call(&alice, &["delete", "/x", "c1", &host]).assert_ok();
    assert!(lab.ports().is_empty());
    drop(_sleep);
    drop(outer);
}
