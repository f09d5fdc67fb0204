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
//!
//! The parts: the environment and running the hooks of one type (here), running one
//! program with its output copied and its time limit (`spawn.rs`), the hooks of a
//! container's start and stop (`container.rs`).

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::Duration;

use nix::errno::Errno;

use crate::error::{errno_text, Result, RuntimeError};
use crate::spec::ContainerSpec;

mod container;
pub mod oci;
mod spawn;

pub use container::{close_fds_except, ns_of, run_in_container, RunHooks, Start};
pub use spawn::{drop_output, keep_output};

use spawn::{spawn_wait, Failure};

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
    match spawn_wait(&cpath, &argv, env, &[], &label, time_limit()) {
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
        Err(Failure::TimedOut { tail }) => Err(RuntimeError::msg(format!(
            "{}: failed with no end within its time limit of {} s (it was killed; HAKO_HOOK_TIMEOUT=SECONDS sets the limit, 0 for none){}; fix the hook or remove the line",
            what(),
            time_limit().unwrap_or_default().as_secs(),
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
mod tests;
