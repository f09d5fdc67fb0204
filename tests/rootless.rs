//! Issue 12, part 7 (rootless), the groundwork: `lxc-usernsexec` / `hako usernsexec` run by
//! a non-root user (a throw-away user made here, with a subordinate id range of its own,
//! removed with `userdel -r` at the end even on failure), the error for a user without a
//! range, and a non-root caller's paths (`~/.local/share/{hako,lxc}`, `$XDG_RUNTIME_DIR`).

mod common;

use common::*;
use std::fs;
use std::os::unix::fs::{chown, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

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
        for l in ["lxc-usernsexec", "lxc-ls"] {
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
fn free_range() -> (u64, u64) {
    (
        3_000_000_000 + u64::from(std::process::id() % 4096) * 65536,
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
