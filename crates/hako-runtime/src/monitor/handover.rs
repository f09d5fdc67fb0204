//! The hand-over: the monitor's state, written by one program image into a memfd and read
//! by the next ([`images`](super::images) says when and how). Fds are not copied: they are
//! inherited across exec and referred to by number.
//!
//! The encoding is compact and hand-written (LEB128 integers, length-prefixed bytes, one
//! field after the other), so that the resident monitor carries no serialisation code for
//! it. Every hand-over starts with the same prefix, whatever its layout: [`MAGIC`], the
//! [`LAYOUT`] string, the fd of the `hako` program that wrote it (so that a program of
//! another build can still hand it back to that one) and the container's name (for the
//! error that follows when even that fails). The rest is [`LAYOUT`]'s: change it, and the
//! number after the `/` goes up (the `layout_is_pinned` test fails until it does).

use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use hako_cgroups::{Cgroup, CgroupDir, DeviceRule, Mode};

use super::console::Console;
use super::control::{Client, ClientMode};
use super::images::{read_all_at, set_cloexec, Images};
use super::stop::Stopping;
use super::{signal_fd, LaunchMode, Monitor, Run, Settings};
use crate::net::NetState;
use crate::protocol::State;

#[cfg(test)]
mod tests;

/// Why a monitor image was entered with a hand-over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Reason {
    /// serve the running container
    Serve,
    /// init exited with this status asking for a reboot: start a new run
    Reboot(i32),
}

/// First bytes of every hand-over. Never changes: a hand-over of another layout must still
/// be recognised as one, and its prefix read.
const MAGIC: &[u8; 8] = b"hakomon\x01";

/// This build's version and hand-over layout. Layouts: 4 DNS owners; 5 hooks; 6 the inner
/// cgroup; 7 the container's name in the prefix, the state's parts grouped; 8 the launch
/// options (handed over as a memfd of JSON) carry hako-spec's ContainerSpec, with typed
/// network values and mounts.
const LAYOUT: &str = concat!(env!("CARGO_PKG_VERSION"), "/8");

/// From layout 7 on, the prefix ends with the container's name.
const NAME_IN_PREFIX: u32 = 7;

/// Why a hand-over could not be taken over.
#[derive(Debug)]
pub(super) enum ResumeError {
    Read {
        fd: RawFd,
        err: std::io::Error,
    },
    NotMonitor,
    /// written by another build (`theirs`: its [`LAYOUT`] string)
    Version {
        theirs: String,
        name: Option<String>,
    },
    Damaged,
}

/// A [`LAYOUT`] string's parts: (hako version, layout number).
fn split_layout(l: &str) -> (&str, Option<u32>) {
    match l.rsplit_once('/') {
        Some((v, n)) => (v, n.parse().ok()),
        None => (l, None),
    }
}

impl std::fmt::Display for ResumeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const SAME_BUILD: &str = "install hako and hako-monitor from the same build";
        match self {
            ResumeError::Read { fd, err } => {
                write!(
                    f,
                    "cannot read the hand-over (fd {fd}): {err}; {SAME_BUILD}"
                )
            }
            ResumeError::NotMonitor => write!(f, "the hand-over is not a monitor's; {SAME_BUILD}"),
            ResumeError::Version { theirs, name } => {
                let (tv, tl) = split_layout(theirs);
                let (ov, ol) = split_layout(LAYOUT);
                let layout = |l: Option<u32>| l.map(|n| n.to_string()).unwrap_or("?".into());
                let container = match name {
                    Some(n) => format!("container \"{n}\": "),
                    None => String::new(),
                };
                write!(
                    f,
                    "{container}the hand-over was written by hako {tv} (hand-over layout {}), and this is hako {ov} (hand-over layout {}); {SAME_BUILD}, then stop the container and start it again with the new hako",
                    layout(tl),
                    layout(ol)
                )
            }
            ResumeError::Damaged => write!(f, "the hand-over is damaged; {SAME_BUILD}"),
        }
    }
}

