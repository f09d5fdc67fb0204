//! Backing stores of a container's root filesystem: `dir` (a plain directory), `overlay`
//! (read-only lower layers, a per-container upper and work directory) and `btrfs` (a
//! subvolume), the `lxc.rootfs.path` forms that name them (LXC's), and a full copy of a
//! tree with `cp -a` semantics.

use std::collections::HashMap;
use std::ffi::{CString, OsStr};
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::StoreError;

/// The backing stores hako can create.
pub const BACKINGS: &[&str] = &["dir", "overlay", "btrfs"];

/// A backing store kind (`-B`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backing {
    Dir,
    Overlay,
    Btrfs,
}

impl Backing {
    /// `dir` (also `none`, as LXC), `overlay` (also `overlayfs`), `btrfs`.
    pub fn parse(s: &str) -> Option<Backing> {
        match s {
            "dir" | "none" => Some(Backing::Dir),
            "overlay" | "overlayfs" => Some(Backing::Overlay),
            "btrfs" => Some(Backing::Btrfs),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Backing::Dir => "dir",
            Backing::Overlay => "overlay",
            Backing::Btrfs => "btrfs",
        }
    }
}

/// What `lxc.rootfs.path` says about where the root filesystem is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RootfsSpec {
    /// `dir:/path` or `/path`
    Dir(PathBuf),
    /// `overlay:LOWER[:LOWER...]:UPPER` (lower layers top first)
    Overlay {
        lowers: Vec<PathBuf>,
        upper: PathBuf,
    },
    /// `btrfs:/path` (a subvolume)
    Btrfs(PathBuf),
}

impl RootfsSpec {
    /// Parses an `lxc.rootfs.path` value; None for forms hako does not know (block devices,
    /// zfs, lvm, ...).
    pub fn parse(v: &str) -> Option<RootfsSpec> {
        let v = v.trim();
        if let Some(rest) = v
            .strip_prefix("overlay:")
            .or_else(|| v.strip_prefix("overlayfs:"))
        {
            let parts: Vec<&str> = rest.split(':').collect();
            if parts.len() < 2 || parts.iter().any(|p| !p.starts_with('/')) {
                return None;
            }
            let (upper, lowers) = parts.split_last()?;
            return Some(RootfsSpec::Overlay {
                lowers: lowers.iter().map(PathBuf::from).collect(),
                upper: PathBuf::from(upper),
            });
        }
        if let Some(p) = v.strip_prefix("btrfs:") {
            return p
                .starts_with('/')
                .then(|| RootfsSpec::Btrfs(PathBuf::from(p)));
        }
        if let Some(p) = v.strip_prefix("dir:") {
            return p
                .starts_with('/')
                .then(|| RootfsSpec::Dir(PathBuf::from(p)));
        }
        if v.starts_with('/') {
            return Some(RootfsSpec::Dir(PathBuf::from(v)));
        }
        None
    }

    /// The value for `lxc.rootfs.path`.
    pub fn render(&self) -> String {
        match self {
            RootfsSpec::Dir(p) => format!("dir:{}", p.display()),
            RootfsSpec::Btrfs(p) => format!("btrfs:{}", p.display()),
            RootfsSpec::Overlay { lowers, upper } => {
                let mut s = String::from("overlay:");
                for l in lowers {
                    s.push_str(&l.display().to_string());
                    s.push(':');
                }
                s.push_str(&upper.display().to_string());
                s
            }
        }
    }

    pub fn backing(&self) -> Backing {
        match self {
            RootfsSpec::Dir(_) => Backing::Dir,
            RootfsSpec::Overlay { .. } => Backing::Overlay,
            RootfsSpec::Btrfs(_) => Backing::Btrfs,
        }
    }
}

/// The overlay work directory that goes with an upper directory: `<dir of upper>/work`.
pub fn overlay_workdir(upper: &Path) -> PathBuf {
    upper
        .parent()
        .map(|p| p.join("work"))
        .unwrap_or_else(|| PathBuf::from("work"))
}

