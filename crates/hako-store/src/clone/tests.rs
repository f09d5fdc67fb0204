use std::os::unix::fs::MetadataExt;

use super::snapshot::{new_snapshot_dir, RESTORE_COMMIT, RESTORE_STAGE};
use super::*;
use crate::fsutil::DirState;

fn store(d: &Path) -> Store {
    Store::open_with(
        &d.join("lp"),
        crate::Flavour::Hako,
        &d.join("etc"),
        &d.join("run"),
    )
}

/// A dir container "web" whose rootfs holds `old`, and a restore stage holding `new`
/// with its config, committed or not.
fn staged_restore(s: &Store, commit: bool) -> PathBuf {
    let dir = s.container_dir("web");
    fs::create_dir_all(dir.join("rootfs")).unwrap();
    fs::write(dir.join("rootfs/version"), "old").unwrap();
    fs::write(dir.join("config"), "# old\n").unwrap();
    let stage = dir.join(RESTORE_STAGE);
    fs::create_dir_all(stage.join("rootfs")).unwrap();
    fs::write(stage.join("rootfs/version"), "new").unwrap();
    fs::write(stage.join("config"), "# new\n").unwrap();
    if commit {
        let m = fs::metadata(stage.join("rootfs")).unwrap();
        fs::write(
            stage.join(RESTORE_COMMIT),
            format!("rootfs\n{}:{}\n", m.dev(), m.ino()),
        )
        .unwrap();
    }
    dir
}

fn version(dir: &Path) -> (String, String) {
    (
        fs::read_to_string(dir.join("rootfs/version")).unwrap(),
        fs::read_to_string(dir.join("config")).unwrap(),
    )
}

#[test]
fn a_killed_restore_is_finished_or_undone_by_the_next_lock() {
    let new = ("new".to_string(), "# new\n".to_string());
    let old = ("old".to_string(), "# old\n".to_string());
    // killed while staging (no commit record): the container stays as it was
    let d = tempfile::tempdir().unwrap();
    let s = store(d.path());
    let dir = staged_restore(&s, false);
    drop(s.lock("web", Duration::ZERO).unwrap());
    assert_eq!(version(&dir), old);
    assert!(!dir.join(RESTORE_STAGE).exists());
    // killed after the commit record, before the swap: rolled forward
    let d = tempfile::tempdir().unwrap();
    let s = store(d.path());
    let dir = staged_restore(&s, true);
    drop(s.lock("web", Duration::ZERO).unwrap());
    assert_eq!(version(&dir), new);
    assert!(!dir.join(RESTORE_STAGE).exists());
    // killed after the swap, before the config: the swap is not done twice
    let d = tempfile::tempdir().unwrap();
    let s = store(d.path());
    let dir = staged_restore(&s, true);
    crate::fsutil::exchange(&dir.join("rootfs"), &dir.join(".restore/rootfs")).unwrap();
    s.finish_restore("web").unwrap();
    assert_eq!(version(&dir), new);
    // killed after the config too, while removing the stage (the old storage)
    let d = tempfile::tempdir().unwrap();
    let s = store(d.path());
    let dir = staged_restore(&s, true);
    crate::fsutil::exchange(&dir.join("rootfs"), &dir.join(".restore/rootfs")).unwrap();
    fs::rename(dir.join(".restore/config"), dir.join("config")).unwrap();
    s.finish_restore("web").unwrap();
    assert_eq!(version(&dir), new);
    assert!(!dir.join(RESTORE_STAGE).exists());
    // and with the commit record already removed by that cleanup: the rest goes
    let d = tempfile::tempdir().unwrap();
    let s = store(d.path());
    let dir = staged_restore(&s, true);
    crate::fsutil::exchange(&dir.join("rootfs"), &dir.join(".restore/rootfs")).unwrap();
    fs::rename(dir.join(".restore/config"), dir.join("config")).unwrap();
    fs::remove_file(dir.join(".restore/commit")).unwrap();
    s.finish_restore("web").unwrap();
    assert_eq!(version(&dir), new);
    assert!(!dir.join(RESTORE_STAGE).exists());
    // nothing staged: nothing to do
    s.finish_restore("web").unwrap();
    s.finish_restore("nosuch").unwrap();
}

