use super::*;
use crate::{EnvPolicy, State};
use std::time::Duration;

fn p(tool: Tool, args: &[&str]) -> Parsed {
    let v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    parse(tool, &v)
}
fn ok(tool: Tool, args: &[&str]) -> Invocation {
    match p(tool, args) {
        Ok(i) => i,
        Err(e) => panic!("{args:?}: {e:?}"),
    }
}
fn err(tool: Tool, args: &[&str]) -> EarlyExit {
    match p(tool, args) {
        Ok(i) => panic!("{args:?} parsed: {i:?}"),
        Err(e) => e,
    }
}

#[test]
fn common_options_and_name() {
    let i = ok(
        Tool::Info,
        &[
            "-n",
            "web",
            "-P",
            "/tmp/lxc/",
            "-l",
            "debug",
            "-o",
            "/tmp/log",
            "-q",
        ],
    );
    assert_eq!(i.face, Face::Lxc(Tool::Info));
    assert_eq!(i.globals.lxcpath, Some(PathBuf::from("/tmp/lxc")));
    assert_eq!(i.globals.log_level, Some(LogLevel::Debug));
    assert_eq!(i.globals.log_file, Some(PathBuf::from("/tmp/log")));
    assert!(i.globals.quiet);
    let Action::Info { name, req } = i.action else {
        panic!()
    };
    assert_eq!(name, "web");
    assert!(req.is_full());
    // positional name, long forms
    let i = ok(Tool::Info, &["web", "--lxcpath=/x", "--state"]);
    let Action::Info { name, req } = i.action else {
        panic!()
    };
    assert_eq!(name, "web");
    assert!(req.state && !req.pid);
    assert_eq!(i.globals.lxcpath, Some(PathBuf::from("/x")));
    // -o none = no log file
    assert_eq!(
        ok(Tool::Freeze, &["-n", "a", "-o", "none"])
            .globals
            .log_file,
        None
    );
}

#[test]
fn usage_errors_exit_1_with_tool_prefix() {
    let e = err(Tool::Info, &[]);
    assert_eq!(e.code, 1);
    assert_eq!(e.stderr, "lxc-info: No container name specified\n");
    let e = err(Tool::Info, &["-n", "web", "--bogus"]);
    assert_eq!(e.code, 1);
    assert!(
        e.stderr
            .starts_with("lxc-info: unrecognized option '--bogus'"),
        "{}",
        e.stderr
    );
    let e = err(Tool::Start, &["-n", "web", "-l", "LOUD"]);
    assert_eq!(e.code, 1);
    assert!(e.stderr.contains("invalid log priority \"LOUD\""));
    let e = err(Tool::Freeze, &["web", "extra"]);
    assert_eq!(e.code, 1);
    let e = err(Tool::Stop, &["web", "--rcfile", "/x"]);
    assert!(
        e.stderr.contains("--rcfile is not supported"),
        "{}",
        e.stderr
    );
}

#[test]
fn help_usage_version() {
    let e = err(Tool::Info, &["-h"]);
    assert_eq!(e.code, 0);
    assert!(e.stderr.starts_with("Usage: lxc-info --name=NAME"));
    assert!(e.stderr.contains("-H, --no-humanize"));
    assert!(
        e.stderr.contains("Options :\n  -n, --name=NAME"),
        "{}",
        e.stderr
    );
    assert!(e.stderr.contains("-P, --lxcpath=PATH"));
    let e = err(Tool::Info, &["-?"]);
    assert_eq!(e.code, 1);
    let e = err(Tool::Stop, &["--usage"]);
    assert_eq!(e.code, 0);
    assert!(e.stderr.contains("[-k|--kill]") && e.stderr.contains("[--nokill]"));
    let e = err(Tool::Ls, &["--version"]);
    assert_eq!(e.code, 0);
    assert!(e.stdout.starts_with("5.0.2-hako"));
    // help wins even when the name is missing
    assert_eq!(err(Tool::Attach, &["--help"]).code, 0);
}

