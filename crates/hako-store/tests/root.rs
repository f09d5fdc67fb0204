//! Store tests that need root (chroot, mounts). Each test uses its own temporary lxcpath,
//! system config directory and runtime directory, and removes them.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use hako_store::{CreateSpec, Flavour, Store, StoreError, Template};

fn is_root() -> bool {
    if nix::unistd::geteuid().is_root() {
        true
    } else {
        // straight to fd 2, past the test harness's capture, so the skip is seen
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "\n*** SKIPPED: needs root (run the hako-store root tests as root) ***\n"
        );
        false
    }
}

struct Env {
    _tmp: tempfile::TempDir,
    store: Store,
    base: PathBuf,
}

fn env() -> Env {
    let tmp = tempfile::Builder::new()
        .prefix("hako-store-test.")
        .tempdir()
        .unwrap();
    let base = tmp.path().to_path_buf();
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

fn spec(name: &str, template: Template) -> CreateSpec {
    CreateSpec {
        name: name.to_string(),
        template,
        template_args: vec![],
        extra_config: None,
        backing: "dir".to_string(),
        quiet: true,
        ids: Default::default(),
    }
}

fn mode(p: &Path) -> u32 {
    fs::symlink_metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .mode()
        & 0o7777
}

fn values(text: &str, key: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| k.trim() == key)
        .map(|(_, v)| v.trim().trim_matches('"').to_string())
        .collect()
}

