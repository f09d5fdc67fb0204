//! The built-in debian template: a Debian image built once into the image cache (with
//! mmdebstrap, or debootstrap when mmdebstrap is not installed), and containers that are
//! copy-on-write clones of it with an identity of their own.

use std::collections::VecDeque;
use std::fs;
use std::io::Read;
use std::os::fd::AsFd;
use std::os::unix::fs::symlink;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sha2::{Digest, Sha256};

use crate::identity::{validate_public_keys, validate_user_name, write_file, LoginSetup};
use crate::progress::Progress;
use crate::StoreError;

/// The release built when `-r` is not given.
pub const DEFAULT_RELEASE: &str = "bookworm";
/// Where the host's apt sources are (the default mirror comes from them, as mmdebstrap's).
pub const APT_DIR: &str = "/etc/apt";

/// The host's Debian mirror, as its apt sources name it (one-line `sources.list` and
/// `sources.list.d/*.list` entries, deb822 `*.sources` stanzas): the URI of the first enabled
/// `deb` source whose suites include a release the template knows under its plain name
/// (`bookworm`, not `bookworm-security`). None when the host names none.
pub fn host_mirror_in(apt: &Path) -> Option<String> {
    let mut files = vec![apt.join("sources.list")];
    if let Ok(rd) = std::fs::read_dir(apt.join("sources.list.d")) {
        let mut more: Vec<PathBuf> = rd
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "list" || x == "sources"))
            .collect();
        more.sort();
        files.extend(more);
    }
    let debian_suite = |s: &str| RELEASES.contains(&s) && !s.contains('-');
    for f in files {
        let Ok(text) = hako_config::read_bounded_text(&f, 1 << 20) else {
            continue;
        };
        if f.extension().is_some_and(|x| x == "sources") {
            for stanza in text.split("\n\n") {
                let field = |name: &str| {
                    stanza.lines().find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        (k.trim().eq_ignore_ascii_case(name)).then(|| v.trim().to_string())
                    })
                };
                let deb = field("Types").is_some_and(|t| t.split_whitespace().any(|t| t == "deb"));
                let enabled = field("Enabled").as_deref() != Some("no");
                let suites = field("Suites").unwrap_or_default();
                if deb && enabled && suites.split_whitespace().any(debian_suite) {
                    if let Some(uri) =
                        field("URIs").and_then(|u| u.split_whitespace().next().map(String::from))
                    {
                        return Some(uri);
                    }
                }
            }
        } else {
            for l in text.lines() {
                let l = l.split('#').next().unwrap_or("").trim();
                let mut w = l.split_whitespace();
                if w.next() != Some("deb") {
                    continue;
                }
                let mut rest: Vec<&str> = w.collect();
                if rest.first().is_some_and(|o| o.starts_with('[')) {
                    // options: `[arch=amd64 signed-by=...]`
                    while let Some(o) = rest.first().copied() {
                        rest.remove(0);
                        if o.ends_with(']') {
                            break;
                        }
                    }
                }
                if let (Some(uri), Some(suite)) = (rest.first(), rest.get(1)) {
                    if debian_suite(suite) {
                        return Some(uri.to_string());
                    }
                }
            }
        }
    }
    None
}

/// Releases the template knows (codenames and suite names).
pub const RELEASES: &[&str] = &[
    "buster",
    "bullseye",
    "bookworm",
    "trixie",
    "forky",
    "sid",
    "oldoldstable",
    "oldstable",
    "stable",
    "testing",
    "unstable",
];

/// Debian's architectures.
pub const ARCHES: &[&str] = &[
    "amd64", "arm64", "armel", "armhf", "i386", "mips64el", "mipsel", "ppc64el", "riscv64", "s390x",
];

/// What every image has on top of minbase: systemd as init, systemd-networkd (DHCP on
/// eth0) with systemd-resolved, D-Bus (logind and the other units that need it start
/// cleanly), sshd, sudo and the usual tools.
pub const BASE_PACKAGES: &[&str] = &[
    "init",
    "systemd-resolved",
    "dbus",
    "openssh-server",
    "sudo",
    "iproute2",
    "iputils-ping",
    "less",
    "vim-tiny",
    "dnsutils",
    "netbase",
    "procps",
];

/// Config keys a debian container gets unless the system default config or `-f` set them.
pub(crate) const DEBIAN_CONFIG: &[(&str, &str)] = &[
    ("lxc.mount.auto", "proc:mixed sys:mixed"),
    ("lxc.autodev", "1"),
    ("lxc.tty.max", "4"),
    ("lxc.pty.max", "1024"),
    ("lxc.init.cmd", "/sbin/init"),
];

/// The template's arguments (after `--`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DebianArgs {
    pub release: String,
    pub arch: String,
    pub mirror: String,
    /// `--packages a,b`: extra packages (sorted, no duplicates); they make a separate image.
    pub packages: Vec<String>,
    pub user: Option<String>,
    pub ssh_key: Option<PathBuf>,
    pub password: bool,
}

const USAGE: &str = "the accepted arguments are: -r|--release RELEASE (default bookworm), -a|--arch ARCH (default: the host's), --mirror URL, --packages a,b, --user NAME, --ssh-key FILE, --password";

/// The host's Debian architecture name.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "i386",
        "arm" => "armhf",
        "powerpc64" => "ppc64el",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        "mips64" => "mips64el",
        other => other,
    }
}

