//! Shared harness for hako's black-box integration tests.
//!
//! Every test gets a [`TestEnv`]: its own temporary lxcpath, an empty system config directory
//! (`HAKO_SYSCONFDIR`, so the host's /etc/hako and /etc/lxc do not leak into the tests), and
//! unique container names. When the env is dropped — also after a panic — every container
//! in its lxcpath(s) is force-stopped and destroyed, then a leak check looks for processes,
//! mounts, cgroups and runtime files that belong to the test's containers. A leak fails the
//! test (or is printed when the test is already failing).
//!
//! The tests need root. Without root they print `SKIPPED (needs root)` and pass, unless
//! `HAKO_TESTS_REQUIRE_ROOT=1` is set: then they fail.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fs;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// The binary under test.
pub const HAKO: &str = env!("CARGO_BIN_EXE_hako");

/// Default time limit for one hako command.
pub const CMD_TIMEOUT: Duration = Duration::from_secs(60);

/// Every lxc-* name the binary must answer to.
pub const LXC_TOOLS: &[&str] = &[
    "lxc-create",
    "lxc-destroy",
    "lxc-start",
    "lxc-stop",
    "lxc-attach",
    "lxc-execute",
    "lxc-freeze",
    "lxc-unfreeze",
    "lxc-cgroup",
    "lxc-info",
    "lxc-ls",
    "lxc-wait",
    "lxc-console",
    "lxc-config",
    "lxc-checkconfig",
    "lxc-copy",
    "lxc-snapshot",
];

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn test_name() -> String {
    thread::current()
        .name()
        .unwrap_or("<unnamed test>")
        .to_string()
}

/// True when the tests may run. Not root: panics if `HAKO_TESTS_REQUIRE_ROOT=1`, else prints
/// a loud SKIPPED line and returns false.
pub fn have_root() -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    let name = test_name();
    if std::env::var("HAKO_TESTS_REQUIRE_ROOT").as_deref() == Ok("1") {
        panic!(
            "{name}: hako's integration tests need root (HAKO_TESTS_REQUIRE_ROOT=1 is set); \
             run them as root, e.g. sudo -E cargo test"
        );
    }
    // straight to fd 2: libtest captures eprintln! of passing tests, and a skip must be seen
    let _ = writeln!(std::io::stderr(), "SKIPPED (needs root): {name}");
    false
}

// ---------------------------------------------------------------------------------------
// Running commands
// ---------------------------------------------------------------------------------------

/// The result of one command.
#[derive(Debug)]
pub struct Out {
    pub cmd: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub stdout_bytes: Vec<u8>,
    pub elapsed: Duration,
}

impl Out {
    /// The exit code; a death by signal N reads as 128+N (as a shell shows it).
    pub fn code(&self) -> i32 {
        match self.status.code() {
            Some(c) => c,
            None => 128 + self.status.signal().unwrap_or(0),
        }
    }

    fn describe(&self) -> String {
        format!(
            "command: {}\nexit code: {} (after {:.2?})\n--- stdout ---\n{}\n--- stderr ---\n{}\n--------------",
            self.cmd,
            self.code(),
            self.elapsed,
            self.stdout,
            self.stderr
        )
    }

    /// Exit code 0, or panic showing the command and its output.
    #[track_caller]
    pub fn assert_ok(&self) -> &Self {
        assert_eq!(self.code(), 0, "expected success\n{}", self.describe());
        self
    }

    /// This exit code, or panic.
    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code(),
            code,
            "expected exit code {code}\n{}",
            self.describe()
        );
        self
    }

    /// Exit code `code` and `needle` (case-insensitive) in stderr.
    #[track_caller]
    pub fn assert_fails_with(&self, code: i32, needle: &str) -> &Self {
        assert_eq!(
            self.code(),
            code,
            "expected exit code {code} with {needle:?} in stderr\n{}",
            self.describe()
        );
        assert!(
            self.stderr.to_lowercase().contains(&needle.to_lowercase()),
            "expected {needle:?} in stderr\n{}",
            self.describe()
        );
        self
    }

    /// Some non-zero exit code and `needle` (case-insensitive) in stderr.
    #[track_caller]
    pub fn assert_fails_mentioning(&self, needle: &str) -> &Self {
        assert_ne!(
            self.code(),
            0,
            "expected a failure mentioning {needle:?}\n{}",
            self.describe()
        );
        assert!(
            self.stderr.to_lowercase().contains(&needle.to_lowercase()),
            "expected {needle:?} in stderr\n{}",
            self.describe()
        );
        self
    }

    /// The error output is one clear line (plus warnings): at least one line, none longer
    /// than makes sense, and it names `object`.
    #[track_caller]
    pub fn assert_one_clear_error(&self, object: &str) -> &Self {
        let errors: Vec<&str> = self
            .stderr
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.contains("WARN"))
            .collect();
        assert!(
            !errors.is_empty(),
            "expected an error message\n{}",
            self.describe()
        );
        assert!(
            errors.iter().any(|l| l.contains(object)),
            "expected the error to name {object:?}\n{}",
            self.describe()
        );
        self
    }

    #[track_caller]
    pub fn assert_stdout_contains(&self, needle: &str) -> &Self {
        assert!(
            self.stdout.contains(needle),
            "expected {needle:?} in stdout\n{}",
            self.describe()
        );
        self
    }

    #[track_caller]
    pub fn assert_stderr_contains(&self, needle: &str) -> &Self {
        assert!(
            self.stderr.to_lowercase().contains(&needle.to_lowercase()),
            "expected {needle:?} in stderr\n{}",
            self.describe()
        );
        self
    }

    /// Stdout, trimmed.
    pub fn out(&self) -> &str {
        self.stdout.trim()
    }
}

