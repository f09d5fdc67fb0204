//! hako-runtime: `ContainerSpec` and everything between fork and exec — namespaces,
//! rootfs and mounts, /dev, console and ttys, capabilities, rlimits — plus attach and the
//! per-container monitor with its control-socket protocol.

pub mod attach;
pub mod child;
pub mod client;
pub mod error;
pub mod hooks;
pub mod inroot;
pub mod lsm;
pub mod miniinit;
pub mod monitor;
pub mod mounts;
pub mod net;
pub mod nl;
pub mod protocol;
pub mod seccomp_hook;
pub mod spec;
pub mod stdio;
pub mod sync;
pub mod sys;
pub mod sysctl;
pub mod term;

pub use error::{Result, RuntimeError};
pub use spec::{ContainerSpec, InitMode, NetKind, NetSpec};
