//! Where a non-root caller's files live (issue 12, rootless). Root keeps the system
//! places (`/var/lib/hako`, `/etc/hako`, `/run/hako`); a caller whose effective uid is not
//! 0 gets, as LXC gives its unprivileged users:
//!
//! | what | hako face | lxc-* face |
//! |---|---|---|
//! | lxcpath | `$XDG_DATA_HOME/hako` (`~/.local/share/hako`) | `~/.local/share/lxc` |
//! | global config | `$XDG_CONFIG_HOME/hako/hako.conf` (`~/.config/...`) | `~/.config/lxc/lxc.conf` |
//! | default container config | `~/.config/hako/default.conf` | `~/.config/lxc/default.conf` |
//! | runtime state (sockets, locks) | `$XDG_RUNTIME_DIR/hako` | the same |
//! | id range registry | `~/.local/share/hako-idmaps` | (the lxc face never allocates) |
//!
//! `$HAKO_RUNDIR` still overrides the runtime directory. The caller's name and home come
//! from `/etc/passwd` (read directly: the static binary has no NSS), `$HOME` first.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::{Flavour, StoreError};

/// A non-root caller's places.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserDirs {
    /// the caller's (real) uid
    pub uid: u32,
    /// the user name from /etc/passwd (None: no entry; ids are then matched by number)
    pub name: Option<String>,
    /// `$XDG_CONFIG_HOME`, else `$HOME/.config`
    pub config_home: PathBuf,
    /// `$XDG_DATA_HOME`, else `$HOME/.local/share`
    pub data_home: PathBuf,
    /// `$XDG_RUNTIME_DIR` (None when unset or not absolute)
    pub runtime_dir: Option<PathBuf>,
}

/// The environment a caller's places are made from (explicit, for tests).
#[derive(Clone, Debug, Default)]
pub struct UserEnv {
    pub home: Option<OsString>,
    pub xdg_config_home: Option<OsString>,
    pub xdg_data_home: Option<OsString>,
    pub xdg_runtime_dir: Option<OsString>,
}

impl UserEnv {
    pub fn from_process() -> UserEnv {
        UserEnv {
            home: std::env::var_os("HOME"),
            xdg_config_home: std::env::var_os("XDG_CONFIG_HOME"),
            xdg_data_home: std::env::var_os("XDG_DATA_HOME"),
            xdg_runtime_dir: std::env::var_os("XDG_RUNTIME_DIR"),
        }
    }
}

/// An absolute path from a variable; XDG says relative values are to be ignored.
fn abs_var(v: &Option<OsString>) -> Option<PathBuf> {
    v.as_ref()
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .map(|p| crate::paths::normalize(&p))
}

impl UserDirs {
    /// The caller's places, or None when the caller is root (effective uid 0).
    pub fn detect() -> Result<Option<UserDirs>, StoreError> {
        if nix::unistd::geteuid().is_root() {
            return Ok(None);
        }
        let uid = nix::unistd::getuid().as_raw();
        let passwd = hako_config::read_bounded_text(Path::new("/etc/passwd"), 16 << 20).ok();
        UserDirs::from_parts(uid, passwd.as_deref(), &UserEnv::from_process()).map(Some)
    }

    /// [`UserDirs::detect`] with its inputs explicit: `passwd` is the text of /etc/passwd.
    pub fn from_parts(
        uid: u32,
        passwd: Option<&str>,
        env: &UserEnv,
    ) -> Result<UserDirs, StoreError> {
        let entry = passwd.and_then(|t| passwd_entry(t, uid));
        let home = abs_var(&env.home)
            .or_else(|| entry.as_ref().map(|(_, h)| PathBuf::from(h)))
            .filter(|p| p.is_absolute())
            .ok_or_else(|| {
                StoreError::other(format!(
                    "cannot find the home directory of uid {uid}: $HOME is unset (or not an absolute path) and /etc/passwd has no entry for it; set HOME, or pass the lxcpath with -P"
                ))
            })?;
        Ok(UserDirs {
            uid,
            name: entry.map(|(n, _)| n),
            config_home: abs_var(&env.xdg_config_home).unwrap_or_else(|| home.join(".config")),
            data_home: abs_var(&env.xdg_data_home)
                .unwrap_or_else(|| home.join(".local").join("share")),
            runtime_dir: abs_var(&env.xdg_runtime_dir),
        })
    }

