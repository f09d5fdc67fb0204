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
//!    encoded, see [`handover`]). Clients that connect meanwhile wait in the
//!    listener's backlog. The resident monitor thus costs the host only the pages of a
//!    program that serves requests and tears down, not those of the start code.
//!
//! What only the `hako` image can do, the small monitor gets back by exec'ing `hako`
//! (kept open as an O_PATH fd, so it is the very build that wrote the hand-over):
//! a reboot (init asked for one, or `stop -r`) re-enters `hako` with the whole state,
//! which starts the new run and hands over again; undoing `script.down` hooks and DNS
//! names runs `hako` as a short-lived helper. Both read the launch options the first
//! image left in a memfd the small monitor holds without reading it.
//!
//! The parts, one file each: [`launch`] (the start sequence, `hako` image only),
//! [`event_loop`] (poll, signals, reaping init), [`control`] (the control socket's
//! clients and requests), [`stop`] (stop, reboot and teardown), [`console`] (the console
//! and ttys, the foreground terminal), [`images`] (when and how the monitor changes
//! program image) and [`handover`] (the state it carries across).

mod console;
mod control;
mod event_loop;
mod handover;
mod images;
mod launch;
mod limits;
mod stop;

pub use images::{exec_main, monitor_binary, resume_entry};
pub use launch::launch;

use std::os::fd::OwnedFd;
use std::os::unix::net::UnixListener;
use std::path::PathBuf;

use hako_cgroups::{Cgroup, DeviceRule, Host};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use crate::error::{errno_text, Context, Result};
use crate::mounts::AutoPlan;
use crate::net::{IfacePlan, NetState};
use crate::nl::LinkRelease;
use crate::protocol::{Response, State};
use crate::spec::ContainerSpec;
use crate::sync::Channel;
use crate::sys;

use console::Console;
use control::{Client, ClientMode};
use images::Images;
use launch::Launch;
use stop::Stopping;

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
    /// an OCI runtime's container (`hako-oci create`/`run`): see [`OciLaunch`]
    #[serde(default)]
    pub oci: Option<OciLaunch>,
    /// the caller's stdin, stdout and stderr for the container's process (OCI: the
    /// process inherits them, as from runc); a daemon monitor holds these copies until
    /// init has taken them. Never serialised.
    #[serde(skip)]
    pub stdio: Vec<OwnedFd>,
}

/// What an OCI container's start differs in from an LXC one's.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OciLaunch {
    /// `create`: init, set up, waits before its exec until `start` opens this FIFO and
    /// reads the byte init writes (the monitor reports the container created then)
    pub exec_fifo: Option<PathBuf>,
    /// init's stdio are the caller's (in [`LaunchOptions::stdio`], or the monitor's own
    /// 0-2 when it runs in the caller's process), not /dev/null or a console
    pub inherit_stdio: bool,
    /// `process.terminal` with `--console-socket`: the console pty's master goes to the
    /// caller over this socket (SCM_RIGHTS) instead of staying with the monitor
    #[serde(default)]
    pub console_socket: Option<PathBuf>,
    /// config.json has hooks: the container's state document (the OCI state JSON) they
    /// get on stdin, its `pid` and `status` set where each stage runs
    /// ([`crate::hooks::oci`])
    #[serde(default)]
    pub hook_state: Option<String>,
}

