//! hako-read: reading input files with bounds, the one place hako opens a config file, an
//! included file, a `-f` file, an `lxc.mount.fstab` file, a template's output or a JSON
//! state file. (A crate of its own so that the runtime, which has no use for the config
//! language, reads its files the same way; hako-config re-exports it as `read`.)
//!
//! A path an attacker (or a typo) controls may name a FIFO (reading it blocks until a
//! writer comes, forever), a device such as /dev/zero (endless) or a huge file. So:
//! the type is checked before opening (a device is never opened, so its open has no side
//! effect); the open itself cannot block or take a controlling terminal
//! (`O_NONBLOCK|O_NOCTTY`, and `O_CLOEXEC` as every std open); the opened file is checked
//! again with fstat (the path may have been swapped in between), and only a regular file
//! is read, at most `limit + 1` bytes of it, so a file that grows while it is read is
//! still refused rather than read without end.
//!
//! Config files may legitimately be symlinks (a distribution's `/etc/lxc/default.conf`
//! often is): [`read_bounded`] follows them and checks what they lead to.
//! [`read_bounded_nofollow`] refuses a symlink, for files only hako (or a helper it runs)
//! writes, such as a monitor's `state.json`.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// One config file: a container's `config`, a `-f` file, an included file, the global
/// and default configs, an `lxc.mount.fstab` file, a config a template wrote. LXC's
/// largest shipped config is a few KiB.
pub const CONFIG_LIMIT: u64 = 1 << 20;

/// Every file one config reads through `lxc.include`, together (the bound on an include
/// tree that fans out: a file including another many times over).
pub const CONFIG_TOTAL_LIMIT: u64 = 16 << 20;

/// How many files one config may read through `lxc.include`, counting repeats.
pub const MAX_INCLUDED_FILES: usize = 256;

/// A JSON state file hako wrote (a monitor's `state.json`, a managed network's
/// definition) or a runtime file a helper wrote (dnsmasq's leases).
pub const STATE_LIMIT: u64 = 1 << 20;

/// A one-line runtime record: a pid file, a DNS host entry, a DHCP host entry.
pub const LINE_LIMIT: u64 = 4 << 10;

/// Why a file was not read. `Display` names the file; [`ReadError::reason`] is the cause
/// alone, for messages that name the file themselves.
#[derive(Debug)]
pub enum ReadError {
    /// open, fstat or read failed (a missing file is `Io` with kind `NotFound`)
    Io { path: PathBuf, source: io::Error },
    /// not a regular file; `what` says what it is ("a FIFO (named pipe)", ...)
    NotRegular { path: PathBuf, what: &'static str },
    /// larger than `limit` bytes; `size` is what fstat said, None when the file grew
    /// past the limit while it was read
    TooLarge {
        path: PathBuf,
        size: Option<u64>,
        limit: u64,
    },
    /// not UTF-8 (from [`read_bounded_text`])
    NotText { path: PathBuf },
}

impl ReadError {
    pub fn path(&self) -> &Path {
        match self {
            ReadError::Io { path, .. }
            | ReadError::NotRegular { path, .. }
            | ReadError::TooLarge { path, .. }
            | ReadError::NotText { path } => path,
        }
    }

    /// The file does not exist (callers often treat that as "no value").
    pub fn is_not_found(&self) -> bool {
        matches!(self, ReadError::Io { source, .. } if source.kind() == io::ErrorKind::NotFound)
    }

    /// The cause, without the file's name: "it is a FIFO (named pipe), not a regular file".
    pub fn reason(&self) -> String {
        match self {
            ReadError::Io { source, .. } => io_cause(source),
            ReadError::NotRegular { what, .. } => format!("it is {what}, not a regular file"),
            ReadError::TooLarge {
                size: Some(size),
                limit,
                ..
            } => format!(
                "it is {size} bytes, more than the limit of {} for this file",
                human(*limit)
            ),
            ReadError::TooLarge {
                size: None, limit, ..
            } => format!(
                "it grew past the limit of {} for this file while it was read",
                human(*limit)
            ),
            ReadError::NotText { .. } => "the file is not valid UTF-8 text".into(),
        }
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot read \"{}\": {}",
            self.path().display(),
            self.reason()
        )
    }
}

impl std::error::Error for ReadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReadError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// For callers whose errors carry an `io::Error` (and the path themselves): an I/O
/// failure comes back as it was (errno and kind kept, so `NotFound` and `EACCES` still
/// read as such); a refused file becomes `InvalidData` with [`ReadError::reason`] as text.
impl From<ReadError> for io::Error {
    fn from(e: ReadError) -> io::Error {
        match e {
            ReadError::Io { source, .. } => source,
            other => io::Error::new(io::ErrorKind::InvalidData, other.reason()),
        }
    }
}

fn io_cause(e: &io::Error) -> String {
    use io::ErrorKind::*;
    match e.kind() {
        NotFound => "no such file or directory".into(),
        PermissionDenied => "permission denied".into(),
        _ if e.raw_os_error() == Some(libc::ELOOP) => {
            "it is a symbolic link, which is not followed here (hako writes this file itself)"
                .into()
        }
        _ => {
            let s = e.to_string();
            match s.find(" (os error") {
                Some(i) => s[..i].to_lowercase(),
                None => s,
            }
        }
    }
}

