//! The sync channel between the monitor and the container's init while it is being set
//! up: one SOCK_SEQPACKET pair, small text messages, fds passed with SCM_RIGHTS.
//! The child's end is close-on-exec, so EOF on the monitor's side means init was exec'd.

use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{
    recvmsg, sendmsg, socketpair, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags,
    SockFlag, SockType,
};

pub struct Channel {
    fd: OwnedFd,
}

pub fn pair() -> nix::Result<(Channel, Channel)> {
    let (a, b) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )?;
    Ok((Channel { fd: a }, Channel { fd: b }))
}

/// A message: a text and any fds that came with it. `None` from recv means EOF.
pub struct Message {
    pub text: String,
    pub fds: Vec<OwnedFd>,
}

impl Channel {
    pub fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    pub fn fd(&self) -> &OwnedFd {
        &self.fd
    }

    pub fn from_fd(fd: OwnedFd) -> Channel {
        Channel { fd }
    }

    pub fn try_clone(&self) -> std::io::Result<Channel> {
        Ok(Channel {
            fd: self.fd.try_clone()?,
        })
    }

    pub fn send(&self, text: &str) -> nix::Result<()> {
        self.send_fds(text, &[])
    }

    pub fn send_fds(&self, text: &str, fds: &[RawFd]) -> nix::Result<()> {
        let iov = [std::io::IoSlice::new(text.as_bytes())];
        let cmsg = [ControlMessage::ScmRights(fds)];
        let cmsgs: &[ControlMessage] = if fds.is_empty() { &[] } else { &cmsg };
        loop {
            match sendmsg::<()>(
                self.fd.as_raw_fd(),
                &iov,
                cmsgs,
                MsgFlags::MSG_NOSIGNAL,
                None,
            ) {
                Err(nix::errno::Errno::EINTR) => continue,
                r => return r.map(|_| ()),
            }
        }
    }

    pub fn recv(&self) -> nix::Result<Option<Message>> {
        let mut buf = vec![0u8; 8192];
        let mut cmsg_space = nix::cmsg_space!([RawFd; 253]);
        let mut reset_seen = false;
        loop {
            let mut iov = [IoSliceMut::new(&mut buf)];
            let r = recvmsg::<()>(
                self.fd.as_raw_fd(),
                &mut iov,
                Some(&mut cmsg_space),
                MsgFlags::MSG_CMSG_CLOEXEC,
            );
            let msg = match r {
                Err(nix::errno::Errno::EINTR) => continue,
                // A peer that exits with messages of ours unread resets the connection, and
                // the kernel reports that before the messages the peer sent us (e.g. the
                // child's "ERR ..." when it failed before reading "GO"). The error is
                // cleared once reported: read on for what is still queued.
                Err(nix::errno::Errno::ECONNRESET) if !reset_seen => {
                    reset_seen = true;
                    continue;
                }
                Err(nix::errno::Errno::ECONNRESET) => return Ok(None),
                Err(e) => return Err(e),
                Ok(m) => m,
            };
            let mut fds = Vec::new();
            for c in msg.cmsgs()? {
                if let ControlMessageOwned::ScmRights(v) = c {
                    // SAFETY: the kernel just installed these fds for us.
                    fds.extend(v.into_iter().map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }));
                }
            }
            let n = msg.bytes;
            if n == 0 && fds.is_empty() {
                return Ok(None);
            }
            return Ok(Some(Message {
                text: String::from_utf8_lossy(&buf[..n]).into_owned(),
                fds,
            }));
        }
    }
}
