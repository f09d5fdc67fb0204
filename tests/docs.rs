//! Issue 16: man pages and shell completions generated from the CLI, and read-only commands
//! that say nothing about config keys hako ignores.

mod common;

use common::*;
use std::path::Path;
use std::process::Command;

/// The verbs `hako --help` lists (its "Commands:" section).
fn verbs() -> Vec<String> {
    let o = Run::new(HAKO).args(["--help"]).run();
    o.assert_ok();
    let mut in_cmds = false;
    let mut v = Vec::new();
    for l in o.stdout.lines() {
        if l.starts_with("Commands:") {
            in_cmds = true;
            continue;
        }
        if in_cmds {
            if !l.starts_with("  ") {
                break;
            }
            v.push(l.split_whitespace().next().unwrap().to_string());
        }
    }
    assert!(v.len() > 20, "too few verbs in hako --help:\n{}", o.stdout);
    v
}

fn man_l(page: &Path) -> String {
    let o = Command::new("man")
        .args(["-l", "-P", "cat"])
        .arg(page)
        .env("MANWIDTH", "100")
        .output()
        .expect("man (package man-db) must be installed");
    assert!(o.status.success(), "man -l {} failed", page.display());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !err.contains("warning") && !err.contains("error"),
        "man -l {}: {err}",
        page.display()
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn man_pages_render_and_list_every_verb() {
    let dir = tempfile::tempdir().unwrap();
    let man = dir.path().join("man");
    Run::new(HAKO)
        .args(["__generate".as_ref(), "man".as_ref(), man.as_os_str()])
        .run()
        .assert_ok();
    let top = man_l(&man.join("hako.1"));
    for v in verbs() {
        assert!(
            top.contains(&format!("hako-{v}(1)")),
            "hako(1) does not list {v}:\n{top}"
        );
        let page = man_l(&man.join(format!("hako-{v}.1")));
        assert!(page.contains("NAME"), "hako-{v}(1):\n{page}");
        assert!(page.contains(&format!("hako-{v}")), "hako-{v}(1):\n{page}");
    }
    // the verb groups: a page per group and per group verb
    let net = man_l(&man.join("hako-network.1"));
    for v in ["create", "ls", "show", "up", "down", "rm", "leases"] {
        assert!(net.contains(&format!("hako-network-{v}(1)")), "{net}");
        assert!(man.join(format!("hako-network-{v}.1")).exists());
    }
    let start = man_l(&man.join("hako-start.1"));
    assert!(start.contains("--foreground"), "{start}");
    let conf = man_l(&man.join("hako.conf.5"));
    assert!(conf.contains("lxc.rootfs.path"), "{conf}");
    assert!(conf.contains("lxc.console.rotate"), "{conf}");
    // bad use of the generator: a clear error, exit 1
    Run::new(HAKO)
        .args(["__generate", "manual", "/tmp"])
        .run()
        .assert_fails_with(1, "usage: hako __generate man DIR");
}

/// Runs bash's completion function for `words` (the last one being completed) and returns
/// the candidates.
fn bash_complete(script: &Path, func: &str, words: &[&str]) -> Vec<String> {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let line = words.join(" ");
    let prog = format!(
        "source '{}'\nCOMP_WORDS=({})\nCOMP_CWORD={}\nCOMP_LINE='{line}'\nCOMP_POINT={}\nCOMP_TYPE=9\n{func} '{}' '{}' '{}'\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        script.display(),
        quoted.join(" "),
        words.len() - 1,
        line.len(),
        words[0],
        words[words.len() - 1],
        words[words.len().saturating_sub(2)],
    );
    let o = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &prog])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| l.trim_end().to_string())
        .collect()
}

