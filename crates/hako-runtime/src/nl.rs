//! The netlink the monitor itself needs at stop: delete a link, move a link (renamed) into
//! another network namespace, and wait for the host ends of veth pairs to go with the
//! container's network namespace. Everything else about networking is
//! done with hako-net by the `hako` command; this tiny encoder exists so the resident
//! monitor does not carry the whole rtnetlink message library (about 1 MiB of code) in
//! its memory for the life of every container.

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use nix::errno::Errno;

const RTM_NEWLINK: u16 = 16;
const RTM_DELLINK: u16 = 17;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLMSG_ERROR: u16 = 0x2;
const IFLA_IFNAME: u16 = 3;
const IFLA_NET_NS_PID: u16 = 19;
const RTMGRP_LINK: u32 = 1;

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

fn push_attr(buf: &mut Vec<u8>, kind: u16, data: &[u8]) {
    let len = 4 + data.len();
    buf.extend_from_slice(&(len as u16).to_ne_bytes());
    buf.extend_from_slice(&kind.to_ne_bytes());
    buf.extend_from_slice(data);
    buf.resize(align4(buf.len()), 0);
}

/// A link request: nlmsghdr + ifinfomsg(index) + attributes.
fn link_msg(kind: u16, index: i32, attrs: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let mut b = vec![0u8; 16]; // nlmsghdr, filled below
                               // struct ifinfomsg { u8 family, u8 pad, u16 type, i32 index, u32 flags, u32 change }
    b.extend_from_slice(&[libc::AF_UNSPEC as u8, 0, 0, 0]);
    b.extend_from_slice(&index.to_ne_bytes());
    b.extend_from_slice(&0u32.to_ne_bytes());
    b.extend_from_slice(&0u32.to_ne_bytes());
    for (k, d) in attrs {
        push_attr(&mut b, *k, d);
    }
    let len = b.len() as u32;
    b[0..4].copy_from_slice(&len.to_ne_bytes());
    b[4..6].copy_from_slice(&kind.to_ne_bytes());
    b[6..8].copy_from_slice(&(NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
    b[8..12].copy_from_slice(&1u32.to_ne_bytes()); // seq
    b
}

fn cstr(name: &str) -> Vec<u8> {
    let mut v = name.as_bytes().to_vec();
    v.push(0);
    v
}

fn socket() -> nix::Result<OwnedFd> {
    // SAFETY: plain socket(2) call; the fd is owned by the returned OwnedFd.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_ROUTE,
        )
    };
    if fd < 0 {
        return Err(Errno::last());
    }
    // SAFETY: a fresh fd.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Send one request and wait for its acknowledgement.
fn request(sock: &OwnedFd, msg: &[u8]) -> nix::Result<()> {
    // SAFETY: sending a buffer we own to the kernel (destination: the default, the kernel).
    if unsafe { libc::send(sock.as_raw_fd(), msg.as_ptr().cast(), msg.len(), 0) } < 0 {
        return Err(Errno::last());
    }
    let mut buf = [0u8; 4096];
    loop {
        // SAFETY: receiving into a buffer we own.
        let n = unsafe { libc::recv(sock.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            if Errno::last() == Errno::EINTR {
                continue;
            }
            return Err(Errno::last());
        }
        let n = n as usize;
        if n < 20 {
            return Err(Errno::EIO);
        }
        let kind = u16::from_ne_bytes([buf[4], buf[5]]);
        if kind == NLMSG_ERROR {
            let code = i32::from_ne_bytes([buf[16], buf[17], buf[18], buf[19]]);
            return if code == 0 {
                Ok(())
            } else {
                Err(Errno::from_raw(-code))
            };
        }
    }
}

/// Delete a link of the current network namespace by name. Ok(false) if it does not exist.
pub fn delete_link(name: &str) -> nix::Result<bool> {
    let sock = socket()?;
    match request(
        &sock,
        &link_msg(RTM_DELLINK, 0, &[(IFLA_IFNAME, cstr(name))]),
    ) {
        Ok(()) => Ok(true),
        Err(Errno::ENODEV) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Is there a link named `name` in the network namespace `ns`? (The caller is
/// single-threaded: it enters `ns` for the lookup and comes back.)
pub fn link_exists_in(ns: BorrowedFd<'_>, name: &str) -> nix::Result<bool> {
    let here: OwnedFd = std::fs::File::open("/proc/thread-self/ns/net")
        .map_err(|_| Errno::EIO)?
        .into();
    nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET)?;
    let found = nix::net::if_::if_nametoindex(name);
    nix::sched::setns(here, nix::sched::CloneFlags::CLONE_NEWNET)?;
    match found {
        Ok(_) => Ok(true),
        Err(Errno::ENODEV) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Move link `name` of the network namespace `ns` into the network namespace of process
/// `to_pid`, named `new_name` there (one RTM_NEWLINK; the caller is single-threaded).
pub fn move_link_out(
    ns: BorrowedFd<'_>,
    name: &str,
    to_pid: i32,
    new_name: &str,
) -> nix::Result<()> {
    let here: OwnedFd = std::fs::File::open("/proc/thread-self/ns/net")
        .map_err(|_| Errno::EIO)?
        .into();
    nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET)?;
    let made = (socket(), nix::net::if_::if_nametoindex(name));
    nix::sched::setns(here, nix::sched::CloneFlags::CLONE_NEWNET)?;
    let (sock, index) = (made.0?, made.1?);
    request(
        &sock,
        &link_msg(
            RTM_NEWLINK,
            index as i32,
            &[
                (IFLA_NET_NS_PID, (to_pid as u32).to_ne_bytes().to_vec()),
                (IFLA_IFNAME, cstr(new_name)),
            ],
        ),
    )
}

/// Delete the host-side links `links` (the host ends of the container's veth pairs, whose
/// other ends go with them) once init has been reaped, and return as soon as they are gone
/// from the host. `ns`, the container's network namespace, is let go first.
///
/// An RTM_DELLINK takes the link off the host's list and reports the deletion to the
/// RTNLGRP_LINK listeners within about a millisecond, but the sender's request then waits
/// for an RCU barrier before it is acknowledged: 15-35 ms. (Letting the namespace die
/// instead is no faster: the last reference to it goes with an RCU grace period after the
/// container's last UDP socket is closed; moving the link into that namespace waits for an
/// RCU barrier too.) So each request is sent by a forked child that does nothing else
/// (single-threaded caller; the child closes every inherited fd first, so no client or
/// terminal waits on it), and this process waits on the link notifications, not on the
/// children: nothing is polled, and a caller that reports STOPPED afterwards leaves no
/// link behind. The children finish their requests on their own and are reaped as
/// orphans (or by the caller's SIGCHLD handling). Whatever is still there when the
/// children are done, or if anything fails, is deleted here, synchronously.
pub fn release_links(links: &[String], ns: Option<OwnedFd>) {
    drop(ns);
    LinkRelease::begin(links).finish();
}

/// [`release_links`] in two halves, so that the caller can do other work (or wait for
/// init to die) while the kernel takes the links away: `begin` sends the deletions,
/// `finish` waits until the links are gone from the host.
pub struct LinkRelease {
    /// subscribed to link notifications (None: delete synchronously in `finish`)
    events: Option<OwnedFd>,
    /// links still on the host: (name, index)
    left: Vec<(String, u32)>,
    /// pidfds of the children sending the deletions
    children: Vec<OwnedFd>,
}

impl LinkRelease {
    pub fn begin(links: &[String]) -> LinkRelease {
        // subscribe first, then see which links exist: a deletion after the check is
        // reported
        let events = if links.is_empty() {
            None
        } else {
            link_events().ok()
        };
        let left: Vec<(String, u32)> = links
            .iter()
            .filter_map(|l| {
                nix::net::if_::if_nametoindex(l.as_str())
                    .ok()
                    .map(|i| (l.clone(), i))
            })
            .collect();
        let mut children = Vec::new();
        if events.is_some() {
            for (name, index) in &left {
                match delete_in_child(*index) {
                    Some(pidfd) => children.push(pidfd),
                    None => {
                        let _ = delete_link(name);
                    }
                }
            }
        }
        LinkRelease {
            events,
            left,
            children,
        }
    }

    /// Wait until every link is gone from the host; delete what is left when the children
    /// are done (or could not be used) synchronously.
    pub fn finish(self) {
        let LinkRelease {
            events,
            mut left,
            mut children,
        } = self;
        let mut buf = vec![0u8; 32 * 1024];
        while let Some(events) = events
            .as_ref()
            .filter(|_| !left.is_empty() && !children.is_empty())
        {
            let mut fds: Vec<libc::pollfd> = std::iter::once(events.as_raw_fd())
                .chain(children.iter().map(|c| c.as_raw_fd()))
                .map(|fd| libc::pollfd {
                    fd,
                    events: libc::POLLIN,
                    revents: 0,
                })
                .collect();
            // SAFETY: an array of pollfd of ours, with its length.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
            if n < 0 {
                if Errno::last() == Errno::EINTR {
                    continue;
                }
                break;
            }
            // a child that is done (its request failed, or the link went some other way)
            let done: Vec<usize> = fds[1..]
                .iter()
                .enumerate()
                .filter(|(_, f)| f.revents != 0)
                .map(|(i, _)| i)
                .collect();
            for i in done.into_iter().rev() {
                children.remove(i);
            }
            if fds[0].revents == 0 {
                continue;
            }
            loop {
                // SAFETY: receiving into a buffer we own.
                let n = unsafe {
                    libc::recv(
                        events.as_raw_fd(),
                        buf.as_mut_ptr().cast(),
                        buf.len(),
                        libc::MSG_DONTWAIT,
                    )
                };
                if n < 0 {
                    match Errno::last() {
                        Errno::EINTR => continue,
                        // notifications were lost: look again at what is left
                        Errno::ENOBUFS => left.retain(|(_, i)| link_exists(*i)),
                        _ => {}
                    }
                    break;
                }
                for index in deleted_links(&buf[..n as usize]) {
                    left.retain(|(_, i)| *i != index);
                }
            }
        }
        for (name, index) in left {
            if link_exists(index) {
                let _ = delete_link(&name);
            }
        }
    }
}

/// Fork a child that deletes link `index` and exits; its pidfd (readable once it has
/// exited). None if that cannot be done.
fn delete_in_child(index: u32) -> Option<OwnedFd> {
    // SAFETY: the caller is single-threaded; the child only makes raw syscalls and _exits.
    match unsafe { libc::fork() } {
        0 => {
            // the child drops every inherited fd (client sockets, terminals, the monitor's
            // own), so it keeps nothing open that someone waits on
            crate::sys::close_range(3, u32::MAX);
            let code = match socket() {
                Ok(sock) => match request(&sock, &link_msg(RTM_DELLINK, index as i32, &[])) {
                    Ok(()) | Err(Errno::ENODEV) => 0,
                    Err(_) => 1,
                },
                Err(_) => 1,
            };
            // SAFETY: end of the forked child, without running the parent's destructors.
            unsafe { libc::_exit(code) }
        }
        // the child is ours and not reaped yet, so the pid is it
        pid if pid > 0 => match crate::sys::pidfd_open(pid) {
            Ok(fd) => Some(fd),
            Err(_) => {
                // cannot watch it: wait for it, which is the synchronous delete
                let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
                None
            }
        },
        _ => None,
    }
}

/// A netlink socket subscribed to link notifications.
fn link_events() -> nix::Result<OwnedFd> {
    let sock = socket()?;
    // SAFETY: an all-zero sockaddr_nl is valid; we set family and groups.
    let mut sa: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    sa.nl_family = libc::AF_NETLINK as u16;
    sa.nl_groups = RTMGRP_LINK;
    // SAFETY: binding our socket to an address we own, with its size.
    let r = unsafe {
        libc::bind(
            sock.as_raw_fd(),
            (&sa as *const libc::sockaddr_nl).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as u32,
        )
    };
    if r < 0 {
        return Err(Errno::last());
    }
    Ok(sock)
}

/// Does the link with this index exist in the current network namespace?
fn link_exists(index: u32) -> bool {
    let mut name = [0 as libc::c_char; libc::IF_NAMESIZE];
    // SAFETY: the buffer is IF_NAMESIZE bytes, as if_indextoname requires.
    !unsafe { libc::if_indextoname(index, name.as_mut_ptr()) }.is_null()
}

/// The indexes of the links whose deletion the netlink messages in `buf` report
/// (RTM_DELLINK of family AF_UNSPEC; a bridge's AF_BRIDGE RTM_DELLINK only reports a port
/// leaving it).
fn deleted_links(buf: &[u8]) -> Vec<u32> {
    let mut out = Vec::new();
    let mut off = 0;
    while off + 16 <= buf.len() {
        let len = u32::from_ne_bytes([buf[off], buf[off + 1], buf[off + 2], buf[off + 3]]) as usize;
        if len < 16 || off + len > buf.len() {
            break;
        }
        let kind = u16::from_ne_bytes([buf[off + 4], buf[off + 5]]);
        if kind == RTM_DELLINK && len >= 32 && buf[off + 16] == libc::AF_UNSPEC as u8 {
            let i = &buf[off + 20..off + 24];
            out.push(i32::from_ne_bytes([i[0], i[1], i[2], i[3]]) as u32);
        }
        off += align4(len);
    }
    out
}