    /// The default lxcpath: `~/.local/share/hako` or `~/.local/share/lxc`.
    pub fn lxcpath(&self, flavour: Flavour) -> PathBuf {
        self.data_home.join(flavour_dir(flavour))
    }

    /// The global config file: `~/.config/hako/hako.conf` or `~/.config/lxc/lxc.conf`.
    pub fn global_config(&self, flavour: Flavour) -> PathBuf {
        match flavour {
            Flavour::Hako => self.config_home.join("hako/hako.conf"),
            Flavour::Lxc => self.config_home.join("lxc/lxc.conf"),
        }
    }

    /// The default container config: `~/.config/hako/default.conf` or
    /// `~/.config/lxc/default.conf` (LXC's, with its `lxc.idmap` lines).
    pub fn default_config(&self, flavour: Flavour) -> PathBuf {
        self.config_home
            .join(flavour_dir(flavour))
            .join("default.conf")
    }

    /// `$XDG_RUNTIME_DIR/hako`, or an error naming the variable and the fix.
    pub fn rundir(&self) -> Result<PathBuf, StoreError> {
        match &self.runtime_dir {
            Some(d) => Ok(d.join("hako")),
            None => Err(StoreError::other(format!(
                "cannot find a runtime directory for the sockets and locks of uid {}: XDG_RUNTIME_DIR is not set (or not an absolute path); log in through a login session (ssh, a console login, or \"machinectl shell {}@\") which sets it, or have one kept with \"loginctl enable-linger {}\" and set XDG_RUNTIME_DIR=/run/user/{}",
                self.uid,
                self.who(),
                self.who(),
                self.uid
            ))),
        }
    }

    /// The id range registry: `~/.local/share/hako-idmaps` (beside the lxcpath, not in
    /// it, where an empty directory would read as a half-made container).
    pub fn idmap_registry(&self) -> PathBuf {
        self.data_home.join("hako-idmaps")
    }

    /// The user's name, or the uid as a number.
    pub fn who(&self) -> String {
        self.name.clone().unwrap_or_else(|| self.uid.to_string())
    }
}

fn flavour_dir(flavour: Flavour) -> &'static str {
    match flavour {
        Flavour::Hako => "hako",
        Flavour::Lxc => "lxc",
    }
}

/// The name and home of `uid` in /etc/passwd text (`name:pw:uid:gid:gecos:home:shell`);
/// the first line with that uid wins, as getpwuid's does.
pub fn passwd_entry(text: &str, uid: u32) -> Option<(String, String)> {
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() < 7 || f[0].is_empty() || f[2].parse::<u32>().ok()? != uid {
            return None;
        }
        Some((f[0].to_string(), f[5].to_string()))
    })
}

