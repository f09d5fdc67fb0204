//! hako-oci driven by the engines themselves: Debian's containerd 1.6 (`ctr`, the runc v2
//! shim) and podman 4.3 (conmon), each offline and private: a mount namespace of the
//! test's own with a tmpfs on /run (containerd's shim sockets are always under
//! /run/containerd/s; hako-oci's and podman's default runtime roots live there too), every
//! engine directory under the test's temp dir, and an image built here from busybox-static
//! (tests/helpers/oci_image.sh: an OCI layout tarball) imported instead of pulled. Each
//! test checks that nothing is left: no process in the test's namespace but its holder, no
//! cgroup of the engine's (a namespace or cgroup parent named for the test), no state dir.
//!
//! Needs containerd and podman (`apt-get install containerd podman`, as `make test`
//! does); without them the tests fail saying so, unless HAKO_TESTS_ALLOW_NO_ENGINES=1.

mod common;

use common::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const IMAGE: &str = "docker.io/library/hakobb:latest";

/// Is `prog` installed? Else fail loudly (or skip when the environment allows it).
fn need(prog: &str, package: &str) -> bool {
    let found = ["/usr/bin", "/usr/sbin", "/bin", "/sbin"]
        .iter()
        .any(|d| Path::new(d).join(prog).exists());
    if !found {
        if std::env::var("HAKO_TESTS_ALLOW_NO_ENGINES").as_deref() == Ok("1") {
            eprintln!("SKIPPED: {prog} is not installed (apt-get install {package}); HAKO_TESTS_ALLOW_NO_ENGINES=1");
            return false;
        }
        panic!("{prog} is not installed: apt-get install {package} (make test does), or set HAKO_TESTS_ALLOW_NO_ENGINES=1 to skip this test");
    }
    true
}

/// A private mount namespace with a tmpfs on /run, held by a sleeping process.
struct Ns {
    holder: std::process::Child,
    pid: i32,
}

impl Ns {
    fn new(dir: &Path) -> Ns {
        let ready = dir.join("ns.ready");
        let holder = Command::new("unshare")
            .args(["-m", "--propagation", "private", "sh", "-c"])
            .arg(format!(
                "mount -t tmpfs -o mode=0755 hako-engines /run && touch {} && exec sleep 100000",
                ready.display()
            ))
            .stdin(Stdio::null())
            .spawn()
            .expect("unshare (util-linux) runs");
        let pid = holder.id() as i32;
        assert!(
            wait_for(Duration::from_secs(10), || ready.exists()),
            "the test's mount namespace did not come up"
        );
        Ns { holder, pid }
    }

    fn mnt_ns(pid: i32) -> Option<PathBuf> {
        fs::read_link(format!("/proc/{pid}/ns/mnt")).ok()
    }

    /// `prog args` inside the namespace.
    fn cmd(&self, prog: &str) -> Command {
        let mut c = Command::new("nsenter");
        c.args(["-t", &self.pid.to_string(), "-m", "--", prog]);
        c
    }

    fn run(&self, prog: &str, args: &[&str]) -> Run {
        Run::new("nsenter")
            .args(["-t", &self.pid.to_string(), "-m", "--", prog])
            .args(args)
            .timeout(Duration::from_secs(60))
    }

    /// Every process in the namespace but the holder (engines, shims, monitors).
    fn others(&self) -> Vec<i32> {
        let Some(ns) = Ns::mnt_ns(self.pid) else {
            return Vec::new();
        };
        let mut v = Vec::new();
        for e in fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            if pid != self.pid && Ns::mnt_ns(pid).as_ref() == Some(&ns) {
                // a zombie waiting for the host's init is gone for every purpose
                let st = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
                if !st
                    .rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z')
                {
                    v.push(pid);
                }
            }
        }
        v
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        for p in self.others() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(p),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

/// The test's setting: a hako-oci link, the image tarball, the namespace.
struct Engines {
    env: TestEnv,
    bin: PathBuf,
    image: PathBuf,
    ns: Ns,
}

impl Engines {
    fn new(short: &str) -> Option<Engines> {
        let env = TestEnv::new(short)?;
        let bin = env.dir.join("bin/hako-oci");
        fs::create_dir_all(bin.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(HAKO, &bin).unwrap();
        let image = env.dir.join("busybox-oci.tar");
        let helper = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/helpers/oci_image.sh");
        Run::new(&helper)
            .args([image.as_os_str(), IMAGE.as_ref()])
            .run()
            .assert_ok();
        let ns = Ns::new(&env.dir);
        Some(Engines {
            env,
            bin,
            image,
            ns,
        })
    }

    /// Cgroup directories named `name` anywhere in the first levels of the host's
    /// hierarchies.
    fn cgroups_named(&self, name: &str) -> Vec<PathBuf> {
        let mut found = Vec::new();
        let mut stack = vec![(PathBuf::from("/sys/fs/cgroup"), 0)];
        while let Some((d, depth)) = stack.pop() {
            for e in fs::read_dir(&d).into_iter().flatten().flatten() {
                if !e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                    continue;
                }
                if e.file_name().to_string_lossy() == name {
                    found.push(e.path());
                } else if depth < 3 {
                    stack.push((e.path(), depth + 1));
                }
            }
        }
        found
    }

