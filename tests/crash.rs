//! Issue 15, items 2, 3, 4 and 8: store operations are crash-consistent.
//!
//! - Fault injection: create (busybox, none, an LXC template script, debian on a warm
//!   fake image), copy, copy -s, copy -e, snapshot, restore in place, restore into a new
//!   container and destroy are killed with SIGKILL after increasing delays (small steps
//!   with a random offset, until the command finishes first). After every kill, `ls`
//!   must list the container as complete, as PARTIAL, or not at all (and then nothing of
//!   it is on disk); `destroy` must remove whatever is listed; the leak check must find
//!   nothing.
//! - A full file system (a 30 MB tmpfs as the lxcpath, filled with fallocate, with a few
//!   sizes of space left): every store operation fails with one clear "no space" error
//!   that names the container, and leaves the old state; destroy works on the full disk;
//!   with the space back everything works again.
//! - The wedges of the issue: a killed snapshot, a half-made container (destroyed by
//!   name; its snapshot-clone source destroyable once it is gone), `-P FILE`, a start
//!   racing a destroy, a missing overlay upper layer.

mod common;

use common::*;
use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// A small random number (xorshift seeded from the clock and pid): the offset of a kill
/// within its step, so repeated runs hit other instants.
struct Jitter(u64);

impl Jitter {
    fn new() -> Jitter {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
        Jitter(t ^ ((std::process::id() as u64) << 32) | 1)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        if n == 0 {
            0
        } else {
            self.0 % n
        }
    }
}

/// Where one test's commands run: an lxcpath and the environment for hako.
struct Lp<'a> {
    env: &'a TestEnv,
    path: PathBuf,
    extra_env: Vec<(String, PathBuf)>,
}

