//! Creating a container: all or nothing.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::busybox;
use crate::cfg::{self, Doc};
use crate::paths::{default_config_path, validate_name};
use crate::store::PARTIAL_MARKER;
use crate::template::{run_script, ScriptRun, Template};
use crate::{Lock, Store, StoreError};

/// How long `create` waits for another command that holds the container's lock.
pub const CREATE_LOCK_TIMEOUT: Duration = Duration::from_secs(10);

/// The config used when the system default config file does not exist.
pub const BUILTIN_DEFAULT_CONFIG: &str = "lxc.net.0.type = empty\n";

/// The backing stores `create` supports.
pub const BACKINGS: &[&str] = &["dir"];

/// What to create.
#[derive(Clone, Debug)]
pub struct CreateSpec {
    pub name: String,
    pub template: Template,
    /// Arguments after `--`, for the template.
    pub template_args: Vec<String>,
    /// `-f FILE`: appended to the system default config (comments kept).
    pub extra_config: Option<PathBuf>,
    /// `-B`: only "dir" for now ("none" and "" mean dir, as in LXC).
    pub backing: String,
    /// No template output on the terminal.
    pub quiet: bool,
}

impl Store {
    /// Creates a container, all or nothing: validate the name; take its lock (waiting up to
    /// [`CREATE_LOCK_TIMEOUT`]); make `<lxcpath>/<name>` with a "partial" marker; assemble
    /// the config (system default config, then the `-f` file, then `lxc.rootfs.path` and
    /// `lxc.uts.name`); run the template; validate the config; randomise `x` digits in
    /// hwaddrs; drop the marker. On any error after the directory was made, the directory
    /// and the lock file are removed.
    pub fn create(&self, spec: &CreateSpec) -> Result<(), StoreError> {
        validate_name(&spec.name)?;
        if self.exists(&spec.name) {
            return Err(StoreError::Exists {
                name: spec.name.clone(),
                lxcpath: self.lxcpath().to_path_buf(),
            });
        }
        let lock = self.lock(&spec.name, CREATE_LOCK_TIMEOUT)?;
        self.create_locked(spec, &lock)
    }

    /// [`Store::create`] for a caller that already holds the container's lock.
    pub fn create_locked(&self, spec: &CreateSpec, lock: &Lock) -> Result<(), StoreError> {
        let name = spec.name.as_str();
        validate_name(name)?;
        if lock.name() != name || lock.path() != self.lock_path(name) {
            return Err(StoreError::other(format!(
                "cannot create container \"{name}\": the lock held is for \"{}\"; take the lock of \"{name}\" (internal error)",
                lock.name()
            )));
        }
        if self.exists(name) {
            return Err(StoreError::Exists {
                name: name.to_string(),
                lxcpath: self.lxcpath().to_path_buf(),
            });
        }
        match self.create_new(spec) {
            Ok(()) => Ok(()),
            Err(e) => {
                // Leave no lock file behind for a container that does not exist. Safe while
                // we hold the lock: lockers check that their file is still the one at the path.
                if !self.exists(name) {
                    let _ = fs::remove_file(self.lock_path(name));
                }
                Err(e)
            }
        }
    }

