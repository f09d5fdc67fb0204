//! Tests of the OCI front end: runc's own `runc spec` files map fully; one test per group
//! of fields (fields.rs); every bad input with its exact message (errors.rs).

use std::path::Path;

use serde_json::{json, Value};

use super::*;
use crate::ext::*;
use crate::mount::flags::*;
use crate::mount::{CgroupAuto, CgroupKind, CgroupMode};
use crate::spec::{IdKind, IdMap, Prlimit};

mod errors;
mod fields;

/// `runc spec` (runc 1.1.5) as it writes it.
const RUNC_SPEC: &str = include_str!("../../../tests/fixtures/oci/runc-spec.json");
/// `runc spec --rootless`.
const RUNC_ROOTLESS: &str = include_str!("../../../tests/fixtures/oci/runc-spec-rootless.json");

fn map(text: &str) -> Result<ContainerSpec> {
    from_bundle_config("c", Path::new("/b"), text, &OciOptions::default())
}

/// runc's default spec, changed by `f`.
fn with(f: impl FnOnce(&mut Value)) -> Result<ContainerSpec> {
    let mut v: Value = serde_json::from_str(RUNC_SPEC).unwrap();
    f(&mut v);
    map(&v.to_string())
}

fn ok(f: impl FnOnce(&mut Value)) -> ContainerSpec {
    with(f).unwrap_or_else(|e| panic!("{e}"))
}

fn err(f: impl FnOnce(&mut Value)) -> String {
    match with(f) {
        Ok(_) => panic!("no error"),
        Err(e) => e.to_string(),
    }
}

/// The error text after the place and the container (`/b/config.json: container "c": `).
fn why(f: impl FnOnce(&mut Value)) -> String {
    let e = err(f);
    e.strip_prefix("/b/config.json: container \"c\": ")
        .unwrap_or_else(|| panic!("{e}"))
        .to_string()
}

#[test]
fn runc_default_spec_maps_fully() {
    let s = map(RUNC_SPEC).unwrap();
    assert_eq!(s.name, "c");
    assert_eq!(s.rootfs, Path::new("/b/rootfs"));
    assert!(s.rootfs_readonly);
    assert_eq!(s.init_cmd, ["sh"]);
    assert_eq!(s.init_cwd.as_deref(), Some(Path::new("/")));
    assert_eq!((s.init_uid, s.init_gid), (Some(0), Some(0)));
    assert!(s.terminal && s.env_exact && s.no_new_privs);
    assert_eq!(
        s.env,
        [
            (
                "PATH".to_string(),
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string()
            ),
            ("TERM".to_string(), "xterm".to_string())
        ]
    );
    let caps = s.cap_sets.as_ref().unwrap();
    let three = ["audit_write", "kill", "net_bind_service"];
    assert_eq!(caps.bounding, three);
    assert_eq!(caps.effective, three);
    assert_eq!(caps.permitted, three);
    assert_eq!(caps.ambient, three);
    assert!(caps.inheritable.is_empty());
    assert_eq!(s.cap_keep.as_deref(), Some(&three.map(String::from)[..]));
    assert_eq!(
        s.prlimits,
        [Prlimit {
            resource: 7,
            soft: 1024,
            hard: 1024
        }]
    );
    assert_eq!(s.hostname, "runc");
    let targets: Vec<&str> = s.mounts.iter().map(|m| m.target.as_str()).collect();
    assert_eq!(
        targets,
        [
            "/proc",
            "/dev",
            "/dev/pts",
            "/dev/shm",
            "/dev/mqueue",
            "/sys"
        ]
    );
    let dev = &s.mounts[1];
    assert_eq!(
        (
            dev.source.as_str(),
            dev.fstype.as_str(),
            dev.flags,
            dev.data.as_str()
        ),
        (
            "tmpfs",
            "tmpfs",
            MS_NOSUID | MS_STRICTATIME,
            "mode=755,size=65536k"
        )
    );
    assert_eq!(
        s.mounts[2].data,
        "newinstance,ptmxmode=0666,mode=0620,gid=5"
    );
    assert_eq!(
        s.mounts[5].flags,
        MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RDONLY
    );
    assert!(s.mounts.iter().all(|m| m.create_dir && !m.is_bind()));
    assert_eq!(
        s.mount_auto.cgroup,
        Some(CgroupAuto {
            kind: CgroupKind::Cgroup,
            mode: CgroupMode::Ro,
            force: true
        })
    );
    let ns = s.oci_namespaces.as_ref().unwrap();
    assert_eq!(
        ns.new,
        [
            NsKind::Pid,
            NsKind::Net,
            NsKind::Ipc,
            NsKind::Uts,
            NsKind::Mount
        ]
    );
    assert!(ns.join.is_empty() && !s.share_host_net && s.id_maps.is_empty());
    assert_eq!(s.masked_paths.len(), 10);
    assert_eq!(s.readonly_paths[3], "/proc/sys");
    let r = s.resources.as_ref().unwrap();
    assert_eq!(r.devices.len(), 1);
    assert_eq!(r.devices[0].text(), "a");
    assert!(!r.devices[0].allow);
    assert!(s.seccomp.is_empty() && s.oci_hooks.is_empty() && s.warnings.is_empty());
    // the runtime carries out all of it
    assert_eq!(s.unsupported_by_runtime(), Vec::<String>::new());
}

