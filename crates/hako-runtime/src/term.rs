//! Terminal plumbing for attach and console: raw mode, window size, and a proxy loop
//! between the user's terminal and a pty (or the monitor's console stream) with an
//! optional Ctrl-<x> q escape.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::termios::{self, SetArg, Termios};

use crate::sys;

/// Put `fd` in raw mode if it is a terminal; returns the settings to restore.
pub fn make_raw(fd: RawFd) -> Option<Termios> {
    // SAFETY: fd stays open for the duration of the call.
    let b = unsafe { BorrowedFd::borrow_raw(fd) };
    if !nix::unistd::isatty(fd).unwrap_or(false) {
        return None;
    }
    let saved = termios::tcgetattr(b).ok()?;
    let mut raw = saved.clone();
    termios::cfmakeraw(&mut raw);
    termios::tcsetattr(b, SetArg::TCSAFLUSH, &raw).ok()?;
    Some(saved)
}

pub fn restore(fd: RawFd, t: &Termios) {
    // SAFETY: as above.
    let b = unsafe { BorrowedFd::borrow_raw(fd) };
    let _ = termios::tcsetattr(b, SetArg::TCSAFLUSH, t);
}

pub fn copy_winsize(from: RawFd, to: RawFd) {
    if let Some(ws) = sys::get_winsize(from) {
        sys::set_winsize(to, &ws);
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum ProxyEnd {
    /// the other side closed
    Eof,
    /// the user typed the escape sequence
    Detached,
}

/// Copy stdin → `wr` and `rd` → stdout until `rd` reports EOF/hangup or the user types
/// the escape (Ctrl-`escape` then `q`). `winsize_to`: a pty master to resize on SIGWINCH.
pub fn proxy(
    rd: RawFd,
    wr: RawFd,
    escape: Option<u8>,
    winsize_to: Option<RawFd>,
) -> nix::Result<ProxyEnd> {
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGWINCH);
    let _ = mask.thread_block();
    let sfd = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)?;
    let esc = escape.map(|c| (c.to_ascii_lowercase().wrapping_sub(b'a')).wrapping_add(1));
    let mut saw_prefix = false;
    let mut stdin_open = true;
    let mut buf = [0u8; 16384];
    loop {
        let mut fds = vec![
            libc::pollfd {
                fd: rd,
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: sfd.as_fd().as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        if stdin_open {
            fds.push(libc::pollfd {
                fd: 0,
                events: libc::POLLIN,
                revents: 0,
            });
        }
        // SAFETY: valid pollfd array.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
        if n < 0 {
            if nix::errno::Errno::last() == nix::errno::Errno::EINTR {
                continue;
            }
            return Err(nix::errno::Errno::last());
        }
        if fds[1].revents != 0 {
            while let Ok(Some(_)) = sfd.read_signal() {}
            if let Some(t) = winsize_to {
                copy_winsize(0, t);
            }
        }
        if fds[0].revents != 0 {
            match nix::unistd::read(rd, &mut buf) {
                Ok(0) => return Ok(ProxyEnd::Eof),
                Ok(n) => write_all(1, &buf[..n]),
                Err(nix::errno::Errno::EAGAIN) | Err(nix::errno::Errno::EINTR) => {}
                Err(_) => return Ok(ProxyEnd::Eof), // EIO: the pty's last slave closed
            }
        }
        if stdin_open && fds.len() > 2 && fds[2].revents != 0 {
            match nix::unistd::read(0, &mut buf) {
                Ok(0) => stdin_open = false,
                Ok(n) => {
                    let mut out = Vec::with_capacity(n + 1);
                    for &b in &buf[..n] {
                        match esc {
                            Some(e) if saw_prefix => {
                                saw_prefix = false;
                                if b == b'q' {
                                    write_all(wr, &out);
                                    return Ok(ProxyEnd::Detached);
                                }
                                out.push(e);
                                if b != e {
                                    out.push(b);
                                }
                            }
                            Some(e) if b == e => saw_prefix = true,
                            _ => out.push(b),
                        }
                    }
                    write_all(wr, &out);
                }
                Err(nix::errno::Errno::EAGAIN) | Err(nix::errno::Errno::EINTR) => {}
                Err(_) => stdin_open = false,
            }
        }
    }
}

fn write_all(fd: RawFd, mut data: &[u8]) {
    while !data.is_empty() {
        // SAFETY: fd open for the call.
        let b = unsafe { BorrowedFd::borrow_raw(fd) };
        match nix::unistd::write(b, data) {
            Ok(n) => data = &data[n..],
            Err(nix::errno::Errno::EINTR) | Err(nix::errno::Errno::EAGAIN) => {}
            Err(_) => return,
        }
    }
}

/// OCI `--console-socket`: a pty's master, to whoever listens at `path` (one message, the
/// fd as SCM_RIGHTS, the pty's name as payload, as runc sends it).
pub fn send_pty_master(
    path: &std::path::Path,
    master: &std::os::fd::OwnedFd,
    name: &str,
) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let s = std::os::unix::net::UnixStream::connect(path)?;
    let fds = [master.as_raw_fd()];
    let cmsg = [nix::sys::socket::ControlMessage::ScmRights(&fds)];
    let iov = [std::io::IoSlice::new(name.as_bytes())];
    nix::sys::socket::sendmsg::<()>(
        s.as_raw_fd(),
        &iov,
        &cmsg,
        nix::sys::socket::MsgFlags::empty(),
        None,
    )
    .map_err(std::io::Error::from)?;
    Ok(())
}
