//! The sync channel between the monitor and the container's init while it is being set
//! up (and between `hako start` and its daemon monitor): one SOCK_SEQPACKET pair carrying
//! typed messages ([`Msg`]), fds passed with SCM_RIGHTS.
//!
//! A message of any length arrives whole: it is cut into frames that fit a datagram, each
//! with a "more follows" flag, and put together again on the other side (an error text
//! may quote a megabyte-long mount path). The child's end is close-on-exec; the monitor
//! counts init as started only after an explicit [`Msg::Exec`], never on end-of-file
//! alone (a child that died in set-up also closes its end).

use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{
    recvmsg, sendmsg, socketpair, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags,
    SockFlag, SockType,
};

/// What travels on a sync channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Msg {
    /// monitor → child: the network is in place, go on to pivot_root and exec
    Go,
    /// child → monitor: the console's and the ttys' pty masters, then the slaves the
    /// monitor holds open, in the message's fds
    Ptys {
        console: bool,
        ttys: u32,
        peers: u32,
    },
    /// child → monitor, monitor → `hako start`: the start failed, and why
    Error(String),
    /// child → monitor: the exec of init (under the mini init: of the command) is next; a
    /// close of the channel without an error after this means it succeeded
    Exec,
    /// mini init → monitor: the command could not be run
    ExecError(String),
    /// daemon monitor → `hako start`: the container is RUNNING with this init pid
    Started(i32),
    /// child → monitor: set up, run the start-host hooks now and answer [`Msg::Go`]
    StartHost,
    /// monitor → child in a user namespace: its id maps are written; the message's first
    /// fd is its idmapped rootfs mount (crate::userns), then one idmapped bind mount for
    /// each `lxc.mount.entry` whose index is in `binds`
    Mapped { binds: Vec<u32> },
    /// child in a user namespace → monitor: it is in its cgroups (which the monitor then
    /// hands to the container's root)
    Joined,
    /// daemon monitor → `hako start`, before its report: something the user should read
    /// (see [`crate::sys::notice`]), printed on the stderr of `hako start`
    Notice(String),
    /// child → monitor (OCI `create`): set up completely, it now waits on the exec fifo
    /// for `start` before it execs; the monitor reports the container created
    Created,
    /// child → monitor (OCI, config.json with hooks): the namespaces exist and the
    /// mounts are made, pivot_root is next: run the `prestart` and `createRuntime` hooks
    /// now and answer [`Msg::OciState`]
    OciHooks,
    /// monitor → child: those hooks succeeded; the container's state document (the OCI
    /// state JSON, init's host pid in it) for the hooks the child runs itself
    OciState(String),
}

const T_GO: u8 = 1;
const T_PTYS: u8 = 2;
const T_ERROR: u8 = 3;
const T_EXEC: u8 = 4;
const T_EXEC_ERROR: u8 = 5;
const T_STARTED: u8 = 6;
const T_START_HOST: u8 = 7;
const T_MAPPED: u8 = 8;
const T_JOINED: u8 = 9;
const T_NOTICE: u8 = 10;
const T_CREATED: u8 = 11;
const T_OCI_HOOKS: u8 = 12;
const T_OCI_STATE: u8 = 13;

impl Msg {
    fn encode(&self) -> Vec<u8> {
        let mut b = Vec::new();
        match self {
            Msg::Go => b.push(T_GO),
            Msg::Ptys {
                console,
                ttys,
                peers,
            } => {
                b.push(T_PTYS);
                b.push(*console as u8);
                b.extend_from_slice(&ttys.to_le_bytes());
                b.extend_from_slice(&peers.to_le_bytes());
            }
            Msg::Error(t) => {
                b.push(T_ERROR);
                b.extend_from_slice(t.as_bytes());
            }
            Msg::Exec => b.push(T_EXEC),
            Msg::ExecError(t) => {
                b.push(T_EXEC_ERROR);
                b.extend_from_slice(t.as_bytes());
            }
            Msg::Started(pid) => {
                b.push(T_STARTED);
                b.extend_from_slice(&pid.to_le_bytes());
            }
            Msg::StartHost => b.push(T_START_HOST),
            Msg::Mapped { binds } => {
                b.push(T_MAPPED);
                for i in binds {
                    b.extend_from_slice(&i.to_le_bytes());
                }
            }
            Msg::Joined => b.push(T_JOINED),
            Msg::Notice(t) => {
                b.push(T_NOTICE);
                b.extend_from_slice(t.as_bytes());
            }
            Msg::Created => b.push(T_CREATED),
            Msg::OciHooks => b.push(T_OCI_HOOKS),
            Msg::OciState(t) => {
                b.push(T_OCI_STATE);
                b.extend_from_slice(t.as_bytes());
            }
        }
        b
    }