#[test]
fn create() {
    let i = ok(
        Tool::Create,
        &[
            "-n",
            "web",
            "-t",
            "debian",
            "-f",
            "/etc/lxc/x.conf",
            "-B",
            "dir",
            "--",
            "-r",
            "bookworm",
        ],
    );
    let Action::Create { name, opts } = i.action else {
        panic!()
    };
    assert_eq!(name, "web");
    assert_eq!(opts.template.as_deref(), Some("debian"));
    assert_eq!(opts.template_args, vec!["-r", "bookworm"]);
    assert_eq!(opts.config_file, Some(PathBuf::from("/etc/lxc/x.conf")));
    assert_eq!(opts.backing.as_deref(), Some("dir"));
    assert!(!opts.quiet);
    // LXC's semantics: no id range of hako's, the config's lines as given
    assert_eq!(opts.ids, hako_store::IdMapping::AsConfigured);
    let i = ok(Tool::Create, &["web", "-q", "--template=none"]);
    let Action::Create { opts, .. } = i.action else {
        panic!()
    };
    assert_eq!(opts.template.as_deref(), Some("none"));
    assert!(opts.quiet);
    let e = err(Tool::Create, &["-n", "web"]);
    assert!(e.stderr.contains("A template must be specified"));
    assert_eq!(e.code, 1);
    assert!(err(
        Tool::Create,
        &["-n", "web", "-t", "busybox", "--vgname", "vg"]
    )
    .stderr
    .contains("not supported"));
}

#[test]
fn destroy() {
    let Action::Destroy { name, force, .. } = ok(Tool::Destroy, &["-n", "web", "-f"]).action else {
        panic!()
    };
    assert_eq!(name, "web");
    assert!(force);
    let Action::Destroy { force, .. } = ok(Tool::Destroy, &["web"]).action else {
        panic!()
    };
    assert!(!force);
    let Action::Destroy { snapshots, .. } = ok(Tool::Destroy, &["-n", "web", "-s"]).action else {
        panic!()
    };
    assert!(snapshots);
}

#[test]
fn copy_and_snapshot() {
    use crate::storage::SnapshotRequest;
    let Action::Copy { opts } = ok(
        Tool::Copy,
        &["-n", "web", "-N", "web2", "-s", "-B", "overlay"],
    )
    .action
    else {
        panic!()
    };
    assert_eq!(
        (opts.src.as_str(), opts.new.as_deref()),
        ("web", Some("web2"))
    );
    assert!(opts.snapshot);
    assert_eq!(opts.backing.as_deref(), Some("overlay"));
    let Action::Copy { opts } = ok(Tool::Copy, &["-n", "web", "-e", "-D", "-F"]).action else {
        panic!()
    };
    assert!(opts.ephemeral && opts.keep_data && opts.foreground && opts.new.is_none());
    assert!(err(Tool::Copy, &["-n", "web"])
        .stderr
        .contains("-N NEWNAME"));
    assert!(err(Tool::Copy, &["-n", "web", "-N", "x", "-a"])
        .stderr
        .contains("-a/--allowrunning is not supported"));
    assert!(err(Tool::Copy, &["-n", "web", "-N", "x", "-D"])
        .stderr
        .contains("-D goes only with -e"));
    let req = |a: &[&str]| match ok(Tool::Snapshot, a).action {
        Action::Snapshot { req, .. } => req,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        req(&["-n", "web"]),
        SnapshotRequest::Create { comment_file: None }
    );
    assert_eq!(
        req(&["-n", "web", "-c", "/tmp/c"]),
        SnapshotRequest::Create {
            comment_file: Some(PathBuf::from("/tmp/c"))
        }
    );
    assert_eq!(
        req(&["-n", "web", "-L", "-C"]),
        SnapshotRequest::List { comments: true }
    );
    assert_eq!(
        req(&["-n", "web", "-r", "snap0"]),
        SnapshotRequest::Restore {
            snap: "snap0".into(),
            new: None
        }
    );
    assert_eq!(
        req(&["web", "-d", "ALL"]),
        SnapshotRequest::Destroy { snap: "ALL".into() }
    );
    assert_eq!(err(Tool::Snapshot, &["-n", "web", "-L", "-r", "s"]).code, 1);
    assert!(err(Tool::Snapshot, &["-n", "web", "-N", "x"])
        .stderr
        .contains("-N goes only with -r"));
}

