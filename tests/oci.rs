//! Issue 13: the OCI runtime face (`hako-oci`, runc's command line) on a busybox bundle:
//! create/start/state/kill/delete, run in the foreground and detached, exit codes, bad
//! input, and nothing left behind (process, mount, cgroup, state dir).

mod common;

use common::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// One test's OCI setting: a `hako-oci` link, a private --root, a busybox bundle.
struct Oci {
    env: TestEnv,
    bin: PathBuf,
    root: PathBuf,
    bundle: PathBuf,
}

impl Oci {
    fn new(short: &str) -> Option<Oci> {
        let env = TestEnv::new(short)?;
        let bin = env.dir.join("bin/hako-oci");
        fs::create_dir_all(bin.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(HAKO, &bin).unwrap();
        let root = env.dir.join("ociroot");
        let bundle = env.dir.join("bundle");
        let rootfs = bundle.join("rootfs");
        fs::create_dir_all(rootfs.join("bin")).unwrap();
        // runc's default config has a read-only root: the mount points must exist
        for d in ["proc", "sys", "dev", "tmp", "etc"] {
            fs::create_dir_all(rootfs.join(d)).unwrap();
        }
        let bb = ["/bin/busybox", "/usr/bin/busybox"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("busybox-static is needed (apt-get install busybox-static)");
        fs::copy(bb, rootfs.join("bin/busybox")).unwrap();
        let list = std::process::Command::new(bb)
            .arg("--list")
            .output()
            .unwrap();
        for applet in String::from_utf8_lossy(&list.stdout).split_whitespace() {
            if applet != "busybox" {
                let _ = std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet));
            }
        }
        let o = Oci {
            env,
            bin,
            root,
            bundle,
        };
        o.cmd(&["spec", "--bundle", o.bundle.to_str().unwrap()])
            .assert_ok();
        o.set_args(&["/bin/sh", "-c", "echo hello; sleep 1000"]);
        Some(o)
    }

    /// config.json with these args and terminal false.
    fn set_args(&self, args: &[&str]) {
        self.edit_config(|c| {
            c["process"]["args"] = serde_json::json!(args);
            c["process"]["terminal"] = serde_json::json!(false);
        });
    }

    fn edit_config(&self, f: impl FnOnce(&mut serde_json::Value)) {
        let p = self.bundle.join("config.json");
        let mut c: serde_json::Value = serde_json::from_str(&fs::read_to_string(&p).unwrap())
            .expect("config.json from hako-oci spec is JSON");
        f(&mut c);
        fs::write(&p, serde_json::to_string_pretty(&c).unwrap()).unwrap();
    }

    fn run(&self, args: &[&str]) -> Run {
        Run::new(&self.bin)
            .args(["--root".as_ref(), self.root.as_os_str()])
            .args(args)
            .timeout(Duration::from_secs(30))
    }

    fn cmd(&self, args: &[&str]) -> Out {
        self.run(args).run()
    }

    /// A command that leaves the container's process behind holding its stdio (`create`,
    /// `run -d`: the process inherits them, as from runc): stdout and stderr go to files,
    /// read back once it has exited.
    fn detached(&self, args: &[&str]) -> Out {
        let n = self.env.token("out");
        let (so, se) = (
            self.env.dir.join(format!("{n}.1")),
            self.env.dir.join(format!("{n}.2")),
        );
        let t = std::time::Instant::now();
        let status = std::process::Command::new(&self.bin)
            .args(["--root".as_ref(), self.root.as_os_str()])
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(fs::File::create(&so).unwrap())
            .stderr(fs::File::create(&se).unwrap())
            .status()
            .unwrap();
        let stdout = fs::read_to_string(&so).unwrap_or_default();
        Out {
            status,
            stdout_bytes: stdout.clone().into_bytes(),
            stdout,
            stderr: fs::read_to_string(&se).unwrap_or_default(),
            elapsed: t.elapsed(),
            cmd: format!("hako-oci {}", args.join(" ")),
        }
    }

    fn create(&self, id: &str) -> Out {
        let pidf = self.env.dir.join(format!("{id}.pid"));
        self.detached(&[
            "create",
            "--bundle",
            self.bundle.to_str().unwrap(),
            "--pid-file",
            pidf.to_str().unwrap(),
            id,
        ])
    }

    fn state(&self, id: &str) -> serde_json::Value {
        let o = self.cmd(&["state", id]);
        o.assert_ok();
        serde_json::from_str(&o.stdout)
            .unwrap_or_else(|e| panic!("state is not JSON ({e}): {}", o.stdout))
    }

    fn status(&self, id: &str) -> String {
        self.state(id)["status"].as_str().unwrap().to_string()
    }

    /// What container `id` left: its state dir, processes in its cgroup, its cgroups,
    /// mounts of the bundle.
    fn leaks(&self, id: &str) -> Vec<String> {
        let mut found = Vec::new();
        if self.root.join(id).exists() {
            found.push(format!("state dir {}", self.root.join(id).display()));
        }
        let is_ours = |c: &str| c.starts_with("hako-oci") && c.ends_with(&format!(".{id}"));
        if let Ok(rd) = fs::read_dir("/proc") {
            for e in rd.flatten() {
                let pid = e.file_name().to_string_lossy().into_owned();
                if !pid.bytes().all(|b| b.is_ascii_digit()) {
                    continue;
                }
                let cg = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
                if cg.lines().any(|l| l.split('/').any(is_ours)) && pid_alive(pid.parse().unwrap())
                {
                    found.push(format!("process {pid}"));
                }
            }
        }
        let mut stack = vec![(PathBuf::from("/sys/fs/cgroup"), 0)];
        while let Some((d, depth)) = stack.pop() {
            let Ok(rd) = fs::read_dir(&d) else { continue };
            for e in rd.flatten() {
                if !e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                    continue;
                }
                if is_ours(&e.file_name().to_string_lossy()) {
                    found.push(format!("cgroup {}", e.path().display()));
                }
                if depth < 5 {
                    stack.push((e.path(), depth + 1));
                }
            }
        }
        let mi = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let b = self.bundle.to_string_lossy().into_owned();
        for l in mi.lines().filter(|l| l.contains(&b)) {
            found.push(format!("mount {l}"));
        }
        found
    }

    fn assert_no_leaks(&self, id: &str) {
        // the monitor finishes its teardown right after init's exit
        let mut l = Vec::new();
        let clean = wait_for(Duration::from_secs(10), || {
            l = self.leaks(id);
            l.is_empty()
        });
        assert!(clean, "container {id} left: {l:#?}");
    }
}