impl<'a> Lp<'a> {
    fn new(env: &'a TestEnv, path: &Path) -> Lp<'a> {
        Lp {
            env,
            path: path.to_path_buf(),
            extra_env: Vec::new(),
        }
    }

    fn run(&self, args: &[&str]) -> Run {
        let mut r = self
            .env
            .hako_cmd()
            .args(["-P".as_ref(), self.path.as_os_str()])
            .args(args);
        for (k, v) in &self.extra_env {
            r = r.env(k, v);
        }
        r
    }

    fn hako(&self, args: &[&str]) -> Out {
        self.run(args).run()
    }

    /// Runs `hako -P LP ARGS` and kills it with SIGKILL after `delay`, unless it finished
    /// first (then true).
    fn killed_after(&self, args: &[&str], delay: Duration) -> bool {
        let mut cmd = Command::new(HAKO);
        cmd.env("HAKO_SYSCONFDIR", &self.env.etc)
            .env_remove("HAKO_PATH")
            .env_remove("HAKO_RUNDIR")
            .arg("-P")
            .arg(&self.path)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (k, v) in &self.extra_env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("run hako");
        let deadline = Instant::now() + delay;
        loop {
            if let Some(st) = child.try_wait().unwrap() {
                assert!(
                    st.success(),
                    "hako {} failed on its own (not killed) after less than {delay:?}",
                    args.join(" ")
                );
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            std::thread::sleep((deadline - now).min(Duration::from_micros(200)));
        }
        let _ = child.kill();
        let st = child.wait().unwrap();
        st.success()
    }

    /// `ls --format json`: name -> state ("PARTIAL" for a half-made one).
    fn listed(&self) -> Vec<(String, String)> {
        let o = self.hako(&["ls", "--format", "json"]);
        o.assert_ok();
        let v: serde_json::Value = serde_json::from_str(&o.stdout)
            .unwrap_or_else(|e| panic!("ls --format json: {e}: {}", o.stdout));
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["name"].as_str().unwrap().to_string(),
                    r["state"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    /// The state `ls` shows for `name` (None: not listed). A half-made one must come with a
    /// note on stderr that says how to remove it, in plain `ls` too.
    fn state_of(&self, name: &str) -> Option<String> {
        let state = self
            .listed()
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, s)| s);
        let plain = self.hako(&["ls", "-1"]);
        plain.assert_ok();
        let in_plain = plain.stdout.lines().any(|l| l == name);
        assert_eq!(
            in_plain,
            state.is_some(),
            "ls and ls --format json disagree about {name}: {plain:?}"
        );
        if state.as_deref() == Some("PARTIAL") {
            plain.assert_stderr_contains(&format!("{name} is half-"));
            plain.assert_stderr_contains(&format!("\"hako destroy {name}\""));
        } else {
            assert!(
                !plain.stderr.contains(&format!("{name} is ")),
                "a note about {name}, which is not half-made: {plain:?}"
            );
        }
        state
    }

    fn dir(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// After a killed command that made `name`: it is listed complete (and then usable),
    /// PARTIAL, or not at all (and then nothing is on disk). Whatever is there, `destroy`
    /// removes it; no lock file, runtime file, process or mount is left.
    #[track_caller]
    fn check_and_destroy(&self, name: &str, force: bool) -> Option<String> {
        let state = self.state_of(name);
        match state.as_deref() {
            None => {
                assert!(
                    fs::symlink_metadata(self.dir(name)).is_err(),
                    "{name} is not listed, but {} is there",
                    self.dir(name).display()
                );
                self.hako(&["destroy", name])
                    .assert_fails_with(1, "does not exist");
            }
            Some(s) => {
                if s != "PARTIAL" {
                    // complete: it works as a container
                    self.hako(&["info", name]).assert_ok();
                }
                let mut args = vec!["destroy", name];
                if force {
                    args.push("-f");
                }
                self.hako(&args).assert_ok();
                assert!(
                    fs::symlink_metadata(self.dir(name)).is_err(),
                    "destroy left {}",
                    self.dir(name).display()
                );
                assert!(self.state_of(name).is_none());
            }
        }
        let mut names = BTreeSet::new();
        names.insert(name.to_string());
        let leaks = self.env.settled_leaks_for(&names, true);
        assert!(leaks.is_empty(), "{name} left: {leaks:#?}");
        state
    }
}

/// The kill loop: `attempt(delay)` runs the command killed after `delay` and returns true
/// when it finished first; `check()` runs after every attempt. Delays go up in steps of
/// about a thirtieth of the command's own duration (measured first), each with a random
/// offset, until the command finishes before the kill twice in a row.
fn kill_loop(
    what: &str,
    measure: &mut dyn FnMut() -> Duration,
    attempt: &mut dyn FnMut(Duration) -> bool,
    check: &mut dyn FnMut(),
) -> (usize, usize) {
    let took = measure();
    let step = (took / 30).max(Duration::from_millis(1));
    let mut jitter = Jitter::new();
    let (mut killed, mut finished) = (0, 0);
    let mut in_a_row = 0;
    let mut k = 0u32;
    while in_a_row < 2 {
        let delay = step * k + Duration::from_micros(jitter.below(step.as_micros() as u64));
        if attempt(delay) {
            finished += 1;
            in_a_row += 1;
        } else {
            killed += 1;
            in_a_row = 0;
        }
        check();
        k += 1;
        assert!(
            step * k < took * 4 + Duration::from_secs(2),
            "{what}: still killed after {:?}, 4 times as long as it took at first ({took:?})",
            step * k
        );
    }
    eprintln!("{what}: {killed} kills, {finished} completed runs, step {step:?} (took {took:?})");
    assert!(killed > 0, "{what}: never killed in time (took {took:?})");
    (killed, finished)
}

fn timed(f: impl FnOnce()) -> Duration {
    let t = Instant::now();
    f();
    t.elapsed()
}

fn write_script(env: &TestEnv) -> PathBuf {
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("busybox-static installed on the host");
    let p = env.write(
        "tpl.sh",
        &format!(
            r#"#!/bin/sh
set -e
for a in "$@"; do
  case "$a" in
    --path=*) P="${{a#--path=}}";;
    --rootfs=*) R="${{a#--rootfs=}}";;
  esac
done
mkdir -p "$R/bin" "$R/proc" "$R/sys" "$R/dev" "$R/tmp" "$R/etc"
cp {busybox} "$R/bin/busybox"
for c in sh cat sleep; do ln -s busybox "$R/bin/$c"; done
echo made > "$R/etc/marker"
echo 'lxc.init.cmd = /bin/sh -c "while :; do sleep 1; done"' >> "$P/config"
"#
        ),
    );
    fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
    p
}

/// The fake debian builder of tests/storage.rs, reduced: a busybox system, made in a few
/// milliseconds, so `create -t debian` can be killed on a warm image cache.
const FAKE_BUILDER: &str = r#"#!/bin/sh
set -e
n=$#
eval "target=\${$((n-1))}"
mkdir -p "$target/bin" "$target/sbin" "$target/etc" "$target/root" "$target/tmp" "$target/proc" "$target/sys" "$target/dev"
cp /bin/busybox "$target/bin/busybox"
ln -s busybox "$target/bin/sh"
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$target/etc/passwd"
printf 'root:x:0:\n' > "$target/etc/group"
printf 'root:*:19000:0:99999:7:::\n' > "$target/etc/shadow"
printf '::sysinit:/bin/true\n' > "$target/etc/inittab"
echo buildhost > "$target/etc/hostname"
echo 0123456789abcdef0123456789abcdef > "$target/etc/machine-id"
"#;

fn read(p: &Path) -> String {
    fs::read_to_string(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

/// A tmpfs mounted for one test, unmounted when dropped (after the test destroyed what it
/// made there; anything left is destroyed first, so no lock or runtime file stays).
struct Tmpfs<'a> {
    env: &'a TestEnv,
    mnt: PathBuf,
}

impl<'a> Tmpfs<'a> {
    fn mount(env: &'a TestEnv, rel: &str, size: &str) -> Tmpfs<'a> {
        let mnt = env.path(rel);
        fs::create_dir_all(&mnt).unwrap();
        Run::new("mount")
            .args([
                "-t".as_ref(),
                "tmpfs".as_ref(),
                "-o".as_ref(),
                format!("size={size}").as_ref(),
                "tmpfs".as_ref(),
                mnt.as_os_str(),
            ])
            .run()
            .assert_ok();
        Tmpfs { env, mnt }
    }

    /// Fills the file system but for `leave` bytes.
    fn fill(&self, leave: u64) {
        let _ = fs::remove_file(self.mnt.join("fill"));
        let st = nix::sys::statvfs::statvfs(&self.mnt).unwrap();
        let avail = st.blocks_available() as u64 * st.fragment_size() as u64;
        if avail > leave {
            Run::new("fallocate")
                .args([
                    "-l".as_ref(),
                    (avail - leave).to_string().as_ref(),
                    self.mnt.join("fill").as_os_str(),
                ])
                .run()
                .assert_ok();
        }
    }

    fn free(&self) {
        let _ = fs::remove_file(self.mnt.join("fill"));
    }
}

impl Drop for Tmpfs<'_> {
    fn drop(&mut self) {
        self.free();
        let lp = self.mnt.join("lp");
        for _ in 0..3 {
            let Ok(rd) = fs::read_dir(&lp) else { break };
            let names: Vec<String> = rd
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            if names.is_empty() {
                break;
            }
            for n in names {
                let _ = self
                    .env
                    .hako_cmd()
                    .args(["-P".as_ref(), lp.as_os_str()])
                    .args(["destroy", &n, "-f", "-s"])
                    .run();
            }
        }
        let _ = nix::mount::umount2(&self.mnt, nix::mount::MntFlags::MNT_DETACH);
    }
}

// ---------------------------------------------------------------------------------------
// Fault injection: kill -9 at any instant
// ---------------------------------------------------------------------------------------

#[test]
fn killed_creates_leave_nothing_or_something_destroy_removes() {
    let Some(env) = TestEnv::new("kcre") else {
        return;
    };
    let lp = Lp::new(&env, &env.lxcpath);
    let script = write_script(&env);
    let script = script.to_str().unwrap();
    for template in ["busybox", "none", script] {
        let mut complete = 0;
        let (killed, _) = kill_loop(
            &format!("create -t {template}"),
            &mut || {
                let n = env.name();
                let t = timed(|| {
                    lp.hako(&["create", &n, "-t", template]).assert_ok();
                });
                lp.hako(&["destroy", &n]).assert_ok();
                t
            },
            &mut |delay| {
                let n = env.name();
                let done = lp.killed_after(&["create", &n, "-t", template], delay);
                match lp.check_and_destroy(&n, false).as_deref() {
                    Some("PARTIAL") => {}
                    Some(_) => complete += 1,
                    None => {}
                }
                done
            },
            &mut || {},
        );
        assert!(killed > 0 && complete > 0, "{template}");
    }
}

#[test]
fn killed_debian_creates_on_a_warm_image() {
    let Some(env) = TestEnv::new("kdeb") else {
        return;
    };
    let builder = env.write("fake-mmdebstrap", FAKE_BUILDER);
    fs::set_permissions(&builder, fs::Permissions::from_mode(0o755)).unwrap();
    let cache = env.path("cache");
    let mut lp = Lp::new(&env, &env.lxcpath);
    lp.extra_env = vec![
        ("HAKO_CACHE".into(), cache.clone()),
        ("HAKO_DEBIAN_BUILDER".into(), builder),
    ];
    kill_loop(
        "create -t debian (overlay on a cached image)",
        &mut || {
            // the first create builds the image; the second measures a warm one
            let n = env.name();
            lp.hako(&["create", &n, "-t", "debian"]).assert_ok();
            lp.hako(&["destroy", &n]).assert_ok();
            let t = timed(|| {
                lp.hako(&["create", &n, "-t", "debian"]).assert_ok();
            });
            lp.hako(&["destroy", &n]).assert_ok();
            t
        },
        &mut |delay| {
            let n = env.name();
            let done = lp.killed_after(&["create", &n, "-t", "debian"], delay);
            lp.check_and_destroy(&n, false);
            done
        },
        &mut || {},
    );
    // every killed create is gone from the image's users: the image can be removed
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    lp.hako(&["image", "rm", &format!("bookworm-{arch}")])
        .assert_ok();
}

#[test]
fn killed_copies_and_clones_leave_the_source_intact() {
    let Some(env) = TestEnv::new("kcopy") else {
        return;
    };
    let lp = Lp::new(&env, &env.lxcpath);
    let src = env.busybox();
    let hostname = read(&lp.dir(&src).join("rootfs/etc/hostname"));
    for (what, extra) in [
        ("copy", &[][..]),
        ("copy -s", &["-s"][..]),
        ("copy -e", &["-e"][..]),
    ] {
        let ephemeral = extra.contains(&"-e");
        kill_loop(
            what,
            &mut || {
                let n = env.name();
                let mut args = vec!["copy", &src, &n];
                args.extend(extra);
                let t = timed(|| {
                    lp.hako(&args).assert_ok();
                });
                lp.hako(&["destroy", &n, "-f"]).assert_ok();
                t
            },
            &mut |delay| {
                let n = env.name();
                let mut args = vec!["copy", src.as_str(), n.as_str()];
                args.extend(extra);
                let done = lp.killed_after(&args, delay);
                // an ephemeral copy may be running (killed after its start)
                lp.check_and_destroy(&n, ephemeral);
                done
            },
            &mut || {
                // the source is untouched, and free of users again
                assert_eq!(lp.state_of(&src).as_deref(), Some("STOPPED"));
                assert_eq!(read(&lp.dir(&src).join("rootfs/etc/hostname")), hostname);
            },
        );
    }
    // no half-made clone holds the source
    lp.hako(&["destroy", &src]).assert_ok();
}

#[test]
fn killed_snapshots_never_wedge_the_container() {
    let Some(env) = TestEnv::new("ksnap") else {
        return;
    };
    let lp = Lp::new(&env, &env.lxcpath);
    let n = env.busybox();
    let snaps = || -> Vec<(String, bool)> {
        let o = lp.hako(&["snapshot", &n, "-L", "--format", "json"]);
        o.assert_ok();
        let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["name"].as_str().unwrap().to_string(),
                    !s["partial"].is_null(),
                )
            })
            .collect()
    };
    kill_loop(
        "snapshot",
        &mut || {
            let t = timed(|| {
                lp.hako(&["snapshot", &n]).assert_ok();
            });
            for (s, _) in snaps() {
                lp.hako(&["snapshot", &n, "-d", &s]).assert_ok();
            }
            t
        },
        &mut |delay| lp.killed_after(&["snapshot", &n], delay),
        &mut || {
            // the container is untouched; the snapshot is complete, half-made (listed as
            // such, with the way out), or not there
            assert_eq!(lp.state_of(&n).as_deref(), Some("STOPPED"));
            let list = snaps();
            assert!(list.len() <= 1, "{list:?}");
            if let Some((s, partial)) = list.first() {
                if *partial {
                    let o = lp.hako(&["snapshot", &n, "-L"]);
                    o.assert_stdout_contains("PARTIAL");
                    o.assert_stderr_contains(&format!("hako snapshot {n} -d {s}"));
                    lp.hako(&["snapshot", &n, "-r", s])
                        .assert_fails_mentioning("half-made");
                    // not wedged: the next snapshot takes another name
                    let o = lp.hako(&["snapshot", &n]);
                    o.assert_ok();
                    assert!(!o.stdout.contains(&format!(" {s} ")), "{o:?}");
                    // destroy counts the complete one only
                    lp.hako(&["destroy", &n])
                        .assert_fails_mentioning("1 snapshot(s)");
                    for (t, _) in snaps() {
                        if &t != s {
                            lp.hako(&["snapshot", &n, "-d", &t]).assert_ok();
                        }
                    }
                }
                lp.hako(&["snapshot", &n, "-d", s]).assert_ok();
            }
            let snapdir = lp.dir(&n).join("snaps");
            assert!(
                fs::read_dir(&snapdir).map(|d| d.count()).unwrap_or(0) == 0,
                "left in {}: {:?}",
                snapdir.display(),
                fs::read_dir(&snapdir)
                    .map(|d| d.flatten().map(|e| e.file_name()).collect::<Vec<_>>())
            );
        },
    );
    lp.hako(&["destroy", &n]).assert_ok();
}

