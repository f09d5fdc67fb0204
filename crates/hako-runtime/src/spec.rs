//! `ContainerSpec` (hako-spec's): the one internal model every front end is translated
//! into, and all the runtime consumes. This module re-exports it with its parts, and is
//! the I/O side of the LXC translation: it reads the files a config names (bounded) and
//! this process's environment, and hands them to the pure [`hako_spec::lxc::from_config`].

use std::path::Path;

pub use hako_spec::lxc::Config as LxcConfig;
pub use hako_spec::lxc::{parse_overlay, parse_rootfs};
pub use hako_spec::{
    ContainerSpec, IdKind, IdMap, InitMode, Inputs, Mount, MountAuto, Namespaces, NetKind, NetSpec,
    Overlay, Prlimit, SpecError, DEFAULT_CAP_DROP, DEFAULT_CGROUP_INNER, MAX_TTYS,
};

use crate::error::Result;

/// Build the spec of container `name` in `lxcpath` from its loaded LXC config (read from
/// `config_path`): the files it names are read from this host, `lxc.environment = NAME`
/// takes this process's value.
pub fn from_config(
    name: &str,
    lxcpath: &Path,
    config_path: &Path,
    cfg: &LxcConfig,
) -> Result<ContainerSpec> {
    Ok(hako_spec::lxc::from_config(
        name,
        lxcpath,
        config_path,
        cfg,
        &HostInputs,
    )?)
}

/// [`Inputs`] from this host: files read with bounds (a FIFO or a device named in the
/// config is refused, not read forever), and this process's environment.
pub struct HostInputs;

impl Inputs for HostInputs {
    fn fstab(&self, path: &Path) -> std::result::Result<String, String> {
        hako_read::read_bounded_text(path, hako_read::CONFIG_LIMIT).map_err(|e| e.reason())
    }

    fn seccomp_profile(&self, path: &Path) -> std::result::Result<String, String> {
        hako_seccomp::read_profile(path).map_err(|e| e.to_string())
    }

    fn env_var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_inputs_read_files_with_bounds_and_the_environment() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("fstab");
        std::fs::write(&f, "proc proc proc defaults 0 0\n").unwrap();
        assert_eq!(
            HostInputs.fstab(&f).unwrap(),
            "proc proc proc defaults 0 0\n"
        );
        assert_eq!(
            HostInputs.fstab(&d.path().join("none")).unwrap_err(),
            "no such file or directory"
        );
        let e = HostInputs.fstab(Path::new("/dev/zero")).unwrap_err();
        assert!(e.contains("character device"), "{e}");
        let e = HostInputs.fstab(d.path()).unwrap_err();
        assert!(e.contains("a directory"), "{e}");
        let p = d.path().join("p.seccomp");
        std::fs::write(&p, "2\ndenylist\nmknod errno 1\n").unwrap();
        assert_eq!(
            HostInputs.seccomp_profile(&p).unwrap(),
            "2\ndenylist\nmknod errno 1\n"
        );
        let e = HostInputs
            .seccomp_profile(Path::new("/nonexistent/p.seccomp"))
            .unwrap_err();
        assert_eq!(
            e,
            "cannot open seccomp profile /nonexistent/p.seccomp: no such file or directory"
        );
        assert_eq!(HostInputs.env_var("PATH"), std::env::var("PATH").ok());
        assert_eq!(HostInputs.env_var("HAKO_SURELY_UNSET_VARIABLE_X"), None);
    }

    #[test]
    fn dropped_caps_match_the_kernel_capabilities_by_name() {
        // hako-spec numbers capabilities from its own table; the child drops them by
        // the caps crate's numbers: the two must agree
        let mask_by_caps = |spec: &ContainerSpec| {
            let mut mask = 0u64;
            for c in caps::all() {
                let n = crate::child::cap_name(c);
                let drop = match &spec.cap_keep {
                    Some(keep) => !keep.contains(&n),
                    None => spec.cap_drop.contains(&n),
                };
                if drop && c.index() < 64 {
                    mask |= 1 << c.index();
                }
            }
            mask
        };
        let spec = |key: &str, value: &str| {
            let mut cfg = LxcConfig::new();
            if !key.is_empty() {
                cfg.set_override(key, value).unwrap();
            }
            hako_spec::lxc::from_config(
                "c",
                Path::new("/l"),
                Path::new("/l/c/config"),
                &cfg,
                &hako_spec::FixedInputs::new(),
            )
            .unwrap()
        };
        for (k, v) in [
            ("", ""),
            ("lxc.cap.drop", "sys_admin net_raw checkpoint_restore"),
            ("lxc.cap.keep", "chown sys_admin"),
            ("lxc.cap.keep", "none"),
        ] {
            let spec = spec(k, v);
            assert_eq!(spec.dropped_caps(), mask_by_caps(&spec), "{k} = {v}");
            assert_ne!(spec.dropped_caps(), 0);
        }
    }
}
