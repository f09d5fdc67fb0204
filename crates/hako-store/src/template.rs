//! Templates: which one a `-t` argument names, and running an LXC-style template script.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use crate::StoreError;

/// Where LXC's template scripts live (`-t alpine` runs `lxc-alpine` from here; the built-in
/// busybox and debian templates win over LXC's scripts of those names).
pub const LXC_TEMPLATE_DIR: &str = "/usr/share/lxc/templates";
/// LXC's shared config snippets, passed to scripts as `LXC_TEMPLATE_CONFIG`.
pub const LXC_TEMPLATE_CONFIG: &str = "/usr/share/lxc/config";

/// What builds the root filesystem of a new container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Template {
    /// No rootfs content: the config only (an empty rootfs directory is made).
    None,
    /// The built-in busybox template (Rust code, offline, uses the host's static busybox).
    Busybox,
    /// The built-in debian template: a cached Debian image, cloned copy-on-write.
    Debian,
    /// An LXC-style template script.
    Script(PathBuf),
}

impl Template {
    /// `busybox`, `none`, a path (anything with a `/`: must be an executable file), or a name
    /// `X` resolved to `/usr/share/lxc/templates/lxc-X`. Unknown names are an error that
    /// lists the templates there are.
    pub fn parse(s: &str) -> Result<Template, StoreError> {
        Template::parse_in(s, Path::new(LXC_TEMPLATE_DIR))
    }

    /// [`Template::parse`] with another directory of LXC templates.
    pub fn parse_in(s: &str, lxc_templates: &Path) -> Result<Template, StoreError> {
        match s {
            "busybox" => return Ok(Template::Busybox),
            "debian" => return Ok(Template::Debian),
            "none" => return Ok(Template::None),
            "" => {
                return Err(StoreError::other(format!(
                    "template name is empty; use one of: {}",
                    available(lxc_templates).join(", ")
                )))
            }
            _ => {}
        }
        if s.contains('/') {
            let p = Path::new(s);
            let p = if p.is_absolute() {
                p.to_path_buf()
            } else {
                std::env::current_dir()
                    .map_err(|e| {
                        StoreError::io("resolve the template path", p, e, "pass an absolute path")
                    })?
                    .join(p)
            };
            check_script(&p)?;
            return Ok(Template::Script(p));
        }
        let p = lxc_templates.join(format!("lxc-{s}"));
        if p.is_file() {
            check_script(&p)?;
            return Ok(Template::Script(p));
        }
        Err(StoreError::other(format!(
            "unknown template \"{s}\": there is no {}; use one of: {} (or the path of a template script)",
            p.display(),
            available(lxc_templates).join(", ")
        )))
    }

    /// How the template is named in messages and in the config header.
    pub fn display_name(&self) -> String {
        match self {
            Template::None => "none".to_string(),
            Template::Busybox => "busybox".to_string(),
            Template::Debian => "debian".to_string(),
            Template::Script(p) => p.display().to_string(),
        }
    }
}

fn check_script(p: &Path) -> Result<(), StoreError> {
    let meta = std::fs::metadata(p).map_err(|e| {
        StoreError::io(
            "use template script",
            p,
            e,
            "pass the path of an existing template script",
        )
    })?;
    if !meta.is_file() {
        return Err(StoreError::other(format!(
            "cannot use template script \"{}\": it is not a regular file; pass the path of a template script",
            p.display()
        )));
    }
    if meta.permissions().mode() & 0o111 == 0 {
        return Err(StoreError::other(format!(
            "cannot use template script \"{}\": it is not executable; make it so with \"chmod +x {}\"",
            p.display(),
            p.display()
        )));
    }
    Ok(())
}

/// The built-in templates, then the LXC ones found in `dir` (by their short names).
fn available(dir: &Path) -> Vec<String> {
    let mut lxc: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_prefix("lxc-"))
                .map(str::to_string)
        })
        .collect();
    lxc.sort();
    let mut out = vec![
        "busybox (built-in)".to_string(),
        "debian (built-in)".to_string(),
        "none (built-in)".to_string(),
    ];
    out.extend(lxc);
    out
}

/// Everything a template script is told about the new container.
pub(crate) struct ScriptRun<'a> {
    pub script: &'a Path,
    pub name: &'a str,
    pub lxcpath: &'a Path,
    pub container_dir: &'a Path,
    pub rootfs: &'a Path,
    pub config: &'a Path,
    pub args: &'a [String],
    pub quiet: bool,
}

