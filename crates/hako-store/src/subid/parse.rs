//! The pure part of the id-range allocator: `/etc/subuid` and `/etc/subgid` lines, root's
//! block, where a new block fits, and whether a config maps a range. No I/O.

use std::path::Path;

use crate::StoreError;

/// How many ids one container gets (its uids and gids 0..65535).
pub const RANGE_SIZE: u64 = 65536;
/// The size of the block hako adds for root when root has no entry: 4096 containers.
pub const BLOCK_SIZE: u64 = RANGE_SIZE * 4096;
/// A new block starts at the first multiple of [`RANGE_SIZE`] at or above this that is
/// free in both files (below it live the ranges distributions hand to users, 100000 on).
pub const BLOCK_FLOOR: u64 = 1_000_000;
/// Ids are below this: 4294967295 is `(uid_t)-1`, which no map may name.
const ID_END: u64 = u32::MAX as u64;

/// One `NAME:START:COUNT` line of a subordinate id file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubidEntry {
    /// 1-based line number, for errors
    pub line: usize,
    /// a user name, or a numeric uid
    pub name: String,
    pub start: u64,
    pub count: u64,
}

impl SubidEntry {
    pub fn end(&self) -> u64 {
        self.start + self.count
    }
    /// root, by name or by uid
    pub fn is_root(&self) -> bool {
        self.name == "root" || self.name == "0"
    }
}

/// The ids hako hands out in ranges of [`RANGE_SIZE`]: root's entry in both files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Block {
    pub start: u64,
    pub count: u64,
}

impl Block {
    /// How many ranges it holds.
    pub fn ranges(&self) -> u64 {
        self.count / RANGE_SIZE
    }
    /// The start of range `i`.
    pub fn range_start(&self, i: u64) -> u64 {
        self.start + i * RANGE_SIZE
    }
    /// Is `start` the start of one of its ranges?
    pub fn holds_range(&self, start: u64) -> bool {
        start >= self.start
            && start
                .checked_sub(self.start)
                .is_some_and(|d| d % RANGE_SIZE == 0)
            && start + RANGE_SIZE <= self.start + self.count
    }
    /// `root:START:COUNT`
    pub fn line(&self) -> String {
        format!("root:{}:{}", self.start, self.count)
    }
}

/// What to do about root's block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RootBlock {
    /// root has it in both files already
    Use(Block),
    /// root has no entry in either file: add this one to both
    Add(Block),
}

/// Parses a subordinate id file (`/etc/subuid` or `/etc/subgid`); `path` names it in
/// errors. Blank lines and `#` comments are skipped (and kept untouched by the writer,
/// which only appends). A line that is not `NAME:START:COUNT` is an error naming
/// `path:line`.
pub fn parse_subid(text: &str, path: &Path) -> Result<Vec<SubidEntry>, StoreError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let l = raw.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let bad = |why: &str| {
            StoreError::other(format!(
                "{}:{}: \"{}\" is not a subordinate id line: {why}; a line is NAME:START:COUNT (e.g. \"root:1048576:268435456\"), fix or remove it",
                path.display(),
                i + 1,
                shorten(l)
            ))
        };
        let f: Vec<&str> = l.split(':').collect();
        if f.len() != 3 {
            return Err(bad("it does not have three fields separated by ':'"));
        }
        let name = f[0].trim();
        if name.is_empty() {
            return Err(bad("the name is empty"));
        }
        let num = |s: &str, what: &str| {
            let s = s.trim();
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad(&format!(
                    "the {what} \"{}\" is not a number",
                    shorten(s)
                )));
            }
            s.parse::<u64>()
                .map_err(|_| bad(&format!("the {what} is too large")))
        };
        let (start, count) = (num(f[1], "start")?, num(f[2], "count")?);
        if count == 0 {
            return Err(bad("the count is 0"));
        }
        if start + count > ID_END + 1 {
            return Err(bad("the range goes past 4294967295"));
        }
        out.push(SubidEntry {
            line: i + 1,
            name: name.to_string(),
            start,
            count,
        });
    }
    Ok(out)
}

fn shorten(s: &str) -> String {
    if s.chars().count() > 40 {
        format!("{}...", s.chars().take(40).collect::<String>())
    } else {
        s.to_string()
    }
}

fn overlaps(a: u64, a_len: u64, b: u64, b_len: u64) -> bool {
    a < b + b_len && b < a + a_len
}

fn align_up(x: u64, to: u64) -> u64 {
    x.div_ceil(to) * to
}

