//! `hako device add|rm` / `lxc-device add|del` (issue 14, work in progress): a host network
//! interface moved into a running container's network namespace (renamed there when asked)
//! and given back. Device nodes and bind mounts are not done yet.

use std::os::fd::{AsFd, OwnedFd};

use crate::error::{Error, Result};

/// Runs `f` in a forked child that has joined the network namespace of `pid`; its error
/// text comes back through a pipe.
fn in_netns_of(pid: i32, f: impl FnOnce() -> std::result::Result<(), String>) -> Result<()> {
    let ns: OwnedFd = std::fs::File::open(format!("/proc/{pid}/ns/net"))
        .map_err(|e| {
            Error::other(format!(
                "cannot open the network namespace of pid {pid}: {e}"
            ))
        })?
        .into();
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| Error::other(format!("pipe: {e}")))?;
    // SAFETY: the child only makes system calls (setns, netlink) and exits.
    match unsafe { nix::unistd::fork() }.map_err(|e| Error::other(format!("fork: {e}")))? {
        nix::unistd::ForkResult::Child => {
            drop(r);
            let res = nix::sched::setns(ns.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET)
                .map_err(|e| format!("cannot join the container's network namespace: {e}"))
                .and_then(|_| f());
            let code = match res {
                Ok(()) => 0,
                Err(m) => {
                    let _ = nix::unistd::write(&w, m.as_bytes());
                    1
                }
            };
            // SAFETY: end of the forked child.
            unsafe { libc::_exit(code) }
        }
        nix::unistd::ForkResult::Parent { child } => {
            drop(w);
            let mut msg = String::new();
            let _ = std::io::Read::read_to_string(&mut std::fs::File::from(r), &mut msg);
            let st = nix::sys::wait::waitpid(child, None)
                .map_err(|e| Error::other(format!("waitpid: {e}")))?;
            match st {
                nix::sys::wait::WaitStatus::Exited(_, 0) => Ok(()),
                _ => Err(Error::other(if msg.is_empty() {
                    format!("the helper in the container's network namespace failed: {st:?}")
                } else {
                    msg
                })),
            }
        }
    }
}

/// Move the host interface `ifname` into the container whose init is `pid`, named
/// `inside` there (default: its own name). Returns the name inside.
pub fn add_nic(container: &str, pid: i32, ifname: &str, inside: Option<&str>) -> Result<String> {
    let mut nl = hako_net::Netlink::new().map_err(|e| Error::other(e.to_string()))?;
    if nl
        .link_index(ifname)
        .map_err(|e| Error::other(e.to_string()))?
        .is_none()
    {
        return Err(Error::other(format!(
            "container \"{container}\": no network interface \"{ifname}\" on the host; see \"ip link\" for the names"
        )));
    }
    let host_ns: OwnedFd = std::fs::File::open("/proc/self/ns/net")
        .map_err(|e| Error::other(format!("cannot open the host's network namespace: {e}")))?
        .into();
    nl.move_to_netns_pid(ifname, pid)
        .map_err(|e| Error::other(format!("container \"{container}\": {e}")))?;
    let name = inside.unwrap_or(ifname).to_string();
    if name != ifname {
        let (from, to) = (ifname.to_string(), name.clone());
        let hfd = host_ns
            .try_clone()
            .map_err(|e| Error::other(e.to_string()))?;
        let r = in_netns_of(pid, move || {
            let mut n = hako_net::Netlink::new().map_err(|e| e.to_string())?;
            if let Err(e) = n.rename(&from, &to) {
                // give it back as it was
                let _ = n.move_to_netns_fd(&from, hfd.as_fd());
                return Err(e.to_string());
            }
            Ok(())
        });
        r.map_err(|e| Error::other(format!("container \"{container}\": {e}")))?;
    }
    Ok(name)
}

/// Give the interface `inside` of the container whose init is `pid` back to the host.
pub fn rm_nic(container: &str, pid: i32, inside: &str) -> Result<()> {
    let host_ns: OwnedFd = std::fs::File::open("/proc/self/ns/net")
        .map_err(|e| Error::other(format!("cannot open the host's network namespace: {e}")))?
        .into();
    let name = inside.to_string();
    in_netns_of(pid, move || {
        let mut n = hako_net::Netlink::new().map_err(|e| e.to_string())?;
        if n.link_index(&name).map_err(|e| e.to_string())?.is_none() {
            return Err(format!("no network interface \"{name}\" in the container; see \"hako attach NAME -- ip link\""));
        }
        n.move_to_netns_fd(&name, host_ns.as_fd()).map_err(|e| e.to_string())
    })
    .map_err(|e| Error::other(format!("container \"{container}\": {e}")))
}
