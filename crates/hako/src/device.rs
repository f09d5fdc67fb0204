//! `hako device add|rm` / `lxc-device add|del`: devices of a running container.
//!
//! - a host network interface is moved into the container's network namespace (renamed
//!   there when asked) by its monitor, which records it with the run's phys devices and
//!   so gives it back, under its host name, at `rm` and when the container stops;
//! - a device node (`/dev/...` on the host, char or block): made in the container's /dev
//!   (mknod with the host node's type, numbers, mode and owner; in a container with a user
//!   namespace, whose own mounts cannot carry usable device nodes, a bind mount of the
//!   host node on an empty file instead), and allowed in its device cgroup through the
//!   monitor (`devices.allow`: v1 file, or the v2 device program regenerated);
//! - a host directory or file: bind-mounted into the container (a detached `open_tree`
//!   copy taken on the host, attached with `move_mount` in the container's mount
//!   namespace; read-only with `--readonly`).
//!
//! Every path inside the container is resolved by a forked helper that has joined the
//! container's mount namespace, with the runtime's in-container resolver
//! (`hako_runtime::inroot`): a symlink the container planted is followed inside its root,
//! never out of it, and the last component must not be a symlink at all.
//!
//! What `rm` needs to know about an `add` (the cgroup rule it added, whether it made the
//! mount point) is kept in the container's runtime directory (`devices`), per init pid;
//! `--persist` writes (or, with `rm`, removes) the config lines that make the same device
//! at the next start: `lxc.mount.entry`, `lxc.cgroup[2].devices.allow`,
//! `lxc.net.N.type = phys`.

use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use hako_runtime::inroot;
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::Mode;

use crate::error::{Error, Result};
use crate::Container;

/// What `hako device` / `lxc-device` asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceRequest {
    pub op: DeviceOp,
    /// also write (add) or remove (rm) the matching config lines
    pub persist: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeviceOp {
    /// `add SRC [DEST]`: SRC a host interface, device node, directory or file
    Add {
        src: String,
        dest: Option<String>,
        readonly: bool,
    },
    /// `rm DEV [HOSTNAME]`: DEV an interface or a path inside the container; HOSTNAME
    /// the interface's name back on the host
    Remove {
        dev: String,
        host_name: Option<String>,
    },
}

/// What a host path or name is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Nic,
    Node {
        /// 'c' or 'b'
        kind: char,
        major: u64,
        minor: u64,
        mode: u32,
        uid: u32,
        gid: u32,
    },
    Dir,
    File,
}

impl Kind {
    /// The device cgroup rule a node needs (`c 10:237 rwm`); None for anything else.
    fn cgroup_rule(&self) -> Option<String> {
        match self {
            Kind::Node {
                kind, major, minor, ..
            } => Some(format!("{kind} {major}:{minor} rwm")),
            _ => None,
        }
    }
}

fn err(c: &Container, msg: impl std::fmt::Display) -> Error {
    Error::other(format!("container \"{}\": {msg}", c.name()))
}

/// Carry out `req` on the running container `c`; returns the line to print.
pub fn run(c: &Container, req: &DeviceRequest) -> Result<String> {
    let Some(pid) = c.init_pid()? else {
        return Err(Error::other(format!(
            "container \"{}\" is not running; start it first (a stopped container takes devices from its config: lxc.mount.entry, lxc.cgroup.devices.allow, lxc.net.N.type = phys)",
            c.name()
        )));
    };
    match &req.op {
        DeviceOp::Add {
            src,
            dest,
            readonly,
        } => add(c, pid, src, dest.as_deref(), *readonly, req.persist),
        DeviceOp::Remove { dev, host_name } => {
            remove(c, pid, dev, host_name.as_deref(), req.persist)
        }
    }
}

fn classify(c: &Container, src: &str) -> Result<Kind> {
    if !src.contains('/') {
        if src.is_empty() || src.len() > 15 || src.contains(char::is_whitespace) {
            return Err(err(c, format!("\"{src}\" is neither a network interface name (1-15 characters) nor a path; give a host interface, or an absolute path such as /dev/ttyUSB0 or /srv/data")));
        }
        return Ok(Kind::Nic);
    }
    if !src.starts_with('/') {
        return Err(err(
            c,
            format!("\"{src}\" is a relative path; give the host path absolute, e.g. /dev/ttyUSB0"),
        ));
    }
    let md = std::fs::metadata(src).map_err(|e| {
        err(
            c,
            match e.kind() {
                std::io::ErrorKind::NotFound => {
                    format!("no device, directory or file \"{src}\" on the host; check the path")
                }
                _ => format!("cannot look at \"{src}\" on the host: {e}"),
            },
        )
    })?;
    let ft = md.file_type();
    let node = |kind| Kind::Node {
        kind,
        major: nix::sys::stat::major(md.rdev()),
        minor: nix::sys::stat::minor(md.rdev()),
        mode: md.mode() & 0o7777,
        uid: md.uid(),
        gid: md.gid(),
    };
    Ok(if ft.is_char_device() {
        node('c')
    } else if ft.is_block_device() {
        node('b')
    } else if ft.is_dir() {
        Kind::Dir
    } else if ft.is_file() {
        Kind::File
    } else {
        return Err(err(
            c,
            format!("\"{src}\" on the host is a socket or FIFO; give a device node, a directory or a regular file"),
        ));
    })
}

