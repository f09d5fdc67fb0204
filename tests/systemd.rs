//! systemd as a container's PID 1 (issue 4, point 4), without any download: the container's
//! root is a small directory with a copy of the host's /etc and the host's /usr bound in
//! read-only, so the host's own systemd (Debian 12: systemd 252) boots inside. This is what
//! the Debian template's image gives as well; it proves the runtime side (mounts, cgroup
//! namespace and delegation, /dev, console, halt signal) on this host.

mod common;

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use common::TestEnv;

/// Create a container whose rootfs runs the host's systemd.
fn systemd_container(env: &TestEnv) -> String {
    if !Path::new("/lib/systemd/systemd").exists() {
        panic!(
            "this test needs the host's systemd (/lib/systemd/systemd): apt-get install systemd"
        );
    }
    let name = env.name();
    let cfg = env.write(
        &format!("{name}.conf"),
        "lxc.net.0.type = empty\nlxc.mount.auto = proc:mixed sys:mixed cgroup:mixed\n\
         lxc.mount.entry = /usr usr none ro,bind 0 0\nlxc.autodev = 1\nlxc.tty.max = 4\nlxc.init.cmd = /lib/systemd/systemd\n",
    );
    env.hako(&["create", &name, "-t", "none", "-f", cfg.to_str().unwrap()])
        .assert_ok();
    let r = env.lxcpath.join(&name).join("rootfs");
    for d in [
        "etc", "var/log", "var/lib", "run", "tmp", "root", "home", "dev", "proc", "sys", "usr",
    ] {
        fs::create_dir_all(r.join(d)).unwrap();
    }
    let st = std::process::Command::new("cp")
        .args(["-a", "/etc/.", r.join("etc").to_str().unwrap()])
        .status()
        .unwrap();
    assert!(st.success(), "copy /etc");
    for l in ["bin", "lib", "lib64", "sbin"] {
        std::os::unix::fs::symlink(format!("usr/{l}"), r.join(l)).unwrap();
    }
    fs::write(r.join("etc/machine-id"), "").unwrap();
    fs::write(r.join("etc/fstab"), "").unwrap();
    // the host's own services are not this container's business
    let wants = r.join("etc/systemd/system/multi-user.target.wants");
    if let Ok(rd) = fs::read_dir(&wants) {
        for e in rd.flatten() {
            let _ = fs::remove_file(e.path());
        }
    }
    fs::write(r.join("etc/hostname"), format!("{name}\n")).unwrap();
    name
}

fn wait_running(env: &TestEnv, name: &str) -> (String, Duration) {
    let t0 = Instant::now();
    let mut last = String::new();
    while t0.elapsed() < Duration::from_secs(30) {
        let o = env.hako(&["attach", name, "--", "/bin/systemctl", "is-system-running"]);
        last = o.stdout.trim().to_string();
        if last == "running" || last == "degraded" {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    (last, t0.elapsed())
}

#[test]
fn systemd_boots_to_running_and_stops_cleanly() {
    let Some(env) = TestEnv::new("sysd") else {
        return;
    };
    let name = systemd_container(&env);

    let t0 = Instant::now();
    env.start(&name);
    let (state, took) = wait_running(&env, &name);
    let boot = t0.elapsed();
    let failed = env.sh_ok(&name, "/bin/systemctl --failed --no-legend --plain");
    assert_eq!(
        state, "running",
        "systemd state after {took:?}; failed units:\n{failed}"
    );
    assert!(failed.trim().is_empty(), "failed units: {failed}");
    eprintln!("systemd boot to running: {boot:?}");

    // what a clean guest sees (../shared/notes/systemd-guest.md)
    let cg = env.sh_ok(&name, "cat /proc/1/cgroup");
    assert!(cg.contains("name=systemd:/init.scope"), "{cg}");
    assert!(cg.contains("0::/init.scope"), "{cg}");
    let env1 = env.sh_ok(&name, "tr '\\0' '\\n' < /proc/1/environ");
    assert!(env1.lines().any(|l| l == "container=lxc"), "{env1}");
    assert_eq!(env.sh_ok(&name, "hostname").trim(), name);
    let j = env.hako(&[
        "attach",
        &name,
        "--",
        "/bin/journalctl",
        "-b",
        "--no-pager",
        "-n",
        "3",
    ]);
    assert!(
        j.code() == 0 && !j.stdout.trim().is_empty(),
        "journald works: {}",
        j.stderr
    );
    let boot_id = env.sh_ok(&name, "cat /proc/sys/kernel/random/boot_id");
    assert_ne!(
        boot_id.trim(),
        fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .unwrap()
            .trim(),
        "own boot id"
    );
    let pid = env.init_pid(&name);

    // reboot in place
    env.hako(&["stop", &name, "-r"]).assert_ok();
    let (state, _) = wait_running(&env, &name);
    assert_eq!(state, "running");
    assert_ne!(env.init_pid(&name), pid, "a new init after the reboot");

    // a clean stop: systemd's halt signal (SIGRTMIN+3), units stopped, PID 1 exits
    let t0 = Instant::now();
    env.hako(&["stop", &name]).assert_ok();
    let stop = t0.elapsed();
    eprintln!("systemd clean stop: {stop:?}");
    assert!(
        stop < Duration::from_secs(20),
        "a clean stop took {stop:?} (the 60 s kill would mean the halt signal was wrong)"
    );
    let log = fs::read_to_string(env.lxcpath.join(&name).join("console.log")).unwrap_or_default();
    assert!(
        log.contains("Halting system") || log.contains("System Halt"),
        "systemd halted cleanly:\n{log}"
    );
    env.assert_no_leaks(&name);

    // and a kill
    env.start(&name);
    wait_running(&env, &name);
    env.hako(&["stop", &name, "-k"]).assert_ok();
    env.assert_no_leaks(&name);
}
