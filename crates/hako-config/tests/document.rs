//! Lossless documents: round trips, edits that keep comments, MAC templates, legacy upgrade.

use std::path::Path;

use hako_config::values::parse_hwaddr;
use hako_config::{load_str, randomize_hwaddrs, upgrade_document, ConfigError, Document};

const LXC_CONFIG_DIR: &str = "/usr/share/lxc/config";

/// A hand-written file with everything a parser can trip over.
const ODD: &str = concat!(
    "# leading comment\n",
    "\n",
    "   # indented comment\n",
    "lxc.uts.name=web\n",
    "\tlxc.tty.max   =    4   \n",
    "lxc.cap.drop =\n",
    "lxc.cap.drop = sys_module   # not a comment, part of the value\n",
    "lxc.init.cmd = \"/sbin/init --log-level=debug\"\n",
    "lxc.environment = A=b=c\r\n",
    "\r\n",
    "lxc.net.0.type = veth\n",
    "lxc.tty.dir =    \n",
    "   \n",
    "lxc.cgroup.devices.allow = c 1:3 rwm\n",
    "# trailing comment without newline",
);

fn doc(text: &str) -> Document {
    Document::parse(text, Path::new("/test/config")).unwrap()
}

#[test]
fn round_trip_hand_written() {
    let d = doc(ODD);
    assert_eq!(d.render(), ODD);
    assert_eq!(d.get("lxc.uts.name"), Some("web"));
    assert_eq!(d.get("lxc.tty.max"), Some("4"));
    assert_eq!(
        d.get_all("lxc.cap.drop"),
        vec!["", "sys_module   # not a comment, part of the value"]
    );
    assert_eq!(
        d.get("lxc.init.cmd"),
        Some("/sbin/init --log-level=debug"),
        "quotes are removed as LXC does"
    );
    assert_eq!(d.get("lxc.environment"), Some("A=b=c"), "CR is whitespace");
    assert_eq!(d.get("lxc.tty.dir"), Some(""));
    assert_eq!(d.get("lxc.nothing"), None);
    assert_eq!(d.entries().count(), 9);
    let lines: Vec<usize> = d.entries_with_lines().map(|(n, _, _)| n).collect();
    assert_eq!(lines, vec![4, 5, 6, 7, 8, 9, 11, 12, 14]);
}

#[test]
fn round_trip_edge_cases() {
    for text in [
        "",
        "\n",
        "\n\n\n",
        "# only",
        "a=b",
        "a = b\n",
        "  \t\n#x\n",
        "k=\n",
        "k = v = w\n",
        "lxc.x=\u{00e9}\u{4e2d}\n",
    ] {
        assert_eq!(doc(text).render(), text, "{text:?}");
    }
    assert_eq!(doc("k = v = w").get("k"), Some("v = w"));
}

#[test]
fn round_trip_lxc_files() {
    let dir = Path::new(LXC_CONFIG_DIR);
    if !dir.is_dir() {
        eprintln!(
            "skipped: {LXC_CONFIG_DIR} does not exist (install the lxc package to run this test)"
        );
        return;
    }
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "conf") {
            let text = std::fs::read_to_string(&p).unwrap();
            let d = Document::parse(&text, &p).unwrap();
            assert_eq!(d.render(), text, "{}", p.display());
            n += 1;
        }
    }
    assert!(n >= 10, "expected LXC's config files, found {n}");
}

#[test]
fn syntax_errors_name_file_and_line() {
    let e = Document::parse(
        "# ok\nlxc.uts.name = a\nthis line has no equals sign\n",
        Path::new("/etc/x.conf"),
    )
    .unwrap_err();
    let msg = e.to_string();
    assert!(
        matches!(e, ConfigError::Syntax { ref origin, .. } if origin.line == 3),
        "{msg}"
    );
    assert!(
        msg.starts_with("/etc/x.conf:3: syntax error in \"this line has no equals sign\""),
        "{msg}"
    );
    assert!(msg.contains("comment the line out"), "{msg}");
    let e = Document::parse("  = value\n", Path::new("/etc/x.conf")).unwrap_err();
    assert!(e.to_string().contains("no key before"), "{e}");
}

#[test]
fn set_rewrites_in_place_and_keeps_comments() {
    let mut d = doc(ODD);
    d.set("lxc.uts.name", "db");
    d.set("lxc.tty.max", "8");
    d.set("lxc.tty.dir", "lxc");
    let out = d.render();
    assert!(out.contains("lxc.uts.name=db\n"), "{out}");
    assert!(
        out.contains("\tlxc.tty.max   =    8   \n"),
        "spacing kept: {out}"
    );
    assert!(out.contains("lxc.tty.dir =    lxc\n"), "{out}");
    assert!(out.starts_with("# leading comment\n\n   # indented comment\n"));
    assert!(out.ends_with("# trailing comment without newline"));
    assert_eq!(out.lines().count(), ODD.lines().count());

    // "key =" with nothing after it gets a space; "key=" does not
    let mut d = doc("a =\nb=\n");
    d.set("a", "1");
    d.set("b", "2");
    assert_eq!(d.render(), "a = 1\nb=2\n");
}

