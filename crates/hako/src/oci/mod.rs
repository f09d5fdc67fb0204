//! The OCI runtime (`hako-oci`, `hako oci`): runc's commands on a bundle, run by the same
//! per-container monitor as the LXC face. The state of container ID lives in `ROOT/ID`:
//!
//! - `oci.json` ([`OciState`]): bundle, rootfs, creation time, annotations, init's pid
//!   and start time; written by `create`, removed by `delete`;
//! - `exec.fifo`: while it exists the container is `created`: its init, set up, waits to
//!   open it for writing; `start` opens it for reading, reads init's byte, removes it;
//! - the monitor's own files (`monitor.sock`, `state.json`) while the monitor lives: the
//!   monitor's runtime directory is `ROOT/ID`, it removes its files when it exits, and
//!   `oci.json` keeps the directory (the container is `stopped` then) until `delete`.
//!
//! The status is derived, never stored: no `oci.json`: no container; init alive: created
//! (the fifo exists) or running (paused when its cgroup is frozen); else stopped.

use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hako_runtime::client;
use hako_runtime::hooks::oci as oci_hooks;
use hako_runtime::monitor::{self, LaunchMode, LaunchOptions, OciLaunch};
use hako_runtime::mounts::AutoPlan;
use hako_runtime::sys;
use hako_spec::OciHookStage;
use serde::{Deserialize, Serialize};

/// runc's default `--root` for root.
pub const DEFAULT_ROOT: &str = "/run/hako-oci";
pub const STATE: &str = "oci.json";
pub const FIFO: &str = "exec.fifo";
/// The runtime spec version `state` reports.
pub const OCI_VERSION: &str = "1.2.0";
/// `runc spec`'s default config.json (runc 1.1's, with `terminal: true`).
pub const DEFAULT_CONFIG: &str = include_str!("default_config.json");

/// An error of an OCI command: its text (runc's where runc has one) and exit code.
#[derive(Debug)]
pub struct OciError {
    pub msg: String,
    pub code: i32,
}

impl OciError {
    pub fn new(msg: impl Into<String>) -> OciError {
        OciError {
            msg: msg.into(),
            code: 1,
        }
    }
}

impl<E: std::fmt::Display> From<E> for OciError {
    fn from(e: E) -> OciError {
        OciError::new(e.to_string())
    }
}

pub type Result<T> = std::result::Result<T, OciError>;

pub mod events;
pub mod more;
pub mod update;

/// What `create` records of a container (`ROOT/ID/oci.json`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct OciState {
    pub id: String,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    /// RFC 3339 with nanoseconds, UTC
    pub created: String,
    pub owner: String,
    #[serde(default)]
    pub annotations: std::collections::BTreeMap<String, String>,
    /// init's host pid and its start time (0: not started yet)
    pub pid: i32,
    pub pid_start: u64,
    /// config.json's `poststart` and `poststop` hooks (run by `start` and `delete`)
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hooks: Vec<hako_spec::OciHook>,
}

/// The state document's members, in runc's order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StateDoc<'a> {
    oci_version: &'a str,
    id: &'a str,
    pid: i32,
    status: &'a str,
    bundle: &'a Path,
    rootfs: &'a Path,
    created: &'a str,
    owner: &'a str,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    annotations: &'a std::collections::BTreeMap<String, String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

/// The global options (runc's).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Global {
    pub root: PathBuf,
    pub systemd_cgroup: bool,
}

/// runc's rule for ids: letters, digits, `_`, `+`, `-`, `.`; not `.` or `..`.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id != "."
        && id != ".."
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+-.".contains(c))
}

fn not_exist() -> OciError {
    OciError::new("container does not exist")
}

impl Global {
    pub fn dir(&self, id: &str) -> Result<PathBuf> {
        if !valid_id(id) {
            return Err(OciError::new("invalid container ID format"));
        }
        Ok(self.root.join(id))
    }

