//! Issue 14: the rest of LXC's tools. `lxc-monitor` / `hako monitor` (state changes as they
//! happen, no daemon, no polling) and `lxc-update-config` / `hako config upgrade FILE`.

mod common;

use common::*;
use std::fs;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A listener the test started: stopped with SIGTERM (by its pid) when dropped.
struct Listening {
    child: Child,
    pid: u32,
}

impl Listening {
    /// Start `program args` with HAKO_SYSCONFDIR of the test, and wait until its socket is
    /// in an events directory (so no event is missed).
    fn start(env: &TestEnv, program: PathBuf, args: &[&str]) -> Listening {
        let child = Command::new(program)
            .env("HAKO_SYSCONFDIR", &env.etc)
            .env_remove("HAKO_PATH")
            .env_remove("HAKO_RUNDIR")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        let mut l = Listening { child, pid };
        let listening = wait_for(Duration::from_secs(5), || l.socket().is_some());
        if !listening {
            let _ = l.child.kill();
            let mut err = String::new();
            let _ = l.child.stderr.take().unwrap().read_to_string(&mut err);
            panic!("the monitor never listened: {err}");
        }
        l
    }

    fn socket(&self) -> Option<PathBuf> {
        let prefix = format!("{}-", self.pid);
        for d in fs::read_dir("/run/hako/events").ok()?.flatten() {
            for s in fs::read_dir(d.path()).ok()?.flatten() {
                if s.file_name().to_string_lossy().starts_with(&prefix) {
                    return Some(s.path());
                }
            }
        }
        None
    }

    /// SIGTERM, then its output; it must have exited 0 and removed its socket.
    fn finish(mut self) -> String {
        let sock = self.socket();
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.pid as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
        let mut out = String::new();
        self.child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        let st = self.child.wait().unwrap();
        assert!(st.success(), "the monitor ended with {st}");
        if let Some(s) = sock {
            assert!(!s.exists(), "{} outlived its listener", s.display());
        }
        out
    }
}

impl Drop for Listening {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// lxc-monitor sees a start, a freeze and a stop in LXC's order and words; another
/// container's events do not match its -n; hako monitor --format json gives one object a
/// line; neither costs CPU time while nothing happens.
#[test]
fn monitor_sees_state_changes_in_order() {
    let Some(env) = TestEnv::new("tmon") else {
        return;
    };
    let n = env.busybox_privileged();
    let other = env.busybox_privileged();
    let p = env.lxcpath.display().to_string();
    let lxc = Listening::start(
        &env,
        env.links_dir().join("lxc-monitor"),
        &["-P", &p, "-n", &n],
    );
    let json = Listening::start(
        &env,
        PathBuf::from(HAKO),
        &["-P", &p, "monitor", &n, "--format", "json"],
    );
    env.start(&n);
    env.hako(&["freeze", &n]).assert_ok();
    env.hako(&["unfreeze", &n]).assert_ok();
    env.kill(&n);
    env.start(&other);
    env.kill(&other);
    // idle: no CPU time spent while waiting
    let ticks = cpu_ticks(lxc.pid as i32).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        cpu_ticks(lxc.pid as i32).unwrap(),
        ticks,
        "lxc-monitor spins"
    );
    let out = lxc.finish();
    let want = [
        "STARTING", "RUNNING", "FREEZING", "FROZEN", "THAWED", "RUNNING",
    ];
    let lines: Vec<&str> = out.lines().collect();
    for (i, s) in want.iter().enumerate() {
        assert_eq!(
            lines.get(i).copied(),
            Some(format!("'{n}' changed state to [{s}]").as_str()),
            "{out}"
        );
    }
    // a killed init: its status (128 + SIGKILL), then STOPPING (if it was not already
    // set by the stop) and STOPPED last
    assert!(
        lines.contains(&format!("'{n}' exited with status [137]").as_str()),
        "{out}"
    );
    assert_eq!(
        lines.last().copied(),
        Some(format!("'{n}' changed state to [STOPPED]").as_str()),
        "{out}"
    );
    let stopping = lines
        .iter()
        .position(|l| l.ends_with("[STOPPING]"))
        .expect("STOPPING");
    assert!(stopping > 5, "{out}");
    assert!(!out.contains(&other), "another container's events: {out}");
    let out = json.finish();
    let first: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(first["name"], n.as_str());
    assert_eq!(first["state"], "STARTING");
    assert!(
        out.lines()
            .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()),
        "{out}"
    );
    env.assert_no_leaks(&n);
    env.assert_no_leaks(&other);
}

