//! The hooks of a container's start and stop, in the monitor and the container's first
//! process.

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{check_host_programs, environment, lxc_env, run, HookType, Hooks};
use crate::error::{Result, RuntimeError};
use crate::spec::ContainerSpec;
use crate::sys;

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
