//! Issue 10, point 7: seccomp. A static helper (tests/helpers/sysprobe.c, built here with
//! gcc) makes the dangerous system calls directly, natively and through the i386 compat
//! ABI, as root inside privileged busybox containers, through `attach` and `execute`.

mod common;

use common::*;
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where the helper goes in a container.
const PROBE: &str = "/bin/sysprobe";

/// Build the helper into the test's temp dir (gcc -static, non-PIE: its compat calls pass
/// pointers to static objects, which must lie below 4 GiB).
fn build_sysprobe(env: &TestEnv) -> PathBuf {
    build_helper(&env.dir, "sysprobe")
}

/// A busybox container (`extra` config appended) with the helper in it.
fn container(env: &TestEnv, probe: &Path, extra: &str) -> String {
    container_as(env, probe, extra, false)
}

/// `privileged`: without a user namespace (where the kernel itself refuses what the
/// probes try, and only the filter can be measured in a privileged one).
fn container_as(env: &TestEnv, probe: &Path, extra: &str, privileged: bool) -> String {
    let n = if privileged {
        env.busybox_privileged()
    } else {
        env.busybox()
    };
    if !extra.is_empty() {
        env.append_config(&n, extra);
    }
    let dst = env.lxcpath.join(&n).join("rootfs").join(&PROBE[1..]);
    fs::copy(probe, &dst).unwrap();
    fs::set_permissions(&dst, fs::Permissions::from_mode(0o755)).unwrap();
    n
}

/// sysprobe's lines: (probe, ABI) → result ("ok", "EPERM", ...).
fn results(out: &Out) -> BTreeMap<(String, String), String> {
    out.assert_ok();
    let m: BTreeMap<_, _> = out
        .stdout
        .lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w.len() >= 3).then(|| ((w[0].to_string(), w[1].to_string()), w[2].to_string()))
        })
        .collect();
    assert!(
        m.len() >= 20,
        "sysprobe printed too little:\n{}\n{}",
        out.stdout,
        out.stderr
    );
    m
}

/// What hako's built-in profile answers: (probe, ABI, error).
const BLOCKED: &[(&str, &str, &str)] = &[
    ("open_by_handle_at", "64", "EPERM"),
    ("open_by_handle_at", "32", "EPERM"),
    ("kexec_load", "64", "EPERM"),
    ("kexec_load", "32", "EPERM"),
    ("kexec_file_load", "64", "EPERM"),
    ("init_module", "64", "EPERM"),
    ("init_module", "32", "EPERM"),
    ("finit_module", "64", "EPERM"),
    ("finit_module", "32", "EPERM"),
    ("delete_module", "64", "EPERM"),
    ("delete_module", "32", "EPERM"),
    ("keyctl", "64", "ENOSYS"),
    ("keyctl", "32", "ENOSYS"),
    ("add_key", "64", "ENOSYS"),
    ("add_key", "32", "ENOSYS"),
    ("request_key", "64", "ENOSYS"),
    ("request_key", "32", "ENOSYS"),
    ("bpf", "64", "EPERM"),
    ("bpf", "32", "EPERM"),
    ("perf_event_open", "64", "EPERM"),
    ("perf_event_open", "32", "EPERM"),
    ("syslog", "64", "EPERM"),
    ("syslog", "32", "EPERM"),
    ("tiocsti", "64", "EPERM"),
    ("tiocsti", "32", "EPERM"),
    ("tiocsti_hi", "64", "EPERM"),
    ("tioclinux", "64", "EPERM"),
    ("tioclinux", "32", "EPERM"),
    ("umount2_force", "64", "EACCES"),
    ("umount2_force", "32", "EACCES"),
    ("fsopen", "64", "ENOSYS"),
    ("fsopen", "32", "ENOSYS"),
    ("open_tree", "64", "ENOSYS"),
    ("open_tree", "32", "ENOSYS"),
];

#[track_caller]
fn assert_blocked(r: &BTreeMap<(String, String), String>, how: &str) {
    for (probe, abi, want) in BLOCKED {
        let got = r.get(&(probe.to_string(), abi.to_string()));
        assert_eq!(
            got.map(String::as_str),
            Some(*want),
            "{how}: {probe} through the {abi}-bit ABI: {got:?}, expected {want}\n{r:#?}"
        );
    }
    // the helper works in both ABIs, and a container may stack filters of its own
    for key in [("getpid", "64"), ("getpid", "32"), ("seccomp", "64")] {
        assert_eq!(
            r.get(&(key.0.to_string(), key.1.to_string()))
                .map(String::as_str),
            Some("ok"),
            "{how}: {key:?}\n{r:#?}"
        );
    }
}