#[test]
fn killed_restores_leave_the_old_state_or_the_new() {
    let Some(env) = TestEnv::new("krest") else {
        return;
    };
    let lp = Lp::new(&env, &env.lxcpath);
    let n = env.busybox();
    let state = lp.dir(&n).join("rootfs/etc/state");
    fs::write(&state, "snap").unwrap();
    lp.hako(&["snapshot", &n]).assert_ok();
    let config = env.read_config(&n);
    let set_current = || {
        fs::write(&state, "current").unwrap();
        fs::write(lp.dir(&n).join("rootfs/etc/current-only"), "x").unwrap();
    };
    set_current();
    let (mut olds, mut news) = (0, 0);
    kill_loop(
        "snapshot -r (in place)",
        &mut || {
            let t = timed(|| {
                lp.hako(&["snapshot", &n, "-r", "snap0"]).assert_ok();
            });
            set_current();
            t
        },
        &mut |delay| lp.killed_after(&["snapshot", &n, "-r", "snap0"], delay),
        &mut || {
            // never half-made: complete, with the old root filesystem or the restored one
            assert_eq!(lp.state_of(&n).as_deref(), Some("STOPPED"));
            // (the next command that takes the lock finishes or undoes a killed restore:
            // a stop of the stopped container does)
            lp.hako(&["stop", &n]).assert_code(2);
            assert!(!lp.dir(&n).join(".restore").exists());
            match read(&state).as_str() {
                "current" => {
                    assert!(lp.dir(&n).join("rootfs/etc/current-only").exists());
                    olds += 1;
                }
                "snap" => {
                    assert!(!lp.dir(&n).join("rootfs/etc/current-only").exists());
                    news += 1;
                }
                other => panic!("the rootfs of {n} is neither old nor new: etc/state = {other:?}"),
            }
            assert_eq!(env.read_config(&n), config);
            set_current();
        },
    );
    assert!(olds > 0 && news > 0, "old {olds}, new {news}");
    // into a new container: as a copy
    kill_loop(
        "snapshot -r -N",
        &mut || {
            let m = env.name();
            let t = timed(|| {
                lp.hako(&["snapshot", &n, "-r", "snap0", "-N", &m])
                    .assert_ok();
            });
            lp.hako(&["destroy", &m]).assert_ok();
            t
        },
        &mut |delay| {
            let m = env.name();
            let done = lp.killed_after(&["snapshot", &n, "-r", "snap0", "-N", &m], delay);
            lp.check_and_destroy(&m, false);
            done
        },
        &mut || {},
    );
    lp.hako(&["destroy", &n, "-s"]).assert_ok();
}

