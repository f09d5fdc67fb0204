//! LXC's container hooks (`lxc.hook.*`, lxc.container.conf(5) "CONTAINER HOOKS"): programs
//! run at fixed points of a container's life, with LXC's arguments and environment.
//!
//! Where each type runs in hako:
//!
//! | hook | process, namespaces | when |
//! |---|---|---|
//! | `pre-start` | the monitor, host's | first of all: no cgroup, namespace or network yet |
//! | `pre-mount` | the container's first process, container's (its mount namespace a slave of the host's) | before the root filesystem is mounted |
//! | `mount` | the same | after the root filesystem, `lxc.mount.auto`, `lxc.mount.entry`/`fstab`; before /dev is populated and before pivot_root |
//! | `autodev` | the same (`lxc.autodev = 1` only) | after the mount hooks, once /dev has its device nodes |
//! | `start-host` | the monitor, host's | the container is set up (network, mounts, start hooks): right before init's exec; `LXC_PID` |
//! | `start` | inside the container (after pivot_root, capabilities dropped; the path is the container's) | right before init's exec |
//! | `stop` | the monitor, host's | init has exited; cgroup and network are still there; the namespaces as `/proc/MONITOR/fd/N` |
//! | `post-stop` | the monitor, host's | everything of the run is gone; also after a start that failed |
//! | `clone` | `hako copy`, a mount namespace of its own | the copy is complete, its root filesystem mounted at `LXC_ROOTFS_MOUNT` |
//! | `destroy` | `hako destroy`, host's | before anything is removed |
//!
//! A hook's value is a command line, split into words as `lxc.init.cmd` is (quotes group
//! words) and executed directly, without a shell: `/bin/sh -c '...'` runs shell code.
//! With `lxc.hook.version = 0` (the default) the arguments `NAME lxc TYPE` follow the
//! hook's own (then, for `stop`, one `TYPE:/proc/PID/fd/N` per namespace; for `clone`, the
//! arguments given after `--` to `copy`); with 1 only the `clone` arguments follow, and
//! `LXC_HOOK_TYPE`, `LXC_HOOK_SECTION` and `LXC_<NS>_NS` tell the rest.
//!
//! Each hook runs with stdin empty and stdout and stderr on a pipe: its output is copied,
//! line by line and prefixed, to the stderr of `hako start` while the start is reported
//! (the monitor's own stderr otherwise, which is the terminal in the foreground and
//! /dev/null for a daemon; for `start` hooks, the container's console), and its last
//! lines are quoted when it fails. A hook that
//! fails (exit status not 0, a signal, or it cannot be run) fails the start (or `copy`,
//! `destroy`), and the start leaves nothing behind; a failing `stop` or `post-stop` hook
//! is reported to `hako stop`. A hook may run [`DEFAULT_TIME_LIMIT`] at most
//! (`HAKO_HOOK_TIMEOUT=SECONDS`, 0 for no limit); then it is killed with its process group.

use std::ffi::{CStr, CString};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::wait::{waitpid, WaitStatus};
use serde::{Deserialize, Serialize};

use crate::error::{errno_text, Result, RuntimeError};
use crate::spec::ContainerSpec;
use crate::sys;

/// How long one hook may run unless `HAKO_HOOK_TIMEOUT` says otherwise. LXC has no limit;
/// a hook that hangs would hold `hako start` (or the monitor, at stop) forever.
pub const DEFAULT_TIME_LIMIT: Duration = Duration::from_secs(300);

pub use hako_spec::hooks::{Hook, HookType, Hooks};

/// The `LXC_*` variables every hook of `spec` gets: name, config file, root filesystem,
/// console, cgroup namespace awareness, log level. `console_log` is where the console is
/// logged, if it is.
pub fn lxc_env(spec: &ContainerSpec, console_log: Option<&Path>) -> Vec<(String, String)> {
    let h = &spec.hooks;
    let mut v = vec![
        ("LXC_NAME".to_string(), spec.name.clone()),
        (
            "LXC_CONFIG_FILE".to_string(),
            spec.config_path.display().to_string(),
        ),
        (
            "LXC_ROOTFS_MOUNT".to_string(),
            spec.rootfs.display().to_string(),
        ),
        ("LXC_ROOTFS_PATH".to_string(), h.rootfs_path.clone()),
    ];
    if let Some(c) = &h.console_path {
        v.push(("LXC_CONSOLE".to_string(), c.clone()));
    }
    if let Some(l) = console_log {
        v.push(("LXC_CONSOLE_LOGPATH".to_string(), l.display().to_string()));
    }
    v.push(("LXC_CGNS_AWARE".to_string(), "1".to_string()));
    v.push(("LXC_LOG_LEVEL".to_string(), h.log_level.clone()));
    v
}

