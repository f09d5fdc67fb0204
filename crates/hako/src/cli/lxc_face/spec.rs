//! Each `lxc-*` tool's option table (getopt), synopsis and help text, as LXC 5 has them.

use crate::cli::action::*;
use crate::cli::getopt::{HasArg, Opt};

pub(super) const COMMON: &[Opt] = &[
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

pub(super) struct Spec {
    tool: Tool,
    /// after "Usage: lxc-xxx "
    synopsis: &'static str,
    summary: &'static str,
    pub(super) opts: &'static [Opt],
    /// the tool's own option lines
    help: &'static str,
}

const SHARE_NS: [Opt; 4] = [
    Opt::long_value("share-net", "share"),
    Opt::long_value("share-ipc", "share"),
    Opt::long_value("share-uts", "share"),
    Opt::long_value("share-pid", "share"),
];

pub(super) fn spec(tool: Tool) -> Spec {
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
                    keep the caller's CAP (capabilities), CGROUP (its cgroup),
                    LSM (no AppArmor label); '|'-separated, all by default
  -a, --arch=ARCH   architecture of the command (the host's only)
  -s, --namespaces=FLAGS
                    enter only these: MOUNT|PID|UTSNAME|IPC|USER|NETWORK|CGROUP
  -R, --remount-sys-proc
                    remount /sys and /proc (with -s lacking MOUNT)
      --clear-env   start from an empty environment (container=lxc, PATH)
      --keep-env    keep this environment (default)
  -L, --pty-log=FILE
                    also append the terminal output to FILE (pty only)
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
        Tool::Monitor => Spec {
            tool,
            synopsis: "[--name=NAME]",
            summary: "lxc-monitor monitors the state of the NAME container",
            opts: const { &[Opt::flag('Q', "quit", "quit")] },
            help: "  -n, --name=NAME   NAME of the container
                    NAME may be a regular expression
  -Q, --quit        tell lxc-monitord to quit
",
        },
        Tool::Top => Spec {
            tool,
            synopsis: "",
            summary: "lxc-top monitors the state of the active containers",
            opts: const { &[
                Opt::value('d', "delay", "delay"),
                Opt::flag('b', "batch", "batch"),
                Opt::value('s', "sort", "sort"),
                Opt::flag('r', "reverse", "reverse"),
            ] },
            help: "  -d, --delay     delay in seconds between refreshes (default: 3.0)
  -b, --batch     output designed to capture to a file
  -s, --sort      sort by [n,c,b,m] (default: n) where
                  n = Name
                  c = CPU use
                  b = Block I/O use
                  m = Memory use
                  s = Memory + Swap use
                  k = Kernel memory use
  -r, --reverse   sort in reverse (descending) order
",
        },
        Tool::Unshare => Spec {
            tool,
            synopsis: "-s NAMESPACES COMMAND",
            summary: "lxc-unshare run a COMMAND in a new set of NAMESPACES",
            opts: const { &[
                Opt::value('s', "namespaces", "namespaces"),
                Opt::value('u', "user", "user"),
                Opt::value('H', "hostname", "hostname"),
                Opt::value('i', "ifname", "ifname"),
                Opt::flag('d', "daemon", "daemon"),
                Opt::flag('M', "remount", "remount"),
            ] },
            help: "  -s, --namespaces=FLAGS
                    ORed list of flags to unshare:
                    MOUNT, PID, UTSNAME, IPC, USER, NETWORK, CGROUP
  -u, --user=USERID
                    new id to be set
  -H, --hostname=HOSTNAME
                    Set the hostname in the container
  -i, --ifname=IFNAME
                    Interface name to be moved into container (with NETWORK)
  -d, --daemon      Daemonize (do not wait for container to exit)
  -M, --remount     Remount default fs inside container (/proc /dev/shm /dev/mqueue)
",
        },
        Tool::Device => Spec {
            tool,
            synopsis: "--name=NAME -- add|del DEV [NAME-INSIDE]",
            summary: "lxc-device attach or detach DEV to or from container.",
            opts: const { &[] },
            help: "  -n, --name=NAME      NAME of the container
  add DEV [DEST]       a host interface (moved in, named DEST there), a device
                       node such as /dev/ttyUSB0, or a host directory or file
                       (bind-mounted at DEST)
  del DEV [HOSTNAME]   remove it: an interface goes back to the host (named
                       HOSTNAME there), a node or bind mount is taken away
  --rcfile=FILE        not supported: the container's own config is used
",
        },
        Tool::Checkconfig | Tool::Config | Tool::Usernsexec | Tool::UpdateConfig => Spec {
            tool,
            synopsis: "",
            summary: "",
            opts: const { &[] },
            help: "",
        },
    }
}

pub(super) fn help_text(s: &Spec) -> String {
    let p = s.tool.program();
    format!(
        "Usage: {p} {}\n\n{}\n\nOptions :\n{}\n{COMMON_HELP}\nSee the {p} man page for further information.\n\n",
        s.synopsis, s.summary, s.help
    )
}

pub(super) fn usage_text(s: &Spec) -> String {
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

/// The tool's options as a clap command, for its shell completion (cli/docs.rs): built
/// from the same getopt table the tool parses with; `-n` completes container names.
pub(super) fn command(tool: Tool) -> clap::Command {
    use clap::{Arg, ArgAction};
    let s = spec(tool);
    let mut cmd = clap::Command::new(tool.program())
        .about(s.summary)
        .disable_help_flag(true)
        .disable_version_flag(true)
        .arg(
            Arg::new("operands")
                .num_args(0..)
                .trailing_var_arg(true)
                .hide(true),
        );
    let mut seen = std::collections::HashSet::new();
    for o in s.opts.iter().chain(COMMON.iter()) {
        // '?' is -h's twin, not a letter anyone types for completion
        let short = o.short.filter(|c| *c != '?');
        if short.is_none() && o.long.is_none() {
            continue;
        }
        let id: &'static str = o.long.unwrap_or(o.id);
        if !seen.insert(id) {
            continue;
        }
        let mut a = Arg::new(id).action(match o.has_arg {
            HasArg::No => ArgAction::SetTrue,
            _ => ArgAction::Set,
        });
        if o.has_arg == HasArg::Optional {
            a = a.num_args(0..=1).require_equals(true);
        }
        if let Some(c) = short {
            a = a.short(c);
        }
        if let Some(l) = o.long {
            a = a.long(l);
        }
        if o.id == "name" {
            a = a.add(crate::cli::docs::container_candidates());
        } else if o.id == "lxcpath" || o.id == "logfile" || o.id == "rcfile" {
            a = a.value_hint(clap::ValueHint::AnyPath);
        }
        cmd = cmd.arg(a);
    }
    cmd
}