#[test]
fn start() {
    let i = ok(
        Tool::Start,
        &[
            "-n",
            "web",
            "-F",
            "-f",
            "/c",
            "-s",
            "lxc.uts.name=x",
            "--define",
            "a = b",
            "-c",
            "/con",
            "-L",
            "/log",
            "-p",
            "/pid",
            "-C",
            "--",
            "/bin/sh",
            "-c",
            "x",
        ],
    );
    let Action::Start { name, opts } = i.action else {
        panic!()
    };
    assert_eq!(name, "web");
    assert!(opts.foreground);
    assert_eq!(opts.config_file, Some(PathBuf::from("/c")));
    assert_eq!(
        opts.overrides,
        vec![
            ("lxc.uts.name".into(), "x".into()),
            ("a".into(), "b".into())
        ]
    );
    assert_eq!(opts.console_file, Some(PathBuf::from("/con")));
    assert_eq!(opts.console_log, Some(PathBuf::from("/log")));
    assert_eq!(opts.pidfile, Some(PathBuf::from("/pid")));
    assert!(opts.close_all_fds);
    assert_eq!(opts.command, vec!["/bin/sh", "-c", "x"]);
    // -d is the default, and the last of -d/-F wins
    let Action::Start { opts, .. } = ok(Tool::Start, &["web"]).action else {
        panic!()
    };
    assert!(!opts.foreground && opts.command.is_empty());
    let Action::Start { opts, .. } = ok(Tool::Start, &["web", "-F", "-d"]).action else {
        panic!()
    };
    assert!(!opts.foreground);
    assert!(err(Tool::Start, &["web", "-s", "novalue"])
        .stderr
        .contains("expected KEY=VALUE"));
    assert!(err(Tool::Start, &["web", "--share-net=other"])
        .stderr
        .contains("not supported"));
}

#[test]
fn stop() {
    let Action::Stop { name, opts, extras } = ok(Tool::Stop, &["-n", "web"]).action else {
        panic!()
    };
    assert_eq!(name, "web");
    assert_eq!(
        (
            opts.timeout,
            opts.kill,
            opts.reboot,
            opts.nowait,
            extras.nokill
        ),
        (None, false, false, false, false)
    );
    let Action::Stop { opts, .. } = ok(Tool::Stop, &["web", "-k"]).action else {
        panic!()
    };
    assert!(opts.kill);
    let Action::Stop { opts, .. } = ok(Tool::Stop, &["web", "-t", "-1"]).action else {
        panic!()
    };
    assert_eq!(opts.timeout, Some(-1));
    let Action::Stop { opts, .. } = ok(Tool::Stop, &["web", "-rW"]).action else {
        panic!()
    };
    assert!(opts.reboot && opts.nowait);
    let Action::Stop { extras, .. } = ok(Tool::Stop, &["web", "--nokill", "-t", "5"]).action else {
        panic!()
    };
    assert!(extras.nokill);
    assert!(ok(Tool::Stop, &["web", "-k", "--nolock"])
        .action
        .needs_root());
    assert!(err(Tool::Stop, &["web", "-k", "--nokill"])
        .stderr
        .contains("-k can't be used with --nokill"));
    assert!(err(Tool::Stop, &["web", "-k", "-r"])
        .stderr
        .contains("-k can't be used with -r"));
    assert!(err(Tool::Stop, &["web", "-k", "-t", "5"])
        .stderr
        .contains("-k doesn't allow timeouts"));
    assert!(err(Tool::Stop, &["web", "--nolock"])
        .stderr
        .contains("--nolock may only be used with -k"));
    assert!(err(Tool::Stop, &["web", "-t", "x"])
        .stderr
        .contains("invalid timeout"));
}