#[test]
fn create_start_state_kill_delete() {
    let Some(o) = Oci::new("ocicy") else { return };
    let id = o.env.name();
    o.create(&id).assert_ok();
    let st = o.state(&id);
    assert_eq!(st["status"], "created", "{st}");
    assert_eq!(st["id"], id.as_str());
    assert_eq!(st["bundle"], o.bundle.to_str().unwrap());
    assert_eq!(st["rootfs"], o.bundle.join("rootfs").to_str().unwrap());
    let pid = st["pid"].as_i64().unwrap() as i32;
    assert!(pid > 0 && pid_alive(pid), "{st}");
    let pidfile = fs::read_to_string(o.env.dir.join(format!("{id}.pid"))).unwrap();
    assert_eq!(pidfile.trim(), pid.to_string());
    // created: init waits, it has not run the process yet
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    assert!(!String::from_utf8_lossy(&cmdline).contains("sleep"));
    // the state outlives the caller: a second command sees it, listed too
    let list = o.cmd(&["list", "--format", "json"]);
    list.assert_ok();
    let l: serde_json::Value = serde_json::from_str(&list.stdout).unwrap();
    assert_eq!(l[0]["id"], id.as_str());

    o.cmd(&["start", &id]).assert_ok();
    assert_eq!(o.status(&id), "running");
    assert!(wait_for(Duration::from_secs(5), || {
        String::from_utf8_lossy(&fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default())
            .contains("sleep")
    }));
    // runc: start of a running container, delete of a running one
    o.cmd(&["start", &id])
        .assert_fails_with(1, "cannot start an already running container");
    o.cmd(&["delete", &id])
        .assert_fails_with(1, "is not stopped: running");

    o.cmd(&["kill", &id, "KILL"]).assert_ok();
    assert!(wait_for(Duration::from_secs(5), || o.status(&id) == "stopped"));
    assert_eq!(o.state(&id)["pid"], 0);
    o.cmd(&["start", &id])
        .assert_fails_with(1, "cannot start a container that has stopped");
    o.cmd(&["kill", &id, "KILL"])
        .assert_fails_with(1, "container not running");
    o.cmd(&["delete", &id]).assert_ok();
    o.cmd(&["state", &id])
        .assert_fails_with(1, "container does not exist");
    o.assert_no_leaks(&id);
}

#[test]
fn output_reaches_the_callers_stdout_and_exit_codes_pass_through() {
    let Some(o) = Oci::new("ocirun") else { return };
    let b = o.bundle.to_str().unwrap().to_string();
    // run in the foreground: output, then the process's exit code
    o.set_args(&["/bin/sh", "-c", "echo hello; echo oops >&2; exit 3"]);
    let id = o.env.name();
    let r = o.cmd(&["run", "--bundle", &b, &id]);
    r.assert_code(3);
    assert!(r.stdout.contains("hello"), "{r:?}");
    assert!(r.stderr.contains("oops"), "{r:?}");
    o.assert_no_leaks(&id);

    o.set_args(&["/bin/true"]);
    let id = o.env.name();
    o.cmd(&["run", "--bundle", &b, &id]).assert_code(0);
    o.assert_no_leaks(&id);

    // create + start: the process's output goes to create's stdout (inherited, as runc)
    o.set_args(&["/bin/sh", "-c", "echo hello-from-start"]);
    let id = o.env.name();
    let out_file = o.env.dir.join("create.out");
    let f = fs::File::create(&out_file).unwrap();
    let mut c = std::process::Command::new(&o.bin);
    c.args(["--root".as_ref(), o.root.as_os_str()])
        .args(["create", "--bundle", &b, &id])
        .stdout(f);
    assert!(c.status().unwrap().success());
    o.cmd(&["start", &id]).assert_ok();
    assert!(wait_for(Duration::from_secs(5), || {
        fs::read_to_string(&out_file)
            .unwrap_or_default()
            .contains("hello-from-start")
    }));
    assert!(wait_for(Duration::from_secs(5), || o.status(&id) == "stopped"));
    o.cmd(&["delete", &id]).assert_ok();
    o.assert_no_leaks(&id);

    // run -d, then delete --force of the running container
    o.set_args(&["/bin/sleep", "1000"]);
    let id = o.env.name();
    o.detached(&["run", "-d", "--bundle", &b, &id]).assert_ok();
    assert_eq!(o.status(&id), "running");
    o.cmd(&["delete", "--force", &id]).assert_ok();
    o.assert_no_leaks(&id);
}

#[test]
fn the_process_gets_exactly_the_config() {
    let Some(o) = Oci::new("ocicfg") else { return };
    let b = o.bundle.to_str().unwrap().to_string();
    o.set_args(&[
        "/bin/sh",
        "-c",
        "env; grep Cap /proc/self/status; ls /dev; cat /proc/self/mountinfo; echo x > /proc/sys/vm/drop_caches || echo ro-ok; echo CG; cat /proc/self/cgroup; echo LS; ls /sys/fs/cgroup/ /sys/fs/cgroup/*/",
    ]);
    o.edit_config(|c| {
        c["process"]["env"] = serde_json::json!(["PATH=/bin", "ONLY=this"]);
        c["linux"]["resources"]["pids"] = serde_json::json!({"limit": 42});
    });
    let id = o.env.name();
    let r = o.cmd(&["run", "--bundle", &b, &id]);
    r.assert_code(0);
    let out = &r.stdout;
    // exact environment (no container=lxc)
    assert!(
        out.contains("ONLY=this") && !out.contains("container="),
        "{out}"
    );
    // runc spec's sets: AUDIT_WRITE, KILL, NET_BIND_SERVICE = bits 29, 5, 10
    let caps = (1u64 << 29) | (1 << 5) | (1 << 10);
    for f in ["CapBnd", "CapEff", "CapPrm"] {
        assert_eq!(parse_cap_line(out, f), Some(caps), "{f} in {out}");
    }
    assert_eq!(parse_cap_line(out, "CapInh"), Some(0), "{out}");
    for d in [
        "null", "zero", "full", "random", "urandom", "tty", "ptmx", "fd",
    ] {
        assert!(out.lines().any(|l| l == d), "/dev/{d} missing: {out}");
    }
    // masked: /proc/timer_list (a file) and /proc/acpi (a dir), read-only /proc/sys
    assert!(
        out.contains(" /proc/timer_list ") || !Path::new("/proc/timer_list").exists(),
        "{out}"
    );
    assert!(out.contains(" /proc/sys ro"), "{out}");
    assert!(out.contains("ro-ok"), "{out}");
    // runc's config has no cgroup namespace: the process sees its host cgroup paths, and
    // /sys/fs/cgroup shows its own cgroup only, not the host's tree
    let (cg, ls) = out.split_once("\nLS\n").unwrap();
    assert!(
        cg.split_once("\nCG\n").unwrap().1.contains("hako-oci"),
        "{out}"
    );
    assert!(
        !ls.contains("hako-oci"),
        "the host's cgroup tree is visible: {ls}"
    );
    o.assert_no_leaks(&id);

    // the pids limit is in the container's cgroup while it runs
    o.set_args(&["/bin/sleep", "1000"]);
    let id = o.env.name();
    o.detached(&["run", "-d", "--bundle", &b, &id]).assert_ok();
    let pid = o.state(&id)["pid"].as_i64().unwrap();
    let cg = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let pids_line = cg
        .lines()
        .find(|l| {
            l.split(':')
                .nth(1)
                .is_some_and(|c| c.split(',').any(|x| x == "pids"))
        })
        .or_else(|| cg.lines().find(|l| l.starts_with("0::")));
    let rel = pids_line
        .unwrap()
        .splitn(3, ':')
        .nth(2)
        .unwrap()
        .to_string();
    // init sits one level below the limited cgroup
    let parent = Path::new(&rel).parent().unwrap().to_path_buf();
    let candidates = [
        Path::new("/sys/fs/cgroup/pids").join(parent.strip_prefix("/").unwrap()),
        Path::new("/sys/fs/cgroup").join(parent.strip_prefix("/").unwrap()),
    ];
    let limit = candidates
        .iter()
        .find_map(|d| fs::read_to_string(d.join("pids.max")).ok())
        .unwrap_or_else(|| panic!("no pids.max near {candidates:?}"));
    assert_eq!(limit.trim(), "42");
    o.cmd(&["kill", &id, "KILL"]).assert_ok();
    assert!(wait_for(Duration::from_secs(5), || o.status(&id) == "stopped"));
    o.cmd(&["delete", &id]).assert_ok();
    o.assert_no_leaks(&id);
}

