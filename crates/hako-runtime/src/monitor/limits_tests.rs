//! The cgroup plan on v1, hybrid and v2 layouts, and its executor on a fake tree.

use std::fs;
use std::path::{Path, PathBuf};

use hako_cgroups::{CgroupDir, Hierarchy, Mode};

use super::*;

fn spec(text: &str) -> ContainerSpec {
    let cfg = hako_config::load_str(text, Path::new("/l/c/config")).unwrap();
    hako_spec::lxc::from_config(
        "c",
        Path::new("/l"),
        Path::new("/l/c/config"),
        &cfg,
        &hako_spec::FixedInputs::new(),
    )
    .unwrap()
}

/// A host with the given hierarchies (mount point name, version, controllers) under
/// `root`, and the container's cgroup "hako.payload.c" in each.
fn layout(root: &Path, mode: Mode, hs: &[(&str, u8, &[&str])]) -> (Host, Cgroup) {
    let mut hierarchies = Vec::new();
    let mut dirs = Vec::new();
    for (dir, version, ctrl) in hs {
        let controllers: Vec<String> = ctrl.iter().map(|c| c.to_string()).collect();
        let mountpoint = root.join(dir);
        hierarchies.push(Hierarchy {
            mountpoint: mountpoint.clone(),
            root: PathBuf::from("/"),
            version: *version,
            controllers: controllers.clone(),
        });
        dirs.push(CgroupDir {
            path: mountpoint.join("hako.payload.c"),
            version: *version,
            controllers,
            ino: 0,
        });
    }
    let host = Host {
        mode,
        hierarchies,
        fs_root: root.to_path_buf(),
    };
    let cg = Cgroup::from_parts("hako.payload.c".into(), mode, dirs, Vec::new());
    (host, cg)
}

fn hybrid(root: &Path) -> (Host, Cgroup) {
    layout(
        root,
        Mode::Hybrid,
        &[
            ("memory", 1, &["memory"]),
            ("devices", 1, &["devices"]),
            ("unified", 2, &[]),
        ],
    )
}

fn legacy(root: &Path) -> (Host, Cgroup) {
    layout(root, Mode::Legacy, &[("memory", 1, &["memory"])])
}

fn unified(root: &Path) -> (Host, Cgroup) {
    layout(root, Mode::Unified, &[("", 2, &["memory", "pids"])])
}

const LIMITS: &str = "lxc.cgroup.memory.limit_in_bytes = 256M\n\
lxc.cgroup2.memory.max = 268435456\n\
lxc.cgroup.devices.allow = c 254:100 rwm\n\
lxc.cgroup2.devices.allow = b 8:0 r\n";

fn files<'a>(p: &'a LimitPlan<'_>) -> Vec<(&'a str, &'a str, &'a Path)> {
    p.writes
        .iter()
        .map(|w| (w.origin, w.value, w.file.as_deref().expect("a file")))
        .collect()
}

#[test]
fn hybrid_writes_v1_and_v2_keys_and_the_v1_device_rules() {
    let r = Path::new("/h");
    let (host, cg) = hybrid(r);
    let s = spec(LIMITS);
    let p = plan(&host, &cg, &s);
    assert_eq!(
        files(&p),
        [
            (
                "lxc.cgroup",
                "256M",
                Path::new("/h/memory/hako.payload.c/memory.limit_in_bytes")
            ),
            (
                "lxc.cgroup2",
                "268435456",
                Path::new("/h/unified/hako.payload.c/memory.max")
            ),
        ]
    );
    let d = p.devices.as_ref().unwrap();
    assert!(d.apply);
    let mut want = hako_cgroups::default_device_rules();
    want.push(DeviceRule::parse(true, "c 254:100 rwm").unwrap());
    assert_eq!(d.rules, want);
    assert_eq!(p.inner, s.cgroup_inner);
}

#[test]
fn pure_v1_ignores_cgroup2_keys() {
    let (host, cg) = legacy(Path::new("/h"));
    let s = spec(LIMITS);
    let p = plan(&host, &cg, &s);
    assert_eq!(files(&p).len(), 1);
    assert_eq!(p.writes[0].key, "memory.limit_in_bytes");
    // no devices controller and no cgroup2: the rules are only recorded (v2's keys)
    let d = p.devices.unwrap();
    assert!(!d.apply);
    assert_eq!(
        d.rules.last().unwrap(),
        &DeviceRule::parse(true, "b 8:0 r").unwrap()
    );
}

#[test]
fn pure_v2_ignores_v1_keys_and_takes_the_cgroup2_device_rules() {
    let (host, cg) = unified(Path::new("/h"));
    let s = spec(LIMITS);
    let p = plan(&host, &cg, &s);
    assert_eq!(
        files(&p),
        [(
            "lxc.cgroup2",
            "268435456",
            Path::new("/h/hako.payload.c/memory.max")
        )]
    );
    let d = p.devices.unwrap();
    assert!(d.apply);
    assert_eq!(
        d.rules.last().unwrap(),
        &DeviceRule::parse(true, "b 8:0 r").unwrap()
    );
}

