//! Unit tests of the network values (good and bad values, typed access, serde).

use super::*;

use std::path::Path;

#[test]
fn hwaddrs() {
    let h = parse_hwaddr("00:16:3e:xx:xx:xx").unwrap();
    assert!(h.is_template());
    assert_eq!(h.bytes(), None);
    assert_eq!(h.to_string(), "00:16:3e:xx:xx:xx");
    let h = parse_hwaddr("4A:49:43:49:79:bf").unwrap();
    assert_eq!(h.bytes(), Some([0x4a, 0x49, 0x43, 0x49, 0x79, 0xbf]));
    assert!(parse_hwaddr("01:00:5e:00:00:01").is_err()); // multicast
    assert!(parse_hwaddr("ff:ff:ff:ff:ff:ff").is_err());
    assert!(parse_hwaddr("00:00:00:00:00:00").is_err());
    assert!(parse_hwaddr("00:16:3e:12:34").is_err());
    assert!(parse_hwaddr("00-16-3e-12-34-56").is_err());
    assert!(parse_hwaddr("00:16:3e:12:34:5g").is_err());
    assert!(parse_hwaddr("x1:16:3e:12:34:56").is_err());
    assert!(parse_hwaddr("x0:16:3e:12:34:56").is_ok());
}

#[test]
fn addresses() {
    let a = parse_ipv4_cidr("10.2.3.5/24 10.2.3.255").unwrap();
    assert_eq!(a.addr, Ipv4Addr::new(10, 2, 3, 5));
    assert_eq!(a.prefix, Some(24));
    assert_eq!(a.broadcast, Some(Ipv4Addr::new(10, 2, 3, 255)));
    let a = parse_ipv4_cidr("192.168.1.123/24").unwrap();
    assert_eq!(a.broadcast_addr(), Some(Ipv4Addr::new(192, 168, 1, 255)));
    let a = parse_ipv4_cidr("10.0.0.1").unwrap();
    assert_eq!((a.prefix, a.prefix_len()), (None, 8));
    assert_eq!(parse_ipv4_cidr("172.16.0.1").unwrap().prefix_len(), 16);
    assert_eq!(parse_ipv4_cidr("192.168.0.1").unwrap().prefix_len(), 24);
    assert_eq!(
        parse_ipv4_cidr("10.0.0.1/32").unwrap().broadcast_addr(),
        None
    );
    for bad in [
        "",
        "10.0.0.1/33",
        "10.0.0.256/24",
        "10.0.0.1/24 x",
        "10.0.0.1/24 10.0.0.255 z",
        "10.0.0.1/",
        "10.0.0.1/+4",
        "fd00::1",
    ] {
        assert!(parse_ipv4_cidr(bad).is_err(), "{bad:?}");
    }
    let a = parse_ipv6_cidr("2003:db8:1:0:214:1234:fe0b:3597").unwrap();
    assert_eq!((a.prefix, a.prefix_len()), (None, 64));
    assert_eq!(parse_ipv6_cidr("fd00::5/48").unwrap().prefix, Some(48));
    for bad in [
        "",
        "fd00::5/129",
        "10.0.0.1",
        "fd00::5/64 fd00::ff",
        "fd00:::5",
    ] {
        assert!(parse_ipv6_cidr(bad).is_err(), "{bad:?}");
    }
    assert_eq!(parse_ipv4_gateway("auto"), Ok(Gateway::Auto));
    assert_eq!(parse_ipv4_gateway("dev"), Ok(Gateway::Dev));
    assert_eq!(
        parse_ipv4_gateway("10.0.3.1"),
        Ok(Gateway::Addr(Ipv4Addr::new(10, 0, 3, 1)))
    );
    assert!(parse_ipv4_gateway("10.0.3.1/24").is_err());
    assert!(parse_ipv6_gateway("fd00::1").is_ok());
    assert!(parse_ipv6_gateway("10.0.0.1").is_err());
}

#[test]
fn net_types() {
    for (i, t) in NET_TYPES.iter().enumerate() {
        let k = parse_net_type(t).unwrap();
        assert_eq!(k.as_str(), *t);
        assert!(NET_TYPES[..i]
            .iter()
            .all(|o| parse_net_type(o).unwrap() != k));
    }
    assert_eq!(parse_net_type("veth"), Ok(NetType::Veth));
    assert_eq!(parse_net_type("none"), Ok(NetType::None));
    for bad in ["", "Veth", "bridge", " veth"] {
        assert!(parse_net_type(bad).is_err(), "{bad:?}");
    }
    let e = parse_net_type("macvlna").unwrap_err();
    assert!(e.reason().contains("did you mean \"macvlan\""), "{e}");
    // the spec's JSON (launch options) names the variants
    assert_eq!(serde_json::to_string(&NetType::Phys).unwrap(), "\"Phys\"");
}

