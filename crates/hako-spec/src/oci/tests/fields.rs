//! One test per group of config.json fields.

use super::*;

#[test]
fn process_user_and_limits() {
    let s = ok(|v| {
        v["process"]["user"] =
            json!({"uid": 1000, "gid": 100, "additionalGids": [5, 27], "umask": 18});
        v["process"]["oomScoreAdj"] = json!(-500);
        v["process"]["terminal"] = json!(false);
        v["process"]["rlimits"] = json!([
            {"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 4096},
            {"type": "RLIMIT_CORE", "soft": 0, "hard": 0}
        ]);
        v["process"]["apparmorProfile"] = json!("hako-default");
        v["process"]["selinuxLabel"] = json!("system_u:system_r:container_t:s0");
    });
    assert_eq!((s.init_uid, s.init_gid), (Some(1000), Some(100)));
    assert_eq!(s.init_groups, [5, 27]);
    assert_eq!(s.umask, Some(0o22));
    assert_eq!(s.oom_score_adj, Some(-500));
    assert!(!s.terminal);
    assert_eq!(
        s.prlimits
            .iter()
            .map(|p| (p.resource, p.soft, p.hard))
            .collect::<Vec<_>>(),
        [(7, 1024, 4096), (4, 0, 0)]
    );
    assert_eq!(s.lsm.apparmor_profile.as_deref(), Some("hako-default"));
    assert_eq!(
        s.lsm.selinux_context.as_deref(),
        Some("system_u:system_r:container_t:s0")
    );
}

#[test]
fn all_five_capability_sets() {
    let s = ok(|v| {
        v["process"]["capabilities"] = json!({
            "bounding": ["CAP_SYS_ADMIN", "CAP_NET_ADMIN", "CAP_CHOWN"],
            "effective": ["CAP_CHOWN"],
            "inheritable": ["CAP_NET_ADMIN"],
            "permitted": ["CAP_CHOWN", "CAP_NET_ADMIN"],
            "ambient": ["CAP_NET_ADMIN"]
        });
    });
    let c = s.cap_sets.unwrap();
    assert_eq!(c.bounding, ["chown", "net_admin", "sys_admin"]);
    assert_eq!(c.effective, ["chown"]);
    assert_eq!(c.inheritable, ["net_admin"]);
    assert_eq!(c.permitted, ["chown", "net_admin"]);
    assert_eq!(c.ambient, ["net_admin"]);
    // the LXC model keeps the bounding set only
    assert_eq!(s.cap_keep.unwrap(), ["chown", "net_admin", "sys_admin"]);
}

#[test]
fn namespaces_new_and_joined() {
    let s = ok(|v| {
        v["linux"]["namespaces"] = json!([
            {"type": "pid"}, {"type": "mount"}, {"type": "cgroup"}, {"type": "time"},
            {"type": "network", "path": "/run/netns/web"},
            {"type": "ipc", "path": "/proc/42/ns/ipc"},
            {"type": "uts"}
        ]);
    });
    let ns = s.oci_namespaces.as_ref().unwrap();
    assert_eq!(
        ns.new,
        [
            NsKind::Pid,
            NsKind::Mount,
            NsKind::Cgroup,
            NsKind::Time,
            NsKind::Uts
        ]
    );
    assert_eq!(
        ns.join,
        [
            NsJoin {
                kind: NsKind::Net,
                path: "/run/netns/web".into()
            },
            NsJoin {
                kind: NsKind::Ipc,
                path: "/proc/42/ns/ipc".into()
            }
        ]
    );
    // a joined network namespace is not the host's
    assert!(!s.share_host_net);
    let u = s.unsupported_by_runtime();
    // joining is carried out (hako-runtime's nsjoin): only the time namespace is refused
    assert!(!u.iter().any(|l| l.contains("joining")), "{u:?}");
    assert!(
        u.contains(&"linux.namespaces: a new time namespace".to_string()),
        "{u:?}"
    );
}

#[test]
fn user_namespace_and_id_maps() {
    let s = ok(|v| {
        v["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "user"}));
        v["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        v["linux"]["gidMappings"] = json!([
            {"containerID": 0, "hostID": 100000, "size": 1000},
            {"containerID": 1000, "hostID": 200000, "size": 10}
        ]);
    });
    assert_eq!(s.id_maps.len(), 3);
    assert_eq!(
        s.id_maps[2],
        IdMap {
            kind: IdKind::Gid,
            container: 1000,
            host: 200000,
            count: 10
        }
    );
}

#[test]
fn mounts_binds_propagation_and_idmapped() {
    let s = ok(|v| {
        let m = v["mounts"].as_array_mut().unwrap();
        m.push(json!({"destination": "/data", "type": "bind", "source": "/srv/data", "options": ["rbind", "ro", "rslave"]}));
        m.push(json!({"destination": "/etc/hosts", "source": "hosts", "options": ["bind"]}));
        m.push(json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "ro", "rw", "size=10m", "mode=1777", "shared"]}));
        m.push(
            json!({"destination": "/home", "type": "bind", "source": "/home",
            "options": ["rbind", "idmap"],
            "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
            "gidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}]}),
        );
    });
    let find = |t: &str| s.mounts.iter().position(|m| m.target == t).unwrap();
    let data = &s.mounts[find("/data")];
    assert_eq!(data.flags, MS_BIND | MS_REC | MS_RDONLY | MS_SLAVE);
    assert_eq!(
        (data.source.as_str(), data.fstype.as_str()),
        ("/srv/data", "none")
    );
    // a relative bind source is the bundle's
    let hosts = &s.mounts[find("/etc/hosts")];
    assert_eq!((hosts.source.as_str(), hosts.flags), ("/b/hosts", MS_BIND));
    let tmp = &s.mounts[find("/tmp")];
    assert_eq!(tmp.flags, MS_NOSUID | MS_SHARED);
    assert_eq!(tmp.data, "size=10m,mode=1777");
    let home = find("/home");
    assert_eq!(s.mount_idmaps.len(), 1);
    let idm = &s.mount_idmaps[0];
    assert_eq!(idm.index, home);
    assert!(idm.recursive);
    assert_eq!(
        idm.maps,
        [
            IdMap {
                kind: IdKind::Uid,
                container: 0,
                host: 1000,
                count: 1
            },
            IdMap {
                kind: IdKind::Gid,
                container: 0,
                host: 1000,
                count: 1
            }
        ]
    );
    // the v2 form of the cgroup mount
    let s = ok(|v| {
        v["mounts"][6] = json!({"destination": "/sys/fs/cgroup", "type": "cgroup2", "source": "cgroup2", "options": ["nosuid"]});
    });
    assert_eq!(
        s.mount_auto.cgroup,
        Some(CgroupAuto {
            kind: CgroupKind::Cgroup2,
            mode: CgroupMode::Rw,
            force: true
        })
    );
}

