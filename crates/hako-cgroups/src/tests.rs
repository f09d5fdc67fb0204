//! Unit tests on a fake cgroup tree in a tempdir (no root needed).

use std::fs;
use std::path::{Path, PathBuf};

use crate::cgroup::{blkio_total, copy_cpuset, enable_controllers, io_stat_sum};
use crate::*;

/// A hybrid host with pids, memory, name=systemd and cgroup2 (pids first, so a failure in
/// memory shows the rollback of pids).
const FAKE_HYBRID: &str = "\
33 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
32 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
34 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
35 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

const FAKE_FREEZER: &str =
    "37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer\n";

const FAKE_UNIFIED: &str = "\
26 18 0:22 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate
";

const PROC_HYBRID: &str =
    "4:freezer:/\n3:name=systemd:/\n2:pids:/\n1:memory:/process_api/abc\n0::/\n";

struct Fake {
    dir: tempfile::TempDir,
    host: Host,
}

impl Fake {
    fn root(&self) -> &Path {
        self.dir.path()
    }
    fn p(&self, rel: &str) -> PathBuf {
        self.root().join(rel)
    }
}

fn fake(mountinfo: &str, proc_cgroup: &str, parents: &[&str]) -> Fake {
    let dir = tempfile::tempdir().unwrap();
    for p in parents {
        fs::create_dir_all(dir.path().join(p)).unwrap();
    }
    fs::create_dir_all(dir.path().join("proc/123")).unwrap();
    fs::write(dir.path().join("proc/123/cgroup"), proc_cgroup).unwrap();
    let host = Host::from_mountinfo(mountinfo, dir.path()).unwrap();
    Fake { dir, host }
}

fn hybrid() -> Fake {
    fake(
        FAKE_HYBRID,
        PROC_HYBRID,
        &[
            "sys/fs/cgroup/pids",
            "sys/fs/cgroup/memory/process_api/abc",
            "sys/fs/cgroup/systemd",
            "sys/fs/cgroup/unified",
        ],
    )
}

const NAME: &str = "hako.payload.web";

#[test]
fn builds_paths_per_hierarchy_from_proc_cgroup() {
    let f = hybrid();
    let cg = Cgroup::locate(&f.host, NAME, 123, None).unwrap();
    assert_eq!(
        cg.paths(),
        vec![
            f.p("sys/fs/cgroup/pids/hako.payload.web"),
            f.p("sys/fs/cgroup/memory/process_api/abc/hako.payload.web"),
            f.p("sys/fs/cgroup/systemd/hako.payload.web"),
            f.p("sys/fs/cgroup/unified/hako.payload.web"),
        ]
    );
    assert_eq!(
        cg.path_for("memory").unwrap(),
        f.p("sys/fs/cgroup/memory/process_api/abc/hako.payload.web")
    );
    assert_eq!(
        cg.path_for("name=systemd").unwrap(),
        f.p("sys/fs/cgroup/systemd/hako.payload.web")
    );
    // a controller not on v1 falls back to the v2 directory
    assert_eq!(
        cg.path_for("io").unwrap(),
        f.p("sys/fs/cgroup/unified/hako.payload.web")
    );
    assert_eq!(
        cg.unified_path().unwrap(),
        f.p("sys/fs/cgroup/unified/hako.payload.web")
    );
    assert_eq!(cg.mode(), Mode::Hybrid);
    // nothing was created
    assert!(!f.p("sys/fs/cgroup/pids/hako.payload.web").exists());

    // the pure variant gives the same result
    let cg2 = Cgroup::locate_from_text(&f.host, NAME, PROC_HYBRID, None).unwrap();
    assert_eq!(cg.paths(), cg2.paths());

    // lxc.cgroup.dir: relative to each hierarchy root, the name is not appended
    let cg = Cgroup::locate(&f.host, NAME, 123, Some("mygroup/web")).unwrap();
    assert_eq!(
        cg.path_for("memory").unwrap(),
        f.p("sys/fs/cgroup/memory/mygroup/web")
    );
    assert_eq!(
        cg.unified_path().unwrap(),
        f.p("sys/fs/cgroup/unified/mygroup/web")
    );
    let cg = Cgroup::locate(&f.host, NAME, 123, Some("/mygroup/web/")).unwrap();
    assert_eq!(
        cg.path_for("pids").unwrap(),
        f.p("sys/fs/cgroup/pids/mygroup/web")
    );
}