/// For the runtime: an `overlay:` rootfs value as (lowerdir, upperdir, workdir) for
/// `mount -t overlay -o lowerdir=L,upperdir=U,workdir=W`. The lowerdir holds every lower
/// layer, top first, joined with ':' (overlayfs's own syntax); the workdir is
/// `<dir of upper>/work`. None if the value is not an overlay rootfs.
pub fn parse_overlay_rootfs(v: &str) -> Option<(PathBuf, PathBuf, PathBuf)> {
    match RootfsSpec::parse(v)? {
        RootfsSpec::Overlay { lowers, upper } => {
            let lower = lowers
                .iter()
                .map(|l| l.display().to_string())
                .collect::<Vec<_>>()
                .join(":");
            let work = overlay_workdir(&upper);
            Some((PathBuf::from(lower), upper, work))
        }
        _ => None,
    }
}

/// Paths that cannot appear in an overlay mount option or an `overlay:` value.
pub(crate) fn check_overlay_path(p: &Path, what: &str) -> Result<(), StoreError> {
    let s = p.as_os_str().as_bytes();
    if s.contains(&b':') || s.contains(&b',') || s.contains(&b'\n') {
        return Err(StoreError::other(format!(
            "cannot use {} as the {what} of an overlay rootfs: the path contains ':', ',' or a newline, which overlayfs cannot take; use an lxcpath (-P) and image cache (HAKO_CACHE) without them, or -B dir",
            p.display()
        )));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// btrfs
// ---------------------------------------------------------------------------------------

const BTRFS_SUPER_MAGIC: i64 = 0x9123_683E;

/// Is `p` (or its nearest existing ancestor) on a btrfs filesystem?
pub fn is_on_btrfs(p: &Path) -> bool {
    let mut cur = Some(p);
    while let Some(c) = cur {
        if let Ok(st) = nix::sys::statfs::statfs(c) {
            return st.filesystem_type().0 == BTRFS_SUPER_MAGIC;
        }
        cur = c.parent();
    }
    false
}

/// Is `p` the root of a btrfs subvolume (inode 256 on btrfs)?
pub fn is_btrfs_subvolume(p: &Path) -> bool {
    match fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() && m.ino() == 256 => is_on_btrfs(p),
        _ => false,
    }
}

fn btrfs(args: &[&OsStr], what: &str, path: &Path) -> Result<(), StoreError> {
    let out = Command::new("btrfs").args(args).output().map_err(|e| {
        StoreError::io(
            format!("run \"btrfs\" to {what}"),
            path,
            e,
            "install btrfs-progs (apt-get install btrfs-progs)",
        )
    })?;
    if out.status.success() {
        return Ok(());
    }
    Err(StoreError::other(format!(
        "cannot {what} \"{}\": btrfs {} failed: {}; check the btrfs filesystem, or use -B dir",
        path.display(),
        args.iter()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" "),
        String::from_utf8_lossy(&out.stderr)
            .trim()
            .replace('\n', " | ")
    )))
}

pub(crate) fn btrfs_subvolume_create(p: &Path) -> Result<(), StoreError> {
    btrfs(
        &["subvolume".as_ref(), "create".as_ref(), p.as_os_str()],
        "create the btrfs subvolume",
        p,
    )
}

pub(crate) fn btrfs_snapshot(src: &Path, dst: &Path) -> Result<(), StoreError> {
    btrfs(
        &[
            "subvolume".as_ref(),
            "snapshot".as_ref(),
            src.as_os_str(),
            dst.as_os_str(),
        ],
        "snapshot the btrfs subvolume",
        src,
    )
}

pub(crate) fn btrfs_subvolume_delete(p: &Path) -> Result<(), StoreError> {
    btrfs(
        &["subvolume".as_ref(), "delete".as_ref(), p.as_os_str()],
        "delete the btrfs subvolume",
        p,
    )
}

