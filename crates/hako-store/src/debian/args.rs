//! The debian template's arguments: release, arch, mirror (from the host's apt sources),
//! packages, the login user, its SSH key and password.

use std::fs;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::*;
use crate::identity::{validate_public_keys, validate_user_name, LoginSetup};
use crate::StoreError;

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

const USAGE: &str = "the accepted arguments are: -r|--release RELEASE (default bookworm), -a|--arch ARCH (default: the host's), --mirror URL, --packages a,b, --user NAME, --ssh-key FILE, --password, --persistent-journal";

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
        persistent_journal: false,
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
            "--persistent-journal" if inline.is_none() => a.persistent_journal = true,
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
