//! `hako monitor` / `lxc-monitor` (state changes as they happen, through
//! hako_runtime::events) and `hako config upgrade FILE` / `lxc-update-config -c FILE`.

use std::io::Write;
use std::os::fd::AsFd;
use std::path::Path;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::SignalFd;

use super::Failure;
use crate::cli::action::MonitorRequest;
use crate::cli::sys::PosixRegex;
use crate::Context;

/// Listens until SIGINT, SIGTERM or SIGHUP (exit 0) or until stdout is closed.
pub(super) fn monitor(ctx: &Context, req: &MonitorRequest) -> Result<i32, Failure> {
    if req.quit {
        // LXC's -Q stops its lxc-monitord; hako's monitors talk to listeners directly
        return Ok(0);
    }
    let regex = match &req.regex {
        Some(r) => Some(PosixRegex::new(r).map_err(Failure::new)?),
        None => None,
    };
    let probe = ctx.store().runtime_dir("x");
    let dir = probe
        .parent()
        .and_then(hako_runtime::events::dir_for)
        .ok_or_else(|| Failure::new(format!("no events directory beside {}", probe.display())))?;
    let mut mask = SigSet::empty();
    for s in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        mask.add(s);
    }
    mask.thread_block()
        .map_err(|e| Failure::new(format!("cannot block signals: {e}")))?;
    let sfd =
        SignalFd::new(&mask).map_err(|e| Failure::new(format!("cannot make a signalfd: {e}")))?;
    let listener = hako_runtime::events::Listener::bind(&dir).map_err(|e| {
        Failure::new(format!(
            "cannot listen for container events in {}: {e}; run it as the user that runs the containers (root for /run/hako)",
            dir.display()
        ))
    })?;
    let wanted = |name: &str| -> bool {
        match &regex {
            Some(r) => r.is_match(name),
            None => req.names.is_empty() || req.names.iter().any(|n| n == name),
        }
    };
    let mut out = std::io::stdout().lock();
    loop {
        let mut fds = [
            PollFd::new(listener.as_fd(), PollFlags::POLLIN),
            PollFd::new(sfd.as_fd(), PollFlags::POLLIN),
        ];
        match poll(&mut fds, PollTimeout::NONE) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(Failure::new(format!("poll: {e}"))),
            Ok(_) => {}
        }
        if fds[1].any().unwrap_or(false) {
            return Ok(0);
        }
        let Ok(Some(ev)) = listener.next() else {
            continue;
        };
        if !wanted(&ev.name) {
            continue;
        }
        let line = if req.json {
            serde_json::to_string(&ev).unwrap_or_default()
        } else {
            ev.lxc_line()
        };
        if writeln!(out, "{line}").and_then(|_| out.flush()).is_err() {
            return Ok(0);
        }
    }
}

/// Rewrite a config file's legacy (pre-3.0) keys, keeping the old file as FILE.backup;
/// a file without any says so and is left alone.
pub(super) fn upgrade_file(path: &Path) -> Result<i32, Failure> {
    let mut doc = hako_config::Document::load(path).map_err(|e| Failure::new(e.to_string()))?;
    let n = hako_config::upgrade_document(&mut doc);
    if n == 0 {
        crate::cli::sys::print_out(&format!(
            "{}: no legacy keys, nothing to change\n",
            path.display()
        ));
        return Ok(0);
    }
    let backup = {
        let mut b = path.as_os_str().to_owned();
        b.push(".backup");
        std::path::PathBuf::from(b)
    };
    let fail = |what: &str, p: &Path, e: std::io::Error| {
        Failure::new(format!(
            "cannot {what} {}: {e}; check the directory's permissions and free space (nothing was changed)",
            p.display()
        ))
    };
    std::fs::copy(path, &backup).map_err(|e| fail("write the backup", &backup, e))?;
    let mode = std::fs::metadata(path)
        .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o7777)
        .unwrap_or(0o640);
    hako_store::replace_file(path, doc.render().as_bytes(), mode, true)
        .map_err(|e| fail("rewrite", path, e))?;
    crate::cli::sys::print_out(&format!(
        "{n} legacy line(s) rewritten in {} (the old file is {})\n",
        path.display(),
        backup.display()
    ));
    Ok(0)
}