#[test]
fn bad_input_fails_with_runcs_code_and_leaves_nothing() {
    let Some(o) = Oci::new("ocibad") else { return };
    let b = o.bundle.to_str().unwrap().to_string();
    let cfg = o.bundle.join("config.json");
    let good = fs::read_to_string(&cfg).unwrap();
    let try_create = |needle: &str| {
        let id = o.env.name();
        let r = o.cmd(&["create", "--bundle", &b, &id]);
        r.assert_fails_with(1, needle);
        assert!(!r.stderr.contains("panicked"), "{r:?}");
        o.assert_no_leaks(&id);
    };
    fs::write(&cfg, "{ not json").unwrap();
    try_create("config.json is not JSON");
    o.edit_config_from(&good, |c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"type": "bogus"}));
    });
    try_create("linux.namespaces");
    o.edit_config_from(&good, |c| {
        c["root"]["path"] = serde_json::json!("no-such-rootfs")
    });
    try_create("no-such-rootfs");
    // a setting the runtime cannot honour yet is refused, never ignored
    o.edit_config_from(&good, |c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"type": "time"}));
    });
    try_create("linux.namespaces: a new time namespace");
    // a terminal needs the console socket
    o.edit_config_from(&good, |c| {
        c["process"]["terminal"] = serde_json::json!(true)
    });
    try_create("--console-socket");
    fs::write(&cfg, &good).unwrap();

    // duplicate id: the first container is untouched
    let id = o.env.name();
    o.create(&id).assert_ok();
    o.create(&id)
        .assert_fails_with(1, "container with given ID already exists");
    assert_eq!(o.status(&id), "created");
    // a created container is deleted without --force (as runc)
    o.cmd(&["delete", &id]).assert_ok();
    o.assert_no_leaks(&id);

    // unknown ids and commands
    o.cmd(&["start", "nosuch"])
        .assert_fails_with(1, "container does not exist");
    o.cmd(&["delete", "nosuch"])
        .assert_fails_with(1, "container does not exist");
    o.cmd(&["delete", "--force", "nosuch"]).assert_ok();
    o.cmd(&["kill", "nosuch"])
        .assert_fails_with(1, "container does not exist");
    o.cmd(&["state", "bad/id"])
        .assert_fails_with(1, "invalid container ID format");
    assert_eq!(o.cmd(&["bogus"]).code(), 3);
    assert_eq!(o.cmd(&["start"]).code(), 1);
    // --log json: the error as a JSON line in the log (containerd's shim reads it)
    let log = o.env.dir.join("log.json");
    let r = o.cmd(&[
        "--log",
        log.to_str().unwrap(),
        "--log-format",
        "json",
        "state",
        "nosuch",
    ]);
    r.assert_code(1);
    let line = fs::read_to_string(&log).unwrap();
    let v: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    assert_eq!(v["level"], "error");
    assert_eq!(v["msg"], "container does not exist");
    // nothing else in the root
    let left: Vec<_> = fs::read_dir(&o.root)
        .map(|rd| rd.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "left in --root: {left:?}");
}

#[test]
fn hako_oci_subcommand_is_the_same_face() {
    let Some(o) = Oci::new("ocisub") else { return };
    let r = Run::new(HAKO)
        .args([
            "oci".as_ref(),
            "--root".as_ref(),
            o.root.as_os_str(),
            "list".as_ref(),
        ])
        .run();
    r.assert_ok();
    assert!(r.stdout.starts_with("ID"), "{r:?}");
}

#[test]
fn fifty_runs_leave_nothing() {
    let Some(o) = Oci::new("ocilk") else { return };
    let b = o.bundle.to_str().unwrap().to_string();
    o.set_args(&["/bin/true"]);
    for _ in 0..50 {
        let id = o.env.name();
        o.cmd(&["run", "--bundle", &b, &id]).assert_code(0);
        o.assert_no_leaks(&id);
    }
    let left: Vec<_> = fs::read_dir(&o.root)
        .map(|rd| rd.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "left in --root: {left:?}");
}

impl Oci {
    fn edit_config_from(&self, base: &str, f: impl FnOnce(&mut serde_json::Value)) {
        fs::write(self.bundle.join("config.json"), base).unwrap();
        self.edit_config(f);
    }
}

