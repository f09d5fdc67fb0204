//! `lxc.mount.entry` lines and fstab files: fields, fstab escapes, mount flags and the
//! options hako handles itself (optional, create=, relative, idmap=).

use serde::{Deserialize, Serialize};

use super::{err, Result, ValueError};
use crate::util::shorten;

pub const MS_RDONLY: u64 = 1;
pub const MS_NOSUID: u64 = 2;
pub const MS_NODEV: u64 = 4;
pub const MS_NOEXEC: u64 = 8;
pub const MS_SYNCHRONOUS: u64 = 16;
pub const MS_REMOUNT: u64 = 32;
pub const MS_MANDLOCK: u64 = 64;
pub const MS_DIRSYNC: u64 = 128;
pub const MS_NOATIME: u64 = 1024;
pub const MS_NODIRATIME: u64 = 2048;
pub const MS_BIND: u64 = 4096;
pub const MS_REC: u64 = 16384;
pub const MS_UNBINDABLE: u64 = 1 << 17;
pub const MS_PRIVATE: u64 = 1 << 18;
pub const MS_SLAVE: u64 = 1 << 19;
pub const MS_SHARED: u64 = 1 << 20;
pub const MS_RELATIME: u64 = 1 << 21;
pub const MS_STRICTATIME: u64 = 1 << 24;
pub const MS_LAZYTIME: u64 = 1 << 25;
/// The propagation bits; mount(2) wants them in a separate call from other flags.
pub const MS_PROPAGATION: u64 = MS_UNBINDABLE | MS_PRIVATE | MS_SLAVE | MS_SHARED;

/// (option, clear instead of set, bits)
const MOUNT_FLAGS: &[(&str, bool, u64)] = &[
    ("defaults", false, 0),
    ("ro", false, MS_RDONLY),
    ("rw", true, MS_RDONLY),
    ("nosuid", false, MS_NOSUID),
    ("suid", true, MS_NOSUID),
    ("nodev", false, MS_NODEV),
    ("dev", true, MS_NODEV),
    ("noexec", false, MS_NOEXEC),
    ("exec", true, MS_NOEXEC),
    ("sync", false, MS_SYNCHRONOUS),
    ("async", true, MS_SYNCHRONOUS),
    ("dirsync", false, MS_DIRSYNC),
    ("remount", false, MS_REMOUNT),
    ("mand", false, MS_MANDLOCK),
    ("nomand", true, MS_MANDLOCK),
    ("noatime", false, MS_NOATIME),
    ("atime", true, MS_NOATIME),
    ("nodiratime", false, MS_NODIRATIME),
    ("diratime", true, MS_NODIRATIME),
    ("relatime", false, MS_RELATIME),
    ("norelatime", true, MS_RELATIME),
    ("strictatime", false, MS_STRICTATIME),
    ("nostrictatime", true, MS_STRICTATIME),
    ("lazytime", false, MS_LAZYTIME),
    ("bind", false, MS_BIND),
    ("rbind", false, MS_BIND | MS_REC),
    ("private", false, MS_PRIVATE),
    ("rprivate", false, MS_PRIVATE | MS_REC),
    ("slave", false, MS_SLAVE),
    ("rslave", false, MS_SLAVE | MS_REC),
    ("shared", false, MS_SHARED),
    ("rshared", false, MS_SHARED | MS_REC),
    ("unbindable", false, MS_UNBINDABLE),
    ("runbindable", false, MS_UNBINDABLE | MS_REC),
];

/// One line of fstab(5) as `lxc.mount.entry` takes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountEntry {
    pub source: String,
    /// usually relative to the container's root
    pub target: String,
    pub fstype: String,
    pub options: Vec<String>,
    pub dump: u32,
    pub pass: u32,
}

