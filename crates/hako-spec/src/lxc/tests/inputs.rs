//! Fstab text and the environment through the inputs; the larger parts.

use super::*;

#[test]
fn lxc_environment_passes_host_variables_through_the_inputs() {
    let cfg = raw("lxc.environment = A=1\n\
         lxc.environment = HOME\n\
         lxc.environment = NOT_SET_ANYWHERE\n\
         lxc.environment = TERM=vt100");
    let inputs = FixedInputs::new().var("HOME", "/root").var("TERM", "xterm");
    let s = translate(&cfg, &inputs).unwrap();
    let env: Vec<(&str, &str)> = s
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(env, [("A", "1"), ("HOME", "/root"), ("TERM", "vt100")]);
    // an empty lxc.environment clears what came before
    let s = translate(
        &raw("lxc.environment = A=1\nlxc.environment =\nlxc.environment = HOME"),
        &inputs,
    )
    .unwrap();
    assert_eq!(s.env, [("HOME".to_string(), "/root".to_string())]);
}

#[test]
fn fstab_entries_come_from_the_text_the_front_end_read() {
    let fstab = "# comment\n\n/h/a  srv/a none bind,ro 0 0\nproc proc proc nosuid,nodev 0 0\n";
    let inputs = FixedInputs::new().file("/t/fstab", fstab);
    let cfg = raw("lxc.mount.entry = tmpfs tmp tmpfs size=1m\n\
         lxc.mount.fstab = /t/fstab");
    let s = translate(&cfg, &inputs).unwrap();
    // the fstab's entries first, then lxc.mount.entry's
    let targets: Vec<&str> = s.mounts.iter().map(|m| m.target.as_str()).collect();
    assert_eq!(targets, ["srv/a", "proc", "tmp"]);
    assert_eq!(s.mounts[0].flags, MS_BIND | MS_RDONLY);
    assert_eq!(s.mounts[1].flags, MS_NOSUID | MS_NODEV);
    // a file that cannot be read: the config line and the reason
    let e = translate(&cfg, &FixedInputs::new()).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::Unreadable { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        "/t/config:2: container \"web\": cannot read lxc.mount.fstab file /t/fstab: no such file or directory; fix the path or remove the line"
    );
    // a bad line in it: the config line, and the fstab's line
    let inputs = FixedInputs::new().file("/t/fstab", "proc proc proc\nonlyone\n");
    let e = translate(&cfg, &inputs).unwrap_err();
    assert_eq!(e.key(), "lxc.mount.fstab");
    assert_eq!(e.origin().to_string(), "/t/config:2");
    assert!(e.to_string().contains("line 2: a mount entry needs"), "{e}");
}