/// An absolute path inside the container, checked.
fn inside_path(c: &Container, p: &str) -> Result<()> {
    if !p.starts_with('/') || p == "/" {
        return Err(err(
            c,
            format!("the path inside \"{p}\" must be absolute and not \"/\", e.g. /dev/ttyUSB0 or /data"),
        ));
    }
    if p.contains('\n') || p.contains('\t') {
        return Err(err(
            c,
            format!("the path inside {p:?} has a line break or tab"),
        ));
    }
    Ok(())
}

fn add(
    c: &Container,
    pid: i32,
    src: &str,
    dest: Option<&str>,
    readonly: bool,
    persist: bool,
) -> Result<String> {
    let kind = classify(c, src)?;
    if kind == Kind::Nic {
        if readonly {
            return Err(err(
                c,
                "--readonly is for bind mounts, not for a network interface",
            ));
        }
        let inside = dest.unwrap_or(src);
        if inside.is_empty() || inside.len() > 15 || inside.contains(['/', ' ', '\t', '\n']) {
            return Err(err(
                c,
                format!("\"{inside}\" is not a valid interface name (1-15 characters, no '/' or blanks)"),
            ));
        }
        let got = c.nic_add(src, inside)?;
        if persist {
            persist_nic_add(c, src, &got)?;
        }
        return Ok(format!(
            "{src} moved into container \"{}\" as {got}{}\n",
            c.name(),
            kept(persist)
        ));
    }
    let dest = dest.unwrap_or(src);
    inside_path(c, dest)?;
    if readonly && matches!(kind, Kind::Node { .. }) {
        return Err(err(
            c,
            "--readonly is for bind mounts of directories and files, not for device nodes",
        ));
    }
    let maps = hako_runtime::userns::read_maps(pid);
    let root_ids = maps.as_deref().and_then(hako_runtime::userns::root_ids);
    // the host side first, while this process still sees the host's mounts
    let tree = match kind {
        Kind::Node { .. } if maps.is_none() => None,
        Kind::Node { .. } => Some(detached(c, src, false, false)?),
        Kind::Dir => Some(detached(c, src, true, readonly)?),
        _ => Some(detached(c, src, false, readonly)?),
    };
    let d = dest.to_string();
    let created = in_mount_ns(c, pid, root_ids, move |root| {
        place(root, &d, kind, tree.as_ref(), root_ids)
    })?;
    let created = created == "created";
    let mut rule = None;
    if let (
        Kind::Node {
            kind: k,
            major,
            minor,
            ..
        },
        Some(r),
    ) = (kind, kind.cgroup_rule())
    {
        let allowed = c
            .cgroup_get("devices.list")
            .map(|l| list_allows(&l, k, major, minor));
        let res = match allowed {
            Ok(true) => Ok(()),
            Ok(false) => {
                rule = Some(r.clone());
                c.cgroup_set("devices.allow", &r)
            }
            Err(e) => Err(e),
        };
        if let Err(e) = res {
            // nothing half-done: the node goes again
            let d = dest.to_string();
            let _ = in_mount_ns(c, pid, root_ids, move |root| {
                unplace(root, &d, true).map(|_| String::new())
            });
            return Err(err(
                c,
                format!("cannot allow {r} in its device cgroup ({e}); the node at {dest} was removed again"),
            ));
        }
    }
    record(c, pid, dest, rule.as_deref(), created)?;
    if persist {
        persist_path_add(c, src, dest, kind, readonly)?;
    }
    let what = match kind {
        Kind::Node {
            kind: k,
            major,
            minor,
            ..
        } => format!("device {src} ({k} {major}:{minor})"),
        Kind::Dir => format!("directory {src}"),
        _ => format!("file {src}"),
    };
    Ok(format!(
        "{what} added to container \"{}\" at {dest}{}\n",
        c.name(),
        kept(persist)
    ))
}

