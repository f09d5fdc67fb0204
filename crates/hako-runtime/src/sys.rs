//! Thin wrappers over the system calls nix does not cover. Every `unsafe` block of the
//! runtime lives here, each in a small function that states why it is sound.

use std::ffi::CString;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;

/// Arguments of clone3(2) (struct clone_args, version 2: 88 bytes).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

pub enum Forked {
    Parent { pid: i32, pidfd: OwnedFd },
    Child,
}

/// clone3 with CLONE_PIDFD and the given namespace flags, fork-like (no new stack: the
/// child continues on a copy of the caller's stack, exactly as after fork(2)).
///
/// Must only be called from a single-threaded process: like fork, the child gets a copy
/// of memory in which no other thread can hold a lock.
pub fn clone3(ns_flags: u64, cgroup_fd: Option<RawFd>) -> nix::Result<Forked> {
    let mut pidfd: libc::c_int = -1;
    let mut args = CloneArgs {
        flags: ns_flags | libc::CLONE_PIDFD as u64,
        pidfd: &mut pidfd as *mut libc::c_int as u64,
        // CLONE_PARENT takes none in clone3 (the kernel makes it SIGCHLD when the child
        // is reparented)
        exit_signal: if ns_flags & libc::CLONE_PARENT as u64 != 0 {
            0
        } else {
            libc::SIGCHLD as u64
        },
        ..Default::default()
    };
    if let Some(fd) = cgroup_fd {
        args.flags |= 0x200000000; // CLONE_INTO_CGROUP
        args.cgroup = fd as u64;
    }
    // SAFETY: args is a valid, fully initialised clone_args of the size we pass; with
    // stack == 0 the kernel duplicates the caller's stack as fork does. The process is
    // single-threaded (documented precondition), so the child's copy of the heap is
    // consistent.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    match ret {
        -1 => Err(Errno::last()),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent {
            pid: pid as i32,
            // SAFETY: the kernel stored a fresh pidfd we now own.
            pidfd: unsafe { OwnedFd::from_raw_fd(pidfd) },
        }),
    }
}

/// pidfd_open(2).
pub fn pidfd_open(pid: i32) -> nix::Result<OwnedFd> {
    // SAFETY: plain syscall with integer arguments; on success returns a new fd we own.
    let ret = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if ret < 0 {
        Err(Errno::last())
    } else {
        // SAFETY: ret is a new file descriptor owned by nobody else.
        Ok(unsafe { OwnedFd::from_raw_fd(ret as RawFd) })
    }
}

/// pidfd_send_signal(2): signal a process through its pidfd (no pid reuse race).
pub fn pidfd_send_signal(pidfd: BorrowedFd<'_>, sig: i32) -> nix::Result<()> {
    // SAFETY: integer arguments and a null siginfo, as the man page allows.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if ret < 0 {
        Err(Errno::last())
    } else {
        Ok(())
    }
}

#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
const RESOLVE_IN_ROOT: u64 = 0x10;

/// openat2(2) with RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS: `rel` resolved as if `root` were
/// "/". Use [`crate::inroot::open_in_root`], which falls back to a user-space walk where
/// the kernel has no openat2 (ENOSYS).
pub(crate) fn openat2_in_root(
    root: BorrowedFd<'_>,
    rel: &Path,
    flags: i32,
    mode: u32,
) -> nix::Result<OwnedFd> {
    let c = CString::new(rel.as_os_str().as_encoded_bytes()).map_err(|_| Errno::EINVAL)?;
    let how = OpenHow {
        flags: flags as u64,
        mode: if flags & libc::O_CREAT != 0 {
            mode as u64
        } else {
            0
        },
        resolve: RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    };
    // SAFETY: valid NUL-terminated path and a properly sized open_how.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            root.as_raw_fd(),
            c.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    };
    if ret < 0 {
        Err(Errno::last())
    } else {
        // SAFETY: new fd owned by us.
        Ok(unsafe { OwnedFd::from_raw_fd(ret as RawFd) })
    }
}

