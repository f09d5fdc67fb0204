use super::*;

fn store(dir: &Path) -> Store {
    Store::open_with(
        &dir.join("lxc"),
        Flavour::Hako,
        &dir.join("etc"),
        &dir.join("run"),
    )
}

fn make(dir: &Path, name: &str, config: bool, partial: bool) {
    let d = dir.join("lxc").join(name);
    fs::create_dir_all(&d).unwrap();
    if config {
        fs::write(d.join("config"), "lxc.uts.name = x\n").unwrap();
    }
    if partial {
        fs::write(d.join("partial"), "").unwrap();
    }
}

#[test]
fn layout() {
    let s = Store::open_with(
        Path::new("/var/lib/hako/"),
        Flavour::Hako,
        Path::new("/etc"),
        Path::new("/run/hako"),
    );
    assert_eq!(s.lxcpath(), Path::new("/var/lib/hako"));
    assert_eq!(s.container_dir("web"), PathBuf::from("/var/lib/hako/web"));
    assert_eq!(
        s.config_path("web"),
        PathBuf::from("/var/lib/hako/web/config")
    );
    assert_eq!(
        s.rootfs_path("web"),
        PathBuf::from("/var/lib/hako/web/rootfs")
    );
    let h = s.lxcpath_hash().to_string();
    assert_eq!(h.len(), 16);
    assert!(h.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(
        s.runtime_dir("web"),
        PathBuf::from(format!("/run/hako/{h}/web"))
    );
    assert_eq!(
        s.lock_path("web"),
        PathBuf::from(format!("/run/hako/lock/{h}/web"))
    );
    // same lxcpath, same hash; another lxcpath, another hash
    let s2 = Store::open_with(
        Path::new("/var/lib/hako"),
        Flavour::Hako,
        Path::new("/etc"),
        Path::new("/run/hako"),
    );
    assert_eq!(s2.lxcpath_hash(), h);
    let s3 = Store::open_with(
        Path::new("/var/lib/lxc"),
        Flavour::Lxc,
        Path::new("/etc"),
        Path::new("/run/hako"),
    );
    assert_ne!(s3.lxcpath_hash(), h);
}

#[test]
fn hash_is_of_the_canonical_path() {
    let d = tempfile::tempdir().unwrap();
    fs::create_dir(d.path().join("real")).unwrap();
    std::os::unix::fs::symlink(d.path().join("real"), d.path().join("link")).unwrap();
    let a = Store::open_with(&d.path().join("real"), Flavour::Hako, d.path(), d.path());
    let b = Store::open_with(&d.path().join("link"), Flavour::Hako, d.path(), d.path());
    assert_eq!(a.lxcpath_hash(), b.lxcpath_hash());
    assert_eq!(b.lxcpath(), d.path().join("link"));
}

#[test]
fn list_skips_partial_and_non_containers() {
    let d = tempfile::tempdir().unwrap();
    let s = store(d.path());
    assert_eq!(
        s.list().unwrap(),
        Vec::<String>::new(),
        "missing lxcpath is empty"
    );
    make(d.path(), "web", true, false);
    make(d.path(), "db", true, false);
    make(d.path(), "half", true, true);
    make(d.path(), "starting", false, true);
    make(d.path(), "junk", false, false);
    fs::write(d.path().join("lxc/junk/data"), "not hako's").unwrap();
    make(d.path(), "empty", false, false);
    fs::write(d.path().join("lxc/file"), "").unwrap();
    make(d.path(), "-bad", true, false);
    assert_eq!(s.list().unwrap(), vec!["db".to_string(), "web".to_string()]);
    assert!(s.exists("web"));
    assert!(!s.exists("half"));
    assert!(s.is_partial("half"));
    assert!(!s.exists("junk"));
    assert!(!s.is_partial("junk"));
    assert!(!s.exists("nope"));
    assert!(!s.exists("../lxc/web"));
    // with the half-made ones: a marker, or an empty directory (a create killed
    // between its mkdir and its marker)
    let all: Vec<(String, bool)> = s
        .list_all()
        .unwrap()
        .into_iter()
        .map(|l| (l.name, l.partial.is_some()))
        .collect();
    assert_eq!(
        all,
        vec![
            ("db".to_string(), false),
            ("empty".to_string(), true),
            ("half".to_string(), true),
            ("starting".to_string(), true),
            ("web".to_string(), false),
        ]
    );
    let p = s.partial("half").unwrap();
    assert_eq!(p.operation, None, "an empty marker names no operation");
    assert_eq!(p.busy, None);
    fs::write(d.path().join("lxc/half/partial"), "copy\n").unwrap();
    assert_eq!(s.partial("half").unwrap().describe(), "an interrupted copy");
    let e = s.not_usable("half").to_string();
    assert!(
        e.contains("half-made") && e.contains("hako destroy half"),
        "{e}"
    );
    // while a command holds its lock, it is in progress, not interrupted
    let l = s.lock("half", Duration::ZERO).unwrap();
    // (our own lock counts: flock locks belong to the open file)
    let p = s.partial("half").unwrap();
    assert_eq!(p.busy, Some(Some(std::process::id())));
    assert!(p.describe().contains("in progress"), "{}", p.describe());
    drop(l);
    assert!(matches!(s.not_usable("nope"), StoreError::NotFound { .. }));
}

#[test]
fn a_file_as_lxcpath_is_an_error() {
    let d = tempfile::tempdir().unwrap();
    fs::write(d.path().join("lxc"), "").unwrap();
    let e = store(d.path()).list_all().unwrap_err().to_string();
    assert!(e.contains("not a directory") && e.contains("-P"), "{e}");
}

#[test]
fn destroy_removes_dir_runtime_and_lock() {
    let d = tempfile::tempdir().unwrap();
    let s = store(d.path());
    make(d.path(), "web", true, false);
    fs::create_dir_all(s.rootfs_path("web").join("etc")).unwrap();
    fs::create_dir_all(s.runtime_dir("web")).unwrap();
    fs::write(s.runtime_dir("web").join("state"), "STOPPED").unwrap();
    drop(s.lock("web", Duration::ZERO).unwrap());
    assert!(s.lock_path("web").exists());
    s.destroy("web").unwrap();
    assert!(!s.container_dir("web").exists());
    assert!(!s.runtime_dir("web").exists());
    assert!(!s.lock_path("web").exists());
    let e = s.destroy("web").unwrap_err();
    assert!(matches!(e, StoreError::NotFound { .. }), "{e}");
}

#[test]
fn destroy_cleans_partial_and_refuses_non_containers() {
    let d = tempfile::tempdir().unwrap();
    let s = store(d.path());
    make(d.path(), "half", false, true);
    s.destroy("half").unwrap();
    assert!(!s.container_dir("half").exists());
    make(d.path(), "junk", false, false);
    fs::write(s.container_dir("junk").join("data"), "keep").unwrap();
    let e = s.destroy("junk").unwrap_err().to_string();
    assert!(e.contains("not a container"), "{e}");
    assert!(s.container_dir("junk").join("data").exists());
}

#[test]
fn half_made_and_half_destroyed_containers_go_by_name() {
    let d = tempfile::tempdir().unwrap();
    let s = store(d.path());
    // a destroy killed half-way: marker, config, part of the rootfs, a snapshot
    make(d.path(), "half", true, false);
    fs::write(s.container_dir("half").join(PARTIAL_MARKER), "destroy\n").unwrap();
    fs::create_dir_all(s.rootfs_path("half").join("etc")).unwrap();
    fs::create_dir_all(s.container_dir("half").join("snaps/snap0")).unwrap();
    fs::write(
        s.container_dir("half").join("snaps/snap0/config"),
        "lxc.uts.name = x\n",
    )
    .unwrap();
    assert!(!s.exists("half"));
    assert_eq!(
        s.partial("half").unwrap().describe(),
        "an interrupted destroy"
    );
    s.destroy("half").unwrap();
    assert!(!s.container_dir("half").exists());
    // killed between its mkdir and its marker (or after the marker's removal)
    fs::create_dir_all(s.container_dir("empty")).unwrap();
    s.destroy("empty").unwrap();
    assert!(!s.container_dir("empty").exists());
}

#[test]
fn a_half_made_clone_is_named_and_its_source_freed_when_it_goes() {
    let d = tempfile::tempdir().unwrap();
    let s = store(d.path());
    make(d.path(), "src", true, false);
    make(d.path(), "clone", true, true);
    fs::write(s.container_dir("clone").join(PARTIAL_MARKER), "copy\n").unwrap();
    refs::register(&s.container_dir("src"), &s.container_dir("clone")).unwrap();
    let e = s.destroy("src").unwrap_err().to_string();
    assert!(
        e.contains("\"clone\"") && e.contains("half-made") && e.contains("hako destroy clone"),
        "{e}"
    );
    s.destroy("clone").unwrap();
    s.destroy("src").unwrap();
    assert!(!s.container_dir("src").exists());
}

#[test]
fn destroy_with_snapshots_takes_them_all_after_the_checks() {
    let d = tempfile::tempdir().unwrap();
    let s = store(d.path());
    make(d.path(), "web", true, false);
    for snap in ["snap0", "snap1"] {
        let sd = s.container_dir("web").join("snaps").join(snap);
        fs::create_dir_all(sd.join("rootfs")).unwrap();
        fs::write(sd.join("config"), "lxc.uts.name = web\n").unwrap();
    }
    fs::write(
        s.container_dir("web").join("snaps/snap1/partial"),
        "snapshot\n",
    )
    .unwrap();
    // one complete snapshot: a plain destroy refuses and changes nothing
    let e = s.destroy("web").unwrap_err().to_string();
    assert!(e.contains("1 snapshot(s)"), "{e}");
    assert!(s.container_dir("web/snaps/snap1/partial").exists());
    // a dependent clone: refused before any snapshot is touched
    make(d.path(), "clone", true, false);
    refs::register(&s.container_dir("web"), &s.container_dir("clone")).unwrap();
    assert!(s.destroy_with_snapshots("web").is_err());
    assert!(s.container_dir("web/snaps/snap0/config").exists());
    s.destroy("clone").unwrap();
    s.destroy_with_snapshots("web").unwrap();
    assert!(!s.container_dir("web").exists());
}

#[test]
fn lock_writes_pid_and_contends() {
    let d = tempfile::tempdir().unwrap();
    let s = store(d.path());
    let l = s.lock("web", Duration::ZERO).unwrap();
    assert_eq!(l.name(), "web");
    assert_eq!(
        fs::read_to_string(s.lock_path("web")).unwrap(),
        format!("{}\n", std::process::id())
    );
    let t0 = std::time::Instant::now();
    let e = s.lock("web", Duration::from_millis(200)).unwrap_err();
    assert!(t0.elapsed() >= Duration::from_millis(200));
    assert_eq!(
        e.to_string(),
        format!("container \"web\" is locked by another hako command (pid {}); retry when it has finished", std::process::id())
    );
    // another container is not affected
    let other = s.lock("db", Duration::ZERO).unwrap();
    drop(other);
    // "db" does not exist: its lock file goes with the lock
    assert!(
        !s.lock_path("db").exists(),
        "lock file of a container that does not exist is removed"
    );
    drop(l);
    fs::create_dir_all(s.container_dir("web")).unwrap();
    let again = s.lock("web", Duration::ZERO).unwrap();
    drop(again);
    assert_eq!(
        fs::read_to_string(s.lock_path("web")).unwrap(),
        "",
        "pid cleared on unlock"
    );
}

#[test]
fn lock_survives_unlink_by_destroy() {
    let d = tempfile::tempdir().unwrap();
    let s = store(d.path());
    let first = s.lock("web", Duration::ZERO).unwrap();
    let s2 = s.clone();
    let waiter = std::thread::spawn(move || s2.lock("web", Duration::from_secs(10)));
    std::thread::sleep(Duration::from_millis(100));
    // destroy unlinks the lock file while holding it, then unlocks
    fs::remove_file(s.lock_path("web")).unwrap();
    drop(first);
    let second = waiter.join().unwrap().unwrap();
    // the waiter must hold a lock on the file that is at the path now, so a third
    // locker sees the contention
    assert!(s.lock_path("web").exists());
    let e = s.lock("web", Duration::from_millis(50)).unwrap_err();
    assert!(matches!(e, StoreError::Locked { .. }), "{e}");
    drop(second);
}

#[test]
fn lock_rejects_bad_names() {
    let d = tempfile::tempdir().unwrap();
    let s = store(d.path());
    assert!(matches!(
        s.lock("../x", Duration::ZERO),
        Err(StoreError::InvalidName { .. })
    ));
}