    pub fn load(&self, id: &str) -> Result<OciState> {
        let dir = self.dir(id)?;
        let text = match std::fs::read(dir.join(STATE)) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(not_exist()),
            Err(e) => {
                return Err(OciError::new(format!(
                    "cannot read the state of container {id} ({}): {e}",
                    dir.join(STATE).display()
                )))
            }
        };
        serde_json::from_slice(&text).map_err(|e| {
            OciError::new(format!(
                "the state file {} of container {id} is damaged ({e}); remove the directory {} after making sure nothing of the container runs",
                dir.join(STATE).display(),
                dir.display()
            ))
        })
    }

    fn save(&self, st: &OciState) -> Result<()> {
        let dir = self.dir(&st.id)?;
        let tmp = dir.join(format!("{STATE}.tmp"));
        let body = serde_json::to_vec(st)?;
        std::fs::write(&tmp, body)
            .and_then(|_| std::fs::rename(&tmp, dir.join(STATE)))
            .map_err(|e| {
                OciError::new(format!(
                    "cannot write the state of container {} in {}: {e}",
                    st.id,
                    dir.display()
                ))
            })
    }

    pub fn status(&self, st: &OciState) -> Status {
        let dir = self.root.join(&st.id);
        if st.pid <= 0 || !sys::proc_alive(st.pid, st.pid_start) {
            return Status::Stopped;
        }
        if dir.join(FIFO).exists() {
            return Status::Created;
        }
        let frozen = client::read_state_file(&dir)
            .and_then(|sf| sf.cgroup)
            .is_some_and(|cg| cg.is_frozen().unwrap_or(false));
        if frozen {
            Status::Paused
        } else {
            Status::Running
        }
    }

    fn doc<'a>(&self, st: &'a OciState) -> StateDoc<'a> {
        let status = self.status(st);
        StateDoc {
            oci_version: OCI_VERSION,
            id: &st.id,
            pid: if status == Status::Stopped { 0 } else { st.pid },
            status: status.as_str(),
            bundle: &st.bundle,
            rootfs: &st.rootfs,
            created: &st.created,
            owner: &st.owner,
            annotations: &st.annotations,
        }
    }

    /// The state document given to hooks: `status` instead of the derived one.
    fn hook_state(&self, st: &OciState, status: Status) -> String {
        let mut d = self.doc(st);
        d.status = status.as_str();
        if status != Status::Stopped {
            d.pid = st.pid;
        }
        serde_json::to_string(&d).unwrap_or_default()
    }

    /// runc's `state` document as a value.
    pub fn state_json(&self, st: &OciState) -> serde_json::Value {
        serde_json::to_value(self.doc(st)).unwrap_or_default()
    }

    /// runc's `state` document as text, in runc's member order: pretty (`state`) or on
    /// one line (`list --format json`).
    pub fn state_text(&self, st: &OciState, pretty: bool) -> String {
        let d = self.doc(st);
        if pretty {
            serde_json::to_string_pretty(&d).unwrap_or_default()
        } else {
            serde_json::to_string(&d).unwrap_or_default()
        }
    }

    /// Every container under the root, by id.
    pub fn list(&self) -> Vec<OciState> {
        let mut out = Vec::new();
        let Ok(rd) = std::fs::read_dir(&self.root) else {
            return out;
        };
        for e in rd.flatten() {
            if let Some(id) = e.file_name().to_str() {
                if let Ok(st) = self.load(id) {
                    out.push(st);
                }
            }
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out
    }
}

/// How `create` (or `run`) starts the container.
#[derive(Clone, Debug, Default)]
pub struct CreateOpts {
    pub bundle: Option<PathBuf>,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub no_new_keyring: bool,
}

/// Now, as RFC 3339 UTC with nanoseconds (the state's `created`).
pub fn now() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    // civil from days (Howard Hinnant's algorithm)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = if month <= 2 { y + 1 } else { y };
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:09}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        d.subsec_nanos()
    )
}