/// Mark every fd >= `from` close-on-exec (close_range with CLOSE_RANGE_CLOEXEC).
pub fn cloexec_from(from: u32) -> nix::Result<()> {
    const CLOSE_RANGE_CLOEXEC: u32 = 1 << 2;
    // SAFETY: integer arguments only.
    let ret = unsafe { libc::syscall(libc::SYS_close_range, from, u32::MAX, CLOSE_RANGE_CLOEXEC) };
    if ret == 0 {
        return Ok(());
    }
    // an older kernel, or a seccomp profile (an OCI allowlist written before close_range
    // existed) that refuses it: each open fd by /proc/self/fd, with fcntl
    let first = Errno::last();
    let Ok(rd) = std::fs::read_dir("/proc/self/fd") else {
        return Err(first);
    };
    let fds: Vec<RawFd> = rd
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .filter(|fd| *fd >= from as RawFd)
        .collect();
    for fd in fds {
        // SAFETY: integer arguments only; the directory's own fd is gone by now (EBADF)
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    Ok(())
}

/// Close every fd in `first..=last`.
pub fn close_range(first: u32, last: u32) {
    // SAFETY: integer arguments only; closing fds we are about to abandon.
    unsafe { libc::syscall(libc::SYS_close_range, first, last, 0) };
}

/// Open a new pty master on the devpts instance whose ptmx is `ptmx`; returns (master,
/// slave, index). The slave is obtained with TIOCGPTPEER, so no path lookup happens.
pub fn open_pty(ptmx: &Path) -> nix::Result<(OwnedFd, OwnedFd, u32)> {
    let master: OwnedFd = nix::fcntl::open(
        ptmx,
        nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_NOCTTY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    // SAFETY: open returned a new fd we own.
    .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) })?;
    pty_of_master(master)
}

/// A new pty on the devpts instance of the container whose root is `root` (e.g. an
/// O_PATH fd of /proc/PID/root), from the host: `dev/pts/ptmx` is resolved inside that
/// root (its symlinks cannot lead to the host's devpts) and must be the ptmx device (5:2)
/// itself, not some other node the container put there.
pub fn open_pty_in(root: BorrowedFd<'_>) -> nix::Result<(OwnedFd, OwnedFd, u32)> {
    let p = crate::inroot::Node::from_fd(crate::inroot::open_in_root(
        root,
        Path::new("dev/pts/ptmx"),
        libc::O_PATH | libc::O_NOFOLLOW,
        0,
    )?)?;
    let st = p.stat();
    if p.kind() != libc::S_IFCHR
        || nix::sys::stat::major(st.st_rdev) != 5
        || nix::sys::stat::minor(st.st_rdev) != 2
    {
        return Err(Errno::ENODEV);
    }
    let master = p.reopen(
        None,
        nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_NOCTTY,
    )?;
    pty_of_master(master)
}

/// Unlock the pty of `master` and open its slave (TIOCGPTPEER: no path lookup).
fn pty_of_master(master: OwnedFd) -> nix::Result<(OwnedFd, OwnedFd, u32)> {
    let mut unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK takes a pointer to int; master is a valid pty master.
    if unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &mut unlock) } < 0 {
        return Err(Errno::last());
    }
    let mut index: libc::c_uint = 0;
    // SAFETY: TIOCGPTN writes an unsigned int.
    if unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTN, &mut index) } < 0 {
        return Err(Errno::last());
    }
    // SAFETY: TIOCGPTPEER takes open flags and returns a new fd for the slave.
    let s = unsafe {
        libc::ioctl(
            master.as_raw_fd(),
            libc::TIOCGPTPEER,
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    };
    if s < 0 {
        return Err(Errno::last());
    }
    // SAFETY: new fd owned by us.
    let slave = unsafe { OwnedFd::from_raw_fd(s) };
    Ok((master, slave, index))
}

/// Make `fd` (a terminal) the controlling terminal of this session.
pub fn set_controlling_tty(fd: RawFd) -> nix::Result<()> {
    // SAFETY: TIOCSCTTY with an integer argument.
    if unsafe { libc::ioctl(fd, libc::TIOCSCTTY, 0) } < 0 {
        Err(Errno::last())
    } else {
        Ok(())
    }
}

/// Window size get/set.
pub fn get_winsize(fd: RawFd) -> Option<libc::winsize> {
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ writes a winsize struct.
    if unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) } < 0 {
        None
    } else {
        Some(ws)
    }
}

pub fn set_winsize(fd: RawFd, ws: &libc::winsize) {
    // SAFETY: TIOCSWINSZ reads a winsize struct.
    unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, ws as *const libc::winsize) };
}