    /// Nothing of the run left: no process but the namespace's holder, no cgroup called
    /// `cgroup_name`, and hako-oci's state root (inside the namespace) without entries.
    fn assert_clean(&self, cgroup_name: &str, oci_root: &str) {
        let mut left = Vec::new();
        let clean = wait_for(Duration::from_secs(15), || {
            left.clear();
            left.extend(self.ns.others().iter().map(|p| {
                format!(
                    "process {p} ({})",
                    fs::read_to_string(format!("/proc/{p}/cmdline"))
                        .unwrap_or_default()
                        .replace('\0', " ")
                )
            }));
            left.extend(
                self.cgroups_named(cgroup_name)
                    .into_iter()
                    .map(|c| format!("cgroup {}", c.display())),
            );
            let ls = self
                .ns
                .run("sh", &["-c", &format!("ls -A {oci_root} 2>/dev/null")])
                .run();
            left.extend(
                ls.stdout
                    .lines()
                    .map(|l| format!("state dir {oci_root}/{l}")),
            );
            left.is_empty()
        });
        assert!(clean, "left behind: {left:#?}");
    }
}

/// containerd with everything under `dir`.
struct Containerd {
    dir: PathBuf,
    ns_name: String,
    daemon: Option<std::process::Child>,
}

impl Containerd {
    fn start(e: &Engines) -> Containerd {
        let dir = e.env.dir.join("ctd");
        fs::create_dir_all(&dir).unwrap();
        let d = dir.display();
        let bin = e.bin.display();
        // the CRI plugin is off (it would want a network and a sandbox image); the
        // runtime handler below is its configuration of hako-oci, kept to show the shape
        // containerd accepts (ctr drives the runc v2 shim with --runc-binary instead)
        let config = format!(
            r#"version = 2
root = "{d}/root"
state = "{d}/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "{d}/c.sock"
[ttrpc]
  address = "{d}/c.sock.ttrpc"
[debug]
  address = "{d}/debug.sock"
[plugins."io.containerd.internal.v1.opt"]
  path = "{d}/opt"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.hako]
  runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.hako.options]
    BinaryName = "{bin}"
"#
        );
        fs::write(dir.join("config.toml"), config).unwrap();
        let log = fs::File::create(dir.join("containerd.log")).unwrap();
        let daemon =
            e.ns.cmd("containerd")
                .arg("--config")
                .arg(dir.join("config.toml"))
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .expect("containerd starts");
        let sock = dir.join("c.sock");
        assert!(
            wait_for(Duration::from_secs(20), || sock.exists()),
            "containerd did not come up: {}",
            fs::read_to_string(dir.join("containerd.log")).unwrap_or_default()
        );
        let c = Containerd {
            dir,
            ns_name: e.env.token("hakoctd"),
            daemon: Some(daemon),
        };
        c.ctr(e, &["images", "import"])
            .args([e.image.as_os_str()])
            .run()
            .assert_ok();
        c
    }

    fn ctr(&self, e: &Engines, args: &[&str]) -> Run {
        let sock = self.dir.join("c.sock");
        e.ns.run("ctr", &["-a", sock.to_str().unwrap(), "-n", &self.ns_name])
            .args(args)
    }

    fn stop(&mut self) {
        if let Some(mut d) = self.daemon.take() {
            // nsenter forwards the signal to containerd
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(d.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
            let _ = d.wait();
        }
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        self.stop();
    }
}

