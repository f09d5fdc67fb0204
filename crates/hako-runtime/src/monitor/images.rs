//! The monitor's two program images: the `hako` program, which starts runs, and the small
//! `hako-monitor`, which serves them. Their entry points, when a daemon monitor changes
//! image and how (exec with the state in a memfd, see [`handover`](super::handover)), and
//! the `hako` helper runs the small monitor asks for.

use std::ffi::CString;
use std::fs::File;
use std::io::{Seek, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::handover::{Reason, ResumeError};
use super::launch::Launcher;
use super::{LaunchMode, Monitor};
use crate::net::NetState;
use crate::sys;

/// What a daemon monitor needs to change program image.
#[derive(Default)]
pub(super) struct Images {
    /// the `hako` program (O_PATH), to re-enter it for a reboot or a helper
    pub(super) exe: Option<OwnedFd>,
    /// the launch options (a memfd written by the `hako` image)
    pub(super) launch_blob: Option<OwnedFd>,
    /// `hako` image: when to hand over to the small monitor program, and which (see
    /// [`HANDOVER_DELAY`])
    pub(super) handover_at: Option<(Instant, PathBuf)>,
}

/// The small monitor executable: `$HAKO_MONITOR`, else `hako-monitor` next to this
/// program. Without it the monitor stays in this (forked) process image.
pub fn monitor_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("HAKO_MONITOR") {
        return Some(PathBuf::from(p));
    }
    let exe = std::fs::read_link("/proc/self/exe").ok()?;
    let p = exe.parent()?.join("hako-monitor");
    p.is_file().then_some(p)
}

/// argv[1] of `hako` re-entered by a monitor: resume with the state in fd argv[2] (and
/// stay in this image if argv[3] is "here").
const RESUME_ARG: &str = "__hako-monitor-resume";
/// argv[1] of `hako` run by a monitor to undo script.down hooks and DNS names; argv[2]
/// is the fd of the launch options.
pub(super) const NETDOWN_ARG: &str = "__hako-monitor-netdown";

/// Entry point of the `hako-monitor` executable: argv[1] is the fd of the hand-over.
pub fn exec_main() -> i32 {
    sys::timing("monitor: exec'd");
    let Some(fd) = std::env::args()
        .nth(1)
        .and_then(|a| a.parse::<RawFd>().ok())
    else {
        eprintln!("hako-monitor: this program is started by \"hako start\", not by hand");
        return 2;
    };
    match Monitor::resume(fd) {
        Ok((mut m, Reason::Serve)) => m.run(),
        Ok((mut m, reason)) => {
            // only the hako program can reboot
            if let Some(f) = m.encode_to_memfd(reason) {
                m.exec_hako_resume(f.as_raw_fd(), false);
            }
            eprintln!(
                "hako monitor: container \"{}\": cannot re-enter the hako program",
                m.name
            );
            1
        }
        Err((e, exe)) => {
            // a different build wrote this: let that build's own program carry on
            if let Some(exe) = exe {
                let name = match &e {
                    ResumeError::Version { name, .. } => name.as_deref(),
                    _ => None,
                };
                exec_resume(&exe, fd, name.unwrap_or_default(), true);
            }
            eprintln!("hako-monitor: {e}");
            1
        }
    }
}

/// For `hako`'s main(): run the monitor's re-entry points (reboot, fallback, network
/// teardown helper) when argv asks for one; None for an ordinary command line.
pub fn resume_entry() -> Option<i32> {
    let mut args = std::env::args_os().skip(1);
    let what = args.next()?;
    if what != RESUME_ARG && what != NETDOWN_ARG {
        return None;
    }
    let fd: RawFd = args.next()?.to_str()?.parse().ok()?;
    if what == NETDOWN_ARG {
        return Some(net_down_main(fd));
    }
    let here = args.next().is_some_and(|a| a == "here");
    Some(match Monitor::resume(fd) {
        Ok((mut m, reason)) => {
            let Some(l) = m
                .images
                .launch_blob
                .as_ref()
                .and_then(|b| Launcher::from_blob(b).ok())
            else {
                eprintln!("hako monitor: container \"{}\": cannot read its launch options; it keeps running without reboot support", m.name);
                return Some(m.run());
            };
            m.launcher = Some(Box::new(l));
            if let Reason::Reboot(code) = reason {
                m.relaunch(code);
            }
            m.serve(!here)
        }
        Err((e, _)) => {
            eprintln!("hako monitor: cannot resume: {e}");
            1
        }
    })
}