#[test]
fn exec_pause_resume_ps_features() {
    let Some(o) = Oci::new("ociex") else { return };
    let b = o.bundle.to_str().unwrap().to_string();
    o.set_args(&["/bin/sleep", "1000"]);
    o.edit_config(|c| c["process"]["env"] = serde_json::json!(["PATH=/bin", "FROM=config"]));
    let id = o.env.name();
    o.detached(&["run", "-d", "--bundle", &b, &id]).assert_ok();
    // exec: the process's output and exit code; the config's env exactly, plus --env
    let r = o.cmd(&[
        "exec",
        "--env",
        "X=1",
        "--cwd",
        "/tmp",
        "--user",
        "1000:1000",
        &id,
        "/bin/sh",
        "-c",
        "pwd; id -u; env; exit 4",
    ]);
    r.assert_code(4);
    assert!(r.stdout.contains("/tmp\n1000\n"), "{r:?}");
    assert!(
        r.stdout.contains("FROM=config") && r.stdout.contains("X=1"),
        "{r:?}"
    );
    assert!(!r.stdout.contains("container="), "{r:?}");
    // --process FILE
    let pf = o.env.write(
        "process.json",
        r#"{"args": ["/bin/sh", "-c", "echo from-file $Y"], "env": ["Y=2"], "cwd": "/"}"#,
    );
    let r = o.cmd(&["exec", "--process", pf.to_str().unwrap(), &id]);
    r.assert_code(0);
    assert!(r.stdout.contains("from-file 2"), "{r:?}");
    // exec --detach --pid-file (containerd's shim's call): returns once the process runs,
    // which inherits the caller's stdio and is not waited for
    let epid = o.env.dir.join("exec.pid");
    let r = o.detached(&[
        "exec",
        "--detach",
        "--pid-file",
        epid.to_str().unwrap(),
        &id,
        "/bin/sh",
        "-c",
        "echo detached; sleep 1000",
    ]);
    r.assert_ok();
    let p: i32 = fs::read_to_string(&epid).unwrap().trim().parse().unwrap();
    assert!(pid_alive(p));
    assert!(wait_for(Duration::from_secs(5), || {
        let cl = fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
        String::from_utf8_lossy(&cl).contains("sleep")
    }));
    // a command that cannot run is an error at once
    o.detached(&["exec", "-d", &id, "/nonexistent"])
        .assert_fails_with(1, "/nonexistent");
    // a terminal needs a console socket to send its master to
    o.cmd(&["exec", "-t", &id, "/bin/true"])
        .assert_fails_with(1, "--console-socket");
    // ps
    let pid = o.state(&id)["pid"].as_i64().unwrap();
    let r = o.cmd(&["ps", "--format", "json", &id]);
    r.assert_ok();
    let pids: Vec<i64> = serde_json::from_str(r.stdout.trim()).unwrap();
    assert!(
        pids.contains(&pid) && pids.contains(&i64::from(p)),
        "{pids:?}"
    );
    // pause, resume
    o.cmd(&["pause", &id]).assert_ok();
    assert_eq!(o.status(&id), "paused");
    o.cmd(&["pause", &id])
        .assert_fails_with(1, "already paused");
    o.cmd(&["resume", &id]).assert_ok();
    assert_eq!(o.status(&id), "running");
    o.cmd(&["resume", &id]).assert_fails_with(1, "not paused");
    // a paused container is deleted with --force too
    o.cmd(&["pause", &id]).assert_ok();
    o.cmd(&["delete", "--force", &id]).assert_ok();
    o.assert_no_leaks(&id);
    // features: JSON, honest about hooks
    let r = o.cmd(&["features"]);
    r.assert_ok();
    let f: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(f["hooks"], serde_json::json!([]));
    assert!(f["linux"]["capabilities"].as_array().unwrap().len() > 30);
}

impl Drop for Oci {
    /// A failed test leaves no container behind: everything in its root is force-deleted
    /// (before the TestEnv removes the temp dir with the state).
    fn drop(&mut self) {
        let Ok(rd) = fs::read_dir(&self.root) else {
            return;
        };
        for e in rd.flatten() {
            let _ = std::process::Command::new(&self.bin)
                .args(["--root".as_ref(), self.root.as_os_str()])
                .args([
                    "delete".as_ref(),
                    "--force".as_ref(),
                    e.file_name().as_os_str(),
                ])
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
}

/// The receiving side of a console socket, as containerd's shim has it: the first fd
/// sent to `sock`.
fn console_receiver(sock: &Path) -> std::thread::JoinHandle<std::os::fd::OwnedFd> {
    use std::os::fd::{FromRawFd, OwnedFd};
    let listener = std::os::unix::net::UnixListener::bind(sock).unwrap();
    std::thread::spawn(move || -> OwnedFd {
        let (c, _) = listener.accept().unwrap();
        let mut buf = [0u8; 256];
        let mut iov = [std::io::IoSliceMut::new(&mut buf)];
        let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
        let msg = nix::sys::socket::recvmsg::<()>(
            std::os::fd::AsRawFd::as_raw_fd(&c),
            &mut iov,
            Some(&mut space),
            nix::sys::socket::MsgFlags::empty(),
        )
        .unwrap();
        for cm in msg.cmsgs().unwrap() {
            if let nix::sys::socket::ControlMessageOwned::ScmRights(fds) = cm {
                // SAFETY: a received fd we now own.
                return unsafe { OwnedFd::from_raw_fd(fds[0]) };
            }
        }
        panic!("no fd on the console socket");
    })
}

/// Read `f` until `needle` shows up (10 s at most); what was read.
fn read_until(f: &mut fs::File, needle: &str) -> String {
    use std::io::Read;
    let mut got = Vec::new();
    let mut chunk = [0u8; 256];
    let t = std::time::Instant::now();
    while !String::from_utf8_lossy(&got).contains(needle) && t.elapsed() < Duration::from_secs(10) {
        match f.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&chunk[..n]),
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

#[test]
fn terminal_master_goes_over_the_console_socket() {
    use std::io::Read;
    let Some(o) = Oci::new("ocitty") else { return };
    let b = o.bundle.to_str().unwrap().to_string();
    o.set_args(&[
        "/bin/sh",
        "-c",
        "[ -t 0 ] && [ -t 1 ] && echo TTY-OK; tty; sleep 1000",
    ]);
    o.edit_config(|c| c["process"]["terminal"] = serde_json::json!(true));
    let sock = o.env.dir.join("console.sock");
    let receiver = console_receiver(&sock);
    let id = o.env.name();
    o.detached(&[
        "create",
        "--bundle",
        &b,
        "--console-socket",
        sock.to_str().unwrap(),
        &id,
    ])
    .assert_ok();
    let master = receiver.join().unwrap();
    o.cmd(&["start", &id]).assert_ok();
    let mut f = fs::File::from(master);
    let mut got = Vec::new();
    let mut chunk = [0u8; 256];
    let t = std::time::Instant::now();
    while !String::from_utf8_lossy(&got).contains("/dev/console")
        && t.elapsed() < Duration::from_secs(10)
    {
        match f.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&chunk[..n]),
        }
    }
    let text = String::from_utf8_lossy(&got);
    assert!(
        text.contains("TTY-OK") && text.contains("/dev/console"),
        "{text}"
    );
    o.cmd(&["delete", "--force", &id]).assert_ok();
    o.assert_no_leaks(&id);
}

/// The stand-in for an engine's shim (run by `init_is_reaped_by_the_callers_subreaper` in
/// a process of its own): a subreaper that creates and starts a container, then reaps its
/// init and prints the exit status, as containerd's and podman's shims learn it.
#[test]
fn shim_helper() {
    let Ok(args) = std::env::var("HAKO_OCI_SHIM") else {
        return;
    };
    let a: Vec<&str> = args.split('\n').collect();
    let (bin, root, bundle, id) = (a[0], a[1], a[2], a[3]);
    // SAFETY: prctl with integer arguments only.
    assert_eq!(
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) },
        0
    );
    let pidf = format!("{bundle}/{id}.pid");
    let st = std::process::Command::new(bin)
        .args([
            "--root",
            root,
            "create",
            "--bundle",
            bundle,
            "--pid-file",
            &pidf,
            id,
        ])
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let init: i32 = fs::read_to_string(&pidf).unwrap().trim().parse().unwrap();
    let ppid = stat_field(init, 4).unwrap();
    println!("INIT-PPID {ppid} ME {}", std::process::id());
    let st = std::process::Command::new(bin)
        .args(["--root", root, "start", id])
        .status()
        .unwrap();
    assert!(st.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
        match waitpid(nix::unistd::Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(p, c)) if p.as_raw() == init => {
                println!("INIT-STATUS {c}");
                return;
            }
            Ok(WaitStatus::StillAlive) | Err(_) => std::thread::sleep(Duration::from_millis(20)),
            Ok(_) => {}
        }
    }
    println!("INIT-NOT-REAPED");
}