/// The cgroup name of container `id` under `root`: unique per root and id.
fn cgroup_name(root: &Path, id: &str) -> String {
    if root == Path::new(DEFAULT_ROOT) {
        return format!("hako-oci.{id}");
    }
    // FNV-1a of the root's path
    let mut h: u32 = 0x811c_9dc5;
    for b in root.as_os_str().as_encoded_bytes() {
        h ^= u32::from(*b);
        h = h.wrapping_mul(0x0100_0193);
    }
    format!("hako-oci-{h:08x}.{id}")
}

/// The bundle's spec, checked: everything the runtime cannot honour is an error.
fn load_spec(
    g: &Global,
    id: &str,
    o: &CreateOpts,
) -> Result<(PathBuf, hako_runtime::ContainerSpec)> {
    let bundle = match &o.bundle {
        Some(b) if b.is_absolute() => b.clone(),
        Some(b) => std::env::current_dir()?.join(b),
        None => std::env::current_dir()?,
    };
    if !bundle.is_dir() {
        return Err(OciError::new(format!(
            "bundle directory {}: not found or not a directory; pass --bundle with the directory that holds config.json",
            bundle.display()
        )));
    }
    let cfg = bundle.join("config.json");
    let text = match hako_config::read_bounded_text(&cfg, 4 << 20) {
        Ok(t) => t,
        Err(e) => {
            return Err(OciError::new(format!(
                "JSON specification file {} cannot be read: {e}; write one with \"hako-oci spec\"",
                cfg.display()
            )))
        }
    };
    let opts = hako_spec::oci::OciOptions {
        systemd_cgroup: g.systemd_cgroup,
    };
    let mut spec = hako_spec::oci::from_bundle_config(id, &bundle, &text, &opts)?;
    if !spec.rootfs.is_dir() {
        return Err(OciError::new(format!(
            "root.path in {}: the rootfs {} does not exist or is not a directory; create it or fix root.path",
            cfg.display(),
            spec.rootfs.display()
        )));
    }
    // linux.cgroupsPath becomes the runtime's cgroup directory (lxc.cgroup.dir: the
    // container's cgroup at that path in every hierarchy, missing levels made and removed
    // with it); see [`cgroup_dir_for`]
    // a bind mount's missing target is made as runc makes it: a directory for a directory
    // source, else a file (hako-spec, pure, cannot look at the host's source)
    for m in spec.mounts.iter_mut() {
        if m.fstype == "none" && !m.relative && !m.create_dir && !m.create_file {
            match std::fs::metadata(&m.source) {
                Ok(md) if md.is_dir() => m.create_dir = true,
                Ok(_) => m.create_file = true,
                Err(_) => {}
            }
        }
    }
    if let Some(cp) = spec.cgroups_path.take() {
        spec.cgroup_dir = Some(cgroup_dir_for(&cp, &own_cgroup())?);
    }
    let missing = spec.unsupported_by_runtime();
    if !missing.is_empty() {
        return Err(OciError::new(format!(
            "{}: hako cannot honour yet: {}; remove these settings (nothing was created)",
            cfg.display(),
            missing.join("; ")
        )));
    }
    if o.no_new_keyring {
        spec.keyring_session = false;
    }
    Ok((bundle, spec))
}

/// This process's cgroup on the cgroup2 line of /proc/self/cgroup (`0::/PATH`), without
/// the leading slash; empty at the root or where there is no such line.
fn own_cgroup() -> String {
    std::fs::read_to_string("/proc/self/cgroup")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .unwrap_or("")
        .trim_matches('/')
        .to_string()
}

