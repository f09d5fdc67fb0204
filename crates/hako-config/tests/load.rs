//! Loading: includes, legacy keys, validation errors, the typed view, overrides.

use std::fs;
use std::path::{Path, PathBuf};

use hako_config::values::{self, CgroupKind, CgroupMode, ProcMode, SysMode};
use hako_config::{is_supported, load_file, load_str, Config, ConfigError};

const LXC_CONFIG_DIR: &str = "/usr/share/lxc/config";

fn load(text: &str) -> Config {
    load_str(text, Path::new("/c/config")).unwrap_or_else(|e| panic!("{e}"))
}

fn load_err(text: &str) -> String {
    match load_str(text, Path::new("/c/config")) {
        Ok(c) => panic!("expected an error for {text:?}, got {:?}", c.items),
        Err(e) => e.to_string(),
    }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        fs::create_dir_all(parent).unwrap();
    }
    fs::write(&p, text).unwrap();
    p
}

// ---------------------------------------------------------------------------------------
// LXC's own files

#[test]
fn every_lxc_config_file_loads() {
    let dir = Path::new(LXC_CONFIG_DIR);
    if !dir.is_dir() {
        eprintln!(
            "skipped: {LXC_CONFIG_DIR} does not exist (install the lxc package to run this test)"
        );
        return;
    }
    let mut n = 0;
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "conf") && p.is_file() {
            let cfg = load_file(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            for w in &cfg.warnings {
                assert!(
                    w.message.contains("is not supported by hako yet"),
                    "unexpected warning loading {}: {w}",
                    p.display()
                );
            }
            n += 1;
        }
    }
    assert!(n >= 20, "expected LXC's config files, found {n}");
}

#[test]
fn debian_common_conf() {
    let p = Path::new(LXC_CONFIG_DIR).join("debian.common.conf");
    if !p.is_file() {
        eprintln!(
            "skipped: {} does not exist (install the lxc package to run this test)",
            p.display()
        );
        return;
    }
    let cfg = load_file(&p).unwrap();
    // from common.conf, through the include
    assert_eq!(cfg.get("lxc.pty.max"), Some("1024"));
    assert_eq!(cfg.get("lxc.tty.max"), Some("4"));
    let pty = cfg.item("lxc.pty.max").unwrap();
    assert_eq!(
        pty.origin.file,
        Path::new(LXC_CONFIG_DIR).join("common.conf")
    );
    assert_eq!(pty.origin.line, 7);
    // debian.common.conf clears the tty dir common.conf set
    assert_eq!(cfg.get("lxc.tty.dir"), None);
    assert_eq!(
        cfg.cap_drop().unwrap(),
        vec![
            "mac_admin",
            "mac_override",
            "sys_time",
            "sys_module",
            "sys_rawio"
        ]
    );
    let allow: Vec<&str> = cfg
        .cgroup_keys(false)
        .into_iter()
        .filter(|(k, _)| *k == "devices.allow")
        .map(|(_, v)| v)
        .collect();
    assert_eq!(allow.first(), Some(&"c *:* m"));
    assert_eq!(
        allow.last(),
        Some(&"c 10:232 rwm"),
        "debian.common.conf's extra devices come after common.conf's"
    );
    assert!(cfg.cgroup_keys(true).contains(&("devices.deny", "a")));
    let m = cfg.mount_auto().unwrap();
    assert_eq!(
        (m.proc, m.sys),
        (Some(ProcMode::Mixed), Some(SysMode::Mixed))
    );
    assert_eq!(m.cgroup.unwrap().mode, CgroupMode::Mixed);
    assert!(cfg.mount_entries().unwrap()[0].has_option("optional"));
    // seccomp and hooks are implemented: common.conf's profile and clone hook load
    // without a warning
    assert!(
        !cfg.warnings
            .iter()
            .any(|w| w.message.contains("lxc.seccomp.profile")
                || w.message.contains("lxc.hook.clone")),
        "{:?}",
        cfg.warnings
    );
    assert_eq!(
        cfg.get("lxc.seccomp.profile"),
        Some(format!("{LXC_CONFIG_DIR}/common.seccomp").as_str())
    );
}

#[test]
fn man_page_examples_load() {
    let complex = "\
lxc.uts.name = complex
lxc.net.0.type = veth
lxc.net.0.flags = up
lxc.net.0.link = br0
lxc.net.0.hwaddr = 4a:49:43:49:79:bf
lxc.net.0.ipv4.address = 10.2.3.5/24 10.2.3.255
lxc.net.0.ipv6.address = 2003:db8:1:0:214:1234:fe0b:3597
lxc.net.0.ipv6.address = 2003:db8:1:0:214:5432:feab:3588
lxc.net.1.type = macvlan
lxc.net.1.flags = up
lxc.net.1.link = eth0
lxc.net.1.hwaddr = 4a:49:43:49:79:bd
lxc.net.1.ipv4.address = 10.2.3.4/24
lxc.net.1.ipv4.address = 192.168.10.125/24
lxc.net.1.ipv6.address = 2003:db8:1:0:214:1234:fe0b:3596
lxc.net.2.type = phys
lxc.net.2.flags = up
lxc.net.2.link = random0
lxc.net.2.hwaddr = 4a:49:43:49:79:ff
lxc.net.2.ipv4.address = 10.2.3.6/24
lxc.net.2.ipv6.address = 2003:db8:1:0:214:1234:fe0b:3297
lxc.cgroup.cpuset.cpus = 0,1
lxc.cgroup.cpu.shares = 1234
lxc.cgroup.devices.deny = a
lxc.cgroup.devices.allow = c 1:3 rw
lxc.cgroup.devices.allow = b 8:0 rw
lxc.mount.fstab = /etc/fstab.complex
lxc.mount.entry = /lib /root/myrootfs/lib none ro,bind 0 0
lxc.rootfs.path = dir:/mnt/rootfs.complex
lxc.rootfs.options = idmap=container
lxc.cap.drop = sys_module mknod setuid net_raw
lxc.cap.drop = mac_override
lxc.idmap = u 0 100000 10000
lxc.idmap = g 0 100000 10000
lxc.environment = APP_ENV=production
lxc.environment = SYSLOG_SERVER=192.0.2.42
lxc.environment = PATH
lxc.mount.auto = proc:rw sys:rw cgroup-full:rw
lxc.proc.oom_score_adj = 10
lxc.namespace.clone = mount net ipc
lxc.time.offset.boot = -5s
lxc.keyring.session = 0
lxc.signal.halt = SIGRTMIN+14
lxc.signal.stop = SIGRTMAX-10
";
    let cfg = load(complex);
    assert_eq!(cfg.net_indices(), vec![0, 1, 2]);
    assert_eq!(cfg.net(1, "type"), Some("macvlan"));
    assert_eq!(
        cfg.net_list(1, "ipv4.address"),
        vec!["10.2.3.4/24", "192.168.10.125/24"]
    );
    assert_eq!(cfg.net_list(0, "ipv6.address").len(), 2);
    assert_eq!(
        cfg.cap_drop().unwrap(),
        vec!["sys_module", "mknod", "setuid", "net_raw", "mac_override"]
    );
    assert_eq!(
        cfg.environment(),
        vec![
            ("APP_ENV".to_string(), Some("production".to_string())),
            ("SYSLOG_SERVER".to_string(), Some("192.0.2.42".to_string())),
            ("PATH".to_string(), None)
        ]
    );
    assert_eq!(
        cfg.mount_auto().unwrap().cgroup.unwrap().kind,
        CgroupKind::CgroupFull
    );
    assert_eq!(
        values::parse_signal(cfg.get("lxc.signal.halt").unwrap()),
        Ok(48)
    );
}