#[test]
fn attach() {
    let i = ok(
        Tool::Attach,
        &[
            "-n",
            "web",
            "-e",
            "--clear-env",
            "-v",
            "A=1",
            "--set-var=B=2",
            "--keep-var",
            "TERM",
            "-u",
            "1000",
            "-g",
            "100",
            "-R",
            "-a",
            std::env::consts::ARCH,
            "--",
            "ls",
            "-l",
        ],
    );
    let Action::Attach { name, opts } = i.action else {
        panic!()
    };
    assert_eq!(name, "web");
    assert_eq!(opts.env_policy, EnvPolicy::Clear);
    assert_eq!(
        opts.set_env,
        vec![("A".into(), "1".into()), ("B".into(), "2".into())]
    );
    assert_eq!(opts.keep_vars, vec!["TERM"]);
    assert_eq!((opts.uid, opts.gid), (Some(1000), Some(100)));
    assert_eq!(opts.command, vec!["ls", "-l"]);
    // defaults: keep env, empty command (facade picks the shell)
    let Action::Attach { opts, .. } = ok(Tool::Attach, &["web"]).action else {
        panic!()
    };
    assert_eq!(opts.env_policy, EnvPolicy::Keep);
    assert!(opts.command.is_empty() && opts.uid.is_none());
    let Action::Attach { opts, .. } =
        ok(Tool::Attach, &["web", "--clear-env", "--keep-env"]).action
    else {
        panic!()
    };
    assert_eq!(opts.env_policy, EnvPolicy::Keep);
    assert!(ok(Tool::Attach, &["web", "-eCAP|CGROUP"])
        .action
        .needs_root());
    assert!(err(Tool::Attach, &["web", "-eROOT"])
        .stderr
        .contains("invalid elevated privilege"));
    let Action::Attach { opts, .. } = ok(
        Tool::Attach,
        &["web", "-s", "NETWORK|utsname", "-R", "-L", "/log", "-eCAP"],
    )
    .action
    else {
        panic!()
    };
    assert_eq!(
        opts.namespaces,
        Some(nix::sched::CloneFlags::CLONE_NEWNET | nix::sched::CloneFlags::CLONE_NEWUTS)
    );
    assert!(opts.remount_sys_proc);
    assert_eq!(opts.pty_log.as_deref(), Some(std::path::Path::new("/log")));
    assert!(opts.elevated.cap && !opts.elevated.cgroup && !opts.elevated.lsm);
    assert!(err(Tool::Attach, &["web", "-s", "NET"])
        .stderr
        .contains("invalid namespace \"NET\""));
    assert!(err(Tool::Attach, &["web", "-c", "u:r:t:s0"])
        .stderr
        .contains("SELinux"));
    assert!(err(Tool::Attach, &["web", "-a", "no-such-arch"])
        .stderr
        .contains("architecture"));
    assert!(err(Tool::Attach, &["web", "-v", "NOVALUE"])
        .stderr
        .contains("VAR=VALUE"));
    assert!(err(Tool::Attach, &["web", "-u", "root"])
        .stderr
        .contains("invalid uid"));
}

#[test]
fn execute() {
    let i = ok(
        Tool::Execute,
        &[
            "-n", "app", "-f", "/c", "-s", "k=v", "-u", "5", "--", "sleep", "1",
        ],
    );
    let Action::Execute { name, opts } = i.action else {
        panic!()
    };
    assert_eq!(name, "app");
    assert_eq!(opts.config_file, Some(PathBuf::from("/c")));
    assert_eq!(opts.overrides, vec![("k".into(), "v".into())]);
    assert_eq!((opts.uid, opts.gid), (Some(5), None));
    assert_eq!(opts.command, vec!["sleep", "1"]);
    assert!(err(Tool::Execute, &["app", "-d", "--", "x"])
        .stderr
        .contains("not supported"));
}