/// The cgroup directory (below each hierarchy's root) of a `linux.cgroupsPath`:
/// - absolute `/a/b`: `a/b`;
/// - relative `a/b`: below the caller's own cgroup (`own`, its cgroup2 line; on a hybrid
///   host the v1 hierarchies get the same path), as runc places it below its own;
/// - systemd's `slice:prefix:name` (`--systemd-cgroup`): the path systemd gives the scope
///   unit `prefix-name.scope` in that slice (`a-b.slice` is `a.slice/a-b.slice`; an empty
///   slice is `system.slice`; a name ending in `.slice` is that slice itself). hako-oci
///   makes that directory on cgroupfs itself: it asks systemd for no transient unit.
pub fn cgroup_dir_for(cp: &hako_spec::CgroupsPath, own: &str) -> Result<String> {
    let dir = match cp {
        hako_spec::CgroupsPath::Path(p) if p.starts_with('/') => p.trim_matches('/').to_string(),
        hako_spec::CgroupsPath::Path(p) => {
            let rel = p.trim_matches('/');
            if own.is_empty() {
                rel.to_string()
            } else {
                format!("{own}/{rel}")
            }
        }
        hako_spec::CgroupsPath::Systemd {
            slice,
            prefix,
            name,
        } => {
            let slice = if slice.is_empty() {
                "system.slice"
            } else {
                slice
            };
            let stem = slice.trim_end_matches(".slice");
            // -.slice is the root slice
            let mut parts: Vec<String> = Vec::new();
            if stem != "-" {
                let mut acc = String::new();
                for w in stem.split('-') {
                    if w.is_empty() {
                        return Err(OciError::new(format!(
                            "linux.cgroupsPath: \"{slice}\" is not a valid slice name (an empty part between dashes); fix the slice"
                        )));
                    }
                    if !acc.is_empty() {
                        acc.push('-');
                    }
                    acc.push_str(w);
                    parts.push(format!("{acc}.slice"));
                }
            }
            let unit = if name.ends_with(".slice") {
                name.clone()
            } else if prefix.is_empty() {
                format!("{name}.scope")
            } else {
                format!("{prefix}-{name}.scope")
            };
            parts.push(unit);
            parts.join("/")
        }
    };
    if dir.is_empty() {
        return Err(OciError::new(
            "linux.cgroupsPath: it names the cgroup root itself; give a path below it such as /hako/ID",
        ));
    }
    Ok(dir)
}

/// Copies of this process's stdin, stdout, stderr (close-on-exec).
fn dup_stdio() -> Result<Vec<OwnedFd>> {
    let mut v = Vec::new();
    for fd in 0..3 {
        let b = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        v.push(
            b.try_clone_to_owned()
                .map_err(|e| OciError::new(format!("cannot pass on standard stream {fd}: {e}")))?,
        );
    }
    Ok(v)
}

/// Remove a container directory that `create` made, with what is in it.
fn remove_dir(dir: &Path) {
    for f in [STATE, FIFO, "oci.json.tmp"] {
        let _ = std::fs::remove_file(dir.join(f));
    }
    let _ = client::cleanup_stale(dir);
    let _ = std::fs::remove_dir(dir);
}

/// The root directory and the container's own (EEXIST: the id is taken).
fn make_dir(g: &Global, id: &str) -> Result<PathBuf> {
    let dir = g.dir(id)?;
    std::fs::create_dir_all(&g.root).map_err(|e| {
        OciError::new(format!(
            "cannot create the state root {}: {e}; pass a writable --root",
            g.root.display()
        ))
    })?;
    match std::fs::create_dir(&dir) {
        Ok(()) => Ok(dir),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(OciError::new("container with given ID already exists"))
        }
        Err(e) => Err(OciError::new(format!(
            "cannot create {}: {e}",
            dir.display()
        ))),
    }
}