/// The environment of a hook of type `t`: `base` (this process's environment when None)
/// without any `LXC_*` variable it had, then `vars`, `LXC_HOOK_VERSION` and, with version
/// 1, `LXC_HOOK_TYPE` and `LXC_HOOK_SECTION`.
pub fn environment(
    base: Option<&[CString]>,
    vars: &[(String, String)],
    version: u8,
    t: HookType,
) -> Vec<CString> {
    let mut env: Vec<CString> = match base {
        Some(b) => b.to_vec(),
        None => std::env::vars_os()
            .filter_map(|(k, v)| {
                let mut b = k.as_bytes().to_vec();
                b.push(b'=');
                b.extend_from_slice(v.as_bytes());
                CString::new(b).ok()
            })
            .collect(),
    };
    env.retain(|e| !e.to_bytes().starts_with(b"LXC_"));
    let mut add = |k: &str, v: &str| {
        if let Ok(c) = CString::new(format!("{k}={v}")) {
            env.push(c);
        }
    };
    for (k, v) in vars {
        add(k, v);
    }
    add("LXC_HOOK_VERSION", if version == 0 { "0" } else { "1" });
    if version != 0 {
        add("LXC_HOOK_TYPE", t.name());
        add("LXC_HOOK_SECTION", "lxc");
    }
    env
}

/// Runs every hook of type `t` in order, each to its end, and stops at the first that
/// fails. `env` is the complete environment ([`environment`]); `extra` follows the
/// arguments (stop: the namespaces with version 0; clone: those given to `copy`). The
/// program of a hook is looked up in `env`'s PATH when it has no `/`.
pub fn run(
    name: &str,
    hooks: &Hooks,
    t: HookType,
    env: &[CString],
    extra: &[String],
) -> Result<()> {
    for h in hooks.of(t) {
        run_one(name, hooks.version, h, env, extra)?;
    }
    Ok(())
}

fn run_one(name: &str, version: u8, h: &Hook, env: &[CString], extra: &[String]) -> Result<()> {
    let what = || format!("container \"{name}\": {}", h.describe());
    let prog = &h.argv[0];
    let Some(path) = crate::child::resolve_in_path(prog, env) else {
        return Err(RuntimeError::msg(format!(
            "{}: cannot run it: {prog} is not in PATH; give the program's full path",
            what()
        )));
    };
    let cstr = |s: &str| {
        CString::new(s.as_bytes())
            .map_err(|_| RuntimeError::msg(format!("{}: a NUL byte in its arguments", what())))
    };
    let mut argv = Vec::with_capacity(h.argv.len() + 3 + extra.len());
    for a in &h.argv {
        argv.push(cstr(a)?);
    }
    if version == 0 {
        argv.push(cstr(name)?);
        argv.push(cstr("lxc")?);
        argv.push(cstr(h.kind.name())?);
    }
    for a in extra {
        argv.push(cstr(a)?);
    }
    let cpath = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| RuntimeError::msg(format!("{}: a NUL byte in the program's path", what())))?;
    let label = format!("hako: container \"{name}\": lxc.hook.{}", h.kind.name());
    match spawn_wait(&cpath, &argv, env, &label, time_limit()) {
        Ok(()) => Ok(()),
        Err(Failure::Exec(e)) => Err(RuntimeError::msg(format!(
            "{}: cannot run {}: {}; {}",
            what(),
            path.display(),
            errno_text(e),
            match e {
                Errno::ENOENT => "install the program or fix the path",
                Errno::EACCES => "make it executable (chmod +x) or fix the path",
                Errno::ENOEXEC => "give a script a #! line, or run it through /bin/sh",
                _ => "fix the hook or remove the line",
            }
        ))),
        Err(Failure::Ended { status, tail }) => Err(RuntimeError::msg(format!(
            "{}: failed with {status}{}; fix the hook or remove the line",
            what(),
            if tail.is_empty() {
                String::new()
            } else {
                format!(" (its last output: {tail})")
            }
        ))),
        Err(Failure::Sys(s)) => Err(RuntimeError::msg(format!("{}: {s}", what()))),
    }
}

/// `$HAKO_HOOK_TIMEOUT` seconds, 0 for none; [`DEFAULT_TIME_LIMIT`] otherwise.
fn time_limit() -> Option<Duration> {
    match std::env::var("HAKO_HOOK_TIMEOUT")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
    {
        Some(0) => None,
        Some(s) => Some(Duration::from_secs(s)),
        None => Some(DEFAULT_TIME_LIMIT),
    }
}

