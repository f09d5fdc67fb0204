//! Running one hook program: stdin empty, its output copied line by line to where hook
//! output goes, its time limit, its end.

use std::ffi::{CStr, CString};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::wait::{waitpid, WaitStatus};

use crate::error::errno_text;
use crate::sys;

// ---------------------------------------------------------------------------------------
// Where hook output goes

/// A copy of the stderr of `hako start` (close-on-exec), kept by a daemon monitor until
/// the start is reported (and by the container's first process until its start hooks,
/// which never see it), so hooks' output reaches the user's terminal; -1 when there is
/// none (then it goes to this process's stderr).
static OUTPUT: AtomicI32 = AtomicI32::new(-1);

/// Keep a copy of this process's stderr for hook output (see [`OUTPUT`]); a no-op when
/// one is kept already.
pub fn keep_output() {
    if OUTPUT.load(Ordering::Relaxed) >= 0 {
        return;
    }
    if let Ok(fd) = nix::fcntl::fcntl(2, nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(3)) {
        OUTPUT.store(fd, Ordering::Relaxed);
    }
}

/// The start has been reported: hook output goes to this process's stderr again. (A
/// caller that captures `hako start`'s stderr through a pipe sees it end here.)
pub fn drop_output() {
    let fd = OUTPUT.swap(-1, Ordering::Relaxed);
    if fd >= 0 {
        let _ = nix::unistd::close(fd);
    }
}

fn output_fd() -> RawFd {
    match OUTPUT.load(Ordering::Relaxed) {
        fd if fd >= 0 => fd,
        _ => 2,
    }
}

/// Copies a hook's output to [`output_fd`] line by line with a prefix (control characters
/// shown as `?`: a start hook is the container's program, and this may be a terminal),
/// and keeps the last lines for an error text.
struct Sink<'a> {
    label: &'a str,
    partial: Vec<u8>,
    tail: std::collections::VecDeque<String>,
}

const TAIL_LINES: usize = 5;
const LINE_MAX: usize = 4096;

impl Sink<'_> {
    fn push(&mut self, mut data: &[u8]) {
        while let Some(i) = data.iter().position(|&b| b == b'\n') {
            self.partial.extend_from_slice(&data[..i]);
            self.line();
            data = &data[i + 1..];
        }
        self.partial.extend_from_slice(data);
        if self.partial.len() >= LINE_MAX {
            self.line();
        }
    }

    fn line(&mut self) {
        let text: String = String::from_utf8_lossy(&self.partial)
            .chars()
            .map(|c| if c.is_control() && c != '\t' { '?' } else { c })
            .collect();
        self.partial.clear();
        let out = format!("{}: {text}\n", self.label);
        write_all(output_fd(), out.as_bytes());
        if !text.trim().is_empty() {
            if self.tail.len() == TAIL_LINES {
                self.tail.pop_front();
            }
            self.tail.push_back(text.chars().take(300).collect());
        }
    }

    fn finish(mut self) -> String {
        if !self.partial.is_empty() {
            self.line();
        }
        self.tail.into_iter().collect::<Vec<_>>().join(" | ")
    }
}