/// Removes a tree that may hold btrfs subvolumes (ours: `rootfs` directories) before the
/// rest goes through [`crate::remove::remove_tree`]: every subvolume found below `dir` (not
/// crossing other mounts) is deleted with the btrfs tool.
pub(crate) fn delete_subvolumes_below(dir: &Path) -> Result<(), StoreError> {
    if !is_on_btrfs(dir) {
        return Ok(());
    }
    let top_dev = match fs::symlink_metadata(dir) {
        Ok(m) => m.dev(),
        Err(_) => return Ok(()),
    };
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let Ok(m) = fs::symlink_metadata(e.path()) else {
                continue;
            };
            if !m.is_dir() {
                continue;
            }
            if m.ino() == 256 {
                found.push(e.path());
            } else if m.dev() == top_dev {
                stack.push(e.path());
            }
        }
    }
    // nested subvolumes first
    found.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for p in found {
        btrfs_subvolume_delete(&p)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// A full copy with cp -a semantics
// ---------------------------------------------------------------------------------------

/// What a copy did, for progress and reports.
#[derive(Clone, Debug, Default)]
pub struct CopyStats {
    pub entries: u64,
    pub bytes: u64,
}

/// Copies the tree `src` into `dst` (which must exist, empty: its own owner, mode and times
/// become those of `src`): regular files, directories, symlinks, device nodes, fifos and
/// sockets, with owners, modes, timestamps and extended attributes (file capabilities,
/// overlayfs's `trusted.overlay.*`), hard links kept as hard links. Never follows a
/// symlink; does not descend into other filesystems mounted below `src`. `progress` is
/// called now and then with the running totals.
pub fn copy_tree(
    src: &Path,
    dst: &Path,
    progress: &mut dyn FnMut(&CopyStats),
) -> Result<CopyStats, StoreError> {
    let meta = fs::symlink_metadata(src)
        .map_err(|e| StoreError::io("copy", src, e, "check the source path"))?;
    if !meta.is_dir() {
        return Err(StoreError::other(format!(
            "cannot copy \"{}\": it is not a directory; pass a root filesystem directory",
            src.display()
        )));
    }
    let mut c = Copier {
        links: HashMap::new(),
        stats: CopyStats::default(),
        dev: meta.dev(),
        progress,
    };
    c.dir(src, dst)?;
    finish_metadata(src, dst, &meta)?;
    Ok(c.stats)
}

struct Copier<'a> {
    links: HashMap<(u64, u64), PathBuf>,
    stats: CopyStats,
    dev: u64,
    progress: &'a mut dyn FnMut(&CopyStats),
}

impl Copier<'_> {
    fn dir(&mut self, src: &Path, dst: &Path) -> Result<(), StoreError> {
        let rd = fs::read_dir(src)
            .map_err(|e| StoreError::io("read directory", src, e, "check permissions"))?;
        let mut names: Vec<std::ffi::OsString> = Vec::new();
        for e in rd {
            let e = e.map_err(|e| StoreError::io("read directory", src, e, "check permissions"))?;
            names.push(e.file_name());
        }
        names.sort();
        for n in names {
            let s = src.join(&n);
            let d = dst.join(&n);
            let m = fs::symlink_metadata(&s)
                .map_err(|e| StoreError::io("copy", &s, e, "check the source"))?;
            self.entry(&s, &d, &m)?;
            self.stats.entries += 1;
            if self.stats.entries.is_multiple_of(512) {
                (self.progress)(&self.stats);
            }
        }
        Ok(())
    }

    fn entry(&mut self, s: &Path, d: &Path, m: &fs::Metadata) -> Result<(), StoreError> {
        let ft = m.file_type();
        let io_err = |op: &str, p: &Path, e: io::Error| {
            StoreError::io(op, p, e, "check free space and permissions")
        };
        if ft.is_dir() {
            fs::DirBuilder::new()
                .mode(0o700)
                .create(d)
                .map_err(|e| io_err("create directory", d, e))?;
            if m.dev() == self.dev {
                self.dir(s, d)?;
            }
            return finish_metadata(s, d, m);
        }
        if m.nlink() > 1 && !ft.is_symlink() {
            if let Some(first) = self.links.get(&(m.dev(), m.ino())) {
                return fs::hard_link(first, d).map_err(|e| io_err("create hard link", d, e));
            }
            self.links.insert((m.dev(), m.ino()), d.to_path_buf());
        }
        if ft.is_symlink() {
            let target = fs::read_link(s).map_err(|e| io_err("read symlink", s, e))?;
            std::os::unix::fs::symlink(&target, d).map_err(|e| io_err("create symlink", d, e))?;
        } else if ft.is_file() {
            let mut from = fs::File::open(s).map_err(|e| io_err("open", s, e))?;
            let mut to = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(d)
                .map_err(|e| io_err("create", d, e))?;
            // std uses copy_file_range (reflinks where the filesystem can)
            let n = io::copy(&mut from, &mut to).map_err(|e| io_err("copy into", d, e))?;
            self.stats.bytes += n;
        } else {
            // device nodes, fifos, sockets
            let kind = nix::sys::stat::SFlag::from_bits_truncate(m.mode() & libc::S_IFMT);
            let perm = nix::sys::stat::Mode::from_bits_truncate(m.mode() & 0o7777);
            nix::sys::stat::mknod(d, kind, perm, m.rdev())
                .map_err(|e| io_err("create device node", d, e.into()))?;
        }
        finish_metadata(s, d, m)
    }
}

