//! `lxc-unshare` / `hako unshare`: run a command in new namespaces (LXC's testing tool):
//! `-s 'MOUNT|PID|UTSNAME|IPC|USER|NETWORK|CGROUP'`, a host name (`-H`), host interfaces
//! moved in (`-i`), /proc, /dev/shm and /dev/mqueue mounted afresh (`-M`), another user id
//! (`-u`), without waiting (`-d`).
//!
//! The command is cloned into its namespaces (as LXC does); it waits on a pipe while this
//! process, still in the host's namespaces, writes its id maps and moves the interfaces
//! in, then sets itself up and execs.

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};

use nix::sched::CloneFlags;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{Gid, Pid, Uid};

use crate::error::{Error, Result};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UnshareOptions {
    pub namespaces: Vec<String>,
    pub user: Option<u32>,
    pub hostname: Option<String>,
    pub ifnames: Vec<String>,
    pub daemon: bool,
    pub remount: bool,
    pub command: Vec<String>,
}

/// `MOUNT|PID|...` into clone flags (LXC's names, and the short ones of unshare(1)).
pub fn parse_namespaces(list: &str) -> std::result::Result<CloneFlags, String> {
    let mut f = CloneFlags::empty();
    for part in list
        .split(['|', ','])
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        f |= match part.to_ascii_uppercase().as_str() {
            "MOUNT" | "MNT" => CloneFlags::CLONE_NEWNS,
            "PID" => CloneFlags::CLONE_NEWPID,
            "UTSNAME" | "UTS" => CloneFlags::CLONE_NEWUTS,
            "IPC" => CloneFlags::CLONE_NEWIPC,
            "USER" => CloneFlags::CLONE_NEWUSER,
            "NETWORK" | "NET" => CloneFlags::CLONE_NEWNET,
            "CGROUP" => CloneFlags::CLONE_NEWCGROUP,
            _ => {
                return Err(format!(
                    "unknown namespace \"{part}\"; use MOUNT, PID, UTSNAME, IPC, USER, NETWORK or CGROUP, separated by '|'"
                ))
            }
        };
    }
    if f.is_empty() {
        return Err("no namespace given; pass -s, e.g. -s 'MOUNT|PID|NETWORK'".into());
    }
    Ok(f)
}

/// The rules between the options, before anything is made.
pub fn check(o: &UnshareOptions) -> std::result::Result<CloneFlags, String> {
    let f = parse_namespaces(&o.namespaces.join("|"))?;
    if o.hostname.is_some() && !f.contains(CloneFlags::CLONE_NEWUTS) {
        return Err("-H sets the host name of a new UTS namespace: add UTSNAME to -s".into());
    }
    if !o.ifnames.is_empty() && !f.contains(CloneFlags::CLONE_NEWNET) {
        return Err("-i moves an interface into a new network namespace: add NETWORK to -s".into());
    }
    if o.remount && !f.contains(CloneFlags::CLONE_NEWNS) {
        return Err(
            "-M mounts /proc, /dev/shm and /dev/mqueue in a new mount namespace: add MOUNT to -s"
                .into(),
        );
    }
    if let (Some(u), true) = (o.user, f.contains(CloneFlags::CLONE_NEWUSER)) {
        if u != 0 {
            return Err(format!(
                "-u {u}: the new user namespace maps only id 0 (your own id); drop -u, or drop USER from -s to become {u} on the host"
            ));
        }
    }
    if let Some(h) = &o.hostname {
        if h.is_empty() || h.len() > 64 || h.contains(['/', ' ', '\0']) {
            return Err(format!(
                "invalid host name \"{h}\": 1 to 64 characters, no '/' or spaces"
            ));
        }
    }
    Ok(f)
}

