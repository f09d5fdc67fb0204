//! `lxc.sysctl.KEY = VALUE`: kernel parameters set for the container, in its own
//! namespaces. The kernel resolves a namespaced parameter (under /proc/sys) through the
//! namespaces of the process that opens it, so the container's first process writes them
//! before its init runs. Only namespaced parameters are accepted (checked when the spec
//! is made, by hako-spec's [`refuse_reason`]): anything else would be set for the whole
//! host.
//!
//! - IPC (`kernel.shm*`, `kernel.msg*`, `kernel.sem*`, `fs.mqueue.*`) and UTS
//!   (`kernel.hostname`, `kernel.domainname`) parameters are written while /proc/sys of
//!   the container's own proc is still writable (`proc:mixed` makes it read-only), or
//!   through the host's /proc of the container's mount namespace when it mounts no proc;
//! - `net.*` (only with a network namespace of its own, not `lxc.net.0.type = none`) once
//!   the monitor has moved and configured its interfaces, so per-interface parameters
//!   (`net.ipv4.conf.eth0.rp_filter`) find them; /proc/sys/net stays writable.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use crate::error::{errno_text, Result, RuntimeError};
use crate::inroot;
use crate::spec::ContainerSpec;
use nix::errno::Errno;

pub use hako_spec::sysctl::{refuse_reason, Sysctl};

/// Where /proc/sys is for [`apply`].
pub enum ProcSys<'a> {
    /// the container's own proc, mounted on `proc` in this root
    InRoot(&'a crate::mounts::Rootfs),
    /// /proc/sys as this process sees it (the host's proc, in the container's mount
    /// namespace before pivot_root)
    Here,
}

/// Writes the `net.*` parameters (`net`) or the others (`!net`) of `spec`. Run by the
/// container's first process, in its namespaces.
pub fn apply(spec: &ContainerSpec, at: ProcSys<'_>, net: bool) -> Result<()> {
    let name = &spec.name;
    let mut todo = spec.sysctls.iter().filter(|s| s.is_net() == net).peekable();
    if todo.peek().is_none() {
        return Ok(());
    }
    let dir: OwnedFd = match at {
        ProcSys::InRoot(root) => root.open(Path::new("proc/sys")),
        ProcSys::Here => nix::fcntl::open(
            "/proc/sys",
            nix::fcntl::OFlag::O_PATH
                | nix::fcntl::OFlag::O_DIRECTORY
                | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        // SAFETY: open returned a new fd we own.
        .map(|fd| unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) }),
    }
    .map_err(|e| {
        RuntimeError::msg(format!(
            "container \"{name}\": cannot open /proc/sys to set lxc.sysctl: {}",
            errno_text(e)
        ))
    })?;
    for s in todo {
        write_one(dir.as_fd(), s).map_err(|e| {
            RuntimeError::msg(format!(
                "{}: container \"{name}\": cannot set lxc.sysctl.{} = {}: {}",
                s.origin,
                s.key,
                s.value,
                match e {
                    Errno::ENOENT => format!(
                        "this kernel has no parameter {} in the container (/proc/sys/{}); check the name with \"sysctl -a\"{}",
                        s.key,
                        s.rel_path().display(),
                        if s.is_net() { " (a per-interface parameter needs the interface: its name inside the container)" } else { "" }
                    ),
                    Errno::EINVAL => "the kernel refused the value; check what the parameter takes".into(),
                    Errno::EACCES | Errno::EPERM | Errno::EROFS => format!(
                        "{} (a read-only parameter, or one only the host may set)",
                        errno_text(e)
                    ),
                    e => errno_text(e),
                }
            ))
        })?;
    }
    Ok(())
}

fn write_one(dir: BorrowedFd<'_>, s: &Sysctl) -> nix::Result<()> {
    // The UTS names through their system calls: /proc/sys/kernel/{hostname,domainname}
    // belong to the host's root, which a container's root in a user namespace is not,
    // while the UTS namespace itself is the container's
    match s.key.as_str() {
        "kernel.hostname" => return nix::unistd::sethostname(&s.value),
        "kernel.domainname" => return set_domainname(&s.value),
        _ => {}
    }
    // resolved below /proc/sys only: no "..", no symlink (there are none in /proc/sys)
    let fd = inroot::open_in_root(dir, &s.rel_path(), libc::O_WRONLY | libc::O_NOFOLLOW, 0)?;
    let mut v = s.value.clone().into_bytes();
    v.push(b'\n');
    let n = nix::unistd::write(&fd, &v)?;
    if n != v.len() {
        return Err(Errno::EINVAL);
    }
    Ok(())
}

fn set_domainname(name: &str) -> nix::Result<()> {
    // SAFETY: a pointer and length of a live byte slice.
    if unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) } < 0 {
        return Err(Errno::last());
    }
    Ok(())
}