/// Parses and checks the template arguments (no network access, no files read; without
/// `--mirror` the mirror stays empty until [`resolve_mirror`] fills it in).
pub fn parse_args(args: &[String]) -> Result<DebianArgs, StoreError> {
    let mut a = DebianArgs {
        release: DEFAULT_RELEASE.to_string(),
        arch: host_arch().to_string(),
        mirror: String::new(),
        packages: Vec::new(),
        user: None,
        ssh_key: None,
        password: false,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (arg.as_str(), None),
        };
        let mut value = |name: &str| -> Result<String, StoreError> {
            match inline.clone().or_else(|| it.next().cloned()) {
                Some(v) => Ok(v),
                None => Err(StoreError::other(format!(
                    "template debian: {name} needs a value; {USAGE}"
                ))),
            }
        };
        match flag {
            "-r" | "--release" => a.release = value(flag)?,
            "-a" | "--arch" => a.arch = value(flag)?,
            "--mirror" | "-m" => a.mirror = value(flag)?,
            "--packages" => {
                for p in value(flag)?
                    .split(',')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                {
                    a.packages.push(p.to_string());
                }
            }
            "--user" | "-u" => a.user = Some(value(flag)?),
            "--ssh-key" | "--auth-key" => a.ssh_key = Some(PathBuf::from(value(flag)?)),
            "--password" if inline.is_none() => a.password = true,
            _ => {
                return Err(StoreError::other(format!(
                    "template debian: unknown argument \"{arg}\"; {USAGE}"
                )))
            }
        }
    }
    if !RELEASES.contains(&a.release.as_str()) {
        return Err(StoreError::other(format!(
            "template debian: unknown release \"{}\"; use one of: {}",
            a.release,
            RELEASES.join(", ")
        )));
    }
    if !ARCHES.contains(&a.arch.as_str()) {
        return Err(StoreError::other(format!(
            "template debian: unknown architecture \"{}\"; use one of: {}",
            a.arch,
            ARCHES.join(", ")
        )));
    }
    if !can_run(&a.arch) {
        return Err(StoreError::other(format!(
            "template debian: this {} host cannot run {} programs, which building the image needs; use -a {} or install qemu-user-static (binfmt support)",
            host_arch(),
            a.arch,
            host_arch()
        )));
    }
    if !a.mirror.is_empty() {
        check_mirror(&a.mirror)?;
    }
    for p in &a.packages {
        let ok = p.len() >= 2
            && p.chars()
                .next()
                .map(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
                .unwrap_or(false)
            && p.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c));
        if !ok {
            return Err(StoreError::other(format!(
                "template debian: \"{p}\" is not a Debian package name; --packages takes names such as htop,curl"
            )));
        }
    }
    a.packages.sort();
    a.packages.dedup();
    if let Some(u) = &a.user {
        if u != "root" {
            validate_user_name(u)?;
        }
    }
    Ok(a)
}

/// Fills in the mirror when `--mirror` was not given: the one the host's apt sources in `apt`
/// name. Only building an image needs a mirror; a warm cache does without one.
pub fn resolve_mirror_in(a: &mut DebianArgs, apt: &Path) -> Result<(), StoreError> {
    if a.mirror.is_empty() {
        a.mirror = host_mirror_in(apt).ok_or_else(|| {
            StoreError::other(format!(
                "template debian: image {} is not cached and the host's apt sources ({}/sources.list, {}/sources.list.d) name no Debian mirror to build it from; pass one with -- --mirror URL",
                image_name(a),
                apt.display(),
                apt.display()
            ))
        })?;
        check_mirror(&a.mirror)?;
    }
    Ok(())
}

/// [`resolve_mirror_in`] with the host's apt sources.
pub fn resolve_mirror(a: &mut DebianArgs) -> Result<(), StoreError> {
    resolve_mirror_in(a, Path::new(APT_DIR))
}

fn check_mirror(m: &str) -> Result<(), StoreError> {
    if !(m.starts_with("http://") || m.starts_with("https://") || m.starts_with("file:/"))
        || m.contains(char::is_whitespace)
    {
        return Err(StoreError::other(format!(
            "template debian: invalid mirror \"{m}\"; give an http://, https:// or file:/ URL such as http://MIRROR/debian (the host's apt sources name one)"
        )));
    }
    Ok(())
}

/// Can this host run programs of `arch` (natively, or through binfmt_misc)?
fn can_run(arch: &str) -> bool {
    let host = host_arch();
    if arch == host
        || (host == "amd64" && arch == "i386")
        || (host == "arm64" && (arch == "armhf" || arch == "armel"))
    {
        return true;
    }
    let qemu = match arch {
        "arm64" => "aarch64",
        "armel" | "armhf" => "arm",
        "i386" => "i386",
        "amd64" => "x86_64",
        "ppc64el" => "ppc64le",
        "mips64el" => "mips64el",
        "mipsel" => "mipsel",
        "riscv64" => "riscv64",
        "s390x" => "s390x",
        _ => return false,
    };
    Path::new(&format!("/proc/sys/fs/binfmt_misc/qemu-{qemu}")).exists()
}

/// The image's name in the cache: `<release>-<arch>`, with `-<hash>` of the extra
/// packages when there are any (each package set is an image of its own).
pub fn image_name(a: &DebianArgs) -> String {
    if a.packages.is_empty() {
        format!("{}-{}", a.release, a.arch)
    } else {
        let h = Sha256::digest(a.packages.join(",").as_bytes());
        let hex: String = h[..4].iter().map(|b| format!("{b:02x}")).collect();
        format!("{}-{}-{hex}", a.release, a.arch)
    }
}

/// Reads what the login setup needs from the host, before anything is built: the
/// `--ssh-key` file and the `--password` (from `HAKO_PASSWORD`, else asked on the terminal).
pub fn login_setup(a: &DebianArgs) -> Result<LoginSetup, StoreError> {
    let authorized_keys = match &a.ssh_key {
        Some(p) => {
            let text = crate::cfg::read_config_text(p).map_err(|e| {
                StoreError::io(
                    "read the --ssh-key file",
                    p,
                    e,
                    "pass the path of a public key file such as ~/.ssh/id_ed25519.pub",
                )
            })?;
            validate_public_keys(&text, &p.display().to_string())?;
            Some(text)
        }
        None => None,
    };
    let password = if a.password {
        Some(read_password(a.user.as_deref().unwrap_or("root"))?)
    } else {
        None
    };
    Ok(LoginSetup {
        user: a.user.clone(),
        authorized_keys,
        password,
    })
}

fn read_password(user: &str) -> Result<String, StoreError> {
    if let Some(p) = std::env::var_os("HAKO_PASSWORD") {
        let p = p.to_string_lossy().into_owned();
        if p.is_empty() || p.contains('\n') {
            return Err(StoreError::other(
                "HAKO_PASSWORD is empty or holds a newline; set it to the password, or unset it to be asked",
            ));
        }
        return Ok(p);
    }
    let tty = fs::OpenOptions::new().read(true).write(true).open("/dev/tty").map_err(|_| {
        StoreError::other(
            "--password needs a terminal to ask for the password, and there is none; set HAKO_PASSWORD in the environment instead",
        )
    })?;
    let first = prompt_hidden(&tty, &format!("Password for {user} in the new container: "))?;
    let second = prompt_hidden(&tty, "Again: ")?;
    if first != second {
        return Err(StoreError::other(
            "the two passwords differ; run create again and type the same password twice",
        ));
    }
    if first.is_empty() {
        return Err(StoreError::other(
            "the password is empty; run create again and type a password",
        ));
    }
    Ok(first)
}