#[test]
fn bash_completes_verbs_flags_and_container_names() {
    let Some(env) = TestEnv::new("compl") else {
        return;
    };
    let n = env.busybox();
    let comp = env.path("completions");
    Run::new(HAKO)
        .args([
            "__generate".as_ref(),
            "completions".as_ref(),
            comp.as_os_str(),
            HAKO.as_ref(),
        ])
        .run()
        .assert_ok();
    for f in [
        "bash/hako",
        "zsh/_hako",
        "fish/hako.fish",
        "bash/lxc-info",
        "zsh/_lxc-attach",
        "fish/lxc-start.fish",
    ] {
        let text = std::fs::read_to_string(comp.join(f)).unwrap();
        assert!(text.contains(HAKO), "{f} does not call {HAKO}:\n{text}");
    }
    let lp = env.lxcpath.to_str().unwrap();
    let bash = comp.join("bash/hako");
    let c = bash_complete(&bash, "_clap_complete_hako", &["hako", "sta"]);
    assert_eq!(c, ["start"], "verb");
    let c = bash_complete(&bash, "_clap_complete_hako", &["hako", "start", "--fore"]);
    assert_eq!(c, ["--foreground"], "flag");
    let prefix = &n[..n.len() - 2];
    let c = bash_complete(
        &bash,
        "_clap_complete_hako",
        &["hako", "-P", lp, "start", prefix],
    );
    assert_eq!(c, vec![n.as_str()], "container name");
    let c = bash_complete(
        &bash,
        "_clap_complete_hako",
        &["hako", "-P", lp, "info", "-n", prefix],
    );
    assert_eq!(c, vec![n.as_str()], "container name after -n");
    // a name that is no container's: nothing
    let c = bash_complete(
        &bash,
        "_clap_complete_hako",
        &["hako", "-P", lp, "start", "zz-none"],
    );
    assert!(c.is_empty(), "{c:?}");
    // the lxc face: its own flags and the same names
    let lxc = comp.join("bash/lxc-info");
    let c = bash_complete(&lxc, "_clap_complete_lxc_info", &["lxc-info", "--na"]);
    assert_eq!(c, ["--name"], "lxc-info flag");
    let c = bash_complete(
        &lxc,
        "_clap_complete_lxc_info",
        &["lxc-info", "-P", lp, "-n", prefix],
    );
    assert_eq!(c, vec![n.as_str()], "lxc-info container name");
}

#[test]
fn read_only_commands_are_quiet_about_ignored_keys() {
    let Some(env) = TestEnv::new("quiet") else {
        return;
    };
    let name = env.name();
    let f = env.write("ignored.conf", "lxc.console.rotate = 1\n");
    // create says it, once
    let o = env.hako(&["create", &name, "-t", "busybox", "-f", f.to_str().unwrap()]);
    o.assert_ok();
    assert_eq!(
        o.stderr
            .matches("\"lxc.console.rotate\" is not supported by hako yet")
            .count(),
        1,
        "create:\n{}",
        o.stderr
    );
    // checkconfig says it; -q silences it
    env.hako(&["checkconfig", &name])
        .assert_ok()
        .assert_stderr_contains("lxc.console.rotate");
    let o = env.hako(&["-q", "checkconfig", &name]);
    o.assert_ok();
    assert_eq!(o.stderr, "", "checkconfig -q");
    // read-only commands: nothing on stderr, in both faces
    let quiet = |o: Out, what: &str| {
        o.assert_ok();
        assert_eq!(o.stderr, "", "{what} printed on stderr");
    };
    quiet(env.hako(&["info", &name]), "info");
    quiet(env.hako(&["ls", "--fancy"]), "ls --fancy");
    quiet(
        env.hako(&["wait", &name, "-s", "STOPPED", "-t", "1"]),
        "wait",
    );
    let lp = env.lxcpath.to_str().unwrap();
    quiet(env.lxc("lxc-info", &["-P", lp, "-n", &name]), "lxc-info");
    quiet(env.lxc("lxc-ls", &["-P", lp, "-f"]), "lxc-ls -f");
    // start says it once
    let o = env.hako(&["start", &name]);
    o.assert_ok();
    assert_eq!(
        o.stderr.matches("lxc.console.rotate").count(),
        1,
        "start:\n{}",
        o.stderr
    );
    quiet(env.hako(&["info", &name]), "info (running)");
    quiet(env.hako(&["attach", &name, "--", "/bin/true"]), "attach");
    quiet(
        env.lxc("lxc-attach", &["-P", lp, "-n", &name, "--", "/bin/true"]),
        "lxc-attach",
    );
    // -l INFO shows it everywhere
    env.hako(&["-l", "INFO", "info", &name])
        .assert_ok()
        .assert_stderr_contains("\"lxc.console.rotate\" is not supported by hako yet");
    env.hako(&["stop", &name, "-k"]).assert_ok();
}
