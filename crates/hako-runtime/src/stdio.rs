//! The standard fds of a process hako runs inside a container on a user's behalf (attach,
//! execute): never a host fd. A host terminal handed to the container would let its root
//! type into the user's shell (TIOCSTI) or reprogram the console (TIOCLINUX); a host file
//! or device fd could be fchmod'ed or reopened through /proc/self/fd. So:
//!
//! - each of fds 0, 1 and 2 that is a terminal on the host side becomes the slave of one
//!   pty allocated from the container's own devpts, and hako copies between the pty's
//!   master and the user's terminal;
//! - one that is /dev/null becomes the container's own /dev/null;
//! - anything else (a pipe, a file, a socket, a closed fd) becomes a pipe whose other end
//!   hako copies to or from the host fd.
//!
//! [`Plan::relay`] runs in the host process until the process inside has exited and its
//! output has been read.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::stat::SFlag;

use crate::term;

/// What one of the process's fds 0, 1, 2 is inside the container.
enum Slot {
    /// the pty's slave
    Pty,
    /// the container's /dev/null (opened inside)
    Null,
    /// a pipe: the child's end (host end kept in [`Plan`])
    Pipe(OwnedFd),
}

/// How fds 0, 1, 2 are connected for one process; made before the fork.
pub struct Plan {
    slots: [Slot; 3],
    /// the pty when any of the host's fds is a terminal: its master (hako's end) and slave
    master: Option<OwnedFd>,
    slave: Option<OwnedFd>,
    /// the host ends of the pipes: stdin's write end, stdout's and stderr's read ends
    pipes: [Option<OwnedFd>; 3],
    /// `attach -L FILE`: what the pty's master gives (the command's terminal output) is
    /// also appended here; hako's end only, never the command's
    log: Option<OwnedFd>,
}

fn is_tty(fd: RawFd) -> bool {
    nix::unistd::isatty(fd).unwrap_or(false)
}

/// The host's /dev/null: a character device 1:3.
fn is_devnull(fd: RawFd) -> bool {
    match nix::sys::stat::fstat(fd) {
        Ok(st) => {
            SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()) == SFlag::S_IFCHR
                && nix::sys::stat::major(st.st_rdev) == 1
                && nix::sys::stat::minor(st.st_rdev) == 3
        }
        Err(_) => false,
    }
}

impl Plan {
    /// Decide for this process's fds 0, 1, 2. `open_pty` allocates a pty in the
    /// container (master, slave); it is called only when one of them is a terminal.
    pub fn new(
        open_pty: impl FnOnce() -> crate::Result<(OwnedFd, OwnedFd)>,
    ) -> crate::Result<Plan> {
        let ttys = [is_tty(0), is_tty(1), is_tty(2)];
        let (master, slave) = if ttys.iter().any(|t| *t) {
            let (m, s) = open_pty()?;
            (Some(m), Some(s))
        } else {
            (None, None)
        };
        let mut pipes: [Option<OwnedFd>; 3] = [None, None, None];
        let mut slot = |fd: usize| -> crate::Result<Slot> {
            if ttys[fd] {
                return Ok(Slot::Pty);
            }
            if is_devnull(fd as RawFd) {
                return Ok(Slot::Null);
            }
            let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
                .map_err(|e| crate::error::sys_err("cannot make a pipe for the command", e))?;
            Ok(if fd == 0 {
                pipes[0] = Some(w);
                Slot::Pipe(r)
            } else {
                pipes[fd] = Some(r);
                Slot::Pipe(w)
            })
        };
        let slots = [slot(0)?, slot(1)?, slot(2)?];
        Ok(Plan {
            slots,
            master,
            slave,
            pipes,
            log: None,
        })
    }

    /// OCI `exec -t --console-socket`: fds 0, 1 and 2 are all `slave` (a pty of the
    /// container's devpts whose master went to the caller's console socket).
    pub fn console(slave: OwnedFd) -> Plan {
        Plan {
            slots: [Slot::Pty, Slot::Pty, Slot::Pty],
            master: None,
            slave: Some(slave),
            pipes: [None, None, None],
            log: None,
        }
    }

