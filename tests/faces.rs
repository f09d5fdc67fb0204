//! Issue 2, point 1: one binary, two faces (`hako VERB NAME` and the `lxc-*` names), LXC's
//! exit codes, `hako version`.

mod common;

use common::*;
use std::fs;
use std::os::unix::fs::FileTypeExt;

#[test]
fn hako_verbs_take_positional_names_and_dash_n() {
    let Some(env) = TestEnv::new("pos") else {
        return;
    };
    // positional
    let a = env.name();
    env.hako(&["create", &a, "-t", "busybox"]).assert_ok();
    env.hako(&["start", &a]).assert_ok();
    assert_eq!(env.state(&a), "RUNNING");
    env.hako(&["attach", &a, "--", "true"]).assert_ok();
    env.hako(&["stop", &a, "-k"]).assert_ok();
    env.hako(&["destroy", &a]).assert_ok();
    assert!(!env.lxcpath.join(&a).exists());

    // LXC style -n NAME through the hako face
    let b = env.name();
    env.hako(&["create", "-n", &b, "-t", "busybox"]).assert_ok();
    env.hako(&["start", "-n", &b]).assert_ok();
    env.hako(&["info", "-n", &b, "-s"])
        .assert_ok()
        .assert_stdout_contains("RUNNING");
    env.hako(&["attach", "-n", &b, "--", "true"]).assert_ok();
    env.hako(&["cgroup", "-n", &b, "pids.current"]).assert_ok();
    env.hako(&["config", "-n", &b, "lxc.uts.name"])
        .assert_ok()
        .assert_stdout_contains(&b);
    env.hako(&["stop", "-n", &b, "-k"]).assert_ok();
    env.hako(&["destroy", "-n", &b]).assert_ok();
    assert!(!env.lxcpath.join(&b).exists());
}

#[test]
fn compat_links_creates_every_lxc_name() {
    let Some(env) = TestEnv::new("links") else {
        return;
    };
    let dir = env.links_dir();
    let bin = fs::canonicalize(HAKO).unwrap();
    for tool in LXC_TOOLS {
        let p = dir.join(tool);
        let meta = fs::symlink_metadata(&p)
            .unwrap_or_else(|e| panic!("hako compat-links made no {}: {e}", p.display()));
        assert!(
            meta.file_type().is_symlink() || meta.file_type().is_file(),
            "{} is neither a link nor a file",
            p.display()
        );
        assert_eq!(
            fs::canonicalize(&p).unwrap(),
            bin,
            "{} does not lead to the hako binary",
            p.display()
        );
    }
    // running it again over existing links must not fail
    env.hako_cmd()
        .args(["compat-links".as_ref(), dir.as_os_str()])
        .run()
        .assert_ok();
    // nothing else (fifos, sockets...) in there
    for e in fs::read_dir(&dir).unwrap().flatten() {
        let ft = e.file_type().unwrap();
        assert!(!ft.is_fifo() && !ft.is_socket());
    }
}

