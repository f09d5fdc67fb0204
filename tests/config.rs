//! Issue 2, point 2: the config language (LXC's), as a user meets it through the binary.

mod common;

use common::*;

#[test]
fn unknown_key_in_create_file_fails_with_file_and_line() {
    let Some(env) = TestEnv::new("cfgunk") else {
        return;
    };
    let f = env.write(
        "bad.conf",
        "# a comment\nlxc.environment = A=1\nlxc.no.such.key = 1\n",
    );
    let n = env.name();
    let o = env.hako(&["create", &n, "-t", "busybox", "-f", f.to_str().unwrap()]);
    o.assert_fails_mentioning(&format!("{}:3", f.display()));
    o.assert_stderr_contains("lxc.no.such.key");
    assert!(
        !env.lxcpath.join(&n).exists(),
        "a failed create left {}",
        env.lxcpath.join(&n).display()
    );
    env.assert_no_leaks(&n);
}

#[test]
fn bad_value_in_create_file_fails() {
    let Some(env) = TestEnv::new("cfgval") else {
        return;
    };
    for (i, (line, needle)) in [
        ("lxc.signal.halt = SIGFOO", "SIGFOO"),
        ("lxc.prlimit.nofile = lots", "lots"),
        ("lxc.tty.max = many", "many"),
        ("lxc.autodev = maybe", "maybe"),
    ]
    .iter()
    .enumerate()
    {
        let f = env.write(&format!("bad{i}.conf"), &format!("\n{line}\n"));
        let n = env.name();
        let o = env.hako(&["create", &n, "-t", "busybox", "-f", f.to_str().unwrap()]);
        o.assert_fails_mentioning(needle);
        o.assert_stderr_contains(&format!("{}:2", f.display()));
        assert!(
            !env.lxcpath.join(&n).exists(),
            "failed create left a dir ({line})"
        );
    }
}

#[test]
fn legacy_key_is_accepted_with_a_warning_and_translated() {
    let Some(env) = TestEnv::new("legacy") else {
        return;
    };
    let n = env.busybox();
    // the container's own name line becomes the pre-3.0 spelling
    env.replace_config_line(&n, "lxc.uts.name", "lxc.utsname = foo");
    let o = env.hako(&["config", &n, "lxc.uts.name"]);
    o.assert_ok();
    assert_eq!(o.out(), "foo", "hako config after lxc.utsname = foo");
    // runs with a warning naming the legacy key
    let ex = env.hako(&["execute", &n, "--", "hostname"]);
    ex.assert_ok();
    assert_eq!(
        ex.out(),
        "foo",
        "hostname under execute with lxc.utsname = foo"
    );
    let st = env.hako(&["start", &n]);
    st.assert_ok();
    st.assert_stderr_contains("lxc.utsname");
    // after the boot scripts ran (they must not override lxc.uts.name)
    env.wait_booted(&n);
    // the container's hostname, as a user checks it
    let h = env.sh_ok(&n, "hostname");
    assert_eq!(
        h.trim(),
        "foo",
        "hostname of a running container with lxc.utsname = foo"
    );
}

#[test]
fn legacy_network_and_tty_keys() {
    let Some(env) = TestEnv::new("legnet") else {
        return;
    };
    let n = env.name();
    let f = env.write("legacy.conf", "lxc.network.type = empty\nlxc.tty = 2\n");
    let o = env.hako(&["create", &n, "-t", "busybox", "-f", f.to_str().unwrap()]);
    o.assert_ok();
    let net = env.hako(&["config", &n, "lxc.net.0.type"]);
    net.assert_ok();
    assert_eq!(net.out(), "empty");
}

#[test]
fn uts_name_set_later_in_the_file_wins() {
    let Some(env) = TestEnv::new("utslt") else {
        return;
    };
    let n = env.busybox();
    env.append_config(&n, "lxc.uts.name = later");
    let o = env.hako(&["config", &n, "lxc.uts.name"]);
    o.assert_ok();
    assert_eq!(
        o.out(),
        "later",
        "a single-valued key set twice: hako config must print the value in effect (the last)"
    );
    env.start(&n);
    env.wait_booted(&n);
    assert_eq!(env.sh_ok(&n, "hostname").trim(), "later");
}

