//! The event loop: one poll over the listener, the signalfd, init's pidfd, the console
//! and ttys, the terminal and the clients; signals; init's exit, and a reboot's new run.

use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::time::Instant;

use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::control::{Client, ClientMode};
use super::handover::Reason;
use super::stop::SIGNAL_RECHECK;
use super::{LaunchMode, Monitor};
use crate::protocol::{Response, State};
use crate::sys;

impl Monitor {
    /// The event loop. Returns the exit code of the container's init.
    pub(super) fn run(&mut self) -> i32 {
        // The start-up (or the hand-over's decoding) touched code the event loop never runs
        // again; without fault-around only the loop's own pages come back.
        sys::trim_memory();
        loop {
            if let Some(code) = self.exit_code {
                self.finish();
                return code;
            }
            self.poll_once();
        }
    }

    /// One round: wait for something to happen (or a deadline), and handle it.
    fn poll_once(&mut self) {
        #[derive(Clone, Copy)]
        enum Tag {
            Listener,
            Signal,
            Init,
            Console,
            Tty(usize),
            Stdin,
            Client(usize),
        }
        let mut fds: Vec<libc::pollfd> = Vec::with_capacity(8 + self.clients.len());
        let mut tags: Vec<Tag> = Vec::with_capacity(fds.capacity());
        let mut add = |fd: RawFd, ev: i16, t: Tag| {
            fds.push(libc::pollfd {
                fd,
                events: ev,
                revents: 0,
            });
            tags.push(t);
        };
        add(self.listener.as_raw_fd(), libc::POLLIN, Tag::Listener);
        add(self.sigfd.as_raw_fd(), libc::POLLIN, Tag::Signal);
        if let Some(run) = &self.run {
            add(run.pidfd.as_raw_fd(), libc::POLLIN, Tag::Init);
            if let Some(c) = &run.console {
                add(c.as_raw_fd(), libc::POLLIN, Tag::Console);
            }
            for (i, t) in run.ttys.iter().enumerate() {
                let tty = i as u32 + 1;
                if self
                    .clients
                    .iter()
                    .any(|c| c.mode == ClientMode::Console(tty))
                {
                    add(t.as_raw_fd(), libc::POLLIN, Tag::Tty(i));
                }
            }
        }
        if self.console.stdin_open {
            add(0, libc::POLLIN, Tag::Stdin);
        }
        for (i, c) in self.clients.iter().enumerate() {
            let mut ev = libc::POLLIN;
            if !c.out.is_empty() {
                ev |= libc::POLLOUT;
            }
            add(c.stream.as_raw_fd(), ev, Tag::Client(i));
        }
        let stop_deadline =
            self.stop
                .req
                .as_ref()
                .and_then(|s| if s.killed { None } else { s.deadline });
        let recheck = self
            .stop
            .signal_wait
            .as_ref()
            .map(|_| Instant::now() + SIGNAL_RECHECK);
        let wake = [
            stop_deadline,
            self.images.handover_at.as_ref().map(|h| h.0),
            recheck,
        ]
        .into_iter()
        .flatten()
        .min();
        let timeout_ms: i32 = match wake {
            // rounded up: a wake-up before the deadline would only poll again
            Some(d) => (d.saturating_duration_since(Instant::now()).as_micros() as u64)
                .div_ceil(1000)
                .min(i32::MAX as u64) as i32,
            None => -1,
        };
        // SAFETY: fds is a valid array of pollfd of the length we pass.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
        if n < 0 {
            return;
        }
        if n == 0 {
            self.check_signal_wait();
            self.check_deadline();
            self.check_handover();
            return;
        }
        for (pfd, tag) in fds.iter().zip(tags.iter()) {
            if pfd.revents == 0 {
                continue;
            }
            match *tag {
                Tag::Listener => self.accept_clients(),
                Tag::Signal => self.handle_signals(),
                Tag::Init => self.reap_init(),
                Tag::Console => self.pump_console(),
                Tag::Tty(i) => self.pump_tty(i),
                Tag::Stdin => self.pump_stdin(),
                Tag::Client(i) => {
                    if pfd.revents & libc::POLLOUT != 0 {
                        self.clients[i].flush();
                    }
                    if pfd.revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0 {
                        self.read_client(i);
                    }
                }
            }
        }
        self.check_signal_wait();
        self.check_deadline();
        for c in self.clients.iter_mut() {
            if !c.out.is_empty() {
                c.flush();
            }
        }
        if self.clients.iter().any(|c| c.dead && c.waits_stop) {
            self.clients.retain(|c| !c.dead);
            self.maybe_cancel_stop();
        }
        self.clients.retain(|c| !c.dead);
        self.check_handover();
    }

