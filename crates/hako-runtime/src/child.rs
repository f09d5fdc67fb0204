//! Everything between clone and exec, run by the container's future PID 1. The process is
//! a fork of the single-threaded monitor; any failure is sent as text over the sync
//! channel so `hako start` can print the real cause.

use std::ffi::CString;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use nix::sched::CloneFlags;
use nix::sys::signal::{SigSet, Signal};

use crate::error::{errno_text, Context, Result, RuntimeError};
use crate::hooks::{self, HookType};
use crate::mounts::{self, AutoPlan, Rootfs};
use crate::spec::{ContainerSpec, InitMode};
use crate::sync::{Channel, Msg};
use crate::sys;
use crate::sysctl;

pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

pub struct ChildCtx<'a> {
    pub spec: &'a ContainerSpec,
    pub host: &'a hako_cgroups::Host,
    pub plan: AutoPlan,
    pub sync: &'a Channel,
    pub cgroup: &'a hako_cgroups::Cgroup,
    /// clone3 already placed us in the v2 cgroup (CLONE_INTO_CGROUP)
    pub in_v2: bool,
    /// the `LXC_*` variables of this start's hooks (see [`crate::hooks`])
    pub hook_env: &'a [(String, String)],
    /// the AppArmor profile init execs into (crate::lsm)
    pub exec_label: Option<&'a str>,
    /// the capabilities to drop, one bit each ([`ContainerSpec::dropped_caps`], computed
    /// before the clone: no name matching between clone and exec)
    pub cap_drop: u64,
    /// OCI's five capability sets, if the spec has them ([`crate::capsets::masks`])
    pub cap_sets: Option<crate::capsets::CapMasks>,
    /// an OCI container's start (exec fifo, inherited stdio)
    pub oci: Option<&'a crate::monitor::OciLaunch>,
    /// the caller's stdio to give init (OCI, daemon monitor), else empty
    pub stdio: &'a [std::os::fd::OwnedFd],
    /// OCI's joined namespaces, opened by the monitor ([`crate::nsjoin`])
    pub ns_joins: &'a [crate::nsjoin::Joined],
    /// the namespaces the spec asks to be new (clone flags), some of which this process
    /// makes itself when it joins a user namespace
    pub ns_asked: CloneFlags,
}

/// Entry point of the cloned child. Never returns.
pub fn run(ctx: ChildCtx<'_>) -> ! {
    let err = match setup(&ctx) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    let _ = ctx.sync.send(&Msg::Error(err.to_string()));
    // SAFETY: _exit is always safe; we must not run the monitor's destructors here.
    unsafe { libc::_exit(1) }
}

enum Never {}