impl Monitor {
    /// The state of this monitor, for [`Monitor::decode`] in the next image. Fds are
    /// referred to by number: they are inherited across exec.
    pub(super) fn encode(&self, reason: Reason) -> Vec<u8> {
        let mut e = Enc::default();
        self.encode_into(&mut e, reason);
        e.b
    }

    fn encode_into(&self, e: &mut Enc, reason: Reason) {
        e.b.extend_from_slice(MAGIC);
        e.str(LAYOUT);
        // first, so a program of another build can still find its way back
        e.opt_fd(self.images.exe.as_ref());
        e.str(&self.name);
        match reason {
            Reason::Serve => e.u(0),
            Reason::Reboot(code) => {
                e.u(1);
                e.i(code as i64);
            }
        }
        self.cfg.encode(e);
        e.u(self.net_links.len() as u64);
        for (n, h) in &self.net_links {
            e.str(n);
            e.opt(h.as_deref(), |e, h| e.str(h));
        }
        e.bool(self.net_helper);
        e.u(self.net_dns.len() as u64);
        for d in &self.net_dns {
            e.path(&d.run_dir);
            e.str(&d.network);
            e.str(&d.hostname);
            e.str(&d.owner);
        }
        e.fd(self.listener.as_raw_fd());
        e.str(self.state.as_str());
        e.bool(self.stop.reboot_pending);
        e.opt_fd(self.console.log.as_ref());
        e.opt_fd(self.console.out.as_ref());
        e.opt(self.exit_code, |e, c| e.i(c as i64));
        e.opt(self.exec_error.as_deref(), |e, s| e.str(s));
        e.opt_fd(self.images.launch_blob.as_ref());
        e.opt(self.run.as_ref(), |e, r| r.encode(e));
        e.u(self.clients.len() as u64);
        for c in &self.clients {
            c.encode(e);
        }
        e.opt(self.hooks.as_ref(), |e, h| {
            let (text, fds) = h.encode();
            e.str(&text);
            for f in fds {
                e.fd(f);
            }
        });
    }

    /// Take over the state in memfd `fd` (see [`Monitor::encode`]), and close it. On
    /// failure, says why and returns the `hako` program's fd if it could be read; `fd`
    /// then stays open, for the caller to pass on to that program.
    pub(super) fn resume(fd: RawFd) -> Result<(Monitor, Reason), (ResumeError, Option<OwnedFd>)> {
        let blob = match read_all_at(fd) {
            Ok(b) => b,
            Err(err) => return Err((ResumeError::Read { fd, err }, None)),
        };
        let mut d = Dec { b: &blob };
        if d.take(MAGIC.len()) != Some(&MAGIC[..]) {
            return Err((ResumeError::NotMonitor, None));
        }
        let Some(layout) = d.str() else {
            return Err((ResumeError::Damaged, None));
        };
        let mut exe = d.opt_fd().flatten();
        if layout != LAYOUT {
            // fd stays open: the caller passes it on to the program that wrote it
            let name = match split_layout(&layout).1 {
                Some(n) if n >= NAME_IN_PREFIX => d.str(),
                _ => None,
            };
            let e = ResumeError::Version {
                theirs: layout,
                name,
            };
            return Err((e, exe));
        }
        match Monitor::decode(&mut d, &mut exe) {
            Some(r) => {
                let _ = nix::unistd::close(fd);
                Ok(r)
            }
            None => Err((ResumeError::Damaged, exe)),
        }
    }

