//! The commands beyond the life cycle: `pause`/`resume` (the monitor's freezer),
//! `ps`, `exec` (the runtime's attach), `features`.

use std::path::PathBuf;

use hako_runtime::client;
use hako_runtime::protocol::Request;

use super::{Global, OciError, Result, Status};

fn monitor_request(g: &Global, id: &str, req: Request) -> Result<()> {
    let dir = g.dir(id)?;
    let mut c = client::connect(&dir)?.ok_or_else(|| OciError::new("container not running"))?;
    let r = c.request(&req)?;
    if !r.ok {
        return Err(OciError::new(
            r.error.unwrap_or_else(|| format!("{req:?} failed")),
        ));
    }
    Ok(())
}

/// `pause`: freeze every process of a running container.
pub fn pause(g: &Global, id: &str) -> Result<()> {
    let st = g.load(id)?;
    match g.status(&st) {
        Status::Running => monitor_request(g, id, Request::Freeze),
        Status::Paused => Err(OciError::new("container already paused")),
        _ => Err(OciError::new("container not running")),
    }
}

/// `resume`: thaw a paused container.
pub fn resume(g: &Global, id: &str) -> Result<()> {
    let st = g.load(id)?;
    match g.status(&st) {
        Status::Paused => monitor_request(g, id, Request::Thaw),
        _ => Err(OciError::new("container not paused")),
    }
}

/// The host pids of every process of the container (its cgroup, init's included).
pub fn pids(g: &Global, id: &str) -> Result<Vec<i32>> {
    let st = g.load(id)?;
    if g.status(&st) == Status::Stopped {
        return Ok(Vec::new());
    }
    let dir = g.dir(id)?;
    let cg = client::read_state_file(&dir)
        .and_then(|sf| sf.cgroup)
        .ok_or_else(|| OciError::new("container not running"))?;
    // recursive: init's inner cgroup and any below
    cg.procs()
        .map_err(|e| OciError::new(format!("container {id}: {e}")))
}

/// What `exec` runs (from `--process FILE` or the arguments and flags).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecOpts {
    pub process: Option<PathBuf>,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: Option<PathBuf>,
    /// `uid[:gid]`
    pub user: Option<String>,
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    pub tty: bool,
    pub console_socket: Option<PathBuf>,
}

fn split_env(e: &str) -> (String, String) {
    match e.split_once('=') {
        Some((k, v)) => (k.to_string(), v.to_string()),
        None => (e.to_string(), String::new()),
    }
}

/// `exec`: run a process in a running container: in the foreground (its exit code), or
/// detached (`-d`: nobody waits here; the process inherits the caller's stdio; with
/// `--pid-file` its host pid is written there once it runs). A terminal (`-t`, or
/// `terminal: true` in `--process`) needs `--console-socket`: the pty's master goes there,
/// as with `create`.
pub fn exec(g: &Global, id: &str, o: &ExecOpts) -> Result<i32> {
    if o.pid_file.is_some() && !o.detach {
        return Err(OciError::new(
            "exec: --pid-file goes with --detach in hako-oci (a foreground exec's pid is not reported); add --detach or leave the pid file out",
        ));
    }
    if o.console_socket.is_some() && !o.tty && o.process.is_none() {
        return Err(OciError::new(
            "exec: --console-socket needs -t (a terminal); add -t or leave the socket out",
        ));
    }
    let st = g.load(id)?;
    match g.status(&st) {
        Status::Running => {}
        Status::Paused => return Err(OciError::new("cannot exec in a paused container")),
        Status::Created => return Err(OciError::new("cannot exec in a created container")),
        Status::Stopped => return Err(OciError::new("cannot exec in a stopped container")),
    }
    // the container's own process settings are the defaults
    let cfg_text = hako_config::read_bounded_text(&st.bundle.join("config.json"), 4 << 20)
        .map_err(|e| OciError::new(format!("container {id}: cannot read its config.json: {e}")))?;
    let spec = hako_spec::oci::from_bundle_config(
        id,
        &st.bundle,
        &cfg_text,
        &hako_spec::oci::OciOptions {
            systemd_cgroup: g.systemd_cgroup,
        },
    )?;
    let mut a = hako_runtime::attach::AttachSpec {
        name: id.to_string(),
        command: o.args.clone(),
        clear_env: true,
        set_env: spec.env.clone(),
        keep_vars: Vec::new(),
        uid: spec.init_uid,
        gid: spec.init_gid,
        cwd: spec.init_cwd.clone(),
        share_host_net: spec.share_host_net,
        no_new_privs: spec.no_new_privs,
        new_keyring: false,
        seccomp: spec.seccomp.clone(),
        exact_env: true,
        detach: o.detach,
        console_socket: None,
        elevated: Default::default(),
        pty_log: None,
        namespaces: None,
        remount_sys_proc: false,
    };
    let mut tty = o.tty;
    if let Some(p) = &o.process {
        let text = hako_config::read_bounded_text(p, 4 << 20).map_err(|e| {
            OciError::new(format!("cannot read the process file {}: {e}", p.display()))
        })?;
        let proc: oci_process::Process = serde_json::from_str(&text).map_err(|e| {
            OciError::new(format!(
                "the process file {} is not a valid process: {e}",
                p.display()
            ))
        })?;
        tty |= proc.terminal;
        a.command = proc.args;
        a.set_env = proc.env.iter().map(|e| split_env(e)).collect();
        a.cwd = Some(PathBuf::from(proc.cwd));
        if let Some(u) = proc.user {
            a.uid = Some(u.uid);
            a.gid = Some(u.gid);
        }
    }
    for e in &o.env {
        let (k, v) = split_env(e);
        a.set_env.retain(|(x, _)| *x != k);
        a.set_env.push((k, v));
    }
    if let Some(c) = &o.cwd {
        a.cwd = Some(c.clone());
    }
    if let Some(u) = &o.user {
        let (uid, gid) = match u.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (u.as_str(), None),
        };
        a.uid = Some(
            uid.parse()
                .map_err(|_| OciError::new(format!("--user {u}: give numeric uid[:gid]")))?,
        );
        if let Some(gid) = gid {
            a.gid = Some(
                gid.parse()
                    .map_err(|_| OciError::new(format!("--user {u}: give numeric uid[:gid]")))?,
            );
        }
    }
    if a.command.is_empty() {
        return Err(OciError::new(
            "exec: no command given; pass ARGS or --process FILE",
        ));
    }
    if tty {
        let Some(sock) = &o.console_socket else {
            return Err(OciError::new(
                "exec: a terminal (-t or terminal: true) needs --console-socket, where the pty's master is sent; pass one or run without a terminal",
            ));
        };
        a.console_socket = Some(sock.clone());
    }

    let pidfd = hako_runtime::sys::pidfd_open(st.pid)
        .map_err(|_| OciError::new("container not running"))?;
    if !hako_runtime::sys::proc_alive(st.pid, st.pid_start) {
        return Err(OciError::new("container not running"));
    }
    let r = hako_runtime::attach::attach(&a, st.pid, &pidfd)
        .map_err(|e| OciError::new(e.to_string()))?;
    if a.detach {
        // r is the process's host pid
        if let Some(p) = &o.pid_file {
            if let Err(e) = super::write_pid_file(p, r) {
                if let Ok(fd) = hako_runtime::sys::pidfd_open(r) {
                    let _ = hako_runtime::sys::pidfd_send_signal(
                        std::os::fd::AsFd::as_fd(&fd),
                        libc::SIGKILL,
                    );
                }
                return Err(e);
            }
        }
        return Ok(0);
    }
    Ok(r)
}

