//! Building the Debian image: the builder program and its command line, its progress, the
//! hints when it fails.

use std::collections::VecDeque;
use std::fs;
use std::io::Read;
use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use super::*;
use crate::progress::Progress;
use crate::StoreError;

/// Which program builds the image: `$HAKO_DEBIAN_BUILDER` if set (mmdebstrap, debootstrap,
/// or the absolute path of a program called as mmdebstrap is, e.g. a fake builder in
/// tests), else mmdebstrap when installed, else debootstrap.
pub fn builder() -> Result<String, StoreError> {
    let installed = |p: &str| {
        std::env::var_os("PATH")
            .map(|path| std::env::split_paths(&path).any(|d| d.join(p).is_file()))
            .unwrap_or(false)
            || Path::new("/usr/bin").join(p).is_file()
            || Path::new("/usr/sbin").join(p).is_file()
    };
    let forced = std::env::var("HAKO_DEBIAN_BUILDER")
        .ok()
        .filter(|s| !s.is_empty());
    let pick = match forced.as_deref() {
        Some("mmdebstrap") => "mmdebstrap",
        Some("debootstrap") => "debootstrap",
        Some(p) if p.starts_with('/') => {
            use std::os::unix::fs::PermissionsExt;
            let ok = fs::metadata(p).map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false);
            if !ok {
                return Err(StoreError::other(format!(
                    "HAKO_DEBIAN_BUILDER is \"{p}\", which is not an executable file; point it at one, or unset it"
                )));
            }
            return Ok(p.to_string());
        }
        Some(other) => {
            return Err(StoreError::other(format!(
                "HAKO_DEBIAN_BUILDER is \"{other}\"; set it to mmdebstrap, debootstrap or the absolute path of a builder, or unset it"
            )))
        }
        None if installed("mmdebstrap") => "mmdebstrap",
        None => "debootstrap",
    };
    if !installed(pick) {
        return Err(StoreError::other(format!(
            "template debian needs {pick} to build the image, and it is not installed; apt-get install mmdebstrap (or debootstrap)"
        )));
    }
    Ok(pick.to_string())
}

/// The builder's command line for `a`, building into `target`.
pub fn builder_command(builder: &str, a: &DebianArgs, target: &Path) -> Command {
    let mut include: Vec<&str> = BASE_PACKAGES.to_vec();
    include.extend(a.packages.iter().map(String::as_str));
    let mut c = Command::new(builder);
    match builder {
        b if b != "debootstrap" => {
            c.args([
                "--mode=root",
                "--format=directory",
                "--variant=minbase",
                "--components=main",
                "--verbose",
            ])
            .arg(format!("--arch={}", a.arch))
            .arg(format!("--include={}", include.join(",")))
            .arg("--aptopt=Acquire::Retries \"2\"")
            .arg(&a.release)
            .arg(target)
            .arg(&a.mirror);
        }
        _ => {
            c.args(["--variant=minbase", "--components=main"])
                .arg(format!("--arch={}", a.arch))
                .arg(format!("--include={}", include.join(",")))
                .arg(&a.release)
                .arg(target)
                .arg(&a.mirror);
        }
    }
    c
}

/// What a line of the builder's output says about its progress.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct BuildPhase {
    pub phase: String,
    pub fetched: u32,
    pub unpacked: u32,
    pub configured: u32,
}

impl BuildPhase {
    /// Takes one output line (mmdebstrap --verbose or debootstrap).
    pub fn line(&mut self, l: &str) {
        let l = l.trim();
        if l.starts_with("Get:")
            || l.starts_with("I: Retrieving ") && !l.contains("Release") && !l.contains("Packages")
        {
            self.fetched += 1;
            self.phase = "downloading packages".into();
        } else if l.starts_with("Unpacking ")
            || l.starts_with("I: Unpacking ") && !l.ends_with("packages...")
        {
            self.unpacked += 1;
            self.phase = "unpacking".into();
        } else if l.starts_with("Setting up ")
            || l.starts_with("I: Configuring ") && !l.ends_with("packages...")
        {
            self.configured += 1;
            self.phase = "configuring".into();
        } else if let Some(msg) = l.strip_prefix("I: ") {
            let m = msg.to_ascii_lowercase();
            let p = if m.starts_with("running apt-get update")
                || m.contains("release")
                || m.starts_with("retrieving packages")
                || m.starts_with("resolving")
            {
                Some("reading package lists")
            } else if m.starts_with("downloading") {
                Some("downloading packages")
            } else if m.starts_with("extracting") {
                Some("extracting")
            } else if m.starts_with("installing") {
                Some("installing packages")
            } else if m.starts_with("unpacking") {
                Some("unpacking")
            } else if m.starts_with("configuring") {
                Some("configuring")
            } else if m.starts_with("cleaning") {
                Some("cleaning up")
            } else {
                None
            };
            if let Some(p) = p {
                self.phase = p.into();
            }
        }
    }

    pub fn show(&self) -> String {
        let mut s = if self.phase.is_empty() {
            "starting".to_string()
        } else {
            self.phase.clone()
        };
        let mut counts = Vec::new();
        if self.fetched > 0 {
            counts.push(format!("{} downloaded", self.fetched));
        }
        if self.unpacked > 0 {
            counts.push(format!("{} unpacked", self.unpacked));
        }
        if self.configured > 0 {
            counts.push(format!("{} set up", self.configured));
        }
        if !counts.is_empty() {
            s.push_str(&format!(" ({})", counts.join(", ")));
        }
        s
    }
}

