//! OCI's five capability sets (`process.capabilities`, [`crate::spec::ContainerSpec`]'s
//! `cap_sets`): exactly these sets for the container's process, instead of the LXC
//! drop/keep model. The names are resolved before the clone ([`masks`]); the child only
//! applies bit masks: the bounding set before the switch to the process's user
//! ([`bound`]), the other four after it ([`apply`]).

use std::collections::HashSet;

use caps::{CapSet, Capability};

use crate::error::{Result, RuntimeError};
use crate::spec::ContainerSpec;

/// One bit per capability number, for each set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CapMasks {
    pub bounding: u64,
    pub effective: u64,
    pub inheritable: u64,
    pub permitted: u64,
    pub ambient: u64,
}

/// The spec's capability sets as masks; None when it has none (LXC's model applies).
/// A name this build does not know is an error naming its set.
pub fn masks(spec: &ContainerSpec) -> Result<Option<CapMasks>> {
    let Some(s) = &spec.cap_sets else {
        return Ok(None);
    };
    let name = &spec.name;
    let mask = |set: &str, list: &[String]| -> Result<u64> {
        let mut m = 0u64;
        for c in list {
            // the spec holds LXC's spelling (`audit_write`); the kernel's is CAP_AUDIT_WRITE
            let up = c.to_ascii_uppercase();
            let full = if up.starts_with("CAP_") {
                up
            } else {
                format!("CAP_{up}")
            };
            let cap: Capability = full.parse().map_err(|_| {
                RuntimeError::msg(format!(
                    "container \"{name}\": process.capabilities.{set}: unknown capability \"{c}\"; use the kernel's names (CAP_CHOWN, CAP_NET_BIND_SERVICE, ...) or remove it"
                ))
            })?;
            if cap.index() < 64 {
                m |= 1 << cap.index();
            }
        }
        Ok(m)
    };
    Ok(Some(CapMasks {
        bounding: mask("bounding", &s.bounding)?,
        effective: mask("effective", &s.effective)?,
        inheritable: mask("inheritable", &s.inheritable)?,
        permitted: mask("permitted", &s.permitted)?,
        ambient: mask("ambient", &s.ambient)?,
    }))
}

fn set_of(mask: u64) -> HashSet<Capability> {
    caps::all()
        .into_iter()
        .filter(|c| c.index() < 64 && mask & (1 << c.index()) != 0)
        .collect()
}

/// The bounding set (while still root with CAP_SETPCAP); `keep`: the process changes to
/// a non-root user next, and must keep its permitted set across that change.
pub fn bound(name: &str, m: &CapMasks, keep: bool) -> Result<()> {
    crate::child::limit_capabilities(|c| c.index() >= 64 || m.bounding & (1 << c.index()) == 0)
        .map_err(|e| {
            crate::error::sys_err(
                format!("container \"{name}\": cannot set the bounding capability set (process.capabilities.bounding)"),
                e,
            )
        })?;
    if keep {
        // SAFETY: prctl with integer arguments only.
        if unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0) } < 0 {
            return Err(crate::error::sys_err(
                format!("container \"{name}\": cannot keep capabilities across the change of user"),
                nix::errno::Errno::last(),
            ));
        }
    }
    Ok(())
}

/// The inheritable, effective, permitted and ambient sets, in an order the kernel
/// accepts (effective before permitted shrinks; ambient needs permitted and inheritable).
pub fn apply(name: &str, m: &CapMasks) -> Result<()> {
    let fail = |set: &str| {
        let e = nix::errno::Errno::last();
        crate::error::sys_err(
            format!("container \"{name}\": cannot set the {set} capability set (process.capabilities.{set}; it must be a subset of permitted, and permitted of bounding)"),
            e,
        )
    };
    caps::set(None, CapSet::Inheritable, &set_of(m.inheritable))
        .map_err(|_| fail("inheritable"))?;
    caps::set(None, CapSet::Effective, &set_of(m.effective & m.permitted))
        .map_err(|_| fail("effective"))?;
    caps::set(None, CapSet::Permitted, &set_of(m.permitted)).map_err(|_| fail("permitted"))?;
    caps::set(None, CapSet::Effective, &set_of(m.effective)).map_err(|_| fail("effective"))?;
    caps::clear(None, CapSet::Ambient).map_err(|_| fail("ambient"))?;
    // the kernel raises an ambient capability only if it is permitted and inheritable;
    // runc skips the others (its default config.json lists ambient without inheritable),
    // and so does hako, for the same config.json to run the same
    for c in set_of(m.ambient & m.permitted & m.inheritable) {
        caps::raise(None, CapSet::Ambient, c).map_err(|_| fail("ambient"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_bits_and_unknown_ones_are_refused() {
        let mut s = hako_spec::oci::from_bundle_config(
            "t",
            std::path::Path::new("/b"),
            r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"user":{"uid":0,"gid":0},"args":["/bin/true"],"cwd":"/"}}"#,
            &Default::default(),
        )
        .unwrap();
        assert_eq!(masks(&s).unwrap(), None);
        s.cap_sets = Some(hako_spec::CapSets {
            bounding: vec!["CAP_CHOWN".into(), "kill".into()],
            effective: vec!["CAP_KILL".into()],
            ..Default::default()
        });
        let m = masks(&s).unwrap().unwrap();
        assert_eq!(m.bounding, 1 << 0 | 1 << 5);
        assert_eq!(m.effective, 1 << 5);
        assert_eq!(m.ambient, 0);
        s.cap_sets.as_mut().unwrap().ambient = vec!["CAP_NOPE".into()];
        let e = masks(&s).unwrap_err().to_string();
        assert!(e.contains("ambient") && e.contains("CAP_NOPE"), "{e}");
    }
}
