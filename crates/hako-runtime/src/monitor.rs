//! The monitor: one small single-threaded process per running container. It creates the
//! cgroup, clones the container's init, holds its console, serves the control socket,
//! reaps init and cleans up. No monitor reachable means the container is STOPPED.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hako_cgroups::{Cgroup, DeviceRule, Host, KeyKind};
use nix::sched::CloneFlags;
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::child::{self, ChildCtx};
use crate::error::{errno_text, Context, Result, RuntimeError};
use crate::mounts::AutoPlan;
use crate::protocol::{Request, Response, StateFile, StatsReply};
use crate::spec::ContainerSpec;
use crate::sync::{self, Channel};
use crate::sys::{self, Forked};

pub const SOCKET: &str = "monitor.sock";
pub const STATE_FILE: &str = "state.json";

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum LaunchMode {
    /// fork a monitor, return when RUNNING
    Daemon,
    /// this process is the monitor; console on the terminal
    Foreground,
    /// this process is the monitor; application container with the caller's stdio
    Execute,
}

#[derive(serde::Serialize, serde::Deserialize)]
pub struct LaunchOptions {
    pub spec: ContainerSpec,
    pub host: Host,
    pub plan: AutoPlan,
    pub runtime_dir: PathBuf,
    pub mode: LaunchMode,
    pub pidfile: Option<PathBuf>,
    /// where the console is logged (default: the container dir's console.log)
    pub console_log: Option<PathBuf>,
    /// the daemon monitor's stderr (its log); /dev/null otherwise
    pub log_file: Option<PathBuf>,
    /// `start -c FILE`: the console's output goes to FILE (instead of the terminal in
    /// the foreground)
    #[serde(default)]
    pub console_out: Option<PathBuf>,
    /// the container's network interfaces, resolved and validated
    #[serde(default)]
    pub net: Vec<crate::net::IfacePlan>,
}

/// Builds the container's network for the child `pid` (which waits for "GO"); the `hako`
/// command provides it (hako-net). A daemon monitor asks the `hako start` that launched
/// it over the ready channel, so the resident monitor carries no netlink library.
pub type NetSetup<'a> = &'a dyn Fn(&ContainerSpec, &[crate::net::IfacePlan], i32) -> Result<crate::net::NetState>;

/// Start a container. Daemon: returns init's pid once RUNNING. Foreground/Execute: runs
/// the monitor here and returns the exit code when the container stops. `started` runs
/// once the container is RUNNING (before a foreground monitor enters its loop), e.g. to
/// release the container lock.
pub fn launch(opts: LaunchOptions, net_setup: NetSetup<'_>, started: &dyn Fn()) -> Result<i32> {
    match opts.mode {
        LaunchMode::Daemon => {
            let r = launch_daemon(opts, net_setup);
            started();
            r
        }
        _ => {
            let hook = |spec: &ContainerSpec, plans: &[crate::net::IfacePlan], pid: i32| net_setup(spec, plans, pid);
            let mut m = Monitor::new(opts, None, Box::new(hook))?;
            m.start_first()?;
            started();
            Ok(m.run())
        }
    }
}

fn launch_daemon(opts: LaunchOptions, net_setup: NetSetup<'_>) -> Result<i32> {
    sys::timing("cli: fork monitor");
    let name = opts.spec.name.clone();
    let (mine, theirs) = sync::pair().ctx(|| "socketpair".into())?;
    // Double fork: the monitor is not our child, so nobody has to reap it.
    // SAFETY: this process is single-threaded (the CLI starts no threads).
    match unsafe { nix::unistd::fork() }.ctx(|| format!("container \"{name}\": cannot fork the monitor"))? {
        nix::unistd::ForkResult::Child => {
            drop(mine);
            let _ = nix::unistd::setsid();
            // SAFETY: as above, still single-threaded.
            match unsafe { nix::unistd::fork() } {
                Ok(nix::unistd::ForkResult::Child) => {}
                // SAFETY: _exit in a forked child without running destructors.
                _ => unsafe { libc::_exit(0) },
            }
            redirect_stdio(opts.log_file.as_deref());
            if let Some(bin) = monitor_binary() {
                exec_monitor(&bin, &opts, theirs.fd());
            }
            let code = run_daemon_monitor(opts, theirs);
            // SAFETY: end of the monitor process.
            unsafe { libc::_exit(code) }
        }
        nix::unistd::ForkResult::Parent { child } => {
            drop(theirs);
            let _ = waitpid(child, None);
            let spec = &opts.spec;
            loop {
                let msg = match mine.recv() {
                    Ok(Some(m)) => m.text,
                    Ok(None) | Err(_) => {
                        return Err(RuntimeError::msg(format!(
                            "container \"{name}\": the monitor died during start without a report; run \"hako start -F {name}\" or pass -o LOGFILE -l DEBUG to see why"
                        )))
                    }
                };
                if let Some(pid) = msg.strip_prefix("OK ") {
                    return Ok(pid.trim().parse().unwrap_or(0));
                }
                if let Some(e) = msg.strip_prefix("ERR ") {
                    return Err(RuntimeError::msg(e.to_string()));
                }
                if let Some(pid) = msg.strip_prefix("NET ") {
                    let pid: i32 = pid.trim().parse().unwrap_or(0);
                    let reply = match net_setup(spec, &opts.net, pid) {
                        Ok(state) => format!("NETOK {}", serde_json::to_string(&state).unwrap_or_default()),
                        Err(e) => format!("NETERR {e}"),
                    };
                    let _ = mine.send(&reply);
                }
            }
        }
    }
}

/// The network hook of a daemon monitor: ask the launching `hako start`.
fn ask_launcher(ch: &Channel, pid: i32) -> Result<crate::net::NetState> {
    ch.send(&format!("NET {pid}")).ctx(|| "cannot ask hako start to set up the network".into())?;
    match ch.recv() {
        Ok(Some(m)) => {
            if let Some(j) = m.text.strip_prefix("NETOK ") {
                serde_json::from_str(j).map_err(|e| RuntimeError::msg(format!("bad network report: {e}")))
            } else if let Some(e) = m.text.strip_prefix("NETERR ") {
                Err(RuntimeError::msg(e.to_string()))
            } else {
                Err(RuntimeError::msg(format!("unexpected message from hako start: {}", m.text)))
            }
        }
        _ => Err(RuntimeError::msg("hako start went away while setting up the network".to_string())),
    }
}

