//! The OCI face: the binary called as `hako-oci` (or `hako oci ...`) takes runc's command
//! line: global flags, then a command with its flags and arguments. Errors exit 1 (an
//! unknown command 3) as runc's do; the text goes to stderr as a logrus line
//! (`time=... level=error msg=...`), or, with `--log FILE`, to FILE (text or, with
//! `--log-format json`, one JSON object a line, which containerd's shim reads) and as a
//! plain line to stderr. The commands are in [`crate::oci`].

use std::io::Write;
use std::path::PathBuf;

use crate::oci::{self, CreateOpts, Global, OciError};

/// Where errors go.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Log {
    pub file: Option<PathBuf>,
    pub json: bool,
    pub debug: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cmd {
    Create {
        id: String,
        create: CreateArgs,
    },
    Start {
        id: String,
    },
    State {
        id: String,
    },
    Kill {
        id: String,
        signal: String,
        all: bool,
    },
    Delete {
        id: String,
        force: bool,
    },
    Run {
        id: String,
        create: CreateArgs,
        detach: bool,
    },
    List {
        json: bool,
        quiet: bool,
    },
    Spec {
        bundle: Option<PathBuf>,
    },
    Pause {
        id: String,
    },
    Resume {
        id: String,
    },
    Ps {
        id: String,
        json: bool,
        ps_args: Vec<String>,
    },
    Exec {
        id: String,
        exec: oci::more::ExecOpts,
    },
    Events {
        id: String,
        stats: bool,
        interval: std::time::Duration,
    },
    Update {
        id: String,
        update: oci::update::UpdateOpts,
    },
    Features,
    Help,
    Version,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CreateArgs {
    pub bundle: Option<PathBuf>,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invocation {
    pub global: Global,
    pub log: Log,
    pub cmd: Cmd,
}

const USAGE: &str = "usage: hako-oci [--root DIR] [--log FILE] [--log-format text|json] [--systemd-cgroup] [--debug] COMMAND [ARGS]
commands:
  create [--bundle DIR] [--pid-file FILE] [--console-socket SOCK] [--no-pivot] [--no-new-keyring] ID
  start ID
  state ID
  kill [--all] ID [SIGNAL]
  delete [--force] ID
  run [-d] [--bundle DIR] [--pid-file FILE] ID
  list [--format table|json] [-q]
  spec [--bundle DIR]
  pause ID | resume ID
  ps [--format table|json] ID [PS_ARGS]
  exec [--process FILE] [--env K=V] [--cwd DIR] [--user UID[:GID]] [-d [--pid-file FILE]]
       [-t --console-socket SOCK] ID [ARGS]
  events [--stats] [--interval DURATION] ID
  update [-r FILE|-] [--memory N] [--memory-swap N] [--memory-reservation N] [--cpu-share N]
         [--cpu-quota N] [--cpu-period N] [--cpuset-cpus L] [--cpuset-mems L] [--pids-limit N]
         [--blkio-weight N] ID
  features
";

/// A parse failure: the message and runc's exit code.
#[derive(Debug, PartialEq, Eq)]
pub struct Usage {
    pub msg: String,
    pub code: i32,
}

fn usage(msg: impl Into<String>) -> Usage {
    Usage {
        msg: msg.into(),
        code: 1,
    }
}

/// Splits `--flag=value`; takes the value of `--flag value` from `it`.
struct Args<'a> {
    rest: std::iter::Peekable<std::slice::Iter<'a, String>>,
}

impl<'a> Args<'a> {
    fn value(&mut self, flag: &str, inline: Option<&str>) -> Result<String, Usage> {
        if let Some(v) = inline {
            return Ok(v.to_string());
        }
        self.rest
            .next()
            .cloned()
            .ok_or_else(|| usage(format!("flag needs an argument: {flag}")))
    }
}

/// The command's flags (anywhere before `--`) and its positional arguments.
fn command_args(
    name: &str,
    args: &mut Args<'_>,
    mut flag: impl FnMut(&str, Option<&str>, &mut Args<'_>) -> Result<bool, Usage>,
) -> Result<Vec<String>, Usage> {
    let mut pos = Vec::new();
    let mut dashdash = false;
    while let Some(a) = args.rest.next() {
        if dashdash || !a.starts_with('-') || a == "-" {
            pos.push(a.clone());
            continue;
        }
        if a == "--" {
            dashdash = true;
            continue;
        }
        let body = a.trim_start_matches('-');
        let (f, inline) = match body.split_once('=') {
            Some((f, v)) => (f, Some(v)),
            None => (body, None),
        };
        if !flag(f, inline, args)? {
            return Err(usage(format!(
                "flag provided but not defined: -{f} (command {name})"
            )));
        }
    }
    Ok(pos)
}

fn one_id(name: &str, pos: Vec<String>) -> Result<String, Usage> {
    match <[String; 1]>::try_from(pos) {
        Ok([id]) => Ok(id),
        Err(_) => Err(usage(format!(
            "runc: \"{name}\" requires exactly 1 argument(s)"
        ))),
    }
}

fn create_flag(
    c: &mut CreateArgs,
    f: &str,
    inline: Option<&str>,
    args: &mut Args<'_>,
) -> Result<bool, Usage> {
    match f {
        "bundle" | "b" => c.bundle = Some(args.value(f, inline)?.into()),
        "pid-file" => c.pid_file = Some(args.value(f, inline)?.into()),
        "console-socket" => c.console_socket = Some(args.value(f, inline)?.into()),
        "no-pivot" => c.no_pivot = true,
        "no-new-keyring" => c.no_new_keyring = true,
        // only the default is taken: no extra fds passed on
        "preserve-fds" => {
            let v = args.value(f, inline)?;
            if v != "0" {
                return Err(usage(format!(
                    "--preserve-fds {v}: hako-oci passes on no extra fds yet; leave it out"
                )));
            }
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// Parses the arguments after the program name.
pub fn parse(argv: &[String]) -> Result<Invocation, Usage> {
    let mut args = Args {
        rest: argv.iter().peekable(),
    };
    let mut global = Global {
        root: PathBuf::from(oci::DEFAULT_ROOT),
        systemd_cgroup: false,
    };
    let mut log = Log::default();
    // global flags, up to the command
    let cmd = loop {
        let Some(a) = args.rest.next() else {
            return Ok(Invocation {
                global,
                log,
                cmd: Cmd::Help,
            });
        };
        if !a.starts_with('-') {
            break a.clone();
        }
        let body = a.trim_start_matches('-');
        let (f, inline) = match body.split_once('=') {
            Some((f, v)) => (f, Some(v)),
            None => (body, None),
        };
        match f {
            "root" => global.root = PathBuf::from(args.value(f, inline)?),
            "log" => log.file = Some(PathBuf::from(args.value(f, inline)?)),
            "log-format" => match args.value(f, inline)?.as_str() {
                "text" => log.json = false,
                "json" => log.json = true,
                other => {
                    return Err(usage(format!(
                        "unknown log-format \"{other}\"; use text or json"
                    )))
                }
            },
            "systemd-cgroup" => global.systemd_cgroup = true,
            "debug" => log.debug = true,
            // accepted as runc does; hako has no CRIU and decides rootless by itself
            "criu" | "rootless" => {
                args.value(f, inline)?;
            }
            "help" | "h" => {
                return Ok(Invocation {
                    global,
                    log,
                    cmd: Cmd::Help,
                })
            }
            "version" | "v" => {
                return Ok(Invocation {
                    global,
                    log,
                    cmd: Cmd::Version,
                })
            }
            _ => return Err(usage(format!("flag provided but not defined: -{f}"))),
        }
    };
    if !global.root.is_absolute() {
        if let Ok(cwd) = std::env::current_dir() {
            global.root = cwd.join(&global.root);
        }
    }
    let cmd = match cmd.as_str() {
        "create" | "run" => {
            let mut c = CreateArgs::default();
            let mut detach = false;
            let is_run = cmd == "run";
            let pos = command_args(&cmd, &mut args, |f, inline, a| {
                if is_run && matches!(f, "d" | "detach") {
                    detach = true;
                    return Ok(true);
                }
                if is_run && matches!(f, "keep" | "no-subreaper") {
                    return Ok(true);
                }
                create_flag(&mut c, f, inline, a)
            })?;
            let id = one_id(&cmd, pos)?;
            if is_run {
                Cmd::Run {
                    id,
                    create: c,
                    detach,
                }
            } else {
                Cmd::Create { id, create: c }
            }
        }
        "start" | "state" | "pause" | "resume" => {
            let pos = command_args(&cmd, &mut args, |_, _, _| Ok(false))?;
            let id = one_id(&cmd, pos)?;
            match cmd.as_str() {
                "start" => Cmd::Start { id },
                "state" => Cmd::State { id },
                "pause" => Cmd::Pause { id },
                _ => Cmd::Resume { id },
            }
        }
        "ps" => {
            let mut json = false;
            let pos = command_args(&cmd, &mut args, |f, inline, a| match f {
                "format" | "f" => {
                    json = a.value(f, inline)? == "json";
                    Ok(true)
                }
                _ => Ok(false),
            })?;
            let mut pos = pos.into_iter();
            let Some(id) = pos.next() else {
                return Err(usage("runc: \"ps\" requires a minimum of 1 argument(s)"));
            };
            Cmd::Ps {
                id,
                json,
                ps_args: pos.collect(),
            }
        }
        "exec" => {
            let mut e = oci::more::ExecOpts::default();
            // flags up to the id; everything after it is the command
            let mut id = None;
            while let Some(a) = args.rest.next() {
                if !a.starts_with('-') || a == "-" {
                    id = Some(a.clone());
                    break;
                }
                let body = a.trim_start_matches('-');
                let (f, inline) = match body.split_once('=') {
                    Some((f, v)) => (f, Some(v)),
                    None => (body, None),
                };
                match f {
                    "process" | "p" => e.process = Some(args.value(f, inline)?.into()),
                    "env" | "e" => e.env.push(args.value(f, inline)?),
                    "cwd" => e.cwd = Some(args.value(f, inline)?.into()),
                    "user" | "u" => e.user = Some(args.value(f, inline)?),
                    "detach" | "d" => e.detach = true,
                    "pid-file" => e.pid_file = Some(args.value(f, inline)?.into()),
                    "tty" | "t" => e.tty = true,
                    "console-socket" => e.console_socket = Some(args.value(f, inline)?.into()),
                    _ => {
                        return Err(usage(format!(
                            "flag provided but not defined: -{f} (command exec)"
                        )))
                    }
                }
            }
            let Some(id) = id else {
                return Err(usage("runc: \"exec\" requires a minimum of 1 argument(s)"));
            };
            e.args = args.rest.by_ref().cloned().collect();
            if e.args.first().is_some_and(|a| a == "--") {
                e.args.remove(0);
            }
            Cmd::Exec { id, exec: e }
        }
        "events" => {
            let mut stats = false;
            let mut interval = std::time::Duration::from_secs(5);
            let mut bad = None;
            let pos = command_args(&cmd, &mut args, |f, inline, a| match f {
                "stats" => {
                    stats = true;
                    Ok(true)
                }
                "interval" => {
                    let v = a.value(f, inline)?;
                    match oci::events::parse_interval(&v) {
                        Ok(d) => interval = d,
                        Err(e) => bad = Some(e.msg),
                    }
                    Ok(true)
                }
                _ => Ok(false),
            })?;
            if let Some(m) = bad {
                return Err(usage(m));
            }
            Cmd::Events {
                id: one_id(&cmd, pos)?,
                stats,
                interval,
            }
        }
        "update" => {
            let mut u = oci::update::UpdateOpts::default();
            let pos = command_args(&cmd, &mut args, |f, inline, a| match f {
                "resources" | "r" => {
                    u.resources = Some(a.value(f, inline)?.into());
                    Ok(true)
                }
                f if oci::update::is_flag(f) => {
                    let v = a.value(f, inline)?;
                    u.flags.push((f.to_string(), v));
                    Ok(true)
                }
                _ => Ok(false),
            })?;
            Cmd::Update {
                id: one_id(&cmd, pos)?,
                update: u,
            }
        }
        "features" => Cmd::Features,
        "kill" => {
            let mut all = false;
            let pos = command_args(&cmd, &mut args, |f, _, _| {
                Ok(matches!(f, "all" | "a") && {
                    all = true;
                    true
                })
            })?;
            let mut pos = pos.into_iter();
            let (Some(id), signal, None) = (pos.next(), pos.next(), pos.next()) else {
                return Err(usage(
                    "runc: \"kill\" requires a minimum of 1 and a maximum of 2 arguments",
                ));
            };
            Cmd::Kill {
                id,
                signal: signal.unwrap_or_else(|| "SIGTERM".into()),
                all,
            }
        }
        "delete" => {
            let mut force = false;
            let pos = command_args(&cmd, &mut args, |f, _, _| {
                Ok(matches!(f, "force" | "f") && {
                    force = true;
                    true
                })
            })?;
            Cmd::Delete {
                id: one_id(&cmd, pos)?,
                force,
            }
        }
        "list" => {
            let mut json = false;
            let mut quiet = false;
            let pos = command_args(&cmd, &mut args, |f, inline, a| match f {
                "format" | "f" => match a.value(f, inline)?.as_str() {
                    "table" => {
                        json = false;
                        Ok(true)
                    }
                    "json" => {
                        json = true;
                        Ok(true)
                    }
                    other => Err(usage(format!("invalid format option \"{other}\""))),
                },
                "quiet" | "q" => {
                    quiet = true;
                    Ok(true)
                }
                _ => Ok(false),
            })?;
            if !pos.is_empty() {
                return Err(usage("runc: \"list\" requires exactly 0 argument(s)"));
            }
            Cmd::List { json, quiet }
        }
        "spec" => {
            let mut bundle = None;
            let pos = command_args(&cmd, &mut args, |f, inline, a| match f {
                "bundle" | "b" => {
                    bundle = Some(PathBuf::from(a.value(f, inline)?));
                    Ok(true)
                }
                _ => Ok(false),
            })?;
            if !pos.is_empty() {
                return Err(usage("runc: \"spec\" requires exactly 0 argument(s)"));
            }
            Cmd::Spec { bundle }
        }
        "help" => Cmd::Help,
        other => {
            return Err(Usage {
                msg: format!("No help topic for '{other}'"),
                code: 3,
            })
        }
    };
    Ok(Invocation { global, log, cmd })
}

fn rfc3339_seconds() -> String {
    let t = oci_now();
    // 2026-12-07T21:34:22.960330191Z -> 2026-12-07T21:34:22Z
    format!("{}Z", &t[..19])
}

fn oci_now() -> String {
    // the same clock and format as the state's "created"
    crate::oci::now()
}

/// Reports an error as runc does (see the module's text).
pub fn report(log: &Log, msg: &str) {
    let time = rfc3339_seconds();
    let line = if log.json {
        serde_json::json!({"level": "error", "msg": msg, "time": time}).to_string()
    } else {
        format!(
            "time=\"{time}\" level=error msg={}",
            serde_json::Value::String(msg.to_string())
        )
    };
    match &log.file {
        Some(f) => {
            let w = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(f)
                .and_then(|mut h| writeln!(h, "{line}"));
            if let Err(e) = w {
                eprintln!("cannot write the log {}: {e}", f.display());
            }
            eprintln!("{msg}");
        }
        None => eprintln!("{line}"),
    }
}

fn print_list(g: &Global, json: bool, quiet: bool) {
    let all = g.list();
    if quiet {
        for s in &all {
            println!("{}", s.id);
        }
        return;
    }
    if json {
        if all.is_empty() {
            println!("null");
        } else {
            let texts: Vec<String> = all.iter().map(|s| g.state_text(s, false)).collect();
            println!("[{}]", texts.join(","));
        }
        return;
    }
    let mut rows = vec![[
        "ID".to_string(),
        "PID".into(),
        "STATUS".into(),
        "BUNDLE".into(),
        "CREATED".into(),
        "OWNER".into(),
    ]];
    for s in &all {
        let v = g.state_json(s);
        rows.push([
            s.id.clone(),
            v["pid"].to_string(),
            v["status"].as_str().unwrap_or("").to_string(),
            s.bundle.display().to_string(),
            s.created.clone(),
            "root".into(),
        ]);
    }
    let mut widths = [0usize; 6];
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.len());
        }
    }
    for r in &rows {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate() {
            if i == 5 {
                line.push_str(c);
            } else {
                line.push_str(&format!("{c:<w$}", w = (widths[i] + 3).max(12)));
            }
        }
        println!("{}", line.trim_end());
    }
}

fn execute(inv: &Invocation) -> Result<i32, OciError> {
    let g = &inv.global;
    let create_opts = |c: &CreateArgs| CreateOpts {
        bundle: c.bundle.clone(),
        pid_file: c.pid_file.clone(),
        console_socket: c.console_socket.clone(),
        no_new_keyring: c.no_new_keyring,
    };
    match &inv.cmd {
        Cmd::Create { id, create } => oci::create(g, id, &create_opts(create)).map(|_| 0),
        Cmd::Start { id } => oci::start(g, id).map(|_| 0),
        Cmd::State { id } => {
            let st = g.load(id)?;
            println!("{}", g.state_text(&st, true));
            Ok(0)
        }
        Cmd::Kill { id, signal, all } => {
            let sig = oci::parse_signal(signal)?;
            oci::kill(g, id, sig, *all).map(|_| 0)
        }
        Cmd::Delete { id, force } => oci::delete(g, id, *force).map(|_| 0),
        Cmd::Run { id, create, detach } => oci::run(g, id, &create_opts(create), *detach),
        Cmd::List { json, quiet } => {
            print_list(g, *json, *quiet);
            Ok(0)
        }
        Cmd::Spec { bundle } => oci::spec(bundle.as_deref()).map(|_| 0),
        Cmd::Pause { id } => oci::more::pause(g, id).map(|_| 0),
        Cmd::Resume { id } => oci::more::resume(g, id).map(|_| 0),
        Cmd::Ps { id, json, ps_args } => {
            let pids = oci::more::pids(g, id)?;
            if *json {
                println!("{}", oci::more::pids_json(&pids));
            } else {
                print!("{}", oci::more::ps_table(&pids, ps_args)?);
            }
            Ok(0)
        }
        Cmd::Exec { id, exec } => oci::more::exec(g, id, exec),
        Cmd::Events {
            id,
            stats,
            interval,
        } => oci::events::events(g, id, *stats, *interval).map(|_| 0),
        Cmd::Update { id, update } => oci::update::update(g, id, update).map(|_| 0),
        Cmd::Features => {
            println!(
                "{}",
                serde_json::to_string_pretty(&oci::more::features()).unwrap_or_default()
            );
            Ok(0)
        }
        Cmd::Help => {
            print!("{USAGE}");
            Ok(0)
        }
        Cmd::Version => {
            println!(
                "hako-oci version {}\nspec: {}",
                env!("CARGO_PKG_VERSION"),
                oci::OCI_VERSION
            );
            Ok(0)
        }
    }
}

/// The face's entry point: `args` are the arguments after `hako-oci` (or `hako oci`).
pub fn main(args: &[String]) -> i32 {
    let inv = match parse(args) {
        Ok(i) => i,
        Err(u) => {
            report(&Log::default(), &u.msg);
            if u.code == 1 {
                eprint!("{USAGE}");
            }
            return u.code;
        }
    };
    match execute(&inv) {
        Ok(code) => code,
        Err(e) => {
            let what = match &inv.cmd {
                Cmd::Create { .. } => "runc create failed: ",
                Cmd::Run { .. } => "runc run failed: ",
                _ => "",
            };
            report(&inv.log, &format!("{what}{}", e.msg));
            e.code
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(a: &[&str]) -> Result<Invocation, Usage> {
        parse(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn containerd_shim_command_lines() {
        let i = p(&[
            "--root",
            "/run/containerd/runc/k8s.io",
            "--log",
            "/b/log.json",
            "--log-format",
            "json",
            "create",
            "--bundle",
            "/b",
            "--pid-file",
            "/b/init.pid",
            "c1",
        ])
        .unwrap();
        assert_eq!(i.global.root, PathBuf::from("/run/containerd/runc/k8s.io"));
        assert!(i.log.json);
        assert_eq!(i.log.file, Some(PathBuf::from("/b/log.json")));
        let Cmd::Create { id, create } = i.cmd else {
            panic!()
        };
        assert_eq!(id, "c1");
        assert_eq!(create.bundle, Some(PathBuf::from("/b")));
        assert_eq!(create.pid_file, Some(PathBuf::from("/b/init.pid")));
        assert_eq!(
            p(&["kill", "c1", "9"]).unwrap().cmd,
            Cmd::Kill {
                id: "c1".into(),
                signal: "9".into(),
                all: false
            }
        );
        assert_eq!(
            p(&["delete", "--force", "c1"]).unwrap().cmd,
            Cmd::Delete {
                id: "c1".into(),
                force: true
            }
        );
        assert_eq!(
            p(&["--root=/r", "kill", "--all", "c1", "KILL"])
                .unwrap()
                .cmd,
            Cmd::Kill {
                id: "c1".into(),
                signal: "KILL".into(),
                all: true
            }
        );
        let i = p(&["run", "-d", "-b", "/b", "x"]).unwrap();
        assert!(matches!(i.cmd, Cmd::Run { detach: true, .. }));
        assert_eq!(i.global.root, PathBuf::from(oci::DEFAULT_ROOT));
    }

    #[test]
    fn events_update_exec_lines() {
        let i = p(&["events", "--stats", "c1"]).unwrap();
        assert!(matches!(i.cmd, Cmd::Events { stats: true, .. }));
        let i = p(&["events", "--interval", "100ms", "c1"]).unwrap();
        let Cmd::Events { interval, .. } = i.cmd else {
            panic!()
        };
        assert_eq!(interval, std::time::Duration::from_millis(100));
        assert_eq!(
            p(&["events", "--interval", "soon", "c1"]).unwrap_err().code,
            1
        );
        let i = p(&[
            "update",
            "--memory",
            "64m",
            "--pids-limit=10",
            "-r",
            "/r.json",
            "c1",
        ])
        .unwrap();
        let Cmd::Update { id, update } = i.cmd else {
            panic!()
        };
        assert_eq!(id, "c1");
        assert_eq!(update.resources, Some(PathBuf::from("/r.json")));
        assert_eq!(update.flags.len(), 2);
        assert_eq!(p(&["update", "--bogus", "1", "c1"]).unwrap_err().code, 1);
        let i = p(&[
            "exec",
            "--process",
            "/p.json",
            "--detach",
            "--pid-file",
            "/x.pid",
            "-t",
            "--console-socket",
            "/s",
            "c1",
        ])
        .unwrap();
        let Cmd::Exec { exec, .. } = i.cmd else {
            panic!()
        };
        assert!(exec.tty && exec.detach);
        assert_eq!(exec.console_socket, Some(PathBuf::from("/s")));
    }

    #[test]
    fn usage_errors_as_runc() {
        assert_eq!(p(&["start"]).unwrap_err().code, 1);
        assert_eq!(p(&["start", "a", "b"]).unwrap_err().code, 1);
        assert_eq!(p(&["bogus"]).unwrap_err().code, 3);
        assert_eq!(p(&["create", "--nope", "x"]).unwrap_err().code, 1);
        assert_eq!(p(&["--log-format", "xml", "list"]).unwrap_err().code, 1);
        assert_eq!(
            p(&["list", "--format", "json"]).unwrap().cmd,
            Cmd::List {
                json: true,
                quiet: false
            }
        );
    }
}
