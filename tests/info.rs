//! Issue 2, point 8: info, ls and wait.

mod common;

use common::*;
use std::time::{Duration, Instant};

#[test]
fn info_fields_and_filters() {
    let Some(env) = TestEnv::new("info") else {
        return;
    };
    let n = env.busybox();
    // stopped
    let o = env.hako(&["info", &n]);
    o.assert_ok();
    assert!(
        o.stdout
            .lines()
            .any(|l| l == format!("Name:           {n}")),
        "{}",
        o.stdout
    );
    assert!(
        o.stdout.lines().any(|l| l == "State:          STOPPED"),
        "{}",
        o.stdout
    );
    assert!(
        !o.stdout.contains("PID:"),
        "a stopped container has no PID line:\n{}",
        o.stdout
    );

    env.start(&n);
    let pid = env.init_pid(&n);
    let o = env.hako(&["info", &n]);
    o.assert_ok();
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(
        lines[0],
        format!("Name:           {n}"),
        "first line of info:\n{}",
        o.stdout
    );
    assert!(lines.contains(&"State:          RUNNING"));
    assert!(
        lines.contains(&format!("PID:            {pid}").as_str()),
        "{}",
        o.stdout
    );
    for f in ["CPU use:", "Memory use:", "BlkIO use:"] {
        let l = lines
            .iter()
            .find(|l| l.starts_with(f))
            .unwrap_or_else(|| panic!("no {f}"));
        // LXC's layout: the label padded to 16 columns
        assert_eq!(
            l.find(|c: char| c.is_ascii_digit()),
            Some(16),
            "column of {l:?}"
        );
    }
    // -s, -p
    assert_eq!(
        env.hako(&["info", &n, "-s"]).stdout,
        "State:          RUNNING\n"
    );
    assert_eq!(
        env.hako(&["info", &n, "-p"]).stdout,
        format!("PID:            {pid}\n")
    );
    let sp = env.hako(&["info", &n, "-s", "-p"]);
    assert_eq!(
        sp.stdout,
        format!("State:          RUNNING\nPID:            {pid}\n")
    );
    // -H: raw values; a lone value without its label
    assert_eq!(env.hako(&["info", &n, "-s", "-H"]).stdout, "RUNNING\n");
    assert_eq!(
        env.hako(&["info", &n, "-p", "-H"]).stdout,
        format!("{pid}\n")
    );
    let h = env.hako(&["info", &n, "-H"]);
    let mem = h
        .stdout
        .lines()
        .find(|l| l.starts_with("Memory use:"))
        .unwrap_or_else(|| panic!("no Memory use in -H:\n{}", h.stdout));
    let v = mem["Memory use:".len()..].trim();
    assert!(
        v.parse::<u64>().is_ok(),
        "-H memory not a raw number: {v:?}"
    );
    // -S stats only? at least it succeeds and shows memory
    let s = env.hako(&["info", &n, "-S"]);
    s.assert_ok().assert_stdout_contains("Memory use:");
    // --format json
    let j = env.hako(&["info", &n, "--format", "json"]);
    j.assert_ok();
    let v: serde_json::Value = serde_json::from_str(&j.stdout)
        .unwrap_or_else(|e| panic!("info --format json is not JSON ({e}):\n{}", j.stdout));
    assert_eq!(v["name"], n.as_str());
    assert_eq!(v["state"], "RUNNING");
    assert_eq!(v["pid"].as_i64(), Some(pid as i64));
    // frozen
    env.hako(&["freeze", &n]).assert_ok();
    assert_eq!(
        env.hako(&["info", &n, "-s"]).stdout,
        "State:          FROZEN\n"
    );
    let j: serde_json::Value =
        serde_json::from_str(&env.hako(&["info", &n, "--format", "json"]).stdout).unwrap();
    assert_eq!(j["state"], "FROZEN");
    env.hako(&["unfreeze", &n]).assert_ok();
    // stopped json
    env.kill(&n);
    let j: serde_json::Value =
        serde_json::from_str(&env.hako(&["info", &n, "--format", "json"]).stdout).unwrap();
    assert_eq!(j["state"], "STOPPED");
    assert!(
        j["pid"].is_null(),
        "pid of a stopped container: {}",
        j["pid"]
    );
}

