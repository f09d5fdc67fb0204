//! State changes of the containers of one lxcpath, as they happen, for `hako monitor` and
//! `lxc-monitor`, with no daemon and no polling. A listener binds a datagram socket in
//! the lxcpath's events directory (`<rundir>/events/<lxcpath hash>/`); each container's
//! monitor sends every state change (and init's exit status) to each socket there. A
//! socket whose listener is gone refuses the datagram and is removed by the sender. With
//! no listener, a state change costs its monitor one failed open of the directory.

use std::ffi::OsStr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::sys::socket::{
    bind, recv, sendto, socket, AddressFamily, MsgFlags, SockFlag, SockType, UnixAddr,
};
use serde::{Deserialize, Serialize};

use crate::protocol::State;

/// The events directory of the lxcpath whose containers' runtime directories are in
/// `hash_dir` (`<rundir>/<hash>`): `<rundir>/events/<hash>`.
pub fn dir_for(hash_dir: &Path) -> Option<PathBuf> {
    let hash = hash_dir.file_name()?;
    Some(hash_dir.parent()?.join("events").join(hash))
}

/// One event: a container's new state, or its init's exit status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<State>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_status: Option<i32>,
}

impl Event {
    /// LXC's line for it (lxc-monitor's output).
    pub fn lxc_line(&self) -> String {
        match (self.state, self.exit_status) {
            (Some(s), _) => format!("'{}' changed state to [{}]", self.name, s.as_str()),
            (None, Some(c)) => format!("'{}' exited with status [{c}]", self.name),
            (None, None) => format!("'{}'", self.name),
        }
    }
}

/// The longest datagram an event takes (a name is at most 64 bytes).
const MAX_EVENT: usize = 512;

/// Send `ev` to every listener in `dir`. Never blocks, never fails the caller; a socket
/// nobody listens on any more is removed.
pub fn broadcast(dir: &Path, ev: &Event) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let Ok(data) = serde_json::to_vec(ev) else {
        return;
    };
    let Ok(fd) = socket(
        AddressFamily::Unix,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
        None,
    ) else {
        return;
    };
    for e in rd.flatten() {
        let path = e.path();
        if path.extension() != Some(OsStr::new("sock")) {
            continue;
        }
        let Ok(addr) = UnixAddr::new(&path) else {
            continue;
        };
        if let Err(nix::errno::Errno::ECONNREFUSED) =
            sendto(fd.as_raw_fd(), &data, &addr, MsgFlags::MSG_DONTWAIT)
        {
            let _ = std::fs::remove_file(&path);
        }
    }
}

/// A listener: its socket in an events directory, removed when dropped.
pub struct Listener {
    fd: OwnedFd,
    path: PathBuf,
}

impl Listener {
    /// Bind a new listener socket in `dir` (made if missing, mode 0700: only root's, or
    /// only the rootless user's, processes may listen).
    pub fn bind(dir: &Path) -> std::io::Result<Listener> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        let fd = socket(
            AddressFamily::Unix,
            SockType::Datagram,
            SockFlag::SOCK_CLOEXEC,
            None,
        )?;
        static SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let path = dir.join(format!(
            "{}-{}.sock",
            std::process::id(),
            SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        // a socket file of a dead process that had this pid
        let _ = std::fs::remove_file(&path);
        let addr = UnixAddr::new(path.as_os_str().as_bytes())?;
        bind(fd.as_raw_fd(), &addr)?;
        Ok(Listener { fd, path })
    }

    /// The next event (blocks); None for a datagram that is not one.
    pub fn next(&self) -> std::io::Result<Option<Event>> {
        let mut buf = [0u8; MAX_EVENT];
        let n = loop {
            match recv(self.fd.as_raw_fd(), &mut buf, MsgFlags::empty()) {
                Err(nix::errno::Errno::EINTR) => continue,
                r => break r?,
            }
        };
        Ok(serde_json::from_slice(&buf[..n]).ok())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl std::os::fd::AsFd for Listener {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        // the directory goes with its last listener
        if let Some(d) = self.path.parent() {
            let _ = std::fs::remove_dir(d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_go_to_every_listener_and_dead_ones_are_removed() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("events/abc");
        let a = Listener::bind(&dir).unwrap();
        let b = Listener::bind(&dir).unwrap();
        // a listener that died without removing its socket; and a file that is not one
        let dead_path = dir.join("999-dead.sock");
        {
            let fd = socket(
                AddressFamily::Unix,
                SockType::Datagram,
                SockFlag::SOCK_CLOEXEC,
                None,
            )
            .unwrap();
            bind(fd.as_raw_fd(), &UnixAddr::new(&dead_path).unwrap()).unwrap();
        }
        std::fs::write(dir.join("not-a-socket.txt"), "x").unwrap();
        let ev = Event {
            name: "web".into(),
            state: Some(State::Running),
            exit_status: None,
        };
        broadcast(&dir, &ev);
        assert_eq!(a.next().unwrap(), Some(ev.clone()));
        assert_eq!(b.next().unwrap(), Some(ev.clone()));
        assert!(!dead_path.exists(), "the dead listener's socket stayed");
        assert_eq!(ev.lxc_line(), "'web' changed state to [RUNNING]");
        let exit = Event {
            name: "web".into(),
            state: None,
            exit_status: Some(3),
        };
        assert_eq!(exit.lxc_line(), "'web' exited with status [3]");
        drop(a);
        drop(b);
        std::fs::remove_file(dir.join("not-a-socket.txt")).unwrap();
        drop(d);
    }

    #[test]
    fn no_listener_costs_nothing_and_fails_nothing() {
        broadcast(
            Path::new("/nonexistent/events/x"),
            &Event {
                name: "web".into(),
                state: Some(State::Stopped),
                exit_status: None,
            },
        );
        assert_eq!(
            dir_for(Path::new("/run/hako/0123abcd")),
            Some(PathBuf::from("/run/hako/events/0123abcd"))
        );
    }
}