/// Checks, before a start does anything, that the programs of the hooks that run on the
/// host side of this start and its stop exist and are executable (`start` hooks are the
/// container's and are looked up in it when they run; `clone` and `destroy` belong to
/// other commands). LXC finds out when it runs them.
pub fn check_host_programs(spec: &ContainerSpec) -> Result<()> {
    let name = &spec.name;
    let env = environment(None, &[], 0, HookType::PreStart);
    for h in &spec.hooks.list {
        let checked = match h.kind {
            HookType::Autodev => spec.autodev,
            HookType::Start | HookType::Clone | HookType::Destroy => false,
            _ => true,
        };
        if !checked {
            continue;
        }
        let prog = &h.argv[0];
        let why = match crate::child::resolve_in_path(prog, &env) {
            None => Some("it is not in PATH; give the program's full path".to_string()),
            Some(p) => match std::fs::metadata(&p) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(format!(
                    "{} does not exist; install the package that provides it, or remove the line",
                    p.display()
                )),
                Err(e) => Some(format!("cannot look at {}: {e}", p.display())),
                Ok(m) if !m.is_file() => Some(format!("{} is not a program file", p.display())),
                Ok(_) if nix::unistd::access(&p, nix::unistd::AccessFlags::X_OK).is_err() => {
                    Some(format!(
                        "{} is not executable; chmod +x it or fix the path",
                        p.display()
                    ))
                }
                Ok(_) => None,
            },
        };
        if let Some(why) = why {
            return Err(RuntimeError::msg(format!(
                "container \"{name}\": cannot start: {}: {why}",
                h.describe()
            )));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Where hook output goes

/// A copy of the stderr of `hako start` (close-on-exec), kept by a daemon monitor until
/// the start is reported (and by the container's first process until its start hooks,
/// which never see it), so hooks' output reaches the user's terminal; -1 when there is
/// none (then it goes to this process's stderr).
static OUTPUT: AtomicI32 = AtomicI32::new(-1);

/// Keep a copy of this process's stderr for hook output (see [`OUTPUT`]); a no-op when
/// one is kept already.
pub fn keep_output() {
    if OUTPUT.load(Ordering::Relaxed) >= 0 {
        return;
    }
    if let Ok(fd) = nix::fcntl::fcntl(2, nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(3)) {
        OUTPUT.store(fd, Ordering::Relaxed);
    }
}

/// The start has been reported: hook output goes to this process's stderr again. (A
/// caller that captures `hako start`'s stderr through a pipe sees it end here.)
pub fn drop_output() {
    let fd = OUTPUT.swap(-1, Ordering::Relaxed);
    if fd >= 0 {
        let _ = nix::unistd::close(fd);
    }
}

fn output_fd() -> RawFd {
    match OUTPUT.load(Ordering::Relaxed) {
        fd if fd >= 0 => fd,
        _ => 2,
    }
}

/// Copies a hook's output to [`output_fd`] line by line with a prefix (control characters
/// shown as `?`: a start hook is the container's program, and this may be a terminal),
/// and keeps the last lines for an error text.
struct Sink<'a> {
    label: &'a str,
    partial: Vec<u8>,
    tail: std::collections::VecDeque<String>,
}

const TAIL_LINES: usize = 5;
const LINE_MAX: usize = 4096;

impl Sink<'_> {
    fn push(&mut self, mut data: &[u8]) {
        while let Some(i) = data.iter().position(|&b| b == b'\n') {
            self.partial.extend_from_slice(&data[..i]);
            self.line();
            data = &data[i + 1..];
        }
        self.partial.extend_from_slice(data);
        if self.partial.len() >= LINE_MAX {
            self.line();
        }
    }

    fn line(&mut self) {
        let text: String = String::from_utf8_lossy(&self.partial)
            .chars()
            .map(|c| if c.is_control() && c != '\t' { '?' } else { c })
            .collect();
        self.partial.clear();
        let out = format!("{}: {text}\n", self.label);
        write_all(output_fd(), out.as_bytes());
        if !text.trim().is_empty() {
            if self.tail.len() == TAIL_LINES {
                self.tail.pop_front();
            }
            self.tail.push_back(text.chars().take(300).collect());
        }
    }

    fn finish(mut self) -> String {
        if !self.partial.is_empty() {
            self.line();
        }
        self.tail.into_iter().collect::<Vec<_>>().join(" | ")
    }
}

