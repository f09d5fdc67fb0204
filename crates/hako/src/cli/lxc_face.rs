//! The `lxc-*` face: invoked through a link named `lxc-start` etc., hako takes that LXC 5
//! tool's flags (GNU getopt rules, see getopt.rs), its defaults and its exit codes.

use std::path::PathBuf;

use super::action::*;
use super::getopt::{self, HasArg, Matches, Opt};
use super::values;
use crate::{AttachOptions, CreateOptions, EnvPolicy, ExecuteOptions, StartOptions, StopOptions};

/// The LXC release whose tools this face reproduces.
pub const LXC_COMPAT_VERSION: &str = "5.0.2";

/// What `lxc-TOOL --version` prints: LXC's version (scripts compare it) tagged with ours.
pub fn version_string() -> String {
    format!("{LXC_COMPAT_VERSION}-hako{}", env!("CARGO_PKG_VERSION"))
}

const COMMON: &[Opt] = &[
    Opt::value('n', "name", "name"),
    Opt::flag('h', "help", "help"),
    Opt::short_flag('?', "help?"),
    Opt::long_flag("usage", "usage"),
    Opt::long_flag("version", "version"),
    Opt::flag('q', "quiet", "quiet"),
    Opt::value('o', "logfile", "logfile"),
    Opt::value('l', "logpriority", "logpriority"),
    Opt::value('P', "lxcpath", "lxcpath"),
    Opt::long_value("rcfile", "rcfile"),
];

const COMMON_HELP: &str = "\
Common options :
  -o, --logfile=FILE               write the log to FILE instead of stderr
  -l, --logpriority=LEVEL          log level: TRACE, DEBUG, INFO, NOTICE, WARN,
                                   ERROR, CRIT, ALERT or FATAL
  -q, --quiet                      print no log output
  -P, --lxcpath=PATH               containers live in PATH (default /var/lib/lxc)
  -?, --help                       show this help
      --usage                      show a short usage line
      --version                    show the version
";

struct Spec {
    tool: Tool,
    /// after "Usage: lxc-xxx "
    synopsis: &'static str,
    summary: &'static str,
    opts: &'static [Opt],
    /// the tool's own option lines
    help: &'static str,
}

const SHARE_NS: [Opt; 4] = [
    Opt::long_value("share-net", "share"),
    Opt::long_value("share-ipc", "share"),
    Opt::long_value("share-uts", "share"),
    Opt::long_value("share-pid", "share"),
];

