//! The route socket: open (here or in another network namespace), send a request, collect
//! the answers of a request or a dump; the kernel's errors (with its extended ack) and the
//! remedy each one calls for.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST,
};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};
use nix::sched::{setns, CloneFlags};

use super::Netlink;
use crate::error::{NetError, Result};

const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLMSG_HDRLEN: usize = 16;
const NLM_F_CAPPED: u16 = 0x100;
const NLM_F_ACK_TLVS: u16 = 0x200;
const NLMSGERR_ATTR_MSG: u16 = 1;
const RECV_BUF: usize = 64 * 1024;

/// What the kernel said when it refused a request.
#[derive(Debug, Clone)]
pub(super) struct KernelErr {
    pub(super) errno: i32,
    pub(super) ext_ack: Option<String>,
}

impl From<io::Error> for KernelErr {
    fn from(e: io::Error) -> Self {
        KernelErr {
            errno: e.raw_os_error().unwrap_or(libc::EIO),
            ext_ack: Some(e.to_string()).filter(|_| e.raw_os_error().is_none()),
        }
    }
}
fn remedy(errno: i32) -> String {
    match errno {
        libc::EPERM | libc::EACCES => "run hako as root (it needs CAP_NET_ADMIN)".into(),
        libc::EEXIST => "choose another name or delete the existing one".into(),
        libc::EOPNOTSUPP => "this kernel does not support it; check the kernel configuration or use another interface type".into(),
        libc::EBUSY => "bring the device down first, or detach whatever uses it".into(),
        libc::ESRCH => "the target process is gone; make sure the container is still starting".into(),
        libc::ENODEV => "check the name with \"hako network ls\" or the host's interface list".into(),
        libc::ENOBUFS | libc::ENOMEM => "the host is short of memory; free some and retry".into(),
        _ => "check the value and the kernel log (dmesg)".into(),
    }
}

pub(super) fn kerr(op: String, e: KernelErr) -> NetError {
    let remedy = remedy(e.errno);
    NetError::Kernel {
        op,
        errno: e.errno,
        ext_ack: e.ext_ack,
        remedy,
    }
}

/// Parse the extended-ack TLVs of an NLMSG_ERROR message (`msg` is the whole message).
fn parse_ext_ack(msg: &[u8], flags: u16) -> Option<String> {
    if flags & NLM_F_ACK_TLVS == 0 || msg.len() < NLMSG_HDRLEN + 4 + NLMSG_HDRLEN {
        return None;
    }
    let inner = NLMSG_HDRLEN + 4;
    let orig_len = if flags & NLM_F_CAPPED != 0 {
        NLMSG_HDRLEN
    } else {
        u32::from_ne_bytes(msg[inner..inner + 4].try_into().ok()?) as usize
    };
    let mut off = (inner + orig_len + 3) & !3;
    while off + 4 <= msg.len() {
        let len = u16::from_ne_bytes([msg[off], msg[off + 1]]) as usize;
        let typ = u16::from_ne_bytes([msg[off + 2], msg[off + 3]]) & 0x3fff;
        if len < 4 || off + len > msg.len() {
            break;
        }
        if typ == NLMSGERR_ATTR_MSG {
            let v = &msg[off + 4..off + len];
            let v = v.split(|b| *b == 0).next().unwrap_or(v);
            let s = String::from_utf8_lossy(v).trim().to_string();
            return Some(s).filter(|s| !s.is_empty());
        }
        off += (len + 3) & !3;
    }
    None
}

impl Netlink {
    /// A socket in the calling thread's current network namespace.
    pub fn new() -> Result<Netlink> {
        let op = || "open a netlink route socket".to_string();
        let mut sock = Socket::new(NETLINK_ROUTE).map_err(|e| {
            NetError::io(
                op(),
                e,
                "check that the kernel has netlink (it always should)",
            )
        })?;
        sock.bind_auto()
            .map_err(|e| NetError::io(op(), e, "check the limit on open files"))?;
        sock.connect(&SocketAddr::new(0, 0))
            .map_err(|e| NetError::io(op(), e, "check the kernel log (dmesg)"))?;
        // Both are best effort: old kernels lack them and work without.
        let _ = sock.set_ext_ack(true);
        let _ = sock.set_cap_ack(true);
        Ok(Netlink {
            sock,
            seq: 0,
            buf: vec![0; RECV_BUF],
        })
    }

