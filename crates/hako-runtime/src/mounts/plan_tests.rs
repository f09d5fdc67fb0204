//! The mount plans for typical specs, checked without privileges.

use std::path::{Path, PathBuf};

use hako_cgroups::{Hierarchy, Host, Mode};
use nix::mount::MsFlags;

use super::*;
use crate::spec::ContainerSpec;

const NSNE: MsFlags = NOSUID_NODEV_NOEXEC;

/// The spec of container "c" in /l from config text.
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

/// What hako's busybox template writes (lxc.net.0 a veth: a network namespace).
const BUSYBOX: &str = "lxc.net.0.type = veth\nlxc.net.0.link = br0\nlxc.tty.max = 4\n\
lxc.pty.max = 1024\nlxc.mount.auto = proc:mixed sys:ro cgroup:mixed\nlxc.autodev = 1\n";

fn auto(text: &str) -> (AutoPlan, ContainerSpec) {
    let s = spec(text);
    (AutoPlan::from_spec(&s), s)
}

fn ops(steps: &[Step]) -> Vec<&Op> {
    steps.iter().map(|s| &s.op).collect()
}

fn hier(mountpoint: &str, version: u8, controllers: &[&str]) -> Hierarchy {
    Hierarchy {
        mountpoint: PathBuf::from(mountpoint),
        root: PathBuf::from("/"),
        version,
        controllers: controllers.iter().map(|c| c.to_string()).collect(),
    }
}

/// This machine's layout: v1 controllers (cpu,cpuacct co-mounted) and cgroup2 at unified.
fn hybrid() -> Host {
    Host {
        mode: Mode::Hybrid,
        hierarchies: vec![
            hier("/sys/fs/cgroup/cpu,cpuacct", 1, &["cpu", "cpuacct"]),
            hier("/sys/fs/cgroup/memory", 1, &["memory"]),
            hier("/sys/fs/cgroup/unified", 2, &[]),
        ],
        fs_root: PathBuf::from("/"),
    }
}

fn unified() -> Host {
    Host {
        mode: Mode::Unified,
        hierarchies: vec![hier("/sys/fs/cgroup", 2, &["memory", "pids"])],
        fs_root: PathBuf::from("/"),
    }
}

fn mkdir(t: &str, mode: u32) -> Op {
    Op::Mkdir {
        target: t.into(),
        mode,
    }
}

fn rebind(t: &str, flags: MsFlags) -> Op {
    Op::Rebind {
        target: t.into(),
        flags,
    }
}

#[test]
fn busybox_auto_plan() {
    let (a, s) = auto(BUSYBOX);
    assert_eq!(a.proc_rw, Some(false));
    assert_eq!(a.sys.as_deref(), Some("ro"));
    assert_eq!(a.cgroup.as_deref(), Some("mixed"));
    assert!(!a.cgroup_force);
    assert!(s.new_netns());
}

#[test]
fn dev_tmpfs_size_in_whole_kib_at_least_4k() {
    let p = dev_tmpfs(100);
    assert_eq!(ops(&p)[0], &mkdir("dev", 0o755));
    let Op::Mount {
        source,
        fstype,
        flags,
        data,
        ..
    } = &p[1].op
    else {
        panic!("{p:?}")
    };
    assert_eq!((*source, *fstype), ("none", Some("tmpfs")));
    assert_eq!(*flags, MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC);
    assert_eq!(data.as_deref(), Some("size=4096,mode=755"));
    let Op::Mount { data, .. } = &dev_tmpfs(500_000)[1].op else {
        panic!()
    };
    assert_eq!(data.as_deref(), Some("size=499712,mode=755"));
    assert_eq!(p[1].what, "mount a tmpfs on /dev (lxc.autodev)");
}

#[test]
fn proc_mixed_with_netns() {
    let (a, s) = auto(BUSYBOX);
    let m = proc_mount(&a);
    assert_eq!(
        ops(&m),
        vec![
            &mkdir("proc", 0o555),
            &Op::Mount {
                source: "proc",
                target: "proc".into(),
                fstype: Some("proc"),
                flags: NSNE,
                data: None
            }
        ]
    );
    let x = proc_mixed(&a, s.new_netns());
    assert_eq!(
        ops(&x),
        vec![
            &rebind("proc/sys", MsFlags::MS_RDONLY | NSNE),
            &rebind("proc/sys/net", NSNE),
            &rebind("proc/sysrq-trigger", MsFlags::MS_RDONLY | NSNE),
        ]
    );
    // only sysrq-trigger may be missing (CONFIG_MAGIC_SYSRQ)
    assert_eq!(
        x.iter().map(|s| s.if_exists).collect::<Vec<_>>(),
        [false, false, true]
    );
    assert_eq!(x[0].what, "make /proc/sys read-only (lxc.mount.auto)");
}

