//! Names and places: container-name rules, the lxcpath, the system config files.

use std::io;
use std::path::{Component, Path, PathBuf};

use crate::userdirs::{runtime_dir_for, UserDirs};
use crate::{Flavour, StoreError};

/// Longest container name, in bytes (the kernel's hostname limit is also 64).
pub const MAX_NAME_LEN: usize = 64;

/// Checks a container name: not empty, at most 64 bytes, not `.` or `..`, no `/`, no
/// leading `-`, no whitespace or control characters. The error says which rule and shows a
/// good name. A name that is not a valid host name (`web_1`) is fine: the host name
/// templates write is made from it (`hostname_from_name`: `web-1`).
pub fn validate_name(name: &str) -> Result<(), StoreError> {
    let bad = |rule: String| {
        Err(StoreError::InvalidName {
            name: name.to_string(),
            rule,
        })
    };
    if name.is_empty() {
        return bad("it is empty".to_string());
    }
    if name.len() > MAX_NAME_LEN {
        return bad(format!(
            "it is {} bytes long, the limit is {MAX_NAME_LEN}",
            name.len()
        ));
    }
    if name == "." || name == ".." {
        return bad(format!("\"{name}\" is a directory reference"));
    }
    if name.contains('/') {
        return bad("it contains '/'".to_string());
    }
    if name.starts_with('-') {
        return bad("it starts with '-' (it would read as an option)".to_string());
    }
    if let Some(c) = name.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return bad(format!(
            "it contains the whitespace or control character {c:?}"
        ));
    }
    Ok(())
}

/// The system configuration directory: `$HAKO_SYSCONFDIR` if set and not empty, else `/etc`.
pub fn sysconfdir() -> PathBuf {
    match std::env::var_os("HAKO_SYSCONFDIR") {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => PathBuf::from("/etc"),
    }
}

/// The runtime directory: `$HAKO_RUNDIR` if set and not empty, else `/run/hako` for root
/// and `$XDG_RUNTIME_DIR/hako` for anyone else (see [`runtime_dir`] for the checked form;
/// without the variable this falls back to systemd's `/run/user/UID/hako`).
pub fn rundir() -> PathBuf {
    runtime_dir()
        .unwrap_or_else(|_| PathBuf::from(format!("/run/user/{}/hako", nix::unistd::getuid())))
}

/// [`rundir`], with an error naming `XDG_RUNTIME_DIR` and the fix when a non-root caller
/// has none.
pub fn runtime_dir() -> Result<PathBuf, StoreError> {
    let env = std::env::var_os("HAKO_RUNDIR").map(PathBuf::from);
    let user = UserDirs::detect()?;
    runtime_dir_for(env.as_deref(), user.as_ref())
}

/// The global config file of a flavour, below `sysconfdir`: `hako/hako.conf` or `lxc/lxc.conf`.
pub fn global_config_path(flavour: Flavour, sysconfdir: &Path) -> PathBuf {
    match flavour {
        Flavour::Hako => sysconfdir.join("hako/hako.conf"),
        Flavour::Lxc => sysconfdir.join("lxc/lxc.conf"),
    }
}

/// [`global_config_path`] for the caller: a non-root caller's is in its config home
/// (`~/.config/lxc/lxc.conf`, as LXC reads it for unprivileged users).
pub fn global_config_path_as(
    flavour: Flavour,
    sysconfdir: &Path,
    user: Option<&UserDirs>,
) -> PathBuf {
    match user {
        Some(u) => u.global_config(flavour),
        None => global_config_path(flavour, sysconfdir),
    }
}

/// The lxcpath: `-P` wins; then (Hako) `$HAKO_PATH`; then `lxc.lxcpath` in the global config
/// (`$HAKO_SYSCONFDIR/hako/hako.conf`, or `.../lxc/lxc.conf` for the Lxc flavour); then
/// `/var/lib/hako` or `/var/lib/lxc`. Relative `-P`/`HAKO_PATH` are taken from the current
/// directory. The result is absolute and need not exist. A non-root caller's global config
/// and default are in its home ([`UserDirs`]).
pub fn resolve_lxcpath(flavour: Flavour, explicit: Option<&Path>) -> Result<PathBuf, StoreError> {
    let env = std::env::var_os("HAKO_PATH")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    let user = UserDirs::detect()?;
    resolve_lxcpath_as(
        flavour,
        explicit,
        env.as_deref(),
        &sysconfdir(),
        user.as_ref(),
    )
}