/// How many lines of the script's stderr go into the error message.
const TAIL_LINES: usize = 10;
/// How much of the script's stderr is kept to find them.
const TAIL_BYTES: usize = 16 * 1024;

/// Runs a template script as LXC does: `script --path=DIR --name=NAME --rootfs=ROOTFS ARGS...`
/// (argv[0] is the script's base name), with `LXC_PATH`, `LXC_NAME`, `LXC_ROOTFS_PATH`,
/// `LXC_CONFIG_FILE` and `LXC_TEMPLATE_CONFIG` in the environment. As root it runs in a
/// mount namespace of its own (host mounts still propagate in, its own do not leak out).
/// stdout and stderr pass through unless `quiet`; a copy of stderr's end goes into the
/// error if the script fails.
pub(crate) fn run_script(r: &ScriptRun) -> Result<(), StoreError> {
    let base = r
        .script
        .file_name()
        .map(|s| s.to_os_string())
        .unwrap_or_else(|| r.script.as_os_str().to_os_string());
    let mut cmd = Command::new(r.script);
    cmd.arg0(base)
        .arg(opt("--path=", r.container_dir))
        .arg(opt("--name=", Path::new(r.name)))
        .arg(opt("--rootfs=", r.rootfs))
        .args(r.args)
        .env("LXC_PATH", r.lxcpath)
        .env("LXC_NAME", r.name)
        .env("LXC_ROOTFS_PATH", r.rootfs)
        .env("LXC_CONFIG_FILE", r.config);
    if Path::new(LXC_TEMPLATE_CONFIG).is_dir() {
        cmd.env("LXC_TEMPLATE_CONFIG", LXC_TEMPLATE_CONFIG);
    }
    if r.quiet {
        cmd.stdin(Stdio::null()).stdout(Stdio::null());
    }
    cmd.stderr(Stdio::piped());
    let as_root = nix::unistd::geteuid().is_root();
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: the closure runs in the forked child before exec and only makes system calls
    // (prctl, umask, unshare, mount) that are async-signal-safe; it allocates nothing.
    unsafe {
        cmd.pre_exec(move || child_setup(as_root, parent));
    }
    let shown = r.script.display().to_string();
    let mut child = cmd.spawn().map_err(|e| {
        let fix = match e.raw_os_error() {
            Some(libc::ENOEXEC) => "give it a #! line".to_string(),
            Some(libc::EACCES) => format!("make it executable with \"chmod +x {shown}\""),
            _ => "check the script and its interpreter".to_string(),
        };
        StoreError::io(
            format!("run template script for container \"{}\"", r.name),
            r.script,
            e,
            fix,
        )
    })?;

    // Copy stderr through (unless quiet) and keep its end. A reader thread, so that a
    // daemon the script leaves behind holding stderr open cannot hang us after it exits.
    let kept = Arc::new(Mutex::new(VecDeque::<u8>::new()));
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let mut pipe = child.stderr.take().expect("stderr is piped");
    let kept2 = Arc::clone(&kept);
    let quiet = r.quiet;
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if !quiet {
                        let _ = io::stderr().write_all(&buf[..n]);
                    }
                    let mut k = kept2.lock().unwrap_or_else(|p| p.into_inner());
                    k.extend(&buf[..n]);
                    let excess = k.len().saturating_sub(TAIL_BYTES);
                    k.drain(..excess);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        let _ = done_tx.send(());
    });
    let status = child
        .wait()
        .map_err(|e| StoreError::io("wait for template script", r.script, e, "retry"))?;
    let _ = done_rx.recv_timeout(Duration::from_secs(2));
    if status.success() {
        return Ok(());
    }
    let status_text = match (status.code(), status.signal()) {
        (Some(c), _) => format!("exit code {c}"),
        (None, Some(s)) => format!("killed by signal {s} ({})", signal_name(s)),
        _ => "failed".to_string(),
    };
    let text = {
        let k = kept.lock().unwrap_or_else(|p| p.into_inner());
        String::from_utf8_lossy(&k.iter().copied().collect::<Vec<u8>>()).into_owned()
    };
    Err(StoreError::TemplateFailed {
        template: shown,
        name: r.name.to_string(),
        status: status_text,
        stderr_tail: last_lines(&text, TAIL_LINES),
    })
}