#[test]
fn root_propagation_devices_sysctl_paths() {
    let s = ok(|v| {
        v["root"] = json!({"path": "/abs/root"});
        v["linux"]["rootfsPropagation"] = json!("rslave");
        v["linux"]["devices"] = json!([
            {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 438, "uid": 0, "gid": 0},
            {"path": "/dev/sda", "type": "b", "major": 8, "minor": 0},
            {"path": "/dev/fifo", "type": "p", "major": 0, "minor": 0}
        ]);
        v["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1", "kernel.shmmax": "65536"});
    });
    assert_eq!(s.rootfs, Path::new("/abs/root"));
    assert!(!s.rootfs_readonly);
    assert_eq!(s.rootfs_propagation, Some(MS_SLAVE | MS_REC));
    assert_eq!(
        s.devices[0],
        DeviceNode {
            path: "/dev/fuse".into(),
            kind: DeviceKind::Char,
            major: 10,
            minor: 229,
            file_mode: Some(0o666),
            uid: Some(0),
            gid: Some(0)
        }
    );
    assert_eq!(s.devices[1].kind, DeviceKind::Block);
    assert_eq!(s.devices[2].kind, DeviceKind::Fifo);
    let keys: Vec<(&str, &str)> = s
        .sysctls
        .iter()
        .map(|x| (x.key.as_str(), x.value.as_str()))
        .collect();
    assert_eq!(
        keys,
        [("kernel.shmmax", "65536"), ("net.ipv4.ip_forward", "1")]
    );
}