/// [`resolve_lxcpath`] with its inputs explicit (`hako_path` is the value of `$HAKO_PATH`),
/// for root.
pub fn resolve_lxcpath_in(
    flavour: Flavour,
    explicit: Option<&Path>,
    hako_path: Option<&Path>,
    sysconfdir: &Path,
) -> Result<PathBuf, StoreError> {
    resolve_lxcpath_as(flavour, explicit, hako_path, sysconfdir, None)
}

/// [`resolve_lxcpath_in`] for a caller: `user` (a non-root caller's places) makes the
/// global config `~/.config/{hako/hako.conf,lxc/lxc.conf}` and the default
/// `~/.local/share/{hako,lxc}`.
pub fn resolve_lxcpath_as(
    flavour: Flavour,
    explicit: Option<&Path>,
    hako_path: Option<&Path>,
    sysconfdir: &Path,
    user: Option<&UserDirs>,
) -> Result<PathBuf, StoreError> {
    if let Some(p) = explicit {
        return absolute(p, "-P");
    }
    if flavour == Flavour::Hako {
        if let Some(p) = hako_path {
            return absolute(p, "HAKO_PATH");
        }
    }
    let conf = global_config_path_as(flavour, sysconfdir, user);
    if let Some((value, line)) = global_config_value(&conf, "lxc.lxcpath")? {
        let p = PathBuf::from(&value);
        if !p.is_absolute() {
            return Err(StoreError::other(format!(
                "invalid lxc.lxcpath \"{value}\" in {}:{line}: it must be an absolute path; fix that line",
                conf.display()
            )));
        }
        return Ok(normalize(&p));
    }
    if let Some(u) = user {
        return Ok(u.lxcpath(flavour));
    }
    Ok(PathBuf::from(match flavour {
        Flavour::Hako => "/var/lib/hako",
        Flavour::Lxc => "/var/lib/lxc",
    }))
}

/// The system default container config merged into every new container: `lxc.default_config`
/// from the global config if set, else `hako/default.conf` (or `lxc/default.conf`) below
/// `sysconfdir`.
pub fn default_config_path(flavour: Flavour, sysconfdir: &Path) -> Result<PathBuf, StoreError> {
    default_config_path_as(flavour, sysconfdir, None)
}

/// [`default_config_path`] for a caller: a non-root caller's is
/// `~/.config/hako/default.conf` or LXC's `~/.config/lxc/default.conf`.
pub fn default_config_path_as(
    flavour: Flavour,
    sysconfdir: &Path,
    user: Option<&UserDirs>,
) -> Result<PathBuf, StoreError> {
    let conf = global_config_path_as(flavour, sysconfdir, user);
    if let Some((value, _)) = global_config_value(&conf, "lxc.default_config")? {
        return Ok(PathBuf::from(value));
    }
    if let Some(u) = user {
        return Ok(u.default_config(flavour));
    }
    Ok(match flavour {
        Flavour::Hako => sysconfdir.join("hako/default.conf"),
        Flavour::Lxc => sysconfdir.join("lxc/default.conf"),
    })
}

/// Reads one key of a global config file (`key = value` lines, `#` comments, optional
/// quotes around the value, the last occurrence wins). A missing file is no value.
pub fn global_config_value(path: &Path, key: &str) -> Result<Option<(String, usize)>, StoreError> {
    let text = match crate::cfg::read_config_text(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(StoreError::io(
                "read the global config",
                path,
                e,
                "make it readable or remove it",
            ))
        }
    };
    let mut found = None;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        if k.trim() != key {
            continue;
        }
        let v = v.trim();
        let v = strip_quotes(v);
        found = Some((v.to_string(), i + 1));
    }
    Ok(found)
}

fn strip_quotes(v: &str) -> &str {
    let b = v.as_bytes();
    if b.len() >= 2 && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 1] == b[0] {
        &v[1..v.len() - 1]
    } else {
        v
    }
}

fn absolute(p: &Path, from: &str) -> Result<PathBuf, StoreError> {
    if p.as_os_str().is_empty() {
        return Err(StoreError::other(format!(
            "invalid lxcpath from {from}: it is empty; give a directory such as /var/lib/hako"
        )));
    }
    if p.is_absolute() {
        return Ok(normalize(p));
    }
    let cwd = std::env::current_dir().map_err(|e| {
        StoreError::io(
            "resolve the lxcpath relative to the current directory",
            p,
            e,
            "pass an absolute path",
        )
    })?;
    Ok(normalize(&cwd.join(p)))
}

