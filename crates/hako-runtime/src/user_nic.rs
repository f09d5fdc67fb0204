//! A rootless container's veth, through the privileged helper `hako-user-nic` (LXC's
//! lxc-user-nic: a small setuid program whose allowlist, /etc/lxc/lxc-usernet, says which
//! user may put how many veths on which bridge). hako only calls it:
//!
//! - `hako-user-nic create LXCPATH NAME INIT-PID veth BRIDGE NAME-INSIDE` once the
//!   child's network namespace exists; its one stdout line is `HOST-IFNAME NAME-INSIDE`;
//! - `hako-user-nic delete LXCPATH NAME HOST-IFNAME` at teardown.
//!
//! The host end is recorded among the run's host links as [`encode`]d text (a name no
//! kernel link has), so the teardown, the state file and the hand-over carry it as they
//! carry the others; [`release`] hands those back to the helper. Kept in this one file so
//! the helper's interface is easy to adjust.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Result, RuntimeError};

pub const HELPER: &str = "hako-user-nic";
/// The allowlist the helper reads (LXC's file).
pub const USERNET: &str = "/etc/lxc/lxc-usernet";
const MARK: &str = "user-nic:";

/// The helper: next to this program (hako or hako-monitor), else in PATH.
pub fn find() -> Option<PathBuf> {
    let beside = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|d| d.join(HELPER)));
    let in_path: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join(HELPER)).collect())
        .unwrap_or_default();
    beside.into_iter().chain(in_path).find(|p| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p)
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    })
}

/// The error for a rootless veth without the helper.
pub fn missing(container: &str, index: u32) -> String {
    format!(
        "container \"{container}\": lxc.net.{index}.type = veth needs the privileged helper {HELPER} for a non-root user, and none is installed next to hako or in PATH; install it (it puts the veth on a bridge that {USERNET} allows this user, e.g. \"USER veth hakobr0 2\"), or use lxc.net.{index}.type = empty"
    )
}

/// The line `HOST-IFNAME NAME-INSIDE` the helper prints: the host end's name.
pub fn parse_created(out: &str) -> Option<String> {
    let line = out.lines().find(|l| !l.trim().is_empty())?;
    let f: Vec<&str> = line.split_whitespace().collect();
    (f.len() == 2 && !f[0].is_empty() && f[0].len() < 16).then(|| f[0].to_string())
}

/// The host link entry of a helper-made veth: its lxcpath and host end.
pub fn encode(lxcpath: &Path, host_ifname: &str) -> String {
    format!("{MARK}{host_ifname}:{}", lxcpath.display())
}

/// [`encode`]'s parts back, None for a plain link name.
pub fn decode(entry: &str) -> Option<(PathBuf, String)> {
    let rest = entry.strip_prefix(MARK)?;
    let (ifname, lxcpath) = rest.split_once(':')?;
    Some((PathBuf::from(lxcpath), ifname.to_string()))
}

/// Have the helper create the veth of interface `index` of `container` (init `pid`) on
/// `bridge`, named `inside` in the container; returns the host link entry ([`encode`]).
pub fn create(
    container: &str,
    lxcpath: &Path,
    pid: i32,
    index: u32,
    bridge: &str,
    inside: &str,
) -> Result<String> {
    let helper = find().ok_or_else(|| RuntimeError::msg(missing(container, index)))?;
    let out = Command::new(&helper)
        .arg("create")
        .arg(lxcpath)
        .args([container, &pid.to_string(), "veth", bridge, inside])
        .output()
        .map_err(|e| {
            RuntimeError::msg(format!(
                "container \"{container}\": cannot run {}: {e}; check that it is executable (setuid root)",
                helper.display()
            ))
        })?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    match parse_created(&stdout) {
        Some(host) if out.status.success() => Ok(encode(lxcpath, &host)),
        _ => Err(RuntimeError::msg(format!(
            "container \"{container}\": {} could not put lxc.net.{index}'s veth on bridge {bridge} ({}): {}; check that {USERNET} allows this user a veth on {bridge}",
            helper.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))),
    }
}

/// Hand the helper-made veths among `links` back to the helper for deletion (a plain link
/// name is left to the caller); failures are logged.
pub fn release(container: &str, links: &[String]) {
    for (lxcpath, host) in links.iter().filter_map(|l| decode(l)) {
        let Some(helper) = find() else {
            eprintln!("hako monitor: container \"{container}\": cannot delete its veth {host}: {HELPER} is gone");
            continue;
        };
        let r = Command::new(&helper)
            .arg("delete")
            .arg(&lxcpath)
            .args([container, &host])
            .output();
        match r {
            Ok(o) if o.status.success() => {}
            Ok(o) => eprintln!(
                "hako monitor: container \"{container}\": {} delete {host}: {}",
                helper.display(),
                String::from_utf8_lossy(&o.stderr).trim()
            ),
            Err(e) => eprintln!(
                "hako monitor: container \"{container}\": cannot run {}: {e}",
                helper.display()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helper_line_and_entries() {
        assert_eq!(parse_created("vethAB12 eth0\n"), Some("vethAB12".into()));
        assert_eq!(parse_created("\n"), None);
        assert_eq!(parse_created("a b c\n"), None);
        let e = encode(Path::new("/home/u/.local/share/hako"), "vethAB12");
        assert_eq!(
            decode(&e),
            Some((
                PathBuf::from("/home/u/.local/share/hako"),
                "vethAB12".into()
            ))
        );
        assert_eq!(decode("vethAB12"), None);
    }
}
