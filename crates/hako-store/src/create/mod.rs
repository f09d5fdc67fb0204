//! Creating a container: all or nothing.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::backing::{
    check_overlay_path, copy_tree, mkdir_mode, same_attributes, Backing, RootfsSpec, BACKINGS,
};
use crate::busybox;
use crate::cfg::{self, hostname_from_name, read_config_text, Doc};
use crate::debian;
use crate::fsutil::DirState;
use crate::identity::{self, Identity, LoginSetup};
use crate::image::{ImageCache, ImageMeta};
use crate::paths::{default_config_path_as, validate_name};
use crate::progress::{stderr_is_terminal, Progress};
use crate::template::{run_script, ScriptRun, Template};
use crate::Flavour;
use crate::{Lock, Store, StoreError};

/// How long `create` waits for another command that holds the container's lock.
pub const CREATE_LOCK_TIMEOUT: Duration = Duration::from_secs(10);

/// The config used when the system default config file does not exist.
/// New containers join the default managed network `hakobr0` (created on first use, with
/// NAT, DHCP and DNS), so `hako create -t busybox c1 && hako start c1` gives c1 an address
/// with no other step. `make install` writes the same text to /etc/hako/default.conf.
pub const BUILTIN_DEFAULT_CONFIG: &str = "lxc.net.0.type = veth\n\
lxc.net.0.link = hakobr0\n\
lxc.net.0.flags = up\n\
lxc.net.0.hwaddr = 00:16:3e:xx:xx:xx\n";

/// The config used by the `lxc-*` face when `/etc/lxc/default.conf` does not exist: as with
/// LXC itself, a container without network keys gets a network namespace with loopback only.
/// (Debian's lxc package installs a default.conf that uses lxcbr0; that file is read as is.)
pub const LXC_BUILTIN_DEFAULT_CONFIG: &str = "lxc.net.0.type = empty\n";

/// What to create.
#[derive(Clone, Debug)]
pub struct CreateSpec {
    pub name: String,
    pub template: Template,
    /// Arguments after `--`, for the template.
    pub template_args: Vec<String>,
    /// `-f FILE`: appended to the system default config (comments kept).
    pub extra_config: Option<PathBuf>,
    /// `-B`: "dir" (also "none"), "overlay", "btrfs"; "" is the template's default (overlay
    /// for debian, dir for the others).
    pub backing: String,
    /// No template output on the terminal.
    pub quiet: bool,
    /// Whose ids the container's root has: a range of its own, root's (privileged), or
    /// what the config says (`lxc-create`).
    pub ids: IdMapping,
}