#[test]
fn lxc_face_full_lifecycle() {
    let Some(env) = TestEnv::new("lxcfc") else {
        return;
    };
    let p = env.lxcpath.to_str().unwrap().to_string();
    let x = env.name();
    env.lxc("lxc-create", &["-n", &x, "-P", &p, "-t", "busybox"])
        .assert_ok();
    assert!(env.lxcpath.join(&x).join("config").is_file());
    assert!(env.lxcpath.join(&x).join("rootfs/bin/busybox").exists());

    // lxc-start daemonizes by default and returns once RUNNING
    let o = env.lxc("lxc-start", &["-n", &x, "-P", &p]);
    o.assert_ok();
    assert!(o.elapsed.as_secs() < 20, "lxc-start took {:?}", o.elapsed);

    let s = env.lxc("lxc-info", &["-n", &x, "-P", &p, "-s"]);
    s.assert_ok();
    assert_eq!(s.stdout, "State:          RUNNING\n", "lxc-info -s output");

    let pid_out = env.lxc("lxc-info", &["-n", &x, "-P", &p, "-p"]);
    pid_out.assert_ok();
    let line = pid_out.stdout.trim_end();
    assert!(line.starts_with("PID:"), "lxc-info -p printed {line:?}");
    let pid: i32 = line["PID:".len()..].trim().parse().expect("pid number");
    assert!(pid > 1 && pid_alive(pid), "lxc-info -p gave pid {pid}");
    assert_eq!(pid, env.init_pid(&x));

    env.lxc("lxc-attach", &["-n", &x, "-P", &p, "--", "true"])
        .assert_ok();
    env.lxc(
        "lxc-attach",
        &["-n", &x, "-P", &p, "--", "sh", "-c", "exit 3"],
    )
    .assert_code(3);

    let ls = env.lxc("lxc-ls", &["-P", &p]);
    ls.assert_ok();
    assert_eq!(words(&ls.stdout), vec![x.clone()]);

    let cg = env.lxc("lxc-cgroup", &["-n", &x, "-P", &p, "devices.list"]);
    cg.assert_ok().assert_stdout_contains("c 1:3 rwm");

    env.lxc("lxc-freeze", &["-n", &x, "-P", &p]).assert_ok();
    env.lxc("lxc-wait", &["-n", &x, "-P", &p, "-s", "FROZEN", "-t", "5"])
        .assert_ok();
    env.lxc("lxc-unfreeze", &["-n", &x, "-P", &p]).assert_ok();
    env.lxc(
        "lxc-wait",
        &["-n", &x, "-P", &p, "-s", "RUNNING", "-t", "5"],
    )
    .assert_ok();

    env.lxc("lxc-stop", &["-n", &x, "-P", &p, "-k"]).assert_ok();
    assert_eq!(
        env.lxc("lxc-info", &["-n", &x, "-P", &p, "-s"]).stdout,
        "State:          STOPPED\n"
    );
    // LXC exit codes
    env.lxc("lxc-stop", &["-n", &x, "-P", &p, "-k"])
        .assert_code(2);
    env.lxc("lxc-stop", &["-n", &x, "-P", &p]).assert_code(2);
    let w = env.lxc(
        "lxc-wait",
        &["-n", &x, "-P", &p, "-s", "RUNNING", "-t", "1"],
    );
    w.assert_code(1);
    assert!(w.elapsed.as_millis() >= 900, "lxc-wait -t 1 gave up early");

    env.lxc("lxc-destroy", &["-n", &x, "-P", &p]).assert_ok();
    assert!(!env.lxcpath.join(&x).exists(), "lxc-destroy left the dir");
    env.assert_no_leaks(&x);
}

#[test]
fn lxc_face_unknown_container_exits_1() {
    let Some(env) = TestEnv::new("lxcunk") else {
        return;
    };
    let p = env.lxcpath.to_str().unwrap().to_string();
    let ghost = env.name();
    for (tool, extra) in [
        ("lxc-info", vec![]),
        ("lxc-start", vec![]),
        ("lxc-attach", vec!["--", "true"]),
        ("lxc-stop", vec!["-k"]),
        ("lxc-freeze", vec![]),
        ("lxc-cgroup", vec!["pids.max"]),
        ("lxc-destroy", vec![]),
    ] {
        let mut args = vec!["-n", ghost.as_str(), "-P", p.as_str()];
        args.extend(extra);
        let o = env.lxc(tool, &args);
        o.assert_code(1);
        o.assert_one_clear_error(&ghost);
    }
    assert!(!env.lxcpath.join(&ghost).exists());
}

