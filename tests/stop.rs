//! Issue 2, point 6: stop — graceful, kill, timeout, reboot, an init that exits by itself,
//! a monitor killed with SIGKILL.

mod common;

use common::*;
use std::fs;
use std::time::{Duration, Instant};

#[test]
fn graceful_stop_halts_busybox_quickly() {
    let Some(env) = TestEnv::new("grace") else {
        return;
    };
    let log = env.path("console.log");
    let n = env.busybox_with(&format!("lxc.console.logfile = {}\n", log.display()));
    env.start(&n);
    let pid = env.init_pid(&n);
    let o = env.hako(&["stop", &n]);
    assert_clean_busybox_halt(&env, &n, &o, pid, &log);
}

/// `o`, a graceful `stop` of busybox container `n` (init `pid`, console log `log`), halted
/// it cleanly: in time, not by the kill at the deadline, through busybox init's shutdown
/// sequence, and nothing is left.
fn assert_clean_busybox_halt(env: &TestEnv, n: &str, o: &Out, pid: i32, log: &std::path::Path) {
    o.assert_ok();
    assert!(
        o.elapsed < Duration::from_secs(20),
        "graceful stop of busybox took {:?} (the halt signal was lost, or the timeout hit)",
        o.elapsed
    );
    assert_eq!(env.state(n), "STOPPED");
    assert!(!pid_alive(pid), "init {pid} still alive after stop");
    // it really was a clean shutdown: busybox init ran its shutdown sequence
    let text = fs::read_to_string(log).unwrap_or_default();
    assert!(
        text.contains("going down") || text.contains("halt"),
        "no sign of busybox's shutdown on the console log:\n{text}"
    );
    env.assert_no_leaks(n);
}

#[test]
fn stop_kill_is_immediate() {
    let Some(env) = TestEnv::new("kill") else {
        return;
    };
    let n = env.busybox();
    env.start(&n);
    let pid = env.init_pid(&n);
    let o = env.hako(&["stop", &n, "-k"]);
    o.assert_ok();
    assert!(
        o.elapsed < Duration::from_secs(3),
        "stop -k took {:?}",
        o.elapsed
    );
    assert_eq!(env.state(&n), "STOPPED");
    assert!(!pid_alive(pid));
    env.assert_no_leaks(&n);
    // it starts again
    env.start(&n);
    assert_eq!(env.state(&n), "RUNNING");
}

#[test]
fn stop_timeout_kills_an_init_that_ignores_the_halt_signal() {
    let Some(env) = TestEnv::new("tmout") else {
        return;
    };
    let n = env.busybox();
    // an init that ignores SIGPWR, the default halt signal
    env.append_config(
        &n,
        "lxc.signal.halt = SIGPWR\nlxc.init.cmd = /bin/sh -c \"trap '' PWR; while :; do sleep 1; done\"",
    );
    env.start(&n);
    let pid = env.init_pid(&n);
    let o = env.hako(&["stop", &n, "-t", "1"]);
    o.assert_ok();
    assert!(
        o.elapsed >= Duration::from_millis(900),
        "stop -t 1 returned after {:?}: it did not wait for the clean shutdown",
        o.elapsed
    );
    assert!(
        o.elapsed < Duration::from_secs(5),
        "stop -t 1 took {:?}",
        o.elapsed
    );
    assert_eq!(env.state(&n), "STOPPED");
    assert!(!pid_alive(pid));
    env.assert_no_leaks(&n);
}

#[test]
fn stop_nokill_only_asks() {
    let Some(env) = TestEnv::new("nokil") else {
        return;
    };
    let n = env.busybox();
    env.append_config(
        &n,
        "lxc.signal.halt = SIGPWR\nlxc.init.cmd = /bin/sh -c \"trap '' PWR; while :; do sleep 1; done\"",
    );
    env.start(&n);
    let o = env.hako(&["stop", &n, "--nokill", "-t", "1"]);
    assert_ne!(
        o.code(),
        0,
        "stop --nokill of an init that ignores the signal 'succeeded'"
    );
    env.hako(&["attach", &n, "--", "true"]).assert_ok();
    let state_after = env.state(&n);
    // a later stop with a timeout still kills it after the timeout
    let o = env
        .run(&["stop", &n, "-t", "1"])
        .timeout(Duration::from_secs(20))
        .run();
    o.assert_ok();
    assert!(
        o.elapsed < Duration::from_secs(5),
        "stop -t 1 after --nokill took {:?}",
        o.elapsed
    );
    assert_eq!(env.state(&n), "STOPPED");
    // the shutdown request gave up: the container was running as before (LXC: RUNNING)
    assert_eq!(
        state_after, "RUNNING",
        "state after a stop --nokill that gave up"
    );
}

