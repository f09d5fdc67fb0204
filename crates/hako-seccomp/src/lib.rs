//! hako-seccomp: LXC's seccomp profile language (`lxc.seccomp.profile`) and a compiler of
//! its own from a profile to a classic BPF program for seccomp(2), covering the native
//! x86_64 ABI and the i386 compat ABI in one filter.
//!
//! The language (lxc.container.conf(5)): a version line, a policy line, rules.
//!
//! ```text
//! 2                           # version 1: an allowlist of native numbers, one per line
//! denylist [DEFAULT-ACTION]   # or allowlist (whitelist/blacklist are old names)
//! reject_force_umount         # umount2(..., MNT_FORCE) fails with EACCES
//! [all]                       # sections: all, x86_64, x86 (i386), x32, other arches (skipped)
//! kexec_load errno 1
//! ioctl errno 1 [1,0x5412,SCMP_CMP_EQ]                 # argument conditions, all must hold
//! personality errno 1 [0,0xff,SCMP_CMP_MASKED_EQ,0xffff]  # (arg0 & 0xffff) == 0xff
//! ```
//!
//! Actions: `kill`, `errno N`, `trap`, `trace N`, `log`, `allow`; a rule without one gets
//! `kill` in a denylist and `allow` in an allowlist (LXC's defaults). `notify` is refused
//! ("not supported yet"). An unlisted call gets the policy line's action: `allow` for a
//! denylist, `kill` for an allowlist unless another is given. Unknown system call names are
//! skipped with a [`Warning`] (LXC does the same), as are sections of architectures this
//! host does not run. See [`compile`] for how a program is laid out.
//!
//! OCI's format (config.json's `linux.seccomp`) becomes a [`Profile`] too ([`oci`]), so
//! the same compiler makes its filter.
//!
//! No libseccomp: the generator is small, and libseccomp cannot be linked into a static
//! binary from Debian's packages; seccompiler (the Rust crate) cannot cover two ABIs with
//! their own numbers in one program.

pub mod bpf;
pub mod builtin;
pub mod compile;
pub mod install;
pub mod oci;
pub mod profile;
pub mod tables;

#[cfg(test)]
mod tests;

use std::fmt;
use std::io::Read;
use std::path::Path;

pub use bpf::SockFilter;
pub use compile::{compile, syscall_number, Arch, CompileError, Program, Warning};
pub use install::install;
pub use oci::{from_oci, OciArg, OciError, OciFilter, OciSyscall};
pub use profile::{parse, Action, ArgCond, Op, ParseError, Policy, Profile, Rule, Target};

/// The largest profile file read (LXC's own profiles are a few hundred bytes; a full
/// allowlist is ~10 KiB).
pub const MAX_PROFILE_BYTES: u64 = 1 << 20;

/// Why a profile could not be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// the file cannot be read: the message names it and the cause
    Read(String),
    Parse(ParseError),
    Compile(CompileError),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Read(m) => f.write_str(m),
            Error::Parse(e) => e.fmt(f),
            Error::Compile(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for Error {}

/// Read and parse a profile file (see [`read_profile`]).
pub fn load_file(path: &Path) -> Result<Profile, Error> {
    let text = read_profile(path)?;
    parse(&text, &path.display().to_string()).map_err(Error::Parse)
}

/// Read a profile file's text ([`Error::Read`] on failure). Only a regular file of at most
/// [`MAX_PROFILE_BYTES`] is read; it is opened without blocking, so a FIFO or a device in
/// its place is refused instead of hanging or reading the device.
pub fn read_profile(path: &Path) -> Result<String, Error> {
    use std::os::unix::fs::OpenOptionsExt;
    let shown = path.display();
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| {
            Error::Read(format!(
                "cannot open seccomp profile {shown}: {}",
                io_text(&e)
            ))
        })?;
    let meta = f.metadata().map_err(|e| {
        Error::Read(format!(
            "cannot stat seccomp profile {shown}: {}",
            io_text(&e)
        ))
    })?;
    if !meta.is_file() {
        return Err(Error::Read(format!(
            "seccomp profile {shown} is not a regular file"
        )));
    }
    if meta.len() > MAX_PROFILE_BYTES {
        return Err(Error::Read(format!(
            "seccomp profile {shown} is {} bytes, more than the {MAX_PROFILE_BYTES} a profile \
             may have",
            meta.len()
        )));
    }
    let mut bytes = Vec::new();
    f.take(MAX_PROFILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| {
            Error::Read(format!(
                "cannot read seccomp profile {shown}: {}",
                io_text(&e)
            ))
        })?;
    if bytes.len() as u64 > MAX_PROFILE_BYTES {
        return Err(Error::Read(format!(
            "seccomp profile {shown} grew past {MAX_PROFILE_BYTES} bytes while it was read"
        )));
    }
    String::from_utf8(bytes).map_err(|e| {
        let line = 1 + e.as_bytes()[..e.utf8_error().valid_up_to()]
            .iter()
            .filter(|b| **b == b'\n')
            .count();
        Error::Read(format!(
            "{shown}:{line}: not text (invalid UTF-8); a seccomp profile is a text file"
        ))
    })
}

/// "no such file or directory", as coreutils say it (no "(os error 2)").
fn io_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    let s = match s.find(" (os error") {
        Some(i) => &s[..i],
        None => &s,
    };
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

/// hako's built-in profile, parsed (see [`builtin`]).
pub fn builtin_profile() -> Profile {
    parse(builtin::PROFILE, builtin::NAME).expect("the built-in seccomp profile parses")
}

/// hako's built-in profile, compiled.
pub fn builtin_program() -> Result<Program, CompileError> {
    compile(&builtin_profile()).map(|(p, _)| p)
}
