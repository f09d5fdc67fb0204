//! The store's error type. Every message is one line naming the object, the operation, the
//! cause and the fix.

use std::io;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The name breaks one of the rules of [`crate::validate_name`].
    #[error("invalid container name {name:?}: {rule}; a name is 1 to 64 bytes without '/', whitespace or control characters, not \".\" or \"..\" and not starting with '-', e.g. \"web1\"")]
    InvalidName { name: String, rule: String },

    /// `create` of a name that is already a container.
    #[error("container \"{name}\" already exists in {}; pick another name or destroy it first with \"hako destroy {name}\"", .lxcpath.display())]
    Exists { name: String, lxcpath: PathBuf },

    /// The container is not defined in the lxcpath.
    #[error("container \"{name}\" does not exist in {}; create it with \"hako create {name} -t busybox\" or pass the right lxcpath with -P", .lxcpath.display())]
    NotFound { name: String, lxcpath: PathBuf },

    /// Another hako command holds the container's lock for longer than we were willing to wait.
    #[error("container \"{name}\" is locked by another hako command ({}); retry when it has finished", holder(*.pid))]
    Locked { name: String, pid: Option<u32> },

    /// Something is still mounted below the container directory.
    #[error("cannot {op} \"{}\": \"{}\" is still mounted below it; stop the container, or unmount it with \"umount -R {}\"", .dir.display(), .mount.display(), .mount.display())]
    Mounted {
        op: String,
        dir: PathBuf,
        mount: PathBuf,
    },

    /// A template (built-in or script) failed.
    #[error("template {template} failed for container \"{name}\" ({status}){}; {}", tail(.stderr_tail), template_fix(.stderr_tail))]
    TemplateFailed {
        template: String,
        name: String,
        status: String,
        stderr_tail: String,
    },

    /// The new container's config does not validate.
    #[error("container \"{name}\": the new config is invalid: {source}; fix the -f file or the system default config")]
    Config {
        name: String,
        #[source]
        source: Box<hako_config::ConfigError>,
    },

    /// A system call on a path failed.
    #[error("cannot {op} \"{}\": {}; {}", .path.display(), cause(.source), remedy(.source, .fix))]
    Io {
        op: String,
        path: PathBuf,
        source: io::Error,
        fix: String,
    },

    /// Anything else, already phrased as one full line.
    #[error("{0}")]
    Other(String),
}

impl StoreError {
    /// Shorthand for [`StoreError::Io`]: `op` is what we tried ("create directory"), `fix`
    /// the remedy when the errno does not suggest a better one.
    pub(crate) fn io(
        op: impl Into<String>,
        path: impl AsRef<Path>,
        source: io::Error,
        fix: impl Into<String>,
    ) -> StoreError {
        StoreError::Io {
            op: op.into(),
            path: path.as_ref().to_path_buf(),
            source,
            fix: fix.into(),
        }
    }

    pub(crate) fn config(name: &str, source: hako_config::ConfigError) -> StoreError {
        StoreError::Config {
            name: name.to_string(),
            source: Box::new(source),
        }
    }

    pub(crate) fn other(msg: impl Into<String>) -> StoreError {
        StoreError::Other(msg.into())
    }

    /// Says which operation on which object a low-level failure broke: an [`StoreError::Io`]
    /// whose operation does not name `object` yet becomes "cannot WHAT: OP PATH: cause;
    /// fix" (`what` = `create container "web"`, naming `object` = `"web"`). Other errors
    /// are phrased with their object already.
    pub(crate) fn context(self, what: &str, object: &str) -> StoreError {
        match self {
            StoreError::Io {
                op,
                path,
                source,
                fix,
            } if !op.contains(&format!("\"{object}\"")) => StoreError::Io {
                op: format!("{what}: {op}"),
                path,
                source,
                fix,
            },
            e => e,
        }
    }
}

fn holder(pid: Option<u32>) -> String {
    match pid {
        Some(p) => format!("pid {p}"),
        None => "pid unknown".to_string(),
    }
}