/// The remedy for a failed build, from the end of the builder's output.
pub(crate) fn build_failure_hint(tail: &str, a: &DebianArgs, cache: &Path) -> String {
    if tail.contains("No space left on device") || tail.contains("ENOSPC") {
        return format!(
            "the image cache filesystem is full; free space in {} or point HAKO_CACHE at a bigger filesystem",
            cache.display()
        );
    }
    for marker in [
        "Unable to locate package ",
        "has no installation candidate",
        "Couldn't find any package",
    ] {
        if let Some(i) = tail.find(marker) {
            let rest = &tail[i..];
            let pkg = rest
                .strip_prefix("Unable to locate package ")
                .and_then(|r| r.split_whitespace().next())
                .unwrap_or("a package");
            return format!(
                "{pkg} does not exist in Debian {} ({}); check the names given to --packages",
                a.release, a.arch
            );
        }
    }
    let net = [
        "Temporary failure resolving",
        "Could not connect",
        "Failed to fetch",
        "Connection refused",
        "Unable to connect",
        "Could not resolve",
        "couldn't download",
        "Failed getting release file",
    ];
    if net.iter().any(|m| tail.contains(m)) {
        return format!(
            "the mirror {} cannot be reached or has no {} release; check the network and the URL given to --mirror",
            a.mirror, a.release
        );
    }
    "check the template arguments (after --), the mirror and the network, then retry".to_string()
}

/// The lines of the builder's output worth quoting: its error lines, else its last lines.
pub(super) fn quote_tail(tail: &str) -> String {
    let errors: Vec<&str> = tail
        .lines()
        .map(str::trim)
        .filter(|l| {
            l.starts_with("E:") || l.starts_with("W: Failure") || l.contains("No space left")
        })
        .collect();
    let pick: Vec<&str> = if errors.is_empty() {
        let all: Vec<&str> = tail
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        all[all.len().saturating_sub(3)..].to_vec()
    } else {
        errors[errors.len().saturating_sub(3)..].to_vec()
    };
    pick.iter()
        .map(|l| {
            if l.chars().count() > 240 {
                l.chars().take(240).collect::<String>() + "…"
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

/// Builds the image for `a` into `rootfs` (an empty directory): runs the builder in a mount
/// namespace of its own (whatever it mounts goes with it), shows its progress on a
/// terminal, then prepares the tree as an image ([`prepare_image`]).
pub fn build_image(
    a: &DebianArgs,
    rootfs: &Path,
    cache_root: &Path,
    shown: &str,
    progress: bool,
) -> Result<(), StoreError> {
    let builder = builder()?;
    let builder = builder.as_str();
    let mut cmd = builder_command(builder, a, rootfs);
    let (rd, wr) = nix::unistd::pipe()
        .map_err(|e| StoreError::other(format!("cannot make a pipe: {e}; retry")))?;
    let wr2 = wr
        .try_clone()
        .map_err(|e| StoreError::other(format!("cannot dup a pipe: {e}; retry")))?;
    cmd.stdin(Stdio::null())
        .stdout(Stdio::from(wr))
        .stderr(Stdio::from(wr2));
    cmd.env("LC_ALL", "C.UTF-8")
        .env("DEBIAN_FRONTEND", "noninteractive");
    // the builder dies with us, with everything it started, and its mounts with its
    // namespace (crate::subproc)
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: die_with_parent is made for a pre_exec closure (async-signal-safe calls only).
    unsafe {
        cmd.pre_exec(move || crate::subproc::die_with_parent(parent, true));
    }
    let mut p = Progress::new(format!("building image {shown} with {builder}"), progress);
    p.set("starting");
    let mut child = cmd.spawn().map_err(|e| {
        StoreError::io(
            format!("run {builder} to build image {shown}"),
            builder,
            e,
            "apt-get install mmdebstrap",
        )
    })?;
    drop(cmd);
    let mut phase = BuildPhase::default();
    let mut tail: VecDeque<u8> = VecDeque::new();
    let mut pending = Vec::new();
    let mut file = fs::File::from(rd);
    let mut buf = [0u8; 8192];
    loop {
        let ready = {
            let mut fds = [nix::poll::PollFd::new(
                file.as_fd(),
                nix::poll::PollFlags::POLLIN,
            )];
            nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(1000u16)).unwrap_or(1)
        };
        if ready == 0 {
            p.tick();
            continue;
        }
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                tail.extend(&buf[..n]);
                let excess = tail.len().saturating_sub(32 * 1024);
                tail.drain(..excess);
                pending.extend_from_slice(&buf[..n]);
                while let Some(i) = pending.iter().position(|b| *b == b'\n' || *b == b'\r') {
                    let line: Vec<u8> = pending.drain(..=i).collect();
                    phase.line(&String::from_utf8_lossy(&line));
                }
                p.set(&phase.show());
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    let status = child
        .wait()
        .map_err(|e| StoreError::io("wait for the image builder", builder, e, "retry"))?;
    let tail = String::from_utf8_lossy(&tail.into_iter().collect::<Vec<u8>>()).into_owned();
    if !status.success() {
        p.finish("");
        return Err(StoreError::other(format!(
            "cannot build image {shown}: {builder} failed ({}): {}; {}",
            match status.code() {
                Some(c) => format!("exit code {c}"),
                None => "killed by a signal".to_string(),
            },
            quote_tail(&tail),
            build_failure_hint(&tail, a, cache_root)
        )));
    }
    p.set("preparing the image");
    prepare_image(rootfs)
        .map_err(|e| StoreError::other(format!("cannot prepare image {shown}: {e}")))?;
    p.finish("done");
    Ok(())
}
