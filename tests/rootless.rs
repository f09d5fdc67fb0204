//! Issue 12, part 7 (rootless): `lxc-usernsexec` / `hako usernsexec` run by a non-root user
//! (a throw-away user made here, with a subordinate id range of its own, removed with
//! `userdel -r` at the end even on failure), the error for a user without a range, a
//! non-root caller's paths (`~/.local/share/{hako,lxc}`, `$XDG_RUNTIME_DIR`), and a
//! busybox container's whole life run by such a user in both faces, with its bad paths
//! (no range, no XDG_RUNTIME_DIR, cgroup keys where no cgroup can be delegated).

mod common;

use common::*;
use std::fs;
use std::os::unix::fs::{chown, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// A user that exists for one test: `userdel -r` when dropped (after a panic too).
struct TestUser {
    name: String,
    uid: u32,
    gid: u32,
    home: PathBuf,
}

impl TestUser {
    /// A new user with a home and, with `range`, that subordinate id range (uids and gids);
    /// without, none at all (useradd's automatic range is turned off).
    fn new(range: Option<(u64, u64)>) -> TestUser {
        let name = format!(
            "hkrl{}x{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::SeqCst)
        );
        Run::new("useradd")
            .args(["-m", "-K", "SUB_UID_COUNT=0", "-K", "SUB_GID_COUNT=0"])
            .args(["-s", "/bin/sh", &name])
            .run()
            .assert_ok();
        let mut u = TestUser {
            name: name.clone(),
            uid: 0,
            gid: 0,
            home: PathBuf::from(format!("/home/{name}")),
        };
        let id = |flag: &str| -> u32 {
            Run::new("id")
                .args([flag, &name])
                .run()
                .out()
                .trim()
                .parse()
                .unwrap()
        };
        u.uid = id("-u");
        u.gid = id("-g");
        if let Some((start, count)) = range {
            let r = format!("{start}-{}", start + count - 1);
            Run::new("usermod")
                .args(["--add-subuids", &r, "--add-subgids", &r, &name])
                .run()
                .assert_ok();
        }
        u
    }

    /// `runuser -u USER -- PROGRAM ARGS` with a clean environment: HOME and PATH, and
    /// XDG_RUNTIME_DIR when given.
    fn run(&self, program: &Path, args: &[&str], runtime_dir: Option<&Path>) -> Out {
        let mut r = Run::new("runuser")
            .args(["-u", &self.name, "--", "env", "-i"])
            .args([format!("HOME={}", self.home.display())])
            .args(["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]);
        if let Some(d) = runtime_dir {
            r = r.args([format!("XDG_RUNTIME_DIR={}", d.display())]);
        }
        r.args([program]).args(args).run()
    }
}

impl Drop for TestUser {
    fn drop(&mut self) {
        // its processes are gone (every command above was waited for)
        let _ = Run::new("userdel").args(["-r", &self.name]).run();
    }
}

/// The binary where every user may run it, with the lxc-usernsexec and lxc-ls names.
struct Bin {
    dir: PathBuf,
}

impl Bin {
    fn new() -> Bin {
        let dir = std::env::temp_dir().join(format!(
            "hako-rootless-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::SeqCst)
        ));
        fs::create_dir_all(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        fs::copy(HAKO, dir.join("hako")).unwrap();
        fs::set_permissions(dir.join("hako"), fs::Permissions::from_mode(0o755)).unwrap();
        for l in [
            "lxc-usernsexec",
            "lxc-ls",
            "lxc-create",
            "lxc-start",
            "lxc-attach",
            "lxc-stop",
            "lxc-destroy",
            "lxc-info",
        ] {
            std::os::unix::fs::symlink(dir.join("hako"), dir.join(l)).unwrap();
        }
        Bin { dir }
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

impl Drop for Bin {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// A range far above root's block and the ranges distributions hand out.
/// A range no other test (of this run, or of a parallel one) uses: 16 per test process,
/// one for each call, all below 2^32.
fn free_range() -> (u64, u64) {
    static RANGES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = RANGES.fetch_add(1, Ordering::SeqCst);
    assert!(n < 16, "more than 16 ranges in one test process");
    (
        3_000_000_000 + (u64::from(std::process::id() % 1000) * 16 + n) * 65536,
        65536,
    )
}

fn subid_lines_of(name: &str) -> usize {
    ["/etc/subuid", "/etc/subgid"]
        .iter()
        .map(|f| {
            fs::read_to_string(f)
                .unwrap_or_default()
                .lines()
                .filter(|l| l.starts_with(&format!("{name}:")))
                .count()
        })
        .sum()
}

#[test]
fn usernsexec_as_a_user_maps_its_own_range() {
    if !have_root() {
        return;
    }
    let bin = Bin::new();
    let (start, count) = free_range();
    let user = TestUser::new(Some((start, count)));
    let name = user.name.clone();
    {
        let exec = bin.path("lxc-usernsexec");
        let o = user.run(&exec, &["--", "id", "-u"], None);
        o.assert_ok();
        assert_eq!(o.out().trim(), "0", "{o:?}");
        let o = user.run(&exec, &["--", "cat", "/proc/self/uid_map"], None);
        o.assert_ok();
        let f: Vec<&str> = o.out().split_whitespace().collect();
        assert_eq!(
            f,
            vec!["0".to_string(), start.to_string(), count.to_string()],
            "{o:?}"
        );
        // -s: the user's own ids too, just past the range; the hako face says the same
        let o = user.run(
            &bin.path("hako"),
            &["usernsexec", "-s", "--", "cat", "/proc/self/gid_map"],
            None,
        );
        o.assert_ok();
        let want = format!("{count} {} 1", user.gid);
        assert!(
            o.out()
                .lines()
                .any(|l| l.split_whitespace().collect::<Vec<_>>().join(" ") == want),
            "{o:?}"
        );
        // the command's exit status is passed on
        let o = user.run(&exec, &["--", "sh", "-c", "exit 7"], None);
        o.assert_code(7);
        // a map the files do not grant: newuidmap refuses, the error says what to check
        let o = user.run(&exec, &["-m", "b:0:1:5", "--", "true"], None);
        o.assert_fails_mentioning("newuidmap refused the map");
        o.assert_stderr_contains("/etc/subuid");
        // a map that is not one: a usage error
        let o = user.run(&exec, &["-m", "u:0:1", "--", "true"], None);
        o.assert_fails_mentioning("invalid map \"u:0:1\"");
    }
    drop(user);
    assert_eq!(subid_lines_of(&name), 0, "userdel left the user's ranges");
    assert!(!Path::new(&format!("/home/{name}")).exists());
}

#[test]
fn a_user_without_a_range_gets_the_fix() {
    if !have_root() {
        return;
    }
    let bin = Bin::new();
    let user = TestUser::new(None);
    assert_eq!(subid_lines_of(&user.name), 0);
    let o = user.run(&bin.path("lxc-usernsexec"), &["--", "true"], None);
    o.assert_code(1);
    o.assert_stderr_contains("/etc/subuid");
    o.assert_stderr_contains(&format!("user \"{}\" (uid {})", user.name, user.uid));
    o.assert_stderr_contains("usermod --add-subuids ");
    o.assert_stderr_contains("--add-subgids ");
    assert_eq!(o.stderr.trim().lines().count(), 1, "{o:?}");
    let o = user.run(&bin.path("hako"), &["usernsexec", "--", "true"], None);
    o.assert_code(1);
    o.assert_stderr_contains("have root add one: usermod");
    // nothing was written for the user
    assert_eq!(subid_lines_of(&user.name), 0);
}

#[test]
fn a_users_lxcpath_and_runtime_dir_are_its_own() {
    if !have_root() {
        return;
    }
    let bin = Bin::new();
    let user = TestUser::new(Some(free_range()));
    // without XDG_RUNTIME_DIR: the error names it and the fix
    let o = user.run(&bin.path("hako"), &["ls"], None);
    o.assert_code(1);
    o.assert_stderr_contains("XDG_RUNTIME_DIR");
    o.assert_stderr_contains(&format!("loginctl enable-linger {}", user.name));
    // a container made by hand in each face's default lxcpath
    let own = |p: &Path| chown(p, Some(user.uid), Some(user.gid)).unwrap();
    let mut made = Vec::new();
    for (sub, cname) in [("hako", "inhako"), ("lxc", "inlxc")] {
        let mut p = user.home.clone();
        for c in [".local", "share", sub, cname] {
            p.push(c);
            fs::create_dir_all(&p).unwrap();
            own(&p);
        }
        fs::write(p.join("config"), format!("lxc.uts.name = {cname}\n")).unwrap();
        own(&p.join("config"));
        made.push(p);
    }
    let run = user.home.join("run");
    fs::create_dir(&run).unwrap();
    fs::set_permissions(&run, fs::Permissions::from_mode(0o700)).unwrap();
    own(&run);
    let o = user.run(&bin.path("hako"), &["ls"], Some(&run));
    o.assert_ok();
    assert!(
        o.out().contains("inhako") && !o.out().contains("inlxc"),
        "{o:?}"
    );
    let o = user.run(&bin.path("lxc-ls"), &[], Some(&run));
    o.assert_ok();
    assert!(
        o.out().contains("inlxc") && !o.out().contains("inhako"),
        "{o:?}"
    );
    // root's places were not used
    assert!(!Path::new("/var/lib/hako/inhako").exists());
    assert!(!Path::new("/var/lib/lxc/inlxc").exists());
}

/// A runtime directory for the user, as logind's /run/user/UID is (0700, its own).
fn runtime_dir(user: &TestUser) -> PathBuf {
    let run = user.home.join("run");
    fs::create_dir(&run).unwrap();
    fs::set_permissions(&run, fs::Permissions::from_mode(0o700)).unwrap();
    chown(&run, Some(user.uid), Some(user.gid)).unwrap();
    run
}

/// Is the host's /sys/fs/cgroup a cgroup2 mount (pure v2)?
fn pure_v2() -> bool {
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .any(|l| {
            l.split(" - ")
                .nth(1)
                .is_some_and(|t| t.starts_with("cgroup2 "))
                && l.split_whitespace().nth(4) == Some("/sys/fs/cgroup")
        })
}

/// Every file (not directory) below `dir`.
fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            out.extend(files_below(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// The pids whose real uid is `uid`.
fn pids_of_uid(uid: u64) -> Vec<i32> {
    let mut out = Vec::new();
    for e in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let st = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let u = st
            .lines()
            .find(|l| l.starts_with("Uid:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok());
        if u == Some(uid) {
            out.push(pid);
        }
    }
    out
}

/// The checks after a container's destroy: no process of its range, no mount of its
/// directory, no cgroup of its name, no file left in the user's runtime dir.
fn assert_nothing_left(start: u64, cdir: &Path, cname: &str, run: &Path) {
    assert!(
        pids_of_uid(start).is_empty(),
        "processes of the range are left"
    );
    let mi = fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mi.contains(&cdir.display().to_string()),
        "a mount of {} is left",
        cdir.display()
    );
    let names: std::collections::BTreeSet<String> = [cname.to_string()].into();
    let cgs = find_cgroups(&names, &Default::default());
    assert!(
        cgs.iter().all(|p| !p.to_string_lossy().contains(cname)),
        "cgroups left: {cgs:?}"
    );
    assert!(!cdir.exists(), "{} is left", cdir.display());
    assert_eq!(files_below(&run.join("hako")), Vec::<PathBuf>::new());
}

#[test]
fn a_user_runs_a_busybox_container_whole_life() {
    if !have_root() {
        return;
    }
    let bin = Bin::new();
    let (start, count) = free_range();
    let user = TestUser::new(Some((start, count)));
    let run = runtime_dir(&user);
    let hako = bin.path("hako");
    let cname = format!("rl{}", std::process::id());
    let r = |args: &[&str]| user.run(&hako, args, Some(&run));
    r(&["create", "-t", "busybox", &cname]).assert_ok();
    let cdir = user.home.join(".local/share/hako").join(&cname);
    let config = fs::read_to_string(cdir.join("config")).unwrap();
    assert!(
        config.contains(&format!("lxc.idmap = u 0 {start} 65536"))
            && config.contains(&format!("lxc.idmap = g 0 {start} 65536")),
        "{config}"
    );
    // the rootfs belongs to the range on disk (a user cannot make idmapped mounts)
    let md = fs::metadata(cdir.join("rootfs/bin/busybox")).unwrap();
    assert_eq!(
        (
            u64::from(std::os::unix::fs::MetadataExt::uid(&md)),
            u64::from(std::os::unix::fs::MetadataExt::gid(&md))
        ),
        (start, start)
    );
    let o = r(&["start", &cname]);
    o.assert_ok();
    if !pure_v2() {
        // no cgroup on a v1/hybrid host: said once
        assert_eq!(
            o.stderr.matches("cgroup limits are not applied").count(),
            1,
            "{o:?}"
        );
        o.assert_stderr_contains("fix: ");
    }
    let o = r(&["attach", &cname, "--", "cat", "/proc/self/uid_map"]);
    o.assert_ok();
    let f: Vec<&str> = o.out().split_whitespace().collect();
    assert_eq!(
        f,
        vec!["0".to_string(), start.to_string(), count.to_string()],
        "{o:?}"
    );
    let o = r(&["attach", &cname, "--", "id", "-u"]);
    o.assert_ok();
    assert_eq!(o.out().trim(), "0", "{o:?}");
    // init's host uid is the range's first
    let o = r(&["info", &cname]);
    o.assert_ok();
    let pid: i32 = o
        .out()
        .lines()
        .find(|l| l.starts_with("PID:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{o:?}"));
    let st = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uid_line = st.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert_eq!(
        uid_line.split_whitespace().nth(1),
        Some(start.to_string().as_str()),
        "{uid_line}"
    );
    // its runtime state is in the user's runtime dir
    assert!(!files_below(&run.join("hako")).is_empty());
    r(&["stop", &cname]).assert_ok();
    assert!(wait_for(Duration::from_secs(10), || !pid_alive(pid)));
    r(&["destroy", &cname]).assert_ok();
    assert_nothing_left(start, &cdir, &cname, &run);
}

#[test]
fn lxc_tools_of_a_user_with_lxcs_unprivileged_setup() {
    if !have_root() {
        return;
    }
    let bin = Bin::new();
    let (start, count) = free_range();
    let user = TestUser::new(Some((start, count)));
    let run = runtime_dir(&user);
    // LXC's setup: ~/.config/lxc/default.conf with the user's range
    let conf = user.home.join(".config/lxc");
    fs::create_dir_all(&conf).unwrap();
    fs::write(
        conf.join("default.conf"),
        format!("lxc.net.0.type = empty\nlxc.idmap = u 0 {start} {count}\nlxc.idmap = g 0 {start} {count}\n"),
    )
    .unwrap();
    for p in [
        user.home.join(".config"),
        conf.clone(),
        conf.join("default.conf"),
    ] {
        chown(&p, Some(user.uid), Some(user.gid)).unwrap();
    }
    let cname = format!("lrl{}", std::process::id());
    let t = |tool: &str, args: &[&str]| user.run(&bin.path(tool), args, Some(&run));
    t("lxc-create", &["-t", "busybox", "-n", &cname]).assert_ok();
    let cdir = user.home.join(".local/share/lxc").join(&cname);
    assert!(cdir.join("config").is_file());
    t("lxc-start", &["-n", &cname]).assert_ok();
    let o = t(
        "lxc-attach",
        &["-n", &cname, "--", "cat", "/proc/self/uid_map"],
    );
    o.assert_ok();
    assert!(
        o.out().split_whitespace().any(|w| w == start.to_string()),
        "{o:?}"
    );
    t("lxc-attach", &["-n", &cname, "--", "true"]).assert_ok();
    t("lxc-stop", &["-n", &cname, "-k"]).assert_ok();
    t("lxc-destroy", &["-n", &cname]).assert_ok();
    assert_nothing_left(start, &cdir, &cname, &run);
    // without the lxc.idmap lines lxc-create says where they go, and leaves nothing
    fs::write(conf.join("default.conf"), "lxc.net.0.type = empty\n").unwrap();
    let o = t("lxc-create", &["-t", "busybox", "-n", &cname]);
    o.assert_code(1);
    o.assert_stderr_contains("no lxc.idmap lines");
    o.assert_stderr_contains("~/.config/lxc/default.conf");
    // before the template ran (nothing of busybox's is said)
    assert!(o.out().is_empty(), "{o:?}");
    assert!(!cdir.exists());
}

#[test]
fn rootless_bad_paths_say_what_to_do() {
    if !have_root() {
        return;
    }
    let bin = Bin::new();
    let hako = bin.path("hako");
    // no range: the error names /etc/subuid and the command that adds one
    {
        let user = TestUser::new(None);
        let run = runtime_dir(&user);
        let o = user.run(&hako, &["create", "-t", "busybox", "norange"], Some(&run));
        o.assert_code(1);
        o.assert_stderr_contains("/etc/subuid");
        o.assert_stderr_contains("usermod --add-subuids ");
        assert!(!user.home.join(".local/share/hako/norange").exists());
    }
    let range = free_range();
    let (start, _) = range;
    let user = TestUser::new(Some(range));
    // no XDG_RUNTIME_DIR: named, with the fix
    let o = user.run(&hako, &["create", "-t", "busybox", "norun"], None);
    o.assert_code(1);
    o.assert_stderr_contains("XDG_RUNTIME_DIR");
    assert!(!user.home.join(".local/share/hako/norun").exists());
    // cgroup keys where nothing can be delegated: the start fails naming the key
    let run = runtime_dir(&user);
    let cname = format!("cgk{}", std::process::id());
    let r = |args: &[&str]| user.run(&hako, args, Some(&run));
    r(&["create", "-t", "busybox", &cname]).assert_ok();
    let cdir = user.home.join(".local/share/hako").join(&cname);
    if !pure_v2() {
        let mut c = fs::read_to_string(cdir.join("config")).unwrap();
        c.push_str("lxc.cgroup2.pids.max = 50\n");
        fs::write(cdir.join("config"), c).unwrap();
        let o = r(&["start", &cname]);
        o.assert_code(1);
        o.assert_stderr_contains("lxc.cgroup2.pids.max");
        o.assert_stderr_contains("fix: ");
        r(&["info", &cname]).assert_stdout_contains("STOPPED");
    }
    // a veth without the helper: named, with its allowlist
    let c = fs::read_to_string(cdir.join("config"))
        .unwrap()
        .replace("lxc.cgroup2.pids.max = 50\n", "")
        .replace(
            "lxc.net.0.type = empty",
            "lxc.net.0.type = veth\nlxc.net.0.link = hakobr0",
        );
    fs::write(cdir.join("config"), c).unwrap();
    let o = r(&["start", &cname]);
    o.assert_code(1);
    o.assert_stderr_contains("hako-user-nic");
    o.assert_stderr_contains("/etc/lxc/lxc-usernet");
    // ids outside the user's subordinate range: newuidmap refuses them, the start fails
    // with what to do, nothing runs
    let c = fs::read_to_string(cdir.join("config"))
        .unwrap()
        .replace(
            "lxc.net.0.type = veth\nlxc.net.0.link = hakobr0",
            "lxc.net.0.type = empty",
        )
        .replace(
            &format!(" 0 {start} 65536"),
            &format!(" 0 {} 65536", start + 65536 * 2000),
        );
    fs::write(cdir.join("config"), c).unwrap();
    let o = r(&["start", &cname]);
    o.assert_code(1);
    o.assert_stderr_contains("/etc/subuid");
    r(&["info", &cname]).assert_stdout_contains("STOPPED");
    assert!(
        pids_of_uid(start + 65536 * 2000).is_empty(),
        "a process runs with ids the user does not own"
    );
    r(&["destroy", &cname]).assert_ok();
    assert_nothing_left(start, &cdir, &cname, &run);
}

/// A rootless veth goes through `hako-user-nic` next to the hako binary: here a stand-in
/// that records its arguments and prints the line the real helper prints (it makes no
/// device: the container's interface is not checked, only the protocol).
#[test]
fn a_rootless_veth_goes_through_the_helper() {
    if !have_root() {
        return;
    }
    let bin = Bin::new();
    let (start, count) = free_range();
    let user = TestUser::new(Some((start, count)));
    let run = runtime_dir(&user);
    let log = user.home.join("user-nic.log");
    let helper = bin.path("hako-user-nic");
    fs::write(
        &helper,
        format!(
            "#!/bin/sh\necho \"$*\" >>{}\n[ \"$1\" = create ] && echo \"vethfake0 $7\"\nexit 0\n",
            log.display()
        ),
    )
    .unwrap();
    fs::set_permissions(&helper, fs::Permissions::from_mode(0o755)).unwrap();
    let cname = format!("nic{}", std::process::id());
    let r = |args: &[&str]| user.run(&bin.path("hako"), args, Some(&run));
    r(&["create", "-t", "busybox", &cname]).assert_ok();
    let lxcpath = user.home.join(".local/share/hako");
    let cdir = lxcpath.join(&cname);
    let c = fs::read_to_string(cdir.join("config")).unwrap().replace(
        "lxc.net.0.type = empty",
        "lxc.net.0.type = veth\nlxc.net.0.link = hakobr0\nlxc.net.0.name = eth0",
    );
    fs::write(cdir.join("config"), c).unwrap();
    r(&["start", &cname]).assert_ok();
    let o = r(&["info", &cname, "-p"]);
    o.assert_ok();
    let pid: String = o
        .out()
        .lines()
        .find_map(|l| l.strip_prefix("PID:"))
        .map(|p| p.trim().to_string())
        .unwrap_or_else(|| panic!("{o:?}"));
    r(&["stop", &cname, "-k"]).assert_ok();
    let said = fs::read_to_string(&log).unwrap_or_default();
    let lines: Vec<&str> = said.lines().collect();
    assert_eq!(
        lines,
        vec![
            format!(
                "create {} {cname} {pid} veth hakobr0 eth0",
                lxcpath.display()
            ),
            format!("delete {} {cname} vethfake0", lxcpath.display()),
        ],
        "{said}"
    );
    r(&["destroy", &cname]).assert_ok();
    assert_nothing_left(start, &cdir, &cname, &run);
}