// ---------------------------------------------------------------------------------------
// includes

#[test]
fn include_file_relative_and_origins() {
    let t = tempfile::tempdir().unwrap();
    let main = write(
        t.path(),
        "c/config",
        "lxc.uts.name = main\nlxc.include = ../shared/net.conf\nlxc.tty.max = 2\n",
    );
    write(
        t.path(),
        "shared/net.conf",
        "# net\nlxc.net.0.type = veth\nlxc.include = more/x.conf\n",
    );
    write(t.path(), "shared/more/x.conf", "lxc.net.0.link = br0\n");
    let cfg = load_file(&main).unwrap();
    let keys: Vec<&str> = cfg.items.iter().map(|i| i.key.as_str()).collect();
    assert_eq!(
        keys,
        vec![
            "lxc.uts.name",
            "lxc.include",
            "lxc.net.0.type",
            "lxc.include",
            "lxc.net.0.link",
            "lxc.tty.max"
        ]
    );
    let link = cfg.item("lxc.net.0.link").unwrap();
    assert_eq!(link.origin.file, t.path().join("c/../shared/more/x.conf"));
    assert_eq!(link.origin.line, 1);
    assert_eq!(cfg.item("lxc.net.0.type").unwrap().origin.line, 2);
    assert_eq!(
        cfg.item("lxc.tty.max").unwrap().origin.to_string(),
        format!("{}:3", main.display())
    );
    assert!(cfg.warnings.is_empty(), "{:?}", cfg.warnings);

    // load_str resolves relative includes against the origin's directory
    let cfg = load_str(
        "lxc.include = ../shared/net.conf\n",
        &t.path().join("c/virtual"),
    )
    .unwrap();
    assert_eq!(cfg.net(0, "link"), Some("br0"));
}

#[test]
fn include_directory_in_sorted_order() {
    let t = tempfile::tempdir().unwrap();
    write(t.path(), "d/b.conf", "lxc.group = b\n");
    write(t.path(), "d/a.conf", "lxc.group = a\n");
    write(t.path(), "d/c.conf.txt", "this is not a config at all\n");
    write(t.path(), "d/.conf", "this is not a config either\n");
    write(t.path(), "d/README", "not a config\n");
    fs::create_dir_all(t.path().join("d/sub.conf")).unwrap();
    let main = write(
        t.path(),
        "config",
        "lxc.include = d\nlxc.include = d/\nlxc.group = last\n",
    );
    let cfg = load_file(&main).unwrap();
    assert_eq!(cfg.get_list("lxc.group"), vec!["a", "b", "a", "b", "last"]);
    let a = &cfg.list_items("lxc.group")[0];
    assert_eq!(a.origin.file, t.path().join("d/a.conf"));
}

#[test]
fn include_loops_are_errors() {
    let t = tempfile::tempdir().unwrap();
    let a = write(
        t.path(),
        "a.conf",
        "lxc.uts.name = a\nlxc.include = b.conf\n",
    );
    write(
        t.path(),
        "b.conf",
        "lxc.tty.max = 1\nlxc.include = ./a.conf\n",
    );
    let e = load_file(&a).unwrap_err();
    assert!(matches!(e, ConfigError::IncludeLoop { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.starts_with(&format!(
            "{}:2: include loop",
            t.path().join("b.conf").display()
        )),
        "{msg}"
    );
    assert!(msg.contains("a.conf"), "{msg}");

    let s = write(t.path(), "self.conf", "lxc.include = self.conf\n");
    assert!(matches!(
        load_file(&s).unwrap_err(),
        ConfigError::IncludeLoop { .. }
    ));

    // a directory include that contains the including file
    write(t.path(), "d/x.conf", "lxc.include = ..\n");
    let top = write(t.path(), "d2/top", "lxc.include = ../d\n");
    let e = load_file(&top).unwrap_err();
    assert!(
        matches!(e, ConfigError::IncludeLoop { .. }) || matches!(e, ConfigError::Include { .. }),
        "{e}"
    );

    // the same file twice in a row is not a loop
    write(t.path(), "net.conf", "lxc.group = g\n");
    let twice = write(
        t.path(),
        "twice",
        "lxc.include = net.conf\nlxc.include = net.conf\n",
    );
    assert_eq!(
        load_file(&twice).unwrap().get_list("lxc.group"),
        vec!["g", "g"]
    );
}

#[test]
fn missing_includes_name_both_files() {
    let t = tempfile::tempdir().unwrap();
    let main = write(t.path(), "config", "# x\nlxc.include = nothere.conf\n");
    let msg = load_file(&main).unwrap_err().to_string();
    assert_eq!(
        msg,
        format!(
            "{}:2: cannot include \"{}\": no such file or directory; fix the path or remove the lxc.include line",
            main.display(),
            t.path().join("nothere.conf").display()
        )
    );
    // a missing directory without the trailing '/' is an error too
    let main = write(t.path(), "config2", "lxc.include = nodir\n");
    assert!(load_file(&main).is_err());
    // LXC skips a missing directory written with a trailing '/'
    let main = write(
        t.path(),
        "config3",
        "lxc.include = nodir/\nlxc.uts.name = ok\n",
    );
    assert_eq!(load_file(&main).unwrap().get("lxc.uts.name"), Some("ok"));
    // errors inside an included file point into that file
    write(t.path(), "bad.conf", "\nlxc.tty.max = many\n");
    let main = write(t.path(), "config4", "lxc.include = bad.conf\n");
    let msg = load_file(&main).unwrap_err().to_string();
    assert!(
        msg.starts_with(&format!(
            "{}:2: bad value \"many\" for \"lxc.tty.max\"",
            t.path().join("bad.conf").display()
        )),
        "{msg}"
    );
}

// ---------------------------------------------------------------------------------------
// Bounded, typed inputs: a FIFO, a device, a huge file or an include bomb is an error
// naming the file (and the lxc.include line), never a hang or an exhausted host.

/// `load_file(path)` on another thread; fails the test if it does not return within 5 s.
/// A regression that blocks on `fifo` is released by opening the FIFO's other end, so the
/// test fails instead of hanging the suite.
fn load_within_5s(path: &Path, fifo: Option<&Path>) -> Result<Config, ConfigError> {
    cap_memory();
    let (tx, rx) = std::sync::mpsc::channel();
    let p = path.to_path_buf();
    std::thread::spawn(move || {
        let _ = tx.send(load_file(&p));
    });
    match rx.recv_timeout(std::time::Duration::from_secs(5)) {
        Ok(r) => r,
        Err(_) => {
            if let Some(f) = fifo {
                use std::os::unix::fs::OpenOptionsExt;
                drop(
                    fs::OpenOptions::new()
                        .write(true)
                        .custom_flags(libc::O_NONBLOCK)
                        .open(f),
                );
            }
            panic!("loading {} did not return within 5 s", path.display());
        }
    }
}

/// Caps this test process's address space at 4 GiB (never raises it): a regression that
/// reads /dev/zero without end then fails an allocation instead of exhausting the host.
fn cap_memory() {
    let cap: libc::rlim_t = 4 << 30;
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid pointer to a local rlimit.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_AS, &mut r), 0);
        if r.rlim_cur > cap {
            r.rlim_cur = cap;
            assert_eq!(libc::setrlimit(libc::RLIMIT_AS, &r), 0);
        }
    }
}

