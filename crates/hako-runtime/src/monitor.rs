//! The monitor: one small single-threaded process per running container. It creates the
//! cgroup, clones the container's init, holds its console, serves the control socket,
//! reaps init and cleans up. No monitor reachable means the container is STOPPED.
//!
//! A daemon monitor lives in two program images ("exec after RUNNING"):
//!
//! 1. `hako start` forks it; still the `hako` image, it runs the whole start sequence
//!    (cgroup, clone, network, child set-up) and reports RUNNING to `hako start`;
//! 2. then it execs the small `hako-monitor` program, handing its state over in a memfd
//!    (the listening socket, init's pidfd, the console and tty masters, namespaces, the
//!    cgroup, the device program, the clients, ...: fds are inherited, the rest is
//!    encoded, see [`Monitor::encode`]). Clients that connect meanwhile wait in the
//!    listener's backlog. The resident monitor thus costs the host only the pages of a
//!    program that serves requests and tears down, not those of the start code.
//!
//! What only the `hako` image can do, the small monitor gets back by exec'ing `hako`
//! (kept open as an O_PATH fd, so it is the very build that wrote the hand-over):
//! a reboot (init asked for one, or `stop -r`) re-enters `hako` with the whole state,
//! which starts the new run and hands over again; undoing `script.down` hooks and DNS
//! names runs `hako` as a short-lived helper. Both read the launch options the first
//! image left in a memfd the small monitor holds without reading it.

use std::collections::VecDeque;
use std::ffi::CString;
use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hako_cgroups::{Cgroup, CgroupDir, DeviceRule, Host, KeyKind, Mode};
use nix::sched::CloneFlags;
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::child::{self, ChildCtx};
use crate::error::{errno_text, Context, Result, RuntimeError};
use crate::mounts::AutoPlan;
use crate::net::{IfacePlan, NetState};
use crate::nl::LinkRelease;
use crate::protocol::{Request, Response, StateFile, StatsReply};
use crate::spec::ContainerSpec;
use crate::sync::{self, Channel, Msg};
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
    pub net: Vec<IfacePlan>,
    /// the container's cgroup (its directory name in every hierarchy), unique per lxcpath
    /// and container (hako-store's `Store::payload_cgroup`)
    pub cgroup_name: String,
}

/// Start a container. Daemon: returns init's pid once RUNNING. Foreground/Execute: runs
/// the monitor here and returns the exit code when the container stops. `started` runs
/// once the container is RUNNING (before a foreground monitor enters its loop), e.g. to
/// release the container lock. The network is built by the monitor with hako-net.
pub fn launch(opts: LaunchOptions, started: &dyn Fn()) -> Result<i32> {
    match opts.mode {
        LaunchMode::Daemon => {
            let r = launch_daemon(opts);
            started();
            r
        }
        _ => {
            let mut m = Monitor::new(&opts)?;
            m.launcher = Some(Box::new(Launcher { opts }));
            m.start_first()?;
            started();
            Ok(m.run())
        }
    }
}

fn launch_daemon(opts: LaunchOptions) -> Result<i32> {
    sys::timing("cli: fork monitor");
    let name = opts.spec.name.clone();
    let (mine, theirs) = sync::pair().ctx(|| "socketpair".into())?;
    // One fork, no double fork: the caller is the hako program, which exits as soon as the
    // start is reported, and the monitor passes to the init process (or subreaper) then. A
    // second fork would cost every start ~0.1 ms on its critical path.
    // SAFETY: this process is single-threaded (the CLI starts no threads).
    match unsafe { nix::unistd::fork() }
        .ctx(|| format!("container \"{name}\": cannot fork the monitor"))?
    {
        nix::unistd::ForkResult::Child => {
            drop(mine);
            let _ = nix::unistd::setsid();
            sys::timing("monitor: forked");
            if !opts.spec.hooks.is_empty() {
                // hooks' output goes to the stderr of `hako start` until it is answered
                crate::hooks::keep_output();
            }
            redirect_stdio(opts.log_file.as_deref());
            let code = daemon_monitor(opts, theirs);
            // SAFETY: end of the monitor process.
            unsafe { libc::_exit(code) }
        }
        nix::unistd::ForkResult::Parent { .. } => {
            drop(theirs);
            match mine.recv() {
                Ok(Some(r)) => match r.msg {
                    Msg::Started(pid) => Ok(pid),
                    // the monitor removed what it had made before it reported
                    Msg::Error(e) => Err(RuntimeError::msg(e)),
                    other => Err(RuntimeError::msg(format!(
                        "container \"{name}\": unexpected report from the monitor: {other:?}; hako and hako-monitor are from different builds, reinstall hako"
                    ))),
                },
                Ok(None) | Err(_) => Err(RuntimeError::msg(format!(
                    "container \"{name}\": the monitor died during start without a report; run \"hako start -F {name}\" or pass -o LOGFILE -l DEBUG to see why"
                ))),
            }
        }
    }
}

/// The forked daemon monitor, still in the `hako` image: start, report, hand over.
fn daemon_monitor(opts: LaunchOptions, ready: Channel) -> i32 {
    let mut m = match Monitor::new(&opts) {
        Ok(m) => m,
        Err(e) => {
            let _ = ready.send(&Msg::Error(e.to_string()));
            return 1;
        }
    };
    m.ready = Some(ready);
    m.launcher = Some(Box::new(Launcher { opts }));
    match m.start_first() {
        Ok(()) => m.serve(true),
        Err(e) => {
            m.report_ready(Err(&e.to_string()));
            1
        }
    }
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
const NETDOWN_ARG: &str = "__hako-monitor-netdown";

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
                exec_resume(&exe, fd, "", true);
            }
            eprintln!("hako-monitor: {e}; install hako and hako-monitor from the same build");
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
            let s = &l.opts.spec;
            crate::net::teardown_state(
                &s.name,
                &s.config_path.display().to_string(),
                &l.opts.net,
                &NetState::default(),
                None,
                None,
            );
            0
        }
        Err(e) => {
            eprintln!("hako monitor: {e}");
            1
        }
    }
}