/// Owner, extended attributes, mode (after chown, which clears set-id bits) and times of
/// `s` onto `d`, never following a symlink.
fn finish_metadata(s: &Path, d: &Path, m: &fs::Metadata) -> Result<(), StoreError> {
    let err = |op: &str, e: io::Error| StoreError::io(op, d, e, "run hako as root");
    std::os::unix::fs::lchown(d, Some(m.uid()), Some(m.gid()))
        .map_err(|e| err("set the owner of", e))?;
    copy_xattrs(s, d).map_err(|e| err("copy the extended attributes to", e))?;
    if !m.file_type().is_symlink() {
        fs::set_permissions(d, fs::Permissions::from_mode(m.mode() & 0o7777))
            .map_err(|e| err("set the mode of", e))?;
    }
    let at = nix::sys::time::TimeSpec::new(m.atime(), m.atime_nsec());
    let mt = nix::sys::time::TimeSpec::new(m.mtime(), m.mtime_nsec());
    nix::sys::stat::utimensat(
        None,
        d,
        &at,
        &mt,
        nix::sys::stat::UtimensatFlags::NoFollowSymlink,
    )
    .map_err(|e| err("set the times of", e.into()))?;
    Ok(())
}

fn cpath(p: &Path) -> io::Result<CString> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