#[test]
fn lxc_face_flags_log_and_quiet() {
    let Some(env) = TestEnv::new("lxclog") else {
        return;
    };
    let p = env.lxcpath.to_str().unwrap().to_string();
    let x = env.name();
    env.lxc("lxc-create", &["-n", &x, "-P", &p, "-t", "busybox", "-q"])
        .assert_ok();
    let log = env.path("start.log");
    env.lxc(
        "lxc-start",
        &[
            "-n",
            &x,
            "-P",
            &p,
            "-d",
            "-l",
            "DEBUG",
            "-o",
            log.to_str().unwrap(),
        ],
    )
    .assert_ok();
    let text = fs::read_to_string(&log)
        .unwrap_or_else(|e| panic!("lxc-start -o {} wrote no log file: {e}", log.display()));
    assert!(
        !text.trim().is_empty(),
        "lxc-start -l DEBUG -o FILE: empty log"
    );
    // -q: no log chatter on stderr for a successful command
    let q = env.lxc("lxc-stop", &["-n", &x, "-P", &p, "-k", "-q"]);
    q.assert_ok();
    assert!(
        q.stderr.trim().is_empty(),
        "lxc-stop -q printed {:?}",
        q.stderr
    );
}

#[test]
fn lxc_face_execute_returns_command_status() {
    let Some(env) = TestEnv::new("lxcex") else {
        return;
    };
    let p = env.lxcpath.to_str().unwrap().to_string();
    let x = env.name();
    env.lxc("lxc-create", &["-n", &x, "-P", &p, "-t", "busybox"])
        .assert_ok();
    env.lxc(
        "lxc-execute",
        &["-n", &x, "-P", &p, "--", "sh", "-c", "exit 3"],
    )
    .assert_code(3);
    let o = env.lxc("lxc-execute", &["-n", &x, "-P", &p, "--", "hostname"]);
    o.assert_ok();
    assert_eq!(o.out(), x);
    assert_eq!(env.state(&x), "STOPPED");
    env.assert_no_leaks(&x);
}

/// Invoked as lxc-create, the binary reads LXC's system default config (SYSCONFDIR/lxc/
/// default.conf, i.e. /etc/lxc/default.conf); as hako it reads SYSCONFDIR/hako/default.conf.
/// Without the file, the lxc face falls back to loopback only (as LXC does) and the hako face
/// to the managed network hakobr0.
#[test]
fn lxc_face_reads_etc_lxc_default_conf() {
    let Some(env) = TestEnv::new("lxcetc") else {
        return;
    };
    let p = env.lxcpath.to_str().unwrap().to_string();
    fs::write(
        env.etc.join("lxc/default.conf"),
        "lxc.environment = FROM_LXC_DEFAULT=1\nlxc.net.0.type = empty\n",
    )
    .unwrap();
    fs::write(
        env.etc.join("hako/default.conf"),
        "lxc.environment = FROM_HAKO_DEFAULT=1\nlxc.net.0.type = empty\n",
    )
    .unwrap();
    let x = env.name();
    env.lxc("lxc-create", &["-n", &x, "-P", &p, "-t", "busybox"])
        .assert_ok();
    let cfg = env.read_config(&x);
    assert!(
        cfg.contains("FROM_LXC_DEFAULT=1"),
        "lxc-create did not merge lxc/default.conf:\n{cfg}"
    );
    assert!(
        !cfg.contains("FROM_HAKO_DEFAULT"),
        "lxc-create merged hako/default.conf:\n{cfg}"
    );

    let y = env.name();
    env.hako(&["create", &y, "-t", "busybox"]).assert_ok();
    let ycfg = env.read_config(&y);
    assert!(
        ycfg.contains("FROM_HAKO_DEFAULT=1"),
        "hako create did not merge hako/default.conf:\n{ycfg}"
    );
    assert!(
        !ycfg.contains("FROM_LXC_DEFAULT"),
        "hako create merged lxc/default.conf:\n{ycfg}"
    );

    // no system default config: the lxc face gives loopback only, the hako face hakobr0
    fs::remove_file(env.etc.join("lxc/default.conf")).unwrap();
    fs::remove_file(env.etc.join("hako/default.conf")).unwrap();
    let z = env.name();
    env.lxc("lxc-create", &["-n", &z, "-P", &p, "-t", "busybox"])
        .assert_ok();
    let zcfg = env.read_config(&z);
    assert!(
        zcfg.contains("lxc.net.0.type = empty"),
        "lxc face without default.conf:\n{zcfg}"
    );
    let w = env.name();
    env.hako(&["create", &w, "-t", "busybox"]).assert_ok();
    let wcfg = env.read_config(&w);
    assert!(
        wcfg.contains("lxc.net.0.link = hakobr0"),
        "hako face without default.conf:\n{wcfg}"
    );
}