/// Bring the loopback device of the current network namespace up (SIOCSIFFLAGS).
pub fn loopback_up() -> nix::Result<()> {
    use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};
    let sock = socket(
        AddressFamily::Inet,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    // SAFETY: ifreq is plain old data; zero is a valid initial value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (i, b) in b"lo".iter().enumerate() {
        req.ifr_name[i] = *b as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS fills ifr_flags of a valid ifreq.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) } < 0 {
        return Err(Errno::last());
    }
    // SAFETY: reading/writing the flags member of the union we just had filled.
    unsafe {
        req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
    }
    // SAFETY: SIOCSIFFLAGS reads a valid ifreq.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) } < 0 {
        return Err(Errno::last());
    }
    Ok(())
}

/// Replace the environment of this (single-threaded) process before exec.
pub fn exec(path: &std::ffi::CStr, argv: &[CString], envp: &[CString]) -> Errno {
    match nix::unistd::execve(path, argv, envp) {
        Ok(_) => unreachable!(),
        Err(e) => e,
    }
}

/// Start time of a process in clock ticks since boot (field 22 of /proc/PID/stat): with
/// the pid it identifies a process across pid reuse.
pub fn proc_start_time(pid: i32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Is `pid` the process that started at `start` (clock ticks since boot), and not a
/// zombie? A dead monitor whose parent never reaps it stays a zombie with the same start
/// time.
pub fn proc_alive(pid: i32, start: u64) -> bool {
    let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let Some(i) = s.rfind(')') else { return false };
    let mut f = s[i + 2..].split_whitespace();
    let state = f.next().unwrap_or("X");
    let st: Option<u64> = f.nth(18).and_then(|x| x.parse().ok());
    !matches!(state, "Z" | "X" | "x") && st == Some(start)
}

/// A signal mask line (`SigBlk:`, `SigCgt:`) of /proc/PID/status.
fn status_mask(status: &str, key: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(key))?;
    u64::from_str_radix(line[key.len()..].trim(), 16).ok()
}

/// Signals blocked by a process (SigBlk of /proc/PID/status).
pub fn sig_blocked(pid: i32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status_mask(&s, "SigBlk:")
}

/// Does `pid`, the init of a pid namespace, take signal `sig` now: does it catch it, wait
/// for it in rt_sigtimedwait(2), or read it from a signalfd? The kernel drops a signal sent
/// to such an init from outside when its action is the default, so a halt or reboot signal
/// sent in the few milliseconds between init's exec and its signal set-up is lost. A mere
/// block does not count: a shell blocks every signal for a moment around its forks and
/// waits, and drops what arrived when the block ends. None when /proc does not tell.
pub fn init_takes_signal(pid: i32, sig: i32) -> Option<bool> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let bit = sig_bit(sig)?;
    if status_mask(&s, "SigCgt:")? & bit != 0 || sigtimedwait_set(pid).unwrap_or(0) & bit != 0 {
        return Some(true);
    }
    Some(signalfd_mask(pid) & bit != 0)
}

/// The bit of signal `sig` in a /proc/PID/status mask.
fn sig_bit(sig: i32) -> Option<u64> {
    1u64.checked_shl((sig as u32).checked_sub(1)?)
}

/// Does `pid` block `sig` now (SigBlk)? A signal sent meanwhile stays pending.
pub fn init_blocks(pid: i32, sig: i32) -> bool {
    let blk = sig_blocked(pid).unwrap_or(0);
    sig_bit(sig).is_some_and(|bit| blk & bit != 0)
}

/// The signals `pid` reads from signalfds (systemd's way): the union of the `sigmask:` of
/// its signalfd descriptors (/proc/PID/fdinfo). 0 when it has none or /proc does not tell.
fn signalfd_mask(pid: i32) -> u64 {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return 0;
    };
    let mut mask = 0;
    for e in dir.flatten() {
        let is_sfd =
            std::fs::read_link(e.path()).is_ok_and(|t| t.as_os_str() == "anon_inode:[signalfd]");
        if !is_sfd {
            continue;
        }
        let info = format!("/proc/{pid}/fdinfo/{}", e.file_name().to_string_lossy());
        if let Ok(i) = std::fs::read_to_string(info) {
            mask |= status_mask(&i, "sigmask:").unwrap_or(0);
        }
    }
    mask
}