#[test]
fn containerd_runs_hako_oci() {
    if !need("containerd", "containerd") {
        return;
    }
    let Some(e) = Engines::new("ctd") else { return };
    let mut c = Containerd::start(&e);
    let bin = e.bin.to_str().unwrap();
    let id = e.env.name();

    // the foreground run: its output, its exit code, --rm
    let o = c
        .ctr(&e, &["run", "--rm", "--runc-binary", bin, IMAGE, &id])
        .args(["sh", "-c", "echo hi; exit 3"])
        .run();
    assert_eq!(o.code(), 3, "{o:?}");
    assert_eq!(o.stdout.trim(), "hi", "{o:?}");

    // detached, exec, a terminal, kill, remove
    let id2 = e.env.name();
    c.ctr(&e, &["run", "-d", "--runc-binary", bin, IMAGE, &id2])
        .args(["sleep", "1000"])
        .run()
        .assert_ok();
    let o = c.ctr(&e, &["task", "ls"]).run();
    assert!(
        o.stdout
            .lines()
            .any(|l| l.starts_with(&id2) && l.contains("RUNNING")),
        "{o:?}"
    );
    let o = c
        .ctr(&e, &["task", "exec", "--exec-id", "e1", &id2])
        .args(["sh", "-c", "echo in $(hostname) as $(id -u); exit 5"])
        .run();
    assert_eq!(o.code(), 5, "{o:?}");
    assert_eq!(o.stdout.trim(), format!("in {id2} as 0"), "{o:?}");
    // `ctr task exec -t` wants a terminal of its own: under script(1)
    let sock = c.dir.join("c.sock");
    let inner = format!(
        "nsenter -t {} -m -- ctr -a {} -n {} task exec -t --exec-id e2 {id2} sh -c 'tty; exit 4'",
        e.ns.pid,
        sock.display(),
        c.ns_name
    );
    let o = Run::new("script")
        .args(["-qec", &inner, "/dev/null"])
        .timeout(Duration::from_secs(60))
        .run();
    assert_eq!(o.code(), 4, "{o:?}");
    assert!(o.stdout.contains("/dev/pts/"), "exec -t has a pty: {o:?}");
    // SIGTERM is ignored by a pid 1 without a handler, as with runc: KILL
    c.ctr(&e, &["task", "kill", "-s", "KILL", &id2])
        .run()
        .assert_ok();
    assert!(
        wait_for(Duration::from_secs(15), || c
            .ctr(&e, &["task", "ls"])
            .run()
            .stdout
            .lines()
            .any(|l| l.starts_with(&id2) && l.contains("STOPPED"))),
        "the task did not stop after kill"
    );
    c.ctr(&e, &["task", "rm", &id2]).run().assert_ok();
    c.ctr(&e, &["containers", "rm", &id2]).run().assert_ok();

    // systemd's cgroupsPath through the shim: --systemd-cgroup and slice:prefix:name,
    // placed where systemd would put the scope
    let id3 = e.env.name();
    let slice = format!("{}.slice", c.ns_name.replace('-', "_"));
    let o = c
        .ctr(
            &e,
            &[
                "run",
                "--rm",
                "--runc-binary",
                bin,
                "--runc-systemd-cgroup",
                "--cgroup",
                &format!("{slice}:hako:{id3}"),
                IMAGE,
                &id3,
            ],
        )
        .args(["cat", "/proc/self/cgroup"])
        .run();
    o.assert_ok();
    assert!(
        o.stdout.contains(&format!("/{slice}/hako-{id3}.scope")),
        "the process is in SLICE/hako-ID.scope: {o:?}"
    );

    // the shim's errors come from hako-oci's JSON log: a missing program
    let id4 = e.env.name();
    let o = c
        .ctr(&e, &["run", "--rm", "--runc-binary", bin, IMAGE, &id4])
        .args(["/no/such/program"])
        .run();
    assert_ne!(o.code(), 0, "{o:?}");
    assert!(o.stderr.contains("/no/such/program"), "{o:?}");
    let _ = c.ctr(&e, &["containers", "rm", &id4]).run();

    c.ctr(&e, &["images", "rm", IMAGE]).run().assert_ok();
    c.stop();
    e.assert_clean(&c.ns_name, &format!("/run/containerd/runc/{}", c.ns_name));
    assert!(e.cgroups_named(&slice).is_empty(), "the slice is gone");
}

/// podman with a private containers.conf and storage.conf.
struct Podman {
    conf: PathBuf,
    storage: PathBuf,
    parent: String,
}