fn setup(ctx: &ChildCtx<'_>) -> Result<Never> {
    let spec = ctx.spec;
    let name = &spec.name;
    // Die with the monitor: a container nobody supervises is a leak. (OCI create: init's
    // parent is the caller, which exits; the engine's shim adopts it, see
    // OciLaunch::init_is_callers)
    let pdeathsig = !ctx.oci.is_some_and(|o| o.init_is_callers());
    if pdeathsig {
        nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)
            .ctx(|| "cannot set the parent-death signal".into())?;
    }
    // OCI create: the exec fifo, opened while the host's paths are visible (reopened for
    // writing right before exec, through /proc/self/fd)
    let exec_fifo = match ctx.oci.and_then(|o| o.exec_fifo.as_deref()) {
        Some(p) => Some(
            nix::fcntl::open(
                p,
                nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::empty(),
            )
            .ctx(|| {
                format!(
                    "container \"{name}\": cannot open its exec fifo {}",
                    p.display()
                )
            })?,
        ),
        None => None,
    };
    // Join the container's cgroup ourselves (a self-migration is cheap, see
    // Cgroup::attach_self), first: with a user namespace of its own (lxc.idmap) this
    // process still has the host's root ids here, which own the cgroup's files until the
    // monitor hands them to the container's root. Then, in a user namespace, wait for the
    // monitor to write the id maps and hand over the idmapped rootfs, and become root inside.
    ctx.cgroup
        .attach_self(ctx.in_v2)
        .map_err(|e| RuntimeError::msg(format!("container \"{name}\": {e}")))?;
    // OCI: the joined namespaces (the user namespace first); still the host's paths for
    // the cgroup and the fifo above
    crate::nsjoin::enter(name, ctx.ns_joins, ctx.ns_asked)?;
    let userns = spec.namespaces().user;
    let mut idmapped = None;
    let mut binds = Vec::new();
    if userns {
        ctx.sync
            .send(&Msg::Joined)
            .ctx(|| format!("container \"{name}\": cannot report to the monitor"))?;
        let (r, b) = wait_mapped(ctx)?;
        idmapped = Some(r);
        binds = b;
        crate::userns::become_root(name)?;
        // a change of ids clears the parent-death signal
        if pdeathsig {
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)
                .ctx(|| "cannot set the parent-death signal".into())?;
        }
    }
    // never the keyring of the session that started hako (lxc.keyring.session)
    if spec.keyring_session {
        sys::join_new_session_keyring().ctx(|| {
            format!("container \"{name}\": cannot create its session keyring (lxc.keyring.session)")
        })?;
    }
    // Signals: the monitor blocked some; init starts with a clean mask and dispositions.
    let _ = nix::sys::signal::sigprocmask(
        nix::sys::signal::SigmaskHow::SIG_SETMASK,
        Some(&SigSet::empty()),
        None,
    );
    for s in [
        Signal::SIGPIPE,
        Signal::SIGHUP,
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGCHLD,
        Signal::SIGTTOU,
        Signal::SIGTTIN,
    ] {
        // SAFETY: resetting to the default disposition installs no handler code.
        let _ = unsafe { nix::sys::signal::signal(s, nix::sys::signal::SigHandler::SigDfl) };
    }

    sys::timing("child: start");
    // AppArmor: init's exec attribute, opened while /proc is still the host's
    let exec_label = crate::lsm::ExecLabel::open(ctx.exec_label, name)?;
    // the container's own cgroup namespace (it joined its cgroup above). An OCI
    // config.json without one: the process stays in the host's, but the mounts are made
    // in a cgroup namespace of its own all the same, so that /sys/fs/cgroup shows the
    // container's cgroup only (as runc's binds do); init goes back to the host's after.
    let host_cgroup_ns = if let Some(j) = crate::nsjoin::of(ctx.ns_joins, hako_spec::NsKind::Cgroup)
    {
        // a joined one: entered after the mounts, as the host's would be
        Some(j.fd.try_clone().map_err(|e| {
            crate::error::io_err(
                format!(
                    "container \"{name}\": cannot keep the cgroup namespace at {}",
                    j.path.display()
                ),
                e,
            )
        })?)
    } else if spec.namespaces().cgroup || userns {
        // (in a user namespace of its own, init cannot go back to the host's cgroup
        // namespace, owned by the host's user namespace: it keeps its own)
        None
    } else {
        Some(
            std::fs::File::open("/proc/self/ns/cgroup")
                .map(std::os::fd::OwnedFd::from)
                .map_err(|e| {
                    crate::error::io_err(
                        format!("container \"{name}\": cannot open the host's cgroup namespace"),
                        e,
                    )
                })?,
        )
    };
    nix::sched::unshare(CloneFlags::CLONE_NEWCGROUP)
        .ctx(|| format!("container \"{name}\": cannot create its cgroup namespace"))?;
    if !spec.hostname.is_empty() {
        nix::unistd::sethostname(&spec.hostname).ctx(|| {
            format!(
                "container \"{name}\": cannot set hostname \"{}\"",
                spec.hostname
            )
        })?;
    }
    if let Some(d) = &spec.domainname {
        // SAFETY: a valid buffer and its length.
        if unsafe { libc::setdomainname(d.as_ptr().cast(), d.len()) } < 0 {
            return Err(crate::error::sys_err(
                format!(
                    "container \"{name}\": cannot set the NIS domain name \"{d}\" (domainname)"
                ),
                nix::errno::Errno::last(),
            ));
        }
    }
    if let Some(adj) = spec.oom_score_adj {
        // the host's /proc still: this process's own file
        std::fs::write("/proc/self/oom_score_adj", adj.to_string()).map_err(|e| {
            crate::error::io_err(
                format!("container \"{name}\": cannot set process.oomScoreAdj {adj} (lowering it needs CAP_SYS_RESOURCE)"),
                e,
            )
        })?;
    }
    if spec.new_netns() {
        sys::loopback_up()
            .ctx(|| format!("container \"{name}\": cannot bring up the loopback device"))?;
    }

    sys::timing("child: cgroup joined, ns set");
    if spec.hooks.has(HookType::PreMount) {
        // what the hooks mount stays in the container's mount namespace
        nix::mount::mount(
            None::<&str>,
            "/",
            None::<&str>,
            nix::mount::MsFlags::MS_REC | nix::mount::MsFlags::MS_SLAVE,
            None::<&str>,
        )
        .ctx(|| {
            format!("container \"{name}\": cannot make the mount namespace a slave of the host's")
        })?;
        hooks::run_in_container(spec, HookType::PreMount, ctx.hook_env)?;
    }
    let root = Rootfs::prepare(spec, idmapped)?;
    sys::timing("child: rootfs");
    if spec.autodev {
        mounts::mount_dev_tmpfs(&root, spec)?;
    }
    mounts::mount_proc_sys(&root, spec, &ctx.plan)?;
    sys::timing("child: proc, sys");
    if ctx.plan.proc_rw.is_none() {
        // no proc of its own (else mount_proc_sys wrote them there)
        sysctl::apply(spec, sysctl::ProcSys::Here, false)?;
    }
    mounts::mount_entries(&root, spec, binds)?;
    // systemd mounts its own cgroup hierarchies (in our cgroup namespace) and is confused by
    // ours; as LXC with cgroup namespaces, hako leaves it alone unless ":force" was asked
    let systemd = spec
        .init_cmd
        .first()
        .is_some_and(|i| root.is_systemd(Path::new(i)));
    mounts::mount_cgroups(&root, spec, ctx.host, &ctx.plan, systemd)?;
    sys::timing("child: cgroups");
    hooks::run_in_container(spec, HookType::Mount, ctx.hook_env)?;
    if spec.oci_default_devices && !spec.autodev {
        // OCI: the default devices in the /dev config.json mounted (or the rootfs's own)
        mounts::populate_dev(&root, spec)?;
    }
    // OCI: linux.devices
    mounts::create_devices(&root, spec)?;
    if spec.autodev {
        mounts::populate_dev(&root, spec)?;
        if ctx.plan.proc_rw.is_some() {
            mounts::fresh_boot_id(&root, spec)?;
        }
        hooks::run_in_container(spec, HookType::Autodev, ctx.hook_env)?;
    }
    sys::timing("child: mask");
    mounts::mask_kernel_paths(&root, spec, &ctx.plan)?;
    // OCI: linux.maskedPaths and linux.readonlyPaths
    mounts::mask_oci_paths(&root, spec)?;
    if let Some(ns) = host_cgroup_ns {
        // no cgroup namespace asked for (see above): back to the host's
        nix::sched::setns(ns, CloneFlags::CLONE_NEWCGROUP).ctx(|| {
            format!("container \"{name}\": cannot enter its cgroup namespace after the mounts (the host's, or the one linux.namespaces joins)")
        })?;
    }
    sys::timing("child: masked");
    let ptys = if root.open(Path::new("dev")).is_ok() {
        Some(mounts::setup_devpts(&root, spec)?)
    } else {
        None
    };
    if let Some(p) = &ptys {
        let mut fds: Vec<i32> = Vec::new();
        if let Some(c) = &p.console {
            fds.push(c.as_raw_fd());
        }
        fds.extend(p.ttys.iter().map(|t| t.as_raw_fd()));
        fds.extend(p.peers.iter().map(|t| t.as_raw_fd()));
        let msg = Msg::Ptys {
            console: p.console.is_some(),
            ttys: p.ttys.len() as u32,
            peers: p.peers.len() as u32,
        };
        ctx.sync
            .send_fds(&msg, &fds)
            .ctx(|| format!("container \"{name}\": cannot hand the console to the monitor"))?;
    }
    drop(ptys);

    sys::timing("child: mounts done");
    // Wait until the monitor has set up our network devices (it works in parallel with
    // the mounts above).
    match ctx.sync.recv() {
        Ok(Some(m)) if m.msg == Msg::Go => {}
        Ok(Some(m)) => {
            return Err(RuntimeError::msg(format!(
                "container \"{name}\": unexpected message from the monitor during start: {:?}, expected Go (a bug in hako: please report it)",
                m.msg
            )))
        }
        Ok(None) => {
            return Err(RuntimeError::msg(format!(
                "container \"{name}\": the monitor went away during start"
            )))
        }
        Err(e) => return Err(crate::error::sys_err("cannot read from the monitor", e)),
    }

    sys::timing("child: GO");
    // net.* once the interfaces are in (per-interface parameters need them)
    let at = match ctx.plan.proc_rw {
        Some(_) => sysctl::ProcSys::InRoot(&root),
        None => sysctl::ProcSys::Here,
    };
    sysctl::apply(spec, at, true)?;
    // OCI hooks: the monitor runs prestart and createRuntime (the runtime's namespaces),
    // then this process createContainer (the container's, the host's root still
    // visible); startContainer waits for `start` (wait_exec_fifo)
    let hook_state = match ctx.oci.and_then(|o| o.hook_state.as_deref()) {
        Some(_) if !spec.oci_hooks.is_empty() => Some(oci_create_hooks(ctx)?),
        _ => None,
    };
    mounts::pivot(&root, spec)?;
    drop(root);
    if let Some(f) = spec.rootfs_propagation {
        // OCI's linux.rootfsPropagation: on the container's root, now that the host's is
        // gone (shared: new peer groups of the container's mounts, which stay slaves of
        // the host's: nothing the container mounts reaches the host)
        let flags = nix::mount::MsFlags::from_bits_truncate(f as _);
        nix::mount::mount(None::<&str>, "/", None::<&str>, flags, None::<&str>).ctx(|| {
            format!("container \"{name}\": cannot set the propagation of its mounts (linux.rootfsPropagation)")
        })?;
    }

    for l in &spec.prlimits {
        let r = libc::rlimit {
            rlim_cur: l.soft,
            rlim_max: l.hard,
        };
        // SAFETY: setrlimit with a valid resource number and a valid struct.
        if unsafe { libc::setrlimit(l.resource as _, &r) } < 0 {
            return Err(crate::error::sys_err(
                format!(
                    "container \"{name}\": cannot apply lxc.prlimit (resource {})",
                    l.resource
                ),
                nix::errno::Errno::last(),
            ));
        }
    }

    if spec.console {
        nix::unistd::setsid().ctx(|| "setsid".into())?;
        let fd = nix::fcntl::open(
            "/dev/console",
            nix::fcntl::OFlag::O_RDWR,
            nix::sys::stat::Mode::empty(),
        )
        .ctx(|| format!("container \"{name}\": cannot open /dev/console"))?;
        sys::set_controlling_tty(fd).ctx(|| {
            format!("container \"{name}\": cannot make /dev/console the controlling terminal")
        })?;
        for t in 0..3 {
            nix::unistd::dup2(fd, t).ctx(|| "dup2".into())?;
        }
        if fd > 2 {
            let _ = nix::unistd::close(fd);
        }
    } else if ctx.oci.is_some_and(|o| o.inherit_stdio) {
        // OCI without a terminal: the caller's stdio (as runc), in a session of its own
        for (t, fd) in ctx.stdio.iter().enumerate().take(3) {
            nix::unistd::dup2(fd.as_raw_fd(), t as i32).ctx(|| "dup2".into())?;
        }
        let _ = nix::unistd::setsid();
    } else if spec.init_mode == InitMode::Exec {
        // no console: init's stdio is /dev/null
        let fd = nix::fcntl::open(
            "/dev/null",
            nix::fcntl::OFlag::O_RDWR,
            nix::sys::stat::Mode::empty(),
        );
        if let Ok(fd) = fd {
            for t in 0..3 {
                let _ = nix::unistd::dup2(fd, t);
            }
            if fd > 2 {
                let _ = nix::unistd::close(fd);
            }
        }
        let _ = nix::unistd::setsid();
    } else {
        // execute without a terminal: stdio are pipes hako made (it copies them to and
        // from the user's); anything else the monitor has on 0-2 (the host's /dev/null)
        // is replaced by the container's own /dev/null, never handed in
        for t in 0..3 {
            let pipe =
                nix::sys::stat::fstat(t).is_ok_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFIFO);
            if !pipe {
                let fd = nix::fcntl::open(
                    "/dev/null",
                    nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_NOCTTY,
                    nix::sys::stat::Mode::empty(),
                )
                .ctx(|| format!("container \"{name}\": cannot open its /dev/null"))?;
                if fd != t {
                    nix::unistd::dup2(fd, t).ctx(|| "dup2".into())?;
                    let _ = nix::unistd::close(fd);
                }
            }
        }
    }

    let cwd = spec.init_cwd.clone().unwrap_or_else(|| PathBuf::from("/"));
    nix::unistd::chdir(&cwd).ctx(|| {
        format!(
            "container \"{name}\": cannot chdir to {} (lxc.init.cwd)",
            cwd.display()
        )
    })?;

    drop_capabilities(name, ctx.cap_drop)?;
    if let Some(m) = &ctx.cap_sets {
        crate::capsets::bound(name, m, spec.init_uid.is_some_and(|u| u != 0))?;
    }
    if spec.no_new_privs {
        nix::sys::prctl::set_no_new_privs().ctx(|| "cannot set no_new_privs".into())?;
    }
    // The seccomp filters: before the start hook (the container's code) and the switch to
    // init's user, while still root with CAP_SYS_ADMIN (see seccomp_hook). In MiniInit
    // mode the small init runs under them too (container root could ptrace an unfiltered
    // PID 1) and the command inherits them.
    crate::seccomp_hook::install(name, &spec.seccomp)?;
    if spec.hooks.has(HookType::Start) {
        // The start hook is the container's program, run by its root while this process
        // is still hako: nothing of the host's may stay open here for it to take (through
        // /proc/1/fd or pidfd_getfd): only stdio (the container's console, its /dev/null
        // or hako's pipes) and the sync channel; and no ptrace access without
        // CAP_SYS_PTRACE (exec makes init dumpable again).
        // (the AppArmor exec attribute stays: it is written now, so that the hook runs
        // under the container's profile as in LXC, and again right before init's exec)
        hooks::drop_output();
        let label_fd = exec_label.as_ref().map(|l| l.as_raw_fd());
        hooks::close_fds_except(&[Some(ctx.sync.raw()), label_fd]);
        nix::sys::prctl::set_dumpable(false)
            .ctx(|| format!("container \"{name}\": cannot make its first process undumpable"))?;
        if let Some(l) = &exec_label {
            l.apply(name)?;
        }
        // as LXC: inside the container, with its capabilities, before the switch to
        // init's user; its output goes to the console. (A seccomp filter belongs before
        // this point, as in LXC: the hook is the container's code.)
        hooks::run_in_container(spec, HookType::Start, ctx.hook_env)?;
    }
    if spec.init_gid.is_some() || !spec.init_groups.is_empty() {
        let groups: Vec<nix::unistd::Gid> = spec
            .init_groups
            .iter()
            .map(|g| nix::unistd::Gid::from_raw(*g))
            .collect();
        nix::unistd::setgroups(&groups)
            .ctx(|| format!("container \"{name}\": cannot set init's groups (lxc.init.groups)"))?;
    }
    if let Some(gid) = spec.init_gid {
        nix::unistd::setgid(nix::unistd::Gid::from_raw(gid))
            .ctx(|| format!("container \"{name}\": cannot setgid {gid} (lxc.init.gid)"))?;
    }
    if let Some(uid) = spec.init_uid {
        nix::unistd::setuid(nix::unistd::Uid::from_raw(uid))
            .ctx(|| format!("container \"{name}\": cannot setuid {uid} (lxc.init.uid)"))?;
    }
    if let Some(m) = &ctx.cap_sets {
        crate::capsets::apply(name, m)?;
    }

    if let Some(u) = spec.umask {
        // SAFETY: umask cannot fail.
        unsafe { libc::umask(u as libc::mode_t) };
    }
    let env = init_env(spec);
    let argv: Vec<CString> = spec
        .init_cmd
        .iter()
        .map(|a| {
            CString::new(a.as_bytes()).map_err(|_| {
                RuntimeError::msg(format!(
                    "container \"{name}\": NUL byte in the init command"
                ))
            })
        })
        .collect::<Result<_>>()?;
    if argv.is_empty() {
        return Err(RuntimeError::msg(format!(
            "container \"{name}\": empty init command; set lxc.init.cmd"
        )));
    }
    let path = resolve_in_path(&spec.init_cmd[0], &env);
    if spec.hooks.has(HookType::StartHost) {
        // set up completely: the monitor runs the start-host hooks, then init starts
        start_host(ctx)?;
    }
    match spec.init_mode {
        InitMode::Exec => {
            sys::cloexec_from(3).ctx(|| "close_range".into())?;
            if let Some(l) = &exec_label {
                l.apply(name)?;
            }
            sys::timing("child: exec");
            if let Some(fifo) = exec_fifo {
                // OCI create: set up; wait for `start`, then exec (the monitor no longer
                // listens: an exec failure goes to the process's stderr)
                ctx.sync
                    .send(&Msg::Created)
                    .ctx(|| format!("container \"{name}\": cannot report to the monitor"))?;
                wait_exec_fifo(fifo);
                if let Some(state) = &hook_state {
                    let state = hooks::oci::state_with(state, None, "created");
                    if let Err(e) = hooks::oci::run(
                        name,
                        &spec.oci_hooks,
                        hako_spec::OciHookStage::StartContainer,
                        &state,
                    ) {
                        eprintln!("{e}");
                        // SAFETY: end of this process; no destructors of the monitor's may run
                        unsafe { libc::_exit(1) }
                    }
                }
                let e = sys::exec(&path_cstring(&spec.init_cmd[0], &path), &argv, &env);
                eprintln!(
                    "container \"{name}\": cannot run {}: {}; check process.args and the rootfs {}",
                    spec.init_cmd[0],
                    errno_text(e),
                    spec.rootfs.display()
                );
                // SAFETY: end of this process; no destructors of the monitor's may run
                unsafe { libc::_exit(127) }
            }
            if let Some(state) = &hook_state {
                // OCI `run` in the foreground: the start is now
                let state = hooks::oci::state_with(state, None, "created");
                hooks::oci::run(
                    name,
                    &spec.oci_hooks,
                    hako_spec::OciHookStage::StartContainer,
                    &state,
                )?;
            }
            ctx.sync
                .send(&Msg::Exec)
                .ctx(|| format!("container \"{name}\": cannot report to the monitor"))?;
            let e = sys::exec(&path_cstring(&spec.init_cmd[0], &path), &argv, &env);
            Err(RuntimeError::msg(format!(
                "container \"{name}\": cannot run {} as init: {}; check lxc.init.cmd and the rootfs {}",
                spec.init_cmd[0],
                errno_text(e),
                spec.rootfs.display()
            )))
        }
        InitMode::MiniInit => {
            // the command miniinit forks and execs inherits the exec label
            if let Some(l) = &exec_label {
                l.apply(name)?;
            }
            // keep only stdio and the sync channel: the monitor's sockets are not ours
            let s = ctx.sync.raw() as u32;
            if s > 3 {
                sys::close_range(3, s - 1);
            }
            sys::close_range(s + 1, u32::MAX);
            crate::miniinit::run(
                ctx.sync,
                &path_cstring(&spec.init_cmd[0], &path),
                &argv,
                &env,
            )
        }
    }
}

