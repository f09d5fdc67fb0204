//! hako-user-nic: the setuid-root helper that gives a non-root user's container (its own
//! user and network namespace) a veth on a host bridge, as LXC's `lxc-user-nic` does.
//!
//! ```text
//! hako-user-nic create LXCPATH NAME PID veth BRIDGE NAME-INSIDE   -> "HOST-IFNAME NAME-INSIDE"
//! hako-user-nic delete LXCPATH NAME HOST-IFNAME
//! ```
//!
//! Who may do what: the real uid of the caller (nothing from the environment, which is
//! cleared first); `/etc/lxc/lxc-usernet` must give that user, or one of its groups, the
//! bridge with a count not reached yet ([`usernet`]); the network namespace of PID must be
//! the caller's ([`netns`]); what was made is recorded under `/run/hako-user-nic/`
//! ([`records`]) and only its owner can delete it. LXCPATH and NAME are not opened: NAME
//! only seeds the host-side name (as hako's own veths are named). Under the name
//! `lxc-user-nic` the same program takes LXC's delete form and prints LXC's create line
//! (`NAME-INSIDE:IFINDEX:HOST-IFNAME:IFINDEX`).
//!
//! The netlink work is hako-net's; nothing here runs a thread or another program.

mod args;
mod caller;
mod netns;
mod records;
mod usernet;

use std::collections::HashMap;
use std::io::Write;
use std::os::fd::AsFd;
use std::path::Path;

use hako_net::{veth_host_name, Netlink, VethOptions};

use args::{Cmd, Create, Delete, Face};
use caller::Caller;
use records::{Record, Store};

/// The allowlist (LXC's file and format). Fixed: a setuid program takes no path from its
/// caller.
pub const USERNET: &str = "/etc/lxc/lxc-usernet";
/// Where the records and their lock live.
pub const RUN_DIR: &str = "/run/hako-user-nic";

/// A refusal or failure: one line naming the object, the cause and the fix.
#[derive(Debug)]
pub struct Fail {
    pub msg: String,
    pub code: i32,
}

impl Fail {
    pub fn new(msg: String) -> Fail {
        Fail { msg, code: 1 }
    }
}

/// Before anything else: no environment (nothing below may be steered by it), every
/// catchable signal blocked (the caller owns the process's real uid and may signal it; a
/// half-done change must finish or be undone), a known umask and working directory.
fn sanitize() {
    let keys: Vec<_> = std::env::vars_os().map(|(k, _)| k).collect();
    for k in keys {
        std::env::remove_var(k);
    }
    let _ = nix::sys::signal::SigSet::all().thread_block();
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
    let _ = std::env::set_current_dir("/");
}

/// The program: returns its exit status (0 done, 1 refused or failed, 2 usage).
pub fn main() -> i32 {
    sanitize();
    let mut argv = std::env::args_os();
    let face = Face::from_argv0(&argv.next().unwrap_or_default().to_string_lossy());
    let prog = face.prog();
    let rest: Option<Vec<String>> = argv.map(|a| a.into_string().ok()).collect();
    let parsed = match rest {
        Some(rest) => args::parse(&rest),
        None => Err(args::Usage(
            "an argument is not valid UTF-8; give names in UTF-8".into(),
        )),
    };
    let cmd = match parsed {
        Ok(c) => c,
        Err(u) => {
            let _ = write!(std::io::stderr(), "{prog}: {}\n{}", u.0, args::usage(face));
            return 2;
        }
    };
    let r = match cmd {
        Cmd::Help => {
            let _ = write!(std::io::stdout(), "{}", args::usage(face));
            Ok(())
        }
        Cmd::Create(c) => caller::identify().and_then(|me| create(&me, &c, face)),
        Cmd::Delete(d) => caller::identify().and_then(|me| delete(&me, &d)),
    };
    match r {
        Ok(()) => 0,
        Err(f) => {
            let _ = writeln!(std::io::stderr(), "{prog}: {}", f.msg);
            f.code
        }
    }
}

fn net_fail(what: &str, e: hako_net::NetError) -> Fail {
    Fail::new(format!("{what}: {e}"))
}