#[test]
fn include_of_file_and_directory() {
    let Some(env) = TestEnv::new("incl") else {
        return;
    };
    let inc = env.write("inc/one.conf", "lxc.environment = INCFILE=1\n");
    env.write("incdir/a.conf", "lxc.environment = INCDIR_A=2\n");
    env.write("incdir/b.conf", "lxc.environment = INCDIR_B=3\n");
    let n = env.busybox_with(&format!(
        "lxc.include = {}\nlxc.include = {}\n",
        inc.display(),
        env.path("incdir").display()
    ));
    env.start(&n);
    let environ = env.sh_ok(&n, "tr '\\0' '\\n' < /proc/1/environ");
    for v in ["INCFILE=1", "INCDIR_A=2", "INCDIR_B=3"] {
        assert!(
            environ.lines().any(|l| l == v),
            "{v} from lxc.include missing in init's environment:\n{environ}"
        );
    }
    // a missing include is an error naming it
    let m = env.busybox();
    env.kill(&n);
    env.append_config(
        &m,
        &format!("lxc.include = {}", env.path("nope.conf").display()),
    );
    env.hako(&["start", &m])
        .assert_fails_mentioning("nope.conf");
    env.assert_no_leaks(&m);
}

#[test]
fn config_prints_one_item() {
    let Some(env) = TestEnv::new("cfgget") else {
        return;
    };
    let n = env.busybox();
    let o = env.hako(&["config", &n, "lxc.uts.name"]);
    o.assert_ok();
    assert_eq!(o.stdout, format!("{n}\n"));
    let r = env.hako(&["config", &n, "lxc.rootfs.path"]);
    r.assert_ok();
    assert!(
        r.out().ends_with(&format!("{n}/rootfs")),
        "rootfs path {:?}",
        r.out()
    );
    // as lxc-info -c KEY
    let i = env.hako(&["info", &n, "-c", "lxc.uts.name"]);
    i.assert_ok();
    assert_eq!(i.out(), format!("lxc.uts.name = {n}"));
    // an unknown key is reported (LXC prints "KEY invalid" on stderr), not silently empty
    let u = env.hako(&["config", &n, "lxc.bogus.key"]);
    u.assert_stderr_contains("lxc.bogus.key");
    assert!(
        u.stdout.trim().is_empty(),
        "value printed for an unknown key: {u:?}"
    );
}

#[test]
fn comments_and_order_survive_create() {
    let Some(env) = TestEnv::new("cmts") else {
        return;
    };
    let tag = env.token("keepme");
    let n = env.busybox_with(&format!(
        "# first comment {tag}\nlxc.environment = ORDER_A=1\n  # indented comment {tag}\nlxc.environment = ORDER_B=2\n"
    ));
    let cfg = env.read_config(&n);
    let a = cfg.find(&format!("# first comment {tag}"));
    let b = cfg.find("lxc.environment = ORDER_A=1");
    let c = cfg.find(&format!("# indented comment {tag}"));
    let d = cfg.find("lxc.environment = ORDER_B=2");
    assert!(
        a.is_some() && b.is_some() && c.is_some() && d.is_some(),
        "comments or lines of the -f file lost:\n{cfg}"
    );
    assert!(
        a < b && b < c && c < d,
        "order of the -f file changed:\n{cfg}"
    );
}

