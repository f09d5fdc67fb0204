//! The AppArmor labels init and attached commands get right before they exec.

use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

use super::{LsmHost, UNCONFINED};
use crate::error::{errno_text, Result, RuntimeError};

/// The value the kernel expects in a process's AppArmor `exec` attribute: the profile the
/// next exec transitions to (`aa_change_onexec`).
fn exec_command(label: &str) -> Vec<u8> {
    format!("exec {label}").into_bytes()
}

/// The attribute files, newest interface first: `attr/apparmor/exec` (Linux 5.8 and later,
/// AppArmor's own even when another module is stacked) and the shared `attr/exec`.
const EXEC_ATTRS: [&str; 2] = ["attr/apparmor/exec", "attr/exec"];

/// Opens `<proc>/thread-self/<attr>` for writing. `proc` is a directory fd of a procfs that
/// shows the calling thread.
fn open_exec_attr(proc: &impl AsFd) -> std::result::Result<OwnedFd, Errno> {
    let mut last = Errno::ENOENT;
    for attr in EXEC_ATTRS {
        let path = format!("thread-self/{attr}");
        match nix::fcntl::openat(
            Some(proc.as_fd().as_raw_fd()),
            path.as_str(),
            OFlag::O_WRONLY | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW,
            Mode::empty(),
        ) {
            // SAFETY: a fresh fd we own.
            Ok(fd) => return Ok(unsafe { OwnedFd::from_raw_fd(fd) }),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// The host's /proc, checked to be a procfs (a container could have replaced what a path
/// names, never this fd).
fn open_host_proc() -> std::result::Result<OwnedFd, Errno> {
    let fd = nix::fcntl::open(
        "/proc",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    // SAFETY: a fresh fd we own.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let st = nix::sys::statfs::fstatfs(&fd)?;
    if st.filesystem_type() != nix::sys::statfs::PROC_SUPER_MAGIC {
        return Err(Errno::ENOTDIR);
    }
    Ok(fd)
}

/// Init's exec label: its AppArmor `exec` attribute, opened at the start of the child's
/// set-up while /proc is still the host's (the container's /proc may not exist or be
/// mounted yet), written right before init execs.
pub struct ExecLabel {
    fd: OwnedFd,
    label: String,
}

impl ExecLabel {
    /// For `label` (None: nothing to do). In the cloned child, before its mounts.
    pub fn open(label: Option<&str>, container: &str) -> Result<Option<ExecLabel>> {
        let Some(label) = label else { return Ok(None) };
        let fd = open_host_proc()
            .and_then(|p| open_exec_attr(&p))
            .map_err(|e| {
                RuntimeError::msg(format!(
                    "container \"{container}\": cannot open the AppArmor exec attribute of its init (/proc/thread-self/attr/apparmor/exec) to apply profile {label}: {}",
                    errno_text(e)
                ))
            })?;
        Ok(Some(ExecLabel {
            fd,
            label: label.to_string(),
        }))
    }

    /// Writes `exec LABEL`: the next exec runs under the profile. Right before exec.
    pub fn apply(&self, container: &str) -> Result<()> {
        write_attr(&self.fd, &self.label).map_err(|e| {
            RuntimeError::msg(format!(
                "container \"{container}\": cannot give its init the AppArmor profile {} (lxc.apparmor.profile): {}",
                self.label,
                label_errno_text(e)
            ))
        })
    }
}

/// The fd a start hook must not lose when the container's first process closes the rest
/// (see crate::child).
impl AsRawFd for ExecLabel {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.fd.as_raw_fd()
    }
}

fn write_attr(fd: &OwnedFd, label: &str) -> std::result::Result<(), Errno> {
    let cmd = exec_command(label);
    let n = nix::unistd::write(fd, &cmd)?;
    if n != cmd.len() {
        return Err(Errno::EIO);
    }
    Ok(())
}

fn label_errno_text(e: Errno) -> String {
    match e {
        Errno::ENOENT => "no such profile is loaded".to_string(),
        Errno::EACCES | Errno::EPERM => format!(
            "{}: the process starting the container may not change to that profile",
            errno_text(e)
        ),
        _ => errno_text(e),
    }
}

/// The label of a running container's init, for a command attached to it: read from the
/// host's /proc before the attach enters the container, applied with [`AttachLabel::apply`]
/// by the process that then execs the command.
pub struct AttachLabel {
    proc: OwnedFd,
    pub label: String,
}

/// Init's current AppArmor label ("unconfined", or a profile name); None where the kernel
/// has no AppArmor.
pub fn current_label(pid: i32) -> std::result::Result<Option<String>, String> {
    if !LsmHost::detect().apparmor {
        return Ok(None);
    }
    let mut last = String::new();
    for attr in ["attr/apparmor/current", "attr/current"] {
        let p = format!("/proc/{pid}/{attr}");
        match std::fs::read(&p) {
            Ok(b) => return Ok(Some(parse_label(&b))),
            Err(e) => last = format!("{p}: {e}"),
        }
    }
    Err(last)
}

/// "hako-web-0123 (enforce)\n" → "hako-web-0123"; "unconfined\n" → "unconfined".
pub(super) fn parse_label(raw: &[u8]) -> String {
    let s = String::from_utf8_lossy(raw);
    let s = s.trim_end_matches(['\n', '\0']).trim();
    match s.rsplit_once(" (") {
        Some((l, mode)) if mode.ends_with(')') => l.to_string(),
        _ => s.to_string(),
    }
}

impl AttachLabel {
    /// The label the container `name` whose init is `pid` runs under; None when it runs
    /// unconfined or the kernel has no AppArmor. An init whose label cannot be read stops
    /// the attach: the command must not run with less confinement than init.
    pub fn for_init(name: &str, pid: i32) -> Result<Option<AttachLabel>> {
        let label = current_label(pid).map_err(|e| {
            RuntimeError::msg(format!(
                "container \"{name}\": cannot read the AppArmor label of its init ({e}); the command is not run"
            ))
        })?;
        let Some(label) = label.filter(|l| l != UNCONFINED) else {
            return Ok(None);
        };
        let proc = open_host_proc().map_err(|e| {
            RuntimeError::msg(format!(
                "container \"{name}\": cannot open the host's /proc to apply AppArmor profile {label}: {}",
                errno_text(e)
            ))
        })?;
        Ok(Some(AttachLabel { proc, label }))
    }

    /// In the process that execs the command (inside the container's namespaces, where
    /// the path /proc is the container's): through the host procfs opened before.
    pub fn apply(&self) -> std::result::Result<(), String> {
        let fd = open_exec_attr(&self.proc)
            .map_err(|e| format!("cannot open the AppArmor exec attribute: {}", errno_text(e)))?;
        write_attr(&fd, &self.label).map_err(|e| {
            format!(
                "cannot give the command the container's AppArmor profile {}: {}",
                self.label,
                label_errno_text(e)
            )
        })
    }
}

/// The exec attribute's command for `label`, for the tests.
#[cfg(test)]
pub(super) fn exec_command_str(label: &str) -> String {
    String::from_utf8(exec_command(label)).unwrap()
}