fn write_all(fd: RawFd, mut b: &[u8]) {
    // SAFETY: fd is open for the duration of this call (stderr or the kept copy).
    let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    while !b.is_empty() {
        match nix::unistd::write(fd, b) {
            Ok(0) => return,
            Ok(n) => b = &b[n..],
            Err(Errno::EINTR) => continue,
            Err(_) => return,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Running one program

enum Failure {
    /// the program could not be executed
    Exec(Errno),
    /// it ran and failed: "exit status 3", "signal SIGSEGV", "the time limit of 300 s"
    Ended {
        status: String,
        tail: String,
    },
    Sys(String),
}

/// fork, exec `path` with `argv`/`env` (stdin empty, stdout and stderr on a pipe read
/// here, a session of its own), wait for it with `limit`. No threads: a pidfd and poll.
fn spawn_wait(
    path: &CStr,
    argv: &[CString],
    env: &[CString],
    label: &str,
    limit: Option<Duration>,
) -> std::result::Result<(), Failure> {
    let pipe = || {
        nix::unistd::pipe2(OFlag::O_CLOEXEC)
            .map_err(|e| Failure::Sys(format!("cannot make a pipe: {}", errno_text(e))))
    };
    let (out_r, out_w) = pipe()?;
    let (in_r, in_w) = pipe()?;
    drop(in_w);
    let (err_r, err_w) = pipe()?;
    // SAFETY: every caller is single-threaded (the monitor, the container's first process
    // before its exec, the CLI); the child only moves fds, resets signals and execs.
    let pid = match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Child) => exec_child(in_r, out_w, err_w, path, argv, env),
        Ok(nix::unistd::ForkResult::Parent { child }) => child,
        Err(e) => return Err(Failure::Sys(format!("cannot fork: {}", errno_text(e)))),
    };
    drop(out_w);
    drop(in_r);
    drop(err_w);
    let pidfd = sys::pidfd_open(pid.as_raw()).ok();
    let deadline = limit.map(|l| Instant::now() + l);
    let mut sink = Sink {
        label,
        partial: Vec::new(),
        tail: Default::default(),
    };
    let mut out = Some(out_r);
    let mut timed_out = false;
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if left == Some(Duration::ZERO) {
            timed_out = true;
            let _ = nix::sys::signal::killpg(pid, nix::sys::signal::Signal::SIGKILL);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            break;
        }
        use nix::poll::{PollFd, PollFlags, PollTimeout};
        let mut fds = Vec::with_capacity(2);
        if let Some(o) = &out {
            fds.push(PollFd::new(o.as_fd(), PollFlags::POLLIN));
        }
        if let Some(p) = &pidfd {
            fds.push(PollFd::new(p.as_fd(), PollFlags::POLLIN));
        }
        if fds.is_empty() {
            break; // no pidfd and the output has ended: wait below
        }
        let t = match left {
            Some(d) => {
                PollTimeout::try_from(d.max(Duration::from_millis(1))).unwrap_or(PollTimeout::MAX)
            }
            None => PollTimeout::NONE,
        };
        match nix::poll::poll(&mut fds, t) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => return Err(Failure::Sys(format!("poll: {}", errno_text(e)))),
        }
        let ready = |f: &PollFd| f.revents().is_some_and(|r| !r.is_empty());
        let out_ready = out.is_some() && ready(&fds[0]);
        let exited = pidfd.is_some() && ready(&fds[fds.len() - 1]);
        drop(fds);
        if out_ready {
            if let Some(o) = &out {
                match nix::unistd::read(o.as_raw_fd(), &mut buf) {
                    Ok(0) => out = None,
                    Ok(n) => sink.push(&buf[..n]),
                    Err(Errno::EINTR) | Err(Errno::EAGAIN) => {}
                    Err(_) => out = None,
                }
            }
        }
        if exited {
            // what it wrote before it ended; not what a process it left behind writes later
            if let Some(o) = &out {
                let _ = nix::fcntl::fcntl(
                    o.as_raw_fd(),
                    nix::fcntl::FcntlArg::F_SETFL(OFlag::O_NONBLOCK),
                );
                while let Ok(n @ 1..) = nix::unistd::read(o.as_raw_fd(), &mut buf) {
                    sink.push(&buf[..n]);
                }
            }
            break;
        }
    }
    let status = loop {
        match waitpid(pid, None) {
            Err(Errno::EINTR) => continue,
            other => break other,
        }
    };
    let tail = sink.finish();
    let mut eb = [0u8; 4];
    if let Ok(4) = nix::unistd::read(err_r.as_raw_fd(), &mut eb) {
        return Err(Failure::Exec(Errno::from_raw(i32::from_ne_bytes(eb))));
    }
    if timed_out {
        let l = limit.unwrap_or_default().as_secs();
        return Err(Failure::Ended {
            status: format!("no end within its time limit of {l} s (it was killed; HAKO_HOOK_TIMEOUT=SECONDS sets the limit, 0 for none)"),
            tail,
        });
    }
    match status {
        Ok(WaitStatus::Exited(_, 0)) => Ok(()),
        Ok(WaitStatus::Exited(_, c)) => Err(Failure::Ended {
            status: format!("exit status {c}"),
            tail,
        }),
        Ok(WaitStatus::Signaled(_, s, _)) => Err(Failure::Ended {
            status: format!("signal {s}"),
            tail,
        }),
        Ok(other) => Err(Failure::Sys(format!("unexpected wait status {other:?}"))),
        Err(e) => Err(Failure::Sys(format!(
            "cannot wait for it: {}",
            errno_text(e)
        ))),
    }
}

