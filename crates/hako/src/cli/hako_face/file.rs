//! `hako file push|pull`: the clap definitions, `NAME:/path` and `--mode`, the actions.

use std::path::PathBuf;

use clap::Subcommand;

use super::{parse_id, usage};
use crate::cli::action::*;

#[derive(Subcommand, Debug)]
#[command(defer = true)]
pub(super) enum FileCmd {
    /// Copy LOCAL into the container: hako file push LOCAL NAME:/path (an existing
    /// directory, or a path ending in '/', receives LOCAL under its own name).
    Push {
        /// Copy a directory with its contents.
        #[arg(short = 'r', long = "recursive")]
        recursive: bool,
        /// Owner of the new files inside the container (default 0).
        #[arg(long = "uid", value_name = "UID")]
        uid: Option<String>,
        /// Group of the new files inside the container (default 0).
        #[arg(long = "gid", value_name = "GID")]
        gid: Option<String>,
        /// Mode of the new files, octal (default: the local file's mode).
        #[arg(long = "mode", value_name = "OCTAL")]
        mode: Option<String>,
        /// The local file or directory.
        #[arg(value_name = "LOCAL")]
        local: PathBuf,
        /// The container and the absolute path inside it.
        #[arg(value_name = "NAME:/PATH")]
        remote: String,
    },
    /// Copy a file out of the container: hako file pull NAME:/path LOCAL (an existing
    /// local directory receives it under its own name). Pulled files belong to you and lose
    /// setuid, setgid and sticky bits and write permission for others; FIFOs, devices and
    /// sockets are not copied.
    Pull {
        /// Copy a directory with its contents.
        #[arg(short = 'r', long = "recursive")]
        recursive: bool,
        /// Keep every mode bit: setuid, setgid, sticky and write permission for others.
        #[arg(long = "keep-mode")]
        keep_mode: bool,
        /// The container and the absolute path inside it.
        #[arg(value_name = "NAME:/PATH")]
        remote: String,
        /// The local file or directory.
        #[arg(value_name = "LOCAL")]
        local: PathBuf,
    },
}

/// `NAME:/path` of `file push/pull`.
pub fn parse_remote(s: &str) -> Result<(String, String), String> {
    match crate::files::split_remote(s) {
        Some((n, p)) => Ok((n.to_string(), p.to_string())),
        None => Err(format!(
            "invalid container path \"{s}\"; write NAME:/absolute/path, e.g. web:/etc/hosts"
        )),
    }
}

/// `--mode 0640`: octal permission bits.
pub fn parse_mode(s: &str) -> Result<u32, String> {
    let t = s.trim();
    let digits = t.strip_prefix("0o").unwrap_or(t);
    match u32::from_str_radix(digits, 8) {
        Ok(m) if !digits.is_empty() && m <= 0o7777 => Ok(m),
        _ => Err(format!(
            "invalid mode \"{s}\"; give octal permission bits such as 0644 or 0755"
        )),
    }
}

pub(super) fn build_file(cmd: FileCmd) -> Result<Action, EarlyExit> {
    Ok(match cmd {
        FileCmd::Push {
            recursive,
            uid,
            gid,
            mode,
            local,
            remote,
        } => {
            let (name, remote) = parse_remote(&remote).map_err(usage)?;
            Action::FilePush {
                name,
                local,
                remote,
                opts: crate::files::PushOptions {
                    recursive,
                    uid: parse_id(uid, "uid")?,
                    gid: parse_id(gid, "gid")?,
                    mode: mode.as_deref().map(parse_mode).transpose().map_err(usage)?,
                },
            }
        }
        FileCmd::Pull {
            recursive,
            keep_mode,
            remote,
            local,
        } => {
            let (name, remote) = parse_remote(&remote).map_err(usage)?;
            Action::FilePull {
                name,
                remote,
                local,
                opts: crate::files::PullOptions {
                    recursive,
                    keep_mode,
                },
            }
        }
    })
}