fn spec(tool: Tool) -> Spec {
    match tool {
        Tool::Create => Spec {
            tool,
            synopsis: "--name=NAME --template=TEMPLATE [OPTION...] [-- template-options]",
            summary: "lxc-create makes a new container NAME from a template",
            opts: const { &[
                Opt::value('B', "bdev", "bdev"),
                Opt::value('f', "config", "config"),
                Opt::value('t', "template", "template"),
                Opt::long_value("lvname", "bdevopt"),
                Opt::long_value("vgname", "bdevopt"),
                Opt::long_value("thinpool", "bdevopt"),
                Opt::long_value("fstype", "bdevopt"),
                Opt::long_value("fssize", "bdevopt"),
                Opt::long_value("zfsroot", "bdevopt"),
                Opt::long_value("dir", "dir"),
                Opt::long_value("rbdname", "bdevopt"),
                Opt::long_value("rbdpool", "bdevopt"),
            ] },
            help: "  -n, --name=NAME               name of the new container
  -f, --config=CONFIG           config file merged into the new container's config
  -t, --template=TEMPLATE       busybox, debian, none (config only), or the
                                path of an LXC template script
  -B, --bdev=BDEV               backing store: dir, overlay (default for debian)
                                or btrfs
  -- template-options           arguments passed on to the template
",
        },
        Tool::Destroy => Spec {
            tool,
            synopsis: "--name=NAME [-f] [-P lxcpath]",
            summary: "lxc-destroy removes container NAME and everything made for it",
            opts: const { &[Opt::flag('s', "snapshots", "snapshots"), Opt::flag('f', "force", "force")] },
            help: "  -n, --name=NAME   container to remove
  -f, --force       stop it first if it is running
  -s, --snapshots   also remove its snapshots
  --rcfile=FILE     read this config file instead of the container's
",
        },
        Tool::Start => Spec {
            tool,
            synopsis: "--name=NAME [-- COMMAND]",
            summary: "lxc-start boots container NAME, or runs COMMAND as its init",
            opts: const { &[
                Opt::flag('d', "daemon", "daemon"),
                Opt::flag('F', "foreground", "foreground"),
                Opt::value('f', "rcfile", "rcfile"),
                Opt::value('s', "define", "define"),
                Opt::value('c', "console", "console"),
                Opt::value('L', "console-log", "console-log"),
                Opt::flag('C', "close-all-fds", "close-all-fds"),
                Opt::value('p', "pidfile", "pidfile"),
                SHARE_NS[0],
                SHARE_NS[1],
                SHARE_NS[2],
                SHARE_NS[3],
            ] },
            help: "  -n, --name=NAME        container to start
  -d, --daemon           run in the background, return once it is RUNNING (default)
  -F, --foreground       keep it in the foreground, console on this terminal
  -p, --pidfile=FILE     write the init pid to FILE
  -f, --rcfile=FILE      use config FILE instead of the container's
  -c, --console=FILE     send the console to FILE
  -L, --console-log=FILE log the console output to FILE
  -C, --close-all-fds    close inherited file descriptors (always done)
  -s, --define KEY=VAL   set config KEY to VAL for this start
",
        },
        Tool::Stop => Spec {
            tool,
            synopsis: "--name=NAME",
            summary: "lxc-stop shuts down container NAME",
            opts: const { &[
                Opt::flag('r', "reboot", "reboot"),
                Opt::flag('W', "nowait", "nowait"),
                Opt::value('t', "timeout", "timeout"),
                Opt::flag('k', "kill", "kill"),
                Opt::long_flag("nokill", "nokill"),
                Opt::long_flag("nolock", "nolock"),
            ] },
            help: "  -n, --name=NAME   container to stop
  -r, --reboot      reboot it in place
  -W, --nowait      ask for the shutdown or reboot and return at once
  -t, --timeout=T   wait T seconds for a clean shutdown, then kill (-1: forever)
  -k, --kill        kill at once instead of asking init to shut down
      --nolock      with -k: do not take the container lock
      --nokill      ask for a clean shutdown only, never kill
  --rcfile=FILE     read this config file instead of the container's
",
        },
        Tool::Attach => Spec {
            tool,
            synopsis: "--name=NAME [-- COMMAND]",
            summary: "lxc-attach runs COMMAND (default: a shell) inside running container NAME",
            opts: const { &[
                Opt {
                    short: Some('e'),
                    long: Some("elevated-privileges"),
                    has_arg: HasArg::Optional,
                    id: "elevated",
                },
                Opt::value('a', "arch", "arch"),
                Opt::value('s', "namespaces", "namespaces"),
                Opt::flag('R', "remount-sys-proc", "remount"),
                Opt::long_flag("clear-env", "clear-env"),
                Opt::long_flag("keep-env", "keep-env"),
                Opt::long_value("keep-var", "keep-var"),
                Opt::value('v', "set-var", "set-var"),
                Opt::value('L', "pty-log", "pty-log"),
                Opt::value('f', "rcfile", "rcfile"),
                Opt::value('u', "uid", "uid"),
                Opt::value('g', "gid", "gid"),
                Opt::value('c', "context", "context"),
            ] },
            help: "  -n, --name=NAME   container to enter
  -e, --elevated-privileges[=PRIVILEGES]
                    accepted for compatibility (CAP, CGROUP, LSM)
  -a, --arch=ARCH   architecture of the command (the host's only)
  -s, --namespaces=FLAGS
                    enter only some namespaces (not supported)
  -R, --remount-sys-proc
                    remount /sys and /proc (only meaningful with -s)
      --clear-env   start from an empty environment (container=lxc, PATH)
      --keep-env    keep this environment (default)
  -L, --pty-log=FILE
                    log the terminal output to FILE (not supported)
  -v, --set-var VAR=VALUE
                    set VAR in the command's environment (repeatable)
      --keep-var VAR
                    with --clear-env: keep VAR (repeatable)
  -u, --uid=UID     run the command as UID
  -g, --gid=GID     run the command as GID
",
        },
        Tool::Execute => Spec {
            tool,
            synopsis: "--name=NAME -- COMMAND",
            summary: "lxc-execute runs COMMAND as an application container NAME",
            opts: const { &[
                Opt::flag('d', "daemon", "daemon"),
                Opt::value('f', "rcfile", "rcfile"),
                Opt::value('s', "define", "define"),
                Opt::value('u', "uid", "uid"),
                Opt::value('g', "gid", "gid"),
                SHARE_NS[0],
                SHARE_NS[1],
                SHARE_NS[2],
                SHARE_NS[3],
            ] },
            help: "  -n, --name=NAME      container name
  -f, --rcfile=FILE    use config FILE
  -s, --define KEY=VAL set config KEY to VAL for this run
  -u, --uid=UID        run COMMAND as UID
  -g, --gid=GID        run COMMAND as GID
",
        },
        Tool::Freeze => Spec {
            tool,
            synopsis: "--name=NAME",
            summary: "lxc-freeze suspends every process of container NAME",
            opts: const { &[] },
            help: "  -n, --name=NAME      container to freeze\n",
        },
        Tool::Unfreeze => Spec {
            tool,
            synopsis: "--name=NAME",
            summary: "lxc-unfreeze resumes frozen container NAME",
            opts: const { &[] },
            help: "  -n, --name=NAME   container to thaw\n",
        },
        Tool::Cgroup => Spec {
            tool,
            synopsis: "--name=NAME state-object [value]",
            summary: "lxc-cgroup reads or writes a cgroup file (for example 'memory.limit_in_bytes')\nof running container NAME",
            opts: const { &[] },
            help: "  -n, --name=NAME      container name\n",
        },
        Tool::Info => Spec {
            tool,
            synopsis: "--name=NAME",
            summary: "lxc-info shows the state, init pid, addresses and resource use of container NAME",
            opts: const { &[
                Opt::value('c', "config", "config"),
                Opt::flag('i', "ips", "ips"),
                Opt::flag('s', "state", "state"),
                Opt::flag('p', "pid", "pid"),
                Opt::flag('S', "stats", "stats"),
                Opt::flag('H', "no-humanize", "no-humanize"),
            ] },
            help: "  -n, --name=NAME       container name
  -c, --config=KEY      show config item KEY (repeatable)
  -i, --ips             show the IP addresses
  -p, --pid             show the pid of init
  -S, --stats           show resource use
  -H, --no-humanize     show numbers raw, and a lone value without its label
  -s, --state           show the state
",
        },
        Tool::Ls => Spec {
            tool,
            synopsis: "[-1] [-f] [-F COLUMNS] [--active] [--running] [--frozen] [--stopped] [--defined]\n       [-g GROUPS] [--filter REGEX] [-P lxcpath] [REGEX]",
            summary: "lxc-ls lists containers",
            opts: const { &[
                Opt::flag('1', "line", "line"),
                Opt::flag('f', "fancy", "fancy"),
                Opt::value('F', "fancy-format", "fancy-format"),
                Opt::long_flag("active", "active"),
                Opt::long_flag("running", "running"),
                Opt::long_flag("frozen", "frozen"),
                Opt::long_flag("stopped", "stopped"),
                Opt::long_flag("defined", "defined"),
                Opt { short: None, long: Some("nesting"), has_arg: HasArg::Optional, id: "nesting" },
                Opt::value('g', "groups", "groups"),
                Opt::long_value("filter", "filter"),
            ] },
            help: "  -1, --line         one name per line
  -f, --fancy        a table
  -F, --fancy-format=COLUMNS
                     the table's columns, comma separated: NAME, STATE, PID, RAM,
                     SWAP, AUTOSTART, GROUPS, INTERFACE, IPV4, IPV6, UNPRIVILEGED
  --active           only running and frozen containers
  --running          only running containers
  --frozen           only frozen containers
  --stopped          only stopped containers
  --defined          only defined containers
  --filter=REGEX     only names matching REGEX (POSIX extended)
  -g, --groups=LIST  only containers in all of these groups (comma separated)
",
        },
        Tool::Wait => Spec {
            tool,
            synopsis: "--name=NAME --state=STATE",
            summary: "lxc-wait blocks until container NAME reaches one of STATE",
            opts: const { &[Opt::value('s', "state", "state"), Opt::value('t', "timeout", "timeout")] },
            help: "  -n, --name=NAME   container name
  -s, --state=STATE states separated by '|': STOPPED, STARTING, RUNNING,
                    STOPPING, ABORTING, FREEZING, FROZEN, THAWED
  -t, --timeout=TMO give up after TMO seconds (exit 1)
",
        },
        Tool::Console => Spec {
            tool,
            synopsis: "--name=NAME [--tty NUMBER]",
            summary: "lxc-console connects this terminal to a console of container NAME",
            opts: const { &[Opt::value('t', "tty", "tty"), Opt::value('e', "escape", "escape")] },
            help: "  -n, --name=NAME      container name
  -t, --tty=NUMBER     tty NUMBER (0: /dev/console, the default)
  -e, --escape=PREFIX  escape prefix, Ctrl-PREFIX (default ^a; ^a q detaches)
",
        },
        Tool::Copy => Spec {
            tool,
            synopsis: "--name=NAME [-P lxcpath] -N newname [-p newpath] [-B backingstorage] [-s] [-K] [-M] [-L size [unit]] [-- hook options]\n       lxc-copy --name=NAME [-P lxcpath] [-N newname] [-p newpath] [-B backingstorage] -e [-d] [-D] [-K] [-M] [-m {bind,overlay}=/src:/dest] [-- hook options]",
            summary: "lxc-copy creates a copy of container NAME: a full copy, a snapshot clone\n(-s), or an ephemeral snapshot clone that is started at once (-e)",
            opts: const { &[
                Opt::value('N', "newname", "newname"),
                Opt::value('p', "newpath", "newpath"),
                Opt::value('B', "backingstorage", "bdev"),
                Opt::flag('s', "snapshot", "snapshot"),
                Opt::flag('a', "allowrunning", "allowrunning"),
                Opt::flag('F', "foreground", "foreground"),
                Opt::flag('d', "daemon", "daemon"),
                Opt::flag('e', "ephemeral", "ephemeral"),
                Opt::flag('D', "keepdata", "keepdata"),
                Opt::flag('K', "keepname", "keepname"),
                Opt::flag('M', "keepmac", "keepmac"),
                Opt::flag('R', "rename", "rename"),
                Opt::flag('t', "tmpfs", "tmpfs"),
                Opt::value('m', "mount", "mount"),
                Opt::value('L', "fssize", "fssize"),
            ] },
            help: "  -n, --name=NAME          container to copy
  -N, --newname=NEWNAME    name of the copy (made up for -e when not given)
  -B, --backingstorage=B   backing store of the copy: dir, overlay or btrfs
  -s, --snapshot           a snapshot clone (overlay or btrfs) that shares NAME's files
  -e, --ephemeral          an ephemeral snapshot clone, started at once and
                           destroyed when it stops
  -D, --keepdata           with -e: keep the copy when it stops
  -F, --foreground         with -e: start it in the foreground
  -d, --daemon             with -e: start it in the background (default)
  -K, --keepname           keep NAME's hostname
  -M, --keepmac            keep NAME's MAC addresses
",
        },
        Tool::Snapshot => Spec {
            tool,
            synopsis: "--name=NAME [-P lxcpath] [-L [-C]] [-c commentfile] [-r snapname [-N newname]] [-d snapname]",
            summary: "lxc-snapshot takes, lists, restores and deletes snapshots of container NAME",
            opts: const { &[
                Opt::flag('L', "list", "list"),
                Opt::flag('C', "showcomments", "showcomments"),
                Opt::value('c', "comment", "comment"),
                Opt::value('r', "restore", "restore"),
                Opt::value('N', "newname", "newname"),
                Opt::value('d', "destroy", "destroy"),
            ] },
            help: "  -n, --name=NAME        container name
  -c, --comment=FILE     with a new snapshot: keep FILE's text as its comment
  -L, --list             list the snapshots
  -C, --showcomments     with -L: show the comments too
  -r, --restore=SNAP     restore snapshot SNAP (into NAME, or into -N NEWNAME)
  -N, --newname=NEWNAME  with -r: restore into a new container NEWNAME
  -d, --destroy=SNAP     delete snapshot SNAP (ALL: every snapshot)
",
        },
        Tool::Autostart => Spec {
            tool,
            synopsis: "[-k] [-L] [-r] [-s] [-a] [-A] [-g groups] [-t timeout]",
            summary: "lxc-autostart starts, shuts down, kills or reboots the containers marked with\nlxc.start.auto, group by group, in lxc.start.order, waiting lxc.start.delay",
            opts: const { &[
                Opt::flag('k', "kill", "kill"),
                Opt::flag('L', "list", "list"),
                Opt::flag('r', "reboot", "reboot"),
                Opt::flag('s', "shutdown", "shutdown"),
                Opt::flag('a', "all", "all"),
                Opt::flag('A', "ignore-auto", "ignore-auto"),
                Opt::value('g', "groups", "groups"),
                Opt::value('t', "timeout", "timeout"),
            ] },
            help: "  -k, --kill        kill the containers instead of starting them
  -L, --list        list the containers that would be acted on (and the delays)
  -r, --reboot      reboot the containers instead of starting them
  -s, --shutdown    shut the containers down instead of starting them

  -a, --all         every auto-started container (ignore the groups)
  -A, --ignore-auto ignore lxc.start.auto and select all matching containers
  -g, --groups=LIST groups to select, comma separated, in order; an empty entry
                    is the containers without a group (the default)
  -t, --timeout=T   wait T seconds for a clean shutdown or reboot, then kill (default 60)
",
        },
        // Not getopt tools; handled before the table is used.
        Tool::Checkconfig | Tool::Config | Tool::Usernsexec => Spec {
            tool,
            synopsis: "",
            summary: "",
            opts: const { &[] },
            help: "",
        },
    }
}

fn help_text(s: &Spec) -> String {
    let p = s.tool.program();
    format!(
        "Usage: {p} {}\n\n{}\n\nOptions :\n{}\n{COMMON_HELP}\nSee the {p} man page for further information.\n\n",
        s.synopsis, s.summary, s.help
    )
}

fn usage_text(s: &Spec) -> String {
    let mut out = format!("Usage: {}", s.tool.program());
    for (i, o) in s.opts.iter().chain(COMMON.iter()).enumerate() {
        if o.id == "help?" {
            continue;
        }
        let mut item = String::from(" [");
        if let Some(c) = o.short {
            item.push_str(&format!("-{c}|"));
        }
        if let Some(l) = o.long {
            item.push_str(&format!("--{l}"));
            match o.has_arg {
                HasArg::Required => item.push_str(&format!("={}", l.to_ascii_uppercase())),
                HasArg::Optional => item.push_str(&format!("[={}]", l.to_ascii_uppercase())),
                HasArg::No => {}
            }
        }
        item.push(']');
        out.push_str(&item);
        if i % 4 == 3 {
            out.push_str("\n\t");
        }
    }
    out.push('\n');
    out
}

fn not_supported(tool: Tool, what: &str, why: &str) -> EarlyExit {
    EarlyExit::usage_error(
        Face::Lxc(tool),
        format!(
            "{what} is not supported by hako's {}: {why}",
            tool.program()
        ),
    )
}

/// Parses `args` (argv without argv[0]) as `tool` would.
pub fn parse(tool: Tool, args: &[String]) -> Parsed {
    let face = Face::Lxc(tool);
    match tool {
        Tool::Checkconfig => {
            // lxc-checkconfig is a script that takes no options and ignores its arguments.
            return Ok(Invocation {
                face,
                globals: Globals::default(),
                action: Action::CheckConfig { name: None },
            });
        }
        Tool::Config => return parse_config(args),
        Tool::Usernsexec => return parse_usernsexec(args),
        _ => {}
    }
    let s = spec(tool);
    let table: Vec<Opt> = s.opts.iter().chain(COMMON.iter()).copied().collect();
    let m = match getopt::parse(args, &table) {
        Ok(m) => m,
        Err(e) => {
            return Err(EarlyExit::usage_error(
                face,
                format!("{e}; see {} --help", tool.program()),
            ))
        }
    };
    // LXC acts on these as it meets them; the first one wins.
    for (id, _) in &m.opts {
        match *id {
            "help" => {
                return Err(EarlyExit {
                    stdout: String::new(),
                    stderr: help_text(&s),
                    code: 0,
                })
            }
            "help?" => {
                return Err(EarlyExit {
                    stdout: String::new(),
                    stderr: help_text(&s),
                    code: 1,
                })
            }
            "usage" => {
                return Err(EarlyExit {
                    stdout: String::new(),
                    stderr: usage_text(&s),
                    code: 0,
                })
            }
            "version" => {
                return Err(EarlyExit {
                    stdout: format!("{}\n", version_string()),
                    stderr: String::new(),
                    code: 0,
                })
            }
            _ => {}
        }
    }
    let globals = globals(face, &m)?;
    let mut operands = m.operands.clone();
    let name = if tool == Tool::Ls {
        String::new()
    } else if tool == Tool::Autostart {
        if m.has("name") {
            return Err(EarlyExit::usage_error(
                face,
                "lxc-autostart acts on the containers marked lxc.start.auto, not on one name; drop -n (select with -g GROUPS or -a)",
            ));
        }
        String::new()
    } else {
        match m.last("name") {
            Some(n) => n.to_string(),
            None if !operands.is_empty() => operands.remove(0),
            None => return Err(EarlyExit::usage_error(face, "No container name specified")),
        }
    };
    if m.has("rcfile") && !matches!(tool, Tool::Start | Tool::Execute) {
        return Err(not_supported(
            tool,
            "--rcfile",
            "it always reads the container's own config (LXCPATH/NAME/config); drop --rcfile",
        ));
    }
    let action = build(tool, name, &m, operands)?;
    Ok(Invocation {
        face,
        globals,
        action,
    })
}

fn globals(face: Face, m: &Matches) -> Result<Globals, EarlyExit> {
    let log_level = match m.last("logpriority") {
        None => None,
        Some(l) => Some(LogLevel::parse(l).ok_or_else(|| {
            EarlyExit::usage_error(
                face,
                format!("invalid log priority \"{l}\"; use one of TRACE, DEBUG, INFO, NOTICE, WARN, ERROR, CRIT, ALERT, FATAL"),
            )
        })?),
    };
    Ok(Globals {
        lxcpath: m
            .last("lxcpath")
            .map(|p| PathBuf::from(trim_trailing_slashes(p))),
        log_level,
        // LXC treats "-o none" as no log file.
        log_file: m
            .last("logfile")
            .filter(|f| *f != "none")
            .map(PathBuf::from),
        quiet: m.has("quiet"),
    })
}

fn trim_trailing_slashes(p: &str) -> &str {
    let t = p.trim_end_matches('/');
    if t.is_empty() && !p.is_empty() {
        "/"
    } else {
        t
    }
}

fn defines(face: Face, m: &Matches) -> Result<Vec<(String, String)>, EarlyExit> {
    m.all("define")
        .into_iter()
        .map(|d| {
            values::parse_key_val(d, "definition").map_err(|e| EarlyExit::usage_error(face, e))
        })
        .collect()
}

fn uid_gid(face: Face, m: &Matches) -> Result<(Option<u32>, Option<u32>), EarlyExit> {
    let uid = m
        .last("uid")
        .map(|u| values::parse_u32(u, "uid"))
        .transpose()
        .map_err(|e| EarlyExit::usage_error(face, e))?;
    let gid = m
        .last("gid")
        .map(|g| values::parse_u32(g, "gid"))
        .transpose()
        .map_err(|e| EarlyExit::usage_error(face, e))?;
    Ok((uid, gid))
}

fn build(
    tool: Tool,
    name: String,
    m: &Matches,
    operands: Vec<String>,
) -> Result<Action, EarlyExit> {
    let face = Face::Lxc(tool);
    let usage = |msg: String| EarlyExit::usage_error(face, msg);
    let no_operands = |what: &str| -> Result<(), EarlyExit> {
        if operands.is_empty() {
            Ok(())
        } else {
            Err(usage(format!(
                "unexpected argument \"{}\" after the container name; {what}",
                operands[0]
            )))
        }
    };
    Ok(match tool {
        Tool::Create => {
            if m.has("bdevopt") {
                return Err(not_supported(
                    tool,
                    "--lvname/--vgname/--thinpool/--fstype/--fssize/--zfsroot/--rbdname/--rbdpool",
                    "these are options of the lvm, loop, zfs and rbd backing stores, which hako does not have; use -B dir",
                ));
            }
            if m.has("dir") {
                return Err(not_supported(
                    tool,
                    "--dir",
                    "the rootfs always lives in LXCPATH/NAME/rootfs; drop --dir",
                ));
            }
            let Some(template) = m.last("template") else {
                return Err(usage(
                    "A template must be specified; use -t busybox, -t /path/to/template-script, or -t none for a container without a rootfs".into(),
                ));
            };
            Action::Create {
                name,
                opts: CreateOptions {
                    template: Some(template.to_string()),
                    template_args: operands,
                    config_file: m.last("config").map(PathBuf::from),
                    backing: m.last("bdev").map(str::to_string),
                    quiet: m.has("quiet"),
                    // LXC's semantics: privileged unless the config maps ids
                    ids: hako_store::IdMapping::AsConfigured,
                },
            }
        }
        Tool::Destroy => {
            no_operands("lxc-destroy takes only the name")?;
            Action::Destroy {
                name,
                force: m.has("force"),
                snapshots: m.has("snapshots"),
            }
        }
        Tool::Copy => build_copy(tool, name, m, operands)?,
        Tool::Snapshot => build_snapshot(tool, name, m, operands)?,
        Tool::Start => {
            if m.has("share") {
                return Err(not_supported(
                    tool,
                    "--share-net/--share-ipc/--share-uts/--share-pid",
                    "namespaces cannot be shared between containers yet",
                ));
            }
            // -d and -F: the last one given wins, as in LXC.
            let foreground = m
                .opts
                .iter()
                .rev()
                .find(|(id, _)| *id == "daemon" || *id == "foreground")
                .is_some_and(|(id, _)| *id == "foreground");
            Action::Start {
                name,
                opts: StartOptions {
                    foreground,
                    config_file: m.last("rcfile").map(PathBuf::from),
                    overrides: defines(face, m)?,
                    command: operands,
                    console_file: m.last("console").map(PathBuf::from),
                    console_log: m.last("console-log").map(PathBuf::from),
                    pidfile: m.last("pidfile").map(PathBuf::from),
                    close_all_fds: m.has("close-all-fds"),
                },
            }
        }
        Tool::Stop => {
            no_operands("lxc-stop takes only the name")?;
            let kill = m.has("kill");
            let nokill = m.has("nokill");
            let reboot = m.has("reboot");
            let nowait = m.has("nowait");
            let timeout = m
                .last("timeout")
                .map(values::parse_stop_timeout)
                .transpose()
                .map_err(usage)?;
            if kill && nokill {
                return Err(usage("-k can't be used with --nokill".into()));
            }
            if kill && reboot {
                return Err(usage("-k can't be used with -r".into()));
            }
            if kill && timeout.is_some_and(|t| t != 0) {
                return Err(usage("-k doesn't allow timeouts".into()));
            }
            if m.has("nolock") && !kill {
                return Err(usage("--nolock may only be used with -k".into()));
            }
            Action::Stop {
                name,
                opts: StopOptions {
                    timeout,
                    kill,
                    reboot,
                    nowait,
                    nokill,
                },
                extras: StopExtras { nokill },
            }
        }
        Tool::Attach => {
            for e in m.opts.iter().filter(|(id, _)| *id == "elevated") {
                values::parse_elevated_privileges(e.1.as_deref()).map_err(usage)?;
            }
            if m.has("namespaces") {
                return Err(not_supported(
                    tool,
                    "-s/--namespaces",
                    "attach always enters every namespace of the container; drop -s",
                ));
            }
            if m.has("pty-log") {
                return Err(not_supported(
                    tool,
                    "-L/--pty-log",
                    "drop -L and capture the output with tee",
                ));
            }
            if m.has("context") {
                return Err(not_supported(
                    tool,
                    "-c/--context",
                    "hako does not apply SELinux labels; drop -c",
                ));
            }
            if let Some(a) = m.last("arch") {
                values::check_attach_arch(a).map_err(usage)?;
            }
            let env_policy = match m
                .opts
                .iter()
                .rev()
                .find(|(id, _)| *id == "clear-env" || *id == "keep-env")
            {
                Some(("clear-env", _)) => EnvPolicy::Clear,
                _ => EnvPolicy::Keep,
            };
            let set_env = m
                .all("set-var")
                .into_iter()
                .map(values::parse_env_var)
                .collect::<Result<Vec<_>, _>>()
                .map_err(usage)?;
            let (uid, gid) = uid_gid(face, m)?;
            Action::Attach {
                name,
                opts: AttachOptions {
                    command: operands,
                    env_policy,
                    set_env,
                    keep_vars: m.all("keep-var").into_iter().map(str::to_string).collect(),
                    uid,
                    gid,
                    cwd: None,
                },
            }
        }
        Tool::Execute => {
            if m.has("share") {
                return Err(not_supported(
                    tool,
                    "--share-net/--share-ipc/--share-uts/--share-pid",
                    "namespaces cannot be shared between containers yet",
                ));
            }
            if m.has("daemon") {
                return Err(not_supported(tool, "-d/--daemon", "an application container runs in the foreground; use lxc-start -d with a command instead"));
            }
            let (uid, gid) = uid_gid(face, m)?;
            Action::Execute {
                name,
                opts: ExecuteOptions {
                    command: operands,
                    config_file: m.last("rcfile").map(PathBuf::from),
                    overrides: defines(face, m)?,
                    uid,
                    gid,
                },
            }
        }
        Tool::Freeze => {
            no_operands("lxc-freeze takes only the name")?;
            Action::Freeze { name }
        }
        Tool::Unfreeze => {
            no_operands("lxc-unfreeze takes only the name")?;
            Action::Unfreeze { name }
        }
        Tool::Cgroup => {
            let mut it = operands.into_iter();
            let Some(key) = it.next() else {
                return Err(usage(
                    "Missing state object; give a cgroup file such as memory.limit_in_bytes".into(),
                ));
            };
            let value = it.next();
            if let Some(extra) = it.next() {
                return Err(usage(format!(
                    "unexpected argument \"{extra}\"; lxc-cgroup takes NAME KEY [VALUE]"
                )));
            }
            Action::Cgroup { name, key, value }
        }
        Tool::Info => {
            no_operands("lxc-info takes only the name")?;
            Action::Info {
                name,
                req: InfoRequest {
                    state: m.has("state"),
                    pid: m.has("pid"),
                    ips: m.has("ips"),
                    stats: m.has("stats"),
                    humanize: !m.has("no-humanize"),
                    keys: m.all("config").into_iter().map(str::to_string).collect(),
                    format: Format::Text,
                },
            }
        }
        Tool::Ls => {
            if m.has("nesting") {
                return Err(not_supported(
                    tool,
                    "--nesting",
                    "hako does not list containers nested inside containers; drop --nesting",
                ));
            }
            // LXC uses -F only together with -f.
            let fancy = if m.has("fancy") {
                Some(match m.last("fancy-format") {
                    Some(f) => Column::parse_list(f).map_err(usage)?,
                    None => Column::DEFAULT.to_vec(),
                })
            } else {
                None
            };
            let filter = match (m.last("filter"), operands.as_slice()) {
                (Some(f), _) => Some(f.to_string()),
                (None, [one]) => Some(one.clone()),
                (None, []) => None,
                (None, [_, extra, ..]) => {
                    return Err(usage(format!(
                        "unexpected argument \"{extra}\"; lxc-ls takes at most one REGEX"
                    )))
                }
            };
            Action::Ls(LsRequest {
                one_per_line: m.has("line"),
                fancy,
                running: m.has("running"),
                stopped: m.has("stopped"),
                frozen: m.has("frozen"),
                active: m.has("active"),
                defined: m.has("defined"),
                groups: m.last("groups").map(split_groups).unwrap_or_default(),
                filter,
                format: Format::Text,
            })
        }
        Tool::Wait => {
            no_operands("lxc-wait takes only the name")?;
            let Some(states) = m.last("state") else {
                return Err(usage(
                    "missing state option to wait for; pass -s, for example -s 'RUNNING|FROZEN'"
                        .into(),
                ));
            };
            let states = values::parse_states(states).map_err(usage)?;
            let timeout = match m.last("timeout") {
                Some(t) => values::parse_wait_timeout(t).map_err(usage)?,
                None => None,
            };
            Action::Wait {
                name,
                states,
                timeout,
            }
        }
        Tool::Console => {
            no_operands("lxc-console takes only the name")?;
            let tty = m
                .last("tty")
                .map(|t| values::parse_u32(t, "tty number"))
                .transpose()
                .map_err(usage)?
                .unwrap_or(0);
            let escape = m
                .last("escape")
                .map(values::parse_escape)
                .transpose()
                .map_err(usage)?
                .unwrap_or(b'a');
            Action::Console { name, tty, escape }
        }
        Tool::Autostart => {
            if let Some(extra) = operands.first() {
                return Err(usage(format!(
                    "unexpected argument \"{extra}\"; lxc-autostart takes only options (select containers with -g GROUPS or -a)"
                )));
            }
            let action = autostart_action(m.has("shutdown"), m.has("kill"), m.has("reboot"))
                .map_err(|e| usage(e.into()))?;
            let timeout = m
                .last("timeout")
                .map(values::parse_stop_timeout)
                .transpose()
                .map_err(usage)?;
            Action::Autostart(crate::autostart::AutostartOptions {
                action,
                all: m.has("all"),
                ignore_auto: m.has("ignore-auto"),
                groups: crate::autostart::parse_groups(
                    &m.all("groups")
                        .into_iter()
                        .map(str::to_string)
                        .collect::<Vec<_>>(),
                ),
                list: m.has("list"),
                timeout,
            })
        }
        Tool::Checkconfig | Tool::Config | Tool::Usernsexec => {
            unreachable!("handled in parse()")
        }
    })
}

/// `-s`/`-k`/`-r` of autostart: at most one (LXC silently prefers -s, then -k, then -r).
pub fn autostart_action(
    shutdown: bool,
    kill: bool,
    reboot: bool,
) -> Result<crate::autostart::AutostartAction, &'static str> {
    use crate::autostart::AutostartAction as A;
    match (shutdown, kill, reboot) {
        (false, false, false) => Ok(A::Start),
        (true, false, false) => Ok(A::Shutdown),
        (false, true, false) => Ok(A::Kill),
        (false, false, true) => Ok(A::Reboot),
        _ => Err("give at most one of -s (shutdown), -k (kill) and -r (reboot); without any the containers are started"),
    }
}

