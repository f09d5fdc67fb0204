use super::*;

fn m(kind: IdKind, container: u32, host: u32, count: u32) -> IdMap {
    IdMap {
        kind,
        container,
        host,
        count,
    }
}

#[test]
fn maps_are_written_one_line_per_range_of_their_kind() {
    let maps = [
        m(IdKind::Uid, 0, 100000, 1000),
        m(IdKind::Gid, 0, 200000, 65536),
        m(IdKind::Uid, 1000, 1000, 1),
        m(IdKind::Uid, 1001, 101001, 64535),
    ];
    assert_eq!(
        map_text(&maps, IdKind::Uid),
        "0 100000 1000\n1000 1000 1\n1001 101001 64535\n"
    );
    assert_eq!(map_text(&maps, IdKind::Gid), "0 200000 65536\n");
    assert_eq!(root_ids(&maps), Some((100000, 200000)));
    assert_eq!(root_ids(&maps[..1]), None);
}

#[test]
fn proc_maps_are_read_and_ids_translated() {
    let maps = parse_proc_map(
        "         0    1000000      65536\n     65536          7          1\n",
        IdKind::Uid,
    );
    assert_eq!(maps.len(), 2);
    assert_eq!(to_host(&maps, IdKind::Uid, 0), Some(1000000));
    assert_eq!(to_host(&maps, IdKind::Uid, 1000), Some(1001000));
    assert_eq!(to_host(&maps, IdKind::Uid, 65535), Some(1065535));
    assert_eq!(to_host(&maps, IdKind::Uid, 65536), Some(7));
    assert_eq!(to_host(&maps, IdKind::Uid, 65537), None);
    assert_eq!(to_host(&maps, IdKind::Gid, 0), None);
}

/// The on-disk shift (for file systems without idmapped mounts): every id moves into
/// the range, set-id bits survive, symlinks are changed themselves and not followed,
/// ids outside the map stay. Needs root (chown); as root in CI.
#[test]
fn shift_moves_ids_into_the_range_once() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    if !nix::unistd::geteuid().is_root() {
        eprintln!("SKIPPED shift_moves_ids_into_the_range_once: needs root (chown); make test runs it as root");
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let r = t.path().join("rootfs");
    std::fs::create_dir_all(r.join("bin")).unwrap();
    std::fs::write(r.join("bin/su"), "x").unwrap();
    std::fs::set_permissions(r.join("bin/su"), std::fs::Permissions::from_mode(0o4755)).unwrap();
    std::fs::write(r.join("user"), "u").unwrap();
    std::os::unix::fs::chown(r.join("user"), Some(1000), Some(100)).unwrap();
    let outside = t.path().join("outside");
    std::fs::write(&outside, "o").unwrap();
    std::os::unix::fs::symlink(&outside, r.join("link")).unwrap();
    let maps = [
        m(IdKind::Uid, 0, 3000000, 65536),
        m(IdKind::Gid, 0, 3000000, 65536),
    ];
    let n = shift_tree(&r, &maps).unwrap();
    assert_eq!(n, 5);
    let md = |p: &Path| std::fs::symlink_metadata(p).unwrap();
    assert_eq!((md(&r).uid(), md(&r).gid()), (3000000, 3000000));
    assert_eq!(md(&r.join("bin/su")).uid(), 3000000);
    assert_eq!(md(&r.join("bin/su")).mode() & 0o7777, 0o4755);
    assert_eq!(
        (md(&r.join("user")).uid(), md(&r.join("user")).gid()),
        (3001000, 3000100)
    );
    assert_eq!(md(&r.join("link")).uid(), 3000000);
    assert_eq!(md(&outside).uid(), 0, "the symlink was followed");
    // a second pass changes nothing: the shifted ids are outside the map's inside range
    assert_eq!(shift_tree(&r, &maps).unwrap(), 0);
}

#[test]
fn upper_and_work_share_their_nearest_parent() {
    assert_eq!(
        common_parent(Path::new("/l/c/upper"), Path::new("/l/c/work")),
        Some(PathBuf::from("/l/c"))
    );
    assert_eq!(
        common_parent(Path::new("/l/c/delta/upper"), Path::new("/l/c/work")),
        Some(PathBuf::from("/l/c"))
    );
    assert_eq!(common_parent(Path::new("/a/u"), Path::new("/b/w")), None);
}

#[test]
fn cgroup_files_handed_over_per_version() {
    assert!(delegated_files(2).contains(&"cgroup.subtree_control"));
    assert!(delegated_files(1).contains(&"tasks"));
}