impl Podman {
    fn new(e: &Engines) -> Podman {
        let dir = e.env.dir.join("pod");
        fs::create_dir_all(&dir).unwrap();
        let d = dir.display();
        let conf = dir.join("containers.conf");
        let storage = dir.join("storage.conf");
        fs::write(
            &storage,
            format!("[storage]\ndriver = \"overlay\"\nrunroot = \"{d}/runroot\"\ngraphroot = \"{d}/graph\"\n"),
        )
        .unwrap();
        // this VM cannot raise nofile or nproc to podman's defaults (no CAP_SYS_RESOURCE)
        fs::write(
            &conf,
            format!(
                r#"[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
netns = "none"
cgroupns = "host"
[engine]
conmon_env_vars = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "CONTAINERS_CONF={conf}", "CONTAINERS_STORAGE_CONF={storage}"]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "{d}/events.log"
lock_type = "file"
tmp_dir = "{d}/tmp"
static_dir = "{d}/static"
volume_path = "{d}/volumes"
[network]
network_config_dir = "{d}/net"
"#,
                conf = conf.display(),
                storage = storage.display(),
            ),
        )
        .unwrap();
        let p = Podman {
            conf,
            storage,
            parent: e.env.token("hakopod"),
        };
        p.podman(e, &["load", "-i", e.image.to_str().unwrap()])
            .run()
            .assert_ok();
        p
    }

    fn podman(&self, e: &Engines, args: &[&str]) -> Run {
        e.ns.run("env", &[])
            .args([
                format!("CONTAINERS_CONF={}", self.conf.display()),
                format!("CONTAINERS_STORAGE_CONF={}", self.storage.display()),
                "podman".into(),
                "--runtime".into(),
                e.bin.display().to_string(),
            ])
            .args(args)
            .timeout(Duration::from_secs(90))
    }

    fn run_args(&self) -> Vec<String> {
        vec!["--cgroup-parent".into(), format!("/{}", self.parent)]
    }
}

#[test]
fn podman_runs_hako_oci() {
    if !need("podman", "podman") || !need("conmon", "conmon") {
        return;
    }
    let Some(e) = Engines::new("pod") else { return };
    let p = Podman::new(&e);

    let o = p
        .podman(&e, &["run", "--rm"])
        .args(p.run_args())
        .args([IMAGE, "sh", "-c", "echo hi; exit 3"])
        .run();
    assert_eq!(o.code(), 3, "{o:?}");
    assert_eq!(o.stdout.trim(), "hi", "{o:?}");

    // detached, exec, stop, rm
    let name = e.env.name();
    p.podman(&e, &["run", "-d", "--name", &name])
        .args(p.run_args())
        .args([IMAGE, "sleep", "1000"])
        .run()
        .assert_ok();
    let o = p
        .podman(&e, &["ps", "--format", "{{.Names}} {{.Status}}"])
        .run();
    assert!(
        o.stdout
            .lines()
            .any(|l| l.starts_with(&name) && l.contains("Up")),
        "{o:?}"
    );
    let o = p
        .podman(&e, &["exec", &name, "sh", "-c", "echo in $(id -u); exit 6"])
        .run();
    assert_eq!(o.code(), 6, "{o:?}");
    assert_eq!(o.stdout.trim(), "in 0", "{o:?}");
    // a terminal: exec -t through the console socket
    let o = p
        .podman(&e, &["exec", "-t", &name, "sh", "-c", "tty; exit 2"])
        .run();
    assert_eq!(o.code(), 2, "{o:?}");
    assert!(o.stdout.contains("/dev/pts/"), "{o:?}");
    // sleep as pid 1 ignores SIGTERM: podman kills it after the timeout
    p.podman(&e, &["stop", "-t", "1", &name]).run().assert_ok();
    let o = p
        .podman(&e, &["ps", "-a", "--format", "{{.Names}} {{.Status}}"])
        .run();
    assert!(
        o.stdout
            .lines()
            .any(|l| l.starts_with(&name) && l.contains("Exited")),
        "{o:?}"
    );
    p.podman(&e, &["rm", &name]).run().assert_ok();

    // run -t: the container's console over the console socket
    let o = p
        .podman(&e, &["run", "--rm", "-t"])
        .args(p.run_args())
        .args([IMAGE, "sh", "-c", "tty; exit 4"])
        .run();
    assert_eq!(o.code(), 4, "{o:?}");
    assert!(o.stdout.contains("/dev/"), "{o:?}");

    p.podman(&e, &["rmi", IMAGE]).run().assert_ok();
    // podman itself keeps conmon in PARENT/conmon (with runc too) and leaves it: that
    // directory is podman's and is removed here once empty; any other directory below
    // the parent (hako-oci's libpod-ID) is a leak
    let mut hako_left = Vec::new();
    let gone = wait_for(Duration::from_secs(15), || {
        hako_left.clear();
        for parent in e.cgroups_named(&p.parent) {
            for sub in fs::read_dir(&parent).into_iter().flatten().flatten() {
                if sub.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                    if sub.file_name() == "conmon" {
                        let _ = fs::remove_dir(sub.path());
                    } else {
                        hako_left.push(sub.path());
                    }
                }
            }
            if hako_left.is_empty() {
                let _ = fs::remove_dir(&parent);
            }
        }
        hako_left.is_empty()
    });
    assert!(gone, "container cgroups left: {hako_left:#?}");
    e.assert_clean(&p.parent, "/run/hako-oci");
}
