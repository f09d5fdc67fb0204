//! Issue 4, point 7: `hako file push/pull` on running and stopped containers, written in the
//! container's mount namespace, replaced atomically, paths escaping the root refused.
//! Issue 10 part 3 and issue 15 items 7 and 8: a hostile container (setuid files, FIFOs,
//! device nodes and symlinks, swapped in mid-operation), a killed push, a rootfs that leads
//! to the host's "/".

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

/// A privileged one: the test makes device nodes inside, or writes into the container's
/// root from the host as root (a user namespace's idmapped rootfs has no host root).
fn running_privileged_busybox(env: &TestEnv) -> String {
    let n = env.busybox_privileged();
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

// ---------------------------------------------------------------------------------------
// Issue 10 part 3, issue 15 items 7 and 8: a hostile container. Its root may make setuid
// files, FIFOs, device nodes and symlinks, and swap them in while hako works.
// ---------------------------------------------------------------------------------------

/// A time limit for commands that would hang on a FIFO or stream a device if the fix
/// regressed: a regression then fails instead of hanging the test run.
const HOSTILE_TIMEOUT: Duration = Duration::from_secs(20);

/// Run a shell script inside the container: with attach when it runs, else chrooted into
/// its rootfs (with the container's own busybox).
fn sh_inside(env: &TestEnv, n: &str, running: bool, script: &str) {
    if running {
        env.sh_ok(n, script);
    } else {
        let rootfs = env.lxcpath.join(n).join("rootfs");
        let o = Command::new("chroot")
            .arg(&rootfs)
            .args(["/bin/sh", "-c", script])
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{script}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

fn mode_of(p: &Path) -> u32 {
    fs::symlink_metadata(p).unwrap().mode() & 0o7777
}

fn check_pulled_modes(env: &TestEnv, n: &str, running: bool) {
    sh_inside(
        env,
        n,
        running,
        "mkdir -p /root/pub/inner && echo suid > /root/suid && echo ww > /root/ww && \
         echo in > /root/pub/inner/f && chown 1000:1000 /root/suid /root/pub && \
         chmod 06755 /root/suid && chmod 0666 /root/ww && chmod 01777 /root/pub && \
         chmod 02777 /root/pub/inner && chmod 04777 /root/pub/inner/f",
    );
    let out = env.path(&format!("modes-{running}"));
    fs::create_dir_all(&out).unwrap();
    let o = out.to_str().unwrap();
    // a setuid root file: a plain 0755 file of the caller's on the host
    env.hako(&["file", "pull", &format!("{n}:/root/suid"), o])
        .assert_ok();
    let m = fs::metadata(out.join("suid")).unwrap();
    assert_eq!(
        (m.mode() & 0o7777, m.uid(), m.gid()),
        (0o755, 0, 0),
        "pulled setuid file"
    );
    assert_eq!(fs::read_to_string(out.join("suid")).unwrap(), "suid\n");
    // world-writable: not on the host
    env.hako(&["file", "pull", &format!("{n}:/root/ww"), o])
        .assert_ok();
    assert_eq!(mode_of(&out.join("ww")), 0o664);
    // a world-writable sticky directory with a setgid one and a setuid file inside
    env.hako(&["file", "pull", "-r", &format!("{n}:/root/pub"), o])
        .assert_ok();
    assert_eq!(mode_of(&out.join("pub")), 0o775);
    assert_eq!(mode_of(&out.join("pub/inner")), 0o775);
    assert_eq!(mode_of(&out.join("pub/inner/f")), 0o775);
    assert_eq!(fs::metadata(out.join("pub")).unwrap().uid(), 0);
    // asked for: every bit kept
    let kept = out.join("kept");
    fs::create_dir(&kept).unwrap();
    let k = kept.to_str().unwrap();
    env.hako(&["file", "pull", "--keep-mode", &format!("{n}:/root/suid"), k])
        .assert_ok();
    assert_eq!(mode_of(&kept.join("suid")), 0o6755);
    assert_eq!(fs::metadata(kept.join("suid")).unwrap().uid(), 0);
    env.hako(&[
        "file",
        "pull",
        "-r",
        "--keep-mode",
        &format!("{n}:/root/pub"),
        k,
    ])
    .assert_ok();
    assert_eq!(mode_of(&kept.join("pub")), 0o1777);
    assert_eq!(mode_of(&kept.join("pub/inner")), 0o2777);
    assert_eq!(mode_of(&kept.join("pub/inner/f")), 0o4777);
    // pulled again over the kept copy: the mask applies to the new file
    env.hako(&["file", "pull", &format!("{n}:/root/suid"), k])
        .assert_ok();
    assert_eq!(mode_of(&kept.join("suid")), 0o755);
}

#[test]
fn pulled_files_lose_setuid_and_world_write_unless_kept() {
    let Some(env) = TestEnv::new("fmode") else {
        return;
    };
    let n = running_busybox(&env);
    check_pulled_modes(&env, &n, true);
    env.kill(&n);
    let n2 = env.busybox();
    check_pulled_modes(&env, &n2, false);
    env.assert_no_leaks(&n2);
}

/// FIFOs, a /dev/zero-type device node and a socket as pull sources.
fn check_special_files(env: &TestEnv, n: &str, running: bool) {
    // c 1:5 is /dev/zero: harmless to create, and a pull that read it would never end
    sh_inside(
        env,
        n,
        running,
        "mkdir -p /root/sp && echo plain > /root/sp/plain && mkfifo /root/sp/fifo && \
         mknod /root/sp/zero c 1 5 && ln -sf /root/sp/fifo /root/fifolink",
    );
    if !running {
        let rootfs = env.lxcpath.join(n).join("rootfs");
        let _ = std::os::unix::net::UnixListener::bind(rootfs.join("root/sp/sock")).unwrap();
    }
    let out = env.path(&format!("special-{running}"));
    fs::create_dir_all(&out).unwrap();
    let o = out.to_str().unwrap();
    let pull = |args: &[&str]| {
        let mut a = vec!["file", "pull"];
        a.extend_from_slice(args);
        env.run(&a).timeout(HOSTILE_TIMEOUT).run()
    };
    for (src, kind) in [
        ("/root/sp/fifo", "a FIFO"),
        ("/root/fifolink", "a FIFO"),
        ("/root/sp/zero", "a character device"),
    ] {
        let r = pull(&[&format!("{n}:{src}"), o]);
        r.assert_fails_with(1, kind)
            .assert_fails_with(1, "not opened")
            .assert_one_clear_error(src);
        assert!(
            r.elapsed < Duration::from_secs(10),
            "refusing {src} took {:?}",
            r.elapsed
        );
    }
    assert_eq!(
        fs::read_dir(&out).unwrap().count(),
        0,
        "a refused pull left something behind"
    );
    // recursive: the regular file is copied, the rest skipped with a warning
    let r = pull(&["-r", &format!("{n}:/root/sp"), o]);
    r.assert_ok();
    assert!(
        r.stderr.contains("skipped /root/sp/fifo: it is a FIFO"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("skipped /root/sp/zero: it is a character device"),
        "{}",
        r.stderr
    );
    let mut names: Vec<String> = fs::read_dir(out.join("sp"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["plain"]);
    assert_eq!(fs::read_to_string(out.join("sp/plain")).unwrap(), "plain\n");
    if !running {
        assert!(r.stderr.contains("skipped /root/sp/sock: it is a socket"));
    }
}

#[test]
fn fifos_devices_and_sockets_are_never_opened() {
    let Some(env) = TestEnv::new("fspec") else {
        return;
    };
    let n = running_privileged_busybox(&env);
    check_special_files(&env, &n, true);
    env.kill(&n);
    let n2 = env.busybox();
    check_special_files(&env, &n2, false);
    env.assert_no_leaks(&n2);
}

/// Swap `dir/sw` between a regular file, a FIFO and a /dev/zero node (c 1:5), each made
/// under another name and renamed into place, and `dir/dd` between a directory and a
/// symlink to "/" (exchanged with `dir/dl` in one rename), as fast as the host can, until
/// `stop`.
/// Done from the host on a tmpfs the container sees: a shell loop inside swaps a thousand
/// times slower and would rarely meet the moment between hako's lookup and its open.
/// This thread (only) makes files as the host ids `uid`/`gid`, keeping root's capabilities
/// (mknod among them): fsuid and fsgid set, then the capabilities a non-zero fsuid takes
/// out of the effective set raised again from the permitted one. A file system of a
/// container's user namespace refuses files of ids it does not map (host root's).
fn act_as(uid: u32, gid: u32) {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    let mut h = Header {
        version: 0x2008_0522,
        pid: 0,
    };
    let mut d = [Data::default(); 2];
    // SAFETY: raw credential system calls on this thread, with buffers of the kernel's
    // layout for capability version 3.
    unsafe {
        libc::syscall(libc::SYS_setfsgid, gid);
        libc::syscall(libc::SYS_setfsuid, uid);
        assert_eq!(libc::syscall(libc::SYS_capget, &mut h, d.as_mut_ptr()), 0);
        for x in d.iter_mut() {
            x.effective = x.permitted;
        }
        assert_eq!(libc::syscall(libc::SYS_capset, &mut h, d.as_ptr()), 0);
    }
}

/// `owner`: the host ids of an unprivileged container's root, as which the swapper makes
/// its files (see [`act_as`]).
fn swapper(
    dir: std::path::PathBuf,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    owner: Option<(u32, u32)>,
) -> std::thread::JoinHandle<u64> {
    use nix::sys::stat::{mknod, Mode, SFlag};
    std::thread::spawn(move || {
        let sw = dir.join("sw");
        let (m, r, f, z) = (
            dir.join("m"),
            dir.join(".r"),
            dir.join(".f"),
            dir.join(".z"),
        );
        if let Some((u, g)) = owner {
            act_as(u, g);
        }
        fs::write(&m, "content\n").unwrap();
        fs::create_dir(dir.join("dd")).unwrap();
        std::os::unix::fs::symlink("/", dir.join("dl")).unwrap();
        let mut rounds = 0;
        // an error ends the loop (the container was stopped under it after a failure); a
        // loop that never ran shows in the pulls, which then meet only one kind of file
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            let ok = fs::hard_link(&m, &r).is_ok()
                && fs::rename(&r, &sw).is_ok()
                && nix::unistd::mkfifo(&f, Mode::from_bits_truncate(0o644)).is_ok()
                && fs::rename(&f, &sw).is_ok()
                && mknod(
                    &z,
                    SFlag::S_IFCHR,
                    Mode::from_bits_truncate(0o644),
                    nix::sys::stat::makedev(1, 5),
                )
                .is_ok()
                && fs::rename(&z, &sw).is_ok()
                && nix::fcntl::renameat2(
                    None,
                    &dir.join("dd"),
                    None,
                    &dir.join("dl"),
                    nix::fcntl::RenameFlags::RENAME_EXCHANGE,
                )
                .is_ok();
            if !ok {
                break;
            }
            rounds += 1;
        }
        rounds
    })
}

/// Pull `REMOTE/sw` (`dir` on the host) over and over while it is swapped: every pull ends
/// in time with the regular file's content or a clear refusal; it never hangs on the FIFO
/// and never reads the device.
fn check_swapped_pulls(
    env: &TestEnv,
    n: &str,
    dir: &Path,
    remote: &str,
    owner: Option<(u32, u32)>,
) {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let t = swapper(dir.to_path_buf(), stop.clone(), owner);
    // the first pull must not come before the swapper made the file at all
    assert!(
        wait_for(Duration::from_secs(5), || dir.join("sw").exists()),
        "the swapper never made {}",
        dir.join("sw").display()
    );
    let out = env.path("sw.out");
    let (mut got, mut refused) = (0, 0);
    let mut failure = None;
    for i in 0..300 {
        let r = env
            .run(&[
                "file",
                "pull",
                &format!("{n}:{remote}/sw"),
                out.to_str().unwrap(),
            ])
            .timeout(HOSTILE_TIMEOUT)
            .run();
        if r.code() == 0 {
            let data = fs::read(&out).unwrap();
            if data != b"content\n" {
                failure = Some(format!("pull {i} got {} other bytes", data.len()));
                break;
            }
            got += 1;
        } else if r.code() == 1
            && ["it is a FIFO", "it is a character device"]
                .iter()
                .any(|k| r.stderr.contains(k))
        {
            refused += 1;
        } else {
            failure = Some(format!("pull {i}: unexpected result: {r:?}"));
            break;
        }
        if i >= 60 && got > 0 && refused > 0 {
            break;
        }
    }
    // pushes: a FIFO or device as the target file is replaced, not opened; the target
    // directory turned into a symlink to "/" leads to the container's root, not the host's
    let local = env.write("swpush.txt", "pushed\n");
    let token = env.token("hakoswap");
    for i in 0..20 {
        if failure.is_some() {
            break;
        }
        for target in [format!("{remote}/sw"), format!("{remote}/dd/{token}")] {
            let r = env
                .run(&[
                    "file",
                    "push",
                    local.to_str().unwrap(),
                    &format!("{n}:{target}"),
                ])
                .timeout(HOSTILE_TIMEOUT)
                .run();
            if r.code() != 0 {
                failure = Some(format!("push {i} to {target} failed: {r:?}"));
            }
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let rounds = t.join().unwrap();
    let host_file = Path::new("/").join(&token);
    let on_host = host_file.exists();
    let _ = fs::remove_file(&host_file);
    eprintln!("{n}: {got} pulls got the file, {refused} refused, {rounds} swap rounds");
    if let Some(f) = failure {
        panic!("{f}");
    }
    assert!(!on_host, "a push wrote {} on the host", host_file.display());
    let landed = [
        dir.join("dd").join(&token),
        dir.join("dl").join(&token),
        env.lxcpath.join(n).join("rootfs").join(&token),
    ];
    assert!(
        landed.iter().any(|p| p.exists()),
        "the pushes through the swapped directory landed nowhere: {landed:?}"
    );
    for p in &landed {
        let _ = fs::remove_file(p);
    }
    assert!(
        got > 0 && refused > 0,
        "the pulls did not meet both kinds of file: {got} files, {refused} refusals"
    );
}

/// Unmounts a test's own mount when dropped (also after a failed assertion).
struct Unmount(std::path::PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
    }
}

#[test]
fn fifos_devices_and_symlinks_swapped_in_during_pulls_and_pushes() {
    let Some(env) = TestEnv::new("fswap") else {
        return;
    };
    let n = running_privileged_busybox(&env);
    // running: a tmpfs inside the container, reached from the host through init's root
    env.sh_ok(&n, "mkdir -p /root/t && mount -t tmpfs none /root/t");
    let pid = env.init_pid(&n);
    check_swapped_pulls(
        &env,
        &n,
        Path::new(&format!("/proc/{pid}/root/root/t")),
        "/root/t",
        None,
    );
    env.kill(&n);
    // stopped: a tmpfs of the test's in the rootfs
    let t = env.lxcpath.join(&n).join("rootfs/root/t");
    nix::mount::mount(
        Some("tmpfs"),
        &t,
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        None::<&str>,
    )
    .unwrap();
    let unmount = Unmount(t.clone());
    check_swapped_pulls(&env, &n, &t, "/root/t", None);
    drop(unmount);
    env.assert_no_leaks(&n);
}

/// The host ids of a default (unprivileged) container's root: its `lxc.idmap` lines for 0.
fn root_host_ids(env: &TestEnv, n: &str) -> (u32, u32) {
    let cfg = env.read_config(n);
    let host = |kind: &str| -> u32 {
        cfg.lines()
            .filter_map(|l| l.strip_prefix("lxc.idmap")?.trim_start().strip_prefix('='))
            .map(|v| v.split_whitespace().collect::<Vec<_>>())
            .find(|f| f.len() == 4 && f[0] == kind && f[1] == "0")
            .and_then(|f| f[2].parse().ok())
            .unwrap_or_else(|| panic!("no lxc.idmap for {kind} 0 in the config of {n}:\n{cfg}"))
    };
    (host("u"), host("g"))
}

/// The same swaps under the file helper of a default, unprivileged container (it acts as
/// the container's root, with that root's host ids): running, and stopped.
#[test]
fn swaps_during_pulls_and_pushes_on_an_unprivileged_container() {
    let Some(env) = TestEnv::new("fswpu") else {
        return;
    };
    let n = running_busybox(&env);
    let owner = root_host_ids(&env, &n);
    assert_ne!(owner.0, 0, "{n} is not unprivileged");
    env.sh_ok(&n, "mkdir -p /root/t && mount -t tmpfs none /root/t");
    let pid = env.init_pid(&n);
    check_swapped_pulls(
        &env,
        &n,
        Path::new(&format!("/proc/{pid}/root/root/t")),
        "/root/t",
        Some(owner),
    );
    env.kill(&n);
    let t = env.lxcpath.join(&n).join("rootfs/root/t");
    nix::mount::mount(
        Some("tmpfs"),
        &t,
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        Some(format!("uid={},gid={},mode=0755", owner.0, owner.1).as_str()),
    )
    .unwrap();
    let unmount = Unmount(t.clone());
    check_swapped_pulls(&env, &n, &t, "/root/t", Some(owner));
    drop(unmount);
    env.assert_no_leaks(&n);
}

/// Symlinks to "/" and to /etc/shadow inside: followed inside the container, never to the
/// host's files.
fn check_links_to_root_and_shadow(env: &TestEnv, n: &str, running: bool) {
    let rootfs = env.lxcpath.join(n).join("rootfs");
    let host_shadow = fs::read("/etc/shadow").unwrap();
    let marker = format!("container shadow of {n}\n");
    sh_inside(
        env,
        n,
        running,
        &format!(
            "printf '{}' > /etc/shadow && ln -sfn /etc/shadow /root/sh && ln -sfn / /root/rl",
            marker.trim_end().to_owned() + "\\n"
        ),
    );
    // as the source
    let out = env.path(&format!("links-{running}"));
    fs::create_dir_all(&out).unwrap();
    env.hako(&[
        "file",
        "pull",
        &format!("{n}:/root/sh"),
        out.join("sh").to_str().unwrap(),
    ])
    .assert_ok();
    assert_eq!(fs::read_to_string(out.join("sh")).unwrap(), marker);
    env.hako(&[
        "file",
        "pull",
        &format!("{n}:/root/rl/etc/hostname"),
        out.join("hn").to_str().unwrap(),
    ])
    .assert_ok();
    assert_eq!(
        fs::read_to_string(out.join("hn")).unwrap(),
        format!("{n}\n")
    );
    // as the target directory: the file lands in the container's /
    let token = env.token("hakoroot");
    let local = env.write(&token, "into the container's root\n");
    env.hako(&[
        "file",
        "push",
        local.to_str().unwrap(),
        &format!("{n}:/root/rl/"),
    ])
    .assert_ok();
    assert!(
        !Path::new("/").join(&token).exists(),
        "the push wrote into the host's /"
    );
    assert_eq!(
        fs::read_to_string(rootfs.join(&token)).unwrap(),
        "into the container's root\n"
    );
    // as the target file: the container's /etc/shadow is replaced, the host's is not
    env.hako(&[
        "file",
        "push",
        local.to_str().unwrap(),
        &format!("{n}:/root/sh"),
    ])
    .assert_ok();
    assert_eq!(
        fs::read_to_string(rootfs.join("etc/shadow")).unwrap(),
        "into the container's root\n"
    );
    assert_eq!(
        fs::read("/etc/shadow").unwrap(),
        host_shadow,
        "the host's /etc/shadow changed"
    );
}

#[test]
fn symlinks_to_root_and_shadow_stay_inside() {
    let Some(env) = TestEnv::new("flink") else {
        return;
    };
    let n = running_busybox(&env);
    check_links_to_root_and_shadow(&env, &n, true);
    env.kill(&n);
    let n2 = env.busybox();
    check_links_to_root_and_shadow(&env, &n2, false);
    env.assert_no_leaks(&n2);
}

/// `.NAME.hako-PID` temporary files in a directory of the host.
fn temp_files(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with('.') && n.contains(".hako-"))
                .collect()
        })
        .unwrap_or_default()
}

/// Kill -9 a `file push` of a big file while its helper writes; the helper must die with
/// it, the target must not appear, and the next push into the directory removes the
/// temporary file.
fn check_killed_push(env: &TestEnv, n: &str, big: &Path) {
    let rootfs = env.lxcpath.join(n).join("rootfs");
    let target_dir = rootfs.join("root");
    let mut client = Command::new(HAKO)
        .env("HAKO_SYSCONFDIR", &env.etc)
        .env_remove("HAKO_PATH")
        .arg("-P")
        .arg(&env.lxcpath)
        .args([
            "file",
            "push",
            big.to_str().unwrap(),
            &format!("{n}:/root/big"),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // the helper's temporary file, with some data in it
    let mut helper = None;
    let seen = wait_for(Duration::from_secs(30), || {
        for t in temp_files(&target_dir) {
            let size = fs::metadata(target_dir.join(&t))
                .map(|m| m.len())
                .unwrap_or(0);
            let pid: Option<i32> = t.rsplit("hako-").next().and_then(|p| p.parse().ok());
            if let (true, Some(pid)) = (size > 0, pid) {
                helper = Some(pid);
                return true;
            }
        }
        false
    });
    let Some(helper) = helper.filter(|_| seen) else {
        let _ = client.kill();
        let _ = client.wait();
        panic!(
            "the push never showed its temporary file in {}",
            target_dir.display()
        );
    };
    let helper_pid = nix::unistd::Pid::from_raw(helper);
    let helper_start = stat_field(helper, 22);
    assert_eq!(
        ppid_of(helper),
        Some(client.id() as i32),
        "pid {helper} is not the push's helper"
    );
    // hold the helper still, so that it cannot finish the copy on its own, then kill the
    // client: the parent-death signal (SIGKILL) ends even a stopped process
    let _ = nix::sys::signal::kill(helper_pid, nix::sys::signal::Signal::SIGSTOP);
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(client.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    );
    let _ = client.wait();
    let gone = wait_for(Duration::from_secs(5), || !pid_alive(helper));
    if !gone && stat_field(helper, 22) == helper_start {
        // the regression: do not leave it behind
        let _ = nix::sys::signal::kill(helper_pid, nix::sys::signal::Signal::SIGKILL);
        panic!("the helper {helper} of a killed push is still there");
    }
    assert!(
        !target_dir.join("big").exists(),
        "the killed push still put its file in place"
    );
    let left = temp_files(&target_dir);
    assert_eq!(
        left.len(),
        1,
        "expected the killed push's temporary file: {left:?}"
    );
    // the next push into /root: done at once (the lock of a stopped container is free),
    // and the leftover is gone
    let small = env.write("small.txt", "small\n");
    let r = env.hako(&[
        "file",
        "push",
        small.to_str().unwrap(),
        &format!("{n}:/root/small.txt"),
    ]);
    r.assert_ok();
    assert!(r.elapsed < Duration::from_secs(10), "took {:?}", r.elapsed);
    assert_eq!(temp_files(&target_dir), Vec::<String>::new());
    assert_eq!(
        fs::read_to_string(target_dir.join("small.txt")).unwrap(),
        "small\n"
    );
}

#[test]
fn a_killed_push_takes_its_helper_along_and_the_next_push_cleans_up() {
    let Some(env) = TestEnv::new("fkill") else {
        return;
    };
    // 200 MB of random data (does not compress, takes a while to write)
    let big = env.path("big.bin");
    {
        use std::io::Read;
        let src = fs::File::open("/dev/urandom").unwrap();
        let mut dst = fs::File::create(&big).unwrap();
        std::io::copy(&mut src.take(200 << 20), &mut dst).unwrap();
    }
    let n = running_busybox(&env);
    check_killed_push(&env, &n, &big);
    env.kill(&n);
    // stopped: the helper held the container's lock too
    check_killed_push(&env, &n, &big);
    env.assert_no_leaks(&n);
}

/// Restores a config file when dropped (also after a failed assertion), so the test's
/// cleanup never destroys a container whose rootfs path leads to "/".
struct RestoreConfig(std::path::PathBuf, String);

impl Drop for RestoreConfig {
    fn drop(&mut self) {
        let _ = fs::write(&self.0, &self.1);
    }
}

#[test]
fn a_rootfs_leading_to_the_host_root_is_refused() {
    let Some(env) = TestEnv::new("froot") else {
        return;
    };
    let n = env.busybox();
    let real = env.lxcpath.join(&n).join("rootfs");
    let _restore = RestoreConfig(env.config_path(&n), env.read_config(&n));
    let slash = env.path("slash");
    std::os::unix::fs::symlink("/", &slash).unwrap();
    let token = env.token("hakohost");
    let local = env.write("r.txt", "must not reach the host\n");
    let l = local.to_str().unwrap();
    for rootfs in [
        format!("dir:{}", slash.display()),
        slash.display().to_string(),
        // a path through the symlink that still ends at "/"
        format!("dir:{}/tmp/..", slash.display()),
    ] {
        env.replace_config_line(
            &n,
            "lxc.rootfs.path",
            &format!("lxc.rootfs.path = {rootfs}"),
        );
        env.hako(&["file", "push", l, &format!("{n}:/tmp/{token}")])
            .assert_fails_with(1, "the host's root directory")
            .assert_fails_with(1, "fix lxc.rootfs.path")
            .assert_one_clear_error(&n);
        assert!(
            !Path::new("/tmp").join(&token).exists(),
            "the push wrote to the host's /tmp"
        );
        env.hako(&[
            "file",
            "pull",
            &format!("{n}:/etc/hostname"),
            env.path("h.out").to_str().unwrap(),
        ])
        .assert_fails_with(1, "the host's root directory");
        assert!(!env.path("h.out").exists());
    }
    // symlinks on the host leading to a directory of its own are fine (as start's bind
    // mount follows them): the link itself, or a component of the path
    let link = env.path("rootlink");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let via = env.path("via");
    std::os::unix::fs::symlink(env.lxcpath.join(&n), &via).unwrap();
    for rootfs in [
        format!("dir:{}", link.display()),
        format!("dir:{}/rootfs", via.display()),
    ] {
        env.replace_config_line(
            &n,
            "lxc.rootfs.path",
            &format!("lxc.rootfs.path = {rootfs}"),
        );
        let _ = fs::remove_file(real.join("tmp").join(&token));
        env.hako(&["file", "push", l, &format!("{n}:/tmp/{token}")])
            .assert_ok();
        assert_eq!(
            fs::read_to_string(real.join("tmp").join(&token)).unwrap(),
            "must not reach the host\n"
        );
        env.hako(&[
            "file",
            "pull",
            &format!("{n}:/etc/hostname"),
            env.path("h.out").to_str().unwrap(),
        ])
        .assert_ok();
        assert_eq!(
            fs::read_to_string(env.path("h.out")).unwrap(),
            format!("{n}\n")
        );
    }
    assert!(!Path::new("/tmp").join(&token).exists());
    env.assert_no_leaks(&n);
}
