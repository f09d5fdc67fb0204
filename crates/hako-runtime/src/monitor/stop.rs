//! Stopping: the halt signal and its deadline, kill, reboot requests held until init
//! takes the signal; and the teardown of a run (cgroup, network, AppArmor profile) and of
//! the monitor itself (runtime files, STOPPED to the waiters, an ephemeral container).

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::time::{Duration, Instant};

use nix::sys::signal::{SigSet, SigmaskHow};
use nix::sys::wait::{waitpid, WaitStatus};

use super::control::ClientMode;
use super::images::{environ, set_cloexec, NETDOWN_ARG};
use super::Monitor;
use crate::net::NetState;
use crate::nl::LinkRelease;
use crate::protocol::{Response, State};
use crate::sys;

/// A stop or reboot under way.
#[derive(Default)]
pub(super) struct Stopping {
    /// a stop was asked for (not carried across a hand-over: the monitor then stays in
    /// the image it is in)
    pub(super) req: Option<StopReq>,
    /// a reboot was asked for: init's exit starts a new run
    pub(super) reboot_pending: bool,
    /// a halt or reboot signal not sent yet (never set across a hand-over: that waits
    /// while a stop or reboot is pending)
    pub(super) signal_wait: Option<SignalWait>,
}

/// A stop's deadline, after which init is killed.
pub(super) struct StopReq {
    pub(super) deadline: Option<Instant>,
    /// SIGKILL has been sent
    pub(super) killed: bool,
}

/// A halt or reboot signal held back until the container's init takes it
/// ([`sys::init_takes_signal`]): right after a start, init may not have set up its
/// signal handling yet, and the kernel would drop the signal. Only a taker gets it: a
/// signal sent to an init that merely blocks it for a moment (a shell around its forks)
/// is dropped when the block ends, and after the fact /proc cannot tell a dropped signal
/// from one taken by an init that then unblocked everything to shut down (busybox init).
pub(super) struct SignalWait {
    sig: i32,
    /// give up then: init does not take this signal at all
    until: Instant,
    reboot: bool,
    /// since when init has blocked the signal without a break: an init that blocks it
    /// for as long as [`SIGNAL_BLOCK_HELD`] (busybox init while its sysinit runs) gets it
    /// at the wait's end, to take when it reaches its signal loop
    blocked_since: Option<Instant>,
}

/// How long a halt or reboot signal waits for init to take it.
const SIGNAL_WAIT: Duration = Duration::from_secs(3);
/// A block that lasts this long is init's own, not a passing one.
const SIGNAL_BLOCK_HELD: Duration = Duration::from_secs(1);
/// How often the monitor looks again meanwhile.
pub(super) const SIGNAL_RECHECK: Duration = Duration::from_millis(2);

impl Monitor {
    /// The signal that asks init to halt: `lxc.signal.halt`, else the one this init
    /// takes (systemd's SIGRTMIN+3, or SIGPWR).
    fn halt_signal(&self, pid: i32) -> i32 {
        if let Some(s) = self.cfg.halt_signal {
            return s;
        }
        // systemd blocks SIGRTMIN+3 and handles it through a signalfd: that is its halt
        let rtmin3 = libc::SIGRTMIN() + 3;
        match sys::sig_blocked(pid) {
            Some(mask) if mask & (1u64 << (rtmin3 - 1)) != 0 => rtmin3,
            _ => libc::SIGPWR,
        }
    }

    /// A stop: the halt signal (after a thaw), with a deadline of `timeout` seconds
    /// (None: 60; negative: none) or, with `kill` or a timeout of 0, SIGKILL.
    pub(super) fn begin_stop(&mut self, timeout: Option<i64>, kill: bool) {
        let Some(run) = &self.run else { return };
        let timeout = timeout.unwrap_or(60);
        if self.state == State::Frozen || self.state == State::Freezing {
            let _ = run.cgroup.thaw();
        }
        if kill || timeout == 0 {
            self.kill_now();
            return;
        }
        let deadline = if timeout < 0 {
            None
        } else {
            Some(Instant::now() + Duration::from_secs(timeout as u64))
        };
        if let Some(s) = &mut self.stop.req {
            // already stopping: the earliest deadline wins
            if !s.killed {
                s.deadline = match (s.deadline, deadline) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
            }
            return;
        }
        let sig = self.halt_signal(run.pid);
        self.signal_init(sig, false);
        self.stop.req = Some(StopReq {
            deadline,
            killed: false,
        });
        self.set_state(State::Stopping);
    }

