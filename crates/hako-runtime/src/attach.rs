//! attach: run a command inside a running container. We join the init's cgroup and every
//! namespace through its pidfd, fork once more so the command is inside the pid namespace,
//! and connect its stdio without handing it any host fd (see [`crate::stdio`]): a pty
//! from the container's own devpts for whatever is a terminal, pipes otherwise.

use std::ffi::CString;
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;

use nix::sched::CloneFlags;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult};

use crate::child::{resolve_in_path, DEFAULT_PATH};
use crate::error::{errno_text, Context, Result, RuntimeError};
use crate::stdio;
use crate::sys;

/// `lxc-attach -e/--elevated-privileges[=CAP|CGROUP|LSM]`: what the attached command
/// keeps of the caller's privileges instead of taking the container's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Elevated {
    /// CAP: keep the caller's capabilities (no drop to init's bounding set)
    pub cap: bool,
    /// CGROUP: stay in the caller's cgroups (not moved into init's)
    pub cgroup: bool,
    /// LSM: no AppArmor label (init's profile is not applied)
    pub lsm: bool,
}

impl Elevated {
    pub const ALL: Elevated = Elevated {
        cap: true,
        cgroup: true,
        lsm: true,
    };
}

#[derive(Clone, Debug, Default)]
pub struct AttachSpec {
    pub name: String,
    pub command: Vec<String>,
    pub clear_env: bool,
    pub set_env: Vec<(String, String)>,
    pub keep_vars: Vec<String>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub cwd: Option<PathBuf>,
    /// the container shares the host's network namespace
    pub share_host_net: bool,
    /// lxc.no_new_privs: the attached process gets it too
    pub no_new_privs: bool,
    /// lxc.keyring.session: a fresh session keyring (default), never the caller's
    pub new_keyring: bool,
    /// the seccomp filters the container's init got (ContainerSpec::seccomp)
    pub seccomp: Vec<hako_seccomp::Program>,
    /// OCI `exec`: the environment is `set_env` exactly (no caller's variables, no
    /// container=lxc)
    pub exact_env: bool,
    /// OCI `exec --detach`: the command inherits the caller's stdio (no relay), nobody
    /// waits for it here (its parent exits: it goes to the caller's subreaper), and
    /// [`attach`] returns its host pid once it has exec'd
    pub detach: bool,
    /// OCI `exec -t --console-socket S`: the command's fds 0-2 are a pty of the
    /// container's devpts whose master is sent to S (SCM_RIGHTS, as runc does); nothing
    /// is relayed here
    pub console_socket: Option<PathBuf>,
    /// `-e`: privileges of the caller the command keeps (seccomp and no_new_privs are
    /// applied all the same)
    pub elevated: Elevated,
    /// `-L/--pty-log FILE` (a host path): the command's terminal output is appended to
    /// it too; opened here before anything runs, and only hako's relay holds it
    pub pty_log: Option<PathBuf>,
    /// `-s/--namespaces`: join only these of the container's namespaces (None: all);
    /// the command keeps the host's others (without the mount namespace it is resolved
    /// and run on the host's file system, and no AppArmor label is applied, as in LXC)
    pub namespaces: Option<CloneFlags>,
    /// `-R/--remount-sys-proc` (with `namespaces` lacking the mount namespace): a private
    /// mount namespace whose /proc and /sys are mounted anew for the namespaces joined
    pub remount_sys_proc: bool,
}