    /// Also append the pty's output to `log` (`attach -L`); without a pty nothing is
    /// logged, as in LXC.
    pub fn with_log(mut self, log: Option<OwnedFd>) -> Plan {
        self.log = log;
        self
    }

    /// Is the pty in use (the process gets a controlling terminal)?
    pub fn has_pty(&self) -> bool {
        self.slave.is_some()
    }

    /// In the forked child, right after the fork: let go of hako's ends (the pty's
    /// master, the host ends of the pipes), so that only the host process holds them; a
    /// stdin pipe's write end left open here would keep the command from seeing EOF.
    pub fn child_side(mut self) -> Plan {
        self.pipes = [None, None, None];
        self.master = None;
        self.log = None;
        self
    }

    /// In a forked child on the host (`execute`'s monitor): put the pipes' child ends on
    /// 0, 1, 2, leaving the other fds as they are (the container's init replaces them
    /// with its own /dev/null).
    pub fn install_pipes(&self) -> Result<(), (&'static str, Errno)> {
        for (fd, s) in self.slots.iter().enumerate() {
            if let Slot::Pipe(p) = s {
                nix::unistd::dup2(p.as_raw_fd(), fd as RawFd).map_err(|e| ("dup2", e))?;
            }
        }
        Ok(())
    }

    /// In the forked child, inside the container (after setns, before exec): put the
    /// planned fds on 0, 1, 2; with a pty, start a session with it as the controlling
    /// terminal. Returns the failing step's errno.
    pub fn install(&self) -> Result<(), (&'static str, Errno)> {
        if let Some(slave) = &self.slave {
            nix::unistd::setsid().map_err(|e| ("setsid", e))?;
            crate::sys::set_controlling_tty(slave.as_raw_fd())
                .map_err(|e| ("make the pty the controlling terminal", e))?;
        }
        for (fd, s) in self.slots.iter().enumerate() {
            let src: OwnedFd;
            let from = match s {
                Slot::Pty => match &self.slave {
                    Some(slave) => slave.as_raw_fd(),
                    None => continue,
                },
                Slot::Pipe(p) => p.as_raw_fd(),
                Slot::Null => {
                    src = nix::fcntl::open(
                        "/dev/null",
                        nix::fcntl::OFlag::O_RDWR
                            | nix::fcntl::OFlag::O_NOCTTY
                            | nix::fcntl::OFlag::O_CLOEXEC,
                        nix::sys::stat::Mode::empty(),
                    )
                    .map(|f| {
                        // SAFETY: a fresh fd we own.
                        unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(f) }
                    })
                    .map_err(|e| ("open the container's /dev/null", e))?;
                    src.as_raw_fd()
                }
            };
            // dup2 clears close-on-exec on the copy
            nix::unistd::dup2(from, fd as RawFd).map_err(|e| ("dup2", e))?;
        }
        Ok(())
    }

    /// In the host process after the fork: drop the child's ends, then copy between the
    /// user's fds and the process's pty and pipes until `done` (a pidfd of the process)
    /// says it has exited, and what it wrote has been read. With a terminal on fd 0, that
    /// terminal is raw meanwhile and window size changes are passed on.
    /// Termination signals this process gets meanwhile (SIGTERM, SIGINT, SIGHUP, SIGQUIT,
    /// SIGUSR1, SIGUSR2) are passed on to `forward` (a pidfd), if given.
    pub fn relay(mut self, done: BorrowedFd<'_>, forward: Option<BorrowedFd<'_>>) {
        for s in &mut self.slots {
            *s = Slot::Null; // closes the child's pipe ends
        }
        self.slave = None;
        let master = self.master.take();
        let stdin_tty = is_tty(0);
        // where the pty's output goes: the terminal among stdout and stderr
        let pty_out: RawFd = if is_tty(1) { 1 } else { 2 };
        let saved = match &master {
            Some(m) if stdin_tty => {
                term::copy_winsize(0, m.as_raw_fd());
                term::make_raw(0)
            }
            Some(m) => {
                term::copy_winsize(pty_out, m.as_raw_fd());
                None
            }
            None => None,
        };
        let mut mask = SigSet::empty();
        mask.add(Signal::SIGWINCH);
        if forward.is_some() {
            for s in FORWARDED {
                mask.add(s);
            }
        }
        let mut old_mask = SigSet::empty();
        let _ = nix::sys::signal::pthread_sigmask(
            nix::sys::signal::SigmaskHow::SIG_BLOCK,
            Some(&mask),
            Some(&mut old_mask),
        );
        let sfd = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK).ok();

        let [stdin_w, out_r, err_r] = std::mem::take(&mut self.pipes);
        let mut pumps: Vec<Pump> = Vec::new();
        // host stdin → the pty (when stdin is the terminal) or the stdin pipe
        let stdin_to = match (&master, stdin_w) {
            (Some(m), _) if stdin_tty => Some(Sink::Borrowed(m.as_raw_fd())),
            (_, Some(w)) => Some(Sink::Owned(w)),
            _ => None,
        };
        if let Some(to) = stdin_to {
            pumps.push(Pump::new(Source::Borrowed(0), to, true));
        }
        if let Some(m) = &master {
            let mut p = Pump::new(
                Source::Borrowed(m.as_raw_fd()),
                Sink::Borrowed(pty_out),
                false,
            );
            p.tee = self.log.take();
            pumps.push(p);
        }
        if let Some(r) = out_r {
            pumps.push(Pump::new(Source::Owned(r), Sink::Borrowed(1), false));
        }
        if let Some(r) = err_r {
            pumps.push(Pump::new(Source::Owned(r), Sink::Borrowed(2), false));
        }
        // hako's own ends never block the loop; the user's fds keep their flags (they are
        // shared with the shell that started hako)
        for p in &pumps {
            if let Source::Owned(f) = &p.from {
                set_nonblocking(f.as_raw_fd(), true);
            }
            if let Sink::Owned(f) = &p.to {
                set_nonblocking(f.as_raw_fd(), true);
            }
        }
        if let Some(m) = &master {
            set_nonblocking(m.as_raw_fd(), true);
        }

        let mut exited = false;
        loop {
            let mut fds: Vec<libc::pollfd> = Vec::new();
            let mut who: Vec<(usize, bool)> = Vec::new(); // (pump, is its sink)
            for (i, p) in pumps.iter().enumerate() {
                if p.closed {
                    continue;
                }
                if p.pending.is_empty() {
                    if !exited || !p.input {
                        fds.push(pollfd(p.from.raw(), libc::POLLIN));
                        who.push((i, false));
                    }
                } else {
                    fds.push(pollfd(p.to.raw(), libc::POLLOUT));
                    who.push((i, true));
                }
            }
            let base = fds.len();
            if !exited {
                fds.push(pollfd(done.as_raw_fd(), libc::POLLIN));
            }
            if let Some(s) = &sfd {
                fds.push(pollfd(s.as_fd().as_raw_fd(), libc::POLLIN));
            }
            if exited && who.iter().all(|(i, _)| pumps[*i].input) {
                break; // output drained; the user's input has nowhere to go
            }
            // after the exit, read what is buffered and stop once nothing more comes
            let timeout = if exited { 0 } else { -1 };
            // SAFETY: a valid pollfd array.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
            if n < 0 {
                if Errno::last() == Errno::EINTR {
                    continue;
                }
                break;
            }
            if n == 0 && exited {
                break;
            }
            if !exited && fds[base].revents != 0 {
                exited = true;
            }
            if let Some(s) = &sfd {
                if fds.last().is_some_and(|f| f.revents != 0) {
                    while let Ok(Some(si)) = s.read_signal() {
                        if si.ssi_signo == libc::SIGWINCH as u32 {
                            if let Some(m) = &master {
                                term::copy_winsize(
                                    if stdin_tty { 0 } else { pty_out },
                                    m.as_raw_fd(),
                                );
                            }
                        } else if let Some(f) = forward {
                            let _ = crate::sys::pidfd_send_signal(f, si.ssi_signo as i32);
                        }
                    }
                }
            }
            for (k, (i, sink)) in who.iter().enumerate() {
                if fds[k].revents == 0 {
                    continue;
                }
                if *sink {
                    pumps[*i].flush();
                } else {
                    pumps[*i].fill();
                }
            }
            // a closed stdin closes the pipe to the command (EOF inside)
            for p in &mut pumps {
                if p.input && p.closed {
                    p.close_sink_if_owned();
                }
            }
        }
        if let Some(t) = saved {
            term::restore(0, &t);
        }
        drop(sfd);
        let _ = nix::sys::signal::pthread_sigmask(
            nix::sys::signal::SigmaskHow::SIG_SETMASK,
            Some(&old_mask),
            None,
        );
    }
}

