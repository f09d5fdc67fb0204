use super::label::{exec_command_str, parse_label};
use super::status::{apparmor_status_on, selinux_status_on};
use super::*;

fn cfg() -> LsmConfig {
    LsmConfig::default()
}

#[test]
fn profile_names() {
    let rt = Path::new("/run/hako/0123456789abcdef/web");
    let a = profile_name("web", rt);
    assert!(
        a.starts_with("hako-web-") && a.len() == "hako-web-".len() + 16,
        "{a}"
    );
    assert_eq!(a, profile_name("web", rt), "stable");
    assert_ne!(
        a,
        profile_name("web", Path::new("/run/hako/fedcba9876543210/web"))
    );
    // unusual characters are replaced; the hash keeps the names apart
    let b = profile_name("a:b", Path::new("/run/hako/x/a:b"));
    let c = profile_name("a;b", Path::new("/run/hako/x/a;b"));
    assert!(b.starts_with("hako-a_b-") && c.starts_with("hako-a_b-"));
    assert_ne!(b, c);
}

fn host(apparmor: bool, fs: bool, mounts: bool, selinux: bool) -> LsmHost {
    LsmHost {
        apparmor,
        apparmor_fs: fs.then(|| PathBuf::from("/nonexistent/apparmor")),
        apparmor_mounts: mounts,
        selinux,
    }
}

fn plan_on(c: &LsmConfig, h: &LsmHost) -> Result<AppArmor> {
    plan(
        c,
        h,
        "web",
        Path::new("/run/hako/x/web"),
        Path::new("/l/web/config"),
    )
}

#[test]
fn plan_without_apparmor_ignores_the_keys() {
    let c = LsmConfig {
        apparmor_profile: Some("generated".into()),
        apparmor_raw: vec!["x".into()],
        ..cfg()
    };
    assert_eq!(
        plan_on(&c, &host(false, false, false, false)).unwrap(),
        AppArmor::NotAvailable
    );
    let s = LsmConfig {
        selinux_context: Some("system_u:system_r:container_t:s0".into()),
        ..cfg()
    };
    assert_eq!(
        plan_on(&s, &host(false, false, false, false)).unwrap(),
        AppArmor::NotAvailable
    );
}

#[test]
fn plan_with_apparmor() {
    let h = host(true, true, true, false);
    match plan_on(&cfg(), &h).unwrap() {
        AppArmor::Generated { name, text } => {
            assert_eq!(name, profile_name("web", Path::new("/run/hako/x/web")));
            assert!(text.contains(&format!("profile {name} ")));
        }
        other => panic!("unset must mean generated: {other:?}"),
    }
    let with = |p: &str| LsmConfig {
        apparmor_profile: Some(p.into()),
        ..cfg()
    };
    assert_eq!(
        plan_on(&with("unconfined"), &h).unwrap(),
        AppArmor::Unconfined
    );
    assert_eq!(
        plan_on(&with("unchanged"), &h).unwrap(),
        AppArmor::Unchanged
    );
    assert_eq!(plan_on(&with("unconfined"), &h).unwrap().exec_label(), None);
    // a named profile must be loaded
    let e = plan_on(&with("my-profile"), &h).unwrap_err().to_string();
    assert!(
        e.contains("lxc.apparmor.profile = my-profile")
            && e.contains("no AppArmor profile of that name is loaded"),
        "{e}"
    );
    // stacked labels are the kernel's to resolve
    assert_eq!(
        plan_on(&with("a//&b"), &h).unwrap(),
        AppArmor::Named("a//&b".into())
    );
    // raw lines only with the generated profile
    let raw = LsmConfig {
        apparmor_raw: vec!["mount,".into()],
        ..with("unconfined")
    };
    let e = plan_on(&raw, &h).unwrap_err().to_string();
    assert!(
        e.contains("lxc.apparmor.raw") && e.contains("/l/web/config"),
        "{e}"
    );
}

#[test]
fn plan_refuses_what_it_cannot_honour() {
    // AppArmor enabled, securityfs not mounted
    let e = plan_on(&cfg(), &host(true, false, false, false))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("securityfs") && e.contains("mount -t securityfs"),
        "{e}"
    );
    // unconfined needs no securityfs
    let u = LsmConfig {
        apparmor_profile: Some("unconfined".into()),
        ..cfg()
    };
    assert_eq!(
        plan_on(&u, &host(true, false, false, false)).unwrap(),
        AppArmor::Unconfined
    );
    // no mount mediation: only with allow_incomplete
    let e = plan_on(&cfg(), &host(true, true, false, false))
        .unwrap_err()
        .to_string();
    assert!(e.contains("lxc.apparmor.allow_incomplete = 1"), "{e}");
    let inc = LsmConfig {
        apparmor_allow_incomplete: true,
        ..cfg()
    };
    assert!(matches!(
        plan_on(&inc, &host(true, true, false, false)).unwrap(),
        AppArmor::Generated { .. }
    ));
    // SELinux active: its keys stop the start, with or without AppArmor
    for h in [
        host(false, false, false, true),
        host(true, true, true, true),
    ] {
        let s = LsmConfig {
            selinux_context: Some("system_u:system_r:svirt_lxc_net_t:s0".into()),
            ..cfg()
        };
        let e = plan_on(&s, &h).unwrap_err().to_string();
        assert!(
            e.contains("lxc.selinux.context") && e.contains("SELinux is active"),
            "{e}"
        );
        let k = LsmConfig {
            selinux_context_keyring: Some("x".into()),
            ..cfg()
        };
        let e = plan_on(&k, &h).unwrap_err().to_string();
        assert!(e.contains("lxc.selinux.context.keyring"), "{e}");
    }
}

