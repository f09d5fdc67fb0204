//! Issue 4, point 7: `hako file push/pull` on running and stopped containers, written in the
//! container's mount namespace, replaced atomically, paths escaping the root refused.

mod common;

use common::*;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Bytes that are not text: every byte value, `len` of them.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// A local tree: files (one binary), a subdirectory two levels deep, a relative symlink,
/// a directory with mode 0750.
fn make_tree(root: &Path) {
    fs::create_dir_all(root.join("sub/deeper")).unwrap();
    fs::write(root.join("top.txt"), "top\n").unwrap();
    fs::write(root.join("sub/bin.dat"), pattern(70_000, 7)).unwrap();
    fs::write(root.join("sub/deeper/leaf"), "leaf\n").unwrap();
    fs::set_permissions(root.join("sub"), fs::Permissions::from_mode(0o750)).unwrap();
    std::os::unix::fs::symlink("sub/deeper/leaf", root.join("link")).unwrap();
}

/// Two trees are the same: names, file bytes, symlink targets, directory structure.
fn assert_same_tree(a: &Path, b: &Path) {
    let mut na: Vec<_> = fs::read_dir(a)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    let mut nb: Vec<_> = fs::read_dir(b)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    na.sort();
    nb.sort();
    assert_eq!(na, nb, "{} and {} differ", a.display(), b.display());
    for n in na {
        let (pa, pb) = (a.join(&n), b.join(&n));
        let (ma, mb) = (
            fs::symlink_metadata(&pa).unwrap(),
            fs::symlink_metadata(&pb).unwrap(),
        );
        assert_eq!(
            ma.file_type(),
            mb.file_type(),
            "{} / {}",
            pa.display(),
            pb.display()
        );
        if ma.file_type().is_symlink() {
            assert_eq!(fs::read_link(&pa).unwrap(), fs::read_link(&pb).unwrap());
        } else if ma.is_dir() {
            assert_eq!(ma.mode() & 0o7777, mb.mode() & 0o7777, "{}", pb.display());
            assert_same_tree(&pa, &pb);
        } else {
            assert_eq!(
                fs::read(&pa).unwrap(),
                fs::read(&pb).unwrap(),
                "{}",
                pb.display()
            );
        }
    }
}

fn running_busybox(env: &TestEnv) -> String {
    let n = env.busybox();
    env.start(&n);
    env.wait_booted(&n);
    n
}

/// `stat -c '%u %g %a %s'` of a path inside the container.
fn stat_in(env: &TestEnv, n: &str, path: &str) -> String {
    env.sh_ok(n, &format!("stat -c '%u %g %a %s' {path}"))
        .trim()
        .to_string()
}

