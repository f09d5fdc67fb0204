//! seccomp for a container's processes: which filters its config asks for, compiled when
//! the spec is built (before clone: the process between clone and exec only makes the
//! seccomp(2) calls of [`install`]), and their installation, the last step before exec of
//! the container's init (and of `execute`'s small init, so the command inherits them) and
//! of every attached command.
//!
//! - no `lxc.seccomp.profile` (or an empty one): hako's built-in profile;
//! - `lxc.seccomp.profile = /path`: the built-in profile AND that file's, both installed (the
//!   kernel runs every filter and the strictest answer wins; between two error numbers the
//!   file's). LXC replaces its filter with the file's; hako keeps its own underneath so that
//!   a config including Debian's /usr/share/lxc/config/common.conf (which names LXC's
//!   smaller common.seccomp) still gets everything the built-in refuses;
//! - `lxc.seccomp.profile = unconfined`: no filter at all (as `lxc.apparmor.profile`);
//! - `lxc.seccomp.allow_nesting`: hako always stacks its filters on any the process already
//!   runs under (a filter can only narrow what an outer one allows). LXC with 0 skips its
//!   own profile when the process is already confined; hako does not skip, since that
//!   would loosen the container. Either value is accepted;
//! - `lxc.seccomp.notify.proxy` and `.cookie`, and the `notify` action: not supported yet,
//!   the start fails.
//!
//! Order in the child (child.rs): capabilities are dropped from the bounding set, then
//! `no_new_privs` if configured, then the filters, then the `lxc.hook.start` hooks (the
//! container's code, so they run filtered, as in LXC), setgid/setuid and exec. Installing
//! a filter needs CAP_SYS_ADMIN or no_new_privs; hako does not set no_new_privs for it
//! (setuid programs in the container must keep working unless `lxc.no_new_privs` says
//! otherwise), so the filters go in while the process is still root with its effective
//! capabilities, before it switches to `lxc.init.uid`. The filters therefore also see the
//! setgroups/setgid/setuid and execve that follow: an allowlist must allow them.

use std::path::Path;

use hako_config::Config;
use hako_seccomp::Program;

use crate::error::{errno_text, Result, RuntimeError};

/// The value of `lxc.seccomp.profile` that installs no filter.
pub const UNCONFINED: &str = "unconfined";

/// The filters for a container, in install order, and the warnings the profile gave
/// (unknown system call names, which LXC skips too).
pub fn from_config(
    name: &str,
    config_path: &Path,
    cfg: &Config,
) -> Result<(Vec<Program>, Vec<String>)> {
    let at = |key: &str| {
        cfg.item(key)
            .map(|i| i.origin.to_string())
            .unwrap_or_else(|| config_path.display().to_string())
    };
    for key in ["lxc.seccomp.notify.proxy", "lxc.seccomp.notify.cookie"] {
        if cfg.get(key).is_some() {
            return Err(RuntimeError::msg(format!(
                "container \"{name}\": {key} ({}): seccomp notifications (a supervisor in user \
                 space answering system calls) are not supported by hako yet; remove the key",
                at(key)
            )));
        }
    }
    if let Some(v) = cfg.get("lxc.seccomp.allow_nesting") {
        hako_config::values::parse_bool(v).map_err(|e| {
            RuntimeError::msg(format!(
                "container \"{name}\": bad value \"{v}\" for lxc.seccomp.allow_nesting ({}): {e}",
                at("lxc.seccomp.allow_nesting")
            ))
        })?;
    }
    let profile = cfg.get("lxc.seccomp.profile").map(str::trim);
    if profile == Some(UNCONFINED) {
        return Ok((Vec::new(), Vec::new()));
    }
    let mut filters = builtin()?;
    let mut warnings = Vec::new();
    if let Some(path) = profile.filter(|p| !p.is_empty()) {
        let key_at = at("lxc.seccomp.profile");
        if !path.starts_with('/') {
            return Err(RuntimeError::msg(format!(
                "container \"{name}\": lxc.seccomp.profile = \"{path}\" ({key_at}) is not an \
                 absolute path; give the profile file's full path, \"{UNCONFINED}\" for no \
                 seccomp filter, or remove the key for hako's built-in profile"
            )));
        }
        let fail = |e: String, fix: &str| {
            RuntimeError::msg(format!(
                "container \"{name}\": lxc.seccomp.profile ({key_at}): {e}{fix}"
            ))
        };
        let p = hako_seccomp::load_file(Path::new(path)).map_err(|e| match e {
            hako_seccomp::Error::Read(m) => {
                fail(m, "; fix the path in the config or remove the key")
            }
            other => fail(other.to_string(), ""),
        })?;
        let (prog, warned) = hako_seccomp::compile(&p).map_err(|e| fail(e.to_string(), ""))?;
        warnings.extend(
            warned
                .iter()
                .map(|w| format!("container \"{name}\": seccomp profile {w}")),
        );
        filters.push(prog);
    }
    Ok((filters, warnings))
}