/// Attach to the container whose init is `pid` (`pidfd` from the monitor). Returns the
/// exit code: the command's status, 128+N for a signal, 127 when it cannot be run.
pub fn attach(spec: &AttachSpec, pid: i32, pidfd: &OwnedFd) -> Result<i32> {
    let name = &spec.name;
    let log = match &spec.pty_log {
        Some(p) => Some(open_pty_log(p)?),
        None => None,
    };
    let root: OwnedFd = std::fs::File::open(format!("/proc/{pid}/root"))
        .map(OwnedFd::from)
        .map_err(|e| {
            crate::error::io_err(format!("container \"{name}\": cannot open its root"), e)
        })?;
    let plan = if let Some(sock) = &spec.console_socket {
        let (master, slave, n) = sys::open_pty_in(root.as_fd()).map_err(|e| {
            RuntimeError::msg(format!(
                "container \"{name}\": cannot allocate a pty in the container (its /dev/pts/ptmx): {}",
                errno_text(e)
            ))
        })?;
        crate::term::send_pty_master(sock, &master, &format!("/dev/pts/{n}")).map_err(|e| {
            crate::error::io_err(
                format!(
                    "container \"{name}\": cannot send the terminal to the console socket {}",
                    sock.display()
                ),
                e,
            )
        })?;
        Some(stdio::Plan::console(slave))
    } else if spec.detach {
        None
    } else {
        Some(stdio::Plan::new(|| {
            sys::open_pty_in(root.as_fd())
                .map(|(m, s, _)| (m, s))
                .ctx(|| format!("container \"{name}\": cannot allocate a pty in the container (its /dev/pts/ptmx)"))
        })?.with_log(log))
    };
    let cgroups = if spec.elevated.cgroup {
        Vec::new()
    } else {
        init_cgroups(pid)
    };
    // the attached process gets no capability init does not have; without knowing init's
    // set, nothing is started. `-e CAP`: the caller's set is kept (None)
    let bounding = if spec.elevated.cap {
        None
    } else {
        Some(cap_bounding(pid).ok_or_else(|| {
            RuntimeError::msg(format!(
                "container \"{name}\": cannot read the capabilities of its init (pid {pid}) from /proc/{pid}/status; nothing was started"
            ))
        })?)
    };
    // a container with a user namespace of its own (lxc.idmap): join it too, and be its
    // root (the host's root ids are not mapped there)
    let userns = crate::userns::has_own_userns(pid);
    let user_env = build_env(spec, pid);
    let argv = command_argv(spec, &root);
    drop(root);
    // the command runs under init's AppArmor profile (read here, on the host's /proc)
    // (`-e LSM`: none)
    let joins_mnt = spec
        .namespaces
        .is_none_or(|f| f.contains(CloneFlags::CLONE_NEWNS));
    let label = if spec.elevated.lsm || !joins_mnt {
        None
    } else {
        crate::lsm::AttachLabel::for_init(name, pid)?
    };
    let (err_r, err_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).ctx(|| "pipe".into())?;

    // SAFETY: the CLI is single-threaded.
    match unsafe { fork() }.ctx(|| "fork".into())? {
        ForkResult::Child => {
            drop(err_r);
            let plan = plan.map(|p| p.child_side());
            let code = attach_child(
                spec,
                userns,
                pidfd,
                &cgroups,
                bounding,
                &argv,
                &user_env,
                plan.as_ref(),
                err_w,
                label.as_ref(),
            );
            // SAFETY: end of a forked child.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => {
            drop(err_w);
            if spec.detach {
                drop(plan);
                return detached_report(name, child, err_r);
            }
            let Some(plan) = plan else {
                return Err(RuntimeError::msg("attach: no stdio plan".to_string()));
            };
            match sys::pidfd_open(child.as_raw()) {
                // a console's master is the socket's receiver's to serve
                Ok(done) if spec.console_socket.is_none() => plan.relay(done.as_fd(), None),
                // cannot watch it: wait without relaying (no stdio reaches the process)
                _ => drop(plan),
            }
            let status = loop {
                match waitpid(child, None) {
                    Ok(WaitStatus::Exited(_, c)) => break c,
                    Ok(WaitStatus::Signaled(_, s, _)) => break 128 + s as i32,
                    Ok(_) => continue,
                    Err(nix::errno::Errno::EINTR) => continue,
                    Err(e) => {
                        return Err(crate::error::sys_err("wait for the attached command", e))
                    }
                }
            };
            let mut msg = String::new();
            let _ = std::io::Read::read_to_string(&mut std::fs::File::from(err_r), &mut msg);
            if !msg.is_empty() && (status == 127 || status == 126 || msg.starts_with("setup:")) {
                let m = msg.trim_start_matches("setup:").to_string();
                if msg.starts_with("setup:") {
                    return Err(RuntimeError::msg(m));
                }
                eprintln!("{m}");
            }
            Ok(status)
        }
    }
}

