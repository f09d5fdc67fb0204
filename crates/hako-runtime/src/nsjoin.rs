//! OCI's joined namespaces (`linux.namespaces[] = {type, path}`): the monitor opens each
//! file and checks it is a namespace of that type (NS_GET_NSTYPE) before the clone, which
//! then makes none of the joined kinds; a pid namespace is joined by the monitor itself
//! for the clone (its pid_for_children, set back after); init joins the others with
//! setns(2): the user namespace first (so that namespaces owned by it can be joined),
//! then — when it joined a user namespace — it unshares the new namespaces it asked for
//! (so they belong to that user namespace), then the rest. A joined cgroup namespace is
//! entered after the mounts (the child mounts /sys/fs/cgroup in a cgroup namespace of
//! its own first, see `child.rs`).

use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use nix::sched::CloneFlags;

use crate::error::{errno_text, Result, RuntimeError};
use crate::spec::ContainerSpec;
use hako_spec::NsKind;

/// One joined namespace, opened.
pub struct Joined {
    pub kind: NsKind,
    pub path: std::path::PathBuf,
    pub fd: OwnedFd,
}

/// The clone flag of a kind (the value NS_GET_NSTYPE answers).
pub fn flag(kind: NsKind) -> CloneFlags {
    match kind {
        NsKind::Mount => CloneFlags::CLONE_NEWNS,
        NsKind::Pid => CloneFlags::CLONE_NEWPID,
        NsKind::Uts => CloneFlags::CLONE_NEWUTS,
        NsKind::Ipc => CloneFlags::CLONE_NEWIPC,
        NsKind::Net => CloneFlags::CLONE_NEWNET,
        NsKind::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        NsKind::User => CloneFlags::CLONE_NEWUSER,
        // CLONE_NEWTIME
        NsKind::Time => CloneFlags::from_bits_retain(0x80),
    }
}

/// Opens every joined namespace of `spec` and checks its type; an error names the path.
pub fn open(spec: &ContainerSpec) -> Result<Vec<Joined>> {
    let name = &spec.name;
    let Some(req) = &spec.oci_namespaces else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for j in &req.join {
        let what = || {
            format!(
                "container \"{name}\": linux.namespaces: the {} namespace at {}",
                j.kind.oci_name(),
                j.path.display()
            )
        };
        let fd = std::fs::File::open(&j.path).map(OwnedFd::from).map_err(|e| {
            RuntimeError::msg(format!(
                "{}: cannot open it: {e}; give the path of a namespace file (/proc/PID/ns/{} or a bind mount of one)",
                what(),
                ns_file(j.kind)
            ))
        })?;
        // NS_GET_NSTYPE = _IO(0xb7, 0x3)
        // SAFETY: an ioctl without an argument on an fd we own.
        let t = unsafe { libc::ioctl(fd.as_raw_fd(), 0xb703 as _) };
        if t < 0 {
            return Err(RuntimeError::msg(format!(
                "{}: it is not a namespace file ({}); give /proc/PID/ns/{} of a process in that namespace, or a bind mount of one",
                what(),
                errno_text(nix::errno::Errno::last()),
                ns_file(j.kind)
            )));
        }
        if t != flag(j.kind).bits() {
            let is = [
                NsKind::Mount,
                NsKind::Pid,
                NsKind::Uts,
                NsKind::Ipc,
                NsKind::Net,
                NsKind::Cgroup,
                NsKind::User,
                NsKind::Time,
            ]
            .into_iter()
            .find(|k| flag(*k).bits() == t)
            .map(|k| k.oci_name())
            .unwrap_or("unknown");
            return Err(RuntimeError::msg(format!(
                "{}: it is a {is} namespace, not a {} one; fix the type or the path",
                what(),
                j.kind.oci_name()
            )));
        }
        out.push(Joined {
            kind: j.kind,
            path: j.path.clone(),
            fd,
        });
    }
    Ok(out)
}