/// hako's built-in profile, compiled: what a container without `lxc.seccomp.profile` gets.
pub fn builtin() -> Result<Vec<Program>> {
    hako_seccomp::builtin_program()
        .map(|p| vec![p])
        .map_err(|e| RuntimeError::msg(e.to_string()))
}

/// Install the filters on the calling process: one seccomp(2) call each, no allocation
/// unless one fails. The caller must still hold CAP_SYS_ADMIN (or have no_new_privs set).
pub fn install(name: &str, filters: &[Program]) -> Result<()> {
    for p in filters {
        if let Err(e) = hako_seccomp::install(p) {
            let hint = match e {
                libc::EACCES => {
                    "the process lacks CAP_SYS_ADMIN (hako installs the filter as root, before \
                     lxc.init.uid applies)"
                }
                libc::EINVAL => {
                    "the kernel lacks seccomp filters (CONFIG_SECCOMP_FILTER) or an action the \
                     profile uses (log and kill need Linux 4.14)"
                }
                libc::EPERM | libc::EFAULT => {
                    "a seccomp filter hako itself runs under forbids it; set \
                     lxc.seccomp.profile = unconfined to start without one"
                }
                libc::ENOMEM => {
                    "the process already has too many filters stacked; use a shorter profile"
                }
                _ => "see seccomp(2)",
            };
            return Err(RuntimeError::msg(format!(
                "container \"{name}\": cannot install the seccomp filter of {}: {}; {hint}",
                p.origin,
                errno_text(nix::errno::Errno::from_raw(e))
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filters(config: &str) -> Result<(Vec<Program>, Vec<String>)> {
        let path = Path::new("/c/config");
        let cfg = hako_config::load_str(config, path).unwrap();
        from_config("web", path, &cfg)
    }

    fn err(config: &str) -> String {
        filters(config).unwrap_err().to_string()
    }

    #[test]
    fn which_filters_a_config_gets() {
        let builtin = builtin().unwrap();
        assert_eq!(builtin.len(), 1);
        // no key, or an empty one: the built-in profile
        assert_eq!(filters("").unwrap().0, builtin);
        assert_eq!(filters("lxc.seccomp.profile =\n").unwrap().0, builtin);
        assert_eq!(
            filters("lxc.seccomp.allow_nesting = 1\n").unwrap().0,
            builtin
        );
        // unconfined: none
        assert!(filters("lxc.seccomp.profile = unconfined\n")
            .unwrap()
            .0
            .is_empty());
        // a file: stacked on the built-in one, its warnings passed on
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("p.seccomp");
        std::fs::write(&f, "2\ndenylist\nno_such_call errno 1\nmknod errno 1\n").unwrap();
        let (progs, warnings) =
            filters(&format!("lxc.seccomp.profile = {}\n", f.display())).unwrap();
        assert_eq!(progs.len(), 2);
        assert_eq!(progs[0], builtin[0]);
        assert_eq!(progs[1].origin, f.display().to_string());
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].starts_with(&format!(
                "container \"web\": seccomp profile {}:3: unknown system call \"no_such_call\"",
                f.display()
            )),
            "{warnings:?}"
        );
        // a parse error names the config line and the profile's line
        std::fs::write(&f, "2\ndenylist\n\nmknod errno x\n").unwrap();
        let e = err(&format!("lxc.seccomp.profile = {}\n", f.display()));
        assert!(
            e.starts_with(&format!(
                "container \"web\": lxc.seccomp.profile (/c/config:1): {}:4: \"x\" is not a valid errno number",
                f.display()
            )),
            "{e}"
        );
    }

    #[test]
    fn keys_hako_cannot_honour_fail() {
        let e = err("lxc.uts.name = web\nlxc.seccomp.notify.proxy = unix:/run/p.sock\n");
        assert!(
            e.contains("lxc.seccomp.notify.proxy (/c/config:2)")
                && e.contains("not supported by hako yet; remove the key"),
            "{e}"
        );
        let e = err("lxc.seccomp.notify.cookie = x\n");
        assert!(e.contains("lxc.seccomp.notify.cookie"), "{e}");
        let e = err("lxc.seccomp.profile = rel/p.seccomp\n");
        assert!(e.contains("is not an absolute path"), "{e}");
        let e = err("lxc.seccomp.profile = /nonexistent/p.seccomp\n");
        assert!(
            e.contains("cannot open seccomp profile /nonexistent/p.seccomp: no such file or directory; fix the path"),
            "{e}"
        );
    }
}
