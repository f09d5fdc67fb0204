//! Runtime errors. Each names the container, the step, the cause and a remedy.

use std::io;

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// A failure with a message already phrased for the user.
    #[error("{0}")]
    Msg(String),
    #[error("{0}")]
    Cgroup(#[from] hako_cgroups::CgroupError),
    /// The container's config does not make a spec (it names the file:line).
    #[error("{0}")]
    Spec(#[from] hako_spec::SpecError),
}

pub type Result<T> = std::result::Result<T, RuntimeError>;

impl RuntimeError {
    pub fn msg(m: impl Into<String>) -> Self {
        RuntimeError::Msg(m.into())
    }
}

/// `ctx` is "what we were doing" ("cannot mount proc on /proc in container \"web\"");
/// the errno is appended with a hint for the common ones.
pub fn sys_err(ctx: impl AsRef<str>, e: nix::errno::Errno) -> RuntimeError {
    RuntimeError::Msg(format!("{}: {}", ctx.as_ref(), errno_text(e)))
}

pub fn io_err(ctx: impl AsRef<str>, e: io::Error) -> RuntimeError {
    match e.raw_os_error() {
        Some(n) => sys_err(ctx, nix::errno::Errno::from_raw(n)),
        None => RuntimeError::Msg(format!("{}: {}", ctx.as_ref(), e)),
    }
}

/// strerror-style text, lower case, as users see it from coreutils.
pub fn errno_text(e: nix::errno::Errno) -> String {
    let s = e.desc();
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

pub trait Context<T> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T> Context<T> for nix::Result<T> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| sys_err(what(), e))
    }
}

impl<T> Context<T> for io::Result<T> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| io_err(what(), e))
    }
}