fn kept(persist: bool) -> &'static str {
    if persist {
        " (kept in its config)"
    } else {
        ""
    }
}

fn detached(c: &Container, src: &str, recursive: bool, readonly: bool) -> Result<OwnedFd> {
    hako_runtime::userns::detached_bind(Path::new(src), recursive, readonly).map_err(|e| {
        err(
            c,
            format!(
                "cannot take a bind mount of \"{src}\" on the host: {}",
                errno_text(e)
            ),
        )
    })
}

fn errno_text(e: Errno) -> String {
    format!("{} ({})", e.desc(), e)
}

fn remove(
    c: &Container,
    pid: i32,
    dev: &str,
    host_name: Option<&str>,
    persist: bool,
) -> Result<String> {
    if !dev.contains('/') {
        let back = c.nic_rm(dev, host_name)?;
        if persist {
            persist_nic_rm(c, &back)?;
        }
        return Ok(format!(
            "{dev} given back to the host by container \"{}\" as {back}{}\n",
            c.name(),
            if persist {
                " (removed from its config)"
            } else {
                ""
            }
        ));
    }
    if host_name.is_some() {
        return Err(err(
            c,
            "a host name is given only with a network interface; drop it for a path",
        ));
    }
    inside_path(c, dev)?;
    let root_ids = hako_runtime::userns::read_maps(pid)
        .as_deref()
        .and_then(hako_runtime::userns::root_ids);
    let Some(rec) = records(c, pid).into_iter().find(|r| r.dest == dev) else {
        // what the container has from its config or made itself is not taken away
        if persist {
            persist_path_rm(c, dev, None)?;
            return Ok(format!(
                "{dev} removed from the config of container \"{}\"; the running container keeps it until it stops (it was not added by hako device add)\n",
                c.name()
            ));
        }
        return Err(err(
            c,
            format!("{dev} was not added by \"hako device add\" while it runs; nothing removed (--persist removes its config lines)"),
        ));
    };
    let rec = Some(rec);
    let created = rec.as_ref().is_some_and(|r| r.created);
    let d = dev.to_string();
    let what = in_mount_ns(c, pid, root_ids, move |root| unplace(root, &d, created))?;
    // what: "node c M:m" or "mount"
    let node = what.strip_prefix("node ").map(str::to_string);
    if let Some(rule) = rec.as_ref().and_then(|r| r.rule.clone()) {
        c.cgroup_set("devices.deny", &rule).map_err(|e| {
            err(
                c,
                format!(
                    "{dev} was removed, but its rule \"{rule}\" stays in the device cgroup: {e}"
                ),
            )
        })?;
    }
    forget(c, pid, dev)?;
    if persist {
        persist_path_rm(c, dev, node.as_deref())?;
    }
    Ok(format!(
        "{dev} removed from container \"{}\"{}\n",
        c.name(),
        if persist {
            " (and from its config)"
        } else {
            ""
        }
    ))
}

/// Does a devices.list text (v1's, or the v2 program's rules rendered alike) allow
/// read, write and mknod on KIND MAJOR:MINOR?
fn list_allows(list: &str, kind: char, major: u64, minor: u64) -> bool {
    list.lines().any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        let [t, nums, acc] = f[..] else {
            return false;
        };
        let Some((ma, mi)) = nums.split_once(':') else {
            return false;
        };
        let num = |s: &str, n: u64| s == "*" || s.parse::<u64>().ok() == Some(n);
        (t == "a" || t.starts_with(kind))
            && num(ma, major)
            && num(mi, minor)
            && ['r', 'w', 'm'].iter().all(|ch| acc.contains(*ch))
    })
}

// ----- the helper in the container's mount namespace -----

