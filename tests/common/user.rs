//! Throw-away users and groups for tests that run programs as a non-root user: made with
//! useradd/groupadd, removed (`userdel -r`, `groupdel`) when dropped, after a panic too.
//! A test includes it next to `mod common;` with
//! `#[path = "common/user.rs"] mod user;` (it uses `crate::common`).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::common::{wait_for, Out, Run};

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// A name no other test (of this or another run) uses: `PREFIX<pid>x<seq>`.
pub fn unique_name(prefix: &str) -> String {
    format!(
        "{prefix}{}x{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::SeqCst)
    )
}

/// A user that exists for one test.
pub struct TestUser {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
}

impl TestUser {
    /// A new user `PREFIX<pid>x<seq>` with a home and, with `range`, that subordinate id
    /// range (uids and gids); without, none at all (useradd's automatic range is off).
    pub fn new(prefix: &str, range: Option<(u64, u64)>) -> TestUser {
        let name = unique_name(prefix);
        Run::new("useradd")
            .args(["-m", "-K", "SUB_UID_COUNT=0", "-K", "SUB_GID_COUNT=0"])
            .args(["-s", "/bin/sh", &name])
            .run()
            .assert_ok();
        let id = |flag: &str| -> u32 {
            Run::new("id")
                .args([flag, &name])
                .run()
                .out()
                .trim()
                .parse()
                .unwrap()
        };
        let u = TestUser {
            uid: id("-u"),
            gid: id("-g"),
            home: PathBuf::from(format!("/home/{name}")),
            name,
        };
        if let Some((start, count)) = range {
            let r = format!("{start}-{}", start + count - 1);
            Run::new("usermod")
                .args(["--add-subuids", &r, "--add-subgids", &r, &u.name])
                .run()
                .assert_ok();
        }
        u
    }

    /// `runuser -u USER -- PROGRAM ARGS` with a clean environment: HOME and PATH, and
    /// XDG_RUNTIME_DIR when given.
    pub fn run(&self, program: &Path, args: &[&str], runtime_dir: Option<&Path>) -> Out {
        let mut r = Run::new("runuser")
            .args(["-u", &self.name, "--", "env", "-i"])
            .args([format!("HOME={}", self.home.display())])
            .args(["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]);
        if let Some(d) = runtime_dir {
            r = r.args([format!("XDG_RUNTIME_DIR={}", d.display())]);
        }
        r.args([program]).args(args).run()
    }

    /// The words that run a program as this user without a fork in between (setpriv execs
    /// it, so a spawned child's pid is the program's): real and effective ids, the user's
    /// groups, an environment of HOME and PATH only.
    pub fn setpriv_words(&self) -> Vec<String> {
        vec![
            "setpriv".into(),
            format!("--reuid={}", self.uid),
            format!("--regid={}", self.gid),
            "--init-groups".into(),
            "--".into(),
            "env".into(),
            "-i".into(),
            format!("HOME={}", self.home.display()),
            "PATH=/usr/sbin:/usr/bin:/sbin:/bin".into(),
        ]
    }

    /// A long-running program of this user's, killed (by its pid) and reaped when dropped.
    pub fn spawn(&self, program: &str, args: &[&str]) -> Proc {
        let w = self.setpriv_words();
        let child = Command::new(&w[0])
            .args(&w[1..])
            .arg(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program} as {}: {e}", self.name));
        Proc { child }
    }

    /// Add the user to `group`.
    pub fn join(&self, group: &TestGroup) {
        Run::new("usermod")
            .args(["-aG", &group.name, &self.name])
            .run()
            .assert_ok();
    }
}

impl Drop for TestUser {
    fn drop(&mut self) {
        // the user's processes are gone: each test's Proc values drop before its user
        let _ = Run::new("userdel").args(["-r", &self.name]).run();
    }
}

/// A group that exists for one test.
pub struct TestGroup {
    pub name: String,
}

impl TestGroup {
    pub fn new(prefix: &str) -> TestGroup {
        let name = unique_name(prefix);
        Run::new("groupadd").args([&name]).run().assert_ok();
        TestGroup { name }
    }
}

impl Drop for TestGroup {
    fn drop(&mut self) {
        let _ = Run::new("groupdel").args([&self.name]).run();
    }
}

/// A process a test started: killed by its pid and reaped when dropped.
pub struct Proc {
    pub child: Child,
}

impl Proc {
    /// Root's own program (not a user's).
    pub fn root(program: &str, args: &[&str]) -> Proc {
        let child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
        Proc { child }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Wait until the process runs `comm` in a network namespace other than this test's
    /// (e.g. after `unshare -n` exec'd it).
    pub fn wait_in_own_netns(&self, comm: &str) {
        Proc::wait_in_own_netns_of(self.pid(), comm)
    }

    /// As [`Proc::wait_in_own_netns`], for any pid.
    pub fn wait_in_own_netns_of(pid: i32, comm: &str) {
        let ns = |p: &str| std::fs::read_link(format!("/proc/{p}/ns/net")).ok();
        let mine = ns("self");
        let ok = wait_for(Duration::from_secs(10), || {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == comm)
                && ns(&pid.to_string()).is_some_and(|n| Some(n) != mine)
        });
        assert!(
            ok,
            "pid {pid} did not get to run {comm} in a network namespace of its own"
        );
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