/// 1048576 → "1 MiB (1048576 bytes)".
fn human(n: u64) -> String {
    let unit = if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n.is_multiple_of(1 << 10) {
        format!("{} KiB", n >> 10)
    } else {
        return format!("{n} bytes");
    };
    format!("{unit} ({n} bytes)")
}

fn describe(t: fs::FileType) -> Option<&'static str> {
    if t.is_file() {
        None
    } else if t.is_fifo() {
        Some("a FIFO (named pipe)")
    } else if t.is_char_device() {
        Some("a character device")
    } else if t.is_block_device() {
        Some("a block device")
    } else if t.is_socket() {
        Some("a socket")
    } else if t.is_dir() {
        Some("a directory")
    } else if t.is_symlink() {
        Some("a symbolic link")
    } else {
        Some("not a regular file")
    }
}

/// Reads the regular file at `path` (following symlinks), at most `limit` bytes; refuses
/// anything else without blocking. See the module's doc.
pub fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    read(path, limit, true)
}

/// As [`read_bounded`], but a symlink at `path` is refused (its last component; for files
/// only hako writes, where a symlink is never legitimate).
pub fn read_bounded_nofollow(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    read(path, limit, false)
}

/// As [`read_bounded`], as UTF-8 text.
pub fn read_bounded_text(path: &Path, limit: u64) -> Result<String, ReadError> {
    String::from_utf8(read_bounded(path, limit)?).map_err(|_| ReadError::NotText {
        path: path.to_path_buf(),
    })
}

