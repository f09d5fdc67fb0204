//! Every key the translation maps: its value, its default, its error.

use super::*;

#[test]
fn defaults() {
    let s = spec("");
    assert_eq!(s.name, "web");
    assert_eq!(s.lxcpath, PathBuf::from("/l"));
    assert_eq!(s.config_path, PathBuf::from(CONFIG));
    assert_eq!(s.rootfs, PathBuf::from("/l/web/rootfs"));
    assert_eq!(s.rootfs_overlay, None);
    assert!(!s.rootfs_readonly);
    assert!(s.mount_auto.is_empty());
    assert!(s.mounts.is_empty());
    assert!(s.autodev);
    assert_eq!(s.autodev_tmpfs_size, 500_000);
    assert_eq!(s.hostname, "web");
    assert!(!s.share_host_net && s.new_netns());
    assert!(s.id_maps.is_empty());
    let ns = s.namespaces();
    assert!(ns.mnt && ns.pid && ns.uts && ns.ipc && ns.net && ns.cgroup && !ns.user);
    assert_eq!(s.init_cmd, ["/sbin/init"]);
    assert_eq!(s.init_mode, InitMode::Exec);
    assert_eq!(s.init_cwd, None);
    assert!(s.init_groups.is_empty());
    assert_eq!((s.init_uid, s.init_gid), (None, None));
    assert!(s.env.is_empty());
    assert_eq!(s.cap_drop, DEFAULT_CAP_DROP);
    assert_eq!(s.cap_keep, None);
    assert!(s.prlimits.is_empty());
    assert!(!s.no_new_privs);
    assert!(s.keyring_session);
    assert_eq!(s.seccomp, vec![hako_seccomp::builtin_program().unwrap()]);
    assert!(s.console);
    assert_eq!(s.console_logfile, None);
    assert_eq!((s.tty_max, s.pty_max), (0, 1024));
    assert_eq!(s.halt_signal, None);
    assert_eq!(
        s.reboot_signal,
        hako_config::values::parse_signal("SIGINT").unwrap()
    );
    assert_eq!(
        s.stop_signal,
        hako_config::values::parse_signal("SIGKILL").unwrap()
    );
    assert_eq!(s.cgroup_dir, None);
    assert_eq!(s.cgroup_inner, "ns");
    assert!(s.cgroup_v1.is_empty() && s.cgroup_v2.is_empty());
    assert!(s.devices_v1.is_empty() && s.devices_v2.is_empty());
    assert!(s.networks.is_empty());
    assert!(!s.start_auto);
    assert_eq!((s.start_delay, s.start_order), (0, 0));
    assert!(s.groups.is_empty());
    assert!(!s.ephemeral && !s.unprivileged);
    assert!(s.hooks.is_empty());
    assert_eq!(s.hooks.version, 0);
    assert_eq!(s.hooks.rootfs_path, "/l/web/rootfs");
    assert_eq!(s.hooks.console_path, None);
    assert_eq!(s.hooks.log_level, "ERROR");
    assert!(s.sysctls.is_empty());
    assert_eq!(s.lsm, crate::LsmConfig::default());
    assert!(s.warnings.is_empty());
    // the mask of the default drop list: those capabilities' bits, nothing else
    let want = DEFAULT_CAP_DROP.iter().fold(0u64, |m, c| {
        m | 1 << hako_config::values::cap_number(c).unwrap()
    });
    assert_eq!(s.dropped_caps(), want);
    // a name that is no valid host name is made one
    let s = from_config(
        "web_1",
        Path::new("/l"),
        Path::new(CONFIG),
        &raw(""),
        &FixedInputs::new(),
    )
    .unwrap();
    assert_eq!(s.hostname, "web-1");
}