/// LXC's own mount options, which are not passed to mount(2).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountExtras {
    /// `create=dir`: create the target directory first
    pub create_dir: bool,
    /// `create=file`: create the target file first
    pub create_file: bool,
    /// `optional`: a failing mount is not an error
    pub optional: bool,
    /// `relative`: the source is relative to the container's root
    pub relative: bool,
    /// `idmap=PATH|container`: idmapped mount
    pub idmap: Option<String>,
}

impl MountEntry {
    /// mount(2) flags (`MS_*` bits, propagation included, see [`MS_PROPAGATION`]), the
    /// filesystem data string (every option that is not a flag), and LXC's extras.
    pub fn flags_and_data(&self) -> (u64, String, MountExtras) {
        let mut flags = 0u64;
        let mut data: Vec<&str> = Vec::new();
        let mut extras = MountExtras::default();
        for opt in &self.options {
            let opt = opt.as_str();
            if let Some(&(_, clear, bits)) = MOUNT_FLAGS.iter().find(|(n, _, _)| *n == opt) {
                if clear {
                    flags &= !bits;
                } else {
                    flags |= bits;
                }
                continue;
            }
            match opt {
                "create=dir" => extras.create_dir = true,
                "create=file" => extras.create_file = true,
                "optional" => extras.optional = true,
                "relative" => extras.relative = true,
                _ => match opt.strip_prefix("idmap=") {
                    Some(p) => extras.idmap = Some(p.to_string()),
                    None => data.push(opt),
                },
            }
        }
        (flags, data.join(","), extras)
    }

    pub fn has_option(&self, opt: &str) -> bool {
        self.options.iter().any(|o| o == opt)
    }
}