/// OCI: block until `start` opens the exec fifo for reading, then tell it (one byte)
/// that the exec follows. Any failure here ends the process (the monitor sees it exit).
fn wait_exec_fifo(fifo: std::os::fd::RawFd) {
    let w = nix::fcntl::open(
        format!("/proc/self/fd/{fifo}").as_str(),
        nix::fcntl::OFlag::O_WRONLY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    );
    let ok = match w {
        // SAFETY: a fresh fd we own; write of a one-byte buffer.
        Ok(fd) => {
            let n = unsafe { libc::write(fd, b"0".as_ptr().cast(), 1) };
            let _ = nix::unistd::close(fd);
            n == 1
        }
        Err(_) => false,
    };
    let _ = nix::unistd::close(fifo);
    if !ok {
        eprintln!("cannot open the exec fifo to wait for start");
        // SAFETY: end of this process.
        unsafe { libc::_exit(127) }
    }
}

/// Waits for the monitor's [`Msg::Mapped`] and takes the rootfs mount it carries.
fn wait_mapped(
    ctx: &ChildCtx<'_>,
) -> Result<(crate::userns::RootfsMount, Vec<(u32, std::os::fd::OwnedFd)>)> {
    let name = &ctx.spec.name;
    match ctx.sync.recv() {
        Ok(Some(m))
            if matches!(&m.msg, Msg::Mapped { binds } if m.fds.len() == binds.len() + 1
                || (binds.is_empty() && m.fds.is_empty())) =>
        {
            let Msg::Mapped { binds } = m.msg else {
                unreachable!("matched above")
            };
            let mut fds = m.fds.into_iter();
            // no rootfs mount: a rootless start, init binds its rootfs (owned by its range
            // on disk) itself, while it still has the caller's ids on the host
            let mnt = match fds.next() {
                Some(f) => f,
                None => crate::userns::rootless::bind_rootfs(ctx.spec)?,
            };
            let target = crate::userns::rootfs_target(ctx.spec)?;
            Ok((
                crate::userns::RootfsMount { mnt, target },
                binds.into_iter().zip(fds).collect(),
            ))
        }
        Ok(Some(m)) => Err(RuntimeError::msg(format!(
            "container \"{name}\": unexpected message from the monitor during start: {:?} with {} fds, expected Mapped with its rootfs and binds (a bug in hako: please report it)",
            m.msg,
            m.fds.len()
        ))),
        Ok(None) => Err(RuntimeError::msg(format!(
            "container \"{name}\": the monitor went away during start"
        ))),
        Err(e) => Err(crate::error::sys_err("cannot read from the monitor", e)),
    }
}