fn read(path: &Path, limit: u64, follow: bool) -> Result<Vec<u8>, ReadError> {
    let io_err = |source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    };
    let check = |m: &fs::Metadata| -> Result<(), ReadError> {
        if let Some(what) = describe(m.file_type()) {
            return Err(ReadError::NotRegular {
                path: path.to_path_buf(),
                what,
            });
        }
        if m.len() > limit {
            return Err(ReadError::TooLarge {
                path: path.to_path_buf(),
                size: Some(m.len()),
                limit,
            });
        }
        Ok(())
    };
    // before opening: a device's open may have effects (a tape rewinds, a modem hangs up)
    let pre = if follow {
        fs::metadata(path)
    } else {
        fs::symlink_metadata(path)
    };
    check(&pre.map_err(io_err)?)?;
    let mut flags = libc::O_NONBLOCK | libc::O_NOCTTY;
    if !follow {
        flags |= libc::O_NOFOLLOW;
    }
    let f: File = OpenOptions::new()
        .read(true)
        .custom_flags(flags)
        .open(path)
        .map_err(io_err)?;
    // what was opened, which may not be what was looked at
    check(&f.metadata().map_err(io_err)?)?;
    let mut buf = Vec::new();
    f.take(limit.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(io_err)?;
    if buf.len() as u64 > limit {
        return Err(ReadError::TooLarge {
            path: path.to_path_buf(),
            size: None,
            limit,
        });
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;
    use std::sync::mpsc;
    use std::time::Duration;

    /// Runs `f` on another thread and fails the test if it does not return within 5 s.
    /// A regression that blocks in open(2) or read(2) on `fifo` is released by opening
    /// the FIFO's other end, so the test fails instead of hanging the suite.
    fn within_5s<T: Send + 'static>(
        fifo: Option<&Path>,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> T {
        cap_memory();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(f());
        });
        match rx.recv_timeout(Duration::from_secs(5)) {
            Ok(v) => v,
            Err(_) => {
                if let Some(p) = fifo {
                    // a writer that comes and goes: the blocked reader sees end-of-file
                    drop(
                        OpenOptions::new()
                            .write(true)
                            .custom_flags(libc::O_NONBLOCK)
                            .open(p),
                    );
                }
                panic!("reading did not return within 5 s: it blocked");
            }
        }
    }

    /// Caps this test process's address space at 4 GiB (never raises it): a regression that
    /// reads /dev/zero without end then fails an allocation instead of exhausting the host.
    fn cap_memory() {
        let cap: libc::rlim_t = 4 << 30;
        let mut r = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit/setrlimit with a valid pointer to a local rlimit.
        unsafe {
            assert_eq!(libc::getrlimit(libc::RLIMIT_AS, &mut r), 0);
            if r.rlim_cur > cap {
                r.rlim_cur = cap;
                assert_eq!(libc::setrlimit(libc::RLIMIT_AS, &r), 0);
            }
        }
    }

    fn mkfifo(p: &Path) {
        let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path; mkfifo only reads it.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
    }

    #[test]
    fn a_regular_file_is_read_whole() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("config");
        fs::write(&p, "lxc.uts.name = web\n").unwrap();
        assert_eq!(
            read_bounded_text(&p, CONFIG_LIMIT).unwrap(),
            "lxc.uts.name = web\n"
        );
        // exactly at the limit is fine
        fs::write(&p, vec![b'#'; 100]).unwrap();
        assert_eq!(read_bounded(&p, 100).unwrap().len(), 100);
        assert_eq!(read_bounded_nofollow(&p, 100).unwrap().len(), 100);
        // an empty file is an empty file
        fs::write(&p, "").unwrap();
        assert_eq!(read_bounded(&p, 100).unwrap(), b"");
    }

    #[test]
    fn one_byte_over_the_limit_is_refused_naming_file_size_and_limit() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("big.conf");
        fs::write(&p, vec![b'#'; 2049]).unwrap();
        let e = read_bounded(&p, 2048).unwrap_err();
        assert!(
            matches!(
                e,
                ReadError::TooLarge {
                    size: Some(2049),
                    limit: 2048,
                    ..
                }
            ),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            format!(
                "cannot read \"{}\": it is 2049 bytes, more than the limit of 2 KiB (2048 bytes) for this file",
                p.display()
            )
        );
        let e = read_bounded(&p, CONFIG_LIMIT).map(|v| v.len()).unwrap();
        assert_eq!(e, 2049);
        // as an io::Error for callers that carry one: the reason, kind InvalidData
        let io: io::Error = read_bounded(&p, 2048).unwrap_err().into();
        assert_eq!(io.kind(), io::ErrorKind::InvalidData);
        assert!(io.to_string().contains("2049 bytes"), "{io}");
    }

    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("fifo.conf");
        mkfifo(&p);
        let q = p.clone();
        let e = within_5s(Some(&p), move || read_bounded(&q, CONFIG_LIMIT)).unwrap_err();
        assert!(
            matches!(
                e,
                ReadError::NotRegular {
                    what: "a FIFO (named pipe)",
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(e.to_string().contains("not a regular file"), "{e}");
        assert!(e.to_string().contains("fifo.conf"), "{e}");
        // also through a symlink, and with a writer attached (a FIFO that has data)
        let l = d.path().join("link.conf");
        symlink(&p, &l).unwrap();
        let q = l.clone();
        assert!(matches!(
            within_5s(Some(&p), move || read_bounded(&q, CONFIG_LIMIT)).unwrap_err(),
            ReadError::NotRegular { .. }
        ));
        let _w = OpenOptions::new().read(true).write(true).open(&p).unwrap();
        let q = p.clone();
        assert!(matches!(
            within_5s(Some(&p), move || read_bounded_nofollow(&q, CONFIG_LIMIT)).unwrap_err(),
            ReadError::NotRegular { .. }
        ));
    }

    #[test]
    fn devices_are_refused_unopened() {
        for dev in ["/dev/zero", "/dev/urandom", "/dev/null"] {
            let e =
                within_5s(None, move || read_bounded(Path::new(dev), CONFIG_LIMIT)).unwrap_err();
            assert!(
                matches!(
                    e,
                    ReadError::NotRegular {
                        what: "a character device",
                        ..
                    }
                ),
                "{dev}: {e:?}"
            );
        }
        let e = read_bounded(Path::new("/"), CONFIG_LIMIT).unwrap_err();
        assert!(
            matches!(
                e,
                ReadError::NotRegular {
                    what: "a directory",
                    ..
                }
            ),
            "{e:?}"
        );
    }

    #[test]
    fn symlinks_are_followed_unless_told_not_to() {
        let d = tempfile::tempdir().unwrap();
        let target = d.path().join("real.conf");
        fs::write(&target, "lxc.tty.max = 1\n").unwrap();
        let l = d.path().join("link.conf");
        symlink(&target, &l).unwrap();
        assert_eq!(
            read_bounded_text(&l, CONFIG_LIMIT).unwrap(),
            "lxc.tty.max = 1\n"
        );
        let e = read_bounded_nofollow(&l, CONFIG_LIMIT).unwrap_err();
        assert!(
            matches!(
                e,
                ReadError::NotRegular {
                    what: "a symbolic link",
                    ..
                }
            ),
            "{e:?}"
        );
        // a symlink to /dev/zero is /dev/zero
        let z = d.path().join("zero.conf");
        symlink("/dev/zero", &z).unwrap();
        assert!(matches!(
            read_bounded(&z, CONFIG_LIMIT).unwrap_err(),
            ReadError::NotRegular { .. }
        ));
    }

    #[test]
    fn missing_and_non_text_files() {
        let d = tempfile::tempdir().unwrap();
        let e = read_bounded(&d.path().join("nothere"), 10).unwrap_err();
        assert!(e.is_not_found());
        assert_eq!(e.reason(), "no such file or directory");
        let io: io::Error = e.into();
        assert_eq!(io.kind(), io::ErrorKind::NotFound);
        let p = d.path().join("bin");
        fs::write(&p, [0xff, 0xfe, 0]).unwrap();
        let e = read_bounded_text(&p, 10).unwrap_err();
        assert!(matches!(e, ReadError::NotText { .. }));
        assert!(!e.is_not_found());
    }
}