fn redirect_stdio(log: Option<&Path>) {
    if let Ok(null) = nix::fcntl::open(
        "/dev/null",
        nix::fcntl::OFlag::O_RDWR,
        nix::sys::stat::Mode::empty(),
    ) {
        let _ = nix::unistd::dup2(null, 0);
        let _ = nix::unistd::dup2(null, 1);
        let err = log
            .and_then(|p| {
                nix::fcntl::open(
                    p,
                    nix::fcntl::OFlag::O_WRONLY
                        | nix::fcntl::OFlag::O_APPEND
                        | nix::fcntl::OFlag::O_CREAT,
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

// ---------------------------------------------------------------------------------------
// The start sequence (only in the `hako` image)

/// What starting a run needs beyond the resident monitor: the whole spec, the host's
/// cgroup layout, the mount plan, the network plans. Reached through [`Launch`] only, so
/// the `hako-monitor` program, which never makes one, carries none of this code.
struct Launcher {
    opts: LaunchOptions,
}

trait Launch {
    /// Steps 2-4 of the start sequence: cgroup, clone, network, sync with the child
    /// until exec. Sets `m.run`.
    fn launch_run(&self, m: &mut Monitor) -> Result<()>;
    /// Undo the network of a run (init has been reaped; `ns` is its network namespace;
    /// `links`: the deletion of its host links, if begun already).
    fn net_teardown(&self, st: &NetState, ns: Option<OwnedFd>, links: Option<LinkRelease>);
    /// The launch options as a memfd, for the small monitor to hand back.
    fn blob(&self) -> Option<OwnedFd>;
}

impl Launcher {
    fn from_blob(fd: &OwnedFd) -> Result<Launcher> {
        let json = read_all_at(fd.as_raw_fd()).ctx(|| "cannot read the launch options".into())?;
        let opts = serde_json::from_slice(&json)
            .map_err(|e| RuntimeError::msg(format!("bad launch options ({e}); hako was replaced by a different build while the container ran")))?;
        Ok(Launcher { opts })
    }
}

impl Launch for Launcher {
    fn blob(&self) -> Option<OwnedFd> {
        let json = serde_json::to_vec(&self.opts).ok()?;
        memfd_with("hako-launch", &json)
    }

    fn net_teardown(&self, st: &NetState, ns: Option<OwnedFd>, links: Option<LinkRelease>) {
        let s = &self.opts.spec;
        crate::net::teardown_state(
            &s.name,
            &s.config_path.display().to_string(),
            &self.opts.net,
            st,
            ns,
            links,
        );
    }

    fn launch_run(&self, m: &mut Monitor) -> Result<()> {
        let spec = &self.opts.spec;
        let host = &self.opts.host;
        let net_plans = &self.opts.net;
        let name = spec.name.clone();
        // hooks (crate::hooks): their host programs are checked before anything is set
        // up, pre-start runs first; a start that fails after it runs the post-stop hooks
        let console_log = (!spec.hooks.is_empty()
            && spec.console
            && self.opts.mode != LaunchMode::Execute)
            .then(|| {
                self.opts
                    .console_log
                    .clone()
                    .or_else(|| spec.console_logfile.clone())
                    .unwrap_or_else(|| spec.lxcpath.join(&spec.name).join("console.log"))
            });
        let hooks = crate::hooks::Start::new(spec, console_log.as_deref())?;
        hooks.pre_start().map_err(|e| hooks.failed(e))?;
        sys::timing("monitor: create cgroup");
        let cgroup = Cgroup::create(
            host,
            &self.opts.cgroup_name,
            std::process::id() as i32,
            spec.cgroup_dir.as_deref(),
        )
        .map_err(|e| hooks.failed(e.into()))?;
        sys::timing("monitor: cgroup created");
        // From here on, failures must remove the cgroup.
        let mut exec_error = None;
        let mut hook_ns = Vec::new();
        let res = (|| -> Result<Run> {
            let cg = &cgroup;
            // lxc.apparmor.* / lxc.selinux.*: honoured (a generated profile is loaded now)
            // or the start fails naming the key
            let lsm = crate::lsm::prepare(
                &spec.lsm,
                &name,
                &spec.lxcpath.join(&name),
                &self.opts.runtime_dir,
                &spec.config_path,
            )?;
            // Limits and the device policy are in place before the child joins the cgroup:
            // on v1 the policy is written as "deny all, then allow each", and a child that
            // allocated its ptys meanwhile would see EPERM.
            let (device_rules, device_prog) = apply_limits(host, cg, spec)?;
            // init and the container's cgroup namespace root go one level down: the
            // limits and the device policy above stay out of the container's reach
            let inner = cg
                .create_child(&spec.cgroup_inner)
                .map_err(|e| RuntimeError::msg(format!("container \"{name}\": {e}")))?;
            sys::timing("monitor: limits applied");
            let (mon_end, child_end) = sync::pair().ctx(|| "socketpair".into())?;
            let cap_drop = spec.dropped_caps();
            let mut flags = CloneFlags::CLONE_NEWNS
                | CloneFlags::CLONE_NEWPID
                | CloneFlags::CLONE_NEWUTS
                | CloneFlags::CLONE_NEWIPC;
            if spec.new_netns() {
                flags |= CloneFlags::CLONE_NEWNET;
            }
            // Born in its v2 cgroup (CLONE_INTO_CGROUP: no migration at all); the child
            // joins the v1 hierarchies itself.
            let v2_fd = inner.unified_path().and_then(|p| {
                nix::fcntl::open(
                    p,
                    nix::fcntl::OFlag::O_DIRECTORY
                        | nix::fcntl::OFlag::O_RDONLY
                        | nix::fcntl::OFlag::O_CLOEXEC,
                    nix::sys::stat::Mode::empty(),
                )
                .ok()
                // SAFETY: a fresh fd we own.
                .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) })
            });
            let mut in_v2 = v2_fd.is_some();
            let forked =
                match sys::clone3(flags.bits() as u64, v2_fd.as_ref().map(|f| f.as_raw_fd())) {
                    Err(_) if in_v2 => {
                        in_v2 = false;
                        sys::clone3(flags.bits() as u64, None)
                    }
                    r => r,
                }
                .ctx(|| {
                    format!(
                        "container \"{name}\": cannot create the container's namespaces (clone3)"
                    )
                })?;
            drop(v2_fd);
            let (pid, pidfd) = match forked {
                Forked::Child => {
                    drop(mon_end);
                    let _ = nix::sys::signal::sigprocmask(
                        SigmaskHow::SIG_SETMASK,
                        Some(&SigSet::empty()),
                        None,
                    );
                    child::run(ChildCtx {
                        spec,
                        host,
                        plan: self.opts.plan.clone(),
                        sync: &child_end,
                        cgroup: &inner,
                        in_v2,
                        hook_env: &hooks.env,
                        exec_label: lsm.exec_label(),
                        cap_drop,
                    });
                }
                Forked::Parent { pid, pidfd } => (pid, pidfd),
            };
            sys::timing("monitor: cloned");
            drop(child_end);
            let mut run = Run {
                mnt_ns: None,
                net: None,
                pid,
                pidfd,
                cgroup: cg.clone().with_inner(&spec.cgroup_inner),
                console: None,
                ttys: Vec::new(),
                pty_peers: Vec::new(),
                device_rules,
                device_prog,
            };
            let fail = |run: &mut Run, e: RuntimeError| -> RuntimeError {
                let _ = sys::pidfd_send_signal(run.pidfd.as_fd(), libc::SIGKILL);
                let _ = waitpid(Pid::from_raw(run.pid), None);
                if let Some((st, ns)) = run.net.take() {
                    self.net_teardown(&st, ns, None);
                }
                e
            };
            // The child sets up its mounts meanwhile (and waits for "GO" before it runs
            // anything of the container's): the state file and the network happen in
            // parallel with it.
            run.mnt_ns = std::fs::File::open(format!("/proc/{pid}/ns/mnt"))
                .ok()
                .map(OwnedFd::from);
            if hooks.wants_namespaces() {
                hook_ns = crate::hooks::ns_of(pid, spec.new_netns());
            }
            if crate::net::needs_setup(net_plans) {
                let ns = std::fs::File::open(format!("/proc/{pid}/ns/net"))
                    .ok()
                    .map(OwnedFd::from);
                match crate::net::setup(
                    &spec.name,
                    &spec.config_path.display().to_string(),
                    net_plans,
                    pid,
                ) {
                    Ok(r) => run.net = Some((r.state(), ns)),
                    // a child that failed meanwhile (its network namespace went with it)
                    // said why: that is the cause to report
                    Err(e) => {
                        let e = early_child_error(&mon_end, &run.pidfd)
                            .map(RuntimeError::msg)
                            .unwrap_or(e);
                        return Err(fail(&mut run, e));
                    }
                }
            }
            let links = run
                .net
                .as_ref()
                .map(|(st, _)| st.host_links.clone())
                .unwrap_or_default();
            let dns: Vec<crate::net::DnsReg> =
                net_plans.iter().filter_map(|p| p.dns.clone()).collect();
            m.write_state_file(Some(pid), Some(cg), &links, &dns);
            // if the child already failed, its ERR message is waiting: read it below
            sys::timing("monitor: net done, GO");
            let _ = mon_end.send(&Msg::Go);
            // Started means: the child said it execs now, and then closed its end without
            // an error (close-on-exec). An end-of-file without that is a child that died.
            let mut exec_seen = false;
            loop {
                let got = match mon_end.recv() {
                    Ok(Some(r)) => r,
                    Ok(None) if exec_seen => break,
                    Ok(None) => {
                        let why = child_exit_text(run.pid);
                        return Err(fail(
                            &mut run,
                            RuntimeError::msg(format!(
                                "container \"{name}\": its init process ended during set-up without a report ({why}); run \"hako start -F {name}\" to watch the start"
                            )),
                        ));
                    }
                    Err(e) => {
                        return Err(fail(
                            &mut run,
                            crate::error::sys_err(
                                format!("container \"{name}\": sync with the container's init"),
                                e,
                            ),
                        ))
                    }
                };
                match got.msg {
                    Msg::Ptys {
                        console,
                        ttys,
                        peers: _,
                    } => {
                        let mut fds = got.fds.into_iter();
                        if console {
                            run.console = fds.next();
                        }
                        run.ttys = fds.by_ref().take(ttys as usize).collect();
                        run.pty_peers = fds.collect();
                    }
                    Msg::Error(e) => return Err(fail(&mut run, RuntimeError::msg(e))),
                    Msg::Exec => exec_seen = true,
                    Msg::ExecError(e) => exec_error = Some(e),
                    Msg::StartHost => {
                        if let Err(e) = hooks.start_host(run.pid) {
                            return Err(fail(&mut run, e));
                        }
                        let _ = mon_end.send(&Msg::Go);
                    }
                    other => {
                        return Err(fail(
                            &mut run,
                            RuntimeError::msg(format!(
                                "container \"{name}\": unexpected message from the container's init during start: {other:?}"
                            )),
                        ))
                    }
                }
            }
            sys::timing("monitor: init exec'd");
            for fd in run.console.iter().chain(run.ttys.iter()) {
                set_nonblocking(fd.as_raw_fd());
            }
            Ok(run)
        })();
        if exec_error.is_some() {
            m.exec_error = exec_error;
        }
        match res {
            Ok(run) => {
                m.hooks = hooks.for_run(run.pid, hook_ns);
                m.run = Some(run);
                Ok(())
            }
            Err(e) => {
                let _ = cgroup.kill_all();
                if cgroup.remove().is_ok() {
                    let _ = crate::lsm::release(&name, &self.opts.runtime_dir);
                }
                Err(hooks.failed(e))
            }
        }
    }
}

/// The error a container's first process reported before it exited, if it exits within a
/// moment (a step of the monitor's that failed because the child was already on its way
/// out — its namespaces gone — is not the cause). Only on an error path: a child that is
/// alive costs that moment.
fn early_child_error(sync: &Channel, pidfd: &OwnedFd) -> Option<String> {
    let mut p = [libc::pollfd {
        fd: pidfd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    }];
    // SAFETY: a valid pollfd array of one.
    if unsafe { libc::poll(p.as_mut_ptr(), 1, 200) } != 1 {
        return None;
    }
    // it has exited: whatever it sent is queued, then end-of-file
    while let Ok(Some(r)) = sync.recv() {
        if let Msg::Error(e) = r.msg {
            return Some(e);
        }
    }
    None
}

/// How the container's first process ended, for an error text (it has exited or is
/// about to: its end of the sync channel is closed).
fn child_exit_text(pid: i32) -> String {
    match waitpid(Pid::from_raw(pid), None) {
        Ok(WaitStatus::Exited(_, c)) => format!("exit status {c}"),
        Ok(WaitStatus::Signaled(_, s, _)) => format!("killed by {s}"),
        Ok(other) => format!("{other:?}"),
        Err(e) => format!("cannot wait for it: {}", errno_text(e)),
    }
}

/// Apply lxc.cgroup.* / lxc.cgroup2.* and the device policy at start.
fn apply_limits(
    host: &Host,
    cg: &Cgroup,
    spec: &ContainerSpec,
) -> Result<(Vec<DeviceRule>, Option<OwnedFd>)> {
    let name = &spec.name;
    let has_v1 = host.hierarchies.iter().any(|h| h.version == 1);
    let has_v2 = host.unified().is_some();
    if has_v1 {
        for (k, v) in &spec.cgroup_v1 {
            cg.set(k, v, KeyKind::V1).map_err(|e| {
                RuntimeError::msg(format!(
                    "container \"{name}\": cannot apply lxc.cgroup.{k} = {v}: {e}"
                ))
            })?;
        }
    }
    if has_v2 {
        for (k, v) in &spec.cgroup_v2 {
            cg.set(k, v, KeyKind::V2).map_err(|e| {
                RuntimeError::msg(format!(
                    "container \"{name}\": cannot apply lxc.cgroup2.{k} = {v}: {e}"
                ))
            })?;
        }
    }
    let v1_devices = host.v1_for("devices").is_some();
    let mut rules = hako_cgroups::default_device_rules();
    let extra = if v1_devices {
        &spec.devices_v1
    } else {
        &spec.devices_v2
    };
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
        RuntimeError::msg(format!(
            "container \"{name}\": cannot apply the device policy: {e}"
        ))
    })?;
    Ok((rules, prog))
}