#[test]
fn push_and_pull_on_a_running_container() {
    let Some(env) = TestEnv::new("fpush") else {
        return;
    };
    let n = running_busybox(&env);
    let data = pattern(123_457, 1);
    let local = env.path("data.bin");
    fs::write(&local, &data).unwrap();
    fs::set_permissions(&local, fs::Permissions::from_mode(0o604)).unwrap();
    let l = local.to_str().unwrap();

    // --uid/--gid/--mode
    let dst = format!("{n}:/root/owned.bin");
    env.hako(&[
        "file", "push", "--uid", "1000", "--gid", "1000", "--mode", "0640", l, &dst,
    ])
    .assert_ok();
    assert_eq!(stat_in(&env, &n, "/root/owned.bin"), "1000 1000 640 123457");
    // default: root-owned, the local file's mode
    env.hako(&["file", "push", l, &format!("{n}:/root/plain.bin")])
        .assert_ok();
    assert_eq!(stat_in(&env, &n, "/root/plain.bin"), "0 0 604 123457");
    // the bytes, as the container sees them
    let o = env.hako(&["attach", &n, "--", "cat", "/root/owned.bin"]);
    o.assert_ok();
    assert_eq!(o.stdout_bytes, data, "content inside differs");
    // an existing directory (with or without '/') receives the file under its own name
    env.hako(&["file", "push", l, &format!("{n}:/tmp/")])
        .assert_ok();
    env.hako(&["file", "push", l, &format!("{n}:/var")])
        .assert_ok();
    assert_eq!(stat_in(&env, &n, "/tmp/data.bin"), "0 0 604 123457");
    assert_eq!(stat_in(&env, &n, "/var/data.bin"), "0 0 604 123457");
    // replacing an existing file
    fs::write(&local, "short\n").unwrap();
    env.hako(&["file", "push", l, &format!("{n}:/root/plain.bin")])
        .assert_ok();
    assert_eq!(env.sh_ok(&n, "cat /root/plain.bin"), "short\n");
    // no temporary files left next to the targets
    assert_eq!(
        env.sh_ok(&n, "ls -A /root | grep -c hako || true").trim(),
        "0"
    );

    // pull a file back: same bytes
    let back = env.path("back.bin");
    env.hako(&[
        "file",
        "pull",
        &format!("{n}:/root/owned.bin"),
        back.to_str().unwrap(),
    ])
    .assert_ok();
    assert_eq!(fs::read(&back).unwrap(), data);
    assert_eq!(fs::metadata(&back).unwrap().mode() & 0o7777, 0o640);
    // into an existing local directory: under its own name
    let into = env.path("into");
    fs::create_dir(&into).unwrap();
    env.hako(&[
        "file",
        "pull",
        &format!("{n}:/etc/hostname"),
        into.to_str().unwrap(),
    ])
    .assert_ok();
    assert_eq!(
        fs::read_to_string(into.join("hostname")).unwrap(),
        format!("{n}\n")
    );

    // push -r a tree, then pull -r it back
    let tree = env.path("tree");
    make_tree(&tree);
    env.hako(&[
        "file",
        "push",
        "-r",
        "--uid",
        "1000",
        tree.to_str().unwrap(),
        &format!("{n}:/root"),
    ])
    .assert_ok();
    assert_eq!(env.sh_ok(&n, "cat /root/tree/link"), "leaf\n");
    assert_eq!(
        env.sh_ok(&n, "readlink /root/tree/link"),
        "sub/deeper/leaf\n"
    );
    assert_eq!(stat_in(&env, &n, "/root/tree/sub"), "1000 0 750 4096");
    assert_eq!(
        stat_in(&env, &n, "/root/tree/sub/bin.dat"),
        "1000 0 644 70000"
    );
    // into a new name
    env.hako(&[
        "file",
        "push",
        "-r",
        tree.to_str().unwrap(),
        &format!("{n}:/root/renamed"),
    ])
    .assert_ok();
    assert_eq!(env.sh_ok(&n, "cat /root/renamed/sub/deeper/leaf"), "leaf\n");
    let pulled = env.path("pulled");
    fs::create_dir(&pulled).unwrap();
    env.hako(&[
        "file",
        "pull",
        "-r",
        &format!("{n}:/root/tree"),
        pulled.to_str().unwrap(),
    ])
    .assert_ok();
    assert_same_tree(&tree, &pulled.join("tree"));
    let pulled2 = env.path("pulled2");
    env.hako(&[
        "file",
        "pull",
        "-r",
        &format!("{n}:/root/renamed"),
        pulled2.to_str().unwrap(),
    ])
    .assert_ok();
    assert_same_tree(&tree, &pulled2);

    // directories need -r both ways
    env.hako(&[
        "file",
        "push",
        tree.to_str().unwrap(),
        &format!("{n}:/root/x"),
    ])
    .assert_fails_with(1, "use -r")
    .assert_one_clear_error("tree");
    env.hako(&[
        "file",
        "pull",
        &format!("{n}:/etc"),
        env.path("e").to_str().unwrap(),
    ])
    .assert_fails_with(1, "use -r");
    env.kill(&n);
}