#[test]
fn proc_mixed_on_the_host_network_keeps_proc_sys_net_read_only() {
    let (a, _) = auto("lxc.net.0.type = none\nlxc.mount.auto = proc:mixed\n");
    let x = proc_mixed(&a, false);
    assert!(!ops(&x).contains(&&rebind("proc/sys/net", NSNE)));
    assert_eq!(x.len(), 2);
}

#[test]
fn proc_rw_and_no_proc() {
    let (a, s) = auto("lxc.mount.auto = proc:rw\n");
    assert_eq!(proc_mount(&a).len(), 2);
    assert!(proc_mixed(&a, s.new_netns()).is_empty());
    let (a, s) = auto("lxc.mount.auto = sys:ro\n");
    assert!(proc_mount(&a).is_empty());
    assert!(proc_mixed(&a, s.new_netns()).is_empty());
}

fn sysfs(flags: MsFlags) -> Op {
    Op::Mount {
        source: "sysfs",
        target: "sys".into(),
        fstype: Some("sysfs"),
        flags,
        data: None,
    }
}

#[test]
fn sys_modes() {
    let (a, s) = auto(BUSYBOX);
    let ro = sys(&a, s.new_netns(), false);
    assert_eq!(
        ops(&ro),
        vec![&mkdir("sys", 0o555), &sysfs(NSNE | MsFlags::MS_RDONLY)]
    );
    let (a, _) = auto("lxc.mount.auto = sys:rw\n");
    assert_eq!(ops(&sys(&a, true, false))[1], &sysfs(NSNE));
    let (a, _) = auto("lxc.mount.auto = sys:mixed\n");
    let mixed = sys(&a, true, false);
    assert_eq!(ops(&mixed)[1], &sysfs(NSNE | MsFlags::MS_RDONLY));
    assert_eq!(ops(&mixed)[2], &rebind("sys/devices/virtual/net", NSNE));
    assert!(mixed[2].if_exists);
    // no network namespace of its own: the host's devices stay read-only
    assert_eq!(sys(&a, false, false).len(), 2);
    // a user namespace with its own network: the same sysfs of its own
    assert_eq!(sys(&a, true, true), mixed);
    // a user namespace on the host's network may not mount a sysfs: the host's /sys,
    // bound and made read-only
    let b = sys(&a, false, true);
    assert_eq!(
        ops(&b)[1],
        &Op::Mount {
            source: "/sys",
            target: PathBuf::from("sys"),
            fstype: None,
            flags: MsFlags::MS_BIND | MsFlags::MS_REC,
            data: None,
        }
    );
    assert_eq!(
        ops(&b)[2],
        &Op::Remount {
            target: PathBuf::from("sys"),
            flags: MsFlags::MS_BIND | MsFlags::MS_REMOUNT | NSNE | MsFlags::MS_RDONLY,
            data: None,
        }
    );
    assert_eq!(b.len(), 3);
    let (a, _) = auto("lxc.mount.auto = proc:rw\n");
    assert!(sys(&a, true, false).is_empty());
}

fn cg_mount(source: &'static str, target: &str, fstype: &'static str, flags: MsFlags) -> Op {
    Op::Mount {
        source,
        target: target.into(),
        fstype: Some(fstype),
        flags,
        data: None,
    }
}

#[test]
fn cgroup_mixed_on_a_hybrid_host() {
    let (a, _) = auto(BUSYBOX);
    let p = cgroups(&a, &hybrid(), false);
    let base = "sys/fs/cgroup";
    let tmpfs = Op::Mount {
        source: "cgroup",
        target: base.into(),
        fstype: Some("tmpfs"),
        flags: NSNE,
        data: Some("size=64k,mode=755".into()),
    };
    let mut cpu = cg_mount("cgroup", "sys/fs/cgroup/cpu,cpuacct", "cgroup", NSNE);
    if let Op::Mount { data, .. } = &mut cpu {
        *data = Some("cpu,cpuacct".into());
    }
    let mut mem = cg_mount("cgroup", "sys/fs/cgroup/memory", "cgroup", NSNE);
    if let Op::Mount { data, .. } = &mut mem {
        *data = Some("memory".into());
    }
    let link = |name: &str| Op::Symlink {
        dir: base.into(),
        name: name.into(),
        to: "cpu,cpuacct".into(),
    };
    assert_eq!(
        ops(&p),
        vec![
            &mkdir(base, 0o755),
            &tmpfs,
            &mkdir("sys/fs/cgroup/cpu,cpuacct", 0o755),
            &cpu,
            &link("cpu"),
            &link("cpuacct"),
            &mkdir("sys/fs/cgroup/memory", 0o755),
            &mem,
            &mkdir("sys/fs/cgroup/unified", 0o755),
            &cg_mount("cgroup2", "sys/fs/cgroup/unified", "cgroup2", NSNE),
            &Op::Remount {
                target: base.into(),
                flags: MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | NSNE,
                data: Some("size=64k,mode=755"),
            },
        ]
    );
    assert_eq!(
        p[9].what,
        "mount cgroup2 on /sys/fs/cgroup/unified (lxc.mount.auto cgroup)"
    );
}

