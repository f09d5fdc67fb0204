//! Storage tests that need root (overlay mounts, chroot, owners): copies, snapshot clones,
//! the identity steps run inside a container's root, symlinks that try to lead a write out
//! to the host. Each test has its own lxcpath and cache in a temporary directory.

use std::fs;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use hako_store::{CopySpec, CreateSpec, Flavour, Store, Template};

fn is_root() -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "\n*** SKIPPED: needs root ***\n");
    false
}

struct Env {
    _tmp: tempfile::TempDir,
    store: Store,
    base: PathBuf,
}

fn env() -> Env {
    let tmp = tempfile::Builder::new()
        .prefix("hako-storage-test.")
        .tempdir()
        .unwrap();
    let base = fs::canonicalize(tmp.path()).unwrap();
    let store = Store::open_with(
        &base.join("lxc"),
        Flavour::Hako,
        &base.join("etc"),
        &base.join("run"),
    );
    Env {
        _tmp: tmp,
        store,
        base,
    }
}

fn busybox(e: &Env, name: &str) {
    e.store
        .create(&CreateSpec {
            name: name.to_string(),
            template: Template::Busybox,
            template_args: vec![],
            extra_config: None,
            backing: String::new(),
            quiet: true,
            ids: Default::default(),
        })
        .unwrap();
}

fn copy(src: &str, new: &str, snapshot: bool) -> CopySpec {
    CopySpec {
        src: src.into(),
        new: new.into(),
        snapshot,
        quiet: true,
        ..Default::default()
    }
}

fn stopped(_: &str) -> bool {
    false
}

#[test]
fn a_symlink_in_the_source_cannot_redirect_writes_to_the_host() {
    if !is_root() {
        return;
    }
    let e = env();
    busybox(&e, "evil");
    let victim = e.base.join("host-file");
    fs::write(&victim, "host data\n").unwrap();
    let hosts_victim = e.base.join("host-hosts");
    fs::write(&hosts_victim, "host hosts\n").unwrap();
    let rootfs = e.store.rootfs_path("evil");
    // the container's files point at host files, by absolute and by relative paths
    fs::remove_file(rootfs.join("etc/hostname")).unwrap();
    symlink(&victim, rootfs.join("etc/hostname")).unwrap();
    fs::remove_file(rootfs.join("etc/hosts")).unwrap();
    let rel = Path::new("../../../..").join(hosts_victim.strip_prefix("/").unwrap());
    symlink(&rel, rootfs.join("etc/hosts")).unwrap();
    fs::write(rootfs.join("etc/machine-id"), "").unwrap();
    // full copy and snapshot clone both refresh the identity inside the copy's root
    e.store.copy(&copy("evil", "c1", false), &stopped).unwrap();
    e.store.copy(&copy("evil", "c2", true), &stopped).unwrap();
    assert_eq!(fs::read_to_string(&victim).unwrap(), "host data\n");
    assert_eq!(fs::read_to_string(&hosts_victim).unwrap(), "host hosts\n");
    let c1 = e.store.rootfs_path("c1");
    assert_eq!(fs::read_to_string(c1.join("etc/hostname")).unwrap(), "c1\n");
    assert!(fs::symlink_metadata(c1.join("etc/hostname"))
        .unwrap()
        .is_file());
    let up2 = e.store.container_dir("c2").join("overlay/upper");
    assert_eq!(
        fs::read_to_string(up2.join("etc/hostname")).unwrap(),
        "c2\n"
    );
    assert_eq!(
        fs::read_to_string(up2.join("etc/machine-id"))
            .unwrap()
            .len(),
        33
    );
}

