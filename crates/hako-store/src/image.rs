//! The image cache: root filesystems built once (by a template such as debian) and shared
//! read-only by the containers made from them.
//!
//! Layout, below the cache root (`$HAKO_CACHE`, default `/var/cache/hako`):
//!
//! ```text
//! <template>/<name>/rootfs/        the image (the lower layer of overlay containers)
//! <template>/<name>/meta           key = value: release, arch, packages, builder, built, size
//! <template>/<name>/users.d/<hash> one file per container (or snapshot) using the image
//! <template>/.<name>.lock          flock: one build at a time; registration of users
//! <template>/.<name>.tmp.<pid>     a build in progress (renamed to <name> when complete)
//! ```
//!
//! A build runs under the lock into a temporary directory next to the image and is renamed
//! into place only when it is complete, so an existing `<name>` directory is always a whole
//! image; a temporary directory found by the next lock holder is the remains of a failed or
//! killed build and is removed.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::backing::disk_usage;
use crate::lock::Lock;
use crate::refs;
use crate::remove::remove_tree;
use crate::StoreError;

/// The default cache root.
pub const DEFAULT_CACHE: &str = "/var/cache/hako";

/// How long a create waits for another command building (or removing) the same image.
pub const IMAGE_LOCK_TIMEOUT: Duration = Duration::from_secs(3600);

/// The image cache.
#[derive(Clone, Debug)]
pub struct ImageCache {
    root: PathBuf,
}

/// One cached image, as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageInfo {
    /// `<template>/<name>`, e.g. `debian/bookworm-amd64`
    pub name: String,
    pub dir: PathBuf,
    pub template: String,
    pub release: String,
    pub arch: String,
    pub packages: Vec<String>,
    pub builder: String,
    /// seconds since the epoch
    pub built: u64,
    /// bytes on disk
    pub size: u64,
    /// the directories of the containers and snapshots that use it
    pub users: Vec<PathBuf>,
}

/// The metadata a template gives its image.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImageMeta {
    pub release: String,
    pub arch: String,
    pub packages: Vec<String>,
    pub mirror: String,
    pub builder: String,
}

/// A cached image, with its lock held: users register while holding it, so `image rm`
/// cannot remove an image between a create finding it and using it.
#[derive(Debug)]
pub struct ImageGuard {
    dir: PathBuf,
    name: String,
    built_now: bool,
    _lock: Lock,
}

impl ImageGuard {
    /// `<cache>/<template>/<name>`
    pub fn dir(&self) -> &Path {
        &self.dir
    }
    /// The image's root filesystem.
    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }
    /// `<template>/<name>`
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Did this call build it?
    pub fn built_now(&self) -> bool {
        self.built_now
    }
    /// Records that the container (or snapshot) in `user_dir` uses this image.
    pub fn register_user(&self, user_dir: &Path) -> Result<(), StoreError> {
        refs::register(&self.dir, user_dir)
    }
}

impl ImageCache {
    /// The cache at `$HAKO_CACHE` if set and not empty, else `/var/cache/hako`.
    pub fn from_env() -> ImageCache {
        match std::env::var_os("HAKO_CACHE") {
            Some(v) if !v.is_empty() => ImageCache::at(Path::new(&v)),
            _ => ImageCache::at(Path::new(DEFAULT_CACHE)),
        }
    }

