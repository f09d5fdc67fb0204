//! Linux security modules: what the kernel offers (AppArmor, SELinux), what a container's
//! `lxc.apparmor.*` and `lxc.selinux.*` keys ask for, and AppArmor confinement itself — the
//! profile hako generates, loading it with `apparmor_parser` before the container starts,
//! the exec label init and attached commands get right before they exec, and unloading the
//! profile when the container stops.
//!
//! As LXC does, hako ignores these keys where the kernel lacks the module (Debian's
//! `/etc/lxc/default.conf` sets `lxc.apparmor.profile = generated`, and such containers must
//! keep starting there); `info` shows it. Where the kernel has the module, a key is honoured
//! or the start fails naming it: SELinux labelling is not implemented, so
//! `lxc.selinux.context` on a kernel with SELinux active stops the start.

use std::fmt::Write as _;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use serde::Serialize;

use crate::error::{errno_text, Result, RuntimeError};

/// `lxc.apparmor.profile = generated`: hako writes and loads a profile of its own.
pub const GENERATED: &str = "generated";
/// `lxc.apparmor.profile = unconfined`: no profile.
pub const UNCONFINED: &str = "unconfined";
/// `lxc.apparmor.profile = unchanged`: init keeps the label of the process that starts it.
pub const UNCHANGED: &str = "unchanged";

/// Where the kernel shows AppArmor's securityfs when it is mounted where systemd mounts it.
const APPARMOR_FS: &str = "kernel/security/apparmor";

/// The LSM keys of a container's config, parsed once (hako-spec's).
pub use hako_spec::LsmConfig;

// ---------------------------------------------------------------------------------------
// What the kernel offers

/// The security modules of the running kernel, as far as containers are concerned.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LsmHost {
    /// AppArmor is enabled in the running kernel
    pub apparmor: bool,
    /// AppArmor's securityfs directory, when securityfs is mounted (profiles are loaded and
    /// removed through it)
    pub apparmor_fs: Option<PathBuf>,
    /// the kernel's AppArmor mediates mounts (`features/mount`): without it a profile cannot
    /// stop the mount escapes, the reason hako confines a container at all
    pub apparmor_mounts: bool,
    /// SELinux is active
    pub selinux: bool,
}

impl LsmHost {
    /// The running kernel's modules (reads /sys).
    pub fn detect() -> LsmHost {
        LsmHost::detect_in(Path::new("/sys"))
    }

    /// The modules as a sysfs tree at `sys` shows them (tests use a fake tree).
    ///
    /// AppArmor: `module/apparmor/parameters/enabled` is `Y`, or securityfs's list of
    /// active modules (`kernel/security/lsm`) names it; that list wins where it is there.
    /// SELinux: the list names it, or the kernel made `fs/selinux` (it does only when
    /// SELinux is enabled).
    pub fn detect_in(sys: &Path) -> LsmHost {
        let active = std::fs::read_to_string(sys.join("kernel/security/lsm")).ok();
        let listed = |m: &str| {
            active
                .as_deref()
                .map(|l| l.trim().split(',').any(|x| x.trim() == m))
        };
        let apparmor = listed("apparmor").unwrap_or_else(|| {
            std::fs::read_to_string(sys.join("module/apparmor/parameters/enabled"))
                .map(|v| v.trim() == "Y")
                .unwrap_or(false)
        });
        let fs = sys.join(APPARMOR_FS);
        let apparmor_fs = (apparmor
            && (fs.join(".remove").exists() || fs.join("profiles").exists()))
        .then_some(fs);
        let apparmor_mounts = apparmor_fs
            .as_ref()
            .is_some_and(|f| f.join("features/mount").is_dir());
        let selinux = listed("selinux").unwrap_or_else(|| sys.join("fs/selinux").is_dir());
        LsmHost {
            apparmor,
            apparmor_fs,
            apparmor_mounts,
            selinux,
        }
    }
}

// ---------------------------------------------------------------------------------------
// What a start does

/// What the AppArmor keys amount to for one start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AppArmor {
    /// the kernel has no AppArmor: the keys are ignored, as LXC ignores them
    NotAvailable,
    /// `unchanged`: init keeps the label of the monitor that starts it
    Unchanged,
    /// `unconfined`
    Unconfined,
    /// a profile someone else loaded
    Named(String),
    /// hako's generated profile: its name and text
    Generated { name: String, text: String },
}

impl AppArmor {
    /// The label init gets at exec, if it gets one.
    pub fn exec_label(&self) -> Option<&str> {
        match self {
            AppArmor::Named(n) => Some(n),
            AppArmor::Generated { name, .. } => Some(name),
            _ => None,
        }
    }
}

/// The name of the profile hako generates for the container `name` whose runtime directory
/// is `runtime_dir` (`/run/hako/<hash of the lxcpath>/NAME`): `hako-NAME-<hash>`, unique per
/// lxcpath and container, the same in every program that asks (start, the monitor that
/// unloads it, `info`, `destroy`). Characters other than letters, digits, `-`, `_` and `.`
/// in the container's name become `_` (the hash keeps such names apart).
pub fn profile_name(name: &str, runtime_dir: &Path) -> String {
    let safe: String = name
        .chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "hako-{safe}-{:016x}",
        fnv1a(runtime_dir.as_os_str().as_bytes())
    )
}

/// 64-bit FNV-1a: a stable, short name component (not a security boundary).
fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Decides what the LSM keys of `cfg` mean on `host` for the container `name`, or refuses
/// the start: a key hako cannot honour on this kernel is an error naming it, never a
/// warning.
pub fn plan(
    cfg: &LsmConfig,
    host: &LsmHost,
    name: &str,
    runtime_dir: &Path,
    config_path: &Path,
) -> Result<AppArmor> {
    let conf = config_path.display();
    if host.selinux {
        if let Some((key, value)) = cfg.selinux_key() {
            return Err(RuntimeError::msg(format!(
                "container \"{name}\": {key} = {value} in {conf} cannot be honoured: SELinux is active on this kernel and hako does not implement SELinux labelling; remove {key} (the container then runs in hako's own SELinux context) or run the container with LXC"
            )));
        }
    }
    if !host.apparmor {
        return Ok(AppArmor::NotAvailable);
    }
    let profile = cfg.apparmor_profile.as_deref().unwrap_or(GENERATED);
    if !cfg.apparmor_raw.is_empty() && profile != GENERATED {
        return Err(RuntimeError::msg(format!(
            "container \"{name}\": lxc.apparmor.raw in {conf} adds rules to the generated profile, but lxc.apparmor.profile = {profile}; set lxc.apparmor.profile = generated or remove the lxc.apparmor.raw lines"
        )));
    }
    match profile {
        UNCHANGED => return Ok(AppArmor::Unchanged),
        UNCONFINED => return Ok(AppArmor::Unconfined),
        _ => {}
    }
    let Some(fs) = &host.apparmor_fs else {
        return Err(RuntimeError::msg(format!(
            "container \"{name}\": lxc.apparmor.profile = {profile} cannot be applied: AppArmor is enabled in this kernel but securityfs is not mounted at /sys/kernel/security; mount it (\"mount -t securityfs securityfs /sys/kernel/security\", as systemd does at boot) or set lxc.apparmor.profile = unconfined in {conf}"
        )));
    };
    if !host.apparmor_mounts && !cfg.apparmor_allow_incomplete {
        return Err(RuntimeError::msg(format!(
            "container \"{name}\": this kernel's AppArmor cannot mediate mounts, so lxc.apparmor.profile = {profile} would not keep the container from mounting proc, sysfs or the host's disks; set lxc.apparmor.allow_incomplete = 1 in {conf} to start it with this incomplete confinement, or use a kernel with AppArmor mount rules"
        )));
    }
    if profile == GENERATED {
        let pname = profile_name(name, runtime_dir);
        let text = generated_profile(&pname, name, cfg);
        return Ok(AppArmor::Generated { name: pname, text });
    }
    // a stacked or namespaced label ("a//&b", ":ns:p") is left to the kernel to resolve
    let simple = !profile.contains("//") && !profile.starts_with(':');
    if simple && !profile_loaded(fs, profile) {
        return Err(RuntimeError::msg(format!(
            "container \"{name}\": lxc.apparmor.profile = {profile} in {conf}, but no AppArmor profile of that name is loaded; load it (\"apparmor_parser -r /etc/apparmor.d/FILE\"), or use generated or unconfined"
        )));
    }
    Ok(AppArmor::Named(profile.to_string()))
}