/// The allowlist's text, refused when someone other than root could have written it.
fn read_usernet(me: &Caller, bridge: &str) -> Result<String, Fail> {
    use std::os::unix::fs::MetadataExt;
    let add = format!(
        "as root, add the line \"{} veth {bridge} 1\" to {USERNET}",
        me.name
    );
    let t = match hako_read::read_bounded_text(Path::new(USERNET), hako_read::CONFIG_LIMIT) {
        Ok(t) => t,
        Err(e) if e.is_not_found() => {
            return Err(Fail::new(format!(
                "{} may not have a veth on bridge \"{bridge}\": there is no {USERNET}; {add}",
                me.who()
            )))
        }
        Err(e) => {
            return Err(Fail::new(format!(
                "{e}; as root, make {USERNET} a plain text file"
            )))
        }
    };
    let m = std::fs::metadata(USERNET)
        .map_err(|e| Fail::new(format!("cannot inspect {USERNET}: {e}; check the file")))?;
    if m.uid() != 0 || m.mode() & 0o022 != 0 {
        return Err(Fail::new(format!(
            "{USERNET} is not trusted: it is owned by uid {} with mode {:o}, so someone other than root could \
             have written it; as root: chown root:root {USERNET}; chmod 644 {USERNET}",
            m.uid(),
            m.mode() & 0o7777
        )));
    }
    Ok(t)
}

/// name -> (index, kind) of every device on the host.
fn host_links(nl: &mut Netlink) -> Result<HashMap<String, (u32, Option<String>)>, Fail> {
    Ok(nl
        .links()
        .map_err(|e| net_fail("cannot list the host's network devices", e))?
        .into_iter()
        .map(|l| (l.name, (l.index, l.kind)))
        .collect())
}

fn load_pruned(store: &Store, nl: &mut Netlink) -> Result<Vec<Record>, Fail> {
    let all = store.load()?;
    let n = all.len();
    let links = host_links(nl)?;
    let kept = records::prune(
        all,
        |name, idx| matches!(links.get(name), Some((i, Some(k))) if *i == idx && k == "veth"),
    );
    if kept.len() != n {
        store.save(&kept)?;
    }
    Ok(kept)
}