/// Runs the command; returns its exit status (128+N when killed by signal N), or 0 at once
/// with `daemon`.
pub fn run(o: &UnshareOptions) -> Result<i32> {
    let flags = check(o).map_err(Error::other)?;
    let command = if o.command.is_empty() {
        vec!["/bin/sh".to_string()]
    } else {
        o.command.clone()
    };
    let argv: Vec<CString> = command
        .iter()
        .map(|a| CString::new(a.as_bytes()))
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| Error::other("the command contains a NUL byte".to_string()))?;
    // the interfaces must exist before anything is made
    let mut nl = None;
    if !o.ifnames.is_empty() {
        let mut n = hako_net::Netlink::new().map_err(|e| Error::other(e.to_string()))?;
        for i in &o.ifnames {
            if n.link_index(i)
                .map_err(|e| Error::other(e.to_string()))?
                .is_none()
            {
                return Err(Error::other(format!(
                    "no network interface \"{i}\" on the host; see \"ip link\" for the names"
                )));
            }
        }
        nl = Some(n);
    }
    let (go_r, go_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| Error::other(format!("pipe: {e}")))?;
    let (err_r, err_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| Error::other(format!("pipe: {e}")))?;
    let (euid, egid) = (Uid::effective().as_raw(), Gid::effective().as_raw());
    let mut stack = vec![0u8; 256 * 1024];
    let setup = Setup {
        hostname: o.hostname.clone(),
        remount: o.remount,
        user: o.user,
        userns: flags.contains(CloneFlags::CLONE_NEWUSER),
        argv,
    };
    let child_fn = Box::new(|| -> isize {
        drop_fd(&go_w);
        drop_fd(&err_r);
        let mut b = [0u8; 1];
        // the parent's go-ahead: maps written, interfaces moved in
        match nix::unistd::read(go_r.as_raw_fd(), &mut b) {
            Ok(1) => {}
            _ => return 1,
        }
        let e = setup.apply_and_exec();
        let _ = nix::unistd::write(&err_w, e.as_bytes());
        127
    });
    // SAFETY: the child runs only the closure above (system calls and an exec) on its
    // own stack; this process is single-threaded.
    let pid = unsafe { nix::sched::clone(child_fn, &mut stack, flags, Some(libc::SIGCHLD)) }
        .map_err(|e| {
            Error::other(format!(
                "cannot make the namespaces {}: {e}; run it as root (or add USER to -s)",
                o.namespaces.join("|")
            ))
        })?;
    drop(go_r);
    drop(err_w);
    let fail = |what: String| -> Error {
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        let _ = waitpid(pid, None);
        Error::other(what)
    };
    if flags.contains(CloneFlags::CLONE_NEWUSER) {
        // the caller's ids are root inside
        let p = |f: &str| format!("/proc/{}/{f}", pid.as_raw());
        let r = std::fs::write(p("setgroups"), "deny")
            .and_then(|_| std::fs::write(p("uid_map"), format!("0 {euid} 1\n")))
            .and_then(|_| std::fs::write(p("gid_map"), format!("0 {egid} 1\n")));
        if let Err(e) = r {
            return Err(fail(format!(
                "cannot write the id maps of the new user namespace: {e}"
            )));
        }
    }
    if let Some(n) = nl.as_mut() {
        for i in &o.ifnames {
            if let Err(e) = n.move_to_netns_pid(i, pid.as_raw()) {
                return Err(fail(format!(
                    "cannot move \"{i}\" into the new network namespace: {e}"
                )));
            }
        }
    }
    let _ = nix::unistd::write(&go_w, b"g");
    drop(go_w);
    // the exec closes err_r's other end; a message means the set-up or the exec failed
    let mut msg = Vec::new();
    let _ = std::io::Read::read_to_end(&mut std::fs::File::from(err_r), &mut msg);
    if !msg.is_empty() {
        let _ = waitpid(pid, None);
        return Err(Error::other(String::from_utf8_lossy(&msg).into_owned()));
    }
    if o.daemon {
        println!("{}", pid.as_raw());
        return Ok(0);
    }
    wait_status(pid)
}