/// OCI: asks the monitor to run the prestart and createRuntime hooks, then runs the
/// createContainer hooks here; returns the state document (init's host pid in it).
fn oci_create_hooks(ctx: &ChildCtx<'_>) -> Result<String> {
    let name = &ctx.spec.name;
    ctx.sync
        .send(&Msg::OciHooks)
        .ctx(|| format!("container \"{name}\": cannot report to the monitor"))?;
    let state = match ctx.sync.recv() {
        Ok(Some(m)) => match m.msg {
            Msg::OciState(s) => s,
            other => {
                return Err(RuntimeError::msg(format!(
                    "container \"{name}\": unexpected message from the monitor during create: {other:?}, expected OciState (a bug in hako: please report it)"
                )))
            }
        },
        // the monitor failed a hook: it reports that itself
        Ok(None) => {
            return Err(RuntimeError::msg(format!(
                "container \"{name}\": the monitor went away during create"
            )))
        }
        Err(e) => return Err(crate::error::sys_err("cannot read from the monitor", e)),
    };
    hooks::oci::run(
        name,
        &ctx.spec.oci_hooks,
        hako_spec::OciHookStage::CreateContainer,
        &state,
    )?;
    Ok(state)
}

/// Asks the monitor to run the start-host hooks and waits for its go-ahead.
fn start_host(ctx: &ChildCtx<'_>) -> Result<()> {
    let name = &ctx.spec.name;
    ctx.sync
        .send(&Msg::StartHost)
        .ctx(|| format!("container \"{name}\": cannot report to the monitor"))?;
    match ctx.sync.recv() {
        Ok(Some(m)) if m.msg == Msg::Go => Ok(()),
        Ok(Some(m)) => Err(RuntimeError::msg(format!(
            "container \"{name}\": unexpected message from the monitor during start: {:?}, expected Go (a bug in hako: please report it)",
            m.msg
        ))),
        // the monitor failed a hook: it reports that itself
        Ok(None) => Err(RuntimeError::msg(format!(
            "container \"{name}\": the monitor went away during start"
        ))),
        Err(e) => Err(crate::error::sys_err("cannot read from the monitor", e)),
    }
}