/// Each key with a good value: what the spec holds.
#[test]
fn every_key_parsed() {
    type Check = fn(&ContainerSpec);
    let table: &[(&str, Check)] = &[
        ("lxc.rootfs.path = dir:/srv/r", |s| {
            assert_eq!(s.rootfs, PathBuf::from("/srv/r"));
            assert_eq!(s.hooks.rootfs_path, "dir:/srv/r");
        }),
        ("lxc.rootfs.path = /srv/r", |s| {
            assert_eq!(s.rootfs, PathBuf::from("/srv/r"))
        }),
        ("lxc.rootfs.path = btrfs:/srv/b", |s| {
            assert_eq!(s.rootfs, PathBuf::from("/srv/b"))
        }),
        ("lxc.rootfs.path = overlay:/img/a:/img/b:/l/web/overlay/upper", |s| {
            assert_eq!(s.rootfs, PathBuf::from("/l/web/rootfs"));
            assert_eq!(
                s.rootfs_overlay,
                Some(Overlay {
                    lower: vec!["/img/a".into(), "/img/b".into()],
                    upper: "/l/web/overlay/upper".into(),
                    work: "/l/web/overlay/work".into(),
                })
            );
        }),
        ("lxc.rootfs.path = overlayfs:/img:/u/upper", |s| {
            assert_eq!(s.rootfs_overlay.as_ref().unwrap().work, PathBuf::from("/u/work"))
        }),
        ("lxc.rootfs.options = noatime,ro", |s| assert!(s.rootfs_readonly)),
        ("lxc.rootfs.options = rw", |s| assert!(!s.rootfs_readonly)),
        ("lxc.init.cmd = /bin/sh -c 'echo \"a b\"'", |s| {
            assert_eq!(s.init_cmd, ["/bin/sh", "-c", "echo \"a b\""])
        }),
        ("lxc.environment = A=1\nlxc.environment = B=x=y", |s| {
            assert_eq!(
                s.env,
                [("A".into(), "1".into()), ("B".into(), "x=y".into())]
            )
        }),
        ("lxc.mount.auto = proc:rw sys:ro\nlxc.mount.auto = cgroup:mixed:force", |s| {
            assert_eq!(s.mount_auto.proc, Some(ProcMode::Rw));
            assert_eq!(s.mount_auto.sys, Some(SysMode::Ro));
            let c = s.mount_auto.cgroup.unwrap();
            assert_eq!((c.kind, c.mode, c.force), (CgroupKind::Cgroup, CgroupMode::Mixed, true));
        }),
        ("lxc.mount.auto = proc\nlxc.mount.auto = proc:rw", |s| {
            assert_eq!(s.mount_auto.proc, Some(ProcMode::Rw))
        }),
        ("lxc.mount.entry = /h/d srv/d none bind,ro,create=dir 0 0\nlxc.mount.entry = tmpfs tmp tmpfs size=1m,nosuid", |s| {
            assert_eq!(s.mounts.len(), 2);
            let m = &s.mounts[0];
            assert_eq!((m.source.as_str(), m.target.as_str(), m.fstype.as_str()), ("/h/d", "srv/d", "none"));
            assert_eq!(m.flags, MS_BIND | MS_RDONLY);
            assert!(m.create_dir && m.data.is_empty());
            let m = &s.mounts[1];
            assert_eq!((m.flags, m.data.as_str()), (MS_NOSUID, "size=1m"));
        }),
        ("lxc.cap.drop = sys_admin CAP_NET_RAW\nlxc.cap.drop = mknod sys_module", |s| {
            let mut want: Vec<String> = DEFAULT_CAP_DROP.iter().map(|c| c.to_string()).collect();
            want.extend(["sys_admin".into(), "net_raw".into(), "mknod".into()]);
            assert_eq!(s.cap_drop, want);
            assert_ne!(s.dropped_caps() & 1 << 21, 0, "sys_admin");
        }),
        ("lxc.cap.keep = chown net_raw\nlxc.cap.keep = chown", |s| {
            assert_eq!(s.cap_keep, Some(vec!["chown".into(), "net_raw".into()]));
            assert_eq!(s.dropped_caps(), !(1u64 << 0 | 1 << 13) & ((1 << 41) - 1));
        }),
        ("lxc.cap.keep = chown\nlxc.cap.keep = none", |s| {
            assert_eq!(s.cap_keep, Some(vec![]))
        }),
        ("lxc.cap.keep = chown\nlxc.cap.keep =", |s| assert_eq!(s.cap_keep, None)),
        ("lxc.prlimit.nofile = 1024:2048\nlxc.prlimit.core = unlimited\nlxc.prlimit.nofile = 10", |s| {
            assert_eq!(
                s.prlimits,
                [
                    Prlimit { resource: 4, soft: u64::MAX, hard: u64::MAX },
                    Prlimit { resource: 7, soft: 10, hard: 10 },
                ]
            )
        }),
        ("lxc.cgroup.memory.limit_in_bytes = 1G\nlxc.cgroup.devices.deny = a\nlxc.cgroup.devices.allow = c 1:3 rwm\nlxc.cgroup.dir = my/dir", |s| {
            assert_eq!(s.cgroup_v1, [("memory.limit_in_bytes".into(), "1G".into())]);
            assert_eq!(s.devices_v1, [(false, "a".into()), (true, "c 1:3 rwm".into())]);
            assert_eq!(s.cgroup_dir.as_deref(), Some("my/dir"));
            assert!(s.cgroup_v2.is_empty());
        }),
        ("lxc.cgroup2.memory.max = 512M\nlxc.cgroup2.devices.allow = b 8:* r\nlxc.cgroup2.pids.max = 10", |s| {
            assert_eq!(
                s.cgroup_v2,
                [("memory.max".into(), "512M".into()), ("pids.max".into(), "10".into())]
            );
            assert_eq!(s.devices_v2, [(true, "b 8:* r".into())]);
            assert!(s.cgroup_v1.is_empty() && s.devices_v1.is_empty());
        }),
        ("lxc.cgroup.dir.container.inner = inner", |s| assert_eq!(s.cgroup_inner, "inner")),
        ("lxc.console.path = none\nlxc.console.logfile = /var/log/c.log", |s| {
            assert!(!s.console);
            assert_eq!(s.console_logfile, Some(PathBuf::from("/var/log/c.log")));
            assert_eq!(s.hooks.console_path.as_deref(), Some("none"));
        }),
        ("lxc.console.path = /dev/console", |s| assert!(s.console)),
        ("lxc.autodev = 0\nlxc.autodev.tmpfs.size = 1M", |s| {
            assert!(!s.autodev);
            assert_eq!(s.autodev_tmpfs_size, 1 << 20);
        }),
        ("lxc.init.groups = 10,20\nlxc.init.groups = 30", |s| {
            assert_eq!(s.init_groups, [10, 20, 30])
        }),
        ("lxc.uts.name = box1", |s| assert_eq!(s.hostname, "box1")),
        ("lxc.init.cwd = /srv", |s| assert_eq!(s.init_cwd, Some(PathBuf::from("/srv")))),
        ("lxc.init.uid = 1000\nlxc.init.gid = 100", |s| {
            assert_eq!((s.init_uid, s.init_gid), (Some(1000), Some(100)))
        }),
        ("lxc.no_new_privs = 1", |s| assert!(s.no_new_privs)),
        ("lxc.keyring.session = 0", |s| assert!(!s.keyring_session)),
        ("lxc.tty.max = 120\nlxc.pty.max = 8", |s| assert_eq!((s.tty_max, s.pty_max), (120, 8))),
        ("lxc.signal.halt = SIGRTMIN+3\nlxc.signal.reboot = 15\nlxc.signal.stop = term", |s| {
            assert_eq!(s.halt_signal, Some(37));
            assert_eq!((s.reboot_signal, s.stop_signal), (15, 15));
        }),
        ("lxc.start.auto = 1\nlxc.start.delay = 5\nlxc.start.order = -3\nlxc.group = a,b c\nlxc.group = d", |s| {
            assert!(s.start_auto);
            assert_eq!((s.start_delay, s.start_order), (5, -3));
            assert_eq!(s.groups, ["a", "b", "c", "d"]);
        }),
        ("lxc.ephemeral = 1", |s| assert!(s.ephemeral)),
        ("lxc.log.level = 1", |s| assert_eq!(s.hooks.log_level, "DEBUG")),
        ("lxc.hook.version = 1\nlxc.hook.pre-start = /bin/true x", |s| {
            assert_eq!(s.hooks.version, 1);
            assert_eq!(s.hooks.list[0].kind, HookType::PreStart);
            assert_eq!(s.hooks.list[0].origin, "/t/config:2");
        }),
        ("lxc.apparmor.profile = generated\nlxc.apparmor.allow_nesting = 1\nlxc.apparmor.allow_incomplete = 1\nlxc.apparmor.raw = deny /x rw,\nlxc.apparmor.raw = deny /y rw,", |s| {
            assert_eq!(s.lsm.apparmor_profile.as_deref(), Some("generated"));
            assert!(s.lsm.apparmor_allow_nesting && s.lsm.apparmor_allow_incomplete);
            assert_eq!(s.lsm.apparmor_raw, ["deny /x rw,", "deny /y rw,"]);
        }),
        ("lxc.selinux.context = system_u:r:c:s0\nlxc.selinux.context.keyring = k", |s| {
            assert_eq!(s.lsm.selinux_context.as_deref(), Some("system_u:r:c:s0"));
            assert_eq!(s.lsm.selinux_context_keyring.as_deref(), Some("k"));
        }),
        ("lxc.seccomp.profile = unconfined", |s| assert!(s.seccomp.is_empty())),
        ("lxc.seccomp.allow_nesting = 0", |s| assert_eq!(s.seccomp.len(), 1)),
        ("lxc.namespace.clone = mount pid uts ipc net cgroup", |s| {
            assert!(s.namespaces().net && !s.namespaces().user)
        }),
        (
            "lxc.idmap = u 0 100000 65536\nlxc.idmap = g 0 100000 65536\nlxc.namespace.clone = mount pid uts ipc net cgroup user",
            |s| {
                assert!(s.namespaces().user);
                assert_eq!(s.id_maps.len(), 2);
            },
        ),
        ("lxc.sysctl.kernel.msgmax = 4096", |s| {
            assert_eq!(s.sysctls[0].key, "kernel.msgmax");
            assert_eq!(s.sysctls[0].value, "4096");
        }),
    ];
    for (text, check) in table {
        check(&spec(text));
        // what hako-config accepts when it reads the file gives the same
        check(&translate(&load(text), &FixedInputs::new()).unwrap());
    }
    // a start order that is no number (hako-config refuses it when it reads a file): 0
    assert_eq!(spec("lxc.start.order = soon").start_order, 0);
}