/// What [`Plan::relay`] passes on.
const FORWARDED: [Signal; 6] = [
    Signal::SIGTERM,
    Signal::SIGINT,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
];

fn pollfd(fd: RawFd, events: i16) -> libc::pollfd {
    libc::pollfd {
        fd,
        events,
        revents: 0,
    }
}

fn set_nonblocking(fd: RawFd, on: bool) {
    if let Ok(fl) = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFL) {
        let mut f = nix::fcntl::OFlag::from_bits_truncate(fl);
        f.set(nix::fcntl::OFlag::O_NONBLOCK, on);
        let _ = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_SETFL(f));
    }
}

enum Source {
    Borrowed(RawFd),
    Owned(OwnedFd),
}
impl Source {
    fn raw(&self) -> RawFd {
        match self {
            Source::Borrowed(f) => *f,
            Source::Owned(f) => f.as_raw_fd(),
        }
    }
}
enum Sink {
    Borrowed(RawFd),
    Owned(OwnedFd),
    Closed,
}
impl Sink {
    fn raw(&self) -> RawFd {
        match self {
            Sink::Borrowed(f) => *f,
            Sink::Owned(f) => f.as_raw_fd(),
            Sink::Closed => -1,
        }
    }
}

/// One direction of copying, with what was read but not written yet (a sink that is
/// full is waited for with POLLOUT; nothing blocks the loop).
struct Pump {
    from: Source,
    to: Sink,
    pending: Vec<u8>,
    /// the user's input (the copy stops when the process has exited)
    input: bool,
    closed: bool,
    /// a copy of everything read goes here too (a regular file: written at once)
    tee: Option<OwnedFd>,
}