/// Drops `.` components and trailing slashes (not `..`: that needs the filesystem).
pub(crate) fn normalize(p: &Path) -> PathBuf {
    p.components()
        .filter(|c| !matches!(c, Component::CurDir))
        .collect()
}

/// The canonical form of a path that may not exist yet: the longest existing ancestor is
/// canonicalized (symlinks resolved) and the rest appended. Stays the same when the rest is
/// later created as plain directories.
pub(crate) fn canonical_maybe_missing(p: &Path) -> PathBuf {
    let p = normalize(p);
    let mut existing = p.as_path();
    let mut rest: Vec<&std::ffi::OsStr> = Vec::new();
    loop {
        if let Ok(c) = std::fs::canonicalize(existing) {
            let mut out = c;
            for r in rest.iter().rev() {
                out.push(r);
            }
            return out;
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name);
                existing = parent;
            }
            _ => return p,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn good_names() {
        for n in [
            "web",
            "web1",
            "a",
            "my.box",
            "db_2",
            "x-y",
            "Ünïcode",
            &"a".repeat(64),
            ".hidden-ok",
        ] {
            validate_name(n).unwrap_or_else(|e| panic!("{n}: {e}"));
        }
    }

    #[test]
    fn bad_names_say_which_rule() {
        let cases: &[(&str, &str)] = &[
            ("", "empty"),
            (".", "directory reference"),
            ("..", "directory reference"),
            ("a/b", "'/'"),
            ("/abs", "'/'"),
            ("-rf", "starts with '-'"),
            ("a b", "whitespace"),
            ("tab\there", "whitespace"),
            ("nl\n", "whitespace"),
            ("bell\x07", "control"),
        ];
        for (n, rule) in cases {
            let e = validate_name(n).expect_err(n).to_string();
            assert!(e.contains(rule), "{n:?}: {e}");
            assert!(e.contains("\"web1\""), "error gives an example: {e}");
            assert!(!e.contains('\n'), "one line: {e}");
        }
        let long = "a".repeat(65);
        let e = validate_name(&long).unwrap_err().to_string();
        assert!(e.contains("65 bytes") && e.contains("64"), "{e}");
        // 33 characters but 66 bytes: the limit is in bytes
        assert!(validate_name(&"é".repeat(33)).is_err());
    }

    fn write(p: &Path, text: &str) {
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }

    #[test]
    fn lxcpath_precedence_hako() {
        let etc = tempfile::tempdir().unwrap();
        let etc = etc.path();
        // nothing configured: the default
        assert_eq!(
            resolve_lxcpath_in(Flavour::Hako, None, None, etc).unwrap(),
            PathBuf::from("/var/lib/hako")
        );
        // hako.conf
        write(
            &etc.join("hako/hako.conf"),
            "# comment\nlxc.lxcpath = /srv/old\nlxc.lxcpath = \"/srv/boxes/\"\n",
        );
        assert_eq!(
            resolve_lxcpath_in(Flavour::Hako, None, None, etc).unwrap(),
            PathBuf::from("/srv/boxes")
        );
        // HAKO_PATH beats the file
        assert_eq!(
            resolve_lxcpath_in(Flavour::Hako, None, Some(Path::new("/env/path")), etc).unwrap(),
            PathBuf::from("/env/path")
        );
        // -P beats everything, and a relative one is made absolute
        let got = resolve_lxcpath_in(
            Flavour::Hako,
            Some(Path::new("rel/./dir")),
            Some(Path::new("/env")),
            etc,
        )
        .unwrap();
        assert!(got.is_absolute(), "{got:?}");
        assert!(got.ends_with("rel/dir"), "{got:?}");
        assert_eq!(std::env::current_dir().unwrap().join("rel/dir"), got);
    }

    #[test]
    fn lxcpath_precedence_lxc() {
        let etc = tempfile::tempdir().unwrap();
        let etc = etc.path();
        // the hako file and HAKO_PATH do not count for the lxc face
        write(&etc.join("hako/hako.conf"), "lxc.lxcpath = /srv/hako\n");
        assert_eq!(
            resolve_lxcpath_in(Flavour::Lxc, None, Some(Path::new("/env")), etc).unwrap(),
            PathBuf::from("/var/lib/lxc")
        );
        write(&etc.join("lxc/lxc.conf"), "lxc.lxcpath=/srv/lxc\n");
        assert_eq!(
            resolve_lxcpath_in(Flavour::Lxc, None, None, etc).unwrap(),
            PathBuf::from("/srv/lxc")
        );
        assert_eq!(
            resolve_lxcpath_in(Flavour::Lxc, Some(Path::new("/p")), None, etc).unwrap(),
            PathBuf::from("/p")
        );
    }

    #[test]
    fn relative_lxcpath_in_config_is_an_error_with_file_and_line() {
        let etc = tempfile::tempdir().unwrap();
        write(
            &etc.path().join("hako/hako.conf"),
            "\nlxc.lxcpath = boxes\n",
        );
        let e = resolve_lxcpath_in(Flavour::Hako, None, None, etc.path())
            .unwrap_err()
            .to_string();
        assert!(e.contains("hako.conf:2") && e.contains("absolute"), "{e}");
    }

    #[test]
    fn empty_explicit_lxcpath_is_an_error() {
        let e = resolve_lxcpath_in(
            Flavour::Hako,
            Some(Path::new("")),
            None,
            Path::new("/nonexistent"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("empty"), "{e}");
    }

    /// The public function reads HAKO_PATH and HAKO_SYSCONFDIR from the environment. This is
    /// the only test in this binary that changes the environment.
    #[test]
    fn lxcpath_from_environment() {
        let etc = tempfile::tempdir().unwrap();
        write(
            &etc.path().join("hako/hako.conf"),
            "lxc.lxcpath = /from/conf\n",
        );
        write(
            &etc.path().join("lxc/lxc.conf"),
            "lxc.lxcpath = /from/lxcconf\n",
        );
        let old_sys = std::env::var_os("HAKO_SYSCONFDIR");
        let old_path = std::env::var_os("HAKO_PATH");
        std::env::set_var("HAKO_SYSCONFDIR", etc.path());
        std::env::remove_var("HAKO_PATH");
        let from_conf = resolve_lxcpath(Flavour::Hako, None);
        let lxc = resolve_lxcpath(Flavour::Lxc, None);
        std::env::set_var("HAKO_PATH", "/from/env");
        let from_env = resolve_lxcpath(Flavour::Hako, None);
        let explicit = resolve_lxcpath(Flavour::Hako, Some(Path::new("/explicit")));
        match old_sys {
            Some(v) => std::env::set_var("HAKO_SYSCONFDIR", v),
            None => std::env::remove_var("HAKO_SYSCONFDIR"),
        }
        match old_path {
            Some(v) => std::env::set_var("HAKO_PATH", v),
            None => std::env::remove_var("HAKO_PATH"),
        }
        assert_eq!(from_conf.unwrap(), PathBuf::from("/from/conf"));
        assert_eq!(lxc.unwrap(), PathBuf::from("/from/lxcconf"));
        assert_eq!(from_env.unwrap(), PathBuf::from("/from/env"));
        assert_eq!(explicit.unwrap(), PathBuf::from("/explicit"));
    }

    #[test]
    fn default_config_path_and_override() {
        let etc = tempfile::tempdir().unwrap();
        let etc = etc.path();
        assert_eq!(
            default_config_path(Flavour::Hako, etc).unwrap(),
            etc.join("hako/default.conf")
        );
        assert_eq!(
            default_config_path(Flavour::Lxc, etc).unwrap(),
            etc.join("lxc/default.conf")
        );
        write(
            &etc.join("hako/hako.conf"),
            "lxc.default_config = /srv/my-default.conf\n",
        );
        assert_eq!(
            default_config_path(Flavour::Hako, etc).unwrap(),
            PathBuf::from("/srv/my-default.conf")
        );
    }

    #[test]
    fn canonical_of_missing_path_keeps_the_missing_tail() {
        let d = tempfile::tempdir().unwrap();
        let real = fs::canonicalize(d.path()).unwrap();
        let link = real.join("link");
        fs::create_dir(real.join("target")).unwrap();
        std::os::unix::fs::symlink(real.join("target"), &link).unwrap();
        let c = canonical_maybe_missing(&link.join("a/b"));
        assert_eq!(c, real.join("target/a/b"));
        fs::create_dir_all(link.join("a/b")).unwrap();
        assert_eq!(fs::canonicalize(link.join("a/b")).unwrap(), c);
    }
}
