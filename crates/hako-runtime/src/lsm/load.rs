//! Loading the generated profile with `apparmor_parser` before the container starts, and
//! unloading it when the container stops.

use std::path::{Path, PathBuf};

use super::{plan, profile_loaded, profile_name, AppArmor, LsmConfig, LsmHost};
use crate::error::{Result, RuntimeError};

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