impl Pump {
    fn new(from: Source, to: Sink, input: bool) -> Pump {
        Pump {
            from,
            to,
            pending: Vec::new(),
            input,
            closed: false,
            tee: None,
        }
    }

    fn fill(&mut self) {
        let mut buf = [0u8; 16384];
        match nix::unistd::read(self.from.raw(), &mut buf) {
            Ok(0) => self.closed = true,
            Ok(n) => {
                if let Some(t) = &self.tee {
                    let mut rest = &buf[..n];
                    while !rest.is_empty() {
                        match nix::unistd::write(t, rest) {
                            Ok(0) => break,
                            Ok(k) => rest = &rest[k..],
                            Err(Errno::EINTR) => {}
                            // a full disk or the like: the terminal still gets it all
                            Err(_) => break,
                        }
                    }
                }
                self.pending.extend_from_slice(&buf[..n]);
                self.flush();
            }
            Err(Errno::EAGAIN) | Err(Errno::EINTR) => {}
            // EIO: the pty's last slave closed
            Err(_) => self.closed = true,
        }
    }

    fn flush(&mut self) {
        while !self.pending.is_empty() {
            let fd = self.to.raw();
            if fd < 0 {
                self.pending.clear();
                return;
            }
            // SAFETY: fd is open for the call.
            let b = unsafe { BorrowedFd::borrow_raw(fd) };
            match nix::unistd::write(b, &self.pending) {
                Ok(n) => {
                    self.pending.drain(..n);
                }
                Err(Errno::EINTR) => {}
                Err(Errno::EAGAIN) => return,
                Err(_) => {
                    // the reader went away: drop what it would have got
                    self.pending.clear();
                    self.closed = true;
                    return;
                }
            }
        }
    }

    fn close_sink_if_owned(&mut self) {
        if self.pending.is_empty() && matches!(self.to, Sink::Owned(_)) {
            self.to = Sink::Closed;
        }
    }
}