// ---------------------------------------------------------------------------------------
// The resident monitor (both images)

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
    fn new(stream: UnixStream) -> Client {
        Client {
            stream,
            inbuf: Vec::new(),
            out: VecDeque::new(),
            mode: ClientMode::Requests,
            waits_stop: false,
            waits_reboot: false,
            closing: false,
            dead: false,
        }
    }
    fn send_line(&mut self, r: &Response) {
        self.out.extend(r.encode());
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
    net: Option<(NetState, Option<OwnedFd>)>,
    pid: i32,
    pidfd: OwnedFd,
    cgroup: Cgroup,
    console: Option<OwnedFd>,
    ttys: Vec<OwnedFd>,
    /// the slaves of the console and ttys, held open so the masters never hang up
    /// (see [`crate::mounts::Ptys`])
    pty_peers: Vec<OwnedFd>,
    device_rules: Vec<DeviceRule>,
    device_prog: Option<OwnedFd>,
}

struct StopReq {
    deadline: Option<Instant>,
    killed: bool,
}

/// A halt or reboot signal held back until the container's init takes it
/// ([`sys::init_takes_signal`]): right after a start, init may not have set up its
/// signal handling yet, and the kernel would drop the signal.
struct SignalWait {
    sig: i32,
    /// give up then: init does not handle this signal at all
    until: Instant,
    reboot: bool,
}

