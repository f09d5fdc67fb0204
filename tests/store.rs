//! Issue 2, point 3: the store — lxcpath resolution, templates, create/destroy rules, the
//! per-container lock.

mod common;

use common::*;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

#[test]
fn lxcpath_from_dash_p_env_and_hako_conf() {
    let Some(env) = TestEnv::new("lxcp") else {
        return;
    };
    // -P (the default in the harness)
    let a = env.busybox();
    assert!(env.lxcpath.join(&a).join("config").is_file());

    // HAKO_PATH
    let from_env = env.path("from-env");
    env.track_lxcpath(&from_env);
    let b = env.name();
    env.hako_cmd()
        .env("HAKO_PATH", &from_env)
        .args(["create", &b, "-t", "busybox"])
        .run()
        .assert_ok();
    assert!(
        from_env.join(&b).join("config").is_file(),
        "HAKO_PATH not used for create"
    );
    let ls = env
        .hako_cmd()
        .env("HAKO_PATH", &from_env)
        .args(["ls"])
        .run();
    ls.assert_ok();
    assert_eq!(words(&ls.stdout), vec![b.clone()]);
    env.hako_cmd()
        .env("HAKO_PATH", &from_env)
        .args(["start", &b])
        .run()
        .assert_ok();
    let st = env
        .hako_cmd()
        .env("HAKO_PATH", &from_env)
        .args(["info", &b, "-s", "-H"])
        .run();
    assert_eq!(st.out(), "RUNNING");
    env.hako_cmd()
        .env("HAKO_PATH", &from_env)
        .args(["stop", &b, "-k"])
        .run()
        .assert_ok();

    // -P beats HAKO_PATH
    let c = env.name();
    env.run(&["create", &c, "-t", "none"])
        .env("HAKO_PATH", &from_env)
        .run()
        .assert_ok();
    assert!(env.lxcpath.join(&c).exists() && !from_env.join(&c).exists());

    // lxc.lxcpath in $HAKO_SYSCONFDIR/hako/hako.conf
    let from_conf = env.path("from-conf");
    env.track_lxcpath(&from_conf);
    env.write(
        "etc/hako/hako.conf",
        &format!(
            "# test global config\nlxc.lxcpath = {}\n",
            from_conf.display()
        ),
    );
    let d = env.name();
    env.hako_cmd()
        .args(["create", &d, "-t", "none"])
        .run()
        .assert_ok();
    assert!(
        from_conf.join(&d).join("config").is_file(),
        "lxc.lxcpath of hako.conf not used"
    );
    // HAKO_PATH beats hako.conf
    let e = env.name();
    env.hako_cmd()
        .env("HAKO_PATH", &from_env)
        .args(["create", &e, "-t", "none"])
        .run()
        .assert_ok();
    assert!(from_env.join(&e).exists() && !from_conf.join(&e).exists());

    // the lxc-* face reads lxc.lxcpath from lxc/lxc.conf (not hako/hako.conf, not HAKO_PATH)
    let lxc_conf = env.path("from-lxc-conf");
    env.track_lxcpath(&lxc_conf);
    env.write(
        "etc/lxc/lxc.conf",
        &format!("lxc.lxcpath = {}\n", lxc_conf.display()),
    );
    let f = env.name();
    let o = Run::new(env.links_dir().join("lxc-create"))
        .env("HAKO_SYSCONFDIR", &env.etc)
        .env("HAKO_PATH", &from_env)
        .args(["-n", &f, "-t", "none"])
        .run();
    o.assert_ok();
    assert!(
        lxc_conf.join(&f).join("config").is_file(),
        "lxc-create did not use lxc.lxcpath of lxc/lxc.conf"
    );
    assert!(!from_env.join(&f).exists() && !from_conf.join(&f).exists());
}

