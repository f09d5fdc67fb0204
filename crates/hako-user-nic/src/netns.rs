//! The target: the network namespace of the caller's pid, opened once through a directory
//! fd of `/proc/PID` and used for everything after (the ownership check and the veth's
//! creation), so a pid that dies and is reused in between cannot swap it.
//!
//! The caller may use it when it has CAP_NET_ADMIN over that namespace the way the kernel
//! reckons it for a process of the caller's uid in the host's user namespace: the user
//! namespace that owns the network namespace, or one of its ancestors below the host's, was
//! created by the caller's uid (NS_GET_USERNS, NS_GET_OWNER_UID, NS_GET_PARENT). The
//! process's own uid is not checked: a container's init runs as one of the caller's
//! subordinate ids, not as the caller.

use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;

use crate::Fail;

const PROC_SUPER_MAGIC: i64 = 0x9fa0;
/// The kernel nests user namespaces at most 32 deep.
const MAX_DEPTH: usize = 40;

fn ioctl_fd(fd: &OwnedFd, req: libc::Ioctl) -> std::io::Result<OwnedFd> {
    // SAFETY: the NS_GET_USERNS / NS_GET_PARENT ioctls take no argument and return a new fd.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), req) };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a fresh fd the kernel just gave us.
    Ok(unsafe { OwnedFd::from_raw_fd(r) })
}

fn owner_uid(fd: &OwnedFd) -> std::io::Result<u32> {
    let mut uid: libc::uid_t = 0;
    // SAFETY: NS_GET_OWNER_UID writes one uid_t to the pointer.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::NS_GET_OWNER_UID as _, &mut uid) };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(uid)
}

fn ns_id(fd: &OwnedFd) -> std::io::Result<(u64, u64)> {
    let f = File::from(fd.try_clone()?);
    let m = f.metadata()?;
    Ok((m.dev(), m.ino()))
}

fn path_id(p: &str) -> std::io::Result<(u64, u64)> {
    let m = std::fs::metadata(p)?;
    Ok((m.dev(), m.ino()))
}

fn open_at(dir: Option<&OwnedFd>, path: &str, flags: i32) -> std::io::Result<OwnedFd> {
    let c = std::ffi::CString::new(path)
        .map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    let d = dir.map_or(libc::AT_FDCWD, |d| d.as_raw_fd());
    // SAFETY: a NUL-terminated path and a valid (or AT_FDCWD) directory fd.
    let r = unsafe { libc::openat(d, c.as_ptr(), flags | libc::O_CLOEXEC) };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a fresh fd.
    Ok(unsafe { OwnedFd::from_raw_fd(r) })
}

/// /proc must be the kernel's proc file system (the caller cannot change the helper's
/// mounts, but the check is cheap and says what is wrong when it is not).
fn check_proc() -> Result<(), Fail> {
    let mut s: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: a static NUL-terminated path and a buffer of the right type.
    let r = unsafe { libc::statfs(c"/proc".as_ptr(), &mut s) };
    if r != 0 || s.f_type as i64 != PROC_SUPER_MAGIC {
        return Err(Fail::new(
            "/proc is not the proc file system; mount it (mount -t proc proc /proc) and retry"
                .into(),
        ));
    }
    Ok(())
}

/// Open the network namespace of `pid` and check that `uid` may have a device put in it.
/// Returns the namespace's fd.
pub fn open_owned(pid: i32, uid: u32, who: &str) -> Result<OwnedFd, Fail> {
    check_proc()?;
    let fix = "pass the pid of a process in your container's own network namespace \
               (its init, or e.g. \"unshare -Urn sleep infinity\" started as you)";
    let dir = open_at(
        None,
        &format!("/proc/{pid}"),
        libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW,
    )
    .map_err(|e| match e.raw_os_error() {
        Some(libc::ENOENT) | Some(libc::ESRCH) => {
            Fail::new(format!("there is no process with pid {pid}; {fix}"))
        }
        _ => Fail::new(format!("cannot open /proc/{pid}: {e}; {fix}")),
    })?;
    let net = open_at(Some(&dir), "ns/net", libc::O_RDONLY).map_err(|e| {
        Fail::new(format!(
            "cannot open the network namespace of pid {pid} (/proc/{pid}/ns/net): {e}; {fix}"
        ))
    })?;
    // SAFETY: NS_GET_NSTYPE takes no argument.
    let t = unsafe { libc::ioctl(net.as_raw_fd(), libc::NS_GET_NSTYPE as _) };
    if t != libc::CLONE_NEWNET {
        return Err(Fail::new(format!(
            "/proc/{pid}/ns/net is not a network namespace; {fix}"
        )));
    }
    let id = ns_id(&net)
        .map_err(|e| Fail::new(format!("cannot stat /proc/{pid}/ns/net: {e}; {fix}")))?;
    for (p, what) in [
        (
            "/proc/self/ns/net",
            "the network namespace hako-user-nic was called in (yours)",
        ),
        (
            "/proc/1/ns/net",
            "the host's network namespace (that of pid 1)",
        ),
    ] {
        if path_id(p).ok() == Some(id) {
            return Err(Fail::new(format!(
                "pid {pid} is in {what}, not in a container's; {fix}"
            )));
        }
    }
    let host_userns = path_id("/proc/self/ns/user")
        .map_err(|e| Fail::new(format!("cannot stat /proc/self/ns/user: {e}; check /proc")))?;
    let mut u = ioctl_fd(&net, libc::NS_GET_USERNS).map_err(|e| {
        Fail::new(format!(
            "cannot find the user namespace that owns the network namespace of pid {pid}: {e}; {fix}"
        ))
    })?;
    let mut owners = Vec::new();
    for _ in 0..MAX_DEPTH {
        let uid_of = |e: std::io::Error| {
            Fail::new(format!(
                "cannot read who owns a user namespace above pid {pid}'s network namespace: {e}; {fix}"
            ))
        };
        if ns_id(&u).map_err(uid_of)? == host_userns {
            break;
        }
        let o = owner_uid(&u).map_err(uid_of)?;
        if o == uid {
            return Ok(net);
        }
        owners.push(o.to_string());
        match ioctl_fd(&u, libc::NS_GET_PARENT) {
            Ok(p) => u = p,
            Err(_) => break,
        }
    }
    let by = if owners.is_empty() {
        "it belongs to the host's user namespace (root's)".to_string()
    } else {
        format!(
            "its user namespace{} belong{} to uid {}",
            if owners.len() > 1 {
                " and their parents"
            } else {
                ""
            },
            if owners.len() > 1 { "" } else { "s" },
            owners.join(", uid ")
        )
    };
    Err(Fail::new(format!(
        "{who} does not own the network namespace of pid {pid}: {by}; {fix}"
    )))
}