#[test]
fn network_interfaces() {
    let s = spec(
        "lxc.net.0.type = veth\n\
         lxc.net.0.link = br0\n\
         lxc.net.0.name = eth0\n\
         lxc.net.0.hwaddr = 00:16:3e:00:00:01\n\
         lxc.net.0.mtu = 1400\n\
         lxc.net.0.flags = up\n\
         lxc.net.0.ipv4.address = 10.0.3.5/24\n\
         lxc.net.0.ipv4.address = 10.0.4.5/24\n\
         lxc.net.0.ipv4.gateway = 10.0.3.1\n\
         lxc.net.0.ipv6.address = fd00::5/64\n\
         lxc.net.0.ipv6.gateway = auto\n\
         lxc.net.0.veth.pair = vethweb\n\
         lxc.net.0.veth.mode = bridge\n\
         lxc.net.0.script.up = /bin/up\n\
         lxc.net.0.script.down = /bin/down\n\
         lxc.net.2.type = macvlan\n\
         lxc.net.2.macvlan.mode = bridge\n\
         lxc.net.2.link = eth9\n\
         lxc.net.3.link = unused-without-type",
    );
    assert_eq!(s.networks.len(), 2);
    let n = &s.networks[0];
    assert_eq!((n.index, &n.kind), (0, &NetKind::Veth));
    assert_eq!(n.link.as_deref(), Some("br0"));
    assert_eq!(n.name.as_deref(), Some("eth0"));
    assert_eq!(text(&n.hwaddr).as_deref(), Some("00:16:3e:00:00:01"));
    assert_eq!(n.mtu, Some(1400));
    assert!(n.up);
    assert_eq!(texts(&n.ipv4), ["10.0.3.5/24", "10.0.4.5/24"]);
    assert_eq!(text(&n.ipv4_gateway).as_deref(), Some("10.0.3.1"));
    assert_eq!(texts(&n.ipv6), ["fd00::5/64"]);
    assert_eq!(text(&n.ipv6_gateway).as_deref(), Some("auto"));
    assert_eq!(n.veth_pair.as_deref(), Some("vethweb"));
    assert_eq!(n.veth_mode.as_deref(), Some("bridge"));
    assert_eq!(n.script_up.as_deref(), Some("/bin/up"));
    assert_eq!(n.script_down.as_deref(), Some("/bin/down"));
    let n = &s.networks[1];
    assert_eq!((n.index, &n.kind), (2, &NetKind::Macvlan));
    assert_eq!(n.macvlan_mode.as_deref(), Some("bridge"));
    assert!(!n.up && n.mtu.is_none() && n.ipv4.is_empty());
    assert!(!s.share_host_net);
    for (t, kind) in [
        ("empty", NetKind::Empty),
        ("phys", NetKind::Phys),
        ("vlan", NetKind::Vlan),
        ("ipvlan", NetKind::Ipvlan),
    ] {
        assert_eq!(
            spec(&format!("lxc.net.0.type = {t}")).networks[0].kind,
            kind
        );
    }
    // none: the host's network, no namespace of its own
    let s = spec("lxc.net.0.type = none");
    assert!(s.share_host_net && !s.new_netns() && !s.namespaces().net);
    assert_eq!(s.networks[0].kind, NetKind::None);
}

