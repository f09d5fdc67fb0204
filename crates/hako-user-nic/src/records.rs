//! What the helper made, for whom: `/run/hako-user-nic/nics`, one line per veth,
//! `UID OWNER veth BRIDGE HOST-IFNAME IFINDEX` (OWNER: the allowlist entry it counts
//! against, a user name or `@group`). Changed only under the lock `/run/hako-user-nic/lock`
//! (flock), written whole to a temporary file and renamed over the old one, so a helper
//! killed half-way leaves the old list. An entry whose interface (that name with that
//! index: a later device that reuses the name is not it) no longer exists is pruned.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::Fail;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The real uid of the caller it was made for: the only one that may delete it.
    pub uid: u32,
    pub owner: String,
    pub bridge: String,
    pub ifname: String,
    pub ifindex: u32,
}

impl Record {
    fn line(&self) -> String {
        format!(
            "{} {} veth {} {} {}\n",
            self.uid, self.owner, self.bridge, self.ifname, self.ifindex
        )
    }
}

/// The records in `text`; a line that is not one (only root can write the file) is dropped.
pub fn parse(text: &str) -> Vec<Record> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            match f.as_slice() {
                [uid, owner, "veth", bridge, ifname, idx] => Some(Record {
                    uid: uid.parse().ok()?,
                    owner: owner.to_string(),
                    bridge: bridge.to_string(),
                    ifname: ifname.to_string(),
                    ifindex: idx.parse().ok()?,
                }),
                _ => None,
            }
        })
        .collect()
}

pub fn format(records: &[Record]) -> String {
    records.iter().map(Record::line).collect()
}

/// The records kept whose interface still exists: `live(name, index)` says whether a veth
/// of that name and index is on the host.
pub fn prune(records: Vec<Record>, live: impl Fn(&str, u32) -> bool) -> Vec<Record> {
    records
        .into_iter()
        .filter(|r| live(&r.ifname, r.ifindex))
        .collect()
}

/// The list, held under its lock for as long as this value lives.
pub struct Store {
    dir: PathBuf,
    _lock: File,
}

const LOCK_WAIT: Duration = Duration::from_secs(10);

impl Store {
    /// Make (or check) the directory, take the lock. The directory must be root's and
    /// writable by root only: it is where the list of what users may delete lives.
    pub fn open(dir: &Path) -> Result<Store, Fail> {
        let d = dir.display();
        match fs::create_dir(dir) {
            Ok(()) => {
                let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o755));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                return Err(Fail::new(format!(
                    "cannot create the record directory {d}: {e}; check that /run is mounted and writable by root"
                )))
            }
        }
        let m = fs::symlink_metadata(dir).map_err(|e| {
            Fail::new(format!(
                "cannot inspect the record directory {d}: {e}; check /run"
            ))
        })?;
        if !m.is_dir() || m.uid() != 0 || m.mode() & 0o022 != 0 {
            return Err(Fail::new(format!(
                "the record directory {d} is not a directory owned by root and writable by root only \
                 (owner uid {}, mode {:o}); as root, remove it (it is re-made) or run \"chown root:root {d}; chmod 755 {d}\"",
                m.uid(),
                m.mode() & 0o7777
            )));
        }
        let lock_path = dir.join("lock");
        let lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&lock_path)
            .map_err(|e| {
                Fail::new(format!(
                    "cannot open the lock {}: {e}; check {d}",
                    lock_path.display()
                ))
            })?;
        let start = Instant::now();
        loop {
            // SAFETY: flock on an fd this function owns.
            if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
                break;
            }
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EWOULDBLOCK) && e.raw_os_error() != Some(libc::EINTR)
            {
                return Err(Fail::new(format!(
                    "cannot lock {}: {e}; check {d}",
                    lock_path.display()
                )));
            }
            if start.elapsed() > LOCK_WAIT {
                return Err(Fail::new(format!(
                    "{} is still locked after {} s by another hako-user-nic; retry, or find it with \"fuser {}\"",
                    lock_path.display(),
                    LOCK_WAIT.as_secs(),
                    lock_path.display()
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(Store {
            dir: dir.to_path_buf(),
            _lock: lock,
        })
    }

    fn path(&self) -> PathBuf {
        self.dir.join("nics")
    }

    pub fn load(&self) -> Result<Vec<Record>, Fail> {
        let p = self.path();
        match hako_read::read_bounded_nofollow(&p, hako_read::STATE_LIMIT) {
            Ok(b) => Ok(parse(&String::from_utf8_lossy(&b))),
            Err(e) if e.is_not_found() => Ok(Vec::new()),
            Err(e) => Err(Fail::new(format!(
                "{e}; as root, check or remove {} (it lists the interfaces hako-user-nic made)",
                p.display()
            ))),
        }
    }

    pub fn save(&self, records: &[Record]) -> Result<(), Fail> {
        let p = self.path();
        let tmp = self.dir.join("nics.tmp");
        let fail = |e: std::io::Error| {
            Fail::new(format!(
                "cannot write {}: {e}; check that {} has room and is writable by root",
                p.display(),
                self.dir.display()
            ))
        };
        let _ = fs::remove_file(&tmp);
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&tmp)
            .map_err(fail)?;
        let r = f
            .write_all(format(records).as_bytes())
            .and_then(|()| f.sync_all())
            .and_then(|()| fs::rename(&tmp, &p));
        if let Err(e) = r {
            let _ = fs::remove_file(&tmp);
            return Err(fail(e));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_junk() {
        let r = vec![
            Record {
                uid: 1000,
                owner: "alice".into(),
                bridge: "br0".into(),
                ifname: "veth0a1b2c3d4e".into(),
                ifindex: 42,
            },
            Record {
                uid: 1001,
                owner: "@staff".into(),
                bridge: "br0".into(),
                ifname: "veth0a1b2c9999".into(),
                ifindex: 43,
            },
        ];
        let t = format(&r);
        assert_eq!(
            t,
            "1000 alice veth br0 veth0a1b2c3d4e 42\n1001 @staff veth br0 veth0a1b2c9999 43\n"
        );
        assert_eq!(parse(&t), r);
        let junk =
            format!("{t}x y\n1002 bob macvlan br0 v 1\n-1 bob veth br0 v 1\n1002 bob veth br0 v\n");
        assert_eq!(parse(&junk), r);
        let kept = prune(r.clone(), |n, i| n == "veth0a1b2c3d4e" && i == 42);
        assert_eq!(kept, vec![r[0].clone()]);
    }

    #[test]
    fn store_lock_save_load() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("d");
        if !nix::unistd::geteuid().is_root() {
            // the directory check wants root's ownership
            return;
        }
        let s = Store::open(&dir).unwrap();
        assert!(s.load().unwrap().is_empty());
        let r = vec![Record {
            uid: 5,
            owner: "u".into(),
            bridge: "b".into(),
            ifname: "i".into(),
            ifindex: 1,
        }];
        s.save(&r).unwrap();
        assert_eq!(s.load().unwrap(), r);
        assert!(!dir.join("nics.tmp").exists());
        drop(s);
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
        let e = Store::open(&dir).err().unwrap();
        assert!(e.msg.contains("writable by root only"), "{}", e.msg);
    }
}