#[test]
fn hwaddr_fill_and_resolve() {
    let t = parse_hwaddr("00:16:3e:xx:xX:xx").unwrap();
    assert_eq!(t.fill(&[0xff; 12]), [0x00, 0x16, 0x3e, 0xff, 0xff, 0xff]);
    assert_eq!(t.fill(&[0x12; 12]), [0x00, 0x16, 0x3e, 0x22, 0x22, 0x22]);
    // a random second digit is even: the address stays unicast
    let all = parse_hwaddr("xx:xx:xx:xx:xx:xx").unwrap();
    assert_eq!(all.fill(&[0xff; 12]), [0xfe, 0xff, 0xff, 0xff, 0xff, 0xff]);
    for _ in 0..100 {
        let m = all.resolve();
        assert_eq!(m[0] & 1, 0, "multicast: {m:02x?}");
        let m = t.resolve();
        assert_eq!(m[..3], [0x00, 0x16, 0x3e]);
    }
    // two starts give different addresses (24 random bits)
    assert_ne!(t.resolve(), t.resolve());
    // a fixed address is itself
    let fixed = parse_hwaddr("02:16:3E:aa:00:ff").unwrap();
    assert_eq!(fixed.resolve(), [2, 0x16, 0x3e, 0xaa, 0, 0xff]);
    assert_eq!(fixed.fill(&[0xff; 12]), fixed.bytes().unwrap());
    assert_eq!(fixed.to_string(), "02:16:3e:aa:00:ff");
    for bad in [
        "",
        "02:16:3e:aa:00",
        "02:16:3e:aa:00:ff:11",
        "02:16:3e:aa:00:zz",
        "02-16-3e-aa-00-ff",
        "02:16:3e:aa:0:123",
        "01:00:5e:00:00:01",
    ] {
        assert!(parse_hwaddr(bad).is_err(), "{bad:?} accepted");
    }
}

#[test]
fn ip_prefixes() {
    let v4 = |s: &str| s.parse::<Ipv4Addr>().unwrap();
    let v6 = |s: &str| s.parse::<Ipv6Addr>().unwrap();
    assert_eq!(
        parse_ip_prefix("10.0.3.5/24"),
        Ok((IpAddr::V4(v4("10.0.3.5")), Some(24)))
    );
    assert_eq!(
        parse_ip_prefix(" fd42::5/64 "),
        Ok((IpAddr::V6(v6("fd42::5")), Some(64)))
    );
    assert_eq!(
        parse_ip_prefix("10.1.2.3"),
        Ok((IpAddr::V4(v4("10.1.2.3")), None))
    );
    assert_eq!(parse_ip_prefix("fd00::1/128").unwrap().1, Some(128));
    assert_eq!(parse_ip_prefix("0.0.0.0/0").unwrap().1, Some(0));
    for bad in [
        "10.0.3/24",
        "hello",
        "",
        "10.0.3.256/24",
        "10.0.3.5 /24",
        "/24",
    ] {
        assert_eq!(parse_ip_prefix(bad), Err(PrefixError::Address), "{bad:?}");
    }
    for (bad, addr) in [
        ("10.0.3.5/33", "10.0.3.5"),
        ("10.0.3.5/", "10.0.3.5"),
        ("10.0.3.5/x", "10.0.3.5"),
        ("10.0.3.5/+4", "10.0.3.5"),
        ("10.0.3.5/24 x", "10.0.3.5"),
        ("fd42::1/129", "fd42::1"),
    ] {
        assert_eq!(
            parse_ip_prefix(bad),
            Err(PrefixError::Prefix(addr.parse().unwrap())),
            "{bad:?}"
        );
    }
    assert_eq!(split_prefix(" 10.0.3.5/33 "), ("10.0.3.5", Some("33")));
    assert_eq!(split_prefix("x"), ("x", None));
    // LXC's class-based defaults
    assert_eq!(default_ipv4_prefix(v4("10.1.2.3")), 8);
    assert_eq!(default_ipv4_prefix(v4("172.16.0.9")), 16);
    assert_eq!(default_ipv4_prefix(v4("192.168.1.9")), 24);
    assert_eq!(default_ipv4_prefix(v4("224.0.0.9")), 24);
    assert_eq!(parse_ipv6_cidr("fd00::1").unwrap().prefix_len(), 64);
    // messages name the part that is wrong
    assert_eq!(
        parse_ipv4_cidr("fd00::1/200").unwrap_err().reason(),
        "\"fd00::1\" is not an IPv4 address; write A.B.C.D/PREFIX such as 10.0.3.5/24"
    );
    assert_eq!(
        parse_ipv4_cidr("10.0.0.1/+4").unwrap_err().reason(),
        "IPv4 prefix length must be between 0 and 32, as in 10.0.3.5/24"
    );
    assert_eq!(
        parse_ipv6_cidr("10.0.0.1/24").unwrap_err().reason(),
        "\"10.0.0.1\" is not an IPv6 address; write one such as fd00::5/64"
    );
    assert_eq!(
        parse_ipv6_cidr("fd00::5/200").unwrap_err().reason(),
        "IPv6 prefix length must be between 0 and 128, as in fd00::5/64"
    );
}