#[test]
fn copies_keep_owners_modes_devices_links_and_capabilities() {
    if !is_root() {
        return;
    }
    let e = env();
    busybox(&e, "src");
    let r = e.store.rootfs_path("src");
    fs::write(r.join("owned"), "x").unwrap();
    std::os::unix::fs::chown(r.join("owned"), Some(1234), Some(5678)).unwrap();
    fs::set_permissions(r.join("owned"), fs::Permissions::from_mode(0o4750)).unwrap();
    nix::sys::stat::mknod(
        &r.join("dev-null"),
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::from_bits_truncate(0o666),
        nix::sys::stat::makedev(1, 3),
    )
    .unwrap();
    fs::hard_link(r.join("owned"), r.join("owned-link")).unwrap();
    // a file capability (security.capability), as ping has in Debian
    let setcap = std::process::Command::new("setcap")
        .arg("cap_net_raw+ep")
        .arg(r.join("bin/busybox"))
        .status();
    let have_cap = matches!(setcap, Ok(s) if s.success());
    e.store.copy(&copy("src", "dst", false), &stopped).unwrap();
    let d = e.store.rootfs_path("dst");
    let m = fs::metadata(d.join("owned")).unwrap();
    assert_eq!((m.uid(), m.gid(), m.mode() & 0o7777), (1234, 5678, 0o4750));
    assert_eq!(m.ino(), fs::metadata(d.join("owned-link")).unwrap().ino());
    let dev = fs::symlink_metadata(d.join("dev-null")).unwrap();
    assert_eq!(dev.rdev(), nix::sys::stat::makedev(1, 3));
    if have_cap {
        let out = std::process::Command::new("getcap")
            .arg(d.join("bin/busybox"))
            .output()
            .unwrap();
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("cap_net_raw"),
            "{out:?}"
        );
    }
}

#[test]
fn running_sources_are_refused_and_nothing_is_made() {
    if !is_root() {
        return;
    }
    let e = env();
    busybox(&e, "live");
    let running = |n: &str| n == "live";
    let err = e
        .store
        .copy(&copy("live", "x", false), &running)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("running") && err.contains("hako stop live"),
        "{err}"
    );
    let err = e
        .store
        .copy(&copy("live", "x", true), &running)
        .unwrap_err()
        .to_string();
    assert!(err.contains("running"), "{err}");
    let err = e
        .store
        .snapshot("live", None, &running)
        .unwrap_err()
        .to_string();
    assert!(err.contains("running"), "{err}");
    assert!(!e.store.container_dir("x").exists());
    assert!(!e.store.container_dir("live").join("snaps").exists());
}

#[test]
fn overlay_whiteouts_survive_a_full_copy_of_a_clone() {
    if !is_root() {
        return;
    }
    let e = env();
    busybox(&e, "base");
    fs::write(e.store.rootfs_path("base").join("etc/doomed"), "x").unwrap();
    e.store
        .copy(&copy("base", "clone", true), &stopped)
        .unwrap();
    // delete a lower file through the overlay: a whiteout in the upper layer
    let clone_dir = e.store.container_dir("clone");
    let upper = clone_dir.join("overlay/upper");
    let lower = e.store.rootfs_path("base");
    let mnt = e.base.join("mnt");
    fs::create_dir(&mnt).unwrap();
    let opts = format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.display(),
        upper.display(),
        clone_dir.join("overlay/work").display()
    );
    let st = std::process::Command::new("unshare")
        .args(["-m", "sh", "-c"])
        .arg(format!(
            "mount -t overlay overlay -o {opts} {m} && rm {m}/etc/doomed",
            m = mnt.display()
        ))
        .status()
        .unwrap();
    assert!(st.success());
    let wo = fs::symlink_metadata(upper.join("etc/doomed")).unwrap();
    assert_eq!(wo.rdev(), 0, "a whiteout");
    // a full overlay copy keeps the whiteout; a dir copy has no such file
    e.store
        .copy(&copy("clone", "full", false), &stopped)
        .unwrap();
    let fu = e
        .store
        .container_dir("full")
        .join("overlay/upper/etc/doomed");
    assert_eq!(fs::symlink_metadata(&fu).unwrap().rdev(), 0);
    let mut dir = copy("clone", "flat", false);
    dir.backing = "dir".into();
    e.store.copy(&dir, &stopped).unwrap();
    let flat = e.store.rootfs_path("flat");
    assert!(
        !flat.join("etc/doomed").exists(),
        "the merged view was copied"
    );
    assert!(flat.join("bin/busybox").exists());
    assert_eq!(
        fs::read_to_string(flat.join("etc/hostname")).unwrap(),
        "flat\n"
    );
    // dependents
    let deps = e.store.dependents("base");
    assert_eq!(
        deps,
        vec![
            e.store.container_dir("clone"),
            e.store.container_dir("full")
        ]
    );
    let err = e.store.destroy("base").unwrap_err().to_string();
    assert!(
        err.contains("\"clone\"") && err.contains("\"full\""),
        "{err}"
    );
    for n in ["flat", "full", "clone", "base"] {
        e.store.destroy(n).unwrap();
    }
}