#[test]
fn busybox_template_builds_a_bootable_rootfs() {
    let Some(env) = TestEnv::new("bbtpl") else {
        return;
    };
    let n = env.busybox();
    let root = env.lxcpath.join(&n).join("rootfs");
    for f in [
        "bin/busybox",
        "bin/sh",
        "sbin/init",
        "etc/inittab",
        "etc/passwd",
        "etc/hosts",
    ] {
        assert!(
            root.join(f).exists() || fs::symlink_metadata(root.join(f)).is_ok(),
            "busybox rootfs lacks {f}"
        );
    }
    let hosts = fs::read_to_string(root.join("etc/hosts")).unwrap();
    assert!(
        hosts.split_whitespace().any(|w| w == n),
        "/etc/hosts does not name the container:\n{hosts}"
    );
    let mode = fs::metadata(root.join("bin/busybox"))
        .unwrap()
        .permissions()
        .mode();
    assert!(mode & 0o111 != 0, "busybox not executable");
    let cfg = env.read_config(&n);
    assert!(
        cfg.contains("lxc.rootfs.path"),
        "no rootfs in config:\n{cfg}"
    );
    assert!(
        cfg.contains(&format!("lxc.uts.name = {n}")),
        "no uts.name:\n{cfg}"
    );
    // it boots, offline, to a shell on the console
    env.start(&n);
    let ps = env.sh_ok(&n, "ps");
    assert!(ps.contains("init"), "no init running:\n{ps}");
    assert!(env.sh_ok(&n, "cat /etc/hosts").contains(&n));
}

#[test]
fn none_template_writes_config_only() {
    let Some(env) = TestEnv::new("tnone") else {
        return;
    };
    let n = env.name();
    env.hako(&["create", &n, "-t", "none"]).assert_ok();
    assert!(env.config_path(&n).is_file());
    let root = env.lxcpath.join(&n).join("rootfs");
    if root.exists() {
        assert_eq!(
            fs::read_dir(&root).unwrap().count(),
            0,
            "-t none put files into the rootfs"
        );
    }
    // starting it fails clearly (nothing to run) and leaves nothing behind
    let o = env.hako(&["start", &n]);
    assert_ne!(o.code(), 0, "a container without a rootfs started: {o:?}");
    env.assert_no_leaks(&n);
}

fn write_script(env: &TestEnv, rel: &str, body: &str) -> std::path::PathBuf {
    let p = env.write(rel, body);
    fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
    p
}

#[test]
fn template_script_gets_path_name_rootfs_and_user_args() {
    let Some(env) = TestEnv::new("tscr") else {
        return;
    };
    let args_file = env.path("args.txt");
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("busybox-static installed on the host");
    let script = write_script(
        &env,
        "tpl.sh",
        &format!(
            r#"#!/bin/sh
set -e
for a in "$@"; do printf '%s\n' "$a"; done > {args}
while [ $# -gt 0 ]; do
  case "$1" in
    --path=*) P="${{1#--path=}}"; shift;;
    --path) P="$2"; shift 2;;
    --name=*) N="${{1#--name=}}"; shift;;
    --name) N="$2"; shift 2;;
    --rootfs=*) R="${{1#--rootfs=}}"; shift;;
    --rootfs) R="$2"; shift 2;;
    --marker) M="$2"; shift 2;;
    *) shift;;
  esac
done
mkdir -p "$R/bin" "$R/proc" "$R/sys" "$R/dev" "$R/tmp" "$R/etc"
cp {busybox} "$R/bin/busybox"
for c in sh cat sleep hostname ps; do ln -s busybox "$R/bin/$c"; done
echo "$M" > "$R/etc/marker"
echo "$N" > "$R/etc/made-for"
cat >> "$P/config" <<EOF
lxc.init.cmd = /bin/sh -c "while :; do sleep 1; done"
EOF
"#,
            args = args_file.display(),
        ),
    );
    let n = env.name();
    env.hako(&[
        "create",
        &n,
        "-t",
        script.to_str().unwrap(),
        "--",
        "--marker",
        "m4rk",
    ])
    .assert_ok();
    let args: Vec<String> = fs::read_to_string(&args_file)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let joined = args.join(" ");
    let dir = env.lxcpath.join(&n);
    for (flag, val) in [
        ("--path", dir.display().to_string()),
        ("--name", n.clone()),
        ("--rootfs", dir.join("rootfs").display().to_string()),
    ] {
        assert!(
            joined.contains(&format!("{flag}={val}")) || joined.contains(&format!("{flag} {val}")),
            "template not given {flag} {val}; args: {args:?}"
        );
    }
    let pos = args.iter().position(|a| a == "--marker");
    assert!(
        pos.is_some() && args.get(pos.unwrap() + 1).map(String::as_str) == Some("m4rk"),
        "user args after -- not passed: {args:?}"
    );
    // the container it made runs
    env.start(&n);
    assert_eq!(env.sh_ok(&n, "cat /etc/marker").trim(), "m4rk");
    assert_eq!(env.sh_ok(&n, "cat /etc/made-for").trim(), n);
}

