//! The console and the ttys: their output to the console log, the console file, the
//! foreground terminal and console clients; the foreground terminal's input and size.

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, RawFd};

use super::{control::ClientMode, LaunchMode, LaunchOptions, Monitor};
use crate::error::{Context, Result};
use crate::sys;

/// Where the console's output goes besides the console clients, and the foreground
/// terminal.
#[derive(Default)]
pub(super) struct Console {
    /// the console log (`lxc.console.logfile`, or the container's console.log)
    pub(super) log: Option<File>,
    /// `start -c FILE`
    pub(super) out: Option<File>,
    /// foreground: the terminal's input is read and goes to the console
    pub(super) stdin_open: bool,
    /// foreground: the terminal's settings before it was made raw
    pub(super) saved_termios: Option<nix::sys::termios::Termios>,
}

impl Console {
    /// Open the console log and `start -c`'s file of `opts`.
    pub(super) fn open(opts: &LaunchOptions, name: &str) -> Result<Console> {
        let log_path = opts
            .console_log
            .clone()
            .or_else(|| opts.spec.console_logfile.clone())
            .unwrap_or_else(|| opts.spec.lxcpath.join(&opts.spec.name).join("console.log"));
        let log = if opts.spec.console && opts.mode != LaunchMode::Execute {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log_path)
                .ok()
        } else {
            None
        };
        let out = match &opts.console_out {
            Some(p) => Some(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .ctx(|| {
                        format!(
                            "container \"{name}\": cannot open the console file {}",
                            p.display()
                        )
                    })?,
            ),
            None => None,
        };
        Ok(Console {
            log,
            out,
            ..Console::default()
        })
    }
}

impl Monitor {
    pub(super) fn setup_terminal(&mut self) {
        use nix::sys::termios;
        let stdin = std::io::stdin();
        if nix::unistd::isatty(0).unwrap_or(false) {
            if let Ok(t) = termios::tcgetattr(stdin.as_fd()) {
                let mut raw = t.clone();
                termios::cfmakeraw(&mut raw);
                let _ = termios::tcsetattr(stdin.as_fd(), termios::SetArg::TCSANOW, &raw);
                self.console.saved_termios = Some(t);
            }
            self.sync_winsize();
        }
        set_nonblocking(0);
    }

    pub(super) fn restore_terminal(&mut self) {
        if let Some(t) = self.console.saved_termios.take() {
            let _ = nix::sys::termios::tcsetattr(
                std::io::stdin().as_fd(),
                nix::sys::termios::SetArg::TCSANOW,
                &t,
            );
        }
    }

    pub(super) fn sync_winsize(&self) {
        if let (Some(ws), Some(run)) = (sys::get_winsize(0), &self.run) {
            if let Some(c) = &run.console {
                sys::set_winsize(c.as_raw_fd(), &ws);
            }
        }
    }

    pub(super) fn pump_console(&mut self) {
        let Some(fd) = self
            .run
            .as_ref()
            .and_then(|r| r.console.as_ref())
            .map(|c| c.as_raw_fd())
        else {
            return;
        };
        let mut buf = [0u8; 4096];
        loop {
            let n = match nix::unistd::read(fd, &mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            let data = &buf[..n];
            if let Some(log) = &mut self.console.log {
                let _ = log.write_all(data);
            }
            if let Some(f) = &mut self.console.out {
                let _ = f.write_all(data);
            } else if matches!(self.cfg.mode, LaunchMode::Foreground | LaunchMode::Execute) {
                write_all_fd(1, data);
            }
            for c in self
                .clients
                .iter_mut()
                .filter(|c| c.mode == ClientMode::Console(0))
            {
                c.send_raw(data);
            }
        }
    }

    pub(super) fn pump_tty(&mut self, i: usize) {
        let Some(fd) = self
            .run
            .as_ref()
            .and_then(|r| r.ttys.get(i))
            .map(|t| t.as_raw_fd())
        else {
            return;
        };
        let tty = i as u32 + 1;
        let mut buf = [0u8; 4096];
        loop {
            let n = match nix::unistd::read(fd, &mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            for c in self
                .clients
                .iter_mut()
                .filter(|c| c.mode == ClientMode::Console(tty))
            {
                c.send_raw(&buf[..n]);
            }
        }
    }

    pub(super) fn pump_stdin(&mut self) {
        let mut buf = [0u8; 4096];
        match nix::unistd::read(0, &mut buf) {
            Ok(0) => self.console.stdin_open = false,
            Ok(n) => {
                if let Some(c) = self.run.as_ref().and_then(|r| r.console.as_ref()) {
                    write_all_fd(c.as_raw_fd(), &buf[..n]);
                }
            }
            Err(nix::errno::Errno::EAGAIN) | Err(nix::errno::Errno::EINTR) => {}
            Err(_) => self.console.stdin_open = false,
        }
    }

    pub(super) fn tty_fd(&self, tty: u32) -> Option<RawFd> {
        let run = self.run.as_ref()?;
        if tty == 0 {
            run.console.as_ref().map(|c| c.as_raw_fd())
        } else {
            run.ttys.get(tty as usize - 1).map(|t| t.as_raw_fd())
        }
    }
}

pub(super) fn set_nonblocking(fd: RawFd) {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    if let Ok(fl) = fcntl(fd, FcntlArg::F_GETFL) {
        let _ = fcntl(
            fd,
            FcntlArg::F_SETFL(OFlag::from_bits_truncate(fl) | OFlag::O_NONBLOCK),
        );
    }
}

/// Write everything, waiting briefly when a non-blocking fd is full.
pub(super) fn write_all_fd(fd: RawFd, mut data: &[u8]) {
    let mut spins = 0;
    while !data.is_empty() {
        // SAFETY: fd is open for the duration of the call; borrowed only here.
        let bfd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        match nix::unistd::write(bfd, data) {
            Ok(n) => data = &data[n..],
            Err(nix::errno::Errno::EINTR) => {}
            Err(nix::errno::Errno::EAGAIN) => {
                spins += 1;
                if spins > 100 {
                    return;
                }
                let mut p = [libc::pollfd {
                    fd,
                    events: libc::POLLOUT,
                    revents: 0,
                }];
                // SAFETY: valid pollfd array.
                unsafe { libc::poll(p.as_mut_ptr(), 1, 10) };
            }
            Err(_) => return,
        }
    }
}
