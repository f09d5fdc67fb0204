use super::*;

fn assemble(default: Option<&str>, extra: Option<&str>) -> String {
    assemble_config(
        &header_lines(&Template::Busybox, &[]),
        BUILTIN_DEFAULT_CONFIG,
        default.map(|t| (t, Path::new("/etc/hako/default.conf"))),
        extra.map(|t| (t, Path::new("/tmp/extra.conf"))),
        Path::new("/var/lib/hako/web/rootfs"),
        "web",
        Path::new("/var/lib/hako/web/config"),
    )
    .unwrap()
    .render()
}

#[test]
fn a_name_that_is_no_host_name_gets_a_derived_one() {
    let t = assemble_config(
        "",
        BUILTIN_DEFAULT_CONFIG,
        None,
        None,
        Path::new("/lp/web_1/rootfs"),
        "web_1",
        Path::new("/lp/web_1/config"),
    )
    .unwrap()
    .render();
    assert_eq!(values(&t, "lxc.uts.name"), vec!["web-1"]);
}

fn values<'a>(text: &'a str, key: &str) -> Vec<&'a str> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| k.trim() == key)
        .map(|(_, v)| v.trim())
        .collect()
}

#[test]
fn builtin_default_when_no_file() {
    let t = assemble(None, None);
    assert!(
        t.starts_with("# Template used to create this container: busybox\n"),
        "{t}"
    );
    // the default managed network, with a MAC template randomised at create
    assert_eq!(values(&t, "lxc.net.0.type"), vec!["veth"]);
    assert_eq!(values(&t, "lxc.net.0.link"), vec!["hakobr0"]);
    assert_eq!(values(&t, "lxc.net.0.hwaddr"), vec!["00:16:3e:xx:xx:xx"]);
    assert_eq!(
        values(&t, "lxc.rootfs.path"),
        vec!["dir:/var/lib/hako/web/rootfs"]
    );
    assert_eq!(values(&t, "lxc.uts.name"), vec!["web"]);
}

#[test]
fn default_then_extra_with_comments_then_rootfs_and_uts() {
    let t = assemble(
        Some("# site default\nlxc.net.0.type = veth\nlxc.net.0.link = br0\n"),
        Some("# my settings\nlxc.cgroup2.memory.max = 256M # inline\nlxc.uts.name = other\nlxc.rootfs.path = /elsewhere\n"),
    );
    // no built-in default when the file exists
    assert_eq!(values(&t, "lxc.net.0.type"), vec!["veth"]);
    // the order is default, then -f, comments kept
    let site = t.find("# site default").unwrap();
    let mine = t.find("# my settings").unwrap();
    let link = t.find("lxc.net.0.link = br0").unwrap();
    let mem = t.find("lxc.cgroup2.memory.max").unwrap();
    assert!(site < link && link < mine && mine < mem, "{t}");
    // set, not duplicated
    assert_eq!(values(&t, "lxc.uts.name"), vec!["web"]);
    // a key of the default overridden by -f is kept once, with the -f value
    let t = assemble(
        Some("lxc.net.0.type = empty\nlxc.mount.entry = a b none bind 0 0\n"),
        Some("# net\nlxc.net.0.type = veth\nlxc.mount.entry = c d none bind 0 0\n"),
    );
    assert_eq!(values(&t, "lxc.net.0.type"), vec!["veth"]);
    assert!(
        t.find("# net").unwrap() < t.find("lxc.net.0.type").unwrap(),
        "{t}"
    );
    assert_eq!(
        values(&t, "lxc.mount.entry"),
        vec!["a b none bind 0 0", "c d none bind 0 0"]
    );
    assert_eq!(
        values(&t, "lxc.rootfs.path"),
        vec!["dir:/var/lib/hako/web/rootfs"]
    );
}

#[test]
fn busybox_additions_do_not_override_the_user() {
    let mut doc = assemble_config(
        "",
        BUILTIN_DEFAULT_CONFIG,
        None,
        Some((
            "lxc.tty.max = 2\nlxc.signal.halt = SIGPWR\n",
            Path::new("/x.conf"),
        )),
        Path::new("/r"),
        "web",
        Path::new("/c"),
    )
    .unwrap();
    apply_busybox_config(&mut doc);
    let t = doc.render();
    assert_eq!(values(&t, "lxc.tty.max"), vec!["2"]);
    assert_eq!(values(&t, "lxc.signal.halt"), vec!["SIGPWR"]);
    assert_eq!(values(&t, "lxc.signal.reboot"), vec!["SIGTERM"]);
    assert_eq!(values(&t, "lxc.pty.max"), vec!["1024"]);
    assert_eq!(
        values(&t, "lxc.mount.auto"),
        vec!["proc:mixed sys:ro cgroup:mixed"]
    );
    assert_eq!(values(&t, "lxc.autodev"), vec!["1"]);
    assert_eq!(values(&t, "lxc.init.cmd"), vec!["/sbin/init"]);
}

#[test]
fn header_names_template_and_args() {
    let h = header_lines(
        &Template::Script(PathBuf::from("/t/lxc-debian")),
        &["-r".into(), "bookworm".into()],
    );
    assert!(h.contains("to create this container: /t/lxc-debian\n"));
    assert!(h.contains("# Parameters passed to the template: -r bookworm\n"));
}
