//! hako-spec: the one internal model of a container, [`ContainerSpec`], that every front
//! end produces (the LXC config, the CLI's flags, OCI's config.json) and that the
//! runtime consumes, never seeing a front end's own types. Its parts are typed and parsed
//! once: namespaces and id maps, root filesystem and [`Mount`]s with their mount(2) flags,
//! devices and cgroup settings, network interfaces, the process (command, environment,
//! ids, capabilities, rlimits, no_new_privs, compiled seccomp filters), [`Hooks`],
//! console, [`Sysctl`]s and the security modules.
//!
//! Pure: no I/O. A front end hands over what it read ([`Inputs`]: the files a config
//! names, the caller's environment); errors are typed ([`SpecError`]) and name the
//! file:line of the setting.
//!
//! - [`lxc`]: the LXC front end, [`lxc::from_config`];
//! - [`oci`]: the OCI front end, [`oci::from_bundle_config`] (config.json);
//! - [`ext`], [`resources`]: what config.json can ask beyond the LXC keys; what of it the
//!   runtime cannot do yet is [`ContainerSpec::unsupported_by_runtime`];
//! - [`spec`]: [`ContainerSpec`] and its small parts; [`mount`], [`hooks`], [`sysctl`],
//!   [`lsm`]: the larger ones.

pub mod error;
pub mod ext;
pub mod hooks;
pub mod inputs;
pub mod lsm;
pub mod lxc;
pub mod mount;
pub mod oci;
pub mod resources;
pub mod spec;
pub mod sysctl;
mod unsupported;

pub use error::{ErrorKind, Origin, Result, SpecError};
pub use ext::{
    CapSets, CgroupsPath, DeviceKind, DeviceNode, MountIdmap, NsJoin, NsKind, NsRequest, OciHook,
    OciHookStage,
};
/// The seccomp filter type [`ContainerSpec::seccomp`] holds.
pub use hako_seccomp::Program as SeccompProgram;
pub use hooks::{Hook, HookType, Hooks};
pub use inputs::{FixedInputs, Inputs};
pub use lsm::LsmConfig;
pub use mount::{
    CgroupAuto, CgroupKind, CgroupMode, Mount, MountAuto, ProcMode, Shmounts, SysMode,
};
pub use resources::Resources;
pub use spec::{
    signal_name, ContainerSpec, IdKind, IdMap, InitMode, Namespaces, NetKind, NetSpec, Overlay,
    Prlimit, DEFAULT_CAP_DROP, DEFAULT_CGROUP_INNER, MAX_TTYS,
};
pub use sysctl::Sysctl;