/// `lxc-monitor -Q` (LXC: stop lxc-monitord) has nothing to stop and exits 0; a bad regex
/// is a clear error.
#[test]
fn monitor_quit_and_bad_regex() {
    let Some(env) = TestEnv::new("tmonq") else {
        return;
    };
    let p = env.lxcpath.display().to_string();
    env.lxc("lxc-monitor", &["-P", &p, "-Q"]).assert_ok();
    env.lxc("lxc-monitor", &["-P", &p, "-n", "web("])
        .assert_fails_with(1, "invalid regular expression");
    env.hako(&["monitor", "a/b"]).assert_code(2);
}

const LEGACY: &str = "# an LXC 2.0 config\nlxc.utsname = web\nlxc.rootfs = /var/lib/lxc/web/rootfs\nlxc.network.type = veth\nlxc.network.link = lxcbr0\nlxc.network.hwaddr = 00:16:3e:aa:bb:cc\nlxc.tty = 4\nlxc.aa_profile = unconfined\nlxc.rootfs.backend = dir\n";

/// lxc-update-config -c FILE: legacy keys renamed in place (comments and order kept),
/// dropped ones removed, the old file kept as FILE.backup; run again, nothing changes and
/// it says so; `hako config upgrade FILE` does the same; bad input is clear.
#[test]
fn update_config_rewrites_legacy_keys_with_a_backup() {
    let Some(env) = TestEnv::new("tupd") else {
        return;
    };
    let f = env.write("web.conf", LEGACY);
    let fs_ = f.display().to_string();
    let o = env.lxc("lxc-update-config", &["-c", &fs_]);
    o.assert_ok();
    o.assert_stdout_contains("legacy line(s) rewritten");
    assert_eq!(
        fs::read_to_string(&f).unwrap(),
        "# an LXC 2.0 config\nlxc.uts.name = web\nlxc.rootfs.path = /var/lib/lxc/web/rootfs\nlxc.net.0.type = veth\nlxc.net.0.link = lxcbr0\nlxc.net.0.hwaddr = 00:16:3e:aa:bb:cc\nlxc.tty.max = 4\nlxc.apparmor.profile = unconfined\n"
    );
    assert_eq!(fs::read_to_string(format!("{fs_}.backup")).unwrap(), LEGACY);
    let before = fs::read_to_string(&f).unwrap();
    let o = env.lxc("lxc-update-config", &["--config", &fs_]);
    o.assert_ok();
    o.assert_stdout_contains("no legacy keys, nothing to change");
    assert_eq!(fs::read_to_string(&f).unwrap(), before);
    let g = env.write("other.conf", LEGACY);
    env.hako(&["config", "upgrade", g.to_str().unwrap()])
        .assert_ok();
    assert_eq!(fs::read_to_string(&g).unwrap(), before);
    // no arguments: LXC's usage, exit 0; a missing file: exit 1 naming it
    let o = env.lxc("lxc-update-config", &[]);
    o.assert_ok();
    o.assert_stdout_contains("config: the container configuration to update");
    let missing = env.path("nope.conf").display().to_string();
    env.lxc("lxc-update-config", &["-c", &missing])
        .assert_fails_mentioning(&missing);
    assert!(!env.path("nope.conf.backup").exists());
}