pub fn split_groups(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|g| !g.is_empty())
        .map(str::to_string)
        .collect()
}

const CONFIG_USAGE: &str = "Usage: lxc-config -l: list all available configuration items\n       lxc-config item: print configuration item\n";

/// `lxc-config -l` / `lxc-config ITEM`.
fn parse_config(args: &[String]) -> Parsed {
    let face = Face::Lxc(Tool::Config);
    let request = match args {
        [] => {
            return Err(EarlyExit {
                stdout: CONFIG_USAGE.into(),
                stderr: String::new(),
                code: 0,
            })
        }
        [flag] if flag == "-h" || flag == "--help" => {
            return Err(EarlyExit {
                stdout: CONFIG_USAGE.into(),
                stderr: String::new(),
                code: 0,
            })
        }
        [flag, ..] if flag == "-l" => SystemConfigRequest::List,
        [item] => SystemConfigRequest::Item(item.clone()),
        [_, extra, ..] => {
            return Err(EarlyExit::usage_error(
                face,
                format!("unexpected argument \"{extra}\"; lxc-config takes one item"),
            ))
        }
    };
    Ok(Invocation {
        face,
        globals: Globals::default(),
        action: Action::SystemConfig(request),
    })
}

/// `lxc-usernsexec [-m MAP]... [-s] [-h] [--] [COMMAND...]`: LXC's short options
/// (`-mMAP` too); options end at `--` or the first word that is not one.
fn parse_usernsexec(args: &[String]) -> Parsed {
    let face = Face::Lxc(Tool::Usernsexec);
    let mut o = crate::usernsexec::UsernsexecOptions::default();
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        i += 1;
        match a {
            "--" => break,
            "-h" | "--help" => {
                return Err(EarlyExit {
                    stdout: USERNSEXEC_USAGE.into(),
                    stderr: String::new(),
                    code: 0,
                })
            }
            "-s" => o.map_self = true,
            _ if a.starts_with("-m") => {
                let v = if a.len() > 2 {
                    a[2..].to_string()
                } else if i < args.len() {
                    i += 1;
                    args[i - 1].clone()
                } else {
                    return Err(EarlyExit::usage_error(
                        face,
                        format!("-m needs a map, e.g. -m b:0:100000:65536\n{USERNSEXEC_USAGE}"),
                    ));
                };
                let lines = crate::usernsexec::parse_map(&v)
                    .map_err(|e| EarlyExit::usage_error(face, e))?;
                o.maps.extend(lines);
            }
            _ if a.starts_with('-') && a.len() > 1 => {
                return Err(EarlyExit::usage_error(
                    face,
                    format!("unknown option \"{a}\"\n{USERNSEXEC_USAGE}"),
                ))
            }
            _ => {
                i -= 1;
                break;
            }
        }
    }
    o.command = args[i..].to_vec();
    Ok(Invocation {
        face,
        globals: Globals::default(),
        action: Action::Usernsexec(o),
    })
}

