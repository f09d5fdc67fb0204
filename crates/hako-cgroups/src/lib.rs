//! hako-cgroups: the container's cgroup on cgroup v1, hybrid and cgroup v2 hosts.
//!
//! Detect the host once ([`Host::detect`]), then [`Cgroup::create`] makes the container's
//! cgroup in every mounted hierarchy (v1 controllers, named v1 hierarchies such as
//! `name=systemd`, and cgroup2). Limits ([`Cgroup::set`]), devices
//! ([`Cgroup::apply_devices`]: v1 devices files, or an eBPF program on pure v2), freezing,
//! statistics, killing and removal work on whatever hierarchy carries the controller.
//!
//! Everything is synchronous and thread-free: it runs inside the single-threaded monitor.

pub mod bpf;
mod cgroup;
mod devices;
mod error;
mod fsutil;
mod host;

pub use cgroup::{Cgroup, CgroupDir, KeyKind, Stats, FREEZE_TIMEOUT, KILL_TIMEOUT, REMOVE_TIMEOUT};
pub use devices::{
    default_device_rules, render_devices_list, v1_device_writes, DeviceRule, STANDARD_DEVICE_RULES,
};
pub use error::CgroupError;
pub use host::{cgroup_path_in, parse_proc_cgroup, Hierarchy, Host, Mode, ProcCgroup};

#[cfg(test)]
mod tests;
