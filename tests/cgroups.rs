//! Issue 2, point 5: cgroups — the container's cgroup, live reads and writes, config keys
//! applied at start, lxc.cgroup.dir, device allowlist, stats, cleanup.

mod common;

use common::*;
use std::fs;
use std::path::Path;

fn v1_available(ctrl: &str) -> bool {
    Path::new("/sys/fs/cgroup")
        .join(ctrl)
        .join("cgroup.procs")
        .exists()
}

#[test]
fn devices_list_has_the_allowlist() {
    let Some(env) = TestEnv::new("devls") else {
        return;
    };
    let n = env.busybox();
    env.start(&n);
    let o = env.hako(&["cgroup", &n, "devices.list"]);
    o.assert_ok();
    let lines: Vec<&str> = o.stdout.lines().map(str::trim).collect();
    for rule in [
        "c 1:3 rwm",   // null
        "c 1:5 rwm",   // zero
        "c 1:7 rwm",   // full
        "c 1:8 rwm",   // random
        "c 1:9 rwm",   // urandom
        "c 5:0 rwm",   // tty
        "c 5:1 rwm",   // console
        "c 5:2 rwm",   // ptmx
        "c 136:* rwm", // pts
    ] {
        assert!(
            lines.contains(&rule),
            "devices.list lacks {rule:?}:\n{}",
            o.stdout
        );
    }
    assert!(
        !lines.contains(&"a *:* rwm"),
        "device cgroup allows everything:\n{}",
        o.stdout
    );
}

#[test]
fn a_device_not_allowed_is_denied_inside() {
    let Some(env) = TestEnv::new("devdn") else {
        return;
    };
    // mknod: a privileged container (a user namespace refuses every mknod itself)
    let n = env.busybox_privileged();
    env.start(&n);
    // a block device node (loop0) can be made but not opened
    let o = env.sh(&n, "mknod /tmp/lp0 b 7 0 && head -c 1 /tmp/lp0");
    assert_ne!(o.code(), 0, "reading a loop device was allowed: {o:?}");
    assert!(
        o.stderr.contains("Operation not permitted"),
        "expected EPERM from the device cgroup: {o:?}"
    );
    // /dev/mem (c 1:1) likewise
    let o = env.sh(&n, "mknod /tmp/mem c 1 1 && head -c 1 /tmp/mem");
    assert_ne!(o.code(), 0, "reading /dev/mem was allowed: {o:?}");
    assert!(o.stderr.contains("Operation not permitted"), "{o:?}");
    // an allowed one through a fresh node works
    env.sh(&n, "mknod /tmp/nul c 1 3 && echo x > /tmp/nul")
        .assert_ok();
}

#[test]
fn live_memory_and_pids_limits() {
    let Some(env) = TestEnv::new("live") else {
        return;
    };
    let n = env.busybox();
    env.start(&n);
    // memory
    env.hako(&["cgroup", &n, "memory.limit_in_bytes", "67108864"])
        .assert_ok();
    let r = env.hako(&["cgroup", &n, "memory.limit_in_bytes"]);
    r.assert_ok();
    assert_eq!(r.out(), "67108864");
    if v1_available("memory") {
        let dir = v1_payload_cgroup("memory", &n)
            .unwrap_or_else(|| panic!("no memory cgroup hako.payload.{n}"));
        assert_eq!(
            fs::read_to_string(dir.join("memory.limit_in_bytes"))
                .unwrap()
                .trim(),
            "67108864"
        );
        // the container's init is one level below, in the inner cgroup that is the root
        // of its cgroup namespace: the limit above is out of its reach
        let pid = env.init_pid(&n).to_string();
        let procs = fs::read_to_string(dir.join("ns").join("cgroup.procs")).unwrap();
        assert!(
            procs.lines().any(|l| l == pid),
            "init {pid} not in {}/ns",
            dir.display()
        );
        assert_eq!(
            fs::read_to_string(dir.join("cgroup.procs")).unwrap(),
            "",
            "processes in the outer cgroup {}",
            dir.display()
        );
    }
    // suffixes as LXC accepts them
    env.hako(&["cgroup", &n, "memory.limit_in_bytes", "128M"])
        .assert_ok();
    assert_eq!(
        env.hako(&["cgroup", &n, "memory.limit_in_bytes"]).out(),
        "134217728"
    );
    // pids
    env.hako(&["cgroup", &n, "pids.max", "50"]).assert_ok();
    assert_eq!(env.hako(&["cgroup", &n, "pids.max"]).out(), "50");
    if v1_available("pids") {
        let dir = v1_payload_cgroup("pids", &n).expect("pids cgroup");
        assert_eq!(
            fs::read_to_string(dir.join("pids.max")).unwrap().trim(),
            "50"
        );
    }
    // the limit bites: with pids.max = 12, 16 more background sleeps cannot all fork
    env.hako(&["cgroup", &n, "pids.max", "12"]).assert_ok();
    let o = env.sh(
        &n,
        "for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16; do sleep 1 & done 2>&1; wait",
    );
    assert!(
        o.stdout.contains("fork") || o.stderr.contains("fork") || o.code() != 0,
        "pids.max = 12 did not stop 16 background sleeps: {o:?}"
    );
    env.hako(&["cgroup", &n, "pids.max", "max"]).assert_ok();
    // a bad key or value is an error
    env.hako(&["cgroup", &n, "no.such.file"])
        .assert_fails_mentioning("no.such.file");
    env.hako(&["cgroup", &n, "pids.max", "lots"])
        .assert_fails_mentioning("pids.max");
}