/// How a new container's ids are mapped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IdMapping {
    /// As the assembled config says (LXC's semantics: privileged unless it has
    /// `lxc.idmap` lines).
    #[default]
    AsConfigured,
    /// Unprivileged: a range of 65536 ids of its own from root's block in /etc/subuid and
    /// /etc/subgid ([`crate::subid`]), written as `lxc.idmap` lines. A config that maps
    /// ids already (from the system default or `-f`) is kept as it is.
    OwnRange,
    /// Privileged: root in the container is root on the host; a config that maps ids is
    /// refused.
    Privileged,
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
                if fs::symlink_metadata(self.container_dir(name)).is_err() {
                    let _ = fs::remove_file(self.lock_path(name));
                }
                Err(e.context(&format!("create container \"{name}\""), name))
            }
        }
    }

    /// The part of create that runs under the lock for a name that is not a container yet.
    fn create_new(&self, spec: &CreateSpec) -> Result<(), StoreError> {
        let name = spec.name.as_str();
        let backing = self.pick_backing(spec)?;
        // Everything that can be checked before touching the disk.
        let busybox_args = match &spec.template {
            Template::Busybox => {
                let a = busybox::parse_args(&spec.template_args)?;
                busybox::check_busybox(&a.busybox)?;
                Some(a)
            }
            _ => None,
        };
        let debian_args = match &spec.template {
            Template::Debian => {
                let mut a = debian::parse_args(&spec.template_args)?;
                let login = debian::login_setup(&a)?;
                // the builder and a mirror are needed only to build the image: a warm cache
                // does without
                let cached = ImageCache::from_env()
                    .image_dir("debian", &debian::image_name(&a))
                    .join("rootfs")
                    .is_dir();
                if !cached {
                    debian::builder()?;
                    debian::resolve_mirror(&mut a)?;
                }
                Some((a, login))
            }
            _ => None,
        };
        match &spec.template {
            Template::None if !spec.template_args.is_empty() => {
                return Err(StoreError::other(format!(
                    "cannot create container \"{name}\": template none takes no arguments, got \"{}\"; drop the arguments after --",
                    spec.template_args.join(" ")
                )))
            }
            _ => {}
        }
        let extra = match &spec.extra_config {
            Some(p) => {
                let text = read_config_text(p).map_err(|e| {
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
        let default_path = default_config_path_as(self.flavour(), self.sysconfdir(), self.user())?;
        let default = match read_config_text(&default_path) {
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

        let dir = self.new_container_dir(name, "create")?;
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
                    backing,
                    debian_args.as_ref(),
                )
            });
        match result {
            Ok(message) => {
                if let Some(m) = message {
                    if !spec.quiet {
                        let _ = io::stdout().lock().write_all(m.as_bytes());
                    }
                }
                Ok(())
            }
            Err(e) => Err(self.undo_new_container(&dir, name, &format!("create of \"{name}\""), e)),
        }
    }

    /// Steps 2–6 of create, in the freshly made directory.
    #[allow(clippy::too_many_arguments)]
    fn fill(
        &self,
        spec: &CreateSpec,
        header: &str,
        default: Option<(&str, &Path)>,
        extra: Option<(&str, &Path)>,
        busybox_args: Option<&busybox::BusyboxArgs>,
        backing: Backing,
        debian_args: Option<&(debian::DebianArgs, LoginSetup)>,
    ) -> Result<Option<String>, StoreError> {
        let name = spec.name.as_str();
        let dir = self.container_dir(name);
        let config_path = self.config_path(name);
        let rootfs = self.rootfs_path(name);
        // a non-root caller cannot put a veth on hakobr0 (no lxc-user-nic helper yet):
        // its built-in default is LXC's, a network namespace with loopback only
        let builtin = match self.flavour() {
            Flavour::Hako if self.user().is_none() => BUILTIN_DEFAULT_CONFIG,
            Flavour::Hako | Flavour::Lxc => LXC_BUILTIN_DEFAULT_CONFIG,
        };
        let mut doc =
            assemble_config(header, builtin, default, extra, &rootfs, name, &config_path)?;
        // first, so a full block fails the create before a template runs
        apply_id_mapping(&mut doc, spec.ids, name, &config_path)?;
        // a non-root caller's container runs in a user namespace of its own or not at all
        if self.user().is_some() && doc.get_all("lxc.idmap").is_empty() {
            return Err(StoreError::other(format!(
                "cannot create container \"{name}\": its config has no lxc.idmap lines, and a non-root user can only run containers in a user namespace of its own; add the user's range from /etc/subuid and /etc/subgid, e.g. \"lxc.idmap = u 0 START 65536\" and \"lxc.idmap = g 0 START 65536\" (for lxc-create: in ~/.config/lxc/default.conf, as LXC's unprivileged setup has them), or run as root"
            )));
        }

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
        if backing == Backing::Btrfs {
            // the rootfs is a subvolume of its own (snapshots of it are cheap)
            fs::remove_dir(&rootfs).map_err(|e| {
                StoreError::io(
                    "replace with a subvolume",
                    &rootfs,
                    e,
                    "check the filesystem",
                )
            })?;
            crate::backing::btrfs_subvolume_create(&rootfs)?;
            doc.set(
                "lxc.rootfs.path",
                &RootfsSpec::Btrfs(rootfs.clone()).render(),
            );
        }

        let mut message = None;
        match &spec.template {
            Template::None => {}
            Template::Debian => {
                let (args, login) = debian_args.expect("debian args parsed before");
                message = Some(self.fill_debian(name, &mut doc, backing, args, login, spec.quiet)?);
            }
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
                let text = read_config_text(&config_path).map_err(|e| {
                    StoreError::io(
                        format!("read the config written by template {}", script.display()),
                        &config_path,
                        e,
                        "the template must append to the config file, not remove it",
                    )
                })?;
                doc = Doc::parse(&text, &config_path).map_err(|e| StoreError::config(name, e))?;
                cfg::drop_overridden(&mut doc);
                // LXC's templates write "lxc.uts.name = NAME": the name as a valid host name
                if doc.get("lxc.uts.name") == Some(name) {
                    doc.set("lxc.uts.name", &hostname_from_name(name));
                }
            }
        }

        write_config(&config_path, &doc.render())?;
        cfg::validate_file(&config_path).map_err(|e| StoreError::config(name, e))?;
        cfg::randomize_hwaddrs(&mut doc);
        write_config(&config_path, &doc.render())?;
        // the commit point: complete from here
        finish_new_dir(&dir)?;
        Ok(message)
    }

    /// A create or copy into [`Store::new_container_dir`] failed with `e`: the directory,
    /// its runtime files and its id range go; `e`, with the cleanup's own failure if any.
    pub(crate) fn undo_new_container(
        &self,
        dir: &Path,
        name: &str,
        what: &str,
        e: StoreError,
    ) -> StoreError {
        let cleanup = self
            .remove_container_dir(dir, &format!("clean up after the failed {what}"))
            .and_then(|_| self.remove_runtime_files(name));
        self.free_id_range(name);
        match cleanup {
            Ok(()) => e,
            Err(c) => StoreError::other(format!("{e}; and the cleanup failed too: {c}")),
        }
    }

    /// Makes `<lxcpath>/<name>` for a new container, marked half-made by `op` before
    /// anything goes in. A half-made one in the way (left by a killed command; ours, since
    /// we hold the lock) is removed first; any other directory in the way is left alone.
    pub(crate) fn new_container_dir(&self, name: &str, op: &str) -> Result<PathBuf, StoreError> {
        let dir = self.container_dir(name);
        match crate::fsutil::classify(&dir) {
            DirState::Missing => {}
            DirState::Partial(_) => self.remove_container_dir(
                &dir,
                &format!("remove the half-made container \"{name}\""),
            )?,
            DirState::Complete => {
                return Err(StoreError::Exists {
                    name: name.to_string(),
                    lxcpath: self.lxcpath().to_path_buf(),
                })
            }
            DirState::Foreign => {
                return Err(StoreError::other(format!(
                    "cannot {op} container \"{name}\": {} exists but holds no container; remove it or pick another name",
                    dir.display()
                )))
            }
        }
        self.ensure_lxcpath()?;
        new_marked_dir(&dir, op, 0o750)?;
        Ok(dir)
    }

    /// `-B`: "" picks the template's default (overlay for debian, dir otherwise).
    fn pick_backing(&self, spec: &CreateSpec) -> Result<Backing, StoreError> {
        let name = spec.name.as_str();
        let asked = match spec.backing.as_str() {
            "" => None,
            b => Some(Backing::parse(b).ok_or_else(|| {
                StoreError::other(format!(
                    "cannot create container \"{name}\": backing store \"{b}\" is not supported; the available ones are: {} (e.g. -B dir)",
                    BACKINGS.join(", ")
                ))
            })?),
        };
        let b = match (&spec.template, asked) {
            (Template::Debian, None) => Backing::Overlay,
            (_, None) => Backing::Dir,
            (Template::Debian, Some(b)) => b,
            (_, Some(Backing::Overlay)) => {
                return Err(StoreError::other(format!(
                    "cannot create container \"{name}\" with -B overlay: template {} builds no image to layer on; use -B dir, -t debian, or an overlay clone of a container (hako copy -s SRC {name})",
                    spec.template.display_name()
                )))
            }
            (_, Some(b)) => b,
        };
        if b == Backing::Btrfs && !crate::backing::is_on_btrfs(self.lxcpath()) {
            return Err(StoreError::other(format!(
                "cannot create container \"{name}\" with -B btrfs: the lxcpath {} is not on a btrfs filesystem; use -B dir or -B overlay, or an lxcpath on btrfs (-P)",
                self.lxcpath().display()
            )));
        }
        Ok(b)
    }

    /// The debian template: the cached image (built first if needed), the container's
    /// rootfs on top of it, the container's own identity. Returns what to tell the user.
    fn fill_debian(
        &self,
        name: &str,
        doc: &mut Doc,
        backing: Backing,
        args: &debian::DebianArgs,
        login: &LoginSetup,
        quiet: bool,
    ) -> Result<String, StoreError> {
        for (k, v) in debian::DEBIAN_CONFIG {
            if doc.get(k).is_none() {
                doc.set(k, v);
            }
        }
        let dir = self.container_dir(name);
        let rootfs = self.rootfs_path(name);
        let cache = ImageCache::from_env();
        let image = debian::image_name(args);
        let shown = format!("debian/{image}");
        let progress = !quiet && stderr_is_terminal();
        let meta = ImageMeta {
            release: args.release.clone(),
            arch: args.arch.clone(),
            packages: args.packages.clone(),
            // empty when the image was cached at the check before: the build below (only
            // should the image have gone since) resolves it the same way
            mirror: if args.mirror.is_empty() {
                debian::host_mirror_in(Path::new(debian::APT_DIR)).unwrap_or_default()
            } else {
                args.mirror.clone()
            },
            builder: debian::builder().unwrap_or_else(|_| "unknown".into()),
        };
        let guard = cache.ensure(
            "debian",
            &image,
            &meta,
            &mut |root| {
                let mut a = args.clone();
                debian::resolve_mirror(&mut a)?;
                debian::build_image(&a, root, cache.root(), &shown, progress)
            },
            &mut |pid| {
                if !quiet {
                    eprintln!(
                        "waiting for another hako command (pid {}) that is building image {shown}",
                        pid.map(|p| p.to_string())
                            .unwrap_or_else(|| "unknown".into())
                    );
                }
            },
        )?;
        let spec = match backing {
            Backing::Overlay => {
                let lower = guard.rootfs();
                let upper = dir.join("overlay/upper");
                check_overlay_path(&lower, "lower layer")?;
                check_overlay_path(&upper, "upper layer")?;
                mkdir_mode(&dir.join("overlay"), 0o755)?;
                mkdir_mode(&upper, 0o755)?;
                same_attributes(&lower, &upper)?;
                mkdir_mode(&crate::backing::overlay_workdir(&upper), 0o755)?;
                guard.register_user(&dir)?;
                RootfsSpec::Overlay {
                    lowers: vec![lower],
                    upper,
                }
            }
            Backing::Dir | Backing::Btrfs => {
                let mut p = Progress::new(format!("copying image {shown}"), progress);
                copy_tree(&guard.rootfs(), &rootfs, &mut |s| {
                    p.set(&format!("{} files, {} MB", s.entries, s.bytes >> 20))
                })?;
                p.finish("");
                if backing == Backing::Dir {
                    RootfsSpec::Dir(rootfs.clone())
                } else {
                    RootfsSpec::Btrfs(rootfs.clone())
                }
            }
        };
        drop(guard);
        doc.set("lxc.rootfs.path", &spec.render());
        let id = Identity {
            hostname: hostname_from_name(name),
            login: login.clone(),
        };
        crate::view::in_rootfs(&spec, &rootfs, &|root| {
            identity::apply_identity(root, &id)?;
            debian::boot_profile(root)?;
            if args.persistent_journal {
                debian::persist_journal(root)?;
            }
            Ok(())
        })?;
        Ok(debian_message(self.flavour(), name, &shown, backing, login))
    }
}

