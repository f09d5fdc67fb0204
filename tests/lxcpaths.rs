//! Issue 15's runtime half: containers of one name in two lxcpaths run side by side and
//! never touch each other (also when their monitors crash), stale-state cleanup touches
//! only what its own container provably made, `start` reports every child error whole and
//! success only for an init that ran, and the longest name works.

mod common;

use common::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `hako -P DIR ARGS...` with the test's environment.
fn at(env: &TestEnv, dir: &Path, args: &[&str]) -> Out {
    env.hako_cmd()
        .args(["-P".as_ref(), dir.as_os_str()])
        .args(args)
        .run()
}

fn init_of(env: &TestEnv, dir: &Path, name: &str) -> i32 {
    let o = at(env, dir, &["info", name, "-p", "-H"]);
    o.assert_ok();
    o.out().parse().expect("pid")
}

fn state_of(env: &TestEnv, dir: &Path, name: &str) -> String {
    let o = at(env, dir, &["info", name, "-s", "-H"]);
    o.assert_ok();
    o.out().to_string()
}

fn kill9(pid: i32) {
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    );
}

/// The scenario of the issue: web in /tmp/A and web in /tmp/B; B's monitor is killed; A
/// starts; `stop` of B must not touch A's web. And both run at once.
#[test]
fn one_name_in_two_lxcpaths_runs_twice_and_crashes_stay_apart() {
    let Some(env) = TestEnv::new("twolp") else {
        return;
    };
    let a = env.lxcpath.clone();
    let b = env.dir.join("lpB");
    env.track_lxcpath(&b);
    let n = env.name();
    for dir in [&a, &b] {
        at(&env, dir, &["create", &n, "-t", "busybox"]).assert_ok();
    }
    at(&env, &b, &["start", &n]).assert_ok();
    let b_init = init_of(&env, &b, &n);
    let b_mon = ppid_of(b_init).expect("monitor");
    kill9(b_mon);
    assert!(
        wait_for(Duration::from_secs(5), || !pid_alive(b_init)),
        "B's init survived its monitor"
    );
    at(&env, &a, &["start", &n]).assert_ok();
    let a_init = init_of(&env, &a, &n);
    // B's stale state is cleaned by its stop; A's container is untouched
    let o = at(&env, &b, &["stop", &n]);
    assert!(o.code() == 0 || o.code() == 2, "{o:?}");
    std::thread::sleep(Duration::from_millis(200));
    assert!(pid_alive(a_init), "B's stop killed A's container");
    assert_eq!(state_of(&env, &a, &n), "RUNNING");

    // both at once, with distinct cgroups
    at(&env, &b, &["start", &n]).assert_ok();
    assert_eq!(state_of(&env, &b, &n), "RUNNING");
    let b_init = init_of(&env, &b, &n);
    let cg = |pid: i32| fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert_ne!(cg(a_init), cg(b_init), "one cgroup for both containers");
    // attach reaches each its own container
    at(&env, &a, &["attach", &n, "--", "touch", "/tmp/in-a"]).assert_ok();
    assert_eq!(
        at(&env, &b, &["attach", &n, "--", "ls", "/tmp/in-a"]).code(),
        1,
        "B's attach landed in A's container"
    );
    // a crash of A's monitor leaves B running, and the next start of A cleans only A
    kill9(ppid_of(a_init).unwrap());
    assert!(wait_for(Duration::from_secs(5), || !pid_alive(a_init)));
    at(&env, &a, &["start", &n]).assert_ok();
    assert!(pid_alive(b_init), "A's restart killed B's container");
    assert_eq!(state_of(&env, &b, &n), "RUNNING");
    for dir in [&a, &b] {
        at(&env, dir, &["stop", &n, "-k"]).assert_ok();
    }
    env.assert_no_leaks(&n);
}