    /// The state after the prefix (the `hako` program's fd: `exe`, taken from there).
    fn decode(d: &mut Dec<'_>, exe: &mut Option<OwnedFd>) -> Option<(Monitor, Reason)> {
        let name = d.str()?;
        let reason = match d.u()? {
            0 => Reason::Serve,
            1 => Reason::Reboot(d.i()? as i32),
            _ => return None,
        };
        let cfg = Settings::decode(d)?;
        let mut net_links = Vec::new();
        for _ in 0..d.u()? {
            net_links.push((d.str()?, d.opt(|d| d.str())?));
        }
        let net_helper = d.bool()?;
        let mut net_dns = Vec::new();
        for _ in 0..d.u()? {
            net_dns.push(crate::net::DnsReg {
                run_dir: d.path()?,
                network: d.str()?,
                hostname: d.str()?,
                owner: d.str()?,
            });
        }
        let listener = UnixListener::from(d.fd()?);
        let state = State::parse(&d.str()?)?;
        let reboot_pending = d.bool()?;
        let console = Console {
            log: d.opt_fd()?.map(File::from),
            out: d.opt_fd()?.map(File::from),
            ..Console::default()
        };
        let exit_code = d.opt(|d| d.i().map(|c| c as i32))?;
        let exec_error = d.opt(|d| d.str())?;
        let launch_blob = d.opt_fd()?;
        let run = d.opt(Run::decode)?;
        let mut clients = Vec::new();
        for _ in 0..d.u()? {
            clients.push(Client::decode(d)?);
        }
        let hooks = d.opt(|d| {
            let text = d.str()?;
            let mut fds = Vec::new();
            for _ in 0..crate::hooks::RunHooks::fd_count(&text)? {
                fds.push(d.fd()?);
            }
            crate::hooks::RunHooks::decode(&text, fds)
        })?;
        let sigfd = signal_fd().ok()?;
        let m = Monitor {
            launcher: None,
            name,
            cfg,
            net_links,
            net_helper,
            net_dns,
            link_release: None,
            listener,
            sigfd,
            clients,
            state,
            run,
            stop: Stopping {
                reboot_pending,
                ..Stopping::default()
            },
            ready: None,
            console,
            exit_code,
            exec_error,
            held_ns: Vec::new(),
            images: Images {
                exe: exe.take(),
                launch_blob,
                handover_at: None,
            },
            hooks,
        };
        Some((m, reason))
    }
}

impl Settings {
    fn encode(&self, e: &mut Enc) {
        e.u(match self.mode {
            LaunchMode::Daemon => 0,
            LaunchMode::Foreground => 1,
            LaunchMode::Execute => 2,
        });
        e.path(&self.runtime_dir);
        e.opt(self.pidfile.as_deref(), |e, p| e.path(p));
        e.opt(self.ephemeral.as_deref(), |e, p| e.path(p));
        e.opt(self.halt_signal, |e, s| e.i(s as i64));
        e.i(self.reboot_signal as i64);
        e.bool(self.devices_on_v2);
    }

    fn decode(d: &mut Dec<'_>) -> Option<Settings> {
        Some(Settings {
            mode: match d.u()? {
                0 => LaunchMode::Daemon,
                1 => LaunchMode::Foreground,
                2 => LaunchMode::Execute,
                _ => return None,
            },
            runtime_dir: d.path()?,
            pidfile: d.opt(|d| d.path())?,
            ephemeral: d.opt(|d| d.path())?,
            halt_signal: d.opt(|d| d.i().map(|s| s as i32))?,
            reboot_signal: d.i()? as i32,
            devices_on_v2: d.bool()?,
        })
    }
}

impl Run {
    fn encode(&self, e: &mut Enc) {
        e.i(self.pid as i64);
        e.fd(self.pidfd.as_raw_fd());
        e.opt_fd(self.mnt_ns.as_ref());
        e.opt(self.net.as_ref(), |e, (st, ns)| {
            e.u(st.host_links.len() as u64);
            for l in &st.host_links {
                e.str(l);
            }
            e.u(st.phys.len() as u64);
            for (a, b) in &st.phys {
                e.str(a);
                e.str(b);
            }
            e.opt_fd(ns.as_ref());
        });
        encode_cgroup(e, &self.cgroup);
        e.opt_fd(self.console.as_ref());
        e.u(self.ttys.len() as u64);
        for t in &self.ttys {
            e.fd(t.as_raw_fd());
        }
        e.u(self.pty_peers.len() as u64);
        for t in &self.pty_peers {
            e.fd(t.as_raw_fd());
        }
        e.u(self.device_rules.len() as u64);
        for d in &self.device_rules {
            e.bool(d.allow);
            e.u(d.kind as u64);
            e.opt(d.major, |e, m| e.u(m as u64));
            e.opt(d.minor, |e, m| e.u(m as u64));
            e.str(&d.access);
        }
        e.opt_fd(self.device_prog.as_ref());
    }