fn create(me: &Caller, c: &Create, face: Face) -> Result<(), Fail> {
    let br = &c.bridge;
    let who = me.who();
    let text = read_usernet(me, br)?;
    let look = usernet::lookup(&text, &me.name, &me.groups, br)
        .map_err(|e| Fail::new(format!("{USERNET}: {e}")))?;
    if look.allots.is_empty() {
        let other = if look.other_bridges.is_empty() {
            format!("it has no line for {who} or the user's groups")
        } else {
            format!(
                "its lines for this user allow only bridge{} {}",
                if look.other_bridges.len() > 1 {
                    "s"
                } else {
                    ""
                },
                look.other_bridges.join(", ")
            )
        };
        return Err(Fail::new(format!(
            "{who} may not have a veth on bridge \"{br}\": {other} in {USERNET}; as root, add the line \"{} veth {br} 1\" \
             (or \"@GROUP veth {br} COUNT\" for a group of the user's)",
            me.name
        )));
    }
    let ns = netns::open_owned(c.pid, me.uid, &who)?;
    let mut nl = Netlink::new().map_err(|e| net_fail("cannot talk to the kernel", e))?;
    let bridge = nl
        .link(br)
        .map_err(|e| net_fail(&format!("cannot look up bridge \"{br}\""), e))?
        .ok_or_else(|| {
            Fail::new(format!(
                "bridge \"{br}\" does not exist on the host; as root, create it (e.g. \"hako network create {br}\") \
                 or fix the line of {USERNET} that names it"
            ))
        })?;
    if bridge.kind.as_deref() != Some("bridge") {
        return Err(Fail::new(format!(
            "\"{br}\" is a {} device, not a bridge; name a bridge in {USERNET} and in the container's lxc.net.N.link",
            bridge.kind.as_deref().unwrap_or("physical")
        )));
    }
    let store = Store::open(Path::new(RUN_DIR))?;
    let mut recs = load_pruned(&store, &mut nl)?;
    let Some(allot) = usernet::pick(&look.allots, &recs, br) else {
        let lines: Vec<String> = look
            .allots
            .iter()
            .map(|a| {
                format!(
                    "line {} ({} veth {br} {}: {} in use)",
                    a.line,
                    a.owner,
                    a.count,
                    usernet::used(&recs, &a.owner, br)
                )
            })
            .collect();
        return Err(Fail::new(format!(
            "{who} has no veth left on bridge \"{br}\": {USERNET} {} used up; delete one (\"hako-user-nic delete LXCPATH NAME HOST-IFNAME\") \
             or, as root, raise the count",
            if lines.len() > 1 { format!("allows it through {}, all", lines.join(", ")) } else { format!("allows it through {}, which is", lines[0]) }
        )));
    };
    let mut inner = Netlink::in_netns(ns.as_fd()).map_err(|e| {
        net_fail(
            &format!("cannot look into the network namespace of pid {}", c.pid),
            e,
        )
    })?;
    if inner
        .link_index(&c.inside)
        .map_err(|e| net_fail("cannot look into the container's network namespace", e))?
        .is_some()
    {
        return Err(Fail::new(format!(
            "the network namespace of pid {} already has a device named \"{}\"; choose another name inside (lxc.net.N.name)",
            c.pid, c.inside
        )));
    }
    let links = host_links(&mut nl)?;
    let mine = recs.iter().filter(|r| r.uid == me.uid).count() as u32;
    let host = (0..64)
        .map(|i| veth_host_name(&c.container, mine + i))
        .find(|n| !links.contains_key(n))
        .ok_or_else(|| Fail::new("cannot find a free host-side veth name; retry".into()))?;
    let o = VethOptions {
        master: Some(br.clone()),
        mtu: Some(bridge.mtu).filter(|m| *m > 0),
        host_up: true,
        ..Default::default()
    };
    // one request: either the whole pair exists (peer in the namespace with its name, host
    // end on the bridge and up) or nothing does
    nl.create_veth_in_netns(&host, &c.inside, ns.as_fd(), &o)
        .map_err(|e| {
            net_fail(
                &format!(
                    "cannot give pid {}'s network namespace a veth on \"{br}\"",
                    c.pid
                ),
                e,
            )
        })?;
    // from here on, a failure removes the pair again
    let undo = |nl: &mut Netlink, f: Fail| -> Fail {
        match nl.delete_link(&host) {
            Ok(_) => f,
            Err(e) => Fail::new(format!("{}; and removing the half-made veth \"{host}\" failed too: {e}; as root: ip link del {host}", f.msg)),
        }
    };
    let done = (|| -> Result<(u32, u32), Fail> {
        let h = nl
            .link(&host)
            .map_err(|e| net_fail("cannot look up the new veth", e))?
            .filter(|l| l.kind.as_deref() == Some("veth") && l.master == Some(bridge.index))
            .ok_or_else(|| Fail::new(format!("the new veth \"{host}\" is not on bridge \"{br}\" (something changed it); retry")))?;
        let i = inner
            .link_index(&c.inside)
            .map_err(|e| net_fail("cannot look into the container's network namespace", e))?
            .ok_or_else(|| {
                Fail::new(format!(
                    "the new veth's peer \"{}\" is not in pid {}'s network namespace; retry",
                    c.inside, c.pid
                ))
            })?;
        recs.push(Record {
            uid: me.uid,
            owner: allot.owner.clone(),
            bridge: br.clone(),
            ifname: host.clone(),
            ifindex: h.index,
        });
        store.save(&recs)?;
        Ok((h.index, i))
    })();
    let (hidx, iidx) = match done {
        Ok(v) => v,
        Err(f) => return Err(undo(&mut nl, f)),
    };
    let line = match face {
        Face::Hako => format!("{host} {}\n", c.inside),
        Face::Lxc => format!("{}:{iidx}:{host}:{hidx}\n", c.inside),
    };
    let mut out = std::io::stdout();
    if let Err(e) = out.write_all(line.as_bytes()).and_then(|()| out.flush()) {
        // the caller would never learn the name: take it back
        recs.pop();
        let f = Fail::new(format!(
            "cannot write the new veth's name to standard output: {e}; give it a standard output it can write to (the caller needs the name)"
        ));
        let f = match store.save(&recs) {
            Ok(()) => f,
            Err(s) => Fail::new(format!("{}; {}", f.msg, s.msg)),
        };
        return Err(undo(&mut nl, f));
    }
    Ok(())
}

fn delete(me: &Caller, d: &Delete) -> Result<(), Fail> {
    let name = &d.host_ifname;
    let who = me.who();
    let store = Store::open(Path::new(RUN_DIR))?;
    let mut nl = Netlink::new().map_err(|e| net_fail("cannot talk to the kernel", e))?;
    let mut recs = load_pruned(&store, &mut nl)?;
    let Some(pos) = recs
        .iter()
        .position(|r| r.ifname == *name && r.uid == me.uid)
    else {
        if nl.link_index(name).ok().flatten().is_none() {
            // already gone (its container's namespace went away): nothing to do
            let _ = writeln!(
                std::io::stderr(),
                "hako-user-nic: \"{name}\" is already gone"
            );
            return Ok(());
        }
        return Err(Fail::new(format!(
            "refusing to delete \"{name}\": hako-user-nic has no record of making it for {who} ({RUN_DIR}/nics); \
             only a veth this helper made for you can be deleted this way"
        )));
    };
    match nl.delete_link(name) {
        Ok(_) => {}
        Err(e) => return Err(net_fail(&format!("cannot delete \"{name}\""), e)),
    }
    recs.remove(pos);
    store.save(&recs)
}