/// What `create -t debian` tells the user: how to get in.
fn debian_message(
    flavour: crate::Flavour,
    name: &str,
    image: &str,
    backing: Backing,
    login: &LoginSetup,
) -> String {
    let (start, attach, console, info) = match flavour {
        crate::Flavour::Hako => (
            format!("hako start {name}"),
            format!("hako attach {name}"),
            format!("hako console {name}"),
            format!("hako info {name} -i"),
        ),
        crate::Flavour::Lxc => (
            format!("lxc-start -n {name}"),
            format!("lxc-attach -n {name}"),
            format!("lxc-console -n {name}"),
            format!("lxc-info -n {name} -i"),
        ),
    };
    let who = login.user.clone().unwrap_or_else(|| "root".to_string());
    let console_note = if login.password.is_some() {
        format!("log in as {who} with the password you gave")
    } else {
        format!("{who} has no password: set one with \"{attach} -- passwd {who}\", or create with --password")
    };
    let mut s = format!(
        "Created container \"{name}\" from image {image} ({} backing).\nTo get in, start it (\"{start}\"), then:\n  {attach:<28} a root shell\n  {console:<28} the console: {console_note}\n",
        backing.as_str()
    );
    if login.authorized_keys.is_some() || login.password.is_some() {
        s.push_str(&format!(
            "  {:<28} once it has an address (\"{info}\" shows it)\n",
            format!("ssh {who}@ADDRESS")
        ));
    } else {
        s.push_str("  ssh needs a key: create with --ssh-key FILE (and --user NAME)\n");
    }
    s
}