/// The part of a `process` document `exec --process` reads.
mod oci_process {
    use serde::Deserialize;

    #[derive(Deserialize)]
    pub struct User {
        pub uid: u32,
        pub gid: u32,
    }

    #[derive(Deserialize)]
    pub struct Process {
        #[serde(default)]
        pub terminal: bool,
        pub args: Vec<String>,
        #[serde(default)]
        pub env: Vec<String>,
        #[serde(default = "root")]
        pub cwd: String,
        pub user: Option<User>,
    }

    fn root() -> String {
        "/".into()
    }
}

/// `features`: the runtime-spec features document (features.md): what this build of
/// hako-oci honours, so engines learn it before they ask.
pub fn features() -> serde_json::Value {
    serde_json::json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": super::OCI_VERSION,
        // no OCI hooks yet: create refuses a config.json with hooks
        "hooks": [],
        "mountOptions": [
            "async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec",
            "mand", "noatime", "nodev", "nodiratime", "noexec", "nomand", "norelatime",
            "nostrictatime", "nosuid", "private", "rbind", "relatime", "remount", "ro",
            "rprivate", "rshared", "rslave", "runbindable", "rw", "shared", "slave",
            "strictatime", "suid", "sync", "unbindable"
        ],
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "user", "uts"],
            "capabilities": caps::all().into_iter().map(|c| c.to_string()).collect::<Vec<_>>(),
            "cgroup": {"v1": true, "v2": true, "systemd": false, "systemdUser": false},
            "seccomp": {"enabled": true},
            "apparmor": {"enabled": false},
            "selinux": {"enabled": false},
            "mountExtensions": {"idmap": {"enabled": false}}
        },
        "annotations": {
            "io.github.hako.runtime": "hako-oci"
        }
    })
}

/// The pids as `ps --format json` prints them.
pub fn pids_json(p: &[i32]) -> String {
    serde_json::to_string(p).unwrap_or_else(|_| "[]".into())
}

/// `ps` as a table: the host's `ps -ef` lines of the container's processes.
pub fn ps_table(pids: &[i32], ps_args: &[String]) -> Result<String> {
    let mut args: Vec<String> = ps_args.to_vec();
    if args.is_empty() {
        args.push("-ef".into());
    }
    let out = std::process::Command::new("ps")
        .args(&args)
        .output()
        .map_err(|e| OciError::new(format!("cannot run ps: {e}")))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let Some(header) = lines.next() else {
        return Ok(String::new());
    };
    let col = header
        .split_whitespace()
        .position(|h| h == "PID")
        .ok_or_else(|| OciError::new("ps printed no PID column"))?;
    let mut s = format!("{header}\n");
    for l in lines {
        let pid: Option<i32> = l.split_whitespace().nth(col).and_then(|x| x.parse().ok());
        if pid.is_some_and(|p| pids.contains(&p)) {
            s.push_str(l);
            s.push('\n');
        }
    }
    Ok(s)
}