fn mkfifo(p: &Path) {
    let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path; mkfifo only reads it.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
}

#[test]
fn devices_and_fifos_are_refused_as_config_and_include() {
    let t = tempfile::tempdir().unwrap();
    // the config itself
    let e = load_within_5s(Path::new("/dev/zero"), None).unwrap_err();
    assert_eq!(
        e.to_string(),
        "cannot read config file \"/dev/zero\": it is a character device, not a regular file; give the path of a config file (a regular file)"
    );
    let fifo = t.path().join("fifo");
    mkfifo(&fifo);
    let e = load_within_5s(&fifo, Some(&fifo)).unwrap_err();
    assert!(matches!(e, ConfigError::Io { .. }), "{e}");
    assert!(e.to_string().contains("a FIFO (named pipe)"), "{e}");

    // included: the error names the including file:line and the included file
    let main = write(
        t.path(),
        "config",
        "lxc.tty.max = 1\nlxc.include = /dev/zero\n",
    );
    let e = load_within_5s(&main, None).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}:2: cannot include \"/dev/zero\": it is a character device, not a regular file; fix the path or remove the lxc.include line",
            main.display()
        )
    );
    let main = write(t.path(), "config2", "# x\n\nlxc.include = fifo\n");
    let e = load_within_5s(&main, Some(&fifo)).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.starts_with(&format!(
            "{}:3: cannot include \"{}\": it is a FIFO (named pipe), not a regular file",
            main.display(),
            fifo.display()
        )),
        "{msg}"
    );

    // a FIFO in an included directory, among good files: refused, named, not skipped
    write(t.path(), "d/a.conf", "lxc.group = a\n");
    let dfifo = t.path().join("d/b.conf");
    mkfifo(&dfifo);
    let main = write(t.path(), "config3", "lxc.include = d\n");
    let msg = load_within_5s(&main, Some(&dfifo)).unwrap_err().to_string();
    assert!(
        msg.starts_with(&format!("{}:1: cannot include", main.display())),
        "{msg}"
    );
    assert!(msg.contains("d/b.conf") && msg.contains("FIFO"), "{msg}");
    // a FIFO not named *.conf is not read at all (as LXC: only *.conf entries count)
    fs::remove_file(&dfifo).unwrap();
    mkfifo(&t.path().join("d/b.fifo"));
    let cfg = load_within_5s(&main, None).unwrap();
    assert_eq!(cfg.get_list("lxc.group"), vec!["a"]);
    // a device reached through a symlink in the directory
    std::os::unix::fs::symlink("/dev/zero", t.path().join("d/z.conf")).unwrap();
    let msg = load_within_5s(&main, None).unwrap_err().to_string();
    assert!(
        msg.contains("d/z.conf") && msg.contains("character device"),
        "{msg}"
    );
}

#[test]
fn symlinked_configs_are_followed() {
    let t = tempfile::tempdir().unwrap();
    let real = write(t.path(), "real/common.conf", "lxc.group = shared\n");
    let link = t.path().join("config");
    std::os::unix::fs::symlink(
        write(t.path(), "real/config", "lxc.include = common.conf\n"),
        &link,
    )
    .unwrap();
    // the link itself, and an include of a link (resolved against the directory of the
    // path as given)
    std::os::unix::fs::symlink(&real, t.path().join("common.conf")).unwrap();
    let cfg = load_within_5s(&link, None).unwrap();
    assert_eq!(cfg.get_list("lxc.group"), vec!["shared"]);
}

#[test]
fn oversized_configs_are_refused_naming_size_and_limit() {
    let t = tempfile::tempdir().unwrap();
    let limit = hako_config::read::CONFIG_LIMIT;
    let mut text = "# padding\n".repeat((limit / 10) as usize + 1);
    text.push_str("lxc.tty.max = 1\n");
    let big = write(t.path(), "big.conf", &text);
    let size = text.len();
    let msg = load_within_5s(&big, None).unwrap_err().to_string();
    assert_eq!(
        msg,
        format!(
            "cannot read config file \"{}\": it is {size} bytes, more than the limit of 1 MiB (1048576 bytes) for this file; check that it is the right file: a config file is a few KiB",
            big.display()
        )
    );
    let main = write(t.path(), "config", "lxc.include = big.conf\n");
    let msg = load_within_5s(&main, None).unwrap_err().to_string();
    assert!(
        msg.starts_with(&format!("{}:1: cannot include", main.display())),
        "{msg}"
    );
    assert!(msg.contains(&format!("it is {size} bytes")), "{msg}");
    // exactly at the limit loads
    let at = write(t.path(), "at.conf", &"#".repeat(limit as usize));
    assert!(load_within_5s(&at, None).is_ok());
}