/// `create` (`detach`: init waits for `start`) or the foreground half of `run`.
fn launch(g: &Global, id: &str, o: &CreateOpts, wait_start: bool) -> Result<(PathBuf, i32)> {
    let (bundle, spec) = load_spec(g, id, o)?;
    let dir = make_dir(g, id)?;
    let st = OciState {
        id: id.to_string(),
        bundle: bundle.clone(),
        rootfs: spec.rootfs.clone(),
        created: now(),
        owner: String::new(),
        annotations: spec
            .annotations
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        pid: 0,
        pid_start: 0,
        hooks: spec
            .oci_hooks
            .iter()
            .filter(|h| matches!(h.stage, OciHookStage::Poststart | OciHookStage::Poststop))
            .cloned()
            .collect(),
    };
    // the document the create hooks get (pid and status set where they run)
    let hook_state = (!spec.oci_hooks.is_empty()).then(|| {
        let mut d = g.doc(&st);
        d.status = "created";
        serde_json::to_string(&d).unwrap_or_default()
    });
    let made = (|| -> Result<(LaunchOptions, OciState)> {
        g.save(&st)?;
        let fifo = dir.join(FIFO);
        if wait_start {
            nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o622))
                .map_err(|e| OciError::new(format!("cannot create {}: {e}", fifo.display())))?;
            // mkfifo's mode went through the umask
            let _ = nix::sys::stat::fchmodat(
                None,
                &fifo,
                nix::sys::stat::Mode::from_bits_truncate(0o622),
                nix::sys::stat::FchmodatFlags::FollowSymlink,
            );
        }
        let host = hako_cgroups::Host::detect()?;
        let plan = AutoPlan::from_spec(&spec);
        Ok((
            LaunchOptions {
                spec,
                host,
                plan,
                runtime_dir: dir.clone(),
                mode: if wait_start {
                    LaunchMode::Daemon
                } else {
                    LaunchMode::Execute
                },
                pidfile: None,
                console_log: None,
                log_file: None,
                console_out: None,
                net: Vec::new(),
                cgroup_name: cgroup_name(&g.root, id),
                oci: Some(OciLaunch {
                    exec_fifo: wait_start.then_some(fifo),
                    inherit_stdio: true,
                    console_socket: o.console_socket.clone(),
                    hook_state,
                }),
                stdio: if wait_start { dup_stdio()? } else { Vec::new() },
            },
            st.clone(),
        ))
    })();
    let (opts, mut st) = match made {
        Ok(x) => x,
        Err(e) => {
            remove_dir(&dir);
            return Err(e);
        }
    };
    let record = |st: &mut OciState, pid: i32| -> Result<()> {
        st.pid = pid;
        st.pid_start = sys::proc_start_time(pid).unwrap_or(0);
        g.save(st)?;
        if let Some(p) = &o.pid_file {
            write_pid_file(p, pid)?;
        }
        Ok(())
    };
    if wait_start {
        match monitor::launch(opts, &|| {}) {
            Ok(pid) => {
                if let Err(e) = record(&mut st, pid) {
                    kill_and_remove(g, &st, &dir);
                    return Err(e);
                }
                Ok((dir, pid))
            }
            Err(e) => {
                remove_dir(&dir);
                Err(OciError::new(e.to_string()))
            }
        }
    } else {
        // this process is the monitor: `started` records init, the result is its exit
        let rec_err = std::cell::RefCell::new(None);
        let started = || {
            let pid = client::read_state_file(&dir)
                .and_then(|sf| sf.init_pid)
                .unwrap_or(0);
            let mut s = st.clone();
            if let Err(e) = record(&mut s, pid) {
                *rec_err.borrow_mut() = Some(e);
            }
            if s.hooks.iter().any(|h| h.stage == OciHookStage::Poststart) {
                let state = g.hook_state(&s, Status::Running);
                for w in oci_hooks::run_all(id, &s.hooks, OciHookStage::Poststart, &state) {
                    warn(&w);
                }
            }
        };
        let r = monitor::launch(opts, &started);
        let code = match r {
            Ok(code) => code,
            Err(e) => {
                remove_dir(&dir);
                return Err(OciError::new(e.to_string()));
            }
        };
        if let Some(e) = rec_err.into_inner() {
            eprintln!("{}", e.msg);
        }
        Ok((dir, code))
    }
}

pub(crate) fn write_pid_file(p: &Path, pid: i32) -> Result<()> {
    // as runc: a temporary file renamed into place
    let tmp = p.with_file_name(format!(
        ".{}.tmp",
        p.file_name().and_then(|n| n.to_str()).unwrap_or("pid")
    ));
    std::fs::write(&tmp, pid.to_string())
        .and_then(|_| std::fs::rename(&tmp, p))
        .map_err(|e| OciError::new(format!("cannot write the pid file {}: {e}", p.display())))
}

