use super::*;
use crate::{EnvPolicy, State};
use std::time::Duration;

mod network;

fn p(args: &[&str]) -> Parsed {
    let v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    parse(&v)
}
fn ok(args: &[&str]) -> Invocation {
    match p(args) {
        Ok(i) => i,
        Err(e) => panic!("{args:?}: {e:?}"),
    }
}
fn err(args: &[&str]) -> EarlyExit {
    match p(args) {
        Ok(i) => panic!("{args:?} parsed: {i:?}"),
        Err(e) => e,
    }
}

#[test]
fn cli_definition_is_consistent() {
    use clap::CommandFactory;
    Cli::command().debug_assert();
}

#[test]
fn name_positional_or_dash_n() {
    let Action::Start { name, .. } = ok(&["start", "web"]).action else {
        panic!()
    };
    assert_eq!(name, "web");
    let Action::Start { name, .. } = ok(&["start", "-n", "web"]).action else {
        panic!()
    };
    assert_eq!(name, "web");
    let Action::Start { name, .. } = ok(&["start", "web", "-n", "web"]).action else {
        panic!()
    };
    assert_eq!(name, "web");
    let e = err(&["start", "a", "-n", "b"]);
    assert_eq!(e.code, 2);
    assert!(
        e.stderr.starts_with("hako: two container names"),
        "{}",
        e.stderr
    );
    let e = err(&["stop"]);
    assert_eq!(e.code, 2);
    assert!(e.stderr.contains("hako stop NAME"), "{}", e.stderr);
}

#[test]
fn globals_before_or_after_the_verb() {
    let i = ok(&[
        "-P", "/tmp/p", "-l", "DEBUG", "info", "web", "-o", "/tmp/log", "-q",
    ]);
    assert_eq!(i.face, Face::Hako);
    assert_eq!(
        i.globals,
        Globals {
            lxcpath: Some("/tmp/p".into()),
            log_level: Some(LogLevel::Debug),
            log_file: Some("/tmp/log".into()),
            quiet: true
        }
    );
    let i = ok(&["ls", "--lxcpath", "/x", "--log-level", "notice"]);
    assert_eq!(i.globals.lxcpath, Some("/x".into()));
    assert_eq!(i.globals.log_level, Some(LogLevel::Notice));
    let e = err(&["-l", "LOUD", "ls"]);
    assert_eq!(e.code, 2);
    assert!(e.stderr.contains("invalid log level \"LOUD\""));
}

#[test]
fn help_version_and_clap_errors() {
    let e = err(&["--help"]);
    assert_eq!(e.code, 0);
    assert!(e.stdout.contains("compat-links"));
    let e = err(&["--version"]);
    assert_eq!(e.code, 0);
    assert_eq!(
        e.stdout.trim(),
        format!("hako {}", env!("CARGO_PKG_VERSION"))
    );
    let e = err(&["frobnicate"]);
    assert_eq!(e.code, 2);
    assert!(!e.stderr.is_empty());
    let e = err(&["info", "web", "--bogus"]);
    assert_eq!(e.code, 2);
    assert!(matches!(ok(&["version"]).action, Action::Version));
}

#[test]
fn create() {
    let i = ok(&[
        "create", "web", "-t", "debian", "-f", "/c", "-B", "dir", "--", "-r", "bookworm",
    ]);
    let Action::Create { name, opts } = i.action else {
        panic!()
    };
    assert_eq!(name, "web");
    assert_eq!(opts.template.as_deref(), Some("debian"));
    assert_eq!(opts.template_args, vec!["-r", "bookworm"]);
    assert_eq!(opts.config_file, Some(PathBuf::from("/c")));
    assert_eq!(opts.backing.as_deref(), Some("dir"));
    let Action::Create { opts, .. } =
        ok(&["-q", "create", "-n", "x", "--template", "busybox"]).action
    else {
        panic!()
    };
    assert!(opts.quiet && opts.template_args.is_empty());
    assert!(err(&["create", "web"]).stderr.contains("-t busybox"));
}