/// `Seccomp:` and `Seccomp_filters:` of a host pid.
fn seccomp_status(pid: i32) -> (String, String) {
    let s = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |f: &str| {
        s.lines()
            .find_map(|l| l.strip_prefix(f))
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    (field("Seccomp:"), field("Seccomp_filters:"))
}

fn probe_call(env: &TestEnv, n: &str, abi: &str, nr: u32, args: &[&str]) -> Out {
    let nr = nr.to_string();
    let mut a = vec!["attach", n, "--", PROBE, "call", abi, &nr];
    a.extend_from_slice(args);
    env.hako(&a)
}

/// The result of one raw call through attach ("ok", "E42", ...).
#[track_caller]
fn call(env: &TestEnv, n: &str, abi: &str, nr: u32, args: &[&str]) -> String {
    let o = probe_call(env, n, abi, nr, args);
    o.assert_ok();
    o.stdout
        .split_whitespace()
        .nth(2)
        .unwrap_or_else(|| panic!("no result from sysprobe call: {o:?}"))
        .to_string()
}

#[test]
fn builtin_profile_blocks_the_probes_in_attach_and_execute() {
    let Some(env) = TestEnv::new("scdef") else {
        return;
    };
    let probe = build_sysprobe(&env);
    // a start hook is the container's code: it runs under the filter
    let n = container(
        &env,
        &probe,
        &format!("lxc.hook.start = /bin/sh -c \"{PROBE} keyctl > /root/hook-probe\""),
    );
    env.start(&n);
    let hook = fs::read_to_string(env.lxcpath.join(&n).join("rootfs/root/hook-probe")).unwrap();
    assert!(hook.contains("keyctl 64 ENOSYS"), "the start hook: {hook}");
    // the container boots under it
    env.wait_booted(&n);
    assert_eq!(env.state(&n), "RUNNING");
    let init = env.init_pid(&n);
    assert_eq!(seccomp_status(init), ("2".into(), "1".into()), "init");
    // the monitor is not filtered
    let monitor = ppid_of(init).unwrap();
    assert_eq!(seccomp_status(monitor).0, "0", "the monitor runs filtered");

    assert_blocked(&results(&env.hako(&["attach", &n, "--", PROBE])), "attach");
    // installed before the switch to another uid: a non-root attached command has it too
    let o = env.hako(&[
        "attach",
        &n,
        "-u",
        "1000",
        "-g",
        "1000",
        "--",
        "grep",
        "^Seccomp",
        "/proc/self/status",
    ]);
    o.assert_ok();
    assert!(
        o.stdout.contains("Seccomp:\t2") && o.stdout.contains("Seccomp_filters:\t1"),
        "{o:?}"
    );
    let o = env.hako(&[
        "attach", &n, "-u", "1000", "-g", "1000", "--", PROBE, "tiocsti",
    ]);
    assert!(o.stdout.contains("tiocsti 64 EPERM"), "{o:?}");

    // a reboot: the monitor starts the new init from the launch options it kept
    env.hako(&["stop", &n, "-r"]).assert_ok();
    let rebooted = wait_for(Duration::from_secs(10), || {
        let o = env.hako(&["info", &n, "-p", "-H"]);
        o.out().parse::<i32>().is_ok_and(|p| p != init)
    });
    assert!(rebooted, "no new init after stop -r");
    let init = env.init_pid(&n);
    assert_eq!(
        seccomp_status(init),
        ("2".into(), "1".into()),
        "rebooted init"
    );

    env.kill(&n);
    env.assert_no_leaks(&n);
    assert_blocked(
        &results(&env.hako(&["execute", &n, "--", PROBE])),
        "execute",
    );
    // execute's own small init (PID 1, which the command could trace) is filtered too
    let o = env.hako(&["execute", &n, "--", "grep", "^Seccomp:", "/proc/1/status"]);
    o.assert_ok();
    assert!(o.stdout.contains("Seccomp:\t2"), "{o:?}");
    assert_eq!(env.state(&n), "STOPPED");
    env.assert_no_leaks(&n);
}

/// Every capability, so the kernel's own checks let the probes through: what stops them
/// then is the filter alone.
const ALL_CAPS: &str = "lxc.cap.keep = chown dac_override dac_read_search fowner fsetid kill \
    setgid setuid setpcap linux_immutable net_bind_service net_broadcast net_admin net_raw \
    ipc_lock ipc_owner sys_module sys_rawio sys_chroot sys_ptrace sys_pacct sys_admin sys_boot \
    sys_nice sys_resource sys_time sys_tty_config mknod lease audit_write audit_control \
    setfcap mac_override mac_admin syslog wake_alarm block_suspend audit_read perfmon bpf \
    checkpoint_restore";

#[test]
fn the_filter_alone_blocks_and_unconfined_lets_the_probes_through() {
    let Some(env) = TestEnv::new("scbase") else {
        return;
    };
    let probe = build_sysprobe(&env);
    // privileged: in a user namespace the kernel refuses bpf, perf and the rest itself
    let n = container_as(&env, &probe, ALL_CAPS, true);
    env.start(&n);
    let init = env.init_pid(&n);
    let bnd = parse_cap_line(
        &fs::read_to_string(format!("/proc/{init}/status")).unwrap(),
        "CapBnd",
    );
    assert!(
        bnd.unwrap() & (1 << cap::SYS_MODULE) != 0,
        "the test needs CAP_SYS_MODULE kept"
    );
    assert_blocked(
        &results(&env.hako(&["attach", &n, "--", PROBE])),
        "every capability kept",
    );
    env.kill(&n);

    // without a filter the same calls reach the kernel: the probes are live
    env.append_config(&n, "lxc.seccomp.profile = unconfined");
    env.start(&n);
    assert_eq!(seccomp_status(env.init_pid(&n)), ("0".into(), "0".into()));
    let r = results(&env.hako(&["attach", &n, "--", PROBE]));
    for (probe, abi, blocked) in BLOCKED {
        let got = &r[&(probe.to_string(), abi.to_string())];
        assert_ne!(
            got, blocked,
            "unconfined: {probe} ({abi}-bit) still answers {blocked}: the probe does not reach \
             the kernel's own handling, so it cannot show the filter (or the host refuses it \
             itself: kernel.modules_disabled, kernel.kexec_load_disabled)\n{r:#?}"
        );
    }
    // what the kernel itself says to root with every capability
    let get = |p: &str, abi: &str| r[&(p.to_string(), abi.to_string())].clone();
    for abi in ["64", "32"] {
        assert_eq!(get("open_by_handle_at", abi), "EFAULT");
        assert_eq!(get("keyctl", abi), "ok", "root reads the host's keyring");
        assert_eq!(get("syslog", abi), "ok");
        assert_eq!(get("perf_event_open", abi), "ok");
        assert_eq!(get("tiocsti", abi), "ENOTTY");
        assert_eq!(get("umount2_force", abi), "ENOENT");
        assert_eq!(get("fsopen", abi), "ok");
        assert!(["ok", "ENOENT"].contains(&get("bpf", abi).as_str()));
    }
    assert_eq!(get("tiocsti_hi", "64"), "ENOTTY");
}

/// x86_64 system call names from the kernel headers (linux-libc-dev).
fn x86_64_syscalls() -> Vec<(String, u32)> {
    let h = "/usr/include/x86_64-linux-gnu/asm/unistd_64.h";
    let text = fs::read_to_string(h)
        .unwrap_or_else(|e| panic!("{h}: {e}; install linux-libc-dev (make deps does)"));
    text.lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            match w.as_slice() {
                ["#define", n, v] => Some((n.strip_prefix("__NR_")?.to_string(), v.parse().ok()?)),
                _ => None,
            }
        })
        .collect()
}