#[test]
fn set_drops_duplicates_of_single_valued_keys_only() {
    let mut d = doc("lxc.uts.name = a\n# keep me\nlxc.uts.name = b\nlxc.cap.drop = mknod\nlxc.cap.drop = sys_time\n");
    d.set("lxc.uts.name", "c");
    d.set("lxc.cap.drop", "sys_admin");
    assert_eq!(
        d.render(),
        "# keep me\nlxc.uts.name = c\nlxc.cap.drop = mknod\nlxc.cap.drop = sys_admin\n"
    );
}

#[test]
fn append_and_unset() {
    let mut d = doc("# header\nlxc.uts.name = a");
    d.set("lxc.tty.max", "4"); // absent: appended
    d.append("lxc.cap.drop", "mknod");
    d.append("lxc.cap.drop", "");
    assert_eq!(
        d.render(),
        "# header\nlxc.uts.name = a\nlxc.tty.max = 4\nlxc.cap.drop = mknod\nlxc.cap.drop =\n"
    );
    assert_eq!(d.get_all("lxc.cap.drop"), vec!["mknod", ""]);
    assert_eq!(d.unset("lxc.cap.drop"), 2);
    assert_eq!(d.unset("lxc.cap.drop"), 0);
    assert_eq!(d.render(), "# header\nlxc.uts.name = a\nlxc.tty.max = 4\n");
    // a value cannot smuggle in a second line
    d.set("lxc.uts.name", "x\nlxc.rootfs.path = /etc");
    assert_eq!(d.get("lxc.rootfs.path"), None);
    assert_eq!(
        Document::parse(&d.render(), Path::new("c"))
            .unwrap()
            .entries()
            .count(),
        2
    );
}

#[test]
fn edited_documents_reparse() {
    let mut d = doc(ODD);
    d.set("lxc.environment", "B=c");
    d.append("lxc.net.0.link", "br0");
    d.unset("lxc.cgroup.devices.allow");
    let again = doc(&d.render());
    assert_eq!(again.get("lxc.environment"), Some("B=c"));
    assert_eq!(again.get("lxc.net.0.link"), Some("br0"));
    assert_eq!(again.get("lxc.cgroup.devices.allow"), None);
    assert_eq!(again.render(), d.render());
}

#[test]
fn hwaddr_randomisation() {
    let text = "# net\nlxc.net.0.hwaddr = 00:16:3e:xx:xx:xx\nlxc.net.1.hwaddr=xx:xx:xx:xx:xx:xx\nlxc.network.hwaddr = 4a:49:43:49:79:bf\nlxc.net.2.hwaddr = \"00:16:3E:XX:xx:Xx\"\nlxc.net.3.link = xx:xx\n";
    let mut d = doc(text);
    randomize_hwaddrs(&mut d);
    let a = d.get("lxc.net.0.hwaddr").unwrap().to_string();
    let b = d.get("lxc.net.1.hwaddr").unwrap().to_string();
    let c = d.get("lxc.net.2.hwaddr").unwrap().to_string();
    assert!(a.starts_with("00:16:3e:") && !a.contains(['x', 'X']), "{a}");
    assert!(c.starts_with("00:16:3E:") && !c.contains(['x', 'X']), "{c}");
    assert!(
        d.render().contains("lxc.net.2.hwaddr = \"00:16:3E:"),
        "quotes kept"
    );
    assert!(!b.contains('x'), "{b}");
    for v in [&a, &b, &c] {
        let h = parse_hwaddr(v).unwrap_or_else(|e| panic!("{v}: {e}"));
        let bytes = h.bytes().unwrap();
        assert_eq!(bytes[0] & 1, 0, "unicast: {v}");
    }
    // a fully random first octet is unicast and locally administered
    assert_eq!(parse_hwaddr(&b).unwrap().bytes().unwrap()[0] & 3, 2, "{b}");
    assert_eq!(
        d.get("lxc.network.hwaddr"),
        Some("4a:49:43:49:79:bf"),
        "fixed address untouched"
    );
    assert_eq!(
        d.get("lxc.net.3.link"),
        Some("xx:xx"),
        "other keys untouched"
    );
    assert!(d.render().starts_with("# net\n"));
    // everything outside the values is unchanged
    assert_eq!(d.render().len(), text.len());

    // two runs give different addresses (24 random bits: a collision is a 1 in 16M event)
    let mut d2 = doc(text);
    randomize_hwaddrs(&mut d2);
    assert_ne!(d2.get("lxc.net.0.hwaddr").unwrap(), a);
    // and many runs only ever produce valid unicast addresses
    for _ in 0..200 {
        let mut d = doc("lxc.net.0.hwaddr = xx:xx:xx:xx:xx:xx\n");
        randomize_hwaddrs(&mut d);
        let v = d.get("lxc.net.0.hwaddr").unwrap();
        let bytes = parse_hwaddr(v).unwrap().bytes().unwrap();
        assert_eq!(bytes[0] & 3, 2, "{v}");
    }
    // a template that is only x in the last digit keeps the rest
    let mut d = doc("lxc.net.0.hwaddr = 00:00:00:00:00:0x\n");
    randomize_hwaddrs(&mut d);
    let v = d.get("lxc.net.0.hwaddr").unwrap();
    assert!(
        v.starts_with("00:00:00:00:00:0") && v != "00:00:00:00:00:00",
        "{v}"
    );
}