/// Run `f` in a forked child that has joined the mount namespace of `pid` (its `/` is then
/// the container's root; `f` gets an O_PATH fd of it); what it returns comes back. The
/// child dies with this process and cannot be traced from the container.
fn in_mount_ns(
    c: &Container,
    pid: i32,
    act: Option<(u32, u32)>,
    f: impl FnOnce(BorrowedFd<'_>) -> std::result::Result<String, String>,
) -> Result<String> {
    let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)
        .map_err(|e| err(c, format!("cannot create a pipe: {e}")))?;
    let me = nix::unistd::getpid();
    // SAFETY: the CLI is single-threaded; the child makes system calls and exits.
    match unsafe { nix::unistd::fork() }.map_err(|e| err(c, format!("cannot fork: {e}")))? {
        nix::unistd::ForkResult::Child => {
            drop(r);
            let res = (|| {
                nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
                    .map_err(|e| format!("cannot set the helper's parent-death signal: {e}"))?;
                if nix::unistd::getppid() != me {
                    return Err("the hako command has exited".to_string());
                }
                nix::sys::prctl::set_dumpable(false)
                    .map_err(|e| format!("cannot make the helper undumpable: {e}"))?;
                nix::sys::stat::umask(Mode::empty());
                let ns = std::fs::File::open(format!("/proc/{pid}/ns/mnt"))
                    .map_err(|e| format!("cannot open its mount namespace: {e}"))?;
                nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNS)
                    .map_err(|e| format!("cannot enter its mount namespace: {e}"))?;
                // a user namespace of its own: its mounts do not map the host's root, so
                // files are made as the container's root (capabilities kept)
                if let Some((u, g)) = act {
                    hako_runtime::userns::act_as(u, g)
                        .map_err(|e| format!("cannot act as the container's root: {e}"))?;
                }
                let root = nix::fcntl::open(
                    "/",
                    OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )
                .map(fresh)
                .map_err(|e| format!("cannot open its root: {e}"))?;
                f(root.as_fd())
            })();
            let (code, text) = match res {
                Ok(t) => (0, t),
                Err(m) => (1, m),
            };
            let _ = nix::unistd::write(&w, text.as_bytes());
            // SAFETY: end of the forked child.
            unsafe { libc::_exit(code) }
        }
        nix::unistd::ForkResult::Parent { child } => {
            drop(w);
            let mut msg = String::new();
            let _ = std::fs::File::from(r).read_to_string(&mut msg);
            match nix::sys::wait::waitpid(child, None) {
                Ok(nix::sys::wait::WaitStatus::Exited(_, 0)) => Ok(msg),
                _ if !msg.is_empty() => Err(err(c, msg)),
                other => Err(err(c, format!("the device helper failed ({other:?})"))),
            }
        }
    }
}

fn fresh(fd: std::os::fd::RawFd) -> OwnedFd {
    // SAFETY: a new fd from a successful open, owned by nobody else.
    unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) }
}

fn io(path: &str, what: &str, e: Errno) -> String {
    match e {
        Errno::EXDEV => format!("{path} leads above the container's root; give a path inside it"),
        Errno::ENOTDIR => format!("a component of {path} inside the container is not a directory"),
        Errno::ELOOP => format!("{path} inside the container has too many symlinks"),
        e => format!(
            "cannot {what} {path} inside the container: {}",
            errno_text(e)
        ),
    }
}

/// The id of the mount `fd` is on (statx STATX_MNT_ID).
fn mnt_id(fd: BorrowedFd<'_>) -> nix::Result<u64> {
    // SAFETY: a zeroed statx buffer filled by the kernel.
    let mut sx: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: an fd we hold, an empty C path, a buffer of the right type.
    let r = unsafe {
        libc::statx(
            fd.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            libc::STATX_MNT_ID,
            &mut sx,
        )
    };
    if r < 0 {
        return Err(Errno::last());
    }
    Ok(sx.stx_mnt_id)
}

/// Create the missing directories of `dir` (inside the container) one by one, each
/// resolved anew in the root (mode 0755, owned by the container's root).
fn mkdirs(
    root: BorrowedFd<'_>,
    dir: &Path,
    owner: Option<(u32, u32)>,
) -> std::result::Result<(), String> {
    let shown = dir.display().to_string();
    let mut cur = PathBuf::from("/");
    for comp in dir.components().skip(1) {
        cur.push(comp);
        match inroot::open_in_root(root, &cur, libc::O_PATH | libc::O_DIRECTORY, 0) {
            Ok(_) => continue,
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(io(&shown, "open", e)),
        }
        let (parent, name) = inroot::resolve_in_root(root, &cur, false, inroot::AboveRoot::Refuse)
            .map_err(|e| io(&shown, "resolve", e))?;
        let name = name.ok_or_else(|| format!("{shown}: cannot be created"))?;
        match nix::sys::stat::mkdirat(
            Some(parent.as_raw_fd()),
            name.as_os_str(),
            Mode::from_bits_truncate(0o755),
        ) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(io(&shown, "create the directory", e)),
        }
        if let Some((u, g)) = owner {
            let _ = nix::unistd::fchownat(
                Some(parent.as_raw_fd()),
                name.as_os_str(),
                Some(u.into()),
                Some(g.into()),
                AtFlags::AT_SYMLINK_NOFOLLOW,
            );
        }
        // a symlink the container put there meanwhile is followed in the next round,
        // inside the root
    }
    Ok(())
}