const GETPRIORITY_64: u32 = 140;
const GETPRIORITY_32: u32 = 96;
const GETPGID_64: u32 = 121;
const GETPGID_32: u32 = 132;
const KEYCTL_64: u32 = 250;
const GETPID_64: u32 = 39;
const GETPID_32: u32 = 20;

#[test]
fn profile_files_are_honoured_on_top_of_the_builtin_one() {
    let Some(env) = TestEnv::new("scfile") else {
        return;
    };
    let probe = build_sysprobe(&env);

    // a denylist with argument conditions and error numbers
    let deny = env.write(
        "deny.seccomp",
        "2\ndenylist\n# the file's own rules\n\
         getpriority errno 42 [1,4242,SCMP_CMP_EQ]\n\
         getpgid errno 43 [0,0x100,SCMP_CMP_MASKED_EQ,0xff00]\n\
         keyctl errno 95\n",
    );
    let n = container(
        &env,
        &probe,
        &format!("lxc.seccomp.profile = {}", deny.display()),
    );
    env.start(&n);
    env.wait_booted(&n);
    assert_eq!(seccomp_status(env.init_pid(&n)), ("2".into(), "2".into()));
    assert_eq!(call(&env, &n, "64", GETPRIORITY_64, &["0", "4242"]), "E42");
    assert_eq!(call(&env, &n, "32", GETPRIORITY_32, &["0", "4242"]), "E42");
    assert_eq!(call(&env, &n, "64", GETPRIORITY_64, &["0", "0"]), "ok");
    assert_eq!(call(&env, &n, "32", GETPRIORITY_32, &["0", "0"]), "ok");
    assert_eq!(call(&env, &n, "64", GETPGID_64, &["0x1ff"]), "E43");
    assert_eq!(call(&env, &n, "32", GETPGID_32, &["0x1ff"]), "E43");
    assert_eq!(call(&env, &n, "64", GETPGID_64, &["0x2ff"]), "ESRCH");
    // both filters run: the file's error number wins a tie, the built-in refusals stay
    assert_eq!(call(&env, &n, "64", KEYCTL_64, &["0", "-4"]), "EOPNOTSUPP");
    let r = results(&env.hako(&["attach", &n, "--", PROBE]));
    assert_eq!(r[&("open_by_handle_at".into(), "64".into())], "EPERM");
    assert_eq!(r[&("tiocsti".into(), "32".into())], "EPERM");
    env.kill(&n);

    // a version 2 allowlist: everything but getpriority; the rest answers errno 1
    let names: Vec<String> = x86_64_syscalls()
        .into_iter()
        .map(|(n, _)| n)
        .filter(|n| n != "getpriority")
        .collect();
    assert!(names.len() > 300, "{names:?}");
    let allow = env.write(
        "allow.seccomp",
        &format!("2\nallowlist errno 1\n{}\n", names.join("\n")),
    );
    env.replace_config_line(
        &n,
        "lxc.seccomp.profile",
        &format!("lxc.seccomp.profile = {}", allow.display()),
    );
    env.start(&n);
    env.wait_booted(&n);
    assert_eq!(call(&env, &n, "64", GETPRIORITY_64, &["0", "0"]), "EPERM");
    assert_eq!(call(&env, &n, "32", GETPRIORITY_32, &["0", "0"]), "EPERM");
    assert_eq!(call(&env, &n, "64", GETPID_64, &[]), "ok");
    assert_eq!(call(&env, &n, "32", GETPID_32, &[]), "ok");
    env.kill(&n);

    // version 1: native numbers, everything else (the compat ABI too) kills
    let numbers: Vec<String> = x86_64_syscalls()
        .into_iter()
        .filter(|(_, nr)| *nr != GETPRIORITY_64)
        .map(|(_, nr)| nr.to_string())
        .collect();
    let v1 = env.write(
        "v1.seccomp",
        &format!("1\nallowlist\n{}\n", numbers.join("\n")),
    );
    env.replace_config_line(
        &n,
        "lxc.seccomp.profile",
        &format!("lxc.seccomp.profile = {}", v1.display()),
    );
    env.start(&n);
    env.wait_booted(&n);
    assert_eq!(call(&env, &n, "64", GETPID_64, &[]), "ok");
    // killed by SIGSYS: attach returns 128 + 31
    probe_call(&env, &n, "64", GETPRIORITY_64, &["0", "0"]).assert_code(128 + libc::SIGSYS);
    probe_call(&env, &n, "32", GETPID_32, &[]).assert_code(128 + libc::SIGSYS);
    assert_eq!(env.state(&n), "RUNNING");
    env.kill(&n);
    env.assert_no_leaks(&n);
}