#[test]
fn sysctls_keep_order_take_last_value_and_name_the_line() {
    let s = translate(
        &load(
            "lxc.sysctl.net.ipv4.ip_forward = 1\n\
             lxc.sysctl.kernel.msgmax = 4096\n\
             lxc.sysctl.net.ipv4.ip_forward = 0\n\
             lxc.sysctl.kernel.shmmni = 10\n\
             lxc.sysctl.kernel.shmmni =\n",
        ),
        &FixedInputs::new(),
    )
    .unwrap();
    let kv: Vec<_> = s
        .sysctls
        .iter()
        .map(|x| (x.key.as_str(), x.value.as_str()))
        .collect();
    assert_eq!(
        kv,
        [("net.ipv4.ip_forward", "0"), ("kernel.msgmax", "4096")]
    );
    assert_eq!(s.sysctls[0].origin, "/t/config:3");
    assert_eq!(
        s.sysctls[0].rel_path(),
        PathBuf::from("net/ipv4/ip_forward")
    );
    let e = translate(
        &load("lxc.sysctl.kernel.msgmax = 1\nlxc.sysctl.kernel.core_pattern = |/x\n"),
        &FixedInputs::new(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("/t/config:2") && e.contains("kernel.core_pattern") && e.contains("whole host"),
        "{e}"
    );
    let s = translate(&load("lxc.sysctl =\n"), &FixedInputs::new()).unwrap();
    assert!(s.sysctls.is_empty());
}

#[test]
fn hooks_from_config_in_order_with_clearing() {
    let hooks = |text: &str| {
        from_config(
            "c",
            Path::new("/l"),
            Path::new(CONFIG),
            &load(text),
            &FixedInputs::new(),
        )
        .map(|s| s.hooks)
    };
    let h = hooks(
        "lxc.hook.mount = /a/one x\n\
         lxc.hook.pre-start = /b 'two words'\n\
         lxc.hook.mount = /a/two\n\
         lxc.hook.stop = /s\n\
         lxc.hook.stop =\n\
         lxc.hook.stop = /s2\n\
         lxc.hook.version = 1\n",
    )
    .unwrap();
    assert_eq!(h.version, 1);
    let m: Vec<_> = h.of(HookType::Mount).map(|x| x.argv.clone()).collect();
    assert_eq!(m, vec![vec!["/a/one", "x"], vec!["/a/two"]]);
    let p: Vec<_> = h.of(HookType::PreStart).map(|x| x.argv.clone()).collect();
    assert_eq!(p, vec![vec!["/b", "two words"]]);
    let s: Vec<_> = h.of(HookType::Stop).map(|x| x.argv.clone()).collect();
    assert_eq!(s, vec![vec!["/s2"]]);
    assert_eq!(h.of(HookType::Mount).next().unwrap().origin, "/t/config:1");
    assert_eq!(h.rootfs_path, "/l/c/rootfs");
    assert_eq!(h.log_level, "ERROR");
    // lxc.hook = clears every list
    let h = hooks("lxc.hook.mount = /a\nlxc.hook.stop = /b\nlxc.hook =\nlxc.hook.clone = /c\n")
        .unwrap();
    assert_eq!(h.list.len(), 1);
    assert_eq!(h.list[0].kind, HookType::Clone);
    assert_eq!(h.version, 0);
    // an unterminated quote names the line
    let e = hooks("lxc.hook.mount = /a 'x\n").unwrap_err().to_string();
    assert!(
        e.contains("/t/config:1") && e.contains("lxc.hook.mount"),
        "{e}"
    );
}

#[test]
fn which_seccomp_filters_a_config_gets() {
    let path = Path::new("/c/config");
    let filters = |config: &str, inputs: &FixedInputs| {
        let cfg = hako_config::load_str(config, path).unwrap();
        from_config("web", Path::new("/l"), path, &cfg, inputs).map(|s| (s.seccomp, s.warnings))
    };
    let none = FixedInputs::new();
    let err = |config: &str, inputs: &FixedInputs| filters(config, inputs).unwrap_err().to_string();
    let builtin = vec![hako_seccomp::builtin_program().unwrap()];
    // no key, or an empty one: the built-in profile
    assert_eq!(filters("", &none).unwrap().0, builtin);
    assert_eq!(
        filters("lxc.seccomp.profile =\n", &none).unwrap().0,
        builtin
    );
    assert_eq!(
        filters("lxc.seccomp.allow_nesting = 1\n", &none).unwrap().0,
        builtin
    );
    // unconfined: none
    assert!(filters("lxc.seccomp.profile = unconfined\n", &none)
        .unwrap()
        .0
        .is_empty());
    // a file: stacked on the built-in one, its warnings passed on
    let f = "/p/p.seccomp";
    let inputs = FixedInputs::new().file(f, "2\ndenylist\nno_such_call errno 1\nmknod errno 1\n");
    let (progs, warnings) = filters(&format!("lxc.seccomp.profile = {f}\n"), &inputs).unwrap();
    assert_eq!(progs.len(), 2);
    assert_eq!(progs[0], builtin[0]);
    assert_eq!(progs[1].origin, f);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].starts_with(&format!(
            "container \"web\": seccomp profile {f}:3: unknown system call \"no_such_call\""
        )),
        "{warnings:?}"
    );
    // a parse error names the config line and the profile's line
    let inputs = FixedInputs::new().file(f, "2\ndenylist\n\nmknod errno x\n");
    let e = err(&format!("lxc.seccomp.profile = {f}\n"), &inputs);
    assert!(
        e.starts_with(&format!(
            "container \"web\": lxc.seccomp.profile (/c/config:1): {f}:4: \"x\" is not a valid errno number"
        )),
        "{e}"
    );
    // keys hako cannot honour
    let e = err(
        "lxc.uts.name = web\nlxc.seccomp.notify.proxy = unix:/run/p.sock\n",
        &none,
    );
    assert!(
        e.contains("lxc.seccomp.notify.proxy (/c/config:2)")
            && e.contains("not supported by hako yet; remove the key"),
        "{e}"
    );
    let e = err("lxc.seccomp.notify.cookie = x\n", &none);
    assert!(e.contains("lxc.seccomp.notify.cookie"), "{e}");
    let e = err("lxc.seccomp.profile = rel/p.seccomp\n", &none);
    assert!(e.contains("is not an absolute path"), "{e}");
    assert!(e.contains("\"rel/p.seccomp\""), "{e}");
    // a file that cannot be read: the reader's words and the fix
    let e = err("lxc.seccomp.profile = /nonexistent/p.seccomp\n", &none);
    assert!(
        e.contains("cannot open seccomp profile /nonexistent/p.seccomp: no such file or directory; fix the path"),
        "{e}"
    );
    let e = filters("lxc.seccomp.profile = /nonexistent/p.seccomp\n", &none).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::Seccomp { .. }), "{e:?}");
    assert_eq!(e.key(), "lxc.seccomp.profile");
    assert_eq!(e.origin().to_string(), "/c/config:1");
}