#[test]
fn create_privileged_or_unprivileged() {
    use hako_store::IdMapping;
    let ids = |args: &[&str]| {
        let Action::Create { opts, .. } = ok(args).action else {
            panic!()
        };
        opts.ids
    };
    assert_eq!(
        ids(&["create", "web", "-t", "busybox", "--unprivileged"]),
        IdMapping::OwnRange
    );
    assert_eq!(
        ids(&["create", "web", "-t", "busybox", "--privileged"]),
        IdMapping::Privileged
    );
    let default = if hako_store::UNPRIVILEGED_BY_DEFAULT {
        IdMapping::OwnRange
    } else {
        IdMapping::AsConfigured
    };
    assert_eq!(ids(&["create", "web", "-t", "busybox"]), default);
    let e = err(&[
        "create",
        "web",
        "-t",
        "busybox",
        "--privileged",
        "--unprivileged",
    ]);
    assert_eq!(e.code, 2);
    assert!(e.stderr.contains("--privileged"), "{}", e.stderr);
}

#[test]
fn destroy() {
    let Action::Destroy { name, force, .. } = ok(&["destroy", "web", "--force"]).action else {
        panic!()
    };
    assert_eq!((name.as_str(), force), ("web", true));
    let Action::Destroy { snapshots, .. } = ok(&["destroy", "web", "-s"]).action else {
        panic!()
    };
    assert!(snapshots);
}

#[test]
fn copy_snapshot_image() {
    use crate::storage::{ImageRequest, SnapshotRequest};
    let Action::Copy { opts } = ok(&["copy", "web", "web2", "-s", "-B", "overlay"]).action else {
        panic!()
    };
    assert_eq!(
        (opts.src.as_str(), opts.new.as_deref()),
        ("web", Some("web2"))
    );
    assert!(opts.snapshot && !opts.ephemeral);
    assert_eq!(opts.backing.as_deref(), Some("overlay"));
    let Action::Copy { opts } = ok(&["copy", "-n", "web", "-N", "x", "-K", "-M"]).action else {
        panic!()
    };
    assert_eq!(opts.new.as_deref(), Some("x"));
    assert!(opts.keep_name && opts.keep_mac);
    let Action::Copy { opts } = ok(&["copy", "web", "-e", "-F"]).action else {
        panic!()
    };
    assert!(opts.ephemeral && opts.foreground && opts.new.is_none());
    assert!(err(&["copy", "web"])
        .stderr
        .contains("no name for the copy"));
    assert!(err(&["copy", "web", "a", "-N", "b"])
        .stderr
        .contains("two new names"));
    assert_eq!(err(&["copy", "web", "x", "-D"]).code, 2, "-D needs -e");

    let snap = |a: &[&str]| match ok(a).action {
        Action::Snapshot { name, req, .. } => (name, req),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        snap(&["snapshot", "web"]),
        ("web".into(), SnapshotRequest::Create { comment_file: None })
    );
    assert_eq!(
        snap(&["snapshot", "web", "-L", "-C"]).1,
        SnapshotRequest::List { comments: true }
    );
    assert_eq!(
        snap(&["snapshot", "web", "-r", "snap0", "-N", "new"]).1,
        SnapshotRequest::Restore {
            snap: "snap0".into(),
            new: Some("new".into())
        }
    );
    assert_eq!(
        snap(&["snapshot", "-n", "web", "-d", "snap1"]).1,
        SnapshotRequest::Destroy {
            snap: "snap1".into()
        }
    );
    assert_eq!(err(&["snapshot", "web", "-L", "-d", "snap0"]).code, 2);
    assert_eq!(err(&["snapshot", "web", "-N", "x"]).code, 2, "-N needs -r");

    let Action::Image { req, format } = ok(&["image", "ls", "--format", "json"]).action else {
        panic!()
    };
    assert_eq!((req, format), (ImageRequest::Ls, Format::Json));
    let Action::Image { req, .. } = ok(&["image", "rm", "debian/bookworm-amd64"]).action else {
        panic!()
    };
    assert_eq!(
        req,
        ImageRequest::Rm {
            name: "debian/bookworm-amd64".into()
        }
    );
    assert!(!ok(&["image", "ls"]).action.needs_root());
    assert!(ok(&["image", "rm", "x"]).action.needs_root());
    assert!(!ok(&["snapshot", "web", "-L"]).action.needs_root());
    assert!(ok(&["snapshot", "web"]).action.needs_root());
}