#[test]
fn deny_all_drops_the_default_rules() {
    let (host, cg) = hybrid(Path::new("/h"));
    let s = spec("lxc.cgroup.devices.deny = a\nlxc.cgroup.devices.allow = c 1:3 rw\n");
    let d = plan(&host, &cg, &s).devices.unwrap();
    assert_eq!(
        d.rules,
        [
            DeviceRule::parse(false, "a").unwrap(),
            DeviceRule::parse(true, "c 1:3 rw").unwrap()
        ]
    );
}

#[test]
fn an_unknown_controller_is_planned_as_a_failure_in_its_place() {
    let t = tempfile::tempdir().unwrap();
    let (host, cg) = hybrid(t.path());
    let s = spec("lxc.cgroup.nosuch.file = 1\nlxc.cgroup.memory.limit_in_bytes = 1G\n");
    let p = plan(&host, &cg, &s);
    assert!(p.writes[0].file.is_err());
    assert!(p.writes[1].file.is_ok());
    let e = apply(&cg, "c", p).unwrap_err().to_string();
    assert!(
        e.starts_with("container \"c\": cannot apply lxc.cgroup.nosuch.file = 1: "),
        "{e}"
    );
    // stopped at the first failure: nothing was written
    assert!(!t.path().join("memory").exists());
}

fn touch(p: &Path) {
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, "").unwrap();
}

#[test]
fn apply_writes_the_planned_files_then_the_v1_device_policy() {
    let t = tempfile::tempdir().unwrap();
    let (host, cg) = hybrid(t.path());
    let mem = t.path().join("memory/hako.payload.c/memory.limit_in_bytes");
    let max = t.path().join("unified/hako.payload.c/memory.max");
    let dev = t.path().join("devices/hako.payload.c");
    for f in [
        &mem,
        &max,
        &dev.join("devices.allow"),
        &dev.join("devices.deny"),
    ] {
        touch(f);
    }
    let s = spec(LIMITS);
    let (rules, prog) = apply(&cg, "c", plan(&host, &cg, &s)).unwrap();
    assert!(prog.is_none(), "v1 devices: files, no program");
    assert_eq!(fs::read_to_string(&mem).unwrap(), "256M");
    assert_eq!(fs::read_to_string(&max).unwrap(), "268435456");
    // regular files keep the last write (no truncation: it is the longest): the
    // config's rule came last
    assert_eq!(
        fs::read_to_string(dev.join("devices.allow")).unwrap(),
        "c 254:100 rwm"
    );
    assert_eq!(fs::read_to_string(dev.join("devices.deny")).unwrap(), "a");
    assert_eq!(rules.len(), hako_cgroups::default_device_rules().len() + 1);
}

#[test]
fn a_bad_device_rule_fails_after_the_writes() {
    let t = tempfile::tempdir().unwrap();
    let (host, cg) = hybrid(t.path());
    let mem = t.path().join("memory/hako.payload.c/memory.limit_in_bytes");
    touch(&mem);
    let s = spec("lxc.cgroup.memory.limit_in_bytes = 1G\nlxc.cgroup.devices.allow = q 1:1 rw\n");
    let p = plan(&host, &cg, &s);
    let e = p.devices.as_ref().unwrap_err().clone();
    assert!(
        e.starts_with(
            "container \"c\": bad device rule \"q 1:1 rw\" in lxc.cgroup.devices.allow: "
        ),
        "{e}"
    );
    assert_eq!(apply(&cg, "c", p).unwrap_err().to_string(), e);
    assert_eq!(fs::read_to_string(&mem).unwrap(), "1G");
}

#[test]
fn oci_resources_become_v1_keys_on_hybrid_and_v2_keys_on_v2_after_the_config_rules() {
    let t = tempfile::tempdir().unwrap();
    let oci = |s: &mut ContainerSpec| {
        s.resources = Some(hako_spec::Resources {
            pids_limit: Some(42),
            devices: vec![hako_spec::resources::DeviceRule {
                allow: false,
                kind: 'a',
                major: None,
                minor: None,
                access: "rwm".into(),
            }],
            ..Default::default()
        });
    };
    let (host, _) = hybrid(t.path());
    let mut s = spec("");
    oci(&mut s);
    lower_resources(&mut s, &host).unwrap();
    assert!(s.resources.is_none());
    assert_eq!(s.cgroup_v1, [("pids.max".to_string(), "42".to_string())]);
    assert!(s.cgroup_v2.is_empty());
    // deny all first, then the OCI default devices (/dev/null is 1:3)
    assert_eq!(s.devices_v1[0], (false, "a".to_string()));
    assert!(s.devices_v1.contains(&(true, "c 1:3 rwm".to_string())));
    let (host, _) = unified(t.path());
    let mut s = spec("");
    oci(&mut s);
    lower_resources(&mut s, &host).unwrap();
    assert_eq!(s.cgroup_v2, [("pids.max".to_string(), "42".to_string())]);
    assert!(s.cgroup_v1.is_empty());
}