#[test]
fn failing_template_script_reports_its_message_and_leaves_nothing() {
    let Some(env) = TestEnv::new("tfail") else {
        return;
    };
    let script = write_script(
        &env,
        "bad.sh",
        "#!/bin/sh\nmkdir -p \"${3#--rootfs=}/half\" 2>/dev/null\necho 'template-boom: mirror unreachable' >&2\nexit 3\n",
    );
    let n = env.name();
    let o = env.hako(&["create", &n, "-t", script.to_str().unwrap()]);
    o.assert_fails_mentioning("template-boom: mirror unreachable");
    assert!(
        !env.lxcpath.join(&n).exists(),
        "failed template left its dir"
    );
    // a template that does not exist
    let m = env.name();
    env.hako(&["create", &m, "-t", "/nonexistent/template.sh"])
        .assert_fails_mentioning("/nonexistent/template.sh");
    assert!(!env.lxcpath.join(&m).exists());
    // an unknown built-in template name
    let k = env.name();
    env.hako(&["create", &k, "-t", "nosuchtemplate"])
        .assert_fails_mentioning("nosuchtemplate");
    assert!(!env.lxcpath.join(&k).exists());
}

#[test]
fn create_of_an_existing_name_fails_and_keeps_the_original() {
    let Some(env) = TestEnv::new("dup") else {
        return;
    };
    let n = env.busybox();
    let before = env.read_config(&n);
    env.hako(&["create", &n, "-t", "busybox"])
        .assert_fails_with(1, "already exists");
    env.hako(&["create", &n, "-t", "none"])
        .assert_fails_with(1, "already exists");
    assert_eq!(
        env.read_config(&n),
        before,
        "failed create changed the config"
    );
    assert!(env.lxcpath.join(&n).join("rootfs/bin/busybox").exists());
}

#[test]
fn destroy_refuses_a_running_container_without_force() {
    let Some(env) = TestEnv::new("dstry") else {
        return;
    };
    let n = env.busybox();
    env.start(&n);
    let o = env.hako(&["destroy", &n]);
    o.assert_fails_mentioning("running");
    assert!(
        env.lxcpath.join(&n).exists(),
        "destroy removed a running container"
    );
    assert_eq!(env.state(&n), "RUNNING");
    env.hako(&["destroy", &n, "-f"]).assert_ok();
    assert!(!env.lxcpath.join(&n).exists());
    env.assert_no_leaks(&n);
    // destroy of a stopped container
    let m = env.busybox();
    env.hako(&["destroy", &m]).assert_ok();
    assert!(!env.lxcpath.join(&m).exists());
    // and again: it is gone
    env.hako(&["destroy", &m])
        .assert_fails_with(1, "does not exist");
}

#[test]
fn concurrent_starts_of_one_container_one_wins() {
    let Some(env) = TestEnv::new("lock") else {
        return;
    };
    let n = env.busybox();
    let outs: Vec<Out> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..3)
            .map(|_| s.spawn(|| env.hako(&["start", &n])))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let ok = outs.iter().filter(|o| o.code() == 0).count();
    assert_eq!(
        ok, 1,
        "exactly one of three concurrent starts must succeed: {outs:#?}"
    );
    for o in outs.iter().filter(|o| o.code() != 0) {
        assert!(
            o.stderr.contains("running") || o.stderr.contains("lock") || o.stderr.contains("busy"),
            "a losing start must say why: {o:?}"
        );
    }
    assert_eq!(env.state(&n), "RUNNING");
    // exactly one init in the container's pid cgroup
    let pid = env.init_pid(&n);
    assert!(pid_alive(pid));
    let monitors: Vec<String> = fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let c = fs::read(e.path().join("cmdline")).ok()?;
            let c = String::from_utf8_lossy(&c).replace('\0', " ");
            (c.contains(env.lxcpath.to_str().unwrap()) && c.contains(" start ")).then_some(c)
        })
        .collect();
    assert!(
        monitors.len() <= 1,
        "more than one monitor for {n}: {monitors:?}"
    );
}