#[test]
fn start() {
    let i = ok(&[
        "start",
        "web",
        "-F",
        "-s",
        "lxc.uts.name=x",
        "--define",
        "k=v",
        "-p",
        "/pid",
        "-L",
        "/log",
        "-c",
        "/con",
        "-C",
        "-f",
        "/rc",
        "--",
        "/bin/sh",
        "-c",
        "true",
    ]);
    let Action::Start { opts, .. } = i.action else {
        panic!()
    };
    assert!(opts.foreground && opts.close_all_fds);
    assert_eq!(
        opts.overrides,
        vec![
            ("lxc.uts.name".into(), "x".into()),
            ("k".into(), "v".into())
        ]
    );
    assert_eq!(opts.pidfile, Some(PathBuf::from("/pid")));
    assert_eq!(opts.console_log, Some(PathBuf::from("/log")));
    assert_eq!(opts.console_file, Some(PathBuf::from("/con")));
    assert_eq!(opts.config_file, Some(PathBuf::from("/rc")));
    assert_eq!(opts.command, vec!["/bin/sh", "-c", "true"]);
    let Action::Start { opts, .. } = ok(&["start", "web", "-F", "-d"]).action else {
        panic!()
    };
    assert!(!opts.foreground);
    let Action::Start { opts, .. } = ok(&["start", "web"]).action else {
        panic!()
    };
    assert!(!opts.foreground && opts.command.is_empty());
}

#[test]
fn stop() {
    let Action::Stop { opts, extras, .. } = ok(&["stop", "web", "-t", "-1"]).action else {
        panic!()
    };
    assert_eq!(opts.timeout, Some(-1));
    assert!(!opts.kill && !extras.nokill);
    let Action::Stop { opts, .. } = ok(&["stop", "web", "-k"]).action else {
        panic!()
    };
    assert!(opts.kill);
    let Action::Stop { opts, extras, .. } = ok(&["stop", "web", "-r", "-W", "--nokill"]).action
    else {
        panic!()
    };
    assert!(opts.reboot && opts.nowait && extras.nokill);
    assert!(err(&["stop", "web", "-k", "--nokill"])
        .stderr
        .contains("--nokill"));
    assert!(err(&["stop", "web", "-k", "-t", "3"])
        .stderr
        .contains("no -t timeout"));
    assert!(err(&["stop", "web", "-t", "-5"])
        .stderr
        .contains("invalid timeout"));
}

#[test]
fn attach() {
    let i = ok(&[
        "attach",
        "web",
        "-e",
        "--clear-env",
        "-v",
        "A=1",
        "--keep-var",
        "TERM",
        "-u",
        "0",
        "-g",
        "0",
        "--",
        "ls",
        "-la",
    ]);
    let Action::Attach { name, opts } = i.action else {
        panic!()
    };
    assert_eq!(name, "web");
    assert_eq!(opts.env_policy, EnvPolicy::Clear);
    assert_eq!(opts.set_env, vec![("A".into(), "1".into())]);
    assert_eq!(opts.keep_vars, vec!["TERM"]);
    assert_eq!((opts.uid, opts.gid), (Some(0), Some(0)));
    assert_eq!(opts.command, vec!["ls", "-la"]);
    let Action::Attach { opts, .. } = ok(&["attach", "web", "--elevated-privileges=CAP"]).action
    else {
        panic!()
    };
    assert_eq!(opts.env_policy, EnvPolicy::Keep);
    assert!(opts.command.is_empty());
    let Action::Attach { opts, .. } = ok(&["attach", "web", "--clear-env", "--keep-env"]).action
    else {
        panic!()
    };
    assert_eq!(opts.env_policy, EnvPolicy::Keep);
    let Action::Attach { opts, .. } = ok(&["attach", "web", "-s", "NETWORK"]).action else {
        panic!()
    };
    assert_eq!(opts.namespaces, Some(nix::sched::CloneFlags::CLONE_NEWNET));
    assert!(err(&["attach", "web", "-s", "MOUNT|BOGUS"])
        .stderr
        .contains("invalid namespace \"BOGUS\""));
    assert!(err(&["attach", "web", "-v", "X"])
        .stderr
        .contains("VAR=VALUE"));
}