/// `-R`: a mount namespace of the command's own (nothing propagates back to the host),
/// with /proc for the pid namespace it is in and /sys for its network namespace.
fn remount_sys_proc() -> std::result::Result<(), (&'static str, nix::errno::Errno)> {
    use nix::mount::{mount, umount2, MntFlags, MsFlags};
    nix::sched::unshare(CloneFlags::CLONE_NEWNS)
        .map_err(|e| ("unshare a mount namespace (-R)", e))?;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_SLAVE,
        None::<&str>,
    )
    .map_err(|e| ("make / a slave mount (-R)", e))?;
    let fl = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    umount2("/proc", MntFlags::MNT_DETACH).map_err(|e| ("unmount /proc (-R)", e))?;
    mount(Some("proc"), "/proc", Some("proc"), fl, None::<&str>)
        .map_err(|e| ("mount /proc (-R)", e))?;
    umount2("/sys", MntFlags::MNT_DETACH).map_err(|e| ("unmount /sys (-R)", e))?;
    mount(Some("sysfs"), "/sys", Some("sysfs"), fl, None::<&str>)
        .map_err(|e| ("mount /sys (-R)", e))?;
    Ok(())
}

/// `-L FILE`: created (0600) or appended to; close-on-exec, and the child side of the
/// plan lets go of it before the container is entered.
fn open_pty_log(p: &Path) -> Result<OwnedFd> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .custom_flags(libc::O_NOCTTY)
        .open(p)
        .map(OwnedFd::from)
        .map_err(|e| {
            crate::error::io_err(
                format!(
                    "cannot open the pty log {} (-L); check that its directory exists and is writable",
                    p.display()
                ),
                e,
            )
        })
}

/// `detach`: the middle process reports the command's host pid ("pid:N\n") and exits;
/// the command's exec closes the pipe (close-on-exec), or it reports why it could not run.
fn detached_report(name: &str, middle: nix::unistd::Pid, err_r: OwnedFd) -> Result<i32> {
    let mut msg = String::new();
    let _ = std::io::Read::read_to_string(&mut std::fs::File::from(err_r), &mut msg);
    let _ = waitpid(middle, None);
    let (first, rest) = msg.split_once('\n').unwrap_or((msg.as_str(), ""));
    match first
        .strip_prefix("pid:")
        .and_then(|p| p.parse::<i32>().ok())
    {
        Some(pid) if rest.is_empty() => Ok(pid),
        Some(_) => Err(RuntimeError::msg(
            rest.trim_start_matches("setup:").to_string(),
        )),
        None => Err(RuntimeError::msg(if msg.is_empty() {
            format!("container \"{name}\": the command did not start (no report)")
        } else {
            msg.trim_start_matches("setup:").to_string()
        })),
    }
}

