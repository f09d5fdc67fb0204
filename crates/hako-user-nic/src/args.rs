//! The command line: a fixed grammar, matched by hand (no option parser in a setuid program).
//! Pure: every value is checked here, before anything is opened.

use hako_net::validate_ifname;

/// Which name the program was called by. Both faces make the same checks; the name only
/// picks LXC's delete grammar and output line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Face {
    Hako,
    Lxc,
}

impl Face {
    /// From argv[0] (the caller chooses it freely: it selects nothing but the format).
    pub fn from_argv0(argv0: &str) -> Face {
        match argv0.rsplit('/').next() {
            Some("lxc-user-nic") => Face::Lxc,
            _ => Face::Hako,
        }
    }

    pub fn prog(self) -> &'static str {
        match self {
            Face::Hako => "hako-user-nic",
            Face::Lxc => "lxc-user-nic",
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub struct Create {
    pub lxcpath: String,
    pub container: String,
    pub pid: i32,
    pub bridge: String,
    pub inside: String,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Delete {
    pub lxcpath: String,
    pub container: String,
    pub host_ifname: String,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Cmd {
    Help,
    Create(Create),
    Delete(Delete),
}

/// A usage error: what is wrong, and the usage text follows it.
#[derive(Debug, PartialEq, Eq)]
pub struct Usage(pub String);

pub fn usage(face: Face) -> String {
    let p = face.prog();
    let mut u = format!(
        "usage: {p} create LXCPATH NAME PID veth BRIDGE [NAME-INSIDE]\n       \
         {p} delete LXCPATH NAME HOST-IFNAME\n"
    );
    if face == Face::Lxc {
        u.push_str(&format!(
            "       {p} delete LXCPATH NAME /proc/PID/ns/net veth BRIDGE HOST-IFNAME\n"
        ));
    }
    u.push_str(
        "Gives the network namespace of PID (one you own) a veth on BRIDGE, as \
         /etc/lxc/lxc-usernet allows (lines \"USER veth BRIDGE COUNT\" or \"@GROUP veth BRIDGE COUNT\"); \
         delete removes one it made for you.\n",
    );
    u
}

fn text(what: &str, v: &str, max: usize) -> Result<String, Usage> {
    if v.is_empty() {
        return Err(Usage(format!("the {what} is empty; give a non-empty one")));
    }
    if v.len() > max {
        return Err(Usage(format!(
            "the {what} is {} bytes long; at most {max} are accepted",
            v.len()
        )));
    }
    if let Some(c) = v.chars().find(|c| c.is_control()) {
        return Err(Usage(format!(
            "the {what} {v:?} contains the control character {c:?}; remove it"
        )));
    }
    Ok(v.to_string())
}

fn ifname(what: &str, v: &str) -> Result<String, Usage> {
    validate_ifname(v).map_err(|e| Usage(format!("{what}: {e}")))?;
    if v.contains('%') {
        // the kernel reads "eth%d" as a template and picks the name itself
        return Err(Usage(format!(
            "{what}: {v:?} contains '%', which the kernel takes for a name template; give the exact name"
        )));
    }
    Ok(v.to_string())
}

fn container(v: &str) -> Result<String, Usage> {
    let n = text("container name", v, 255)?;
    if n.contains('/') || n == "." || n == ".." {
        return Err(Usage(format!(
            "the container name {v:?} is not a name (no '/', not \".\" or \"..\"); give the container's name"
        )));
    }
    Ok(n)
}

fn pid(v: &str) -> Result<i32, Usage> {
    let bad = || {
        Usage(format!(
            "the pid {v:?} is not a process id; give the decimal pid of a process in the container's network namespace"
        ))
    };
    if v.is_empty() || v.len() > 10 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    match v.parse::<i32>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(bad()),
    }
}

fn veth(v: &str) -> Result<(), Usage> {
    if v == "veth" {
        Ok(())
    } else {
        Err(Usage(format!(
            "the interface type {v:?} is not supported; only \"veth\" is (as in /etc/lxc/lxc-usernet)"
        )))
    }
}

/// `/proc/PID/ns/net` of LXC's delete form: checked for its shape only, never opened (the
/// record of the interface is what says whose it is).
fn netns_path(v: &str) -> Result<(), Usage> {
    let ok = v
        .strip_prefix("/proc/")
        .and_then(|r| r.strip_suffix("/ns/net"))
        .is_some_and(|p| pid(p).is_ok());
    if ok {
        Ok(())
    } else {
        Err(Usage(format!(
            "{v:?} is not a network namespace path; give /proc/PID/ns/net"
        )))
    }
}

/// The arguments after the program's name.
pub fn parse(args: &[String]) -> Result<Cmd, Usage> {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    match a.as_slice() {
        ["-h" | "--help" | "help"] => Ok(Cmd::Help),
        ["create", lxcpath, name, p, t, bridge, rest @ ..] if rest.len() <= 1 => {
            veth(t)?;
            Ok(Cmd::Create(Create {
                lxcpath: text("lxcpath", lxcpath, 4096)?,
                container: container(name)?,
                pid: pid(p)?,
                bridge: ifname("bridge", bridge)?,
                inside: ifname("name inside", rest.first().copied().unwrap_or("eth0"))?,
            }))
        }
        ["delete", lxcpath, name, host] => Ok(Cmd::Delete(Delete {
            lxcpath: text("lxcpath", lxcpath, 4096)?,
            container: container(name)?,
            host_ifname: ifname("host interface", host)?,
        })),
        ["delete", lxcpath, name, ns, t, bridge, host] => {
            netns_path(ns)?;
            veth(t)?;
            ifname("bridge", bridge)?;
            Ok(Cmd::Delete(Delete {
                lxcpath: text("lxcpath", lxcpath, 4096)?,
                container: container(name)?,
                host_ifname: ifname("host interface", host)?,
            }))
        }
        ["create", ..] => Err(Usage(format!(
            "create takes 5 or 6 arguments (LXCPATH NAME PID veth BRIDGE [NAME-INSIDE]), not {}",
            a.len() - 1
        ))),
        ["delete", ..] => Err(Usage(format!(
            "delete takes 3 arguments (LXCPATH NAME HOST-IFNAME), or LXC's 6, not {}",
            a.len() - 1
        ))),
        [] => Err(Usage("no command given".into())),
        [c, ..] => Err(Usage(format!(
            "unknown command {c:?}; the commands are create and delete"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Cmd, Usage> {
        parse(&s.split(' ').map(String::from).collect::<Vec<_>>())
    }

    #[test]
    fn the_two_commands() {
        assert_eq!(
            p("create /home/a/.local/share/hako c1 42 veth br0 eth1"),
            Ok(Cmd::Create(Create {
                lxcpath: "/home/a/.local/share/hako".into(),
                container: "c1".into(),
                pid: 42,
                bridge: "br0".into(),
                inside: "eth1".into(),
            }))
        );
        match p("create /x c1 42 veth br0").unwrap() {
            Cmd::Create(c) => assert_eq!(c.inside, "eth0"),
            c => panic!("{c:?}"),
        }
        assert_eq!(
            p("delete /x c1 veth1234567890"),
            Ok(Cmd::Delete(Delete {
                lxcpath: "/x".into(),
                container: "c1".into(),
                host_ifname: "veth1234567890".into(),
            }))
        );
        assert!(matches!(
            p("delete /x c1 /proc/7/ns/net veth br0 vethA"),
            Ok(Cmd::Delete(Delete { host_ifname, .. })) if host_ifname == "vethA"
        ));
        assert_eq!(p("--help"), Ok(Cmd::Help));
    }

    #[test]
    fn hostile_values_are_refused() {
        for bad in [
            "create /x c1 0 veth br0 eth0",
            "create /x c1 -1 veth br0 eth0",
            "create /x c1 +5 veth br0 eth0",
            "create /x c1 99999999999 veth br0 eth0",
            "create /x c1 1 macvlan br0 eth0",
            "create /x c1 1 veth br/0 eth0",
            "create /x c1 1 veth br0 ..",
            "create /x c1 1 veth br0 .",
            "create /x c1 1 veth br0 0123456789abcdef",
            "create /x c1 1 veth br0 a:b",
            "create /x c1 1 veth br0 eth%d",
            "create /x c1 1 veth br%d eth0",
            "delete /x c1 veth%d",
            "create /x ../c 1 veth br0 eth0",
            "create /x c1 1 veth br0 eth0 extra",
            "delete /x c1 /etc/shadow veth br0 vethA",
            "delete /x c1 /proc/self/ns/net veth br0 vethA",
            "delete /x c1",
            "frobnicate",
        ] {
            assert!(p(bad).is_err(), "{bad}");
        }
        let e = parse(&[
            "create".into(),
            "/x".into(),
            "c\n1".into(),
            "1".into(),
            "veth".into(),
            "b".into(),
        ])
        .unwrap_err();
        assert!(e.0.contains("control character"), "{e:?}");
        let e = p("create /x c1 1 veth br0 has\tspace").unwrap_err();
        assert!(e.0.contains("name inside"), "{e:?}");
        assert_eq!(parse(&[]), Err(Usage("no command given".into())));
    }

    #[test]
    fn faces() {
        assert_eq!(Face::from_argv0("/usr/local/bin/lxc-user-nic"), Face::Lxc);
        assert_eq!(Face::from_argv0("lxc-user-nic"), Face::Lxc);
        assert_eq!(Face::from_argv0("/usr/local/bin/hako-user-nic"), Face::Hako);
        assert_eq!(Face::from_argv0(""), Face::Hako);
        assert!(usage(Face::Lxc).contains("/proc/PID/ns/net"));
        assert!(!usage(Face::Hako).contains("/proc/PID/ns/net"));
    }
}