    fn decode(b: &[u8]) -> Option<Msg> {
        let (&t, rest) = b.split_first()?;
        let u32_at = |i: usize| -> Option<u32> {
            Some(u32::from_le_bytes(rest.get(i..i + 4)?.try_into().ok()?))
        };
        let text = || String::from_utf8_lossy(rest).into_owned();
        Some(match t {
            T_GO if rest.is_empty() => Msg::Go,
            T_PTYS if rest.len() == 9 => Msg::Ptys {
                console: rest[0] != 0,
                ttys: u32_at(1)?,
                peers: u32_at(5)?,
            },
            T_ERROR => Msg::Error(text()),
            T_EXEC if rest.is_empty() => Msg::Exec,
            T_EXEC_ERROR => Msg::ExecError(text()),
            T_STARTED if rest.len() == 4 => Msg::Started(u32_at(0)? as i32),
            T_START_HOST if rest.is_empty() => Msg::StartHost,
            T_MAPPED if rest.len() % 4 == 0 => Msg::Mapped {
                binds: (0..rest.len() / 4)
                    .map(|k| u32_at(4 * k))
                    .collect::<Option<_>>()?,
            },
            T_JOINED if rest.is_empty() => Msg::Joined,
            T_NOTICE => Msg::Notice(text()),
            T_CREATED if rest.is_empty() => Msg::Created,
            T_OCI_HOOKS if rest.is_empty() => Msg::OciHooks,
            T_OCI_STATE => Msg::OciState(text()),
            _ => return None,
        })
    }
}

/// One frame's payload at most: well below the smallest socket buffer a host is set up
/// with, so a frame always fits one datagram.
const FRAME: usize = 32 * 1024;
/// The most a message may add up to (a runaway sender cannot exhaust the receiver).
const MAX_MESSAGE: usize = 16 * 1024 * 1024;
/// Frame flags (the first byte of a frame).
const LAST: u8 = 0;
const MORE: u8 = 1;

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

/// A message and the fds that came with it.
pub struct Received {
    pub msg: Msg,
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

    pub fn send(&self, msg: &Msg) -> nix::Result<()> {
        self.send_fds(msg, &[])
    }

    /// Send `msg` with `fds` (they travel with the first frame).
    pub fn send_fds(&self, msg: &Msg, fds: &[RawFd]) -> nix::Result<()> {
        let body = msg.encode();
        let mut chunks = body.chunks(FRAME).peekable();
        let mut first = true;
        while let Some(c) = chunks.next() {
            let flag = [if chunks.peek().is_some() { MORE } else { LAST }];
            let iov = [std::io::IoSlice::new(&flag), std::io::IoSlice::new(c)];
            let cmsg = [ControlMessage::ScmRights(fds)];
            let cmsgs: &[ControlMessage] = if first && !fds.is_empty() { &cmsg } else { &[] };
            first = false;
            loop {
                match sendmsg::<()>(
                    self.fd.as_raw_fd(),
                    &iov,
                    cmsgs,
                    MsgFlags::MSG_NOSIGNAL,
                    None,
                ) {
                    Err(nix::errno::Errno::EINTR) => continue,
                    r => {
                        r?;
                        break;
                    }
                }
            }
        }
        Ok(())
    }

