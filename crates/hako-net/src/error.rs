//! The crate's error type. Every message is one line that names the object and the operation
//! (`op`, e.g. `attach veth "vethA1" to bridge "br9"`), the cause and the remedy.

use std::io;

#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// The kernel refused a netlink request. `errno` is the positive errno from the kernel's
    /// NLMSG_ERROR answer, `ext_ack` its extended-ack text when the kernel gave one.
    #[error("cannot {op}: {}{}; {remedy}", errno_text(*errno), ext_ack_text(ext_ack))]
    Kernel {
        op: String,
        errno: i32,
        ext_ack: Option<String>,
        remedy: String,
    },

    /// A device the operation needs does not exist (in the namespace the socket is in).
    #[error("cannot {op}: no such device \"{device}\"; {remedy}")]
    NoDevice {
        op: String,
        device: String,
        remedy: String,
    },

    /// A value given by the user (name, address, MAC, CIDR, ...) is not acceptable.
    #[error("invalid {what} \"{value}\": {reason}; {remedy}")]
    Invalid {
        what: &'static str,
        value: String,
        reason: String,
        remedy: String,
    },

    /// A system call or file operation failed.
    #[error("cannot {op}: {}; {remedy}", io_text(source))]
    Io {
        op: String,
        remedy: String,
        #[source]
        source: io::Error,
    },

    /// Anything else: a managed network that does not exist or is in use, a subnet that
    /// overlaps a host route, an external tool (nft, dnsmasq) that failed, ...
    #[error("cannot {op}: {cause}; {remedy}")]
    Failed {
        op: String,
        cause: String,
        remedy: String,
    },
}

impl NetError {
    /// The errno behind this error, if it came from the kernel or a system call.
    pub fn errno(&self) -> Option<i32> {
        match self {
            NetError::Kernel { errno, .. } => Some(*errno),
            NetError::NoDevice { .. } => Some(libc::ENODEV),
            NetError::Io { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }

    /// True when the error says an object already exists (EEXIST).
    pub fn is_exists(&self) -> bool {
        self.errno() == Some(libc::EEXIST)
    }

    /// True when the error says a device is missing (ENODEV).
    pub fn is_no_device(&self) -> bool {
        matches!(self, NetError::NoDevice { .. }) || self.errno() == Some(libc::ENODEV)
    }

    pub(crate) fn io(op: impl Into<String>, source: io::Error, remedy: impl Into<String>) -> Self {
        NetError::Io {
            op: op.into(),
            source,
            remedy: remedy.into(),
        }
    }

    pub(crate) fn failed(
        op: impl Into<String>,
        cause: impl Into<String>,
        remedy: impl Into<String>,
    ) -> Self {
        NetError::Failed {
            op: op.into(),
            cause: cause.into(),
            remedy: remedy.into(),
        }
    }

    pub(crate) fn invalid(
        what: &'static str,
        value: impl Into<String>,
        reason: impl Into<String>,
        remedy: impl Into<String>,
    ) -> Self {
        NetError::Invalid {
            what,
            value: value.into(),
            reason: reason.into(),
            remedy: remedy.into(),
        }
    }
}

/// `strerror` text with a lower-case first letter, to sit in the middle of a sentence.
pub(crate) fn errno_text(errno: i32) -> String {
    lower_first(nix::errno::Errno::from_raw(errno).desc())
}

fn io_text(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => errno_text(n),
        None => e.to_string(),
    }
}

fn ext_ack_text(m: &Option<String>) -> String {
    match m {
        Some(m) if !m.is_empty() => format!(" (kernel: {m})"),
        _ => String::new(),
    }
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

pub type Result<T, E = NetError> = std::result::Result<T, E>;
