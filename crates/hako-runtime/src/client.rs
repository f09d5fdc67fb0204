//! Talking to a container's monitor over its control socket, and cleaning up after a
//! monitor that died.

use std::io::{BufRead, BufReader, IoSliceMut, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};

use crate::error::{Context, Result, RuntimeError};
use crate::monitor::{SOCKET, STATE_FILE};
use crate::protocol::{Request, Response, StateFile};
use crate::sys;

pub struct Client {
    reader: BufReader<UnixStream>,
}

/// Connect to the monitor. Ok(None): no monitor (the container is STOPPED).
pub fn connect(runtime_dir: &Path) -> Result<Option<Client>> {
    let addr = match sys::socket_address(runtime_dir, SOCKET) {
        Ok(a) => a,
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(None),
        Err(e) => {
            return Err(crate::error::io_err(
                format!(
                    "cannot open the runtime directory {}",
                    runtime_dir.display()
                ),
                e,
            ))
        }
    };
    match UnixStream::connect(&addr.1) {
        Ok(s) => Ok(Some(Client {
            reader: BufReader::new(s),
        })),
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::ENOENT) | Some(libc::ECONNREFUSED) | Some(libc::ENOTDIR)
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(crate::error::io_err(
            format!(
                "cannot connect to the monitor at {}",
                runtime_dir.join(SOCKET).display()
            ),
            e,
        )),
    }
}

impl Client {
    /// A monitor that exits meanwhile is not an error here: a monitor finishing a stop can
    /// still accept a connection, then exit without reading it (EPIPE). The next [`recv`]
    /// reports that as it reports any monitor that went away (Ok(None): stopped).
    ///
    /// [`recv`]: Client::recv
    pub fn send(&mut self, req: &Request) -> Result<()> {
        match self.reader.get_mut().write_all(&req.encode()) {
            Err(e) if matches!(e.raw_os_error(), Some(libc::EPIPE) | Some(libc::ECONNRESET)) => {
                Ok(())
            }
            r => r.ctx(|| "cannot talk to the monitor".into()),
        }
    }

    /// Next response line; Ok(None) on EOF (the monitor exited: container stopped).
    pub fn recv(&mut self) -> Result<Option<Response>> {
        let mut line = Vec::new();
        match self.reader.read_until(b'\n', &mut line) {
            Ok(0) => Ok(None),
            Ok(_) => Response::decode(&line)
                .map(Some)
                .ok_or_else(|| bad_answer(&line)),
            Err(e) if e.raw_os_error() == Some(libc::ECONNRESET) => Ok(None),
            Err(e) => Err(crate::error::io_err("cannot read from the monitor", e)),
        }
    }

    pub fn request(&mut self, req: &Request) -> Result<Response> {
        self.send(req)?;
        self.recv()?.ok_or_else(|| {
            RuntimeError::msg(
                "the monitor closed the connection (the container stopped)".to_string(),
            )
        })
    }

    /// Ask for the init's pidfd (SCM_RIGHTS).
    pub fn pidfd(&mut self) -> Result<(Response, Option<OwnedFd>)> {
        self.send(&Request::Pidfd)?;
        let fd = self.reader.get_ref().as_raw_fd();
        let mut buf = vec![0u8; 65536];
        let mut cmsg = nix::cmsg_space!([RawFd; 1]);
        let mut iov = [IoSliceMut::new(&mut buf)];
        let msg = nix::sys::socket::recvmsg::<()>(
            fd,
            &mut iov,
            Some(&mut cmsg),
            nix::sys::socket::MsgFlags::MSG_CMSG_CLOEXEC,
        )
        .ctx(|| "cannot read from the monitor".into())?;
        let mut pidfd = None;
        for c in msg.cmsgs().ctx(|| "cmsg".into())? {
            if let nix::sys::socket::ControlMessageOwned::ScmRights(v) = c {
                // SAFETY: fds just received from the kernel.
                pidfd = v.first().map(|fd| unsafe { OwnedFd::from_raw_fd(*fd) });
            }
        }
        let n = msg.bytes;
        if n == 0 {
            return Err(RuntimeError::msg(
                "the monitor closed the connection (the container stopped)".to_string(),
            ));
        }
        let line = &buf[..n];
        let resp = Response::decode(line).ok_or_else(|| bad_answer(line))?;
        Ok((resp, pidfd))
    }