#[test]
fn randomised_config_loads() {
    let mut d = doc("lxc.net.0.type = veth\nlxc.net.0.hwaddr = 00:16:3e:xx:xx:xx\n");
    randomize_hwaddrs(&mut d);
    let cfg = load_str(&d.render(), Path::new("/test/config")).unwrap();
    assert!(!cfg.net(0, "hwaddr").unwrap().contains('x'));
}

#[test]
fn upgrade_legacy_keys_in_place() {
    let text = "\
# Template used to create this container
lxc.utsname = old
lxc.rootfs = /var/lib/lxc/old/rootfs
lxc.rootfs.backend = dir
lxc.pivotdir = lxc_putold
lxc.tty=4
lxc.pts = 1024
lxc.haltsignal = SIGRTMIN+3
lxc.limit.nofile = 1024:4096
lxc.mount = /var/lib/lxc/old/fstab

# first interface
lxc.network.type = veth
lxc.network.flags = up
lxc.network.link = lxcbr0
lxc.network.ipv4 = 10.0.3.5/24
lxc.network.ipv4.gateway = 10.0.3.1

# second interface
lxc.network.type = macvlan
lxc.network.link = eth0
lxc.network.hwaddr = 00:16:3e:xx:xx:xx
lxc.network.3.ipv6 = fd00::5/64
lxc.uts.name = stays
";
    let mut d = doc(text);
    let changed = upgrade_document(&mut d);
    let out = d.render();
    let expected = "\
# Template used to create this container
lxc.uts.name = old
lxc.rootfs.path = /var/lib/lxc/old/rootfs
lxc.tty.max=4
lxc.pty.max = 1024
lxc.signal.halt = SIGRTMIN+3
lxc.prlimit.nofile = 1024:4096
lxc.mount.fstab = /var/lib/lxc/old/fstab

# first interface
lxc.net.4.type = veth
lxc.net.4.flags = up
lxc.net.4.link = lxcbr0
lxc.net.4.ipv4.address = 10.0.3.5/24
lxc.net.4.ipv4.gateway = 10.0.3.1

# second interface
lxc.net.5.type = macvlan
lxc.net.5.link = eth0
lxc.net.5.hwaddr = 00:16:3e:xx:xx:xx
lxc.net.3.ipv6.address = fd00::5/64
lxc.uts.name = stays
";
    assert_eq!(out, expected);
    assert_eq!(changed, 18);
    assert_eq!(upgrade_document(&mut d), 0, "idempotent");

    // loading the legacy text and the upgraded text gives the same items
    let legacy = load_str(text, Path::new("/c/config")).unwrap();
    let upgraded = load_str(&out, Path::new("/c/config")).unwrap();
    let kv = |c: &hako_config::Config| {
        c.items
            .iter()
            .map(|i| (i.key.clone(), i.value.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(kv(&legacy), kv(&upgraded));
    assert!(
        !upgraded
            .warnings
            .iter()
            .any(|w| w.message.contains("legacy")),
        "{:?}",
        upgraded.warnings
    );
    assert!(
        legacy
            .warnings
            .iter()
            .filter(|w| w.message.contains("legacy"))
            .count()
            == 18
    );
}

#[test]
fn upgrade_numbers_after_existing_interfaces() {
    let mut d = doc("lxc.net.0.type = veth\nlxc.network.type = empty\nlxc.network.flags = up\n");
    assert_eq!(upgrade_document(&mut d), 2);
    assert_eq!(
        d.render(),
        "lxc.net.0.type = veth\nlxc.net.1.type = empty\nlxc.net.1.flags = up\n"
    );
    // a network key before any type cannot be attached; it is left for the user
    let mut d = doc("lxc.network.link = br0\n");
    assert_eq!(upgrade_document(&mut d), 0);
    // an empty legacy type clears every interface
    let mut d = doc("lxc.network.type =\n");
    assert_eq!(upgrade_document(&mut d), 1);
    assert_eq!(d.render(), "lxc.net =\n");
}