#[test]
fn execute() {
    let Action::Execute { name, opts } =
        ok(&["execute", "app", "-s", "a=b", "-u", "1", "--", "echo", "hi"]).action
    else {
        panic!()
    };
    assert_eq!(name, "app");
    assert_eq!(opts.overrides, vec![("a".into(), "b".into())]);
    assert_eq!(opts.uid, Some(1));
    assert_eq!(opts.command, vec!["echo", "hi"]);
}

#[test]
fn cgroup_and_config_operands() {
    let Action::Cgroup { name, key, value } = ok(&["cgroup", "web", "devices.list"]).action else {
        panic!()
    };
    assert_eq!(
        (name.as_str(), key.as_str(), value),
        ("web", "devices.list", None)
    );
    let Action::Cgroup { name, key, value } = ok(&["cgroup", "-n", "web", "pids.max", "10"]).action
    else {
        panic!()
    };
    assert_eq!(
        (name.as_str(), key.as_str(), value.as_deref()),
        ("web", "pids.max", Some("10"))
    );
    let Action::Cgroup { name, key, value } = ok(&["cgroup", "web", "pids.max", "10"]).action
    else {
        panic!()
    };
    assert_eq!(
        (name.as_str(), key.as_str(), value.as_deref()),
        ("web", "pids.max", Some("10"))
    );
    assert!(err(&["cgroup", "web"]).stderr.contains("hako cgroup NAME"));
    let Action::ConfigItem { name, key } = ok(&["config", "web", "lxc.uts.name"]).action else {
        panic!()
    };
    assert_eq!((name.as_str(), key.as_str()), ("web", "lxc.uts.name"));
    let Action::ConfigItem { name, key } = ok(&["config", "-n", "web", "lxc.arch"]).action else {
        panic!()
    };
    assert_eq!((name.as_str(), key.as_str()), ("web", "lxc.arch"));
    assert!(p(&["config", "web"]).is_err());
}

#[test]
fn info_ls_format() {
    let Action::Info { req, .. } = ok(&["info", "web", "--format", "json"]).action else {
        panic!()
    };
    assert_eq!(req.format, Format::Json);
    assert!(req.is_full());
    let Action::Info { req, .. } = ok(&["info", "web", "-pH", "-c", "lxc.arch"]).action else {
        panic!()
    };
    assert!(req.pid && !req.humanize && req.keys == vec!["lxc.arch"]);
    let Action::Ls(r) = ok(&["ls", "--format=json", "--running"]).action else {
        panic!()
    };
    assert_eq!(r.format, Format::Json);
    assert!(r.running);
    let Action::Ls(r) = ok(&["ls", "-F", "name,state"]).action else {
        panic!()
    };
    assert_eq!(r.fancy, Some(vec![Column::Name, Column::State]));
    let Action::Ls(r) = ok(&["ls", "-f", "web.*"]).action else {
        panic!()
    };
    assert_eq!(r.fancy, Some(Column::DEFAULT.to_vec()));
    assert_eq!(r.filter.as_deref(), Some("web.*"));
    assert!(p(&["ls", "--format", "yaml"]).is_err());
}