/// The signals `pid` waits for while it sits in rt_sigtimedwait(2), as busybox init does
/// between events. The kernel unblocks them for the wait, so SigBlk does not show them,
/// yet they are delivered. Read from the set the call was given (/proc/PID/syscall has its
/// address, /proc/PID/mem its bytes); None when `pid` is elsewhere.
fn sigtimedwait_set(pid: i32) -> Option<u64> {
    use std::os::unix::fs::FileExt;
    let sc = std::fs::read_to_string(format!("/proc/{pid}/syscall")).ok()?;
    let mut f = sc.split_whitespace();
    if f.next()?.parse::<i64>().ok()? != libc::SYS_rt_sigtimedwait {
        return None;
    }
    let addr = u64::from_str_radix(f.next()?.trim_start_matches("0x"), 16).ok()?;
    let mem = std::fs::File::open(format!("/proc/{pid}/mem")).ok()?;
    let mut b = [0u8; 8];
    mem.read_exact_at(&mut b, addr).ok()?;
    Some(u64::from_ne_bytes(b))
}

/// The raw fd of an fd-like object; used where nix wants RawFd.
pub fn raw<F: AsRawFd>(f: &F) -> RawFd {
    f.as_raw_fd()
}

/// Give back memory a long-lived process inherited from its start-up: free heap pages
/// (malloc_trim), and the executable code pages touched while starting (clean, file-backed
/// `r-xp` mappings only: they fault back in from the page cache when used again). Used
/// by the monitor once the container runs, so it costs the host only what its event loop
/// touches.
pub fn trim_memory() {
    // SAFETY: malloc_trim only returns free memory to the kernel.
    unsafe { libc::malloc_trim(0) };
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return;
    };
    for line in maps.lines() {
        let mut f = line.split_whitespace();
        let (Some(range), Some(perms), _, _, _, Some(path)) =
            (f.next(), f.next(), f.next(), f.next(), f.next(), f.next())
        else {
            continue;
        };
        // text only: never writable, never anonymous (dropping written pages loses data)
        if perms != "r-xp" || !path.starts_with('/') {
            continue;
        }
        let Some((a, b)) = range.split_once('-') else {
            continue;
        };
        let (Ok(start), Ok(end)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
        else {
            continue;
        };
        // SAFETY: a read-only, executable, file-backed private mapping holds no data of
        // ours; MADV_DONTNEED only drops its page-table entries, and later accesses fault
        // the same bytes back in from the file.
        // MADV_RANDOM first: no fault-around, so only the pages really used come back.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_RANDOM);
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
        }
    }
}

thread_local! {
    /// Notices held back for the waiting `hako start` (`Some` in a daemon monitor before
    /// its report), see [`notice`].
    static HELD_NOTICES: std::cell::RefCell<Option<Vec<String>>> = const { std::cell::RefCell::new(None) };
}

/// Tell the user `text` (one line, "hako: container ...: ..."): on stderr, or, in a daemon
/// monitor that has not reported yet (its stderr is a log or /dev/null), held back and
/// sent to the waiting `hako start`, which prints it ([`hold_notices`], [`take_notices`]).
/// Also logged (at info: the stderr log shows warnings, and this is on stderr already).
pub fn notice(text: &str) {
    tracing::info!("{text}");
    let held = HELD_NOTICES.with(|h| {
        h.borrow_mut()
            .as_mut()
            .map(|v| v.push(text.to_string()))
            .is_some()
    });
    if !held {
        eprintln!("{text}");
    }
}

/// From now on, hold [`notice`]s back for the report of a daemon start.
pub fn hold_notices() {
    HELD_NOTICES.with(|h| *h.borrow_mut() = Some(Vec::new()));
}

/// The notices held back so far; later ones go to stderr again.
pub fn take_notices() -> Vec<String> {
    HELD_NOTICES.with(|h| h.borrow_mut().take().unwrap_or_default())
}

/// Development aid: when `HAKO_TIMING_FILE` is set, append "<pid> <CLOCK_MONOTONIC ns>
/// <label>" lines to it, from every process of a start (CLI, monitor, container init).
pub fn timing(label: &str) {
    use std::io::Write;
    static FILE: std::sync::OnceLock<Option<std::path::PathBuf>> = std::sync::OnceLock::new();
    let Some(path) = FILE.get_or_init(|| std::env::var_os("HAKO_TIMING_FILE").map(Into::into))
    else {
        return;
    };
    let ts = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .map(|t| t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64)
        .unwrap_or(0);
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
    {
        // one write(2), so lines of concurrent processes never interleave
        let _ = f.write_all(format!("{} {ts} {label}\n", std::process::id()).as_bytes());
    }
}

/// The longest path a unix socket address holds (sun_path, without its NUL).
const SUN_PATH_MAX: usize = 107;