fn path_cstring(cmd: &str, path: &Option<PathBuf>) -> CString {
    match path {
        Some(p) => CString::new(p.as_os_str().as_encoded_bytes()).unwrap_or_default(),
        None => CString::new(cmd.as_bytes()).unwrap_or_default(),
    }
}

/// Resolve a bare command name through PATH (the container's environment or the default).
pub fn resolve_in_path(cmd: &str, env: &[CString]) -> Option<PathBuf> {
    if cmd.contains('/') {
        return Some(PathBuf::from(cmd));
    }
    let path = env
        .iter()
        .find_map(|e| {
            e.to_str()
                .ok()
                .and_then(|s| s.strip_prefix("PATH="))
                .map(String::from)
        })
        .unwrap_or_else(|| DEFAULT_PATH.to_string());
    for dir in path.split(':') {
        let p = Path::new(dir).join(cmd);
        if nix::unistd::access(&p, nix::unistd::AccessFlags::X_OK).is_ok() {
            return Some(p);
        }
    }
    None
}

/// container=lxc, container_ttys when ttys exist, then lxc.environment.
pub fn init_env(spec: &ContainerSpec) -> Vec<CString> {
    if spec.env_exact {
        // OCI's process.env: exactly the given environment
        return spec
            .env
            .iter()
            .filter_map(|(k, v)| CString::new(format!("{k}={v}")).ok())
            .collect();
    }
    let mut env = vec![CString::new("container=lxc").unwrap()];
    if spec.tty_max > 0 {
        let ttys: Vec<String> = (1..=spec.tty_max).map(|i| format!("tty{i}")).collect();
        if let Ok(c) = CString::new(format!("container_ttys={}", ttys.join(" "))) {
            env.push(c);
        }
    }
    for (k, v) in &spec.env {
        env.retain(|e| !e.to_bytes().starts_with(format!("{k}=").as_bytes()));
        if let Ok(c) = CString::new(format!("{k}={v}")) {
            env.push(c);
        }
    }
    env
}