#[test]
fn the_next_snapshot_never_reuses_a_name_in_use() {
    let d = tempfile::tempdir().unwrap();
    let snaps = d.path().join("snaps");
    fs::create_dir(&snaps).unwrap();
    assert_eq!(new_snapshot_dir(&snaps).unwrap().0, "snap0");
    // snap0 is half-made now (its marker says so); the next one is snap1
    assert_eq!(
        crate::fsutil::classify(&snaps.join("snap0")),
        DirState::Partial(Some("snapshot".into()))
    );
    assert_eq!(new_snapshot_dir(&snaps).unwrap().0, "snap1");
    // an empty directory left by a kill, and a file in the way, count as taken
    fs::create_dir(snaps.join("snap5")).unwrap();
    fs::write(snaps.join("snap6"), "").unwrap();
    let (name, dir) = new_snapshot_dir(&snaps).unwrap();
    assert_eq!(name, "snap7");
    assert!(dir.join(crate::PARTIAL_MARKER).is_file());
}

#[test]
fn half_made_snapshots_are_listed_deletable_and_not_restorable() {
    let d = tempfile::tempdir().unwrap();
    let s = store(d.path());
    let dir = s.container_dir("web");
    fs::create_dir_all(dir.join("snaps/snap0")).unwrap();
    fs::write(dir.join("config"), "lxc.uts.name = web\n").unwrap();
    fs::write(dir.join("snaps/snap0/config"), "lxc.uts.name = web\n").unwrap();
    fs::write(dir.join("snaps/snap0/ts"), "2024:05:20 10:13:20\n").unwrap();
    fs::create_dir_all(dir.join("snaps/snap1/rootfs")).unwrap();
    fs::write(dir.join("snaps/snap1/partial"), "snapshot\n").unwrap();
    let list = s.snapshots("web").unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0].partial, None);
    assert_eq!(list[0].created, "2024:05:20 10:13:20");
    assert_eq!(
        list[1].partial.as_ref().unwrap().operation.as_deref(),
        Some("snapshot")
    );
    let e = s
        .restore_snapshot("web", "snap1", None, &|_| false)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("half-made") && e.contains("hako snapshot web -d snap1"),
        "{e}"
    );
    // plain destroy counts only the complete snapshot
    assert_eq!(s.complete_snapshots("web"), 1);
    s.delete_snapshot("web", "snap1").unwrap();
    assert!(!dir.join("snaps/snap1").exists());
    assert_eq!(s.snapshots("web").unwrap().len(), 1);
}

#[test]
fn timestamps_are_lxc_style_utc() {
    assert_eq!(timestamp(UNIX_EPOCH), "1970:01:01 00:00:00");
    assert_eq!(
        timestamp(UNIX_EPOCH + Duration::from_secs(1_716_200_000)),
        "2024:05:20 10:13:20"
    );
    assert_eq!(
        timestamp(UNIX_EPOCH + Duration::from_secs(951_782_400)),
        "2000:02:29 00:00:00"
    );
}

#[test]
fn copy_config_renames_rewrites_paths_and_macs() {
    let src = "# hello\nlxc.uts.name = web\nlxc.rootfs.path = dir:/lp/web/rootfs\nlxc.console.logfile = /lp/web/console.log\nlxc.mount.entry = /lp/web2/x data none bind 0 0\nlxc.net.0.type = veth\nlxc.net.0.hwaddr = 00:16:3e:12:34:56\n";
    let spec = RootfsSpec::Dir("/lp/copy/rootfs".into());
    let doc = copy_config(
        src,
        Path::new("/lp/web"),
        Path::new("/lp/copy"),
        "copy",
        &spec,
        false,
        false,
    )
    .unwrap();
    let t = doc.render();
    assert!(t.starts_with("# hello\n"), "{t}");
    assert_eq!(doc.get("lxc.uts.name"), Some("copy"));
    assert_eq!(doc.get("lxc.rootfs.path"), Some("dir:/lp/copy/rootfs"));
    assert_eq!(doc.get("lxc.console.logfile"), Some("/lp/copy/console.log"));
    assert_eq!(
        doc.get_all("lxc.mount.entry"),
        vec!["/lp/web2/x data none bind 0 0"],
        "a prefix of another name is not replaced"
    );
    let mac = doc.get("lxc.net.0.hwaddr").unwrap();
    assert!(
        mac.starts_with("00:16:3e:") && mac != "00:16:3e:12:34:56" && !mac.contains('x'),
        "{mac}"
    );
    // -K -M keep them
    let doc = copy_config(
        src,
        Path::new("/lp/web"),
        Path::new("/lp/copy"),
        "copy",
        &spec,
        true,
        true,
    )
    .unwrap();
    assert_eq!(doc.get("lxc.uts.name"), Some("web"));
    assert_eq!(doc.get("lxc.net.0.hwaddr"), Some("00:16:3e:12:34:56"));
}