/// The forked hook process: stdin, stdout, stderr; a session of its own (no controlling
/// terminal, one process group to kill); default signals; no other fd; exec.
fn exec_child(
    in_r: OwnedFd,
    out_w: OwnedFd,
    err_w: OwnedFd,
    path: &CStr,
    argv: &[CString],
    env: &[CString],
) -> ! {
    use nix::sys::signal::{sigprocmask, SigHandler, SigSet, SigmaskHow, Signal};
    // move the pipe ends above 0-2 first, so that no dup2 below overwrites another
    let high = |fd: &OwnedFd| {
        nix::fcntl::fcntl(fd.as_raw_fd(), nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(10)).unwrap_or(-1)
    };
    let (i, o) = (high(&in_r), high(&out_w));
    let ok = i >= 0
        && o >= 0
        && nix::unistd::dup2(i, 0).is_ok()
        && nix::unistd::dup2(o, 1).is_ok()
        && nix::unistd::dup2(o, 2).is_ok();
    if ok {
        let _ = nix::unistd::setsid();
        let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
        for s in Signal::iterator() {
            if s != Signal::SIGKILL && s != Signal::SIGSTOP {
                // SAFETY: installing the default disposition runs no code of ours.
                let _ = unsafe { nix::sys::signal::signal(s, SigHandler::SigDfl) };
            }
        }
        let _ = sys::cloexec_from(3);
        let e = sys::exec(path, argv, env);
        let _ = nix::unistd::write(&err_w, &(e as i32).to_ne_bytes());
    } else {
        let _ = nix::unistd::write(&err_w, &(Errno::EMFILE as i32).to_ne_bytes());
    }
    // SAFETY: end of the forked child without running the parent's destructors.
    unsafe { libc::_exit(127) }
}

// ---------------------------------------------------------------------------------------
// The start and stop of a container (the monitor and the container's first process)

/// The hooks of one start, in the monitor: the `LXC_*` environment, and what runs on the
/// host side (pre-start, start-host, post-stop after a failed start).
pub struct Start<'a> {
    spec: &'a ContainerSpec,
    /// `LXC_*` of this start (empty without hooks)
    pub env: Vec<(String, String)>,
}