fn wait_status(pid: Pid) -> Result<i32> {
    loop {
        match waitpid(pid, None) {
            Ok(WaitStatus::Exited(_, c)) => return Ok(c),
            Ok(WaitStatus::Signaled(_, s, _)) => return Ok(128 + s as i32),
            Ok(_) => continue,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(Error::other(format!("waiting for the command: {e}"))),
        }
    }
}

fn drop_fd(fd: &OwnedFd) {
    // SAFETY: closing the child's copy of a descriptor only the parent uses; the
    // OwnedFd in the shared closure is never used by the child again.
    unsafe { libc::close(fd.as_raw_fd()) };
}

/// What the cloned child does before its exec.
struct Setup {
    hostname: Option<String>,
    remount: bool,
    user: Option<u32>,
    userns: bool,
    argv: Vec<CString>,
}

impl Setup {
    /// Only returns on failure, with the message.
    fn apply_and_exec(&self) -> String {
        use nix::mount::{mount, MsFlags};
        if self.userns {
            if let Err(e) =
                nix::unistd::setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0))
                    .and_then(|_| {
                        nix::unistd::setresgid(Gid::from_raw(0), Gid::from_raw(0), Gid::from_raw(0))
                    })
            {
                return format!("cannot become root in the new user namespace: {e}");
            }
        }
        if let Some(h) = &self.hostname {
            if let Err(e) = nix::unistd::sethostname(h) {
                return format!("cannot set the host name \"{h}\": {e}");
            }
        }
        if self.remount {
            // the new mounts must not show on the host
            if let Err(e) = mount(
                None::<&str>,
                "/",
                None::<&str>,
                MsFlags::MS_REC | MsFlags::MS_PRIVATE,
                None::<&str>,
            ) {
                return format!("cannot make the mounts private: {e}");
            }
            for (src, target, fstype) in [
                ("proc", "/proc", "proc"),
                ("shm", "/dev/shm", "tmpfs"),
                ("mqueue", "/dev/mqueue", "mqueue"),
            ] {
                if !std::path::Path::new(target).is_dir() {
                    continue;
                }
                if let Err(e) = mount(
                    Some(src),
                    target,
                    Some(fstype),
                    MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
                    None::<&str>,
                ) {
                    return format!("cannot mount {fstype} on {target}: {e}");
                }
            }
        }
        if let Some(u) = self.user {
            if let Err(e) = nix::unistd::setgroups(&[])
                .or(Ok::<(), nix::errno::Errno>(()))
                .and_then(|_| {
                    nix::unistd::setresgid(Gid::from_raw(u), Gid::from_raw(u), Gid::from_raw(u))
                })
                .and_then(|_| {
                    nix::unistd::setresuid(Uid::from_raw(u), Uid::from_raw(u), Uid::from_raw(u))
                })
            {
                return format!("cannot become user id {u}: {e}");
            }
        }
        let e = nix::unistd::execvp(&self.argv[0], &self.argv).unwrap_err();
        format!(
            "cannot run \"{}\": {e}; check that it exists in PATH and is executable",
            self.argv[0].to_string_lossy()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_and_rules() {
        let f = parse_namespaces("MOUNT|PID|net").unwrap();
        assert!(f.contains(
            CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWNET
        ));
        assert!(parse_namespaces("MOUNT|BOGUS")
            .unwrap_err()
            .contains("unknown namespace \"BOGUS\""));
        assert!(parse_namespaces("").unwrap_err().contains("pass -s"));
        let o = UnshareOptions {
            namespaces: vec!["PID".into()],
            hostname: Some("x".into()),
            ..Default::default()
        };
        assert!(check(&o).unwrap_err().contains("add UTSNAME"));
        let o = UnshareOptions {
            namespaces: vec!["PID".into()],
            ifnames: vec!["eth0".into()],
            ..Default::default()
        };
        assert!(check(&o).unwrap_err().contains("add NETWORK"));
        let o = UnshareOptions {
            namespaces: vec!["PID".into()],
            remount: true,
            ..Default::default()
        };
        assert!(check(&o).unwrap_err().contains("add MOUNT"));
    }
}
