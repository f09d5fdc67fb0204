//! Id ranges for unprivileged containers (Incus's `security.idmap.isolated`).
//!
//! hako reserves one block of subordinate ids for root in `/etc/subuid` and `/etc/subgid`
//! (adding `root:START:COUNT` to both on first use, where it overlaps no other entry, or
//! using root's entry when there is one) and gives each container a range of its own of
//! 65536 ids inside it, recorded in its config as `lxc.idmap` lines.
//!
//! Which ranges are taken is kept in a registry that survives reboots,
//! `/var/lib/hako-idmaps/` (`$HAKO_IDMAP_DIR`): one file per range, named by its first
//! host id, holding the path of the config of the container that has it. An entry whose
//! config is gone, or no longer maps that range, is stale and handed out again; one whose
//! container directory is half-made (a create in progress, or one killed) is in use until
//! that directory is destroyed. Every change happens under an flock on
//! `/var/lib/hako-idmaps.lock`; the subordinate id files are rewritten through a
//! temporary file and a rename, with their mode and owner, every other line kept byte for
//! byte. `$HAKO_SUBUID_FILE` and `$HAKO_SUBGID_FILE` name other files (tests).
//!
//! A non-root caller (rootless) gets its ranges from its own entries in the two files
//! ([`user`]), which hako only reads; its registry is `~/.local/share/hako-idmaps`.

mod parse;
#[cfg(test)]
mod tests;
pub mod user;

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use parse::{
    allocated_range, append_line, idmap_values, maps_range, new_block, parse_subid, root_block,
    Block, RootBlock, SubidEntry, BLOCK_FLOOR, BLOCK_SIZE, RANGE_SIZE,
};

use crate::cfg::{read_config_text, Doc};
use crate::fsutil::{classify, is_tmp_name, tmp_path, DirState};
use crate::paths::canonical_maybe_missing;
use crate::StoreError;

/// Are new containers of the `hako` face unprivileged unless `--privileged` is given?
/// (`--unprivileged` asks for a range whatever this says; the `lxc-*` face never
/// allocates.)
pub const UNPRIVILEGED_BY_DEFAULT: bool = true;

/// The largest subordinate id file read (a host with many users has a few hundred lines).
const SUBID_LIMIT: u64 = 4 << 20;
/// How long an allocation waits for another hako command that holds the registry's lock.
const LOCK_TIMEOUT: Duration = Duration::from_secs(30);

/// The files the allocator works on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdRanges {
    subuid: PathBuf,
    subgid: PathBuf,
    registry: PathBuf,
    /// a non-root caller whose own entries are used; None: root's block
    owner: Option<user::Owner>,
}

