//! The `Container` handle: every lifecycle operation, as liblxc's `struct lxc_container`.

use std::path::PathBuf;
use std::time::Duration;

use hako_runtime::client::{self, Client};
use hako_runtime::monitor::{self, LaunchMode, LaunchOptions};
use hako_runtime::mounts::AutoPlan;
use hako_runtime::protocol::{Request, Response};
use hako_runtime::{ContainerSpec, InitMode};

use crate::{
    AttachOptions, Context, CreateOptions, EnvPolicy, Error, ExecuteOptions, Info, Result,
    StartOptions, State, StopOptions,
};

/// How long a command waits for another one holding the container's lock.
const LOCK_TIMEOUT: Duration = Duration::from_secs(30);

/// A handle on one container, as liblxc's `struct lxc_container`.
pub struct Container {
    ctx: Context,
    name: String,
}

impl Container {
    /// Validates the name (not empty, no `/`, not `.`/`..`, at most 64 bytes).
    pub fn new(ctx: Context, name: &str) -> Result<Container> {
        hako_store::validate_name(name)?;
        Ok(Container {
            ctx,
            name: name.to_string(),
        })
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn context(&self) -> &Context {
        &self.ctx
    }
    /// Directory `lxcpath/NAME`.
    pub fn dir(&self) -> PathBuf {
        self.ctx.lxcpath.join(&self.name)
    }
    pub fn config_path(&self) -> PathBuf {
        self.dir().join("config")
    }
    /// Is it defined (has a config)?
    pub fn exists(&self) -> bool {
        self.ctx.store().exists(&self.name)
    }
    pub(crate) fn runtime_dir(&self) -> PathBuf {
        self.ctx.store().runtime_dir(&self.name)
    }
    fn not_found(&self) -> Error {
        crate::storage::not_usable(&self.ctx, &self.name)
    }
    fn must_exist(&self) -> Result<()> {
        if self.exists() {
            Ok(())
        } else {
            Err(self.not_found())
        }
    }
    fn connect(&self) -> Result<Option<Client>> {
        Ok(client::connect(&self.runtime_dir())?)
    }
    /// The monitor, if one answers. A monitor killed a moment ago may still accept a
    /// connection on its socket but answers nothing: only one that answers means the
    /// container runs (start and destroy decide on this).
    fn live_monitor(&self) -> Result<Option<Client>> {
        Ok(match self.connect()? {
            Some(mut c) => c.request(&Request::State).is_ok().then_some(c),
            None => None,
        })
    }
    fn connect_running(&self) -> Result<Client> {
        match self.connect()? {
            Some(c) => Ok(c),
            None => {
                self.must_exist()?;
                Err(Error::NotRunning {
                    name: self.name.clone(),
                })
            }
        }
    }
    fn check(&self, r: Response) -> Result<Response> {
        if r.ok {
            Ok(r)
        } else {
            Err(Error::other(r.error.unwrap_or_else(|| {
                format!("container \"{}\": the monitor refused", self.name)
            })))
        }
    }

    /// Load the container's config (or `file`) into a spec, for a command that acts on it
    /// (create, start, execute, checkconfig): its notes (keys hako ignores, legacy keys)
    /// are logged as warnings.
    pub fn load_spec(
        &self,
        file: Option<&std::path::Path>,
        overrides: &[(String, String)],
    ) -> Result<ContainerSpec> {
        self.load_spec_noting(file, overrides, true)
    }

    /// Load the container's config into a spec for a command that only reads it (info,
    /// ls, attach, autostart's list, hooks of destroy and copy, file push/pull): its
    /// notes were shown by create, start and checkconfig, so here they are logged at
    /// INFO (`-l INFO` shows them).
    pub fn read_spec(&self) -> Result<ContainerSpec> {
        self.load_spec_noting(None, &[], false)
    }

    fn load_spec_noting(
        &self,
        file: Option<&std::path::Path>,
        overrides: &[(String, String)],
        warn: bool,
    ) -> Result<ContainerSpec> {
        let path = match file {
            Some(f) => f.to_path_buf(),
            None => {
                self.must_exist()?;
                self.config_path()
            }
        };
        let mut cfg = hako_config::load_file(&path)?;
        for (k, v) in overrides {
            cfg.set_override(k, v)?;
        }
        let spec = hako_runtime::spec::from_config(&self.name, &self.ctx.lxcpath, &path, &cfg)?;
        for w in &spec.warnings {
            if warn {
                tracing::warn!("{w}");
            } else {
                tracing::info!("{w}");
            }
        }
        Ok(spec)
    }

    /// Without `-B` the template picks the backing store (overlay on the cached image for
    /// debian, dir for the others).
    pub fn create(&self, opts: &CreateOptions) -> Result<()> {
        crate::storage::create(self, opts)
    }

    /// Refuses a running container unless `force` (then kills it first).
    pub fn destroy(&self, force: bool) -> Result<()> {
        self.destroy_with(force, false)
    }

    /// [`Container::destroy`]; `snapshots`: with its snapshots (`destroy -s`), which go
    /// only once the container is known to be stopped (or, with `force`, killed). A
    /// half-made container (a killed create, copy or destroy) is removed the same way.
    pub fn destroy_with(&self, force: bool, snapshots: bool) -> Result<()> {
        let store = self.ctx.store();
        if !store.exists(&self.name) && !store.is_partial(&self.name) {
            if std::fs::symlink_metadata(self.dir()).is_ok() {
                // not hako's: the store says so, and touches nothing
                store.destroy(&self.name)?;
            }
            // a killed command may have left its lock file for a name that is no container
            store.drop_stale_lock(&self.name);
            return Err(self.not_found());
        }
        let mut lock = store.lock(&self.name, LOCK_TIMEOUT)?;
        let mut tries = 0;
        while let Some(mut c) = self.live_monitor()? {
            if !force || tries == 3 {
                return Err(Error::Running {
                    name: self.name.clone(),
                });
            }
            tries += 1;
            // Not under the lock: the monitor of an ephemeral container (lxc.ephemeral)
            // destroys it itself once it has stopped, with a destroy of its own that takes
            // the lock; holding it here would make both wait for the lock's timeout.
            drop(lock);
            c.send(&Request::Stop {
                timeout: Some(0),
                kill: true,
            })?;
            while c.recv()?.is_some() {}
            lock = store.lock(&self.name, LOCK_TIMEOUT)?;
            if !store.exists(&self.name) && !store.is_partial(&self.name) {
                // it was ephemeral, and is gone
                return Ok(());
            }
        }
        self.cleanup_stale()?;
        // an AppArmor profile a killed monitor left loaded (its processes are gone)
        hako_runtime::lsm::release(&self.name, &self.runtime_dir()).map_err(Error::other)?;
        self.destroy_hooks()?;
        if crate::rootless::is_rootless() {
            crate::rootless::remove_rootfs(
                &self.name,
                &store.config_path(&self.name),
                &store.rootfs_path(&self.name),
            )?;
        }
        if snapshots {
            store.destroy_with_snapshots(&self.name)?;
        } else {
            store.destroy(&self.name)?;
        }
        drop(lock);
        Ok(())
    }

    /// `lxc.hook.destroy`, before anything is removed; a hook that fails stops the
    /// destroy, as in LXC. A half-made container, or one whose config cannot be read, has
    /// none to run.
    fn destroy_hooks(&self) -> Result<()> {
        let has_hooks = self.exists()
            && hako_config::load_file(&self.config_path())
                .map(|cfg| !cfg.get_list("lxc.hook.destroy").is_empty())
                .unwrap_or(false);
        if !has_hooks {
            return Ok(());
        }
        let spec = self.read_spec().map_err(|e| {
            Error::other(format!(
                "container \"{}\": cannot run its lxc.hook.destroy hooks: {e}; fix the config, or remove the lxc.hook.destroy lines to destroy it without them",
                self.name
            ))
        })?;
        hako_runtime::hooks::destroy_hooks(&spec).map_err(|e| {
            Error::other(format!(
                "{e}; the container was not destroyed (remove the lxc.hook.destroy line to destroy it without the hook)"
            ))
        })
    }

    /// Daemon mode returns 0 when RUNNING; foreground mode returns when the container has
    /// stopped, with init's exit code.
    pub fn start(&self, opts: &StartOptions) -> Result<i32> {
        if opts.config_file.is_none() {
            self.must_exist()?;
        }
        hako_runtime::sys::timing("cli: load spec");
        let mut spec = match self.load_spec(opts.config_file.as_deref(), &opts.overrides) {
            Ok(s) => s,
            // a destroy that started after our check took the config away
            Err(_) if opts.config_file.is_none() && !self.exists() => {
                return Err(self.ctx.store().not_usable(&self.name).into())
            }
            Err(e) => return Err(e),
        };
        hako_runtime::sys::timing("cli: spec loaded");
        if !opts.command.is_empty() {
            spec.init_cmd = opts.command.clone();
        }
        let mode = if opts.foreground {
            LaunchMode::Foreground
        } else {
            LaunchMode::Daemon
        };
        self.launch(
            spec,
            mode,
            opts.pidfile.clone(),
            opts.console_log.clone(),
            opts.console_file.clone(),
        )
    }

    fn launch(
        &self,
        spec: ContainerSpec,
        mode: LaunchMode,
        pidfile: Option<PathBuf>,
        console_log: Option<PathBuf>,
        console_out: Option<PathBuf>,
    ) -> Result<i32> {
        let store = self.ctx.store();
        let lock = store.lock(&self.name, LOCK_TIMEOUT)?;
        hako_runtime::sys::timing("cli: locked");
        // a destroy that held the lock while we waited has removed (or half-removed) it:
        // say so, rather than fail later on its missing root filesystem
        if !store.exists(&self.name)
            && (store.is_partial(&self.name) || spec.config_path == self.config_path())
        {
            return Err(store.not_usable(&self.name).into());
        }
        let rt = self.runtime_dir();
        if self.live_monitor()?.is_some() {
            return Err(Error::AlreadyRunning {
                name: self.name.clone(),
            });
        }
        for what in self.cleanup_stale()? {
            tracing::info!("container \"{}\": {what}", self.name);
        }
        hako_runtime::sys::timing("cli: stale checked");
        let net = if crate::rootless::is_rootless() {
            crate::rootless::net_plans(&spec)?
        } else {
            crate::network::plan(&spec, &store.container_id(&self.name))?
        };
        hako_runtime::sys::timing("cli: net planned");
        let undo_dns = |net: &[hako_runtime::net::IfacePlan]| {
            crate::network::forget_dns(net.iter().filter_map(|p| p.dns.as_ref()))
        };
        let host = hako_cgroups::Host::detect()?;
        // rootless: a delegated cgroup, or none (said once; cgroup keys then fail the start)
        let mut spec = spec;
        let host = if crate::rootless::is_rootless() {
            if spec.id_maps.is_empty() {
                return Err(crate::rootless::no_maps(
                    &self.name,
                    &spec.config_path,
                    "start",
                ));
            }
            crate::rootless::apply_cgroup_choice(
                host,
                &mut spec,
                &store.payload_cgroup(&self.name),
            )?
        } else {
            host
        };
        hako_runtime::sys::timing("cli: host detected");
        if !crate::rootless::is_rootless() {
            crate::host_limits::ensure_for_start();
        }
        let plan = AutoPlan::from_spec(&spec);
        let opts = LaunchOptions {
            spec,
            host,
            plan,
            runtime_dir: rt,
            mode,
            pidfile,
            console_log,
            log_file: None,
            console_out,
            net: net.clone(),
            cgroup_name: store.payload_cgroup(&self.name),
            oci: None,
            stdio: Vec::new(),
        };
        let r = match mode {
            LaunchMode::Daemon => monitor::launch(opts, &|| {}).map(|_| 0),
            _ => {
                // the lock must not be held for the container's whole life: the monitor
                // publishes its socket before anything else, so later commands see it
                let lock_cell = std::cell::Cell::new(Some(lock));
                let r = monitor::launch(opts, &|| drop(lock_cell.take()));
                return r.map_err(|e| {
                    undo_dns(&net);
                    e.into()
                });
            }
        };
        drop(lock);
        r.map_err(|e| {
            undo_dns(&net);
            e.into()
        })
    }

    /// What a killed monitor left: its cgroup, host links and runtime files (hako-runtime),
    /// and the DNS names it registered on managed networks (which would keep reserving
    /// their addresses). Returns what was done.
    fn cleanup_stale(&self) -> Result<Vec<String>> {
        let rt = self.runtime_dir();
        let dns = client::read_state_file(&rt)
            .map(|sf| sf.dns)
            .unwrap_or_default();
        let mut did = client::cleanup_stale(&rt)?;
        for d in &dns {
            if d.forget() {
                did.push(format!(
                    "removed the stale DNS name {} on network {}",
                    d.hostname, d.network
                ));
            }
        }
        Ok(did)
    }

    /// Err(Error::NotRunning) when it is not running (lxc-stop exits 2 then).
    pub fn stop(&self, opts: &StopOptions) -> Result<()> {
        let Some(mut c) = self.connect()? else {
            self.must_exist()?;
            // a killed monitor leaves state behind: clean it now
            let store = self.ctx.store();
            let _lock = store.lock(&self.name, LOCK_TIMEOUT)?;
            let did = self.cleanup_stale()?;
            for what in did {
                tracing::info!("container \"{}\": {what}", self.name);
            }
            return Err(Error::NotRunning {
                name: self.name.clone(),
            });
        };
        if opts.reboot {
            c.send(&Request::Reboot)?;
            if opts.nowait {
                return Ok(());
            }
            return match c.recv()? {
                Some(r) => self.check(r).map(|_| ()),
                None => Err(Error::other(format!(
                    "container \"{}\" stopped during reboot",
                    self.name
                ))),
            };
        }
        let timeout = if opts.nokill { Some(-1) } else { opts.timeout };
        c.send(&Request::Stop {
            timeout,
            kill: opts.kill,
        })?;
        if opts.nowait {
            return Ok(());
        }
        let deadline = match (opts.nokill, opts.timeout.unwrap_or(60)) {
            (true, t) if t >= 0 => Some(std::time::Instant::now() + Duration::from_secs(t as u64)),
            _ => None,
        };
        loop {
            if let Some(d) = deadline {
                if !c.readable_within(d.saturating_duration_since(std::time::Instant::now()))? {
                    return Err(Error::other(format!(
                        "container \"{}\" did not shut down within {} s and --nokill leaves it running; wait longer with -t or kill it with \"hako stop {} -k\"",
                        self.name,
                        opts.timeout.unwrap_or(60),
                        self.name
                    )));
                }
            }
            match c.recv()? {
                None => return Ok(()),
                Some(r) if !r.ok => return Err(Error::other(r.error.unwrap_or_default())),
                Some(r) if r.parsed_state() == Some(State::Stopped) => {
                    // stopped; what its stop or post-stop hooks reported
                    if let Some(w) = r.error {
                        tracing::warn!("{w}");
                    }
                    return Ok(());
                }
                Some(_) => {}
            }
        }
    }

    pub fn state(&self) -> Result<State> {
        match self.connect()? {
            None => {
                self.must_exist()?;
                Ok(State::Stopped)
            }
            Some(mut c) => match c.request(&Request::State) {
                Ok(r) => Ok(r.parsed_state().unwrap_or(State::Stopped)),
                Err(_) => Ok(State::Stopped),
            },
        }
    }

    pub fn init_pid(&self) -> Result<Option<i32>> {
        match self.connect()? {
            None => {
                self.must_exist()?;
                Ok(None)
            }
            Some(mut c) => Ok(c.request(&Request::State).ok().and_then(|r| r.init_pid)),
        }
    }

    pub fn freeze(&self) -> Result<()> {
        let mut c = self.connect_running()?;
        let r = c.request(&Request::Freeze)?;
        self.check(r).map(|_| ())
    }

    pub fn unfreeze(&self) -> Result<()> {
        let mut c = self.connect_running()?;
        let r = c.request(&Request::Thaw)?;
        self.check(r).map(|_| ())
    }

    /// Returns the exit code to exit with: the command's status, 128+N if killed by
    /// signal N, 127 if the command cannot be executed.
    pub fn attach(&self, opts: &AttachOptions) -> Result<i32> {
        let mut c = self.connect_running()?;
        let (r, pidfd) = c.pidfd()?;
        let r = self.check(r)?;
        let pid = r
            .init_pid
            .ok_or_else(|| Error::other("the monitor did not say which pid init has"))?;
        let pidfd = match pidfd {
            Some(p) => p,
            None => hako_runtime::sys::pidfd_open(pid).map_err(|e| {
                Error::other(format!(
                    "container \"{}\": cannot open its init (pid {pid}): {e}",
                    self.name
                ))
            })?,
        };
        drop(c);
        // what the attached process must get as init did (namespaces, no_new_privs, the
        // keyring, the seccomp filters): a config that cannot be read starts nothing
        let cspec = self.read_spec()?;
        let spec = hako_runtime::attach::AttachSpec {
            name: self.name.clone(),
            command: opts.command.clone(),
            clear_env: opts.env_policy == EnvPolicy::Clear,
            // lxc.environment, then -v (later ones win), as LXC
            set_env: cspec
                .env
                .iter()
                .cloned()
                .chain(opts.set_env.iter().cloned())
                .collect(),
            keep_vars: opts.keep_vars.clone(),
            uid: opts.uid,
            gid: opts.gid,
            cwd: opts.cwd.clone(),
            share_host_net: cspec.share_host_net,
            no_new_privs: cspec.no_new_privs,
            new_keyring: cspec.keyring_session,
            seccomp: cspec.seccomp,
            exact_env: false,
            detach: false,
            console_socket: None,
            elevated: opts.elevated,
            pty_log: opts.pty_log.clone(),
            namespaces: opts.namespaces,
            remount_sys_proc: opts.remount_sys_proc,
        };
        Ok(hako_runtime::attach::attach(&spec, pid, &pidfd)?)
    }

    /// Runs the command as an application container (foreground); returns its exit code.
    pub fn execute(&self, opts: &ExecuteOptions) -> Result<i32> {
        if opts.command.is_empty() {
            return Err(Error::other(format!(
                "container \"{}\": execute needs a command after --, e.g. \"hako execute {} -- /bin/sh -c 'echo hi'\"",
                self.name, self.name
            )));
        }
        let mut spec = self.load_spec(opts.config_file.as_deref(), &opts.overrides)?;
        spec.init_cmd = opts.command.clone();
        spec.init_mode = InitMode::MiniInit;
        spec.tty_max = 0;
        if opts.uid.is_some() {
            spec.init_uid = opts.uid;
        }
        if opts.gid.is_some() {
            spec.init_gid = opts.gid;
        }
        // The application never gets a host fd (see hako_runtime::stdio). On a terminal
        // its stdio is the container's console pty, which this process (the monitor)
        // copies to and from the terminal; otherwise pipes, copied by this process while
        // a forked child runs the monitor.
        let tty = (0..3).any(|fd| nix::unistd::isatty(fd).unwrap_or(false));
        spec.console = tty;
        if tty {
            return self.launch(spec, LaunchMode::Execute, None, None, None);
        }
        let plan = hako_runtime::stdio::Plan::new(|| {
            Err(hako_runtime::RuntimeError::msg(
                "no terminal: no pty is needed",
            ))
        })?;
        // SAFETY: the CLI is single-threaded.
        match unsafe { nix::unistd::fork() }
            .map_err(|e| Error::other(format!("container \"{}\": cannot fork: {e}", self.name)))?
        {
            nix::unistd::ForkResult::Child => {
                let plan = plan.child_side();
                let code = match plan.install_pipes() {
                    Ok(()) => match self.launch(spec, LaunchMode::Execute, None, None, None) {
                        Ok(c) => c,
                        Err(e) => {
                            eprintln!("hako: {e}");
                            1
                        }
                    },
                    Err((what, e)) => {
                        eprintln!("hako: container \"{}\": cannot {what}: {e}", self.name);
                        1
                    }
                };
                // SAFETY: end of the forked monitor process.
                unsafe { libc::_exit(code) }
            }
            nix::unistd::ForkResult::Parent { child } => {
                if let Ok(done) = hako_runtime::sys::pidfd_open(child.as_raw()) {
                    use std::os::fd::AsFd;
                    plan.relay(done.as_fd(), Some(done.as_fd()));
                }
                loop {
                    match nix::sys::wait::waitpid(child, None) {
                        Ok(nix::sys::wait::WaitStatus::Exited(_, c)) => return Ok(c),
                        Ok(nix::sys::wait::WaitStatus::Signaled(_, s, _)) => {
                            return Ok(128 + s as i32)
                        }
                        Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
                        Err(e) => {
                            return Err(Error::other(format!(
                                "container \"{}\": cannot wait for its monitor: {e}",
                                self.name
                            )))
                        }
                    }
                }
            }
        }
    }

    /// Connects the terminal to /dev/console (tty 0) or tty N; `escape` is the Ctrl
    /// letter of the escape prefix (default 'a': Ctrl-a q detaches).
    pub fn console(&self, tty: u32, escape: u8) -> Result<()> {
        use std::os::fd::AsRawFd;
        if tty > 0 {
            self.start_getty(tty);
        }
        let mut c = self.connect_running()?;
        let r = c.request(&Request::Console { tty })?;
        self.check(r)?;
        let esc = escape.to_ascii_lowercase() as char;
        eprint!(
            "\r\nConnected to tty {tty}\r\nType <Ctrl+{esc} q> to exit the console, <Ctrl+{esc} Ctrl+{esc}> to enter Ctrl+{esc} itself\r\n"
        );
        let pending = c.buffered().to_vec();
        let stream = c.into_stream();
        if !pending.is_empty() {
            use std::io::Write;
            let _ = std::io::stdout().write_all(&pending);
            let _ = std::io::stdout().flush();
        }
        let saved = hako_runtime::term::make_raw(0);
        let fd = stream.as_raw_fd();
        let r = hako_runtime::term::proxy(fd, fd, Some(escape), None);
        if let Some(t) = saved {
            hako_runtime::term::restore(0, &t);
        }
        eprintln!();
        r.map_err(|e| Error::other(format!("console of \"{}\": {e}", self.name)))?;
        Ok(())
    }

    /// hako's Debian image starts no getty on tty1..N at boot (issue 17: each idle getty
    /// costs memory): the one a console connects to is started now, when the container's
    /// init is systemd and its tree carries hako's getty drop-in. It runs as `hako attach`
    /// in a process of its own whose stdio is /dev/null, so nothing in the container ever
    /// holds the caller's terminal. Best effort: a failure leaves the console as it was.
    fn start_getty(&self, tty: u32) {
        let Ok(Some(pid)) = self.init_pid() else {
            return;
        };
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if comm.trim() != "systemd" {
            return;
        }
        let Ok(exe) = std::env::current_exe() else {
            return;
        };
        let script = format!(
            "[ -e /etc/systemd/system/getty@.service.d/hako-container.conf ] || exit 0; \
             exec systemctl start --no-block getty@tty{tty}.service"
        );
        let _ = std::process::Command::new(exe)
            .arg("-P")
            .arg(&self.ctx.lxcpath)
            .args([
                "attach",
                &self.name,
                "--clear-env",
                "--",
                "/bin/sh",
                "-c",
                &script,
            ])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }

    pub fn cgroup_get(&self, key: &str) -> Result<String> {
        let mut c = self.connect_running()?;
        let r = c.request(&Request::CgroupGet {
            key: key.to_string(),
        })?;
        Ok(self.check(r)?.value.unwrap_or_default())
    }

    pub fn cgroup_set(&self, key: &str, value: &str) -> Result<()> {
        let mut c = self.connect_running()?;
        let r = c.request(&Request::CgroupSet {
            key: key.to_string(),
            value: value.to_string(),
        })?;
        self.check(r).map(|_| ())
    }

    /// Move the host interface `host` into the running container as `inside` (its
    /// monitor does it and gives it back at stop); returns the name inside.
    pub fn nic_add(&self, host: &str, inside: &str) -> Result<String> {
        let mut c = self.connect_running()?;
        let r = c.request(&Request::NicAdd {
            host: host.to_string(),
            inside: inside.to_string(),
        })?;
        Ok(self.check(r)?.value.unwrap_or_else(|| inside.to_string()))
    }

    /// Give the container's interface `inside` back to the host, named `host` there
    /// (None: the name it had); returns the name on the host.
    pub fn nic_rm(&self, inside: &str, host: Option<&str>) -> Result<String> {
        let mut c = self.connect_running()?;
        let r = c.request(&Request::NicRm {
            inside: inside.to_string(),
            host: host.map(str::to_string),
        })?;
        Ok(self.check(r)?.value.unwrap_or_else(|| inside.to_string()))
    }

    pub fn info(&self) -> Result<Info> {
        self.must_exist()?;
        // a broken config (a bad line, an include of a FIFO) still leaves the state to show;
        // say what is wrong with it
        let spec = self
            .read_spec()
            .inspect_err(|e| tracing::warn!("container \"{}\": {e}", self.name))
            .ok();
        let mut info = Info::empty(&self.name, State::Stopped);
        info.autostart = spec.as_ref().map(|s| s.start_auto).unwrap_or(false);
        info.groups = spec.as_ref().map(|s| s.groups.clone()).unwrap_or_default();
        info.id_maps = self.id_maps();
        info.unprivileged = crate::IdMapInfo::unprivileged(&info.id_maps)
            || spec.as_ref().is_some_and(|s| s.unprivileged);
        info.privileged = !info.unprivileged;
        if let Some(mut c) = self.connect()? {
            if let Ok(r) = c.request(&Request::Info) {
                info.state = r.parsed_state().unwrap_or(State::Stopped);
                info.pid = r.init_pid;
                // read over netlink from the container's network namespace (with
                // lxc.net.0.type = none that is the host's, as lxc-info shows it too)
                let ifaces = match r.init_pid {
                    Some(pid) => hako_runtime::net::interfaces_of(pid, &r.net_links),
                    None => Vec::new(),
                };
                for i in &ifaces {
                    info.ips.extend(i.ipv4.iter().cloned());
                    info.ips.extend(i.ipv6.iter().cloned());
                    info.interfaces.push(crate::NetInfo {
                        name: i.name.clone(),
                        link: i.link.clone(),
                        ipv4: i.ipv4.clone(),
                        ipv6: i.ipv6.clone(),
                        tx_bytes: i.tx_bytes,
                        rx_bytes: i.rx_bytes,
                    });
                }
                if let Some(s) = r.stats {
                    info.cpu_ns = s.cpu_ns;
                    info.blkio_bytes = s.blkio_bytes;
                    info.memory_bytes = s.memory_bytes;
                    info.kmem_bytes = s.kmem_bytes;
                    info.pids = s.pids;
                }
            }
        }
        let lsm = spec.as_ref().map(|s| &s.lsm);
        info.lsm = crate::LsmInfo {
            apparmor: hako_runtime::lsm::apparmor_status(
                lsm,
                &self.name,
                &self.runtime_dir(),
                info.pid,
            ),
            selinux: hako_runtime::lsm::selinux_status(lsm),
        };
        Ok(info)
    }

    /// The id maps of the container's config (`lxc.idmap`, includes followed), read from
    /// the config (not the running process), so a stopped container has them too; none
    /// when the config cannot be read.
    pub fn id_maps(&self) -> Vec<crate::IdMapInfo> {
        match hako_config::load_file(&self.config_path()) {
            Ok(cfg) => crate::IdMapInfo::from_values(cfg.get_list("lxc.idmap")),
            Err(_) => Vec::new(),
        }
    }

    /// Waits until the state is one of `states`; `timeout` None = forever.
    /// Ok(true) when reached, Ok(false) on timeout.
    pub fn wait(&self, states: &[State], timeout: Option<Duration>) -> Result<bool> {
        let names: Vec<&str> = states.iter().map(|s| s.as_str()).collect();
        Ok(client::wait_states(&self.runtime_dir(), &names, timeout)?)
    }

    /// Rewrite legacy keys in the container's config (comments and order kept); returns
    /// how many lines changed.
    pub fn upgrade_config(&self) -> Result<usize> {
        self.must_exist()?;
        let store = self.ctx.store();
        let _lock = store.lock(&self.name, LOCK_TIMEOUT)?;
        let path = self.config_path();
        let mut doc = hako_config::Document::load(&path)?;
        let n = hako_config::upgrade_document(&mut doc);
        if n > 0 {
            let tmp = path.with_extension("hako-tmp");
            std::fs::write(&tmp, doc.render())
                .and_then(|_| std::fs::rename(&tmp, &path))
                .map_err(|e| {
                    Error::other(format!(
                        "cannot rewrite {}: {e}; check the file system",
                        path.display()
                    ))
                })?;
        }
        Ok(n)
    }

    /// The value(s) of one config item in effect, as `lxc-info -c KEY`: the last value of
    /// a single-valued key, the list of a multi-valued one (an empty value clears it).
    pub fn config_item(&self, key: &str) -> Result<Vec<String>> {
        self.must_exist()?;
        if !hako_config::is_known_key(key) {
            return Err(Error::other(format!(
                "unknown config key \"{key}\"; see man 5 lxc.container.conf for the keys (e.g. lxc.uts.name)"
            )));
        }
        let cfg = hako_config::load_file(&self.config_path())?;
        let vals: Vec<String> = if hako_config::is_multi_valued(key) {
            cfg.get_list(key).into_iter().map(String::from).collect()
        } else {
            cfg.get(key)
                .map(|v| vec![v.to_string()])
                .unwrap_or_default()
        };
        Ok(vals)
    }
}