#[test]
fn include_bombs_are_bounded() {
    let t = tempfile::tempdir().unwrap();
    // fan-out: each level includes the next one 4 times, 12 levels deep (4^12 = 16 M
    // reads without a bound; no cycle, no file over any size limit)
    for i in 0..12 {
        let body = format!("lxc.include = l{}.conf\n", i + 1).repeat(4);
        write(
            t.path(),
            &format!("l{i}.conf"),
            &format!("lxc.group = g{i}\n{body}"),
        );
    }
    write(t.path(), "l12.conf", "lxc.group = leaf\n");
    let top = t.path().join("l0.conf");
    let started = std::time::Instant::now();
    let msg = load_within_5s(&top, None).unwrap_err().to_string();
    assert!(
        msg.contains("256 files through lxc.include (the limit)"),
        "{msg}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );

    // many big files, each under the per-file limit: the total is bounded
    let chunk = "#".repeat(900 << 10) + "\n";
    write(t.path(), "chunk.conf", &chunk);
    let main = write(t.path(), "many", &"lxc.include = chunk.conf\n".repeat(40));
    let msg = load_within_5s(&main, None).unwrap_err().to_string();
    assert!(msg.contains("more than 16 MiB together"), "{msg}");
    assert!(msg.starts_with(&format!("{}:", main.display())), "{msg}");

    // depth: a chain of 40 distinct files
    for i in 0..40 {
        write(
            t.path(),
            &format!("c{i}.conf"),
            &format!("lxc.include = c{}.conf\n", i + 1),
        );
    }
    write(t.path(), "c40.conf", "");
    let msg = load_within_5s(&t.path().join("c0.conf"), None)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("nested more than 32 deep"), "{msg}");

    // a cycle through a symlinked directory is still a cycle
    write(t.path(), "cyc/x.conf", "lxc.include = ../cyclink\n");
    std::os::unix::fs::symlink(t.path().join("cyc"), t.path().join("cyclink")).unwrap();
    let e = load_within_5s(&t.path().join("cyc/x.conf"), None).unwrap_err();
    assert!(matches!(e, ConfigError::IncludeLoop { .. }), "{e}");
}

#[test]
fn unreadable_top_level_file() {
    let e = load_file(Path::new("/nonexistent/hako/config")).unwrap_err();
    assert!(matches!(e, ConfigError::Io { .. }));
    assert_eq!(
        e.to_string(),
        "cannot read config file \"/nonexistent/hako/config\": no such file or directory; check the path and its permissions"
    );
    assert!(e.origin().is_none());
}

// ---------------------------------------------------------------------------------------
// legacy keys

#[test]
fn legacy_keys_translate_with_a_warning() {
    let cfg = load("lxc.utsname = old\nlxc.rootfs = /srv/rootfs\nlxc.rootfs.backend = dir\nlxc.tty = 4\nlxc.pts = 1024\nlxc.devttydir = lxc\nlxc.aa_profile = unconfined\nlxc.aa_allow_incomplete = 1\nlxc.se_context = x\nlxc.seccomp = /p\nlxc.id_map = u 0 100000 65536\nlxc.init_cmd = /sbin/init\nlxc.init_uid = 0\nlxc.init_gid = 0\nlxc.limit.nofile = 1024\nlxc.console = none\nlxc.haltsignal = SIGRTMIN+3\nlxc.rebootsignal = SIGTERM\nlxc.stopsignal = SIGKILL\nlxc.syslog = daemon\nlxc.loglevel = 1\nlxc.logfile = /l\nlxc.mount = /fstab\nlxc.pivotdir = x\nlxc.kmsg = 0\n");
    let expect = [
        ("lxc.uts.name", "old"),
        ("lxc.rootfs.path", "/srv/rootfs"),
        ("lxc.tty.max", "4"),
        ("lxc.pty.max", "1024"),
        ("lxc.tty.dir", "lxc"),
        ("lxc.apparmor.profile", "unconfined"),
        ("lxc.apparmor.allow_incomplete", "1"),
        ("lxc.selinux.context", "x"),
        ("lxc.seccomp.profile", "/p"),
        ("lxc.idmap", "u 0 100000 65536"),
        ("lxc.init.cmd", "/sbin/init"),
        ("lxc.init.uid", "0"),
        ("lxc.init.gid", "0"),
        ("lxc.prlimit.nofile", "1024"),
        ("lxc.console.path", "none"),
        ("lxc.signal.halt", "SIGRTMIN+3"),
        ("lxc.signal.reboot", "SIGTERM"),
        ("lxc.signal.stop", "SIGKILL"),
        ("lxc.log.syslog", "daemon"),
        ("lxc.log.level", "1"),
        ("lxc.log.file", "/l"),
        ("lxc.mount.fstab", "/fstab"),
    ];
    let got: Vec<(&str, &str)> = cfg
        .items
        .iter()
        .map(|i| (i.key.as_str(), i.value.as_str()))
        .collect();
    assert_eq!(got, expect);
    assert_eq!(
        cfg.warnings[0].to_string(),
        "/c/config:1: \"lxc.utsname\" is a legacy key, read as \"lxc.uts.name\"; update the file with \"hako config NAME --upgrade\""
    );
    let dropped = cfg.warnings.iter().find(|w| w.origin.line == 3).unwrap();
    assert!(
        dropped
            .message
            .contains("\"lxc.rootfs.backend\" is a legacy key that is no longer used"),
        "{dropped}"
    );
    assert!(cfg
        .warnings
        .iter()
        .any(|w| w.origin.line == 24 && w.message.contains("lxc.pivotdir")));
    // legacy names of unsupported keys get both warnings
    assert!(cfg
        .warnings
        .iter()
        .any(|w| w.origin.line == 20 && w.message.contains("not supported")));
    // the AppArmor key is read (start applies it or ignores it on a kernel without AppArmor)
    assert!(!cfg
        .warnings
        .iter()
        .any(|w| w.origin.line == 7 && w.message.contains("not supported")));
}