#[test]
fn cgroup() {
    let Action::Cgroup { name, key, value } =
        ok(Tool::Cgroup, &["-n", "web", "memory.limit_in_bytes"]).action
    else {
        panic!()
    };
    assert_eq!(
        (name.as_str(), key.as_str(), value),
        ("web", "memory.limit_in_bytes", None)
    );
    let a = ok(Tool::Cgroup, &["web", "pids.max", "100"]).action;
    assert!(a.needs_root());
    let Action::Cgroup { name, key, value } = a else {
        panic!()
    };
    assert_eq!(
        (name.as_str(), key.as_str(), value.as_deref()),
        ("web", "pids.max", Some("100"))
    );
    assert!(err(Tool::Cgroup, &["-n", "web"])
        .stderr
        .contains("Missing state object"));
    assert!(err(Tool::Cgroup, &["web", "a", "b", "c"])
        .stderr
        .contains("unexpected argument"));
}

#[test]
fn info_flags() {
    let Action::Info { req, .. } = ok(Tool::Info, &["web", "-sH"]).action else {
        panic!()
    };
    assert!(req.state && !req.humanize);
    assert_eq!(req.filter_count(), 1);
    let Action::Info { req, .. } = ok(
        Tool::Info,
        &[
            "web",
            "-S",
            "-p",
            "-i",
            "-c",
            "lxc.uts.name",
            "--config=lxc.arch",
        ],
    )
    .action
    else {
        panic!()
    };
    assert!(req.stats && req.pid && req.ips && !req.state);
    assert_eq!(req.keys, vec!["lxc.uts.name", "lxc.arch"]);
    assert_eq!(req.filter_count(), 7);
    assert!(!req.is_full());
}

#[test]
fn ls() {
    let Action::Ls(r) = ok(Tool::Ls, &[]).action else {
        panic!()
    };
    assert_eq!(r, LsRequest::default());
    let Action::Ls(r) = ok(
        Tool::Ls,
        &["-f", "--running", "-g", "a, b", "--filter", "^w"],
    )
    .action
    else {
        panic!()
    };
    assert_eq!(r.fancy, Some(Column::DEFAULT.to_vec()));
    assert!(r.running && !r.stopped);
    assert_eq!(r.groups, vec!["a", "b"]);
    assert_eq!(r.filter.as_deref(), Some("^w"));
    let Action::Ls(r) = ok(
        Tool::Ls,
        &[
            "-1",
            "--stopped",
            "--frozen",
            "--active",
            "--defined",
            "we.*",
        ],
    )
    .action
    else {
        panic!()
    };
    assert!(r.one_per_line && r.stopped && r.frozen && r.active && r.defined);
    assert_eq!(r.filter.as_deref(), Some("we.*"));
    let Action::Ls(r) = ok(Tool::Ls, &["-f", "-F", "name,PID,ram"]).action else {
        panic!()
    };
    assert_eq!(r.fancy, Some(vec![Column::Name, Column::Pid, Column::Ram]));
    // as in LXC, -F without -f prints names
    let Action::Ls(r) = ok(Tool::Ls, &["-F", "name"]).action else {
        panic!()
    };
    assert_eq!(r.fancy, None);
    assert!(err(Tool::Ls, &["-f", "-F", "name,bogus"])
        .stderr
        .contains("invalid column \"bogus\""));
    assert!(err(Tool::Ls, &["--nesting"])
        .stderr
        .contains("not supported"));
}

#[test]
fn wait() {
    let Action::Wait {
        name,
        states,
        timeout,
    } = ok(
        Tool::Wait,
        &["-n", "web", "-s", "RUNNING|FROZEN", "-t", "10"],
    )
    .action
    else {
        panic!()
    };
    assert_eq!(name, "web");
    assert_eq!(states, vec![State::Running, State::Frozen]);
    assert_eq!(timeout, Some(Duration::from_secs(10)));
    let Action::Wait { timeout, .. } = ok(Tool::Wait, &["web", "--state=STOPPED"]).action else {
        panic!()
    };
    assert_eq!(timeout, None);
    assert!(err(Tool::Wait, &["web"])
        .stderr
        .contains("missing state option"));
    let e = err(Tool::Wait, &["web", "-s", "BOGUS"]);
    assert_eq!(e.code, 1);
    assert!(e.stderr.contains("invalid state \"BOGUS\""));
}

