//! Issue 4, point 8: `hako autostart` / `lxc-autostart`: lxc.start.auto, lxc.start.order,
//! lxc.start.delay and lxc.group; -L, -g, -a, -A; start, shutdown (-s), kill (-k),
//! reboot (-r).

mod common;

use common::*;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

/// The start time of a process, in clock ticks since boot (/proc/PID/stat field 22).
fn start_ticks(pid: i32) -> u64 {
    stat_field(pid, 22).expect("start time in /proc/PID/stat")
}

fn ticks_per_second() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as u64
    } else {
        100
    }
}

/// The test's containers: A (order 3), B (order 1, delay 1 s), C (order 2, group web),
/// D (lxc.start.auto = 0).
struct Four {
    a: String,
    b: String,
    c: String,
    d: String,
}

fn make_four(env: &TestEnv) -> Four {
    let a = env.busybox_with("lxc.start.auto = 1\nlxc.start.order = 3\n");
    let b = env.busybox_with("lxc.start.auto = 1\nlxc.start.order = 1\nlxc.start.delay = 1\n");
    let c = env.busybox_with("lxc.start.auto = 1\nlxc.start.order = 2\nlxc.group = web\n");
    let d = env.busybox_with("lxc.start.auto = 0\nlxc.start.order = 0\n");
    Four { a, b, c, d }
}

fn lines(v: &[String]) -> String {
    v.iter().map(|l| format!("{l}\n")).collect()
}

/// `lxc-autostart` of LXC itself, when installed: its -L output for the same lxcpath.
fn real_lxc_list(lxcpath: &Path, args: &[&str]) -> Option<String> {
    if !Path::new("/usr/bin/lxc-autostart").exists() {
        return None;
    }
    let o = Run::new("/usr/bin/lxc-autostart")
        .args(["-P".as_ref(), lxcpath.as_os_str()])
        .args(args)
        .run();
    o.assert_ok();
    Some(o.stdout)
}

#[test]
fn list_selects_groups_in_order_with_delays() {
    let Some(env) = TestEnv::new("aslist") else {
        return;
    };
    let Four { a, b, c, d } = make_four(&env);
    let cases: Vec<(Vec<&str>, String)> = vec![
        (vec!["-L"], lines(&[format!("{b} 1"), format!("{a} 0")])),
        (vec!["-L", "-g", "web"], lines(&[format!("{c} 0")])),
        (
            vec!["-L", "-a"],
            lines(&[format!("{b} 1"), format!("{c} 0"), format!("{a} 0")]),
        ),
        (
            vec!["-L", "-A", "-a"],
            lines(&[
                format!("{d} 0"),
                format!("{b} 1"),
                format!("{c} 0"),
                format!("{a} 0"),
            ]),
        ),
        (
            vec!["-L", "-g", "web,"],
            lines(&[format!("{c} 0"), format!("{b} 1"), format!("{a} 0")]),
        ),
        (
            vec!["-L", "-g", "", "-g", "web"],
            lines(&[format!("{b} 1"), format!("{a} 0"), format!("{c} 0")]),
        ),
        (
            vec!["-L", "-A"],
            lines(&[format!("{d} 0"), format!("{b} 1"), format!("{a} 0")]),
        ),
        // nothing runs: nothing to shut down, kill or reboot
        (vec!["-L", "-s", "-a"], String::new()),
        (vec!["-L", "-k", "-a"], String::new()),
        (vec!["-L", "-r", "-a"], String::new()),
    ];
    for (args, want) in &cases {
        let mut v = vec!["autostart"];
        v.extend_from_slice(args);
        let o = env.hako(&v);
        o.assert_ok();
        assert_eq!(&o.stdout, want, "hako {v:?}");
        let mut l = vec!["-P", env.lxcpath.to_str().unwrap()];
        l.extend_from_slice(args);
        let o = env.lxc("lxc-autostart", &l);
        o.assert_ok();
        assert_eq!(&o.stdout, want, "lxc-autostart {l:?}");
    }
    // LXC's own lxc-autostart reads the same configs to the same list (its NULL-group
    // parsing of "-g ,x" differs, so only the plain selections are compared)
    for args in [
        &["-L"][..],
        &["-L", "-g", "web"],
        &["-L", "-a"],
        &["-L", "-A", "-a"],
        &["-L", "-g", "web,"],
    ] {
        if let Some(real) = real_lxc_list(&env.lxcpath, args) {
            let mut v = vec!["autostart"];
            v.extend_from_slice(args);
            assert_eq!(
                env.hako(&v).stdout,
                real,
                "hako and LXC differ for {args:?}"
            );
        }
    }
    // -L needs no root: nothing ran
    for n in [&a, &b, &c, &d] {
        assert_eq!(env.state(n), "STOPPED");
    }
    // usage errors
    env.hako(&["autostart", "-s", "-k"])
        .assert_fails_with(2, "at most one of -s");
    env.lxc("lxc-autostart", &["-r", "-s"])
        .assert_fails_with(1, "at most one of -s");
    env.lxc("lxc-autostart", &["-n", &a])
        .assert_fails_with(1, "drop -n");
}