#[test]
fn legacy_network_blocks() {
    let cfg = load(
        "\
lxc.network.type = veth
lxc.network.flags = up
lxc.network.link = lxcbr0
lxc.network.name = eth0
lxc.network.hwaddr = 00:16:3e:xx:xx:xx
lxc.network.ipv4 = 10.0.3.5/24
lxc.network.ipv4 = 10.0.3.6/24 10.0.3.255
lxc.network.ipv4.gateway = 10.0.3.1
lxc.network.ipv6 = fd00::5/64
lxc.network.ipv6.gateway = auto
lxc.network.script.up = /bin/true
lxc.network.script.down = /bin/true
lxc.network.veth.pair = vethweb
lxc.network.mtu = 1400

lxc.network.type = macvlan
lxc.network.macvlan.mode = bridge
lxc.network.link = eth1

lxc.network.type = vlan
lxc.network.vlan.id = 12
lxc.network.link = eth2
",
    );
    assert_eq!(cfg.net_indices(), vec![0, 1, 2]);
    assert_eq!(cfg.net(0, "type"), Some("veth"));
    assert_eq!(cfg.net(0, "flags"), Some("up"));
    assert_eq!(cfg.net(0, "link"), Some("lxcbr0"));
    assert_eq!(cfg.net(0, "name"), Some("eth0"));
    assert_eq!(
        cfg.net_list(0, "ipv4.address"),
        vec!["10.0.3.5/24", "10.0.3.6/24 10.0.3.255"]
    );
    assert_eq!(cfg.net(0, "ipv4.gateway"), Some("10.0.3.1"));
    assert_eq!(cfg.net_list(0, "ipv6.address"), vec!["fd00::5/64"]);
    assert_eq!(cfg.net(0, "ipv6.gateway"), Some("auto"));
    assert_eq!(cfg.net(0, "script.up"), Some("/bin/true"));
    assert_eq!(cfg.net(0, "veth.pair"), Some("vethweb"));
    assert_eq!(cfg.net(0, "mtu"), Some("1400"));
    assert_eq!(cfg.net(1, "type"), Some("macvlan"));
    assert_eq!(cfg.net(1, "macvlan.mode"), Some("bridge"));
    assert_eq!(cfg.net(1, "link"), Some("eth1"));
    assert_eq!(cfg.net(2, "vlan.id"), Some("12"));
    assert_eq!(cfg.net(2, "link"), Some("eth2"));
    assert_eq!(
        cfg.warnings[5].to_string(),
        "/c/config:6: \"lxc.network.ipv4\" is a legacy key, read as \"lxc.net.0.ipv4.address\"; update the file with \"hako config NAME --upgrade\""
    );

    // indexed legacy form
    let cfg = load(
        "lxc.network.1.type = veth\nlxc.network.1.ipv4 = 10.0.0.2/8\nlxc.network.1.link = br0\n",
    );
    assert_eq!(cfg.net_indices(), vec![1]);
    assert_eq!(cfg.net_list(1, "ipv4.address"), vec!["10.0.0.2/8"]);

    // un-indexed blocks are numbered after the indices the file already uses
    let cfg = load("lxc.network.type = veth\nlxc.net.0.type = empty\n");
    assert_eq!(cfg.net(0, "type"), Some("empty"));
    assert_eq!(cfg.net(1, "type"), Some("veth"));

    // legacy blocks continue across includes, as in LXC 2.x
    let t = tempfile::tempdir().unwrap();
    write(t.path(), "net.conf", "lxc.network.type = veth\n");
    let main = write(
        t.path(),
        "config",
        "lxc.include = net.conf\nlxc.network.link = br0\n",
    );
    let cfg = load_file(&main).unwrap();
    assert_eq!(cfg.net(0, "link"), Some("br0"));

    // a network key with no interface to attach to
    let msg = load_err("lxc.uts.name = x\nlxc.network.link = br0\n");
    assert!(
        msg.starts_with("/c/config:2: \"lxc.network.link\" comes before any \"lxc.network.type\""),
        "{msg}"
    );

    // an empty lxc.network (or lxc.network.type) clears every interface
    let cfg = load(
        "lxc.network.type = veth\nlxc.network.link = br0\nlxc.network =\nlxc.net.5.type = empty\n",
    );
    assert_eq!(cfg.net_indices(), vec![5]);
    let cfg = load("lxc.net.0.type = veth\nlxc.network.type =\n");
    assert!(cfg.net_indices().is_empty());
}

// ---------------------------------------------------------------------------------------
// errors

#[test]
fn unknown_keys() {
    assert_eq!(
        load_err("lxc.tty.max = 4\nlxc.utsnme = web\n"),
        "/c/config:2: unknown config key \"lxc.utsnme\"; did you mean \"lxc.uts.name\"? (keys: man 5 lxc.container.conf)"
    );
    assert_eq!(
        load_err("lxc.frobnicate.everything = 1\n"),
        "/c/config:1: unknown config key \"lxc.frobnicate.everything\"; check the spelling (keys: man 5 lxc.container.conf)"
    );
    for (key, suggestion) in [
        ("lxc.net.0.lnk", Some("lxc.net.0.link")),
        ("lxc.net.a.type", Some("lxc.net.0.type")),
        ("lxc.prlimit.nofle", Some("lxc.prlimit.nofile")),
        ("lxc.limit.nofle", Some("lxc.prlimit.nofile")),
        (
            "lxc.cgroup.memory",
            Some("lxc.cgroup.memory.limit_in_bytes"),
        ),
        ("lxc.cgroup.dir.monitr", Some("lxc.cgroup.dir.monitor")),
        ("lxc.hook.pre-strat", Some("lxc.hook.pre-start")),
        ("lxc.namespace.share.nett", Some("lxc.namespace.share.net")),
        ("uts.name", Some("lxc.uts.name")),
        ("lxc.network.lnk", Some("lxc.net.0.link")),
        ("lxc.network.2.hwadr", Some("lxc.net.2.hwaddr")),
        ("foo", None),
    ] {
        let e = load_str(&format!("{key} = x\n"), Path::new("/c/config")).unwrap_err();
        match e {
            ConfigError::UnknownKey {
                key: k,
                suggestion: s,
                origin,
            } => {
                assert_eq!(k, key);
                assert_eq!(s.as_deref(), suggestion, "{key}");
                assert_eq!(origin.line, 1);
            }
            other => panic!("{key}: {other}"),
        }
    }
}

