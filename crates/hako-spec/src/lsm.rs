//! What a container asks of the Linux security modules (`lxc.apparmor.*`,
//! `lxc.selinux.*`). What the kernel offers and the confinement itself are the runtime's
//! (its lsm folder).

use serde::{Deserialize, Serialize};

/// The LSM settings of a container, parsed once.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct LsmConfig {
    /// `lxc.apparmor.profile` (None: not set; hako then uses its generated profile)
    pub apparmor_profile: Option<String>,
    pub apparmor_allow_nesting: bool,
    pub apparmor_allow_incomplete: bool,
    /// `lxc.apparmor.raw`: lines appended to the generated profile
    pub apparmor_raw: Vec<String>,
    pub selinux_context: Option<String>,
    pub selinux_context_keyring: Option<String>,
}

impl LsmConfig {
    /// Any `lxc.apparmor.*` key set?
    pub fn has_apparmor_keys(&self) -> bool {
        self.apparmor_profile.is_some()
            || self.apparmor_allow_nesting
            || self.apparmor_allow_incomplete
            || !self.apparmor_raw.is_empty()
    }

    /// The `lxc.selinux.*` key that is set, if any.
    pub fn selinux_key(&self) -> Option<(&'static str, &str)> {
        match (&self.selinux_context, &self.selinux_context_keyring) {
            (Some(c), _) => Some(("lxc.selinux.context", c)),
            (None, Some(k)) => Some(("lxc.selinux.context.keyring", k)),
            (None, None) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_keys_are_set() {
        assert!(!LsmConfig::default().has_apparmor_keys());
        assert_eq!(LsmConfig::default().selinux_key(), None);
        let c = LsmConfig {
            apparmor_raw: vec!["deny /x rw,".into()],
            selinux_context_keyring: Some("k".into()),
            ..Default::default()
        };
        assert!(c.has_apparmor_keys());
        assert_eq!(c.selinux_key(), Some(("lxc.selinux.context.keyring", "k")));
        let c = LsmConfig {
            selinux_context: Some("c".into()),
            selinux_context_keyring: Some("k".into()),
            ..Default::default()
        };
        assert_eq!(c.selinux_key(), Some(("lxc.selinux.context", "c")));
    }
}