#[test]
fn attach_and_execute_exit_codes() {
    let Some(env) = TestEnv::new("exit") else {
        return;
    };
    let c = env.busybox();
    env.start(&c);
    // attach: the command's status
    env.hako(&["attach", &c, "--", "sh", "-c", "exit 3"])
        .assert_code(3);
    env.hako(&["attach", &c, "--", "sh", "-c", "kill -9 $$"])
        .assert_code(137);
    env.hako(&["attach", &c, "--", "sh", "-c", "kill -TERM $$"])
        .assert_code(143);
    let o = env.hako(&["attach", &c, "--", "/no/such/cmd"]);
    o.assert_code(127);
    o.assert_stderr_contains("/no/such/cmd");
    env.hako(&["attach", &c, "--", "true"]).assert_ok();
    env.hako(&["attach", &c, "--", "false"]).assert_code(1);
    env.kill(&c);

    // execute: the same rules
    env.hako(&["execute", &c, "--", "sh", "-c", "exit 3"])
        .assert_code(3);
    env.hako(&["execute", &c, "--", "sh", "-c", "kill -9 $$"])
        .assert_code(137);
    let o = env.hako(&["execute", &c, "--", "/no/such/cmd"]);
    o.assert_code(127);
    o.assert_stderr_contains("/no/such/cmd");
    env.hako(&["execute", &c, "--", "true"]).assert_ok();
    assert_eq!(env.state(&c), "STOPPED");
    env.assert_no_leaks(&c);
}

#[test]
fn hako_face_exit_codes() {
    let Some(env) = TestEnv::new("codes") else {
        return;
    };
    let c = env.busybox();
    // not running: stop → 2
    env.hako(&["stop", &c]).assert_code(2);
    env.hako(&["stop", &c, "-k"]).assert_code(2);
    // wait times out → 1
    env.hako(&["wait", &c, "-s", "RUNNING", "-t", "1"])
        .assert_code(1);
    // unknown container → 1
    let ghost = env.name();
    for args in [
        vec!["info", ghost.as_str()],
        vec!["start", ghost.as_str()],
        vec!["attach", ghost.as_str(), "--", "true"],
    ] {
        env.hako(&args).assert_fails_with(1, "does not exist");
    }
}

#[test]
fn version() {
    let Some(env) = TestEnv::new("ver") else {
        return;
    };
    let o = env.hako_cmd().args(["version"]).run();
    o.assert_ok();
    let v = o.out();
    assert!(
        v.split(|c: char| !(c.is_ascii_digit() || c == '.'))
            .any(|w| w.split('.').count() >= 2 && w.split('.').all(|p| !p.is_empty())),
        "hako version printed no version number: {v:?}"
    );
    let o2 = env.hako_cmd().args(["--version"]).run();
    o2.assert_ok();
    assert!(
        o2.stdout.contains(env!("CARGO_PKG_VERSION"))
            || o.stdout.contains(env!("CARGO_PKG_VERSION")),
        "the crate version {} appears in neither `hako version` ({:?}) nor `hako --version` ({:?})",
        env!("CARGO_PKG_VERSION"),
        o.stdout,
        o2.stdout
    );
    // the help lists every verb of the issue
    let h = env.hako_cmd().args(["--help"]).run();
    h.assert_ok();
    for verb in [
        "create",
        "destroy",
        "start",
        "stop",
        "attach",
        "execute",
        "freeze",
        "unfreeze",
        "cgroup",
        "info",
        "ls",
        "wait",
        "console",
        "config",
        "checkconfig",
        "version",
    ] {
        assert!(
            h.stdout.lines().any(|l| l.trim_start().starts_with(verb)),
            "hako --help does not list {verb}"
        );
    }
}