/// How long a halt or reboot signal waits for init to take it.
const SIGNAL_WAIT: Duration = Duration::from_secs(3);
/// How often the monitor looks again meanwhile.
const SIGNAL_RECHECK: Duration = Duration::from_millis(2);

/// Why a monitor image was entered with a hand-over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reason {
    /// serve the running container
    Serve,
    /// init exited with this status asking for a reboot: start a new run
    Reboot(i32),
}

pub struct Monitor {
    /// the start code, in the `hako` image only
    launcher: Option<Box<dyn Launch>>,
    name: String,
    halt_signal: Option<i32>,
    reboot_signal: i32,
    /// pure v2 devices: rules are an eBPF program, `devices.list` is rendered from them
    devices_on_v2: bool,
    /// what `info` reports per interface: (name inside, host-side link or bridge)
    net_links: Vec<(String, Option<String>)>,
    /// the network has script.down hooks to run (needs the hako program)
    net_helper: bool,
    /// DNS names to forget at stop: (run dir, managed network, host name)
    net_dns: Vec<(PathBuf, String, String, String)>,
    /// `stop -k`: the deletion of the run's host links, begun while init dies
    link_release: Option<LinkRelease>,
    /// `lxc.ephemeral = 1`: the lxcpath to destroy the container from once it has stopped
    ephemeral: Option<PathBuf>,
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
    /// a halt or reboot signal not sent yet (never set across a hand-over: that waits
    /// while a stop or reboot is pending)
    signal_wait: Option<SignalWait>,
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
    /// daemon: the `hako` program (O_PATH), to re-enter it for a reboot or a helper
    exe: Option<OwnedFd>,
    /// daemon: the launch options (a memfd written by the `hako` image)
    launch_blob: Option<OwnedFd>,
    /// daemon, `hako` image: when to hand over to the small monitor program, and which
    /// (see [`HANDOVER_DELAY`])
    handover_at: Option<(Instant, PathBuf)>,
    /// the stop and post-stop hooks of the run, with its namespaces
    hooks: Option<crate::hooks::RunHooks>,
}

/// How long a freshly started daemon monitor stays in the `hako` image before it re-executes
/// as the small `hako-monitor`. Loading that program costs ~0.8 ms of CPU; commands that
/// follow a start at once (`start && attach`, `start && stop`, a test suite) are served
/// without waiting for it or competing with it, and a monitor that lives on is small after
/// this long.
const HANDOVER_DELAY: Duration = Duration::from_millis(100);

const STATES: [&str; 8] = [
    "STOPPED", "STARTING", "RUNNING", "STOPPING", "ABORTING", "FREEZING", "FROZEN", "THAWED",
];

fn signal_fd() -> Result<SignalFd> {
    let mut mask = SigSet::empty();
    for s in [
        Signal::SIGCHLD,
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
        Signal::SIGQUIT,
        Signal::SIGWINCH,
        Signal::SIGPIPE,
    ] {
        mask.add(s);
    }
    mask.thread_block().ctx(|| "sigprocmask".into())?;
    SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
        .ctx(|| "signalfd".into())
}

impl Monitor {
    fn new(opts: &LaunchOptions) -> Result<Monitor> {
        let name = opts.spec.name.clone();
        let dir = &opts.runtime_dir;
        std::fs::create_dir_all(dir).ctx(|| {
            format!(
                "container \"{name}\": cannot create runtime dir {}",
                dir.display()
            )
        })?;
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
        let tmp_name = format!("{SOCKET}.tmp");
        let addr = sys::socket_address(dir, &tmp_name).ctx(|| {
            format!(
                "container \"{name}\": cannot open the runtime dir {}",
                dir.display()
            )
        })?;
        let listener = UnixListener::bind(&addr.1).ctx(|| {
            format!(
                "container \"{name}\": cannot create the control socket {}",
                tmp.display()
            )
        })?;
        listener
            .set_nonblocking(true)
            .ctx(|| "nonblocking".into())?;
        std::fs::rename(&tmp, dir.join(SOCKET))
            .ctx(|| format!("container \"{name}\": cannot publish the control socket"))?;
        let sigfd = signal_fd()?;

        let log_path = opts
            .console_log
            .clone()
            .or_else(|| opts.spec.console_logfile.clone())
            .unwrap_or_else(|| opts.spec.lxcpath.join(&opts.spec.name).join("console.log"));
        let console_log = if opts.spec.console && opts.mode != LaunchMode::Execute {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log_path)
                .ok()
        } else {
            None
        };
        let console_out = match &opts.console_out {
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
        Ok(Monitor {
            launcher: None,
            name,
            halt_signal: opts.spec.halt_signal,
            reboot_signal: opts.spec.reboot_signal,
            devices_on_v2: opts.host.v1_for("devices").is_none(),
            net_links: opts
                .net
                .iter()
                .filter(|p| !p.name.is_empty())
                .map(|p| (p.name.clone(), p.host_name.clone().or(p.link.clone())))
                .collect(),
            net_helper: opts.net.iter().any(|p| p.script_down.is_some()),
            net_dns: opts
                .net
                .iter()
                .filter_map(|p| p.dns.as_ref())
                .map(|d| {
                    (
                        d.run_dir.clone(),
                        d.network.clone(),
                        d.hostname.clone(),
                        d.owner.clone(),
                    )
                })
                .collect(),
            link_release: None,
            ephemeral: opts.spec.ephemeral.then(|| opts.spec.lxcpath.clone()),
            mode: opts.mode,
            runtime_dir: opts.runtime_dir.clone(),
            pidfile: opts.pidfile.clone(),
            listener,
            sigfd,
            clients: Vec::new(),
            state: "STARTING",
            run: None,
            stop: None,
            reboot_pending: false,
            signal_wait: None,
            ready: None,
            console_log,
            console_out,
            stdin_open: false,
            saved_termios: None,
            exit_code: None,
            exec_error: None,
            held_ns: Vec::new(),
            exe: None,
            launch_blob: None,
            handover_at: None,
            hooks: None,
        })
    }