/// Decode fstab's octal escapes (`\040` space, `\011` tab, `\012` newline, `\134` backslash).
pub fn unescape_fstab(field: &str) -> String {
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() {
            let oct = &b[i + 1..i + 4];
            if oct.iter().all(|c| (b'0'..=b'7').contains(c)) {
                let v = u32::from(oct[0] - b'0') * 64
                    + u32::from(oct[1] - b'0') * 8
                    + u32::from(oct[2] - b'0');
                if let Ok(byte) = u8::try_from(v) {
                    out.push(byte);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One fstab line: `SOURCE TARGET FSTYPE [OPTIONS [DUMP [PASS]]]`, fields separated by
/// spaces or tabs, with fstab's `\040`-style escapes.
pub fn parse_mount_entry(s: &str) -> Result<MountEntry> {
    let t = s.trim();
    if t.is_empty() {
        return err("empty mount entry; write it as in fstab(5): SOURCE TARGET FSTYPE OPTIONS 0 0");
    }
    if t.starts_with('#') {
        return err("a mount entry cannot be a comment; write it as in fstab(5): SOURCE TARGET FSTYPE OPTIONS 0 0");
    }
    let fields: Vec<&str> = t.split([' ', '\t']).filter(|f| !f.is_empty()).collect();
    if fields.len() < 3 {
        return err("a mount entry needs at least source, target and filesystem type; write it as in fstab(5): SOURCE TARGET FSTYPE OPTIONS 0 0");
    }
    if fields.len() > 6 {
        return err("too many fields in mount entry (at most 6); escape spaces in paths as \\040");
    }
    let num = |i: usize, what: &str| -> Result<u32> {
        match fields.get(i) {
            None => Ok(0),
            Some(f) => f.parse::<u32>().or_else(|_| {
                err(format!(
                    "the {what} field \"{}\" must be a number, usually 0",
                    shorten(f, 20)
                ))
            }),
        }
    };
    let options = match fields.get(3) {
        Some(o) => o
            .split(',')
            .filter(|x| !x.is_empty())
            .map(unescape_fstab)
            .collect(),
        None => Vec::new(),
    };
    Ok(MountEntry {
        source: unescape_fstab(fields[0]),
        target: unescape_fstab(fields[1]),
        fstype: unescape_fstab(fields[2]),
        options,
        dump: num(4, "dump")?,
        pass: num(5, "pass")?,
    })
}

/// An fstab file (`lxc.mount.fstab`): one entry per line, `#` comments and blank lines skipped.
pub fn parse_fstab(text: &str) -> Result<Vec<MountEntry>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        out.push(
            parse_mount_entry(t).map_err(|e| ValueError::new(format!("line {}: {}", i + 1, e)))?,
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_entries() {
        let e = parse_mount_entry(
            "/sys/fs/fuse/connections sys/fs/fuse/connections none bind,optional 0 0",
        )
        .unwrap();
        assert_eq!(e.source, "/sys/fs/fuse/connections");
        assert_eq!(e.target, "sys/fs/fuse/connections");
        assert_eq!(e.fstype, "none");
        assert_eq!(e.options, vec!["bind", "optional"]);
        let (flags, data, extras) = e.flags_and_data();
        assert_eq!(flags, MS_BIND);
        assert_eq!(data, "");
        assert!(extras.optional && !extras.create_dir);

        let e = parse_mount_entry(
            "/my\\040dir\tmnt/with\\040space  none\trbind,ro,create=dir,rslave,relative 1 2",
        )
        .unwrap();
        assert_eq!(e.source, "/my dir");
        assert_eq!(e.target, "mnt/with space");
        assert_eq!((e.dump, e.pass), (1, 2));
        let (flags, _, extras) = e.flags_and_data();
        assert_eq!(flags, MS_BIND | MS_REC | MS_RDONLY | MS_SLAVE);
        assert!(extras.create_dir && extras.relative && !extras.create_file);

        let e = parse_mount_entry(
            "tmpfs tmp tmpfs nosuid,nodev,noexec,size=64m,mode=1777,create=file,idmap=container",
        )
        .unwrap();
        let (flags, data, extras) = e.flags_and_data();
        assert_eq!(flags, MS_NOSUID | MS_NODEV | MS_NOEXEC);
        assert_eq!(data, "size=64m,mode=1777");
        assert!(extras.create_file);
        assert_eq!(extras.idmap.as_deref(), Some("container"));

        let e = parse_mount_entry("proc proc proc").unwrap();
        assert!(e.options.is_empty());
        assert_eq!((e.dump, e.pass), (0, 0));

        let e = parse_mount_entry("a b c ro,rw,nosuid,suid,sync,remount,mand,noatime,nodiratime,relatime,strictatime,defaults").unwrap();
        let (flags, data, _) = e.flags_and_data();
        assert_eq!(
            flags,
            MS_SYNCHRONOUS
                | MS_REMOUNT
                | MS_MANDLOCK
                | MS_NOATIME
                | MS_NODIRATIME
                | MS_RELATIME
                | MS_STRICTATIME
        );
        assert_eq!(data, "");
        let e =
            parse_mount_entry("a b c private,shared,unbindable,rprivate,rshared,runbindable,slave")
                .unwrap();
        let (flags, _, _) = e.flags_and_data();
        assert_eq!(flags, MS_PROPAGATION | MS_REC);

        for bad in [
            "",
            "a b",
            "a b c d 0 0 extra",
            "a b c d x 0",
            "a b c d 0 y",
            "# a b c",
        ] {
            assert!(parse_mount_entry(bad).is_err(), "{bad:?}");
        }
        assert_eq!(unescape_fstab("a\\134b\\011c\\012"), "a\\b\tc\n");
        assert_eq!(unescape_fstab("trailing\\04"), "trailing\\04");
        assert_eq!(unescape_fstab("\\"), "\\");
        assert_eq!(unescape_fstab("\\999"), "\\999");
    }

    #[test]
    fn fstab() {
        let t = "# comment\n\nproc proc proc nodev,noexec,nosuid 0 0\n  # indented comment\nsysfs sys sysfs ro 0 0\n";
        let v = parse_fstab(t).unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[1].fstype, "sysfs");
        let e = parse_fstab("proc proc proc\nbroken\n").unwrap_err();
        assert!(e.reason().starts_with("line 2: "), "{e}");
        assert!(parse_fstab("").unwrap().is_empty());
    }
}