    fn decode(d: &mut Dec<'_>) -> Option<Run> {
        let pid = d.i()? as i32;
        let pidfd = d.fd()?;
        let mnt_ns = d.opt_fd()?;
        let net = d.opt(|d| {
            let mut st = NetState::default();
            for _ in 0..d.u()? {
                st.host_links.push(d.str()?);
            }
            for _ in 0..d.u()? {
                st.phys.push((d.str()?, d.str()?));
            }
            Some((st, d.opt_fd()?))
        })?;
        let cgroup = decode_cgroup(d)?;
        let console = d.opt_fd()?;
        let mut ttys = Vec::new();
        for _ in 0..d.u()? {
            ttys.push(d.fd()?);
        }
        let mut pty_peers = Vec::new();
        for _ in 0..d.u()? {
            pty_peers.push(d.fd()?);
        }
        let mut device_rules = Vec::new();
        for _ in 0..d.u()? {
            device_rules.push(DeviceRule {
                allow: d.bool()?,
                kind: char::from_u32(d.u()? as u32)?,
                major: d.opt(|d| d.u().map(|m| m as u32))?,
                minor: d.opt(|d| d.u().map(|m| m as u32))?,
                access: d.str()?,
            });
        }
        let device_prog = d.opt_fd()?;
        Some(Run {
            mnt_ns,
            net,
            pid,
            pidfd,
            cgroup,
            console,
            ttys,
            pty_peers,
            device_rules,
            device_prog,
        })
    }
}

fn encode_cgroup(e: &mut Enc, cg: &Cgroup) {
    e.str(cg.name());
    e.u(match cg.mode() {
        Mode::Legacy => 0,
        Mode::Hybrid => 1,
        Mode::Unified => 2,
    });
    e.u(cg.dirs().len() as u64);
    for d in cg.dirs() {
        e.path(&d.path);
        e.u(d.version as u64);
        e.u(d.controllers.len() as u64);
        for c in &d.controllers {
            e.str(c);
        }
        e.u(d.ino);
    }
    e.u(cg.created_ancestors().len() as u64);
    for a in cg.created_ancestors() {
        e.path(a);
    }
    e.opt(cg.inner(), |e, i| e.str(i));
}

fn decode_cgroup(d: &mut Dec<'_>) -> Option<Cgroup> {
    let name = d.str()?;
    let mode = match d.u()? {
        0 => Mode::Legacy,
        1 => Mode::Hybrid,
        2 => Mode::Unified,
        _ => return None,
    };
    let mut dirs = Vec::new();
    for _ in 0..d.u()? {
        let path = d.path()?;
        let version = d.u()? as u8;
        let mut controllers = Vec::new();
        for _ in 0..d.u()? {
            controllers.push(d.str()?);
        }
        dirs.push(CgroupDir {
            path,
            version,
            controllers,
            ino: d.u()?,
        });
    }
    let mut ancestors = Vec::new();
    for _ in 0..d.u()? {
        ancestors.push(d.path()?);
    }
    let inner = d.opt(|d| d.str())?;
    let cg = Cgroup::from_parts(name, mode, dirs, ancestors);
    Some(match inner {
        Some(i) => cg.with_inner(&i),
        None => cg,
    })
}

impl Client {
    fn encode(&self, e: &mut Enc) {
        e.fd(self.stream.as_raw_fd());
        match self.mode {
            ClientMode::Requests => e.u(0),
            ClientMode::Console(t) => {
                e.u(1);
                e.u(t as u64);
            }
            ClientMode::Events => e.u(2),
        }
        e.bool(self.waits_stop);
        e.bool(self.waits_reboot);
        e.bool(self.closing);
        e.bytes(&self.inbuf);
        let (a, b) = self.out.as_slices();
        e.u((a.len() + b.len()) as u64);
        e.b.extend_from_slice(a);
        e.b.extend_from_slice(b);
    }