#[test]
fn start_shutdown_kill_reboot_in_order() {
    let Some(env) = TestEnv::new("asrun") else {
        return;
    };
    let Four { a, b, c, d } = make_four(&env);

    // start: the NULL group, B then (1 s later) A
    let o = env.hako(&["autostart"]);
    o.assert_ok();
    assert_eq!(o.stdout, "", "autostart printed something");
    assert_eq!(env.state(&a), "RUNNING");
    assert_eq!(env.state(&b), "RUNNING");
    assert_eq!(env.state(&c), "STOPPED", "the web group was started");
    assert_eq!(
        env.state(&d),
        "STOPPED",
        "an auto = 0 container was started"
    );
    let (pa, pb) = (env.init_pid(&a), env.init_pid(&b));
    let (ta, tb) = (start_ticks(pa), start_ticks(pb));
    let hz = ticks_per_second();
    assert!(
        ta >= tb + hz * 9 / 10,
        "A (order 3) must start at least B's delay of 1 s after B (order 1): B at {tb}, A at {ta} ticks ({hz}/s)"
    );
    // nothing left to start in the NULL group: -L is empty, running ones are left alone
    assert_eq!(env.hako(&["autostart", "-L"]).stdout, "");
    assert_eq!(
        env.hako(&["autostart", "-L", "-s"]).stdout,
        lines(&[a.clone(), b.clone()]),
        "shutdown lists in reverse order"
    );
    env.hako(&["autostart", "-a"]).assert_ok();
    assert_eq!(env.init_pid(&a), pa, "a running container was restarted");
    assert_eq!(env.init_pid(&b), pb, "a running container was restarted");
    assert_eq!(env.state(&c), "RUNNING");
    assert_eq!(env.state(&d), "STOPPED");
    let pc = env.init_pid(&c);
    assert!(start_ticks(pc) > tb);
    for n in [&a, &b, &c] {
        env.wait_booted(n);
    }

    // reboot: every running auto container gets a new init
    assert_eq!(
        env.hako(&["autostart", "-L", "-r", "-a"]).stdout,
        lines(&[format!("{b} 1"), format!("{c} 0"), format!("{a} 0")])
    );
    env.run(&["autostart", "-r", "-a", "-t", "20"])
        .timeout(Duration::from_secs(120))
        .run()
        .assert_ok();
    for (n, old) in [(&a, pa), (&b, pb), (&c, pc)] {
        let rebooted = wait_for(Duration::from_secs(20), || {
            let o = env.hako(&["info", n, "-p", "-H"]);
            o.code() == 0
                && o.out()
                    .parse::<i32>()
                    .is_ok_and(|p| p != old && pid_alive(p))
        });
        assert!(
            rebooted,
            "container {n} did not reboot (init pid still {old})"
        );
        assert_eq!(env.state(n), "RUNNING");
    }
    assert_eq!(env.state(&d), "STOPPED");
    for n in [&a, &b, &c] {
        env.wait_booted(n);
    }

    // shutdown: reverse order A, C, B; watch the inits go away
    let order = [a.clone(), c.clone(), b.clone()];
    let pids: Vec<(String, i32)> = order.iter().map(|n| (n.clone(), env.init_pid(n))).collect();
    let t0 = Instant::now();
    let sweeps = exit_sweeps(&pids, || {
        env.run(&["autostart", "-s", "-a", "-t", "20"])
            .timeout(Duration::from_secs(120))
            .run()
            .assert_ok();
    });
    // busybox takes a while to halt, so each exit is seen in a later sweep
    assert!(
        sweeps[0] < sweeps[1] && sweeps[1] < sweeps[2],
        "shutdown order: exits seen in sweeps {sweeps:?} for {order:?} (want increasing) after {:?}",
        t0.elapsed()
    );
    for n in [&a, &b, &c, &d] {
        assert_eq!(env.state(n), "STOPPED");
        env.assert_no_leaks(n);
    }

    // kill: also in reverse order, at once (too fast to tell the exits apart reliably:
    // only "never out of order" is checked)
    env.hako(&["autostart", "-a"]).assert_ok();
    let pids: Vec<(String, i32)> = order.iter().map(|n| (n.clone(), env.init_pid(n))).collect();
    let t0 = Instant::now();
    let sweeps = exit_sweeps(&pids, || {
        env.lxc(
            "lxc-autostart",
            &["-P", env.lxcpath.to_str().unwrap(), "-k", "-a"],
        )
        .assert_ok();
    });
    assert!(
        t0.elapsed() < Duration::from_secs(10),
        "kill took {:?}",
        t0.elapsed()
    );
    assert!(
        sweeps[0] <= sweeps[1] && sweeps[1] <= sweeps[2],
        "kill order: exits seen in sweeps {sweeps:?} for {order:?}"
    );
    for n in [&a, &b, &c] {
        assert_eq!(env.state(n), "STOPPED");
    }
    assert_eq!(env.hako(&["autostart", "-L", "-k", "-a"]).stdout, "");
}