/// Gives the new container the ids `ids` asks for: a range of its own (recorded in the
/// registry under `config_path`, written as two `lxc.idmap` lines), or a check that a
/// privileged one maps none.
fn apply_id_mapping(
    doc: &mut Doc,
    ids: IdMapping,
    name: &str,
    config_path: &Path,
) -> Result<(), StoreError> {
    let mapped = !doc.get_all("lxc.idmap").is_empty();
    match ids {
        IdMapping::AsConfigured => Ok(()),
        IdMapping::Privileged if mapped => Err(StoreError::other(format!(
            "cannot create container \"{name}\" privileged: its config maps ids (lxc.idmap = {}, from the system default config or -f); drop --privileged, or the lxc.idmap lines",
            doc.get_all("lxc.idmap").join(", ")
        ))),
        IdMapping::Privileged => Ok(()),
        // the user's own map wins
        IdMapping::OwnRange if mapped => Ok(()),
        IdMapping::OwnRange => {
            let lines = crate::IdRanges::from_env()?
                .allocate_idmap(config_path, &format!("container \"{name}\""))?;
            for v in lines {
                doc.append("lxc.idmap", &v);
            }
            Ok(())
        }
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
    builtin: &str,
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
            push_block(&mut text, builtin);
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
    doc.set("lxc.uts.name", &hostname_from_name(name));
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

/// Writes a container's (or snapshot's) config through a temporary file and a rename, so
/// it is never half written, and durably.
pub(crate) fn write_config(path: &Path, text: &str) -> Result<(), StoreError> {
    crate::fsutil::replace_file(path, text.as_bytes(), 0o644, true)
        .map_err(|e| StoreError::io("write the config", path, e, "check free space"))
}

/// mkdir `dir` (mode `mode`) and mark it half-made by `op` at once, so no instant shows it
/// without its marker but empty (which counts as half-made too). A marker that cannot be
/// written (a full disk) takes the directory away again.
pub(crate) fn new_marked_dir(dir: &Path, op: &str, mode: u32) -> Result<(), StoreError> {
    fs::DirBuilder::new()
        .mode(mode)
        .create(dir)
        .map_err(|e| StoreError::io("create the directory", dir, e, "check the lxcpath"))?;
    if let Err(e) = crate::fsutil::mark(dir, op, false) {
        let _ = fs::remove_dir(dir);
        return Err(StoreError::io(
            "write the marker",
            dir.join(crate::PARTIAL_MARKER),
            e,
            "check the filesystem",
        ));
    }
    Ok(())
}

/// The commit point of a new container or snapshot in `dir`: its marker goes (after its
/// config, written and synced before).
pub(crate) fn finish_new_dir(dir: &Path) -> Result<(), StoreError> {
    crate::fsutil::unmark(dir).map_err(|e| {
        StoreError::io(
            "remove the marker",
            dir.join(crate::PARTIAL_MARKER),
            e,
            "check the filesystem",
        )
    })
}

#[cfg(test)]
mod tests;
