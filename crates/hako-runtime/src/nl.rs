//! The two netlink requests the monitor itself needs at stop: delete a link, and move a
//! link (renamed) into another network namespace. Everything else about networking is
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
