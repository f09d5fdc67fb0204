//! What `info` shows of the security modules.

use std::path::Path;

use serde::Serialize;

use super::label::current_label;
use super::{profile_name, LsmConfig, LsmHost, GENERATED, UNCHANGED, UNCONFINED};

/// One security module's line in `info` and its `--format json` object.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LsmStatus {
    /// the running kernel has the module active
    pub available: bool,
    /// what the config asks for (`lxc.apparmor.profile`, `lxc.selinux.context`), if set
    pub configured: Option<String>,
    /// the label init runs under (running) or will get (stopped), when known
    pub label: Option<String>,
    /// the line `info` prints
    pub status: String,
}

/// AppArmor for `info`: `cfg` None when the config cannot be read.
pub fn apparmor_status(
    cfg: Option<&LsmConfig>,
    name: &str,
    runtime_dir: &Path,
    init_pid: Option<i32>,
) -> LsmStatus {
    apparmor_status_on(&LsmHost::detect(), cfg, name, runtime_dir, init_pid)
}

pub(super) fn apparmor_status_on(
    host: &LsmHost,
    cfg: Option<&LsmConfig>,
    name: &str,
    runtime_dir: &Path,
    init_pid: Option<i32>,
) -> LsmStatus {
    let configured = cfg.and_then(|c| c.apparmor_profile.clone());
    if !host.apparmor {
        let status = match cfg {
            Some(c) if c.apparmor_profile.is_some() => {
                "not available on this kernel (lxc.apparmor.profile ignored)".to_string()
            }
            Some(c) if c.has_apparmor_keys() => {
                "not available on this kernel (lxc.apparmor.* keys ignored)".to_string()
            }
            _ => "not available on this kernel".to_string(),
        };
        return LsmStatus {
            available: false,
            configured,
            label: None,
            status,
        };
    }
    let generated = profile_name(name, runtime_dir);
    if let Some(pid) = init_pid {
        return match current_label(pid) {
            Ok(Some(l)) => {
                let status = if l == generated {
                    format!("{l} (generated)")
                } else {
                    l.clone()
                };
                LsmStatus {
                    available: true,
                    configured,
                    label: Some(l),
                    status,
                }
            }
            Ok(None) | Err(_) => LsmStatus {
                available: true,
                configured,
                label: None,
                status: "cannot read the label of init".to_string(),
            },
        };
    }
    let want = cfg
        .map(|c| c.apparmor_profile.as_deref().unwrap_or(GENERATED))
        .unwrap_or(GENERATED)
        .to_string();
    let (label, status) = match want.as_str() {
        GENERATED => (
            Some(generated.clone()),
            format!("{generated} (generated at start)"),
        ),
        UNCONFINED => (Some(UNCONFINED.to_string()), UNCONFINED.to_string()),
        UNCHANGED => (None, "unchanged (init keeps hako's own label)".to_string()),
        other => (Some(other.to_string()), format!("{other} (at start)")),
    };
    LsmStatus {
        available: true,
        configured,
        label,
        status,
    }
}

/// SELinux for `info`.
pub fn selinux_status(cfg: Option<&LsmConfig>) -> LsmStatus {
    selinux_status_on(&LsmHost::detect(), cfg)
}

pub(super) fn selinux_status_on(host: &LsmHost, cfg: Option<&LsmConfig>) -> LsmStatus {
    let key = cfg.and_then(|c| c.selinux_key());
    let configured = key.map(|(_, v)| v.to_string());
    let status = match (host.selinux, key) {
        (false, Some((k, _))) => format!("not active on this kernel ({k} ignored)"),
        (false, None) => "not active on this kernel".to_string(),
        (true, Some((k, _))) => {
            format!("active; {k} is not implemented by hako, start refuses it")
        }
        (true, None) => "active; the container runs in hako's own context".to_string(),
    };
    LsmStatus {
        available: host.selinux,
        configured,
        label: None,
        status,
    }
}