/// What to do about a failed template: a full disk is not the template's fault.
fn template_fix(stderr: &str) -> &'static str {
    if stderr.contains("No space left on device") || stderr.contains("Disk quota exceeded") {
        "free some disk space and retry"
    } else {
        "fix the template or its arguments (after --) and retry"
    }
}

fn tail(t: &str) -> String {
    let t = t.trim();
    if t.is_empty() {
        String::new()
    } else {
        // keep it one line: the lines of stderr are joined with " | "
        format!(
            ": {}",
            t.lines()
                .map(str::trim_end)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join(" | ")
        )
    }
}

/// The cause of an io error without the "(os error N)" suffix, lower-cased as the rest of
/// our messages.
pub(crate) fn cause(e: &io::Error) -> String {
    let s = e.to_string();
    let s = match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    };
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().collect::<String>() + c.as_str(),
        None => s,
    }
}

/// The remedy: some errnos have an obvious one whatever the operation was.
fn remedy(e: &io::Error, fallback: &str) -> String {
    match e.raw_os_error() {
        Some(libc::EACCES) | Some(libc::EPERM) => format!("run hako as root ({fallback})"),
        Some(libc::ENOSPC) | Some(libc::EDQUOT) => "free some disk space and retry".to_string(),
        Some(libc::EROFS) => {
            "the filesystem is read-only; use a writable lxcpath (-P DIR)".to_string()
        }
        _ => fallback.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_error_is_one_line_with_cause_and_fix() {
        let e = StoreError::io(
            "create directory",
            "/x/y",
            io::Error::from_raw_os_error(libc::ENOENT),
            "check the lxcpath",
        );
        assert_eq!(
            e.to_string(),
            "cannot create directory \"/x/y\": no such file or directory; check the lxcpath"
        );
        let e = StoreError::io(
            "open",
            "/x",
            io::Error::from_raw_os_error(libc::EACCES),
            "x",
        );
        assert!(e.to_string().contains("run hako as root"), "{e}");
    }

    #[test]
    fn context_names_the_operation_once() {
        let e = StoreError::io(
            "write",
            "/lp/web/partial",
            io::Error::from_raw_os_error(libc::ENOSPC),
            "check the filesystem",
        )
        .context("create container \"web\"", "web");
        assert_eq!(
            e.to_string(),
            "cannot create container \"web\": write \"/lp/web/partial\": no space left on device; free some disk space and retry"
        );
        // named already: unchanged
        let e = e.context("create container \"web\"", "web");
        assert!(
            e.to_string()
                .starts_with("cannot create container \"web\": write"),
            "{e}"
        );
        let e = StoreError::other("x").context("copy container \"a\"", "a");
        assert_eq!(e.to_string(), "x");
    }

    #[test]
    fn template_failure_tail_is_joined_on_one_line() {
        let e = StoreError::TemplateFailed {
            template: "/t/x".into(),
            name: "web".into(),
            status: "exit code 3".into(),
            stderr_tail: "first\n\nsecond\n".into(),
        };
        let s = e.to_string();
        assert!(!s.contains('\n'), "{s}");
        assert!(s.contains("(exit code 3): first | second;"), "{s}");
        assert!(s.ends_with("fix the template or its arguments (after --) and retry"));
        let e = StoreError::TemplateFailed {
            template: "/t/x".into(),
            name: "web".into(),
            status: "exit code 1".into(),
            stderr_tail: "cp: error writing 'x': No space left on device\n".into(),
        };
        assert!(
            e.to_string().ends_with("; free some disk space and retry"),
            "{e}"
        );
    }

    #[test]
    fn locked_names_the_holder() {
        let e = StoreError::Locked {
            name: "web".into(),
            pid: Some(42),
        };
        assert_eq!(
            e.to_string(),
            "container \"web\" is locked by another hako command (pid 42); retry when it has finished"
        );
    }
}