    pub fn at(root: &Path) -> ImageCache {
        let root = if root.is_absolute() {
            crate::paths::normalize(root)
        } else {
            std::env::current_dir()
                .unwrap_or_else(|_| PathBuf::from("/"))
                .join(root)
        };
        ImageCache { root }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `<root>/<template>/<name>`
    pub fn image_dir(&self, template: &str, name: &str) -> PathBuf {
        self.root.join(template).join(name)
    }

    fn lock_path(&self, template: &str, name: &str) -> PathBuf {
        self.root.join(template).join(format!(".{name}.lock"))
    }

    fn lock(
        &self,
        template: &str,
        name: &str,
        waiting: &mut dyn FnMut(Option<u32>),
    ) -> Result<Lock, StoreError> {
        let shown = format!("{template}/{name}");
        let dir = self.root.join(template);
        fs::create_dir_all(&dir).map_err(|e| {
            StoreError::io(
                "create the image cache directory",
                &dir,
                e,
                "check that the cache (HAKO_CACHE, default /var/cache/hako) is writable",
            )
        })?;
        let path = self.lock_path(template, name);
        match Lock::acquire(&path, &shown, Duration::ZERO) {
            Ok(l) => Ok(l),
            Err(StoreError::Locked { pid, .. }) => {
                waiting(pid);
                Lock::acquire(&path, &shown, IMAGE_LOCK_TIMEOUT).map_err(|e| match e {
                    StoreError::Locked { pid, .. } => StoreError::other(format!(
                        "image {shown} is still locked by another hako command (pid {}) after {} s; retry when it has finished",
                        pid.map(|p| p.to_string()).unwrap_or_else(|| "unknown".into()),
                        IMAGE_LOCK_TIMEOUT.as_secs()
                    )),
                    e => e,
                })
            }
            Err(e) => Err(e),
        }
    }

    /// Removes the remains of builds that failed or were killed (`.<name>.tmp.*`, and
    /// `.<name>.rm.*` of an interrupted removal). Called with the image's lock held.
    fn remove_stale(&self, template: &str, name: &str) -> Result<(), StoreError> {
        let dir = self.root.join(template);
        let prefixes = [format!(".{name}.tmp."), format!(".{name}.rm.")];
        let Ok(rd) = fs::read_dir(&dir) else {
            return Ok(());
        };
        for e in rd.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if prefixes.iter().any(|p| n.starts_with(p.as_str())) {
                tracing::info!(
                    "removing the remains of an unfinished image build: {}",
                    e.path().display()
                );
                detach_mounts_below(&e.path());
                remove_tree(
                    &e.path(),
                    &format!("remove the unfinished image build {}", e.path().display()),
                )?;
            }
        }
        Ok(())
    }

    /// The image `<template>/<name>`, built first by `build` if it is not cached yet.
    /// `build` fills the (empty, existing) root filesystem directory it is given; it runs
    /// under the image's lock, so concurrent callers wait for one build (`waiting` is told
    /// once, with the builder's pid, when this call has to wait). A build that fails leaves
    /// nothing behind.
    pub fn ensure(
        &self,
        template: &str,
        name: &str,
        meta: &ImageMeta,
        build: &mut dyn FnMut(&Path) -> Result<(), StoreError>,
        waiting: &mut dyn FnMut(Option<u32>),
    ) -> Result<ImageGuard, StoreError> {
        let lock = self.lock(template, name, waiting)?;
        let dir = self.image_dir(template, name);
        let shown = format!("{template}/{name}");
        self.remove_stale(template, name)?;
        if dir.join("rootfs").is_dir() {
            return Ok(ImageGuard {
                dir,
                name: shown,
                built_now: false,
                _lock: lock,
            });
        }
        if fs::symlink_metadata(&dir).is_ok() {
            // not a whole image (no rootfs): never trust it, but never remove what we did not make
            return Err(StoreError::other(format!(
                "image directory {} exists but holds no image (no rootfs); remove it by hand and retry",
                dir.display()
            )));
        }
        let tmp = self
            .root
            .join(template)
            .join(format!(".{name}.tmp.{}", std::process::id()));
        let r = (|| {
            crate::backing::mkdir_mode(&tmp, 0o755)?;
            let rootfs = tmp.join("rootfs");
            crate::backing::mkdir_mode(&rootfs, 0o755)?;
            build(&rootfs)?;
            let size = disk_usage(&rootfs);
            let built = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            let text = render_meta(template, meta, built, size);
            refs::write_atomic(&tmp.join("meta"), text.as_bytes())?;
            fs::rename(&tmp, &dir).map_err(|e| {
                StoreError::io(
                    "move the finished image into place at",
                    &dir,
                    e,
                    "check the cache directory",
                )
            })
        })();
        if let Err(e) = r {
            detach_mounts_below(&tmp);
            if let Err(c) =
                remove_tree(&tmp, &format!("clean up the failed build of image {shown}"))
            {
                return Err(StoreError::other(format!(
                    "{e}; and the cleanup failed too: {c}"
                )));
            }
            return Err(e);
        }
        Ok(ImageGuard {
            dir,
            name: shown,
            built_now: true,
            _lock: lock,
        })
    }

