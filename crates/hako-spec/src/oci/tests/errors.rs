//! Every bad input: the exact message, with the JSON path, the cause and the fix.

use super::*;

fn raw(text: &str) -> String {
    map(text).map(|_| ()).unwrap_err().to_string()
}

/// Each case: its name, what it gives.
#[test]
fn every_bad_input_names_the_path_the_cause_and_the_fix() {
    let cases: Vec<(&str, String)> = vec![
        ("not json", raw("{\"ociVersion\": ")),
        ("not object", raw("[1]")),
        (
            "unknown ns",
            why(|v| v["linux"]["namespaces"][2]["type"] = json!("foo")),
        ),
        (
            "relative root bundle rel",
            from_bundle_config("c", Path::new("bundle"), RUNC_SPEC, &OciOptions::default())
                .unwrap_err()
                .to_string(),
        ),
        ("empty root", why(|v| v["root"]["path"] = json!(""))),
        (
            "no root",
            why(|v| {
                v.as_object_mut().unwrap().remove("root");
            }),
        ),
        (
            "notify",
            why(
                |v| v["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mount"], "action": "SCMP_ACT_NOTIFY"}]}),
            ),
        ),
        (
            "bad action",
            why(|v| v["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_FOO"})),
        ),
        (
            "listener",
            why(|v| {
                v["linux"]["seccomp"] =
                    json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/s.sock"})
            }),
        ),
        (
            "tmpfs opt",
            why(|v| v["mounts"][1]["options"] = json!(["nosuid", "bogus=1"])),
        ),
        (
            "sysfs opt",
            why(|v| v["mounts"][5]["options"] = json!(["ro", "whatever"])),
        ),
        (
            "lxc opt",
            why(|v| v["mounts"][1]["options"] = json!(["create=dir"])),
        ),
        ("rro", why(|v| v["mounts"][1]["options"] = json!(["rro"]))),
        (
            "unknown type",
            why(|v| v["mounts"][0]["type"] = json!("overlay")),
        ),
        (
            "no type",
            why(|v| v["mounts"][0] = json!({"destination": "/x", "source": "/y"})),
        ),
        (
            "rel dest",
            why(|v| v["mounts"][0]["destination"] = json!("proc")),
        ),
        (
            "rel hook",
            why(|v| v["hooks"] = json!({"prestart": [{"path": "hook.sh"}]})),
        ),
        (
            "hook timeout",
            why(|v| v["hooks"] = json!({"poststop": [{"path": "/h", "timeout": 0}]})),
        ),
        ("unknown member", why(|v| v["linux"]["bogus"] = json!(1))),
        (
            "unknown members",
            why(|v| {
                v["process"]["frobnicate"] = json!(true);
                v["linux"]["resources"]["memory"] = json!({"limit": 1, "swapLimit": 2});
            }),
        ),
        (
            "dup ns",
            why(|v| v["linux"]["namespaces"][1] = json!({"type": "pid"})),
        ),
        (
            "rel ns path",
            why(|v| v["linux"]["namespaces"][1] = json!({"type": "network", "path": "netns"})),
        ),
        (
            "maps no userns",
            why(|v| {
                v["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 1000, "size": 1}])
            }),
        ),
        (
            "userns no maps",
            why(|v| {
                v["linux"]["namespaces"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"type": "user"}))
            }),
        ),
        (
            "bad cap",
            why(|v| v["process"]["capabilities"]["bounding"] = json!(["CAP_FLY"])),
        ),
        (
            "bad rlimit",
            why(|v| v["process"]["rlimits"][0]["type"] = json!("RLIMIT_FOO")),
        ),
        (
            "dup rlimit",
            why(
                |v| v["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": 1, "hard": 1}, {"type": "RLIMIT_NOFILE", "soft": 1, "hard": 1}]),
            ),
        ),
        (
            "soft>hard",
            why(|v| {
                v["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": 2, "hard": 1}])
            }),
        ),
        ("no args", why(|v| v["process"]["args"] = json!([]))),
        ("rel cwd", why(|v| v["process"]["cwd"] = json!("home"))),
        ("bad env", why(|v| v["process"]["env"] = json!(["PATH"]))),
        (
            "no process",
            why(|v| {
                v.as_object_mut().unwrap().remove("process");
            }),
        ),
        (
            "sysctl host",
            why(|v| v["linux"]["sysctl"] = json!({"kernel.core_pattern": "x"})),
        ),
        (
            "sysctl net host",
            why(|v| {
                v.as_object_mut().unwrap().remove("hostname");
                v["linux"]["namespaces"] = json!([{"type": "mount"}]);
                v["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
            }),
        ),
        (
            "systemd bad",
            from_bundle_config(
                "c",
                Path::new("/b"),
                &{
                    let mut v: Value = serde_json::from_str(RUNC_SPEC).unwrap();
                    v["linux"]["cgroupsPath"] = json!("/a/b");
                    v.to_string()
                },
                &OciOptions {
                    systemd_cgroup: true,
                },
            )
            .unwrap_err()
            .to_string(),
        ),
        (
            "plain colon",
            why(|v| v["linux"]["cgroupsPath"] = json!("system.slice:hako:c")),
        ),
        (
            "dotdot",
            why(|v| v["linux"]["cgroupsPath"] = json!("/a/../../b")),
        ),
        ("version", why(|v| v["ociVersion"] = json!("2.0.0"))),
        (
            "personality",
            why(|v| v["linux"]["personality"] = json!({"domain": "LINUX32"})),
        ),
        (
            "propagation",
            why(|v| v["linux"]["rootfsPropagation"] = json!("sideways")),
        ),
        (
            "masked rel",
            why(|v| v["linux"]["maskedPaths"][0] = json!("proc/kcore")),
        ),
        (
            "hostname no uts",
            why(|v| v["linux"]["namespaces"] = json!([{"type": "mount"}])),
        ),
        (
            "device a",
            why(|v| {
                v["linux"]["devices"] =
                    json!([{"path": "/dev/x", "type": "a", "major": 1, "minor": 1}])
            }),
        ),
        (
            "access",
            why(|v| v["linux"]["resources"]["devices"][0]["access"] = json!("rwx")),
        ),
        (
            "unified",
            why(|v| v["linux"]["resources"]["unified"] = json!({"cgroup.procs": "1"})),
        ),
        (
            "hugepage",
            why(|v| {
                v["linux"]["resources"]["hugepageLimits"] = json!([{"pageSize": "2M", "limit": 1}])
            }),
        ),
        (
            "network res",
            why(|v| v["linux"]["resources"]["network"] = json!({"classID": 1})),
        ),
        (
            "idmap on tmpfs",
            why(|v| v["mounts"][1]["options"] = json!(["idmap"])),
        ),
        (
            "idmap one map",
            why(|v| {
                v["mounts"].as_array_mut().unwrap().push(json!({"destination": "/h", "type": "bind", "source": "/h", "options": ["rbind"], "uidMappings": [{"containerID": 0, "hostID": 1, "size": 1}]}))
            }),
        ),
        (
            "wrong type",
            why(|v| v["process"]["user"]["uid"] = json!("root")),
        ),
        (
            "umask",
            why(|v| v["process"]["user"]["umask"] = json!(1000)),
        ),
        (
            "overlap",
            why(|v| {
                v["linux"]["namespaces"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"type": "user"}));
                v["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 1000, "size": 10}, {"containerID": 5, "hostID": 5000, "size": 1}]);
                v["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 1000, "size": 10}]);
            }),
        ),
        (
            "username",
            why(|v| v["process"]["user"]["username"] = json!("root")),
        ),
        (
            "flags",
            why(|v| {
                v["linux"]["seccomp"] =
                    json!({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_LOG"]})
            }),
        ),
        (
            "windows",
            why(|v| v["windows"] = json!({"layerFolders": []})),
        ),
    ];
    assert_eq!(cases.len(), EXPECTED.len());
    for ((name, got), (ename, want)) in cases.iter().zip(EXPECTED) {
        assert_eq!(name, ename);
        assert_eq!(got, want, "case \"{name}\"");
    }
}

/// The messages, exactly (after `/b/config.json: container "c": ` where the case strips it).
const EXPECTED: &[(&str, &str)] = &[
    ("not json", "/b/config.json: container \"c\": config.json is not JSON: EOF while parsing a value at line 1 column 15; fix the file (`runc spec` writes a valid example)"),
    ("not object", "/b/config.json: container \"c\": config.json is not a JSON object; it holds one object with ociVersion, root, process...; fix the file"),
    ("unknown ns", "linux.namespaces[2].type: unknown variant `foo`, expected one of `mount`, `cgroup`, `uts`, `ipc`, `user`, `pid`, `network`, `time`; fix the value (see the OCI runtime spec, config.md)"),
    ("relative root bundle rel", "bundle/config.json: container \"c\": root.path: \"rootfs\" is relative to the bundle, and the bundle directory \"bundle\" is relative too; give the bundle as an absolute path (--bundle /path/to/bundle) or this path as an absolute one"),
    ("empty root", "root.path: empty path; give a path (relative ones are relative to the bundle)"),
    ("no root", "root: missing; add \"root\": {\"path\": \"rootfs\"} naming the root filesystem's directory"),
    ("notify", "linux.seccomp.syscalls[0].action: SCMP_ACT_NOTIFY (a supervisor in user space answering system calls) is not supported by hako yet; use SCMP_ACT_ERRNO or another action"),
    ("bad action", "linux.seccomp.defaultAction: unknown variant `SCMP_ACT_FOO`, expected one of `SCMP_ACT_KILL`, `SCMP_ACT_KILL_THREAD`, `SCMP_ACT_KILL_PROCESS`, `SCMP_ACT_TRAP`, `SCMP_ACT_ERRNO`, `SCMP_ACT_NOTIFY`, `SCMP_ACT_TRACE`, `SCMP_ACT_LOG`, `SCMP_ACT_ALLOW`; fix the value (see the OCI runtime spec, config.md)"),
    ("listener", "linux.seccomp.listenerPath: \"/run/s.sock\": seccomp notifications (a supervisor in user space answering system calls) are not supported by hako yet; remove listenerPath and every SCMP_ACT_NOTIFY"),
    ("tmpfs opt", "mounts[1].options[1]: \"bogus=1\" is not an option hako knows for tmpfs; a tmpfs mount takes mount flags and size, mode, uid, gid, nr_inodes, nr_blocks, mpol, huge, inode64, noswap; fix or remove it"),
    ("sysfs opt", "mounts[5].options[1]: \"whatever\" is not an option hako knows for sysfs; a sysfs mount takes only mount flags (ro, nosuid, nodev, noexec, relatime...); fix or remove it"),
    ("lxc opt", "mounts[1].options[0]: \"create=dir\" is an LXC mount option, not an OCI one; remove it"),
    ("rro", "mounts[1].options[0]: \"rro\": recursive mount attributes (mount_setattr) are not supported by hako yet; use the non-recursive option or remove it"),
    ("unknown type", "mounts[0].type: \"overlay\": hako mounts bind, tmpfs, proc, sysfs, cgroup, cgroup2, mqueue and devpts from config.json, not this type yet; remove the mount or mount it with a hook"),
    ("no type", "mounts[0].type: no filesystem type, and no bind or rbind option; give a type (tmpfs, proc...) or add \"rbind\" for a bind mount"),
    ("rel dest", "mounts[0].destination: \"proc\" is not an absolute path; give the mount point as a path inside the container starting with /"),
    ("rel hook", "hooks.prestart[0].path: \"hook.sh\" is relative; give the hook program's absolute path (hooks run in the runtime's namespace, where a relative path means nothing)"),
    ("hook timeout", "hooks.poststop[0].timeout: 0 is not a timeout; give a positive number of seconds, or remove it for none"),
    ("unknown member", "linux.bogus: hako does not know this member, and a setting it cannot read is one it cannot honour; remove it or fix its spelling"),
    ("unknown members", "linux.resources.memory.swapLimit: hako does not know this member (and 1 more: process.frobnicate), and a setting it cannot read is one it cannot honour; remove it or fix its spelling"),
    ("dup ns", "linux.namespaces[1].type: \"pid\" is listed twice; keep one entry per namespace type"),
    ("rel ns path", "linux.namespaces[1].path: \"netns\" is relative; give the namespace file's absolute path (e.g. /proc/PID/ns/net), or remove path for a new namespace"),
    ("maps no userns", "linux.uidMappings: id maps need a new user namespace; add {\"type\": \"user\"} to linux.namespaces or remove the maps"),
    ("userns no maps", "linux.uidMappings: a new user namespace needs both uid and gid maps; add e.g. [{\"containerID\": 0, \"hostID\": 100000, \"size\": 65536}]"),
    ("bad cap", "process.capabilities.bounding[0]: no variant for CAP_FLY (converted to FLY); fix the value (see the OCI runtime spec, config.md)"),
    ("bad rlimit", "process.rlimits[0].type: unknown variant `RLIMIT_FOO`, expected one of `RLIMIT_CPU`, `RLIMIT_FSIZE`, `RLIMIT_DATA`, `RLIMIT_STACK`, `RLIMIT_CORE`, `RLIMIT_RSS`, `RLIMIT_NPROC`, `RLIMIT_NOFILE`, `RLIMIT_MEMLOCK`, `RLIMIT_AS`, `RLIMIT_LOCKS`, `RLIMIT_SIGPENDING`, `RLIMIT_MSGQUEUE`, `RLIMIT_NICE`, `RLIMIT_RTPRIO`, `RLIMIT_RTTIME`; fix the value (see the OCI runtime spec, config.md)"),
    ("dup rlimit", "process.rlimits[1].type: RLIMIT_NOFILE is set twice; keep one entry"),
    ("soft>hard", "process.rlimits[0]: soft limit 2 is above hard limit 1; lower soft or raise hard"),
    ("no args", "process.args: no program given; list the program and its arguments, e.g. [\"sh\"]"),
    ("rel cwd", "process.cwd: \"home\" is not an absolute path; give the working directory as a path inside the container starting with /"),
    ("bad env", "process.env[0]: \"PATH\" is not NAME=VALUE; write it as NAME=VALUE"),
    ("no process", "process: missing; `create` needs the program to run: add \"process\": {\"args\": [...], \"cwd\": \"/\", \"user\": {\"uid\": 0, \"gid\": 0}}"),
    ("sysctl host", "linux.sysctl.kernel.core_pattern: cannot be set: it is not a namespaced parameter: setting it would change it for the whole host; a container may set net.*, kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*, kernel.hostname and kernel.domainname; remove it from linux.sysctl (set host parameters on the host)"),
    ("sysctl net host", "linux.sysctl.net.ipv4.ip_forward: cannot be set: the container shares the host's network namespace (no network namespace in linux.namespaces), so it would change the host's network settings; give the container a network namespace of its own or remove it from linux.sysctl"),
    ("systemd bad", "/b/config.json: container \"c\": linux.cgroupsPath: \"/a/b\" is not slice:prefix:name, which --systemd-cgroup needs (e.g. system.slice:hako:ID); fix it or drop --systemd-cgroup"),
    ("plain colon", "linux.cgroupsPath: \"system.slice:hako:c\" looks like systemd's slice:prefix:name; pass --systemd-cgroup, or give a path"),
    ("dotdot", "linux.cgroupsPath: \"/a/../../b\" has a .. component, which would leave the cgroup tree; give a path without .."),
    ("version", "ociVersion: \"2.0.0\": hako reads runtime spec 1.x; write the file for 1.x"),
    ("personality", "linux.personality: this setting is not supported by hako yet, and it does not run a container without a setting it asks for; remove it"),
    ("propagation", "linux.rootfsPropagation: \"sideways\" is not a propagation; use shared, slave, private, unbindable or their r- (recursive) forms"),
    ("masked rel", "linux.maskedPaths[0]: \"proc/kcore\" is not an absolute path; give the path as a path inside the container starting with /"),
    ("hostname no uts", "hostname: setting a host name needs a UTS namespace of the container's own; add {\"type\": \"uts\"} to linux.namespaces or remove hostname"),
    ("device a", "linux.devices[0].type: \"a\" is a cgroup rule's type, not a device node's; use c, b, u or p"),
    ("access", "linux.resources.devices[0].access: \"rwx\" is not an access; use some of r, w and m (e.g. \"rwm\")"),
    ("unified", "linux.resources.unified.cgroup.procs: not a controller file of the container's cgroup; give CONTROLLER.FILE such as memory.high (cgroup.* files are the runtime's)"),
    ("hugepage", "linux.resources.hugepageLimits[0].pageSize: \"2M\" is not a page size; write it as the kernel names it, e.g. 2MB or 1GB"),
    ("network res", "linux.resources.network: the net_cls/net_prio setting is not supported by hako yet, and it does not run a container without a setting it asks for; remove it"),
    ("idmap on tmpfs", "mounts[1]: an idmapped mount is a bind mount; a tmpfs mount cannot be idmapped: remove its uidMappings/gidMappings and idmap option"),
    ("idmap one map", "mounts[7]: an idmapped mount needs both uidMappings and gidMappings; add the missing one"),
    ("wrong type", "process.user.uid: invalid type: string \"root\", expected u32; fix the value (see the OCI runtime spec, config.md)"),
    ("umask", "process.user.umask: 1000 (octal 1750) is not a umask; give permission bits, 0 to 511 (0777)"),
    ("overlap", "linux.uidMappings[1]: overlaps linux.uidMappings[0]; a user namespace maps each id once: make the ranges disjoint"),
    ("username", "process.user.username: this setting is not supported by hako yet, and it does not run a container without a setting it asks for; remove it"),
    ("flags", "linux.seccomp.flags: SECCOMP_FILTER_FLAG_LOG: hako installs its filters without flags and cannot honour it yet; remove the flags"),
    ("windows", "windows: not a member of a Linux container's config.json (hako runs Linux containers); remove it"),
];