/// The network teardown helper: script.down hooks and DNS names of the container whose
/// launch options are in `fd`.
fn net_down_main(fd: RawFd) -> i32 {
    // SAFETY: the monitor passed this fd to us; nobody else owns it.
    let blob = unsafe { OwnedFd::from_raw_fd(fd) };
    match Launcher::from_blob(&blob) {
        Ok(l) => {
            l.net_teardown(&NetState::default(), None, None);
            0
        }
        Err(e) => {
            eprintln!("hako monitor: {e}");
            1
        }
    }
}

/// How long a freshly started daemon monitor stays in the `hako` image before it re-executes
/// as the small `hako-monitor`. Loading that program costs ~0.8 ms of CPU; commands that
/// follow a start at once (`start && attach`, `start && stop`, a test suite) are served
/// without waiting for it or competing with it, and a monitor that lives on is small after
/// this long.
const HANDOVER_DELAY: Duration = Duration::from_millis(100);

impl Monitor {
    /// Serve the container: a daemon monitor hands over to the small program first
    /// (`handover`), unless there is none or it cannot be run.
    pub(super) fn serve(&mut self, handover: bool) -> i32 {
        if handover && self.may_hand_over() {
            if let Some(bin) = monitor_binary() {
                self.images.handover_at = Some((Instant::now() + HANDOVER_DELAY, bin));
            }
        }
        self.run()
    }

    /// A daemon monitor that is not stopping, rebooting or done.
    fn may_hand_over(&self) -> bool {
        self.cfg.mode == LaunchMode::Daemon
            && self.exit_code.is_none()
            && self.stop.req.is_none()
            && !self.stop.reboot_pending
    }

    /// The hand-over [`Monitor::serve`] planned, once it is due. A monitor that is stopping
    /// meanwhile ends in this image.
    pub(super) fn check_handover(&mut self) {
        let Some((at, _)) = &self.images.handover_at else {
            return;
        };
        if !self.may_hand_over() {
            self.images.handover_at = None;
        } else if Instant::now() >= *at {
            if let Some((_, bin)) = self.images.handover_at.take() {
                self.handover(&bin);
            }
        }
    }

    /// Replace this process with the small monitor program `bin`. Returns only if that
    /// failed (the caller then serves in this image).
    fn handover(&mut self, bin: &Path) {
        sys::timing("monitor: handover");
        if self.images.exe.is_none() {
            self.images.exe = nix::fcntl::open(
                "/proc/self/exe",
                nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::empty(),
            )
            .ok()
            // SAFETY: a fresh fd we own.
            .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) });
        }
        if self.images.launch_blob.is_none() {
            self.images.launch_blob = self.launcher.as_ref().and_then(|l| l.blob());
        }
        let Some(fd) = self.encode_to_memfd(Reason::Serve) else {
            return;
        };
        let Ok(path) = CString::new(bin.as_os_str().as_bytes()) else {
            return;
        };
        let argv = [
            CString::new(format!("[hako monitor] {}", self.name)).unwrap_or_default(),
            CString::new(fd.as_raw_fd().to_string()).unwrap_or_default(),
        ];
        let fds = self.handed_fds();
        for &f in fds.iter().chain([fd.as_raw_fd()].iter()) {
            set_cloexec(f, false);
        }
        let _ = nix::unistd::execve(&path, &argv, &environ());
        for f in fds {
            set_cloexec(f, true);
        }
        eprintln!(
            "hako monitor: container \"{}\": cannot run {}; the monitor stays in the hako program",
            self.name,
            bin.display()
        );
    }

    /// Re-enter the `hako` program with the hand-over in memfd `fd` (only returns if
    /// that failed).
    pub(super) fn exec_hako_resume(&mut self, fd: RawFd, here: bool) {
        let Some(exe) = self.images.exe.as_ref().map(|e| e.as_raw_fd()) else {
            return;
        };
        let fds = self.handed_fds();
        for &f in fds.iter().chain([fd].iter()) {
            set_cloexec(f, false);
        }
        exec_resume(&exe, fd, &self.name, here);
        for f in fds {
            set_cloexec(f, true);
        }
    }

    /// The state as a memfd (close-on-exec, rewound), after flushing what the clients
    /// can take now.
    pub(super) fn encode_to_memfd(&mut self, reason: Reason) -> Option<OwnedFd> {
        for c in self.clients.iter_mut() {
            c.flush();
        }
        self.clients.retain(|c| !c.dead);
        let blob = self.encode(reason);
        memfd_with("hako-monitor", &blob)
    }

    /// Every fd the encoded state refers to.
    pub(super) fn handed_fds(&self) -> Vec<RawFd> {
        let mut v = vec![self.listener.as_raw_fd()];
        let mut opt = |f: Option<RawFd>| v.extend(f);
        opt(self.console.log.as_ref().map(|f| f.as_raw_fd()));
        opt(self.console.out.as_ref().map(|f| f.as_raw_fd()));
        opt(self.images.exe.as_ref().map(|f| f.as_raw_fd()));
        opt(self.images.launch_blob.as_ref().map(|f| f.as_raw_fd()));
        v.extend(self.hooks.iter().flat_map(|h| h.fds()));
        if let Some(r) = &self.run {
            v.push(r.pidfd.as_raw_fd());
            v.extend(r.mnt_ns.as_ref().map(|f| f.as_raw_fd()));
            v.extend(
                r.net
                    .as_ref()
                    .and_then(|(_, ns)| ns.as_ref())
                    .map(|f| f.as_raw_fd()),
            );
            v.extend(r.console.as_ref().map(|f| f.as_raw_fd()));
            v.extend(r.ttys.iter().map(|f| f.as_raw_fd()));
            v.extend(r.pty_peers.iter().map(|f| f.as_raw_fd()));
            v.extend(r.device_prog.as_ref().map(|f| f.as_raw_fd()));
        }
        v.extend(self.clients.iter().map(|c| c.stream.as_raw_fd()));
        v
    }
}