#[test]
fn init_is_reaped_by_the_callers_subreaper() {
    let Some(o) = Oci::new("ocishm") else { return };
    o.set_args(&["/bin/sh", "-c", "sleep 0.2; exit 7"]);
    let id = o.env.name();
    let spec = [
        o.bin.to_str().unwrap(),
        o.root.to_str().unwrap(),
        o.bundle.to_str().unwrap(),
        &id,
    ]
    .join("\n");
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "shim_helper", "--nocapture", "--test-threads=1"])
        .env("HAKO_OCI_SHIM", spec)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("INIT-STATUS 7"),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // init's parent was the shim itself once create had returned
    let me = text
        .lines()
        .find_map(|l| l.split_once("INIT-PPID ").map(|x| x.1))
        .unwrap()
        .split(" ME ")
        .map(str::to_string)
        .collect::<Vec<_>>();
    assert_eq!(me[0], me[1], "{text}");
    assert!(wait_for(Duration::from_secs(5), || o.status(&id) == "stopped"));
    o.cmd(&["delete", &id]).assert_ok();
    o.assert_no_leaks(&id);
}

#[test]
fn an_absolute_cgroups_path_places_the_container_and_goes_with_it() {
    let Some(o) = Oci::new("ocicgp") else { return };
    let b = o.bundle.to_str().unwrap().to_string();
    let top = o.env.token("hakooci");
    o.env.track_cgroup_dir(&top);
    let id = o.env.name();
    o.set_args(&["/bin/sleep", "1000"]);
    o.edit_config(|c| c["linux"]["cgroupsPath"] = serde_json::json!(format!("/{top}/{id}")));
    o.detached(&["run", "-d", "--bundle", &b, &id]).assert_ok();
    let pid = o.state(&id)["pid"].as_i64().unwrap();
    let cg = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert!(cg.contains(&format!("/{top}/{id}/")), "{cg}");
    o.cmd(&["delete", "--force", &id]).assert_ok();
    o.assert_no_leaks(&id);
    // the level create made above the container's cgroup is gone too
    let left: Vec<_> = ["pids", "memory", "unified", ""]
        .iter()
        .map(|h| Path::new("/sys/fs/cgroup").join(h).join(&top))
        .filter(|p| p.exists())
        .collect();
    assert!(left.is_empty(), "left: {left:?}");
    // a .. component is refused, naming the member, and nothing is made
    o.edit_config(|c| c["linux"]["cgroupsPath"] = serde_json::json!("../x"));
    let id = o.env.name();
    o.cmd(&["create", "--bundle", &b, &id])
        .assert_fails_with(1, "linux.cgroupsPath");
    assert!(!o.root.join(&id).exists());
    o.assert_no_leaks(&id);
}

#[test]
fn umask_oom_score_adj_and_domainname() {
    let Some(o) = Oci::new("ociumk") else { return };
    let b = o.bundle.to_str().unwrap().to_string();
    o.set_args(&[
        "/bin/sh",
        "-c",
        "umask; cat /proc/self/oom_score_adj; cat /proc/sys/kernel/domainname; grep -c unbindable /proc/self/mountinfo; true",
    ]);
    o.edit_config(|c| {
        c["process"]["user"]["umask"] = serde_json::json!(0o027);
        c["process"]["oomScoreAdj"] = serde_json::json!(123);
        c["domainname"] = serde_json::json!("hako.example");
        c["linux"]["rootfsPropagation"] = serde_json::json!("runbindable");
    });
    let id = o.env.name();
    let r = o.cmd(&["run", "--bundle", &b, &id]);
    r.assert_code(0);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines[..3], ["0027", "123", "hako.example"], "{r:?}");
    // runbindable: the container's mounts are marked so in mountinfo
    let unbindable: usize = lines[3].parse().unwrap();
    assert!(unbindable > 3, "{r:?}");
    o.assert_no_leaks(&id);
}

#[test]
fn exec_with_a_terminal_over_the_console_socket() {
    let Some(o) = Oci::new("ocixt") else { return };
    let b = o.bundle.to_str().unwrap().to_string();
    o.set_args(&["/bin/sleep", "1000"]);
    let id = o.env.name();
    o.detached(&["run", "-d", "--bundle", &b, &id]).assert_ok();
    // containerd's call for `ctr task exec -t`: --process with terminal true, --detach,
    // --pid-file, --console-socket
    let sock = o.env.dir.join("exec-console.sock");
    let receiver = console_receiver(&sock);
    let pf = o.env.write(
        "tty-process.json",
        r#"{"terminal": true, "args": ["/bin/sh", "-c", "[ -t 0 ] && [ -t 1 ] && echo TTY-OK; tty; sleep 1000"], "env": ["PATH=/bin"], "cwd": "/"}"#,
    );
    let epid = o.env.dir.join("exec-tty.pid");
    o.detached(&[
        "exec",
        "--process",
        pf.to_str().unwrap(),
        "--detach",
        "--pid-file",
        epid.to_str().unwrap(),
        "--console-socket",
        sock.to_str().unwrap(),
        &id,
    ])
    .assert_ok();
    let mut f = fs::File::from(receiver.join().unwrap());
    let text = read_until(&mut f, "/dev/pts/");
    assert!(
        text.contains("TTY-OK") && text.contains("/dev/pts/"),
        "the exec'd process has the pty: {text}"
    );
    let p: i32 = fs::read_to_string(&epid).unwrap().trim().parse().unwrap();
    assert!(pid_alive(p));
    // -t with args, in the foreground: the exit code comes back
    let sock2 = o.env.dir.join("exec-console2.sock");
    let receiver = console_receiver(&sock2);
    let r = o.cmd(&[
        "exec",
        "-t",
        "--console-socket",
        sock2.to_str().unwrap(),
        &id,
        "/bin/sh",
        "-c",
        "tty; exit 7",
    ]);
    r.assert_code(7);
    let mut f = fs::File::from(receiver.join().unwrap());
    assert!(read_until(&mut f, "/dev/pts/").contains("/dev/pts/"));
    // bad input: a socket without -t, a socket nobody listens on, a foreground pid file
    o.cmd(&[
        "exec",
        "--console-socket",
        "/nonexistent.sock",
        &id,
        "/bin/true",
    ])
    .assert_fails_with(1, "needs -t");
    o.cmd(&[
        "exec",
        "-t",
        "--console-socket",
        o.env.dir.join("nobody.sock").to_str().unwrap(),
        &id,
        "/bin/true",
    ])
    .assert_fails_with(1, "console socket");
    o.cmd(&["exec", "--pid-file", "/tmp/x.pid", &id, "/bin/true"])
        .assert_fails_with(1, "--detach");
    o.cmd(&["delete", "--force", &id]).assert_ok();
    o.assert_no_leaks(&id);
}