#[test]
fn hooks_of_every_stage() {
    let s = ok(|v| {
        let h = |p: &str| json!([{"path": p, "args": [p, "x"], "env": ["A=1"], "timeout": 5}]);
        v["hooks"] = json!({
            "prestart": h("/h/prestart"),
            "createRuntime": h("/h/cr"),
            "createContainer": h("/h/cc"),
            "startContainer": [{"path": "/h/sc"}],
            "poststart": h("/h/ps"),
            "poststop": h("/h/stop")
        });
    });
    let stages: Vec<OciHookStage> = s.oci_hooks.iter().map(|h| h.stage).collect();
    assert_eq!(stages, OciHookStage::ALL);
    let h = &s.oci_hooks[1];
    assert_eq!(h.path, Path::new("/h/cr"));
    assert_eq!(h.args, ["/h/cr", "x"]);
    assert_eq!(h.env, ["A=1"]);
    assert_eq!(h.timeout, Some(5));
    assert_eq!(s.oci_hooks[3].timeout, None);
    assert!(s.oci_hooks[3].args.is_empty());
    // every stage is carried out by the runtime (hako-runtime's hooks::oci)
    assert!(
        !s.unsupported_by_runtime()
            .iter()
            .any(|l| l.starts_with("hooks.")),
        "{:?}",
        s.unsupported_by_runtime()
    );
}