#[test]
fn bad_values() {
    assert_eq!(
        load_err("lxc.signal.halt = SIGFOO\n"),
        "/c/config:1: bad value \"SIGFOO\" for \"lxc.signal.halt\": unknown signal; use a name such as SIGPWR or a number"
    );
    // (line, reason fragment): one per kind of check
    let cases: &[(&str, &str)] = &[
        ("lxc.autodev = yes", "must be 0 or 1"),
        ("lxc.tty.max = four", "non-negative whole number"),
        ("lxc.pty.max = -1", "non-negative whole number"),
        ("lxc.start.order = x", "whole number"),
        ("lxc.monitor.signal.pdeath = SIGNOPE", "unknown signal"),
        ("lxc.cap.drop = sys_admn", "did you mean \"sys_admin\""),
        ("lxc.cap.drop = none", "only meaningful for lxc.cap.keep"),
        ("lxc.cap.keep = bogus", "unknown capability"),
        (
            "lxc.mount.auto = proc:ro",
            "unknown filesystem to automount",
        ),
        (
            "lxc.mount.entry = /src",
            "at least source, target and filesystem type",
        ),
        ("lxc.mount.entry = a b c d e f", "dump field"),
        ("lxc.uts.name = has space", "may not hold"),
        ("lxc.uts.name = $(reboot);x", "e.g. \"reboot-x\""),
        ("lxc.uts.name = web_1", "e.g. \"web-1\""),
        ("lxc.arch = vax", "unknown architecture"),
        ("lxc.log.level = loud", "TRACE"),
        ("lxc.log.syslog = kern", "local0"),
        ("lxc.autodev.tmpfs.size = lots", "size such as"),
        ("lxc.console.size = lots", "or auto"),
        ("lxc.init.cmd = '/sbin/init", "unterminated single quote"),
        ("lxc.execute.cmd = \" \"", "empty command"),
        ("lxc.init.cwd = root", "absolute path"),
        ("lxc.init.groups = wheel", "not a group id"),
        ("lxc.environment = =x", "missing variable name"),
        ("lxc.prlimit.nofile = 10:5", "above the hard limit"),
        ("lxc.prlimit.nofile = lots", "number or \"unlimited\""),
        ("lxc.idmap = u 0 100000", "four fields"),
        ("lxc.namespace.clone = network", "unknown namespace"),
        ("lxc.time.offset.boot = 5 days", "unit h, m, s"),
        ("lxc.seccomp.notify.proxy = /sock", "unix:"),
        ("lxc.net.0.type = bridge", "unknown network type"),
        ("lxc.net.0.flags = down", "only flag is \"up\""),
        ("lxc.net.0.name = averyveryverylongname", "at most 15"),
        ("lxc.net.0.veth.pair = a/b", "must not contain '/'"),
        ("lxc.net.0.link = br 0", "whitespace"),
        ("lxc.net.0.hwaddr = 01:00:5e:00:00:01", "multicast"),
        ("lxc.net.0.hwaddr = 00:16:3e", "not a MAC address"),
        (
            "lxc.net.0.ipv4.address = 10.0.0.300/24",
            "not an IPv4 address",
        ),
        ("lxc.net.0.ipv4.address = 10.0.0.3/40", "between 0 and 32"),
        ("lxc.net.0.ipv6.address = fd00::g", "not an IPv6 address"),
        ("lxc.net.0.ipv4.gateway = router", "auto or dev"),
        ("lxc.net.0.ipv6.gateway = 10.0.0.1", "auto or dev"),
        ("lxc.net.0.veth.ipv4.route = 10.0.0.1", "A.B.C.D/PREFIX"),
        ("lxc.net.0.veth.ipv6.route = fd00::", "ADDR/PREFIX"),
        ("lxc.net.0.vlan.id = 5000", "between 0 and 4094"),
        ("lxc.net.0.veth.vlan.id = all", "or none"),
        ("lxc.net.0.mtu = 9", "between 68 and 65535"),
        (
            "lxc.net.0.macvlan.mode = open",
            "use one of private, vepa, bridge, passthru",
        ),
        ("lxc.net.0.l2proxy = on", "must be 0 or 1"),
        ("lxc.net = x", "only clears its settings"),
        ("lxc.net.0 = x", "lxc.net.0.type"),
        ("lxc.cgroup = x", "only clears"),
    ];
    for (line, fragment) in cases {
        let msg = load_err(&format!("# header\n{line}\n"));
        let key = line.split('=').next().unwrap().trim();
        assert!(msg.starts_with("/c/config:2: bad value "), "{line}: {msg}");
        assert!(msg.contains(&format!("for \"{key}\": ")), "{line}: {msg}");
        assert!(
            msg.contains(fragment),
            "{line}: expected {fragment:?} in {msg}"
        );
    }
}

#[test]
fn valid_values_of_each_kind_load() {
    let cfg = load(
        "\
lxc.arch = x86_64
lxc.uts.name = web-1
lxc.rootfs.path = overlay:/lower:/upper
lxc.rootfs.managed = 0
lxc.autodev = 1
lxc.autodev.tmpfs.size = 500000
lxc.console.size = auto
lxc.console.buffer.size = 1M
lxc.console.path = none
lxc.init.cmd = /bin/sh -c \"echo hi; exec /sbin/init\"
lxc.init.cwd = /root
lxc.init.uid = 1000
lxc.init.groups = 10,100
lxc.start.order = -5
lxc.start.delay = 3
lxc.log.level = DEBUG
lxc.cap.keep = none
lxc.cap.keep = sys_admin CAP_NET_ADMIN
lxc.prlimit.nofile = 1024:unlimited
lxc.sysctl.net.ipv4.ip_forward = 1
lxc.namespace.keep = user net
lxc.namespace.share.net = 42
lxc.monitor.signal.pdeath = 0
lxc.seccomp.notify.proxy = unix:@proxy
lxc.net.0.type = veth
lxc.net.0.veth.mode = router
lxc.net.0.veth.vlan.id = none
lxc.net.0.veth.vlan.tagged.id = 12
lxc.net.0.veth.ipv4.route = 192.168.1.0/24
lxc.net.0.veth.ipv6.route = fd00:1::/64
lxc.net.0.ipv4.gateway = dev
lxc.net.0.ipv6.gateway = fd00::1
lxc.net.0.mtu = 9000
lxc.net.0.hwaddr = 00:16:3E:xx:XX:xx
lxc.cgroup2.memory.max = 256M
lxc.cgroup.dir = my-cgroup/first
lxc.hook.version = 1
",
    );
    assert_eq!(
        cfg.get("lxc.init.cmd"),
        Some("/bin/sh -c \"echo hi; exec /sbin/init\"")
    );
    assert_eq!(
        cfg.cap_keep().unwrap(),
        Some(vec!["sys_admin".to_string(), "net_admin".to_string()])
    );
    assert_eq!(cfg.prlimits().unwrap(), vec![(7, 1024, u64::MAX)]);
}