/// Root's block: root's first entry in `uids` of at least [`RANGE_SIZE`] ids that
/// `gids` has too (same start and count); or, when root has no entry in either file, a
/// new block to add ([`new_block`]). Anything else is an error naming the files and the
/// fix. `uid_file`, `gid_file` name the files in errors.
pub fn root_block(
    uids: &[SubidEntry],
    gids: &[SubidEntry],
    uid_file: &Path,
    gid_file: &Path,
) -> Result<RootBlock, StoreError> {
    let root_u: Vec<&SubidEntry> = uids.iter().filter(|e| e.is_root()).collect();
    let root_g: Vec<&SubidEntry> = gids.iter().filter(|e| e.is_root()).collect();
    if root_u.is_empty() && root_g.is_empty() {
        let all: Vec<&SubidEntry> = uids.iter().chain(gids).collect();
        return new_block(&all).map(RootBlock::Add).ok_or_else(|| {
            StoreError::other(format!(
                "cannot reserve ids for containers: no free block of {BLOCK_SIZE} ids at or above {BLOCK_FLOOR} in {} and {}; give root an entry of at least {RANGE_SIZE} ids in both files by hand (the same line in each, e.g. \"root:1048576:{RANGE_SIZE}\"), or create the container with --privileged",
                uid_file.display(),
                gid_file.display()
            ))
        });
    }
    for u in &root_u {
        if u.count >= RANGE_SIZE
            && root_g
                .iter()
                .any(|g| g.start == u.start && g.count == u.count)
        {
            return Ok(RootBlock::Use(Block {
                start: u.start,
                count: u.count,
            }));
        }
    }
    let show = |v: &[&SubidEntry]| {
        if v.is_empty() {
            "none".to_string()
        } else {
            v.iter()
                .map(|e| format!("{}:{}:{}", e.name, e.start, e.count))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    Err(StoreError::other(format!(
        "cannot use root's subordinate ids: {} has {} for root and {} has {}, and no entry of at least {RANGE_SIZE} ids is in both; add the same root line of at least {RANGE_SIZE} ids to both files (e.g. \"root:1048576:{BLOCK_SIZE}\" where no other entry is), or remove root's entries to let hako add its own, or create the container with --privileged",
        uid_file.display(),
        show(&root_u),
        gid_file.display(),
        show(&root_g)
    )))
}

/// Where a block of [`BLOCK_SIZE`] ids fits: the first multiple of [`RANGE_SIZE`] at or
/// above [`BLOCK_FLOOR`] that overlaps none of `entries` (of any user, in either file).
pub fn new_block(entries: &[&SubidEntry]) -> Option<Block> {
    let mut s = align_up(BLOCK_FLOOR, RANGE_SIZE);
    loop {
        if s + BLOCK_SIZE > ID_END {
            return None;
        }
        match entries
            .iter()
            .filter(|e| overlaps(s, BLOCK_SIZE, e.start, e.count))
            .map(|e| e.end())
            .max()
        {
            None => {
                return Some(Block {
                    start: s,
                    count: BLOCK_SIZE,
                })
            }
            Some(end) => s = align_up(end, RANGE_SIZE),
        }
    }
}

/// `text` with `line` appended as a line of its own; every byte before stays as it was.
pub fn append_line(text: &str, line: &str) -> String {
    let mut out = String::with_capacity(text.len() + line.len() + 2);
    out.push_str(text);
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(line);
    out.push('\n');
    out
}

/// The `lxc.idmap` lines of a container that has the range at `start`: its uids and gids
/// 0..65535 are `start`.. on the host.
pub fn idmap_values(start: u64) -> [String; 2] {
    [
        format!("u 0 {start} {RANGE_SIZE}"),
        format!("g 0 {start} {RANGE_SIZE}"),
    ]
}

/// The host range of an `lxc.idmap` value (`u|g CONTAINER HOST COUNT`), None when it is
/// not one.
fn host_range(value: &str) -> Option<(u64, u64)> {
    let m = hako_config::values::parse_idmap(value).ok()?;
    Some((u64::from(m.host_id), u64::from(m.range)))
}

/// Does a config (its `lxc.idmap` values) map any id of the range at `start`?
pub fn maps_range<'a>(idmaps: impl IntoIterator<Item = &'a str>, start: u64) -> bool {
    idmaps
        .into_iter()
        .filter_map(host_range)
        .any(|(h, n)| overlaps(h, n, start, RANGE_SIZE))
}

/// The range hako gave a container, from its `lxc.idmap` values: exactly one `u` and
/// one `g` line, both `0 START 65536` with the same START. None for any other map (none
/// at all: privileged; one written by hand: kept as the user wrote it).
pub fn allocated_range<'a>(idmaps: impl IntoIterator<Item = &'a str>) -> Option<u64> {
    let mut u = None;
    let mut g = None;
    for v in idmaps {
        let m = hako_config::values::parse_idmap(v).ok()?;
        if m.ns_id != 0 || u64::from(m.range) != RANGE_SIZE {
            return None;
        }
        let slot = match m.kind {
            hako_config::values::IdKind::Uid => &mut u,
            hako_config::values::IdKind::Gid => &mut g,
        };
        if slot.is_some() {
            return None;
        }
        *slot = Some(u64::from(m.host_id));
    }
    match (u, g) {
        (Some(a), Some(b)) if a == b => Some(a),
        _ => None,
    }
}