const USERNSEXEC_USAGE: &str =
    "usage: lxc-usernsexec [-h] [-m <uid-maps>] [-s] -- [command [arg ..]]

  -h            this message

  -m <uid-maps> uid maps to use (repeatable)
  -s            map self: also map your own uid and gid
  uid-maps: [u|g|b]:ns_id:host_id:range
            [u|g|b]: map user id, group id, or both
            ns_id: the base id in the new namespace
            host_id: the base id in the parent namespace
            range: how many ids to map
  Without -m, your first ranges in /etc/subuid and /etc/subgid are mapped at 0.
  Note: a non-root user's maps are written by newuidmap and newgidmap, so
        /etc/subuid and /etc/subgid must grant the calling user the mapped ranges.
";

/// `lxc-copy`
fn build_copy(
    tool: Tool,
    name: String,
    m: &Matches,
    operands: Vec<String>,
) -> Result<Action, EarlyExit> {
    let face = Face::Lxc(tool);
    for (id, what, why) in [
        (
            "newpath",
            "-p/--newpath",
            "the copy lives in the same lxcpath; use -P to pick the lxcpath of both",
        ),
        (
            "allowrunning",
            "-a/--allowrunning",
            "a copy of a running container is not consistent; stop it first",
        ),
        (
            "rename",
            "-R/--rename",
            "rename by copying and destroying the original",
        ),
        (
            "tmpfs",
            "-t/--tmpfs",
            "ephemeral copies are overlay clones on disk",
        ),
        (
            "mount",
            "-m/--mount",
            "add lxc.mount.entry lines to the copy's config instead",
        ),
        (
            "fssize",
            "-L/--fssize",
            "it sizes lvm and loop backing stores, which hako does not have",
        ),
    ] {
        if m.has(id) {
            return Err(not_supported(tool, what, why));
        }
    }
    let ephemeral = m.has("ephemeral");
    let new = m.last("newname").map(str::to_string);
    if new.is_none() && !ephemeral {
        return Err(EarlyExit::usage_error(
            face,
            "no new name given; pass -N NEWNAME (only -e makes one up)",
        ));
    }
    for (id, what) in [("keepdata", "-D"), ("foreground", "-F"), ("daemon", "-d")] {
        if m.has(id) && !ephemeral {
            return Err(EarlyExit::usage_error(
                face,
                format!("{what} goes only with -e (an ephemeral copy)"),
            ));
        }
    }
    let foreground = m
        .opts
        .iter()
        .rev()
        .find(|(id, _)| *id == "foreground" || *id == "daemon")
        .map(|(id, _)| *id == "foreground")
        .unwrap_or(false);
    Ok(Action::Copy {
        opts: crate::storage::CopyOptions {
            src: name,
            new,
            snapshot: m.has("snapshot"),
            ephemeral,
            keep_data: m.has("keepdata"),
            foreground,
            backing: m.last("bdev").map(str::to_string),
            keep_name: m.has("keepname"),
            keep_mac: m.has("keepmac"),
            quiet: m.has("quiet"),
            hook_args: operands,
        },
    })
}