#[test]
fn rejects_bad_names_and_missing_lines() {
    let f = hybrid();
    for bad in ["", "..", ".", "a/b", "x\ny"] {
        let e = Cgroup::locate(&f.host, bad, 123, None).unwrap_err();
        assert!(
            e.to_string().starts_with("invalid cgroup name"),
            "{bad:?}: {e}"
        );
    }
    for bad in ["../x", "a/../b", "", "/", "a//b"] {
        let e = Cgroup::locate(&f.host, NAME, 123, Some(bad)).unwrap_err();
        assert!(
            e.to_string().starts_with("invalid cgroup directory"),
            "{bad:?}: {e}"
        );
    }
    let e = Cgroup::locate_from_text(&f.host, NAME, "1:memory:/\n0::/\n", None).unwrap_err();
    assert!(e.to_string().contains("in the pids hierarchy"), "{e}");
    assert!(e.to_string().contains("has no line"), "{e}");
    let e = Cgroup::locate(&f.host, NAME, 999, None).unwrap_err();
    assert!(e.to_string().contains("process 999 does not exist"), "{e}");
}

#[test]
fn cgroup_outside_a_namespaced_mount_is_reported() {
    let t = tempfile::tempdir().unwrap();
    let host = Host::from_mountinfo(
        "35 31 0:32 /lxc/c1 /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n",
        t.path(),
    )
    .unwrap();
    let cg = Cgroup::locate_from_text(&host, NAME, "1:memory:/lxc/c1/init.scope\n", None).unwrap();
    assert_eq!(
        cg.paths(),
        vec![t
            .path()
            .join("sys/fs/cgroup/memory/init.scope/hako.payload.web")]
    );
    let e = Cgroup::locate_from_text(&host, NAME, "1:memory:/lxc/c2\n", None).unwrap_err();
    assert!(e.to_string().contains("outside the part mounted at"), "{e}");
}

#[test]
fn creates_everywhere_and_removes_idempotently() {
    let f = hybrid();
    let cg = Cgroup::create(&f.host, NAME, 123, None).unwrap();
    for p in cg.paths() {
        assert!(p.is_dir(), "{}", p.display());
    }
    // a guest-made child is removed too
    let child = cg.unified_path().unwrap().join("init.scope");
    fs::create_dir(&child).unwrap();
    // state survives a round trip through JSON (for stale cleanup by a later process)
    let json = serde_json::to_string(&cg).unwrap();
    let back: Cgroup = serde_json::from_str(&json).unwrap();
    assert_eq!(back, cg);
    back.remove().unwrap();
    for p in cg.paths() {
        assert!(!p.exists(), "{}", p.display());
    }
    assert!(
        f.p("sys/fs/cgroup/memory/process_api/abc").is_dir(),
        "the parent stays"
    );
    cg.remove().unwrap();
}

#[test]
fn in_use_cgroup_fails_and_rolls_back() {
    let f = hybrid();
    let busy = f.p("sys/fs/cgroup/memory/process_api/abc/hako.payload.web");
    fs::create_dir_all(busy.join("init.scope")).unwrap();
    fs::write(busy.join("cgroup.procs"), "").unwrap();
    fs::write(busy.join("init.scope/cgroup.procs"), "4242\n").unwrap();
    let e = Cgroup::create(&f.host, NAME, 123, None).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "cgroup \"{}\" is in use by pid 4242; stop the container that owns it or remove the stale cgroup",
            busy.display()
        )
    );
    // pids (created before memory failed) was removed again; the busy one is untouched
    assert!(!f.p("sys/fs/cgroup/pids/hako.payload.web").exists());
    assert!(busy.join("init.scope/cgroup.procs").exists());
}