    /// A socket inside the network namespace `ns_fd` (an open `/proc/PID/ns/net`): enter it,
    /// create the socket, return to the calling thread's original namespace. The socket stays
    /// bound to `ns_fd`'s namespace for its whole life. Only the calling thread switches.
    pub fn in_netns(ns_fd: BorrowedFd) -> Result<Netlink> {
        let orig = File::open("/proc/thread-self/ns/net").map_err(|e| {
            NetError::io(
                "open /proc/thread-self/ns/net to remember the current network namespace",
                e,
                "mount /proc",
            )
        })?;
        setns(ns_fd, CloneFlags::CLONE_NEWNET).map_err(|e| {
            NetError::io(
                format!("enter the network namespace of fd {}", ns_fd.as_raw_fd()),
                io::Error::from(e),
                "pass an open /proc/PID/ns/net of a live process and run as root",
            )
        })?;
        let nl = Netlink::new();
        // Going back must not fail silently: the caller would keep running in the wrong netns.
        if let Err(e) = setns(orig.as_fd(), CloneFlags::CLONE_NEWNET) {
            return Err(NetError::io(
                "return to the original network namespace",
                io::Error::from(e),
                "this should never happen; report it as a hako bug",
            ));
        }
        nl
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1).max(1);
        self.seq
    }

    pub(super) fn send(&mut self, msg: RouteNetlinkMessage, flags: u16) -> Result<u32, KernelErr> {
        let seq = self.next_seq();
        let mut hdr = NetlinkHeader::default();
        hdr.flags = NLM_F_REQUEST | flags;
        hdr.sequence_number = seq;
        let mut packet = NetlinkMessage::new(hdr, NetlinkPayload::from(msg));
        packet.finalize();
        let mut out = vec![0u8; packet.buffer_len()];
        packet.serialize(&mut out[..]);
        self.sock.send(&out, 0)?;
        Ok(seq)
    }

    /// Receive answers to `seq` until an ACK/NLMSG_ERROR (for requests) or NLMSG_DONE (for
    /// dumps); collect the rtnetlink messages in between.
    pub(super) fn receive(&mut self, seq: u32) -> Result<Vec<RouteNetlinkMessage>, KernelErr> {
        let mut out = Vec::new();
        loop {
            let n = loop {
                match self.sock.recv(&mut &mut self.buf[..], libc::MSG_TRUNC) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e.into()),
                }
            };
            if n > self.buf.len() {
                return Err(KernelErr {
                    errno: libc::EMSGSIZE,
                    ext_ack: Some(format!("netlink answer of {n} bytes truncated")),
                });
            }
            let mut off = 0;
            while off + NLMSG_HDRLEN <= n {
                let b = &self.buf[off..n];
                let len = u32::from_ne_bytes(b[0..4].try_into().unwrap()) as usize;
                let typ = u16::from_ne_bytes([b[4], b[5]]);
                let flags = u16::from_ne_bytes([b[6], b[7]]);
                let mseq = u32::from_ne_bytes(b[8..12].try_into().unwrap());
                if len < NLMSG_HDRLEN || len > b.len() {
                    return Err(KernelErr {
                        errno: libc::EPROTO,
                        ext_ack: Some("malformed netlink message".into()),
                    });
                }
                let msg = &b[..len];
                off += (len + 3) & !3;
                if mseq != seq {
                    continue; // a late answer to an earlier request
                }
                match typ {
                    NLMSG_ERROR => {
                        let code = if len >= NLMSG_HDRLEN + 4 {
                            i32::from_ne_bytes(msg[16..20].try_into().unwrap())
                        } else {
                            -libc::EPROTO
                        };
                        if code == 0 {
                            return Ok(out);
                        }
                        return Err(KernelErr {
                            errno: -code,
                            ext_ack: parse_ext_ack(msg, flags),
                        });
                    }
                    NLMSG_DONE => {
                        let code = if len >= NLMSG_HDRLEN + 4 {
                            i32::from_ne_bytes(msg[16..20].try_into().unwrap())
                        } else {
                            0
                        };
                        if code < 0 {
                            return Err(KernelErr {
                                errno: -code,
                                ext_ack: None,
                            });
                        }
                        return Ok(out);
                    }
                    _ => {
                        let parsed = NetlinkMessage::<RouteNetlinkMessage>::deserialize(msg)
                            .map_err(|e| KernelErr {
                                errno: libc::EPROTO,
                                ext_ack: Some(format!("cannot parse a netlink answer: {e}")),
                            })?;
                        if let NetlinkPayload::InnerMessage(m) = parsed.payload {
                            out.push(m);
                        }
                    }
                }
            }
        }
    }

    /// Send a request that changes something; wait for the kernel's ACK.
    pub(super) fn request(
        &mut self,
        msg: RouteNetlinkMessage,
        flags: u16,
    ) -> Result<(), KernelErr> {
        let seq = self.send(msg, NLM_F_ACK | flags)?;
        self.receive(seq).map(|_| ())
    }

    /// A dump request; retried when the kernel says the dump was interrupted by a change.
    pub(super) fn dump(
        &mut self,
        msg: RouteNetlinkMessage,
    ) -> Result<Vec<RouteNetlinkMessage>, KernelErr> {
        let mut tries = 0;
        loop {
            let seq = self.send(msg.clone(), NLM_F_DUMP)?;
            match self.receive(seq) {
                Err(e) if e.errno == libc::EINTR && tries < 5 => tries += 1,
                r => return r,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::errno_text;

    #[test]
    fn ext_ack_parsing() {
        // NLMSG_ERROR, capped, with an NLMSGERR_ATTR_MSG TLV
        let text = b"Unknown device type\0";
        let mut m = Vec::new();
        let tlv_len = 4 + text.len();
        let total = NLMSG_HDRLEN + 4 + NLMSG_HDRLEN + ((tlv_len + 3) & !3);
        m.extend_from_slice(&(total as u32).to_ne_bytes());
        m.extend_from_slice(&NLMSG_ERROR.to_ne_bytes());
        m.extend_from_slice(&(NLM_F_CAPPED | NLM_F_ACK_TLVS).to_ne_bytes());
        m.extend_from_slice(&7u32.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(&(-libc::EOPNOTSUPP).to_ne_bytes());
        m.extend_from_slice(&[0u8; NLMSG_HDRLEN]);
        m.extend_from_slice(&(tlv_len as u16).to_ne_bytes());
        m.extend_from_slice(&NLMSGERR_ATTR_MSG.to_ne_bytes());
        m.extend_from_slice(text);
        while m.len() < total {
            m.push(0);
        }
        assert_eq!(
            parse_ext_ack(&m, NLM_F_CAPPED | NLM_F_ACK_TLVS).as_deref(),
            Some("Unknown device type")
        );
        assert_eq!(parse_ext_ack(&m, NLM_F_CAPPED), None);
        assert_eq!(parse_ext_ack(&m[..20], NLM_F_CAPPED | NLM_F_ACK_TLVS), None);
    }

    #[test]
    fn kernel_error_text() {
        let e = kerr(
            "create bridge \"b\"".into(),
            KernelErr {
                errno: libc::EPERM,
                ext_ack: None,
            },
        );
        assert_eq!(
            e.to_string(),
            "cannot create bridge \"b\": operation not permitted; run hako as root (it needs CAP_NET_ADMIN)"
        );
        let e = kerr(
            "create dummy device \"d\"".into(),
            KernelErr {
                errno: libc::EOPNOTSUPP,
                ext_ack: Some("Unknown device type".into()),
            },
        );
        assert!(
            e.to_string()
                .contains("(kernel: Unknown device type); this kernel does not support it"),
            "{e}"
        );
        assert_eq!(errno_text(libc::ENODEV), "no such device");
    }
}