#[allow(clippy::too_many_arguments)]
fn attach_child(
    spec: &AttachSpec,
    userns: bool,
    pidfd: &OwnedFd,
    cgroups: &[PathBuf],
    bounding: Option<u64>,
    argv: &[CString],
    env: &[CString],
    plan: Option<&stdio::Plan>,
    err_w: OwnedFd,
    label: Option<&crate::lsm::AttachLabel>,
) -> i32 {
    let name = &spec.name;
    let report = |m: String| {
        let _ = nix::unistd::write(&err_w, m.as_bytes());
    };
    // join the init's cgroup in every hierarchy (host paths)
    for cg in cgroups {
        if let Err(e) = std::fs::write(cg.join("cgroup.procs"), std::process::id().to_string()) {
            report(format!(
                "setup:container \"{name}\": cannot join its cgroup {}: {e}",
                cg.display()
            ));
            return 1;
        }
    }
    let mut flags = CloneFlags::CLONE_NEWNS
        | CloneFlags::CLONE_NEWUTS
        | CloneFlags::CLONE_NEWIPC
        | CloneFlags::CLONE_NEWPID
        | CloneFlags::CLONE_NEWCGROUP;
    if !spec.share_host_net {
        flags |= CloneFlags::CLONE_NEWNET;
    }
    if userns {
        flags |= CloneFlags::CLONE_NEWUSER;
    }
    if let Some(only) = spec.namespaces {
        flags &= only;
    }
    let userns = userns && flags.contains(CloneFlags::CLONE_NEWUSER);
    if let Err(e) = nix::sched::setns(pidfd.as_fd(), flags) {
        report(format!(
            "setup:container \"{name}\": cannot enter its namespaces: {}",
            errno_text(e)
        ));
        return 1;
    }
    // SAFETY: single-threaded child.
    match unsafe { fork() } {
        Ok(ForkResult::Child) => {}
        Ok(ForkResult::Parent { child }) => {
            if spec.detach {
                // the command's pid for the caller; the command reports on the same
                // pipe if it cannot run, and its exec closes it
                report(format!("pid:{}\n", child.as_raw()));
                return 0;
            }
            drop(err_w);
            return loop {
                match waitpid(child, None) {
                    Ok(WaitStatus::Exited(_, c)) => break c,
                    Ok(WaitStatus::Signaled(_, s, _)) => break 128 + s as i32,
                    Ok(_) => continue,
                    Err(nix::errno::Errno::EINTR) => continue,
                    Err(_) => break 1,
                }
            };
        }
        Err(e) => {
            report(format!(
                "setup:container \"{name}\": cannot fork inside it: {}",
                errno_text(e)
            ));
            return 1;
        }
    }
    // now inside the pid namespace
    let fail = |what: &str, e: nix::errno::Errno| -> i32 {
        report(format!(
            "setup:container \"{name}\": cannot {what} for the attached command: {}",
            errno_text(e)
        ));
        1
    };
    if userns {
        if let Err(e) = crate::userns::become_root(name) {
            report(format!("setup:{e}"));
            return 1;
        }
    }
    if !spec.detach {
        let _ = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL);
    }
    if spec.remount_sys_proc && !flags.contains(CloneFlags::CLONE_NEWNS) {
        if let Err((what, e)) = remount_sys_proc() {
            return fail(what, e);
        }
    }
    if let Some(Err((what, e))) = plan.map(|p| p.install()) {
        return fail(what, e);
    }
    // never the caller's keyring: a fresh session keyring of the process's own
    if spec.new_keyring {
        if let Err(e) = sys::join_new_session_keyring() {
            return fail("create a session keyring (lxc.keyring.session)", e);
        }
    }
    let cwd = spec.cwd.clone().unwrap_or_else(|| PathBuf::from("/"));
    if nix::unistd::chdir(&cwd).is_err() {
        let _ = nix::unistd::chdir("/");
    }
    if let Some(bounding) = bounding {
        if let Err(e) = crate::child::limit_capabilities(|c| {
            let idx = c.index() as u64;
            idx >= 64 || bounding & (1 << idx) == 0
        }) {
            return fail("drop capabilities", e);
        }
    }
    // the filters of init, installed as root before the uid changes (see seccomp_hook)
    if let Err(e) = crate::seccomp_hook::install(name, &spec.seccomp) {
        report(format!("setup:{e}"));
        return 1;
    }
    if let Some(gid) = spec.gid {
        let _ = nix::unistd::setgroups(&[]);
        if let Err(e) = nix::unistd::setgid(nix::unistd::Gid::from_raw(gid)) {
            report(format!(
                "setup:container \"{name}\": cannot setgid {gid}: {}",
                errno_text(e)
            ));
            return 1;
        }
    }
    if let Some(uid) = spec.uid {
        if let Err(e) = nix::unistd::setuid(nix::unistd::Uid::from_raw(uid)) {
            report(format!(
                "setup:container \"{name}\": cannot setuid {uid}: {}",
                errno_text(e)
            ));
            return 1;
        }
    }
    if spec.no_new_privs {
        if let Err(e) = nix::sys::prctl::set_no_new_privs() {
            return fail("set no_new_privs (lxc.no_new_privs)", e);
        }
    }
    let cmd = argv[0].to_string_lossy().into_owned();
    let path = resolve_in_path(&cmd, env);
    let cpath = match &path {
        Some(p) => CString::new(p.as_os_str().as_encoded_bytes()).unwrap_or_default(),
        None => {
            report(format!(
                "cannot run \"{cmd}\" in container \"{name}\": command not found"
            ));
            return 127;
        }
    };
    if let Some(l) = label {
        if let Err(m) = l.apply() {
            report(format!(
                "setup:container \"{name}\": {m}; the command is not run"
            ));
            return 1;
        }
    }
    let _ = sys::cloexec_from(3);
    let e = sys::exec(&cpath, argv, env);
    report(format!(
        "cannot run \"{cmd}\" in container \"{name}\": {}",
        errno_text(e)
    ));
    if e == nix::errno::Errno::EACCES {
        126
    } else {
        127
    }
}