    /// Start a run through the launcher (`hako` image only).
    fn launch_run(&mut self) -> Result<()> {
        let Some(l) = self.launcher.take() else {
            return Err(RuntimeError::msg(format!(
                "container \"{}\": this monitor cannot start a run",
                self.name
            )));
        };
        let r = l.launch_run(self);
        self.launcher = Some(l);
        r
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
                // the user's terminal talks to the container's console: in the foreground,
                // and for `execute` on a terminal (the application's stdio is that console
                // pty; the host terminal itself never reaches the container)
                let console = self.run.as_ref().is_some_and(|r| r.console.is_some());
                if self.mode == LaunchMode::Foreground
                    || (self.mode == LaunchMode::Execute && console)
                {
                    self.stdin_open = true;
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
        crate::hooks::drop_output();
        if let Some(ch) = self.ready.take() {
            let _ = match r {
                Ok(pid) => ch.send(&Msg::Started(pid)),
                Err(e) => ch.send(&Msg::Error(e.to_string())),
            };
        }
    }

    /// Serve the container: a daemon monitor hands over to the small program first
    /// (`handover`), unless there is none or it cannot be run.
    fn serve(&mut self, handover: bool) -> i32 {
        if handover && self.may_hand_over() {
            if let Some(bin) = monitor_binary() {
                self.handover_at = Some((Instant::now() + HANDOVER_DELAY, bin));
            }
        }
        self.run()
    }

    fn may_hand_over(&self) -> bool {
        self.mode == LaunchMode::Daemon
            && self.exit_code.is_none()
            && self.stop.is_none()
            && !self.reboot_pending
    }

    /// The hand-over [`Monitor::serve`] planned, once it is due. A monitor that is stopping
    /// meanwhile ends in this image.
    fn check_handover(&mut self) {
        let Some((at, _)) = &self.handover_at else {
            return;
        };
        if !self.may_hand_over() {
            self.handover_at = None;
        } else if Instant::now() >= *at {
            if let Some((_, bin)) = self.handover_at.take() {
                self.handover(&bin);
            }
        }
    }

    fn write_state_file(
        &self,
        init_pid: Option<i32>,
        cgroup: Option<&Cgroup>,
        host_links: &[String],
        dns: &[crate::net::DnsReg],
    ) {
        let me = std::process::id() as i32;
        let sf = StateFile {
            name: self.name.clone(),
            monitor_pid: me,
            monitor_start: sys::proc_start_time(me).unwrap_or(0),
            init_pid,
            cgroup: cgroup.cloned(),
            host_links: host_links.to_vec(),
            host_link_ids: host_links
                .iter()
                .map(|l| nix::net::if_::if_nametoindex(l.as_str()).unwrap_or(0))
                .collect(),
            dns: dns.to_vec(),
        };
        let tmp = self.runtime_dir.join(format!("{STATE_FILE}.tmp"));
        if let Ok(s) = serde_json::to_vec(&sf) {
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
            let _ = nix::sys::termios::tcsetattr(
                std::io::stdin().as_fd(),
                nix::sys::termios::SetArg::TCSANOW,
                &t,
            );
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
        for c in self
            .clients
            .iter_mut()
            .filter(|c| c.mode == ClientMode::Events)
        {
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
        if self.launcher.is_some() {
            // the start-up left garbage in this big image
            sys::trim_memory();
        }
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
        let stop_deadline = self
            .stop
            .as_ref()
            .and_then(|s| if s.killed { None } else { s.deadline });
        let recheck = self
            .signal_wait
            .as_ref()
            .map(|_| Instant::now() + SIGNAL_RECHECK);
        let wake = [
            stop_deadline,
            self.handover_at.as_ref().map(|h| h.0),
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
        let mut reboot = reboot && self.stop.is_none() && self.mode != LaunchMode::Execute;
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
            self.reboot_pending = false;
            self.set_state("STARTING");
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
    fn relaunch(&mut self, code: i32) {
        match self.launch_run() {
            Ok(()) => self.set_state("RUNNING"),
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

    /// Kill what is left, remove the cgroup, undo the network, close the ptys.
    fn teardown_run(&mut self) {
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
                if let Err(e) = crate::lsm::release(&self.name, &self.runtime_dir) {
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
        if let Some(l) = &self.launcher {
            l.net_teardown(st, ns, links);
            return;
        }
        // the small monitor: script.down hooks in a helper run of the hako program (which
        // forgets the DNS names too), then DNS names and what netlink does
        // (crate::net::teardown_state's order)
        if self.net_helper {
            self.run_net_helper();
        }
        for (run_dir, net, host, owner) in &self.net_dns {
            hako_net::forget_host(run_dir, net, host, owner);
        }
        crate::net::release_devices(&self.name, st, ns, links);
    }

    /// Runs the hako program with `argv` (argv[0] names the task in `ps`) and waits for it:
    /// the small monitor execs the program it was handed (`exe`), the hako image itself.
    /// `pass_fd` is left open across the exec.
    fn run_hako(
        &self,
        argv: &[CString],
        pass_fd: Option<RawFd>,
    ) -> std::result::Result<WaitStatus, String> {
        let path = match &self.exe {
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
                match (&self.exe, &path) {
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
        let Some(lxcpath) = &self.ephemeral else {
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
        let Some(blob) = &self.launch_blob else {
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
        if self.ephemeral.is_some() {
            self.destroy_ephemeral();
        }
        self.set_state("STOPPED");
        let stopped = Response::ok().with_state("STOPPED");
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

    fn halt_signal(&self, pid: i32) -> i32 {
        if let Some(s) = self.halt_signal {
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
        let deadline = if timeout < 0 {
            None
        } else {
            Some(Instant::now() + Duration::from_secs(timeout as u64))
        };
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
        self.signal_init(sig, false);
        self.stop = Some(StopReq {
            deadline,
            killed: false,
        });
        self.set_state("STOPPING");
    }

    /// Sends the halt or reboot signal `sig` to init now, or as soon as init takes it
    /// (see [`SignalWait`]).
    fn signal_init(&mut self, sig: i32, reboot: bool) {
        let Some(run) = &self.run else { return };
        if sys::init_takes_signal(run.pid, sig) == Some(false) {
            self.signal_wait = Some(SignalWait {
                sig,
                until: Instant::now() + SIGNAL_WAIT,
                reboot,
            });
            return;
        }
        self.signal_wait = None;
        let _ = sys::pidfd_send_signal(run.pidfd.as_fd(), sig);
    }

    /// The held-back signal: sent once init takes it. A reboot that init cannot be asked
    /// for is refused to its waiters; a halt goes out anyway (the stop's deadline kills).
    fn check_signal_wait(&mut self) {
        let Some(w) = &self.signal_wait else { return };
        let Some(run) = &self.run else {
            self.signal_wait = None;
            return;
        };
        let takes = sys::init_takes_signal(run.pid, w.sig) != Some(false);
        if !takes && Instant::now() < w.until {
            return;
        }
        let (mut sig, reboot) = (w.sig, w.reboot);
        self.signal_wait = None;
        if takes || !reboot {
            if !reboot {
                // what init blocks tells which halt signal it is for (systemd's SIGRTMIN+3),
                // and it may block nothing yet when the stop came
                sig = self.halt_signal(run.pid);
            }
            let _ = sys::pidfd_send_signal(run.pidfd.as_fd(), sig);
            return;
        }
        let msg = Response::err(format!(
            "container \"{}\": its init (pid {}) neither catches nor blocks signal {} (lxc.signal.reboot), so it cannot be asked to reboot; set lxc.signal.reboot to the signal this init reboots on, or stop and start the container",
            self.name,
            run.pid,
            hako_spec::signal_name(sig)
        ));
        self.reboot_pending = false;
        for c in self.clients.iter_mut().filter(|c| c.waits_reboot) {
            c.waits_reboot = false;
            c.send_line(&msg);
        }
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
        self.stop = Some(StopReq {
            deadline: None,
            killed: true,
        });
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
            if let Some(log) = &mut self.console_log {
                let _ = log.write_all(data);
            }
            if let Some(f) = &mut self.console_out {
                let _ = f.write_all(data);
            } else if matches!(self.mode, LaunchMode::Foreground | LaunchMode::Execute) {
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

    fn pump_tty(&mut self, i: usize) {
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
        let mut buf = [0u8; 4096];
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
        let req = match Request::decode(line) {
            Ok(r) => r,
            Err(e) => {
                self.clients[i].send_line(&Response::err(format!("bad request to the monitor of \"{}\": {e}; hako and the monitor are from different builds, restart the container", self.name)));
                return false;
            }
        };
        let name = self.name.clone();
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
                    r.cgroup_paths = run
                        .cgroup
                        .paths()
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect();
                    r.net_links = self.net_links.clone();
                }
                self.clients[i].send_line(&r);
            }
            Request::Stop { timeout, kill } => {
                if self.run.is_none() {
                    self.clients[i].send_line(&Response::err(format!(
                        "container \"{name}\" is not running"
                    )));
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
                        self.reboot_pending = true;
                        self.clients[i].waits_reboot = true;
                        self.signal_init(self.reboot_signal, true);
                    }
                }
            }
            Request::Freeze => {
                let r = match &self.run {
                    None => Response::err(format!("container \"{name}\" is not running")),
                    Some(_) if self.state == "FROZEN" => Response::ok().with_state("FROZEN"),
                    Some(_) => {
                        self.set_state("FREEZING");
                        let r = self.run.as_ref().map(|r| r.cgroup.freeze());
                        match r {
                            Some(Ok(())) => {
                                self.set_state("FROZEN");
                                Response::ok().with_state("FROZEN")
                            }
                            Some(Err(e)) => {
                                if let Some(run) = &self.run {
                                    let _ = run.cgroup.thaw();
                                }
                                self.set_state("RUNNING");
                                Response::err(format!("cannot freeze container \"{name}\": {e}"))
                            }
                            None => Response::err(format!("container \"{name}\" is not running")),
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
                let busy = self
                    .clients
                    .iter()
                    .any(|c| c.mode == ClientMode::Console(tty));
                let r = if self.tty_fd(tty).is_none() {
                    let n = self.run.as_ref().map(|r| r.ttys.len()).unwrap_or(0);
                    Response::err(if tty == 0 {
                        format!("container \"{name}\" has no console (lxc.console.path = none)")
                    } else {
                        format!(
                            "container \"{name}\" has no tty {tty} (it has {n}; set lxc.tty.max)"
                        )
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
                        r.cgroup_paths = run
                            .cgroup
                            .paths()
                            .iter()
                            .map(|p| p.display().to_string())
                            .collect();
                        // flush what is queued, then send this line with the fd attached
                        self.clients[i].flush_all();
                        let _ = send_with_fd(
                            &self.clients[i].stream,
                            &r.encode(),
                            run.pidfd.as_raw_fd(),
                        );
                        let _ = self.clients[i].stream.set_nonblocking(true);
                        return false;
                    }
                };
                self.clients[i].send_line(&r);
            }
        }
        false
    }

    fn cgroup_get(&self, key: &str) -> Response {
        let name = &self.name;
        let Some(run) = &self.run else {
            return Response::err(format!("container \"{name}\" is not running"));
        };
        if key == "devices.list" && self.devices_on_v2 {
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
        let name = self.name.clone();
        let on_v2 = self.devices_on_v2;
        let Some(run) = &mut self.run else {
            return Response::err(format!("container \"{name}\" is not running"));
        };
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

// ---------------------------------------------------------------------------------------
// The hand-over between program images

/// First bytes of a hand-over; the version changes with the layout below.
const MAGIC: &[u8; 8] = b"hakomon\x01";
const LAYOUT: &str = concat!(env!("CARGO_PKG_VERSION"), "/6"); // 4: DNS owners; 5: hooks; 6: the inner cgroup

impl Monitor {
    /// Replace this process with the small monitor program `bin`. Returns only if that
    /// failed (the caller then serves in this image).
    fn handover(&mut self, bin: &Path) {
        sys::timing("monitor: handover");
        if self.exe.is_none() {
            self.exe = nix::fcntl::open(
                "/proc/self/exe",
                nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::empty(),
            )
            .ok()
            // SAFETY: a fresh fd we own.
            .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) });
        }
        if self.launch_blob.is_none() {
            self.launch_blob = self.launcher.as_ref().and_then(|l| l.blob());
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
    fn exec_hako_resume(&mut self, fd: RawFd, here: bool) {
        let Some(exe) = self.exe.as_ref().map(|e| e.as_raw_fd()) else {
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
    fn encode_to_memfd(&mut self, reason: Reason) -> Option<OwnedFd> {
        for c in self.clients.iter_mut() {
            c.flush();
        }
        self.clients.retain(|c| !c.dead);
        let blob = self.encode(reason);
        memfd_with("hako-monitor", &blob)
    }

    /// Every fd the encoded state refers to.
    fn handed_fds(&self) -> Vec<RawFd> {
        let mut v = vec![self.listener.as_raw_fd()];
        let mut opt = |f: Option<RawFd>| v.extend(f);
        opt(self.console_log.as_ref().map(|f| f.as_raw_fd()));
        opt(self.console_out.as_ref().map(|f| f.as_raw_fd()));
        opt(self.exe.as_ref().map(|f| f.as_raw_fd()));
        opt(self.launch_blob.as_ref().map(|f| f.as_raw_fd()));
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

    /// The state of this monitor, for [`Monitor::decode`] in the next image. Fds are
    /// referred to by number: they are inherited across exec.
    fn encode(&self, reason: Reason) -> Vec<u8> {
        let mut e = Enc::default();
        e.b.extend_from_slice(MAGIC);
        e.str(LAYOUT);
        // first, so a program of another build can still find its way back
        e.opt_fd(self.exe.as_ref());
        match reason {
            Reason::Serve => e.u(0),
            Reason::Reboot(code) => {
                e.u(1);
                e.i(code as i64);
            }
        }
        e.str(&self.name);
        e.opt(self.halt_signal, |e, s| e.i(s as i64));
        e.i(self.reboot_signal as i64);
        e.bool(self.devices_on_v2);
        e.u(self.net_links.len() as u64);
        for (n, h) in &self.net_links {
            e.str(n);
            e.opt(h.as_deref(), |e, h| e.str(h));
        }
        e.bool(self.net_helper);
        e.u(self.net_dns.len() as u64);
        for (r, n, h, o) in &self.net_dns {
            e.path(r);
            e.str(n);
            e.str(h);
            e.str(o);
        }
        e.opt(self.ephemeral.as_deref(), |e, p| e.path(p));
        e.u(match self.mode {
            LaunchMode::Daemon => 0,
            LaunchMode::Foreground => 1,
            LaunchMode::Execute => 2,
        });
        e.path(&self.runtime_dir);
        e.opt(self.pidfile.as_deref(), |e, p| e.path(p));
        e.fd(self.listener.as_raw_fd());
        e.str(self.state);
        e.bool(self.reboot_pending);
        e.opt_fd(self.console_log.as_ref());
        e.opt_fd(self.console_out.as_ref());
        e.opt(self.exit_code, |e, c| e.i(c as i64));
        e.opt(self.exec_error.as_deref(), |e, s| e.str(s));
        e.opt_fd(self.launch_blob.as_ref());
        e.opt(self.run.as_ref(), |e, r| {
            e.i(r.pid as i64);
            e.fd(r.pidfd.as_raw_fd());
            e.opt_fd(r.mnt_ns.as_ref());
            e.opt(r.net.as_ref(), |e, (st, ns)| {
                e.u(st.host_links.len() as u64);
                for l in &st.host_links {
                    e.str(l);
                }
                e.u(st.phys.len() as u64);
                for (a, b) in &st.phys {
                    e.str(a);
                    e.str(b);
                }
                e.opt_fd(ns.as_ref());
            });
            let cg = &r.cgroup;
            e.str(cg.name());
            e.u(match cg.mode() {
                Mode::Legacy => 0,
                Mode::Hybrid => 1,
                Mode::Unified => 2,
            });
            e.u(cg.dirs().len() as u64);
            for d in cg.dirs() {
                e.path(&d.path);
                e.u(d.version as u64);
                e.u(d.controllers.len() as u64);
                for c in &d.controllers {
                    e.str(c);
                }
                e.u(d.ino);
            }
            e.u(cg.created_ancestors().len() as u64);
            for a in cg.created_ancestors() {
                e.path(a);
            }
            e.opt(cg.inner(), |e, i| e.str(i));
            e.opt_fd(r.console.as_ref());
            e.u(r.ttys.len() as u64);
            for t in &r.ttys {
                e.fd(t.as_raw_fd());
            }
            e.u(r.pty_peers.len() as u64);
            for t in &r.pty_peers {
                e.fd(t.as_raw_fd());
            }
            e.u(r.device_rules.len() as u64);
            for d in &r.device_rules {
                e.bool(d.allow);
                e.u(d.kind as u64);
                e.opt(d.major, |e, m| e.u(m as u64));
                e.opt(d.minor, |e, m| e.u(m as u64));
                e.str(&d.access);
            }
            e.opt_fd(r.device_prog.as_ref());
        });
        e.u(self.clients.len() as u64);
        for c in &self.clients {
            e.fd(c.stream.as_raw_fd());
            match c.mode {
                ClientMode::Requests => e.u(0),
                ClientMode::Console(t) => {
                    e.u(1);
                    e.u(t as u64);
                }
                ClientMode::Events => e.u(2),
            }
            e.bool(c.waits_stop);
            e.bool(c.waits_reboot);
            e.bool(c.closing);
            e.bytes(&c.inbuf);
            let (a, b) = c.out.as_slices();
            e.bytes(&[a, b].concat());
        }
        e.opt(self.hooks.as_ref(), |e, h| {
            let (text, fds) = h.encode();
            e.str(&text);
            for f in fds {
                e.fd(f);
            }
        });
        e.b
    }

    /// Take over the state in memfd `fd` (see [`Monitor::encode`]). On failure, says why
    /// and returns the `hako` program's fd if it could be read.
    fn resume(fd: RawFd) -> std::result::Result<(Monitor, Reason), (String, Option<OwnedFd>)> {
        let blob = match read_all_at(fd) {
            Ok(b) => b,
            Err(e) => return Err((format!("cannot read the hand-over (fd {fd}): {e}"), None)),
        };
        let mut d = Dec { b: &blob };
        if d.take(MAGIC.len()) != Some(&MAGIC[..]) {
            return Err(("the hand-over is not a monitor's".into(), None));
        }
        let layout = d.str();
        let exe = d.opt_fd().flatten();
        if layout.as_deref() != Some(LAYOUT) {
            // fd stays open: the caller passes it on to the program that wrote it
            return Err((
                format!(
                    "the hand-over is from hako {} (this is {LAYOUT})",
                    layout.unwrap_or_default()
                ),
                exe,
            ));
        }
        let _ = nix::unistd::close(fd);
        let mut exe = exe;
        match Monitor::decode(&mut d, &mut exe) {
            Some(r) => Ok(r),
            None => Err(("the hand-over is damaged".into(), exe)),
        }
    }

    fn decode(d: &mut Dec<'_>, exe: &mut Option<OwnedFd>) -> Option<(Monitor, Reason)> {
        let reason = match d.u()? {
            0 => Reason::Serve,
            1 => Reason::Reboot(d.i()? as i32),
            _ => return None,
        };
        let name = d.str()?;
        let halt_signal = d.opt(|d| d.i().map(|s| s as i32))?;
        let reboot_signal = d.i()? as i32;
        let devices_on_v2 = d.bool()?;
        let mut net_links = Vec::new();
        for _ in 0..d.u()? {
            net_links.push((d.str()?, d.opt(|d| d.str())?));
        }
        let net_helper = d.bool()?;
        let mut net_dns = Vec::new();
        for _ in 0..d.u()? {
            net_dns.push((d.path()?, d.str()?, d.str()?, d.str()?));
        }
        let ephemeral = d.opt(|d| d.path())?;
        let mode = match d.u()? {
            0 => LaunchMode::Daemon,
            1 => LaunchMode::Foreground,
            _ => LaunchMode::Execute,
        };
        let runtime_dir = d.path()?;
        let pidfile = d.opt(|d| d.path())?;
        let listener = UnixListener::from(d.fd()?);
        let state_name = d.str()?;
        let state = STATES
            .iter()
            .find(|s| **s == state_name)
            .copied()
            .unwrap_or("RUNNING");
        let reboot_pending = d.bool()?;
        let console_log = d.opt_fd()?.map(File::from);
        let console_out = d.opt_fd()?.map(File::from);
        let exit_code = d.opt(|d| d.i().map(|c| c as i32))?;
        let exec_error = d.opt(|d| d.str())?;
        let launch_blob = d.opt_fd()?;
        let run = d.opt(|d| {
            let pid = d.i()? as i32;
            let pidfd = d.fd()?;
            let mnt_ns = d.opt_fd()?;
            let net = d.opt(|d| {
                let mut st = NetState::default();
                for _ in 0..d.u()? {
                    st.host_links.push(d.str()?);
                }
                for _ in 0..d.u()? {
                    st.phys.push((d.str()?, d.str()?));
                }
                Some((st, d.opt_fd()?))
            })?;
            let cg_name = d.str()?;
            let cg_mode = match d.u()? {
                0 => Mode::Legacy,
                1 => Mode::Hybrid,
                _ => Mode::Unified,
            };
            let mut dirs = Vec::new();
            for _ in 0..d.u()? {
                let path = d.path()?;
                let version = d.u()? as u8;
                let mut controllers = Vec::new();
                for _ in 0..d.u()? {
                    controllers.push(d.str()?);
                }
                dirs.push(CgroupDir {
                    path,
                    version,
                    controllers,
                    ino: d.u()?,
                });
            }
            let mut ancestors = Vec::new();
            for _ in 0..d.u()? {
                ancestors.push(d.path()?);
            }
            let inner = d.opt(|d| d.str())?;
            let console = d.opt_fd()?;
            let mut ttys = Vec::new();
            for _ in 0..d.u()? {
                ttys.push(d.fd()?);
            }
            let mut pty_peers = Vec::new();
            for _ in 0..d.u()? {
                pty_peers.push(d.fd()?);
            }
            let mut device_rules = Vec::new();
            for _ in 0..d.u()? {
                device_rules.push(DeviceRule {
                    allow: d.bool()?,
                    kind: char::from_u32(d.u()? as u32)?,
                    major: d.opt(|d| d.u().map(|m| m as u32))?,
                    minor: d.opt(|d| d.u().map(|m| m as u32))?,
                    access: d.str()?,
                });
            }
            let device_prog = d.opt_fd()?;
            Some(Run {
                mnt_ns,
                net,
                pid,
                pidfd,
                cgroup: {
                    let cg = Cgroup::from_parts(cg_name, cg_mode, dirs, ancestors);
                    match inner {
                        Some(i) => cg.with_inner(&i),
                        None => cg,
                    }
                },
                console,
                ttys,
                pty_peers,
                device_rules,
                device_prog,
            })
        })?;
        let mut clients = Vec::new();
        for _ in 0..d.u()? {
            let mut c = Client::new(UnixStream::from(d.fd()?));
            c.mode = match d.u()? {
                0 => ClientMode::Requests,
                1 => ClientMode::Console(d.u()? as u32),
                _ => ClientMode::Events,
            };
            c.waits_stop = d.bool()?;
            c.waits_reboot = d.bool()?;
            c.closing = d.bool()?;
            c.inbuf = d.bytes()?.to_vec();
            c.out = d.bytes()?.iter().copied().collect();
            clients.push(c);
        }
        let hooks = d.opt(|d| {
            let text = d.str()?;
            let mut fds = Vec::new();
            for _ in 0..crate::hooks::RunHooks::fd_count(&text)? {
                fds.push(d.fd()?);
            }
            crate::hooks::RunHooks::decode(&text, fds)
        })?;
        let sigfd = signal_fd().ok()?;
        let m = Monitor {
            launcher: None,
            name,
            halt_signal,
            reboot_signal,
            devices_on_v2,
            net_links,
            net_helper,
            net_dns,
            link_release: None,
            ephemeral,
            mode,
            runtime_dir,
            pidfile,
            listener,
            sigfd,
            clients,
            state,
            run,
            stop: None,
            reboot_pending,
            signal_wait: None,
            ready: None,
            console_log,
            console_out,
            stdin_open: false,
            saved_termios: None,
            exit_code,
            exec_error,
            held_ns: Vec::new(),
            exe: exe.take(),
            launch_blob,
            handover_at: None,
            hooks,
        };
        Some((m, reason))
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

/// A compact binary encoding: LEB128 integers (zigzag for signed), length-prefixed bytes.
#[derive(Default)]
struct Enc {
    b: Vec<u8>,
}

impl Enc {
    fn u(&mut self, mut v: u64) {
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                self.b.push(byte);
                return;
            }
            self.b.push(byte | 0x80);
        }
    }
    fn i(&mut self, v: i64) {
        self.u(((v << 1) ^ (v >> 63)) as u64);
    }
    fn bool(&mut self, v: bool) {
        self.b.push(v as u8);
    }
    fn bytes(&mut self, v: &[u8]) {
        self.u(v.len() as u64);
        self.b.extend_from_slice(v);
    }
    fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }
    fn path(&mut self, p: &Path) {
        self.bytes(p.as_os_str().as_bytes());
    }
    fn fd(&mut self, fd: RawFd) {
        self.i(fd as i64);
    }
    fn opt<T>(&mut self, v: Option<T>, f: impl FnOnce(&mut Enc, T)) {
        match v {
            None => self.bool(false),
            Some(x) => {
                self.bool(true);
                f(self, x);
            }
        }
    }
    fn opt_fd<F: AsRawFd>(&mut self, v: Option<&F>) {
        self.opt(v, |e, f| e.fd(f.as_raw_fd()));
    }
}

struct Dec<'a> {
    b: &'a [u8],
}

impl<'a> Dec<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.b.len() < n {
            return None;
        }
        let (a, rest) = self.b.split_at(n);
        self.b = rest;
        Some(a)
    }
    fn u(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self.take(1)?.first()?;
            v |= ((byte & 0x7f) as u64) << shift;
            if byte & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }
    fn i(&mut self) -> Option<i64> {
        let u = self.u()?;
        Some(((u >> 1) as i64) ^ -((u & 1) as i64))
    }
    fn bool(&mut self) -> Option<bool> {
        Some(*self.take(1)?.first()? != 0)
    }
    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.u()? as usize;
        self.take(n)
    }
    fn str(&mut self) -> Option<String> {
        String::from_utf8(self.bytes()?.to_vec()).ok()
    }
    fn path(&mut self) -> Option<PathBuf> {
        Some(PathBuf::from(std::ffi::OsStr::from_bytes(self.bytes()?)))
    }
    /// An inherited fd, made close-on-exec again and owned from now on.
    fn fd(&mut self) -> Option<OwnedFd> {
        let fd = self.i()? as RawFd;
        if fd < 0 || nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFD).is_err() {
            return None;
        }
        set_cloexec(fd, true);
        // SAFETY: the previous image handed this open fd to us and nothing else in this
        // process refers to it.
        Some(unsafe { OwnedFd::from_raw_fd(fd) })
    }
    fn opt<T>(&mut self, f: impl FnOnce(&mut Dec<'a>) -> Option<T>) -> Option<Option<T>> {
        if self.bool()? {
            f(self).map(Some)
        } else {
            Some(None)
        }
    }
    fn opt_fd(&mut self) -> Option<Option<OwnedFd>> {
        self.opt(|d| d.fd())
    }
}

/// The whole content of file `fd`, read from offset 0 (its file offset is not used).
fn read_all_at(fd: RawFd) -> std::io::Result<Vec<u8>> {
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

/// A close-on-exec memfd holding `data`, rewound.
fn memfd_with(name: &str, data: &[u8]) -> Option<OwnedFd> {
    let cname = CString::new(name).ok()?;
    let fd = nix::sys::memfd::memfd_create(&cname, nix::sys::memfd::MemFdCreateFlag::MFD_CLOEXEC)
        .ok()?;
    let mut f = File::from(fd);
    f.write_all(data).ok()?;
    f.seek(std::io::SeekFrom::Start(0)).ok()?;
    Some(OwnedFd::from(f))
}

fn set_cloexec(fd: RawFd, on: bool) {
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

/// This process's environment, for exec.
fn environ() -> Vec<CString> {
    std::env::vars_os()
        .filter_map(|(k, v)| {
            let mut s = k.into_encoded_bytes();
            s.push(b'=');
            s.extend(v.into_encoded_bytes());
            CString::new(s).ok()
        })
        .collect()
}

fn set_nonblocking(fd: RawFd) {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    if let Ok(fl) = fcntl(fd, FcntlArg::F_GETFL) {
        let _ = fcntl(
            fd,
            FcntlArg::F_SETFL(OFlag::from_bits_truncate(fl) | OFlag::O_NONBLOCK),
        );
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

impl Drop for Monitor {
    fn drop(&mut self) {
        self.restore_terminal();
    }
}
