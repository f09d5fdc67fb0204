//! Issue 10, point 1 (LSM keys) and 8 (AppArmor), on the host: what `lxc.apparmor.*` and
//! `lxc.selinux.*` do where the kernel has no AppArmor and no active SELinux (as LXC, hako
//! ignores them there, and says so in `info`), and that bad values are still refused.
//! The AppArmor profile itself is proven in the VM with Debian's kernel (tests/vm): there
//! every mount probe is blocked under it and gets through without it.

mod common;

use common::*;
use std::path::Path;

/// The kernel's view, as hako reads it (hako_runtime::lsm::LsmHost::detect): AppArmor
/// enabled, SELinux active.
fn host_lsms() -> (bool, bool) {
    let active = std::fs::read_to_string("/sys/kernel/security/lsm").ok();
    let listed = |m: &str| {
        active
            .as_deref()
            .map(|l| l.trim().split(',').any(|x| x == m))
    };
    let apparmor = listed("apparmor").unwrap_or_else(|| {
        std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
            .map(|v| v.trim() == "Y")
            .unwrap_or(false)
    });
    let selinux = listed("selinux").unwrap_or_else(|| Path::new("/sys/fs/selinux").is_dir());
    (apparmor, selinux)
}

/// What Debian's /etc/lxc/default.conf asks for, plus the other LSM keys.
const LSM_KEYS: &str = "lxc.apparmor.profile = generated\n\
                        lxc.apparmor.allow_nesting = 1\n\
                        lxc.apparmor.raw = deny /hako-test-nothing r,\n\
                        lxc.selinux.context = system_u:system_r:container_t:s0\n";

#[test]
fn lsm_keys_are_ignored_where_the_kernel_lacks_the_modules() {
    let (apparmor, selinux) = host_lsms();
    assert!(
        !apparmor && !selinux,
        "this test is about a kernel without AppArmor and without active SELinux (the \
         development and CI hosts); this kernel has AppArmor={apparmor} SELinux={selinux}: \
         the AppArmor behaviour is tested in the VM (make vm-test)"
    );
    let Some(env) = TestEnv::new("lsm") else {
        return;
    };
    let n = env.busybox();
    env.append_config(&n, LSM_KEYS);

    // stopped: info says what will happen
    let o = env.hako(&["info", &n]);
    o.assert_ok();
    o.assert_stdout_contains(
        "\nAppArmor:       not available on this kernel (lxc.apparmor.profile ignored)\n",
    );
    o.assert_stdout_contains(
        "\nSELinux:        not active on this kernel (lxc.selinux.context ignored)\n",
    );

    // the container starts, without a warning about the keys
    let o = env.start(&n);
    for w in ["apparmor", "selinux"] {
        assert!(
            !o.stderr.to_lowercase().contains(w),
            "start must not warn about {w}:\n{}",
            o.stderr
        );
    }
    assert_eq!(env.state(&n), "RUNNING");
    let pid = env.init_pid(&n);

    let o = env.hako(&["info", &n]);
    o.assert_ok();
    o.assert_stdout_contains(&format!("PID:            {pid}\n"));
    o.assert_stdout_contains(
        "AppArmor:       not available on this kernel (lxc.apparmor.profile ignored)\n",
    );
    o.assert_stdout_contains(
        "SELinux:        not active on this kernel (lxc.selinux.context ignored)\n",
    );

    let o = env.hako(&["info", &n, "--format", "json"]);
    o.assert_ok();
    let j: serde_json::Value = serde_json::from_str(&o.stdout).expect("info --format json");
    let aa = &j["apparmor"];
    assert_eq!(aa["available"], false, "{}", o.stdout);
    assert_eq!(aa["configured"], "generated", "{}", o.stdout);
    assert_eq!(aa["label"], serde_json::Value::Null, "{}", o.stdout);
    assert_eq!(
        aa["status"], "not available on this kernel (lxc.apparmor.profile ignored)",
        "{}",
        o.stdout
    );
    let se = &j["selinux"];
    assert_eq!(se["available"], false, "{}", o.stdout);
    assert_eq!(
        se["configured"], "system_u:system_r:container_t:s0",
        "{}",
        o.stdout
    );
    assert_eq!(
        se["status"], "not active on this kernel (lxc.selinux.context ignored)",
        "{}",
        o.stdout
    );

    // init and an attached command run as before: no label was written (the kernel has
    // none to take), and the attach works
    let out = env.sh_ok(&n, "echo attached");
    assert_eq!(out.trim(), "attached");

    env.hako(&["stop", "-k", &n]).assert_ok();
    env.hako(&["destroy", &n]).assert_ok();
}