    fn accept_clients(&mut self) {
        while let Ok((s, _)) = self.listener.accept() {
            let _ = s.set_nonblocking(true);
            self.clients.push(Client::new(s));
        }
    }

    fn handle_signals(&mut self) {
        while let Ok(Some(si)) = self.sigfd.read_signal() {
            let sig = si.ssi_signo as i32;
            match sig {
                libc::SIGCHLD => {
                    // our only child is init (pidfd); reap anything else that shows up
                    if let Some(run) = &self.run {
                        let pid = run.pid;
                        loop {
                            match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                                Ok(WaitStatus::StillAlive) | Err(_) => break,
                                Ok(ws) => {
                                    if ws.pid() == Some(Pid::from_raw(pid)) {
                                        self.init_exited(ws);
                                        break;
                                    }
                                }
                            }
                        }
                    }
                }
                libc::SIGWINCH => self.sync_winsize(),
                libc::SIGPIPE => {}
                _ => {
                    if self.cfg.mode == LaunchMode::Execute {
                        // forward to the application (terminal signals already reached it)
                        let from_kernel = si.ssi_code == 0x80;
                        if !(from_kernel && matches!(sig, libc::SIGINT | libc::SIGQUIT)) {
                            if let Some(run) = &self.run {
                                let _ = sys::pidfd_send_signal(run.pidfd.as_fd(), sig);
                            }
                        }
                    } else if sig != libc::SIGHUP || self.cfg.mode == LaunchMode::Foreground {
                        self.begin_stop(Some(60), false);
                    }
                }
            }
        }
    }

    fn reap_init(&mut self) {
        let Some(run) = &self.run else { return };
        let pid = run.pid;
        match waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => {}
            Ok(ws) => self.init_exited(ws),
            // not our child (an OCI init its caller's subreaper reaps): its pidfd said it
            // has exited; the status is the reaper's
            Err(nix::errno::Errno::ECHILD) => {
                self.init_exited(WaitStatus::Exited(Pid::from_raw(pid), 0))
            }
            Err(_) => {}
        }
    }

    /// Init has exited with `ws`: stop hooks and teardown, then a reboot's new run or
    /// the end of the monitor.
    fn init_exited(&mut self, ws: WaitStatus) {
        sys::timing("monitor: init exited");
        self.pump_console();
        let code = match ws {
            WaitStatus::Exited(_, c) => c,
            WaitStatus::Signaled(_, s, _) => 128 + s as i32,
            _ => 0,
        };
        self.announce(None, Some(code));
        // reboot(2) in a pid namespace kills init with SIGHUP for a restart
        let reboot = self.stop.reboot_pending
            || (self.stop.req.is_none()
                && matches!(ws, WaitStatus::Signaled(_, Signal::SIGHUP, _)));
        let mut reboot = reboot && self.stop.req.is_none() && self.cfg.mode != LaunchMode::Execute;
        if let Some(h) = &mut self.hooks {
            h.stop(reboot);
        }
        self.teardown_run();
        if let Some(h) = &mut self.hooks {
            if h.has_post_stop() {
                // the container's mounts are gone too when post-stop runs
                self.held_ns.clear();
            }
            // a failed post-stop hook turns a reboot into a stop, as in LXC
            reboot &= h.post_stop(reboot);
        }
        if reboot {
            self.stop.reboot_pending = false;
            self.set_state(State::Starting);
            if self.launcher.is_none() {
                // the start code lives in the hako program: continue there
                self.held_ns.clear();
                if let Some(fd) = self.encode_to_memfd(Reason::Reboot(code)) {
                    self.exec_hako_resume(fd.as_raw_fd(), false);
                }
                eprintln!("hako monitor: container \"{}\": cannot re-enter the hako program for the reboot", self.name);
            }
            self.relaunch(code);
            return;
        }
        self.exit_code = Some(code);
    }

    /// The second half of a reboot: start a new run, or give up with init's `code`.
    pub(super) fn relaunch(&mut self, code: i32) {
        match self.launch_run() {
            Ok(()) => self.set_state(State::Running),
            Err(e) => {
                eprintln!(
                    "hako monitor: container \"{}\": restart failed: {e}",
                    self.name
                );
                let msg = Response::err(format!("reboot of \"{}\" failed: {e}", self.name));
                for c in self.clients.iter_mut().filter(|c| c.waits_reboot) {
                    c.send_line(&msg);
                }
                self.exit_code = Some(code);
            }
        }
    }
}
