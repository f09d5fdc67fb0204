//! Issue 2, point 9: bad input gets one clear line, a non-zero exit code, and leaves nothing.

mod common;

use common::*;
use std::fs;
use std::os::unix::fs::PermissionsExt;

fn lxcpath_entries(env: &TestEnv) -> Vec<String> {
    fs::read_dir(&env.lxcpath)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn invalid_names_are_refused() {
    let Some(env) = TestEnv::new("badnm") else {
        return;
    };
    let long = "a".repeat(65);
    for bad in ["", "a/b", "..", ".", long.as_str(), "-x"] {
        // --name=VALUE so the argument parser hands the value through as it is
        let arg = format!("--name={bad}");
        let o = env.hako(&["create", &arg, "-t", "busybox"]);
        assert_eq!(o.code(), 1, "create of name {bad:?}: {o:?}");
        assert!(
            o.stderr.contains("name"),
            "the error for {bad:?} does not talk about the name: {o:?}"
        );
        assert!(
            o.stderr.trim().lines().count() <= 2,
            "more than a clear line for {bad:?}: {o:?}"
        );
        assert!(
            lxcpath_entries(&env).is_empty(),
            "create of {bad:?} made {:?}",
            lxcpath_entries(&env)
        );
    }
    // positional, as users type them
    for bad in ["a/b", "..", long.as_str()] {
        let o = env.hako(&["create", bad, "-t", "busybox"]);
        o.assert_fails_with(1, "name");
        assert!(lxcpath_entries(&env).is_empty());
        // other verbs too
        env.hako(&["start", bad]).assert_fails_with(1, "name");
        env.hako(&["info", bad]).assert_fails_with(1, "name");
        env.hako(&["destroy", bad]).assert_fails_with(1, "name");
    }
    // 64 characters is fine
    let ok64 = format!("{}{}", env.token("n"), "b".repeat(64))
        .chars()
        .take(64)
        .collect::<String>();
    env.track_name(&ok64);
    env.hako(&["create", &ok64, "-t", "none"]).assert_ok();
    // the lxc face
    let p = env.lxcpath.to_str().unwrap().to_string();
    let o = env.lxc("lxc-create", &["-n", "a/b", "-P", &p, "-t", "busybox"]);
    o.assert_fails_mentioning("a/b");
    let o = env.lxc("lxc-create", &["-n", "-x", "-P", &p, "-t", "busybox"]);
    assert_ne!(o.code(), 0, "lxc-create -n -x: {o:?}");
    assert_eq!(lxcpath_entries(&env), vec![ok64.clone()]);
}

#[test]
fn unknown_container_for_each_verb() {
    let Some(env) = TestEnv::new("unk") else {
        return;
    };
    let g = env.name();
    let cases: Vec<Vec<&str>> = vec![
        vec!["start", &g],
        vec!["stop", &g],
        vec!["stop", &g, "-k"],
        vec!["attach", &g, "--", "true"],
        vec!["execute", &g, "--", "true"],
        vec!["freeze", &g],
        vec!["unfreeze", &g],
        vec!["cgroup", &g, "pids.max"],
        vec!["cgroup", &g, "pids.max", "5"],
        vec!["info", &g],
        vec!["destroy", &g],
        vec!["destroy", &g, "-f"],
        vec!["console", &g],
        vec!["config", &g, "lxc.uts.name"],
        vec!["checkconfig", &g],
    ];
    for args in cases {
        let o = env.hako(&args);
        o.assert_fails_with(1, "does not exist");
        o.assert_one_clear_error(&g);
        // the message names the lxcpath and a fix
        assert!(o.stderr.contains(env.lxcpath.to_str().unwrap()), "{o:?}");
    }
    // wait: times out with exit 1 (LXC's lxc-wait may wait for a container to appear)
    env.hako(&["wait", &g, "-s", "RUNNING", "-t", "1"])
        .assert_code(1);
    assert!(lxcpath_entries(&env).is_empty());
    env.assert_no_leaks(&g);
}

#[test]
fn already_running_and_not_running() {
    let Some(env) = TestEnv::new("state") else {
        return;
    };
    let n = env.busybox();
    // not running
    for args in [
        vec!["freeze", n.as_str()],
        vec!["unfreeze", n.as_str()],
        vec!["attach", n.as_str(), "--", "true"],
        vec!["cgroup", n.as_str(), "pids.max"],
        vec!["cgroup", n.as_str(), "pids.max", "10"],
        vec!["console", n.as_str()],
    ] {
        let o = env.hako(&args);
        o.assert_fails_with(1, "not running");
        o.assert_one_clear_error(&n);
    }
    env.hako(&["stop", &n]).assert_fails_with(2, "not running");
    env.assert_no_leaks(&n);
    // already running
    env.start(&n);
    let pid = env.init_pid(&n);
    let o = env.hako(&["start", &n]);
    o.assert_fails_with(1, "already running");
    o.assert_one_clear_error(&n);
    assert_eq!(
        env.init_pid(&n),
        pid,
        "a refused start touched the running container"
    );
    // freeze twice: harmless, or a clear word
    env.hako(&["freeze", &n]).assert_ok();
    let o = env.hako(&["freeze", &n]);
    assert!(o.code() == 0 || o.stderr.contains("frozen"), "{o:?}");
    env.hako(&["unfreeze", &n]).assert_ok();
}

#[test]
fn bad_config_at_start() {
    let Some(env) = TestEnv::new("badcf") else {
        return;
    };
    let n = env.busybox();
    let lines = env.read_config(&n).lines().count();
    // an unknown key appended after create: file:line in the error
    env.append_config(&n, "lxc.not.a.key = 1");
    let o = env.hako(&["start", &n]);
    o.assert_fails_mentioning("lxc.not.a.key");
    let cfg_path = env.config_path(&n);
    let want = format!("{}:{}", cfg_path.display(), lines + 2);
    o.assert_stderr_contains(&want);
    assert_eq!(env.state(&n), "STOPPED");
    env.assert_no_leaks(&n);
    // a bad value
    let cfg = env
        .read_config(&n)
        .replace("lxc.not.a.key = 1", "lxc.prlimit.nofile = lots");
    fs::write(&cfg_path, cfg).unwrap();
    env.hako(&["start", &n]).assert_fails_mentioning("lots");
    env.assert_no_leaks(&n);
    // more ttys than the console hand-over carries: the key, the value and the limit
    let cfg = env
        .read_config(&n)
        .replace("lxc.prlimit.nofile = lots", "lxc.tty.max = 500");
    fs::write(&cfg_path, cfg).unwrap();
    let o = env.hako(&["start", &n]);
    o.assert_fails_mentioning("lxc.tty.max");
    o.assert_stderr_contains("at most 120");
    env.assert_no_leaks(&n);
    let cfg = env
        .read_config(&n)
        .replace("lxc.tty.max = 500", "lxc.prlimit.nofile = lots");
    fs::write(&cfg_path, cfg).unwrap();
    // a line that is not KEY = VALUE
    let cfg = env
        .read_config(&n)
        .replace("lxc.prlimit.nofile = lots", "this is not config");
    fs::write(&cfg_path, cfg).unwrap();
    env.hako(&["start", &n])
        .assert_fails_mentioning(cfg_path.to_str().unwrap());
    env.assert_no_leaks(&n);
    // a missing config file
    let good = env.read_config(&n).replace("this is not config", "");
    fs::remove_file(&cfg_path).unwrap();
    let o = env.hako(&["start", &n]);
    assert_eq!(o.code(), 1, "{o:?}");
    env.assert_no_leaks(&n);
    // put it back so the container can be destroyed normally
    fs::write(&cfg_path, good).unwrap();
    env.start(&n);
}

#[test]
fn non_root_caller_is_refused() {
    let Some(env) = TestEnv::new("nroot") else {
        return;
    };
    if which("setpriv").is_none() {
        panic!("setpriv (util-linux) is needed for this test");
    }
    let n = env.busybox();
    env.start(&n);
    let lp = env.lxcpath.to_str().unwrap().to_string();
    let fresh = env.name();
    for args in [
        vec!["create", fresh.as_str(), "-t", "busybox"],
        vec!["start", n.as_str()],
        vec!["stop", n.as_str(), "-k"],
        vec!["destroy", n.as_str(), "-f"],
        vec!["attach", n.as_str(), "--", "true"],
        vec!["freeze", n.as_str()],
        vec!["cgroup", n.as_str(), "pids.max", "5"],
    ] {
        let mut full = vec![
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            HAKO,
            "-P",
            lp.as_str(),
        ];
        full.extend_from_slice(&args);
        let o = Run::new("setpriv")
            .env("HAKO_SYSCONFDIR", &env.etc)
            .args(&full)
            .run();
        o.assert_fails_with(1, "needs root");
        assert!(o.stderr.trim().lines().count() == 1, "not one line: {o:?}");
    }
    // nothing happened
    assert!(!env.lxcpath.join(&fresh).exists());
    assert_eq!(env.state(&n), "RUNNING");
    assert_ne!(env.hako(&["cgroup", &n, "pids.max"]).out(), "5");
}

fn which(prog: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| std::path::Path::new(d).join(prog))
        .find(|p| {
            p.metadata()
                .map(|m| m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
}

#[test]
fn failing_template_leaves_nothing() {
    let Some(env) = TestEnv::new("badtp") else {
        return;
    };
    let script = env.write(
        "fail.sh",
        "#!/bin/sh\nfor a; do case $a in --rootfs=*) r=${a#--rootfs=};; esac; done\nmkdir -p \"$r/etc\"; echo partial > \"$r/etc/x\"\necho 'cannot fetch packages' >&2\nexit 1\n",
    );
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    let n = env.name();
    let o = env.hako(&["create", &n, "-t", script.to_str().unwrap()]);
    o.assert_fails_with(1, "cannot fetch packages");
    o.assert_one_clear_error(&n);
    assert!(
        lxcpath_entries(&env).is_empty(),
        "left {:?}",
        lxcpath_entries(&env)
    );
    env.assert_no_leaks(&n);
}

#[test]
fn missing_rootfs_at_start() {
    let Some(env) = TestEnv::new("norfs") else {
        return;
    };
    let n = env.busybox();
    let root = env.lxcpath.join(&n).join("rootfs");
    fs::remove_dir_all(&root).unwrap();
    let o = env.hako(&["start", &n]);
    o.assert_fails_with(1, root.to_str().unwrap());
    o.assert_one_clear_error(&n);
    env.assert_no_leaks(&n);
    // rootfs path in the config pointing nowhere
    let m = env.busybox();
    env.append_config(
        &m,
        &format!("lxc.rootfs.path = dir:{}", env.path("nowhere").display()),
    );
    env.hako(&["start", &m]).assert_fails_mentioning("nowhere");
    env.assert_no_leaks(&m);
}