impl<'a> Start<'a> {
    /// Checks the host-side programs ([`check_host_programs`]); `console_log` is where the
    /// console is logged, if it is.
    pub fn new(spec: &'a ContainerSpec, console_log: Option<&Path>) -> Result<Start<'a>> {
        if spec.hooks.is_empty() {
            return Ok(Start {
                spec,
                env: Vec::new(),
            });
        }
        check_host_programs(spec)?;
        Ok(Start {
            spec,
            env: lxc_env(spec, console_log),
        })
    }

    fn run_host(&self, t: HookType, extra_env: &[(String, String)]) -> Result<()> {
        if !self.spec.hooks.has(t) {
            return Ok(());
        }
        let mut vars = self.env.clone();
        vars.extend_from_slice(extra_env);
        let env = environment(None, &vars, self.spec.hooks.version, t);
        run(&self.spec.name, &self.spec.hooks, t, &env, &[])
    }

    pub fn pre_start(&self) -> Result<()> {
        self.run_host(HookType::PreStart, &[])
    }

    /// `pid`: the container's init (`LXC_PID`).
    pub fn start_host(&self, pid: i32) -> Result<()> {
        self.run_host(
            HookType::StartHost,
            &[("LXC_PID".to_string(), pid.to_string())],
        )
    }

    /// The start failed after its pre-start hooks ran: the post-stop hooks undo what
    /// those did (as LXC). Their own failure is added to `e`.
    pub fn failed(&self, e: RuntimeError) -> RuntimeError {
        match self.run_host(
            HookType::PostStop,
            &[("LXC_TARGET".to_string(), "stop".to_string())],
        ) {
            Ok(()) => e,
            Err(p) => RuntimeError::msg(format!("{e}; and after that: {p}")),
        }
    }

    /// Whether the run needs the namespaces of init for its stop hooks ([`ns_of`]).
    pub fn wants_namespaces(&self) -> bool {
        self.spec.hooks.has(HookType::Stop)
    }

    /// What the monitor keeps for the run's stop and post-stop hooks (None without any).
    pub fn for_run(&self, pid: i32, ns: Vec<(String, OwnedFd)>) -> Option<RunHooks> {
        let h = &self.spec.hooks;
        if !h.has(HookType::Stop) && !h.has(HookType::PostStop) {
            return None;
        }
        let mut env = self.env.clone();
        env.push(("LXC_PID".to_string(), pid.to_string()));
        Some(RunHooks {
            d: RunData {
                name: self.spec.name.clone(),
                hooks: Hooks {
                    list: h
                        .list
                        .iter()
                        .filter(|x| matches!(x.kind, HookType::Stop | HookType::PostStop))
                        .cloned()
                        .collect(),
                    ..h.clone()
                },
                env,
                ns_names: ns.iter().map(|(n, _)| n.clone()).collect(),
                warnings: Vec::new(),
            },
            ns: ns.into_iter().map(|(_, f)| f).collect(),
        })
    }
}

/// Closes every fd from 3 up but those in `keep` (the container's first process before
/// its start hooks).
pub fn close_fds_except(keep: &[Option<RawFd>]) {
    let mut keep: Vec<u32> = keep.iter().flatten().map(|&f| f as u32).collect();
    keep.sort_unstable();
    let mut from = 3u32;
    for k in keep {
        if k < from {
            continue;
        }
        if k > from {
            sys::close_range(from, k - 1);
        }
        from = k + 1;
    }
    sys::close_range(from, u32::MAX);
}

/// The namespaces LXC hands the stop hooks, as `(type, fd)`: those init was cloned with
/// (mnt, pid, uts, ipc, and net unless it shares the host's), opened right after the
/// clone (`pid` is still the container's first process then).
pub fn ns_of(pid: i32, own_net: bool) -> Vec<(String, OwnedFd)> {
    let mut v = Vec::new();
    for ns in ["mnt", "pid", "uts", "ipc", "net"] {
        if ns == "net" && !own_net {
            continue;
        }
        if let Ok(f) = std::fs::File::open(format!("/proc/{pid}/ns/{ns}")) {
            v.push((ns.to_string(), OwnedFd::from(f)));
        }
    }
    v
}

/// Runs the hooks of type `t` inside the container's first process: `lxc_env` are the
/// start's `LXC_*` variables. pre-mount, mount and autodev are host programs and get this
/// process's environment with `lxc.environment`; `start` is the container's program and
/// gets init's environment ([`crate::child::init_env`]), not the host's.
pub fn run_in_container(
    spec: &ContainerSpec,
    t: HookType,
    lxc_env: &[(String, String)],
) -> Result<()> {
    if !spec.hooks.has(t) {
        return Ok(());
    }
    let env = if t == HookType::Start {
        let mut base = crate::child::init_env(spec);
        if !base.iter().any(|e| e.to_bytes().starts_with(b"PATH=")) {
            if let Ok(p) = CString::new(format!("PATH={}", crate::child::DEFAULT_PATH)) {
                base.push(p);
            }
        }
        environment(Some(&base), lxc_env, spec.hooks.version, t)
    } else {
        let mut vars = lxc_env.to_vec();
        vars.extend(spec.env.iter().cloned());
        environment(None, &vars, spec.hooks.version, t)
    };
    run(&spec.name, &spec.hooks, t, &env, &[])
}

/// What the serialised part of [`RunHooks`] holds.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct RunData {
    name: String,
    /// only the stop and post-stop hooks
    hooks: Hooks,
    /// `LXC_*` of the start, with `LXC_PID`
    env: Vec<(String, String)>,
    /// the type of each fd in `RunHooks::ns`
    ns_names: Vec<String>,
    /// failures to report with STOPPED
    warnings: Vec<String>,
}

/// The stop and post-stop hooks of a run, kept by the monitor (also across its hand-over
/// to the small monitor program, see [`RunHooks::encode`]), with init's namespaces.
pub struct RunHooks {
    d: RunData,
    ns: Vec<OwnedFd>,
}

impl RunHooks {
    fn target_env(&self, reboot: bool) -> Vec<(String, String)> {
        let mut v = self.d.env.clone();
        v.push((
            "LXC_TARGET".to_string(),
            if reboot { "reboot" } else { "stop" }.to_string(),
        ));
        v
    }