    /// Is a response available within `timeout`?
    pub fn readable_within(&self, timeout: Duration) -> Result<bool> {
        if !self.reader.buffer().is_empty() {
            return Ok(true);
        }
        let mut p = [libc::pollfd {
            fd: self.reader.get_ref().as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: valid pollfd array.
        let n = unsafe { libc::poll(p.as_mut_ptr(), 1, ms) };
        Ok(n > 0)
    }

    pub fn into_stream(self) -> UnixStream {
        self.reader.into_inner()
    }

    pub fn buffered(&self) -> &[u8] {
        self.reader.buffer()
    }
}

fn bad_answer(line: &[u8]) -> RuntimeError {
    RuntimeError::msg(format!(
        "bad answer from the monitor: {:?}; hako and the running monitor are from different builds, restart the container",
        String::from_utf8_lossy(line).trim_end()
    ))
}

/// Read the state file a monitor left. Only a regular file (not a symlink: the monitor
/// writes it itself) of at most [`hako_read::STATE_LIMIT`] is read, so a FIFO or a
/// device put there cannot hang or exhaust the caller; anything unreadable or not valid
/// JSON is no state, with a warning (the stale-state cleanup then removes it).
pub fn read_state_file(runtime_dir: &Path) -> Option<StateFile> {
    let p = runtime_dir.join(STATE_FILE);
    let s = match hako_read::read_bounded_nofollow(&p, hako_read::STATE_LIMIT) {
        Ok(s) => s,
        Err(e) if e.is_not_found() => return None,
        Err(e) => {
            tracing::warn!("ignoring the monitor's state file: {e}");
            return None;
        }
    };
    serde_json::from_slice(&s)
        .inspect_err(|e| {
            tracing::warn!(
                "ignoring the monitor's state file \"{}\": it is not valid: {e}",
                p.display()
            )
        })
        .ok()
}

/// Is there state from a monitor that is gone? (call with the container lock held)
pub fn has_stale_state(runtime_dir: &Path) -> bool {
    if !runtime_dir.exists() {
        return false;
    }
    !matches!(connect(runtime_dir), Ok(Some(_)))
}

/// Clean up after a monitor that was killed: kill whatever still runs in the container's
/// cgroup, remove the cgroup and the runtime files. Idempotent. Returns what it did.
pub fn cleanup_stale(runtime_dir: &Path) -> Result<Vec<String>> {
    let mut did = Vec::new();
    if !runtime_dir.exists() {
        return Ok(did);
    }
    if let Some(sf) = read_state_file(runtime_dir) {
        // a monitor that still lives (but does not answer) is not ours to reap blindly
        let alive =
            || sf.monitor_pid > 0 && crate::sys::proc_alive(sf.monitor_pid, sf.monitor_start);
        // a monitor killed a moment ago may still be on its way out: give it half a second
        let deadline = Instant::now() + Duration::from_millis(500);
        while alive() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        if alive() {
            return Err(RuntimeError::msg(format!(
                "container \"{}\": its monitor (pid {}) is alive but does not answer on {}; kill it with \"kill {}\" and retry",
                sf.name,
                sf.monitor_pid,
                runtime_dir.join(SOCKET).display(),
                sf.monitor_pid
            )));
        }
        // only links that still are the ones the monitor made (same name, same index)
        if sf.host_link_ids.len() == sf.host_links.len() {
            for (l, id) in sf.host_links.iter().zip(&sf.host_link_ids) {
                if *id != 0 && nix::net::if_::if_nametoindex(l.as_str()).ok() == Some(*id) {
                    crate::net::remove_host_links(std::slice::from_ref(l));
                }
            }
        } else {
            crate::net::remove_host_links(&sf.host_links);
        }
        if let Some(cg) = &sf.cgroup {
            // only the very directories this container's monitor made: a cgroup of the same
            // name made since (another run, another tool) is not ours to kill or remove
            if cg.is_ours() {
                let _ = cg.thaw();
                cg.kill_all()?;
                cg.remove()?;
                did.push(format!("removed the stale cgroup of \"{}\"", sf.name));
            } else if !cg.is_gone() {
                did.push(format!(
                    "left cgroup {} alone: it is not the one container \"{}\" made",
                    cg.name(),
                    sf.name
                ));
            }
        }
        // the AppArmor profile the dead monitor had loaded (nothing it confined is left)
        match crate::lsm::release(&sf.name, runtime_dir) {
            Ok(Some(what)) => did.push(what),
            Ok(None) => {}
            Err(e) => return Err(RuntimeError::msg(e)),
        }
    }
    for f in [SOCKET, STATE_FILE] {
        let _ = std::fs::remove_file(runtime_dir.join(f));
    }
    if let Ok(rd) = std::fs::read_dir(runtime_dir) {
        for e in rd.flatten() {
            let _ = std::fs::remove_file(e.path());
        }
    }
    let _ = std::fs::remove_dir(runtime_dir);
    if let Some(parent) = runtime_dir.parent() {
        let _ = std::fs::remove_dir(parent);
    }
    did.push("removed stale runtime files".to_string());
    Ok(did)
}

/// Block until the container's state is one of `states` (upper-case names) or the
/// timeout passes. Event driven: inotify for the socket to appear, the monitor's event
/// stream while it runs, EOF when it exits (STOPPED).
pub fn wait_states(runtime_dir: &Path, states: &[&str], timeout: Option<Duration>) -> Result<bool> {
    let parent: PathBuf = runtime_dir
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("/"));
    // the per-lxcpath directory is watched for the monitor's runtime dir to appear; one made
    // for the wait goes again after it (a monitor that arrived meanwhile keeps it: not empty)
    let made = !parent.exists() && std::fs::create_dir_all(&parent).is_ok();
    let r = wait_states_in(runtime_dir, &parent, states, timeout);
    if made {
        let _ = std::fs::remove_dir(&parent);
    }
    r
}

fn wait_states_in(
    runtime_dir: &Path,
    parent: &Path,
    states: &[&str],
    timeout: Option<Duration>,
) -> Result<bool> {
    let deadline = timeout.map(|t| Instant::now() + t);
    let remaining = |d: Option<Instant>| -> Option<Duration> {
        d.map(|d| d.saturating_duration_since(Instant::now()))
    };
    loop {
        // watch before looking, so an appearance between the two is not missed
        let ino = Inotify::init(InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK)
            .ctx(|| "inotify".into())?;
        let _ = ino.add_watch(
            parent,
            AddWatchFlags::IN_CREATE | AddWatchFlags::IN_MOVED_TO,
        );
        let _ = ino.add_watch(
            runtime_dir,
            AddWatchFlags::IN_CREATE | AddWatchFlags::IN_MOVED_TO,
        );
        match connect(runtime_dir)? {
            None => {
                if states.contains(&"STOPPED") {
                    return Ok(true);
                }
                // wait for a monitor to appear
                let ms = match remaining(deadline) {
                    Some(d) if d.is_zero() => return Ok(false),
                    Some(d) => d.as_millis().min(i32::MAX as u128) as i32,
                    None => -1,
                };
                let mut p = [libc::pollfd {
                    fd: ino.as_fd_raw(),
                    events: libc::POLLIN,
                    revents: 0,
                }];
                // SAFETY: valid pollfd array.
                let n = unsafe { libc::poll(p.as_mut_ptr(), 1, ms) };
                if n == 0 {
                    return Ok(false);
                }
                continue;
            }
            Some(mut c) => {
                c.send(&Request::Events)?;
                let fd = c.reader.get_ref().as_raw_fd();
                loop {
                    if c.buffered().is_empty() {
                        let ms = match remaining(deadline) {
                            Some(d) if d.is_zero() => return Ok(false),
                            Some(d) => d.as_millis().min(i32::MAX as u128) as i32,
                            None => -1,
                        };
                        let mut p = [libc::pollfd {
                            fd,
                            events: libc::POLLIN,
                            revents: 0,
                        }];
                        // SAFETY: valid pollfd array.
                        let n = unsafe { libc::poll(p.as_mut_ptr(), 1, ms) };
                        if n == 0 {
                            return Ok(false);
                        }
                    }
                    match c.recv()? {
                        Some(r) => {
                            if let Some(s) = &r.state {
                                if states.contains(&s.as_str()) {
                                    return Ok(true);
                                }
                            }
                        }
                        None => {
                            if states.contains(&"STOPPED") {
                                return Ok(true);
                            }
                            break; // monitor gone; wait for the next one
                        }
                    }
                }
            }
        }
    }
}

trait RawOf {
    fn as_fd_raw(&self) -> RawFd;
}
impl RawOf for Inotify {
    fn as_fd_raw(&self) -> RawFd {
        use std::os::fd::AsFd;
        self.as_fd().as_raw_fd()
    }
}