/// Each key with a bad value: the error names the container, the key, the value, and the
/// file:line it was set at.
#[test]
fn every_key_refused_with_its_line() {
    let table: &[(&str, &str, usize, &str)] = &[
        (
            "lxc.rootfs.path = rel/dir",
            "lxc.rootfs.path",
            1,
            "dir:PATH, overlay:LOWER:UPPER",
        ),
        (
            "lxc.rootfs.path = overlay:/only",
            "lxc.rootfs.path",
            1,
            "overlay:LOWER:UPPER",
        ),
        (
            "lxc.rootfs.path = overlay:/a:rel",
            "lxc.rootfs.path",
            1,
            "absolute paths",
        ),
        ("lxc.init.cmd = /bin/sh 'x", "lxc.init.cmd", 1, "quote"),
        (
            "lxc.mount.auto = proc\nlxc.mount.auto = sys:bogus",
            "lxc.mount.auto",
            2,
            "unknown filesystem to automount",
        ),
        (
            "lxc.mount.entry = onlyone",
            "lxc.mount.entry",
            1,
            "at least source, target",
        ),
        (
            "lxc.mount.entry = a b c d x 0",
            "lxc.mount.entry",
            1,
            "dump",
        ),
        (
            "lxc.cap.drop = sys_admn",
            "lxc.cap.drop",
            1,
            "did you mean \"sys_admin\"",
        ),
        (
            "lxc.cap.keep = chown\nlxc.cap.keep = bogus",
            "lxc.cap.keep",
            2,
            "unknown capability",
        ),
        ("lxc.prlimit.nofile = lots", "lxc.prlimit.nofile", 1, "lots"),
        (
            "lxc.prlimit.nofiles = 1",
            "lxc.prlimit.nofiles",
            1,
            "unknown resource limit",
        ),
        (
            "lxc.net.0.type = veth\nlxc.net.0.mtu = big",
            "lxc.net.0.mtu",
            2,
            "MTU must be a number between 68 and 65535",
        ),
        (
            "lxc.net.0.type = bogus",
            "lxc.net.0.type",
            1,
            "unknown network type",
        ),
        ("lxc.autodev = 2", "lxc.autodev", 1, "must be 0 or 1"),
        (
            "lxc.autodev.tmpfs.size = big",
            "lxc.autodev.tmpfs.size",
            1,
            "big",
        ),
        (
            "lxc.init.groups = 10,x",
            "lxc.init.groups",
            1,
            "not a group id",
        ),
        (
            "lxc.init.uid = root",
            "lxc.init.uid",
            1,
            "not a non-negative integer",
        ),
        (
            "lxc.init.gid = -1",
            "lxc.init.gid",
            1,
            "not a non-negative integer",
        ),
        (
            "lxc.no_new_privs = yes",
            "lxc.no_new_privs",
            1,
            "must be 0 or 1",
        ),
        (
            "lxc.keyring.session = on",
            "lxc.keyring.session",
            1,
            "must be 0 or 1",
        ),
        ("lxc.tty.max = 500", "lxc.tty.max", 1, "at most 120 ttys"),
        (
            "lxc.tty.max = many",
            "lxc.tty.max",
            1,
            "not a non-negative integer",
        ),
        (
            "lxc.pty.max = -1",
            "lxc.pty.max",
            1,
            "not a non-negative integer",
        ),
        (
            "lxc.signal.halt = SIGNOPE",
            "lxc.signal.halt",
            1,
            "unknown signal",
        ),
        (
            "lxc.signal.reboot = 99",
            "lxc.signal.reboot",
            1,
            "between 1 and",
        ),
        (
            "lxc.signal.stop = RTMIN+99",
            "lxc.signal.stop",
            1,
            "out of range",
        ),
        (
            "lxc.cgroup.dir.container.inner = a/b",
            "lxc.cgroup.dir.container.inner",
            1,
            "one directory name",
        ),
        (
            "lxc.cgroup.dir.container.inner = ..",
            "lxc.cgroup.dir.container.inner",
            1,
            "one directory name",
        ),
        ("lxc.start.auto = 2", "lxc.start.auto", 1, "must be 0 or 1"),
        (
            "lxc.start.delay = soon",
            "lxc.start.delay",
            1,
            "not a non-negative integer",
        ),
        ("lxc.ephemeral = true", "lxc.ephemeral", 1, "must be 0 or 1"),
        ("lxc.hook.mount = /a 'x", "lxc.hook.mount", 1, "quote"),
        (
            "lxc.hook.version = 2",
            "lxc.hook.version",
            1,
            "must be 0 or 1",
        ),
        (
            "lxc.apparmor.profile = two words",
            "lxc.apparmor.profile",
            1,
            "no spaces",
        ),
        (
            "lxc.apparmor.allow_nesting = yes",
            "lxc.apparmor.allow_nesting",
            1,
            "must be 0 or 1",
        ),
        (
            "lxc.apparmor.allow_incomplete = 3",
            "lxc.apparmor.allow_incomplete",
            1,
            "must be 0 or 1",
        ),
        (
            "lxc.seccomp.allow_nesting = maybe",
            "lxc.seccomp.allow_nesting",
            1,
            "must be 0 or 1",
        ),
    ];
    for &(text, key, line, reason) in table {
        let e = err(text);
        let shown = e.to_string();
        assert!(
            matches!(e.kind(), ErrorKind::BadValue { .. }),
            "{text}: {e:?}"
        );
        assert_eq!(e.key(), key, "{text}: {shown}");
        assert_eq!(e.origin().to_string(), format!("{CONFIG}:{line}"), "{text}");
        assert!(
            shown.starts_with(&format!("{CONFIG}:{line}: container \"web\": bad value \"")),
            "{text}: {shown}"
        );
        assert!(
            shown.contains(&format!("for \"{key}\": ")),
            "{text}: {shown}"
        );
        assert!(shown.contains(reason), "{text}: {shown}");
    }
}

