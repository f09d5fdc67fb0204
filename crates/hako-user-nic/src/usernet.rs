//! The allowlist, `/etc/lxc/lxc-usernet` (LXC's format, lxc-usernet(5)): lines
//! `USER veth BRIDGE COUNT` and `@GROUP veth BRIDGE COUNT`; `#` starts a comment line.
//! Pure: the text comes in, the caller's allotments for a bridge come out.

use crate::records::Record;

/// One line that lets the caller have up to `count` veths on `bridge`. `owner` is the
/// user's name or `@group`: what the interfaces made under this line are counted against
/// (a group's count is shared by its members, as in LXC).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Allot {
    pub line: usize,
    pub owner: String,
    pub count: u32,
}

/// The caller's lines for one bridge, in file order, and the other bridges the caller has
/// lines for (for the message when none is for this bridge).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Lookup {
    pub allots: Vec<Allot>,
    pub other_bridges: Vec<String>,
}

/// The caller's lines for `bridge`. `user` is the caller's name, `groups` its groups'
/// names. A line that names the caller but is malformed is an error naming the line; other
/// malformed lines are none of the caller's business and are skipped.
pub fn lookup(text: &str, user: &str, groups: &[String], bridge: &str) -> Result<Lookup, String> {
    let mut out = Lookup::default();
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        let who = f[0];
        let mine = match who.strip_prefix('@') {
            Some(g) => groups.iter().any(|x| x == g),
            None => who == user,
        };
        if !mine {
            continue;
        }
        let bad = |why: String| {
            Err(format!(
                "line {n} ({line:?}) {why}; write \"{who} veth BRIDGE COUNT\""
            ))
        };
        if f.len() != 4 {
            return bad(format!("has {} fields, not 4", f.len()));
        }
        let count: u32 = match f[3].parse() {
            Ok(c) => c,
            Err(_) => return bad(format!("has the count {:?}, not a number", f[3])),
        };
        if f[1] != "veth" {
            // LXC knows no other type either; such a line allows nothing
            continue;
        }
        if f[2] == bridge {
            out.allots.push(Allot {
                line: n,
                owner: who.to_string(),
                count,
            });
        } else if !out.other_bridges.iter().any(|b| b == f[2]) {
            out.other_bridges.push(f[2].to_string());
        }
    }
    Ok(out)
}

/// The first allotment (in file order) with room left on `bridge`, counting the existing
/// `records`; None when every one is used up.
pub fn pick<'a>(allots: &'a [Allot], records: &[Record], bridge: &str) -> Option<&'a Allot> {
    allots
        .iter()
        .find(|a| used(records, &a.owner, bridge) < a.count as usize)
}

/// How many of `records` count against `owner` on `bridge`.
pub fn used(records: &[Record], owner: &str, bridge: &str) -> usize {
    records
        .iter()
        .filter(|r| r.owner == owner && r.bridge == bridge)
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "\
# who type bridge count
alice veth br0 1
bob   veth br0 5
@staff veth br0 2
alice veth br1 3
alice macvlan br0 9
carol veth br0 x
@nobody veth
";

    fn rec(uid: u32, owner: &str, bridge: &str) -> Record {
        Record {
            uid,
            owner: owner.into(),
            bridge: bridge.into(),
            ifname: "vethX".into(),
            ifindex: 7,
        }
    }

    #[test]
    fn a_users_and_its_groups_lines_in_file_order() {
        let l = lookup(FILE, "alice", &["alice".into(), "staff".into()], "br0").unwrap();
        assert_eq!(
            l.allots,
            vec![
                Allot {
                    line: 2,
                    owner: "alice".into(),
                    count: 1
                },
                Allot {
                    line: 4,
                    owner: "@staff".into(),
                    count: 2
                },
            ]
        );
        assert_eq!(l.other_bridges, vec!["br1".to_string()]);
        // no line at all
        let l = lookup(FILE, "dave", &["dave".into()], "br0").unwrap();
        assert!(l.allots.is_empty() && l.other_bridges.is_empty());
        // a user's own malformed line is an error naming it; another's is skipped
        let e = lookup(FILE, "carol", &[], "br0").unwrap_err();
        assert!(
            e.starts_with("line 7 (\"carol veth br0 x\") has the count \"x\""),
            "{e}"
        );
        let e = lookup(FILE, "erin", &["nobody".into()], "br0").unwrap_err();
        assert!(e.contains("has 2 fields, not 4"), "{e}");
        assert!(lookup(FILE, "bob", &[], "br0").is_ok());
        // a user named like a group is not the group
        assert!(lookup("@staff veth br0 1\n", "staff", &[], "br0")
            .unwrap()
            .allots
            .is_empty());
    }

    #[test]
    fn counts_fill_in_file_order_and_groups_share() {
        let l = lookup(FILE, "alice", &["staff".into()], "br0").unwrap();
        let a = &l.allots;
        assert_eq!(pick(a, &[], "br0").unwrap().owner, "alice");
        let r1 = vec![rec(1000, "alice", "br0")];
        assert_eq!(pick(a, &r1, "br0").unwrap().owner, "@staff");
        // another member of staff used one of the group's two
        let r2 = vec![rec(1000, "alice", "br0"), rec(1001, "@staff", "br0")];
        assert_eq!(pick(a, &r2, "br0").unwrap().owner, "@staff");
        let r3 = vec![
            rec(1000, "alice", "br0"),
            rec(1001, "@staff", "br0"),
            rec(1000, "@staff", "br0"),
        ];
        assert_eq!(pick(a, &r3, "br0"), None);
        // records on another bridge do not count
        assert_eq!(used(&r3, "alice", "br1"), 0);
        // a count of 0 allows nothing
        let z = lookup("alice veth br0 0\n", "alice", &[], "br0").unwrap();
        assert_eq!(pick(&z.allots, &[], "br0"), None);
    }
}
