//! The container's cgroup settings as a plan: which file of its cgroup gets which value
//! (lxc.cgroup.* on the v1 hierarchies, lxc.cgroup2.* on cgroup2), the device policy
//! and the inner cgroup init goes into, a pure function of the spec, the host's layout
//! and the container's cgroup (a value: its directories). [`apply`] carries it out.

use std::os::fd::OwnedFd;
use std::path::PathBuf;

use hako_cgroups::{Cgroup, CgroupError, DeviceRule, Host, KeyKind};

use crate::error::{Result, RuntimeError};
use crate::spec::ContainerSpec;

/// One lxc.cgroup(2).KEY = VALUE: the file it goes to, or why there is none.
#[derive(Debug)]
pub struct LimitWrite<'a> {
    /// "lxc.cgroup" or "lxc.cgroup2"
    pub origin: &'static str,
    pub key: &'a str,
    pub value: &'a str,
    pub file: std::result::Result<PathBuf, CgroupError>,
}

/// The device policy: the rules, and whether the host has a place to put them.
#[derive(Debug, PartialEq, Eq)]
pub struct DevicePlan {
    pub rules: Vec<DeviceRule>,
    /// false: no v1 devices controller and no cgroup2 (the rules are only recorded)
    pub apply: bool,
}

#[derive(Debug)]
pub struct LimitPlan<'a> {
    /// in order; the first that fails stops the start
    pub writes: Vec<LimitWrite<'a>>,
    /// after the writes; Err: a bad rule (the whole error text)
    pub devices: std::result::Result<DevicePlan, String>,
    /// init's cgroup below the container's (created after the limits: they stay out of
    /// the container's reach)
    pub inner: &'a str,
}

/// Plan the cgroup settings of `spec` for container cgroup `cg` on `host`: lxc.cgroup.*
/// only where the host has v1 hierarchies, lxc.cgroup2.* only where it has cgroup2; the
/// device rules of the v1 devices controller's keys (lxc.cgroup.devices.*) where it
/// exists, else lxc.cgroup2.devices.*, after hako's defaults (a "deny a" drops those).
pub fn plan<'a>(host: &Host, cg: &Cgroup, spec: &'a ContainerSpec) -> LimitPlan<'a> {
    let name = &spec.name;
    let mut writes = Vec::new();
    let mut add = |origin, kvs: &'a [(String, String)], kind| {
        for (k, v) in kvs {
            writes.push(LimitWrite {
                origin,
                key: k,
                value: v,
                file: cg.key_path(k, kind),
            });
        }
    };
    if host.hierarchies.iter().any(|h| h.version == 1) {
        add("lxc.cgroup", &spec.cgroup_v1, KeyKind::V1);
    }
    let has_v2 = host.unified().is_some();
    if has_v2 {
        add("lxc.cgroup2", &spec.cgroup_v2, KeyKind::V2);
    }
    let v1_devices = host.v1_for("devices").is_some();
    let devices = (|| {
        let mut rules = hako_cgroups::default_device_rules();
        let extra = if v1_devices {
            &spec.devices_v1
        } else {
            &spec.devices_v2
        };
        for (allow, r) in extra {
            let rule = DeviceRule::parse(*allow, r).map_err(|e| {
                format!(
                    "container \"{name}\": bad device rule \"{r}\" in lxc.cgroup{}.devices.{}: {e}",
                    if v1_devices { "" } else { "2" },
                    if *allow { "allow" } else { "deny" }
                )
            })?;
            if rule.kind == 'a' && !rule.allow {
                rules.clear();
            }
            rules.push(rule);
        }
        Ok(DevicePlan {
            rules,
            apply: v1_devices || has_v2,
        })
    })();
    LimitPlan {
        writes,
        devices,
        inner: &spec.cgroup_inner,
    }
}

/// Carry out the writes and the device policy of `plan` on `cg`; returns the rules and,
/// on cgroup2, the device program's fd.
pub fn apply(
    cg: &Cgroup,
    name: &str,
    plan: LimitPlan<'_>,
) -> Result<(Vec<DeviceRule>, Option<OwnedFd>)> {
    for w in plan.writes {
        let r = w.file.and_then(|f| Cgroup::write_key(&f, w.key, w.value));
        r.map_err(|e| {
            RuntimeError::msg(format!(
                "container \"{name}\": cannot apply {}.{} = {}: {e}",
                w.origin, w.key, w.value
            ))
        })?;
    }
    let devices = plan.devices.map_err(RuntimeError::msg)?;
    // rootless: a device program needs root; the user namespace keeps the container from
    // making device nodes (hako refuses device rules it would need before the start)
    if !devices.apply || crate::userns::rootless::is_rootless() {
        return Ok((devices.rules, None));
    }
    let prog = cg.apply_devices(&devices.rules, None).map_err(|e| {
        RuntimeError::msg(format!(
            "container \"{name}\": cannot apply the device policy: {e}"
        ))
    })?;
    Ok((devices.rules, prog))
}

/// An OCI spec's typed `linux.resources` as the cgroup keys and device rules [`plan`]
/// writes: on a host with v1 hierarchies the v1 files (a hybrid host's cgroup2 has no
/// controllers), else the v2 ones. The spec's `resources` is cleared: it is carried out.
/// Err: a limit this host has no file for, naming its JSON path.
pub fn lower_resources(spec: &mut ContainerSpec, host: &Host) -> Result<()> {
    let Some(r) = spec.resources.take() else {
        return Ok(());
    };
    let name = &spec.name;
    let v1 = host.hierarchies.iter().any(|h| h.version == 1);
    let writes = if v1 { r.v1_writes() } else { r.v2_writes() };
    let writes = writes.map_err(|e| {
        RuntimeError::msg(format!(
            "container \"{name}\": linux.resources: {e} (on this host's cgroup {}); remove that limit",
            if v1 { "v1 hierarchies" } else { "v2" }
        ))
    })?;
    if v1 {
        spec.cgroup_v1.extend(writes);
    } else {
        spec.cgroup_v2.extend(writes);
    }
    if !r.devices.is_empty() {
        let rules: Vec<(bool, String)> = r
            .devices
            .iter()
            .map(|d| (d.allow, d.text()))
            // the OCI default devices after config.json's own rules: a leading "deny all"
            // there keeps the container's /dev/null and the rest usable
            .chain(
                hako_cgroups::STANDARD_DEVICE_RULES
                    .iter()
                    .map(|t| (true, t.to_string())),
            )
            .collect();
        spec.devices_v1.extend(rules.iter().cloned());
        spec.devices_v2.extend(rules);
    }
    Ok(())
}

#[cfg(test)]
#[path = "limits_tests.rs"]
mod tests;