/// The file name below /proc/PID/ns of a kind.
fn ns_file(kind: NsKind) -> &'static str {
    match kind {
        NsKind::Mount => "mnt",
        NsKind::Net => "net",
        k => k.oci_name(),
    }
}

/// The joined namespace of `kind`, if any.
pub fn of(joins: &[Joined], kind: NsKind) -> Option<&Joined> {
    joins.iter().find(|j| j.kind == kind)
}

/// The clone flags of `flags` that the clone itself makes: none of a joined kind, and
/// with a joined user namespace only the pid namespace (init unshares the rest once it is
/// in that user namespace, [`enter`]).
pub fn clone_flags(flags: CloneFlags, joins: &[Joined]) -> CloneFlags {
    let mut f = flags;
    for j in joins {
        f.remove(flag(j.kind));
    }
    if of(joins, NsKind::User).is_some() {
        f &= CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_PARENT;
    }
    f
}

/// The monitor, around the clone: joins the pid namespace for its children (returns the
/// monitor's own to go back to with [`pid_back`]).
pub fn pid_for_clone(name: &str, joins: &[Joined]) -> Result<Option<OwnedFd>> {
    let Some(j) = of(joins, NsKind::Pid) else {
        return Ok(None);
    };
    let own = std::fs::File::open("/proc/self/ns/pid_for_children")
        .map(OwnedFd::from)
        .map_err(|e| {
            crate::error::io_err(
                format!("container \"{name}\": cannot open /proc/self/ns/pid_for_children"),
                e,
            )
        })?;
    nix::sched::setns(j.fd.as_fd(), CloneFlags::CLONE_NEWPID).map_err(|e| {
        RuntimeError::msg(format!(
            "container \"{name}\": linux.namespaces: cannot join the pid namespace at {}: {}",
            j.path.display(),
            errno_text(e)
        ))
    })?;
    Ok(Some(own))
}

/// The monitor after the clone: its children's pid namespace is its own again.
pub fn pid_back(own: Option<OwnedFd>) {
    if let Some(fd) = own {
        let _ = nix::sched::setns(fd, CloneFlags::CLONE_NEWPID);
    }
}

/// Init, first thing after joining its cgroup: the user namespace, then the new
/// namespaces `asked` that the clone left to it (a joined user namespace), then the other
/// joined ones (not pid: the clone did it; not cgroup: after the mounts).
pub fn enter(name: &str, joins: &[Joined], asked: CloneFlags) -> Result<()> {
    let join = |j: &Joined| {
        nix::sched::setns(j.fd.as_fd(), flag(j.kind)).map_err(|e| {
            RuntimeError::msg(format!(
                "container \"{name}\": linux.namespaces: cannot join the {} namespace at {}: {}",
                j.kind.oci_name(),
                j.path.display(),
                errno_text(e)
            ))
        })
    };
    if let Some(u) = of(joins, NsKind::User) {
        join(u)?;
        // root of that namespace (when it maps the host's root; else its overflow ids)
        let root = (nix::unistd::Uid::from_raw(0), nix::unistd::Gid::from_raw(0));
        let _ = nix::unistd::setresgid(root.1, root.1, root.1);
        let _ = nix::unistd::setresuid(root.0, root.0, root.0);
        let mut rest = asked - CloneFlags::CLONE_NEWPID - CloneFlags::CLONE_PARENT;
        for j in joins {
            rest.remove(flag(j.kind));
        }
        if !rest.is_empty() {
            nix::sched::unshare(rest).map_err(|e| {
                RuntimeError::msg(format!(
                    "container \"{name}\": cannot create its namespaces in the user namespace at {}: {}",
                    u.path.display(),
                    errno_text(e)
                ))
            })?;
        }
    }
    for j in joins {
        if !matches!(j.kind, NsKind::User | NsKind::Pid | NsKind::Cgroup) {
            join(j)?;
        }
    }
    Ok(())
}