#[test]
fn console() {
    let Action::Console { name, tty, escape } = ok(Tool::Console, &["-n", "web"]).action else {
        panic!()
    };
    assert_eq!((name.as_str(), tty, escape), ("web", 0, b'a'));
    let Action::Console { tty, escape, .. } =
        ok(Tool::Console, &["web", "-t", "2", "-e", "^b"]).action
    else {
        panic!()
    };
    assert_eq!((tty, escape), (2, b'b'));
    assert!(err(Tool::Console, &["web", "-e", "^"])
        .stderr
        .contains("invalid escape prefix"));
    assert!(err(Tool::Console, &["web", "-t", "-1"])
        .stderr
        .contains("invalid tty number"));
}

#[test]
fn config_and_checkconfig() {
    assert!(matches!(
        ok(Tool::Config, &["-l"]).action,
        Action::SystemConfig(SystemConfigRequest::List)
    ));
    let Action::SystemConfig(SystemConfigRequest::Item(i)) =
        ok(Tool::Config, &["lxc.lxcpath"]).action
    else {
        panic!()
    };
    assert_eq!(i, "lxc.lxcpath");
    let e = err(Tool::Config, &[]);
    assert_eq!(e.code, 0);
    assert!(e.stdout.starts_with("Usage: lxc-config"));
    assert!(matches!(
        ok(Tool::Checkconfig, &["--whatever"]).action,
        Action::CheckConfig { name: None }
    ));
}

#[test]
fn autostart() {
    use crate::autostart::{AutostartAction, AutostartOptions};
    let a = |args: &[&str]| {
        let i = ok(Tool::Autostart, args);
        assert_eq!(i.face, Face::Lxc(Tool::Autostart));
        match i.action {
            Action::Autostart(o) => (o, i.globals),
            other => panic!("{other:?}"),
        }
    };
    let (o, g) = a(&[]);
    assert_eq!(o, AutostartOptions::default());
    assert_eq!(g, Globals::default());
    let (o, g) = a(&["-LaAk", "-P", "/lp", "-q", "-l", "info", "-o", "/log"]);
    assert_eq!(
        o,
        AutostartOptions {
            action: AutostartAction::Kill,
            all: true,
            ignore_auto: true,
            groups: vec![],
            list: true,
            timeout: None,
        }
    );
    assert_eq!(g.lxcpath, Some(PathBuf::from("/lp")));
    assert!(g.quiet && g.log_file == Some(PathBuf::from("/log")));
    let (o, _) = a(&[
        "--shutdown",
        "--timeout=20",
        "--groups",
        "onboot,",
        "-gweb",
        "--all",
    ]);
    assert_eq!(o.action, AutostartAction::Shutdown);
    assert_eq!(o.timeout, Some(20));
    assert_eq!(o.groups, vec!["onboot", "", "web"]);
    assert!(o.all);
    let (o, _) = a(&[
        "-g",
        "",
        "-g",
        "dns,web,,onboot",
        "--reboot",
        "--list",
        "--ignore-auto",
    ]);
    assert_eq!(o.groups, vec!["", "dns", "web", "onboot"]);
    assert_eq!(o.action, AutostartAction::Reboot);
    assert!(o.list && o.ignore_auto && !o.all);
    for (args, want) in [
        (&["-s", "-k"][..], "at most one of -s"),
        (&["-r", "-k"][..], "at most one of -s"),
        (&["-n", "web"][..], "drop -n"),
        (&["web"][..], "unexpected argument \"web\""),
        (&["-t", "soon"][..], "invalid timeout"),
        (&["-g"][..], "requires an argument"),
        (&["--bogus"][..], "unrecognized option"),
        (&["--rcfile", "/x"][..], "--rcfile is not supported"),
    ] {
        let e = err(Tool::Autostart, args);
        assert_eq!(e.code, 1, "{args:?}");
        assert!(
            e.stderr.starts_with("lxc-autostart: ") && e.stderr.contains(want),
            "{args:?}: {}",
            e.stderr
        );
    }
    let h = err(Tool::Autostart, &["-h"]);
    assert_eq!(h.code, 0);
    assert!(h.stderr.starts_with("Usage: lxc-autostart [-k] [-L]"));
    assert!(h.stderr.contains("-A, --ignore-auto"));
    let u = err(Tool::Autostart, &["--usage"]);
    assert!(u.stderr.contains("[-g|--groups=GROUPS]"), "{}", u.stderr);
}

