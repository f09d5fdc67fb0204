//! The allocator on temporary files: subordinate id files, registry, containers.

use super::*;
use std::path::Path;

struct Env {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    ranges: IdRanges,
}

impl Env {
    fn new(subuid: Option<&str>, subgid: Option<&str>) -> Env {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_path_buf();
        if let Some(t) = subuid {
            fs::write(root.join("subuid"), t).unwrap();
        }
        if let Some(t) = subgid {
            fs::write(root.join("subgid"), t).unwrap();
        }
        let ranges = IdRanges::new(
            &root.join("subuid"),
            &root.join("subgid"),
            &root.join("lib/idmaps"),
        );
        Env {
            _tmp: tmp,
            root,
            ranges,
        }
    }

    /// A complete container `name` in `<root>/lp` whose config maps `start` (None: no map).
    fn container(&self, name: &str, start: Option<u64>) -> PathBuf {
        let dir = self.root.join("lp").join(name);
        fs::create_dir_all(&dir).unwrap();
        let mut text = format!("lxc.uts.name = {name}\n");
        if let Some(s) = start {
            for v in idmap_values(s) {
                text.push_str(&format!("lxc.idmap = {v}\n"));
            }
        }
        fs::write(dir.join("config"), text).unwrap();
        dir.join("config")
    }

    /// Allocates for container `name` and writes its config as create does.
    fn create(&self, name: &str) -> Result<u64, StoreError> {
        let config = self.root.join("lp").join(name).join("config");
        fs::create_dir_all(config.parent().unwrap()).unwrap();
        // made half-made first, as create's directory is
        crate::fsutil::mark(config.parent().unwrap(), "create", false).unwrap();
        match self
            .ranges
            .allocate(&config, &format!("container \"{name}\""))
        {
            Ok(s) => {
                self.container(name, Some(s));
                crate::fsutil::unmark(config.parent().unwrap()).unwrap();
                Ok(s)
            }
            Err(e) => {
                fs::remove_dir_all(config.parent().unwrap()).unwrap();
                Err(e)
            }
        }
    }

    fn destroy(&self, name: &str) {
        let dir = self.root.join("lp").join(name);
        fs::remove_dir_all(&dir).unwrap();
        self.ranges.free(&dir.join("config")).unwrap();
    }

    fn read(&self, f: &str) -> String {
        fs::read_to_string(self.root.join(f)).unwrap()
    }

    fn entries(&self) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(self.ranges.registry())
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }
}

const OTHERS: &str = "# users\nalice:100000:65536\n\nbob:165536:65536\n";

#[test]
fn first_use_adds_roots_block_to_both_files_without_touching_other_lines() {
    // no trailing newline: the line goes on a line of its own, every byte before kept
    let gid_text = "alice:100000:65536\n# bob below\nbob:165536:65536";
    let env = Env::new(Some(OTHERS), Some(gid_text));
    let mode_before = fs::metadata(env.root.join("subuid")).unwrap().mode();
    fs::set_permissions(env.root.join("subgid"), fs::Permissions::from_mode(0o640)).unwrap();
    let start = env.create("web").unwrap();
    assert_eq!(
        start, 1_048_576,
        "the first multiple of 65536 at or above 1000000"
    );
    let line = format!("root:1048576:{BLOCK_SIZE}\n");
    assert_eq!(env.read("subuid"), format!("{OTHERS}{line}"));
    assert_eq!(env.read("subgid"), format!("{gid_text}\n{line}"));
    assert_eq!(
        fs::metadata(env.root.join("subuid")).unwrap().mode(),
        mode_before
    );
    assert_eq!(
        fs::metadata(env.root.join("subgid")).unwrap().mode() & 0o7777,
        0o640,
        "the mode of the original is kept"
    );
    // no temporary left next to them
    let names: Vec<String> = fs::read_dir(&env.root)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.contains("hako-tmp")), "{names:?}");
    // the second container uses the block now there, and the files stay as they are
    let s2 = env.create("db").unwrap();
    assert_eq!(s2, 1_048_576 + 65536);
    assert_eq!(env.read("subuid"), format!("{OTHERS}{line}"));
    assert_eq!(env.entries(), vec!["1048576", "1114112"]);
}