#[test]
fn push_and_pull_on_stopped_containers() {
    let Some(env) = TestEnv::new("fstop") else {
        return;
    };
    let n = env.busybox();
    let local = env.write("conf.txt", "stopped push\n");
    env.hako(&[
        "file",
        "push",
        "--mode",
        "0600",
        local.to_str().unwrap(),
        &format!("{n}:/etc/pushed.conf"),
    ])
    .assert_ok();
    let on_disk = env.lxcpath.join(&n).join("rootfs/etc/pushed.conf");
    assert_eq!(fs::read_to_string(&on_disk).unwrap(), "stopped push\n");
    let m = fs::metadata(&on_disk).unwrap();
    assert_eq!((m.uid(), m.gid(), m.mode() & 0o7777), (0, 0, 0o600));
    let back = env.path("hostname.out");
    env.hako(&[
        "file",
        "pull",
        &format!("{n}:/etc/hostname"),
        back.to_str().unwrap(),
    ])
    .assert_ok();
    assert_eq!(fs::read_to_string(&back).unwrap(), format!("{n}\n"));
    let tree = env.path("tree");
    make_tree(&tree);
    env.hako(&[
        "file",
        "push",
        "-r",
        tree.to_str().unwrap(),
        &format!("{n}:/opt/"),
    ])
    .assert_fails_with(1, "does not exist");
    env.hako(&[
        "file",
        "push",
        "-r",
        tree.to_str().unwrap(),
        &format!("{n}:/"),
    ])
    .assert_ok();
    let pulled = env.path("pulled");
    env.hako(&[
        "file",
        "pull",
        "-r",
        &format!("{n}:/tree"),
        pulled.to_str().unwrap(),
    ])
    .assert_ok();
    assert_same_tree(&tree, &pulled);
    // nothing stays mounted, nothing runs
    env.assert_no_leaks(&n);

    // an overlay snapshot clone: the file goes to its upper layer, not to the source
    let clone = env.name();
    env.hako(&["copy", "-s", &n, &clone]).assert_ok();
    env.hako(&[
        "file",
        "push",
        local.to_str().unwrap(),
        &format!("{clone}:/etc/clone.conf"),
    ])
    .assert_ok();
    let upper = env
        .lxcpath
        .join(&clone)
        .join("overlay/upper/etc/clone.conf");
    assert_eq!(fs::read_to_string(&upper).unwrap(), "stopped push\n");
    assert!(!env.lxcpath.join(&n).join("rootfs/etc/clone.conf").exists());
    // pulled through the overlay: a file of the lower layer
    let from_lower = env.path("from_lower");
    env.hako(&[
        "file",
        "pull",
        &format!("{clone}:/etc/pushed.conf"),
        from_lower.to_str().unwrap(),
    ])
    .assert_ok();
    assert_eq!(fs::read_to_string(&from_lower).unwrap(), "stopped push\n");
    env.assert_no_leaks(&clone);

    // and the running container sees what was pushed while it was stopped
    env.start(&clone);
    assert_eq!(
        env.sh_ok(&clone, "cat /etc/clone.conf /tree/link"),
        "stopped push\nleaf\n"
    );
    env.kill(&clone);
}

#[test]
fn push_into_a_tmpfs_mounted_inside() {
    let Some(env) = TestEnv::new("ftmpfs") else {
        return;
    };
    let n = running_busybox(&env);
    env.sh_ok(&n, "mkdir -p /mnt/t && mount -t tmpfs none /mnt/t");
    let local = env.write("tmpfs.txt", "in the tmpfs\n");
    let l = local.to_str().unwrap();
    env.hako(&["file", "push", l, &format!("{n}:/mnt/t/x")])
        .assert_ok();
    assert_eq!(env.sh_ok(&n, "cat /mnt/t/x"), "in the tmpfs\n");
    let rootfs = env.lxcpath.join(&n).join("rootfs");
    assert!(rootfs.join("mnt/t").is_dir());
    assert!(
        !rootfs.join("mnt/t/x").exists(),
        "the file was written to the rootfs on the host, not into the container's tmpfs"
    );
    // /dev/shm, mounted by the busybox rcS
    env.hako(&["file", "push", l, &format!("{n}:/dev/shm/")])
        .assert_ok();
    assert_eq!(env.sh_ok(&n, "cat /dev/shm/tmpfs.txt"), "in the tmpfs\n");
    // after unmounting the tmpfs, the file is gone: it lived only there
    env.sh_ok(&n, "umount /mnt/t");
    env.sh(&n, "test -e /mnt/t/x").assert_code(1);
    // pull from a tmpfs
    env.sh_ok(&n, "echo shm > /dev/shm/made-inside");
    let back = env.path("shm.out");
    env.hako(&[
        "file",
        "pull",
        &format!("{n}:/dev/shm/made-inside"),
        back.to_str().unwrap(),
    ])
    .assert_ok();
    assert_eq!(fs::read_to_string(&back).unwrap(), "shm\n");
    env.kill(&n);
}