/// The small monitor executable: `$HAKO_MONITOR`, else `hako-monitor` next to this
/// program. Without it the monitor runs in this (forked) process image.
pub fn monitor_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("HAKO_MONITOR") {
        return Some(PathBuf::from(p));
    }
    let exe = std::fs::read_link("/proc/self/exe").ok()?;
    let p = exe.parent()?.join("hako-monitor");
    p.is_file().then_some(p)
}

/// fd 3 of the monitor executable: its LaunchOptions as JSON; fd 4: the ready pipe.
const OPTS_FD: RawFd = 3;
const READY_FD: RawFd = 4;

/// Replace this (forked, daemonized) process with the monitor executable. Returns only if
/// the exec failed; the caller then runs the monitor in-process.
fn exec_monitor(bin: &Path, opts: &LaunchOptions, ready: &OwnedFd) {
    let Ok(json) = serde_json::to_vec(opts) else { return };
    let Ok(memfd) = nix::sys::memfd::memfd_create(c"hako-launch", nix::sys::memfd::MemFdCreateFlag::MFD_CLOEXEC) else {
        return;
    };
    let mut f = File::from(memfd);
    use std::io::Seek;
    if f.write_all(&json).is_err() || f.seek(std::io::SeekFrom::Start(0)).is_err() {
        return;
    }
    let Ok(path) = std::ffi::CString::new(bin.as_os_str().as_encoded_bytes()) else { return };
    let argv = [std::ffi::CString::new(format!("[hako monitor] {}", opts.spec.name)).unwrap_or_default()];
    let env: Vec<std::ffi::CString> = std::env::vars_os()
        .filter_map(|(k, v)| {
            let mut s = k.into_encoded_bytes();
            s.push(b'=');
            s.extend(v.into_encoded_bytes());
            std::ffi::CString::new(s).ok()
        })
        .collect();
    // Put the two fds on 3 and 4 (inherited across exec); first move them out of the way
    // in case either already sits on 3 or 4.
    let hi_opts = nix::fcntl::fcntl(f.as_raw_fd(), nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(10));
    let hi_ready = nix::fcntl::fcntl(ready.as_raw_fd(), nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(10));
    let mut placed = Vec::new();
    if let (Ok(o), Ok(r)) = (hi_opts, hi_ready) {
        if o != OPTS_FD && nix::unistd::dup2(o, OPTS_FD).is_ok() {
            placed.push(OPTS_FD);
        }
        if r != READY_FD && nix::unistd::dup2(r, READY_FD).is_ok() {
            placed.push(READY_FD);
        }
        if placed.len() == 2 {
            let _ = nix::unistd::execve(&path, &argv, &env);
        }
    }
    // exec failed: close every extra copy of the ready pipe, or `hako start` would never
    // see it close (3 and 4 were free or ours: dup2 replaced what was there only if it
    // was one of our own, moved-out fds)
    for fd in [hi_opts, hi_ready].into_iter().flatten().chain(placed) {
        if fd != ready.as_raw_fd() && fd != f.as_raw_fd() {
            let _ = nix::unistd::close(fd);
        }
    }
}

/// Entry point of the `hako-monitor` executable (see [`exec_monitor`]).
pub fn exec_main() -> i32 {
    sys::timing("monitor: exec'd");
    // SAFETY: fds 3 and 4 were set up by exec_monitor for us and nobody else owns them.
    let (opts_fd, ready_fd) = unsafe { (OwnedFd::from_raw_fd(OPTS_FD), OwnedFd::from_raw_fd(READY_FD)) };
    let _ = nix::fcntl::fcntl(ready_fd.as_raw_fd(), nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC));
    let mut json = Vec::new();
    if File::from(opts_fd).read_to_end(&mut json).is_err() {
        return 1;
    }
    let ready = Channel::from_fd(ready_fd);
    let opts: LaunchOptions = match serde_json::from_slice(&json) {
        Ok(o) => o,
        Err(e) => {
            let _ = ready.send(&format!("ERR hako-monitor: bad launch options ({e}); hako and hako-monitor are from different builds, reinstall both"));
            return 1;
        }
    };
    drop(json);
    run_daemon_monitor(opts, ready)
}

/// Run a daemon monitor to the end, reporting start-up failures on the ready channel.
fn run_daemon_monitor(opts: LaunchOptions, ready: Channel) -> i32 {
    let ask = match ready.try_clone() {
        Ok(c) => c,
        Err(e) => {
            let _ = ready.send(&format!("ERR cannot set up the monitor: {e}"));
            return 1;
        }
    };
    let spare = ready.try_clone().ok();
    let hook = move |_: &ContainerSpec, _: &[crate::net::IfacePlan], pid: i32| ask_launcher(&ask, pid);
    match Monitor::new(opts, Some(ready), Box::new(hook)) {
        Ok(mut m) => {
            drop(spare);
            match m.start_first() {
                Ok(()) => m.run(),
                Err(e) => {
                    m.report_ready(Err(&e.to_string()));
                    1
                }
            }
        }
        Err(e) => {
            if let Some(f) = spare {
                let _ = f.send(&format!("ERR {e}"));
            }
            1
        }
    }
}