#[test]
fn killed_destroys_are_finished_by_the_next_destroy() {
    let Some(env) = TestEnv::new("kdes") else {
        return;
    };
    let lp = Lp::new(&env, &env.lxcpath);
    let base = env.busybox();
    for (what, clone, snaps) in [
        ("destroy", false, false),
        ("destroy (a snapshot clone)", true, false),
        ("destroy -s", false, true),
    ] {
        let make = || {
            let n = env.name();
            if clone {
                lp.hako(&["copy", &base, &n, "-s"]).assert_ok();
            } else {
                lp.hako(&["copy", &base, &n]).assert_ok();
            }
            if snaps {
                lp.hako(&["snapshot", &n]).assert_ok();
                lp.hako(&["snapshot", &n]).assert_ok();
            }
            n
        };
        let args = |n: &str| -> Vec<String> {
            let mut a = vec!["destroy".to_string(), n.to_string()];
            if snaps {
                a.push("-s".into());
            }
            a
        };
        let mut partials = 0;
        kill_loop(
            what,
            &mut || {
                let n = make();
                let a = args(&n);
                let a: Vec<&str> = a.iter().map(String::as_str).collect();
                timed(|| {
                    lp.hako(&a).assert_ok();
                })
            },
            &mut |delay| {
                let n = make();
                let a = args(&n);
                let a: Vec<&str> = a.iter().map(String::as_str).collect();
                let done = lp.killed_after(&a, delay);
                let state = lp.state_of(&n);
                if state.as_deref() == Some("PARTIAL") {
                    partials += 1;
                    // half-destroyed: it cannot be used, and says why
                    lp.hako(&["start", &n])
                        .assert_fails_mentioning("cannot be used");
                    lp.hako(&["destroy", &n]).assert_ok();
                } else if state.is_some() {
                    // not started yet: as it was, snapshots and all
                    lp.hako(&a).assert_ok();
                } else {
                    // gone; a lock file the killed destroy left goes with the next one
                    lp.hako(&["destroy", &n])
                        .assert_fails_with(1, "does not exist");
                }
                assert!(lp.state_of(&n).is_none());
                let mut names = BTreeSet::new();
                names.insert(n.clone());
                let leaks = env.settled_leaks_for(&names, true);
                assert!(leaks.is_empty(), "{n} left: {leaks:#?}");
                done
            },
            &mut || {
                assert_eq!(lp.state_of(&base).as_deref(), Some("STOPPED"));
            },
        );
        eprintln!("{what}: {partials} half-destroyed");
    }
    lp.hako(&["destroy", &base]).assert_ok();
}

