//! Issue 2, point 7: attach, execute and console.

mod common;

use common::*;
use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn env_map(s: &str) -> BTreeMap<String, String> {
    s.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn attach_environment_options() {
    let Some(env) = TestEnv::new("atenv") else {
        return;
    };
    let n = env.busybox();
    env.start(&n);
    let secret = env.token("sec");
    let run = |extra: &[&str]| {
        let mut args = vec!["attach", n.as_str()];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--", "env"]);
        let o = env.run(&args).env("HAKO_TEST_SECRET", &secret).run();
        o.assert_ok();
        env_map(&o.stdout)
    };
    // default: keep the caller's environment, container=lxc added
    let d = run(&[]);
    assert_eq!(
        d.get("HAKO_TEST_SECRET"),
        Some(&secret),
        "default attach lost the env: {d:?}"
    );
    assert_eq!(d.get("container").map(String::as_str), Some("lxc"));
    // --keep-env
    let k = run(&["--keep-env"]);
    assert_eq!(k.get("HAKO_TEST_SECRET"), Some(&secret));
    // --clear-env: only a few basics
    let c = run(&["--clear-env"]);
    assert!(
        !c.contains_key("HAKO_TEST_SECRET"),
        "--clear-env kept the caller's vars: {c:?}"
    );
    assert_eq!(c.get("container").map(String::as_str), Some("lxc"), "{c:?}");
    assert!(c.contains_key("PATH"), "--clear-env gave no PATH: {c:?}");
    let allowed = [
        "PATH",
        "container",
        "TERM",
        "HOME",
        "USER",
        "LOGNAME",
        "SHELL",
    ];
    for k in c.keys() {
        assert!(allowed.contains(&k.as_str()), "--clear-env left {k}: {c:?}");
    }
    // as LXC: no TERM unless kept; a kept PATH is the only PATH
    let raw = |extra: &[&str]| {
        let mut args = vec!["attach", n.as_str()];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--", "env"]);
        let o = env
            .run(&args)
            .env("TERM", "xterm-test")
            .env("PATH", "/bin:/usr/bin:/hako-test-path")
            .run();
        o.assert_ok();
        o.stdout
    };
    let c = env_map(&raw(&["--clear-env"]));
    assert!(!c.contains_key("TERM"), "--clear-env kept TERM: {c:?}");
    assert_ne!(
        c.get("PATH").map(String::as_str),
        Some("/bin:/usr/bin:/hako-test-path")
    );
    let kp = raw(&["--clear-env", "--keep-var", "PATH", "--keep-var", "TERM"]);
    let paths: Vec<&str> = kp.lines().filter(|l| l.starts_with("PATH=")).collect();
    assert_eq!(paths, ["PATH=/bin:/usr/bin:/hako-test-path"], "{kp}");
    assert_eq!(
        env_map(&kp).get("TERM").map(String::as_str),
        Some("xterm-test")
    );
    // lxc.environment of the container's config, overridden by -v
    let cfg = env.lxcpath.join(&n).join("config");
    fs::write(
        &cfg,
        fs::read_to_string(&cfg).unwrap()
            + "lxc.environment = HAKO_CFG=from-config\nlxc.environment = HAKO_CFG2=two\n",
    )
    .unwrap();
    let e = run(&["--clear-env", "-v", "HAKO_CFG2=from-v"]);
    assert_eq!(
        e.get("HAKO_CFG").map(String::as_str),
        Some("from-config"),
        "{e:?}"
    );
    assert_eq!(
        e.get("HAKO_CFG2").map(String::as_str),
        Some("from-v"),
        "{e:?}"
    );
    // -v VAR=VAL, with and without --clear-env
    let v = run(&["-v", "FOO=bar", "-v", "TWO=2 words"]);
    assert_eq!(v.get("FOO").map(String::as_str), Some("bar"));
    assert_eq!(v.get("TWO").map(String::as_str), Some("2 words"));
    let cv = run(&["--clear-env", "-v", "FOO=bar"]);
    assert_eq!(cv.get("FOO").map(String::as_str), Some("bar"));
    assert!(!cv.contains_key("HAKO_TEST_SECRET"));
    // --keep-var with --clear-env
    let kv = run(&["--clear-env", "--keep-var", "HAKO_TEST_SECRET"]);
    assert_eq!(kv.get("HAKO_TEST_SECRET"), Some(&secret));
}

#[test]
fn attach_uid_gid_and_namespaces() {
    let Some(env) = TestEnv::new("atuid") else {
        return;
    };
    let n = env.busybox();
    env.start(&n);
    let o = env.hako(&["attach", &n, "-u", "1000", "-g", "1000", "--", "id", "-u"]);
    o.assert_ok();
    assert_eq!(o.out(), "1000");
    let o = env.hako(&["attach", &n, "-u", "1000", "-g", "1000", "--", "id", "-g"]);
    o.assert_ok();
    assert_eq!(o.out(), "1000");
    // root by default
    assert_eq!(env.hako(&["attach", &n, "--", "id", "-u"]).out(), "0");
    // every namespace and the cgroup of init
    let init = env.init_pid(&n);
    // in the container's pid namespace the attached shell sees init as 1
    assert_eq!(env.sh_ok(&n, "cat /proc/1/comm").trim(), "init");
    assert_eq!(
        env.sh_ok(&n, "hostname").trim(),
        env.hako(&["config", &n, "lxc.uts.name"]).out()
    );
    // its cgroup is the container's
    let cg = env.sh_ok(&n, "cat /proc/self/cgroup");
    let init_cg = env.sh_ok(&n, "cat /proc/1/cgroup");
    assert_eq!(cg, init_cg, "attached process not in init's cgroups");
    // host view: a long attached process is in the container's namespaces
    let mut child = Command::new(HAKO)
        .env("HAKO_SYSCONFDIR", &env.etc)
        .args([
            "-P",
            env.lxcpath.to_str().unwrap(),
            "attach",
            &n,
            "--",
            "sh",
            "-c",
            "echo ready; sleep 3",
        ])
        .stdout(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready");
    // find the sleep whose pid namespace is init's
    let init_ns = fs::read_link(format!("/proc/{init}/ns/pid")).unwrap();
    let init_mnt = fs::read_link(format!("/proc/{init}/ns/mnt")).unwrap();
    // the shell may not have exec'd sleep yet when "ready" arrives: look for a while
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    let found = loop {
        let found = fs::read_dir("/proc").unwrap().flatten().any(|e| {
            let p = e.path();
            let cmd = fs::read(p.join("cmdline")).unwrap_or_default();
            String::from_utf8_lossy(&cmd).starts_with("sleep\u{0}3")
                && fs::read_link(p.join("ns/pid")).ok().as_ref() == Some(&init_ns)
                && fs::read_link(p.join("ns/mnt")).ok().as_ref() == Some(&init_mnt)
        });
        if found || std::time::Instant::now() > deadline {
            break found;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let _ = child.wait();
    assert!(
        found,
        "the attached sleep is not in init's pid and mount namespaces"
    );
}

fn cap_bnd(status: &str) -> String {
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .unwrap_or_else(|| panic!("no CapBnd in {status}"))
        .trim()
        .to_string()
}

/// `-e/--elevated-privileges[=CAP|CGROUP|LSM]`: CAP keeps the caller's capabilities,
/// CGROUP leaves the command in the caller's cgroups; without a value both (and LSM).
#[test]
fn attach_elevated_privileges() {
    let Some(env) = TestEnv::new("atelev") else {
        return;
    };
    let n = env.busybox();
    // a capability the host's root has and init must not: the difference is visible
    fs::write(
        env.lxcpath.join(&n).join("config"),
        fs::read_to_string(env.lxcpath.join(&n).join("config")).unwrap()
            + "lxc.cap.drop = sys_module sys_time\n",
    )
    .unwrap();
    env.start(&n);
    // CAP_SYS_TIME (25): dropped for init, kept with -e CAP (the host's root has it; in
    // a container with a user namespace, joining it gives the full set there, as in LXC)
    let sys_time = |b: &str| u64::from_str_radix(b, 16).unwrap() & (1 << 25) != 0;
    let init_bnd = cap_bnd(&env.sh_ok(&n, "cat /proc/1/status"));
    assert!(!sys_time(&init_bnd), "init kept CAP_SYS_TIME: {init_bnd}");
    let bnd = |extra: &[&str]| {
        let mut a = vec!["attach", n.as_str()];
        a.extend_from_slice(extra);
        a.extend_from_slice(&["--", "cat", "/proc/self/status"]);
        let o = env.hako(&a);
        o.assert_ok();
        cap_bnd(&o.stdout)
    };
    let cg = |extra: &[&str]| {
        let mut a = vec!["attach", n.as_str()];
        a.extend_from_slice(extra);
        a.extend_from_slice(&["--", "cat", "/proc/self/cgroup"]);
        let o = env.hako(&a);
        o.assert_ok();
        o.stdout
    };
    let init_cg = env.sh_ok(&n, "cat /proc/1/cgroup");
    // default: init's bounding set and cgroups
    assert_eq!(bnd(&[]), init_bnd);
    assert_eq!(cg(&[]), init_cg);
    // CAP: the caller's set; cgroup unchanged
    let e = bnd(&["--elevated-privileges=CAP"]);
    assert!(sys_time(&e), "-e CAP dropped CAP_SYS_TIME: {e}");
    assert_eq!(cg(&["--elevated-privileges=CAP"]), init_cg);
    // CGROUP: not in the container's cgroups (as seen from its cgroup namespace, the
    // caller's cgroup lies outside: "/.." paths); capabilities still dropped
    let c = cg(&["--elevated-privileges=CGROUP"]);
    assert_ne!(c, init_cg, "-e CGROUP moved the command into init's cgroup");
    assert!(c.contains("/.."), "{c}");
    assert_eq!(bnd(&["--elevated-privileges=CGROUP"]), init_bnd);
    // no value: everything
    assert!(sys_time(&bnd(&["-e"])));
    assert_ne!(cg(&["-e"]), init_cg);
    // the lxc face, '|'-separated, lower case too
    let p = env.lxcpath.to_str().unwrap();
    let o = env.lxc(
        "lxc-attach",
        &[
            "-P",
            p,
            "-n",
            &n,
            "-ecap|CGROUP",
            "--",
            "cat",
            "/proc/self/status",
        ],
    );
    o.assert_ok();
    assert!(sys_time(&cap_bnd(&o.stdout)));
    // a bad name: refused before anything runs
    env.lxc(
        "lxc-attach",
        &[
            "-P",
            p,
            "-n",
            &n,
            "--elevated-privileges=CAP|ROOT",
            "--",
            "true",
        ],
    )
    .assert_fails_mentioning("invalid elevated privilege \"ROOT\"");
    env.hako(&["attach", &n, "--elevated-privileges=NET", "--", "true"])
        .assert_fails_mentioning("use CAP, CGROUP or LSM");
}

/// `-L/--pty-log FILE`: what the command writes to its terminal is appended to FILE (a
/// host path opened by hako); the command never holds that file.
#[test]
fn attach_pty_log() {
    let Some(env) = TestEnv::new("atlog") else {
        return;
    };
    let n = env.busybox();
    env.start(&n);
    let lp = env.lxcpath.to_str().unwrap().to_string();
    let log = env.lxcpath.join(env.token("ptylog"));
    let logs = log.to_str().unwrap().to_string();
    let fname = log.file_name().unwrap().to_str().unwrap().to_string();
    let links = env.links_dir();
    let run_on_pty = |prog: &Path, args: &[&str]| {
        let mut pty = Pty::spawn(
            prog,
            args,
            &[("HAKO_SYSCONFDIR", env.etc.clone().into_os_string())],
        );
        let st = pty
            .wait(Duration::from_secs(15))
            .expect("attach did not exit");
        assert!(st.success(), "{st:?}: {:?}", pty.text());
        pty.text()
    };
    // the command lists its fds: the log is not among them
    let text = run_on_pty(
        Path::new(HAKO),
        &[
            "-P",
            &lp,
            "attach",
            &n,
            "-L",
            &logs,
            "--",
            "sh",
            "-c",
            "echo out-$((2+3)); ls -l /proc/self/fd/",
        ],
    );
    assert!(text.contains("out-5"), "{text:?}");
    let first = fs::read_to_string(&log).expect("the pty log was not written");
    assert!(first.contains("out-5"), "pty log: {first:?}");
    assert!(
        !first.contains(&fname),
        "the command holds the pty log: {first:?}"
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        fs::metadata(&log).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // appended, through the lxc face
    run_on_pty(
        &links.join("lxc-attach"),
        &[
            "-P",
            &lp,
            "-n",
            &n,
            "--pty-log",
            &logs,
            "--",
            "sh",
            "-c",
            "echo second-$((3+4))",
        ],
    );
    let both = fs::read_to_string(&log).unwrap();
    assert!(
        both.starts_with(&first) && both.contains("second-7"),
        "{both:?}"
    );
    // without a terminal nothing is logged (LXC's rule), the output still arrives
    let o = env.hako(&["attach", &n, "-L", &logs, "--", "echo", "piped"]);
    o.assert_ok();
    assert_eq!(o.out(), "piped");
    assert_eq!(fs::read_to_string(&log).unwrap(), both);
    // a log that cannot be opened: a clear error, and the command does not run
    let mark = env.token("nolog");
    env.hako(&[
        "attach",
        &n,
        "-L",
        "/nonexistent-hako-dir/log",
        "--",
        "touch",
        &format!("/{mark}"),
    ])
    .assert_fails_mentioning("cannot open the pty log /nonexistent-hako-dir/log");
    assert_ne!(env.sh(&n, &format!("test -e /{mark}")).code(), 0);
}

fn net_dev_names(s: &str) -> Vec<String> {
    let mut v: Vec<String> = s
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(|n| n.trim().to_string())
        .collect();
    v.sort();
    v
}

/// `-s/--namespaces FLAGS`: only those namespaces are joined, the command keeps the
/// host's others (and runs on the host's file system without MOUNT); `-R` remounts /proc
/// and /sys for what was joined.
#[test]
fn attach_only_some_namespaces() {
    let Some(env) = TestEnv::new("atns") else {
        return;
    };
    let n = env.busybox();
    env.start(&n);
    let host_name = fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let uts = env.hako(&["config", &n, "lxc.uts.name"]).out().to_string();
    assert_ne!(host_name.trim(), uts);
    let at = |extra: &[&str], cmd: &[&str]| {
        let mut a = vec!["attach", n.as_str()];
        a.extend_from_slice(extra);
        a.push("--");
        a.extend_from_slice(cmd);
        let o = env.hako(&a);
        o.assert_ok();
        o.stdout
    };
    let container_ifs = net_dev_names(&at(&[], &["cat", "/proc/net/dev"]));
    let host_ifs = net_dev_names(&fs::read_to_string("/proc/net/dev").unwrap());
    assert_ne!(container_ifs, host_ifs);
    // NETWORK: the container's interfaces, the host's hostname and file system
    assert_eq!(
        net_dev_names(&at(&["-s", "NETWORK"], &["cat", "/proc/net/dev"])),
        container_ifs
    );
    assert_eq!(
        at(&["-s", "NETWORK"], &["hostname"]).trim(),
        host_name.trim()
    );
    let host_file = env.lxcpath.join(env.token("hostfile"));
    fs::write(&host_file, "on-the-host\n").unwrap();
    assert_eq!(
        at(&["-s", "NETWORK"], &["cat", host_file.to_str().unwrap()]).trim(),
        "on-the-host"
    );
    // the host's sysfs shows the host's devices; -R mounts one for the joined netns
    assert_eq!(
        {
            let mut v: Vec<String> = at(&["-s", "NETWORK", "-R"], &["ls", "/sys/class/net"])
                .split_whitespace()
                .map(str::to_string)
                .collect();
            v.sort();
            v
        },
        container_ifs
    );
    // UTSNAME: the container's name
    assert_eq!(at(&["-s", "UTSNAME"], &["hostname"]).trim(), uts);
    // PID with -R: the container's init is pid 1 in the remounted /proc, the hostname
    // is still the host's
    assert_eq!(
        at(
            &["-s", "PID", "-R"],
            &["sh", "-c", "cat /proc/1/comm; hostname"]
        ),
        format!("init\n{}\n", host_name.trim())
    );
    // the lxc face, several names
    let p = env.lxcpath.to_str().unwrap();
    let o = env.lxc(
        "lxc-attach",
        &["-P", p, "-n", &n, "-s", "UTSNAME|NETWORK", "--", "hostname"],
    );
    o.assert_ok();
    assert_eq!(o.out(), uts);
    // -R leaves no mount behind on the host
    assert!(!fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .contains(&n));
    // bad names
    env.lxc(
        "lxc-attach",
        &["-P", p, "-n", &n, "-s", "NETWORK|NET", "--", "true"],
    )
    .assert_fails_mentioning("invalid namespace \"NET\"");
    env.hako(&["attach", &n, "-s", "|", "--", "true"])
        .assert_fails_mentioning("needs at least one of MOUNT");
}

/// `lxc-attach -c CTX`: this host has no SELinux; the error says so instead of running
/// the command unlabelled.
#[test]
fn attach_selinux_context_is_refused_clearly() {
    let Some(env) = TestEnv::new("atctx") else {
        return;
    };
    let n = env.busybox();
    env.start(&n);
    let p = env.lxcpath.to_str().unwrap();
    let mark = env.token("ctx");
    let o = env.lxc(
        "lxc-attach",
        &[
            "-P",
            p,
            "-n",
            &n,
            "-c",
            "system_u:system_r:container_t:s0",
            "--",
            "touch",
            &format!("/{mark}"),
        ],
    );
    let why = if Path::new("/sys/fs/selinux/enforce").exists() {
        "hako applies no SELinux labels"
    } else {
        "this host has no SELinux"
    };
    o.assert_fails_mentioning(why);
    o.assert_fails_mentioning("system_u:system_r:container_t:s0");
    assert!(
        env.sh(&n, &format!("test -e /{mark}")).code() != 0,
        "the command ran despite -c"
    );
}

#[test]
fn attach_passes_a_megabyte_through_pipes_unchanged() {
    let Some(env) = TestEnv::new("atpipe") else {
        return;
    };
    let n = env.busybox();
    env.start(&n);
    let mut data = vec![0u8; 1_048_576];
    getrandom_fill(&mut data);
    let o = env
        .run(&["attach", &n, "--", "cat"])
        .stdin(data.clone())
        .run();
    o.assert_ok();
    assert_eq!(
        o.stdout_bytes.len(),
        data.len(),
        "byte count through attach"
    );
    assert!(
        o.stdout_bytes == data,
        "1 MiB through attach came out changed"
    );
    // stderr stays separate
    let o = env.sh(&n, "echo to-out; echo to-err >&2; echo more-out");
    o.assert_ok();
    assert_eq!(o.stdout, "to-out\nmore-out\n");
    assert_eq!(o.stderr, "to-err\n");
    // no pty without a terminal: tty says so
    let t = env.hako(&["attach", &n, "--", "tty"]);
    assert_eq!(t.code(), 1, "tty inside attach without a terminal: {t:?}");
    assert!(t.stdout.contains("not a tty"));
    // stdin EOF reaches the command
    let o = env
        .run(&["attach", &n, "--", "wc", "-c"])
        .stdin("abc")
        .run();
    o.assert_ok();
    assert_eq!(o.out(), "3");
}

fn getrandom_fill(buf: &mut [u8]) {
    fs::File::open("/dev/urandom")
        .unwrap()
        .read_exact(buf)
        .unwrap();
}

#[test]
fn attach_allocates_a_pty_on_a_terminal() {
    let Some(env) = TestEnv::new("atpty") else {
        return;
    };
    let n = env.busybox();
    env.start(&n);
    let lp = env.lxcpath.to_str().unwrap().to_string();
    let mut pty = Pty::spawn(
        Path::new(HAKO),
        &[
            "-P",
            &lp,
            "attach",
            &n,
            "--",
            "sh",
            "-c",
            "tty; echo done-$((1+1))",
        ],
        &[("HAKO_SYSCONFDIR", env.etc.clone().into_os_string())],
    );
    let st = pty
        .wait(Duration::from_secs(15))
        .expect("attach on a pty did not exit");
    assert!(
        st.success(),
        "attach on a pty: {st:?}; output {:?}",
        pty.text()
    );
    let text = pty.text();
    assert!(text.contains("done-2"), "output: {text:?}");
    let tty_line = text
        .lines()
        .find(|l| l.trim().starts_with("/dev/"))
        .unwrap_or_else(|| panic!("tty printed no device: {text:?}"));
    let t = tty_line.trim();
    assert!(
        t.starts_with("/dev/pts/") && t["/dev/pts/".len()..].chars().all(|c| c.is_ascii_digit()),
        "tty inside attach on a terminal: {t:?}"
    );
    // exit status through the pty path
    let mut pty = Pty::spawn(
        Path::new(HAKO),
        &["-P", &lp, "attach", &n, "--", "sh", "-c", "exit 5"],
        &[("HAKO_SYSCONFDIR", env.etc.clone().into_os_string())],
    );
    let st = pty
        .wait(Duration::from_secs(15))
        .expect("attach did not exit");
    assert_eq!(st.code(), Some(5));
    // an interactive shell: type a command, see its result, exit
    let mut pty = Pty::spawn(
        Path::new(HAKO),
        &["-P", &lp, "attach", &n],
        &[("HAKO_SYSCONFDIR", env.etc.clone().into_os_string())],
    );
    pty.must_expect("#", Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(300));
    pty.send(b"echo inter$((20+1))active\n");
    pty.must_expect("inter21active", Duration::from_secs(10));
    pty.send(b"exit 4\n");
    let st = pty
        .wait(Duration::from_secs(10))
        .expect("interactive attach did not exit");
    assert_eq!(st.code(), Some(4));
}

#[test]
fn execute_runs_under_a_small_init() {
    let Some(env) = TestEnv::new("exec") else {
        return;
    };
    let n = env.busybox();
    let o = env.hako(&["execute", &n, "--", "sh", "-c", "echo $$"]);
    o.assert_ok();
    let pid: i32 = o.out().parse().expect("a pid");
    assert!(
        pid > 1 && pid < 10,
        "the command's pid inside execute: {pid}"
    );
    // PID 1 is not the command but an init
    let o = env.hako(&["execute", &n, "--", "cat", "/proc/1/cmdline"]);
    o.assert_ok();
    assert!(!o.stdout.starts_with("cat"), "the command itself is PID 1");
    // exit status passes through
    env.hako(&["execute", &n, "--", "sh", "-c", "exit 9"])
        .assert_code(9);
    // the container is not left running
    assert_eq!(env.state(&n), "STOPPED");
    env.assert_no_leaks(&n);
    // stdin and stdout pass through
    let o = env
        .run(&["execute", &n, "--", "cat"])
        .stdin("through\n")
        .run();
    o.assert_ok();
    assert_eq!(o.stdout, "through\n");
    // an execute while the container runs as a system container is refused
    env.start(&n);
    let o = env.hako(&["execute", &n, "--", "true"]);
    o.assert_fails_mentioning("running");
}

#[test]
fn execute_init_reaps_zombies() {
    let Some(env) = TestEnv::new("reap") else {
        return;
    };
    let n = env.busybox();
    // a grandchild is orphaned (its parent subshell exits at once), re-parented to PID 1,
    // and exits after 0.2 s; PID 1 must reap it before we look 0.8 s later.
    let o = env.hako(&[
        "execute",
        &n,
        "--",
        "sh",
        "-c",
        "(sleep 0.2 &); sleep 1; ps -o pid,ppid,stat,comm",
    ]);
    o.assert_ok();
    let zombies: Vec<&str> = o
        .stdout
        .lines()
        .skip(1)
        .filter(|l| {
            l.split_whitespace()
                .nth(2)
                .is_some_and(|s| s.starts_with('Z'))
        })
        .collect();
    assert!(zombies.is_empty(), "zombies under execute:\n{}", o.stdout);
    assert!(
        !o.stdout.lines().any(|l| l.ends_with(" sleep")),
        "the orphan is still there:\n{}",
        o.stdout
    );
}

#[test]
fn execute_forwards_signals() {
    let Some(env) = TestEnv::new("sigfw") else {
        return;
    };
    let n = env.busybox();
    let mut child = Command::new(HAKO)
        .env("HAKO_SYSCONFDIR", &env.etc)
        .args([
            "-P",
            env.lxcpath.to_str().unwrap(),
            "execute",
            &n,
            "--",
            "sh",
            "-c",
            "trap 'exit 7' TERM; echo ready; while :; do sleep 0.1; done",
        ])
        .stdout(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let t0 = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if t0.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            panic!("hako execute did not end 10 s after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(
        status.code(),
        Some(7),
        "SIGTERM did not reach the command's trap"
    );
    env.assert_no_leaks(&n);
}

fn console_session(env: &TestEnv, name: &str, extra: &[&str]) -> Pty {
    let lp = env.lxcpath.to_str().unwrap().to_string();
    let mut args = vec!["-P", lp.as_str(), "console", name];
    args.extend_from_slice(extra);
    // Pty::spawn takes &[&str]; lp lives long enough
    Pty::spawn(
        Path::new(HAKO),
        &args,
        &[("HAKO_SYSCONFDIR", env.etc.clone().into_os_string())],
    )
}

#[test]
fn console_shell_and_escape() {
    let Some(env) = TestEnv::new("cons") else {
        return;
    };
    let log = env.path("cons.log");
    let n = env.busybox_with(&format!("lxc.console.logfile = {}\n", log.display()));
    env.start(&n);
    let mut pty = console_session(&env, &n, &[]);
    std::thread::sleep(Duration::from_millis(500));
    pty.send(b"\n");
    pty.must_expect("#", Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(300));
    pty.send(b"echo cons$((6*7))ok\n");
    pty.must_expect("cons42ok", Duration::from_secs(10));
    // Ctrl-a q detaches
    pty.send(b"\x01q");
    let st = pty.wait(Duration::from_secs(10));
    assert!(
        st.is_some(),
        "console did not exit on Ctrl-a q: {:?}",
        pty.text()
    );
    assert!(st.unwrap().success(), "console exit: {st:?}");
    assert_eq!(
        env.state(&n),
        "RUNNING",
        "detaching the console stopped the container"
    );
    // what went over the console is in lxc.console.logfile
    assert!(
        wait_for(Duration::from_secs(3), || fs::read_to_string(&log)
            .map(|t| t.contains("cons42ok"))
            .unwrap_or(false)),
        "console output not logged in {}: {:?}",
        log.display(),
        fs::read_to_string(&log)
    );
    // a second console session works after the first detached
    let mut pty = console_session(&env, &n, &[]);
    std::thread::sleep(Duration::from_millis(300));
    pty.send(b"echo again$((1+1))\n");
    pty.must_expect("again2", Duration::from_secs(10));
    pty.send(b"\x01q");
    assert!(pty.wait(Duration::from_secs(10)).is_some());
}

#[test]
fn console_tty1_shows_getty_and_default_log() {
    let Some(env) = TestEnv::new("constt") else {
        return;
    };
    let n = env.busybox();
    env.start(&n);
    let mut pty = console_session(&env, &n, &["-t", "1"]);
    std::thread::sleep(Duration::from_millis(500));
    pty.send(b"\n");
    pty.must_expect("login:", Duration::from_secs(10));
    pty.send(b"\x01q");
    let st = pty.wait(Duration::from_secs(10));
    assert!(st.is_some_and(|s| s.success()), "console -t 1 exit: {st:?}");
    assert_eq!(env.state(&n), "RUNNING");
    // a tty that does not exist
    let o = env.hako(&["console", &n, "-t", "9"]);
    o.assert_fails_mentioning("9");
    // the default console log: NAME/console.log
    let default_log = env.lxcpath.join(&n).join("console.log");
    let text = fs::read_to_string(&default_log)
        .unwrap_or_else(|e| panic!("no default console log {}: {e}", default_log.display()));
    assert!(
        text.contains("BusyBox"),
        "busybox banner not in {}: {text:?}",
        default_log.display()
    );
}

#[test]
fn console_escape_can_be_changed() {
    let Some(env) = TestEnv::new("cesc") else {
        return;
    };
    let n = env.busybox();
    env.start(&n);
    let mut pty = console_session(&env, &n, &["-e", "^b"]);
    std::thread::sleep(Duration::from_millis(500));
    // Ctrl-a q no longer detaches ...
    pty.send(b"\x01q");
    assert!(
        pty.wait(Duration::from_millis(800)).is_none(),
        "^a q detached with -e ^b"
    );
    // ... Ctrl-b q does
    pty.send(b"\x02q");
    assert!(pty
        .wait(Duration::from_secs(10))
        .is_some_and(|s| s.success()));
}

/// Run `hako ARGS` from bash on a terminal of its own (the "host terminal"), then let bash
/// read that terminal for a second: whatever the container managed to push into the host
/// terminal's input shows up there as AFTER[...]. Returns (the terminal's text, hako's
/// exit status as bash saw it).
fn on_host_terminal(env: &TestEnv, hako_args: &str) -> String {
    let script = format!(
        "HAKO_SYSCONFDIR={etc} {hako} -P {lp} {hako_args}; echo \"HAKO-EXIT[$?]\"; \
         read -r -t 1 line; echo \"AFTER[$line]\"",
        etc = env.etc.display(),
        hako = HAKO,
        lp = env.lxcpath.display()
    );
    let mut pty = Pty::spawn(Path::new("/bin/bash"), &["--norc", "-c", &script], &[]);
    pty.must_expect("AFTER[", Duration::from_secs(30));
    pty.wait(Duration::from_secs(10));
    pty.text()
}

/// TIOCSTI (and TIOCLINUX) from inside, through attach and execute, with the host's
/// terminal on all of fds 0-2 and with stdin from /dev/null (the case that handed the
/// container the host terminal): the push lands in the container's own pty, and nothing
/// reaches the host terminal's input.
#[test]
fn tiocsti_from_inside_never_reaches_the_host_terminal() {
    let Some(env) = TestEnv::new("sti") else {
        return;
    };
    let helper = build_helper(&env.dir, "tiocsti");
    // without the seccomp filter (which refuses TIOCSTI and TIOCLINUX itself, see
    // tests/seccomp.rs): this measures the terminal layer alone
    let n = env.busybox_with("lxc.seccomp.profile = unconfined\n");
    fs::copy(&helper, env.lxcpath.join(&n).join("rootfs/tiocsti")).unwrap();
    env.start(&n);
    for (how, args) in [
        ("attach", format!("attach {n} -- /tiocsti")),
        (
            "attach </dev/null",
            format!("attach {n} -- /tiocsti </dev/null"),
        ),
        (
            "attach </dev/null 2>/dev/null",
            format!("attach {n} -- sh -c '/tiocsti 2>&1' </dev/null 2>/dev/null"),
        ),
    ] {
        let text = on_host_terminal(&env, &args);
        assert!(text.contains("HAKO-EXIT[0]"), "{how}: {text:?}");
        assert!(
            text.contains("AFTER[]"),
            "{how}: the container typed into the host terminal: {text:?}"
        );
        assert!(
            text.contains("tiocsti ok"),
            "{how}: the probe did not push anything (into the container's own pty): {text:?}"
        );
    }
    env.kill(&n);
    // execute: the application's terminal is the container's console pty
    for (how, args) in [
        ("execute", format!("execute {n} -- /tiocsti")),
        (
            "execute </dev/null",
            format!("execute {n} -- /tiocsti </dev/null"),
        ),
    ] {
        let text = on_host_terminal(&env, &args);
        assert!(text.contains("HAKO-EXIT[0]"), "{how}: {text:?}");
        assert!(
            text.contains("AFTER[]"),
            "{how}: the container typed into the host terminal: {text:?}"
        );
        assert!(
            text.contains("tiocsti ok"),
            "{how}: the probe did not push anything (into the container's own pty): {text:?}"
        );
    }
    env.assert_no_leaks(&n);
}

/// Without any terminal, the command gets pipes (or the container's own /dev/null) —
/// never a host fd it could fchmod or reopen.
#[test]
fn attach_and_execute_without_a_terminal_get_no_host_fd() {
    let Some(env) = TestEnv::new("nofd") else {
        return;
    };
    let n = env.busybox();
    let probe = "for f in 0 1 2; do echo \"$f $(readlink /proc/self/fd/$f)\"; done";
    env.start(&n);
    let o = env
        .run(&["attach", &n, "--", "sh", "-c", probe])
        .stdin(Vec::new())
        .run();
    o.assert_ok();
    for l in o.stdout.lines() {
        assert!(
            l.contains("pipe:") || l.ends_with("/dev/null"),
            "attach: {l}"
        );
    }
    env.kill(&n);
    let o = env
        .run(&["execute", &n, "--", "sh", "-c", probe])
        .stdin(Vec::new())
        .run();
    o.assert_ok();
    assert_eq!(o.stdout.lines().count(), 3, "{o:?}");
    for l in o.stdout.lines() {
        assert!(
            l.contains("pipe:") || l.ends_with("/dev/null"),
            "execute: {l}"
        );
    }
    env.assert_no_leaks(&n);
}