#[test]
fn stale_empty_cgroup_is_reused_without_children() {
    let f = hybrid();
    let stale = f.p("sys/fs/cgroup/memory/process_api/abc/hako.payload.web");
    fs::create_dir_all(stale.join("init.scope/deeper")).unwrap();
    fs::write(stale.join("cgroup.procs"), "\n").unwrap();
    let cg = Cgroup::create(&f.host, NAME, 123, None).unwrap();
    assert!(stale.is_dir());
    assert!(
        !stale.join("init.scope").exists(),
        "stale children are removed"
    );
    assert!(cg.paths().iter().all(|p| p.is_dir()));
}

#[test]
fn lxc_cgroup_dir_creates_and_removes_intermediate_levels() {
    let f = hybrid();
    let cg = Cgroup::create(&f.host, NAME, 123, Some("mygroup/web")).unwrap();
    assert!(f.p("sys/fs/cgroup/systemd/mygroup/web").is_dir());
    cg.remove().unwrap();
    assert!(!f.p("sys/fs/cgroup/systemd/mygroup").exists());
    assert!(!f.p("sys/fs/cgroup/memory/mygroup").exists());

    // an existing shared level is kept
    fs::create_dir_all(f.p("sys/fs/cgroup/pids/shared/other")).unwrap();
    let cg = Cgroup::create(&f.host, NAME, 123, Some("shared/web")).unwrap();
    cg.remove().unwrap();
    assert!(f.p("sys/fs/cgroup/pids/shared/other").is_dir());
    assert!(!f.p("sys/fs/cgroup/memory/shared").exists());
}

#[test]
fn create_failure_in_a_later_hierarchy_removes_earlier_ones() {
    let f = hybrid();
    // a file where the systemd directory should go makes mkdir fail there
    fs::write(f.p("sys/fs/cgroup/systemd/hako.payload.web"), "").unwrap();
    // (EEXIST → it is treated as a leftover; its "children" cannot be listed → error)
    let e = Cgroup::create(&f.host, NAME, 123, None).unwrap_err();
    assert!(e.to_string().contains("hako.payload.web"), "{e}");
    assert!(!f.p("sys/fs/cgroup/pids/hako.payload.web").exists());
    assert!(!f
        .p("sys/fs/cgroup/memory/process_api/abc/hako.payload.web")
        .exists());
}

fn touch(p: &Path, content: &str) {
    fs::write(p, content).unwrap();
}