/// The cgroup a killed monitor recorded was replaced by someone else's of the same name
/// (another tool, another run): the next stop neither kills what runs there nor removes it.
#[test]
fn stale_cleanup_leaves_a_cgroup_it_did_not_make_alone() {
    let Some(env) = TestEnv::new("ownr") else {
        return;
    };
    let pids_root = Path::new("/sys/fs/cgroup/pids");
    assert!(
        pids_root.join("cgroup.procs").exists(),
        "this test needs the v1 pids hierarchy (the development machines' hybrid layout)"
    );
    let n = env.busybox();
    env.start(&n);
    let init = env.init_pid(&n);
    let ours: Vec<PathBuf> = payload_cgroups(&n);
    assert!(!ours.is_empty());
    kill9(ppid_of(init).unwrap());
    assert!(wait_for(Duration::from_secs(5), || !pid_alive(init)));
    // the old directories go (as if removed by hand); one of the same name appears with a
    // process in it
    for d in &ours {
        let _ = fs::remove_dir(d.join("ns"));
        let _ = fs::remove_dir(d);
    }
    let planted = ours
        .iter()
        .find(|d| d.starts_with(pids_root))
        .expect("pids cgroup")
        .clone();
    fs::create_dir(&planted).unwrap();
    let mut sleeper = std::process::Command::new("sleep")
        .arg("60")
        .spawn()
        .unwrap();
    fs::write(planted.join("cgroup.procs"), sleeper.id().to_string()).unwrap();
    let o = env.hako(&["stop", &n]);
    let alive = pid_alive(sleeper.id() as i32);
    let exists = planted.exists();
    sleeper.kill().unwrap();
    sleeper.wait().unwrap();
    let _ = fs::remove_dir(&planted);
    assert_eq!(o.code(), 2, "{o:?}");
    assert!(
        alive,
        "stale cleanup killed a process in a cgroup it did not make"
    );
    assert!(exists, "stale cleanup removed a cgroup it did not make");
    // the container starts again (its cgroup is made afresh)
    env.start(&n);
    env.kill(&n);
    env.assert_no_leaks(&n);
}

/// A child error longer than a socket message (a 300 KB mount source) reaches the user
/// whole, with exit 1; nothing is left.
#[test]
fn a_long_child_error_arrives_whole() {
    let Some(env) = TestEnv::new("longe") else {
        return;
    };
    let n = env.busybox();
    let long = format!("/nonexistent/{}", "a".repeat(300_000));
    env.append_config(&n, &format!("lxc.mount.entry = {long} mnt none bind 0 0\n"));
    let o = env.hako(&["start", &n]);
    o.assert_fails_with(1, "source does not exist");
    assert!(
        o.stderr.contains(&long),
        "the error was cut: {} bytes",
        o.stderr.len()
    );
    assert_eq!(env.state(&n), "STOPPED");
    env.assert_no_leaks(&n);
}

/// An init that cannot be run is a failed start, never "started" followed by STOPPED.
#[test]
fn an_init_that_never_ran_is_a_failed_start() {
    let Some(env) = TestEnv::new("noini") else {
        return;
    };
    let n = env.busybox();
    fs::remove_file(env.lxcpath.join(&n).join("rootfs/sbin/init")).unwrap();
    let o = env.hako(&["start", &n]);
    o.assert_fails_with(1, "cannot run /sbin/init as init");
    assert_eq!(env.state(&n), "STOPPED");
    env.assert_no_leaks(&n);
}

/// The longest name hako accepts (64 bytes) starts, attaches and stops: its control socket
/// path would overflow a unix socket address.
#[test]
fn a_64_byte_name_starts() {
    let Some(env) = TestEnv::new("long") else {
        return;
    };
    let n = format!("{}{}", env.name(), "x".repeat(64))
        .chars()
        .take(64)
        .collect::<String>();
    assert_eq!(n.len(), 64);
    env.track_name(&n);
    env.hako(&["create", &n, "-t", "busybox"]).assert_ok();
    env.start(&n);
    assert_eq!(env.state(&n), "RUNNING");
    env.hako(&["attach", &n, "--", "true"]).assert_ok();
    env.hako(&["stop", &n, "-k"]).assert_ok();
    env.assert_no_leaks(&n);
    // 65 bytes are refused before anything is made
    let o = env.hako(&["create", &format!("{n}y"), "-t", "busybox"]);
    assert_eq!(o.code(), 1, "{o:?}");
}