/// The container's cgroup directory of `controller` (v1) or cgroup2, from its init.
fn cgroup_file(pid: i64, controller: &str, file: &str) -> PathBuf {
    let text = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    for l in text.lines() {
        let mut it = l.splitn(3, ':');
        let (_, ctrls, path) = (it.next().unwrap(), it.next().unwrap(), it.next().unwrap());
        if ctrls.split(',').any(|c| c == controller) {
            // init sits in the container cgroup's inner cgroup; limits are on the outer
            let outer = Path::new(path).parent().unwrap();
            let mount = fs::read_dir("/sys/fs/cgroup")
                .unwrap()
                .flatten()
                .map(|e| e.path())
                .find(|p| {
                    p.file_name()
                        .unwrap()
                        .to_string_lossy()
                        .split(',')
                        .any(|c| c == controller)
                })
                .unwrap();
            return mount.join(outer.strip_prefix("/").unwrap()).join(file);
        }
    }
    panic!("no {controller} line in /proc/{pid}/cgroup: {text}");
}

#[test]
fn events_and_update() {
    let Some(o) = Oci::new("ociev") else { return };
    let b = o.bundle.to_str().unwrap().to_string();
    o.set_args(&["/bin/sleep", "1000"]);
    let id = o.env.name();
    o.detached(&["run", "-d", "--bundle", &b, &id]).assert_ok();
    let pid = o.state(&id)["pid"].as_i64().unwrap();
    // events --stats: one line of runc's stats JSON
    let r = o.cmd(&["events", "--stats", &id]);
    r.assert_ok();
    let ev: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(ev["type"], "stats");
    assert_eq!(ev["id"], id.as_str());
    assert_eq!(ev["data"]["pids"]["current"], 1, "{ev}");
    assert!(
        ev["data"]["memory"]["usage"]["usage"].as_u64().unwrap() > 0,
        "{ev}"
    );
    assert!(
        ev["data"]["cpu"]["usage"]["total"].as_u64().unwrap() > 0,
        "{ev}"
    );
    // update from flags: the files of the running container's cgroup change
    o.cmd(&[
        "update",
        "--memory",
        "64m",
        "--pids-limit",
        "42",
        "--cpu-quota",
        "20000",
        &id,
    ])
    .assert_ok();
    let mem = cgroup_file(pid, "memory", "memory.limit_in_bytes");
    assert_eq!(
        fs::read_to_string(&mem).unwrap().trim(),
        (64u64 << 20).to_string()
    );
    let pids = cgroup_file(pid, "pids", "pids.max");
    assert_eq!(fs::read_to_string(&pids).unwrap().trim(), "42");
    assert_eq!(
        fs::read_to_string(cgroup_file(pid, "cpu", "cpu.cfs_quota_us"))
            .unwrap()
            .trim(),
        "20000"
    );
    let r = o.cmd(&["events", "--stats", &id]);
    let ev: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(ev["data"]["memory"]["usage"]["limit"], 64u64 << 20, "{ev}");
    assert_eq!(ev["data"]["pids"]["limit"], 42, "{ev}");
    // update -r FILE, then -r - (stdin): a linux.resources document
    let rf = o.env.write(
        "res.json",
        r#"{"memory": {"limit": 33554432}, "pids": {"limit": 7}}"#,
    );
    o.cmd(&["update", "-r", rf.to_str().unwrap(), &id])
        .assert_ok();
    assert_eq!(fs::read_to_string(&pids).unwrap().trim(), "7");
    assert_eq!(fs::read_to_string(&mem).unwrap().trim(), "33554432");
    o.run(&["update", "-r", "-", &id])
        .stdin(r#"{"pids": {"limit": -1}}"#)
        .run()
        .assert_ok();
    assert_eq!(fs::read_to_string(&pids).unwrap().trim(), "max");
    // bad input changes nothing and says what is wrong
    o.cmd(&["update", "--memory", "lots", &id])
        .assert_fails_with(1, "--memory");
    o.cmd(&["update", "-r", "/nonexistent.json", &id])
        .assert_fails_with(1, "/nonexistent.json");
    let bad = o
        .env
        .write("bad.json", r#"{"memory": {"swappiness": 500}}"#);
    o.cmd(&["update", "-r", bad.to_str().unwrap(), &id])
        .assert_fails_with(1, "memory.swappiness");
    o.cmd(&["update", "--l3-cache-schema", "L3:0=f", &id])
        .assert_fails_with(1, "RDT");
    o.cmd(&["update", "--pids-limit", "5", "no-such-id"])
        .assert_fails_with(1, "does not exist");
    o.cmd(&["events", "--interval", "soon", &id])
        .assert_fails_with(1, "interval");
    assert_eq!(fs::read_to_string(&pids).unwrap().trim(), "max");
    assert_eq!(fs::read_to_string(&mem).unwrap().trim(), "33554432");
    // events streams stats every interval and ends when the container stops
    let mut child = std::process::Command::new(&o.bin)
        .args(["--root".as_ref(), o.root.as_os_str()])
        .args(["events", "--interval", "100ms", &id])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(600));
    o.cmd(&["kill", &id, "KILL"]).assert_ok();
    assert!(
        wait_for(Duration::from_secs(10), || child
            .try_wait()
            .unwrap()
            .is_some()),
        "events did not end with the container"
    );
    let mut out = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut out).unwrap();
    let n = out
        .lines()
        .filter(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["type"] == "stats")
        .count();
    assert!(n >= 3, "a stats line every 100 ms: {out}");
    assert!(child.wait().unwrap().success());
    // a stopped container has no stats and takes no update
    o.cmd(&["events", "--stats", &id])
        .assert_fails_with(1, "not running");
    o.cmd(&["update", "--pids-limit", "5", &id])
        .assert_fails_with(1, "not running");
    o.cmd(&["delete", &id]).assert_ok();
    o.assert_no_leaks(&id);
}