#[test]
fn wait_and_console() {
    let Action::Wait {
        states, timeout, ..
    } = ok(&["wait", "web", "-s", "RUNNING|FROZEN", "-t", "3"]).action
    else {
        panic!()
    };
    assert_eq!(states, vec![State::Running, State::Frozen]);
    assert_eq!(timeout, Some(Duration::from_secs(3)));
    assert!(p(&["wait", "web"]).is_err());
    let Action::Console { tty, escape, .. } = ok(&["console", "web", "-t", "1", "-e", "b"]).action
    else {
        panic!()
    };
    assert_eq!((tty, escape), (1, b'b'));
}

#[test]
fn checkconfig_links_root() {
    assert!(matches!(
        ok(&["checkconfig"]).action,
        Action::CheckConfig { name: None }
    ));
    let Action::CheckConfig { name } = ok(&["checkconfig", "web"]).action else {
        panic!()
    };
    assert_eq!(name.as_deref(), Some("web"));
    let a = ok(&["compat-links", "/usr/local/bin"]).action;
    assert!(!a.needs_root());
    let Action::CompatLinks { dir } = a else {
        panic!()
    };
    assert_eq!(dir, PathBuf::from("/usr/local/bin"));
    for (args, root) in [
        (&["create", "a", "-t", "none"][..], true),
        (&["destroy", "a"][..], true),
        (&["start", "a"][..], true),
        (&["stop", "a"][..], true),
        (&["attach", "a"][..], true),
        (&["execute", "a"][..], true),
        (&["freeze", "a"][..], true),
        (&["unfreeze", "a"][..], true),
        (&["console", "a"][..], true),
        (&["cgroup", "a", "k", "v"][..], true),
        (&["cgroup", "a", "k"][..], false),
        (&["info", "a"][..], false),
        (&["ls"][..], false),
        (&["wait", "a", "-s", "RUNNING"][..], false),
        (&["config", "a", "k"][..], false),
        (&["checkconfig"][..], false),
        (&["version"][..], false),
    ] {
        assert_eq!(ok(args).action.needs_root(), root, "{args:?}");
    }
}

#[test]
fn file_push_pull() {
    let Action::FilePush {
        name,
        local,
        remote,
        opts,
    } = ok(&[
        "file",
        "push",
        "--uid",
        "1000",
        "--gid",
        "100",
        "--mode",
        "0640",
        "/tmp/x",
        "web:/etc/x",
    ])
    .action
    else {
        panic!()
    };
    assert_eq!(
        (name.as_str(), local, remote.as_str()),
        ("web", PathBuf::from("/tmp/x"), "/etc/x")
    );
    assert_eq!(
        (opts.recursive, opts.uid, opts.gid, opts.mode),
        (false, Some(1000), Some(100), Some(0o640))
    );
    let Action::FilePush { opts, remote, .. } =
        ok(&["file", "push", "-r", "/tmp/d", "web:/tmp/"]).action
    else {
        panic!()
    };
    assert!(opts.recursive && opts.uid.is_none() && opts.mode.is_none());
    assert_eq!(remote, "/tmp/");
    let Action::FilePull {
        name,
        remote,
        local,
        opts,
    } = ok(&["file", "pull", "-r", "web:/etc", "/tmp/out"]).action
    else {
        panic!()
    };
    assert_eq!(
        (name.as_str(), remote.as_str(), local, opts.recursive),
        ("web", "/etc", PathBuf::from("/tmp/out"), true)
    );
    // setuid bits and o+w are stripped unless asked
    assert!(!opts.keep_mode);
    let Action::FilePull { opts, .. } =
        ok(&["file", "pull", "--keep-mode", "web:/bin/su", "/tmp/su"]).action
    else {
        panic!()
    };
    assert_eq!(
        opts,
        crate::files::PullOptions {
            recursive: false,
            keep_mode: true
        }
    );
    // LXC's globals anywhere
    let i = ok(&["file", "pull", "web:/a", "b", "-P", "/lp"]);
    assert_eq!(i.globals.lxcpath, Some(PathBuf::from("/lp")));
    assert!(i.action.needs_root());
    assert_eq!(i.action.verb(), "file pull");
    for (args, want) in [
        (
            &["file", "push", "/x", "web"][..],
            "invalid container path \"web\"",
        ),
        (
            &["file", "push", "/x", "web:etc"][..],
            "NAME:/absolute/path",
        ),
        (&["file", "push", "/x", ":/etc"][..], "NAME:/absolute/path"),
        (
            &["file", "pull", "/etc/x", "/tmp"][..],
            "invalid container path",
        ),
        (
            &["file", "push", "--mode", "rw", "/x", "w:/x"][..],
            "invalid mode \"rw\"",
        ),
        (
            &["file", "push", "--mode", "0888", "/x", "w:/x"][..],
            "invalid mode",
        ),
        (
            &["file", "push", "--mode", "17777", "/x", "w:/x"][..],
            "invalid mode",
        ),
        (
            &["file", "push", "--uid", "1x", "/x", "w:/x"][..],
            "invalid uid",
        ),
        (
            &["file", "push", "--gid", "x", "/x", "w:/x"][..],
            "invalid gid",
        ),
    ] {
        let e = err(args);
        assert_eq!(e.code, 2, "{args:?}");
        assert!(e.stderr.contains(want), "{args:?}: {}", e.stderr);
        assert_eq!(e.stderr.lines().count(), 1, "{args:?}: {}", e.stderr);
    }
    assert_eq!(err(&["file"]).code, 2);
    assert_eq!(err(&["file", "push", "/x"]).code, 2);
    assert_eq!(err(&["file", "pull", "w:/x"]).code, 2);
    assert_eq!(err(&["file", "push", "/a", "w:/b", "w:/c"]).code, 2);
    assert_eq!(parse_mode("755"), Ok(0o755));
    assert_eq!(parse_mode("0o4755"), Ok(0o4755));
    assert!(parse_mode("").is_err());
}