/// Debian's LXC config names LXC's common.seccomp: it is stacked on the built-in profile,
/// so an LXC-made config keeps every refusal of hako's.
#[test]
fn debian_common_conf_profile_stacks_on_the_builtin_one() {
    let Some(env) = TestEnv::new("sccom") else {
        return;
    };
    let common = Path::new("/usr/share/lxc/config/common.conf");
    assert!(
        common.exists(),
        "{} is missing: install Debian's lxc package (make deps does)",
        common.display()
    );
    let probe = build_sysprobe(&env);
    let n = container(&env, &probe, &format!("lxc.include = {}", common.display()));
    let o = env.start(&n);
    assert!(!o.stderr.contains("seccomp"), "{o:?}");
    assert_eq!(env.state(&n), "RUNNING");
    assert_eq!(seccomp_status(env.init_pid(&n)), ("2".into(), "2".into()));
    assert_blocked(
        &results(&env.hako(&["attach", &n, "--", PROBE])),
        "with common.seccomp",
    );
    env.kill(&n);
    env.assert_no_leaks(&n);
}

/// Start fails with exit 1 and `needle` in the error, and leaves nothing behind.
#[track_caller]
fn start_fails(env: &TestEnv, n: &str, needles: &[&str]) {
    let o = env.hako(&["start", n]);
    o.assert_code(1);
    for needle in needles {
        assert!(o.stderr.contains(needle), "expected {needle:?}\n{o:?}");
    }
    assert_eq!(env.state(n), "STOPPED");
    env.assert_no_leaks(n);
}