fn write_all(fd: RawFd, mut b: &[u8]) {
    // SAFETY: fd is open for the duration of this call (stderr or the kept copy).
    let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    while !b.is_empty() {
        match nix::unistd::write(fd, b) {
            Ok(0) => return,
            Ok(n) => b = &b[n..],
            Err(Errno::EINTR) => continue,
            Err(_) => return,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Running one program

pub(super) enum Failure {
    /// the program could not be executed
    Exec(Errno),
    /// it ran and failed: "exit status 3", "signal SIGSEGV", "the time limit of 300 s"
    Ended {
        status: String,
        tail: String,
    },
    /// it ran longer than its time limit and was killed with its process group
    TimedOut {
        tail: String,
    },
    Sys(String),
}

/// fork, exec `path` with `argv`/`env` (stdin `input`, then its end; stdout and stderr on
/// a pipe read here; a session of its own), wait for it with `limit`. No threads: a
/// pidfd and poll.
pub(super) fn spawn_wait(
    path: &CStr,
    argv: &[CString],
    env: &[CString],
    input: &[u8],
    label: &str,
    limit: Option<Duration>,
) -> std::result::Result<(), Failure> {
    let pipe = || {
        nix::unistd::pipe2(OFlag::O_CLOEXEC)
            .map_err(|e| Failure::Sys(format!("cannot make a pipe: {}", errno_text(e))))
    };
    let (out_r, out_w) = pipe()?;
    let (in_r, in_w) = pipe()?;
    if !input.is_empty() {
        // the whole input sits in the pipe before the program starts (an OCI state
        // document: a few KiB; the pipe grows for more), so no write can block here
        if input.len() > 65536 {
            let _ = nix::fcntl::fcntl(
                in_w.as_raw_fd(),
                nix::fcntl::FcntlArg::F_SETPIPE_SZ(input.len() as i32),
            );
        }
        let _ = nix::fcntl::fcntl(
            in_w.as_raw_fd(),
            nix::fcntl::FcntlArg::F_SETFL(OFlag::O_NONBLOCK),
        );
        let mut rest = input;
        while !rest.is_empty() {
            match nix::unistd::write(&in_w, rest) {
                Ok(n) => rest = &rest[n..],
                Err(Errno::EINTR) => continue,
                Err(e) => {
                    return Err(Failure::Sys(format!(
                        "cannot hand it its input ({} bytes): {}",
                        input.len(),
                        errno_text(e)
                    )))
                }
            }
        }
    }
    drop(in_w);
    let (err_r, err_w) = pipe()?;
    // SAFETY: every caller is single-threaded (the monitor, the container's first process
    // before its exec, the CLI); the child only moves fds, resets signals and execs.
    let pid = match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Child) => exec_child(in_r, out_w, err_w, path, argv, env),
        Ok(nix::unistd::ForkResult::Parent { child }) => child,
        Err(e) => return Err(Failure::Sys(format!("cannot fork: {}", errno_text(e)))),
    };
    drop(out_w);
    drop(in_r);
    drop(err_w);
    let pidfd = sys::pidfd_open(pid.as_raw()).ok();
    let deadline = limit.map(|l| Instant::now() + l);
    let mut sink = Sink {
        label,
        partial: Vec::new(),
        tail: Default::default(),
    };
    let mut out = Some(out_r);
    let mut timed_out = false;
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if left == Some(Duration::ZERO) {
            timed_out = true;
            let _ = nix::sys::signal::killpg(pid, nix::sys::signal::Signal::SIGKILL);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            break;
        }
        use nix::poll::{PollFd, PollFlags, PollTimeout};
        let mut fds = Vec::with_capacity(2);
        if let Some(o) = &out {
            fds.push(PollFd::new(o.as_fd(), PollFlags::POLLIN));
        }
        if let Some(p) = &pidfd {
            fds.push(PollFd::new(p.as_fd(), PollFlags::POLLIN));
        }
        if fds.is_empty() {
            break; // no pidfd and the output has ended: wait below
        }
        let t = match left {
            Some(d) => {
                PollTimeout::try_from(d.max(Duration::from_millis(1))).unwrap_or(PollTimeout::MAX)
            }
            None => PollTimeout::NONE,
        };
        match nix::poll::poll(&mut fds, t) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => return Err(Failure::Sys(format!("poll: {}", errno_text(e)))),
        }
        let ready = |f: &PollFd| f.revents().is_some_and(|r| !r.is_empty());
        let out_ready = out.is_some() && ready(&fds[0]);
        let exited = pidfd.is_some() && ready(&fds[fds.len() - 1]);
        drop(fds);
        if out_ready {
            if let Some(o) = &out {
                match nix::unistd::read(o.as_raw_fd(), &mut buf) {
                    Ok(0) => out = None,
                    Ok(n) => sink.push(&buf[..n]),
                    Err(Errno::EINTR) | Err(Errno::EAGAIN) => {}
                    Err(_) => out = None,
                }
            }
        }
        if exited {
            // what it wrote before it ended; not what a process it left behind writes later
            if let Some(o) = &out {
                let _ = nix::fcntl::fcntl(
                    o.as_raw_fd(),
                    nix::fcntl::FcntlArg::F_SETFL(OFlag::O_NONBLOCK),
                );
                while let Ok(n @ 1..) = nix::unistd::read(o.as_raw_fd(), &mut buf) {
                    sink.push(&buf[..n]);
                }
            }
            break;
        }
    }
    let status = loop {
        match waitpid(pid, None) {
            Err(Errno::EINTR) => continue,
            other => break other,
        }
    };
    let tail = sink.finish();
    let mut eb = [0u8; 4];
    if let Ok(4) = nix::unistd::read(err_r.as_raw_fd(), &mut eb) {
        return Err(Failure::Exec(Errno::from_raw(i32::from_ne_bytes(eb))));
    }
    if timed_out {
        return Err(Failure::TimedOut { tail });
    }
    match status {
        Ok(WaitStatus::Exited(_, 0)) => Ok(()),
        Ok(WaitStatus::Exited(_, c)) => Err(Failure::Ended {
            status: format!("exit status {c}"),
            tail,
        }),
        Ok(WaitStatus::Signaled(_, s, _)) => Err(Failure::Ended {
            status: format!("signal {s}"),
            tail,
        }),
        Ok(other) => Err(Failure::Sys(format!("unexpected wait status {other:?}"))),
        Err(e) => Err(Failure::Sys(format!(
            "cannot wait for it: {}",
            errno_text(e)
        ))),
    }
}

/// The forked hook process: stdin, stdout, stderr; a session of its own (no controlling
/// terminal, one process group to kill); default signals; no other fd; exec.
fn exec_child(
    in_r: OwnedFd,
    out_w: OwnedFd,
    err_w: OwnedFd,
    path: &CStr,
    argv: &[CString],
    env: &[CString],
) -> ! {
    use nix::sys::signal::{sigprocmask, SigHandler, SigSet, SigmaskHow, Signal};
    // move the pipe ends above 0-2 first, so that no dup2 below overwrites another
    let high = |fd: &OwnedFd| {
        nix::fcntl::fcntl(fd.as_raw_fd(), nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(10)).unwrap_or(-1)
    };
    let (i, o) = (high(&in_r), high(&out_w));
    let ok = i >= 0
        && o >= 0
        && nix::unistd::dup2(i, 0).is_ok()
        && nix::unistd::dup2(o, 1).is_ok()
        && nix::unistd::dup2(o, 2).is_ok();
    if ok {
        let _ = nix::unistd::setsid();
        let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
        for s in Signal::iterator() {
            if s != Signal::SIGKILL && s != Signal::SIGSTOP {
                // SAFETY: installing the default disposition runs no code of ours.
                let _ = unsafe { nix::sys::signal::signal(s, SigHandler::SigDfl) };
            }
        }
        let _ = sys::cloexec_from(3);
        let e = sys::exec(path, argv, env);
        let _ = nix::unistd::write(&err_w, &(e as i32).to_ne_bytes());
    } else {
        let _ = nix::unistd::write(&err_w, &(Errno::EMFILE as i32).to_ne_bytes());
    }
    // SAFETY: end of the forked child without running the parent's destructors.
    unsafe { libc::_exit(127) }
}
