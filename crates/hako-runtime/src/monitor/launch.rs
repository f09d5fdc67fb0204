//! The start sequence, in the `hako` image only: the daemon monitor's fork, the
//! [`Launcher`] (cgroup, limits, clone, network, sync with the child until it execs) and
//! the first run's report to `hako start`.

use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use hako_cgroups::Cgroup;
use nix::sched::CloneFlags;
use nix::sys::signal::{SigSet, SigmaskHow};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;

use super::images::{memfd_with, read_all_at};
use super::{console::set_nonblocking, LaunchMode, LaunchOptions, Monitor, Run, STATE_FILE};
use crate::child::{self, ChildCtx};
use crate::error::{errno_text, Context, Result, RuntimeError};
use crate::net::NetState;
use crate::nl::LinkRelease;
use crate::protocol::{State, StateFile};
use crate::sync::{self, Channel, Msg};
use crate::sys::{self, Forked};
use hako_spec::OciHookStage;

/// Start a container. Daemon: returns init's pid once RUNNING. Foreground/Execute: runs
/// the monitor here and returns the exit code when the container stops. `started` runs
/// once the container is RUNNING (before a foreground monitor enters its loop), e.g. to
/// release the container lock. The network is built by the monitor with hako-net.
pub fn launch(mut opts: LaunchOptions, started: &dyn Fn()) -> Result<i32> {
    // OCI's typed limits become the cgroup keys the limit plan writes
    super::limits::lower_resources(&mut opts.spec, &opts.host)?;
    // OCI's process.terminal: the console pty, its master sent over the console socket
    // (detached), or relayed to the caller's terminal (a monitor in the caller's process)
    if opts.spec.terminal {
        let socket = opts.oci.as_ref().and_then(|o| o.console_socket.as_ref());
        if opts.mode == LaunchMode::Daemon && socket.is_none() {
            return Err(RuntimeError::msg(format!(
                "container \"{}\": process.terminal is true but no --console-socket was given; pass one or set terminal to false",
                opts.spec.name
            )));
        }
        opts.spec.console = true;
        opts.spec.terminal = false;
        opts.console_log.get_or_insert_with(|| "/dev/null".into());
    }
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
            // notices first (printed as they come), then the report
            let report = loop {
                match mine.recv() {
                    Ok(Some(r)) => match r.msg {
                        Msg::Notice(text) => eprintln!("{text}"),
                        msg => break Ok(Some(msg)),
                    },
                    other => break other.map(|o| o.map(|r| r.msg)),
                }
            };
            match report {
                Ok(Some(msg)) => match msg {
                    Msg::Started(pid) => Ok(pid),
                    // the monitor removed what it had made before it reported
                    Msg::Error(e) => Err(RuntimeError::msg(e)),
                    other => Err(RuntimeError::msg(format!(
                        "container \"{name}\": unexpected report from the monitor: {other:?}, expected Started or Error; hako and hako-monitor are from different builds, reinstall hako"
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
    sys::hold_notices();
    m.launcher = Some(Box::new(Launcher { opts }));
    match m.start_first() {
        Ok(()) => m.serve(true),
        Err(e) => {
            m.report_ready(Err(&e.to_string()));
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

/// What starting a run needs beyond the resident monitor: the whole spec, the host's
/// cgroup layout, the mount plan, the network plans. Reached through [`Launch`] only, so
/// the `hako-monitor` program, which never makes one, carries none of this code.
pub(super) struct Launcher {
    pub(super) opts: LaunchOptions,
}

pub(super) trait Launch {
    /// Steps 2-4 of the start sequence: cgroup, clone, network, sync with the child
    /// until exec. Sets `m.run`.
    fn launch_run(&self, m: &mut Monitor) -> Result<()>;
    /// The script.down hooks of the run's interfaces (see crate::net::teardown).
    fn net_scripts_down(&self);
    /// The launch options as a memfd, for the small monitor to hand back.
    fn blob(&self) -> Option<OwnedFd>;
    /// Close the monitor's copies of the caller's stdio (init has its own now).
    fn release_stdio(&mut self);
}

impl Launcher {
    pub(super) fn from_blob(fd: &OwnedFd) -> Result<Launcher> {
        let json = read_all_at(fd.as_raw_fd()).ctx(|| "cannot read the launch options".into())?;
        let opts = serde_json::from_slice(&json)
            .map_err(|e| RuntimeError::msg(format!("bad launch options ({e}); hako was replaced by a different build while the container ran")))?;
        Ok(Launcher { opts })
    }

    /// Undo the network of a run (init has been reaped, or the start failed; `ns` is its
    /// network namespace; `links`: the deletion of its host links, if begun already).
    pub(super) fn net_teardown(
        &self,
        st: &NetState,
        ns: Option<OwnedFd>,
        links: Option<LinkRelease>,
    ) {
        let dns = crate::net::dns_of(&self.opts.net);
        let scripts = || self.net_scripts_down();
        crate::net::teardown(&self.opts.spec.name, scripts, &dns, st, ns, links);
    }
}

impl Launch for Launcher {
    fn release_stdio(&mut self) {
        self.opts.stdio.clear();
    }

    fn blob(&self) -> Option<OwnedFd> {
        let json = serde_json::to_vec(&self.opts).ok()?;
        memfd_with("hako-launch", &json)
    }

    fn net_scripts_down(&self) {
        let s = &self.opts.spec;
        crate::net::scripts_down(
            &s.name,
            &s.config_path.display().to_string(),
            &self.opts.net,
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
            let limits = super::limits::plan(host, cg, spec);
            let inner_name = limits.inner;
            let (device_rules, device_prog) = super::limits::apply(cg, &name, limits)?;
            // init and the container's cgroup namespace root go one level down: the
            // limits and the device policy above stay out of the container's reach
            let inner = cg
                .create_child(inner_name)
                .map_err(|e| RuntimeError::msg(format!("container \"{name}\": {e}")))?;
            let userns = spec.namespaces().user;
            sys::timing("monitor: limits applied");
            let (mon_end, child_end) = sync::pair().ctx(|| "socketpair".into())?;
            let cap_drop = spec.dropped_caps();
            let cap_sets = crate::capsets::masks(spec)?;
            let mut flags = CloneFlags::CLONE_NEWNS
                | CloneFlags::CLONE_NEWPID
                | CloneFlags::CLONE_NEWUTS
                | CloneFlags::CLONE_NEWIPC;
            if spec.new_netns() {
                flags |= CloneFlags::CLONE_NEWNET;
            }
            if userns {
                flags |= CloneFlags::CLONE_NEWUSER;
            }
            if self.opts.mode == LaunchMode::Daemon
                && self.opts.oci.as_ref().is_some_and(|o| o.init_is_callers())
            {
                flags |= CloneFlags::CLONE_PARENT;
            }
            // OCI linux.namespaces[].path: opened and checked now; the clone makes none
            // of those kinds (crate::nsjoin)
            let joins = crate::nsjoin::open(spec)?;
            let asked = flags;
            let flags = crate::nsjoin::clone_flags(flags, &joins);
            let pid_back = crate::nsjoin::pid_for_clone(&name, &joins)?;
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
                };
            drop(v2_fd);
            if !matches!(forked, Ok(Forked::Child)) {
                crate::nsjoin::pid_back(pid_back);
            }
            let forked = forked.ctx(|| {
                format!("container \"{name}\": cannot create the container's namespaces (clone3)")
            })?;
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
                        cap_sets,
                        oci: self.opts.oci.as_ref(),
                        stdio: &self.opts.stdio,
                        ns_joins: &joins,
                        ns_asked: asked,
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
            if userns {
                if let Err(e) = map_child(spec, run.pid, &mon_end, &inner) {
                    let e = early_child_error(&mon_end, &run.pidfd)
                        .map(RuntimeError::msg)
                        .unwrap_or(e);
                    return Err(fail(&mut run, e));
                }
                sys::timing("monitor: mapped");
            }
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
                        // OCI --console-socket: the master goes to the caller (only then is
                        // it taken from the monitor)
                        let socket = self.opts.oci.as_ref().and_then(|o| o.console_socket.as_ref());
                        let sent = socket.and_then(|p| run.console.take().map(|m| (p, m)));
                        if let Some((path, master)) = sent {
                            if let Err(e) = crate::term::send_pty_master(path, &master, "/dev/console") {
                                return Err(fail(
                                    &mut run,
                                    RuntimeError::msg(format!(
                                        "container \"{name}\": cannot send the console to {}: {e}",
                                        path.display()
                                    )),
                                ));
                            }
                        }
                        run.ttys = fds.by_ref().take(ttys as usize).collect();
                        run.pty_peers = fds.collect();
                    }
                    Msg::Error(e) => return Err(fail(&mut run, RuntimeError::msg(e))),
                    Msg::Exec => exec_seen = true,
                    // OCI create: init waits on the exec fifo for `start`
                    Msg::Created if self.opts.oci.as_ref().is_some_and(|o| o.exec_fifo.is_some()) => break,
                    Msg::ExecError(e) => exec_error = Some(e),
                    // OCI: prestart and createRuntime, in the runtime's namespaces
                    Msg::OciHooks => {
                        let template = self
                            .opts
                            .oci
                            .as_ref()
                            .and_then(|o| o.hook_state.clone())
                            .unwrap_or_default();
                        let state = crate::hooks::oci::state_with(&template, Some(run.pid), "created");
                        let hooks = &self.opts.spec.oci_hooks;
                        let id = &self.opts.spec.name;
                        for stage in [OciHookStage::Prestart, OciHookStage::CreateRuntime] {
                            if let Err(e) = crate::hooks::oci::run(id, hooks, stage, &state) {
                                return Err(fail(&mut run, e));
                            }
                        }
                        let _ = mon_end.send(&Msg::OciState(state));
                    }
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
                                "container \"{name}\": unexpected message from the container's init during start: {other:?}, expected Ptys, StartHost, OciHooks, Exec, ExecError or Error (a bug in hako: please report it)"
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

/// A child in a user namespace: its id maps, its idmapped rootfs and binds, the go-ahead,
/// and its cgroup handed to its root once it has joined it (it joins with the host's
/// root ids, which own the cgroup's files until then).
fn map_child(
    spec: &crate::spec::ContainerSpec,
    pid: i32,
    sync: &Channel,
    inner: &Cgroup,
) -> Result<()> {
    let name = &spec.name;
    crate::userns::write_maps(name, pid, &spec.id_maps)?;
    let ns = crate::userns::userns_of(pid).map_err(|e| {
        crate::error::io_err(
            format!("container \"{name}\": cannot open its user namespace"),
            e,
        )
    })?;
    // rootless: no idmapped mounts of host files; the rootfs is owned by the range on
    // disk (hako create made it so) and init binds it itself
    let rootless = crate::userns::rootless::is_rootless();
    let mnt = if rootless {
        crate::userns::rootless::check_rootfs_owner(spec)?;
        None
    } else {
        Some(crate::userns::idmapped_rootfs(spec, ns.as_fd())?)
    };
    match sync.recv() {
        Ok(Some(r)) if r.msg == Msg::Joined => {}
        Ok(Some(r)) => {
            return Err(RuntimeError::msg(match r.msg {
                Msg::Error(e) => e,
                other => format!("container \"{name}\": unexpected message from the container's init during start: {other:?}, expected Joined (a bug in hako: please report it)"),
            }))
        }
        Ok(None) => {
            return Err(RuntimeError::msg(format!(
                "container \"{name}\": its init process ended during set-up without a report"
            )))
        }
        Err(e) => {
            return Err(crate::error::sys_err(
                format!("container \"{name}\": sync with the container's init"),
                e,
            ))
        }
    }
    let binds = if rootless {
        Vec::new()
    } else {
        crate::userns::idmapped_binds(spec, ns.as_fd())
    };
    let mut fds: Vec<i32> = mnt.iter().map(|m| m.as_raw_fd()).collect();
    fds.extend(binds.iter().map(|(_, f)| f.as_raw_fd()));
    let msg = Msg::Mapped {
        binds: binds.iter().map(|(i, _)| *i).collect(),
    };
    sync.send_fds(&msg, &fds)
        .ctx(|| format!("container \"{name}\": cannot hand its rootfs to its init"))?;
    // the container's root manages its own cgroup (systemd inside); done while init sets
    // up its mounts, off their path: nothing of the container's runs before Go
    // (rootless: the caller cannot give files to the range; the cgroup stays the caller's)
    if rootless {
        return Ok(());
    }
    let (uid, gid) = crate::userns::root_ids(&spec.id_maps).unwrap_or((0, 0));
    crate::userns::delegate(name, inner, uid, gid)
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

impl Monitor {
    /// Start a run through the launcher (`hako` image only).
    pub(super) fn launch_run(&mut self) -> Result<()> {
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

    /// The first run: RUNNING, the pid file, the report to `hako start`, the terminal; if
    /// it fails, ABORTING and the runtime files go.
    pub(super) fn start_first(&mut self) -> Result<()> {
        self.announce(Some(State::Starting), None);
        let r = self.launch_run();
        if let Some(l) = self.launcher.as_mut() {
            l.release_stdio();
        }
        match r {
            Ok(()) => {
                self.set_state(State::Running);
                let pid = self.run.as_ref().map(|r| r.pid).unwrap_or(0);
                if let Some(p) = &self.cfg.pidfile {
                    let _ = std::fs::write(p, format!("{pid}\n"));
                }
                self.report_ready(Ok(pid));
                // the user's terminal talks to the container's console: in the foreground,
                // and for `execute` on a terminal (the application's stdio is that console
                // pty; the host terminal itself never reaches the container)
                let console = self.run.as_ref().is_some_and(|r| r.console.is_some());
                if self.cfg.mode == LaunchMode::Foreground
                    || (self.cfg.mode == LaunchMode::Execute && console)
                {
                    self.console.stdin_open = true;
                    self.setup_terminal();
                }
                Ok(())
            }
            Err(e) => {
                self.set_state(State::Aborting);
                for c in self.clients.iter_mut() {
                    c.flush_all();
                }
                self.remove_runtime_files();
                Err(e)
            }
        }
    }

    /// The state file next to the socket, for tools and the cleanup after a killed
    /// monitor.
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
        let tmp = self.cfg.runtime_dir.join(format!("{STATE_FILE}.tmp"));
        if let Ok(s) = serde_json::to_vec(&sf) {
            if std::fs::write(&tmp, s).is_ok() {
                let _ = std::fs::rename(&tmp, self.cfg.runtime_dir.join(STATE_FILE));
            }
        }
    }

    /// Answer the waiting `hako start` (daemon): init's pid, or why the start failed.
    pub(super) fn report_ready(&mut self, r: std::result::Result<i32, &str>) {
        sys::timing("monitor: report");
        crate::hooks::drop_output();
        let notices = sys::take_notices();
        if let Some(ch) = self.ready.take() {
            for n in notices {
                let _ = ch.send(&Msg::Notice(n));
            }
            let _ = match r {
                Ok(pid) => ch.send(&Msg::Started(pid)),
                Err(e) => ch.send(&Msg::Error(e.to_string())),
            };
        }
    }
}