#[test]
fn routes_keys_v1_v2_auto() {
    let f = hybrid();
    let cg = Cgroup::create(&f.host, NAME, 123, None).unwrap();
    let mem = cg.path_for("memory").unwrap().to_path_buf();
    let uni = cg.unified_path().unwrap().to_path_buf();
    touch(&mem.join("memory.limit_in_bytes"), "");
    touch(&cg.path_for("pids").unwrap().join("pids.max"), "");
    touch(&uni.join("cgroup.procs"), "");
    touch(&uni.join("hugetlb.2MB.max"), "");

    cg.set("memory.limit_in_bytes", "64M", KeyKind::V1).unwrap();
    assert_eq!(
        fs::read_to_string(mem.join("memory.limit_in_bytes")).unwrap(),
        "64M"
    );
    assert_eq!(
        cg.get("memory.limit_in_bytes", KeyKind::Auto).unwrap(),
        "64M"
    );
    cg.set("pids.max", "50", KeyKind::Auto).unwrap();
    assert_eq!(cg.get("pids.max", KeyKind::V1).unwrap(), "50");
    cg.set("hugetlb.2MB.max", "0", KeyKind::V2).unwrap();
    assert_eq!(
        fs::read_to_string(uni.join("hugetlb.2MB.max")).unwrap(),
        "0"
    );
    assert_eq!(
        cg.key_path("hugetlb.2MB.max", KeyKind::Auto).unwrap(),
        uni.join("hugetlb.2MB.max")
    );
    assert_eq!(
        cg.key_path("cgroup.procs", KeyKind::Auto).unwrap(),
        uni.join("cgroup.procs")
    );

    // a missing file names the file, the directory and how to list it
    let e = cg.get("memory.foo", KeyKind::Auto).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "no cgroup file \"memory.foo\" for container cgroup \"{}\"; list them with ls {}",
            mem.display(),
            mem.display()
        )
    );
    let e = cg.set("memory.foo", "1", KeyKind::V1).unwrap_err();
    assert!(
        e.to_string().starts_with("no cgroup file \"memory.foo\""),
        "{e}"
    );
    // a controller this host lacks on v1
    let e = cg.set("cpu.shares", "512", KeyKind::V1).unwrap_err();
    assert!(
        e.to_string()
            .contains("no cgroup v1 hierarchy on this host has the \"cpu\" controller"),
        "{e}"
    );
    // Auto: not on v1, not a v2 file either
    let e = cg.get("io.max", KeyKind::Auto).unwrap_err();
    assert!(
        e.to_string()
            .contains(&format!("for container cgroup \"{}\"", uni.display())),
        "{e}"
    );
    // bad keys
    for k in ["../../etc/passwd", ".hidden", "", "memory limit"] {
        let e = cg.get(k, KeyKind::Auto).unwrap_err();
        assert!(
            e.to_string().starts_with("invalid cgroup key"),
            "{k:?}: {e}"
        );
    }
    let e = cg.set("cgroup.procs", "1", KeyKind::V1).unwrap_err();
    assert!(e.to_string().contains("every v1 hierarchy"), "{e}");
    let e = cg.get("tasks", KeyKind::V1).unwrap_err();
    assert!(e.to_string().contains("no controller prefix"), "{e}");
}

#[test]
fn routes_keys_on_pure_hosts() {
    let f = fake(
        FAKE_UNIFIED,
        "0::/user.slice/x\n",
        &["sys/fs/cgroup/user.slice/x"],
    );
    let cg = Cgroup::locate(&f.host, NAME, 123, None).unwrap();
    assert_eq!(
        cg.unified_path().unwrap(),
        f.p("sys/fs/cgroup/user.slice/x/hako.payload.web")
    );
    let e = cg
        .set("memory.limit_in_bytes", "1", KeyKind::V1)
        .unwrap_err();
    assert!(e.to_string().contains("this host uses cgroup v2"), "{e}");
    assert_eq!(
        cg.key_path("memory.max", KeyKind::V2).unwrap(),
        f.p("sys/fs/cgroup/user.slice/x/hako.payload.web/memory.max")
    );

    let t = tempfile::tempdir().unwrap();
    let legacy = Host::from_mountinfo(
        "32 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n",
        t.path(),
    )
    .unwrap();
    let cg = Cgroup::locate_from_text(&legacy, NAME, "1:memory:/\n", None).unwrap();
    let e = cg.set("memory.max", "1", KeyKind::V2).unwrap_err();
    assert!(
        e.to_string().contains("this host has no cgroup2 mount"),
        "{e}"
    );
    assert!(cg.unified_path().is_none());
}

#[test]
fn enables_v2_controllers_only_where_missing() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    touch(&d.join("cgroup.controllers"), "memory pids\n");
    touch(&d.join("cgroup.subtree_control"), "memory pids\n");
    enable_controllers(d).unwrap();
    assert_eq!(
        fs::read_to_string(d.join("cgroup.subtree_control")).unwrap(),
        "memory pids\n"
    );
    touch(&d.join("cgroup.controllers"), "memory\n");
    touch(&d.join("cgroup.subtree_control"), "");
    enable_controllers(d).unwrap();
    assert_eq!(
        fs::read_to_string(d.join("cgroup.subtree_control")).unwrap(),
        "+memory"
    );
}