#[test]
fn autostart() {
    use crate::autostart::{AutostartAction, AutostartOptions};
    let a = |args: &[&str]| match ok(args).action {
        Action::Autostart(o) => o,
        other => panic!("{other:?}"),
    };
    assert_eq!(a(&["autostart"]), AutostartOptions::default());
    let o = a(&["autostart", "-L", "-a", "-A", "-s", "-t", "30"]);
    assert_eq!(
        o,
        AutostartOptions {
            action: AutostartAction::Shutdown,
            all: true,
            ignore_auto: true,
            groups: vec![],
            list: true,
            timeout: Some(30),
        }
    );
    // -g repeats and accumulates, an empty entry is the NULL group, duplicates dropped
    let o = a(&[
        "autostart",
        "-g",
        "onboot,",
        "--groups",
        "web",
        "-g",
        "onboot",
    ]);
    assert_eq!(o.groups, vec!["onboot", "", "web"]);
    let o = a(&["autostart", "-g", "", "-g", "web"]);
    assert_eq!(o.groups, vec!["", "web"]);
    assert_eq!(a(&["autostart", "-k"]).action, AutostartAction::Kill);
    assert_eq!(
        a(&["autostart", "--reboot"]).action,
        AutostartAction::Reboot
    );
    assert!(a(&["autostart", "--kill", "--list"]).list);
    assert_eq!(a(&["autostart", "-s", "-t", "-1"]).timeout, Some(-1));
    for bad in [
        &["autostart", "-s", "-k"][..],
        &["autostart", "-k", "-r"][..],
        &["autostart", "-s", "-r"][..],
    ] {
        let e = err(bad);
        assert_eq!(e.code, 2);
        assert!(e.stderr.contains("at most one of -s"), "{}", e.stderr);
    }
    assert!(err(&["autostart", "-t", "x"])
        .stderr
        .contains("invalid timeout"));
    assert_eq!(err(&["autostart", "web"]).code, 2);
    // -L only reads; acting needs root
    assert!(!ok(&["autostart", "-L"]).action.needs_root());
    assert!(ok(&["autostart"]).action.needs_root());
    assert!(ok(&["autostart", "-s"]).action.needs_root());
    assert_eq!(ok(&["autostart"]).action.verb(), "autostart");
}