/// exec the `hako` program `exe` to resume the monitor whose state is in memfd `fd`.
fn exec_resume(exe: &impl AsRawFd, fd: RawFd, name: &str, here: bool) {
    let mut argv = vec![
        CString::new(format!("[hako monitor] {name}")).unwrap_or_default(),
        CString::new(RESUME_ARG).unwrap_or_default(),
        CString::new(fd.to_string()).unwrap_or_default(),
    ];
    if here {
        argv.push(CString::new("here").unwrap_or_default());
    }
    set_cloexec(fd, false);
    let _ = nix::unistd::fexecve(exe.as_raw_fd(), &argv, &environ());
}

/// This process's environment, for exec.
pub(super) fn environ() -> Vec<CString> {
    std::env::vars_os()
        .filter_map(|(k, v)| {
            let mut s = k.into_encoded_bytes();
            s.push(b'=');
            s.extend(v.into_encoded_bytes());
            CString::new(s).ok()
        })
        .collect()
}

pub(super) fn set_cloexec(fd: RawFd, on: bool) {
    use nix::fcntl::{fcntl, FcntlArg, FdFlag};
    let _ = fcntl(
        fd,
        FcntlArg::F_SETFD(if on {
            FdFlag::FD_CLOEXEC
        } else {
            FdFlag::empty()
        }),
    );
}

/// A close-on-exec memfd holding `data`, rewound.
pub(super) fn memfd_with(name: &str, data: &[u8]) -> Option<OwnedFd> {
    let cname = CString::new(name).ok()?;
    let fd = nix::sys::memfd::memfd_create(&cname, nix::sys::memfd::MemFdCreateFlag::MFD_CLOEXEC)
        .ok()?;
    let mut f = File::from(fd);
    f.write_all(data).ok()?;
    f.seek(std::io::SeekFrom::Start(0)).ok()?;
    Some(OwnedFd::from(f))
}

/// The whole content of file `fd`, read from offset 0 (its file offset is not used).
pub(super) fn read_all_at(fd: RawFd) -> std::io::Result<Vec<u8>> {
    use std::os::unix::fs::FileExt;
    // SAFETY: borrowed for the duration of this call only; never closed here.
    let f = std::mem::ManuallyDrop::new(unsafe { File::from_raw_fd(fd) });
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match f.read_at(&mut buf, out.len() as u64) {
            Ok(0) => return Ok(out),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}