#[test]
fn hwaddr_x_digits_are_randomised_at_create() {
    let Some(env) = TestEnv::new("hwaddr") else {
        return;
    };
    let extra = "lxc.net.0.type = empty\nlxc.net.0.hwaddr = 00:16:3e:xx:xx:xx\n";
    let a = env.busybox_with(extra);
    let b = env.busybox_with(extra);
    let mac = |n: &str| {
        let o = env.hako(&["config", n, "lxc.net.0.hwaddr"]);
        o.assert_ok();
        o.out().to_string()
    };
    let (ma, mb) = (mac(&a), mac(&b));
    for m in [&ma, &mb] {
        assert!(m.starts_with("00:16:3e:"), "fixed part changed: {m}");
        let parts: Vec<&str> = m.split(':').collect();
        assert_eq!(parts.len(), 6, "bad mac {m}");
        assert!(
            parts
                .iter()
                .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit())),
            "x digits not replaced in {m}"
        );
    }
    assert_ne!(ma, mb, "two containers got the same random mac");
    assert!(
        !env.read_config(&a).contains("xx:xx"),
        "config still has x digits"
    );
    // the container starts with it
    env.start(&a);
}

#[test]
fn system_default_conf_is_merged_at_create() {
    let Some(env) = TestEnv::new("defcf") else {
        return;
    };
    let tag = env.token("sysdef");
    env.write(
        "etc/hako/default.conf",
        &format!(
            "# system default {tag}\nlxc.environment = SYSDEFAULT={tag}\nlxc.net.0.type = empty\n"
        ),
    );
    let n = env.busybox();
    let cfg = env.read_config(&n);
    assert!(
        cfg.contains(&format!("lxc.environment = SYSDEFAULT={tag}")),
        "$HAKO_SYSCONFDIR/hako/default.conf not merged:\n{cfg}"
    );
    env.start(&n);
    let environ = env.sh_ok(&n, "tr '\\0' '\\n' < /proc/1/environ");
    assert!(environ.lines().any(|l| l == format!("SYSDEFAULT={tag}")));
    // a later change of default.conf does not touch existing containers
    env.write("etc/hako/default.conf", "lxc.environment = CHANGED=1\n");
    assert_eq!(env.read_config(&n), cfg);
}

#[test]
fn checkconfig_validates_a_container_config() {
    let Some(env) = TestEnv::new("chkcf") else {
        return;
    };
    let n = env.busybox();
    env.hako(&["checkconfig", &n]).assert_ok();
    env.append_config(&n, "lxc.signal.halt = SIGNOPE");
    let o = env.hako(&["checkconfig", &n]);
    o.assert_fails_mentioning("SIGNOPE");
    o.assert_stderr_contains(&format!("{}:", env.config_path(&n).display()));
    // the kernel check without a name
    env.hako_cmd().args(["checkconfig"]).run().assert_ok();
}

#[test]
fn upgrade_rewrites_legacy_keys_keeping_comments_and_order() {
    let Some(env) = TestEnv::new("upgr") else {
        return;
    };
    let n = env.busybox();
    env.replace_config_line(
        &n,
        "lxc.uts.name",
        &format!("# the name\nlxc.utsname = {n}"),
    );
    env.replace_config_line(&n, "lxc.tty.max", "# two ttys\nlxc.tty = 2");
    let before = env.read_config(&n);
    env.hako(&["config", &n, "--upgrade"]).assert_ok();
    let after = env.read_config(&n);
    assert!(!after.contains("lxc.utsname"), "legacy key left:\n{after}");
    assert!(
        !after
            .lines()
            .any(|l| l.trim_start().starts_with("lxc.tty =")),
        "{after}"
    );
    // same lines, same order, only the keys renamed
    let expect = before
        .replace(
            &format!("lxc.utsname = {n}"),
            &format!("lxc.uts.name = {n}"),
        )
        .replace("lxc.tty = 2", "lxc.tty.max = 2");
    assert_eq!(after, expect, "upgrade changed more than the legacy keys");
    // no legacy warning any more, and the values hold
    let st = env.hako(&["start", &n]);
    st.assert_ok();
    assert!(!st.stderr.contains("legacy"), "{st:?}");
    let devs = env.sh_ok(&n, "ls /dev");
    assert!(devs.split_whitespace().any(|d| d == "tty2"));
    assert!(
        !devs.split_whitespace().any(|d| d == "tty3"),
        "lxc.tty = 2 gave more ttys: {devs}"
    );
}