#[test]
fn id_maps_are_typed_and_checked() {
    let x = crate::lxc::Lxc {
        name: "web",
        config_path: Path::new(CONFIG),
        cfg: &raw("lxc.idmap = u 0 100000 65536\nlxc.idmap = g 0 200000 1000"),
    };
    let maps = x.id_maps().unwrap();
    assert_eq!(maps.len(), 2);
    assert_eq!(
        (maps[0].kind, maps[0].container, maps[0].host, maps[0].count),
        (IdKind::Uid, 0, 100000, 65536)
    );
    assert_eq!(maps[1].kind, IdKind::Gid);
    let x = crate::lxc::Lxc {
        cfg: &raw("lxc.idmap = x 0 1 1"),
        ..x
    };
    let e = x.id_maps().unwrap_err();
    assert_eq!(e.key(), "lxc.idmap");
    assert!(e.to_string().contains("u or g"), "{e}");
    // each bad map names its line and what to do
    for (cfg, line, needle) in [
        (
            "lxc.idmap = u 1 100000 10\nlxc.idmap = g 0 1 1",
            2,
            "user id 0",
        ),
        ("lxc.idmap = u 0 100000 10", 1, "group id 0"),
        (
            "lxc.idmap = u 0 100000 0\nlxc.idmap = g 0 1 1",
            1,
            "at least 1",
        ),
        (
            "lxc.idmap = u 0 4294967290 10\nlxc.idmap = g 0 1 1",
            1,
            "past 4294967295",
        ),
        (
            "lxc.idmap = u 0 100000 65536\nlxc.idmap = u 5 300000 1\nlxc.idmap = g 0 1 1",
            2,
            "inside the container",
        ),
        (
            "lxc.idmap = u 0 100000 65536\nlxc.idmap = u 70000 100005 1\nlxc.idmap = g 0 1 1",
            2,
            "on the host",
        ),
    ] {
        let x = crate::lxc::Lxc {
            cfg: &raw(cfg),
            ..x
        };
        let e = x.id_maps().unwrap_err();
        assert_eq!(e.key(), "lxc.idmap", "{cfg}");
        assert_eq!(
            e.origin().to_string(),
            format!("{CONFIG}:{line}"),
            "{cfg}: {e}"
        );
        assert!(e.to_string().contains(needle), "{cfg}: {e}");
    }
    // uids and gids are separate: the same numbers in both are fine, and ranges that
    // only touch do not overlap
    let x = crate::lxc::Lxc {
        cfg: &raw("lxc.idmap = u 0 100000 1000\nlxc.idmap = u 1000 101000 64536\nlxc.idmap = g 0 100000 65536"),
        ..x
    };
    assert_eq!(x.id_maps().unwrap().len(), 3);
}

/// A typed network value as the text it was written as.
fn text<T: std::fmt::Display>(v: &Option<T>) -> Option<String> {
    v.as_ref().map(|v| v.to_string())
}

fn texts<T: std::fmt::Display>(v: &[T]) -> Vec<String> {
    v.iter().map(|v| v.to_string()).collect()
}