    /// The next message; None at end-of-file (the other side closed its end). A message
    /// this side cannot read is an error (EBADMSG), never silently dropped.
    pub fn recv(&self) -> nix::Result<Option<Received>> {
        let mut body = Vec::new();
        let mut fds = Vec::new();
        let mut buf = vec![0u8; FRAME + 1];
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
            let m = match r {
                Err(nix::errno::Errno::EINTR) => continue,
                // A peer that exits with messages of ours unread resets the connection, and
                // the kernel reports that before the messages the peer sent us (e.g. the
                // child's error when it failed before reading "go"). The error is cleared
                // once reported: read on for what is still queued.
                Err(nix::errno::Errno::ECONNRESET) if !reset_seen => {
                    reset_seen = true;
                    continue;
                }
                Err(nix::errno::Errno::ECONNRESET) if body.is_empty() => return Ok(None),
                Err(e) => return Err(e),
                Ok(m) => m,
            };
            for c in m.cmsgs()? {
                if let ControlMessageOwned::ScmRights(v) = c {
                    // SAFETY: the kernel just installed these fds for us.
                    fds.extend(v.into_iter().map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }));
                }
            }
            let truncated = m.flags.contains(MsgFlags::MSG_TRUNC);
            let n = m.bytes;
            if n == 0 {
                if body.is_empty() && fds.is_empty() {
                    return Ok(None);
                }
                // end-of-file in the middle of a message
                return Err(nix::errno::Errno::EBADMSG);
            }
            if truncated || body.len() + n > MAX_MESSAGE {
                return Err(nix::errno::Errno::EMSGSIZE);
            }
            body.extend_from_slice(&buf[1..n]);
            if buf[0] == LAST {
                break;
            }
        }
        match Msg::decode(&body) {
            Some(msg) => Ok(Some(Received { msg, fds })),
            None => Err(nix::errno::Errno::EBADMSG),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        for m in [
            Msg::Go,
            Msg::Exec,
            Msg::Ptys {
                console: true,
                ttys: 4,
                peers: 5,
            },
            Msg::Error("container \"web\": cannot mount".into()),
            Msg::ExecError(String::new()),
            Msg::Started(4242),
            Msg::StartHost,
            Msg::Mapped { binds: vec![] },
            Msg::Mapped {
                binds: vec![0, 7, 65536],
            },
            Msg::Joined,
            Msg::Notice("container \"web\": its rootfs was shifted".into()),
            Msg::Created,
            Msg::OciHooks,
            Msg::OciState("{\"ociVersion\":\"1.2.0\",\"pid\":7}".into()),
        ] {
            assert_eq!(Msg::decode(&m.encode()), Some(m));
        }
        assert_eq!(Msg::decode(&[]), None);
        assert_eq!(Msg::decode(&[99]), None);
        assert_eq!(Msg::decode(&[T_GO, 0]), None);
        assert_eq!(Msg::decode(&[T_PTYS, 1, 2]), None);
    }

    #[test]
    fn a_long_message_arrives_whole_with_its_fds() {
        let (a, b) = pair().unwrap();
        let long = "x".repeat(1 << 20) + "END";
        let sent = Msg::Error(long.clone());
        // the receiver must read while the sender writes a message larger than the buffer
        let reader = std::thread::spawn(move || {
            let r = b.recv().unwrap().unwrap();
            let second = b.recv().unwrap().unwrap();
            let eof = b.recv().unwrap();
            (r.msg, r.fds.len(), second.msg, eof.is_none())
        });
        let devnull = std::fs::File::open("/dev/null").unwrap();
        a.send_fds(&sent, &[devnull.as_raw_fd()]).unwrap();
        a.send(&Msg::Exec).unwrap();
        drop(a);
        let (got, nfds, second, eof) = reader.join().unwrap();
        assert_eq!(got, Msg::Error(long));
        assert_eq!(nfds, 1);
        assert_eq!(second, Msg::Exec);
        assert!(eof);
    }

    #[test]
    fn end_of_file_is_none_and_garbage_is_an_error() {
        let (a, b) = pair().unwrap();
        drop(a);
        assert!(b.recv().unwrap().is_none());
        let (a, b) = pair().unwrap();
        nix::unistd::write(&a.fd, &[LAST, 200, 1, 2]).unwrap();
        assert_eq!(b.recv().err(), Some(nix::errno::Errno::EBADMSG));
    }
}