#[test]
fn missing_files_are_created_with_roots_block() {
    let env = Env::new(None, None);
    assert_eq!(env.create("web").unwrap(), 1_048_576);
    let line = format!("root:1048576:{BLOCK_SIZE}\n");
    assert_eq!(env.read("subuid"), line);
    assert_eq!(env.read("subgid"), line);
    assert_eq!(
        fs::metadata(env.root.join("subuid")).unwrap().mode() & 0o777,
        0o644
    );
}

#[test]
fn an_existing_root_entry_is_used_and_the_files_left_alone() {
    let text = "alice:100000:65536\nroot:300000:65536\nroot:500000:131072\n";
    let gids = "root:500000:131072\nalice:100000:65536\n";
    let env = Env::new(Some(text), Some(gids));
    // root's first entry in both files that holds a range: 500000, two ranges
    assert_eq!(env.create("a").unwrap(), 500_000);
    assert_eq!(env.create("b").unwrap(), 565_536);
    assert_eq!(env.read("subuid"), text);
    assert_eq!(env.read("subgid"), gids);
    // numeric root
    let env = Env::new(Some("0:700000:65536\n"), Some("0:700000:65536\n"));
    assert_eq!(env.create("a").unwrap(), 700_000);
}

#[test]
fn root_entries_without_a_common_block_are_an_error_naming_the_files() {
    let env = Env::new(Some("root:100000:65536\n"), Some("alice:1:5\n"));
    let e = env.create("web").unwrap_err().to_string();
    assert!(e.contains("container \"web\""), "{e}");
    assert!(
        e.contains(&env.root.join("subuid").display().to_string()),
        "{e}"
    );
    assert!(
        e.contains(&env.root.join("subgid").display().to_string()),
        "{e}"
    );
    assert!(e.contains("root:100000:65536"), "{e}");
    assert!(e.contains("--privileged"), "{e}");
    assert!(env.entries().is_empty());
    // too small
    let env = Env::new(Some("root:100000:1000\n"), Some("root:100000:1000\n"));
    let e = env.create("web").unwrap_err().to_string();
    assert!(e.contains("at least 65536"), "{e}");
    assert_eq!(env.read("subuid"), "root:100000:1000\n");
}

#[test]
fn containers_get_disjoint_ranges_and_a_freed_one_is_reused() {
    let env = Env::new(Some(""), Some(""));
    let a = env.create("a").unwrap();
    let b = env.create("b").unwrap();
    let c = env.create("c").unwrap();
    assert_eq!(b - a, RANGE_SIZE);
    assert_eq!(c - b, RANGE_SIZE);
    env.destroy("b");
    assert_eq!(env.entries().len(), 2);
    assert_eq!(
        env.create("d").unwrap(),
        b,
        "the freed range is handed out again"
    );
    // freeing a container that has no entry (privileged, or from the lxc-* face) is fine
    env.container("priv", None);
    env.destroy("priv");
    assert_eq!(env.entries().len(), 3);
}

#[test]
fn free_without_a_registry_creates_nothing() {
    let env = Env::new(None, None);
    assert_eq!(env.ranges.free(&env.root.join("lp/x/config")).unwrap(), 0);
    assert!(!env.ranges.registry().exists());
    assert!(!env.root.join("lib/idmaps.lock").exists());
}

#[test]
fn stale_entries_are_reused_and_half_made_ones_are_not() {
    let env = Env::new(Some(""), Some(""));
    let a = env.create("a").unwrap();
    let b = env.create("b").unwrap();
    let c = env.create("c").unwrap();
    // a's directory went without a destroy (removed by hand): stale
    fs::remove_dir_all(env.root.join("lp/a")).unwrap();
    // b's config no longer maps its range (made privileged by hand): stale
    env.container("b", None);
    // c is half-made (a copy in progress): in use
    crate::fsutil::mark(&env.root.join("lp/c"), "copy", false).unwrap();
    fs::remove_file(env.root.join("lp/c/config")).unwrap();
    assert_eq!(env.create("d").unwrap(), a);
    assert_eq!(env.create("e").unwrap(), b);
    let f = env.create("f").unwrap();
    assert_eq!(f, c + RANGE_SIZE, "the half-made container keeps its range");
    // a config that maps the range in a line of its own still holds it
    let g = env.create("g").unwrap();
    fs::write(
        env.root.join("lp/g/config"),
        format!("lxc.idmap = u 0 {} 1000\n", g + 5),
    )
    .unwrap();
    assert_eq!(env.create("h").unwrap(), g + RANGE_SIZE);
}