/// Settings hako refuses rather than half-honour: the key, the file:line and the fix.
#[test]
fn refused_settings_name_their_line_and_the_fix() {
    let table: &[(&str, &str, usize, &str)] = &[
        (
            "lxc.namespace.keep = net",
            "lxc.namespace.keep",
            1,
            "cannot keep the host's namespaces",
        ),
        (
            "lxc.namespace.clone = mount pid",
            "lxc.namespace.clone",
            1,
            "exactly the namespaces",
        ),
        (
            "lxc.namespace.share.net = other",
            "lxc.namespace.share.net",
            1,
            "hako cannot honour it yet",
        ),
        (
            "lxc.uts.name = a\nlxc.sysctl.kernel.core_pattern = |/x",
            "lxc.sysctl.kernel.core_pattern",
            2,
            "whole host",
        ),
        (
            "lxc.net.0.type = none\nlxc.sysctl.net.ipv4.ip_forward = 1",
            "lxc.sysctl.net.ipv4.ip_forward",
            2,
            "shares the host's network namespace",
        ),
        (
            "lxc.net.0.type = veth\nlxc.net.1.type = none",
            "lxc.net.1.type",
            2,
            "cannot be combined with other interfaces",
        ),
    ];
    for &(text, key, line, reason) in table {
        let e = err(text);
        let shown = e.to_string();
        assert!(
            matches!(e.kind(), ErrorKind::Refused { .. }),
            "{text}: {e:?}"
        );
        assert_eq!(e.key(), key, "{text}");
        assert!(
            shown.starts_with(&format!("{CONFIG}:{line}: container \"web\": ")),
            "{text}: {shown}"
        );
        assert!(
            shown.contains(reason) && shown.contains("remove"),
            "{text}: {shown}"
        );
    }
    // an empty value is no setting
    assert!(spec("lxc.namespace.keep =\nlxc.idmap =").id_maps.is_empty());
}

/// The warnings of the config are passed on, but not those about the security keys
/// (which are errors instead).
#[test]
fn config_warnings_pass_except_security_keys() {
    let mut cfg = raw("lxc.uts.name = a");
    for (line, message) in [
        (3, "\"lxc.utsname\" is a legacy key; use \"lxc.uts.name\""),
        (
            4,
            "\"lxc.seccomp.notify.proxy\" is not supported by hako yet",
        ),
        (5, "\"lxc.rootfs.managed\" is not supported by hako yet"),
    ] {
        cfg.warnings.push(Warning {
            origin: CfgOrigin {
                file: CONFIG.into(),
                line,
            },
            message: message.into(),
        });
    }
    let s = translate(&cfg, &FixedInputs::new()).unwrap();
    assert_eq!(
        s.warnings,
        [
            "/t/config:3: \"lxc.utsname\" is a legacy key; use \"lxc.uts.name\"",
            "/t/config:5: \"lxc.rootfs.managed\" is not supported by hako yet"
        ]
    );
}