/// The host cgroup directories of the init, per hierarchy (from /proc/PID/cgroup), so an
/// attached command lands where init is (a systemd guest delegates sub-cgroups).
fn init_cgroups(pid: i32) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(host) = hako_cgroups::Host::detect() else {
        return out;
    };
    let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/cgroup")) else {
        return out;
    };
    // rootless: where the container has no cgroup of its own (init is in the caller's),
    // there is nothing to join, and the caller could not write it
    let own = if crate::userns::rootless::is_rootless() {
        std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default()
    } else {
        String::new()
    };
    for line in text.lines() {
        if own.lines().any(|l| l == line) {
            continue;
        }
        let mut it = line.splitn(3, ':');
        let (_, ctrls, path) = match (it.next(), it.next(), it.next()) {
            (Some(a), Some(b), Some(c)) => (a, b, c),
            _ => continue,
        };
        let h = host.hierarchies.iter().find(|h| {
            if ctrls.is_empty() {
                h.version == 2
            } else {
                h.version == 1
                    && ctrls
                        .split(',')
                        .all(|c| h.controllers.iter().any(|x| x == c))
            }
        });
        if let Some(h) = h {
            let rel = Path::new(path.trim_start_matches('/'));
            let root_rel = h.root.strip_prefix("/").unwrap_or(&h.root);
            let rel = rel.strip_prefix(root_rel).unwrap_or(rel);
            out.push(h.mountpoint.join(rel));
        }
    }
    out
}

use std::path::Path;

/// CapBnd of the init: the attached command gets no more than init has.
fn cap_bounding(pid: i32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let l = s.lines().find(|l| l.starts_with("CapBnd:"))?;
    u64::from_str_radix(l[7..].trim(), 16).ok()
}

fn build_env(spec: &AttachSpec, _pid: i32) -> Vec<CString> {
    if spec.exact_env {
        return spec
            .set_env
            .iter()
            .filter_map(|(k, v)| CString::new(format!("{k}={v}")).ok())
            .collect();
    }
    let mut env: Vec<(String, String)> = Vec::new();
    if spec.clear_env {
        for k in &spec.keep_vars {
            if let Ok(v) = std::env::var(k) {
                env.push((k.clone(), v));
            }
        }
        // as LXC: only the kept variables, a default PATH unless PATH was kept (no TERM)
        if !env.iter().any(|(k, _)| k == "PATH") {
            env.push(("PATH".into(), DEFAULT_PATH.into()));
        }
    } else {
        for (k, v) in std::env::vars() {
            env.push((k, v));
        }
        if !env.iter().any(|(k, _)| k == "PATH") {
            env.push(("PATH".into(), DEFAULT_PATH.into()));
        }
    }
    env.retain(|(k, _)| k != "container");
    env.push(("container".into(), "lxc".into()));
    for (k, v) in &spec.set_env {
        env.retain(|(x, _)| x != k);
        env.push((k.clone(), v.clone()));
    }
    env.into_iter()
        .filter_map(|(k, v)| CString::new(format!("{k}={v}")).ok())
        .collect()
}

/// The command, or the user's login shell from the container's /etc/passwd (read inside
/// the container's root: its symlinks cannot point hako at a host file).
fn command_argv(spec: &AttachSpec, root: &OwnedFd) -> Vec<CString> {
    if !spec.command.is_empty() {
        return spec
            .command
            .iter()
            .filter_map(|a| CString::new(a.as_bytes()).ok())
            .collect();
    }
    let uid = spec.uid.unwrap_or(0);
    // a FIFO or device node put there is refused before it is opened
    let passwd = crate::inroot::open_regular_in_root(root.as_fd(), Path::new("etc/passwd"))
        .ok()
        .and_then(|f| {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut std::io::Read::take(f, 4 << 20), &mut s)
                .ok()
                .map(|_| s)
        });
    let shell = passwd
        .and_then(|p| {
            p.lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() >= 7 && f[2].parse::<u32>().ok() == Some(uid)).then(|| f[6].to_string())
            })
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "/bin/sh".to_string());
    vec![CString::new(shell).unwrap_or_default()]
}
