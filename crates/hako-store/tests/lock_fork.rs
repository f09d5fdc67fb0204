//! The lock belongs to the process that took it: a forked child dropping its inherited copy
//! neither releases it nor clears the pid; the taker dropping it releases it even while a
//! child still has the descriptor open. One test in this binary, as it forks.

use std::os::fd::AsRawFd;
use std::time::Duration;

use hako_store::{Flavour, Lock, Store, StoreError};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};

/// Forks a child that does `what` with its copy of the lock, tells us through a pipe, then
/// sleeps a little (keeping whatever descriptor it kept) and exits.
fn child_with(lock: &Lock, keep: bool) -> Pid {
    let (r, w) = nix::unistd::pipe().unwrap();
    // SAFETY: the child only drops or forgets the lock (getpid, close), writes one byte to a
    // pipe, sleeps and _exits; the other threads of the test harness are idle.
    match unsafe { fork() }.unwrap() {
        ForkResult::Child => {
            // the child's copy of the Lock value (same descriptor number, inherited)
            let copy: Lock = unsafe { std::ptr::read(lock) };
            if keep {
                std::mem::forget(copy);
            } else {
                drop(copy);
            }
            let _ = nix::unistd::write(&w, b"x");
            std::thread::sleep(Duration::from_millis(400));
            unsafe { libc::_exit(0) };
        }
        ForkResult::Parent { child } => {
            drop(w);
            let mut b = [0u8; 1];
            assert_eq!(nix::unistd::read(r.as_raw_fd(), &mut b).unwrap(), 1);
            child
        }
    }
}

#[test]
fn the_lock_belongs_to_its_taker() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Store::open_with(
        &tmp.path().join("lxc"),
        Flavour::Hako,
        tmp.path(),
        &tmp.path().join("run"),
    );
    let lock = s.lock("web", Duration::ZERO).unwrap();

    // a child drops its inherited copy: still locked, the pid is still ours
    let c1 = child_with(&lock, false);
    let e = s.lock("web", Duration::from_millis(50)).unwrap_err();
    assert!(
        matches!(e, StoreError::Locked { pid: Some(p), .. } if p == std::process::id()),
        "{e}"
    );
    assert!(matches!(
        waitpid(c1, None).unwrap(),
        WaitStatus::Exited(_, 0)
    ));

    // a child keeps the descriptor open; our drop releases the lock all the same
    let c2 = child_with(&lock, true);
    drop(lock);
    let again = s
        .lock("web", Duration::ZERO)
        .expect("released by the taker");
    drop(again);
    assert!(matches!(
        waitpid(c2, None).unwrap(),
        WaitStatus::Exited(_, 0)
    ));
}