    /// The part of create that runs under the lock for a name that is not a container yet.
    fn create_new(&self, spec: &CreateSpec) -> Result<(), StoreError> {
        let name = spec.name.as_str();
        match spec.backing.as_str() {
            "dir" | "none" | "" => {}
            other => {
                return Err(StoreError::other(format!(
                    "cannot create container \"{name}\": backing store \"{other}\" is not supported; the available ones are: {} (use -B dir)",
                    BACKINGS.join(", ")
                )))
            }
        }

        // Everything that can be checked before touching the disk.
        let busybox_args = match &spec.template {
            Template::Busybox => {
                let a = busybox::parse_args(&spec.template_args)?;
                busybox::check_busybox(&a.busybox)?;
                Some(a)
            }
            Template::None if !spec.template_args.is_empty() => {
                return Err(StoreError::other(format!(
                    "cannot create container \"{name}\": template none takes no arguments, got \"{}\"; drop the arguments after --",
                    spec.template_args.join(" ")
                )))
            }
            _ => None,
        };
        let extra = match &spec.extra_config {
            Some(p) => {
                let text = fs::read_to_string(p).map_err(|e| {
                    StoreError::io(
                        format!("read the config file (-f) for container \"{name}\""),
                        p,
                        e,
                        "check the path given to -f",
                    )
                })?;
                cfg::validate_file(p).map_err(|e| StoreError::config(name, e))?;
                Some((text, p.clone()))
            }
            None => None,
        };
        let default_path = default_config_path(self.flavour(), self.sysconfdir())?;
        let default = match fs::read_to_string(&default_path) {
            Ok(t) => Some((t, default_path)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => {
                return Err(StoreError::io(
                    "read the system default config",
                    &default_path,
                    e,
                    "make it readable or remove it",
                ))
            }
        };

        // The directory: a stale half-made one (ours, since we hold the lock) is removed; any
        // other directory in the way is left alone.
        let dir = self.container_dir(name);
        if fs::symlink_metadata(&dir).is_ok() {
            if self.is_partial(name) {
                crate::remove::remove_tree(
                    &dir,
                    &format!("remove the half-made container \"{name}\""),
                )?;
            } else {
                return Err(StoreError::other(format!(
                    "cannot create container \"{name}\": {} exists but holds no container; remove it or pick another name",
                    dir.display()
                )));
            }
        }
        self.ensure_lxcpath()?;
        fs::DirBuilder::new()
            .mode(0o750)
            .create(&dir)
            .map_err(|e| {
                StoreError::io(
                    format!("create the directory of container \"{name}\""),
                    &dir,
                    e,
                    "check the lxcpath",
                )
            })?;

        let header = header_lines(&spec.template, &spec.template_args);
        let result = fs::set_permissions(&dir, fs::Permissions::from_mode(0o750))
            .map_err(|e| StoreError::io("set the mode of", &dir, e, "check the filesystem"))
            .and_then(|_| {
                self.fill(
                    spec,
                    &header,
                    default.as_ref().map(|(t, p)| (t.as_str(), p.as_path())),
                    extra.as_ref().map(|(t, p)| (t.as_str(), p.as_path())),
                    busybox_args.as_ref(),
                )
            });
        match result {
            Ok(()) => Ok(()),
            Err(e) => {
                let cleanup = crate::remove::remove_tree(
                    &dir,
                    &format!("clean up after the failed create of \"{name}\""),
                )
                .and_then(|_| self.remove_runtime_files(name));
                match cleanup {
                    Ok(()) => Err(e),
                    Err(c) => Err(StoreError::other(format!(
                        "{e}; and the cleanup failed too: {c}"
                    ))),
                }
            }
        }
    }

    /// Steps 2–6 of create, in the freshly made directory.
    fn fill(
        &self,
        spec: &CreateSpec,
        header: &str,
        default: Option<(&str, &Path)>,
        extra: Option<(&str, &Path)>,
        busybox_args: Option<&busybox::BusyboxArgs>,
    ) -> Result<(), StoreError> {
        let name = spec.name.as_str();
        let dir = self.container_dir(name);
        let partial = dir.join(PARTIAL_MARKER);
        fs::write(&partial, b"create\n")
            .map_err(|e| StoreError::io("write", &partial, e, "check the filesystem"))?;

        let config_path = self.config_path(name);
        let rootfs = self.rootfs_path(name);
        let mut doc = assemble_config(header, default, extra, &rootfs, name, &config_path)?;

        fs::DirBuilder::new()
            .mode(0o755)
            .create(&rootfs)
            .and_then(|_| fs::set_permissions(&rootfs, fs::Permissions::from_mode(0o755)))
            .map_err(|e| {
                StoreError::io(
                    "create the rootfs directory",
                    &rootfs,
                    e,
                    "check the filesystem",
                )
            })?;

        match &spec.template {
            Template::None => {}
            Template::Busybox => {
                let args = busybox_args.expect("busybox args parsed before");
                apply_busybox_config(&mut doc);
                let ttys = doc
                    .get("lxc.tty.max")
                    .and_then(|v| v.trim().parse::<u32>().ok())
                    .unwrap_or(busybox::DEFAULT_TTYS);
                busybox::build_rootfs(&rootfs, name, &args.busybox, ttys)?;
                if !spec.quiet {
                    let mut out = io::stdout().lock();
                    let _ = writeln!(
                        out,
                        "busybox container \"{name}\": root has no password; \"hako console {name}\" gives a root shell, set a password with passwd inside"
                    );
                }
            }
            Template::Script(script) => {
                write_config(&config_path, &doc.render())?;
                run_script(&ScriptRun {
                    script,
                    name,
                    lxcpath: self.lxcpath(),
                    container_dir: &dir,
                    rootfs: &rootfs,
                    config: &config_path,
                    args: &spec.template_args,
                    quiet: spec.quiet,
                })?;
                let text = fs::read_to_string(&config_path).map_err(|e| {
                    StoreError::io(
                        format!("read the config written by template {}", script.display()),
                        &config_path,
                        e,
                        "the template must append to the config file, not remove it",
                    )
                })?;
                doc = Doc::parse(&text, &config_path).map_err(|e| StoreError::config(name, e))?;
                cfg::drop_overridden(&mut doc);
            }
        }

        write_config(&config_path, &doc.render())?;
        cfg::validate_file(&config_path).map_err(|e| StoreError::config(name, e))?;
        cfg::randomize_hwaddrs(&mut doc);
        write_config(&config_path, &doc.render())?;

        fs::remove_file(&partial)
            .map_err(|e| StoreError::io("remove", &partial, e, "check the filesystem"))
    }
}

/// The comment block at the top of a new config, as LXC writes it.
fn header_lines(template: &Template, args: &[String]) -> String {
    let mut h = format!(
        "# Template used to create this container: {}\n",
        template.display_name()
    );
    if !args.is_empty() {
        h.push_str(&format!(
            "# Parameters passed to the template: {}\n",
            args.join(" ")
        ));
    }
    h.push_str("# For additional config options, please look at lxc.container.conf(5)\n");
    h
}

/// The new config: header, the system default config (or the built-in one), the `-f`
/// file, then `lxc.rootfs.path = dir:<rootfs>` and `lxc.uts.name = <name>` set (replacing
/// any earlier value, never duplicated). `origin` is the config file's path, for errors.
pub(crate) fn assemble_config(
    header: &str,
    default: Option<(&str, &Path)>,
    extra: Option<(&str, &Path)>,
    rootfs: &Path,
    name: &str,
    origin: &Path,
) -> Result<Doc, StoreError> {
    let mut text = String::from(header);
    text.push('\n');
    match default {
        Some((t, p)) => {
            text.push_str(&format!(
                "# From the system default config {}\n",
                p.display()
            ));
            push_block(&mut text, t);
        }
        None => {
            text.push_str("# Built-in default config (no system default config file)\n");
            push_block(&mut text, BUILTIN_DEFAULT_CONFIG);
        }
    }
    if let Some((t, p)) = extra {
        text.push_str(&format!("\n# From {} (-f)\n", p.display()));
        push_block(&mut text, t);
    }
    text.push_str("\n# Container specific configuration\n");
    let mut doc = Doc::parse(&text, origin).map_err(|e| StoreError::config(name, e))?;
    cfg::drop_overridden(&mut doc);
    doc.set("lxc.rootfs.path", &format!("dir:{}", rootfs.display()));
    doc.set("lxc.uts.name", name);
    Ok(doc)
}

fn push_block(text: &mut String, block: &str) {
    text.push_str(block);
    if !block.is_empty() && !block.ends_with('\n') {
        text.push('\n');
    }
}

/// What busybox init needs; keys the config already sets (from the system default or `-f`)
/// are left as they are.
pub(crate) const BUSYBOX_CONFIG: &[(&str, &str)] = &[
    ("lxc.signal.halt", "SIGUSR1"),
    ("lxc.signal.reboot", "SIGTERM"),
    ("lxc.tty.max", "4"),
    ("lxc.pty.max", "1024"),
    ("lxc.mount.auto", "proc:mixed sys:ro cgroup:mixed"),
    ("lxc.autodev", "1"),
    ("lxc.init.cmd", "/sbin/init"),
];

pub(crate) fn apply_busybox_config(doc: &mut Doc) {
    for (k, v) in BUSYBOX_CONFIG {
        if doc.get(k).is_none() {
            doc.set(k, v);
        }
    }
}

/// Writes the config through a temporary file and a rename, so it is never half written.
fn write_config(path: &Path, text: &str) -> Result<(), StoreError> {
    let tmp = path.with_file_name(".config.tmp");
    let write = || -> io::Result<()> {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.set_permissions(fs::Permissions::from_mode(0o644))?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = fs::remove_file(&tmp);
        StoreError::io("write the container config", path, e, "check free space")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assemble(default: Option<&str>, extra: Option<&str>) -> String {
        assemble_config(
            &header_lines(&Template::Busybox, &[]),
            default.map(|t| (t, Path::new("/etc/hako/default.conf"))),
            extra.map(|t| (t, Path::new("/tmp/extra.conf"))),
            Path::new("/var/lib/hako/web/rootfs"),
            "web",
            Path::new("/var/lib/hako/web/config"),
        )
        .unwrap()
        .render()
    }

    fn values<'a>(text: &'a str, key: &str) -> Vec<&'a str> {
        text.lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .filter_map(|l| l.split_once('='))
            .filter(|(k, _)| k.trim() == key)
            .map(|(_, v)| v.trim())
            .collect()
    }

