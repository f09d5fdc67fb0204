//! Issue 15, items 6 and 8: bounded, typed inputs and validated host names.
//!
//! Config files, includes, `-f` files and a monitor's `state.json` are read only if they
//! are regular files of bounded size: /dev/zero, a FIFO or a huge file gets a clear error
//! naming the file (and the lxc.include line), promptly, and never blocks the other
//! containers of the lxcpath. Every hako run here has its address space capped
//! ([`AS_LIMIT`]) and a time limit ([`QUICK`]), so a regression fails the test instead of
//! exhausting the host's memory or hanging the suite.

mod common;

use common::*;
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The address space a hako command (and what it forks) may use here: far above what
/// hako needs (a few tens of MiB), far below the host's memory.
const AS_LIMIT: libc::rlim_t = 1 << 30;

/// Every command here must return within this: reading a FIFO blocks forever, reading
/// /dev/zero runs until the memory cap.
const QUICK: Duration = Duration::from_secs(20);

/// `run` with the address-space cap and the time limit.
fn limited(mut run: Run) -> Run {
    // SAFETY: runs in the forked child before exec; setrlimit is async-signal-safe and
    // gets a pointer to a local. Only the soft limit is lowered.
    unsafe {
        run.command_mut().pre_exec(|| {
            let mut r = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            if libc::getrlimit(libc::RLIMIT_AS, &mut r) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            r.rlim_cur = AS_LIMIT.min(r.rlim_max);
            if libc::setrlimit(libc::RLIMIT_AS, &r) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    run.timeout(QUICK)
}

/// `hako -P LXCPATH ARGS...`, capped and timed.
fn hako(env: &TestEnv, args: &[&str]) -> Out {
    limited(env.run(args)).run()
}

fn mkfifo(p: &Path) {
    let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path; mkfifo only reads it.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
}

fn lxcpath_entries(env: &TestEnv) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(&env.lxcpath)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// The 1-based number of the last line of `path`.
fn last_line(path: &Path) -> usize {
    fs::read_to_string(path).unwrap().lines().count()
}

#[test]
fn the_memory_cap_leaves_normal_runs_alone() {
    // the control for every test below: under the cap, create/start/info/stop work
    let Some(env) = TestEnv::new("incap") else {
        return;
    };
    let n = env.name();
    hako(&env, &["create", &n, "-t", "busybox"]).assert_ok();
    hako(&env, &["start", &n]).assert_ok();
    let o = hako(&env, &["info", &n, "-s", "-H"]);
    o.assert_ok();
    assert_eq!(o.out(), "RUNNING");
    hako(&env, &["stop", &n, "-k"]).assert_ok();
    env.assert_no_leaks(&n);
}

#[test]
fn dev_zero_and_fifos_as_config_files_are_refused() {
    let Some(env) = TestEnv::new("inzero") else {
        return;
    };
    let n = env.busybox();
    let fifo = env.path("fifo.conf");
    mkfifo(&fifo);
    let f = fifo.to_str().unwrap();

    for bad in ["/dev/zero", f] {
        let what = if bad == "/dev/zero" {
            "a character device, not a regular file"
        } else {
            "a FIFO (named pipe), not a regular file"
        };
        // start -f, execute -f: clear error naming the file, nothing started
        for verb in [
            vec!["start", n.as_str(), "-f", bad],
            vec!["execute", n.as_str(), "-f", bad, "--", "/bin/true"],
        ] {
            let o = hako(&env, &verb);
            o.assert_fails_mentioning(bad);
            o.assert_stderr_contains(what);
            assert_eq!(env.state(&n), "STOPPED", "{o:?}");
            env.assert_no_leaks(&n);
        }
        // create -f: the same, and nothing made
        let m = env.name();
        let o = hako(&env, &["create", &m, "-t", "busybox", "-f", bad]);
        o.assert_fails_mentioning(bad);
        o.assert_stderr_contains(what);
        assert_eq!(lxcpath_entries(&env), vec![n.clone()], "{o:?}");
        env.assert_no_leaks(&m);
        // the lxc face
        let p = env.lxcpath.to_str().unwrap().to_string();
        let o = limited(
            Run::new(env.links_dir().join("lxc-start"))
                .env("HAKO_SYSCONFDIR", &env.etc)
                .env_remove("HAKO_PATH")
                .args(["-n", &n, "-P", &p, "-f", bad]),
        )
        .run();
        o.assert_fails_mentioning(bad);
        assert_eq!(env.state(&n), "STOPPED");
    }
    // the container is still fine with its own config
    hako(&env, &["start", &n]).assert_ok();
    hako(&env, &["stop", &n, "-k"]).assert_ok();
}

#[test]
fn includes_of_dev_zero_and_fifos_fail_one_container_not_the_lxcpath() {
    let Some(env) = TestEnv::new("ininc") else {
        return;
    };
    let good = env.busybox();
    let zero = env.busybox();
    let piped = env.busybox();
    let dir_inc = env.busybox();
    let fifo = env.path("inc.fifo");
    mkfifo(&fifo);
    env.append_config(&zero, "lxc.include = /dev/zero");
    env.append_config(&piped, &format!("lxc.include = {}", fifo.display()));
    // a directory include with a FIFO among its *.conf files
    let d = env.path("conf.d");
    fs::create_dir_all(&d).unwrap();
    fs::write(d.join("10-ok.conf"), "lxc.group = web\n").unwrap();
    mkfifo(&d.join("20-pipe.conf"));
    env.append_config(&dir_inc, &format!("lxc.include = {}", d.display()));

    for (name, file, what) in [
        (&zero, PathBuf::from("/dev/zero"), "character device"),
        (&piped, fifo.clone(), "FIFO"),
        (&dir_inc, d.join("20-pipe.conf"), "FIFO"),
    ] {
        let cfg = env.config_path(name);
        let at = format!("{}:{}", cfg.display(), last_line(&cfg));
        // start: the error names the including file:line and the included file
        let o = hako(&env, &["start", name]);
        o.assert_fails_mentioning(&at);
        o.assert_stderr_contains(&format!("cannot include \"{}\"", file.display()));
        o.assert_stderr_contains(what);
        assert_eq!(env.state(name), "STOPPED");
        env.assert_no_leaks(name);
        // info: returns, shows the state, and says what is wrong with the config
        let o = hako(&env, &["info", name]);
        o.assert_ok();
        o.assert_stdout_contains("STOPPED");
        o.assert_stderr_contains(&at);
        o.assert_stderr_contains(what);
        // config NAME KEY reads the config too
        let o = hako(&env, &["config", name, "lxc.uts.name"]);
        o.assert_fails_mentioning(&at);
    }

    // the good container starts while the broken ones sit next to it, and `ls` in every
    // form lists all four promptly, with a warning naming each broken config
    hako(&env, &["start", &good]).assert_ok();
    let o = hako(&env, &["ls", "-f"]);
    o.assert_ok();
    let rows: Vec<Vec<String>> = o.stdout.lines().skip(1).map(words).collect();
    let state = |n: &str| {
        rows.iter()
            .find(|r| r.first().map(String::as_str) == Some(n))
            .map(|r| r[1].clone())
            .unwrap_or_else(|| panic!("ls -f does not list {n}:\n{}", o.stdout))
    };
    assert_eq!(state(&good), "RUNNING");
    for n in [&zero, &piped, &dir_inc] {
        assert_eq!(state(n), "STOPPED");
        o.assert_stderr_contains(&env.config_path(n).display().to_string());
    }
    for args in [
        vec!["ls"],
        vec!["ls", "--format", "json"],
        vec!["ls", "--stopped"],
    ] {
        let o = hako(&env, &args);
        o.assert_ok();
        for n in [&zero, &piped, &dir_inc] {
            o.assert_stdout_contains(n);
        }
    }
    hako(&env, &["stop", &good, "-k"]).assert_ok();
    // the broken containers can still be destroyed
    for n in [&zero, &piped, &dir_inc] {
        hako(&env, &["destroy", n]).assert_ok();
        env.assert_no_leaks(n);
    }
}

#[test]
fn fstab_files_that_are_devices_or_fifos_are_refused() {
    let Some(env) = TestEnv::new("infstb") else {
        return;
    };
    let n = env.busybox();
    let fifo = env.path("fstab.fifo");
    mkfifo(&fifo);
    let cfg = env.config_path(&n);
    let good = env.read_config(&n);
    for (file, what) in [
        (PathBuf::from("/dev/zero"), "character device"),
        (fifo.clone(), "FIFO"),
    ] {
        env.append_config(&n, &format!("lxc.mount.fstab = {}", file.display()));
        let o = hako(&env, &["start", &n]);
        o.assert_fails_mentioning(&format!("{}:{}", cfg.display(), last_line(&cfg)));
        o.assert_stderr_contains(&format!("lxc.mount.fstab file {}", file.display()));
        o.assert_stderr_contains(what);
        assert_eq!(env.state(&n), "STOPPED");
        env.assert_no_leaks(&n);
        fs::write(&cfg, &good).unwrap();
    }
}

#[test]
fn oversized_configs_are_refused_with_size_and_limit() {
    let Some(env) = TestEnv::new("inbig") else {
        return;
    };
    let n = env.busybox();
    let limit = 1usize << 20;
    let padding = "# padding\n".repeat(limit / 10 + 1);
    // the container's own config
    let cfg = env.config_path(&n);
    let good = env.read_config(&n);
    fs::write(&cfg, format!("{good}{padding}")).unwrap();
    let size = fs::metadata(&cfg).unwrap().len();
    let o = hako(&env, &["start", &n]);
    o.assert_fails_mentioning(cfg.to_str().unwrap());
    o.assert_stderr_contains(&format!("it is {size} bytes"));
    o.assert_stderr_contains("the limit of 1 MiB");
    env.assert_no_leaks(&n);
    fs::write(&cfg, &good).unwrap();
    // an include
    let big = env.write("big.conf", &padding);
    env.append_config(&n, &format!("lxc.include = {}", big.display()));
    let o = hako(&env, &["start", &n]);
    o.assert_fails_mentioning(&format!("{}:{}", cfg.display(), last_line(&cfg)));
    o.assert_stderr_contains("the limit of 1 MiB");
    fs::write(&cfg, &good).unwrap();
    // -f of create
    let m = env.name();
    let o = hako(
        &env,
        &["create", &m, "-t", "busybox", "-f", big.to_str().unwrap()],
    );
    o.assert_fails_mentioning(big.to_str().unwrap());
    o.assert_stderr_contains("the limit of 1 MiB");
    assert_eq!(lxcpath_entries(&env), vec![n.clone()]);
    // one that fans out: each level includes the next 4 times (4^10 reads unbounded)
    for i in 0..10 {
        env.write(
            &format!("fan/l{i}.conf"),
            &format!("lxc.include = l{}.conf\n", i + 1).repeat(4),
        );
    }
    env.write("fan/l10.conf", "lxc.group = leaf\n");
    env.append_config(
        &n,
        &format!("lxc.include = {}", env.path("fan/l0.conf").display()),
    );
    let o = hako(&env, &["start", &n]);
    o.assert_fails_mentioning("files through lxc.include (the limit)");
    fs::write(&cfg, &good).unwrap();
    hako(&env, &["start", &n]).assert_ok();
    hako(&env, &["stop", &n, "-k"]).assert_ok();
}

/// The runtime directory of running container `name`: the directory named after it
/// below /run/hako that holds the monitor's state.json.
fn runtime_dir_of(name: &str) -> PathBuf {
    let mut stack = vec![(PathBuf::from("/run/hako"), 0)];
    while let Some((d, depth)) = stack.pop() {
        let Ok(rd) = fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            if !e.file_type().is_ok_and(|t| t.is_dir()) || e.file_name() == "lock" {
                continue;
            }
            if e.file_name() == name && p.join("state.json").is_file() {
                return p;
            }
            if depth < 3 {
                stack.push((p, depth + 1));
            }
        }
    }
    panic!("no runtime directory with a state.json for {name} below /run/hako");
}

#[test]
fn hostile_state_files_are_ignored_promptly() {
    let Some(env) = TestEnv::new("instat") else {
        return;
    };
    let n = env.busybox();
    hako(&env, &["start", &n]).assert_ok();
    let rt = runtime_dir_of(&n);
    hako(&env, &["stop", &n, "-k"]).assert_ok();
    let state = rt.join("state.json");

    type Plant = Box<dyn Fn(&Path)>;
    let cases: Vec<(&str, Plant)> = vec![
        (
            "garbage",
            Box::new(|p| fs::write(p, "{\"name\": [1, 2, 3] nonsense").unwrap()),
        ),
        (
            "binary",
            Box::new(|p| fs::write(p, [0xffu8, 0, 0xfe, 0x7b]).unwrap()),
        ),
        (
            "oversized",
            Box::new(|p| {
                let mut t = String::from("{\"name\": \"");
                t.push_str(&"x".repeat(3 << 20));
                t.push_str("\"}");
                fs::write(p, t).unwrap()
            }),
        ),
        ("fifo", Box::new(mkfifo)),
        (
            "symlink to /dev/zero",
            Box::new(|p| std::os::unix::fs::symlink("/dev/zero", p).unwrap()),
        ),
    ];
    for (what, plant) in cases {
        fs::create_dir_all(&rt).unwrap();
        plant(&state);
        // every verb that looks at the runtime state answers, and says STOPPED
        let o = hako(&env, &["info", &n, "-s", "-H"]);
        o.assert_ok();
        assert_eq!(o.out(), "STOPPED", "{what}: {o:?}");
        hako(&env, &["ls", "-f"])
            .assert_ok()
            .assert_stdout_contains(&n);
        let o = hako(&env, &["stop", &n]);
        assert!(
            o.code() == 2 && o.stderr.contains("not running"),
            "{what}: {o:?}"
        );
        // start clears the stale state and runs the container
        fs::create_dir_all(&rt).unwrap();
        if fs::symlink_metadata(&state).is_err() {
            plant(&state);
        }
        let o = hako(&env, &["start", &n]);
        o.assert_ok();
        assert_eq!(env.state(&n), "RUNNING", "{what}");
        hako(&env, &["stop", &n, "-k"]).assert_ok();
        env.assert_no_leaks(&n);
    }
    // destroy with a FIFO there
    fs::create_dir_all(&rt).unwrap();
    mkfifo(&state);
    hako(&env, &["destroy", &n]).assert_ok();
    assert!(!rt.exists(), "destroy left {}", rt.display());
}

#[test]
fn bad_host_names_are_refused_before_anything_runs() {
    let Some(env) = TestEnv::new("inhost") else {
        return;
    };
    let n = env.busybox();
    let bad = "$(reboot);x";
    // -s on the command line
    let o = hako(&env, &["start", &n, "-s", &format!("lxc.uts.name={bad}")]);
    o.assert_fails_mentioning("<command line>");
    o.assert_stderr_contains("lxc.uts.name");
    o.assert_stderr_contains("e.g. \"reboot-x\"");
    assert_eq!(env.state(&n), "STOPPED");
    env.assert_no_leaks(&n);
    // in the config file: file:line
    env.replace_config_line(&n, "lxc.uts.name", &format!("lxc.uts.name = {bad}"));
    let cfg = env.config_path(&n);
    let line = env
        .read_config(&n)
        .lines()
        .position(|l| l.starts_with("lxc.uts.name"))
        .unwrap()
        + 1;
    let o = hako(&env, &["start", &n]);
    o.assert_fails_mentioning(&format!("{}:{line}: bad value", cfg.display()));
    env.assert_no_leaks(&n);
    for h in ["web_1", "-web", "a..b", &"a".repeat(64)] {
        env.replace_config_line(&n, "lxc.uts.name", &format!("lxc.uts.name = {h}"));
        hako(&env, &["start", &n]).assert_fails_mentioning("lxc.uts.name");
    }
    env.replace_config_line(&n, "lxc.uts.name", &format!("lxc.uts.name = {n}"));
    // in a -f file of create: refused, nothing made
    let f = env.write("uts.conf", &format!("lxc.uts.name = {bad}\n"));
    let m = env.name();
    let o = hako(
        &env,
        &["create", &m, "-t", "busybox", "-f", f.to_str().unwrap()],
    );
    o.assert_fails_mentioning(&format!("{}:1", f.display()));
    assert_eq!(lxcpath_entries(&env), vec![n.clone()]);
    env.assert_no_leaks(&m);
}

#[test]
fn names_that_are_not_host_names_get_a_derived_one() {
    let Some(env) = TestEnv::new("inderv") else {
        return;
    };
    // container names may hold what host names may not ('_', shell characters): the
    // host name is made from the name, never the name pasted as it is
    let base = env.name();
    for (name, host) in [
        (format!("{base}_a"), format!("{base}-a")),
        (format!("{base}$(reboot);x"), format!("{base}-reboot-x")),
    ] {
        env.track_name(&name);
        hako(&env, &["create", &name, "-t", "busybox"]).assert_ok();
        let cfg = env.read_config(&name);
        assert!(
            cfg.lines().any(|l| l == format!("lxc.uts.name = {host}")),
            "{cfg}"
        );
        let rootfs = env.lxcpath.join(&name).join("rootfs");
        assert_eq!(
            fs::read_to_string(rootfs.join("etc/hostname")).unwrap(),
            format!("{host}\n")
        );
        let hosts = fs::read_to_string(rootfs.join("etc/hosts")).unwrap();
        assert!(hosts.contains(&format!("127.0.1.1\t{host}\n")), "{hosts}");
        hako(&env, &["start", &name]).assert_ok();
        let o = limited(env.run(&["attach", &name, "--", "/bin/hostname"])).run();
        o.assert_ok();
        assert_eq!(o.out(), host);
        // a copy gets its own derived name
        let copy = format!("{name}_c");
        env.track_name(&copy);
        hako(&env, &["stop", &name, "-k"]).assert_ok();
        hako(&env, &["copy", &name, &copy]).assert_ok();
        let copy_root = env.lxcpath.join(&copy).join("rootfs");
        assert_eq!(
            fs::read_to_string(copy_root.join("etc/hostname")).unwrap(),
            format!("{host}-c\n")
        );
        hako(&env, &["destroy", &copy]).assert_ok();
        hako(&env, &["destroy", &name]).assert_ok();
        env.assert_no_leaks(&name);
    }
}
