//! seccomp for a container's processes: the installation of the filters its spec holds
//! (`ContainerSpec::seccomp`), the last step before exec of the container's init (and of
//! `execute`'s small init, so the command inherits them) and of every attached command.
//! Which filters a config asks for is decided, and they are compiled, when the spec is
//! made (hako-spec's LXC translation; before clone: the process between clone and exec
//! only makes the seccomp(2) calls of [`install`]):
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

use hako_seccomp::Program;

use crate::error::{errno_text, Result, RuntimeError};

/// The value of `lxc.seccomp.profile` that installs no filter.
pub use hako_spec::lxc::SECCOMP_UNCONFINED as UNCONFINED;

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