#[test]
fn quoted_values_lose_their_quotes() {
    let cfg =
        load("lxc.uts.name = \"web\"\nlxc.rootfs.path = '/srv/a b'\nlxc.log.file = \"unbalanced\n");
    assert_eq!(cfg.get("lxc.uts.name"), Some("web"));
    assert_eq!(cfg.get("lxc.rootfs.path"), Some("/srv/a b"));
    assert_eq!(cfg.get("lxc.log.file"), Some("\"unbalanced"));
}

// ---------------------------------------------------------------------------------------
// the typed view

#[test]
fn unsupported_keys_warn_and_are_kept() {
    let cfg = load("lxc.console.rotate = 1\nlxc.apparmor.profile =\nlxc.monitor.unshare = 1\n");
    assert_eq!(
        cfg.warnings.len(),
        2,
        "an empty value clears and needs no warning: {:?}",
        cfg.warnings
    );
    assert_eq!(
        cfg.warnings[0].to_string(),
        "/c/config:1: \"lxc.console.rotate\" is not supported by hako yet and is ignored"
    );
    assert_eq!(cfg.get("lxc.console.rotate"), Some("1"));
    assert!(!is_supported("lxc.console.rotate"));
    assert!(!is_supported("lxc.monitor.unshare"));
    assert!(is_supported("lxc.seccomp.profile"));
    assert!(is_supported("lxc.hook.start"));
    assert!(is_supported("lxc.cap.drop"));
    assert!(is_supported("lxc.net.3.ipv4.address"));
    assert!(is_supported("lxc.network.link"));
    assert!(is_supported("lxc.cgroup2.pids.max"));
}

#[test]
fn single_and_multi_valued_semantics() {
    let cfg = load(
        "\
lxc.uts.name = a
lxc.uts.name = b
lxc.tty.dir = lxc
lxc.tty.dir =
lxc.cap.drop = sys_module mknod
lxc.cap.drop =
lxc.cap.drop = sys_time
lxc.cap.drop = sys_rawio sys_time
lxc.environment = A=1
lxc.environment = B
",
    );
    assert_eq!(cfg.get("lxc.uts.name"), Some("b"));
    assert_eq!(cfg.item("lxc.uts.name").unwrap().origin.line, 2);
    assert_eq!(cfg.get("lxc.tty.dir"), None, "an empty value unsets");
    assert_eq!(cfg.get("lxc.absent"), None);
    assert_eq!(
        cfg.get_list("lxc.cap.drop"),
        vec!["sys_time", "sys_rawio sys_time"]
    );
    assert_eq!(cfg.cap_drop().unwrap(), vec!["sys_time", "sys_rawio"]);
    assert_eq!(cfg.get_list("lxc.environment"), vec!["A=1", "B"]);
    assert!(cfg.get_list("lxc.mount.entry").is_empty());
    assert_eq!(cfg.cap_keep().unwrap(), None);
}

#[test]
fn group_clears() {
    let cfg = load(
        "\
lxc.cgroup.dir = mine
lxc.cgroup.devices.allow = c 1:3 rwm
lxc.cgroup.memory.limit_in_bytes = 1G
lxc.cgroup2.memory.max = 1G
lxc.cgroup =
lxc.cgroup.devices.deny = a
lxc.cgroup2.devices.allow = c 1:5 rwm
lxc.cgroup2.devices.allow =
lxc.cgroup2.devices.allow = c 1:9 rwm
lxc.cgroup.relative = 1
lxc.net.0.type = veth
lxc.net.0.link = br0
lxc.net.1.type = empty
lxc.net.0 =
lxc.net.2.type = veth
lxc.prlimit.nofile = 10
lxc.prlimit.core = 0
lxc.prlimit =
lxc.prlimit.nproc = 50
lxc.prlimit.nproc = 60
lxc.hook.version = 1
lxc.hook.start = /a
lxc.hook =
",
    );
    assert_eq!(
        cfg.cgroup_keys(false),
        vec![("devices.deny", "a")],
        "lxc.cgroup = clears v1 settings only"
    );
    assert_eq!(
        cfg.get("lxc.cgroup.dir"),
        Some("mine"),
        "lxc.cgroup = does not clear lxc.cgroup.dir"
    );
    assert_eq!(
        cfg.cgroup_keys(true),
        vec![("memory.max", "1G"), ("devices.allow", "c 1:9 rwm")]
    );
    assert_eq!(cfg.net_indices(), vec![1, 2]);
    assert_eq!(cfg.net(0, "link"), None);
    assert_eq!(cfg.prlimits().unwrap(), vec![(6, 60, 60)]);
    assert_eq!(cfg.get("lxc.hook.version"), Some("1"));
    assert!(cfg.get_list("lxc.hook.start").is_empty());
    let prefixed: Vec<&str> = cfg
        .with_prefix("lxc.cgroup.")
        .map(|i| i.key.as_str())
        .collect();
    assert_eq!(
        prefixed,
        vec![
            "lxc.cgroup.dir",
            "lxc.cgroup.devices.deny",
            "lxc.cgroup.relative"
        ]
    );

    let cfg = load("lxc.net.0.type = veth\nlxc.net.1.type = veth\nlxc.net =\nlxc.net.3.type = phys\nlxc.net.3.link = eth1\n");
    assert_eq!(cfg.net_indices(), vec![3]);
}

#[test]
fn cap_keep_none() {
    let cfg = load("lxc.cap.keep = sys_admin\nlxc.cap.keep = none\n");
    assert_eq!(
        cfg.cap_keep().unwrap(),
        Some(vec![]),
        "none alone drops every capability"
    );
    let cfg = load("lxc.cap.keep = sys_admin\nlxc.cap.keep = none\nlxc.cap.keep = net_raw\n");
    assert_eq!(cfg.cap_keep().unwrap(), Some(vec!["net_raw".to_string()]));
    let cfg = load("lxc.cap.keep = sys_admin\nlxc.cap.keep =\n");
    assert_eq!(cfg.cap_keep().unwrap(), None);
}

