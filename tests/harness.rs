//! The harness's leak check must be able to fail: plant each kind of leak and see it found.

mod common;

use common::*;
use std::fs;
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn leak_check_finds_planted_leaks() {
    let Some(env) = TestEnv::new("harn") else {
        return;
    };
    let n = env.name();
    assert!(
        env.leaks().is_empty(),
        "fresh env already leaks: {:?}",
        env.leaks()
    );

    // a process whose command line mentions the lxcpath
    let mut child = Command::new("/bin/sh")
        .args(["-c", "sleep 30", env.lxcpath.to_str().unwrap()])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    assert!(
        wait_for(Duration::from_secs(2), || env
            .leaks()
            .iter()
            .any(|l| l.contains(&pid))),
        "process leak not found: {:?}",
        env.leaks()
    );
    child.kill().unwrap();
    child.wait().unwrap();

    // a cgroup named hako.payload.NAME
    let cg = std::path::Path::new("/sys/fs/cgroup/pids").join(format!("hako.payload.{n}"));
    if cg.parent().unwrap().join("cgroup.procs").exists() {
        fs::create_dir(&cg).unwrap();
        let found = env.leaks().iter().any(|l| l.contains(cg.to_str().unwrap()));
        fs::remove_dir(&cg).unwrap();
        assert!(found, "cgroup leak not found");
    }

    // a mount below the lxcpath
    let m = env.lxcpath.join("mnt");
    fs::create_dir_all(&m).unwrap();
    nix::mount::mount(
        Some("tmpfs"),
        &m,
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        None::<&str>,
    )
    .unwrap();
    let found = env.leaks().iter().any(|l| l.starts_with("mount:"));
    nix::mount::umount(&m).unwrap();
    fs::remove_dir(&m).unwrap();
    assert!(found, "mount leak not found");

    // a runtime dir /run/hako/<hash>/NAME
    let rt = std::path::Path::new("/run/hako").join(format!("harness-{}", env.token("h")));
    fs::create_dir_all(rt.join(&n)).unwrap();
    let found = env.leaks().iter().any(|l| l.contains("runtime dir"));
    fs::remove_dir_all(&rt).unwrap();
    assert!(found, "runtime dir leak not found");

    assert!(
        env.leaks().is_empty(),
        "cleanup of the planted leaks: {:?}",
        env.leaks()
    );
}

#[test]
fn drop_fails_the_test_on_a_leak_and_scrubs_it() {
    let Some(env) = TestEnv::new("harnd") else {
        return;
    };
    let n = env.name();
    let pids = std::path::Path::new("/sys/fs/cgroup/pids");
    let root = if pids.join("cgroup.procs").exists() {
        pids.to_path_buf()
    } else {
        std::path::PathBuf::from("/sys/fs/cgroup")
    };
    let planted = root.join(format!("hako.payload.{n}"));
    fs::create_dir(&planted).unwrap();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(env)));
    let err = r.expect_err("dropping an env with a planted cgroup leak did not fail");
    let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        msg.contains("LEAK CHECK FAILED") && msg.contains(planted.to_str().unwrap()),
        "leak report: {msg}"
    );
    assert!(
        !planted.exists(),
        "the leak check did not scrub the planted cgroup"
    );
}
