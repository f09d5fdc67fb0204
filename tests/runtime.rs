//! Issue 2, point 4: the runtime — start semantics, what a container sees inside, mounts,
//! capabilities, limits, /dev.

mod common;

use common::*;
use std::collections::BTreeSet;
use std::fs;
use std::time::Duration;

#[test]
fn start_returns_when_running() {
    let Some(env) = TestEnv::new("strt") else {
        return;
    };
    let n = env.busybox();
    let o = env.hako(&["start", &n]);
    o.assert_ok();
    // right after start returns: RUNNING with a live init
    let info = env.hako(&["info", &n]);
    info.assert_ok();
    assert!(
        info.stdout.lines().any(|l| l == "State:          RUNNING"),
        "info right after start:\n{}",
        info.stdout
    );
    let pid = env.init_pid(&n);
    assert!(pid > 1 && pid_alive(pid), "init pid {pid} not alive");
    // init is in new namespaces
    for ns in ["pid", "mnt", "uts", "ipc", "net", "cgroup"] {
        let host = fs::read_link(format!("/proc/self/ns/{ns}")).unwrap();
        let cont = fs::read_link(format!("/proc/{pid}/ns/{ns}")).unwrap();
        assert_ne!(host, cont, "container shares the host's {ns} namespace");
    }
    // start of a running container
    env.hako(&["start", &n])
        .assert_fails_with(1, "already running");
}

#[test]
fn failing_init_cmd_is_reported_by_start() {
    let Some(env) = TestEnv::new("badini") else {
        return;
    };
    let n = env.busybox();
    env.append_config(&n, "lxc.init.cmd = /nonexistent");
    let o = env.hako(&["start", &n]);
    o.assert_fails_mentioning("/nonexistent");
    assert_eq!(env.state(&n), "STOPPED");
    env.assert_no_leaks(&n);
    // after fixing the config it starts
    let cfg = env
        .read_config(&n)
        .replace("lxc.init.cmd = /nonexistent", "");
    fs::write(env.config_path(&n), cfg).unwrap();
    env.start(&n);
    assert_eq!(env.state(&n), "RUNNING");
}

#[test]
fn missing_rootfs_is_named() {
    let Some(env) = TestEnv::new("norfs") else {
        return;
    };
    let n = env.busybox();
    let root = env.lxcpath.join(&n).join("rootfs");
    fs::rename(&root, env.path("moved-rootfs")).unwrap();
    let o = env.hako(&["start", &n]);
    o.assert_fails_mentioning(root.to_str().unwrap());
    assert_eq!(env.state(&n), "STOPPED");
    env.assert_no_leaks(&n);
    fs::rename(env.path("moved-rootfs"), &root).unwrap();
}

#[test]
fn foreground_start_with_a_command_stdin_not_a_tty() {
    let Some(env) = TestEnv::new("fg") else {
        return;
    };
    let n = env.busybox();
    let o = env
        .run(&[
            "start",
            "-F",
            &n,
            "--",
            "/bin/sh",
            "-c",
            "echo hi-from-fg; exit 0",
        ])
        .timeout(Duration::from_secs(30))
        .run();
    o.assert_ok();
    assert!(
        o.stdout.contains("hi-from-fg"),
        "console output of start -F not on stdout: {o:?}"
    );
    assert_eq!(env.state(&n), "STOPPED");
    env.assert_no_leaks(&n);
    // with stdin a pipe that carries input
    let o2 = env
        .run(&[
            "start",
            "-F",
            &n,
            "--",
            "/bin/sh",
            "-c",
            "read l; echo got-$l",
        ])
        .stdin("line1\n")
        .timeout(Duration::from_secs(30))
        .run();
    o2.assert_ok();
    assert!(
        o2.stdout.contains("got-line1"),
        "stdin not passed to the console: {o2:?}"
    );
    env.assert_no_leaks(&n);
}