/// lxc-top -b / hako top: the running containers' counters (a stopped one is not listed),
/// as LXC's batch CSV and as JSON; sorting; bad input.
#[test]
fn top_prints_the_counters_of_running_containers() {
    let Some(env) = TestEnv::new("ttop") else {
        return;
    };
    let a = env.busybox_privileged();
    let b = env.busybox();
    let stopped = env.busybox();
    env.start(&a);
    env.start(&b);
    env.sh_ok(
        &a,
        "dd if=/dev/zero of=/dev/null bs=1M count=200 2>/dev/null; echo done",
    );
    let o = env.hako(&["top", "-b", "-n", "1", "-s", "c", "-r"]);
    o.assert_ok();
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(
        lines[0],
        "time_ms,container,cpu_nanos,cpu_sys_userhz,cpu_user_userhz,blkio_bytes,blkio_iops,mem_used_bytes,memsw_used_bytes,kernel_mem_used_bytes"
    );
    assert_eq!(lines.len(), 3, "{}", o.stdout);
    // -s c -r: the busy one first
    let first: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(first[1], a, "{}", o.stdout);
    assert!(
        first[2].parse::<u64>().unwrap() > 0,
        "no CPU time: {}",
        o.stdout
    );
    assert!(
        first[7].parse::<u64>().unwrap() > 0,
        "no memory: {}",
        o.stdout
    );
    assert!(!o.stdout.contains(&stopped));
    let o = env.hako(&["top", "--format", "json"]);
    o.assert_ok();
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    let mut want = vec![a.as_str(), b.as_str()];
    want.sort();
    assert_eq!(names, want);
    assert!(v[0]["memory_bytes"].as_u64().unwrap() > 0);
    // LXC's face, batch: header and rows, until interrupted (here: a timeout)
    let p = env.lxcpath.display().to_string();
    let o = Run::new("timeout")
        .env("HAKO_SYSCONFDIR", &env.etc)
        .args(["0.8"])
        .args([env.links_dir().join("lxc-top")])
        .args(["-P", &p, "-b", "-d", "0.1"])
        .run();
    assert_eq!(o.code(), 124, "lxc-top -b ended by itself: {o:?}");
    let rows = o
        .stdout
        .lines()
        .filter(|l| l.contains(&format!(",{a},")))
        .count();
    assert!(
        rows >= 3,
        "lxc-top -b refreshed {rows} times in 0.8 s: {}",
        o.stdout
    );
    env.lxc("lxc-top", &["-P", &p, "-s", "x"])
        .assert_fails_with(1, "invalid sort key \"x\"");
    env.hako(&["top", "-d", "0"]).assert_code(2);
    env.kill(&a);
    env.kill(&b);
    env.assert_no_leaks(&a);
    env.assert_no_leaks(&b);
}

/// lxc-unshare: a command in new namespaces (PID 1 there, its own host name, fresh /proc),
/// an interface moved in, its exit status passed on, -d; bad input refused before anything
/// is made.
#[test]
fn unshare_runs_a_command_in_new_namespaces() {
    let Some(env) = TestEnv::new("tunsh") else {
        return;
    };
    let u = |args: &[&str]| env.lxc("lxc-unshare", args);
    let o = u(&[
        "-s",
        "PID|MOUNT|UTSNAME|IPC|NETWORK",
        "-H",
        "box1",
        "-M",
        "--",
        "sh",
        "-c",
        "echo $$; hostname; ls /proc | grep -c '^[0-9]'; ip -br link | cut -d' ' -f1",
    ]);
    o.assert_ok();
    assert_eq!(
        o.stdout.lines().collect::<Vec<_>>(),
        ["1", "box1", "3", "lo"],
        "{o:?}"
    );
    assert_ne!(
        fs::read_to_string("/proc/sys/kernel/hostname")
            .unwrap()
            .trim(),
        "box1"
    );
    u(&["-s", "PID", "--", "sh", "-c", "exit 7"]).assert_code(7);
    // an interface of the host moved in: one end of a veth pair of the test's (the pair
    // goes with the namespace)
    let ifname = format!("hkus{}", std::process::id() % 100000);
    let peer = format!("{ifname}p");
    Run::new("ip")
        .args([
            "link", "add", &ifname, "type", "veth", "peer", "name", &peer,
        ])
        .run()
        .assert_ok();
    let o = u(&["-s", "NETWORK", "-i", &ifname, "--", "ip", "-br", "link"]);
    let gone = !Run::new("ip")
        .args(["link", "show", &ifname])
        .run()
        .status
        .success();
    let _ = Run::new("ip").args(["link", "del", &peer]).run();
    let _ = Run::new("ip").args(["link", "del", &ifname]).run();
    o.assert_ok();
    assert!(o.stdout.contains(&ifname), "{o:?}");
    assert!(gone, "{ifname} was still on the host while moved");
    // -d: the pid, at once
    let o = u(&["-s", "PID", "-d", "--", "sleep", "5"]);
    o.assert_ok();
    let pid: i32 = o.stdout.trim().parse().unwrap();
    assert!(pid_alive(pid));
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    );
    // bad input
    u(&["-s", "PID|BOGUS", "--", "true"]).assert_fails_with(1, "unknown namespace \"BOGUS\"");
    u(&["-s", "PID", "-H", "x", "--", "true"]).assert_fails_with(1, "add UTSNAME");
    u(&["-s", "NETWORK", "-i", "nonexist0", "--", "true"])
        .assert_fails_with(1, "no network interface \"nonexist0\"");
    u(&["-s", "PID", "--", "/nonexistent/cmd"])
        .assert_fails_with(1, "cannot run \"/nonexistent/cmd\"");
    u(&["--", "true"]).assert_fails_mentioning("pass -s");
    env.hako(&["unshare", "-s", "USER", "-u", "5", "--", "id"])
        .assert_code(2);
}