    #[test]
    fn builtin_default_when_no_file() {
        let t = assemble(None, None);
        assert!(
            t.starts_with("# Template used to create this container: busybox\n"),
            "{t}"
        );
        assert_eq!(values(&t, "lxc.net.0.type"), vec!["empty"]);
        assert_eq!(
            values(&t, "lxc.rootfs.path"),
            vec!["dir:/var/lib/hako/web/rootfs"]
        );
        assert_eq!(values(&t, "lxc.uts.name"), vec!["web"]);
    }

    #[test]
    fn default_then_extra_with_comments_then_rootfs_and_uts() {
        let t = assemble(
            Some("# site default\nlxc.net.0.type = veth\nlxc.net.0.link = br0\n"),
            Some("# my settings\nlxc.cgroup2.memory.max = 256M # inline\nlxc.uts.name = other\nlxc.rootfs.path = /elsewhere\n"),
        );
        // no built-in default when the file exists
        assert_eq!(values(&t, "lxc.net.0.type"), vec!["veth"]);
        // the order is default, then -f, comments kept
        let site = t.find("# site default").unwrap();
        let mine = t.find("# my settings").unwrap();
        let link = t.find("lxc.net.0.link = br0").unwrap();
        let mem = t.find("lxc.cgroup2.memory.max").unwrap();
        assert!(site < link && link < mine && mine < mem, "{t}");
        // set, not duplicated
        assert_eq!(values(&t, "lxc.uts.name"), vec!["web"]);
        // a key of the default overridden by -f is kept once, with the -f value
        let t = assemble(
            Some("lxc.net.0.type = empty\nlxc.mount.entry = a b none bind 0 0\n"),
            Some("# net\nlxc.net.0.type = veth\nlxc.mount.entry = c d none bind 0 0\n"),
        );
        assert_eq!(values(&t, "lxc.net.0.type"), vec!["veth"]);
        assert!(
            t.find("# net").unwrap() < t.find("lxc.net.0.type").unwrap(),
            "{t}"
        );
        assert_eq!(
            values(&t, "lxc.mount.entry"),
            vec!["a b none bind 0 0", "c d none bind 0 0"]
        );
        assert_eq!(
            values(&t, "lxc.rootfs.path"),
            vec!["dir:/var/lib/hako/web/rootfs"]
        );
    }

