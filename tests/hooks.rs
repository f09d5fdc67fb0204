//! Issue 10, point 9: LXC's hooks (`lxc.hook.*`) and `lxc.sysctl.*`.
//!
//! Hook scripts log their arguments, their `LXC_*` environment and what they see (mounts,
//! namespaces, /dev) to a file: host-side and mount-time hooks to a log on the host, the
//! start hook (a program of the container) to a file in the container's root. The
//! sysctl tests only read the host's parameters.

mod common;

use common::*;
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A host-side hook: appends "== ITS-NAME ARGS", its LXC_* variables and what it sees as
/// KEY=VALUE lines, then "--", to `__LOG__`; prints a line of its own on stdout.
const HOST_HOOK: &str = r#"#!/bin/sh
{
echo "== $(basename "$0") $*"
env | grep '^LXC_' | sort
echo "mntns=$(readlink /proc/self/ns/mnt)"
echo "secret=$HAKO_TEST_SECRET"
r="$LXC_ROOTFS_MOUNT"
echo "rootfs_mounted=$(grep -c " $r " /proc/self/mountinfo)"
echo "proc_mounted=$(grep -c " $r/proc " /proc/self/mountinfo)"
if [ -c "$r/dev/null" ]; then echo devnull=yes; else echo devnull=no; fi
if [ -f "$r/hook-start.log" ]; then echo start_ran=yes; else echo start_ran=no; fi
if [ -n "$LXC_PID" ] && [ -d "/proc/$LXC_PID" ]; then echo init_alive=yes; else echo init_alive=no; fi
for a in "$@"; do
  case "$a" in *:/proc/*) echo "nsarg_${a%%:*}=$(readlink "${a#*:}")";; esac
done
for v in MNT PID UTS IPC NET CGROUP USER; do
  eval p=\$LXC_${v}_NS
  if [ -n "$p" ]; then echo "nsenv_$v=$(readlink "$p")"; fi
done
echo "--"
} >> "__LOG__" 2>&1
echo "hello from $(basename "$0")"
"#;

/// The start hook, a program inside the container: logs to /hook-start.log there.
const START_HOOK: &str = r#"#!/bin/sh
{
echo "== start $*"
env | grep '^LXC_' | sort
echo "pid=$$"
echo "pidns=$(readlink /proc/self/ns/pid)"
echo "mntns=$(readlink /proc/self/ns/mnt)"
echo "secret=$HAKO_TEST_SECRET"
echo "container=$container"
for f in /proc/1/fd/*; do echo "pid1_fd_$(basename "$f")=$(readlink "$f")"; done
echo "--"
} >> /hook-start.log 2>&1
"#;

/// One logged hook run: the words after "==" and the KEY=VALUE lines.
#[derive(Debug)]
struct Block {
    head: Vec<String>,
    vars: BTreeMap<String, String>,
}

impl Block {
    fn var(&self, k: &str) -> &str {
        self.vars.get(k).map(String::as_str).unwrap_or("")
    }
}

fn blocks(text: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut cur: Option<Block> = None;
    for line in text.lines() {
        if let Some(h) = line.strip_prefix("== ") {
            if let Some(b) = cur.take() {
                out.push(b);
            }
            cur = Some(Block {
                head: h.split_whitespace().map(String::from).collect(),
                vars: BTreeMap::new(),
            });
        } else if line == "--" {
            if let Some(b) = cur.take() {
                out.push(b);
            }
        } else if let (Some(b), Some((k, v))) = (cur.as_mut(), line.split_once('=')) {
            b.vars.insert(k.to_string(), v.to_string());
        }
    }
    out.extend(cur);
    out
}

fn script(path: &Path, text: &str) {
    if let Some(p) = path.parent() {
        fs::create_dir_all(p).unwrap();
    }
    fs::write(path, text).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

/// Host-side hook scripts named after their types, all logging to `log`.
fn host_hooks(env: &TestEnv, log: &Path, types: &[&str]) -> BTreeMap<String, PathBuf> {
    let mut m = BTreeMap::new();
    for t in types {
        let p = env.path(&format!("hooks/{t}"));
        script(&p, &HOST_HOOK.replace("__LOG__", log.to_str().unwrap()));
        m.insert(t.to_string(), p);
    }
    m
}

fn ns_of(pid: i32, ns: &str) -> String {
    fs::read_link(format!("/proc/{pid}/ns/{ns}"))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

fn host_ns(ns: &str) -> String {
    fs::read_link(format!("/proc/self/ns/{ns}"))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

const HOST_TYPES: [&str; 7] = [
    "pre-start",
    "pre-mount",
    "mount",
    "autodev",
    "start-host",
    "stop",
    "post-stop",
];

/// Every hook type once per start and stop, in LXC's order, with LXC's arguments (version
/// 0) or environment (version 1), each where LXC runs it.
fn every_hook_in_order(short: &str, version: u8) {
    let Some(env) = TestEnv::new(short) else {
        return;
    };
    // the container hooks append to a host file: a privileged container (in a user
    // namespace they run as the container's root, which the host file does not know)
    let n = env.busybox_privileged();
    let log = env.path("hooks.log");
    let hooks = host_hooks(&env, &log, &HOST_TYPES);
    let rootfs = env.lxcpath.join(&n).join("rootfs");
    script(&rootfs.join("hook-start.sh"), START_HOOK);
    let mut cfg = format!("lxc.hook.version = {version}\n");
    for t in HOST_TYPES {
        cfg += &format!("lxc.hook.{t} = {}\n", hooks[t].display());
    }
    cfg += "lxc.hook.start = /hook-start.sh\n";
    env.append_config(&n, &cfg);

    let o = env
        .run(&["start", &n])
        .env("HAKO_TEST_SECRET", "s3cr3t")
        .run();
    o.assert_ok();
    // the hooks' output reached the stderr of `hako start`
    for t in ["pre-start", "mount", "start-host"] {
        o.assert_stderr_contains(&format!("container \"{n}\": lxc.hook.{t}: hello from {t}"));
    }
    let pid = env.init_pid(&n);
    let (c_mnt, c_pid) = (ns_of(pid, "mnt"), ns_of(pid, "pid"));
    let c_ns: Vec<(&str, String)> = ["mnt", "pid", "uts", "ipc", "net"]
        .iter()
        .map(|ns| (*ns, ns_of(pid, ns)))
        .collect();
    env.hako(&["stop", &n]).assert_ok();
    assert_eq!(env.state(&n), "STOPPED");
    env.assert_no_leaks(&n);

    let text = fs::read_to_string(&log).unwrap();
    let b = blocks(&text);
    let order: Vec<&str> = b.iter().map(|x| x.head[0].as_str()).collect();
    assert_eq!(order, HOST_TYPES, "hooks ran in this order:\n{text}");

    let config = env.config_path(&n);
    let common = [
        ("LXC_NAME", n.clone()),
        ("LXC_CONFIG_FILE", config.display().to_string()),
        ("LXC_ROOTFS_MOUNT", rootfs.display().to_string()),
        ("LXC_ROOTFS_PATH", format!("dir:{}", rootfs.display())),
        ("LXC_CGNS_AWARE", "1".into()),
        ("LXC_LOG_LEVEL", "ERROR".into()),
        ("LXC_HOOK_VERSION", version.to_string()),
        (
            "LXC_CONSOLE_LOGPATH",
            env.lxcpath
                .join(&n)
                .join("console.log")
                .display()
                .to_string(),
        ),
    ];
    for blk in &b {
        let t = blk.head[0].as_str();
        for (k, v) in &common {
            assert_eq!(blk.var(k), v, "{k} of the {t} hook:\n{text}");
        }
        if version == 0 {
            // NAME lxc TYPE, then (stop) the namespaces
            assert_eq!(blk.head[1..4], [n.as_str(), "lxc", t], "arguments of {t}");
            assert!(!blk.vars.contains_key("LXC_HOOK_TYPE"), "{t}: {blk:?}");
        } else {
            assert_eq!(blk.head.len(), 1, "version 1 passes no arguments: {blk:?}");
            assert_eq!(blk.var("LXC_HOOK_TYPE"), t);
            assert_eq!(blk.var("LXC_HOOK_SECTION"), "lxc");
        }
        // the host's hooks run in the host's environment
        assert_eq!(blk.var("secret"), "s3cr3t", "{t}");
        let in_container = matches!(t, "pre-mount" | "mount" | "autodev");
        let want_mnt = if in_container {
            &c_mnt
        } else {
            &host_ns("mnt")
        };
        assert_eq!(
            blk.var("mntns"),
            want_mnt,
            "mount namespace of the {t} hook"
        );
        let pid_hooks = matches!(t, "start-host" | "stop" | "post-stop");
        assert_eq!(
            blk.var("LXC_PID"),
            if pid_hooks {
                pid.to_string()
            } else {
                String::new()
            },
            "LXC_PID of {t}"
        );
        let target = matches!(t, "stop" | "post-stop");
        assert_eq!(
            blk.var("LXC_TARGET"),
            if target { "stop" } else { "" },
            "{t}"
        );
    }
    let by = |t: &str| b.iter().find(|x| x.head[0] == t).unwrap();
    // pre-mount: the root filesystem is not mounted yet; mount: it is, with its proc
    assert_eq!(by("pre-mount").var("rootfs_mounted"), "0", "{text}");
    assert_ne!(by("mount").var("rootfs_mounted"), "0", "{text}");
    assert_eq!(by("mount").var("proc_mounted"), "1", "{text}");
    // /dev: populated for autodev, not yet for mount
    assert_eq!(by("mount").var("devnull"), "no", "{text}");
    assert_eq!(by("autodev").var("devnull"), "yes", "{text}");
    // start-host: after the start hook, init not exec'd yet but there; stop: it is gone
    assert_eq!(by("start-host").var("start_ran"), "yes", "{text}");
    assert_eq!(by("start-host").var("init_alive"), "yes", "{text}");
    assert_eq!(by("stop").var("init_alive"), "no", "{text}");
    assert_eq!(by("post-stop").var("init_alive"), "no", "{text}");
    // stop: the container's namespaces, as arguments (0) or variables (1)
    let stop = by("stop");
    for (ns, id) in &c_ns {
        let (k, extra) = if version == 0 {
            (format!("nsarg_{ns}"), format!("{ns}:/proc/"))
        } else {
            (format!("nsenv_{}", ns.to_uppercase()), String::new())
        };
        assert_eq!(stop.var(&k), id, "{k} of the stop hook:\n{text}");
        if version == 0 {
            assert!(
                stop.head.iter().any(|a| a.starts_with(&extra)),
                "{extra} argument: {stop:?}"
            );
        } else {
            assert!(
                stop.var(&format!("LXC_{}_NS", ns.to_uppercase()))
                    .starts_with("/proc/"),
                "{stop:?}"
            );
        }
    }

    // the start hook: inside the container, in its pid namespace, init's environment
    let st = fs::read_to_string(rootfs.join("hook-start.log")).unwrap();
    let sb = blocks(&st);
    assert_eq!(sb.len(), 1, "the start hook ran once: {st}");
    let s = &sb[0];
    assert_eq!(s.var("pidns"), c_pid, "{st}");
    assert_eq!(s.var("mntns"), c_mnt, "{st}");
    assert_eq!(s.var("container"), "lxc", "{st}");
    assert_eq!(
        s.var("secret"),
        "",
        "the host's environment reached the container: {st}"
    );
    assert_eq!(s.var("LXC_NAME"), n);
    if version == 0 {
        assert_eq!(s.head[1..], [n.as_str(), "lxc", "start"]);
    } else {
        assert_eq!(s.var("LXC_HOOK_TYPE"), "start");
    }
    let pid_in = s.var("pid").parse::<i32>().unwrap();
    assert!(pid_in > 1 && pid_in < 100, "pid {pid_in} in the container");
    // while it runs, the container's first process (still hako) holds nothing of the
    // host's a hook could take: its stdio, the sync channel with the monitor, and the
    // pipes and pidfd of the hook run itself
    let fds: Vec<(&String, &String)> = s
        .vars
        .iter()
        .filter(|(k, _)| k.starts_with("pid1_fd_"))
        .collect();
    assert!(
        !fds.is_empty(),
        "the start hook could not list /proc/1/fd: {st}"
    );
    let others: Vec<_> = fds
        .iter()
        .filter(|(k, v)| {
            !["pid1_fd_0", "pid1_fd_1", "pid1_fd_2"].contains(&k.as_str())
                && !v.starts_with("pipe:")
                && *v != "anon_inode:[pidfd]"
        })
        .collect();
    assert_eq!(
        others.len(),
        1,
        "host fds open in the container's first process: {others:?}"
    );
    assert!(others[0].1.starts_with("socket:"), "{others:?}");

    // stop -k: stop and post-stop once more, LXC_TARGET=stop
    fs::write(&log, "").unwrap();
    env.start(&n);
    env.kill(&n);
    let b = blocks(&fs::read_to_string(&log).unwrap());
    let order: Vec<&str> = b.iter().map(|x| x.head[0].as_str()).collect();
    assert_eq!(order, HOST_TYPES);
    assert_eq!(b[5].var("LXC_TARGET"), "stop");
    assert_eq!(b[6].var("LXC_TARGET"), "stop");
    env.assert_no_leaks(&n);
}

#[test]
fn every_hook_runs_once_in_order_version_0() {
    every_hook_in_order("hkv0", 0);
}

#[test]
fn every_hook_runs_once_in_order_version_1() {
    every_hook_in_order("hkv1", 1);
}

#[test]
fn a_reboot_runs_stop_hooks_with_target_reboot() {
    let Some(env) = TestEnv::new("hkrb") else {
        return;
    };
    let n = env.busybox();
    let log = env.path("hooks.log");
    let hooks = host_hooks(&env, &log, &["pre-start", "stop", "post-stop"]);
    for t in ["pre-start", "stop", "post-stop"] {
        env.append_config(&n, &format!("lxc.hook.{t} = {}", hooks[t].display()));
    }
    env.start(&n);
    let old = env.init_pid(&n);
    // a monitor handed over to the small program keeps the hooks
    std::thread::sleep(Duration::from_millis(300));
    env.hako(&["stop", &n, "-r"]).assert_ok();
    let ok = wait_for(Duration::from_secs(20), || {
        env.hako(&["info", &n, "-p", "-H"])
            .out()
            .parse::<i32>()
            .is_ok_and(|p| p != old)
    });
    assert!(ok, "no reboot");
    env.kill(&n);
    let b = blocks(&fs::read_to_string(&log).unwrap());
    let seen: Vec<(String, String)> = b
        .iter()
        .map(|x| (x.head[0].clone(), x.var("LXC_TARGET").to_string()))
        .collect();
    let want: Vec<(String, String)> = [
        ("pre-start", ""),
        ("stop", "reboot"),
        ("post-stop", "reboot"),
        ("pre-start", ""),
        ("stop", "stop"),
        ("post-stop", "stop"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(seen, want);
    env.assert_no_leaks(&n);
}

/// A hook that fails with a message and status 3.
fn failing(env: &TestEnv, name: &str) -> PathBuf {
    let p = env.path(&format!("hooks/{name}"));
    script(&p, "#!/bin/sh\necho \"volume not found\" >&2\nexit 3\n");
    p
}

#[test]
fn a_failing_hook_aborts_the_start_and_leaves_nothing() {
    let Some(env) = TestEnv::new("hkfail") else {
        return;
    };
    let n = env.busybox();
    let log = env.path("hooks.log");
    let ok_hooks = host_hooks(&env, &log, &["post-stop"]);
    let base = env.read_config(&n);
    // a veth pair: its host end must be gone after each failed start
    let pair = env.token("hkf");
    for t in [
        "pre-start",
        "pre-mount",
        "mount",
        "autodev",
        "start-host",
        "start",
    ] {
        let bad = failing(&env, &format!("fail-{t}"));
        let path = if t == "start" {
            // the container's program
            let inside = env.lxcpath.join(&n).join("rootfs/fail-start");
            fs::copy(&bad, &inside).unwrap();
            PathBuf::from("/fail-start")
        } else {
            bad
        };
        fs::write(
            env.config_path(&n),
            format!(
                "{base}\nlxc.net.0.type = veth\nlxc.net.0.veth.pair = {pair}\nlxc.hook.{t} = {}\nlxc.hook.post-stop = {}\n",
                path.display(),
                ok_hooks["post-stop"].display()
            ),
        )
        .unwrap();
        fs::write(&log, "").unwrap();
        let o = env.hako(&["start", &n]);
        o.assert_fails_with(1, &format!("lxc.hook.{t} = {}", path.display()));
        o.assert_stderr_contains("exit status 3");
        o.assert_stderr_contains("volume not found");
        o.assert_stderr_contains(&format!("container \"{n}\""));
        assert_eq!(env.state(&n), "STOPPED", "after a failing {t} hook");
        env.assert_no_leaks(&n);
        assert!(
            !Path::new("/sys/class/net").join(&pair).exists(),
            "the veth {pair} is left after a failing {t} hook"
        );
        // the post-stop hook undid what pre-start may have done
        let b = blocks(&fs::read_to_string(&log).unwrap());
        assert_eq!(b.len(), 1, "post-stop after a failing {t}: {b:?}");
        assert_eq!(b[0].head[0], "post-stop");
        assert_eq!(b[0].var("LXC_TARGET"), "stop");
    }
    // without the failing hook it starts
    fs::write(env.config_path(&n), &base).unwrap();
    env.start(&n);
    env.kill(&n);
    env.assert_no_leaks(&n);
}

#[test]
fn a_missing_hook_program_fails_the_start_before_anything_runs() {
    let Some(env) = TestEnv::new("hkmiss") else {
        return;
    };
    let n = env.busybox();
    let log = env.path("hooks.log");
    let hooks = host_hooks(&env, &log, &["pre-start"]);
    env.append_config(
        &n,
        &format!(
            "lxc.hook.pre-start = {}\nlxc.hook.mount = /nonexistent/lxc.mount.hook\n",
            hooks["pre-start"].display()
        ),
    );
    let o = env.hako(&["start", &n]);
    o.assert_fails_with(1, "lxc.hook.mount = /nonexistent/lxc.mount.hook");
    o.assert_stderr_contains("does not exist");
    assert!(!log.exists(), "pre-start ran although a hook is missing");
    // not executable
    let noexec = env.path("hooks/noexec");
    fs::write(&noexec, "#!/bin/sh\n").unwrap();
    fs::set_permissions(&noexec, fs::Permissions::from_mode(0o644)).unwrap();
    env.replace_config_line(
        &n,
        "lxc.hook.mount",
        &format!("lxc.hook.mount = {}", noexec.display()),
    );
    env.hako(&["start", &n])
        .assert_fails_with(1, "not executable");
    assert_eq!(env.state(&n), "STOPPED");
    env.assert_no_leaks(&n);
}

#[test]
fn a_hook_past_its_time_limit_is_killed() {
    let Some(env) = TestEnv::new("hktime") else {
        return;
    };
    let n = env.busybox();
    let pidfile = env.path("hook.pid");
    let slow = env.path("hooks/slow");
    script(
        &slow,
        &format!(
            "#!/bin/sh\necho $$ > {}\nexec sleep 60\n",
            pidfile.display()
        ),
    );
    env.append_config(&n, &format!("lxc.hook.pre-start = {}", slow.display()));
    let t = Instant::now();
    let o = env.run(&["start", &n]).env("HAKO_HOOK_TIMEOUT", "1").run();
    o.assert_fails_with(1, "time limit of 1 s");
    o.assert_stderr_contains("lxc.hook.pre-start");
    assert!(t.elapsed() < Duration::from_secs(20), "{:?}", t.elapsed());
    let hook_pid: i32 = fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        wait_for(Duration::from_secs(3), || !pid_alive(hook_pid)),
        "the timed-out hook {hook_pid} still runs"
    );
    env.assert_no_leaks(&n);
}

#[test]
fn a_failing_stop_hook_is_reported_by_stop() {
    let Some(env) = TestEnv::new("hkstop") else {
        return;
    };
    let n = env.busybox();
    let bad = failing(&env, "bad-post-stop");
    env.append_config(&n, &format!("lxc.hook.post-stop = {}", bad.display()));
    env.start(&n);
    let o = env.hako(&["stop", &n, "-k"]);
    o.assert_ok();
    o.assert_stderr_contains("lxc.hook.post-stop");
    o.assert_stderr_contains("exit status 3");
    assert_eq!(env.state(&n), "STOPPED");
    env.assert_no_leaks(&n);
}

#[test]
fn clone_and_destroy_hooks_run_on_copy_and_destroy() {
    let Some(env) = TestEnv::new("hkcl") else {
        return;
    };
    let n = env.busybox();
    let log = env.path("hooks.log");
    let clone = env.path("hooks/clone");
    // logs, checks it sees the new root, and leaves a mark in it
    script(
        &clone,
        &format!(
            "#!/bin/sh\n{{ echo \"== clone $*\"; env | grep '^LXC_' | sort; \
             if [ -x \"$LXC_ROOTFS_MOUNT/bin/busybox\" ]; then echo sees_root=yes; fi; \
             echo \"mntns=$(readlink /proc/self/ns/mnt)\"; echo --; }} >> {log}\n\
             echo cloned > \"$LXC_ROOTFS_MOUNT/clone-mark\"\n",
            log = log.display()
        ),
    );
    let hooks = host_hooks(&env, &log, &["destroy"]);
    env.append_config(
        &n,
        &format!(
            "lxc.hook.clone = {}\nlxc.hook.destroy = {}\n",
            clone.display(),
            hooks["destroy"].display()
        ),
    );
    // a snapshot clone: an overlay mounted for the hook only
    let c = env.name();
    env.hako(&["copy", &n, &c, "-s", "--", "one", "two words"])
        .assert_ok();
    let b = blocks(&fs::read_to_string(&log).unwrap());
    assert_eq!(b.len(), 1, "{b:?}");
    let cb = &b[0];
    assert_eq!(
        cb.head,
        ["clone", &c, "lxc", "clone", "one", "two", "words"]
    );
    assert_eq!(cb.var("LXC_NAME"), c);
    assert_eq!(cb.var("LXC_SRC_NAME"), n);
    assert_eq!(
        cb.var("LXC_CONFIG_FILE"),
        env.config_path(&c).display().to_string()
    );
    assert_eq!(cb.var("sees_root"), "yes", "{cb:?}");
    assert_ne!(
        cb.var("mntns"),
        host_ns("mnt"),
        "the overlay is mounted privately"
    );
    // the mark is in the copy, not in the source
    env.start(&c);
    assert_eq!(env.sh_ok(&c, "cat /clone-mark").trim(), "cloned");
    env.kill(&c);
    assert!(!env.lxcpath.join(&n).join("rootfs/clone-mark").exists());

    // destroy: the hook runs, then the container goes
    fs::write(&log, "").unwrap();
    env.hako(&["destroy", &c]).assert_ok();
    let b = blocks(&fs::read_to_string(&log).unwrap());
    assert_eq!(b.len(), 1, "{b:?}");
    assert_eq!(b[0].head, ["destroy", &c, "lxc", "destroy"]);
    assert_eq!(b[0].var("LXC_NAME"), c);
    assert!(!env.lxcpath.join(&c).exists());

    // a failing clone hook removes the copy again
    let bad = failing(&env, "bad-clone");
    env.replace_config_line(
        &n,
        "lxc.hook.clone",
        &format!("lxc.hook.clone = {}", bad.display()),
    );
    let c2 = env.name();
    let o = env.hako(&["copy", &n, &c2]);
    o.assert_fails_with(1, "lxc.hook.clone");
    o.assert_stderr_contains("exit status 3");
    assert!(!env.lxcpath.join(&c2).exists(), "the copy stayed");
    // a failing destroy hook keeps the container
    let bad = failing(&env, "bad-destroy");
    env.replace_config_line(
        &n,
        "lxc.hook.destroy",
        &format!("lxc.hook.destroy = {}", bad.display()),
    );
    env.replace_config_line(&n, "lxc.hook.clone", "# no clone hook");
    let o = env.hako(&["destroy", &n]);
    o.assert_fails_with(1, "lxc.hook.destroy");
    o.assert_stderr_contains("was not destroyed");
    assert!(env.config_path(&n).exists());
    env.replace_config_line(&n, "lxc.hook.destroy", "# no destroy hook");
    env.hako(&["destroy", &n]).assert_ok();
    env.assert_no_leaks(&n);
}

#[test]
fn lxc_copy_passes_hook_arguments() {
    let Some(env) = TestEnv::new("hklxcp") else {
        return;
    };
    let n = env.busybox();
    let log = env.path("hooks.log");
    let hooks = host_hooks(&env, &log, &["clone"]);
    env.append_config(
        &n,
        &format!(
            "lxc.hook.version = 1\nlxc.hook.clone = {}",
            hooks["clone"].display()
        ),
    );
    let c = env.name();
    let lp = env.lxcpath.to_str().unwrap().to_string();
    env.lxc("lxc-copy", &["-P", &lp, "-n", &n, "-N", &c, "--", "x1"])
        .assert_ok();
    let b = blocks(&fs::read_to_string(&log).unwrap());
    assert_eq!(b.len(), 1, "{b:?}");
    // version 1: only the extra arguments
    assert_eq!(b[0].head, ["clone", "x1"]);
    assert_eq!(b[0].var("LXC_HOOK_TYPE"), "clone");
    assert_eq!(b[0].var("LXC_SRC_NAME"), n);
    // a dir copy: the hook sees the copy's own directory
    assert_eq!(
        b[0].var("LXC_ROOTFS_MOUNT"),
        env.lxcpath.join(&c).join("rootfs").display().to_string()
    );
}

/// Debian's LXC config (common.conf: lxc.hook.clone = /usr/share/lxc/hooks/clonehostname,
/// devices, ...) as an include: the container starts, and a copy runs the clone hook, which
/// puts the copy's name into its /etc/hosts.
#[test]
fn debian_common_conf_still_starts_and_clones() {
    let Some(env) = TestEnv::new("hkdeb") else {
        return;
    };
    let common = Path::new("/usr/share/lxc/config/common.conf");
    assert!(
        common.exists(),
        "{} is missing: install Debian's lxc package (make deps does)",
        common.display()
    );
    let n = env.busybox();
    // all of it, its seccomp profile (stacked on hako's) and its clone hook included
    env.append_config(&n, &format!("lxc.include = {}\n", common.display()));
    env.start(&n);
    assert_eq!(env.state(&n), "RUNNING");
    env.kill(&n);
    // clonehostname replaces the source's name with the copy's in /etc/hosts: with -K
    // (keep the name) hako leaves /etc/hosts alone, so what changes is the hook's doing
    let hosts = env.lxcpath.join(&n).join("rootfs/etc/hosts");
    fs::write(&hosts, format!("127.0.1.1 {n}\n")).unwrap();
    let c = env.name();
    env.hako(&["copy", &n, &c, "-K"]).assert_ok();
    let copied = fs::read_to_string(env.lxcpath.join(&c).join("rootfs/etc/hosts")).unwrap();
    assert_eq!(
        copied,
        format!("127.0.1.1 {c}\n"),
        "clonehostname did not run"
    );
    env.start(&c);
    env.kill(&c);
    env.assert_no_leaks(&c);
}

// ---------------------------------------------------------------------------------------
// lxc.sysctl

fn host_sysctl(key: &str) -> String {
    fs::read_to_string(format!("/proc/sys/{}", key.replace('.', "/")))
        .unwrap()
        .trim()
        .to_string()
}

/// A parameter as the container's namespaces see it (read from the host with nsenter).
fn container_sysctl(pid: i32, ns: &str, key: &str) -> String {
    let o = Run::new("nsenter")
        .args([
            format!("--{ns}=/proc/{pid}/ns/{ns}"),
            "cat".to_string(),
            format!("/proc/sys/{}", key.replace('.', "/")),
        ])
        .run();
    o.assert_ok();
    o.out().to_string()
}

#[test]
fn sysctls_are_set_in_the_container_only() {
    let Some(env) = TestEnv::new("hksys") else {
        return;
    };
    let n = env.busybox();
    let fwd = host_sysctl("net.ipv4.ip_forward");
    let want_fwd = if fwd == "1" { "0" } else { "1" };
    let msgmax = host_sysctl("kernel.msgmax");
    let want_msgmax = if msgmax == "12345" { "12346" } else { "12345" };
    let pair = env.token("hks");
    env.append_config(
        &n,
        &format!(
            "lxc.net.0.type = veth\nlxc.net.0.veth.pair = {pair}\nlxc.net.0.name = eth7\n\
             lxc.sysctl.net.ipv4.ip_forward = {want_fwd}\n\
             lxc.sysctl.kernel.msgmax = 1\n\
             lxc.sysctl.kernel.msgmax = {want_msgmax}\n\
             lxc.sysctl.net.ipv4.conf.eth7.forwarding = 1\n\
             lxc.sysctl.kernel.domainname = hako.test\n"
        ),
    );
    env.start(&n);
    // inside, as the container reads them
    assert_eq!(
        env.sh_ok(&n, "cat /proc/sys/net/ipv4/ip_forward").trim(),
        want_fwd
    );
    assert_eq!(
        env.sh_ok(&n, "cat /proc/sys/kernel/msgmax").trim(),
        want_msgmax
    );
    // per interface: set once the monitor had moved eth7 in
    assert_eq!(
        env.sh_ok(&n, "cat /proc/sys/net/ipv4/conf/eth7/forwarding")
            .trim(),
        "1"
    );
    assert_eq!(
        env.sh_ok(&n, "cat /proc/sys/kernel/domainname").trim(),
        "hako.test"
    );
    let pid = env.init_pid(&n);
    assert_eq!(container_sysctl(pid, "ipc", "kernel.msgmax"), want_msgmax);
    // the host's are unchanged
    assert_eq!(host_sysctl("net.ipv4.ip_forward"), fwd);
    assert_eq!(host_sysctl("kernel.msgmax"), msgmax);
    assert_ne!(host_sysctl("kernel.domainname"), "hako.test");
    env.kill(&n);
    env.assert_no_leaks(&n);

    // without a proc of its own: set through the host's proc in its namespaces
    env.append_config(
        &n,
        "lxc.mount.auto =\nlxc.autodev = 0\nlxc.init.cmd = /bin/sleep 1000",
    );
    env.start(&n);
    let pid = env.init_pid(&n);
    assert_eq!(container_sysctl(pid, "ipc", "kernel.msgmax"), want_msgmax);
    assert_eq!(
        container_sysctl(pid, "net", "net.ipv4.ip_forward"),
        want_fwd
    );
    assert_eq!(host_sysctl("kernel.msgmax"), msgmax);
    env.kill(&n);
    env.assert_no_leaks(&n);
}

#[test]
fn host_wide_and_bad_sysctls_fail_the_start() {
    let Some(env) = TestEnv::new("hksysb") else {
        return;
    };
    let n = env.busybox();
    let base = env.read_config(&n);
    let core = host_sysctl("kernel.core_pattern");
    let set = |extra: &str| {
        fs::write(env.config_path(&n), format!("{base}\n{extra}\n")).unwrap();
    };
    // not namespaced: refused before anything runs, the host's value untouched
    set("lxc.sysctl.kernel.core_pattern = |/tmp/hako-should-never-run %p");
    let o = env.hako(&["start", &n]);
    o.assert_fails_with(1, "lxc.sysctl.kernel.core_pattern");
    o.assert_stderr_contains("whole host");
    assert_eq!(host_sysctl("kernel.core_pattern"), core);
    set("lxc.sysctl.vm.swappiness = 1");
    env.hako(&["start", &n])
        .assert_fails_with(1, "lxc.sysctl.vm.swappiness");
    // net.* with the host's network
    set("lxc.net.0.type = none\nlxc.sysctl.net.ipv4.ip_forward = 1");
    env.hako(&["start", &n])
        .assert_fails_with(1, "shares the host's network namespace");
    // a bad value and a missing parameter name the key
    set("lxc.sysctl.kernel.msgmax = lots");
    let o = env.hako(&["start", &n]);
    o.assert_fails_with(1, "lxc.sysctl.kernel.msgmax = lots");
    o.assert_stderr_contains("refused the value");
    set("lxc.sysctl.net.ipv4.no_such_parameter = 1");
    let o = env.hako(&["start", &n]);
    o.assert_fails_with(1, "lxc.sysctl.net.ipv4.no_such_parameter");
    o.assert_stderr_contains("no parameter");
    assert_eq!(env.state(&n), "STOPPED");
    assert_eq!(host_sysctl("kernel.core_pattern"), core);
    env.assert_no_leaks(&n);
}