/// lxc.cap.drop / lxc.cap.keep: remove from the bounding set, and from the inheritable and
/// ambient sets so exec cannot give them back. A failure is fatal: a container must not
/// run with a capability its config drops.
pub fn drop_capabilities(name: &str, mask: u64) -> Result<()> {
    limit_capabilities(|c| c.index() < 64 && mask & (1 << c.index()) != 0).ctx(|| {
        format!("container \"{name}\": cannot drop capabilities (lxc.cap.drop/lxc.cap.keep)")
    })
}

/// Drop every capability `drop` selects from this process's bounding and inheritable sets
/// and clear the ambient set. Capabilities the running kernel does not know are skipped.
pub fn limit_capabilities(drop: impl Fn(caps::Capability) -> bool) -> nix::Result<()> {
    use caps::CapSet;
    let err = |_| nix::errno::Errno::last();
    caps::clear(None, CapSet::Ambient).map_err(err)?;
    let mut inheritable = caps::read(None, CapSet::Inheritable).map_err(err)?;
    for c in caps::all() {
        if !drop(c) {
            continue;
        }
        // one prctl per capability (the bounding set has no batch call); EINVAL: newer
        // than the running kernel, nothing to drop
        // SAFETY: prctl with integer arguments only.
        if unsafe { libc::prctl(libc::PR_CAPBSET_DROP, c.index() as libc::c_ulong, 0, 0, 0) } < 0 {
            match nix::errno::Errno::last() {
                nix::errno::Errno::EINVAL => continue,
                e => return Err(e),
            }
        }
        inheritable.remove(&c);
    }
    // the inheritable set in one capset
    caps::set(None, CapSet::Inheritable, &inheritable).map_err(err)
}

/// "sys_admin" for CAP_SYS_ADMIN.
pub fn cap_name(c: caps::Capability) -> String {
    c.to_string()
        .trim_start_matches("CAP_")
        .to_ascii_lowercase()
}