#[test]
fn info_without_lsm_keys() {
    let (apparmor, _) = host_lsms();
    assert!(
        !apparmor,
        "this test expects a kernel without AppArmor (the VM test covers AppArmor)"
    );
    let Some(env) = TestEnv::new("lsmi") else {
        return;
    };
    let n = env.busybox();
    let o = env.hako(&["info", &n]);
    o.assert_ok();
    o.assert_stdout_contains("\nAppArmor:       not available on this kernel\n");
    // SELinux is neither active nor configured: no line
    assert!(!o.stdout.contains("SELinux"), "{}", o.stdout);
    // lxc-info prints LXC's fields only
    let o = env.hako(&["info", &n, "--format", "json"]);
    let j: serde_json::Value = serde_json::from_str(&o.stdout).expect("info --format json");
    assert_eq!(j["apparmor"]["configured"], serde_json::Value::Null);
    assert_eq!(j["apparmor"]["status"], "not available on this kernel");
}

#[test]
fn debian_default_conf_starts_under_the_lxc_names() {
    let (apparmor, _) = host_lsms();
    assert!(
        !apparmor,
        "this test expects a kernel without AppArmor (the VM test covers AppArmor)"
    );
    let Some(env) = TestEnv::new("lsmd") else {
        return;
    };
    // Debian's /etc/lxc/default.conf, with the network this test may use
    std::fs::write(
        env.etc.join("lxc/default.conf"),
        "lxc.net.0.type = empty\nlxc.apparmor.profile = generated\nlxc.apparmor.allow_nesting = 1\n",
    )
    .unwrap();
    let x = env.name();
    let p = env.lxcpath.to_str().unwrap().to_string();
    env.lxc("lxc-create", &["-n", &x, "-P", &p, "-t", "busybox"])
        .assert_ok();
    let cfg = std::fs::read_to_string(env.lxcpath.join(&x).join("config")).unwrap();
    assert!(
        cfg.contains("lxc.apparmor.profile = generated"),
        "the default config's keys are in the container's config:\n{cfg}"
    );
    let o = env.lxc("lxc-start", &["-n", &x, "-P", &p]);
    o.assert_ok();
    assert!(
        !o.stderr.to_lowercase().contains("apparmor"),
        "no warning about AppArmor:\n{}",
        o.stderr
    );
    let s = env.lxc("lxc-info", &["-n", &x, "-P", &p, "-s"]);
    s.assert_ok();
    assert_eq!(s.out(), "State:          RUNNING");
    // lxc-info keeps LXC's fields; hako's info adds the AppArmor line
    let i = env.lxc("lxc-info", &["-n", &x, "-P", &p]);
    assert!(!i.stdout.contains("AppArmor"), "{}", i.stdout);
    env.hako(&["info", &x]).assert_ok().assert_stdout_contains(
        "AppArmor:       not available on this kernel (lxc.apparmor.profile ignored)",
    );
    env.lxc("lxc-stop", &["-n", &x, "-P", &p, "-k"]).assert_ok();
    env.lxc("lxc-destroy", &["-n", &x, "-P", &p]).assert_ok();
}

#[test]
fn bad_lsm_values_are_refused() {
    let Some(env) = TestEnv::new("lsmb") else {
        return;
    };
    for (line, key) in [
        (
            "lxc.apparmor.allow_nesting = yes",
            "lxc.apparmor.allow_nesting",
        ),
        (
            "lxc.apparmor.allow_incomplete = 2",
            "lxc.apparmor.allow_incomplete",
        ),
        ("lxc.apparmor.profile = two words", "lxc.apparmor.profile"),
    ] {
        let n = env.busybox();
        env.append_config(&n, &format!("{line}\n"));
        let o = env.hako(&["start", &n]);
        o.assert_fails_mentioning(key);
        assert_eq!(o.code(), 1, "{line}: exit code 1\n{}", o.stderr);
        assert_eq!(env.state(&n), "STOPPED", "{line}");
        assert!(
            payload_cgroups(&n).is_empty(),
            "{line}: a refused start leaves no cgroup"
        );
        env.hako(&["destroy", &n]).assert_ok();
    }
}