#[test]
fn mount_auto_lines_combine() {
    let cfg = load("lxc.mount.auto = proc:rw sys:ro\nlxc.mount.auto = sys:mixed cgroup:ro:force\n");
    let m = cfg.mount_auto().unwrap();
    assert_eq!(m.proc, Some(ProcMode::Rw));
    assert_eq!(m.sys, Some(SysMode::Mixed));
    let cg = m.cgroup.unwrap();
    assert_eq!(
        (cg.kind, cg.mode, cg.force),
        (CgroupKind::Cgroup, CgroupMode::Ro, true)
    );
    let cfg = load("lxc.mount.auto = proc\nlxc.mount.auto =\nlxc.mount.auto = sys\n");
    let m = cfg.mount_auto().unwrap();
    assert_eq!((m.proc, m.sys), (None, Some(SysMode::Mixed)));
}

#[test]
fn interfaces_without_a_type_are_flagged() {
    let cfg = load("lxc.net.0.type = veth\nlxc.net.1.link = br0\n");
    assert_eq!(cfg.net_indices(), vec![0, 1]);
    let w = cfg
        .warnings
        .iter()
        .find(|w| w.message.contains("lxc.net.1.type"))
        .expect("warning");
    assert_eq!(w.origin.line, 2);
}

#[test]
fn typed_accessors_report_items_edited_by_hand() {
    let mut cfg = load("lxc.cap.drop = mknod\n");
    cfg.items[0].value = "mknodd".into();
    let e = cfg.cap_drop().unwrap_err().to_string();
    assert!(
        e.starts_with("/c/config:1: bad value \"mknodd\" for \"lxc.cap.drop\""),
        "{e}"
    );
}

// ---------------------------------------------------------------------------------------
// command-line overrides

#[test]
fn overrides() {
    let mut cfg = load("lxc.uts.name = file\nlxc.net.0.type = veth\n");
    cfg.set_override("lxc.uts.name", "cli").unwrap();
    assert_eq!(cfg.get("lxc.uts.name"), Some("cli"));
    assert_eq!(
        cfg.item("lxc.uts.name").unwrap().origin.to_string(),
        "<command line>"
    );
    cfg.set_override(" lxc.cap.drop ", " \"mknod\" ").unwrap();
    assert_eq!(cfg.get_list("lxc.cap.drop"), vec!["mknod"]);

    let e = cfg.set_override("lxc.signal.halt", "SIGFOO").unwrap_err();
    assert_eq!(
        e.to_string(),
        "<command line>: bad value \"SIGFOO\" for \"lxc.signal.halt\": unknown signal; use a name such as SIGPWR or a number"
    );
    let e = cfg.set_override("lxc.utsnme", "x").unwrap_err();
    assert!(
        e.to_string().contains("did you mean \"lxc.uts.name\""),
        "{e}"
    );
    assert_eq!(cfg.items.len(), 4, "failed overrides change nothing");

    // legacy keys work, with a warning; un-indexed network keys apply to the last interface
    cfg.set_override("lxc.utsname", "legacy").unwrap();
    assert_eq!(cfg.get("lxc.uts.name"), Some("legacy"));
    assert!(cfg
        .warnings
        .last()
        .unwrap()
        .to_string()
        .starts_with("<command line>: \"lxc.utsname\" is a legacy key"));
    cfg.set_override("lxc.network.link", "br9").unwrap();
    assert_eq!(cfg.net(0, "link"), Some("br9"));
    cfg.set_override("lxc.network.type", "empty").unwrap();
    assert_eq!(cfg.net(1, "type"), Some("empty"));

    let mut empty = Config::new();
    assert!(empty.set_override("lxc.network.link", "br0").is_err());
    empty.set_override("lxc.tty.max", "2").unwrap();
    assert_eq!(empty.get("lxc.tty.max"), Some("2"));
}

#[test]
#[allow(clippy::unnecessary_cast)] // c_ulong is u64 here, not on every target
fn mount_flag_values_match_the_kernel() {
    use values::*;
    let pairs: &[(u64, libc::c_ulong)] = &[
        (MS_RDONLY, libc::MS_RDONLY),
        (MS_NOSUID, libc::MS_NOSUID),
        (MS_NODEV, libc::MS_NODEV),
        (MS_NOEXEC, libc::MS_NOEXEC),
        (MS_SYNCHRONOUS, libc::MS_SYNCHRONOUS),
        (MS_REMOUNT, libc::MS_REMOUNT),
        (MS_MANDLOCK, libc::MS_MANDLOCK),
        (MS_DIRSYNC, libc::MS_DIRSYNC),
        (MS_NOATIME, libc::MS_NOATIME),
        (MS_NODIRATIME, libc::MS_NODIRATIME),
        (MS_BIND, libc::MS_BIND),
        (MS_REC, libc::MS_REC),
        (MS_UNBINDABLE, libc::MS_UNBINDABLE),
        (MS_PRIVATE, libc::MS_PRIVATE),
        (MS_SLAVE, libc::MS_SLAVE),
        (MS_SHARED, libc::MS_SHARED),
        (MS_RELATIME, libc::MS_RELATIME),
        (MS_STRICTATIME, libc::MS_STRICTATIME),
        (MS_LAZYTIME, libc::MS_LAZYTIME),
    ];
    for (ours, theirs) in pairs {
        assert_eq!(*ours, *theirs as u64);
    }
    for (name, res) in RLIMITS {
        let expected = match *name {
            "cpu" => libc::RLIMIT_CPU,
            "fsize" => libc::RLIMIT_FSIZE,
            "data" => libc::RLIMIT_DATA,
            "stack" => libc::RLIMIT_STACK,
            "core" => libc::RLIMIT_CORE,
            "rss" => libc::RLIMIT_RSS,
            "nproc" => libc::RLIMIT_NPROC,
            "nofile" => libc::RLIMIT_NOFILE,
            "memlock" => libc::RLIMIT_MEMLOCK,
            "as" => libc::RLIMIT_AS,
            "locks" => libc::RLIMIT_LOCKS,
            "sigpending" => libc::RLIMIT_SIGPENDING,
            "msgqueue" => libc::RLIMIT_MSGQUEUE,
            "nice" => libc::RLIMIT_NICE,
            "rtprio" => libc::RLIMIT_RTPRIO,
            "rttime" => libc::RLIMIT_RTTIME,
            _ => unreachable!(),
        };
        assert_eq!(*res as i64, expected as i64, "{name}");
    }
    assert_eq!(values::parse_signal("SIGPWR").unwrap(), libc::SIGPWR);
    assert_eq!(values::parse_signal("SIGSYS").unwrap(), libc::SIGSYS);
    assert_eq!(values::parse_signal("SIGRTMAX").unwrap(), 64);
}