#[test]
fn resources_typed_for_v1_and_v2() {
    let s = ok(|v| {
        v["linux"]["resources"] = json!({
            "devices": [
                {"allow": false, "access": "rwm"},
                {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rw"},
                {"allow": true, "type": "c", "major": 136, "access": "rwm"}
            ],
            "memory": {"limit": 536870912, "reservation": 268435456, "swap": 1073741824, "swappiness": 10, "disableOOMKiller": false},
            "cpu": {"shares": 512, "quota": 20000, "period": 100000, "cpus": "0-1", "mems": "0"},
            "pids": {"limit": 100},
            "blockIO": {"weight": 300, "weightDevice": [{"major": 8, "minor": 0, "weight": 500}],
                "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}],
                "throttleWriteIOPSDevice": [{"major": 8, "minor": 0, "rate": 100}]},
            "hugepageLimits": [{"pageSize": "2MB", "limit": 209715200}],
            "unified": {"memory.high": "400M", "io.latency": "8:0 target=10"}
        });
    });
    let r = s.resources.unwrap();
    let rules: Vec<String> = r
        .devices
        .iter()
        .map(|d| format!("{} {}", d.allow, d.text()))
        .collect();
    assert_eq!(rules, ["false a", "true c 1:3 rw", "true c 136:* rwm"]);
    assert_eq!(r.memory.as_ref().unwrap().limit, Some(536870912));
    assert_eq!(r.cpu.as_ref().unwrap().cpus.as_deref(), Some("0-1"));
    assert_eq!(r.pids_limit, Some(100));
    let b = r.block_io.as_ref().unwrap();
    assert_eq!(
        (
            b.weight,
            b.weight_device.len(),
            b.read_bps.len(),
            b.write_iops.len()
        ),
        (Some(300), 1, 1, 1)
    );
    assert_eq!(r.hugepages, [("2MB".to_string(), 209715200)]);
    assert_eq!(r.unified.len(), 2);
    let mut no_swappiness = r.clone();
    no_swappiness.memory.as_mut().unwrap().swappiness = None;
    let v2 = no_swappiness.v2_writes().unwrap();
    assert!(v2.contains(&("memory.max".into(), "536870912".into())));
    assert!(v2.contains(&("memory.high".into(), "400M".into())));
    // v2 cannot set swappiness: an error there, never a silent skip
    let mut r2 = r.clone();
    r2.unified.clear();
    assert!(r2
        .v1_writes()
        .unwrap()
        .contains(&("memory.swappiness".into(), "10".into())));
    assert_eq!(
        r.v2_writes().unwrap_err(),
        "linux.resources.memory.swappiness: cgroup v2 has no per-cgroup swappiness; remove it on this host"
    );
    // pids: 0 and negative are no limit
    let s = ok(|v| v["linux"]["resources"] = json!({"pids": {"limit": -1}}));
    assert_eq!(s.resources.unwrap().pids_limit, Some(-1));
}

#[test]
fn cgroups_path_plain_and_systemd() {
    let s = ok(|v| v["linux"]["cgroupsPath"] = json!("/hako/c"));
    assert_eq!(s.cgroups_path, Some(CgroupsPath::Path("/hako/c".into())));
    let s = ok(|v| v["linux"]["cgroupsPath"] = json!("hako/c"));
    assert_eq!(s.cgroups_path, Some(CgroupsPath::Path("hako/c".into())));
    let mut v: Value = serde_json::from_str(RUNC_SPEC).unwrap();
    v["linux"]["cgroupsPath"] = json!("system.slice:hako:c");
    let opts = OciOptions {
        systemd_cgroup: true,
    };
    let s = from_bundle_config("c", Path::new("/b"), &v.to_string(), &opts).unwrap();
    assert_eq!(
        s.cgroups_path,
        Some(CgroupsPath::Systemd {
            slice: "system.slice".into(),
            prefix: "hako".into(),
            name: "c".into()
        })
    );
    v["linux"]["cgroupsPath"] = json!(":hako:c");
    let s = from_bundle_config("c", Path::new("/b"), &v.to_string(), &opts).unwrap();
    assert_eq!(
        s.cgroups_path,
        Some(CgroupsPath::Systemd {
            slice: "".into(),
            prefix: "hako".into(),
            name: "c".into()
        })
    );
}

#[test]
fn seccomp_in_oci_format_compiles() {
    let s = ok(|v| {
        v["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "defaultErrnoRet": 38,
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [
                {"names": ["read", "write", "exit_group", "nosuchcall"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
                {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]}
            ]
        });
    });
    assert_eq!(s.seccomp.len(), 1);
    assert!(s.seccomp[0].insns.len() > 10);
    assert_eq!(s.seccomp[0].origin, "/b/config.json (linux.seccomp)");
    assert_eq!(
        s.warnings,
        ["container \"c\": /b/config.json: linux.seccomp.syscalls[0]: unknown system call \"nosuchcall\" skipped (it is not allowed); check the spelling (names as in the kernel's unistd.h, e.g. open_by_handle_at)"]
    );
}

#[test]
fn annotations_domainname_and_no_linux() {
    let s = ok(|v| {
        v["annotations"] = json!({"org.example.key": "value", "b": "2"});
        v["domainname"] = json!("example.org");
    });
    assert_eq!(
        s.annotations.get("org.example.key").map(String::as_str),
        Some("value")
    );
    assert_eq!(s.annotations.len(), 2);
    assert_eq!(s.domainname.as_deref(), Some("example.org"));
    // no `linux` at all: every namespace the host's, nothing else asked
    let s = map(r#"{"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "process": {"args": ["sh"], "cwd": "/", "user": {"uid": 0, "gid": 0}}}"#).unwrap();
    assert!(s.share_host_net && s.resources.is_none() && s.seccomp.is_empty());
}