impl IdRanges {
    /// `/etc/subuid`, `/etc/subgid` and `/var/lib/hako-idmaps`, or `$HAKO_SUBUID_FILE`,
    /// `$HAKO_SUBGID_FILE` and `$HAKO_IDMAP_DIR` where set. A non-root caller gets its own
    /// entries and `~/.local/share/hako-idmaps`.
    pub fn from_env() -> Result<IdRanges, StoreError> {
        let var = |k: &str, d: &Path| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(|| d.to_path_buf())
        };
        let user = crate::UserDirs::detect()?;
        let registry = match &user {
            Some(u) => u.idmap_registry(),
            None => PathBuf::from("/var/lib/hako-idmaps"),
        };
        let r = IdRanges::new(
            &var("HAKO_SUBUID_FILE", Path::new("/etc/subuid")),
            &var("HAKO_SUBGID_FILE", Path::new("/etc/subgid")),
            &var("HAKO_IDMAP_DIR", &registry),
        );
        Ok(match user {
            Some(u) => r.for_user(user::Owner {
                name: u.name,
                uid: u.uid,
            }),
            None => r,
        })
    }

    /// The same files, for a non-root `owner`: ranges from its own entries, files only read.
    pub fn for_user(mut self, owner: user::Owner) -> IdRanges {
        self.owner = Some(owner);
        self
    }

    pub fn new(subuid: &Path, subgid: &Path, registry: &Path) -> IdRanges {
        IdRanges {
            subuid: subuid.to_path_buf(),
            subgid: subgid.to_path_buf(),
            registry: registry.to_path_buf(),
            owner: None,
        }
    }

    pub fn subuid(&self) -> &Path {
        &self.subuid
    }
    pub fn subgid(&self) -> &Path {
        &self.subgid
    }
    pub fn registry(&self) -> &Path {
        &self.registry
    }

    /// `<registry>.lock`, next to the registry directory.
    fn lock_path(&self) -> PathBuf {
        let mut p = self.registry.clone().into_os_string();
        p.push(".lock");
        PathBuf::from(p)
    }

    /// Gives the container whose config is (or will be) `config` a range of its own and
    /// records it; returns the range's first host id. `what` names the container in
    /// errors ("container \"web\""). Adds root's block to the subordinate id files first
    /// when root has none. On an error nothing is recorded (a block added to the files
    /// stays: it is root's from then on).
    pub fn allocate(&self, config: &Path, what: &str) -> Result<u64, StoreError> {
        self.allocate_pair(config, what).map(|(u, _)| u)
    }

    /// [`IdRanges::allocate`], as the two `lxc.idmap` values of the container's range
    /// (`u 0 UID 65536`, `g 0 GID 65536`; a non-root caller's uid and gid starts may
    /// differ).
    pub fn allocate_idmap(&self, config: &Path, what: &str) -> Result<[String; 2], StoreError> {
        let (u, g) = self.allocate_pair(config, what)?;
        Ok([
            format!("u 0 {u} {RANGE_SIZE}"),
            format!("g 0 {g} {RANGE_SIZE}"),
        ])
    }

    /// The uid and gid starts of a new range (the registry is keyed by the uid start).
    fn allocate_pair(&self, config: &Path, what: &str) -> Result<(u64, u64), StoreError> {
        let config = canonical_maybe_missing(config);
        let ctx = |e: StoreError| {
            StoreError::other(format!("cannot give {what} an id range of its own: {e}"))
        };
        fs::create_dir_all(&self.registry).map_err(|e| {
            ctx(StoreError::io(
                "create the id range registry",
                &self.registry,
                e,
                "check that its parent directory is writable",
            ))
        })?;
        let _lock = self.lock().map_err(ctx)?;
        let block = match &self.owner {
            None => user::BlockPair::same(self.ensure_block().map_err(ctx)?),
            Some(o) => self.user_block(o).map_err(ctx)?,
        };
        let entries = self.read_registry().map_err(ctx)?;
        let mut users = Vec::new();
        let mut free = None;
        for i in 0..block.ranges() {
            let (start, gid) = block.range_start(i);
            match entries.iter().find(|(s, _)| *s == start) {
                Some((_, owner)) if in_use(owner, start) => users.push(owner.clone()),
                _ => {
                    free = Some((start, gid));
                    break;
                }
            }
        }
        let Some((start, gid)) = free else {
            return Err(self.full(what, &block, &users));
        };
        let entry = self.registry.join(start.to_string());
        let mut text = config.into_os_string().into_encoded_bytes();
        text.push(b'\n');
        crate::fsutil::replace_file(&entry, &text, 0o644, true).map_err(|e| {
            ctx(StoreError::io(
                "record the range in",
                &entry,
                e,
                "check free space",
            ))
        })?;
        Ok((start, gid))
    }

    /// A non-root owner's block: its own entries, read only.
    fn user_block(&self, owner: &user::Owner) -> Result<user::BlockPair, StoreError> {
        let (utext, _) = read_subid(&self.subuid)?;
        let (gtext, _) = read_subid(&self.subgid)?;
        let uids = parse_subid(&utext, &self.subuid)?;
        let gids = parse_subid(&gtext, &self.subgid)?;
        user::user_block(&uids, &gids, owner, &self.subuid, &self.subgid)
    }

    fn full(&self, what: &str, block: &user::BlockPair, users: &[PathBuf]) -> StoreError {
        let mut shown: Vec<String> = users
            .iter()
            .take(3)
            .map(|p| {
                let dir = p.parent().unwrap_or(p);
                format!(
                    "\"{}\" ({})",
                    dir.file_name().unwrap_or_default().to_string_lossy(),
                    p.display()
                )
            })
            .collect();
        if users.len() > 3 {
            shown.push(format!("and {} more", users.len() - 3));
        }
        if let Some(o) = &self.owner {
            return StoreError::other(format!(
                "cannot give {what} an id range of its own: all {} ranges of {RANGE_SIZE} ids in the entries of user \"{}\" in {} ({}:{}:{}) and {} ({}:{}:{}) are in use by containers {}; destroy a container, or have root make those entries larger",
                block.ranges(),
                o.who(),
                self.subuid.display(),
                o.who(),
                block.uid.start,
                block.uid.count,
                self.subgid.display(),
                o.who(),
                block.gid.start,
                block.gid.count,
                shown.join(", "),
            ));
        }
        let block = block.uid;
        StoreError::other(format!(
            "cannot give {what} an id range of its own: all {} ranges of root's block in {} ({}) are in use by containers {}; destroy a container, or enlarge root's entry (the same line in {} and {}), or create it with --privileged",
            block.ranges(),
            self.subuid.display(),
            block.line(),
            shown.join(", "),
            self.subuid.display(),
            self.subgid.display()
        ))
    }

    /// Removes the registry entries that name `config` (destroy; a failed create). Missing
    /// registry: nothing to do (nothing is created). Returns how many went.
    pub fn free(&self, config: &Path) -> Result<usize, StoreError> {
        if !self.registry.is_dir() {
            return Ok(0);
        }
        let config = canonical_maybe_missing(config);
        let _lock = self.lock()?;
        let mut n = 0;
        for (start, owner) in self.read_registry()? {
            if owner == config {
                let p = self.registry.join(start.to_string());
                match fs::remove_file(&p) {
                    Ok(()) => n += 1,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => {
                        return Err(StoreError::io(
                            "free the id range recorded in",
                            &p,
                            e,
                            "remove the file by hand",
                        ))
                    }
                }
            }
        }
        Ok(n)
    }

    /// The registry's entries: (range start, config path), by start. Files that are not
    /// entries (temporaries) are skipped.
    fn read_registry(&self) -> Result<Vec<(u64, PathBuf)>, StoreError> {
        let rd = match fs::read_dir(&self.registry) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(StoreError::io(
                    "read the id range registry",
                    &self.registry,
                    e,
                    "check its permissions",
                ))
            }
        };
        let mut out = Vec::new();
        for e in rd.flatten() {
            let name = e.file_name();
            if is_tmp_name(&name) {
                continue;
            }
            let Some(start) = name.to_str().and_then(|s| s.parse::<u64>().ok()) else {
                continue;
            };
            let p = e.path();
            let text = hako_config::read_bounded_text(&p, hako_config::read::LINE_LIMIT)
                .map_err(|e| {
                    StoreError::other(format!(
                        "cannot read the id range registry entry {}: {}; remove it if no container uses range {start}",
                        p.display(),
                        e.reason()
                    ))
                })?;
            out.push((start, PathBuf::from(text.trim_end_matches('\n'))));
        }
        out.sort();
        Ok(out)
    }

    /// Root's block, added to both files when root has no entry in either.
    fn ensure_block(&self) -> Result<Block, StoreError> {
        let (utext, umeta) = read_subid(&self.subuid)?;
        let (gtext, gmeta) = read_subid(&self.subgid)?;
        let uids = parse_subid(&utext, &self.subuid)?;
        let gids = parse_subid(&gtext, &self.subgid)?;
        match root_block(&uids, &gids, &self.subuid, &self.subgid)? {
            RootBlock::Use(b) => Ok(b),
            RootBlock::Add(b) => {
                let line = b.line();
                write_subid(&self.subuid, &append_line(&utext, &line), umeta.as_ref())?;
                if let Err(e) =
                    write_subid(&self.subgid, &append_line(&gtext, &line), gmeta.as_ref())
                {
                    // nothing half-made: root has the block in both files or in neither
                    let undo = match &umeta {
                        Some(_) => write_subid(&self.subuid, &utext, umeta.as_ref()),
                        None => fs::remove_file(&self.subuid).map_err(|e| {
                            StoreError::io("remove", &self.subuid, e, "remove it by hand")
                        }),
                    };
                    return Err(match undo {
                        Ok(()) => e,
                        Err(u) => StoreError::other(format!(
                            "{e}; and {} could not be put back: {u}; remove the line \"{line}\" from it by hand",
                            self.subuid.display()
                        )),
                    });
                }
                Ok(b)
            }
        }
    }

    /// The registry's lock, waiting up to [`LOCK_TIMEOUT`] for another hako command.
    fn lock(&self) -> Result<RegistryLock, StoreError> {
        let path = self.lock_path();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o644)
            .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
            .open(&path)
            .map_err(|e| {
                StoreError::io(
                    "open the id range registry's lock",
                    &path,
                    e,
                    "check that its directory is writable",
                )
            })?;
        let deadline = Instant::now() + LOCK_TIMEOUT;
        loop {
            match flock(&file, libc::LOCK_EX | libc::LOCK_NB) {
                Ok(()) => return Ok(RegistryLock { _file: file }),
                Err(nix::errno::Errno::EWOULDBLOCK) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => {
                    return Err(StoreError::io(
                        "lock the id range registry",
                        &path,
                        io::Error::from(e),
                        "another hako command holds it; retry when it has finished",
                    ))
                }
            }
        }
    }
}