    fn failed(&mut self, e: RuntimeError) {
        let text = e.to_string();
        eprintln!("{text}");
        self.d.warnings.push(text);
    }

    /// `lxc.hook.stop`: after init has exited (`reboot`: it asked for a restart, which
    /// follows). The namespaces are passed as `/proc/MONITOR/fd/N`, then released.
    pub fn stop(&mut self, reboot: bool) {
        let ns = std::mem::take(&mut self.ns);
        if self.d.hooks.has(HookType::Stop) {
            let me = std::process::id();
            let paths: Vec<(String, String)> = self
                .d
                .ns_names
                .iter()
                .zip(&ns)
                .map(|(n, f)| (n.clone(), format!("/proc/{me}/fd/{}", f.as_raw_fd())))
                .collect();
            let mut vars = self.target_env(reboot);
            let mut extra = Vec::new();
            if self.d.hooks.version == 0 {
                extra = paths.iter().map(|(n, p)| format!("{n}:{p}")).collect();
            } else {
                for (n, p) in &paths {
                    vars.push((format!("LXC_{}_NS", n.to_ascii_uppercase()), p.clone()));
                }
            }
            let env = environment(None, &vars, self.d.hooks.version, HookType::Stop);
            if let Err(e) = run(&self.d.name, &self.d.hooks, HookType::Stop, &env, &extra) {
                self.failed(e);
            }
        }
        self.d.ns_names.clear();
        drop(ns);
    }

    pub fn has_post_stop(&self) -> bool {
        self.d.hooks.has(HookType::PostStop)
    }

    /// `lxc.hook.post-stop`: everything of the run is gone. False when a hook failed (a
    /// reboot then becomes a stop, as in LXC).
    pub fn post_stop(&mut self, reboot: bool) -> bool {
        if !self.has_post_stop() {
            return true;
        }
        let env = environment(
            None,
            &self.target_env(reboot),
            self.d.hooks.version,
            HookType::PostStop,
        );
        match run(&self.d.name, &self.d.hooks, HookType::PostStop, &env, &[]) {
            Ok(()) => true,
            Err(e) => {
                self.failed(e);
                false
            }
        }
    }

    /// The failures to report to whoever waits for the stop.
    pub fn warnings(&self) -> Option<String> {
        (!self.d.warnings.is_empty()).then(|| self.d.warnings.join("; "))
    }

    /// The fds to keep across the monitor's hand-over.
    pub fn fds(&self) -> Vec<RawFd> {
        self.ns.iter().map(|f| f.as_raw_fd()).collect()
    }

    /// (text, fds) for the monitor's hand-over; [`RunHooks::decode`] takes them back.
    pub fn encode(&self) -> (String, Vec<RawFd>) {
        (
            serde_json::to_string(&self.d).unwrap_or_default(),
            self.fds(),
        )
    }

    /// How many fds follow the text of [`RunHooks::encode`].
    pub fn fd_count(text: &str) -> Option<usize> {
        serde_json::from_str::<RunData>(text)
            .ok()
            .map(|d| d.ns_names.len())
    }

    pub fn decode(text: &str, fds: Vec<OwnedFd>) -> Option<RunHooks> {
        let d: RunData = serde_json::from_str(text).ok()?;
        (d.ns_names.len() == fds.len()).then_some(RunHooks { d, ns: fds })
    }
}

// ---------------------------------------------------------------------------------------
// clone and destroy (the CLI)

/// `lxc.hook.clone` of the new container `spec` (made from `src`), its root filesystem
/// mounted at `mountpoint` (the caller's mount namespace); `args` are those given after
/// `--` to `copy`.
pub fn clone_hooks(
    spec: &ContainerSpec,
    src: &str,
    mountpoint: &Path,
    args: &[String],
) -> Result<()> {
    if !spec.hooks.has(HookType::Clone) {
        return Ok(());
    }
    let mut vars = lxc_env(spec, None);
    for (k, v) in vars.iter_mut() {
        if k == "LXC_ROOTFS_MOUNT" {
            *v = mountpoint.display().to_string();
        }
    }
    vars.push(("LXC_SRC_NAME".to_string(), src.to_string()));
    let env = environment(None, &vars, spec.hooks.version, HookType::Clone);
    run(&spec.name, &spec.hooks, HookType::Clone, &env, args)
}