/// The runtime directory of the caller: `$HAKO_RUNDIR` when set, `/run/hako` for root,
/// `$XDG_RUNTIME_DIR/hako` for anyone else (an error when that variable is unset).
pub fn runtime_dir_for(
    hako_rundir: Option<&Path>,
    user: Option<&UserDirs>,
) -> Result<PathBuf, StoreError> {
    if let Some(p) = hako_rundir.filter(|p| !p.as_os_str().is_empty()) {
        return Ok(p.to_path_buf());
    }
    match user {
        None => Ok(PathBuf::from("/run/hako")),
        Some(u) => u.rundir(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\n\
        alice:x:1000:1000:Alice,,,:/home/alice:/bin/bash\n\
        broken line\n\
        bob:x:1001:1001::/srv/bob:/bin/sh\n";

    fn env(
        home: Option<&str>,
        cfg: Option<&str>,
        data: Option<&str>,
        run: Option<&str>,
    ) -> UserEnv {
        UserEnv {
            home: home.map(Into::into),
            xdg_config_home: cfg.map(Into::into),
            xdg_data_home: data.map(Into::into),
            xdg_runtime_dir: run.map(Into::into),
        }
    }

    #[test]
    fn passwd_lookup() {
        assert_eq!(
            passwd_entry(PASSWD, 1001),
            Some(("bob".into(), "/srv/bob".into()))
        );
        assert_eq!(passwd_entry(PASSWD, 4242), None);
        assert_eq!(passwd_entry("", 0), None);
    }

    #[test]
    fn xdg_defaults_from_home() {
        let u = UserDirs::from_parts(
            1000,
            Some(PASSWD),
            &env(Some("/home/alice"), None, None, Some("/run/user/1000")),
        )
        .unwrap();
        assert_eq!(u.name.as_deref(), Some("alice"));
        assert_eq!(
            u.lxcpath(Flavour::Hako),
            PathBuf::from("/home/alice/.local/share/hako")
        );
        assert_eq!(
            u.lxcpath(Flavour::Lxc),
            PathBuf::from("/home/alice/.local/share/lxc")
        );
        assert_eq!(
            u.default_config(Flavour::Lxc),
            PathBuf::from("/home/alice/.config/lxc/default.conf")
        );
        assert_eq!(
            u.default_config(Flavour::Hako),
            PathBuf::from("/home/alice/.config/hako/default.conf")
        );
        assert_eq!(
            u.global_config(Flavour::Lxc),
            PathBuf::from("/home/alice/.config/lxc/lxc.conf")
        );
        assert_eq!(u.rundir().unwrap(), PathBuf::from("/run/user/1000/hako"));
        assert_eq!(
            u.idmap_registry(),
            PathBuf::from("/home/alice/.local/share/hako-idmaps")
        );
    }

    #[test]
    fn xdg_variables_win_and_relative_ones_are_ignored() {
        let u = UserDirs::from_parts(
            1000,
            Some(PASSWD),
            &env(Some("/h"), Some("/cfg/"), Some("rel/data"), Some("run")),
        )
        .unwrap();
        assert_eq!(u.config_home, PathBuf::from("/cfg"));
        assert_eq!(u.data_home, PathBuf::from("/h/.local/share"));
        assert_eq!(u.runtime_dir, None);
    }

    #[test]
    fn home_from_passwd_when_unset() {
        let u = UserDirs::from_parts(1001, Some(PASSWD), &env(None, None, None, None)).unwrap();
        assert_eq!(
            u.lxcpath(Flavour::Hako),
            PathBuf::from("/srv/bob/.local/share/hako")
        );
        let e = UserDirs::from_parts(4242, Some(PASSWD), &env(None, None, None, None))
            .unwrap_err()
            .to_string();
        assert!(e.contains("uid 4242") && e.contains("set HOME"), "{e}");
    }

    #[test]
    fn runtime_dir_choice() {
        let with = UserDirs::from_parts(
            1000,
            Some(PASSWD),
            &env(Some("/h"), None, None, Some("/run/user/1000")),
        )
        .unwrap();
        let without =
            UserDirs::from_parts(1000, Some(PASSWD), &env(Some("/h"), None, None, None)).unwrap();
        // root: /run/hako, as before
        assert_eq!(
            runtime_dir_for(None, None).unwrap(),
            PathBuf::from("/run/hako")
        );
        assert_eq!(
            runtime_dir_for(None, Some(&with)).unwrap(),
            PathBuf::from("/run/user/1000/hako")
        );
        // HAKO_RUNDIR wins for everyone; an empty one is unset
        assert_eq!(
            runtime_dir_for(Some(Path::new("/tmp/r")), Some(&without)).unwrap(),
            PathBuf::from("/tmp/r")
        );
        let e = runtime_dir_for(Some(Path::new("")), Some(&without))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("XDG_RUNTIME_DIR")
                && e.contains("loginctl enable-linger alice")
                && e.contains("login session"),
            "{e}"
        );
    }
}