#[test]
fn foreground_start_on_a_terminal() {
    let Some(env) = TestEnv::new("fgpty") else {
        return;
    };
    let n = env.busybox();
    let lp = env.lxcpath.to_str().unwrap().to_string();
    let mut pty = Pty::spawn(
        std::path::Path::new(HAKO),
        &["-P", &lp, "start", "-F", &n, "--", "/bin/sh"],
        &[("HAKO_SYSCONFDIR", env.etc.clone().into_os_string())],
    );
    // the shell runs on /dev/console, which is our terminal
    std::thread::sleep(Duration::from_millis(500));
    pty.send(b"tty; echo fg$((40+2))ok\n");
    pty.must_expect("fg42ok", Duration::from_secs(10));
    assert!(
        pty.text().contains("/dev/console"),
        "tty inside: {:?}",
        pty.text()
    );
    pty.send(b"exit 0\n");
    let st = pty.wait(Duration::from_secs(15));
    assert!(
        st.is_some(),
        "start -F did not end when init exited: {:?}",
        pty.text()
    );
    assert_eq!(env.state(&n), "STOPPED");
    env.assert_no_leaks(&n);
}

#[test]
fn inside_view_of_a_default_container() {
    let Some(env) = TestEnv::new("inside") else {
        return;
    };
    let n = env.busybox_with("lxc.environment = MYVAR=hello-env\nlxc.tty.max = 3\n");
    env.start(&n);

    // PID 1 is init with container=lxc and lxc.environment
    assert_eq!(env.sh_ok(&n, "cat /proc/1/comm").trim(), "init");
    let environ = env.sh_ok(&n, "tr '\\0' '\\n' < /proc/1/environ");
    let vars: BTreeSet<&str> = environ.lines().collect();
    assert!(vars.contains("container=lxc"), "init env: {environ}");
    assert!(vars.contains("MYVAR=hello-env"), "init env: {environ}");
    env.kill(&n);

    // The rest with an init that mounts nothing itself (busybox's rcS would mount /proc,
    // /sys, /dev/pts if hako had not): what is checked below is what hako provides.
    env.append_config(
        &n,
        "lxc.init.cmd = /bin/sh -c \"while :; do sleep 1; done\"",
    );
    env.start(&n);
    assert_eq!(
        env.sh_ok(&n, "cat /proc/1/cmdline | tr '\\0' ' '").trim(),
        "/bin/sh -c while :; do sleep 1; done"
    );

    // /proc/sys read-only, /proc/sys/net writable
    let o = env.sh(&n, "echo x > /proc/sys/kernel/hostname");
    assert_ne!(o.code(), 0, "/proc/sys/kernel/hostname writable inside");
    env.sh(
        &n,
        "echo 1 > /proc/sys/net/ipv4/ip_forward && cat /proc/sys/net/ipv4/ip_forward",
    )
    .assert_ok()
    .assert_stdout_contains("1");
    // /sys read-only
    assert_ne!(
        env.sh(&n, "touch /sys/hako-probe").code(),
        0,
        "/sys writable"
    );
    let mounts = env.sh_ok(&n, "cat /proc/self/mounts");
    let sys = mounts
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some("/sys"))
        .unwrap_or_else(|| panic!("/sys not mounted:\n{mounts}"));
    assert!(
        sys.split_whitespace()
            .nth(3)
            .unwrap()
            .split(',')
            .any(|o| o == "ro"),
        "/sys not read-only: {sys}"
    );
    // /sys/fs/cgroup mounted
    assert!(
        mounts.lines().any(|l| l
            .split_whitespace()
            .nth(1)
            .is_some_and(|m| m.starts_with("/sys/fs/cgroup"))),
        "/sys/fs/cgroup not mounted:\n{mounts}"
    );
    // /dev: the standard nodes and tty1..tty3 (lxc.tty.max = 3)
    let dev = env.sh_ok(&n, "ls /dev");
    let devs: BTreeSet<&str> = dev.split_whitespace().collect();
    for d in [
        "null", "zero", "full", "random", "urandom", "tty", "console", "ptmx", "pts", "tty1",
        "tty2", "tty3",
    ] {
        assert!(
            devs.contains(d),
            "/dev/{d} missing inside; /dev has {devs:?}"
        );
    }
    assert!(!devs.contains("tty4"), "tty4 exists with lxc.tty.max = 3");
    for c in ["null", "zero", "full", "random", "urandom", "tty"] {
        env.sh(&n, &format!("test -c /dev/{c}")).assert_ok();
    }
    // the devices work (device cgroup allows them)
    env.sh(
        &n,
        "head -c 16 /dev/zero > /dev/null && head -c 16 /dev/urandom | wc -c",
    )
    .assert_ok()
    .assert_stdout_contains("16");
    assert_ne!(
        env.sh(&n, "echo x > /dev/full").code(),
        0,
        "/dev/full accepted a write"
    );
    // devpts is a new instance
    let pts = mounts
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some("/dev/pts"))
        .unwrap_or_else(|| panic!("/dev/pts not mounted:\n{mounts}"));
    assert!(pts.starts_with("devpts"), "{pts}");
    // lxc.net.0.type = empty: only lo
    let netdev = env.sh_ok(&n, "cat /proc/net/dev");
    let ifs: Vec<&str> = netdev
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(str::trim)
        .collect();
    assert_eq!(ifs, vec!["lo"], "interfaces inside with net type empty");
}