/// In the helper: make `dest` (node, or mount point and bind mount). Returns "created"
/// when it made the mount point of a bind (removed again at `rm`), else "".
fn place(
    root: BorrowedFd<'_>,
    dest: &str,
    kind: Kind,
    tree: Option<&OwnedFd>,
    owner: Option<(u32, u32)>,
) -> std::result::Result<String, String> {
    let p = Path::new(dest);
    if let Some(parent) = p.parent() {
        mkdirs(root, parent, owner)?;
    }
    let (dir, name) = inroot::resolve_in_root(root, p, false, inroot::AboveRoot::Refuse)
        .map_err(|e| io(dest, "resolve", e))?;
    let name = name.ok_or_else(|| {
        format!("{dest} names a directory through \"..\" or \".\"; give the path plainly")
    })?;
    let existing = match inroot::lookup(dir.as_fd(), &name) {
        Ok(n) => Some(n),
        Err(Errno::ENOENT) => None,
        Err(e) => return Err(io(dest, "look at", e)),
    };
    if let Some(n) = &existing {
        if n.kind() == libc::S_IFLNK {
            return Err(format!(
                "{dest} is a symlink inside the container; refusing to follow it (remove it there first)"
            ));
        }
    }
    let at = dir.as_raw_fd();
    match kind {
        Kind::Node {
            kind: k,
            major,
            minor,
            mode,
            uid,
            gid,
        } => {
            if existing.is_some() {
                return Err(format!(
                    "{dest} exists in the container already; remove it first (hako device rm) or give another path"
                ));
            }
            match tree {
                None => {
                    let t = if k == 'c' {
                        nix::sys::stat::SFlag::S_IFCHR
                    } else {
                        nix::sys::stat::SFlag::S_IFBLK
                    };
                    nix::sys::stat::mknodat(
                        Some(at),
                        name.as_os_str(),
                        t,
                        Mode::from_bits_truncate(mode),
                        nix::sys::stat::makedev(major, minor),
                    )
                    .map_err(|e| io(dest, "create the node", e))?;
                    // the host node's owner (the helper's umask is 0: its mode is exact)
                    let fix = nix::unistd::fchownat(
                        Some(at),
                        name.as_os_str(),
                        Some(uid.into()),
                        Some(gid.into()),
                        AtFlags::AT_SYMLINK_NOFOLLOW,
                    );
                    if let Err(e) = fix {
                        let _ = nix::unistd::unlinkat(
                            Some(at),
                            name.as_os_str(),
                            nix::unistd::UnlinkatFlags::NoRemoveDir,
                        );
                        return Err(io(dest, "set the mode and owner of", e));
                    }
                }
                Some(t) => {
                    // user namespace: an empty file, the host node bound on it
                    let f = nix::fcntl::openat(
                        Some(at),
                        name.as_os_str(),
                        OFlag::O_CREAT
                            | OFlag::O_EXCL
                            | OFlag::O_NOFOLLOW
                            | OFlag::O_WRONLY
                            | OFlag::O_CLOEXEC,
                        Mode::from_bits_truncate(0o600),
                    )
                    .map(fresh)
                    .map_err(|e| io(dest, "create the mount point", e))?;
                    if let Some((u, g)) = owner {
                        let _ = nix::unistd::fchown(f.as_raw_fd(), Some(u.into()), Some(g.into()));
                    }
                    drop(f);
                    if let Err(e) = attach(at, &name, t) {
                        let _ = nix::unistd::unlinkat(
                            Some(at),
                            name.as_os_str(),
                            nix::unistd::UnlinkatFlags::NoRemoveDir,
                        );
                        return Err(io(dest, "bind the device on", e));
                    }
                }
            }
            Ok(String::new())
        }
        Kind::Dir | Kind::File => {
            let tree = tree.ok_or("no mount to attach")?;
            let want = if kind == Kind::Dir {
                libc::S_IFDIR
            } else {
                libc::S_IFREG
            };
            let created = match &existing {
                Some(n) if n.kind() != want => {
                    return Err(format!(
                        "{dest} exists in the container and is not a {}; give another path",
                        if kind == Kind::Dir {
                            "directory"
                        } else {
                            "regular file"
                        }
                    ))
                }
                Some(n) => {
                    let below = mnt_id(dir.as_fd()).map_err(|e| io(dest, "look at", e))?;
                    let here = mnt_id(n.fd()).map_err(|e| io(dest, "look at", e))?;
                    if below != here {
                        return Err(format!(
                            "something is mounted on {dest} in the container already; remove it first (hako device rm) or give another path"
                        ));
                    }
                    false
                }
                None => {
                    let r = if kind == Kind::Dir {
                        nix::sys::stat::mkdirat(
                            Some(at),
                            name.as_os_str(),
                            Mode::from_bits_truncate(0o755),
                        )
                    } else {
                        nix::fcntl::openat(
                            Some(at),
                            name.as_os_str(),
                            OFlag::O_CREAT
                                | OFlag::O_EXCL
                                | OFlag::O_NOFOLLOW
                                | OFlag::O_WRONLY
                                | OFlag::O_CLOEXEC,
                            Mode::from_bits_truncate(0o644),
                        )
                        .map(|fd| drop(fresh(fd)))
                    };
                    r.map_err(|e| io(dest, "create the mount point", e))?;
                    if let Some((u, g)) = owner {
                        let _ = nix::unistd::fchownat(
                            Some(at),
                            name.as_os_str(),
                            Some(u.into()),
                            Some(g.into()),
                            AtFlags::AT_SYMLINK_NOFOLLOW,
                        );
                    }
                    true
                }
            };
            if let Err(e) = attach(at, &name, tree) {
                if created {
                    let flag = if kind == Kind::Dir {
                        nix::unistd::UnlinkatFlags::RemoveDir
                    } else {
                        nix::unistd::UnlinkatFlags::NoRemoveDir
                    };
                    let _ = nix::unistd::unlinkat(Some(at), name.as_os_str(), flag);
                }
                return Err(io(dest, "bind-mount on", e));
            }
            Ok(if created {
                "created".into()
            } else {
                String::new()
            })
        }
        Kind::Nic => Err("not a path".into()),
    }
}

