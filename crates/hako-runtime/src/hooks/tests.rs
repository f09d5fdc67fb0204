use std::ffi::CString;
use std::time::{Duration, Instant};

use super::spawn::{spawn_wait, Failure};
use super::*;

#[test]
fn environment_per_version() {
    let base = vec![
        CString::new("PATH=/bin").unwrap(),
        CString::new("LXC_NAME=stale").unwrap(),
    ];
    let vars = vec![("LXC_NAME".to_string(), "c1".to_string())];
    let e0 = environment(Some(&base), &vars, 0, HookType::Mount);
    let s0: Vec<_> = e0.iter().map(|c| c.to_str().unwrap().to_string()).collect();
    assert_eq!(s0, ["PATH=/bin", "LXC_NAME=c1", "LXC_HOOK_VERSION=0"]);
    let e1 = environment(Some(&base), &vars, 1, HookType::PreMount);
    let s1: Vec<_> = e1.iter().map(|c| c.to_str().unwrap().to_string()).collect();
    assert_eq!(
        s1,
        [
            "PATH=/bin",
            "LXC_NAME=c1",
            "LXC_HOOK_VERSION=1",
            "LXC_HOOK_TYPE=pre-mount",
            "LXC_HOOK_SECTION=lxc"
        ]
    );
}

fn hook(kind: HookType, argv: &[&str]) -> Hooks {
    Hooks {
        list: vec![Hook {
            kind,
            argv: argv.iter().map(|s| s.to_string()).collect(),
            origin: "/t/config:3".into(),
        }],
        ..Default::default()
    }
}

#[test]
fn a_hook_runs_with_its_arguments_and_fails_with_its_status() {
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("log");
    let env = environment(
        None,
        &[("LXC_NAME".into(), "c1".into())],
        0,
        HookType::Mount,
    );
    let script = format!(
        "echo \"$0 $*\" > {}; echo $LXC_NAME >> {}",
        log.display(),
        log.display()
    );
    let h = hook(HookType::Mount, &["/bin/sh", "-c", &script]);
    run("c1", &h, HookType::Mount, &env, &["x".into()]).unwrap();
    // sh -c SCRIPT ARGS...: $0 is the first argument after the script
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "c1 lxc mount x\nc1\n"
    );
    // a failure names the type, the command, the status and the last output
    let h = hook(
        HookType::Mount,
        &["/bin/sh", "-c", "echo first; echo oops >&2; exit 3"],
    );
    let e = run("c1", &h, HookType::Mount, &env, &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("lxc.hook.mount = /bin/sh -c"), "{e}");
    assert!(
        e.contains("/t/config:3") && e.contains("exit status 3"),
        "{e}"
    );
    assert!(e.contains("first | oops"), "{e}");
    // a program that is not there
    let h = hook(HookType::Mount, &["/nonexistent/hook"]);
    let e = run("c1", &h, HookType::Mount, &env, &[])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("cannot run /nonexistent/hook") && e.contains("no such file"),
        "{e}"
    );
    // a script without #!
    let s = d.path().join("nosheb");
    std::fs::write(&s, "true\n").unwrap();
    std::fs::set_permissions(&s, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let h = hook(HookType::Mount, &[s.to_str().unwrap()]);
    let e = run("c1", &h, HookType::Mount, &env, &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("#!"), "{e}");
}

#[test]
fn a_hook_past_its_time_limit_is_killed_with_its_group() {
    let env = environment(None, &[], 0, HookType::PreStart);
    let argv: Vec<CString> = ["/bin/sh", "-c", "sleep 20 & echo started; sleep 20"]
        .iter()
        .map(|s| CString::new(*s).unwrap())
        .collect();
    let t = Instant::now();
    let r = spawn_wait(
        &CString::new("/bin/sh").unwrap(),
        &argv,
        &env,
        &[],
        "test",
        Some(Duration::from_millis(500)),
    );
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    match r {
        Err(Failure::TimedOut { tail }) => {
            assert_eq!(tail, "started");
        }
        _ => panic!("not a time-out"),
    }
}

#[test]
fn a_hook_that_leaves_a_process_behind_does_not_hold_us() {
    let env = environment(None, &[], 1, HookType::Stop);
    // the background sleep keeps the output pipe open; the hook itself ends at once
    let h = hook(HookType::Stop, &["/bin/sh", "-c", "sleep 3 & echo done"]);
    let t = Instant::now();
    run("c1", &h, HookType::Stop, &env, &[]).unwrap();
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
}