fn prompt_hidden(tty: &fs::File, prompt: &str) -> Result<String, StoreError> {
    use nix::sys::termios::{tcgetattr, tcsetattr, LocalFlags, SetArg};
    use std::io::{BufRead, Write};
    let mut w = tty;
    let _ = w.write_all(prompt.as_bytes());
    let _ = w.flush();
    let saved = tcgetattr(tty.as_fd()).ok();
    if let Some(t) = &saved {
        let mut t2 = t.clone();
        t2.local_flags.remove(LocalFlags::ECHO);
        t2.local_flags.insert(LocalFlags::ECHONL);
        let _ = tcsetattr(tty.as_fd(), SetArg::TCSANOW, &t2);
    }
    let mut line = String::new();
    let r = std::io::BufReader::new(tty).read_line(&mut line);
    if let Some(t) = &saved {
        let _ = tcsetattr(tty.as_fd(), SetArg::TCSANOW, t);
    }
    r.map_err(|e| {
        StoreError::io(
            "read the password from",
            "/dev/tty",
            e,
            "set HAKO_PASSWORD instead",
        )
    })?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

/// Which program builds the image: `$HAKO_DEBIAN_BUILDER` if set (mmdebstrap, debootstrap,
/// or the absolute path of a program called as mmdebstrap is, e.g. a fake builder in
/// tests), else mmdebstrap when installed, else debootstrap.
pub fn builder() -> Result<String, StoreError> {
    let installed = |p: &str| {
        std::env::var_os("PATH")
            .map(|path| std::env::split_paths(&path).any(|d| d.join(p).is_file()))
            .unwrap_or(false)
            || Path::new("/usr/bin").join(p).is_file()
            || Path::new("/usr/sbin").join(p).is_file()
    };
    let forced = std::env::var("HAKO_DEBIAN_BUILDER")
        .ok()
        .filter(|s| !s.is_empty());
    let pick = match forced.as_deref() {
        Some("mmdebstrap") => "mmdebstrap",
        Some("debootstrap") => "debootstrap",
        Some(p) if p.starts_with('/') => {
            use std::os::unix::fs::PermissionsExt;
            let ok = fs::metadata(p).map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false);
            if !ok {
                return Err(StoreError::other(format!(
                    "HAKO_DEBIAN_BUILDER is \"{p}\", which is not an executable file; point it at one, or unset it"
                )));
            }
            return Ok(p.to_string());
        }
        Some(other) => {
            return Err(StoreError::other(format!(
                "HAKO_DEBIAN_BUILDER is \"{other}\"; set it to mmdebstrap, debootstrap or the absolute path of a builder, or unset it"
            )))
        }
        None if installed("mmdebstrap") => "mmdebstrap",
        None => "debootstrap",
    };
    if !installed(pick) {
        return Err(StoreError::other(format!(
            "template debian needs {pick} to build the image, and it is not installed; apt-get install mmdebstrap (or debootstrap)"
        )));
    }
    Ok(pick.to_string())
}

/// The builder's command line for `a`, building into `target`.
pub fn builder_command(builder: &str, a: &DebianArgs, target: &Path) -> Command {
    let mut include: Vec<&str> = BASE_PACKAGES.to_vec();
    include.extend(a.packages.iter().map(String::as_str));
    let mut c = Command::new(builder);
    match builder {
        b if b != "debootstrap" => {
            c.args([
                "--mode=root",
                "--format=directory",
                "--variant=minbase",
                "--components=main",
                "--verbose",
            ])
            .arg(format!("--arch={}", a.arch))
            .arg(format!("--include={}", include.join(",")))
            .arg("--aptopt=Acquire::Retries \"2\"")
            .arg(&a.release)
            .arg(target)
            .arg(&a.mirror);
        }
        _ => {
            c.args(["--variant=minbase", "--components=main"])
                .arg(format!("--arch={}", a.arch))
                .arg(format!("--include={}", include.join(",")))
                .arg(&a.release)
                .arg(target)
                .arg(&a.mirror);
        }
    }
    c
}

/// What a line of the builder's output says about its progress.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct BuildPhase {
    pub phase: String,
    pub fetched: u32,
    pub unpacked: u32,
    pub configured: u32,
}

impl BuildPhase {
    /// Takes one output line (mmdebstrap --verbose or debootstrap).
    pub fn line(&mut self, l: &str) {
        let l = l.trim();
        if l.starts_with("Get:")
            || l.starts_with("I: Retrieving ") && !l.contains("Release") && !l.contains("Packages")
        {
            self.fetched += 1;
            self.phase = "downloading packages".into();
        } else if l.starts_with("Unpacking ")
            || l.starts_with("I: Unpacking ") && !l.ends_with("packages...")
        {
            self.unpacked += 1;
            self.phase = "unpacking".into();
        } else if l.starts_with("Setting up ")
            || l.starts_with("I: Configuring ") && !l.ends_with("packages...")
        {
            self.configured += 1;
            self.phase = "configuring".into();
        } else if let Some(msg) = l.strip_prefix("I: ") {
            let m = msg.to_ascii_lowercase();
            let p = if m.starts_with("running apt-get update")
                || m.contains("release")
                || m.starts_with("retrieving packages")
                || m.starts_with("resolving")
            {
                Some("reading package lists")
            } else if m.starts_with("downloading") {
                Some("downloading packages")
            } else if m.starts_with("extracting") {
                Some("extracting")
            } else if m.starts_with("installing") {
                Some("installing packages")
            } else if m.starts_with("unpacking") {
                Some("unpacking")
            } else if m.starts_with("configuring") {
                Some("configuring")
            } else if m.starts_with("cleaning") {
                Some("cleaning up")
            } else {
                None
            };
            if let Some(p) = p {
                self.phase = p.into();
            }
        }
    }

    pub fn show(&self) -> String {
        let mut s = if self.phase.is_empty() {
            "starting".to_string()
        } else {
            self.phase.clone()
        };
        let mut counts = Vec::new();
        if self.fetched > 0 {
            counts.push(format!("{} downloaded", self.fetched));
        }
        if self.unpacked > 0 {
            counts.push(format!("{} unpacked", self.unpacked));
        }
        if self.configured > 0 {
            counts.push(format!("{} set up", self.configured));
        }
        if !counts.is_empty() {
            s.push_str(&format!(" ({})", counts.join(", ")));
        }
        s
    }
}

/// The remedy for a failed build, from the end of the builder's output.
pub(crate) fn build_failure_hint(tail: &str, a: &DebianArgs, cache: &Path) -> String {
    if tail.contains("No space left on device") || tail.contains("ENOSPC") {
        return format!(
            "the image cache filesystem is full; free space in {} or point HAKO_CACHE at a bigger filesystem",
            cache.display()
        );
    }
    for marker in [
        "Unable to locate package ",
        "has no installation candidate",
        "Couldn't find any package",
    ] {
        if let Some(i) = tail.find(marker) {
            let rest = &tail[i..];
            let pkg = rest
                .strip_prefix("Unable to locate package ")
                .and_then(|r| r.split_whitespace().next())
                .unwrap_or("a package");
            return format!(
                "{pkg} does not exist in Debian {} ({}); check the names given to --packages",
                a.release, a.arch
            );
        }
    }
    let net = [
        "Temporary failure resolving",
        "Could not connect",
        "Failed to fetch",
        "Connection refused",
        "Unable to connect",
        "Could not resolve",
        "couldn't download",
        "Failed getting release file",
    ];
    if net.iter().any(|m| tail.contains(m)) {
        return format!(
            "the mirror {} cannot be reached or has no {} release; check the network and the URL given to --mirror",
            a.mirror, a.release
        );
    }
    "check the template arguments (after --), the mirror and the network, then retry".to_string()
}