#[test]
fn ls_plain_fancy_filters_and_json() {
    let Some(env) = TestEnv::new("ls") else {
        return;
    };
    // empty lxcpath
    let o = env.hako(&["ls"]);
    o.assert_ok();
    assert!(o.stdout.trim().is_empty());
    let run = env.busybox();
    let stop = env.busybox();
    let frz = env.busybox();
    env.start(&run);
    env.start(&frz);
    env.hako(&["freeze", &frz]).assert_ok();

    let mut all = vec![run.clone(), stop.clone(), frz.clone()];
    all.sort();
    let names = |args: &[&str]| {
        let mut a = vec!["ls"];
        a.extend_from_slice(args);
        let o = env.hako(&a);
        o.assert_ok();
        let mut w = words(&o.stdout);
        w.sort();
        w
    };
    assert_eq!(names(&[]), all);
    assert_eq!(names(&["-1"]), all);
    // LXC's --running means "not stopped" (is_running), so a frozen container is listed
    let mut active = vec![run.clone(), frz.clone()];
    active.sort();
    assert_eq!(names(&["--running"]), active);
    assert_eq!(names(&["--stopped"]), vec![stop.clone()]);
    assert_eq!(names(&["--frozen"]), vec![frz.clone()]);
    assert_eq!(names(&["--active"]), active);

    // fancy
    let f = env.hako(&["ls", "-f"]);
    f.assert_ok();
    let mut lines = f.stdout.lines();
    let header = lines.next().unwrap_or_default();
    assert_eq!(
        words(header),
        words("NAME STATE AUTOSTART GROUPS IPV4 IPV6 UNPRIVILEGED"),
        "ls -f header"
    );
    let rows: Vec<Vec<String>> = lines.map(words).filter(|w| !w.is_empty()).collect();
    assert_eq!(rows.len(), 3, "{}", f.stdout);
    let row = |n: &str| {
        rows.iter()
            .find(|r| r[0] == n)
            .unwrap_or_else(|| panic!("no row {n}"))
    };
    assert_eq!(row(&run)[1], "RUNNING");
    assert_eq!(row(&stop)[1], "STOPPED");
    assert_eq!(row(&frz)[1], "FROZEN");
    // columns line up: STATE starts at the same column on every line
    let col = header.find("STATE").unwrap();
    for l in f.stdout.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        assert!(
            l[col..].starts_with("RUNNING")
                || l[col..].starts_with("STOPPED")
                || l[col..].starts_with("FROZEN"),
            "misaligned row {l:?}"
        );
    }
    let fr = env.hako(&["ls", "-f", "--stopped"]);
    assert_eq!(
        fr.stdout.lines().filter(|l| !l.trim().is_empty()).count(),
        2,
        "{}",
        fr.stdout
    );

    // json
    let j = env.hako(&["ls", "--format", "json"]);
    j.assert_ok();
    let v: serde_json::Value = serde_json::from_str(&j.stdout)
        .unwrap_or_else(|e| panic!("ls --format json is not JSON ({e}):\n{}", j.stdout));
    let arr = v.as_array().expect("a JSON array");
    assert_eq!(arr.len(), 3);
    for c in arr {
        let name = c["name"].as_str().unwrap();
        let want = if name == run {
            "RUNNING"
        } else if name == stop {
            "STOPPED"
        } else {
            "FROZEN"
        };
        assert_eq!(c["state"], want, "{c}");
    }
    env.hako(&["unfreeze", &frz]).assert_ok();
}

#[test]
fn wait_blocks_until_running() {
    let Some(env) = TestEnv::new("waitr") else {
        return;
    };
    let n = env.busybox();
    std::thread::scope(|s| {
        let waiter = s.spawn(|| {
            let o = env.hako(&["wait", &n, "-s", "RUNNING", "-t", "10"]);
            (o, Instant::now())
        });
        std::thread::sleep(Duration::from_millis(500));
        env.start(&n);
        let started = Instant::now();
        let (o, done) = waiter.join().unwrap();
        o.assert_ok();
        assert!(
            done.saturating_duration_since(started) < Duration::from_secs(2),
            "wait returned {:?} after start",
            done.saturating_duration_since(started)
        );
        assert!(
            o.elapsed >= Duration::from_millis(400),
            "wait returned before start: {o:?}"
        );
    });
    // already in the state: at once
    let o = env.hako(&["wait", &n, "-s", "RUNNING", "-t", "5"]);
    o.assert_ok();
    assert!(o.elapsed < Duration::from_secs(1));
    // RUNNING|FROZEN
    env.hako(&["wait", &n, "-s", "RUNNING|FROZEN", "-t", "2"])
        .assert_ok();
    env.hako(&["freeze", &n]).assert_ok();
    env.hako(&["wait", &n, "-s", "RUNNING|FROZEN", "-t", "2"])
        .assert_ok();
    env.hako(&["wait", &n, "-s", "FROZEN", "-t", "2"])
        .assert_ok();
    env.hako(&["unfreeze", &n]).assert_ok();
    // timeout: exit 1 after about the timeout
    let o = env.hako(&["wait", &n, "-s", "STOPPED", "-t", "1"]);
    o.assert_code(1);
    assert!(
        o.elapsed >= Duration::from_millis(900) && o.elapsed < Duration::from_secs(4),
        "{o:?}"
    );
}

#[test]
fn wait_sees_stop() {
    let Some(env) = TestEnv::new("waits") else {
        return;
    };
    let n = env.busybox();
    env.start(&n);
    std::thread::scope(|s| {
        let waiter = s.spawn(|| env.hako(&["wait", &n, "-s", "STOPPED", "-t", "10"]));
        std::thread::sleep(Duration::from_millis(500));
        env.kill(&n);
        let o = waiter.join().unwrap();
        o.assert_ok();
        assert!(o.elapsed < Duration::from_secs(5), "{o:?}");
    });
    env.hako(&["wait", &n, "-s", "STOPPED", "-t", "1"])
        .assert_ok();
    // a bad state name is an error
    env.hako(&["wait", &n, "-s", "SLEEPY", "-t", "1"])
        .assert_fails_mentioning("SLEEPY");
}