pub fn create(g: &Global, id: &str, o: &CreateOpts) -> Result<()> {
    launch(g, id, o, true).map(|_| ())
}

/// `start`: let a created container's init exec its process.
pub fn start(g: &Global, id: &str) -> Result<()> {
    let st = g.load(id)?;
    match g.status(&st) {
        Status::Created => {}
        Status::Stopped => return Err(OciError::new("cannot start a container that has stopped")),
        Status::Running | Status::Paused => {
            return Err(OciError::new("cannot start an already running container"))
        }
    }
    let fifo = g.dir(id)?.join(FIFO);
    let f = nix::fcntl::open(
        &fifo,
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_NONBLOCK | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| OciError::new(format!("cannot open the exec fifo {}: {e}", fifo.display())))?;
    // SAFETY: a fresh fd we own.
    let f: OwnedFd = unsafe { std::os::fd::FromRawFd::from_raw_fd(f) };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut p = [libc::pollfd {
            fd: f.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(p.as_mut_ptr(), 1, 100) };
        if n == 1 && p[0].revents & libc::POLLIN != 0 {
            let mut b = [0u8; 1];
            if nix::unistd::read(f.as_raw_fd(), &mut b).unwrap_or(0) == 1 {
                break;
            }
        }
        if !sys::proc_alive(st.pid, st.pid_start) {
            return Err(OciError::new("cannot start a container that has stopped"));
        }
        if Instant::now() > deadline {
            return Err(OciError::new(format!(
                "container {id}: its init did not take the start within 10 s (pid {}); kill it with \"hako-oci kill {id} KILL\" and delete it",
                st.pid
            )));
        }
    }
    let _ = std::fs::remove_file(&fifo);
    // poststart: the program runs; a failing hook is a warning (runtime-spec)
    if st.hooks.iter().any(|h| h.stage == OciHookStage::Poststart) {
        let state = g.hook_state(&st, Status::Running);
        for w in oci_hooks::run_all(id, &st.hooks, OciHookStage::Poststart, &state) {
            warn(&w);
        }
    }
    Ok(())
}

/// A warning on stderr, in runc's (logrus's) text form.
fn warn(msg: &str) {
    let t = now();
    eprintln!(
        "time=\"{}Z\" level=warning msg={}",
        &t[..19],
        serde_json::Value::String(msg.to_string())
    );
}

/// poststop: after the container is deleted; a failing hook is a warning (runtime-spec).
fn poststop(g: &Global, st: &OciState) {
    if st.hooks.iter().any(|h| h.stage == OciHookStage::Poststop) {
        let state = g.hook_state(st, Status::Stopped);
        for w in oci_hooks::run_all(&st.id, &st.hooks, OciHookStage::Poststop, &state) {
            warn(&w);
        }
    }
}

/// A signal as runc's `kill` takes it: `KILL`, `SIGKILL`, `9`.
pub fn parse_signal(s: &str) -> Result<i32> {
    if let Ok(n) = s.parse::<i32>() {
        if (1..=64).contains(&n) {
            return Ok(n);
        }
    }
    let up = s.to_ascii_uppercase();
    let name = if up.starts_with("SIG") {
        up.clone()
    } else {
        format!("SIG{up}")
    };
    if let Ok(sig) = name.parse::<nix::sys::signal::Signal>() {
        return Ok(sig as i32);
    }
    if let Some(rest) = name.strip_prefix("SIGRTMIN") {
        let off: i32 = if rest.is_empty() {
            0
        } else {
            rest.trim_start_matches('+').parse().unwrap_or(-1)
        };
        let n = libc::SIGRTMIN() + off;
        if off >= 0 && n <= libc::SIGRTMAX() {
            return Ok(n);
        }
    }
    Err(OciError::new(format!("unknown signal \"{s}\"")))
}