/// In the child between fork and exec: it dies with hako, with everything it starts (a
/// script that outlived a killed create would go on writing into a directory the next
/// destroy removes: crate::subproc), a sane umask, and (as root) a private mount namespace
/// that still receives the host's mount events.
fn child_setup(as_root: bool, parent: libc::pid_t) -> io::Result<()> {
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
    // SAFETY: called from the pre_exec closure only.
    unsafe { crate::subproc::die_with_parent(parent, as_root) }
}

fn opt(prefix: &str, value: &Path) -> OsString {
    let mut s = OsString::from(prefix);
    s.push(value.as_os_str());
    s
}

/// The last `n` non-empty lines, each cut to 300 characters.
pub(crate) fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty())
        .collect();
    let start = lines.len().saturating_sub(n);
    lines[start..]
        .iter()
        .map(|l| {
            if l.chars().count() > 300 {
                l.chars().take(300).collect::<String>() + "…"
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn signal_name(s: i32) -> &'static str {
    nix::sys::signal::Signal::try_from(s)
        .map(|s| s.as_str())
        .unwrap_or("unknown")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
        let p = dir.join(name);
        fs::write(&p, body).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    #[test]
    fn builtins() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(
            Template::parse_in("busybox", d.path()).unwrap(),
            Template::Busybox
        );
        assert_eq!(
            Template::parse_in("none", d.path()).unwrap(),
            Template::None
        );
    }

    #[test]
    fn names_resolve_in_the_lxc_template_dir() {
        let d = tempfile::tempdir().unwrap();
        script(d.path(), "lxc-debian", "#!/bin/sh\n");
        let alpine = script(d.path(), "lxc-alpine", "#!/bin/sh\n");
        assert_eq!(
            Template::parse_in("alpine", d.path()).unwrap(),
            Template::Script(alpine)
        );
        // the built-in debian wins over LXC's lxc-debian, as busybox does
        assert_eq!(
            Template::parse_in("debian", d.path()).unwrap(),
            Template::Debian
        );
        let e = Template::parse_in("fedora", d.path())
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown template \"fedora\""), "{e}");
        assert!(
            e.contains("busybox (built-in), debian (built-in), none (built-in), alpine, debian"),
            "{e}"
        );
        assert!(!e.contains('\n'));
    }

    #[test]
    fn paths_must_be_executable_files() {
        let d = tempfile::tempdir().unwrap();
        let ok = script(d.path(), "mytpl", "#!/bin/sh\n");
        assert_eq!(
            Template::parse_in(ok.to_str().unwrap(), d.path()).unwrap(),
            Template::Script(ok.clone())
        );
        let noexec = d.path().join("noexec");
        fs::write(&noexec, "#!/bin/sh\n").unwrap();
        fs::set_permissions(&noexec, fs::Permissions::from_mode(0o644)).unwrap();
        let e = Template::parse_in(noexec.to_str().unwrap(), d.path())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("not executable") && e.contains("chmod +x"),
            "{e}"
        );
        let e = Template::parse_in(d.path().join("missing").to_str().unwrap(), d.path())
            .unwrap_err()
            .to_string();
        assert!(e.contains("no such file"), "{e}");
        let e = Template::parse_in(d.path().to_str().unwrap(), d.path())
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a regular file"), "{e}");
    }

    #[test]
    fn relative_paths_become_absolute() {
        let t = Template::parse_in("./Cargo.toml", Path::new("/nonexistent"));
        // Cargo.toml is not executable, so this errors, naming the absolute path
        let e = t.unwrap_err().to_string();
        let abs = std::env::current_dir().unwrap().join("./Cargo.toml");
        assert!(e.contains(&abs.display().to_string()), "{e}");
    }

    #[test]
    fn real_lxc_templates_resolve_when_installed() {
        let dir = Path::new(LXC_TEMPLATE_DIR);
        if !dir.join("lxc-busybox").exists() {
            eprintln!("SKIPPED: lxc-templates is not installed");
            return;
        }
        assert_eq!(
            Template::parse("download").unwrap(),
            Template::Script(dir.join("lxc-download"))
        );
        // the built-in busybox wins over LXC's lxc-busybox
        assert_eq!(Template::parse("busybox").unwrap(), Template::Busybox);
    }

    #[test]
    fn last_lines_keeps_the_end() {
        let text = (1..=20)
            .map(|i| format!("line {i}"))
            .collect::<Vec<_>>()
            .join("\n\n");
        let t = last_lines(&text, 3);
        assert_eq!(t, "line 18\nline 19\nline 20");
    }

    #[test]
    fn script_gets_lxc_arguments_and_environment() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("out");
        let s = script(
            d.path(),
            "tpl",
            &format!(
                "#!/bin/sh\n{{ for a in \"$@\"; do echo \"arg=$a\"; done; \
                 echo \"env=$LXC_NAME $LXC_PATH $LXC_ROOTFS_PATH $LXC_CONFIG_FILE\"; }} > {}\n",
                out.display()
            ),
        );
        let args = vec!["-r".to_string(), "bookworm two".to_string()];
        run_script(&ScriptRun {
            script: &s,
            name: "web",
            lxcpath: Path::new("/lp"),
            container_dir: Path::new("/lp/web"),
            rootfs: Path::new("/lp/web/rootfs"),
            config: Path::new("/lp/web/config"),
            args: &args,
            quiet: true,
        })
        .unwrap();
        let got = fs::read_to_string(&out).unwrap();
        assert_eq!(
            got,
            "arg=--path=/lp/web\narg=--name=web\narg=--rootfs=/lp/web/rootfs\narg=-r\narg=bookworm two\n\
             env=web /lp /lp/web/rootfs /lp/web/config\n"
        );
    }

    #[test]
    fn failing_script_reports_code_and_stderr_tail() {
        let d = tempfile::tempdir().unwrap();
        let s = script(
            d.path(),
            "bad",
            "#!/bin/sh\nfor i in $(seq 1 30); do echo \"noise $i\" >&2; done\necho 'debootstrap: cannot reach mirror' >&2\nexit 3\n",
        );
        let e = run_script(&ScriptRun {
            script: &s,
            name: "web",
            lxcpath: Path::new("/lp"),
            container_dir: Path::new("/lp/web"),
            rootfs: Path::new("/lp/web/rootfs"),
            config: Path::new("/lp/web/config"),
            args: &[],
            quiet: true,
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("exit code 3"), "{e}");
        assert!(e.contains("debootstrap: cannot reach mirror"), "{e}");
        assert!(e.contains(&s.display().to_string()), "{e}");
        assert!(
            e.contains("noise 30") && e.contains("noise 22") && !e.contains("noise 21 "),
            "{e}"
        );
        assert!(!e.contains('\n'), "{e}");
    }

    /// Processes with `marker` in their environment, as the host's /proc shows them.
    fn marked(marker: &str) -> Vec<String> {
        let mut found = Vec::new();
        for e in fs::read_dir("/proc").unwrap().flatten() {
            if let Ok(env) = fs::read(e.path().join("environ")) {
                if env.split(|b| *b == 0).any(|v| v == marker.as_bytes()) {
                    found.push(e.file_name().to_string_lossy().into_owned());
                }
            }
        }
        found
    }

    #[test]
    fn what_a_script_starts_dies_with_it() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("SKIPPED what_a_script_starts_dies_with_it: needs root (a PID namespace per script)");
            return;
        }
        let d = tempfile::tempdir().unwrap();
        let marker = format!("HAKO_TPL_MARK={}", std::process::id());
        // a daemon left behind, holding stderr open, and a grandchild still at work
        let s = script(
            d.path(),
            "leaves",
            &format!(
                "#!/bin/sh\nexport {marker}\nsleep 300 &\n(sleep 300; echo late > \"$LXC_ROOTFS_PATH/late\") &\necho $$ >&2\nexit 0\n"
            ),
        );
        let run = |quiet| {
            run_script(&ScriptRun {
                script: &s,
                name: "web",
                lxcpath: d.path(),
                container_dir: d.path(),
                rootfs: d.path(),
                config: &d.path().join("config"),
                args: &[],
                quiet,
            })
        };
        let t = std::time::Instant::now();
        run(true).unwrap();
        assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
        assert_eq!(
            marked(&marker),
            Vec::<String>::new(),
            "processes outlived the script"
        );
        assert!(fs::symlink_metadata(d.path().join("late")).is_err());
    }

    #[test]
    fn killed_script_names_the_signal() {
        let d = tempfile::tempdir().unwrap();
        let s = script(d.path(), "killed", "#!/bin/sh\nkill -9 $$\n");
        let e = run_script(&ScriptRun {
            script: &s,
            name: "web",
            lxcpath: Path::new("/lp"),
            container_dir: Path::new("/lp/web"),
            rootfs: Path::new("/lp/web/rootfs"),
            config: Path::new("/lp/web/config"),
            args: &[],
            quiet: true,
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("killed by signal 9 (SIGKILL)"), "{e}");
    }
}
