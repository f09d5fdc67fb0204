//! What of a spec the runtime (hako-runtime) does not carry out yet, so that `create`
//! fails closed instead of running a container without it. Each entry removed here must
//! come with the runtime code that honours it. Carried out by now (hako-runtime): the
//! five capability sets (`capsets.rs`), the exact environment, masked and read-only
//! paths (`mounts::mask_oci_paths`), the OCI default devices, no cgroup namespace,
//! `linux.resources` (`monitor::limits::lower_resources`, when the monitor launches),
//! `process.terminal` (the console pty; its master over `--console-socket`), umask,
//! oomScoreAdj, domainname (the child, before exec), the six OCI hook stages
//! (`hooks::oci`: the monitor, init and the CLI run them), joined namespaces
//! (`linux.namespaces[].path`: init setns()s into them).

use crate::ext::NsKind;
use crate::spec::ContainerSpec;

impl ContainerSpec {
    /// Every set field the runtime does not honour yet, one line each: the OCI JSON path,
    /// then what it asks. Empty: the runtime can run this spec as written. The LXC front
    /// end never sets these fields, so its specs give an empty list.
    pub fn unsupported_by_runtime(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut add = |path: &str, what: String| out.push(format!("{path}: {what}"));
        if let Some(ns) = &self.oci_namespaces {
            // joined namespaces are carried out (hako-runtime's nsjoin), but for a time
            // namespace, and a new pid namespace made inside a joined user namespace (the
            // clone makes it, owned by the host's user namespace)
            for j in &ns.join {
                if j.kind == NsKind::Time {
                    add(
                        "linux.namespaces",
                        format!("joining the time namespace at {}", j.path.display()),
                    );
                }
            }
            if ns.join.iter().any(|j| j.kind == NsKind::User) && ns.new.contains(&NsKind::Pid) {
                add(
                    "linux.namespaces",
                    "a new pid namespace inside the joined user namespace (join a pid namespace too, or no user namespace)".into(),
                );
            }
            let fixed = self.namespaces();
            let runtime_makes = [
                (NsKind::Mount, fixed.mnt),
                (NsKind::Pid, fixed.pid),
                (NsKind::Uts, fixed.uts),
                (NsKind::Ipc, fixed.ipc),
                (NsKind::Net, fixed.net),
                (NsKind::Cgroup, fixed.cgroup),
                (NsKind::User, fixed.user),
                (NsKind::Time, false),
            ];
            for (k, made) in runtime_makes {
                let asked = ns.new.contains(&k);
                let joined = ns.join.iter().any(|j| j.kind == k);
                if joined {
                    continue;
                }
                if asked && !made {
                    add(
                        "linux.namespaces",
                        format!("a new {} namespace", k.oci_name()),
                    );
                } else if made && !asked {
                    add(
                        "linux.namespaces",
                        format!(
                            "staying in the host's {} namespace (the runtime always makes a new one)",
                            k.oci_name()
                        ),
                    );
                }
            }
        }
        for m in &self.mount_idmaps {
            add(
                &format!("mounts[{}].uidMappings", m.index),
                "an idmapped mount with maps of its own".into(),
            );
        }
        if self.cgroups_path.is_some() {
            add("linux.cgroupsPath", "the cgroup's place".into());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use crate::ext::{NsJoin, NsRequest};
    use crate::*;

    fn lxc_spec() -> ContainerSpec {
        let cfg =
            hako_config::load_str("lxc.uts.name = x\n", std::path::Path::new("/c/config")).unwrap();
        lxc::from_config(
            "c",
            std::path::Path::new("/l"),
            std::path::Path::new("/c/config"),
            &cfg,
            &FixedInputs::new(),
        )
        .unwrap()
    }

    #[test]
    fn an_lxc_spec_has_nothing_unsupported() {
        assert_eq!(lxc_spec().unsupported_by_runtime(), Vec::<String>::new());
    }

    #[test]
    fn each_field_is_listed_with_its_json_path() {
        let mut s = lxc_spec();
        s.cap_sets = Some(CapSets::default());
        s.umask = Some(0o22);
        s.oom_score_adj = Some(-100);
        s.env_exact = true;
        s.terminal = true;
        s.domainname = Some("d".into());
        s.masked_paths = vec!["/proc/kcore".into()];
        s.readonly_paths = vec!["/proc/sys".into()];
        s.rootfs_propagation = Some(mount::flags::MS_SHARED);
        s.oci_hooks = vec![OciHook {
            stage: OciHookStage::Poststop,
            path: "/bin/h".into(),
            args: vec![],
            env: vec![],
            timeout: Some(3),
        }];
        s.oci_default_devices = true;
        s.devices = vec![DeviceNode {
            path: "/dev/fuse".into(),
            kind: DeviceKind::Char,
            major: 10,
            minor: 229,
            file_mode: None,
            uid: None,
            gid: None,
        }];
        s.mount_idmaps = vec![MountIdmap {
            index: 2,
            maps: vec![],
            recursive: false,
        }];
        s.cgroups_path = Some(CgroupsPath::Path("/x".into()));
        s.resources = Some(Resources {
            pids_limit: Some(10),
            ..Default::default()
        });
        s.annotations.insert("a".into(), "b".into());
        let got = s.unsupported_by_runtime();
        let paths: Vec<&str> = got.iter().map(|l| l.split(':').next().unwrap()).collect();
        assert_eq!(paths, ["mounts[2].uidMappings", "linux.cgroupsPath",]);
        // empty resources ask nothing
        s = lxc_spec();
        s.resources = Some(Resources::default());
        assert!(s.unsupported_by_runtime().is_empty());
    }

    #[test]
    fn namespaces_other_than_the_runtime_makes() {
        let mut s = lxc_spec();
        // the runtime's own set: supported
        s.oci_namespaces = Some(NsRequest {
            new: vec![
                NsKind::Mount,
                NsKind::Pid,
                NsKind::Uts,
                NsKind::Ipc,
                NsKind::Net,
                NsKind::Cgroup,
            ],
            join: vec![],
        });
        assert!(s.unsupported_by_runtime().is_empty());
        s.oci_namespaces = Some(NsRequest {
            new: vec![
                NsKind::Mount,
                NsKind::Pid,
                NsKind::Uts,
                NsKind::Ipc,
                NsKind::Time,
            ],
            join: vec![NsJoin {
                kind: NsKind::Net,
                path: "/run/netns/a".into(),
            }],
        });
        assert_eq!(
            s.unsupported_by_runtime(),
            ["linux.namespaces: a new time namespace"]
        );
        // a joined time namespace, and a new pid namespace inside a joined user one
        s.oci_namespaces = Some(NsRequest {
            new: vec![
                NsKind::Mount,
                NsKind::Pid,
                NsKind::Uts,
                NsKind::Ipc,
                NsKind::Net,
            ],
            join: vec![
                NsJoin {
                    kind: NsKind::User,
                    path: "/proc/9/ns/user".into(),
                },
                NsJoin {
                    kind: NsKind::Time,
                    path: "/proc/9/ns/time".into(),
                },
            ],
        });
        let got = s.unsupported_by_runtime();
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(
            got[0].contains("time namespace at /proc/9/ns/time"),
            "{got:?}"
        );
        assert!(
            got[1].contains("new pid namespace inside the joined user"),
            "{got:?}"
        );
    }
}