#[test]
fn pure_v2_create_enables_controllers_in_the_parent() {
    let f = fake(FAKE_UNIFIED, "0::/hako\n", &["sys/fs/cgroup/hako"]);
    touch(&f.p("sys/fs/cgroup/hako/cgroup.controllers"), "pids\n");
    touch(&f.p("sys/fs/cgroup/hako/cgroup.subtree_control"), "");
    let cg = Cgroup::create(&f.host, NAME, 123, None).unwrap();
    assert_eq!(
        fs::read_to_string(f.p("sys/fs/cgroup/hako/cgroup.subtree_control")).unwrap(),
        "+pids"
    );
    cg.remove().unwrap();
    // on the hybrid host the v2 parent is left alone (it has no such files here: no error)
    let h = hybrid();
    Cgroup::create(&h.host, NAME, 123, None)
        .unwrap()
        .remove()
        .unwrap();
}

#[test]
fn copies_cpuset_from_the_parent() {
    let t = tempfile::tempdir().unwrap();
    let child = t.path().join("c");
    fs::create_dir(&child).unwrap();
    touch(&t.path().join("cpuset.cpus"), "0-1\n");
    touch(&t.path().join("cpuset.mems"), "0\n");
    touch(&child.join("cpuset.cpus"), "\n");
    touch(&child.join("cpuset.mems"), "");
    copy_cpuset(&child).unwrap();
    assert_eq!(
        fs::read_to_string(child.join("cpuset.cpus")).unwrap(),
        "0-1"
    );
    assert_eq!(fs::read_to_string(child.join("cpuset.mems")).unwrap(), "0");
}

#[test]
fn freezer_routing_prefers_v1() {
    let mi = format!("{FAKE_HYBRID}{FAKE_FREEZER}");
    let f = fake(
        &mi,
        PROC_HYBRID,
        &[
            "sys/fs/cgroup/pids",
            "sys/fs/cgroup/memory/process_api/abc",
            "sys/fs/cgroup/systemd",
            "sys/fs/cgroup/unified",
            "sys/fs/cgroup/freezer",
        ],
    );
    let cg = Cgroup::create(&f.host, NAME, 123, None).unwrap();
    let state = cg.path_for("freezer").unwrap().join("freezer.state");
    touch(&state, "THAWED\n");
    // a v2 cgroup.freeze exists as well (it does on hybrid hosts): v1 must win
    touch(&cg.unified_path().unwrap().join("cgroup.freeze"), "0\n");
    assert!(!cg.is_frozen().unwrap());
    cg.freeze().unwrap();
    assert_eq!(fs::read_to_string(&state).unwrap().trim(), "FROZEN");
    assert!(cg.is_frozen().unwrap());
    cg.thaw().unwrap();
    assert_eq!(fs::read_to_string(&state).unwrap().trim(), "THAWED");
    assert_eq!(
        fs::read_to_string(cg.unified_path().unwrap().join("cgroup.freeze")).unwrap(),
        "0\n"
    );

    // without any freezer: a clear error
    let h = hybrid();
    let cg = Cgroup::create(&h.host, NAME, 123, None).unwrap();
    let e = cg.freeze().unwrap_err();
    assert!(e.to_string().contains("neither a cgroup v1 freezer"), "{e}");
}

#[test]
fn v2_freezer_waits_for_cgroup_events() {
    let f = fake(FAKE_UNIFIED, "0::/\n", &["sys/fs/cgroup"]);
    touch(&f.p("sys/fs/cgroup/cgroup.controllers"), "");
    touch(&f.p("sys/fs/cgroup/cgroup.subtree_control"), "");
    let cg = Cgroup::create(&f.host, NAME, 123, None).unwrap();
    let u = cg.unified_path().unwrap();
    touch(&u.join("cgroup.freeze"), "0\n");
    touch(&u.join("cgroup.events"), "populated 1\nfrozen 1\n");
    cg.freeze().unwrap();
    assert_eq!(fs::read_to_string(u.join("cgroup.freeze")).unwrap(), "1\n");
    assert!(cg.is_frozen().unwrap());
    assert!(cg.is_populated());
}

