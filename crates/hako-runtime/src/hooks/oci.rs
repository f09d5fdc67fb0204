//! OCI hooks (config.json `hooks`, runtime-spec config.md "POSIX-platform Hooks"), run by
//! the same program runner as LXC's hooks (`spawn.rs`): each hook's `path` executed with
//! its `args` (argv[0] included) and exactly its `env`, the container's state document on
//! its standard input, its output copied line by line to the runtime's stderr, killed
//! with its process group after `timeout` seconds (hako's [`super::DEFAULT_TIME_LIMIT`]
//! when config.json gives none: a hook that hangs would hold the engine forever).
//!
//! Where each stage runs (the callers):
//!
//! | stage | process, namespaces | when | a failure |
//! |---|---|---|---|
//! | `prestart`, `createRuntime` | the monitor, the runtime's | the container's namespaces exist and its mounts are made, before pivot_root | fails `create`, which leaves nothing |
//! | `createContainer` | the container's init, the container's (the host's root still visible) | after those, before pivot_root | the same |
//! | `startContainer` | init, inside the container (paths are the container's) | `start`: after the exec fifo is opened, before the user's program is executed | init reports it on its stderr and exits; the program never runs |
//! | `poststart` | `hako-oci start`, the runtime's | the user's program was started | a warning; `start` succeeds |
//! | `poststop` | `hako-oci delete` (and `run` when the process ended), the runtime's | the container is deleted | a warning; `delete` succeeds |

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::time::Duration;

use nix::errno::Errno;

use super::spawn::{spawn_wait, Failure};
use crate::error::{errno_text, Result, RuntimeError};
pub use hako_spec::{OciHook, OciHookStage};

/// The hooks of `stage` from `hooks`, in config.json's order, with their index there.
pub fn of(hooks: &[OciHook], stage: OciHookStage) -> impl Iterator<Item = (usize, &OciHook)> {
    hooks.iter().filter(move |h| h.stage == stage).enumerate()
}

/// Does `hooks` have any of `stages`?
pub fn has(hooks: &[OciHook], stages: &[OciHookStage]) -> bool {
    hooks.iter().any(|h| stages.contains(&h.stage))
}

/// Runs the hooks of `stage` in order, each to its end, and stops at the first that fails.
/// `id` names the container in messages; `state` is the state JSON given on stdin.
pub fn run(id: &str, hooks: &[OciHook], stage: OciHookStage, state: &str) -> Result<()> {
    for (i, h) in of(hooks, stage) {
        run_one(id, i, h, state)?;
    }
    Ok(())
}

/// Runs the hooks of `stage` all (a failure does not stop the others) and returns one
/// warning line per failure: `poststart` and `poststop`, whose failures are only logged.
pub fn run_all(id: &str, hooks: &[OciHook], stage: OciHookStage, state: &str) -> Vec<String> {
    of(hooks, stage)
        .filter_map(|(i, h)| run_one(id, i, h, state).err().map(|e| e.to_string()))
        .collect()
}

fn run_one(id: &str, index: usize, h: &OciHook, state: &str) -> Result<()> {
    let what = || {
        format!(
            "container \"{id}\": hooks.{}[{index}] ({})",
            h.stage.oci_name(),
            h.path.display()
        )
    };
    let cstr = |s: &[u8]| {
        CString::new(s).map_err(|_| {
            RuntimeError::msg(format!(
                "{}: a NUL byte in its path, args or env; fix config.json",
                what()
            ))
        })
    };
    let path = cstr(h.path.as_os_str().as_bytes())?;
    let mut argv = Vec::with_capacity(h.args.len().max(1));
    if h.args.is_empty() {
        argv.push(path.clone());
    }
    for a in &h.args {
        argv.push(cstr(a.as_bytes())?);
    }
    let env = h
        .env
        .iter()
        .map(|e| cstr(e.as_bytes()))
        .collect::<Result<Vec<_>>>()?;
    let label = format!("hako-oci: container \"{id}\": hooks.{}", h.stage.oci_name());
    let limit = h
        .timeout
        .map(|s| Duration::from_secs(u64::from(s)))
        .unwrap_or(super::DEFAULT_TIME_LIMIT);
    let last = |tail: String| {
        if tail.is_empty() {
            String::new()
        } else {
            format!(" (its last output: {tail})")
        }
    };
    match spawn_wait(&path, &argv, &env, state.as_bytes(), &label, Some(limit)) {
        Ok(()) => Ok(()),
        Err(Failure::Exec(e)) => Err(RuntimeError::msg(format!(
            "{}: cannot run it: {}; {}",
            what(),
            errno_text(e),
            match e {
                Errno::ENOENT => "install the program or fix the hook's path",
                Errno::EACCES => "make it executable (chmod +x) or fix the hook's path",
                Errno::ENOEXEC => "give a script a #! line",
                _ => "fix the hook or remove it from config.json",
            }
        ))),
        Err(Failure::Ended { status, tail }) => Err(RuntimeError::msg(format!(
            "{}: failed with {status}{}; fix the hook or remove it from config.json",
            what(),
            last(tail)
        ))),
        Err(Failure::TimedOut { tail }) => Err(RuntimeError::msg(format!(
            "{}: did not end within its timeout of {} s and was killed{}; raise \"timeout\" or fix the hook",
            what(),
            limit.as_secs(),
            last(tail)
        ))),
        Err(Failure::Sys(s)) => Err(RuntimeError::msg(format!("{}: {s}", what()))),
    }
}

/// The state document `template` (the OCI state JSON `hako-oci` wrote for the container)
/// with init's host pid (None: the one in it) and the status of this point of its life.
pub fn state_with(template: &str, pid: Option<i32>, status: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(template) {
        Ok(mut v) => {
            if let Some(pid) = pid {
                v["pid"] = serde_json::json!(pid);
            }
            v["status"] = serde_json::json!(status);
            serde_json::to_string(&v).unwrap_or_else(|_| template.to_string())
        }
        Err(_) => template.to_string(),
    }
}
