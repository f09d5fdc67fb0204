//! The OCI runtime validation suite (github opencontainers/runtime-tools, commit 260e151,
//! the last that builds with Debian 12's Go 1.19) against `hako-oci`: every validation
//! test that runc 1.1.5 passes on this host (31 of 58, see RUNC_PASSES) must pass for
//! hako too, but for the gaps listed in HAKO_GAPS, which must still fail (a gap that
//! passes fails this test: take it off the list). Each failure is printed with its TAP
//! lines; a failing test is run with runc too and runc's result is printed beside it.
//!
//! The suite is built once (offline, from its vendored sources) into
//! /var/cache/hako-test/runtime-tools-260e151 from the tarball at $HAKO_RUNTIME_TOOLS_TARBALL
//! (default /work/shared/third_party/runtime-tools-260e151.tar.gz); it needs `go`
//! (Debian's golang-go) and runc (for the comparison). Without the tarball or Go the test
//! fails, unless HAKO_TESTS_MAY_SKIP_OCI_SUITE=1 says it may skip.
//!
//! How the suite runs a test: `RUNTIME=PATH ./validation/NAME/NAME.t` from the suite's
//! root, as root, printing TAP; hooks tests report a failure only through a YAML block
//! with no test point before it. The runtime's default --root (/run/hako-oci) and the
//! suite's own container ids are used; TMPDIR must be world-readable (0755) for the user
//! namespace tests.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::*;

const COMMIT: &str = "260e151";
const CACHE: &str = "/var/cache/hako-test";
const DEFAULT_TARBALL: &str = "/work/shared/third_party/runtime-tools-260e151.tar.gz";

/// The tests runc 1.1.5 passes on this host (notes/oci.md: identical over 3 runs).
const RUNC_PASSES: [&str; 31] = [
    "config_updates_without_affect",
    "create",
    "default",
    "delete_only_create_resources",
    "delete_resources",
    "hostname",
    "kill",
    "kill_no_effect",
    "killsig",
    "linux_cgroups_cpus",
    "linux_cgroups_pids",
    "linux_cgroups_relative_cpus",
    "linux_cgroups_relative_pids",
    "linux_devices",
    "linux_masked_paths",
    "linux_ns_itype",
    "linux_ns_nopath",
    "linux_ns_path",
    "linux_ns_path_type",
    "linux_readonly_paths",
    "linux_sysctl",
    "linux_uid_mappings",
    "mounts",
    "poststop",
    "prestart_fail",
    "process",
    "process_oom_score_adj",
    "process_rlimits_fail",
    "process_user",
    "root_readonly_true",
    "state",
];

/// What hako-oci does not do yet, with why; each of these still fails.
const HAKO_GAPS: [(&str, &str); 3] = [
    (
        "linux_cgroups_relative_cpus",
        "a relative linux.cgroupsPath is refused (hako-oci places only absolute ones; the suite reads the limits in init's own cgroup, which is one level below the limited one in hako)",
    ),
    (
        "linux_cgroups_relative_pids",
        "the same: a relative linux.cgroupsPath",
    ),
    (
        "linux_ns_itype",
        "a config.json without mount or pid namespaces (the host's): hako always makes new mount and pid namespaces",
    ),
];