/// Attach `tree` on `name` in the directory `at`, looked up without following a symlink
/// (the kind is checked: what the container swapped in meanwhile is refused).
fn attach(at: std::os::fd::RawFd, name: &OsStr, tree: &OwnedFd) -> nix::Result<()> {
    // SAFETY: `at` is the directory fd the caller holds for the whole call.
    let dir = unsafe { BorrowedFd::borrow_raw(at) };
    let n = inroot::lookup(dir, name)?;
    if n.kind() == libc::S_IFLNK {
        return Err(Errno::ELOOP);
    }
    hako_runtime::userns::attach_detached(tree, &n.into_fd())
}

/// In the helper: take `dest` away: unmount what is mounted there, remove a node (and the
/// mount point if `add` made it). Returns "node K M:m" for a device node, else "mount".
fn unplace(root: BorrowedFd<'_>, dest: &str, created: bool) -> std::result::Result<String, String> {
    let (dir, name) =
        inroot::resolve_in_root(root, Path::new(dest), false, inroot::AboveRoot::Refuse)
            .map_err(|e| io(dest, "resolve", e))?;
    let name: OsString = name.ok_or_else(|| {
        format!("{dest} names a directory through \"..\" or \".\"; give the path plainly")
    })?;
    let n = match inroot::lookup(dir.as_fd(), &name) {
        Ok(n) => n,
        Err(Errno::ENOENT) => {
            return Err(format!(
                "nothing at {dest} in the container; see \"hako attach NAME -- ls -l {dest}\""
            ))
        }
        Err(e) => return Err(io(dest, "look at", e)),
    };
    if n.kind() == libc::S_IFLNK {
        return Err(format!(
            "{dest} is a symlink inside the container; not a device hako added"
        ));
    }
    let below = mnt_id(dir.as_fd()).map_err(|e| io(dest, "look at", e))?;
    let here = mnt_id(n.fd()).map_err(|e| io(dest, "look at", e))?;
    let kind = n.kind();
    let rdev = n.stat().st_rdev;
    let node = match kind {
        libc::S_IFCHR | libc::S_IFBLK => Some(format!(
            "node {} {}:{}",
            if kind == libc::S_IFCHR { 'c' } else { 'b' },
            nix::sys::stat::major(rdev),
            nix::sys::stat::minor(rdev)
        )),
        _ => None,
    };
    let at = dir.as_raw_fd();
    if below != here {
        // a bind: unmounted by its single name from its directory, never following a
        // symlink
        nix::unistd::fchdir(at).map_err(|e| io(dest, "enter the directory of", e))?;
        nix::mount::umount2(
            name.as_os_str(),
            nix::mount::MntFlags::MNT_DETACH | nix::mount::MntFlags::UMOUNT_NOFOLLOW,
        )
        .map_err(|e| io(dest, "unmount", e))?;
        let _ = nix::unistd::chdir("/");
        // the mount point: a device's empty file always; a directory or file only if
        // `add` made it
        let under = inroot::lookup(dir.as_fd(), &name).ok();
        if let Some(u) = under {
            let empty_file = u.kind() == libc::S_IFREG && u.stat().st_size == 0;
            if (node.is_some() && empty_file) || (created && u.kind() == libc::S_IFREG) {
                let _ = nix::unistd::unlinkat(
                    Some(at),
                    name.as_os_str(),
                    nix::unistd::UnlinkatFlags::NoRemoveDir,
                );
            } else if created && u.kind() == libc::S_IFDIR {
                let _ = nix::unistd::unlinkat(
                    Some(at),
                    name.as_os_str(),
                    nix::unistd::UnlinkatFlags::RemoveDir,
                );
            }
        }
        return Ok(node.unwrap_or_else(|| "mount".into()));
    }
    match node {
        Some(node) => {
            nix::unistd::unlinkat(
                Some(at),
                name.as_os_str(),
                nix::unistd::UnlinkatFlags::NoRemoveDir,
            )
            .map_err(|e| io(dest, "remove", e))?;
            Ok(node)
        }
        None => Err(format!(
            "{dest} in the container is neither a device node nor a mount point; nothing removed"
        )),
    }
}