#[test]
fn cgroup_ro_and_rw() {
    let (a, _) = auto("lxc.mount.auto = cgroup:ro\n");
    let p = cgroups(&a, &hybrid(), false);
    // the hierarchies read-only, and the tmpfs
    assert_eq!(
        ops(&p)[3],
        &Op::Mount {
            source: "cgroup",
            target: "sys/fs/cgroup/cpu,cpuacct".into(),
            fstype: Some("cgroup"),
            flags: NSNE | MsFlags::MS_RDONLY,
            data: Some("cpu,cpuacct".into()),
        }
    );
    assert!(matches!(p.last().unwrap().op, Op::Remount { .. }));
    let (a, _) = auto("lxc.mount.auto = cgroup:rw\n");
    let p = cgroups(&a, &hybrid(), false);
    assert!(!p.iter().any(|s| matches!(s.op, Op::Remount { .. })));
    assert!(!p.iter().any(|s| matches!(
        &s.op,
        Op::Mount { flags, .. } if flags.contains(MsFlags::MS_RDONLY)
    )));
}

#[test]
fn cgroup_on_a_pure_v2_host_is_one_cgroup2_mount() {
    let (a, _) = auto("lxc.mount.auto = cgroup:ro\n");
    let p = cgroups(&a, &unified(), false);
    assert_eq!(
        ops(&p),
        vec![
            &mkdir("sys/fs/cgroup", 0o755),
            &cg_mount(
                "cgroup2",
                "sys/fs/cgroup",
                "cgroup2",
                NSNE | MsFlags::MS_RDONLY
            ),
        ]
    );
    let (a, _) = auto("lxc.mount.auto = cgroup:mixed\n");
    assert_eq!(
        ops(&cgroups(&a, &unified(), false))[1],
        &cg_mount("cgroup2", "sys/fs/cgroup", "cgroup2", NSNE)
    );
}

#[test]
fn cgroup_left_to_systemd_unless_forced() {
    let (a, _) = auto(BUSYBOX);
    assert!(cgroups(&a, &hybrid(), true).is_empty());
    let (a, _) = auto("lxc.mount.auto = cgroup:mixed:force\n");
    assert!(a.cgroup_force);
    assert_eq!(cgroups(&a, &hybrid(), true), cgroups(&a, &hybrid(), false));
    assert!(!cgroups(&a, &hybrid(), true).is_empty());
    let (a, _) = auto("lxc.mount.auto = proc:mixed\n");
    assert!(cgroups(&a, &hybrid(), false).is_empty());
}

#[test]
fn masks_follow_what_the_kernel_has() {
    let (a, _) = auto(BUSYBOX);
    assert_eq!(mask_candidates(&a).collect::<Vec<_>>(), MASKED);
    let present = KernelPaths(vec![
        ("proc/acpi", PathKind::Dir),
        ("proc/kcore", PathKind::File),
        ("sys/firmware", PathKind::Dir),
    ]);
    let p = masks(&a, &present);
    let ro = MsFlags::MS_RDONLY | NSNE;
    assert_eq!(
        ops(&p),
        vec![
            &Op::MaskDir {
                target: "proc/acpi".into()
            },
            &Op::MaskFile {
                target: "proc/kcore".into()
            },
            &Op::MaskDir {
                target: "sys/firmware".into()
            },
            &rebind("proc/bus", ro),
            &rebind("proc/fs", ro),
            &rebind("proc/irq", ro),
        ]
    );
    assert_eq!(
        p.iter().map(|s| s.if_exists).collect::<Vec<_>>(),
        [false, false, false, true, true, true]
    );
    assert_eq!(
        p[1].what,
        "mask /proc/kcore (a path hidden from containers)"
    );
}

#[test]
fn masks_only_on_what_lxc_mount_auto_mounted() {
    let (a, _) = auto("lxc.mount.auto = proc:rw\n");
    let c: Vec<_> = mask_candidates(&a).collect();
    assert!(c.iter().all(|p| p.starts_with("proc/")));
    assert_eq!(c.len(), 10);
    // proc:rw: no read-only proc files
    let p = masks(&a, &KernelPaths(vec![("proc/keys", PathKind::File)]));
    assert_eq!(p.len(), 1);
    let (a, _) = auto("lxc.mount.auto = sys:ro\n");
    assert_eq!(
        mask_candidates(&a).collect::<Vec<_>>(),
        ["sys/firmware", "sys/devices/virtual/powercap"]
    );
    let (a, _) = auto("lxc.net.0.type = empty\n");
    assert_eq!(mask_candidates(&a).count(), 0);
    assert!(masks(&a, &KernelPaths::default()).is_empty());
}

