use super::*;

fn net(args: &[&str]) -> NetworkAction {
    let mut v = vec!["network"];
    v.extend_from_slice(args);
    match ok(&v).action {
        Action::Network(n) => n,
        a => panic!("{args:?}: {a:?}"),
    }
}

fn net_create(args: &[&str]) -> (String, crate::network::CreateNetOpts) {
    let mut v = vec!["create"];
    v.extend_from_slice(args);
    match net(&v) {
        NetworkAction::Create { name, opts } => (name, opts),
        a => panic!("{a:?}"),
    }
}

#[test]
fn network_create_variants() {
    use crate::network::{CreateNetOpts, Ipv4Choice};
    // defaults: auto IPv4, no IPv6, NAT and DHCP on
    let (name, opts) = net_create(&["hkn1"]);
    assert_eq!(name, "hkn1");
    assert_eq!(opts, CreateNetOpts::default());
    assert_eq!(opts.ipv4, Ipv4Choice::Auto);
    assert!(opts.nat && opts.dhcp && opts.ipv6.is_none() && opts.dns_domain.is_none());
    let (_, opts) = net_create(&[
        "hkn1",
        "--ipv4",
        "10.47.3.1/24",
        "--ipv6",
        "fd42:1:2:3::1/64",
        "--no-nat",
        "--no-dhcp",
        "--dns-domain",
        "lan.example",
    ]);
    assert_eq!(opts.ipv4, Ipv4Choice::Cidr("10.47.3.1/24".parse().unwrap()));
    assert_eq!(opts.ipv6, Some("fd42:1:2:3::1/64".parse().unwrap()));
    assert!(!opts.nat && !opts.dhcp);
    assert_eq!(opts.dns_domain.as_deref(), Some("lan.example"));
    let (_, opts) = net_create(&["hkn1", "--ipv4=none", "--ipv6=none", "--nat", "--dhcp"]);
    assert_eq!(opts.ipv4, Ipv4Choice::None);
    assert!(opts.ipv6.is_none() && opts.nat && opts.dhcp);
    let (_, opts) = net_create(&["--ipv4", "auto", "hkn1", "--no-nat"]);
    assert_eq!(opts.ipv4, Ipv4Choice::Auto);
    assert!(!opts.nat && opts.dhcp);
    // globals after the nested verb
    let i = ok(&["network", "create", "hkn1", "-P", "/tmp/p", "-q"]);
    assert_eq!(i.globals.lxcpath, Some(PathBuf::from("/tmp/p")));
    assert!(i.globals.quiet);
}

#[test]
fn network_create_bad_input() {
    for (args, want) in [
        (&["--nat", "--no-nat"][..], "--no-nat"),
        (&["--no-dhcp", "--dhcp"][..], "--dhcp"),
        (
            &["--ipv4", "10.0.0.300/24"][..],
            "invalid IP address \"10.0.0.300/24\"",
        ),
        (&["--ipv4", "10.0.0.1"][..], "has no prefix length"),
        (&["--ipv4", "fd00::1/64"][..], "it is an IPv6 address"),
        (&["--ipv4", "10.0.0.1/33"][..], "not a prefix length"),
        (&["--ipv6", "10.1.1.1/24"][..], "it is an IPv4 address"),
        (&["--ipv6", "auto"][..], "--ipv6 auto is not supported"),
        (&["--dns-domain", "a..b"][..], "invalid DNS domain \"a..b\""),
    ] {
        let mut v = vec!["network", "create", "hkn1"];
        v.extend_from_slice(args);
        let e = err(&v);
        assert_eq!(e.code, 2, "{args:?}");
        assert!(e.stderr.contains(want), "{args:?}: {}", e.stderr);
    }
    // our own messages carry the prefix; the library's text is kept as is
    let e = err(&["network", "create", "hkn1", "--ipv4", "x"]);
    assert!(
        e.stderr.starts_with("hako: invalid IP address \"x\""),
        "{}",
        e.stderr
    );
    assert_eq!(e.stderr.lines().count(), 1);
    // a name is required
    assert_eq!(err(&["network", "create"]).code, 2);
    assert_eq!(err(&["network", "create", "--ipv4", "auto"]).code, 2);
}

#[test]
fn network_other_verbs() {
    assert_eq!(
        net(&["ls"]),
        NetworkAction::Ls {
            format: Format::Text
        }
    );
    assert_eq!(
        net(&["list", "--format", "json"]),
        NetworkAction::Ls {
            format: Format::Json
        }
    );
    assert_eq!(
        net(&["show", "hkn1"]),
        NetworkAction::Show {
            name: "hkn1".into(),
            format: Format::Text
        }
    );
    assert_eq!(
        net(&["show", "hkn1", "--format=json"]),
        NetworkAction::Show {
            name: "hkn1".into(),
            format: Format::Json
        }
    );
    assert_eq!(
        net(&["leases", "hkn1", "--format", "json"]),
        NetworkAction::Leases {
            name: "hkn1".into(),
            format: Format::Json
        }
    );
    assert_eq!(
        net(&["rm", "hkn1"]),
        NetworkAction::Rm {
            name: "hkn1".into(),
            force: false
        }
    );
    assert_eq!(
        net(&["rm", "-f", "hkn1"]),
        NetworkAction::Rm {
            name: "hkn1".into(),
            force: true
        }
    );
    assert_eq!(
        net(&["remove", "hkn1", "--force"]),
        NetworkAction::Rm {
            name: "hkn1".into(),
            force: true
        }
    );
    assert_eq!(
        net(&["up", "hkn1"]),
        NetworkAction::Up {
            name: "hkn1".into()
        }
    );
    assert_eq!(
        net(&["down", "hkn1"]),
        NetworkAction::Down {
            name: "hkn1".into(),
            force: false
        }
    );
    assert_eq!(
        net(&["down", "hkn1", "-f"]),
        NetworkAction::Down {
            name: "hkn1".into(),
            force: true
        }
    );
    for bad in [
        &["network"][..],
        &["network", "show"][..],
        &["network", "leases"][..],
        &["network", "rm"][..],
        &["network", "up"][..],
        &["network", "up", "a", "b"][..],
        &["network", "ls", "--format", "yaml"][..],
        &["network", "frob"][..],
    ] {
        assert_eq!(err(bad).code, 2, "{bad:?}");
    }
}

#[test]
fn network_root_and_verbs() {
    for (args, root, verb) in [
        (&["network", "create", "n"][..], true, "network create"),
        (&["network", "rm", "n"][..], true, "network rm"),
        (&["network", "up", "n"][..], true, "network up"),
        (&["network", "down", "n"][..], true, "network down"),
        (&["network", "ls"][..], false, "network ls"),
        (&["network", "show", "n"][..], false, "network show"),
        (&["network", "leases", "n"][..], false, "network leases"),
    ] {
        let a = ok(args).action;
        assert_eq!(a.needs_root(), root, "{args:?}");
        assert_eq!(a.verb(), verb);
    }
    let a = ok(&["network", "rm", "n"]).action;
    assert_eq!(
        crate::cli::run::root_check(&a, 1000).unwrap_err(),
        "network rm needs root (running as uid 1000); run it with sudo"
    );
}
