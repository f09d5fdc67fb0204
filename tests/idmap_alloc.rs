//! Issue 12, parts 2 and 8: id ranges for unprivileged containers on the store side.
//! `create --unprivileged` gives each container a range of its own from root's block in
//! /etc/subuid and /etc/subgid (temporary files here, through HAKO_SUBUID_FILE,
//! HAKO_SUBGID_FILE and HAKO_IDMAP_DIR), `--privileged` none; destroy frees it; info and
//! ls show it. The containers are never started (the runtime's part).

mod common;

use common::*;
use std::fs;
use std::path::PathBuf;

const OTHERS: &str = "# users of this host\nalice:100000:65536\n\nbob:165536:65536\n";

/// The test's subordinate id files and registry.
struct Ids {
    subuid: PathBuf,
    subgid: PathBuf,
    registry: PathBuf,
}

impl Ids {
    fn new(env: &TestEnv, subuid: &str, subgid: &str) -> Ids {
        Ids {
            subuid: env.write("subuid", subuid),
            subgid: env.write("subgid", subgid),
            registry: env.path("lib/idmaps"),
        }
    }

    fn run(&self, r: Run) -> Out {
        r.env("HAKO_SUBUID_FILE", &self.subuid)
            .env("HAKO_SUBGID_FILE", &self.subgid)
            .env("HAKO_IDMAP_DIR", &self.registry)
            .run()
    }

    /// `hako -P LXCPATH ARGS` with the test's files.
    fn hako(&self, env: &TestEnv, args: &[&str]) -> Out {
        self.run(env.run(args))
    }

    /// `lxc-TOOL ARGS` with the test's files.
    fn lxc(&self, env: &TestEnv, tool: &str, args: &[&str]) -> Out {
        self.run(
            Run::new(env.links_dir().join(tool))
                .env("HAKO_SYSCONFDIR", &env.etc)
                .env_remove("HAKO_PATH")
                .args(args),
        )
    }