fn chroot_echo(rootfs: &Path) -> String {
    let out = Command::new("/usr/sbin/chroot")
        .arg(rootfs)
        .args(["/bin/sh", "-c", "echo ok"])
        .env_clear()
        .env("PATH", "/bin:/sbin:/usr/bin:/usr/sbin")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "chroot failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Nothing of `name` is left: no directory, no lock file, no runtime directory.
fn assert_gone(s: &Store, name: &str) {
    assert!(
        fs::symlink_metadata(s.container_dir(name)).is_err(),
        "{} left behind",
        s.container_dir(name).display()
    );
    assert!(!s.lock_path(name).exists(), "lock file left behind");
    assert!(!s.runtime_dir(name).exists(), "runtime dir left behind");
    assert!(!s.list().unwrap().contains(&name.to_string()));
}

#[test]
fn busybox_create_chroot_destroy() {
    if !is_root() {
        return;
    }
    let e = env();
    let s = &e.store;
    s.create(&spec("web", Template::Busybox)).unwrap();
    assert_eq!(s.list().unwrap(), vec!["web".to_string()]);
    assert!(s.exists("web"));
    let dir = s.container_dir("web");
    assert_eq!(mode(&dir), 0o750);
    assert_eq!(mode(s.lxcpath()), 0o755);
    assert!(!dir.join("partial").exists());

    let rootfs = s.rootfs_path("web");
    let bb = rootfs.join("bin/busybox");
    // setuid root, as LXC's template leaves it (passwd works for users inside)
    assert_eq!(mode(&bb), 0o4755);
    // static: runs with no libc around it, and has no PT_INTERP (checked by `file`-free means:
    // the chroot below has no /lib content at all)
    assert!(
        fs::read_dir(rootfs.join("lib")).unwrap().next().is_none(),
        "lib is empty"
    );
    assert_eq!(chroot_echo(&rootfs), "ok\n");
    for (p, m) in [
        ("tmp", 0o1777),
        ("root", 0o700),
        ("etc/shadow", 0o600),
        ("etc/init.d/rcS", 0o755),
        ("etc/udhcpc.script", 0o755),
        ("etc/passwd", 0o644),
        ("etc/inittab", 0o644),
    ] {
        assert_eq!(mode(&rootfs.join(p)), m, "{p}");
    }
    for d in [
        "bin", "sbin", "usr/bin", "usr/sbin", "etc", "dev", "proc", "sys", "run", "var/log",
        "home", "lib", "mnt",
    ] {
        assert!(rootfs.join(d).is_dir(), "{d}");
    }
    for f in ["etc/group", "etc/profile", "etc/fstab", "etc/resolv.conf"] {
        assert!(rootfs.join(f).is_file(), "{f}");
    }
    assert_eq!(
        fs::read_to_string(rootfs.join("etc/hostname")).unwrap(),
        "web\n"
    );
    assert!(fs::read_to_string(rootfs.join("etc/hosts"))
        .unwrap()
        .contains("127.0.1.1\tweb\n"));
    let inittab = fs::read_to_string(rootfs.join("etc/inittab")).unwrap();
    assert!(inittab.contains("::sysinit:/etc/init.d/rcS"));
    assert!(inittab.contains("tty4::respawn:/sbin/getty 38400 tty4"));
    assert!(!inittab.contains("tty5"));
    // every applet works through its link, inside the rootfs
    let out = Command::new("/usr/sbin/chroot")
        .arg(&rootfs)
        .args(["/sbin/init", "--help"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("init"),
        "init applet reachable"
    );
    let out = Command::new("/usr/sbin/chroot")
        .arg(&rootfs)
        .args(["/usr/bin/id", "-un"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "root\n");

    let config = fs::read_to_string(s.config_path("web")).unwrap();
    assert_eq!(
        values(&config, "lxc.rootfs.path"),
        vec![format!("dir:{}", rootfs.display())]
    );
    assert_eq!(values(&config, "lxc.uts.name"), vec!["web"]);
    assert_eq!(values(&config, "lxc.net.0.type"), vec!["veth"]); // the built-in default: hakobr0
    assert_eq!(values(&config, "lxc.signal.halt"), vec!["SIGUSR1"]);
    assert_eq!(values(&config, "lxc.signal.reboot"), vec!["SIGTERM"]);
    assert_eq!(values(&config, "lxc.tty.max"), vec!["4"]);
    assert_eq!(values(&config, "lxc.pty.max"), vec!["1024"]);
    assert_eq!(
        values(&config, "lxc.mount.auto"),
        vec!["proc:mixed sys:ro cgroup:mixed"]
    );
    assert_eq!(values(&config, "lxc.autodev"), vec!["1"]);
    assert_eq!(values(&config, "lxc.init.cmd"), vec!["/sbin/init"]);
    hako_config::load_file(&s.config_path("web")).expect("the new config loads");

    // runtime state, as a monitor would leave it, goes too
    fs::create_dir_all(s.runtime_dir("web")).unwrap();
    fs::write(s.runtime_dir("web").join("state"), "STOPPED\n").unwrap();
    let lock = s.lock("web", Duration::ZERO).unwrap();
    s.destroy("web").unwrap();
    drop(lock);
    assert_gone(s, "web");
    assert!(s.lxcpath().is_dir(), "the lxcpath stays");
}

#[test]
fn failing_script_template_leaves_nothing() {
    if !is_root() {
        return;
    }
    let e = env();
    let s = &e.store;
    let script = e.base.join("failing-template");
    fs::write(
        &script,
        "#!/bin/sh\necho starting\nmkdir -p \"$LXC_ROOTFS_PATH/etc\"\necho 'no mirror reachable for bookworm' >&2\nexit 3\n",
    )
    .unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    let err = s
        .create(&spec("web", Template::Script(script.clone())))
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, StoreError::TemplateFailed { .. }), "{msg}");
    assert!(msg.contains("no mirror reachable for bookworm"), "{msg}");
    assert!(msg.contains("exit code 3"), "{msg}");
    assert!(msg.contains(&script.display().to_string()), "{msg}");
    assert_gone(s, "web");
}

#[test]
fn lxc_busybox_script_template() {
    if !is_root() {
        return;
    }
    let tpl = Path::new("/usr/share/lxc/templates/lxc-busybox");
    if !tpl.exists() || !Path::new("/bin/busybox").exists() {
        panic!("this test needs lxc-templates and busybox-static installed (apt-get install lxc-templates busybox-static)");
    }
    let e = env();
    let s = &e.store;
    // by name, as `-t` would give it, and by path
    let t = Template::parse("/usr/share/lxc/templates/lxc-busybox").unwrap();
    assert_eq!(t, Template::Script(tpl.to_path_buf()));
    s.create(&spec("bb", t)).unwrap();
    let rootfs = s.rootfs_path("bb");
    assert!(rootfs.join("bin/busybox").is_file());
    assert_eq!(chroot_echo(&rootfs), "ok\n");
    let config = fs::read_to_string(s.config_path("bb")).unwrap();
    // what the script appended, after what we wrote
    assert_eq!(values(&config, "lxc.signal.halt"), vec!["SIGUSR1"]);
    assert!(
        config.contains("lxc.mount.entry = shm dev/shm tmpfs"),
        "{config}"
    );
    assert_eq!(
        values(&config, "lxc.rootfs.path"),
        vec![format!("dir:{}", rootfs.display())]
    );
    // ours and the script's `lxc.uts.name = "bb"`: one is kept
    assert_eq!(values(&config, "lxc.uts.name"), vec!["bb"]);
    assert!(config.starts_with(
        "# Template used to create this container: /usr/share/lxc/templates/lxc-busybox\n"
    ));
    hako_config::load_file(&s.config_path("bb")).expect("the config loads");
    s.destroy("bb").unwrap();
    assert_gone(s, "bb");
}

#[test]
fn second_create_fails_and_leaves_the_first_alone() {
    if !is_root() {
        return;
    }
    let e = env();
    let s = &e.store;
    s.create(&spec("web", Template::None)).unwrap();
    let config_before = fs::read(s.config_path("web")).unwrap();
    fs::write(s.rootfs_path("web").join("mine"), "data").unwrap();
    let err = s.create(&spec("web", Template::Busybox)).unwrap_err();
    assert!(matches!(err, StoreError::Exists { .. }), "{err}");
    assert!(
        err.to_string().starts_with(&format!(
            "container \"web\" already exists in {};",
            s.lxcpath().display()
        )),
        "{err}"
    );
    assert_eq!(fs::read(s.config_path("web")).unwrap(), config_before);
    assert_eq!(
        fs::read_to_string(s.rootfs_path("web").join("mine")).unwrap(),
        "data"
    );
    assert!(!s.rootfs_path("web").join("bin").exists());
    assert!(s.exists("web"));
    s.destroy("web").unwrap();
    assert_gone(s, "web");
}

#[test]
fn template_none_makes_config_and_empty_rootfs() {
    if !is_root() {
        return;
    }
    let e = env();
    let s = &e.store;
    s.create(&spec("plain", Template::None)).unwrap();
    let rootfs = s.rootfs_path("plain");
    assert!(rootfs.is_dir());
    assert!(fs::read_dir(&rootfs).unwrap().next().is_none());
    let config = fs::read_to_string(s.config_path("plain")).unwrap();
    assert_eq!(
        values(&config, "lxc.rootfs.path"),
        vec![format!("dir:{}", rootfs.display())]
    );
    assert_eq!(values(&config, "lxc.uts.name"), vec!["plain"]);
    s.destroy("plain").unwrap();
    assert_gone(s, "plain");
}

#[test]
fn system_default_and_extra_config_are_merged() {
    if !is_root() {
        return;
    }
    let e = env();
    let s = &e.store;
    fs::create_dir_all(e.base.join("etc/hako")).unwrap();
    fs::write(
        e.base.join("etc/hako/default.conf"),
        "# site policy\nlxc.net.0.type = none\n",
    )
    .unwrap();
    let extra = e.base.join("extra.conf");
    fs::write(
        &extra,
        "# my limits\nlxc.cgroup2.pids.max = 100\nlxc.uts.name = ignored\n",
    )
    .unwrap();
    let mut sp = spec("merged", Template::Busybox);
    sp.extra_config = Some(extra);
    sp.template_args = vec!["--busybox-path".into(), "/bin/busybox".into()];
    s.create(&sp).unwrap();
    let config = fs::read_to_string(s.config_path("merged")).unwrap();
    assert!(
        config.contains("# site policy") && config.contains("# my limits"),
        "{config}"
    );
    assert_eq!(values(&config, "lxc.net.0.type"), vec!["none"]);
    assert_eq!(values(&config, "lxc.cgroup2.pids.max"), vec!["100"]);
    assert_eq!(values(&config, "lxc.uts.name"), vec!["merged"]);
    assert!(config.find("# site policy").unwrap() < config.find("# my limits").unwrap());
    s.destroy("merged").unwrap();
}

#[test]
fn bad_extra_config_fails_the_create_and_leaves_nothing() {
    if !is_root() {
        return;
    }
    let e = env();
    let s = &e.store;
    let extra = e.base.join("bad.conf");
    fs::write(&extra, "lxc.net.0.type = empty\nlxc.no.such.key = 1\n").unwrap();
    let mut sp = spec("web", Template::Busybox);
    sp.extra_config = Some(extra);
    let err = s.create(&sp).unwrap_err().to_string();
    assert!(err.contains("lxc.no.such.key"), "{err}");
    assert_gone(s, "web");
}

#[test]
fn hwaddr_x_digits_are_randomised() {
    if !is_root() {
        return;
    }
    let e = env();
    let s = &e.store;
    let extra = e.base.join("net.conf");
    fs::write(
        &extra,
        "lxc.net.0.type = veth\nlxc.net.0.link = hakobr0\nlxc.net.0.hwaddr = 00:16:3e:xx:xx:xx\n",
    )
    .unwrap();
    let mut sp = spec("net", Template::None);
    sp.extra_config = Some(extra);
    s.create(&sp).unwrap();
    let config = fs::read_to_string(s.config_path("net")).unwrap();
    let hw = values(&config, "lxc.net.0.hwaddr");
    assert_eq!(hw.len(), 1, "{config}");
    assert!(
        hw[0].starts_with("00:16:3e:") && !hw[0].contains('x'),
        "{}",
        hw[0]
    );
    s.destroy("net").unwrap();
}

#[test]
fn busybox_args_and_backing_are_checked_before_anything_is_made() {
    if !is_root() {
        return;
    }
    let e = env();
    let s = &e.store;
    let mut sp = spec("web", Template::Busybox);
    sp.template_args = vec!["--release".into(), "bookworm".into()];
    let err = s.create(&sp).unwrap_err().to_string();
    assert!(err.contains("--busybox-path PATH"), "{err}");
    assert_gone(s, "web");
    let mut sp = spec("web", Template::Busybox);
    sp.template_args = vec!["--busybox-path".into(), "/bin/sh".into()];
    let err = s.create(&sp).unwrap_err().to_string();
    assert_eq!(
        err,
        "busybox at /bin/sh is dynamically linked; install busybox-static"
    );
    assert_gone(s, "web");
    let mut sp = spec("web", Template::None);
    sp.backing = "lvm".into();
    let err = s.create(&sp).unwrap_err().to_string();
    assert!(
        err.contains("\"lvm\" is not supported") && err.contains("dir, overlay, btrfs"),
        "{err}"
    );
    assert_gone(s, "web");
    let mut sp = spec("web", Template::None);
    sp.backing = "overlay".into();
    let err = s.create(&sp).unwrap_err().to_string();
    assert!(err.contains("builds no image to layer on"), "{err}");
    assert_gone(s, "web");
    if !hako_store::backing::is_on_btrfs(s.lxcpath()) {
        let mut sp = spec("web", Template::None);
        sp.backing = "btrfs".into();
        let err = s.create(&sp).unwrap_err().to_string();
        assert!(err.contains("is not on a btrfs filesystem"), "{err}");
        assert_gone(s, "web");
    }
    let err = s.create(&spec("bad/name", Template::None)).unwrap_err();
    assert!(matches!(err, StoreError::InvalidName { .. }));
}

#[test]
fn stale_partial_dir_is_cleaned_by_the_next_create() {
    if !is_root() {
        return;
    }
    let e = env();
    let s = &e.store;
    let dir = s.container_dir("web");
    fs::create_dir_all(dir.join("rootfs/junk")).unwrap();
    fs::write(dir.join("partial"), "").unwrap();
    fs::write(dir.join("config"), "lxc.uts.name = old\n").unwrap();
    assert!(s.list().unwrap().is_empty());
    assert!(!s.exists("web"));
    s.create(&spec("web", Template::None)).unwrap();
    assert!(!s.rootfs_path("web").join("junk").exists());
    assert!(s.exists("web"));
    // a plain directory in the way is not ours to delete
    fs::create_dir_all(s.container_dir("other")).unwrap();
    fs::write(s.container_dir("other").join("data"), "keep").unwrap();
    let err = s
        .create(&spec("other", Template::None))
        .unwrap_err()
        .to_string();
    assert!(err.contains("holds no container"), "{err}");
    assert!(s.container_dir("other").join("data").exists());
    s.destroy("web").unwrap();
}

#[test]
fn destroy_refuses_while_something_is_mounted_below() {
    if !is_root() {
        return;
    }
    let e = env();
    let s = &e.store;
    s.create(&spec("web", Template::None)).unwrap();
    let mnt = s.rootfs_path("web").join("mnt");
    fs::create_dir(&mnt).unwrap();
    nix::mount::mount(
        Some("tmpfs"),
        &mnt,
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        Some("size=1m"),
    )
    .unwrap();
    fs::write(mnt.join("on-the-mount"), "x").unwrap();
    let err = s.destroy("web");
    let still_there = mnt.join("on-the-mount").exists();
    let config_there = s.config_path("web").exists();
    nix::mount::umount(&mnt).unwrap();
    let err = err.unwrap_err();
    assert!(matches!(err, StoreError::Mounted { .. }), "{err}");
    assert!(
        err.to_string().contains(&mnt.display().to_string()),
        "{err}"
    );
    assert!(still_there && config_there, "nothing was touched");
    assert!(s.exists("web"));
    s.destroy("web").unwrap();
    assert_gone(s, "web");
}

#[test]
fn lock_contention_between_threads() {
    if !is_root() {
        return;
    }
    let e = env();
    let s = e.store.clone();
    let (held_tx, held_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let s1 = s.clone();
    let holder = std::thread::spawn(move || {
        let lock = s1.lock("web", Duration::from_secs(1)).unwrap();
        held_tx.send(()).unwrap();
        release_rx.recv().unwrap();
        drop(lock);
    });
    held_rx.recv().unwrap();
    let s2 = s.clone();
    let waiter = std::thread::spawn(move || {
        let t0 = Instant::now();
        let r = s2.lock("web", Duration::from_millis(300));
        (r, t0.elapsed())
    });
    let (r, waited) = waiter.join().unwrap();
    let err = r.unwrap_err();
    assert!(waited >= Duration::from_millis(300), "{waited:?}");
    assert_eq!(
        err.to_string(),
        format!("container \"web\" is locked by another hako command (pid {}); retry when it has finished", std::process::id())
    );
    // a waiter with enough patience gets it once the holder lets go
    let s3 = s.clone();
    let patient = std::thread::spawn(move || s3.lock("web", Duration::from_secs(10)).map(|_| ()));
    std::thread::sleep(Duration::from_millis(100));
    release_tx.send(()).unwrap();
    holder.join().unwrap();
    patient.join().unwrap().unwrap();
}

#[test]
fn script_template_mounts_do_not_leak() {
    if !is_root() {
        return;
    }
    let e = env();
    let s = &e.store;
    let script = e.base.join("mounting-template");
    fs::write(
        &script,
        "#!/bin/sh\nset -e\nmkdir -p \"$LXC_ROOTFS_PATH/proc\"\nmount -t tmpfs none \"$LXC_ROOTFS_PATH/proc\"\n\
         grep -q \" $LXC_ROOTFS_PATH/proc \" /proc/self/mountinfo\necho \"lxc.tty.max = 1\" >> \"$LXC_CONFIG_FILE\"\n",
    )
    .unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    s.create(&spec("m", Template::Script(script))).unwrap();
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mountinfo.contains(&s.container_dir("m").display().to_string()),
        "{mountinfo}"
    );
    let config = fs::read_to_string(s.config_path("m")).unwrap();
    assert_eq!(values(&config, "lxc.tty.max"), vec!["1"]);
    s.destroy("m").unwrap();
    assert_gone(s, "m");
}