/// Is a profile of this name loaded? (`profiles` lists "NAME (MODE)" per line.)
fn profile_loaded(fs: &Path, profile: &str) -> bool {
    std::fs::read_to_string(fs.join("profiles"))
        .map(|t| {
            t.lines()
                .any(|l| l.rsplit_once(" (").map(|(n, _)| n).unwrap_or(l).trim_end() == profile)
        })
        .unwrap_or(false)
}

/// The start's LSM step, in the monitor before the container's init is cloned: decides
/// ([`plan`]) and loads a generated profile. The label for init is
/// [`AppArmor::exec_label`].
pub fn prepare(
    cfg: &LsmConfig,
    name: &str,
    container_dir: &Path,
    runtime_dir: &Path,
    config_path: &Path,
) -> Result<AppArmor> {
    let host = LsmHost::detect();
    let aa = plan(cfg, &host, name, runtime_dir, config_path)?;
    if let AppArmor::Generated { name: pname, text } = &aa {
        let dir = if container_dir.is_dir() {
            container_dir.join("apparmor")
        } else {
            runtime_dir.join("apparmor")
        };
        load_profile(name, pname, text, &dir, !cfg.apparmor_raw.is_empty())?;
    }
    Ok(aa)
}

/// Writes the profile to `dir/NAME` (only when its text changed: apparmor_parser's cache
/// goes by the file's time) and loads it with `apparmor_parser --replace`, which compiles it
/// or takes the compiled policy from the cache in `dir/cache` when that is current.
fn load_profile(container: &str, profile: &str, text: &str, dir: &Path, raw: bool) -> Result<()> {
    let fail = |what: String| {
        RuntimeError::msg(format!(
            "container \"{container}\": cannot load its AppArmor profile {profile}: {what}"
        ))
    };
    let cache = dir.join("cache");
    std::fs::create_dir_all(&cache)
        .map_err(|e| fail(format!("cannot create {}: {e}", cache.display())))?;
    let file = dir.join(profile);
    if std::fs::read(&file).ok().as_deref() != Some(text.as_bytes()) {
        let tmp = dir.join(format!(".{profile}.tmp"));
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, &file))
            .map_err(|e| fail(format!("cannot write {}: {e}", file.display())))?;
    }
    let parser = find_parser().ok_or_else(|| {
        fail("apparmor_parser is not installed; install Debian's apparmor package (\"apt-get install apparmor\") or set lxc.apparmor.profile = unconfined".into())
    })?;
    let out = std::process::Command::new(&parser)
        .arg("--replace")
        .arg("--write-cache")
        .arg("--cache-loc")
        .arg(&cache)
        .arg("--quiet")
        .arg(&file)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| fail(format!("cannot run {}: {e}", parser.display())))?;
    if !out.status.success() {
        let said = String::from_utf8_lossy(&out.stderr);
        let said: Vec<&str> = said.lines().filter(|l| !l.trim().is_empty()).collect();
        let hint = if raw {
            "; check the lxc.apparmor.raw lines of the container's config"
        } else {
            ""
        };
        return Err(fail(format!(
            "{} {} failed ({}): {}{hint}",
            parser.display(),
            file.display(),
            out.status,
            said.join(" ")
        )));
    }
    Ok(())
}

fn find_parser() -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .filter(|d| !d.is_empty())
        .chain(["/usr/sbin", "/sbin", "/usr/local/sbin"])
        .map(|d| Path::new(d).join("apparmor_parser"))
        .find(|p| {
            nix::unistd::access(p.as_path(), nix::unistd::AccessFlags::X_OK).is_ok() && p.is_file()
        });
    found
}

/// Unloads the profile hako generated for the container `name`, when it is loaded: from the
/// monitor once the container's processes are gone, and from `destroy` and the stale-state
/// cleanup. Only hako's own generated name is ever removed. Returns what it did.
pub fn release(name: &str, runtime_dir: &Path) -> std::result::Result<Option<String>, String> {
    let host = LsmHost::detect();
    let Some(fs) = host.apparmor_fs else {
        return Ok(None);
    };
    let profile = profile_name(name, runtime_dir);
    if !profile_loaded(&fs, &profile) {
        return Ok(None);
    }
    match std::fs::write(fs.join(".remove"), profile.as_bytes()) {
        Ok(()) => Ok(Some(format!("unloaded the AppArmor profile {profile}"))),
        // gone meanwhile (another hako command removed it)
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
        Err(e) => Err(format!(
            "container \"{name}\": cannot unload its AppArmor profile {profile} (write to {}): {e}; remove it with \"echo -n {profile} > {}\"",
            fs.join(".remove").display(),
            fs.join(".remove").display()
        )),
    }
}

// ---------------------------------------------------------------------------------------
// Labels on exec

/// The value the kernel expects in a process's AppArmor `exec` attribute: the profile the
/// next exec transitions to (`aa_change_onexec`).
fn exec_command(label: &str) -> Vec<u8> {
    format!("exec {label}").into_bytes()
}

/// The attribute files, newest interface first: `attr/apparmor/exec` (Linux 5.8 and later,
/// AppArmor's own even when another module is stacked) and the shared `attr/exec`.
const EXEC_ATTRS: [&str; 2] = ["attr/apparmor/exec", "attr/exec"];

