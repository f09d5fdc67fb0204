//! A non-root caller's subordinate ids (pure, no I/O): its own entries in `/etc/subuid` and
//! `/etc/subgid`, which hako reads and never edits. The same lookups serve
//! `lxc-usernsexec`'s default map and `hako create`'s ranges for a rootless user.

use std::path::Path;

use super::parse::{Block, SubidEntry, RANGE_SIZE};
use crate::StoreError;

/// Where a suggested range for a user starts looking (useradd's SUB_UID_MIN).
const SUGGEST_FLOOR: u64 = 100_000;

/// Who owns subordinate ids: a name (as in the files) and a uid (a line may use either).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    pub name: Option<String>,
    pub uid: u32,
}

impl Owner {
    /// Is `e` a line of this owner?
    pub fn owns(&self, e: &SubidEntry) -> bool {
        self.name.as_deref() == Some(e.name.as_str()) || e.name == self.uid.to_string()
    }
    /// The name, else the uid, for messages and commands.
    pub fn who(&self) -> String {
        self.name.clone().unwrap_or_else(|| self.uid.to_string())
    }
}

/// The owner's first entry in a file (LXC's choice: "we only use the first one").
pub fn first_entry<'a>(entries: &'a [SubidEntry], owner: &Owner) -> Option<&'a SubidEntry> {
    entries.iter().find(|e| owner.owns(e))
}

/// A uid block and a gid block a user hands out ranges from (their starts may differ).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockPair {
    pub uid: Block,
    pub gid: Block,
}

impl BlockPair {
    /// Root's block serves both.
    pub fn same(b: Block) -> BlockPair {
        BlockPair { uid: b, gid: b }
    }
    /// How many ranges of [`RANGE_SIZE`] both hold.
    pub fn ranges(&self) -> u64 {
        self.uid.ranges().min(self.gid.ranges())
    }
    /// The uid and gid starts of range `i`.
    pub fn range_start(&self, i: u64) -> (u64, u64) {
        (self.uid.range_start(i), self.gid.range_start(i))
    }
}

/// A free range of `count` ids to suggest to an administrator: the first start at or above
/// 100000 that overlaps no entry of either file.
pub fn suggest_range(entries: &[&SubidEntry], count: u64) -> u64 {
    let mut s = SUGGEST_FLOOR;
    while let Some(end) = entries
        .iter()
        .filter(|e| s < e.end() && e.start < s + count)
        .map(|e| e.end())
        .max()
    {
        s = end;
    }
    s
}

/// The command that gives `owner` a range of `count` ids starting at `start` in both files.
pub fn usermod_command(owner: &Owner, start: u64, count: u64) -> String {
    let last = start + count - 1;
    format!(
        "usermod --add-subuids {start}-{last} --add-subgids {start}-{last} {}",
        owner.who()
    )
}

/// The error for an owner with no (big enough) entry: names the file(s), the owner and
/// the command root runs to fix it. `need` is the smallest count that would do.
pub fn missing_range(
    owner: &Owner,
    missing: &[&Path],
    uids: &[SubidEntry],
    gids: &[SubidEntry],
    need: u64,
) -> StoreError {
    let all: Vec<&SubidEntry> = uids.iter().chain(gids).collect();
    let start = suggest_range(&all, need.max(RANGE_SIZE));
    let files: Vec<String> = missing.iter().map(|p| p.display().to_string()).collect();
    let size = if need > 1 {
        format!(" of at least {need} ids")
    } else {
        String::new()
    };
    StoreError::other(format!(
        "user \"{}\" (uid {}) has no subordinate id range{size} in {}; have root add one: {}",
        owner.who(),
        owner.uid,
        files.join(" and "),
        usermod_command(owner, start, need.max(RANGE_SIZE))
    ))
}

/// The block a non-root user's containers get their ranges from: its first entry of at
/// least [`RANGE_SIZE`] ids in each file. None in either is the error of
/// [`missing_range`].
pub fn user_block(
    uids: &[SubidEntry],
    gids: &[SubidEntry],
    owner: &Owner,
    uid_file: &Path,
    gid_file: &Path,
) -> Result<BlockPair, StoreError> {
    let pick = |v: &[SubidEntry]| {
        v.iter()
            .find(|e| owner.owns(e) && e.count >= RANGE_SIZE)
            .map(|e| Block {
                start: e.start,
                count: e.count,
            })
    };
    match (pick(uids), pick(gids)) {
        (Some(uid), Some(gid)) => Ok(BlockPair { uid, gid }),
        (u, g) => {
            let mut missing = Vec::new();
            if u.is_none() {
                missing.push(uid_file);
            }
            if g.is_none() {
                missing.push(gid_file);
            }
            Err(missing_range(owner, &missing, uids, gids, RANGE_SIZE))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse::parse_subid;
    use super::*;

    fn parse(t: &str) -> Vec<SubidEntry> {
        parse_subid(t, Path::new("/etc/subuid")).unwrap()
    }

    fn alice() -> Owner {
        Owner {
            name: Some("alice".into()),
            uid: 1000,
        }
    }

    #[test]
    fn owner_matches_name_or_uid() {
        let e = parse("alice:100000:65536\n1000:300000:65536\nbob:165536:65536\n");
        assert!(alice().owns(&e[0]) && alice().owns(&e[1]) && !alice().owns(&e[2]));
        assert_eq!(first_entry(&e, &alice()).unwrap().start, 100000);
        let anon = Owner {
            name: None,
            uid: 1000,
        };
        assert_eq!(first_entry(&e, &anon).unwrap().start, 300000);
        assert_eq!(anon.who(), "1000");
    }

    #[test]
    fn user_block_uses_own_entries_with_different_starts() {
        let u = parse("root:1048576:268435456\nbob:100000:65536\nalice:165536:131072\n");
        let g = parse("root:1048576:268435456\nalice:10000:10\nalice:200000:65536\n");
        let b = user_block(&u, &g, &alice(), Path::new("/su"), Path::new("/sg")).unwrap();
        assert_eq!(b.uid.start, 165536);
        assert_eq!(b.gid.start, 200000);
        // the smaller of the two decides
        assert_eq!(b.ranges(), 1);
        assert_eq!(b.range_start(0), (165536, 200000));
    }

    #[test]
    fn missing_entries_name_the_file_and_the_fix() {
        let u = parse("root:1048576:268435456\nbob:100000:65536\n");
        let g = parse("root:1048576:268435456\nbob:100000:65536\nalice:165536:65536\n");
        let e = user_block(
            &u,
            &g,
            &alice(),
            Path::new("/etc/subuid"),
            Path::new("/etc/subgid"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("user \"alice\" (uid 1000)")
                && e.contains("in /etc/subuid;")
                && !e.contains("/etc/subgid")
                && e.contains(
                    "usermod --add-subuids 231072-296607 --add-subgids 231072-296607 alice"
                ),
            "{e}"
        );
        // too small an entry is no entry
        let small = parse("alice:100000:1000\n");
        let e = user_block(&small, &small, &alice(), Path::new("/a"), Path::new("/b"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("in /a and /b") && e.contains("101000-166535"),
            "{e}"
        );
    }

    #[test]
    fn suggestion_skips_every_entry() {
        let e = parse("x:100000:65536\ny:165536:10\nz:500000:5\n");
        let all: Vec<&SubidEntry> = e.iter().collect();
        assert_eq!(suggest_range(&all, 65536), 165546);
        assert_eq!(suggest_range(&[], 65536), 100000);
    }
}