    /// The registry's entries (range starts), sorted.
    fn entries(&self) -> Vec<u64> {
        let mut v: Vec<u64> = fs::read_dir(&self.registry)
            .map(|rd| {
                rd.flatten()
                    .filter_map(|e| e.file_name().to_str()?.parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }
}

/// The `lxc.idmap` values of a container's config.
fn idmaps(env: &TestEnv, name: &str) -> Vec<String> {
    env.read_config(name)
        .lines()
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| k.trim() == "lxc.idmap")
        .map(|(_, v)| v.trim().to_string())
        .collect()
}

/// The range start of a container with hako's pair of lines (u and g, same start).
fn range_of(env: &TestEnv, name: &str) -> u64 {
    let m = idmaps(env, name);
    assert_eq!(m.len(), 2, "{name}: {m:?}");
    let start: u64 = m[0]
        .strip_prefix("u 0 ")
        .and_then(|r| r.strip_suffix(" 65536"))
        .unwrap_or_else(|| panic!("{m:?}"))
        .parse()
        .unwrap();
    assert_eq!(m[1], format!("g 0 {start} 65536"));
    start
}

#[test]
fn unprivileged_containers_get_ranges_of_their_own() {
    let Some(env) = TestEnv::new("idm") else {
        return;
    };
    let ids = Ids::new(&env, OTHERS, OTHERS);
    let (a, b, p) = (env.name(), env.name(), env.name());
    for n in [&a, &b] {
        ids.hako(&env, &["create", n, "-t", "busybox", "--unprivileged"])
            .assert_ok();
    }
    ids.hako(&env, &["create", &p, "-t", "busybox", "--privileged"])
        .assert_ok();
    // root's block was added to both files, every other byte kept
    let root = "root:1048576:268435456\n";
    assert_eq!(
        fs::read_to_string(&ids.subuid).unwrap(),
        format!("{OTHERS}{root}")
    );
    assert_eq!(
        fs::read_to_string(&ids.subgid).unwrap(),
        format!("{OTHERS}{root}")
    );
    let (ra, rb) = (range_of(&env, &a), range_of(&env, &b));
    assert_eq!(ra, 1_048_576);
    assert!(ra.abs_diff(rb) >= 65536, "disjoint ranges: {ra} {rb}");
    assert!(idmaps(&env, &p).is_empty(), "--privileged maps nothing");
    assert_eq!(ids.entries(), vec![ra, rb]);
    let entry = fs::read_to_string(ids.registry.join(ra.to_string())).unwrap();
    assert!(
        entry.trim_end().ends_with(&format!("/{a}/config")),
        "{entry}"
    );

    // info reads the map from the config: a stopped container shows it
    let o = ids.hako(&env, &["info", &a]);
    o.assert_ok();
    o.assert_stdout_contains("Privileged:     no\n");
    o.assert_stdout_contains(&format!("ID map:         u 0 {ra} 65536, g 0 {ra} 65536\n"));
    let o = ids.hako(&env, &["info", &p]);
    o.assert_ok();
    o.assert_stdout_contains("Privileged:     yes\n");
    assert!(!o.stdout.contains("ID map"), "{}", o.stdout);
    let j = ids.hako(&env, &["info", &a, "--format", "json"]);
    j.assert_ok();
    let v: serde_json::Value = serde_json::from_str(&j.stdout).unwrap();
    assert_eq!(v["unprivileged"], true);
    assert_eq!(v["privileged"], false);
    assert_eq!(v["id_maps"][0]["kind"], "u");
    assert_eq!(v["id_maps"][0]["host"], ra);
    assert_eq!(v["id_maps"][1]["kind"], "g");
    assert_eq!(v["id_maps"][1]["count"], 65536);

    // ls -f: the UNPRIVILEGED column; --format json: the flag and the maps
    let f = ids.hako(&env, &["ls", "-f"]);
    f.assert_ok();
    let rows: Vec<Vec<String>> = f.stdout.lines().skip(1).map(words).collect();
    let cell = |n: &str| {
        rows.iter()
            .find(|r| r.first().map(String::as_str) == Some(n))
            .and_then(|r| r.last().cloned())
            .unwrap_or_else(|| panic!("no row {n}: {}", f.stdout))
    };
    assert_eq!(cell(&a), "true");
    assert_eq!(cell(&b), "true");
    assert_eq!(cell(&p), "false");
    let j = ids.hako(&env, &["ls", "--format", "json"]);
    j.assert_ok();
    let v: serde_json::Value = serde_json::from_str(&j.stdout).unwrap();
    let row = |n: &str| {
        v.as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == n)
            .unwrap_or_else(|| panic!("no {n} in {}", j.stdout))
            .clone()
    };
    assert_eq!(row(&b)["unprivileged"], true);
    assert_eq!(row(&b)["id_maps"][0]["host"], rb);
    assert_eq!(row(&p)["unprivileged"], false);
    assert_eq!(row(&p)["id_maps"], serde_json::json!([]));

    // destroy frees the range, and the next container gets it
    ids.hako(&env, &["destroy", &a]).assert_ok();
    assert_eq!(ids.entries(), vec![rb]);
    let c = env.name();
    ids.hako(&env, &["create", &c, "-t", "busybox", "--unprivileged"])
        .assert_ok();
    assert_eq!(range_of(&env, &c), ra, "the freed range is reused");

    // a copy of an unprivileged container gets a range of its own; of a privileged one,
    // none; the files are not touched again
    let (d, q) = (env.name(), env.name());
    ids.hako(&env, &["copy", &b, &d]).assert_ok();
    let rd = range_of(&env, &d);
    assert!(rd != rb && rd != ra, "{rd}");
    ids.hako(&env, &["copy", &p, &q]).assert_ok();
    assert!(idmaps(&env, &q).is_empty());
    assert_eq!(ids.entries().len(), 3);
    // a snapshot restored into a new container: a range of its own too
    ids.hako(&env, &["snapshot", &b]).assert_ok();
    let r = env.name();
    ids.hako(&env, &["snapshot", &b, "-r", "snap0", "-N", &r])
        .assert_ok();
    let rr = range_of(&env, &r);
    assert!(![ra, rb, rd].contains(&rr), "{rr}");
    assert_eq!(
        fs::read_to_string(&ids.subuid).unwrap(),
        format!("{OTHERS}{root}")
    );

    // lxc-destroy frees too
    ids.lxc(
        &env,
        "lxc-destroy",
        &["-P", env.lxcpath.to_str().unwrap(), "-n", &d],
    )
    .assert_ok();
    assert!(!ids.entries().contains(&rd));
    ids.hako(&env, &["destroy", &b, "-s"]).assert_ok();
    for n in [&c, &r] {
        ids.hako(&env, &["destroy", n]).assert_ok();
    }
    assert!(ids.entries().is_empty(), "{:?}", ids.entries());
}

#[test]
fn a_full_block_or_a_garbled_file_fails_the_create_and_leaves_nothing() {
    let Some(env) = TestEnv::new("idmf") else {
        return;
    };
    // root's block holds one range
    let block = "alice:100000:65536\nroot:2000000:65536\n";
    let ids = Ids::new(&env, block, block);
    let a = env.name();
    ids.hako(&env, &["create", &a, "-t", "busybox", "--unprivileged"])
        .assert_ok();
    assert_eq!(range_of(&env, &a), 2_000_000);
    let b = env.name();
    let o = ids.hako(&env, &["create", &b, "-t", "busybox", "--unprivileged"]);
    o.assert_code(1);
    o.assert_one_clear_error(&b);
    o.assert_stderr_contains("all 1 ranges of root's block");
    o.assert_stderr_contains(ids.subuid.to_str().unwrap());
    o.assert_stderr_contains(&format!("\"{a}\""));
    o.assert_stderr_contains("destroy a container");
    assert!(!env.lxcpath.join(&b).exists(), "nothing half-made");
    assert_eq!(ids.entries(), vec![2_000_000]);
    // a copy cannot get one either, and leaves nothing
    let o = ids.hako(&env, &["copy", &a, &b]);
    o.assert_code(1);
    o.assert_stderr_contains("all 1 ranges");
    assert!(!env.lxcpath.join(&b).exists());
    assert_eq!(ids.entries(), vec![2_000_000]);
    // --privileged needs no range
    ids.hako(&env, &["create", &b, "-t", "busybox", "--privileged"])
        .assert_ok();
    assert!(idmaps(&env, &b).is_empty());
    ids.hako(&env, &["destroy", &b]).assert_ok();

    // a garbled line: file and line named, the file left alone
    let bad = "alice:100000:65536\nbob:lots:65536\n";
    let ids = Ids::new(&env, bad, bad);
    let c = env.name();
    let o = ids.hako(&env, &["create", &c, "-t", "busybox", "--unprivileged"]);
    o.assert_code(1);
    o.assert_one_clear_error(&c);
    o.assert_stderr_contains(&format!("{}:2:", ids.subuid.display()));
    o.assert_stderr_contains("fix or remove it");
    assert!(!env.lxcpath.join(&c).exists());
    assert_eq!(fs::read_to_string(&ids.subuid).unwrap(), bad);
    assert_eq!(ids.entries(), vec![2_000_000], "nothing recorded for it");

    // root's entries in one file only
    let ids = Ids::new(&env, "root:3000000:65536\n", "alice:100000:65536\n");
    let o = ids.hako(&env, &["create", &c, "-t", "busybox", "--unprivileged"]);
    o.assert_code(1);
    o.assert_stderr_contains(ids.subgid.to_str().unwrap());
    o.assert_stderr_contains("--privileged");
    assert!(!env.lxcpath.join(&c).exists());
}

#[test]
fn the_lxc_face_keeps_lxcs_semantics() {
    let Some(env) = TestEnv::new("idml") else {
        return;
    };
    let ids = Ids::new(&env, OTHERS, OTHERS);
    let lp = env.lxcpath.to_str().unwrap().to_string();
    // no allocation: no lxc.idmap lines, the files and the registry untouched
    let x = env.name();
    ids.lxc(&env, "lxc-create", &["-P", &lp, "-n", &x, "-t", "busybox"])
        .assert_ok();
    assert!(idmaps(&env, &x).is_empty());
    assert_eq!(fs::read_to_string(&ids.subuid).unwrap(), OTHERS);
    assert!(ids.entries().is_empty());
    // a config that maps ids keeps its lines as given
    let f = env.write(
        "map.conf",
        "lxc.idmap = u 0 100000 65536\nlxc.idmap = g 0 100000 65536\n",
    );
    let y = env.name();
    ids.lxc(
        &env,
        "lxc-create",
        &[
            "-P",
            &lp,
            "-n",
            &y,
            "-t",
            "busybox",
            "-f",
            f.to_str().unwrap(),
        ],
    )
    .assert_ok();
    assert_eq!(
        idmaps(&env, &y),
        vec!["u 0 100000 65536", "g 0 100000 65536"]
    );
    // lxc-copy copies them as they are
    let z = env.name();
    ids.lxc(&env, "lxc-copy", &["-P", &lp, "-n", &y, "-N", &z])
        .assert_ok();
    assert_eq!(idmaps(&env, &z), idmaps(&env, &y));
    assert!(ids.entries().is_empty());
    // hako create --unprivileged keeps a map the config gives; --privileged refuses it
    let w = env.name();
    ids.hako(
        &env,
        &[
            "create",
            &w,
            "-t",
            "busybox",
            "--unprivileged",
            "-f",
            f.to_str().unwrap(),
        ],
    )
    .assert_ok();
    assert_eq!(idmaps(&env, &w), idmaps(&env, &y));
    assert!(ids.entries().is_empty());
    let v = env.name();
    let o = ids.hako(
        &env,
        &[
            "create",
            &v,
            "-t",
            "busybox",
            "--privileged",
            "-f",
            f.to_str().unwrap(),
        ],
    );
    o.assert_code(1);
    o.assert_one_clear_error(&v);
    o.assert_stderr_contains("lxc.idmap");
    assert!(!env.lxcpath.join(&v).exists());
    for n in [&x, &y, &z, &w] {
        ids.hako(&env, &["destroy", n]).assert_ok();
    }
}