#[test]
fn hostname_is_lxc_uts_name() {
    let Some(env) = TestEnv::new("uts") else {
        return;
    };
    let n = env.busybox();
    env.replace_config_line(&n, "lxc.uts.name", "lxc.uts.name = custom-host");
    env.start(&n);
    // after the boot scripts ran (they must not override lxc.uts.name)
    env.wait_booted(&n);
    assert_eq!(
        env.sh_ok(&n, "hostname").trim(),
        "custom-host",
        "hostname inside a running busybox container"
    );
    assert_eq!(
        env.sh_ok(&n, "cat /proc/sys/kernel/hostname").trim(),
        "custom-host"
    );
    // the host's hostname is untouched
    let host = fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_ne!(host.trim(), "custom-host");
}

#[test]
fn net_none_shares_the_host_interfaces() {
    let Some(env) = TestEnv::new("netno") else {
        return;
    };
    // the container shares the HOST's network: its init must not run a DHCP client (the
    // busybox rcS would), so it only sleeps
    let n = env.busybox_with("lxc.net.0.type = none\nlxc.init.cmd = /bin/sleep 100000\n");
    env.start(&n);
    let host: BTreeSet<String> = fs::read_dir("/sys/class/net")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "lo")
        .collect();
    let netdev = env.sh_ok(&n, "cat /proc/net/dev");
    let inside: BTreeSet<String> = netdev
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(|s| s.trim().to_string())
        .collect();
    assert!(
        inside.iter().any(|i| host.contains(i)),
        "with net type none the host's interfaces are not visible: inside {inside:?}, host {host:?}"
    );
    let pid = env.init_pid(&n);
    assert_eq!(
        fs::read_link(format!("/proc/{pid}/ns/net")).unwrap(),
        fs::read_link("/proc/self/ns/net").unwrap()
    );
}

#[test]
fn mount_entries_bind_optional_and_fstab() {
    let Some(env) = TestEnv::new("mnt") else {
        return;
    };
    let tag = env.token("mnt");
    let host_dir = env.path("hostdir");
    env.write("hostdir/file.txt", &format!("{tag}\n"));
    let fstab_dir = env.path("fstabdir");
    env.write("fstabdir/f2.txt", "from-fstab\n");
    let fstab = env.write(
        "fstab",
        &format!(
            "{} mnt/viafstab none bind,create=dir 0 0\n",
            fstab_dir.display()
        ),
    );
    // (unprivileged, the default: the bind of the host-owned directory is idmapped, so
    // the container's root writes there as the host's root would)
    let n = env.busybox_with(&format!(
        "lxc.mount.entry = {} mnt/hostdir none bind,create=dir 0 0\n\
         lxc.mount.entry = {} mnt/missing none bind,optional,create=dir 0 0\n\
         lxc.mount.fstab = {}\n",
        host_dir.display(),
        env.path("does-not-exist").display(),
        fstab.display()
    ));
    env.start(&n);
    assert_eq!(env.sh_ok(&n, "cat /mnt/hostdir/file.txt").trim(), tag);
    assert_eq!(
        env.sh_ok(&n, "cat /mnt/viafstab/f2.txt").trim(),
        "from-fstab"
    );
    // writes go through to the host dir
    env.sh(&n, "echo back > /mnt/hostdir/back.txt").assert_ok();
    assert_eq!(
        fs::read_to_string(host_dir.join("back.txt"))
            .unwrap()
            .trim(),
        "back"
    );
    // the host's mount table does not show the container's mounts
    let mi = fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mi.contains(host_dir.to_str().unwrap()),
        "container mount visible on the host"
    );
}