// ---------------------------------------------------------------------------------------
// A full file system
// ---------------------------------------------------------------------------------------

#[test]
fn a_full_filesystem_fails_every_operation_cleanly() {
    let Some(env) = TestEnv::new("full") else {
        return;
    };
    let fs30 = Tmpfs::mount(&env, "full", "30m");
    let lp_path = fs30.mnt.join("lp");
    env.track_lxcpath(&lp_path);
    let lp = Lp::new(&env, &lp_path);
    let script = write_script(&env);
    let script = script.to_str().unwrap().to_string();
    let src = env.name();
    lp.hako(&["create", &src, "-t", "busybox"]).assert_ok();
    let state = lp.dir(&src).join("rootfs/etc/state");
    fs::write(&state, "snap").unwrap();
    lp.hako(&["snapshot", &src]).assert_ok();
    fs::write(&state, "current").unwrap();
    let clone = env.name();
    lp.hako(&["copy", &src, &clone, "-s"]).assert_ok();
    let before: Vec<(String, String)> = lp.listed();
    assert_eq!(before.len(), 2);

    let new = env.name();
    let ops: Vec<(&str, Vec<&str>)> = vec![
        ("create busybox", vec!["create", &new, "-t", "busybox"]),
        ("create none", vec!["create", &new, "-t", "none"]),
        ("create script", vec!["create", &new, "-t", &script]),
        ("copy", vec!["copy", &src, &new]),
        ("copy -s", vec!["copy", &src, &new, "-s"]),
        ("snapshot", vec!["snapshot", &src]),
        ("restore", vec!["snapshot", &src, "-r", "snap0"]),
        (
            "restore -N",
            vec!["snapshot", &src, "-r", "snap0", "-N", &new],
        ),
    ];
    // no byte left, a few, and enough for the markers and configs but not the files
    for leave in [0u64, 4 << 10, 64 << 10, 512 << 10] {
        fs30.fill(leave);
        for (what, args) in &ops {
            let o = lp.hako(args);
            if o.code() == 0 {
                // it fitted (a config-only create, a clone): undo it, and go on
                assert!(leave > 0, "{what} succeeded on a full disk: {o:?}");
                if args[0] == "create" || args[0] == "copy" || args.contains(&"-N") {
                    lp.hako(&["destroy", &new]).assert_ok();
                }
                continue;
            }
            o.assert_code(1);
            o.assert_stderr_contains("no space left on device");
            o.assert_stderr_contains("free some disk space");
            let object = if args[0] == "snapshot" && !args.contains(&"-N") {
                &src
            } else {
                &new
            };
            o.assert_one_clear_error(&format!("\"{object}\""));
            // the old state: the same containers, nothing half-made, nothing left over
            assert_eq!(lp.listed(), before, "after {what} with {leave} bytes free");
            assert!(!lp.dir(&new).exists(), "{what} left {}", new);
            assert_eq!(read(&state), "current", "after {what}");
            assert!(!lp.dir(&src).join(".restore").exists(), "after {what}");
            let snaps = fs::read_dir(lp.dir(&src).join("snaps")).unwrap().count();
            assert_eq!(snaps, 1, "after {what}: {snaps} snapshots");
        }
    }
    // destroy is what frees space: it works on a full disk
    fs30.fill(0);
    lp.hako(&["destroy", &clone]).assert_ok();
    assert!(!lp.dir(&clone).exists());
    // with the space back, everything works again
    fs30.free();
    for (what, args) in &ops {
        lp.hako(args).assert_ok();
        if args[0] == "create" || args[0] == "copy" || args.contains(&"-N") {
            lp.hako(&["destroy", &new]).assert_ok();
        }
        eprintln!("{what}: works again");
    }
    lp.hako(&["destroy", &src, "-s"]).assert_ok();
    assert!(lp.listed().is_empty());
    drop(fs30);
}