/// A command to run with a timeout, captured output and optional stdin.
pub struct Run {
    cmd: Command,
    display: String,
    stdin: Option<Vec<u8>>,
    timeout: Duration,
}

impl Run {
    pub fn new(program: impl AsRef<std::ffi::OsStr>) -> Run {
        let program = program.as_ref();
        Run {
            display: program.to_string_lossy().into_owned(),
            cmd: Command::new(program),
            stdin: None,
            timeout: CMD_TIMEOUT,
        }
    }

    pub fn args<I, S>(mut self, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        for a in args {
            let a = a.as_ref();
            self.display.push(' ');
            let s = a.to_string_lossy();
            if s.is_empty() || s.contains(char::is_whitespace) || s.contains('\'') {
                self.display.push_str(&format!("{s:?}"));
            } else {
                self.display.push_str(&s);
            }
            self.cmd.arg(a);
        }
        self
    }

    pub fn env(mut self, key: &str, val: impl AsRef<std::ffi::OsStr>) -> Run {
        self.display = format!("{key}={} {}", val.as_ref().to_string_lossy(), self.display);
        self.cmd.env(key, val);
        self
    }

    pub fn env_remove(mut self, key: &str) -> Run {
        self.cmd.env_remove(key);
        self
    }

    pub fn stdin(mut self, data: impl Into<Vec<u8>>) -> Run {
        self.stdin = Some(data.into());
        self
    }

    pub fn timeout(mut self, t: Duration) -> Run {
        self.timeout = t;
        self
    }

    pub fn command_mut(&mut self) -> &mut Command {
        &mut self.cmd
    }

    /// Run it. Panics if it does not finish within the timeout (the process is killed), or
    /// if its stdout/stderr stay open long after it exited (something it left behind, such
    /// as a daemon, still holds them: `x=$(hako start c)` would hang in a shell).
    pub fn run(mut self) -> Out {
        self.cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        self.cmd.stdin(if self.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        let start = Instant::now();
        let mut child = self
            .cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.display));
        let pid = child.id() as i32;
        if let Some(data) = self.stdin.take() {
            let mut w = child.stdin.take().unwrap();
            thread::spawn(move || {
                let _ = w.write_all(&data);
            });
        }
        let out_rx = reader(child.stdout.take().unwrap());
        let err_rx = reader(child.stderr.take().unwrap());
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let _ = tx.send(child.wait());
        });
        let status = match rx.recv_timeout(self.timeout) {
            Ok(s) => s.expect("wait for child"),
            Err(_) => {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
                let _ = rx.recv_timeout(Duration::from_secs(5));
                panic!(
                    "command did not finish within {:?} and was killed: {}",
                    self.timeout, self.display
                );
            }
        };
        let elapsed = start.elapsed();
        let grace = Duration::from_secs(5);
        let stdout_bytes = out_rx.recv_timeout(grace).unwrap_or_else(|_| {
            panic!(
                "stdout of `{}` is still open 5 s after it exited (code {:?}): a process it \
                 left behind holds the caller's stdout",
                self.display,
                status.code()
            )
        });
        let stderr_bytes = err_rx.recv_timeout(grace).unwrap_or_else(|_| {
            panic!(
                "stderr of `{}` is still open 5 s after it exited (code {:?}): a process it \
                 left behind holds the caller's stderr",
                self.display,
                status.code()
            )
        });
        Out {
            cmd: self.display,
            status,
            stdout: String::from_utf8_lossy(&stdout_bytes).into_owned(),
            stderr: String::from_utf8_lossy(&stderr_bytes).into_owned(),
            stdout_bytes,
            elapsed,
        }
    }
}

fn reader<R: Read + Send + 'static>(mut r: R) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        let _ = tx.send(buf);
    });
    rx
}