    /// Every cached image, sorted by name.
    pub fn list(&self) -> Result<Vec<ImageInfo>, StoreError> {
        let mut out = Vec::new();
        let rd = match fs::read_dir(&self.root) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
            Err(e) => {
                return Err(StoreError::io(
                    "list the image cache",
                    &self.root,
                    e,
                    "check HAKO_CACHE and the permissions",
                ))
            }
        };
        for t in rd.flatten() {
            let template = t.file_name().to_string_lossy().into_owned();
            if template.starts_with('.') || !t.path().is_dir() {
                continue;
            }
            let Ok(rd2) = fs::read_dir(t.path()) else {
                continue;
            };
            for i in rd2.flatten() {
                let name = i.file_name().to_string_lossy().into_owned();
                if name.starts_with('.') || !i.path().join("rootfs").is_dir() {
                    continue;
                }
                out.push(self.info(&template, &name));
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn info(&self, template: &str, name: &str) -> ImageInfo {
        let dir = self.image_dir(template, name);
        let meta = fs::read_to_string(dir.join("meta")).unwrap_or_default();
        let get = |k: &str| meta_value(&meta, k).unwrap_or_default();
        let size = get("size")
            .parse()
            .unwrap_or_else(|_| disk_usage(&dir.join("rootfs")));
        ImageInfo {
            name: format!("{template}/{name}"),
            template: template.to_string(),
            release: get("release"),
            arch: get("arch"),
            packages: get("packages")
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            builder: get("builder"),
            built: get("built").parse().unwrap_or(0),
            size,
            users: refs::live_users(&dir),
            dir,
        }
    }

    /// Finds an image by `template/name`, or by `name` alone when one template has it.
    pub fn find(&self, name: &str) -> Result<ImageInfo, StoreError> {
        let all = self.list()?;
        let matches: Vec<&ImageInfo> = all
            .iter()
            .filter(|i| i.name == name || i.name.split_once('/').map(|(_, n)| n) == Some(name))
            .collect();
        match matches.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(StoreError::other(format!(
                "image \"{name}\" is not in the cache {}; \"hako image ls\" lists the images there are ({})",
                self.root.display(),
                if all.is_empty() {
                    "none now".to_string()
                } else {
                    all.iter().map(|i| i.name.as_str()).collect::<Vec<_>>().join(", ")
                }
            ))),
            many => Err(StoreError::other(format!(
                "image name \"{name}\" is ambiguous: {}; give the full name",
                many.iter().map(|i| i.name.as_str()).collect::<Vec<_>>().join(", ")
            ))),
        }
    }

    /// Removes an image; refuses while a container or snapshot uses it (the error names
    /// them, as seen from `lxcpath`).
    pub fn remove(&self, name: &str, lxcpath: Option<&Path>) -> Result<(), StoreError> {
        let info = self.find(name)?;
        let (template, short) = info.name.split_once('/').expect("template/name");
        let lock = self.lock(template, short, &mut |_| {})?;
        let users = refs::live_users(&info.dir);
        if !users.is_empty() {
            let shown: Vec<String> = users
                .iter()
                .map(|u| refs::describe_user(u, lxcpath))
                .collect();
            return Err(StoreError::other(format!(
                "cannot remove image {}: it is used by {} {}; destroy {} first",
                info.name,
                if users.len() == 1 {
                    "container"
                } else {
                    "containers"
                },
                shown.join(", "),
                if users.len() == 1 { "it" } else { "them" }
            )));
        }
        let gone = self
            .root
            .join(template)
            .join(format!(".{short}.rm.{}", std::process::id()));
        fs::rename(&info.dir, &gone).map_err(|e| {
            StoreError::io(
                format!("remove image {}", info.name),
                &info.dir,
                e,
                "check the cache directory",
            )
        })?;
        remove_tree(&gone, &format!("remove image {}", info.name))?;
        let _ = fs::remove_file(self.lock_path(template, short));
        drop(lock);
        Ok(())
    }
}

fn render_meta(template: &str, m: &ImageMeta, built: u64, size: u64) -> String {
    format!(
        "# hako image: written when the build completed; do not edit\ntemplate = {template}\nrelease = {}\narch = {}\npackages = {}\nmirror = {}\nbuilder = {}\nbuilt = {built}\nsize = {size}\n",
        m.release,
        m.arch,
        m.packages.join(","),
        m.mirror,
        m.builder
    )
}

fn meta_value(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once('=')?;
        (k.trim() == key).then(|| v.trim().to_string())
    })
}