    fn decode(d: &mut Dec<'_>) -> Option<Client> {
        let mut c = Client::new(UnixStream::from(d.fd()?));
        c.mode = match d.u()? {
            0 => ClientMode::Requests,
            1 => ClientMode::Console(d.u()? as u32),
            2 => ClientMode::Events,
            _ => return None,
        };
        c.waits_stop = d.bool()?;
        c.waits_reboot = d.bool()?;
        c.closing = d.bool()?;
        c.inbuf = d.bytes()?.to_vec();
        c.out = d.bytes()?.iter().copied().collect();
        Some(c)
    }
}

/// A compact binary encoding: LEB128 integers (zigzag for signed), length-prefixed bytes.
#[derive(Default)]
struct Enc {
    b: Vec<u8>,
    /// tests: write each fd as its place in this list (added when first seen), not as
    /// its number, so that the same state encodes the same in every run
    #[cfg(test)]
    fd_order: Option<Vec<RawFd>>,
}

impl Enc {
    fn u(&mut self, mut v: u64) {
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                self.b.push(byte);
                return;
            }
            self.b.push(byte | 0x80);
        }
    }
    fn i(&mut self, v: i64) {
        self.u(((v << 1) ^ (v >> 63)) as u64);
    }
    fn bool(&mut self, v: bool) {
        self.b.push(v as u8);
    }
    fn bytes(&mut self, v: &[u8]) {
        self.u(v.len() as u64);
        self.b.extend_from_slice(v);
    }
    fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }
    fn path(&mut self, p: &Path) {
        self.bytes(p.as_os_str().as_bytes());
    }
    fn fd(&mut self, fd: RawFd) {
        #[cfg(test)]
        if let Some(seen) = &mut self.fd_order {
            let n = seen.iter().position(|f| *f == fd).unwrap_or_else(|| {
                seen.push(fd);
                seen.len() - 1
            });
            return self.i(n as i64);
        }
        self.i(fd as i64);
    }
    fn opt<T>(&mut self, v: Option<T>, f: impl FnOnce(&mut Enc, T)) {
        match v {
            None => self.bool(false),
            Some(x) => {
                self.bool(true);
                f(self, x);
            }
        }
    }
    fn opt_fd<F: AsRawFd>(&mut self, v: Option<&F>) {
        self.opt(v, |e, f| e.fd(f.as_raw_fd()));
    }
}

/// Reads what [`Enc`] wrote; None when the input ends early or is not what it should be.
struct Dec<'a> {
    b: &'a [u8],
}

impl<'a> Dec<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.b.len() < n {
            return None;
        }
        let (a, rest) = self.b.split_at(n);
        self.b = rest;
        Some(a)
    }
    fn u(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self.take(1)?.first()?;
            v |= ((byte & 0x7f) as u64) << shift;
            if byte & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }
    fn i(&mut self) -> Option<i64> {
        let u = self.u()?;
        Some(((u >> 1) as i64) ^ -((u & 1) as i64))
    }
    fn bool(&mut self) -> Option<bool> {
        Some(*self.take(1)?.first()? != 0)
    }
    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.u()? as usize;
        self.take(n)
    }
    fn str(&mut self) -> Option<String> {
        String::from_utf8(self.bytes()?.to_vec()).ok()
    }
    fn path(&mut self) -> Option<PathBuf> {
        Some(PathBuf::from(std::ffi::OsStr::from_bytes(self.bytes()?)))
    }
    /// An inherited fd, made close-on-exec again and owned from now on.
    fn fd(&mut self) -> Option<OwnedFd> {
        let fd = self.i()? as RawFd;
        if fd < 0 || nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFD).is_err() {
            return None;
        }
        set_cloexec(fd, true);
        // SAFETY: the previous image handed this open fd to us and nothing else in this
        // process refers to it.
        Some(unsafe { OwnedFd::from_raw_fd(fd) })
    }
    fn opt<T>(&mut self, f: impl FnOnce(&mut Dec<'a>) -> Option<T>) -> Option<Option<T>> {
        if self.bool()? {
            f(self).map(Some)
        } else {
            Some(None)
        }
    }
    fn opt_fd(&mut self) -> Option<Option<OwnedFd>> {
        self.opt(|d| d.fd())
    }
}