#[test]
fn bad_profiles_and_keys_fail_the_start_and_leave_nothing() {
    let Some(env) = TestEnv::new("scbad") else {
        return;
    };
    let n = env.busybox();
    let cfg = env.config_path(&n);
    let base = env.read_config(&n);
    let with = |extra: &str| fs::write(&cfg, format!("{base}\n{extra}\n")).unwrap();

    // a parse error: file:line, what is wrong and how to fix it
    let bad = env.write(
        "bad.seccomp",
        "2\ndenylist\nkexec_load errno 1\nmount refuse\n",
    );
    with(&format!("lxc.seccomp.profile = {}", bad.display()));
    let at = format!("{}:4: unknown action \"refuse\"", bad.display());
    start_fails(&env, &n, &[&n, "lxc.seccomp.profile", &at, "errno N"]);
    // checkconfig and execute say the same
    let o = env.hako(&["checkconfig", &n]);
    o.assert_code(1);
    assert!(o.stderr.contains(&at), "{o:?}");
    let o = env.hako(&["execute", &n, "--", "true"]);
    o.assert_code(1);
    assert!(o.stderr.contains(&at), "{o:?}");
    env.assert_no_leaks(&n);

    // notify, in a profile or as keys: not supported yet
    let notify = env.write("notify.seccomp", "2\ndenylist\n\nioctl notify\n");
    with(&format!("lxc.seccomp.profile = {}", notify.display()));
    start_fails(
        &env,
        &n,
        &[
            &format!("{}:4:", notify.display()),
            "notify",
            "not supported by hako yet",
        ],
    );
    with("lxc.seccomp.notify.proxy = unix:/run/hako-no-proxy.sock");
    start_fails(
        &env,
        &n,
        &[
            "lxc.seccomp.notify.proxy",
            "not supported by hako yet",
            "remove the key",
        ],
    );
    with("lxc.seccomp.notify.cookie = c00kie");
    start_fails(&env, &n, &["lxc.seccomp.notify.cookie", "not supported"]);

    // a path that is missing, relative, a directory or a FIFO (which must not hang)
    let missing = env.path("missing.seccomp");
    with(&format!("lxc.seccomp.profile = {}", missing.display()));
    start_fails(
        &env,
        &n,
        &[
            &missing.display().to_string(),
            "no such file",
            "fix the path",
        ],
    );
    with("lxc.seccomp.profile = relative.seccomp");
    start_fails(&env, &n, &["\"relative.seccomp\"", "not an absolute path"]);
    with(&format!("lxc.seccomp.profile = {}", env.dir.display()));
    start_fails(&env, &n, &["not a regular file"]);
    let fifo = env.path("fifo.seccomp");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    with(&format!("lxc.seccomp.profile = {}", fifo.display()));
    start_fails(&env, &n, &["not a regular file"]);
    // a bad allow_nesting value
    with("lxc.seccomp.allow_nesting = maybe");
    start_fails(&env, &n, &["lxc.seccomp.allow_nesting"]);

    // an unknown system call name: a warning with file:line (as LXC), and the start goes on
    let typo = env.write("typo.seccomp", "2\ndenylist\nopen_by_handle_att errno 1\n");
    with(&format!(
        "lxc.seccomp.profile = {}\nlxc.seccomp.allow_nesting = 0",
        typo.display()
    ));
    let o = env.hako(&["start", &n]);
    o.assert_ok();
    assert!(
        o.stderr.contains(&format!(
            "{}:3: unknown system call \"open_by_handle_att\" skipped (it is not denied)",
            typo.display()
        )),
        "{o:?}"
    );
    // a profile broken while the container runs: attach refuses (fail closed)
    fs::write(&typo, "2\ndenylist\nkexec_load errno\n").unwrap();
    let o = env.hako(&["attach", &n, "--", "true"]);
    o.assert_code(1);
    assert!(
        o.stderr
            .contains(&format!("{}:3: errno needs a number", typo.display())),
        "{o:?}"
    );
    assert_eq!(env.state(&n), "RUNNING");
    env.kill(&n);
    env.assert_no_leaks(&n);
}