#[test]
fn relative_and_systemd_cgroups_paths() {
    let Some(o) = Oci::new("ocicgp") else { return };
    let b = o.bundle.to_str().unwrap().to_string();
    o.set_args(&["/bin/sleep", "1000"]);
    // systemd's slice:prefix:name under --systemd-cgroup: SLICE/PREFIX-NAME.scope on
    // cgroupfs, the slice's parents made and removed with it
    let id = o.env.name();
    let slice = format!("{}-t.slice", o.env.token("hk"));
    let top = format!("{}.slice", slice.split('-').next().unwrap());
    o.edit_config(|c| c["linux"]["cgroupsPath"] = serde_json::json!(format!("{slice}:hako:{id}")));
    o.detached(&["--systemd-cgroup", "run", "-d", "--bundle", &b, &id])
        .assert_ok();
    let pid = o.state(&id)["pid"].as_i64().unwrap();
    let cg = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let want = format!("/{top}/{slice}/hako-{id}.scope/");
    assert!(
        cg.lines().filter(|l| l.contains(&want)).count() >= 2,
        "init is in {want} in its hierarchies: {cg}"
    );
    o.cmd(&["delete", "--force", &id]).assert_ok();
    o.assert_no_leaks(&id);
    assert!(
        !Path::new("/sys/fs/cgroup/pids").join(&top).exists(),
        "the slices hako-oci made went with the container"
    );
    // not slice:prefix:name under --systemd-cgroup: refused, nothing made
    o.edit_config(|c| c["linux"]["cgroupsPath"] = serde_json::json!("/just/a/path"));
    let id2 = o.env.name();
    o.run(&["--systemd-cgroup", "create", "--bundle", &b, &id2])
        .run()
        .assert_fails_with(1, "slice:prefix:name");
    assert!(!o.root.join(&id2).exists());
    // a relative path: below the caller's own cgroup (this host's cgroup2 line)
    let own = fs::read_to_string("/proc/self/cgroup")
        .unwrap()
        .lines()
        .find_map(|l| {
            l.strip_prefix("0::")
                .map(|p| p.trim_matches('/').to_string())
        })
        .unwrap_or_default();
    let rel = format!("{}/{id2}", o.env.token("hkrel"));
    o.edit_config(|c| c["linux"]["cgroupsPath"] = serde_json::json!(rel));
    o.detached(&["run", "-d", "--bundle", &b, &id2]).assert_ok();
    let pid = o.state(&id2)["pid"].as_i64().unwrap();
    let cg = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let want = if own.is_empty() {
        format!("/{rel}/")
    } else {
        format!("/{own}/{rel}/")
    };
    assert!(cg.contains(&want), "init is in {want}: {cg}");
    o.cmd(&["delete", "--force", &id2]).assert_ok();
    o.assert_no_leaks(&id2);
    let first = rel.split('/').next().unwrap();
    assert!(!Path::new("/sys/fs/cgroup/pids")
        .join(own)
        .join(first)
        .exists());
}

/// A hook running the host's /bin/sh with `script` (the state document on its stdin).
fn sh_hook(script: &str) -> serde_json::Value {
    serde_json::json!({"path": "/bin/sh", "args": ["sh", "-c", script], "env": ["HOOKVAR=set"]})
}

#[test]
fn hooks_run_at_their_stages_with_the_state_on_stdin() {
    let Some(o) = Oci::new("ocihk") else { return };
    let b = o.bundle.to_str().unwrap().to_string();
    let out = o.env.dir.join("hookout");
    fs::create_dir_all(&out).unwrap();
    fs::create_dir_all(o.bundle.join("rootfs/out")).unwrap();
    let od = out.to_str().unwrap().to_string();
    // each records its stdin, its mount namespace, its environment
    let rec = |stage: &str, dir: &str| {
        sh_hook(&format!(
            "cat > {dir}/{stage}.json; readlink /proc/self/ns/mnt > {dir}/{stage}.ns; echo \"$HOOKVAR:$(env | grep -c CARGO)\" > {dir}/{stage}.env"
        ))
    };
    o.set_args(&["/bin/sleep", "1000"]);
    o.edit_config(|c| {
        c["hooks"] = serde_json::json!({
            "prestart": [rec("prestart", &od)],
            "createRuntime": [rec("createRuntime", &od)],
            "createContainer": [rec("createContainer", &od)],
            // inside the container: its /bin/sh, its paths
            "startContainer": [rec("startContainer", "/out")],
            "poststart": [rec("poststart", &od)],
            "poststop": [rec("poststop", &od)],
        });
        c["mounts"].as_array_mut().unwrap().push(serde_json::json!(
            {"destination": "/out", "type": "bind", "source": od, "options": ["rbind", "rw"]}
        ));
    });
    let read = |n: &str| fs::read_to_string(out.join(n)).unwrap_or_default();
    let json = |n: &str| -> serde_json::Value {
        serde_json::from_str(&read(&format!("{n}.json"))).unwrap_or_else(|e| {
            panic!(
                "{n}: stdin was not the state JSON ({e}): {:?}",
                read(&format!("{n}.json"))
            )
        })
    };
    let id = o.env.name();
    o.create(&id).assert_ok();
    let pid = o.state(&id)["pid"].as_i64().unwrap();
    let host_mnt = fs::read_link("/proc/self/ns/mnt").unwrap();
    let ctr_mnt = fs::read_link(format!("/proc/{pid}/ns/mnt")).unwrap();
    for stage in ["prestart", "createRuntime", "createContainer"] {
        let s = json(stage);
        assert_eq!(s["id"], id.as_str(), "{stage}: {s}");
        assert_eq!(s["status"], "created", "{stage}: {s}");
        assert_eq!(s["pid"], pid, "{stage}: {s}");
        assert_eq!(s["bundle"], b.as_str(), "{stage}: {s}");
        // exactly the hook's env: its variable, none of the caller's (cargo's)
        assert_eq!(read(&format!("{stage}.env")).trim(), "set:0", "{stage}");
    }
    // runtime namespace vs the container's (createContainer: before pivot_root)
    assert_eq!(read("prestart.ns").trim(), host_mnt.to_str().unwrap());
    assert_eq!(read("createRuntime.ns").trim(), host_mnt.to_str().unwrap());
    assert_eq!(read("createContainer.ns").trim(), ctr_mnt.to_str().unwrap());
    assert!(
        !out.join("startContainer.json").exists(),
        "startContainer before start"
    );
    assert!(
        !out.join("poststart.json").exists(),
        "poststart before start"
    );
    o.cmd(&["start", &id]).assert_ok();
    assert!(wait_for(Duration::from_secs(5), || out
        .join("startContainer.ns")
        .exists()));
    assert_eq!(read("startContainer.ns").trim(), ctr_mnt.to_str().unwrap());
    assert_eq!(json("startContainer")["pid"], pid);
    let s = json("poststart");
    assert_eq!(s["status"], "running", "{s}");
    assert_eq!(read("poststart.ns").trim(), host_mnt.to_str().unwrap());
    assert!(
        !out.join("poststop.json").exists(),
        "poststop before delete"
    );
    o.cmd(&["kill", &id, "KILL"]).assert_ok();
    assert!(wait_for(Duration::from_secs(10), || o.status(&id) == "stopped"));
    assert!(
        !out.join("poststop.json").exists(),
        "poststop before delete"
    );
    o.cmd(&["delete", &id]).assert_ok();
    let s = json("poststop");
    assert_eq!(s["status"], "stopped", "{s}");
    assert_eq!(s["id"], id.as_str(), "{s}");
    o.assert_no_leaks(&id);
}

