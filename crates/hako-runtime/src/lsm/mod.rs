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
//!
//! The parts: what the kernel offers and what a start decides (here), loading and unloading
//! the generated profile (`load.rs`), the labels init and attached commands get at exec
//! (`label.rs`), what `info` shows (`status.rs`) and the generated profile's text
//! (`profile.rs`).

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::error::{Result, RuntimeError};

mod label;
mod load;
mod profile;
mod status;

pub use label::{current_label, AttachLabel, ExecLabel};
pub use load::{prepare, release};
pub use profile::generated_profile;
pub use status::{apparmor_status, selinux_status, LsmStatus};

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
    // rootless: only root loads profiles; as LXC for a non-root user, the container stays
    // under the caller's own label unless a loaded profile is named (the user namespace
    // is its boundary). Asking for the generated profile fails.
    if crate::userns::rootless::is_rootless() {
        match cfg.apparmor_profile.as_deref() {
            None if cfg.apparmor_raw.is_empty() => return Ok(AppArmor::Unchanged),
            Some(GENERATED) | None => {
                return Err(RuntimeError::msg(format!(
                    "container \"{name}\": hako's generated AppArmor profile (lxc.apparmor.profile = generated, lxc.apparmor.raw) in {conf} cannot be loaded by a non-root user (apparmor_parser needs root); remove those keys (the container then keeps your own AppArmor label), name a profile root has loaded, or start it as root"
                )))
            }
            _ => {}
        }
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

#[cfg(test)]
mod tests;