impl OciLaunch {
    /// `create` (a daemon monitor): init is born the child of the caller (CLONE_PARENT),
    /// as runc's init is, so that the engine's shim, a subreaper, becomes its parent and
    /// reaps it (that is how containerd's and podman's shims learn the exit status); the
    /// monitor watches it through its pidfd. Init has no parent-death signal then.
    pub fn init_is_callers(&self) -> bool {
        self.exec_fifo.is_some()
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

/// What the monitor keeps of the launch options for the container's whole life.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Settings {
    mode: LaunchMode,
    runtime_dir: PathBuf,
    pidfile: Option<PathBuf>,
    /// `lxc.ephemeral = 1`: the lxcpath to destroy the container from once it has stopped
    ephemeral: Option<PathBuf>,
    /// `lxc.signal.halt`, if set (else see [`Monitor::halt_signal`])
    halt_signal: Option<i32>,
    reboot_signal: i32,
    /// pure v2 devices: rules are an eBPF program, `devices.list` is rendered from them
    devices_on_v2: bool,
}

pub struct Monitor {
    /// the start code, in the `hako` image only
    launcher: Option<Box<dyn Launch>>,
    name: String,
    cfg: Settings,
    /// what `info` reports per interface: (name inside, host-side link or bridge)
    net_links: Vec<(String, Option<String>)>,
    /// the network has script.down hooks to run (needs the hako program)
    net_helper: bool,
    /// DNS names to forget at stop
    net_dns: Vec<crate::net::DnsReg>,
    /// `stop -k`: the deletion of the run's host links, begun while init dies
    link_release: Option<LinkRelease>,
    listener: UnixListener,
    sigfd: SignalFd,
    clients: Vec<Client>,
    state: State,
    run: Option<Run>,
    /// a stop or reboot under way
    stop: Stopping,
    /// daemon, `hako` image: where `hako start` waits for RUNNING or an error
    ready: Option<Channel>,
    console: Console,
    exit_code: Option<i32>,
    exec_error: Option<String>,
    /// namespaces of stopped runs, released once the stop has been answered
    held_ns: Vec<OwnedFd>,
    /// what the other program image needs
    images: Images,
    /// the stop and post-stop hooks of the run, with its namespaces
    hooks: Option<crate::hooks::RunHooks>,
}

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

        Ok(Monitor {
            launcher: None,
            cfg: Settings {
                mode: opts.mode,
                runtime_dir: opts.runtime_dir.clone(),
                pidfile: opts.pidfile.clone(),
                ephemeral: opts.spec.ephemeral.then(|| opts.spec.lxcpath.clone()),
                halt_signal: opts.spec.halt_signal,
                reboot_signal: opts.spec.reboot_signal,
                devices_on_v2: opts.host.v1_for("devices").is_none(),
            },
            net_links: opts
                .net
                .iter()
                .filter(|p| !p.name.is_empty())
                .map(|p| (p.name.clone(), p.host_name.clone().or(p.link.clone())))
                .collect(),
            net_helper: opts.net.iter().any(|p| p.script_down.is_some()),
            net_dns: crate::net::dns_of(&opts.net),
            link_release: None,
            listener,
            sigfd,
            clients: Vec::new(),
            state: State::Starting,
            run: None,
            stop: Stopping::default(),
            ready: None,
            console: Console::open(opts, &name)?,
            exit_code: None,
            exec_error: None,
            held_ns: Vec::new(),
            images: Images::default(),
            hooks: None,
            name,
        })
    }

    /// The state is now `s`: tell the event clients, and the reboot waiters once RUNNING.
    fn set_state(&mut self, s: State) {
        self.state = s;
        self.announce(Some(s), None);
        let r = Response::ok().with_state(s);
        for c in self
            .clients
            .iter_mut()
            .filter(|c| c.mode == ClientMode::Events)
        {
            c.send_line(&r);
        }
        if s == State::Running {
            let pid = self.run.as_ref().map(|r| r.pid);
            for c in self.clients.iter_mut().filter(|c| c.waits_reboot) {
                c.waits_reboot = false;
                let mut resp = Response::ok().with_state(s);
                resp.init_pid = pid;
                c.send_line(&resp);
            }
        }
    }

    /// Tell `hako monitor` / `lxc-monitor` listeners of this lxcpath (crate::events).
    fn announce(&self, state: Option<State>, exit_status: Option<i32>) {
        if let Some(dir) = self
            .cfg
            .runtime_dir
            .parent()
            .and_then(crate::events::dir_for)
        {
            crate::events::broadcast(
                &dir,
                &crate::events::Event {
                    name: self.name.clone(),
                    state,
                    exit_status,
                },
            );
        }
    }

    /// The control socket, the state file and the runtime directory.
    fn remove_runtime_files(&self) {
        let _ = std::fs::remove_file(self.cfg.runtime_dir.join(SOCKET));
        let _ = std::fs::remove_file(self.cfg.runtime_dir.join(STATE_FILE));
        let _ = std::fs::remove_file(self.cfg.runtime_dir.join(format!("{STATE_FILE}.tmp")));
        let _ = std::fs::remove_dir(&self.cfg.runtime_dir);
        // the per-lxcpath directory goes with its last running container
        if let Some(parent) = self.cfg.runtime_dir.parent() {
            let _ = std::fs::remove_dir(parent);
        }
    }
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