// ----- what rm needs to know: <runtime dir>/devices -----

struct Record {
    dest: String,
    rule: Option<String>,
    created: bool,
}

fn records_path(c: &Container) -> PathBuf {
    c.runtime_dir().join("devices")
}

/// The records of this run (lines of other init pids are of an earlier run).
fn records(c: &Container, pid: i32) -> Vec<Record> {
    let text = hako_config::read::read_bounded_text(&records_path(c), 1 << 20).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let [p, dest, rule, created] = f[..] else {
                return None;
            };
            (p.parse::<i32>().ok() == Some(pid)).then(|| Record {
                dest: dest.to_string(),
                rule: (rule != "-").then(|| rule.to_string()),
                created: created == "1",
            })
        })
        .collect()
}

fn write_records(c: &Container, pid: i32, recs: &[Record]) -> Result<()> {
    let text: String = recs
        .iter()
        .map(|r| {
            format!(
                "{pid}\t{}\t{}\t{}\n",
                r.dest,
                r.rule.as_deref().unwrap_or("-"),
                if r.created { 1 } else { 0 }
            )
        })
        .collect();
    hako_store::replace_file(&records_path(c), text.as_bytes(), 0o600, false).map_err(|e| {
        err(
            c,
            format!("cannot write {}: {e}", records_path(c).display()),
        )
    })
}

fn record(c: &Container, pid: i32, dest: &str, rule: Option<&str>, created: bool) -> Result<()> {
    let mut recs = records(c, pid);
    recs.retain(|r| r.dest != dest);
    recs.push(Record {
        dest: dest.to_string(),
        rule: rule.map(str::to_string),
        created,
    });
    write_records(c, pid, &recs)
}

fn forget(c: &Container, pid: i32, dest: &str) -> Result<()> {
    let mut recs = records(c, pid);
    let before = recs.len();
    recs.retain(|r| r.dest != dest);
    if recs.len() == before {
        return Ok(());
    }
    write_records(c, pid, &recs)
}

// ----- --persist -----

/// Edit the container's config under its lock (written whole and renamed).
fn edit_config(c: &Container, f: impl FnOnce(&mut hako_config::Document)) -> Result<()> {
    let _lock = c
        .context()
        .store()
        .lock(c.name(), std::time::Duration::from_secs(30))?;
    let path = c.config_path();
    let mut doc = hako_config::Document::load(&path)?;
    f(&mut doc);
    let mode = std::fs::metadata(&path)
        .map(|m| m.mode() & 0o7777)
        .unwrap_or(0o640);
    hako_store::replace_file(&path, doc.render().as_bytes(), mode, true).map_err(|e| {
        err(
            c,
            format!(
                "the device was changed, but its config {} could not be written: {e}",
                path.display()
            ),
        )
    })
}

/// A path as an fstab field (blanks and backslashes octal-escaped).
fn fstab_field(p: &str) -> String {
    let mut s = String::new();
    for ch in p.chars() {
        match ch {
            ' ' => s.push_str("\\040"),
            '\t' => s.push_str("\\011"),
            '\\' => s.push_str("\\134"),
            ch => s.push(ch),
        }
    }
    s
}

