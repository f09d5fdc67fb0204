//! hako-config: LXC's container config language (lxc.container.conf(5)) as pure code.
//!
//! - [`Document`]: one file, lossless (comments, blank lines, order and spacing kept), for
//!   tools that rewrite configs ([`randomize_hwaddrs`], [`upgrade_document`]).
//! - [`load_file`]/[`load_str`] → [`Config`]: `lxc.include` expanded, legacy pre-3.0 keys
//!   translated (with a [`Warning`]), every key and value checked, each item carrying the
//!   file:line it was written at.
//! - [`values`]: the typed value parsers the runtime reuses; [`net`]: those of the network
//!   values (`lxc.net.N.*`), shared with hako-net.
//! - [`read`]: the bounded reader every input file of hako goes through (config files,
//!   includes, `-f` files, templates' outputs, JSON state files): regular files only, up
//!   to a size limit, never blocking on a FIFO or a device. It is the crate hako-read,
//!   re-exported here, so that crates without the config language (the runtime) share it.
//!
//! No syscalls beyond reading files (in [`read`]) and getrandom for MAC templates.

use std::fmt;
use std::path::PathBuf;

mod document;
mod keys;
mod load;
pub mod net;
pub use hako_read as read;
mod util;
pub mod values;

// for the `serde_as_text!` macro's expansion in other crates
#[doc(hidden)]
pub use serde as __serde;

pub use document::{randomize_hwaddrs, upgrade_document, Document};
pub use keys::{is_known_key, is_multi_valued, is_supported, known_keys};
pub use load::{load_file, load_str, Config};
pub use read::{read_bounded, read_bounded_nofollow, read_bounded_text, ReadError};

/// Where an item was written. `Display` is `file:line` (just `file` when line is 0, as for
/// the command line).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    pub file: PathBuf,
    pub line: usize,
}

impl Origin {
    /// The origin of `lxc-start -s KEY=VAL` / `hako start -s` overrides.
    pub fn command_line() -> Origin {
        Origin {
            file: PathBuf::from("<command line>"),
            line: 0,
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.file.display())
        } else {
            write!(f, "{}:{}", self.file.display(), self.line)
        }
    }
}

/// One `key = value` setting after includes and legacy translation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// the current (post-3.0) key name
    pub key: String,
    /// the value, trimmed and with surrounding quotes removed
    pub value: String,
    pub origin: Origin,
}

/// Something accepted but worth telling the user (legacy key, unsupported key, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub origin: Origin,
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.origin, self.message)
    }
}

fn io_reason(e: &std::io::Error) -> String {
    use std::io::ErrorKind::*;
    match e.kind() {
        NotFound => "no such file or directory".into(),
        PermissionDenied => "permission denied".into(),
        InvalidData => "the file is not valid UTF-8 text".into(),
        _ => e.to_string(),
    }
}

/// What to do about a config file that was not read.
fn read_remedy(e: &ReadError) -> &'static str {
    match e {
        ReadError::Io { .. } => "check the path and its permissions",
        ReadError::NotRegular { .. } => "give the path of a config file (a regular file)",
        ReadError::TooLarge { .. } => "check that it is the right file: a config file is a few KiB",
        ReadError::NotText { .. } => "save it as UTF-8 text",
    }
}

fn suggestion_text(s: &Option<String>) -> String {
    match s {
        Some(k) => format!("; did you mean \"{k}\"?"),
        None => "; check the spelling".into(),
    }
}

/// Everything that can go wrong reading a config. Each message is one line naming the
/// place (file:line), the cause and the fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file \"{}\": {}; {}", path.display(), source.reason(), read_remedy(source))]
    Io {
        path: PathBuf,
        #[source]
        source: ReadError,
    },
    #[error("{origin}: syntax error in \"{text}\": {reason}; write \"key = value\" or comment the line out with \"#\"")]
    Syntax {
        origin: Origin,
        text: String,
        reason: String,
    },
    #[error(
        "{origin}: unknown config key \"{key}\"{} (keys: man 5 lxc.container.conf)",
        suggestion_text(suggestion)
    )]
    UnknownKey {
        origin: Origin,
        key: String,
        suggestion: Option<String>,
    },
    #[error("{origin}: bad value \"{value}\" for \"{key}\": {reason}")]
    BadValue {
        origin: Origin,
        key: String,
        value: String,
        reason: String,
    },
    #[error("{origin}: include loop: \"{}\" is already being read (it includes itself, directly or through other files); remove the lxc.include that leads back to it", path.display())]
    IncludeLoop { origin: Origin, path: PathBuf },
    #[error("{origin}: cannot include \"{}\": {reason}", path.display())]
    Include {
        origin: Origin,
        path: PathBuf,
        reason: String,
    },
    #[error("{origin}: \"{key}\" {reason}")]
    Misplaced {
        origin: Origin,
        key: String,
        reason: String,
    },
}

impl ConfigError {
    /// The file:line the error is about, if it is about one.
    pub fn origin(&self) -> Option<&Origin> {
        match self {
            ConfigError::Io { .. } => None,
            ConfigError::Syntax { origin, .. }
            | ConfigError::UnknownKey { origin, .. }
            | ConfigError::BadValue { origin, .. }
            | ConfigError::IncludeLoop { origin, .. }
            | ConfigError::Include { origin, .. }
            | ConfigError::Misplaced { origin, .. } => Some(origin),
        }
    }
}

/// Fuzzing entry point: parse `text` every way hako can (document round trip, legacy
/// upgrade, full load with validation, typed accessors) without reading any file. Never
/// panics; returns what loading returned. `lxc.include` lines are checked but not followed.
pub fn parse_any(text: &str) -> Result<Config, ConfigError> {
    let origin = std::path::Path::new("<fuzz>");
    if let Ok(mut doc) = Document::parse(text, origin) {
        let _ = doc.render();
        let keys: Vec<String> = doc.entries().map(|(k, _)| k.to_string()).take(8).collect();
        let _ = upgrade_document(&mut doc);
        for k in &keys {
            let _ = doc.get(k);
            doc.set(k, "1");
            let _ = doc.unset(k);
        }
        let _ = Document::parse(&doc.render(), origin);
    }
    let cfg = load::load_no_includes(text, origin)?;
    let _ = cfg.mount_auto();
    let _ = cfg.mount_entries();
    let _ = cfg.cap_drop();
    let _ = cfg.cap_keep();
    let _ = cfg.prlimits();
    let _ = cfg.environment();
    let _ = cfg.cgroup_keys(false);
    let _ = cfg.cgroup_keys(true);
    for i in cfg.net_indices() {
        let _ = cfg.net(i, "type");
        let _ = cfg.net_list(i, "ipv4.address");
    }
    Ok(cfg)
}