#[test]
fn runc_rootless_spec_maps_fully() {
    let s = map(RUNC_ROOTLESS).unwrap();
    assert_eq!(
        s.id_maps,
        [
            IdMap {
                kind: IdKind::Uid,
                container: 0,
                host: 0,
                count: 1
            },
            IdMap {
                kind: IdKind::Gid,
                container: 0,
                host: 0,
                count: 1
            }
        ]
    );
    assert!(s
        .oci_namespaces
        .as_ref()
        .unwrap()
        .new
        .contains(&NsKind::User));
    // no network namespace: the host's
    assert!(s.share_host_net);
    let sys = s.mounts.iter().find(|m| m.target == "/sys").unwrap();
    assert_eq!((sys.source.as_str(), sys.fstype.as_str()), ("/sys", "none"));
    assert_eq!(
        sys.flags,
        MS_BIND | MS_REC | MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RDONLY
    );
    assert!(!sys.create_dir);
    assert!(s.resources.is_none());
    assert!(s.mount_idmaps.is_empty());
}

#[test]
fn an_lxc_like_minimal_config() {
    let s = map(r#"{"ociVersion": "1.1.0", "root": {"path": "/srv/root"}, "process": {"args": ["/bin/true"], "cwd": "/", "user": {"uid": 1000, "gid": 1000}}}"#).unwrap();
    assert_eq!(s.rootfs, Path::new("/srv/root"));
    assert!(!s.rootfs_readonly && s.share_host_net);
    assert!(s.cap_sets.is_none() && s.cap_drop.is_empty() && s.cap_keep.is_none());
    assert_eq!(s.oci_namespaces, Some(NsRequest::default()));
    assert!(s.mounts.is_empty() && s.mount_auto.is_empty());
    assert_eq!(s.lxcpath, Path::new("/b"));
    assert_eq!(s.config_path, Path::new("/b/config.json"));
    assert_eq!(s.init_uid, Some(1000));
}

#[test]
fn dropped_members_are_found_at_any_depth() {
    let input = json!({"a": 1, "b": {"c": [ {"d": 1, "e": 2}, {"d": 1} ], "n": null}, "annotations": {"x": 1}});
    let kept = json!({"a": 1, "b": {"c": [ {"d": 1}, {"d": 1} ]}, "annotations": {}});
    let mut out = Vec::new();
    dropped_members(&input, &kept, "", &mut out);
    assert_eq!(out, ["b.c[0].e"]);
}

/// Every member of a Linux config.json in runtime spec 1.2 (and some of 1.3).
const EVERY_MEMBER: &str = include_str!("../../../tests/fixtures/oci/every-member-1.2.json");

/// What oci-spec's types would drop of a runtime spec 1.2 config.json: each of these is
/// refused by name instead (the round trip finds them).
#[test]
fn members_oci_spec_drops() {
    let input: Value = serde_json::from_str(EVERY_MEMBER).unwrap();
    let spec: oci_spec::runtime::Spec = serde_json::from_value(input.clone()).unwrap();
    let kept = serde_json::to_value(&spec).unwrap();
    let mut out = Vec::new();
    dropped_members(&input, &kept, "", &mut out);
    // runtime spec 1.2's intelRdt.enableCMT/enableMBM (1.3 has enableMonitoring); and
    // oci-spec spells process.scheduler.flags' SCHED_FLAG_RESET_ON_FORK without FLAG_
    // (refused as an unknown value), so the fixture uses another flag
    assert_eq!(
        out,
        ["linux.intelRdt.enableCMT", "linux.intelRdt.enableMBM"]
    );
    assert_eq!(
        map(EVERY_MEMBER).unwrap_err().to_string(),
        "/b/config.json: container \"c\": linux.intelRdt.enableCMT: hako does not know this member (and 1 more: linux.intelRdt.enableMBM), and a setting it cannot read is one it cannot honour; remove it or fix its spelling"
    );
}