fn mount_entry(src: &str, dest: &str, kind: Kind, readonly: bool) -> String {
    let opts = match kind {
        Kind::Dir => "bind,create=dir",
        Kind::Node { .. } => "bind,optional,create=file",
        _ => "bind,create=file",
    };
    format!(
        "{} {} none {opts}{} 0 0",
        fstab_field(src),
        fstab_field(dest.trim_start_matches('/')),
        if readonly { ",ro" } else { "" }
    )
}

/// The config key of device rules on this host: v1's where a devices controller is
/// mounted, else cgroup2's.
fn devices_key() -> &'static str {
    match hako_cgroups::Host::detect() {
        Ok(h) if h.v1_for("devices").is_none() => "lxc.cgroup2.devices.allow",
        _ => "lxc.cgroup.devices.allow",
    }
}

fn persist_path_add(
    c: &Container,
    src: &str,
    dest: &str,
    kind: Kind,
    readonly: bool,
) -> Result<()> {
    let entry = mount_entry(src, dest, kind, readonly);
    edit_config(c, |doc| {
        if let Some(rule) = kind.cgroup_rule() {
            let key = devices_key();
            if !doc.get_all(key).contains(&rule.as_str()) {
                doc.append(key, &rule);
            }
        }
        doc.append("lxc.mount.entry", &entry);
    })
}

fn persist_path_rm(c: &Container, dest: &str, node: Option<&str>) -> Result<()> {
    let target = fstab_field(dest.trim_start_matches('/'));
    let rule = node.map(|n| format!("{n} rwm"));
    edit_config(c, |doc| {
        doc.remove_where(|k, v| {
            (k == "lxc.mount.entry" && v.split_whitespace().nth(1) == Some(target.as_str()))
                || (rule.as_deref() == Some(v)
                    && (k == "lxc.cgroup.devices.allow" || k == "lxc.cgroup2.devices.allow"))
        });
    })
}

/// The index N of `lxc.net.N.KEY`.
fn net_index(key: &str) -> Option<u32> {
    key.strip_prefix("lxc.net.")?
        .split('.')
        .next()?
        .parse()
        .ok()
}

fn persist_nic_add(c: &Container, host: &str, inside: &str) -> Result<()> {
    edit_config(c, |doc| {
        let n = doc
            .entries()
            .filter_map(|(k, _)| net_index(k))
            .max()
            .map_or(0, |m| m + 1);
        doc.append(&format!("lxc.net.{n}.type"), "phys");
        doc.append(&format!("lxc.net.{n}.link"), host);
        doc.append(&format!("lxc.net.{n}.name"), inside);
    })
}

fn persist_nic_rm(c: &Container, host: &str) -> Result<()> {
    edit_config(c, |doc| {
        let idx: Vec<u32> = doc
            .entries()
            .filter(|(k, v)| *v == host && net_index(k).is_some() && k.ends_with(".link"))
            .filter_map(|(k, _)| net_index(k))
            .filter(|n| doc.get(&format!("lxc.net.{n}.type")) == Some("phys"))
            .collect();
        doc.remove_where(|k, _| net_index(k).is_some_and(|n| idx.contains(&n)));
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_list_coverage() {
        assert!(list_allows("a *:* rwm\n", 'c', 4, 64));
        assert!(list_allows("c 1:3 rwm\nc 1:5 rwm\n", 'c', 1, 5));
        assert!(!list_allows("c 1:3 rwm\nc 1:5 rw\n", 'c', 1, 5));
        assert!(!list_allows("c 1:5 rwm\n", 'b', 1, 5));
        assert!(list_allows("c 136:* rwm\n", 'c', 136, 7));
        assert!(!list_allows("c *:* m\n", 'c', 9, 9));
        assert!(!list_allows("", 'c', 1, 5));
    }

    #[test]
    fn mount_entries_and_net_indexes() {
        let n = Kind::Node {
            kind: 'c',
            major: 1,
            minor: 5,
            mode: 0o666,
            uid: 0,
            gid: 0,
        };
        assert_eq!(
            mount_entry("/dev/ttyUSB0", "/dev/ttyUSB0", n, false),
            "/dev/ttyUSB0 dev/ttyUSB0 none bind,optional,create=file 0 0"
        );
        assert_eq!(
            mount_entry("/srv/my data", "/data", Kind::Dir, true),
            "/srv/my\\040data data none bind,create=dir,ro 0 0"
        );
        assert_eq!(net_index("lxc.net.12.link"), Some(12));
        assert_eq!(net_index("lxc.net.x.link"), None);
        assert_eq!(net_index("lxc.network.type"), None);
    }
}