/// The suite's root, built (once) in the cache.
fn suite() -> Option<PathBuf> {
    let dir = Path::new(CACHE).join(format!("runtime-tools-{COMMIT}"));
    let stamp = dir.join(".hako-built");
    if stamp.exists() {
        return Some(dir);
    }
    let may_skip = std::env::var("HAKO_TESTS_MAY_SKIP_OCI_SUITE").as_deref() == Ok("1");
    let tarball =
        std::env::var("HAKO_RUNTIME_TOOLS_TARBALL").unwrap_or_else(|_| DEFAULT_TARBALL.to_string());
    let go = Command::new("go").arg("version").output();
    let missing = if !Path::new(&tarball).is_file() {
        Some(format!(
            "the runtime-tools tarball {tarball} is missing; set HAKO_RUNTIME_TOOLS_TARBALL to a tarball of github opencontainers/runtime-tools commit {COMMIT}"
        ))
    } else if !go.is_ok_and(|o| o.status.success()) {
        Some("go is not installed; apt-get install golang-go".to_string())
    } else {
        None
    };
    if let Some(why) = missing {
        if may_skip {
            eprintln!("SKIPPED (HAKO_TESTS_MAY_SKIP_OCI_SUITE=1): {why}");
            return None;
        }
        panic!("the OCI validation suite cannot be built: {why} (or HAKO_TESTS_MAY_SKIP_OCI_SUITE=1 to skip)");
    }
    let tmp = Path::new(CACHE).join(format!("runtime-tools-{COMMIT}.tmp-{}", std::process::id()));
    let _ = fs::remove_dir_all(&tmp);
    fs::create_dir_all(&tmp).unwrap();
    let ok = Command::new("tar")
        .args(["xzf", &tarball, "-C"])
        .arg(&tmp)
        .status()
        .unwrap();
    assert!(ok.success(), "cannot extract {tarball}");
    let gotmp = tmp.join(".go");
    let out = Command::new("make")
        .args(["runtimetest", "validation-executables"])
        .current_dir(&tmp)
        .env("GOFLAGS", "-mod=vendor")
        .env("GOPROXY", "off")
        .env("GOTOOLCHAIN", "local")
        .env("GOCACHE", gotmp.join("cache"))
        .env("GOPATH", gotmp.join("path"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "building runtime-tools failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = Command::new("chmod")
        .args(["-R", "u+w"])
        .arg(&gotmp)
        .status();
    let _ = fs::remove_dir_all(&gotmp);
    fs::write(tmp.join(".hako-built"), "").unwrap();
    // another test run may have finished first: keep its copy
    if fs::rename(&tmp, &dir).is_err() {
        let _ = fs::remove_dir_all(&tmp);
    }
    assert!(stamp.exists());
    Some(dir)
}

/// One test's verdict: None when it passed, else why (its telling lines).
fn judge(tap: &str, ok_exit: bool) -> Option<String> {
    let mut bad = Vec::new();
    let mut prev_point = false;
    let mut in_yaml = false;
    for line in tap.lines() {
        if in_yaml {
            if line.trim_end() == "..." {
                in_yaml = false;
            }
            continue;
        }
        if line.starts_with("not ok") {
            bad.push(line.to_string());
            prev_point = true;
            continue;
        }
        if line.starts_with("ok ") {
            prev_point = true;
            continue;
        }
        if line.trim_end() == "---" {
            in_yaml = true;
            if !prev_point {
                bad.push("a YAML error block with no test point (how hook tests fail)".into());
            }
            continue;
        }
        if line.starts_with("Refer to") {
            continue;
        }
        prev_point = false;
    }
    if !ok_exit {
        bad.push("the test program failed (its exit status)".into());
    }
    if bad.is_empty() {
        None
    } else {
        let tail: Vec<&str> = tap
            .lines()
            .filter(|l| l.contains("level=error") || l.contains("\"error\""))
            .take(3)
            .collect();
        Some(format!("{} | {}", bad.join("; "), tail.join(" | ")))
    }
}

/// Runs one suite test against `runtime`; None: passed.
fn run_one(suite: &Path, tmp: &Path, runtime: &Path, name: &str) -> Option<String> {
    let out = Run::new(suite.join(format!("validation/{name}/{name}.t")))
        .env("RUNTIME", runtime)
        .env("TMPDIR", tmp)
        .timeout(Duration::from_secs(180))
        .command_mut_current_dir(suite)
        .run();
    judge(
        &format!("{}{}", out.stdout, out.stderr),
        out.status.success(),
    )
}

/// What the suite may leave: containers under a runtime's default root, mounts below the
/// TMPDIR (linux_rootfs_propagation leaks some into the host).
/// Only the ids not in `before` (what was there when the test began) are the suite's.
fn clean_up(runtime: &Path, root: &str, tmp: &Path, before: &[String]) {
    for id in ids(root) {
        if !before.contains(&id) {
            let _ = Command::new(runtime)
                .args(["delete", "--force", &id])
                .output();
        }
    }
    let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let t = tmp.to_string_lossy().to_string();
    let mut under: Vec<&str> = mounts
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|m| m.starts_with(&t))
        .collect();
    under.sort_by_key(|m| std::cmp::Reverse(m.len()));
    for m in under {
        let _ = nix::mount::umount2(m, nix::mount::MntFlags::MNT_DETACH);
    }
}

/// The container ids under a runtime root.
fn ids(root: &str) -> Vec<String> {
    fs::read_dir(root)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().to_string())
                .collect()
        })
        .unwrap_or_default()
}