    /// Sends the halt or reboot signal `sig` to init now, or as soon as init takes it
    /// (see [`SignalWait`]).
    pub(super) fn signal_init(&mut self, sig: i32, reboot: bool) {
        let Some(run) = &self.run else { return };
        if sys::init_takes_signal(run.pid, sig) == Some(false) {
            sys::timing("monitor: signal held back");
            self.stop.signal_wait = Some(SignalWait {
                sig,
                until: Instant::now() + SIGNAL_WAIT,
                reboot,
                blocked_since: None,
            });
            return;
        }
        self.send_to_init(sig);
    }

    fn send_to_init(&mut self, sig: i32) {
        if let Some(run) = &self.run {
            let _ = sys::pidfd_send_signal(run.pidfd.as_fd(), sig);
            sys::timing("monitor: signal sent");
        }
    }

    /// The held-back signal: sent once init takes it. At the wait's end a halt goes out
    /// anyway (the stop's deadline kills), and so does a reboot to an init that has been
    /// blocking the signal all along; any other reboot is refused to its waiters.
    pub(super) fn check_signal_wait(&mut self) {
        let Some(w) = &mut self.stop.signal_wait else {
            return;
        };
        let Some(run) = &self.run else {
            self.stop.signal_wait = None;
            return;
        };
        let now = Instant::now();
        let takes = sys::init_takes_signal(run.pid, w.sig) != Some(false);
        if !takes {
            if sys::init_blocks(run.pid, w.sig) {
                w.blocked_since.get_or_insert(now);
            } else {
                w.blocked_since = None;
            }
            if now < w.until {
                return;
            }
        }
        let held = w
            .blocked_since
            .is_some_and(|t| now.duration_since(t) >= SIGNAL_BLOCK_HELD);
        let (sig, reboot) = (w.sig, w.reboot);
        self.stop.signal_wait = None;
        if !reboot {
            // what init blocks tells which halt signal it is for (systemd's SIGRTMIN+3),
            // and it may block nothing yet when the stop came
            let pid = run.pid;
            let sig = self.halt_signal(pid);
            self.send_to_init(sig);
            return;
        }
        if takes || held {
            self.send_to_init(sig);
            return;
        }
        let msg = Response::err(format!(
            "container \"{}\": its init (pid {}) neither catches nor waits for signal {} (lxc.signal.reboot), so it cannot be asked to reboot; set lxc.signal.reboot to the signal this init reboots on, or stop and start the container",
            self.name,
            run.pid,
            hako_spec::signal_name(sig)
        ));
        self.stop.reboot_pending = false;
        for c in self.clients.iter_mut().filter(|c| c.waits_reboot) {
            c.waits_reboot = false;
            c.send_line(&msg);
        }
    }

    /// A stop without a deadline (`stop --nokill`) whose last waiter gave up: the
    /// container did not shut down and keeps running.
    pub(super) fn maybe_cancel_stop(&mut self) {
        let waiting = self.clients.iter().any(|c| c.waits_stop && !c.dead);
        if let Some(s) = &self.stop.req {
            if !s.killed && s.deadline.is_none() && !waiting && self.run.is_some() {
                self.stop.req = None;
                self.set_state(State::Running);
            }
        }
    }