#[test]
fn a_full_block_is_a_clear_error_and_records_nothing() {
    let block = "root:2000000:131072\n";
    let env = Env::new(Some(block), Some(block));
    env.create("a").unwrap();
    env.create("b").unwrap();
    let before = env.entries();
    let e = env.create("c").unwrap_err().to_string();
    assert!(e.contains("container \"c\""), "{e}");
    assert!(e.contains("all 2 ranges of root's block"), "{e}");
    assert!(
        e.contains(&env.root.join("subuid").display().to_string()),
        "{e}"
    );
    assert!(e.contains("\"a\"") && e.contains("\"b\""), "{e}");
    assert!(e.contains("destroy a container"), "{e}");
    assert!(e.contains("enlarge root's entry"), "{e}");
    assert_eq!(env.entries(), before);
    assert!(!env.root.join("lp/c").exists());
}

#[test]
fn garbled_lines_name_file_and_line() {
    for (text, why) in [
        ("alice:100000:65536\nbob:abc:65536\n", "not a number"),
        ("alice:100000:65536\nbob:1:2:3\n", "three fields"),
        ("# c\n\nalice:100000\n", "three fields"),
        ("alice:100000:65536\n:5:5\n", "name is empty"),
        ("alice:100000:65536\nbob:4294967295:2\n", "past 4294967295"),
        ("alice:100000:65536\nbob:5:0\n", "count is 0"),
    ] {
        let env = Env::new(Some("root:2000000:131072\n"), Some(text));
        let e = env.create("web").unwrap_err().to_string();
        let line = if text.starts_with("# c") { 3 } else { 2 };
        let at = format!("{}:{line}:", env.root.join("subgid").display());
        assert!(e.contains(&at), "{text:?}: {e}");
        assert!(e.contains(why), "{text:?}: {e}");
        assert!(e.contains("fix or remove it"), "{e}");
        assert!(env.entries().is_empty());
        assert_eq!(env.read("subgid"), text, "the file is left alone");
    }
    // a FIFO is refused without blocking
    let env = Env::new(None, Some(""));
    nix::unistd::mkfifo(
        &env.root.join("subuid"),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    let e = env.create("web").unwrap_err().to_string();
    assert!(e.contains("FIFO"), "{e}");
}

#[test]
fn a_new_block_avoids_every_other_entry() {
    let p = Path::new("/etc/subuid");
    // alice covers 1048576; bob in the other file covers the next candidate
    let uids = parse_subid("alice:1000000:100000\n", p).unwrap();
    let gids = parse_subid("bob:1100000:200000\n", p).unwrap();
    let RootBlock::Add(b) = root_block(&uids, &gids, p, p).unwrap() else {
        panic!("root has no entry: a block is added")
    };
    assert_eq!(b.start % RANGE_SIZE, 0);
    assert!(b.start >= 1_300_000, "{b:?}");
    assert_eq!(b.start, 1_310_720);
    assert_eq!(b.count, BLOCK_SIZE);
    // entries above don't matter; one inside the block pushes it past it
    let uids = parse_subid("carol:100000000:10\n", p).unwrap();
    let RootBlock::Add(b) = root_block(&uids, &[], p, p).unwrap() else {
        panic!()
    };
    assert_eq!(b.start, 100_007_936, "{b:?}");
    assert!(b.start >= 100_000_010);
    // no room at all
    let uids = parse_subid("all:0:4294967295\n", p).unwrap();
    let e = root_block(&uids, &[], p, p).unwrap_err().to_string();
    assert!(e.contains("no free block"), "{e}");
}

#[test]
fn other_users_overlapping_entries_are_avoided_on_the_files() {
    let env = Env::new(Some("alice:1048576:65536\n"), Some("bob:1200000:10\n"));
    let s = env.create("web").unwrap();
    assert_eq!(s, 1_245_184); // past bob's end 1200010, aligned to 65536
    assert!(env
        .read("subuid")
        .ends_with(&format!("root:1245184:{BLOCK_SIZE}\n")));
}

#[test]
fn allocated_range_only_for_hakos_own_pair() {
    let [u, g] = idmap_values(1_048_576);
    assert_eq!(u, "u 0 1048576 65536");
    assert_eq!(g, "g 0 1048576 65536");
    assert_eq!(allocated_range([u.as_str(), g.as_str()]), Some(1_048_576));
    assert_eq!(allocated_range([g.as_str(), u.as_str()]), Some(1_048_576));
    assert_eq!(allocated_range([]), None);
    assert_eq!(allocated_range([u.as_str()]), None);
    assert_eq!(
        allocated_range(["u 0 100000 65536", "g 0 200000 65536"]),
        None
    );
    assert_eq!(
        allocated_range(["u 0 100000 1000", "g 0 100000 1000"]),
        None
    );
    assert_eq!(
        allocated_range(["u 0 100000 65536", "g 0 100000 65536", "u 0 1 1"]),
        None
    );
    assert!(maps_range(["u 0 100000 65536"], 100000));
    assert!(maps_range(["u 5 165535 1"], 100000));
    assert!(!maps_range(["u 0 165536 65536"], 100000));
    assert!(!maps_range(["garbage"], 100000));
}

/// A non-root user's ranges come from its own entries (uid and gid starts may differ),
/// the files are only read, and a user without entries gets the error naming the file and
/// the usermod command.
#[test]
fn a_user_gets_ranges_from_its_own_entries_and_never_edits_the_files() {
    let uids = "root:1048576:268435456\nalice:100000:131072\nbob:231072:65536\n";
    let gids = "root:1048576:268435456\nbob:100000:65536\nalice:165536:131072\n";
    let mut env = Env::new(Some(uids), Some(gids));
    env.ranges = env.ranges.clone().for_user(user::Owner {
        name: Some("alice".into()),
        uid: 1000,
    });
    let alloc = |env: &Env, name: &str| {
        let config = env.root.join("lp").join(name).join("config");
        fs::create_dir_all(config.parent().unwrap()).unwrap();
        let r = env
            .ranges
            .allocate_idmap(&config, &format!("container \"{name}\""));
        if let Ok(lines) = &r {
            let text: String = lines.iter().map(|v| format!("lxc.idmap = {v}\n")).collect();
            fs::write(&config, text).unwrap();
        } else {
            fs::remove_dir_all(config.parent().unwrap()).unwrap();
        }
        r
    };
    assert_eq!(
        alloc(&env, "a").unwrap(),
        [
            "u 0 100000 65536".to_string(),
            "g 0 165536 65536".to_string()
        ]
    );
    assert_eq!(
        alloc(&env, "b").unwrap(),
        [
            "u 0 165536 65536".to_string(),
            "g 0 231072 65536".to_string()
        ]
    );
    let e = alloc(&env, "c").unwrap_err().to_string();
    assert!(
        e.contains("container \"c\"")
            && e.contains("all 2 ranges")
            && e.contains("user \"alice\"")
            && e.contains("alice:100000:131072")
            && e.contains("destroy a container"),
        "{e}"
    );
    // the files are as they were; the registry is keyed by the uid start
    assert_eq!(env.read("subuid"), uids);
    assert_eq!(env.read("subgid"), gids);
    assert_eq!(env.entries(), vec!["100000", "165536"]);
    env.destroy("a");
    assert_eq!(alloc(&env, "c").unwrap()[0], "u 0 100000 65536");

    // carol has no entry: nothing is added, nothing recorded
    let mut env2 = Env::new(Some(uids), Some(gids));
    env2.ranges = env2.ranges.clone().for_user(user::Owner {
        name: Some("carol".into()),
        uid: 1002,
    });
    let e = alloc(&env2, "x").unwrap_err().to_string();
    assert!(
        e.contains("container \"x\"")
            && e.contains("user \"carol\" (uid 1002)")
            && e.contains("subuid and ")
            && e.contains("usermod --add-subuids 296608-362143 --add-subgids 296608-362143 carol"),
        "{e}"
    );
    assert_eq!(env2.read("subuid"), uids);
    assert_eq!(env2.read("subgid"), gids);
    assert!(env2.entries().is_empty());
}