#[test]
fn mtus() {
    assert_eq!(parse_mtu("1500"), Ok(1500));
    assert_eq!(parse_mtu(" 68 "), Ok(68));
    assert_eq!(parse_mtu("65535"), Ok(65535));
    for bad in [
        "",
        "67",
        "65536",
        "-1",
        "1500k",
        "x",
        "99999999999999999999",
    ] {
        assert_eq!(
            parse_mtu(bad).unwrap_err().reason(),
            "MTU must be a number between 68 and 65535, such as 1500",
            "{bad:?}"
        );
    }
}

#[test]
fn values_serialise_as_their_text() {
    fn round<T: Serialize + for<'de> Deserialize<'de> + PartialEq + fmt::Debug>(v: T, text: &str) {
        let j = serde_json::to_string(&v).unwrap();
        assert_eq!(j, format!("\"{text}\""));
        assert_eq!(serde_json::from_str::<T>(&j).unwrap(), v);
    }
    round(
        parse_hwaddr("00:16:3E:xx:xx:xx").unwrap(),
        "00:16:3e:xx:xx:xx",
    );
    round(
        parse_hwaddr("02:16:3e:aa:00:ff").unwrap(),
        "02:16:3e:aa:00:ff",
    );
    round(parse_ipv4_cidr("10.0.3.5/24").unwrap(), "10.0.3.5/24");
    round(parse_ipv4_cidr("10.0.3.5").unwrap(), "10.0.3.5");
    round(
        parse_ipv4_cidr("10.0.3.5/24 10.0.3.255").unwrap(),
        "10.0.3.5/24 10.0.3.255",
    );
    round(parse_ipv6_cidr("fd00::5/48").unwrap(), "fd00::5/48");
    round(parse_ipv6_cidr("fd00::5").unwrap(), "fd00::5");
    round(parse_ipv4_gateway("auto").unwrap(), "auto");
    round(parse_ipv4_gateway("dev").unwrap(), "dev");
    round(parse_ipv4_gateway("10.0.3.1").unwrap(), "10.0.3.1");
    round(parse_ipv6_gateway("fd00::1").unwrap(), "fd00::1");
    // a bad value in JSON is refused with the parser's reason
    let e = serde_json::from_str::<HwAddr>("\"01:00:5e:00:00:01\"").unwrap_err();
    assert!(e.to_string().contains("multicast"), "{e}");
    assert!(serde_json::from_str::<Ipv4Cidr>("\"fd00::1\"").is_err());
}

#[test]
fn typed_access_names_the_key_and_line() {
    let cfg = crate::load_str(
        "lxc.net.0.type = veth\nlxc.net.0.hwaddr = 00:16:3e:xx:xx:xx\nlxc.net.0.mtu = 1400\n\
         lxc.net.0.ipv4.address = 10.0.3.5/24\nlxc.net.0.ipv4.address = 10.0.4.5\n\
         lxc.net.0.ipv4.gateway = auto\nlxc.net.0.ipv6.address = fd00::5\n\
         lxc.net.1.type = empty\nlxc.net.1.ipv4.address = 10.0.9.9/24\nlxc.net.1.ipv4.address =\n",
        Path::new("/t/config"),
    )
    .unwrap();
    assert_eq!(
        cfg.net_value(0, "type", parse_net_type).unwrap(),
        Some(NetType::Veth)
    );
    assert_eq!(cfg.net_value(0, "mtu", parse_mtu).unwrap(), Some(1400));
    assert!(cfg
        .net_value(0, "hwaddr", parse_hwaddr)
        .unwrap()
        .unwrap()
        .is_template());
    assert_eq!(
        cfg.net_value(0, "ipv4.gateway", parse_ipv4_gateway)
            .unwrap(),
        Some(Gateway::Auto)
    );
    assert_eq!(
        cfg.net_value(0, "ipv6.gateway", parse_ipv6_gateway)
            .unwrap(),
        None
    );
    let v4 = cfg.net_values(0, "ipv4.address", parse_ipv4_cidr).unwrap();
    assert_eq!(
        v4.iter()
            .map(|c| (c.to_string(), c.prefix_len()))
            .collect::<Vec<_>>(),
        [("10.0.3.5/24".to_string(), 24), ("10.0.4.5".to_string(), 8)]
    );
    assert_eq!(
        cfg.net_values(0, "ipv6.address", parse_ipv6_cidr)
            .unwrap()
            .len(),
        1
    );
    // an empty value clears the list
    assert!(cfg
        .net_values(1, "ipv4.address", parse_ipv4_cidr)
        .unwrap()
        .is_empty());
    // a value read with the wrong parser (or set without validation) names its line
    let e = cfg
        .net_value(0, "mtu", parse_hwaddr)
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("/t/config:3: bad value \"1400\" for \"lxc.net.0.mtu\": not a MAC address"),
        "{e}"
    );
    let e = cfg
        .net_values(0, "ipv4.address", parse_ipv6_cidr)
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("/t/config:4: bad value \"10.0.3.5/24\" for \"lxc.net.0.ipv4.address\""),
        "{e}"
    );
}