#[test]
fn reboot_restarts_in_place() {
    let Some(env) = TestEnv::new("rboot") else {
        return;
    };
    let n = env.busybox();
    env.start(&n);
    let old = env.init_pid(&n);
    env.hako(&["stop", &n, "-r"]).assert_ok();
    let new = wait_rebooted(&env, &n, old);
    assert!(!pid_alive(old), "old init {old} still alive");
    assert!(pid_alive(new));
    env.hako(&["attach", &n, "--", "true"]).assert_ok();
    // still exactly one container cgroup per hierarchy
    let cgs = payload_cgroups(&n);
    let mut hier: Vec<String> = cgs
        .iter()
        .map(|p| {
            p.strip_prefix("/sys/fs/cgroup")
                .unwrap()
                .components()
                .next()
                .unwrap()
                .as_os_str()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let before = hier.len();
    hier.sort();
    hier.dedup();
    assert_eq!(
        before,
        hier.len(),
        "duplicate cgroups after reboot: {cgs:?}"
    );
}

/// Waits until `n` is RUNNING again with an init other than `old`; returns the new pid.
fn wait_rebooted(env: &TestEnv, n: &str, old: i32) -> i32 {
    let mut new = old;
    let ok = wait_for(Duration::from_secs(20), || {
        let s = env.hako(&["info", n, "-s", "-H"]);
        if s.out() != "RUNNING" {
            return false;
        }
        let p = env.hako(&["info", n, "-p", "-H"]);
        match p.out().parse::<i32>() {
            Ok(p) if p != old => {
                new = p;
                true
            }
            _ => false,
        }
    });
    assert!(
        ok,
        "container {n} did not come back RUNNING with a new init after stop -r"
    );
    new
}

/// The kernel drops a signal sent from outside to a pid namespace's init that neither
/// catches nor blocks it, as every init does for a moment after its exec. A halt or reboot
/// asked for right then must still arrive: here init is a shell that sets up nothing for
/// 0.4 s before it becomes busybox init.
#[test]
fn halt_and_reboot_right_after_start_reach_an_init_still_starting() {
    let Some(env) = TestEnv::new("slowin") else {
        return;
    };
    let log = env.path("console.log");
    let n = env.busybox_with(&format!(
        "lxc.init.cmd = /bin/sh -c \"sleep 0.4; exec /sbin/init\"\nlxc.console.logfile = {}\n",
        log.display()
    ));
    env.start(&n);
    let old = env.init_pid(&n);
    env.hako(&["stop", &n, "-r"]).assert_ok();
    let new = wait_rebooted(&env, &n, old);
    assert!(!pid_alive(old), "old init {old} still alive");
    // the second run's init is starting again: a graceful stop must not end in the kill
    let o = env.hako(&["stop", &n, "-t", "40"]);
    assert_clean_busybox_halt(&env, &n, &o, new, &log);
}

/// An init that takes no reboot signal at all: `stop -r` says so instead of waiting forever,
/// and the container keeps running.
#[test]
fn reboot_of_an_init_without_a_reboot_signal_is_refused() {
    let Some(env) = TestEnv::new("norbt") else {
        return;
    };
    let n = env.busybox_with("lxc.init.cmd = /bin/sleep 1000\n");
    env.start(&n);
    let pid = env.init_pid(&n);
    let o = env.hako(&["stop", &n, "-r"]);
    o.assert_fails_mentioning("cannot be asked to reboot");
    o.assert_stderr_contains("lxc.signal.reboot");
    assert!(o.elapsed < Duration::from_secs(15), "{:?}", o.elapsed);
    assert_eq!(env.state(&n), "RUNNING");
    assert_eq!(env.init_pid(&n), pid);
    env.kill(&n);
    assert_eq!(env.state(&n), "STOPPED");
}

#[test]
fn init_exiting_on_its_own_stops_and_cleans_up() {
    let Some(env) = TestEnv::new("selfex") else {
        return;
    };
    let n = env.busybox();
    env.append_config(&n, "lxc.init.cmd = /bin/sh -c \"sleep 1\"");
    let t0 = Instant::now();
    env.start(&n);
    let w = env.hako(&["wait", &n, "-s", "STOPPED", "-t", "10"]);
    w.assert_ok();
    assert!(t0.elapsed() < Duration::from_secs(8));
    assert_eq!(env.state(&n), "STOPPED");
    env.assert_no_leaks(&n);
    // and it can be started again
    env.start(&n);
    env.hako(&["wait", &n, "-s", "STOPPED", "-t", "10"])
        .assert_ok();
    env.assert_no_leaks(&n);
}

/// The monitor of a running container, found the way a user would: the parent of init.
fn monitor_of(env: &TestEnv, name: &str) -> (i32, i32) {
    let init = env.init_pid(name);
    let mon = ppid_of(init).expect("init's parent");
    assert!(mon > 1, "init {init} has no monitor parent (ppid {mon})");
    (init, mon)
}

fn kill9(pid: i32) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
}

#[test]
fn killed_monitor_then_stop_cleans_up() {
    let Some(env) = TestEnv::new("mon9s") else {
        return;
    };
    let n = env.busybox();
    env.start(&n);
    let (init, mon) = monitor_of(&env, &n);
    kill9(mon);
    assert!(
        wait_for(Duration::from_secs(5), || !pid_alive(init)),
        "init {init} survived its monitor by 5 s"
    );
    assert_eq!(env.state(&n), "STOPPED");
    let o = env.hako(&["stop", &n, "-k"]);
    assert!(
        o.code() == 0 || o.code() == 2,
        "stop after a killed monitor: {o:?}"
    );
    env.assert_no_leaks(&n);
    env.start(&n);
    assert_eq!(env.state(&n), "RUNNING");
}

#[test]
fn killed_monitor_then_start_cleans_up() {
    let Some(env) = TestEnv::new("mon9a") else {
        return;
    };
    let n = env.busybox();
    env.start(&n);
    let (init, mon) = monitor_of(&env, &n);
    kill9(mon);
    // no waiting for the old init: start must cope with whatever is left
    let o = env.hako(&["start", &n]);
    o.assert_ok();
    assert_eq!(env.state(&n), "RUNNING");
    let new = env.init_pid(&n);
    assert_ne!(new, init);
    assert!(
        wait_for(Duration::from_secs(5), || !pid_alive(init)),
        "old init {init} still alive"
    );
    env.hako(&["attach", &n, "--", "true"]).assert_ok();
    env.kill(&n);
    env.assert_no_leaks(&n);
}

#[test]
fn killed_monitor_then_destroy_cleans_up() {
    let Some(env) = TestEnv::new("mon9d") else {
        return;
    };
    let n = env.busybox();
    env.start(&n);
    let (_init, mon) = monitor_of(&env, &n);
    kill9(mon);
    env.hako(&["destroy", &n]).assert_ok();
    assert!(!env.lxcpath.join(&n).exists());
    let mut s = std::collections::BTreeSet::new();
    s.insert(n.clone());
    let leaks = env.settled_leaks_for(&s, true);
    assert!(
        leaks.is_empty(),
        "destroy after a killed monitor left: {leaks:?}"
    );
}

#[test]
fn killed_init_moves_the_container_to_stopped() {
    let Some(env) = TestEnv::new("init9") else {
        return;
    };
    let n = env.busybox();
    env.start(&n);
    let init = env.init_pid(&n);
    kill9(init);
    env.hako(&["wait", &n, "-s", "STOPPED", "-t", "10"])
        .assert_ok();
    env.assert_no_leaks(&n);
}
