//! The small init of application containers (`hako execute`, lxc-execute): PID 1 forks
//! the command, forwards signals to it, reaps every zombie, and exits with the command's
//! status (128+N when a signal N killed it).

use std::ffi::{CStr, CString};

use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};

use crate::error::errno_text;
use crate::sync::{Channel, Msg};
use crate::sys;

const SI_KERNEL: i32 = 0x80;

pub fn run(sync: &Channel, path: &CStr, argv: &[CString], env: &[CString]) -> ! {
    let all = SigSet::all();
    let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&all), None);
    // SAFETY: single-threaded process (a fork of the monitor); the child only execs or _exits.
    let child = match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            let _ = nix::sys::signal::sigprocmask(
                SigmaskHow::SIG_SETMASK,
                Some(&SigSet::empty()),
                None,
            );
            let _ = sys::cloexec_from(3);
            let _ = sync.send(&Msg::Exec);
            let e = sys::exec(path, argv, env);
            let _ = sync.send(&Msg::ExecError(format!(
                "cannot run {}: {}; check the command and the container's PATH",
                argv[0].to_string_lossy(),
                errno_text(e)
            )));
            // SAFETY: _exit after a failed exec in a forked child.
            unsafe { libc::_exit(127) }
        }
        Ok(ForkResult::Parent { child }) => child,
        Err(e) => {
            let _ = sync.send(&Msg::Error(format!(
                "cannot fork the command: {}",
                errno_text(e)
            )));
            // SAFETY: see above.
            unsafe { libc::_exit(1) }
        }
    };
    // The monitor sees EOF once the command has exec'd (its copy is close-on-exec) and we
    // have closed ours.
    let _ = nix::unistd::close(sync.raw());
    let mut status: Option<i32> = None;
    loop {
        let info = match wait_signal(&all) {
            Some(i) => i,
            None => continue,
        };
        let signo = info.si_signo;
        if signo == libc::SIGCHLD {
            loop {
                match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                    Ok(WaitStatus::Exited(p, code)) if p == child => status = Some(code),
                    Ok(WaitStatus::Signaled(p, sig, _)) if p == child => {
                        status = Some(128 + sig as i32)
                    }
                    Ok(WaitStatus::StillAlive) | Err(_) => break,
                    Ok(_) => {}
                }
            }
            if let Some(code) = status {
                // SAFETY: leaving PID 1; the kernel kills what is left in the namespace.
                unsafe { libc::_exit(code) }
            }
            continue;
        }
        // Terminal-generated signals already reached the command through its process group.
        if info.si_code == SI_KERNEL
            && matches!(
                signo,
                libc::SIGINT | libc::SIGQUIT | libc::SIGTSTP | libc::SIGWINCH
            )
        {
            continue;
        }
        if let Ok(s) = Signal::try_from(signo) {
            let _ = nix::sys::signal::kill(child, s);
        }
    }
}

fn wait_signal(set: &SigSet) -> Option<libc::siginfo_t> {
    // SAFETY: sigwaitinfo fills a siginfo_t; the set is a valid sigset_t.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::sigwaitinfo(set.as_ref(), &mut info) };
    if r < 0 {
        None
    } else {
        Some(info)
    }
}