fn redirect_stdio(log: Option<&Path>) {
    if let Ok(null) = nix::fcntl::open("/dev/null", nix::fcntl::OFlag::O_RDWR, nix::sys::stat::Mode::empty()) {
        let _ = nix::unistd::dup2(null, 0);
        let _ = nix::unistd::dup2(null, 1);
        let err = log
            .and_then(|p| {
                nix::fcntl::open(
                    p,
                    nix::fcntl::OFlag::O_WRONLY | nix::fcntl::OFlag::O_APPEND | nix::fcntl::OFlag::O_CREAT,
                    nix::sys::stat::Mode::from_bits_truncate(0o640),
                )
                .ok()
            })
            .unwrap_or(null);
        let _ = nix::unistd::dup2(err, 2);
        if null > 2 {
            let _ = nix::unistd::close(null);
        }
        if err > 2 && err != null {
            let _ = nix::unistd::close(err);
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ClientMode {
    Requests,
    Console(u32),
    Events,
}

struct Client {
    stream: UnixStream,
    inbuf: Vec<u8>,
    out: VecDeque<u8>,
    mode: ClientMode,
    /// waiting for STOPPED (stop request) — answered when the container has stopped
    waits_stop: bool,
    /// waiting for RUNNING after a reboot
    waits_reboot: bool,
    closing: bool,
    dead: bool,
}

const CLIENT_OUT_MAX: usize = 1 << 20;

impl Client {
    fn send_line(&mut self, r: &Response) {
        let mut s = serde_json::to_vec(r).unwrap_or_default();
        s.push(b'\n');
        self.out.extend(s);
    }
    fn send_raw(&mut self, b: &[u8]) {
        if self.out.len() + b.len() <= CLIENT_OUT_MAX {
            self.out.extend(b);
        }
    }
    fn flush(&mut self) {
        while !self.out.is_empty() {
            let (a, _) = self.out.as_slices();
            match self.stream.write(a) {
                Ok(0) => {
                    self.dead = true;
                    return;
                }
                Ok(n) => {
                    self.out.drain(..n);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    self.dead = true;
                    return;
                }
            }
        }
        if self.closing {
            self.dead = true;
        }
    }
    /// Blocking flush, used right before the monitor exits.
    fn flush_all(&mut self) {
        let _ = self.stream.set_nonblocking(false);
        let _ = self.stream.set_write_timeout(Some(Duration::from_secs(2)));
        let (a, b) = self.out.as_slices();
        let _ = self.stream.write_all(a);
        let _ = self.stream.write_all(b);
        self.out.clear();
    }
}

/// One run of the container (a reboot makes a new one).
struct Run {
    /// the container's mount namespace, held so that tearing it down (an RCU grace period
    /// in the kernel) happens after `stop` has been answered, not inside init's exit
    mnt_ns: Option<OwnedFd>,
    /// the network to undo at stop, and the container's network namespace (held so a
    /// phys device can be given back after init has exited)
    net: Option<(crate::net::NetState, Option<OwnedFd>)>,
    pid: i32,
    pidfd: OwnedFd,
    cgroup: Cgroup,
    console: Option<OwnedFd>,
    ttys: Vec<OwnedFd>,
    device_rules: Vec<DeviceRule>,
    device_prog: Option<OwnedFd>,
}

struct StopReq {
    deadline: Option<Instant>,
    killed: bool,
}

pub struct Monitor<'a> {
    net_setup: Box<dyn Fn(&ContainerSpec, &[crate::net::IfacePlan], i32) -> Result<crate::net::NetState> + 'a>,
    net_plans: Vec<crate::net::IfacePlan>,
    spec: ContainerSpec,
    host: Host,
    plan: AutoPlan,
    mode: LaunchMode,
    runtime_dir: PathBuf,
    pidfile: Option<PathBuf>,
    listener: UnixListener,
    sigfd: SignalFd,
    clients: Vec<Client>,
    state: &'static str,
    run: Option<Run>,
    stop: Option<StopReq>,
    reboot_pending: bool,
    ready: Option<Channel>,
    console_log: Option<File>,
    console_out: Option<File>,
    /// foreground: the terminal
    stdin_open: bool,
    saved_termios: Option<nix::sys::termios::Termios>,
    exit_code: Option<i32>,
    exec_error: Option<String>,
    /// namespaces of stopped runs, released once the stop has been answered
    held_ns: Vec<OwnedFd>,
}

impl<'a> Monitor<'a> {
    fn new(
        opts: LaunchOptions,
        ready: Option<Channel>,
        net_setup: Box<dyn Fn(&ContainerSpec, &[crate::net::IfacePlan], i32) -> Result<crate::net::NetState> + 'a>,
    ) -> Result<Monitor<'a>> {
        let name = opts.spec.name.clone();
        let dir = &opts.runtime_dir;
        std::fs::create_dir_all(dir).ctx(|| format!("container \"{name}\": cannot create runtime dir {}", dir.display()))?;
        let _ = nix::sys::stat::fchmodat(
            None,
            dir,
            nix::sys::stat::Mode::from_bits_truncate(0o700),
            nix::sys::stat::FchmodatFlags::FollowSymlink,
        );
        // Bind under a temporary name, listen, then rename: the socket appears atomically
        // and accepts connections from the moment it is visible (wait uses inotify on it).
        let tmp = dir.join(format!("{SOCKET}.tmp"));
        let _ = std::fs::remove_file(&tmp);
        let listener = UnixListener::bind(&tmp)
            .ctx(|| format!("container \"{name}\": cannot create the control socket {}", tmp.display()))?;
        listener.set_nonblocking(true).ctx(|| "nonblocking".into())?;
        std::fs::rename(&tmp, dir.join(SOCKET)).ctx(|| format!("container \"{name}\": cannot publish the control socket"))?;

        let mut mask = SigSet::empty();
        for s in [Signal::SIGCHLD, Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP, Signal::SIGQUIT, Signal::SIGWINCH, Signal::SIGPIPE] {
            mask.add(s);
        }
        mask.thread_block().ctx(|| "sigprocmask".into())?;
        let sigfd = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
            .ctx(|| "signalfd".into())?;

        let log_path = opts
            .console_log
            .clone()
            .or_else(|| opts.spec.console_logfile.clone())
            .unwrap_or_else(|| opts.spec.lxcpath.join(&opts.spec.name).join("console.log"));
        let console_log = if opts.spec.console && opts.mode != LaunchMode::Execute {
            std::fs::OpenOptions::new().create(true).append(true).open(&log_path).ok()
        } else {
            None
        };

        let console_out = match &opts.console_out {
            Some(p) => Some(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .ctx(|| format!("container \"{name}\": cannot open the console file {}", p.display()))?,
            ),
            None => None,
        };
        let m = Monitor {
            net_setup,
            net_plans: opts.net,
            spec: opts.spec,
            host: opts.host,
            plan: opts.plan,
            mode: opts.mode,
            runtime_dir: opts.runtime_dir,
            pidfile: opts.pidfile,
            listener,
            sigfd,
            clients: Vec::new(),
            state: "STARTING",
            run: None,
            stop: None,
            reboot_pending: false,
            ready,
            console_log,
            console_out,
            stdin_open: opts.mode == LaunchMode::Foreground,
            saved_termios: None,
            exit_code: None,
            exec_error: None,
            held_ns: Vec::new(),
        };
        m.write_state_file(None, None, &[]);
        Ok(m)
    }

    fn start_first(&mut self) -> Result<()> {
        match self.launch_run() {
            Ok(()) => {
                self.state = "RUNNING";
                let pid = self.run.as_ref().map(|r| r.pid).unwrap_or(0);
                if let Some(p) = &self.pidfile {
                    let _ = std::fs::write(p, format!("{pid}\n"));
                }
                self.report_ready(Ok(pid));
                if self.mode == LaunchMode::Foreground {
                    self.setup_terminal();
                }
                Ok(())
            }
            Err(e) => {
                self.set_state("ABORTING");
                for c in self.clients.iter_mut() {
                    c.flush_all();
                }
                self.remove_runtime_files();
                Err(e)
            }
        }
    }

    fn report_ready(&mut self, r: std::result::Result<i32, &str>) {
        sys::timing("monitor: report");
        if let Some(ch) = self.ready.take() {
            let _ = match r {
                Ok(pid) => ch.send(&format!("OK {pid}")),
                Err(e) => ch.send(&format!("ERR {e}")),
            };
        }
    }

    fn write_state_file(&self, init_pid: Option<i32>, cgroup: Option<&Cgroup>, host_links: &[String]) {
        let me = std::process::id() as i32;
        let sf = StateFile {
            name: self.spec.name.clone(),
            monitor_pid: me,
            monitor_start: sys::proc_start_time(me).unwrap_or(0),
            init_pid,
            cgroup: cgroup.cloned(),
            host_links: host_links.to_vec(),
        };
        let tmp = self.runtime_dir.join(format!("{STATE_FILE}.tmp"));
        if let Ok(s) = serde_json::to_vec_pretty(&sf) {
            if std::fs::write(&tmp, s).is_ok() {
                let _ = std::fs::rename(&tmp, self.runtime_dir.join(STATE_FILE));
            }
        }
    }

    fn remove_runtime_files(&self) {
        let _ = std::fs::remove_file(self.runtime_dir.join(SOCKET));
        let _ = std::fs::remove_file(self.runtime_dir.join(STATE_FILE));
        let _ = std::fs::remove_file(self.runtime_dir.join(format!("{STATE_FILE}.tmp")));
        let _ = std::fs::remove_dir(&self.runtime_dir);
        // the per-lxcpath directory goes with its last running container
        if let Some(parent) = self.runtime_dir.parent() {
            let _ = std::fs::remove_dir(parent);
        }
    }

    /// Steps 2-4 of the start sequence: cgroup, clone, sync with the child until exec.
    fn launch_run(&mut self) -> Result<()> {
        let spec = &self.spec;
        let net_plans = &self.net_plans;
        let name = spec.name.clone();
        let cg_name = format!("hako.payload.{name}");
        sys::timing("monitor: create cgroup");
        let cgroup = Cgroup::create(&self.host, &cg_name, std::process::id() as i32, spec.cgroup_dir.as_deref())?;
        sys::timing("monitor: cgroup created");
        // From here on, failures must remove the cgroup.
        let mut run_cg = Some(cgroup);
        let mut exec_error = None;
        let res = (|| -> Result<Run> {
            let cg = run_cg.as_ref().unwrap();
            let (rules, prog) = apply_limits(&self.host, cg, spec)?;
            self.write_state_file(None, Some(cg), &[]);

            sys::timing("monitor: limits applied");
            let (mon_end, child_end) = sync::pair().ctx(|| "socketpair".into())?;
            let mut flags = CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWUTS | CloneFlags::CLONE_NEWIPC;
            if spec.new_netns() {
                flags |= CloneFlags::CLONE_NEWNET;
            }
            // Born in its v2 cgroup (CLONE_INTO_CGROUP: no migration at all); the child
            // joins the v1 hierarchies itself.
            let v2_fd = cg.unified_path().and_then(|p| {
                nix::fcntl::open(p, nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC, nix::sys::stat::Mode::empty())
                    .ok()
                    // SAFETY: a fresh fd we own.
                    .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) })
            });
            let mut in_v2 = v2_fd.is_some();
            let forked = match sys::clone3(flags.bits() as u64, v2_fd.as_ref().map(|f| f.as_raw_fd())) {
                Err(_) if in_v2 => {
                    in_v2 = false;
                    sys::clone3(flags.bits() as u64, None)
                }
                r => r,
            }
            .ctx(|| format!("container \"{name}\": cannot create the container's namespaces (clone3)"))?;
            drop(v2_fd);
            sys::timing("monitor: cloned");
            let (pid, pidfd) = match forked {
                Forked::Child => {
                    drop(mon_end);
                    let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
                    child::run(ChildCtx {
                        spec,
                        host: &self.host,
                        plan: self.plan.clone(),
                        sync: &child_end,
                        cgroup: cg,
                        in_v2,
                    });
                }
                Forked::Parent { pid, pidfd } => (pid, pidfd),
            };
            drop(child_end);
            let mnt_ns = std::fs::File::open(format!("/proc/{pid}/ns/mnt")).ok().map(OwnedFd::from);
            let mut run = Run {
                mnt_ns,
                net: None,
                pid,
                pidfd,
                cgroup: cg.clone(),
                console: None,
                ttys: Vec::new(),
                device_rules: rules,
                device_prog: prog,
            };
            let fail = |run: &mut Run, e: RuntimeError| -> RuntimeError {
                let _ = sys::pidfd_send_signal(run.pidfd.as_fd(), libc::SIGKILL);
                let _ = waitpid(Pid::from_raw(run.pid), None);
                if let Some((st, ns)) = run.net.take() {
                    crate::net::teardown_state(&spec.name, &spec.config_path.display().to_string(), net_plans, &st, ns.as_ref());
                }
                e
            };
            if crate::net::needs_setup(net_plans) {
                let ns = std::fs::File::open(format!("/proc/{pid}/ns/net")).ok().map(OwnedFd::from);
                match (self.net_setup)(spec, net_plans, pid) {
                    Ok(st) => {
                        self.write_state_file(None, Some(cg), &st.host_links);
                        run.net = Some((st, ns));
                    }
                    Err(e) => return Err(fail(&mut run, e)),
                }
            }
            // if the child already failed, its ERR message is waiting: read it below
            sys::timing("monitor: net done, GO");
            let _ = mon_end.send("GO");
            loop {
                match mon_end.recv() {
                    Ok(None) => break,
                    Ok(Some(m)) => {
                        if let Some(rest) = m.text.strip_prefix("PTYS ") {
                            let mut it = rest.split(' ');
                            let has_console = it.next() == Some("1");
                            let mut fds = m.fds.into_iter();
                            if has_console {
                                run.console = fds.next();
                            }
                            run.ttys = fds.collect();
                        } else if let Some(e) = m.text.strip_prefix("ERR ") {
                            return Err(fail(&mut run, RuntimeError::msg(e.to_string())));
                        } else if let Some(e) = m.text.strip_prefix("EXECERR ") {
                            exec_error = Some(e.to_string());
                        }
                    }
                    Err(e) => return Err(fail(&mut run, crate::error::sys_err("sync with the container's init", e))),
                }
            }
            sys::timing("monitor: init exec'd");
            for fd in run.console.iter().chain(run.ttys.iter()) {
                set_nonblocking(fd.as_raw_fd());
            }
            Ok(run)
        })();
        if exec_error.is_some() {
            self.exec_error = exec_error;
        }
        match res {
            Ok(run) => {
                self.run = Some(run);
                Ok(())
            }
            Err(e) => {
                if let Some(cg) = run_cg.take() {
                    let _ = cg.kill_all();
                    let _ = cg.remove();
                }
                Err(e)
            }
        }
    }

    fn setup_terminal(&mut self) {
        use nix::sys::termios;
        let stdin = std::io::stdin();
        if nix::unistd::isatty(0).unwrap_or(false) {
            if let Ok(t) = termios::tcgetattr(stdin.as_fd()) {
                let mut raw = t.clone();
                termios::cfmakeraw(&mut raw);
                let _ = termios::tcsetattr(stdin.as_fd(), termios::SetArg::TCSANOW, &raw);
                self.saved_termios = Some(t);
            }
            self.sync_winsize();
        }
        set_nonblocking(0);
    }

    fn restore_terminal(&mut self) {
        if let Some(t) = self.saved_termios.take() {
            let _ = nix::sys::termios::tcsetattr(std::io::stdin().as_fd(), nix::sys::termios::SetArg::TCSANOW, &t);
        }
    }

    fn sync_winsize(&self) {
        if let (Some(ws), Some(run)) = (sys::get_winsize(0), &self.run) {
            if let Some(c) = &run.console {
                sys::set_winsize(c.as_raw_fd(), &ws);
            }
        }
    }

    fn set_state(&mut self, s: &'static str) {
        self.state = s;
        let r = Response::ok().with_state(s);
        for c in self.clients.iter_mut().filter(|c| c.mode == ClientMode::Events) {
            c.send_line(&r);
        }
        if s == "RUNNING" {
            let pid = self.run.as_ref().map(|r| r.pid);
            for c in self.clients.iter_mut().filter(|c| c.waits_reboot) {
                c.waits_reboot = false;
                let mut resp = Response::ok().with_state(s);
                resp.init_pid = pid;
                c.send_line(&resp);
            }
        }
    }

    /// The event loop. Returns the exit code of the container's init.
    fn run(&mut self) -> i32 {
        sys::trim_memory();
        loop {
            if let Some(code) = self.exit_code {
                self.finish();
                return code;
            }
            self.poll_once();
        }
    }

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
            fds.push(libc::pollfd { fd, events: ev, revents: 0 });
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
                if self.clients.iter().any(|c| c.mode == ClientMode::Console(tty)) {
                    add(t.as_raw_fd(), libc::POLLIN, Tag::Tty(i));
                }
            }
        }
        if self.stdin_open {
            add(0, libc::POLLIN, Tag::Stdin);
        }
        for (i, c) in self.clients.iter().enumerate() {
            let mut ev = libc::POLLIN;
            if !c.out.is_empty() {
                ev |= libc::POLLOUT;
            }
            add(c.stream.as_raw_fd(), ev, Tag::Client(i));
        }
        let timeout_ms: i32 = match self.stop.as_ref().and_then(|s| if s.killed { None } else { s.deadline }) {
            Some(d) => d.saturating_duration_since(Instant::now()).as_millis().min(i32::MAX as u128) as i32,
            None => -1,
        };
        // SAFETY: fds is a valid array of pollfd of the length we pass.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
        if n < 0 {
            return;
        }
        if n == 0 {
            self.check_deadline();
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
    }

    fn accept_clients(&mut self) {
        loop {
            match self.listener.accept() {
                Ok((s, _)) => {
                    let _ = s.set_nonblocking(true);
                    self.clients.push(Client {
                        stream: s,
                        inbuf: Vec::new(),
                        out: VecDeque::new(),
                        mode: ClientMode::Requests,
                        waits_stop: false,
                        waits_reboot: false,
                        closing: false,
                        dead: false,
                    });
                }
                Err(_) => return,
            }
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
                    if self.mode == LaunchMode::Execute {
                        // forward to the application (terminal signals already reached it)
                        let from_kernel = si.ssi_code == 0x80;
                        if !(from_kernel && matches!(sig, libc::SIGINT | libc::SIGQUIT)) {
                            if let Some(run) = &self.run {
                                let _ = sys::pidfd_send_signal(run.pidfd.as_fd(), sig);
                            }
                        }
                    } else if sig != libc::SIGHUP || self.mode == LaunchMode::Foreground {
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
            Err(_) => {}
        }
    }

    fn init_exited(&mut self, ws: WaitStatus) {
        sys::timing("monitor: init exited");
        self.pump_console();
        let code = match ws {
            WaitStatus::Exited(_, c) => c,
            WaitStatus::Signaled(_, s, _) => 128 + s as i32,
            _ => 0,
        };
        // reboot(2) in a pid namespace kills init with SIGHUP for a restart
        let reboot = self.reboot_pending
            || (self.stop.is_none() && matches!(ws, WaitStatus::Signaled(_, Signal::SIGHUP, _)));
        self.teardown_run();
        if reboot && self.stop.is_none() && self.mode != LaunchMode::Execute {
            self.reboot_pending = false;
            self.set_state("STARTING");
            match self.launch_run() {
                Ok(()) => {
                    self.set_state("RUNNING");
                    return;
                }
                Err(e) => {
                    eprintln!("hako monitor: container \"{}\": restart failed: {e}", self.spec.name);
                    let msg = Response::err(format!("reboot of \"{}\" failed: {e}", self.spec.name));
                    for c in self.clients.iter_mut().filter(|c| c.waits_reboot) {
                        c.send_line(&msg);
                    }
                }
            }
        }
        self.exit_code = Some(code);
    }

    /// Kill what is left, remove the cgroup, close the ptys.
    fn teardown_run(&mut self) {
        if let Some(mut run) = self.run.take() {
            if let Some(ns) = run.mnt_ns.take() {
                self.held_ns.push(ns);
            }
            let _ = run.cgroup.thaw();
            let _ = run.cgroup.kill_all();
            if let Some((st, ns)) = run.net.take() {
                crate::net::teardown_state(&self.spec.name, &self.spec.config_path.display().to_string(), &self.net_plans, &st, ns.as_ref());
            }
            sys::timing("monitor: killed all");
            if let Err(e) = run.cgroup.remove() {
                eprintln!("hako monitor: {e}");
            }
            sys::timing("monitor: cgroup removed");
            drop(run);
        }
        for c in self.clients.iter_mut() {
            if matches!(c.mode, ClientMode::Console(_)) {
                c.closing = true;
            }
        }
    }

    /// Final steps before the monitor exits: runtime files, STOPPED to everyone.
    fn finish(&mut self) {
        sys::timing("monitor: finish");
        self.restore_terminal();
        if let Some(e) = &self.exec_error {
            eprintln!("{e}");
        }
        self.remove_runtime_files();
        if let Some(p) = &self.pidfile {
            let _ = std::fs::remove_file(p);
        }
        self.set_state("STOPPED");
        let stopped = Response::ok().with_state("STOPPED");
        let code = self.exit_code;
        for c in self.clients.iter_mut() {
            if c.waits_stop {
                let mut r = stopped.clone();
                r.exit_status = code;
                c.send_line(&r);
            }
            if c.waits_reboot {
                c.send_line(&Response::err(format!("container \"{}\" stopped instead of rebooting", self.spec.name)));
            }
            c.flush_all();
        }
        self.clients.clear();
        sys::timing("monitor: replied");
        self.held_ns.clear();
    }

    fn halt_signal(&self, pid: i32) -> i32 {
        if let Some(s) = self.spec.halt_signal {
            return s;
        }
        // systemd blocks SIGRTMIN+3 and handles it through a signalfd: that is its halt
        let rtmin3 = libc::SIGRTMIN() + 3;
        match sys::sig_blocked(pid) {
            Some(mask) if mask & (1u64 << (rtmin3 - 1)) != 0 => rtmin3,
            _ => libc::SIGPWR,
        }
    }

    fn begin_stop(&mut self, timeout: Option<i64>, kill: bool) {
        let Some(run) = &self.run else { return };
        let timeout = timeout.unwrap_or(60);
        if self.state == "FROZEN" || self.state == "FREEZING" {
            let _ = run.cgroup.thaw();
        }
        if kill || timeout == 0 {
            self.kill_now();
            return;
        }
        let deadline = if timeout < 0 { None } else { Some(Instant::now() + Duration::from_secs(timeout as u64)) };
        if let Some(s) = &mut self.stop {
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
        let _ = sys::pidfd_send_signal(run.pidfd.as_fd(), sig);
        self.stop = Some(StopReq { deadline, killed: false });
        self.set_state("STOPPING");
    }

    /// A stop without a deadline (`stop --nokill`) whose last waiter gave up: the
    /// container did not shut down and keeps running.
    fn maybe_cancel_stop(&mut self) {
        let waiting = self.clients.iter().any(|c| c.waits_stop && !c.dead);
        if let Some(s) = &self.stop {
            if !s.killed && s.deadline.is_none() && !waiting && self.run.is_some() {
                self.stop = None;
                self.set_state("RUNNING");
            }
        }
    }

    fn kill_now(&mut self) {
        sys::timing("monitor: kill");
        // SIGKILL to the pid namespace's init takes every process of the container with it
        // (attached commands join that namespace too); whatever might remain in the cgroup
        // is killed at teardown, once init has been reaped.
        if let Some(run) = &self.run {
            let _ = sys::pidfd_send_signal(run.pidfd.as_fd(), libc::SIGKILL);
        }
        self.stop = Some(StopReq { deadline: None, killed: true });
        if self.state != "STOPPING" {
            self.set_state("STOPPING");
        }
    }

    fn check_deadline(&mut self) {
        if let Some(s) = &self.stop {
            if !s.killed && s.deadline.map(|d| Instant::now() >= d).unwrap_or(false) {
                self.kill_now();
            }
        }
    }

    fn pump_console(&mut self) {
        let Some(fd) = self.run.as_ref().and_then(|r| r.console.as_ref()).map(|c| c.as_raw_fd()) else { return };
        let mut buf = [0u8; 16384];
        loop {
            let n = match nix::unistd::read(fd, &mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            let data = &buf[..n];
            if let Some(log) = &mut self.console_log {
                let _ = log.write_all(data);
            }
            if let Some(f) = &mut self.console_out {
                let _ = f.write_all(data);
            } else if self.mode == LaunchMode::Foreground {
                write_all_fd(1, data);
            }
            for c in self.clients.iter_mut().filter(|c| c.mode == ClientMode::Console(0)) {
                c.send_raw(data);
            }
        }
    }

    fn pump_tty(&mut self, i: usize) {
        let Some(fd) = self.run.as_ref().and_then(|r| r.ttys.get(i)).map(|t| t.as_raw_fd()) else { return };
        let tty = i as u32 + 1;
        let mut buf = [0u8; 16384];
        loop {
            let n = match nix::unistd::read(fd, &mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            for c in self.clients.iter_mut().filter(|c| c.mode == ClientMode::Console(tty)) {
                c.send_raw(&buf[..n]);
            }
        }
    }

    fn pump_stdin(&mut self) {
        let mut buf = [0u8; 4096];
        match nix::unistd::read(0, &mut buf) {
            Ok(0) => self.stdin_open = false,
            Ok(n) => {
                if let Some(c) = self.run.as_ref().and_then(|r| r.console.as_ref()) {
                    write_all_fd(c.as_raw_fd(), &buf[..n]);
                }
            }
            Err(nix::errno::Errno::EAGAIN) | Err(nix::errno::Errno::EINTR) => {}
            Err(_) => self.stdin_open = false,
        }
    }

    fn tty_fd(&self, tty: u32) -> Option<RawFd> {
        let run = self.run.as_ref()?;
        if tty == 0 {
            run.console.as_ref().map(|c| c.as_raw_fd())
        } else {
            run.ttys.get(tty as usize - 1).map(|t| t.as_raw_fd())
        }
    }

    fn read_client(&mut self, i: usize) {
        let mut buf = [0u8; 8192];
        loop {
            let n = match self.clients[i].stream.read(&mut buf) {
                Ok(0) => {
                    // the client hung up; stop/reboot waiters just go away
                    self.clients[i].dead = true;
                    return;
                }
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    self.clients[i].dead = true;
                    return;
                }
            };
            match self.clients[i].mode {
                ClientMode::Console(tty) => {
                    if let Some(fd) = self.tty_fd(tty) {
                        write_all_fd(fd, &buf[..n]);
                    }
                }
                ClientMode::Events => {}
                ClientMode::Requests => {
                    self.clients[i].inbuf.extend_from_slice(&buf[..n]);
                    while let Some(pos) = self.clients[i].inbuf.iter().position(|b| *b == b'\n') {
                        let line: Vec<u8> = self.clients[i].inbuf.drain(..=pos).collect();
                        let rest_is_raw = self.handle_request(i, &line);
                        if rest_is_raw {
                            // bytes after a console request are console input
                            let rest: Vec<u8> = std::mem::take(&mut self.clients[i].inbuf);
                            if let ClientMode::Console(tty) = self.clients[i].mode {
                                if let Some(fd) = self.tty_fd(tty) {
                                    write_all_fd(fd, &rest);
                                }
                            }
                            break;
                        }
                    }
                }
            }
        }
    }

    /// Returns true when the connection switched to raw console mode.
    fn handle_request(&mut self, i: usize, line: &[u8]) -> bool {
        let req: Request = match serde_json::from_slice(line) {
            Ok(r) => r,
            Err(e) => {
                self.clients[i].send_line(&Response::err(format!("bad request: {e}")));
                return false;
            }
        };
        let name = self.spec.name.clone();
        let pid = self.run.as_ref().map(|r| r.pid);
        match req {
            Request::State => {
                let mut r = Response::ok().with_state(self.state);
                r.init_pid = pid;
                self.clients[i].send_line(&r);
            }
            Request::Info => {
                let mut r = Response::ok().with_state(self.state);
                r.init_pid = pid;
                if let Some(run) = &self.run {
                    let s = run.cgroup.stats();
                    r.stats = Some(StatsReply {
                        memory_bytes: s.memory_bytes,
                        kmem_bytes: s.kmem_bytes,
                        cpu_ns: s.cpu_ns,
                        pids: s.pids,
                        blkio_bytes: s.blkio_bytes,
                    });
                    r.cgroup_paths = run.cgroup.paths().iter().map(|p| p.display().to_string()).collect();
                    r.net_links = self
                        .net_plans
                        .iter()
                        .filter(|p| !p.name.is_empty())
                        .map(|p| (p.name.clone(), p.host_name.clone().or(p.link.clone())))
                        .collect();
                }
                self.clients[i].send_line(&r);
            }
            Request::Stop { timeout, kill } => {
                if self.run.is_none() {
                    self.clients[i].send_line(&Response::err(format!("container \"{name}\" is not running")));
                } else {
                    self.clients[i].waits_stop = true;
                    self.begin_stop(timeout, kill);
                }
            }
            Request::Reboot => {
                if let Some(run) = &self.run {
                    if self.mode == LaunchMode::Execute {
                        self.clients[i].send_line(&Response::err(format!(
                            "container \"{name}\" runs an application (hako execute) and cannot be rebooted"
                        )));
                    } else {
                        let _ = run.cgroup.thaw();
                        let _ = sys::pidfd_send_signal(run.pidfd.as_fd(), self.spec.reboot_signal);
                        self.reboot_pending = true;
                        self.clients[i].waits_reboot = true;
                    }
                }
            }
            Request::Freeze => {
                let r = match &self.run {
                    None => Response::err(format!("container \"{name}\" is not running")),
                    Some(_) if self.state == "FROZEN" => Response::ok().with_state("FROZEN"),
                    Some(_) => {
                        self.set_state("FREEZING");
                        match self.run.as_ref().unwrap().cgroup.freeze() {
                            Ok(()) => {
                                self.set_state("FROZEN");
                                Response::ok().with_state("FROZEN")
                            }
                            Err(e) => {
                                let _ = self.run.as_ref().unwrap().cgroup.thaw();
                                self.set_state("RUNNING");
                                Response::err(format!("cannot freeze container \"{name}\": {e}"))
                            }
                        }
                    }
                };
                self.clients[i].send_line(&r);
            }
            Request::Thaw => {
                let r = match &self.run {
                    None => Response::err(format!("container \"{name}\" is not running")),
                    Some(run) => match run.cgroup.thaw() {
                        Ok(()) => {
                            if self.state == "FROZEN" || self.state == "FREEZING" {
                                self.set_state("THAWED");
                                self.set_state("RUNNING");
                            }
                            Response::ok().with_state(self.state)
                        }
                        Err(e) => Response::err(format!("cannot thaw container \"{name}\": {e}")),
                    },
                };
                self.clients[i].send_line(&r);
            }
            Request::CgroupGet { key } => {
                let r = self.cgroup_get(&key);
                self.clients[i].send_line(&r);
            }
            Request::CgroupSet { key, value } => {
                let r = self.cgroup_set(&key, &value);
                self.clients[i].send_line(&r);
            }
            Request::Console { tty } => {
                let busy = self.clients.iter().any(|c| c.mode == ClientMode::Console(tty));
                let r = if self.tty_fd(tty).is_none() {
                    let n = self.run.as_ref().map(|r| r.ttys.len()).unwrap_or(0);
                    Response::err(if tty == 0 {
                        format!("container \"{name}\" has no console (lxc.console.path = none)")
                    } else {
                        format!("container \"{name}\" has no tty {tty} (it has {n}; set lxc.tty.max)")
                    })
                } else if busy {
                    Response::err(format!(
                        "tty {tty} of container \"{name}\" is in use by another console client; detach it first or pick another with -t"
                    ))
                } else {
                    Response::ok()
                };
                let ok = r.ok;
                self.clients[i].send_line(&r);
                if ok {
                    self.clients[i].mode = ClientMode::Console(tty);
                    return true;
                }
            }
            Request::Events => {
                self.clients[i].send_line(&Response::ok().with_state(self.state));
                self.clients[i].mode = ClientMode::Events;
            }
            Request::Pidfd => {
                let r = match &self.run {
                    None => Response::err(format!("container \"{name}\" is not running")),
                    Some(run) => {
                        let mut r = Response::ok().with_state(self.state);
                        r.init_pid = Some(run.pid);
                        r.cgroup_paths = run.cgroup.paths().iter().map(|p| p.display().to_string()).collect();
                        let mut line = serde_json::to_vec(&r).unwrap_or_default();
                        line.push(b'\n');
                        // flush what is queued, then send this line with the fd attached
                        self.clients[i].flush_all();
                        let _ = send_with_fd(&self.clients[i].stream, &line, run.pidfd.as_raw_fd());
                        let _ = self.clients[i].stream.set_nonblocking(true);
                        return false;
                    }
                };
                self.clients[i].send_line(&r);
            }
        }
        false
    }

    fn devices_on_v2(&self) -> bool {
        self.host.v1_for("devices").is_none()
    }

    fn cgroup_get(&self, key: &str) -> Response {
        let name = &self.spec.name;
        let Some(run) = &self.run else { return Response::err(format!("container \"{name}\" is not running")) };
        if key == "devices.list" && self.devices_on_v2() {
            let mut r = Response::ok();
            r.value = Some(hako_cgroups::render_devices_list(&run.device_rules));
            return r;
        }
        match run.cgroup.get(key, KeyKind::Auto) {
            Ok(v) => {
                let mut r = Response::ok();
                r.value = Some(v);
                r
            }
            Err(e) => Response::err(e.to_string()),
        }
    }

    fn cgroup_set(&mut self, key: &str, value: &str) -> Response {
        let name = self.spec.name.clone();
        let on_v2 = self.devices_on_v2();
        let Some(run) = &mut self.run else { return Response::err(format!("container \"{name}\" is not running")) };
        if on_v2 && (key == "devices.allow" || key == "devices.deny") {
            let rule = match DeviceRule::parse(key == "devices.allow", value) {
                Ok(r) => r,
                Err(e) => return Response::err(e.to_string()),
            };
            let mut rules = run.device_rules.clone();
            if rule.kind == 'a' {
                rules.clear();
            }
            rules.push(rule);
            return match run.cgroup.apply_devices(&rules, run.device_prog.take()) {
                Ok(p) => {
                    run.device_prog = p;
                    run.device_rules = rules;
                    Response::ok()
                }
                Err(e) => Response::err(e.to_string()),
            };
        }
        match run.cgroup.set(key, value, KeyKind::Auto) {
            Ok(()) => Response::ok(),
            Err(e) => Response::err(e.to_string()),
        }
    }
}

/// Apply lxc.cgroup.* / lxc.cgroup2.* and the device policy at start.
fn apply_limits(host: &Host, cg: &Cgroup, spec: &ContainerSpec) -> Result<(Vec<DeviceRule>, Option<OwnedFd>)> {
    let name = &spec.name;
    let has_v1 = host.hierarchies.iter().any(|h| h.version == 1);
    let has_v2 = host.unified().is_some();
    if has_v1 {
        for (k, v) in &spec.cgroup_v1 {
            cg.set(k, v, KeyKind::V1).map_err(|e| {
                RuntimeError::msg(format!("container \"{name}\": cannot apply lxc.cgroup.{k} = {v}: {e}"))
            })?;
        }
    }
    if has_v2 {
        for (k, v) in &spec.cgroup_v2 {
            cg.set(k, v, KeyKind::V2).map_err(|e| {
                RuntimeError::msg(format!("container \"{name}\": cannot apply lxc.cgroup2.{k} = {v}: {e}"))
            })?;
        }
    }
    let v1_devices = host.v1_for("devices").is_some();
    let mut rules = hako_cgroups::default_device_rules();
    let extra = if v1_devices { &spec.devices_v1 } else { &spec.devices_v2 };
    for (allow, r) in extra {
        let rule = DeviceRule::parse(*allow, r).map_err(|e| {
            RuntimeError::msg(format!(
                "container \"{name}\": bad device rule \"{r}\" in lxc.cgroup{}.devices.{}: {e}",
                if v1_devices { "" } else { "2" },
                if *allow { "allow" } else { "deny" }
            ))
        })?;
        if rule.kind == 'a' && !rule.allow {
            rules.clear();
        }
        rules.push(rule);
    }
    if !v1_devices && !has_v2 {
        return Ok((rules, None));
    }
    let prog = cg.apply_devices(&rules, None).map_err(|e| {
        RuntimeError::msg(format!("container \"{name}\": cannot apply the device policy: {e}"))
    })?;
    Ok((rules, prog))
}

fn set_nonblocking(fd: RawFd) {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    if let Ok(fl) = fcntl(fd, FcntlArg::F_GETFL) {
        let _ = fcntl(fd, FcntlArg::F_SETFL(OFlag::from_bits_truncate(fl) | OFlag::O_NONBLOCK));
    }
}

/// Write everything, waiting briefly when a non-blocking fd is full.
fn write_all_fd(fd: RawFd, mut data: &[u8]) {
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
                let mut p = [libc::pollfd { fd, events: libc::POLLOUT, revents: 0 }];
                // SAFETY: valid pollfd array.
                unsafe { libc::poll(p.as_mut_ptr(), 1, 10) };
            }
            Err(_) => return,
        }
    }
}

fn send_with_fd(stream: &UnixStream, data: &[u8], fd: RawFd) -> nix::Result<()> {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
    let _ = stream.set_nonblocking(false);
    let iov = [std::io::IoSlice::new(data)];
    let fds = [fd];
    let cm = [ControlMessage::ScmRights(&fds)];
    sendmsg::<()>(stream.as_raw_fd(), &iov, &cm, MsgFlags::MSG_NOSIGNAL, None).map(|_| ())
}

/// errno text helper re-exported for the client side.
pub fn describe(e: nix::errno::Errno) -> String {
    errno_text(e)
}

impl Drop for Monitor<'_> {
    fn drop(&mut self) {
        self.restore_terminal();
    }
}