/// `kill`: signal init, or (`all`) every process of the container's cgroup.
pub fn kill(g: &Global, id: &str, sig: i32, all: bool) -> Result<()> {
    let st = g.load(id)?;
    if g.status(&st) == Status::Stopped {
        return Err(OciError::new("container not running"));
    }
    if all {
        let dir = g.dir(id)?;
        if let Some(cg) = client::read_state_file(&dir).and_then(|sf| sf.cgroup) {
            for pid in cg.procs().unwrap_or_default() {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::try_from(sig).ok(),
                );
            }
            return Ok(());
        }
    }
    let pidfd = sys::pidfd_open(st.pid).map_err(|_| OciError::new("container not running"))?;
    // the pidfd is of the process we recorded, not a later one with the same pid
    if !sys::proc_alive(st.pid, st.pid_start) {
        return Err(OciError::new("container not running"));
    }
    sys::pidfd_send_signal(pidfd.as_fd(), sig).map_err(|e| {
        OciError::new(format!(
            "cannot signal container {id} (pid {}): {e}",
            st.pid
        ))
    })
}

/// Wait (up to `limit`) for the monitor of `dir` to exit: the container's cgroup and
/// mounts are gone then.
fn wait_monitor(dir: &Path, limit: Duration) -> bool {
    let Some(sf) = client::read_state_file(dir) else {
        return true;
    };
    let Ok(fd) = sys::pidfd_open(sf.monitor_pid) else {
        return true;
    };
    if !sys::proc_alive(sf.monitor_pid, sf.monitor_start) {
        return true;
    }
    let mut p = [libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    }];
    // SAFETY: one valid pollfd.
    unsafe { libc::poll(p.as_mut_ptr(), 1, limit.as_millis() as i32) == 1 }
}

fn kill_and_remove(g: &Global, st: &OciState, dir: &Path) {
    if sys::proc_alive(st.pid, st.pid_start) {
        if let Ok(fd) = sys::pidfd_open(st.pid) {
            let _ = sys::pidfd_send_signal(fd.as_fd(), libc::SIGKILL);
        }
    }
    let _ = g;
    wait_monitor(dir, Duration::from_secs(10));
    remove_dir(dir);
}

/// `delete`: a stopped (or created, or with `force` any) container and all it left.
pub fn delete(g: &Global, id: &str, force: bool) -> Result<()> {
    let st = match g.load(id) {
        Ok(st) => st,
        Err(e) if force && e.msg == not_exist().msg => return Ok(()),
        Err(e) => return Err(e),
    };
    let dir = g.dir(id)?;
    let status = g.status(&st);
    match status {
        Status::Stopped | Status::Created => {}
        _ if force => {}
        s => {
            return Err(OciError::new(format!(
                "cannot delete container {id} that is not stopped: {}",
                s.as_str()
            )))
        }
    }
    if status == Status::Paused {
        if let Some(cg) = client::read_state_file(&dir).and_then(|sf| sf.cgroup) {
            let _ = cg.thaw();
        }
    }
    kill_and_remove(g, &st, &dir);
    if dir.exists() {
        return Err(OciError::new(format!(
            "container {id}: its monitor did not finish; {} is left, remove it once nothing of the container runs",
            dir.display()
        )));
    }
    poststop(g, &st);
    Ok(())
}

/// `run`: create and start; detached: return then; else wait for the process and return
/// its exit code, then delete the container.
pub fn run(g: &Global, id: &str, o: &CreateOpts, detach: bool) -> Result<i32> {
    if detach {
        create(g, id, o)?;
        if let Err(e) = start(g, id) {
            let _ = delete(g, id, true);
            return Err(e);
        }
        return Ok(0);
    }
    let (dir, code) = launch(g, id, o, false)?;
    wait_monitor(&dir, Duration::from_secs(10));
    let st = g.load(id).ok();
    remove_dir(&dir);
    if let Some(st) = st {
        poststop(g, &st);
    }
    Ok(code)
}