/// The lines of the builder's output worth quoting: its error lines, else its last lines.
fn quote_tail(tail: &str) -> String {
    let errors: Vec<&str> = tail
        .lines()
        .map(str::trim)
        .filter(|l| {
            l.starts_with("E:") || l.starts_with("W: Failure") || l.contains("No space left")
        })
        .collect();
    let pick: Vec<&str> = if errors.is_empty() {
        let all: Vec<&str> = tail
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        all[all.len().saturating_sub(3)..].to_vec()
    } else {
        errors[errors.len().saturating_sub(3)..].to_vec()
    };
    pick.iter()
        .map(|l| {
            if l.chars().count() > 240 {
                l.chars().take(240).collect::<String>() + "…"
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

/// Builds the image for `a` into `rootfs` (an empty directory): runs the builder in a mount
/// namespace of its own (whatever it mounts goes with it), shows its progress on a
/// terminal, then prepares the tree as an image ([`prepare_image`]).
pub fn build_image(
    a: &DebianArgs,
    rootfs: &Path,
    cache_root: &Path,
    shown: &str,
    progress: bool,
) -> Result<(), StoreError> {
    let builder = builder()?;
    let builder = builder.as_str();
    let mut cmd = builder_command(builder, a, rootfs);
    let (rd, wr) = nix::unistd::pipe()
        .map_err(|e| StoreError::other(format!("cannot make a pipe: {e}; retry")))?;
    let wr2 = wr
        .try_clone()
        .map_err(|e| StoreError::other(format!("cannot dup a pipe: {e}; retry")))?;
    cmd.stdin(Stdio::null())
        .stdout(Stdio::from(wr))
        .stderr(Stdio::from(wr2));
    cmd.env("LC_ALL", "C.UTF-8")
        .env("DEBIAN_FRONTEND", "noninteractive");
    // the builder dies with us, with everything it started, and its mounts with its
    // namespace (crate::subproc)
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: die_with_parent is made for a pre_exec closure (async-signal-safe calls only).
    unsafe {
        cmd.pre_exec(move || crate::subproc::die_with_parent(parent, true));
    }
    let mut p = Progress::new(format!("building image {shown} with {builder}"), progress);
    p.set("starting");
    let mut child = cmd.spawn().map_err(|e| {
        StoreError::io(
            format!("run {builder} to build image {shown}"),
            builder,
            e,
            "apt-get install mmdebstrap",
        )
    })?;
    drop(cmd);
    let mut phase = BuildPhase::default();
    let mut tail: VecDeque<u8> = VecDeque::new();
    let mut pending = Vec::new();
    let mut file = fs::File::from(rd);
    let mut buf = [0u8; 8192];
    loop {
        let ready = {
            let mut fds = [nix::poll::PollFd::new(
                file.as_fd(),
                nix::poll::PollFlags::POLLIN,
            )];
            nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(1000u16)).unwrap_or(1)
        };
        if ready == 0 {
            p.tick();
            continue;
        }
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                tail.extend(&buf[..n]);
                let excess = tail.len().saturating_sub(32 * 1024);
                tail.drain(..excess);
                pending.extend_from_slice(&buf[..n]);
                while let Some(i) = pending.iter().position(|b| *b == b'\n' || *b == b'\r') {
                    let line: Vec<u8> = pending.drain(..=i).collect();
                    phase.line(&String::from_utf8_lossy(&line));
                }
                p.set(&phase.show());
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    let status = child
        .wait()
        .map_err(|e| StoreError::io("wait for the image builder", builder, e, "retry"))?;
    let tail = String::from_utf8_lossy(&tail.into_iter().collect::<Vec<u8>>()).into_owned();
    if !status.success() {
        p.finish("");
        return Err(StoreError::other(format!(
            "cannot build image {shown}: {builder} failed ({}): {}; {}",
            match status.code() {
                Some(c) => format!("exit code {c}"),
                None => "killed by a signal".to_string(),
            },
            quote_tail(&tail),
            build_failure_hint(&tail, a, cache_root)
        )));
    }
    p.set("preparing the image");
    prepare_image(rootfs)
        .map_err(|e| StoreError::other(format!("cannot prepare image {shown}: {e}")))?;
    p.finish("done");
    Ok(())
}

/// Is `rel` (e.g. "systemd/system/foo.service") installed under /lib or /usr/lib of `root`?
fn in_lib(root: &Path, rel: &str) -> bool {
    ["lib", "usr/lib"]
        .iter()
        .any(|l| root.join(l).join(rel).exists())
}

/// A symlink `rel` -> `target` below `root` (its directory made as needed), unless
/// something is at `rel` already; `what` names the step in an error.
fn link_once(root: &Path, rel: &str, target: &str, what: &str) -> Result<(), StoreError> {
    let l = root.join(rel);
    if fs::symlink_metadata(&l).is_ok() {
        return Ok(());
    }
    if let Some(dir) = l.parent() {
        fs::create_dir_all(dir)
            .map_err(|e| StoreError::io("create directory", dir, e, "check the tree"))?;
    }
    symlink(target, &l).map_err(|e| StoreError::io(what, &l, e, "check the tree"))
}

/// Generators that have nothing to find in a container (block devices to unlock, a GPT
/// root partition, a hibernation image, dm-verity/dm-integrity volumes). systemd runs every
/// generator before it loads a unit, each a process of its own, so each one costs boot
/// time; a `/dev/null` link of the same name in /etc/systemd/system-generators disables it
/// (systemd.generator(7)).
pub const CONTAINER_MASKED_GENERATORS: &[&str] = &[
    "systemd-cryptsetup-generator",
    "systemd-gpt-auto-generator",
    "systemd-hibernate-resume-generator",
    "systemd-integritysetup-generator",
    "systemd-veritysetup-generator",
];

/// Units that have nothing to do in a container and cost its shutdown time: the password
/// agents for the console and for wall(1) answer password requests (`systemd-ask-password`),
/// which in practice come from unlocking disks at boot, and a container unlocks none. Each
/// is a path unit with its own inotify instance, and closing an inotify instance that
/// watches something waits for a kernel grace period: systemd (a single thread) stalls
/// 5-20 ms per agent when it stops them at shutdown, on the path to the container's exit.
/// Masked, they are gone from boot and stop; a request still gets an answer from
/// `hako attach NAME -- systemd-tty-ask-password-agent`.
pub const CONTAINER_MASKED_UNITS: &[&str] = &[
    "systemd-ask-password-console.path",
    "systemd-ask-password-wall.path",
];

/// A drop-in for systemd-resolved.service: a `/tmp` and `/var/tmp` of its own (a tmpfs
/// each) instead of `PrivateTmp=`. systemd orders every `PrivateTmp=` unit after
/// systemd-tmpfiles-setup.service, and resolved is `Before=sysinit.target`, so the whole
/// boot waited for journald, the journal flush and tmpfiles to finish before resolved
/// could even begin its ~50 ms start. With its own tmpfs it starts alongside them; it
/// still sees no other program's temporary files and leaves none behind (its unit makes the
/// rest of the tree read-only, `ProtectSystem=strict`).
pub const RESOLVED_DROPIN: &str = "# Written by hako: private temporary directories as a tmpfs of their own rather than\n# PrivateTmp=, which would order resolved (and with it sysinit.target) after\n# systemd-tmpfiles-setup.service. The isolation is the same.\n[Service]\nPrivateTmp=no\nTemporaryFileSystem=/tmp:mode=1777 /var/tmp:mode=1777\n";

/// What makes a Debian tree boot fast as a container, done once in the image and again
/// at create for containers from images built before it existed (then it writes a few
/// hundred bytes into the container's own layer; with a current image it writes nothing):
///
/// - `/etc/.updated` and `/var/.updated` carry /usr's time, as systemd-update-done.service
///   (which Debian does not ship) would write them after a first boot, so the
///   `ConditionNeedsUpdate=` units (systemd-sysusers on the boot's critical path) do not run
///   on every boot: the image's system users already exist (the image build runs
///   systemd-sysusers). A package upgrade that changes /usr makes them run again.
/// - [`CONTAINER_MASKED_GENERATORS`] are disabled, [`CONTAINER_MASKED_UNITS`] masked (a
///   `/dev/null` link in /etc/systemd/system; `systemctl unmask` undoes it).
/// - systemd-resolved gets [`RESOLVED_DROPIN`] (hako-container.conf in its `.d`
///   directory), unless a drop-in of that name is there already.
/// - systemd-logind starts on first use instead of at every boot: Debian pulls it into
///   multi-user.target statically; a `/dev/null` link of the same name in
///   /etc/systemd/system/multi-user.target.wants drops that dependency, and D-Bus starts
///   logind when something asks for it (`loginctl`, `hostnamectl`-style tools, pam_systemd
///   at a login). Only when that activation file exists. About 70 ms less per boot here:
///   logind was the last unit on the critical chain.
pub fn boot_profile(root: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::MetadataExt;
    let usr = match fs::metadata(root.join("usr")) {
        Ok(m) => m,
        Err(_) => return Ok(()),
    };
    if !in_lib(root, "systemd/systemd") {
        return Ok(());
    }
    let nsec = usr.mtime() as i128 * 1_000_000_000 + usr.mtime_nsec() as i128;
    let stamp = format!("# Written by hako: this tree's first-boot updates are done (systemd ConditionNeedsUpdate=).\nTIMESTAMP_NSEC={nsec}\n");
    for dir in ["etc", "var"] {
        let rel = format!("{dir}/.updated");
        let p = root.join(&rel);
        if fs::read_to_string(&p).map(|t| t == stamp).unwrap_or(false) {
            continue;
        }
        write_file(root, &rel, stamp.as_bytes(), 0o644)?;
        let t = nix::sys::time::TimeSpec::new(usr.mtime(), usr.mtime_nsec());
        nix::sys::stat::utimensat(
            None,
            &p,
            &t,
            &t,
            nix::sys::stat::UtimensatFlags::NoFollowSymlink,
        )
        .map_err(|e| {
            StoreError::io(
                "set the time of",
                &p,
                e.into(),
                "check the container's root",
            )
        })?;
    }
    if in_lib(root, "systemd/system/systemd-logind.service")
        && ["usr/share", "usr/lib"].iter().any(|d| {
            root.join(d)
                .join("dbus-1/system-services/org.freedesktop.login1.service")
                .exists()
        })
    {
        link_once(
            root,
            "etc/systemd/system/multi-user.target.wants/systemd-logind.service",
            "/dev/null",
            "start logind on demand with",
        )?;
    }
    let resolved_dropin = "etc/systemd/system/systemd-resolved.service.d/hako-container.conf";
    if in_lib(root, "systemd/system/systemd-resolved.service")
        && fs::symlink_metadata(root.join(resolved_dropin)).is_err()
    {
        write_file(root, resolved_dropin, RESOLVED_DROPIN.as_bytes(), 0o644)?;
    }
    for (dir, names, what) in [
        (
            "systemd/system",
            CONTAINER_MASKED_UNITS,
            "mask the unit with",
        ),
        (
            "systemd/system-generators",
            CONTAINER_MASKED_GENERATORS,
            "mask the generator with",
        ),
    ] {
        for n in names {
            if in_lib(root, &format!("{dir}/{n}")) {
                link_once(root, &format!("etc/{dir}/{n}"), "/dev/null", what)?;
            }
        }
    }
    Ok(())
}

/// Makes a freshly built tree a shareable image: no per-machine identity (empty
/// machine-id, no SSH host keys, no hostname), networking by systemd-networkd (DHCP on
/// eth0) and systemd-resolved, gettys allowed on a container's pty-backed ttys.
pub fn prepare_image(root: &Path) -> Result<(), StoreError> {
    let rm = |rel: &str| -> Result<(), StoreError> {
        let p = root.join(rel);
        match fs::remove_file(&p) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StoreError::io("remove", &p, e, "check the image tree")),
        }
    };
    // identity
    write_file(root, "etc/machine-id", b"", 0o444)?;
    if fs::symlink_metadata(root.join("var/lib/dbus/machine-id"))
        .map(|m| m.is_file())
        .unwrap_or(false)
    {
        rm("var/lib/dbus/machine-id")?;
    }
    if let Ok(rd) = fs::read_dir(root.join("etc/ssh")) {
        for e in rd.flatten() {
            if e.file_name().to_string_lossy().starts_with("ssh_host_") {
                fs::remove_file(e.path())
                    .map_err(|x| StoreError::io("remove", e.path(), x, "check the image tree"))?;
            }
        }
    }
    rm("etc/hostname")?;
    write_file(
        root,
        "etc/hosts",
        b"127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\nff02::1\t\tip6-allnodes\nff02::2\t\tip6-allrouters\n",
        0o644,
    )?;
    write_file(
        root,
        "etc/fstab",
        b"# The container's mounts come from its config (lxc.mount.entry).\n",
        0o644,
    )?;
    // network: DHCP on eth0 with systemd-networkd
    write_file(
        root,
        "etc/systemd/network/80-hako-eth0.network",
        b"# Written by hako: the container's first interface gets its address by DHCP.\n[Match]\nName=eth0\n\n[Network]\nDHCP=yes\n\n[DHCPv4]\nUseDomains=yes\n",
        0o644,
    )?;
    let unit_dir = if root
        .join("lib/systemd/system/systemd-networkd.service")
        .exists()
    {
        "/lib/systemd/system"
    } else {
        "/usr/lib/systemd/system"
    };
    for (wants, unit) in [
        ("multi-user.target.wants", "systemd-networkd.service"),
        ("sockets.target.wants", "systemd-networkd.socket"),
    ] {
        if !root
            .join(unit_dir.trim_start_matches('/'))
            .join(unit)
            .exists()
        {
            continue;
        }
        link_once(
            root,
            &format!("etc/systemd/system/{wants}/{unit}"),
            &format!("{unit_dir}/{unit}"),
            "enable",
        )?;
    }
    if root
        .join(unit_dir.trim_start_matches('/'))
        .join("systemd-networkd.service")
        .exists()
    {
        link_once(
            root,
            "etc/systemd/system/dbus-org.freedesktop.network1.service",
            &format!("{unit_dir}/systemd-networkd.service"),
            "enable",
        )?;
    }
    // names: systemd-resolved, asking the DHCP server also for single-label names
    // (container names on a hako network)
    if root
        .join(unit_dir.trim_start_matches('/'))
        .join("systemd-resolved.service")
        .exists()
    {
        write_file(
            root,
            "etc/systemd/resolved.conf.d/hako.conf",
            b"# Written by hako: single-label names (other containers) go to the network's DNS server.\n[Resolve]\nResolveUnicastSingleLabel=yes\n",
            0o644,
        )?;
        let rc = root.join("etc/resolv.conf");
        let is_link = fs::symlink_metadata(&rc)
            .map(|m| m.file_type().is_symlink())
            .unwrap_or(false);
        if !is_link {
            let _ = fs::remove_file(&rc);
            symlink("../run/systemd/resolve/stub-resolv.conf", &rc)
                .map_err(|e| StoreError::io("link", &rc, e, "check the image tree"))?;
        }
    }
    // ttys: a container's /dev/ttyN are ptys and it has no /dev/tty0, which getty@.service
    // requires; run a getty wherever the tty exists
    write_file(
        root,
        "etc/systemd/system/getty@.service.d/hako-container.conf",
        b"# Written by hako: in a container the ttys are ptys and there is no /dev/tty0.\n[Unit]\nConditionPathExists=\nConditionPathExists=/dev/%I\n",
        0o644,
    )?;
    // the system users the packages declare exist before the first boot, which then
    // need not run systemd-sysusers ([`boot_profile`])
    if let Some(sysusers) = ["usr/bin/systemd-sysusers", "bin/systemd-sysusers"]
        .iter()
        .find(|p| root.join(p).exists())
    {
        let out = Command::new("chroot")
            .arg(root)
            .arg(format!("/{sysusers}"))
            .stdin(Stdio::null())
            .output()
            .map_err(|e| {
                StoreError::io(
                    "run systemd-sysusers in the image",
                    root,
                    e,
                    "check that chroot (coreutils) is installed",
                )
            })?;
        if !out.status.success() {
            return Err(StoreError::other(format!(
                "cannot prepare the image {}: systemd-sysusers failed ({}): {}; check the image's packages",
                root.display(),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
    }
    boot_profile(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// apt sources naming `http://mirror.test/debian` (and a security archive first)
    fn apt_dir() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir(d.path().join("sources.list.d")).unwrap();
        fs::write(
            d.path().join("sources.list.d/debian.sources"),
            "Types: deb\nURIs: http://mirror.test/debian-security\nSuites: bookworm-security\nComponents: main\n\n\
             Types: deb\n# a comment\nURIs: http://mirror.test/debian\nSuites: bookworm bookworm-updates\nComponents: main\n",
        )
        .unwrap();
        d
    }

    fn args(a: &[&str]) -> Result<DebianArgs, StoreError> {
        let mut a = parse_args(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>())?;
        resolve_mirror_in(&mut a, apt_dir().path())?;
        Ok(a)
    }

    #[test]
    fn the_default_mirror_comes_from_the_hosts_apt_sources() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(host_mirror_in(d.path()), None);
        // the arguments parse without a mirror (a warm cache needs none) ...
        let mut a = parse_args(&[]).unwrap();
        assert_eq!(a.mirror, "");
        // ... building the image asks for one, naming the image, the sources read and the fix
        let e = resolve_mirror_in(&mut a, d.path()).unwrap_err().to_string();
        assert!(
            e.contains("name no Debian mirror")
                && e.contains(&image_name(&a))
                && e.contains("is not cached")
                && e.contains("--mirror"),
            "{e}"
        );
        // a mirror given on the command line is kept and never looked up
        let mut a = parse_args(&["--mirror=http://given.test/debian".into()]).unwrap();
        resolve_mirror_in(&mut a, d.path()).unwrap();
        assert_eq!(a.mirror, "http://given.test/debian");
        // one-line format, with options, after a disabled deb822 stanza and a foreign source
        fs::create_dir(d.path().join("sources.list.d")).unwrap();
        fs::write(
            d.path().join("sources.list.d/a.sources"),
            "Types: deb\nURIs: http://off.test/debian\nSuites: bookworm\nEnabled: no\n",
        )
        .unwrap();
        fs::write(
            d.path().join("sources.list.d/b.list"),
            "deb https://other.test/apt cloud-sdk main\n",
        )
        .unwrap();
        fs::write(
            d.path().join("sources.list"),
            "# deb http://old.test/debian bookworm main\ndeb [arch=amd64 signed-by=/k.gpg] http://one.test/debian bookworm main\n",
        )
        .unwrap();
        assert_eq!(
            host_mirror_in(d.path()).as_deref(),
            Some("http://one.test/debian")
        );
        assert_eq!(
            host_mirror_in(apt_dir().path()).as_deref(),
            Some("http://mirror.test/debian")
        );
    }

    #[test]
    fn defaults_and_flags() {
        let a = args(&[]).unwrap();
        assert_eq!(a.release, "bookworm");
        assert_eq!(a.arch, host_arch());
        assert_eq!(a.mirror, "http://mirror.test/debian");
        assert!(a.packages.is_empty() && a.user.is_none() && !a.password);
        let a = args(&[
            "-r",
            "bullseye",
            "--mirror=http://m/debian",
            "--packages",
            "htop,curl",
            "--packages=htop",
            "--user",
            "alice",
            "--ssh-key",
            "/k.pub",
            "--password",
        ])
        .unwrap();
        assert_eq!(a.release, "bullseye");
        assert_eq!(a.mirror, "http://m/debian");
        assert_eq!(a.packages, vec!["curl", "htop"]);
        assert_eq!(a.user.as_deref(), Some("alice"));
        assert_eq!(a.ssh_key, Some(PathBuf::from("/k.pub")));
        assert!(a.password);
        assert_eq!(args(&["--release", "sid"]).unwrap().release, "sid");
    }

    #[test]
    fn bad_arguments_are_clear() {
        let cases: &[(&[&str], &str)] = &[
            (&["-r", "wheezy-nope"], "unknown release \"wheezy-nope\""),
            (&["-a", "vax"], "unknown architecture \"vax\""),
            (&["--mirror", "mirror.test"], "invalid mirror"),
            (&["--packages", "Bad_Name"], "not a Debian package name"),
            (&["--user", "Root Admin"], "invalid user name"),
            (&["--frobnicate"], "unknown argument \"--frobnicate\""),
            (&["-r"], "-r needs a value"),
        ];
        for (a, want) in cases {
            let e = args(a).unwrap_err().to_string();
            assert!(e.contains(want), "{a:?}: {e}");
            assert!(!e.contains('\n'), "{e}");
        }
        let e = args(&["-r", "x"]).unwrap_err().to_string();
        assert!(e.contains("bookworm"), "lists the releases: {e}");
    }

    #[test]
    fn foreign_arch_needs_binfmt() {
        let other = if host_arch() == "s390x" {
            "amd64"
        } else {
            "s390x"
        };
        if Path::new("/proc/sys/fs/binfmt_misc/qemu-s390x").exists() {
            return;
        }
        let e = args(&["-a", other]).unwrap_err().to_string();
        assert!(e.contains("qemu-user-static"), "{e}");
    }

    #[test]
    fn image_names() {
        let a = args(&[]).unwrap();
        assert_eq!(image_name(&a), format!("bookworm-{}", host_arch()));
        let b = args(&["--packages", "htop,curl"]).unwrap();
        let c = args(&["--packages", "curl", "--packages", "htop,curl"]).unwrap();
        assert_eq!(image_name(&b), image_name(&c), "the order does not matter");
        assert!(image_name(&b).starts_with(&format!("bookworm-{}-", host_arch())));
        assert_ne!(image_name(&a), image_name(&b));
    }

    #[test]
    fn builder_command_lines() {
        let a = args(&["--packages", "htop"]).unwrap();
        let c = builder_command("mmdebstrap", &a, Path::new("/c/.x.tmp/rootfs"));
        let v: Vec<String> = c
            .get_args()
            .map(|s| s.to_string_lossy().into_owned())
            .collect();
        assert!(v.contains(&"--variant=minbase".to_string()));
        let inc = v.iter().find(|x| x.starts_with("--include=")).unwrap();
        for p in [
            "init",
            "openssh-server",
            "sudo",
            "iproute2",
            "less",
            "vim-tiny",
            "dnsutils",
            "htop",
        ] {
            assert!(inc.split(['=', ',']).any(|x| x == p), "{p} in {inc}");
        }
        assert_eq!(
            &v[v.len() - 3..],
            &["bookworm", "/c/.x.tmp/rootfs", "http://mirror.test/debian"]
        );
        let d = builder_command("debootstrap", &a, Path::new("/t"));
        assert_eq!(d.get_program(), "debootstrap");
    }

    #[test]
    fn progress_from_builder_output() {
        let mut p = BuildPhase::default();
        for l in [
            "I: running apt-get update...",
            "I: downloading packages with apt...",
            "Get:1 http://mirror.test/debian bookworm/main amd64 libc6 amd64 2.36 [2757 kB]",
            "Get:2 http://mirror.test/debian bookworm/main amd64 bash amd64 5.2 [1500 kB]",
        ] {
            p.line(l);
        }
        assert_eq!(p.show(), "downloading packages (2 downloaded)");
        p.line("I: extracting archives...");
        assert!(p.show().starts_with("extracting"));
        p.line("Unpacking bash (5.2.15-2+b2) ...");
        p.line("Setting up bash (5.2.15-2+b2) ...");
        assert_eq!(p.show(), "configuring (2 downloaded, 1 unpacked, 1 set up)");
        // debootstrap's lines
        let mut d = BuildPhase::default();
        d.line("I: Retrieving InRelease ");
        assert_eq!(d.phase, "reading package lists");
        d.line("I: Retrieving libc6 2.36-9");
        d.line("I: Unpacking required packages...");
        d.line("I: Unpacking libc6...");
        d.line("I: Configuring required packages...");
        d.line("I: Configuring libc6...");
        assert_eq!((d.fetched, d.unpacked, d.configured), (1, 1, 1));
    }

    #[test]
    fn failure_hints() {
        let a = args(&["--mirror", "http://127.0.0.1:9/debian"]).unwrap();
        let c = Path::new("/cache");
        assert!(
            build_failure_hint("E: Unable to locate package nosuchpkg\n", &a, c)
                .contains("nosuchpkg does not exist")
        );
        assert!(build_failure_hint("Err:1 http://127.0.0.1:9/debian bookworm InRelease\n  Could not connect to 127.0.0.1:9", &a, c)
            .contains("mirror http://127.0.0.1:9/debian cannot be reached"));
        assert!(
            build_failure_hint("dpkg: error: No space left on device", &a, c).contains("/cache")
        );
        let q = quote_tail("I: x\nE: first\nnoise\nE: second\n");
        assert_eq!(q, "E: first | E: second");
    }

    #[test]
    fn image_preparation_strips_identity() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        for dir in ["etc/ssh", "var/lib/dbus", "lib/systemd/system"] {
            fs::create_dir_all(r.join(dir)).unwrap();
        }
        fs::write(
            r.join("etc/machine-id"),
            "abcdef0123456789abcdef0123456789\n",
        )
        .unwrap();
        fs::write(r.join("var/lib/dbus/machine-id"), "abc\n").unwrap();
        fs::write(r.join("etc/ssh/ssh_host_ed25519_key"), "k").unwrap();
        fs::write(r.join("etc/ssh/ssh_host_ed25519_key.pub"), "k").unwrap();
        fs::write(r.join("etc/ssh/sshd_config"), "x").unwrap();
        fs::write(r.join("etc/hostname"), "buildhost\n").unwrap();
        fs::write(r.join("etc/hosts"), "127.0.1.1 buildhost\n").unwrap();
        fs::write(r.join("etc/resolv.conf"), "nameserver 10.0.0.1\n").unwrap();
        for u in [
            "systemd-networkd.service",
            "systemd-networkd.socket",
            "systemd-resolved.service",
            "getty@.service",
        ] {
            fs::write(r.join("lib/systemd/system").join(u), "").unwrap();
        }
        prepare_image(r).unwrap();
        assert_eq!(fs::read_to_string(r.join("etc/machine-id")).unwrap(), "");
        assert!(!r.join("var/lib/dbus/machine-id").exists());
        assert!(!r.join("etc/ssh/ssh_host_ed25519_key").exists());
        assert!(!r.join("etc/ssh/ssh_host_ed25519_key.pub").exists());
        assert!(r.join("etc/ssh/sshd_config").exists());
        assert!(!r.join("etc/hostname").exists());
        assert!(!fs::read_to_string(r.join("etc/hosts"))
            .unwrap()
            .contains("buildhost"));
        assert!(
            fs::read_to_string(r.join("etc/systemd/network/80-hako-eth0.network"))
                .unwrap()
                .contains("DHCP=yes")
        );
        assert_eq!(
            fs::read_link(
                r.join("etc/systemd/system/multi-user.target.wants/systemd-networkd.service")
            )
            .unwrap(),
            PathBuf::from("/lib/systemd/system/systemd-networkd.service")
        );
        assert_eq!(
            fs::read_link(r.join("etc/resolv.conf")).unwrap(),
            PathBuf::from("../run/systemd/resolve/stub-resolv.conf")
        );
        let g =
            fs::read_to_string(r.join("etc/systemd/system/getty@.service.d/hako-container.conf"))
                .unwrap();
        assert!(
            g.contains("ConditionPathExists=\nConditionPathExists=/dev/%I"),
            "{g}"
        );
        prepare_image(r).unwrap(); // idempotent
    }

    #[test]
    fn boot_profile_stamps_and_masks() {
        use std::os::unix::fs::MetadataExt;
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        // no systemd: nothing
        fs::create_dir_all(r.join("usr")).unwrap();
        boot_profile(r).unwrap();
        assert!(!r.join("etc").exists());
        fs::create_dir_all(r.join("lib/systemd/system-generators")).unwrap();
        fs::write(r.join("lib/systemd/systemd"), "").unwrap();
        for g in ["systemd-gpt-auto-generator", "systemd-fstab-generator"] {
            fs::write(r.join("lib/systemd/system-generators").join(g), "").unwrap();
        }
        boot_profile(r).unwrap();
        let usr = fs::metadata(r.join("usr")).unwrap();
        let want = usr.mtime() as i128 * 1_000_000_000 + usr.mtime_nsec() as i128;
        for f in ["etc/.updated", "var/.updated"] {
            let t = fs::read_to_string(r.join(f)).unwrap();
            assert!(
                t.contains(&format!("\nTIMESTAMP_NSEC={want}\n")),
                "{f}: {t}"
            );
            let m = fs::metadata(r.join(f)).unwrap();
            assert_eq!(
                (m.mtime(), m.mtime_nsec()),
                (usr.mtime(), usr.mtime_nsec()),
                "{f}"
            );
        }
        let gen = r.join("etc/systemd/system-generators");
        assert_eq!(
            fs::read_link(gen.join("systemd-gpt-auto-generator")).unwrap(),
            PathBuf::from("/dev/null")
        );
        // the fstab generator is needed; generators the tree lacks are left alone
        assert!(fs::symlink_metadata(gen.join("systemd-fstab-generator")).is_err());
        assert!(fs::symlink_metadata(gen.join("systemd-cryptsetup-generator")).is_err());
        // logind stays at boot unless D-Bus can start it on demand
        let logind_wants =
            r.join("etc/systemd/system/multi-user.target.wants/systemd-logind.service");
        assert!(fs::symlink_metadata(&logind_wants).is_err());
        fs::create_dir_all(r.join("lib/systemd/system")).unwrap();
        fs::write(r.join("lib/systemd/system/systemd-logind.service"), "").unwrap();
        boot_profile(r).unwrap();
        assert!(fs::symlink_metadata(&logind_wants).is_err());
        fs::create_dir_all(r.join("usr/share/dbus-1/system-services")).unwrap();
        fs::write(
            r.join("usr/share/dbus-1/system-services/org.freedesktop.login1.service"),
            "",
        )
        .unwrap();
        boot_profile(r).unwrap();
        assert_eq!(
            fs::read_link(&logind_wants).unwrap(),
            PathBuf::from("/dev/null")
        );
        // the password agents are masked when the tree has them; a unit the user placed in
        // /etc is left as it is
        let units = r.join("etc/systemd/system");
        assert!(fs::symlink_metadata(units.join("systemd-ask-password-wall.path")).is_err());
        for u in CONTAINER_MASKED_UNITS {
            fs::write(r.join("lib/systemd/system").join(u), "").unwrap();
        }
        fs::write(units.join("systemd-ask-password-wall.path"), "[Path]\n").unwrap();
        boot_profile(r).unwrap();
        assert_eq!(
            fs::read_link(units.join("systemd-ask-password-console.path")).unwrap(),
            PathBuf::from("/dev/null")
        );
        assert_eq!(
            fs::read_to_string(units.join("systemd-ask-password-wall.path")).unwrap(),
            "[Path]\n"
        );
        // resolved: its own temporary directories, once; a drop-in the user edited stays
        let dropin = units.join("systemd-resolved.service.d/hako-container.conf");
        assert!(fs::symlink_metadata(&dropin).is_err());
        fs::write(r.join("lib/systemd/system/systemd-resolved.service"), "").unwrap();
        boot_profile(r).unwrap();
        let t = fs::read_to_string(&dropin).unwrap();
        assert!(t.contains("\n[Service]\nPrivateTmp=no\nTemporaryFileSystem=/tmp:mode=1777 /var/tmp:mode=1777\n"), "{t}");
        fs::write(&dropin, "[Service]\n").unwrap();
        boot_profile(r).unwrap();
        assert_eq!(fs::read_to_string(&dropin).unwrap(), "[Service]\n");
        // done already: nothing is written again
        let ino = fs::metadata(r.join("etc/.updated")).unwrap().ino();
        boot_profile(r).unwrap();
        assert_eq!(fs::metadata(r.join("etc/.updated")).unwrap().ino(), ino);
    }
}