// ---------------------------------------------------------------------------------------
// The wedges of the issue
// ---------------------------------------------------------------------------------------

#[test]
fn a_half_made_snapshot_is_listed_skipped_and_removable() {
    let Some(env) = TestEnv::new("wsnap") else {
        return;
    };
    let n = env.busybox();
    let snaps = env.lxcpath.join(&n).join("snaps");
    // what a snapshot killed after its first steps leaves
    fs::create_dir_all(snaps.join("snap0/rootfs/bin")).unwrap();
    fs::write(snaps.join("snap0/partial"), "snapshot\n").unwrap();
    let o = env.hako(&["snapshot", &n, "-L"]);
    o.assert_ok();
    o.assert_stdout_contains("snap0");
    o.assert_stdout_contains("PARTIAL");
    o.assert_stderr_contains(&format!("delete it with \"hako snapshot {n} -d snap0\""));
    // the next snapshot takes a free name
    env.hako(&["snapshot", &n])
        .assert_ok()
        .assert_stdout_contains("snap1");
    // destroy counts the complete one only, and -s takes both
    env.hako(&["destroy", &n])
        .assert_fails_mentioning("1 snapshot(s)");
    // LXC's face lists it too
    let o = env.lxc(
        "lxc-snapshot",
        &["-n", &n, "-P", env.lxcpath.to_str().unwrap(), "-L"],
    );
    o.assert_ok();
    o.assert_stdout_contains("snap0");
    o.assert_stderr_contains(&format!("lxc-snapshot -n {n} -d snap0"));
    env.hako(&["destroy", &n, "-s"]).assert_ok();
    assert!(!env.lxcpath.join(&n).exists());
}