/// `spec`: runc's default config.json in the bundle directory (never over an existing one).
pub fn spec(bundle: Option<&Path>) -> Result<()> {
    let dir = bundle
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let p = dir.join("config.json");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&p)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                OciError::new("File config.json exists. Remove it first")
            } else {
                OciError::new(format!("cannot write {}: {e}", p.display()))
            }
        })?;
    f.write_all(DEFAULT_CONFIG.as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_as_runc_takes_them() {
        for ok in ["a", "web-1", "x_y+z.w", "0123456789abcdef"] {
            assert!(valid_id(ok), "{ok}");
        }
        for bad in ["", ".", "..", "a/b", "a b", "é"] {
            assert!(!valid_id(bad), "{bad}");
        }
    }

    #[test]
    fn signals() {
        assert_eq!(parse_signal("KILL").unwrap(), 9);
        assert_eq!(parse_signal("SIGTERM").unwrap(), 15);
        assert_eq!(parse_signal("9").unwrap(), 9);
        assert_eq!(parse_signal("hup").unwrap(), 1);
        assert_eq!(parse_signal("SIGRTMIN+3").unwrap(), libc::SIGRTMIN() + 3);
        assert!(parse_signal("FOO").is_err());
        assert!(parse_signal("0").is_err());
    }

    #[test]
    fn time_format() {
        let t = now();
        assert_eq!(t.len(), "2026-12-07T21:34:22.960330191Z".len(), "{t}");
        assert!(t.starts_with("20") && t.ends_with('Z'));
    }

    #[test]
    fn default_config_is_runc_spec_and_maps() {
        let v: serde_json::Value = serde_json::from_str(DEFAULT_CONFIG).unwrap();
        assert_eq!(v["process"]["args"][0], "sh");
        let s = hako_spec::oci::from_bundle_config(
            "t",
            Path::new("/b"),
            DEFAULT_CONFIG,
            &Default::default(),
        )
        .unwrap();
        assert!(s.terminal);
    }

    #[test]
    fn cgroups_paths() {
        use hako_spec::CgroupsPath as C;
        let sd = |s: &str, p: &str, n: &str| C::Systemd {
            slice: s.into(),
            prefix: p.into(),
            name: n.into(),
        };
        assert_eq!(cgroup_dir_for(&C::Path("/a/b".into()), "x").unwrap(), "a/b");
        assert_eq!(cgroup_dir_for(&C::Path("a/b".into()), "").unwrap(), "a/b");
        assert_eq!(
            cgroup_dir_for(&C::Path("a/b".into()), "user.slice/u").unwrap(),
            "user.slice/u/a/b"
        );
        assert_eq!(
            cgroup_dir_for(&sd("system.slice", "hako", "c1"), "").unwrap(),
            "system.slice/hako-c1.scope"
        );
        assert_eq!(
            cgroup_dir_for(&sd("machine-web.slice", "cri", "x"), "").unwrap(),
            "machine.slice/machine-web.slice/cri-x.scope"
        );
        assert_eq!(
            cgroup_dir_for(&sd("", "", "c1"), "").unwrap(),
            "system.slice/c1.scope"
        );
        assert_eq!(
            cgroup_dir_for(&sd("-.slice", "p", "n"), "").unwrap(),
            "p-n.scope"
        );
        assert_eq!(
            cgroup_dir_for(&sd("system.slice", "", "my.slice"), "").unwrap(),
            "system.slice/my.slice"
        );
        assert!(cgroup_dir_for(&sd("a--b.slice", "p", "n"), "").is_err());
        assert!(cgroup_dir_for(&C::Path("/".into()), "").is_err());
    }

    #[test]
    fn cgroup_names_are_per_root() {
        assert_eq!(cgroup_name(Path::new(DEFAULT_ROOT), "a"), "hako-oci.a");
        let a = cgroup_name(Path::new("/tmp/r1"), "a");
        assert_ne!(a, cgroup_name(Path::new("/tmp/r2"), "a"));
        assert!(a.ends_with(".a"));
    }
}
