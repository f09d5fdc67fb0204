//! hako-runtime: everything between fork and exec for a `ContainerSpec` (hako-spec's
//! model, re-exported with the I/O side of its LXC translation in [`spec`]) — namespaces,
//! rootfs and mounts, /dev, console and ttys, capabilities, rlimits — plus attach and the
//! per-container monitor with its control-socket protocol. It never sees an LXC config
//! type but the opaque one [`spec::from_config`] passes on.

pub mod attach;
pub mod capsets;
pub mod child;
pub mod client;
pub mod error;
pub mod events;
pub mod hooks;
pub mod inroot;
pub mod lsm;
pub mod miniinit;
pub mod monitor;
pub mod mounts;
pub mod net;
pub mod nl;
pub mod nsjoin;
pub mod protocol;
pub mod seccomp_hook;
pub mod spec;
pub mod stdio;
pub mod sync;
pub mod sys;
pub mod sysctl;
pub mod term;
pub mod user_nic;
pub mod userns;

pub use error::{Result, RuntimeError};
pub use hako_spec::SpecError;
pub use spec::{ContainerSpec, InitMode, NetKind, NetSpec};