#[test]
fn mount_entry_without_optional_fails_clearly() {
    let Some(env) = TestEnv::new("mntbad") else {
        return;
    };
    let missing = env.path("no-such-source");
    let n = env.busybox_with(&format!(
        "lxc.mount.entry = {} mnt/x none bind,create=dir 0 0\n",
        missing.display()
    ));
    let o = env.hako(&["start", &n]);
    o.assert_fails_mentioning(missing.to_str().unwrap());
    assert_eq!(env.state(&n), "STOPPED");
    env.assert_no_leaks(&n);
}

#[test]
fn capabilities_drop_keep_and_defaults() {
    let Some(env) = TestEnv::new("caps") else {
        return;
    };
    let bit = |c: u32| 1u64 << c;
    // defaults
    let d = env.busybox();
    env.start(&d);
    let st = env.sh_ok(&d, "cat /proc/1/status");
    let bnd = parse_cap_line(&st, "CapBnd").expect("CapBnd");
    for (name, c) in [
        ("sys_module", cap::SYS_MODULE),
        ("mac_admin", cap::MAC_ADMIN),
        ("mac_override", cap::MAC_OVERRIDE),
        ("sys_time", cap::SYS_TIME),
        ("sys_rawio", cap::SYS_RAWIO),
    ] {
        assert_eq!(
            bnd & bit(c),
            0,
            "{name} not dropped by default (CapBnd {bnd:x})"
        );
    }
    for (name, c) in [
        ("sys_admin", cap::SYS_ADMIN),
        ("net_admin", cap::NET_ADMIN),
        ("chown", cap::CHOWN),
    ] {
        assert_ne!(
            bnd & bit(c),
            0,
            "{name} dropped by default (CapBnd {bnd:x})"
        );
    }
    env.kill(&d);

    // lxc.cap.drop
    let a = env.busybox_with("lxc.cap.drop = net_admin\n");
    env.start(&a);
    let st = env.sh_ok(&a, "cat /proc/1/status");
    let bnd = parse_cap_line(&st, "CapBnd").unwrap();
    assert_eq!(
        bnd & bit(cap::NET_ADMIN),
        0,
        "net_admin kept (CapBnd {bnd:x})"
    );
    assert_eq!(bnd & bit(cap::SYS_MODULE), 0);
    assert_ne!(bnd & bit(cap::SYS_ADMIN), 0);
    // and it is really gone: net sysctls need it
    assert_ne!(
        env.sh(&a, "echo 1 > /proc/sys/net/ipv4/ip_forward").code(),
        0,
        "net sysctl writable without net_admin"
    );
    // attached processes get the same bounding set
    let st2 = env.sh_ok(&a, "cat /proc/self/status");
    assert_eq!(
        parse_cap_line(&st2, "CapBnd").unwrap() & bit(cap::NET_ADMIN),
        0
    );
    env.kill(&a);

    // lxc.cap.keep: only these
    let k = env.busybox_with("lxc.cap.keep = sys_admin net_admin\n");
    env.start(&k);
    let st = env.sh_ok(&k, "cat /proc/1/status");
    let bnd = parse_cap_line(&st, "CapBnd").unwrap();
    assert_eq!(
        bnd,
        bit(cap::SYS_ADMIN) | bit(cap::NET_ADMIN),
        "lxc.cap.keep = sys_admin net_admin gave CapBnd {bnd:x}"
    );
}