/// A builder killed in the middle may leave its mounts (proc, dev) in the tree it was
/// building; they are ours and go before the tree does.
fn detach_mounts_below(dir: &Path) {
    let Ok(c) = fs::canonicalize(dir) else { return };
    let Ok(mut mounts) = crate::remove::mounts_below(&c) else {
        return;
    };
    mounts.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for m in mounts {
        let _ = nix::mount::umount2(&m, nix::mount::MntFlags::MNT_DETACH);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> ImageMeta {
        ImageMeta {
            release: "bookworm".into(),
            arch: "amd64".into(),
            packages: vec!["htop".into()],
            mirror: "http://m/debian".into(),
            builder: "fake".into(),
        }
    }

    fn fake_build(root: &Path) -> Result<(), StoreError> {
        fs::create_dir_all(root.join("etc")).unwrap();
        fs::write(root.join("etc/os-release"), "ID=fake\n").unwrap();
        Ok(())
    }

    #[test]
    fn builds_once_then_reuses() {
        let d = tempfile::tempdir().unwrap();
        let cache = ImageCache::at(d.path());
        let mut builds = 0;
        let g = cache
            .ensure(
                "debian",
                "bookworm-amd64",
                &meta(),
                &mut |r| {
                    builds += 1;
                    fake_build(r)
                },
                &mut |_| {},
            )
            .unwrap();
        assert!(g.built_now());
        assert_eq!(g.rootfs(), d.path().join("debian/bookworm-amd64/rootfs"));
        assert!(g.rootfs().join("etc/os-release").is_file());
        drop(g);
        let g = cache
            .ensure(
                "debian",
                "bookworm-amd64",
                &meta(),
                &mut |r| {
                    builds += 1;
                    fake_build(r)
                },
                &mut |_| {},
            )
            .unwrap();
        assert!(!g.built_now());
        drop(g);
        assert_eq!(builds, 1);
        let list = cache.list().unwrap();
        assert_eq!(list.len(), 1);
        let i = &list[0];
        assert_eq!(i.name, "debian/bookworm-amd64");
        assert_eq!((i.release.as_str(), i.arch.as_str()), ("bookworm", "amd64"));
        assert_eq!(i.packages, vec!["htop".to_string()]);
        assert_eq!(i.builder, "fake");
        assert!(i.built > 0 && i.size > 0, "{i:?}");
        // only the image and its lock file are left: no temporary directory
        let mut names: Vec<String> = fs::read_dir(d.path().join("debian"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, vec![".bookworm-amd64.lock", "bookworm-amd64"]);
    }

    #[test]
    fn a_failed_build_leaves_nothing() {
        let d = tempfile::tempdir().unwrap();
        let cache = ImageCache::at(d.path());
        let e = cache
            .ensure(
                "debian",
                "sid-amd64",
                &meta(),
                &mut |r| {
                    fake_build(r)?;
                    Err(StoreError::other(
                        "builder failed: E: Unable to locate package nope",
                    ))
                },
                &mut |_| {},
            )
            .unwrap_err();
        assert!(e.to_string().contains("Unable to locate"), "{e}");
        assert!(!cache.image_dir("debian", "sid-amd64").exists());
        let left: Vec<_> = fs::read_dir(d.path().join("debian"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| n.to_string_lossy().contains(".tmp."))
            .collect();
        assert!(left.is_empty(), "{left:?}");
        assert!(cache.list().unwrap().is_empty());
    }

    #[test]
    fn the_remains_of_a_killed_build_are_removed_and_never_trusted() {
        let d = tempfile::tempdir().unwrap();
        let cache = ImageCache::at(d.path());
        // what a build killed with SIGKILL leaves: a half tree in a temporary directory
        let stale = d.path().join("debian/.bookworm-amd64.tmp.99999999");
        fs::create_dir_all(stale.join("rootfs/usr/bin")).unwrap();
        fs::write(stale.join("rootfs/usr/bin/half"), "x").unwrap();
        assert!(
            cache.list().unwrap().is_empty(),
            "a temporary build is not an image"
        );
        let mut built = false;
        let g = cache
            .ensure(
                "debian",
                "bookworm-amd64",
                &meta(),
                &mut |r| {
                    built = true;
                    fake_build(r)
                },
                &mut |_| {},
            )
            .unwrap();
        assert!(built, "the half image was not trusted");
        assert!(!g.rootfs().join("usr/bin/half").exists());
        assert!(!stale.exists(), "the stale build was removed");
    }

    #[test]
    fn concurrent_ensures_wait_for_one_build() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().to_path_buf();
        let builds = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let waited = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut threads = Vec::new();
        for _ in 0..4 {
            let root = root.clone();
            let builds = builds.clone();
            let waited = waited.clone();
            threads.push(std::thread::spawn(move || {
                let cache = ImageCache::at(&root);
                let g = cache
                    .ensure(
                        "debian",
                        "bookworm-amd64",
                        &meta(),
                        &mut |r| {
                            builds.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            std::thread::sleep(Duration::from_millis(300));
                            fake_build(r)
                        },
                        &mut |_| {
                            waited.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        },
                    )
                    .unwrap();
                assert!(g.rootfs().join("etc/os-release").is_file());
            }));
        }
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(builds.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert!(waited.load(std::sync::atomic::Ordering::SeqCst) >= 1);
    }

    #[test]
    fn remove_refuses_while_used_and_finds_short_names() {
        let d = tempfile::tempdir().unwrap();
        let base = fs::canonicalize(d.path()).unwrap();
        let cache = ImageCache::at(&base.join("cache"));
        let user = base.join("lp/web");
        fs::create_dir_all(&user).unwrap();
        fs::write(user.join("config"), "").unwrap();
        let g = cache
            .ensure(
                "debian",
                "bookworm-amd64",
                &meta(),
                &mut fake_build,
                &mut |_| {},
            )
            .unwrap();
        g.register_user(&user).unwrap();
        drop(g);
        assert_eq!(cache.list().unwrap()[0].users, vec![user.clone()]);
        let e = cache
            .remove("bookworm-amd64", Some(&base.join("lp")))
            .unwrap_err()
            .to_string();
        assert!(e.contains("used by container \"web\""), "{e}");
        assert!(cache.image_dir("debian", "bookworm-amd64").is_dir());
        fs::remove_file(user.join("uses")).unwrap();
        cache.remove("debian/bookworm-amd64", None).unwrap();
        assert!(!cache.image_dir("debian", "bookworm-amd64").exists());
        let e = cache
            .remove("bookworm-amd64", None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("not in the cache") && e.contains("none now"),
            "{e}"
        );
    }
}