#[test]
fn failing_hooks_fail_create_and_leave_nothing_or_warn() {
    let Some(o) = Oci::new("ocihf") else { return };
    let b = o.bundle.to_str().unwrap().to_string();
    o.set_args(&["/bin/sleep", "1000"]);
    // a failing createRuntime, createContainer, prestart: create fails, names the hook
    for stage in ["createRuntime", "createContainer", "prestart"] {
        o.edit_config(|c| {
            c["hooks"] = serde_json::json!({ stage: [
                sh_hook("exit 0"),
                sh_hook("echo broken-hook-said-this; exit 3"),
            ]});
        });
        let id = o.env.name();
        let r = o.create(&id);
        r.assert_fails_with(1, &format!("hooks.{stage}[1]"));
        assert!(r.stderr.contains("exit status 3"), "{r:?}");
        assert!(r.stderr.contains("broken-hook-said-this"), "{r:?}");
        o.cmd(&["state", &id])
            .assert_fails_with(1, "does not exist");
        o.assert_no_leaks(&id);
    }
    // a hook past its timeout is killed and fails create
    o.edit_config(|c| {
        c["hooks"] = serde_json::json!({"createRuntime": [
            {"path": "/bin/sleep", "args": ["sleep", "60"], "timeout": 1}
        ]});
    });
    let id = o.env.name();
    let r = o.create(&id);
    r.assert_fails_with(1, "hooks.createRuntime[0]");
    assert!(r.stderr.contains("timeout of 1 s"), "{r:?}");
    assert!(r.elapsed < Duration::from_secs(20), "{r:?}");
    o.assert_no_leaks(&id);
    // a missing program
    o.edit_config(|c| {
        c["hooks"] = serde_json::json!({"prestart": [{"path": "/nonexistent/hook"}]});
    });
    let id = o.env.name();
    o.create(&id)
        .assert_fails_with(1, "hooks.prestart[0] (/nonexistent/hook): cannot run it");
    o.assert_no_leaks(&id);
    // failing poststart and poststop: warnings; start and delete succeed
    o.edit_config(|c| {
        c["hooks"] = serde_json::json!({
            "poststart": [sh_hook("exit 4")],
            "poststop": [sh_hook("exit 5")],
        });
    });
    let id = o.env.name();
    o.detached(&["run", "-d", "--bundle", &b, &id])
        .assert_ok()
        .assert_stderr_contains("level=warning");
    assert_eq!(o.status(&id), "running");
    let d = o.cmd(&["delete", "--force", &id]);
    d.assert_ok();
    assert!(
        d.stderr.contains("hooks.poststop[0]") && d.stderr.contains("exit status 5"),
        "{d:?}"
    );
    o.assert_no_leaks(&id);
}

#[test]
fn joining_namespaces_by_path() {
    let Some(o) = Oci::new("ocins") else { return };
    // a process of our own in new net, ipc, uts namespaces
    let mut holder = std::process::Command::new("unshare")
        .args([
            "--net", "--ipc", "--uts", "--pid", "--fork", "sleep", "1000",
        ])
        .spawn()
        .unwrap();
    // the sleep: unshare's child
    let mut sleeper = 0;
    assert!(wait_for(Duration::from_secs(5), || {
        let kids = fs::read_to_string(format!(
            "/proc/{}/task/{}/children",
            holder.id(),
            holder.id()
        ))
        .unwrap_or_default();
        sleeper = kids.trim().parse().unwrap_or(0);
        sleeper > 0
    }));
    let ns = |p: i32, n: &str| fs::read_link(format!("/proc/{p}/ns/{n}")).unwrap();
    o.set_args(&["/bin/sleep", "1000"]);
    o.edit_config(|c| {
        let list = c["linux"]["namespaces"].as_array_mut().unwrap();
        list.retain(|n| !["network", "ipc", "uts", "pid"].contains(&n["type"].as_str().unwrap()));
        for (t, f) in [
            ("network", "net"),
            ("ipc", "ipc"),
            ("uts", "uts"),
            ("pid", "pid"),
        ] {
            list.push(serde_json::json!({"type": t, "path": format!("/proc/{sleeper}/ns/{f}")}));
        }
        c.as_object_mut().unwrap().remove("hostname");
    });
    let id = o.env.name();
    let b = o.bundle.to_str().unwrap().to_string();
    o.detached(&["run", "-d", "--bundle", &b, &id]).assert_ok();
    let pid = o.state(&id)["pid"].as_i64().unwrap() as i32;
    for n in ["net", "ipc", "uts", "pid"] {
        assert_eq!(ns(pid, n), ns(sleeper, n), "{n}");
    }
    // the mount namespace is still a new one
    assert_ne!(ns(pid, "mnt"), ns(sleeper, "mnt"));
    o.cmd(&["delete", "--force", &id]).assert_ok();
    o.assert_no_leaks(&id);
    // a path that is not a namespace of that type: the error names it, nothing is left
    o.edit_config(|c| {
        let list = c["linux"]["namespaces"].as_array_mut().unwrap();
        for n in list.iter_mut() {
            if n["type"] == "network" {
                n["path"] = serde_json::json!(format!("/proc/{sleeper}/ns/ipc"));
            }
        }
    });
    let id = o.env.name();
    let r = o.create(&id);
    r.assert_fails_with(1, &format!("/proc/{sleeper}/ns/ipc"));
    assert!(
        r.stderr
            .contains("it is a ipc namespace, not a network one"),
        "{r:?}"
    );
    o.assert_no_leaks(&id);
    // not a namespace file at all
    let plain = o.env.write("plainfile", "x");
    o.edit_config(|c| {
        let list = c["linux"]["namespaces"].as_array_mut().unwrap();
        for n in list.iter_mut() {
            if n["type"] == "network" {
                n["path"] = serde_json::json!(plain);
            }
        }
    });
    let id = o.env.name();
    let r = o.create(&id);
    r.assert_fails_with(1, plain.to_str().unwrap());
    assert!(r.stderr.contains("not a namespace file"), "{r:?}");
    o.assert_no_leaks(&id);
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(sleeper),
        nix::sys::signal::Signal::SIGKILL,
    );
    let _ = holder.kill();
    let _ = holder.wait();
}