#[test]
fn prlimit_applies_to_init() {
    let Some(env) = TestEnv::new("prlim") else {
        return;
    };
    let n = env.busybox_with("lxc.prlimit.nofile = 1234\nlxc.prlimit.nproc = 500:600\n");
    env.start(&n);
    let limits = env.sh_ok(&n, "cat /proc/1/limits");
    let line = |k: &str| {
        limits
            .lines()
            .find(|l| l.starts_with(k))
            .unwrap_or_else(|| panic!("no {k} in:\n{limits}"))
            .split_whitespace()
            .filter(|w| w.chars().all(|c| c.is_ascii_digit()) || *w == "unlimited")
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(line("Max open files"), vec!["1234", "1234"], "{limits}");
    assert_eq!(line("Max processes"), vec!["500", "600"], "{limits}");
}

#[test]
fn autodev_gives_a_tmpfs_dev() {
    let Some(env) = TestEnv::new("adev") else {
        return;
    };
    let n = env.busybox_with("lxc.autodev = 1\n");
    env.start(&n);
    let mounts = env.sh_ok(&n, "cat /proc/self/mounts");
    let dev = mounts
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some("/dev"))
        .unwrap_or_else(|| panic!("/dev not a mount:\n{mounts}"));
    assert_eq!(dev.split_whitespace().nth(2), Some("tmpfs"), "{dev}");
    // the rootfs's own dev dir stays untouched on the host
    let rootdev = env.lxcpath.join(&n).join("rootfs/dev");
    let entries: Vec<_> = fs::read_dir(&rootdev)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        entries.is_empty(),
        "autodev wrote into the rootfs's /dev on the host: {entries:?}"
    );
}

#[test]
fn monitor_idles_while_no_process_holds_the_console() {
    // systemd opens /dev/console for each status line and closes it again; while no process
    // in the container has it open, the monitor must not busy-loop on the console's pty
    // (a pty master whose slave nobody holds reports a hang-up to every poll)
    let Some(env) = TestEnv::new("conidl") else {
        return;
    };
    let n = env.busybox();
    let script = env.lxcpath.join(&n).join("rootfs/bin/no-console-init");
    fs::write(
        &script,
        "#!/bin/sh\nexec </dev/null >/dev/null 2>&1\nexec sleep 600\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    env.append_config(&n, "lxc.init.cmd = /bin/no-console-init");
    env.start(&n);
    let init = env.init_pid(&n);
    let monitor = ppid_of(init).expect("init's parent (the monitor)");
    // init has dropped the console once its fd 0 is /dev/null
    assert!(
        wait_for(Duration::from_secs(5), || fs::read_link(format!(
            "/proc/{init}/fd/0"
        ))
        .map(|p| p == std::path::Path::new("/dev/null"))
        .unwrap_or(false)),
        "init did not let go of the console"
    );
    let ticks = || cpu_ticks(monitor).expect("the monitor's CPU time");
    let before = ticks();
    std::thread::sleep(Duration::from_secs(1));
    let used = ticks() - before;
    assert!(
        used <= 5,
        "the monitor (pid {monitor}) used {used} clock ticks of CPU in 1 s with an idle container"
    );
    env.hako(&["stop", &n, "-k"]).assert_ok();
    env.assert_no_leaks(&n);
}

#[test]
fn monitor_becomes_the_small_program_shortly_after_start() {
    // the daemon monitor starts in the hako program and re-executes as hako-monitor once
    // the start has settled; a command right after start is served either way
    let Some(env) = TestEnv::new("handov") else {
        return;
    };
    let n = env.busybox();
    env.start(&n);
    env.hako(&["info", &n]).assert_ok();
    let monitor = ppid_of(env.init_pid(&n)).expect("init's parent (the monitor)");
    let exe = || {
        fs::read_link(format!("/proc/{monitor}/exe"))
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    assert!(
        wait_for(Duration::from_secs(3), || exe().ends_with("/hako-monitor")),
        "the monitor (pid {monitor}) still runs {} 3 s after start",
        exe()
    );
    // the same process, still answering
    assert_eq!(ppid_of(env.init_pid(&n)), Some(monitor));
    assert_eq!(env.state(&n), "RUNNING");
    env.hako(&["stop", &n, "-k"]).assert_ok();
    env.assert_no_leaks(&n);
}