trait RunDir {
    fn command_mut_current_dir(self, dir: &Path) -> Self;
}

impl RunDir for Run {
    fn command_mut_current_dir(mut self, dir: &Path) -> Self {
        self.command_mut().current_dir(dir);
        self
    }
}

#[test]
fn runtime_tools_validation_suite() {
    if !have_root() {
        return;
    }
    let Some(suite) = suite() else { return };
    let env = TestEnv::new("ocival").unwrap();
    let bin = env.dir.join("bin/hako-oci");
    fs::create_dir_all(bin.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(HAKO, &bin).unwrap();
    let tmp = env.dir.join("tmp");
    fs::create_dir_all(&tmp).unwrap();
    // the user namespace tests' container root must reach the bundle
    for d in [&env.dir, &tmp] {
        fs::set_permissions(d, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let runc = ["/usr/sbin/runc", "/usr/bin/runc"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists());
    let (before_hako, before_runc) = (ids("/run/hako-oci"), ids("/run/runc"));
    let mut failed = Vec::new();
    let mut gap_passed = Vec::new();
    let mut report = Vec::new();
    for name in RUNC_PASSES {
        let gap = HAKO_GAPS.iter().find(|(g, _)| *g == name);
        let mut verdict = run_one(&suite, &tmp, &bin, name);
        if verdict.is_some() && gap.is_none() {
            // once more: the suite's own waits are short (5 s) on a loaded host
            clean_up(&bin, "/run/hako-oci", &tmp, &before_hako);
            verdict = run_one(&suite, &tmp, &bin, name);
        }
        clean_up(&bin, "/run/hako-oci", &tmp, &before_hako);
        match (&verdict, gap) {
            (None, None) => report.push(format!("pass  {name}")),
            (None, Some(_)) => {
                report.push(format!(
                    "PASS  {name} (listed as a hako gap: take it off HAKO_GAPS)"
                ));
                gap_passed.push(name);
            }
            (Some(_), Some((_, why))) => report.push(format!("gap   {name}: {why}")),
            (Some(why), None) => {
                let runc_says = match &runc {
                    Some(r) => {
                        let v = run_one(&suite, &tmp, r, name);
                        clean_up(r, "/run/runc", &tmp, &before_runc);
                        match v {
                            None => "runc passes it in this run".to_string(),
                            Some(w) => format!("runc fails it too in this run: {w}"),
                        }
                    }
                    None => "runc is not installed (apt-get install runc) to compare".into(),
                };
                report.push(format!("FAIL  {name}: {why}\n      ({runc_says})"));
                failed.push(name);
            }
        }
    }
    let text = report.join("\n");
    let _ = std::io::Write::write_all(&mut std::io::stderr(), format!("{text}\n").as_bytes());
    let left: Vec<String> = ids("/run/hako-oci")
        .into_iter()
        .filter(|i| !before_hako.contains(i))
        .collect();
    assert!(
        left.is_empty(),
        "containers left under /run/hako-oci: {left:?}"
    );
    assert!(
        failed.is_empty() && gap_passed.is_empty(),
        "runtime-tools against hako-oci: failed {failed:?}, gaps that pass now {gap_passed:?}\n{text}"
    );
}