#[test]
fn replace_is_atomic_for_readers_inside() {
    let Some(env) = TestEnv::new("fatom") else {
        return;
    };
    let n = running_busybox(&env);
    const OLD: usize = 1_000_000;
    const NEW: usize = 1_048_576;
    let old = env.path("old.bin");
    let new = env.path("new.bin");
    fs::write(&old, pattern(OLD, 3)).unwrap();
    fs::write(&new, pattern(NEW, 5)).unwrap();
    let target = format!("{n}:/root/big");
    env.hako(&["file", "push", old.to_str().unwrap(), &target])
        .assert_ok();
    // a reader inside: the size of every complete read of the file, until /root/stop
    let mut reader = Command::new(HAKO)
        .env("HAKO_SYSCONFDIR", &env.etc)
        .env_remove("HAKO_PATH")
        .arg("-P")
        .arg(&env.lxcpath)
        .args([
            "attach",
            &n,
            "--",
            "/bin/sh",
            "-c",
            "while [ ! -e /root/stop ]; do wc -c < /root/big; done > /root/sizes",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(
        wait_for(Duration::from_secs(10), || env
            .sh_ok(&n, "wc -l < /root/sizes 2>/dev/null || echo 0")
            .trim()
            .parse::<u32>()
            .unwrap_or(0)
            > 0),
        "the reader inside did not start"
    );
    for i in 0..40 {
        let src = if i % 2 == 0 { &new } else { &old };
        env.hako(&["file", "push", src.to_str().unwrap(), &target])
            .assert_ok();
    }
    env.sh_ok(&n, "touch /root/stop");
    let ok = wait_for(Duration::from_secs(20), || {
        matches!(reader.try_wait(), Ok(Some(_)))
    });
    if !ok {
        let _ = reader.kill();
        let _ = reader.wait();
        panic!("the reader inside did not stop");
    }
    let sizes = env.sh_ok(&n, "cat /root/sizes");
    let counts: Vec<usize> = sizes
        .lines()
        .map(|l| l.trim().parse().unwrap_or(usize::MAX))
        .collect();
    let bad: Vec<&usize> = counts.iter().filter(|s| **s != OLD && **s != NEW).collect();
    assert!(
        bad.is_empty(),
        "the reader saw partial files: {bad:?} (of {} reads)",
        counts.len()
    );
    let seen_old = counts.iter().filter(|s| **s == OLD).count();
    let seen_new = counts.iter().filter(|s| **s == NEW).count();
    eprintln!(
        "reader inside: {} reads, {seen_old} old, {seen_new} new",
        counts.len()
    );
    assert!(
        seen_old > 0 && seen_new > 0 && counts.len() >= 20,
        "the reader did not see both versions often enough to prove anything: {seen_old} old, {seen_new} new"
    );
    // and the last version is complete
    let o = env.hako(&["attach", &n, "--", "cat", "/root/big"]);
    assert_eq!(o.stdout_bytes, pattern(OLD, 3));
    env.kill(&n);
}

/// `ln -sfn TARGET LINK` inside the container: with attach when it runs, else in its rootfs.
fn symlink_inside(env: &TestEnv, n: &str, running: bool, target: &str, link: &str) {
    if running {
        env.sh_ok(n, &format!("ln -sfn '{target}' '{link}'"));
    } else {
        let p = env
            .lxcpath
            .join(n)
            .join("rootfs")
            .join(link.trim_start_matches('/'));
        let _ = fs::remove_file(&p);
        std::os::unix::fs::symlink(target, &p).unwrap();
    }
}

/// The escape checks, on a running or a stopped container.
fn check_escapes(env: &TestEnv, n: &str, running: bool) {
    let local = env.write("evil.txt", "pushed by the test\n");
    let l = local.to_str().unwrap();
    let host_passwd = fs::read("/etc/passwd").unwrap();
    let rootfs = env.lxcpath.join(n).join("rootfs");
    let inside_passwd = fs::read(rootfs.join("etc/passwd")).unwrap();
    // "..": refused, nothing written anywhere
    for p in [
        "/../etc/passwd",
        "/etc/../../etc/passwd",
        "/tmp/../../../etc/passwd",
    ] {
        env.hako(&["file", "push", l, &format!("{n}:{p}")])
            .assert_fails_with(1, "outside the container")
            .assert_one_clear_error(n);
        env.hako(&[
            "file",
            "pull",
            &format!("{n}:{p}"),
            env.path("x").to_str().unwrap(),
        ])
        .assert_fails_with(1, "outside the container");
    }
    // a symlink inside pointing up and out, used as a path component
    symlink_inside(env, n, running, "../../../../etc", "/tmp/up");
    env.hako(&["file", "push", l, &format!("{n}:/tmp/up/passwd")])
        .assert_fails_with(1, "outside the container");
    env.hako(&[
        "file",
        "pull",
        &format!("{n}:/tmp/up/shadow"),
        env.path("shadow").to_str().unwrap(),
    ])
    .assert_fails_with(1, "outside the container");
    assert!(!env.path("shadow").exists());
    assert_eq!(
        fs::read("/etc/passwd").unwrap(),
        host_passwd,
        "host /etc/passwd changed"
    );
    assert_eq!(
        fs::read(rootfs.join("etc/passwd")).unwrap(),
        inside_passwd,
        "the container's /etc/passwd changed"
    );
    // an absolute symlink to a host path: followed as the container sees it
    let victim_name = env.token("hakovictim");
    let host_victim = Path::new("/tmp").join(&victim_name);
    fs::write(&host_victim, "host file\n").unwrap();
    symlink_inside(env, n, running, host_victim.to_str().unwrap(), "/root/abs");
    let r = env.hako(&["file", "push", l, &format!("{n}:/root/abs")]);
    let host_after = fs::read_to_string(&host_victim).unwrap();
    let _ = fs::remove_file(&host_victim);
    r.assert_ok();
    assert_eq!(
        host_after, "host file\n",
        "the push wrote through to the host"
    );
    assert_eq!(
        fs::read_to_string(rootfs.join("tmp").join(&victim_name)).unwrap(),
        "pushed by the test\n",
        "the file did not land inside the container"
    );
    if running {
        assert_eq!(
            env.sh_ok(n, &format!("cat /tmp/{victim_name}")),
            "pushed by the test\n"
        );
    }
    // a symlink to a host directory that does not exist inside: refused, host untouched
    let host_dir = env.path("hostonly");
    fs::create_dir_all(&host_dir).unwrap();
    symlink_inside(env, n, running, host_dir.to_str().unwrap(), "/root/hostdir");
    env.hako(&["file", "push", l, &format!("{n}:/root/hostdir/f")])
        .assert_fails_with(1, "does not exist in the container");
    env.hako(&["file", "push", l, &format!("{n}:/root/hostdir/")])
        .assert_fails_with(1, "does not exist in the container");
    assert_eq!(
        fs::read_dir(&host_dir).unwrap().count(),
        0,
        "written to the host dir"
    );
    // a missing directory in the container
    env.hako(&["file", "push", l, &format!("{n}:/no/such/dir/f")])
        .assert_fails_with(1, "does not exist in the container")
        .assert_one_clear_error("/no/such/dir");
    env.hako(&["file", "push", l, &format!("{n}:/nodir/")])
        .assert_fails_with(1, "does not exist in the container");
    assert!(!rootfs.join("nodir").exists());
    env.hako(&[
        "file",
        "pull",
        &format!("{n}:/no/such/file"),
        env.path("nf").to_str().unwrap(),
    ])
    .assert_fails_with(1, "no such file");
    // a file where a directory is expected
    env.hako(&["file", "push", l, &format!("{n}:/etc/passwd/")])
        .assert_fails_with(1, "not a directory");
    env.hako(&["file", "push", l, &format!("{n}:/etc/passwd/x")])
        .assert_fails_with(1, "not a directory");
}

#[test]
fn escapes_and_bad_input_are_refused() {
    let Some(env) = TestEnv::new("fesc") else {
        return;
    };
    let n = running_busybox(&env);
    check_escapes(&env, &n, true);
    env.kill(&n);
    check_escapes(&env, &n, false);
    env.assert_no_leaks(&n);

    let local = env.write("f.txt", "x\n");
    let l = local.to_str().unwrap();
    // unknown container
    let ghost = env.token("ghost");
    env.hako(&["file", "push", l, &format!("{ghost}:/tmp/f")])
        .assert_fails_with(1, "does not exist")
        .assert_one_clear_error(&ghost);
    env.hako(&[
        "file",
        "pull",
        &format!("{ghost}:/etc/hosts"),
        env.path("o").to_str().unwrap(),
    ])
    .assert_fails_with(1, "does not exist");
    // a missing local file, a missing local directory to pull into
    env.hako(&[
        "file",
        "push",
        env.path("nope").to_str().unwrap(),
        &format!("{n}:/tmp/"),
    ])
    .assert_fails_with(1, "no such file")
    .assert_one_clear_error("nope");
    env.hako(&[
        "file",
        "pull",
        &format!("{n}:/etc/hostname"),
        env.path("no/dir/f").to_str().unwrap(),
    ])
    .assert_fails_with(1, "does not exist");
    // bad NAME:/path syntax: a usage error (exit 2 on the hako face, as every usage error)
    for bad in ["nameonly", "web:relative", ":/abs"] {
        env.hako(&["file", "push", l, bad])
            .assert_fails_with(2, "NAME:/absolute/path");
        env.hako(&["file", "pull", bad, l])
            .assert_fails_with(2, "NAME:/absolute/path");
    }
}