    /// SIGKILL to init, now.
    fn kill_now(&mut self) {
        sys::timing("monitor: kill");
        // SIGKILL to the pid namespace's init takes every process of the container with it
        // (attached commands join that namespace too); whatever might remain in the cgroup
        // is killed at teardown, once init has been reaped.
        if let Some(run) = &self.run {
            let _ = sys::pidfd_send_signal(run.pidfd.as_fd(), libc::SIGKILL);
            // The host ends of the veths are deleted while init dies (the kernel takes
            // about a millisecond; teardown waits for it, see nl::LinkRelease), unless
            // script.down hooks must see them first.
            let links = run.net.as_ref().map(|(st, _)| &st.host_links);
            if let Some(links) = links.filter(|l| !l.is_empty()) {
                if self.link_release.is_none() && !self.net_helper {
                    self.link_release = Some(LinkRelease::begin(links));
                }
            }
        }
        self.stop.req = Some(StopReq {
            deadline: None,
            killed: true,
        });
        if self.state != State::Stopping {
            self.set_state(State::Stopping);
        }
    }

    /// The stop's deadline has passed: kill.
    pub(super) fn check_deadline(&mut self) {
        if let Some(s) = &self.stop.req {
            if !s.killed && s.deadline.map(|d| Instant::now() >= d).unwrap_or(false) {
                self.kill_now();
            }
        }
    }

    /// Kill what is left, remove the cgroup, undo the network, close the ptys.
    pub(super) fn teardown_run(&mut self) {
        if let Some(mut run) = self.run.take() {
            if let Some(ns) = run.mnt_ns.take() {
                self.held_ns.push(ns);
            }
            // Init has been reaped: as the pid namespace's reaper it took every process of
            // the namespace with it (attached commands join it too), so the cgroup is
            // normally empty and goes with one rmdir per hierarchy. Whatever was moved into
            // it from outside is killed first.
            if run.cgroup.try_remove().is_err() {
                let _ = run.cgroup.thaw();
                let _ = run.cgroup.kill_all();
                if let Err(e) = run.cgroup.remove() {
                    eprintln!("hako monitor: {e}");
                }
            }
            sys::timing("monitor: cgroup removed");
            // the AppArmor profile hako generated goes once nothing it confines is left
            // (removed while in use, it would leave its processes unconfined); removing
            // a removed cgroup again is a cheap check that it is gone
            if run.cgroup.try_remove().is_ok() {
                if let Err(e) = crate::lsm::release(&self.name, &self.cfg.runtime_dir) {
                    eprintln!("hako monitor: {e}");
                }
            }
            if let Some((st, ns)) = run.net.take() {
                self.net_teardown(&st, ns);
            }
            drop(run);
        }
        for c in self.clients.iter_mut() {
            if matches!(c.mode, ClientMode::Console(_)) {
                c.closing = true;
            }
        }
    }

    fn net_teardown(&mut self, st: &NetState, ns: Option<OwnedFd>) {
        let links = self.link_release.take();
        // script.down hooks: here, or in the small monitor by a helper run of the hako
        // program (which forgets the DNS names too)
        let scripts = || match &self.launcher {
            Some(l) => l.net_scripts_down(),
            None if self.net_helper => self.run_net_helper(),
            None => {}
        };
        crate::net::teardown(&self.name, scripts, &self.net_dns, st, ns, links);
    }

    /// Runs the hako program with `argv` (argv[0] names the task in `ps`) and waits for it:
    /// the small monitor execs the program it was handed (`exe`), the hako image itself.
    /// `pass_fd` is left open across the exec.
    fn run_hako(
        &self,
        argv: &[CString],
        pass_fd: Option<RawFd>,
    ) -> std::result::Result<WaitStatus, String> {
        let path = match &self.images.exe {
            Some(_) => None,
            None => Some(
                std::env::current_exe()
                    .ok()
                    .and_then(|p| CString::new(p.as_os_str().as_bytes()).ok())
                    .ok_or("no hako program to run")?,
            ),
        };
        let env = environ();
        // SAFETY: the monitor is single-threaded; the child only adjusts fds and execs.
        match unsafe { nix::unistd::fork() } {
            Ok(nix::unistd::ForkResult::Child) => {
                let _ = nix::sys::signal::sigprocmask(
                    SigmaskHow::SIG_SETMASK,
                    Some(&SigSet::empty()),
                    None,
                );
                if let Some(fd) = pass_fd {
                    set_cloexec(fd, false);
                }
                match (&self.images.exe, &path) {
                    (Some(exe), _) => {
                        let _ = nix::unistd::fexecve(exe.as_raw_fd(), argv, &env);
                    }
                    (None, Some(p)) => {
                        let _ = nix::unistd::execve(p, argv, &env);
                    }
                    (None, None) => {}
                }
                // SAFETY: a failed exec in a forked child.
                unsafe { libc::_exit(127) }
            }
            Ok(nix::unistd::ForkResult::Parent { child }) => {
                waitpid(child, None).map_err(|e| e.to_string())
            }
            Err(e) => Err(format!("cannot fork: {e}")),
        }
    }