/// `lxc-snapshot`
fn build_snapshot(
    tool: Tool,
    name: String,
    m: &Matches,
    operands: Vec<String>,
) -> Result<Action, EarlyExit> {
    use crate::storage::SnapshotRequest;
    let face = Face::Lxc(tool);
    if !operands.is_empty() {
        return Err(EarlyExit::usage_error(
            face,
            format!(
                "unexpected argument \"{}\" after the container name",
                operands[0]
            ),
        ));
    }
    let asked = [m.has("list"), m.has("restore"), m.has("destroy")]
        .iter()
        .filter(|x| **x)
        .count();
    if asked > 1 {
        return Err(EarlyExit::usage_error(face, "give one of -L, -r and -d"));
    }
    if m.has("newname") && !m.has("restore") {
        return Err(EarlyExit::usage_error(face, "-N goes only with -r SNAP"));
    }
    let req = if m.has("list") {
        SnapshotRequest::List {
            comments: m.has("showcomments"),
        }
    } else if let Some(snap) = m.last("restore") {
        SnapshotRequest::Restore {
            snap: snap.to_string(),
            new: m.last("newname").map(str::to_string),
        }
    } else if let Some(snap) = m.last("destroy") {
        SnapshotRequest::Destroy {
            snap: snap.to_string(),
        }
    } else {
        SnapshotRequest::Create {
            comment_file: m.last("comment").map(PathBuf::from),
        }
    };
    Ok(Action::Snapshot {
        name,
        req,
        format: Format::Text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::State;
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
        let Action::Destroy { name, force, .. } = ok(Tool::Destroy, &["-n", "web", "-f"]).action
        else {
            panic!()
        };
        assert_eq!(name, "web");
        assert!(force);
        let Action::Destroy { force, .. } = ok(Tool::Destroy, &["web"]).action else {
            panic!()
        };
        assert!(!force);
        let Action::Destroy { snapshots, .. } = ok(Tool::Destroy, &["-n", "web", "-s"]).action
        else {
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
        let Action::Stop { extras, .. } = ok(Tool::Stop, &["web", "--nokill", "-t", "5"]).action
        else {
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
        assert!(err(Tool::Attach, &["web", "-s", "NETWORK"])
            .stderr
            .contains("not supported"));
        assert!(err(Tool::Attach, &["web", "-L", "/log"])
            .stderr
            .contains("not supported"));
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
        let Action::Wait { timeout, .. } = ok(Tool::Wait, &["web", "--state=STOPPED"]).action
        else {
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
}