#[test]
fn config_limits_applied_at_start() {
    let Some(env) = TestEnv::new("cfglim") else {
        return;
    };
    let n = env.busybox_with("lxc.cgroup.pids.max = 33\nlxc.cgroup.memory.limit_in_bytes = 100M\n");
    env.start(&n);
    assert_eq!(env.hako(&["cgroup", &n, "pids.max"]).out(), "33");
    assert_eq!(
        env.hako(&["cgroup", &n, "memory.limit_in_bytes"]).out(),
        "104857600"
    );
    if v1_available("pids") {
        let dir = v1_payload_cgroup("pids", &n).expect("pids cgroup");
        assert_eq!(
            fs::read_to_string(dir.join("pids.max")).unwrap().trim(),
            "33"
        );
    }
    // a config key naming a file that does not exist fails the start, clearly
    let m = env.busybox_with("lxc.cgroup.pids.nonexistent = 1\n");
    let o = env.hako(&["start", &m]);
    o.assert_fails_mentioning("pids.nonexistent");
    env.assert_no_leaks(&m);
}

#[test]
fn cgroup_dir_puts_the_container_there() {
    let Some(env) = TestEnv::new("cgdir") else {
        return;
    };
    let parent = env.token("hkt");
    env.track_cgroup_dir(&parent);
    let n = env.name();
    let f = env.write("cgdir.conf", &format!("lxc.cgroup.dir = {parent}/{n}\n"));
    env.hako(&["create", &n, "-t", "busybox", "-f", f.to_str().unwrap()])
        .assert_ok();
    env.start(&n);
    let pid = env.init_pid(&n).to_string();
    let cg = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert!(
        cg.contains(&format!("/{parent}/{n}")),
        "init not in {parent}/{n}:\n{cg}"
    );
    if v1_available("pids") {
        let procs = fs::read_to_string(format!("/sys/fs/cgroup/pids/{parent}/{n}/ns/cgroup.procs"))
            .unwrap();
        assert!(procs.lines().any(|l| l == pid));
    }
    assert!(
        payload_cgroups(&n).is_empty(),
        "hako.payload.{n} made although lxc.cgroup.dir is set"
    );
    // live access works there too
    env.hako(&["cgroup", &n, "pids.max", "77"]).assert_ok();
    assert_eq!(env.hako(&["cgroup", &n, "pids.max"]).out(), "77");
    env.kill(&n);
    // everything, including the parent it made, is gone
    let mut names = std::collections::BTreeSet::new();
    names.insert(parent.clone());
    let left = find_cgroups(&names, &names);
    assert!(left.is_empty(), "cgroups left after stop: {left:?}");
}

#[test]
fn info_shows_resource_use() {
    let Some(env) = TestEnv::new("stats") else {
        return;
    };
    let n = env.busybox();
    env.start(&n);
    env.sh(&n, "i=0; while [ $i -lt 2000 ]; do i=$((i+1)); done")
        .assert_ok();
    let o = env.hako(&["info", &n]);
    o.assert_ok();
    for field in ["CPU use:", "Memory use:", "BlkIO use:"] {
        assert!(
            o.stdout.lines().any(|l| l.starts_with(field)),
            "info lacks {field}:\n{}",
            o.stdout
        );
    }
    let h = env.hako(&["info", &n, "-H"]);
    h.assert_ok();
    let num = |field: &str| -> u64 {
        let l = h
            .stdout
            .lines()
            .find(|l| l.starts_with(field))
            .unwrap_or_else(|| panic!("no {field} in info -H:\n{}", h.stdout));
        l[field.len()..]
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{field} not a raw number with -H: {l:?}"))
    };
    assert!(num("Memory use:") > 0, "memory use 0");
    assert!(num("CPU use:") > 0, "cpu use 0");
    let _ = num("BlkIO use:");
}

#[test]
fn freeze_and_thaw_through_the_freezer() {
    let Some(env) = TestEnv::new("frz") else {
        return;
    };
    let n = env.busybox();
    env.start(&n);
    env.hako(&["freeze", &n]).assert_ok();
    assert_eq!(env.state(&n), "FROZEN");
    if v1_available("freezer") {
        let dir = v1_payload_cgroup("freezer", &n).expect("freezer cgroup");
        assert_eq!(
            fs::read_to_string(dir.join("freezer.state"))
                .unwrap()
                .trim(),
            "FROZEN"
        );
    }
    // wait sees FROZEN, and RUNNING|FROZEN
    env.hako(&["wait", &n, "-s", "FROZEN", "-t", "2"])
        .assert_ok();
    env.hako(&["unfreeze", &n]).assert_ok();
    assert_eq!(env.state(&n), "RUNNING");
    env.hako(&["attach", &n, "--", "true"]).assert_ok();
    env.hako(&["freeze", &n]).assert_ok();
    env.kill(&n); // stop -k of a frozen container works
    assert_eq!(env.state(&n), "STOPPED");
    env.assert_no_leaks(&n);
}

#[test]
fn nothing_left_after_stop() {
    let Some(env) = TestEnv::new("cgend") else {
        return;
    };
    let n = env.busybox_with("lxc.cgroup.pids.max = 40\n");
    env.start(&n);
    assert!(
        !payload_cgroups(&n).is_empty(),
        "no hako.payload.{n} cgroup while running"
    );
    env.kill(&n);
    let left = payload_cgroups(&n);
    assert!(left.is_empty(), "cgroups left after stop -k: {left:?}");
    env.assert_no_leaks(&n);
}