    /// `lxc.ephemeral = 1`: run `hako -P LXCPATH destroy -f NAME` and wait for it, so a `stop`
    /// waiting for STOPPED returns once the container is gone. The control socket is gone
    /// already: destroy sees a stopped container.
    fn destroy_ephemeral(&self) {
        let Some(lxcpath) = &self.cfg.ephemeral else {
            return;
        };
        let argv = [
            CString::new(format!("[hako monitor] {}: ephemeral destroy", self.name))
                .unwrap_or_default(),
            CString::new("-P").unwrap_or_default(),
            CString::new(lxcpath.as_os_str().as_bytes()).unwrap_or_default(),
            CString::new("destroy").unwrap_or_default(),
            CString::new("-f").unwrap_or_default(),
            CString::new(self.name.as_str()).unwrap_or_default(),
        ];
        match self.run_hako(&argv, None) {
            Ok(WaitStatus::Exited(_, 0)) => {}
            other => eprintln!(
                "hako monitor: ephemeral container \"{}\" could not be destroyed ({other:?}); remove it with \"hako destroy {}\"",
                self.name, self.name
            ),
        }
    }

    /// Run `hako` NETDOWN_ARG (script.down hooks, DNS names) with the launch options and
    /// wait for it.
    fn run_net_helper(&self) {
        let Some(blob) = &self.images.launch_blob else {
            eprintln!("hako monitor: container \"{}\": cannot undo its network hooks and DNS names: no launch options", self.name);
            return;
        };
        let argv = [
            CString::new(format!("[hako monitor] {}: network teardown", self.name))
                .unwrap_or_default(),
            CString::new(NETDOWN_ARG).unwrap_or_default(),
            CString::new(blob.as_raw_fd().to_string()).unwrap_or_default(),
        ];
        if let Err(e) = self.run_hako(&argv, Some(blob.as_raw_fd())) {
            eprintln!(
                "hako monitor: container \"{}\": cannot run the network teardown: {e}",
                self.name
            );
        }
    }

    /// Final steps before the monitor exits: runtime files, STOPPED to everyone.
    pub(super) fn finish(&mut self) {
        sys::timing("monitor: finish");
        self.restore_terminal();
        if let Some(e) = &self.exec_error {
            eprintln!("{e}");
        }
        self.remove_runtime_files();
        if let Some(p) = &self.cfg.pidfile {
            let _ = std::fs::remove_file(p);
        }
        if self.cfg.ephemeral.is_some() {
            self.destroy_ephemeral();
        }
        self.set_state(State::Stopped);
        let stopped = Response::ok().with_state(State::Stopped);
        let code = self.exit_code;
        for c in self.clients.iter_mut() {
            if c.waits_stop {
                let mut r = stopped.clone();
                r.exit_status = code;
                // stopped, but a stop or post-stop hook failed: shown as a warning
                r.error = self.hooks.as_ref().and_then(|h| h.warnings());
                c.send_line(&r);
            }
            if c.waits_reboot {
                c.send_line(&Response::err(format!(
                    "container \"{}\" stopped instead of rebooting",
                    self.name
                )));
            }
            c.flush_all();
        }
        self.clients.clear();
        sys::timing("monitor: replied");
        self.held_ns.clear();
    }
}
