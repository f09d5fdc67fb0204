//! Programs hako runs on a container's files (template scripts, the image builder) die with
//! the hako command that runs them, together with everything they started.
//!
//! PR_SET_PDEATHSIG alone reaches only the direct child: after a `kill -9` of `hako create`
//! the script died, but the `cp` or `dpkg` it had started went on writing into a directory
//! the next `destroy` was removing ("directory not empty"). As root the program therefore
//! runs in a PID namespace of its own, whose PID 1 is a small waiter: when that waiter dies
//! (hako died, or the program ended), the kernel kills every process left in the namespace.
//! The program itself is PID 2, so it keeps the signal semantics of an ordinary process
//! (`kill -9 $$` works; PID 1 would ignore it). The direct child waits in the host's PID
//! namespace and ends the way the program ended, for hako to report.
//!
//! hako -> outer waiter (PDEATHSIG: hako) -> PID 1 waiter (PDEATHSIG: outer) -> program
//! (and everything it starts, killed with PID 1)

use std::io;

/// In the forked child, before exec: die with `parent` (hako); as root also take a mount
/// namespace that still receives the host's mount events, and a PID namespace that ends
/// with the program (see the module's text). Returns in the process that goes on to exec.
///
/// # Safety
/// Only for a `pre_exec` closure: it makes async-signal-safe system calls only, allocates
/// nothing, and forks (the waiters never return from here).
pub(crate) unsafe fn die_with_parent(parent: libc::pid_t, as_root: bool) -> io::Result<()> {
    pdeathsig()?;
    if libc::getppid() != parent {
        // hako died before the flag was set
        libc::_exit(1);
    }
    if !as_root {
        return Ok(());
    }
    if libc::unshare(libc::CLONE_NEWNS | libc::CLONE_NEWPID) != 0 {
        return Err(io::Error::last_os_error());
    }
    if libc::mount(
        std::ptr::null(),
        c"/".as_ptr(),
        std::ptr::null(),
        libc::MS_SLAVE | libc::MS_REC,
        std::ptr::null(),
    ) != 0
    {
        return Err(io::Error::last_os_error());
    }
    // `alive`: the outer waiter holds its write end while it lives, so PID 1 sees it gone
    // (POLLHUP) when it died before PID 1's own PDEATHSIG was set (getppid() says 0 across
    // the namespace boundary). `status`: PID 1 passes the program's wait status out on it
    // (PID 1 cannot kill itself with the program's signal).
    let (alive_r, alive_w) = pipe()?;
    let (status_r, status_w) = pipe()?;
    let one = libc::fork();
    if one < 0 {
        return Err(io::Error::last_os_error());
    }
    if one > 0 {
        // the outer waiter
        libc::close(alive_r);
        libc::close(status_w);
        close_all_but(alive_w, status_r);
        let st = wait_for(one);
        let mut passed: libc::c_int = 0;
        let n = libc::read(
            status_r,
            (&mut passed as *mut libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>(),
        );
        end_like(if n == std::mem::size_of::<libc::c_int>() as isize {
            passed
        } else {
            st
        });
    }
    // PID 1 of the new namespace
    libc::close(alive_w);
    libc::close(status_r);
    pdeathsig()?;
    let mut p = libc::pollfd {
        fd: alive_r,
        events: libc::POLLIN,
        revents: 0,
    };
    if libc::poll(&mut p, 1, 0) != 0 && p.revents & (libc::POLLHUP | libc::POLLERR) != 0 {
        libc::_exit(1);
    }
    let program = libc::fork();
    if program < 0 {
        return Err(io::Error::last_os_error());
    }
    if program == 0 {
        // the program (PID 2): the pipes go with the exec (O_CLOEXEC)
        return Ok(());
    }
    libc::close(alive_r);
    close_all_but(status_w, status_w);
    let st = wait_for(program);
    libc::write(
        status_w,
        (&st as *const libc::c_int).cast(),
        std::mem::size_of::<libc::c_int>(),
    );
    libc::_exit(0);
}

unsafe fn pipe() -> io::Result<(libc::c_int, libc::c_int)> {
    let mut fds = [0; 2];
    if libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((fds[0], fds[1]))
}

/// Reaps children (PID 1 inherits orphans) until `pid` ends; its wait status.
unsafe fn wait_for(pid: libc::pid_t) -> libc::c_int {
    loop {
        let mut status = 0;
        let r = libc::waitpid(-1, &mut status, 0);
        if r == pid {
            return status;
        }
        if r < 0 && *libc::__errno_location() != libc::EINTR {
            libc::_exit(127);
        }
    }
}

/// Ends this process the way `status` says a child ended: its exit code, or its signal.
unsafe fn end_like(status: libc::c_int) -> ! {
    if libc::WIFEXITED(status) {
        libc::_exit(libc::WEXITSTATUS(status));
    }
    let sig = libc::WTERMSIG(status);
    libc::signal(sig, libc::SIG_DFL);
    let mut set: libc::sigset_t = std::mem::zeroed();
    libc::sigemptyset(&mut set);
    libc::sigaddset(&mut set, sig);
    libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
    libc::kill(libc::getpid(), sig);
    libc::_exit(128 + sig);
}

/// A waiter lets go of every descriptor but stdio and `a`, `b`, so that whoever waits for
/// the exec on a close-on-exec pipe (std's spawn does) or for the end of a pipe the program
/// writes to is not held up by it.
unsafe fn close_all_but(a: libc::c_int, b: libc::c_int) {
    let (lo, hi) = (a.min(b), a.max(b));
    close_range(3, lo);
    close_range(lo + 1, hi);
    close_range(hi + 1, libc::c_int::MAX);
}

/// close_range(2) of `[first, end)`; without it (kernels before 5.9), the plain loop.
unsafe fn close_range(first: libc::c_int, end: libc::c_int) {
    if first >= end {
        return;
    }
    let last = (end - 1) as libc::c_uint;
    if libc::syscall(libc::SYS_close_range, first as libc::c_uint, last, 0) == 0 {
        return;
    }
    for fd in first..end.min(65536) {
        libc::close(fd);
    }
}

unsafe fn pdeathsig() -> io::Result<()> {
    if libc::prctl(
        libc::PR_SET_PDEATHSIG,
        libc::SIGKILL as libc::c_ulong,
        0,
        0,
        0,
    ) != 0
    {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
