//! 50 start / stop -k cycles of one container leave nothing behind.

mod common;

use common::*;
use std::fs;
use std::time::Instant;

fn our_mounts(env: &TestEnv) -> usize {
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.contains(env.dir.to_str().unwrap()))
        .count()
}

#[test]
fn fifty_start_stop_cycles_leave_nothing() {
    let Some(env) = TestEnv::new("cycle") else {
        return;
    };
    let n = env.busybox();
    let mounts_before = our_mounts(&env);
    let t0 = Instant::now();
    for i in 0..50 {
        let s = env.hako(&["start", &n]);
        assert_eq!(s.code(), 0, "cycle {i}: start failed: {s:?}");
        let k = env.hako(&["stop", &n, "-k"]);
        assert_eq!(k.code(), 0, "cycle {i}: stop -k failed: {k:?}");
        if i % 10 == 9 {
            let left = payload_cgroups(&n);
            assert!(left.is_empty(), "cycle {i}: cgroups left: {left:?}");
        }
    }
    eprintln!("50 start/stop -k cycles took {:?}", t0.elapsed());
    // (No fd count of this test process: hako runs in child processes, which cannot leak
    // into it, and the harness's own reader threads made that count flap. A hako process
    // left holding fds is caught by the leak check's "no process left"; the system-wide
    // open-file count over 200 cycles is checked by bench/run.sh.)
    assert_eq!(our_mounts(&env), mounts_before, "mounts changed");
    env.assert_no_leaks(&n);
    // /run/hako holds nothing for it while stopped
    let runtime: Vec<_> = fs::read_dir("/run/hako")
        .map(|d| {
            d.flatten()
                .filter(|e| e.file_name() != "lock")
                .filter(|e| e.path().join(&n).exists())
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default();
    assert!(runtime.is_empty(), "runtime dirs left: {runtime:?}");
    // and it still works
    env.start(&n);
    env.hako(&["attach", &n, "--", "true"]).assert_ok();
}
