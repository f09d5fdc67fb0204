//! Why a front end's input does not make a spec: typed, each naming the container, the
//! place (file:line), the key, the cause and the fix.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Where a setting was written. `Display` is `file:line`, or just `file` when the line is
/// 0 (the command line, a file as a whole, a front end without lines).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Origin {
    pub file: PathBuf,
    pub line: usize,
}

impl Origin {
    /// A file as a whole (no line).
    pub fn file(path: &Path) -> Origin {
        Origin {
            file: path.to_path_buf(),
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

impl From<&hako_config::Origin> for Origin {
    fn from(o: &hako_config::Origin) -> Origin {
        Origin {
            file: o.file.clone(),
            line: o.line,
        }
    }
}

/// A spec could not be made: what went wrong ([`ErrorKind`], boxed: errors are rare and
/// results stay small). `Display` is one line: the place, the container, the key, the
/// cause and the fix.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SpecError(Box<ErrorKind>);

/// Why a spec could not be made. Every variant carries the container's name, the place
/// the offending setting was written (`origin`) and its key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ErrorKind {
    /// A value that does not parse, or is out of range; `reason` says how to write it.
    #[error("{origin}: container \"{name}\": bad value \"{value}\" for \"{key}\": {reason}")]
    BadValue {
        name: String,
        origin: Origin,
        key: String,
        value: String,
        reason: String,
    },
    /// A file the config names (`lxc.mount.fstab`) cannot be read; `reason` is the cause.
    #[error("{origin}: container \"{name}\": cannot read {key} file {}: {reason}; fix the path or remove the line", path.display())]
    Unreadable {
        name: String,
        origin: Origin,
        key: String,
        path: PathBuf,
        reason: String,
    },
    /// A setting hako will not honour: it would reach the host, or hako cannot do what it
    /// asks (fail closed). `reason` names the key, why, and the fix.
    #[error("{origin}: container \"{name}\": {reason}")]
    Refused {
        name: String,
        origin: Origin,
        key: String,
        reason: String,
    },
    /// The seccomp profile (`lxc.seccomp.*`) cannot be used: refused, unreadable, or it
    /// does not parse or compile (`reason` then quotes the profile's own file:line).
    #[error("container \"{name}\": {key} ({origin}): {reason}")]
    Seccomp {
        name: String,
        origin: Origin,
        key: String,
        reason: String,
    },
    /// OCI's config.json: the value at JSON `path` (`linux.namespaces[2].type`; empty for
    /// the file as a whole) cannot be used; `reason` says why and how to fix it.
    #[error("{}: container \"{}\": {}{}", .origin, .name, json_at(.path), .reason)]
    Json {
        name: String,
        origin: Origin,
        path: String,
        reason: String,
    },
}

fn json_at(path: &str) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!("{path}: ")
    }
}

impl From<ErrorKind> for SpecError {
    fn from(k: ErrorKind) -> SpecError {
        SpecError(Box::new(k))
    }
}

impl SpecError {
    pub fn kind(&self) -> &ErrorKind {
        &self.0
    }

    /// Where the offending setting was written.
    pub fn origin(&self) -> &Origin {
        match self.kind() {
            ErrorKind::BadValue { origin, .. }
            | ErrorKind::Unreadable { origin, .. }
            | ErrorKind::Refused { origin, .. }
            | ErrorKind::Seccomp { origin, .. }
            | ErrorKind::Json { origin, .. } => origin,
        }
    }

    /// The key of the offending setting.
    pub fn key(&self) -> &str {
        match self.kind() {
            ErrorKind::BadValue { key, .. }
            | ErrorKind::Unreadable { key, .. }
            | ErrorKind::Refused { key, .. }
            | ErrorKind::Seccomp { key, .. } => key,
            ErrorKind::Json { path, .. } => path,
        }
    }
}

pub type Result<T> = std::result::Result<T, SpecError>;