/// Poll `cond` every 20 ms until it holds or `timeout` passes; true if it held.
pub fn wait_for(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// The fields of /proc/PID/stat after the ")" that closes comm: index 0 is the state (field
/// 3 in proc(5)), so field N of proc(5) is index N - 3.
pub fn stat_fields(pid: i32) -> Option<Vec<String>> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = s.rsplit_once(')')?.1;
    Some(rest.split_whitespace().map(String::from).collect())
}

/// Field N (numbered as in proc(5)) of /proc/PID/stat, as a number.
pub fn stat_field(pid: i32, n: usize) -> Option<u64> {
    stat_fields(pid)?.get(n.checked_sub(3)?)?.parse().ok()
}

/// True if process `pid` exists (and is not a zombie).
pub fn pid_alive(pid: i32) -> bool {
    let state = stat_fields(pid).and_then(|f| f.first().and_then(|s| s.chars().next()));
    state.is_some_and(|c| c != 'Z' && c != 'X')
}

/// The parent pid of `pid`.
pub fn ppid_of(pid: i32) -> Option<i32> {
    stat_field(pid, 4).map(|p| p as i32)
}

/// CPU time `pid` has used (utime + stime), in clock ticks.
pub fn cpu_ticks(pid: i32) -> Option<u64> {
    Some(stat_field(pid, 14)? + stat_field(pid, 15)?)
}

/// The number of open fds of this process.
pub fn my_fd_count() -> usize {
    fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

/// The capability bounding set of `pid`, from /proc/PID/status.
pub fn parse_cap_line(status: &str, field: &str) -> Option<u64> {
    status
        .lines()
        .find(|l| l.starts_with(&format!("{field}:")))
        .and_then(|l| u64::from_str_radix(l.split_whitespace().nth(1)?, 16).ok())
}

/// Capability numbers used by the tests.
pub mod cap {
    pub const NET_ADMIN: u32 = 12;
    pub const SYS_MODULE: u32 = 16;
    pub const SYS_RAWIO: u32 = 17;
    pub const SYS_ADMIN: u32 = 21;
    pub const SYS_TIME: u32 = 25;
    pub const MAC_OVERRIDE: u32 = 32;
    pub const MAC_ADMIN: u32 = 33;
    pub const CHOWN: u32 = 0;
}

/// Every directory under /sys/fs/cgroup (depth ≤ 6) whose name is in `names`, or whose path
/// relative to /sys/fs/cgroup/<hierarchy>/ starts with one of `prefixes`.
pub fn find_cgroups(names: &BTreeSet<String>, prefixes: &BTreeSet<String>) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let root = Path::new("/sys/fs/cgroup");
    let mut stack: Vec<(PathBuf, usize)> = vec![(root.to_path_buf(), 0)];
    while let Some((dir, depth)) = stack.pop() {
        let Ok(rd) = fs::read_dir(&dir) else { continue };
        for e in rd.flatten() {
            let Ok(ft) = e.file_type() else { continue };
            if !ft.is_dir() {
                continue;
            }
            let p = e.path();
            let fname = e.file_name().to_string_lossy().into_owned();
            let hit_name = names.contains(&fname) || names.contains(strip_lxcpath_hash(&fname));
            // path below the hierarchy mount, e.g. "hkt123/c1" for /sys/fs/cgroup/pids/hkt123/c1
            let rel: Vec<String> = p
                .strip_prefix(root)
                .map(|r| {
                    r.components()
                        .map(|c| c.as_os_str().to_string_lossy().into_owned())
                        .collect()
                })
                .unwrap_or_default();
            let hit_prefix = prefixes
                .iter()
                .any(|pre| rel.iter().skip(1).any(|c| c == pre));
            if hit_name || hit_prefix {
                found.push(p.clone());
            }
            if depth + 1 < 6 {
                stack.push((p, depth + 1));
            }
        }
    }
    found.sort();
    found
}

/// A payload cgroup's name without the `-HASH` hako appends outside the default lxcpath
/// (`hako.payload.web-1a2b3c4d` → `hako.payload.web`).
pub fn strip_lxcpath_hash(cgroup: &str) -> &str {
    match cgroup.rsplit_once('-') {
        Some((base, h)) if h.len() == 8 && h.bytes().all(|b| b.is_ascii_hexdigit()) => base,
        _ => cgroup,
    }
}

/// The cgroup directories named `hako.payload.NAME[-HASH]` (the container's cgroup in every
/// hierarchy).
pub fn payload_cgroups(name: &str) -> Vec<PathBuf> {
    let mut names = BTreeSet::new();
    names.insert(format!("hako.payload.{name}"));
    find_cgroups(&names, &BTreeSet::new())
}

/// The container cgroup of `name` in the v1 hierarchy `controller` (e.g. "memory").
pub fn v1_payload_cgroup(controller: &str, name: &str) -> Option<PathBuf> {
    let base = Path::new("/sys/fs/cgroup").join(controller);
    payload_cgroups(name)
        .into_iter()
        .find(|p| p.starts_with(&base))
}