/// A path to bind or connect the unix socket `file` in `dir` by. A long lxcpath hash and a
/// long container name overflow sun_path (108 bytes); then the directory is opened and
/// reached as `/proc/self/fd/N/FILE`, which the kernel resolves to the same place. Keep the
/// returned fd open until the bind or connect has happened.
pub fn socket_address(dir: &Path, file: &str) -> std::io::Result<(Option<OwnedFd>, PathBuf)> {
    let full = dir.join(file);
    if full.as_os_str().len() <= SUN_PATH_MAX {
        return Ok((None, full));
    }
    let fd: OwnedFd = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(dir)?
        .into();
    let short = PathBuf::from(format!("/proc/self/fd/{}/{file}", fd.as_raw_fd()));
    Ok((Some(fd), short))
}

/// Give this process a new, empty session keyring of its own (keyctl
/// KEYCTL_JOIN_SESSION_KEYRING with no name), so nothing it runs can reach the keys of the
/// session that started hako (root's user and session keyrings on the host).
pub fn join_new_session_keyring() -> nix::Result<()> {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    // SAFETY: keyctl with an operation code and a NULL name.
    let r = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_JOIN_SESSION_KEYRING,
            std::ptr::null::<libc::c_char>(),
        )
    };
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::signal::{pthread_sigmask, SigSet, SigmaskHow, Signal};

    #[test]
    fn a_signal_is_taken_once_caught_or_read_from_a_signalfd() {
        // this test's own thread: /proc/TID/status has its mask
        let tid = nix::unistd::gettid().as_raw();
        assert_eq!(init_takes_signal(tid, libc::SIGUSR2), Some(false));
        let mut set = SigSet::empty();
        set.add(Signal::SIGUSR2);
        pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), None).unwrap();
        // a block alone is no taking: a shell's passing block drops the signal at its end
        let blocked = init_takes_signal(tid, libc::SIGUSR2);
        let blocks = init_blocks(tid, libc::SIGUSR2);
        // a signalfd for it is
        let sfd = nix::sys::signalfd::SignalFd::new(&set).unwrap();
        let with_sfd = init_takes_signal(tid, libc::SIGUSR2);
        let other = init_takes_signal(tid, libc::SIGUSR1);
        drop(sfd);
        pthread_sigmask(SigmaskHow::SIG_UNBLOCK, Some(&set), None).unwrap();
        assert_eq!(blocked, Some(false));
        assert!(blocks);
        assert_eq!(with_sfd, Some(true));
        assert_eq!(other, Some(false));
        // SIGRTMIN+30 is bit 63; no such process says nothing
        assert_eq!(init_takes_signal(tid, libc::SIGRTMIN() + 30), Some(false));
        assert_eq!(init_takes_signal(-1, libc::SIGUSR2), None);
    }

    #[test]
    fn a_signal_waited_for_in_sigtimedwait_is_taken() {
        let mut set = SigSet::empty();
        set.add(Signal::SIGUSR2);
        // SAFETY: the child only calls async-signal-safe functions and leaves with _exit.
        let child = match unsafe { nix::unistd::fork() }.unwrap() {
            nix::unistd::ForkResult::Child => {
                let _ = pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), None);
                let ts = libc::timespec {
                    tv_sec: 20,
                    tv_nsec: 0,
                };
                // SAFETY: valid pointers to a sigset and a timespec.
                unsafe {
                    libc::sigtimedwait(set.as_ref(), std::ptr::null_mut(), &ts);
                    libc::_exit(0)
                }
            }
            nix::unistd::ForkResult::Parent { child } => child,
        };
        let pid = child.as_raw();
        let waiting = (0..2000).any(|_| {
            let in_wait = std::fs::read_to_string(format!("/proc/{pid}/syscall"))
                .map(|s| {
                    s.split_whitespace().next() == Some(&libc::SYS_rt_sigtimedwait.to_string())
                })
                .unwrap_or(false);
            if !in_wait {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            in_wait
        });
        let usr2 = init_takes_signal(pid, libc::SIGUSR2);
        let usr1 = init_takes_signal(pid, libc::SIGUSR1);
        let blk = sig_blocked(pid);
        let _ = nix::sys::signal::kill(child, Signal::SIGKILL);
        let _ = nix::sys::wait::waitpid(child, None);
        assert!(waiting, "the child never sat in rt_sigtimedwait");
        // the kernel took SIGUSR2 out of the blocked mask for the wait
        assert_eq!(blk.map(|b| b & (1 << (libc::SIGUSR2 - 1))), Some(0));
        assert_eq!(usr2, Some(true));
        assert_eq!(usr1, Some(false));
    }
}