/// A fake /sys with the files detection reads.
fn fake_sys(files: &[(&str, &str)], dirs: &[&str]) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for dir in dirs {
        std::fs::create_dir_all(d.path().join(dir)).unwrap();
    }
    for (f, text) in files {
        let p = d.path().join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    d
}

#[test]
fn detect_on_fake_trees() {
    // this development host: no AppArmor module, SELinux built in but not active,
    // securityfs not mounted
    let t = fake_sys(&[], &["kernel/security", "fs"]);
    assert_eq!(LsmHost::detect_in(t.path()), LsmHost::default());

    // Debian's kernel: AppArmor enabled, securityfs mounted, mount rules
    let t = fake_sys(
        &[
            ("module/apparmor/parameters/enabled", "Y\n"),
            (
                "kernel/security/lsm",
                "lockdown,capability,landlock,yama,apparmor",
            ),
            ("kernel/security/apparmor/profiles", ""),
            ("kernel/security/apparmor/.remove", ""),
        ],
        &["kernel/security/apparmor/features/mount"],
    );
    let h = LsmHost::detect_in(t.path());
    assert!(h.apparmor && h.apparmor_mounts && !h.selinux, "{h:?}");
    assert_eq!(
        h.apparmor_fs,
        Some(t.path().join("kernel/security/apparmor"))
    );

    // AppArmor enabled, securityfs not mounted: enabled, but no fs
    let t = fake_sys(
        &[("module/apparmor/parameters/enabled", "Y\n")],
        &["kernel/security"],
    );
    let h = LsmHost::detect_in(t.path());
    assert!(
        h.apparmor && h.apparmor_fs.is_none() && !h.apparmor_mounts,
        "{h:?}"
    );

    // built in but disabled at boot (apparmor=0)
    let t = fake_sys(&[("module/apparmor/parameters/enabled", "N\n")], &[]);
    assert!(!LsmHost::detect_in(t.path()).apparmor);

    // the list of active modules wins over the parameter
    let t = fake_sys(
        &[
            ("module/apparmor/parameters/enabled", "Y\n"),
            ("kernel/security/lsm", "capability,selinux"),
        ],
        &[],
    );
    let h = LsmHost::detect_in(t.path());
    assert!(!h.apparmor && h.selinux, "{h:?}");

    // SELinux without securityfs: the kernel's /sys/fs/selinux mount point
    let t = fake_sys(&[], &["fs/selinux"]);
    assert!(LsmHost::detect_in(t.path()).selinux);

    // older kernels without mount mediation
    let t = fake_sys(
        &[
            ("module/apparmor/parameters/enabled", "Y\n"),
            ("kernel/security/apparmor/profiles", ""),
        ],
        &["kernel/security/apparmor/features"],
    );
    let h = LsmHost::detect_in(t.path());
    assert!(
        h.apparmor && h.apparmor_fs.is_some() && !h.apparmor_mounts,
        "{h:?}"
    );
}

#[test]
fn loaded_profiles_and_labels() {
    let t = fake_sys(
        &[(
            "profiles",
            "hako-web-0123 (enforce)\nlxc-container-default-cgns (enforce)\n/usr/bin/man (complain)\n",
        )],
        &[],
    );
    assert!(profile_loaded(t.path(), "hako-web-0123"));
    assert!(profile_loaded(t.path(), "/usr/bin/man"));
    assert!(!profile_loaded(t.path(), "hako-web"));
    assert_eq!(parse_label(b"hako-web-0123 (enforce)\n"), "hako-web-0123");
    assert_eq!(parse_label(b"unconfined\n"), "unconfined");
    assert_eq!(parse_label(b"a//&b (complain)\0"), "a//&b");
    assert_eq!(exec_command_str("hako-web-0123"), "exec hako-web-0123");
}

#[test]
fn info_lines() {
    let rt = Path::new("/run/hako/x/web");
    let none = host(false, false, false, false);
    let gen = LsmConfig {
        apparmor_profile: Some("generated".into()),
        ..cfg()
    };
    let s = apparmor_status_on(&none, Some(&gen), "web", rt, None);
    assert_eq!(
        s.status,
        "not available on this kernel (lxc.apparmor.profile ignored)"
    );
    assert!(!s.available);
    assert_eq!(s.configured.as_deref(), Some("generated"));
    let s = apparmor_status_on(&none, Some(&cfg()), "web", rt, None);
    assert_eq!(s.status, "not available on this kernel");
    let aa = host(true, true, true, false);
    let s = apparmor_status_on(&aa, Some(&cfg()), "web", rt, None);
    assert_eq!(s.label, Some(profile_name("web", rt)));
    assert!(s.status.ends_with("(generated at start)"), "{}", s.status);
    let sel = LsmConfig {
        selinux_context: Some("x".into()),
        ..cfg()
    };
    assert_eq!(
        selinux_status_on(&none, Some(&sel)).status,
        "not active on this kernel (lxc.selinux.context ignored)"
    );
    assert!(
        selinux_status_on(&host(false, false, false, true), Some(&sel))
            .status
            .contains("start refuses it")
    );
}