#[test]
fn procs_walks_every_hierarchy_recursively() {
    let f = hybrid();
    let cg = Cgroup::create(&f.host, NAME, 123, None).unwrap();
    let u = cg.unified_path().unwrap();
    fs::create_dir(u.join("init.scope")).unwrap();
    touch(&u.join("cgroup.procs"), "");
    touch(&u.join("init.scope/cgroup.procs"), "7\n9\n");
    touch(
        &cg.path_for("memory").unwrap().join("cgroup.procs"),
        "9\n3\n",
    );
    assert_eq!(cg.procs().unwrap(), vec![3, 7, 9]);
    assert!(cg.is_populated());
}

#[test]
fn stats_read_v1_then_v2_files() {
    let f = hybrid();
    let cg = Cgroup::create(&f.host, NAME, 123, None).unwrap();
    let mem = cg.path_for("memory").unwrap();
    let u = cg.unified_path().unwrap();
    touch(&mem.join("memory.usage_in_bytes"), "1234\n");
    touch(&mem.join("memory.kmem.usage_in_bytes"), "99\n");
    touch(&cg.path_for("pids").unwrap().join("pids.current"), "3\n");
    touch(
        &u.join("cpu.stat"),
        "usage_usec 5\nuser_usec 4\nsystem_usec 1\n",
    );
    touch(
        &u.join("io.stat"),
        "8:0 rbytes=100 wbytes=20 rios=1 wios=2\n8:16 rbytes=1 wbytes=2\n",
    );
    let s = cg.stats();
    assert_eq!(
        s,
        Stats {
            memory_bytes: Some(1234),
            kmem_bytes: Some(99),
            cpu_ns: Some(5000),
            pids: Some(3),
            blkio_bytes: Some(123),
            cpu_user_ns: Some(4000),
            cpu_system_ns: Some(1000),
            memsw_bytes: None,
            blkio_ios: Some(3),
        }
    );
    touch(
        &mem.join("memory.memsw.usage_in_bytes"),
        "2000
",
    );
    assert_eq!(cg.stats().memsw_bytes, Some(2000));
    fs::remove_file(mem.join("memory.kmem.usage_in_bytes")).unwrap();
    assert_eq!(cg.stats().kmem_bytes, None);
}

#[test]
fn parses_blkio_totals() {
    assert_eq!(
        blkio_total("8:0 Read 10\n8:0 Write 5\n8:0 Total 15\nTotal 15\n"),
        Some(15)
    );
    assert_eq!(blkio_total("Total 0\n"), Some(0));
    assert_eq!(blkio_total(""), None);
    assert_eq!(io_stat_sum("", &["rbytes"]), 0);
    assert_eq!(
        io_stat_sum(
            "8:0 rbytes=4 wbytes=1 rios=2\n8:1 rios=1\n",
            &["rios", "wios"]
        ),
        3
    );
}

#[test]
fn v2_devices_need_bpf_and_v1_devices_write_files() {
    let mi =
        format!("{FAKE_HYBRID}36 31 0:33 / /sys/fs/cgroup/devices rw - cgroup cgroup rw,devices\n");
    let f = fake(
        &mi,
        &format!("5:devices:/\n{PROC_HYBRID}"),
        &[
            "sys/fs/cgroup/pids",
            "sys/fs/cgroup/memory/process_api/abc",
            "sys/fs/cgroup/systemd",
            "sys/fs/cgroup/unified",
            "sys/fs/cgroup/devices",
        ],
    );
    let cg = Cgroup::create(&f.host, NAME, 123, None).unwrap();
    let d = cg.path_for("devices").unwrap();
    // regular files keep only the last write; enough to see that the files are used
    touch(&d.join("devices.deny"), "");
    touch(&d.join("devices.allow"), "");
    let rules = [
        DeviceRule::parse(false, "a").unwrap(),
        DeviceRule::parse(true, "c 1:3 rwm").unwrap(),
        DeviceRule::parse(false, "c 1:5 m").unwrap(),
    ];
    assert!(cg.apply_devices(&rules, None).unwrap().is_none());
    assert_eq!(
        fs::read_to_string(d.join("devices.allow")).unwrap(),
        "c 1:3 rwm"
    );
    assert_eq!(
        fs::read_to_string(d.join("devices.deny")).unwrap(),
        "c 1:5 m"
    );
}