/// The names of the extended attributes of `p` (not following a symlink).
fn list_xattrs(p: &Path) -> io::Result<Vec<CString>> {
    let c = cpath(p)?;
    let mut buf = vec![0u8; 1024];
    loop {
        // SAFETY: `c` is a valid C string; buf is writable for buf.len() bytes.
        let n = unsafe { libc::llistxattr(c.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
        if n >= 0 {
            buf.truncate(n as usize);
            break;
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::ERANGE) => buf.resize(buf.len() * 4, 0),
            Some(libc::ENOTSUP) => return Ok(Vec::new()),
            _ => return Err(e),
        }
    }
    Ok(buf
        .split(|b| *b == 0)
        .filter(|n| !n.is_empty())
        .filter_map(|n| CString::new(n).ok())
        .collect())
}

/// The value of one extended attribute of `p` (not following a symlink).
fn get_xattr(p: &Path, name: &CString) -> io::Result<Vec<u8>> {
    let c = cpath(p)?;
    let mut buf = vec![0u8; 256];
    loop {
        // SAFETY: valid C strings; buf is writable for buf.len() bytes.
        let n = unsafe {
            libc::lgetxattr(
                c.as_ptr(),
                name.as_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
            )
        };
        if n >= 0 {
            buf.truncate(n as usize);
            return Ok(buf);
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::ERANGE) {
            buf.resize(buf.len() * 4, 0);
            continue;
        }
        return Err(e);
    }
}

/// Sets one extended attribute of `p` (not following a symlink).
pub(crate) fn set_xattr(p: &Path, name: &str, value: &[u8]) -> io::Result<()> {
    let c = cpath(p)?;
    let n = CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: valid C strings; value is readable for value.len() bytes.
    let r = unsafe {
        libc::lsetxattr(
            c.as_ptr(),
            n.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn copy_xattrs(s: &Path, d: &Path) -> io::Result<()> {
    for name in list_xattrs(s)? {
        let v = match get_xattr(s, &name) {
            Ok(v) => v,
            Err(e) if e.raw_os_error() == Some(libc::ENODATA) => continue,
            Err(e) => return Err(e),
        };
        set_xattr(d, &name.to_string_lossy(), &v)?;
    }
    Ok(())
}

/// Size in bytes of the tree at `p` (allocated blocks, hard links counted once), as
/// `du -s`; stays on one filesystem.
pub fn disk_usage(p: &Path) -> u64 {
    let Ok(top) = fs::symlink_metadata(p) else {
        return 0;
    };
    let mut seen = std::collections::HashSet::new();
    let mut total = top.blocks() * 512;
    let mut stack = vec![p.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let Ok(m) = fs::symlink_metadata(e.path()) else {
                continue;
            };
            if m.nlink() > 1 && !m.is_dir() && !seen.insert((m.dev(), m.ino())) {
                continue;
            }
            total += m.blocks() * 512;
            if m.is_dir() && m.dev() == top.dev() {
                stack.push(e.path());
            }
        }
    }
    total
}

/// mkdir with a mode (not masked by the umask).
pub(crate) fn mkdir_mode(p: &Path, mode: u32) -> Result<(), StoreError> {
    fs::DirBuilder::new()
        .mode(mode)
        .create(p)
        .and_then(|_| fs::set_permissions(p, fs::Permissions::from_mode(mode)))
        .map_err(|e| StoreError::io("create directory", p, e, "check the filesystem"))
}

/// Makes `d` look like the directory `s` (owner, mode, times), as the root of an overlay
/// upper layer must, so the container's `/` keeps the image's attributes.
pub(crate) fn same_attributes(s: &Path, d: &Path) -> Result<(), StoreError> {
    let m = fs::symlink_metadata(s)
        .map_err(|e| StoreError::io("read the attributes of", s, e, "check the image"))?;
    let err = |e: io::Error| StoreError::io("set the attributes of", d, e, "run hako as root");
    std::os::unix::fs::lchown(d, Some(m.uid()), Some(m.gid())).map_err(err)?;
    fs::set_permissions(d, fs::Permissions::from_mode(m.mode() & 0o7777)).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rootfs_specs_round_trip() {
        let cases = [
            ("dir:/l/a/rootfs", RootfsSpec::Dir("/l/a/rootfs".into())),
            ("/l/a/rootfs", RootfsSpec::Dir("/l/a/rootfs".into())),
            ("btrfs:/l/a/rootfs", RootfsSpec::Btrfs("/l/a/rootfs".into())),
            (
                "overlay:/c/img/rootfs:/l/a/overlay/upper",
                RootfsSpec::Overlay {
                    lowers: vec!["/c/img/rootfs".into()],
                    upper: "/l/a/overlay/upper".into(),
                },
            ),
            (
                "overlay:/l/src/overlay/upper:/c/img/rootfs:/l/b/overlay/upper",
                RootfsSpec::Overlay {
                    lowers: vec!["/l/src/overlay/upper".into(), "/c/img/rootfs".into()],
                    upper: "/l/b/overlay/upper".into(),
                },
            ),
        ];
        for (text, spec) in cases {
            assert_eq!(RootfsSpec::parse(text).as_ref(), Some(&spec), "{text}");
            let rendered = spec.render();
            assert_eq!(RootfsSpec::parse(&rendered), Some(spec));
        }
        assert_eq!(
            RootfsSpec::parse("overlayfs:/a:/b"),
            Some(RootfsSpec::Overlay {
                lowers: vec!["/a".into()],
                upper: "/b".into()
            })
        );
        for bad in [
            "overlay:/only",
            "overlay:rel:/b",
            "zfs:pool/x",
            "rel/path",
            "",
            "dir:rel",
        ] {
            assert_eq!(RootfsSpec::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn overlay_rootfs_for_the_runtime() {
        assert_eq!(
            parse_overlay_rootfs("overlay:/c/img/rootfs:/l/web/overlay/upper"),
            Some((
                PathBuf::from("/c/img/rootfs"),
                PathBuf::from("/l/web/overlay/upper"),
                PathBuf::from("/l/web/overlay/work")
            ))
        );
        assert_eq!(
            parse_overlay_rootfs("overlay:/l/a/overlay/upper:/c/img/rootfs:/l/b/overlay/upper"),
            Some((
                PathBuf::from("/l/a/overlay/upper:/c/img/rootfs"),
                PathBuf::from("/l/b/overlay/upper"),
                PathBuf::from("/l/b/overlay/work")
            ))
        );
        assert_eq!(parse_overlay_rootfs("dir:/x"), None);
        assert_eq!(parse_overlay_rootfs("/x"), None);
    }

    #[test]
    fn overlay_paths_with_separators_are_refused() {
        assert!(check_overlay_path(Path::new("/a/b"), "lower").is_ok());
        let e = check_overlay_path(Path::new("/a:b"), "lower")
            .unwrap_err()
            .to_string();
        assert!(e.contains("':'") && e.contains("-B dir"), "{e}");
        assert!(check_overlay_path(Path::new("/a,b"), "upper").is_err());
    }

    #[test]
    fn backing_names() {
        assert_eq!(Backing::parse("dir"), Some(Backing::Dir));
        assert_eq!(Backing::parse("none"), Some(Backing::Dir));
        assert_eq!(Backing::parse("overlayfs"), Some(Backing::Overlay));
        assert_eq!(Backing::parse("btrfs"), Some(Backing::Btrfs));
        assert_eq!(Backing::parse("lvm"), None);
    }

    #[test]
    fn copy_keeps_links_modes_and_symlinks() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("src");
        let dst = d.path().join("dst");
        fs::create_dir_all(src.join("etc/deep")).unwrap();
        fs::write(src.join("etc/a"), "hello").unwrap();
        fs::hard_link(src.join("etc/a"), src.join("etc/deep/a-link")).unwrap();
        std::os::unix::fs::symlink("../a", src.join("etc/deep/sym")).unwrap();
        std::os::unix::fs::symlink("/nonexistent/target", src.join("dangling")).unwrap();
        fs::set_permissions(src.join("etc/a"), fs::Permissions::from_mode(0o640)).unwrap();
        fs::create_dir(src.join("ro")).unwrap();
        fs::write(src.join("ro/f"), "x").unwrap();
        fs::set_permissions(src.join("ro"), fs::Permissions::from_mode(0o555)).unwrap();
        fs::set_permissions(&src, fs::Permissions::from_mode(0o711)).unwrap();
        fs::create_dir(&dst).unwrap();
        let mut calls = 0;
        let stats = copy_tree(&src, &dst, &mut |_| calls += 1).unwrap();
        assert_eq!(fs::read_to_string(dst.join("etc/a")).unwrap(), "hello");
        let a = fs::metadata(dst.join("etc/a")).unwrap();
        let b = fs::metadata(dst.join("etc/deep/a-link")).unwrap();
        assert_eq!(a.ino(), b.ino(), "hard link kept");
        assert_eq!(a.mode() & 0o7777, 0o640);
        assert_eq!(
            fs::read_link(dst.join("etc/deep/sym")).unwrap(),
            PathBuf::from("../a")
        );
        assert_eq!(
            fs::read_link(dst.join("dangling")).unwrap(),
            PathBuf::from("/nonexistent/target")
        );
        assert_eq!(fs::metadata(dst.join("ro")).unwrap().mode() & 0o7777, 0o555);
        assert_eq!(fs::read_to_string(dst.join("ro/f")).unwrap(), "x");
        assert_eq!(fs::metadata(&dst).unwrap().mode() & 0o7777, 0o711);
        assert_eq!(
            fs::metadata(dst.join("etc/a")).unwrap().mtime(),
            fs::metadata(src.join("etc/a")).unwrap().mtime()
        );
        assert_eq!(stats.bytes, 6);
        assert!(stats.entries >= 8, "{stats:?}");
        fs::set_permissions(src.join("ro"), fs::Permissions::from_mode(0o755)).unwrap();
        fs::set_permissions(dst.join("ro"), fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[test]
    fn copy_of_a_file_is_refused() {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join("f"), "").unwrap();
        let e = copy_tree(&d.path().join("f"), d.path(), &mut |_| {}).unwrap_err();
        assert!(e.to_string().contains("not a directory"), "{e}");
    }

    #[test]
    fn du_counts_hard_links_once() {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join("big"), vec![1u8; 64 * 1024]).unwrap();
        let one = disk_usage(d.path());
        fs::hard_link(d.path().join("big"), d.path().join("again")).unwrap();
        assert_eq!(disk_usage(d.path()), one);
        assert!(one >= 64 * 1024);
    }
}