/// Runs `f` while a thread polls the pids (given in their expected order of exit) in
/// sweeps; returns, for each, the number of the first sweep that saw it gone. Each sweep
/// checks the pids from the last expected to the first, so two that exit in the expected
/// order between checks are seen in the same sweep, never in reversed sweeps.
fn exit_sweeps(pids: &[(String, i32)], f: impl FnOnce()) -> Vec<u64> {
    let seen: Mutex<Vec<Option<u64>>> = Mutex::new(vec![None; pids.len()]);
    let done = AtomicBool::new(false);
    thread::scope(|s| {
        s.spawn(|| {
            let mut sweep = 0u64;
            loop {
                sweep += 1;
                {
                    let mut g = seen.lock().unwrap();
                    for (i, (_, p)) in pids.iter().enumerate().rev() {
                        if g[i].is_none() && !pid_alive(*p) {
                            g[i] = Some(sweep);
                        }
                    }
                    if g.iter().all(Option::is_some) {
                        break;
                    }
                }
                if done.load(Ordering::SeqCst) {
                    break;
                }
                thread::sleep(Duration::from_millis(2));
            }
        });
        f();
        // let the watcher see the last exit
        thread::sleep(Duration::from_millis(50));
        done.store(true, Ordering::SeqCst);
    });
    let g = seen.into_inner().unwrap();
    pids.iter()
        .zip(g)
        .map(|((n, p), s)| s.unwrap_or_else(|| panic!("container {n} (init {p}) is still running")))
        .collect()
}

#[test]
fn failures_are_listed_and_exit_1() {
    let Some(env) = TestEnv::new("asfail") else {
        return;
    };
    let good = env.busybox_with("lxc.start.auto = 1\nlxc.start.order = 2\nlxc.group = g1\n");
    let bad = env.busybox_with("lxc.start.auto = 1\nlxc.start.order = 1\nlxc.group = g1\n");
    env.append_config(&bad, "lxc.init.cmd = /nonexistent/init");
    let o = env.hako(&["autostart", "-g", "g1"]);
    o.assert_fails_with(1, &bad);
    assert!(o.stderr.contains("/nonexistent/init"), "{}", o.stderr);
    assert!(!o.stderr.contains(&good), "{}", o.stderr);
    // the others still ran
    assert_eq!(env.state(&good), "RUNNING");
    assert_eq!(env.state(&bad), "STOPPED");
    // lxc face: the same
    env.lxc(
        "lxc-autostart",
        &["-P", env.lxcpath.to_str().unwrap(), "-g", "g1"],
    )
    .assert_fails_with(1, &bad);
    // nothing to do is success
    env.hako(&["autostart", "-g", "nosuchgroup"]).assert_ok();
    // a config that cannot be read is reported, not skipped silently
    let broken = env.busybox();
    env.append_config(&broken, "lxc.no.such.key = 1");
    let o = env.hako(&["autostart", "-L", "-a"]);
    o.assert_code(1);
    assert!(o.stderr.contains(&broken), "{}", o.stderr);
    assert_eq!(o.stdout, format!("{bad} 0\n"));
    env.kill(&good);
}