#[test]
fn a_vanished_parent_cgroup_is_not_recreated() {
    let f = fake(
        FAKE_HYBRID,
        PROC_HYBRID,
        &[
            "sys/fs/cgroup/pids",
            "sys/fs/cgroup/memory",
            "sys/fs/cgroup/systemd",
            "sys/fs/cgroup/unified",
        ],
    );
    let e = Cgroup::create(&f.host, NAME, 123, None).unwrap_err();
    assert!(
        e.to_string()
            .contains("the parent process's cgroup no longer exists"),
        "{e}"
    );
    assert!(!f.p("sys/fs/cgroup/memory/process_api").exists());
    assert!(
        !f.p("sys/fs/cgroup/pids/hako.payload.web").exists(),
        "rolled back"
    );
}

#[test]
fn inner_child_and_owner_ids() {
    let f = hybrid();
    let cg = Cgroup::create(&f.host, NAME, 123, None).unwrap();
    // every directory's id is recorded, and proves the cgroup is the one created
    assert!(cg.dirs().iter().all(|d| d.ino != 0));
    assert!(cg.is_ours());
    let inner = cg.create_child("ns").unwrap();
    assert_eq!(inner.name(), "hako.payload.web/ns");
    for (o, i) in cg.dirs().iter().zip(inner.dirs()) {
        assert_eq!(i.path, o.path.join("ns"));
        assert!(i.path.is_dir());
    }
    assert!(matches!(
        cg.create_child("../x"),
        Err(CgroupError::InvalidName { .. })
    ));
    // a directory of the same name made since is not this cgroup (made aside and moved in:
    // a fake tree's file system may reuse a freed inode number at once, cgroupfs never)
    let pids = f.p("sys/fs/cgroup/pids/hako.payload.web");
    let other = f.p("sys/fs/cgroup/pids/other");
    fs::create_dir(&other).unwrap();
    fs::remove_dir(pids.join("ns")).unwrap();
    fs::remove_dir(&pids).unwrap();
    fs::rename(&other, &pids).unwrap();
    assert!(!cg.is_ours());
    assert!(!cg.is_gone());
    // removal takes the inner child away first
    let cg = cg.with_inner("ns");
    assert_eq!(cg.inner(), Some("ns"));
    cg.remove().unwrap();
    assert!(cg.is_gone());
    assert!(!cg.is_ours());
}

#[test]
fn v1_device_writes_deny_all_first_then_each_rule_in_order() {
    let rules = [
        DeviceRule::parse(false, "a").unwrap(),
        DeviceRule::parse(true, "c 1:3 rwm").unwrap(),
        DeviceRule::parse(false, "c 1:5 m").unwrap(),
    ];
    assert_eq!(
        v1_device_writes(&rules),
        [
            ("devices.deny", "a".to_string()),
            ("devices.allow", "c 1:3 rwm".to_string()),
            ("devices.deny", "c 1:5 m".to_string()),
        ]
    );
    // without a leading "deny a", it is written anyway, and every rule after it
    let allow = [DeviceRule::parse(true, "c 10:200 rwm").unwrap()];
    assert_eq!(
        v1_device_writes(&allow),
        [
            ("devices.deny", "a".to_string()),
            ("devices.allow", "c 10:200 rwm".to_string()),
        ]
    );
    // the default policy: one deny, then allows only
    let d = v1_device_writes(&default_device_rules());
    assert_eq!(d.len(), default_device_rules().len());
    assert!(d[1..].iter().all(|(f, _)| *f == "devices.allow"));
}