/// `lxc.hook.destroy` of `spec`, before it is removed.
pub fn destroy_hooks(spec: &ContainerSpec) -> Result<()> {
    if !spec.hooks.has(HookType::Destroy) {
        return Ok(());
    }
    let vars = lxc_env(spec, None);
    let env = environment(None, &vars, spec.hooks.version, HookType::Destroy);
    run(&spec.name, &spec.hooks, HookType::Destroy, &env, &[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_per_version() {
        let base = vec![
            CString::new("PATH=/bin").unwrap(),
            CString::new("LXC_NAME=stale").unwrap(),
        ];
        let vars = vec![("LXC_NAME".to_string(), "c1".to_string())];
        let e0 = environment(Some(&base), &vars, 0, HookType::Mount);
        let s0: Vec<_> = e0.iter().map(|c| c.to_str().unwrap().to_string()).collect();
        assert_eq!(s0, ["PATH=/bin", "LXC_NAME=c1", "LXC_HOOK_VERSION=0"]);
        let e1 = environment(Some(&base), &vars, 1, HookType::PreMount);
        let s1: Vec<_> = e1.iter().map(|c| c.to_str().unwrap().to_string()).collect();
        assert_eq!(
            s1,
            [
                "PATH=/bin",
                "LXC_NAME=c1",
                "LXC_HOOK_VERSION=1",
                "LXC_HOOK_TYPE=pre-mount",
                "LXC_HOOK_SECTION=lxc"
            ]
        );
    }

    fn hook(kind: HookType, argv: &[&str]) -> Hooks {
        Hooks {
            list: vec![Hook {
                kind,
                argv: argv.iter().map(|s| s.to_string()).collect(),
                origin: "/t/config:3".into(),
            }],
            ..Default::default()
        }
    }

    #[test]
    fn a_hook_runs_with_its_arguments_and_fails_with_its_status() {
        let d = tempfile::tempdir().unwrap();
        let log = d.path().join("log");
        let env = environment(
            None,
            &[("LXC_NAME".into(), "c1".into())],
            0,
            HookType::Mount,
        );
        let script = format!(
            "echo \"$0 $*\" > {}; echo $LXC_NAME >> {}",
            log.display(),
            log.display()
        );
        let h = hook(HookType::Mount, &["/bin/sh", "-c", &script]);
        run("c1", &h, HookType::Mount, &env, &["x".into()]).unwrap();
        // sh -c SCRIPT ARGS...: $0 is the first argument after the script
        assert_eq!(
            std::fs::read_to_string(&log).unwrap(),
            "c1 lxc mount x\nc1\n"
        );
        // a failure names the type, the command, the status and the last output
        let h = hook(
            HookType::Mount,
            &["/bin/sh", "-c", "echo first; echo oops >&2; exit 3"],
        );
        let e = run("c1", &h, HookType::Mount, &env, &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("lxc.hook.mount = /bin/sh -c"), "{e}");
        assert!(
            e.contains("/t/config:3") && e.contains("exit status 3"),
            "{e}"
        );
        assert!(e.contains("first | oops"), "{e}");
        // a program that is not there
        let h = hook(HookType::Mount, &["/nonexistent/hook"]);
        let e = run("c1", &h, HookType::Mount, &env, &[])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("cannot run /nonexistent/hook") && e.contains("no such file"),
            "{e}"
        );
        // a script without #!
        let s = d.path().join("nosheb");
        std::fs::write(&s, "true\n").unwrap();
        std::fs::set_permissions(&s, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let h = hook(HookType::Mount, &[s.to_str().unwrap()]);
        let e = run("c1", &h, HookType::Mount, &env, &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("#!"), "{e}");
    }

    #[test]
    fn a_hook_past_its_time_limit_is_killed_with_its_group() {
        let env = environment(None, &[], 0, HookType::PreStart);
        let argv: Vec<CString> = ["/bin/sh", "-c", "sleep 20 & echo started; sleep 20"]
            .iter()
            .map(|s| CString::new(*s).unwrap())
            .collect();
        let t = Instant::now();
        let r = spawn_wait(
            &CString::new("/bin/sh").unwrap(),
            &argv,
            &env,
            "test",
            Some(Duration::from_millis(500)),
        );
        assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
        match r {
            Err(Failure::Ended { status, tail }) => {
                assert!(status.contains("time limit"), "{status}");
                assert_eq!(tail, "started");
            }
            _ => panic!("not a time-out"),
        }
    }

    #[test]
    fn a_hook_that_leaves_a_process_behind_does_not_hold_us() {
        let env = environment(None, &[], 1, HookType::Stop);
        // the background sleep keeps the output pipe open; the hook itself ends at once
        let h = hook(HookType::Stop, &["/bin/sh", "-c", "sleep 3 & echo done"]);
        let t = Instant::now();
        run("c1", &h, HookType::Stop, &env, &[]).unwrap();
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    }
}