#[test]
fn half_made_containers_are_listed_and_destroyed_by_name() {
    let Some(env) = TestEnv::new("whalf") else {
        return;
    };
    let src = env.busybox();
    let clone = env.name();
    env.hako(&["copy", &src, &clone, "-s"]).assert_ok();
    // a copy -s killed after its config, before its marker went
    fs::write(env.lxcpath.join(&clone).join("partial"), "copy\n").unwrap();
    // what a destroy on a full disk used to leave (a config and an empty marker), a
    // destroy killed half-way (no rootfs)
    let (a, b, c) = (env.name(), env.name(), env.name());
    fs::create_dir_all(env.lxcpath.join(&a).join("rootfs/etc")).unwrap();
    fs::write(env.lxcpath.join(&a).join("config"), "lxc.uts.name = x\n").unwrap();
    fs::write(env.lxcpath.join(&a).join("partial"), "").unwrap();
    fs::create_dir_all(env.lxcpath.join(&b)).unwrap();
    fs::write(env.lxcpath.join(&b).join("partial"), "destroy\n").unwrap();
    fs::write(env.lxcpath.join(&b).join("config"), "lxc.uts.name = x\n").unwrap();
    // killed between its mkdir and its marker
    fs::create_dir_all(env.lxcpath.join(&c)).unwrap();

    let o = env.hako(&["ls"]);
    o.assert_ok();
    for n in [&src, &clone, &a, &b, &c] {
        assert!(words(&o.stdout).contains(n), "{n} not listed: {o:?}");
    }
    o.assert_stderr_contains(&format!(
        "{clone} is half-made (an interrupted copy); remove it with \"hako destroy {clone}\""
    ));
    o.assert_stderr_contains(&format!(
        "{b} is half-destroyed (an interrupted destroy); finish it with \"hako destroy {b}\""
    ));
    let o = env.hako(&["ls", "-f"]);
    for n in [&clone, &a, &b, &c] {
        let line = o
            .stdout
            .lines()
            .find(|l| l.starts_with(n.as_str()))
            .unwrap();
        assert!(line.contains("PARTIAL"), "{line}");
    }
    let line = o
        .stdout
        .lines()
        .find(|l| l.starts_with(src.as_str()))
        .unwrap();
    assert!(line.contains("STOPPED"), "{line}");
    let o = env.hako(&["ls", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    let row = v
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == clone.as_str())
        .unwrap();
    assert_eq!(row["state"], "PARTIAL");
    assert_eq!(row["partial"]["operation"], "copy");
    assert_eq!(row["partial"]["fix"], format!("hako destroy {clone}"));
    // state filters show containers with a state only
    let o = env.hako(&["ls", "--stopped", "-1"]);
    assert_eq!(words(&o.stdout), vec![src.clone()]);
    // LXC's face: listed, and the note names lxc-destroy
    let o = env.lxc("lxc-ls", &["-P", env.lxcpath.to_str().unwrap(), "-1"]);
    o.assert_ok();
    assert!(words(&o.stdout).contains(&clone));
    o.assert_stderr_contains(&format!("lxc-destroy -n {clone}"));

    // other commands say what it is and what to do
    env.hako(&["start", &clone])
        .assert_fails_mentioning(&format!("remove it with \"hako destroy {clone}\""));
    // the source names the half-made clone and the way out
    env.hako(&["destroy", &src])
        .assert_fails_mentioning(&format!(
            "half-made: remove it with \"hako destroy {clone}\""
        ));
    for n in [&clone, &a, &b, &c] {
        env.hako(&["destroy", n]).assert_ok();
        assert!(!env.lxcpath.join(n).exists());
    }
    // ... and the source is destroyable again
    env.hako(&["destroy", &src]).assert_ok();
    assert!(env.hako(&["ls"]).stdout.trim().is_empty());
    // a directory that is not hako's is neither listed nor touched
    let junk = env.name();
    fs::create_dir_all(env.lxcpath.join(&junk)).unwrap();
    fs::write(env.lxcpath.join(&junk).join("data"), "mine").unwrap();
    assert!(env.hako(&["ls"]).stdout.trim().is_empty());
    env.hako(&["destroy", &junk])
        .assert_fails_mentioning("not a container");
    assert_eq!(read(&env.lxcpath.join(&junk).join("data")), "mine");
    fs::remove_dir_all(env.lxcpath.join(&junk)).unwrap();
}

#[test]
fn a_file_as_lxcpath_is_an_error_and_a_missing_one_is_empty() {
    let Some(env) = TestEnv::new("lsfile") else {
        return;
    };
    let file = env.write("not-a-dir", "");
    let f = file.to_str().unwrap();
    for args in [vec!["ls"], vec!["ls", "-f"], vec!["ls", "--format", "json"]] {
        let mut a = vec!["-P", f];
        a.extend(args);
        let o = env.hako_cmd().args(&a).run();
        o.assert_code(1);
        o.assert_stderr_contains("is not a directory");
        o.assert_one_clear_error(f);
        assert!(o.stdout.is_empty(), "{o:?}");
    }
    let o = env.lxc("lxc-ls", &["-P", f]);
    o.assert_code(1);
    o.assert_stderr_contains("is not a directory");
    // a missing lxcpath is an empty list, as lxc-ls has it
    let missing = env.path("missing");
    let m = missing.to_str().unwrap();
    let o = env.hako_cmd().args(["-P", m, "ls"]).run();
    o.assert_ok();
    assert!(o.stdout.is_empty() && o.stderr.is_empty(), "{o:?}");
    let o = env
        .hako_cmd()
        .args(["-P", m, "ls", "--format", "json"])
        .run();
    o.assert_ok();
    assert_eq!(o.stdout.trim(), "[]");
    env.lxc("lxc-ls", &["-P", m]).assert_ok();
    assert!(!missing.exists(), "ls made the lxcpath");
}

#[test]
fn a_start_racing_a_destroy_says_what_happened() {
    let Some(env) = TestEnv::new("race") else {
        return;
    };
    for _ in 0..8 {
        let n = env.busybox();
        let (start, destroy) = std::thread::scope(|s| {
            let st = s.spawn(|| env.hako(&["start", &n]));
            let de = s.spawn(|| env.hako(&["destroy", &n]));
            (st.join().unwrap(), de.join().unwrap())
        });
        if start.code() == 0 {
            // it started first: the destroy refused a running container
            destroy.assert_fails_mentioning("running");
            env.hako(&["destroy", &n, "-f"]).assert_ok();
        } else {
            destroy.assert_ok();
            assert!(
                start.stderr.contains("does not exist") || start.stderr.contains("destroyed"),
                "a start that lost the race to a destroy must say the container is gone: {start:?}"
            );
            assert!(!start.stderr.contains("rootfs"), "{start:?}");
        }
        assert!(!env.lxcpath.join(&n).exists());
        env.assert_no_leaks(&n);
    }
}

#[test]
fn a_missing_overlay_upper_layer_is_an_error_not_a_bare_image() {
    let Some(env) = TestEnv::new("upper") else {
        return;
    };
    let src = env.busybox();
    let clone = env.name();
    env.hako(&["copy", &src, &clone, "-s"]).assert_ok();
    let upper = env.lxcpath.join(&clone).join("overlay/upper");
    fs::rename(&upper, env.path("upper-aside")).unwrap();
    let o = env.hako(&["start", &clone]);
    o.assert_code(1);
    o.assert_stderr_contains(&format!("\"{clone}\""));
    o.assert_stderr_contains(upper.to_str().unwrap());
    o.assert_stderr_contains("does not exist");
    o.assert_stderr_contains("hako destroy");
    assert!(!upper.exists(), "start made the upper layer again");
    assert_eq!(env.state(&clone), "STOPPED");
    env.assert_no_leaks(&clone);
    // put back, it starts as itself
    fs::rename(env.path("upper-aside"), &upper).unwrap();
    env.start(&clone);
    assert_eq!(env.sh_ok(&clone, "hostname").trim(), clone);
    env.kill(&clone);
    env.hako(&["destroy", &clone]).assert_ok();
    env.hako(&["destroy", &src]).assert_ok();
}