// ---------------------------------------------------------------------------------------
// The per-test environment
// ---------------------------------------------------------------------------------------

pub struct TestEnv {
    /// Short name of the test (name prefix).
    pub short: String,
    /// Root of the test's temporary files.
    pub dir: PathBuf,
    /// The lxcpath every `hako()` call uses (-P).
    pub lxcpath: PathBuf,
    /// The system config dir handed to hako as HAKO_SYSCONFDIR (empty unless a test writes
    /// files into it).
    pub etc: PathBuf,
    tmp: Option<tempfile::TempDir>,
    names: Mutex<BTreeSet<String>>,
    lxcpaths: Mutex<Vec<PathBuf>>,
    cgroup_prefixes: Mutex<BTreeSet<String>>,
    links: Mutex<Option<PathBuf>>,
}

impl TestEnv {
    /// A fresh environment, or None when the test must be skipped (not root).
    /// `short` prefixes the container names: keep it ≤ 6 characters.
    pub fn new(short: &str) -> Option<TestEnv> {
        if !have_root() {
            return None;
        }
        assert!(short.len() <= 6, "short test name {short:?} too long");
        let tmp = tempfile::Builder::new()
            .prefix("hako-it-")
            .tempdir()
            .expect("create temp dir");
        let dir = tmp.path().to_path_buf();
        // Readable for the unprivileged-caller tests (they only need to traverse it).
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        let lxcpath = dir.join("lp");
        let etc = dir.join("etc");
        fs::create_dir_all(&lxcpath).unwrap();
        fs::create_dir_all(&etc).unwrap();
        // New containers get no network unless a test asks for one: hako's built-in default
        // joins the managed network hakobr0, whose bridge is global to the host (tests run in
        // parallel). Tests of the default remove this file.
        fs::create_dir_all(etc.join("hako")).unwrap();
        fs::write(etc.join("hako/default.conf"), "lxc.net.0.type = empty\n").unwrap();
        fs::create_dir_all(etc.join("lxc")).unwrap();
        fs::write(etc.join("lxc/default.conf"), "lxc.net.0.type = empty\n").unwrap();
        Some(TestEnv {
            short: short.to_string(),
            dir,
            lxcpath: lxcpath.clone(),
            etc,
            tmp: Some(tmp),
            names: Mutex::new(BTreeSet::new()),
            lxcpaths: Mutex::new(vec![lxcpath]),
            cgroup_prefixes: Mutex::new(BTreeSet::new()),
            links: Mutex::new(None),
        })
    }

    /// A new unique container name (short + pid + counter), remembered for cleanup and the
    /// leak check.
    pub fn name(&self) -> String {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("{}{}x{}", self.short, std::process::id(), n);
        assert!(name.len() <= 20, "generated name {name:?} too long");
        self.names.lock().unwrap().insert(name.clone());
        name
    }

    /// A unique token for other global names (cgroup dirs, files).
    pub fn token(&self, prefix: &str) -> String {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        format!("{prefix}{}x{}", std::process::id(), n)
    }

    /// Remember a name the test made up itself (so cleanup and the leak check cover it).
    pub fn track_name(&self, name: &str) {
        self.names.lock().unwrap().insert(name.to_string());
    }

    /// Another lxcpath the test uses (cleanup and the leak check cover it too).
    pub fn track_lxcpath(&self, p: &Path) {
        self.lxcpaths.lock().unwrap().push(p.to_path_buf());
    }

    /// A cgroup directory name (e.g. the first component of lxc.cgroup.dir) that must be
    /// gone at the end.
    pub fn track_cgroup_dir(&self, component: &str) {
        self.cgroup_prefixes
            .lock()
            .unwrap()
            .insert(component.to_string());
    }