/// Opens `<proc>/thread-self/<attr>` for writing. `proc` is a directory fd of a procfs that
/// shows the calling thread.
fn open_exec_attr(proc: &impl AsFd) -> std::result::Result<OwnedFd, Errno> {
    let mut last = Errno::ENOENT;
    for attr in EXEC_ATTRS {
        let path = format!("thread-self/{attr}");
        match nix::fcntl::openat(
            Some(proc.as_fd().as_raw_fd()),
            path.as_str(),
            OFlag::O_WRONLY | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW,
            Mode::empty(),
        ) {
            // SAFETY: a fresh fd we own.
            Ok(fd) => return Ok(unsafe { OwnedFd::from_raw_fd(fd) }),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// The host's /proc, checked to be a procfs (a container could have replaced what a path
/// names, never this fd).
fn open_host_proc() -> std::result::Result<OwnedFd, Errno> {
    let fd = nix::fcntl::open(
        "/proc",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    // SAFETY: a fresh fd we own.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let st = nix::sys::statfs::fstatfs(&fd)?;
    if st.filesystem_type() != nix::sys::statfs::PROC_SUPER_MAGIC {
        return Err(Errno::ENOTDIR);
    }
    Ok(fd)
}

/// Init's exec label: its AppArmor `exec` attribute, opened at the start of the child's
/// set-up while /proc is still the host's (the container's /proc may not exist or be
/// mounted yet), written right before init execs.
pub struct ExecLabel {
    fd: OwnedFd,
    label: String,
}

impl ExecLabel {
    /// For `label` (None: nothing to do). In the cloned child, before its mounts.
    pub fn open(label: Option<&str>, container: &str) -> Result<Option<ExecLabel>> {
        let Some(label) = label else { return Ok(None) };
        let fd = open_host_proc()
            .and_then(|p| open_exec_attr(&p))
            .map_err(|e| {
                RuntimeError::msg(format!(
                    "container \"{container}\": cannot open the AppArmor exec attribute of its init (/proc/thread-self/attr/apparmor/exec) to apply profile {label}: {}",
                    errno_text(e)
                ))
            })?;
        Ok(Some(ExecLabel {
            fd,
            label: label.to_string(),
        }))
    }

    /// Writes `exec LABEL`: the next exec runs under the profile. Right before exec.
    pub fn apply(&self, container: &str) -> Result<()> {
        write_attr(&self.fd, &self.label).map_err(|e| {
            RuntimeError::msg(format!(
                "container \"{container}\": cannot give its init the AppArmor profile {} (lxc.apparmor.profile): {}",
                self.label,
                label_errno_text(e)
            ))
        })
    }
}

/// The fd a start hook must not lose when the container's first process closes the rest
/// (see crate::child).
impl AsRawFd for ExecLabel {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.fd.as_raw_fd()
    }
}

fn write_attr(fd: &OwnedFd, label: &str) -> std::result::Result<(), Errno> {
    let cmd = exec_command(label);
    let n = nix::unistd::write(fd, &cmd)?;
    if n != cmd.len() {
        return Err(Errno::EIO);
    }
    Ok(())
}

fn label_errno_text(e: Errno) -> String {
    match e {
        Errno::ENOENT => "no such profile is loaded".to_string(),
        Errno::EACCES | Errno::EPERM => format!(
            "{}: the process starting the container may not change to that profile",
            errno_text(e)
        ),
        _ => errno_text(e),
    }
}

/// The label of a running container's init, for a command attached to it: read from the
/// host's /proc before the attach enters the container, applied with [`AttachLabel::apply`]
/// by the process that then execs the command.
pub struct AttachLabel {
    proc: OwnedFd,
    pub label: String,
}

/// Init's current AppArmor label ("unconfined", or a profile name); None where the kernel
/// has no AppArmor.
pub fn current_label(pid: i32) -> std::result::Result<Option<String>, String> {
    if !LsmHost::detect().apparmor {
        return Ok(None);
    }
    let mut last = String::new();
    for attr in ["attr/apparmor/current", "attr/current"] {
        let p = format!("/proc/{pid}/{attr}");
        match std::fs::read(&p) {
            Ok(b) => return Ok(Some(parse_label(&b))),
            Err(e) => last = format!("{p}: {e}"),
        }
    }
    Err(last)
}

/// "hako-web-0123 (enforce)\n" → "hako-web-0123"; "unconfined\n" → "unconfined".
fn parse_label(raw: &[u8]) -> String {
    let s = String::from_utf8_lossy(raw);
    let s = s.trim_end_matches(['\n', '\0']).trim();
    match s.rsplit_once(" (") {
        Some((l, mode)) if mode.ends_with(')') => l.to_string(),
        _ => s.to_string(),
    }
}

impl AttachLabel {
    /// The label the container `name` whose init is `pid` runs under; None when it runs
    /// unconfined or the kernel has no AppArmor. An init whose label cannot be read stops
    /// the attach: the command must not run with less confinement than init.
    pub fn for_init(name: &str, pid: i32) -> Result<Option<AttachLabel>> {
        let label = current_label(pid).map_err(|e| {
            RuntimeError::msg(format!(
                "container \"{name}\": cannot read the AppArmor label of its init ({e}); the command is not run"
            ))
        })?;
        let Some(label) = label.filter(|l| l != UNCONFINED) else {
            return Ok(None);
        };
        let proc = open_host_proc().map_err(|e| {
            RuntimeError::msg(format!(
                "container \"{name}\": cannot open the host's /proc to apply AppArmor profile {label}: {}",
                errno_text(e)
            ))
        })?;
        Ok(Some(AttachLabel { proc, label }))
    }

    /// In the process that execs the command (inside the container's namespaces, where
    /// the path /proc is the container's): through the host procfs opened before.
    pub fn apply(&self) -> std::result::Result<(), String> {
        let fd = open_exec_attr(&self.proc)
            .map_err(|e| format!("cannot open the AppArmor exec attribute: {}", errno_text(e)))?;
        write_attr(&fd, &self.label).map_err(|e| {
            format!(
                "cannot give the command the container's AppArmor profile {}: {}",
                self.label,
                label_errno_text(e)
            )
        })
    }
}

// ---------------------------------------------------------------------------------------
// What `info` shows

/// One security module's line in `info` and its `--format json` object.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LsmStatus {
    /// the running kernel has the module active
    pub available: bool,
    /// what the config asks for (`lxc.apparmor.profile`, `lxc.selinux.context`), if set
    pub configured: Option<String>,
    /// the label init runs under (running) or will get (stopped), when known
    pub label: Option<String>,
    /// the line `info` prints
    pub status: String,
}

/// AppArmor for `info`: `cfg` None when the config cannot be read.
pub fn apparmor_status(
    cfg: Option<&LsmConfig>,
    name: &str,
    runtime_dir: &Path,
    init_pid: Option<i32>,
) -> LsmStatus {
    apparmor_status_on(&LsmHost::detect(), cfg, name, runtime_dir, init_pid)
}

fn apparmor_status_on(
    host: &LsmHost,
    cfg: Option<&LsmConfig>,
    name: &str,
    runtime_dir: &Path,
    init_pid: Option<i32>,
) -> LsmStatus {
    let configured = cfg.and_then(|c| c.apparmor_profile.clone());
    if !host.apparmor {
        let status = match cfg {
            Some(c) if c.apparmor_profile.is_some() => {
                "not available on this kernel (lxc.apparmor.profile ignored)".to_string()
            }
            Some(c) if c.has_apparmor_keys() => {
                "not available on this kernel (lxc.apparmor.* keys ignored)".to_string()
            }
            _ => "not available on this kernel".to_string(),
        };
        return LsmStatus {
            available: false,
            configured,
            label: None,
            status,
        };
    }
    let generated = profile_name(name, runtime_dir);
    if let Some(pid) = init_pid {
        return match current_label(pid) {
            Ok(Some(l)) => {
                let status = if l == generated {
                    format!("{l} (generated)")
                } else {
                    l.clone()
                };
                LsmStatus {
                    available: true,
                    configured,
                    label: Some(l),
                    status,
                }
            }
            Ok(None) | Err(_) => LsmStatus {
                available: true,
                configured,
                label: None,
                status: "cannot read the label of init".to_string(),
            },
        };
    }
    let want = cfg
        .map(|c| c.apparmor_profile.as_deref().unwrap_or(GENERATED))
        .unwrap_or(GENERATED)
        .to_string();
    let (label, status) = match want.as_str() {
        GENERATED => (
            Some(generated.clone()),
            format!("{generated} (generated at start)"),
        ),
        UNCONFINED => (Some(UNCONFINED.to_string()), UNCONFINED.to_string()),
        UNCHANGED => (None, "unchanged (init keeps hako's own label)".to_string()),
        other => (Some(other.to_string()), format!("{other} (at start)")),
    };
    LsmStatus {
        available: true,
        configured,
        label,
        status,
    }
}

/// SELinux for `info`.
pub fn selinux_status(cfg: Option<&LsmConfig>) -> LsmStatus {
    selinux_status_on(&LsmHost::detect(), cfg)
}

fn selinux_status_on(host: &LsmHost, cfg: Option<&LsmConfig>) -> LsmStatus {
    let key = cfg.and_then(|c| c.selinux_key());
    let configured = key.map(|(_, v)| v.to_string());
    let status = match (host.selinux, key) {
        (false, Some((k, _))) => format!("not active on this kernel ({k} ignored)"),
        (false, None) => "not active on this kernel".to_string(),
        (true, Some((k, _))) => {
            format!("active; {k} is not implemented by hako, start refuses it")
        }
        (true, None) => "active; the container runs in hako's own context".to_string(),
    };
    LsmStatus {
        available: host.selinux,
        configured,
        label: None,
        status,
    }
}

// ---------------------------------------------------------------------------------------
// The generated profile

/// Where systemd builds a service's private mount tree (`ProtectSystem=`, `PrivateTmp=`,
/// `ProtectProc=`, ...) before it moves it onto `/`: a copy of `/` with its /proc and /sys,
/// and a fresh proc. The rules treat its /proc and /sys as they treat `/proc` and `/sys`.
const UNIT_ROOT: &str = "run/systemd/unit-root";

/// The writable parts of /proc/sys: what belongs to the container's own namespaces (its
/// host and domain name, System V IPC and POSIX message queue limits, its network stack).
const PROC_SYS_WRITABLE: &[&str] = &[
    "kernel/hostname",
    "kernel/domainname",
    "kernel/shm*",
    "kernel/msg*",
    "kernel/sem*",
    "fs/mqueue",
    "net",
];

/// The writable parts of /sys: the container's cgroups (its cgroup namespace) and its
/// network devices.
const SYS_WRITABLE: &[&str] = &["fs/cgroup", "class/net", "devices/virtual/net"];

/// What systemd's ProtectKernelTunables= makes read-only in a service's unit root, binding
/// each onto itself first where it is not a mount point yet (systemd 252's list).
const SYSTEMD_SELF_BINDS: &[&str] = &[
    "proc/acpi",
    "proc/apm",
    "proc/asound",
    "proc/bus",
    "proc/fs",
    "proc/irq",
    "proc/latency_stats",
    "proc/mtrr",
    "proc/scsi",
    "proc/sys",
    "proc/sysrq-trigger",
    "proc/timer_stats",
    "sys/fs/bpf",
    "sys/kernel/debug",
    "sys/kernel/tracing",
];

/// Mount flag sets a remount may add to `ro,remount,bind`: the ones that only take rights
/// away, in the combinations systemd and mount(8) pass (both repeat the flags a mount has).
const REMOUNT_FLAGS: &[&str] = &["nosuid", "nodev", "noexec"];
const REMOUNT_ATIME: &[&str] = &["", "noatime", "relatime", "strictatime"];

/// The profile text for `lxc.apparmor.profile = generated`.
///
/// The container may use files, networks, D-Bus and the capabilities of its bounding set;
/// the rules take back what reaches the host from a root that keeps CAP_SYS_ADMIN (which
/// systemd needs): no fresh proc or sysfs outside /proc and /sys (where the path rules
/// below cover them), no mount of a block device (the kernel would hand back the host's
/// mounted superblock), no binfmt_misc, no remount that adds rights (`remount,rw /sys`), no
/// unmounting what covers /proc and /sys (`umount /proc/sys`), no bind or move that carries
/// /proc or /sys out from under the path rules, no writes to the kernel's knobs in /proc/sys
/// and /sys beyond the container's own namespaces, no /proc/sysrq-trigger, /proc/kcore,
/// firmware or securityfs. systemd's sandboxing (private mounts in /run/systemd/unit-root,
/// ProtectProc's fresh proc, read-only remounts, tmpfs, cgroup2 in the container's cgroup
/// namespace) stays possible.
pub fn generated_profile(profile: &str, container: &str, cfg: &LsmConfig) -> String {
    let mut p = String::new();
    // paths must begin with "/": the alternation follows it
    let roots = format!("/{{,{UNIT_ROOT}/}}");
    let _ = writeln!(
        p,
        "# AppArmor profile of the hako container \"{}\", written by hako at each start\n\
         # (lxc.apparmor.profile = generated): changes here are lost. Add rules with\n\
         # lxc.apparmor.raw in the container's config.\n",
        container.escape_default()
    );
    let _ = writeln!(
        p,
        "profile {profile} flags=(attach_disconnected,mediate_deleted) {{"
    );
    let mut rule = |s: &str| {
        p.push_str("  ");
        p.push_str(s);
        p.push('\n');
    };
    rule("# what the container may do; the rules below take back what reaches the host");
    rule("capability,");
    rule("file,");
    rule("network,");
    rule("dbus,");
    rule("umount,");
    rule("signal (receive),");
    rule(&format!("signal peer={profile},"));
    rule("ptrace (readby, tracedby),");
    rule(&format!("ptrace peer={profile},"));
    rule("unix (receive),");
    rule(&format!("unix peer=(label={profile}),"));
    rule("");
    rule("# new mounts: file systems without host state anywhere; proc, sysfs and cgroups");
    rule("# only where the container has them (the path rules below cover those places)");
    for fs in [
        "tmpfs",
        "ramfs",
        "mqueue",
        "hugetlbfs",
        "devpts",
        "fuse",
        "fuse.*",
    ] {
        rule(&format!("mount fstype={fs},"));
    }
    rule(&format!("mount fstype=proc -> {roots}proc/,"));
    rule(&format!("mount fstype=sysfs -> {roots}sys/,"));
    rule(&format!(
        "mount fstype=cgroup -> {roots}sys/fs/cgroup/{{,**}},"
    ));
    rule(&format!(
        "mount fstype=cgroup2 -> {roots}sys/fs/cgroup/{{,**}},"
    ));
    rule(&format!(
        "mount fstype=fusectl -> {roots}sys/fs/fuse/connections/,"
    ));
    rule("");
    rule("# mount propagation");
    for t in [
        "slave",
        "rslave",
        "shared",
        "rshared",
        "private",
        "rprivate",
        "unbindable",
        "runbindable",
    ] {
        rule(&format!("mount options=(rw,make-{t}) -> /{{,**}},"));
    }
    rule("");
    rule("# remounts that only take rights away");
    for bits in 0..(1u32 << REMOUNT_FLAGS.len()) {
        for atime in REMOUNT_ATIME {
            let mut opts = vec!["ro", "remount", "bind"];
            for (i, f) in REMOUNT_FLAGS.iter().enumerate() {
                if bits & (1 << i) != 0 {
                    opts.push(f);
                }
            }
            if !atime.is_empty() {
                opts.push(atime);
            }
            rule(&format!("mount options=({}) -> /{{,**}},", opts.join(",")));
        }
    }
    rule("");
    rule("# bind mounts of anything that does not carry a /proc or /sys away; recursive");
    rule("# ones and moves not of anything that holds one either; systemd's unit root is");
    rule("# made from / and moved onto / only, and ProtectKernelTunables= binds its parts of");
    rule("# /proc and /sys onto themselves before it makes them read-only");
    let proc_sys = |base: &str| {
        [
            Hole::subtree(&format!("{base}proc")),
            Hole::subtree(&format!("{base}sys")),
        ]
    };
    let mut bind_holes: Vec<Hole> = proc_sys("").to_vec();
    bind_holes.extend(proc_sys(&format!("{UNIT_ROOT}/")));
    for src in complement("/", &bind_holes, false) {
        rule(&format!("mount options=(rw,bind) {src} -> /**,"));
    }
    let mut tree_holes: Vec<Hole> = proc_sys("").to_vec();
    tree_holes.push(Hole::subtree(UNIT_ROOT));
    tree_holes.push(Hole::exact("run"));
    tree_holes.push(Hole::exact("run/systemd"));
    let tree_sources = complement("/", &tree_holes, false);
    for src in &tree_sources {
        rule(&format!("mount options=(rw,rbind) {src} -> /**,"));
    }
    // systemd builds a service's /dev and its credentials elsewhere and moves them in
    for src in &tree_sources {
        rule(&format!("mount options=(rw,move) {src} -> /**,"));
    }
    rule(&format!("mount options=(rw,rbind) / -> /{UNIT_ROOT}/,"));
    rule(&format!("mount options=(rw,move) /{UNIT_ROOT}/ -> /,"));
    for t in SYSTEMD_SELF_BINDS {
        let at = format!("/{UNIT_ROOT}/{t}{{,/}}");
        rule(&format!("mount options=(rw,rbind) {at} -> {at},"));
    }
    rule("");
    rule("# what covers /proc and /sys stays");
    rule(&format!("deny umount {roots}proc/{{,**}},"));
    rule(&format!("deny umount {roots}sys/{{,**}},"));
    rule("");
    rule("# /proc: the kernel's knobs, writable only where they belong to the container's");
    rule("# namespaces; no memory image, no magic SysRq, no ACPI, no kernel log");
    for g in complement("/proc/sys/", &holes(PROC_SYS_WRITABLE), true) {
        rule(&format!("deny {g} wklx,"));
    }
    for f in ["sysrq-trigger", "kcore", "kmsg"] {
        rule(&format!("deny {roots}proc/{f} rwklx,"));
    }
    rule(&format!("deny {roots}proc/acpi/{{,**}} rwklx,"));
    for d in ["bus", "fs", "irq"] {
        rule(&format!("deny {roots}proc/{d}/** wklx,"));
    }
    rule("");
    rule("# /sys: read-only but for the container's cgroups and network devices; no");
    rule("# firmware, no security or debug file systems");
    for g in complement("/sys/", &holes(SYS_WRITABLE), true) {
        rule(&format!("deny {g} wklx,"));
    }
    rule("");
    rule("# systemd's unit root: nothing is written there while systemd builds it, and the");
    rule("# service's /proc and /sys are the rules above once it is moved onto /");
    rule(&format!("deny /{UNIT_ROOT}/{{proc,sys}}/** wklx,"));
    for d in ["firmware", "kernel/security", "kernel/debug"] {
        rule(&format!("deny {roots}sys/{d}/{{,**}} rwklx,"));
    }
    if cfg.apparmor_allow_nesting {
        rule("");
        rule("# lxc.apparmor.allow_nesting = 1: the container runs containers of its own; it");
        rule("# may mount anything (their proc and sysfs), so the mount rules above no longer");
        rule("# confine it (the path rules still do)");
        rule("mount,");
        rule("pivot_root,");
        rule("ptrace,");
        rule("signal,");
        rule(&format!("change_profile -> {profile},"));
    }
    if !cfg.apparmor_raw.is_empty() {
        rule("");
        rule("# lxc.apparmor.raw");
        for r in &cfg.apparmor_raw {
            rule(r);
        }
    }
    p.push_str("}\n");
    p
}

/// A part of a tree left out of [`complement`]: a path (relative, `/`-separated; a last
/// component may end in `*`, for every name with that prefix) and whether what is below it
/// is left out too.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Hole {
    parts: Vec<String>,
    subtree: bool,
}

impl Hole {
    fn subtree(path: &str) -> Hole {
        Hole {
            parts: path.split('/').map(String::from).collect(),
            subtree: true,
        }
    }
    fn exact(path: &str) -> Hole {
        Hole {
            subtree: false,
            ..Hole::subtree(path)
        }
    }
}

fn holes(paths: &[&str]) -> Vec<Hole> {
    paths.iter().map(|p| Hole::subtree(p)).collect()
}

/// AppArmor globs that together match every path strictly below the directory `base`
/// (which ends in `/`) except the `holes`: AppArmor has no "all but", and a deny rule
/// outweighs any allow, so "deny writes in /sys except /sys/fs/cgroup" must be spelled as
/// the complement. Built on a trie of the holes' names: at each name prefix, one glob for
/// the names that continue with another character (`[^..]`, which also never takes the
/// `/`), one for the prefix as a name of its own, and a descent into the directories on
/// the holes' paths. `prefix_names`: also the names that are only the start of a hole's
/// name (a deny list needs them: "/sys/dev" is a real name; an allow list may do without).
fn complement(base: &str, holes: &[Hole], prefix_names: bool) -> Vec<String> {
    let mut out = Vec::new();
    complement_dir(base, holes, prefix_names, &mut out);
    out
}

fn complement_dir(dir: &str, holes: &[Hole], prefix_names: bool, out: &mut Vec<String>) {
    // the first component of each hole, and what is left of its path
    let firsts: Vec<(&str, &[String], bool)> = holes
        .iter()
        .filter(|h| !h.parts.is_empty())
        .map(|h| (h.parts[0].as_str(), &h.parts[1..], h.subtree))
        .collect();
    complement_names(dir, "", &firsts, prefix_names, out);
}

/// The names in `dir` that start with `prefix`, given the holes' first components that do.
fn complement_names(
    dir: &str,
    prefix: &str,
    firsts: &[(&str, &[String], bool)],
    prefix_names: bool,
    out: &mut Vec<String>,
) {
    // a prefix glob ("shm*") that is a hole with everything below: nothing more here
    if firsts
        .iter()
        .any(|(n, rest, sub)| *n == format!("{prefix}*") && rest.is_empty() && *sub)
    {
        return;
    }
    // the characters that continue a hole's name after this prefix
    let mut next: Vec<char> = firsts
        .iter()
        .filter_map(|(n, _, _)| n.strip_prefix(prefix))
        .filter_map(|rest| rest.chars().next())
        .filter(|c| *c != '*')
        .collect();
    next.sort_unstable();
    next.dedup();
    // a '-' first in the class is a plain character, never a range
    let mut class: String = if next.contains(&'-') {
        "-".into()
    } else {
        String::new()
    };
    class.extend(next.iter().filter(|c| **c != '-').map(|c| glob_escape(*c)));
    // longer names whose next character continues no hole
    out.push(format!("{dir}{prefix}[^{class}/]*{{,/**}}"));
    // the prefix as a whole name (at the top, the empty name is no name)
    if !prefix.is_empty() {
        let whole: Vec<&(&str, &[String], bool)> =
            firsts.iter().filter(|(n, _, _)| *n == prefix).collect();
        if whole.is_empty() {
            // a name that is only the start of a hole's name ("/sys/dev" for
            // "/sys/devices"); an allow list may leave it out (a bind from "/pro" is not
            // worth a rule: each costs compile time)
            if prefix_names {
                out.push(format!("{dir}{prefix}{{,/**}}"));
            }
        } else if !whole.iter().any(|(_, rest, sub)| rest.is_empty() && *sub) {
            // a hole below it, or only the name itself is one
            // (a directory's path may end in '/': the kernel names directories so)
            if !whole.iter().any(|(_, rest, _)| rest.is_empty()) {
                out.push(format!("{dir}{prefix}{{,/}}"));
            }
            let deeper: Vec<Hole> = whole
                .iter()
                .filter(|(_, rest, _)| !rest.is_empty())
                .map(|(_, rest, sub)| Hole {
                    parts: rest.to_vec(),
                    subtree: *sub,
                })
                .collect();
            if deeper.is_empty() {
                out.push(format!("{dir}{prefix}/**"));
            } else {
                complement_dir(&format!("{dir}{prefix}/"), &deeper, prefix_names, out);
            }
        }
    }
    for c in next {
        let longer = format!("{prefix}{c}");
        let sub: Vec<(&str, &[String], bool)> = firsts
            .iter()
            .filter(|(n, _, _)| n.starts_with(&longer))
            .copied()
            .collect();
        complement_names(dir, &longer, &sub, prefix_names, out);
    }
}

/// A character inside `[^...]` (not '-'): AppArmor's glob specials escaped.
fn glob_escape(c: char) -> String {
    if matches!(c, '[' | ']' | '^' | '\\' | '*' | '?' | '{' | '}' | ',') {
        format!("\\{c}")
    } else {
        c.to_string()
    }
}

/// The exec attribute's command for `label`, for the tests.
#[cfg(test)]
fn exec_command_str(label: &str) -> String {
    String::from_utf8(exec_command(label)).unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    // ---- a small AppArmor glob matcher, to check the generated globs by what they match

    /// Expands `{a,b}` alternations (nested) into plain globs.
    fn expand(g: &str) -> Vec<String> {
        let b: Vec<char> = g.chars().collect();
        let mut depth = 0;
        let mut start = None;
        for (i, c) in b.iter().enumerate() {
            match c {
                '\\' => continue,
                '{' => {
                    if depth == 0 {
                        start = Some(i);
                    }
                    depth += 1;
                }
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        let s = start.unwrap();
                        let inner: String = b[s + 1..i].iter().collect();
                        let head: String = b[..s].iter().collect();
                        let tail: String = b[i + 1..].iter().collect();
                        // split inner at top-level commas
                        let mut alts = Vec::new();
                        let mut d = 0;
                        let mut cur = String::new();
                        for ch in inner.chars() {
                            match ch {
                                '{' => {
                                    d += 1;
                                    cur.push(ch)
                                }
                                '}' => {
                                    d -= 1;
                                    cur.push(ch)
                                }
                                ',' if d == 0 => alts.push(std::mem::take(&mut cur)),
                                _ => cur.push(ch),
                            }
                        }
                        alts.push(cur);
                        return alts
                            .iter()
                            .flat_map(|a| expand(&format!("{head}{a}{tail}")))
                            .collect();
                    }
                }
                _ => {}
            }
        }
        vec![g.to_string()]
    }

    fn matches_plain(g: &[char], p: &[char]) -> bool {
        if g.is_empty() {
            return p.is_empty();
        }
        match g[0] {
            '*' if g.get(1) == Some(&'*') => (0..=p.len()).any(|k| matches_plain(&g[2..], &p[k..])),
            '*' => {
                let mut k = 0;
                loop {
                    if matches_plain(&g[1..], &p[k..]) {
                        return true;
                    }
                    if k == p.len() || p[k] == '/' {
                        return false;
                    }
                    k += 1;
                }
            }
            '?' => !p.is_empty() && p[0] != '/' && matches_plain(&g[1..], &p[1..]),
            '[' => {
                let end = g.iter().position(|c| *c == ']').unwrap();
                let neg = g[1] == '^';
                let set: Vec<char> = g[if neg { 2 } else { 1 }..end]
                    .iter()
                    .filter(|c| **c != '\\')
                    .copied()
                    .collect();
                !p.is_empty()
                    && (set.contains(&p[0]) != neg)
                    && matches_plain(&g[end + 1..], &p[1..])
            }
            '\\' => !p.is_empty() && p[0] == g[1] && matches_plain(&g[2..], &p[1..]),
            c => !p.is_empty() && p[0] == c && matches_plain(&g[1..], &p[1..]),
        }
    }

    fn matches(glob: &str, path: &str) -> bool {
        let p: Vec<char> = path.chars().collect();
        expand(glob)
            .iter()
            .any(|g| matches_plain(&g.chars().collect::<Vec<_>>(), &p))
    }

    fn any_matches(globs: &[String], path: &str) -> bool {
        globs.iter().any(|g| matches(g, path))
    }

    #[test]
    fn glob_matcher_itself() {
        assert!(matches("/sys/[^f/]*{,/**}", "/sys/kernel"));
        assert!(matches("/sys/[^f/]*{,/**}", "/sys/kernel/x/y"));
        assert!(!matches("/sys/[^f/]*{,/**}", "/sys/fs/x"));
        assert!(matches("/a?*", "/ab"));
        assert!(!matches("/a?*", "/a"));
        assert!(!matches("/a/*", "/a/b/c"));
        assert!(matches("{,/x}/p", "/x/p"));
        assert!(matches("{,/x}/p", "/p"));
    }

    #[test]
    fn complement_of_proc_sys_writable() {
        let g = complement("/proc/sys/", &holes(PROC_SYS_WRITABLE), true);
        for denied in [
            "/proc/sys/kernel/core_pattern",
            "/proc/sys/kernel/modprobe",
            "/proc/sys/kernel/sysrq",
            "/proc/sys/kernel/s",
            "/proc/sys/kernel/shx",
            "/proc/sys/kernel/hostnamex",
            "/proc/sys/kernel/domainnam",
            "/proc/sys/kernel/random/boot_id",
            "/proc/sys/fs/binfmt_misc/register",
            "/proc/sys/fs/suid_dumpable",
            "/proc/sys/fs/mqueuex",
            "/proc/sys/vm/drop_caches",
            "/proc/sys/netx",
            "/proc/sys/ne",
            "/proc/sys/user/max_user_namespaces",
            "/proc/sys/kernel",
            "/proc/sys/fs",
        ] {
            assert!(any_matches(&g, denied), "{denied} must be denied: {g:#?}");
        }
        for allowed in [
            "/proc/sys/kernel/hostname",
            "/proc/sys/kernel/domainname",
            "/proc/sys/kernel/shmmax",
            "/proc/sys/kernel/shm_rmid_forced",
            "/proc/sys/kernel/msgmnb",
            "/proc/sys/kernel/sem",
            "/proc/sys/fs/mqueue/msg_max",
            "/proc/sys/net",
            "/proc/sys/net/ipv4/ip_forward",
        ] {
            assert!(
                !any_matches(&g, allowed),
                "{allowed} must stay writable: {g:#?}"
            );
        }
    }

    #[test]
    fn complement_of_sys_writable() {
        let g = complement("/sys/", &holes(SYS_WRITABLE), true);
        for denied in [
            "/sys/kernel/uevent_helper",
            "/sys/power/state",
            "/sys/fs/fuse/connections/1/abort",
            "/sys/fs/cgroupx",
            "/sys/class/block/vda",
            "/sys/devices/system/cpu/cpu1/online",
            "/sys/devices/virtual/block/loop0/uevent",
            "/sys/module/apparmor/parameters/enabled",
            "/sys/dev",
            "/sys/dev/block/254:0/uevent",
            "/sys/firmware/efi/efivars/x",
        ] {
            assert!(any_matches(&g, denied), "{denied} must be denied");
        }
        for allowed in [
            "/sys/fs/cgroup/cgroup.procs",
            "/sys/fs/cgroup/init.scope/cgroup.procs",
            "/sys/class/net/eth0/mtu",
            "/sys/devices/virtual/net/eth0/mtu",
        ] {
            assert!(!any_matches(&g, allowed), "{allowed} must stay writable");
        }
    }

    #[test]
    fn complement_of_bind_and_tree_sources() {
        let mut bind = vec![Hole::subtree("proc"), Hole::subtree("sys")];
        bind.push(Hole::subtree(&format!("{UNIT_ROOT}/proc")));
        bind.push(Hole::subtree(&format!("{UNIT_ROOT}/sys")));
        let g = complement("/", &bind, false);
        for src in [
            "/proc",
            "/proc/sys",
            "/proc/self/fd/3",
            "/sys",
            "/sys/fs/cgroup",
            "/run/systemd/unit-root/proc",
            "/run/systemd/unit-root/proc/sys/kernel",
            "/run/systemd/unit-root/sys/kernel",
        ] {
            assert!(!any_matches(&g, src), "binding {src} must be refused");
        }
        for src in [
            "/tmp/x",
            "/run/systemd/inaccessible/reg",
            "/run/systemd/unit-root",
            "/run/systemd/unit-root/",
            "/run/",
            "/run/systemd/unit-root/usr",
            "/run/systemd/unit-root/procx",
            "/dev/null",
            "/procx",
            "/system",
            "/srv/data",
            "/etc/resolv.conf",
        ] {
            assert!(any_matches(&g, src), "binding {src} must be allowed");
        }
        let tree = vec![
            Hole::subtree("proc"),
            Hole::subtree("sys"),
            Hole::subtree(UNIT_ROOT),
            Hole::exact("run"),
            Hole::exact("run/systemd"),
        ];
        let g = complement("/", &tree, false);
        for src in [
            "/",
            "/run",
            "/run/",
            "/run/systemd",
            "/run/systemd/",
            "/run/systemd/unit-root",
            "/run/systemd/unit-root/",
            "/proc/",
            "/sys/",
            "/run/systemd/unit-root/usr",
            "/proc",
            "/sys/fs/cgroup",
        ] {
            assert!(
                !any_matches(&g, src),
                "a recursive bind or move of {src} must be refused"
            );
        }
        for src in [
            "/run/x",
            "/dev/shm/",
            "/tmp/namespace-dev-5HY7Ij/dev/",
            "/run/systemd/inaccessible",
            "/run/systemd/unit-rootx",
            "/tmp",
            "/var/lib/x",
            "/dev",
        ] {
            assert!(
                any_matches(&g, src),
                "a recursive bind or move of {src} must be allowed"
            );
        }
    }

    fn cfg() -> LsmConfig {
        LsmConfig::default()
    }

    #[test]
    fn profile_text() {
        let t = generated_profile("hako-web-0123456789abcdef", "web", &cfg());
        assert!(t.contains(
            "profile hako-web-0123456789abcdef flags=(attach_disconnected,mediate_deleted) {\n"
        ));
        assert!(t.ends_with("}\n"));
        assert_eq!(t.matches('{').count(), t.matches('}').count(), "{t}");
        for must in [
            "  mount fstype=proc -> /{,run/systemd/unit-root/}proc/,\n",
            "  mount fstype=sysfs -> /{,run/systemd/unit-root/}sys/,\n",
            "  mount fstype=cgroup2 -> /{,run/systemd/unit-root/}sys/fs/cgroup/{,**},\n",
            "  mount options=(ro,remount,bind,nosuid,nodev,noexec,relatime) -> /{,**},\n",
            "  deny umount /{,run/systemd/unit-root/}proc/{,**},\n",
            "  deny /{,run/systemd/unit-root/}proc/sysrq-trigger rwklx,\n",
            "  deny /run/systemd/unit-root/{proc,sys}/** wklx,\n",
            "  deny /proc/sys/kernel/[^dhms/]*{,/**} wklx,\n",
            "  deny /{,run/systemd/unit-root/}sys/firmware/{,**} rwklx,\n",
            "  signal peer=hako-web-0123456789abcdef,\n",
            "  mount options=(rw,rbind) / -> /run/systemd/unit-root/,\n",
            "  mount options=(rw,move) /run/systemd/unit-root/ -> /,\n",
            "  mount options=(rw,rbind) /run/systemd/unit-root/proc/acpi{,/} -> /run/systemd/unit-root/proc/acpi{,/},\n",
            "  mount fstype=ramfs,\n",
        ] {
            assert!(t.contains(must), "missing {must:?} in\n{t}");
        }
        // nothing allows what the probes do
        for never in [
            "fstype=binfmt_misc",
            "fstype=ext4",
            "  mount,\n",
            "options=(rw,remount",
            "pivot_root",
            "change_profile",
        ] {
            assert!(!t.contains(never), "{never:?} in\n{t}");
        }
        // moves: systemd's unit root onto / only; no move of /proc, /sys or what holds them
        assert!(
            t.contains("  mount options=(rw,move) /[^prs/]*{,/**} -> /**,\n"),
            "{t}"
        );
        for src in [
            "/ ",
            "/run ",
            "/run/systemd ",
            "/proc ",
            "/proc/",
            "/sys ",
            "/sys/",
        ] {
            assert!(
                !t.contains(&format!("options=(rw,move) {src}")),
                "{src} in {t}"
            );
        }
        // no rule without its comma, no tab
        for l in t.lines().map(str::trim) {
            if !(l.is_empty() || l.starts_with('#') || l.starts_with("profile ") || l == "}") {
                assert!(l.ends_with(','), "rule without a comma: {l}");
            }
        }
    }

    #[test]
    fn profile_nesting_and_raw() {
        let c = LsmConfig {
            apparmor_allow_nesting: true,
            apparmor_raw: vec!["mount fstype=nfs,".into(), "deny /secret r,".into()],
            ..cfg()
        };
        let t = generated_profile("hako-n-1", "n", &c);
        assert!(t.contains("  mount,\n  pivot_root,\n"));
        assert!(t.contains("  change_profile -> hako-n-1,\n"));
        assert!(t.ends_with("  # lxc.apparmor.raw\n  mount fstype=nfs,\n  deny /secret r,\n}\n"));
        // a name with quotes only appears in a comment, escaped
        let t = generated_profile("hako-q-1", "a\"b", &cfg());
        assert!(t.contains("container \"a\\\"b\""));
    }

    #[test]
    fn profile_names() {
        let rt = Path::new("/run/hako/0123456789abcdef/web");
        let a = profile_name("web", rt);
        assert!(
            a.starts_with("hako-web-") && a.len() == "hako-web-".len() + 16,
            "{a}"
        );
        assert_eq!(a, profile_name("web", rt), "stable");
        assert_ne!(
            a,
            profile_name("web", Path::new("/run/hako/fedcba9876543210/web"))
        );
        // unusual characters are replaced; the hash keeps the names apart
        let b = profile_name("a:b", Path::new("/run/hako/x/a:b"));
        let c = profile_name("a;b", Path::new("/run/hako/x/a;b"));
        assert!(b.starts_with("hako-a_b-") && c.starts_with("hako-a_b-"));
        assert_ne!(b, c);
    }

    fn host(apparmor: bool, fs: bool, mounts: bool, selinux: bool) -> LsmHost {
        LsmHost {
            apparmor,
            apparmor_fs: fs.then(|| PathBuf::from("/nonexistent/apparmor")),
            apparmor_mounts: mounts,
            selinux,
        }
    }

    fn plan_on(c: &LsmConfig, h: &LsmHost) -> Result<AppArmor> {
        plan(
            c,
            h,
            "web",
            Path::new("/run/hako/x/web"),
            Path::new("/l/web/config"),
        )
    }

    #[test]
    fn plan_without_apparmor_ignores_the_keys() {
        let c = LsmConfig {
            apparmor_profile: Some("generated".into()),
            apparmor_raw: vec!["x".into()],
            ..cfg()
        };
        assert_eq!(
            plan_on(&c, &host(false, false, false, false)).unwrap(),
            AppArmor::NotAvailable
        );
        let s = LsmConfig {
            selinux_context: Some("system_u:system_r:container_t:s0".into()),
            ..cfg()
        };
        assert_eq!(
            plan_on(&s, &host(false, false, false, false)).unwrap(),
            AppArmor::NotAvailable
        );
    }

    #[test]
    fn plan_with_apparmor() {
        let h = host(true, true, true, false);
        match plan_on(&cfg(), &h).unwrap() {
            AppArmor::Generated { name, text } => {
                assert_eq!(name, profile_name("web", Path::new("/run/hako/x/web")));
                assert!(text.contains(&format!("profile {name} ")));
            }
            other => panic!("unset must mean generated: {other:?}"),
        }
        let with = |p: &str| LsmConfig {
            apparmor_profile: Some(p.into()),
            ..cfg()
        };
        assert_eq!(
            plan_on(&with("unconfined"), &h).unwrap(),
            AppArmor::Unconfined
        );
        assert_eq!(
            plan_on(&with("unchanged"), &h).unwrap(),
            AppArmor::Unchanged
        );
        assert_eq!(plan_on(&with("unconfined"), &h).unwrap().exec_label(), None);
        // a named profile must be loaded
        let e = plan_on(&with("my-profile"), &h).unwrap_err().to_string();
        assert!(
            e.contains("lxc.apparmor.profile = my-profile")
                && e.contains("no AppArmor profile of that name is loaded"),
            "{e}"
        );
        // stacked labels are the kernel's to resolve
        assert_eq!(
            plan_on(&with("a//&b"), &h).unwrap(),
            AppArmor::Named("a//&b".into())
        );
        // raw lines only with the generated profile
        let raw = LsmConfig {
            apparmor_raw: vec!["mount,".into()],
            ..with("unconfined")
        };
        let e = plan_on(&raw, &h).unwrap_err().to_string();
        assert!(
            e.contains("lxc.apparmor.raw") && e.contains("/l/web/config"),
            "{e}"
        );
    }

    #[test]
    fn plan_refuses_what_it_cannot_honour() {
        // AppArmor enabled, securityfs not mounted
        let e = plan_on(&cfg(), &host(true, false, false, false))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("securityfs") && e.contains("mount -t securityfs"),
            "{e}"
        );
        // unconfined needs no securityfs
        let u = LsmConfig {
            apparmor_profile: Some("unconfined".into()),
            ..cfg()
        };
        assert_eq!(
            plan_on(&u, &host(true, false, false, false)).unwrap(),
            AppArmor::Unconfined
        );
        // no mount mediation: only with allow_incomplete
        let e = plan_on(&cfg(), &host(true, true, false, false))
            .unwrap_err()
            .to_string();
        assert!(e.contains("lxc.apparmor.allow_incomplete = 1"), "{e}");
        let inc = LsmConfig {
            apparmor_allow_incomplete: true,
            ..cfg()
        };
        assert!(matches!(
            plan_on(&inc, &host(true, true, false, false)).unwrap(),
            AppArmor::Generated { .. }
        ));
        // SELinux active: its keys stop the start, with or without AppArmor
        for h in [
            host(false, false, false, true),
            host(true, true, true, true),
        ] {
            let s = LsmConfig {
                selinux_context: Some("system_u:system_r:svirt_lxc_net_t:s0".into()),
                ..cfg()
            };
            let e = plan_on(&s, &h).unwrap_err().to_string();
            assert!(
                e.contains("lxc.selinux.context") && e.contains("SELinux is active"),
                "{e}"
            );
            let k = LsmConfig {
                selinux_context_keyring: Some("x".into()),
                ..cfg()
            };
            let e = plan_on(&k, &h).unwrap_err().to_string();
            assert!(e.contains("lxc.selinux.context.keyring"), "{e}");
        }
    }

    /// A fake /sys with the files detection reads.
    fn fake_sys(files: &[(&str, &str)], dirs: &[&str]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for dir in dirs {
            std::fs::create_dir_all(d.path().join(dir)).unwrap();
        }
        for (f, text) in files {
            let p = d.path().join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        d
    }

    #[test]
    fn detect_on_fake_trees() {
        // this development host: no AppArmor module, SELinux built in but not active,
        // securityfs not mounted
        let t = fake_sys(&[], &["kernel/security", "fs"]);
        assert_eq!(LsmHost::detect_in(t.path()), LsmHost::default());

        // Debian's kernel: AppArmor enabled, securityfs mounted, mount rules
        let t = fake_sys(
            &[
                ("module/apparmor/parameters/enabled", "Y\n"),
                (
                    "kernel/security/lsm",
                    "lockdown,capability,landlock,yama,apparmor",
                ),
                ("kernel/security/apparmor/profiles", ""),
                ("kernel/security/apparmor/.remove", ""),
            ],
            &["kernel/security/apparmor/features/mount"],
        );
        let h = LsmHost::detect_in(t.path());
        assert!(h.apparmor && h.apparmor_mounts && !h.selinux, "{h:?}");
        assert_eq!(
            h.apparmor_fs,
            Some(t.path().join("kernel/security/apparmor"))
        );

        // AppArmor enabled, securityfs not mounted: enabled, but no fs
        let t = fake_sys(
            &[("module/apparmor/parameters/enabled", "Y\n")],
            &["kernel/security"],
        );
        let h = LsmHost::detect_in(t.path());
        assert!(
            h.apparmor && h.apparmor_fs.is_none() && !h.apparmor_mounts,
            "{h:?}"
        );

        // built in but disabled at boot (apparmor=0)
        let t = fake_sys(&[("module/apparmor/parameters/enabled", "N\n")], &[]);
        assert!(!LsmHost::detect_in(t.path()).apparmor);

        // the list of active modules wins over the parameter
        let t = fake_sys(
            &[
                ("module/apparmor/parameters/enabled", "Y\n"),
                ("kernel/security/lsm", "capability,selinux"),
            ],
            &[],
        );
        let h = LsmHost::detect_in(t.path());
        assert!(!h.apparmor && h.selinux, "{h:?}");

        // SELinux without securityfs: the kernel's /sys/fs/selinux mount point
        let t = fake_sys(&[], &["fs/selinux"]);
        assert!(LsmHost::detect_in(t.path()).selinux);

        // older kernels without mount mediation
        let t = fake_sys(
            &[
                ("module/apparmor/parameters/enabled", "Y\n"),
                ("kernel/security/apparmor/profiles", ""),
            ],
            &["kernel/security/apparmor/features"],
        );
        let h = LsmHost::detect_in(t.path());
        assert!(
            h.apparmor && h.apparmor_fs.is_some() && !h.apparmor_mounts,
            "{h:?}"
        );
    }

    #[test]
    fn loaded_profiles_and_labels() {
        let t = fake_sys(
            &[(
                "profiles",
                "hako-web-0123 (enforce)\nlxc-container-default-cgns (enforce)\n/usr/bin/man (complain)\n",
            )],
            &[],
        );
        assert!(profile_loaded(t.path(), "hako-web-0123"));
        assert!(profile_loaded(t.path(), "/usr/bin/man"));
        assert!(!profile_loaded(t.path(), "hako-web"));
        assert_eq!(parse_label(b"hako-web-0123 (enforce)\n"), "hako-web-0123");
        assert_eq!(parse_label(b"unconfined\n"), "unconfined");
        assert_eq!(parse_label(b"a//&b (complain)\0"), "a//&b");
        assert_eq!(exec_command_str("hako-web-0123"), "exec hako-web-0123");
    }

    #[test]
    fn info_lines() {
        let rt = Path::new("/run/hako/x/web");
        let none = host(false, false, false, false);
        let gen = LsmConfig {
            apparmor_profile: Some("generated".into()),
            ..cfg()
        };
        let s = apparmor_status_on(&none, Some(&gen), "web", rt, None);
        assert_eq!(
            s.status,
            "not available on this kernel (lxc.apparmor.profile ignored)"
        );
        assert!(!s.available);
        assert_eq!(s.configured.as_deref(), Some("generated"));
        let s = apparmor_status_on(&none, Some(&cfg()), "web", rt, None);
        assert_eq!(s.status, "not available on this kernel");
        let aa = host(true, true, true, false);
        let s = apparmor_status_on(&aa, Some(&cfg()), "web", rt, None);
        assert_eq!(s.label, Some(profile_name("web", rt)));
        assert!(s.status.ends_with("(generated at start)"), "{}", s.status);
        let sel = LsmConfig {
            selinux_context: Some("x".into()),
            ..cfg()
        };
        assert_eq!(
            selinux_status_on(&none, Some(&sel)).status,
            "not active on this kernel (lxc.selinux.context ignored)"
        );
        assert!(
            selinux_status_on(&host(false, false, false, true), Some(&sel))
                .status
                .contains("start refuses it")
        );
    }
}