#[test]
fn usernsexec_options_like_lxcs() {
    use crate::usernsexec::IdMapLine;
    let Action::Usernsexec(o) = ok(
        Tool::Usernsexec,
        &[
            "-m",
            "u:0:100000:65536",
            "-mg:0:100000:65536",
            "-s",
            "--",
            "id",
            "-u",
        ],
    )
    .action
    else {
        panic!()
    };
    assert!(o.map_self);
    assert_eq!(o.command, vec!["id", "-u"]);
    assert_eq!(
        o.maps,
        vec![
            IdMapLine {
                uid: true,
                ns: 0,
                host: 100000,
                count: 65536
            },
            IdMapLine {
                uid: false,
                ns: 0,
                host: 100000,
                count: 65536
            },
        ]
    );
    // no options, no command: LXC's defaults (a shell, the subuid ranges)
    let Action::Usernsexec(o) = ok(Tool::Usernsexec, &[]).action else {
        panic!()
    };
    assert_eq!(o, crate::usernsexec::UsernsexecOptions::default());
    // options end at the first word that is not one
    let Action::Usernsexec(o) = ok(Tool::Usernsexec, &["ls", "-l"]).action else {
        panic!()
    };
    assert_eq!(o.command, vec!["ls", "-l"]);
    let e = err(Tool::Usernsexec, &["-m", "b:0:1"]);
    assert_eq!(e.code, 1);
    assert!(e.stderr.starts_with("lxc-usernsexec: invalid map"), "{e:?}");
    assert!(err(Tool::Usernsexec, &["-m"])
        .stderr
        .contains("-m needs a map"));
    assert!(err(Tool::Usernsexec, &["-x"])
        .stderr
        .contains("unknown option \"-x\""));
    let h = err(Tool::Usernsexec, &["-h"]);
    assert_eq!(h.code, 0);
    assert!(h.stdout.starts_with("usage: lxc-usernsexec"));
    assert!(!ok(Tool::Usernsexec, &[]).action.needs_root());
}

#[test]
fn lxc_device_syntax() {
    use crate::device::{DeviceOp, DeviceRequest};
    let i = ok(Tool::Device, &["-n", "web", "add", "eth1", "lan0"]);
    let Action::Device { name, req } = i.action else {
        panic!("not a device action: {:?}", i.action)
    };
    assert_eq!(name, "web");
    assert_eq!(
        req,
        DeviceRequest {
            op: DeviceOp::Add {
                src: "eth1".into(),
                dest: Some("lan0".into()),
                readonly: false
            },
            persist: false
        }
    );
    let i = ok(Tool::Device, &["-n", "web", "del", "/dev/video0"]);
    let Action::Device { req, .. } = i.action else {
        panic!("not a device action: {:?}", i.action)
    };
    assert_eq!(
        req,
        DeviceRequest {
            op: DeviceOp::Remove {
                dev: "/dev/video0".into(),
                host_name: None
            },
            persist: false
        }
    );
    for (args, msg) in [
        (&["-n", "web"][..], "no command given"),
        (&["-n", "web", "add"][..], "no command given"),
        (
            &["-n", "web", "attach", "eth1"][..],
            "Please use add or del",
        ),
        (
            &["-n", "web", "add", "a", "b", "c"][..],
            "unexpected argument \"c\"",
        ),
        (&["web", "add"][..], "no command given"),
    ] {
        let e = err(Tool::Device, args);
        assert_eq!(e.code, 1, "{args:?}");
        assert!(e.stderr.contains(msg), "{args:?}: {}", e.stderr);
    }
}