/// Held while the registry (and the subordinate id files) change; the flock goes with
/// the descriptor.
struct RegistryLock {
    _file: File,
}

fn flock(f: &File, op: libc::c_int) -> Result<(), nix::errno::Errno> {
    // SAFETY: flock only reads the descriptor number, which `f` keeps open for the call.
    let r = unsafe { libc::flock(f.as_raw_fd(), op) };
    nix::errno::Errno::result(r).map(drop)
}

/// Is the range at `start` still used by the container whose config is `config`? Not when
/// its directory is gone or the config no longer maps the range; yes while the directory
/// is half-made (a create or copy in progress, or one killed: its destroy frees it), and
/// when the config cannot be read (better a range left unused than one handed out twice).
fn in_use(config: &Path, start: u64) -> bool {
    let Some(dir) = config.parent() else {
        return false;
    };
    match classify(dir) {
        DirState::Missing | DirState::Foreign => false,
        DirState::Partial(_) => true,
        DirState::Complete => match read_config_text(config) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => false,
            Err(_) => true,
            Ok(text) => match Doc::parse(&text, config) {
                Ok(doc) => maps_range(doc.get_all("lxc.idmap"), start),
                Err(_) => true,
            },
        },
    }
}

/// A subordinate id file's text and metadata (None, "": it does not exist yet).
fn read_subid(path: &Path) -> Result<(String, Option<fs::Metadata>), StoreError> {
    match hako_config::read_bounded_text(path, SUBID_LIMIT) {
        Ok(t) => {
            let m = fs::metadata(path)
                .map_err(|e| StoreError::io("read the metadata of", path, e, "check the file"))?;
            Ok((t, Some(m)))
        }
        Err(e) if e.is_not_found() => Ok((String::new(), None)),
        Err(e) => Err(StoreError::other(format!(
            "cannot read {}: {}; make it a readable regular file of NAME:START:COUNT lines",
            path.display(),
            e.reason()
        ))),
    }
}

/// Replaces a subordinate id file with `text`: a temporary file next to it with the old
/// file's mode and owner (0644 root for a new file), synced, renamed over it.
fn write_subid(path: &Path, text: &str, meta: Option<&fs::Metadata>) -> Result<(), StoreError> {
    let tmp = tmp_path(path);
    let r = (|| -> io::Result<()> {
        match fs::remove_file(&tmp) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let mode = meta.map(|m| m.mode() & 0o7777).unwrap_or(0o644);
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&tmp)?;
        if let Some(m) = meta {
            std::os::unix::fs::fchown(&f, Some(m.uid()), Some(m.gid()))?;
        }
        f.set_permissions(fs::Permissions::from_mode(mode))?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)
    })();
    r.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        StoreError::io(
            "rewrite",
            path,
            e,
            "check that it is writable (run as root)",
        )
    })
}