    #[test]
    fn busybox_additions_do_not_override_the_user() {
        let mut doc = assemble_config(
            "",
            None,
            Some((
                "lxc.tty.max = 2\nlxc.signal.halt = SIGPWR\n",
                Path::new("/x.conf"),
            )),
            Path::new("/r"),
            "web",
            Path::new("/c"),
        )
        .unwrap();
        apply_busybox_config(&mut doc);
        let t = doc.render();
        assert_eq!(values(&t, "lxc.tty.max"), vec!["2"]);
        assert_eq!(values(&t, "lxc.signal.halt"), vec!["SIGPWR"]);
        assert_eq!(values(&t, "lxc.signal.reboot"), vec!["SIGTERM"]);
        assert_eq!(values(&t, "lxc.pty.max"), vec!["1024"]);
        assert_eq!(
            values(&t, "lxc.mount.auto"),
            vec!["proc:mixed sys:ro cgroup:mixed"]
        );
        assert_eq!(values(&t, "lxc.autodev"), vec!["1"]);
        assert_eq!(values(&t, "lxc.init.cmd"), vec!["/sbin/init"]);
    }

    #[test]
    fn header_names_template_and_args() {
        let h = header_lines(
            &Template::Script(PathBuf::from("/t/lxc-debian")),
            &["-r".into(), "bookworm".into()],
        );
        assert!(h.contains("to create this container: /t/lxc-debian\n"));
        assert!(h.contains("# Parameters passed to the template: -r bookworm\n"));
    }
}