fn entries(text: &str) -> ContainerSpec {
    spec(text)
}

#[test]
fn bind_entry_ro_is_a_bind_then_a_remount() {
    let s = entries(
        "lxc.rootfs.path = dir:/l/c/rootfs\n\
         lxc.mount.entry = /srv/data srv/data none bind,ro,create=dir 0 0\n",
    );
    let e = entry(&s.mounts[0], &s.rootfs);
    assert_eq!(e.source, "/srv/data");
    assert_eq!(e.target, PathBuf::from("srv/data"));
    assert!(e.bind && !e.relative && !e.optional);
    assert_eq!(e.create, Create::Dir);
    assert_eq!(e.fstype, None);
    assert_eq!(e.flags, MsFlags::MS_BIND);
    assert_eq!(
        e.remount,
        Some(MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY)
    );
    assert_eq!(e.propagation, None);
}

#[test]
fn rbind_file_optional_and_a_target_under_the_rootfs_path() {
    let s = entries(
        "lxc.rootfs.path = dir:/l/c/rootfs\n\
         lxc.mount.entry = /etc/resolv.conf /l/c/rootfs/etc/resolv.conf none rbind,create=file,optional 0 0\n",
    );
    let e = entry(&s.mounts[0], &s.rootfs);
    assert_eq!(e.target, PathBuf::from("etc/resolv.conf"));
    assert_eq!(e.create, Create::File);
    assert!(e.optional);
    assert_eq!(e.flags, MsFlags::MS_BIND | MsFlags::MS_REC);
    assert_eq!(e.remount, None);
}

#[test]
fn filesystem_entry_keeps_its_flags_and_data() {
    let s = entries("lxc.mount.entry = tmpfs /tmp tmpfs nosuid,nodev,size=10m,mode=1777 0 0\n");
    let e = entry(&s.mounts[0], &s.rootfs);
    assert!(!e.bind);
    assert_eq!(e.target, PathBuf::from("tmp"));
    assert_eq!(e.fstype, Some("tmpfs"));
    assert_eq!(e.data, Some("size=10m,mode=1777"));
    assert_eq!(e.flags, MsFlags::MS_NOSUID | MsFlags::MS_NODEV);
    assert_eq!(e.remount, None);
    assert_eq!(e.create, Create::No);
}

#[test]
fn propagation_is_a_call_of_its_own() {
    let s = entries("lxc.mount.entry = /mnt mnt none rbind,rslave 0 0\n");
    let e = entry(&s.mounts[0], &s.rootfs);
    assert_eq!(e.flags, MsFlags::MS_BIND | MsFlags::MS_REC);
    assert_eq!(e.propagation, Some(MsFlags::MS_SLAVE | MsFlags::MS_REC));
    let s = entries("lxc.mount.entry = tmpfs run tmpfs shared 0 0\n");
    let e = entry(&s.mounts[0], &s.rootfs);
    assert_eq!(e.flags, MsFlags::empty());
    assert_eq!(e.propagation, Some(MsFlags::MS_SHARED));
}

#[test]
fn relative_entry_source_stays_in_the_container() {
    let s = entries("lxc.mount.entry = var/log logs none bind,relative,create=dir 0 0\n");
    let e = entry(&s.mounts[0], &s.rootfs);
    assert!(e.relative && e.bind);
    assert_eq!(e.source, "var/log");
}

#[test]
fn oci_masks_read_only_first_then_masks_by_kind() {
    let steps = oci_masks(
        &[
            ("/proc/acpi".to_string(), PathKind::Dir),
            ("/proc/kcore".to_string(), PathKind::File),
        ],
        &["/proc/sys".to_string()],
    );
    assert_eq!(steps.len(), 3);
    assert!(
        matches!(&steps[0].op, Op::Rebind { target, flags } if target == Path::new("proc/sys") && *flags == MsFlags::MS_RDONLY)
    );
    assert!(steps[0].if_exists);
    assert!(matches!(&steps[1].op, Op::MaskDir { target } if target == Path::new("proc/acpi")));
    assert!(matches!(&steps[2].op, Op::MaskFile { target } if target == Path::new("proc/kcore")));
    assert!(!steps[2].if_exists);
    assert!(steps[2].what.contains("linux.maskedPaths"));
}