    /// A file path in the test's temp dir.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    /// Write a file in the test's temp dir and return its path.
    pub fn write(&self, rel: &str, content: &str) -> PathBuf {
        let p = self.dir.join(rel);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent).unwrap();
        }
        fs::write(&p, content).unwrap();
        p
    }

    /// `hako` with the test's environment (HAKO_SYSCONFDIR = the test's etc dir, no
    /// HAKO_PATH), without -P.
    pub fn hako_cmd(&self) -> Run {
        Run::new(HAKO)
            .env("HAKO_SYSCONFDIR", &self.etc)
            .env_remove("HAKO_PATH")
            .env_remove("HAKO_RUNDIR")
    }

    /// `hako -P LXCPATH ARGS...`
    pub fn run(&self, args: &[&str]) -> Run {
        self.hako_cmd()
            .args(["-P".as_ref(), self.lxcpath.as_os_str()])
            .args(args)
    }

    /// Run `hako -P LXCPATH ARGS...` and return its output.
    pub fn hako(&self, args: &[&str]) -> Out {
        self.run(args).run()
    }

    /// The directory with the lxc-* links (created on first use with `hako compat-links`).
    pub fn links_dir(&self) -> PathBuf {
        let mut l = self.links.lock().unwrap();
        if let Some(p) = l.as_ref() {
            return p.clone();
        }
        let dir = self.dir.join("bin");
        fs::create_dir_all(&dir).unwrap();
        self.hako_cmd()
            .args(["compat-links".as_ref(), dir.as_os_str()])
            .run()
            .assert_ok();
        *l = Some(dir.clone());
        dir
    }

    /// `DIR/lxc-TOOL ARGS...` (the compat face), with the test's environment.
    pub fn lxc(&self, tool: &str, args: &[&str]) -> Out {
        let prog = self.links_dir().join(tool);
        Run::new(prog)
            .env("HAKO_SYSCONFDIR", &self.etc)
            .env_remove("HAKO_PATH")
            .args(args)
            .run()
    }

    // ----- containers -----

    /// Create a busybox container; returns its name.
    pub fn busybox(&self) -> String {
        let name = self.name();
        self.hako(&["create", &name, "-t", "busybox"]).assert_ok();
        name
    }

    /// Create a privileged busybox container (`--privileged`: no user namespace), for tests
    /// of what only a privileged container does (device nodes, host-owned paths, hooks
    /// writing host files); returns its name.
    pub fn busybox_privileged(&self) -> String {
        let name = self.name();
        self.hako(&["create", &name, "-t", "busybox", "--privileged"])
            .assert_ok();
        name
    }

    /// A privileged busybox container with `extra` config passed with `-f`.
    pub fn busybox_privileged_with(&self, extra: &str) -> String {
        let name = self.name();
        let f = self.write(&format!("{name}.extra.conf"), extra);
        self.hako(&[
            "create",
            &name,
            "-t",
            "busybox",
            "--privileged",
            "-f",
            f.to_str().unwrap(),
        ])
        .assert_ok();
        name
    }

    /// Create a busybox container with `extra` config passed with `-f`.
    pub fn busybox_with(&self, extra: &str) -> String {
        let name = self.name();
        let f = self.write(&format!("{name}.extra.conf"), extra);
        self.hako(&["create", &name, "-t", "busybox", "-f", f.to_str().unwrap()])
            .assert_ok();
        name
    }

    /// The container's config file.
    pub fn config_path(&self, name: &str) -> PathBuf {
        self.lxcpath.join(name).join("config")
    }

    /// The containers in the test's lxcpath (every directory there).
    pub fn container_names(&self) -> Vec<String> {
        fs::read_dir(&self.lxcpath)
            .map(|d| {
                d.flatten()
                    .filter(|e| e.path().is_dir())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Replace every `lxc.net.*` line of NAME/config with `cfg`.
    pub fn set_net_config(&self, name: &str, cfg: &str) {
        let kept: String = self
            .read_config(name)
            .lines()
            .filter(|l| !l.trim_start().starts_with("lxc.net."))
            .map(|l| format!("{l}\n"))
            .collect();
        fs::write(self.config_path(name), format!("{kept}{cfg}")).unwrap();
    }

    /// Poll `info -i -H` until the container holds an IPv4 address starting with `base`.
    pub fn wait_ipv4(&self, name: &str, base: &str, timeout: Duration) -> Option<String> {
        let mut found = None;
        wait_for(timeout, || {
            found = self
                .hako(&["info", name, "-i", "-H"])
                .stdout
                .lines()
                .map(str::trim)
                .find(|l| l.starts_with(base))
                .map(String::from);
            found.is_some()
        });
        found
    }

    pub fn read_config(&self, name: &str) -> String {
        fs::read_to_string(self.config_path(name)).unwrap()
    }

    /// Append lines to NAME/config.
    pub fn append_config(&self, name: &str, text: &str) {
        let mut f = fs::OpenOptions::new()
            .append(true)
            .open(self.config_path(name))
            .unwrap();
        let mut t = text.to_string();
        if !t.ends_with('\n') {
            t.push('\n');
        }
        f.write_all(format!("\n{t}").as_bytes()).unwrap();
    }

    /// Replace the first config line starting with `key` (followed by space or '=').
    pub fn replace_config_line(&self, name: &str, key: &str, new_line: &str) {
        let cfg = self.read_config(name);
        let mut done = false;
        let mut out = String::new();
        for line in cfg.lines() {
            let t = line.trim_start();
            let is_key = t.starts_with(key) && t[key.len()..].trim_start().starts_with('=');
            if is_key && !done {
                out.push_str(new_line);
                done = true;
            } else {
                out.push_str(line);
            }
            out.push('\n');
        }
        assert!(done, "no {key} line in the config of {name}:\n{cfg}");
        fs::write(self.config_path(name), out).unwrap();
    }

    pub fn start(&self, name: &str) -> Out {
        let o = self.hako(&["start", name]);
        o.assert_ok();
        o
    }

    pub fn kill(&self, name: &str) {
        self.hako(&["stop", name, "-k"]).assert_ok();
    }

    /// `info -s -H`: the bare state.
    pub fn state(&self, name: &str) -> String {
        let o = self.hako(&["info", name, "-s", "-H"]);
        o.assert_ok();
        o.out().to_string()
    }

    /// The init pid from `info -p -H`.
    pub fn init_pid(&self, name: &str) -> i32 {
        let o = self.hako(&["info", name, "-p", "-H"]);
        o.assert_ok();
        o.out()
            .parse()
            .unwrap_or_else(|_| panic!("info -p -H printed no pid: {o:?}"))
    }

    /// `hako attach NAME -- sh -c SCRIPT`
    pub fn sh(&self, name: &str, script: &str) -> Out {
        self.hako(&["attach", name, "--", "/bin/sh", "-c", script])
    }

    /// `hako attach NAME -- sh -c SCRIPT`, which must succeed; its stdout.
    #[track_caller]
    pub fn sh_ok(&self, name: &str, script: &str) -> String {
        let o = self.sh(name, script);
        o.assert_ok();
        o.stdout
    }

    /// Wait until a busybox container finished booting: init has run its sysinit (rcS) and
    /// started the gettys of the inittab (busybox init starts them only after sysinit).
    #[track_caller]
    pub fn wait_booted(&self, name: &str) {
        let ok = wait_for(Duration::from_secs(15), || {
            let o = self.sh(name, "ps");
            o.code() == 0 && o.stdout.contains("getty")
        });
        assert!(
            ok,
            "container {name} did not finish booting (no getty) within 15 s"
        );
    }

    // ----- leak check -----

    fn all_names(&self) -> BTreeSet<String> {
        let mut names = self.names.lock().unwrap().clone();
        for lp in self.lxcpaths.lock().unwrap().iter() {
            if let Ok(rd) = fs::read_dir(lp) {
                for e in rd.flatten() {
                    if e.path().is_dir() {
                        names.insert(e.file_name().to_string_lossy().into_owned());
                    }
                }
            }
        }
        names
    }

    /// Everything the test's containers left on the host: processes, mounts, cgroups,
    /// runtime files.
    pub fn leaks(&self) -> Vec<String> {
        self.leaks_for(&self.all_names(), true)
    }

    /// Leaks of the given containers only (for checks in the middle of a test). With
    /// `destroyed`, lock files under /run/hako/lock count too.
    pub fn leaks_for(&self, names: &BTreeSet<String>, destroyed: bool) -> Vec<String> {
        let mut found = Vec::new();
        let lxcpaths: Vec<String> = self
            .lxcpaths
            .lock()
            .unwrap()
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        let prefixes = self.cgroup_prefixes.lock().unwrap().clone();
        let payloads: Vec<String> = names.iter().map(|n| format!("hako.payload.{n}")).collect();
        let me = std::process::id().to_string();

        // processes
        if let Ok(rd) = fs::read_dir("/proc") {
            for e in rd.flatten() {
                let pid = e.file_name().to_string_lossy().into_owned();
                if !pid.bytes().all(|b| b.is_ascii_digit()) || pid == me {
                    continue;
                }
                let cmdline = fs::read(format!("/proc/{pid}/cmdline"))
                    .map(|b| {
                        String::from_utf8_lossy(&b)
                            .replace('\0', " ")
                            .trim()
                            .to_string()
                    })
                    .unwrap_or_default();
                if cmdline.is_empty() && !pid_alive(pid.parse().unwrap_or(0)) {
                    continue;
                }
                let by_path = lxcpaths.iter().any(|lp| cmdline.contains(lp.as_str()));
                let cg = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
                let by_cgroup = cg.lines().any(|l| {
                    l.split('/')
                        .any(|c| payloads.iter().any(|p| strip_lxcpath_hash(c) == p))
                        || l.split('/').any(|c| prefixes.contains(c))
                });
                if by_path || by_cgroup {
                    found.push(format!("process {pid}: {cmdline}"));
                }
            }
        }
        // mounts
        if let Ok(mi) = fs::read_to_string("/proc/self/mountinfo") {
            for line in mi.lines() {
                if lxcpaths.iter().any(|lp| line.contains(lp.as_str())) {
                    found.push(format!("mount: {line}"));
                }
            }
        }
        // cgroups
        let cg_names: BTreeSet<String> = payloads.iter().cloned().collect();
        for p in find_cgroups(&cg_names, &prefixes) {
            found.push(format!("cgroup: {}", p.display()));
        }
        // runtime files
        if let Ok(rd) = fs::read_dir("/run/hako") {
            for e in rd.flatten() {
                let d = e.path();
                if e.file_name() == "lock" {
                    if destroyed {
                        if let Ok(rd2) = fs::read_dir(&d) {
                            for e2 in rd2.flatten() {
                                for n in names {
                                    let p = e2.path().join(n);
                                    if p.exists() {
                                        found.push(format!("lock file: {}", p.display()));
                                    }
                                }
                            }
                        }
                    }
                    continue;
                }
                for n in names {
                    let p = d.join(n);
                    if p.exists() {
                        found.push(format!("runtime dir: {}", p.display()));
                    }
                }
            }
        }
        found
    }

    /// Leaks of `names`, retried for up to 3 s (so processes that are just exiting do not
    /// count).
    pub fn settled_leaks_for(&self, names: &BTreeSet<String>, destroyed: bool) -> Vec<String> {
        let mut leaks = self.leaks_for(names, destroyed);
        let deadline = Instant::now() + Duration::from_secs(3);
        while !leaks.is_empty() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(50));
            leaks = self.leaks_for(names, destroyed);
        }
        leaks
    }

    /// Assert that the (stopped, not necessarily destroyed) container `name` left nothing:
    /// no process, mount, cgroup or runtime dir.
    #[track_caller]
    pub fn assert_no_leaks(&self, name: &str) {
        let mut s = BTreeSet::new();
        s.insert(name.to_string());
        let leaks = self.settled_leaks_for(&s, false);
        assert!(
            leaks.is_empty(),
            "container {name} left things behind:\n  {}",
            leaks.join("\n  ")
        );
    }

    /// Best-effort removal of leaked things (after they were reported), so one failing test
    /// does not disturb the others: kill our processes, detach our mounts, remove our cgroup
    /// dirs and runtime dirs.
    fn scrub(&self, leaks: &[String]) {
        for l in leaks {
            if let Some(rest) = l.strip_prefix("process ") {
                if let Some(pid) = rest.split(':').next().and_then(|p| p.parse::<i32>().ok()) {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(pid),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
            }
        }
        thread::sleep(Duration::from_millis(200));
        for l in leaks {
            if let Some(rest) = l.strip_prefix("mount: ") {
                if let Some(mp) = rest.split_whitespace().nth(4) {
                    let _ = nix::mount::umount2(mp, nix::mount::MntFlags::MNT_DETACH);
                }
            }
        }
        let mut cgs: Vec<PathBuf> = leaks
            .iter()
            .filter_map(|l| l.strip_prefix("cgroup: ").map(PathBuf::from))
            .collect();
        // deepest first
        cgs.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
        for p in cgs {
            let _ = fs::remove_dir(&p);
        }
        for l in leaks {
            if let Some(p) = l.strip_prefix("runtime dir: ") {
                let _ = fs::remove_dir_all(p);
            }
            if let Some(p) = l.strip_prefix("lock file: ") {
                let _ = fs::remove_file(p);
            }
        }
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        // 1. force-stop and destroy everything in our lxcpath(s)
        let names = self.all_names();
        let lxcpaths = self.lxcpaths.lock().unwrap().clone();
        // a few rounds: a container that others depend on (snapshot clones) can only go
        // after them
        for _round in 0..3 {
            if !lxcpaths
                .iter()
                .any(|lp| names.iter().any(|n| lp.join(n).exists()))
            {
                break;
            }
            for lp in &lxcpaths {
                for n in &names {
                    if !lp.join(n).exists() {
                        continue;
                    }
                    let run = |args: &[&str]| {
                        let mut cmd = Command::new(HAKO);
                        cmd.env("HAKO_SYSCONFDIR", &self.etc)
                            .env_remove("HAKO_PATH")
                            .arg("-P")
                            .arg(lp)
                            .args(args)
                            .stdin(Stdio::null())
                            .stdout(Stdio::null())
                            .stderr(Stdio::null());
                        // bounded: a hung cleanup command must not hang the suite
                        if let Ok(mut child) = cmd.spawn() {
                            let deadline = Instant::now() + Duration::from_secs(30);
                            loop {
                                match child.try_wait() {
                                    Ok(Some(_)) => break,
                                    Ok(None) if Instant::now() < deadline => {
                                        thread::sleep(Duration::from_millis(10))
                                    }
                                    _ => {
                                        let _ = child.kill();
                                        let _ = child.wait();
                                        break;
                                    }
                                }
                            }
                        }
                    };
                    run(&["unfreeze", n]);
                    run(&["stop", n, "-k"]);
                    run(&["destroy", n, "-f", "-s"]);
                }
            }
        }
        // 2. leak check
        let leaks = self.settled_leaks_for(&names, true);
        let mount_leak = leaks.iter().any(|l| l.starts_with("mount: "));
        if !leaks.is_empty() {
            self.scrub(&leaks);
        }
        // 3. remove the temp dir, unless mounts are still on it (never recurse into them)
        let still_mounted = mount_leak
            && fs::read_to_string("/proc/self/mountinfo")
                .map(|mi| mi.contains(self.dir.to_string_lossy().as_ref()))
                .unwrap_or(true);
        if let Some(tmp) = self.tmp.take() {
            if still_mounted {
                let kept = tmp.keep();
                eprintln!("leak check: kept {} (mounts still on it)", kept.display());
            } else {
                drop(tmp);
            }
        }
        if !leaks.is_empty() {
            let msg = format!(
                "LEAK CHECK FAILED for test {} (containers {:?}): left behind:\n  {}",
                test_name(),
                names,
                leaks.join("\n  ")
            );
            if thread::panicking() {
                eprintln!("{msg}");
            } else {
                panic!("{msg}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Pseudo-terminal sessions
// ---------------------------------------------------------------------------------------

/// A program running on a new pseudo-terminal (its controlling tty), as if a user ran it
/// in a terminal.
pub struct Pty {
    child: Option<Child>,
    master: fs::File,
    buf: Arc<Mutex<Vec<u8>>>,
    pub display: String,
}

impl Pty {
    /// Spawn `program args` with stdin/stdout/stderr on a new pty.
    pub fn spawn(program: &Path, args: &[&str], envs: &[(&str, OsString)]) -> Pty {
        let pty = nix::pty::openpty(None, None).expect("openpty");
        let master: OwnedFd = pty.master;
        let slave: OwnedFd = pty.slave;
        let mut cmd = Command::new(program);
        cmd.args(args)
            .stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave.try_clone().unwrap()))
            .env("TERM", "xterm");
        for (k, v) in envs {
            cmd.env(k, v);
        }
        // SAFETY: runs in the forked child before exec; setsid and ioctl are
        // async-signal-safe. It makes the pty (already on fd 0) the controlling terminal of
        // a new session, as a terminal emulator does.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if libc::ioctl(0, libc::TIOCSCTTY as _, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let display = format!("{} {}", program.display(), args.join(" "));
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {display} on a pty: {e}"));
        drop(cmd);
        drop(slave);
        let master = fs::File::from(master);
        let mut rd = master.try_clone().unwrap();
        let buf = Arc::new(Mutex::new(Vec::new()));
        let b2 = buf.clone();
        thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            loop {
                match rd.read(&mut chunk) {
                    Ok(0) | Err(_) => break, // EIO once every slave fd is closed
                    Ok(n) => b2.lock().unwrap().extend_from_slice(&chunk[..n]),
                }
            }
        });
        Pty {
            child: Some(child),
            master,
            buf,
            display,
        }
    }

    pub fn send(&mut self, data: &[u8]) {
        self.master.write_all(data).expect("write to pty");
    }

    /// Everything the program wrote so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.buf.lock().unwrap()).into_owned()
    }

    /// Wait until the output contains `needle`.
    pub fn expect(&self, needle: &str, timeout: Duration) -> bool {
        wait_for(timeout, || self.text().contains(needle))
    }

    #[track_caller]
    pub fn must_expect(&self, needle: &str, timeout: Duration) {
        assert!(
            self.expect(needle, timeout),
            "`{}` on a pty: {needle:?} did not appear within {timeout:?}; output so far:\n{:?}",
            self.display,
            self.text()
        );
    }

    /// Wait for the program to exit; None on timeout.
    pub fn wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let child = self.child.as_mut()?;
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(st)) = child.try_wait() {
                self.child = None;
                // let the reader drain what is left
                thread::sleep(Duration::from_millis(100));
                return Some(st);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn pid(&self) -> Option<i32> {
        self.child.as_ref().map(|c| c.id() as i32)
    }

    pub fn master_fd(&self) -> i32 {
        self.master.as_raw_fd()
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Split `ls`-style output into names.
pub fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

/// Build tests/helpers/NAME.c into a static executable in `dir` (gcc -static, non-PIE:
/// helpers that make 32-bit compat calls pass pointers to static objects, which must lie
/// below 4 GiB). The probes of the security tests run inside busybox containers, which
/// have no libc.
pub fn build_helper(dir: &Path, name: &str) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/helpers")
        .join(format!("{name}.c"));
    let out = dir.join(name);
    let o = Command::new("gcc")
        .args(["-static", "-O2", "-fno-pie", "-no-pie", "-Wall", "-o"])
        .arg(&out)
        .arg(&src)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run gcc ({e}): this test builds a static helper; install gcc and libc6-dev (make deps does)")
        });
    assert!(
        o.status.success(),
        "gcc could not build {}: {}\n(install gcc and libc6-dev; make deps does)",
        src.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    out
}
